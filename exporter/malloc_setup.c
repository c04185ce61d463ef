/* memkv-exporter runs on glibc malloc, not jemalloc (src/CMakeLists.txt, memkv_alloc). */
#include <malloc.h>

/* glibc malloc, set for a small process that is idle most of the time: one arena (a thread per
 * connection would otherwise each get one), and a fixed mmap threshold, so that a reply buffer of
 * a few MiB is mapped and unmapped whole rather than raising the threshold for good and staying
 * in the heap; the heap is trimmed above 128 KiB free at its top, and grows 64 KiB at a time. */
void exp_malloc_setup(void);

void exp_malloc_setup(void) {
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024);
}
