/* render_proxy (render.h): twemproxy's (nutcracker's) stats as memkv_proxy_* families. The
 * proxy answers no INFO and no MEMORY, so these are all there is of a proxy target: what its
 * stats port says, per proxy, per pool and per backend server. Figures the JSON lacked (-1
 * from the parser) are left out; the aggregated figures are as old as nutcracker's stats
 * interval (-i, 30 s by default), which memkv_proxy_stats_timestamp_seconds shows. */
#include "render.h"

#include <stddef.h>
#include <string.h>

typedef struct rw {
    metrics_writer *w;
    int err;
} rw;

static void keep(rw *c, int rc) {
    if (rc != 0 && c->err == 0) c->err = rc;
}

static void one(rw *c, const char *name, const char *help, metrics_type type, const char *unit,
                double v) {
    if (!(v >= 0)) return; /* absent */
    int rc = metrics_family_begin(c->w, name, help, type, unit);
    if (rc == 0) rc = metrics_sample_double(c->w, NULL, 0, v + 0.0); /* -0 → 0 */
    keep(c, rc);
}

/* A figure of every pool, or of every server: off is its offset in the struct. */
static void per_pool(rw *c, const proxy_stats *p, const char *name, const char *help,
                     metrics_type type, const char *unit, size_t off) {
    int any = 0;
    for (size_t i = 0; i < p->npools; i++)
        if (*(const double *)(const void *)((const char *)&p->pools[i] + off) >= 0) any = 1;
    if (!any) return;
    int rc = metrics_family_begin(c->w, name, help, type, unit);
    for (size_t i = 0; rc == 0 && i < p->npools; i++) {
        double v = *(const double *)(const void *)((const char *)&p->pools[i] + off);
        if (!(v >= 0)) continue;
        metrics_label l[] = {{"pool", p->pools[i].name}};
        rc = metrics_sample_double(c->w, l, 1, v + 0.0);
    }
    keep(c, rc);
}

static void per_server(rw *c, const proxy_stats *p, const char *name, const char *help,
                       metrics_type type, const char *unit, size_t off, double scale) {
    int any = 0;
    for (size_t i = 0; i < p->nservers; i++)
        if (*(const double *)(const void *)((const char *)&p->servers[i] + off) >= 0) any = 1;
    if (!any) return;
    int rc = metrics_family_begin(c->w, name, help, type, unit);
    for (size_t i = 0; rc == 0 && i < p->nservers; i++) {
        double v = *(const double *)(const void *)((const char *)&p->servers[i] + off);
        if (!(v >= 0)) continue;
        metrics_label l[] = {{"pool", p->servers[i].pool}, {"server", p->servers[i].name}};
        rc = metrics_sample_double(c->w, l, 2, v * scale + 0.0);
    }
    keep(c, rc);
}

#define POOL(c, p, name, help, type, unit, field)                                                  \
    per_pool((c), (p), (name), (help), (type), (unit), offsetof(proxy_pool, field))
#define SERVER(c, p, name, help, type, unit, field, scale)                                         \
    per_server((c), (p), (name), (help), (type), (unit), offsetof(proxy_server, field), (scale))

int render_proxy(metrics_writer *w, const proxy_stats *p) {
    if (!w || !p) return METRICS_ERR_ARG;
    rw c = {w, 0};

    int rc = metrics_family_begin(w, "memkv_proxy",
                                  "The twemproxy (nutcracker) answering on the stats port: its "
                                  "service name, version and source (host name); always 1.",
                                  METRICS_INFO, NULL);
    if (rc == 0) {
        metrics_label l[] = {
            {"service", p->service}, {"version", p->version}, {"source", p->source}};
        rc = metrics_sample_int(w, l, 3, 1);
    }
    keep(&c, rc);
    one(&c, "memkv_proxy_uptime_seconds", "Seconds since the proxy started (nutcracker uptime).",
        METRICS_GAUGE, "seconds", p->uptime);
    one(&c, "memkv_proxy_stats_timestamp_seconds",
        "Unix time of the proxy's last stats aggregation (nutcracker timestamp; its -i interval, "
        "30 s by default).",
        METRICS_GAUGE, "seconds", p->timestamp);
    one(&c, "memkv_proxy_connections",
        "Connections the proxy has open now: clients, servers and its own listeners (nutcracker "
        "curr_connections).",
        METRICS_GAUGE, NULL, p->curr_connections);
    one(&c, "memkv_proxy_connections_received",
        "Connections the proxy has opened or accepted since start (nutcracker "
        "total_connections).",
        METRICS_COUNTER, NULL, p->total_connections);

    POOL(&c, p, "memkv_proxy_client_connections",
         "Client connections open on a pool (nutcracker client_connections).", METRICS_GAUGE, NULL,
         client_connections);
    POOL(&c, p, "memkv_proxy_client_eof", "Client connections a pool saw closed (client_eof).",
         METRICS_COUNTER, NULL, client_eof);
    POOL(&c, p, "memkv_proxy_client_errors", "Errors on a pool's client connections (client_err).",
         METRICS_COUNTER, NULL, client_err);
    POOL(&c, p, "memkv_proxy_server_ejects",
         "Times a pool ejected a backend server (server_ejects).", METRICS_COUNTER, NULL,
         server_ejects);
    POOL(&c, p, "memkv_proxy_forward_errors",
         "Requests a pool could not forward to a server (forward_error).", METRICS_COUNTER, NULL,
         forward_error);
    POOL(&c, p, "memkv_proxy_fragments",
         "Fragments a pool created from multi-key requests (fragments).", METRICS_COUNTER, NULL,
         fragments);

    SERVER(&c, p, "memkv_proxy_server_connections",
           "Connections open from the proxy to a backend server (server_connections).",
           METRICS_GAUGE, NULL, server_connections, 1.0);
    SERVER(&c, p, "memkv_proxy_server_eof", "Server connections closed by the server (server_eof).",
           METRICS_COUNTER, NULL, server_eof, 1.0);
    SERVER(&c, p, "memkv_proxy_server_errors", "Errors on server connections (server_err).",
           METRICS_COUNTER, NULL, server_err, 1.0);
    SERVER(&c, p, "memkv_proxy_server_timeouts",
           "Timeouts on server connections (server_timedout).", METRICS_COUNTER, NULL,
           server_timedout, 1.0);
    SERVER(&c, p, "memkv_proxy_server_ejected_at_seconds",
           "Unix time the server was last ejected from its pool, 0 if never (server_ejected_at).",
           METRICS_GAUGE, "seconds", server_ejected_at, 1e-6);
    SERVER(&c, p, "memkv_proxy_server_requests", "Requests forwarded to the server (requests).",
           METRICS_COUNTER, NULL, requests, 1.0);
    SERVER(&c, p, "memkv_proxy_server_request_bytes",
           "Bytes of requests forwarded to the server (request_bytes).", METRICS_COUNTER, "bytes",
           request_bytes, 1.0);
    SERVER(&c, p, "memkv_proxy_server_responses", "Responses received from the server (responses).",
           METRICS_COUNTER, NULL, responses, 1.0);
    SERVER(&c, p, "memkv_proxy_server_response_bytes",
           "Bytes of responses received from the server (response_bytes).", METRICS_COUNTER,
           "bytes", response_bytes, 1.0);
    SERVER(&c, p, "memkv_proxy_server_in_queue_requests",
           "Requests waiting in the server's incoming queue (in_queue).", METRICS_GAUGE, NULL,
           in_queue, 1.0);
    SERVER(&c, p, "memkv_proxy_server_in_queue_bytes",
           "Bytes of requests waiting in the server's incoming queue (in_queue_bytes).",
           METRICS_GAUGE, "bytes", in_queue_bytes, 1.0);
    SERVER(&c, p, "memkv_proxy_server_out_queue_requests",
           "Requests sent to the server and awaiting a response (out_queue).", METRICS_GAUGE, NULL,
           out_queue, 1.0);
    SERVER(&c, p, "memkv_proxy_server_out_queue_bytes",
           "Bytes of requests sent to the server and awaiting a response (out_queue_bytes).",
           METRICS_GAUGE, "bytes", out_queue_bytes, 1.0);
    return c.err;
}
