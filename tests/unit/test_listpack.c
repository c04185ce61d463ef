#include "db/listpack.h"

#include "alloc/alloc.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SUB ALLOC_SUB_LISTS

static int64_t baseline;

static int setup(void **state) {
    (void)state;
    baseline = alloc_sub_bytes(SUB);
    return 0;
}

/* Every test frees what it made: the subsystem's counter is back where it started. */
static int teardown(void **state) {
    (void)state;
    assert_int_equal(alloc_sub_bytes(SUB), baseline);
    return 0;
}

/* Deterministic PRNG (splitmix64) so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void check_valid(const unsigned char *lp) {
    assert_true(lp_validate(lp, lp_bytes(lp)));
    assert_true(lp_mem_usage(lp) >= lp_bytes(lp));
}

/* The element at p has exactly the bytes s. */
static void assert_elem(const unsigned char *p, const void *s, size_t len) {
    assert_non_null(p);
    unsigned char buf[LP_INTBUF];
    size_t l;
    const unsigned char *b = lp_get_bytes(p, &l, buf);
    assert_int_equal(l, len);
    if (len) assert_memory_equal(b, s, len);
    assert_true(lp_equals(p, s, len));
}

static void assert_elem_str(const unsigned char *p, const char *s) {
    assert_elem(p, s, strlen(s));
}

/* ---- encodings, byte for byte as Redis writes them ---- */

/* Append v as a string and as an integer; both must give `want` (the element's bytes,
 * backlen included) and read back as v. */
static void check_int_encoding(long long v, const unsigned char *want, size_t wlen) {
    char s[32];
    int n = snprintf(s, sizeof s, "%lld", v);
    unsigned char *lp = lp_new(SUB);
    lp = lp_append(SUB, lp, s, (size_t)n);
    lp = lp_append_int(SUB, lp, v);
    assert_int_equal(lp_bytes(lp), 6 + 2 * wlen + 1);
    assert_memory_equal(lp + 6, want, wlen);
    assert_memory_equal(lp + 6 + wlen, want, wlen);
    assert_int_equal(lp_length(lp), 2);
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        long long got = 0;
        size_t len = 99;
        assert_null(lp_get(p, &len, &got));
        assert_true(got == v);
        got = 0;
        assert_int_equal(lp_get_int(p, &got), 1);
        assert_true(got == v);
        assert_elem(p, s, (size_t)n);
    }
    check_valid(lp);
    lp_free(SUB, lp);
}

static void test_int_encodings(void **state) {
    (void)state;
    /* 7-bit unsigned */
    check_int_encoding(0, (const unsigned char[]){0x00, 0x01}, 2);
    check_int_encoding(127, (const unsigned char[]){0x7F, 0x01}, 2);
    /* 13-bit */
    check_int_encoding(128, (const unsigned char[]){0xC0, 0x80, 0x02}, 3);
    check_int_encoding(-1, (const unsigned char[]){0xDF, 0xFF, 0x02}, 3);
    check_int_encoding(4095, (const unsigned char[]){0xCF, 0xFF, 0x02}, 3);
    check_int_encoding(-4096, (const unsigned char[]){0xD0, 0x00, 0x02}, 3);
    /* 16-bit */
    check_int_encoding(4096, (const unsigned char[]){0xF1, 0x00, 0x10, 0x03}, 4);
    check_int_encoding(-4097, (const unsigned char[]){0xF1, 0xFF, 0xEF, 0x03}, 4);
    check_int_encoding(32767, (const unsigned char[]){0xF1, 0xFF, 0x7F, 0x03}, 4);
    check_int_encoding(-32768, (const unsigned char[]){0xF1, 0x00, 0x80, 0x03}, 4);
    /* 24-bit */
    check_int_encoding(32768, (const unsigned char[]){0xF2, 0x00, 0x80, 0x00, 0x04}, 5);
    check_int_encoding(-32769, (const unsigned char[]){0xF2, 0xFF, 0x7F, 0xFF, 0x04}, 5);
    check_int_encoding(8388607, (const unsigned char[]){0xF2, 0xFF, 0xFF, 0x7F, 0x04}, 5);
    check_int_encoding(-8388608, (const unsigned char[]){0xF2, 0x00, 0x00, 0x80, 0x04}, 5);
    /* 32-bit */
    check_int_encoding(8388608, (const unsigned char[]){0xF3, 0x00, 0x00, 0x80, 0x00, 0x05}, 6);
    check_int_encoding(-8388609, (const unsigned char[]){0xF3, 0xFF, 0xFF, 0x7F, 0xFF, 0x05}, 6);
    check_int_encoding(INT32_MAX, (const unsigned char[]){0xF3, 0xFF, 0xFF, 0xFF, 0x7F, 0x05}, 6);
    check_int_encoding(INT32_MIN, (const unsigned char[]){0xF3, 0x00, 0x00, 0x00, 0x80, 0x05}, 6);
    /* 64-bit */
    check_int_encoding(
        (long long)INT32_MAX + 1,
        (const unsigned char[]){0xF4, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x09}, 10);
    check_int_encoding(
        (long long)INT32_MIN - 1,
        (const unsigned char[]){0xF4, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0x09}, 10);
    check_int_encoding(
        LLONG_MAX,
        (const unsigned char[]){0xF4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x09}, 10);
    check_int_encoding(
        LLONG_MIN,
        (const unsigned char[]){0xF4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x09}, 10);
}

/* A string of len bytes: header bytes `hdr`, then the data, then backlen `bl`. */
static void check_str_encoding(size_t len, const unsigned char *hdr, size_t hlen,
                               const unsigned char *bl, size_t bllen) {
    char *s = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)('a' + i % 26);
    unsigned char *lp = lp_new(SUB);
    lp = lp_append(SUB, lp, s, len);
    assert_int_equal(lp_bytes(lp), 6 + hlen + len + bllen + 1);
    assert_memory_equal(lp + 6, hdr, hlen);
    assert_memory_equal(lp + 6 + hlen, s, len);
    assert_memory_equal(lp + 6 + hlen + len, bl, bllen);
    assert_int_equal(lp[lp_bytes(lp) - 1], 0xFF);
    unsigned char *p = lp_first(lp);
    size_t got = 99;
    long long v;
    const unsigned char *b = lp_get(p, &got, &v);
    assert_non_null(b);
    assert_int_equal(got, len);
    assert_int_equal(lp_get_int(p, &v), 0);
    assert_elem(p, s, len);
    assert_ptr_equal(lp_last(lp), p);
    assert_null(lp_next(lp, p));
    assert_null(lp_prev(lp, p));
    check_valid(lp);
    /* and read from the back when it is not alone */
    lp = lp_append(SUB, lp, "x", 1);
    lp = lp_prepend(SUB, lp, "y", 1);
    p = lp_prev(lp, lp_last(lp));
    assert_elem(p, s, len);
    assert_ptr_equal(lp_next(lp, lp_first(lp)), p);
    check_valid(lp);
    lp_free(SUB, lp);
    free(s);
}

static void test_str_encodings(void **state) {
    (void)state;
    check_str_encoding(0, (const unsigned char[]){0x80}, 1, (const unsigned char[]){0x01}, 1);
    check_str_encoding(1, (const unsigned char[]){0x81}, 1, (const unsigned char[]){0x02}, 1);
    check_str_encoding(63, (const unsigned char[]){0xBF}, 1, (const unsigned char[]){0x40}, 1);
    /* 64: 12-bit length; backlen of 66 */
    check_str_encoding(64, (const unsigned char[]){0xE0, 0x40}, 2, (const unsigned char[]){0x42},
                       1);
    /* 126 + 2 = 128: the first two-byte backlen */
    check_str_encoding(126, (const unsigned char[]){0xE0, 0x7E}, 2,
                       (const unsigned char[]){0x01, 0x80}, 2);
    check_str_encoding(125, (const unsigned char[]){0xE0, 0x7D}, 2, (const unsigned char[]){0x7F},
                       1);
    /* 4095: 4097 = 32 * 128 + 1 */
    check_str_encoding(4095, (const unsigned char[]){0xEF, 0xFF}, 2,
                       (const unsigned char[]){0x20, 0x81}, 2);
    /* 4096: 32-bit length; 4101 = 32 * 128 + 5 */
    check_str_encoding(4096, (const unsigned char[]){0xF0, 0x00, 0x10, 0x00, 0x00}, 5,
                       (const unsigned char[]){0x20, 0x85}, 2);
    /* 70000: 70005 = 4 * 16384 + 34 * 128 + 117: a three-byte backlen */
    check_str_encoding(70000, (const unsigned char[]){0xF0, 0x70, 0x11, 0x01, 0x00}, 5,
                       (const unsigned char[]){0x04, 0xA2, 0xF5}, 3);
    /* 16378 + 5 = 16383: Redis writes three bytes from 16383 on */
    check_str_encoding(16378, (const unsigned char[]){0xF0, 0xFA, 0x3F, 0x00, 0x00}, 5,
                       (const unsigned char[]){0x00, 0xFF, 0xFF}, 3);
    check_str_encoding(16377, (const unsigned char[]){0xF0, 0xF9, 0x3F, 0x00, 0x00}, 5,
                       (const unsigned char[]){0x7F, 0xFE}, 2);
}

/* Strings that look like integers but are not canonical stay strings, byte for byte. */
static void test_non_canonical_ints(void **state) {
    (void)state;
    const char *cases[] = {"012",
                           "+1",
                           "-0",
                           " 1",
                           "1 ",
                           "-",
                           "00",
                           "9223372036854775808",
                           "-9223372036854775809",
                           "123456789012345678901",
                           "1e3",
                           "0x10"};
    unsigned char *lp = lp_new(SUB);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        lp = lp_append(SUB, lp, cases[i], strlen(cases[i]));
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        size_t len;
        long long v;
        const unsigned char *s = lp_get(p, &len, &v);
        assert_non_null(s);
        assert_int_equal(len, strlen(cases[i]));
        assert_memory_equal(s, cases[i], len);
        assert_int_equal(lp_get_int(p, &v), 0);
    }
    assert_int_equal(i, sizeof cases / sizeof *cases);
    /* canonical ones are integers */
    lp = lp_append(SUB, lp, "-9223372036854775808", 20);
    long long v = 0;
    size_t len;
    assert_null(lp_get(lp_last(lp), &len, &v));
    assert_true(v == LLONG_MIN);
    /* equality is by bytes: "12" is not "012", whatever the encodings */
    lp = lp_append(SUB, lp, "12", 2);
    assert_true(lp_equals(lp_last(lp), "12", 2));
    assert_false(lp_equals(lp_last(lp), "012", 3));
    assert_false(lp_equals(lp_last(lp), "+12", 3));
    assert_false(lp_equals(lp_first(lp), "12", 2));
    assert_false(lp_equals(lp_first(lp), "01", 2));
    check_valid(lp);
    lp_free(SUB, lp);
}

/* ---- changes at head, middle and tail ---- */

static void expect(unsigned char *lp, const char **want, size_t n) {
    assert_int_equal(lp_length(lp), n);
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        assert_true(i < n);
        assert_elem_str(p, want[i++]);
    }
    assert_int_equal(i, n);
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p))
        assert_elem_str(p, want[--i]);
    assert_int_equal(i, 0);
    check_valid(lp);
}

static void test_insert_replace_delete(void **state) {
    (void)state;
    unsigned char *lp = lp_new(SUB);
    assert_int_equal(lp_length(lp), 0);
    assert_int_equal(lp_bytes(lp), 7);
    assert_null(lp_first(lp));
    assert_null(lp_last(lp));
    assert_null(lp_seek(lp, 0));
    assert_null(lp_seek(lp, -1));
    check_valid(lp);

    lp = lp_append(SUB, lp, "b", 1);
    lp = lp_prepend(SUB, lp, "a", 1);
    lp = lp_append(SUB, lp, "300", 3);
    expect(lp, (const char *[]){"a", "b", "300"}, 3);

    unsigned char *np;
    /* head */
    lp = lp_insert(SUB, lp, lp_first(lp), LP_BEFORE, "h", 1, &np);
    assert_ptr_equal(np, lp_first(lp));
    expect(lp, (const char *[]){"h", "a", "b", "300"}, 4);
    /* middle, after and before */
    lp = lp_insert(SUB, lp, lp_seek(lp, 1), LP_AFTER, "-5000", 5, &np);
    assert_ptr_equal(np, lp_seek(lp, 2));
    lp = lp_insert(SUB, lp, lp_seek(lp, 2), LP_BEFORE, "mid", 3, &np);
    assert_ptr_equal(np, lp_seek(lp, 2));
    expect(lp, (const char *[]){"h", "a", "mid", "-5000", "b", "300"}, 6);
    /* tail */
    lp = lp_insert(SUB, lp, lp_last(lp), LP_AFTER, "t", 1, &np);
    assert_ptr_equal(np, lp_last(lp));
    /* NULL positions: before past-the-end appends, after before-the-start prepends */
    lp = lp_insert(SUB, lp, NULL, LP_BEFORE, "end", 3, NULL);
    lp = lp_insert(SUB, lp, NULL, LP_AFTER, "start", 5, NULL);
    expect(lp, (const char *[]){"start", "h", "a", "mid", "-5000", "b", "300", "t", "end"}, 9);

    /* replace: head, middle (a longer and a shorter element, a string by an int), tail */
    char big[200];
    memset(big, 'z', sizeof big);
    lp = lp_insert(SUB, lp, lp_first(lp), LP_REPLACE, "S", 1, &np);
    assert_ptr_equal(np, lp_first(lp));
    lp = lp_insert(SUB, lp, lp_seek(lp, 3), LP_REPLACE, big, sizeof big, &np);
    assert_ptr_equal(np, lp_seek(lp, 3));
    assert_elem(np, big, sizeof big);
    lp = lp_insert(SUB, lp, lp_seek(lp, 3), LP_REPLACE, "7", 1, NULL);
    lp = lp_insert(SUB, lp, lp_seek(lp, 4), LP_REPLACE, "x", 1, NULL);
    lp = lp_insert(SUB, lp, lp_last(lp), LP_REPLACE, "E", 1, NULL);
    expect(lp, (const char *[]){"S", "h", "a", "7", "x", "b", "300", "t", "E"}, 9);
    size_t before = lp_bytes(lp);
    lp = lp_insert(SUB, lp, NULL, LP_REPLACE, "nothing", 7, &np);
    assert_null(np);
    assert_int_equal(lp_bytes(lp), before);

    /* delete: head, middle, tail; *next is the follower or NULL */
    unsigned char *next;
    lp = lp_delete(SUB, lp, lp_first(lp), &next);
    assert_ptr_equal(next, lp_first(lp));
    assert_elem_str(next, "h");
    lp = lp_delete(SUB, lp, lp_seek(lp, 3), &next);
    assert_elem_str(next, "b");
    lp = lp_delete(SUB, lp, lp_last(lp), &next);
    assert_null(next);
    expect(lp, (const char *[]){"h", "a", "7", "b", "300", "t"}, 6);
    lp = lp_delete(SUB, lp, lp_seek(lp, 1), NULL);
    expect(lp, (const char *[]){"h", "7", "b", "300", "t"}, 5);

    /* delete everything one by one from the front */
    while (lp_first(lp))
        lp = lp_delete(SUB, lp, lp_first(lp), NULL);
    assert_int_equal(lp_length(lp), 0);
    assert_int_equal(lp_bytes(lp), 7);
    check_valid(lp);
    lp_free(SUB, lp);
    lp_free(SUB, NULL);
}

/* Inserting an element's own bytes (an element moved inside one listpack) is safe. */
static void test_insert_from_self(void **state) {
    (void)state;
    char big[5000];
    memset(big, 'q', sizeof big);
    unsigned char *lp = lp_new(SUB);
    lp = lp_append(SUB, lp, "hello", 5);
    lp = lp_append(SUB, lp, big, sizeof big);
    size_t len;
    long long v;
    const unsigned char *s = lp_get(lp_last(lp), &len, &v);
    lp = lp_prepend(SUB, lp, s, len); /* big, hello, big */
    s = lp_get(lp_seek(lp, 1), &len, &v);
    lp = lp_insert(SUB, lp, lp_first(lp), LP_REPLACE, s, len, NULL); /* hello, hello, big */
    s = lp_get(lp_last(lp), &len, &v);
    lp = lp_insert(SUB, lp, lp_first(lp), LP_AFTER, s, len, NULL); /* hello, big, hello, big */
    s = lp_get(lp_first(lp), &len, &v);
    lp = lp_insert(SUB, lp, lp_last(lp), LP_REPLACE, s, len, NULL);
    assert_int_equal(lp_length(lp), 4);
    assert_elem_str(lp_seek(lp, 0), "hello");
    assert_elem(lp_seek(lp, 1), big, sizeof big);
    assert_elem_str(lp_seek(lp, 2), "hello");
    assert_elem_str(lp_seek(lp, 3), "hello");
    check_valid(lp);
    lp_free(SUB, lp);
}

static void test_seek(void **state) {
    (void)state;
    unsigned char *lp = lp_new(SUB);
    char buf[16];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(buf, sizeof buf, "e%d", i);
        lp = lp_append(SUB, lp, buf, (size_t)n);
    }
    for (long long i = -12; i < 12; i++) {
        unsigned char *p = lp_seek(lp, i);
        if (i < -10 || i >= 10) {
            assert_null(p);
            continue;
        }
        long long k = i < 0 ? i + 10 : i;
        int n = snprintf(buf, sizeof buf, "e%lld", k);
        assert_elem(p, buf, (size_t)n);
    }
    assert_null(lp_seek(lp, LLONG_MIN));
    assert_null(lp_seek(lp, LLONG_MAX));
    lp_free(SUB, lp);
}

static void test_delete_range(void **state) {
    (void)state;
    const char *all[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    struct {
        long long index;
        size_t count;
        const char *want[10];
        size_t n;
    } cases[] = {
        {0, 3, {"3", "4", "5", "6", "7", "8", "9"}, 7},
        {-3, 3, {"0", "1", "2", "3", "4", "5", "6"}, 7},
        {4, 2, {"0", "1", "2", "3", "6", "7", "8", "9"}, 8},
        {8, 100, {"0", "1", "2", "3", "4", "5", "6", "7"}, 8},
        {0, 10, {0}, 0},
        {-10, 1000, {0}, 0},
        {5, 0, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, 10},
        {10, 3, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, 10},
        {-11, 3, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, 10},
        {-1, 1, {"0", "1", "2", "3", "4", "5", "6", "7", "8"}, 9},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        unsigned char *lp = lp_new(SUB);
        for (size_t i = 0; i < 10; i++)
            lp = lp_append(SUB, lp, all[i], 1);
        lp = lp_delete_range(SUB, lp, cases[c].index, cases[c].count);
        expect(lp, cases[c].want, cases[c].n);
        lp_free(SUB, lp);
    }
}

static void test_find(void **state) {
    (void)state;
    /* a field/value map where values equal other fields */
    const char *kv[] = {"a", "b", "b", "c", "c", "a", "10", "10", "x", ""};
    unsigned char *lp = lp_new(SUB);
    for (size_t i = 0; i < 10; i++)
        lp = lp_append(SUB, lp, kv[i], strlen(kv[i]));
    unsigned char *first = lp_first(lp);
    assert_ptr_equal(lp_find(lp, first, "b", 1, 1), lp_seek(lp, 2));
    assert_ptr_equal(lp_find(lp, first, "b", 1, 0), lp_seek(lp, 1));
    assert_ptr_equal(lp_find(lp, first, "c", 1, 1), lp_seek(lp, 4));
    assert_ptr_equal(lp_find(lp, first, "10", 2, 1), lp_seek(lp, 6));
    assert_ptr_equal(lp_find(lp, lp_seek(lp, 1), "10", 2, 1), lp_seek(lp, 7));
    assert_ptr_equal(lp_find(lp, first, "", 0, 0), lp_seek(lp, 9));
    assert_null(lp_find(lp, first, "", 0, 1)); /* only a value is empty */
    assert_ptr_equal(lp_find(lp, first, "a", 1, 1), first);
    assert_ptr_equal(lp_find(lp, lp_seek(lp, 1), "a", 1, 1), lp_seek(lp, 5)); /* values only */
    assert_ptr_equal(lp_find(lp, lp_seek(lp, 1), "a", 1, 0), lp_seek(lp, 5));
    assert_null(lp_find(lp, first, "010", 3, 0));
    assert_null(lp_find(lp, first, "missing", 7, 0));
    assert_null(lp_find(lp, NULL, "a", 1, 0));
    /* skip 2: every third element */
    assert_ptr_equal(lp_find(lp, first, "a", 1, 2), first);
    assert_ptr_equal(lp_find(lp, first, "c", 1, 2), lp_seek(lp, 3));
    assert_null(lp_find(lp, first, "b", 1, 2));
    lp_free(SUB, lp);
}

/* More than 65534 elements: the count header says "unknown" and lp_length walks; it comes
 * back once deletions bring the count down. */
static void test_big_count(void **state) {
    (void)state;
    const size_t n = 70000;
    unsigned char *lp = lp_new(SUB);
    for (size_t i = 0; i < n; i++)
        lp = lp_append_int(SUB, lp, (long long)i);
    assert_int_equal(lp_length(lp), n);
    assert_int_equal(lp[4] | lp[5] << 8, 65535);
    check_valid(lp);
    long long v;
    assert_int_equal(lp_get_int(lp_seek(lp, -1), &v), 1);
    assert_int_equal(v, n - 1);
    assert_int_equal(lp_get_int(lp_seek(lp, 69999), &v), 1);
    assert_int_equal(v, 69999);
    assert_int_equal(lp_get_int(lp_seek(lp, -70000), &v), 1);
    assert_int_equal(v, 0);
    assert_int_equal(lp_get_int(lp_seek(lp, 40000), &v), 1);
    assert_int_equal(v, 40000);
    assert_null(lp_seek(lp, 70000));
    assert_null(lp_seek(lp, -70001));
    unsigned char *dup = lp_dup(SUB, lp);
    assert_int_equal(lp_bytes(dup), lp_bytes(lp));
    assert_memory_equal(dup, lp, lp_bytes(lp));
    lp_free(SUB, dup);

    /* one delete still leaves 69999: unknown */
    lp = lp_delete(SUB, lp, lp_first(lp), NULL);
    assert_int_equal(lp_length(lp), n - 1);
    assert_int_equal(lp[4] | lp[5] << 8, 65535);
    /* a range down to 60000: the header knows again */
    lp = lp_delete_range(SUB, lp, 0, 9999);
    assert_int_equal(lp[4] | lp[5] << 8, 60000);
    assert_int_equal(lp_length(lp), 60000);
    assert_int_equal(lp_get_int(lp_first(lp), &v), 1);
    assert_int_equal(v, 10000);
    check_valid(lp);
    /* exactly 65534 then 65535 elements */
    while (lp_length(lp) < 65534)
        lp = lp_append(SUB, lp, "x", 1);
    assert_int_equal(lp[4] | lp[5] << 8, 65534);
    lp = lp_append(SUB, lp, "y", 1);
    assert_int_equal(lp[4] | lp[5] << 8, 65535);
    assert_int_equal(lp_length(lp), 65535);
    check_valid(lp);
    lp = lp_delete(SUB, lp, lp_last(lp), NULL);
    assert_int_equal(lp[4] | lp[5] << 8, 65534);
    check_valid(lp);
    lp_free(SUB, lp);
}

/* ---- validation ---- */

static unsigned char *sample_lp(void) {
    unsigned char *lp = lp_new(SUB);
    char big[300];
    memset(big, 'b', sizeof big);
    lp = lp_append(SUB, lp, "abc", 3);
    lp = lp_append_int(SUB, lp, 5);
    lp = lp_append_int(SUB, lp, -3000);
    lp = lp_append_int(SUB, lp, 1LL << 40);
    lp = lp_append(SUB, lp, big, sizeof big);
    lp = lp_append(SUB, lp, "", 0);
    return lp;
}

static void test_validate(void **state) {
    (void)state;
    unsigned char *lp = sample_lp();
    size_t n = lp_bytes(lp);
    assert_true(lp_validate(lp, n));
    assert_false(lp_validate(lp, n - 1));
    assert_false(lp_validate(lp, n + 1));
    assert_false(lp_validate(NULL, 0));
    assert_false(lp_validate(lp, 6));

    unsigned char *c = malloc(n + 16);
#define CORRUPT(stmt)                                                                              \
    do {                                                                                           \
        memcpy(c, lp, n);                                                                          \
        stmt;                                                                                      \
        assert_false(lp_validate(c, n));                                                           \
    } while (0)
    CORRUPT(c[0] ^= 1);         /* total bytes */
    CORRUPT(c[4] = 7);          /* count */
    CORRUPT(c[n - 1] = 0xFE);   /* end byte */
    CORRUPT(c[6] = 0xF5);       /* no such encoding */
    CORRUPT(c[6] = 0xFF);       /* end byte inside */
    CORRUPT(c[6] = 0x80 | 60);  /* string length disagrees with backlen */
    CORRUPT(c[6 + 4] = 3);      /* backlen of "abc" */
    CORRUPT(c[6 + 4] = 0x84);   /* backlen of "abc" says "more" */
    CORRUPT(c[6] = 0xF0);       /* 32-bit string length from bytes "abc" + backlen */
    CORRUPT(c[n - 2] = 0x03);   /* backlen of the last element */
    CORRUPT(c[6] = 0xE0 | 0xF); /* 12-bit length 0xF61 */
#undef CORRUPT
    /* a listpack of a valid but different layout: ok */
    memcpy(c, lp, n);
    c[6 + 5] = 0x7F; /* 5 -> 127, same size */
    assert_true(lp_validate(c, n));
    /* unknown count is accepted */
    memcpy(c, lp, n);
    c[4] = 0xFF;
    c[5] = 0xFF;
    assert_true(lp_validate(c, n));

    /* random corruption never crashes; what validates walks cleanly in both directions */
    for (int round = 0; round < 20000; round++) {
        size_t m = n;
        memcpy(c, lp, n);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            c[rnd() % m] = (unsigned char)rnd();
        if (rnd() % 8 == 0) {
            m = rnd() % (n + 1);
            if (m >= 4) c[0] = (unsigned char)m, c[1] = (unsigned char)(m >> 8), c[2] = 0, c[3] = 0;
        }
        unsigned char *cc = malloc(m ? m : 1); /* exact size: ASan catches over-reads */
        memcpy(cc, c, m);
        if (lp_validate(cc, m)) {
            size_t fw = 0, bw = 0;
            for (unsigned char *p = lp_first(cc); p; p = lp_next(cc, p)) {
                unsigned char buf[LP_INTBUF];
                size_t len;
                lp_get_bytes(p, &len, buf);
                fw++;
            }
            for (unsigned char *p = lp_last(cc); p; p = lp_prev(cc, p))
                bw++;
            assert_int_equal(fw, bw);
            assert_int_equal(fw, lp_length(cc));
        }
        free(cc);
    }
    free(c);
    lp_free(SUB, lp);
}

/* ---- random operations against a model ---- */

typedef struct model_elem {
    char *s;
    size_t len;
} model_elem;

static size_t rand_value(char *buf) {
    switch (rnd() % 8) {
    case 0: { /* small int */
        return (size_t)snprintf(buf, 32, "%d", (int)(rnd() % 300) - 100);
    }
    case 1: { /* any width */
        long long v = (long long)(rnd() >> (rnd() % 64));
        if (rnd() % 2 && v != LLONG_MIN) v = -v;
        return (size_t)snprintf(buf, 32, "%lld", v);
    }
    case 2: { /* big string across the length boundaries */
        static const size_t lens[] = {63, 64, 127, 128, 4095, 4096, 5000};
        size_t l = lens[rnd() % 7];
        memset(buf, 'a' + (int)(rnd() % 26), l);
        return l;
    }
    case 3:
        return 0;
    case 4:
        memcpy(buf, "012", 3);
        return 3;
    default: {
        size_t l = 1 + rnd() % 20;
        for (size_t i = 0; i < l; i++)
            buf[i] = (char)('a' + rnd() % 26);
        return l;
    }
    }
}

static void model_check(unsigned char *lp, model_elem *m, size_t n) {
    assert_int_equal(lp_length(lp), n);
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++)
        assert_elem(p, m[i].s, m[i].len);
    assert_int_equal(i, n);
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        i--;
        assert_elem(p, m[i].s, m[i].len);
    }
    check_valid(lp);
}

static void test_random_model(void **state) {
    (void)state;
    enum { MAXN = 400 };
    model_elem m[MAXN];
    size_t n = 0;
    char *buf = malloc(6000);
    unsigned char *lp = lp_new(SUB);
    for (int step = 0; step < 6000; step++) {
        unsigned op = (unsigned)(rnd() % 10);
        if (n >= MAXN - 2) op = 6;
        if (op <= 4) { /* insert somewhere */
            size_t len = rand_value(buf);
            size_t at = n ? rnd() % (n + 1) : 0;
            if (at == n) {
                lp = lp_append(SUB, lp, buf, len);
            } else if (at == 0 && rnd() % 2) {
                lp = lp_prepend(SUB, lp, buf, len);
            } else if (rnd() % 2) {
                unsigned char *np;
                lp = lp_insert(SUB, lp, lp_seek(lp, (long long)at), LP_BEFORE, buf, len, &np);
                assert_ptr_equal(np, lp_seek(lp, (long long)at));
            } else {
                unsigned char *np;
                lp = lp_insert(SUB, lp, lp_seek(lp, (long long)at - 1 - (long long)n), LP_AFTER,
                               buf, len, &np);
                assert_ptr_equal(np, lp_seek(lp, (long long)at));
            }
            memmove(m + at + 1, m + at, (n - at) * sizeof *m);
            m[at].s = malloc(len + 1);
            memcpy(m[at].s, buf, len);
            m[at].len = len;
            n++;
        } else if (op == 5 && n) { /* replace */
            size_t len = rand_value(buf);
            size_t at = rnd() % n;
            lp = lp_insert(SUB, lp, lp_seek(lp, (long long)at), LP_REPLACE, buf, len, NULL);
            free(m[at].s);
            m[at].s = malloc(len + 1);
            memcpy(m[at].s, buf, len);
            m[at].len = len;
        } else if (op <= 7 && n) { /* delete one */
            size_t at = rnd() % n;
            unsigned char *next;
            lp = lp_delete(SUB, lp, lp_seek(lp, (long long)at), &next);
            if (at + 1 < n)
                assert_ptr_equal(next, lp_seek(lp, (long long)at));
            else
                assert_null(next);
            free(m[at].s);
            memmove(m + at, m + at + 1, (n - at - 1) * sizeof *m);
            n--;
        } else if (op == 8 && n) { /* delete a range */
            size_t at = rnd() % n;
            size_t cnt = rnd() % 5;
            lp = lp_delete_range(SUB, lp, rnd() % 2 ? (long long)at : (long long)at - (long long)n,
                                 cnt);
            if (cnt > n - at) cnt = n - at;
            for (size_t i = at; i < at + cnt; i++)
                free(m[i].s);
            memmove(m + at, m + at + cnt, (n - at - cnt) * sizeof *m);
            n -= cnt;
        } else if (n) { /* find */
            size_t at = rnd() % n;
            unsigned char *p = lp_find(lp, lp_first(lp), m[at].s, m[at].len, 0);
            size_t first = 0;
            while (m[first].len != m[at].len ||
                   (m[first].len && memcmp(m[first].s, m[at].s, m[at].len) != 0))
                first++;
            assert_ptr_equal(p, lp_seek(lp, (long long)first));
        }
        if (step % 50 == 0 || n < 4) model_check(lp, m, n);
    }
    model_check(lp, m, n);
    unsigned char *d = lp_dup(SUB, lp);
    model_check(d, m, n);
    assert_int_equal(lp_mem_usage(d), lp_mem_usage(lp));
    lp_free(SUB, d);
    for (size_t i = 0; i < n; i++)
        free(m[i].s);
    lp_free(SUB, lp);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_int_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_str_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_canonical_ints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_replace_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_from_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
