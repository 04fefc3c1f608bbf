/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which GstMemmapEngine an element works with. Every memmap element of a
 * pipeline should share one engine, so that the byte budget and the mapping
 * cache cover the whole pipeline; the engine travels in a GstContext of type
 * GST_MEMMAP_ENGINE_CONTEXT_TYPE, the way GstGL and VA share their display:
 *
 * 1. an engine the element already holds (from set_context());
 * 2. a context set on the element with gst_element_set_context(), which
 *    GstElement keeps even after the element dropped its engine;
 * 3. a CONTEXT query to the peers downstream, then upstream;
 * 4. a NEED_CONTEXT message: a bin that already has the context, or the
 *    application's sync bus handler, answers with gst_element_set_context();
 * 5. otherwise the process-wide default engine, set on the element and
 *    announced with HAVE_CONTEXT so that the pipeline keeps the context and
 *    hands it to the next memmap element at step 4.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcontext.h"

GST_DEBUG_CATEGORY_STATIC (gst_memmap_context_debug);
#define GST_CAT_DEFAULT gst_memmap_context_debug

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_memmap_context_debug, "memmapcontext", 0,
        "memmap engine context sharing");
    g_once_init_leave (&done, 1);
  }
}

static gboolean
is_engine_context_type (const gchar * context_type)
{
  return g_strcmp0 (context_type, GST_MEMMAP_ENGINE_CONTEXT_TYPE) == 0;
}

/* Replaces the engine the element holds (under its object lock) with the
 * engine @context carries. Returns FALSE when @context is of another type. */
static gboolean
take_engine_from_context (GstElement * element, GstContext * context,
    GstMemmapEngine ** engine)
{
  GstMemmapEngine *new_engine, *old_engine;

  if (!is_engine_context_type (gst_context_get_context_type (context)))
    return FALSE;

  new_engine = gst_memmap_engine_from_context (context);
  if (new_engine == NULL) {
    GST_WARNING_OBJECT (element, "%" GST_PTR_FORMAT " carries no engine",
        context);
    return FALSE;
  }

  GST_OBJECT_LOCK (element);
  old_engine = *engine;
  *engine = new_engine;
  GST_OBJECT_UNLOCK (element);

  if (old_engine != new_engine)
    GST_DEBUG_OBJECT (element, "using engine %" GST_PTR_FORMAT, new_engine);
  gst_clear_object (&old_engine);

  return TRUE;
}

/**
 * gst_memmap_context_handle_set_context:
 * @element: the element whose set_context vmethod runs
 * @context: the context being set
 * @engine: the element's engine field, protected by its object lock
 *
 * For an element's set_context vmethod (which still chains up): takes the
 * engine of a "gst.memmap.engine" context.
 *
 * Returns: %TRUE when @context was an engine context and @engine now holds
 *   its engine.
 */
gboolean
gst_memmap_context_handle_set_context (GstElement * element,
    GstContext * context, GstMemmapEngine ** engine)
{
  g_return_val_if_fail (GST_IS_ELEMENT (element), FALSE);
  g_return_val_if_fail (engine != NULL, FALSE);

  ensure_debug_category ();

  if (context == NULL)
    return FALSE;

  return take_engine_from_context (element, context, engine);
}

/**
 * gst_memmap_context_handle_query:
 * @element: the element answering @query
 * @query: any query
 * @engine: the element's engine field, protected by its object lock
 *
 * Answers a CONTEXT query for "gst.memmap.engine" with the element's engine.
 *
 * Returns: %TRUE when @query was answered.
 */
gboolean
gst_memmap_context_handle_query (GstElement * element, GstQuery * query,
    GstMemmapEngine ** engine)
{
  const gchar *context_type;
  GstMemmapEngine *current;
  GstContext *context;

  g_return_val_if_fail (GST_IS_ELEMENT (element), FALSE);
  g_return_val_if_fail (engine != NULL, FALSE);

  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT)
    return FALSE;
  if (!gst_query_parse_context_type (query, &context_type) ||
      !is_engine_context_type (context_type))
    return FALSE;

  ensure_debug_category ();

  GST_OBJECT_LOCK (element);
  current = *engine ? gst_object_ref (*engine) : NULL;
  GST_OBJECT_UNLOCK (element);

  if (current == NULL)
    return FALSE;

  context = gst_memmap_engine_context_new (current);
  gst_query_set_context (query, context);
  gst_context_unref (context);
  GST_LOG_OBJECT (element, "answered context query with %" GST_PTR_FORMAT,
      current);
  gst_object_unref (current);

  return TRUE;
}

static gboolean
peer_query_fold (const GValue * item, GValue * answered, gpointer user_data)
{
  GstPad *pad = g_value_get_object (item);
  GstQuery *query = user_data;

  if (gst_pad_peer_query (pad, query)) {
    g_value_set_boolean (answered, TRUE);
    return FALSE;
  }

  return TRUE;
}

static gboolean
query_peers (GstElement * element, GstQuery * query, GstPadDirection direction)
{
  GstIterator *it;
  GValue answered = G_VALUE_INIT;
  gboolean ret;

  if (direction == GST_PAD_SRC)
    it = gst_element_iterate_src_pads (element);
  else
    it = gst_element_iterate_sink_pads (element);

  g_value_init (&answered, G_TYPE_BOOLEAN);
  while (gst_iterator_fold (it, peer_query_fold, &answered,
          query) == GST_ITERATOR_RESYNC) {
    g_value_set_boolean (&answered, FALSE);
    gst_iterator_resync (it);
  }
  gst_iterator_free (it);

  ret = g_value_get_boolean (&answered);
  g_value_unset (&answered);

  return ret;
}

static GstMemmapEngine *
get_engine (GstElement * element, GstMemmapEngine ** engine)
{
  GstMemmapEngine *ret;

  GST_OBJECT_LOCK (element);
  ret = *engine ? gst_object_ref (*engine) : NULL;
  GST_OBJECT_UNLOCK (element);

  return ret;
}

/**
 * gst_memmap_context_ensure_engine:
 * @element: the element that needs an engine
 * @engine: the element's engine field, protected by its object lock; the
 *   element's set_context vmethod must call
 *   gst_memmap_context_handle_set_context() on the same field
 *
 * Finds the engine for @element (see the top of this file) and stores it in
 * @engine. Call it from a state change or start(), never with the object
 * lock held: it queries peers and posts messages.
 *
 * Returns: (transfer full): the engine, never %NULL.
 */
GstMemmapEngine *
gst_memmap_context_ensure_engine (GstElement * element,
    GstMemmapEngine ** engine)
{
  GstMemmapEngine *ret;
  GstContext *context;
  GstQuery *query;

  g_return_val_if_fail (GST_IS_ELEMENT (element), NULL);
  g_return_val_if_fail (engine != NULL, NULL);

  ensure_debug_category ();

  /* 1. */
  if ((ret = get_engine (element, engine)) != NULL)
    return ret;

  /* 2. */
  context = gst_element_get_context (element, GST_MEMMAP_ENGINE_CONTEXT_TYPE);
  if (context != NULL) {
    take_engine_from_context (element, context, engine);
    gst_context_unref (context);
    if ((ret = get_engine (element, engine)) != NULL)
      return ret;
  }

  /* 3. */
  query = gst_query_new_context (GST_MEMMAP_ENGINE_CONTEXT_TYPE);
  if (query_peers (element, query, GST_PAD_SRC) ||
      query_peers (element, query, GST_PAD_SINK)) {
    gst_query_parse_context (query, &context);
    if (context != NULL) {
      GST_DEBUG_OBJECT (element, "a peer answered %" GST_PTR_FORMAT, context);
      gst_element_set_context (element, context);
    }
  }
  gst_query_unref (query);
  if ((ret = get_engine (element, engine)) != NULL)
    return ret;

  /* 4. */
  GST_DEBUG_OBJECT (element, "posting need-context for "
      GST_MEMMAP_ENGINE_CONTEXT_TYPE);
  gst_element_post_message (element,
      gst_message_new_need_context (GST_OBJECT_CAST (element),
          GST_MEMMAP_ENGINE_CONTEXT_TYPE));
  if ((ret = get_engine (element, engine)) != NULL)
    return ret;

  /* 5. */
  ret = gst_memmap_engine_get_default ();       /* transfer none */
  GST_INFO_OBJECT (element, "nobody shares an engine: using the default %"
      GST_PTR_FORMAT, ret);
  context = gst_memmap_engine_context_new (ret);
  gst_element_set_context (element, context);
  gst_element_post_message (element,
      gst_message_new_have_context (GST_OBJECT_CAST (element), context));

  /* set_context() stored it; an application handler may even have replaced
   * it meanwhile, so read it back. */
  ret = get_engine (element, engine);
  g_assert (ret != NULL);

  return ret;
}

/**
 * gst_memmap_context_add_engine_stats:
 * @stats: an element's stats structure
 * @engine: (transfer full) (nullable): the element's engine, reffed under
 *   the element's object lock
 *
 * Sets the `engine` field of @stats to gst_memmap_engine_get_stats() of
 * @engine, as every memmap element's stats property shows it, and drops
 * the reference; does nothing without an engine. Call it without the
 * object lock held.
 */
void
gst_memmap_context_add_engine_stats (GstStructure * stats,
    GstMemmapEngine * engine)
{
  GstStructure *engine_stats;

  if (engine == NULL)
    return;
  engine_stats = gst_memmap_engine_get_stats (engine);
  gst_structure_set (stats, "engine", GST_TYPE_STRUCTURE, engine_stats, NULL);
  gst_structure_free (engine_stats);
  gst_object_unref (engine);
}

/**
 * gst_memmap_context_forget_engine:
 * @element: a memmap element
 * @engine: the element's engine field (under its object lock)
 *
 * READY->NULL: drops the element's engine, so that the next start asks for
 * one again (gst_memmap_context_ensure_engine(); a context set on the
 * element stays with #GstElement). The reference goes after the object
 * lock is released.
 */
void
gst_memmap_context_forget_engine (GstElement * element,
    GstMemmapEngine ** engine)
{
  GstMemmapEngine *old;

  GST_OBJECT_LOCK (element);
  old = *engine;
  *engine = NULL;
  GST_OBJECT_UNLOCK (element);
  gst_clear_object (&old);
}
