/* The server's configuration table: every parameter, its default, bounds and apply hook. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "memory/memory.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/script.h"
#include "server/server.h"
#include "server/tracking.h"
#include "util/util.h"

/* latency-tracking-info-percentiles (cmdstats.c shows them in INFO latencystats). */
/* A percentile as Redis names it: %f with the trailing zeros (and point) trimmed. */
void config_percentile_name(char *buf, size_t cap, double p) {
    snprintf(buf, cap, "%f", p);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.') buf[--n] = '\0';
    }
}

static int parse_latency_percentiles(const cfg_param *p, const char *value, char *err) {
    (void)p;
    double v[CMDSTATS_MAX_PERCENTILES];
    int n = 0;
    const char *s = value;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s) break;
        const char *end = s;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        char word[64];
        size_t len = (size_t)(end - s);
        char *stop;
        if (len >= sizeof(word)) {
            snprintf(err, CFG_ERR_LEN, "Invalid latency-tracking-info-percentiles parameters");
            return -1;
        }
        memcpy(word, s, len);
        word[len] = '\0';
        errno = 0;
        double d = strtod(word, &stop);
        if (*stop || stop == word || errno == ERANGE || isnan(d)) {
            snprintf(err, CFG_ERR_LEN, "Invalid latency-tracking-info-percentiles parameters");
            return -1;
        }
        if (d < 0.0 || d > 100.0) {
            snprintf(err, CFG_ERR_LEN,
                     "latency-tracking-info-percentiles parameters should sit between "
                     "[0.0,100.0]");
            return -1;
        }
        if (n == CMDSTATS_MAX_PERCENTILES) {
            snprintf(err, CFG_ERR_LEN, "latency-tracking-info-percentiles takes at most %d values",
                     CMDSTATS_MAX_PERCENTILES);
            return -1;
        }
        v[n++] = d;
        s = end;
    }
    memcpy(srv.latency_percentiles, v, (size_t)n * sizeof(v[0]));
    srv.latency_npercentiles = n;
    return 0;
}

static void format_latency_percentiles(const cfg_param *p, char *buf, size_t cap) {
    (void)p;
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < srv.latency_npercentiles && n < cap; i++) {
        char name[64];
        config_percentile_name(name, sizeof(name), srv.latency_percentiles[i]);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? " " : "", name);
    }
}

static const char *const loglevel_names[] = {"debug", "verbose", "notice", "warning", NULL};
/* Order of PROF_UNWINDER_* */
static const char *const unwinder_names[] = {"frame-pointer", "libgcc", NULL};

static int apply_loglevel(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    log_set_level(srv.loglevel);
    return 0;
}

static int apply_proto_max_bulk_len(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    /* New clients get the new limit; connected ones pick it up at their next command. */
    return 0;
}

static int apply_maxclients(const cfg_param *p, char *err) {
    (void)p;
    /* The fd table is sized at start-up from the descriptor limit. */
    if (srv.el && srv.maxclients + 32 > evloop_setsize(srv.el)) {
        snprintf(err, CFG_ERR_LEN,
                 "The operating system is not able to handle the specified number of clients, "
                 "try with %d",
                 evloop_setsize(srv.el) - 32);
        return -1;
    }
    return 0;
}

static int apply_maxmemory(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    evict_maxmemory_changed(); /* as Redis: warn if already over, and evict at once */
    return 0;
}

/* The profiler's settings take effect at run time; at start-up main() hands them over once
 * the profiler's thread runs. */
static int apply_prof_enabled(const cfg_param *p, char *err) {
    (void)p;
    return profile_apply_enabled(err, CFG_ERR_LEN);
}

static int apply_prof_sample_bytes(const cfg_param *p, char *err) {
    (void)p;
    return profile_apply_sample_bytes(err, CFG_ERR_LEN);
}

static int apply_prof_unwinder(const cfg_param *p, char *err) {
    (void)p;
    return profile_apply_unwinder(err, CFG_ERR_LEN);
}

static int apply_prof_settings(const cfg_param *p, char *err) {
    (void)p;
    return profile_apply_settings(err, CFG_ERR_LEN);
}

/* metrics-port: a port, 0 (off) or "auto" (any free port; the ready file tells which). */
static int parse_metrics_port(const cfg_param *p, const char *value, char *err) {
    long long *port = p->ptr;
    if (strcasecmp(value, "auto") == 0) {
        *port = -1;
        return 0;
    }
    long long v;
    if (util_parse_ll(value, strlen(value), &v) < 0 || v < 0 || v > 65535) {
        snprintf(err, CFG_ERR_LEN, "argument must be a port (1-65535), 0 (off) or auto");
        return -1;
    }
    *port = v;
    return 0;
}

static void format_metrics_port(const cfg_param *p, char *buf, size_t cap) {
    long long port = *(long long *)p->ptr;
    if (port < 0)
        snprintf(buf, cap, "auto");
    else
        snprintf(buf, cap, "%lld", port);
}

/* jemalloc's decay and background thread at run time (README "Where did the memory go?"). A
 * build on libc malloc has neither: the values are kept and do nothing, as Redis does with
 * jemalloc-bg-thread there. Also called once at start-up, from main(). */
int apply_jemalloc_settings(const cfg_param *p, char *err) {
    (void)p;
    int rc = mem_set_background_thread(srv.jemalloc_bg_thread);
    if (rc == 0)
        rc = mem_set_decay((ssize_t)srv.jemalloc_dirty_decay_ms,
                           (ssize_t)srv.jemalloc_muzzy_decay_ms);
    if (rc == MEM_ERR_NO_JEMALLOC) return 0;
    if (rc != 0) {
        snprintf(err, CFG_ERR_LEN, "jemalloc refused the setting (mallctl failed)");
        return -1;
    }
    return 0;
}

static int apply_metrics(const cfg_param *p, char *err) {
    (void)p;
    return endpoint_restart(err, CFG_ERR_LEN);
}

/* enable-debug-command and enable-protected-configs, as Redis spells them. */
static const char *const debug_command_names[] = {"no", "yes", "local", NULL};

static int apply_hz(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    server_clamp_hz();
    return 0; /* the cron reads srv.hz every time it reschedules itself */
}

/* client-output-buffer-limit: "<class> <hard> <soft> <seconds>" repeated, classes normal,
 * replica (or slave) and pubsub, as Redis. The replica class is kept (and shown) so Redis config
 * files load and read back unchanged; memkv has no replicas. p->ptr is srv.obuf_normal; the
 * other classes are its neighbours in srv. */
static obuf_limit *obuf_class(const char *name) {
    if (strcasecmp(name, "normal") == 0) return &srv.obuf_normal;
    if (strcasecmp(name, "replica") == 0 || strcasecmp(name, "slave") == 0)
        return &srv.obuf_replica;
    if (strcasecmp(name, "pubsub") == 0) return &srv.obuf_pubsub;
    return NULL;
}

static int parse_obuf_limit(const cfg_param *p, const char *value, char *err) {
    (void)p;
    char **args;
    int n = cfg_split_args(value, &args);
    int rc = 0;
    if (n <= 0 || n % 4 != 0) {
        snprintf(err, CFG_ERR_LEN, "Wrong number of arguments in buffer limit configuration.");
        rc = -1;
    }
    obuf_limit parsed[3] = {srv.obuf_normal, srv.obuf_replica, srv.obuf_pubsub};
    for (int i = 0; rc == 0 && i < n; i += 4) {
        long long v[3];
        obuf_limit *cls = obuf_class(args[i]);
        if (!cls) {
            snprintf(err, CFG_ERR_LEN,
                     "Invalid client class specified in buffer limit configuration.");
            rc = -1;
            break;
        }
        for (int k = 0; k < 3; k++) {
            if (util_parse_memory(args[i + 1 + k], &v[k]) < 0 || v[k] < 0) {
                snprintf(
                    err, CFG_ERR_LEN,
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
                rc = -1;
                break;
            }
        }
        if (rc == 0) {
            int idx = cls == &srv.obuf_normal ? 0 : cls == &srv.obuf_replica ? 1 : 2;
            parsed[idx] = (obuf_limit){v[0], v[1], v[2]};
        }
    }
    if (n > 0) cfg_free_args(args, n);
    if (rc == 0) {
        srv.obuf_normal = parsed[0];
        srv.obuf_replica = parsed[1];
        srv.obuf_pubsub = parsed[2];
    }
    return rc;
}

static void format_obuf_limit(const cfg_param *p, char *buf, size_t cap) {
    (void)p;
    const obuf_limit *n = &srv.obuf_normal, *r = &srv.obuf_replica, *s = &srv.obuf_pubsub;
    snprintf(buf, cap, "normal %lld %lld %lld slave %lld %lld %lld pubsub %lld %lld %lld", n->hard,
             n->soft, n->soft_seconds, r->hard, r->soft, r->soft_seconds, s->hard, s->soft,
             s->soft_seconds);
}

/* `appendonly no` is accepted (and shown by CONFIG GET, which tools read); memkv has no AOF. */
static int parse_no_aof(const cfg_param *p, const char *value, char *err) {
    (void)p;
    if (strcasecmp(value, "yes") != 0 && strcasecmp(value, "no") != 0) {
        snprintf(err, CFG_ERR_LEN, "argument must be 'yes' or 'no'"); /* Redis's text */
        return -1;
    }
    if (strcasecmp(value, "no") != 0) {
        snprintf(err, CFG_ERR_LEN, "memkv has no append-only file (it saves RDB snapshots)");
        return -1;
    }
    return 0;
}

static void format_no_aof(const cfg_param *p, char *buf, size_t cap) {
    (void)p;
    snprintf(buf, cap, "no");
}

/* `save <seconds> <changes> ...` (persist.c), "" for none. */
static int parse_save(const cfg_param *p, const char *value, char *err) {
    (void)p;
    return persist_parse_save(value, err, CFG_ERR_LEN);
}

static void format_save(const cfg_param *p, char *buf, size_t cap) {
    (void)p;
    persist_format_save(buf, cap);
}

/* As Redis: a file name, not a path. */
static int apply_dbfilename(const cfg_param *p, char *err) {
    (void)p;
    if (strchr(srv.rdb_filename, '/') || !srv.rdb_filename[0] ||
        strcmp(srv.rdb_filename, ".") == 0 || strcmp(srv.rdb_filename, "..") == 0) {
        snprintf(err, CFG_ERR_LEN, "dbfilename can't be a path, just a filename");
        return -1;
    }
    return 0;
}

static int apply_dir(const cfg_param *p, char *err) {
    (void)p;
    struct stat st;
    if (stat(srv.rdb_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, CFG_ERR_LEN, "%s", strerror(errno ? errno : ENOTDIR));
        return -1;
    }
    return 0;
}

#define LL_MAX 9223372036854775807LL

static cfg_param params[] = {
    {.name = "bind",
     .type = CFG_STRING,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.bind,
     .default_value = "127.0.0.1"},
    {.name = "port",
     .type = CFG_INT,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.port,
     .default_value = "6379",
     .min = 0,
     .max = 65535},
    {.name = "tcp-backlog",
     .type = CFG_INT,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.tcp_backlog,
     .default_value = "511",
     .min = 0,
     .max = 65535},
    {.name = "tcp-keepalive",
     .type = CFG_INT,
     .ptr = &srv.tcp_keepalive,
     .default_value = "300",
     .min = 0,
     .max = 2147483647},
    {.name = "timeout",
     .type = CFG_INT,
     .ptr = &srv.timeout,
     .default_value = "0",
     .min = 0,
     .max = 2147483647},
    {.name = "maxclients",
     .type = CFG_INT,
     .ptr = &srv.maxclients,
     .default_value = "10000",
     .min = 1,
     .max = 4294967295LL, /* Redis's bounds; apply_maxclients checks the fd table */
     .apply = apply_maxclients},
    {.name = "databases",
     .type = CFG_INT,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.databases,
     .default_value = "16",
     .min = 1,
     .max = 10000},
    {.name = "hz",
     .type = CFG_INT,
     .ptr = &srv.hz,
     .default_value = "10",
     .min = 0, /* as Redis: any int, brought into 1..500 (server_clamp_hz) */
     .max = 2147483647,
     .apply = apply_hz},
    {.name = "proto-max-bulk-len",
     .type = CFG_MEMORY,
     .ptr = &srv.proto_max_bulk_len,
     .default_value = "512mb",
     .min = 1024 * 1024,
     .max = LL_MAX,
     .apply = apply_proto_max_bulk_len},
    {.name = "hll-sparse-max-bytes",
     .type = CFG_MEMORY,
     .ptr = &srv.hll_sparse_max_bytes,
     .default_value = "3000",
     .min = 0,
     .max = LL_MAX},
    {.name = "client-query-buffer-limit",
     .type = CFG_MEMORY,
     .ptr = &srv.client_query_buffer_limit,
     .default_value = "1gb",
     .min = 1024 * 1024,
     .max = LL_MAX},
    /* Redis leaves normal clients unlimited; a client that never reads would then grow the
     * server without bound, so memkv caps them by default. */
    {.name = "client-output-buffer-limit",
     .type = CFG_CUSTOM,
     .ptr = &srv.obuf_normal,
     .default_value = "normal 1gb 256mb 60 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
     .parse = parse_obuf_limit,
     .format = format_obuf_limit},
    {.name = "notify-keyspace-events",
     .type = CFG_CUSTOM,
     .ptr = &notify_keyspace_flags,
     .default_value = "",
     .parse = notify_config_parse,
     .format = notify_config_format,
     .apply = notify_config_apply},
    {.name = "maxmemory",
     .type = CFG_MEMORY,
     .ptr = &srv.maxmemory,
     .default_value = "0",
     .min = 0,
     .max = LL_MAX,
     .apply = apply_maxmemory},
    {.name = "maxmemory-policy",
     .type = CFG_ENUM,
     .ptr = &srv.maxmemory_policy,
     .default_value = "noeviction",
     .enum_names = evict_policy_names},
    {.name = "maxmemory-samples",
     .type = CFG_INT,
     .ptr = &srv.maxmemory_samples,
     .default_value = "5",
     .min = 1,
     .max = 2147483647}, /* as Redis; the eviction pool samples 64 keys a round at most */
    /* SLOWLOG and LATENCY (slowlog.c, latency.c), Redis's defaults and bounds. */
    {.name = "slowlog-log-slower-than",
     .type = CFG_INT,
     .ptr = &srv.slowlog_log_slower_than,
     .default_value = "10000",
     .min = -1,
     .max = LL_MAX,
     .apply = server_hooks_apply},
    {.name = "slowlog-max-len",
     .type = CFG_INT,
     .ptr = &srv.slowlog_max_len,
     .default_value = "128",
     .min = 0,
     .max = LL_MAX,
     .apply = slowlog_apply_max_len},
    /* Client-side caching (tracking.c): Redis's default and bounds. */
    {.name = "tracking-table-max-keys",
     .type = CFG_INT,
     .ptr = &srv.tracking_table_max_keys,
     .default_value = "1000000",
     .min = 0,
     .max = LL_MAX,
     .apply = tracking_apply_max_keys},
    {.name = "latency-monitor-threshold",
     .type = CFG_INT,
     .ptr = &srv.latency_monitor_threshold,
     .default_value = "0",
     .min = 0,
     .max = LL_MAX,
     .apply = server_hooks_apply},
    /* Scripting (cmd_script.c): lua-time-limit is Redis's older name of busy-reply-threshold. */
    {.name = "busy-reply-threshold",
     .type = CFG_INT,
     .ptr = &srv.busy_reply_threshold,
     .default_value = "5000",
     .min = 0,
     .max = LL_MAX},
    {.name = "lua-time-limit",
     .type = CFG_INT,
     .ptr = &srv.busy_reply_threshold,
     .default_value = "5000",
     .min = 0,
     .max = LL_MAX},
    {.name = "lua-script-cache-max",
     .type = CFG_INT,
     .ptr = &script_cache_max,
     .default_value = "500",
     .min = 1,
     .max = LL_MAX,
     .apply = script_cache_apply_max},
    /* Per-command statistics (cmdstats.c): latency histograms and their INFO percentiles, as
     * Redis 7.0; the bound on distinct error prefixes is Redis 7.2's ERROR_STATS_NUMBER. */
    {.name = "latency-tracking",
     .type = CFG_BOOL,
     .ptr = &srv.latency_tracking,
     .default_value = "yes",
     .apply = server_hooks_apply},
    {.name = "latency-tracking-info-percentiles",
     .type = CFG_CUSTOM,
     .default_value = "50 99 99.9",
     .parse = parse_latency_percentiles,
     .format = format_latency_percentiles},
    {.name = "errorstats-max-prefixes",
     .type = CFG_INT,
     .ptr = &srv.errorstats_max_prefixes,
     .default_value = "128",
     .min = 1,
     .max = 100000},
    /* Thresholds of the compact encodings; the *-ziplist-* names are Redis's aliases. */
    {.name = "hash-max-listpack-entries",
     .type = CFG_INT,
     .ptr = &srv.hash_max_listpack_entries,
     .default_value = "512",
     .min = 0,
     .max = LL_MAX},
    {.name = "hash-max-ziplist-entries",
     .type = CFG_INT,
     .ptr = &srv.hash_max_listpack_entries,
     .default_value = "512",
     .min = 0,
     .max = LL_MAX},
    {.name = "hash-max-listpack-value",
     .type = CFG_MEMORY,
     .ptr = &srv.hash_max_listpack_value,
     .default_value = "64",
     .min = 0,
     .max = LL_MAX},
    {.name = "hash-max-ziplist-value",
     .type = CFG_MEMORY,
     .ptr = &srv.hash_max_listpack_value,
     .default_value = "64",
     .min = 0,
     .max = LL_MAX},
    {.name = "set-max-intset-entries",
     .type = CFG_INT,
     .ptr = &srv.set_max_intset_entries,
     .default_value = "512",
     .min = 0,
     .max = LL_MAX},
    {.name = "set-max-listpack-entries",
     .type = CFG_INT,
     .ptr = &srv.set_max_listpack_entries,
     .default_value = "128",
     .min = 0,
     .max = LL_MAX},
    {.name = "set-max-listpack-value",
     .type = CFG_MEMORY,
     .ptr = &srv.set_max_listpack_value,
     .default_value = "64",
     .min = 0,
     .max = LL_MAX},
    {.name = "zset-max-listpack-entries",
     .type = CFG_INT,
     .ptr = &srv.zset_max_listpack_entries,
     .default_value = "128",
     .min = 0,
     .max = LL_MAX},
    {.name = "zset-max-ziplist-entries",
     .type = CFG_INT,
     .ptr = &srv.zset_max_listpack_entries,
     .default_value = "128",
     .min = 0,
     .max = LL_MAX},
    {.name = "zset-max-listpack-value",
     .type = CFG_MEMORY,
     .ptr = &srv.zset_max_listpack_value,
     .default_value = "64",
     .min = 0,
     .max = LL_MAX},
    {.name = "zset-max-ziplist-value",
     .type = CFG_MEMORY,
     .ptr = &srv.zset_max_listpack_value,
     .default_value = "64",
     .min = 0,
     .max = LL_MAX},
    {.name = "list-max-listpack-size",
     .type = CFG_INT,
     .ptr = &srv.list_max_listpack_size,
     .default_value = "-2",
     .min = -2147483648LL,
     .max = 2147483647},
    {.name = "list-max-ziplist-size",
     .type = CFG_INT,
     .ptr = &srv.list_max_listpack_size,
     .default_value = "-2",
     .min = -2147483648LL,
     .max = 2147483647},
    {.name = "requirepass",
     .type = CFG_STRING,
     .flags = CFG_SENSITIVE,
     .ptr = &srv.requirepass,
     .default_value = ""},
    {.name = "loglevel",
     .type = CFG_ENUM,
     .ptr = &srv.loglevel,
     .default_value = "notice",
     .enum_names = loglevel_names,
     .apply = apply_loglevel},
    {.name = "logfile",
     .type = CFG_STRING,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.logfile,
     .default_value = ""},
    {.name = "ready-file",
     .type = CFG_STRING,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.ready_file,
     .default_value = ""},
    /* Key space, client buffers and the Lua heap in jemalloc arenas of their own, so their active
     * and resident bytes (their fragmentation) can be told apart. Decided at start-up, before
     * they allocate. */
    {.name = "memory-subsystem-arenas",
     .type = CFG_BOOL,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.subsystem_arenas,
     .default_value = "yes"},
    /* Redis 7.0 has jemalloc-bg-thread; the decay times are memkv's (jemalloc's own defaults:
     * dirty pages go back to the OS over 10 s, muzzy ones at once). */
    {.name = "jemalloc-bg-thread",
     .type = CFG_BOOL,
     .ptr = &srv.jemalloc_bg_thread,
     .default_value = "yes",
     .apply = apply_jemalloc_settings},
    {.name = "jemalloc-dirty-decay-ms",
     .type = CFG_INT,
     .ptr = &srv.jemalloc_dirty_decay_ms,
     .default_value = "10000",
     .min = -1,
     .max = 86400000,
     .apply = apply_jemalloc_settings},
    {.name = "jemalloc-muzzy-decay-ms",
     .type = CFG_INT,
     .ptr = &srv.jemalloc_muzzy_decay_ms,
     .default_value = "0",
     .min = -1,
     .max = 86400000,
     .apply = apply_jemalloc_settings},
    /* Key-space statistics (README "Which keys hold the memory"): exact running totals per type,
     * db, TTL bucket and key prefix, and the largest keys. A change rebuilds them from every
     * key. */
    {.name = "keyspace-stats",
     .type = CFG_BOOL,
     .ptr = &srv.keyspace_stats,
     .default_value = "yes",
     .apply = keyspace_stats_apply},
    {.name = "keyspace-prefix-separators",
     .type = CFG_STRING,
     .ptr = &srv.keyspace_prefix_separators,
     .default_value = ":",
     .apply = keyspace_stats_apply},
    {.name = "keyspace-prefix-depth",
     .type = CFG_INT,
     .ptr = &srv.keyspace_prefix_depth,
     .default_value = "2",
     .min = 0,
     .max = 8,
     .apply = keyspace_stats_apply},
    {.name = "keyspace-prefix-max",
     .type = CFG_INT,
     .ptr = &srv.keyspace_prefix_max,
     .default_value = "4096",
     .min = 0,
     .max = 1000000,
     .apply = keyspace_stats_apply},
    {.name = "keyspace-top-keys",
     .type = CFG_INT,
     .ptr = &srv.keyspace_top_keys,
     .default_value = "32",
     .min = 1,
     .max = 10000,
     .apply = keyspace_stats_apply},
    /* The in-process history of used memory, RSS, keys and the bytes per type and prefix
     * (MEMORY HISTORY, growth findings of MEMORY DOCTOR). A change starts it afresh. */
    {.name = "memory-history-interval-ms",
     .type = CFG_INT,
     .ptr = &srv.memory_history_interval_ms,
     .default_value = "60000",
     .min = 100,
     .max = 3600000,
     .apply = history_reset},
    {.name = "memory-history-points",
     .type = CFG_INT,
     .ptr = &srv.memory_history_points,
     .default_value = "1440",
     .min = 10,
     .max = 100000,
     .apply = history_reset},
    /* How many of the largest prefixes /metrics shows (memkv_keyspace_prefix_*{prefix}); the
     * rest is summed in memkv_keyspace_prefix_other_*. Read by the cron's snapshot: no rebuild.
     * At most METRICS_KS_PREFIXES. */
    {.name = "keyspace-prefix-metrics",
     .type = CFG_INT,
     .ptr = &srv.keyspace_prefix_metrics,
     .default_value = "20",
     .min = 0,
     .max = 200},
    {.name = "memory-profiling-enabled",
     .type = CFG_BOOL,
     .ptr = &srv.prof_enabled,
     .default_value = "no",
     .apply = apply_prof_enabled},
    {.name = "memory-profiling-sample-bytes",
     .type = CFG_MEMORY,
     .ptr = &srv.prof_sample_bytes,
     .default_value = "524288",
     .min = 1024,
     .max = 1LL << 30,
     .apply = apply_prof_sample_bytes},
    /* frame-pointer: memkv's own walk (a few loads a sample); libgcc: jemalloc's DWARF unwinder
     * (~30k instructions a sample), the fallback for a build without frame pointers. */
    {.name = "memory-profiling-unwinder",
     .type = CFG_ENUM,
     .ptr = &srv.prof_unwinder,
     .default_value = "frame-pointer",
     .enum_names = unwinder_names,
     .apply = apply_prof_unwinder},
    {.name = "memory-profiling-max-memory",
     .type = CFG_MEMORY,
     .ptr = &srv.prof_max_memory,
     .default_value = "64mb",
     .min = 0,
     .max = LL_MAX,
     .apply = apply_prof_settings},
    /* Where the server writes files: protected, so a client cannot point it elsewhere. */
    {.name = "memory-profiling-dump-dir",
     .type = CFG_STRING,
     .flags = CFG_PROTECTED,
     .ptr = &srv.prof_dump_dir,
     .default_value = "",
     .apply = apply_prof_settings},
    {.name = "memory-profiling-snapshot-interval",
     .type = CFG_INT,
     .ptr = &srv.prof_snapshot_interval,
     .default_value = "60",
     .min = 0,
     .max = 86400,
     .apply = apply_prof_settings},
    {.name = "memory-profiling-snapshots-keep",
     .type = CFG_INT,
     .ptr = &srv.prof_snapshots_keep,
     .default_value = "10",
     .min = 2,
     .max = 1000,
     .apply = apply_prof_settings},
    /* As Redis: DEBUG is off unless configured ("local" = from loopback only). */
    {.name = "enable-debug-command",
     .type = CFG_ENUM,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.enable_debug_command,
     .default_value = "no",
     .enum_names = debug_command_names},
    /* As Redis 7: parameters naming paths the server writes (CFG_PROTECTED) change at run time
     * only when this allows it ("local" = from 127.0.0.1 / ::1). */
    {.name = "enable-protected-configs",
     .type = CFG_ENUM,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.enable_protected_configs,
     .default_value = "no",
     .enum_names = debug_command_names},
    /* As Redis: with no requirepass, only clients from 127.0.0.1 / ::1 are accepted. */
    {.name = "protected-mode",
     .type = CFG_BOOL,
     .ptr = &srv.protected_mode,
     .default_value = "yes"},
    /* The embedded HTTP endpoint: /metrics, /debug/pprof/heap, /debug/memory, /healthz. */
    {.name = "metrics-bind",
     .type = CFG_STRING,
     .ptr = &srv.metrics_bind,
     .default_value = "127.0.0.1",
     .apply = apply_metrics},
    {.name = "metrics-port",
     .type = CFG_CUSTOM,
     .ptr = &srv.metrics_port,
     .default_value = "9122",
     .parse = parse_metrics_port,
     .format = format_metrics_port,
     .apply = apply_metrics},
    {.name = "metrics-token",
     .type = CFG_STRING,
     .flags = CFG_SENSITIVE,
     .ptr = &srv.metrics_token,
     .default_value = "",
     .apply = apply_metrics},
    /* An HTTP connection that sends nothing for this long, or takes longer than this to send
     * a request's headers (a header byte a second), is closed. */
    {.name = "metrics-timeout",
     .type = CFG_INT,
     .ptr = &srv.metrics_timeout,
     .default_value = "10",
     .min = 1,
     .max = 3600,
     .apply = apply_metrics},
    {.name = "metrics-pprof-enabled",
     .type = CFG_BOOL,
     .ptr = &srv.metrics_pprof_enabled,
     .default_value = "yes",
     .apply = apply_metrics},
    /* The console's buttons (start/stop profiling, snapshot, MEMORY PURGE): POST with the
     * token only, and only when this says so. */
    {.name = "metrics-console-actions",
     .type = CFG_BOOL,
     .ptr = &srv.metrics_console_actions,
     .default_value = "no",
     .apply = apply_metrics},
    /* Snapshots (persist.c). dir and dbfilename name where the server writes: protected. */
    {.name = "save",
     .type = CFG_CUSTOM,
     .default_value = "",
     .parse = parse_save,
     .format = format_save},
    {.name = "dir",
     .type = CFG_STRING,
     .flags = CFG_PROTECTED,
     .ptr = &srv.rdb_dir,
     .default_value = "./",
     .apply = apply_dir},
    {.name = "dbfilename",
     .type = CFG_STRING,
     .flags = CFG_PROTECTED,
     .ptr = &srv.rdb_filename,
     .default_value = "dump.rdb",
     .apply = apply_dbfilename},
    {.name = "rdbcompression",
     .type = CFG_BOOL,
     .ptr = &srv.rdb_compression,
     .default_value = "yes"},
    {.name = "rdbchecksum",
     .type = CFG_BOOL,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.rdb_checksum,
     .default_value = "yes"},
    /* memkv's own: a truncated or corrupt file at start-up stops the server unless this is
     * yes (then the keys before the damage are kept); streams and module values are skipped
     * and counted unless rdb-skip-unknown-types is no (then the file is refused). */
    {.name = "rdb-load-truncated",
     .type = CFG_BOOL,
     .ptr = &srv.rdb_load_truncated,
     .default_value = "no"},
    {.name = "rdb-skip-unknown-types",
     .type = CFG_BOOL,
     .ptr = &srv.rdb_skip_unknown,
     .default_value = "yes"},
    /* BGSAVE without fork (bgsave.c): its extra memory (the snapshot subsystem) stays under
     * bgsave-max-memory; bgsave-slice-us of serializing at a time, then a millisecond for the
     * clients if any sent something. */
    {.name = "bgsave-max-memory",
     .type = CFG_MEMORY,
     .ptr = &srv.bgsave_max_memory,
     .default_value = "64mb",
     .min = 1024 * 1024,
     .max = LL_MAX},
    {.name = "bgsave-slice-us",
     .type = CFG_INT,
     .ptr = &srv.bgsave_slice_us,
     .default_value = "1000",
     .min = 50,
     .max = 1000000},
    /* Every 4 MB a save writes, the kernel starts writing it to the disk (Redis's name). */
    {.name = "rdb-save-incremental-fsync",
     .type = CFG_BOOL,
     .ptr = &srv.rdb_incremental_fsync,
     .default_value = "yes"},
    /* Redis's test knob: a save waits this many microseconds after each key, or once every -n
     * keys on average for a negative n; 0 = none. SAVE and the save at shutdown wait in the
     * loop; BGSAVE's writer thread waits before each chunk (bgsave.c). */
    {.name = "rdb-key-save-delay",
     .type = CFG_INT,
     .flags = CFG_HIDDEN,
     .ptr = &srv.rdb_key_save_delay,
     .default_value = "0",
     .min = INT_MIN,
     .max = INT_MAX},
    {.name = "appendonly",
     .type = CFG_CUSTOM,
     .default_value = "no",
     .parse = parse_no_aof,
     .format = format_no_aof},
    {.name = "pidfile",
     .type = CFG_STRING,
     .flags = CFG_IMMUTABLE,
     .ptr = &srv.pidfile,
     .default_value = ""},
};

int server_config_init(char *err) {
    srv.config.params = params;
    srv.config.count = sizeof(params) / sizeof(params[0]);
    srv.config.started = 0;
    return cfg_set_defaults(&srv.config, err);
}
