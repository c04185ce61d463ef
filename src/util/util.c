#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- glob ------------------------------------------------------------------------------- */

static inline unsigned char glob_fold(unsigned char c, int nocase) {
    return (nocase && c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Matches the single-character token at pat[p] ('?', a [class], an escape or a literal; never
 * '*') against c. Sets *next to the index just past the token. Classes follow Redis:
 * [abc] [^abc] [a-z] (bounds in either order) [\]] ; ']' right after '[' closes an empty
 * class; an unterminated class runs to the end of the pattern. We also take [!abc] for
 * negation, and a '-' right before the closing ']' is a literal (as in fnmatch). */
static int glob_token(const unsigned char *pat, size_t plen, size_t p, unsigned char c, int nocase,
                      size_t *next) {
    unsigned char fc = glob_fold(c, nocase);
    switch (pat[p]) {
    case '?':
        *next = p + 1;
        return 1;
    case '\\':
        if (p + 1 < plen) {
            *next = p + 2;
            return glob_fold(pat[p + 1], nocase) == fc;
        }
        *next = p + 1; /* a lone trailing backslash is literal */
        return fc == '\\';
    case '[': {
        size_t i = p + 1;
        int negate = 0, match = 0;
        if (i < plen && pat[i] == '^') {
            negate = 1;
            i++;
        }
        while (i < plen && pat[i] != ']') {
            if (pat[i] == '\\' && i + 1 < plen) {
                if (glob_fold(pat[i + 1], nocase) == fc) match = 1;
                i += 2;
            } else if (i + 2 < plen && pat[i + 1] == '-' && pat[i + 2] != ']') {
                unsigned char lo = glob_fold(pat[i], nocase), hi = glob_fold(pat[i + 2], nocase);
                if (lo > hi) {
                    unsigned char t = lo;
                    lo = hi;
                    hi = t;
                }
                if (fc >= lo && fc <= hi) match = 1;
                i += 3;
            } else {
                if (glob_fold(pat[i], nocase) == fc) match = 1;
                i++;
            }
        }
        *next = i < plen ? i + 1 : plen;
        return negate ? !match : match;
    }
    default:
        *next = p + 1;
        return glob_fold(pat[p], nocase) == fc;
    }
}

/* Every token but '*' consumes exactly one character, so when a later part fails it is enough
 * to let the LAST star swallow one more character and retry from just after it: earlier stars
 * never need to be revisited. That bounds the work by O(plen * slen) without recursion. */
int util_glob_match(const char *pattern, size_t plen, const char *string, size_t slen, int nocase) {
    const unsigned char *pat = (const unsigned char *)pattern;
    const unsigned char *str = (const unsigned char *)string;
    size_t p = 0, s = 0;
    size_t star_p = 0, star_s = 0;
    int have_star = 0;

    while (s < slen) {
        if (p < plen) {
            if (pat[p] == '*') {
                while (p < plen && pat[p] == '*')
                    p++;
                if (p == plen) return 1; /* trailing star eats the rest */
                have_star = 1;
                star_p = p;
                star_s = s;
                continue;
            }
            size_t next;
            if (glob_token(pat, plen, p, str[s], nocase, &next)) {
                p = next;
                s++;
                continue;
            }
        }
        if (!have_star) return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* ---- numbers ---------------------------------------------------------------------------- */

int util_parse_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len >= 21) return -1;
    if (len == 1 && s[0] == '0') {
        if (out) *out = 0;
        return 0;
    }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return -1;
    }
    if (s[i] < '1' || s[i] > '9') return -1; /* no leading zeros, no "-0", no sign but '-' */
    unsigned long long v = (unsigned long long)(s[i++] - '0');
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        if (out) *out = -(long long)(v - 1) - 1;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        if (out) *out = (long long)v;
    }
    return 0;
}

/* Redis's MAX_LONG_DOUBLE_CHARS. */
#define UTIL_LD_MAX_CHARS (5 * 1024)

int util_parse_ld(const char *s, size_t len, long double *out) {
    char buf[UTIL_LD_MAX_CHARS];
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* strtold skips leading space itself; Redis refuses it. */
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r')) return -1;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != len) return -1; /* trailing garbage or an embedded NUL */
    if (errno == EINVAL) return -1;
    if (errno == ERANGE && (isinf(v) || v == 0.0L)) return -1; /* overflow or underflow to 0 */
    if (isnan(v)) return -1;
    if (out) *out = v;
    return 0;
}

size_t util_format_ll(char *buf, long long v) {
    char tmp[21];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

size_t util_format_ld(char *buf, size_t cap, long double v) {
    size_t len;
    if (isinf(v)) {
        if (cap < 5) return 0;
        len = v > 0 ? 3 : 4;
        memcpy(buf, v > 0 ? "inf" : "-inf", len);
    } else if (isnan(v)) {
        if (cap < 4) return 0;
        len = 3;
        memcpy(buf, "nan", len);
    } else {
        int n = snprintf(buf, cap, "%.17Lf", v);
        if (n < 0 || (size_t)n + 1 > cap) return 0;
        len = (size_t)n;
        if (memchr(buf, '.', len)) {
            while (buf[len - 1] == '0')
                len--;
            if (buf[len - 1] == '.') len--;
        }
        if (len == 2 && buf[0] == '-' && buf[1] == '0') {
            buf[0] = '0';
            len = 1;
        }
    }
    buf[len] = '\0';
    return len;
}

size_t util_format_fixed(char *buf, size_t cap, double v, int decimals) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    int exp = (int)(bits >> 52 & 0x7ff);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    int k = exp ? 1075 - exp : 1074; /* v = m * 2^-k */
    if (exp) m |= UINT64_C(1) << 52;
    if (exp == 0x7ff || k <= 0 || decimals < 0 || decimals > 9 || cap < 32) {
        int n = snprintf(buf, cap, "%.*f", decimals, v); /* inf, nan, >= 2^52, odd requests */
        return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
    }
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    /* v * scale rounded to an integer, half to even, as printf rounds the exact binary value */
    unsigned __int128 p = (unsigned __int128)m * scale, q = 0;
    if (k < 128) {
        q = p >> k;
        unsigned __int128 rest = p & (((unsigned __int128)1 << k) - 1);
        unsigned __int128 half = (unsigned __int128)1 << (k - 1);
        if (rest > half || (rest == half && (q & 1))) q++;
    }
    uint64_t whole = (uint64_t)(q / scale), frac = (uint64_t)(q % scale);
    size_t len = 0;
    if (bits >> 63) buf[len++] = '-';
    len += util_format_ll(buf + len, (long long)whole);
    if (decimals) {
        buf[len++] = '.';
        for (int i = decimals - 1; i >= 0; i--) {
            buf[len + (size_t)i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        len += (size_t)decimals;
    }
    buf[len] = '\0';
    return len;
}

/* ---- memory sizes ----------------------------------------------------------------------- */

int util_parse_memory(const char *s, long long *out) {
    const char *u = s;
    while (*u >= '0' && *u <= '9')
        u++;
    /* No digits ("" or "gb") is 0, as Redis's memtoull has it. */

    long long mul;
    if (*u == '\0' || strcasecmp(u, "b") == 0)
        mul = 1;
    else if (strcasecmp(u, "k") == 0)
        mul = 1000;
    else if (strcasecmp(u, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(u, "m") == 0)
        mul = 1000LL * 1000;
    else if (strcasecmp(u, "mb") == 0)
        mul = 1024LL * 1024;
    else if (strcasecmp(u, "g") == 0)
        mul = 1000LL * 1000 * 1000;
    else if (strcasecmp(u, "gb") == 0)
        mul = 1024LL * 1024 * 1024;
    else
        return -1;

    long long v = 0;
    for (const char *p = s; p < u; p++) {
        int d = *p - '0';
        if (v > (LLONG_MAX - d) / 10) return -2;
        v = v * 10 + d;
    }
    if (v > LLONG_MAX / mul) return -2;
    if (out) *out = v * mul;
    return 0;
}

void util_format_human_bytes(char *buf, size_t cap, long long bytes) {
    static const char units[] = "KMGTP";
    const char *sign = bytes < 0 ? "-" : "";
    unsigned long long n = bytes < 0 ? 0ULL - (unsigned long long)bytes : (unsigned long long)bytes;
    if (cap == 0) return;
    if (n < 1024) {
        snprintf(buf, cap, "%s%lluB", sign, n);
        return;
    }
    unsigned long long div = 1024;
    for (int i = 0; i < 5; i++, div *= 1024) {
        if (n < div * 1024) {
            snprintf(buf, cap, "%s%.2f%c", sign, (double)n / (double)div, units[i]);
            return;
        }
    }
    snprintf(buf, cap, "%s%lluB", sign, n); /* exbibytes: as Redis, plain bytes */
}

/* ---- clocks ----------------------------------------------------------------------------- */

int64_t util_mstime(void) {
    return util_ustime() / 1000;
}

int64_t util_ustime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long util_read_small_file(const char *path, char *buf, size_t cap) {
    if (cap == 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    long ret = 0;
    for (;;) {
        char spare;
        int full = len + 1 >= cap; /* one more byte would not fit: is there one? */
        ssize_t r = full ? read(fd, &spare, 1) : read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) ret = -1;
        if (r > 0 && full) ret = -2;
        if (r <= 0 || full) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return ret < 0 ? ret : (long)len;
}

/* ---- sdssplitargs ---- */

static inline int split_is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline int split_hex_val(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long util_split_args(char *line, size_t n, util_arg_fn emit, void *ctx) {
    const char *nul = memchr(line, '\0', n);
    if (nul) n = (size_t)(nul - line);
/* Past the end reads as NUL, like the C string sdssplitargs walks. */
#define AT(i) ((i) < n ? (unsigned char)line[i] : 0)
    size_t r = 0, w = 0, argc = 0;
    for (;;) {
        while (r < n && split_is_space((unsigned char)line[r]))
            r++;
        if (r >= n) break;
        size_t start = w;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            int c = AT(r);
            if (inq) {
                int h1, h2;
                if (c == '\\' && AT(r + 1) == 'x' && (h1 = split_hex_val(AT(r + 2))) >= 0 &&
                    (h2 = split_hex_val(AT(r + 3))) >= 0) {
                    line[w++] = (char)(h1 * 16 + h2);
                    r += 3;
                } else if (c == '\\' && AT(r + 1)) {
                    r++;
                    switch (line[r]) {
                    case 'n':
                        line[w++] = '\n';
                        break;
                    case 'r':
                        line[w++] = '\r';
                        break;
                    case 't':
                        line[w++] = '\t';
                        break;
                    case 'b':
                        line[w++] = '\b';
                        break;
                    case 'a':
                        line[w++] = '\a';
                        break;
                    default:
                        line[w++] = line[r];
                        break;
                    }
                } else if (c == '"') {
                    /* A closing quote must be followed by a space or nothing at all. */
                    if (AT(r + 1) && !split_is_space(AT(r + 1))) return -1;
                    done = 1;
                } else if (!c) {
                    return -1; /* unterminated quotes */
                } else {
                    line[w++] = (char)c;
                }
            } else if (insq) {
                if (c == '\\' && AT(r + 1) == '\'') {
                    r++;
                    line[w++] = '\'';
                } else if (c == '\'') {
                    if (AT(r + 1) && !split_is_space(AT(r + 1))) return -1;
                    done = 1;
                } else if (!c) {
                    return -1;
                } else {
                    line[w++] = (char)c;
                }
            } else {
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    line[w++] = (char)c;
                    break;
                }
            }
            if (c) r++;
        }
        if (emit(ctx, line + start, w - start) < 0) return -1;
        argc++;
    }
#undef AT
    return (long)argc;
}
