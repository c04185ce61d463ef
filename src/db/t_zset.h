/* t_zset — the sorted set type: members (binary-safe) with double scores, ordered by (score,
 * member bytes).
 *
 * Two encodings, as Redis 7.0:
 *  - DB_ENC_LISTPACK: one listpack of member, score pairs in order. A score is stored as an
 *    integer when it is one (within +-LLONG_MAX/2, so -0 becomes 0, as Redis does), else as
 *    its "%.17g" text ("inf", "-inf"). Used up to zset-max-listpack-entries members, each up
 *    to zset-max-listpack-value bytes.
 *  - DB_ENC_SKIPLIST: a zskiplist (src/db/skiplist.h), which keeps order and ranks and also
 *    indexes its members (no separate dict: each member is stored once, in its node).
 * Adding past a threshold converts to the skiplist; nothing converts back except the STORE
 * paths (zset_shrink_if_fits), as in Redis 7.0.
 *
 * A value is handled through a zobj (encoding + pointer), which the calls update when the value
 * moves or converts: the caller stores it back in the key's entry (db_entry_set_object). All
 * memory is ALLOC_SUB_ZSETS. Pure data structure: no client, no reply. Main thread only.
 */
#ifndef MEMKV_T_ZSET_H
#define MEMKV_T_ZSET_H

#include <stddef.h>
#include <stdint.h>

#include "db/skiplist.h"
#include "db/listpack.h"

typedef struct zobj {
    unsigned enc; /* DB_ENC_LISTPACK or DB_ENC_SKIPLIST */
    void *ptr;
} zobj;

typedef struct zset_limits {
    size_t max_entries; /* zset-max-listpack-entries */
    size_t max_value;   /* zset-max-listpack-value */
} zset_limits;

/* Scores as text. ZSET_SCORE_BUF holds any of them. */
#define ZSET_SCORE_BUF 40
/* As Redis replies a double: "inf", "-inf", else "%.17g" ("-0" stays). */
size_t zset_format_score(char buf[ZSET_SCORE_BUF], double v);
/* As ZADD / ZINCRBY parse a score: strtod over the whole argument, no leading space, no NaN,
 * no overflow or underflow to zero. 0 ok, -1 invalid. */
int zset_parse_score(const char *s, size_t len, double *out);
/* A range end of ZRANGEBYSCORE: optional "(" (exclusive) then strtod to the end (spaces and the
 * empty string accepted, as Redis's strtod-based parse), no NaN. 0 ok, -1 invalid. */
int zset_parse_range_end(const char *s, size_t len, double *out, int *exclusive);
/* A lex range end: "-", "+", "[x" or "(x". 0 ok, -1 invalid. b points into s. */
int zset_parse_lex_end(const char *s, size_t len, zlex_bound *b);

/* An empty sorted set, in the encoding its first member gets (listpack unless max_entries is
 * 0 or the member is longer than max_value). */
void zset_create(zobj *z, size_t first_len, const zset_limits *lim);
/* db_type_ops of DB_TYPE_ZSET. */
void zset_free_value(void *ptr, unsigned enc);
size_t zset_mem_usage(const void *ptr, unsigned enc, size_t samples);
void *zset_dup_value(const void *ptr, unsigned enc);

size_t zset_length(const zobj *z);
size_t zset_length_value(const void *ptr, unsigned enc);                 /* db_type_ops.len */
int zset_score(const zobj *z, const void *m, size_t len, double *score); /* 1 if present */

/* ZADD. In flags: */
#define ZADD_IN_INCR (1 << 0)
#define ZADD_IN_NX (1 << 1)
#define ZADD_IN_XX (1 << 2)
#define ZADD_IN_GT (1 << 3)
#define ZADD_IN_LT (1 << 4)
/* Out flags: */
#define ZADD_OUT_NOP (1 << 0)     /* nothing done because of NX/XX/GT/LT */
#define ZADD_OUT_NAN (1 << 1)     /* the resulting score would be NaN: nothing done */
#define ZADD_OUT_ADDED (1 << 2)   /* a new member */
#define ZADD_OUT_UPDATED (1 << 3) /* its score changed */
/* Add or update member m. *newscore (may be NULL) gets the resulting score when something
 * was added or updated. Returns 1, or 0 when the result would be NaN (ZADD_OUT_NAN). */
int zset_add(zobj *z, double score, const void *m, size_t len, int in_flags, int *out_flags,
             double *newscore, const zset_limits *lim);
int zset_del(zobj *z, const void *m, size_t len); /* 1 if it was there */
/* 0-based rank from the start (reverse: from the end); -1 if absent. *score may be NULL. */
long zset_rank(const zobj *z, const void *m, size_t len, int reverse, double *score);

/* Walking in order (reverse: from the end). */
typedef struct zset_iter {
    const zobj *z;
    int reverse;
    unsigned char *eptr; /* listpack: member, NULL at the end */
    zsl_node *node;      /* skiplist */
    unsigned char buf[LP_INTBUF];
} zset_iter;
/* Position at a 0-based rank (counted from the end when reverse); at the end if out of range. */
void zset_iter_at_rank(zset_iter *it, const zobj *z, size_t rank, int reverse);
/* Position at the first element in the range (the last when reverse). */
void zset_iter_in_score(zset_iter *it, const zobj *z, const zrange_score *r, int reverse);
void zset_iter_in_lex(zset_iter *it, const zobj *z, const zrange_lex *r, int reverse);
/* The current element; 0 at the end. m points into the value (or it->buf) until the next
 * change of the sorted set. */
int zset_iter_get(zset_iter *it, const unsigned char **m, size_t *len, double *score);
void zset_iter_next(zset_iter *it);

/* Deleting ranges (ranks 0-based, inclusive, already clipped by the caller). Return the number
 * deleted; the caller deletes the key when the set becomes empty. */
size_t zset_delete_rank_range(zobj *z, size_t start, size_t end);
size_t zset_delete_score_range(zobj *z, const zrange_score *r);
size_t zset_delete_lex_range(zobj *z, const zrange_lex *r);

/* Counts without walking the range where the encoding allows (skiplist: by ranks). */
size_t zset_count_score(const zobj *z, const zrange_score *r);
size_t zset_count_lex(const zobj *z, const zrange_lex *r);

/* STORE paths: back to a listpack if the set fits (Redis's zsetConvertToListpackIfNeeded). */
void zset_shrink_if_fits(zobj *z, const zset_limits *lim);
/* Convert to the skiplist encoding (exposed for tests). */
void zset_convert_to_skiplist(zobj *z);

/* ZSCAN: listpack sets are returned whole (cursor 0 back); skiplist sets with the member
 * index's reverse-binary cursor (zsl_scan). fn gets each member and its score as text (a
 * listpack's stored text; "%.17g" for a skiplist's, as Redis's ZSCAN). */
typedef void (*zset_scan_fn)(void *ctx, const unsigned char *m, size_t len, const char *score,
                             size_t slen);
uint64_t zset_scan(const zobj *z, uint64_t cursor, size_t count, zset_scan_fn fn, void *ctx);

/* A uniformly random element (ZRANDMEMBER with a negative count). rng is the caller's state. */
void zset_random_element(const zobj *z, uint64_t *rng, const unsigned char **m, size_t *len,
                         double *score, unsigned char buf[LP_INTBUF]);

/* Set algebra (ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD). An input is a sorted
 * set, or anything else the caller adapts (a plain set: every member with score 1); a missing
 * key is an input of size 0. */
typedef struct zset_input {
    const void *obj;
    unsigned enc;
    double weight;
    size_t (*size)(const void *obj, unsigned enc);
    /* 1 and *score if m is in the input */
    int (*lookup)(const void *obj, unsigned enc, const void *m, size_t len, double *score);
    /* calls fn for every element */
    void (*each)(const void *obj, unsigned enc,
                 void (*fn)(void *ctx, const unsigned char *m, size_t len, double score),
                 void *ctx);
} zset_input;
/* An input reading a sorted set (z NULL: an empty input). */
void zset_input_of(zset_input *in, const zobj *z, double weight);

enum zset_op { ZSET_UNION, ZSET_INTER, ZSET_DIFF };
enum zset_aggregate { ZSET_AGG_SUM, ZSET_AGG_MIN, ZSET_AGG_MAX };
/* The result as a new sorted set in *out (enc 0 / ptr NULL when empty), skiplist-encoded as
 * Redis's (its scores exact: a -0 stays -0); the STORE forms then call zset_shrink_if_fits. */
void zset_algebra(enum zset_op op, zset_input *ins, size_t n, enum zset_aggregate agg, zobj *out);
/* ZINTERCARD: the intersection's size, stopping at limit (0: no limit). */
size_t zset_inter_card(zset_input *ins, size_t n, size_t limit);

#endif
