/* server — state shared by the files of memkv-server (internal to src/server). */
#ifndef MEMKV_SERVER_H
#define MEMKV_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc/alloc.h"
#include "db/db.h"
#include "memory/memory.h"
#include "server/config.h"
#include "server/blocking.h"
#include "server/multi.h"
#include "server/evloop.h"
#include "server/lathist.h"
#include "server/reply.h"
#include "server/resp.h"

#define MEMKV_VERSION "0.1.0"
/* What INFO's redis_version says: the Redis release whose commands and replies we follow, so
 * clients that gate features on it behave. */
#define MEMKV_REDIS_COMPAT_VERSION "7.0.0"
/* latency-tracking-info-percentiles takes at most this many values (Redis has no bound). */
#define CMDSTATS_MAX_PERCENTILES 32

#define CLIENT_CLOSE_AFTER_REPLY (1 << 0) /* QUIT, protocol error: flush, then close */
#define CLIENT_CLOSE_ASAP (1 << 1)        /* killed or over a limit: close without flushing */
#define CLIENT_PENDING_WRITE (1 << 2)     /* on server.pending_writes */
#define CLIENT_AUTHENTICATED (1 << 3)
#define CLIENT_BLOCKED (1 << 4)    /* on keys (blocking.c) or a profiler job: next commands wait */
#define CLIENT_LOCAL (1 << 5)      /* peer is 127.0.0.1 or ::1, as Redis's islocalClient */
#define CLIENT_UNBLOCKED (1 << 6)  /* unblocked from keys; its queued input runs before sleep */
#define CLIENT_MULTI (1 << 7)      /* in MULTI: commands are queued (multi.c) */
#define CLIENT_DIRTY_CAS (1 << 8)  /* a watched key changed: EXEC answers a null array */
#define CLIENT_DIRTY_EXEC (1 << 9) /* a command was refused in MULTI: EXEC answers EXECABORT */
#define CLIENT_IN_EXEC (1 << 10)   /* running EXEC's queue: blocking commands do not block */
/* CLIENT TRACKING (tracking.c): on, and its modes */
#define CLIENT_TRACKING (1 << 11)
#define CLIENT_TRACKING_BCAST (1 << 12)
#define CLIENT_TRACKING_OPTIN (1 << 13)
#define CLIENT_TRACKING_OPTOUT (1 << 14)
#define CLIENT_TRACKING_NOLOOP (1 << 15)
#define CLIENT_TRACKING_CACHING (1 << 22)      /* CLIENT CACHING YES/NO for the next command */
#define CLIENT_TRACKING_BROKEN_REDIR (1 << 23) /* the redirect target went away (flag R) */
#define CLIENT_TRACKING_TARGET (1 << 24)       /* some client redirects its invalidations here */
/* CLIENT REPLY, NO-EVICT, MONITOR, PAUSE (client_ext.c, monitor.c, pause.c) */
#define CLIENT_REPLY_OFF (1 << 16)       /* CLIENT REPLY OFF: replies are dropped */
#define CLIENT_REPLY_SKIP_NEXT (1 << 17) /* CLIENT REPLY SKIP was the last command */
#define CLIENT_REPLY_SKIP (1 << 18)      /* the command running now gets no reply */
#define CLIENT_NO_EVICT (1 << 19)        /* CLIENT NO-EVICT ON (shown as 'e') */
#define CLIENT_MONITOR (1 << 20)         /* MONITOR: receives every executed command */
#define CLIENT_PAUSED (1 << 21) /* its command is held by CLIENT PAUSE (CLIENT_BLOCKED too) */

struct blocking_state;
typedef struct multi_state multi_state;
typedef struct watcher watcher;
struct pubsub_client;
typedef struct pubsub_client pubsub_client;
struct tracking_client;

typedef struct client {
    uint64_t id;
    int fd;
    int flags;
    int db_index;
    db *db;
    /* query buffer: [qpos, qlen) is unconsumed input */
    char *qbuf;
    size_t qlen, qcap, qpos;
    resp_parser parser;
    resp_arg *argv; /* current command (points into qbuf) */
    int argc;
    reply_buf reply;
    char *name;
    char addr[64], laddr[64];
    int64_t ctime_ms, last_interaction_ms;
    int64_t obuf_soft_since_ms; /* when the soft output limit was first exceeded, 0 if not */
    const char *last_cmd;
    struct client *prev, *next;       /* all clients */
    struct client *pending_next;      /* pending writes list */
    struct client *close_next;        /* clients to close in before_sleep */
    struct blocking_state *bstate;    /* while blocked on keys (blocking.c), else NULL */
    struct client *unblocked_next;    /* blocking.c's list of CLIENT_UNBLOCKED clients */
    multi_state *mstate;              /* MULTI's queue (multi.c), NULL outside MULTI */
    watcher *watching;                /* WATCHed keys (multi.c), NULL when none */
    struct pubsub_client *pubsub;     /* subscriptions (pubsub.c), NULL before the first */
    struct tracking_client *tracking; /* CLIENT TRACKING's state (tracking.c), NULL when off */
    /* While blocked on keys: the command and its first run's time, counted once answered. */
    const struct command *blocked_cmd;
    long long blocked_us;
} client;

typedef void command_fn(client *c);

#define CMD_WRITE (1 << 0)
#define CMD_READONLY (1 << 1)
#define CMD_NOAUTH (1 << 2) /* allowed before AUTH */
#define CMD_FAST (1 << 3)
#define CMD_ADMIN (1 << 4)
#define CMD_NOSCRIPT (1 << 5)
#define CMD_DENYOOM (1 << 6)  /* may grow memory: refused while over maxmemory (Redis's denyoom) */
#define CMD_BLOCKING (1 << 7) /* may block the client (BLPOP ...) */
#define CMD_MOVABLEKEYS (1 << 8) /* keys found by parsing (LMPOP numkeys ...) */
#define CMD_NO_MULTI (1 << 9)    /* refused inside MULTI (Redis's no-multi: SHUTDOWN) */
/* Runs at once inside MULTI instead of being queued: EXEC DISCARD MULTI WATCH QUIT (and RESET,
 * as in Redis 7.0's processCommand). */
#define CMD_NOQUEUE (1 << 10)
/* Held by CLIENT PAUSE WRITE although not a write (Redis's may-replicate: PUBLISH, EVAL...) */
#define CMD_MAY_REPLICATE (1 << 12)
#define CMD_SKIP_MONITOR (1 << 13) /* never shown to MONITOR (Redis's skip_monitor) */
#define CMD_SKIP_SLOWLOG (1 << 14) /* never logged in the SLOWLOG (EXEC, as Redis) */
#define CMD_CONTAINER (1 << 15)    /* has subcommands (set by commands_init) */
/* What COMMAND GETKEYS(ANDFLAGS) says of the key positions (Redis 7.0's key specs, coarser):
 * CHANNELS: they hold shard channels, not keys (SPUBLISH...: "no key arguments");
 * KEY_DELETE: the keys are removed (RM, delete); KEY_RW_ACCESS: read and written (RW, access,
 * update: a script's keys). Otherwise RO/access for read-only commands, RW/update for writes. */
#define CMD_CHANNELS (1 << 16)
#define CMD_KEY_DELETE (1 << 17)
#define CMD_KEY_RW_ACCESS (1 << 18)
/* Runs a script (EVAL*, FCALL*): client-side caching remembers the keys of its reads, not of
 * the command itself (Redis 7.0's call() leaves EVAL_RO, EVALSHA_RO, FCALL_RO out). */
#define CMD_SCRIPT (1 << 19)

/* What INFO commandstats and latencystats show of a command or subcommand (cmdstats.c). */
typedef struct cmd_stats {
    long long calls;    /* ran (a blocked command: once it is answered) */
    long long usec;     /* time spent running, while command timing is on */
    long long rejected; /* refused before running: arity, NOAUTH, OOM, MULTI refusals... */
    long long failed;   /* ran and replied an error */
    lathist *hist;      /* latency-tracking; NULL until the first tracked call */
} cmd_stats;

/* A subcommand of a container command (CLIENT LIST), as Redis 7.0's command table has it: its
 * full name as CLIENT LIST's cmd= and INFO commandstats show it ("client|list"), its arity
 * (checked before it runs or is queued in MULTI), whether Redis flags it admin (then MONITOR
 * does not show it), and its own statistics. */
typedef struct subcommand {
    const char *name; /* lower case, without the container's name */
    const char *fullname;
    int arity;
    int admin;
    int has_key; /* COMMAND GETKEYS: argument 2 is a key (MEMORY USAGE, OBJECT ...) */
    cmd_stats stats;
} subcommand;

typedef struct command {
    const char *name;
    command_fn *fn;
    int arity; /* > 0 exact, < 0 at least -arity */
    int flags;
    int first_key, last_key, key_step;
    const char *group;   /* COMMAND DOCS group */
    const char *summary; /* COMMAND DOCS summary */
} command;

typedef struct server_stats {
    long long connections_received;
    long long commands_processed;
    long long rejected_connections;
    long long expired_keys;
    long long keyspace_top_refills; /* MEMORY TOP-KEYS rebuilt a type's candidates by a scan */
    long long evicted_keys;
    long long keyspace_hits;
    long long keyspace_misses;
    long long error_replies;
    long long net_input_bytes;
    long long net_output_bytes;
    long long client_qbuf_limit_disconnections;
    long long client_obuf_limit_disconnections;
    long long eventloop_max_busy_us;           /* longest event-loop turn since start / RESETSTAT */
    long long total_reads_processed;           /* read events that got bytes */
    long long total_writes_processed;          /* write attempts that sent bytes */
    long long expire_cycle_us;                 /* time spent in the cron's active expiry */
    long long net_input_last, net_output_last; /* at the last sample (instantaneous kbps) */
    double input_kbps, output_kbps;
    /* instantaneous ops/sec, sampled by the cron */
    long long ops_samples[16];
    int ops_sample_idx;
    long long ops_last_count;
    int64_t ops_last_ms;
} server_stats;

/* Output buffer limit for normal clients (client-output-buffer-limit normal H S T). */
typedef struct obuf_limit {
    long long hard, soft, soft_seconds;
} obuf_limit;

typedef struct server {
    /* configuration (pointed at by the config table) */
    char *bind;
    long long port;
    long long tcp_backlog;
    long long tcp_keepalive;
    long long timeout;
    long long maxclients;
    long long databases;
    long long hz;
    long long proto_max_bulk_len;
    long long hll_sparse_max_bytes; /* a sparse HyperLogLog longer than this becomes dense */
    long long client_query_buffer_limit;
    obuf_limit obuf_normal;
    obuf_limit obuf_replica, obuf_pubsub; /* the other classes; pubsub: subscribed clients */
    char *requirepass;
    int loglevel;
    char *logfile;
    char *ready_file;
    char *pidfile;

    cfg_table config;
    char *config_file; /* absolute path, NULL when started without one */
    char *executable;

    int subsystem_arenas;
    /* the allocator at run time (server_config.c, apply_jemalloc_settings) */
    int jemalloc_bg_thread;            /* jemalloc-bg-thread */
    long long jemalloc_dirty_decay_ms; /* jemalloc-dirty-decay-ms, applied to every arena */
    long long jemalloc_muzzy_decay_ms; /* jemalloc-muzzy-decay-ms */
    /* key-space statistics (keyspace.c, src/db/kstats.h) */
    int keyspace_stats;                   /* keyspace-stats */
    char *keyspace_prefix_separators;     /* keyspace-prefix-separators */
    long long keyspace_prefix_depth;      /* keyspace-prefix-depth */
    long long keyspace_prefix_max;        /* keyspace-prefix-max; 0: prefixes off */
    long long keyspace_top_keys;          /* keyspace-top-keys */
    long long memory_history_interval_ms; /* memory-history-interval-ms (history.c) */
    long long memory_history_points;      /* memory-history-points */
    long long keyspace_prefix_metrics;    /* keyspace-prefix-metrics: prefixes /metrics shows */
    /* heap profiler (cmd_profile.c) */
    int prof_enabled;
    long long prof_sample_bytes;
    long long prof_max_memory;
    char *prof_dump_dir;
    long long prof_snapshot_interval;
    long long prof_snapshots_keep;
    int prof_unwinder;            /* PROF_UNWINDER_* */
    int enable_debug_command;     /* 0 no, 1 yes, 2 local */
    int active_expire_off;        /* DEBUG SET-ACTIVE-EXPIRE 0: the cron deletes no expired key */
    int enable_protected_configs; /* 0 no, 1 yes, 2 local: CONFIG SET of CFG_PROTECTED ones */
    int protected_mode;           /* no requirepass: refuse clients that are not CLIENT_LOCAL */
    /* HTTP endpoint (endpoint.c) */
    char *metrics_bind;
    long long metrics_port; /* 0 = off, -1 = "auto" (any free port, see ready-file) */
    char *metrics_token;
    int metrics_pprof_enabled;
    int metrics_console_actions; /* metrics-console-actions */
    long long metrics_timeout;   /* seconds: idle limit and deadline for a request to arrive */
    int metrics_bound_port;
    long long maxmemory;         /* bytes, 0 = no limit (the policy and eviction live in evict.c) */
    int maxmemory_policy;        /* enum evict_policy */
    long long maxmemory_samples; /* keys sampled per db to fill the eviction pool */
    long long slowlog_log_slower_than; /* µs; -1: off (slowlog.c) */
    long long slowlog_max_len;
    long long latency_monitor_threshold; /* ms; 0: off (latency.c) */
    long long busy_reply_threshold;      /* ms; a script past it lets others in (0: never) */
    int script_busy;                     /* a script runs past busy-reply-threshold */
    int pre_command_oom;                 /* over maxmemory when the current client command began */
    long long tracking_table_max_keys;   /* keys the tracking table holds at most; 0: no cap */
    /* Per-command statistics (cmdstats.c) */
    int latency_tracking; /* latency-tracking: a histogram per command */
    double latency_percentiles[CMDSTATS_MAX_PERCENTILES]; /* latency-tracking-info-percentiles */
    int latency_npercentiles;
    long long errorstats_max_prefixes; /* errorstats-max-prefixes (Redis: 128) */

    /* Collection encodings: the compact one (listpack, intset) up to these sizes, Redis's
     * thresholds and defaults (see the types' conversions in src/server/cmd_*.c). */
    long long hash_max_listpack_entries, hash_max_listpack_value;
    long long set_max_intset_entries, set_max_listpack_entries, set_max_listpack_value;
    long long zset_max_listpack_entries, zset_max_listpack_value;
    long long list_max_listpack_size; /* > 0 entries per node, -1..-5: 4..64 KiB per node */

    /* runtime */
    evloop *el;
    size_t used_memory_startup; /* accounted bytes once start-up is done */
    size_t used_memory_peak;
    int64_t index_bytes_startup;
    size_t rss_baseline; /* process RSS once start-up is done: an empty server's own cost */
    int listen_fds[16];
    int listen_count;
    int bound_port;
    db **dbs;
    client *clients; /* list head */
    long long nclients;
    client **clients_by_fd;
    client *pending_writes;
    client *to_close;
    client *current_client;
    uint64_t next_client_id;
    int64_t start_ms;
    char run_id[41];
    int shutdown_asap;
    int exit_code;
    uint64_t cron_loops;
    int cmd_hooks; /* pauses, monitors or command timing in use: see server_hooks_update */
    long long tracking_clients; /* clients with CLIENT TRACKING on (tracking.c) */
    int monitors;               /* clients in MONITOR mode (monitor.c) */
    int pause_type;             /* PAUSE_* (pause.c): CLIENT PAUSE in force */
    int64_t pause_end_ms;       /* when it ends */
    long long paused_clients;   /* clients whose command the pause holds */
    server_stats stats;
    /* persistence (persist.c) */
    char *rdb_dir;          /* "dir" */
    char *rdb_filename;     /* "dbfilename" */
    int rdb_compression;    /* "rdbcompression" */
    int rdb_checksum;       /* "rdbchecksum" */
    int rdb_load_truncated; /* a damaged file: keep what precedes the damage and start */
    int rdb_skip_unknown;   /* streams, modules: skip them (counted) rather than refuse */
    int loading;
    /* Changes since the last save (rdb_changes_since_last_save), for the save rules: each
     * write command adds its own, as Redis counts them (one per element a collection gains or
     * loses, one per key set, deleted, moved or renamed; an expiry or eviction none). */
    long long dirty;
    long long lastsave; /* unix seconds of the last successful save (or start-up) */
    int last_save_ok;
    int64_t last_save_try_ms;
    int64_t rdb_last_save_us;
    long long rdb_saves;
    long long rdb_last_load_keys_loaded, rdb_last_load_keys_expired, rdb_last_load_skipped;
    long long bgsave_max_memory;  /* the snapshot subsystem's cap while a BGSAVE runs */
    long long bgsave_slice_us;    /* serializing per millisecond of the event loop */
    long long rdb_key_save_delay; /* µs after each key of a foreground SAVE (a test knob) */
    int rdb_incremental_fsync;    /* rdb-save-incremental-fsync */
    int64_t rdb_last_cow_size;    /* the last BGSAVE's peak extra memory (forkless: its queue) */
    long long rdb_last_bgsave_s;
    command *commands;
    size_t ncommands;
} server;

extern server srv;

/* main.c */
int64_t server_now_ms(void); /* cached: refreshed per read event and per cron tick */
void server_update_time(void);
void server_create_dbs(void); /* srv.dbs, the hash seed, the collection types (main.c) */
/* memkv-server --analyze-rdb FILE [--json] [--name value ...] (analyze.c): the exit code. */
int analyze_rdb_main(int argc, char **argv);
void server_request_shutdown(void);
void server_clamp_hz(void);

/* server_config.c */
int server_config_init(char *err);
/* A percentile as Redis names it (INFO latencystats, CONFIG GET): %f, trailing zeros trimmed. */
void config_percentile_name(char *buf, size_t cap, double p);
/* Applies jemalloc-bg-thread and the decay times (at start-up, once the config is loaded). */
int apply_jemalloc_settings(const cfg_param *p, char *err);

/* keyspace.c: key-space statistics (MEMORY PREFIXES, MEMORY TOP-KEYS, INFO keysizes). */
struct kstats;
int keyspace_stats_apply(const cfg_param *p, char *err); /* (re)build from every key */
void keyspace_stats_shutdown(void);
struct kstats *keyspace_stats(void);       /* settled; NULL when keyspace-stats is off */
int keyspace_memory_subcommand(client *c); /* 1 if it was PREFIXES or TOP-KEYS */
void keyspace_stats_check(client *c);      /* DEBUG KEYSPACE-STATS-CHECK */
void keyspace_info_keysizes(void (*emit)(void *ctx, const char *line, size_t len), void *ctx);
/* The doctor's view of the key space: totals, the largest key, growth (from history.c).
 * may_scan 0: never a pass over the keys (the cron), so the largest key may be missing. */
void keyspace_fill_doctor(mem_keyspace *k, int may_scan);
/* The largest keys for the console (metrics.h's metrics_top_key); 0 when the statistics are off
 * or their candidates need a refill (a scan is never done from the cron). */
struct metrics_top_key;
size_t keyspace_top_for_console(struct metrics_top_key *out, size_t cap);

/* history.c: the in-process memory history (MEMORY HISTORY, growth for the doctor). */
int history_reset(const cfg_param *p, char *err); /* (re)start empty at the configured size */
void history_shutdown(void);
void history_cron(int64_t now_ms);
void history_growth(mem_keyspace *k);
int history_prefix_rate(const char *name, size_t len, double *per_hour); /* 0: too few points */
void history_reply(client *c, long long count);

/* net.c */
int net_listen(char *err);
void net_close_listeners(void);
void net_before_sleep(void);
void client_close(client *c);
void client_close_async(client *c);
/* AUTH is needed before other commands: a password is set and this client has not given it
 * (clients connected before requirepass was set keep their access, as in Redis). */
int client_auth_required(const client *c);
/* An enable-* option of Redis's kind (0 no, 1 yes, 2 local) allows this client. */
int client_option_allows(const client *c, int option);
int client_obuf_check(client *c); /* closes async and returns -1 if over the limit */
/* Output was added to a client other than the one being served (PUBLISH): write it out. */
void client_queue_write(client *c);
/* A busy script's caller: its input waits (on 1) until the script ends (0). */
void client_protect(client *c, int on);
void net_write_pending(void); /* writes the pending replies (from inside a busy script) */
void client_info_line(client *c, char *buf, size_t cap);
/* The clients with the largest output buffer and the largest query buffer (CLIENT LIST's omem,
 * and rbs plus argv-mem), for the doctor; all zero when no client holds any. */
void clients_top_buffers(mem_client_top *obuf, mem_client_top *qbuf);
/* The cap clients with the largest buffers (query side + output), largest first. */
struct metrics_client_buffers;
size_t clients_largest_buffers(struct metrics_client_buffers *out, size_t cap);
void net_clients_cron(void);
client *client_by_id(uint64_t id);
/* The blocking job finished and its reply was added: go on with the client's queued input. */
void client_unblock(client *c);

/* commands.c */
void commands_init(void);
void commands_free(void);
const command *command_lookup(const char *name, size_t len);
/* The subcommand argument a names of a container command; NULL if unknown or not a container. */
subcommand *command_find_sub(const command *cmd, const resp_arg *a);
cmd_stats *command_stats(const command *cmd); /* a command's own statistics */
const subcommand *
command_subcommands(const command *cmd); /* a container's, up to name NULL; or NULL */
/* Every command (table order), each container followed by its subcommands. */
void commands_each_stats(void (*fn)(void *ctx, const char *name, cmd_stats *st), void *ctx);
void commands_each_sub_stats(const command *cmd,
                             void (*fn)(void *ctx, const char *name, cmd_stats *st), void *ctx);
void command_process(client *c);
/* Runs an already checked command for a script's client c (script_lua.c): the execution part
 * of command_process (statistics, MONITOR, the key-space statistics settled). */
void command_call(client *c, const command *cmd, subcommand *sub);
/* A script's redis.call/pcall refused cmd (NULL: an unknown one) before running it, with the
 * error `msg` ("ERR ...", "OOM ..."): counted now, as Redis 7.0 counts it (the script marks
 * the error counted, so a reply of it does not count it again), with a rejected call for the
 * command; the script's own failure is judged without it, as for a command's error. */
void command_script_refused(const command *cmd, subcommand *sub, const char *msg, size_t len);
/* EXEC runs one queued command (c->argv is its copy): statistics, SLOWLOG and latency as for a
 * command run alone, the clock read once per command. */
void command_exec_queued(client *c, const command *cmd, subcommand *sub);
/* A blocked command was answered after `before` bytes of reply (served, timed out or CLIENT
 * UNBLOCK; c->argv is the blocked command's): CLIENT REPLY OFF / SKIP take the reply back, as
 * they would have a reply given at once, and the rest of its statistics is counted (its call
 * was when it blocked, as Redis 7.0): `errors_before` the error-reply count before the answer,
 * `extra_us` the time serving it took, `served` 0 for the timeout reply (Redis 7.0 then records
 * no latency sample). */
void command_unblocked_reply(client *c, size_t before, long long errors_before, long long extra_us,
                             int served);

/* cmdstats.c: INFO commandstats, errorstats and latencystats, LATENCY HISTOGRAM. */
void cmdstats_error(const char *msg); /* an error reply: errorstat_<prefix> */
void cmdstats_reset(void);            /* CONFIG RESETSTAT */
void cmdstats_free(void);
void cmdstats_info_commandstats(void (*emit)(void *ctx, const char *line, size_t len), void *ctx);
void cmdstats_info_errorstats(void (*emit)(void *ctx, const char *line, size_t len), void *ctx);
void cmdstats_info_latencystats(void (*emit)(void *ctx, const char *line, size_t len), void *ctx);
void cmdstats_latency_histogram(client *c); /* LATENCY HISTOGRAM [command ...] */
/* The error prefixes counted (errorstats), for /metrics: fn per prefix, in table order. */
void cmdstats_each_error(void (*fn)(void *ctx, const char *prefix, long long count), void *ctx);

/* Replies with Redis's shared error texts. Each helper sends the error itself and returns -1,
 * so handlers write `if (arg_ll(c, i, &v) < 0) return;`. */
extern const char *const ERR_SYNTAX;
extern const char *const ERR_NOT_INT;
extern const char *const ERR_NOT_FLOAT;
extern const char *const ERR_WRONGTYPE;
extern const char *const ERR_NO_SUCH_KEY;
extern const char *const ERR_OVERFLOW;
extern const char *const ERR_OOM;
void reply_error(client *c, const char *msg);
/* An error already counted (INFO errorstats, total_error_replies) when a script's command
 * replied it: the running command still counts as failed, as Redis 7.0's
 * ERR_REPLY_FLAG_NO_STATS_UPDATE. */
void reply_error_uncounted(client *c, const char *msg);
/* An error reply written by other means (a script's {err=...}): counted as reply_error does, or
 * as reply_error_uncounted when `counted` (a script command's error, counted then). */
void error_reply_count(const char *msg, size_t len, int counted);
void reply_errorf(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_wrong_arity(client *c);
void reply_wrong_subcommand_arity(client *c);
void reply_unknown_subcommand(client *c);
/* "ERR unknown subcommand or wrong number of arguments for '<argv[1] as sent>'. Try X HELP." */
void reply_subcommand_syntax_error(client *c);
void reply_help(client *c, const char *const *lines); /* a status reply per line, to NULL */
int arg_ll(client *c, int i, long long *out);
int arg_eq(const client *c, int i, const char *lower); /* case-insensitive compare */

/* The SCAN family (SCAN, HSCAN, SSCAN, ZSCAN). The cursor as Redis reads it (strtoul: a sign
 * and leading zeros are fine, "-1" wraps, "" is 0, the text ends at a NUL; a leading space,
 * trailing junk or overflow reply "ERR invalid cursor"). Returns 0, or -1 after replying. */
int arg_scan_cursor(client *c, int i, uint64_t *cursor);
typedef struct scan_args {
    long long count; /* COUNT, default 10 */
    const char *pat; /* MATCH, NULL when absent */
    size_t plen;
    int match_all;    /* no MATCH, or MATCH * */
    int type;         /* SCAN's TYPE: a db type, -1 when absent */
    int type_unknown; /* TYPE named no type: nothing matches, as in Redis */
} scan_args;
/* [MATCH pattern] [COUNT n] (and [TYPE t] when allow_type) from argv[first] on. Returns 0, or
 * -1 after replying a syntax or integer error. */
int parse_scan_args(client *c, int first, int allow_type, scan_args *out);
int scan_args_match(const scan_args *a, const void *s, size_t len);
/* The reply's head: a two-element array and the next cursor; the caller adds the elements. */
void reply_scan_head(client *c, uint64_t next);

/* HRANDFIELD / ZRANDMEMBER key count [WITHVALUES|WITHSCORES]: the count (argv[2]) and the
 * option word (argv[3], `with` lower case), checked as Redis does, before the key is looked up.
 * Returns 0, or -1 after replying. */
int arg_random_count(client *c, const char *with, long long *count, int *with_set);

/* Key space helpers used by several command files. */
/* All of them expire lazily; lookup_read and lookup_write stamp the key's LRU clock, and
 * lookup_read_notouch does not (Redis's LOOKUP_NOTOUCH: TYPE, TTL, EXISTS). */
db_entry *lookup_read(client *c, int i);         /* counts hits/misses */
db_entry *lookup_read_notouch(client *c, int i); /* counts hits/misses */
/* lookup_read of a key that is no argument (SORT's BY and GET patterns). */
db_entry *lookup_read_key(client *c, const char *key, size_t klen);
db_entry *lookup_write(client *c, int i); /* no hit/miss counting */
db_entry *lookup_string_or_reply(client *c, int i, int *wrongtype);
/* The key argv[i] if it holds `type` (lookup_read, or lookup_write when `write`); NULL when
 * missing, or after replying WRONGTYPE (then *wrongtype is set): the handler returns. */
db_entry *lookup_type_or_reply(client *c, int i, int type, int write, int *wrongtype);
/* The collection at argv[i] was changed in place (the db sees keys added, deleted, written
 * and renamed itself): tells WATCH, as Redis's signalModifiedKey. Call it only when the
 * command changed something. */
void key_changed(client *c, int i);
/* Gives an existing key the absolute expire `when` (ms); one already in the past deletes the
 * key ("del", not counted in expired_keys, as Redis 7.0). The caller counts the change
 * (srv.dirty). */
void expire_or_delete(client *c, const resp_arg *key, int64_t when);

/* command handlers */
void cmd_ping(client *c);
void cmd_echo(client *c);
void cmd_quit(client *c);
void cmd_auth(client *c);
void cmd_hello(client *c);
void cmd_select(client *c);
void cmd_reset(client *c);
void cmd_client(client *c);
void cmd_command(client *c);
void cmd_info(client *c);
void cmd_config(client *c);
void cmd_shutdown(client *c);
void cmd_save(client *c);
void cmd_lastsave(client *c);
void cmd_dump(client *c);
void cmd_restore(client *c);

/* persist.c: RDB snapshots. */
int persist_parse_save(const char *value, char *err, size_t errlen);
void persist_format_save(char *buf, size_t cap);
int persist_has_rules(void);
int persist_save(char *err, size_t errlen);
/* A save's incremental fsync state (rdb-save-incremental-fsync), from zero. */
typedef struct persist_sync {
    int on;
    off_t written, started, waited; /* bytes written; write-back started up to; waited up to */
} persist_sync;
/* Writes all of p (0, or -1 with errno); sync NULL: no incremental fsync. Any thread. */
int persist_write(int fd, const unsigned char *p, size_t n, persist_sync *sync);
int persist_load(char *err, size_t errlen);
/* The loader itself, over an open RDB file (--analyze-rdb uses it too): every item read goes to
 * on_item (after a key was loaded, with its entry; NULL when it was dropped as expired), the
 * values' shapes to observe (both may be NULL). Returns 0, -1 for a damaged file or a read
 * error (why names the offset), -2 for a file this configuration refuses (a repeated key, a db
 * beyond `databases`). Logs nothing. */
struct rdb_item;
typedef struct persist_loader {
    void (*on_item)(void *ctx, const struct rdb_item *it, db_entry *e);
    void (*observe)(void *ctx, int what, const unsigned char *p, size_t len); /* rdb_observe_fn */
    void *ctx;
} persist_loader;
typedef struct persist_load_stats {
    long long loaded, expired, empty, skipped;
    int version;     /* the file's RDB version */
    uint64_t offset; /* bytes read up to the end, or up to the damage */
} persist_load_stats;
int persist_load_fd(int fd, const persist_loader *l, persist_load_stats *st, char *why,
                    size_t whylen);
void persist_cron(void);
struct rdb_limits;
void persist_fill_limits(struct rdb_limits *lim); /* the encodings' limits from the config */
/* how: 1 SAVE, 0 NOSAVE, -1 neither (save if rules exist). 0: exit; -1: the save failed. */
int persist_before_shutdown(int how);

/* bgsave.c: BGSAVE without fork (see there why). */
int bgsave_start(char *err, size_t errlen);
int bgsave_in_progress(void);
void bgsave_abort(void);
void cmd_bgsave(client *c);
typedef struct bgsave_figures {
    int in_progress;
    long long current_s, current_age_s, keys_processed, keys_total;
    int64_t current_bytes, current_peak;
} bgsave_figures;
void bgsave_info(bgsave_figures *f);
void cmd_time(client *c);
void cmd_dbsize(client *c);
void cmd_flushdb(client *c);
void cmd_flushall(client *c);

/* multi.c */
/* Sets the db's one change hook (db.h) while WATCH or client-side caching listens, and takes
 * it away when neither does: call it when either starts or stops listening. */
void server_change_hook_update(void);
void cmd_multi(client *c);
void cmd_exec(client *c);
void cmd_discard(client *c);
void cmd_watch(client *c);
void cmd_unwatch(client *c);

void cmd_del(client *c);
void cmd_exists(client *c);
void cmd_type(client *c);
void cmd_expire(client *c);
void cmd_pexpire(client *c);
void cmd_expireat(client *c);
void cmd_pexpireat(client *c);
void cmd_ttl(client *c);
void cmd_pttl(client *c);
void cmd_persist(client *c);
void cmd_rename(client *c);
void cmd_renamenx(client *c);
void cmd_keys(client *c);
void cmd_scan(client *c);
void cmd_randomkey(client *c);
void cmd_object(client *c);
void cmd_copy(client *c);
void cmd_move(client *c);
void cmd_touch(client *c);

void cmd_get(client *c);
void cmd_set(client *c);
void cmd_setnx(client *c);
void cmd_setex(client *c);
void cmd_psetex(client *c);
void cmd_getset(client *c);
void cmd_getdel(client *c);
void cmd_getex(client *c);
void cmd_mget(client *c);
void cmd_mset(client *c);
void cmd_msetnx(client *c);
void cmd_incr(client *c);
void cmd_decr(client *c);
void cmd_incrby(client *c);
void cmd_decrby(client *c);
void cmd_incrbyfloat(client *c);
void cmd_append(client *c);
void cmd_strlen(client *c);
void cmd_getrange(client *c);
void cmd_setrange(client *c);
/* The longest string a command may make: proto-max-bulk-len (SETRANGE, APPEND, SETBIT, ...),
 * capped by what a db entry can hold. */
size_t string_max_len(void);

/* cmd_bitmaps.c: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO */
extern command bitmaps_commands[];
extern const size_t bitmaps_commands_count;
/* cmd_sort.c: SORT SORT_RO */
extern command sort_commands[];
extern const size_t sort_commands_count;
/* cmd_hll.c: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST */
extern command hll_commands[];
extern const size_t hll_commands_count;
/* cmd_geo.c: GEOADD GEODIST GEOHASH GEOPOS GEORADIUS[BYMEMBER][_RO] GEOSEARCH[STORE] */
extern command geo_commands[];
extern const size_t geo_commands_count;
/* cmd_zsets.c, shared with GEO: ZADD's work once its scores are parsed (the members at
 * argv[first], argv[first + stride], ...; in_flags ZADD_IN_*), a STORE's result under argv[i]
 * (deletes the key when z is empty; event as Redis's), the configured encoding limits. */
struct zobj;
struct zset_limits;
void zadd_apply(client *c, int in_flags, int ch, int elements, const double *scores, int first,
                int stride);
size_t zset_store_result(client *c, int i, struct zobj *z, const char *event);
/* The sorted set at argv[i] for a read (hits and misses counted): 1 with *z, 0 when missing,
 * -1 after a WRONGTYPE reply. */
int zset_read(client *c, int i, struct zobj *z);
const struct zset_limits *zset_config_limits(void);
/* cmd_extra.c: LCS, EXPIRETIME, PEXPIRETIME, SWAPDB, WAIT, ROLE */
extern command extra_commands[];
extern const size_t extra_commands_count;
/* SWAPDB's work: dbs a and b trade contents (clients keep their db number), the key-space
 * statistics follow, clients blocked on keys of either db are served if they now can. */
void server_swap_dbs(int a, int b);
/* cmd_getkeys.c: COMMAND GETKEYS / GETKEYSANDFLAGS (argv[2..] is the command) and COMMAND LIST
 * [FILTERBY ...]. */
void command_getkeys(client *c, int with_flags);
void command_list(client *c);
void reply_command_categories(client *c,
                              const command *cmd); /* COMMAND INFO: Redis's ACL categories */
unsigned command_categories(const command *cmd);
/* A subcommand's COMMAND INFO flags (CMD_*) and its categories, as Redis 7.0's. */
int subcommand_flags(const command *cmd, const subcommand *sub);
void reply_subcommand_categories(client *c, const command *cmd, const subcommand *sub);
/* Positions in argv of the keys a command reads, for client-side caching: the keys of a
 * read-only command and of Redis's read-only key subcommands (OBJECT ENCODING key, MEMORY
 * USAGE key...). pos has room for argc + 1 entries. Returns how many (0: none). */
int command_read_keys(const command *cmd, const resp_arg *argv, int argc, int *pos);
/* Every key of a (non-container) command, read or written, positions as above. */
int command_keys(const command *cmd, const resp_arg *argv, int argc, int *pos);
const char *command_since(const char *name); /* "6.2.0"; "1.0.0" for the first commands */
/* cmd_hashes.c: the hash commands' table (a group of commands.c's groups[]) */
extern command hashes_commands[];
extern const size_t hashes_commands_count;
/* cmd_sets.c: the SET commands, their own table (a group of commands.c) */
extern command sets_commands[];
extern const size_t sets_commands_count;
/* cmd_lists.c */
extern command lists_commands[];
extern const size_t lists_commands_count;

/* cmd_script.c: EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT (and FUNCTION/FCALL refused) */
extern command scripting_commands[];
extern const size_t scripting_commands_count;

/* cmd_zsets.c: the sorted set commands' table */
extern command zsets_commands[];
extern const size_t zsets_commands_count;

/* cmd_memory.c */
void cmd_memory(client *c);
/* One consistent set of figures for INFO memory, MEMORY STATS and the doctor. */
typedef struct memory_figures_t {
    mem_allocator_stats alloc; /* without jemalloc, allocated/active/resident = used */
    mem_ratios ratios;
    size_t rss, used, peak, overhead, dataset, clients_normal;
    int64_t sub[ALLOC_SUB_COUNT]; /* per subsystem, read once; used is their sum */
} memory_figures_t;
void memory_figures(memory_figures_t *f);
size_t memory_used(void);
size_t memory_system_total(void); /* physical memory of the machine; 0 = unknown */
void memory_update_peak(void);
void memory_mark_startup(void); /* once start-up allocations are done */
/* Allocator figures of a subsystem group's own arena; -1 when it has none. */
int memory_arena_figures(alloc_arena_group g, mem_arena_stats *out);

/* cmd_profile.c */
int profile_init(char *err, size_t cap); /* after the event loop exists */
void profile_shutdown(void);
void profile_cron(void);
int profile_apply_enabled(char *err, size_t cap);
int profile_apply_sample_bytes(char *err, size_t cap);
int profile_apply_settings(char *err, size_t cap);
/* memory-profiling-unwinder: how a sampled allocation's stack is taken. */
enum { PROF_UNWINDER_FP = 0, PROF_UNWINDER_LIBGCC };
int profile_apply_unwinder(char *err, size_t cap);
void memory_profile(client *c);
void cmd_kprofile(client *c);
void cmd_debug(client *c);
void debug_free_planted(void);

/* endpoint.c */
int endpoint_start(char *err, size_t cap);
void endpoint_stop(void);
int endpoint_restart(char *err, size_t cap); /* after a CONFIG SET of metrics-* */
void endpoint_publish_state(void);           /* from the cron */
void endpoint_cron(void); /* from the cron: applies the console's queued actions */

/* info.c */
/* INFO text for the requested sections (none, "default", "all", "everything" or names);
 * returns an alloc'ed string (ALLOC_SUB_OTHER) and its length. */
char *info_generate(client *c, size_t *len);

/* Introspection (slowlog.c, latency.c, monitor.c, cmd_introspect.c) and CLIENT PAUSE (pause.c),
 * the CLIENT subcommands of client_ext.c. */
extern command introspection_commands[];
extern const size_t introspection_commands_count;
void cmd_slowlog(client *c);
void cmd_latency(client *c);
void cmd_monitor(client *c);
/* 1 when SLOWLOG, LATENCY or latency-tracking want each command's duration (a clock read
 * before and after, shared by all of them and by INFO commandstats' usec). */
static inline int command_timing_on(void) {
    return srv.slowlog_log_slower_than >= 0 || srv.latency_monitor_threshold > 0 ||
           srv.latency_tracking;
}
/* Recomputes srv.cmd_hooks, the one flag the command path tests for pauses, monitors and
 * timing (call it when any of them changes). */
void server_hooks_update(void);
int server_hooks_apply(const cfg_param *p, char *err); /* config hook of the timing params */
/* Logs the command (c->argv) if it took at least slowlog-log-slower-than µs. */
void slowlog_push(client *c, const command *cmd, long long duration_us);
int slowlog_apply_max_len(const cfg_param *p, char *err); /* trims to slowlog-max-len */
void slowlog_free(void);
/* Records a latency sample of `event` when latency-monitor-threshold is on and ms reaches it. */
void latency_add_sample(const char *event, long long ms);
void latency_free(void);
/* 1 when argument i of c's command is shown as "(redacted)" (AUTH, HELLO ... AUTH u p). */
int command_arg_redacted(const client *c, const command *cmd, int i);
/* Shows the command that just ran to every MONITOR client (unless it is an admin one). */
void monitor_feed(client *c, const command *cmd, const subcommand *sub);
/* The same, whatever the command's flags (EVAL feeds itself before the script runs). */
void monitor_feed_always(client *c, const command *cmd);
void monitor_stop(client *c); /* RESET, client_close */

enum { PAUSE_OFF = 0, PAUSE_WRITE, PAUSE_ALL }; /* Redis's order: ALL is the stricter */
void pause_start(int type, int64_t end_ms);     /* CLIENT PAUSE: the stricter type, later end */
void pause_stop(void);                          /* CLIENT UNPAUSE */
int pause_in_force(void); /* ends the pause when its time is up; 1 while it lasts */
int pause_holds(const client *c, const command *cmd); /* the pause holds this command */
void pause_hold(client *c);    /* keeps a copy of the command; it runs when the pause ends */
void pause_before_sleep(void); /* runs the commands a pause that ended was holding */
void pause_client_closed(client *c);
void pause_shutdown(void);
/* CLIENT REPLY NO-EVICT PAUSE UNPAUSE GETREDIR TRACKINGINFO TRACKING CACHING: 1 if argv[1] was
 * one of them (answered), 0 if not. */
int client_ext_subcommand(client *c);

/* evict.c */
/* maxmemory-policy values, in the order of evict_policy_names (Redis's order, less LFU). */
enum evict_policy {
    EVICT_VOLATILE_LRU = 0,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
    EVICT_ALLKEYS_LRU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_NOEVICTION,
};
extern const char *const evict_policy_names[]; /* NULL-terminated, for the config table */
const char *evict_policy_name(void);           /* current policy, as INFO memory shows it */
void evict_init(void);                         /* at start-up, once the dbs exist */
void evict_free(void);
void evict_cron(void); /* refreshes the LRU clock */
/* Milliseconds since the key was last accessed (its LRU stamp; OBJECT IDLETIME). */
uint64_t evict_idle_ms(const db_entry *e);
/* If used memory is over maxmemory, evict keys by the policy until it is not. Returns 0 when
 * under the limit (or no limit), -1 when it cannot get there (noeviction, or nothing left to
 * evict): commands flagged CMD_DENYOOM are then refused with ERR_OOM. */
int evict_perform(void);
void evict_maxmemory_changed(void); /* CONFIG SET maxmemory: warn, evict at once */

#endif
