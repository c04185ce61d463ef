/* The embedded HTTP endpoint's side in the server: its config, the state the cron publishes
 * for it, and the handlers that run on its thread. Those handlers never touch the key space or
 * clients: they read mallctl, atomics, /proc and the published state, and hand profiles to the
 * profiler's worker (prof_engine_run blocks the HTTP thread, never the event loop). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "db/kstats.h"
#include "metrics/console.h"
#include "metrics/metrics.h"
#include "profiler/profiler.h"
#include "server/log.h"
#include "server/pubsub.h"
#include "server/script.h"
#include "server/server.h"

static http_endpoint *endpoint;

/* ---- state published by the cron ---- */

_Static_assert(METRICS_KS_TYPES == KS_TYPES && METRICS_KS_TYPES == DB_TYPES, "types");
_Static_assert(METRICS_KS_BINS == KS_BINS, "histogram bins");
_Static_assert(METRICS_KS_TTL_BUCKETS == KS_TTL_BUCKETS, "TTL buckets");

/* Ranking the prefixes walks the whole prefix table: every tick while at most
 * RANK_EVERY_TICK_MAX prefixes are tracked (the default keyspace-prefix-max, 4096, costs about
 * 0.1 ms), at most once a second beyond (100,000 cost 2.6 ms in a RelWithDebInfo build), the
 * last ranking being published meanwhile. Its `other` is from the same moment, so prefixes +
 * other still add up to the key space of that moment. */
#define RANK_EVERY_TICK_MAX 16384

static void publish_prefixes(metrics_keyspace *k, kstats *ks, ks_totals all) {
    static metrics_keyspace r; /* the last ranking (its prefix fields) */
    static const kstats *r_ks;
    static size_t r_want;
    static int64_t r_ms;
    size_t want = (size_t)srv.keyspace_prefix_metrics;
    if (want > METRICS_KS_PREFIXES) want = METRICS_KS_PREFIXES;
    int64_t now = server_now_ms();
    if (r_ks != ks || r_want != want || kstats_prefix_count(ks) <= RANK_EVERY_TICK_MAX ||
        now < r_ms || now - r_ms >= 1000) {
        ks_prefix top[METRICS_KS_PREFIXES];
        size_t n = kstats_prefixes_enabled(ks) ? kstats_prefixes_top(ks, top, want) : 0, used = 0;
        r.nprefixes = 0;
        r.prefix_other_keys = all.keys;
        r.prefix_other_bytes = all.bytes;
        for (size_t i = 0; i < n && top[i].len <= sizeof(r.prefix_names) - used; i++) {
            memcpy(r.prefix_names + used, top[i].name, top[i].len);
            r.prefixes[i].off = (uint32_t)used;
            r.prefixes[i].len = (uint32_t)top[i].len;
            r.prefixes[i].keys = top[i].keys;
            r.prefixes[i].bytes = top[i].bytes;
            used += top[i].len;
            r.nprefixes++;
            r.prefix_other_keys -= top[i].keys;
            r.prefix_other_bytes -= top[i].bytes;
        }
        r_ks = ks;
        r_want = want;
        r_ms = now;
    }
    k->nprefixes = r.nprefixes;
    memcpy(k->prefixes, r.prefixes, r.nprefixes * sizeof(r.prefixes[0]));
    memcpy(k->prefix_names, r.prefix_names, sizeof(r.prefix_names));
    k->prefix_other_keys = r.prefix_other_keys;
    k->prefix_other_bytes = r.prefix_other_bytes;
}

/* The key-space statistics, all dbs summed (metrics.h, metrics_keyspace). */
static void publish_keyspace(metrics_keyspace *k) {
    kstats *ks = keyspace_stats();
    if (!ks) return;
    k->enabled = 1;
    for (int t = 0; t < KS_TYPES; t++) {
        ks_totals tt = kstats_type_totals(ks, -1, t);
        k->types[t].type = db_type_name(t);
        k->types[t].keys = tt.keys;
        k->types[t].bytes = tt.bytes;
        k->types[t].len_sum = kstats_len_sum(ks, -1, t);
        for (int d = 0; d < kstats_dbs(ks); d++) {
            if (!kstats_type_totals(ks, d, t).keys) continue;
            const uint64_t *lh = kstats_len_hist(ks, d, t), *bh = kstats_bytes_hist(ks, d, t);
            for (int b = 0; b < KS_BINS; b++) {
                k->types[t].len_hist[b] += lh[b];
                k->types[t].bytes_hist[b] += bh[b];
            }
        }
    }
    ks_totals ttl[KS_TTL_BUCKETS];
    kstats_ttl_buckets(ks, server_now_ms(), ttl);
    for (int b = 0; b < KS_TTL_BUCKETS; b++) {
        k->ttl[b].bucket = kstats_ttl_bucket_name(b);
        k->ttl[b].keys = ttl[b].keys;
        k->ttl[b].bytes = ttl[b].bytes;
    }
    k->prefixes_enabled = kstats_prefixes_enabled(ks);
    k->prefixes_tracked = kstats_prefix_count(ks);
    k->prefix_refusals = kstats_prefix_refusals(ks);
    publish_prefixes(k, ks, kstats_db_totals(ks, -1));
}

static void publish_command(void *ctx, const char *name, cmd_stats *st) {
    metrics_server_state *s = ctx;
    if ((!st->calls && !st->rejected && !st->failed) || s->ncommands == METRICS_MAX_COMMANDS)
        return;
    s->commands[s->ncommands].name = name;
    s->commands[s->ncommands].calls = (uint64_t)st->calls;
    s->commands[s->ncommands].usec = (uint64_t)st->usec;
    s->commands[s->ncommands].rejected = (uint64_t)st->rejected;
    s->commands[s->ncommands++].failed = (uint64_t)st->failed;
}

static void publish_error(void *ctx, const char *prefix, long long count) {
    metrics_server_state *s = ctx;
    if (s->nerrors == METRICS_MAX_ERROR_PREFIXES) return;
    snprintf(s->errors[s->nerrors].prefix, sizeof(s->errors[0].prefix), "%s", prefix);
    s->errors[s->nerrors++].count = (uint64_t)count;
}

void endpoint_publish_state(void) {
    metrics_server_state s;
    memset(&s, 0, sizeof(s));
    snprintf(s.version, sizeof(s.version), "%s", MEMKV_VERSION);
    snprintf(s.redis_version, sizeof(s.redis_version), "%s", MEMKV_REDIS_COMPAT_VERSION);
    s.start_time_seconds = (double)srv.start_ms / 1000.0;
    s.connected_clients = (uint64_t)srv.nclients;
    s.maxclients = (uint64_t)srv.maxclients;
    const server_stats *st = &srv.stats;
    s.commands_processed = (uint64_t)st->commands_processed;
    s.connections_received = (uint64_t)st->connections_received;
    s.rejected_connections = (uint64_t)st->rejected_connections;
    s.expired_keys = (uint64_t)st->expired_keys;
    s.evicted_keys = (uint64_t)st->evicted_keys;
    s.keyspace_hits = (uint64_t)st->keyspace_hits;
    s.keyspace_misses = (uint64_t)st->keyspace_misses;
    s.error_replies = (uint64_t)st->error_replies;
    s.net_input_bytes = (uint64_t)st->net_input_bytes;
    s.net_output_bytes = (uint64_t)st->net_output_bytes;
    s.qbuf_limit_disconnections = (uint64_t)st->client_qbuf_limit_disconnections;
    s.obuf_limit_disconnections = (uint64_t)st->client_obuf_limit_disconnections;
    s.maxmemory = srv.maxmemory;
    snprintf(s.maxmemory_policy, sizeof(s.maxmemory_policy), "%s", evict_policy_name());
    s.used_memory_startup = srv.used_memory_startup;
    script_figures sf;
    script_figures_get(&sf);
    s.lua_bytes = sf.vm_bytes;
    s.scripts_eval_bytes = sf.cache_bytes;
    s.cached_scripts = (uint64_t)sf.scripts;
    s.evicted_scripts = (uint64_t)sf.evicted;
    s.used_memory_peak = srv.used_memory_peak;
    s.rss_baseline = srv.rss_baseline;
    s.prof_max_memory = srv.prof_max_memory;
    for (long long i = 0; i < srv.databases && s.ndbs < METRICS_MAX_DBS; i++) {
        size_t keys = db_size(srv.dbs[i]);
        if (!keys) continue;
        s.dbs[s.ndbs].db = (int)i;
        s.dbs[s.ndbs].keys = keys;
        s.dbs[s.ndbs].expires = db_expires_size(srv.dbs[i]);
        for (int t = 0; t < DB_TYPES; t++) {
            for (unsigned enc = 0; enc < DB_ENCODINGS && s.nkinds < METRICS_MAX_KEY_KINDS; enc++) {
                size_t n = db_type_count(srv.dbs[i], t, enc);
                if (!n) continue;
                s.kinds[s.nkinds].db = (int)i;
                s.kinds[s.nkinds].type = db_type_name(t);
                s.kinds[s.nkinds].encoding = db_encoding_name(enc); /* strings: "" */
                s.kinds[s.nkinds++].keys = n;
            }
        }
        s.ndbs++;
    }
    for (client *c = srv.clients; c; c = c->next)
        if (c->flags & CLIENT_BLOCKED) s.blocked_clients++;
    clients_top_buffers(&s.top_obuf, &s.top_qbuf);
    commands_each_stats(publish_command, &s);
    cmdstats_each_error(publish_error, &s);
    pubsub_top_subscriber(&s.top_sub);
    keyspace_fill_doctor(&s.doctor_keyspace, 0);
    script_fill_doctor(&s.doctor_scripts);
    publish_keyspace(&s.keyspace);
    s.ntop_keys = keyspace_top_for_console(s.top_keys, METRICS_TOP_KEYS);
    s.nclient_buffers = clients_largest_buffers(s.client_buffers, METRICS_TOP_CLIENTS);
    metrics_state_publish(&s);
}

/* ---- handlers (HTTP thread) ---- */

static int handle_metrics(void *ctx, const char *accept, http_response *resp) {
    (void)ctx;
    metrics_inputs *in = alloc_malloc(ALLOC_SUB_HTTP, sizeof(*in));
    metrics_inputs_gather(in);
    metrics_writer w;
    metrics_format f = metrics_format_from_accept(accept);
    metrics_writer_init(&w, f);
    metrics_collect(&w, in);
    metrics_writer_finish(&w);
    resp->status = 200;
    resp->content_type = metrics_content_type(f);
    resp->body = metrics_writer_take(&w, &resp->len);
    metrics_writer_deinit(&w);
    alloc_free(ALLOC_SUB_HTTP, in);
    return 0;
}

static void text_response(http_response *resp, int status, const char *text) {
    size_t n = strlen(text);
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = alloc_malloc(ALLOC_SUB_HTTP, n + 1);
    memcpy(resp->body, text, n + 1);
    resp->len = n;
}

static int handle_pprof_heap(void *ctx, const char *format, http_response *resp) {
    (void)ctx;
    prof_format f = PROF_FMT_PPROF; /* Go's convention: /debug/pprof/heap is a profile.proto */
    if (format && format[0] && prof_format_parse(format, &f) < 0) {
        text_response(resp, 400, "unknown format: use pprof, raw, collapsed, svg or json\n");
        return 0;
    }
    char why[192];
    if (!prof_available(why, sizeof(why))) {
        char msg[256];
        snprintf(msg, sizeof(msg), "heap profiling is unavailable: %s\n", why);
        text_response(resp, 503, msg);
        return 0;
    }
    prof_job *j = prof_job_new(PROF_JOB_DUMP);
    j->format = f;
    int rc = prof_engine_run(j);
    if (rc < 0 || j->rc < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "%s\n", rc < 0 ? prof_strerror(rc) : j->err);
        text_response(resp, 503, msg);
        prof_job_free(j);
        return 0;
    }
    static const char *const types[] = {
        [PROF_FMT_PPROF] = "application/octet-stream",
        [PROF_FMT_RAW] = "text/plain; charset=utf-8",
        [PROF_FMT_COLLAPSED] = "text/plain; charset=utf-8",
        [PROF_FMT_SVG] = "image/svg+xml",
        [PROF_FMT_JSON] = "application/json",
    };
    static const char *const dispositions[] = {
        [PROF_FMT_PPROF] = "attachment; filename=\"memkv-heap.pb.gz\"",
        [PROF_FMT_RAW] = "attachment; filename=\"memkv.heap\"",
        [PROF_FMT_COLLAPSED] = NULL,
        [PROF_FMT_SVG] = NULL,
        [PROF_FMT_JSON] = NULL,
    };
    resp->status = 200;
    resp->content_type = types[f];
    resp->content_disposition = dispositions[f];
    /* Hand the job's buffer over: it was allocated through the same wrappers. */
    resp->len = j->out.len;
    resp->body = j->out.data ? j->out.data : alloc_strndup(ALLOC_SUB_HTTP, "", 0);
    j->out.data = NULL;
    j->out.len = j->out.cap = 0;
    prof_job_free(j);
    return 0;
}

/* Top sites and leak suspects join the report only when profiling can answer them. */
static prof_job *report_job(prof_job_kind kind) {
    char why[192];
    if (!prof_available(why, sizeof(why))) return NULL;
    prof_job *j = prof_job_new(kind);
    j->count = 20;
    if (prof_engine_run(j) < 0 || j->rc < 0 || (kind == PROF_JOB_LEAKS && j->nresults == 0)) {
        prof_job_free(j);
        return NULL;
    }
    return j;
}

static int handle_memory_report(void *ctx, http_response *resp) {
    (void)ctx;
    metrics_inputs *in = alloc_malloc(ALLOC_SUB_HTTP, sizeof(*in));
    metrics_inputs_gather(in);
    prof_job *top = report_job(PROF_JOB_TOP);
    prof_job *leaks = report_job(PROF_JOB_LEAKS);
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = metrics_memory_json(in, top, leaks, &resp->len);
    prof_job_free(top);
    prof_job_free(leaks);
    alloc_free(ALLOC_SUB_HTTP, in);
    return 0;
}

/* ---- the console ---- */

/* What the running endpoint was started with, for the page (set before it starts, read by its
 * threads; a re-listen stops them first). */
static metrics_console_actions console_actions;

static const char *const debug_paths[] = {"/debug/console", "/debug/history", NULL};

static int handle_debug_json(void *ctx, const http_scrape_request *req, http_response *resp) {
    (void)ctx;
    resp->status = 200;
    resp->content_type = "application/json";
    if (strcmp(req->path, "/debug/history") == 0) {
        long long since = 0;
        for (size_t i = 0; i < req->nargs; i++)
            if (strcmp(req->args[i].name, "since") == 0)
                since = strtoll(req->args[i].value, NULL, 10);
        resp->body = metrics_history_json(since, &resp->len);
        return 0;
    }
    metrics_inputs *in = alloc_malloc(ALLOC_SUB_HTTP, sizeof(*in));
    metrics_inputs_gather(in);
    resp->body = metrics_console_json(in, &console_actions, &resp->len);
    alloc_free(ALLOC_SUB_HTTP, in);
    return 0;
}

/* Actions. Profiling on/off changes a config parameter, which only the main thread may do: the
 * HTTP thread queues it (a bit here) and the cron applies it within a tick (202). A snapshot
 * (the profiler's worker) and a purge (mallctl) run on the HTTP thread itself (200). */
enum { ACTION_PROFILE_START = 1, ACTION_PROFILE_STOP = 2 };
static atomic_uint queued_actions;

static const char *const action_names[] = {"profile-start", "profile-stop", "snapshot", "purge",
                                           NULL};

/* {"ok":…,"<key>":"<text>"}; text is made safe for a JSON string (quotes, backslashes and
 * control characters become '). */
static void action_response(http_response *resp, int status, const char *key, const char *text) {
    char t[320], body[512];
    snprintf(t, sizeof(t), "%s", text);
    for (char *p = t; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '\'';
    int n = snprintf(body, sizeof(body), "{\"ok\":%s,\"%s\":\"%s\"}\n",
                     status < 300 ? "true" : "false", key, t);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(body)) n = (int)sizeof(body) - 1;
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = alloc_strndup(ALLOC_SUB_HTTP, body, (size_t)n);
    resp->len = (size_t)n;
}

/* As MEMORY PURGE: without jemalloc there is nothing to purge, which is not an error. */
static int rc_purge_failed(void) {
    int rc = mem_purge();
    return rc != 0 && rc != MEM_ERR_NO_JEMALLOC;
}

static int handle_action(void *ctx, const char *name, http_response *resp) {
    (void)ctx;
    char why[192], msg[320];
    if (!prof_available(why, sizeof(why)) && strcmp(name, "purge") != 0) {
        snprintf(msg, sizeof(msg), "heap profiling is unavailable: %s", why);
        action_response(resp, 503, "error", msg);
        return 0;
    }
    if (strcmp(name, "profile-start") == 0 || strcmp(name, "profile-stop") == 0) {
        unsigned bit =
            strcmp(name, "profile-start") == 0 ? ACTION_PROFILE_START : ACTION_PROFILE_STOP;
        atomic_fetch_or(&queued_actions, bit);
        action_response(resp, 202, "queued", name);
    } else if (strcmp(name, "snapshot") == 0) {
        prof_job *j = prof_job_new(PROF_JOB_SNAPSHOT);
        int rc = prof_engine_run(j);
        if (rc < 0 || j->rc < 0)
            action_response(resp, 503, "error", rc < 0 ? prof_strerror(rc) : j->err);
        else
            action_response(resp, 200, "done", name);
        prof_job_free(j);
    } else if (rc_purge_failed()) {
        action_response(resp, 503, "error", "Error purging dirty pages");
    } else {
        action_response(resp, 200, "done", name);
    }
    return 0;
}

void endpoint_cron(void) {
    unsigned bits = atomic_exchange(&queued_actions, 0);
    if (!bits) return;
    /* both queued: the later click is unknown, so the safer state (off) wins */
    const char *value = (bits & ACTION_PROFILE_STOP) ? "no" : "yes";
    const char *names[] = {"memory-profiling-enabled"};
    const char *values[] = {value};
    char err[CFG_ERR_LEN];
    size_t bad;
    if (cfg_set_many(&srv.config, names, values, 1, &bad, err) < 0)
        log_msg(LOG_WARNING, "Console action memory-profiling-enabled %s failed: %s", value, err);
    else
        log_msg(LOG_NOTICE, "Console action: memory-profiling-enabled %s", value);
}

/* ---- start, stop, re-listen ---- */

/* The configuration the running endpoint was started with, to go back to when a re-listen
 * fails (the config engine rolls the value back but cannot undo a stopped listener). */
static http_config running_cfg;
static int running, running_auto;

static const http_handlers handlers = {.ctx = NULL,
                                       .metrics = handle_metrics,
                                       .pprof_heap = handle_pprof_heap,
                                       .memory_report = handle_memory_report,
                                       .assets = console_assets,
                                       .debug_paths = debug_paths,
                                       .debug_json = handle_debug_json,
                                       .action_names = action_names,
                                       .action = handle_action};

static int listen_with(const http_config *cfg, char *err, size_t cap) {
    int bound = 0;
    char herr[256] = "";
    console_actions.enabled = cfg->actions_enabled;
    console_actions.has_token = cfg->token[0] != '\0';
    http_handlers h = handlers;
    h.nassets = console_nassets;
    endpoint = http_start(cfg, &h, &bound, herr, sizeof(herr));
    if (!endpoint) {
        snprintf(err, cap, "metrics endpoint on %.100s:%d: %.120s", cfg->bind, cfg->port, herr);
        return -1;
    }
    srv.metrics_bound_port = bound;
    running_cfg = *cfg;
    running_cfg.port = bound;
    running = 1;
    log_msg(LOG_NOTICE, "Metrics endpoint on http://%s:%d/metrics%s", cfg->bind, bound,
            cfg->token[0] ? " (bearer token required)" : "");
    return 0;
}

static int start_endpoint(char *err, size_t cap, int keep_auto_port) {
    if (srv.metrics_port == 0) {
        srv.metrics_bound_port = 0;
        return 0; /* switched off */
    }
    http_config cfg;
    http_config_default(&cfg);
    snprintf(cfg.bind, sizeof(cfg.bind), "%s", srv.metrics_bind);
    /* "auto": any free port, but the same one across changes of the other settings */
    cfg.port = srv.metrics_port < 0 ? keep_auto_port : (int)srv.metrics_port;
    snprintf(cfg.token, sizeof(cfg.token), "%s", srv.metrics_token ? srv.metrics_token : "");
    cfg.pprof_enabled = srv.metrics_pprof_enabled;
    cfg.actions_enabled = srv.metrics_console_actions;
    cfg.timeout_seconds = (unsigned)srv.metrics_timeout;
    int rc = listen_with(&cfg, err, cap);
    if (rc == 0) running_auto = srv.metrics_port < 0;
    return rc;
}

int endpoint_start(char *err, size_t cap) {
    return start_endpoint(err, cap, 0);
}

void endpoint_stop(void) {
    http_stop(endpoint);
    endpoint = NULL;
    srv.metrics_bound_port = 0;
    running = 0;
}

int endpoint_restart(char *err, size_t cap) {
    if (!srv.el) return 0; /* start-up: main starts it once */
    int was_running = running;
    http_config previous = running_cfg;
    int auto_port = was_running && running_auto && srv.metrics_port < 0 ? previous.port : 0;
    endpoint_stop();
    if (start_endpoint(err, cap, auto_port) == 0) return 0;
    /* Refused (address not local, port taken…): keep serving where we were. */
    if (was_running) {
        char ignored[256];
        if (listen_with(&previous, ignored, sizeof(ignored)) < 0)
            log_msg(LOG_WARNING, "Metrics endpoint lost: %s", ignored);
    }
    return -1;
}
