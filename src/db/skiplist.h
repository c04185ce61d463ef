/* skiplist — the ordered index of a large sorted set: elements ordered by (score, member bytes),
 * with span counts so the rank of an element and the element at a rank are O(log n).
 *
 * Each node is ONE allocation: score, backward pointer, member-index link, member length,
 * level, then its forward pointers, then its 32-bit spans (levels above 0), then the member
 * bytes (not NUL-terminated). The skiplist also indexes its members (zsl_find), so a sorted
 * set needs no separate hash table and stores each member once. A node's level
 * is random with p = 1/4, at most ZSL_MAX_LEVEL. Spans are 32-bit: a skiplist holds at most
 * UINT32_MAX - 1 elements (far beyond what fits in memory at these node sizes).
 *
 * Members compare by their bytes (memcmp, then the shorter first), as Redis's sdscmp. The
 * skiplist does not check uniqueness: insert only members that zsl_find does not find. All memory
 * is accounted to the subsystem named at creation. Pure data structure: no client, no reply. Main
 * thread only. Node pointers stay valid until that node is deleted.
 */
#ifndef MEMKV_SKIPLIST_H
#define MEMKV_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"

#define ZSL_MAX_LEVEL 32

typedef struct zsl_node zsl_node;
typedef struct zskiplist zskiplist;

/* A score interval: [min, max], either end exclusive when minex / maxex. */
typedef struct zrange_score {
    double min, max;
    int minex, maxex;
} zrange_score;

/* One end of a lex interval: "-" (ZLEX_MINUS), "+" (ZLEX_PLUS), or bytes, inclusive ("[a")
 * or exclusive ("(a"). s points into the caller's buffer. */
enum zlex_kind { ZLEX_VALUE = 0, ZLEX_MINUS, ZLEX_PLUS };
typedef struct zlex_bound {
    int kind;
    int exclusive;
    const unsigned char *s;
    size_t len;
} zlex_bound;
typedef struct zrange_lex {
    zlex_bound min, max;
} zrange_lex;

/* Range predicates shared with the listpack encoding (src/db/t_zset.c). */
int zrange_score_empty(const zrange_score *r); /* 1 if no score can be inside */
int zrange_score_gte_min(const zrange_score *r, double v);
int zrange_score_lte_max(const zrange_score *r, double v);
int zrange_lex_empty(const zrange_lex *r);
int zrange_lex_gte_min(const zrange_lex *r, const void *s, size_t len);
int zrange_lex_lte_max(const zrange_lex *r, const void *s, size_t len);
/* Bytes comparison of members: memcmp, then shorter first. */
int zsl_cmp_bytes(const void *a, size_t alen, const void *b, size_t blen);

zskiplist *zsl_new(alloc_sub sub);
void zsl_free(zskiplist *zsl); /* zsl may be NULL */
zskiplist *zsl_dup(const zskiplist *zsl);
size_t zsl_length(const zskiplist *zsl);
/* Usable bytes of the list, its header node, its member index and every node: exact, O(1)
 * (the nodes' total is kept as they come and go). */
size_t zsl_mem_usage(const zskiplist *zsl);

/* Insert a member that is not present (the caller checks with zsl_find). Returns its node. */
zsl_node *zsl_insert(zskiplist *zsl, double score, const void *m, size_t len);
/* Delete the element (score, m). 1 if it was there. */
int zsl_delete(zskiplist *zsl, double score, const void *m, size_t len);
/* Change the score of the element (cur, m), which must be present; returns its node (the
 * same node, moved in the list if its place changed). NULL if (cur, m) is not there. */
zsl_node *zsl_update_score(zskiplist *zsl, double cur, const void *m, size_t len, double newscore);

/* The node of member m (any score); NULL if absent. Through the member index: chained buckets
 * linked through the nodes themselves (8 bytes per node, 8 per bucket, no allocation per
 * member), incremental rehashing. */
zsl_node *zsl_find(const zskiplist *zsl, const void *m, size_t len);
/* Size the member index for n members at once (an empty skiplist about to be filled). */
void zsl_reserve(zskiplist *zsl, size_t n);
/* ZSCAN over the member index with Redis's reverse-binary cursor: every member present for the
 * whole scan is seen at least once across index resizes. Visits buckets until about count
 * nodes were seen; returns the next cursor, 0 when done. fn may not change the skiplist. */
typedef void (*zsl_scan_fn)(void *ctx, const zsl_node *n);
uint64_t zsl_scan(const zskiplist *zsl, uint64_t cursor, size_t count, zsl_scan_fn fn, void *ctx);

/* 1-based rank of the element (score, m); 0 if absent. */
unsigned long zsl_rank(const zskiplist *zsl, double score, const void *m, size_t len);
/* Node at 1-based rank; NULL if out of range. */
zsl_node *zsl_at_rank(const zskiplist *zsl, unsigned long rank);

zsl_node *zsl_first(const zskiplist *zsl); /* NULL if empty */
zsl_node *zsl_last(const zskiplist *zsl);
zsl_node *zsl_next(const zsl_node *n); /* NULL at the end */
zsl_node *zsl_prev(const zsl_node *n); /* NULL at the start */
double zsl_node_score(const zsl_node *n);
const unsigned char *zsl_node_member(const zsl_node *n, size_t *len);

/* First / last element inside the range; NULL if none. */
zsl_node *zsl_first_in_range(const zskiplist *zsl, const zrange_score *r);
zsl_node *zsl_last_in_range(const zskiplist *zsl, const zrange_score *r);
zsl_node *zsl_first_in_lex_range(const zskiplist *zsl, const zrange_lex *r);
zsl_node *zsl_last_in_lex_range(const zskiplist *zsl, const zrange_lex *r);

/* Delete every element in the range; fn (may be NULL) sees each member before its node is
 * freed (the sorted set deletes it from its dict). Return the number deleted. Ranks are
 * 1-based and inclusive. */
typedef void (*zsl_delete_fn)(void *ctx, const unsigned char *m, size_t len);
size_t zsl_delete_range_by_score(zskiplist *zsl, const zrange_score *r, zsl_delete_fn fn,
                                 void *ctx);
size_t zsl_delete_range_by_lex(zskiplist *zsl, const zrange_lex *r, zsl_delete_fn fn, void *ctx);
size_t zsl_delete_range_by_rank(zskiplist *zsl, unsigned long start, unsigned long end,
                                zsl_delete_fn fn, void *ctx);

/* Seed the level generator (tests, for reproducible shapes). */
void zsl_seed(uint64_t seed);

#endif
