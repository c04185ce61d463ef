/* Log-linear latency histogram: see lathist.h. */
#include "server/lathist.h"

#include <math.h>
#include <string.h>

uint64_t lathist_bucket_low(uint32_t idx) {
    if (idx < LATHIST_LINEAR) return idx;
    unsigned shift = (idx - LATHIST_LINEAR) / LATHIST_LINEAR;
    uint64_t sub = (idx - LATHIST_LINEAR) % LATHIST_LINEAR;
    return (LATHIST_LINEAR + sub) << shift;
}

uint64_t lathist_bucket_high(uint32_t idx) {
    if (idx < LATHIST_LINEAR) return idx;
    unsigned shift = (idx - LATHIST_LINEAR) / LATHIST_LINEAR;
    return lathist_bucket_low(idx) + (UINT64_C(1) << shift) - 1;
}

void lathist_record(lathist **hp, uint64_t us, alloc_sub sub) {
    uint32_t idx = lathist_index(us);
    lathist *h = *hp;
    if (!h || idx >= h->nbuckets) {
        /* Grow by whole power-of-two groups: few reallocations over a command's life. */
        uint32_t n = idx < LATHIST_LINEAR ? LATHIST_LINEAR : (idx | (LATHIST_LINEAR - 1)) + 1;
        uint32_t old = h ? h->nbuckets : 0;
        h = alloc_realloc(sub, h, sizeof(*h) + n * sizeof(h->counts[0]));
        if (!old) h->total = 0;
        memset(h->counts + old, 0, (n - old) * sizeof(h->counts[0]));
        h->nbuckets = n;
        *hp = h;
    }
    h->counts[idx]++;
    h->total++;
}

void lathist_free(lathist **h, alloc_sub sub) {
    alloc_free(sub, *h);
    *h = NULL;
}

uint64_t lathist_percentile(const lathist *h, double p) {
    if (!h || !h->total) return 0;
    if (p < 0) p = 0;
    if (p > 100) p = 100;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (rank < 1) rank = 1;
    if (rank > h->total) rank = h->total;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < h->nbuckets; i++) {
        cum += h->counts[i];
        if (cum >= rank) return lathist_bucket_high(i);
    }
    return lathist_bucket_high(h->nbuckets - 1);
}

int lathist_pow2_cdf(const lathist *h, void (*fn)(void *ctx, uint64_t bound, uint64_t cum),
                     void *ctx) {
    if (!h) return 0;
    int n = 0;
    uint64_t cum = 0, reported = 0, bound = 1;
    for (uint32_t i = 0; i < h->nbuckets; i++) {
        uint64_t low = lathist_bucket_low(i);
        while (bound < low) { /* leaving bound's range: report what it gathered */
            if (cum > reported) {
                if (fn) fn(ctx, bound, cum);
                n++;
                reported = cum;
            }
            bound <<= 1;
        }
        cum += h->counts[i];
    }
    if (cum > reported) {
        if (fn) fn(ctx, bound, cum);
        n++;
    }
    return n;
}
