#include "util/util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int glob(const char *pat, const char *str) {
    return util_glob_match(pat, strlen(pat), str, strlen(str), 0);
}

static int globi(const char *pat, const char *str) {
    return util_glob_match(pat, strlen(pat), str, strlen(str), 1);
}

static void test_glob_basic(void **state) {
    (void)state;
    assert_true(glob("", ""));
    assert_false(glob("", "a"));
    assert_false(glob("a", ""));
    assert_true(glob("*", ""));
    assert_true(glob("**", ""));
    assert_true(glob("*", "anything"));
    assert_true(glob("hello", "hello"));
    assert_false(glob("hello", "hell"));
    assert_false(glob("hell", "hello"));
    assert_true(glob("h?llo", "hello"));
    assert_true(glob("h?llo", "hallo"));
    assert_false(glob("h?llo", "hllo"));
    assert_true(glob("h*llo", "hllo"));
    assert_true(glob("h*llo", "heeeello"));
    assert_true(glob("user:*", "user:1000"));
    assert_false(glob("user:*", "users:1000"));
    assert_true(glob("*:*", "a:b"));
    assert_false(glob("*:*", "ab"));
    assert_true(glob("*a", "bbba"));
    assert_false(glob("*a", "bbab"));
    assert_true(glob("a*b*c", "axxbyyc"));
    assert_true(glob("a*b*c", "abc"));
    assert_false(glob("a*b*c", "acb"));
    assert_true(glob("*abc*", "xxabcxx"));
    assert_true(glob("a*", "a"));
    assert_true(glob("a**b", "ab"));
    assert_true(glob("?*", "x"));
    assert_false(glob("?*", ""));
    assert_true(glob("*?", "x"));
    assert_true(glob("*x*y*", "--x--x--y"));
    /* The star must backtrack past a false start. */
    assert_true(glob("*aab", "aaab"));
    assert_true(glob("*ab*ab", "ababab"));
}

static void test_glob_classes(void **state) {
    (void)state;
    assert_true(glob("h[ae]llo", "hello"));
    assert_true(glob("h[ae]llo", "hallo"));
    assert_false(glob("h[ae]llo", "hillo"));
    assert_true(glob("h[^e]llo", "hallo"));
    assert_false(glob("h[^e]llo", "hello"));
    /* Only ^ negates, as in Redis: "!" is an ordinary member of the class. */
    assert_true(glob("h[!e]llo", "hello"));
    assert_true(glob("h[!e]llo", "h!llo"));
    assert_false(glob("h[!e]llo", "hallo"));
    assert_true(glob("h[a-b]llo", "hbllo"));
    assert_false(glob("h[a-b]llo", "hcllo"));
    assert_true(glob("[z-a]", "m")); /* reversed range, as Redis */
    assert_true(glob("[0-9][0-9]", "42"));
    assert_false(glob("[0-9][0-9]", "4x"));
    assert_true(glob("[^0-9]", "x"));
    assert_false(glob("[^0-9]", "5"));
    assert_true(glob("[abc-]", "-")); /* '-' before ']' is literal */
    assert_true(glob("[-abc]", "-")); /* and so at the start */
    assert_false(glob("[a-]", "b"));
    assert_true(glob("[\\]]", "]")); /* escaped ']' inside a class */
    assert_true(glob("[\\-]", "-"));
    assert_false(glob("[]", "a")); /* ']' right after '[' closes an empty class */
    assert_true(glob("[^]", "a"));
    assert_true(glob("[abc", "b")); /* unterminated class runs to the end */
    assert_false(glob("[abc", "d"));
    assert_true(glob("x[a-c]*[0-2]", "xb--1"));
    assert_false(glob("[a-c]", ""));
    /* Bytes above 0x7f compare unsigned. */
    assert_true(glob("[\x01-\xff]", "\xe9"));
    assert_true(glob("caf[\xe0-\xef]", "caf\xe9"));
}

static void test_glob_escapes(void **state) {
    (void)state;
    assert_true(glob("\\*", "*"));
    assert_false(glob("\\*", "a"));
    assert_true(glob("\\?", "?"));
    assert_false(glob("\\?", "x"));
    assert_true(glob("a\\[b", "a[b"));
    assert_true(glob("\\\\", "\\"));
    assert_true(glob("\\a", "a"));
    assert_true(glob("a\\", "a\\")); /* trailing lone backslash is literal */
    assert_false(glob("a\\", "a"));
    assert_true(glob("*\\*", "abc*"));
    assert_false(glob("*\\*", "abc"));
}

static void test_glob_nocase(void **state) {
    (void)state;
    assert_true(globi("HELLO", "hello"));
    assert_true(globi("hello", "HeLLo"));
    assert_false(glob("HELLO", "hello"));
    assert_true(globi("h[A-C]llo", "hbllo"));
    assert_true(globi("h[a-c]llo", "hBllo"));
    assert_false(glob("h[a-c]llo", "hBllo"));
    assert_true(globi("[^a]", "b"));
    assert_false(globi("[^a]", "A"));
    assert_true(globi("\\A", "a"));
    assert_true(globi("*X*", "abxcd"));
}

static void test_glob_binary(void **state) {
    (void)state;
    const char str[] = {'a', '\0', 'b'};
    const char pat[] = {'a', '?', 'b'};
    const char pat2[] = {'a', '\0', '*'};
    assert_true(util_glob_match(pat, 3, str, 3, 0));
    assert_true(util_glob_match(pat2, 3, str, 3, 0));
    assert_true(util_glob_match("a*", 2, str, 3, 0));
    assert_false(util_glob_match("a", 1, str, 3, 0));
}

static void test_glob_pathological(void **state) {
    (void)state;
    size_t n = 100000;
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    int64_t t0 = util_monotonic_us();
    const char *p1 = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    assert_false(util_glob_match(p1, strlen(p1), s, n, 0));
    const char *p2 = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a";
    assert_true(util_glob_match(p2, strlen(p2), s, n, 0));
    const char *p3 = "*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b";
    assert_false(util_glob_match(p3, strlen(p3), s, n, 0));
    const char *p4 = "*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[b]";
    assert_false(util_glob_match(p4, strlen(p4), s, n, 0));
    int64_t elapsed = util_monotonic_us() - t0;
    /* Exponential backtracking would take years; linear-ish work takes well under a second
     * even under sanitizers. */
    assert_true(elapsed < 2000000);
    free(s);
}

static void check_ll_ok(const char *s, long long want) {
    long long v = 12345;
    assert_int_equal(util_parse_ll(s, strlen(s), &v), 0);
    assert_true(v == want);
}

static void check_ll_bad(const char *s) {
    long long v = 12345;
    assert_int_equal(util_parse_ll(s, strlen(s), &v), -1);
}

static void test_parse_ll(void **state) {
    (void)state;
    check_ll_ok("0", 0);
    check_ll_ok("1", 1);
    check_ll_ok("-1", -1);
    check_ll_ok("1234567890", 1234567890LL);
    check_ll_ok("9223372036854775807", 9223372036854775807LL);
    check_ll_ok("-9223372036854775808", -9223372036854775807LL - 1);
    check_ll_bad("");
    check_ll_bad("-");
    check_ll_bad("01");
    check_ll_bad("00");
    check_ll_bad("-0");
    check_ll_bad("-01");
    check_ll_bad("9223372036854775808");
    check_ll_bad("-9223372036854775809");
    check_ll_bad("18446744073709551616");
    check_ll_bad("99999999999999999999");
    check_ll_bad("123456789012345678901");
    check_ll_bad(" 1");
    check_ll_bad("1 ");
    check_ll_bad("+1");
    check_ll_bad("1a");
    check_ll_bad("0x10");
    check_ll_bad("1.0");
    /* Length is honoured: no NUL needed, none read past len. */
    long long v;
    assert_int_equal(util_parse_ll("123456", 3, &v), 0);
    assert_true(v == 123);
    assert_int_equal(util_parse_ll("1\0", 2, &v), -1);
    assert_int_equal(util_parse_ll("77", 2, NULL), 0);
}

static void test_parse_ld(void **state) {
    (void)state;
    long double v = 0;
    assert_int_equal(util_parse_ld("1.5", 3, &v), 0);
    assert_true(v == 1.5L);
    assert_int_equal(util_parse_ld("-0.25", 5, &v), 0);
    assert_true(v == -0.25L);
    assert_int_equal(util_parse_ld("10", 2, &v), 0);
    assert_true(v == 10.0L);
    assert_int_equal(util_parse_ld("5.0e3", 5, &v), 0);
    assert_true(v == 5000.0L);
    assert_int_equal(util_parse_ld("1e4000", 6, &v), 0); /* fits a long double */
    assert_int_equal(util_parse_ld("", 0, &v), -1);
    assert_int_equal(util_parse_ld(" 1", 2, &v), -1);
    assert_int_equal(util_parse_ld("\t1", 2, &v), -1);
    assert_int_equal(util_parse_ld("1 ", 2, &v), -1);
    assert_int_equal(util_parse_ld("1x", 2, &v), -1);
    assert_int_equal(util_parse_ld("abc", 3, &v), -1);
    assert_int_equal(util_parse_ld("nan", 3, &v), -1);
    assert_int_equal(util_parse_ld("NaN", 3, &v), -1);
    assert_int_equal(util_parse_ld("1e99999", 7, &v), -1);  /* overflow */
    assert_int_equal(util_parse_ld("-1e99999", 8, &v), -1); /* overflow */
    assert_int_equal(util_parse_ld("1e-99999", 8, &v), -1); /* underflow to zero */
    assert_int_equal(util_parse_ld("1\0", 2, &v), -1);
    assert_int_equal(util_parse_ld("2.5abc", 3, &v), 0); /* only len bytes are read */
    assert_true(v == 2.5L);
    char big[6000];
    memset(big, '1', sizeof(big));
    assert_int_equal(util_parse_ld(big, sizeof(big), &v), -1); /* longer than Redis accepts */
}

static void check_ld(long double v, const char *want) {
    char buf[5 * 1024];
    size_t n = util_format_ld(buf, sizeof(buf), v);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static void test_format_ld(void **state) {
    (void)state;
    check_ld(3.0L, "3");
    check_ld(10.5L, "10.5");
    check_ld(-10.5L, "-10.5");
    check_ld(0.0L, "0");
    check_ld(-0.0L, "0");
    check_ld(1.1L + 0.1L, "1.2");
    check_ld(10.5L + 0.1L, "10.6");
    check_ld(5.0e3L, "5000");
    check_ld(1e-20L, "0");
    check_ld(-1e-20L, "0");
    check_ld(0.000001L, "0.000001");
    check_ld(100.0L, "100");
    check_ld(1.0L / 0.0L, "inf");
    check_ld(-1.0L / 0.0L, "-inf");
    /* Round trip of a parsed value, as INCRBYFLOAT does. */
    long double v;
    assert_int_equal(util_parse_ld("3.0e3", 5, &v), 0);
    check_ld(v + 200.0L, "3200");
    /* Too small a buffer: 0, never an overflow. */
    char small[4];
    assert_int_equal(util_format_ld(small, sizeof(small), 12345.0L), 0);
    assert_int_equal(util_format_ld(small, sizeof(small), 1.0L / 0.0L), 0);
    /* The largest long double fits the documented 5 KiB. */
    char buf[5 * 1024];
    long double big;
    assert_int_equal(util_parse_ld("1e4932", 6, &big), 0);
    assert_true(util_format_ld(buf, sizeof(buf), big) > 4900);
}

/* util_format_fixed against printf itself: random doubles of every magnitude, exact halves
 * (ties to even), negative ones and zeros, the fall-backs. */
static void check_fixed(double v, int decimals) {
    char want[512], got[512];
    snprintf(want, sizeof(want), "%.*f", decimals, v);
    size_t n = util_format_fixed(got, sizeof(got), v, decimals);
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);
}

static void test_format_fixed(void **state) {
    (void)state;
    /* clang-format off */
    static const double fixed[] = {0.0, -0.0, 0.03125, 0.09375, 1.00005, 2.5, 3.5, 0.5, 1.5,
                                   166274.15160000001, 1e-300, 5e-324, 4503599627370495.5,
                                   4503599627370496.0, 1e300, 123456789.123456789};
    /* clang-format on */
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        for (int d = 0; d <= 9; d++) {
            check_fixed(fixed[i], d);
            check_fixed(-fixed[i], d);
        }
    check_fixed(1.0 / 0.0, 4);
    check_fixed(-1.0 / 0.0, 4);
    check_fixed(0.0 / 0.0, 4);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        if (i % 3 == 0) { /* any bit pattern */
            memcpy(&v, &x, sizeof(v));
        } else { /* values of every scale, and exact multiples of small powers of two */
            v = ldexp((double)(x >> 11), (int)(x % 90) - 100);
            if (i % 3 == 2) v = floor(v * 64) / 64;
        }
        check_fixed(v, (int)(x >> 60) % 10);
    }
    char small[6];
    assert_int_equal(util_format_fixed(small, sizeof(small), 1.5, 4), 0); /* "1.5000" + NUL */
    assert_int_equal(util_format_fixed(small, sizeof(small), 1.5, 3), 5);
}

static void test_format_ll(void **state) {
    (void)state;
    char buf[32];
    assert_int_equal(util_format_ll(buf, 0), 1);
    assert_string_equal(buf, "0");
    assert_int_equal(util_format_ll(buf, -7), 2);
    assert_string_equal(buf, "-7");
    assert_int_equal(util_format_ll(buf, 9223372036854775807LL), 19);
    assert_string_equal(buf, "9223372036854775807");
    assert_int_equal(util_format_ll(buf, -9223372036854775807LL - 1), 20);
    assert_string_equal(buf, "-9223372036854775808");
    long long v;
    for (long long x = -100000; x <= 100000; x += 997) {
        size_t n = util_format_ll(buf, x);
        assert_int_equal(util_parse_ll(buf, n, &v), 0);
        assert_true(v == x);
    }
}

static void check_mem_ok(const char *s, long long want) {
    long long v = -1;
    assert_int_equal(util_parse_memory(s, &v), 0);
    assert_true(v == want);
}

static void test_parse_memory(void **state) {
    (void)state;
    check_mem_ok("0", 0);
    check_mem_ok("1024", 1024);
    check_mem_ok("1b", 1);
    check_mem_ok("100k", 100000);
    check_mem_ok("100K", 100000);
    check_mem_ok("1kb", 1024);
    check_mem_ok("1KB", 1024);
    check_mem_ok("2m", 2000000);
    check_mem_ok("512mb", 512LL * 1024 * 1024);
    check_mem_ok("512Mb", 512LL * 1024 * 1024);
    check_mem_ok("3g", 3000000000LL);
    check_mem_ok("1gb", 1024LL * 1024 * 1024);
    check_mem_ok("8589934591gb", 8589934591LL * 1024 * 1024 * 1024);
    long long v;
    /* As Redis's memtoull: no digits is 0. */
    assert_int_equal(util_parse_memory("", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(util_parse_memory("gb", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(util_parse_memory("-1", &v), -1);
    assert_int_equal(util_parse_memory("+1", &v), -1);
    assert_int_equal(util_parse_memory(" 1", &v), -1);
    assert_int_equal(util_parse_memory("1 ", &v), -1);
    assert_int_equal(util_parse_memory("1tb", &v), -1);
    assert_int_equal(util_parse_memory("1.5gb", &v), -1);
    assert_int_equal(util_parse_memory("1gbb", &v), -1);
    /* Well-formed but too big: -2 (the config says "between ... inclusive"), never a wrap. */
    assert_int_equal(util_parse_memory("8589934592gb", &v), -2);
    assert_int_equal(util_parse_memory("99999999999999999999", &v), -2);
    assert_int_equal(util_parse_memory("9223372036854775807gb", &v), -2);
    assert_int_equal(util_parse_memory("9223372036854775808", &v), -2);
    assert_int_equal(util_parse_memory("9223372036854775807", &v), 0);
    assert_true(v == 9223372036854775807LL);
    assert_int_equal(util_parse_memory("8589934591GB", &v), 0);
    assert_true(v == 8589934591LL * 1024 * 1024 * 1024);
    assert_int_equal(util_parse_memory("9223372036854775808k", &v), -2);
    assert_int_equal(util_parse_memory("9223372036854775x", &v), -1);
}

static void check_human(long long n, const char *want) {
    char buf[32];
    util_format_human_bytes(buf, sizeof(buf), n);
    assert_string_equal(buf, want);
}

static void test_human_bytes(void **state) {
    (void)state;
    check_human(0, "0B");
    check_human(1023, "1023B");
    check_human(1024, "1.00K");
    check_human(1536, "1.50K");
    check_human(1024LL * 1024, "1.00M");
    check_human(1572864, "1.50M");
    check_human(1024LL * 1024 * 1024 * 3, "3.00G");
    check_human(1024LL * 1024 * 1024 * 1024, "1.00T");
    check_human(1024LL * 1024 * 1024 * 1024 * 1024 * 2, "2.00P");
    check_human(-2048, "-2.00K");
    check_human(1152921504606846976LL, "1152921504606846976B"); /* 1 EiB: plain bytes */
    char tiny[4];
    util_format_human_bytes(tiny, sizeof(tiny), 123456);
    assert_int_equal(strlen(tiny), 3); /* truncated, terminated */
}

static void test_clocks(void **state) {
    (void)state;
    int64_t ms = util_mstime(), us = util_ustime();
    assert_true(ms > 1600000000000LL);
    assert_true(us / 1000 - ms < 1000);
    int64_t m1 = util_monotonic_us(), m2 = util_monotonic_us();
    assert_true(m2 >= m1);
}

/* A file of exactly cap - 1 bytes fits; one byte more is "too long" (-2) with the head kept; a
 * missing file is -1. */
static void test_read_small_file(void **state) {
    (void)state;
    char path[] = "/tmp/memkv-test-util-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\n", 7), 7);
    close(fd);
    char buf[8];
    assert_int_equal(util_read_small_file(path, buf, sizeof(buf)), 7);
    assert_string_equal(buf, "secret\n");
    char small[7];
    assert_int_equal(util_read_small_file(path, small, sizeof(small)), -2);
    assert_string_equal(small, "secret");
    assert_int_equal(util_read_small_file(path, buf, 0), -1);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(util_read_small_file(path, buf, sizeof(buf)), -1);
    char stat[1024];
    assert_true(util_read_small_file("/proc/self/stat", stat, sizeof(stat)) > 0);
    assert_non_null(strchr(stat, ')'));
}

static void check_sha1(const char *in, size_t len, const char *want) {
    char out[41];
    util_sha1_hex(in, len, out);
    assert_string_equal(out, want);
}

static void test_sha1(void **state) {
    (void)state;
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_sha1("return 1", 8, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    /* 56 and 64 bytes: the length no longer fits the first padded block / a whole block. */
    const char *m56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha1(m56, strlen(m56), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char m64[65];
    memset(m64, 'a', 64);
    check_sha1(m64, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

typedef struct split_seen {
    int n, refuse_at;
    char args[8][16];
} split_seen;

static int seen_arg(void *ctx, char *arg, size_t len) {
    split_seen *s = ctx;
    if (s->n == s->refuse_at || s->n == 8 || len >= 16) return -1;
    memcpy(s->args[s->n], arg, len);
    s->args[s->n][len] = '\0';
    s->n++;
    return 0;
}

static long split(const char *in, split_seen *s, int refuse_at) {
    static char line[64];
    size_t n = strlen(in);
    memcpy(line, in, n + 1);
    memset(s, 0, sizeof(*s));
    s->refuse_at = refuse_at;
    return util_split_args(line, n, seen_arg, s);
}

static void test_split_args(void **state) {
    (void)state;
    split_seen s;
    /* Quotes, escapes (\x41, \n, an unknown escape keeps its character), single quotes with
     * \' and an empty quoted argument; spaces of every kind between arguments. */
    assert_int_equal(split(" set\t\"a b\" 'c\\'d' \"\\x41\\n\\q\" \"\"\v", &s, -1), 5);
    assert_string_equal(s.args[0], "set");
    assert_string_equal(s.args[1], "a b");
    assert_string_equal(s.args[2], "c'd");
    assert_string_equal(s.args[3], "A\nq");
    assert_string_equal(s.args[4], "");
    /* A closing quote must end the argument; quotes must close. */
    assert_int_equal(split("\"a\"b", &s, -1), -1);
    assert_int_equal(split("'a", &s, -1), -1);
    assert_int_equal(split("\"a", &s, -1), -1);
    assert_int_equal(split("   ", &s, -1), 0);
    /* A refusal stops the split. */
    assert_int_equal(split("a b c", &s, 1), -1);
    assert_int_equal(s.n, 1);
    /* A NUL byte ends the line, as in the C string sdssplitargs walks. */
    char line[] = {'a', ' ', 'b', '\0', 'c'};
    memset(&s, 0, sizeof(s));
    s.refuse_at = -1;
    assert_int_equal(util_split_args(line, sizeof(line), seen_arg, &s), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_basic),      cmocka_unit_test(test_glob_classes),
        cmocka_unit_test(test_glob_escapes),    cmocka_unit_test(test_glob_nocase),
        cmocka_unit_test(test_glob_binary),     cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_parse_ll),        cmocka_unit_test(test_parse_ld),
        cmocka_unit_test(test_format_ld),       cmocka_unit_test(test_format_ll),
        cmocka_unit_test(test_format_fixed),    cmocka_unit_test(test_parse_memory),
        cmocka_unit_test(test_human_bytes),     cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_read_small_file), cmocka_unit_test(test_sha1),
        cmocka_unit_test(test_split_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
