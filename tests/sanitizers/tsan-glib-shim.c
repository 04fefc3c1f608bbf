/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LD_PRELOAD shim for ThreadSanitizer runs (tests/tsan.sh): GMutex, GCond,
 * GRecMutex and GRWLock on pthread objects that ThreadSanitizer sees.
 *
 * On Linux, GLib implements GMutex and GCond directly on futexes, which
 * ThreadSanitizer does not see: every lock of this project (and of
 * GStreamer) would look like no lock at all and every access under it
 * like a race. This shim replaces the exported g_mutex_* and g_cond_*
 * functions with GLib's own pthread implementation (one pthread object
 * allocated per GMutex/GCond on first use, as GLib does on platforms
 * without futexes), so that TSan's pthread interceptors see every lock and
 * wait made through them. GLib's internal calls to its own GMutex bypass
 * the PLT and keep the futex implementation: the two never share a mutex
 * (a mutex locked both ways would be caught by the check in mutex_impl()).
 *
 * GRecMutex and GRWLock do use pthreads in GLib, but GLib allocates them
 * lazily and publishes them with atomics that TSan cannot see (GLib is not
 * instrumented): the first lock from another thread would be reported as a
 * race with the allocation. They are reimplemented here the same way, in
 * instrumented code.
 *
 * GLib's quark table is guarded by one of GLib's own futex mutexes, taken
 * inside GLib: two threads making new quarks (GStreamer does, from
 * gst_structure_new() and the like) look like a race on the quark strings.
 * The shim serialises the exported quark and intern functions on a pthread
 * mutex too, so that TSan sees the order (GLib's lock still does the work).
 *
 * GAsyncQueue hands items from thread to thread under another of GLib's
 * internal mutexes: GstHarness queues the buffers of its sink pad in one,
 * and the test thread that pulls a buffer the streaming thread made would
 * look like it races with everything that thread wrote into it. The shim
 * tells TSan of the hand-off at the exported push and pop functions (a
 * release on the queue before each push, an acquire after each pop that
 * returned an item); a write after the push still races with the reader.
 *
 * The shim itself is not instrumented, so that any program started under
 * the preload (a shell, the symbolizer) still runs: in a TSan process it
 * tells TSan about the lazy publication of each pthread object through
 * TSan's annotations, which it finds as weak symbols.
 */
/* dladdr() */
#define _GNU_SOURCE
#include <glib.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* TSan's annotation interface; NULL outside a TSan process */
extern void __tsan_acquire (void *addr) __attribute__ ((weak));
extern void __tsan_release (void *addr) __attribute__ ((weak));

static inline void
publish (gpointer slot)
{
  if (__tsan_release)
    __tsan_release (slot);
}

static inline void
observe (gpointer slot)
{
  if (__tsan_acquire)
    __tsan_acquire (slot);
}

/* The pthread object of a GLib lock: allocated and initialised with @init
 * on first use, published with a compare-and-swap in @slot. */
static gpointer
lazy_impl (gpointer * slot, gsize size, void (*init) (gpointer),
    void (*destroy) (gpointer))
{
  gpointer impl = __atomic_load_n (slot, __ATOMIC_ACQUIRE);

  if (G_UNLIKELY (impl == NULL)) {
    gpointer fresh = malloc (size);

    if (fresh == NULL)
      abort ();
    init (fresh);
    publish (slot);
    if (__atomic_compare_exchange_n (slot, &impl, fresh, FALSE,
            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      impl = fresh;
    } else {
      destroy (fresh);
      free (fresh);
    }
  }
  observe (slot);
  return impl;
}

static void
bad_object (const char *what, gpointer p)
{
  fprintf (stderr, "tsan-glib-shim: %s holds %p: it was used by GLib's "
      "futex implementation too\n", what, p);
  abort ();
}

static void
mutex_init (gpointer p)
{
  pthread_mutex_init (p, NULL);
}

static void
mutex_destroy (gpointer p)
{
  pthread_mutex_destroy (p);
}

static pthread_mutex_t *
mutex_impl (GMutex * mutex)
{
  pthread_mutex_t *impl = lazy_impl (&mutex->p, sizeof (pthread_mutex_t),
      mutex_init, mutex_destroy);

  if (G_UNLIKELY ((guintptr) impl < 4096))
    bad_object ("a GMutex", impl);
  return impl;
}

void
g_mutex_init (GMutex * mutex)
{
  mutex->p = NULL;
}

/* Whether the code at @addr is GStreamer's core library (not instrumented) */
static gboolean
is_gstreamer_core (gconstpointer addr)
{
  Dl_info info;

  return dladdr (addr, &info) && info.dli_fname &&
      strstr (info.dli_fname, "/libgstreamer-1.0.so") != NULL;
}

void
g_mutex_clear (GMutex * mutex)
{
  pthread_mutex_t *impl = mutex->p;

  if (impl != NULL) {
    if ((guintptr) impl < 4096)
      bad_object ("a GMutex", impl);
    /* A GMutex GStreamer's core clears itself (a GstTask's, in the GLib
     * pool thread that ran the task, after the streaming thread waited on
     * it) is ordered after its last use by the task's state and the
     * object's refcount, atomics inside libgstreamer that TSan cannot
     * see: pthread_mutex_destroy() would be reported as racing with that
     * last lock, with no frame of this project in either stack (seen in
     * libs_frameswrite: uridecodebin's multiqueue task). Taking the mutex
     * once, when free, makes that order visible; a mutex still held is
     * left to be reported. Mutexes this project clears are untouched, and
     * are still checked. */
    if (is_gstreamer_core (__builtin_return_address (0)) &&
        pthread_mutex_trylock (impl) == 0)
      pthread_mutex_unlock (impl);
    pthread_mutex_destroy (impl);
    free (impl);
  }
  mutex->p = NULL;
}

void
g_mutex_lock (GMutex * mutex)
{
  pthread_mutex_lock (mutex_impl (mutex));
}

void
g_mutex_unlock (GMutex * mutex)
{
  pthread_mutex_unlock (mutex_impl (mutex));
}

gboolean
g_mutex_trylock (GMutex * mutex)
{
  return pthread_mutex_trylock (mutex_impl (mutex)) == 0;
}

static void
cond_init (gpointer p)
{
  pthread_condattr_t attr;

  /* g_cond_wait_until() deadlines are g_get_monotonic_time() */
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (p, &attr);
  pthread_condattr_destroy (&attr);
}

static void
cond_destroy (gpointer p)
{
  pthread_cond_destroy (p);
}

static pthread_cond_t *
cond_impl (GCond * cond)
{
  pthread_cond_t *impl = lazy_impl (&cond->p, sizeof (pthread_cond_t),
      cond_init, cond_destroy);

  if (G_UNLIKELY ((guintptr) impl < 4096))
    bad_object ("a GCond", impl);
  return impl;
}

void
g_cond_init (GCond * cond)
{
  cond->p = NULL;
}

void
g_cond_clear (GCond * cond)
{
  pthread_cond_t *impl = cond->p;

  if (impl != NULL) {
    if ((guintptr) impl < 4096)
      bad_object ("a GCond", impl);
    pthread_cond_destroy (impl);
    free (impl);
  }
  cond->p = NULL;
}

void
g_cond_wait (GCond * cond, GMutex * mutex)
{
  pthread_cond_wait (cond_impl (cond), mutex_impl (mutex));
}

void
g_cond_signal (GCond * cond)
{
  pthread_cond_signal (cond_impl (cond));
}

void
g_cond_broadcast (GCond * cond)
{
  pthread_cond_broadcast (cond_impl (cond));
}

gboolean
g_cond_wait_until (GCond * cond, GMutex * mutex, gint64 end_time)
{
  struct timespec ts;
  int r;

  ts.tv_sec = end_time / 1000000;
  ts.tv_nsec = (end_time % 1000000) * 1000;
  do {
    r = pthread_cond_timedwait (cond_impl (cond), mutex_impl (mutex), &ts);
  } while (r == EINTR);
  return r == 0;
}

/* GRecMutex */

static void
rec_init (gpointer p)
{
  pthread_mutexattr_t attr;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init (p, &attr);
  pthread_mutexattr_destroy (&attr);
}

static void
rec_destroy (gpointer p)
{
  pthread_mutex_destroy (p);
}

static pthread_mutex_t *
rec_impl (GRecMutex * rec_mutex)
{
  pthread_mutex_t *impl = lazy_impl (&rec_mutex->p, sizeof (pthread_mutex_t),
      rec_init, rec_destroy);

  if (G_UNLIKELY ((guintptr) impl < 4096))
    bad_object ("a GRecMutex", impl);
  return impl;
}

void
g_rec_mutex_init (GRecMutex * rec_mutex)
{
  rec_mutex->p = NULL;
}

void
g_rec_mutex_clear (GRecMutex * rec_mutex)
{
  if (rec_mutex->p != NULL) {
    rec_destroy (rec_mutex->p);
    free (rec_mutex->p);
  }
  rec_mutex->p = NULL;
}

void
g_rec_mutex_lock (GRecMutex * rec_mutex)
{
  pthread_mutex_lock (rec_impl (rec_mutex));
}

gboolean
g_rec_mutex_trylock (GRecMutex * rec_mutex)
{
  return pthread_mutex_trylock (rec_impl (rec_mutex)) == 0;
}

void
g_rec_mutex_unlock (GRecMutex * rec_mutex)
{
  pthread_mutex_unlock (rec_impl (rec_mutex));
}

/* GRWLock */

static void
rw_init (gpointer p)
{
  pthread_rwlock_init (p, NULL);
}

static void
rw_destroy (gpointer p)
{
  pthread_rwlock_destroy (p);
}

static pthread_rwlock_t *
rw_impl (GRWLock * rw_lock)
{
  pthread_rwlock_t *impl = lazy_impl (&rw_lock->p, sizeof (pthread_rwlock_t),
      rw_init, rw_destroy);

  if (G_UNLIKELY ((guintptr) impl < 4096))
    bad_object ("a GRWLock", impl);
  return impl;
}

void
g_rw_lock_init (GRWLock * rw_lock)
{
  rw_lock->p = NULL;
}

void
g_rw_lock_clear (GRWLock * rw_lock)
{
  if (rw_lock->p != NULL) {
    rw_destroy (rw_lock->p);
    free (rw_lock->p);
  }
  rw_lock->p = NULL;
}

void
g_rw_lock_writer_lock (GRWLock * rw_lock)
{
  pthread_rwlock_wrlock (rw_impl (rw_lock));
}

gboolean
g_rw_lock_writer_trylock (GRWLock * rw_lock)
{
  return pthread_rwlock_trywrlock (rw_impl (rw_lock)) == 0;
}

void
g_rw_lock_writer_unlock (GRWLock * rw_lock)
{
  pthread_rwlock_unlock (rw_impl (rw_lock));
}

void
g_rw_lock_reader_lock (GRWLock * rw_lock)
{
  pthread_rwlock_rdlock (rw_impl (rw_lock));
}

gboolean
g_rw_lock_reader_trylock (GRWLock * rw_lock)
{
  return pthread_rwlock_tryrdlock (rw_impl (rw_lock)) == 0;
}

void
g_rw_lock_reader_unlock (GRWLock * rw_lock)
{
  pthread_rwlock_unlock (rw_impl (rw_lock));
}

/* quarks and interned strings */

static pthread_mutex_t quark_lock = PTHREAD_MUTEX_INITIALIZER;

#define WRAP_STRING_FUNC(ret_type, name)                                \
  ret_type                                                              \
  name (const gchar * string)                                           \
  {                                                                     \
    static ret_type (*real) (const gchar *);                            \
    ret_type ret;                                                       \
                                                                        \
    if (G_UNLIKELY (real == NULL))                                      \
      real = (ret_type (*) (const gchar *)) dlsym (RTLD_NEXT, #name);   \
    if (real == NULL)                                                   \
      abort ();                                                         \
    pthread_mutex_lock (&quark_lock);                                   \
    ret = real (string);                                                \
    pthread_mutex_unlock (&quark_lock);                                 \
    return ret;                                                         \
  }

WRAP_STRING_FUNC (GQuark, g_quark_from_string)
WRAP_STRING_FUNC (GQuark, g_quark_from_static_string)
WRAP_STRING_FUNC (GQuark, g_quark_try_string)
WRAP_STRING_FUNC (const gchar *, g_intern_string)
WRAP_STRING_FUNC (const gchar *, g_intern_static_string)

/* GAsyncQueue hand-offs */

#define WRAP_QUEUE_PUSH(name, params, args)                             \
  void                                                                  \
  name params                                                           \
  {                                                                     \
    static void (*real) params;                                         \
                                                                        \
    if (G_UNLIKELY (real == NULL))                                      \
      real = (void (*) params) dlsym (RTLD_NEXT, #name);                \
    if (real == NULL)                                                   \
      abort ();                                                         \
    publish (queue);                                                    \
    real args;                                                          \
  }

#define WRAP_QUEUE_POP(name, params, args)                              \
  gpointer                                                              \
  name params                                                           \
  {                                                                     \
    static gpointer (*real) params;                                     \
    gpointer item;                                                      \
                                                                        \
    if (G_UNLIKELY (real == NULL))                                      \
      real = (gpointer (*) params) dlsym (RTLD_NEXT, #name);            \
    if (real == NULL)                                                   \
      abort ();                                                         \
    item = real args;                                                   \
    if (item != NULL)                                                   \
      observe (queue);                                                  \
    return item;                                                        \
  }

WRAP_QUEUE_PUSH (g_async_queue_push, (GAsyncQueue * queue, gpointer data),
    (queue, data))
WRAP_QUEUE_PUSH (g_async_queue_push_front, (GAsyncQueue * queue,
        gpointer data), (queue, data))
WRAP_QUEUE_PUSH (g_async_queue_push_unlocked, (GAsyncQueue * queue,
        gpointer data), (queue, data))
WRAP_QUEUE_POP (g_async_queue_pop, (GAsyncQueue * queue), (queue))
WRAP_QUEUE_POP (g_async_queue_try_pop, (GAsyncQueue * queue), (queue))
WRAP_QUEUE_POP (g_async_queue_timeout_pop, (GAsyncQueue * queue,
        guint64 timeout), (queue, timeout))
WRAP_QUEUE_POP (g_async_queue_pop_unlocked, (GAsyncQueue * queue), (queue))
WRAP_QUEUE_POP (g_async_queue_try_pop_unlocked, (GAsyncQueue * queue),
    (queue))
WRAP_QUEUE_POP (g_async_queue_timeout_pop_unlocked, (GAsyncQueue * queue,
        guint64 timeout), (queue, timeout))
