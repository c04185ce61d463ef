/* The real HTTP endpoint (src/metrics/http.c on libmicrohttpd), started once on an ephemeral
 * loopback port with a token and handlers like the server's; each input is sent as raw bytes
 * on a new connection, which is then half-closed and read to the end. libmicrohttpd parses the
 * bytes (it is not instrumented; memkv's callbacks are), so this finds what the pure target
 * (fuzz_http) cannot: a crash or a sanitizer report in the callbacks on what MHD hands them,
 * a request that never gets answered, a body freed twice.
 *
 * Checks beyond "no crash": whatever comes back starts with "HTTP/1."; a response with one of
 * the statuses memkv itself sends (200, 401, 404, 405, 500, 431 with its text) has a
 * Content-Type, "Cache-Control: no-store" and "X-Content-Type-Options: nosniff"; the endpoint
 * still answers /healthz after every 64 inputs. */
#include "fuzz.h"

#include "alloc/alloc.h"
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static http_endpoint *endpoint;
static int port;

static char *body_dup(const char *s, size_t *len) {
    size_t n = strlen(s);
    char *b = alloc_malloc(ALLOC_SUB_HTTP, n + 1);
    memcpy(b, s, n + 1);
    *len = n;
    return b;
}

static int h_metrics(void *ctx, const char *accept, http_response *resp) {
    (void)ctx;
    metrics_format f = metrics_format_from_accept(accept);
    resp->content_type = metrics_content_type(f);
    resp->body = body_dup(f == METRICS_OPENMETRICS_1 ? "up 1\n# EOF\n" : "up 1\n", &resp->len);
    return 0;
}

static int h_pprof(void *ctx, const char *format, http_response *resp) {
    (void)ctx;
    if (format && strcmp(format, "pprof") != 0) {
        resp->status = 400;
        resp->content_type = "text/plain; charset=utf-8";
        resp->body = body_dup("unknown format\n", &resp->len);
        return 0;
    }
    resp->content_type = "application/octet-stream";
    resp->content_disposition = "attachment; filename=\"memkv-heap.pb.gz\"";
    resp->body = body_dup("\x1f\x8b", &resp->len);
    return 0;
}

static int h_memory(void *ctx, http_response *resp) {
    (void)ctx;
    resp->body = body_dup("{}\n", &resp->len);
    return -1; /* a failing handler: 500, and its body freed */
}

static void stop_endpoint(void) {
    http_stop(endpoint);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    http_config cfg;
    http_config_default(&cfg);
    snprintf(cfg.token, sizeof(cfg.token), "s3cret");
    cfg.timeout_seconds = 2;
    cfg.max_connections = 64;
    http_handlers h;
    memset(&h, 0, sizeof(h));
    h.metrics = h_metrics;
    h.pprof_heap = h_pprof;
    h.memory_report = h_memory;
    char err[256];
    endpoint = http_start(&cfg, &h, &port, err, sizeof(err));
    if (!endpoint) {
        fprintf(stderr, "fuzz_http_socket: %s\n", err);
        abort();
    }
    atexit(stop_endpoint);
    return 0;
}

/* The first response in out[0..len) is complete (headers, then Content-Length bytes unless
 * the request was a HEAD). libmicrohttpd keeps a kept-alive connection open after our
 * half-close until its timeout, so the client stops at the end of the first response. */
static int response_complete(const char *out, size_t len, int head) {
    const char *end = strstr(out, "\r\n\r\n");
    if (!end) return 0;
    const char *cl = strcasestr(out, "\r\nContent-Length:");
    if (head || !cl || cl > end) return 1;
    size_t body = (size_t)strtoull(cl + 17, NULL, 10);
    return len >= (size_t)(end + 4 - out) + body;
}

/* Sends data, half-closes, reads the answer (at most cap bytes kept) until EOF or the end of
 * the first response. */
static size_t exchange(const uint8_t *data, size_t size, char *out, size_t cap, int wait_ms) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    if (rc != 0 && errno == EINTR) { /* libFuzzer's timer signal: the connect goes on */
        struct pollfd w = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        while (poll(&w, 1, 5000) < 0 && errno == EINTR)
            ;
        rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0 ? 0 : -1;
        if (soerr) errno = soerr;
    }
    if (rc != 0) {
        http_stats st;
        http_stats_get(endpoint, &st);
        fprintf(stderr,
                "connect: %s; endpoint: %llu open connections, %llu refused, %llu requests\n",
                strerror(errno), (unsigned long long)st.connections,
                (unsigned long long)st.connections_refused, (unsigned long long)st.requests);
        FUZZ_CHECK(!"the endpoint does not accept connections");
    }
    size_t off = 0;
    while (off < size) {
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the endpoint answered and closed before reading it all */
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        /* libmicrohttpd waits for the rest of a request it cannot finish parsing (and does not
         * see the half-close): for a fuzz input, 50 ms without a byte ends the exchange
         * unchecked. memkv's own callbacks never block. */
        int r = poll(&p, 1, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t keep = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
        memcpy(out + got, buf, keep);
        got += keep;
        out[got] = '\0';
        if (response_complete(out, got, size >= 5 && memcmp(data, "HEAD ", 5) == 0)) break;
    }
    out[got] = '\0';
    /* A reset, not a FIN: libmicrohttpd drops the connection at once instead of keeping it
     * until its timeout (the connection limit would fill up). */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    return got;
}

static int has_header(const char *resp, const char *line) {
    const char *end = strstr(resp, "\r\n\r\n");
    const char *h = strcasestr(resp, line);
    return h && (!end || h < end);
}

static void check_response(const char *resp, size_t len) {
    if (len == 0) return; /* closed without an answer (e.g. nothing sent) */
    FUZZ_CHECK(strncmp(resp, "HTTP/1.", 7) == 0);
    int status = 0;
    const char *sp = strchr(resp, ' ');
    if (sp) status = atoi(sp + 1);
    int ours = status == 200 || status == 401 || status == 404 || status == 405 || status == 500 ||
               (status == 431 && strstr(resp, "431 request header fields"));
    if (!ours) return; /* libmicrohttpd's own error pages (400, 413, 414, 431, 505) */
    FUZZ_CHECK(has_header(resp, "\r\nContent-Type: "));
    FUZZ_CHECK(has_header(resp, "\r\nCache-Control: no-store"));
    FUZZ_CHECK(has_header(resp, "\r\nX-Content-Type-Options: nosniff"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char resp[64 * 1024];
    static unsigned runs;
    size_t len = exchange(data, size, resp, sizeof(resp), 5);
    check_response(resp, len);
    if (++runs % 64 == 0) {
        static const char probe[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        len = exchange((const uint8_t *)probe, sizeof(probe) - 1, resp, sizeof(resp), 5000);
        FUZZ_CHECK(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    }
    return 0;
}
