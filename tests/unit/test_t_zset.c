#include "db/t_zset.h"

#include "alloc/alloc.h"
#include "db/db.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const zset_limits LIM = {128, 64};

static int setup(void **state) {
    (void)state;
    uint8_t seed[16] = {1, 2, 3};
    db_set_hash_seed(seed);
    return 0;
}

static void add(zobj *z, double score, const char *m) {
    int out;
    assert_int_equal(zset_add(z, score, m, strlen(m), 0, &out, NULL, &LIM), 1);
}

/* The set's elements in order as "m:score " text. */
static void dump(const zobj *z, char *buf, size_t cap) {
    zset_iter it;
    const unsigned char *m;
    size_t len, off = 0;
    double s;
    buf[0] = '\0';
    for (zset_iter_at_rank(&it, z, 0, 0); zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it)) {
        char sb[ZSET_SCORE_BUF];
        size_t sl = zset_format_score(sb, s);
        off += (size_t)snprintf(buf + off, cap - off, "%.*s:%.*s ", (int)len, (const char *)m,
                                (int)sl, sb);
    }
}

static void test_format_and_parse(void **state) {
    (void)state;
    char b[ZSET_SCORE_BUF];
    struct {
        double v;
        const char *want;
    } f[] = {{1.1, "1.1000000000000001"},
             {3, "3"},
             {-0.0, "-0"},
             {INFINITY, "inf"},
             {-INFINITY, "-inf"},
             {1e300, "1.0000000000000001e+300"},
             {123456789012345678.0, "1.2345678901234568e+17"}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        size_t n = zset_format_score(b, f[i].v);
        assert_int_equal(n, strlen(f[i].want));
        assert_memory_equal(b, f[i].want, n);
    }
    double d;
    assert_int_equal(zset_parse_score("1.5", 3, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(zset_parse_score("+inf", 4, &d), 0);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(zset_parse_score("-Infinity", 9, &d), 0);
    assert_int_equal(zset_parse_score("0x10", 4, &d), 0);
    assert_true(d == 16);
    const char *bad[] = {"", " 1", "1 ", "nan", "abc", "1e400", "1e-400", "1e"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(zset_parse_score(bad[i], strlen(bad[i]), &d), -1);
    assert_int_equal(zset_parse_score("1\0", 2, &d), -1);
    int ex;
    assert_int_equal(zset_parse_range_end("(1.5", 4, &d, &ex), 0);
    assert_true(d == 1.5 && ex);
    assert_int_equal(zset_parse_range_end("", 0, &d, &ex), 0); /* strtod of "" is 0 */
    assert_true(d == 0 && !ex);
    assert_int_equal(zset_parse_range_end(" 2", 2, &d, &ex), 0);
    assert_int_equal(zset_parse_range_end("1e400", 5, &d, &ex), 0);
    assert_true(isinf(d));
    assert_int_equal(zset_parse_range_end("(nan", 4, &d, &ex), -1);
    assert_int_equal(zset_parse_range_end("1x", 2, &d, &ex), -1);
    zlex_bound lb;
    assert_int_equal(zset_parse_lex_end("-", 1, &lb), 0);
    assert_int_equal(lb.kind, ZLEX_MINUS);
    assert_int_equal(zset_parse_lex_end("+", 1, &lb), 0);
    assert_int_equal(lb.kind, ZLEX_PLUS);
    assert_int_equal(zset_parse_lex_end("(ab", 3, &lb), 0);
    assert_true(lb.kind == ZLEX_VALUE && lb.exclusive && lb.len == 2);
    assert_int_equal(zset_parse_lex_end("[", 1, &lb), 0);
    assert_true(lb.kind == ZLEX_VALUE && !lb.exclusive && lb.len == 0);
    assert_int_equal(zset_parse_lex_end("a", 1, &lb), -1);
    assert_int_equal(zset_parse_lex_end("", 0, &lb), -1);
    assert_int_equal(zset_parse_lex_end("+a", 2, &lb), -1);
}

/* Conversion exactly at the thresholds: 128 members stay a listpack, the 129th converts; a
 * 64-byte member stays, a 65-byte one converts. */
static void test_thresholds(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zobj z;
    zset_create(&z, 1, &LIM);
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    char m[80];
    for (int i = 0; i < 128; i++) {
        snprintf(m, sizeof(m), "m%03d", i);
        add(&z, i, m);
    }
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    assert_int_equal(zset_length(&z), 128);
    char before[8192], after[8192];
    dump(&z, before, sizeof(before));
    add(&z, 5, "m005"); /* update: no conversion */
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    add(&z, 200, "m128");
    assert_int_equal(z.enc, DB_ENC_SKIPLIST);
    assert_int_equal(zset_length(&z), 129);
    assert_int_equal(zset_del(&z, "m128", 4), 1);
    assert_int_equal(z.enc, DB_ENC_SKIPLIST); /* no shrinking back on delete */
    dump(&z, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base, zset_mem_usage(z.ptr, z.enc, 0));
    zset_shrink_if_fits(&z, &LIM);
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    dump(&z, after, sizeof(after));
    assert_string_equal(before, after);
    zset_free_value(z.ptr, z.enc);

    /* member length */
    memset(m, 'x', 65);
    zset_create(&z, 64, &LIM);
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    int out;
    zset_add(&z, 1, m, 64, 0, &out, NULL, &LIM);
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    zset_add(&z, 1, m, 65, 0, &out, NULL, &LIM);
    assert_int_equal(z.enc, DB_ENC_SKIPLIST);
    zset_shrink_if_fits(&z, &LIM); /* does not fit: a 65-byte member */
    assert_int_equal(z.enc, DB_ENC_SKIPLIST);
    zset_del(&z, m, 65);
    zset_shrink_if_fits(&z, &LIM);
    assert_int_equal(z.enc, DB_ENC_LISTPACK);
    zset_free_value(z.ptr, z.enc);
    zset_create(&z, 65, &LIM);
    assert_int_equal(z.enc, DB_ENC_SKIPLIST);
    zset_free_value(z.ptr, z.enc);
    zset_limits zero = {0, 64};
    zset_create(&z, 1, &zero);
    assert_int_equal(z.enc, DB_ENC_SKIPLIST);
    zset_free_value(z.ptr, z.enc);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
}

static void test_add_flags(void **state) {
    (void)state;
    for (int big = 0; big < 2; big++) {
        zobj z;
        zset_create(&z, 1, &LIM);
        if (big) zset_convert_to_skiplist(&z);
        int out;
        double ns;
        assert_int_equal(zset_add(&z, 1, "a", 1, ZADD_IN_XX, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_NOP);
        assert_int_equal(zset_add(&z, 1, "a", 1, ZADD_IN_NX, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_ADDED);
        assert_int_equal(zset_add(&z, 5, "a", 1, ZADD_IN_NX, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_NOP);
        assert_int_equal(zset_add(&z, 0, "a", 1, ZADD_IN_GT, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_NOP);
        assert_int_equal(zset_add(&z, 3, "a", 1, ZADD_IN_GT, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_UPDATED);
        assert_int_equal(zset_add(&z, 2, "a", 1, ZADD_IN_INCR | ZADD_IN_LT, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_NOP);
        assert_int_equal(zset_add(&z, -2, "a", 1, ZADD_IN_INCR | ZADD_IN_LT, &out, &ns, &LIM), 1);
        assert_int_equal(out, ZADD_OUT_UPDATED);
        assert_true(ns == 1);
        assert_int_equal(zset_add(&z, 1, "a", 1, 0, &out, &ns, &LIM), 1);
        assert_int_equal(out, 0); /* same score: neither added nor updated */
        assert_int_equal(zset_add(&z, INFINITY, "a", 1, 0, &out, &ns, &LIM), 1);
        assert_int_equal(zset_add(&z, -INFINITY, "a", 1, ZADD_IN_INCR, &out, &ns, &LIM), 0);
        assert_int_equal(out, ZADD_OUT_NAN);
        double s;
        assert_int_equal(zset_score(&z, "a", 1, &s), 1);
        assert_true(isinf(s) && s > 0);
        assert_int_equal(zset_add(&z, NAN, "b", 1, 0, &out, &ns, &LIM), 0);
        zset_free_value(z.ptr, z.enc);
    }
}

/* -0 is stored as 0 in a listpack (an integer), kept in the skiplist, as Redis does. */
static void test_negative_zero(void **state) {
    (void)state;
    zobj z;
    zset_create(&z, 1, &LIM);
    add(&z, -0.0, "a");
    double s;
    zset_score(&z, "a", 1, &s);
    assert_false(signbit(s));
    zset_convert_to_skiplist(&z);
    add(&z, -0.0, "b");
    zset_score(&z, "b", 1, &s);
    assert_true(signbit(s));
    zset_free_value(z.ptr, z.enc);
}

/* Model: sorted array */
typedef struct me {
    double s;
    char m[8];
} me;

static int me_cmp(const void *a, const void *b) {
    const me *x = a, *y = b;
    if (x->s < y->s) return -1;
    if (x->s > y->s) return 1;
    return strcmp(x->m, y->m);
}

static const double POOL[] = {-INFINITY, -2.5, -1, 0, 0, 1, 1, 1, 2, 3.25, 1e20, INFINITY};
#define NPOOL (sizeof(POOL) / sizeof(POOL[0]))

static void check_model(const zobj *z, me *md, size_t n) {
    qsort(md, n, sizeof(me), me_cmp);
    assert_int_equal(zset_length(z), n);
    zset_iter it;
    const unsigned char *m;
    size_t len, i = 0;
    double s;
    for (zset_iter_at_rank(&it, z, 0, 0); zset_iter_get(&it, &m, &len, &s);
         zset_iter_next(&it), i++) {
        assert_true(s == md[i].s);
        assert_int_equal(len, strlen(md[i].m));
        assert_memory_equal(m, md[i].m, len);
        assert_int_equal(zset_rank(z, m, len, 0, NULL), (long)i);
        assert_int_equal(zset_rank(z, m, len, 1, NULL), (long)(n - 1 - i));
    }
    assert_int_equal(i, n);
    i = n;
    for (zset_iter_at_rank(&it, z, 0, 1); zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it)) {
        i--;
        assert_memory_equal(m, md[i].m, len);
    }
    assert_int_equal(i, 0);
    /* score ranges: counts and first elements, both directions */
    for (size_t a = 0; a < NPOOL; a++) {
        for (int ex = 0; ex < 4; ex++) {
            zrange_score r = {POOL[a], POOL[(a * 7 + 3) % NPOOL], ex & 1, ex >> 1};
            size_t want = 0;
            long first = -1, last = -1;
            for (size_t k = 0; k < n; k++)
                if (zrange_score_gte_min(&r, md[k].s) && zrange_score_lte_max(&r, md[k].s)) {
                    if (first < 0) first = (long)k;
                    last = (long)k;
                    want++;
                }
            if (zrange_score_empty(&r)) want = 0, first = -1;
            assert_int_equal(zset_count_score(z, &r), want);
            zset_iter_in_score(&it, z, &r, 0);
            if (first < 0) {
                assert_int_equal(zset_iter_get(&it, &m, &len, &s), 0);
            } else {
                assert_int_equal(zset_iter_get(&it, &m, &len, &s), 1);
                assert_memory_equal(m, md[first].m, len);
                zset_iter_in_score(&it, z, &r, 1);
                assert_int_equal(zset_iter_get(&it, &m, &len, &s), 1);
                assert_memory_equal(m, md[last].m, len);
            }
        }
    }
}

static void test_random_model_both_encodings(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    uint64_t rng = 99;
    for (int round = 0; round < 2; round++) {
        zobj z;
        zset_limits lim = round ? (zset_limits){16, 64} : LIM;
        zset_create(&z, 1, &lim);
        me md[64];
        size_t n = 0;
        for (int op = 0; op < 3000; op++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(rng >> 33);
            char m[8];
            snprintf(m, sizeof(m), "m%u", r % 40);
            double s = POOL[(r >> 8) % NPOOL];
            long at = -1;
            for (size_t k = 0; k < n; k++)
                if (strcmp(md[k].m, m) == 0) at = (long)k;
            int out;
            if ((r >> 16) % 3 != 0) {
                zset_add(&z, s, m, strlen(m), 0, &out, NULL, &lim);
                if (at < 0) {
                    md[n].s = s;
                    strcpy(md[n].m, m);
                    n++;
                    assert_int_equal(out, ZADD_OUT_ADDED);
                } else {
                    md[at].s = s;
                }
            } else {
                assert_int_equal(zset_del(&z, m, strlen(m)), at >= 0);
                if (at >= 0) md[at] = md[--n];
            }
            if (op % 50 == 0) check_model(&z, md, n);
            if (op % 500 == 499 && n > 4) { /* range deletes */
                qsort(md, n, sizeof(me), me_cmp);
                assert_int_equal(zset_delete_rank_range(&z, 1, 2), 2);
                memmove(&md[1], &md[3], (n - 3) * sizeof(me));
                n -= 2;
                zrange_score rr = {0, 1, 0, 1};
                size_t want = 0, k = 0;
                while (k < n) {
                    if (md[k].s >= 0 && md[k].s < 1) {
                        md[k] = md[--n];
                        want++;
                    } else {
                        k++;
                    }
                }
                assert_int_equal(zset_delete_score_range(&z, &rr), want);
                check_model(&z, md, n);
            }
        }
        check_model(&z, md, n);
        if (round) assert_int_equal(z.enc, DB_ENC_SKIPLIST);
        int64_t before_dup = alloc_sub_bytes(ALLOC_SUB_ZSETS);
        void *cp = zset_dup_value(z.ptr, z.enc);
        zobj copy = {z.enc, cp};
        check_model(&copy, md, n);
        /* the copy's tables may be sized differently: compare it with what it allocated */
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - before_dup,
                         zset_mem_usage(cp, z.enc, 0));
        zset_free_value(cp, z.enc);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base, zset_mem_usage(z.ptr, z.enc, 0));
        zset_free_value(z.ptr, z.enc);
    }
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
}

static void test_lex(void **state) {
    (void)state;
    for (int big = 0; big < 2; big++) {
        zobj z;
        zset_create(&z, 1, &LIM);
        const char *ms[] = {"a", "b", "c", "d", "e"};
        for (int i = 0; i < 5; i++)
            add(&z, 0, ms[i]);
        if (big) zset_convert_to_skiplist(&z);
        zrange_lex r;
        zset_parse_lex_end("(a", 2, &r.min);
        zset_parse_lex_end("[c", 2, &r.max);
        assert_int_equal(zset_count_lex(&z, &r), 2);
        zset_iter it;
        const unsigned char *m;
        size_t len;
        zset_iter_in_lex(&it, &z, &r, 1);
        assert_int_equal(zset_iter_get(&it, &m, &len, NULL), 1);
        assert_memory_equal(m, "c", 1);
        zset_parse_lex_end("-", 1, &r.min);
        zset_parse_lex_end("+", 1, &r.max);
        assert_int_equal(zset_count_lex(&z, &r), 5);
        zset_parse_lex_end("[b", 2, &r.min);
        zset_parse_lex_end("(d", 2, &r.max);
        assert_int_equal(zset_delete_lex_range(&z, &r), 2);
        char buf[256];
        dump(&z, buf, sizeof(buf));
        assert_string_equal(buf, "a:0 d:0 e:0 ");
        zset_free_value(z.ptr, z.enc);
    }
}

static void test_algebra(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zobj a, b;
    zset_create(&a, 1, &LIM);
    zset_create(&b, 1, &LIM);
    add(&a, 1, "x");
    add(&a, 2, "y");
    add(&a, INFINITY, "z");
    add(&b, 10, "y");
    add(&b, -INFINITY, "z");
    add(&b, 5, "w");
    for (int big = 0; big < 2; big++) {
        if (big) zset_convert_to_skiplist(&a);
        zset_input in[2];
        zobj out;
        char buf[256];
        zset_input_of(&in[0], &a, 1);
        zset_input_of(&in[1], &b, 2);
        zset_algebra(ZSET_UNION, in, 2, ZSET_AGG_SUM, &out);
        dump(&out, buf, sizeof(buf));
        assert_string_equal(buf, "z:0 x:1 w:10 y:22 ");
        assert_int_equal(out.enc, DB_ENC_SKIPLIST);
        zset_shrink_if_fits(&out, &LIM);
        assert_int_equal(out.enc, DB_ENC_LISTPACK);
        dump(&out, buf, sizeof(buf));
        assert_string_equal(buf, "z:0 x:1 w:10 y:22 ");
        zset_free_value(out.ptr, out.enc);
        zset_input_of(&in[0], &a, 1);
        zset_input_of(&in[1], &b, 2);
        zset_algebra(ZSET_INTER, in, 2, ZSET_AGG_MAX, &out);
        dump(&out, buf, sizeof(buf));
        assert_string_equal(buf, "y:20 z:inf ");
        zset_free_value(out.ptr, out.enc);
        zset_input_of(&in[0], &a, 1);
        zset_input_of(&in[1], &b, 1);
        zset_algebra(ZSET_DIFF, in, 2, ZSET_AGG_SUM, &out);
        dump(&out, buf, sizeof(buf));
        assert_string_equal(buf, "x:1 ");
        zset_free_value(out.ptr, out.enc);
        zset_input_of(&in[0], &a, 1);
        zset_input_of(&in[1], NULL, 1);
        zset_algebra(ZSET_INTER, in, 2, ZSET_AGG_SUM, &out);
        assert_null(out.ptr);
        zset_input_of(&in[0], &a, 1);
        zset_input_of(&in[1], &b, 1);
        assert_int_equal(zset_inter_card(in, 2, 0), 2);
        zset_input_of(&in[0], &a, 1);
        zset_input_of(&in[1], &b, 1);
        assert_int_equal(zset_inter_card(in, 2, 1), 1);
        /* weight 0 times inf is NaN: 0 in a union */
        zset_input_of(&in[0], &a, 0);
        zset_algebra(ZSET_UNION, in, 1, ZSET_AGG_SUM, &out);
        dump(&out, buf, sizeof(buf));
        assert_string_equal(buf, "x:0 y:0 z:0 ");
        zset_free_value(out.ptr, out.enc);
    }
    zset_free_value(a.ptr, a.enc);
    zset_free_value(b.ptr, b.enc);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
}

static void scan_cb(void *ctx, const unsigned char *m, size_t len, const char *score, size_t slen) {
    char *buf = ctx;
    size_t off = strlen(buf);
    snprintf(buf + off, 512 - off, "%.*s=%.*s ", (int)len, (const char *)m, (int)slen, score);
}

static void test_scan_text(void **state) {
    (void)state;
    zobj z;
    zset_create(&z, 1, &LIM);
    add(&z, 1.5, "a");
    add(&z, 7, "b");
    add(&z, -0.0, "c");
    char buf[512] = "";
    assert_int_equal(zset_scan(&z, 0, 10, scan_cb, buf), 0);
    assert_string_equal(buf, "c=0 a=1.5 b=7 ");
    zset_free_value(z.ptr, z.enc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_parse),
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_add_flags),
        cmocka_unit_test(test_negative_zero),
        cmocka_unit_test(test_random_model_both_encodings),
        cmocka_unit_test(test_lex),
        cmocka_unit_test(test_algebra),
        cmocka_unit_test(test_scan_text),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
