/* memkv-server: start-up, the cron, signals, shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "db/types.h"
#include "db/t_hash.h"
#include "db/t_set.h"
#include "db/t_list.h"
#include "db/t_zset.h"
#include "profiler/profiler.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/pubsub.h"
#include "server/script.h"
#include "server/server.h"
#include "server/tracking.h"
#include "util/util.h"

#ifdef MEMKV_HAVE_JEMALLOC
/* Profiling compiled in but inactive: it can be switched on at run time, with no restart,
 * and costs next to nothing until then. MALLOC_CONF in the environment still overrides. */
const char *malloc_conf = "prof:true,prof_active:false,lg_prof_sample:19,background_thread:true";
#endif

server srv;
static volatile sig_atomic_t signal_shutdown;

/* Commands see one clock reading per batch of input, as in Redis: cheaper, and a pipeline's
 * expiry decisions are consistent. */
static int64_t cached_now_ms;

int64_t server_now_ms(void) {
    return cached_now_ms;
}

void server_update_time(void) {
    cached_now_ms = util_mstime();
}

void server_request_shutdown(void) {
    srv.shutdown_asap = 1;
}

/* As Redis: hz takes any int and is brought into 1..500 (the cron divides by it). */
void server_clamp_hz(void) {
    if (srv.hz < 1) srv.hz = 1;
    if (srv.hz > 500) srv.hz = 500;
}

static void on_signal(int sig) {
    (void)sig;
    signal_shutdown = 1;
}

/* SIGTERM / SIGINT: save first when save rules exist; a failed save keeps the server up, as
 * Redis does. */
static void signal_shutdown_check(void) {
    if (!signal_shutdown || srv.shutdown_asap) return;
    signal_shutdown = 0;
    if (persist_before_shutdown(-1) < 0) {
        log_msg(LOG_WARNING, "SIGTERM received but errors trying to shut down the server, check "
                             "the logs for more information");
        return;
    }
    srv.shutdown_asap = 1;
}

static void setup_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A write over the file-size limit (RLIMIT_FSIZE: a dump, the log) must fail with EFBIG
     * and be reported, not kill the server with SIGXFSZ's default action. */
    signal(SIGXFSZ, SIG_IGN);
}

static void ops_sample(void) {
    server_stats *s = &srv.stats;
    int64_t now = server_now_ms();
    if (s->ops_last_ms == 0) s->ops_last_ms = now;
    int64_t dt = now - s->ops_last_ms;
    if (dt < 100) return;
    long long ops = s->commands_processed - s->ops_last_count;
    int n = (int)(sizeof(s->ops_samples) / sizeof(s->ops_samples[0]));
    s->ops_samples[s->ops_sample_idx] = ops * 1000 / dt;
    s->input_kbps = (double)(s->net_input_bytes - s->net_input_last) * 1000.0 / (double)dt / 1024;
    s->output_kbps =
        (double)(s->net_output_bytes - s->net_output_last) * 1000.0 / (double)dt / 1024;
    s->net_input_last = s->net_input_bytes;
    s->net_output_last = s->net_output_bytes;
    s->ops_sample_idx = (s->ops_sample_idx + 1) % n;
    s->ops_last_count = s->commands_processed;
    s->ops_last_ms = now;
}

static int64_t cron(evloop *el, void *data) {
    (void)el;
    (void)data;
    srv.cron_loops++;
    server_update_time();
    int64_t busy = evloop_take_max_busy_us(el);
    if (busy > srv.stats.eventloop_max_busy_us) srv.stats.eventloop_max_busy_us = busy;
    int64_t now = server_now_ms();
    /* No active expiry while CLIENT PAUSE holds the data set still (as Redis 7.0). */
    int expire = !(srv.pause_type && pause_in_force()) && !srv.active_expire_off;
    int64_t expire_start = util_monotonic_us();
    for (long long i = 0; i < srv.databases; i++) {
        if (expire) srv.stats.expired_keys += (long long)db_active_expire(srv.dbs[i], now, 200);
        db_rehash_step(srv.dbs[i], 100);
    }
    int64_t expire_us = util_monotonic_us() - expire_start;
    srv.stats.expire_cycle_us += expire_us;
    latency_add_sample("expire-cycle", expire_us / 1000);
    evict_cron();
    net_clients_cron();
    profile_cron();
    endpoint_cron();
    history_cron(now);
    endpoint_publish_state();
    ops_sample();
    memory_update_peak();
    persist_cron();
    signal_shutdown_check();
    return 1000 / srv.hz;
}

static void before_sleep(evloop *el, void *data) {
    (void)data;
    if (srv.paused_clients) pause_before_sleep(); /* runs held commands once a pause ends */
    blocking_before_sleep(); /* before the writes: unblocked clients' replies go out now */
    tracking_before_sleep(); /* BCAST invalidations of this iteration, before the writes */
    net_before_sleep();
    signal_shutdown_check();
    if (srv.shutdown_asap) evloop_stop(el);
}

/* Write the ports actually bound, atomically, so a test can wait for the file and connect. */
static int write_ready_file(char *err) {
    if (!srv.ready_file[0]) return 0;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", srv.ready_file);
    FILE *fp = fopen(tmp, "w");
    if (!fp) {
        snprintf(err, CFG_ERR_LEN, "cannot write ready-file %.150s: %.60s", tmp, strerror(errno));
        return -1;
    }
    fprintf(fp, "port=%d\nmetrics_port=%d\npid=%d\n", srv.bound_port, srv.metrics_bound_port,
            (int)getpid());
    if (fclose(fp) != 0 || rename(tmp, srv.ready_file) != 0) {
        snprintf(err, CFG_ERR_LEN, "cannot write ready-file %.150s: %.60s", srv.ready_file,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void write_pidfile(void) {
    if (!srv.pidfile[0]) return;
    FILE *fp = fopen(srv.pidfile, "w");
    if (!fp) {
        log_msg(LOG_WARNING, "Failed to write PID file %s: %s", srv.pidfile, strerror(errno));
        return;
    }
    fprintf(fp, "%d\n", (int)getpid());
    fclose(fp);
}

/* Make room for maxclients plus our own descriptors; returns the fd limit in force. */
static int raise_fd_limit(void) {
    rlim_t want = (rlim_t)srv.maxclients + 32;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    if (rl.rlim_cur < want) {
        struct rlimit nl = rl;
        nl.rlim_cur = want <= rl.rlim_max ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl = nl;
    }
    if (rl.rlim_cur < want) {
        long long fit = (long long)rl.rlim_cur - 32;
        if (fit < 1) fit = 1;
        log_msg(LOG_WARNING,
                "You requested maxclients of %lld requiring at least %llu max file descriptors; "
                "the limit is %llu, so maxclients is now %lld.",
                srv.maxclients, (unsigned long long)want, (unsigned long long)rl.rlim_cur, fit);
        srv.maxclients = fit;
    }
    return rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
}

static void usage(FILE *fp) {
    fprintf(fp, "Usage: memkv-server [/path/to/memkv.conf] [--name value ...]\n"
                "       memkv-server --analyze-rdb FILE [--json] [--name value ...]\n"
                "       memkv-server -v | --version\n"
                "       memkv-server -h | --help\n\n"
                "Every configuration parameter can be given as --name value, after the optional\n"
                "config file, e.g.: memkv-server deploy/memkv.conf --port 7000 --bind 127.0.0.1\n"
                "--port 0 binds an ephemeral port; --ready-file FILE receives the ports bound.\n"
                "--analyze-rdb loads an RDB file (Redis's dump.rdb) offline, prints a memory\n"
                "report (--json: as one JSON object) and exits: keys by type, encoding, db, TTL\n"
                "and prefix, the largest keys, the doctor's findings, and memkv's memory for\n"
                "the keys against an estimate of what Redis 7.0 holds for them.\n");
}

static void make_run_id(void) {
    unsigned char rnd[20];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)rand();
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(srv.run_id + 2 * i, 3, "%02x", rnd[i]);
}

static int load_config(int argc, char **argv, char *err) {
    if (server_config_init(err) < 0) return -1;
    int first = 1;
    if (argc > 1 && strncmp(argv[1], "--", 2) != 0) {
        char *abs = realpath(argv[1], NULL);
        if (!abs) {
            snprintf(err, CFG_ERR_LEN, "can't open config file '%.150s': %.60s", argv[1],
                     strerror(errno));
            return -1;
        }
        srv.config_file = alloc_strndup(ALLOC_SUB_OTHER, abs, strlen(abs));
        free(abs);
        char ferr[CFG_ERR_LEN];
        if (cfg_load_file(&srv.config, srv.config_file, ferr) < 0) {
            snprintf(err, CFG_ERR_LEN, "Reading the configuration file %.50s: %.150s", argv[1],
                     ferr);
            return -1;
        }
        first = 2;
    }
    if (cfg_load_args(&srv.config, argc - first, argv + first, err) < 0) return -1;
    return 0;
}

static void free_all(void) {
    while (srv.clients)
        client_close(srv.clients);
    pause_shutdown();
    pubsub_free();
    tracking_shutdown();
    blocking_shutdown();
    multi_shutdown(); /* the watch table: empty once every client is gone */
    script_shutdown();
    slowlog_free();
    latency_free();
    endpoint_stop(); /* before the profiler: its handlers may wait on profiler jobs */
    profile_shutdown();
    debug_free_planted();
    keyspace_stats_shutdown(); /* before the dbs: freeing them need not report every key */
    history_shutdown();
    for (long long i = 0; i < srv.databases; i++)
        db_free(srv.dbs[i]);
    alloc_free(ALLOC_SUB_OTHER, srv.dbs);
    evict_free();
    alloc_free(ALLOC_SUB_OTHER, srv.clients_by_fd);
    evloop_free(srv.el);
    cfg_deinit(&srv.config);
    alloc_free(ALLOC_SUB_OTHER, srv.config_file);
    alloc_free(ALLOC_SUB_OTHER, srv.executable);
}

/* The key space: `databases` empty dbs, the hash seed and the collection types registered. */
void server_create_dbs(void) {
    uint8_t seed[16];
    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) memset(seed, 0x5a, sizeof(seed));
    db_set_hash_seed(seed);
    srv.dbs = alloc_malloc(ALLOC_SUB_OTHER, sizeof(db *) * (size_t)srv.databases);
    db_register_types();
    for (long long i = 0; i < srv.databases; i++) {
        srv.dbs[i] = db_new();
        db_set_index(srv.dbs[i], (int)i);
    }
}

int main(int argc, char **argv) {
    /* The profiler's frame-pointer walk on this thread stops at main's own frame record. */
    prof_unwind_register_stack((char *)__builtin_frame_address(0) + 2 * sizeof(void *));
    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("memkv-server v=%s (Redis protocol %s) malloc=%s\n", MEMKV_VERSION,
               MEMKV_REDIS_COMPAT_VERSION, alloc_allocator_name());
        return 0;
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--analyze-rdb")) return analyze_rdb_main(argc, argv);
    char err[CFG_ERR_LEN];
    if (load_config(argc, argv, err) < 0) {
        fprintf(stderr, "\n*** FATAL CONFIG ERROR (memkv %s) ***\n%s\n", MEMKV_VERSION, err);
        usage(stderr);
        return 1;
    }
    if (log_set_file(srv.logfile) < 0) {
        fprintf(stderr, "Can't open the log file %s: %s\n", srv.logfile, strerror(errno));
        return 1;
    }
    log_set_level(srv.loglevel);
    srv.config.started = 1;
    server_hooks_update(); /* slowlog-log-slower-than, latency-monitor-threshold as loaded */

    if (apply_jemalloc_settings(NULL, err) < 0) {
        fprintf(stderr, "\n*** FATAL CONFIG ERROR (memkv %s) ***\njemalloc-*: %s\n", MEMKV_VERSION,
                err);
        return 1;
    }
    if (srv.subsystem_arenas && alloc_arenas_enable() < 0) {
        log_msg(LOG_NOTICE,
                "memory-subsystem-arenas: the allocator (%s) has no arenas; "
                "per-subsystem fragmentation is not available",
                alloc_allocator_name());
        srv.subsystem_arenas = 0;
    }
    char *exe = realpath("/proc/self/exe", NULL);
    if (exe) {
        srv.executable = alloc_strndup(ALLOC_SUB_OTHER, exe, strlen(exe));
        free(exe);
    }
    make_run_id();
    server_update_time();
    srv.start_ms = server_now_ms();
    srv.stats.ops_last_ms = srv.start_ms;

    int setsize = raise_fd_limit();
    srv.el = evloop_new(setsize);
    if (!srv.el) {
        log_msg(LOG_WARNING, "Failed creating the event loop: %s", strerror(errno));
        return 1;
    }
    srv.clients_by_fd = alloc_calloc(ALLOC_SUB_OTHER, sizeof(client *) * (size_t)setsize);
    blocking_init();
    server_create_dbs();
    history_reset(NULL, err);
    if (keyspace_stats_apply(NULL, err) < 0) {
        fprintf(stderr, "\n*** FATAL CONFIG ERROR (memkv %s) ***\nkeyspace-*: %s\n", MEMKV_VERSION,
                err);
        return 1;
    }
    evict_init();
    commands_init();
    pubsub_init();
    if (script_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "memkv: scripting: %s\n", err);
        return 1;
    }
    notify_config_apply(NULL, err); /* the key-space hooks, if the config turned events on */
    setup_signals();

    log_msg(LOG_NOTICE, "memkv %s starting, pid=%d, allocator %s", MEMKV_VERSION, (int)getpid(),
            alloc_allocator_name());
    srv.lastsave = server_now_ms() / 1000;
    srv.last_save_ok = 1;
    srv.rdb_last_bgsave_s = -1;
    if (persist_load(err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        free_all();
        return 1;
    }
    if (net_listen(err) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        free_all();
        return 1;
    }
    if (profile_init(err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        free_all();
        return 1;
    }
    endpoint_publish_state(); /* a scrape before the first cron tick sees real figures */
    if (endpoint_start(err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        free_all();
        return 1;
    }
    if (write_ready_file(err) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        free_all();
        return 1;
    }
    write_pidfile();
    memory_mark_startup();
    srv.rss_baseline = mem_process_rss();
    server_clamp_hz();
    evloop_timer_add(srv.el, 1000 / srv.hz, cron, NULL);
    evloop_set_before_sleep(srv.el, before_sleep, NULL);
    log_msg(LOG_NOTICE, "Ready to accept connections tcp on port %d", srv.bound_port);

    evloop_run(srv.el);

    log_msg(LOG_WARNING, "Received shutdown request, closing %lld client(s)...", srv.nclients);
    net_before_sleep(); /* flush what can be flushed */
    net_close_listeners();
    if (srv.pidfile[0]) unlink(srv.pidfile);
    free_all();
    log_msg(LOG_WARNING, "memkv is now ready to exit, bye bye...");
    log_close();
    return 0;
}
