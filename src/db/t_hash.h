/* t_hash — values of the hash type, in Redis 7.0's two encodings.
 *
 * DB_ENC_LISTPACK: one listpack holding field, value, field, value … in insertion order, while
 * the hash has at most `max_entries` fields and every field and value is at most `max_value`
 * bytes. DB_ENC_HASHTABLE: a dict (DICT_STRING) of fields to values. A hash converts to a
 * hashtable exactly where Redis 7.0 converts (one field over max_entries, or a field or value
 * over max_value, results of HINCRBY/HINCRBYFLOAT included) and never back.
 *
 * A value is the pair (encoding, pointer) that a db entry holds; functions that may move or
 * convert it take a hash_value and update it, and the caller stores it back into the entry
 * (db_entry_set_object). All memory is accounted to ALLOC_SUB_HASHES. Pure: no client, no
 * reply. Main thread only.
 */
#ifndef MEMKV_T_HASH_H
#define MEMKV_T_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/dict.h"
#include "db/listpack.h"

typedef struct hash_value {
    unsigned enc; /* DB_ENC_LISTPACK or DB_ENC_HASHTABLE */
    void *ptr;    /* unsigned char * (listpack) or dict * */
} hash_value;

/* The thresholds (hash-max-listpack-entries, hash-max-listpack-value). */
typedef struct hash_limits {
    size_t max_entries;
    size_t max_value;
} hash_limits;

/* A field or a value: bytes and length. */
typedef struct hash_str {
    const void *p;
    size_t len;
} hash_str;

/* The db's operations for DB_TYPE_HASH (free, exact mem_usage, dup): register them. */
extern const db_type_ops hash_type_ops;

void hash_init(hash_value *h); /* a new, empty hash: a listpack */
void hash_free(hash_value *h);
size_t hash_len(const hash_value *h);
size_t hash_mem_usage(const hash_value *h); /* usable bytes of everything it holds */
void hash_dup(const hash_value *src, hash_value *dst);

/* Before setting the fields and values of HSET/HMSET/HSETNX, given the longest of them and
 * their total length: convert to a hashtable if one is longer than max_value or the listpack
 * would pass its 1 GB safety limit, as Redis's hashTypeTryConversion. */
void hash_try_conversion(hash_value *h, const hash_limits *lim, size_t longest, size_t total);
void hash_convert(hash_value *h); /* listpack -> hashtable (no-op if already one) */

/* The value of a field: 1 and *v set (bytes valid until the hash changes; an integer in a
 * listpack is formatted into buf), or 0. */
int hash_get(hash_value *h, const void *f, size_t flen, hash_str *v, unsigned char buf[LP_INTBUF]);
int hash_exists(hash_value *h, const void *f, size_t flen);
/* Sets field f to v: 1 if the field was added, 0 if updated. Converts first if f or v is
 * longer than max_value, and after adding if the hash has more than max_entries fields. */
int hash_set(hash_value *h, const hash_limits *lim, const void *f, size_t flen, const void *v,
             size_t vlen);
int hash_delete(hash_value *h, const void *f, size_t flen); /* 1 if it was there */

/* Every field/value pair once: insertion order in a listpack, table order in a hashtable. The
 * hash must not change while iterating. */
typedef struct hash_iter {
    hash_value *h;
    unsigned char *p; /* listpack: the next field */
    dict_iter di;
    unsigned char fbuf[LP_INTBUF], vbuf[LP_INTBUF];
} hash_iter;
void hash_iter_init(hash_value *h, hash_iter *it);
/* 1 and the pair (valid until the next call), 0 at the end. */
int hash_iter_next(hash_iter *it, hash_str *f, hash_str *v);

/* A handle on one field/value pair that stays valid while the hash does not change: a
 * listpack field position or a dict entry. hash_pair_get decodes it. */
typedef struct hash_pair {
    const void *ref;
} hash_pair;
typedef struct hash_pair_bufs {
    unsigned char f[LP_INTBUF], v[LP_INTBUF];
} hash_pair_bufs;
void hash_pair_get(const hash_value *h, hash_pair pr, hash_str *f, hash_str *v, hash_pair_bufs *b);
/* Every pair into out (room for hash_len), in iteration order. Returns the count. */
size_t hash_pairs(hash_value *h, hash_pair *out);
/* A random pair (fair over fields for a listpack; dict_random's fairness for a hashtable).
 * The hash must not be empty. */
hash_pair hash_random_pair(hash_value *h, uint64_t *rng);

/* HSCAN: pairs from `cursor` on, about `count` of them (a listpack gives all and returns 0),
 * to fn; returns the next cursor. fn may not change the hash. */
typedef void (*hash_scan_fn)(void *ctx, hash_pair pr);
uint64_t hash_scan(hash_value *h, uint64_t cursor, size_t count, hash_scan_fn fn, void *ctx);

#endif
