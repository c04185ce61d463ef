/* Hash commands, as Redis 7.0's t_hash.c answers them. The type lives in src/db/t_hash.c;
 * these handlers parse, look up, call it and reply. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "db/t_hash.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM

static void limits_of(hash_limits *lim) {
    lim->max_entries =
        srv.hash_max_listpack_entries > 0 ? (size_t)srv.hash_max_listpack_entries : 0;
    lim->max_value = srv.hash_max_listpack_value > 0 ? (size_t)srv.hash_max_listpack_value : 0;
}

static void value_of(const db_entry *e, hash_value *h) {
    h->enc = db_entry_encoding(e);
    h->ptr = db_entry_ptr(e);
}

/* The hash at argv[1] for a read: 1 with *h set, 0 if missing, -1 after WRONGTYPE. */
static int hash_read(client *c, hash_value *h) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_HASH, 0, &wrongtype);
    if (wrongtype) return -1;
    if (!e) return 0;
    value_of(e, h);
    return 1;
}

/* The hash at argv[1] for a write: its entry (NULL if missing: *h is then a new empty hash
 * that hash_store adds or frees), or -1 after WRONGTYPE. */
static int hash_write(client *c, db_entry **e, hash_value *h) {
    int wrongtype;
    *e = lookup_type_or_reply(c, 1, DB_TYPE_HASH, 1, &wrongtype);
    if (wrongtype) return -1;
    if (*e)
        value_of(*e, h);
    else
        hash_init(h);
    return 0;
}

/* After a write: the value back into its entry (it may have moved or converted), a new hash
 * into the key space, an emptied one out of it. */
static void hash_store(client *c, db_entry *e, hash_value *h) {
    const resp_arg *key = &c->argv[1];
    if (hash_len(h) == 0) {
        if (e) {
            db_entry_set_object(c->db, e, h->enc, h->ptr);
            db_delete(c->db, key->ptr, key->len);
        } else {
            hash_free(h);
        }
    } else if (e) {
        db_entry_set_object(c->db, e, h->enc, h->ptr);
    } else {
        db_add_object(c->db, key->ptr, key->len, DB_TYPE_HASH, h->enc, h->ptr);
    }
}

static void reply_str(client *c, const hash_str *s) {
    reply_add_bulk(&c->reply, s->p, s->len);
}

/* ---- setting ---------------------------------------------------------------------------- */

/* HSET and HMSET: the pairs from argv[2] on. Returns how many fields were added. */
static long long set_pairs(client *c, db_entry *e, hash_value *h) {
    hash_limits lim;
    limits_of(&lim);
    size_t longest = 0, total = 0;
    for (int i = 2; i < c->argc; i++) {
        if (c->argv[i].len > longest) longest = c->argv[i].len;
        total += c->argv[i].len;
    }
    hash_try_conversion(h, &lim, longest, total);
    long long added = 0;
    for (int i = 2; i + 1 < c->argc; i += 2)
        added += hash_set(h, &lim, c->argv[i].ptr, c->argv[i].len, c->argv[i + 1].ptr,
                          c->argv[i + 1].len);
    hash_store(c, e, h);
    key_changed(c, 1);
    notify_key(c, NOTIFY_HASH, "hset", 1);
    srv.dirty += (c->argc - 2) / 2; /* as Redis: every pair, added or overwritten */
    return added;
}

static void cmd_hset(client *c) {
    if (c->argc % 2 == 1) {
        reply_wrong_arity(c);
        return;
    }
    db_entry *e;
    hash_value h;
    if (hash_write(c, &e, &h) < 0) return;
    reply_add_int(&c->reply, set_pairs(c, e, &h));
}

static void cmd_hmset(client *c) {
    if (c->argc % 2 == 1) {
        reply_wrong_arity(c);
        return;
    }
    db_entry *e;
    hash_value h;
    if (hash_write(c, &e, &h) < 0) return;
    set_pairs(c, e, &h);
    reply_add_status(&c->reply, "OK");
}

static void cmd_hsetnx(client *c) {
    db_entry *e;
    hash_value h;
    if (hash_write(c, &e, &h) < 0) return;
    const resp_arg *f = &c->argv[2], *v = &c->argv[3];
    if (hash_exists(&h, f->ptr, f->len)) {
        hash_store(c, e, &h); /* a dict lookup may have rehashed: nothing moved, but be exact */
        reply_add_int(&c->reply, 0);
        return;
    }
    hash_limits lim;
    limits_of(&lim);
    hash_try_conversion(&h, &lim, f->len > v->len ? f->len : v->len, f->len + v->len);
    hash_set(&h, &lim, f->ptr, f->len, v->ptr, v->len);
    hash_store(c, e, &h);
    key_changed(c, 1);
    notify_key(c, NOTIFY_HASH, "hset", 1);
    srv.dirty++;
    reply_add_int(&c->reply, 1);
}

static void cmd_hincrby(client *c) {
    long long incr, value = 0;
    if (arg_ll(c, 3, &incr) < 0) return;
    db_entry *e;
    hash_value h;
    if (hash_write(c, &e, &h) < 0) return;
    const resp_arg *f = &c->argv[2];
    hash_str cur;
    unsigned char buf[LP_INTBUF];
    if (hash_get(&h, f->ptr, f->len, &cur, buf) &&
        util_parse_ll((const char *)cur.p, cur.len, &value) < 0) {
        hash_store(c, e, &h);
        reply_error(c, "ERR hash value is not an integer");
        return;
    }
    if (__builtin_add_overflow(value, incr, &value)) {
        hash_store(c, e, &h);
        reply_error(c, ERR_OVERFLOW);
        return;
    }
    char out[32];
    size_t n = util_format_ll(out, value);
    hash_limits lim;
    limits_of(&lim);
    hash_set(&h, &lim, f->ptr, f->len, out, n);
    hash_store(c, e, &h);
    key_changed(c, 1);
    notify_key(c, NOTIFY_HASH, "hincrby", 1);
    srv.dirty++;
    reply_add_int(&c->reply, value);
}

static void cmd_hincrbyfloat(client *c) {
    long double incr, value = 0;
    if (util_parse_ld(c->argv[3].ptr, c->argv[3].len, &incr) < 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    db_entry *e;
    hash_value h;
    if (hash_write(c, &e, &h) < 0) return;
    const resp_arg *f = &c->argv[2];
    hash_str cur;
    unsigned char buf[LP_INTBUF];
    if (hash_get(&h, f->ptr, f->len, &cur, buf) &&
        util_parse_ld((const char *)cur.p, cur.len, &value) < 0) {
        hash_store(c, e, &h);
        reply_error(c, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        hash_store(c, e, &h);
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char out[5 * 1024];
    size_t n = util_format_ld(out, sizeof(out), value);
    if (n == 0) { /* cannot happen for a finite long double; as Redis, refuse rather than lie */
        hash_store(c, e, &h);
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    hash_limits lim;
    limits_of(&lim);
    hash_set(&h, &lim, f->ptr, f->len, out, n);
    hash_store(c, e, &h);
    key_changed(c, 1);
    notify_key(c, NOTIFY_HASH, "hincrbyfloat", 1);
    srv.dirty++;
    reply_add_bulk(&c->reply, out, n);
}

static void cmd_hdel(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_HASH, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        reply_add_int(&c->reply, 0);
        return;
    }
    hash_value h;
    value_of(e, &h);
    long long deleted = 0;
    for (int i = 2; i < c->argc && hash_len(&h) > 0; i++)
        deleted += hash_delete(&h, c->argv[i].ptr, c->argv[i].len);
    int emptied = hash_len(&h) == 0;
    hash_store(c, e, &h);
    if (deleted) {
        key_changed(c, 1);
        srv.dirty += deleted;
        notify_key(c, NOTIFY_HASH, "hdel", 1);
        if (emptied) notify_key(c, NOTIFY_GENERIC, "del", 1);
    }
    reply_add_int(&c->reply, deleted);
}

/* ---- reading ---------------------------------------------------------------------------- */

static void cmd_hget(client *c) {
    hash_value h;
    int r = hash_read(c, &h);
    if (r < 0) return;
    hash_str v;
    unsigned char buf[LP_INTBUF];
    if (r && hash_get(&h, c->argv[2].ptr, c->argv[2].len, &v, buf))
        reply_str(c, &v);
    else
        reply_add_null(&c->reply);
}

static void cmd_hmget(client *c) {
    hash_value h;
    int r = hash_read(c, &h);
    if (r < 0) return;
    reply_add_array_len(&c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        hash_str v;
        unsigned char buf[LP_INTBUF];
        if (r && hash_get(&h, c->argv[i].ptr, c->argv[i].len, &v, buf))
            reply_str(c, &v);
        else
            reply_add_null(&c->reply);
    }
}

static void cmd_hlen(client *c) {
    hash_value h;
    int r = hash_read(c, &h);
    if (r >= 0) reply_add_int(&c->reply, r ? (long long)hash_len(&h) : 0);
}

static void cmd_hexists(client *c) {
    hash_value h;
    int r = hash_read(c, &h);
    if (r >= 0) reply_add_int(&c->reply, r && hash_exists(&h, c->argv[2].ptr, c->argv[2].len));
}

static void cmd_hstrlen(client *c) {
    hash_value h;
    int r = hash_read(c, &h);
    if (r < 0) return;
    hash_str v;
    unsigned char buf[LP_INTBUF];
    int found = r && hash_get(&h, c->argv[2].ptr, c->argv[2].len, &v, buf);
    reply_add_int(&c->reply, found ? (long long)v.len : 0);
}

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

static void reply_all(client *c, int want) {
    hash_value h;
    int r = hash_read(c, &h);
    if (r < 0) return;
    long long n = r ? (long long)hash_len(&h) : 0;
    if (want == (WANT_FIELDS | WANT_VALUES))
        reply_add_map_len(&c->reply, n); /* HGETALL */
    else
        reply_add_array_len(&c->reply, n);
    if (r == 0) return;
    hash_iter it;
    hash_str f, v;
    hash_iter_init(&h, &it);
    while (hash_iter_next(&it, &f, &v)) {
        if (want & WANT_FIELDS) reply_str(c, &f);
        if (want & WANT_VALUES) reply_str(c, &v);
    }
}

static void cmd_hkeys(client *c) {
    reply_all(c, WANT_FIELDS);
}

static void cmd_hvals(client *c) {
    reply_all(c, WANT_VALUES);
}

static void cmd_hgetall(client *c) {
    reply_all(c, WANT_FIELDS | WANT_VALUES);
}

/* ---- HRANDFIELD ------------------------------------------------------------------------- */

static uint64_t rand_state;

static uint64_t *rng(void) {
    if (!rand_state) rand_state = (uint64_t)util_ustime() ^ ((uint64_t)getpid() << 32) ^ 1;
    return &rand_state;
}

static uint64_t rand_below(uint64_t n) {
    uint64_t z = (*rng() += UINT64_C(0x9e3779b97f4a7c15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (z ^ (z >> 31)) % n;
}

/* n fields, or n (field, value) pairs WITHVALUES. */
static void reply_fields_len(client *c, long long n, int withvalues) {
    if (withvalues)
        reply_add_pairs_len(&c->reply, n);
    else
        reply_add_array_len(&c->reply, n);
}

/* The field, and its value when withvalues: as one of HRANDFIELD's pairs (nested in RESP3)
 * when nested, else flat (HSCAN). */
static void reply_field(client *c, const hash_value *h, hash_pair pr, int withvalues, int nested) {
    hash_str f, v;
    hash_pair_bufs b;
    hash_pair_get(h, pr, &f, &v, &b);
    if (withvalues && nested) reply_add_pair(&c->reply);
    reply_str(c, &f);
    if (withvalues) reply_str(c, &v);
}

static void reply_pair(client *c, const hash_value *h, hash_pair pr, int withvalues) {
    reply_field(c, h, pr, withvalues, 1);
}

/* count distinct pairs out of the n of the hash (count < n). */
static void reply_distinct(client *c, hash_value *h, size_t count, int withvalues) {
    size_t n = hash_len(h);
    if (h->enc == DB_ENC_LISTPACK || count * 3 > n) {
        /* Many of them (or a small listpack): a partial shuffle of every pair. */
        hash_pair *all = alloc_malloc(ALLOC_SUB_OTHER, n * sizeof(*all));
        hash_pairs(h, all);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)rand_below(n - i);
            hash_pair t = all[i];
            all[i] = all[j];
            all[j] = t;
            reply_pair(c, h, all[i], withvalues);
        }
        alloc_free(ALLOC_SUB_OTHER, all);
        return;
    }
    /* A few out of a big table: random picks, duplicates skipped through a set of the
     * picked entries' addresses. */
    dict *seen = dict_new(ALLOC_SUB_OTHER, DICT_KEYS);
    size_t got = 0;
    while (got < count) {
        hash_pair pr = hash_random_pair(h, rng());
        int added;
        dict_add(seen, &pr.ref, sizeof(pr.ref), &added);
        if (!added) continue;
        reply_pair(c, h, pr, withvalues);
        got++;
    }
    dict_free(seen);
}

static void cmd_hrandfield(client *c) {
    if (c->argc == 2) {
        hash_value h;
        int r = hash_read(c, &h);
        if (r < 0) return;
        if (r == 0) {
            reply_add_null(&c->reply);
            return;
        }
        reply_pair(c, &h, hash_random_pair(&h, rng()), 0);
        return;
    }
    long long l;
    int withvalues;
    if (arg_random_count(c, "withvalues", &l, &withvalues) < 0) return;
    hash_value h;
    int r = hash_read(c, &h);
    if (r < 0) return;
    if (r == 0 || l == 0) {
        reply_add_array_len(&c->reply, 0);
        return;
    }
    if (l < 0) { /* repetitions allowed */
        unsigned long long count = (unsigned long long)-l;
        reply_fields_len(c, (long long)count, withvalues);
        /* A listpack is walked once into an array of its pairs rather than once per pick. */
        size_t n = hash_len(&h);
        hash_pair *all = NULL;
        if (h.enc == DB_ENC_LISTPACK) {
            all = alloc_malloc(ALLOC_SUB_OTHER, n * sizeof(*all));
            hash_pairs(&h, all);
        }
        for (unsigned long long i = 0; i < count; i++) {
            hash_pair pr = all ? all[rand_below(n)] : hash_random_pair(&h, rng());
            reply_pair(c, &h, pr, withvalues);
            /* A huge count can only end in the output-buffer limit: stop producing then. */
            if ((i & 1023) == 1023 && client_obuf_check(c) < 0) break;
        }
        alloc_free(ALLOC_SUB_OTHER, all);
        return;
    }
    size_t n = hash_len(&h);
    if ((unsigned long long)l >= n) { /* the whole hash */
        reply_fields_len(c, (long long)n, withvalues);
        hash_iter it;
        hash_str f, v;
        hash_iter_init(&h, &it);
        while (hash_iter_next(&it, &f, &v)) {
            if (withvalues) reply_add_pair(&c->reply);
            reply_str(c, &f);
            if (withvalues) reply_str(c, &v);
        }
        return;
    }
    reply_fields_len(c, l, withvalues);
    reply_distinct(c, &h, (size_t)l, withvalues);
}

/* ---- HSCAN ------------------------------------------------------------------------------ */

typedef struct pair_list {
    hash_pair *items;
    size_t len, cap;
} pair_list;

static void collect_pair(void *ctx, hash_pair pr) {
    pair_list *pl = ctx;
    if (pl->len == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 64;
        pl->items = alloc_realloc(ALLOC_SUB_OTHER, pl->items, pl->cap * sizeof(*pl->items));
    }
    pl->items[pl->len++] = pr;
}

static void cmd_hscan(client *c) {
    uint64_t cursor;
    if (arg_scan_cursor(c, 2, &cursor) < 0) return;
    hash_value h;
    int r = hash_read(c, &h);
    if (r < 0) return;
    if (r == 0) {
        reply_scan_head(c, 0);
        reply_add_array_len(&c->reply, 0);
        return;
    }
    scan_args a;
    if (parse_scan_args(c, 3, 0, &a) < 0) return;
    pair_list pl = {NULL, 0, 0};
    /* Redis counts fields and values towards COUNT: about count/2 pairs. */
    uint64_t next = hash_scan(&h, cursor, ((size_t)a.count + 1) / 2, collect_pair, &pl);
    size_t kept = 0;
    for (size_t i = 0; i < pl.len; i++) {
        hash_str f, v;
        hash_pair_bufs b;
        hash_pair_get(&h, pl.items[i], &f, &v, &b);
        if (scan_args_match(&a, f.p, f.len)) pl.items[kept++] = pl.items[i];
    }
    reply_scan_head(c, next);
    reply_add_array_len(&c->reply, (long long)kept * 2);
    for (size_t i = 0; i < kept; i++)
        reply_field(c, &h, pl.items[i], 1, 0);
    alloc_free(ALLOC_SUB_OTHER, pl.items);
}

/* name, handler, arity, flags, first key, last key, step, group, summary (Redis 7.0's) */
/* clang-format off */
command hashes_commands[] = {
    {"hset", cmd_hset, -4, W | M | F, 1, 1, 1, "hash", "Creates or modifies the value of a field in a hash."},
    {"hsetnx", cmd_hsetnx, 4, W | M | F, 1, 1, 1, "hash", "Sets the value of a field in a hash only when the field doesn't exist."},
    {"hget", cmd_hget, 3, R | F, 1, 1, 1, "hash", "Returns the value of a field in a hash."},
    {"hmget", cmd_hmget, -3, R | F, 1, 1, 1, "hash", "Returns the values of all fields in a hash."},
    {"hmset", cmd_hmset, -4, W | M | F, 1, 1, 1, "hash", "Sets the values of multiple fields."},
    {"hdel", cmd_hdel, -3, W | F, 1, 1, 1, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."},
    {"hlen", cmd_hlen, 2, R | F, 1, 1, 1, "hash", "Returns the number of fields in a hash."},
    {"hexists", cmd_hexists, 3, R | F, 1, 1, 1, "hash", "Determines whether a field exists in a hash."},
    {"hkeys", cmd_hkeys, 2, R, 1, 1, 1, "hash", "Returns all fields in a hash."},
    {"hvals", cmd_hvals, 2, R, 1, 1, 1, "hash", "Returns all values in a hash."},
    {"hgetall", cmd_hgetall, 2, R, 1, 1, 1, "hash", "Returns all fields and values in a hash."},
    {"hincrby", cmd_hincrby, 4, W | M | F, 1, 1, 1, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, W | M | F, 1, 1, 1, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."},
    {"hstrlen", cmd_hstrlen, 3, R | F, 1, 1, 1, "hash", "Returns the length of the value of a field."},
    {"hrandfield", cmd_hrandfield, -2, R, 1, 1, 1, "hash", "Returns one or more random fields from a hash."},
    {"hscan", cmd_hscan, -3, R, 1, 1, 1, "hash", "Iterates over fields and values of a hash."},
};
/* clang-format on */
const size_t hashes_commands_count = sizeof(hashes_commands) / sizeof(hashes_commands[0]);
