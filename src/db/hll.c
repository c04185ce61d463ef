#include "db/hll.h"

#include "alloc/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SUB ALLOC_SUB_OTHER /* a sketch being changed: the command's own buffer */
#define REG_MAX 63
#define HLL_Q 50 /* hash bits left for the run of zeros: counts are 1..Q+1 */
#define SEED UINT64_C(0xadc83b19)
#define VAL_MAX_VALUE 32
#define VAL_MAX_LEN 4
#define ZERO_MAX_LEN 64

/* ---- opcodes of the sparse form ---- */

static inline int op_zero(uint8_t b) {
    return (b & 0xc0) == 0;
}
static inline int op_xzero(uint8_t b) {
    return (b & 0xc0) == 0x40;
}
static inline int zero_len(uint8_t b) {
    return (b & 0x3f) + 1;
}
/* An XZERO's second byte may lie past the end of a corrupt sketch: Redis reads the string's
 * terminating zero there, and so does this. */
static inline long xzero_len(const uint8_t *p, const uint8_t *end) {
    return ((long)(p[0] & 0x3f) << 8 | (p + 1 < end ? p[1] : 0)) + 1;
}
static inline int val_value(uint8_t b) {
    return ((b >> 2) & 0x1f) + 1;
}
static inline int val_len(uint8_t b) {
    return (b & 3) + 1;
}
static inline uint8_t val_op(int value, long len) {
    return (uint8_t)(0x80 | (value - 1) << 2 | (len - 1));
}
/* The opcode at p: how many registers it covers and their value (0 for ZERO and XZERO).
 * Returns the next opcode. */
static inline const uint8_t *op_next(const uint8_t *p, const uint8_t *end, long *run, int *value) {
    if (op_zero(*p)) {
        *run = zero_len(*p), *value = 0;
        return p + 1;
    }
    if (op_xzero(*p)) {
        *run = xzero_len(p, end), *value = 0;
        return p + 2;
    }
    *run = val_len(*p), *value = val_value(*p);
    return p + 1;
}

/* A run of zero registers as ZERO or XZERO; returns the end of what it wrote. */
static uint8_t *put_zeros(uint8_t *n, long len) {
    if (len > ZERO_MAX_LEN) {
        n[0] = (uint8_t)(0x40 | (len - 1) >> 8);
        n[1] = (uint8_t)((len - 1) & 0xff);
        return n + 2;
    }
    n[0] = (uint8_t)(len - 1);
    return n + 1;
}

/* ---- dense registers ---- */

static inline uint8_t dense_get(const uint8_t *regs, long i) {
    size_t bit = (size_t)i * 6, byte = bit >> 3;
    unsigned fb = bit & 7, v = regs[byte] >> fb;
    if (fb > 2) v |= (unsigned)regs[byte + 1] << (8 - fb); /* the register spans two bytes */
    return (uint8_t)(v & REG_MAX);
}

static inline void dense_put(uint8_t *regs, long i, uint8_t v) {
    size_t bit = (size_t)i * 6, byte = bit >> 3;
    unsigned fb = bit & 7;
    regs[byte] = (uint8_t)((regs[byte] & ~(REG_MAX << fb)) | v << fb);
    if (fb > 2)
        regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(REG_MAX >> (8 - fb))) | v >> (8 - fb));
}

static int dense_set(uint8_t *regs, long i, uint8_t count) {
    if (count <= dense_get(regs, i)) return 0;
    dense_put(regs, i, count);
    return 1;
}

uint8_t hll_dense_get(const void *p, long i) {
    return dense_get((const uint8_t *)p + HLL_HDR_LEN, i);
}

/* ---- hashing ---- */

/* MurmurHash64A (Austin Appleby), reading its 8-byte blocks little-endian. */
static uint64_t murmur64a(const uint8_t *data, size_t len, uint64_t seed) {
    const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
    uint64_t h = seed ^ ((uint64_t)len * m);
    const uint8_t *end = data + (len & ~(size_t)7);
    for (; data != end; data += 8) {
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--)
            k = k << 8 | data[i];
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail) {
        for (size_t i = tail; i-- > 0;)
            h ^= (uint64_t)data[i] << (8 * i);
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}

/* The register an element goes to, and the count it offers there (1..Q+1). */
static uint8_t element_count(const void *ele, size_t len, long *index) {
    uint64_t hash = murmur64a(ele, len, SEED);
    *index = (long)(hash & (HLL_REGISTERS - 1));
    hash >>= 14;
    hash |= UINT64_C(1) << HLL_Q; /* the run ends by bit Q at the latest */
    return (uint8_t)(__builtin_ctzll(hash) + 1);
}

/* ---- the sketch ---- */

int hll_valid(const void *v, size_t len) {
    const uint8_t *p = v;
    if (len < HLL_HDR_LEN || memcmp(p, "HYLL", 4) != 0 || p[4] > HLL_SPARSE) return 0;
    return p[4] == HLL_SPARSE || len == HLL_DENSE_LEN;
}

int hll_encoding(const void *p) {
    return ((const uint8_t *)p)[4];
}

int hll_cached(const void *p, uint64_t *card) {
    const uint8_t *c = (const uint8_t *)p + 8;
    if (c[7] & 0x80) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | c[i];
    *card = n;
    return 1;
}

void hll_set_cached(void *p, uint64_t card) {
    uint8_t *c = (uint8_t *)p + 8;
    for (int i = 0; i < 8; i++)
        c[i] = (uint8_t)(card >> (8 * i));
}

void hll_invalidate(void *p) {
    ((uint8_t *)p)[15] |= 0x80;
}

/* Room for `extra` more bytes and the zero after the end. */
static void reserve(hll *h, size_t extra) {
    if (h->len + extra + 1 <= h->cap) return;
    size_t cap = h->len + extra + 1;
    cap += cap / 2;
    h->p = alloc_realloc(SUB, h->p, cap);
    h->cap = cap;
}

void hll_init_empty(hll *h) {
    h->cap = 32;
    h->p = alloc_calloc(SUB, h->cap);
    memcpy(h->p, "HYLL", 4);
    h->p[4] = HLL_SPARSE;
    h->len = (size_t)(put_zeros(h->p + HLL_HDR_LEN, HLL_REGISTERS) - h->p);
}

void hll_init_copy(hll *h, const void *p, size_t len) {
    h->cap = len + 8;
    h->p = alloc_malloc(SUB, h->cap);
    memcpy(h->p, p, len);
    h->len = len;
    h->p[len] = 0;
}

void hll_release(hll *h) {
    alloc_free(SUB, h->p);
    h->p = NULL;
    h->len = h->cap = 0;
}

int hll_to_dense(hll *h) {
    if (h->p[4] == HLL_DENSE) return 0;
    uint8_t *d = alloc_calloc(SUB, HLL_DENSE_LEN + 1);
    memcpy(d, h->p, HLL_HDR_LEN); /* magic, unused bytes and cached count */
    d[4] = HLL_DENSE;
    const uint8_t *p = h->p + HLL_HDR_LEN, *end = h->p + h->len;
    long idx = 0;
    while (p < end) {
        long run;
        int v;
        const uint8_t *next = op_next(p, end, &run, &v);
        if (v) {
            if (idx + run > HLL_REGISTERS) break; /* corrupt, even when idx is 16384 */
            for (long k = 0; k < run; k++)
                dense_put(d + HLL_HDR_LEN, idx + k, (uint8_t)v);
        }
        idx += run;
        p = next;
    }
    if (p < end || idx != HLL_REGISTERS) {
        alloc_free(SUB, d);
        return -1;
    }
    alloc_free(SUB, h->p);
    h->p = d;
    h->len = HLL_DENSE_LEN;
    h->cap = HLL_DENSE_LEN + 1;
    return 1;
}

/* Register index of a sparse sketch := count where greater, changing the opcodes in place the
 * way Redis does (so the bytes stay Redis's): find the opcode covering index; a VAL already as
 * high changes nothing; a VAL or ZERO of one register is rewritten; otherwise the opcode is
 * split into up to three (zeros or the old value before, the new VAL, zeros or the old value
 * after). Then up to five opcodes from the one before are scanned to merge equal neighbouring
 * VALs. Dense instead when the count does not fit a VAL or the split would pass sparse_max. */
static int sparse_set(hll *h, long index, uint8_t count, size_t sparse_max) {
    uint8_t seq[5], *n = seq;
    if (count > VAL_MAX_VALUE) goto promote;
    reserve(h, 3);
    uint8_t *sparse = h->p + HLL_HDR_LEN, *p = sparse, *end = h->p + h->len, *prev = NULL;
    long first = 0, span = 0;
    while (p < end) {
        long oplen = 1;
        if (op_zero(*p)) {
            span = zero_len(*p);
        } else if (!op_xzero(*p)) {
            span = val_len(*p);
        } else {
            span = xzero_len(p, end);
            oplen = 2;
        }
        if (index <= first + span - 1) break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end) return -1;
    uint8_t *next = op_xzero(*p) ? p + 2 : p + 1;
    if (next >= end) next = NULL;
    int is_zero = op_zero(*p), is_xzero = op_xzero(*p), is_val = !is_zero && !is_xzero;

    if (is_val) {
        int cur = val_value(*p);
        if (cur >= count) return 0;
        if (span == 1) {
            *p = val_op(count, 1);
            goto updated;
        }
    }
    if (is_zero && span == 1) {
        *p = val_op(count, 1);
        goto updated;
    }
    long last = first + span - 1;
    if (!is_val) {
        if (index != first) n = put_zeros(n, index - first);
        *n++ = val_op(count, 1);
        if (index != last) n = put_zeros(n, last - index);
    } else {
        int cur = val_value(*p);
        if (index != first) *n++ = val_op(cur, index - first);
        *n++ = val_op(count, 1);
        if (index != last) *n++ = val_op(cur, last - index);
    }
    long seqlen = n - seq, delta = seqlen - (is_xzero ? 2 : 1);
    if (delta > 0 && h->len + (size_t)delta > sparse_max) goto promote;
    if (delta && next) memmove(next + delta, next, (size_t)(end - next));
    h->len = (size_t)((long)h->len + delta);
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

updated:
    p = prev ? prev : sparse;
    for (int scan = 5; p < end && scan--;) {
        if (op_xzero(*p)) {
            p += 2;
            continue;
        }
        if (op_zero(*p)) {
            p++;
            continue;
        }
        if (p + 1 < end && !op_zero(p[1]) && !op_xzero(p[1]) && val_value(*p) == val_value(p[1])) {
            int len = val_len(*p) + val_len(p[1]);
            if (len <= VAL_MAX_LEN) {
                p[1] = val_op(val_value(*p), len);
                memmove(p, p + 1, (size_t)(end - p - 1));
                h->len--;
                end--;
                continue; /* the merged VAL may merge with the next one too */
            }
        }
        p++;
    }
    h->p[h->len] = 0;
    hll_invalidate(h->p);
    return 1;

promote:
    if (hll_to_dense(h) < 0) return -1;
    return dense_set(h->p + HLL_HDR_LEN, index, count);
}

int hll_set(hll *h, long index, uint8_t count, size_t sparse_max) {
    if (count == 0) return 0; /* every register holds at least 0 (and a VAL cannot say 0) */
    if (h->p[4] == HLL_DENSE) return dense_set(h->p + HLL_HDR_LEN, index, count);
    return sparse_set(h, index, count, sparse_max);
}

int hll_add(hll *h, const void *ele, size_t len, size_t sparse_max) {
    long index;
    uint8_t count = element_count(ele, len, &index);
    int r = hll_set(h, index, count, sparse_max);
    if (r == 1) hll_invalidate(h->p);
    return r;
}

int hll_dense_add(void *p, const void *ele, size_t len) {
    long index;
    uint8_t count = element_count(ele, len, &index);
    return dense_set((uint8_t *)p + HLL_HDR_LEN, index, count);
}

int hll_merge_max(uint8_t max[HLL_REGISTERS], const void *v, size_t len) {
    const uint8_t *s = v;
    if (s[4] == HLL_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t r = dense_get(s + HLL_HDR_LEN, i);
            if (r > max[i]) max[i] = r;
        }
        return 0;
    }
    const uint8_t *p = s + HLL_HDR_LEN, *end = s + len;
    long i = 0;
    while (p < end) {
        long run;
        int r;
        p = op_next(p, end, &run, &r);
        if (r) {
            if (i + run > HLL_REGISTERS) return -1; /* corrupt, even when i is 16384 */
            for (long k = i; k < i + run; k++)
                if (r > max[k]) max[k] = (uint8_t)r;
        }
        i += run;
    }
    return i == HLL_REGISTERS ? 0 : -1;
}

char *hll_decode(const void *v, size_t len, size_t *outlen) {
    const uint8_t *p = (const uint8_t *)v + HLL_HDR_LEN, *end = (const uint8_t *)v + len;
    char *out = alloc_malloc(SUB, (len - HLL_HDR_LEN) * 12 + 1), *o = out;
    while (p < end) {
        if (op_zero(*p)) {
            o += sprintf(o, "z:%d ", zero_len(*p));
            p++;
        } else if (op_xzero(*p)) {
            o += sprintf(o, "Z:%ld ", xzero_len(p, end));
            p += 2;
        } else {
            o += sprintf(o, "v:%d,%d ", val_value(*p), val_len(*p));
            p++;
        }
    }
    if (o > out) o--; /* the last space */
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

/* ---- the estimate ---- */

static double ertl_sigma(double x) {
    if (x == 1.) return INFINITY;
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double ertl_tau(double x) {
    if (x == 0. || x == 1.) return 0.;
    double y = 1.0, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (prev != z);
    return z / 3;
}

/* hist[v]: registers holding v. The order of the operations is Redis's: the result must be
 * the same double. */
static uint64_t estimate(const int64_t hist[64]) {
    double m = HLL_REGISTERS;
    double z = m * ertl_tau((m - (double)hist[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; j--) {
        z += (double)hist[j];
        z *= 0.5;
    }
    z += m * ertl_sigma((double)hist[0] / m);
    double e = (double)llroundl(0.721347520444481703680 * m * m / z); /* alpha_inf: 1/(2 ln 2) */
    return (uint64_t)e;
}

/* The histogram of a dense sketch's registers: 16 registers (12 bytes) a step, all zero
 * counted at once. */
static void dense_histogram(const uint8_t *regs, int64_t hist[64]) {
    int64_t zeros = 0;
    for (long i = 0; i < HLL_REGISTERS; i += 16, regs += 12) {
        uint64_t lo = 0;
        uint32_t hi = 0;
        for (int b = 7; b >= 0; b--) /* little-endian whatever the host: one load on x86 */
            lo = lo << 8 | regs[b];
        for (int b = 11; b >= 8; b--)
            hi = hi << 8 | regs[b];
        if ((lo | hi) == 0) {
            zeros += 16;
            continue;
        }
        /* 96 bits, register k at bit 6k (little-endian within the 12 bytes) */
        for (int k = 0; k < 10; k++)
            hist[(lo >> (6 * k)) & REG_MAX]++;
        hist[((lo >> 60) | ((uint64_t)hi << 4)) & REG_MAX]++;
        for (int k = 11; k < 16; k++)
            hist[(hi >> (6 * k - 64)) & REG_MAX]++;
    }
    hist[0] += zeros;
}

uint64_t hll_count(const void *v, size_t len, int *invalid) {
    const uint8_t *s = v;
    int64_t hist[64] = {0};
    if (s[4] == HLL_DENSE) {
        dense_histogram(s + HLL_HDR_LEN, hist);
        return estimate(hist);
    }
    const uint8_t *p = s + HLL_HDR_LEN, *end = s + len;
    long idx = 0;
    while (p < end) {
        long run;
        int r;
        p = op_next(p, end, &run, &r);
        idx += run;
        hist[r] += run;
    }
    if (idx != HLL_REGISTERS) {
        if (invalid) *invalid = 1;
        return 0;
    }
    return estimate(hist);
}

uint64_t hll_count_registers(const uint8_t regs[HLL_REGISTERS]) {
    int64_t hist[64] = {0}, zeros = 0;
    /* Mostly zeros in a sketch of few elements: 8 registers a load, and the zeros counted in
     * a register (incrementing hist[0] in memory each time chains every step on the last). */
    for (long i = 0; i < HLL_REGISTERS; i += 8) {
        uint64_t w;
        memcpy(&w, regs + i, 8); /* zero or not: the byte order does not matter */
        if (w == 0) {
            zeros += 8;
            continue;
        }
        for (int j = 0; j < 8; j++)
            hist[regs[i + j] & REG_MAX]++;
    }
    hist[0] += zeros;
    return estimate(hist);
}

/* ---- self-test ---- */

int hll_selftest(size_t sparse_max, char *err, size_t errlen) {
    /* Every register holds what was put there, whatever its neighbours hold. */
    uint8_t *regs = alloc_calloc(SUB, HLL_DENSE_LEN - HLL_HDR_LEN + 1);
    uint8_t *want = alloc_malloc(SUB, HLL_REGISTERS);
    uint64_t x = 88172645463325252ULL; /* xorshift64 */
    int rc = 0;
    for (int round = 0; round < 16 && rc == 0; round++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            want[i] = (uint8_t)(x & REG_MAX);
            dense_put(regs, i, want[i]);
        }
        for (long i = 0; i < HLL_REGISTERS && rc == 0; i++) {
            if (dense_get(regs, i) == want[i]) continue;
            snprintf(err, errlen, "ERR TESTFAILED Register %ld should be %d but is %d", i, want[i],
                     dense_get(regs, i));
            rc = -1;
        }
    }
    alloc_free(SUB, want);
    alloc_free(SUB, regs);

    /* The same elements in a dense sketch and in one that starts sparse (with the server's
     * limit): sparse while small, the same count, within six standard errors of the truth. */
    hll sparse, dense;
    hll_init_empty(&sparse);
    hll_init_empty(&dense);
    hll_to_dense(&dense);
    double relerr = 1.04 / sqrt((double)HLL_REGISTERS);
    for (uint64_t n = 1, checkpoint = 1; n <= 100000 && rc == 0; n++) {
        uint8_t ele[8];
        for (int i = 0; i < 8; i++)
            ele[i] = (uint8_t)((n ^ x) >> (8 * i));
        hll_add(&sparse, ele, sizeof(ele), sparse_max);
        hll_add(&dense, ele, sizeof(ele), sparse_max);
        if (n != checkpoint) continue;
        checkpoint *= 10;
        uint64_t card = hll_count(dense.p, dense.len, NULL);
        uint64_t maxerr = n == 10 ? 1 : (uint64_t)ceil(relerr * 6 * (double)n);
        uint64_t abserr = card > n ? card - n : n - card;
        if (n < sparse_max / 2 && hll_encoding(sparse.p) != HLL_SPARSE) {
            snprintf(err, errlen, "ERR TESTFAILED sparse encoding not used");
            rc = -1;
        } else if (card != hll_count(sparse.p, sparse.len, NULL)) {
            snprintf(err, errlen, "ERR TESTFAILED dense/sparse disagree");
            rc = -1;
        } else if (abserr > maxerr) {
            snprintf(err, errlen, "ERR TESTFAILED Too big error. card:%llu abserr:%llu",
                     (unsigned long long)n, (unsigned long long)abserr);
            rc = -1;
        }
    }
    hll_release(&sparse);
    hll_release(&dense);
    return rc;
}
