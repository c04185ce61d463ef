/* render_info: INFO ALL and MEMORY STATS of any kind written as memkv_ families (render.h).
 *
 * Three tiers, in this order:
 *   1. Mapped fields: an INFO field whose meaning is the one a memkv_ family of the embedded
 *      endpoint (src/metrics/collector.c) or of this file has gets that family, under the same
 *      name, help text naming the INFO field. Only the first field of that name is mapped.
 *   2. Fields with a label in their name: dbN keyspace lines (memkv_db_keys{db}, …), Kvrocks'
 *      "name[cf]" RocksDB figures (memkv_rocksdb_*{cf}), Dragonfly's type_used_memory_<type>
 *      (memkv_memory_type_bytes{type}), memkv's memkv_subsystem_<s> and memkv_arena_<a>_<state>.
 *   3. Every other numeric field, once, in memkv_info_value{section,field} (plus cf for a
 *      "name[cf]" key, db for the extra pairs of a keyspace line): a field consumed by tier 1 or
 *      2 is NOT repeated there, so each figure is in the body once. A repeated (section, field)
 *      is written once (the first); fields whose key or section has bytes outside printable
 *      ASCII are skipped (no server writes them, and two of them could become one series once
 *      the writer replaces invalid UTF-8). Non-numeric values are skipped.
 * MEMORY STATS goes to memkv_memory_stats{stat} (the flattened name), except the per-db hash
 * table overheads "db.N.overhead.hashtable.T", which are memkv_db_hashtable_overhead_bytes
 * {db,table}.
 *
 * Pure and bounded: one pass per family over the fields, a hash set per labelled family so a
 * repeated label set never voids a family (the writer drops a family whole on a duplicate). */
#include "render.h"

#include "alloc/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- a set of 64-bit hashes (the label sets written so far in one family) ---- */

typedef struct seen_set {
    uint64_t *h;
    size_t n, cap;
} seen_set;

static uint64_t fnv_add(uint64_t h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff; /* separator: ("ab","c") differs from ("a","bc") */
    h *= 0x100000001b3ULL;
    return h;
}

static uint64_t hash3(const char *a, const char *b, const char *c) {
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv_add(h, a ? a : "");
    h = fnv_add(h, b ? b : "");
    h = fnv_add(h, c ? c : "");
    return h ? h : 1;
}

static void seen_deinit(seen_set *s) {
    alloc_free(ALLOC_SUB_OTHER, s->h);
    memset(s, 0, sizeof(*s));
}

static void seen_insert(seen_set *s, uint64_t h) {
    size_t mask = s->cap - 1, i = (size_t)h & mask;
    while (s->h[i] && s->h[i] != h)
        i = (i + 1) & mask;
    if (!s->h[i]) {
        s->h[i] = h;
        s->n++;
    }
}

/* 1 if h was not in the set (now added), 0 if it was. */
static int seen_add(seen_set *s, uint64_t h) {
    if ((s->n + 1) * 2 > s->cap) {
        seen_set g = {NULL, 0, s->cap ? s->cap * 2 : 64};
        g.h = alloc_calloc(ALLOC_SUB_OTHER, g.cap * sizeof(*g.h));
        for (size_t i = 0; i < s->cap; i++)
            if (s->h[i]) seen_insert(&g, s->h[i]);
        seen_deinit(s);
        *s = g;
    }
    size_t mask = s->cap - 1, i = (size_t)h & mask;
    while (s->h[i]) {
        if (s->h[i] == h) return 0;
        i = (i + 1) & mask;
    }
    s->h[i] = h;
    s->n++;
    return 1;
}

/* ---- writing ---- */

typedef struct rctx {
    metrics_writer *w;
    int err;
    const info_doc *d;
    unsigned char *used; /* per field: consumed by a mapped or labelled family */
    seen_set seen;
    int open; /* lazy family: begun */
} rctx;

static void note(rctx *c, int rc) {
    if (rc != 0 && c->err == 0) c->err = rc;
}

static void family(rctx *c, const char *name, const char *help, metrics_type type,
                   const char *unit) {
    note(c, metrics_family_begin(c->w, name, help, type, unit));
}

/* A sample with its empty labels left out: Prometheus reads an empty label as no label, so
 * this is the same series, written as a reader expects ({cf=""} would only be noise). */
static void sample(rctx *c, const metrics_label *l, size_t n, double v) {
    metrics_label kept[8];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 8; i++)
        if (l[i].value && l[i].value[0]) kept[k++] = l[i];
    note(c, metrics_sample_double(c->w, kept, k, v));
}

/* A labelled family begun at its first sample, so an absent figure leaves no empty family. */
typedef struct lazy_family {
    const char *name, *help;
    metrics_type type;
    const char *unit;
} lazy_family;

static void lazy_begin(rctx *c, const lazy_family *f) {
    seen_deinit(&c->seen);
    c->open = 0;
    (void)f;
}

/* Add a sample under f unless its label set (hashed) was written already. */
static void lazy_sample(rctx *c, const lazy_family *f, const metrics_label *l, size_t n, double v) {
    if (f->type == METRICS_COUNTER && (isnan(v) || v < 0)) return;
    uint64_t h = hash3(n > 0 ? l[0].value : "", n > 1 ? l[1].value : "", n > 2 ? l[2].value : "");
    if (!seen_add(&c->seen, h)) return;
    if (!c->open) {
        family(c, f->name, f->help, f->type, f->unit);
        c->open = 1;
    }
    sample(c, l, n, v);
}

static int printable(const char *s) {
    if (!s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e) return 0;
    return 1;
}

static int field_number(const info_field *f, double *out) {
    return exp_parse_number(f->value, strlen(f->value), out);
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A label value from an INFO value: blanks trimmed, at most cap - 1 bytes. */
static void label_value(char *out, size_t cap, const char *v) {
    if (!v) v = "";
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n > cap - 1) n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* ---- tier 1: one INFO field, one family ---- */

typedef struct map1 {
    const char *key, *name;
    metrics_type type;
    const char *unit, *help;
} map1;

#define G METRICS_GAUGE
#define C METRICS_COUNTER
static const map1 mapped[] = {
    {"used_memory", "memkv_memory_used_bytes", G, "bytes",
     "Bytes the server accounts for (INFO used_memory)."},
    {"used_memory_rss", "memkv_memory_rss_bytes", G, "bytes",
     "Resident set size of the server process (INFO used_memory_rss)."},
    {"used_memory_peak", "memkv_memory_peak_bytes", G, "bytes",
     "Highest used memory since start (INFO used_memory_peak)."},
    {"used_memory_peak_rss", "memkv_memory_rss_peak_bytes", G, "bytes",
     "Highest resident set size since start (INFO used_memory_peak_rss, Dragonfly)."},
    {"used_memory_startup", "memkv_memory_startup_bytes", G, "bytes",
     "Used memory once start-up was done (INFO used_memory_startup)."},
    {"used_memory_dataset", "memkv_memory_dataset_bytes", G, "bytes",
     "Used memory minus the server's overhead: the data itself (INFO used_memory_dataset)."},
    {"used_memory_overhead", "memkv_memory_overhead_bytes", G, "bytes",
     "Used memory the server needs for its own structures, buffers and dictionaries (INFO "
     "used_memory_overhead)."},
    {"maxmemory", "memkv_memory_max_bytes", G, "bytes",
     "The maxmemory limit in bytes; 0 means no limit (INFO maxmemory)."},
    {"used_memory_lua", "memkv_memory_lua_bytes", G, "bytes",
     "Bytes the Lua interpreter holds (INFO used_memory_lua)."},
    {"used_memory_scripts_eval", "memkv_memory_scripts_eval_bytes", G, "bytes",
     "Bytes of the EVAL script cache (INFO used_memory_scripts_eval)."},
    {"number_of_cached_scripts", "memkv_scripts_cached", G, NULL,
     "Scripts in the script cache (INFO number_of_cached_scripts)."},
    {"evicted_scripts", "memkv_scripts_evicted", C, NULL,
     "EVAL scripts evicted from the cache past lua-script-cache-max (INFO evicted_scripts, "
     "Redis 7.4 and memkv)."},
    {"memkv_rss_baseline", "memkv_memory_rss_baseline_bytes", G, "bytes",
     "Process RSS once start-up was done: what an empty server costs (INFO memkv_rss_baseline)."},
    {"allocator_allocated", "memkv_allocator_allocated_bytes", G, "bytes",
     "Bytes in allocations the application holds, by the allocator (INFO allocator_allocated)."},
    {"allocator_active", "memkv_allocator_active_bytes", G, "bytes",
     "Bytes in the allocator's active pages (INFO allocator_active)."},
    {"allocator_resident", "memkv_allocator_resident_bytes", G, "bytes",
     "Bytes in physically resident pages the allocator maps (INFO allocator_resident)."},
    {"allocator_muzzy", "memkv_allocator_muzzy_bytes", G, "bytes",
     "Bytes in muzzy pages the allocator may give back (INFO allocator_muzzy)."},
    {"memkv_allocator_retained", "memkv_allocator_retained_bytes", G, "bytes",
     "Bytes of virtual memory the allocator retained instead of unmapping (INFO "
     "memkv_allocator_retained)."},
    {"memkv_allocator_mapped", "memkv_allocator_mapped_bytes", G, "bytes",
     "Bytes in active extents the allocator maps (INFO memkv_allocator_mapped)."},
    {"memkv_allocator_metadata", "memkv_allocator_metadata_bytes", G, "bytes",
     "Bytes the allocator uses for its own metadata (INFO memkv_allocator_metadata)."},
    {"allocator_frag_ratio", "memkv_allocator_fragmentation_ratio", G, "ratio",
     "INFO allocator_frag_ratio: allocator active / allocated bytes; from Redis 7.4 and Valkey 8 "
     "small-bin fragmentation / allocated + 1."},
    {"allocator_frag_bytes", "memkv_allocator_fragmentation_bytes", G, "bytes",
     "INFO allocator_frag_bytes: allocator active - allocated bytes; from Redis 7.4 and Valkey "
     "8 the free bytes in small-bin slabs only."},
    {"allocator_rss_ratio", "memkv_allocator_rss_ratio", G, "ratio",
     "Allocator resident / active bytes (INFO allocator_rss_ratio)."},
    {"allocator_rss_bytes", "memkv_allocator_rss_bytes", G, "bytes",
     "Allocator resident - active bytes (INFO allocator_rss_bytes)."},
    {"rss_overhead_ratio", "memkv_rss_overhead_ratio", G, "ratio",
     "Process RSS / allocator resident bytes (INFO rss_overhead_ratio)."},
    {"rss_overhead_bytes", "memkv_rss_overhead_bytes", G, "bytes",
     "Process RSS - allocator resident bytes (INFO rss_overhead_bytes)."},
    {"mem_fragmentation_ratio", "memkv_memory_fragmentation_ratio", G, "ratio",
     "Process RSS / used memory (INFO mem_fragmentation_ratio)."},
    {"mem_fragmentation_bytes", "memkv_memory_fragmentation_bytes", G, "bytes",
     "Process RSS - used memory (INFO mem_fragmentation_bytes)."},
    {"mem_not_counted_for_evict", "memkv_memory_not_counted_for_eviction_bytes", G, "bytes",
     "Used memory maxmemory eviction does not count: replica and AOF buffers (INFO "
     "mem_not_counted_for_evict)."},
    {"mem_replication_backlog", "memkv_memory_replication_backlog_bytes", G, "bytes",
     "Bytes of the replication backlog (INFO mem_replication_backlog)."},
    {"mem_total_replication_buffers", "memkv_memory_replication_buffers_bytes", G, "bytes",
     "Bytes of the shared replication buffers (INFO mem_total_replication_buffers)."},
    {"mem_clients_slaves", "memkv_memory_clients_replicas_bytes", G, "bytes",
     "Buffer bytes of replica connections (INFO mem_clients_slaves)."},
    {"mem_clients_normal", "memkv_memory_clients_normal_bytes", G, "bytes",
     "Buffer bytes of ordinary client connections (INFO mem_clients_normal)."},
    {"mem_cluster_links", "memkv_memory_cluster_links_bytes", G, "bytes",
     "Bytes of cluster bus links (INFO mem_cluster_links)."},
    {"mem_aof_buffer", "memkv_memory_aof_buffer_bytes", G, "bytes",
     "Bytes of the AOF buffers (INFO mem_aof_buffer)."},
    {"connected_clients", "memkv_connected_clients", G, NULL,
     "Client connections open now (INFO connected_clients)."},
    {"maxclients", "memkv_max_clients", G, NULL, "The maxclients limit (INFO maxclients)."},
    {"blocked_clients", "memkv_blocked_clients", G, NULL,
     "Clients waiting for a blocking command (INFO blocked_clients)."},
    {"total_commands_processed", "memkv_commands_processed", C, NULL,
     "Commands processed since start (INFO total_commands_processed)."},
    {"total_connections_received", "memkv_connections_received", C, NULL,
     "Connections accepted since start (INFO total_connections_received)."},
    {"rejected_connections", "memkv_rejected_connections", C, NULL,
     "Connections refused because of maxclients (INFO rejected_connections)."},
    {"expired_keys", "memkv_expired_keys", C, NULL,
     "Keys removed because their time to live ran out (INFO expired_keys)."},
    {"evicted_keys", "memkv_evicted_keys", C, NULL,
     "Keys evicted because of maxmemory (INFO evicted_keys)."},
    {"keyspace_hits", "memkv_keyspace_hits", C, NULL,
     "Key lookups that found the key (INFO keyspace_hits)."},
    {"keyspace_misses", "memkv_keyspace_misses", C, NULL,
     "Key lookups that did not find the key (INFO keyspace_misses)."},
    {"total_error_replies", "memkv_error_replies", C, NULL,
     "Error replies sent to clients (INFO total_error_replies)."},
    {"total_net_input_bytes", "memkv_net_input_bytes", C, "bytes",
     "Bytes read from client connections (INFO total_net_input_bytes)."},
    {"total_net_output_bytes", "memkv_net_output_bytes", C, "bytes",
     "Bytes written to client connections (INFO total_net_output_bytes)."},
};
#undef G
#undef C

static long find_field(const info_doc *d, const char *key) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->fields[i].key, key) == 0) return (long)i;
    return -1;
}

static void render_mapped(rctx *c) {
    for (size_t m = 0; m < sizeof(mapped) / sizeof(mapped[0]); m++) {
        long i = find_field(c->d, mapped[m].key);
        double v;
        if (i < 0 || field_number(&c->d->fields[i], &v) != 0) continue;
        c->used[i] = 1;
        if (mapped[m].type == METRICS_COUNTER && (isnan(v) || v < 0)) continue;
        family(c, mapped[m].name, mapped[m].help, mapped[m].type, mapped[m].unit);
        sample(c, NULL, 0, v);
    }

    /* the two buffer-limit counters are one family with a label, as in collector.c */
    static const lazy_family lim = {
        "memkv_client_buffer_limit_disconnections",
        "Clients disconnected for going over a buffer limit, by buffer (INFO "
        "client_query_buffer_limit_disconnections, client_output_buffer_limit_disconnections).",
        METRICS_COUNTER, NULL};
    static const char *const lim_keys[2] = {"client_query_buffer_limit_disconnections",
                                            "client_output_buffer_limit_disconnections"};
    static const char *const lim_vals[2] = {"query", "output"};
    lazy_begin(c, &lim);
    for (int k = 0; k < 2; k++) {
        long i = find_field(c->d, lim_keys[k]);
        double v;
        if (i < 0 || field_number(&c->d->fields[i], &v) != 0) continue;
        c->used[i] = 1;
        metrics_label l[] = {{"buffer", lim_vals[k]}};
        lazy_sample(c, &lim, l, 1, v);
    }
}

/* ---- info families: what answers, its allocator and policy ---- */

static void render_infos(rctx *c, const scrape_result *r) {
    char version[128], redis_version[128], allocator[128], policy[128];
    label_value(version, sizeof(version), r->version);
    label_value(redis_version, sizeof(redis_version), info_get(c->d, "redis_version"));
    label_value(allocator, sizeof(allocator), info_get(c->d, "mem_allocator"));
    label_value(policy, sizeof(policy), info_get(c->d, "maxmemory_policy"));
    family(c, "memkv_server",
           "What answers: server kind (memkv, redis, valkey, keydb, kvrocks, dragonfly), its own "
           "version, the Redis version it claims and its allocator; always 1.",
           METRICS_INFO, NULL);
    metrics_label l[] = {{"kind", server_kind_name(r->kind)},
                         {"version", version},
                         {"redis_version", redis_version},
                         {"allocator", allocator}};
    sample(c, l, 4, 1);
    if (allocator[0]) {
        family(c, "memkv_allocator",
               "The memory allocator in use (INFO mem_allocator, e.g. jemalloc-5.3.0 or libc); "
               "always 1.",
               METRICS_INFO, NULL);
        metrics_label la[] = {{"allocator", allocator}};
        sample(c, la, 1, 1);
    }
    if (policy[0]) {
        family(c, "memkv_maxmemory_policy",
               "The maxmemory-policy in force (INFO maxmemory_policy); always 1.", METRICS_INFO,
               NULL);
        metrics_label lp[] = {{"policy", policy}};
        sample(c, lp, 1, 1);
    }
}

/* ---- tier 2: labels from field names ---- */

/* Kvrocks' "name[cf]": the base name in base (cap bytes) and the column family in cf; 0, or -1
 * when key has no (non-empty) bracket suffix. */
static int split_cf(const char *key, char *base, size_t bcap, char *cf, size_t ccap) {
    size_t n = strlen(key);
    if (n < 3 || key[n - 1] != ']') return -1;
    const char *open = strrchr(key, '[');
    if (!open || open == key) return -1;
    size_t bl = (size_t)(open - key), cl = n - bl - 2;
    if (cl == 0 || bl >= bcap || cl >= ccap) return -1;
    memcpy(base, key, bl);
    base[bl] = '\0';
    memcpy(cf, open + 1, cl);
    cf[cl] = '\0';
    return 0;
}

typedef struct rocks_map {
    const char *base;
    lazy_family f;
} rocks_map;

static const rocks_map rocks[] = {
    {"block_cache_usage",
     {"memkv_rocksdb_block_cache_usage_bytes",
      "Bytes in RocksDB's block cache (Kvrocks INFO block_cache_usage).", METRICS_GAUGE, "bytes"}},
    {"block_cache_pinned_usage",
     {"memkv_rocksdb_block_cache_pinned_usage_bytes",
      "Bytes of pinned entries in RocksDB's block cache, by column family (Kvrocks INFO "
      "block_cache_pinned_usage[cf]).",
      METRICS_GAUGE, "bytes"}},
    {"index_and_filter_cache_usage",
     {"memkv_rocksdb_index_and_filter_cache_usage_bytes",
      "Bytes of RocksDB index and filter blocks (rocksdb.estimate-table-readers-mem), by column "
      "family (Kvrocks INFO index_and_filter_cache_usage[cf]).",
      METRICS_GAUGE, "bytes"}},
    {"estimate_table_readers_mem",
     {"memkv_rocksdb_table_readers_bytes",
      "Bytes RocksDB's table readers hold, indexes and filters (INFO "
      "estimate_table_readers_mem[cf]).",
      METRICS_GAUGE, "bytes"}},
    {"all_mem_tables",
     {"memkv_rocksdb_memtables_all_bytes",
      "Bytes of RocksDB memtables, active, unflushed and pinned (Kvrocks INFO all_mem_tables).",
      METRICS_GAUGE, "bytes"}},
    {"cur_mem_tables",
     {"memkv_rocksdb_memtables_current_bytes",
      "Bytes of RocksDB's active and unflushed memtables (Kvrocks INFO cur_mem_tables).",
      METRICS_GAUGE, "bytes"}},
    {"estimate_keys",
     {"memkv_rocksdb_estimated_keys",
      "RocksDB's estimate of the keys in a column family (Kvrocks INFO estimate_keys[cf]).",
      METRICS_GAUGE, NULL}},
};

static void render_rocksdb(rctx *c) {
    const info_doc *d = c->d;
    for (size_t m = 0; m < sizeof(rocks) / sizeof(rocks[0]); m++) {
        lazy_begin(c, &rocks[m].f);
        for (size_t i = 0; i < d->n; i++) {
            const info_field *f = &d->fields[i];
            char base[128], cf[128];
            const char *cfv = "";
            if (split_cf(f->key, base, sizeof(base), cf, sizeof(cf)) == 0) {
                if (strcmp(base, rocks[m].base) != 0 || !printable(cf)) continue;
                cfv = cf;
            } else if (strcmp(f->key, rocks[m].base) != 0) {
                continue;
            }
            double v;
            if (field_number(f, &v) != 0) continue;
            c->used[i] = 1;
            metrics_label l[] = {{"cf", cfv}};
            lazy_sample(c, &rocks[m].f, l, 1, v);
        }
    }
}

/* Families from "<prefix><label>" fields: Dragonfly's types, memkv's subsystems. */
static void render_prefixed(rctx *c, const char *prefix, const char *label, const lazy_family *f) {
    const info_doc *d = c->d;
    size_t pl = strlen(prefix);
    lazy_begin(c, f);
    for (size_t i = 0; i < d->n; i++) {
        const info_field *fd = &d->fields[i];
        double v;
        if (!starts_with(fd->key, prefix) || !fd->key[pl] || !printable(fd->key)) continue;
        if (field_number(fd, &v) != 0) continue;
        c->used[i] = 1;
        metrics_label l[] = {{label, fd->key + pl}};
        lazy_sample(c, f, l, 1, v);
    }
}

/* memkv's memkv_arena_<arena>_<allocated|active|resident>. */
static void render_arenas(rctx *c) {
    static const lazy_family f = {
        "memkv_memory_arena_bytes",
        "Allocated, active and resident bytes of the arena a group of subsystems has of its own "
        "(INFO memkv_arena_<arena>_<state>).",
        METRICS_GAUGE, "bytes"};
    static const char *const states[] = {"allocated", "active", "resident"};
    const info_doc *d = c->d;
    lazy_begin(c, &f);
    for (size_t i = 0; i < d->n; i++) {
        const info_field *fd = &d->fields[i];
        if (!starts_with(fd->key, "memkv_arena_") || !printable(fd->key)) continue;
        const char *rest = fd->key + strlen("memkv_arena_");
        for (size_t s = 0; s < 3; s++) {
            size_t rl = strlen(rest), sl = strlen(states[s]);
            if (rl < sl + 2 || rest[rl - sl - 1] != '_' || strcmp(rest + rl - sl, states[s]) != 0)
                continue;
            char arena[64];
            if (rl - sl - 1 >= sizeof(arena)) break;
            memcpy(arena, rest, rl - sl - 1);
            arena[rl - sl - 1] = '\0';
            double v;
            if (field_number(fd, &v) != 0) break;
            c->used[i] = 1;
            metrics_label l[] = {{"arena", arena}, {"state", states[s]}};
            lazy_sample(c, &f, l, 2, v);
            break;
        }
    }
}

/* ---- keyspace: "dbN:keys=1,expires=0,avg_ttl=0[,…]" ---- */

/* The next "k=v" of a keyspace value: 1 with k and v copied (NUL-terminated), 0 at the end. A
 * pair whose parts do not fit is skipped (k set to ""). */
static int next_pair(const char **p, char *k, size_t kcap, char *v, size_t vcap) {
    const char *s = *p;
    while (*s == ' ' || *s == ',')
        s++;
    if (!*s) return 0;
    const char *end = strchr(s, ',');
    if (!end) end = s + strlen(s);
    *p = end;
    const char *eq = memchr(s, '=', (size_t)(end - s));
    k[0] = v[0] = '\0';
    if (!eq) return 1;
    size_t kl = (size_t)(eq - s), vl = (size_t)(end - eq - 1);
    if (kl == 0 || kl >= kcap || vl >= vcap) return 1;
    memcpy(k, s, kl);
    k[kl] = '\0';
    memcpy(v, eq + 1, vl);
    v[vl] = '\0';
    return 1;
}

/* "db" and digits, the value with "keys=": the db number as text in *db. */
static int is_db_line(const info_field *f, const char **db) {
    const char *k = f->key;
    if (k[0] != 'd' || k[1] != 'b' || !k[2]) return 0;
    for (const char *p = k + 2; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    if (strlen(k) > 12 || !strstr(f->value, "keys=")) return 0;
    *db = k + 2;
    return 1;
}

static int pair_number(const char *v, double *out) {
    return exp_parse_number(v, strlen(v), out);
}

/* One family of the keyspace: the pair named want of each db line (first line per db). */
static void render_db_pair(rctx *c, const lazy_family *f, const char *want, double scale,
                           int zero_db0) {
    const info_doc *d = c->d;
    lazy_begin(c, f);
    for (size_t i = 0; i < d->n; i++) {
        const char *db;
        if (!is_db_line(&d->fields[i], &db)) continue;
        c->used[i] = 1;
        const char *p = d->fields[i].value;
        char k[64], v[64];
        while (next_pair(&p, k, sizeof(k), v, sizeof(v))) {
            double x;
            if (strcmp(k, want) != 0 || pair_number(v, &x) != 0) continue;
            if (scale != 1 && x < 0) break; /* Dragonfly's avg_ttl -1: no TTL known */
            metrics_label l[] = {{"db", db}};
            lazy_sample(c, f, l, 1, x * scale);
            break;
        }
    }
    /* db 0 is always there (0 when empty or unreadable), as in collector.c: the families never
     * vanish on an empty server; a db 0 written above makes this a no-op */
    if (zero_db0) {
        metrics_label l0[] = {{"db", "0"}};
        lazy_sample(c, f, l0, 1, 0);
    }
}

static int is_db_known_pair(const char *k) {
    return strcmp(k, "keys") == 0 || strcmp(k, "expires") == 0 || strcmp(k, "avg_ttl") == 0;
}

/* memkv's own extra pairs, "<type>[_<encoding>]=<keys>". */
static void render_db_kinds(rctx *c) {
    static const lazy_family f = {"memkv_keyspace_keys",
                                  "Keys in a database by type and encoding (INFO keyspace).",
                                  METRICS_GAUGE, NULL};
    const info_doc *d = c->d;
    lazy_begin(c, &f);
    for (size_t i = 0; i < d->n; i++) {
        const char *db;
        if (!is_db_line(&d->fields[i], &db)) continue;
        const char *p = d->fields[i].value;
        char k[64], v[64];
        while (next_pair(&p, k, sizeof(k), v, sizeof(v))) {
            double x;
            if (!k[0] || is_db_known_pair(k) || !printable(k) || pair_number(v, &x) != 0) continue;
            char *us = strchr(k, '_');
            const char *enc = "";
            if (us) {
                *us = '\0';
                enc = us + 1;
            }
            metrics_label l[] = {{"db", db}, {"type", k}, {"encoding", enc}};
            lazy_sample(c, &f, l, 3, x);
        }
    }
}

static void render_keyspace(rctx *c, const scrape_result *r) {
    static const lazy_family keys = {"memkv_db_keys", "Keys in a database (INFO keyspace keys=).",
                                     METRICS_GAUGE, NULL};
    static const lazy_family exp = {"memkv_db_expiring_keys",
                                    "Keys with a time to live in a database (INFO keyspace "
                                    "expires=).",
                                    METRICS_GAUGE, NULL};
    static const lazy_family ttl = {"memkv_db_avg_ttl_seconds",
                                    "Average time to live of the keys with one, sampled by the "
                                    "server (INFO keyspace avg_ttl=, in seconds); 0 when unknown.",
                                    METRICS_GAUGE, "seconds"};
    render_db_pair(c, &keys, "keys", 1, 1);
    render_db_pair(c, &exp, "expires", 1, 1);
    render_db_pair(c, &ttl, "avg_ttl", 0.001, 0);
    if (r->kind == SERVER_MEMKV) render_db_kinds(c);
}

/* ---- tier 3: everything else ---- */

static void render_generic(rctx *c, const scrape_result *r) {
    static const lazy_family f = {
        "memkv_info_value",
        "Every numeric INFO field without a family of its own, by section and field name (cf: "
        "Kvrocks column family of a name[cf] field; db: an extra pair of a keyspace line).",
        METRICS_UNTYPED, NULL};
    const info_doc *d = c->d;
    lazy_begin(c, &f);
    for (size_t i = 0; i < d->n; i++) {
        const info_field *fd = &d->fields[i];
        double v;
        if (c->used[i] || !printable(fd->key) || !printable(fd->section)) continue;
        if (field_number(fd, &v) != 0) continue;
        char base[128], cf[128];
        if (split_cf(fd->key, base, sizeof(base), cf, sizeof(cf)) == 0) {
            metrics_label l[] = {{"section", fd->section}, {"field", base}, {"cf", cf}};
            lazy_sample(c, &f, l, 3, v);
        } else {
            metrics_label l[] = {{"section", fd->section}, {"field", fd->key}};
            lazy_sample(c, &f, l, 2, v);
        }
    }
    if (r->kind == SERVER_MEMKV) return; /* its extra pairs are memkv_keyspace_keys */
    /* other kinds' extra keyspace pairs (KeyDB cached_keys, Kvrocks expired, …); label set
     * {section, field, "", db} hashed apart from {section, field, cf} by the separator */
    for (size_t i = 0; i < d->n; i++) {
        const char *db;
        if (!is_db_line(&d->fields[i], &db) || !printable(d->fields[i].section)) continue;
        const char *p = d->fields[i].value;
        char k[64], v[64], dbkey[80];
        while (next_pair(&p, k, sizeof(k), v, sizeof(v))) {
            double x;
            if (!k[0] || is_db_known_pair(k) || !printable(k) || pair_number(v, &x) != 0) continue;
            snprintf(dbkey, sizeof(dbkey), "\x01%s", db);
            metrics_label l[] = {{"section", d->fields[i].section}, {"field", k}, {"db", db}};
            /* hashed with a marker so {section,field,db} never equals {section,field,cf} */
            metrics_label h[] = {l[0], l[1], {"db", dbkey}};
            uint64_t hv = hash3(h[0].value, h[1].value, h[2].value);
            if (!seen_add(&c->seen, hv)) continue;
            if (!c->open) {
                family(c, f.name, f.help, f.type, f.unit);
                c->open = 1;
            }
            sample(c, l, 3, x);
        }
    }
}

/* ---- MEMORY STATS ---- */

/* "db.<N>.overhead.hashtable.<table>": N and table; 0 or -1. */
static int split_db_overhead(const char *name, char *db, size_t dcap, const char **table) {
    if (strncmp(name, "db.", 3) != 0) return -1;
    const char *p = name + 3, *q = p;
    while (*q >= '0' && *q <= '9')
        q++;
    if (q == p || (size_t)(q - p) >= dcap) return -1;
    static const char mid[] = ".overhead.hashtable.";
    if (strncmp(q, mid, sizeof(mid) - 1) != 0 || !q[sizeof(mid) - 1]) return -1;
    memcpy(db, p, (size_t)(q - p));
    db[q - p] = '\0';
    *table = q + sizeof(mid) - 1;
    return 0;
}

static void render_memstats(rctx *c, const memstats *m) {
    static const lazy_family stats = {
        "memkv_memory_stats",
        "Every figure of MEMORY STATS by its flattened name (peak.allocated, overhead.total, "
        "keys.bytes-per-key, dataset.percentage, …): bytes unless the name says otherwise.",
        METRICS_GAUGE, NULL};
    static const lazy_family dbo = {
        "memkv_db_hashtable_overhead_bytes",
        "Bytes of a database's hash tables by table (MEMORY STATS db.N.overhead.hashtable.T).",
        METRICS_GAUGE, "bytes"};
    char db[16];
    const char *table;
    lazy_begin(c, &dbo);
    for (size_t i = 0; i < m->n; i++) {
        if (!printable(m->e[i].name)) continue;
        if (split_db_overhead(m->e[i].name, db, sizeof(db), &table) != 0) continue;
        metrics_label l[] = {{"db", db}, {"table", table}};
        lazy_sample(c, &dbo, l, 2, m->e[i].value);
    }
    lazy_begin(c, &stats);
    for (size_t i = 0; i < m->n; i++) {
        if (!printable(m->e[i].name)) continue;
        if (split_db_overhead(m->e[i].name, db, sizeof(db), &table) == 0) continue;
        metrics_label l[] = {{"stat", m->e[i].name}};
        lazy_sample(c, &stats, l, 1, m->e[i].value);
    }
}

int render_info(metrics_writer *w, const scrape_result *r) {
    if (!w || !r) return METRICS_ERR_ARG;
    rctx c;
    memset(&c, 0, sizeof(c));
    c.w = w;
    if (r->info && r->info->n > 0) {
        c.d = r->info;
        c.used = alloc_calloc(ALLOC_SUB_OTHER, r->info->n);
        render_infos(&c, r);
        render_mapped(&c);
        static const lazy_family types = {
            "memkv_memory_type_bytes",
            "Bytes of the values of one type (Dragonfly INFO type_used_memory_<type>).",
            METRICS_GAUGE, "bytes"};
        static const lazy_family subs = {
            "memkv_memory_subsystem_bytes",
            "Bytes held per subsystem, exact usable sizes (INFO memkv_subsystem_<subsystem>).",
            METRICS_GAUGE, "bytes"};
        render_prefixed(&c, "type_used_memory_", "type", &types);
        render_prefixed(&c, "memkv_subsystem_", "subsystem", &subs);
        render_arenas(&c);
        render_rocksdb(&c);
        render_keyspace(&c, r);
        render_generic(&c, r);
        alloc_free(ALLOC_SUB_OTHER, c.used);
    }
    if (r->memstats) render_memstats(&c, r->memstats);
    seen_deinit(&c.seen);
    return c.err;
}
