/* Key space commands: DEL UNLINK EXISTS TYPE EXPIRE family TTL PTTL PERSIST RENAME RENAMENX
 * KEYS SCAN RANDOMKEY, and the lookup helpers the other command files share. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

void expire_or_delete(client *c, const resp_arg *key, int64_t when) {
    if (when <= server_now_ms()) { /* deleted, not expired: Redis 7.0 counts no expiry */
        db_delete(c->db, key->ptr, key->len);
        notify_event(NOTIFY_GENERIC, "del", key->ptr, key->len, c->db_index);
    } else {
        db_set_expire(c->db, key->ptr, key->len, when);
        notify_event(NOTIFY_GENERIC, "expire", key->ptr, key->len, c->db_index);
    }
}

/* A key's lookup: lazy expiry (counted in expired_keys); touch stamps the LRU clock. */
static db_entry *find_key(client *c, const char *key, size_t klen, int touch) {
    uint64_t expired = 0;
    db_entry *e = touch ? db_find_touch(c->db, key, klen, server_now_ms(), &expired)
                        : db_find(c->db, key, klen, server_now_ms(), &expired);
    srv.stats.expired_keys += (long long)expired;
    return e;
}

/* Hits and misses, and the "keymiss" event (class m) where Redis's lookupKeyRead fires it. */
static db_entry *count_hit(client *c, const char *key, size_t klen, db_entry *e) {
    if (e) {
        srv.stats.keyspace_hits++;
    } else {
        srv.stats.keyspace_misses++;
        notify_event(NOTIFY_KEY_MISS, "keymiss", key, klen, c->db_index);
    }
    return e;
}

db_entry *lookup_read_key(client *c, const char *key, size_t klen) {
    return count_hit(c, key, klen, find_key(c, key, klen, 1));
}

db_entry *lookup_read(client *c, int i) {
    return lookup_read_key(c, c->argv[i].ptr, c->argv[i].len);
}

db_entry *lookup_read_notouch(client *c, int i) {
    const resp_arg *k = &c->argv[i];
    return count_hit(c, k->ptr, k->len, find_key(c, k->ptr, k->len, 0));
}

void key_changed(client *c, int i) {
    db_key_changed(c->db, c->argv[i].ptr, c->argv[i].len);
}

db_entry *lookup_write(client *c, int i) {
    return find_key(c, c->argv[i].ptr, c->argv[i].len, 1);
}

db_entry *lookup_string_or_reply(client *c, int i, int *wrongtype) {
    db_entry *e = lookup_read(c, i);
    *wrongtype = 0;
    if (e && db_entry_type(e) != DB_TYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        *wrongtype = 1;
        return NULL;
    }
    return e;
}

db_entry *lookup_type_or_reply(client *c, int i, int type, int write, int *wrongtype) {
    db_entry *e = write ? lookup_write(c, i) : lookup_read(c, i);
    *wrongtype = 0;
    if (e && db_entry_type(e) != type) {
        reply_error(c, ERR_WRONGTYPE);
        *wrongtype = 1;
        return NULL;
    }
    return e;
}

void cmd_del(client *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (lookup_write(c, i) && db_delete(c->db, c->argv[i].ptr, c->argv[i].len)) {
            n++;
            notify_key(c, NOTIFY_GENERIC, "del", i);
        }
    }
    srv.dirty += n;
    reply_add_int(&c->reply, n);
}

void cmd_exists(client *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        if (lookup_read_notouch(c, i)) n++;
    reply_add_int(&c->reply, n);
}

void cmd_type(client *c) {
    db_entry *e = lookup_read_notouch(c, 1);
    reply_add_status(&c->reply, e ? db_type_name(db_entry_type(e)) : "none");
}

/* EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT] */
static void expire_generic(client *c, int64_t base_ms, int unit_seconds) {
    long long when;
    int nx = 0, xx = 0, gt = 0, lt = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_eq(c, i, "nx"))
            nx = 1;
        else if (arg_eq(c, i, "xx"))
            xx = 1;
        else if (arg_eq(c, i, "gt"))
            gt = 1;
        else if (arg_eq(c, i, "lt"))
            lt = 1;
        else {
            reply_errorf(c, "ERR Unsupported option %.*s", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    /* The options are checked before the time, as in Redis. */
    if (arg_ll(c, 2, &when) < 0) return;
    if (unit_seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) goto invalid;
        when *= 1000;
    }
    if ((base_ms > 0 && when > INT64_MAX - base_ms) || (when < 0 && base_ms + when > base_ms))
        goto invalid;
    when += base_ms;

    if (!lookup_write(c, 1)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    int64_t cur = db_get_expire(c->db, c->argv[1].ptr, c->argv[1].len);
    if ((nx && cur != -1) || (xx && cur == -1) || (gt && (cur == -1 || when <= cur)) ||
        (lt && cur != -1 && when >= cur)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    expire_or_delete(c, &c->argv[1], when);
    srv.dirty++;
    reply_add_int(&c->reply, 1);
    return;
invalid:
    reply_errorf(c, "ERR invalid expire time in '%s' command", c->last_cmd);
}

void cmd_expire(client *c) {
    expire_generic(c, server_now_ms(), 1);
}
void cmd_pexpire(client *c) {
    expire_generic(c, server_now_ms(), 0);
}
void cmd_expireat(client *c) {
    expire_generic(c, 0, 1);
}
void cmd_pexpireat(client *c) {
    expire_generic(c, 0, 0);
}

static void ttl_generic(client *c, int in_ms) {
    if (!lookup_read_notouch(c, 1)) {
        reply_add_int(&c->reply, -2);
        return;
    }
    int64_t when = db_get_expire(c->db, c->argv[1].ptr, c->argv[1].len);
    if (when == -1) {
        reply_add_int(&c->reply, -1);
        return;
    }
    int64_t ttl = when - server_now_ms();
    if (ttl < 0) ttl = 0;
    reply_add_int(&c->reply, in_ms ? ttl : (ttl + 500) / 1000);
}

void cmd_ttl(client *c) {
    ttl_generic(c, 0);
}
void cmd_pttl(client *c) {
    ttl_generic(c, 1);
}

void cmd_persist(client *c) {
    if (!lookup_write(c, 1)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    int done = db_persist(c->db, c->argv[1].ptr, c->argv[1].len);
    if (done) {
        notify_key(c, NOTIFY_GENERIC, "persist", 1);
        srv.dirty++;
    }
    reply_add_int(&c->reply, done);
}

static void rename_generic(client *c, int nx) {
    lookup_write(c, 1); /* expire the source lazily first */
    lookup_write(c, 2);
    int rc = db_rename(c->db, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len, nx);
    /* A list or sorted set arriving under a key clients wait on serves them (Redis's dbAdd
     * signals the key as ready). */
    if (rc > 0) blocking_signal_key(c->db_index, c->argv[2].ptr, c->argv[2].len);
    int same = c->argv[1].len == c->argv[2].len &&
               memcmp(c->argv[1].ptr, c->argv[2].ptr, c->argv[1].len) == 0;
    if (rc > 0 && !same) { /* the destination's "new" came from the key space */
        notify_key(c, NOTIFY_GENERIC, "rename_from", 1);
        notify_key(c, NOTIFY_GENERIC, "rename_to", 2);
        srv.dirty++;
    }
    if (rc < 0)
        reply_error(c, ERR_NO_SUCH_KEY);
    else if (nx)
        reply_add_int(&c->reply, rc);
    else
        reply_add_status(&c->reply, "OK");
}

void cmd_rename(client *c) {
    rename_generic(c, 0);
}
void cmd_renamenx(client *c) {
    rename_generic(c, 1);
}

/* Entries collected during a scan; valid until the db is modified (not within a command). */
typedef struct key_list {
    const db_entry **items;
    size_t len, cap;
    const char *pat;
    size_t plen;
    int match_all;
    int type;  /* -1 = any */
    int typed; /* SCAN's TYPE given (type -1 then: an unknown name, nothing matches) */
    int64_t now;
    db *d;
    /* SCAN: the expired keys it met that match the pattern, deleted once the scan is done (as
     * Redis 7.0's SCAN expires them; KEYS only skips them). NULL: KEYS. */
    const db_entry **expired;
    size_t nexpired, expired_cap;
} key_list;

static int entry_expired(key_list *kl, const db_entry *e) {
    if (!db_entry_has_expire(e)) return 0;
    size_t klen;
    const char *k = db_entry_key(e, &klen);
    return db_get_expire(kl->d, k, klen) <= kl->now;
}

static void collect(void *ctx, const db_entry *e) {
    key_list *kl = ctx;
    size_t klen;
    const char *k = db_entry_key(e, &klen);
    if (!kl->match_all && !util_glob_match(kl->pat, kl->plen, k, klen, 0)) return;
    if (entry_expired(kl, e)) {
        if (kl->expired) {
            if (kl->nexpired == kl->expired_cap) {
                kl->expired_cap = kl->expired_cap ? kl->expired_cap * 2 : 16;
                kl->expired = alloc_realloc(ALLOC_SUB_OTHER, kl->expired,
                                            kl->expired_cap * sizeof(*kl->expired));
            }
            kl->expired[kl->nexpired++] = e;
        }
        return;
    }
    if (kl->typed) { /* Redis reads each key's type with a lookup (expired: expire_scanned) */
        srv.stats.keyspace_hits++;
        if (db_entry_type(e) != kl->type) return;
    }
    if (kl->len == kl->cap) {
        kl->cap = kl->cap ? kl->cap * 2 : 64;
        kl->items = alloc_realloc(ALLOC_SUB_OTHER, kl->items, kl->cap * sizeof(*kl->items));
    }
    kl->items[kl->len++] = e;
}

static void reply_key_list(client *c, key_list *kl) {
    reply_add_array_len(&c->reply, (long long)kl->len);
    for (size_t i = 0; i < kl->len; i++) {
        size_t klen;
        const char *k = db_entry_key(kl->items[i], &klen);
        reply_add_bulk(&c->reply, k, klen);
    }
    alloc_free(ALLOC_SUB_OTHER, kl->items);
}

static void key_list_init(key_list *kl, client *c, const resp_arg *pat) {
    memset(kl, 0, sizeof(*kl));
    kl->d = c->db;
    kl->now = server_now_ms();
    kl->type = -1;
    kl->match_all = !pat || (pat->len == 1 && pat->ptr[0] == '*');
    if (pat) {
        kl->pat = pat->ptr;
        kl->plen = pat->len;
    }
}

void cmd_keys(client *c) {
    key_list kl;
    key_list_init(&kl, c, &c->argv[1]);
    uint64_t cursor = 0;
    do {
        cursor = db_scan(c->db, cursor, 1024, collect, &kl);
    } while (cursor != 0);
    reply_key_list(c, &kl);
}

/* The expired keys SCAN met go as a lookup would take them (the "expired" event, expired_keys;
 * kept while CLIENT PAUSE holds the data set); with TYPE, Redis met each with a read lookup: a
 * miss and its "keymiss" event. A copy of each name: the delete frees the entry. */
static void expire_scanned(client *c, key_list *kl) {
    char buf[256];
    for (size_t i = 0; i < kl->nexpired; i++) {
        size_t klen;
        const char *k = db_entry_key(kl->expired[i], &klen);
        char *name = klen <= sizeof(buf) ? buf : alloc_malloc(ALLOC_SUB_OTHER, klen);
        memcpy(name, k, klen);
        db_entry *e = find_key(c, name, klen, 0);
        if (kl->typed) count_hit(c, name, klen, e);
        if (name != buf) alloc_free(ALLOC_SUB_OTHER, name);
    }
    alloc_free(ALLOC_SUB_OTHER, kl->expired);
}

void cmd_scan(client *c) {
    uint64_t cursor;
    scan_args a;
    if (arg_scan_cursor(c, 1, &cursor) < 0 || parse_scan_args(c, 2, 1, &a) < 0) return;
    key_list kl;
    key_list_init(&kl, c, NULL);
    kl.match_all = a.match_all;
    kl.pat = a.pat;
    kl.plen = a.plen;
    kl.type = a.type_unknown ? -1 : a.type;
    kl.typed = a.type_unknown || a.type >= 0;
    kl.expired = alloc_malloc(ALLOC_SUB_OTHER, 16 * sizeof(*kl.expired));
    kl.expired_cap = 16;
    uint64_t next = db_scan(c->db, cursor, (size_t)a.count, collect, &kl);
    expire_scanned(c, &kl);
    reply_scan_head(c, next);
    reply_key_list(c, &kl);
}

void cmd_randomkey(client *c) {
    for (int tries = 0; tries < 100; tries++) {
        db_entry *e = db_random(c->db);
        if (!e) break;
        size_t klen;
        const char *k = db_entry_key(e, &klen);
        if (db_entry_has_expire(e) && db_get_expire(c->db, k, klen) <= server_now_ms()) {
            if (!pause_in_force()) { /* CLIENT PAUSE: expired keys stay until it ends */
                notify_event(NOTIFY_EXPIRED, "expired", k, klen, c->db_index);
                db_delete(c->db, k, klen);
                srv.stats.expired_keys++;
            }
            continue;
        }
        reply_add_bulk(&c->reply, k, klen);
        return;
    }
    reply_add_null(&c->reply);
}

/* ---- OBJECT, COPY, MOVE, TOUCH ---------------------------------------------------------- */

#define OBJ_SHARED_INTEGERS 10000      /* Redis shares the integers 0..9999 ... */
#define OBJ_SHARED_REFCOUNT 2147483647 /* ... and reports this refcount for them */

/* Redis's encoding of a string value: "int" for a canonical integer of up to 20 characters,
 * "embstr" up to 44 bytes, "raw" beyond or once changed in place. */
static const char *string_encoding(const db_entry *e, long long *ival, int *is_int) {
    size_t len;
    const char *v = db_entry_str(e, &len);
    *is_int = 0;
    enum db_str_form form = db_entry_str_form(e);
    if (form == DB_STR_RAW) return "raw";
    if (form == DB_STR_AUTO && len <= 20 && util_parse_ll(v, len, ival) == 0) {
        *is_int = 1;
        return "int";
    }
    return len <= 44 ? "embstr" : "raw";
}

/* Redis's refcount: shared integers report OBJ_SHARED_REFCOUNT unless an LRU policy under a
 * maxmemory keeps them unshared (each key then needs its own LRU field). */
static long long object_refcount(const db_entry *e) {
    if (db_entry_type(e) != DB_TYPE_STRING) return 1;
    long long v;
    int is_int;
    string_encoding(e, &v, &is_int);
    int lru =
        srv.maxmemory_policy == EVICT_ALLKEYS_LRU || srv.maxmemory_policy == EVICT_VOLATILE_LRU;
    if (is_int && v >= 0 && v < OBJ_SHARED_INTEGERS && (srv.maxmemory == 0 || !lru))
        return OBJ_SHARED_REFCOUNT;
    return 1;
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
    NULL,
};

void cmd_object(client *c) {
    if (arg_eq(c, 1, "help")) {
        if (c->argc == 2)
            reply_help(c, object_help);
        else
            reply_wrong_subcommand_arity(c);
        return;
    }
    int known = arg_eq(c, 1, "encoding") || arg_eq(c, 1, "freq") || arg_eq(c, 1, "idletime") ||
                arg_eq(c, 1, "refcount");
    if (!known) {
        reply_unknown_subcommand(c);
        return;
    }
    if (c->argc != 3) {
        reply_wrong_subcommand_arity(c);
        return;
    }
    uint64_t expired = 0; /* Redis's OBJECT lookup: counted, no touch, no keymiss */
    db_entry *e = db_find(c->db, c->argv[2].ptr, c->argv[2].len, server_now_ms(), &expired);
    srv.stats.expired_keys += (long long)expired;
    if (e)
        srv.stats.keyspace_hits++;
    else
        srv.stats.keyspace_misses++;
    if (!e) {
        reply_add_null(&c->reply);
        return;
    }
    if (arg_eq(c, 1, "encoding")) {
        long long v;
        int is_int;
        reply_add_bulk_cstr(&c->reply, db_entry_type(e) == DB_TYPE_STRING
                                           ? string_encoding(e, &v, &is_int)
                                           : db_encoding_name(db_entry_encoding(e)));
    } else if (arg_eq(c, 1, "freq")) {
        /* memkv has no LFU policy (README), so frequencies are never tracked. */
        reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not "
                       "tracked. Please note that when switching between policies at runtime "
                       "LRU and LFU data will take some time to adjust.");
    } else if (arg_eq(c, 1, "idletime")) {
        reply_add_int(&c->reply, (long long)(evict_idle_ms(e) / 1000));
    } else {
        reply_add_int(&c->reply, object_refcount(e));
    }
}

/* A db index argument: Redis's errors for a non-integer and for one out of range. */
static db *db_arg(client *c, int i, long long *index) {
    if (arg_ll(c, i, index) < 0) return NULL;
    if (*index < INT32_MIN || *index > INT32_MAX) { /* Redis reads it as an int */
        reply_error(c, "ERR value is out of range, value must between -2147483648 and 2147483647");
        return NULL;
    }
    if (*index < 0 || *index >= srv.databases) {
        reply_error(c, "ERR DB index is out of range");
        return NULL;
    }
    return srv.dbs[*index];
}

static const char *const ERR_SAME_OBJECT = "ERR source and destination objects are the same";

/* COPY source destination [DB destination-db] [REPLACE] */
void cmd_copy(client *c) {
    db *dst = c->db;
    int replace = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_eq(c, i, "replace")) {
            replace = 1;
        } else if (arg_eq(c, i, "db") && i + 1 < c->argc) {
            long long index;
            if (!(dst = db_arg(c, ++i, &index))) return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    const resp_arg *src_key = &c->argv[1], *dst_key = &c->argv[2];
    if (dst == c->db && src_key->len == dst_key->len &&
        memcmp(src_key->ptr, dst_key->ptr, src_key->len) == 0) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    db_entry *e = lookup_read(c, 1);
    if (!e) {
        reply_add_int(&c->reply, 0);
        return;
    }
    int64_t when = db_entry_has_expire(e) ? db_get_expire(c->db, src_key->ptr, src_key->len) : -1;
    uint64_t expired = 0;
    if (db_find(dst, dst_key->ptr, dst_key->len, server_now_ms(), &expired)) {
        if (!replace) {
            srv.stats.expired_keys += (long long)expired;
            reply_add_int(&c->reply, 0);
            return;
        }
        db_delete(dst, dst_key->ptr, dst_key->len);
        /* The delete may have moved entries around: find the source again. */
        e = db_peek(c->db, src_key->ptr, src_key->len);
    }
    srv.stats.expired_keys += (long long)expired;
    db_copy_entry(dst, e, dst_key->ptr, dst_key->len);
    if (when >= 0) db_set_expire(dst, dst_key->ptr, dst_key->len, when);
    for (long long i = 0; i < srv.databases; i++) { /* waiters on the new key are served */
        if (srv.dbs[i] != dst) continue;
        blocking_signal_key((int)i, dst_key->ptr, dst_key->len);
        notify_event(NOTIFY_GENERIC, "copy_to", dst_key->ptr, dst_key->len, (int)i);
    }
    srv.dirty++;
    reply_add_int(&c->reply, 1);
}

/* MOVE key db */
void cmd_move(client *c) {
    long long index;
    db *dst = db_arg(c, 2, &index);
    if (!dst) return;
    if (dst == c->db) {
        reply_error(c, ERR_SAME_OBJECT);
        return;
    }
    const resp_arg *key = &c->argv[1];
    if (!lookup_write(c, 1)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    uint64_t expired = 0;
    db_entry *there = db_find(dst, key->ptr, key->len, server_now_ms(), &expired);
    srv.stats.expired_keys += (long long)expired;
    if (there) {
        reply_add_int(&c->reply, 0);
        return;
    }
    db_move_key(c->db, dst, key->ptr, key->len);
    blocking_signal_key((int)index, key->ptr, key->len); /* waiters there are served */
    notify_key(c, NOTIFY_GENERIC, "move_from", 1);
    notify_event(NOTIFY_GENERIC, "move_to", key->ptr, key->len, (int)index);
    srv.dirty++;
    reply_add_int(&c->reply, 1);
}

void cmd_touch(client *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        if (lookup_read(c, i)) n++;
    reply_add_int(&c->reply, n);
}
