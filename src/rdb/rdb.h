/* rdb — Redis's RDB format: a writer and a reader of whole files and of single values (DUMP
 * payloads), version 10 as Redis 7.0 writes it; the reader also takes what Redis 7.0 loads
 * from older versions (ziplists, zipmaps, intsets, 4-byte expires) and the set listpack of
 * Redis 7.2.
 *
 * Writer: appends to a growable buffer (rdb_out) that the caller drains to a file or a socket
 * whenever it likes; the running CRC64 covers every byte appended before the checksum.
 *
 * Reader: pure. It parses one item (an opcode with its operands, or a key with its value) at
 * a time from a caller's buffer that starts at the reader's current file offset, and answers
 * RDB_OK (the item and the bytes consumed), RDB_NEED_MORE (the item does not end inside the
 * buffer: nothing consumed, `need` says how many bytes at least the next call should offer) or
 * RDB_ERR (err names the absolute offset). No length read from the data is trusted: nothing is
 * allocated from a declared count, strings are checked against what is left and against the
 * limits, compact encodings are validated before use. Values are built through the types'
 * own modules (src/db/t_*.c) with the caller's encoding limits, so a loaded value has the
 * encoding memkv would have given it.
 *
 * Values are memkv's db values: (DB_TYPE_*, DB_ENC_*, pointer) for collections, bytes for
 * strings. Main thread only (the values allocate under their types' subsystems).
 */
#ifndef MEMKV_RDB_H
#define MEMKV_RDB_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"
#include "db/db.h"
#include "db/t_hash.h"
#include "db/t_set.h"
#include "db/t_zset.h"

#define RDB_VERSION 10

/* Result codes of the reader. */
enum { RDB_OK = 0, RDB_NEED_MORE = 1, RDB_ERR = -1 };

/* ---- CRC64 (Jones polynomial, reflected, as Redis's crc64) ---- */
uint64_t rdb_crc64(uint64_t crc, const void *p, size_t len);

/* ---- writer ---- */

typedef struct rdb_out {
    unsigned char *buf; /* ALLOC_SUB_OTHER */
    size_t len, cap;
    uint64_t crc;   /* over every byte appended and drained so far */
    size_t crc_at;  /* bytes of buf already folded into crc */
    int compress;   /* rdbcompression: LZF for strings over 20 bytes */
    uint64_t total; /* bytes appended since init */
    alloc_sub sub;  /* where buf is accounted (ALLOC_SUB_OTHER unless the caller says) */
} rdb_out;

void rdb_out_init(rdb_out *o, int compress);
void rdb_out_deinit(rdb_out *o);
/* The caller wrote out buf[0..len): forget those bytes (the CRC keeps them). */
void rdb_out_drain(rdb_out *o);
/* Hand buf (len bytes, allocated under o->sub; the caller frees it) to the caller, who
 * checksums it: o starts a new buffer and its own crc is no longer kept. */
unsigned char *rdb_out_detach(rdb_out *o, size_t *len);

/* Header "REDIS0010" and the aux fields Redis 7.0 writes (redis-ver, redis-bits, ctime,
 * used-mem, aof-base). */
void rdb_write_header(rdb_out *o, const char *version, int64_t now_sec, uint64_t used_mem);
void rdb_write_aux(rdb_out *o, const char *key, const char *val);
void rdb_write_selectdb(rdb_out *o, int dbnum, uint64_t keys, uint64_t expires);
/* One key: EXPIRETIME_MS if expire_ms >= 0, then its type, name and value. */
void rdb_write_key(rdb_out *o, const db_entry *e, int64_t expire_ms);
/* EOF opcode and the checksum (the CRC64 of everything before it). */
void rdb_write_eof(rdb_out *o);
/* The parts of those for a writer that checksums detached buffers itself: SELECTDB alone
 * (a database's keys may come in several runs), and the EOF opcode without the checksum. */
void rdb_write_select_only(rdb_out *o, int dbnum);
void rdb_write_eof_opcode(rdb_out *o);

/* DUMP: the value's type and encoding, the RDB version (2 bytes LE) and the CRC64 (8 bytes
 * LE) of both, as Redis's dumpCommand. */
void rdb_dump_payload(rdb_out *o, const db_entry *e);

/* ---- reader ---- */

typedef struct rdb_limits {
    hash_limits hash;
    set_limits set;
    zset_limits zset;
    long long list_fill; /* list-max-listpack-size */
    size_t max_string;   /* longest string (key, value, blob) accepted */
    int skip_unknown;    /* 1: skip streams and module values (counted); 0: error */
    int check_crc;       /* 0: do not verify the file's checksum */
} rdb_limits;
void rdb_limits_default(rdb_limits *lim);

/* A value read: a collection (ptr, enc) or a string (str, slen). */
typedef struct rdb_value {
    int type;     /* DB_TYPE_* */
    unsigned enc; /* collections */
    void *ptr;    /* collections: owned until taken */
    char *str;    /* strings: owned (ALLOC_SUB_OTHER) */
    size_t slen;
} rdb_value;
void rdb_value_free(rdb_value *v); /* frees what was not taken (ptr/str NULL when taken) */

enum rdb_item_kind {
    RDB_ITEM_HEADER = 0, /* the signature and version */
    RDB_ITEM_AUX,
    RDB_ITEM_SELECTDB,
    RDB_ITEM_RESIZEDB,
    RDB_ITEM_META,    /* an expire, idle or freq opcode: kept for the next key */
    RDB_ITEM_KEY,     /* key, value, expire_ms (-1 none), idle (-1), freq (-1) */
    RDB_ITEM_SKIPPED, /* a key of a type memkv has not (stream, module), or a function library */
    RDB_ITEM_EMPTY,   /* a key whose value was empty: skipped, as Redis does */
    RDB_ITEM_EOF,     /* the end and a matching (or absent) checksum */
};

typedef struct rdb_item {
    int kind;
    char *key; /* RDB_ITEM_KEY, SKIPPED, EMPTY, AUX: owned (ALLOC_SUB_OTHER), NUL-terminated */
    size_t klen;
    char *aux_val; /* RDB_ITEM_AUX */
    size_t aux_vlen;
    rdb_value val;
    int db;       /* SELECTDB: the number; KEY: the db the key belongs to */
    int rdb_type; /* KEY / SKIPPED: the RDB type byte */
    int64_t expire_ms;
    long long idle;                 /* seconds, -1 none */
    int freq;                       /* -1 none */
    uint64_t db_size, expires_size; /* RESIZEDB */
} rdb_item;
void rdb_item_clear(rdb_item *it); /* frees whatever the caller did not take */

/* An observer of the values as they are read (--analyze-rdb estimates from it what Redis would
 * hold): RDB_OBS_BEGIN when a key's value starts (a retry after RDB_NEED_MORE begins again),
 * RDB_OBS_BLOB for every blob as stored, decompressed (listpack, intset, ziplist, zipmap, a
 * quicklist node), RDB_OBS_ELEM for every element string read one by one or walked out of an
 * old ziplist/zipmap or a listpack memkv does not keep as it is (hash fields and values,
 * members, list elements, the scores of a ziplist sorted set). p is valid during the call. */
enum { RDB_OBS_BEGIN = 0, RDB_OBS_BLOB, RDB_OBS_ELEM };
typedef void (*rdb_observe_fn)(void *ctx, int what, const unsigned char *p, size_t len);

typedef struct rdb_reader {
    rdb_limits lim;
    rdb_observe_fn observe; /* NULL: none (set after rdb_reader_init) */
    void *observe_ctx;
    int version;     /* 0 until the header was read */
    uint64_t offset; /* absolute offset of the next unread byte */
    uint64_t crc;
    size_t need; /* RDB_NEED_MORE: the next call needs at least this many bytes */
    int db;
    int64_t expire_ms;
    long long idle;
    int freq;
    int done;
    char err[192];
} rdb_reader;

void rdb_reader_init(rdb_reader *r, const rdb_limits *lim);
/* Parse the next item from buf (len bytes, starting at r->offset). On RDB_OK *consumed bytes
 * are used and *it is filled (release with rdb_item_clear); the caller drops them and calls
 * again with what follows. After RDB_ITEM_EOF the file is done. */
int rdb_read_item(rdb_reader *r, const unsigned char *buf, size_t len, size_t *consumed,
                  rdb_item *it);

/* RESTORE: check a DUMP payload's footer (version <= RDB_VERSION, CRC64 unless check_crc is
 * 0) and decode its value. RDB_OK, or RDB_ERR with err one of Redis's texts:
 * "DUMP payload version or checksum are wrong" / "Bad data format". */
int rdb_restore_payload(const unsigned char *p, size_t len, const rdb_limits *lim, rdb_value *out,
                        const char **err);

/* ---- what a key would cost in Redis 7.0 (rdb_cost.c; an estimate, the model is described
 * there) ---- */

/* One value's shape, filled by rdb_cost_observe (an rdb_observe_fn: set it on the reader with
 * the rdb_cost as its context). */
typedef struct rdb_cost {
    size_t blobs, blob_alloc;    /* blobs, and their sizes rounded to size classes */
    size_t elems, elem_sds;      /* element strings, and their sds allocations */
    size_t even_elems, even_sds; /* the first of each pair (hash fields, zset members) */
    size_t elem_lp;              /* their listpack entries' bytes */
    size_t max_len;
    int not_int;   /* some element is not an integer */
    int int_width; /* 2, 4, 8: the intset width the integers need */
} rdb_cost;
void rdb_cost_reset(rdb_cost *c);
void rdb_cost_observe(void *ctx, int what, const unsigned char *p, size_t len);
/* jemalloc 5.3's size class for n bytes; an sds of len bytes as Redis allocates it. */
size_t rdb_cost_je_class(size_t n);
size_t rdb_cost_sds(size_t len);
/* The value of a key of this RDB type (str, slen: a string's bytes), as Redis 7.0 would hold it
 * with these encoding limits. */
size_t rdb_cost_value(const rdb_cost *c, int rdb_type, const char *str, size_t slen,
                      const rdb_limits *lim);
/* What the key itself adds: its dictEntry and sds, and its expires entry. */
size_t rdb_cost_key(size_t klen, int has_expire);
/* A main or expires table's bucket array for n keys (Redis sizes it to a power of two). */
size_t rdb_cost_buckets(uint64_t n);
/* "int", "embstr", "raw": the encoding Redis gives a loaded string. */
const char *rdb_cost_string_encoding(const char *s, size_t len);
/* "hash/listpack", "set/intset", "stream"...: the type and encoding an RDB type byte records. */
const char *rdb_type_encoding_name(int rdb_type);

#endif
