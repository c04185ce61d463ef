#include "db/kstats.h"

#include "alloc/alloc.h"
#include "db/db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The prefix fold classifies 16 bytes at a time with SSE2 (every x86-64 has it); elsewhere, or
 * with MEMKV_KSTATS_NO_SIMD (a test builds it so), byte by byte into the same masks. */
#if defined(__SSE2__) && !defined(MEMKV_KSTATS_NO_SIMD)
#define KS_SIMD 1
#include <emmintrin.h>
#endif

#define SUB ALLOC_SUB_KEYSPACE_STATS
#define OTHER_SLICES 64
#define SEGMENT_MAX 32
#define MS_PER_MINUTE 60000
#define CLS_SEP 1u
#define CLS_DIGIT 2u
#define CLS_HEX 4u
#define CLS_HEX_LETTER 8u
#define FOLD_SPAN 64 /* bytes of a key the fast prefix fold looks at */
/* Out of line, and (GCC's noipa) with its signature as written, so that the common path's calls
 * to it stay tail calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define OUT_OF_LINE __attribute__((noinline, noipa))
#else
#define OUT_OF_LINE __attribute__((noinline))
#endif
#define FOLD_MEMOS 16

typedef struct ks_db {
    uint64_t keys[KS_TYPES], bytes[KS_TYPES];
    uint64_t len_sum[KS_TYPES]; /* the lengths of the keys, summed */
    uint64_t vkeys, vbytes;
    uint64_t len_hist[KS_TYPES][KS_BINS];
    uint64_t bytes_hist[KS_TYPES][KS_BINS];
} ks_db;

/* Keys and bytes per expire minute: open addressing, linear probing, backward-shift delete. */
typedef struct ttl_slot {
    int64_t minute; /* TTL_EMPTY: free */
    uint64_t keys, bytes;
} ttl_slot;
#define TTL_EMPTY INT64_MIN

/* A tracked prefix. A name of up to PFX_INLINE bytes is kept in the slot, zero-padded, so the
 * lookup of a common prefix compares two words and follows no pointer. A slot is in use while
 * its prefix has keys (pfx_in_use): the last key leaving frees it. */
#define PFX_INLINE 16
typedef struct pfx {
    uint32_t hv; /* the name's hash, its low bits: the home slot */
    uint32_t len;
    union {
        uint64_t w[2]; /* len <= PFX_INLINE */
        char *heap;    /* longer */
    } name;
    uint64_t keys, bytes, vkeys;
} pfx;

static inline int pfx_in_use(const pfx *p) {
    return p->keys != 0;
}

static inline const char *pfx_name(const pfx *p) {
    return p->len <= PFX_INLINE ? (const char *)p->name.w : p->name.heap;
}

/* Folds remembered (prefix_account_key): memo i holds a key of klen[i] bytes (1..FOLD_SPAN), its
 * digits dig[i], its bytes with the digits made '#' img[i], what its fold depended on (a
 * fold_form: care[i], stars[i], hex[i]) and its prefix's slot. A key of the same length that
 * agrees with it there folds alike, so it is accounted in that slot without a fold: the next
 * user:<n>:session, session:<another hex ID>. Kept by field, so that an index is a shift;
 * forgotten whenever slots move or empty (pfx_grow, pfx_delete_at). */
typedef struct fold_memos {
    uint8_t img[FOLD_MEMOS][FOLD_SPAN];
    uint64_t dig[FOLD_MEMOS], care[FOLD_MEMOS], stars[FOLD_MEMOS], hex[FOLD_MEMOS];
    uint32_t klen[FOLD_MEMOS]; /* 0: empty */
    uint32_t slot[FOLD_MEMOS];
} fold_memos;

typedef struct top_member {
    char *key;
    size_t klen;
    uint64_t hv;
    int db;
    uint64_t bytes;
} top_member;

/* Members are also counted in a filter by hash bits, so the common question "is this key a
 * member?" is answered without a walk for almost every key that is not. */
typedef struct top_set {
    top_member *m;
    size_t n, cap;
    uint16_t *filter; /* filter_mask + 1 counters */
    uint64_t filter_mask;
    uint64_t floor; /* every key outside the set has at most this many bytes */
    uint64_t minb;  /* at most the smallest member's bytes (n > 0) */
} top_set;

struct kstats {
    kstats_config cfg;
    uint8_t cls[256]; /* CLS_* bits of each byte, for folding prefixes in one pass */
    int nsep;
#ifdef KS_SIMD
    uint8_t sepv[KS_SEPARATORS_MAX][16]; /* each separator 16 times: a compare's operand */
#endif
    int ndbs;
    ks_db *dbs;

    ttl_slot *ttl;
    size_t ttl_cap, ttl_used;
    /* The keys and bytes of each TTL bucket (HOUR..LONGER) relative to ttl_now, the minute of
     * the last question (TTL_EMPTY: none yet), kept as keys come and go and moved along as the
     * minute advances, so a question each cron tick costs no scan of the minutes. */
    int64_t ttl_now;
    uint64_t ttl_bkeys[KS_TTL_BUCKETS], ttl_bbytes[KS_TTL_BUCKETS];

    pfx *pfx;
    size_t pfx_cap, pfx_used;
    uint64_t pfx_seed[3]; /* of the hash of short prefixes (pfx_key_of) */
    fold_memos memo;
    uint64_t none_keys, none_bytes;
    uint64_t other_keys[OTHER_SLICES], other_bytes[OTHER_SLICES];
    uint64_t refusals;

    top_set top[KS_TYPES];
};

/* ---- configuration ---------------------------------------------------------------------- */

int kstats_config_check(const kstats_config *cfg, char *err, size_t errlen) {
    size_t n = strnlen(cfg->separators, sizeof(cfg->separators));
    if (n == 0 || n > KS_SEPARATORS_MAX) {
        snprintf(err, errlen, "separators: 1 to %d characters", KS_SEPARATORS_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = cfg->separators[i];
        if (c == '#' || c == '*' || (c >= '0' && c <= '9')) {
            snprintf(err, errlen, "separators may not hold '#', '*' or digits (folded IDs)");
            return -1;
        }
    }
    if (cfg->depth < 0 || cfg->depth > KS_PREFIX_DEPTH_MAX) {
        snprintf(err, errlen, "depth: 0 to %d", KS_PREFIX_DEPTH_MAX);
        return -1;
    }
    if (cfg->prefix_max > 1000000) {
        snprintf(err, errlen, "prefix cap: 0 to 1000000");
        return -1;
    }
    if (cfg->top_keys < 1 || cfg->top_keys > 10000) {
        snprintf(err, errlen, "top keys: 1 to 10000");
        return -1;
    }
    return 0;
}

kstats *kstats_new(int ndbs, const kstats_config *cfg, char *err, size_t errlen) {
    if (kstats_config_check(cfg, err, errlen) < 0) return NULL;
    kstats *ks = alloc_calloc(SUB, sizeof(*ks));
    ks->cfg = *cfg;
    for (int c = 0; c < 256; c++) {
        if (c >= '0' && c <= '9') ks->cls[c] = CLS_DIGIT | CLS_HEX;
        if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) ks->cls[c] = CLS_HEX | CLS_HEX_LETTER;
        if (c == '-') ks->cls[c] = CLS_HEX;
    }
    for (const char *s = cfg->separators; *s; s++)
        ks->cls[(unsigned char)*s] = CLS_SEP;
    for (const char *s = cfg->separators; *s; s++) {
#ifdef KS_SIMD
        memset(ks->sepv[ks->nsep], *s, 16);
#endif
        ks->nsep++;
    }
    /* From the key space's keyed hash, so as secret as its seed. */
    for (int i = 0; i < 3; i++) {
        static const char *const what[3] = {"kstats prefix 0", "kstats prefix 1",
                                            "kstats prefix 2"};
        ks->pfx_seed[i] = db_hash_bytes(what[i], strlen(what[i]));
    }
    ks->ndbs = ndbs;
    ks->dbs = alloc_calloc(SUB, (size_t)ndbs * sizeof(ks_db));
    ks->ttl_now = TTL_EMPTY;
    size_t fsize = 256;
    while (fsize < 32 * 4 * cfg->top_keys && fsize < 65536)
        fsize *= 2;
    for (int t = 0; t < KS_TYPES; t++) {
        ks->top[t].cap = 4 * cfg->top_keys;
        ks->top[t].filter = alloc_calloc(SUB, fsize * sizeof(uint16_t));
        ks->top[t].filter_mask = fsize - 1;
    }
    return ks;
}

/* Two counters per member, from two ranges of its hash bits (a counting Bloom filter): a key
 * that is not a member finds both non-zero only rarely (some 1 in 250 with the set full), so a
 * delete or a change of a key as big as the members seldom walks the set. */
static inline uint16_t *filter_slot(const top_set *s, uint64_t hv) {
    return &s->filter[(hv >> 40) & s->filter_mask];
}

static inline uint16_t *filter_slot2(const top_set *s, uint64_t hv) {
    return &s->filter[(hv >> 20) & s->filter_mask];
}

static inline int filter_may_hold(const top_set *s, uint64_t hv) {
    return *filter_slot(s, hv) != 0 && *filter_slot2(s, hv) != 0;
}

static inline void filter_count(top_set *s, uint64_t hv, int delta) {
    *filter_slot(s, hv) = (uint16_t)(*filter_slot(s, hv) + delta);
    *filter_slot2(s, hv) = (uint16_t)(*filter_slot2(s, hv) + delta);
}

static void top_clear(top_set *s) {
    for (size_t i = 0; i < s->n; i++)
        alloc_free(SUB, s->m[i].key);
    memset(s->filter, 0, (s->filter_mask + 1) * sizeof(uint16_t));
    alloc_free(SUB, s->m);
    s->m = NULL;
    s->n = 0;
    s->floor = 0;
    s->minb = 0;
}

void kstats_free(kstats *ks) {
    if (!ks) return;
    for (size_t i = 0; i < ks->pfx_cap; i++)
        if (pfx_in_use(&ks->pfx[i]) && ks->pfx[i].len > PFX_INLINE)
            alloc_free(SUB, ks->pfx[i].name.heap);
    alloc_free(SUB, ks->pfx);
    alloc_free(SUB, ks->ttl);
    for (int t = 0; t < KS_TYPES; t++) {
        top_clear(&ks->top[t]);
        alloc_free(SUB, ks->top[t].filter);
    }
    alloc_free(SUB, ks->dbs);
    alloc_free(SUB, ks);
}

int kstats_dbs(const kstats *ks) {
    return ks->ndbs;
}

/* ---- histograms ------------------------------------------------------------------------- */

static inline int bin_of(uint64_t v) {
    return v == 0 ? 0 : 64 - __builtin_clzll(v);
}

uint64_t kstats_bin_floor(int bin) {
    return bin <= 0 ? 0 : UINT64_C(1) << (bin - 1);
}

/* ---- TTL minutes ------------------------------------------------------------------------ */

static inline size_t ttl_home(const kstats *ks, int64_t minute) {
    return (size_t)(((uint64_t)minute * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (ks->ttl_cap - 1);
}

static void ttl_grow(kstats *ks) {
    ttl_slot *old = ks->ttl;
    size_t old_cap = ks->ttl_cap;
    ks->ttl_cap = old_cap ? old_cap * 2 : 64;
    ks->ttl = alloc_malloc(SUB, ks->ttl_cap * sizeof(ttl_slot));
    for (size_t i = 0; i < ks->ttl_cap; i++)
        ks->ttl[i].minute = TTL_EMPTY;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].minute == TTL_EMPTY) continue;
        size_t j = ttl_home(ks, old[i].minute);
        while (ks->ttl[j].minute != TTL_EMPTY)
            j = (j + 1) & (ks->ttl_cap - 1);
        ks->ttl[j] = old[i];
    }
    alloc_free(SUB, old);
}

static void ttl_delete_at(kstats *ks, size_t i) {
    size_t mask = ks->ttl_cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (ks->ttl[j].minute == TTL_EMPTY) break;
        size_t home = ttl_home(ks, ks->ttl[j].minute);
        /* Move j back to the hole unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            ks->ttl[i] = ks->ttl[j];
            i = j;
        }
    }
    ks->ttl[i].minute = TTL_EMPTY;
    ks->ttl_used--;
}

/* The bucket of an expire minute, seen from now_minute (kstats.h: a key past its expire counts
 * as < 1 h). */
static int ttl_bucket_of(int64_t minute, int64_t now_minute) {
    int64_t left = minute - now_minute;
    return left < 60            ? KS_TTL_HOUR
           : left < 24 * 60     ? KS_TTL_DAY
           : left < 7 * 24 * 60 ? KS_TTL_WEEK
                                : KS_TTL_LONGER;
}

static void ttl_account(kstats *ks, int64_t when, int64_t dkeys, int64_t dbytes) {
    int64_t minute = when / MS_PER_MINUTE;
    if (ks->ttl_now != TTL_EMPTY) {
        int b = ttl_bucket_of(minute, ks->ttl_now);
        ks->ttl_bkeys[b] += (uint64_t)dkeys;
        ks->ttl_bbytes[b] += (uint64_t)dbytes;
    }
    if (ks->ttl_used * 4 >= ks->ttl_cap * 3 || ks->ttl_cap == 0) ttl_grow(ks);
    size_t mask = ks->ttl_cap - 1, i = ttl_home(ks, minute);
    while (ks->ttl[i].minute != TTL_EMPTY && ks->ttl[i].minute != minute)
        i = (i + 1) & mask;
    ttl_slot *s = &ks->ttl[i];
    if (s->minute == TTL_EMPTY) {
        s->minute = minute;
        s->keys = s->bytes = 0;
        ks->ttl_used++;
    }
    s->keys += (uint64_t)dkeys;
    s->bytes += (uint64_t)dbytes;
    if (s->keys == 0) ttl_delete_at(ks, i);
}

const char *kstats_ttl_bucket_name(int bucket) {
    static const char *const names[KS_TTL_BUCKETS] = {"none", "lt_1h", "lt_1d", "lt_1w", "longer"};
    return bucket >= 0 && bucket < KS_TTL_BUCKETS ? names[bucket] : "";
}

static const ttl_slot *ttl_find(const kstats *ks, int64_t minute) {
    if (ks->ttl_cap == 0) return NULL;
    size_t mask = ks->ttl_cap - 1, i = ttl_home(ks, minute);
    while (ks->ttl[i].minute != TTL_EMPTY && ks->ttl[i].minute != minute)
        i = (i + 1) & mask;
    return ks->ttl[i].minute == minute ? &ks->ttl[i] : NULL;
}

/* Brings the bucket totals to now_minute: the minutes that crossed a bucket's edge since the
 * last question move down one bucket (three lookups per minute gone by), or, when that would
 * cost more than a pass over the table (the first question, a long gap, a clock set back),
 * the totals are counted again. */
static void ttl_advance(kstats *ks, int64_t now_minute) {
    int64_t from = ks->ttl_now;
    if (from == now_minute) return;
    if (from == TTL_EMPTY || now_minute < from || (uint64_t)(now_minute - from) > ks->ttl_cap / 3) {
        memset(ks->ttl_bkeys, 0, sizeof(ks->ttl_bkeys));
        memset(ks->ttl_bbytes, 0, sizeof(ks->ttl_bbytes));
        for (size_t i = 0; i < ks->ttl_cap; i++) {
            const ttl_slot *s = &ks->ttl[i];
            if (s->minute == TTL_EMPTY) continue;
            int b = ttl_bucket_of(s->minute, now_minute);
            ks->ttl_bkeys[b] += s->keys;
            ks->ttl_bbytes[b] += s->bytes;
        }
    } else {
        /* A minute x is in the bucket below `edge` once x < now + edge. */
        static const struct {
            int64_t edge;
            int into;
        } moves[] = {{60, KS_TTL_HOUR}, {24 * 60, KS_TTL_DAY}, {7 * 24 * 60, KS_TTL_WEEK}};
        for (size_t m = 0; m < sizeof(moves) / sizeof(moves[0]); m++) {
            for (int64_t x = from + moves[m].edge; x < now_minute + moves[m].edge; x++) {
                const ttl_slot *s = ttl_find(ks, x);
                if (!s) continue;
                ks->ttl_bkeys[moves[m].into + 1] -= s->keys;
                ks->ttl_bbytes[moves[m].into + 1] -= s->bytes;
                ks->ttl_bkeys[moves[m].into] += s->keys;
                ks->ttl_bbytes[moves[m].into] += s->bytes;
            }
        }
    }
    ks->ttl_now = now_minute;
}

void kstats_ttl_buckets(kstats *ks, int64_t now_ms, ks_totals out[KS_TTL_BUCKETS]) {
    memset(out, 0, KS_TTL_BUCKETS * sizeof(ks_totals));
    uint64_t vkeys = 0, vbytes = 0, keys = 0, bytes = 0;
    for (int d = 0; d < ks->ndbs; d++) {
        ks_totals t = kstats_db_totals(ks, d);
        keys += t.keys;
        bytes += t.bytes;
        vkeys += ks->dbs[d].vkeys;
        vbytes += ks->dbs[d].vbytes;
    }
    out[KS_TTL_NONE].keys = keys - vkeys;
    out[KS_TTL_NONE].bytes = bytes - vbytes;
    ttl_advance(ks, now_ms / MS_PER_MINUTE);
    for (int b = KS_TTL_HOUR; b < KS_TTL_BUCKETS; b++) {
        out[b].keys = ks->ttl_bkeys[b];
        out[b].bytes = ks->ttl_bbytes[b];
    }
}

/* ---- prefixes --------------------------------------------------------------------------- */

/* The reference fold, one pass over the key byte by byte: each segment is copied with its digit
 * runs folded to '#'; a segment then found to be a hex ID (8+ hex characters or '-' with both a
 * digit and a letter a-f: looked at again only when it has a digit) or too long (over 32
 * bytes) is replaced by '*'. A number stays '#' however long, so "user:123" and
 * "user:123456789" fold alike. kstats_prefix_of (below) computes the same from bit masks; this
 * one is what it is tested against, and folds the long keys whose cut it cannot see. */
int kstats_prefix_of_ref(const kstats *ks, const char *key, size_t klen, int depth, char *out,
                         size_t *len) {
    const unsigned char *k = (const unsigned char *)key;
    const uint8_t *cls = ks->cls;
    size_t o = 0, i = 0;
    int seg = 0, separated = 0;
    *len = 0;
    for (;;) {
        size_t seg_out = o, start = i;
        size_t lim = klen - start > SEGMENT_MAX ? start + SEGMENT_MAX : klen;
        int digits = 0, prev_digit = 0;
        while (i < lim) {
            unsigned c = cls[k[i]];
            if (c == 0) {
                out[o++] = (char)k[i++];
                prev_digit = 0;
            } else if (c & CLS_SEP) {
                break;
            } else if (c & CLS_DIGIT) {
                if (!prev_digit) out[o++] = '#';
                prev_digit = digits = 1;
                i++;
            } else {
                out[o++] = (char)k[i++];
                prev_digit = 0;
            }
        }
        if (i == lim && i < klen && !(cls[k[i]] & CLS_SEP)) { /* longer than SEGMENT_MAX */
            while (i < klen && !(cls[k[i]] & CLS_SEP))
                i++;
            o = seg_out;
            out[o++] = '*';
        } else if (digits && i - start >= 8) {
            size_t j = start;
            unsigned letters = 0;
            while (j < i && (cls[k[j]] & CLS_HEX))
                letters |= cls[k[j++]];
            if (j == i && (letters & CLS_HEX_LETTER)) {
                o = seg_out;
                out[o++] = '*';
            }
        }
        if (i == klen) {
            if (!separated) return 0; /* no separator: no prefix */
            break;
        }
        separated = 1;
        if (seg == depth) break;
        out[o++] = (char)k[i++];
        seg++;
    }
    *len = o;
    return 1;
}

/* The fast fold works on bit masks of the key's first FOLD_SPAN bytes (bit i: byte i): which
 * are separators and which digits, found 16 bytes at a time. The key is copied into out with
 * every digit made '#'; the cut (the depth+1-th separator), the segments that become '*' and
 * the digits after the first of each run, which go, all come from the masks; what stays is
 * then moved down run by run. A key whose cut lies beyond FOLD_SPAN takes the reference. */
/* out: the key's first FOLD_SPAN bytes, then 16 zeros that the hex ID test may read. */
_Static_assert(KS_PREFIX_LEN_MAX >= FOLD_SPAN + 16, "the fast fold's scratch fits in out");

static inline uint64_t low_bits(size_t n) { /* the bits below n, n <= 64 */
    return n >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << n) - 1;
}

static inline size_t lowest_bit(uint64_t m) { /* m != 0 */
    return (unsigned)__builtin_ctzll(m);
}

/* m without its lowest n set bits (n is a depth: small). */
static inline uint64_t clear_lowest_bits(uint64_t m, int n) {
    for (; n > 0 && m; n--)
        m &= m - 1;
    return m;
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t load32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

#ifdef KS_SIMD
/* A chunk with its digits made '#', and the bits of its digits. */
static inline __m128i digits_folded(__m128i v, uint64_t *dig) {
    /* '0'..'9' moved to -128..-119: one signed compare */
    __m128i d =
        _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x80 - '0')), _mm_set1_epi8(-128 + 10));
    *dig = (uint32_t)_mm_movemask_epi8(d);
    return _mm_or_si128(_mm_andnot_si128(d, v), _mm_and_si128(d, _mm_set1_epi8('#')));
}

/* A key of 1..15 bytes as one chunk, zero-padded: two overlapping loads inside the key. */
static inline __m128i short_chunk(const unsigned char *k, size_t n) {
    uint64_t lo, hi = 0;
    if (n > 8) {
        lo = load64(k);
        hi = load64(k + n - 8) >> (8 * (16 - n));
    } else if (n >= 4) {
        lo = load32(k) | load32(k + n - 4) << (8 * (n - 4));
    } else {
        lo = k[0] | (uint64_t)k[n / 2] << (8 * (n / 2)) | (uint64_t)k[n - 1] << (8 * (n - 1));
    }
    return _mm_unpacklo_epi64(_mm_cvtsi64_si128((long long)lo), _mm_cvtsi64_si128((long long)hi));
}

/* One chunk: its separator and digit bits, and the chunk with its digits made '#'. sep0: the
 * first separator 16 times; multi (a constant where inlined): look for the others too. */
static inline __m128i fold_chunk(const kstats *ks, __m128i sep0, int multi, __m128i v,
                                 uint64_t *sep, uint64_t *dig) {
    __m128i s = _mm_cmpeq_epi8(v, sep0);
    if (multi)
        for (int i = 1; i < ks->nsep; i++)
            s = _mm_or_si128(s, _mm_cmpeq_epi8(v, _mm_loadu_si128((const __m128i *)ks->sepv[i])));
    *sep = (uint32_t)_mm_movemask_epi8(s);
    return digits_folded(v, dig);
}

/* The first n (1..FOLD_SPAN) bytes of the key into out, digits made '#' (and, under 16, zeros up
 * to 16); their separator and digit masks. Every load lies inside the key: a key of 16 bytes or
 * more is read in chunks, the last one ending with the key (overlapping the one before: the same
 * bytes, the same bits); a shorter one in two overlapping words. */
static inline void fold_load(const kstats *ks, int multi, const unsigned char *k, size_t n,
                             char *out, uint64_t *sepm, uint64_t *digm) {
    __m128i sep0 = _mm_loadu_si128((const __m128i *)ks->sepv[0]), f;
    uint64_t sep = 0, dig = 0, s, d;
    if (n >= 16) {
        size_t last = n - 16;
        for (size_t off = 0; off < last; off += 16) {
            f = fold_chunk(ks, sep0, multi, _mm_loadu_si128((const __m128i *)(k + off)), &s, &d);
            _mm_storeu_si128((__m128i *)(out + off), f);
            sep |= s << off;
            dig |= d << off;
        }
        f = fold_chunk(ks, sep0, multi, _mm_loadu_si128((const __m128i *)(k + last)), &s, &d);
        _mm_storeu_si128((__m128i *)(out + last), f);
        sep |= s << last;
        dig |= d << last;
    } else {
        f = fold_chunk(ks, sep0, multi, short_chunk(k, n), &sep, &dig);
        _mm_storeu_si128((__m128i *)out, f);
    }
    *sepm = sep;
    *digm = dig;
}

/* Bits of the hex letters (either case) and of the hex characters other than digits (letters,
 * '-') among the 16 bytes of v. */
static inline void hex_bits(__m128i v, uint64_t *letters, uint64_t *hex) {
    __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i l = _mm_cmplt_epi8(_mm_add_epi8(lower, _mm_set1_epi8((char)(0x80 - 'a'))),
                               _mm_set1_epi8(-128 + 6));
    __m128i x = _mm_or_si128(l, _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    *letters = (uint32_t)_mm_movemask_epi8(l);
    *hex = (uint32_t)_mm_movemask_epi8(x);
}

static inline void hex_chunk(const char *p, uint64_t *letters, uint64_t *hex) {
    hex_bits(_mm_loadu_si128((const __m128i *)p), letters, hex);
}

/* Moves n bytes from src down to dst < src, as memmove, and touches no byte outside the two:
 * the run after this one may lie right behind it. Loads come before the stores they overlap. */
static inline void move_down(char *dst, const char *src, size_t n) {
    if (n >= 16) {
        __m128i last = _mm_loadu_si128((const __m128i *)(src + n - 16));
        for (size_t j = 0; j + 16 < n; j += 16)
            _mm_storeu_si128((__m128i *)(dst + j), _mm_loadu_si128((const __m128i *)(src + j)));
        _mm_storeu_si128((__m128i *)(dst + n - 16), last);
    } else if (n >= 8) {
        uint64_t a = load64((const unsigned char *)src);
        uint64_t b = load64((const unsigned char *)src + n - 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else {
        char a = src[0], b = src[n / 2], c = src[n - 1];
        dst[0] = a;
        dst[n / 2] = b;
        dst[n - 1] = c;
    }
}
#else
static inline void fold_load(const kstats *ks, int multi, const unsigned char *k, size_t n,
                             char *out, uint64_t *sepm, uint64_t *digm) {
    (void)multi;
    uint64_t sep = 0, dig = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = ks->cls[k[i]];
        sep |= (uint64_t)(c & CLS_SEP) << i;
        dig |= (uint64_t)((c & CLS_DIGIT) != 0) << i;
        out[i] = (c & CLS_DIGIT) ? '#' : (char)k[i];
    }
    if (n < 16) memset(out + n, 0, 16 - n);
    *sepm = sep;
    *digm = dig;
}

static inline void hex_chunk(const char *p, uint64_t *letters, uint64_t *hex) {
    uint64_t l = 0, x = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char c = (unsigned char)p[i];
        int letter = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        l |= (uint64_t)letter << i;
        x |= (uint64_t)(letter || c == '-') << i;
    }
    *letters = l;
    *hex = x;
}

static inline void move_down(char *dst, const char *src, size_t n) {
    memmove(dst, src, n);
}
#endif

/* Whether the n bytes (8..SEGMENT_MAX) of a segment at seg (in out: digits are '#' there, dig
 * has their bits) are a hex ID: hex characters only, a letter among them (the caller saw a
 * digit). Reads 16 bytes, or 32 for a segment over 16 bytes: inside out's zeros. */
static int fold_hex_id(const char *seg, size_t n, uint64_t dig) {
    uint64_t letters, hex, l2 = 0, x2 = 0;
    hex_chunk(seg, &letters, &hex);
    if (n > 16) hex_chunk(seg + 16, &l2, &x2);
    uint64_t all = low_bits(n);
    letters = (letters | l2 << 16) & all;
    hex = (hex | x2 << 16 | dig) & all;
    return letters != 0 && hex == all;
}

/* The segments before the cut that fold to '*' (over SEGMENT_MAX bytes, or a hex ID): '*' put
 * at the start of each; returns the bits of their bytes, and in *hex those of the hex IDs.
 * seps: the separators before the cut. */
static uint64_t fold_stars(char *out, uint64_t seps, uint64_t dig, size_t cut, uint64_t *hex) {
    uint64_t stars = 0;
    size_t start = 0;
    *hex = 0;
    for (;;) {
        size_t end = seps ? lowest_bit(seps) : cut, n = end - start;
        if (n >= 8) {
            uint64_t sdig = (dig >> start) & low_bits(n), seg = low_bits(end) & ~low_bits(start);
            if (n > SEGMENT_MAX) {
                out[start] = '*';
                stars |= seg;
            } else if (sdig && fold_hex_id(out + start, n, sdig)) {
                out[start] = '*';
                stars |= seg;
                *hex |= seg;
            }
        }
        if (!seps) return stars;
        seps &= seps - 1;
        start = end + 1;
    }
}

/* Moves what stays (keep) down over what goes (drop, not 0), run by run; returns the length
 * left (of cut bytes). The runs to move are those after the first byte that goes. */
static inline size_t fold_compact(char *out, uint64_t keep, uint64_t drop, size_t cut) {
    uint64_t first = drop & -drop;
    if (((drop + first) & drop) == 0) { /* one run goes (one number): one move */
        size_t from = lowest_bit(drop), to = 64 - (unsigned)__builtin_clzll(drop);
        if (to < cut) move_down(out + from, out + to, cut - to);
        return from + (cut - to);
    }
    uint64_t starts = keep & (drop << 1);         /* a byte kept after one dropped */
    uint64_t ends = keep & ~(keep >> 1) & -first; /* the last kept byte of a run */
    size_t o = lowest_bit(drop);
    while (starts) {
        size_t from = lowest_bit(starts), n = lowest_bit(ends) + 1 - from;
        move_down(out + o, out + from, n);
        o += n;
        starts &= starts - 1;
        ends &= ends - 1;
    }
    return o;
}

/* What a fold depended on, the key's length apart (prefix_account_key remembers it): its bytes
 * and digits in care (those before the cut and the cut's separator, but for the segments that
 * became '*'), that no separator lies in stars (those segments), and that the segments in hex
 * (those of them that were hex IDs) are hex IDs. A key of the same length that agrees with it
 * there has the same segments before the cut, each folding alike. */
typedef struct fold_form {
    uint64_t care, stars, hex;
} fold_form;

/* The rest of a fold with a segment of 8 bytes or more before the cut. Out of the common path:
 * few keys have one. */
__attribute__((noinline)) static int fold_long_segments(char *out, size_t n, uint64_t seps,
                                                        uint64_t dig, uint64_t drop, size_t cut,
                                                        size_t *len, fold_form *form) {
    memset(out + n, 0, 16); /* what fold_hex_id may read past the key's bytes */
    uint64_t hex, stars = fold_stars(out, seps, dig, cut, &hex);
    drop |= stars & (stars << 1); /* of each '*' segment, all but the first byte */
    *len = drop ? fold_compact(out, low_bits(cut) & ~drop, drop, cut) : cut;
    form->care &= ~stars;
    form->stars = stars;
    form->hex = hex;
    return 1;
}

/* The fold of the key's first n (<= FOLD_SPAN) bytes, whole: all of it. Returns 1 (the prefix
 * in out and *len), 0 (no separator: no prefix) or, when the key goes on past them and its cut
 * is not among them, -1. Calls nothing on the common path but in
 * tail position, so that it needs no registers saved. */
static inline int fold_finish(uint64_t sep, uint64_t dig, size_t n, int whole, int depth, char *out,
                              size_t *len, fold_form *form);

__attribute__((always_inline)) static inline int fold_fast(const kstats *ks, int multi,
                                                           const unsigned char *k, size_t n,
                                                           int whole, int depth, char *out,
                                                           size_t *len) {
    if (n == 0) {
        *len = 0;
        return 0;
    }
    uint64_t sep, dig;
    fold_form form;
    fold_load(ks, multi, k, n, out, &sep, &dig);
    return fold_finish(sep, dig, n, whole, depth, out, len, &form);
}

/* The fold of n (1..FOLD_SPAN) bytes from their masks, fold_load done: as fold_fast, and what
 * the fold depended on into *form. */
static inline int fold_finish(uint64_t sep, uint64_t dig, size_t n, int whole, int depth, char *out,
                              size_t *len, fold_form *form) {
    uint64_t s = clear_lowest_bits(sep, depth), region;
    size_t cut;
    if (s) { /* the depth+1-th separator */
        cut = lowest_bit(s);
        region = (s - 1) & ~s;
    } else {
        if (!whole) return -1;
        if (!sep) { /* no separator: no prefix */
            *len = 0;
            return 0;
        }
        cut = n;
        region = ~UINT64_C(0) >> (64 - n); /* n >= 1 */
    }
    form->care = s ? s ^ (s - 1) : region;
    form->stars = form->hex = 0;
    uint64_t drop = dig & (dig << 1) & region; /* a digit after a digit */
    /* A segment of 8 bytes or more may fold to '*': 8 bytes in a row that are no separator. */
    uint64_t body = ~sep & region, run8 = body & (body >> 1);
    run8 &= run8 >> 2;
    run8 &= run8 >> 4;
    if (run8) return fold_long_segments(out, n, sep & region, dig, drop, cut, len, form);
    *len = drop ? fold_compact(out, region & ~drop, drop, cut) : cut;
    return 1;
}

/* More than one separator configured. */
__attribute__((noinline)) static int fold_multi(const kstats *ks, const char *key, size_t klen,
                                                int depth, char *out, size_t *len) {
    return fold_fast(ks, 1, (const unsigned char *)key, klen, 1, depth, out, len);
}

/* A key longer than FOLD_SPAN: its first bytes when its cut lies among them, else the
 * reference. */
__attribute__((noinline)) static int fold_long_key(const kstats *ks, const char *key, size_t klen,
                                                   int depth, char *out, size_t *len) {
    int r = fold_fast(ks, ks->nsep > 1, (const unsigned char *)key, FOLD_SPAN, 0, depth, out, len);
    return r >= 0 ? r : kstats_prefix_of_ref(ks, key, klen, depth, out, len);
}

/* kstats_prefix_of, inlined where a write accounts its key. */
__attribute__((always_inline)) static inline int
fold_prefix(const kstats *ks, const char *key, size_t klen, int depth, char *out, size_t *len) {
    if (klen > FOLD_SPAN) return fold_long_key(ks, key, klen, depth, out, len);
    if (ks->nsep > 1) return fold_multi(ks, key, klen, depth, out, len);
    return fold_fast(ks, 0, (const unsigned char *)key, klen, 1, depth, out, len);
}

int kstats_prefix_of(const kstats *ks, const char *key, size_t klen, int depth, char *out,
                     size_t *len) {
    return fold_prefix(ks, key, klen, depth, out, len);
}

int kstats_prefix_depth(const kstats *ks) {
    return ks->cfg.depth;
}

int kstats_prefixes_enabled(const kstats *ks) {
    return ks->cfg.prefix_max > 0;
}

/* A name to look up: its hash and, for a short one, its words. */
typedef struct pfx_key {
    const char *name;
    size_t len;
    uint64_t w[2]; /* len <= PFX_INLINE: the name, zero-padded, as pfx keeps it */
    uint64_t hv;
} pfx_key;

/* 64x64->128 multiply folded back to 64 bits: every output bit depends on every input bit. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The bytes of a name of each length in its two words. (The shift is taken mod 8 bytes so that
 * the branch not taken has a valid count too.) */
#define M(n) ((n) >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * ((n)&7))) - 1)
#define W(n)                                                                                       \
    { M(n), (n) > 8 ? M((n)-8) : 0 }
static const uint64_t name_mask[PFX_INLINE + 1][2] = {W(0),  W(1),  W(2),  W(3),  W(4),  W(5),
                                                      W(6),  W(7),  W(8),  W(9),  W(10), W(11),
                                                      W(12), W(13), W(14), W(15), W(16)};
#undef W
#undef M
#endif

/* name: when len <= PFX_INLINE, 16 readable bytes (kstats_prefix_of's out, a slot's words),
 * whatever lies past len. A short name hashes its two words with this table's seeds (two
 * multiplies, as the key space's hash of a short key); a longer one with db_hash_bytes. */
static inline pfx_key pfx_key_of(const kstats *ks, const char *name, size_t len) {
    pfx_key q = {name, len, {0, 0}, 0};
    if (len > PFX_INLINE) {
        q.hv = db_hash_bytes(name, len);
        return q;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    q.w[0] = load64((const unsigned char *)name) & name_mask[len][0];
    q.w[1] = load64((const unsigned char *)name + 8) & name_mask[len][1];
#else
    memcpy(q.w, name, len);
#endif
    uint64_t x = fold_mul(q.w[0] ^ ks->pfx_seed[0], q.w[1] ^ ks->pfx_seed[1]);
    q.hv = fold_mul(x ^ UINT64_C(0x9e3779b97f4a7c15), (uint64_t)len ^ ks->pfx_seed[2]);
    return q;
}

static inline size_t pfx_home(const kstats *ks, uint64_t hv) {
    return (size_t)hv & (ks->pfx_cap - 1);
}

static void pfx_grow(kstats *ks) {
    memset(ks->memo.klen, 0, sizeof(ks->memo.klen));
    pfx *old = ks->pfx;
    size_t old_cap = ks->pfx_cap;
    ks->pfx_cap = old_cap ? old_cap * 2 : 64;
    ks->pfx = alloc_calloc(SUB, ks->pfx_cap * sizeof(pfx));
    for (size_t i = 0; i < old_cap; i++) {
        if (!pfx_in_use(&old[i])) continue;
        size_t j = pfx_home(ks, old[i].hv);
        while (pfx_in_use(&ks->pfx[j]))
            j = (j + 1) & (ks->pfx_cap - 1);
        ks->pfx[j] = old[i];
    }
    alloc_free(SUB, old);
}

static inline int pfx_is(const pfx *p, const pfx_key *q) {
    if (p->hv != (uint32_t)q->hv || p->len != q->len) return 0;
    if (q->len <= PFX_INLINE) return p->name.w[0] == q->w[0] && p->name.w[1] == q->w[1];
    return memcmp(p->name.heap, q->name, q->len) == 0;
}

/* Index of the prefix's slot, or of the free slot where it would go. */
static inline size_t pfx_slot(const kstats *ks, const pfx_key *q) {
    size_t mask = ks->pfx_cap - 1, i = pfx_home(ks, q->hv);
    while (pfx_in_use(&ks->pfx[i]) && !pfx_is(&ks->pfx[i], q))
        i = (i + 1) & mask;
    return i;
}

static void pfx_delete_at(kstats *ks, size_t i) {
    memset(ks->memo.klen, 0, sizeof(ks->memo.klen));
    if (ks->pfx[i].len > PFX_INLINE) alloc_free(SUB, ks->pfx[i].name.heap);
    size_t mask = ks->pfx_cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!pfx_in_use(&ks->pfx[j])) break;
        size_t home = pfx_home(ks, ks->pfx[j].hv);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            ks->pfx[i] = ks->pfx[j];
            i = j;
        }
    }
    memset(&ks->pfx[i], 0, sizeof(pfx));
    ks->pfx_used--;
}

/* A key without prefix changes by (dkeys, dbytes). */
static void pfx_account_none(kstats *ks, int64_t dkeys, int64_t dbytes) {
    ks->none_keys += (uint64_t)dkeys;
    ks->none_bytes += (uint64_t)dbytes;
}

/* One key of prefix `name` changes by (dkeys, dbytes, dvkeys). A key entering (dkeys 1) may
 * create the prefix, if it may (kstats.h: else its keys are, or go, in other); the last key
 * leaving deletes it. Returns the prefix's slot, or -1 when it is not (or no longer) tracked. */
__attribute__((noinline)) static long pfx_account_any(kstats *ks, const char *name, size_t len,
                                                      int64_t dkeys, int64_t dbytes,
                                                      int64_t dvkeys) {
    pfx_key q = pfx_key_of(ks, name, len);
    if (ks->pfx_cap == 0) pfx_grow(ks);
    size_t i = pfx_slot(ks, &q);
    pfx *p = &ks->pfx[i];
    if (!pfx_in_use(p)) {
        size_t slice = (size_t)(q.hv >> 58); /* top bits: independent of the table index */
        if (dkeys <= 0 || ks->other_keys[slice] > 0 || ks->pfx_used >= ks->cfg.prefix_max) {
            if (dkeys > 0) ks->refusals++;
            ks->other_keys[slice] += (uint64_t)dkeys;
            ks->other_bytes[slice] += (uint64_t)dbytes;
            return -1;
        }
        if ((ks->pfx_used + 1) * 4 >= ks->pfx_cap * 3) {
            pfx_grow(ks);
            i = pfx_slot(ks, &q);
            p = &ks->pfx[i];
        }
        p->hv = (uint32_t)q.hv;
        p->len = (uint32_t)len;
        if (len <= PFX_INLINE) {
            p->name.w[0] = q.w[0];
            p->name.w[1] = q.w[1];
        } else {
            p->name.heap = alloc_malloc(SUB, len);
            memcpy(p->name.heap, name, len);
        }
        p->keys = p->bytes = p->vkeys = 0; /* keys: 1 at once, below */
        ks->pfx_used++;
    }
    p->keys += (uint64_t)dkeys;
    p->bytes += (uint64_t)dbytes;
    p->vkeys += (uint64_t)dvkeys;
    if (p->keys > 0) return (long)i;
    pfx_delete_at(ks, i);
    return -1;
}

/* pfx_account_any for a name of up to PFX_INLINE bytes (name: 16 readable bytes) on every
 * write: the common case, a tracked prefix found in its home slot, takes the words and the
 * hash, one slot's compare and the sums; anything else goes the whole way. */
static inline long pfx_account_short(kstats *ks, const char *name, size_t len, int64_t dkeys,
                                     int64_t dbytes, int64_t dvkeys) {
    if (ks->pfx_cap > 0) {
        pfx_key q = pfx_key_of(ks, name, len);
        size_t i = pfx_home(ks, q.hv);
        pfx *p = &ks->pfx[i];
        if (pfx_in_use(p) && p->hv == (uint32_t)q.hv && p->len == len && p->name.w[0] == q.w[0] &&
            p->name.w[1] == q.w[1] && (dkeys >= 0 || p->keys > 1)) { /* the last leaving: any */
            p->keys += (uint64_t)dkeys;
            p->bytes += (uint64_t)dbytes;
            p->vkeys += (uint64_t)dvkeys;
            return (long)i;
        }
    }
    return pfx_account_any(ks, name, len, dkeys, dbytes, dvkeys);
}

size_t kstats_prefix_count(const kstats *ks) {
    return ks->pfx_used;
}

uint64_t kstats_prefix_refusals(const kstats *ks) {
    return ks->refusals;
}

/* Length of a folded name cut after `depth` separators. */
static size_t cut_at_depth(const kstats *ks, const char *name, size_t len, int depth) {
    int seps = 0;
    for (size_t i = 0; i < len; i++) {
        if ((ks->cls[(unsigned char)name[i]] & CLS_SEP) && seps++ == depth) return i;
    }
    return len;
}

static int prefix_name_cmp(const void *a, const void *b) {
    const ks_prefix *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

ks_prefix *kstats_prefixes(const kstats *ks, int depth, size_t *n, ks_totals *none,
                           ks_totals *other) {
    none->keys = ks->none_keys;
    none->bytes = ks->none_bytes;
    other->keys = other->bytes = 0;
    for (int s = 0; s < OTHER_SLICES; s++) {
        other->keys += ks->other_keys[s];
        other->bytes += ks->other_bytes[s];
    }
    *n = 0;
    if (ks->pfx_used == 0) return NULL;
    ks_prefix *out = alloc_malloc(SUB, ks->pfx_used * sizeof(ks_prefix));
    size_t m = 0;
    for (size_t i = 0; i < ks->pfx_cap; i++) {
        const pfx *p = &ks->pfx[i];
        if (!pfx_in_use(p)) continue;
        out[m].len = cut_at_depth(ks, pfx_name(p), p->len, depth);
        out[m].name = pfx_name(p);
        out[m].keys = p->keys;
        out[m].bytes = p->bytes;
        out[m].volatile_keys = p->vkeys;
        m++;
    }
    if (depth < ks->cfg.depth) { /* merge the prefixes the cut made equal */
        qsort(out, m, sizeof(*out), prefix_name_cmp);
        size_t w = 0;
        for (size_t r = 0; r < m; r++) {
            if (w > 0 && prefix_name_cmp(&out[w - 1], &out[r]) == 0) {
                out[w - 1].keys += out[r].keys;
                out[w - 1].bytes += out[r].bytes;
                out[w - 1].volatile_keys += out[r].volatile_keys;
            } else {
                out[w++] = out[r];
            }
        }
        m = w;
    }
    *n = m;
    return out;
}

void kstats_prefixes_free(ks_prefix *p, size_t n) {
    (void)n;
    alloc_free(SUB, p);
}

/* MEMORY PREFIXES's order by bytes: more bytes first, then more keys, then by name. */
static int prefix_before(const ks_prefix *x, const ks_prefix *y) {
    if (x->bytes != y->bytes) return x->bytes > y->bytes;
    if (x->keys != y->keys) return x->keys > y->keys;
    return prefix_name_cmp(x, y) < 0;
}

/* Restores the heap below i: every node comes after its children in that order, so the root is
 * the last of the heap. */
static void top_sift_down(ks_prefix *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && prefix_before(&h[m], &h[l])) m = l;
        if (r < n && prefix_before(&h[m], &h[r])) m = r;
        if (m == i) return;
        ks_prefix t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

size_t kstats_prefixes_top(const kstats *ks, ks_prefix *out, size_t n) {
    if (n == 0) return 0;
    size_t m = 0;
    for (size_t i = 0; i < ks->pfx_cap; i++) {
        const pfx *p = &ks->pfx[i];
        if (!pfx_in_use(p)) continue;
        ks_prefix x = {pfx_name(p), p->len, p->keys, p->bytes, p->vkeys};
        if (m < n) { /* fill, then make a heap once full */
            out[m++] = x;
            if (m == n)
                for (size_t j = n / 2; j-- > 0;)
                    top_sift_down(out, n, j);
        } else if (prefix_before(&x, &out[0])) { /* better than the last kept */
            out[0] = x;
            top_sift_down(out, n, 0);
        }
    }
    if (m < n) /* never filled: not a heap yet */
        for (size_t j = m / 2; j-- > 0;)
            top_sift_down(out, m, j);
    for (size_t k = m; k > 1; k--) { /* heap sort: the last goes to the end */
        ks_prefix t = out[0];
        out[0] = out[k - 1];
        out[k - 1] = t;
        top_sift_down(out, k - 1, 0);
    }
    return m;
}

/* ---- largest keys ----------------------------------------------------------------------- */

static long top_find(const top_set *s, const ks_key *k, uint64_t hv) {
    if (!filter_may_hold(s, hv)) return -1;
    for (size_t i = 0; i < s->n; i++) {
        const top_member *m = &s->m[i];
        if (m->hv == hv && m->db == k->db && m->klen == k->klen &&
            memcmp(m->key, k->key, k->klen) == 0)
            return (long)i;
    }
    return -1;
}

static void top_remove_at(top_set *s, size_t i) {
    filter_count(s, s->m[i].hv, -1);
    alloc_free(SUB, s->m[i].key);
    s->m[i] = s->m[--s->n];
}

static void top_insert(top_set *s, const ks_key *k, uint64_t hv) {
    if (s->n == s->cap) {
        if (k->bytes <= s->minb) { /* minb <= every member: the newcomer stays out */
            if (k->bytes > s->floor) s->floor = k->bytes;
            return;
        }
        /* One pass: the smallest member and the next smallest, the minimum once it goes. */
        size_t mi = 0;
        uint64_t next = UINT64_MAX;
        for (size_t i = 1; i < s->n; i++) {
            if (s->m[i].bytes < s->m[mi].bytes) {
                next = s->m[mi].bytes;
                mi = i;
            } else if (s->m[i].bytes < next) {
                next = s->m[i].bytes;
            }
        }
        if (s->m[mi].bytes >= k->bytes) { /* the newcomer is the smallest: it stays out */
            s->minb = s->m[mi].bytes;
            if (k->bytes > s->floor) s->floor = k->bytes;
            return;
        }
        if (s->m[mi].bytes > s->floor) s->floor = s->m[mi].bytes;
        top_remove_at(s, mi);
        s->minb = next; /* UINT64_MAX with no member left: the newcomer's below */
    }
    if (!s->m) s->m = alloc_malloc(SUB, s->cap * sizeof(top_member));
    top_member *m = &s->m[s->n++];
    m->key = alloc_malloc(SUB, k->klen ? k->klen : 1);
    memcpy(m->key, k->key, k->klen);
    m->klen = k->klen;
    m->hv = hv;
    m->db = k->db;
    m->bytes = k->bytes;
    filter_count(s, hv, +1);
    if (s->n == 1 || k->bytes < s->minb) s->minb = k->bytes;
}

/* The key's hash as the db computed it, or computed now. */
static inline uint64_t key_hv(const ks_key *k) {
    return k->hv ? k->hv : db_hash_bytes(k->key, k->klen);
}

static void top_add(kstats *ks, const ks_key *k) {
    top_set *s = &ks->top[k->type];
    if (k->bytes > s->floor) top_insert(s, k, key_hv(k));
}

static void top_remove(kstats *ks, const ks_key *k) {
    top_set *s = &ks->top[k->type];
    if (s->n == 0 || k->bytes < s->minb) return;
    long i = top_find(s, k, key_hv(k));
    if (i >= 0) top_remove_at(s, (size_t)i);
}

static void top_change(kstats *ks, const ks_key *b, const ks_key *a) {
    top_set *s = &ks->top[a->type];
    int maybe_member = s->n > 0 && b->bytes >= s->minb;
    if (!maybe_member && a->bytes <= s->floor) return;
    uint64_t hv = key_hv(a);
    long i = maybe_member ? top_find(s, a, hv) : -1; /* b's name may be freed (a realloc) */
    if (i >= 0) {
        s->m[i].bytes = a->bytes;
        if (a->bytes < s->minb) s->minb = a->bytes;
    } else if (a->bytes > s->floor) {
        top_insert(s, a, hv);
    }
}

size_t kstats_top_keys(const kstats *ks) {
    return ks->cfg.top_keys;
}

static int top_cmp(const void *a, const void *b) {
    const ks_top *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->db != y->db) return x->db < y->db ? -1 : 1;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int kstats_top_exact(const kstats *ks, int type) {
    const top_set *s = &ks->top[type];
    if (s->floor == 0) return 1; /* no key was ever left out: the set is the whole type */
    size_t k = ks->cfg.top_keys, above = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].bytes >= s->floor) above++;
    return above >= k;
}

/* kstats_top for a large count: every candidate sorted. */
static int top_sorted(const kstats *ks, int lo, int hi, size_t total, ks_top *out, size_t count) {
    ks_top *all = alloc_malloc(SUB, total * sizeof(ks_top));
    size_t m = 0;
    for (int t = lo; t <= hi; t++) {
        for (size_t i = 0; i < ks->top[t].n; i++) {
            const top_member *x = &ks->top[t].m[i];
            all[m++] = (ks_top){x->key, x->klen, x->db, t, x->bytes};
        }
    }
    qsort(all, m, sizeof(*all), top_cmp);
    size_t n = m < count ? m : count;
    memcpy(out, all, n * sizeof(*out));
    alloc_free(SUB, all);
    return (int)n;
}

#define TOP_INSERT_MAX 64 /* kstats_top keeps up to this many by insertion, sorts beyond */

int kstats_top(kstats *ks, int type, ks_top *out, size_t count) {
    if (count > ks->cfg.top_keys) count = ks->cfg.top_keys;
    int lo = type < 0 ? 0 : type, hi = type < 0 ? KS_TYPES - 1 : type;
    size_t total = 0;
    for (int t = lo; t <= hi; t++) {
        if (!kstats_top_exact(ks, t)) return -1;
        total += ks->top[t].n;
    }
    if (total == 0 || count == 0) return 0;
    if (count > TOP_INSERT_MAX) return top_sorted(ks, lo, hi, total, out, count);
    /* The best `count` kept in order in out: most candidates lose to the last one kept at once
     * (the metrics ask every cron tick: no sort of every candidate, no allocation). */
    size_t n = 0;
    for (int t = lo; t <= hi; t++) {
        for (size_t i = 0; i < ks->top[t].n; i++) {
            const top_member *x = &ks->top[t].m[i];
            ks_top c = {x->key, x->klen, x->db, t, x->bytes};
            if (n == count && top_cmp(&c, &out[n - 1]) >= 0) continue;
            size_t j = n < count ? n++ : count - 1;
            for (; j > 0 && top_cmp(&c, &out[j - 1]) < 0; j--)
                out[j] = out[j - 1];
            out[j] = c;
        }
    }
    return (int)n;
}

void kstats_top_reset(kstats *ks, int type) {
    top_clear(&ks->top[type]);
}

void kstats_top_offer(kstats *ks, const ks_key *k) {
    top_add(ks, k);
}

/* ---- updates ---------------------------------------------------------------------------- */

#ifdef KS_SIMD
/* One chunk of a key against the memo's bytes at img: the bits of the bytes that match with its
 * digits made '#', and its digit bits. */
static inline uint64_t memo_chunk(__m128i v, const uint8_t *img, uint64_t *dig) {
    __m128i f = digits_folded(v, dig);
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(f, _mm_loadu_si128((const __m128i *)img)));
}

/* The bits of the key's (1..FOLD_SPAN bytes) bytes that match the memo's with digits made '#',
 * and its digits; read as fold_load reads it. */
static inline uint64_t memo_compare(const uint8_t *img, const unsigned char *k, size_t n,
                                    uint64_t *digm) {
    uint64_t same, dig, d;
    if (n < 16) {
        same = memo_chunk(short_chunk(k, n), img, &dig);
    } else {
        size_t last = n - 16;
        same = memo_chunk(_mm_loadu_si128((const __m128i *)(k + last)), img + last, &dig) << last;
        dig <<= last;
        for (size_t off = 0; off < last; off += 16) {
            same |= memo_chunk(_mm_loadu_si128((const __m128i *)(k + off)), img + off, &d) << off;
            dig |= d << off;
        }
    }
    *digm = dig;
    return same;
}

/* What key_scan finds: bits of the bytes that match the memo's (digits made '#'), of the
 * digits, separators, hex letters and hex characters other than digits. */
typedef struct key_bits {
    uint64_t same, dig, sep, letters, hex;
} key_bits;

static inline void scan_chunk(const kstats *ks, __m128i sep0, __m128i v, const uint8_t *img,
                              size_t off, key_bits *b) {
    uint64_t s, d, l, x;
    __m128i f = fold_chunk(ks, sep0, 1, v, &s, &d);
    uint64_t e = (uint32_t)_mm_movemask_epi8(
        _mm_cmpeq_epi8(f, _mm_loadu_si128((const __m128i *)(img + off))));
    hex_bits(v, &l, &x);
    b->same |= e << off;
    b->dig |= d << off;
    b->sep |= s << off;
    b->letters |= l << off;
    b->hex |= x << off;
}

/* The key's (1..FOLD_SPAN bytes) key_bits against the memo's bytes img, read as fold_load
 * reads it. */
static void key_scan(const kstats *ks, const uint8_t *img, const unsigned char *k, size_t n,
                     key_bits *b) {
    __m128i sep0 = _mm_loadu_si128((const __m128i *)ks->sepv[0]);
    memset(b, 0, sizeof(*b));
    if (n < 16) {
        scan_chunk(ks, sep0, short_chunk(k, n), img, 0, b);
        return;
    }
    size_t last = n - 16;
    for (size_t off = 0; off < last; off += 16)
        scan_chunk(ks, sep0, _mm_loadu_si128((const __m128i *)(k + off)), img, off, b);
    scan_chunk(ks, sep0, _mm_loadu_si128((const __m128i *)(k + last)), img, last, b);
}

/* out (fold_load's) into the memo: n bytes, 16 when fewer (the zeros after them). */
static inline void memo_copy(uint8_t *img, const char *out, size_t n) {
    size_t last = n > 16 ? n - 16 : 0;
    for (size_t off = 0;; off += 16) {
        if (off > last) off = last;
        _mm_storeu_si128((__m128i *)(img + off), _mm_loadu_si128((const __m128i *)(out + off)));
        if (off == last) return;
    }
}
#else
static inline uint64_t memo_compare(const uint8_t *img, const unsigned char *k, size_t n,
                                    uint64_t *digm) {
    uint64_t same = 0, dig = 0;
    for (size_t j = 0; j < n; j++) {
        int digit = k[j] >= '0' && k[j] <= '9';
        dig |= (uint64_t)digit << j;
        same |= (uint64_t)(img[j] == (digit ? '#' : k[j])) << j;
    }
    *digm = dig;
    return same;
}

typedef struct key_bits {
    uint64_t same, dig, sep, letters, hex;
} key_bits;

static void key_scan(const kstats *ks, const uint8_t *img, const unsigned char *k, size_t n,
                     key_bits *b) {
    memset(b, 0, sizeof(*b));
    b->same = memo_compare(img, k, n, &b->dig);
    for (size_t j = 0; j < n; j++) {
        int letter = (k[j] >= 'a' && k[j] <= 'f') || (k[j] >= 'A' && k[j] <= 'F');
        b->sep |= (uint64_t)(ks->cls[k[j]] & CLS_SEP) << j;
        b->letters |= (uint64_t)letter << j;
        b->hex |= (uint64_t)(letter || k[j] == '-') << j;
    }
}

static inline void memo_copy(uint8_t *img, const char *out, size_t n) {
    memcpy(img, out, n);
}
#endif

/* memo_matches for a memo whose fold had '*' segments: they must still be, so no separator in
 * stars, and the bytes in hex (runs of them, each a segment that was a hex ID) still hex IDs
 * (hex characters only, a digit and a letter in each). */
__attribute__((noinline)) static int memo_matches_stars(const kstats *ks, size_t i,
                                                        const unsigned char *k, size_t n) {
    const fold_memos *m = &ks->memo;
    uint64_t hex = m->hex[i];
    key_bits b;
    key_scan(ks, m->img[i], k, n, &b);
    if (((~b.same | (b.dig ^ m->dig[i])) & m->care[i]) || (b.sep & m->stars[i]) ||
        (hex & ~(b.hex | b.dig)))
        return 0;
    while (hex) {
        size_t start = lowest_bit(hex);
        /* a run is at most SEGMENT_MAX bytes: ~(hex >> start) is never 0 */
        uint64_t seg = low_bits(start + lowest_bit(~(hex >> start))) & ~low_bits(start);
        if (!(seg & b.dig) || !(seg & b.letters)) return 0;
        hex &= ~seg;
    }
    return 1;
}

/* Whether the key (1..FOLD_SPAN bytes, of memo i's length) folds as memo i's did, for a memo
 * whose fold had no '*' segment. */
static inline int memo_matches(const kstats *ks, size_t i, const unsigned char *k, size_t n) {
    const fold_memos *m = &ks->memo;
    uint64_t dig, same = memo_compare(m->img[i], k, n, &dig);
    return ((~same | (dig ^ m->dig[i])) & m->care[i]) == 0;
}

/* The change added in memo i's slot; 0 when it is the last key leaving (the whole way then). */
static inline int memo_add(kstats *ks, size_t i, int64_t dkeys, int64_t dbytes, int64_t dvkeys) {
    pfx *p = &ks->pfx[ks->memo.slot[i]];
    if (dkeys < 0 && p->keys <= 1) return 0;
    p->keys += (uint64_t)dkeys;
    p->bytes += (uint64_t)dbytes;
    p->vkeys += (uint64_t)dvkeys;
    return 1;
}

_Static_assert(FOLD_MEMOS == 16, "memo_of gives 4 bits");

/* The memo a key of n (1..FOLD_SPAN) bytes goes to: by its length and first byte, the same for
 * the keys of one form (but for one that begins with its ID). */
static inline size_t memo_of(const unsigned char *k, size_t n) {
    return (size_t)(((n ^ (uint64_t)k[0] << 8) * UINT64_C(0x9e3779b97f4a7c15)) >> 60);
}

/* A key of 1..FOLD_SPAN bytes that memo mi does not answer: folded and accounted, and the fold
 * remembered in mi when its prefix is tracked. multi: a constant, as in fold_fast. */
__attribute__((always_inline)) static inline void account_short_key(kstats *ks, int multi,
                                                                    const ks_key *k, size_t mi,
                                                                    int64_t dkeys, int64_t dbytes,
                                                                    int64_t dvkeys) {
    char buf[KS_PREFIX_LEN_MAX];
    size_t n = k->klen, len;
    uint64_t sep, dig;
    fold_form form;
    fold_memos *m = &ks->memo;
    fold_load(ks, multi, (const unsigned char *)k->key, n, buf, &sep, &dig);
    m->klen[mi] = 0;
    memo_copy(m->img[mi], buf, n);
    if (!fold_finish(sep, dig, n, 1, ks->cfg.depth, buf, &len, &form)) {
        pfx_account_none(ks, dkeys, dbytes);
        return;
    }
    long slot = len <= PFX_INLINE ? pfx_account_short(ks, buf, len, dkeys, dbytes, dvkeys)
                                  : pfx_account_any(ks, buf, len, dkeys, dbytes, dvkeys);
    if (slot < 0) return;
    m->klen[mi] = (uint32_t)n;
    m->dig[mi] = dig;
    m->care[mi] = form.care;
    m->stars[mi] = form.stars;
    m->hex[mi] = form.hex;
    m->slot[mi] = (uint32_t)slot;
}

OUT_OF_LINE static void account_short_key_one(kstats *ks, const ks_key *k, size_t mi, int64_t dkeys,
                                              int64_t dbytes, int64_t dvkeys) {
    account_short_key(ks, 0, k, mi, dkeys, dbytes, dvkeys);
}

/* A key of the length of memo mi, whose fold had '*' segments: added in its slot if the memo
 * answers (memo_matches_stars), else account_short_key. */
OUT_OF_LINE static void account_starred_key(kstats *ks, const ks_key *k, size_t mi, int64_t dkeys,
                                            int64_t dbytes, int64_t dvkeys) {
    if (memo_matches_stars(ks, mi, (const unsigned char *)k->key, k->klen) &&
        memo_add(ks, mi, dkeys, dbytes, dvkeys))
        return;
    if (ks->nsep > 1)
        account_short_key(ks, 1, k, mi, dkeys, dbytes, dvkeys);
    else
        account_short_key_one(ks, k, mi, dkeys, dbytes, dvkeys);
}

/* A key of 1..FOLD_SPAN bytes: if its memo answers, added in the memo's slot, else
 * account_short_key. */
__attribute__((always_inline)) static inline void
account_key(kstats *ks, int multi, const ks_key *k, int64_t dkeys, int64_t dbytes, int64_t dvkeys) {
    const unsigned char *key = (const unsigned char *)k->key;
    size_t n = k->klen, mi = memo_of(key, n);
    if (ks->memo.klen[mi] == n) {
        if (ks->memo.stars[mi]) {
            account_starred_key(ks, k, mi, dkeys, dbytes, dvkeys);
            return;
        }
        if (memo_matches(ks, mi, key, n) && memo_add(ks, mi, dkeys, dbytes, dvkeys)) return;
    }
    if (multi)
        account_short_key(ks, 1, k, mi, dkeys, dbytes, dvkeys);
    else
        account_short_key_one(ks, k, mi, dkeys, dbytes, dvkeys);
}

/* More than one separator configured. */
OUT_OF_LINE static void account_key_multi(kstats *ks, const ks_key *k, int64_t dkeys,
                                          int64_t dbytes, int64_t dvkeys) {
    account_key(ks, 1, k, dkeys, dbytes, dvkeys);
}

/* A key of no byte or over FOLD_SPAN: folded, accounted, not remembered. */
OUT_OF_LINE static void account_other_key(kstats *ks, const ks_key *k, int64_t dkeys,
                                          int64_t dbytes, int64_t dvkeys) {
    char buf[KS_PREFIX_LEN_MAX];
    size_t n;
    if (!kstats_prefix_of(ks, k->key, k->klen, ks->cfg.depth, buf, &n))
        pfx_account_none(ks, dkeys, dbytes);
    else if (n <= PFX_INLINE)
        pfx_account_short(ks, buf, n, dkeys, dbytes, dvkeys);
    else
        pfx_account_any(ks, buf, n, dkeys, dbytes, dvkeys);
}

/* A write's key changes its prefix's figures by (dkeys, dbytes, dvkeys). A key its memo answers
 * (user:<n>:session after another) is looked at once, 16 bytes at a time, and added in the
 * memo's slot: no fold, no hash, no probe. */
static void prefix_account_key(kstats *ks, const ks_key *k, int64_t dkeys, int64_t dbytes,
                               int64_t dvkeys) {
    if (ks->cfg.prefix_max == 0) return;
    if (k->klen == 0 || k->klen > FOLD_SPAN)
        account_other_key(ks, k, dkeys, dbytes, dvkeys);
    else if (ks->nsep > 1)
        account_key_multi(ks, k, dkeys, dbytes, dvkeys);
    else
        account_key(ks, 0, k, dkeys, dbytes, dvkeys);
}

void kstats_add(kstats *ks, const ks_key *k) {
    ks_db *d = &ks->dbs[k->db];
    int t = k->type;
    d->keys[t]++;
    d->bytes[t] += k->bytes;
    d->len_sum[t] += k->len;
    d->len_hist[t][bin_of(k->len)]++;
    d->bytes_hist[t][bin_of(k->bytes)]++;
    int vol = k->when >= 0;
    if (vol) {
        d->vkeys++;
        d->vbytes += k->bytes;
        ttl_account(ks, k->when, 1, (int64_t)k->bytes);
    }
    prefix_account_key(ks, k, 1, (int64_t)k->bytes, vol);
    top_add(ks, k);
}

void kstats_remove(kstats *ks, const ks_key *k) {
    ks_db *d = &ks->dbs[k->db];
    int t = k->type;
    d->keys[t]--;
    d->bytes[t] -= k->bytes;
    d->len_sum[t] -= k->len;
    d->len_hist[t][bin_of(k->len)]--;
    d->bytes_hist[t][bin_of(k->bytes)]--;
    int vol = k->when >= 0;
    if (vol) {
        d->vkeys--;
        d->vbytes -= k->bytes;
        ttl_account(ks, k->when, -1, -(int64_t)k->bytes);
    }
    prefix_account_key(ks, k, -1, -(int64_t)k->bytes, -vol);
    top_remove(ks, k);
}

/* The common writes, kept lean: a string without expire enters or leaves. The same sums as
 * kstats_add / kstats_remove less what such a key cannot touch; the prefix and the largest
 * keys, when they may be concerned, in a function of their own so that this one stays small.
 *
 * The prefix, and the largest keys when `top` says the key may concern them. Six arguments
 * in registers, so kstats_add_string / kstats_remove_string end in a jump here and save no
 * registers themselves; the length is not passed: neither the prefix nor the top keys need it.
 * how: the db << 3, STR_PREFIX_DONE when the memo already counted the prefix, STR_ADD for an
 * add (else a remove), STR_TOP when the top keys may be concerned. */
#define STR_TOP 1u
#define STR_ADD 2u
#define STR_PREFIX_DONE 4u
#define STR_DB_SHIFT 3
OUT_OF_LINE static void string_prefix_top(kstats *ks, const char *key, size_t klen, uint64_t hv,
                                          uint64_t bytes, unsigned how) {
    ks_key k = {key, klen, (int)(how >> STR_DB_SHIFT), DB_TYPE_STRING, bytes, 0, -1, hv};
    int add = (how & STR_ADD) != 0;
    if (!(how & STR_PREFIX_DONE))
        prefix_account_key(ks, &k, add ? 1 : -1, add ? (int64_t)bytes : -(int64_t)bytes, 0);
    if (!(how & STR_TOP)) return;
    if (add)
        top_add(ks, &k);
    else
        top_remove(ks, &k);
}

/* The prefix of a key its memo answers (user:<n>:session after another), counted here:
 * 1, or 0 for the whole way (no memo of its form, or the last key of its prefix leaving). */
static inline int memo_hit(kstats *ks, const char *key, size_t n, int64_t dkeys, int64_t dbytes,
                           int64_t dvkeys) {
    const unsigned char *k = (const unsigned char *)key;
    if (n - 1 >= FOLD_SPAN) return 0; /* 0 or over FOLD_SPAN bytes */
    size_t mi = memo_of(k, n);
    if (ks->memo.klen[mi] != n || ks->memo.stars[mi]) return 0;
    return memo_matches(ks, mi, k, n) && memo_add(ks, mi, dkeys, dbytes, dvkeys);
}

/* The sums of a string without expire entering (sign 1) or leaving (-1); the flags of `how`
 * for the top keys. */
static inline unsigned string_sums(kstats *ks, int dbi, int sign, uint64_t hv, uint64_t bytes,
                                   uint64_t len) {
    ks_db *d = &ks->dbs[dbi];
    unsigned how = (unsigned)dbi << STR_DB_SHIFT;
    if (sign > 0) {
        d->keys[DB_TYPE_STRING]++;
        d->bytes[DB_TYPE_STRING] += bytes;
        d->len_sum[DB_TYPE_STRING] += len;
        d->len_hist[DB_TYPE_STRING][bin_of(len)]++;
        d->bytes_hist[DB_TYPE_STRING][bin_of(bytes)]++;
        how |= STR_ADD;
        if (bytes > ks->top[DB_TYPE_STRING].floor) how |= STR_TOP;
    } else {
        d->keys[DB_TYPE_STRING]--;
        d->bytes[DB_TYPE_STRING] -= bytes;
        d->len_sum[DB_TYPE_STRING] -= len;
        d->len_hist[DB_TYPE_STRING][bin_of(len)]--;
        d->bytes_hist[DB_TYPE_STRING][bin_of(bytes)]--;
        const top_set *s = &ks->top[DB_TYPE_STRING];
        /* A member needs bytes >= minb and its hash in the filter (hv 0: not known, look). */
        if (s->n && bytes >= s->minb && (hv == 0 || filter_may_hold(s, hv))) how |= STR_TOP;
    }
    return how;
}

/* kstats_add_string / kstats_remove_string with prefixes on: the sums, then the memo, and
 * string_prefix_top only when the memo does not answer or the top keys may be concerned. A
 * function of its own (the same arguments: the caller ends in a jump here), so that without
 * prefixes the caller stays a leaf that saves no register. */
static inline void string_prefixed(kstats *ks, int dbi, const char *key, size_t klen, uint64_t hv,
                                   uint64_t bytes, uint64_t len, int sign) {
    unsigned how = string_sums(ks, dbi, sign, hv, bytes, len);
    if (memo_hit(ks, key, klen, sign, sign * (int64_t)bytes, 0)) {
        if (!(how & STR_TOP)) return;
        how |= STR_PREFIX_DONE;
    }
    string_prefix_top(ks, key, klen, hv, bytes, how);
}

OUT_OF_LINE static void add_string_prefixed(kstats *ks, int dbi, const char *key, size_t klen,
                                            uint64_t hv, uint64_t bytes, uint64_t len) {
    string_prefixed(ks, dbi, key, klen, hv, bytes, len, 1);
}

OUT_OF_LINE static void remove_string_prefixed(kstats *ks, int dbi, const char *key, size_t klen,
                                               uint64_t hv, uint64_t bytes, uint64_t len) {
    string_prefixed(ks, dbi, key, klen, hv, bytes, len, -1);
}

void kstats_add_string(kstats *ks, int dbi, const char *key, size_t klen, uint64_t hv,
                       uint64_t bytes, uint64_t len) {
    if (ks->cfg.prefix_max) {
        add_string_prefixed(ks, dbi, key, klen, hv, bytes, len);
        return;
    }
    unsigned how = string_sums(ks, dbi, 1, hv, bytes, len);
    if (how & STR_TOP) string_prefix_top(ks, key, klen, hv, bytes, how | STR_PREFIX_DONE);
}

void kstats_remove_string(kstats *ks, int dbi, const char *key, size_t klen, uint64_t hv,
                          uint64_t bytes, uint64_t len) {
    if (ks->cfg.prefix_max) {
        remove_string_prefixed(ks, dbi, key, klen, hv, bytes, len);
        return;
    }
    unsigned how = string_sums(ks, dbi, -1, hv, bytes, len);
    if (how & STR_TOP) string_prefix_top(ks, key, klen, hv, bytes, how | STR_PREFIX_DONE);
}

/* The rest of kstats_change, for the changes that concern expires, prefixes or the largest
 * keys: out of line, so that kstats_change itself saves no registers and makes no call. */
OUT_OF_LINE static void change_rest(kstats *ks, ks_db *d, const ks_key *b, const ks_key *a) {
    int bvol = b->when >= 0, avol = a->when >= 0;
    if (bvol) {
        d->vkeys--;
        d->vbytes -= b->bytes;
        ttl_account(ks, b->when, -1, -(int64_t)b->bytes);
    }
    if (avol) {
        d->vkeys++;
        d->vbytes += a->bytes;
        ttl_account(ks, a->when, 1, (int64_t)a->bytes);
    }
    if (ks->cfg.prefix_max) {
        int64_t dbytes = (int64_t)(a->bytes - b->bytes);
        if (!memo_hit(ks, a->key, a->klen, 0, dbytes, avol - bvol)) /* cart:<n>:items again */
            prefix_account_key(ks, a, 0, dbytes, avol - bvol);
    }
    const top_set *s = &ks->top[a->type];
    if ((s->n && b->bytes >= s->minb) || a->bytes > s->floor) top_change(ks, b, a);
}

void kstats_change(kstats *ks, const ks_key *b, const ks_key *a) {
    ks_db *d = &ks->dbs[a->db];
    int t = a->type;
    d->len_sum[t] += a->len - b->len; /* modulo 2^64: exact */
    int bin_b = bin_of(b->len), bin_a = bin_of(a->len);
    if (bin_b != bin_a) { /* a field more or less mostly stays in its bin */
        d->len_hist[t][bin_b]--;
        d->len_hist[t][bin_a]++;
    }
    if (b->bytes == a->bytes && b->when == a->when) return;
    d->bytes[t] += a->bytes - b->bytes;
    d->bytes_hist[t][bin_of(b->bytes)]--;
    d->bytes_hist[t][bin_of(a->bytes)]++;
    const top_set *s = &ks->top[t];
    if ((b->when >= 0) | (a->when >= 0) | (ks->cfg.prefix_max != 0) |
        (s->n && b->bytes >= s->minb) | (a->bytes > s->floor))
        change_rest(ks, d, b, a);
}

OUT_OF_LINE static void change_value_rest(kstats *ks, ks_db *d, const ks_key *b, uint64_t bytes,
                                          uint64_t len) {
    ks_key a = *b;
    a.bytes = bytes;
    a.len = len;
    change_rest(ks, d, b, &a);
}

/* kstats_change with after's name, db, type and expire before's: nothing to copy on the way. */
void kstats_change_value(kstats *ks, const ks_key *b, uint64_t bytes, uint64_t len) {
    ks_db *d = &ks->dbs[b->db];
    int t = b->type;
    d->len_sum[t] += len - b->len; /* modulo 2^64: exact */
    int bin_b = bin_of(b->len), bin_a = bin_of(len);
    if (bin_b != bin_a) {
        d->len_hist[t][bin_b]--;
        d->len_hist[t][bin_a]++;
    }
    if (b->bytes == bytes) return;
    d->bytes[t] += bytes - b->bytes;
    d->bytes_hist[t][bin_of(b->bytes)]--;
    d->bytes_hist[t][bin_of(bytes)]++;
    const top_set *s = &ks->top[t];
    if ((b->when >= 0) | (ks->cfg.prefix_max != 0) | (s->n && b->bytes >= s->minb) |
        (bytes > s->floor))
        change_value_rest(ks, d, b, bytes, len);
}

void kstats_swap_dbs(kstats *ks, int a, int b) {
    if (a == b) return;
    ks_db t = ks->dbs[a];
    ks->dbs[a] = ks->dbs[b];
    ks->dbs[b] = t;
    for (int ty = 0; ty < KS_TYPES; ty++) {
        top_set *s = &ks->top[ty];
        for (size_t i = 0; i < s->n; i++) {
            if (s->m[i].db == a)
                s->m[i].db = b;
            else if (s->m[i].db == b)
                s->m[i].db = a;
        }
    }
}

/* ---- totals ----------------------------------------------------------------------------- */

ks_totals kstats_type_totals(const kstats *ks, int dbi, int type) {
    ks_totals r = {0, 0};
    for (int d = dbi < 0 ? 0 : dbi; d < (dbi < 0 ? ks->ndbs : dbi + 1); d++) {
        r.keys += ks->dbs[d].keys[type];
        r.bytes += ks->dbs[d].bytes[type];
    }
    return r;
}

ks_totals kstats_db_totals(const kstats *ks, int dbi) {
    ks_totals r = {0, 0};
    for (int t = 0; t < KS_TYPES; t++) {
        ks_totals x = kstats_type_totals(ks, dbi, t);
        r.keys += x.keys;
        r.bytes += x.bytes;
    }
    return r;
}

ks_totals kstats_volatile_totals(const kstats *ks, int dbi) {
    ks_totals r = {0, 0};
    for (int d = dbi < 0 ? 0 : dbi; d < (dbi < 0 ? ks->ndbs : dbi + 1); d++) {
        r.keys += ks->dbs[d].vkeys;
        r.bytes += ks->dbs[d].vbytes;
    }
    return r;
}

uint64_t kstats_len_sum(const kstats *ks, int dbi, int type) {
    uint64_t r = 0;
    for (int d = dbi < 0 ? 0 : dbi; d < (dbi < 0 ? ks->ndbs : dbi + 1); d++)
        r += ks->dbs[d].len_sum[type];
    return r;
}

const uint64_t *kstats_len_hist(const kstats *ks, int dbi, int type) {
    return ks->dbs[dbi].len_hist[type];
}

const uint64_t *kstats_bytes_hist(const kstats *ks, int dbi, int type) {
    return ks->dbs[dbi].bytes_hist[type];
}

size_t kstats_mem_usage(const kstats *ks) {
    size_t n = alloc_usable_size(ks) + alloc_usable_size(ks->dbs) + alloc_usable_size(ks->ttl) +
               alloc_usable_size(ks->pfx);
    for (size_t i = 0; i < ks->pfx_cap; i++)
        if (pfx_in_use(&ks->pfx[i]) && ks->pfx[i].len > PFX_INLINE)
            n += alloc_usable_size(ks->pfx[i].name.heap);
    for (int t = 0; t < KS_TYPES; t++) {
        n += alloc_usable_size(ks->top[t].m);
        for (size_t i = 0; i < ks->top[t].n; i++)
            n += alloc_usable_size(ks->top[t].m[i].key);
    }
    return n;
}

/* ---- self-check ------------------------------------------------------------------------- */

typedef struct diff_out {
    char *buf;
    size_t cap, used, count;
} diff_out;

__attribute__((format(printf, 2, 3))) static void differ(diff_out *o, const char *fmt, ...) {
    o->count++;
    if (o->used + 1 >= o->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->cap - o->used, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    o->used += (size_t)n;
    if (o->used >= o->cap) o->used = o->cap - 1;
}

static void diff_u64(diff_out *o, const char *what, uint64_t live, uint64_t fresh) {
    if (live != fresh)
        differ(o, "%s: tracked %llu, scan %llu\n", what, (unsigned long long)live,
               (unsigned long long)fresh);
}

size_t kstats_diff(kstats *live, kstats *fresh, int64_t now_ms, char *out, size_t cap) {
    diff_out o = {out, cap, 0, 0};
    if (cap) out[0] = '\0';
    char what[160];
    for (int d = 0; d < live->ndbs && d < fresh->ndbs; d++) {
        const ks_db *a = &live->dbs[d], *b = &fresh->dbs[d];
        for (int t = 0; t < KS_TYPES; t++) {
            snprintf(what, sizeof(what), "db%d %s keys", d, db_type_name(t));
            diff_u64(&o, what, a->keys[t], b->keys[t]);
            snprintf(what, sizeof(what), "db%d %s bytes", d, db_type_name(t));
            diff_u64(&o, what, a->bytes[t], b->bytes[t]);
            snprintf(what, sizeof(what), "db%d %s length sum", d, db_type_name(t));
            diff_u64(&o, what, a->len_sum[t], b->len_sum[t]);
            for (int i = 0; i < KS_BINS; i++) {
                snprintf(what, sizeof(what), "db%d %s length bin %llu", d, db_type_name(t),
                         (unsigned long long)kstats_bin_floor(i));
                diff_u64(&o, what, a->len_hist[t][i], b->len_hist[t][i]);
                snprintf(what, sizeof(what), "db%d %s bytes bin %llu", d, db_type_name(t),
                         (unsigned long long)kstats_bin_floor(i));
                diff_u64(&o, what, a->bytes_hist[t][i], b->bytes_hist[t][i]);
            }
        }
        snprintf(what, sizeof(what), "db%d volatile keys", d);
        diff_u64(&o, what, a->vkeys, b->vkeys);
        snprintf(what, sizeof(what), "db%d volatile bytes", d);
        diff_u64(&o, what, a->vbytes, b->vbytes);
    }
    ks_totals ta[KS_TTL_BUCKETS], tb[KS_TTL_BUCKETS];
    kstats_ttl_buckets(live, now_ms, ta);
    kstats_ttl_buckets(fresh, now_ms, tb);
    for (int i = 0; i < KS_TTL_BUCKETS; i++) {
        snprintf(what, sizeof(what), "ttl %s keys", kstats_ttl_bucket_name(i));
        diff_u64(&o, what, ta[i].keys, tb[i].keys);
        snprintf(what, sizeof(what), "ttl %s bytes", kstats_ttl_bucket_name(i));
        diff_u64(&o, what, ta[i].bytes, tb[i].bytes);
    }

    /* Prefixes: fresh tracks every prefix (no cap). Each prefix live tracks must equal fresh's;
     * live's `other` must hold exactly the prefixes it does not track. */
    if (live->cfg.prefix_max > 0) {
        diff_u64(&o, "keys without prefix", live->none_keys, fresh->none_keys);
        diff_u64(&o, "bytes without prefix", live->none_bytes, fresh->none_bytes);
        uint64_t untracked_keys = 0, untracked_bytes = 0;
        for (size_t i = 0; i < fresh->pfx_cap; i++) {
            const pfx *f = &fresh->pfx[i];
            if (!pfx_in_use(f)) continue;
            const char *name = pfx_name(f);
            const pfx *l = NULL;
            if (live->pfx_cap) {
                pfx_key q = pfx_key_of(live, name, f->len);
                size_t j = pfx_slot(live, &q);
                if (pfx_in_use(&live->pfx[j])) l = &live->pfx[j];
            }
            if (!l) {
                untracked_keys += f->keys;
                untracked_bytes += f->bytes;
                continue;
            }
            snprintf(what, sizeof(what), "prefix %.*s keys", (int)(f->len > 100 ? 100 : f->len),
                     name);
            diff_u64(&o, what, l->keys, f->keys);
            snprintf(what, sizeof(what), "prefix %.*s bytes", (int)(f->len > 100 ? 100 : f->len),
                     name);
            diff_u64(&o, what, l->bytes, f->bytes);
            snprintf(what, sizeof(what), "prefix %.*s volatile keys",
                     (int)(f->len > 100 ? 100 : f->len), name);
            diff_u64(&o, what, l->vkeys, f->vkeys);
        }
        ks_totals none, other;
        size_t n;
        ks_prefix *p = kstats_prefixes(live, live->cfg.depth, &n, &none, &other);
        kstats_prefixes_free(p, n);
        diff_u64(&o, "keys of untracked prefixes", other.keys, untracked_keys);
        diff_u64(&o, "bytes of untracked prefixes", other.bytes, untracked_bytes);
        if (n + 0 != live->pfx_used)
            differ(&o, "prefix table count %zu != %zu\n", n, live->pfx_used);
    }

    /* Largest keys: the sizes of each type's top K (names may differ among equal sizes). */
    size_t k = live->cfg.top_keys;
    ks_top *ta_top = alloc_malloc(SUB, k * sizeof(ks_top));
    ks_top *tb_top = alloc_malloc(SUB, k * sizeof(ks_top));
    for (int t = 0; t < KS_TYPES; t++) {
        int na = kstats_top(live, t, ta_top, k);
        int nb = kstats_top(fresh, t, tb_top, k);
        if (na < 0) continue; /* live needs a refill: not a wrong answer */
        if (nb < 0) {
            differ(&o, "top %s: the scan's set is not exact\n", db_type_name(t));
            continue;
        }
        if (na != nb) {
            differ(&o, "top %s: %d keys tracked, %d by scan\n", db_type_name(t), na, nb);
            continue;
        }
        for (int i = 0; i < na; i++) {
            if (ta_top[i].bytes != tb_top[i].bytes) {
                differ(&o, "top %s #%d: tracked %.*s %llu bytes, scan %.*s %llu bytes\n",
                       db_type_name(t), i + 1, (int)(ta_top[i].klen > 60 ? 60 : ta_top[i].klen),
                       ta_top[i].key, (unsigned long long)ta_top[i].bytes,
                       (int)(tb_top[i].klen > 60 ? 60 : tb_top[i].klen), tb_top[i].key,
                       (unsigned long long)tb_top[i].bytes);
                break;
            }
        }
    }
    alloc_free(SUB, ta_top);
    alloc_free(SUB, tb_top);
    return o.count;
}
