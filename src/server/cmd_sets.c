/* Set commands. The values and their encodings live in src/db/t_set.c; these handlers parse,
 * look keys up, call it and reply, with Redis 7.0's replies and error texts. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/t_set.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

static set_limits limits(void) {
    set_limits l = {(size_t)srv.set_max_intset_entries, (size_t)srv.set_max_listpack_entries,
                    (size_t)srv.set_max_listpack_value};
    return l;
}

static uint64_t rng_state;

static uint64_t *rng(void) {
    if (!rng_state) rng_state = (uint64_t)util_ustime() ^ ((uint64_t)getpid() << 32) ^ 1;
    return &rng_state;
}

static set_obj set_of(const db_entry *e) {
    set_obj s = {db_entry_ptr(e), db_entry_encoding(e)};
    return s;
}

/* Store a changed value back in its entry, or delete the key when the set became empty (an
 * empty collection never exists). Returns 1 when it deleted the key: the caller sends its own
 * event, then "del" (notify_emptied), in Redis's order. */
static int store_back(client *c, int i, db_entry *e, set_obj s) {
    if (set_card(&s) == 0) {
        db_entry_set_object(c->db, e, s.enc, s.ptr);
        db_delete(c->db, c->argv[i].ptr, c->argv[i].len);
        return 1;
    }
    if (s.ptr != db_entry_ptr(e) || s.enc != db_entry_encoding(e))
        db_entry_set_object(c->db, e, s.enc, s.ptr);
    return 0;
}

static void notify_emptied(client *c, int i, int deleted) {
    if (deleted) notify_key(c, NOTIFY_GENERIC, "del", i);
}

static void reply_member(void *ctx, const unsigned char *p, size_t len) {
    client *c = ctx;
    reply_add_bulk(&c->reply, p, len);
}

/* Every member: as a set (SMEMBERS, SUNION, SPOP with a count: RESP3 ~n), or as an array
 * (SRANDMEMBER: *n in both protocols, as Redis 7.0). */
static void reply_all_members(client *c, set_obj *s, int as_set) {
    set_iter it;
    set_member m;
    if (as_set)
        reply_add_set_len(&c->reply, (long long)set_card(s));
    else
        reply_add_array_len(&c->reply, (long long)set_card(s));
    set_iter_init(s, &it);
    while (set_iter_next(&it, &m))
        reply_add_bulk(&c->reply, m.p, m.len);
}

/* SADD key member [member ...] */
static void cmd_sadd(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 1, &wrongtype);
    if (wrongtype) return;
    set_limits lim = limits();
    /* Redis 7.0 picks the encoding from the first member alone (no size hint, as 7.2 has):
     * the adds convert it where the members go past the limits. */
    set_obj s = e ? set_of(e) : set_new_for(c->argv[2].ptr, c->argv[2].len, 1, &lim);
    long long added = 0;
    for (int i = 2; i < c->argc; i++)
        added += set_add(&s, c->argv[i].ptr, c->argv[i].len, &lim);
    if (e)
        store_back(c, 1, e, s);
    else
        db_add_object(c->db, c->argv[1].ptr, c->argv[1].len, DB_TYPE_SET, s.enc, s.ptr);
    if (e && added) key_changed(c, 1);
    if (added) notify_key(c, NOTIFY_SET, "sadd", 1);
    srv.dirty += added;
    reply_add_int(&c->reply, added);
}

/* SREM key member [member ...] */
static void cmd_srem(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 1, &wrongtype);
    if (wrongtype) return;
    long long removed = 0;
    if (e) {
        set_obj s = set_of(e);
        for (int i = 2; i < c->argc && set_card(&s); i++)
            removed += set_remove(&s, c->argv[i].ptr, c->argv[i].len);
        int deleted = store_back(c, 1, e, s);
        if (removed) {
            key_changed(c, 1);
            notify_key(c, NOTIFY_SET, "srem", 1);
            srv.dirty += removed;
        }
        notify_emptied(c, 1, deleted);
    }
    reply_add_int(&c->reply, removed);
}

static void cmd_smembers(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 0, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        reply_add_set_len(&c->reply, 0);
        return;
    }
    set_obj s = set_of(e);
    reply_all_members(c, &s, 1);
}

static void cmd_sismember(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 0, &wrongtype);
    if (wrongtype) return;
    set_obj s = e ? set_of(e) : (set_obj){NULL, 0};
    reply_add_int(&c->reply, e && set_ismember(&s, c->argv[2].ptr, c->argv[2].len));
}

static void cmd_smismember(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 0, &wrongtype);
    if (wrongtype) return;
    set_obj s = e ? set_of(e) : (set_obj){NULL, 0};
    reply_add_array_len(&c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_add_int(&c->reply, e && set_ismember(&s, c->argv[i].ptr, c->argv[i].len));
}

static void cmd_scard(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 0, &wrongtype);
    if (wrongtype) return;
    set_obj s = e ? set_of(e) : (set_obj){NULL, 0};
    reply_add_int(&c->reply, e ? (long long)set_card(&s) : 0);
}

/* SPOP key [count] */
static void cmd_spop(client *c) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long count = 1;
    if (c->argc == 3) {
        if (util_parse_ll(c->argv[2].ptr, c->argv[2].len, &count) < 0 || count < 0) {
            reply_error(c, "ERR value is out of range, must be positive");
            return;
        }
    }
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        if (c->argc == 3)
            reply_add_set_len(&c->reply, 0);
        else
            reply_add_null(&c->reply);
        return;
    }
    set_obj s = set_of(e);
    if (c->argc == 2) {
        set_pop(&s, rng(), reply_member, c);
        int deleted = store_back(c, 1, e, s);
        key_changed(c, 1);
        notify_key(c, NOTIFY_SET, "spop", 1);
        notify_emptied(c, 1, deleted);
        srv.dirty++;
        return;
    }
    size_t n = set_card(&s);
    if ((unsigned long long)count >= n) { /* the whole set goes */
        srv.stats.keyspace_hits++; /* Redis replies through SUNION's code, which reads the key */
        reply_all_members(c, &s, 1);
        db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
        notify_key(c, NOTIFY_SET, "spop", 1);
        notify_emptied(c, 1, 1);
        srv.dirty += (long long)n; /* one change per member popped, as Redis */
        return;
    }
    reply_add_set_len(&c->reply, count);
    for (long long i = 0; i < count; i++)
        set_pop(&s, rng(), reply_member, c);
    store_back(c, 1, e, s);
    if (count) {
        key_changed(c, 1);
        notify_key(c, NOTIFY_SET, "spop", 1);
        srv.dirty += count;
    }
}

/* SRANDMEMBER key [count] */
static void cmd_srandmember(client *c) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long count = 0;
    if (c->argc == 3) {
        if (arg_ll(c, 2, &count) < 0) return;
        if (count == LLONG_MIN) {
            reply_error(c, "ERR value is out of range, value must between -9223372036854775807 "
                           "and 9223372036854775807");
            return;
        }
    }
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 0, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        if (c->argc == 3)
            reply_add_array_len(&c->reply, 0);
        else
            reply_add_null(&c->reply);
        return;
    }
    set_obj s = set_of(e);
    set_member m;
    if (c->argc == 2) {
        set_random(&s, rng(), &m);
        reply_add_bulk(&c->reply, m.p, m.len);
        return;
    }
    if (count < 0) {
        /* With repetitions. A huge count is bounded by the output-buffer limit: once over
         * it the client is being closed, so the rest of the reply would go nowhere. */
        reply_add_array_len(&c->reply, -count);
        for (long long i = 0; i < -count; i++) {
            set_random(&s, rng(), &m);
            reply_add_bulk(&c->reply, m.p, m.len);
            if ((i & 1023) == 1023 && client_obuf_check(c) < 0) return;
        }
        return;
    }
    size_t n = set_card(&s);
    if ((unsigned long long)count >= n) {
        reply_all_members(c, &s, 0);
        return;
    }
    reply_add_array_len(&c->reply, count);
    set_random_distinct(&s, (size_t)count, rng(), reply_member, c);
}

/* SMOVE source destination member */
static void cmd_smove(client *c) {
    db_entry *src = lookup_write(c, 1);
    db_entry *dst = lookup_write(c, 2);
    if (!src) {
        reply_add_int(&c->reply, 0);
        return;
    }
    if (db_entry_type(src) != DB_TYPE_SET || (dst && db_entry_type(dst) != DB_TYPE_SET)) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    const resp_arg *m = &c->argv[3];
    set_obj s = set_of(src);
    if (src == dst) {
        reply_add_int(&c->reply, set_ismember(&s, m->ptr, m->len));
        return;
    }
    if (!set_remove(&s, m->ptr, m->len)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    int deleted = store_back(c, 1, src, s); /* may delete src: dst's pointer is stale */
    key_changed(c, 1);
    notify_key(c, NOTIFY_SET, "srem", 1);
    notify_emptied(c, 1, deleted);
    srv.dirty++; /* and one more when the destination gains it, as Redis counts */
    set_limits lim = limits();
    dst = db_peek(c->db, c->argv[2].ptr, c->argv[2].len);
    if (dst) {
        set_obj d = set_of(dst);
        int added = set_add(&d, m->ptr, m->len, &lim);
        store_back(c, 2, dst, d);
        key_changed(c, 2);
        if (added) notify_key(c, NOTIFY_SET, "sadd", 2);
        srv.dirty += added;
    } else {
        set_obj d = set_new_for(m->ptr, m->len, 1, &lim);
        set_add(&d, m->ptr, m->len, &lim);
        db_add_object(c->db, c->argv[2].ptr, c->argv[2].len, DB_TYPE_SET, d.enc, d.ptr);
        notify_key(c, NOTIFY_SET, "sadd", 2);
        srv.dirty++;
    }
    reply_add_int(&c->reply, 1);
}

/* ---- SINTER, SUNION, SDIFF and their STORE and CARD forms ---- */

/* The sets of keys argv[first .. first+n-1] (missing ones empty: ptr NULL), read lookups
 * (hits and misses) for the STORE forms too, as Redis 7.0. Returns 0, or -1 after replying
 * WRONGTYPE. */
static int lookup_sets(client *c, int first, int n, set_obj *sets, size_t *empty) {
    *empty = 0;
    for (int j = 0; j < n; j++) {
        int wrongtype;
        db_entry *e = lookup_type_or_reply(c, first + j, DB_TYPE_SET, 0, &wrongtype);
        if (wrongtype) return -1;
        if (e) {
            sets[j] = set_of(e);
        } else {
            sets[j].ptr = NULL;
            (*empty)++;
        }
    }
    return 0;
}

static int cmp_card(const void *a, const void *b) {
    size_t x = set_card(a), y = set_card(b);
    return x < y ? -1 : x > y;
}

/* Member m of the smallest set is in all the others (sets sorted by size; a set given twice
 * is the same value). */
static int in_all(set_obj *sets, int n, const set_member *m) {
    for (int j = 1; j < n; j++) {
        if (sets[j].ptr == sets[0].ptr) continue;
        if (!set_ismember(&sets[j], m->p, m->len)) return 0;
    }
    return 1;
}

/* Replace dst (any type) with the computed set, or delete it when the result is empty;
 * replies the result's size. Takes ownership of res. `event`: "sinterstore" ... */
static void store_result(client *c, const resp_arg *dst, set_obj res, const char *event) {
    size_t n = set_card(&res);
    /* As Redis: a result replaces dst after a write lookup (which expires it lazily); an
     * empty result deletes dst as it is. */
    if (n) {
        uint64_t expired = 0;
        db_find(c->db, dst->ptr, dst->len, server_now_ms(), &expired);
        srv.stats.expired_keys += (long long)expired;
    }
    int existed = db_delete(c->db, dst->ptr, dst->len);
    if (n) {
        notify_overwrite_begin(existed);
        db_add_object(c->db, dst->ptr, dst->len, DB_TYPE_SET, res.enc, res.ptr);
        notify_overwrite_end();
    } else {
        set_release(&res);
    }
    reply_add_int(&c->reply, (long long)n);
    if (n)
        notify_event(NOTIFY_SET, event, dst->ptr, dst->len, c->db_index);
    else if (existed)
        notify_event(NOTIFY_GENERIC, "del", dst->ptr, dst->len, c->db_index);
    srv.dirty += n || existed;
}

enum inter_mode { INTER_REPLY, INTER_STORE, INTER_CARD };

static void sinter_generic(client *c, int first, int n, const resp_arg *dst, enum inter_mode mode,
                           size_t limit) {
    set_obj *sets = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*sets) * (size_t)n);
    size_t empty;
    if (lookup_sets(c, first, n, sets, &empty) < 0) goto done;
    if (empty) {
        if (mode == INTER_STORE) {
            if (db_delete(c->db, dst->ptr, dst->len)) {
                notify_event(NOTIFY_GENERIC, "del", dst->ptr, dst->len, c->db_index);
                srv.dirty++;
            }
            reply_add_int(&c->reply, 0);
        } else if (mode == INTER_CARD) {
            reply_add_int(&c->reply, 0);
        } else {
            reply_add_set_len(&c->reply, 0);
        }
        goto done;
    }
    qsort(sets, (size_t)n, sizeof(*sets), cmp_card);
    set_iter it;
    set_member m;
    if (mode == INTER_STORE) {
        set_limits lim = limits();
        set_obj res = set_new_intset();
        set_iter_init(&sets[0], &it);
        while (set_iter_next(&it, &m))
            if (in_all(sets, n, &m)) set_add(&res, m.p, m.len, &lim);
        store_result(c, dst, res, "sinterstore");
        goto done;
    }
    /* Count first (the reply has its length up front), then, for SINTER, send. */
    size_t count = 0;
    set_iter_init(&sets[0], &it);
    while (set_iter_next(&it, &m)) {
        if (in_all(sets, n, &m) && ++count == limit) break;
    }
    if (mode == INTER_CARD) {
        reply_add_int(&c->reply, (long long)count);
        goto done;
    }
    reply_add_set_len(&c->reply, (long long)count);
    set_iter_init(&sets[0], &it);
    while (count && set_iter_next(&it, &m)) {
        if (in_all(sets, n, &m)) {
            reply_add_bulk(&c->reply, m.p, m.len);
            count--;
        }
    }
done:
    alloc_free(ALLOC_SUB_OTHER, sets);
}

static void cmd_sinter(client *c) {
    sinter_generic(c, 1, c->argc - 1, NULL, INTER_REPLY, 0);
}

static void cmd_sinterstore(client *c) {
    sinter_generic(c, 2, c->argc - 2, &c->argv[1], INTER_STORE, 0);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
static void cmd_sintercard(client *c) {
    long long numkeys, limit = 0;
    if (util_parse_ll(c->argv[1].ptr, c->argv[1].len, &numkeys) < 0 || numkeys < 1) {
        reply_error(c, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > c->argc - 2) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < c->argc; i++) {
        if (arg_eq(c, i, "limit") && i + 1 < c->argc) {
            i++;
            if (util_parse_ll(c->argv[i].ptr, c->argv[i].len, &limit) < 0 || limit < 0) {
                reply_error(c, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    sinter_generic(c, 2, (int)numkeys, NULL, INTER_CARD, (size_t)limit);
}

enum { OP_UNION, OP_DIFF };

static int first_repeated(const set_obj *sets, int n) {
    for (int j = 1; j < n; j++)
        if (sets[j].ptr == sets[0].ptr) return 1;
    return 0;
}

static void sunion_diff_generic(client *c, int first, int n, const resp_arg *dst, int op) {
    set_obj *sets = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*sets) * (size_t)n);
    size_t empty;
    if (lookup_sets(c, first, n, sets, &empty) < 0) {
        alloc_free(ALLOC_SUB_OTHER, sets);
        return;
    }
    set_limits lim = limits();
    set_obj res = set_new_intset();
    set_iter it;
    set_member m;
    if (op == OP_UNION) {
        for (int j = 0; j < n; j++) {
            if (!sets[j].ptr) continue;
            set_iter_init(&sets[j], &it);
            while (set_iter_next(&it, &m))
                set_add(&res, m.p, m.len, &lim);
        }
    } else if (sets[0].ptr && !first_repeated(sets, n)) {
        /* The members of the first set that no other set has (none if the first set comes
         * again: and no lookup in the set being iterated, which could move its entries). */
        set_iter_init(&sets[0], &it);
        while (set_iter_next(&it, &m)) {
            int keep = 1;
            for (int j = 1; j < n && keep; j++)
                if (sets[j].ptr && set_ismember(&sets[j], m.p, m.len)) keep = 0;
            if (keep) set_add(&res, m.p, m.len, &lim);
        }
    }
    alloc_free(ALLOC_SUB_OTHER, sets);
    if (dst) {
        store_result(c, dst, res, op == OP_UNION ? "sunionstore" : "sdiffstore");
        return;
    }
    reply_all_members(c, &res, 1);
    set_release(&res);
}

static void cmd_sunion(client *c) {
    sunion_diff_generic(c, 1, c->argc - 1, NULL, OP_UNION);
}

static void cmd_sunionstore(client *c) {
    sunion_diff_generic(c, 2, c->argc - 2, &c->argv[1], OP_UNION);
}

static void cmd_sdiff(client *c) {
    sunion_diff_generic(c, 1, c->argc - 1, NULL, OP_DIFF);
}

static void cmd_sdiffstore(client *c) {
    sunion_diff_generic(c, 2, c->argc - 2, &c->argv[1], OP_DIFF);
}

/* ---- SSCAN ---- */

/* Members copied during a scan (a compact set's bytes are only valid during the call),
 * matched against the pattern: [len as size_t][bytes] each. */
typedef struct scan_out {
    const scan_args *args;
    char *buf;
    size_t used, cap, n;
} scan_out;

static void scan_take(void *ctx, const unsigned char *p, size_t len) {
    scan_out *o = ctx;
    if (!scan_args_match(o->args, p, len)) return;
    size_t need = sizeof(size_t) + len;
    if (o->cap - o->used < need) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->used < need)
            cap *= 2;
        o->buf = alloc_realloc(ALLOC_SUB_OTHER, o->buf, cap);
        o->cap = cap;
    }
    memcpy(o->buf + o->used, &len, sizeof(size_t));
    memcpy(o->buf + o->used + sizeof(size_t), p, len);
    o->used += need;
    o->n++;
}

/* SSCAN key cursor [MATCH pattern] [COUNT count] */
static void cmd_sscan(client *c) {
    uint64_t cursor;
    if (arg_scan_cursor(c, 2, &cursor) < 0) return;
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_SET, 0, &wrongtype);
    if (wrongtype) return;
    if (!e) { /* before the options, as Redis */
        reply_scan_head(c, 0);
        reply_add_array_len(&c->reply, 0);
        return;
    }
    scan_args a;
    if (parse_scan_args(c, 3, 0, &a) < 0) return;
    scan_out o = {.args = &a};
    set_obj s = set_of(e);
    uint64_t next = set_scan(&s, cursor, (size_t)a.count, scan_take, &o);
    reply_scan_head(c, next);
    reply_add_array_len(&c->reply, (long long)o.n);
    for (size_t off = 0; off < o.used;) {
        size_t len;
        memcpy(&len, o.buf + off, sizeof(size_t));
        reply_add_bulk(&c->reply, o.buf + off + sizeof(size_t), len);
        off += sizeof(size_t) + len;
    }
    alloc_free(ALLOC_SUB_OTHER, o.buf);
}

/* name, handler, arity, flags, first key, last key, step, group, summary (Redis 7.0's arity,
 * flags and key positions, as its COMMAND INFO says) */
#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM
/* clang-format off */
command sets_commands[] = {
    {"sadd", cmd_sadd, -3, W | M | F, 1, 1, 1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist."},
    {"srem", cmd_srem, -3, W | F, 1, 1, 1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed."},
    {"smembers", cmd_smembers, 2, R, 1, 1, 1, "set", "Returns all members of a set."},
    {"sismember", cmd_sismember, 3, R | F, 1, 1, 1, "set", "Determines whether a member belongs to a set."},
    {"smismember", cmd_smismember, -3, R | F, 1, 1, 1, "set", "Determines whether multiple members belong to a set."},
    {"scard", cmd_scard, 2, R | F, 1, 1, 1, "set", "Returns the number of members in a set."},
    {"spop", cmd_spop, -2, W | F, 1, 1, 1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."},
    {"srandmember", cmd_srandmember, -2, R, 1, 1, 1, "set", "Get one or multiple random members from a set."},
    {"smove", cmd_smove, 4, W | F, 1, 2, 1, "set", "Moves a member from one set to another."},
    {"sinter", cmd_sinter, -2, R, 1, -1, 1, "set", "Returns the intersect of multiple sets."},
    {"sinterstore", cmd_sinterstore, -3, W | M, 1, -1, 1, "set", "Stores the intersect of multiple sets in a key."},
    {"sintercard", cmd_sintercard, -3, R | CMD_MOVABLEKEYS, 0, 0, 0, "set", "Returns the number of members of the intersect of multiple sets."},
    {"sunion", cmd_sunion, -2, R, 1, -1, 1, "set", "Returns the union of multiple sets."},
    {"sunionstore", cmd_sunionstore, -3, W | M, 1, -1, 1, "set", "Stores the union of multiple sets in a key."},
    {"sdiff", cmd_sdiff, -2, R, 1, -1, 1, "set", "Returns the difference of multiple sets."},
    {"sdiffstore", cmd_sdiffstore, -3, W | M, 1, -1, 1, "set", "Stores the difference of multiple sets in a key."},
    {"sscan", cmd_sscan, -3, R, 1, 1, 1, "set", "Iterates over members of a set."},
};
/* clang-format on */
const size_t sets_commands_count = sizeof(sets_commands) / sizeof(sets_commands[0]);
