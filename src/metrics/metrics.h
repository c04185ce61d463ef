/* metrics — a pure Prometheus / OpenMetrics text writer.
 *
 * A metrics_writer appends one exposition body to a growable buffer it owns: families (HELP,
 * TYPE, UNIT lines) and their samples, in the format chosen at init. It does no I/O, reads no
 * global state and keeps no registry: the caller (the HTTP endpoint, the exporter) walks its
 * own figures and writes them, one writer per scrape. Not thread-safe per writer; any number of
 * writers may be used on different threads at once.
 *
 * The caller always speaks in base names and the writer does what each format requires:
 *
 *   call                                text 0.0.4                OpenMetrics 1.0
 *   family "x", COUNTER                 # TYPE x_total counter    # TYPE x counter
 *     sample                            x_total 1                 x_total 1
 *   family "x", INFO                    # TYPE x_info gauge       # TYPE x info
 *     sample {version="1"} 1            x_info{version="1"} 1     x_info{version="1"} 1
 *   family "x_bytes", GAUGE, "bytes"    (no UNIT line)            # UNIT x_bytes bytes
 *   family "x", UNTYPED                 # TYPE x untyped          # TYPE x unknown
 *   family "x", HISTOGRAM               # TYPE x histogram        # TYPE x histogram
 *     histogram {db="0"}, bound 1       x_bucket{db="0",le="1.0"} (the same)
 *                                       … le="+Inf", x_sum, x_count (the same)
 *   metrics_writer_finish               (nothing)                 # EOF
 *
 * A counter or info name given with its suffix ("x_total", "x_info") has the suffix removed.
 *
 * Values: doubles in the fewest of 15, 16 or 17 significant digits (%.15g … %.17g) that read
 * back as the same double, +Inf, -Inf, NaN; int64 exactly (so 2^53+1 is written as
 * 9007199254740993). Label values are escaped (\\, \", \n) and HELP texts too (\\ and \n; in
 * OpenMetrics also \"). Bytes that are not valid UTF-8 in a label value or HELP text are written as
 * U+FFFD, since Prometheus rejects the whole scrape otherwise.
 *
 * Misuse never crashes and never leaves a corrupt body. The checks are the same in both formats
 * (a call that fails in one fails in the other), each failure returns a METRICS_ERR_* code and
 * sets an error text (metrics_writer_error), and the family it happened in is removed from the
 * buffer whole, header and samples already written included — a family is in the output
 * entirely or not at all (a family with a sample missing would make sums silently wrong; a
 * missing family is visible to absent()). Later samples of a skipped family are refused with
 * METRICS_ERR_NO_FAMILY until the next metrics_family_begin. Checked:
 *   - metric names  [a-zA-Z_:][a-zA-Z0-9_:]*
 *   - label names   [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus),
 *                   no name twice in one sample
 *   - a family name (or a sample name it produces: x, x_total, x_created, x_info) that an
 *     earlier family of this body already uses
 *   - the same label set twice in one family, in any order, an empty value counting as no
 *     label as in Prometheus (compared by a 64-bit hash of the set)
 *   - a unit that is not the name's suffix ("_bytes" for "bytes"); a unit on an info family
 *   - an empty or NULL HELP text (HELP is required on every family)
 *   - counter values that are negative or NaN; info values other than 1
 *   - a histogram whose bounds are not finite and increasing, whose cumulative counts decrease
 *     or exceed its count, whose sum is NaN, or whose labels hold "le"; a histogram sample in
 *     any other family, or a plain sample in a histogram family
 *   - a sample before the first family, or any call after metrics_writer_finish
 *
 * The writer assumes the "C" LC_NUMERIC locale (memkv never calls setlocale).
 */
#ifndef MEMKV_METRICS_H
#define MEMKV_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "memory/memory.h"     /* the collector's inputs */
#include "profiler/profiler.h" /* profiler status, report jobs */

/* Error codes (negative), text from metrics_strerror; the writer's error text has details. */
#define METRICS_ERR_ARG (-1)       /* NULL or out-of-range argument, empty HELP */
#define METRICS_ERR_NAME (-2)      /* invalid metric name */
#define METRICS_ERR_LABEL (-3)     /* invalid, reserved or repeated label name */
#define METRICS_ERR_DUPLICATE (-4) /* family name, or label set within a family, seen before */
#define METRICS_ERR_NO_FAMILY (-5) /* sample outside a family (none begun, or it was skipped) */
#define METRICS_ERR_UNIT (-6)      /* unit not a suffix of the name, or not allowed */
#define METRICS_ERR_VALUE (-7)     /* value not allowed for the type (counter < 0 or NaN, ...) */
#define METRICS_ERR_FINISHED (-8)  /* call after metrics_writer_finish */

/* A short English text for a METRICS_ERR_* code (0 gives "ok"). Static storage. */
const char *metrics_strerror(int err);

typedef enum metrics_format {
    METRICS_TEXT_004 = 0,  /* Prometheus text format 0.0.4 */
    METRICS_OPENMETRICS_1, /* OpenMetrics 1.0.0 text */
} metrics_format;

/* The Content-Type header for a body in that format. Static storage. Unknown values give the
 * text 0.0.4 type. */
const char *metrics_content_type(metrics_format format);

/* The format to answer an HTTP Accept header with. OpenMetrics when the header lists
 * application/openmetrics-text (version 1.0.0, 0.0.1 or no version; the most specific entry
 * decides) with q > 0 and does not prefer text: text's q comes from the most specific of
 * text/plain (version 0.0.4 or none), the text wildcard, the any-type wildcard. Higher q wins; at
 * equal q the explicit OpenMetrics entry beats a wildcard, and against an explicit text/plain
 * whichever is listed first wins. Everything else (NULL, empty, wildcards only, unknown types,
 * garbage) gives METRICS_TEXT_004, which every scraper understands. Case-insensitive, tolerant
 * of spaces and quoted parameters; an entry with a malformed q or media range is ignored.
 * Prometheus 2.42's header gives OpenMetrics, curl's gives text. Pure, no allocation. */
metrics_format metrics_format_from_accept(const char *accept);

typedef enum metrics_type {
    METRICS_GAUGE = 0,
    METRICS_COUNTER,   /* monotonic; samples named <name>_total in both formats */
    METRICS_INFO,      /* OpenMetrics info (samples <name>_info, value 1); a gauge in text 0.0.4 */
    METRICS_UNTYPED,   /* "untyped" in text 0.0.4, "unknown" in OpenMetrics */
    METRICS_HISTOGRAM, /* samples only through metrics_sample_histogram */
} metrics_type;

/* One label of a sample. Both strings are NUL-terminated and only read during the call. */
typedef struct metrics_label {
    const char *name;
    const char *value;
} metrics_label;

#define METRICS_ERR_LEN 192

/* Caller-owned; the fields are private to the writer (use the functions below). */
typedef struct metrics_writer {
    metrics_format format;
    char *buf; /* the body; NUL-terminated when non-NULL */
    size_t len, cap;
    /* The family being written. */
    int family_state;     /* 0 none, 1 open, 2 skipped */
    metrics_type type;    /* of the open family */
    size_t family_start;  /* offset of its first line in buf (rewound to when skipped) */
    size_t family_names0; /* names_len/nnames before it (its names are removed when skipped) */
    size_t family_nnames0;
    char *sample_name; /* the sample name of the open family (heap) */
    size_t sample_name_cap;
    uint64_t *label_hashes; /* label sets seen in the open family */
    size_t nlabel_hashes, label_hashes_cap;
    /* Every name used by the families so far (for duplicates): NUL-separated strings, and for
     * each its hash and offset. */
    char *names;
    size_t names_len, names_cap;
    struct metrics_name_ref {
        uint64_t hash;
        size_t off;
    } * name_refs;
    size_t nnames, name_refs_cap;
    int finished;
    size_t errors;             /* failed calls since init */
    char err[METRICS_ERR_LEN]; /* the last failure, "" if none */
} metrics_writer;

/* Start an empty body in `format`. Allocations (ALLOC_SUB_HTTP) happen only when writing;
 * out of memory aborts, as every alloc wrapper does. */
void metrics_writer_init(metrics_writer *w, metrics_format format);
/* Free everything the writer holds (also a buffer not taken). w may then be init'ed again. */
void metrics_writer_deinit(metrics_writer *w);
/* Empty the body and start again in `format`, keeping the allocated capacity (one writer
 * reused across scrapes). */
void metrics_writer_reset(metrics_writer *w, metrics_format format);

/* Begin a family: HELP and TYPE lines (and UNIT in OpenMetrics) written now, samples follow.
 * The previous family ends here. name is the base name (see the table above); unit is NULL or
 * "" for none, else the name must end with "_" unit (e.g. "memkv_allocator_active_bytes" with
 * "bytes"). Returns 0 or a METRICS_ERR_* code; on error the family is skipped (its samples are
 * refused) and nothing is written. */
int metrics_family_begin(metrics_writer *w, const char *name, const char *help, metrics_type type,
                         const char *unit);

/* Add a sample to the open family, with nlabels labels (labels may be NULL when nlabels is 0),
 * written in the order given. Returns 0 or a METRICS_ERR_* code; on error the whole family is
 * removed from the body (see above). */
int metrics_sample_double(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                          double value);
int metrics_sample_int(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                       int64_t value);

/* One histogram of the open METRICS_HISTOGRAM family, for one label set (labels, which may not
 * hold "le"): nbuckets finite upper bounds le[] in increasing order with their cumulative counts
 * (observations <= le[i]; non-decreasing), then count (every observation: the +Inf bucket; at
 * least the last cumulative count) and the sum of the observations. Written as one
 * <name>_bucket sample per bound and one with le="+Inf", then <name>_sum and <name>_count; a
 * bound is written in OpenMetrics's canonical form ("1.0", "0.5", "1e+300") in both formats,
 * so a series keeps its labels whichever format a scrape negotiates (Prometheus 2 stores "le"
 * as written; text 0.0.4 has no rule for it, OpenMetrics requires the canonical form).
 * nbuckets may be 0 (le and cumulative may then be NULL):
 * only the +Inf bucket. Returns 0 or a METRICS_ERR_* code; on error the whole family is removed
 * from the body, as for the other samples. */
int metrics_sample_histogram(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                             const double *le, const uint64_t *cumulative, size_t nbuckets,
                             uint64_t count, double sum);

/* End the body: the last family ends, OpenMetrics gets its "# EOF" line. Further writes fail
 * with METRICS_ERR_FINISHED. Returns 0 (METRICS_ERR_FINISHED if called twice). */
int metrics_writer_finish(metrics_writer *w);

/* The body so far, NUL-terminated ("" when empty), valid until the next write, reset or
 * deinit; *len (if len is not NULL) gets its length. */
const char *metrics_writer_data(const metrics_writer *w, size_t *len);

/* Take ownership of the body (NUL-terminated; *len its length, excluding the NUL): the caller
 * frees it with metrics_buffer_free (not free(): it is counted as ALLOC_SUB_HTTP). The writer is
 * left empty as after reset, in the same format. Never NULL (an empty body is allocated). */
char *metrics_writer_take(metrics_writer *w, size_t *len);
/* Free a body from metrics_writer_take; NULL is ignored. Has the signature of libmicrohttpd's
 * free callbacks (MHD_create_response_from_buffer_with_free_callback). */
void metrics_buffer_free(void *body);

/* The last error's text ("" if no call failed), e.g. `invalid label name "1a" in family
 * "memkv_x"`. Valid until the next call on w. */
const char *metrics_writer_error(const metrics_writer *w);
/* How many calls failed since init or reset (a collector can log once per scrape). */
size_t metrics_writer_errors(const metrics_writer *w);

/* ==== process: the standard process_* families (src/metrics/process.c) ====
 * Shared by the collector and memkv-exporter, which describes its own process with them. */
typedef struct metrics_process {
    uint64_t resident_memory_bytes; /* /proc/self/statm */
    uint64_t virtual_memory_bytes;
    double cpu_seconds, start_time_seconds;
    uint64_t open_fds, max_fds;
} metrics_process;
/* Read this process's figures from /proc/self (any thread; a figure that cannot be read is 0). */
void metrics_process_read(metrics_process *p);
/* process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds (counter),
 * process_start_time_seconds, process_open_fds, process_max_fds. Returns 0 or the first writer
 * error. */
int metrics_write_process(metrics_writer *w, const metrics_process *p);

/* ==== collector: every memkv family, from figures gathered by the caller ==== */

#define METRICS_MAX_DBS 256
#define METRICS_MAX_SUBSYSTEMS 24
#define METRICS_MAX_ARENAS 4
#define METRICS_MAX_BINS 64

/* Server state the main thread publishes (from its cron, 10 Hz) for the HTTP thread, which
 * never touches the key space or clients. */
#define METRICS_MAX_KEY_KINDS 256

/* Key-space statistics (src/db/kstats, README "HTTP endpoint"), all databases summed, as the
 * cron publishes them when keyspace-stats is yes (enabled 1; otherwise all zeros and the
 * collector writes only memkv_keyspace_stats_enabled 0). Fixed arrays, so the snapshot is
 * bounded (~19 KB) and publishing it allocates nothing; the cron fills it in
 * O(dbs · types · bins + minutes gone by), and ranks the prefixes (a pass over the prefix
 * table) every tick while at most 16384 are tracked, at most once a second beyond.
 *   - types[t]: keys, bytes (their MEMORY USAGE summed), the sum of their lengths (string bytes
 *     or elements) and two histograms: bin 0 counts 0, bin i counts [2^(i-1), 2^i), i.e. the
 *     values up to 2^i - 1 (Redis 8's INFO keysizes bins);
 *   - ttl[b]: keys and bytes by time left to live (none, lt_1h, lt_1d, lt_1w, longer);
 *   - prefixes: the keyspace-prefix-metrics largest folded prefixes by bytes, biggest first,
 *     their names in prefix_names (bytes: any byte may appear, the collector makes them label
 *     values; when a name no longer fits there, 40 bytes a name on average for 200, it and the
 *     smaller prefixes after it are left out), and everything outside them (smaller and
 *     untracked prefixes, keys without one) in prefix_other_*, so prefixes + other = every
 *     key. */
#define METRICS_KS_TYPES 5           /* string, hash, list, set, zset */
#define METRICS_KS_BINS 65           /* KS_BINS */
#define METRICS_KS_TTL_BUCKETS 5     /* KS_TTL_BUCKETS */
#define METRICS_KS_PREFIXES 200      /* keyspace-prefix-metrics's maximum */
#define METRICS_KS_PREFIX_NAMES 8192 /* bytes for every prefix name together */

typedef struct metrics_keyspace {
    int enabled; /* keyspace-stats yes */
    struct {
        const char *type; /* static string */
        uint64_t keys, bytes, len_sum;
        uint64_t len_hist[METRICS_KS_BINS], bytes_hist[METRICS_KS_BINS];
    } types[METRICS_KS_TYPES];
    struct {
        const char *bucket; /* static string */
        uint64_t keys, bytes;
    } ttl[METRICS_KS_TTL_BUCKETS];
    int prefixes_enabled; /* keyspace-prefix-max > 0 */
    size_t nprefixes;
    struct {
        uint32_t off, len; /* the name: prefix_names[off, off + len) */
        uint64_t keys, bytes;
    } prefixes[METRICS_KS_PREFIXES];
    char prefix_names[METRICS_KS_PREFIX_NAMES];
    uint64_t prefix_other_keys, prefix_other_bytes;
    uint64_t prefixes_tracked, prefix_refusals;
} metrics_keyspace;

/* For the console (/debug/console): the largest keys and the clients with the largest buffers,
 * as the cron saw them. Key names are shown printable (control and non-ASCII bytes as \xHH),
 * cut with "..." at 95 bytes. */
#define METRICS_TOP_KEYS 10
#define METRICS_TOP_CLIENTS 10
typedef struct metrics_top_key {
    char key[96];
    int db;
    const char *type; /* static string */
    uint64_t bytes, length;
    int64_t ttl_ms; /* -1: none */
} metrics_top_key;
typedef struct metrics_client_buffers {
    uint64_t id;
    char addr[64], name[64], cmd[32];
    uint64_t qbuf, obuf, total; /* query side (buffer, parser, MULTI queue), output, both */
    int64_t age_s, idle_s;
} metrics_client_buffers;
/* Per-command statistics (INFO commandstats) and error replies by prefix (INFO errorstats):
 * the commands and subcommands used at least once (name: a static string of the command
 * table, "get" or "client|list", never client input) and the error prefixes counted. */
#define METRICS_MAX_COMMANDS 320 /* memkv has 180 commands and 61 subcommands */
#define METRICS_MAX_ERROR_PREFIXES 128
#define METRICS_ERROR_PREFIX_LEN 32

typedef struct metrics_server_state {
    char version[32];       /* memkv's */
    char redis_version[16]; /* the Redis release whose protocol memkv follows */
    double start_time_seconds;
    uint64_t connected_clients, maxclients, blocked_clients;
    uint64_t commands_processed, connections_received, rejected_connections;
    uint64_t expired_keys, evicted_keys, keyspace_hits, keyspace_misses, error_replies;
    uint64_t net_input_bytes, net_output_bytes;
    uint64_t qbuf_limit_disconnections, obuf_limit_disconnections;
    int64_t maxmemory; /* 0 = no limit */
    char maxmemory_policy[32];
    uint64_t used_memory_startup, used_memory_peak, rss_baseline;
    /* scripting: the Lua heap, the EVAL script cache (bytes, scripts, evictions) */
    uint64_t lua_bytes, scripts_eval_bytes, cached_scripts, evicted_scripts;
    int64_t prof_max_memory; /* memory-profiling-max-memory, 0 = no cap */
    size_t ndbs;
    struct {
        int db;
        uint64_t keys, expires;
    } dbs[METRICS_MAX_DBS]; /* databases with keys */
    size_t nkinds;
    struct {
        int db;
        const char *type, *encoding; /* static strings */
        uint64_t keys;
    } kinds[METRICS_MAX_KEY_KINDS]; /* keys per db, type and encoding: the non-zero ones */
    /* the largest client buffers, for the doctor */
    mem_client_top top_obuf, top_qbuf;
    mem_subscriber_top top_sub;   /* the subscriber with the largest output buffer */
    mem_keyspace doctor_keyspace; /* the doctor's key-space view (largest key, growth) */
    mem_scripts doctor_scripts;   /* the doctor's view of the script cache and the Lua heap */
    metrics_keyspace keyspace;
    size_t ntop_keys;
    metrics_top_key top_keys[METRICS_TOP_KEYS];
    size_t nclient_buffers; /* largest total first */
    metrics_client_buffers client_buffers[METRICS_TOP_CLIENTS];
    size_t ncommands;
    struct {
        const char *name; /* static string */
        uint64_t calls, usec, rejected, failed;
    } commands[METRICS_MAX_COMMANDS];
    size_t nerrors;
    struct {
        char prefix[METRICS_ERROR_PREFIX_LEN]; /* NUL-terminated */
        uint64_t count;
    } errors[METRICS_MAX_ERROR_PREFIXES];
} metrics_server_state;

/* Thread-safe hand-over (a mutex held only for the copy). */
void metrics_state_publish(const metrics_server_state *s);
void metrics_state_read(metrics_server_state *out); /* zeros until the first publish */

/* Everything one scrape shows, gathered at one moment by metrics_inputs_gather (any thread:
 * mallctl, atomics, /proc, and the published state). */
typedef struct metrics_inputs {
    metrics_server_state server;
    mem_allocator_stats alloc;
    mem_ratios ratios;
    size_t rss, used_memory;
    size_t nsub;
    struct {
        const char *name;
        int64_t bytes;
    } sub[METRICS_MAX_SUBSYSTEMS];
    size_t narenas;
    struct {
        const char *name;
        mem_arena_stats stats;
    } arenas[METRICS_MAX_ARENAS];
    size_t nbins;
    mem_bin bins[METRICS_MAX_BINS];
    prof_status prof;
    /* process_* */
    double cpu_seconds, start_time_seconds;
    uint64_t virtual_memory_bytes, open_fds, max_fds;
} metrics_inputs;
void metrics_inputs_gather(metrics_inputs *in);

/* Write every family (DESIGN.md "Metrics": memkv_allocator_*_bytes, memkv_memory_used_bytes,
 * memkv_memory_max_bytes, memkv_memory_subsystem_bytes{subsystem}, process_*,
 * memkv_profiling_*, memkv_keyspace_*, …). Returns 0, or the first writer error (the body stays
 * usable). Prefix names become label values with NUL and invalid UTF-8 as U+FFFD; prefixes
 * that this makes equal are merged into one series (a repeated label set would void the
 * family). */
int metrics_collect(metrics_writer *w, const metrics_inputs *in);

/* The memory report of /debug/memory as JSON: stats, ratios, subsystems, arenas, size classes,
 * the doctor's findings; `top`/`leaks` may be NULL (then omitted). Returns a new
 * NUL-terminated buffer (free with metrics_buffer_free). */
char *metrics_memory_json(const metrics_inputs *in, const prof_job *top, const prof_job *leaks,
                          size_t *len);

/* ==== the console's JSON (src/metrics/console_json.c) ==== */

/* The history the console draws: a copy of the server's memory history (MEMORY HISTORY) that
 * the main thread appends to when it takes a point, and the HTTP thread reads under a mutex.
 * Each point holds the subsystems' bytes (indexed by alloc_sub) too. */
typedef struct metrics_history_point {
    int64_t t_ms;
    uint64_t used, rss, keys;
    uint64_t sub[METRICS_MAX_SUBSYSTEMS];
} metrics_history_point;
/* Start empty with room for cap points (0 frees it). Main thread. */
void metrics_history_reset(size_t cap, int64_t interval_ms);
void metrics_history_append(const metrics_history_point *p);
/* {"interval_ms":…,"fields":[…],"points":[[t,used,rss,keys,sub…],…]}: the points after
 * since_ms (0: all), oldest first. Any thread. A new buffer (free with metrics_buffer_free). */
char *metrics_history_json(int64_t since_ms, size_t *len);

/* What the console may do, for the page to show (and to say why a button is off). */
typedef struct metrics_console_actions {
    int enabled;   /* metrics-console-actions yes */
    int has_token; /* metrics-token set: actions need it */
} metrics_console_actions;
/* /debug/console: the key space (types, TTL buckets, prefixes, the largest keys), the clients
 * with the largest buffers, the actions. A new buffer (free with metrics_buffer_free). */
char *metrics_console_json(const metrics_inputs *in, const metrics_console_actions *act,
                           size_t *len);

/* ==== HTTP endpoint (libmicrohttpd, its own threads) ==== */

/* Paths (GET and HEAD only, but for the actions; any other method is 405 with "Allow: GET,
 * HEAD", or "Allow: POST" for an action):
 *   /                   the asset at "/" when handlers.assets has one (the memory console),
 *                       else an HTML index of the paths below
 *   assets              handlers.assets: static files (the console's page, style, script) that
 *                       hold no data, served WITHOUT the token, so that a browser can load the
 *                       page before it has the token (the page then sends it on its fetches)
 *   debug_paths         handlers.debug_json for each path of handlers.debug_paths (JSON)
 *   /debug/actions/NAME POST only, NAME one of handlers.action_names: handlers.action. Needs a
 *                       token to be configured (403 otherwise: without one any page the browser
 *                       opens could post to it) and actions_enabled (403 otherwise)
 *   /metrics            handlers.metrics, with the Accept header (query string ignored)
 *   /debug/pprof/heap   handlers.pprof_heap, with the `format` query parameter; 404 when
 *                       pprof_enabled is 0
 *   /debug/memory       handlers.memory_report
 *   /healthz            handlers.healthz, or "ok\n" as text/plain when it is NULL
 * anything else 404 (also a path whose handler is NULL). Every response has a Content-Type,
 * "Cache-Control: no-store" and "X-Content-Type-Options: nosniff"; an HTML one also the
 * Content-Security-Policy HTTP_CSP, "X-Frame-Options: DENY" and "Referrer-Policy: no-referrer".
 *
 * Order of checks: request size (431/414) → /healthz and the assets (never behind the token:
 * they show nothing but "ok" and a static page) → token (401 with
 * `WWW-Authenticate: Bearer realm="memkv"` for every other path, known or not, so a client
 * without the token learns nothing about which paths exist) → path (404) → method (405).
 * The token is compared in constant time (in the token's length).
 *
 * Threads: libmicrohttpd's internal polling threads (epoll, `threads` of them as a pool); the
 * handlers run on them, possibly concurrently when threads > 1, and must be thread-safe. A
 * handler that blocks (a heap profile waiting on the profiler) holds one thread and the
 * connections it serves; with threads >= 2 the others keep answering /metrics and /healthz.
 *
 * Limits:
 *   - max_connections open connections: beyond it a new connection is accepted and closed at
 *     once (counted in connections_refused) rather than left queued in the listen backlog.
 *   - timeout_seconds of inactivity closes a connection (one that connected and sent nothing,
 *     or stopped halfway: libmicrohttpd's timeout), and so does a request whose line and
 *     headers take longer than timeout_seconds to arrive, counted from the connection's start
 *     or from the end of its previous request (a client trickling a header byte a second,
 *     which the inactivity timeout never catches): a reaper thread shuts such a connection's
 *     socket down and libmicrohttpd closes it (counted in connections_timed_out). Sending a
 *     response is bounded by the inactivity timeout only.
 *   - max_request_bytes: a request line plus headers over it is refused by the endpoint (414
 *     when the request line alone is over it, else 431; text body). libmicrohttpd's memory pool
 *     per connection is 2 × max_request_bytes + 4 KiB; a request that does not fit in it at
 *     all is refused by libmicrohttpd itself (431, or 414 for a request line that does not fit,
 *     "Connection: close", an HTML body and NO Content-Type header: libmicrohttpd 0.9.75 sends
 *     its built-in error pages bare and has no hook to change them). Those 431s count in
 *     requests and errors_4xx; its 414s and 400s for malformed requests are not seen.
 *   - a request that announces a body (no path takes one) or is over the size limit is
 *     answered without reading the body and the connection closes; every other answer keeps
 *     the connection alive (HTTP/1.1), as scrapers expect.
 *   - libmicrohttpd's own allocations (connection pools, responses) go through libc malloc,
 *     so they are in the allocator's figures but not in ALLOC_SUB_HTTP.
 */

typedef struct http_endpoint http_endpoint;

typedef struct http_config {
    char bind[256];            /* numeric address to bind, e.g. "127.0.0.1", "::1", "0.0.0.0" */
    int port;                  /* 0 = ephemeral */
    char token[256];           /* "" = no authentication; else "Authorization: Bearer <token>" */
    int pprof_enabled;         /* 0: the /debug/pprof/ paths answer 404 */
    unsigned max_connections;  /* default 64 (0 = the default) */
    unsigned timeout_seconds;  /* per connection, inactivity; default 10 (0 = the default) */
    size_t max_request_bytes;  /* request line + headers (each header counting 64 bytes more
                                  than its length), default 8 KiB (0 = the default); clamped
                                  to 1 KiB … 1 MiB */
    unsigned threads;          /* polling threads, default 2 (0 = the default; at most 16) */
    int thread_per_connection; /* 1: one thread per connection instead of a polling pool (the
                                  exporter: a handler that waits on a slow target then holds
                                  only its own connection); `threads` is ignored */
    char name[64];             /* the index page's title; "" = "memkv" */
    int actions_enabled;       /* 1: POST /debug/actions/NAME may run (with a token set) */
} http_config;

/* The policy every HTML response carries: nothing from elsewhere, no inline script or style
 * (the console's script and style are files of their own), fetches only to this endpoint. */
#define HTTP_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* A static file served as is (the console). */
typedef struct http_asset {
    const char *path;         /* "/", "/console.js", … */
    const char *content_type; /* static string */
    const unsigned char *data;
    size_t len;
} http_asset;
void http_config_default(http_config *c);

typedef struct http_response {
    int status;               /* 200, 404, …; 0 = 200; outside 100…599 = 500 */
    const char *content_type; /* static string; NULL = application/octet-stream */
    char *body;               /* owned: freed with metrics_buffer_free after sending */
    size_t len;
    const char *content_disposition; /* optional, static or NULL */
} http_response;

/* A scrape request: the path, the headers a scrape handler reads and the query arguments in
 * the order given (at most HTTP_MAX_ARGS; more sets args_truncated, which the handler should
 * refuse). Everything is valid during the call only. */
#define HTTP_MAX_ARGS 16
typedef struct http_arg {
    const char *name, *value; /* value "" for "?x" */
} http_arg;
typedef struct http_scrape_request {
    const char *path;           /* "/scrape" or "/metrics" */
    const char *accept;         /* the Accept header, NULL when absent */
    const char *scrape_timeout; /* X-Prometheus-Scrape-Timeout-Seconds, NULL when absent */
    size_t nargs;
    int args_truncated;
    http_arg args[HTTP_MAX_ARGS];
} http_scrape_request;

/* Handlers run on the HTTP threads. `format` is the query parameter (may be NULL), `accept`
 * the Accept header (may be NULL). resp starts zeroed; fill it and return 0 (a status such as
 * 400 or 503 with a text body is a normal answer). A negative return is a 500 with a text
 * body; a body the handler set before failing is freed. A HEAD request runs the handler too
 * (so Content-Length is right) and libmicrohttpd drops the body. */
typedef struct http_handlers {
    void *ctx;
    int (*metrics)(void *ctx, const char *accept, http_response *resp);
    int (*pprof_heap)(void *ctx, const char *format, http_response *resp);
    int (*memory_report)(void *ctx, http_response *resp);
    /* Optional: NULL answers "ok\n" (text/plain). Never behind the token. */
    int (*healthz)(void *ctx, http_response *resp);
    /* Optional: /scrape, and /metrics too when `metrics` is NULL (the exporter). */
    int (*scrape)(void *ctx, const struct http_scrape_request *req, http_response *resp);
    /* Optional: static files (see the paths above); nassets entries, kept by the caller for
     * the endpoint's life. */
    const http_asset *assets;
    size_t nassets;
    /* Optional: GET paths answered with JSON (a NULL-terminated list of static strings), with
     * the query arguments in req. */
    const char *const *debug_paths;
    int (*debug_json)(void *ctx, const struct http_scrape_request *req, http_response *resp);
    /* Optional: POST /debug/actions/NAME for each NAME of action_names (NULL-terminated). */
    const char *const *action_names;
    int (*action)(void *ctx, const char *name, http_response *resp);
    /* Optional: libmicrohttpd's error messages (one line, no newline), called on its threads.
     * NULL drops them (nothing is written to stderr). */
    void (*log)(void *ctx, const char *msg);
} http_handlers;

/* Start listening on exactly cfg->bind (a numeric IPv4 or IPv6 address; "::" listens on IPv6
 * only); *bound_port (may be NULL) gets the port actually bound. NULL on failure, with err
 * filled (e.g. libmicrohttpd's "Failed to bind to port 9121: Address already in use"). cfg
 * and h are copied. */
http_endpoint *http_start(const http_config *cfg, const http_handlers *h, int *bound_port,
                          char *err, size_t errcap);
/* Stop listening, close every connection and wait for the threads (and so for handlers still
 * running); NULL ok. */
void http_stop(http_endpoint *e);
/* ---- what to answer a request: pure, no MHD (the endpoint's callbacks and tests/fuzz use it)
 * The endpoint fills an http_request from what libmicrohttpd parsed and answers as
 * http_route_decide says, so every check above (sizes, token, path, method, body) is here. */
typedef enum http_route_kind {
    HTTP_ROUTE_WAIT = 0,   /* headers only so far: answer once the request is complete */
    HTTP_ROUTE_TEXT,       /* a fixed text/plain answer: status and text */
    HTTP_ROUTE_INDEX,      /* the HTML index */
    HTTP_ROUTE_HEALTHZ,    /* handlers.healthz, or "ok\n" */
    HTTP_ROUTE_METRICS,    /* handlers.metrics with the Accept header */
    HTTP_ROUTE_PPROF_HEAP, /* handlers.pprof_heap with the format query parameter */
    HTTP_ROUTE_MEMORY,     /* handlers.memory_report */
    HTTP_ROUTE_SCRAPE,     /* handlers.scrape (/scrape, or /metrics without handlers.metrics) */
    HTTP_ROUTE_ASSET,      /* a static file: http_route.asset */
    HTTP_ROUTE_DEBUG,      /* handlers.debug_json */
    HTTP_ROUTE_ACTION,     /* handlers.action with http_route.action */
} http_route_kind;

typedef struct http_route_policy {
    const char *token; /* "" = no authentication */
    size_t token_len;
    int pprof_enabled;
    int have_metrics, have_pprof_heap, have_memory_report, have_scrape; /* handlers set */
    size_t max_request_bytes;                                           /* already clamped */
    const http_asset *assets;
    size_t nassets;
    const char *const *debug_paths;  /* NULL-terminated, or NULL */
    const char *const *action_names; /* NULL-terminated, or NULL */
    int actions_enabled;
} http_route_policy;

typedef struct http_request {
    const char *method, *url, *version; /* url: the path, without the query string */
    size_t target_len;                  /* the raw request-target (query included) */
    size_t header_bytes;                /* sum of http_header_cost over the headers */
    const char *authorization, *content_length, *transfer_encoding; /* NULL when absent */
} http_request;

typedef struct http_route {
    http_route_kind kind;
    unsigned status;         /* HTTP_ROUTE_TEXT: the status */
    const char *text;        /* HTTP_ROUTE_TEXT: the body (static) */
    const http_asset *asset; /* HTTP_ROUTE_ASSET */
    const char *action;      /* HTTP_ROUTE_ACTION: the name */
    const char *allow;       /* 405: the Allow header */
} http_route;

/* What one header costs against max_request_bytes: "key: value\r\n" plus 64 bytes (what
 * libmicrohttpd keeps per header, see http_config.max_request_bytes). */
size_t http_header_cost(const char *key, const char *value);
/* first_call: the headers are complete (body not read). A refused request, or one announcing a
 * body, is answered at once; anything else gets HTTP_ROUTE_WAIT and is decided again with
 * first_call 0 once complete (which never waits). */
void http_route_decide(const http_route_policy *pol, const http_request *req, int first_call,
                       http_route *out);

/* Counters for the endpoint's own metrics (any thread). requests counts every answered
 * request (401s, 404s, … included); unauthorized are also in errors_4xx; connections is the
 * number open now. */
typedef struct http_stats {
    uint64_t requests, errors_4xx, errors_5xx, unauthorized, connections_refused;
    uint64_t connections_timed_out; /* closed for taking too long to send a request */
    uint64_t connections;
} http_stats;
void http_stats_get(const http_endpoint *e, http_stats *out);

#endif
