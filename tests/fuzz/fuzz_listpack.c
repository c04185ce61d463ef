/* listpack and intset (src/db/listpack.c, src/db/intset.c): the blobs a future RDB loader
 * hands to lp_validate / intset_validate, and the editing calls.
 *
 * Byte 0 picks the mode:
 *  - even: the rest is a listpack blob (exact-size copy, so any read past it is an ASan
 *    report). lp_validate must not crash; when it accepts, walking forward and backward visits
 *    the same elements, their count is lp_length, every element reads (bytes, integer) and an
 *    integer element formats to a canonical integer, and lp_seek agrees with the walk. The same
 *    bytes also go to intset_validate; when it accepts, members are strictly ascending and
 *    intset_find finds each.
 *  - odd: the rest is a program of edits (append, prepend, insert before/after, replace,
 *    delete, delete_range) with values drawn from the input, applied to a listpack and to a
 *    plain array model; after every step the listpack validates and holds exactly the model's
 *    elements, both ways. Integers go to an intset and a sorted model the same way. */
#include "fuzz.h"

#include "db/intset.h"
#include "db/listpack.h"
#include "util/util.h"

#include <string.h>

#define SUB ALLOC_SUB_LISTS
#define MAXN 64

static void check_blob(const uint8_t *data, size_t size) {
    unsigned char *lp = malloc(size ? size : 1);
    FUZZ_CHECK(lp != NULL);
    memcpy(lp, data, size);
    if (lp_validate(lp, size)) {
        size_t fw = 0;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
            unsigned char buf[LP_INTBUF];
            size_t len;
            long long v;
            const unsigned char *s = lp_get(p, &len, &v);
            if (!s) {
                size_t n = util_format_ll((char *)buf, v);
                long long back;
                FUZZ_CHECK(util_parse_ll((char *)buf, n, &back) == 0 && back == v);
                FUZZ_CHECK(lp_get_int(p, &back) == 1 && back == v);
            }
            lp_get_bytes(p, &len, buf);
            FUZZ_CHECK(lp_seek(lp, (long long)fw) == p);
            fw++;
        }
        size_t bw = 0;
        for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
            bw++;
            FUZZ_CHECK(lp_seek(lp, -(long long)bw) == p);
        }
        FUZZ_CHECK(fw == bw && fw == lp_length(lp));
        FUZZ_CHECK(lp_seek(lp, (long long)fw) == NULL);
    }
    if (intset_validate(lp, size)) {
        const intset *is = (const intset *)lp; /* malloc'ed: aligned */
        for (size_t i = 0; i < intset_len(is); i++) {
            FUZZ_CHECK(intset_find(is, intset_get(is, i)));
            if (i) FUZZ_CHECK(intset_get(is, i - 1) < intset_get(is, i));
        }
    }
    free(lp);
}

typedef struct elem {
    unsigned char s[80];
    size_t len;
} elem;

static void check_model(unsigned char *lp, const elem *m, size_t n) {
    FUZZ_CHECK(lp_validate(lp, lp_bytes(lp)));
    FUZZ_CHECK(lp_length(lp) == n);
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        unsigned char buf[LP_INTBUF];
        size_t len;
        const unsigned char *s = lp_get_bytes(p, &len, buf);
        FUZZ_CHECK(len == m[i].len && memcmp(s, m[i].s, len) == 0);
        FUZZ_CHECK(lp_equals(p, m[i].s, m[i].len));
    }
    FUZZ_CHECK(i == n);
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        FUZZ_CHECK(i > 0);
        i--;
        FUZZ_CHECK(lp_equals(p, m[i].s, m[i].len));
    }
}

static void run_program(const uint8_t *data, size_t size) {
    elem m[MAXN];
    size_t n = 0, pos = 0;
    unsigned char *lp = lp_new(SUB);
    intset *is = intset_new(SUB);
    int64_t sorted[MAXN];
    size_t ns = 0;
    while (pos + 2 <= size) {
        unsigned op = data[pos] % 8, arg = data[pos + 1];
        pos += 2;
        /* a value: up to arg % 80 bytes of the input (often digits, so integers come up) */
        elem e;
        e.len = arg % 80;
        if (e.len > size - pos) e.len = size - pos;
        memcpy(e.s, data + pos, e.len);
        pos += e.len;
        size_t at = n ? (size_t)arg % (n + 1) : 0;
        if (op <= 3 && n < MAXN) {
            if (op == 0 || at == n) {
                lp = lp_append(SUB, lp, e.s, e.len);
                at = n;
            } else if (op == 1) {
                lp = lp_prepend(SUB, lp, e.s, e.len);
                at = 0;
            } else {
                unsigned char *np;
                lp = lp_insert(SUB, lp, lp_seek(lp, (long long)at), LP_BEFORE, e.s, e.len, &np);
                FUZZ_CHECK(np == lp_seek(lp, (long long)at));
            }
            memmove(m + at + 1, m + at, (n - at) * sizeof(*m));
            m[at] = e;
            n++;
        } else if (op == 4 && n) {
            at %= n;
            lp = lp_insert(SUB, lp, lp_seek(lp, (long long)at), LP_REPLACE, e.s, e.len, NULL);
            m[at] = e;
        } else if (op == 5 && n) {
            at %= n;
            lp = lp_delete(SUB, lp, lp_seek(lp, (long long)at), NULL);
            memmove(m + at, m + at + 1, (n - at - 1) * sizeof(*m));
            n--;
        } else if (op == 6 && n) {
            at %= n;
            size_t cnt = e.len % 5;
            lp = lp_delete_range(SUB, lp, (long long)at - (long long)n, cnt);
            if (cnt > n - at) cnt = n - at;
            memmove(m + at, m + at + cnt, (n - at - cnt) * sizeof(*m));
            n -= cnt;
        } else if (op == 7) {
            long long v;
            if (e.len && e.len < 21 && util_parse_ll((char *)e.s, e.len, &v) == 0) {
                int added, present = intset_find(is, v);
                if (arg & 1) {
                    is = intset_remove(SUB, is, v, &added);
                    FUZZ_CHECK(added == present);
                    if (present) {
                        size_t k = 0;
                        while (sorted[k] != v)
                            k++;
                        memmove(sorted + k, sorted + k + 1, (ns - k - 1) * sizeof(*sorted));
                        ns--;
                    }
                } else if (ns < MAXN) {
                    is = intset_add(SUB, is, v, &added);
                    FUZZ_CHECK(added == !present);
                    if (added) {
                        size_t k = 0;
                        while (k < ns && sorted[k] < v)
                            k++;
                        memmove(sorted + k + 1, sorted + k, (ns - k) * sizeof(*sorted));
                        sorted[k] = v;
                        ns++;
                    }
                }
                FUZZ_CHECK(intset_len(is) == ns);
                for (size_t k = 0; k < ns; k++)
                    FUZZ_CHECK(intset_get(is, k) == sorted[k]);
                FUZZ_CHECK(intset_validate(is, intset_blob_len(is)));
            }
        }
        check_model(lp, m, n);
    }
    lp_free(SUB, lp);
    intset_free(SUB, is);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int64_t before = alloc_sub_bytes(SUB);
    if (data[0] & 1)
        run_program(data + 1, size - 1);
    else
        check_blob(data + 1, size - 1);
    FUZZ_CHECK(alloc_sub_bytes(SUB) == before);
    return 0;
}
