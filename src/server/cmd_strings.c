/* String commands. Values live inline in their key's entry (see db.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

static void reply_entry_value(client *c, const db_entry *e) {
    size_t vlen;
    const char *v = db_entry_str(e, &vlen);
    reply_add_bulk(&c->reply, v, vlen);
}

/* GET's reply for the key argv[1]: its value, null when missing, or WRONGTYPE (then
 * *wrongtype is set). Returns the string entry, or NULL. */
static db_entry *get_and_reply(client *c, int *wrongtype) {
    db_entry *e = lookup_string_or_reply(c, 1, wrongtype);
    if (*wrongtype) return NULL;
    if (e)
        reply_entry_value(c, e);
    else
        reply_add_null(&c->reply);
    return e;
}

void cmd_get(client *c) {
    int wrongtype;
    get_and_reply(c, &wrongtype);
}

/* Expire options shared by SET and GETEX. */
enum { EXP_NONE = 0, EXP_EX, EXP_PX, EXP_EXAT, EXP_PXAT };

/* Parses argument *i as an expire option (EX s|PX ms|EXAT ts|PXAT ms-ts) followed by its
 * argument: only when `allowed` (no conflicting option came before), when no other expire
 * option came before (the same one again is allowed and the last one wins, as in Redis) and
 * when an argument follows. Then sets *kind, *arg (the argument's index) and *i to it, and
 * returns 1; otherwise returns 0 and changes nothing. */
static int parse_expire_option(client *c, int *i, int allowed, int *kind, int *arg) {
    if (!allowed || *i + 1 >= c->argc) return 0;
    int k = arg_eq(c, *i, "ex")     ? EXP_EX
            : arg_eq(c, *i, "px")   ? EXP_PX
            : arg_eq(c, *i, "exat") ? EXP_EXAT
            : arg_eq(c, *i, "pxat") ? EXP_PXAT
                                    : EXP_NONE;
    if (k == EXP_NONE || (*kind != EXP_NONE && *kind != k)) return 0;
    *kind = k;
    *arg = ++*i;
    return 1;
}

/* Absolute expire time in ms from an option and its argument (0 for EXP_NONE). Returns 0,
 * or -1 after replying. */
static int expire_from_arg(client *c, int kind, int i, int64_t *when) {
    long long v;
    *when = 0;
    if (kind == EXP_NONE) return 0;
    if (arg_ll(c, i, &v) < 0) return -1;
    if (v <= 0) goto invalid;
    if (kind == EXP_EX || kind == EXP_EXAT) {
        if (v > INT64_MAX / 1000) goto invalid;
        v *= 1000;
    }
    if (kind == EXP_EX || kind == EXP_PX) {
        int64_t now = server_now_ms();
        if (v > INT64_MAX - now) goto invalid;
        v += now;
    }
    *when = v;
    return 0;
invalid:
    reply_errorf(c, "ERR invalid expire time in '%s' command", c->last_cmd);
    return -1;
}

/* Store key=value with an optional absolute expire (0 = none, see expire_or_delete). The write
 * is an access: the key's LRU clock is stamped even when it replaced a value without a
 * lookup first (SETEX, MSET). */
static void set_value(client *c, const resp_arg *key, const resp_arg *val, int64_t when,
                      int keep_ttl) {
    db_entry *e = db_set_string(c->db, key->ptr, key->len, val->ptr, val->len, keep_ttl);
    db_entry_set_lru(e, db_lru_clock());
    notify_event(NOTIFY_STRING, "set", key->ptr, key->len, c->db_index);
    /* one change, with its TTL or without; "expire" (or "del" when already past) */
    srv.dirty++;
    if (when) expire_or_delete(c, key, when);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL] */
void cmd_set(client *c) {
    int nx = 0, xx = 0, get = 0, keepttl = 0, exp = EXP_NONE, exp_arg = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_eq(c, i, "nx") && !xx)
            nx = 1;
        else if (arg_eq(c, i, "xx") && !nx)
            xx = 1;
        else if (arg_eq(c, i, "get"))
            get = 1;
        else if (arg_eq(c, i, "keepttl") && exp == EXP_NONE)
            keepttl = 1;
        else if (!parse_expire_option(c, &i, !keepttl, &exp, &exp_arg)) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    int64_t when;
    if (expire_from_arg(c, exp, exp_arg, &when) < 0) return;

    /* With GET, Redis's GET does the lookup: a hit or a miss (and "keymiss"). */
    db_entry *e = get ? lookup_read(c, 1) : lookup_write(c, 1);
    if (get) {
        if (e && db_entry_type(e) != DB_TYPE_STRING) {
            reply_error(c, ERR_WRONGTYPE);
            return;
        }
        if (e)
            reply_entry_value(c, e);
        else
            reply_add_null(&c->reply);
    }
    if ((nx && e) || (xx && !e)) {
        if (!get) reply_add_null(&c->reply);
        return;
    }
    set_value(c, &c->argv[1], &c->argv[2], when, keepttl);
    if (!get) reply_add_status(&c->reply, "OK");
}

void cmd_setnx(client *c) {
    if (lookup_write(c, 1)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    set_value(c, &c->argv[1], &c->argv[2], 0, 0);
    reply_add_int(&c->reply, 1);
}

static void setex_generic(client *c, int kind) {
    int64_t when;
    if (expire_from_arg(c, kind, 2, &when) < 0) return;
    set_value(c, &c->argv[1], &c->argv[3], when, 0);
    reply_add_status(&c->reply, "OK");
}

void cmd_setex(client *c) {
    setex_generic(c, EXP_EX);
}
void cmd_psetex(client *c) {
    setex_generic(c, EXP_PX);
}

void cmd_getset(client *c) {
    int wrongtype;
    get_and_reply(c, &wrongtype);
    if (wrongtype) return;
    set_value(c, &c->argv[1], &c->argv[2], 0, 0);
}

void cmd_getdel(client *c) {
    int wrongtype;
    if (!get_and_reply(c, &wrongtype)) return;
    db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
    notify_key(c, NOTIFY_GENERIC, "del", 1);
    srv.dirty++;
}

/* GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST] */
void cmd_getex(client *c) {
    int exp = EXP_NONE, exp_arg = 0, persist = 0;
    for (int i = 2; i < c->argc; i++) {
        if (arg_eq(c, i, "persist") && exp == EXP_NONE)
            persist = 1;
        else if (!parse_expire_option(c, &i, !persist, &exp, &exp_arg)) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    /* As Redis: a missing key answers nil before the expire time is validated. */
    int wrongtype;
    db_entry *e = lookup_string_or_reply(c, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        reply_add_null(&c->reply);
        return;
    }
    int64_t when;
    if (expire_from_arg(c, exp, exp_arg, &when) < 0) return;
    reply_entry_value(c, e);
    if (when) {
        expire_or_delete(c, &c->argv[1], when);
        srv.dirty++;
    } else if (persist && db_persist(c->db, c->argv[1].ptr, c->argv[1].len)) {
        notify_key(c, NOTIFY_GENERIC, "persist", 1);
        srv.dirty++;
    }
}

void cmd_mget(client *c) {
    reply_add_array_len(&c->reply, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        db_entry *e = lookup_read(c, i);
        if (e && db_entry_type(e) == DB_TYPE_STRING)
            reply_entry_value(c, e);
        else
            reply_add_null(&c->reply);
    }
}

void cmd_mset(client *c) {
    if (c->argc % 2 == 0) {
        reply_wrong_arity(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2)
        set_value(c, &c->argv[i], &c->argv[i + 1], 0, 0);
    reply_add_status(&c->reply, "OK");
}

void cmd_msetnx(client *c) {
    if (c->argc % 2 == 0) {
        reply_wrong_arity(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        if (lookup_write(c, i)) {
            reply_add_int(&c->reply, 0);
            return;
        }
    }
    for (int i = 1; i < c->argc; i += 2)
        set_value(c, &c->argv[i], &c->argv[i + 1], 0, 0);
    reply_add_int(&c->reply, 1);
}

static void incr_generic(client *c, long long by) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_STRING, 1, &wrongtype);
    if (wrongtype) return;
    long long cur = 0;
    if (e) {
        size_t vlen;
        const char *v = db_entry_str(e, &vlen);
        if (util_parse_ll(v, vlen, &cur) < 0) {
            reply_error(c, ERR_NOT_INT);
            return;
        }
    }
    if (__builtin_add_overflow(cur, by, &cur)) {
        reply_error(c, ERR_OVERFLOW);
        return;
    }
    char buf[32];
    size_t n = util_format_ll(buf, cur);
    db_set_string(c->db, c->argv[1].ptr, c->argv[1].len, buf, n, 1);
    notify_key(c, NOTIFY_STRING, "incrby", 1);
    srv.dirty++;
    reply_add_int(&c->reply, cur);
}

void cmd_incr(client *c) {
    incr_generic(c, 1);
}
void cmd_decr(client *c) {
    incr_generic(c, -1);
}
void cmd_incrby(client *c) {
    long long by;
    if (arg_ll(c, 2, &by) == 0) incr_generic(c, by);
}
void cmd_decrby(client *c) {
    long long by;
    if (arg_ll(c, 2, &by) < 0) return;
    if (by == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

void cmd_incrbyfloat(client *c) {
    long double by, cur = 0;
    /* As Redis: the type is checked before the increment is parsed. */
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_STRING, 1, &wrongtype);
    if (wrongtype) return;
    if (util_parse_ld(c->argv[2].ptr, c->argv[2].len, &by) < 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    if (e) {
        size_t vlen;
        const char *v = db_entry_str(e, &vlen);
        if (util_parse_ld(v, vlen, &cur) < 0) {
            reply_error(c, ERR_NOT_FLOAT);
            return;
        }
    }
    cur += by;
    if (isnan(cur) || isinf(cur)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5 * 1024];
    size_t n = util_format_ld(buf, sizeof(buf), cur);
    if (n == 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    e = db_set_string(c->db, c->argv[1].ptr, c->argv[1].len, buf, n, 1);
    db_entry_set_str_form(e, DB_STR_NOT_INT); /* Redis never int-encodes its result */
    notify_key(c, NOTIFY_STRING, "incrbyfloat", 1);
    srv.dirty++;
    reply_add_bulk(&c->reply, buf, n);
}

/* A string of size + append bytes must fit proto-max-bulk-len. Both come from clients (an
 * offset can be near 2^63), so the sum is checked without ever being formed. */
size_t string_max_len(void) {
    size_t max = (size_t)srv.proto_max_bulk_len;
    /* the entry's length field; a little room for BITFIELD, whose widest field may end up
     * to 8 bytes past an offset that passed this limit */
    if (max > DB_STRING_MAX_LEN - 16) max = DB_STRING_MAX_LEN - 16;
    return max;
}

static int check_string_length(client *c, size_t size, size_t append) {
    size_t max = string_max_len();
    if (size > max || append > max - size) {
        reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return -1;
    }
    return 0;
}

void cmd_append(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_STRING, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        e = db_set_string(c->db, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len, 0);
        db_entry_set_lru(e, db_lru_clock());
        notify_key(c, NOTIFY_STRING, "append", 1);
        srv.dirty++;
        reply_add_int(&c->reply, (long long)c->argv[2].len);
        return;
    }
    size_t vlen;
    db_entry_str(e, &vlen);
    if (check_string_length(c, vlen, c->argv[2].len) < 0) return;
    e = db_string_resize(c->db, e, vlen + c->argv[2].len);
    memcpy(db_entry_str_mut(e) + vlen, c->argv[2].ptr, c->argv[2].len);
    db_entry_set_str_form(e, DB_STR_RAW);
    notify_key(c, NOTIFY_STRING, "append", 1);
    srv.dirty++;
    reply_add_int(&c->reply, (long long)(vlen + c->argv[2].len));
}

void cmd_strlen(client *c) {
    int wrongtype;
    db_entry *e = lookup_string_or_reply(c, 1, &wrongtype);
    if (wrongtype) return;
    size_t vlen = 0;
    if (e) db_entry_str(e, &vlen);
    reply_add_int(&c->reply, (long long)vlen);
}

void cmd_getrange(client *c) {
    long long start, end;
    if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    int wrongtype;
    db_entry *e = lookup_string_or_reply(c, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        reply_add_bulk(&c->reply, "", 0);
        return;
    }
    size_t len;
    const char *v = db_entry_str(e, &len);
    long long slen = (long long)len;
    if (start < 0 && end < 0 && start > end) {
        reply_add_bulk(&c->reply, "", 0);
        return;
    }
    if (start < 0) start += slen;
    if (end < 0) end += slen;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= slen) end = slen - 1;
    if (start > end || slen == 0) {
        reply_add_bulk(&c->reply, "", 0);
        return;
    }
    reply_add_bulk(&c->reply, v + start, (size_t)(end - start + 1));
}

void cmd_setrange(client *c) {
    long long offset;
    if (arg_ll(c, 2, &offset) < 0) return;
    if (offset < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    const resp_arg *val = &c->argv[3];
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_STRING, 1, &wrongtype);
    if (wrongtype) return;
    size_t cur = 0;
    if (e) db_entry_str(e, &cur);
    if (val->len == 0) {
        reply_add_int(&c->reply, (long long)cur);
        return;
    }
    if (check_string_length(c, (size_t)offset, val->len) < 0) return;
    size_t need = (size_t)offset + val->len;
    if (!e) e = db_set_string(c->db, c->argv[1].ptr, c->argv[1].len, "", 0, 0);
    /* Resized (the db signals the change to WATCH) even when the length stays. */
    e = db_string_resize(c->db, e, need > cur ? need : cur);
    memcpy(db_entry_str_mut(e) + offset, val->ptr, val->len);
    db_entry_set_str_form(e, DB_STR_RAW);
    notify_key(c, NOTIFY_STRING, "setrange", 1);
    srv.dirty++;
    reply_add_int(&c->reply, (long long)(need > cur ? need : cur));
}
