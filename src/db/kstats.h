/* kstats — exact running statistics of the key space: what each type, db, TTL bucket and key
 * prefix holds, size histograms, and the largest keys.
 *
 * The db module reports every key that enters or leaves the key space or changes its size,
 * length or expire (kstats_add / kstats_remove / kstats_change, see db_attach_stats), so every
 * figure here is what a full SCAN + MEMORY USAGE would compute at the same moment, without one.
 * A key's figures (ks_key) are its MEMORY USAGE bytes, its length (string bytes or elements)
 * and its expire.
 *
 * - TTL buckets are relative to the time of the question: the expire minute of every key is
 *   kept (one counter per distinct minute), so "expires within the hour" is exact to the
 *   minute: a key counts as < 1 h when its expire minute is less than 60 after the current
 *   minute (keys already past their expire but not yet deleted count as < 1 h).
 * - Prefixes: a key cut after `depth` separators (so at most depth+1 segments; keys without a
 *   separator have none), each segment folded so IDs do not explode the count: runs of digits
 *   become '#', a segment of 8+ hex characters (and '-') with both a digit and a letter a-f, or
 *   one over 32 bytes, becomes '*'.
 *   At most prefix_max prefixes are tracked; the keys of others are summed in `other`. A new
 *   prefix is admitted only when no key of its hash slice of `other` exists, which keeps every
 *   tracked prefix exact (its keys were never counted in `other`).
 * - Largest keys: per type, a candidate set of the 4*top_keys largest keys and a floor below
 *   which every key outside the set lies. Top-K is exact while the set's K-th largest is at or
 *   above the floor; after many big keys shrank or went it is not, and kstats_top needs the
 *   caller to refill the set from a scan (kstats_top_refill).
 *
 * Main thread only, like the key space. Memory in ALLOC_SUB_KEYSPACE_STATS.
 */
#ifndef MEMKV_KSTATS_H
#define MEMKV_KSTATS_H

#include <stddef.h>
#include <stdint.h>

#define KS_TYPES 5 /* DB_TYPES: string hash list set zset */
#define KS_BINS 65 /* bin 0: size 0; bin i: sizes [2^(i-1), 2^i) */
#define KS_PREFIX_DEPTH_MAX 8
#define KS_PREFIX_LEN_MAX 320 /* (depth_max + 1) segments of at most 32 bytes + separators */
#define KS_SEPARATORS_MAX 8

/* What one key holds, as the db reports it. */
typedef struct ks_key {
    const char *key;
    size_t klen;
    int db;
    int type;
    uint64_t bytes; /* MEMORY USAGE: entry, value, bucket share, expires-index entry */
    uint64_t len;   /* string length, or elements of a collection */
    int64_t when;   /* expire, unix ms; -1: none */
    uint64_t hv;    /* db_hash_bytes of the key when the caller has it; 0: not known */
} ks_key;

typedef struct kstats_config {
    char separators[KS_SEPARATORS_MAX + 1]; /* NUL-terminated; none of "#*" or digits */
    int depth;                              /* separators a prefix may hold: 0..DEPTH_MAX */
    size_t prefix_max;                      /* prefixes tracked; 0: prefix tracking off */
    size_t top_keys;                        /* K of the per-type top-K; >= 1 */
} kstats_config;

typedef struct kstats kstats;

/* NULL and a message in err when the configuration is invalid. */
kstats *kstats_new(int ndbs, const kstats_config *cfg, char *err, size_t errlen);
void kstats_free(kstats *ks);
/* 0, or -1 and a message: separators, depth, counts out of range. */
int kstats_config_check(const kstats_config *cfg, char *err, size_t errlen);

void kstats_add(kstats *ks, const ks_key *k);
void kstats_remove(kstats *ks, const ks_key *k);
/* The same key (name, db, type) before and after a change. Only after's name is read: before's
 * may point into memory the change freed (an entry moved by realloc). */
void kstats_change(kstats *ks, const ks_key *before, const ks_key *after);
/* kstats_change of a key whose value alone changed (a command's writes to a collection):
 * after is before with these bytes and this length. before's name must be valid. */
void kstats_change_value(kstats *ks, const ks_key *before, uint64_t bytes, uint64_t len);

/* Dbs a and b trade their keys (SWAPDB): their per-db figures are swapped and the top keys
 * of one are relabelled as the other's. TTL buckets and prefixes span every db: unchanged. */
void kstats_swap_dbs(kstats *ks, int a, int b);

/* kstats_add / kstats_remove of a string without expire (the common write), without a ks_key
 * to fill: hv as in ks_key, bytes its MEMORY USAGE, len its length. */
void kstats_add_string(kstats *ks, int db, const char *key, size_t klen, uint64_t hv,
                       uint64_t bytes, uint64_t len);
void kstats_remove_string(kstats *ks, int db, const char *key, size_t klen, uint64_t hv,
                          uint64_t bytes, uint64_t len);

/* ---- questions ---- */

typedef struct ks_totals {
    uint64_t keys, bytes;
} ks_totals;

/* db -1: all dbs. */
ks_totals kstats_type_totals(const kstats *ks, int dbi, int type);
ks_totals kstats_db_totals(const kstats *ks, int dbi);
/* Keys with an expire, and their bytes. */
ks_totals kstats_volatile_totals(const kstats *ks, int dbi);
int kstats_dbs(const kstats *ks);

enum { KS_TTL_NONE = 0, KS_TTL_HOUR, KS_TTL_DAY, KS_TTL_WEEK, KS_TTL_LONGER, KS_TTL_BUCKETS };
const char *kstats_ttl_bucket_name(int bucket); /* "none" "lt_1h" "lt_1d" "lt_1w" "longer" */
/* All dbs, relative to now_ms. Kept as running totals moved along with the minute: asking
 * every tick costs a few lookups per minute gone by, not a pass over every expire minute. */
void kstats_ttl_buckets(kstats *ks, int64_t now_ms, ks_totals out[KS_TTL_BUCKETS]);

/* The lengths of a type's keys summed (db -1: all dbs): the sum of the length histogram's
 * observations. */
uint64_t kstats_len_sum(const kstats *ks, int dbi, int type);
/* Histogram of lengths (what Redis 8's INFO keysizes shows) or of bytes, per db and type:
 * KS_BINS counters. */
const uint64_t *kstats_len_hist(const kstats *ks, int dbi, int type);
const uint64_t *kstats_bytes_hist(const kstats *ks, int dbi, int type);
/* Lower bound of bin i: 0 for bin 0, else 2^(i-1). */
uint64_t kstats_bin_floor(int bin);

typedef struct ks_prefix {
    const char *name; /* folded; valid until the next change of the key space */
    size_t len;
    uint64_t keys, bytes, volatile_keys;
} ks_prefix;

/* The prefix of a key at this depth (<= the configured one), folded, into out (which holds
 * KS_PREFIX_LEN_MAX bytes) and its length into *len: returns 1, or 0 when the key has no
 * separator (no prefix). A prefix may be empty: ":abc" at depth 0. */
int kstats_prefix_of(const kstats *ks, const char *key, size_t klen, int depth, char *out,
                     size_t *len);
/* The same fold byte by byte: the reference kstats_prefix_of is tested against. */
int kstats_prefix_of_ref(const kstats *ks, const char *key, size_t klen, int depth, char *out,
                         size_t *len);
int kstats_prefix_depth(const kstats *ks);
int kstats_prefixes_enabled(const kstats *ks);
/* Tracked prefixes, cut to `depth` separators and merged where that makes them equal.
 * Returns a new array (free with kstats_prefixes_free) of *n entries, unsorted, and the keys
 * without a prefix and those of untracked prefixes in *none and *other. */
ks_prefix *kstats_prefixes(const kstats *ks, int depth, size_t *n, ks_totals *none,
                           ks_totals *other);
void kstats_prefixes_free(ks_prefix *p, size_t n);
/* The n tracked prefixes with the most bytes, at the configured depth, in MEMORY PREFIXES's
 * order (bytes, then keys, descending, then name), into out (n entries; names valid until the
 * next change of the key space). Returns how many (fewer when fewer are tracked). Allocates
 * nothing; O(tracked prefixes · log n), for the cron's metrics snapshot. */
size_t kstats_prefixes_top(const kstats *ks, ks_prefix *out, size_t n);
size_t kstats_prefix_count(const kstats *ks); /* prefixes tracked now */
/* Keys ever refused a prefix slot since start (a cap reached, or their slice of other in use). */
uint64_t kstats_prefix_refusals(const kstats *ks);

typedef struct ks_top {
    const char *key; /* valid until the next change of the key space */
    size_t klen;
    int db, type;
    uint64_t bytes;
} ks_top;

/* The largest keys of a type (-1: of any type), biggest first, at most `count` (<= the
 * configured top_keys). Returns the number written, or -1 when a type's candidate set can no
 * longer answer exactly: refill it (kstats_top_refill) and ask again. */
int kstats_top(kstats *ks, int type, ks_top *out, size_t count);
size_t kstats_top_keys(const kstats *ks); /* the configured K */
/* Refill: forget a type's candidates, then offer every key of that type. */
void kstats_top_reset(kstats *ks, int type);
void kstats_top_offer(kstats *ks, const ks_key *k);
int kstats_top_exact(const kstats *ks, int type);

/* Bytes kstats itself holds. */
size_t kstats_mem_usage(const kstats *ks);

/* Compare two kstats built over the same key space (the live one and one rebuilt by a scan):
 * every total, histogram, TTL bucket and prefix, and the sizes of the top keys. Writes the
 * first differences, one per line, into out (NUL-terminated). Returns how many differ. */
size_t kstats_diff(kstats *live, kstats *fresh, int64_t now_ms, char *out, size_t cap);

#endif
