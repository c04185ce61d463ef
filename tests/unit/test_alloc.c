/* Unit tests of the allocation wrapper: counters equal the usable sizes really held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

#include "alloc/alloc.h"

static void test_counts_usable_sizes(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_STRINGS);
    static const size_t sizes[] = {1, 7, 8, 9, 24, 100, 1000, 4096, 5000, 70000, 3 << 20};
    void *ptrs[sizeof(sizes) / sizeof(sizes[0])];
    int64_t expect = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ptrs[i] = i % 2 ? alloc_malloc(ALLOC_SUB_STRINGS, sizes[i])
                        : alloc_calloc(ALLOC_SUB_STRINGS, sizes[i]);
        expect += (int64_t)malloc_usable_size(ptrs[i]);
        assert_true(alloc_usable_size(ptrs[i]) >= sizes[i]);
        assert_int_equal(alloc_usable_size(ptrs[i]), malloc_usable_size(ptrs[i]));
#ifdef MEMKV_HAVE_JEMALLOC
        /* The size class is exactly what jemalloc hands out. */
        assert_int_equal(alloc_size_class(sizes[i]), malloc_usable_size(ptrs[i]));
#endif
    }
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS) - base, expect);
    /* Grow and shrink across size classes, plain and sized. */
    ptrs[2] = alloc_realloc(ALLOC_SUB_STRINGS, ptrs[2], 100000);
    ptrs[3] = alloc_realloc_sized(ALLOC_SUB_STRINGS, ptrs[3], sizes[3], 33);
    ptrs[9] = alloc_realloc_sized(ALLOC_SUB_STRINGS, ptrs[9], sizes[9], 20);
    expect = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        expect += (int64_t)malloc_usable_size(ptrs[i]);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS) - base, expect);
    alloc_free(ALLOC_SUB_STRINGS, ptrs[2]);
    alloc_free_sized(ALLOC_SUB_STRINGS, ptrs[3], 33);
    alloc_free_sized(ALLOC_SUB_STRINGS, ptrs[9], 20);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (i != 2 && i != 3 && i != 9) alloc_free_sized(ALLOC_SUB_STRINGS, ptrs[i], sizes[i]);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS), base);
    alloc_free(ALLOC_SUB_STRINGS, NULL);
    alloc_free_sized(ALLOC_SUB_STRINGS, NULL, 10);
}

static void test_strndup_and_names(void **state) {
    (void)state;
    char *s = alloc_strndup(ALLOC_SUB_OTHER, "hello world", 5);
    assert_string_equal(s, "hello");
    alloc_free(ALLOC_SUB_OTHER, s);
    assert_string_equal(alloc_sub_name(ALLOC_SUB_QUERY_BUF), "query_buffers");
    assert_string_equal(alloc_sub_name(ALLOC_SUB_KEY_INDEX), "key_index");
    assert_string_equal(alloc_sub_name((alloc_sub)999), "unknown");
    for (int i = 0; i < ALLOC_SUB_COUNT; i++)
        assert_non_null(alloc_sub_name((alloc_sub)i));
    assert_non_null(strstr(alloc_allocator_name(), "c")); /* "jemalloc-…" or "libc" */
}

/* Memory allocated on one thread and freed on another nets to zero in the sum. */
static void *alloc_on_thread(void *arg) {
    void **out = arg;
    for (int i = 0; i < 1000; i++)
        out[i] = alloc_malloc(ALLOC_SUB_HTTP, 100 + (size_t)i);
    return NULL;
}

static void test_cross_thread(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HTTP);
    int64_t total_base = alloc_total_bytes();
    static void *ptrs[1000];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, alloc_on_thread, ptrs), 0);
    pthread_join(t, NULL);
    int64_t held = 0;
    for (int i = 0; i < 1000; i++)
        held += (int64_t)malloc_usable_size(ptrs[i]);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HTTP) - base, held);
    assert_int_equal(alloc_total_bytes() - total_base, held);
    for (int i = 0; i < 1000; i++)
        alloc_free(ALLOC_SUB_HTTP, ptrs[i]);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HTTP), base);
}

#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

static size_t arena_allocated(unsigned arena) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    char name[64];
    size_t small = 0, large = 0;
    sz = sizeof(size_t);
    snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", arena);
    assert_int_equal(mallctl(name, &small, &sz, NULL, 0), 0);
    snprintf(name, sizeof(name), "stats.arenas.%u.large.allocated", arena);
    assert_int_equal(mallctl(name, &large, &sz, NULL, 0), 0);
    return small + large;
}
#endif

/* Runs last: once enabled, arenas stay on for the process. */
static void test_arenas(void **state) {
    (void)state;
    unsigned ks = 0, cl = 0, sc = 0;
#ifdef MEMKV_HAVE_JEMALLOC
    assert_int_equal(alloc_arena_index(ALLOC_ARENA_KEYSPACE, &ks), 0);
    assert_int_equal(alloc_arenas_enable(), 0);
    assert_int_equal(alloc_arena_index(ALLOC_ARENA_KEYSPACE, &ks), 1);
    assert_int_equal(alloc_arena_index(ALLOC_ARENA_CLIENTS, &cl), 1);
    assert_int_equal(alloc_arena_index(ALLOC_ARENA_SCRIPTING, &sc), 1);
    assert_int_not_equal(ks, cl);
    assert_int_not_equal(sc, ks);
    assert_int_not_equal(sc, cl);
    size_t ks_before = arena_allocated(ks), cl_before = arena_allocated(cl);
    size_t sc_before = arena_allocated(sc);
    int64_t sub_before = alloc_sub_bytes(ALLOC_SUB_STRINGS);
    enum { N = 2000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = alloc_malloc(ALLOC_SUB_STRINGS, 1000);
    void *q = alloc_calloc(ALLOC_SUB_OUTPUT_BUF, 1 << 20);
    /* The Lua heap: its own arena, and a sized free / realloc through its own tcache. */
    static void *lua[N];
    for (int i = 0; i < N; i++)
        lua[i] = alloc_malloc(ALLOC_SUB_SCRIPTING, 512);
    void *lua_big = alloc_malloc(ALLOC_SUB_SCRIPTING, 1 << 20);
    assert_true(arena_allocated(sc) - sc_before >= (size_t)1 << 20);
    assert_true(arena_allocated(ks) - ks_before < (size_t)N * 1024 + ((size_t)1 << 19));
    for (int i = 0; i < N; i++)
        lua[i] = alloc_realloc_sized(ALLOC_SUB_SCRIPTING, lua[i], 512, 40);
    for (int i = 0; i < N; i++)
        alloc_free_sized(ALLOC_SUB_SCRIPTING, lua[i], 40);
    alloc_free(ALLOC_SUB_SCRIPTING, lua_big);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SCRIPTING), 0);
    /* The key space's bytes are in its arena (the tcache holds at most a few hundred KiB). */
    assert_true(arena_allocated(ks) - ks_before >= (size_t)N * 1024 / 2);
    assert_true(arena_allocated(cl) - cl_before >= (size_t)1 << 20);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS) - sub_before, (int64_t)N * 1024);
    for (int i = 0; i < N; i += 2)
        alloc_free(ALLOC_SUB_STRINGS, p[i]);
    for (int i = 1; i < N; i += 2)
        p[i] = alloc_realloc_sized(ALLOC_SUB_STRINGS, p[i], 1000, 3000);
    for (int i = 1; i < N; i += 2)
        alloc_free_sized(ALLOC_SUB_STRINGS, p[i], 3000);
    alloc_free(ALLOC_SUB_OUTPUT_BUF, q);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS), sub_before);
    /* Another thread allocating key-space memory uses the default arenas, safely. */
    static void *ptrs[1000];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, alloc_on_thread, ptrs), 0);
    pthread_join(t, NULL);
    for (int i = 0; i < 1000; i++)
        alloc_free(ALLOC_SUB_HTTP, ptrs[i]);
#else
    assert_int_equal(alloc_arenas_enable(), -1);
    assert_int_equal(alloc_arena_index(ALLOC_ARENA_KEYSPACE, &ks), 0);
    assert_int_equal(alloc_arena_index(ALLOC_ARENA_SCRIPTING, &sc), 0);
    (void)cl;
#endif
    assert_string_equal(alloc_arena_group_name(ALLOC_ARENA_KEYSPACE), "keyspace");
    assert_string_equal(alloc_arena_group_name(ALLOC_ARENA_CLIENTS), "clients");
    assert_string_equal(alloc_arena_group_name(ALLOC_ARENA_SCRIPTING), "scripting");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_usable_sizes),
        cmocka_unit_test(test_strndup_and_names),
        cmocka_unit_test(test_cross_thread),
        cmocka_unit_test(test_arenas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
