/* The embedded HTTP endpoint on libmicrohttpd (metrics.h, "HTTP endpoint", says what it
 * serves and how it refuses).
 *
 * Ownership, the lesson of prometheus-client-c: a body a handler allocated (through the alloc
 * wrappers, ALLOC_SUB_HTTP) goes to MHD with metrics_buffer_free as its free callback, so MHD
 * hands it back to our allocator and never calls libc free() on it (MHD_RESPMEM_MUST_FREE
 * would). Static texts go as MHD_RESPMEM_PERSISTENT (MHD frees nothing). The index page is
 * ours, freed after MHD_stop_daemon.
 *
 * When to answer: MHD 0.9.75 closes the connection after a response queued on the first call
 * of the access handler (headers complete, body not yet read), and keeps it alive for one
 * queued on the second call (body complete). So a request without a body is answered on the
 * second call (Prometheus keeps its connection), and one that is refused or carries a body
 * (no path takes one) on the first: the body is never read, the connection closes.
 *
 * Per-request state needs no allocation: MHD's request pointer (`con_cls`) holds the raw
 * request-target length + 1, stored by the URI log callback, then &pending between the two
 * calls, then &answered. The request-completed callback so sees the requests MHD refused
 * itself (431 for headers over its pool: still a length) and counts them.
 *
 * Per connection (MHD's socket_context) an http_conn holds the deadline by which its next
 * request's headers must have arrived. MHD's own timeout is one of inactivity, which a client
 * sending a header byte a second never trips; the reaper thread shuts the socket of a
 * connection past its deadline down, and MHD, seeing the end of its input, closes it. The
 * list is guarded by conns_lock; MHD reports a connection closed (and we unlink it) before it
 * closes the descriptor, so the reaper never touches a descriptor that was reused. */
#include "metrics/metrics.h"

#include "alloc/alloc.h"

#include <microhttpd.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HTTP_DEFAULT_MAX_CONNECTIONS 64u
#define HTTP_DEFAULT_TIMEOUT 10u
#define HTTP_DEFAULT_MAX_REQUEST ((size_t)8 * 1024)
#define HTTP_MIN_REQUEST ((size_t)1024)
#define HTTP_MAX_REQUEST ((size_t)1024 * 1024)
#define HTTP_DEFAULT_THREADS 2u
#define HTTP_MAX_THREADS 16u
#define HTTP_ERR_LEN 256
/* Each header counts this much on top of its bytes: MHD keeps a 56-byte struct per header in
 * the connection's pool, so charging more makes our limit the one that bites (with an answer
 * that has a Content-Type) and not MHD's bare 431 — 600 headers "a: 1" are 6 KB on the wire
 * but 40 KB in the pool. */
#define HTTP_HEADER_COST 64

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_HTML "text/html; charset=utf-8"
#define CT_OCTET "application/octet-stream"

/* An open connection (MHD's socket_context), for the request deadline. */
typedef struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    _Atomic int64_t deadline_ms; /* monotonic; 0 while a request is being answered */
} http_conn;

struct http_endpoint {
    struct MHD_Daemon *daemon;
    http_handlers h;
    char token[sizeof(((http_config *)0)->token)];
    size_t token_len;
    int pprof_enabled;
    int actions_enabled;
    unsigned max_connections;
    size_t max_request_bytes;
    char name[64]; /* the index page's title */
    char *index;   /* the HTML of "/" (ours, PERSISTENT for MHD) */
    size_t index_len;
    /* MHD's messages while MHD_start_daemon runs go here (for http_start's err). */
    pthread_mutex_t log_lock;
    atomic_int starting;
    char start_err[HTTP_ERR_LEN];
    /* Counters (relaxed). */
    atomic_uint_fast64_t requests, errors_4xx, errors_5xx, unauthorized, refused;
    atomic_uint live; /* open connections, from the connection notifications */
    atomic_uint_fast64_t timed_out;
    /* The request deadline: open connections and the reaper thread. */
    unsigned timeout_s;
    pthread_mutex_t conns_lock;
    pthread_cond_t reaper_cond;
    http_conn *conns;
    pthread_t reaper;
    int reaper_running, reaper_stop;
};

/* Markers whose addresses mark state in MHD's per-request pointer. */
static const char pending = 0;  /* con_cls: checked, to be answered on the next call */
static const char answered = 0; /* con_cls: a response was queued for this request */

#define HTTP_REAP_INTERVAL_MS 250
/* The nice value of the threads that serve HTTP (Linux: per thread), as the profiler's worker:
 * where a scrape and the event loop want the same CPU, the event loop wins. */
#define HTTP_THREAD_NICE 10

static void lower_thread_priority(void) {
    static _Thread_local int done;
    if (done) return;
    done = 1;
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HTTP_THREAD_NICE);
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static http_conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The next request must have arrived by now + timeout (0 = no deadline while answering). */
static void conn_deadline(const http_endpoint *e, struct MHD_Connection *c, int set) {
    http_conn *hc = conn_of(c);
    if (hc)
        atomic_store_explicit(&hc->deadline_ms,
                              set ? monotonic_ms() + (int64_t)e->timeout_s * 1000 : 0,
                              memory_order_relaxed);
}

static void count(atomic_uint_fast64_t *c) {
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void http_config_default(http_config *c) {
    memset(c, 0, sizeof(*c));
    snprintf(c->bind, sizeof(c->bind), "%s", "127.0.0.1");
    c->port = 0;
    c->pprof_enabled = 1;
    c->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    c->timeout_seconds = HTTP_DEFAULT_TIMEOUT;
    c->max_request_bytes = HTTP_DEFAULT_MAX_REQUEST;
    c->threads = HTTP_DEFAULT_THREADS;
}

/* ---- responses -------------------------------------------------------------------------- */

/* A header value we may pass on: printable ASCII and tabs, no CR/LF (MHD refuses those). */
static int header_value_ok(const char *v) {
    if (!v || !v[0]) return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

static void count_status(http_endpoint *e, unsigned status) {
    count(&e->requests);
    if (status >= 400 && status < 500) count(&e->errors_4xx);
    if (status >= 500) count(&e->errors_5xx);
    if (status == MHD_HTTP_UNAUTHORIZED) count(&e->unauthorized);
}

/* Add the headers every response has (and those its status needs), queue it, drop our
 * reference. MHD_NO closes the connection (only when MHD is out of memory). */
static enum MHD_Result queue(http_endpoint *e, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *r, const char *ctype, const char *disposition,
                             const char *allow) {
    if (!header_value_ok(ctype)) ctype = CT_OCTET;
    int ok =
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff") == MHD_YES;
    if (ok && strncmp(ctype, "text/html", 9) == 0)
        ok = MHD_add_response_header(r, "Content-Security-Policy", HTTP_CSP) == MHD_YES &&
             MHD_add_response_header(r, "X-Frame-Options", "DENY") == MHD_YES &&
             MHD_add_response_header(r, "Referrer-Policy", "no-referrer") == MHD_YES;
    if (ok && header_value_ok(disposition))
        ok =
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition) == MHD_YES;
    if (ok && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow ? allow : "GET, HEAD") ==
             MHD_YES;
    if (ok && status == MHD_HTTP_UNAUTHORIZED)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                     "Bearer realm=\"memkv\"") == MHD_YES;
    /* Counted before it is queued: MHD may have sent it when MHD_queue_response returns. */
    count_status(e, ok ? status : MHD_HTTP_INTERNAL_SERVER_ERROR);
    enum MHD_Result rc = ok ? MHD_queue_response(c, status, r) : MHD_NO;
    if (ok && rc != MHD_YES) count(&e->errors_5xx);
    MHD_destroy_response(r); /* MHD keeps its own reference while sending */
    return rc;
}

/* A static body (never freed). */
static enum MHD_Result respond_static(http_endpoint *e, struct MHD_Connection *c, unsigned status,
                                      const char *ctype, const char *body, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        count_status(e, MHD_HTTP_INTERNAL_SERVER_ERROR);
        return MHD_NO;
    }
    return queue(e, c, status, r, ctype, NULL, NULL);
}

static enum MHD_Result respond_text(http_endpoint *e, struct MHD_Connection *c, unsigned status,
                                    const char *text, const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r) {
        count_status(e, MHD_HTTP_INTERNAL_SERVER_ERROR);
        return MHD_NO;
    }
    return queue(e, c, status, r, CT_TEXT, NULL, allow);
}

/* A handler's answer; the body is ours until MHD accepts it, then MHD frees it with
 * metrics_buffer_free when the response is destroyed. */
static enum MHD_Result respond_handler(http_endpoint *e, struct MHD_Connection *c, int rc,
                                       http_response *resp) {
    if (rc < 0) {
        metrics_buffer_free(resp->body);
        return respond_text(e, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "500 internal server error: the handler failed\n", NULL);
    }
    unsigned status = resp->status == 0 ? MHD_HTTP_OK : (unsigned)resp->status;
    if (resp->status < 0 || status < 100 || status > 599) status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (!resp->body) return respond_static(e, c, status, resp->content_type, "", 0);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        resp->len, resp->body, metrics_buffer_free);
    if (!r) {
        metrics_buffer_free(resp->body); /* MHD did not take it */
        count_status(e, MHD_HTTP_INTERNAL_SERVER_ERROR);
        return MHD_NO;
    }
    return queue(e, c, status, r, resp->content_type, resp->content_disposition, NULL);
}

/* ---- what to answer (pure) ------------------------------------------------------------ */

size_t http_header_cost(const char *key, const char *value) {
    /* "key: value\r\n", and what MHD's pool spends on keeping it */
    return strlen(key) + 2 + (value ? strlen(value) : 0) + 2 + HTTP_HEADER_COST;
}

/* 0 when the request line and headers fit in max_request_bytes, else the status to refuse
 * it with. MHD keeps the headers as parsed (whitespace around values trimmed), so this counts
 * at most a few bytes per header fewer than were sent, and HTTP_HEADER_COST more. */
static unsigned request_size_status(const http_route_policy *pol, const http_request *req) {
    size_t line = strlen(req->method) + 1 + req->target_len + 1 + strlen(req->version) + 2;
    if (line > pol->max_request_bytes) return MHD_HTTP_URI_TOO_LONG;
    if (line + req->header_bytes + 2 > pol->max_request_bytes)
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    return 0;
}

/* "Bearer <token>" with our token; constant time in the length of our token. */
static int authorized(const http_route_policy *pol, const char *v) {
    if (pol->token_len == 0) return 1;
    if (!v || strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t')) return 0;
    v += 6;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    volatile unsigned char diff = (unsigned char)(n != pol->token_len);
    for (size_t i = 0; i < pol->token_len; i++) {
        unsigned char got = i < n ? (unsigned char)v[i] : 0;
        diff |= (unsigned char)(got ^ (unsigned char)pol->token[i]);
    }
    return diff == 0;
}

/* The request announces a body (no path takes one). */
static int has_body(const http_request *req) {
    const char *cl = req->content_length;
    if (cl && strspn(cl, "0") != strlen(cl)) return 1; /* anything but "0", "00", … */
    return req->transfer_encoding != NULL;
}

static void text_route(http_route *out, unsigned status, const char *text) {
    out->kind = HTTP_ROUTE_TEXT;
    out->status = status;
    out->text = text;
}

static int in_list(const char *const *list, const char *s) {
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

#define ACTIONS_PREFIX "/debug/actions/"

static void route(const http_route_policy *pol, const http_request *req, http_route *out) {
    const char *url = req->url, *method = req->method;
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int healthz = strcmp(url, "/healthz") == 0;
    for (size_t i = 0; i < pol->nassets && pol->assets; i++) {
        if (strcmp(url, pol->assets[i].path) != 0) continue;
        if (!get) {
            text_route(out, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "405 method not allowed: use GET or HEAD\n");
            return;
        }
        out->kind = HTTP_ROUTE_ASSET;
        out->asset = &pol->assets[i];
        return;
    }
    if (!healthz && !authorized(pol, req->authorization)) {
        text_route(out, MHD_HTTP_UNAUTHORIZED,
                   "401 unauthorized: send \"Authorization: Bearer <token>\"\n");
        return;
    }
    http_route_kind kind = HTTP_ROUTE_WAIT;
    if (healthz)
        kind = HTTP_ROUTE_HEALTHZ;
    else if (strcmp(url, "/") == 0)
        kind = HTTP_ROUTE_INDEX;
    else if (strcmp(url, "/metrics") == 0 && pol->have_metrics)
        kind = HTTP_ROUTE_METRICS;
    else if ((strcmp(url, "/scrape") == 0 || strcmp(url, "/metrics") == 0) && pol->have_scrape)
        kind = HTTP_ROUTE_SCRAPE;
    else if (strcmp(url, "/debug/pprof/heap") == 0 && pol->pprof_enabled && pol->have_pprof_heap)
        kind = HTTP_ROUTE_PPROF_HEAP;
    else if (strcmp(url, "/debug/memory") == 0 && pol->have_memory_report)
        kind = HTTP_ROUTE_MEMORY;
    else if (in_list(pol->debug_paths, url))
        kind = HTTP_ROUTE_DEBUG;
    else if (strncmp(url, ACTIONS_PREFIX, strlen(ACTIONS_PREFIX)) == 0 &&
             in_list(pol->action_names, url + strlen(ACTIONS_PREFIX))) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
            text_route(out, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed: use POST\n");
            out->allow = "POST";
        } else if (pol->token_len == 0) {
            text_route(out, MHD_HTTP_FORBIDDEN,
                       "403 forbidden: actions need a token (metrics-token)\n");
        } else if (!pol->actions_enabled) {
            text_route(out, MHD_HTTP_FORBIDDEN,
                       "403 forbidden: actions are switched off (metrics-console-actions)\n");
        } else {
            out->kind = HTTP_ROUTE_ACTION;
            out->action = url + strlen(ACTIONS_PREFIX);
        }
        return;
    }
    if (kind == HTTP_ROUTE_WAIT) {
        text_route(out, MHD_HTTP_NOT_FOUND, "404 not found\n");
        return;
    }
    if (!get) {
        text_route(out, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed: use GET or HEAD\n");
        return;
    }
    out->kind = kind;
}

void http_route_decide(const http_route_policy *pol, const http_request *req, int first_call,
                       http_route *out) {
    memset(out, 0, sizeof(*out));
    if (!first_call) {
        route(pol, req, out);
        return;
    }
    unsigned too_big = request_size_status(pol, req);
    if (too_big == MHD_HTTP_URI_TOO_LONG)
        text_route(out, too_big, "414 URI too long\n");
    else if (too_big)
        text_route(out, too_big, "431 request header fields too large\n");
    else if (has_body(req))
        route(pol, req, out);
    else
        out->kind = HTTP_ROUTE_WAIT;
}

/* ---- MHD callbacks ------------------------------------------------------------------------ */

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value) {
    (void)kind;
    size_t *sum = cls;
    *sum += http_header_cost(key, value);
    return MHD_YES;
}

static void route_policy(const http_endpoint *e, http_route_policy *pol) {
    pol->token = e->token;
    pol->token_len = e->token_len;
    pol->pprof_enabled = e->pprof_enabled;
    pol->have_metrics = e->h.metrics != NULL;
    pol->have_pprof_heap = e->h.pprof_heap != NULL;
    pol->have_memory_report = e->h.memory_report != NULL;
    pol->have_scrape = e->h.scrape != NULL;
    pol->max_request_bytes = e->max_request_bytes;
    pol->assets = e->h.assets;
    pol->nassets = e->h.assets ? e->h.nassets : 0;
    pol->debug_paths = e->h.debug_json ? e->h.debug_paths : NULL;
    pol->action_names = e->h.action ? e->h.action_names : NULL;
    pol->actions_enabled = e->actions_enabled;
}

static const char *header(struct MHD_Connection *c, const char *name) {
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
    (void)kind;
    http_scrape_request *r = cls;
    if (r->nargs == HTTP_MAX_ARGS) {
        r->args_truncated = 1;
        return MHD_NO;
    }
    r->args[r->nargs].name = key ? key : "";
    r->args[r->nargs].value = value ? value : "";
    r->nargs++;
    return MHD_YES;
}

static void scrape_request(struct MHD_Connection *c, const char *url, http_scrape_request *r) {
    memset(r, 0, sizeof(*r));
    r->path = url;
    r->accept = header(c, MHD_HTTP_HEADER_ACCEPT);
    r->scrape_timeout = header(c, "X-Prometheus-Scrape-Timeout-Seconds");
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, r);
}

/* Answer as decided (never HTTP_ROUTE_WAIT). */
static enum MHD_Result answer(http_endpoint *e, struct MHD_Connection *c, const char *url,
                              const http_route *r) {
    http_response resp;
    memset(&resp, 0, sizeof(resp));
    int rc = 0;
    switch (r->kind) {
    case HTTP_ROUTE_WAIT: /* not reached */
    case HTTP_ROUTE_TEXT:
        return respond_text(e, c, r->status, r->text, r->allow);
    case HTTP_ROUTE_INDEX:
        return respond_static(e, c, MHD_HTTP_OK, CT_HTML, e->index, e->index_len);
    case HTTP_ROUTE_ASSET:
        return respond_static(e, c, MHD_HTTP_OK, r->asset->content_type,
                              (const char *)r->asset->data, r->asset->len);
    case HTTP_ROUTE_HEALTHZ:
        if (!e->h.healthz) return respond_text(e, c, MHD_HTTP_OK, "ok\n", NULL);
        rc = e->h.healthz(e->h.ctx, &resp);
        break;
    case HTTP_ROUTE_METRICS: /* the query string is ignored */
        rc = e->h.metrics(e->h.ctx, header(c, MHD_HTTP_HEADER_ACCEPT), &resp);
        break;
    case HTTP_ROUTE_PPROF_HEAP:
        rc = e->h.pprof_heap(
            e->h.ctx, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"), &resp);
        break;
    case HTTP_ROUTE_MEMORY:
        rc = e->h.memory_report(e->h.ctx, &resp);
        break;
    case HTTP_ROUTE_SCRAPE: {
        http_scrape_request sr;
        scrape_request(c, url, &sr);
        rc = e->h.scrape(e->h.ctx, &sr, &resp);
        break;
    }
    case HTTP_ROUTE_DEBUG: {
        http_scrape_request sr;
        scrape_request(c, url, &sr);
        rc = e->h.debug_json(e->h.ctx, &sr, &resp);
        break;
    }
    case HTTP_ROUTE_ACTION:
        rc = e->h.action(e->h.ctx, r->action, &resp);
        break;
    }
    return respond_handler(e, c, rc, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)upload_data;
    http_endpoint *e = cls;
    if (*con_cls == &answered) { /* body bytes after our answer: dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    http_route_policy pol;
    route_policy(e, &pol);
    http_request req = {
        .method = method,
        .url = url,
        .version = version,
        .authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
        .content_length = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH),
        .transfer_encoding = header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING),
    };
    http_route r;
    if (*con_cls == &pending) { /* second call: the request is complete */
        *con_cls = (void *)(uintptr_t)&answered;
        http_route_decide(&pol, &req, 0, &r);
        return answer(e, c, url, &r);
    }
    /* First call: the headers are complete, in time. */
    conn_deadline(e, c, 0);
    req.target_len = *con_cls ? (size_t)((uintptr_t)*con_cls - 1) : strlen(url);
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &req.header_bytes);
    http_route_decide(&pol, &req, 1, &r);
    if (r.kind == HTTP_ROUTE_WAIT) {
        *con_cls = (void *)(uintptr_t)&pending;
        return MHD_YES;
    }
    *con_cls = (void *)(uintptr_t)&answered;
    return answer(e, c, url, &r);
}

/* Called once the request line is read, with the raw request-target (query included). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    return (void *)(uintptr_t)(strlen(uri) + 1);
}

/* A request that got its request line but never reached on_request and ended in an error was
 * refused by MHD itself (431: headers over the connection's memory pool, or 400). */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    http_endpoint *e = cls;
    if (*con_cls != NULL && *con_cls != &answered && *con_cls != &pending &&
        toe == MHD_REQUEST_TERMINATED_WITH_ERROR) {
        count(&e->requests);
        count(&e->errors_4xx);
    }
    *con_cls = NULL;
    conn_deadline(e, c, 1); /* the next request on this connection */
}

/* The connection limit: refusing here (MHD closes the socket at once) is counted, whereas at
 * MHD's own limit it stops accepting and connections wait unseen in the listen backlog. With
 * several threads two may admit at once, so up to threads - 1 connections over the limit. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
    (void)addr;
    (void)addrlen;
    http_endpoint *e = cls;
    if (atomic_load_explicit(&e->live, memory_order_relaxed) >= e->max_connections) {
        count(&e->refused);
        return MHD_NO;
    }
    return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    http_endpoint *e = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        lower_thread_priority(); /* MHD's polling thread that will serve this connection */
        http_conn *hc = alloc_calloc(ALLOC_SUB_HTTP, sizeof(*hc));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        hc->fd = ci ? (int)ci->connect_fd : -1;
        atomic_store(&hc->deadline_ms, monotonic_ms() + (int64_t)e->timeout_s * 1000);
        pthread_mutex_lock(&e->conns_lock);
        hc->next = e->conns;
        if (e->conns) e->conns->prev = hc;
        e->conns = hc;
        pthread_mutex_unlock(&e->conns_lock);
        atomic_fetch_add_explicit(&e->live, 1, memory_order_relaxed);
        *socket_context = hc;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        http_conn *hc = *socket_context;
        pthread_mutex_lock(&e->conns_lock);
        if (hc->prev)
            hc->prev->next = hc->next;
        else
            e->conns = hc->next;
        if (hc->next) hc->next->prev = hc->prev;
        pthread_mutex_unlock(&e->conns_lock);
        alloc_free(ALLOC_SUB_HTTP, hc);
        atomic_fetch_sub_explicit(&e->live, 1, memory_order_relaxed);
        *socket_context = NULL;
    }
}

/* Every HTTP_REAP_INTERVAL_MS: connections past their request deadline are shut down (MHD
 * then reads the end of the stream and closes them on its own thread). */
static void *reaper_main(void *arg) {
    http_endpoint *e = arg;
    pthread_mutex_lock(&e->conns_lock);
    while (!e->reaper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += HTTP_REAP_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&e->reaper_cond, &e->conns_lock, &ts);
        if (e->reaper_stop) break;
        int64_t now = monotonic_ms();
        for (http_conn *hc = e->conns; hc; hc = hc->next) {
            int64_t d = atomic_load_explicit(&hc->deadline_ms, memory_order_relaxed);
            if (d == 0 || now < d || hc->fd < 0) continue;
            atomic_store_explicit(&hc->deadline_ms, 0, memory_order_relaxed);
            shutdown(hc->fd, SHUT_RDWR);
            count(&e->timed_out);
        }
    }
    pthread_mutex_unlock(&e->conns_lock);
    return NULL;
}

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap) {
    http_endpoint *e = cls;
    char msg[HTTP_ERR_LEN];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (atomic_load(&e->starting)) {
        pthread_mutex_lock(&e->log_lock);
        if (!e->start_err[0]) memcpy(e->start_err, msg, n + 1); /* the first says why */
        pthread_mutex_unlock(&e->log_lock);
    }
    if (e->h.log) e->h.log(e->h.ctx, msg);
}

/* ---- start and stop ----------------------------------------------------------------------- */

static void build_index(http_endpoint *e) {
    char head[256];
    snprintf(head, sizeof(head),
             "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n"
             "<body>\n<h1>%s</h1>\n<ul>\n",
             e->name, e->name);
    static const char metrics[] = "<li><a href=\"/metrics\">/metrics</a> &mdash; Prometheus "
                                  "metrics (text 0.0.4, or OpenMetrics 1.0 when asked)</li>\n";
    static const char pprof[] =
        "<li><a href=\"/debug/pprof/heap\">/debug/pprof/heap</a> &mdash; heap profile "
        "(<code>?format=pprof|raw|collapsed|svg</code>; pprof is the default): "
        "<a href=\"/debug/pprof/heap?format=svg\">flame graph</a></li>\n";
    static const char memory[] = "<li><a href=\"/debug/memory\">/debug/memory</a> &mdash; "
                                 "memory report (JSON)</li>\n";
    static const char scrape[] =
        "<li><code>/scrape?target=host:port</code> &mdash; the metrics of another server "
        "(<code>&amp;auth=NAME</code> for credentials from the config file)</li>\n";
    static const char healthz[] = "<li><a href=\"/healthz\">/healthz</a> &mdash; liveness "
                                  "(no token needed)</li>\n";
    static const char tail[] = "</ul>\n</body></html>\n";
    const char *parts[7];
    size_t n = 0;
    parts[n++] = head;
    if (e->h.metrics || e->h.scrape) parts[n++] = metrics;
    if (e->h.scrape) parts[n++] = scrape;
    if (e->pprof_enabled && e->h.pprof_heap) parts[n++] = pprof;
    if (e->h.memory_report) parts[n++] = memory;
    parts[n++] = healthz;
    parts[n++] = tail;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]);
    e->index = alloc_malloc(ALLOC_SUB_HTTP, len + 1);
    e->index_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(e->index + e->index_len, parts[i], l);
        e->index_len += l;
    }
    e->index[e->index_len] = '\0';
}

static void endpoint_free(http_endpoint *e) {
    if (!e) return;
    if (e->reaper_running) {
        pthread_mutex_lock(&e->conns_lock);
        e->reaper_stop = 1;
        pthread_cond_signal(&e->reaper_cond);
        pthread_mutex_unlock(&e->conns_lock);
        pthread_join(e->reaper, NULL);
    }
    pthread_cond_destroy(&e->reaper_cond);
    pthread_mutex_destroy(&e->conns_lock);
    pthread_mutex_destroy(&e->log_lock);
    alloc_free(ALLOC_SUB_HTTP, e->index);
    alloc_free(ALLOC_SUB_HTTP, e);
}

/* Exactly cfg->bind, numeric, into *ss with the port. */
static int make_sockaddr(const char *bind, int port, struct sockaddr_storage *ss, socklen_t *sslen,
                         char *err, size_t errcap) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    int rc = getaddrinfo(bind, NULL, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errcap, "bind address \"%.64s\" is not a numeric IPv4 or IPv6 address (%s)",
                 bind, rc != 0 ? gai_strerror(rc) : "no result");
        if (ai) freeaddrinfo(ai);
        return -1;
    }
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(*ss)) {
        snprintf(err, errcap, "bind address \"%.64s\": unsupported address family", bind);
        freeaddrinfo(ai);
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

http_endpoint *http_start(const http_config *cfg, const http_handlers *h, int *bound_port,
                          char *err, size_t errcap) {
    char dummy[1];
    if (!err || errcap == 0) {
        err = dummy;
        errcap = sizeof(dummy);
    }
    err[0] = '\0';
    if (!cfg || !h) {
        snprintf(err, errcap, "no configuration or handlers");
        return NULL;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        snprintf(err, errcap, "port %d out of range (0 to 65535)", cfg->port);
        return NULL;
    }
    size_t token_len = strnlen(cfg->token, sizeof(cfg->token));
    if (token_len == sizeof(cfg->token)) {
        snprintf(err, errcap, "token not NUL-terminated");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    char bind[sizeof(cfg->bind)];
    snprintf(bind, sizeof(bind), "%.*s", (int)(sizeof(cfg->bind) - 1), cfg->bind);
    if (make_sockaddr(bind, cfg->port, &ss, &sslen, err, errcap) < 0) return NULL;

    http_endpoint *e = alloc_calloc(ALLOC_SUB_HTTP, sizeof(*e));
    e->h = *h;
    memcpy(e->token, cfg->token, token_len + 1);
    e->token_len = token_len;
    e->pprof_enabled = cfg->pprof_enabled != 0;
    e->actions_enabled = cfg->actions_enabled != 0;
    snprintf(e->name, sizeof(e->name), "%.*s", (int)sizeof(cfg->name) - 1,
             cfg->name[0] ? cfg->name : "memkv");
    e->max_connections = cfg->max_connections ? cfg->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
    size_t maxreq = cfg->max_request_bytes ? cfg->max_request_bytes : HTTP_DEFAULT_MAX_REQUEST;
    if (maxreq < HTTP_MIN_REQUEST) maxreq = HTTP_MIN_REQUEST;
    if (maxreq > HTTP_MAX_REQUEST) maxreq = HTTP_MAX_REQUEST;
    e->max_request_bytes = maxreq;
    unsigned timeout = cfg->timeout_seconds ? cfg->timeout_seconds : HTTP_DEFAULT_TIMEOUT;
    unsigned threads = cfg->threads ? cfg->threads : HTTP_DEFAULT_THREADS;
    if (threads > HTTP_MAX_THREADS) threads = HTTP_MAX_THREADS;
    pthread_mutex_init(&e->log_lock, NULL);
    e->timeout_s = timeout;
    pthread_mutex_init(&e->conns_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->reaper_cond, &ca);
    pthread_condattr_destroy(&ca);
    build_index(e);

    /* MHD's pool holds the request as read (≈ pool - 330 bytes fit) and then the response
     * headers; twice our limit leaves room to answer an over-limit request ourselves. */
    size_t pool = 2 * maxreq + 4096;
    /* MHD's own connection limit is only a backstop above ours (on_accept): each pool thread
     * gets a share of it, and no share may be reached before the global limit is. */
    unsigned mhd_limit = threads * (e->max_connections + threads);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (cfg->thread_per_connection) { /* epoll and a pool are for the polling model only */
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
        threads = 1;
        mhd_limit = e->max_connections + 1;
    } else {
        flags |=
            MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    }
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;

    /* The pool size only with a pool: MHD logs a warning for a size of 0. */
    struct MHD_OptionItem pool_opt[] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
                                        {MHD_OPTION_END, 0, NULL}};
    if (threads <= 1) pool_opt[0].option = MHD_OPTION_END;

    atomic_store(&e->starting, 1);
    errno = 0;
    /* MHD_USE_ERROR_LOG goes to on_log only (first option, as MHD asks), never to stderr. */
    e->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, on_accept, e, on_request, e, MHD_OPTION_EXTERNAL_LOGGER, on_log,
        e, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, e, MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, e, MHD_OPTION_ARRAY, pool_opt, MHD_OPTION_END);
    int saved_errno = errno;
    atomic_store(&e->starting, 0);
    (void)sslen;
    if (!e->daemon) {
        pthread_mutex_lock(&e->log_lock);
        if (e->start_err[0])
            snprintf(err, errcap, "%s", e->start_err);
        else
            snprintf(err, errcap, "libmicrohttpd could not start on %.64s port %d%s%s", bind,
                     cfg->port, saved_errno ? ": " : "", saved_errno ? strerror(saved_errno) : "");
        pthread_mutex_unlock(&e->log_lock);
        endpoint_free(e);
        return NULL;
    }
    /* The reaper takes no signals (they stay with the threads that handle them). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e->reaper_running = pthread_create(&e->reaper, NULL, reaper_main, e) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!e->reaper_running) {
        snprintf(err, errcap, "cannot start the HTTP endpoint's reaper thread");
        MHD_stop_daemon(e->daemon);
        endpoint_free(e);
        return NULL;
    }
    pthread_setname_np(e->reaper, "memkv-http-reap");
    if (bound_port) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(e->daemon, MHD_DAEMON_INFO_BIND_PORT);
        int port = info ? (int)info->port : 0;
        if (port == 0) { /* older MHD: ask the listening socket */
            info = MHD_get_daemon_info(e->daemon, MHD_DAEMON_INFO_LISTEN_FD);
            struct sockaddr_storage got;
            socklen_t gotlen = sizeof(got);
            if (info && getsockname(info->listen_fd, (struct sockaddr *)&got, &gotlen) == 0)
                port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                       : ((struct sockaddr_in *)&got)->sin_port);
        }
        *bound_port = port;
    }
    return e;
}

void http_stop(http_endpoint *e) {
    if (!e) return;
    if (e->daemon) MHD_stop_daemon(e->daemon);
    endpoint_free(e);
}

void http_stats_get(const http_endpoint *e, http_stats *out) {
    memset(out, 0, sizeof(*out));
    if (!e) return;
    out->requests = atomic_load_explicit(&e->requests, memory_order_relaxed);
    out->errors_4xx = atomic_load_explicit(&e->errors_4xx, memory_order_relaxed);
    out->errors_5xx = atomic_load_explicit(&e->errors_5xx, memory_order_relaxed);
    out->unauthorized = atomic_load_explicit(&e->unauthorized, memory_order_relaxed);
    out->connections_refused = atomic_load_explicit(&e->refused, memory_order_relaxed);
    out->connections = atomic_load_explicit(&e->live, memory_order_relaxed);
    out->connections_timed_out = atomic_load_explicit(&e->timed_out, memory_order_relaxed);
}
