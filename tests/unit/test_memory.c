/* Unit tests of src/memory's readers: jemalloc statistics, bins, purge, malloc_stats, RSS and
 * the ratios. The same file runs in the jemalloc build and in the sanitizer build (libc
 * malloc), where the jemalloc readers must say MEM_ERR_NO_JEMALLOC and RSS must still work. */
#include "memory/memory.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#define MIB ((size_t)1024 * 1024)

/* Keep the compiler from eliding allocations whose contents are never read. */
static volatile unsigned char sink;

static void *touch_alloc(size_t size) {
    unsigned char *p = malloc(size);
    assert_non_null(p);
    memset(p, 0x5a, size);
    sink = p[size - 1];
    return p;
}

/* ---- both builds ------------------------------------------------------------------------ */

static void test_rss_positive_and_grows(void **state) {
    (void)state;
    size_t before = mem_process_rss();
    assert_true(before > 0);
    void *p = touch_alloc(64 * MIB);
    size_t after = mem_process_rss();
    assert_true(after >= before + 48 * MIB);
    assert_true(mem_process_rss_peak() >= after);
    free(p);
}

static void test_ratios_exact(void **state) {
    (void)state;
    mem_allocator_stats a;
    memset(&a, 0, sizeof(a));
    a.available = 1;
    a.allocated = 100;
    a.active = 150;
    a.resident = 300;
    mem_ratios r;
    mem_ratios_compute(&a, 600, 120, &r);
    assert_true(r.allocator_frag_ratio == 1.5);
    assert_int_equal(r.allocator_frag_bytes, 50);
    assert_true(r.allocator_rss_ratio == 2.0);
    assert_int_equal(r.allocator_rss_bytes, 150);
    assert_true(r.rss_overhead_ratio == 2.0);
    assert_int_equal(r.rss_overhead_bytes, 300);
    assert_true(r.mem_fragmentation_ratio == 5.0);
    assert_int_equal(r.mem_fragmentation_bytes, 480);

    /* RSS below used memory: ratio under 1, negative bytes, as Redis shows it. */
    mem_ratios_compute(&a, 60, 120, &r);
    assert_true(r.mem_fragmentation_ratio == 0.5);
    assert_int_equal(r.mem_fragmentation_bytes, -60);
    assert_int_equal(r.rss_overhead_bytes, 60 - 300);
}

static void test_ratios_zero_denominators(void **state) {
    (void)state;
    mem_allocator_stats a;
    memset(&a, 0, sizeof(a)); /* no jemalloc: every allocator figure is 0 */
    mem_ratios r;
    mem_ratios_compute(&a, 1000, 0, &r);
    assert_true(r.allocator_frag_ratio == 1.0);
    assert_int_equal(r.allocator_frag_bytes, 0);
    assert_true(r.allocator_rss_ratio == 1.0);
    assert_int_equal(r.allocator_rss_bytes, 0);
    assert_true(r.rss_overhead_ratio == 1.0);
    assert_int_equal(r.rss_overhead_bytes, 0);
    assert_true(r.mem_fragmentation_ratio == 1.0);
    assert_int_equal(r.mem_fragmentation_bytes, 0);

    mem_ratios_compute(NULL, 1000, 500, &r);
    assert_true(r.allocator_frag_ratio == 1.0);
    assert_true(r.mem_fragmentation_ratio == 2.0);
    assert_int_equal(r.mem_fragmentation_bytes, 500);
}

static void test_strerror(void **state) {
    (void)state;
    assert_string_equal(mem_strerror(0), "ok");
    assert_non_null(strstr(mem_strerror(MEM_ERR_NO_JEMALLOC), "jemalloc"));
    assert_non_null(strstr(mem_strerror(MEM_ERR_MALLCTL), "mallctl"));
    assert_non_null(mem_strerror(-999));
}

static void test_invalid_arguments(void **state) {
    (void)state;
    assert_int_equal(mem_allocator_stats_read(NULL), MEM_ERR_INVALID);
    assert_int_equal(mem_arena_stats_read(0, NULL), MEM_ERR_INVALID);
    assert_int_equal(mem_bins_read(NULL, 4, NULL), MEM_ERR_INVALID);
    char *text = (char *)1;
    assert_int_equal(mem_malloc_stats(NULL, &text, NULL), MEM_ERR_INVALID);
    assert_null(text);
    mem_text_free(NULL);
}

static void *stats_reader(void *arg) {
    (void)arg;
    for (int i = 0; i < 200; i++) {
        mem_allocator_stats a;
        mem_bin bins[MEM_BINS_MAX];
        size_t n;
        if (mem_allocator_stats_read(&a) != 0) return (void *)1;
        (void)mem_bins_read(bins, MEM_BINS_MAX, &n);
        free(malloc(100 + (size_t)i * 37));
    }
    return NULL;
}

/* First use from several threads at once: the lazy MIB resolution must be race-free. */
static void test_concurrent_readers(void **state) {
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, stats_reader, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *ret = (void *)2;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
}

static void test_snapshot_read_allocator(void **state) {
    (void)state;
    mem_snapshot s;
    memset(&s, 0, sizeof(s));
    s.used_memory = 12345; /* the server's figures are left alone */
    mem_bin bins[MEM_BINS_MAX];
    assert_int_equal(mem_snapshot_read_allocator(&s, bins, MEM_BINS_MAX), 0);
    assert_int_equal(s.used_memory, 12345);
    assert_true(s.rss > 0);
#ifdef MEMKV_HAVE_JEMALLOC
    assert_int_equal(s.alloc.available, 1);
    assert_ptr_equal(s.bins, bins);
    assert_true(s.nbins > 0 && s.nbins <= MEM_BINS_MAX);
#else
    assert_int_equal(s.alloc.available, 0);
    assert_null(s.bins);
    assert_int_equal(s.nbins, 0);
#endif
}

#ifdef MEMKV_HAVE_JEMALLOC

/* ---- jemalloc build --------------------------------------------------------------------- */

static void flush_tcache(void) {
    assert_int_equal(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
}

static void test_stats_invariants(void **state) {
    (void)state;
    mem_allocator_stats a;
    assert_int_equal(mem_allocator_stats_read(&a), 0);
    assert_int_equal(a.available, 1);
    assert_string_equal(a.version, "5.3.0");
    assert_true(a.allocated > 0);
    assert_true(a.active >= a.allocated);
    assert_true(a.resident >= a.active);
    assert_true(a.mapped >= a.active);
    assert_true(a.metadata > 0);
    assert_true(a.narenas >= 1);
    assert_true(a.page_size >= 4096);
    assert_true(a.background_thread == 0 || a.background_thread == 1);
    assert_true(a.dirty_decay_ms >= -1);
    assert_true(a.muzzy_decay_ms >= -1);
}

static void test_stats_move_with_64mib(void **state) {
    (void)state;
    mem_allocator_stats before, during, after;
    assert_int_equal(mem_allocator_stats_read(&before), 0);
    void *p = touch_alloc(64 * MIB);
    assert_int_equal(mem_allocator_stats_read(&during), 0);
    assert_true(during.allocated >= before.allocated + 64 * MIB);
    assert_true(during.active >= before.active + 64 * MIB);
    assert_true(during.resident >= during.active);
    free(p);
    assert_int_equal(mem_allocator_stats_read(&after), 0);
    assert_true(after.allocated + 64 * MIB <= during.allocated);
    assert_true(after.active >= after.allocated);
    assert_true(after.resident >= after.active);
}

static const mem_bin *find_bin(const mem_bin *bins, size_t n, size_t size) {
    for (size_t i = 0; i < n; i++)
        if (bins[i].size == size) return &bins[i];
    return NULL;
}

static void test_bins_half_free(void **state) {
    (void)state;
    mem_bin bins[MEM_BINS_MAX];
    size_t n = 0;
    assert_int_equal(mem_bins_read(bins, MEM_BINS_MAX, &n), 0);
    assert_true(n >= 30 && n <= MEM_BINS_MAX); /* 36 with 4 KiB pages */
    for (size_t i = 1; i < n; i++)
        assert_true(bins[i].size > bins[i - 1].size);
    const mem_bin *b0 = find_bin(bins, n, 1024);
    assert_non_null(b0);
    assert_true(b0->nregs > 0);

    enum { COUNT = 16384 }; /* 16 MiB of 1024-byte blocks */
    void **blocks = malloc(COUNT * sizeof(*blocks));
    assert_non_null(blocks);
    for (int i = 0; i < COUNT; i++) {
        blocks[i] = malloc(1024);
        assert_non_null(blocks[i]);
        memset(blocks[i], i & 0xff, 1024);
    }
    flush_tcache();
    assert_int_equal(mem_bins_read(bins, MEM_BINS_MAX, &n), 0);
    const mem_bin *b1 = find_bin(bins, n, 1024);
    assert_true(b1->curregs >= COUNT);
    size_t free_full = b1->free_bytes;
    /* Full slabs: at most a few partly used slabs of free space. */
    assert_true(free_full <= 64 * (size_t)b1->nregs * 1024);

    for (int i = 0; i < COUNT; i += 2) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    flush_tcache(); /* freed regions go back from the thread cache to their slabs */
    assert_int_equal(mem_bins_read(bins, MEM_BINS_MAX, &n), 0);
    const mem_bin *b2 = find_bin(bins, n, 1024);
    size_t half = (size_t)COUNT / 2 * 1024;
    size_t grew = b2->free_bytes - free_full;
    assert_true(b2->free_bytes > free_full);
    assert_true(grew >= half * 9 / 10);
    assert_true(grew <= half * 11 / 10);
    assert_int_equal(b2->free_bytes, (b2->curslabs * b2->nregs - b2->curregs) * (size_t)b2->size);

    for (int i = 1; i < COUNT; i += 2)
        free(blocks[i]);
    free(blocks);
}

static void test_purge(void **state) {
    (void)state;
    /* Leave dirty pages behind: many page-sized blocks, touched, then freed. */
    enum { COUNT = 2048 };
    void **blocks = malloc(COUNT * sizeof(*blocks));
    assert_non_null(blocks);
    for (int i = 0; i < COUNT; i++)
        blocks[i] = touch_alloc(16384);
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
    free(blocks);
    flush_tcache();

    mem_allocator_stats before, after;
    mem_arena_stats all_before, all_after;
    assert_int_equal(mem_allocator_stats_read(&before), 0);
    assert_int_equal(mem_arena_stats_read(MALLCTL_ARENAS_ALL, &all_before), 0);
    assert_int_equal(mem_purge(), 0);
    assert_int_equal(mem_allocator_stats_read(&after), 0);
    assert_int_equal(mem_arena_stats_read(MALLCTL_ARENAS_ALL, &all_after), 0);
    assert_true(after.resident <= before.resident);
    assert_true(all_after.dirty <= all_before.dirty);
    assert_true(all_after.dirty < 4 * MIB);
}

static void test_arena0_stats(void **state) {
    (void)state;
    void *p = touch_alloc(4 * MIB);
    mem_arena_stats s;
    assert_int_equal(mem_arena_stats_read(0, &s), 0);
    assert_true(s.active > 0);
    assert_true(s.allocated > 0);
    assert_true(s.active >= s.allocated);
    assert_true(s.resident > 0);

    /* The merged figures include arena 0's. */
    mem_arena_stats all;
    assert_int_equal(mem_arena_stats_read(MALLCTL_ARENAS_ALL, &all), 0);
    assert_true(all.active >= s.active);
    assert_true(all.allocated >= s.allocated);
    assert_true(all.active >= all.allocated);
    free(p);

    /* An arena that does not exist. */
    assert_int_equal(mem_arena_stats_read(4000, &s), MEM_ERR_MALLCTL);
    assert_int_equal(s.active, 0);
}

static void test_malloc_stats_text(void **state) {
    (void)state;
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(mem_malloc_stats(NULL, &text, &len), 0);
    assert_non_null(text);
    assert_true(len > 1000);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "jemalloc"));
    mem_text_free(text);

    /* JSON output, general information only. */
    assert_int_equal(mem_malloc_stats("Jmdablxeh", &text, &len), 0);
    assert_non_null(strstr(text, "\"jemalloc\""));
    mem_text_free(text);
}

#else /* !MEMKV_HAVE_JEMALLOC */

/* ---- sanitizer build (libc malloc) ------------------------------------------------------ */

static void test_without_jemalloc(void **state) {
    (void)state;
    mem_allocator_stats a;
    assert_int_equal(mem_allocator_stats_read(&a), 0);
    assert_int_equal(a.available, 0);
    assert_int_equal(a.allocated, 0);
    assert_int_equal(a.background_thread, -1);
    assert_true(a.page_size >= 4096);
    assert_string_equal(a.version, "");

    mem_bin bins[4];
    size_t n = 99;
    assert_int_equal(mem_bins_read(bins, 4, &n), MEM_ERR_NO_JEMALLOC);
    assert_int_equal(n, 0);
    mem_arena_stats s;
    assert_int_equal(mem_arena_stats_read(0, &s), MEM_ERR_NO_JEMALLOC);
    assert_int_equal(mem_purge(), MEM_ERR_NO_JEMALLOC);
    char *text = (char *)1;
    size_t len = 99;
    assert_int_equal(mem_malloc_stats(NULL, &text, &len), MEM_ERR_NO_JEMALLOC);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_true(mem_process_rss() > 0);
}

#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_readers), /* first: exercises the lazy init */
        cmocka_unit_test(test_rss_positive_and_grows),
        cmocka_unit_test(test_ratios_exact),
        cmocka_unit_test(test_ratios_zero_denominators),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_snapshot_read_allocator),
#ifdef MEMKV_HAVE_JEMALLOC
        cmocka_unit_test(test_stats_invariants),
        cmocka_unit_test(test_stats_move_with_64mib),
        cmocka_unit_test(test_bins_half_free),
        cmocka_unit_test(test_purge),
        cmocka_unit_test(test_arena0_stats),
        cmocka_unit_test(test_malloc_stats_text),
#else
        cmocka_unit_test(test_without_jemalloc),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
