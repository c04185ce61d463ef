#include "db/t_set.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const set_limits DEFAULTS = {512, 128, 64};

static int64_t baseline;

static int setup(void **state) {
    (void)state;
    baseline = alloc_sub_bytes(ALLOC_SUB_SETS);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_SETS), baseline);
    return 0;
}

static uint64_t rng_state = 99;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int add(set_obj *s, const char *m, const set_limits *lim) {
    return set_add(s, m, strlen(m), lim);
}

static set_obj new_for(const char *first, size_t hint, const set_limits *lim) {
    return set_new_for(first, strlen(first), hint, lim);
}

static int has(set_obj *s, const char *m) {
    return set_ismember(s, m, strlen(m));
}

/* ---- a simple model: an array of distinct byte strings ---- */

typedef struct model {
    char **s;
    size_t *len;
    size_t n, cap;
} model;

static long model_find(const model *m, const void *p, size_t len) {
    for (size_t i = 0; i < m->n; i++)
        if (m->len[i] == len && (len == 0 || memcmp(m->s[i], p, len) == 0)) return (long)i;
    return -1;
}

static int model_add(model *m, const void *p, size_t len) {
    if (model_find(m, p, len) >= 0) return 0;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->s = realloc(m->s, m->cap * sizeof *m->s);
        m->len = realloc(m->len, m->cap * sizeof *m->len);
    }
    m->s[m->n] = malloc(len + 1);
    memcpy(m->s[m->n], p, len);
    m->len[m->n++] = len;
    return 1;
}

static int model_remove(model *m, const void *p, size_t len) {
    long i = model_find(m, p, len);
    if (i < 0) return 0;
    free(m->s[i]);
    m->s[i] = m->s[m->n - 1];
    m->len[i] = m->len[m->n - 1];
    m->n--;
    return 1;
}

static void model_free(model *m) {
    for (size_t i = 0; i < m->n; i++)
        free(m->s[i]);
    free(m->s);
    free(m->len);
    memset(m, 0, sizeof *m);
}

/* Members seen by a callback, checked against a model. */
typedef struct seen {
    model got;
    size_t calls;
} seen;

static void collect(void *ctx, const unsigned char *p, size_t len) {
    seen *sn = ctx;
    sn->calls++;
    model_add(&sn->got, p, len);
}

/* The set holds exactly the model's members (iteration, membership, card, scan). */
static void check_equal(set_obj *s, const model *m) {
    assert_int_equal(set_card(s), m->n);
    set_iter it;
    set_member mm;
    size_t n = 0;
    set_iter_init(s, &it);
    while (set_iter_next(&it, &mm)) {
        assert_true(model_find(m, mm.p, mm.len) >= 0);
        n++;
    }
    assert_int_equal(n, m->n);
    for (size_t i = 0; i < m->n; i++)
        assert_true(set_ismember(s, m->s[i], m->len[i]));
    /* a full scan sees every member (a compact set in one call) */
    seen sn = {0};
    uint64_t cursor = 0;
    do {
        cursor = set_scan(s, cursor, 3, collect, &sn);
        if (s->enc != DB_ENC_HASHTABLE) assert_int_equal(cursor, 0);
    } while (cursor);
    assert_int_equal(sn.got.n, m->n);
    model_free(&sn.got);
    assert_true(set_mem_usage(s) > 0);
}

/* ---- encodings and conversions at the thresholds ---- */

static void test_create(void **state) {
    (void)state;
    struct {
        const char *first;
        size_t hint;
        unsigned enc;
    } cases[] = {
        {"1", 1, DB_ENC_INTSET},
        {"1", 512, DB_ENC_INTSET},
        {"1", 513, DB_ENC_HASHTABLE},
        {"-9", 2, DB_ENC_INTSET},
        {"a", 1, DB_ENC_LISTPACK},
        {"a", 128, DB_ENC_LISTPACK},
        {"a", 129, DB_ENC_HASHTABLE},
        {"01", 1, DB_ENC_LISTPACK},
        {"-0", 1, DB_ENC_LISTPACK},
        {"+1", 1, DB_ENC_LISTPACK},
        {"", 1, DB_ENC_LISTPACK},
        {"9223372036854775808", 1, DB_ENC_LISTPACK},
        {"-9223372036854775808", 1, DB_ENC_INTSET},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        set_obj s = new_for(cases[i].first, cases[i].hint, &DEFAULTS);
        assert_int_equal(s.enc, cases[i].enc);
        assert_int_equal(set_card(&s), 0);
        assert_int_equal(add(&s, cases[i].first, &DEFAULTS), 1);
        assert_int_equal(add(&s, cases[i].first, &DEFAULTS), 0);
        assert_int_equal(s.enc, cases[i].enc);
        assert_true(has(&s, cases[i].first));
        set_release(&s);
    }
}

static void test_intset_limits(void **state) {
    (void)state;
    char buf[32];
    /* exactly max_intset_entries integers stay an intset; one more is a hashtable */
    set_obj s = new_for("0", 1, &DEFAULTS);
    for (int i = 0; i < 512; i++) {
        snprintf(buf, sizeof buf, "%d", i * 7 - 1000);
        assert_int_equal(add(&s, buf, &DEFAULTS), 1);
    }
    assert_int_equal(s.enc, DB_ENC_INTSET);
    assert_int_equal(add(&s, "-1000", &DEFAULTS), 0); /* a duplicate does not convert */
    assert_int_equal(s.enc, DB_ENC_INTSET);
    assert_int_equal(add(&s, "5", &DEFAULTS), 1);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    assert_int_equal(set_card(&s), 513);
    assert_true(has(&s, "-1000") && has(&s, "5") && !has(&s, "6"));
    /* never back */
    for (int i = 0; i < 512; i++) {
        snprintf(buf, sizeof buf, "%d", i * 7 - 1000);
        assert_int_equal(set_remove(&s, buf, strlen(buf)), 1);
    }
    assert_int_equal(set_card(&s), 1);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    set_release(&s);

    /* a string into a small intset: listpack, members keep their bytes */
    s = new_for("1", 1, &DEFAULTS);
    add(&s, "1", &DEFAULTS);
    add(&s, "-9223372036854775808", &DEFAULTS);
    add(&s, "300", &DEFAULTS);
    assert_int_equal(s.enc, DB_ENC_INTSET);
    assert_int_equal(add(&s, "01", &DEFAULTS), 1);
    assert_int_equal(s.enc, DB_ENC_LISTPACK);
    assert_true(has(&s, "1") && has(&s, "01") && has(&s, "300") && has(&s, "-9223372036854775808"));
    assert_false(has(&s, "+1"));
    assert_int_equal(add(&s, "7", &DEFAULTS), 1); /* an integer stays in the listpack */
    assert_int_equal(s.enc, DB_ENC_LISTPACK);
    assert_int_equal(set_card(&s), 5);
    set_release(&s);

    /* a string into an intset of max_listpack_entries integers: hashtable */
    s = new_for("1", 1, &DEFAULTS);
    for (int i = 0; i < 128; i++) {
        snprintf(buf, sizeof buf, "%d", i);
        add(&s, buf, &DEFAULTS);
    }
    add(&s, "x", &DEFAULTS);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    assert_int_equal(set_card(&s), 129);
    set_release(&s);
    /* ... of 127: listpack of 128 */
    s = new_for("1", 1, &DEFAULTS);
    for (int i = 0; i < 127; i++) {
        snprintf(buf, sizeof buf, "%d", i);
        add(&s, buf, &DEFAULTS);
    }
    add(&s, "x", &DEFAULTS);
    assert_int_equal(s.enc, DB_ENC_LISTPACK);
    assert_int_equal(set_card(&s), 128);
    set_release(&s);

    /* a too long string into an intset: hashtable */
    char big[66];
    memset(big, 'b', 65);
    big[65] = 0;
    s = new_for("1", 1, &DEFAULTS);
    add(&s, "1", &DEFAULTS);
    add(&s, big, &DEFAULTS);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    set_release(&s);
    /* integers longer than max_listpack_value (a tiny limit) force a hashtable too */
    set_limits tiny = {512, 128, 3};
    s = new_for("1", 1, &tiny);
    add(&s, "-1000", &tiny);
    add(&s, "ab", &tiny);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    set_release(&s);
}

static void test_listpack_limits(void **state) {
    (void)state;
    char buf[80];
    set_obj s = new_for("m0", 1, &DEFAULTS);
    for (int i = 0; i < 128; i++) {
        snprintf(buf, sizeof buf, "m%d", i);
        assert_int_equal(add(&s, buf, &DEFAULTS), 1);
    }
    assert_int_equal(s.enc, DB_ENC_LISTPACK);
    assert_int_equal(add(&s, "m5", &DEFAULTS), 0);
    assert_int_equal(s.enc, DB_ENC_LISTPACK);
    assert_int_equal(add(&s, "m128", &DEFAULTS), 1);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    assert_int_equal(set_card(&s), 129);
    set_release(&s);

    /* a member of exactly max_listpack_value bytes fits; one more does not */
    memset(buf, 'v', 65);
    buf[65] = 0;
    s = new_for("a", 1, &DEFAULTS);
    add(&s, "a", &DEFAULTS);
    assert_int_equal(set_add(&s, buf, 64, &DEFAULTS), 1);
    assert_int_equal(s.enc, DB_ENC_LISTPACK);
    assert_int_equal(set_add(&s, buf, 65, &DEFAULTS), 1);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    assert_true(set_ismember(&s, buf, 64) && set_ismember(&s, buf, 65) && has(&s, "a"));
    assert_int_equal(set_card(&s), 3);
    set_release(&s);

    /* max_listpack_entries 0: strings go straight to a hashtable */
    set_limits none = {512, 0, 64};
    s = new_for("a", 1, &none);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    set_release(&s);
    s = new_for("1", 1, &none);
    add(&s, "1", &none);
    add(&s, "a", &none);
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    set_release(&s);
}

/* ---- random members, pops ---- */

static void test_random_and_pop(void **state) {
    (void)state;
    const set_limits lims[] = {DEFAULTS, {512, 128, 64}, {0, 0, 64}};
    const char *strs[] = {"a", "bb", "", "1", "2", "-3", "xyz", "01"};
    for (int variant = 0; variant < 3; variant++) {
        /* variant 0: intset, 1: listpack, 2: hashtable */
        const set_limits *lim = &lims[variant];
        model m = {0};
        set_obj s = variant == 0 ? new_for("1", 1, lim) : new_for("a", 1, lim);
        for (int i = 0; i < 40; i++) {
            char buf[16];
            size_t len = variant == 0 ? (size_t)snprintf(buf, sizeof buf, "%d", i * 3 - 20)
                         : i < 8      ? strlen(strcpy(buf, strs[i]))
                                      : (size_t)snprintf(buf, sizeof buf, "m%d", i);
            assert_int_equal(set_add(&s, buf, len, lim), 1);
            model_add(&m, buf, len);
        }
        assert_int_equal(s.enc, variant == 0   ? DB_ENC_INTSET
                                : variant == 1 ? DB_ENC_LISTPACK
                                               : DB_ENC_HASHTABLE);
        check_equal(&s, &m);
        uint64_t rng = 1;
        /* random members are members, and every one comes up */
        seen sn = {0};
        for (int i = 0; i < 2000; i++) {
            set_member mm;
            set_random(&s, &rng, &mm);
            assert_true(model_find(&m, mm.p, mm.len) >= 0);
            model_add(&sn.got, mm.p, mm.len);
        }
        assert_int_equal(sn.got.n, m.n);
        model_free(&sn.got);
        /* distinct samples of every size */
        for (size_t count = 0; count <= 45; count++) {
            seen d = {0};
            set_random_distinct(&s, count, &rng, collect, &d);
            size_t want = count < m.n ? count : m.n;
            assert_int_equal(d.calls, want);
            assert_int_equal(d.got.n, want);
            for (size_t i = 0; i < d.got.n; i++)
                assert_true(model_find(&m, d.got.s[i], d.got.len[i]) >= 0);
            model_free(&d.got);
        }
        /* pop everything: each member once */
        seen popped = {0};
        while (set_card(&s)) {
            size_t before = set_card(&s);
            set_pop(&s, &rng, collect, &popped);
            assert_int_equal(set_card(&s), before - 1);
        }
        assert_int_equal(popped.calls, m.n);
        assert_int_equal(popped.got.n, m.n);
        model_free(&popped.got);
        set_release(&s);
        model_free(&m);
    }
}

/* ---- random operations against the model, with conversions ---- */

static size_t rand_member(char *buf) {
    switch (rnd() % 6) {
    case 0:
    case 1:
        return (size_t)snprintf(buf, 32, "%d", (int)(rnd() % 200) - 50);
    case 2:
        return (size_t)snprintf(buf, 32, "%lld", (long long)(rnd() >> (rnd() % 64)));
    case 3: {
        static const char *odd[] = {"01", "-0", "+1", "", " 1", "1 ", "0x10", "abc"};
        const char *o = odd[rnd() % 8];
        strcpy(buf, o);
        return strlen(o);
    }
    case 4: {
        size_t l = 60 + rnd() % 10; /* around max_listpack_value */
        memset(buf, 'a' + (int)(rnd() % 3), l);
        return l;
    }
    default:
        return (size_t)snprintf(buf, 32, "m%d", (int)(rnd() % 150));
    }
}

static void test_random_model(void **state) {
    (void)state;
    const set_limits lims[] = {{512, 128, 64}, {16, 8, 64}, {4, 300, 64}};
    char buf[80];
    for (int round = 0; round < 30; round++) {
        const set_limits *lim = &lims[round % 3];
        model m = {0};
        size_t len = rand_member(buf);
        set_obj s = set_new_for(buf, len, 1 + rnd() % 4, lim);
        unsigned rank = s.enc == DB_ENC_INTSET ? 0 : s.enc == DB_ENC_LISTPACK ? 1 : 2;
        uint64_t rng = (uint64_t)round;
        for (int step = 0; step < 800; step++) {
            len = rand_member(buf);
            unsigned op = (unsigned)(rnd() % 10);
            if (op < 5) {
                assert_int_equal(set_add(&s, buf, len, lim), model_add(&m, buf, len));
            } else if (op < 8) {
                assert_int_equal(set_remove(&s, buf, len), model_remove(&m, buf, len));
            } else if (op == 8) {
                assert_int_equal(set_ismember(&s, buf, len), model_find(&m, buf, len) >= 0);
            } else if (m.n) {
                seen p = {0};
                set_pop(&s, &rng, collect, &p);
                assert_int_equal(p.calls, 1);
                assert_int_equal(model_remove(&m, p.got.s[0], p.got.len[0]), 1);
                model_free(&p.got);
            }
            /* encodings only go up, and the compact ones respect their limits */
            unsigned r = s.enc == DB_ENC_INTSET ? 0 : s.enc == DB_ENC_LISTPACK ? 1 : 2;
            assert_true(r >= rank);
            rank = r;
            if (s.enc == DB_ENC_INTSET) assert_true(set_card(&s) <= lim->max_intset_entries);
            if (s.enc == DB_ENC_LISTPACK) assert_true(set_card(&s) <= lim->max_listpack_entries);
            if (step % 40 == 0) check_equal(&s, &m);
        }
        check_equal(&s, &m);
        /* a copy: same members, same encoding, same size; independent */
        set_obj d = {set_type_ops.dup(s.ptr, s.enc), s.enc};
        check_equal(&d, &m);
        assert_int_equal(set_type_ops.mem_usage(d.ptr, d.enc, 0), set_mem_usage(&s));
        assert_int_equal(set_type_ops.mem_usage(d.ptr, d.enc, 5), set_mem_usage(&s));
        set_add(&d, "only-in-copy", 12, lim);
        assert_false(set_ismember(&s, "only-in-copy", 12));
        set_type_ops.free(d.ptr, d.enc);
        set_release(&s);
        model_free(&m);
    }
}

/* A hashtable scan returns every member with a non-zero cursor until the end. */
static void test_scan_hashtable(void **state) {
    (void)state;
    set_limits lim = {0, 0, 64};
    set_obj s = new_for("x", 1, &lim);
    char buf[32];
    model m = {0};
    for (int i = 0; i < 1000; i++) {
        size_t len = (size_t)snprintf(buf, sizeof buf, "member:%d", i);
        set_add(&s, buf, len, &lim);
        model_add(&m, buf, len);
    }
    assert_int_equal(s.enc, DB_ENC_HASHTABLE);
    seen sn = {0};
    uint64_t cursor = 0;
    int calls = 0;
    do {
        cursor = set_scan(&s, cursor, 10, collect, &sn);
        calls++;
    } while (cursor);
    assert_true(calls > 10);
    assert_int_equal(sn.got.n, 1000);
    model_free(&sn.got);
    check_equal(&s, &m);
    model_free(&m);
    set_release(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intset_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listpack_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_and_pop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_hashtable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
