#include "db/skiplist.h"

#include "alloc/alloc.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The model: a sorted array of (score, member) kept by plain insertion. */
typedef struct melem {
    double score;
    char m[16];
    size_t len;
} melem;

typedef struct model {
    melem *v;
    size_t n;
} model;

static int melem_cmp(const melem *a, double score, const char *m, size_t len) {
    if (a->score < score) return -1;
    if (a->score > score) return 1;
    return zsl_cmp_bytes(a->m, a->len, m, len);
}

static size_t model_pos(const model *md, double score, const char *m, size_t len) {
    size_t i = 0;
    while (i < md->n && melem_cmp(&md->v[i], score, m, len) < 0)
        i++;
    return i;
}

static long model_find_member(const model *md, const char *m, size_t len) {
    for (size_t i = 0; i < md->n; i++)
        if (md->v[i].len == len && memcmp(md->v[i].m, m, len) == 0) return (long)i;
    return -1;
}

static void model_insert(model *md, double score, const char *m, size_t len) {
    size_t p = model_pos(md, score, m, len);
    memmove(&md->v[p + 1], &md->v[p], (md->n - p) * sizeof(melem));
    md->v[p].score = score;
    memcpy(md->v[p].m, m, len);
    md->v[p].len = len;
    md->n++;
}

static void model_remove_at(model *md, size_t p) {
    memmove(&md->v[p], &md->v[p + 1], (md->n - p - 1) * sizeof(melem));
    md->n--;
}

static uint64_t rng = 12345;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const double SCORES[] = {-INFINITY, -1e300, -3.5, -1, -0.0,  0,       1,
                                1,         2,      2.5,  7,  1e300, INFINITY};
#define NSCORES (sizeof(SCORES) / sizeof(SCORES[0]))

static size_t rand_member(char *buf) {
    /* a small pool, with prefixes of each other ("a" < "aa" < "ab") */
    static const char *const pool[] = {"",   "a",  "aa",  "ab",   "b",     "ba",  "c",   "zz",
                                       "m1", "m2", "m10", "\xff", "\x00x", "abc", "abd", "q"};
    unsigned i = (unsigned)(next_rand() % 16);
    size_t len = i == 12 ? 2 : strlen(pool[i]);
    memcpy(buf, pool[i], len);
    if (next_rand() % 3 == 0) { /* widen the pool */
        len += (size_t)snprintf(buf + len, 8, "%u", (unsigned)(next_rand() % 40));
    }
    return len;
}

static void check_against(const zskiplist *zsl, const model *md) {
    assert_int_equal(zsl_length(zsl), md->n);
    size_t i = 0;
    const zsl_node *prev = NULL;
    for (const zsl_node *n = zsl_first(zsl); n; n = zsl_next(n), i++) {
        size_t len;
        const unsigned char *m = zsl_node_member(n, &len);
        assert_true(i < md->n);
        assert_true(zsl_node_score(n) == md->v[i].score);
        assert_int_equal(len, md->v[i].len);
        assert_memory_equal(m, md->v[i].m, len);
        assert_ptr_equal(zsl_prev(n), prev);
        assert_ptr_equal(zsl_find(zsl, md->v[i].m, md->v[i].len), n);
        prev = n;
    }
    assert_int_equal(i, md->n);
    assert_ptr_equal(zsl_last(zsl), prev);
    /* ranks both ways */
    for (i = 0; i < md->n; i++) {
        const melem *e = &md->v[i];
        assert_int_equal(zsl_rank(zsl, e->score, e->m, e->len), i + 1);
        const zsl_node *n = zsl_at_rank(zsl, i + 1);
        assert_non_null(n);
        size_t len;
        const unsigned char *m = zsl_node_member(n, &len);
        assert_int_equal(len, e->len);
        assert_memory_equal(m, e->m, len);
    }
    assert_null(zsl_at_rank(zsl, 0));
    assert_null(zsl_at_rank(zsl, md->n + 1));
}

static void random_range(zrange_score *r) {
    r->min = SCORES[next_rand() % NSCORES];
    r->max = SCORES[next_rand() % NSCORES];
    r->minex = (int)(next_rand() % 2);
    r->maxex = (int)(next_rand() % 2);
}

static void check_ranges(const zskiplist *zsl, const model *md) {
    for (int t = 0; t < 20; t++) {
        zrange_score r;
        random_range(&r);
        long first = -1, last = -1;
        for (size_t i = 0; i < md->n; i++) {
            double s = md->v[i].score;
            if (zrange_score_gte_min(&r, s) && zrange_score_lte_max(&r, s)) {
                if (first < 0) first = (long)i;
                last = (long)i;
            }
        }
        const zsl_node *f = zsl_first_in_range(zsl, &r);
        const zsl_node *l = zsl_last_in_range(zsl, &r);
        if (first < 0) {
            assert_null(f);
            assert_null(l);
            continue;
        }
        assert_non_null(f);
        assert_non_null(l);
        size_t len;
        const unsigned char *m = zsl_node_member(f, &len);
        assert_int_equal(zsl_rank(zsl, zsl_node_score(f), m, len), first + 1);
        m = zsl_node_member(l, &len);
        assert_int_equal(zsl_rank(zsl, zsl_node_score(l), m, len), last + 1);
    }
}

static void counting_delete(void *ctx, const unsigned char *m, size_t len) {
    (void)m;
    (void)len;
    (*(size_t *)ctx)++;
}

static void test_random_against_model(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zsl_seed(7);
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    model md = {calloc(4096, sizeof(melem)), 0};
    for (int op = 0; op < 6000; op++) {
        char m[16];
        size_t len = rand_member(m);
        double score = SCORES[next_rand() % NSCORES];
        long at = model_find_member(&md, m, len);
        unsigned what = (unsigned)(next_rand() % 10);
        if (what < 5) { /* add or update */
            if (at < 0) {
                zsl_insert(zsl, score, m, len);
                model_insert(&md, score, m, len);
            } else {
                double cur = md.v[at].score;
                const zsl_node *n = zsl_update_score(zsl, cur, m, len, score);
                assert_non_null(n);
                assert_true(zsl_node_score(n) == score);
                model_remove_at(&md, (size_t)at);
                model_insert(&md, score, m, len);
            }
        } else if (what < 8) { /* delete */
            if (at < 0) {
                assert_int_equal(zsl_delete(zsl, score, m, len), 0);
            } else {
                if (md.v[at].score != score) assert_int_equal(zsl_delete(zsl, score, m, len), 0);
                assert_int_equal(zsl_delete(zsl, md.v[at].score, m, len), 1);
                model_remove_at(&md, (size_t)at);
            }
        } else if (what == 8 && md.n > 0) { /* delete by rank */
            unsigned long a = 1 + next_rand() % md.n, b = a + next_rand() % 3;
            size_t seen = 0;
            size_t removed = zsl_delete_range_by_rank(zsl, a, b, counting_delete, &seen);
            size_t want = (b > md.n ? md.n : b) - a + 1;
            assert_int_equal(removed, want);
            assert_int_equal(seen, want);
            for (size_t k = 0; k < want; k++)
                model_remove_at(&md, a - 1);
        } else if (what == 9 && next_rand() % 8 == 0) { /* delete by score (rarely) */
            zrange_score r;
            random_range(&r);
            size_t want = 0;
            for (size_t i = 0; i < md.n;) {
                if (zrange_score_gte_min(&r, md.v[i].score) &&
                    zrange_score_lte_max(&r, md.v[i].score)) {
                    model_remove_at(&md, i);
                    want++;
                } else {
                    i++;
                }
            }
            assert_int_equal(zsl_delete_range_by_score(zsl, &r, NULL, NULL), want);
        }
        if (op % 97 == 0) {
            check_against(zsl, &md);
            check_ranges(zsl, &md);
        }
    }
    check_against(zsl, &md);
    check_ranges(zsl, &md);
    /* a copy is equal; what it allocated is its mem_usage (its member index is sized for its
     * length, the original's may be larger after deletions) */
    int64_t before_dup = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zskiplist *cp = zsl_dup(zsl);
    check_against(cp, &md);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - before_dup, zsl_mem_usage(cp));
    zsl_free(cp);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), before_dup);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base, zsl_mem_usage(zsl));
    zsl_free(zsl);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
    free(md.v);
}

static void test_empty_and_one(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    assert_int_equal(zsl_length(zsl), 0);
    assert_null(zsl_first(zsl));
    assert_null(zsl_last(zsl));
    assert_null(zsl_at_rank(zsl, 1));
    zrange_score all = {-INFINITY, INFINITY, 0, 0};
    assert_null(zsl_first_in_range(zsl, &all));
    assert_null(zsl_last_in_range(zsl, &all));
    assert_int_equal(zsl_rank(zsl, 1, "a", 1), 0);
    assert_int_equal(zsl_delete(zsl, 1, "a", 1), 0);
    assert_int_equal(zsl_delete_range_by_rank(zsl, 1, 10, NULL, NULL), 0);

    zsl_insert(zsl, 1.5, "a", 1);
    assert_ptr_equal(zsl_first(zsl), zsl_last(zsl));
    assert_int_equal(zsl_rank(zsl, 1.5, "a", 1), 1);
    assert_int_equal(zsl_rank(zsl, 1.5, "b", 1), 0);
    assert_int_equal(zsl_rank(zsl, 2, "a", 1), 0);
    zrange_score ex = {1.5, 1.5, 1, 0};
    assert_null(zsl_first_in_range(zsl, &ex));
    zrange_score in = {1.5, 1.5, 0, 0};
    assert_non_null(zsl_first_in_range(zsl, &in));
    assert_non_null(zsl_last_in_range(zsl, &in));
    assert_int_equal(zsl_delete(zsl, 1.5, "a", 1), 1);
    assert_null(zsl_first(zsl));
    assert_null(zsl_last(zsl));
    zsl_free(zsl);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
}

static void test_ties_ordered_by_member(void **state) {
    (void)state;
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    const char *ms[] = {"c", "a", "bb", "b", "", "ba"};
    for (int i = 0; i < 6; i++)
        zsl_insert(zsl, 5, ms[i], strlen(ms[i]));
    const char *want[] = {"", "a", "b", "ba", "bb", "c"};
    int i = 0;
    for (const zsl_node *n = zsl_first(zsl); n; n = zsl_next(n), i++) {
        size_t len;
        const unsigned char *m = zsl_node_member(n, &len);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(m, want[i], len);
    }
    /* update keeping the place and moving */
    zsl_node *n = zsl_update_score(zsl, 5, "b", 1, 5);
    assert_int_equal(zsl_rank(zsl, 5, "b", 1), 3);
    n = zsl_update_score(zsl, 5, "b", 1, -1);
    assert_non_null(n);
    assert_int_equal(zsl_rank(zsl, -1, "b", 1), 1);
    assert_null(zsl_update_score(zsl, 5, "b", 1, 3)); /* wrong current score */
    zsl_free(zsl);
}

static void test_infinities_and_exclusive(void **state) {
    (void)state;
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    zsl_insert(zsl, -INFINITY, "ninf", 4);
    zsl_insert(zsl, 0, "zero", 4);
    zsl_insert(zsl, INFINITY, "pinf", 4);
    size_t len;
    zrange_score r = {-INFINITY, INFINITY, 0, 0};
    assert_memory_equal(zsl_node_member(zsl_first_in_range(zsl, &r), &len), "ninf", 4);
    assert_memory_equal(zsl_node_member(zsl_last_in_range(zsl, &r), &len), "pinf", 4);
    r.minex = r.maxex = 1;
    assert_memory_equal(zsl_node_member(zsl_first_in_range(zsl, &r), &len), "zero", 4);
    assert_memory_equal(zsl_node_member(zsl_last_in_range(zsl, &r), &len), "zero", 4);
    zrange_score bad = {1, 0, 0, 0};
    assert_null(zsl_first_in_range(zsl, &bad));
    assert_int_equal(zsl_delete_range_by_score(zsl, &bad, NULL, NULL), 0);
    zrange_score same_ex = {0, 0, 0, 1};
    assert_null(zsl_first_in_range(zsl, &same_ex));
    assert_int_equal(zsl_delete_range_by_score(zsl, &r, NULL, NULL), 1);
    assert_int_equal(zsl_length(zsl), 2);
    zsl_free(zsl);
}

static zlex_bound lexb(const char *s) {
    zlex_bound b = {ZLEX_VALUE, 0, NULL, 0};
    if (strcmp(s, "-") == 0) {
        b.kind = ZLEX_MINUS;
    } else if (strcmp(s, "+") == 0) {
        b.kind = ZLEX_PLUS;
    } else {
        b.exclusive = s[0] == '(';
        b.s = (const unsigned char *)s + 1;
        b.len = strlen(s) - 1;
    }
    return b;
}

static void test_lex_ranges(void **state) {
    (void)state;
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    const char *ms[] = {"a", "b", "c", "d", "e", "f", "g"};
    for (int i = 0; i < 7; i++)
        zsl_insert(zsl, 0, ms[i], 1);
    struct {
        const char *min, *max;
        const char *first, *last; /* NULL: empty */
        size_t count;
    } cases[] = {
        {"-", "+", "a", "g", 7},     {"[b", "[d", "b", "d", 3},   {"(b", "(d", "c", "c", 1},
        {"(b", "[b", NULL, NULL, 0}, {"[b", "[b", "b", "b", 1},   {"(b", "(c", NULL, NULL, 0},
        {"+", "-", NULL, NULL, 0},   {"-", "-", NULL, NULL, 0},   {"+", "+", NULL, NULL, 0},
        {"[e", "+", "e", "g", 3},    {"-", "(c", "a", "b", 2},    {"[aa", "[cc", "b", "c", 2},
        {"[z", "+", NULL, NULL, 0},  {"[d", "[a", NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zrange_lex r = {lexb(cases[i].min), lexb(cases[i].max)};
        const zsl_node *f = zsl_first_in_lex_range(zsl, &r);
        const zsl_node *l = zsl_last_in_lex_range(zsl, &r);
        size_t len;
        if (!cases[i].first) {
            assert_null(f);
            assert_null(l);
        } else {
            assert_non_null(f);
            assert_non_null(l);
            assert_memory_equal(zsl_node_member(f, &len), cases[i].first, 1);
            assert_memory_equal(zsl_node_member(l, &len), cases[i].last, 1);
        }
        zskiplist *cp = zsl_dup(zsl);
        assert_int_equal(zsl_delete_range_by_lex(cp, &r, NULL, NULL), cases[i].count);
        assert_int_equal(zsl_length(cp), 7 - cases[i].count);
        zsl_free(cp);
    }
    zsl_free(zsl);
}

static void test_big_members_and_levels(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    char big[300];
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)snprintf(big, sizeof(big), "%0200d", i);
        zsl_insert(zsl, (double)(i % 100), big, len);
    }
    assert_int_equal(zsl_length(zsl), 20000);
    /* element at rank r has score (r-1)/200 */
    for (unsigned long r = 1; r <= 20000; r += 777) {
        const zsl_node *n = zsl_at_rank(zsl, r);
        assert_true(zsl_node_score(n) == (double)((r - 1) / 200));
    }
    assert_int_equal(zsl_delete_range_by_rank(zsl, 1, 10000, NULL, NULL), 10000);
    assert_true(zsl_node_score(zsl_first(zsl)) == 50);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base, zsl_mem_usage(zsl));
    zsl_free(zsl);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
}

typedef struct scan_seen {
    unsigned char *seen; /* per member index: times seen */
    size_t n;
} scan_seen;

static void scan_cb(void *ctx, const zsl_node *x) {
    scan_seen *ss = ctx;
    size_t len;
    const unsigned char *m = zsl_node_member(x, &len);
    char buf[32];
    assert_true(len < sizeof(buf));
    memcpy(buf, m, len);
    buf[len] = '\0';
    unsigned long i = strtoul(buf + 1, NULL, 10); /* "m<i>" */
    assert_true(i < ss->n);
    ss->seen[i]++;
}

static void test_member_index_and_scan(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zskiplist *zsl = zsl_new(ALLOC_SUB_ZSETS);
    enum { N = 5000 };
    char m[32];
    assert_null(zsl_find(zsl, "x", 1));
    assert_int_equal(zsl_scan(zsl, 0, 10, scan_cb, NULL), 0);
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)snprintf(m, sizeof(m), "m%d", i);
        zsl_insert(zsl, (double)(i % 7), m, len);
        if (i % 500 == 0) {
            assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base, zsl_mem_usage(zsl));
        }
    }
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)snprintf(m, sizeof(m), "m%d", i);
        zsl_node *x = zsl_find(zsl, m, len);
        assert_non_null(x);
        assert_true(zsl_node_score(x) == (double)(i % 7));
    }
    assert_null(zsl_find(zsl, "m", 1));
    assert_null(zsl_find(zsl, "", 0));
    /* a scan that deletes every other member between calls (shrinking the index) still sees
     * every member that stays */
    scan_seen ss = {calloc(N, 1), N};
    uint64_t cursor = 0;
    int deleted = 0;
    do {
        cursor = zsl_scan(zsl, cursor, 50, scan_cb, &ss);
        for (int k = 0; k < 200 && deleted < N; k++, deleted += 2) {
            size_t len = (size_t)snprintf(m, sizeof(m), "m%d", deleted);
            assert_int_equal(zsl_delete(zsl, (double)(deleted % 7), m, len), 1);
        }
    } while (cursor);
    for (int i = 1; i < N; i += 2)
        assert_true(ss.seen[i] >= 1);
    /* and one that inserts (growing it) sees every member present throughout */
    memset(ss.seen, 0, N);
    cursor = 0;
    int next = 0;
    do {
        cursor = zsl_scan(zsl, cursor, 20, scan_cb, &ss);
        for (int k = 0; k < 100 && next < N; k++, next += 2) {
            size_t len = (size_t)snprintf(m, sizeof(m), "m%d", next);
            zsl_insert(zsl, 1, m, len);
        }
    } while (cursor);
    for (int i = 1; i < N; i += 2)
        assert_true(ss.seen[i] >= 1);
    free(ss.seen);
    assert_int_equal(zsl_length(zsl), N);
    /* score updates keep the node and its index entry */
    zsl_node *x = zsl_find(zsl, "m1", 2);
    assert_ptr_equal(zsl_update_score(zsl, zsl_node_score(x), "m1", 2, 1e9), x);
    assert_ptr_equal(zsl_last(zsl), x);
    assert_ptr_equal(zsl_find(zsl, "m1", 2), x);
    assert_int_equal(zsl_delete_range_by_rank(zsl, 1, N, NULL, NULL), N);
    assert_null(zsl_find(zsl, "m3", 2));
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base, zsl_mem_usage(zsl));
    zsl_free(zsl);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_ZSETS), base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_one),
        cmocka_unit_test(test_ties_ordered_by_member),
        cmocka_unit_test(test_infinities_and_exclusive),
        cmocka_unit_test(test_lex_ranges),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_big_members_and_levels),
        cmocka_unit_test(test_member_index_and_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
