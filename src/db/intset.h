/* intset — a sorted array of distinct integers in one allocation, the compact encoding of sets
 * whose members are all integers (Redis's "intset").
 *
 * Layout as Redis's (so a future RDB writer can store it as is): a 32-bit element width in
 * bytes (2, 4 or 8), a 32-bit element count, then the elements in ascending order, each
 * little-endian (the host's order: memkv runs on little-endian machines only). The width is
 * the smallest that holds every element; adding a wider value upgrades the whole array, and
 * nothing ever narrows it again (as Redis). Lookups are binary searches.
 *
 * Every call that adds or removes may move the intset: it returns the new pointer. The
 * allocation is exactly intset_blob_len() bytes, accounted to the subsystem the caller names
 * (the same one on every call for one intset). Pure data structure; main thread only.
 */
#ifndef MEMKV_INTSET_H
#define MEMKV_INTSET_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"

typedef struct intset intset;

intset *intset_new(alloc_sub sub);
void intset_free(alloc_sub sub, intset *is); /* is may be NULL */
intset *intset_dup(alloc_sub sub, const intset *is);

/* *added / *removed (may be NULL) get 1 if the set changed, 0 if v was already there / not
 * there. */
intset *intset_add(alloc_sub sub, intset *is, int64_t v, int *added);
intset *intset_remove(alloc_sub sub, intset *is, int64_t v, int *removed);
int intset_find(const intset *is, int64_t v); /* 1 if v is a member */

size_t intset_len(const intset *is);
int64_t intset_get(const intset *is, size_t i); /* i < intset_len, ascending order */
/* A member chosen uniformly; the set must not be empty. *rng is the caller's state. */
int64_t intset_random(const intset *is, uint64_t *rng);
/* Bytes a member takes (2, 4 or 8), and the whole blob (header + members). */
unsigned intset_width(const intset *is);
size_t intset_blob_len(const intset *is);
size_t intset_mem_usage(const intset *is); /* usable size of the allocation */

/* 1 if `size` bytes at p are a well-formed intset (known width, count that fits the size,
 * strictly ascending members): for data from outside (RDB, fuzzing). */
int intset_validate(const void *p, size_t size);

#endif
