/* List commands, Redis 7.0's replies and errors (argument checks in Redis's order), and the
 * blocking ones (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) on top of blocking.h. A list value
 * is a quicklist (db/quicklist.h); an emptied list is deleted at once. */
#include <limits.h>
#include <string.h>

#include "db/quicklist.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"

/* ---- helpers ---- */

static quicklist *list_of(db_entry *e) {
    return db_entry_ptr(e);
}

/* The list at argv[i], created empty if missing (the caller adds to it at once). */
static quicklist *list_get_or_create(client *c, int i, db_entry *e) {
    if (e) return list_of(e);
    quicklist *ql = ql_new(srv.list_max_listpack_size);
    db_add_object(c->db, c->argv[i].ptr, c->argv[i].len, DB_TYPE_LIST, DB_ENC_QUICKLIST, ql);
    return ql;
}

/* After removing elements: an empty list does not exist ("del", as Redis). */
static void delete_if_empty(client *c, const resp_arg *key, quicklist *ql) {
    if (ql_count(ql) == 0) {
        db_delete(c->db, key->ptr, key->len);
        notify_event(NOTIFY_GENERIC, "del", key->ptr, key->len, c->db_index);
    }
}

/* The list events of Redis: "lpush"/"rpush" and "lpop"/"rpop" by the end touched. */
static void notify_push(client *c, int i, enum ql_where where) {
    notify_key(c, NOTIFY_LIST, where == QL_HEAD ? "lpush" : "rpush", i);
}
static void notify_pop(client *c, int i, enum ql_where where) {
    notify_key(c, NOTIFY_LIST, where == QL_HEAD ? "lpop" : "rpop", i);
}

/* The list at key gained elements: its waiters may be served, and WATCH learns of it. */
static void signal_key(client *c, const resp_arg *key) {
    blocking_signal_key(c->db_index, key->ptr, key->len);
    db_key_changed(c->db, key->ptr, key->len);
}

/* LEFT / RIGHT as Redis's getListPositionFromObjectOrReply. */
static int arg_where(client *c, int i, enum ql_where *where) {
    if (arg_eq(c, i, "left")) {
        *where = QL_HEAD;
    } else if (arg_eq(c, i, "right")) {
        *where = QL_TAIL;
    } else {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* Redis's getRangeLongFromObjectOrReply: an integer in [min, max], else `msg` (or the generic
 * "must be positive" text when msg is NULL). */
static int arg_range(client *c, int i, long long min, long long max, long long *out,
                     const char *msg) {
    long long v;
    if (util_parse_ll(c->argv[i].ptr, c->argv[i].len, &v) < 0 || v < min || v > max) {
        reply_error(c, msg ? msg : ERR_POSITIVE);
        return -1;
    }
    *out = v;
    return 0;
}

static void reply_value(client *c, const ql_value *v) {
    reply_add_bulk(&c->reply, v->ptr, v->len);
}

/* Pops up to count elements from one end into the reply (an array of them); each counts as a
 * change, as in Redis. */
static void reply_pop_count(client *c, quicklist *ql, enum ql_where where, long long count) {
    long long n = (long long)ql_count(ql);
    if (count > n) count = n;
    srv.dirty += count;
    reply_add_array_len(&c->reply, count);
    for (long long i = 0; i < count; i++) {
        ql_value v;
        ql_pop(ql, where, &v);
        reply_value(c, &v);
        ql_value_release(&v);
    }
}

/* ---- push ---- */

static void push_generic(client *c, enum ql_where where, int only_existing) {
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!e && only_existing) {
        reply_add_int(&c->reply, 0);
        return;
    }
    quicklist *ql = list_get_or_create(c, 1, e);
    for (int i = 2; i < c->argc; i++)
        ql_push(ql, where, c->argv[i].ptr, c->argv[i].len);
    reply_add_int(&c->reply, (long long)ql_count(ql));
    signal_key(c, &c->argv[1]);
    notify_push(c, 1, where);
    srv.dirty += c->argc - 2;
}

static void cmd_lpush(client *c) {
    push_generic(c, QL_HEAD, 0);
}
static void cmd_rpush(client *c) {
    push_generic(c, QL_TAIL, 0);
}
static void cmd_lpushx(client *c) {
    push_generic(c, QL_HEAD, 1);
}
static void cmd_rpushx(client *c) {
    push_generic(c, QL_TAIL, 1);
}

/* ---- pop ---- */

static void pop_generic(client *c, enum ql_where where) {
    if (c->argc > 3) {
        reply_wrong_arity(c);
        return;
    }
    long long count = -1;
    if (c->argc == 3 && arg_range(c, 2, 0, LONG_MAX, &count, NULL) < 0) return;
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!e) {
        if (count >= 0)
            reply_add_null_array(&c->reply);
        else
            reply_add_null(&c->reply);
        return;
    }
    quicklist *ql = list_of(e);
    if (count < 0) {
        ql_value v;
        ql_pop(ql, where, &v);
        reply_value(c, &v);
        ql_value_release(&v);
        srv.dirty++;
    } else {
        reply_pop_count(c, ql, where, count); /* count 0: an empty array */
    }
    if (count != 0) {
        key_changed(c, 1);
        notify_pop(c, 1, where);
    }
    delete_if_empty(c, &c->argv[1], ql);
}

static void cmd_lpop(client *c) {
    pop_generic(c, QL_HEAD);
}
static void cmd_rpop(client *c) {
    pop_generic(c, QL_TAIL);
}

/* ---- reading ---- */

static void cmd_llen(client *c) {
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 0, &wt);
    if (wt) return;
    reply_add_int(&c->reply, e ? (long long)ql_count(list_of(e)) : 0);
}

static void cmd_lrange(client *c) {
    long long start, end;
    if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 0, &wt);
    if (wt) return;
    if (!e) {
        reply_add_array_len(&c->reply, 0);
        return;
    }
    quicklist *ql = list_of(e);
    long long llen = (long long)ql_count(ql);
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        reply_add_array_len(&c->reply, 0);
        return;
    }
    if (end >= llen) end = llen - 1;
    long long n = end - start + 1;
    reply_add_array_len(&c->reply, n);
    ql_iter it;
    ql_entry en;
    ql_iter_init_at(ql, &it, 1, start);
    while (n-- > 0 && ql_iter_next(&it, &en))
        reply_add_bulk(&c->reply, en.s, en.len);
    ql_iter_release(&it);
}

static void cmd_lindex(client *c) {
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 0, &wt);
    if (wt) return;
    if (!e) {
        reply_add_null(&c->reply);
        return;
    }
    long long index;
    if (arg_ll(c, 2, &index) < 0) return;
    ql_entry en;
    if (ql_index(list_of(e), index, &en))
        reply_add_bulk(&c->reply, en.s, en.len);
    else
        reply_add_null(&c->reply);
}

static void cmd_lpos(client *c) {
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_eq(c, j, "rank") && more) {
            j++;
            if (arg_ll(c, j, &rank) < 0) return;
            if (rank == 0) {
                reply_error(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 "
                               "from the second ... or use negative to start from the end of "
                               "the list");
                return;
            }
        } else if (arg_eq(c, j, "count") && more) {
            j++;
            if (arg_range(c, j, 0, LONG_MAX, &count, "ERR COUNT can't be negative") < 0) return;
        } else if (arg_eq(c, j, "maxlen") && more) {
            j++;
            if (arg_range(c, j, 0, LONG_MAX, &maxlen, "ERR MAXLEN can't be negative") < 0) return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 0, &wt);
    if (wt) return;
    if (!e) {
        if (count != -1)
            reply_add_array_len(&c->reply, 0);
        else
            reply_add_null(&c->reply);
        return;
    }
    /* A negative rank searches from the tail. Redis negates it in a long; LLONG_MIN stays
     * negative there, so every match qualifies and COUNT never stops it: same here. */
    int forward = 1;
    if (rank < 0) {
        forward = 0;
        rank = (long long)(0ULL - (unsigned long long)rank);
    }
    quicklist *ql = list_of(e);
    long long llen = (long long)ql_count(ql);
    const resp_arg *ele = &c->argv[2];
    long long index = 0, matches = 0, found = -1, n = 0;
    /* Indexes go into a small buffer and the reply is written once we know how many. */
    long long *idx = NULL;
    size_t cap = 0;
    ql_iter it;
    ql_entry en;
    ql_iter_init(ql, &it, forward);
    while ((maxlen == 0 || index < maxlen) && ql_iter_next(&it, &en)) {
        if (ql_entry_equals(&en, ele->ptr, ele->len)) {
            matches++;
            if (matches >= rank) {
                long long pos = forward ? index : llen - index - 1;
                if (count == -1) {
                    found = pos;
                    break;
                }
                if ((size_t)n == cap) {
                    cap = cap ? cap * 2 : 16;
                    idx = alloc_realloc(ALLOC_SUB_OTHER, idx, cap * sizeof(*idx));
                }
                idx[n++] = pos;
                long long served =
                    (long long)((unsigned long long)matches - (unsigned long long)rank + 1ULL);
                if (count && served >= count) break;
            }
        }
        index++;
    }
    ql_iter_release(&it);
    if (count == -1) {
        if (found >= 0)
            reply_add_int(&c->reply, found);
        else
            reply_add_null(&c->reply);
    } else {
        reply_add_array_len(&c->reply, n);
        for (long long i = 0; i < n; i++)
            reply_add_int(&c->reply, idx[i]);
    }
    alloc_free(ALLOC_SUB_OTHER, idx);
}

/* ---- changing in the middle ---- */

static void cmd_lset(client *c) {
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!e) {
        reply_error(c, ERR_NO_SUCH_KEY);
        return;
    }
    long long index;
    if (arg_ll(c, 2, &index) < 0) return;
    if (!ql_replace_at(list_of(e), index, c->argv[3].ptr, c->argv[3].len)) {
        reply_error(c, "ERR index out of range");
        return;
    }
    key_changed(c, 1);
    notify_key(c, NOTIFY_LIST, "lset", 1);
    srv.dirty++;
    reply_add_status(&c->reply, "OK");
}

static void cmd_linsert(client *c) {
    int after;
    if (arg_eq(c, 2, "after")) {
        after = 1;
    } else if (arg_eq(c, 2, "before")) {
        after = 0;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!e) {
        reply_add_int(&c->reply, 0);
        return;
    }
    quicklist *ql = list_of(e);
    ql_iter it;
    ql_entry en;
    ql_iter_init(ql, &it, 1);
    int found = 0;
    while (ql_iter_next(&it, &en)) {
        if (ql_entry_equals(&en, c->argv[3].ptr, c->argv[3].len)) {
            found = 1;
            break;
        }
    }
    if (!found) {
        reply_add_int(&c->reply, -1);
        return;
    }
    ql_insert(ql, &en, after, c->argv[4].ptr, c->argv[4].len);
    key_changed(c, 1);
    notify_key(c, NOTIFY_LIST, "linsert", 1);
    srv.dirty++;
    reply_add_int(&c->reply, (long long)ql_count(ql));
}

static void cmd_lrem(client *c) {
    long long toremove;
    if (arg_ll(c, 2, &toremove) < 0) return;
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!e) {
        reply_add_int(&c->reply, 0);
        return;
    }
    quicklist *ql = list_of(e);
    int forward = toremove >= 0;
    unsigned long long limit =
        toremove >= 0 ? (unsigned long long)toremove : 0ULL - (unsigned long long)toremove;
    ql_iter it;
    ql_entry en;
    long long removed = 0;
    ql_iter_init(ql, &it, forward);
    while (ql_iter_next(&it, &en)) {
        if (ql_entry_equals(&en, c->argv[3].ptr, c->argv[3].len)) {
            ql_iter_delete(&it, &en);
            removed++;
            if (limit && (unsigned long long)removed == limit) break;
        }
    }
    ql_iter_release(&it);
    reply_add_int(&c->reply, removed);
    if (removed) {
        key_changed(c, 1);
        notify_key(c, NOTIFY_LIST, "lrem", 1);
        srv.dirty += removed;
    }
    delete_if_empty(c, &c->argv[1], ql);
}

static void cmd_ltrim(client *c) {
    long long start, end;
    if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    int wt;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!e) {
        reply_add_status(&c->reply, "OK");
        return;
    }
    quicklist *ql = list_of(e);
    long long llen = (long long)ql_count(ql), ltrim, rtrim;
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        ltrim = llen; /* everything goes */
        rtrim = 0;
    } else {
        if (end >= llen) end = llen - 1;
        ltrim = start;
        rtrim = llen - end - 1;
    }
    if (ltrim) ql_delete_range(ql, 0, (size_t)ltrim);
    if (rtrim) ql_delete_range(ql, -rtrim, (size_t)rtrim);
    key_changed(c, 1);
    reply_add_status(&c->reply, "OK");
    notify_key(c, NOTIFY_LIST, "ltrim", 1);
    srv.dirty += ltrim + rtrim;
    delete_if_empty(c, &c->argv[1], ql);
}

/* ---- moving between lists ---- */

/* LMOVE's core once the source is known to hold elements: checks the destination's type,
 * pops, pushes, replies with the element. */
static void lmove_from(client *c, db_entry *src, enum ql_where from, enum ql_where to) {
    const resp_arg *skey = &c->argv[1], *dkey = &c->argv[2];
    quicklist *sql = list_of(src); /* before the next lookup, which may change the db */
    int wt;
    db_entry *dst = lookup_type_or_reply(c, 2, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    quicklist *dql = dst ? list_of(dst) : NULL;
    ql_value v;
    ql_pop(sql, from, &v);
    if (!dql) {
        dql = ql_new(srv.list_max_listpack_size);
        db_add_object(c->db, dkey->ptr, dkey->len, DB_TYPE_LIST, DB_ENC_QUICKLIST, dql);
    }
    ql_push(dql, to, v.ptr, v.len);
    reply_value(c, &v);
    ql_value_release(&v);
    signal_key(c, dkey);
    key_changed(c, 1);
    notify_push(c, 2, to);
    notify_pop(c, 1, from);
    /* One change for the move, as Redis counts it; none when a blocked BLMOVE is served (Redis
     * 7.0 pushes for it without counting). */
    if (blocking_serving_key(c) < 0) srv.dirty++;
    if (sql != dql) delete_if_empty(c, skey, sql);
}

static void lmove_generic(client *c, enum ql_where from, enum ql_where to) {
    int wt;
    db_entry *src = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!src) {
        reply_add_null(&c->reply);
        return;
    }
    lmove_from(c, src, from, to);
}

static void cmd_lmove(client *c) {
    enum ql_where from, to;
    if (arg_where(c, 3, &from) < 0 || arg_where(c, 4, &to) < 0) return;
    lmove_generic(c, from, to);
}

static void cmd_rpoplpush(client *c) {
    lmove_generic(c, QL_TAIL, QL_HEAD);
}

/* LMPOP / BLMPOP argument parsing from numkeys at argv[ni]. */
typedef struct mpop_args {
    long long numkeys, count;
    enum ql_where where;
} mpop_args;

static int mpop_parse(client *c, int ni, mpop_args *a) {
    if (arg_range(c, ni, 1, LONG_MAX, &a->numkeys, "ERR numkeys should be greater than 0") < 0)
        return -1;
    if (a->numkeys >= c->argc - ni - 1) { /* no room for the direction */
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    int wi = ni + (int)a->numkeys + 1;
    if (arg_where(c, wi, &a->where) < 0) return -1;
    a->count = -1;
    for (int j = wi + 1; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (a->count == -1 && arg_eq(c, j, "count") && more) {
            j++;
            if (arg_range(c, j, 1, LONG_MAX, &a->count, "ERR count should be greater than 0") < 0)
                return -1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->count == -1) a->count = 1;
    return 0;
}

/* Pops from the list at argv[i] into a [key, [elements]] reply. */
static void mpop_reply(client *c, int i, db_entry *e, enum ql_where where, long long count) {
    quicklist *ql = list_of(e);
    reply_add_array_len(&c->reply, 2);
    reply_add_bulk(&c->reply, c->argv[i].ptr, c->argv[i].len);
    reply_pop_count(c, ql, where, count);
    key_changed(c, i);
    notify_pop(c, i, where);
    delete_if_empty(c, &c->argv[i], ql);
}

/* Tries the keys argv[first..first+n-1] (or only `only` when >= 0). Returns 1 if it replied
 * (elements or an error), 0 if every key was missing. */
static int mpop_try(client *c, int first, long long n, int only, const mpop_args *a) {
    for (int i = first; i < first + n; i++) {
        if (only >= 0 && i != only) continue;
        int wt;
        db_entry *e = lookup_type_or_reply(c, i, DB_TYPE_LIST, 1, &wt);
        if (wt) return 1;
        if (!e) continue;
        mpop_reply(c, i, e, a->where, a->count);
        return 1;
    }
    return 0;
}

static void cmd_lmpop(client *c) {
    mpop_args a;
    if (mpop_parse(c, 1, &a) < 0) return;
    if (!mpop_try(c, 2, a.numkeys, -1, &a)) reply_add_null_array(&c->reply);
}

/* ---- blocking ---- */

/* Blocks on argv[first..first+n-1]. */
static void block_on(client *c, int first, int n, int64_t deadline) {
    int stack[16] = {0};
    int *keys = n <= 16 ? stack : alloc_malloc(ALLOC_SUB_CLIENTS, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++)
        keys[i] = first + i;
    blocking_block(c, DB_TYPE_LIST, keys, n, deadline);
    if (keys != stack) alloc_free(ALLOC_SUB_CLIENTS, keys);
}

static void bpop_generic(client *c, enum ql_where where) {
    int64_t deadline;
    if (blocking_parse_timeout(c, c->argc - 1, &deadline) < 0) return;
    int only = blocking_serving_key(c);
    for (int i = 1; i < c->argc - 1; i++) {
        if (only >= 0 && i != only) continue;
        int wt;
        db_entry *e = lookup_type_or_reply(c, i, DB_TYPE_LIST, 1, &wt);
        if (wt) return;
        if (!e) continue;
        quicklist *ql = list_of(e);
        ql_value v;
        ql_pop(ql, where, &v);
        reply_add_array_len(&c->reply, 2);
        reply_add_bulk(&c->reply, c->argv[i].ptr, c->argv[i].len);
        reply_value(c, &v);
        ql_value_release(&v);
        key_changed(c, i);
        notify_pop(c, i, where);
        srv.dirty += only < 0; /* Redis 7.0 serves a blocked BLPOP without counting the pop */
        delete_if_empty(c, &c->argv[i], ql);
        return;
    }
    block_on(c, 1, c->argc - 2, deadline);
}

static void cmd_blpop(client *c) {
    bpop_generic(c, QL_HEAD);
}
static void cmd_brpop(client *c) {
    bpop_generic(c, QL_TAIL);
}

static void blmove_generic(client *c, enum ql_where from, enum ql_where to, int ti) {
    int64_t deadline;
    if (blocking_parse_timeout(c, ti, &deadline) < 0) return;
    int wt;
    db_entry *src = lookup_type_or_reply(c, 1, DB_TYPE_LIST, 1, &wt);
    if (wt) return;
    if (!src) {
        block_on(c, 1, 1, deadline);
        return;
    }
    lmove_from(c, src, from, to);
}

static void cmd_blmove(client *c) {
    enum ql_where from, to;
    if (arg_where(c, 3, &from) < 0 || arg_where(c, 4, &to) < 0) return;
    blmove_generic(c, from, to, 5);
}

static void cmd_brpoplpush(client *c) {
    blmove_generic(c, QL_TAIL, QL_HEAD, 3);
}

static void cmd_blmpop(client *c) {
    mpop_args a;
    if (mpop_parse(c, 2, &a) < 0) return; /* before the timeout, as Redis 7.0 */
    int64_t deadline;
    if (blocking_parse_timeout(c, 1, &deadline) < 0) return;
    if (mpop_try(c, 3, a.numkeys, blocking_serving_key(c), &a)) return;
    block_on(c, 3, (int)a.numkeys, deadline);
}

/* ---- the table ---- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM
#define S CMD_NOSCRIPT
#define B CMD_BLOCKING
#define K CMD_MOVABLEKEYS

/* clang-format off */
command lists_commands[] = {
    {"lpush", cmd_lpush, -3, W | M | F, 1, 1, 1, "list", "Prepend one or multiple elements to a list"},
    {"rpush", cmd_rpush, -3, W | M | F, 1, 1, 1, "list", "Append one or multiple elements to a list"},
    {"lpushx", cmd_lpushx, -3, W | M | F, 1, 1, 1, "list", "Prepend an element to a list, only if the list exists"},
    {"rpushx", cmd_rpushx, -3, W | M | F, 1, 1, 1, "list", "Append an element to a list, only if the list exists"},
    {"lpop", cmd_lpop, -2, W | F, 1, 1, 1, "list", "Remove and get the first elements in a list"},
    {"rpop", cmd_rpop, -2, W | F, 1, 1, 1, "list", "Remove and get the last elements in a list"},
    {"llen", cmd_llen, 2, R | F, 1, 1, 1, "list", "Get the length of a list"},
    {"lrange", cmd_lrange, 4, R, 1, 1, 1, "list", "Get a range of elements from a list"},
    {"lindex", cmd_lindex, 3, R, 1, 1, 1, "list", "Get an element from a list by its index"},
    {"lset", cmd_lset, 4, W | M, 1, 1, 1, "list", "Set the value of an element in a list by its index"},
    {"linsert", cmd_linsert, 5, W | M, 1, 1, 1, "list", "Insert an element before or after another element in a list"},
    {"lrem", cmd_lrem, 4, W, 1, 1, 1, "list", "Remove elements from a list"},
    {"ltrim", cmd_ltrim, 4, W, 1, 1, 1, "list", "Trim a list to the specified range"},
    {"lpos", cmd_lpos, -3, R, 1, 1, 1, "list", "Return the index of matching elements on a list"},
    {"lmove", cmd_lmove, 5, W | M, 1, 2, 1, "list", "Pop an element from a list, push it to another list and return it"},
    {"rpoplpush", cmd_rpoplpush, 3, W | M, 1, 2, 1, "list", "Remove the last element in a list, prepend it to another list and return it"},
    {"lmpop", cmd_lmpop, -4, W | K, 0, 0, 0, "list", "Pop elements from a list"},
    {"blpop", cmd_blpop, -3, W | S | B, 1, -2, 1, "list", "Remove and get the first element in a list, or block until one is available"},
    {"brpop", cmd_brpop, -3, W | S | B, 1, -2, 1, "list", "Remove and get the last element in a list, or block until one is available"},
    {"blmove", cmd_blmove, 6, W | M | S | B, 1, 2, 1, "list", "Pop an element from a list, push it to another list and return it; or block until one is available"},
    {"brpoplpush", cmd_brpoplpush, 4, W | M | S | B, 1, 2, 1, "list", "Pop an element from a list, push it to another list and return it; or block until one is available"},
    {"blmpop", cmd_blmpop, -5, W | B | K, 0, 0, 0, "list", "Pop elements from a list, or block until one is available"},
};
/* clang-format on */
const size_t lists_commands_count = sizeof(lists_commands) / sizeof(lists_commands[0]);
