/* db — one logical database: the key space of memkv.
 *
 * A hash table with incremental rehashing (two tables, a few buckets moved per operation and
 * more from the cron) maps binary-safe keys to entries. A string key and its value live in ONE
 * allocation (entry header, key bytes, value bytes) to keep memory per key below Redis's.
 * Expiry times live in a second table, the expires index, so active expiry can sample only
 * keys that have one. Lookups expire lazily: a key whose time has passed is deleted when found.
 *
 * A collection key's entry holds a pointer to its value (see db_type_ops) instead of bytes.
 *
 * Only the main thread may call these functions. Memory is attributed with src/alloc:
 * entries of string keys -> ALLOC_SUB_STRINGS, entries of collection keys -> their type's
 * subsystem (ALLOC_SUB_HASHES ...; their values allocate there too), bucket arrays of the main
 * table -> ALLOC_SUB_KEY_INDEX, expires entries and buckets -> ALLOC_SUB_EXPIRES_INDEX.
 *
 * Entry pointers returned by lookups are valid until the next call that modifies this db.
 */
#ifndef MEMKV_DB_H
#define MEMKV_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct db db;
typedef struct db_entry db_entry;

enum db_type { DB_TYPE_STRING = 0, DB_TYPE_HASH, DB_TYPE_LIST, DB_TYPE_SET, DB_TYPE_ZSET };
#define DB_TYPES 5

/* Encodings of collection values (OBJECT ENCODING answers Redis's names, db_encoding_name).
 * Strings are DB_ENC_NONE here; their Redis encoding (int, embstr, raw) follows from the
 * value and is computed by whoever asks. */
enum db_encoding {
    DB_ENC_NONE = 0,
    DB_ENC_LISTPACK,  /* hashes, lists of one node, sets of strings, sorted sets: small */
    DB_ENC_HASHTABLE, /* hashes, sets */
    DB_ENC_INTSET,    /* sets of integers */
    DB_ENC_QUICKLIST, /* lists */
    DB_ENC_SKIPLIST,  /* sorted sets */
};
#define DB_ENCODINGS 6
const char *db_encoding_name(unsigned enc); /* "listpack", ...; "" for DB_ENC_NONE */
const char *db_type_name(int type);         /* "string", "hash", "list", "set", "zset" */

/* A collection value is an opaque pointer plus its encoding, owned by the key's entry. The
 * module of each type (src/db/t_*.c) registers how to free, measure and copy its values;
 * db.c calls these when an entry is freed, measured or copied. */
typedef struct db_type_ops {
    void (*free)(void *ptr, unsigned enc);
    /* Bytes the value holds (usable sizes of all its allocations). samples == 0: exact;
     * otherwise the value may estimate from that many elements, as Redis does. */
    size_t (*mem_usage)(const void *ptr, unsigned enc, size_t samples);
    void *(*dup)(const void *ptr, unsigned enc);  /* deep copy, same encoding */
    size_t (*len)(const void *ptr, unsigned enc); /* elements */
    /* Optional: mem_usage (exact) and len at once, for the key-space statistics, which ask
     * both before and after every write of a collection. NULL: both are asked. */
    size_t (*figures)(const void *ptr, unsigned enc, size_t *len);
    /* Listpack entries per element when a value is DB_ENC_LISTPACK (a hash's field and value:
     * 2), whose mem_usage is then the listpack's alone; 0: the type has no such encoding. The
     * statistics then read both figures from the listpack's header, with no call. */
    unsigned lp_entries;
} db_type_ops;
void db_register_type(int type, const db_type_ops *ops);

/* Limits of the entry layout (a 24-byte header: next pointer, 32-bit key length, 16 bits of
 * the key's hash, type, flags, 40-bit value length, 24-bit LRU clock). Callers must reject
 * longer keys/values (Redis's proto-max-bulk-len is far below); the db aborts on them. */
#define DB_KEY_MAX_LEN ((size_t)UINT32_MAX)
#define DB_STRING_MAX_LEN ((size_t)((UINT64_C(1) << 40) - 1))
#define DB_LRU_BITS 24
#define DB_LRU_MAX ((1u << DB_LRU_BITS) - 1)

/* Seed for the keyed hash function; call once at start-up before any db_new. */
void db_set_hash_seed(const uint8_t seed[16]);
/* The keyed hash of the key space, for the collections' own tables (src/db/dict.c). */
uint64_t db_hash_bytes(const void *p, size_t len);

db *db_new(void);
void db_free(db *d);

/* Hooks for keyspace notifications (NULL: none, the default). on_new runs where a key is
 * created (Redis's dbAdd: a new string or collection, the destination of COPY, MOVE and RENAME,
 * even over an existing key), on_expired just before an expired key is deleted (lazily by a
 * lookup or by active expiry). They get the db's number (db_set_index). */
typedef void (*db_key_hook)(int db_index, const char *key, size_t klen);
void db_set_key_hooks(db_key_hook on_new, db_key_hook on_expired);

/* Lookup; returns NULL if absent. If the key has an expire <= now_ms it is deleted first
 * (lazy expiry) and NULL is returned; *expired (may be NULL) is incremented in that case.
 * Does not touch the entry's LRU clock (Redis's LOOKUP_NOTOUCH: TYPE, TTL, EXISTS). */
db_entry *db_find(db *d, const char *key, size_t klen, int64_t now_ms, uint64_t *expired);
/* While on, lookups report a key whose expire has passed as missing but do not delete it (the
 * server's CLIENT PAUSE: the data set must not change; only reads run meanwhile). */
void db_set_expire_keep(int on);

/* db_find, then stamp the entry with the LRU clock (see db_set_lru_clock): the lookup of a
 * command that reads or writes the key. One extra store. */
db_entry *db_find_touch(db *d, const char *key, size_t klen, int64_t now_ms, uint64_t *expired);

/* Lookup with no side effect at all: no lazy expiry, no LRU stamp, no rehash step. For
 * eviction and introspection; may return a key whose expire has passed. */
db_entry *db_peek(db *d, const char *key, size_t klen);

/* Set a string value; creates or replaces (whatever the old type). The expire is removed
 * unless keep_ttl. A new entry gets the current LRU clock; a replaced one keeps its LRU (the
 * caller stamps it if the write counts as an access). Returns the entry. */
db_entry *db_set_string(db *d, const char *key, size_t klen, const char *val, size_t vlen,
                        int keep_ttl);

/* Add a new key holding a collection value (ptr, enc) of `type`. The key must not exist
 * (the db aborts otherwise): look it up first. Gets the current LRU clock, no expire. */
db_entry *db_add_object(db *d, const char *key, size_t klen, int type, unsigned enc, void *ptr);

/* Collection value of an entry (not DB_TYPE_STRING). The entry owns it. */
void *db_entry_ptr(const db_entry *e);
unsigned db_entry_encoding(const db_entry *e);
/* Replace the pointer and/or encoding after the value was reallocated or converted (the old
 * pointer is not freed: the type module did that). Keeps the per-encoding key counts. */
void db_entry_set_object(db *d, db_entry *e, unsigned enc, void *ptr);

/* COPY: a deep copy of src's value (string or collection) under dst_key in dst (which may
 * be src's db). dst_key must not exist in dst. The copy has no expire and the current LRU
 * clock. Returns the new entry. */
db_entry *db_copy_entry(db *dst, const db_entry *src, const char *dst_key, size_t dlen);

/* Move an entry (with its expire) to another db: the key must not exist in dst. Returns 1,
 * or 0 if the key is not in src. */
int db_move_key(db *src, db *dst, const char *key, size_t klen);

/* Keys of a type and encoding (strings: enc DB_ENC_NONE). Exact running counts. */
size_t db_type_count(const db *d, int type, unsigned enc);

/* Change the length of a string value in place (APPEND, SETRANGE): content up to
 * min(old,new) is kept, new bytes are zero. The entry may move: use the returned pointer. */
db_entry *db_string_resize(db *d, db_entry *e, size_t new_len);

int db_delete(db *d, const char *key, size_t klen); /* 1 if it existed, else 0 */

/* Expires. when_ms is absolute unix time in ms. db_get_expire returns -1 if none. */
int64_t db_get_expire(db *d, const char *key, size_t klen);
void db_set_expire(db *d, const char *key, size_t klen, int64_t when_ms); /* key must exist */
int db_persist(db *d, const char *key, size_t klen);                      /* 1 if removed */

/* RENAME: moves the entry (with its expire) to dst, replacing dst unless nx. Returns 1 done,
 * 0 if nx and dst exists, -1 if src does not exist. src == dst is allowed (returns 1, or 0
 * with nx). No lazy expiry here: call db_find on src and dst first, as RENAME does. */
int db_rename(db *d, const char *src, size_t slen, const char *dst, size_t dlen, int nx);

/* Sizes an empty db's key and expires tables for that many entries at once (an RDB file's
 * RESIZEDB hint), so loading does not grow them step by step. A db with keys is left as is. */
void db_reserve(db *d, size_t keys, size_t expires);
size_t db_size(const db *d);
size_t db_expires_size(const db *d);
void db_flush(db *d); /* remove every key and expire; tables shrink to their initial size */

/* SCAN with Redis's reverse-binary cursor: every key present for the whole scan is returned
 * at least once even if the table grows, shrinks or rehashes between calls. Visits at least
 * `count` buckets' worth (until at least count entries seen or the end). Returns the next
 * cursor, 0 when done. fn may not modify the db. Keys whose expire has passed but that are
 * not yet deleted are passed to fn too; filter them with db_find afterwards, as Redis does. */
typedef void (*db_scan_fn)(void *ctx, const db_entry *e);
uint64_t db_scan(db *d, uint64_t cursor, size_t count, db_scan_fn fn, void *ctx);

/* A random live key (may return an expired-but-not-yet-deleted one; the caller re-checks
 * with db_find). NULL if empty. */
db_entry *db_random(db *d);

/* Up to n entries sampled from the key table (from_expires == 0) or from the expires index
 * (from_expires != 0), as Redis's dictGetSomeKeys does for eviction: runs of consecutive
 * buckets from random starting points (while rehashing, both tables), at most 10*n buckets
 * visited. Cheap rather than uniform; the same entry may come back twice when the walk jumps
 * onto buckets it already visited. Returns the number stored in out (never more than the
 * table holds); at least 1 whenever the table is not empty. May do a few rehash steps, which
 * move no entry: every pointer stays valid until the next call that adds or removes keys.
 * Entries of the expires index only answer db_entry_key and db_expires_entry_when. */
size_t db_sample(db *d, int from_expires, db_entry **out, size_t n);

/* Absolute expire time (unix ms) held by an entry of the expires index (from db_sample with
 * from_expires set). Not for key-space entries: use db_get_expire. */
int64_t db_expires_entry_when(const db_entry *x);

/* One active-expiry pass: samples keys with an expire and deletes expired ones, repeating
 * while more than 25% of a sample was expired and fewer than max_keys were examined.
 * Returns the number of keys deleted. */
size_t db_active_expire(db *d, int64_t now_ms, size_t max_keys);

/* Move up to n buckets of an ongoing rehash (cron calls it); also triggers a shrink when the
 * table is mostly empty. Returns 1 if a rehash is still in progress. */
int db_rehash_step(db *d, int n);

/* Entry accessors. */
const char *db_entry_key(const db_entry *e, size_t *klen);
int db_entry_type(const db_entry *e);
int db_entry_has_expire(const db_entry *e);
const char *db_entry_str(const db_entry *e, size_t *vlen); /* DB_TYPE_STRING only */
char *db_entry_str_mut(db_entry *e);                       /* writable value bytes */
/* How Redis would have encoded a string, where its content alone does not say: a value
 * changed in place (APPEND, SETRANGE) is "raw", one INCRBYFLOAT wrote is never "int". A value
 * written whole (db_set_string) is back to DB_STR_AUTO. For OBJECT ENCODING. */
enum db_str_form { DB_STR_AUTO = 0, DB_STR_RAW, DB_STR_NOT_INT };
void db_entry_set_str_form(db_entry *e, enum db_str_form form);
enum db_str_form db_entry_str_form(const db_entry *e);
/* Usable bytes of the entry's allocation plus its share (8 bytes) of the bucket array, plus
 * (collections) what the value holds, exact or sampled (see db_type_ops.mem_usage). The entry
 * alone cannot reach its expires-index entry: use db_key_mem_usage for MEMORY USAGE. */
size_t db_entry_mem_usage(const db_entry *e);
size_t db_entry_mem_usage_sampled(const db_entry *e, size_t samples);

/* Everything a key costs: db_entry_mem_usage(e) plus, if it has an expire, the usable size of
 * its expires-index entry and that entry's 8-byte bucket share. e must belong to d. */
size_t db_key_mem_usage(db *d, const db_entry *e);
size_t db_key_mem_usage_sampled(db *d, const db_entry *e, size_t samples);

/* LRU clock of the entry (DB_LRU_BITS wide; the caller's clock is stored modulo 2^24).
 * New entries start at the clock set by db_set_lru_clock (0 until set); overwrites, resizes
 * and renames keep it; db_find_touch stamps it. */
uint32_t db_entry_lru(const db_entry *e);
void db_entry_set_lru(db_entry *e, uint32_t lru);

/* The LRU clock every db stamps entries with, kept modulo 2^DB_LRU_BITS. One value for the
 * process (the key space is main-thread only): the server refreshes it from its cron, so a
 * lookup pays one store rather than a clock read. */
void db_set_lru_clock(uint32_t clock);
uint32_t db_lru_clock(void);

/* ---- change signals (WATCH) ----
 *
 * The db tells one hook (the server's WATCH table and client-side caching) about every key it
 * changes: a string written or resized, a key added, copied, moved, renamed, deleted (by a command,
 * lazy or active expiry, eviction), an expire set or removed, and a db flushed (DB_CHANGE_FLUSH,
 * key NULL, before the keys go: the hook may still look them up). A collection changed in
 * place by its type's module is out of the db's sight: the command that changed it calls
 * db_key_changed, where Redis calls signalModifiedKey (not for a write that changed nothing,
 * such as SREM of a missing member). The hook must not change the db. Cheap (one branch) while
 * no hook is set: the server sets it only while some client watches a key or tracks keys. */
/* DB_CHANGE_EXPIRED: deleted because its time passed (lazily or by active expiry). */
enum db_change { DB_CHANGE_WRITE = 0, DB_CHANGE_DELETE, DB_CHANGE_EXPIRED, DB_CHANGE_FLUSH };
typedef void (*db_change_fn)(db *d, const char *key, size_t klen, int change);
void db_set_change_hook(db_change_fn fn); /* NULL: nobody listens */
void db_key_changed(db *d, const char *key, size_t klen);
/* Changes made between db_changes_mute and db_changes_unmute are not told to the hook, for a
 * command that then signals them itself only where Redis does: SETBIT and BITFIELD create or
 * grow a string, and Redis 7.0 signals that only with a write applied (a BITFIELD whose writes
 * all fail on OVERFLOW FAIL leaves the new string unsignalled). The db counts no changes: each
 * command counts its own for the save rules (srv.dirty), as Redis does. */
typedef struct db_muted {
    db_change_fn hook;
} db_muted;
void db_changes_mute(db_muted *saved);
void db_changes_unmute(const db_muted *saved);
int db_get_index(const db *d); /* the number given by db_set_index */

/* ---- snapshots (a forkless BGSAVE) ----
 *
 * A point-in-time snapshot without fork: db_snapshot_begin marks every entry that exists as
 * "not saved yet" (one flag bit, flipped for all at once). From then on, before an unsaved
 * entry is changed, deleted, renamed, moved, has its expire set or removed, is flushed, or is
 * returned by db_find / db_find_touch (whose caller may change a collection in place), the db
 * calls fn with it, once: fn saves it as it is (fn must not change the db). The saver walks the
 * tables meanwhile (db_scan) and saves each entry db_snapshot_claim hands it. Entries created
 * after begin count as saved: they are not part of the snapshot. db_snapshot_end stops the
 * calls; an abandoned snapshot (completed 0) marks every entry of dbs saved, so the next
 * begin's flip finds them all unsaved again. One snapshot at a time; main thread only. */
typedef void (*db_snapshot_fn)(db *d, const db_entry *e);
void db_snapshot_begin(db_snapshot_fn fn);
int db_snapshot_claim(const db_entry *e); /* 1 (and now saved) if e was not saved yet */
void db_snapshot_end(db **dbs, size_t n, int completed);

/* ---- key-space statistics (src/db/kstats.h) ----
 *
 * With statistics attached, every db reports each key that enters, leaves or changes to them.
 * Strings are reported by the db calls that change them. A collection is changed in place by
 * its type's module, out of the db's sight: the db notes each collection key a lookup returns
 * (db_find, db_find_touch, db_add_object, db_copy_entry) with its figures at that moment, and
 * db_settle reports what changed since. Call db_settle after every command (and before reading
 * the statistics); a key deleted or renamed in between is reported from its noted figures.
 * Under db_reads_only, only collections a read can change are noted. */
struct kstats;
/* Attach (or with NULL detach) statistics for every db; index is the db's number there.
 * Attaching does not count the keys already present: db_stats_recount does. */
void db_attach_stats(struct kstats *ks);
void db_set_index(db *d, int index);
void db_stats_recount(db *d);
/* SWAPDB: a and b trade their numbers (db_set_index), and the statistics their per-db figures
 * (totals, histograms, the db of each top key) with them, in time independent of the keys. */
void db_swap_index(db *a, db *b);
void db_settle(void);
/* Until the next db_settle, lookups serve a read-only command: only a collection that a read
 * can change (a hash table may rehash, hashtable and skiplist encodings) is noted. */
void db_reads_only(void);
/* A collection a read-only command changes all the same (SORT_RO converts a sorted set to a
 * skiplist, as Redis 7.0): noted now if it was not, so db_settle reports the change. */
void db_entry_will_change(db *d, db_entry *e);
/* The figures of one key as the statistics count them (ks_key), for a scan that rebuilds
 * them: *k's key points into the entry. */
struct ks_key;
void db_entry_stats(db *d, const db_entry *e, struct ks_key *k);
/* Every key-space entry of d (fn may not change d). */
typedef void (*db_each_fn)(void *ctx, db *d, const db_entry *e);
void db_for_each(db *d, db_each_fn fn, void *ctx);

/* Table figures for INFO / MEMORY STATS / DEBUG HTSTATS. Bucket counts cover both tables
 * while a rehash is in progress. */
typedef struct db_stats {
    size_t keys, expires;
    size_t buckets, expires_buckets;
    int rehashing, expires_rehashing;
} db_stats;
void db_get_stats(const db *d, db_stats *out);

#endif
