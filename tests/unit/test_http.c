/* Unit tests of the HTTP endpoint: a real libmicrohttpd daemon on 127.0.0.1, port 0, with
 * dummy handlers whose bodies come from the alloc wrappers, driven over raw sockets with
 * hand-written HTTP/1.1: every path and its Content-Type, the headers every response carries,
 * 404, 405 with Allow, HEAD without a body, the bearer token (and /healthz without it), pprof
 * switched off, oversized headers and request lines (ours and libmicrohttpd's own refusal), a
 * client that sends nothing (dropped after the timeout, never in anyone's way), the connection
 * limit, keep-alive, handler errors (500, the body freed), the counters, start-up errors, and
 * that every ALLOC_SUB_HTTP byte comes back after http_stop. */
#include "metrics/metrics.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- dummy handlers ------------------------------------------------------------------------ */

static char last_accept[256];
static char last_format[64];
static int pprof_calls;
static int fail_metrics; /* 1: the metrics handler sets a body, then fails */
static int bad_ctx;      /* a handler saw another ctx (no cmocka asserts off the test thread) */

static char *body_dup(const char *s, size_t *len) {
    size_t n = strlen(s);
    char *b = alloc_malloc(ALLOC_SUB_HTTP, n + 1);
    memcpy(b, s, n + 1);
    *len = n;
    return b;
}

static int h_metrics(void *ctx, const char *accept, http_response *resp) {
    if (ctx != &last_accept) bad_ctx = 1;
    snprintf(last_accept, sizeof(last_accept), "%s", accept ? accept : "(null)");
    resp->body = body_dup("# HELP memkv_up Up.\n# TYPE memkv_up gauge\nmemkv_up 1\n", &resp->len);
    if (fail_metrics) return -1; /* the endpoint must free the body */
    metrics_format f = metrics_format_from_accept(accept);
    resp->status = 200;
    resp->content_type = metrics_content_type(f);
    return 0;
}

static int h_pprof(void *ctx, const char *format, http_response *resp) {
    (void)ctx;
    pprof_calls++;
    snprintf(last_format, sizeof(last_format), "%s", format ? format : "(null)");
    if (format && strcmp(format, "bogus") == 0) {
        resp->status = 400;
        resp->content_type = "text/plain; charset=utf-8";
        resp->body = body_dup("unknown format\n", &resp->len);
        return 0;
    }
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    resp->content_disposition = "attachment; filename=\"memkv-heap.pb.gz\"";
    resp->body = body_dup("\x1f\x8b-not-really-gzip", &resp->len);
    return 0;
}

static int h_memory(void *ctx, http_response *resp) {
    (void)ctx;
    /* status 0 means 200 */
    resp->content_type = "application/json";
    resp->body = body_dup("{\"used_memory\":1}\n", &resp->len);
    return 0;
}

static int h_healthz_down(void *ctx, http_response *resp) {
    (void)ctx;
    resp->status = 503;
    resp->content_type = NULL; /* the endpoint supplies one */
    resp->body = NULL;         /* and an empty body */
    return 0;
}

/* The scrape handler answers with what it was given, one "name=value" line per argument. */
static int h_scrape(void *ctx, const http_scrape_request *req, http_response *resp) {
    (void)ctx;
    char b[2048];
    size_t n = (size_t)snprintf(b, sizeof(b), "path=%s\ntimeout=%s\naccept=%s\ntruncated=%d\n",
                                req->path, req->scrape_timeout ? req->scrape_timeout : "(null)",
                                req->accept ? req->accept : "(null)", req->args_truncated);
    for (size_t i = 0; i < req->nargs && n < sizeof(b); i++)
        n += (size_t)snprintf(b + n, sizeof(b) - n, "%s=%s\n", req->args[i].name,
                              req->args[i].value);
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = body_dup(b, &resp->len);
    return 0;
}

static http_handlers handlers(void) {
    http_handlers h;
    memset(&h, 0, sizeof(h));
    h.ctx = &last_accept;
    h.metrics = h_metrics;
    h.pprof_heap = h_pprof;
    h.memory_report = h_memory;
    return h;
}

/* ---- a tiny HTTP client ---------------------------------------------------------------------- */

#define RAW_CAP (64 * 1024)

typedef struct reply {
    int status; /* 0: no HTTP response (closed or reset) */
    char raw[RAW_CAP];
    size_t raw_len;
    const char *body; /* into raw */
    size_t body_len;
    size_t head_len;
} reply;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Send what can be sent: the server may close early (that is what a refusal looks like). */
static void send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Wait up to `timeout` seconds for fd to be readable (or closed). */
static int wait_readable(int fd, double timeout) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, (int)(timeout * 1000)) > 0;
}

static const char *find_header(const reply *r, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    const char *p = r->raw, *end = r->raw + r->head_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = (size_t)(eol - v);
            if (n > 0 && v[n - 1] == '\r') n--;
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        p = eol + 1;
    }
    return NULL;
}

/* Parse raw[0..raw_len) as one response. Returns 1 when it holds a complete one (headers, and
 * Content-Length bytes of body unless the request was HEAD). */
static int parse_reply(reply *r, int head) {
    r->status = 0;
    char *eoh = memmem(r->raw, r->raw_len, "\r\n\r\n", 4);
    if (!eoh || r->raw_len < 12 || memcmp(r->raw, "HTTP/1.", 7) != 0) return 0;
    r->head_len = (size_t)(eoh - r->raw) + 2;
    r->body = eoh + 4;
    r->body_len = r->raw_len - (size_t)(r->body - r->raw);
    char cl[32];
    if (!head && find_header(r, "Content-Length", cl, sizeof(cl)) &&
        r->body_len < strtoul(cl, NULL, 10))
        return 0;
    r->status = atoi(r->raw + 9);
    return 1;
}

/* Read one response from fd (keep-alive safe: stops at Content-Length). */
static void read_reply(int fd, reply *r, int head) {
    memset(r, 0, sizeof(*r));
    double deadline = now_s() + 5;
    while (r->raw_len < RAW_CAP - 1 && now_s() < deadline) {
        if (!wait_readable(fd, deadline - now_s())) break;
        ssize_t n = recv(fd, r->raw + r->raw_len, RAW_CAP - 1 - r->raw_len, 0);
        if (n <= 0) break;
        r->raw_len += (size_t)n;
        if (parse_reply(r, head)) break;
    }
    r->raw[r->raw_len] = '\0';
    parse_reply(r, head);
}

/* One request on a new connection, "Connection: close". */
static void request(int port, const char *method, const char *target, const char *extra, reply *r) {
    char req[4096];
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n",
             method, target, extra ? extra : "");
    int fd = connect_to(port);
    send_all(fd, req, strlen(req));
    read_reply(fd, r, strcmp(method, "HEAD") == 0);
    close(fd);
}

static void get(int port, const char *target, reply *r) {
    request(port, "GET", target, NULL, r);
}

/* The headers every response has, and a non-empty Content-Type (returned). */
static const char *assert_common_headers(const reply *r, char *ctype, size_t cap) {
    char v[256];
    assert_non_null(find_header(r, "Content-Type", ctype, cap));
    assert_true(ctype[0] != '\0');
    assert_non_null(find_header(r, "Cache-Control", v, sizeof(v)));
    assert_string_equal(v, "no-store");
    assert_non_null(find_header(r, "X-Content-Type-Options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
    return ctype;
}

static void assert_body(const reply *r, const char *want) {
    assert_int_equal(r->body_len, strlen(want));
    assert_memory_equal(r->body, want, r->body_len);
}

/* ---- fixture -----------------------------------------------------------------------------------
 */

typedef struct fixture {
    http_endpoint *e;
    int port;
    int64_t http_bytes0;
} fixture;

static fixture start_with(const http_config *cfg, const http_handlers *h) {
    fixture f;
    f.http_bytes0 = alloc_sub_bytes(ALLOC_SUB_HTTP);
    char err[256] = "";
    f.port = -1;
    f.e = http_start(cfg, h, &f.port, err, sizeof(err));
    if (!f.e) fail_msg("http_start: %s", err);
    assert_true(f.port > 0 && f.port < 65536);
    return f;
}

static fixture start_default(void) {
    http_config cfg;
    http_config_default(&cfg);
    http_handlers h = handlers();
    return start_with(&cfg, &h);
}

/* Stop, and every byte the endpoint and its bodies held is back. */
static void stop(fixture *f) {
    http_stop(f->e);
    f->e = NULL;
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HTTP), f->http_bytes0);
}

static http_stats stats(const fixture *f) {
    http_stats s;
    http_stats_get(f->e, &s);
    return s;
}

/* ---- tests
 * --------------------------------------------------------------------------------------- */

static void test_defaults(void **state) {
    (void)state;
    http_config c;
    memset(&c, 0xff, sizeof(c));
    http_config_default(&c);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.port, 0);
    assert_string_equal(c.token, "");
    assert_int_equal(c.max_connections, 64);
    assert_int_equal(c.timeout_seconds, 10);
    assert_int_equal(c.max_request_bytes, 8192);
    assert_int_equal(c.threads, 2);
    http_stop(NULL); /* safe */
    http_stats s;
    http_stats_get(NULL, &s);
    assert_int_equal(s.requests, 0);
}

static void test_paths(void **state) {
    (void)state;
    fixture f = start_default();
    reply *r = malloc(sizeof(*r));
    char ct[256], v[256];

    get(f.port, "/", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/html; charset=utf-8");
    assert_non_null(strstr(r->body, "/metrics"));
    assert_non_null(strstr(r->body, "/debug/pprof/heap"));
    assert_non_null(strstr(r->body, "/debug/memory"));
    assert_non_null(strstr(r->body, "/healthz"));

    get(f.port, "/metrics", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)),
                        metrics_content_type(METRICS_TEXT_004));
    assert_body(r, "# HELP memkv_up Up.\n# TYPE memkv_up gauge\nmemkv_up 1\n");
    assert_string_equal(last_accept, "(null)");
    assert_int_equal(bad_ctx, 0);

    /* The Accept header reaches the handler; the query string is ignored. */
    request(f.port, "GET", "/metrics?name[]=x&format=svg",
            "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)),
                        metrics_content_type(METRICS_OPENMETRICS_1));
    assert_string_equal(last_accept, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5");

    pprof_calls = 0;
    get(f.port, "/debug/pprof/heap", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "application/octet-stream");
    assert_non_null(find_header(r, "Content-Disposition", v, sizeof(v)));
    assert_string_equal(v, "attachment; filename=\"memkv-heap.pb.gz\"");
    assert_string_equal(last_format, "(null)"); /* the handler's default (pprof) applies */
    get(f.port, "/debug/pprof/heap?format=svg", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(last_format, "svg");
    get(f.port, "/debug/pprof/heap?seconds=1&format=%63ollapsed", r); /* decoded */
    assert_string_equal(last_format, "collapsed");
    get(f.port, "/debug/pprof/heap?format=bogus", r); /* a handler's own 400 */
    assert_int_equal(r->status, 400);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");
    assert_body(r, "unknown format\n");
    assert_int_equal(pprof_calls, 4);

    get(f.port, "/debug/memory", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "application/json");
    assert_body(r, "{\"used_memory\":1}\n");

    get(f.port, "/healthz", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");
    assert_body(r, "ok\n");

    http_stats s = stats(&f);
    assert_int_equal(s.requests, 9);
    assert_int_equal(s.errors_4xx, 1);
    assert_int_equal(s.errors_5xx, 0);
    free(r);
    stop(&f);
}

static void test_not_found(void **state) {
    (void)state;
    fixture f = start_default();
    reply *r = malloc(sizeof(*r));
    char ct[256];
    const char *paths[] = {"/nope",         "/metrics/",          "/METRICS",
                           "/debug/pprof/", "/debug/pprof/heap/", "/debug",
                           "//metrics",     "/healthz/x",         "/favicon.ico"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(f.port, paths[i], r);
        assert_int_equal(r->status, 404);
        assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");
        assert_true(r->body_len > 0);
    }
    /* An unknown path is 404 whatever the method. */
    request(f.port, "POST", "/nope", "Content-Length: 0\r\n", r);
    assert_int_equal(r->status, 404);
    http_stats s = stats(&f);
    assert_int_equal(s.errors_4xx, 10);
    assert_int_equal(s.requests, 10);
    free(r);
    stop(&f);
}

static void test_method_not_allowed(void **state) {
    (void)state;
    fixture f = start_default();
    reply *r = malloc(sizeof(*r));
    char ct[256], v[64];
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"};
    const char *paths[] = {"/metrics", "/", "/healthz", "/debug/pprof/heap", "/debug/memory"};
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
        for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
            request(f.port, methods[m], paths[p], "Content-Length: 5\r\n", r);
            assert_int_equal(r->status, 405);
            assert_string_equal(assert_common_headers(r, ct, sizeof(ct)),
                                "text/plain; charset=utf-8");
            assert_non_null(find_header(r, "Allow", v, sizeof(v)));
            assert_string_equal(v, "GET, HEAD");
            assert_true(r->body_len > 0);
        }
    }
    /* A POST with a body that did arrive: answered, and the body is not taken as a request. */
    int fd = connect_to(f.port);
    const char *req = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send_all(fd, req, strlen(req));
    read_reply(fd, r, 0);
    assert_int_equal(r->status, 405);
    close(fd);
    assert_int_equal(stats(&f).errors_4xx, 31);
    free(r);
    stop(&f);
}

static void test_head(void **state) {
    (void)state;
    fixture f = start_default();
    reply *r = malloc(sizeof(*r));
    char ct[256], cl[32];
    const char *paths[] = {"/metrics", "/", "/healthz", "/debug/memory", "/debug/pprof/heap"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(f.port, paths[i], r);
        assert_int_equal(r->status, 200);
        size_t get_len = r->body_len;
        request(f.port, "HEAD", paths[i], NULL, r); /* read until the server closes */
        assert_int_equal(r->status, 200);
        assert_common_headers(r, ct, sizeof(ct));
        assert_non_null(find_header(r, "Content-Length", cl, sizeof(cl)));
        assert_int_equal(strtoul(cl, NULL, 10), get_len);
        assert_int_equal(r->body_len, 0);
    }
    request(f.port, "HEAD", "/nope", NULL, r);
    assert_int_equal(r->status, 404);
    assert_int_equal(r->body_len, 0);
    free(r);
    stop(&f);
}

static void test_token(void **state) {
    (void)state;
    http_config cfg;
    http_config_default(&cfg);
    snprintf(cfg.token, sizeof(cfg.token), "%s", "s3cret-T0ken");
    http_handlers h = handlers();
    fixture f = start_with(&cfg, &h);
    reply *r = malloc(sizeof(*r));
    char ct[256], v[128];

    const char *bad[] = {NULL,
                         "Authorization: Bearer wrong\r\n",
                         "Authorization: Bearer s3cret-T0ke\r\n",     /* a prefix */
                         "Authorization: Bearer s3cret-T0ken2\r\n",   /* longer */
                         "Authorization: Bearer S3CRET-T0KEN\r\n",    /* the token is exact */
                         "Authorization: Basic czNjcmV0LVQwa2Vu\r\n", /* another scheme */
                         "Authorization: Bearers3cret-T0ken\r\n",
                         "Authorization: s3cret-T0ken\r\n",
                         "Authorization: Bearer\r\n",
                         "X-Token: s3cret-T0ken\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        request(f.port, "GET", "/metrics", bad[i], r);
        assert_int_equal(r->status, 401);
        assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");
        assert_non_null(find_header(r, "WWW-Authenticate", v, sizeof(v)));
        assert_string_equal(v, "Bearer realm=\"memkv\"");
        assert_true(r->body_len > 0);
    }
    /* Every path but /healthz is behind the token, unknown ones too (nothing to probe). */
    const char *paths[] = {"/", "/debug/pprof/heap", "/debug/memory", "/nope"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(f.port, paths[i], r);
        assert_int_equal(r->status, 401);
    }
    request(f.port, "DELETE", "/metrics", NULL, r);
    assert_int_equal(r->status, 401);

    const char *good[] = {"Authorization: Bearer s3cret-T0ken\r\n",
                          "authorization: bearer s3cret-T0ken\r\n",
                          "Authorization:   Bearer    s3cret-T0ken   \r\n"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        request(f.port, "GET", "/metrics", good[i], r);
        assert_int_equal(r->status, 200);
    }
    request(f.port, "GET", "/nope", good[0], r);
    assert_int_equal(r->status, 404);
    request(f.port, "POST", "/metrics", good[0], r);
    assert_int_equal(r->status, 405);

    /* /healthz is open for liveness probes, with or without a (even wrong) token. */
    get(f.port, "/healthz", r);
    assert_int_equal(r->status, 200);
    assert_body(r, "ok\n");
    request(f.port, "GET", "/healthz", bad[1], r);
    assert_int_equal(r->status, 200);

    http_stats s = stats(&f);
    assert_int_equal(s.unauthorized, 15);
    assert_int_equal(s.errors_4xx, 17);
    assert_int_equal(s.requests, 22);
    free(r);
    stop(&f);
}

static void test_pprof_disabled(void **state) {
    (void)state;
    http_config cfg;
    http_config_default(&cfg);
    cfg.pprof_enabled = 0;
    http_handlers h = handlers();
    fixture f = start_with(&cfg, &h);
    reply *r = malloc(sizeof(*r));
    char ct[256];
    pprof_calls = 0;
    get(f.port, "/debug/pprof/heap", r);
    assert_int_equal(r->status, 404);
    assert_common_headers(r, ct, sizeof(ct));
    get(f.port, "/debug/pprof/heap?format=svg", r);
    assert_int_equal(r->status, 404);
    request(f.port, "HEAD", "/debug/pprof/heap", NULL, r);
    assert_int_equal(r->status, 404);
    assert_int_equal(pprof_calls, 0);
    get(f.port, "/", r);
    assert_int_equal(r->status, 200);
    assert_null(strstr(r->body, "pprof"));
    assert_non_null(strstr(r->body, "/metrics"));
    free(r);
    stop(&f);

    /* A NULL handler: its path is 404 and not listed. */
    http_config_default(&cfg);
    h = handlers();
    h.memory_report = NULL;
    f = start_with(&cfg, &h);
    r = malloc(sizeof(*r));
    get(f.port, "/debug/memory", r);
    assert_int_equal(r->status, 404);
    get(f.port, "/", r);
    assert_null(strstr(r->body, "/debug/memory"));
    free(r);
    stop(&f);
}

/* A request of `header_bytes` bytes of one header X-Fill (and a target of target_bytes). */
static void big_request(int port, size_t header_bytes, size_t target_bytes, reply *r) {
    size_t cap = header_bytes + target_bytes + 256;
    char *req = malloc(cap);
    size_t n = (size_t)snprintf(req, cap, "GET /metrics?");
    memset(req + n, 'q', target_bytes);
    n += target_bytes;
    n += (size_t)snprintf(req + n, cap - n, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if (header_bytes) {
        n += (size_t)snprintf(req + n, cap - n, "X-Fill: ");
        memset(req + n, 'h', header_bytes);
        n += header_bytes;
        n += (size_t)snprintf(req + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(req + n, cap - n, "\r\n");
    int fd = connect_to(port);
    send_all(fd, req, n);
    read_reply(fd, r, 0);
    close(fd);
    free(req);
}

static void test_oversized(void **state) {
    (void)state;
    fixture f = start_default(); /* max_request_bytes 8 KiB */
    reply *r = malloc(sizeof(*r));
    char ct[256], v[64];

    big_request(f.port, 7 * 1024, 0, r); /* fits */
    assert_int_equal(r->status, 200);

    /* Over the limit but within MHD's pool: refused by the endpoint, with a Content-Type. */
    big_request(f.port, 12 * 1024, 0, r);
    assert_int_equal(r->status, 431);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");
    assert_true(r->body_len > 0);
    big_request(f.port, 0, 10 * 1024, r); /* a long query string */
    assert_int_equal(r->status, 414);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");

    /* Many small headers add up too: 200 of 10 bytes are 2 KB on the wire, but each counts 64
     * bytes more (what MHD spends keeping it). */
    {
        char *req = malloc(32 * 1024);
        size_t n =
            (size_t)sprintf(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for (int i = 100; i < 300; i++)
            n += (size_t)sprintf(req + n, "X-%d: 1\r\n", i);
        n += (size_t)sprintf(req + n, "\r\n");
        int fd = connect_to(f.port);
        send_all(fd, req, n);
        read_reply(fd, r, 0);
        close(fd);
        free(req);
        assert_int_equal(r->status, 431);
        assert_common_headers(r, ct, sizeof(ct));
    }

    /* 64 KiB of headers is beyond MHD's pool: MHD refuses it itself (431, HTML, no
     * Content-Type in libmicrohttpd 0.9.75), or the connection is reset before the answer
     * is read; never a 2xx, and the endpoint keeps working. */
    http_stats s0 = stats(&f);
    big_request(f.port, 64 * 1024, 0, r);
    assert_true(r->status == 0 || r->status == 431);
    if (r->status == 431) {
        assert_non_null(find_header(r, "Connection", v, sizeof(v)));
        assert_string_equal(v, "close");
    }
    big_request(f.port, 0, 64 * 1024, r); /* a 64 KiB request line */
    assert_true(r->status == 0 || r->status == 414);
    get(f.port, "/healthz", r);
    assert_int_equal(r->status, 200);
    /* MHD's 431 is counted (its 414 cannot be seen), when MHD is done with the connection. */
    for (int i = 0; i < 200 && stats(&f).errors_4xx == s0.errors_4xx; i++)
        usleep(10000);
    http_stats s1 = stats(&f);
    assert_int_equal(s1.errors_4xx, s0.errors_4xx + 1);
    assert_int_equal(s1.requests, s0.requests + 2);
    free(r);
    stop(&f);
}

static void test_keep_alive(void **state) {
    (void)state;
    fixture f = start_default();
    reply *r = malloc(sizeof(*r));
    int fd = connect_to(f.port);
    const char *reqs[] = {
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /nope?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /debug/memory HTTP/1.1\r\nHost: x\r\n\r\n"};
    int want[] = {200, 404, 200, 200};
    for (size_t i = 0; i < 4; i++) {
        send_all(fd, reqs[i], strlen(reqs[i]));
        read_reply(fd, r, i == 2);
        assert_int_equal(r->status, want[i]);
    }
    assert_body(r, "{\"used_memory\":1}\n");
    /* A refusal on a request with a body closes the connection (the body is not read). */
    const char *post = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    send_all(fd, post, strlen(post));
    read_reply(fd, r, 0);
    assert_int_equal(r->status, 405);
    char buf[64];
    assert_true(wait_readable(fd, 3));
    assert_true(recv(fd, buf, sizeof(buf), 0) <= 0);
    close(fd);
    free(r);
    stop(&f);
}

static void test_handler_error(void **state) {
    (void)state;
    fixture f = start_default();
    reply *r = malloc(sizeof(*r));
    char ct[256];
    fail_metrics = 1;
    get(f.port, "/metrics", r);
    fail_metrics = 0;
    assert_int_equal(r->status, 500);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "text/plain; charset=utf-8");
    assert_true(r->body_len > 0);
    http_stats s = stats(&f);
    assert_int_equal(s.errors_5xx, 1);
    assert_int_equal(s.requests, 1);
    get(f.port, "/metrics", r);
    assert_int_equal(r->status, 200);
    free(r);
    stop(&f); /* the failed handler's body was freed: no HTTP byte left */

    /* A handler's status without a body or a type: an empty body, a Content-Type anyway. */
    http_config cfg;
    http_config_default(&cfg);
    http_handlers h = handlers();
    h.healthz = h_healthz_down;
    f = start_with(&cfg, &h);
    r = malloc(sizeof(*r));
    get(f.port, "/healthz", r);
    assert_int_equal(r->status, 503);
    assert_string_equal(assert_common_headers(r, ct, sizeof(ct)), "application/octet-stream");
    assert_int_equal(r->body_len, 0);
    assert_int_equal(stats(&f).errors_5xx, 1);
    free(r);
    stop(&f);
}

/* A client that connects and sends nothing (or half a request) is dropped after the timeout,
 * and nobody waits for it meanwhile. */
static void test_slow_client(void **state) {
    (void)state;
    http_config cfg;
    http_config_default(&cfg);
    cfg.timeout_seconds = 3; /* far above a request's time, even under valgrind on a busy host */
    cfg.threads = 1;         /* the worst case: one thread for everyone */
    http_handlers h = handlers();
    fixture f = start_with(&cfg, &h);
    reply *r = malloc(sizeof(*r));

    double t0 = now_s();
    int idle = connect_to(f.port);
    int half = connect_to(f.port);
    send_all(half, "GET /metrics HTTP/1.1\r\nHost:", 29);
    for (int i = 0; i < 5; i++) {
        double t = now_s();
        get(f.port, "/healthz", r);
        assert_int_equal(r->status, 200);
        assert_true(now_s() - t < 1.5); /* not behind the idle ones (3 s) */
    }
    /* Both are closed by the server: EOF (0) or a reset, after about the timeout. */
    char buf[512];
    assert_true(wait_readable(idle, 8));
    assert_true(recv(idle, buf, sizeof(buf), 0) <= 0);
    assert_true(wait_readable(half, 8));
    ssize_t n = recv(half, buf, sizeof(buf), 0);
    assert_true(n <= 0 || memcmp(buf, "HTTP/1.1 408", 12) == 0);
    double took = now_s() - t0;
    assert_true(took >= 2.5 && took < 8);
    close(idle);
    close(half);
    for (int i = 0; i < 100 && stats(&f).connections > 0; i++)
        usleep(10000);
    assert_int_equal(stats(&f).connections, 0);
    free(r);
    stop(&f);
}

/* Wait until the endpoint sees `n` open connections. */
static void wait_connections(const fixture *f, uint64_t n) {
    for (int i = 0; i < 300 && stats(f).connections != n; i++)
        usleep(10000);
    assert_int_equal(stats(f).connections, n);
}

static void connection_limit(unsigned threads) {
    http_config cfg;
    http_config_default(&cfg);
    cfg.max_connections = 2;
    cfg.timeout_seconds = 5;
    cfg.threads = threads;
    http_handlers h = handlers();
    fixture f = start_with(&cfg, &h);
    reply *r = malloc(sizeof(*r));

    int a = connect_to(f.port);
    wait_connections(&f, 1);
    int b = connect_to(f.port);
    wait_connections(&f, 2);
    /* The third is accepted by the kernel and closed by the endpoint at once: no answer, and
     * it does not wait for the others' timeout. */
    double t = now_s();
    get(f.port, "/healthz", r);
    assert_int_equal(r->status, 0);
    assert_true(now_s() - t < 2);
    assert_true(stats(&f).connections_refused >= 1);
    assert_int_equal(stats(&f).connections, 2);

    /* The slow ones go; the endpoint answers again. */
    close(a);
    close(b);
    wait_connections(&f, 0);
    get(f.port, "/healthz", r);
    assert_int_equal(r->status, 200);
    /* The server notices that close a moment later; under load, wait for it. */
    wait_connections(&f, 0);
    /* Two at once are fine (keep-alive on one, a request on the other). */
    int c = connect_to(f.port);
    send_all(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34);
    read_reply(c, r, 0);
    assert_int_equal(r->status, 200);
    wait_connections(&f, 1);
    get(f.port, "/metrics", r);
    assert_int_equal(r->status, 200);
    close(c);
    free(r);
    stop(&f);
}

static void test_connection_limit(void **state) {
    (void)state;
    connection_limit(1);
    connection_limit(2);
}

static void test_start_errors(void **state) {
    (void)state;
    http_handlers h = handlers();
    http_config cfg;
    char err[256];
    int port = 0;

    http_config_default(&cfg);
    snprintf(cfg.bind, sizeof(cfg.bind), "%s", "localhost"); /* numeric only */
    assert_null(http_start(&cfg, &h, &port, err, sizeof(err)));
    assert_non_null(strstr(err, "localhost"));
    snprintf(cfg.bind, sizeof(cfg.bind), "%s", "");
    assert_null(http_start(&cfg, &h, &port, err, sizeof(err)));
    assert_true(err[0] != '\0');
    http_config_default(&cfg);
    cfg.port = 70000;
    assert_null(http_start(&cfg, &h, &port, err, sizeof(err)));
    assert_non_null(strstr(err, "70000"));
    assert_null(http_start(NULL, &h, &port, err, sizeof(err)));

    /* A port in use: MHD's reason comes back. */
    http_config_default(&cfg);
    fixture f = start_with(&cfg, &h);
    cfg.port = f.port;
    err[0] = '\0';
    assert_null(http_start(&cfg, &h, &port, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_non_null(strstr(err, "in use"));
    stop(&f);

    /* IPv6 loopback, when the host has it. */
    http_config_default(&cfg);
    snprintf(cfg.bind, sizeof(cfg.bind), "%s", "::1");
    port = 0;
    http_endpoint *e = http_start(&cfg, &h, &port, err, sizeof(err));
    if (e) {
        assert_true(port > 0);
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof(a));
        a.sin6_family = AF_INET6;
        a.sin6_port = htons((uint16_t)port);
        a.sin6_addr = in6addr_loopback;
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        const char *req = "GET /healthz HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n";
        send_all(fd, req, strlen(req));
        reply *r = malloc(sizeof(*r));
        read_reply(fd, r, 0);
        assert_int_equal(r->status, 200);
        free(r);
        close(fd);
        http_stop(e);
    } else {
        print_message("no IPv6 loopback here (%s); skipped that part\n", err);
    }
}

/* http_route_decide alone (what the callbacks above answer by): the order of the checks. */
/* The exporter's shape: no metrics handler, a scrape handler for /scrape and /metrics, one
 * thread per connection, its own title. */
static void test_scrape(void **state) {
    (void)state;
    http_config cfg;
    http_config_default(&cfg);
    cfg.thread_per_connection = 1;
    snprintf(cfg.name, sizeof(cfg.name), "memkv-exporter");
    http_handlers h;
    memset(&h, 0, sizeof(h));
    h.scrape = h_scrape;
    fixture f = start_with(&cfg, &h);
    reply *r = malloc(sizeof(*r));

    get(f.port, "/", r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "<title>memkv-exporter</title>"));
    assert_non_null(strstr(r->body, "/scrape?target="));
    assert_non_null(strstr(r->body, "/metrics"));
    assert_null(strstr(r->body, "/debug/memory"));

    request(f.port, "GET", "/scrape?target=127.0.0.1%3A6379&auth=prod&x",
            "X-Prometheus-Scrape-Timeout-Seconds: 2.5\r\nAccept: text/plain\r\n", r);
    assert_int_equal(r->status, 200);
    assert_body(r, "path=/scrape\ntimeout=2.5\naccept=text/plain\ntruncated=0\n"
                   "target=127.0.0.1:6379\nauth=prod\nx=\n");
    get(f.port, "/metrics", r);
    assert_int_equal(r->status, 200);
    assert_body(r, "path=/metrics\ntimeout=(null)\naccept=(null)\ntruncated=0\n");

    char url[512] = "/scrape?a0=0";
    for (int i = 1; i < HTTP_MAX_ARGS + 3; i++)
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "&a%d=%d", i, i);
    get(f.port, url, r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "truncated=1\n"));
    assert_non_null(strstr(r->body, "a15=15\n"));
    assert_null(strstr(r->body, "a16="));

    get(f.port, "/debug/memory", r); /* no handler */
    assert_int_equal(r->status, 404);
    request(f.port, "POST", "/scrape?target=x", "", r);
    assert_int_equal(r->status, 405);
    free(r);
    stop(&f);
}

static void test_route_decide(void **state) {
    (void)state;
    http_route_policy pol = {.token = "s3cret",
                             .token_len = 6,
                             .pprof_enabled = 1,
                             .have_metrics = 1,
                             .have_pprof_heap = 1,
                             .have_memory_report = 0,
                             .max_request_bytes = 1024};
    http_request req = {.method = "GET", .url = "/metrics", .version = "HTTP/1.1"};
    req.target_len = strlen(req.url);
    http_route r;
    http_route_decide(&pol, &req, 1, &r); /* headers only, no body: wait for the end */
    assert_int_equal(r.kind, HTTP_ROUTE_WAIT);
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.kind, HTTP_ROUTE_TEXT);
    assert_int_equal(r.status, 401);
    req.authorization = "bearer \t s3cret ";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.kind, HTTP_ROUTE_METRICS);
    req.url = "/debug/memory"; /* no handler: 404, after the token */
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 404);
    req.url = "/healthz"; /* no token needed */
    req.authorization = NULL;
    req.method = "POST";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 405);
    req.content_length = "5"; /* a body: answered on the first call */
    http_route_decide(&pol, &req, 1, &r);
    assert_int_equal(r.status, 405);
    req.content_length = "000";
    req.method = "GET";
    http_route_decide(&pol, &req, 1, &r);
    assert_int_equal(r.kind, HTTP_ROUTE_WAIT);
    req.header_bytes = 1000; /* over the limit: 431 before anything else */
    http_route_decide(&pol, &req, 1, &r);
    assert_int_equal(r.status, 431);
    req.target_len = 2000;
    http_route_decide(&pol, &req, 1, &r);
    assert_int_equal(r.status, 414);
    assert_string_equal(r.text, "414 URI too long\n");
}

/* The console's routes: assets before the token, debug paths after it, actions POST only and
 * only with a token and actions_enabled. */
static void test_route_console(void **state) {
    (void)state;
    static const unsigned char page[] = "<p>";
    static const http_asset assets[] = {{"/", "text/html; charset=utf-8", page, 3}};
    static const char *const debug[] = {"/debug/console", NULL};
    static const char *const actions[] = {"purge", NULL};
    http_route_policy pol = {.token = "s3cret",
                             .token_len = 6,
                             .max_request_bytes = 1024,
                             .assets = assets,
                             .nassets = 1,
                             .debug_paths = debug,
                             .action_names = actions};
    http_request req = {.method = "GET", .url = "/", .version = "HTTP/1.1"};
    http_route r;
    http_route_decide(&pol, &req, 0, &r); /* no token needed for the page */
    assert_int_equal(r.kind, HTTP_ROUTE_ASSET);
    assert_ptr_equal(r.asset, &assets[0]);
    req.method = "POST";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 405);
    req.method = "GET";
    req.url = "/debug/console";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 401);
    req.authorization = "Bearer s3cret";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.kind, HTTP_ROUTE_DEBUG);
    req.url = "/debug/actions/purge";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    req.method = "POST";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 403); /* actions_enabled 0 */
    pol.actions_enabled = 1;
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.kind, HTTP_ROUTE_ACTION);
    assert_string_equal(r.action, "purge");
    req.url = "/debug/actions/other";
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 404);
    pol.token = "";
    pol.token_len = 0; /* no token configured: never */
    req.url = "/debug/actions/purge";
    req.authorization = NULL;
    http_route_decide(&pol, &req, 0, &r);
    assert_int_equal(r.status, 403);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_decide),
        cmocka_unit_test(test_scrape),
        cmocka_unit_test(test_route_console),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_pprof_disabled),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_handler_error),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
