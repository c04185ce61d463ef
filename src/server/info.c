/* INFO: Redis's sections and field names, so existing tools read memkv unchanged. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "db/kstats.h"
#include "profiler/profiler.h"
#include "server/pubsub.h"
#include "server/script.h"
#include "server/tracking.h"
#include "server/server.h"
#include "util/util.h"

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void text_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        t->p = alloc_realloc(ALLOC_SUB_OTHER, t->p, t->cap);
    }
}

static void section_server(text *t) {
    struct utsname u;
    uname(&u);
    int64_t now = server_now_ms();
    long long uptime = (now - srv.start_ms) / 1000;
    text_printf(t,
                "# Server\r\n"
                "redis_version:%s\r\n"
                "redis_git_sha1:00000000\r\n"
                "redis_git_dirty:0\r\n"
                "redis_build_id:0\r\n"
                "redis_mode:standalone\r\n"
                "os:%s %s %s\r\n"
                "arch_bits:%d\r\n"
                "monotonic_clock:POSIX clock_gettime\r\n"
                "multiplexing_api:epoll\r\n"
                "atomicvar_api:c11-builtin\r\n"
                "gcc_version:%d.%d.%d\r\n"
                "process_id:%d\r\n"
                "process_supervised:no\r\n"
                "run_id:%s\r\n"
                "tcp_port:%d\r\n"
                "server_time_usec:%lld\r\n"
                "uptime_in_seconds:%lld\r\n"
                "uptime_in_days:%lld\r\n"
                "hz:%lld\r\n"
                "configured_hz:%lld\r\n"
                "lru_clock:%lld\r\n"
                "executable:%s\r\n"
                "config_file:%s\r\n"
                "io_threads_active:0\r\n"
                "memkv_version:%s\r\n"
                "memkv_metrics_port:%d\r\n",
                MEMKV_REDIS_COMPAT_VERSION, u.sysname, u.release, u.machine,
                (int)(sizeof(void *) * 8),
#ifdef __GNUC__
                __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                0, 0, 0,
#endif
                (int)getpid(), srv.run_id, srv.bound_port, (long long)util_ustime(), uptime,
                uptime / 86400, srv.hz, srv.hz, (long long)((now / 1000) & ((1 << 24) - 1)),
                srv.executable ? srv.executable : "", srv.config_file ? srv.config_file : "",
                MEMKV_VERSION, srv.metrics_bound_port);
}

static void section_clients(text *t) {
    size_t max_in = 0, max_out = 0;
    long long blocked = 0; /* on keys or on a profiler job */
    for (client *c = srv.clients; c; c = c->next) {
        if (c->flags & CLIENT_BLOCKED) blocked++;
        if (c->qcap > max_in) max_in = c->qcap;
        if (reply_buf_bytes(&c->reply) > max_out) max_out = reply_buf_bytes(&c->reply);
    }
    text_printf(t,
                "# Clients\r\n"
                "connected_clients:%lld\r\n"
                "cluster_connections:0\r\n"
                "maxclients:%lld\r\n"
                "client_recent_max_input_buffer:%zu\r\n"
                "client_recent_max_output_buffer:%zu\r\n"
                "blocked_clients:%lld\r\n"
                "tracking_clients:%lld\r\n"
                "clients_in_timeout_table:%zu\r\n",
                srv.nclients, srv.maxclients, max_in, max_out, blocked, srv.tracking_clients,
                blocking_timeout_count());
}

static void human(char *buf, size_t cap, long long bytes) {
    util_format_human_bytes(buf, cap, bytes);
}

/* Redis's field names and meanings, then memkv's own (subsystems, allocator details). */
static void section_memory(text *t) {
    memory_figures_t f;
    memory_figures(&f);
    char h_used[32], h_rss[32], h_peak[32], h_startup[32], h_sys[32], h_max[32];
    human(h_used, sizeof(h_used), (long long)f.used);
    human(h_rss, sizeof(h_rss), (long long)f.rss);
    human(h_peak, sizeof(h_peak), (long long)f.peak);
    human(h_startup, sizeof(h_startup), (long long)srv.used_memory_startup);
    long long sys = (long long)memory_system_total();
    human(h_sys, sizeof(h_sys), sys);
    human(h_max, sizeof(h_max), srv.maxmemory);
    size_t since_start = f.used > srv.used_memory_startup ? f.used - srv.used_memory_startup : 0;
    text_printf(t,
                "# Memory\r\n"
                "used_memory:%zu\r\n"
                "used_memory_human:%s\r\n"
                "used_memory_rss:%zu\r\n"
                "used_memory_rss_human:%s\r\n"
                "used_memory_peak:%zu\r\n"
                "used_memory_peak_human:%s\r\n"
                "used_memory_peak_perc:%.2f%%\r\n"
                "used_memory_overhead:%zu\r\n"
                "used_memory_startup:%zu\r\n"
                "used_memory_startup_human:%s\r\n"
                "used_memory_dataset:%zu\r\n"
                "used_memory_dataset_perc:%.2f%%\r\n"
                "allocator_allocated:%zu\r\n"
                "allocator_active:%zu\r\n"
                "allocator_resident:%zu\r\n"
                "total_system_memory:%lld\r\n"
                "total_system_memory_human:%s\r\n",
                f.used, h_used, f.rss, h_rss, f.peak, h_peak,
                f.peak ? 100.0 * (double)f.used / (double)f.peak : 0.0, f.overhead,
                srv.used_memory_startup, h_startup, f.dataset,
                since_start ? 100.0 * (double)f.dataset / (double)since_start : 0.0,
                f.alloc.allocated, f.alloc.active, f.alloc.resident, sys, h_sys);
    /* Scripting as Redis 7.0 shows it (no Functions: their figures are zero). */
    script_figures sf;
    script_figures_get(&sf);
    char h_lua[32], h_scripts[32];
    human(h_lua, sizeof(h_lua), (long long)sf.vm_bytes);
    human(h_scripts, sizeof(h_scripts), (long long)sf.cache_bytes);
    text_printf(t,
                "used_memory_lua:%zu\r\n"
                "used_memory_vm_eval:%zu\r\n"
                "used_memory_lua_human:%s\r\n"
                "used_memory_scripts_eval:%zu\r\n"
                "number_of_cached_scripts:%lld\r\n"
                "number_of_functions:0\r\n"
                "number_of_libraries:0\r\n"
                "used_memory_vm_functions:0\r\n"
                "used_memory_vm_total:%zu\r\n"
                "used_memory_vm_total_human:%s\r\n"
                "used_memory_functions:0\r\n"
                "used_memory_scripts:%zu\r\n"
                "used_memory_scripts_human:%s\r\n",
                sf.vm_bytes, sf.vm_bytes, h_lua, sf.cache_bytes, sf.scripts, sf.vm_bytes, h_lua,
                sf.cache_bytes, h_scripts);
    text_printf(t,
                "maxmemory:%lld\r\n"
                "maxmemory_human:%s\r\n"
                "maxmemory_policy:%s\r\n"
                "allocator_frag_ratio:%.2f\r\n"
                "allocator_frag_bytes:%lld\r\n"
                "allocator_rss_ratio:%.2f\r\n"
                "allocator_rss_bytes:%lld\r\n"
                "rss_overhead_ratio:%.2f\r\n"
                "rss_overhead_bytes:%lld\r\n"
                "mem_fragmentation_ratio:%.2f\r\n"
                "mem_fragmentation_bytes:%lld\r\n"
                "mem_not_counted_for_evict:0\r\n"
                "mem_replication_backlog:0\r\n"
                "mem_clients_slaves:0\r\n"
                "mem_clients_normal:%zu\r\n"
                "mem_aof_buffer:0\r\n"
                "mem_allocator:%s\r\n"
                "active_defrag_running:0\r\n"
                "lazyfree_pending_objects:0\r\n",
                srv.maxmemory, h_max, evict_policy_name(), f.ratios.allocator_frag_ratio,
                f.ratios.allocator_frag_bytes, f.ratios.allocator_rss_ratio,
                f.ratios.allocator_rss_bytes, f.ratios.rss_overhead_ratio,
                f.ratios.rss_overhead_bytes, f.ratios.mem_fragmentation_ratio,
                f.ratios.mem_fragmentation_bytes, f.clients_normal, alloc_allocator_name());
    /* memkv's own fields: the allocator beyond Redis's three figures, and every subsystem. */
    text_printf(t,
                "memkv_allocator_metadata:%zu\r\n"
                "memkv_allocator_mapped:%zu\r\n"
                "memkv_allocator_retained:%zu\r\n"
                "memkv_allocator_background_thread:%d\r\n"
                "memkv_rss_baseline:%zu\r\n"
                "memkv_accounting:%s\r\n",
                f.alloc.metadata, f.alloc.mapped, f.alloc.retained, f.alloc.background_thread,
                srv.rss_baseline, alloc_accounting_enabled() ? "exact" : "off");
    for (int i = 0; i < ALLOC_SUB_COUNT; i++)
        text_printf(t, "memkv_subsystem_%s:%lld\r\n", alloc_sub_name((alloc_sub)i),
                    (long long)f.sub[i]);
    prof_status ps;
    prof_status_get(&ps);
    uint64_t uw_fp, uw_gcc;
    prof_unwind_counts(&uw_fp, &uw_gcc);
    text_printf(t,
                "memkv_profiling_available:%d\r\n"
                "memkv_profiling_active:%d\r\n"
                "memkv_profiling_sample_bytes:%llu\r\n"
                "memkv_profiling_own_memory:%zu\r\n"
                "memkv_profiling_max_memory:%lld\r\n"
                "memkv_profiling_cap:%s\r\n"
                "memkv_profiling_cap_note:%s\r\n"
                "memkv_profiling_dumps:%llu\r\n"
                "memkv_profiling_dump_errors:%llu\r\n"
                "memkv_profiling_snapshots:%llu\r\n"
                "memkv_profiling_unwinder:%s\r\n"
                "memkv_profiling_unwinds_fp:%llu\r\n"
                "memkv_profiling_unwinds_fallback:%llu\r\n",
                ps.available, ps.active, (unsigned long long)ps.sample_bytes, ps.own_memory,
                srv.prof_max_memory,
                ps.cap_state == 0   ? "none"
                : ps.cap_state == 1 ? "coarsened"
                                    : "stopped",
                ps.cap_note, (unsigned long long)ps.dumps, (unsigned long long)ps.dump_errors,
                (unsigned long long)ps.snapshots, prof_unwinder_name(), (unsigned long long)uw_fp,
                (unsigned long long)uw_gcc);
    for (int g = 0; g < ALLOC_ARENA_GROUPS; g++) {
        mem_arena_stats a;
        if (memory_arena_figures((alloc_arena_group)g, &a) < 0) continue;
        const char *gn = alloc_arena_group_name((alloc_arena_group)g);
        text_printf(t,
                    "memkv_arena_%s_allocated:%zu\r\n"
                    "memkv_arena_%s_active:%zu\r\n"
                    "memkv_arena_%s_resident:%zu\r\n"
                    "memkv_arena_%s_frag_ratio:%.2f\r\n",
                    gn, a.allocated, gn, a.active, gn, a.resident, gn,
                    a.allocated ? (double)a.active / (double)a.allocated : 1.0);
    }
}

static long long ops_per_sec(void) {
    long long sum = 0;
    int n = (int)(sizeof(srv.stats.ops_samples) / sizeof(srv.stats.ops_samples[0]));
    for (int i = 0; i < n; i++)
        sum += srv.stats.ops_samples[i];
    return sum / n;
}

static void section_stats(text *t) {
    const server_stats *s = &srv.stats;
    /* The cron folds the loop's figure in at each tick; the current tick's part too. */
    long long busy = evloop_peek_max_busy_us(srv.el);
    if (busy < s->eventloop_max_busy_us) busy = s->eventloop_max_busy_us;
    script_figures sf;
    script_figures_get(&sf);
    long long evicted_scripts = sf.evicted; /* Redis 7.4's field: EVAL scripts past the cap */
    text_printf(t,
                "# Stats\r\n"
                "total_connections_received:%lld\r\n"
                "total_commands_processed:%lld\r\n"
                "instantaneous_ops_per_sec:%lld\r\n"
                "total_net_input_bytes:%lld\r\n"
                "total_net_output_bytes:%lld\r\n"
                "total_net_repl_input_bytes:0\r\n"
                "total_net_repl_output_bytes:0\r\n"
                "instantaneous_input_kbps:%.2f\r\n"
                "instantaneous_output_kbps:%.2f\r\n"
                "instantaneous_input_repl_kbps:0.00\r\n"
                "instantaneous_output_repl_kbps:0.00\r\n"
                "rejected_connections:%lld\r\n"
                "sync_full:0\r\n"
                "sync_partial_ok:0\r\n"
                "sync_partial_err:0\r\n"
                "expired_keys:%lld\r\n"
                "expired_stale_perc:0.00\r\n"
                "expired_time_cap_reached_count:0\r\n"
                "expire_cycle_cpu_milliseconds:%lld\r\n"
                "evicted_keys:%lld\r\n"
                "evicted_clients:0\r\n"
                "evicted_scripts:%lld\r\n"
                "total_eviction_exceeded_time:0\r\n"
                "current_eviction_exceeded_time:0\r\n"
                "keyspace_hits:%lld\r\n"
                "keyspace_misses:%lld\r\n"
                "pubsub_channels:%zu\r\n"
                "pubsub_patterns:%zu\r\n"
                "pubsubshard_channels:%zu\r\n"
                "latest_fork_usec:0\r\n"
                "total_forks:0\r\n"
                "migrate_cached_sockets:0\r\n"
                "slave_expires_tracked_keys:0\r\n"
                "active_defrag_hits:0\r\n"
                "active_defrag_misses:0\r\n"
                "active_defrag_key_hits:0\r\n"
                "active_defrag_key_misses:0\r\n"
                "total_active_defrag_time:0\r\n"
                "current_active_defrag_time:0\r\n"
                "tracking_total_keys:%zu\r\n"
                "tracking_total_items:%zu\r\n"
                "tracking_total_prefixes:%zu\r\n"
                "unexpected_error_replies:0\r\n"
                "total_error_replies:%lld\r\n"
                "dump_payload_sanitizations:0\r\n"
                "total_reads_processed:%lld\r\n"
                "total_writes_processed:%lld\r\n"
                "io_threaded_reads_processed:0\r\n"
                "io_threaded_writes_processed:0\r\n"
                "client_query_buffer_limit_disconnections:%lld\r\n"
                "client_output_buffer_limit_disconnections:%lld\r\n"
                "memkv_eventloop_max_busy_usec:%lld\r\n",
                s->connections_received, s->commands_processed, ops_per_sec(), s->net_input_bytes,
                s->net_output_bytes, s->input_kbps, s->output_kbps, s->rejected_connections,
                s->expired_keys, s->expire_cycle_us / 1000, s->evicted_keys, evicted_scripts,
                s->keyspace_hits, s->keyspace_misses, pubsub_channels_count(),
                pubsub_patterns_count(), pubsub_shard_channels_count(), tracking_total_keys(),
                tracking_total_items(), tracking_total_prefixes(), s->error_replies,
                s->total_reads_processed, s->total_writes_processed,
                s->client_qbuf_limit_disconnections, s->client_obuf_limit_disconnections, busy);
    /* The key-space statistics' bookkeeping (README "Which keys hold the memory"). */
    struct kstats *ks = keyspace_stats();
    text_printf(t,
                "memkv_keyspace_top_refills:%lld\r\n"
                "memkv_keyspace_prefixes:%zu\r\n"
                "memkv_keyspace_prefix_refusals:%llu\r\n",
                s->keyspace_top_refills, ks ? kstats_prefix_count(ks) : 0,
                ks ? (unsigned long long)kstats_prefix_refusals(ks) : 0ULL);
}

static void section_keyspace(text *t) {
    text_printf(t, "# Keyspace\r\n");
    for (long long i = 0; i < srv.databases; i++) {
        size_t keys = db_size(srv.dbs[i]);
        if (keys == 0) continue;
        text_printf(t, "db%lld:keys=%zu,expires=%zu,avg_ttl=0", i, keys,
                    db_expires_size(srv.dbs[i]));
        /* memkv's extras: keys per type and encoding (string=N, hash_listpack=N, ...). */
        for (int ty = 0; ty < DB_TYPES; ty++) {
            for (unsigned enc = 0; enc < DB_ENCODINGS; enc++) {
                size_t n = db_type_count(srv.dbs[i], ty, enc);
                if (!n) continue;
                if (enc == DB_ENC_NONE)
                    text_printf(t, ",%s=%zu", db_type_name(ty), n);
                else
                    text_printf(t, ",%s_%s=%zu", db_type_name(ty), db_encoding_name(enc), n);
            }
        }
        text_printf(t, "\r\n");
    }
}

static void emit_line(void *ctx, const char *line, size_t len) {
    text_printf(ctx, "%.*s\r\n", (int)len, line);
}

/* Redis 8's INFO keysizes (not in 7.0's default INFO, so only asked for by name or "all"). */
static void section_keysizes(text *t) {
    text_printf(t, "# Keysizes\r\n");
    keyspace_info_keysizes(emit_line, t);
}

/* memkv persists nothing and loads nothing: the fields clients and tools read at connect
 * (redis-py, Sidekiq, RedisInsight wait while loading:1), with Redis's names and idle values. */
static void section_persistence(text *t) {
    bgsave_figures bf;
    bgsave_info(&bf);
    text_printf(t,
                "# Persistence\r\n"
                "loading:%d\r\n"
                "async_loading:0\r\n"
                "current_cow_peak:%lld\r\n"
                "current_cow_size:%lld\r\n"
                "current_cow_size_age:%lld\r\n"
                "current_fork_perc:%.2f\r\n"
                "current_save_keys_processed:%lld\r\n"
                "current_save_keys_total:%lld\r\n"
                "rdb_changes_since_last_save:%lld\r\n"
                "rdb_bgsave_in_progress:%d\r\n"
                "rdb_last_save_time:%lld\r\n"
                "rdb_last_bgsave_status:%s\r\n"
                "rdb_last_bgsave_time_sec:%lld\r\n"
                "rdb_current_bgsave_time_sec:%lld\r\n"
                "rdb_saves:%lld\r\n"
                "rdb_last_cow_size:%lld\r\n"
                "rdb_last_load_keys_expired:%lld\r\n"
                "rdb_last_load_keys_loaded:%lld\r\n"
                "rdb_last_load_types_skipped:%lld\r\n"
                "rdb_last_save_duration_sec:%.3f\r\n"
                "aof_enabled:0\r\n"
                "aof_rewrite_in_progress:0\r\n"
                "aof_rewrite_scheduled:0\r\n"
                "aof_last_rewrite_time_sec:-1\r\n"
                "aof_current_rewrite_time_sec:-1\r\n"
                "aof_last_bgrewrite_status:ok\r\n"
                "aof_rewrites:0\r\n"
                "aof_last_write_status:ok\r\n"
                "module_fork_in_progress:0\r\n",
                srv.loading, (long long)bf.current_peak, (long long)bf.current_bytes,
                bf.in_progress ? bf.current_age_s : 0,
                bf.keys_total ? 100.0 * (double)bf.keys_processed / (double)bf.keys_total : 0.0,
                bf.keys_processed, bf.keys_total, srv.dirty, bf.in_progress, srv.lastsave,
                srv.last_save_ok ? "ok" : "err", srv.rdb_last_bgsave_s, bf.current_s, srv.rdb_saves,
                (long long)srv.rdb_last_cow_size, srv.rdb_last_load_keys_expired,
                srv.rdb_last_load_keys_loaded, srv.rdb_last_load_skipped,
                (double)srv.rdb_last_save_us / 1e6);
}

/* A master without replicas, as Redis 7.0 reports one (ROLE answers the same). The
 * replication id is the run id: memkv has no replication history to tell apart. */
static void section_replication(text *t) {
    text_printf(t,
                "# Replication\r\n"
                "role:master\r\n"
                "connected_slaves:0\r\n"
                "master_failover_state:no-failover\r\n"
                "master_replid:%s\r\n"
                "master_replid2:0000000000000000000000000000000000000000\r\n"
                "master_repl_offset:0\r\n"
                "second_repl_offset:-1\r\n"
                "repl_backlog_active:0\r\n"
                "repl_backlog_size:1048576\r\n"
                "repl_backlog_first_byte_offset:0\r\n"
                "repl_backlog_histlen:0\r\n",
                srv.run_id);
}

static void section_cpu(text *t) {
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define SECS(tv) ((double)(tv).tv_sec + (double)(tv).tv_usec / 1e6)
    text_printf(t,
                "# CPU\r\n"
                "used_cpu_sys:%.6f\r\n"
                "used_cpu_user:%.6f\r\n"
                "used_cpu_sys_children:%.6f\r\n"
                "used_cpu_user_children:%.6f\r\n",
                SECS(self.ru_stime), SECS(self.ru_utime), SECS(children.ru_stime),
                SECS(children.ru_utime));
#undef SECS
}

static void section_commandstats(text *t) {
    text_printf(t, "# Commandstats\r\n");
    cmdstats_info_commandstats(emit_line, t);
}

static void section_errorstats(text *t) {
    text_printf(t, "# Errorstats\r\n");
    cmdstats_info_errorstats(emit_line, t);
}

static void section_latencystats(text *t) {
    text_printf(t, "# Latencystats\r\n");
    cmdstats_info_latencystats(emit_line, t);
}

static void section_modules(text *t) {
    text_printf(t, "# Modules\r\n");
}

/* Cluster clients (go-redis, Lettuce, redis-py's RedisCluster) read cluster_enabled. */
static void section_cluster(text *t) {
    text_printf(t, "# Cluster\r\ncluster_enabled:0\r\n");
}

typedef struct section {
    const char *name;
    void (*fn)(text *t);
    int in_default;
} section;

/* Redis 7.0's order; errorstats is in the default set, commandstats and latencystats are not. */
static const section sections[] = {
    {"server", section_server, 1},
    {"clients", section_clients, 1},
    {"memory", section_memory, 1},
    {"persistence", section_persistence, 1},
    {"stats", section_stats, 1},
    {"replication", section_replication, 1},
    {"cpu", section_cpu, 1},
    {"modules", section_modules, 1},
    {"commandstats", section_commandstats, 0},
    {"errorstats", section_errorstats, 1},
    {"latencystats", section_latencystats, 0},
    {"cluster", section_cluster, 1},
    {"keyspace", section_keyspace, 1},
    {"keysizes", section_keysizes, 0},
};

char *info_generate(client *c, size_t *len) {
    text t = {.cap = 2048};
    t.p = alloc_malloc(ALLOC_SUB_OTHER, t.cap);
    t.p[0] = '\0';
    size_t nsec = sizeof(sections) / sizeof(sections[0]);
    int want[sizeof(sections) / sizeof(sections[0])] = {0};
    if (c->argc == 1) {
        for (size_t i = 0; i < nsec; i++)
            want[i] = sections[i].in_default;
    }
    for (int a = 1; a < c->argc; a++) {
        int every = arg_eq(c, a, "all") || arg_eq(c, a, "everything");
        int dflt = arg_eq(c, a, "default");
        for (size_t i = 0; i < nsec; i++) {
            if (every || (dflt && sections[i].in_default) || arg_eq(c, a, sections[i].name))
                want[i] = 1;
        }
    }
    int first = 1;
    for (size_t i = 0; i < nsec; i++) {
        if (!want[i]) continue;
        if (!first) text_printf(&t, "\r\n");
        sections[i].fn(&t);
        first = 0;
    }
    *len = t.len;
    return t.p;
}

void cmd_info(client *c) {
    size_t len;
    char *s = info_generate(c, &len);
    reply_add_verbatim(&c->reply, "txt", s, len);
    alloc_free(ALLOC_SUB_OTHER, s);
}
