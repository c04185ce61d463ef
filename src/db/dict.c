#include "db/dict.h"

#include "db/db.h"
#include "db/scan_cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An entry is one allocation: a 12-byte header (next, key length), the key bytes, then what
 * the kind stores after the key:
 *   DICT_KEYS    nothing
 *   DICT_STRING  the value's length (4 bytes) and its bytes
 *   DICT_DOUBLE  8 bytes of double
 *   DICT_PTR     8 bytes of pointer
 * Everything after the header is unaligned: read and written with memcpy. The header has no
 * padding in the allocation: a set member of up to 4 bytes fits a 16-byte block. */
struct dict_entry {
    dict_entry *next;
    uint32_t klen;
    unsigned char data[];
};

#define ENTRY_HDR offsetof(struct dict_entry, data)
#define VLEN_SIZE sizeof(uint32_t)
#define INITIAL_EXP 2      /* 4 buckets, as the key space */
#define MIN_FILL_PCT 10    /* shrink below this fill */
#define RANDOM_TRIES 64    /* random buckets tried before walking to a non-empty one */
#define MAX_LEN UINT32_MAX /* key and string value lengths */

_Static_assert(offsetof(struct dict_entry, data) == 12, "dict_entry header must be 12 bytes");

/* Two tables while rehashing (b[1] != NULL): entries move from b[0] to b[1] bucket by bucket
 * from rehash_idx upwards. b[t] == NULL means table t has no bucket array. `bytes` counts the
 * usable size of every allocation the dict holds, itself included. */
struct dict {
    dict_entry **b[2];
    size_t used[2];
    size_t rehash_idx;
    size_t bytes;
    uint8_t exp[2]; /* log2 of each table's size */
    uint8_t sub;
    uint8_t kind;
};

static inline size_t tsize(const dict *d, int t) {
    return d->b[t] ? (size_t)1 << d->exp[t] : 0;
}

static inline int rehashing(const dict *d) {
    return d->b[1] != NULL;
}

static void fatal_len(size_t len) {
    fprintf(stderr, "memkv: dict: element too long (%zu bytes)\n", len);
    abort();
}

/* ---- allocation: every block counted in d->bytes ---------------------------------------- */

static void *d_malloc(dict *d, size_t size) {
    void *p = alloc_malloc((alloc_sub)d->sub, size);
    d->bytes += alloc_usable_size(p);
    return p;
}

static void *d_calloc(dict *d, size_t size) {
    void *p = alloc_calloc((alloc_sub)d->sub, size);
    d->bytes += alloc_usable_size(p);
    return p;
}

static void d_free(dict *d, void *p) {
    if (!p) return;
    d->bytes -= alloc_usable_size(p);
    alloc_free((alloc_sub)d->sub, p);
}

static void *d_realloc(dict *d, void *p, size_t size) {
    d->bytes -= alloc_usable_size(p);
    p = alloc_realloc((alloc_sub)d->sub, p, size);
    d->bytes += alloc_usable_size(p);
    return p;
}

/* ---- entries ---------------------------------------------------------------------------- */

static inline size_t payload_size(const dict *d, size_t vlen) {
    switch (d->kind) {
    case DICT_STRING:
        return VLEN_SIZE + vlen;
    case DICT_DOUBLE:
        return sizeof(double);
    case DICT_PTR:
        return sizeof(void *);
    default:
        return 0;
    }
}

static dict_entry *entry_new(dict *d, const void *key, size_t klen) {
    if (klen > MAX_LEN) fatal_len(klen);
    dict_entry *e = d_malloc(d, ENTRY_HDR + klen + payload_size(d, 0));
    e->next = NULL;
    e->klen = (uint32_t)klen;
    if (klen) memcpy(e->data, key, klen);
    memset(e->data + klen, 0, payload_size(d, 0)); /* empty value, 0.0, NULL */
    return e;
}

static inline int entry_is(const dict_entry *e, const void *key, size_t klen) {
    return e->klen == klen && memcmp(e->data, key, klen) == 0;
}

static inline uint64_t entry_hash(const dict_entry *e) {
    return db_hash_bytes(e->data, e->klen);
}

/* ---- table ------------------------------------------------------------------------------ */

/* Moves up to n non-empty buckets (visiting at most 10*n empty ones). A shrink maps old bucket
 * i to i & new_mask; only a grow hashes the keys again. */
static void shrink_if_needed(dict *d);

static void rehash_some(dict *d, size_t n, int may_shrink) {
    if (!rehashing(d)) return;
    size_t empty_visits = n * 10, mask1 = tsize(d, 1) - 1;
    int grow = d->exp[1] > d->exp[0];
    while (n > 0 && d->used[0] > 0) {
        dict_entry *e = d->b[0][d->rehash_idx];
        if (!e) {
            d->rehash_idx++;
            if (--empty_visits == 0) break;
            continue;
        }
        while (e) {
            dict_entry *next = e->next;
            size_t idx = grow ? (size_t)entry_hash(e) & mask1 : d->rehash_idx & mask1;
            e->next = d->b[1][idx];
            d->b[1][idx] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->b[0][d->rehash_idx++] = NULL;
        n--;
    }
    if (d->used[0] == 0) {
        d_free(d, d->b[0]);
        d->b[0] = d->b[1];
        d->exp[0] = d->exp[1];
        d->used[0] = d->used[1];
        d->b[1] = NULL;
        d->exp[1] = 0;
        d->used[1] = 0;
        d->rehash_idx = 0;
        if (may_shrink) shrink_if_needed(d); /* deletes during the rehash may have emptied it */
    }
}

static void rehash(dict *d, size_t n) {
    rehash_some(d, n, 1);
}

/* Starts moving to a table of 2^exp buckets (or swaps it in at once when nothing is stored).
 * Not while rehashing. */
static void resize(dict *d, unsigned exp) {
    dict_entry **nb = d_calloc(d, ((size_t)1 << exp) * sizeof(*nb));
    if (d->used[0] == 0) {
        d_free(d, d->b[0]);
        d->b[0] = nb;
        d->exp[0] = (uint8_t)exp;
        return;
    }
    d->b[1] = nb;
    d->exp[1] = (uint8_t)exp;
    d->used[1] = 0;
    d->rehash_idx = 0;
}

static unsigned exp_for(size_t n) {
    unsigned exp = INITIAL_EXP;
    while (((size_t)1 << exp) < n)
        exp++;
    return exp;
}

static void grow_if_needed(dict *d) {
    if (rehashing(d)) return;
    if (!d->b[0])
        resize(d, INITIAL_EXP);
    else if (d->used[0] >= tsize(d, 0))
        resize(d, d->exp[0] + 1u);
}

static void shrink_if_needed(dict *d) {
    if (rehashing(d) || d->exp[0] <= INITIAL_EXP) return;
    if (d->used[0] * 100 >= tsize(d, 0) * MIN_FILL_PCT) return;
    resize(d, exp_for(d->used[0]));
}

/* The link (bucket slot or previous entry's next) pointing at the entry for key, or NULL;
 * *tbl gets its table. */
static dict_entry **find_link(dict *d, const void *key, size_t klen, uint64_t hv, int *tbl) {
    for (int t = 0; t < 2 && d->b[t]; t++) {
        size_t idx = (size_t)hv & (tsize(d, t) - 1);
        if (t == 0 && rehashing(d) && idx < d->rehash_idx) continue; /* moved already */
        for (dict_entry **link = &d->b[t][idx]; *link; link = &(*link)->next) {
            if (entry_is(*link, key, klen)) {
                if (tbl) *tbl = t;
                return link;
            }
        }
    }
    return NULL;
}

/* The link pointing at entry e itself. */
static dict_entry **link_of(dict *d, const dict_entry *e) {
    uint64_t hv = entry_hash(e);
    for (int t = 0; t < 2 && d->b[t]; t++) {
        dict_entry **link = &d->b[t][(size_t)hv & (tsize(d, t) - 1)];
        for (; *link; link = &(*link)->next)
            if (*link == e) return link;
    }
    fprintf(stderr, "memkv: dict: entry not in its dict\n");
    abort();
}

/* ---- public API ------------------------------------------------------------------------- */

dict *dict_new(alloc_sub sub, enum dict_kind kind) {
    dict *d = alloc_calloc(sub, sizeof(*d));
    d->sub = (uint8_t)sub;
    d->kind = (uint8_t)kind;
    d->bytes = alloc_usable_size(d);
    return d;
}

void dict_free(dict *d) {
    if (!d) return;
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < tsize(d, t); i++) {
            dict_entry *e = d->b[t][i];
            while (e) {
                dict_entry *next = e->next;
                alloc_free((alloc_sub)d->sub, e);
                e = next;
            }
        }
        alloc_free((alloc_sub)d->sub, d->b[t]);
    }
    alloc_free((alloc_sub)d->sub, d);
}

size_t dict_size(const dict *d) {
    return d->used[0] + d->used[1];
}

size_t dict_mem_usage(const dict *d) {
    return d->bytes;
}

void dict_reserve(dict *d, size_t n) {
    while (rehashing(d))
        rehash_some(d, 1024, 0);
    if (n <= tsize(d, 0)) return;
    resize(d, exp_for(n));
    while (rehashing(d)) /* at once: a shrink check at the end would undo the reservation */
        rehash_some(d, 1024, 0);
}

dict *dict_dup(const dict *src) {
    dict *d = dict_new((alloc_sub)src->sub, (enum dict_kind)src->kind);
    size_t n = dict_size(src);
    if (n == 0) return d;
    resize(d, exp_for(n));
    size_t mask = tsize(d, 0) - 1;
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < tsize(src, t); i++) {
            for (const dict_entry *e = src->b[t][i]; e; e = e->next) {
                size_t len = ENTRY_HDR + e->klen;
                if (src->kind == DICT_STRING) {
                    uint32_t vlen;
                    memcpy(&vlen, e->data + e->klen, VLEN_SIZE);
                    len += VLEN_SIZE + vlen;
                } else {
                    len += payload_size(src, 0);
                }
                dict_entry *c = d_malloc(d, len);
                memcpy(c, e, len);
                size_t idx = (size_t)entry_hash(c) & mask;
                c->next = d->b[0][idx];
                d->b[0][idx] = c;
                d->used[0]++;
            }
        }
    }
    return d;
}

dict_entry *dict_find(dict *d, const void *key, size_t klen) {
    if (rehashing(d)) rehash(d, 1);
    dict_entry **link = find_link(d, key, klen, db_hash_bytes(key, klen), NULL);
    return link ? *link : NULL;
}

dict_entry *dict_add(dict *d, const void *key, size_t klen, int *added) {
    if (rehashing(d)) rehash(d, 1);
    uint64_t hv = db_hash_bytes(key, klen);
    dict_entry **link = find_link(d, key, klen, hv, NULL);
    if (link) {
        if (added) *added = 0;
        return *link;
    }
    grow_if_needed(d);
    int t = rehashing(d) ? 1 : 0;
    size_t idx = (size_t)hv & (tsize(d, t) - 1);
    dict_entry *e = entry_new(d, key, klen);
    e->next = d->b[t][idx];
    d->b[t][idx] = e;
    d->used[t]++;
    if (added) *added = 1;
    return e;
}

int dict_delete(dict *d, const void *key, size_t klen) {
    if (rehashing(d)) rehash(d, 1);
    int t;
    dict_entry **link = find_link(d, key, klen, db_hash_bytes(key, klen), &t);
    if (!link) return 0;
    dict_entry *e = *link;
    *link = e->next;
    d->used[t]--;
    d_free(d, e);
    shrink_if_needed(d);
    return 1;
}

const unsigned char *dict_key(const dict_entry *e, size_t *klen) {
    if (klen) *klen = e->klen;
    return e->data;
}

const unsigned char *dict_str(const dict_entry *e, size_t *vlen) {
    uint32_t n;
    memcpy(&n, e->data + e->klen, VLEN_SIZE);
    if (vlen) *vlen = n;
    return e->data + e->klen + VLEN_SIZE;
}

dict_entry *dict_set_str(dict *d, dict_entry *e, const void *v, size_t vlen) {
    if (vlen > MAX_LEN) fatal_len(vlen);
    size_t old;
    dict_str(e, &old);
    if (old != vlen) {
        size_t size = ENTRY_HDR + e->klen + VLEN_SIZE + vlen;
        dict_entry **link = link_of(d, e);
        e = d_realloc(d, e, size);
        *link = e;
        uint32_t n = (uint32_t)vlen;
        memcpy(e->data + e->klen, &n, VLEN_SIZE);
    }
    if (vlen) memmove(e->data + e->klen + VLEN_SIZE, v, vlen);
    return e;
}

double dict_double(const dict_entry *e) {
    double v;
    memcpy(&v, e->data + e->klen, sizeof(v));
    return v;
}

void dict_set_double(dict_entry *e, double v) {
    memcpy(e->data + e->klen, &v, sizeof(v));
}

void *dict_ptr(const dict_entry *e) {
    void *p;
    memcpy(&p, e->data + e->klen, sizeof(p));
    return p;
}

void dict_set_ptr(dict_entry *e, void *p) {
    memcpy(e->data + e->klen, &p, sizeof(p));
}

/* ---- iteration -------------------------------------------------------------------------- */

/* it->bucket is one past the bucket whose chain it->next and it->cur belong to.
 *
 * dict_find and dict_random take a rehash step too, which moves entries from the old table to
 * the new one: like dict_add and dict_delete they must not be called on the dict being
 * iterated (an entry could then be returned twice or skipped). Entry pointers stay valid
 * across rehash steps; only the iteration order is at stake. */
void dict_iter_init(dict *d, dict_iter *it) {
    it->d = d;
    it->table = 0;
    it->bucket = 0;
    it->next = NULL;
    it->cur = NULL;
}

dict_entry *dict_iter_next(dict_iter *it) {
    dict *d = it->d;
    while (!it->next) {
        if (it->bucket >= tsize(d, it->table)) {
            if (it->table == 1 || !rehashing(d)) {
                it->cur = NULL;
                return NULL;
            }
            it->table = 1;
            it->bucket = 0;
            continue;
        }
        it->next = d->b[it->table][it->bucket++];
    }
    it->cur = it->next;
    it->next = it->cur->next;
    return it->cur;
}

void dict_iter_delete(dict_iter *it) {
    dict *d = it->d;
    dict_entry *e = it->cur;
    if (!e) return;
    dict_entry **link = &d->b[it->table][it->bucket - 1];
    while (*link != e)
        link = &(*link)->next;
    *link = e->next;
    d->used[it->table]--;
    d_free(d, e);
    it->cur = NULL;
}

/* ---- scan and random -------------------------------------------------------------------- */

static size_t scan_chain(const dict_entry *e, dict_scan_fn fn, void *ctx) {
    size_t n = 0;
    for (; e; e = e->next, n++)
        fn(ctx, e);
    return n;
}

uint64_t dict_scan(dict *d, uint64_t cursor, size_t count, dict_scan_fn fn, void *ctx) {
    if (dict_size(d) == 0) return 0;
    if (count == 0) count = 1;
    size_t seen = 0, iterations = 0, max_iterations = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    uint64_t v = cursor;
    do {
        if (!rehashing(d)) {
            uint64_t m0 = tsize(d, 0) - 1;
            seen += scan_chain(d->b[0][v & m0], fn, ctx);
            v = scan_cursor_next(v, m0);
        } else {
            /* The small table's bucket, then every bucket of the big one it expands to. */
            int small = d->exp[0] <= d->exp[1] ? 0 : 1, big = !small;
            uint64_t m0 = tsize(d, small) - 1, m1 = tsize(d, big) - 1;
            seen += scan_chain(d->b[small][v & m0], fn, ctx);
            do {
                seen += scan_chain(d->b[big][v & m1], fn, ctx);
                v = scan_cursor_next(v, m1);
            } while (v & (m0 ^ m1));
        }
        iterations++;
    } while (v != 0 && seen < count && iterations < max_iterations);
    return v;
}

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Bucket i of the live buckets: [rehash_idx, size0) of table 0, then table 1. */
static dict_entry *live_bucket(const dict *d, size_t i) {
    size_t s0 = tsize(d, 0);
    if (!rehashing(d)) return d->b[0][i];
    i += d->rehash_idx;
    return i < s0 ? d->b[0][i] : d->b[1][i - s0];
}

dict_entry *dict_random(dict *d, uint64_t *rng) {
    if (dict_size(d) == 0) return NULL;
    if (rehashing(d)) rehash(d, 1);
    size_t span = tsize(d, 0) + tsize(d, 1) - d->rehash_idx;
    size_t i = (size_t)(rng_next(rng) % span);
    dict_entry *e = live_bucket(d, i);
    /* Shrinking keeps tables at least 10% full, but dict_iter_delete does not shrink: after a
     * few misses walk on to the next non-empty bucket rather than loop for long. */
    for (int tries = 1; !e && tries < RANDOM_TRIES; tries++) {
        i = (size_t)(rng_next(rng) % span);
        e = live_bucket(d, i);
    }
    while (!e) {
        i = (i + 1) % span;
        e = live_bucket(d, i);
    }
    size_t len = 0;
    for (const dict_entry *x = e; x; x = x->next)
        len++;
    for (size_t skip = (size_t)(rng_next(rng) % len); skip; skip--)
        e = e->next;
    return e;
}
