/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstContext helpers of #GstMemmapEngine: an application (or a third-party
 * element) wraps an engine in a #GstContext of type
 * %GST_MEMMAP_ENGINE_CONTEXT_TYPE and elements find it there, as
 * gst_gl_handle_set_context() does for GL displays. They use only the
 * engine's public API. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"

/**
 * gst_memmap_engine_context_new:
 * @engine: a #GstMemmapEngine
 *
 * Wraps @engine in a persistent #GstContext of type
 * #GST_MEMMAP_ENGINE_CONTEXT_TYPE (field `engine`), for an application to
 * give elements a private engine with gst_element_set_context().
 *
 * Returns: (transfer full): a new #GstContext
 *
 * Since: 0.1
 */
GstContext *
gst_memmap_engine_context_new (GstMemmapEngine * engine)
{
  GstContext *ctx;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);

  ctx = gst_context_new (GST_MEMMAP_ENGINE_CONTEXT_TYPE, TRUE);
  gst_structure_set (gst_context_writable_structure (ctx), "engine",
      GST_TYPE_MEMMAP_ENGINE, engine, NULL);
  return ctx;
}

/**
 * gst_memmap_engine_from_context:
 * @context: a #GstContext
 *
 * Gets the engine that a #GstContext of type %GST_MEMMAP_ENGINE_CONTEXT_TYPE
 * carries.
 *
 * Returns: (transfer full) (nullable): the engine held by @context, or
 *   %NULL if @context is not a #GST_MEMMAP_ENGINE_CONTEXT_TYPE context
 *
 * Since: 0.1
 */
GstMemmapEngine *
gst_memmap_engine_from_context (GstContext * context)
{
  const GstStructure *s;
  GstMemmapEngine *engine = NULL;

  g_return_val_if_fail (GST_IS_CONTEXT (context), NULL);

  if (!gst_context_has_context_type (context, GST_MEMMAP_ENGINE_CONTEXT_TYPE))
    return NULL;

  s = gst_context_get_structure (context);
  if (!gst_structure_get (s, "engine", GST_TYPE_MEMMAP_ENGINE, &engine, NULL))
    return NULL;
  return engine;
}
