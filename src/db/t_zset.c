#include "db/t_zset.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/dict.h"
#include "util/util.h"

#define SUB ALLOC_SUB_ZSETS
/* Redis's lpSafeToAdd: a listpack is not grown past 1 GB whatever the thresholds say. */
#define LP_SAFETY_SIZE ((size_t)1 << 30)

/* The skiplist encoding is a zskiplist alone: it keeps the order and ranks, and indexes its
 * members itself (zsl_find), so each member is stored once, in its node. */

/* --- scores as text -------------------------------------------------------------------- */

size_t zset_format_score(char buf[ZSET_SCORE_BUF], double v) {
    if (isinf(v)) {
        memcpy(buf, v > 0 ? "inf" : "-inf", v > 0 ? 4 : 5);
        return v > 0 ? 3 : 4;
    }
    int n = snprintf(buf, ZSET_SCORE_BUF, "%.17g", v);
    return (size_t)n;
}

/* How a listpack stores a score: an integer when it is one (Redis's double2ll range), else the
 * reply text, which strtod reads back exactly. */
static size_t lp_score_text(char buf[ZSET_SCORE_BUF], double v) {
    if (v >= -(double)(LLONG_MAX / 2) && v <= (double)(LLONG_MAX / 2)) {
        long long ll = (long long)v;
        if ((double)ll == v) return util_format_ll(buf, ll);
    }
    return zset_format_score(buf, v);
}

/* strtod over a NUL-terminated copy of s: *consumed gets the bytes parsed, *erange whether
 * errno was ERANGE. */
static double strtod_copy(const char *s, size_t len, size_t *consumed, int *erange) {
    char stackbuf[128];
    char *buf = len < sizeof(stackbuf) ? stackbuf : alloc_malloc(ALLOC_SUB_OTHER, len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    *erange = errno == ERANGE;
    /* Stopping at an embedded NUL counts as reaching the end, as Redis's "*eptr == '\0'". */
    *consumed = *end == '\0' ? len : (size_t)(end - buf);
    if (buf != stackbuf) alloc_free(ALLOC_SUB_OTHER, buf);
    return v;
}

int zset_parse_score(const char *s, size_t len, double *out) {
    if (len == 0 || isspace((unsigned char)s[0])) return -1;
    if (memchr(s, '\0', len)) return -1; /* Redis compares the parsed length with sdslen */
    size_t consumed;
    int erange;
    double v = strtod_copy(s, len, &consumed, &erange);
    if (consumed != len || isnan(v)) return -1;
    if (erange && (isinf(v) || fpclassify(v) == FP_ZERO)) return -1;
    *out = v;
    return 0;
}

int zset_parse_range_end(const char *s, size_t len, double *out, int *exclusive) {
    *exclusive = 0;
    if (len > 0 && s[0] == '(') {
        *exclusive = 1;
        s++;
        len--;
    }
    size_t consumed;
    int erange;
    double v = strtod_copy(s, len, &consumed, &erange);
    if (consumed != len || isnan(v)) return -1;
    *out = v;
    return 0;
}

int zset_parse_lex_end(const char *s, size_t len, zlex_bound *b) {
    b->s = NULL;
    b->len = 0;
    b->exclusive = 0;
    if (len == 0) return -1;
    switch (s[0]) {
    case '+':
    case '-':
        if (len > 1 && s[1] != '\0') return -1;
        b->kind = s[0] == '+' ? ZLEX_PLUS : ZLEX_MINUS;
        b->exclusive = 1;
        return 0;
    case '(':
    case '[':
        b->kind = ZLEX_VALUE;
        b->exclusive = s[0] == '(';
        b->s = (const unsigned char *)s + 1;
        b->len = len - 1;
        return 0;
    default:
        return -1;
    }
}

/* --- listpack encoding helpers ----------------------------------------------------------- */

static double lp_score(const unsigned char *sptr) {
    size_t len;
    long long ll;
    const unsigned char *s = lp_get(sptr, &len, &ll);
    if (!s) return (double)ll;
    size_t consumed;
    int erange;
    return strtod_copy((const char *)s, len, &consumed, &erange);
}

static const unsigned char *lp_member(const unsigned char *eptr, size_t *len,
                                      unsigned char buf[LP_INTBUF]) {
    return lp_get_bytes(eptr, len, buf);
}

/* The member m in the listpack; NULL if absent. */
static unsigned char *zzl_find(unsigned char *lp, const void *m, size_t len, double *score) {
    unsigned char *first = lp_first(lp);
    if (!first) return NULL;
    unsigned char *eptr = lp_find(lp, first, m, len, 1);
    if (eptr && score) *score = lp_score(lp_next(lp, eptr));
    return eptr;
}

static unsigned char *zzl_insert(unsigned char *lp, double score, const void *m, size_t len) {
    char sbuf[ZSET_SCORE_BUF];
    size_t slen = lp_score_text(sbuf, score);
    unsigned char buf[LP_INTBUF];
    for (unsigned char *eptr = lp_first(lp); eptr;) {
        unsigned char *sptr = lp_next(lp, eptr);
        double s = lp_score(sptr);
        size_t elen;
        const unsigned char *e = lp_member(eptr, &elen, buf);
        if (s > score || (s == score && zsl_cmp_bytes(e, elen, m, len) > 0)) {
            unsigned char *newp;
            lp = lp_insert(SUB, lp, eptr, LP_BEFORE, m, len, &newp);
            return lp_insert(SUB, lp, newp, LP_AFTER, sbuf, slen, NULL);
        }
        eptr = lp_next(lp, sptr);
    }
    lp = lp_append(SUB, lp, m, len);
    return lp_append(SUB, lp, sbuf, slen);
}

static unsigned char *zzl_delete(unsigned char *lp, unsigned char *eptr) {
    unsigned char *next;
    lp = lp_delete(SUB, lp, eptr, &next);
    return lp_delete(SUB, lp, next, NULL);
}

/* --- life cycle ------------------------------------------------------------------------- */

static zskiplist *big_new(void) {
    return zsl_new(SUB);
}

static void big_free(zskiplist *zsl) {
    zsl_free(zsl);
}

void zset_create(zobj *z, size_t first_len, const zset_limits *lim) {
    if (lim->max_entries == 0 || first_len > lim->max_value) {
        z->enc = DB_ENC_SKIPLIST;
        z->ptr = big_new();
    } else {
        z->enc = DB_ENC_LISTPACK;
        z->ptr = lp_new(SUB);
    }
}

void zset_free_value(void *ptr, unsigned enc) {
    if (enc == DB_ENC_LISTPACK)
        lp_free(SUB, ptr);
    else
        big_free(ptr);
}

size_t zset_mem_usage(const void *ptr, unsigned enc, size_t samples) {
    (void)samples; /* exact in O(1) either way: the skiplist keeps its nodes' total */
    if (enc == DB_ENC_LISTPACK) return lp_mem_usage(ptr);
    return zsl_mem_usage(ptr);
}

void *zset_dup_value(const void *ptr, unsigned enc) {
    if (enc == DB_ENC_LISTPACK) return lp_dup(SUB, ptr);
    return zsl_dup(ptr);
}

size_t zset_length_value(const void *ptr, unsigned enc) {
    zobj z = {enc, (void *)ptr};
    return zset_length(&z);
}

size_t zset_length(const zobj *z) {
    if (z->enc == DB_ENC_LISTPACK) return lp_length(z->ptr) / 2;
    return zsl_length(z->ptr);
}

int zset_score(const zobj *z, const void *m, size_t len, double *score) {
    if (z->enc == DB_ENC_LISTPACK) return zzl_find(z->ptr, m, len, score) != NULL;
    const zsl_node *x = zsl_find(z->ptr, m, len);
    if (!x) return 0;
    if (score) *score = zsl_node_score(x);
    return 1;
}

/* --- conversions ------------------------------------------------------------------------- */

void zset_convert_to_skiplist(zobj *z) {
    if (z->enc != DB_ENC_LISTPACK) return;
    unsigned char *lp = z->ptr;
    zskiplist *zsl = big_new();
    zsl_reserve(zsl, lp_length(lp) / 2);
    unsigned char buf[LP_INTBUF];
    for (unsigned char *eptr = lp_first(lp); eptr;) {
        unsigned char *sptr = lp_next(lp, eptr);
        double score = lp_score(sptr);
        size_t len;
        const unsigned char *m = lp_member(eptr, &len, buf);
        zsl_insert(zsl, score, m, len);
        eptr = lp_next(lp, sptr);
    }
    lp_free(SUB, lp);
    z->enc = DB_ENC_SKIPLIST;
    z->ptr = zsl;
}

static unsigned char *big_to_listpack(zskiplist *zsl) {
    unsigned char *lp = lp_new(SUB);
    char sbuf[ZSET_SCORE_BUF];
    for (const zsl_node *x = zsl_first(zsl); x; x = zsl_next(x)) {
        size_t len;
        const unsigned char *m = zsl_node_member(x, &len);
        lp = lp_append(SUB, lp, m, len);
        size_t slen = lp_score_text(sbuf, zsl_node_score(x));
        lp = lp_append(SUB, lp, sbuf, slen);
    }
    big_free(zsl);
    return lp;
}

void zset_shrink_if_fits(zobj *z, const zset_limits *lim) {
    if (z->enc != DB_ENC_SKIPLIST) return;
    zskiplist *zsl = z->ptr;
    if (zsl_length(zsl) > lim->max_entries) return;
    size_t total = 0;
    for (const zsl_node *x = zsl_first(zsl); x; x = zsl_next(x)) {
        size_t len;
        zsl_node_member(x, &len);
        if (len > lim->max_value) return;
        total += len;
    }
    if (total > LP_SAFETY_SIZE) return;
    z->ptr = big_to_listpack(zsl);
    z->enc = DB_ENC_LISTPACK;
}

/* --- add / delete / rank ----------------------------------------------------------------- */

/* ZADD's rule for a member already there with score cur, the same in both encodings: NX
 * leaves it, INCR adds to it, GT/LT may refuse. Returns 1 when *score is to be stored (it may
 * equal cur), 0 when the member stays as it is, -1 when INCR made a NaN. */
static int existing_member(double cur, double *score, int in_flags, int *out_flags,
                           double *newscore) {
    if (in_flags & ZADD_IN_NX) {
        *out_flags |= ZADD_OUT_NOP;
        return 0;
    }
    if (in_flags & ZADD_IN_INCR) {
        *score += cur;
        if (isnan(*score)) {
            *out_flags |= ZADD_OUT_NAN;
            return -1;
        }
    }
    if (((in_flags & ZADD_IN_LT) && *score >= cur) || ((in_flags & ZADD_IN_GT) && *score <= cur)) {
        *out_flags |= ZADD_OUT_NOP;
        return 0;
    }
    if (newscore) *newscore = *score;
    return 1;
}

int zset_add(zobj *z, double score, const void *m, size_t len, int in_flags, int *out_flags,
             double *newscore, const zset_limits *lim) {
    int xx = in_flags & ZADD_IN_XX;
    *out_flags = 0;
    if (isnan(score)) {
        *out_flags = ZADD_OUT_NAN;
        return 0;
    }
    if (z->enc == DB_ENC_LISTPACK) {
        double cur;
        unsigned char *eptr = zzl_find(z->ptr, m, len, &cur);
        if (eptr) {
            int r = existing_member(cur, &score, in_flags, out_flags, newscore);
            if (r <= 0) return r + 1; /* NaN: 0, unchanged: 1 */
            if (score != cur) {
                z->ptr = zzl_delete(z->ptr, eptr);
                z->ptr = zzl_insert(z->ptr, score, m, len);
                *out_flags |= ZADD_OUT_UPDATED;
            }
            return 1;
        }
        if (xx) {
            *out_flags |= ZADD_OUT_NOP;
            return 1;
        }
        if (lp_length(z->ptr) / 2 + 1 <= lim->max_entries && len <= lim->max_value &&
            lp_bytes(z->ptr) + len <= LP_SAFETY_SIZE) {
            z->ptr = zzl_insert(z->ptr, score, m, len);
            if (newscore) *newscore = score;
            *out_flags |= ZADD_OUT_ADDED;
            return 1;
        }
        zset_convert_to_skiplist(z); /* then add below */
    }
    zskiplist *zsl = z->ptr;
    zsl_node *x = zsl_find(zsl, m, len);
    if (x) {
        double cur = zsl_node_score(x);
        int r = existing_member(cur, &score, in_flags, out_flags, newscore);
        if (r <= 0) return r + 1; /* NaN: 0, unchanged: 1 */
        if (score != cur) {
            zsl_update_score(zsl, cur, m, len, score);
            *out_flags |= ZADD_OUT_UPDATED;
        }
        return 1;
    }
    if (xx) {
        *out_flags |= ZADD_OUT_NOP;
        return 1;
    }
    zsl_insert(zsl, score, m, len);
    if (newscore) *newscore = score;
    *out_flags |= ZADD_OUT_ADDED;
    return 1;
}

int zset_del(zobj *z, const void *m, size_t len) {
    if (z->enc == DB_ENC_LISTPACK) {
        unsigned char *eptr = zzl_find(z->ptr, m, len, NULL);
        if (!eptr) return 0;
        z->ptr = zzl_delete(z->ptr, eptr);
        return 1;
    }
    zskiplist *zsl = z->ptr;
    const zsl_node *x = zsl_find(zsl, m, len);
    if (!x) return 0;
    zsl_delete(zsl, zsl_node_score(x), m, len);
    return 1;
}

long zset_rank(const zobj *z, const void *m, size_t len, int reverse, double *score) {
    size_t n = zset_length(z);
    long rank = -1;
    double s = 0;
    if (z->enc == DB_ENC_LISTPACK) {
        unsigned char *lp = z->ptr;
        long i = 0;
        for (unsigned char *eptr = lp_first(lp); eptr; i++) {
            unsigned char *sptr = lp_next(lp, eptr);
            if (lp_equals(eptr, m, len)) {
                rank = i;
                s = lp_score(sptr);
                break;
            }
            eptr = lp_next(lp, sptr);
        }
    } else {
        const zskiplist *zsl = z->ptr;
        const zsl_node *x = zsl_find(zsl, m, len);
        if (x) {
            s = zsl_node_score(x);
            rank = (long)zsl_rank(zsl, s, m, len) - 1;
        }
    }
    if (rank < 0) return -1;
    if (score) *score = s;
    return reverse ? (long)n - 1 - rank : rank;
}

/* --- iteration --------------------------------------------------------------------------- */

static void iter_init(zset_iter *it, const zobj *z, int reverse) {
    it->z = z;
    it->reverse = reverse;
    it->eptr = NULL;
    it->node = NULL;
}

void zset_iter_at_rank(zset_iter *it, const zobj *z, size_t rank, int reverse) {
    iter_init(it, z, reverse);
    size_t n = zset_length(z);
    if (rank >= n) return;
    size_t fwd = reverse ? n - 1 - rank : rank;
    if (z->enc == DB_ENC_LISTPACK)
        it->eptr = lp_seek(z->ptr, (long long)(2 * fwd));
    else
        it->node = zsl_at_rank(((const zskiplist *)z->ptr), fwd + 1);
}

void zset_iter_in_score(zset_iter *it, const zobj *z, const zrange_score *r, int reverse) {
    iter_init(it, z, reverse);
    if (z->enc != DB_ENC_LISTPACK) {
        const zskiplist *zsl = ((const zskiplist *)z->ptr);
        it->node = reverse ? zsl_last_in_range(zsl, r) : zsl_first_in_range(zsl, r);
        return;
    }
    if (zrange_score_empty(r)) return;
    unsigned char *lp = z->ptr;
    if (!reverse) {
        for (unsigned char *eptr = lp_first(lp); eptr;) {
            unsigned char *sptr = lp_next(lp, eptr);
            double s = lp_score(sptr);
            if (zrange_score_gte_min(r, s)) {
                if (zrange_score_lte_max(r, s)) it->eptr = eptr;
                return;
            }
            eptr = lp_next(lp, sptr);
        }
    } else {
        for (unsigned char *sptr = lp_last(lp); sptr;) {
            unsigned char *eptr = lp_prev(lp, sptr);
            double s = lp_score(sptr);
            if (zrange_score_lte_max(r, s)) {
                if (zrange_score_gte_min(r, s)) it->eptr = eptr;
                return;
            }
            sptr = lp_prev(lp, eptr);
        }
    }
}

void zset_iter_in_lex(zset_iter *it, const zobj *z, const zrange_lex *r, int reverse) {
    iter_init(it, z, reverse);
    if (z->enc != DB_ENC_LISTPACK) {
        const zskiplist *zsl = ((const zskiplist *)z->ptr);
        it->node = reverse ? zsl_last_in_lex_range(zsl, r) : zsl_first_in_lex_range(zsl, r);
        return;
    }
    if (zrange_lex_empty(r)) return;
    unsigned char *lp = z->ptr;
    unsigned char buf[LP_INTBUF];
    /* As Redis's zzlIsInLexRange: the last member >= min and the first <= max, else nothing
     * (this matters when the scores differ, so members are not in order) */
    unsigned char *last = lp_seek(lp, -2), *first = lp_first(lp);
    size_t flen;
    const unsigned char *fm;
    if (!last) return;
    fm = lp_member(last, &flen, buf);
    if (!zrange_lex_gte_min(r, fm, flen)) return;
    fm = lp_member(first, &flen, buf);
    if (!zrange_lex_lte_max(r, fm, flen)) return;
    if (!reverse) {
        for (unsigned char *eptr = lp_first(lp); eptr;) {
            size_t len;
            const unsigned char *m = lp_member(eptr, &len, buf);
            if (zrange_lex_gte_min(r, m, len)) {
                if (zrange_lex_lte_max(r, m, len)) it->eptr = eptr;
                return;
            }
            eptr = lp_next(lp, lp_next(lp, eptr));
        }
    } else {
        for (unsigned char *sptr = lp_last(lp); sptr;) {
            unsigned char *eptr = lp_prev(lp, sptr);
            size_t len;
            const unsigned char *m = lp_member(eptr, &len, buf);
            if (zrange_lex_lte_max(r, m, len)) {
                if (zrange_lex_gte_min(r, m, len)) it->eptr = eptr;
                return;
            }
            sptr = lp_prev(lp, eptr);
        }
    }
}

int zset_iter_get(zset_iter *it, const unsigned char **m, size_t *len, double *score) {
    if (it->z->enc == DB_ENC_LISTPACK) {
        if (!it->eptr) return 0;
        *m = lp_member(it->eptr, len, it->buf);
        if (score) *score = lp_score(lp_next(it->z->ptr, it->eptr));
        return 1;
    }
    if (!it->node) return 0;
    *m = zsl_node_member(it->node, len);
    if (score) *score = zsl_node_score(it->node);
    return 1;
}

void zset_iter_next(zset_iter *it) {
    if (it->z->enc == DB_ENC_LISTPACK) {
        unsigned char *lp = it->z->ptr;
        if (!it->eptr) return;
        if (!it->reverse) {
            it->eptr = lp_next(lp, lp_next(lp, it->eptr));
        } else {
            unsigned char *p = lp_prev(lp, it->eptr);
            it->eptr = p ? lp_prev(lp, p) : NULL;
        }
        return;
    }
    if (it->node) it->node = it->reverse ? zsl_prev(it->node) : zsl_next(it->node);
}

/* --- range deletes and counts ------------------------------------------------------------ */

size_t zset_delete_rank_range(zobj *z, size_t start, size_t end) {
    if (start > end) return 0;
    if (z->enc == DB_ENC_LISTPACK) {
        z->ptr = lp_delete_range(SUB, z->ptr, (long long)(2 * start), 2 * (end - start + 1));
        return end - start + 1;
    }
    return zsl_delete_range_by_rank(z->ptr, start + 1, end + 1, NULL, NULL);
}

/* Listpack, as Redis's zzlDeleteRangeByScore/ByLex: from the first element in the range,
 * delete while the element is <= max (nothing else is checked: with differing scores the
 * members of a lex range need not be in order). */
static size_t lp_delete_from(zobj *z, const zset_iter *start, int lex, const void *r) {
    unsigned char *lp = z->ptr;
    if (!start->eptr) return 0;
    long long first = 0;
    for (unsigned char *p = lp_first(lp); p != start->eptr; p = lp_next(lp, p))
        first++;
    unsigned char buf[LP_INTBUF];
    size_t count = 0;
    for (unsigned char *eptr = start->eptr; eptr;) {
        unsigned char *sptr = lp_next(lp, eptr);
        size_t len;
        const unsigned char *m = lp_member(eptr, &len, buf);
        int in = lex ? zrange_lex_lte_max(r, m, len) : zrange_score_lte_max(r, lp_score(sptr));
        if (!in) break;
        count++;
        eptr = lp_next(lp, sptr);
    }
    if (count) z->ptr = lp_delete_range(SUB, lp, first, 2 * count);
    return count;
}

size_t zset_delete_score_range(zobj *z, const zrange_score *r) {
    if (zrange_score_empty(r)) return 0;
    if (z->enc == DB_ENC_LISTPACK) {
        zset_iter it;
        zset_iter_in_score(&it, z, r, 0);
        return lp_delete_from(z, &it, 0, r);
    }
    return zsl_delete_range_by_score(z->ptr, r, NULL, NULL);
}

size_t zset_delete_lex_range(zobj *z, const zrange_lex *r) {
    if (z->enc == DB_ENC_LISTPACK) {
        zset_iter it;
        zset_iter_in_lex(&it, z, r, 0);
        return lp_delete_from(z, &it, 1, r);
    }
    return zsl_delete_range_by_lex(z->ptr, r, NULL, NULL);
}

static size_t node_rank(const zskiplist *zsl, const zsl_node *x) {
    size_t len;
    const unsigned char *m = zsl_node_member(x, &len);
    return zsl_rank(zsl, zsl_node_score(x), m, len);
}

/* Elements from f to l (the first and last in a range; f NULL: none), by their ranks. Redis's
 * formula: l may be missing when the members of a lex range are out of score order. */
static size_t zsl_count_between(const zskiplist *zsl, const zsl_node *f, const zsl_node *l) {
    if (!f) return 0;
    size_t n = zsl_length(zsl);
    size_t count = n - (node_rank(zsl, f) - 1);
    if (l) count -= n - node_rank(zsl, l);
    return count;
}

size_t zset_count_score(const zobj *z, const zrange_score *r) {
    if (z->enc != DB_ENC_LISTPACK) {
        const zskiplist *zsl = z->ptr;
        return zsl_count_between(zsl, zsl_first_in_range(zsl, r), zsl_last_in_range(zsl, r));
    }
    zset_iter it;
    size_t count = 0;
    const unsigned char *m;
    size_t len;
    double s;
    for (zset_iter_in_score(&it, z, r, 0); zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it)) {
        if (!zrange_score_lte_max(r, s)) break;
        count++;
    }
    return count;
}

size_t zset_count_lex(const zobj *z, const zrange_lex *r) {
    if (z->enc != DB_ENC_LISTPACK) {
        const zskiplist *zsl = z->ptr;
        return zsl_count_between(zsl, zsl_first_in_lex_range(zsl, r),
                                 zsl_last_in_lex_range(zsl, r));
    }
    zset_iter it;
    size_t count = 0;
    const unsigned char *m;
    size_t len;
    for (zset_iter_in_lex(&it, z, r, 0); zset_iter_get(&it, &m, &len, NULL); zset_iter_next(&it)) {
        if (!zrange_lex_lte_max(r, m, len)) break;
        count++;
    }
    return count;
}

/* --- scan and random --------------------------------------------------------------------- */

typedef struct scan_ctx {
    zset_scan_fn fn;
    void *ctx;
} scan_ctx;

static void scan_node_cb(void *ctx, const zsl_node *x) {
    scan_ctx *sc = ctx;
    size_t len;
    const unsigned char *m = zsl_node_member(x, &len);
    char sbuf[ZSET_SCORE_BUF];
    size_t slen = zset_format_score(sbuf, zsl_node_score(x));
    sc->fn(sc->ctx, m, len, sbuf, slen);
}

uint64_t zset_scan(const zobj *z, uint64_t cursor, size_t count, zset_scan_fn fn, void *ctx) {
    if (z->enc == DB_ENC_LISTPACK) {
        unsigned char *lp = z->ptr;
        unsigned char mbuf[LP_INTBUF], sbuf[LP_INTBUF];
        for (unsigned char *eptr = lp_first(lp); eptr;) {
            unsigned char *sptr = lp_next(lp, eptr);
            size_t len, slen;
            const unsigned char *m = lp_get_bytes(eptr, &len, mbuf);
            const unsigned char *s = lp_get_bytes(sptr, &slen, sbuf);
            fn(ctx, m, len, (const char *)s, slen);
            eptr = lp_next(lp, sptr);
        }
        return 0;
    }
    scan_ctx sc = {fn, ctx};
    return zsl_scan(z->ptr, cursor, count, scan_node_cb, &sc);
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s ? *s : 0x853c49e6748fea9bull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void zset_random_element(const zobj *z, uint64_t *rng, const unsigned char **m, size_t *len,
                         double *score, unsigned char buf[LP_INTBUF]) {
    size_t n = zset_length(z);
    size_t i = (size_t)(rng_next(rng) % n);
    if (z->enc == DB_ENC_LISTPACK) {
        unsigned char *eptr = lp_seek(z->ptr, (long long)(2 * i));
        *m = lp_member(eptr, len, buf);
        *score = lp_score(lp_next(z->ptr, eptr));
        return;
    }
    const zsl_node *x = zsl_at_rank(((const zskiplist *)z->ptr), i + 1);
    *m = zsl_node_member(x, len);
    *score = zsl_node_score(x);
}

/* --- set algebra ------------------------------------------------------------------------- */

static size_t in_size(const void *obj, unsigned enc) {
    zobj z = {enc, (void *)(uintptr_t)obj};
    return zset_length(&z);
}

static int in_lookup(const void *obj, unsigned enc, const void *m, size_t len, double *score) {
    zobj z = {enc, (void *)(uintptr_t)obj};
    return zset_score(&z, m, len, score);
}

static void in_each(const void *obj, unsigned enc,
                    void (*fn)(void *ctx, const unsigned char *m, size_t len, double score),
                    void *ctx) {
    zobj z = {enc, (void *)(uintptr_t)obj};
    zset_iter it;
    const unsigned char *m;
    size_t len;
    double s;
    for (zset_iter_at_rank(&it, &z, 0, 0); zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it))
        fn(ctx, m, len, s);
}

static size_t empty_size(const void *obj, unsigned enc) {
    (void)obj;
    (void)enc;
    return 0;
}

static int empty_lookup(const void *obj, unsigned enc, const void *m, size_t len, double *score) {
    (void)obj;
    (void)enc;
    (void)m;
    (void)len;
    (void)score;
    return 0;
}

static void empty_each(const void *obj, unsigned enc,
                       void (*fn)(void *ctx, const unsigned char *m, size_t len, double score),
                       void *ctx) {
    (void)obj;
    (void)enc;
    (void)fn;
    (void)ctx;
}

void zset_input_of(zset_input *in, const zobj *z, double weight) {
    in->weight = weight;
    if (!z) {
        in->obj = NULL;
        in->enc = 0;
        in->size = empty_size;
        in->lookup = empty_lookup;
        in->each = empty_each;
        return;
    }
    in->obj = z->ptr;
    in->enc = z->enc;
    in->size = in_size;
    in->lookup = in_lookup;
    in->each = in_each;
}

/* Redis's aggregation: a NaN sum becomes 0; MIN/MAX keep the target when val is NaN. */
static void aggregate(double *target, double val, enum zset_aggregate agg) {
    if (agg == ZSET_AGG_SUM) {
        *target = *target + val;
        if (isnan(*target)) *target = 0.0;
    } else if (agg == ZSET_AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

typedef struct alg_ctx {
    zset_input *ins;
    size_t n;
    size_t cur; /* input being walked */
    enum zset_aggregate agg;
    zskiplist *out;
    dict *acc; /* ZUNION: member -> aggregated score */
    size_t card, limit;
    int stop;
} alg_ctx;

static void add_result(zskiplist *zsl, const unsigned char *m, size_t len, double score) {
    zsl_insert(zsl, score, m, len);
}

static void union_cb(void *ctx, const unsigned char *m, size_t len, double score) {
    alg_ctx *a = ctx;
    score *= a->ins[a->cur].weight;
    if (isnan(score)) score = 0;
    int added;
    dict_entry *e = dict_add(a->acc, m, len, &added);
    if (added) {
        dict_set_double(e, score);
    } else {
        double cur = dict_double(e);
        aggregate(&cur, score, a->agg);
        dict_set_double(e, cur);
    }
}

/* The inter score of m (present in input 0 with `score`), 1 if m is in every input. */
static int inter_score(alg_ctx *a, const unsigned char *m, size_t len, double *score) {
    double s = *score * a->ins[0].weight;
    if (isnan(s)) s = 0;
    for (size_t j = 1; j < a->n; j++) {
        double v;
        if (a->ins[j].obj == a->ins[0].obj && a->ins[0].obj) {
            /* the input being walked, given again: no lookup in it (a dict lookup may move
             * entries under the walk), its element is there with this score (as Redis) */
            v = *score;
        } else if (!a->ins[j].lookup(a->ins[j].obj, a->ins[j].enc, m, len, &v)) {
            return 0;
        }
        v *= a->ins[j].weight;
        aggregate(&s, v, a->agg);
    }
    *score = s;
    return 1;
}

static void inter_cb(void *ctx, const unsigned char *m, size_t len, double score) {
    alg_ctx *a = ctx;
    if (inter_score(a, m, len, &score)) add_result(a->out, m, len, score);
}

static void card_cb(void *ctx, const unsigned char *m, size_t len, double score) {
    alg_ctx *a = ctx;
    if (a->stop) return;
    if (inter_score(a, m, len, &score)) {
        a->card++;
        if (a->limit && a->card >= a->limit) a->stop = 1;
    }
}

static void diff_cb(void *ctx, const unsigned char *m, size_t len, double score) {
    alg_ctx *a = ctx;
    for (size_t j = 1; j < a->n; j++)
        if (a->ins[j].lookup(a->ins[j].obj, a->ins[j].enc, m, len, NULL)) return;
    add_result(a->out, m, len, score);
}

/* Inputs from the smallest to the largest, stable (as glibc's merge sort in Redis's qsort). */
static void sort_by_size(zset_input *ins, size_t n) {
    for (size_t i = 1; i < n; i++) {
        zset_input x = ins[i];
        size_t xs = x.size(x.obj, x.enc);
        size_t j = i;
        while (j > 0 && ins[j - 1].size(ins[j - 1].obj, ins[j - 1].enc) > xs) {
            ins[j] = ins[j - 1];
            j--;
        }
        ins[j] = x;
    }
}

void zset_algebra(enum zset_op op, zset_input *ins, size_t n, enum zset_aggregate agg, zobj *out) {
    zskiplist *zsl = big_new();
    alg_ctx a = {ins, n, 0, agg, zsl, NULL, 0, 0, 0};
    if (op != ZSET_DIFF) sort_by_size(ins, n);
    if (op == ZSET_UNION) {
        a.acc = dict_new(SUB, DICT_DOUBLE);
        for (a.cur = 0; a.cur < n; a.cur++)
            if (ins[a.cur].size(ins[a.cur].obj, ins[a.cur].enc))
                ins[a.cur].each(ins[a.cur].obj, ins[a.cur].enc, union_cb, &a);
        dict_iter it;
        dict_iter_init(a.acc, &it);
        zsl_reserve(zsl, dict_size(a.acc));
        for (dict_entry *e; (e = dict_iter_next(&it));) {
            size_t len;
            const unsigned char *m = dict_key(e, &len);
            zsl_insert(zsl, dict_double(e), m, len);
        }
        dict_free(a.acc);
    } else if (n > 0 && ins[0].size(ins[0].obj, ins[0].enc) > 0) {
        int first_again = 0; /* ZDIFF of a key minus itself is empty: no walk at all */
        for (size_t j = 1; op == ZSET_DIFF && j < n; j++)
            if (ins[j].obj == ins[0].obj) first_again = 1;
        if (!first_again)
            ins[0].each(ins[0].obj, ins[0].enc, op == ZSET_INTER ? inter_cb : diff_cb, &a);
    }
    if (zsl_length(zsl) == 0) {
        big_free(zsl);
        out->enc = 0;
        out->ptr = NULL;
        return;
    }
    out->enc = DB_ENC_SKIPLIST;
    out->ptr = zsl;
}

size_t zset_inter_card(zset_input *ins, size_t n, size_t limit) {
    sort_by_size(ins, n);
    alg_ctx a = {ins, n, 0, ZSET_AGG_SUM, NULL, NULL, 0, limit, 0};
    if (n > 0 && ins[0].size(ins[0].obj, ins[0].enc) > 0)
        ins[0].each(ins[0].obj, ins[0].enc, card_cb, &a);
    return a.card;
}
