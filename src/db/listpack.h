/* listpack — a compact array of strings and integers in one allocation, in Redis's listpack
 * byte format (so a future RDB writer can store it as is): a 4-byte total size, a 2-byte
 * element count (65535 = "count it"), the elements, and a 0xFF end byte. Each element is an
 * encoding byte (7-bit uint, 13/16/24/32/64-bit int, 6/12/32-bit string length), its data,
 * and a backward length (1-5 bytes) so the array walks both ways.
 *
 * A string that is a canonical integer ("12", not "012" or "+1") is stored as an integer;
 * reading it back gives the same bytes. Elements compare by their bytes.
 *
 * Positions are pointers to an element inside the listpack; NULL means "past the end" /
 * "before the start". Every call that modifies a listpack may move it: it returns the new
 * pointer, and positions from before the call are invalid (the calls that need one return
 * it). All memory is accounted to the subsystem the caller names. Pure data structure: no
 * client, no reply. The main thread only.
 */
#ifndef MEMKV_LISTPACK_H
#define MEMKV_LISTPACK_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"

#define LP_INTBUF 21 /* room for a formatted long long */

unsigned char *lp_new(alloc_sub sub);
void lp_free(alloc_sub sub, unsigned char *lp); /* lp may be NULL */
unsigned char *lp_dup(alloc_sub sub, const unsigned char *lp);
/* The header: total bytes (32 bits) and element count (16 bits, 65535: too many to say),
 * little-endian. Read inline: the key-space statistics ask on every write of a collection. */
static inline size_t lp_bytes(const unsigned char *lp) { /* the total-size header */
    return (size_t)lp[0] | (size_t)lp[1] << 8 | (size_t)lp[2] << 16 | (size_t)lp[3] << 24;
}
size_t lp_length_walk(const unsigned char *lp);
static inline size_t lp_length(const unsigned char *lp) { /* elements; walks only past 65534 */
    unsigned n = (unsigned)lp[4] | (unsigned)lp[5] << 8;
    return n != 65535 ? n : lp_length_walk(lp);
}
/* Usable size of the allocation. A listpack's block is always requested at exactly lp_bytes
 * (new, dup, realloc), so with jemalloc its usable size is that size's class: no pointer
 * lookup. */
static inline size_t lp_mem_usage(const unsigned char *lp) {
    return alloc_usable_is_class() ? alloc_size_class(lp_bytes(lp)) : alloc_usable_size(lp);
}

/* Walking. lp_seek takes Redis's indexes: 0 first, -1 last; NULL when out of range. */
unsigned char *lp_first(unsigned char *lp);
unsigned char *lp_last(unsigned char *lp);
unsigned char *lp_next(unsigned char *lp, unsigned char *p);
unsigned char *lp_prev(unsigned char *lp, unsigned char *p);
unsigned char *lp_seek(unsigned char *lp, long long index);

/* The element at p: either bytes (returns them, sets *len) or an integer (returns NULL, sets
 * *ll). */
const unsigned char *lp_get(const unsigned char *p, size_t *len, long long *ll);
/* The element's bytes either way: an integer is formatted into buf. */
const unsigned char *lp_get_bytes(const unsigned char *p, size_t *len,
                                  unsigned char buf[LP_INTBUF]);
/* The element as an integer if it is one or its bytes parse as one (strict, as string2ll). */
int lp_get_int(const unsigned char *p, long long *ll); /* 1 ok, 0 not an integer */
int lp_equals(const unsigned char *p, const void *s, size_t len);
/* The first element equal to s from p on, comparing p and then every (skip+1)-th element
 * (skip 1 finds the fields of a field/value map). NULL if none. */
unsigned char *lp_find(unsigned char *lp, unsigned char *p, const void *s, size_t len,
                       unsigned skip);

/* Changing. */
enum lp_where { LP_BEFORE = 0, LP_AFTER, LP_REPLACE };
unsigned char *lp_append(alloc_sub sub, unsigned char *lp, const void *s, size_t len);
unsigned char *lp_prepend(alloc_sub sub, unsigned char *lp, const void *s, size_t len);
unsigned char *lp_append_int(alloc_sub sub, unsigned char *lp, long long v);
/* Insert s before/after p, or replace p with it; *newp (may be NULL) gets the element
 * written. */
unsigned char *lp_insert(alloc_sub sub, unsigned char *lp, unsigned char *p, enum lp_where where,
                         const void *s, size_t len, unsigned char **newp);
/* Delete the element at p; *next (may be NULL) gets the one that followed it, or NULL. */
unsigned char *lp_delete(alloc_sub sub, unsigned char *lp, unsigned char *p, unsigned char **next);
/* Delete count elements from index on (index as lp_seek; count clipped at the end). */
unsigned char *lp_delete_range(alloc_sub sub, unsigned char *lp, long long index, size_t count);

/* 1 if `size` bytes at lp are a well-formed listpack (headers agree, every element decodes
 * and stays inside, backward lengths match): for data from outside (RDB, fuzzing). */
int lp_validate(const unsigned char *lp, size_t size);

#endif
