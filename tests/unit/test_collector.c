/* Unit tests of the metrics collector: the published state (hand-over between threads, never
 * torn), gathering (allocator, subsystems, arenas, bins, profiler, process_* from /proc) in the
 * jemalloc build and in the libc (sanitizer) build, the collected body (every contract family
 * with HELP and TYPE, accepted by Debian's promtool without a complaint, OpenMetrics ending in
 * "# EOF", used memory equal to the sum of the subsystems, the published state in it, a writer
 * error leaving a usable body), and the /debug/memory JSON (checked by a strict JSON parser
 * here: keys, escaping of hostile client and function names, doctor findings, profiler jobs,
 * non-finite numbers, memory accounting). */
#include "metrics/metrics.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "promtool.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a strict JSON parser (RFC 8259), for validation only --------------------------------- */

typedef struct jp {
    const char *s;
    size_t n, i;
    int depth;
} jp;

static void jp_ws(jp *p) {
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int jp_lit(jp *p, const char *lit) {
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l) != 0) return 0;
    p->i += l;
    return 1;
}

static int jp_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string, raw bytes checked as well-formed UTF-8. */
static int jp_string(jp *p) {
    if (p->i >= p->n || p->s[p->i] != '"') return 0;
    p->i++;
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            return 1;
        }
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (++p->i >= p->n) return 0;
            char e = p->s[p->i];
            if (e == 'u') {
                if (p->n - p->i < 5) return 0;
                for (int k = 1; k <= 4; k++)
                    if (!jp_hex(p->s[p->i + (size_t)k])) return 0;
                p->i += 5;
            } else if (strchr("\"\\/bfnrt", e) && e) {
                p->i++;
            } else {
                return 0;
            }
            continue;
        }
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (len == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || p->n - p->i < len) return 0;
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)p->s[p->i + k] & 0xC0) != 0x80) return 0;
        p->i += len;
    }
    return 0;
}

static int jp_number(jp *p) {
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    if (p->i >= p->n) return 0;
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    } else {
        return 0;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d) return 0;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d) return 0;
    }
    return p->i > st;
}

static int jp_value(jp *p) {
    if (++p->depth > 64) return 0;
    jp_ws(p);
    int ok = 0;
    if (p->i >= p->n) {
        ok = 0;
    } else if (p->s[p->i] == '{') {
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == '}') {
            p->i++;
            ok = 1;
        } else {
            for (;;) {
                jp_ws(p);
                if (!jp_string(p)) break;
                jp_ws(p);
                if (p->i >= p->n || p->s[p->i] != ':') break;
                p->i++;
                if (!jp_value(p)) break;
                jp_ws(p);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->i < p->n && p->s[p->i] == '}') {
                    p->i++;
                    ok = 1;
                }
                break;
            }
        }
    } else if (p->s[p->i] == '[') {
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
            ok = 1;
        } else {
            for (;;) {
                if (!jp_value(p)) break;
                jp_ws(p);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->i < p->n && p->s[p->i] == ']') {
                    p->i++;
                    ok = 1;
                }
                break;
            }
        }
    } else if (p->s[p->i] == '"') {
        ok = jp_string(p);
    } else if (jp_lit(p, "true") || jp_lit(p, "false") || jp_lit(p, "null")) {
        ok = 1;
    } else {
        ok = jp_number(p);
    }
    p->depth--;
    return ok;
}

/* 1 if text is exactly one JSON value (surrounding blanks allowed). */
static int json_valid(const char *text, size_t n) {
    jp p = {text, n, 0, 0};
    if (!jp_value(&p)) return 0;
    jp_ws(&p);
    return p.i == n;
}

#define ASSERT_JSON(text, len)                                                                     \
    do {                                                                                           \
        if (!json_valid((text), (len))) {                                                          \
            fputs((text), stderr);                                                                 \
            fail_msg("invalid JSON (above)");                                                      \
        }                                                                                          \
    } while (0)

/* Our writer puts no blanks between tokens, and a '"' inside a string is always escaped, so
 * `"key":` found in the text is a key. */
static void assert_json_key(const char *text, const char *key, char opener) {
    char pat[128];
    if (opener)
        snprintf(pat, sizeof(pat), "\"%s\":%c", key, opener);
    else
        snprintf(pat, sizeof(pat), "\"%s\":", key);
    if (!strstr(text, pat)) {
        fputs(text, stderr);
        fail_msg("key %s missing from the JSON above", pat);
    }
}

static void test_json_validator(void **state) {
    (void)state;
    static const char *const good[] = {"{}", "[]", "{\"a\":[1,-2.5e+3,true,null,\"\\u00e9\"]}",
                                       " 0 ", "\"\xc3\xa9\""};
    static const char *const bad[] = {"{\"a\":1,}", "[1 2]", "\"\x01\"", "01", "{\"a\"}", "\"\\x\"",
                                      "\"\xff\"",   "[1,]",  "{} {}",    "1.", "\"abc"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(json_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(json_valid(bad[i], strlen(bad[i])));
}

/* ---- helpers --------------------------------------------------------------------------------- */

static const char *const ks_types[] = {"string", "hash", "list", "set", "zset"};
static const char *const ks_ttl[] = {"none", "lt_1h", "lt_1d", "lt_1w", "longer"};

/* Key-space statistics as the cron publishes them: strings of lengths 1 (3 keys) and 4..7 (50),
 * 50 hashes of 2 fields, no sets or zsets; prefixes with a quote, a backslash and a newline,
 * and three that are equal once made label values (NUL, an invalid byte, a real U+FFFD). */
static void keyspace_realistic(metrics_keyspace *k) {
    memset(k, 0, sizeof(*k));
    k->enabled = 1;
    for (int t = 0; t < METRICS_KS_TYPES; t++)
        k->types[t].type = ks_types[t];
    k->types[0].keys = 53;
    k->types[0].bytes = 2976;
    k->types[0].len_sum = 3 + 50 * 6;
    k->types[0].len_hist[1] = 3;    /* 1 */
    k->types[0].len_hist[3] = 50;   /* 4..7 */
    k->types[0].bytes_hist[6] = 52; /* 32..63 */
    k->types[0].bytes_hist[7] = 1;  /* 64..127 */
    k->types[1].keys = 50;
    k->types[1].bytes = 4400;
    k->types[1].len_sum = 100;
    k->types[1].len_hist[2] = 50;   /* 2..3 */
    k->types[1].bytes_hist[7] = 50; /* 64..127 */
    for (int b = 0; b < METRICS_KS_TTL_BUCKETS; b++)
        k->ttl[b].bucket = ks_ttl[b];
    k->ttl[0].keys = 100;
    k->ttl[0].bytes = 6000;
    k->ttl[1].keys = 3;
    k->ttl[1].bytes = 1376;
    k->prefixes_enabled = 1;
    static const struct {
        const char *name;
        size_t len;
        uint64_t keys, bytes;
    } p[] = {
        {"session:#", 9, 50, 4400},
        {"user:#:name", 11, 50, 2800},
        {"we\"ird\\\n:", 9, 1, 60},
        {"a\0b:", 4, 1, 50},
        {"a\xff"
         "b:",
         4, 1, 40},
        {"a\xef\xbf\xbd"
         "b:",
         6, 1, 30},
    };
    k->nprefixes = sizeof(p) / sizeof(p[0]);
    uint32_t used = 0;
    for (size_t i = 0; i < k->nprefixes; i++) {
        memcpy(k->prefix_names + used, p[i].name, p[i].len);
        k->prefixes[i].off = used;
        k->prefixes[i].len = (uint32_t)p[i].len;
        used += (uint32_t)p[i].len;
        k->prefixes[i].keys = p[i].keys;
        k->prefixes[i].bytes = p[i].bytes;
    }
    k->prefix_other_keys = 0;
    k->prefix_other_bytes = 0;
    k->prefixes_tracked = 6;
    k->prefix_refusals = 2;
}

static void state_realistic(metrics_server_state *s) {
    memset(s, 0, sizeof(*s));
    snprintf(s->version, sizeof(s->version), "0.1.0");
    snprintf(s->redis_version, sizeof(s->redis_version), "7.0.15");
    s->start_time_seconds = (double)time(NULL) - 5;
    s->connected_clients = 3;
    s->maxclients = 10000;
    s->blocked_clients = 1;
    s->commands_processed = 123456;
    s->connections_received = 42;
    s->rejected_connections = 2;
    s->expired_keys = 7;
    s->evicted_keys = 9;
    s->keyspace_hits = 1000;
    s->keyspace_misses = 10;
    s->error_replies = 4;
    s->net_input_bytes = 1 << 20;
    s->net_output_bytes = 2 << 20;
    s->qbuf_limit_disconnections = 5;
    s->obuf_limit_disconnections = 6;
    s->maxmemory = 1LL << 30;
    snprintf(s->maxmemory_policy, sizeof(s->maxmemory_policy), "allkeys-lru");
    s->used_memory_startup = 1 << 20;
    s->used_memory_peak = 1 << 21;
    s->rss_baseline = 8 << 20;
    s->ndbs = 2;
    s->dbs[0].db = 0;
    s->dbs[0].keys = 1234;
    s->dbs[0].expires = 56;
    s->dbs[1].db = 5;
    s->dbs[1].keys = 78;
    s->dbs[1].expires = 9;
    s->top_obuf.id = 11;
    s->top_obuf.bytes = 65536;
    snprintf(s->top_obuf.addr, sizeof(s->top_obuf.addr), "127.0.0.1:5000");
    snprintf(s->top_obuf.name, sizeof(s->top_obuf.name), "evil\"name\\\n\x01\x1f\x7f\xff end");
    s->top_qbuf.id = 12;
    s->top_qbuf.bytes = 4096;
    snprintf(s->top_qbuf.addr, sizeof(s->top_qbuf.addr), "[::1]:6000");
    snprintf(s->top_qbuf.name, sizeof(s->top_qbuf.name), "tab\there");
    keyspace_realistic(&s->keyspace);
}

/* A body of one scrape of this process, in `format`; the caller frees it (metrics_buffer_free). */
static char *collect_body(metrics_format format, metrics_inputs *in_out) {
    metrics_inputs in;
    metrics_inputs_gather(&in);
    metrics_writer w;
    metrics_writer_init(&w, format);
    int rc = metrics_collect(&w, &in);
    if (rc != 0)
        fail_msg("metrics_collect: %s (%s)", metrics_strerror(rc), metrics_writer_error(&w));
    assert_int_equal(metrics_writer_errors(&w), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    char *body = metrics_writer_take(&w, NULL);
    metrics_writer_deinit(&w);
    if (in_out) *in_out = in;
    return body;
}

static void assert_promtool_clean(const char *body) {
    char out[8192];
    int rc = promtool_check_metrics(body, out, sizeof(out));
    if (rc != 0 || out[0]) {
        fputs(body, stderr);
        fail_msg("promtool exit %d on the body above:\n%s", rc, out);
    }
}

/* 1 if the body has a line starting with `prefix` (at the start of a line). */
static const char *find_line(const char *body, const char *prefix) {
    size_t pl = strlen(prefix);
    for (const char *p = body; p && *p;) {
        if (strncmp(p, prefix, pl) == 0) return p;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return NULL;
}

/* The text-format family `name` (as written: counters with _total, info with _info) has HELP
 * and TYPE `type`. */
static void assert_family(const char *body, const char *name, const char *type) {
    char help[160], typel[160];
    snprintf(help, sizeof(help), "# HELP %s ", name);
    snprintf(typel, sizeof(typel), "# TYPE %s %s\n", name, type);
    if (!find_line(body, help)) {
        fputs(body, stderr);
        fail_msg("no HELP for %s in the body above", name);
    }
    if (!find_line(body, typel)) {
        fputs(body, stderr);
        fail_msg("no '# TYPE %s %s' in the body above", name, type);
    }
}

static void assert_no_family(const char *body, const char *name) {
    char typel[160];
    snprintf(typel, sizeof(typel), "# TYPE %s ", name);
    if (find_line(body, typel)) fail_msg("family %s present, expected absent", name);
}

/* The value of the sample written exactly as `series` ("name" or "name{labels}"). */
static double sample_value(const char *body, const char *series) {
    char pre[256];
    snprintf(pre, sizeof(pre), "%s ", series);
    const char *l = find_line(body, pre);
    if (!l) {
        fputs(body, stderr);
        fail_msg("no sample %s in the body above", series);
    }
    return strtod(l + strlen(pre), NULL);
}

/* ---- published state ------------------------------------------------------------------------ */

/* Must run first: nothing has been published yet. */
static void test_state_zero_then_published(void **state) {
    (void)state;
    metrics_server_state s, zero;
    memset(&zero, 0, sizeof(zero));
    memset(&s, 0xAB, sizeof(s));
    metrics_state_read(&s);
    assert_memory_equal(&s, &zero, sizeof(s));

    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);
    metrics_state_read(&s);
    assert_memory_equal(&s, &want, sizeof(s));
    metrics_state_publish(NULL); /* ignored */
    metrics_state_read(NULL);
    metrics_state_read(&s);
    assert_memory_equal(&s, &want, sizeof(s));
}

static volatile int publisher_stop;

static void *publisher(void *arg) {
    (void)arg;
    metrics_server_state *s = malloc(sizeof(*s));
    assert_non_null(s);
    for (uint64_t k = 1; !publisher_stop; k++) {
        memset(s, 0, sizeof(*s));
        s->commands_processed = s->evicted_keys = s->net_output_bytes = k;
        s->ndbs = METRICS_MAX_DBS;
        for (size_t i = 0; i < METRICS_MAX_DBS; i++)
            s->dbs[i].keys = k;
        metrics_state_publish(s);
    }
    free(s);
    return NULL;
}

/* A reader never sees half of one publish and half of another. */
static void test_state_not_torn(void **state) {
    (void)state;
    metrics_server_state zero;
    memset(&zero, 0, sizeof(zero));
    metrics_state_publish(&zero);
    pthread_t t;
    publisher_stop = 0;
    assert_int_equal(pthread_create(&t, NULL, publisher, NULL), 0);
    metrics_server_state *s = malloc(sizeof(*s));
    assert_non_null(s);
    uint64_t last = 0;
    for (int i = 0; i < 20000; i++) {
        metrics_state_read(s);
        uint64_t k = s->commands_processed;
        if (s->ndbs == 0) continue; /* before the publisher's first */
        assert_int_equal(s->evicted_keys, k);
        assert_int_equal(s->net_output_bytes, k);
        assert_int_equal(s->dbs[0].keys, k);
        assert_int_equal(s->dbs[METRICS_MAX_DBS - 1].keys, k);
        assert_true(k >= last);
        last = k;
    }
    publisher_stop = 1;
    pthread_join(t, NULL);
    free(s);
    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);
}

/* ---- gathering ------------------------------------------------------------------------------- */

static void test_gather(void **state) {
    (void)state;
    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);

    /* Something in a few subsystems. */
    void *a = alloc_malloc(ALLOC_SUB_STRINGS, 100000);
    void *b = alloc_malloc(ALLOC_SUB_QUERY_BUF, 3000);
    memset(a, 1, 100000);
    memset(b, 2, 3000);

    metrics_inputs in;
    memset(&in, 0xCD, sizeof(in));
    metrics_inputs_gather(&in);

    /* the published state */
    assert_int_equal(in.server.ndbs, 2);
    assert_int_equal(in.server.dbs[0].keys, 1234);
    assert_int_equal(in.server.commands_processed, 123456);
    assert_string_equal(in.server.maxmemory_policy, "allkeys-lru");

    /* subsystems: every one, named, non-negative, summing to used memory */
    assert_int_equal(in.nsub, ALLOC_SUB_COUNT);
    size_t sum = 0;
    for (size_t i = 0; i < in.nsub; i++) {
        assert_non_null(in.sub[i].name);
        assert_string_equal(in.sub[i].name, alloc_sub_name((alloc_sub)i));
        assert_true(in.sub[i].bytes >= 0);
        sum += (size_t)in.sub[i].bytes;
    }
    assert_int_equal(in.used_memory, sum);
    if (alloc_accounting_enabled()) {
        assert_true(in.sub[ALLOC_SUB_STRINGS].bytes >= 100000);
        assert_true(in.sub[ALLOC_SUB_QUERY_BUF].bytes >= 3000);
    }
    assert_true(in.server.used_memory_peak >= in.used_memory);

    /* process */
    assert_true(in.rss > 0);
    assert_true(in.virtual_memory_bytes >= in.rss);
    assert_true(in.cpu_seconds >= 0);
    double now = (double)time(NULL);
    assert_true(in.start_time_seconds > 1e9);
    assert_true(in.start_time_seconds <= now + 1);
    assert_true(in.start_time_seconds > now - 24 * 3600); /* this test started recently */
    assert_true(in.open_fds >= 3);
    assert_true(in.max_fds >= in.open_fds);

    /* the ratios are INFO memory's */
    assert_true(isfinite(in.ratios.mem_fragmentation_ratio));
    assert_true(in.ratios.mem_fragmentation_ratio > 0);

#ifdef MEMKV_HAVE_JEMALLOC
    assert_int_equal(in.alloc.available, 1);
    assert_true(in.alloc.allocated > 0);
    assert_true(in.alloc.active >= in.alloc.allocated);
    assert_true(in.alloc.resident > 0);
    assert_true(in.alloc.mapped > 0);
    assert_true(in.alloc.metadata > 0);
    assert_true(in.alloc.version[0] != '\0');
    assert_true(in.nbins > 0 && in.nbins <= METRICS_MAX_BINS);
    size_t slabs = 0;
    for (size_t i = 0; i < in.nbins; i++)
        slabs += in.bins[i].curslabs;
    assert_true(slabs > 0);
    /* main() enabled the subsystem arenas */
    assert_int_equal(in.narenas, 3);
    assert_string_equal(in.arenas[0].name, "keyspace");
    assert_string_equal(in.arenas[1].name, "clients");
    assert_string_equal(in.arenas[2].name, "scripting");
    assert_true(in.arenas[0].stats.allocated >= 100000); /* the strings above */
    assert_true(in.arenas[0].stats.active >= in.arenas[0].stats.allocated);
    double frag = (double)in.alloc.active / (double)in.alloc.allocated;
    assert_true(fabs(in.ratios.allocator_frag_ratio - frag) < 0.05);
#else
    assert_int_equal(in.alloc.available, 0);
    assert_int_equal(in.nbins, 0);
    assert_int_equal(in.narenas, 0);
    /* INFO memory's convention: allocator figures read as used memory, so neutral ratios */
    assert_true(in.ratios.allocator_frag_ratio == 1.0);
    assert_true(in.ratios.allocator_rss_ratio == 1.0);
    assert_true(in.ratios.mem_fragmentation_ratio == (double)in.rss / (double)in.used_memory);
#endif

    /* open descriptors are counted exactly, the one reading /proc/self/fd excluded */
    uint64_t before = in.open_fds;
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = open("/dev/null", O_RDONLY);
        assert_true(fds[i] >= 0);
    }
    metrics_inputs_gather(&in);
    assert_int_equal(in.open_fds, before + 3);
    for (int i = 0; i < 3; i++)
        close(fds[i]);

    /* CPU time moves */
    double cpu0 = in.cpu_seconds;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile uint64_t x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (uint64_t)i * 7;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    } while ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < 0.1);
    metrics_inputs_gather(&in);
    assert_true(in.cpu_seconds >= cpu0 + 0.05);

    alloc_free(ALLOC_SUB_STRINGS, a);
    alloc_free(ALLOC_SUB_QUERY_BUF, b);
}

/* ---- metrics_collect ---------------------------------------------------------------------- */

/* Every family of the contract, as the text format names them. */
typedef struct fam {
    const char *name, *type;
    int jemalloc_only;
} fam;
static const fam families[] = {
    {"memkv_allocator_allocated_bytes", "gauge", 1},
    {"memkv_allocator_active_bytes", "gauge", 1},
    {"memkv_allocator_resident_bytes", "gauge", 1},
    {"memkv_allocator_retained_bytes", "gauge", 1},
    {"memkv_allocator_mapped_bytes", "gauge", 1},
    {"memkv_allocator_metadata_bytes", "gauge", 1},
    {"memkv_allocator_info", "gauge", 0},
    {"memkv_allocator_bin_free_bytes", "gauge", 1},
    {"memkv_allocator_bin_used_bytes", "gauge", 1},
    {"memkv_allocator_fragmentation_ratio", "gauge", 0},
    {"memkv_allocator_rss_ratio", "gauge", 0},
    {"memkv_rss_overhead_ratio", "gauge", 0},
    {"memkv_memory_fragmentation_ratio", "gauge", 0},
    {"memkv_memory_used_bytes", "gauge", 0},
    {"memkv_memory_peak_bytes", "gauge", 0},
    {"memkv_memory_startup_bytes", "gauge", 0},
    {"memkv_memory_max_bytes", "gauge", 0},
    {"memkv_memory_rss_baseline_bytes", "gauge", 0},
    {"memkv_maxmemory_policy_info", "gauge", 0},
    {"memkv_memory_subsystem_bytes", "gauge", 0},
    {"memkv_memory_arena_bytes", "gauge", 1},
    {"process_resident_memory_bytes", "gauge", 0},
    {"process_virtual_memory_bytes", "gauge", 0},
    {"process_cpu_seconds_total", "counter", 0},
    {"process_start_time_seconds", "gauge", 0},
    {"process_open_fds", "gauge", 0},
    {"process_max_fds", "gauge", 0},
    {"memkv_profiling_available", "gauge", 0},
    {"memkv_profiling_active", "gauge", 0},
    {"memkv_profiling_sample_bytes", "gauge", 0},
    {"memkv_profiling_memory_bytes", "gauge", 0},
    {"memkv_profiling_dumps_total", "counter", 0},
    {"memkv_profiling_snapshots_total", "counter", 0},
    {"memkv_profiling_snapshots_held", "gauge", 0},
    {"memkv_profiling_capped", "gauge", 0},
    {"memkv_profiling_last_job_duration_seconds", "gauge", 0},
    {"memkv_db_keys", "gauge", 0},
    {"memkv_db_expiring_keys", "gauge", 0},
    {"memkv_connected_clients", "gauge", 0},
    {"memkv_max_clients", "gauge", 0},
    {"memkv_blocked_clients", "gauge", 0},
    {"memkv_commands_processed_total", "counter", 0},
    {"memkv_connections_received_total", "counter", 0},
    {"memkv_rejected_connections_total", "counter", 0},
    {"memkv_expired_keys_total", "counter", 0},
    {"memkv_evicted_keys_total", "counter", 0},
    {"memkv_keyspace_hits_total", "counter", 0},
    {"memkv_keyspace_misses_total", "counter", 0},
    {"memkv_error_replies_total", "counter", 0},
    {"memkv_net_input_bytes_total", "counter", 0},
    {"memkv_net_output_bytes_total", "counter", 0},
    {"memkv_client_buffer_limit_disconnections_total", "counter", 0},
    {"memkv_start_time_seconds", "gauge", 0},
    {"memkv_build_info", "gauge", 0},
    {"memkv_keyspace_stats_enabled", "gauge", 0},
    {"memkv_keyspace_bytes", "gauge", 0},
    {"memkv_keyspace_ttl_keys", "gauge", 0},
    {"memkv_keyspace_ttl_bytes", "gauge", 0},
    {"memkv_keyspace_key_length", "histogram", 0},
    {"memkv_keyspace_key_bytes", "histogram", 0},
    {"memkv_keyspace_prefix_keys", "gauge", 0},
    {"memkv_keyspace_prefix_bytes", "gauge", 0},
    {"memkv_keyspace_prefix_other_keys", "gauge", 0},
    {"memkv_keyspace_prefix_other_bytes", "gauge", 0},
    {"memkv_keyspace_prefixes_tracked", "gauge", 0},
    {"memkv_keyspace_prefix_refusals_total", "counter", 0},
};

static void test_collect_text_promtool(void **state) {
    (void)state;
    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);
    char *body = collect_body(METRICS_TEXT_004, NULL);
    assert_promtool_clean(body);
    metrics_buffer_free(body);

    /* an empty server (nothing published: all zeros) is clean too */
    metrics_server_state zero;
    memset(&zero, 0, sizeof(zero));
    metrics_state_publish(&zero);
    body = collect_body(METRICS_TEXT_004, NULL);
    assert_promtool_clean(body);
    /* db 0 is there even when empty, so the families never vanish */
    assert_true(sample_value(body, "memkv_db_keys{db=\"0\"}") == 0);
    assert_no_family(body, "memkv_maxmemory_policy_info");
    metrics_buffer_free(body);
    metrics_state_publish(&want);
}

static void test_collect_families(void **state) {
    (void)state;
    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);
    char *body = collect_body(METRICS_TEXT_004, NULL);
#ifdef MEMKV_HAVE_JEMALLOC
    int jemalloc = 1;
#else
    int jemalloc = 0;
#endif
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        if (families[i].jemalloc_only && !jemalloc)
            assert_no_family(body, families[i].name);
        else
            assert_family(body, families[i].name, families[i].type);
    }
    char series[160];
    snprintf(series, sizeof(series), "memkv_allocator_info{allocator=\"%s\"}",
             alloc_allocator_name());
    assert_true(sample_value(body, series) == 1);
    if (!jemalloc) assert_string_equal(alloc_allocator_name(), "libc");
    snprintf(series, sizeof(series),
             "memkv_build_info{version=\"0.1.0\",redis_version=\"7.0.15\",allocator=\"%s\"}",
             alloc_allocator_name());
    assert_true(sample_value(body, series) == 1);

    /* per subsystem, one series each; arenas and size classes in the jemalloc build */
    for (int i = 0; i < ALLOC_SUB_COUNT; i++) {
        snprintf(series, sizeof(series), "memkv_memory_subsystem_bytes{subsystem=\"%s\"}",
                 alloc_sub_name((alloc_sub)i));
        assert_true(sample_value(body, series) >= 0);
    }
    if (jemalloc) {
        static const char *const st[] = {"allocated", "active", "resident"};
        for (int g = 0; g < 2; g++)
            for (int k = 0; k < 3; k++) {
                snprintf(series, sizeof(series),
                         "memkv_memory_arena_bytes{arena=\"%s\",state=\"%s\"}",
                         g ? "clients" : "keyspace", st[k]);
                assert_true(sample_value(body, series) >= 0);
            }
        assert_non_null(find_line(body, "memkv_allocator_bin_free_bytes{size=\""));
        assert_non_null(find_line(body, "memkv_allocator_bin_used_bytes{size=\""));
        assert_true(sample_value(body, "memkv_allocator_allocated_bytes") > 0);
    }
    assert_true(sample_value(body, "process_resident_memory_bytes") > 0);
    assert_true(sample_value(body, "process_open_fds") >= 3);
    metrics_buffer_free(body);
}

/* The published state in the body, counters with their _total. */
static void test_collect_state_values(void **state) {
    (void)state;
    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);
    char *body = collect_body(METRICS_TEXT_004, NULL);
    assert_true(sample_value(body, "memkv_db_keys{db=\"0\"}") == 1234);
    assert_true(sample_value(body, "memkv_db_keys{db=\"5\"}") == 78);
    assert_true(sample_value(body, "memkv_db_expiring_keys{db=\"0\"}") == 56);
    assert_true(sample_value(body, "memkv_db_expiring_keys{db=\"5\"}") == 9);
    assert_null(find_line(body, "memkv_db_keys{db=\"1\"}"));
    assert_true(sample_value(body, "memkv_connected_clients") == 3);
    assert_true(sample_value(body, "memkv_max_clients") == 10000);
    assert_true(sample_value(body, "memkv_blocked_clients") == 1);
    assert_true(sample_value(body, "memkv_commands_processed_total") == 123456);
    assert_true(sample_value(body, "memkv_connections_received_total") == 42);
    assert_true(sample_value(body, "memkv_rejected_connections_total") == 2);
    assert_true(sample_value(body, "memkv_expired_keys_total") == 7);
    assert_true(sample_value(body, "memkv_evicted_keys_total") == 9);
    assert_true(sample_value(body, "memkv_keyspace_hits_total") == 1000);
    assert_true(sample_value(body, "memkv_keyspace_misses_total") == 10);
    assert_true(sample_value(body, "memkv_error_replies_total") == 4);
    assert_true(sample_value(body, "memkv_net_input_bytes_total") == 1 << 20);
    assert_true(sample_value(body, "memkv_net_output_bytes_total") == 2 << 20);
    assert_true(sample_value(
                    body, "memkv_client_buffer_limit_disconnections_total{buffer=\"query\"}") == 5);
    assert_true(
        sample_value(body, "memkv_client_buffer_limit_disconnections_total{buffer=\"output\"}") ==
        6);
    assert_true(sample_value(body, "memkv_memory_max_bytes") == (double)(1LL << 30));
    assert_true(sample_value(body, "memkv_memory_startup_bytes") == 1 << 20);
    assert_true(sample_value(body, "memkv_memory_rss_baseline_bytes") == 8 << 20);
    assert_true(sample_value(body, "memkv_memory_peak_bytes") >=
                sample_value(body, "memkv_memory_used_bytes"));
    assert_true(sample_value(body, "memkv_maxmemory_policy_info{policy=\"allkeys-lru\"}") == 1);
    assert_true(sample_value(body, "memkv_start_time_seconds") == want.start_time_seconds);
    metrics_buffer_free(body);
}

/* used memory is the sum of the subsystems, in one body. */
static void test_collect_used_is_sum(void **state) {
    (void)state;
    void *blocks[64];
    for (int i = 0; i < 64; i++)
        blocks[i] = alloc_malloc((alloc_sub)(i % ALLOC_SUB_COUNT), (size_t)(i + 1) * 333);
    char *body = collect_body(METRICS_TEXT_004, NULL);
    double sum = 0;
    int n = 0;
    const char *pre = "memkv_memory_subsystem_bytes{";
    for (const char *l = find_line(body, pre); l; l = find_line(l + 1, pre)) {
        const char *sp = strchr(l, ' ');
        assert_non_null(sp);
        sum += strtod(sp + 1, NULL);
        n++;
    }
    assert_int_equal(n, ALLOC_SUB_COUNT);
    double used = sample_value(body, "memkv_memory_used_bytes");
    assert_true(used == sum);
    if (alloc_accounting_enabled()) assert_true(used > 0);
    metrics_buffer_free(body);
    for (int i = 0; i < 64; i++)
        alloc_free((alloc_sub)(i % ALLOC_SUB_COUNT), blocks[i]);
}

static void test_collect_openmetrics(void **state) {
    (void)state;
    char *body = collect_body(METRICS_OPENMETRICS_1, NULL);
    size_t len = strlen(body);
    assert_true(len > 6);
    assert_string_equal(body + len - 6, "# EOF\n");
    assert_non_null(find_line(body, "# TYPE memkv_commands_processed counter\n"));
    assert_non_null(find_line(body, "memkv_commands_processed_total "));
    assert_non_null(find_line(body, "# TYPE memkv_build info\n"));
    assert_non_null(find_line(body, "memkv_build_info{"));
    assert_non_null(find_line(body, "# UNIT memkv_memory_used_bytes bytes\n"));
    assert_non_null(find_line(body, "# UNIT process_cpu_seconds seconds\n"));
    assert_non_null(find_line(body, "# UNIT memkv_memory_fragmentation_ratio ratio\n"));
    /* only one # EOF */
    assert_true(strstr(body, "# EOF") == body + len - 6);
    metrics_buffer_free(body);
}

/* Hand-made inputs: a quiet libc-like build, non-finite and huge values, a duplicate subsystem
 * (a writer error): collect reports the error, drops that family only, and the body is still
 * clean for promtool. */
static void test_collect_handmade(void **state) {
    (void)state;
    metrics_inputs *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    state_realistic(&in->server);
    in->server.ndbs = 3;
    in->server.dbs[2].db = 0; /* a repeated db is ignored, not fatal */
    in->server.dbs[2].keys = 999;
    in->nsub = 2;
    in->sub[0].name = "strings";
    in->sub[0].bytes = 100;
    in->sub[1].name = "other";
    in->sub[1].bytes = 50;
    in->used_memory = 150;
    in->rss = 1 << 20;
    in->ratios.mem_fragmentation_ratio = NAN;
    in->ratios.allocator_frag_ratio = INFINITY;
    in->ratios.allocator_rss_ratio = 1;
    in->ratios.rss_overhead_ratio = 1;
    in->max_fds = UINT64_MAX; /* clamped */
    in->virtual_memory_bytes = UINT64_MAX;

    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_collect(&w, in), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    const char *body = metrics_writer_data(&w, NULL);
    assert_promtool_clean(body);
    assert_true(sample_value(body, "memkv_db_keys{db=\"0\"}") == 1234);
    assert_true(isnan(sample_value(body, "memkv_memory_fragmentation_ratio")));
    assert_true(sample_value(body, "process_max_fds") == (double)INT64_MAX);
    assert_no_family(body, "memkv_allocator_allocated_bytes");
    assert_no_family(body, "memkv_memory_arena_bytes");

    metrics_writer_reset(&w, METRICS_TEXT_004);
    in->nsub = 3;
    in->sub[2].name = "strings"; /* the same label set twice */
    in->sub[2].bytes = 1;
    assert_int_equal(metrics_collect(&w, in), METRICS_ERR_DUPLICATE);
    assert_int_equal(metrics_writer_finish(&w), 0);
    body = metrics_writer_data(&w, NULL);
    assert_no_family(body, "memkv_memory_subsystem_bytes");
    assert_family(body, "memkv_memory_used_bytes", "gauge");
    assert_family(body, "memkv_build_info", "gauge");
    assert_promtool_clean(body);
    metrics_writer_deinit(&w);

    assert_int_equal(metrics_collect(NULL, in), METRICS_ERR_ARG);
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_collect(&w, NULL), METRICS_ERR_ARG);
    metrics_writer_deinit(&w);
    free(in);
}

/* The key-space families from a published snapshot: histograms cumulative up to their highest
 * non-empty bin, prefixes escaped and merged where their label values are equal, and only the
 * "enabled" gauge while keyspace-stats is off. */
static void test_collect_keyspace(void **state) {
    (void)state;
    metrics_inputs *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    state_realistic(&in->server);
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_collect(&w, in), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    const char *body = metrics_writer_data(&w, NULL);
    assert_promtool_clean(body);
    assert_true(sample_value(body, "memkv_keyspace_stats_enabled") == 1);
    assert_true(sample_value(body, "memkv_keyspace_bytes{type=\"string\"}") == 2976);
    assert_true(sample_value(body, "memkv_keyspace_bytes{type=\"zset\"}") == 0);
    assert_true(sample_value(body, "memkv_keyspace_ttl_keys{bucket=\"lt_1h\"}") == 3);
    assert_true(sample_value(body, "memkv_keyspace_ttl_bytes{bucket=\"none\"}") == 6000);
    assert_true(sample_value(body, "memkv_keyspace_ttl_keys{bucket=\"longer\"}") == 0);
    /* lengths: le = 2^i - 1, cumulative, up to the highest non-empty bin, then +Inf */
    static const struct {
        const char *le;
        double v;
    } sl[] = {{"0.0", 0}, {"1.0", 3}, {"3.0", 3}, {"7.0", 53}, {"+Inf", 53}};
    char series[160];
    for (size_t i = 0; i < sizeof(sl) / sizeof(sl[0]); i++) {
        snprintf(series, sizeof(series),
                 "memkv_keyspace_key_length_bucket{type=\"string\",le=\"%s\"}", sl[i].le);
        assert_true(sample_value(body, series) == sl[i].v);
    }
    assert_null(find_line(body, "memkv_keyspace_key_length_bucket{type=\"string\",le=\"15.0\"}"));
    assert_true(sample_value(body, "memkv_keyspace_key_length_sum{type=\"string\"}") == 303);
    assert_true(sample_value(body, "memkv_keyspace_key_length_count{type=\"string\"}") == 53);
    assert_true(
        sample_value(body, "memkv_keyspace_key_bytes_bucket{type=\"string\",le=\"31.0\"}") == 0);
    assert_true(
        sample_value(body, "memkv_keyspace_key_bytes_bucket{type=\"string\",le=\"63.0\"}") == 52);
    assert_true(
        sample_value(body, "memkv_keyspace_key_bytes_bucket{type=\"string\",le=\"127.0\"}") == 53);
    assert_true(sample_value(body, "memkv_keyspace_key_bytes_sum{type=\"hash\"}") == 4400);
    /* an empty type: only +Inf */
    assert_true(sample_value(body, "memkv_keyspace_key_length_bucket{type=\"set\",le=\"+Inf\"}") ==
                0);
    assert_null(find_line(body, "memkv_keyspace_key_length_bucket{type=\"set\",le=\"0.0\"}"));
    assert_true(sample_value(body, "memkv_keyspace_key_length_count{type=\"set\"}") == 0);
    /* prefixes: escaped; the three equal label values merged into one series */
    assert_true(sample_value(body, "memkv_keyspace_prefix_bytes{prefix=\"session:#\"}") == 4400);
    assert_true(sample_value(body, "memkv_keyspace_prefix_keys{prefix=\"we\\\"ird\\\\\\n:\"}") ==
                1);
    assert_true(sample_value(body, "memkv_keyspace_prefix_bytes{prefix=\"a\xef\xbf\xbd"
                                   "b:\"}") == 120);
    assert_true(sample_value(body, "memkv_keyspace_prefix_keys{prefix=\"a\xef\xbf\xbd"
                                   "b:\"}") == 3);
    int nprefix = 0;
    for (const char *l = find_line(body, "memkv_keyspace_prefix_bytes{"); l;
         l = find_line(l + 1, "memkv_keyspace_prefix_bytes{"))
        nprefix++;
    assert_int_equal(nprefix, 4);
    assert_true(sample_value(body, "memkv_keyspace_prefix_other_bytes") == 0);
    assert_true(sample_value(body, "memkv_keyspace_prefixes_tracked") == 6);
    assert_true(sample_value(body, "memkv_keyspace_prefix_refusals_total") == 2);

    /* OpenMetrics: the same bounds */
    metrics_writer_reset(&w, METRICS_OPENMETRICS_1);
    assert_int_equal(metrics_collect(&w, in), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    body = metrics_writer_data(&w, NULL);
    assert_non_null(find_line(body, "# TYPE memkv_keyspace_key_bytes histogram\n"));
    assert_non_null(find_line(body, "# UNIT memkv_keyspace_key_bytes bytes\n"));
    assert_true(
        sample_value(body, "memkv_keyspace_key_length_bucket{type=\"string\",le=\"7.0\"}") == 53);

    /* keyspace-stats no: only the gauge that says so */
    in->server.keyspace.enabled = 0;
    metrics_writer_reset(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_collect(&w, in), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    body = metrics_writer_data(&w, NULL);
    assert_promtool_clean(body);
    assert_true(sample_value(body, "memkv_keyspace_stats_enabled") == 0);
    assert_no_family(body, "memkv_keyspace_bytes");
    assert_no_family(body, "memkv_keyspace_key_length");
    assert_no_family(body, "memkv_keyspace_prefix_bytes");
    assert_family(body, "memkv_keyspace_keys", "gauge"); /* from the db's own counts */
    metrics_writer_deinit(&w);
    free(in);
}

/* ---- metrics_memory_json ----------------------------------------------------------------------
 */

static void test_json_live(void **state) {
    (void)state;
    metrics_server_state want;
    state_realistic(&want);
    metrics_state_publish(&want);
    metrics_inputs in;
    metrics_inputs_gather(&in);

    int64_t http0 = alloc_sub_bytes(ALLOC_SUB_HTTP);
    size_t len = 0;
    char *j = metrics_memory_json(&in, NULL, NULL, &len);
    assert_non_null(j);
    assert_int_equal(len, strlen(j));
    ASSERT_JSON(j, len);
    assert_true(j[0] == '{');
    assert_json_key(j, "allocator", '{');
    assert_json_key(j, "version", 0);
    assert_json_key(j, "background_thread", 0);
    assert_json_key(j, "dirty_decay_ms", 0);
    assert_json_key(j, "muzzy_decay_ms", 0);
    assert_json_key(j, "process", '{');
    assert_json_key(j, "rss_baseline", 0);
    assert_json_key(j, "memory", '{');
    assert_json_key(j, "policy", '"');
    assert_json_key(j, "ratios", '{');
    assert_json_key(j, "mem_fragmentation_ratio", 0);
    assert_json_key(j, "allocator_frag_ratio", 0);
    assert_json_key(j, "allocator_rss_bytes", 0);
    assert_json_key(j, "rss_overhead_ratio", 0);
    assert_json_key(j, "subsystems", '{');
    assert_json_key(j, "strings", 0);
    assert_json_key(j, "query_buffers", 0);
    assert_json_key(j, "arenas", '{');
    assert_json_key(j, "size_classes", '[');
    assert_json_key(j, "clients", '{');
    assert_json_key(j, "top_output_buffer", '{');
    assert_json_key(j, "doctor", '{');
    assert_json_key(j, "report", '"');
    assert_json_key(j, "findings", '[');
    assert_json_key(j, "profiler", '{');
    assert_json_key(j, "sample_bytes", 0);
    assert_null(strstr(j, "\"top_sites\""));
    assert_null(strstr(j, "\"leak_suspects\""));
#ifdef MEMKV_HAVE_JEMALLOC
    assert_json_key(j, "keyspace", '{');
    assert_json_key(j, "regions_used", 0);
    assert_json_key(j, "regions_free", 0);
    assert_json_key(j, "free_bytes", 0);
    assert_json_key(j, "dirty", 0);
    assert_non_null(strstr(j, "\"available\":true"));
#else
    assert_non_null(strstr(j, "\"arenas\":{}"));
    assert_non_null(strstr(j, "\"size_classes\":[]"));
    assert_non_null(strstr(j, "\"available\":false"));
#endif
    /* the hostile client name: quote, backslash, newline, controls, DEL, invalid UTF-8 */
    if (!strstr(j, "\"name\":\"evil\\\"name\\\\\\u000a\\u0001\\u001f\\u007f\\ufffd end\"")) {
        fputs(j, stderr);
        fail_msg("client name not escaped as expected in the JSON above");
    }
    assert_non_null(strstr(j, "\"name\":\"tab\\u0009here\""));
    assert_non_null(strstr(j, "\"addr\":\"[::1]:6000\""));
    /* the doctor's report is multi-line text: its newlines escaped */
    assert_non_null(strstr(j, "\\u000a"));
    metrics_buffer_free(j);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HTTP), http0); /* counted as http, all freed */

    /* NULL inputs: still JSON */
    j = metrics_memory_json(NULL, NULL, NULL, &len);
    ASSERT_JSON(j, len);
    metrics_buffer_free(j);
}

static void test_json_handmade(void **state) {
    (void)state;
    metrics_inputs *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    state_realistic(&in->server);
    /* used memory at 99% of a no-eviction maxmemory: the doctor speaks */
    in->server.maxmemory = 100LL << 20;
    snprintf(in->server.maxmemory_policy, sizeof(in->server.maxmemory_policy), "noeviction");
    in->nsub = 1;
    in->sub[0].name = "strings";
    in->sub[0].bytes = 99LL << 20;
    in->used_memory = 99u << 20;
    in->server.used_memory_peak = 99u << 20;
    in->rss = 120u << 20;
    in->ratios.mem_fragmentation_ratio = NAN; /* JSON has no NaN: null */
    in->ratios.allocator_frag_ratio = 1.0 / 3;
    in->prof.available = 0;
    snprintf(in->prof.why_unavailable, sizeof(in->prof.why_unavailable),
             "started without \"prof:true\"\n");
    /* fixed-size fields filled to the brim, no NUL */
    memset(in->prof.cap_note, 'x', sizeof(in->prof.cap_note));
    memset(in->server.maxmemory_policy, 0, sizeof(in->server.maxmemory_policy));
    snprintf(in->server.maxmemory_policy, sizeof(in->server.maxmemory_policy), "noeviction");
    memset(in->server.top_qbuf.name, 'n', sizeof(in->server.top_qbuf.name));

    prof_site sites[2] = {
        {.func = "db_set_string",
         .live_bytes = 1048576,
         .live_objs = 10,
         .share = 0.75,
         .subsystem = ALLOC_SUB_STRINGS},
        {.func = "weird\"func\n\\",
         .live_bytes = 2.5,
         .live_objs = 1,
         .share = 0.25,
         .subsystem = 99},
    };
    prof_job top;
    memset(&top, 0, sizeof(top));
    top.kind = PROF_JOB_TOP;
    top.sites = sites;
    top.nresults = 2;
    prof_suspect sus[1];
    memset(sus, 0, sizeof(sus));
    snprintf(sus[0].func, sizeof(sus[0].func), "leaky_fn");
    sus[0].live_bytes = 4096;
    sus[0].growth_bytes = 2048;
    sus[0].bytes_per_sec = 12.5;
    sus[0].grew_intervals = 3;
    sus[0].intervals = 4;
    prof_job leaks;
    memset(&leaks, 0, sizeof(leaks));
    leaks.kind = PROF_JOB_LEAKS;
    leaks.suspects = sus;
    leaks.nresults = 1;

    size_t len = 0;
    char *j = metrics_memory_json(in, &top, &leaks, &len);
    ASSERT_JSON(j, len);
    assert_non_null(strstr(j, "\"mem_fragmentation_ratio\":null"));
    assert_non_null(strstr(j, "\"allocator_frag_ratio\":0.333333333333333"));
    assert_non_null(strstr(j, "\"policy\":\"noeviction\""));
    assert_non_null(strstr(j, "\"why_unavailable\":\"started without \\\"prof:true\\\"\\u000a\""));
    assert_json_key(j, "top_sites", '[');
    assert_non_null(strstr(j, "{\"func\":\"db_set_string\",\"live_bytes\":1048576,"));
    assert_non_null(strstr(j, "\"share\":0.75,\"subsystem\":\"strings\""));
    assert_non_null(strstr(j, "\"func\":\"weird\\\"func\\u000a\\\\\""));
    assert_non_null(strstr(j, "\"subsystem\":\"unknown\""));
    assert_json_key(j, "leak_suspects", '[');
    assert_non_null(strstr(j, "{\"func\":\"leaky_fn\",\"live_bytes\":4096,\"growth_bytes\":2048,"
                              "\"bytes_per_sec\":12.5"));
    /* a doctor finding with all its fields */
    assert_non_null(strstr(j, "\"findings\":[{\"severity\":\"warning\",\"code\":\"maxmemory\""));
    assert_json_key(j, "text", '"');
    assert_json_key(j, "bytes", 0);
    metrics_buffer_free(j);

    /* failed jobs: empty arrays and the error */
    top.rc = PROF_ERR_UNAVAILABLE;
    snprintf(top.err, sizeof(top.err), "profiling \"off\"");
    leaks.rc = PROF_ERR_IO;
    j = metrics_memory_json(in, &top, &leaks, &len);
    ASSERT_JSON(j, len);
    assert_non_null(strstr(j, "\"top_sites\":[],\"top_sites_error\":\"profiling \\\"off\\\"\""));
    assert_non_null(strstr(j, "\"leak_suspects\":[],\"leak_suspects_error\":\""));
    metrics_buffer_free(j);
    free(in);
}

int main(void) {
    alloc_arenas_enable(); /* as the server's main thread does (fails harmlessly on libc) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_zero_then_published),
        cmocka_unit_test(test_state_not_torn),
        cmocka_unit_test(test_json_validator),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_collect_text_promtool),
        cmocka_unit_test(test_collect_families),
        cmocka_unit_test(test_collect_state_values),
        cmocka_unit_test(test_collect_used_is_sum),
        cmocka_unit_test(test_collect_openmetrics),
        cmocka_unit_test(test_collect_handmade),
        cmocka_unit_test(test_collect_keyspace),
        cmocka_unit_test(test_json_live),
        cmocka_unit_test(test_json_handmade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
