/* SORT and SORT_RO as Redis 7.0 answers them: the elements of a list, set or sorted set,
 * sorted as numbers (or ALPHA), by themselves or by the keys a BY pattern names (`w_*`, or a
 * hash field `h_*->f`), a LIMIT, GET patterns (`#` is the element), ASC/DESC, and STORE into a
 * list. A BY pattern without '*' sorts nothing: lists and sorted sets keep their order (DESC
 * reversed), a set its iteration order, except with STORE or inside a script, where a set is
 * sorted ALPHA so that the result does not depend on the order of its members.
 *
 * Comparisons are Redis's: numbers by value and equal numbers by the elements' bytes; ALPHA
 * without STORE compares as strcoll() in the C locale (bytes up to the first NUL), with STORE
 * by bytes; a missing BY value is 0, or sorts first under ALPHA. The sort is stable, as glibc's
 * qsort() Redis calls, so ALPHA BY ties keep the order the elements were read in. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "db/quicklist.h"
#include "db/t_hash.h"
#include "db/t_set.h"
#include "db/t_zset.h"
#include "server/blocking.h"
#include "server/notify.h"
#include "server/script.h"
#include "server/server.h"
#include "util/util.h"

#define SUB ALLOC_SUB_OTHER

typedef struct sort_item {
    char *p; /* the element (a copy: BY and GET lookups may expire keys) */
    size_t len;
    double score;
    char *cmp; /* ALPHA BY: the BY value, NULL when missing */
    size_t cmplen;
} sort_item;

typedef struct sort_opts {
    int desc, alpha, dontsort, readonly;
    const resp_arg *by, *store;
    long long limit_start, limit_count;
    int *gets; /* argv indexes of the GET patterns */
    int ngets;
} sort_opts;

static char *copy_bytes(const void *p, size_t len) {
    char *out = alloc_malloc(SUB, len + 1);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

/* strlen() of the pattern as C sees it: Redis's strchr/strstr stop at a NUL. */
static size_t c_len(const char *p, size_t len) {
    const char *z = memchr(p, '\0', len);
    return z ? (size_t)(z - p) : len;
}

/* Redis's lookupKeyByPattern: the string at the pattern's key with the element in place of its
 * first '*', or that key's hash field after "->"; "#" is the element itself. 1 with the value
 * copied into *out (NUL-terminated), 0 when there is none. */
static int by_pattern(client *c, const resp_arg *pat, const sort_item *it, char **out,
                      size_t *outlen) {
    const char *sp = pat->ptr;
    size_t cl = c_len(sp, pat->len);
    if (cl == 1 && sp[0] == '#') {
        *out = copy_bytes(it->p, it->len);
        *outlen = it->len;
        return 1;
    }
    const char *star = memchr(sp, '*', cl);
    if (!star) return 0;
    const char *field = NULL;
    size_t fieldlen = 0;
    for (const char *f = star + 1; f + 1 < sp + cl; f++) {
        if (f[0] == '-' && f[1] == '>') {
            if (f + 2 < sp + cl) { /* a field name follows */
                field = f + 2;
                fieldlen = pat->len - (size_t)(field - sp);
            }
            break;
        }
    }
    size_t prefix = (size_t)(star - sp);
    size_t postfix = pat->len - prefix - 1 - (field ? fieldlen + 2 : 0);
    size_t klen = prefix + it->len + postfix;
    char stackbuf[256];
    char *key = klen <= sizeof(stackbuf) ? stackbuf : alloc_malloc(SUB, klen);
    memcpy(key, sp, prefix);
    memcpy(key + prefix, it->p, it->len);
    memcpy(key + prefix + it->len, star + 1, postfix);
    db_entry *e = lookup_read_key(c, key, klen);
    if (key != stackbuf) alloc_free(SUB, key);
    if (!e) return 0;
    if (field) {
        if (db_entry_type(e) != DB_TYPE_HASH) return 0;
        hash_value h = {db_entry_encoding(e), db_entry_ptr(e)};
        hash_str v;
        unsigned char buf[LP_INTBUF];
        if (!hash_get(&h, field, fieldlen, &v, buf)) return 0;
        *out = copy_bytes(v.p, v.len);
        *outlen = v.len;
        return 1;
    }
    if (db_entry_type(e) != DB_TYPE_STRING) return 0;
    size_t vlen;
    const char *v = db_entry_str(e, &vlen);
    *out = copy_bytes(v, vlen);
    *outlen = vlen;
    return 1;
}

/* ---- comparing ---- */

/* strcoll() in the C locale: the bytes up to each string's first NUL. */
static int coll(const char *a, size_t alen, const char *b, size_t blen) {
    size_t la = c_len(a, alen), lb = c_len(b, blen);
    int r = memcmp(a, b, la < lb ? la : lb);
    return r ? r : (la > lb) - (la < lb);
}

/* Redis's compareStringObjects: the bytes, then the length. */
static int binary(const char *a, size_t alen, const char *b, size_t blen) {
    int r = memcmp(a, b, alen < blen ? alen : blen);
    return r ? r : (alen > blen) - (alen < blen);
}

typedef struct sort_cmp {
    int desc, alpha, by, store;
} sort_cmp;

static int compare(const sort_item *x, const sort_item *y, const sort_cmp *k) {
    int r;
    if (!k->alpha) {
        r = x->score > y->score ? 1 : x->score < y->score ? -1 : binary(x->p, x->len, y->p, y->len);
    } else if (k->by) {
        if (!x->cmp || !y->cmp)
            r = x->cmp == y->cmp ? 0 : !x->cmp ? -1 : 1;
        else if (k->store)
            r = binary(x->cmp, x->cmplen, y->cmp, y->cmplen);
        else
            r = coll(x->cmp, x->cmplen, y->cmp, y->cmplen);
    } else {
        r = k->store ? binary(x->p, x->len, y->p, y->len) : coll(x->p, x->len, y->p, y->len);
    }
    return k->desc ? -r : r;
}

/* A stable merge sort (ties keep their order, as with glibc's qsort). */
static void merge_sort(sort_item *v, sort_item *tmp, size_t n, const sort_cmp *k) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(v, tmp, h, k);
    merge_sort(v + h, tmp, n - h, k);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = compare(&v[j], &v[i], k) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[o++] = v[i++];
    while (j < n)
        tmp[o++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

/* ---- reading the elements ---- */

typedef struct item_list {
    sort_item *v;
    size_t n, cap;
} item_list;

static void push_item(item_list *l, const void *p, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = alloc_realloc(SUB, l->v, l->cap * sizeof(*l->v));
    }
    sort_item *it = &l->v[l->n++];
    memset(it, 0, sizeof(*it));
    it->p = copy_bytes(p, len);
    it->len = len;
}

static void free_items(item_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        alloc_free(SUB, l->v[i].p);
        alloc_free(SUB, l->v[i].cmp);
    }
    alloc_free(SUB, l->v);
}

static size_t length_of(db_entry *e) {
    if (!e) return 0;
    switch (db_entry_type(e)) {
    case DB_TYPE_LIST:
        return ql_count(db_entry_ptr(e));
    case DB_TYPE_SET: {
        set_obj s = {db_entry_ptr(e), db_entry_encoding(e)};
        return set_card(&s);
    }
    default: {
        zobj z = {db_entry_encoding(e), db_entry_ptr(e)};
        return zset_length(&z);
    }
    }
}

/* The elements to sort: all of them, or only the range [start, start+count) in the key's own
 * order (DESC from the end) when nothing is sorted. */
static void read_items(db_entry *e, int dontsort, int desc, long long start, long long count,
                       item_list *l) {
    if (!e) return;
    int type = db_entry_type(e);
    if (type == DB_TYPE_LIST) {
        quicklist *ql = db_entry_ptr(e);
        long long n = (long long)ql_count(ql);
        if (!dontsort) start = 0, count = n, desc = 0;
        if (count <= 0) return;
        ql_iter it;
        ql_entry en;
        if (!ql_iter_init_at(ql, &it, !desc, desc ? n - start - 1 : start)) return;
        for (long long i = 0; i < count && ql_iter_next(&it, &en); i++)
            push_item(l, en.s, en.len);
        ql_iter_release(&it);
    } else if (type == DB_TYPE_SET) {
        set_obj s = {db_entry_ptr(e), db_entry_encoding(e)};
        set_iter it;
        set_member m;
        set_iter_init(&s, &it);
        while (set_iter_next(&it, &m))
            push_item(l, m.p, m.len);
    } else {
        zobj z = {db_entry_encoding(e), db_entry_ptr(e)};
        long long n = (long long)zset_length(&z);
        if (!dontsort) start = 0, count = n, desc = 0;
        if (count <= 0) return;
        zset_iter it;
        zset_iter_at_rank(&it, &z, (size_t)start, desc);
        const unsigned char *m;
        size_t len;
        double score;
        for (long long i = 0; i < count && zset_iter_get(&it, &m, &len, &score); i++) {
            push_item(l, m, len);
            zset_iter_next(&it);
        }
    }
}

/* ---- the command ---- */

/* As Redis 7.0, which sorts a skiplist: a listpack sorted set is converted (SORT_RO too). Its
 * conversion reads each score with strtod, which leaves ERANGE for a subnormal one (5e-324):
 * returns 1 then, for sort_keys. */
static int sorted_set_to_skiplist(client *c, db_entry *e) {
    zobj z = {db_entry_encoding(e), db_entry_ptr(e)};
    if (z.enc == DB_ENC_SKIPLIST) return 0;
    int subnormal = 0;
    zset_iter it;
    const unsigned char *m;
    size_t len;
    double score;
    for (zset_iter_at_rank(&it, &z, 0, 0); zset_iter_get(&it, &m, &len, &score);
         zset_iter_next(&it))
        subnormal |= fpclassify(score) == FP_SUBNORMAL;
    db_entry_will_change(c->db, e); /* the statistics must see it, under SORT_RO too */
    zset_convert_to_skiplist(&z);
    db_entry_set_object(c->db, e, z.enc, z.ptr);
    return subnormal;
}

static int parse_opts(client *c, sort_opts *o) {
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (arg_eq(c, j, "asc")) {
            o->desc = 0;
        } else if (arg_eq(c, j, "desc")) {
            o->desc = 1;
        } else if (arg_eq(c, j, "alpha")) {
            o->alpha = 1;
        } else if (arg_eq(c, j, "limit") && left >= 2) {
            if (arg_ll(c, j + 1, &o->limit_start) < 0 || arg_ll(c, j + 2, &o->limit_count) < 0)
                return -1;
            j += 2;
        } else if (!o->readonly && arg_eq(c, j, "store") && left >= 1) {
            o->store = &c->argv[++j];
        } else if (arg_eq(c, j, "by") && left >= 1) {
            o->by = &c->argv[++j];
            /* A pattern without '*' sorts nothing (and a later BY does not undo it). */
            if (!memchr(o->by->ptr, '*', c_len(o->by->ptr, o->by->len))) o->dontsort = 1;
        } else if (arg_eq(c, j, "get") && left >= 1) {
            o->gets[o->ngets++] = ++j;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* Each element's sort key: its BY value, or itself; a number unless ALPHA. Returns -1 when a
 * number cannot be read (Redis's "One or more scores can't be converted into double"). */
static int sort_keys(client *c, const sort_opts *o, item_list *l, int stale_erange) {
    int bad = 0;
    /* Redis 7.0 checks errno after each strtod without clearing it, so an ERANGE left before
     * the loop fails every number read; the only one memkv reproduces is the one SORT leaves
     * itself (sorted_set_to_skiplist). A number out of range fails the rest, as there. */
    errno = stale_erange ? ERANGE : 0;
    for (size_t j = 0; j < l->n; j++) {
        sort_item *it = &l->v[j];
        char *val = it->p, *own = NULL;
        size_t vlen = it->len;
        if (o->by) {
            if (!by_pattern(c, o->by, it, &own, &vlen)) continue; /* score 0, or no cmp */
            val = own;
        }
        if (o->alpha) {
            if (o->by) { /* the value is kept for the comparisons */
                it->cmp = own;
                it->cmplen = vlen;
                own = NULL;
            }
        } else {
            /* strtod over the value as a C string: a NUL ends it, "" is 0, spaces lead */
            char *end;
            it->score = strtod(val, &end);
            if (*end != '\0' || errno == ERANGE || isnan(it->score)) bad = 1;
        }
        alloc_free(SUB, own);
    }
    return bad ? -1 : 0;
}

/* The output of elements start..end: each element, or what each GET pattern finds for it
 * (p NULL: nothing), in order, to emit. */
typedef void (*emit_fn)(void *ctx, const char *p, size_t len);

static void emit_range(client *c, const sort_opts *o, const item_list *l, long long start,
                       long long end, emit_fn emit, void *ctx) {
    for (long long j = start; j <= end; j++) {
        if (!o->ngets) emit(ctx, l->v[j].p, l->v[j].len);
        for (int g = 0; g < o->ngets; g++) {
            char *v = NULL;
            size_t n = 0;
            by_pattern(c, &c->argv[o->gets[g]], &l->v[j], &v, &n);
            emit(ctx, v, n);
            alloc_free(SUB, v);
        }
    }
}

static void emit_reply(void *ctx, const char *p, size_t len) {
    client *c = ctx;
    if (p)
        reply_add_bulk(&c->reply, p, len);
    else
        reply_add_null(&c->reply);
}

static void emit_store(void *ctx, const char *p, size_t len) {
    ql_push(ctx, QL_TAIL, p ? p : "", p ? len : 0); /* a missing value is stored empty */
}

static void store_list(client *c, const resp_arg *dst, quicklist *ql, long long n) {
    if (n) {
        uint64_t expired = 0;
        db_find(c->db, dst->ptr, dst->len, server_now_ms(), &expired); /* lazy expiry */
        srv.stats.expired_keys += (long long)expired;
        int existed = db_delete(c->db, dst->ptr, dst->len);
        notify_overwrite_begin(existed);
        db_add_object(c->db, dst->ptr, dst->len, DB_TYPE_LIST, DB_ENC_QUICKLIST, ql);
        notify_overwrite_end();
        if (!existed) /* as Redis 7.0's setKey (see zset_store_result) */
            blocking_signal_key(c->db_index, dst->ptr, dst->len);
        notify_event(NOTIFY_LIST, "sortstore", dst->ptr, dst->len, c->db_index);
        srv.dirty += n;
    } else {
        ql_free(ql);
        if (db_delete(c->db, dst->ptr, dst->len)) {
            notify_event(NOTIFY_GENERIC, "del", dst->ptr, dst->len, c->db_index);
            srv.dirty++;
        }
    }
    reply_add_int(&c->reply, n);
}

static void sort_generic(client *c, int readonly) {
    sort_opts o = {.readonly = readonly, .limit_start = 0, .limit_count = -1};
    o.gets = alloc_malloc(SUB, (size_t)c->argc * sizeof(int));
    item_list l = {0};
    if (parse_opts(c, &o) < 0) goto done;
    db_entry *e = lookup_read(c, 1);
    if (e) {
        int t = db_entry_type(e);
        if (t != DB_TYPE_LIST && t != DB_TYPE_SET && t != DB_TYPE_ZSET) {
            reply_error(c, ERR_WRONGTYPE);
            goto done;
        }
    }
    /* A set's order is its own: sorted ALPHA where the result must not depend on it. */
    int in_script = script_current && c == script_current->fake;
    if (o.dontsort && e && db_entry_type(e) == DB_TYPE_SET && (o.store || in_script)) {
        o.dontsort = 0;
        o.alpha = 1;
        o.by = NULL;
    }
    int stale_erange = 0;
    if (e && db_entry_type(e) == DB_TYPE_ZSET) stale_erange = sorted_set_to_skiplist(c, e);

    /* LIMIT, brought within the length as Redis does. */
    long long vlen = (long long)length_of(e);
    long long start = o.limit_start < 0 ? 0 : o.limit_start > vlen ? vlen : o.limit_start;
    long long cnt = o.limit_count < -1 ? -1 : o.limit_count > vlen ? vlen : o.limit_count;
    long long end = cnt < 0 ? vlen - 1 : start + cnt - 1;
    if (start >= vlen) {
        start = vlen - 1;
        end = vlen - 2;
    }
    if (end >= vlen) end = vlen - 1;
    int ranged = e && db_entry_type(e) != DB_TYPE_SET && o.dontsort;
    if (ranged) { /* only the range is read, in the key's order: output from its start */
        read_items(e, 1, o.desc, start, end - start + 1, &l);
        end -= start;
        start = 0;
    } else {
        read_items(e, 0, 0, 0, 0, &l);
    }

    int bad = 0;
    if (!o.dontsort) {
        bad = sort_keys(c, &o, &l, stale_erange) < 0;
        sort_cmp k = {o.desc, o.alpha, o.by != NULL, o.store != NULL};
        sort_item *tmp = alloc_malloc(SUB, (l.n ? l.n : 1) * sizeof(*tmp));
        merge_sort(l.v, tmp, l.n, &k);
        alloc_free(SUB, tmp);
    }

    long long outlen = (o.ngets ? o.ngets : 1) * (end - start + 1);
    if (bad) {
        reply_error(c, "ERR One or more scores can't be converted into double");
    } else if (!o.store) {
        reply_add_array_len(&c->reply, outlen);
        emit_range(c, &o, &l, start, end, emit_reply, c);
    } else {
        quicklist *ql = ql_new(srv.list_max_listpack_size);
        emit_range(c, &o, &l, start, end, emit_store, ql);
        store_list(c, o.store, ql, outlen);
    }
done:
    free_items(&l);
    alloc_free(SUB, o.gets);
}

static void cmd_sort(client *c) {
    sort_generic(c, 0);
}

static void cmd_sort_ro(client *c) {
    sort_generic(c, 1);
}

/* clang-format off */
command sort_commands[] = {
    {"sort", cmd_sort, -2, CMD_WRITE | CMD_DENYOOM | CMD_MOVABLEKEYS, 1, 1, 1, "generic", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."},
    {"sort_ro", cmd_sort_ro, -2, CMD_READONLY | CMD_MOVABLEKEYS, 1, 1, 1, "generic", "Returns the sorted elements of a list, a set, or a sorted set."},
};
/* clang-format on */
const size_t sort_commands_count = sizeof(sort_commands) / sizeof(sort_commands[0]);
