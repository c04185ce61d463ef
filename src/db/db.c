#include "db/db.h"

#include "alloc/alloc.h"
#include "db/kstats.h"
#include "db/listpack.h"
#include "db/scan_cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One node type serves both tables.
 *
 * Key space: header, key bytes, value bytes, all in one allocation, so a GET touches the
 * bucket slot and then one block whose first cache line holds the header and (for keys up to
 * 40 bytes) the whole key. `tag` is 16 high bits of the key's hash: a chain walk compares tag
 * and length before it ever calls memcmp.
 *
 * Expires index: header and a copy of the key; `u.when` holds the expire time. */
struct db_entry {
    db_entry *next;
    uint32_t klen;
    uint16_t tag;
    uint8_t type;
    uint8_t flags;
    union {
        uint64_t vlen_lru; /* key space: value length (low 40 bits), LRU clock (high 24) */
        int64_t when;      /* expires index: absolute unix time in ms */
    } u;
    char data[]; /* key bytes, then (key space only) value bytes */
};

_Static_assert(sizeof(struct db_entry) == 24, "db_entry header must stay at 24 bytes");

#define ENTRY_HDR sizeof(struct db_entry)
#define ENTRY_HAS_EXPIRE 0x01u
#define ENTRY_ENC_SHIFT 1 /* flags bits 1-3: the encoding of a collection value */
#define ENTRY_ENC_MASK (0x07u << ENTRY_ENC_SHIFT)
#define ENTRY_STR_FORM_SHIFT 4 /* flags bits 4-5: a string's enum db_str_form */
#define ENTRY_STR_FORM_MASK (0x03u << ENTRY_STR_FORM_SHIFT)
#define ENTRY_NOTED 0x40u       /* a collection whose figures db_settle will compare (stats) */
#define ENTRY_SNAP 0x80u        /* equal to snap_parity: saved by the running snapshot (or new) */
#define OBJ_VLEN sizeof(void *) /* a collection entry's value bytes: the value's pointer */
#define VLEN_BITS 40
#define VLEN_MASK ((UINT64_C(1) << VLEN_BITS) - 1)

#define HT_INITIAL_SIZE 4
#define HT_MIN_FILL_PCT 10      /* shrink below this fill, as Redis's HASHTABLE_MIN_FILL */
#define EXPIRE_KEYS_PER_LOOP 20 /* as Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP */
#define EXPIRE_MAX_EMPTY_VISITS 40

/* Two tables while rehashing: entries move from b[0] to b[1], bucket by bucket, from
 * rehash_idx upwards; every bucket of b[0] below rehash_idx is empty. b[1] == NULL when no
 * rehash is in progress. A table of size 0 has no bucket array (fresh or flushed db). */
typedef struct htable {
    db_entry **b[2];
    size_t size[2];
    size_t used[2];
    size_t rehash_idx;
    alloc_sub sub;
} htable;

struct db {
    htable keys;
    htable expires;
    uint64_t rng;
    size_t counts[DB_TYPES][DB_ENCODINGS]; /* keys per type and encoding */
    int index;                             /* the db's number in the statistics */
};

static const db_type_ops *type_ops[DB_TYPES];

void db_register_type(int type, const db_type_ops *ops) {
    type_ops[type] = ops;
}

static const db_type_ops *ops_of(int type) {
    const db_type_ops *ops = type_ops[type];
    if (!ops) {
        fprintf(stderr, "memkv: db: type %d has no registered operations\n", type);
        abort();
    }
    return ops;
}

const char *db_encoding_name(unsigned enc) {
    static const char *const names[DB_ENCODINGS] = {"",       "listpack",  "hashtable",
                                                    "intset", "quicklist", "skiplist"};
    return enc < DB_ENCODINGS ? names[enc] : "";
}

const char *db_type_name(int type) {
    static const char *const names[DB_TYPES] = {"string", "hash", "list", "set", "zset"};
    return type >= 0 && type < DB_TYPES ? names[type] : "none";
}

/* ---- keyed hash ------------------------------------------------------------------------- */

static uint64_t hash_k0 = UINT64_C(0x6c62272e07bb0142);
static uint64_t hash_k1 = UINT64_C(0x8b2fe7c1d35a9461);

#define HASH_P0 UINT64_C(0x9e3779b97f4a7c15)
#define HASH_P1 UINT64_C(0xc2b2ae3d27d4eb4f)

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

/* 64x64->128 multiply folded back to 64 bits: every output bit depends on every input bit. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Keys up to 16 bytes (the common case) cost two multiplies; longer keys one more per 16
 * bytes. The secret seed enters every multiply, so colliding keys cannot be precomputed. */
static uint64_t key_hash(const char *key, size_t len) {
    const unsigned char *p = (const unsigned char *)key;
    uint64_t a, b, h = hash_k0;
    if (len <= 16) {
        if (len >= 8) {
            a = load64(p);
            b = load64(p + len - 8);
        } else if (len >= 4) {
            a = load32(p);
            b = load32(p + len - 4);
        } else if (len > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t left = len;
        while (left > 16) {
            h = fold_mul(load64(p) ^ hash_k1, load64(p + 8) ^ h);
            p += 16;
            left -= 16;
        }
        a = load64(p + left - 16);
        b = load64(p + left - 8);
    }
    uint64_t x = fold_mul(a ^ hash_k1 ^ HASH_P0, b ^ h);
    return fold_mul(x ^ HASH_P1, (uint64_t)len ^ hash_k0 ^ HASH_P0);
}

uint64_t db_hash_bytes(const void *p, size_t len) {
    return key_hash((const char *)p, len);
}

static inline uint16_t hash_tag(uint64_t hv) {
    return (uint16_t)(hv >> 48);
}

/* ---- LRU clock -------------------------------------------------------------------------- */

/* The clock already shifted into place in vlen_lru: a stamp is one and, one or, one store. */
static uint64_t lru_stamp;

static inline void entry_touch(db_entry *e) {
    e->u.vlen_lru = (e->u.vlen_lru & VLEN_MASK) | lru_stamp;
}

void db_set_lru_clock(uint32_t clock) {
    lru_stamp = (uint64_t)(clock & DB_LRU_MAX) << VLEN_BITS;
}

uint32_t db_lru_clock(void) {
    return (uint32_t)(lru_stamp >> VLEN_BITS);
}

void db_set_hash_seed(const uint8_t seed[16]) {
    memcpy(&hash_k0, seed, 8);
    memcpy(&hash_k1, seed + 8, 8);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static inline uint64_t rng_next(db *d) {
    /* splitmix64: fine for picking buckets, not for anything secret. */
    uint64_t z = (d->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void db_fatal(const char *what, size_t len) {
    fprintf(stderr, "memkv: db: %s too long (%zu bytes)\n", what, len);
    abort();
}

static alloc_sub type_sub(int type) {
    switch (type) {
    case DB_TYPE_HASH:
        return ALLOC_SUB_HASHES;
    case DB_TYPE_LIST:
        return ALLOC_SUB_LISTS;
    case DB_TYPE_SET:
        return ALLOC_SUB_SETS;
    case DB_TYPE_ZSET:
        return ALLOC_SUB_ZSETS;
    default:
        return ALLOC_SUB_STRINGS;
    }
}

static inline size_t entry_vlen(const db_entry *e) {
    return (size_t)(e->u.vlen_lru & VLEN_MASK);
}

static inline void entry_set_vlen(db_entry *e, size_t vlen) {
    e->u.vlen_lru = (e->u.vlen_lru & ~VLEN_MASK) | (uint64_t)vlen;
}

static inline unsigned entry_enc(const db_entry *e) {
    return (e->flags & ENTRY_ENC_MASK) >> ENTRY_ENC_SHIFT;
}

static inline void *entry_ptr(const db_entry *e) {
    void *p;
    memcpy(&p, e->data + e->klen, sizeof(p)); /* after the key bytes: unaligned */
    return p;
}

/* Keeps d->counts in step with an entry entering (+1) or leaving (-1) the key space. */
static inline void count_entry(db *d, const db_entry *e, int delta) {
    if (delta > 0)
        d->counts[e->type][entry_enc(e)]++;
    else
        d->counts[e->type][entry_enc(e)]--;
}

/* Frees a key-space entry. Strings own nothing outside their block; collections release
 * their value through their type's operations. */
static void entry_free(db_entry *e) {
    if (e->type == DB_TYPE_STRING) {
        alloc_free_sized(ALLOC_SUB_STRINGS, e, ENTRY_HDR + e->klen + entry_vlen(e));
    } else {
        ops_of(e->type)->free(entry_ptr(e), entry_enc(e));
        alloc_free_sized(type_sub(e->type), e, ENTRY_HDR + e->klen + OBJ_VLEN);
    }
}

/* ---- key-space statistics -------------------------------------------------------------- */

/* The statistics every db reports to (NULL: none), and the collection keys looked up since
 * the last db_settle with the figures they had then. */
static kstats *stats;
/* alloc_usable_is_class(), read once: usable sizes come from size classes (jemalloc). */
static int sizes_are_classes;

/* A noted key's figures, kept lean (a note is taken at every lookup of a collection): what its
 * ks_key would hold, less what the entry itself still says (name, db, type). */
typedef struct noted_key {
    db *d;
    db_entry *e;
    uint64_t hv;
    uint64_t outer;  /* bytes outside the value: the entry's block, the expire (stay while noted) */
    uint64_t vbytes; /* bytes the value held */
    uint64_t len;
    int64_t when;
} noted_key;
static noted_key *noted;
static size_t noted_n, noted_cap;
static int reads_only; /* db_reads_only until the next db_settle */

/* ---- snapshots (db.h) ------------------------------------------------------------------- */

static db_snapshot_fn snap_fn;
static uint8_t snap_parity; /* ENTRY_SNAP or 0: what a saved (or new) entry's bit holds */

/* Before an entry is changed, deleted or handed to a caller: the running snapshot saves it
 * first if it has not yet. The bit is set first so the callback cannot recurse. */
static inline void snap_guard(db *d, db_entry *e) {
    if (snap_fn && (e->flags & ENTRY_SNAP) != snap_parity) {
        e->flags = (uint8_t)((e->flags & ~ENTRY_SNAP) | snap_parity);
        snap_fn(d, e);
    }
}

void db_snapshot_begin(db_snapshot_fn fn) {
    snap_parity ^= ENTRY_SNAP; /* every entry that exists now becomes "not saved yet" */
    snap_fn = fn;
}

int db_snapshot_claim(const db_entry *e) {
    db_entry *m = (db_entry *)e; /* only the flag bit changes: allowed inside db_scan */
    if ((m->flags & ENTRY_SNAP) == snap_parity) return 0;
    m->flags = (uint8_t)((m->flags & ~ENTRY_SNAP) | snap_parity);
    return 1;
}

static void snap_mark(void *ctx, db *d, const db_entry *e) {
    (void)ctx;
    (void)d;
    db_snapshot_claim(e);
}

void db_snapshot_end(db **dbs, size_t n, int completed) {
    snap_fn = NULL;
    if (!completed) /* entries left unsaved would look saved to the next snapshot's flip */
        for (size_t i = 0; i < n; i++)
            db_for_each(dbs[i], snap_mark, NULL);
}

/* ---- change signals (db.h) ------------------------------------------------------------- */

static db_change_fn change_hook;

static inline void signal_change(db *d, const char *key, size_t klen, int change) {
    if (change_hook) change_hook(d, key, klen, change);
}

void db_set_change_hook(db_change_fn fn) {
    change_hook = fn;
}

void db_changes_mute(db_muted *saved) {
    saved->hook = change_hook;
    change_hook = NULL;
}

void db_changes_unmute(const db_muted *saved) {
    change_hook = saved->hook;
}

void db_key_changed(db *d, const char *key, size_t klen) {
    signal_change(d, key, klen, DB_CHANGE_WRITE);
}

int db_get_index(const db *d) {
    return d->index;
}

void db_attach_stats(kstats *ks) {
    db_settle();
    sizes_are_classes = alloc_usable_is_class();
    stats = ks;
}

static db_key_hook hook_new, hook_expired;

void db_set_key_hooks(db_key_hook on_new, db_key_hook on_expired) {
    hook_new = on_new;
    hook_expired = on_expired;
}

void db_set_index(db *d, int index) {
    d->index = index;
}

void db_swap_index(db *a, db *b) {
    if (a == b) return;
    db_settle(); /* noted keys carry their db's number */
    int ia = a->index;
    a->index = b->index;
    b->index = ia;
    if (stats) kstats_swap_dbs(stats, a->index, b->index);
}

/* Usable bytes of a block last requested at `size` bytes. */
static inline size_t block_bytes(const void *p, size_t size) {
    return sizes_are_classes ? alloc_size_class(size) : alloc_usable_size(p);
}

/* What MEMORY USAGE counts for the entry alone (db_entry_mem_usage, exact). */
static inline uint64_t entry_bytes(const db_entry *e) {
    if (e->type == DB_TYPE_STRING)
        return block_bytes(e, ENTRY_HDR + e->klen + entry_vlen(e)) + sizeof(db_entry *);
    return block_bytes(e, ENTRY_HDR + e->klen + OBJ_VLEN) + sizeof(db_entry *) +
           ops_of(e->type)->mem_usage(entry_ptr(e), entry_enc(e), 0);
}

static db_entry *exp_lookup(db *d, const char *key, size_t klen, uint64_t hv);

/* The figures of e now; `when` is its expire (-1: none), or -2 to look it up; hv the key's hash
 * when known (0: not). */
/* A collection's value: its MEMORY USAGE bytes beyond the entry's block, and its length. */
static inline uint64_t value_figures(const db_entry *e, uint64_t *len) {
    const db_type_ops *ops = ops_of(e->type);
    void *ptr = entry_ptr(e);
    size_t n, bytes;
    if (ops->lp_entries && entry_enc(e) == DB_ENC_LISTPACK) {
        *len = lp_length(ptr) / ops->lp_entries;
        return lp_mem_usage(ptr);
    }
    if (ops->figures) {
        bytes = ops->figures(ptr, entry_enc(e), &n);
    } else {
        n = ops->len(ptr, entry_enc(e));
        bytes = ops->mem_usage(ptr, entry_enc(e), 0);
    }
    *len = n;
    return bytes;
}

/* What MEMORY USAGE counts for a collection entry's block alone. */
static inline uint64_t object_block_bytes(const db_entry *e) {
    return block_bytes(e, ENTRY_HDR + e->klen + OBJ_VLEN) + sizeof(db_entry *);
}

/* What MEMORY USAGE counts for e's expires-index entry (0: none). *when: its expire when known
 * (< 0: look it up); out: the expire, -1 for none. */
static inline uint64_t expire_bytes(db *d, const db_entry *e, int64_t *when, uint64_t hv) {
    if (!(e->flags & ENTRY_HAS_EXPIRE)) {
        *when = -1;
        return 0;
    }
    const db_entry *x = NULL;
    if (*when < 0 || !sizes_are_classes) {
        x = exp_lookup(d, e->data, e->klen, hv ? hv : key_hash(e->data, e->klen));
        if (!x) {
            *when = -1;
            return 0;
        }
        if (*when < 0) *when = x->u.when;
    }
    return block_bytes(x, ENTRY_HDR + e->klen) + sizeof(db_entry *);
}

/* A key's figures; *vbytes (if not NULL) gets what of k->bytes its value holds (0: a string). */
static void key_figures_v(db *d, const db_entry *e, int64_t when, uint64_t hv, ks_key *k,
                          uint64_t *vbytes) {
    k->hv = hv;
    k->key = e->data;
    k->klen = e->klen;
    k->db = d->index;
    k->type = e->type;
    if (e->type == DB_TYPE_STRING) {
        k->bytes = entry_bytes(e);
        k->len = entry_vlen(e);
        if (vbytes) *vbytes = 0;
    } else {
        uint64_t vb = value_figures(e, &k->len);
        k->bytes = object_block_bytes(e) + vb;
        if (vbytes) *vbytes = vb;
    }
    k->bytes += expire_bytes(d, e, &when, hv);
    k->when = when;
}

static void key_figures(db *d, const db_entry *e, int64_t when, uint64_t hv, ks_key *k) {
    key_figures_v(d, e, when, hv, k, NULL);
}

static noted_key *noted_find(const db_entry *e) {
    for (size_t i = 0; i < noted_n; i++)
        if (noted[i].e == e) return &noted[i];
    return NULL;
}

/* A collection key a command may change: keep its figures so db_settle sees the change. */
__attribute__((noinline)) static void note_key_any(db *d, db_entry *e, int64_t when, uint64_t hv) {
    if (noted_n == noted_cap) {
        noted_cap = noted_cap ? noted_cap * 2 : 16;
        noted = alloc_realloc(ALLOC_SUB_KEYSPACE_STATS, noted, noted_cap * sizeof(*noted));
    }
    noted_key *n = &noted[noted_n++];
    n->d = d;
    n->e = e;
    n->hv = hv;
    n->outer = object_block_bytes(e) + expire_bytes(d, e, &when, hv);
    n->when = when;
    n->vbytes = value_figures(e, &n->len);
    e->flags |= ENTRY_NOTED;
}

/* note_key_any; the common case (a listpack without expire, with room) read straight from the
 * listpack's header. Out of line: inlined, it would cost every lookup (reads of strings too)
 * registers saved. */
__attribute__((noinline)) static void note_key(db *d, db_entry *e, int64_t when, uint64_t hv) {
    const db_type_ops *ops = ops_of(e->type);
    if (noted_n < noted_cap && !(e->flags & ENTRY_HAS_EXPIRE) && ops->lp_entries &&
        entry_enc(e) == DB_ENC_LISTPACK && sizes_are_classes) {
        const unsigned char *lp = entry_ptr(e);
        noted_key *n = &noted[noted_n++];
        n->d = d;
        n->e = e;
        n->hv = hv;
        n->when = -1;
        n->outer = object_block_bytes(e);
        n->len = lp_length(lp) / ops->lp_entries;
        n->vbytes = lp_mem_usage(lp);
        e->flags |= ENTRY_NOTED;
        return;
    }
    note_key_any(d, e, when, hv);
}

/* The figures a noted key had when noted (or last renewed). */
static inline void noted_figures(const noted_key *n, ks_key *k) {
    const db_entry *e = n->e;
    k->key = e->data;
    k->klen = e->klen;
    k->db = n->d->index;
    k->type = e->type;
    k->bytes = n->outer + n->vbytes;
    k->len = n->len;
    k->when = n->when;
    k->hv = n->hv;
}

/* A read changes no listpack, intset or quicklist; a hash table may take a rehash step. */
static inline int read_may_change(const db_entry *e) {
    unsigned enc = entry_enc(e);
    return enc == DB_ENC_HASHTABLE || enc == DB_ENC_SKIPLIST;
}

static inline void note_if_collection(db *d, db_entry *e, int64_t when, uint64_t hv) {
    if (stats && e->type != DB_TYPE_STRING && !(e->flags & ENTRY_NOTED) &&
        (!reads_only || read_may_change(e)))
        note_key(d, e, when, hv);
}

void db_reads_only(void) {
    reads_only = 1;
}

void db_entry_will_change(db *d, db_entry *e) {
    if (stats && e->type != DB_TYPE_STRING && !(e->flags & ENTRY_NOTED)) note_key(d, e, -2, 0);
}

/* The figures the statistics hold for e (its noted ones if a command changed it since). */
static void key_counted(db *d, db_entry *e, uint64_t hv, ks_key *k) {
    noted_key *n = (e->flags & ENTRY_NOTED) ? noted_find(e) : NULL;
    if (n) {
        noted_figures(n, k);
        if (hv) k->hv = hv;
        return;
    }
    key_figures(d, e, -2, hv, k);
}

/* A string without expire: its figures need no lookup (the common write, kept lean). */
static inline int plain_string(const db_entry *e) {
    return e->type == DB_TYPE_STRING && !(e->flags & ENTRY_HAS_EXPIRE);
}

/* e leaves the key space (or its name or db changes): take its counted figures out. */
__attribute__((noinline)) static void stats_remove_counted(db *d, db_entry *e, uint64_t hv) {
    ks_key k;
    key_counted(d, e, hv, &k);
    kstats_remove(stats, &k);
    if (e->flags & ENTRY_NOTED) {
        noted_key *n = noted_find(e);
        if (n) *n = noted[--noted_n];
        e->flags &= (uint8_t)~ENTRY_NOTED;
    }
}

__attribute__((noinline)) static void stats_add_figured(db *d, db_entry *e, int64_t when,
                                                        uint64_t hv) {
    ks_key k;
    key_figures(d, e, when, hv, &k);
    kstats_add(stats, &k);
}

static inline void stats_remove(db *d, db_entry *e, uint64_t hv) {
    if (!stats) return;
    if (plain_string(e)) /* strings are never noted */
        kstats_remove_string(stats, d->index, e->data, e->klen, hv, entry_bytes(e), entry_vlen(e));
    else
        stats_remove_counted(d, e, hv);
}

static inline void stats_add(db *d, db_entry *e, int64_t when, uint64_t hv) {
    if (!stats) return;
    if (plain_string(e))
        kstats_add_string(stats, d->index, e->data, e->klen, hv, entry_bytes(e), entry_vlen(e));
    else
        stats_add_figured(d, e, when, hv);
}

static void stats_after(db *d, db_entry *e, const ks_key *before, int64_t when) {
    ks_key k, b = *before;
    uint64_t vbytes;
    b.key = e->data; /* the entry may have moved (a resize): its old key bytes are gone */
    key_figures_v(d, e, when, b.hv, &k, &vbytes);
    kstats_change(stats, &b, &k);
    if (e->flags & ENTRY_NOTED) {
        noted_key *n = noted_find(e);
        if (n) {
            n->outer = k.bytes - vbytes;
            n->vbytes = vbytes;
            n->len = k.len;
            n->when = k.when;
            n->hv = k.hv;
        }
    }
}

/* A noted key's change since its note, to the statistics. */
static inline void settle_key(const noted_key *n) {
    n->e->flags &= (uint8_t)~ENTRY_NOTED;
    if (!stats) return;
    /* Only the value can have changed: the entry's block, db and expire are as noted
     * (whatever changed them took the note out or renewed it). */
    uint64_t len, vbytes = value_figures(n->e, &len);
    if (vbytes == n->vbytes && len == n->len) return; /* a read */
    ks_key b;
    noted_figures(n, &b);
    kstats_change_value(stats, &b, n->outer + vbytes, len);
}

__attribute__((noinline)) static void settle_noted(void) {
    for (size_t i = 0; i < noted_n; i++)
        settle_key(&noted[i]);
    noted_n = 0;
}

/* The common case, one key (a write to a collection), without the loop's registers. */
__attribute__((noinline)) static void settle_one(void) {
    noted_n = 0;
    settle_key(&noted[0]);
}

void db_settle(void) {
    reads_only = 0;
    if (noted_n == 1) /* after every command: the empty case saves no register */
        settle_one();
    else if (noted_n)
        settle_noted();
}

void db_entry_stats(db *d, const db_entry *e, ks_key *k) {
    key_figures(d, e, -2, 0, k);
}

/* ---- hash table ------------------------------------------------------------------------- */

static inline int ht_rehashing(const htable *h) {
    return h->b[1] != NULL;
}

static inline size_t ht_used(const htable *h) {
    return h->used[0] + h->used[1];
}

/* Returns the link (bucket slot or previous entry's next field) that points to the entry with
 * this key, or NULL; *tbl gets the table it lives in. The link is valid until the table is
 * modified. */
static db_entry **ht_find(htable *h, const char *key, size_t klen, uint64_t hv, int *tbl) {
    if (h->size[0] == 0) return NULL;
    uint16_t tag = hash_tag(hv);
    for (int t = 0; t < 2; t++) {
        size_t idx = (size_t)hv & (h->size[t] - 1);
        /* Buckets of the old table below rehash_idx have already moved. */
        if (t == 1 || !ht_rehashing(h) || idx >= h->rehash_idx) {
            db_entry **link = &h->b[t][idx];
            for (db_entry *e = *link; e; link = &e->next, e = *link) {
                if (e->tag == tag && e->klen == klen && memcmp(e->data, key, klen) == 0) {
                    if (tbl) *tbl = t;
                    return link;
                }
            }
        }
        if (!ht_rehashing(h)) break;
    }
    return NULL;
}

static void ht_finish_rehash(htable *h) {
    alloc_free_sized(h->sub, h->b[0], h->size[0] * sizeof(db_entry *));
    h->b[0] = h->b[1];
    h->size[0] = h->size[1];
    h->used[0] = h->used[1];
    h->b[1] = NULL;
    h->size[1] = 0;
    h->used[1] = 0;
    h->rehash_idx = 0;
}

/* Moves up to n non-empty buckets (visiting at most 10*n empty ones). Returns 1 while a rehash
 * is still in progress. A shrink maps old bucket i to i & new_mask; only a grow needs the
 * hash again. */
static int ht_rehash(htable *h, size_t n) {
    if (!ht_rehashing(h)) return 0;
    size_t empty_visits = n * 10;
    size_t mask1 = h->size[1] - 1;
    int grow = h->size[1] > h->size[0];
    while (n > 0 && h->used[0] > 0) {
        db_entry *e = h->b[0][h->rehash_idx];
        if (!e) {
            h->rehash_idx++;
            if (--empty_visits == 0) break;
            continue;
        }
        while (e) {
            db_entry *next = e->next;
            size_t idx = grow ? (size_t)key_hash(e->data, e->klen) & mask1 : h->rehash_idx & mask1;
            e->next = h->b[1][idx];
            h->b[1][idx] = e;
            h->used[0]--;
            h->used[1]++;
            e = next;
        }
        h->b[0][h->rehash_idx++] = NULL;
        n--;
    }
    if (h->used[0] == 0) ht_finish_rehash(h);
    return ht_rehashing(h);
}

static void ht_resize(htable *h, size_t size) {
    db_entry **nb = alloc_calloc(h->sub, size * sizeof(*nb));
    if (h->used[0] == 0) { /* nothing to move */
        alloc_free_sized(h->sub, h->b[0], h->size[0] * sizeof(db_entry *));
        h->b[0] = nb;
        h->size[0] = size;
        return;
    }
    h->b[1] = nb;
    h->size[1] = size;
    h->used[1] = 0;
    h->rehash_idx = 0;
}

/* Grow at load factor 1, doubling. */
static void ht_expand_if_needed(htable *h) {
    if (ht_rehashing(h)) return;
    if (h->size[0] == 0)
        ht_resize(h, HT_INITIAL_SIZE);
    else if (h->used[0] >= h->size[0])
        ht_resize(h, h->size[0] * 2);
}

/* An empty table sized for n entries at once (no step-by-step growth, no rehash). */
static void ht_reserve(htable *h, size_t n) {
    if (ht_rehashing(h) || h->used[0] || n <= h->size[0]) return;
    size_t size = HT_INITIAL_SIZE;
    while (size < n)
        size <<= 1;
    ht_resize(h, size);
}

/* Shrink when less than 10% full, to the smallest power of two that holds every key. */
static void ht_shrink_if_needed(htable *h) {
    if (ht_rehashing(h) || h->size[0] <= HT_INITIAL_SIZE) return;
    if (h->used[0] * 100 >= h->size[0] * HT_MIN_FILL_PCT) return;
    size_t size = HT_INITIAL_SIZE;
    while (size < h->used[0])
        size <<= 1;
    ht_resize(h, size);
}

static void ht_insert(htable *h, db_entry *e, uint64_t hv) {
    ht_expand_if_needed(h);
    int t = ht_rehashing(h) ? 1 : 0;
    size_t idx = (size_t)hv & (h->size[t] - 1);
    e->next = h->b[t][idx];
    h->b[t][idx] = e;
    h->used[t]++;
}

void db_reserve(db *d, size_t keys, size_t expires) {
    ht_reserve(&d->keys, keys);
    ht_reserve(&d->expires, expires);
}

static void ht_clear(htable *h, int key_space) {
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < h->size[t]; i++) {
            db_entry *e = h->b[t][i];
            while (e) {
                db_entry *next = e->next;
                if (key_space)
                    entry_free(e);
                else
                    alloc_free_sized(h->sub, e, ENTRY_HDR + e->klen);
                e = next;
            }
        }
        alloc_free_sized(h->sub, h->b[t], h->size[t] * sizeof(db_entry *));
    }
    alloc_sub sub = h->sub;
    memset(h, 0, sizeof(*h));
    h->sub = sub;
}

/* ---- expires index ---------------------------------------------------------------------- */

static db_entry *exp_lookup(db *d, const char *key, size_t klen, uint64_t hv) {
    db_entry **link = ht_find(&d->expires, key, klen, hv, NULL);
    return link ? *link : NULL;
}

static void exp_add(db *d, const char *key, size_t klen, uint64_t hv, int64_t when) {
    db_entry *x = alloc_malloc(ALLOC_SUB_EXPIRES_INDEX, ENTRY_HDR + klen);
    x->klen = (uint32_t)klen;
    x->tag = hash_tag(hv);
    x->type = 0;
    x->flags = 0;
    x->u.when = when;
    memcpy(x->data, key, klen);
    ht_insert(&d->expires, x, hv);
}

static void exp_del(db *d, const char *key, size_t klen, uint64_t hv) {
    int t;
    db_entry **link = ht_find(&d->expires, key, klen, hv, &t);
    if (!link) return;
    db_entry *x = *link;
    *link = x->next;
    d->expires.used[t]--;
    alloc_free_sized(ALLOC_SUB_EXPIRES_INDEX, x, ENTRY_HDR + x->klen);
}

/* Unlinks and frees the key-space entry *link (found in table t) and its expire. */
static void key_remove(db *d, db_entry **link, int t, uint64_t hv) {
    snap_guard(d, *link);
    db_entry *e = *link;
    if (plain_string(e)) { /* the common DEL: the block's size reckoned once */
        size_t size = ENTRY_HDR + e->klen + entry_vlen(e);
        if (stats)
            kstats_remove_string(stats, d->index, e->data, e->klen, hv,
                                 block_bytes(e, size) + sizeof(db_entry *), entry_vlen(e));
        *link = e->next;
        d->keys.used[t]--;
        count_entry(d, e, -1);
        alloc_free_sized(ALLOC_SUB_STRINGS, e, size);
        return;
    }
    stats_remove(d, e, hv);
    *link = e->next;
    d->keys.used[t]--;
    if (e->flags & ENTRY_HAS_EXPIRE) exp_del(d, e->data, e->klen, hv);
    count_entry(d, e, -1);
    entry_free(e);
}

/* ---- public API ------------------------------------------------------------------------- */

db *db_new(void) {
    db *d = alloc_calloc(ALLOC_SUB_KEY_INDEX, sizeof(*d));
    d->keys.sub = ALLOC_SUB_KEY_INDEX;
    d->expires.sub = ALLOC_SUB_EXPIRES_INDEX;
    d->rng = hash_k0 ^ (uint64_t)(uintptr_t)d;
    return d;
}

void db_free(db *d) {
    if (!d) return;
    db_flush(d);
    alloc_free(ALLOC_SUB_KEY_INDEX, d);
}

static int expire_keep; /* db_set_expire_keep */

void db_set_expire_keep(int on) {
    expire_keep = on;
}

db_entry *db_find(db *d, const char *key, size_t klen, int64_t now_ms, uint64_t *expired) {
    if (ht_rehashing(&d->keys)) ht_rehash(&d->keys, 1);
    uint64_t hv = key_hash(key, klen);
    int t;
    db_entry **link = ht_find(&d->keys, key, klen, hv, &t);
    if (!link) return NULL;
    db_entry *e = *link;
    int64_t when = -1;
    if (e->flags & ENTRY_HAS_EXPIRE) {
        db_entry *x = exp_lookup(d, key, klen, hv);
        if (x && x->u.when <= now_ms) {
            if (expire_keep) return NULL; /* missing for the caller, deleted later */
            if (hook_expired) {
                hook_expired(d->index, key, klen);
                link = ht_find(&d->keys, key, klen, hv, &t); /* the hook may not, but be safe */
            }
            key_remove(d, link, t, hv);
            if (expired) (*expired)++;
            signal_change(d, key, klen, DB_CHANGE_EXPIRED);
            return NULL;
        }
        if (x) when = x->u.when;
    }
    snap_guard(d, e);
    note_if_collection(d, e, when, hv);
    return e;
}

db_entry *db_find_touch(db *d, const char *key, size_t klen, int64_t now_ms, uint64_t *expired) {
    db_entry *e = db_find(d, key, klen, now_ms, expired);
    if (e) entry_touch(e);
    return e;
}

db_entry *db_peek(db *d, const char *key, size_t klen) {
    db_entry **link = ht_find(&d->keys, key, klen, key_hash(key, klen), NULL);
    return link ? *link : NULL;
}

db_entry *db_set_string(db *d, const char *key, size_t klen, const char *val, size_t vlen,
                        int keep_ttl) {
    if (klen > DB_KEY_MAX_LEN) db_fatal("key", klen);
    if (vlen > DB_STRING_MAX_LEN) db_fatal("string value", vlen);
    if (ht_rehashing(&d->keys)) ht_rehash(&d->keys, 1);
    uint64_t hv = key_hash(key, klen);
    db_entry **link = ht_find(&d->keys, key, klen, hv, NULL);
    db_entry *e;
    ks_key before;
    /* 1: a string changed; 2: a string that replaced a collection; 3: a string whose block
     * stays in its size class and whose expire stays: only its length can change; 4: a new
     * key. */
    int change = 0;
    size_t old_vlen = 0;
    if (link) {
        snap_guard(d, *link);
        e = *link;
        /* A string staying in its size class keeps its block: no allocator, and for the
         * statistics only its length changes. */
        int same_class = 0;
        if (e->type == DB_TYPE_STRING) {
            old_vlen = entry_vlen(e);
            same_class = alloc_size_class(ENTRY_HDR + klen + old_vlen) ==
                         alloc_size_class(ENTRY_HDR + klen + vlen);
        }
        if (stats) {
            if (e->type == DB_TYPE_STRING) {
                if (sizes_are_classes && (keep_ttl || !(e->flags & ENTRY_HAS_EXPIRE)) &&
                    same_class) {
                    change = 3;
                } else {
                    key_counted(d, e, hv, &before);
                    change = 1;
                }
            } else {
                stats_remove(d, e, hv);
                change = 2;
            }
        }
        if ((e->flags & ENTRY_HAS_EXPIRE) && !keep_ttl) {
            exp_del(d, key, klen, hv);
            e->flags &= (uint8_t)~ENTRY_HAS_EXPIRE;
        }
        e->flags &= (uint8_t)~ENTRY_STR_FORM_MASK;
        if (e->type == DB_TYPE_STRING) {
            /* Reuse the block and the chain slot; header, key and LRU stay. Within the same
             * size class nothing needs the allocator at all. */
            if (!same_class)
                e = alloc_realloc_sized(ALLOC_SUB_STRINGS, e, ENTRY_HDR + klen + old_vlen,
                                        ENTRY_HDR + klen + vlen);
        } else {
            db_entry *n = alloc_malloc(ALLOC_SUB_STRINGS, ENTRY_HDR + klen + vlen);
            memcpy(n, e, ENTRY_HDR + klen);
            count_entry(d, e, -1);
            entry_free(e);
            e = n;
            e->type = DB_TYPE_STRING;
            e->flags &= (uint8_t)~ENTRY_ENC_MASK;
            count_entry(d, e, +1);
        }
        *link = e;
    } else {
        e = alloc_malloc(ALLOC_SUB_STRINGS, ENTRY_HDR + klen + vlen);
        e->klen = (uint32_t)klen;
        e->tag = hash_tag(hv);
        e->type = DB_TYPE_STRING;
        e->flags = snap_parity;
        e->u.vlen_lru = lru_stamp;
        memcpy(e->data, key, klen);
        ht_insert(&d->keys, e, hv);
        count_entry(d, e, +1);
        change = 4;
        if (hook_new) hook_new(d->index, key, klen);
    }
    entry_set_vlen(e, vlen);
    if (vlen) memcpy(e->data + klen, val, vlen);
    if (stats) {
        int64_t when = (e->flags & ENTRY_HAS_EXPIRE) ? -2 : -1;
        if (change == 4 && sizes_are_classes) {
            /* A new key (SET of a key that was missing, the common write): no expire, its
             * block's size known here, the leaf called straight. */
            kstats_add_string(stats, d->index, key, klen, hv,
                              alloc_size_class(ENTRY_HDR + klen + vlen) + sizeof(db_entry *), vlen);
        } else if (change == 3) {
            if (old_vlen != vlen) { /* bytes and expire as they were: the length's bin only */
                ks_key b = {.db = d->index, .type = DB_TYPE_STRING, .len = old_vlen}, a = b;
                a.len = vlen;
                kstats_change(stats, &b, &a);
            }
        } else if (change == 1) {
            stats_after(d, e, &before, when == -2 && before.when >= 0 ? before.when : when);
        } else {
            stats_add(d, e, when, hv);
        }
    }
    signal_change(d, key, klen, DB_CHANGE_WRITE);
    return e;
}

db_entry *db_string_resize(db *d, db_entry *e, size_t new_len) {
    if (new_len > DB_STRING_MAX_LEN) db_fatal("string value", new_len);
    snap_guard(d, e);
    size_t klen = e->klen, old_len = entry_vlen(e);
    /* The caller writes the value's bytes: a change even at the same length (APPEND of "",
     * SETRANGE within the string). */
    signal_change(d, e->data, klen, DB_CHANGE_WRITE);
    if (new_len == old_len) return e;
    uint64_t hv = key_hash(e->data, klen);
    db_entry **link = ht_find(&d->keys, e->data, klen, hv, NULL);
    if (!link || *link != e) {
        fprintf(stderr, "memkv: db_string_resize: entry not in this db\n");
        abort();
    }
    ks_key before;
    if (stats) key_counted(d, e, hv, &before);
    e = alloc_realloc_sized(ALLOC_SUB_STRINGS, e, ENTRY_HDR + klen + old_len,
                            ENTRY_HDR + klen + new_len);
    if (new_len > old_len) memset(e->data + klen + old_len, 0, new_len - old_len);
    entry_set_vlen(e, new_len);
    *link = e;
    if (stats) stats_after(d, e, &before, before.when);
    return e;
}

/* A new key-space entry with `vlen` value bytes (uninitialised), inserted into the table. */
static db_entry *entry_insert_new(db *d, const char *key, size_t klen, uint64_t hv, int type,
                                  unsigned enc, size_t vlen) {
    db_entry *e = alloc_malloc(type_sub(type), ENTRY_HDR + klen + vlen);
    e->klen = (uint32_t)klen;
    e->tag = hash_tag(hv);
    e->type = (uint8_t)type;
    e->flags = (uint8_t)(enc << ENTRY_ENC_SHIFT) | snap_parity;
    e->u.vlen_lru = lru_stamp | (uint64_t)vlen;
    memcpy(e->data, key, klen);
    ht_insert(&d->keys, e, hv);
    count_entry(d, e, +1);
    if (hook_new) hook_new(d->index, key, klen);
    return e;
}

db_entry *db_add_object(db *d, const char *key, size_t klen, int type, unsigned enc, void *ptr) {
    if (klen > DB_KEY_MAX_LEN) db_fatal("key", klen);
    if (type <= DB_TYPE_STRING || type >= DB_TYPES || enc == DB_ENC_NONE || enc >= DB_ENCODINGS) {
        fprintf(stderr, "memkv: db_add_object: bad type %d / encoding %u\n", type, enc);
        abort();
    }
    if (ht_rehashing(&d->keys)) ht_rehash(&d->keys, 1);
    uint64_t hv = key_hash(key, klen);
    if (ht_find(&d->keys, key, klen, hv, NULL)) {
        fprintf(stderr, "memkv: db_add_object: key exists\n");
        abort();
    }
    db_entry *e = entry_insert_new(d, key, klen, hv, type, enc, OBJ_VLEN);
    memcpy(e->data + klen, &ptr, sizeof(ptr));
    stats_add(d, e, -1, hv);
    note_if_collection(d, e, -1, hv); /* the command may go on filling it */
    signal_change(d, key, klen, DB_CHANGE_WRITE);
    return e;
}

void *db_entry_ptr(const db_entry *e) {
    return entry_ptr(e);
}

unsigned db_entry_encoding(const db_entry *e) {
    return entry_enc(e);
}

void db_entry_set_object(db *d, db_entry *e, unsigned enc, void *ptr) {
    if (e->type == DB_TYPE_STRING || enc == DB_ENC_NONE || enc >= DB_ENCODINGS) {
        fprintf(stderr, "memkv: db_entry_set_object: not a collection encoding\n");
        abort();
    }
    count_entry(d, e, -1);
    e->flags = (uint8_t)((e->flags & ~ENTRY_ENC_MASK) | (enc << ENTRY_ENC_SHIFT));
    count_entry(d, e, +1);
    memcpy(e->data + e->klen, &ptr, sizeof(ptr));
}

db_entry *db_copy_entry(db *dst, const db_entry *src, const char *dst_key, size_t dlen) {
    if (dlen > DB_KEY_MAX_LEN) db_fatal("key", dlen);
    if (ht_rehashing(&dst->keys)) ht_rehash(&dst->keys, 1);
    uint64_t hv = key_hash(dst_key, dlen);
    if (ht_find(&dst->keys, dst_key, dlen, hv, NULL)) {
        fprintf(stderr, "memkv: db_copy_entry: destination exists\n");
        abort();
    }
    if (src->type == DB_TYPE_STRING) {
        size_t vlen = entry_vlen(src);
        db_entry *e = entry_insert_new(dst, dst_key, dlen, hv, DB_TYPE_STRING, DB_ENC_NONE, vlen);
        if (vlen) memcpy(e->data + dlen, src->data + src->klen, vlen);
        e->flags |= src->flags & ENTRY_STR_FORM_MASK; /* the copy keeps Redis's encoding */
        stats_add(dst, e, -1, hv);
        signal_change(dst, dst_key, dlen, DB_CHANGE_WRITE);
        return e;
    }
    /* Copy the value before inserting: src may live in dst, and an insert can move nothing
     * but may start a rehash, which is harmless; the dup only reads src. */
    void *ptr = ops_of(src->type)->dup(entry_ptr(src), entry_enc(src));
    db_entry *e = entry_insert_new(dst, dst_key, dlen, hv, src->type, entry_enc(src), OBJ_VLEN);
    memcpy(e->data + dlen, &ptr, sizeof(ptr));
    stats_add(dst, e, -1, hv);
    note_if_collection(dst, e, -1, hv);
    signal_change(dst, dst_key, dlen, DB_CHANGE_WRITE);
    return e;
}

int db_move_key(db *src, db *dst, const char *key, size_t klen) {
    uint64_t hv = key_hash(key, klen);
    int t;
    db_entry **link = ht_find(&src->keys, key, klen, hv, &t);
    if (!link) return 0;
    if (ht_find(&dst->keys, key, klen, hv, NULL)) {
        fprintf(stderr, "memkv: db_move_key: destination exists\n");
        abort();
    }
    snap_guard(src, *link);
    db_entry *e = *link;
    stats_remove(src, e, hv);
    *link = e->next;
    src->keys.used[t]--;
    count_entry(src, e, -1);
    int64_t when = -1;
    if (e->flags & ENTRY_HAS_EXPIRE) {
        db_entry *x = exp_lookup(src, key, klen, hv);
        if (x) when = x->u.when;
        exp_del(src, key, klen, hv);
    }
    ht_insert(&dst->keys, e, hv);
    count_entry(dst, e, +1);
    if (hook_new) hook_new(dst->index, key, klen);
    if (when >= 0)
        exp_add(dst, key, klen, hv, when);
    else
        e->flags &= (uint8_t)~ENTRY_HAS_EXPIRE;
    stats_add(dst, e, when, hv);
    ht_shrink_if_needed(&src->keys);
    ht_shrink_if_needed(&src->expires);
    signal_change(src, key, klen, DB_CHANGE_DELETE);
    signal_change(dst, key, klen, DB_CHANGE_WRITE);
    return 1;
}

size_t db_type_count(const db *d, int type, unsigned enc) {
    if (type < 0 || type >= DB_TYPES || enc >= DB_ENCODINGS) return 0;
    return d->counts[type][enc];
}

int db_delete(db *d, const char *key, size_t klen) {
    if (ht_rehashing(&d->keys)) ht_rehash(&d->keys, 1);
    uint64_t hv = key_hash(key, klen);
    int t;
    db_entry **link = ht_find(&d->keys, key, klen, hv, &t);
    if (!link) return 0;
    key_remove(d, link, t, hv);
    ht_shrink_if_needed(&d->keys);
    ht_shrink_if_needed(&d->expires);
    signal_change(d, key, klen, DB_CHANGE_DELETE);
    return 1;
}

int64_t db_get_expire(db *d, const char *key, size_t klen) {
    db_entry *x = exp_lookup(d, key, klen, key_hash(key, klen));
    return x ? x->u.when : -1;
}

void db_set_expire(db *d, const char *key, size_t klen, int64_t when_ms) {
    if (ht_rehashing(&d->expires)) ht_rehash(&d->expires, 1);
    uint64_t hv = key_hash(key, klen);
    db_entry **link = ht_find(&d->keys, key, klen, hv, NULL);
    if (!link) return;
    snap_guard(d, *link);
    db_entry *e = *link;
    ks_key before;
    if (stats) key_counted(d, e, hv, &before);
    db_entry *x = (e->flags & ENTRY_HAS_EXPIRE) ? exp_lookup(d, key, klen, hv) : NULL;
    if (x) {
        x->u.when = when_ms;
    } else {
        exp_add(d, key, klen, hv, when_ms);
        e->flags |= ENTRY_HAS_EXPIRE;
    }
    if (stats) stats_after(d, e, &before, when_ms);
    signal_change(d, key, klen, DB_CHANGE_WRITE);
}

int db_persist(db *d, const char *key, size_t klen) {
    uint64_t hv = key_hash(key, klen);
    db_entry **link = ht_find(&d->keys, key, klen, hv, NULL);
    if (!link || !((*link)->flags & ENTRY_HAS_EXPIRE)) return 0;
    snap_guard(d, *link);
    ks_key before;
    if (stats) key_counted(d, *link, hv, &before);
    if (ht_rehashing(&d->expires)) ht_rehash(&d->expires, 1);
    exp_del(d, key, klen, hv);
    (*link)->flags &= (uint8_t)~ENTRY_HAS_EXPIRE;
    if (stats) stats_after(d, *link, &before, -1);
    ht_shrink_if_needed(&d->expires);
    signal_change(d, key, klen, DB_CHANGE_WRITE);
    return 1;
}

int db_rename(db *d, const char *src, size_t slen, const char *dst, size_t dlen, int nx) {
    if (dlen > DB_KEY_MAX_LEN) db_fatal("key", dlen);
    uint64_t hs = key_hash(src, slen);
    if (!ht_find(&d->keys, src, slen, hs, NULL)) return -1;
    if (slen == dlen && memcmp(src, dst, slen) == 0) return nx ? 0 : 1;

    uint64_t hd = key_hash(dst, dlen);
    int t;
    db_entry **link = ht_find(&d->keys, dst, dlen, hd, &t);
    if (link) {
        if (nx) return 0;
        key_remove(d, link, t, hd);
    }
    /* Look src up again: removing dst may have freed the node holding src's link. */
    link = ht_find(&d->keys, src, slen, hs, &t);
    snap_guard(d, *link);
    db_entry *e = *link;
    stats_remove(d, e, hs);
    *link = e->next;
    d->keys.used[t]--;

    int had_expire = (e->flags & ENTRY_HAS_EXPIRE) != 0;
    int64_t when = 0;
    if (had_expire) {
        db_entry *x = exp_lookup(d, src, slen, hs);
        if (x) when = x->u.when;
        exp_del(d, src, slen, hs);
    }

    /* Same block, key bytes swapped: grow before moving the value right, shrink after moving
     * it left. Header fields (type, flags, LRU, value length) carry over. */
    size_t vlen = entry_vlen(e);
    alloc_sub sub = type_sub(e->type);
    if (dlen > slen) {
        e = alloc_realloc_sized(sub, e, ENTRY_HDR + slen + vlen, ENTRY_HDR + dlen + vlen);
        memmove(e->data + dlen, e->data + slen, vlen);
    } else if (dlen < slen) {
        memmove(e->data + dlen, e->data + slen, vlen);
        e = alloc_realloc_sized(sub, e, ENTRY_HDR + slen + vlen, ENTRY_HDR + dlen + vlen);
    }
    memcpy(e->data, dst, dlen);
    e->klen = (uint32_t)dlen;
    e->tag = hash_tag(hd);
    ht_insert(&d->keys, e, hd);
    if (had_expire) exp_add(d, dst, dlen, hd, when);
    if (hook_new) hook_new(d->index, dst, dlen);
    stats_add(d, e, had_expire ? when : -1, hd);
    ht_shrink_if_needed(&d->keys);
    ht_shrink_if_needed(&d->expires);
    signal_change(d, src, slen, DB_CHANGE_DELETE);
    signal_change(d, dst, dlen, DB_CHANGE_WRITE);
    return 1;
}

size_t db_size(const db *d) {
    return ht_used(&d->keys);
}

size_t db_expires_size(const db *d) {
    return ht_used(&d->expires);
}

static void remove_from_stats(void *ctx, db *d, const db_entry *e) {
    (void)ctx;
    stats_remove(d, (db_entry *)e, 0);
}

static void snap_guard_each(void *ctx, db *d, const db_entry *e) {
    (void)ctx;
    snap_guard(d, (db_entry *)e);
}

void db_flush(db *d) {
    if (snap_fn) db_for_each(d, snap_guard_each, NULL); /* the snapshot takes them first */
    signal_change(d, NULL, 0, DB_CHANGE_FLUSH);
    if (stats) {
        db_settle();
        db_for_each(d, remove_from_stats, NULL);
    }
    ht_clear(&d->expires, 0);
    ht_clear(&d->keys, 1);
    memset(d->counts, 0, sizeof(d->counts));
}

/* Reverse-binary cursor (Redis's dictScan, see scan_cursor.h). While rehashing we visit the
 * small table's bucket and every bucket of the big table that expands from it. */
static size_t scan_chain(const db_entry *e, db_scan_fn fn, void *ctx) {
    size_t n = 0;
    for (; e; e = e->next, n++)
        fn(ctx, e);
    return n;
}

uint64_t db_scan(db *d, uint64_t cursor, size_t count, db_scan_fn fn, void *ctx) {
    const htable *h = &d->keys;
    if (ht_used(h) == 0 || h->size[0] == 0) return 0;
    if (count == 0) count = 1;
    /* A client's COUNT can be anything up to 2^63: saturate rather than wrap. */
    size_t seen = 0, iterations = 0, max_iterations = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    uint64_t v = cursor;
    do {
        if (!ht_rehashing(h)) {
            uint64_t m0 = h->size[0] - 1;
            seen += scan_chain(h->b[0][v & m0], fn, ctx);
            v = scan_cursor_next(v, m0);
        } else {
            int small = h->size[0] <= h->size[1] ? 0 : 1, big = !small;
            uint64_t m0 = h->size[small] - 1, m1 = h->size[big] - 1;
            seen += scan_chain(h->b[small][v & m0], fn, ctx);
            do {
                seen += scan_chain(h->b[big][v & m1], fn, ctx);
                v = scan_cursor_next(v, m1);
            } while (v & (m0 ^ m1));
        }
        iterations++;
    } while (v != 0 && seen < count && iterations < max_iterations);
    return v;
}

/* Pointer to a random bucket slot of h (either table while rehashing); *tbl gets the table. */
static db_entry **ht_random_bucket(db *d, htable *h, int *tbl) {
    if (ht_rehashing(h)) {
        size_t span = h->size[0] + h->size[1] - h->rehash_idx;
        size_t i = h->rehash_idx + (size_t)(rng_next(d) % span);
        if (i < h->size[0]) {
            *tbl = 0;
            return &h->b[0][i];
        }
        *tbl = 1;
        return &h->b[1][i - h->size[0]];
    }
    *tbl = 0;
    return &h->b[0][rng_next(d) & (h->size[0] - 1)];
}

db_entry *db_random(db *d) {
    htable *h = &d->keys;
    if (ht_used(h) == 0) return NULL;
    if (ht_rehashing(h)) ht_rehash(h, 1);
    int t;
    db_entry *e;
    do
        e = *ht_random_bucket(d, h, &t);
    while (!e);
    size_t len = 0;
    for (db_entry *x = e; x; x = x->next)
        len++;
    for (size_t skip = (size_t)(rng_next(d) % len); skip; skip--)
        e = e->next;
    return e;
}

/* Redis's dictGetSomeKeys, on our two tables. */
size_t db_sample(db *d, int from_expires, db_entry **out, size_t n) {
    htable *h = from_expires ? &d->expires : &d->keys;
    size_t used = ht_used(h);
    if (n > used) n = used;
    if (n == 0) return 0;
    /* Help a rehash in progress along, in proportion to the work asked for. */
    if (ht_rehashing(h)) ht_rehash(h, n);
    int tables = ht_rehashing(h) ? 2 : 1;
    size_t maxmask = h->size[0] - 1;
    if (tables == 2 && h->size[1] - 1 > maxmask) maxmask = h->size[1] - 1;
    size_t i = (size_t)rng_next(d) & maxmask;
    size_t stored = 0, empty_run = 0, steps = n * 10;
    while (stored < n && steps-- > 0) {
        for (int t = 0; t < tables; t++) {
            /* Buckets of the old table below rehash_idx have moved, so are empty. If the new
             * table is smaller than i too (a shrink), nothing lives below rehash_idx: jump. */
            if (tables == 2 && t == 0 && i < h->rehash_idx) {
                if (i >= h->size[1])
                    i = h->rehash_idx;
                else
                    continue;
            }
            if (i >= h->size[t]) continue;
            db_entry *e = h->b[t][i];
            if (!e) {
                /* A long run of empty buckets: start again somewhere else. */
                if (++empty_run >= 5 && empty_run > n) {
                    i = (size_t)rng_next(d) & maxmask;
                    empty_run = 0;
                }
                continue;
            }
            empty_run = 0;
            for (; e; e = e->next) {
                out[stored++] = e;
                if (stored == n) return stored;
            }
        }
        i = (i + 1) & maxmask;
    }
    /* A sparse table can defeat the walk; the caller was promised one entry if any exist. */
    if (stored == 0) {
        int t;
        db_entry *e;
        do
            e = *ht_random_bucket(d, h, &t);
        while (!e);
        out[stored++] = e;
    }
    return stored;
}

int64_t db_expires_entry_when(const db_entry *x) {
    return x->u.when;
}

size_t db_active_expire(db *d, int64_t now_ms, size_t max_keys) {
    htable *x = &d->expires;
    size_t deleted = 0, examined = 0;
    if (ht_rehashing(x)) ht_rehash(x, 1);
    while (ht_used(x) > 0 && examined < max_keys) {
        size_t sampled = 0, expired = 0, empty_visits = 0;
        while (sampled < EXPIRE_KEYS_PER_LOOP && examined < max_keys && ht_used(x) > 0) {
            int t;
            db_entry **link = ht_random_bucket(d, x, &t);
            if (!*link) {
                if (++empty_visits >= EXPIRE_MAX_EMPTY_VISITS) break;
                continue;
            }
            while (*link) {
                db_entry *ee = *link;
                sampled++;
                examined++;
                if (ee->u.when > now_ms) {
                    link = &ee->next;
                    continue;
                }
                if (hook_expired) hook_expired(d->index, ee->data, ee->klen);
                uint64_t hv = key_hash(ee->data, ee->klen);
                int kt;
                db_entry **kl = ht_find(&d->keys, ee->data, ee->klen, hv, &kt);
                if (kl) stats_remove(d, *kl, hv); /* while its expire is still found */
                *link = ee->next;
                x->used[t]--;
                if (kl) {
                    db_entry *e = *kl;
                    *kl = e->next;
                    d->keys.used[kt]--;
                    count_entry(d, e, -1);
                    entry_free(e);
                    signal_change(d, ee->data, ee->klen, DB_CHANGE_EXPIRED);
                }
                alloc_free_sized(ALLOC_SUB_EXPIRES_INDEX, ee, ENTRY_HDR + ee->klen);
                expired++;
            }
        }
        deleted += expired;
        if (sampled == 0 || expired * 4 <= sampled) break; /* go on while > 25% were stale */
    }
    ht_shrink_if_needed(&d->keys);
    ht_shrink_if_needed(x);
    return deleted;
}

int db_rehash_step(db *d, int n) {
    size_t steps = n > 0 ? (size_t)n : 1;
    int busy = 0;
    htable *tables[2] = {&d->keys, &d->expires};
    for (int i = 0; i < 2; i++) {
        ht_shrink_if_needed(tables[i]);
        if (!ht_rehash(tables[i], steps)) ht_shrink_if_needed(tables[i]); /* maybe shrink more */
        busy |= ht_rehashing(tables[i]);
    }
    return busy;
}

/* ---- entry accessors -------------------------------------------------------------------- */

const char *db_entry_key(const db_entry *e, size_t *klen) {
    if (klen) *klen = e->klen;
    return e->data;
}

int db_entry_type(const db_entry *e) {
    return e->type;
}

int db_entry_has_expire(const db_entry *e) {
    return (e->flags & ENTRY_HAS_EXPIRE) != 0;
}

const char *db_entry_str(const db_entry *e, size_t *vlen) {
    if (vlen) *vlen = entry_vlen(e);
    return e->data + e->klen;
}

char *db_entry_str_mut(db_entry *e) {
    return e->data + e->klen;
}

void db_entry_set_str_form(db_entry *e, enum db_str_form form) {
    e->flags =
        (uint8_t)((e->flags & ~ENTRY_STR_FORM_MASK) | ((unsigned)form << ENTRY_STR_FORM_SHIFT));
}

enum db_str_form db_entry_str_form(const db_entry *e) {
    return (enum db_str_form)((e->flags & ENTRY_STR_FORM_MASK) >> ENTRY_STR_FORM_SHIFT);
}

size_t db_entry_mem_usage_sampled(const db_entry *e, size_t samples) {
    size_t n = alloc_usable_size(e) + sizeof(db_entry *);
    if (e->type != DB_TYPE_STRING)
        n += ops_of(e->type)->mem_usage(entry_ptr(e), entry_enc(e), samples);
    return n;
}

size_t db_entry_mem_usage(const db_entry *e) {
    return db_entry_mem_usage_sampled(e, 0);
}

size_t db_key_mem_usage(db *d, const db_entry *e) {
    return db_key_mem_usage_sampled(d, e, 0);
}

size_t db_key_mem_usage_sampled(db *d, const db_entry *e, size_t samples) {
    size_t n = db_entry_mem_usage_sampled(e, samples);
    if (e->flags & ENTRY_HAS_EXPIRE) {
        db_entry *x = exp_lookup(d, e->data, e->klen, key_hash(e->data, e->klen));
        if (x) n += alloc_usable_size(x) + sizeof(db_entry *);
    }
    return n;
}

uint32_t db_entry_lru(const db_entry *e) {
    return (uint32_t)(e->u.vlen_lru >> VLEN_BITS);
}

void db_entry_set_lru(db_entry *e, uint32_t lru) {
    e->u.vlen_lru = (e->u.vlen_lru & VLEN_MASK) | ((uint64_t)(lru & DB_LRU_MAX) << VLEN_BITS);
}

void db_for_each(db *d, db_each_fn fn, void *ctx) {
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < d->keys.size[t]; i++)
            for (db_entry *e = d->keys.b[t][i]; e; e = e->next)
                fn(ctx, d, e);
}

static void add_to_stats(void *ctx, db *d, const db_entry *e) {
    (void)ctx;
    stats_add(d, (db_entry *)e, -2, 0);
}

void db_stats_recount(db *d) {
    if (stats) db_for_each(d, add_to_stats, NULL);
}

void db_get_stats(const db *d, db_stats *out) {
    out->keys = ht_used(&d->keys);
    out->expires = ht_used(&d->expires);
    out->buckets = d->keys.size[0] + d->keys.size[1];
    out->expires_buckets = d->expires.size[0] + d->expires.size[1];
    out->rehashing = ht_rehashing(&d->keys);
    out->expires_rehashing = ht_rehashing(&d->expires);
}
