/* collector — every memkv family for /metrics, and the /debug/memory JSON report (see metrics.h).
 *
 * Ratios: precomputed AND the byte figures. The four ratios of Redis's INFO memory are exposed
 * as gauges — memkv_allocator_fragmentation_ratio (allocator active / allocated),
 * memkv_allocator_rss_ratio (allocator resident / active), memkv_rss_overhead_ratio (process
 * RSS / allocator resident) and memkv_memory_fragmentation_ratio (process RSS / used memory) —
 * because Redis users and redis_exporter's dashboards expect mem_fragmentation_ratio & co. as
 * series of their own, and because they come from one reading of the counters (the same
 * mem_ratios_compute INFO memory uses, so both agree; a ratio computed by a recording rule mixes
 * samples of two families that may not be from one moment). Every numerator and denominator is
 * a family too, so recording rules (DESIGN.md) can still derive their own ratios and the wasted
 * bytes that guard alerts (process_resident_memory_bytes - memkv_memory_used_bytes). A ratio
 * whose denominator is unknown or 0 reads 1.0 (neutral), never +Inf/NaN. Without jemalloc the
 * allocator ratios use used memory for the allocator figures, exactly as INFO memory does.
 *
 * Allocator families: memkv_allocator_{allocated,active,resident,retained,mapped,metadata}_bytes
 * and the per-size-class families exist only when the allocator reports them (jemalloc). A libc
 * build (the sanitizer build) leaves them out instead of inventing figures; memkv_allocator_info
 * {allocator="jemalloc-5.3.0"|"libc"} is always there, and so are memkv_memory_used_bytes and
 * process_resident_memory_bytes, which "memory metrics missing" alerts should test.
 *
 * Families are written in a fixed order; label values are low-cardinality (subsystem, arena,
 * state, size class, db, buffer, version strings, key type, TTL bucket), never key or client
 * names; the one exception in kind, key prefixes, is folded (digits as '#', IDs as '*') and
 * bounded (the keyspace-prefix-metrics largest by bytes, 200 at most).
 */
#include "metrics/metrics.h"

#include "alloc/alloc.h"
#include "metrics/json.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- published server state ---------------------------------------------------------------- */

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static metrics_server_state state_copy; /* zeros until the first publish */

void metrics_state_publish(const metrics_server_state *s) {
    if (!s) return;
    pthread_mutex_lock(&state_lock);
    state_copy = *s;
    pthread_mutex_unlock(&state_lock);
}

void metrics_state_read(metrics_server_state *out) {
    if (!out) return;
    pthread_mutex_lock(&state_lock);
    *out = state_copy;
    pthread_mutex_unlock(&state_lock);
}

static void read_process(metrics_inputs *in) {
    metrics_process p;
    metrics_process_read(&p); /* src/metrics/process.c, shared with memkv-exporter */
    in->cpu_seconds = p.cpu_seconds;
    in->start_time_seconds = p.start_time_seconds;
    in->virtual_memory_bytes = p.virtual_memory_bytes;
    in->open_fds = p.open_fds;
    in->max_fds = p.max_fds;
}

/* ---- gathering ----------------------------------------------------------------------------- */

void metrics_inputs_gather(metrics_inputs *in) {
    if (!in) return;
    memset(in, 0, sizeof(*in));
    mem_stats_batch_begin(); /* one jemalloc refresh for every figure of this scrape */
    metrics_state_read(&in->server);
    if (in->server.ndbs > METRICS_MAX_DBS) in->server.ndbs = METRICS_MAX_DBS;

    /* One reading of every counter; used memory is their sum (INFO memory's used_memory). A
     * subsystem a moment negative (freed on another thread than the one that counted it)
     * reads 0, in the sum too, so the family always adds up to used memory. */
    size_t used = 0;
    for (int i = 0; i < ALLOC_SUB_COUNT && in->nsub < METRICS_MAX_SUBSYSTEMS; i++) {
        int64_t b = alloc_sub_bytes((alloc_sub)i);
        if (b < 0) b = 0;
        in->sub[in->nsub].name = alloc_sub_name((alloc_sub)i);
        in->sub[in->nsub].bytes = b;
        in->nsub++;
        used += (size_t)b;
    }
    in->used_memory = used;
    if (in->server.used_memory_peak < used) in->server.used_memory_peak = used;

    mem_allocator_stats_read(&in->alloc); /* bumps the epoch */
    in->rss = mem_process_rss();
    mem_allocator_stats a = in->alloc;
    if (!a.available) a.allocated = a.active = a.resident = used; /* as INFO memory */
    mem_ratios_compute(&a, in->rss, used, &in->ratios);

    for (int g = 0; g < ALLOC_ARENA_GROUPS && in->narenas < METRICS_MAX_ARENAS; g++) {
        unsigned idx;
        if (!alloc_arena_index((alloc_arena_group)g, &idx)) continue;
        mem_arena_stats st;
        if (mem_arena_stats_read(idx, &st) != 0) continue;
        in->arenas[in->narenas].name = alloc_arena_group_name((alloc_arena_group)g);
        in->arenas[in->narenas].stats = st;
        in->narenas++;
    }

    size_t nbins = 0;
    if (mem_bins_read(in->bins, METRICS_MAX_BINS, &nbins) == 0)
        in->nbins = nbins < METRICS_MAX_BINS ? nbins : METRICS_MAX_BINS;

    prof_status_get(&in->prof);
    read_process(in);
    mem_stats_batch_end();
}

/* ---- metrics_collect ----------------------------------------------------------------------- */

typedef struct col {
    metrics_writer *w;
    int err; /* the first writer error */
} col;

static void note(col *c, int rc) {
    if (rc != 0 && c->err == 0) c->err = rc;
}

static int64_t i64(uint64_t v) {
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void family(col *c, const char *name, const char *help, metrics_type type,
                   const char *unit) {
    note(c, metrics_family_begin(c->w, name, help, type, unit));
}

static void sample_i(col *c, const metrics_label *l, size_t n, int64_t v) {
    note(c, metrics_sample_int(c->w, l, n, v));
}

static void sample_d(col *c, const metrics_label *l, size_t n, double v) {
    note(c, metrics_sample_double(c->w, l, n, v));
}

/* A family with one unlabelled sample. */
static void one_i(col *c, const char *name, const char *help, metrics_type type, const char *unit,
                  int64_t v) {
    family(c, name, help, type, unit);
    sample_i(c, NULL, 0, v);
}

static void one_d(col *c, const char *name, const char *help, metrics_type type, const char *unit,
                  double v) {
    family(c, name, help, type, unit);
    sample_d(c, NULL, 0, v);
}

#define GAUGE_BYTES(c, name, help, v) one_i((c), (name), (help), METRICS_GAUGE, "bytes", i64(v))

static void collect_allocator(col *c, const metrics_inputs *in) {
    const mem_allocator_stats *a = &in->alloc;
    if (a->available) {
        GAUGE_BYTES(c, "memkv_allocator_allocated_bytes",
                    "Bytes in allocations the application holds, by jemalloc (stats.allocated).",
                    a->allocated);
        GAUGE_BYTES(c, "memkv_allocator_active_bytes",
                    "Bytes in the allocator's active pages, a multiple of the page size "
                    "(stats.active).",
                    a->active);
        GAUGE_BYTES(c, "memkv_allocator_resident_bytes",
                    "Bytes in physically resident pages the allocator maps, metadata included "
                    "(stats.resident).",
                    a->resident);
        GAUGE_BYTES(c, "memkv_allocator_retained_bytes",
                    "Bytes of virtual memory the allocator retained instead of unmapping "
                    "(stats.retained).",
                    a->retained);
        GAUGE_BYTES(c, "memkv_allocator_mapped_bytes",
                    "Bytes in active extents the allocator maps (stats.mapped).", a->mapped);
        GAUGE_BYTES(c, "memkv_allocator_metadata_bytes",
                    "Bytes the allocator uses for its own metadata (stats.metadata).", a->metadata);
    }
    family(c, "memkv_allocator",
           "The memory allocator in use (jemalloc-<version> or libc); always 1.", METRICS_INFO,
           NULL);
    metrics_label al[] = {{"allocator", alloc_allocator_name()}};
    sample_i(c, al, 1, 1);

    if (a->available && in->nbins > 0) {
        /* Only classes with slabs in use: the rest are all zeros and would only add series. */
        char sizes[METRICS_MAX_BINS][24];
        size_t nb = in->nbins < METRICS_MAX_BINS ? in->nbins : METRICS_MAX_BINS;
        for (size_t i = 0; i < nb; i++)
            snprintf(sizes[i], sizeof(sizes[i]), "%zu", in->bins[i].size);
        family(c, "memkv_allocator_bin_free_bytes",
               "Free bytes in the slabs of a small size class (internal fragmentation), by region "
               "size in bytes.",
               METRICS_GAUGE, "bytes");
        for (size_t i = 0; i < nb; i++) {
            if (in->bins[i].curslabs == 0) continue;
            metrics_label l[] = {{"size", sizes[i]}};
            sample_i(c, l, 1, i64(in->bins[i].free_bytes));
        }
        family(c, "memkv_allocator_bin_used_bytes",
               "Bytes in regions in use of a small size class, by region size in bytes.",
               METRICS_GAUGE, "bytes");
        for (size_t i = 0; i < nb; i++) {
            if (in->bins[i].curslabs == 0) continue;
            metrics_label l[] = {{"size", sizes[i]}};
            sample_i(c, l, 1, i64((uint64_t)in->bins[i].curregs * in->bins[i].size));
        }
    }

    const mem_ratios *r = &in->ratios;
    one_d(c, "memkv_allocator_fragmentation_ratio",
          "Allocator active / allocated bytes (Redis allocator_frag_ratio); 1 when unknown.",
          METRICS_GAUGE, "ratio", r->allocator_frag_ratio);
    one_d(c, "memkv_allocator_rss_ratio",
          "Allocator resident / active bytes (Redis allocator_rss_ratio); 1 when unknown.",
          METRICS_GAUGE, "ratio", r->allocator_rss_ratio);
    one_d(c, "memkv_rss_overhead_ratio",
          "Process RSS / allocator resident bytes (Redis rss_overhead_ratio); 1 when unknown.",
          METRICS_GAUGE, "ratio", r->rss_overhead_ratio);
    one_d(c, "memkv_memory_fragmentation_ratio",
          "Process RSS / used memory (Redis mem_fragmentation_ratio); 1 when unknown.",
          METRICS_GAUGE, "ratio", r->mem_fragmentation_ratio);
}

static int64_t s_prof_max(const metrics_inputs *in) {
    return in->server.prof_max_memory > 0 ? in->server.prof_max_memory : 0;
}

static void collect_memory(col *c, const metrics_inputs *in) {
    const metrics_server_state *s = &in->server;
    GAUGE_BYTES(c, "memkv_memory_used_bytes",
                "Bytes the server accounts for, the sum of memkv_memory_subsystem_bytes (Redis "
                "used_memory).",
                in->used_memory);
    GAUGE_BYTES(c, "memkv_memory_peak_bytes",
                "Highest used memory since start (Redis "
                "used_memory_peak).",
                s->used_memory_peak);
    GAUGE_BYTES(c, "memkv_memory_startup_bytes",
                "Used memory once start-up was done (Redis used_memory_startup).",
                s->used_memory_startup);
    /* Scripting, under the family names memkv-exporter gives Redis's fields. */
    GAUGE_BYTES(c, "memkv_memory_lua_bytes",
                "Bytes the Lua interpreter holds (INFO used_memory_lua).", s->lua_bytes);
    GAUGE_BYTES(c, "memkv_memory_scripts_eval_bytes",
                "Bytes of the EVAL script cache (INFO used_memory_scripts_eval).",
                s->scripts_eval_bytes);
    one_i(c, "memkv_scripts_cached", "Scripts in the script cache (INFO number_of_cached_scripts).",
          METRICS_GAUGE, NULL, i64(s->cached_scripts));
    one_i(c, "memkv_scripts_evicted",
          "EVAL scripts evicted from the cache past lua-script-cache-max (INFO evicted_scripts).",
          METRICS_COUNTER, NULL, i64(s->evicted_scripts));
    GAUGE_BYTES(c, "memkv_memory_max_bytes", "The maxmemory limit in bytes; 0 means no limit.",
                s->maxmemory > 0 ? (uint64_t)s->maxmemory : 0);
    /* The server's RSS under a memkv name: equal to process_resident_memory_bytes here, but an
     * exporter's own process_* describe the exporter, so rules and dashboards use this one. */
    GAUGE_BYTES(c, "memkv_memory_rss_bytes",
                "Resident set size of the server process (Redis "
                "used_memory_rss).",
                in->rss);
    GAUGE_BYTES(c, "memkv_memory_rss_baseline_bytes",
                "Process RSS once start-up was done: what an empty server costs.", s->rss_baseline);
    if (s->maxmemory_policy[0]) {
        char policy[sizeof(s->maxmemory_policy) + 1];
        snprintf(policy, sizeof(policy), "%.*s", (int)sizeof(s->maxmemory_policy),
                 s->maxmemory_policy);
        family(c, "memkv_maxmemory_policy", "The maxmemory-policy in force; always 1.",
               METRICS_INFO, NULL);
        metrics_label l[] = {{"policy", policy}};
        sample_i(c, l, 1, 1);
    }

    family(c, "memkv_memory_subsystem_bytes",
           "Bytes held per subsystem (exact usable sizes counted by the allocation wrapper).",
           METRICS_GAUGE, "bytes");
    for (size_t i = 0; i < in->nsub && i < METRICS_MAX_SUBSYSTEMS; i++) {
        metrics_label l[] = {{"subsystem", in->sub[i].name ? in->sub[i].name : "unknown"}};
        sample_i(c, l, 1, in->sub[i].bytes > 0 ? in->sub[i].bytes : 0);
    }

    if (in->narenas > 0) {
        family(c, "memkv_memory_arena_bytes",
               "Allocated, active and resident bytes of the arena a group of subsystems has of "
               "its own (keyspace, clients, scripting).",
               METRICS_GAUGE, "bytes");
        for (size_t i = 0; i < in->narenas && i < METRICS_MAX_ARENAS; i++) {
            const char *name = in->arenas[i].name ? in->arenas[i].name : "unknown";
            const mem_arena_stats *st = &in->arenas[i].stats;
            metrics_label l1[] = {{"arena", name}, {"state", "allocated"}};
            metrics_label l2[] = {{"arena", name}, {"state", "active"}};
            metrics_label l3[] = {{"arena", name}, {"state", "resident"}};
            sample_i(c, l1, 2, i64(st->allocated));
            sample_i(c, l2, 2, i64(st->active));
            sample_i(c, l3, 2, i64(st->resident));
        }
    }
}

static void collect_process(col *c, const metrics_inputs *in) {
    metrics_process p = {
        .resident_memory_bytes = in->rss,
        .virtual_memory_bytes = in->virtual_memory_bytes,
        .cpu_seconds = in->cpu_seconds,
        .start_time_seconds = in->start_time_seconds,
        .open_fds = in->open_fds,
        .max_fds = in->max_fds,
    };
    note(c, metrics_write_process(c->w, &p));
}

static void collect_profiler(col *c, const metrics_inputs *in) {
    const prof_status *p = &in->prof;
    one_i(c, "memkv_profiling_available",
          "1 if the heap profiler can be used (jemalloc with profiling, started with prof:true).",
          METRICS_GAUGE, NULL, p->available ? 1 : 0);
    one_i(c, "memkv_profiling_active", "1 while the heap profiler samples allocations.",
          METRICS_GAUGE, NULL, p->active ? 1 : 0);
    one_i(c, "memkv_profiling_sample_bytes",
          "Mean bytes allocated between two profiling samples (2^lg_prof_sample).", METRICS_GAUGE,
          "bytes", i64(p->sample_bytes));
    one_i(c, "memkv_profiling_memory_bytes",
          "Memory the heap profiler itself holds (its subsystem and jemalloc profiling "
          "metadata).",
          METRICS_GAUGE, "bytes", i64(p->own_memory));
    /* The sampled view beside the exact memkv_memory_subsystem_bytes, from the latest
     * snapshot (periodic, or MEMORY PROFILE SNAPSHOT/SUBSYSTEMS); absent until there is one. */
    if (p->sampled_at_ns &&
        metrics_family_begin(c->w, "memkv_profiling_sampled_bytes",
                             "Live bytes per subsystem estimated from the heap profile's samples "
                             "(latest snapshot).",
                             METRICS_GAUGE, "bytes") == 0) {
        for (size_t k = 0; k < in->nsub && k < 16; k++) {
            metrics_label l = {"subsystem", in->sub[k].name};
            metrics_sample_double(c->w, &l, 1, p->sampled_by_subsystem[k]);
        }
    }
    one_i(c, "memkv_profiling_max_memory_bytes",
          "Cap on the profiler's own memory (memory-profiling-max-memory); 0 means no cap.",
          METRICS_GAUGE, "bytes", s_prof_max(in));
    one_i(c, "memkv_profiling_dumps", "Heap profile dumps produced.", METRICS_COUNTER, NULL,
          i64(p->dumps));
    one_i(c, "memkv_profiling_dump_errors",
          "Heap profile dumps that failed (dump directory unwritable or full, ...); each is "
          "logged.",
          METRICS_COUNTER, NULL, i64(p->dump_errors));
    one_i(c, "memkv_profiling_snapshots", "Heap profile snapshots taken (for leak suspects).",
          METRICS_COUNTER, NULL, i64(p->snapshots));
    one_i(c, "memkv_profiling_snapshots_held", "Heap profile snapshots currently kept.",
          METRICS_GAUGE, NULL, i64(p->snapshots_held));
    one_i(c, "memkv_profiling_capped",
          "What the profiler memory cap did: 0 under the cap, 1 sampling coarsened, 2 stopped.",
          METRICS_GAUGE, NULL, p->cap_state);
    one_d(c, "memkv_profiling_last_job_duration_seconds",
          "Duration of the heap profiler's last job (dump or report) in seconds.", METRICS_GAUGE,
          "seconds", p->last_job_ms / 1000.0);
}

/* An error prefix as a label value: Redis's upper-case codes only (ERR, WRONGTYPE, NOAUTH...),
 * so no client-chosen text can become a series. */
static int error_prefix_ok(const char *p) {
    if (!*p) return 0;
    for (; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

/* INFO commandstats and errorstats under redis_exporter's names (commands_total{cmd},
 * commands_duration_seconds_total, commands_rejected_calls_total, commands_failed_calls_total,
 * errors_total{err}). */
static void collect_commands(col *c, const metrics_server_state *s) {
    size_t n = s->ncommands < METRICS_MAX_COMMANDS ? s->ncommands : METRICS_MAX_COMMANDS;
    family(c, "memkv_commands", "Calls per command (INFO commandstats calls).", METRICS_COUNTER,
           NULL);
    for (size_t i = 0; i < n; i++) {
        metrics_label l[] = {{"cmd", s->commands[i].name}};
        sample_i(c, l, 1, i64(s->commands[i].calls));
    }
    family(c, "memkv_commands_duration_seconds",
           "Time spent running each command, in seconds (INFO commandstats usec).", METRICS_COUNTER,
           "seconds");
    for (size_t i = 0; i < n; i++) {
        metrics_label l[] = {{"cmd", s->commands[i].name}};
        sample_d(c, l, 1, (double)s->commands[i].usec / 1e6);
    }
    family(c, "memkv_commands_rejected_calls",
           "Calls refused before running, per command (arity, NOAUTH, OOM, MULTI refusals).",
           METRICS_COUNTER, NULL);
    for (size_t i = 0; i < n; i++) {
        metrics_label l[] = {{"cmd", s->commands[i].name}};
        sample_i(c, l, 1, i64(s->commands[i].rejected));
    }
    family(c, "memkv_commands_failed_calls", "Calls that ran and replied an error, per command.",
           METRICS_COUNTER, NULL);
    for (size_t i = 0; i < n; i++) {
        metrics_label l[] = {{"cmd", s->commands[i].name}};
        sample_i(c, l, 1, i64(s->commands[i].failed));
    }
    size_t ne = s->nerrors < METRICS_MAX_ERROR_PREFIXES ? s->nerrors : METRICS_MAX_ERROR_PREFIXES;
    family(c, "memkv_errors", "Error replies by error prefix (INFO errorstats).", METRICS_COUNTER,
           NULL);
    for (size_t i = 0; i < ne; i++) {
        char err[METRICS_ERROR_PREFIX_LEN + 1];
        snprintf(err, sizeof(err), "%.*s", METRICS_ERROR_PREFIX_LEN, s->errors[i].prefix);
        if (!error_prefix_ok(err)) continue;
        metrics_label l[] = {{"err", err}};
        sample_i(c, l, 1, i64(s->errors[i].count));
    }
}

static void collect_server(col *c, const metrics_inputs *in) {
    const metrics_server_state *s = &in->server;
    size_t ndbs = s->ndbs < METRICS_MAX_DBS ? s->ndbs : METRICS_MAX_DBS;
    char dbname[METRICS_MAX_DBS][16];
    int seen[METRICS_MAX_DBS]; /* first entry of each db (a repeated one would void the family) */
    for (size_t i = 0; i < ndbs; i++) {
        snprintf(dbname[i], sizeof(dbname[i]), "%d", s->dbs[i].db);
        seen[i] = 1;
        for (size_t j = 0; j < i; j++)
            if (s->dbs[j].db == s->dbs[i].db) seen[i] = 0;
    }
    int any = 0;
    for (size_t i = 0; i < ndbs; i++)
        if (seen[i] && s->dbs[i].db == 0) any = 1;
    /* db 0 is always there (0 when empty), so the families never vanish on an empty server. */
    family(c, "memkv_db_keys", "Keys in a database.", METRICS_GAUGE, NULL);
    metrics_label l0[] = {{"db", "0"}};
    if (!any) sample_i(c, l0, 1, 0);
    for (size_t i = 0; i < ndbs; i++) {
        if (!seen[i]) continue;
        metrics_label l[] = {{"db", dbname[i]}};
        sample_i(c, l, 1, i64(s->dbs[i].keys));
    }
    family(c, "memkv_db_expiring_keys", "Keys with a time to live in a database.", METRICS_GAUGE,
           NULL);
    if (!any) sample_i(c, l0, 1, 0);
    for (size_t i = 0; i < ndbs; i++) {
        if (!seen[i]) continue;
        metrics_label l[] = {{"db", dbname[i]}};
        sample_i(c, l, 1, i64(s->dbs[i].expires));
    }

    /* Strings are not split by encoding (their label is empty): that would cost every write. */
    family(c, "memkv_keyspace_keys", "Keys in a database by type and encoding.", METRICS_GAUGE,
           NULL);
    for (size_t k = 0; k < s->nkinds && k < METRICS_MAX_KEY_KINDS; k++) {
        char db[16];
        snprintf(db, sizeof(db), "%d", s->kinds[k].db);
        metrics_label l[] = {
            {"db", db}, {"type", s->kinds[k].type}, {"encoding", s->kinds[k].encoding}};
        sample_i(c, l, 3, i64(s->kinds[k].keys));
    }

    one_i(c, "memkv_connected_clients", "Client connections open now.", METRICS_GAUGE, NULL,
          i64(s->connected_clients));
    one_i(c, "memkv_max_clients", "The maxclients limit.", METRICS_GAUGE, NULL, i64(s->maxclients));
    one_i(c, "memkv_blocked_clients", "Clients waiting for a blocking command or profiler job.",
          METRICS_GAUGE, NULL, i64(s->blocked_clients));

    one_i(c, "memkv_commands_processed", "Commands processed since start.", METRICS_COUNTER, NULL,
          i64(s->commands_processed));
    one_i(c, "memkv_connections_received", "Connections accepted since start.", METRICS_COUNTER,
          NULL, i64(s->connections_received));
    one_i(c, "memkv_rejected_connections", "Connections refused because of maxclients.",
          METRICS_COUNTER, NULL, i64(s->rejected_connections));
    one_i(c, "memkv_expired_keys", "Keys removed because their time to live ran out.",
          METRICS_COUNTER, NULL, i64(s->expired_keys));
    one_i(c, "memkv_evicted_keys", "Keys evicted because of maxmemory.", METRICS_COUNTER, NULL,
          i64(s->evicted_keys));
    one_i(c, "memkv_keyspace_hits", "Key lookups that found the key.", METRICS_COUNTER, NULL,
          i64(s->keyspace_hits));
    one_i(c, "memkv_keyspace_misses", "Key lookups that did not find the key.", METRICS_COUNTER,
          NULL, i64(s->keyspace_misses));
    one_i(c, "memkv_error_replies", "Error replies sent to clients.", METRICS_COUNTER, NULL,
          i64(s->error_replies));
    one_i(c, "memkv_net_input_bytes", "Bytes read from client connections.", METRICS_COUNTER,
          "bytes", i64(s->net_input_bytes));
    one_i(c, "memkv_net_output_bytes", "Bytes written to client connections.", METRICS_COUNTER,
          "bytes", i64(s->net_output_bytes));
    family(c, "memkv_client_buffer_limit_disconnections",
           "Clients disconnected for going over a buffer limit, by buffer (query or output).",
           METRICS_COUNTER, NULL);
    metrics_label lq[] = {{"buffer", "query"}}, lo[] = {{"buffer", "output"}};
    sample_i(c, lq, 1, i64(s->qbuf_limit_disconnections));
    sample_i(c, lo, 1, i64(s->obuf_limit_disconnections));

    collect_commands(c, s);

    one_d(c, "memkv_start_time_seconds", "When the server started, in seconds since the epoch.",
          METRICS_GAUGE, "seconds", s->start_time_seconds);

    char version[sizeof(s->version) + 1], redis_version[sizeof(s->redis_version) + 1];
    snprintf(version, sizeof(version), "%.*s", (int)sizeof(s->version), s->version);
    snprintf(redis_version, sizeof(redis_version), "%.*s", (int)sizeof(s->redis_version),
             s->redis_version);
    family(c, "memkv_build",
           "Build information (memkv and Redis protocol versions, allocator); "
           "always 1.",
           METRICS_INFO, NULL);
    metrics_label lb[] = {{"version", version},
                          {"redis_version", redis_version},
                          {"allocator", alloc_allocator_name()}};
    sample_i(c, lb, 3, 1);
    /* The family memkv-exporter writes for every server it scrapes (exporter/render.c), so rules
     * and dashboards can select by kind on both paths. */
    family(c, "memkv_server",
           "What answers: server kind (memkv, redis, valkey, keydb, kvrocks, dragonfly), its own "
           "version, the Redis version it claims and its allocator; always 1.",
           METRICS_INFO, NULL);
    metrics_label ls[] = {{"kind", "memkv"},
                          {"version", version},
                          {"redis_version", redis_version},
                          {"allocator", alloc_allocator_name()}};
    sample_i(c, ls, 4, 1);
}

/* ---- key-space statistics ---- */

/* A prefix's bytes as a label value: valid UTF-8 kept, NUL and invalid bytes as U+FFFD (so the
 * writer has nothing left to change). out holds 3 * n + 1 bytes. Returns 1 if it changed. */
static int prefix_label(const char *name, size_t n, char *out) {
    const unsigned char *u = (const unsigned char *)name;
    size_t i = 0, o = 0;
    int changed = 0;
    while (i < n) {
        size_t len = u[i] ? json_utf8_len(u + i, n - i) : 0;
        if (len) {
            memcpy(out + o, name + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            changed = 1;
        }
    }
    out[o] = '\0';
    return changed;
}

/* A histogram of KS bins (bin 0: 0; bin i: up to 2^i - 1), its buckets up to the highest
 * non-empty bin (so an unused range costs no series), then +Inf. */
static void ks_histogram(col *c, const char *type, const uint64_t *bins, uint64_t count,
                         double sum) {
    double le[METRICS_KS_BINS];
    uint64_t cum[METRICS_KS_BINS];
    int top = -1;
    for (int b = 0; b < METRICS_KS_BINS; b++)
        if (bins[b]) top = b;
    uint64_t run = 0;
    for (int b = 0; b <= top; b++) {
        run += bins[b];
        cum[b] = run;
        le[b] = ldexp(1.0, b) - 1.0;
    }
    if (run > count) count = run; /* the writer refuses less; one publish never has it */
    metrics_label l[] = {{"type", type ? type : "unknown"}};
    note(c, metrics_sample_histogram(c->w, l, 1, le, cum, (size_t)(top + 1), count, sum));
}

/* The largest prefixes as label values (at most 3 bytes for each byte of a name, and a NUL);
 * those that became equal are merged into the first. An entry whose name is not inside
 * prefix_names is skipped. */
static void collect_prefixes(col *c, const metrics_keyspace *k) {
    size_t n = k->nprefixes < METRICS_KS_PREFIXES ? k->nprefixes : METRICS_KS_PREFIXES;
    size_t room = 1;
    int ok[METRICS_KS_PREFIXES];
    for (size_t i = 0; i < n; i++) {
        size_t at = k->prefixes[i].off, len = k->prefixes[i].len;
        ok[i] = at <= sizeof(k->prefix_names) && len <= sizeof(k->prefix_names) - at;
        room += ok[i] ? 3 * len + 1 : 0;
    }
    char *pool = alloc_malloc(ALLOC_SUB_HTTP, room);
    struct {
        const char *label;
        int changed;
        uint64_t keys, bytes;
    } p[METRICS_KS_PREFIXES];
    size_t np = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        char *label = pool + off;
        int changed = prefix_label(k->prefix_names + k->prefixes[i].off, k->prefixes[i].len, label);
        size_t same = np;
        for (size_t j = 0; j < np && same == np; j++)
            if ((changed || p[j].changed) && strcmp(p[j].label, label) == 0) same = j;
        if (same < np) {
            p[same].keys += k->prefixes[i].keys;
            p[same].bytes += k->prefixes[i].bytes;
            continue;
        }
        off += strlen(label) + 1;
        p[np].label = label;
        p[np].changed = changed;
        p[np].keys = k->prefixes[i].keys;
        p[np].bytes = k->prefixes[i].bytes;
        np++;
    }
    family(c, "memkv_keyspace_prefix_keys",
           "Keys of the largest key prefixes by bytes (keyspace-prefix-metrics of them), all "
           "databases; the prefix is folded (digits as #, IDs as *), never a key name.",
           METRICS_GAUGE, NULL);
    for (size_t i = 0; i < np; i++) {
        metrics_label l[] = {{"prefix", p[i].label}};
        sample_i(c, l, 1, i64(p[i].keys));
    }
    family(c, "memkv_keyspace_prefix_bytes",
           "Bytes (MEMORY USAGE) of the largest key prefixes (keyspace-prefix-metrics of them), "
           "all databases; the prefix is folded (digits as #, IDs as *), never a key name.",
           METRICS_GAUGE, "bytes");
    for (size_t i = 0; i < np; i++) {
        metrics_label l[] = {{"prefix", p[i].label}};
        sample_i(c, l, 1, i64(p[i].bytes));
    }
    alloc_free(ALLOC_SUB_HTTP, pool);
}

static void collect_keyspace(col *c, const metrics_inputs *in) {
    const metrics_keyspace *k = &in->server.keyspace;
    one_i(c, "memkv_keyspace_stats_enabled",
          "1 while key-space statistics are kept (keyspace-stats yes); the families of bytes "
          "by type, TTL buckets, key sizes and prefixes exist only then.",
          METRICS_GAUGE, NULL, k->enabled ? 1 : 0);
    if (!k->enabled) return;

    family(c, "memkv_keyspace_bytes",
           "Bytes the keys of a type hold, all databases: the sum of their MEMORY USAGE.",
           METRICS_GAUGE, "bytes");
    for (int t = 0; t < METRICS_KS_TYPES; t++) {
        metrics_label l[] = {{"type", k->types[t].type ? k->types[t].type : "unknown"}};
        sample_i(c, l, 1, i64(k->types[t].bytes));
    }
    family(c, "memkv_keyspace_ttl_keys",
           "Keys by time left to live, all databases: none, lt_1h, lt_1d, lt_1w, longer.",
           METRICS_GAUGE, NULL);
    for (int b = 0; b < METRICS_KS_TTL_BUCKETS; b++) {
        metrics_label l[] = {{"bucket", k->ttl[b].bucket ? k->ttl[b].bucket : "unknown"}};
        sample_i(c, l, 1, i64(k->ttl[b].keys));
    }
    family(c, "memkv_keyspace_ttl_bytes",
           "Bytes (MEMORY USAGE) of the keys by time left to live, all databases: none, lt_1h, "
           "lt_1d, lt_1w, longer.",
           METRICS_GAUGE, "bytes");
    for (int b = 0; b < METRICS_KS_TTL_BUCKETS; b++) {
        metrics_label l[] = {{"bucket", k->ttl[b].bucket ? k->ttl[b].bucket : "unknown"}};
        sample_i(c, l, 1, i64(k->ttl[b].bytes));
    }

    family(c, "memkv_keyspace_key_length",
           "Keys by length, all databases: bytes of a string, elements of a collection (Redis 8's "
           "INFO keysizes bins; le = 2^i - 1).",
           METRICS_HISTOGRAM, NULL);
    for (int t = 0; t < METRICS_KS_TYPES; t++)
        ks_histogram(c, k->types[t].type, k->types[t].len_hist, k->types[t].keys,
                     (double)k->types[t].len_sum);
    family(c, "memkv_keyspace_key_bytes",
           "Keys by the bytes each holds (MEMORY USAGE), all databases (le = 2^i - 1).",
           METRICS_HISTOGRAM, "bytes");
    for (int t = 0; t < METRICS_KS_TYPES; t++)
        ks_histogram(c, k->types[t].type, k->types[t].bytes_hist, k->types[t].keys,
                     (double)k->types[t].bytes);

    collect_prefixes(c, k);
    one_i(c, "memkv_keyspace_prefix_other_keys",
          "Keys outside memkv_keyspace_prefix_keys: smaller or untracked prefixes, and keys "
          "without a prefix.",
          METRICS_GAUGE, NULL, i64(k->prefix_other_keys));
    one_i(c, "memkv_keyspace_prefix_other_bytes",
          "Bytes (MEMORY USAGE) outside memkv_keyspace_prefix_bytes: smaller or untracked "
          "prefixes, and keys without a prefix.",
          METRICS_GAUGE, "bytes", i64(k->prefix_other_bytes));
    one_i(c, "memkv_keyspace_prefixes_tracked",
          "Key prefixes tracked exactly now (at most keyspace-prefix-max).", METRICS_GAUGE, NULL,
          i64(k->prefixes_tracked));
    one_i(c, "memkv_keyspace_prefix_refusals",
          "Keys that found no prefix slot (keyspace-prefix-max reached, or their share of the "
          "untracked rest in use) and were counted in the rest.",
          METRICS_COUNTER, NULL, i64(k->prefix_refusals));
}

int metrics_collect(metrics_writer *w, const metrics_inputs *in) {
    if (!w || !in) return METRICS_ERR_ARG;
    col c = {w, 0};
    collect_allocator(&c, in);
    collect_memory(&c, in);
    collect_process(&c, in);
    collect_profiler(&c, in);
    collect_server(&c, in);
    collect_keyspace(&c, in);
    return c.err;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* A fixed-size char array that may lack its NUL, as a string. */
#define FIXED_STR(dst, src) snprintf((dst), sizeof(dst), "%.*s", (int)sizeof(src), (src))

static const char *sub_name(int sub) {
    return sub >= 0 && sub < ALLOC_SUB_COUNT ? alloc_sub_name((alloc_sub)sub) : "unknown";
}

static void json_client(json_buf *j, const char *key, uint64_t id, const char *addr, size_t addrcap,
                        const char *name, size_t namecap, uint64_t bytes) {
    char a[72], n[72];
    snprintf(a, sizeof(a), "%.*s", (int)(addrcap < sizeof(a) - 1 ? addrcap : sizeof(a) - 1), addr);
    snprintf(n, sizeof(n), "%.*s", (int)(namecap < sizeof(n) - 1 ? namecap : sizeof(n) - 1), name);
    json_obj(j, key);
    json_uint(j, "id", id);
    json_str(j, "addr", a);
    json_str(j, "name", n);
    json_uint(j, "bytes", bytes);
    json_obj_end(j);
}

#define DOCTOR_MAX_FINDINGS 32

static void json_doctor(json_buf *j, const metrics_inputs *in) {
    const metrics_server_state *s = &in->server;
    mem_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    snap.alloc = in->alloc;
    snap.rss = in->rss;
    snap.rss_baseline = s->rss_baseline;
    snap.rss_inflated = mem_rss_inflated();
    snap.used_memory = in->used_memory;
    snap.used_memory_peak = s->used_memory_peak;
    snap.maxmemory = s->maxmemory > 0 ? (size_t)s->maxmemory : 0;
    for (size_t i = 0; i < in->nsub && snap.nsub < MEM_SUBSYSTEMS_MAX; i++) {
        snap.sub[snap.nsub].name = in->sub[i].name;
        snap.sub[snap.nsub].bytes = in->sub[i].bytes > 0 ? (size_t)in->sub[i].bytes : 0;
        snap.nsub++;
    }
    snap.bins = in->nbins ? in->bins : NULL;
    snap.nbins = in->nbins < METRICS_MAX_BINS ? in->nbins : METRICS_MAX_BINS;
    snap.top_obuf.id = s->top_obuf.id;
    snap.top_obuf.bytes = s->top_obuf.bytes;
    FIXED_STR(snap.top_obuf.addr, s->top_obuf.addr);
    FIXED_STR(snap.top_obuf.name, s->top_obuf.name);
    snap.top_qbuf.id = s->top_qbuf.id;
    snap.top_qbuf.bytes = s->top_qbuf.bytes;
    FIXED_STR(snap.top_qbuf.addr, s->top_qbuf.addr);
    FIXED_STR(snap.top_qbuf.name, s->top_qbuf.name);
    snap.top_sub = s->top_sub; /* the doctor bounds its addr and name itself */
    snap.clients = s->connected_clients;
    for (size_t i = 0; i < s->ndbs && i < METRICS_MAX_DBS; i++)
        snap.keys += s->dbs[i].keys;
    char policy[sizeof(s->maxmemory_policy) + 1];
    FIXED_STR(policy, s->maxmemory_policy);
    snap.maxmemory_policy = policy[0] ? policy : NULL;
    snap.keyspace = s->doctor_keyspace;
    snap.scripts = s->doctor_scripts;

    mem_finding *f = alloc_malloc(ALLOC_SUB_HTTP, DOCTOR_MAX_FINDINGS * sizeof(*f));
    size_t n = mem_doctor(&snap, NULL, f, DOCTOR_MAX_FINDINGS);
    char *report = mem_doctor_report(&snap, NULL);
    json_obj(j, "doctor");
    json_str(j, "report", report);
    json_arr(j, "findings");
    for (size_t i = 0; i < n; i++) {
        char code[sizeof(f[i].code) + 1], text[sizeof(f[i].text) + 1];
        FIXED_STR(code, f[i].code);
        FIXED_STR(text, f[i].text);
        json_obj(j, NULL);
        json_str(j, "severity", mem_severity_name(f[i].severity));
        json_str(j, "code", code);
        json_str(j, "text", text);
        json_uint(j, "bytes", f[i].bytes);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
    mem_text_free(report);
    alloc_free(ALLOC_SUB_HTTP, f);
}

static void json_jobs(json_buf *j, const prof_job *top, const prof_job *leaks) {
    if (top) {
        json_arr(j, "top_sites");
        for (size_t i = 0; top->rc == 0 && top->sites && i < top->nresults; i++) {
            const prof_site *st = &top->sites[i];
            json_obj(j, NULL);
            json_str(j, "func", st->func);
            json_double(j, "live_bytes", st->live_bytes);
            json_double(j, "live_objs", st->live_objs);
            json_double(j, "share", st->share);
            json_str(j, "subsystem", sub_name(st->subsystem));
            json_obj_end(j);
        }
        json_arr_end(j);
        if (top->rc != 0) {
            char err[sizeof(top->err) + 1];
            FIXED_STR(err, top->err);
            json_str(j, "top_sites_error", err[0] ? err : prof_strerror(top->rc));
        }
    }
    if (leaks) {
        json_arr(j, "leak_suspects");
        for (size_t i = 0; leaks->rc == 0 && leaks->suspects && i < leaks->nresults; i++) {
            const prof_suspect *sp = &leaks->suspects[i];
            char func[sizeof(sp->func) + 1];
            FIXED_STR(func, sp->func);
            json_obj(j, NULL);
            json_str(j, "func", func);
            json_double(j, "live_bytes", sp->live_bytes);
            json_double(j, "growth_bytes", sp->growth_bytes);
            json_double(j, "bytes_per_sec", sp->bytes_per_sec);
            json_int(j, "grew_intervals", sp->grew_intervals);
            json_int(j, "intervals", sp->intervals);
            json_obj_end(j);
        }
        json_arr_end(j);
        if (leaks->rc != 0) {
            char err[sizeof(leaks->err) + 1];
            FIXED_STR(err, leaks->err);
            json_str(j, "leak_suspects_error", err[0] ? err : prof_strerror(leaks->rc));
        }
    }
}

char *metrics_memory_json(const metrics_inputs *in, const prof_job *top, const prof_job *leaks,
                          size_t *len) {
    json_buf jb;
    memset(&jb, 0, sizeof(jb));
    json_buf *j = &jb;
    j->first[0] = 1;
    if (!in) {
        json_puts(j, "{}");
        if (len) *len = j->len;
        return j->p;
    }
    const metrics_server_state *s = &in->server;
    const mem_allocator_stats *a = &in->alloc;
    json_obj(j, NULL);

    char version[sizeof(a->version) + 1];
    FIXED_STR(version, a->version);
    json_obj(j, "allocator");
    json_bool(j, "available", a->available);
    json_str(j, "name", alloc_allocator_name());
    json_str(j, "version", version);
    json_uint(j, "allocated", a->allocated);
    json_uint(j, "active", a->active);
    json_uint(j, "resident", a->resident);
    json_uint(j, "retained", a->retained);
    json_uint(j, "mapped", a->mapped);
    json_uint(j, "metadata", a->metadata);
    json_key(j, "background_thread");
    json_puts(j, a->background_thread < 0 ? "null" : a->background_thread ? "true" : "false");
    json_int(j, "dirty_decay_ms", (long long)a->dirty_decay_ms);
    json_int(j, "muzzy_decay_ms", (long long)a->muzzy_decay_ms);
    json_uint(j, "narenas", a->narenas);
    json_uint(j, "page_size", a->page_size);
    json_obj_end(j);

    json_obj(j, "process");
    json_uint(j, "rss", in->rss);
    json_uint(j, "rss_baseline", s->rss_baseline);
    json_uint(j, "virtual_memory", in->virtual_memory_bytes);
    json_double(j, "cpu_seconds", in->cpu_seconds);
    json_double(j, "start_time_seconds", in->start_time_seconds);
    json_uint(j, "open_fds", in->open_fds);
    json_uint(j, "max_fds", in->max_fds);
    json_obj_end(j);

    char policy[sizeof(s->maxmemory_policy) + 1];
    FIXED_STR(policy, s->maxmemory_policy);
    json_obj(j, "memory");
    json_uint(j, "used", in->used_memory);
    json_uint(j, "peak", s->used_memory_peak);
    json_uint(j, "startup", s->used_memory_startup);
    json_int(j, "max", s->maxmemory > 0 ? s->maxmemory : 0);
    json_str(j, "policy", policy);
    json_obj_end(j);

    const mem_ratios *r = &in->ratios;
    json_obj(j, "ratios");
    json_double(j, "allocator_frag_ratio", r->allocator_frag_ratio);
    json_int(j, "allocator_frag_bytes", r->allocator_frag_bytes);
    json_double(j, "allocator_rss_ratio", r->allocator_rss_ratio);
    json_int(j, "allocator_rss_bytes", r->allocator_rss_bytes);
    json_double(j, "rss_overhead_ratio", r->rss_overhead_ratio);
    json_int(j, "rss_overhead_bytes", r->rss_overhead_bytes);
    json_double(j, "mem_fragmentation_ratio", r->mem_fragmentation_ratio);
    json_int(j, "mem_fragmentation_bytes", r->mem_fragmentation_bytes);
    json_obj_end(j);

    json_obj(j, "subsystems");
    for (size_t i = 0; i < in->nsub && i < METRICS_MAX_SUBSYSTEMS; i++)
        json_int(j, in->sub[i].name ? in->sub[i].name : "unknown",
                 in->sub[i].bytes > 0 ? in->sub[i].bytes : 0);
    json_obj_end(j);

    json_obj(j, "arenas");
    for (size_t i = 0; i < in->narenas && i < METRICS_MAX_ARENAS; i++) {
        const mem_arena_stats *st = &in->arenas[i].stats;
        json_obj(j, in->arenas[i].name ? in->arenas[i].name : "unknown");
        json_uint(j, "allocated", st->allocated);
        json_uint(j, "active", st->active);
        json_uint(j, "resident", st->resident);
        json_uint(j, "dirty", st->dirty);
        json_uint(j, "muzzy", st->muzzy);
        json_obj_end(j);
    }
    json_obj_end(j);

    json_arr(j, "size_classes");
    for (size_t i = 0; i < in->nbins && i < METRICS_MAX_BINS; i++) {
        const mem_bin *b = &in->bins[i];
        if (b->curslabs == 0) continue;
        size_t regs = b->curslabs * b->nregs;
        json_obj(j, NULL);
        json_uint(j, "size", b->size);
        json_uint(j, "slabs", b->curslabs);
        json_uint(j, "regions_per_slab", b->nregs);
        json_uint(j, "regions_used", b->curregs);
        json_uint(j, "regions_free", regs > b->curregs ? regs - b->curregs : 0);
        json_uint(j, "free_bytes", b->free_bytes);
        json_obj_end(j);
    }
    json_arr_end(j);

    json_obj(j, "clients");
    json_uint(j, "connected", s->connected_clients);
    json_uint(j, "max", s->maxclients);
    json_uint(j, "blocked", s->blocked_clients);
    json_client(j, "top_output_buffer", s->top_obuf.id, s->top_obuf.addr, sizeof(s->top_obuf.addr),
                s->top_obuf.name, sizeof(s->top_obuf.name), s->top_obuf.bytes);
    json_client(j, "top_query_buffer", s->top_qbuf.id, s->top_qbuf.addr, sizeof(s->top_qbuf.addr),
                s->top_qbuf.name, sizeof(s->top_qbuf.name), s->top_qbuf.bytes);
    const mem_subscriber_top *t = &s->top_sub;
    json_client(j, "top_subscriber", t->id, t->addr, sizeof(t->addr), t->name, sizeof(t->name),
                t->bytes);
    json_obj(j, "subscribers");
    json_uint(j, "count", t->subscribers);
    json_uint(j, "output_buffer_bytes", t->subscribers_bytes);
    json_uint(j, "top_channels", t->channels);
    json_uint(j, "top_patterns", t->patterns);
    json_uint(j, "top_shard_channels", t->shard_channels);
    json_uint(j, "top_over_soft_limit_ms", t->over_soft_ms);
    json_uint(j, "limit_hard_bytes", t->hard_limit);
    json_uint(j, "limit_soft_bytes", t->soft_limit);
    json_uint(j, "limit_soft_seconds", t->soft_seconds);
    json_obj_end(j);
    json_obj_end(j);

    json_arr(j, "dbs");
    for (size_t i = 0; i < s->ndbs && i < METRICS_MAX_DBS; i++) {
        json_obj(j, NULL);
        json_int(j, "db", s->dbs[i].db);
        json_uint(j, "keys", s->dbs[i].keys);
        json_uint(j, "expires", s->dbs[i].expires);
        json_obj_end(j);
    }
    json_arr_end(j);

    json_doctor(j, in);

    const prof_status *p = &in->prof;
    char note_text[sizeof(p->cap_note) + 1], why[sizeof(p->why_unavailable) + 1];
    FIXED_STR(note_text, p->cap_note);
    FIXED_STR(why, p->why_unavailable);
    json_obj(j, "profiler");
    json_bool(j, "available", p->available);
    json_bool(j, "active", p->active);
    json_uint(j, "sample_bytes", p->sample_bytes);
    json_uint(j, "own_memory", p->own_memory);
    json_uint(j, "dumps", p->dumps);
    json_uint(j, "dump_errors", p->dump_errors);
    json_uint(j, "snapshots", p->snapshots);
    json_uint(j, "snapshots_held", p->snapshots_held);
    json_int(j, "cap_state", p->cap_state);
    json_str(j, "cap_note", note_text);
    json_double(j, "last_job_ms", p->last_job_ms);
    json_str(j, "why_unavailable", why);
    json_obj_end(j);

    json_jobs(j, top, leaks);

    json_obj_end(j);
    if (len) *len = j->len;
    return j->p;
}
