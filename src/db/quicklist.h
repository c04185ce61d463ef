/* quicklist — the list type's value: a doubly linked list of listpack nodes (listpack.h), as
 * Redis 7.0 encodes every list (OBJECT ENCODING "quicklist", even with one node).
 *
 * Each node is a listpack of consecutive elements. How much a node may hold is the fill
 * (list-max-listpack-size, taken when the list is created, as Redis does): a positive fill
 * is a number of elements per node, and then a node also stays under 8 KiB; -1..-5 limit a
 * node to 4, 8, 16, 32, 64 KiB (other negatives count as -5, positives above 32767 as 32767).
 * An element that alone exceeds the limit gets a node of its own. Pushes go into the end node
 * while it has room, else into a new node; an insert into a full node splits it; deletions in
 * the middle (LREM, LTRIM, ql_delete_range) merge neighbours that fit in one node again, and
 * an empty node is freed at once. An empty quicklist is legal here (the list type deletes the
 * key when it becomes empty).
 *
 * Memory: a 32-byte header plus per node a 32-byte node and its listpack, all accounted to
 * ALLOC_SUB_LISTS. Pure data structure: no client, no reply. Main thread only.
 *
 * Positions (ql_entry) are valid until the next call that modifies the list, except through
 * the iterator calls that say otherwise.
 */
#ifndef MEMKV_QUICKLIST_H
#define MEMKV_QUICKLIST_H

#include <stddef.h>
#include <stdint.h>

#include "db/listpack.h"

typedef struct quicklist quicklist;
typedef struct ql_node ql_node;

#define QL_SUB ALLOC_SUB_LISTS
#define QL_FILL_MAX 32767
#define QL_FILL_MIN (-5)

enum ql_where { QL_HEAD = 0, QL_TAIL = 1 };

quicklist *ql_new(long long fill);
void ql_free(quicklist *ql); /* ql may be NULL */
quicklist *ql_dup(const quicklist *ql);
size_t ql_count(const quicklist *ql); /* elements */
size_t ql_nodes(const quicklist *ql);
int ql_fill(const quicklist *ql);
/* Usable bytes of the header, every node and every listpack: exact. */
size_t ql_mem_usage(const quicklist *ql);

/* One element's bytes. If it is stored as an integer, the bytes are formatted into buf (so
 * an entry's s stays valid as long as both the list and the entry are unchanged). */
typedef struct ql_entry {
    ql_node *node;
    unsigned char *p; /* the element inside node's listpack */
    const unsigned char *s;
    size_t len;
    unsigned char buf[LP_INTBUF];
} ql_entry;

void ql_push(quicklist *ql, enum ql_where where, const void *s, size_t len);
/* Appends a copy of lp, a valid listpack of count elements, as a new tail node, when it is
 * within the list's node limits (an RDB file's node, taken whole). Returns 0, nothing done,
 * when it is not (or empty): the caller pushes its elements instead. */
int ql_append_listpack(quicklist *ql, const unsigned char *lp, size_t count);

/* A copy of a popped element: small values live in buf, larger ones in ptr (heap). */
typedef struct ql_value {
    unsigned char *ptr; /* points at buf or at an allocation of its own */
    size_t len;
    unsigned char buf[64];
} ql_value;
/* Pops the first (QL_HEAD) or last element into *v; 0 if the list is empty. Release v with
 * ql_value_release. */
int ql_pop(quicklist *ql, enum ql_where where, ql_value *v);
void ql_value_release(ql_value *v);

/* The element at Redis's index (0 first, -1 last), walking from the nearer end. 1 found, 0
 * out of range. */
int ql_index(quicklist *ql, long long index, ql_entry *e);
/* Replace the element at index (LSET); 0 if out of range. */
int ql_replace_at(quicklist *ql, long long index, const void *s, size_t len);
/* Insert before or after the element e (LINSERT); e is invalid afterwards. */
void ql_insert(quicklist *ql, ql_entry *e, int after, const void *s, size_t len);
/* Delete count elements from index on (index may be negative; clipped at the end). Returns
 * how many were deleted. */
size_t ql_delete_range(quicklist *ql, long long index, size_t count);

/* Walking. Start at the head (forward) or the tail (backward), or at an index. */
typedef struct ql_iter {
    quicklist *ql;
    ql_node *node;
    unsigned char *p; /* next element to return, NULL: take it from node's start/end */
    int forward;
    int deleted; /* the last returned element was deleted: p is already the next one */
    int changed; /* a node lost elements through ql_iter_delete: ql_iter_release merges */
} ql_iter;
void ql_iter_init(quicklist *ql, ql_iter *it, int forward);
int ql_iter_init_at(quicklist *ql, ql_iter *it, int forward, long long index); /* 0: range */
int ql_iter_next(ql_iter *it, ql_entry *e);                                    /* 0 at the end */
/* Delete the element the last ql_iter_next returned; the walk goes on with the next one. */
void ql_iter_delete(ql_iter *it, ql_entry *e);
/* Ends a walk; merges nodes that deletions left small. */
void ql_iter_release(ql_iter *it);

/* 1 if the element of e equals s (bytes compared; integers by their formatted bytes). */
int ql_entry_equals(const ql_entry *e, const void *s, size_t len);

/* The nodes in order, for a serializer that stores each node's listpack as it is (RDB). */
const ql_node *ql_first_node(const quicklist *ql);
const ql_node *ql_next_node(const ql_node *n);
const unsigned char *ql_node_listpack(const ql_node *n);

/* For tests: checks the invariants (links, counts, every listpack valid, no empty node) and,
 * if `limits`, that every node of more than one element is within the fill's limits (LSET
 * may break those, as in Redis 7.0). Returns 0 if fine, else a negative code. */
int ql_check(const quicklist *ql, int limits);
/* For tests: elements of the i-th node (0 = head), or -1. */
long long ql_node_elements(const quicklist *ql, size_t i);

#endif
