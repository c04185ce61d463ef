#include "db/t_hash.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const hash_limits DEFAULTS = {512, 64}; /* Redis 7.0's defaults */

static void check_bytes(const hash_value *h, int64_t base) {
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES) - base, (int64_t)hash_mem_usage(h));
}

static int set_s(hash_value *h, const hash_limits *lim, const char *f, const char *v) {
    return hash_set(h, lim, f, strlen(f), v, strlen(v));
}

static void assert_field(hash_value *h, const char *f, const char *want) {
    hash_str v;
    unsigned char buf[LP_INTBUF];
    if (!want) {
        assert_int_equal(hash_get(h, f, strlen(f), &v, buf), 0);
        assert_int_equal(hash_exists(h, f, strlen(f)), 0);
        return;
    }
    assert_int_equal(hash_get(h, f, strlen(f), &v, buf), 1);
    assert_int_equal(hash_exists(h, f, strlen(f)), 1);
    assert_int_equal(v.len, strlen(want));
    if (v.len) assert_memory_equal(v.p, want, v.len);
}

/* Fields in iteration order, "f=v,f=v". */
static void order_of(hash_value *h, char *out, size_t cap) {
    hash_iter it;
    hash_str f, v;
    size_t n = 0;
    out[0] = '\0';
    hash_iter_init(h, &it);
    while (hash_iter_next(&it, &f, &v)) {
        int w = snprintf(out + n, cap - n, "%s%.*s=%.*s", n ? "," : "", (int)f.len,
                         (const char *)f.p, (int)v.len, (const char *)v.p);
        assert_true(w > 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
}

static void test_listpack_basics(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    hash_value h;
    hash_init(&h);
    assert_int_equal(h.enc, DB_ENC_LISTPACK);
    assert_int_equal(hash_len(&h), 0);
    assert_field(&h, "a", NULL);
    assert_int_equal(hash_delete(&h, "a", 1), 0);
    check_bytes(&h, base);

    assert_int_equal(set_s(&h, &DEFAULTS, "a", "1"), 1);
    assert_int_equal(set_s(&h, &DEFAULTS, "b", "two"), 1);
    assert_int_equal(set_s(&h, &DEFAULTS, "12", "-3"), 1); /* integers as field and value */
    assert_int_equal(set_s(&h, &DEFAULTS, "", ""), 1);     /* empty field and value */
    assert_int_equal(set_s(&h, &DEFAULTS, "a", "one"), 0); /* update keeps its place */
    assert_int_equal(hash_len(&h), 4);
    char order[512];
    order_of(&h, order, sizeof(order));
    assert_string_equal(order, "a=one,b=two,12=-3,=");
    assert_field(&h, "a", "one");
    assert_field(&h, "12", "-3");
    assert_field(&h, "", "");
    assert_field(&h, "1", NULL);
    /* Values that look like integers come back byte for byte. */
    const char *ints[] = {"0",
                          "-1",
                          "127",
                          "128",
                          "-4096",
                          "32767",
                          "-32768",
                          "8388607",
                          "2147483647",
                          "-2147483648",
                          "9223372036854775807",
                          "-9223372036854775808",
                          "007",
                          "+1",
                          "1.0",
                          "18446744073709551616"};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        set_s(&h, &DEFAULTS, "n", ints[i]);
        assert_field(&h, "n", ints[i]);
    }
    assert_int_equal(hash_delete(&h, "b", 1), 1);
    assert_int_equal(hash_delete(&h, "b", 1), 0);
    order_of(&h, order, sizeof(order));
    assert_string_equal(order, "a=one,12=-3,=,n=18446744073709551616");
    assert_int_equal(h.enc, DB_ENC_LISTPACK);
    check_bytes(&h, base);
    /* Delete the rest: the first, the last, the middle. */
    assert_int_equal(hash_delete(&h, "a", 1), 1);
    assert_int_equal(hash_delete(&h, "n", 1), 1);
    assert_int_equal(hash_delete(&h, "", 0), 1);
    assert_int_equal(hash_delete(&h, "12", 2), 1);
    assert_int_equal(hash_len(&h), 0);
    hash_free(&h);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
}

/* hash-max-listpack-entries: N fields stay a listpack, the N+1-th converts, with every pair
 * kept; a hashtable never goes back. */
static void test_entries_threshold(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    size_t limits[] = {0, 1, 2, 5, 128};
    for (size_t li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
        hash_limits lim = {limits[li], 64};
        hash_value h;
        hash_init(&h);
        char f[32], v[32];
        for (size_t i = 0; i < lim.max_entries; i++) {
            snprintf(f, sizeof(f), "f%zu", i);
            snprintf(v, sizeof(v), "%zu", i * 1000);
            assert_int_equal(set_s(&h, &lim, f, v), 1);
            assert_int_equal(h.enc, DB_ENC_LISTPACK);
        }
        /* Updating a field at the limit does not convert. */
        if (lim.max_entries) {
            set_s(&h, &lim, "f0", "0");
            assert_int_equal(h.enc, DB_ENC_LISTPACK);
        }
        snprintf(f, sizeof(f), "f%zu", lim.max_entries);
        snprintf(v, sizeof(v), "%zu", lim.max_entries * 1000);
        assert_int_equal(set_s(&h, &lim, f, v), 1);
        assert_int_equal(h.enc, DB_ENC_HASHTABLE);
        assert_int_equal(hash_len(&h), lim.max_entries + 1);
        for (size_t i = 0; i <= lim.max_entries; i++) {
            snprintf(f, sizeof(f), "f%zu", i);
            snprintf(v, sizeof(v), "%zu", i * 1000);
            assert_field(&h, f, v);
        }
        check_bytes(&h, base);
        for (size_t i = 1; i <= lim.max_entries; i++) { /* down to one field: still a table */
            snprintf(f, sizeof(f), "f%zu", i);
            assert_int_equal(hash_delete(&h, f, strlen(f)), 1);
        }
        assert_int_equal(hash_len(&h), 1);
        assert_int_equal(h.enc, DB_ENC_HASHTABLE);
        check_bytes(&h, base);
        hash_free(&h);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
    }
}

/* hash-max-listpack-value: a field or value of exactly max_value bytes stays, one more byte
 * converts — through hash_set (HINCRBY* results) and hash_try_conversion (HSET arguments). */
static void test_value_threshold(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    static char big[200];
    memset(big, 'x', sizeof(big));
    size_t maxes[] = {0, 1, 4, 64};
    for (size_t mi = 0; mi < sizeof(maxes) / sizeof(maxes[0]); mi++) {
        hash_limits lim = {128, maxes[mi]};
        size_t m = lim.max_value;
        for (int which = 0; which < 4; which++) {
            hash_value h;
            hash_init(&h);
            /* which: 0 value via set, 1 field via set, 2 value via try_conversion,
             * 3 field via try_conversion */
            const char *f = which % 2 ? big : "f";
            size_t flen_at = which % 2 ? m : 1;
            const char *v = which % 2 ? "v" : big;
            size_t vlen_at = which % 2 ? 1 : m;
            if (m == 0) { /* nothing non-empty fits: use empty strings at the limit */
                flen_at = which % 2 ? 0 : 0;
                vlen_at = 0;
            }
            if (which >= 2) {
                size_t longest = flen_at > vlen_at ? flen_at : vlen_at;
                hash_try_conversion(&h, &lim, longest, flen_at + vlen_at);
                assert_int_equal(h.enc, DB_ENC_LISTPACK);
            }
            hash_set(&h, &lim, f, flen_at, v, vlen_at);
            assert_int_equal(h.enc, DB_ENC_LISTPACK);
            /* one byte over */
            size_t fl = which % 2 ? m + 1 : 2, vl = which % 2 ? 1 : m + 1;
            const char *f2 = which % 2 ? big : "f2";
            if (which >= 2) {
                hash_try_conversion(&h, &lim, m + 1, fl + vl);
                assert_int_equal(h.enc, DB_ENC_HASHTABLE);
            } else {
                hash_set(&h, &lim, f2, fl, v, vl);
                assert_int_equal(h.enc, DB_ENC_HASHTABLE);
            }
            hash_str got;
            unsigned char buf[LP_INTBUF];
            assert_int_equal(hash_get(&h, f, flen_at, &got, buf), 1);
            assert_int_equal(got.len, vlen_at);
            check_bytes(&h, base);
            hash_free(&h);
        }
    }
    /* Replacing a small value with a long one converts too (HINCRBYFLOAT's long results). */
    hash_limits lim = {128, 4};
    hash_value h;
    hash_init(&h);
    set_s(&h, &lim, "a", "1");
    set_s(&h, &lim, "b", "1234");
    assert_int_equal(h.enc, DB_ENC_LISTPACK);
    assert_int_equal(set_s(&h, &lim, "a", "12345"), 0);
    assert_int_equal(h.enc, DB_ENC_HASHTABLE);
    assert_field(&h, "a", "12345");
    assert_field(&h, "b", "1234");
    hash_free(&h);
    /* The listpack's 1 GB safety limit. */
    hash_init(&h);
    hash_limits huge = {128, SIZE_MAX};
    hash_try_conversion(&h, &huge, 100, (size_t)1 << 30);
    assert_int_equal(h.enc, DB_ENC_HASHTABLE);
    hash_free(&h);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
}

static void fill(hash_value *h, const hash_limits *lim, size_t n) {
    char f[32], v[80];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "field:%zu", i);
        int w = snprintf(v, sizeof(v), "%zu", i % 7 == 0 ? i * 1000003 : i);
        if (i % 5 == 0) memset(v + w, 'p', 70 - (size_t)w), v[70] = '\0'; /* > 64 bytes */
        hash_set(h, lim, f, strlen(f), v, strlen(v));
    }
}

typedef struct seen_ctx {
    hash_value *h;
    unsigned char *hits;
    size_t n;
} seen_ctx;

static void mark(seen_ctx *s, hash_pair pr) {
    hash_str f, v;
    hash_pair_bufs b;
    hash_pair_get(s->h, pr, &f, &v, &b);
    char buf[64];
    assert_true(f.len < sizeof(buf));
    memcpy(buf, f.p, f.len);
    buf[f.len] = '\0';
    size_t i = (size_t)strtoul(buf + 6, NULL, 10);
    assert_true(i < s->n);
    if (s->hits[i] < 255) s->hits[i]++;
}

static void scan_cb(void *ctx, hash_pair pr) {
    mark(ctx, pr);
}

static void test_iterate_scan_random_dup(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    static unsigned char hits[300];
    static hash_pair pairs[300];
    hash_limits lim = {128, 1000};
    size_t sizes[] = {1, 2, 100, 128, 129, 300};
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t n = sizes[si];
        hash_value h;
        hash_init(&h);
        fill(&h, &lim, n);
        assert_int_equal(h.enc, n > 128 ? DB_ENC_HASHTABLE : DB_ENC_LISTPACK);
        seen_ctx s = {&h, hits, n};

        memset(hits, 0, sizeof(hits));
        assert_int_equal(hash_pairs(&h, pairs), n);
        for (size_t i = 0; i < n; i++)
            mark(&s, pairs[i]);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(hits[i], 1);

        memset(hits, 0, sizeof(hits));
        uint64_t cursor = 0;
        int calls = 0;
        do {
            cursor = hash_scan(&h, cursor, 5, scan_cb, &s);
            calls++;
        } while (cursor != 0);
        if (h.enc == DB_ENC_LISTPACK) assert_int_equal(calls, 1); /* all at once */
        for (size_t i = 0; i < n; i++)
            assert_int_equal(hits[i], 1);

        memset(hits, 0, sizeof(hits));
        uint64_t rng = 99;
        for (size_t i = 0; i < n * 60; i++)
            mark(&s, hash_random_pair(&h, &rng));
        for (size_t i = 0; i < n; i++) /* everyone picked; 60 expected */
            assert_true(hits[i] > 0);

        /* dup: same pairs, same encoding, own memory, exact accounting */
        int64_t before = alloc_sub_bytes(ALLOC_SUB_HASHES);
        hash_value c;
        hash_dup(&h, &c);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES) - before, (int64_t)hash_mem_usage(&c));
        assert_int_equal(c.enc, h.enc);
        assert_int_equal(hash_len(&c), n);
        hash_iter it;
        hash_str f, v;
        hash_iter_init(&h, &it);
        while (hash_iter_next(&it, &f, &v)) {
            hash_str cv;
            unsigned char buf[LP_INTBUF];
            assert_int_equal(hash_get(&c, f.p, f.len, &cv, buf), 1);
            assert_int_equal(cv.len, v.len);
            assert_memory_equal(cv.p, v.p, v.len);
        }
        hash_delete(&c, "field:0", 7);
        assert_int_equal(hash_exists(&h, "field:0", 7), 1);
        hash_free(&c);

        /* the db's operations */
        void *p2 = hash_type_ops.dup(h.ptr, h.enc);
        assert_int_equal(hash_type_ops.mem_usage(p2, h.enc, 0), hash_mem_usage(&h));
        assert_int_equal(hash_type_ops.mem_usage(p2, h.enc, 5), hash_mem_usage(&h));
        hash_type_ops.free(p2, h.enc);

        check_bytes(&h, base);
        hash_free(&h);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
    }
}

/* ---- random operations against a model, with small random limits ---------------------- */

enum { MODEL_FIELDS = 40 };

typedef struct model {
    int present[MODEL_FIELDS];
    char val[MODEL_FIELDS][100];
    size_t order[MODEL_FIELDS]; /* insertion order of present fields */
    size_t norder;
} model;

static uint64_t xs(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_model(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    static model m;
    uint64_t s = 0x2545f4914f6cdd1du;
    for (int round = 0; round < 40; round++) {
        memset(&m, 0, sizeof(m));
        hash_limits lim = {(size_t)(xs(&s) % 20), (size_t)(xs(&s) % 30)};
        hash_value h;
        hash_init(&h);
        int was_table = 0;
        for (int step = 0; step < 400; step++) {
            size_t i = (size_t)(xs(&s) % MODEL_FIELDS);
            char f[16];
            snprintf(f, sizeof(f), "%zu", i * 3); /* integer fields */
            unsigned op = (unsigned)(xs(&s) % 3);
            if (op < 2) {
                char v[100];
                size_t vl = (size_t)(xs(&s) % 40);
                if (xs(&s) % 2)
                    vl = (size_t)snprintf(v, sizeof(v), "%lld",
                                          (long long)(xs(&s) >> 1) - (1LL << 62));
                else
                    memset(v, 'a' + (int)(xs(&s) % 26), vl), v[vl] = '\0';
                int added = hash_set(&h, &lim, f, strlen(f), v, vl);
                assert_int_equal(added, !m.present[i]);
                if (!m.present[i]) m.order[m.norder++] = i;
                m.present[i] = 1;
                memcpy(m.val[i], v, vl + 1);
                /* Converted exactly when the model says so. */
                if (vl > lim.max_value || strlen(f) > lim.max_value || m.norder > lim.max_entries)
                    was_table = 1;
            } else {
                assert_int_equal(hash_delete(&h, f, strlen(f)), m.present[i]);
                if (m.present[i]) {
                    size_t k = 0;
                    while (m.order[k] != i)
                        k++;
                    memmove(&m.order[k], &m.order[k + 1], (m.norder - k - 1) * sizeof(size_t));
                    m.norder--;
                }
                m.present[i] = 0;
            }
            assert_int_equal(h.enc, was_table ? DB_ENC_HASHTABLE : DB_ENC_LISTPACK);
            assert_int_equal(hash_len(&h), m.norder);
        }
        for (size_t i = 0; i < MODEL_FIELDS; i++) {
            char f[16];
            snprintf(f, sizeof(f), "%zu", i * 3);
            assert_field(&h, f, m.present[i] ? m.val[i] : NULL);
        }
        if (h.enc == DB_ENC_LISTPACK) { /* insertion order */
            hash_iter it;
            hash_str f, v;
            size_t k = 0;
            hash_iter_init(&h, &it);
            while (hash_iter_next(&it, &f, &v)) {
                char want[16];
                snprintf(want, sizeof(want), "%zu", m.order[k++] * 3);
                assert_int_equal(f.len, strlen(want));
                assert_memory_equal(f.p, want, f.len);
            }
            assert_int_equal(k, m.norder);
        }
        check_bytes(&h, base);
        hash_free(&h);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listpack_basics), cmocka_unit_test(test_entries_threshold),
        cmocka_unit_test(test_value_threshold), cmocka_unit_test(test_iterate_scan_random_dup),
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
