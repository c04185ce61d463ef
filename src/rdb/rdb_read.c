/* RDB reader: see rdb.h. One item per call over a cursor (cur) that never reads past the
 * caller's buffer: running short sets RDB_NEED_MORE with the bytes needed, bad data sets
 * RDB_ERR with the reason and the absolute offset. A partly built value is freed on either. */
#include "rdb/rdb.h"

#include <lzf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "db/intset.h"
#include "db/listpack.h"
#include "db/quicklist.h"
#include "rdb/rdb_format.h"
#include "util/util.h"

#define RDB_MAX_READ_VERSION 11 /* Redis 7.2's files differ from 7.0's only by the set listpack */
#define RDB_DEFAULT_MAX_STRING ((size_t)512 * 1024 * 1024)

void rdb_limits_default(rdb_limits *lim) {
    memset(lim, 0, sizeof(*lim));
    lim->hash.max_entries = 128;
    lim->hash.max_value = 64;
    lim->set.max_intset_entries = 512;
    lim->set.max_listpack_entries = 128;
    lim->set.max_listpack_value = 64;
    lim->zset.max_entries = 128;
    lim->zset.max_value = 64;
    lim->list_fill = -2;
    lim->max_string = RDB_DEFAULT_MAX_STRING;
    lim->skip_unknown = 1;
    lim->check_crc = 1;
}

/* ---- the cursor ---- */

typedef struct cur {
    const unsigned char *start, *p, *end;
    uint64_t base; /* absolute offset of start */
    const rdb_limits *lim;
    int status; /* RDB_OK, RDB_NEED_MORE, RDB_ERR */
    size_t need;
    char *err;
    size_t errcap;
    rdb_observe_fn observe; /* may be NULL */
    void *observe_ctx;
} cur;

static void observe(cur *c, int what, const unsigned char *p, size_t len) {
    if (c->observe) c->observe(c->observe_ctx, what, p, len);
}

static int short_of(cur *c, size_t n) {
    if ((size_t)(c->end - c->p) >= n) return 0;
    if (c->status == RDB_OK) {
        c->status = RDB_NEED_MORE;
        c->need = (size_t)(c->p - c->start) + n;
    }
    return 1;
}

__attribute__((format(printf, 2, 3))) static int fail(cur *c, const char *fmt, ...) {
    if (c->status != RDB_OK) return -1;
    c->status = RDB_ERR;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->err, c->errcap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < c->errcap)
        snprintf(c->err + n, c->errcap - (size_t)n, " at offset %llu",
                 (unsigned long long)(c->base + (uint64_t)(c->p - c->start)));
    return -1;
}

static int rd_byte(cur *c, unsigned *b) {
    if (short_of(c, 1)) return -1;
    *b = *c->p++;
    return 0;
}

static int rd_raw(cur *c, size_t n, const unsigned char **out) {
    if (short_of(c, n)) return -1;
    *out = c->p;
    c->p += n;
    return 0;
}

static uint64_t le_load(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t be_load(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A length; *enc (may be NULL) gets the special string encoding, or -1. */
static int rd_len_enc(cur *c, uint64_t *len, int *enc) {
    unsigned b;
    const unsigned char *q;
    if (enc) *enc = -1;
    if (rd_byte(c, &b)) return -1;
    switch (b >> 6) {
    case 0:
        *len = b & 0x3f;
        return 0;
    case 1:
        if (rd_raw(c, 1, &q)) return -1;
        *len = (uint64_t)(b & 0x3f) << 8 | q[0];
        return 0;
    case 3:
        if (!enc) return fail(c, "Unexpected encoded string where a length belongs");
        *enc = (int)(b & 0x3f);
        *len = 0;
        return 0;
    default:
        if (b == RDB_LEN_32BIT) {
            if (rd_raw(c, 4, &q)) return -1;
            *len = be_load(q, 4);
        } else if (b == RDB_LEN_64BIT) {
            if (rd_raw(c, 8, &q)) return -1;
            *len = be_load(q, 8);
        } else {
            return fail(c, "Unknown length encoding %u", b);
        }
        return 0;
    }
}

static int rd_len(cur *c, uint64_t *len) {
    return rd_len_enc(c, len, NULL);
}

/* A string: points into the buffer, or into ibuf (integers) or owned (LZF). */
typedef struct rstr {
    const unsigned char *p;
    size_t len;
    unsigned char *owned;
    unsigned char ibuf[LP_INTBUF];
} rstr;

static void rstr_release(rstr *s) {
    alloc_free(ALLOC_SUB_OTHER, s->owned);
    s->owned = NULL;
}

static int rd_string(cur *c, rstr *s) {
    uint64_t len = 0;
    int enc;
    s->owned = NULL;
    if (rd_len_enc(c, &len, &enc)) return -1;
    if (enc < 0) {
        if (len > c->lim->max_string)
            return fail(c, "String of %llu bytes exceeds the limit of %zu", (unsigned long long)len,
                        c->lim->max_string);
        return rd_raw(c, (size_t)len, &s->p) ? -1 : (s->len = (size_t)len, 0);
    }
    const unsigned char *q;
    long long v;
    switch (enc) {
    case RDB_ENC_INT8:
        if (rd_raw(c, 1, &q)) return -1;
        v = (int8_t)q[0];
        break;
    case RDB_ENC_INT16:
        if (rd_raw(c, 2, &q)) return -1;
        v = (int16_t)le_load(q, 2);
        break;
    case RDB_ENC_INT32:
        if (rd_raw(c, 4, &q)) return -1;
        v = (int32_t)le_load(q, 4);
        break;
    case RDB_ENC_LZF: {
        uint64_t clen, ulen;
        if (rd_len(c, &clen) || rd_len(c, &ulen)) return -1;
        if (ulen > c->lim->max_string || clen > c->lim->max_string)
            return fail(c, "Compressed string of %llu bytes exceeds the limit of %zu",
                        (unsigned long long)ulen, c->lim->max_string);
        /* LZF expands at most ~88 times: a larger claim is a lie not worth allocating for */
        if (ulen == 0 || clen == 0 || ulen > clen * 100 + 64)
            return fail(c, "Invalid LZF lengths %llu/%llu", (unsigned long long)clen,
                        (unsigned long long)ulen);
        if (rd_raw(c, (size_t)clen, &q)) return -1;
        s->owned = alloc_malloc(ALLOC_SUB_OTHER, (size_t)ulen);
        unsigned got = lzf_decompress(q, (unsigned)clen, s->owned, (unsigned)ulen);
        if (got != ulen) {
            rstr_release(s);
            return fail(c, "Invalid LZF compressed string");
        }
        s->p = s->owned;
        s->len = (size_t)ulen;
        return 0;
    }
    default:
        return fail(c, "Unknown string encoding %d", enc);
    }
    s->len = util_format_ll((char *)s->ibuf, v);
    s->p = s->ibuf;
    return 0;
}

static int skip_string(cur *c) {
    rstr s;
    if (rd_string(c, &s)) return -1;
    rstr_release(&s);
    return 0;
}

/* A blob (listpack, intset, ziplist) that must be contiguous and readable as such. */
static int rd_blob(cur *c, rstr *s) {
    if (rd_string(c, s)) return -1;
    observe(c, RDB_OBS_BLOB, s->p, s->len);
    return 0;
}

/* ---- ziplists and zipmaps (files of Redis < 7.0) ---- */

typedef struct zl_elem {
    const unsigned char *s; /* NULL: an integer */
    size_t len;
    long long v;
} zl_elem;

/* Validates a whole ziplist; then zl_next walks it. */
static int zl_validate(const unsigned char *zl, size_t size) {
    if (size < 11 || le_load(zl, 4) != size || zl[size - 1] != 0xff) return 0;
    if (le_load(zl + 4, 4) >= size) return 0;
    return 1;
}

/* Next element from *pos (within [.., end)); 1 with *e, 0 at the end byte, -1 if malformed. */
static int zl_next(const unsigned char **pos, const unsigned char *end, zl_elem *e) {
    const unsigned char *p = *pos;
    if (p >= end) return -1;
    if (*p == 0xff) return 0;
    size_t left = (size_t)(end - p);
    size_t hdr = p[0] < 254 ? 1 : 5;
    if (p[0] == 255 || left < hdr + 1) return -1;
    p += hdr;
    left -= hdr;
    unsigned b = p[0];
    size_t elen, plen;
    e->s = NULL;
    if ((b >> 6) < 3) {
        if ((b >> 6) == 0) {
            elen = b & 0x3f;
            plen = 1;
        } else if ((b >> 6) == 1) {
            if (left < 2) return -1;
            elen = (size_t)(b & 0x3f) << 8 | p[1];
            plen = 2;
        } else {
            if (b != 0x80 || left < 5) return -1;
            elen = (size_t)be_load(p + 1, 4);
            plen = 5;
        }
        if (left - plen < elen) return -1;
        e->s = p + plen;
        e->len = elen;
        *pos = p + plen + elen;
        return 1;
    }
    int ib;
    switch (b) {
    case 0xc0:
        ib = 2;
        break;
    case 0xd0:
        ib = 4;
        break;
    case 0xe0:
        ib = 8;
        break;
    case 0xf0:
        ib = 3;
        break;
    case 0xfe:
        ib = 1;
        break;
    default:
        if (b >= 0xf1 && b <= 0xfd) {
            e->v = (long long)(b & 0x0f) - 1;
            *pos = p + 1;
            return 1;
        }
        return -1;
    }
    if (left < 1 + (size_t)ib) return -1;
    uint64_t u = le_load(p + 1, ib);
    if (ib < 8) { /* sign-extend */
        unsigned shift = 64 - 8 * (unsigned)ib;
        e->v = (long long)(int64_t)(u << shift) >> shift;
    } else {
        e->v = (long long)u;
    }
    *pos = p + 1 + ib;
    return 1;
}

/* An element's bytes either way. */
static const unsigned char *zl_bytes(zl_elem *e, unsigned char buf[LP_INTBUF], size_t *len) {
    if (e->s) {
        *len = e->len;
        return e->s;
    }
    *len = util_format_ll((char *)buf, e->v);
    return buf;
}

/* ---- building values ---- */

typedef int (*elem_fn)(cur *c, void *ctx, const unsigned char *s, size_t len);

/* Every element of a listpack or ziplist blob, to fn. */
static int each_listpack(cur *c, const rstr *b, elem_fn fn, void *ctx) {
    if (!lp_validate(b->p, b->len)) return fail(c, "Listpack integrity check failed");
    unsigned char *lp = (unsigned char *)b->p;
    unsigned char buf[LP_INTBUF];
    for (unsigned char *q = lp_first(lp); q; q = lp_next(lp, q)) {
        size_t len;
        const unsigned char *s = lp_get_bytes(q, &len, buf);
        if (fn(c, ctx, s, len)) return -1;
    }
    return 0;
}

static int each_ziplist(cur *c, const rstr *b, elem_fn fn, void *ctx) {
    if (!zl_validate(b->p, b->len)) return fail(c, "Ziplist integrity check failed");
    const unsigned char *pos = b->p + 10, *end = b->p + b->len;
    unsigned char buf[LP_INTBUF];
    zl_elem e;
    int r;
    while ((r = zl_next(&pos, end, &e)) == 1) {
        size_t len;
        const unsigned char *s = zl_bytes(&e, buf, &len);
        if (fn(c, ctx, s, len)) return -1;
    }
    if (r < 0 || pos != end - 1) return fail(c, "Ziplist integrity check failed");
    return 0;
}

/* Zipmap (Redis < 2.6 hashes): pairs of key, value, each with a 1 or 5 byte length. */
static int zm_len(const unsigned char **p, const unsigned char *end, size_t *len) {
    if (*p >= end) return -1;
    if (**p < 254) {
        *len = **p;
        *p += 1;
        return 0;
    }
    if (**p != 254 || end - *p < 5) return -1;
    *len = (size_t)le_load(*p + 1, 4);
    *p += 5;
    return 0;
}

static int each_zipmap(cur *c, const rstr *b, elem_fn fn, void *ctx) {
    const unsigned char *p = b->p, *end = b->p + b->len;
    if (b->len < 2 || end[-1] != 255) return fail(c, "Zipmap integrity check failed");
    p++; /* the count byte */
    while (p < end - 1) {
        size_t klen, vlen;
        if (zm_len(&p, end, &klen) || (size_t)(end - p) < klen) goto bad;
        const unsigned char *k = p;
        p += klen;
        if (zm_len(&p, end, &vlen) || p >= end) goto bad;
        size_t freelen = *p++;
        if ((size_t)(end - p) < vlen + freelen) goto bad;
        if (fn(c, ctx, k, klen) || fn(c, ctx, p, vlen)) return -1;
        p += vlen + freelen;
    }
    if (p != end - 1) goto bad;
    return 0;
bad:
    return fail(c, "Zipmap integrity check failed");
}

/* The value under construction. Pairs (hash field/value, zset member/score) arrive as two
 * calls: the first is held in pend. */
typedef struct build {
    rdb_value *v;
    size_t hint;   /* elements expected (bounded by what the buffer holds) */
    int pairs;     /* hash or zset from a flat element sequence */
    int have_pend; /* first half of a pair held */
    unsigned char *pend;
    size_t pend_len, pend_cap;
} build;

static void build_hold(build *b, const unsigned char *s, size_t len) {
    if (len + 1 > b->pend_cap) {
        b->pend = alloc_realloc(ALLOC_SUB_OTHER, b->pend, len + 1);
        b->pend_cap = len + 1;
    }
    if (len) memcpy(b->pend, s, len);
    b->pend_len = len;
    b->have_pend = 1;
}

static int add_list(cur *c, build *b, const unsigned char *s, size_t len) {
    (void)c;
    if (!b->v->ptr) b->v->ptr = ql_new(c->lim->list_fill);
    ql_push(b->v->ptr, QL_TAIL, s, len);
    return 0;
}

static int add_set(cur *c, build *b, const unsigned char *s, size_t len) {
    set_obj so = {b->v->ptr, b->v->enc};
    if (!so.ptr) so = set_new_for(s, len, b->hint, &c->lim->set);
    int added = set_add(&so, s, len, &c->lim->set);
    b->v->ptr = so.ptr;
    b->v->enc = so.enc;
    if (!added) return fail(c, "Duplicate set members detected");
    return 0;
}

static int add_hash(cur *c, build *b, const unsigned char *f, size_t flen, const unsigned char *v,
                    size_t vlen) {
    hash_value h = {b->v->enc, b->v->ptr};
    hash_limits first = c->lim->hash;
    if (!h.ptr) {
        hash_init(&h);
        if (b->hint > first.max_entries) first.max_entries = 0; /* see add_zset */
    }
    int added = hash_set(&h, &first, f, flen, v, vlen);
    b->v->ptr = h.ptr;
    b->v->enc = h.enc;
    if (!added) return fail(c, "Duplicate hash fields detected");
    return 0;
}

static int add_zset(cur *c, build *b, const unsigned char *m, size_t mlen, double score) {
    if (isnan(score)) return fail(c, "Zset with NAN score detected");
    zobj z = {b->v->enc, b->v->ptr};
    if (!z.ptr) {
        /* More members to come than a listpack holds: the full encoding at once, as Redis
         * loads it, rather than a listpack converted at the limit (the same value; building
         * the listpack first was a tenth of the time a start-up spent loading). */
        zset_limits first = c->lim->zset;
        if (b->hint > first.max_entries) first.max_entries = 0;
        zset_create(&z, mlen, &first);
    }
    int out = 0;
    zset_add(&z, score, m, mlen, 0, &out, NULL, &c->lim->zset);
    b->v->ptr = z.ptr;
    b->v->enc = z.enc;
    if (!(out & ZADD_OUT_ADDED)) return fail(c, "Duplicate zset fields detected");
    return 0;
}

static int parse_score_text(const unsigned char *s, size_t len, double *d) {
    char tmp[128];
    if (len == 0 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *e;
    *d = strtod(tmp, &e);
    return *e == 0 ? 0 : -1;
}

static int elem_to_value(cur *c, void *ctx, const unsigned char *s, size_t len) {
    build *b = ctx;
    observe(c, RDB_OBS_ELEM, s, len);
    switch (b->v->type) {
    case DB_TYPE_LIST:
        return add_list(c, b, s, len);
    case DB_TYPE_SET:
        return add_set(c, b, s, len);
    default:
        break;
    }
    if (!b->have_pend) {
        build_hold(b, s, len);
        return 0;
    }
    b->have_pend = 0;
    if (b->v->type == DB_TYPE_HASH) return add_hash(c, b, b->pend, b->pend_len, s, len);
    double d;
    if (parse_score_text(s, len, &d)) return fail(c, "Bad zset score");
    return add_zset(c, b, b->pend, b->pend_len, d);
}

static void value_release(rdb_value *v) {
    if (v->ptr) {
        switch (v->type) {
        case DB_TYPE_HASH: {
            hash_value h = {v->enc, v->ptr};
            hash_free(&h);
            break;
        }
        case DB_TYPE_LIST:
            ql_free(v->ptr);
            break;
        case DB_TYPE_SET: {
            set_obj s = {v->ptr, v->enc};
            set_release(&s);
            break;
        }
        case DB_TYPE_ZSET:
            zset_free_value(v->ptr, v->enc);
            break;
        default:
            break;
        }
    }
    alloc_free(ALLOC_SUB_OTHER, v->str);
    v->ptr = NULL;
    v->str = NULL;
}

void rdb_value_free(rdb_value *v) {
    value_release(v);
}

/* Elements a count may promise: never more than the bytes left to hold them. */
static size_t hint_of(cur *c, uint64_t n) {
    size_t left = (size_t)(c->end - c->p);
    return n < left ? (size_t)n : left;
}

static int rd_binary_double(cur *c, double *d) {
    const unsigned char *q;
    if (rd_raw(c, 8, &q)) return -1;
    uint64_t bits = le_load(q, 8);
    memcpy(d, &bits, 8);
    return 0;
}

/* The old text score: a length byte (253 NaN, 254 +inf, 255 -inf) and that many chars. */
static int rd_text_double(cur *c, double *d) {
    unsigned n;
    const unsigned char *q;
    if (rd_byte(c, &n)) return -1;
    if (n == 253)
        *d = NAN;
    else if (n == 254)
        *d = INFINITY;
    else if (n == 255)
        *d = -INFINITY;
    else {
        if (rd_raw(c, n, &q)) return -1;
        if (parse_score_text(q, n, d)) return fail(c, "Bad zset score");
    }
    return 0;
}

/* A sequence of count strings into the value (lists, sets) or count pairs (hashes, zsets). */
static int read_elements(cur *c, build *b, uint64_t count, int rdbtype) {
    b->hint = hint_of(c, count);
    for (uint64_t i = 0; i < count; i++) {
        rstr s;
        if (rd_string(c, &s)) return -1;
        int r;
        if (b->v->type == DB_TYPE_HASH) {
            rstr v;
            if (rd_string(c, &v)) {
                rstr_release(&s);
                return -1;
            }
            observe(c, RDB_OBS_ELEM, s.p, s.len);
            observe(c, RDB_OBS_ELEM, v.p, v.len);
            r = add_hash(c, b, s.p, s.len, v.p, v.len);
            rstr_release(&v);
        } else if (b->v->type == DB_TYPE_ZSET) {
            double d;
            observe(c, RDB_OBS_ELEM, s.p, s.len);
            r = rdbtype == RDB_TYPE_ZSET_2 ? rd_binary_double(c, &d) : rd_text_double(c, &d);
            if (!r) r = add_zset(c, b, s.p, s.len, d);
        } else {
            r = elem_to_value(c, b, s.p, s.len);
        }
        rstr_release(&s);
        if (r) return -1;
    }
    return 0;
}

/* The width memkv's intset has for these members: the smallest that holds the first (the
 * least) and the last (the greatest). */
static unsigned width_of(const intset *is) {
    int64_t lo = intset_get(is, 0), hi = intset_get(is, intset_len(is) - 1);
    if (lo >= INT16_MIN && hi <= INT16_MAX) return 2;
    if (lo >= INT32_MIN && hi <= INT32_MAX) return 4;
    return 8;
}

static int read_intset(cur *c, build *b) {
    rstr s;
    if (rd_blob(c, &s)) return -1;
    int r = -1;
    if (!intset_validate(s.p, s.len)) {
        fail(c, "Intset integrity check failed");
    } else {
        /* an aligned copy: the intset's header is read as a struct */
        intset *is = alloc_malloc(ALLOC_SUB_SETS, s.len);
        memcpy(is, s.p, s.len);
        size_t n = intset_len(is);
        b->hint = n;
        r = 0;
        if (n > 0 && n <= c->lim->set.max_intset_entries && intset_width(is) == width_of(is)) {
            b->v->ptr = is; /* what adding the members one by one would build */
            b->v->enc = DB_ENC_INTSET;
            is = NULL;
        }
        for (size_t i = 0; is && i < n && !r; i++) {
            char buf[LP_INTBUF];
            size_t len = util_format_ll(buf, intset_get(is, i));
            r = add_set(c, b, (const unsigned char *)buf, len);
        }
        alloc_free(ALLOC_SUB_SETS, is);
    }
    rstr_release(&s);
    return r;
}

/* A listpack hash or sorted set that fits the limits is kept as it is, as Redis 7.0 keeps it
 * (only the entry count decides, not the length of its values): validated, without duplicate
 * fields, a sorted set in order with real scores. 1 kept, 0 not (the caller builds the value
 * element by element, which converts or reports what is wrong). */
static int lp_score_of(const unsigned char *p, double *d) {
    size_t len;
    long long ll;
    const unsigned char *s = lp_get(p, &len, &ll);
    if (!s) {
        *d = (double)ll;
        return 0;
    }
    return parse_score_text(s, len, d) == 0 && !isnan(*d) ? 0 : -1;
}

static int lp_entries_equal(const unsigned char *a, const unsigned char *b) {
    unsigned char abuf[LP_INTBUF], bbuf[LP_INTBUF];
    size_t alen, blen;
    const unsigned char *as = lp_get_bytes(a, &alen, abuf), *bs = lp_get_bytes(b, &blen, bbuf);
    return alen == blen && (alen == 0 || memcmp(as, bs, alen) == 0);
}

/* Whether the n fields of a listpack hash (every other entry) are all different, compared as
 * bytes (an integer as its decimal text, as lp_find compares): a table of the fields' keyed
 * hashes makes it O(n), where looking each field up in the rest of the listpack is O(n^2) and
 * was most of the time a start-up spent loading small hashes. */
static int lp_fields_distinct(unsigned char *lp, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    const unsigned char *local[256];
    const unsigned char **slot =
        cap <= 256 ? local : alloc_malloc(ALLOC_SUB_OTHER, cap * sizeof(*slot));
    memset(slot, 0, cap * sizeof(*slot));
    int distinct = 1;
    for (unsigned char *f = lp_first(lp); f && distinct; f = lp_next(lp, lp_next(lp, f))) {
        unsigned char buf[LP_INTBUF];
        size_t flen;
        const unsigned char *fs = lp_get_bytes(f, &flen, buf);
        size_t i = (size_t)db_hash_bytes(fs, flen) & (cap - 1);
        for (; slot[i]; i = (i + 1) & (cap - 1))
            if (lp_entries_equal(slot[i], f)) {
                distinct = 0;
                break;
            }
        slot[i] = f;
    }
    if (slot != local) alloc_free(ALLOC_SUB_OTHER, slot);
    return distinct;
}

/* Whether a listpack sorted set is in order (by score, then member bytes) with real scores. */
static int lp_zset_in_order(unsigned char *lp) {
    unsigned char buf[LP_INTBUF], pbuf[LP_INTBUF];
    const unsigned char *prev = NULL;
    size_t plen = 0;
    double pscore = 0;
    for (unsigned char *f = lp_first(lp); f; f = lp_next(lp, lp_next(lp, f))) {
        size_t flen;
        const unsigned char *fs = lp_get_bytes(f, &flen, buf);
        double sc;
        if (lp_score_of(lp_next(lp, f), &sc) < 0) return 0;
        if (prev && (sc < pscore || (sc == pscore && zsl_cmp_bytes(prev, plen, fs, flen) >= 0)))
            return 0;
        memcpy(pbuf, fs, flen <= LP_INTBUF ? flen : 0);
        prev = fs == buf ? pbuf : fs;
        plen = flen;
        pscore = sc;
    }
    return 1;
}

static int adopt_listpack(cur *c, build *b, const rstr *s, int rdbtype) {
    if (!lp_validate(s->p, s->len)) return 0;
    unsigned char *lp = (unsigned char *)s->p;
    size_t n = lp_length(lp);
    size_t max =
        rdbtype == RDB_TYPE_HASH_LISTPACK ? c->lim->hash.max_entries : c->lim->zset.max_entries;
    if (n == 0 || n % 2 || n / 2 > max) return 0;
    if (rdbtype == RDB_TYPE_HASH_LISTPACK ? !lp_fields_distinct(lp, n / 2) : !lp_zset_in_order(lp))
        return 0;
    alloc_sub sub = rdbtype == RDB_TYPE_HASH_LISTPACK ? ALLOC_SUB_HASHES : ALLOC_SUB_ZSETS;
    b->v->ptr = lp_dup(sub, lp);
    b->v->enc = DB_ENC_LISTPACK;
    return 1;
}

typedef int (*blob_walk)(cur *c, const rstr *b, elem_fn fn, void *ctx);

static int read_blob_elements(cur *c, build *b, blob_walk walk, int rdbtype) {
    rstr s;
    if (rd_blob(c, &s)) return -1;
    b->hint = 0;
    if ((rdbtype == RDB_TYPE_HASH_LISTPACK || rdbtype == RDB_TYPE_ZSET_LISTPACK) &&
        adopt_listpack(c, b, &s, rdbtype)) {
        rstr_release(&s);
        return 0;
    }
    int r = walk(c, &s, elem_to_value, b);
    rstr_release(&s);
    if (!r && b->have_pend) r = fail(c, "Odd number of elements in a map encoding");
    return r;
}

/* A quicklist node of the file: taken whole when memkv's node limits allow it (Redis's node
 * format is memkv's), else element by element. An observer sees every element: no shortcut. */
static int add_list_node(cur *c, build *b, const rstr *s) {
    if (c->observe) return each_listpack(c, s, elem_to_value, b);
    if (!lp_validate(s->p, s->len)) return fail(c, "Listpack integrity check failed");
    if (!b->v->ptr) b->v->ptr = ql_new(c->lim->list_fill);
    if (ql_append_listpack(b->v->ptr, s->p, lp_length(s->p))) return 0;
    return each_listpack(c, s, elem_to_value, b);
}

static int read_quicklist(cur *c, build *b, int rdbtype) {
    uint64_t nodes;
    if (rd_len(c, &nodes)) return -1;
    for (uint64_t i = 0; i < nodes; i++) {
        uint64_t container = RDB_QUICKLIST_PACKED;
        if (rdbtype == RDB_TYPE_LIST_QUICKLIST_2) {
            if (rd_len(c, &container)) return -1;
            if (container != RDB_QUICKLIST_PACKED && container != RDB_QUICKLIST_PLAIN)
                return fail(c, "Quicklist integrity check failed: container %llu",
                            (unsigned long long)container);
        }
        rstr s;
        if (rd_blob(c, &s)) return -1;
        int r;
        if (container == RDB_QUICKLIST_PLAIN)
            r = add_list(c, b, s.p, s.len);
        else if (rdbtype == RDB_TYPE_LIST_QUICKLIST_2)
            r = add_list_node(c, b, &s);
        else
            r = each_ziplist(c, &s, elem_to_value, b);
        rstr_release(&s);
        if (r) return -1;
    }
    return 0;
}

/* ---- values memkv has not: parsed through and dropped ---- */

static int skip_stream(cur *c, int rdbtype) {
    uint64_t n, x;
    if (rd_len(c, &n)) return -1;
    for (uint64_t i = 0; i < n; i++) {
        rstr id, lp;
        if (rd_string(c, &id)) return -1;
        size_t idlen = id.len;
        rstr_release(&id);
        if (idlen != 16) return fail(c, "Stream node key entry is not the size of a stream ID");
        if (rd_blob(c, &lp)) return -1;
        int ok = lp_validate(lp.p, lp.len);
        rstr_release(&lp);
        if (!ok) return fail(c, "Stream listpack integrity check failed");
    }
    int meta = rdbtype == RDB_TYPE_STREAM_LISTPACKS ? 3 : 8; /* length, ids, entries_added */
    for (int i = 0; i < meta; i++)
        if (rd_len(c, &x)) return -1;
    uint64_t groups;
    if (rd_len(c, &groups)) return -1;
    for (uint64_t g = 0; g < groups; g++) {
        if (skip_string(c) || rd_len(c, &x) || rd_len(c, &x)) return -1;
        if (rdbtype != RDB_TYPE_STREAM_LISTPACKS && rd_len(c, &x)) return -1;
        uint64_t pel, consumers;
        const unsigned char *q;
        if (rd_len(c, &pel)) return -1;
        for (uint64_t p = 0; p < pel; p++)
            if (rd_raw(c, 16 + 8, &q) || rd_len(c, &x)) return -1;
        if (rd_len(c, &consumers)) return -1;
        for (uint64_t k = 0; k < consumers; k++) {
            size_t times = rdbtype == RDB_TYPE_STREAM_LISTPACKS_3 ? 16 : 8;
            if (skip_string(c) || rd_raw(c, times, &q) || rd_len(c, &pel)) return -1;
            for (uint64_t p = 0; p < pel; p++)
                if (rd_raw(c, 16, &q)) return -1;
        }
    }
    return 0;
}

/* The opcode stream of a module value (v2) up to its EOF. */
static int skip_module_body(cur *c) {
    for (;;) {
        uint64_t op = 0, x;
        const unsigned char *q;
        if (rd_len(c, &op)) return -1;
        switch (op) {
        case RDB_MODULE_OPCODE_EOF:
            return 0;
        case RDB_MODULE_OPCODE_SINT:
        case RDB_MODULE_OPCODE_UINT:
            if (rd_len(c, &x)) return -1;
            break;
        case RDB_MODULE_OPCODE_FLOAT:
            if (rd_raw(c, 4, &q)) return -1;
            break;
        case RDB_MODULE_OPCODE_DOUBLE:
            if (rd_raw(c, 8, &q)) return -1;
            break;
        case RDB_MODULE_OPCODE_STRING:
            if (skip_string(c)) return -1;
            break;
        default:
            return fail(c, "Unknown module opcode %llu", (unsigned long long)op);
        }
    }
}

static int is_object_type(int t) {
    return (t >= RDB_TYPE_STRING && t <= RDB_TYPE_MODULE_2) ||
           (t >= RDB_TYPE_HASH_ZIPMAP && t <= RDB_TYPE_STREAM_LISTPACKS_3);
}

static int is_skipped_type(int t) {
    return t == RDB_TYPE_STREAM_LISTPACKS || t == RDB_TYPE_STREAM_LISTPACKS_2 ||
           t == RDB_TYPE_STREAM_LISTPACKS_3 || t == RDB_TYPE_MODULE_2 ||
           t == RDB_TYPE_MODULE_PRE_GA;
}

static int type_of(int t) {
    switch (t) {
    case RDB_TYPE_STRING:
        return DB_TYPE_STRING;
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return DB_TYPE_LIST;
    case RDB_TYPE_SET:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_SET_LISTPACK:
        return DB_TYPE_SET;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        return DB_TYPE_ZSET;
    default:
        return DB_TYPE_HASH;
    }
}

/* A value of rdbtype into *v. 0 ok, 1 empty (nothing kept), -1 error / need more. Streams
 * and modules: 2 (skipped) when the limits allow it. */
static int read_object(cur *c, int rdbtype, rdb_value *v) {
    memset(v, 0, sizeof(*v));
    observe(c, RDB_OBS_BEGIN, NULL, 0);
    if (is_skipped_type(rdbtype)) {
        if (!c->lim->skip_unknown)
            return fail(c, "Key of RDB type %d (%s) that memkv cannot load", rdbtype,
                        rdbtype == RDB_TYPE_MODULE_2 || rdbtype == RDB_TYPE_MODULE_PRE_GA
                            ? "module"
                            : "stream");
        if (rdbtype == RDB_TYPE_MODULE_PRE_GA)
            return fail(c, "Module value of the pre-GA format cannot be skipped");
        uint64_t x;
        if (rdbtype == RDB_TYPE_MODULE_2) return rd_len(c, &x) || skip_module_body(c) ? -1 : 2;
        return skip_stream(c, rdbtype) ? -1 : 2;
    }
    if (rdbtype == RDB_TYPE_STRING) {
        rstr s;
        if (rd_string(c, &s)) return -1;
        v->type = DB_TYPE_STRING;
        v->str = alloc_malloc(ALLOC_SUB_OTHER, s.len ? s.len : 1);
        if (s.len) memcpy(v->str, s.p, s.len);
        v->slen = s.len;
        rstr_release(&s);
        return 0;
    }
    v->type = type_of(rdbtype);
    build b = {.v = v};
    uint64_t count;
    int r;
    switch (rdbtype) {
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_HASH:
        r = rd_len(c, &count) ? -1 : read_elements(c, &b, count, rdbtype);
        break;
    case RDB_TYPE_SET_INTSET:
        r = read_intset(c, &b);
        break;
    case RDB_TYPE_HASH_ZIPMAP:
        r = read_blob_elements(c, &b, each_zipmap, rdbtype);
        break;
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
        r = read_blob_elements(c, &b, each_ziplist, rdbtype);
        break;
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_SET_LISTPACK:
        r = read_blob_elements(c, &b, each_listpack, rdbtype);
        break;
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        r = read_quicklist(c, &b, rdbtype);
        break;
    default:
        r = fail(c, "Unknown RDB encoding type %d", rdbtype);
    }
    alloc_free(ALLOC_SUB_OTHER, b.pend);
    if (r) {
        value_release(v);
        return -1;
    }
    if (!v->ptr) return 1; /* empty */
    if (v->type == DB_TYPE_LIST) v->enc = DB_ENC_QUICKLIST;
    return 0;
}

/* ---- items ---- */

void rdb_item_clear(rdb_item *it) {
    value_release(&it->val);
    alloc_free(ALLOC_SUB_OTHER, it->key);
    alloc_free(ALLOC_SUB_OTHER, it->aux_val);
    memset(it, 0, sizeof(*it));
}

void rdb_reader_init(rdb_reader *r, const rdb_limits *lim) {
    memset(r, 0, sizeof(*r));
    if (lim)
        r->lim = *lim;
    else
        rdb_limits_default(&r->lim);
    r->expire_ms = -1;
    r->idle = -1;
    r->freq = -1;
}

static char *owned_copy(const rstr *s) {
    char *p = alloc_malloc(ALLOC_SUB_OTHER, s->len + 1);
    if (s->len) memcpy(p, s->p, s->len);
    p[s->len] = 0;
    return p;
}

static int rd_owned(cur *c, char **out, size_t *len) {
    rstr s;
    if (rd_string(c, &s)) return -1;
    *out = owned_copy(&s);
    *len = s.len;
    rstr_release(&s);
    return 0;
}

static int read_header(rdb_reader *r, cur *c, rdb_item *it) {
    const unsigned char *q;
    if (rd_raw(c, 9, &q)) return -1;
    if (memcmp(q, "REDIS", 5) != 0) {
        c->p = c->start;
        return fail(c, "Wrong signature: not an RDB file");
    }
    int ver = 0;
    for (int i = 5; i < 9; i++) {
        if (q[i] < '0' || q[i] > '9') {
            c->p = c->start;
            return fail(c, "Bad RDB version field");
        }
        ver = ver * 10 + (q[i] - '0');
    }
    if (ver < 1 || ver > RDB_MAX_READ_VERSION) {
        c->p = c->start + 5;
        return fail(c, "Can't handle RDB format version %d", ver);
    }
    r->version = ver;
    it->kind = RDB_ITEM_HEADER;
    return 0;
}

static int read_opcode_or_key(rdb_reader *r, cur *c, rdb_item *it) {
    unsigned type;
    const unsigned char *q;
    uint64_t x;
    if (rd_byte(c, &type)) return -1;
    switch (type) {
    case RDB_OPCODE_EXPIRETIME:
        if (rd_raw(c, 4, &q)) return -1;
        it->kind = RDB_ITEM_META;
        it->expire_ms = (int64_t)(int32_t)le_load(q, 4) * 1000;
        return 0;
    case RDB_OPCODE_EXPIRETIME_MS:
        if (rd_raw(c, 8, &q)) return -1;
        it->kind = RDB_ITEM_META;
        it->expire_ms = (int64_t)le_load(q, 8);
        return 0;
    case RDB_OPCODE_FREQ:
        if (rd_raw(c, 1, &q)) return -1;
        it->kind = RDB_ITEM_META;
        it->freq = q[0];
        return 0;
    case RDB_OPCODE_IDLE:
        if (rd_len(c, &x)) return -1;
        it->kind = RDB_ITEM_META;
        it->idle = x > (uint64_t)INT64_MAX ? INT64_MAX : (long long)x;
        return 0;
    case RDB_OPCODE_SELECTDB:
        if (rd_len(c, &x)) return -1;
        if (x > 1000000) return fail(c, "Database number %llu out of range", (unsigned long long)x);
        it->kind = RDB_ITEM_SELECTDB;
        it->db = (int)x;
        return 0;
    case RDB_OPCODE_RESIZEDB:
        if (rd_len(c, &it->db_size) || rd_len(c, &it->expires_size)) return -1;
        it->kind = RDB_ITEM_RESIZEDB;
        return 0;
    case RDB_OPCODE_AUX:
        if (rd_owned(c, &it->key, &it->klen)) return -1;
        if (rd_owned(c, &it->aux_val, &it->aux_vlen)) return -1;
        it->kind = RDB_ITEM_AUX;
        return 0;
    case RDB_OPCODE_MODULE_AUX: {
        uint64_t id, when_op, when;
        if (rd_len(c, &id) || rd_len(c, &when_op)) return -1;
        if (when_op != RDB_MODULE_OPCODE_UINT) return fail(c, "bad when_opcode in module aux");
        if (rd_len(c, &when)) return -1;
        if (!r->lim.skip_unknown) return fail(c, "Module auxiliary data memkv cannot load");
        if (skip_module_body(c)) return -1;
        it->kind = RDB_ITEM_SKIPPED;
        it->rdb_type = RDB_OPCODE_MODULE_AUX;
        return 0;
    }
    case RDB_OPCODE_FUNCTION2:
    case RDB_OPCODE_FUNCTION_PRE_GA:
        if (type == RDB_OPCODE_FUNCTION_PRE_GA) {
            if (skip_string(c) || skip_string(c) || rd_len(c, &x)) return -1;
            if (x && skip_string(c)) return -1;
        }
        if (skip_string(c)) return -1;
        it->kind = RDB_ITEM_SKIPPED;
        it->rdb_type = (int)type;
        return 0;
    case RDB_OPCODE_EOF:
        if (r->version >= 5) {
            uint64_t sum = r->crc;
            /* the checksum covers everything up to and including this opcode */
            sum = rdb_crc64(sum, c->start, (size_t)(c->p - c->start));
            if (rd_raw(c, 8, &q)) return -1;
            uint64_t stored = le_load(q, 8);
            if (r->lim.check_crc && stored != 0 && stored != sum) {
                c->p -= 8;
                return fail(c, "Wrong RDB checksum expected: (%016llx) got: (%016llx)",
                            (unsigned long long)stored, (unsigned long long)sum);
            }
        }
        it->kind = RDB_ITEM_EOF;
        return 0;
    default:
        break;
    }
    if (!is_object_type((int)type)) {
        c->p--;
        return fail(c, "Unknown RDB type or opcode %u", type);
    }
    if (rd_owned(c, &it->key, &it->klen)) return -1;
    int k = read_object(c, (int)type, &it->val);
    if (k < 0) return -1;
    it->kind = k == 0 ? RDB_ITEM_KEY : k == 1 ? RDB_ITEM_EMPTY : RDB_ITEM_SKIPPED;
    it->rdb_type = (int)type;
    it->db = r->db;
    it->expire_ms = r->expire_ms;
    it->idle = r->idle;
    it->freq = r->freq;
    return 0;
}

int rdb_read_item(rdb_reader *r, const unsigned char *buf, size_t len, size_t *consumed,
                  rdb_item *it) {
    memset(it, 0, sizeof(*it));
    it->expire_ms = -1;
    it->idle = -1;
    it->freq = -1;
    *consumed = 0;
    r->need = 0;
    if (r->done) {
        it->kind = RDB_ITEM_EOF;
        return RDB_OK;
    }
    cur c = {.start = buf,
             .p = buf,
             .end = buf + len,
             .base = r->offset,
             .lim = &r->lim,
             .status = RDB_OK,
             .err = r->err,
             .errcap = sizeof(r->err),
             .observe = r->observe,
             .observe_ctx = r->observe_ctx};
    int rc = r->version == 0 ? read_header(r, &c, it) : read_opcode_or_key(r, &c, it);
    if (rc) {
        rdb_item_clear(it);
        if (c.status == RDB_NEED_MORE) r->need = c.need;
        return c.status == RDB_NEED_MORE ? RDB_NEED_MORE : RDB_ERR;
    }
    size_t used = (size_t)(c.p - c.start);
    switch (it->kind) {
    case RDB_ITEM_META:
        if (it->expire_ms != -1) r->expire_ms = it->expire_ms;
        if (it->idle != -1) r->idle = it->idle;
        if (it->freq != -1) r->freq = it->freq;
        break;
    case RDB_ITEM_SELECTDB:
        r->db = it->db;
        break;
    case RDB_ITEM_KEY:
    case RDB_ITEM_EMPTY:
        r->expire_ms = -1;
        r->idle = -1;
        r->freq = -1;
        break;
    case RDB_ITEM_SKIPPED:
        if (it->key) {
            r->expire_ms = -1;
            r->idle = -1;
            r->freq = -1;
        }
        break;
    case RDB_ITEM_EOF:
        r->done = 1;
        break;
    default:
        break;
    }
    if (it->kind != RDB_ITEM_EOF) r->crc = rdb_crc64(r->crc, buf, used);
    r->offset += used;
    *consumed = used;
    return RDB_OK;
}

int rdb_restore_payload(const unsigned char *p, size_t len, const rdb_limits *lim, rdb_value *out,
                        const char **err) {
    memset(out, 0, sizeof(*out));
    if (len < 10) goto bad_footer;
    unsigned ver = p[len - 10] | (unsigned)p[len - 9] << 8;
    if (ver > RDB_VERSION) goto bad_footer;
    if (lim->check_crc && rdb_crc64(0, p, len - 8) != le_load(p + len - 8, 8)) goto bad_footer;
    char errbuf[192];
    cur c = {.start = p,
             .p = p,
             .end = p + len - 10,
             .lim = lim,
             .status = RDB_OK,
             .err = errbuf,
             .errcap = sizeof(errbuf)};
    unsigned type;
    if (rd_byte(&c, &type) || !is_object_type((int)type) || is_skipped_type((int)type) ||
        read_object(&c, (int)type, out) != 0) {
        value_release(out);
        *err = "Bad data format";
        return RDB_ERR;
    }
    return RDB_OK;
bad_footer:
    *err = "DUMP payload version or checksum are wrong";
    return RDB_ERR;
}
