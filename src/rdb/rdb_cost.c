/* rdb_cost — what a key read from an RDB file would cost in Redis 7.0, by Redis's own
 * accounting (used_memory: jemalloc's usable size of every allocation), estimated from the
 * shapes of the values as the reader meets them (rdb_cost_observe).
 *
 * The model follows what Redis 7.0's loader allocates (rdb.c, object.c, sds.c, dict.c, t_*.c):
 *  - every key: a dictEntry (24 bytes), the key as an sds (the loaded sds is kept: 1-byte
 *    header under 32 bytes, then 3, 5, 9), an expires dictEntry when it has a TTL;
 *  - strings: an integer of 0..9999 is a shared object (nothing), another integer a 16-byte
 *    robj, up to 44 bytes an embstr (robj and sds in one allocation), else robj + sds;
 *  - listpacks, intsets and quicklist nodes are kept as the file holds them: their sizes are
 *    exact; old ziplists and zipmaps become listpacks whose size is computed entry by entry;
 *  - hashtable hashes and sets: robj, dict (56 bytes), the bucket array (8 bytes times the
 *    power of two >= the count), per element a dictEntry and one sds per string; skiplist
 *    sorted sets add the zset and skiplist structs, the 32-level header node and per member a
 *    node of a random level (its expected size class); quicklists a 40-byte struct and a
 *    40-byte node per listpack;
 *  - every allocation rounded up to its jemalloc 5.3 size class (8, 16 by 16 up to 128, then
 *    four classes per doubling).
 * The main and expires tables' bucket arrays are per db (rdb_cost_buckets). What is not
 * modelled: fragmentation, allocator metadata, client buffers and the empty server's own memory
 * (used_memory_startup), encoding conversions the file does not show. */
#include "rdb/rdb.h"

#include <string.h>

#include "rdb/rdb_format.h"

#define ROBJ 16
#define DICT_ENTRY 24
#define DICT_STRUCT 56
#define ZSET_STRUCT 16
#define ZSKIPLIST_STRUCT 32
#define ZSL_NODE 24  /* ele, score, backward */
#define ZSL_LEVEL 16 /* forward, span */
#define ZSL_MAXLEVEL 32
#define QUICKLIST_STRUCT 40
#define QUICKLIST_NODE 40
#define EMBSTR_LIMIT 44
#define SHARED_INTEGERS 10000
#define LP_HDR_EOF 7        /* 6-byte header, 1-byte terminator */
#define LP_NODE_TARGET 8192 /* list-max-listpack-size -2 */

size_t rdb_cost_je_class(size_t n) {
    if (n <= 8) return 8;
    if (n <= 128) return (n + 15) & ~(size_t)15;
    unsigned lg = 64u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
    size_t step = (size_t)1 << (lg - 3);
    return (n + step - 1) & ~(step - 1);
}

size_t rdb_cost_sds(size_t len) {
    size_t hdr = len < 32 ? 1 : len < 256 ? 3 : len < 65536 ? 5 : len < ((size_t)1 << 32) ? 9 : 17;
    return rdb_cost_je_class(hdr + len + 1);
}

static size_t next_pow2(uint64_t n) {
    size_t s = 4; /* DICT_HT_INITIAL_SIZE */
    while (s < n)
        s <<= 1;
    return s;
}

size_t rdb_cost_buckets(uint64_t n) {
    return n ? rdb_cost_je_class(8 * next_pow2(n)) : 0;
}

/* Redis's string2ll: the strict decimal form of a long long (no '+', no leading zeros, no
 * "-0"), which is what makes a string an integer to Redis. */
static int strict_ll(const unsigned char *s, size_t len, long long *out) {
    if (len == 0 || len > 20) return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return 0;
    }
    if (len - i == 1 && s[i] == '0') {
        if (neg) return 0;
        *out = 0;
        return 1;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (~0ULL - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)INT64_MAX + 1) return 0;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)INT64_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

/* Bytes of one listpack entry (encoding, data, back length). */
static size_t lp_entry(const unsigned char *p, size_t len) {
    long long v;
    size_t enc;
    if (strict_ll(p, len, &v)) {
        if (v >= 0 && v <= 127)
            enc = 1;
        else if (v >= -4096 && v <= 4095)
            enc = 2;
        else if (v >= -32768 && v <= 32767)
            enc = 3;
        else if (v >= -8388608 && v <= 8388607)
            enc = 4;
        else if (v >= INT32_MIN && v <= INT32_MAX)
            enc = 5;
        else
            enc = 9;
    } else {
        enc = len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + len;
    }
    size_t back = enc < 128 ? 1 : enc < 16384 ? 2 : enc < 2097152 ? 3 : enc < 268435456 ? 4 : 5;
    return enc + back;
}

void rdb_cost_reset(rdb_cost *c) {
    memset(c, 0, sizeof(*c));
    c->int_width = 2;
}

void rdb_cost_observe(void *ctx, int what, const unsigned char *p, size_t len) {
    rdb_cost *c = ctx;
    if (what == RDB_OBS_BEGIN) {
        rdb_cost_reset(c);
        return;
    }
    if (what == RDB_OBS_BLOB) {
        c->blobs++;
        c->blob_alloc += rdb_cost_je_class(len);
        return;
    }
    size_t sds = rdb_cost_sds(len);
    if (c->elems % 2 == 0) {
        c->even_elems++;
        c->even_sds += sds;
    }
    c->elems++;
    c->elem_sds += sds;
    c->elem_lp += lp_entry(p, len);
    if (len > c->max_len) c->max_len = len;
    long long v;
    if (!strict_ll(p, len, &v))
        c->not_int = 1;
    else if (v < INT16_MIN || v > INT16_MAX)
        c->int_width = (v < INT32_MIN || v > INT32_MAX) ? 8 : (c->int_width < 4 ? 4 : c->int_width);
}

/* The expected size class of a skiplist node: level l with probability 0.75 * 0.25^(l-1). */
static double zsl_node_expected(void) {
    double e = 0, p = 0.75, left = 1.0;
    for (int l = 1; l < ZSL_MAXLEVEL; l++) {
        e += p * (double)rdb_cost_je_class(ZSL_NODE + (size_t)l * ZSL_LEVEL);
        left -= p;
        p *= 0.25;
    }
    return e + left * (double)rdb_cost_je_class(ZSL_NODE + ZSL_MAXLEVEL * ZSL_LEVEL);
}

static size_t hashtable(size_t n, size_t sds) {
    return rdb_cost_je_class(ROBJ) + rdb_cost_je_class(DICT_STRUCT) + rdb_cost_buckets(n) +
           n * rdb_cost_je_class(DICT_ENTRY) + sds;
}

static size_t skiplist(size_t n, size_t sds) {
    return rdb_cost_je_class(ROBJ) + rdb_cost_je_class(ZSET_STRUCT) +
           rdb_cost_je_class(DICT_STRUCT) + rdb_cost_buckets(n) +
           rdb_cost_je_class(ZSKIPLIST_STRUCT) +
           rdb_cost_je_class(ZSL_NODE + ZSL_MAXLEVEL * ZSL_LEVEL) +
           n * rdb_cost_je_class(DICT_ENTRY) + (size_t)((double)n * zsl_node_expected() + 0.5) +
           sds;
}

static size_t listpack_of(const rdb_cost *c) {
    return rdb_cost_je_class(ROBJ) + rdb_cost_je_class(LP_HDR_EOF + c->elem_lp);
}

static size_t quicklist_of_blobs(const rdb_cost *c) {
    return rdb_cost_je_class(ROBJ) + rdb_cost_je_class(QUICKLIST_STRUCT) +
           c->blobs * rdb_cost_je_class(QUICKLIST_NODE) + c->blob_alloc;
}

/* A list built element by element: listpack nodes of about 8 KiB. */
static size_t quicklist_of_elems(const rdb_cost *c) {
    size_t total = c->elem_lp, nodes = total / LP_NODE_TARGET + 1;
    return rdb_cost_je_class(ROBJ) + rdb_cost_je_class(QUICKLIST_STRUCT) +
           nodes *
               (rdb_cost_je_class(QUICKLIST_NODE) + rdb_cost_je_class(LP_HDR_EOF + total / nodes));
}

static size_t string_value(const char *s, size_t len) {
    long long v;
    if (strict_ll((const unsigned char *)s, len, &v))
        return v >= 0 && v < SHARED_INTEGERS ? 0 : rdb_cost_je_class(ROBJ);
    if (len <= EMBSTR_LIMIT) return rdb_cost_je_class(ROBJ + 3 + len + 1);
    return rdb_cost_je_class(ROBJ) + rdb_cost_sds(len);
}

const char *rdb_cost_string_encoding(const char *s, size_t len) {
    long long v;
    if (strict_ll((const unsigned char *)s, len, &v)) return "int";
    return len <= EMBSTR_LIMIT ? "embstr" : "raw";
}

size_t rdb_cost_value(const rdb_cost *c, int rdb_type, const char *str, size_t slen,
                      const rdb_limits *lim) {
    switch (rdb_type) {
    case RDB_TYPE_STRING:
        return string_value(str, slen);
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return quicklist_of_blobs(c);
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
        return quicklist_of_elems(c);
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_SET_LISTPACK:
        return rdb_cost_je_class(ROBJ) + c->blob_alloc;
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
        if (c->elems == 0) return rdb_cost_je_class(ROBJ) + c->blob_alloc; /* kept as it is */
        /* walked: over the entry limit, converted as Redis converts it */
        return rdb_type == RDB_TYPE_HASH_LISTPACK ? hashtable(c->elems / 2, c->elem_sds)
                                                  : skiplist(c->elems / 2, c->even_sds);
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_HASH_ZIPLIST:
        if (c->elems / 2 > lim->hash.max_entries) return hashtable(c->elems / 2, c->elem_sds);
        return listpack_of(c);
    case RDB_TYPE_ZSET_ZIPLIST:
        if (c->elems / 2 > lim->zset.max_entries) return skiplist(c->elems / 2, c->even_sds);
        return listpack_of(c);
    case RDB_TYPE_HASH:
        if (c->elems / 2 > lim->hash.max_entries || c->max_len > lim->hash.max_value)
            return hashtable(c->elems / 2, c->elem_sds);
        return listpack_of(c);
    case RDB_TYPE_SET:
        if (!c->not_int && c->elems <= lim->set.max_intset_entries)
            return rdb_cost_je_class(ROBJ) + rdb_cost_je_class(8 + c->elems * c->int_width);
        return hashtable(c->elems, c->elem_sds);
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        if (c->elems <= lim->zset.max_entries && c->max_len <= lim->zset.max_value) {
            rdb_cost lp = *c; /* members, and scores of about 10 bytes each */
            lp.elem_lp += c->elems * 10;
            return listpack_of(&lp);
        }
        return skiplist(c->elems, c->elem_sds);
    default:
        return 0;
    }
}

size_t rdb_cost_key(size_t klen, int has_expire) {
    return rdb_cost_je_class(DICT_ENTRY) + rdb_cost_sds(klen) +
           (has_expire ? rdb_cost_je_class(DICT_ENTRY) : 0);
}

const char *rdb_type_encoding_name(int rdb_type) {
    switch (rdb_type) {
    case RDB_TYPE_STRING:
        return "string";
    case RDB_TYPE_LIST:
        return "list/linkedlist";
    case RDB_TYPE_SET:
        return "set/hashtable";
    case RDB_TYPE_ZSET:
        return "zset/skiplist-v1";
    case RDB_TYPE_HASH:
        return "hash/hashtable";
    case RDB_TYPE_ZSET_2:
        return "zset/skiplist";
    case RDB_TYPE_MODULE_PRE_GA:
    case RDB_TYPE_MODULE_2:
        return "module";
    case RDB_TYPE_HASH_ZIPMAP:
        return "hash/zipmap";
    case RDB_TYPE_LIST_ZIPLIST:
        return "list/ziplist";
    case RDB_TYPE_SET_INTSET:
        return "set/intset";
    case RDB_TYPE_ZSET_ZIPLIST:
        return "zset/ziplist";
    case RDB_TYPE_HASH_ZIPLIST:
        return "hash/ziplist";
    case RDB_TYPE_LIST_QUICKLIST:
        return "list/quicklist-ziplist";
    case RDB_TYPE_HASH_LISTPACK:
        return "hash/listpack";
    case RDB_TYPE_ZSET_LISTPACK:
        return "zset/listpack";
    case RDB_TYPE_LIST_QUICKLIST_2:
        return "list/quicklist";
    case RDB_TYPE_SET_LISTPACK:
        return "set/listpack";
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
    case RDB_TYPE_STREAM_LISTPACKS_3:
        return "stream";
    case RDB_OPCODE_FUNCTION2:
    case RDB_OPCODE_FUNCTION_PRE_GA:
        return "function";
    case RDB_OPCODE_MODULE_AUX:
        return "module-aux";
    default:
        return "unknown";
    }
}
