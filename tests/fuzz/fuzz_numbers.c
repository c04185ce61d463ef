/* Number parsers (src/util/util.c): util_parse_ll, util_parse_ld, util_parse_memory, and the
 * formatters behind them.
 *
 * Checks beyond "no crash":
 *  - util_parse_ll agrees with a reference built on strtoll plus Redis's string2ll rules
 *    (digits with an optional '-', no leading zeros, no "-0", at most 20 bytes, in range);
 *  - a value util_parse_ll accepts formats back (util_format_ll) to exactly the input bytes,
 *    and any long long formats to text that parses back to itself;
 *  - util_parse_ld: a parsed value is not NaN and formats (util_format_ld) to text that parses
 *    again; formatting is stable after one round (format(parse(format(v))) == format(v));
 *  - util_parse_memory agrees with a reference computed in 128-bit arithmetic (digits, one of
 *    b k kb m mb g gb in any case), overflow included: a product over LLONG_MAX is refused;
 *  - util_format_human_bytes writes a NUL-terminated string for any value. */
#include "fuzz.h"

#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static int ref_parse_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20) return -1;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == len) return -1;
    for (size_t k = i; k < len; k++)
        if (s[k] < '0' || s[k] > '9') return -1;
    if (s[i] == '0' && (len > 1)) return -1; /* leading zero, "-0" */
    char buf[32];
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (errno == ERANGE || *end != '\0') return -1;
    *out = v;
    return 0;
}

static void check_ll(const char *s, size_t len) {
    long long a = 0, b = 0;
    int ra = util_parse_ll(s, len, &a);
    int rb = ref_parse_ll(s, len, &b);
    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK(util_parse_ll(s, len, NULL) == ra);
    if (ra != 0) return;
    FUZZ_CHECK(a == b);
    char buf[32];
    size_t n = util_format_ll(buf, a);
    FUZZ_CHECK(n == len && memcmp(buf, s, len) == 0);
}

static void check_ll_value(long long v) {
    char buf[32];
    size_t n = util_format_ll(buf, v);
    FUZZ_CHECK(n > 0 && n <= 20 && buf[n] == '\0');
    long long back;
    FUZZ_CHECK(util_parse_ll(buf, n, &back) == 0 && back == v);
}

static void check_ld(const char *s, size_t len) {
    long double v;
    if (util_parse_ld(s, len, &v) != 0) return;
    FUZZ_CHECK(!isnan(v)); /* "inf" is accepted, as Redis's string2ld does */
    static char a[5 * 1024], b[5 * 1024];
    size_t na = util_format_ld(a, sizeof(a), v);
    FUZZ_CHECK(na > 0 && na < sizeof(a) && a[na] == '\0');
    long double w;
    FUZZ_CHECK(util_parse_ld(a, na, &w) == 0);
    size_t nb = util_format_ld(b, sizeof(b), w);
    long double x;
    FUZZ_CHECK(util_parse_ld(b, nb, &x) == 0);
    /* %.17Lf rounds: after one round the text is a fixed point. */
    size_t nc = util_format_ld(a, sizeof(a), x);
    FUZZ_CHECK(nc == nb && memcmp(a, b, nb) == 0);
    /* Too small a buffer is refused, never overrun. */
    char tiny[8];
    size_t nt = util_format_ld(tiny, sizeof(tiny), v);
    FUZZ_CHECK(nt < sizeof(tiny));
}

static int ref_parse_memory(const char *s, long long *out) {
    size_t d = strspn(s, "0123456789"); /* none ("", "gb") is 0, as Redis's memtoull */
    const char *u = s + d;
    __int128 mul;
    if (*u == '\0' || strcasecmp(u, "b") == 0)
        mul = 1;
    else if (strcasecmp(u, "k") == 0)
        mul = 1000;
    else if (strcasecmp(u, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(u, "m") == 0)
        mul = 1000000;
    else if (strcasecmp(u, "mb") == 0)
        mul = 1024 * 1024;
    else if (strcasecmp(u, "g") == 0)
        mul = 1000000000;
    else if (strcasecmp(u, "gb") == 0)
        mul = (__int128)1024 * 1024 * 1024;
    else
        return -1;
    __int128 v = 0;
    for (size_t i = 0; i < d; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > LLONG_MAX) return -2;
    }
    v *= mul;
    if (v > LLONG_MAX) return -2;
    *out = (long long)v;
    return 0;
}

static void check_memory(const char *s) {
    long long a = -1, b = -1;
    int ra = util_parse_memory(s, &a);
    int rb = ref_parse_memory(s, &b);
    FUZZ_CHECK(ra == rb);
    if (ra == 0) {
        FUZZ_CHECK(a == b && a >= 0);
        char buf[32], h[64];
        size_t n = util_format_ll(buf, a);
        long long back;
        FUZZ_CHECK(util_parse_memory(buf, &back) == 0 && back == a && n > 0);
        util_format_human_bytes(h, sizeof(h), a);
        FUZZ_CHECK(memchr(h, '\0', sizeof(h)) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    check_ll(s, size);
    /* Every prefix length up to 21, so the length bounds are crossed. */
    for (size_t n = 0; n <= size && n <= 21; n++)
        check_ll(s, n);
    if (size >= sizeof(long long)) {
        long long v;
        memcpy(&v, data, sizeof(v));
        check_ll_value(v);
        char h[8];
        util_format_human_bytes(h, sizeof(h), v);
        FUZZ_CHECK(memchr(h, '\0', sizeof(h)) != NULL);
    }
    check_ll_value(LLONG_MIN);
    check_ld(s, size);

    char *z = malloc(size + 1);
    FUZZ_CHECK(z != NULL);
    memcpy(z, data, size);
    z[size] = '\0';
    check_memory(z);
    free(z);
    return 0;
}
