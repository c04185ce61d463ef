/* unwind — the backtrace jemalloc takes of each sampled allocation, by frame pointers.
 *
 * jemalloc as Debian builds it unwinds with libgcc's _Unwind_Backtrace: some 30,000
 * instructions a sample, which at 64 KiB sampling costs an allocation-heavy memkv load ~5% of
 * its instructions. memkv is built with frame pointers (MEMKV_FRAME_POINTERS), and its
 * allocation wrappers note their own frame (alloc_current_frame): from there, a frame is two
 * loads. The walk cannot start from this hook's own frame: jemalloc is built without frame
 * pointers and uses rbp as an ordinary register on the way here.
 *
 * The walk only runs on a thread that registered its stack's upper end (the main thread, where
 * the key space is allocated) and inside an alloc_* call; each frame must lie above the last
 * and below that end, so a bad chain stops the walk, it never reads outside the stack. Every
 * other sample goes to jemalloc's own unwinder (libmicrohttpd's and libc's allocations, other
 * threads). Installed with experimental.hooks.prof_backtrace (jemalloc >= 5.3); x86-64 only
 * (the frame record layout), elsewhere jemalloc keeps its own.
 */
#include "profiler/profiler.h"

#include "alloc/alloc.h"

#include <stdatomic.h>
#include <stdint.h>

#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

typedef void (*backtrace_fn)(void **vec, unsigned *len, unsigned max_len);

static _Thread_local uintptr_t stack_end;
static atomic_ullong fp_walks, fallbacks;
static atomic_int fp_selected;

void prof_unwind_register_stack(void *end) {
    stack_end = (uintptr_t)end;
}

#if defined(MEMKV_HAVE_JEMALLOC) && defined(MEMKV_FRAME_POINTERS) && defined(__x86_64__)
static backtrace_fn jemalloc_unwinder; /* jemalloc's own, for the samples we do not take */

/* The two words of a frame record. A record must end at or below the stack's end; the bound is
 * end - FRAME_RECORD rather than fp + FRAME_RECORD, which wraps for a garbage fp near
 * UINTPTR_MAX (a caller built without frame pointers leaves anything in rbp) and would pass. */
#define FRAME_RECORD (2 * sizeof(uintptr_t))

/* Named so that the profile model strips it with jemalloc's frames ("prof_backtrace" prefix)
 * when a fallback sample records it. x86-64 frame record: [fp] = the caller's fp, [fp + 8] = the
 * return address into the caller. */
static void prof_backtrace_fp(void **vec, unsigned *len, unsigned max_len) {
    uintptr_t end = stack_end, fp = (uintptr_t)alloc_current_frame();
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (end < FRAME_RECORD || fp <= here || fp > end - FRAME_RECORD || (fp & 7)) {
        atomic_fetch_add_explicit(&fallbacks, 1, memory_order_relaxed);
        jemalloc_unwinder(vec, len, max_len);
        return;
    }
    unsigned n = 0;
    while (n < max_len) {
        const uintptr_t *rec = (const uintptr_t *)fp;
        uintptr_t next = rec[0], ret = rec[1];
        if (!ret) break;
        vec[n++] = (void *)ret;
        if (next <= fp || next > end - FRAME_RECORD || (next & 7)) break;
        fp = next;
    }
    *len = n;
    atomic_fetch_add_explicit(&fp_walks, 1, memory_order_relaxed);
}

/* Learns jemalloc's unwinder once, before ours can be in place: a sample on another thread may
 * run prof_backtrace_fp, and its fallback, as soon as the hook is set. */
static int learn_jemalloc_unwinder(void) {
    if (jemalloc_unwinder) return 0;
    backtrace_fn old = NULL;
    size_t sz = sizeof(old);
    if (mallctl("experimental.hooks.prof_backtrace", &old, &sz, NULL, 0) != 0 || !old) return -1;
    jemalloc_unwinder = old;
    return 0;
}

int prof_unwind_select(int frame_pointer) {
    if (learn_jemalloc_unwinder() < 0) return frame_pointer ? -1 : 0;
    backtrace_fn want = frame_pointer ? prof_backtrace_fp : jemalloc_unwinder;
    if (mallctl("experimental.hooks.prof_backtrace", NULL, NULL, &want, sizeof(want)) != 0)
        return -1;
    atomic_store_explicit(&fp_selected, frame_pointer != 0, memory_order_relaxed);
    return 0;
}
#else
int prof_unwind_select(int frame_pointer) {
    return frame_pointer ? -1 : 0;
}
#endif

const char *prof_unwinder_name(void) {
    return atomic_load_explicit(&fp_selected, memory_order_relaxed) ? "frame-pointer" : "libgcc";
}

void prof_unwind_counts(uint64_t *walks, uint64_t *fallback) {
    *walks = atomic_load_explicit(&fp_walks, memory_order_relaxed);
    *fallback = atomic_load_explicit(&fallbacks, memory_order_relaxed);
}
