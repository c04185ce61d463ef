#include "db/skiplist.h"

#include <math.h>
#include <string.h>

#include "db/db.h"

/* Node: this header, then forward[level] pointers, then the spans of levels 1..level-1
 * (uint32), then the member bytes. forward[i] of the list header points at the first node of
 * level i; the span of level i is the number of level-0 steps that forward pointer jumps. The
 * span of level 0 is always 1 and not stored (4 bytes less per node: with short members this
 * keeps most level-1 nodes in the 48-byte size class rather than 64). */
struct zsl_node {
    double score;
    struct zsl_node *backward;
    struct zsl_node *hnext; /* next node in the same bucket of the member index */
    uint32_t len;
    uint8_t level;
    struct zsl_node *forward[];
};

/* The member index: chained buckets through the nodes' hnext (no allocation per member), a
 * power-of-two size, incremental rehashing between two tables as the key space does (a bucket
 * moved per add/delete), growing at load 1 and shrinking below 10%. */
typedef struct zsl_index {
    zsl_node **t[2];
    size_t size[2]; /* 0 or a power of two */
    size_t used[2];
    long rehashidx; /* -1: not rehashing; else the next bucket of t[0] to move */
} zsl_index;

struct zskiplist {
    zsl_node *header, *tail;
    uint32_t length;
    uint8_t level; /* highest level in use, >= 1 */
    alloc_sub sub;
    size_t node_bytes; /* usable sizes of the elements' nodes: MEMORY USAGE in O(1) */
    zsl_index ix;
};

static inline uint32_t *node_spans(const zsl_node *n) { /* levels 1..level-1 */
    return (uint32_t *)(void *)((char *)(uintptr_t)n + sizeof(zsl_node) +
                                sizeof(zsl_node *) * n->level);
}

static inline uint32_t span_get(const zsl_node *n, int i) {
    return i == 0 ? 1 : node_spans(n)[i - 1];
}

static inline void span_set(zsl_node *n, int i, uint32_t v) {
    if (i > 0) node_spans(n)[i - 1] = v;
}

static inline unsigned char *node_member(const zsl_node *n) {
    return (unsigned char *)(uintptr_t)n + sizeof(zsl_node) + sizeof(zsl_node *) * n->level +
           sizeof(uint32_t) * (n->level - 1u);
}

static inline size_t node_size(unsigned level, size_t len) {
    return sizeof(zsl_node) + sizeof(zsl_node *) * level + sizeof(uint32_t) * (level - 1) + len;
}

static zsl_node *node_new(alloc_sub sub, unsigned level, double score, const void *m, size_t len) {
    zsl_node *n = alloc_malloc(sub, node_size(level, len));
    n->score = score;
    n->backward = NULL;
    n->hnext = NULL;
    n->len = (uint32_t)len;
    n->level = (uint8_t)level;
    memset(n->forward, 0, sizeof(zsl_node *) * level);
    memset(node_spans(n), 0, sizeof(uint32_t) * (level - 1));
    if (len) memcpy(node_member(n), m, len);
    return n;
}

static void node_free(alloc_sub sub, zsl_node *n) {
    alloc_free_sized(sub, n, node_size(n->level, n->len));
}

/* An element's node, counted in node_bytes (the header is not an element). */
static zsl_node *elem_new(zskiplist *zsl, unsigned level, double score, const void *m, size_t len) {
    zsl_node *n = node_new(zsl->sub, level, score, m, len);
    zsl->node_bytes += alloc_usable_size(n);
    return n;
}

static void elem_free(zskiplist *zsl, zsl_node *n) {
    zsl->node_bytes -= alloc_usable_size(n);
    node_free(zsl->sub, n);
}

/* xorshift64*: the level generator. */
static uint64_t level_rng = 0x9E3779B97F4A7C15ull;

void zsl_seed(uint64_t seed) {
    level_rng = seed ? seed : 0x9E3779B97F4A7C15ull;
}

static unsigned random_level(void) {
    uint64_t x = level_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    level_rng = x;
    uint64_t r = x * 0x2545F4914F6CDD1Dull;
    unsigned level = 1;
    /* each pair of bits is one draw with p = 1/4 of going up */
    while (level < ZSL_MAX_LEVEL && (r & 3) == 0) {
        level++;
        r >>= 2;
    }
    return level;
}

int zsl_cmp_bytes(const void *a, size_t alen, const void *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Does node n sort before (score, m)? */
static inline int node_before(const zsl_node *n, double score, const void *m, size_t len) {
    return n->score < score ||
           (n->score == score && zsl_cmp_bytes(node_member(n), n->len, m, len) < 0);
}

/* --- member index ----------------------------------------------------------------------- */

#define IX_MIN_SIZE 4

static inline uint64_t node_hash(const zsl_node *n) {
    return db_hash_bytes(node_member(n), n->len);
}

static zsl_node **ix_table_new(alloc_sub sub, size_t size) {
    return alloc_calloc(sub, sizeof(zsl_node *) * size);
}

static void ix_table_free(alloc_sub sub, zsl_node **t, size_t size) {
    if (t) alloc_free_sized(sub, t, sizeof(zsl_node *) * size);
}

static int ix_rehashing(const zsl_index *ix) {
    return ix->rehashidx >= 0;
}

/* Move up to n buckets of t[0] into t[1] (visiting at most 10*n empty ones). */
static void ix_rehash(zskiplist *zsl, size_t n) {
    zsl_index *ix = &zsl->ix;
    size_t empty_visits = n * 10;
    while (n-- && ix->used[0] != 0) {
        while (ix->t[0][ix->rehashidx] == NULL) {
            ix->rehashidx++;
            if (--empty_visits == 0) return;
        }
        zsl_node *x = ix->t[0][ix->rehashidx];
        while (x) {
            zsl_node *next = x->hnext;
            size_t b = (size_t)node_hash(x) & (ix->size[1] - 1);
            x->hnext = ix->t[1][b];
            ix->t[1][b] = x;
            ix->used[0]--;
            ix->used[1]++;
            x = next;
        }
        ix->t[0][ix->rehashidx] = NULL;
        ix->rehashidx++;
    }
    if (ix->used[0] == 0) {
        ix_table_free(zsl->sub, ix->t[0], ix->size[0]);
        ix->t[0] = ix->t[1];
        ix->size[0] = ix->size[1];
        ix->used[0] = ix->used[1];
        ix->t[1] = NULL;
        ix->size[1] = 0;
        ix->used[1] = 0;
        ix->rehashidx = -1;
    }
}

static size_t ix_next_power(size_t n) {
    size_t s = IX_MIN_SIZE;
    while (s < n)
        s *= 2;
    return s;
}

/* Start a rehash into a table of `size` buckets (or take it at once when empty). */
static void ix_resize(zskiplist *zsl, size_t size) {
    zsl_index *ix = &zsl->ix;
    if (ix_rehashing(ix) || size == ix->size[0]) return;
    zsl_node **t = ix_table_new(zsl->sub, size);
    if (ix->size[0] == 0 || ix->used[0] == 0) {
        ix_table_free(zsl->sub, ix->t[0], ix->size[0]);
        ix->t[0] = t;
        ix->size[0] = size;
        return;
    }
    ix->t[1] = t;
    ix->size[1] = size;
    ix->used[1] = 0;
    ix->rehashidx = 0;
}

static void ix_add(zskiplist *zsl, zsl_node *x) {
    zsl_index *ix = &zsl->ix;
    if (ix_rehashing(ix)) ix_rehash(zsl, 1);
    if (!ix_rehashing(ix) && ix->used[0] + 1 > ix->size[0])
        ix_resize(zsl, ix_next_power(ix->used[0] + 1));
    int t = ix_rehashing(ix) ? 1 : 0;
    size_t b = (size_t)node_hash(x) & (ix->size[t] - 1);
    x->hnext = ix->t[t][b];
    ix->t[t][b] = x;
    ix->used[t]++;
}

static void ix_remove(zskiplist *zsl, zsl_node *x) {
    zsl_index *ix = &zsl->ix;
    if (ix_rehashing(ix)) ix_rehash(zsl, 1);
    uint64_t h = node_hash(x);
    for (int t = 0; t <= 1; t++) {
        if (ix->size[t] == 0) continue;
        zsl_node **pp = &ix->t[t][(size_t)h & (ix->size[t] - 1)];
        for (; *pp; pp = &(*pp)->hnext) {
            if (*pp == x) {
                *pp = x->hnext;
                x->hnext = NULL;
                ix->used[t]--;
                goto removed;
            }
        }
    }
    return;
removed:
    if (!ix_rehashing(ix) && ix->size[0] > IX_MIN_SIZE && ix->used[0] * 10 < ix->size[0])
        ix_resize(zsl, ix_next_power(ix->used[0]));
}

zsl_node *zsl_find(const zskiplist *zsl, const void *m, size_t len) {
    const zsl_index *ix = &zsl->ix;
    if (ix->used[0] + ix->used[1] == 0) return NULL;
    uint64_t h = db_hash_bytes(m, len);
    for (int t = 0; t <= 1; t++) {
        if (ix->size[t] == 0) continue;
        for (zsl_node *x = ix->t[t][(size_t)h & (ix->size[t] - 1)]; x; x = x->hnext)
            if (x->len == len && (len == 0 || memcmp(node_member(x), m, len) == 0)) return x;
    }
    return NULL;
}

void zsl_reserve(zskiplist *zsl, size_t n) {
    if (zsl->ix.used[0] + zsl->ix.used[1] == 0 && !ix_rehashing(&zsl->ix))
        ix_resize(zsl, ix_next_power(n));
}

static uint64_t rev64(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

static size_t scan_bucket(const zsl_node *x, zsl_scan_fn fn, void *ctx) {
    size_t n = 0;
    for (; x; x = x->hnext, n++)
        fn(ctx, x);
    return n;
}

/* One step of the reverse-binary cursor over one or both tables (Redis's dictScan). */
static uint64_t scan_step(const zsl_index *ix, uint64_t v, zsl_scan_fn fn, void *ctx,
                          size_t *seen) {
    if (!ix_rehashing(ix)) {
        uint64_t m0 = ix->size[0] - 1;
        *seen += scan_bucket(ix->t[0][v & m0], fn, ctx);
        v |= ~m0;
        return rev64(rev64(v) + 1);
    }
    int small = ix->size[0] <= ix->size[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = ix->size[small] - 1, m1 = ix->size[large] - 1;
    *seen += scan_bucket(ix->t[small][v & m0], fn, ctx);
    do {
        *seen += scan_bucket(ix->t[large][v & m1], fn, ctx);
        v |= ~m1;
        v = rev64(rev64(v) + 1);
    } while (v & (m0 ^ m1));
    return v;
}

uint64_t zsl_scan(const zskiplist *zsl, uint64_t cursor, size_t count, zsl_scan_fn fn, void *ctx) {
    const zsl_index *ix = &zsl->ix;
    if (ix->used[0] + ix->used[1] == 0) return 0;
    size_t seen = 0, budget = count * 10;
    do {
        cursor = scan_step(ix, cursor, fn, ctx, &seen);
    } while (cursor && budget-- > 0 && seen < count);
    return cursor;
}

static size_t ix_mem_usage(const zskiplist *zsl) {
    size_t total = 0;
    for (int t = 0; t <= 1; t++)
        if (zsl->ix.t[t]) total += alloc_usable_size(zsl->ix.t[t]);
    return total;
}

static void ix_free(zskiplist *zsl) {
    for (int t = 0; t <= 1; t++)
        ix_table_free(zsl->sub, zsl->ix.t[t], zsl->ix.size[t]);
}

/* --- ranges -------------------------------------------------------------------------- */

int zrange_score_empty(const zrange_score *r) {
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

int zrange_score_gte_min(const zrange_score *r, double v) {
    return r->minex ? v > r->min : v >= r->min;
}

int zrange_score_lte_max(const zrange_score *r, double v) {
    return r->maxex ? v < r->max : v <= r->max;
}

/* Compare s with a bound: -1 / 0 / 1, "-" below everything and "+" above. */
static int lex_cmp(const void *s, size_t len, const zlex_bound *b) {
    if (b->kind == ZLEX_MINUS) return 1;
    if (b->kind == ZLEX_PLUS) return -1;
    return zsl_cmp_bytes(s, len, b->s, b->len);
}

int zrange_lex_empty(const zrange_lex *r) {
    if (r->min.kind == ZLEX_PLUS || r->max.kind == ZLEX_MINUS) return 1;
    if (r->min.kind == ZLEX_MINUS || r->max.kind == ZLEX_PLUS) return 0;
    int c = zsl_cmp_bytes(r->min.s, r->min.len, r->max.s, r->max.len);
    return c > 0 || (c == 0 && (r->min.exclusive || r->max.exclusive));
}

int zrange_lex_gte_min(const zrange_lex *r, const void *s, size_t len) {
    int c = lex_cmp(s, len, &r->min);
    return r->min.exclusive ? c > 0 : c >= 0;
}

int zrange_lex_lte_max(const zrange_lex *r, const void *s, size_t len) {
    int c = lex_cmp(s, len, &r->max);
    return r->max.exclusive ? c < 0 : c <= 0;
}

/* --- life cycle ---------------------------------------------------------------------- */

zskiplist *zsl_new(alloc_sub sub) {
    zskiplist *zsl = alloc_malloc(sub, sizeof(*zsl));
    zsl->header = node_new(sub, ZSL_MAX_LEVEL, 0, NULL, 0);
    zsl->tail = NULL;
    zsl->length = 0;
    zsl->level = 1;
    zsl->sub = sub;
    zsl->node_bytes = 0;
    memset(&zsl->ix, 0, sizeof(zsl->ix));
    zsl->ix.rehashidx = -1;
    return zsl;
}

void zsl_free(zskiplist *zsl) {
    if (!zsl) return;
    zsl_node *n = zsl->header->forward[0];
    while (n) {
        zsl_node *next = n->forward[0];
        node_free(zsl->sub, n);
        n = next;
    }
    node_free(zsl->sub, zsl->header);
    ix_free(zsl);
    alloc_free_sized(zsl->sub, zsl, sizeof(*zsl));
}

size_t zsl_length(const zskiplist *zsl) {
    return zsl->length;
}

static size_t zsl_mem_usage_fixed(const zskiplist *zsl) {
    return alloc_usable_size(zsl) + alloc_usable_size(zsl->header) + ix_mem_usage(zsl);
}

size_t zsl_mem_usage(const zskiplist *zsl) {
    return zsl_mem_usage_fixed(zsl) + zsl->node_bytes;
}

zskiplist *zsl_dup(const zskiplist *src) {
    /* Same levels as the source, so the copy has the same shape and memory. */
    zskiplist *zsl = zsl_new(src->sub);
    zsl_reserve(zsl, src->length);
    zsl_node *last[ZSL_MAX_LEVEL];
    for (int i = 0; i < ZSL_MAX_LEVEL; i++)
        last[i] = zsl->header;
    zsl_node *prev = NULL;
    for (const zsl_node *s = src->header->forward[0]; s; s = s->forward[0]) {
        zsl_node *n = elem_new(zsl, s->level, s->score, node_member(s), s->len);
        ix_add(zsl, n);
        for (unsigned i = 0; i < s->level; i++) {
            last[i]->forward[i] = n;
            last[i] = n;
        }
        n->backward = prev;
        prev = n;
    }
    zsl->tail = prev;
    zsl->length = src->length;
    zsl->level = src->level;
    /* spans: copy them from the source, node by node (same shapes) */
    const zsl_node *s = src->header;
    zsl_node *d = zsl->header;
    while (s) {
        memcpy(node_spans(d), node_spans(s), sizeof(uint32_t) * (s->level - 1u));
        s = s->forward[0];
        d = d->forward[0];
    }
    return zsl;
}

/* --- insert / delete ------------------------------------------------------------------ */

/* Link node x (its level, score and member set) into the list. */
static void link_node(zskiplist *zsl, zsl_node *x) {
    zsl_node *update[ZSL_MAX_LEVEL];
    uint32_t rank[ZSL_MAX_LEVEL];
    const unsigned char *m = node_member(x);
    double score = x->score;
    size_t len = x->len;
    zsl_node *p = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (p->forward[i] && node_before(p->forward[i], score, m, len)) {
            rank[i] += span_get(p, i);
            p = p->forward[i];
        }
        update[i] = p;
    }
    unsigned level = x->level;
    if (level > zsl->level) {
        for (unsigned i = zsl->level; i < level; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            span_set(zsl->header, (int)i, zsl->length);
        }
        zsl->level = (uint8_t)level;
    }
    for (unsigned i = 0; i < level; i++) {
        x->forward[i] = update[i]->forward[i];
        update[i]->forward[i] = x;
        span_set(x, (int)i, span_get(update[i], (int)i) - (rank[0] - rank[i]));
        span_set(update[i], (int)i, (rank[0] - rank[i]) + 1);
    }
    for (unsigned i = level; i < zsl->level; i++)
        span_set(update[i], (int)i, span_get(update[i], (int)i) + 1);
    x->backward = update[0] == zsl->header ? NULL : update[0];
    if (x->forward[0])
        x->forward[0]->backward = x;
    else
        zsl->tail = x;
    zsl->length++;
}

zsl_node *zsl_insert(zskiplist *zsl, double score, const void *m, size_t len) {
    zsl_node *x = elem_new(zsl, random_level(), score, m, len);
    link_node(zsl, x);
    ix_add(zsl, x);
    return x;
}

/* Unlink x, whose predecessors per level are update[]. Does not free it. */
static void unlink_node(zskiplist *zsl, zsl_node *x, zsl_node **update) {
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->forward[i] == x) {
            span_set(update[i], i, span_get(update[i], i) + span_get(x, i) - 1);
            update[i]->forward[i] = x->forward[i];
        } else {
            span_set(update[i], i, span_get(update[i], i) - 1);
        }
    }
    if (x->forward[0])
        x->forward[0]->backward = x->backward;
    else
        zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->forward[zsl->level - 1] == NULL)
        zsl->level--;
    zsl->length--;
}

/* Predecessors of (score, m) per level; returns the candidate node (may not match). */
static zsl_node *find_update(const zskiplist *zsl, double score, const void *m, size_t len,
                             zsl_node **update) {
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->forward[i] && node_before(x->forward[i], score, m, len))
            x = x->forward[i];
        update[i] = x;
    }
    return x->forward[0];
}

static int node_is(const zsl_node *x, double score, const void *m, size_t len) {
    return x && x->score == score && zsl_cmp_bytes(node_member(x), x->len, m, len) == 0;
}

int zsl_delete(zskiplist *zsl, double score, const void *m, size_t len) {
    zsl_node *update[ZSL_MAX_LEVEL];
    zsl_node *x = find_update(zsl, score, m, len, update);
    if (!node_is(x, score, m, len)) return 0;
    unlink_node(zsl, x, update);
    ix_remove(zsl, x);
    elem_free(zsl, x);
    return 1;
}

zsl_node *zsl_update_score(zskiplist *zsl, double cur, const void *m, size_t len, double newscore) {
    zsl_node *update[ZSL_MAX_LEVEL];
    zsl_node *x = find_update(zsl, cur, m, len, update);
    if (!node_is(x, cur, m, len)) return NULL;
    /* Still in place: between its neighbours after the change. */
    if ((x->backward == NULL || x->backward->score < newscore ||
         (x->backward->score == newscore &&
          zsl_cmp_bytes(node_member(x->backward), x->backward->len, m, len) < 0)) &&
        (x->forward[0] == NULL || x->forward[0]->score > newscore ||
         (x->forward[0]->score == newscore &&
          zsl_cmp_bytes(node_member(x->forward[0]), x->forward[0]->len, m, len) > 0))) {
        x->score = newscore;
        return x;
    }
    /* Move: unlink, then link the same node (same level, same place in the index). */
    unlink_node(zsl, x, update);
    x->score = newscore;
    link_node(zsl, x);
    return x;
}

/* --- ranks ---------------------------------------------------------------------------- */

unsigned long zsl_rank(const zskiplist *zsl, double score, const void *m, size_t len) {
    unsigned long rank = 0;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->forward[i] &&
               (x->forward[i]->score < score ||
                (x->forward[i]->score == score &&
                 zsl_cmp_bytes(node_member(x->forward[i]), x->forward[i]->len, m, len) <= 0))) {
            rank += span_get(x, i);
            x = x->forward[i];
        }
        if (x != zsl->header && node_is(x, score, m, len)) return rank;
    }
    return 0;
}

zsl_node *zsl_at_rank(const zskiplist *zsl, unsigned long rank) {
    if (rank == 0 || rank > zsl->length) return NULL;
    unsigned long traversed = 0;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->forward[i] && traversed + span_get(x, i) <= rank) {
            traversed += span_get(x, i);
            x = x->forward[i];
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

zsl_node *zsl_first(const zskiplist *zsl) {
    return zsl->header->forward[0];
}

zsl_node *zsl_last(const zskiplist *zsl) {
    return zsl->tail;
}

zsl_node *zsl_next(const zsl_node *n) {
    return n->forward[0];
}

zsl_node *zsl_prev(const zsl_node *n) {
    return n->backward;
}

double zsl_node_score(const zsl_node *n) {
    return n->score;
}

const unsigned char *zsl_node_member(const zsl_node *n, size_t *len) {
    *len = n->len;
    return node_member(n);
}

/* --- ranges --------------------------------------------------------------------------- */

static int score_in_any(const zskiplist *zsl, const zrange_score *r) {
    if (zrange_score_empty(r) || !zsl->tail) return 0;
    if (!zrange_score_gte_min(r, zsl->tail->score)) return 0;
    if (!zrange_score_lte_max(r, zsl->header->forward[0]->score)) return 0;
    return 1;
}

zsl_node *zsl_first_in_range(const zskiplist *zsl, const zrange_score *r) {
    if (!score_in_any(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->forward[i] && !zrange_score_gte_min(r, x->forward[i]->score))
            x = x->forward[i];
    x = x->forward[0];
    return x && zrange_score_lte_max(r, x->score) ? x : NULL;
}

zsl_node *zsl_last_in_range(const zskiplist *zsl, const zrange_score *r) {
    if (!score_in_any(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->forward[i] && zrange_score_lte_max(r, x->forward[i]->score))
            x = x->forward[i];
    return x != zsl->header && zrange_score_gte_min(r, x->score) ? x : NULL;
}

static int lex_in_any(const zskiplist *zsl, const zrange_lex *r) {
    if (zrange_lex_empty(r) || !zsl->tail) return 0;
    if (!zrange_lex_gte_min(r, node_member(zsl->tail), zsl->tail->len)) return 0;
    const zsl_node *f = zsl->header->forward[0];
    if (!zrange_lex_lte_max(r, node_member(f), f->len)) return 0;
    return 1;
}

zsl_node *zsl_first_in_lex_range(const zskiplist *zsl, const zrange_lex *r) {
    if (!lex_in_any(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->forward[i] &&
               !zrange_lex_gte_min(r, node_member(x->forward[i]), x->forward[i]->len))
            x = x->forward[i];
    x = x->forward[0];
    return x && zrange_lex_lte_max(r, node_member(x), x->len) ? x : NULL;
}

zsl_node *zsl_last_in_lex_range(const zskiplist *zsl, const zrange_lex *r) {
    if (!lex_in_any(zsl, r)) return NULL;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->forward[i] &&
               zrange_lex_lte_max(r, node_member(x->forward[i]), x->forward[i]->len))
            x = x->forward[i];
    return x != zsl->header && zrange_lex_gte_min(r, node_member(x), x->len) ? x : NULL;
}

/* Delete from x (whose predecessors are update[]) while keep(x) holds. */
typedef int (*keep_fn)(const void *range, const zsl_node *x);

static size_t delete_while(zskiplist *zsl, zsl_node *x, zsl_node **update, keep_fn keep,
                           const void *range, unsigned long limit, zsl_delete_fn fn, void *ctx) {
    size_t removed = 0;
    while (x && (keep ? keep(range, x) : removed < limit)) {
        zsl_node *next = x->forward[0];
        unlink_node(zsl, x, update);
        if (fn) fn(ctx, node_member(x), x->len);
        ix_remove(zsl, x);
        elem_free(zsl, x);
        removed++;
        x = next;
    }
    return removed;
}

static int keep_score(const void *range, const zsl_node *x) {
    return zrange_score_lte_max(range, x->score);
}

static int keep_lex(const void *range, const zsl_node *x) {
    return zrange_lex_lte_max(range, node_member(x), x->len);
}

size_t zsl_delete_range_by_score(zskiplist *zsl, const zrange_score *r, zsl_delete_fn fn,
                                 void *ctx) {
    if (zrange_score_empty(r)) return 0;
    zsl_node *update[ZSL_MAX_LEVEL];
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->forward[i] && !zrange_score_gte_min(r, x->forward[i]->score))
            x = x->forward[i];
        update[i] = x;
    }
    return delete_while(zsl, x->forward[0], update, keep_score, r, 0, fn, ctx);
}

size_t zsl_delete_range_by_lex(zskiplist *zsl, const zrange_lex *r, zsl_delete_fn fn, void *ctx) {
    if (zrange_lex_empty(r)) return 0;
    zsl_node *update[ZSL_MAX_LEVEL];
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->forward[i] &&
               !zrange_lex_gte_min(r, node_member(x->forward[i]), x->forward[i]->len))
            x = x->forward[i];
        update[i] = x;
    }
    return delete_while(zsl, x->forward[0], update, keep_lex, r, 0, fn, ctx);
}

size_t zsl_delete_range_by_rank(zskiplist *zsl, unsigned long start, unsigned long end,
                                zsl_delete_fn fn, void *ctx) {
    if (start == 0) start = 1;
    if (end > zsl->length) end = zsl->length;
    if (start > end) return 0;
    zsl_node *update[ZSL_MAX_LEVEL];
    unsigned long traversed = 0;
    zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->forward[i] && traversed + span_get(x, i) < start) {
            traversed += span_get(x, i);
            x = x->forward[i];
        }
        update[i] = x;
    }
    return delete_while(zsl, x->forward[0], update, NULL, NULL, end - start + 1, fn, ctx);
}
