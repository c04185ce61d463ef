/* The HTTP endpoint's own request handling (src/metrics/http.c: http_route_decide, the pure
 * function its libmicrohttpd callbacks call) and the Accept negotiation of /metrics
 * (metrics_format_from_accept). libmicrohttpd parses the bytes off the socket; what memkv
 * decides from the parsed request is fuzzed here.
 *
 * Input: byte 0 = policy flags (token or not, pprof on or off, which handlers exist, a small
 * size limit), byte 1 = sizes; then newline-separated fields: method, path, version,
 * Authorization, Content-Length, Transfer-Encoding, Accept, token (an empty field is an absent
 * header). Checks beyond "no crash":
 *  - a first call that waits is decided on the second call, which never waits; a request that
 *    announces a body is never left waiting; a fixed answer has one of the statuses the
 *    endpoint documents (401 404 405 414 431) and a text that starts with that status;
 *  - the order of checks of metrics.h: too big (414/431) → /healthz (no token) → token (401,
 *    checked against a plain reference of "Bearer <token>") → path (404) → method (405);
 *  - no token configured: never 401; a handler that is not set: its path is 404;
 *  - the Accept header gives one of the two formats, text for anything that does not name
 *    openmetrics-text, and a Content-Type for it. */
#include "fuzz.h"

#include "metrics/metrics.h"

#include <string.h>
#include <strings.h>

#define NFIELDS 8

/* Reference authorization: "Bearer" (any case), blanks, exactly the token, blanks. */
static int ref_authorized(const char *token, const char *v) {
    if (!token[0]) return 1;
    if (!v || strncasecmp(v, "bearer", 6) != 0) return 0;
    v += 6;
    if (*v != ' ' && *v != '\t') return 0;
    v += strspn(v, " \t");
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n == strlen(token) && memcmp(v, token, n) == 0;
}

static int known_path(const http_route_policy *pol, const char *url) {
    return strcmp(url, "/") == 0 || strcmp(url, "/healthz") == 0 ||
           (strcmp(url, "/metrics") == 0 && pol->have_metrics) ||
           (strcmp(url, "/debug/pprof/heap") == 0 && pol->pprof_enabled && pol->have_pprof_heap) ||
           (strcmp(url, "/debug/memory") == 0 && pol->have_memory_report) ||
           ((strcmp(url, "/scrape") == 0 || strcmp(url, "/metrics") == 0) && pol->have_scrape);
}

static void check_accept(const char *accept) {
    metrics_format f = metrics_format_from_accept(accept);
    FUZZ_CHECK(f == METRICS_TEXT_004 || f == METRICS_OPENMETRICS_1);
    FUZZ_CHECK(metrics_content_type(f) != NULL);
    if (f == METRICS_OPENMETRICS_1) FUZZ_CHECK(accept && strcasestr(accept, "openmetrics-text"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t flags = data[0], sizes = data[1];
    char *text = malloc(size - 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    char *field[NFIELDS] = {0};
    char *s = text;
    for (int i = 0; i < NFIELDS && s; i++) {
        field[i] = s;
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        s = nl ? nl + 1 : NULL;
    }
    static char empty[] = "";
    for (int i = 0; i < 3; i++)
        if (!field[i]) field[i] = empty;
    for (int i = 3; i < NFIELDS; i++)
        if (field[i] && !field[i][0]) field[i] = NULL;

    const char *token = (flags & 1) && field[7] ? field[7] : "";
    http_route_policy pol = {
        .token = token,
        .token_len = strlen(token),
        .pprof_enabled = (flags & 2) != 0,
        .have_metrics = (flags & 4) == 0,
        .have_pprof_heap = (flags & 8) == 0,
        .have_memory_report = (flags & 16) == 0,
        .have_scrape = (flags & 64) != 0,
        .max_request_bytes = (flags & 32) ? 64 + (size_t)sizes : 8192,
    };
    http_request req = {
        .method = field[0],
        .url = field[1],
        .version = field[2],
        .target_len = strlen(field[1]) + (size_t)(sizes & 15),
        .header_bytes = 0,
        .authorization = field[3],
        .content_length = field[4],
        .transfer_encoding = field[5],
    };
    for (int i = 3; i < 7; i++)
        if (field[i]) req.header_bytes += http_header_cost("Header", field[i]);

    http_route r;
    http_route_decide(&pol, &req, 1, &r);
    int waited = r.kind == HTTP_ROUTE_WAIT;
    if (waited) {
        int body =
            (req.content_length && strspn(req.content_length, "0") != strlen(req.content_length)) ||
            req.transfer_encoding;
        FUZZ_CHECK(!body);
        http_route_decide(&pol, &req, 0, &r);
        FUZZ_CHECK(r.kind != HTTP_ROUTE_WAIT);
    }
    size_t line = strlen(req.method) + 1 + req.target_len + 1 + strlen(req.version) + 2;
    int too_big = line + req.header_bytes + 2 > pol.max_request_bytes;
    if (r.kind == HTTP_ROUTE_TEXT) {
        unsigned st = r.status;
        FUZZ_CHECK(st == 401 || st == 404 || st == 405 || st == 414 || st == 431);
        char code[8];
        snprintf(code, sizeof(code), "%u ", st);
        FUZZ_CHECK(r.text && strncmp(r.text, code, 4) == 0);
        if (st == 414 || st == 431) {
            FUZZ_CHECK(too_big && !waited);
            FUZZ_CHECK((st == 414) == (line > pol.max_request_bytes));
        }
        if (st == 401) {
            FUZZ_CHECK(pol.token_len > 0 && strcmp(req.url, "/healthz") != 0);
            FUZZ_CHECK(!ref_authorized(token, req.authorization));
        }
        if (st == 404) FUZZ_CHECK(!known_path(&pol, req.url));
        if (st == 404 || st == 405)
            FUZZ_CHECK(ref_authorized(token, req.authorization) ||
                       strcmp(req.url, "/healthz") == 0);
        if (st == 405) {
            FUZZ_CHECK(known_path(&pol, req.url));
            FUZZ_CHECK(strcmp(req.method, "GET") != 0 && strcmp(req.method, "HEAD") != 0);
        }
    } else {
        FUZZ_CHECK(!too_big);
        FUZZ_CHECK(strcmp(req.method, "GET") == 0 || strcmp(req.method, "HEAD") == 0);
        FUZZ_CHECK(known_path(&pol, req.url));
        if (r.kind != HTTP_ROUTE_HEALTHZ) FUZZ_CHECK(ref_authorized(token, req.authorization));
        if (r.kind == HTTP_ROUTE_HEALTHZ) FUZZ_CHECK(strcmp(req.url, "/healthz") == 0);
        if (r.kind == HTTP_ROUTE_METRICS) FUZZ_CHECK(pol.have_metrics);
        if (r.kind == HTTP_ROUTE_PPROF_HEAP) FUZZ_CHECK(pol.have_pprof_heap && pol.pprof_enabled);
        if (r.kind == HTTP_ROUTE_MEMORY) FUZZ_CHECK(pol.have_memory_report);
        if (r.kind == HTTP_ROUTE_SCRAPE)
            FUZZ_CHECK(pol.have_scrape && (strcmp(req.url, "/scrape") == 0 || !pol.have_metrics));
    }

    check_accept(field[6]);
    check_accept(text); /* the whole input as one header value too */
    free(text);
    return 0;
}
