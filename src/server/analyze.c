/* analyze — memkv-server --analyze-rdb FILE [--json] [--name value ...]: an RDB file (Redis's
 * dump.rdb) loaded offline through the start-up loader (persist_load_fd), then one report on
 * stdout and the exit code: the file, the doctor's key-space findings, keys and bytes by type,
 * encoding (memkv's and the file's), db, TTL bucket, prefix, the largest keys, and memkv's
 * memory against an estimate of what Redis 7.0 holds for the same keys (src/rdb/rdb_cost.c).
 *
 * No listener, no endpoint, no pid file, no log: the report is stdout, errors go to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "db/kstats.h"
#include "memory/memory.h"
#include "metrics/json.h"
#include "metrics/metrics.h"
#include "rdb/rdb.h"
#include "server/server.h"

#define AN_AUX_MAX 32
#define AN_SKIPPED_NAMES 10
#define AN_TOP 10
#define AN_RDB_CODES 256 /* type bytes and the opcodes of skipped items */

typedef struct an_row {
    uint64_t keys, memkv, redis;
} an_row;

typedef struct analysis {
    const char *path;
    uint64_t file_size;
    persist_load_stats st;
    rdb_limits lim;
    rdb_cost cost; /* the value being read */
    size_t naux;
    char *aux_key[AN_AUX_MAX], *aux_val[AN_AUX_MAX];
    int cur_db;
    uint64_t *resize_keys, *resize_expires; /* RESIZEDB's figures per db */
    uint64_t *db_keys, *db_volatile;        /* keys loaded per db */
    uint64_t *db_redis;                     /* the keys' Redis estimate per db (no tables) */
    an_row by_rdb[AN_RDB_CODES];
    an_row by_enc[DB_TYPES][DB_ENCODINGS];
    an_row by_type_redis[DB_TYPES];
    an_row by_string_enc[3]; /* Redis's int, embstr, raw */
    uint64_t expired_by_type[DB_TYPES];
    uint64_t skipped_by[AN_RDB_CODES];
    size_t nskipped_names;
    char *skipped_names[AN_SKIPPED_NAMES];
    uint64_t redis_keys; /* Σ per-key estimates */
    /* after the load */
    uint64_t redis_tables, memkv_dataset;
} analysis;

static const char *const string_encs[3] = {"int", "embstr", "raw"};

static char *copy_str(const char *s, size_t len) {
    return alloc_strndup(ALLOC_SUB_OTHER, s, len);
}

static int string_enc_index(const char *name) {
    return name[0] == 'i' ? 0 : name[0] == 'e' ? 1 : 2;
}

static void on_observe(void *ctx, int what, const unsigned char *p, size_t len) {
    analysis *a = ctx;
    rdb_cost_observe(&a->cost, what, p, len);
}

static void on_key(analysis *a, const rdb_item *it, db_entry *e) {
    int type = it->val.type;
    if (!e) {
        if (type >= 0 && type < DB_TYPES) a->expired_by_type[type]++;
        return;
    }
    int dbi = it->db;
    int has_expire = it->expire_ms >= 0;
    uint64_t redis = rdb_cost_key(it->klen, has_expire) +
                     rdb_cost_value(&a->cost, it->rdb_type, it->val.str, it->val.slen, &a->lim);
    uint64_t memkv = db_key_mem_usage(srv.dbs[dbi], e);
    an_row *rows[3] = {&a->by_rdb[it->rdb_type & 0xff],
                       &a->by_enc[db_entry_type(e)][db_entry_encoding(e) % DB_ENCODINGS],
                       &a->by_type_redis[db_entry_type(e)]};
    for (int i = 0; i < 3; i++) {
        rows[i]->keys++;
        rows[i]->memkv += memkv;
        rows[i]->redis += redis;
    }
    if (type == DB_TYPE_STRING) {
        an_row *r = &a->by_string_enc[string_enc_index(
            rdb_cost_string_encoding(it->val.str, it->val.slen))];
        r->keys++;
        r->memkv += memkv;
        r->redis += redis;
    }
    a->db_keys[dbi]++;
    if (has_expire) a->db_volatile[dbi]++;
    a->db_redis[dbi] += redis;
    a->redis_keys += redis;
}

static void on_item(void *ctx, const rdb_item *it, db_entry *e) {
    analysis *a = ctx;
    switch (it->kind) {
    case RDB_ITEM_AUX:
        if (a->naux < AN_AUX_MAX) {
            a->aux_key[a->naux] = copy_str(it->key, it->klen);
            a->aux_val[a->naux] = copy_str(it->aux_val, it->aux_vlen);
            a->naux++;
        }
        break;
    case RDB_ITEM_SELECTDB:
        a->cur_db = it->db;
        break;
    case RDB_ITEM_RESIZEDB:
        if (a->cur_db >= 0 && a->cur_db < srv.databases) {
            a->resize_keys[a->cur_db] = it->db_size;
            a->resize_expires[a->cur_db] = it->expires_size;
        }
        break;
    case RDB_ITEM_KEY:
        on_key(a, it, e);
        break;
    case RDB_ITEM_SKIPPED:
        a->skipped_by[it->rdb_type & 0xff]++;
        if (it->key && a->nskipped_names < AN_SKIPPED_NAMES)
            a->skipped_names[a->nskipped_names++] = copy_str(it->key, it->klen);
        break;
    default:
        break;
    }
}

/* Bytes of the subsystems that hold the key space (its entries, values and both indexes). */
static uint64_t dataset_bytes(void) {
    static const alloc_sub subs[] = {ALLOC_SUB_STRINGS,      ALLOC_SUB_HASHES, ALLOC_SUB_LISTS,
                                     ALLOC_SUB_SETS,         ALLOC_SUB_ZSETS,  ALLOC_SUB_KEY_INDEX,
                                     ALLOC_SUB_EXPIRES_INDEX};
    int64_t sum = 0;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        sum += alloc_sub_bytes(subs[i]);
    return sum > 0 ? (uint64_t)sum : 0;
}

static void analysis_free(analysis *a) {
    for (size_t i = 0; i < a->naux; i++) {
        alloc_free(ALLOC_SUB_OTHER, a->aux_key[i]);
        alloc_free(ALLOC_SUB_OTHER, a->aux_val[i]);
    }
    for (size_t i = 0; i < a->nskipped_names; i++)
        alloc_free(ALLOC_SUB_OTHER, a->skipped_names[i]);
    alloc_free(ALLOC_SUB_OTHER, a->resize_keys);
    alloc_free(ALLOC_SUB_OTHER, a->resize_expires);
    alloc_free(ALLOC_SUB_OTHER, a->db_keys);
    alloc_free(ALLOC_SUB_OTHER, a->db_volatile);
    alloc_free(ALLOC_SUB_OTHER, a->db_redis);
}

static uint64_t max_u64(uint64_t x, uint64_t y) {
    return x > y ? x : y;
}

/* The tables Redis sizes per db: to RESIZEDB's figures when the file has them. */
static uint64_t db_tables(const analysis *a, long long i) {
    return rdb_cost_buckets(max_u64(a->resize_keys[i], a->db_keys[i])) +
           rdb_cost_buckets(max_u64(a->resize_expires[i], a->db_volatile[i]));
}

/* ---- the report, as data both writers share ---- */

typedef struct report {
    const analysis *a;
    kstats *ks;
    ks_totals all, vol;
    size_t nfind;
    mem_finding find[16];
    ks_totals ttl[KS_TTL_BUCKETS];
    size_t nprefix;
    ks_prefix prefix[AN_TOP];
    int ntop;
    ks_top top[AN_TOP];
    int has_largest[DB_TYPES];
    ks_top largest[DB_TYPES]; /* the largest key of each type (as redis-cli --bigkeys) */
    int64_t now;
} report;

static const char *const not_judged =
    "Not judged offline: allocator fragmentation, RSS, clients' buffers, scripts and growth "
    "over time; they need a running server (MEMORY DOCTOR on it).";

static const char *const estimate_model =
    "Estimate, not a measurement: what Redis 7.0 would allocate loading this file (used_memory "
    "above an empty server's), from Redis's structures: per key a dictEntry, the key's sds, the "
    "robj and the value by Redis's encoding (embstr up to 44 bytes in one allocation with the "
    "robj, raw sds, integers as a robj or shared 0..9999), listpack, intset and quicklist-node "
    "sizes exact from the file, hashtable, skiplist and quicklist structures computed from their "
    "element counts and lengths, an expires dictEntry per TTL, and each db's main and expires "
    "bucket arrays; every allocation rounded to its jemalloc 5.3 size class. Fragmentation and "
    "the empty server's own memory are not included.";

static void report_fill(report *r, const analysis *a) {
    memset(r, 0, sizeof(*r));
    r->a = a;
    r->now = server_now_ms();
    r->ks = keyspace_stats();
    if (!r->ks) return;
    r->all = kstats_db_totals(r->ks, -1);
    r->vol = kstats_volatile_totals(r->ks, -1);
    kstats_ttl_buckets(r->ks, r->now, r->ttl);
    r->nprefix = kstats_prefixes_top(r->ks, r->prefix, AN_TOP);

    mem_snapshot s;
    memset(&s, 0, sizeof(s));
    s.used_memory = (size_t)a->memkv_dataset;
    s.used_memory_peak = s.used_memory;
    s.rss_inflated = 1; /* no process to judge: the RSS rules stay silent */
    s.maxmemory = srv.maxmemory > 0 ? (size_t)srv.maxmemory : 0;
    s.maxmemory_policy = evict_policy_name();
    s.keys = (size_t)r->all.keys;
    keyspace_fill_doctor(&s.keyspace, 1);
    r->nfind = mem_doctor(&s, NULL, r->find, sizeof(r->find) / sizeof(r->find[0]));
    /* after keyspace_fill_doctor, which refills the top keys' candidates if they need it */
    size_t k = kstats_top_keys(r->ks);
    r->ntop = kstats_top(r->ks, -1, r->top, k < AN_TOP ? k : AN_TOP);
    if (r->ntop < 0) r->ntop = 0;
    for (int t = 0; t < DB_TYPES; t++)
        r->has_largest[t] = kstats_top(r->ks, t, &r->largest[t], 1) == 1;
}

static double ratio(uint64_t num, uint64_t den) {
    return den ? (double)num / (double)den : 0.0;
}

/* A key as text: printable ASCII as is, the rest as \xNN, cut at cap. */
static void printable(const char *s, size_t len, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = 0;
}

static void key_details(const report *r, const ks_top *t, const char **enc, uint64_t *len,
                        int64_t *ttl_ms) {
    *enc = "";
    *len = 0;
    *ttl_ms = -1;
    db_entry *e = db_peek(srv.dbs[t->db], t->key, t->klen);
    if (!e) return;
    ks_key kk;
    db_entry_stats(srv.dbs[t->db], e, &kk);
    *len = kk.len;
    if (kk.when >= 0) *ttl_ms = kk.when > r->now ? kk.when - r->now : 0;
    if (t->type == DB_TYPE_STRING) {
        size_t vlen;
        const char *v = db_entry_str(e, &vlen);
        *enc = rdb_cost_string_encoding(v, vlen);
    } else {
        *enc = db_encoding_name(db_entry_encoding(e));
    }
}

/* ---- text ---- */

/* A "by encoding" row's name: type/encoding ("hash/listpack"), "string" for strings. */
static const char *enc_name(char name[48], int t, int e) {
    if (t == DB_TYPE_STRING) return "string";
    snprintf(name, 48, "%s/%s", db_type_name(t), db_encoding_name((unsigned)e));
    return name;
}

static void text_row(const char *name, const an_row *row, int with_redis) {
    if (with_redis)
        printf("  %-24s %10llu %14llu %14llu\n", name, (unsigned long long)row->keys,
               (unsigned long long)row->memkv, (unsigned long long)row->redis);
    else
        printf("  %-24s %10llu %14llu\n", name, (unsigned long long)row->keys,
               (unsigned long long)row->memkv);
}

static void text_head(const char *title, int with_redis) {
    printf("\n# %s\n", title);
    if (with_redis)
        printf("  %-24s %10s %14s %14s\n", "name", "keys", "memkv_bytes", "redis_bytes");
    else
        printf("  %-24s %10s %14s\n", "name", "keys", "memkv_bytes");
}

static void text_keys_head(void) {
    printf("  %-32s %4s %-6s %-10s %10s %14s %12s\n", "key", "db", "type", "encoding", "length",
           "memkv_bytes", "ttl_ms");
}

static void text_key(const report *r, const ks_top *t) {
    const char *enc;
    uint64_t len;
    int64_t ttl;
    key_details(r, t, &enc, &len, &ttl);
    char name[200];
    printable(t->key, t->klen, name, sizeof(name));
    printf("  %-32s %4d %-6s %-10s %10llu %14llu %12lld\n", name, t->db, db_type_name(t->type), enc,
           (unsigned long long)len, (unsigned long long)t->bytes, (long long)ttl);
}

/* A paragraph in lines of at most 96 columns. */
static void text_wrap(const char *s) {
    while (*s) {
        size_t n = strlen(s), cut = n;
        if (n > 96) {
            cut = 96;
            while (cut > 0 && s[cut] != ' ')
                cut--;
            if (cut == 0) cut = 96;
        }
        printf("%.*s\n", (int)cut, s);
        s += cut;
        while (*s == ' ')
            s++;
    }
}

static void write_text(const report *r) {
    const analysis *a = r->a;
    printf("# File\n");
    printf("file: %s\n", a->path);
    printf("file_size: %llu\n", (unsigned long long)a->file_size);
    printf("rdb_version: %d\n", a->st.version);
    for (size_t i = 0; i < a->naux; i++)
        printf("aux.%s: %s\n", a->aux_key[i], a->aux_val[i]);
    printf("keys_loaded: %lld\n", a->st.loaded);
    printf("keys_expired_at_load: %lld (dropped, as a Redis master drops them)\n", a->st.expired);
    printf("empty_keys: %lld\n", a->st.empty);
    printf("skipped: %lld\n", a->st.skipped);
    for (int t = 0; t < AN_RDB_CODES; t++)
        if (a->skipped_by[t])
            printf("skipped.%s: %llu\n", rdb_type_encoding_name(t),
                   (unsigned long long)a->skipped_by[t]);
    for (size_t i = 0; i < a->nskipped_names; i++) {
        char k[200];
        printable(a->skipped_names[i], strlen(a->skipped_names[i]), k, sizeof(k));
        printf("skipped_key: %s\n", k);
    }

    uint64_t redis = a->redis_keys + a->redis_tables;
    printf("\n# Memory\n");
    printf("memkv_bytes: %llu (the keys' MEMORY USAGE summed)\n", (unsigned long long)r->all.bytes);
    printf("memkv_dataset_bytes: %llu (memkv's allocation counters for the key space, after the "
           "load minus before)\n",
           (unsigned long long)a->memkv_dataset);
    printf("redis_estimate_bytes: %llu (keys %llu, main and expires tables %llu)\n",
           (unsigned long long)redis, (unsigned long long)a->redis_keys,
           (unsigned long long)a->redis_tables);
    printf("memkv_vs_redis: %.3f (memkv_dataset_bytes / redis_estimate_bytes)\n",
           ratio(a->memkv_dataset, redis));
    printf("redis_estimate: see \"Redis 7.0 estimate\" below\n");

    printf("\n# Doctor\n");
    if (!r->ks) printf("keyspace statistics are off: no key-space findings\n");
    if (r->nfind == 0) printf("No memory problems found in the key space.\n");
    for (size_t i = 0; i < r->nfind; i++)
        printf("%s %s: %s\n", mem_severity_name(r->find[i].severity), r->find[i].code,
               r->find[i].text);
    printf("%s\n", not_judged);

    text_head("By type", 1);
    for (int t = 0; t < DB_TYPES; t++) {
        an_row row = a->by_type_redis[t];
        if (r->ks) {
            ks_totals tt = kstats_type_totals(r->ks, -1, t);
            row.keys = tt.keys;
            row.memkv = tt.bytes;
        }
        text_row(db_type_name(t), &row, 1);
    }
    text_head("By encoding (memkv, after load)", 1);
    for (int t = 0; t < DB_TYPES; t++)
        for (int e = 0; e < DB_ENCODINGS; e++) {
            char name[48];
            if (a->by_enc[t][e].keys) text_row(enc_name(name, t, e), &a->by_enc[t][e], 1);
        }
    text_head("By encoding (the file's RDB type: Redis's)", 1);
    for (int t = 0; t < AN_RDB_CODES; t++)
        if (a->by_rdb[t].keys) text_row(rdb_type_encoding_name(t), &a->by_rdb[t], 1);
    for (int i = 0; i < 3; i++)
        if (a->by_string_enc[i].keys) {
            char name[48];
            snprintf(name, sizeof(name), "string/%s (Redis)", string_encs[i]);
            text_row(name, &a->by_string_enc[i], 1);
        }
    text_head("By db (redis_bytes include the db's tables)", 1);
    for (long long i = 0; i < srv.databases; i++) {
        if (!a->db_keys[i]) continue;
        char name[32];
        snprintf(name, sizeof(name), "db%lld", i);
        an_row row = {a->db_keys[i], 0, a->db_redis[i] + db_tables(a, i)};
        if (r->ks) row.memkv = kstats_db_totals(r->ks, (int)i).bytes;
        text_row(name, &row, 1);
    }
    if (!r->ks) return;
    text_head("By TTL", 0);
    for (int b = 0; b < KS_TTL_BUCKETS; b++) {
        an_row row = {r->ttl[b].keys, r->ttl[b].bytes, 0};
        text_row(kstats_ttl_bucket_name(b), &row, 0);
    }
    text_head("Top prefixes", 0);
    for (size_t i = 0; i < r->nprefix; i++) {
        char name[200];
        printable(r->prefix[i].name, r->prefix[i].len, name, sizeof(name));
        an_row row = {r->prefix[i].keys, r->prefix[i].bytes, 0};
        text_row(name, &row, 0);
    }
    printf("\n# Top keys\n");
    text_keys_head();
    for (int i = 0; i < r->ntop; i++)
        text_key(r, &r->top[i]);
    printf("\n# Largest key per type\n");
    text_keys_head();
    for (int t = 0; t < DB_TYPES; t++)
        if (r->has_largest[t]) text_key(r, &r->largest[t]);
    printf("\n# Redis 7.0 estimate\n");
    text_wrap(estimate_model);
}

/* ---- JSON ---- */

static void json_row(json_buf *j, const char *name, const an_row *row, int with_redis) {
    json_obj(j, NULL);
    json_str(j, "name", name);
    json_uint(j, "keys", row->keys);
    json_uint(j, "memkv_bytes", row->memkv);
    if (with_redis) json_uint(j, "redis_bytes", row->redis);
    json_obj_end(j);
}

static void json_key_name(json_buf *j, const char *key, const char *s, size_t len) {
    char buf[200];
    printable(s, len, buf, sizeof(buf));
    json_str(j, key, buf);
}

static void json_top_key(json_buf *j, const report *r, const ks_top *t) {
    const char *enc;
    uint64_t len;
    int64_t ttl;
    key_details(r, t, &enc, &len, &ttl);
    json_obj(j, NULL);
    json_key_name(j, "key", t->key, t->klen);
    json_int(j, "db", t->db);
    json_str(j, "type", db_type_name(t->type));
    json_str(j, "encoding", enc);
    json_uint(j, "length", len);
    json_uint(j, "memkv_bytes", t->bytes);
    json_int(j, "ttl_ms", ttl);
    json_obj_end(j);
}

static void write_json(const report *r) {
    const analysis *a = r->a;
    json_buf jb, *j = &jb;
    json_init(j);
    json_obj(j, NULL);
    json_obj(j, "file");
    json_str(j, "name", a->path);
    json_uint(j, "size", a->file_size);
    json_int(j, "rdb_version", a->st.version);
    json_obj(j, "aux");
    for (size_t i = 0; i < a->naux; i++)
        json_str(j, a->aux_key[i], a->aux_val[i]);
    json_obj_end(j);
    json_int(j, "keys_loaded", a->st.loaded);
    json_int(j, "keys_expired_at_load", a->st.expired);
    json_int(j, "empty_keys", a->st.empty);
    json_obj(j, "skipped");
    json_int(j, "total", a->st.skipped);
    json_obj(j, "by_type");
    for (int t = 0; t < AN_RDB_CODES; t++)
        if (a->skipped_by[t]) json_uint(j, rdb_type_encoding_name(t), a->skipped_by[t]);
    json_obj_end(j);
    json_arr(j, "keys");
    for (size_t i = 0; i < a->nskipped_names; i++)
        json_key_name(j, NULL, a->skipped_names[i], strlen(a->skipped_names[i]));
    json_arr_end(j);
    json_obj_end(j);
    json_obj_end(j);

    uint64_t redis = a->redis_keys + a->redis_tables;
    json_obj(j, "memory");
    json_uint(j, "memkv_bytes", r->all.bytes);
    json_uint(j, "memkv_dataset_bytes", a->memkv_dataset);
    json_uint(j, "redis_estimate_bytes", redis);
    json_uint(j, "redis_keys_bytes", a->redis_keys);
    json_uint(j, "redis_tables_bytes", a->redis_tables);
    json_double(j, "memkv_vs_redis", ratio(a->memkv_dataset, redis));
    json_str(j, "redis_estimate_model", estimate_model);
    json_obj_end(j);

    json_obj(j, "doctor");
    json_bool(j, "keyspace_stats", r->ks != NULL);
    json_arr(j, "findings");
    for (size_t i = 0; i < r->nfind; i++) {
        json_obj(j, NULL);
        json_str(j, "severity", mem_severity_name(r->find[i].severity));
        json_str(j, "code", r->find[i].code);
        json_uint(j, "bytes", r->find[i].bytes);
        json_str(j, "text", r->find[i].text);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_str(j, "not_judged", not_judged);
    json_obj_end(j);

    json_arr(j, "by_type");
    for (int t = 0; t < DB_TYPES; t++) {
        an_row row = a->by_type_redis[t];
        if (r->ks) {
            ks_totals tt = kstats_type_totals(r->ks, -1, t);
            row.keys = tt.keys;
            row.memkv = tt.bytes;
        }
        json_row(j, db_type_name(t), &row, 1);
    }
    json_arr_end(j);
    json_arr(j, "by_encoding");
    for (int t = 0; t < DB_TYPES; t++)
        for (int e = 0; e < DB_ENCODINGS; e++) {
            char name[48];
            if (a->by_enc[t][e].keys) json_row(j, enc_name(name, t, e), &a->by_enc[t][e], 1);
        }
    json_arr_end(j);
    json_arr(j, "by_rdb_encoding");
    for (int t = 0; t < AN_RDB_CODES; t++) {
        if (!a->by_rdb[t].keys) continue;
        json_obj(j, NULL);
        json_str(j, "name", rdb_type_encoding_name(t));
        json_int(j, "rdb_type", t);
        json_uint(j, "keys", a->by_rdb[t].keys);
        json_uint(j, "memkv_bytes", a->by_rdb[t].memkv);
        json_uint(j, "redis_bytes", a->by_rdb[t].redis);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_arr(j, "by_redis_string_encoding");
    for (int i = 0; i < 3; i++)
        if (a->by_string_enc[i].keys) json_row(j, string_encs[i], &a->by_string_enc[i], 1);
    json_arr_end(j);
    json_arr(j, "by_db");
    for (long long i = 0; i < srv.databases; i++) {
        if (!a->db_keys[i]) continue;
        json_obj(j, NULL);
        json_int(j, "db", i);
        json_uint(j, "keys", a->db_keys[i]);
        json_uint(j, "volatile_keys", a->db_volatile[i]);
        json_uint(j, "memkv_bytes", r->ks ? kstats_db_totals(r->ks, (int)i).bytes : 0);
        json_uint(j, "redis_bytes", a->db_redis[i] + db_tables(a, i));
        json_obj_end(j);
    }
    json_arr_end(j);
    if (r->ks) {
        json_arr(j, "by_ttl");
        for (int b = 0; b < KS_TTL_BUCKETS; b++) {
            an_row row = {r->ttl[b].keys, r->ttl[b].bytes, 0};
            json_row(j, kstats_ttl_bucket_name(b), &row, 0);
        }
        json_arr_end(j);
        json_arr(j, "top_prefixes");
        for (size_t i = 0; i < r->nprefix; i++) {
            json_obj(j, NULL);
            json_key_name(j, "prefix", r->prefix[i].name, r->prefix[i].len);
            json_uint(j, "keys", r->prefix[i].keys);
            json_uint(j, "memkv_bytes", r->prefix[i].bytes);
            json_uint(j, "volatile_keys", r->prefix[i].volatile_keys);
            json_obj_end(j);
        }
        json_arr_end(j);
        json_arr(j, "top_keys");
        for (int i = 0; i < r->ntop; i++)
            json_top_key(j, r, &r->top[i]);
        json_arr_end(j);
        json_arr(j, "largest_by_type");
        for (int t = 0; t < DB_TYPES; t++)
            if (r->has_largest[t]) json_top_key(j, r, &r->largest[t]);
        json_arr_end(j);
    }
    json_obj_end(j);
    size_t len;
    char *text = json_take(j, &len);
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    metrics_buffer_free(text);
}

/* ---- the command line ---- */

static int fail_usage(const char *msg) {
    fprintf(stderr,
            "memkv-server --analyze-rdb: %s\n"
            "Usage: memkv-server --analyze-rdb FILE [--json] [--name value ...]\n",
            msg);
    return 1;
}

int analyze_rdb_main(int argc, char **argv) {
    if (argc < 3 || strncmp(argv[2], "--", 2) == 0) return fail_usage("an RDB file is needed");
    const char *path = argv[2];
    int json = 0, nargs = 0;
    char **args = alloc_malloc(ALLOC_SUB_OTHER, sizeof(char *) * (size_t)argc);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            args[nargs++] = argv[i];
    }
    char err[CFG_ERR_LEN];
    if (server_config_init(err) < 0 || cfg_load_args(&srv.config, nargs, args, err) < 0) {
        alloc_free(ALLOC_SUB_OTHER, args);
        fprintf(stderr, "memkv-server --analyze-rdb: configuration: %s\n", err);
        return 1;
    }
    alloc_free(ALLOC_SUB_OTHER, args);
    srv.keyspace_stats = 1; /* the report is made of them */
    server_update_time();
    server_create_dbs();
    if (keyspace_stats_apply(NULL, err) < 0) {
        fprintf(stderr, "memkv-server --analyze-rdb: %s\n", err);
        return 1;
    }

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "memkv-server --analyze-rdb: cannot read the RDB file '%s': %s\n", path,
                fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) close(fd);
        return 1;
    }
    analysis *a = alloc_calloc(ALLOC_SUB_OTHER, sizeof(*a));
    a->path = path;
    a->file_size = (uint64_t)st.st_size;
    persist_fill_limits(&a->lim);
    size_t ndb = (size_t)srv.databases;
    a->resize_keys = alloc_calloc(ALLOC_SUB_OTHER, ndb * sizeof(uint64_t));
    a->resize_expires = alloc_calloc(ALLOC_SUB_OTHER, ndb * sizeof(uint64_t));
    a->db_keys = alloc_calloc(ALLOC_SUB_OTHER, ndb * sizeof(uint64_t));
    a->db_volatile = alloc_calloc(ALLOC_SUB_OTHER, ndb * sizeof(uint64_t));
    a->db_redis = alloc_calloc(ALLOC_SUB_OTHER, ndb * sizeof(uint64_t));
    rdb_cost_reset(&a->cost);

    uint64_t before = dataset_bytes();
    persist_loader l = {.on_item = on_item, .observe = on_observe, .ctx = a};
    char why[384];
    srv.loading = 1;
    int rc = persist_load_fd(fd, &l, &a->st, why, sizeof(why));
    srv.loading = 0;
    close(fd);
    int code = 0;
    if (rc < 0) {
        fprintf(stderr, "memkv-server --analyze-rdb: %s: %s\n", path, why);
        code = rc == -1 ? 2 : 3;
    } else {
        a->memkv_dataset = dataset_bytes() - before;
        for (long long i = 0; i < srv.databases; i++)
            a->redis_tables += db_tables(a, i);
        report *r = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*r));
        report_fill(r, a);
        if (json)
            write_json(r);
        else
            write_text(r);
        alloc_free(ALLOC_SUB_OTHER, r);
        if (fflush(stdout) != 0) code = 1;
    }
    analysis_free(a);
    alloc_free(ALLOC_SUB_OTHER, a);
    keyspace_stats_shutdown();
    for (long long i = 0; i < srv.databases; i++)
        db_free(srv.dbs[i]);
    alloc_free(ALLOC_SUB_OTHER, srv.dbs);
    cfg_deinit(&srv.config);
    return code;
}
