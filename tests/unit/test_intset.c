#include "db/intset.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SUB ALLOC_SUB_SETS

static int64_t baseline;

static int setup(void **state) {
    (void)state;
    baseline = alloc_sub_bytes(SUB);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    assert_int_equal(alloc_sub_bytes(SUB), baseline);
    return 0;
}

static uint64_t rng_state = 12345;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void check(const intset *is, const int64_t *want, size_t n) {
    assert_int_equal(intset_len(is), n);
    for (size_t i = 0; i < n; i++) {
        assert_true(intset_get(is, i) == want[i]);
        assert_true(intset_find(is, want[i]));
    }
    assert_int_equal(intset_blob_len(is), 8 + (size_t)intset_width(is) * n);
    assert_true(intset_mem_usage(is) >= intset_blob_len(is));
    assert_true(intset_validate(is, intset_blob_len(is)));
}

static void test_empty_and_basic(void **state) {
    (void)state;
    intset *is = intset_new(SUB);
    assert_int_equal(intset_len(is), 0);
    assert_int_equal(intset_width(is), 2);
    assert_int_equal(intset_blob_len(is), 8);
    assert_false(intset_find(is, 0));
    assert_true(intset_validate(is, 8));
    int r = -1;
    is = intset_remove(SUB, is, 5, &r);
    assert_int_equal(r, 0);

    int added = -1;
    is = intset_add(SUB, is, 5, &added);
    assert_int_equal(added, 1);
    is = intset_add(SUB, is, 5, &added);
    assert_int_equal(added, 0);
    is = intset_add(SUB, is, -3, NULL);
    is = intset_add(SUB, is, 100, NULL);
    is = intset_add(SUB, is, 7, NULL);
    is = intset_add(SUB, is, 6, NULL);
    check(is, (const int64_t[]){-3, 5, 6, 7, 100}, 5);
    assert_false(intset_find(is, 4));
    assert_false(intset_find(is, 101));
    assert_false(intset_find(is, -4));
    assert_false(intset_find(is, INT64_MAX)); /* wider than the set: not even searched */

    is = intset_remove(SUB, is, 6, &r);
    assert_int_equal(r, 1);
    is = intset_remove(SUB, is, 6, &r);
    assert_int_equal(r, 0);
    is = intset_remove(SUB, is, 1LL << 40, &r);
    assert_int_equal(r, 0);
    is = intset_remove(SUB, is, -3, NULL);  /* head */
    is = intset_remove(SUB, is, 100, NULL); /* tail */
    check(is, (const int64_t[]){5, 7}, 2);
    is = intset_remove(SUB, is, 5, NULL);
    is = intset_remove(SUB, is, 7, NULL);
    check(is, NULL, 0);
    intset_free(SUB, is);
    intset_free(SUB, NULL);
}

/* The width is the smallest that holds every member, upgraded at the exact boundaries, with
 * the new member at either end; it never narrows. */
static void test_widths(void **state) {
    (void)state;
    struct {
        int64_t v;
        unsigned width;
    } cases[] = {
        {0, 2},
        {INT16_MAX, 2},
        {INT16_MIN, 2},
        {(int64_t)INT16_MAX + 1, 4},
        {(int64_t)INT16_MIN - 1, 4},
        {INT32_MAX, 4},
        {INT32_MIN, 4},
        {(int64_t)INT32_MAX + 1, 8},
        {(int64_t)INT32_MIN - 1, 8},
        {INT64_MAX, 8},
        {INT64_MIN, 8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        intset *is = intset_new(SUB);
        is = intset_add(SUB, is, cases[c].v, NULL);
        assert_int_equal(intset_width(is), cases[c].width);
        assert_true(intset_get(is, 0) == cases[c].v);
        intset_free(SUB, is);
    }

    /* upgrades with members already there: a positive value appends, a negative prepends */
    intset *is = intset_new(SUB);
    for (int64_t v = -5; v <= 5; v++)
        is = intset_add(SUB, is, v, NULL);
    is = intset_add(SUB, is, 40000, NULL);
    assert_int_equal(intset_width(is), 4);
    is = intset_add(SUB, is, -40000, NULL);
    is = intset_add(SUB, is, INT64_MIN, NULL);
    assert_int_equal(intset_width(is), 8);
    is = intset_add(SUB, is, INT64_MAX, NULL);
    int64_t want[16];
    size_t n = 0;
    want[n++] = INT64_MIN;
    want[n++] = -40000;
    for (int64_t v = -5; v <= 5; v++)
        want[n++] = v;
    want[n++] = 40000;
    want[n++] = INT64_MAX;
    check(is, want, n);
    /* removing the wide members keeps the width */
    is = intset_remove(SUB, is, INT64_MIN, NULL);
    is = intset_remove(SUB, is, INT64_MAX, NULL);
    assert_int_equal(intset_width(is), 8);
    check(is, want + 1, n - 2);
    intset_free(SUB, is);

    /* an upgrade straight from 2 to 8 bytes, positive */
    is = intset_new(SUB);
    is = intset_add(SUB, is, 1, NULL);
    is = intset_add(SUB, is, -1, NULL);
    is = intset_add(SUB, is, 1LL << 50, NULL);
    check(is, (const int64_t[]){-1, 1, 1LL << 50}, 3);
    intset_free(SUB, is);
}

static void test_random_member(void **state) {
    (void)state;
    intset *is = intset_new(SUB);
    for (int64_t v = 0; v < 10; v++)
        is = intset_add(SUB, is, v * 1000, NULL);
    int seen[10] = {0};
    uint64_t rng = 0; /* a zero state works too */
    for (int i = 0; i < 2000; i++) {
        int64_t v = intset_random(is, &rng);
        assert_true(v % 1000 == 0 && v >= 0 && v < 10000);
        seen[v / 1000]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(seen[i] > 100); /* every member, roughly fairly */
    intset *one = intset_new(SUB);
    one = intset_add(SUB, one, -7, NULL);
    assert_true(intset_random(one, &rng) == -7);
    intset_free(SUB, one);
    intset_free(SUB, is);
}

static void test_validate(void **state) {
    (void)state;
    intset *is = intset_new(SUB);
    for (int64_t v = 0; v < 5; v++)
        is = intset_add(SUB, is, v * 3, NULL);
    size_t n = intset_blob_len(is);
    unsigned char buf[64];
    memcpy(buf, is, n);
    assert_true(intset_validate(buf, n));
    assert_false(intset_validate(buf, n - 1));
    assert_false(intset_validate(buf, n + 2));
    assert_false(intset_validate(buf, 4));
    assert_false(intset_validate(NULL, 0));
    buf[0] = 3; /* width */
    assert_false(intset_validate(buf, n));
    memcpy(buf, is, n);
    buf[4] = 6; /* count */
    assert_false(intset_validate(buf, n));
    memcpy(buf, is, n);
    memcpy(buf + 8, buf + 10, 2); /* a duplicate */
    assert_false(intset_validate(buf, n));
    memcpy(buf, is, n);
    buf[8 + 1] = 0x7F; /* first member huge: out of order */
    assert_false(intset_validate(buf, n));
    /* unaligned input */
    memcpy(buf + 1, is, n);
    assert_true(intset_validate(buf + 1, n));
    intset_free(SUB, is);
}

static int64_t rand_value(void) {
    switch (rnd() % 4) {
    case 0:
        return (int64_t)(rnd() % 64) - 32;
    case 1:
        return (int16_t)rnd();
    case 2:
        return (int32_t)rnd();
    default:
        return (int64_t)rnd();
    }
}

/* Random adds and removes against a sorted array; each round uses one width range at most,
 * or all, so both small and upgraded sets are exercised. */
static void test_random_model(void **state) {
    (void)state;
    enum { MAXN = 600 };
    int64_t *m = malloc(MAXN * sizeof *m);
    for (int round = 0; round < 20; round++) {
        size_t n = 0;
        intset *is = intset_new(SUB);
        unsigned maxw = 2;
        for (int step = 0; step < 1500; step++) {
            int64_t v = rnd() % 3 == 0 && n ? m[rnd() % n] : rand_value();
            if (round % 4 == 0) v = (int16_t)v; /* stays at 2 bytes */
            size_t pos = 0;
            while (pos < n && m[pos] < v)
                pos++;
            int present = pos < n && m[pos] == v;
            int changed;
            if (rnd() % 3 != 0 && n < MAXN) {
                is = intset_add(SUB, is, v, &changed);
                assert_int_equal(changed, !present);
                if (!present) {
                    memmove(m + pos + 1, m + pos, (n - pos) * sizeof *m);
                    m[pos] = v;
                    n++;
                }
                unsigned w = v < INT32_MIN || v > INT32_MAX   ? 8
                             : v < INT16_MIN || v > INT16_MAX ? 4
                                                              : 2;
                if (w > maxw) maxw = w;
            } else {
                is = intset_remove(SUB, is, v, &changed);
                assert_int_equal(changed, present);
                if (present) {
                    memmove(m + pos, m + pos + 1, (n - pos - 1) * sizeof *m);
                    n--;
                }
            }
            assert_int_equal(intset_width(is), maxw);
            assert_int_equal(intset_find(is, v), pos < n && m[pos] == v);
            if (step % 100 == 0) check(is, m, n);
        }
        check(is, m, n);
        intset *d = intset_dup(SUB, is);
        check(d, m, n);
        intset_free(SUB, d);
        intset_free(SUB, is);
    }
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_and_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_widths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
