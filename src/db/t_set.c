/* t_set — see t_set.h. */
#include "db/t_set.h"

#include "db/intset.h"
#include "util/util.h"

#include <string.h>

#define SUB ALLOC_SUB_SETS

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The member as an integer if it is one in canonical form (what an intset may hold). */
static inline int as_int(const void *m, size_t len, long long *v) {
    return len > 0 && len < 21 && util_parse_ll(m, len, v) == 0;
}

static void member_of_int(set_member *out, long long v) {
    out->len = util_format_ll((char *)out->buf, v);
    out->p = out->buf;
}

set_obj set_new_intset(void) {
    return (set_obj){intset_new(SUB), DB_ENC_INTSET};
}

set_obj set_new_for(const void *first, size_t len, size_t size_hint, const set_limits *lim) {
    long long v;
    if (as_int(first, len, &v) && size_hint <= lim->max_intset_entries) return set_new_intset();
    if (size_hint <= lim->max_listpack_entries) return (set_obj){lp_new(SUB), DB_ENC_LISTPACK};
    dict *d = dict_new(SUB, DICT_KEYS);
    dict_reserve(d, size_hint);
    return (set_obj){d, DB_ENC_HASHTABLE};
}

static void value_free(void *ptr, unsigned enc) {
    switch (enc) {
    case DB_ENC_INTSET:
        intset_free(SUB, ptr);
        break;
    case DB_ENC_LISTPACK:
        lp_free(SUB, ptr);
        break;
    default:
        dict_free(ptr);
        break;
    }
}

void set_release(set_obj *s) {
    value_free(s->ptr, s->enc);
    s->ptr = NULL;
}

size_t set_card(const set_obj *s) {
    switch (s->enc) {
    case DB_ENC_INTSET:
        return intset_len(s->ptr);
    case DB_ENC_LISTPACK:
        return lp_length(s->ptr);
    default:
        return dict_size(s->ptr);
    }
}

/* ---- conversions ---- */

static void convert_to_listpack(set_obj *s) {
    intset *is = s->ptr;
    unsigned char *lp = lp_new(SUB);
    for (size_t i = 0, n = intset_len(is); i < n; i++)
        lp = lp_append_int(SUB, lp, intset_get(is, i));
    intset_free(SUB, is);
    s->ptr = lp;
    s->enc = DB_ENC_LISTPACK;
}

/* To a hashtable with room for `extra` more members. */
static void convert_to_dict(set_obj *s, size_t extra) {
    dict *d = dict_new(SUB, DICT_KEYS);
    dict_reserve(d, set_card(s) + extra);
    set_iter it;
    set_member m;
    set_iter_init(s, &it);
    while (set_iter_next(&it, &m))
        dict_add(d, m.p, m.len, NULL);
    value_free(s->ptr, s->enc);
    s->ptr = d;
    s->enc = DB_ENC_HASHTABLE;
}

/* ---- members ---- */

static int lp_add(set_obj *s, const void *m, size_t len, const set_limits *lim) {
    unsigned char *lp = s->ptr;
    unsigned char *first = lp_first(lp);
    if (first && lp_find(lp, first, m, len, 0)) return 0;
    if (lp_length(lp) < lim->max_listpack_entries && len <= lim->max_listpack_value) {
        s->ptr = lp_append(SUB, lp, m, len);
        return 1;
    }
    convert_to_dict(s, 1);
    dict_add(s->ptr, m, len, NULL);
    return 1;
}

int set_add(set_obj *s, const void *m, size_t len, const set_limits *lim) {
    if (s->enc == DB_ENC_INTSET) {
        long long v;
        intset *is = s->ptr;
        if (as_int(m, len, &v)) {
            int added;
            s->ptr = is = intset_add(SUB, is, v, &added);
            if (added && intset_len(is) > lim->max_intset_entries) convert_to_dict(s, 0);
            return added;
        }
        /* A string: a listpack if it would hold the integers and this member within the
         * listpack limits, else a hashtable (Redis 7.2's rule). */
        size_t n = intset_len(is), maxlen = 0;
        if (n) {
            unsigned char buf[LP_INTBUF];
            size_t a = util_format_ll((char *)buf, intset_get(is, 0));
            size_t b = util_format_ll((char *)buf, intset_get(is, n - 1));
            maxlen = a > b ? a : b;
        }
        if (n < lim->max_listpack_entries && len <= lim->max_listpack_value &&
            maxlen <= lim->max_listpack_value) {
            convert_to_listpack(s);
            return lp_add(s, m, len, lim);
        }
        convert_to_dict(s, 1);
    } else if (s->enc == DB_ENC_LISTPACK) {
        return lp_add(s, m, len, lim);
    }
    int added;
    dict_add(s->ptr, m, len, &added);
    return added;
}

int set_remove(set_obj *s, const void *m, size_t len) {
    switch (s->enc) {
    case DB_ENC_INTSET: {
        long long v;
        int removed = 0;
        if (as_int(m, len, &v)) s->ptr = intset_remove(SUB, s->ptr, v, &removed);
        return removed;
    }
    case DB_ENC_LISTPACK: {
        unsigned char *lp = s->ptr;
        unsigned char *p = lp_first(lp);
        if (p) p = lp_find(lp, p, m, len, 0);
        if (!p) return 0;
        s->ptr = lp_delete(SUB, lp, p, NULL);
        return 1;
    }
    default:
        return dict_delete(s->ptr, m, len);
    }
}

int set_ismember(set_obj *s, const void *m, size_t len) {
    switch (s->enc) {
    case DB_ENC_INTSET: {
        long long v;
        return as_int(m, len, &v) && intset_find(s->ptr, v);
    }
    case DB_ENC_LISTPACK: {
        unsigned char *lp = s->ptr;
        unsigned char *p = lp_first(lp);
        return p && lp_find(lp, p, m, len, 0) != NULL;
    }
    default:
        return dict_find(s->ptr, m, len) != NULL;
    }
}

/* ---- iteration ---- */

void set_iter_init(set_obj *s, set_iter *it) {
    it->s = s;
    it->i = 0;
    it->lp_pos = s->enc == DB_ENC_LISTPACK ? lp_first(s->ptr) : NULL;
    if (s->enc == DB_ENC_HASHTABLE) dict_iter_init(s->ptr, &it->di);
}

int set_iter_next(set_iter *it, set_member *m) {
    switch (it->s->enc) {
    case DB_ENC_INTSET:
        if (it->i >= intset_len(it->s->ptr)) return 0;
        member_of_int(m, intset_get(it->s->ptr, it->i++));
        return 1;
    case DB_ENC_LISTPACK:
        if (!it->lp_pos) return 0;
        m->p = lp_get_bytes(it->lp_pos, &m->len, m->buf);
        it->lp_pos = lp_next(it->s->ptr, it->lp_pos);
        return 1;
    default: {
        dict_entry *e = dict_iter_next(&it->di);
        if (!e) return 0;
        m->p = dict_key(e, &m->len);
        return 1;
    }
    }
}

/* ---- random members ---- */

void set_random(set_obj *s, uint64_t *rng, set_member *out) {
    switch (s->enc) {
    case DB_ENC_INTSET:
        member_of_int(out, intset_random(s->ptr, rng));
        return;
    case DB_ENC_LISTPACK: {
        unsigned char *lp = s->ptr;
        unsigned char *p = lp_seek(lp, (long long)(rng_next(rng) % lp_length(lp)));
        out->p = lp_get_bytes(p, &out->len, out->buf);
        return;
    }
    default:
        out->p = dict_key(dict_random(s->ptr, rng), &out->len);
        return;
    }
}

void set_pop(set_obj *s, uint64_t *rng, set_member_fn fn, void *ctx) {
    switch (s->enc) {
    case DB_ENC_INTSET: {
        long long v = intset_random(s->ptr, rng);
        set_member m;
        member_of_int(&m, v);
        fn(ctx, m.p, m.len);
        s->ptr = intset_remove(SUB, s->ptr, v, NULL);
        return;
    }
    case DB_ENC_LISTPACK: {
        unsigned char *lp = s->ptr;
        unsigned char *p = lp_seek(lp, (long long)(rng_next(rng) % lp_length(lp)));
        set_member m;
        m.p = lp_get_bytes(p, &m.len, m.buf);
        fn(ctx, m.p, m.len);
        s->ptr = lp_delete(SUB, lp, p, NULL);
        return;
    }
    default: {
        dict_entry *e = dict_random(s->ptr, rng);
        size_t len;
        const unsigned char *k = dict_key(e, &len);
        fn(ctx, k, len);
        dict_delete(s->ptr, k, len); /* compares the key before freeing its entry */
        return;
    }
    }
}

void set_random_distinct(set_obj *s, size_t count, uint64_t *rng, set_member_fn fn, void *ctx) {
    size_t n = set_card(s);
    if (count > n) count = n;
    if (count == 0) return;
    if (s->enc != DB_ENC_HASHTABLE || count * 3 > n) {
        /* Selection sampling (Knuth's algorithm S): one pass, each member taken with
         * probability needed / remaining. */
        set_iter it;
        set_member m;
        size_t needed = count, left = n;
        set_iter_init(s, &it);
        while (needed && set_iter_next(&it, &m)) {
            if (rng_next(rng) % left < needed) {
                fn(ctx, m.p, m.len);
                needed--;
            }
            left--;
        }
        return;
    }
    /* Few out of many: random picks, remembering those already given. */
    dict *seen = dict_new(SUB, DICT_KEYS);
    while (count) {
        size_t len;
        const unsigned char *k = dict_key(dict_random(s->ptr, rng), &len);
        int added;
        dict_add(seen, k, len, &added);
        if (added) {
            fn(ctx, k, len);
            count--;
        }
    }
    dict_free(seen);
}

/* ---- scan ---- */

typedef struct scan_ctx {
    set_member_fn fn;
    void *ctx;
} scan_ctx;

static void scan_entry(void *ctx, const dict_entry *e) {
    scan_ctx *sc = ctx;
    size_t len;
    const unsigned char *k = dict_key(e, &len);
    sc->fn(sc->ctx, k, len);
}

uint64_t set_scan(set_obj *s, uint64_t cursor, size_t count, set_member_fn fn, void *ctx) {
    if (s->enc == DB_ENC_HASHTABLE) {
        scan_ctx sc = {fn, ctx};
        return dict_scan(s->ptr, cursor, count, scan_entry, &sc);
    }
    set_iter it;
    set_member m;
    set_iter_init(s, &it);
    while (set_iter_next(&it, &m))
        fn(ctx, m.p, m.len);
    return 0;
}

/* ---- db_type_ops ---- */

static size_t value_mem_usage(const void *ptr, unsigned enc) {
    switch (enc) {
    case DB_ENC_INTSET:
        return intset_mem_usage(ptr);
    case DB_ENC_LISTPACK:
        return lp_mem_usage(ptr);
    default:
        return dict_mem_usage(ptr);
    }
}

size_t set_mem_usage(const set_obj *s) {
    return value_mem_usage(s->ptr, s->enc);
}

/* Every encoding knows its exact size at no cost: samples are not needed. */
static size_t ops_mem_usage(const void *ptr, unsigned enc, size_t samples) {
    (void)samples;
    return value_mem_usage(ptr, enc);
}

static void *ops_dup(const void *ptr, unsigned enc) {
    switch (enc) {
    case DB_ENC_INTSET:
        return intset_dup(SUB, ptr);
    case DB_ENC_LISTPACK:
        return lp_dup(SUB, ptr);
    default:
        return dict_dup(ptr);
    }
}

static size_t ops_len(const void *ptr, unsigned enc) {
    set_obj s = {(void *)ptr, enc};
    return set_card(&s);
}

const db_type_ops set_type_ops = {value_free, ops_mem_usage, ops_dup, ops_len, NULL, 1};
