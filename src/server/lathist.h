/* lathist — a compact log-linear latency histogram (microseconds), one per command.
 *
 * Values below LATHIST_LINEAR are counted exactly; above, each power-of-two range [2^g, 2^(g+1))
 * is split into LATHIST_LINEAR equal sub-buckets, so a reported value is within 1/16 (6.25%)
 * of the recorded ones. Values are clamped to LATHIST_MAX_US. The bucket array grows to the
 * highest bucket used, so a command that always takes a few microseconds holds a few hundred
 * bytes; the largest possible histogram is LATHIST_MAX_BUCKETS counters (3.4 KiB).
 *
 * Pure: no server state. Memory through src/alloc under the subsystem the caller names.
 * Not thread-safe (the main thread records and reads). */
#ifndef MEMKV_LATHIST_H
#define MEMKV_LATHIST_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"

#define LATHIST_LINEAR_BITS 4
#define LATHIST_LINEAR (1u << LATHIST_LINEAR_BITS)
#define LATHIST_MAX_US ((UINT64_C(1) << 30) - 1) /* about 18 minutes */
#define LATHIST_MAX_BUCKETS (LATHIST_LINEAR * (30 - LATHIST_LINEAR_BITS + 1))

typedef struct lathist {
    uint64_t total;    /* samples recorded */
    uint32_t nbuckets; /* counts[] length */
    uint64_t counts[];
} lathist;

/* Records one sample of `us` microseconds into *h, allocating or growing it as needed. */
void lathist_record(lathist **h, uint64_t us, alloc_sub sub);
/* The same, inlined for the common case (the bucket exists): one compare and two increments
 * on the command path. */
static inline uint32_t lathist_index(uint64_t us) {
    if (us > LATHIST_MAX_US) us = LATHIST_MAX_US;
    if (us < LATHIST_LINEAR) return (uint32_t)us;
    unsigned shift = 63u - (unsigned)__builtin_clzll(us) - LATHIST_LINEAR_BITS;
    return LATHIST_LINEAR + shift * LATHIST_LINEAR +
           ((uint32_t)(us >> shift) & (LATHIST_LINEAR - 1));
}

static inline void lathist_add(lathist **hp, uint64_t us, alloc_sub sub) {
    lathist *h = *hp;
    uint32_t i = lathist_index(us);
    if (h && i < h->nbuckets) {
        h->counts[i]++;
        h->total++;
        return;
    }
    lathist_record(hp, us, sub);
}
void lathist_free(lathist **h, alloc_sub sub); /* *h may be NULL; set to NULL */

/* The value at percentile p (0..100): the upper bound of the bucket holding the sample of
 * that rank (at least the first one), in microseconds; 0 for an empty histogram. */
uint64_t lathist_percentile(const lathist *h, double p);

/* The cumulative distribution over power-of-two bounds: calls fn(bound_us, cumulative) for
 * each bound 1, 2, 4, ... whose cumulative count grew (a bucket counts under the smallest
 * power of two at or above its lowest value), as LATENCY HISTOGRAM shows it. Returns how
 * many times fn was called; fn may be NULL (to count first). */
int lathist_pow2_cdf(const lathist *h, void (*fn)(void *ctx, uint64_t bound, uint64_t cum),
                     void *ctx);

/* A bucket's bounds (lathist_index above gives a value's bucket). */
uint64_t lathist_bucket_low(uint32_t idx);
uint64_t lathist_bucket_high(uint32_t idx);

#endif
