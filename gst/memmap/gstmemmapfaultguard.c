/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fault guard (see gstmemmapfaultguard.h and docs/reliability.md).
 *
 * Why a signal handler: a zero-copy buffer is read by whatever element is
 * downstream, outside any code of ours, so a sigsetjmp guard around our own
 * accesses would not protect it; and no lease or seal stops another
 * program from truncating a file it may write. What we can do is make the
 * fault harmless (the page reads as zeros) and make it loud (the owner of
 * the mapping sees the count and fails with GST_MEMMAP_ERROR_TRUNCATED).
 *
 * The handler takes no lock and calls only mmap() and sigaction(). Regions
 * are published with a per-region sequence counter (odd while it changes),
 * so a handler that races an add or a remove never acts on half a region.
 * An owner removes its region before munmap(), so the handler can never
 * map a page into an address range that someone else got afterwards.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapfaultguard.h"

#include <gst/gst.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memmap.h"
#include "gstmemmapprivate.h"

#define GST_CAT_DEFAULT gst_memmap_debug

/* an engine keeps at most max-mappings (default 4096) mappings; several
 * engines and the store readers' header maps share the table */
#define GUARD_REGIONS 16384

typedef struct
{
  guint seq;                    /* odd while the owner changes the region */
  guint in_use;                 /* claimed by an owner: 0 -> 1 */
  guintptr start;
  guintptr end;
  gint prot;
  guint faults;
} GuardRegion;

static GuardRegion regions[GUARD_REGIONS];
static guint regions_used;      /* highest id handed out + 1 */
static guint next_hint;
static guint64 total_faults;
static gsize page_bytes;
static guintptr page_mask;
static gboolean active;
static struct sigaction previous;

/* ------------------------------------------------------------------------ */
/* in the signal handler: no locks, no allocation, no GLib                  */

static gboolean
find_region (guintptr addr, guint * id, gint * prot)
{
  guint n = __atomic_load_n (&regions_used, __ATOMIC_ACQUIRE);
  guint i;

  for (i = 0; i < n; i++) {
    GuardRegion *r = &regions[i];
    guint s1 = __atomic_load_n (&r->seq, __ATOMIC_ACQUIRE), s2;
    guintptr start, end;
    gint p;

    if (s1 & 1)
      continue;
    start = __atomic_load_n (&r->start, __ATOMIC_RELAXED);
    end = __atomic_load_n (&r->end, __ATOMIC_RELAXED);
    p = __atomic_load_n (&r->prot, __ATOMIC_RELAXED);
    __atomic_thread_fence (__ATOMIC_ACQUIRE);
    s2 = __atomic_load_n (&r->seq, __ATOMIC_RELAXED);
    if (s1 != s2 || start == 0 || addr < start || addr >= end)
      continue;
    *id = i;
    *prot = p;
    return TRUE;
  }
  return FALSE;
}

static void
chain (int sig, siginfo_t * info, void *ucontext)
{
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction (sig, info, ucontext);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler (sig);
  } else {
    struct sigaction dfl;

    /* what would have happened without us: the faulting access runs
     * again and the default action ends the process */
    memset (&dfl, 0, sizeof (dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset (&dfl.sa_mask);
    sigaction (sig, &dfl, NULL);
    if (info->si_code <= 0)
      raise (sig);              /* sent, not a fault: deliver it again */
  }
}

static void
on_sigbus (int sig, siginfo_t * info, void *ucontext)
{
  gint saved_errno = errno;
  guintptr addr = (guintptr) info->si_addr;
  guint id;
  gint prot;

  /* BUS_ADRERR: a page with no backing, which is what a page past the end
   * of a mapped file is; hardware memory errors are not ours to hide */
  if (info->si_code == BUS_ADRERR && find_region (addr, &id, &prot)) {
    void *page = (void *) (addr & page_mask);

    if (mmap (page, page_bytes, prot,
            MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
      __atomic_add_fetch (&regions[id].faults, 1, __ATOMIC_RELEASE);
      __atomic_add_fetch (&total_faults, 1, __ATOMIC_RELAXED);
      errno = saved_errno;
      return;
    }
  }
  errno = saved_errno;
  chain (sig, info, ucontext);
}

/* ------------------------------------------------------------------------ */

static void
install (void)
{
  const gchar *env = g_getenv ("GST_MEMMAP_FAULT_GUARD");
  struct sigaction sa;

  page_bytes = (gsize) sysconf (_SC_PAGESIZE);
  page_mask = ~((guintptr) page_bytes - 1);
  if (env && g_strcmp0 (env, "0") == 0) {
    GST_INFO ("fault guard off (GST_MEMMAP_FAULT_GUARD=0)");
    return;
  }

  memset (&sa, 0, sizeof (sa));
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset (&sa.sa_mask);
  if (sigaction (SIGBUS, &sa, &previous) < 0) {
    GST_WARNING ("could not install the SIGBUS handler: %s",
        g_strerror (errno));
    return;
  }
  active = TRUE;
  GST_INFO ("fault guard installed (previous SIGBUS handler: %s)",
      (previous.sa_flags & SA_SIGINFO) || (previous.sa_handler != SIG_DFL &&
          previous.sa_handler != SIG_IGN) ? "chained" : "default");
}

static gboolean
ensure_installed (void)
{
  /* pthread_once, not g_once: sanitizers see its ordering */
  static pthread_once_t once = PTHREAD_ONCE_INIT;

  pthread_once (&once, install);
  return active;
}

gboolean
gst_memmap_fault_guard_is_active (void)
{
  return ensure_installed ();
}

gint
gst_memmap_fault_guard_add (gpointer addr, gsize size, gint prot)
{
  static gint warned = 0;
  guint hint, n, i, used;

  if (addr == NULL || size == 0 || !ensure_installed ())
    return -1;

  hint = __atomic_load_n (&next_hint, __ATOMIC_RELAXED);
  for (n = 0; n < GUARD_REGIONS; n++) {
    GuardRegion *r;
    guint expected = 0;

    i = (hint + n) % GUARD_REGIONS;
    r = &regions[i];
    if (!__atomic_compare_exchange_n (&r->in_use, &expected, 1, FALSE,
            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
      continue;

    /* the region is ours: publish it under its sequence counter */
    __atomic_store_n (&r->seq, r->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence (__ATOMIC_RELEASE);
    __atomic_store_n (&r->start, (guintptr) addr, __ATOMIC_RELAXED);
    __atomic_store_n (&r->end, ((guintptr) addr + size + page_bytes - 1) &
        page_mask, __ATOMIC_RELAXED);
    __atomic_store_n (&r->prot, prot, __ATOMIC_RELAXED);
    __atomic_store_n (&r->faults, 0, __ATOMIC_RELAXED);
    __atomic_store_n (&r->seq, r->seq + 1, __ATOMIC_RELEASE);

    used = __atomic_load_n (&regions_used, __ATOMIC_RELAXED);
    while (used < i + 1 && !__atomic_compare_exchange_n (&regions_used,
            &used, i + 1, TRUE, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    __atomic_store_n (&next_hint, i + 1, __ATOMIC_RELAXED);
    return (gint) i;
  }

  if (g_atomic_int_compare_and_exchange (&warned, 0, 1))
    GST_WARNING ("more than %d mappings at once: the ones past that are not "
        "guarded against truncation", GUARD_REGIONS);
  return -1;
}

void
gst_memmap_fault_guard_remove (gint id)
{
  GuardRegion *r;

  if (id < 0 || id >= GUARD_REGIONS)
    return;
  r = &regions[id];
  __atomic_store_n (&r->seq, r->seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  __atomic_store_n (&r->start, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&r->end, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&r->seq, r->seq + 1, __ATOMIC_RELEASE);
  __atomic_store_n (&r->in_use, 0, __ATOMIC_RELEASE);
}

guint
gst_memmap_fault_guard_get_faults (gint id)
{
  if (id < 0 || id >= GUARD_REGIONS)
    return 0;
  return __atomic_load_n (&regions[id].faults, __ATOMIC_ACQUIRE);
}

guint64
gst_memmap_fault_guard_get_total_faults (void)
{
  return __atomic_load_n (&total_faults, __ATOMIC_RELAXED);
}
