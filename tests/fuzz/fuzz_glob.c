/* Glob matcher (util_glob_match, src/util/util.c), the engine of KEYS, SCAN MATCH and
 * CONFIG GET.
 *
 * Input: byte 0 = flags (bit 0 nocase), then pattern and string separated by the first NUL
 * (no NUL: the first half is the pattern). Checks beyond "no crash":
 *  - bounded work: the matcher runs against a reference backtracking matcher with a step
 *    budget; the reference gives up on patterns that blow up, the real one must not (each call
 *    is timed by libFuzzer's -timeout; a quadratic bound, not an exponential one);
 *  - where the reference finishes, the answers agree. The reference implements the same
 *    documented semantics (util.h) recursively: * ? [..] [^..] [!..] ranges in either order,
 *    \ escapes, a '-' before ']' literal, an unterminated class running to the end;
 *  - nocase: matching is the same as matching both sides folded to lower case;
 *  - a pattern without any special byte matches exactly the strings equal to it;
 *  - "*" + pattern + "*" matches whenever pattern does (patterns without '[' and a final '\'). */
#include "fuzz.h"

#include "util/util.h"

#include <string.h>

static unsigned char fold(unsigned char c, int nocase) {
    return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* One token at p against c: 1/0, *next past it. */
static int ref_token(const unsigned char *pat, size_t plen, size_t p, unsigned char c, int nc,
                     size_t *next) {
    unsigned char fc = fold(c, nc);
    if (pat[p] == '?') {
        *next = p + 1;
        return 1;
    }
    if (pat[p] == '\\') {
        if (p + 1 < plen) {
            *next = p + 2;
            return fold(pat[p + 1], nc) == fc;
        }
        *next = p + 1;
        return fc == '\\';
    }
    if (pat[p] != '[') {
        *next = p + 1;
        return fold(pat[p], nc) == fc;
    }
    size_t i = p + 1;
    int neg = 0, m = 0;
    if (i < plen && pat[i] == '^') {
        neg = 1;
        i++;
    }
    for (; i < plen && pat[i] != ']';) {
        if (pat[i] == '\\' && i + 1 < plen) {
            m |= fold(pat[i + 1], nc) == fc;
            i += 2;
        } else if (i + 2 < plen && pat[i + 1] == '-' && pat[i + 2] != ']') {
            unsigned char a = fold(pat[i], nc), b = fold(pat[i + 2], nc);
            unsigned char lo = a < b ? a : b, hi = a < b ? b : a;
            m |= fc >= lo && fc <= hi;
            i += 3;
        } else {
            m |= fold(pat[i], nc) == fc;
            i++;
        }
    }
    *next = i < plen ? i + 1 : plen;
    return neg ? !m : m;
}

/* Plain recursive backtracking; -1 when the budget runs out. */
static int ref_match(const unsigned char *pat, size_t plen, size_t p, const unsigned char *str,
                     size_t slen, size_t s, int nc, long *budget) {
    while (p < plen) {
        if (--*budget < 0) return -1;
        if (pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen) return 1;
            for (size_t k = s; k <= slen; k++) {
                int r = ref_match(pat, plen, p, str, slen, k, nc, budget);
                if (r != 0) return r;
            }
            return 0;
        }
        if (s >= slen) return 0;
        size_t next;
        if (!ref_token(pat, plen, p, str[s], nc, &next)) return 0;
        p = next;
        s++;
    }
    return s == slen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int nocase = data[0] & 1;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    const char *sep = memchr(body, '\0', n);
    size_t plen = sep ? (size_t)(sep - body) : n / 2;
    const char *str = sep ? sep + 1 : body + plen;
    size_t slen = n - plen - (sep ? 1 : 0);
    /* Exact-size copies, so a read past either end is an ASan report. */
    char *pat = malloc(plen ? plen : 1), *s = malloc(slen ? slen : 1);
    FUZZ_CHECK(pat && s);
    memcpy(pat, body, plen);
    memcpy(s, str, slen);

    int got = util_glob_match(pat, plen, s, slen, nocase);
    FUZZ_CHECK(got == 0 || got == 1);
    long budget = 200000;
    int want = ref_match((const unsigned char *)pat, plen, 0, (const unsigned char *)s, slen, 0,
                         nocase, &budget);
    if (want >= 0) FUZZ_CHECK(got == want);

    if (nocase) {
        char *lp = malloc(plen ? plen : 1), *ls = malloc(slen ? slen : 1);
        FUZZ_CHECK(lp && ls);
        for (size_t i = 0; i < plen; i++)
            lp[i] = (char)fold((unsigned char)pat[i], 1);
        for (size_t i = 0; i < slen; i++)
            ls[i] = (char)fold((unsigned char)s[i], 1);
        FUZZ_CHECK(util_glob_match(lp, plen, ls, slen, 0) == got);
        free(lp);
        free(ls);
    }
    if (!memchr(pat, '*', plen) && !memchr(pat, '?', plen) && !memchr(pat, '[', plen) &&
        !memchr(pat, '\\', plen) && !nocase)
        FUZZ_CHECK(got == (plen == slen && memcmp(pat, s, plen) == 0));
    if (got) {
        char *wrapped = malloc(plen + 2);
        FUZZ_CHECK(wrapped != NULL);
        wrapped[0] = '*';
        memcpy(wrapped + 1, pat, plen);
        wrapped[plen + 1] = '*';
        /* Not when a trailing '\' would escape the star, or an unterminated class take it in. */
        if (!(plen > 0 && pat[plen - 1] == '\\') && !memchr(pat, '[', plen))
            FUZZ_CHECK(util_glob_match(wrapped, plen + 2, s, slen, nocase) == 1);
        free(wrapped);
    }
    free(pat);
    free(s);
    return 0;
}
