#include "db/t_hash.h"

#include "alloc/alloc.h"

#include <string.h>

#define SUB ALLOC_SUB_HASHES
/* Redis's lpSafeToAdd: a listpack is kept below 1 GB, whatever the value limit says. */
#define LP_SAFETY_LIMIT ((size_t)1 << 30)

static inline int is_lp(const hash_value *h) {
    return h->enc == DB_ENC_LISTPACK;
}

/* ---- db_type_ops ------------------------------------------------------------------------ */

static void ops_free(void *ptr, unsigned enc) {
    hash_value h = {enc, ptr};
    hash_free(&h);
}

static size_t ops_mem_usage(const void *ptr, unsigned enc, size_t samples) {
    (void)samples; /* exact and O(1) in both encodings */
    hash_value h = {enc, (void *)ptr};
    return hash_mem_usage(&h);
}

static void *ops_dup(const void *ptr, unsigned enc) {
    hash_value src = {enc, (void *)ptr}, dst;
    hash_dup(&src, &dst);
    return dst.ptr;
}

static size_t ops_len(const void *ptr, unsigned enc) {
    hash_value h = {enc, (void *)ptr};
    return hash_len(&h);
}

static size_t ops_figures(const void *ptr, unsigned enc, size_t *len) {
    hash_value h = {enc, (void *)ptr};
    *len = hash_len(&h);
    return hash_mem_usage(&h);
}

const db_type_ops hash_type_ops = {ops_free, ops_mem_usage, ops_dup, ops_len, ops_figures, 2};

/* ---- whole values ----------------------------------------------------------------------- */

void hash_init(hash_value *h) {
    h->enc = DB_ENC_LISTPACK;
    h->ptr = lp_new(SUB);
}

void hash_free(hash_value *h) {
    if (is_lp(h))
        lp_free(SUB, h->ptr);
    else
        dict_free(h->ptr);
    h->ptr = NULL;
}

size_t hash_len(const hash_value *h) {
    return is_lp(h) ? lp_length(h->ptr) / 2 : dict_size(h->ptr);
}

size_t hash_mem_usage(const hash_value *h) {
    return is_lp(h) ? lp_mem_usage(h->ptr) : dict_mem_usage(h->ptr);
}

void hash_dup(const hash_value *src, hash_value *dst) {
    dst->enc = src->enc;
    dst->ptr = is_lp(src) ? (void *)lp_dup(SUB, src->ptr) : (void *)dict_dup(src->ptr);
}

void hash_convert(hash_value *h) {
    if (!is_lp(h)) return;
    unsigned char *lp = h->ptr;
    dict *d = dict_new(SUB, DICT_STRING);
    dict_reserve(d, lp_length(lp) / 2);
    unsigned char fbuf[LP_INTBUF], vbuf[LP_INTBUF];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        size_t flen, vlen;
        const unsigned char *f = lp_get_bytes(p, &flen, fbuf);
        const unsigned char *v = lp_get_bytes(lp_next(lp, p), &vlen, vbuf);
        dict_set_str(d, dict_add(d, f, flen, NULL), v, vlen);
    }
    lp_free(SUB, lp);
    h->enc = DB_ENC_HASHTABLE;
    h->ptr = d;
}

void hash_try_conversion(hash_value *h, const hash_limits *lim, size_t longest, size_t total) {
    if (!is_lp(h)) return;
    if (longest > lim->max_value || total > LP_SAFETY_LIMIT ||
        lp_bytes(h->ptr) + total > LP_SAFETY_LIMIT)
        hash_convert(h);
}

/* ---- fields ----------------------------------------------------------------------------- */

static unsigned char *lp_field(hash_value *h, const void *f, size_t flen) {
    unsigned char *lp = h->ptr;
    unsigned char *p = lp_first(lp);
    return p ? lp_find(lp, p, f, flen, 1) : NULL;
}

int hash_get(hash_value *h, const void *f, size_t flen, hash_str *v, unsigned char buf[LP_INTBUF]) {
    if (is_lp(h)) {
        unsigned char *p = lp_field(h, f, flen);
        if (!p) return 0;
        v->p = lp_get_bytes(lp_next(h->ptr, p), &v->len, buf);
        return 1;
    }
    dict_entry *e = dict_find(h->ptr, f, flen);
    if (!e) return 0;
    v->p = dict_str(e, &v->len);
    return 1;
}

int hash_exists(hash_value *h, const void *f, size_t flen) {
    return is_lp(h) ? lp_field(h, f, flen) != NULL : dict_find(h->ptr, f, flen) != NULL;
}

int hash_set(hash_value *h, const hash_limits *lim, const void *f, size_t flen, const void *v,
             size_t vlen) {
    if (is_lp(h) && (flen > lim->max_value || vlen > lim->max_value)) hash_convert(h);
    if (is_lp(h)) {
        unsigned char *lp = h->ptr;
        unsigned char *p = lp_field(h, f, flen);
        if (p) {
            h->ptr = lp_insert(SUB, lp, lp_next(lp, p), LP_REPLACE, v, vlen, NULL);
            return 0;
        }
        lp = lp_append(SUB, lp, f, flen);
        h->ptr = lp_append(SUB, lp, v, vlen);
        if (hash_len(h) > lim->max_entries) hash_convert(h);
        return 1;
    }
    int added;
    dict *d = h->ptr;
    dict_set_str(d, dict_add(d, f, flen, &added), v, vlen);
    return added;
}

int hash_delete(hash_value *h, const void *f, size_t flen) {
    if (!is_lp(h)) return dict_delete(h->ptr, f, flen);
    unsigned char *p = lp_field(h, f, flen), *next;
    if (!p) return 0;
    unsigned char *lp = lp_delete(SUB, h->ptr, p, &next);
    h->ptr = lp_delete(SUB, lp, next, NULL);
    return 1;
}

/* ---- iteration, pairs, random, scan ----------------------------------------------------- */

void hash_iter_init(hash_value *h, hash_iter *it) {
    it->h = h;
    if (is_lp(h))
        it->p = lp_first(h->ptr);
    else
        dict_iter_init(h->ptr, &it->di);
}

int hash_iter_next(hash_iter *it, hash_str *f, hash_str *v) {
    if (is_lp(it->h)) {
        if (!it->p) return 0;
        unsigned char *lp = it->h->ptr, *vp = lp_next(lp, it->p);
        f->p = lp_get_bytes(it->p, &f->len, it->fbuf);
        v->p = lp_get_bytes(vp, &v->len, it->vbuf);
        it->p = lp_next(lp, vp);
        return 1;
    }
    dict_entry *e = dict_iter_next(&it->di);
    if (!e) return 0;
    f->p = dict_key(e, &f->len);
    v->p = dict_str(e, &v->len);
    return 1;
}

void hash_pair_get(const hash_value *h, hash_pair pr, hash_str *f, hash_str *v, hash_pair_bufs *b) {
    if (is_lp(h)) {
        unsigned char *p = (unsigned char *)pr.ref;
        f->p = lp_get_bytes(p, &f->len, b->f);
        v->p = lp_get_bytes(lp_next(h->ptr, p), &v->len, b->v);
        return;
    }
    const dict_entry *e = pr.ref;
    f->p = dict_key(e, &f->len);
    v->p = dict_str(e, &v->len);
}

size_t hash_pairs(hash_value *h, hash_pair *out) {
    size_t n = 0;
    if (is_lp(h)) {
        unsigned char *lp = h->ptr;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)))
            out[n++].ref = p;
        return n;
    }
    dict_iter it;
    dict_iter_init(h->ptr, &it);
    for (dict_entry *e; (e = dict_iter_next(&it));)
        out[n++].ref = e;
    return n;
}

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

hash_pair hash_random_pair(hash_value *h, uint64_t *rng) {
    hash_pair pr;
    if (is_lp(h)) {
        long long i = (long long)(rng_next(rng) % hash_len(h));
        pr.ref = lp_seek(h->ptr, 2 * i);
    } else {
        pr.ref = dict_random(h->ptr, rng);
    }
    return pr;
}

typedef struct scan_adapter {
    hash_scan_fn fn;
    void *ctx;
} scan_adapter;

static void scan_entry(void *ctx, const dict_entry *e) {
    scan_adapter *a = ctx;
    hash_pair pr = {e};
    a->fn(a->ctx, pr);
}

uint64_t hash_scan(hash_value *h, uint64_t cursor, size_t count, hash_scan_fn fn, void *ctx) {
    if (is_lp(h)) {
        unsigned char *lp = h->ptr;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            hash_pair pr = {p};
            fn(ctx, pr);
        }
        return 0;
    }
    scan_adapter a = {fn, ctx};
    return dict_scan(h->ptr, cursor, count, scan_entry, &a);
}
