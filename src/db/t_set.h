/* t_set — values of the SET type over their three encodings:
 *   DB_ENC_INTSET     every member an integer (canonical decimal), at most set-max-intset-entries
 *   DB_ENC_LISTPACK   a few short members: at most set-max-listpack-entries, each at most
 *                     set-max-listpack-value bytes, one listpack element per member
 *   DB_ENC_HASHTABLE  a dict (DICT_KEYS) beyond that
 * A set only ever converts upwards (intset -> listpack or hashtable, listpack -> hashtable), at
 * the points where Redis 7.2 converts; removals never convert back. (Redis 7.0, our reference
 * for replies, has no listpack sets: where we say listpack it says hashtable.)
 *
 * All memory is accounted to ALLOC_SUB_SETS. Pure data structure: no client, no reply. Main
 * thread only. Members are binary-safe byte strings; an integer member reads back as the same
 * bytes it was added with (only canonical integers are stored as integers).
 */
#ifndef MEMKV_T_SET_H
#define MEMKV_T_SET_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/dict.h"
#include "db/listpack.h"

/* A set value: what a key's entry holds (db_entry_ptr, db_entry_encoding). Operations that
 * change the set may change both fields: store them back (db_entry_set_object). */
typedef struct set_obj {
    void *ptr;
    unsigned enc;
} set_obj;

/* The encoding thresholds (the server's config). */
typedef struct set_limits {
    size_t max_intset_entries;
    size_t max_listpack_entries;
    size_t max_listpack_value;
} set_limits;

/* A member read from a set: its bytes, which stay valid until the set changes (an intset
 * member is formatted into buf). */
typedef struct set_member {
    const unsigned char *p;
    size_t len;
    unsigned char buf[LP_INTBUF];
} set_member;

/* An empty set in the encoding Redis 7.2 picks for `size_hint` members of which `first` is
 * one: intset if first is an integer and the hint fits, else listpack if the hint fits, else
 * a hashtable sized for the hint. */
set_obj set_new_for(const void *first, size_t len, size_t size_hint, const set_limits *lim);
set_obj set_new_intset(void); /* an empty intset: the start of a computed set (SUNIONSTORE) */
void set_release(set_obj *s); /* frees the value; s is then empty and unusable */

/* 1 if added, 0 if it was already a member; converts when a threshold is crossed. */
int set_add(set_obj *s, const void *m, size_t len, const set_limits *lim);
int set_remove(set_obj *s, const void *m, size_t len); /* 1 if it was a member */
int set_ismember(set_obj *s, const void *m, size_t len);
size_t set_card(const set_obj *s);

/* A random member; the set must not be empty. *rng is the caller's PRNG state. */
void set_random(set_obj *s, uint64_t *rng, set_member *out);
/* Remove a random member (the set must not be empty): fn sees its bytes first. */
typedef void (*set_member_fn)(void *ctx, const unsigned char *p, size_t len);
void set_pop(set_obj *s, uint64_t *rng, set_member_fn fn, void *ctx);

/* Up to `count` distinct random members (count < set_card), each passed to fn once.
 * Does not change the set. */
void set_random_distinct(set_obj *s, size_t count, uint64_t *rng, set_member_fn fn, void *ctx);

/* Every member once. The set must not change while iterating. */
typedef struct set_iter {
    set_obj *s;
    size_t i;
    unsigned char *lp_pos;
    dict_iter di;
} set_iter;
void set_iter_init(set_obj *s, set_iter *it);
int set_iter_next(set_iter *it, set_member *m); /* 0 at the end */

/* SSCAN: a compact set passes every member and returns 0; a hashtable scans with the
 * reverse-binary cursor (see dict_scan). fn may not change the set. */
uint64_t set_scan(set_obj *s, uint64_t cursor, size_t count, set_member_fn fn, void *ctx);

/* The db_type_ops of DB_TYPE_SET (register with db_register_type). */
extern const db_type_ops set_type_ops;
size_t set_mem_usage(const set_obj *s); /* exact usable bytes */

#endif
