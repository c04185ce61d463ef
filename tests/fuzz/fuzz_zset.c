/* sorted sets (src/db/t_zset.c over src/db/skiplist.c and the listpack): the input is a
 * program of operations applied to one sorted set and to a sorted-array model.
 *
 * Byte 0 sets the listpack thresholds (entries 0..7, member length 0..7), so conversions both
 * ways happen all the time; then each operation takes a few bytes: ZADD with every flag
 * combination (INCR giving NaN included), ZREM, range deletes by rank and by score (inclusive,
 * exclusive, infinite ends), pops at both ends, the STORE shrink, a conversion to the skiplist,
 * and a copy. After every step: same elements in the same order both ways, every score and
 * rank found, score ranges counted right, a full ZSCAN sees every member, and the zsets
 * subsystem's counter equals the value's exact size; at the end it is back where it was. */
#include "fuzz.h"

#include "db/db.h"
#include "db/t_zset.h"

#include <math.h>
#include <string.h>

#define MAXN 24

static const char *const MEMBERS[] = {"",   "a",   "aa",          "ab",   "b",
                                      "m1", "m10", "m2",          "z",    "-1",
                                      "0",  "1",   "12345678901", "\xff", "longer-member"};
#define NM (sizeof(MEMBERS) / sizeof(MEMBERS[0]))
static const double SCORES[] = {0,     -0.0,   1,        1,         2, -1,  0.5,
                                1e300, -1e300, INFINITY, -INFINITY, 3, 1.1, 4611686018427387904.0};
#define NS (sizeof(SCORES) / sizeof(SCORES[0]))

typedef struct melem {
    double s;
    unsigned m;
} melem;

static int before(const melem *a, double s, unsigned m) {
    if (a->s != s) return a->s < s;
    return zsl_cmp_bytes(MEMBERS[a->m], strlen(MEMBERS[a->m]), MEMBERS[m], strlen(MEMBERS[m])) < 0;
}

static long model_find(const melem *md, size_t n, unsigned m) {
    for (size_t i = 0; i < n; i++)
        if (md[i].m == m) return (long)i;
    return -1;
}

static void model_insert(melem *md, size_t *n, double s, unsigned m) {
    size_t p = 0;
    while (p < *n && before(&md[p], s, m))
        p++;
    memmove(&md[p + 1], &md[p], (*n - p) * sizeof(melem));
    md[p].s = s;
    md[p].m = m;
    (*n)++;
}

static void model_remove(melem *md, size_t *n, size_t p) {
    memmove(&md[p], &md[p + 1], (*n - p - 1) * sizeof(melem));
    (*n)--;
}

static void scan_cb(void *ctx, const unsigned char *m, size_t len, const char *score, size_t slen) {
    (void)score;
    (void)slen;
    unsigned *seen = ctx;
    for (unsigned i = 0; i < NM; i++)
        if (strlen(MEMBERS[i]) == len && memcmp(MEMBERS[i], m, len) == 0) seen[i]++;
}

static void check(const zobj *z, const melem *md, size_t n, int64_t base) {
    FUZZ_CHECK(zset_length(z) == n);
    zset_iter it;
    const unsigned char *m;
    size_t len, i = 0;
    double s;
    for (zset_iter_at_rank(&it, z, 0, 0); zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it)) {
        FUZZ_CHECK(i < n);
        FUZZ_CHECK(s == md[i].s);
        FUZZ_CHECK(len == strlen(MEMBERS[md[i].m]) && memcmp(m, MEMBERS[md[i].m], len) == 0);
        FUZZ_CHECK(zset_rank(z, m, len, 0, NULL) == (long)i);
        i++;
    }
    FUZZ_CHECK(i == n);
    for (zset_iter_at_rank(&it, z, 0, 1); zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it))
        i--;
    FUZZ_CHECK(i == 0);
    unsigned seen[NM] = {0};
    uint64_t cursor = 0;
    do {
        cursor = zset_scan(z, cursor, 3, scan_cb, seen);
    } while (cursor);
    for (size_t k = 0; k < n; k++)
        FUZZ_CHECK(seen[md[k].m] >= 1);
    FUZZ_CHECK(alloc_sub_bytes(ALLOC_SUB_ZSETS) - base ==
               (int64_t)zset_mem_usage(z->ptr, z->enc, 0));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    uint8_t seed[16] = {7};
    db_set_hash_seed(seed);
    return 0;
}

static int in_range(const zrange_score *r, double s) {
    return zrange_score_gte_min(r, s) && zrange_score_lte_max(r, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_ZSETS);
    zset_limits lim = {data[0] & 7, (data[0] >> 3) & 7};
    zobj z;
    zset_create(&z, 1, &lim);
    melem md[MAXN];
    size_t n = 0, i = 1;
    while (i + 3 <= size) {
        uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
        i += 3;
        unsigned m = a % NM;
        double s = SCORES[b % NS];
        long at = model_find(md, n, m);
        switch (op % 9) {
        case 0:
        case 1:
        case 2: { /* ZADD with flags from the high bits of op */
            int flags = (op >> 3) & 0x1f, out;
            double ns = 0;
            if ((flags & ZADD_IN_NX) && (flags & (ZADD_IN_XX | ZADD_IN_GT | ZADD_IN_LT)))
                flags &= ~ZADD_IN_NX; /* combinations the command refuses */
            if ((flags & ZADD_IN_GT) && (flags & ZADD_IN_LT)) flags &= ~ZADD_IN_LT;
            double cur = at >= 0 ? md[at].s : 0, want = (flags & ZADD_IN_INCR) ? cur + s : s;
            int ok = zset_add(&z, s, MEMBERS[m], strlen(MEMBERS[m]), flags, &out, &ns, &lim);
            if (at >= 0 && isnan(want) && !(flags & ZADD_IN_NX)) {
                FUZZ_CHECK(!ok && out == ZADD_OUT_NAN);
                break;
            }
            FUZZ_CHECK(ok);
            int skip = at >= 0 ? ((flags & ZADD_IN_NX) || ((flags & ZADD_IN_LT) && want >= cur) ||
                                  ((flags & ZADD_IN_GT) && want <= cur))
                               : (flags & ZADD_IN_XX) != 0;
            FUZZ_CHECK(!!(out & ZADD_OUT_NOP) == skip);
            if (skip) break;
            FUZZ_CHECK(ns == want);
            if (at < 0) {
                FUZZ_CHECK(out & ZADD_OUT_ADDED);
                model_insert(md, &n, want, m);
            } else if (want != cur) {
                FUZZ_CHECK(out & ZADD_OUT_UPDATED);
                model_remove(md, &n, (size_t)at);
                model_insert(md, &n, want, m);
            }
            break;
        }
        case 3:
            FUZZ_CHECK(zset_del(&z, MEMBERS[m], strlen(MEMBERS[m])) == (at >= 0));
            if (at >= 0) model_remove(md, &n, (size_t)at);
            break;
        case 4: /* delete by rank */
            if (n) {
                size_t from = a % n, to = from + b % 3;
                if (to >= n) to = n - 1;
                FUZZ_CHECK(zset_delete_rank_range(&z, from, to) == to - from + 1);
                for (size_t k = from; k <= to; k++)
                    model_remove(md, &n, from);
            }
            break;
        case 5: { /* score ranges: count, first, delete */
            zrange_score r = {SCORES[a % NS], SCORES[b % NS], (op >> 4) & 1, (op >> 5) & 1};
            size_t want = 0;
            long first = -1;
            for (size_t k = 0; k < n; k++)
                if (in_range(&r, md[k].s)) {
                    if (first < 0) first = (long)k;
                    want++;
                }
            FUZZ_CHECK(zset_count_score(&z, &r) == want);
            zset_iter it;
            const unsigned char *mm;
            size_t len;
            zset_iter_in_score(&it, &z, &r, 0);
            FUZZ_CHECK(zset_iter_get(&it, &mm, &len, NULL) == (first >= 0));
            if (op & 0x40) {
                FUZZ_CHECK(zset_delete_score_range(&z, &r) == want);
                for (size_t k = 0; k < n;)
                    if (in_range(&r, md[k].s))
                        model_remove(md, &n, k);
                    else
                        k++;
            }
            break;
        }
        case 6: /* pop at either end */
            if (n) {
                size_t end = (op & 0x10) ? n - 1 : 0;
                zset_delete_rank_range(&z, end, end);
                model_remove(md, &n, end);
            }
            break;
        case 7:
            if (op & 0x10)
                zset_convert_to_skiplist(&z);
            else
                zset_shrink_if_fits(&z, &lim);
            break;
        case 8: { /* a copy holds the same and frees back to where it was */
            int64_t before = alloc_sub_bytes(ALLOC_SUB_ZSETS);
            zobj cp = {z.enc, zset_dup_value(z.ptr, z.enc)};
            check(&cp, md, n, before);
            zset_free_value(cp.ptr, cp.enc);
            FUZZ_CHECK(alloc_sub_bytes(ALLOC_SUB_ZSETS) == before);
            break;
        }
        }
        FUZZ_CHECK(n <= MAXN);
        check(&z, md, n, base);
    }
    zset_free_value(z.ptr, z.enc);
    FUZZ_CHECK(alloc_sub_bytes(ALLOC_SUB_ZSETS) == base);
    return 0;
}
