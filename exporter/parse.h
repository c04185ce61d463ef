/* parse — what a target answers, turned into figures. Pure: no I/O, no globals, no locale;
 * every function here is fuzzed (tests/fuzz/fuzz_exporter_*.c) and must survive any input.
 *
 *   INFO ALL            info_parse      → info_doc (section, key, value), server kind
 *   MEMORY STATS        memstats_parse  → flat (name, value) pairs
 *   MEMORY MALLOC-STATS malloc_stats_parse → jemalloc's per-size-class bins
 *   twemproxy stats     proxy_stats_parse → pools and servers (JSON from its stats port)
 *
 * Allocation goes through the alloc wrappers (ALLOC_SUB_OTHER); each *_free releases what the
 * matching parse took and leaves the struct zeroed (free on a zeroed struct is a no-op). */
#ifndef MEMKV_EXPORTER_PARSE_H
#define MEMKV_EXPORTER_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

/* ---- numbers ---- */

/* A decimal number as servers print it in INFO, MEMORY STATS and jemalloc's tables: an optional
 * sign, digits, an optional fraction and exponent ("12", "-3", "1.25", "1e3"), surrounded by
 * optional spaces; a trailing "%" is accepted (Kvrocks' "used_disk_percent: 12.3%"), and so are
 * "inf"/"nan" in any case. Rejects "", "12abc", "0x10", "1.2.3". Integers above 2^53 keep their
 * double approximation. 0 and *out set, or -1. */
int exp_parse_number(const char *s, size_t len, double *out);

/* ---- INFO ---- */

typedef struct info_field {
    const char *section; /* lower case, from the "# Memory" header before it ("memory"); "" before
                            any header */
    const char *key;     /* as written, e.g. "used_memory", "estimate_keys[default]", "db0" */
    const char *value;   /* as written after the first ':', trailing spaces and \r removed */
} info_field;

typedef struct info_doc {
    char *text; /* the parse's own copy, split in place; the fields point into it */
    info_field *fields;
    size_t n, cap;
    size_t dropped; /* "key:value" lines over INFO_MAX_FIELDS (info_dropped) */
} info_doc;

/* Parse INFO's text: "# Section" headers, "key:value" lines, blank lines; CRLF or LF. A line
 * without ':' that is not a header is skipped. Returns 0, or -1 when the text has no
 * "key:value" line at all (not an INFO reply: the caller reports "garbage reply"). At most
 * INFO_MAX_FIELDS fields are kept (the rest dropped, counted in the return of info_dropped). */
#define INFO_MAX_FIELDS 20000
int info_parse(info_doc *d, const char *text, size_t len);
void info_free(info_doc *d);
size_t info_dropped(const info_doc *d);
/* The value of the first field named key (any section), or NULL. */
const char *info_get(const info_doc *d, const char *key);
/* The first field named key as a number (exp_parse_number): 0 and *out, or -1. */
int info_get_number(const info_doc *d, const char *key, double *out);

/* What is answering. Decided from INFO alone, first match wins (redis_version lies on several:
 * Valkey says 7.2.4, Dragonfly 7.4.0, Kvrocks 4.0.0):
 *   memkv_version → MEMKV; dragonfly_version → DRAGONFLY; kvrocks_version → KVROCKS;
 *   valkey_version or server_name:valkey → VALKEY; a "# KeyDB" section, mvcc_depth or
 *   storage_provider → KEYDB; redis_version → REDIS; else UNKNOWN. */
typedef enum server_kind {
    SERVER_UNKNOWN = 0,
    SERVER_MEMKV,
    SERVER_REDIS,
    SERVER_VALKEY,
    SERVER_KEYDB,
    SERVER_KVROCKS,
    SERVER_DRAGONFLY,
    SERVER_PROXY, /* twemproxy (nutcracker): never from INFO, only from its stats JSON */
} server_kind;
/* "memkv", "redis", "valkey", "keydb", "kvrocks", "dragonfly", "twemproxy", "unknown". */
const char *server_kind_name(server_kind k);
/* The kind, and in *version (may be NULL) the kind's own version field ("" when absent):
 * memkv_version, redis_version, valkey_version, redis_version (KeyDB has no other),
 * kvrocks_version, dragonfly_version. Points into d. */
server_kind info_detect_kind(const info_doc *d, const char **version);

/* ---- MEMORY STATS ---- */

/* One figure of MEMORY STATS, nested maps flattened with '.': "peak.allocated",
 * "overhead.total", "db.0.overhead.hashtable.main", "keys.bytes-per-key". */
typedef struct memstats_entry {
    char name[96];
    double value;
} memstats_entry;

typedef struct memstats {
    memstats_entry *e;
    size_t n, cap;
} memstats;

/* MEMORY STATS as hiredis parsed it: an array of alternating names and values (integers,
 * doubles as bulk strings or RESP3 doubles, nested arrays/maps for "db.N"), or a RESP3 map.
 * Non-numeric values are skipped. Returns 0, or -1 when r is not that shape (an error reply
 * included). At most 4096 entries; names longer than the field are skipped. */
int memstats_parse(const redisReply *r, memstats *out);
void memstats_free(memstats *m);
/* The value of name: 0 and *out, or -1. */
int memstats_get(const memstats *m, const char *name, double *out);

/* ---- MEMORY MALLOC-STATS (jemalloc's malloc_stats_print text) ---- */

#define MALLOC_MAX_BINS 64

/* One small size class. free bytes = (regs * curslabs - curregs) * size, the slab holes;
 * used bytes = curregs * size (jemalloc's "allocated" column). */
typedef struct malloc_bin {
    uint64_t size, regs, curslabs, curregs;
} malloc_bin;

typedef struct malloc_stats {
    char version[64]; /* "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c", "" if absent */
    int have_totals;  /* the "Allocated: …, active: …" line was found */
    uint64_t allocated, active, metadata, resident, mapped, retained;
    size_t nbins;
    malloc_bin bins[MALLOC_MAX_BINS]; /* classes with curslabs > 0, in the table's order */
    int from_merged;                  /* 1: the "Merged arenas stats:" table; 0: the only arena's */
} malloc_stats;

/* Parse the bins table of the merged arenas (or of the single arena when there is no merged
 * section), mapping columns by their header names (size, regs, curslabs, curregs), which move
 * between jemalloc versions; "---" rows are skipped. Returns 0, or -1 with err filled (e.g.
 * "no bins table", "Stats not supported for the current allocator"). No allocation. */
int malloc_stats_parse(const char *text, size_t len, malloc_stats *out, char *err, size_t errcap);

/* ---- twemproxy (nutcracker) stats JSON ---- */

typedef struct proxy_server {
    char pool[64], name[128];
    /* the counters and gauges nutcracker prints per server, by their JSON names; -1 if absent */
    double server_eof, server_err, server_timedout, server_connections, server_ejected_at;
    double requests, request_bytes, responses, response_bytes;
    double in_queue, in_queue_bytes, out_queue, out_queue_bytes;
} proxy_server;

typedef struct proxy_pool {
    char name[64];
    double client_eof, client_err, client_connections, server_ejects, forward_error, fragments;
} proxy_pool;

typedef struct proxy_stats {
    char service[32], source[128], version[32];
    double uptime, timestamp, total_connections, curr_connections;
    proxy_pool *pools;
    size_t npools;
    proxy_server *servers;
    size_t nservers;
} proxy_stats;

/* Parse the JSON nutcracker writes on its stats port. Tolerant of unknown keys (skipped) and
 * strict about JSON syntax; depth and counts are bounded (at most 256 pools, 4096 servers).
 * Returns 0, or -1 with err filled. */
int proxy_stats_parse(const char *json, size_t len, proxy_stats *out, char *err, size_t errcap);
void proxy_stats_free(proxy_stats *p);

#endif
