#include "db/dict.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The dict's bytes must be exactly what its subsystem's counter grew by. Each test uses its
 * own subsystem for nothing else, so the counter's growth is the dict's. */
static void check_bytes(const dict *d, alloc_sub sub, int64_t base) {
    assert_int_equal(alloc_sub_bytes(sub) - base, (int64_t)dict_mem_usage(d));
}

static size_t key_of(char *buf, size_t cap, long i) {
    return (size_t)snprintf(buf, cap, "key:%ld", i);
}

/* The number after the first ':' of an entry's key (keys are not NUL-terminated). */
static long key_index(const dict_entry *e) {
    size_t kl;
    const unsigned char *k = dict_key(e, &kl);
    char buf[64];
    if (kl >= sizeof(buf)) return -1;
    memcpy(buf, k, kl);
    buf[kl] = '\0';
    const char *colon = strchr(buf, ':');
    return colon ? strtol(colon + 1, NULL, 10) : -1;
}

static dict_entry *find_s(dict *d, const char *k) {
    return dict_find(d, k, strlen(k));
}

static void assert_str_value(dict *d, const char *k, const void *v, size_t vlen) {
    dict_entry *e = find_s(d, k);
    assert_non_null(e);
    size_t klen, got;
    const unsigned char *key = dict_key(e, &klen);
    assert_int_equal(klen, strlen(k));
    assert_memory_equal(key, k, klen);
    const unsigned char *val = dict_str(e, &got);
    assert_int_equal(got, vlen);
    if (vlen) assert_memory_equal(val, v, vlen);
}

static void test_kinds(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_SETS);
    int added;

    dict *keys = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
    assert_int_equal(dict_size(keys), 0);
    assert_null(find_s(keys, "a"));
    assert_int_equal(dict_delete(keys, "a", 1), 0);
    dict_entry *e = dict_add(keys, "a", 1, &added);
    assert_int_equal(added, 1);
    assert_ptr_equal(dict_add(keys, "a", 1, &added), e);
    assert_int_equal(added, 0);
    assert_ptr_equal(find_s(keys, "a"), e);
    dict_add(keys, "", 0, &added); /* the empty member */
    assert_int_equal(added, 1);
    const char bin[] = {'x', '\0', 'y'};
    dict_add(keys, bin, sizeof(bin), NULL);
    assert_non_null(dict_find(keys, bin, sizeof(bin)));
    assert_null(dict_find(keys, bin, 1)); /* "x" is a prefix, not the member */
    assert_int_equal(dict_size(keys), 3);
    check_bytes(keys, ALLOC_SUB_SETS, base);
    assert_int_equal(dict_delete(keys, "", 0), 1);
    assert_int_equal(dict_delete(keys, "", 0), 0);
    assert_int_equal(dict_size(keys), 2);
    check_bytes(keys, ALLOC_SUB_SETS, base);
    dict_free(keys);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SETS), base);

    dict *str = dict_new(ALLOC_SUB_SETS, DICT_STRING);
    e = dict_add(str, "f", 1, &added);
    size_t vlen = 99;
    dict_str(e, &vlen);
    assert_int_equal(vlen, 0); /* a new entry's value is empty */
    e = dict_set_str(str, e, "hello", 5);
    assert_str_value(str, "f", "hello", 5);
    dict_free(str);

    dict *dbl = dict_new(ALLOC_SUB_SETS, DICT_DOUBLE);
    for (long i = 0; i < 100; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        e = dict_add(dbl, k, kl, &added);
        assert_true(dict_double(e) == 0.0);
        dict_set_double(e, (double)i / 3.0);
    }
    for (long i = 0; i < 100; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        e = dict_find(dbl, k, kl);
        assert_non_null(e);
        assert_true(dict_double(e) == (double)i / 3.0);
    }
    check_bytes(dbl, ALLOC_SUB_SETS, base);
    dict_free(dbl);

    dict *ptr = dict_new(ALLOC_SUB_SETS, DICT_PTR);
    static int targets[50];
    for (long i = 0; i < 50; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        e = dict_add(ptr, k, kl, NULL);
        assert_null(dict_ptr(e));
        dict_set_ptr(e, &targets[i]);
    }
    for (long i = 0; i < 50; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        assert_ptr_equal(dict_ptr(dict_find(ptr, k, kl)), &targets[i]);
    }
    dict_free(ptr);
    dict_free(NULL);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SETS), base);
}

/* Values that grow and shrink across size classes move their entry: every entry stays
 * reachable, including those chained behind a moved one and during a rehash. */
static void test_set_str_moves(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    dict *d = dict_new(ALLOC_SUB_HASHES, DICT_STRING);
    enum { N = 300 };
    static char big[5000];
    memset(big, 'v', sizeof(big));
    size_t lens[] = {0, 1, 3, 4, 5, 11, 12, 20, 64, 65, 200, 4999, 7, 0, 5000, 2};
    for (long i = 0; i < N; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        dict_entry *e = dict_add(d, k, kl, NULL);
        e = dict_set_str(d, e, big, lens[i % 16]);
        size_t got;
        dict_str(e, &got);
        assert_int_equal(got, lens[i % 16]);
    }
    check_bytes(d, ALLOC_SUB_HASHES, base);
    for (int round = 1; round < 16; round++) {
        for (long i = 0; i < N; i++) {
            char k[32];
            size_t kl = key_of(k, sizeof(k), i);
            dict_entry *e = dict_find(d, k, kl);
            assert_non_null(e);
            size_t len = lens[(i + round) % 16];
            big[0] = (char)('a' + round); /* the bytes change, not just the length */
            e = dict_set_str(d, e, big, len);
            size_t kl2, got;
            assert_memory_equal(dict_key(e, &kl2), k, kl);
            assert_memory_equal(dict_str(e, &got), big, len);
            assert_int_equal(got, len);
        }
        for (long i = 0; i < N; i++) {
            char k[32];
            key_of(k, sizeof(k), i);
            big[0] = (char)('a' + round);
            assert_str_value(d, k, big, lens[(i + round) % 16]);
        }
        check_bytes(d, ALLOC_SUB_HASHES, base);
    }
    assert_int_equal(dict_size(d), N);
    dict_free(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
}

static void test_iter_delete(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_SETS);
    enum { N = 1000 };
    static unsigned char seen[N];
    dict *d = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
    dict_iter it;
    dict_iter_init(d, &it);
    assert_null(dict_iter_next(&it)); /* empty, no table yet */

    /* Sizes that leave a rehash in progress at various points. */
    for (long n = 1; n <= N; n = n * 3 + 1) {
        for (long i = 0; i < n; i++) {
            char k[32];
            size_t kl = key_of(k, sizeof(k), i);
            dict_add(d, k, kl, NULL);
        }
        memset(seen, 0, sizeof(seen));
        size_t count = 0;
        dict_iter_init(d, &it);
        for (dict_entry *e; (e = dict_iter_next(&it));) {
            long i = key_index(e);
            assert_true(i >= 0 && i < n);
            if (i < 0 || i >= N) continue; /* not reached; gcc cannot tell cmocka's fail ends */
            assert_int_equal(seen[i], 0);
            seen[i] = 1;
            count++;
            if (i % 2) dict_iter_delete(&it); /* odd ones go */
        }
        assert_int_equal(count, (size_t)n);
        assert_int_equal(dict_size(d), (size_t)(n + 1) / 2);
        check_bytes(d, ALLOC_SUB_SETS, base);
        for (long i = 0; i < n; i++) {
            char k[32];
            size_t kl = key_of(k, sizeof(k), i);
            assert_int_equal(dict_find(d, k, kl) != NULL, i % 2 == 0);
        }
        /* Now everything goes, through the iterator. */
        dict_iter_init(d, &it);
        count = 0;
        for (dict_entry *e; (e = dict_iter_next(&it));) {
            dict_iter_delete(&it);
            dict_iter_delete(&it); /* twice is harmless: nothing current any more */
            count++;
        }
        assert_int_equal(count, (size_t)(n + 1) / 2);
        assert_int_equal(dict_size(d), 0);
        check_bytes(d, ALLOC_SUB_SETS, base);
        uint64_t rng = 1;
        assert_null(dict_random(d, &rng));
    }
    dict_free(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SETS), base);
}

/* ---- scan ------------------------------------------------------------------------------- */

typedef struct scan_ctx {
    unsigned char *hits;
    long n;
} scan_ctx;

static void scan_cb(void *ctx, const dict_entry *e) {
    scan_ctx *c = ctx;
    size_t kl;
    const unsigned char *k = dict_key(e, &kl);
    if (kl > 4 && k[0] == 's') { /* "stay:<i>" */
        long i = key_index(e);
        if (i >= 0 && i < c->n && c->hits[i] < 255) c->hits[i]++;
    }
}

static void churn_key(char *buf, size_t cap, long i, size_t *kl) {
    *kl = (size_t)snprintf(buf, cap, "churn:%ld", i);
}

static void test_scan_across_resizes(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    enum { STAY = 500, CHURN = 20000 };
    static unsigned char hits[STAY];
    uint64_t rng = 42;
    for (int pattern = 0; pattern < 4; pattern++) {
        dict *d = dict_new(ALLOC_SUB_ZSETS, DICT_DOUBLE);
        for (long i = 0; i < STAY; i++) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof(k), "stay:%ld", i);
            dict_add(d, k, kl, NULL);
        }
        /* pattern 0: no churn; 1: grows during the scan; 2: grows then shrinks; 3: random. */
        long churned = 0;
        if (pattern == 2) {
            for (; churned < CHURN; churned++) {
                char k[32];
                size_t kl;
                churn_key(k, sizeof(k), churned, &kl);
                dict_add(d, k, kl, NULL);
            }
        }
        memset(hits, 0, sizeof(hits));
        scan_ctx ctx = {hits, STAY};
        uint64_t cursor = 0;
        int calls = 0;
        do {
            cursor = dict_scan(d, cursor, 7, scan_cb, &ctx);
            calls++;
            if (pattern == 1) {
                for (int j = 0; j < 200 && churned < CHURN; j++, churned++) {
                    char k[32];
                    size_t kl;
                    churn_key(k, sizeof(k), churned, &kl);
                    dict_add(d, k, kl, NULL);
                }
            } else if (pattern == 2) {
                for (int j = 0; j < 600 && churned > 0; j++) {
                    char k[32];
                    size_t kl;
                    churn_key(k, sizeof(k), --churned, &kl);
                    assert_int_equal(dict_delete(d, k, kl), 1);
                }
            } else if (pattern == 3) {
                for (int j = 0; j < 50; j++) {
                    char k[32];
                    size_t kl;
                    churn_key(k, sizeof(k), (long)(rng % 3000), &kl);
                    rng = rng * 6364136223846793005u + 1442695040888963407u;
                    if ((rng >> 33) % 3 == 0)
                        dict_delete(d, k, kl);
                    else
                        dict_add(d, k, kl, NULL);
                    rng = rng * 6364136223846793005u + 1442695040888963407u;
                }
            }
            assert_true(calls < 100000);
        } while (cursor != 0);
        for (long i = 0; i < STAY; i++)
            assert_true(hits[i] >= 1);
        if (pattern == 0) /* no resize: exactly once */
            for (long i = 0; i < STAY; i++)
                assert_int_equal(hits[i], 1);
        check_bytes(d, ALLOC_SUB_ZSETS, base);
        dict_free(d);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
    }
}

static void test_scan_count_and_empty(void **state) {
    (void)state;
    dict *d = dict_new(ALLOC_SUB_OTHER, DICT_KEYS);
    assert_int_equal(dict_scan(d, 0, 10, scan_cb, NULL), 0);
    static unsigned char hits[100];
    scan_ctx ctx = {hits, 100};
    for (long i = 0; i < 100; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof(k), "stay:%ld", i);
        dict_add(d, k, kl, NULL);
    }
    /* A huge COUNT returns everything in one call; COUNT 0 still makes progress. */
    assert_int_equal(dict_scan(d, 0, SIZE_MAX, scan_cb, &ctx), 0);
    for (long i = 0; i < 100; i++)
        assert_int_equal(hits[i], 1);
    memset(hits, 0, sizeof(hits));
    uint64_t c = 0;
    int calls = 0;
    do {
        c = dict_scan(d, c, 0, scan_cb, &ctx);
        calls++;
    } while (c != 0);
    assert_true(calls > 1);
    for (long i = 0; i < 100; i++)
        assert_int_equal(hits[i], 1);
    dict_free(d);
}

/* ---- random, dup, reserve --------------------------------------------------------------- */

static void test_random(void **state) {
    (void)state;
    enum { N = 200 };
    static unsigned hits[N];
    dict *d = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
    uint64_t rng = 7;
    assert_null(dict_random(d, &rng));
    dict_add(d, "only", 4, NULL);
    for (int i = 0; i < 10; i++) {
        size_t kl;
        const unsigned char *k = dict_key(dict_random(d, &rng), &kl);
        assert_int_equal(kl, 4);
        assert_memory_equal(k, "only", 4);
    }
    dict_delete(d, "only", 4);
    for (long i = 0; i < N; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        dict_add(d, k, kl, NULL);
    }
    for (int i = 0; i < N * 100; i++) {
        dict_entry *e = dict_random(d, &rng);
        assert_non_null(e);
        long idx = key_index(e);
        assert_true(idx >= 0 && idx < N);
        hits[idx]++;
    }
    for (long i = 0; i < N; i++) /* every element, roughly fairly (100 expected) */
        assert_true(hits[i] > 10 && hits[i] < 400);

    /* A big table left nearly empty by the iterator (which never shrinks) still answers. */
    for (long i = N; i < 20000; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        dict_add(d, k, kl, NULL);
    }
    dict_iter it;
    dict_iter_init(d, &it);
    for (dict_entry *e; (e = dict_iter_next(&it));) {
        size_t kl;
        const unsigned char *k = dict_key(e, &kl);
        if (!(kl == 8 && memcmp(k, "key:1234", 8) == 0)) dict_iter_delete(&it);
    }
    assert_int_equal(dict_size(d), 1);
    for (int i = 0; i < 20; i++)
        assert_memory_equal(dict_key(dict_random(d, &rng), NULL), "key:1234", 8);
    dict_free(d);
}

static void test_dup(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    dict *d = dict_new(ALLOC_SUB_HASHES, DICT_STRING);
    static char pattern[90];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (char)('0' + i % 40);
    dict *empty = dict_dup(d);
    assert_int_equal(dict_size(empty), 0);
    dict_free(empty);
    for (long n = 0; n < 3000; n++) { /* stop at odd sizes, rehashing or not */
        char k[32];
        size_t kl = key_of(k, sizeof(k), n);
        dict_entry *e = dict_add(d, k, kl, NULL);
        dict_set_str(d, e, pattern, (size_t)n % 90);
        if (n % 377 != 0) continue;
        int64_t before = alloc_sub_bytes(ALLOC_SUB_HASHES);
        dict *c = dict_dup(d);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES) - before, (int64_t)dict_mem_usage(c));
        assert_int_equal(dict_size(c), dict_size(d));
        for (long i = 0; i <= n; i++) {
            char k2[32];
            size_t kl2 = key_of(k2, sizeof(k2), i);
            dict_entry *x = dict_find(c, k2, kl2);
            assert_non_null(x);
            size_t vl;
            const unsigned char *v = dict_str(x, &vl);
            assert_int_equal(vl, (size_t)i % 90);
            assert_memory_equal(v, pattern, vl);
        }
        /* Independent: changing the copy leaves the original alone. */
        dict_delete(c, "key:0", 5);
        dict_set_str(c, dict_add(c, "new", 3, NULL), "x", 1);
        assert_non_null(find_s(d, "key:0"));
        assert_null(find_s(d, "new"));
        dict_free(c);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), before);
    }
    dict_free(d);

    dict *z = dict_new(ALLOC_SUB_HASHES, DICT_DOUBLE);
    dict_set_double(dict_add(z, "m", 1, NULL), -2.5);
    dict *zc = dict_dup(z);
    assert_true(dict_double(find_s(zc, "m")) == -2.5);
    dict_free(z);
    dict_free(zc);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
}

/* After reserve(n), adding n elements allocates the entries and nothing else. */
static void test_reserve(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_SETS);
    size_t sizes[] = {1, 4, 5, 100, 128, 129, 1000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        dict *d = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
        dict_reserve(d, n);
        check_bytes(d, ALLOC_SUB_SETS, base);
        size_t tables = dict_mem_usage(d);
        size_t entries = 0;
        for (size_t i = 0; i < n; i++) {
            char k[32];
            size_t kl = key_of(k, sizeof(k), (long)i);
            dict_entry *e = dict_add(d, k, kl, NULL);
            entries += alloc_usable_size(e);
        }
        assert_int_equal(dict_mem_usage(d), tables + entries);
        check_bytes(d, ALLOC_SUB_SETS, base);
        /* reserve on a full dict (and smaller than it holds) keeps every element */
        dict_reserve(d, n / 2);
        dict_reserve(d, n * 3);
        assert_int_equal(dict_size(d), n);
        for (size_t i = 0; i < n; i++) {
            char k[32];
            size_t kl = key_of(k, sizeof(k), (long)i);
            assert_non_null(dict_find(d, k, kl));
        }
        check_bytes(d, ALLOC_SUB_SETS, base);
        dict_free(d);
    }
    /* Reserving room for more than a dict holds: the room stays until it is used. */
    dict *d = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
    for (long i = 0; i < 10; i++) {
        char k[32];
        dict_add(d, k, key_of(k, sizeof(k), i), NULL);
    }
    dict_reserve(d, 1000);
    size_t before = dict_mem_usage(d), entries = 0;
    for (long i = 10; i < 1000; i++) {
        char k[32];
        entries += alloc_usable_size(dict_add(d, k, key_of(k, sizeof(k), i), NULL));
    }
    assert_int_equal(dict_mem_usage(d), before + entries);
    assert_int_equal(dict_size(d), 1000);
    check_bytes(d, ALLOC_SUB_SETS, base);
    dict_free(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SETS), base);
}

/* Entries cost their header, key and value in one block: a small field/value pair fits 32
 * bytes, a short set member 16 or 32 (jemalloc's classes step by 16). */
static void test_entry_size(void **state) {
    (void)state;
    dict *h = dict_new(ALLOC_SUB_HASHES, DICT_STRING);
    dict_entry *e = dict_set_str(h, dict_add(h, "field1", 6, NULL), "value1", 6);
    assert_true(alloc_usable_size(e) <= 32);
    dict *s = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
    assert_true(alloc_usable_size(dict_add(s, "abcd", 4, NULL)) <= 16);
    assert_true(alloc_usable_size(dict_add(s, "member:123", 10, NULL)) <= 32);
    dict_free(h);
    dict_free(s);
}

/* ---- random operations against a model ------------------------------------------------- */

enum { MODEL_KEYS = 2000 };

typedef struct model {
    int present[MODEL_KEYS];
    size_t vlen[MODEL_KEYS];
    unsigned char fill[MODEL_KEYS];
} model;

static uint64_t xs(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_model(dict *d, const model *m) {
    static unsigned char buf[400];
    size_t n = 0;
    for (long i = 0; i < MODEL_KEYS; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        dict_entry *e = dict_find(d, k, kl);
        assert_int_equal(e != NULL, m->present[i]);
        if (!e) continue;
        n++;
        size_t vl;
        const unsigned char *v = dict_str(e, &vl);
        assert_int_equal(vl, m->vlen[i]);
        memset(buf, m->fill[i], vl);
        if (vl) assert_memory_equal(v, buf, vl);
    }
    assert_int_equal(dict_size(d), n);
    /* The iterator sees the same set. */
    size_t it_n = 0;
    dict_iter it;
    dict_iter_init(d, &it);
    while (dict_iter_next(&it))
        it_n++;
    assert_int_equal(it_n, n);
}

static void test_model(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    static model m;
    static unsigned char buf[400];
    memset(&m, 0, sizeof(m));
    dict *d = dict_new(ALLOC_SUB_HASHES, DICT_STRING);
    uint64_t s = 88172645463325252u, rng = 3;
    for (int step = 0; step < 200000; step++) {
        /* Phases that favour adds, then deletes, so the table grows and shrinks. */
        int adding = (step / 20000) % 2 == 0;
        long i = (long)(xs(&s) % MODEL_KEYS);
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        unsigned op = (unsigned)(xs(&s) % 10);
        if (op < (adding ? 6u : 2u)) { /* add or set */
            int added;
            dict_entry *e = dict_add(d, k, kl, &added);
            assert_int_equal(added, !m.present[i]);
            size_t vl = (size_t)(xs(&s) % 4 == 0 ? xs(&s) % 400 : xs(&s) % 20);
            unsigned char f = (unsigned char)xs(&s);
            memset(buf, f, vl);
            dict_set_str(d, e, buf, vl);
            m.present[i] = 1;
            m.vlen[i] = vl;
            m.fill[i] = f;
        } else if (op < 9) { /* delete */
            assert_int_equal(dict_delete(d, k, kl), m.present[i]);
            m.present[i] = 0;
        } else if (op == 9) { /* find, random */
            assert_int_equal(dict_find(d, k, kl) != NULL, m.present[i]);
            dict_entry *r = dict_random(d, &rng);
            if (!r) {
                assert_int_equal(dict_size(d), 0);
            } else {
                long ri = key_index(r);
                assert_true(m.present[ri]);
            }
        }
        if (step % 5000 == 0) {
            check_model(d, &m);
            check_bytes(d, ALLOC_SUB_HASHES, base);
        }
    }
    check_model(d, &m);
    check_bytes(d, ALLOC_SUB_HASHES, base);
    dict_free(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
}

/* Shrinking: a table emptied down to a few elements gives its buckets back. */
static void test_shrink(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_SETS);
    dict *d = dict_new(ALLOC_SUB_SETS, DICT_KEYS);
    dict_add(d, "x", 1, NULL);
    size_t small = dict_mem_usage(d);
    for (long i = 0; i < 50000; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        dict_add(d, k, kl, NULL);
    }
    assert_true(dict_mem_usage(d) > small + 50000 * 8);
    for (long i = 0; i < 50000; i++) {
        char k[32];
        size_t kl = key_of(k, sizeof(k), i);
        assert_int_equal(dict_delete(d, k, kl), 1);
    }
    for (int i = 0; i < 100; i++) /* finish any rehash with lookups */
        assert_non_null(find_s(d, "x"));
    assert_int_equal(dict_mem_usage(d), small);
    check_bytes(d, ALLOC_SUB_SETS, base);
    dict_free(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SETS), base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_set_str_moves),
        cmocka_unit_test(test_iter_delete),
        cmocka_unit_test(test_scan_across_resizes),
        cmocka_unit_test(test_scan_count_and_empty),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_dup),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_entry_size),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_shrink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
