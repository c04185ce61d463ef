/* dict — the hash table of the large collection encodings: hash fields with their values,
 * set members, sorted-set members with their scores (or a pointer to their skiplist node).
 *
 * Chained buckets, a power-of-two size, incremental rehashing (a step per add/find/delete, as
 * the key space does), growing at load factor 1 and shrinking below 10%. The key bytes live
 * in the entry's own allocation, and so do a hash value's bytes: one allocation per element.
 * Keys hash with the key space's keyed hash (db_hash_bytes). All memory is accounted to the
 * subsystem named at creation. Pure data structure: no client, no reply. Main thread only.
 *
 * Entry pointers stay valid until the next call that adds or deletes (or sets a string value
 * of the same entry, which returns its new pointer).
 */
#ifndef MEMKV_DICT_H
#define MEMKV_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"

typedef struct dict dict;
typedef struct dict_entry dict_entry;

enum dict_kind {
    DICT_KEYS,   /* set members: no value */
    DICT_STRING, /* hash fields: a binary-safe value */
    DICT_DOUBLE, /* sorted-set members: a score */
    DICT_PTR,    /* anything the owner points at (e.g. a skiplist node) */
};

dict *dict_new(alloc_sub sub, enum dict_kind kind);
void dict_free(dict *d); /* d may be NULL */
dict *dict_dup(const dict *d);
size_t dict_size(const dict *d);
/* Usable bytes of the table, its bucket arrays and every entry: exact. */
size_t dict_mem_usage(const dict *d);
/* Make room for n elements at once (bulk conversion from a listpack). */
void dict_reserve(dict *d, size_t n);

dict_entry *dict_find(dict *d, const void *key, size_t klen);
/* The entry for key, added (value empty / 0 / NULL) if absent; *added tells which. */
dict_entry *dict_add(dict *d, const void *key, size_t klen, int *added);
int dict_delete(dict *d, const void *key, size_t klen); /* 1 if it was there */

const unsigned char *dict_key(const dict_entry *e, size_t *klen);
const unsigned char *dict_str(const dict_entry *e, size_t *vlen); /* DICT_STRING */
/* Sets a DICT_STRING entry's value; the entry may move: use the returned pointer. */
dict_entry *dict_set_str(dict *d, dict_entry *e, const void *v, size_t vlen);
double dict_double(const dict_entry *e); /* DICT_DOUBLE */
void dict_set_double(dict_entry *e, double v);
void *dict_ptr(const dict_entry *e); /* DICT_PTR */
void dict_set_ptr(dict_entry *e, void *p);

/* Every entry once, in table order. Do not add or delete while iterating, except
 * dict_iter_delete of the entry just returned. */
typedef struct dict_iter {
    dict *d;
    int table;
    size_t bucket;
    dict_entry *next;
    dict_entry *cur;
} dict_iter;
void dict_iter_init(dict *d, dict_iter *it);
dict_entry *dict_iter_next(dict_iter *it);
void dict_iter_delete(dict_iter *it); /* deletes the entry dict_iter_next returned last */

/* HSCAN/SSCAN/ZSCAN with the key space's reverse-binary cursor (every element present for the
 * whole scan is returned at least once across resizes). Visits buckets until about `count`
 * entries were seen; returns the next cursor, 0 when done. fn may not change the dict. */
typedef void (*dict_scan_fn)(void *ctx, const dict_entry *e);
uint64_t dict_scan(dict *d, uint64_t cursor, size_t count, dict_scan_fn fn, void *ctx);

/* A random entry (fair enough for SRANDMEMBER/SPOP/HRANDFIELD: a random non-empty bucket,
 * then a random element of its chain). NULL if empty. *rng is the caller's state. */
dict_entry *dict_random(dict *d, uint64_t *rng);

#endif
