#include "db/quicklist.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- a plain model: an array of owned byte strings ---- */

typedef struct {
    char *s;
    size_t len;
} melem;

typedef struct {
    melem *a;
    size_t n, cap;
} model;

static void m_insert(model *m, size_t pos, const char *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->a = realloc(m->a, m->cap * sizeof(*m->a));
    }
    memmove(m->a + pos + 1, m->a + pos, (m->n - pos) * sizeof(*m->a));
    m->a[pos].s = malloc(len ? len : 1);
    memcpy(m->a[pos].s, s, len);
    m->a[pos].len = len;
    m->n++;
}

static void m_delete(model *m, size_t pos, size_t count) {
    for (size_t i = pos; i < pos + count; i++)
        free(m->a[i].s);
    memmove(m->a + pos, m->a + pos + count, (m->n - pos - count) * sizeof(*m->a));
    m->n -= count;
}

static void m_free(model *m) {
    m_delete(m, 0, m->n);
    free(m->a);
    memset(m, 0, sizeof(*m));
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Values of every kind: integers of each listpack width, short and 12-bit and 32-bit-length
 * strings, non-canonical numbers, empty strings, and elements larger than a node. */
static size_t make_value(char *buf, size_t cap) {
    switch (rnd() % 10) {
    case 0:
        return (size_t)snprintf(buf, cap, "%d", (int)(rnd() % 128));
    case 1:
        return (size_t)snprintf(buf, cap, "%lld", (long long)(rnd() % 100000) - 50000);
    case 2:
        return (size_t)snprintf(buf, cap, "%lld", (long long)rnd());
    case 3:
        return (size_t)snprintf(buf, cap, "0%d", (int)(rnd() % 10));
    case 4:
        return 0;
    case 5: {
        size_t n = 60 + rnd() % 200;
        memset(buf, 'a' + (int)(rnd() % 26), n);
        return n;
    }
    case 6:
        if (rnd() % 8 == 0) {
            size_t n = 3000 + rnd() % 70000; /* over 4 KiB, sometimes over 64 KiB */
            if (n > cap) n = cap;
            memset(buf, 'B', n);
            buf[0] = (char)('a' + rnd() % 26);
            return n;
        }
        /* fall through */
    default:
        return (size_t)snprintf(buf, cap, "v%d", (int)(rnd() % 50));
    }
}

static void assert_same(quicklist *ql, const model *m, int limits) {
    assert_int_equal(ql_check(ql, limits), 0);
    assert_int_equal(ql_count(ql), m->n);
    ql_iter it;
    ql_entry e;
    size_t i = 0;
    ql_iter_init(ql, &it, 1);
    while (ql_iter_next(&it, &e)) {
        assert_true(i < m->n);
        assert_int_equal(e.len, m->a[i].len);
        assert_memory_equal(e.s, m->a[i].s, e.len ? e.len : 1 * 0);
        i++;
    }
    assert_int_equal(i, m->n);
    ql_iter_init(ql, &it, 0);
    while (ql_iter_next(&it, &e)) {
        assert_true(i > 0);
        i--;
        assert_true(ql_entry_equals(&e, m->a[i].s, m->a[i].len));
    }
    assert_int_equal(i, 0);
}

static const long long fills[] = {-5, -4, -3, -2, -1, 0, 1, 2, 3, 7, 128, 1000, 40000};
#define NFILLS (sizeof(fills) / sizeof(fills[0]))

/* The counter of ALLOC_SUB_LISTS is exactly what ql_mem_usage says the list holds. */
static void assert_accounting(quicklist *ql, int64_t base) {
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_LISTS) - base, (int64_t)ql_mem_usage(ql));
}

static void test_random_against_model(void **state) {
    (void)state;
    static char buf[80000];
    for (size_t f = 0; f < NFILLS; f++) {
        int64_t base = alloc_sub_bytes(ALLOC_SUB_LISTS);
        quicklist *ql = ql_new(fills[f]);
        model m = {0};
        int replaced = 0;
        size_t peak = 0;
        for (int step = 0; step < 10000; step++) {
            int op = (int)(rnd() % 100);
            /* phases of growth (mostly pushes and inserts) and of shrinking */
            int grow = (step / 2500) % 2 == 0;
            if (grow && op >= 30 && op < 78 && rnd() % 4 != 0) op = (int)(rnd() % 30);
            if (op < 30) { /* push */
                size_t len = make_value(buf, sizeof(buf));
                int head = (int)(rnd() % 2);
                ql_push(ql, head ? QL_HEAD : QL_TAIL, buf, len);
                m_insert(&m, head ? 0 : m.n, buf, len);
            } else if (op < 45) { /* pop */
                ql_value v;
                int head = (int)(rnd() % 2);
                int got = ql_pop(ql, head ? QL_HEAD : QL_TAIL, &v);
                assert_int_equal(got, m.n > 0);
                if (got) {
                    size_t pos = head ? 0 : m.n - 1;
                    assert_int_equal(v.len, m.a[pos].len);
                    if (v.len) assert_memory_equal(v.ptr, m.a[pos].s, v.len);
                    ql_value_release(&v);
                    m_delete(&m, pos, 1);
                }
            } else if (op < 55) { /* index, from either end */
                long long idx = (long long)(rnd() % (m.n + 3)) - 1;
                if (rnd() % 2) idx = -idx - 1;
                ql_entry e;
                long long norm = idx < 0 ? idx + (long long)m.n : idx;
                int in = norm >= 0 && norm < (long long)m.n;
                assert_int_equal(ql_index(ql, idx, &e), in);
                if (in) assert_true(ql_entry_equals(&e, m.a[norm].s, m.a[norm].len));
            } else if (op < 62) { /* insert before/after an element */
                if (!m.n) continue;
                size_t pos = rnd() % m.n;
                ql_entry e;
                assert_true(ql_index(ql, (long long)pos, &e));
                size_t len = make_value(buf, sizeof(buf));
                int after = (int)(rnd() % 2);
                ql_insert(ql, &e, after, buf, len);
                m_insert(&m, pos + (size_t)after, buf, len);
            } else if (op < 67) { /* replace */
                if (!m.n) continue;
                size_t pos = rnd() % m.n;
                size_t len = make_value(buf, sizeof(buf));
                assert_true(ql_replace_at(ql, (long long)pos - (long long)m.n, buf, len));
                m_delete(&m, pos, 1);
                m_insert(&m, pos, buf, len);
                replaced = 1;
            } else if (op < 72) { /* delete a range */
                if (!m.n) continue;
                size_t pos = rnd() % m.n;
                size_t cnt = rnd() % (rnd() % 20 == 0 ? m.n + 2 : 20);
                size_t want = cnt > m.n - pos ? m.n - pos : cnt;
                long long idx = rnd() % 2 ? (long long)pos : (long long)pos - (long long)m.n;
                assert_int_equal(ql_delete_range(ql, idx, cnt), want);
                m_delete(&m, pos, want);
            } else if (op < 78) { /* iterate deleting matches, either direction (LREM) */
                char target[16];
                size_t tlen = (size_t)snprintf(target, sizeof(target), "v%d", (int)(rnd() % 50));
                int forward = (int)(rnd() % 2);
                size_t limit = rnd() % 3 == 0 ? 0 : 1 + rnd() % 4;
                ql_iter it;
                ql_entry e;
                size_t removed = 0;
                ql_iter_init(ql, &it, forward);
                while ((!limit || removed < limit) && ql_iter_next(&it, &e)) {
                    if (ql_entry_equals(&e, target, tlen)) {
                        ql_iter_delete(&it, &e);
                        removed++;
                    }
                }
                ql_iter_release(&it);
                size_t done = 0;
                if (forward) {
                    for (size_t i = 0; i < m.n && (!limit || done < limit);)
                        if (m.a[i].len == tlen && !memcmp(m.a[i].s, target, tlen)) {
                            m_delete(&m, i, 1);
                            done++;
                        } else {
                            i++;
                        }
                } else {
                    for (size_t i = m.n; i > 0 && (!limit || done < limit); i--)
                        if (m.a[i - 1].len == tlen && !memcmp(m.a[i - 1].s, target, tlen)) {
                            m_delete(&m, i - 1, 1);
                            done++;
                        }
                }
                assert_int_equal(removed, done);
            } else if (op < 82) { /* walk from an index */
                if (!m.n) continue;
                size_t pos = rnd() % m.n;
                int forward = (int)(rnd() % 2);
                ql_iter it;
                ql_entry e;
                assert_true(ql_iter_init_at(ql, &it, forward, (long long)pos));
                size_t i = pos, seen = 0;
                while (seen < 50 && ql_iter_next(&it, &e)) {
                    assert_true(ql_entry_equals(&e, m.a[i].s, m.a[i].len));
                    seen++;
                    if (!forward && i == 0) {
                        assert_false(ql_iter_next(&it, &e));
                        break;
                    }
                    i = forward ? i + 1 : i - 1;
                }
                ql_iter_release(&it);
            } else if (op < 84) { /* dup, and compare */
                int64_t before = alloc_sub_bytes(ALLOC_SUB_LISTS);
                quicklist *d = ql_dup(ql);
                assert_int_equal(alloc_sub_bytes(ALLOC_SUB_LISTS) - before,
                                 (int64_t)ql_mem_usage(d));
                assert_same(d, &m, 0);
                ql_free(d);
                assert_int_equal(alloc_sub_bytes(ALLOC_SUB_LISTS), before);
            } else if (op < 85 && m.n > 6000) { /* keep it bounded */
                ql_delete_range(ql, 0, m.n / 2);
                m_delete(&m, 0, m.n / 2);
            }
            if (m.n > peak) peak = m.n;
            if (step % 97 == 0) {
                assert_same(ql, &m, !replaced);
                assert_accounting(ql, base);
            }
        }
        assert_same(ql, &m, !replaced);
        assert_accounting(ql, base);
        assert_true(peak > 500);
        ql_free(ql);
        m_free(&m);
        assert_int_equal(alloc_sub_bytes(ALLOC_SUB_LISTS), base);
    }
}

/* Node boundaries: pushes fill a node exactly up to the fill's limit, then open a new one. */
static void test_node_limits(void **state) {
    (void)state;
    for (size_t f = 0; f < NFILLS; f++) {
        quicklist *ql = ql_new(fills[f]);
        for (int i = 0; i < 3000; i++) {
            char v[32];
            size_t n = (size_t)snprintf(v, sizeof(v), "element-%d", i);
            ql_push(ql, i % 3 ? QL_TAIL : QL_HEAD, v, n);
        }
        assert_int_equal(ql_check(ql, 1), 0);
        long long fill = ql_fill(ql);
        if (fill > 0) {
            /* Whole nodes of `fill` elements, unless the 8 KiB safety limit cuts earlier
             * (one element is ~14 bytes: about 580 per node). */
            long long per = fill < 580 ? fill : -1;
            if (per > 0) {
                /* the middle nodes are full */
                for (size_t i = 1; i + 1 < ql_nodes(ql); i++)
                    assert_int_equal(ql_node_elements(ql, i), per);
            }
        } else if (fill == 0) {
            assert_int_equal(ql_nodes(ql), 3000); /* Redis: fill 0 holds one per node */
        } else {
            size_t limit = (size_t)4096 << (-fill - 1);
            assert_true(ql_nodes(ql) >= 3000 * 14 / limit);
        }
        ql_free(ql);
    }
    /* A few exact figures: fill 3 → nodes of 3; -2 (8 KiB) with 1000-byte values → 8 per
     * node (8 * (1000 + 3 + 2) + 6 + 1000 + 8 > 8192 at the 9th). */
    quicklist *ql = ql_new(3);
    for (int i = 0; i < 10; i++)
        ql_push(ql, QL_TAIL, "x", 1);
    assert_int_equal(ql_nodes(ql), 4);
    assert_int_equal(ql_node_elements(ql, 0), 3);
    assert_int_equal(ql_node_elements(ql, 3), 1);
    ql_free(ql);
    static char big[100000];
    memset(big, 'z', sizeof(big));
    ql = ql_new(-2);
    for (int i = 0; i < 9; i++)
        ql_push(ql, QL_TAIL, big, 1000);
    assert_int_equal(ql_nodes(ql), 2);
    assert_int_equal(ql_node_elements(ql, 0), 8);
    /* A big element exceeding any limit gets a node of its own, on either side. */
    ql_push(ql, QL_TAIL, big, sizeof(big));
    ql_push(ql, QL_HEAD, big, sizeof(big));
    ql_push(ql, QL_TAIL, "small", 5);
    assert_int_equal(ql_nodes(ql), 5);
    assert_int_equal(ql_node_elements(ql, 0), 1);
    assert_int_equal(ql_node_elements(ql, 3), 1);
    assert_int_equal(ql_node_elements(ql, 4), 1);
    assert_int_equal(ql_check(ql, 1), 0);
    ql_entry e;
    assert_true(ql_index(ql, -2, &e));
    assert_int_equal(e.len, sizeof(big));
    ql_free(ql);
}

/* Inserting into a full node splits it; deleting merges neighbours that fit again. */
static void test_split_and_merge(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_LISTS);
    quicklist *ql = ql_new(4);
    for (int i = 0; i < 8; i++) {
        char v[8];
        ql_push(ql, QL_TAIL, v, (size_t)snprintf(v, sizeof(v), "%c", 'a' + i));
    }
    assert_int_equal(ql_nodes(ql), 2); /* abcd efgh */
    ql_entry e;
    assert_true(ql_index(ql, 1, &e)); /* b */
    ql_insert(ql, &e, 1, "X", 1);     /* ab X cd efgh */
    assert_int_equal(ql_check(ql, 1), 0);
    assert_int_equal(ql_count(ql), 9);
    assert_true(ql_index(ql, 2, &e));
    assert_true(ql_entry_equals(&e, "X", 1));
    /* insert after the last of a full node whose next is full too: a new node between */
    assert_true(ql_index(ql, -1, &e));
    ql_insert(ql, &e, 1, "Y", 1);
    assert_true(ql_index(ql, -1, &e));
    assert_true(ql_entry_equals(&e, "Y", 1));
    /* insert before the first element of a full head: new head node */
    assert_true(ql_index(ql, 0, &e));
    ql_insert(ql, &e, 0, "W", 1);
    assert_true(ql_index(ql, 0, &e));
    assert_true(ql_entry_equals(&e, "W", 1));
    assert_int_equal(ql_check(ql, 1), 0);
    size_t nodes = ql_nodes(ql);
    /* delete most: neighbours merge back */
    ql_delete_range(ql, 1, 7);
    assert_true(ql_nodes(ql) < nodes);
    assert_int_equal(ql_count(ql), 4);
    assert_int_equal(ql_check(ql, 1), 0);
    assert_int_equal(ql_nodes(ql), 1);
    ql_free(ql);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_LISTS), base);
}

static void test_empty_and_one(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_LISTS);
    quicklist *ql = ql_new(-2);
    ql_entry e;
    ql_value v;
    assert_int_equal(ql_count(ql), 0);
    assert_false(ql_index(ql, 0, &e));
    assert_false(ql_index(ql, -1, &e));
    assert_false(ql_pop(ql, QL_HEAD, &v));
    assert_false(ql_replace_at(ql, 0, "x", 1));
    assert_int_equal(ql_delete_range(ql, 0, 10), 0);
    ql_iter it;
    ql_iter_init(ql, &it, 1);
    assert_false(ql_iter_next(&it, &e));
    assert_false(ql_iter_init_at(ql, &it, 1, 0));
    ql_push(ql, QL_HEAD, "12345", 5); /* stored as an integer, read back as the same bytes */
    assert_true(ql_index(ql, 0, &e));
    assert_true(ql_entry_equals(&e, "12345", 5));
    assert_true(ql_index(ql, -1, &e));
    assert_false(ql_index(ql, 1, &e));
    assert_false(ql_index(ql, -2, &e));
    assert_true(ql_pop(ql, QL_TAIL, &v));
    assert_int_equal(v.len, 5);
    assert_memory_equal(v.ptr, "12345", 5);
    ql_value_release(&v);
    assert_int_equal(ql_nodes(ql), 0);
    /* a popped big value comes back on the heap */
    static char big[5000];
    memset(big, 'q', sizeof(big));
    ql_push(ql, QL_TAIL, big, sizeof(big));
    assert_true(ql_pop(ql, QL_HEAD, &v));
    assert_int_equal(v.len, sizeof(big));
    assert_memory_equal(v.ptr, big, sizeof(big));
    ql_value_release(&v);
    ql_free(ql);
    ql_free(NULL);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_LISTS), base);
    /* out-of-range fills are clamped as Redis does */
    ql = ql_new(-100);
    assert_int_equal(ql_fill(ql), -5);
    ql_free(ql);
    ql = ql_new(1LL << 40);
    assert_int_equal(ql_fill(ql), QL_FILL_MAX);
    ql_free(ql);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_one),
        cmocka_unit_test(test_split_and_merge),
        cmocka_unit_test(test_node_limits),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
