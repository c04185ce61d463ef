/* The memory console's JSON (metrics.h, "the console's JSON"): /debug/console from the
 * published state, and /debug/history from the copy of the memory history kept here. */
#include "metrics/metrics.h"

#include "alloc/alloc.h"
#include "metrics/json.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- the history copy ---- */

static struct {
    pthread_mutex_t lock;
    metrics_history_point *ring;
    size_t cap, n, head; /* head: where the next point goes */
    int64_t interval_ms;
} hist = {.lock = PTHREAD_MUTEX_INITIALIZER};

void metrics_history_reset(size_t cap, int64_t interval_ms) {
    metrics_history_point *ring =
        cap ? alloc_calloc(ALLOC_SUB_KEYSPACE_STATS, cap * sizeof(*ring)) : NULL;
    pthread_mutex_lock(&hist.lock);
    metrics_history_point *old = hist.ring;
    hist.ring = ring;
    hist.cap = cap;
    hist.n = hist.head = 0;
    hist.interval_ms = interval_ms;
    pthread_mutex_unlock(&hist.lock);
    alloc_free(ALLOC_SUB_KEYSPACE_STATS, old);
}

void metrics_history_append(const metrics_history_point *p) {
    pthread_mutex_lock(&hist.lock);
    if (hist.cap) {
        hist.ring[hist.head] = *p;
        hist.head = (hist.head + 1) % hist.cap;
        if (hist.n < hist.cap) hist.n++;
    }
    pthread_mutex_unlock(&hist.lock);
}

char *metrics_history_json(int64_t since_ms, size_t *len) {
    /* Copied out under the lock, written without it. */
    pthread_mutex_lock(&hist.lock);
    size_t n = 0, cap = hist.cap;
    int64_t interval = hist.interval_ms;
    metrics_history_point *pts =
        hist.n ? alloc_malloc(ALLOC_SUB_HTTP, hist.n * sizeof(*pts)) : NULL;
    for (size_t i = 0; i < hist.n; i++) {
        const metrics_history_point *p = &hist.ring[(hist.head + hist.cap - hist.n + i) % hist.cap];
        if (p->t_ms > since_ms) pts[n++] = *p;
    }
    pthread_mutex_unlock(&hist.lock);

    json_buf jb, *j = &jb;
    json_init(j);
    json_obj(j, NULL);
    json_int(j, "interval_ms", interval);
    json_uint(j, "capacity", cap);
    json_arr(j, "fields");
    json_str(j, NULL, "t_ms");
    json_str(j, NULL, "used");
    json_str(j, NULL, "rss");
    json_str(j, NULL, "keys");
    for (int s = 0; s < ALLOC_SUB_COUNT && s < METRICS_MAX_SUBSYSTEMS; s++)
        json_str(j, NULL, alloc_sub_name((alloc_sub)s));
    json_arr_end(j);
    json_arr(j, "points");
    for (size_t i = 0; i < n; i++) {
        json_arr(j, NULL);
        json_int(j, NULL, pts[i].t_ms);
        json_uint(j, NULL, pts[i].used);
        json_uint(j, NULL, pts[i].rss);
        json_uint(j, NULL, pts[i].keys);
        for (int s = 0; s < ALLOC_SUB_COUNT && s < METRICS_MAX_SUBSYSTEMS; s++)
            json_uint(j, NULL, pts[i].sub[s]);
        json_arr_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
    alloc_free(ALLOC_SUB_HTTP, pts);
    return json_take(j, len);
}

/* ---- /debug/console ---- */

/* A fixed-size char array that may lack its NUL, as a string. */
#define FIXED_STR(dst, src) snprintf((dst), sizeof(dst), "%.*s", (int)sizeof(src), (src))

static void keyspace_json(json_buf *j, const metrics_server_state *s) {
    const metrics_keyspace *k = &s->keyspace;
    json_obj(j, "keyspace");
    json_bool(j, "enabled", k->enabled);
    json_arr(j, "types");
    for (int t = 0; k->enabled && t < METRICS_KS_TYPES; t++) {
        json_obj(j, NULL);
        json_str(j, "type", k->types[t].type);
        json_uint(j, "keys", k->types[t].keys);
        json_uint(j, "bytes", k->types[t].bytes);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_arr(j, "ttl");
    for (int b = 0; k->enabled && b < METRICS_KS_TTL_BUCKETS; b++) {
        json_obj(j, NULL);
        json_str(j, "bucket", k->ttl[b].bucket);
        json_uint(j, "keys", k->ttl[b].keys);
        json_uint(j, "bytes", k->ttl[b].bytes);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_bool(j, "prefixes_enabled", k->prefixes_enabled);
    json_arr(j, "prefixes");
    char name[METRICS_KS_PREFIX_NAMES + 1];
    for (size_t i = 0; i < k->nprefixes && i < METRICS_KS_PREFIXES; i++) {
        uint32_t off = k->prefixes[i].off, plen = k->prefixes[i].len;
        if (off > METRICS_KS_PREFIX_NAMES || plen > METRICS_KS_PREFIX_NAMES - off) break;
        memcpy(name, k->prefix_names + off, plen);
        name[plen] = '\0'; /* a NUL inside shows the name cut: prefixes are printable keys */
        json_obj(j, NULL);
        json_str(j, "prefix", name);
        json_uint(j, "keys", k->prefixes[i].keys);
        json_uint(j, "bytes", k->prefixes[i].bytes);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj(j, "prefix_other");
    json_uint(j, "keys", k->prefix_other_keys);
    json_uint(j, "bytes", k->prefix_other_bytes);
    json_obj_end(j);
    json_arr(j, "top_keys");
    for (size_t i = 0; i < s->ntop_keys && i < METRICS_TOP_KEYS; i++) {
        const metrics_top_key *t = &s->top_keys[i];
        char key[sizeof(t->key) + 1];
        FIXED_STR(key, t->key);
        json_obj(j, NULL);
        json_str(j, "key", key);
        json_int(j, "db", t->db);
        json_str(j, "type", t->type);
        json_uint(j, "bytes", t->bytes);
        json_uint(j, "length", t->length);
        json_int(j, "ttl_ms", t->ttl_ms);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
}

static void clients_json(json_buf *j, const metrics_server_state *s) {
    json_obj(j, "clients");
    json_uint(j, "connected", s->connected_clients);
    json_arr(j, "largest");
    for (size_t i = 0; i < s->nclient_buffers && i < METRICS_TOP_CLIENTS; i++) {
        const metrics_client_buffers *c = &s->client_buffers[i];
        char addr[sizeof(c->addr) + 1], name[sizeof(c->name) + 1], cmd[sizeof(c->cmd) + 1];
        FIXED_STR(addr, c->addr);
        FIXED_STR(name, c->name);
        FIXED_STR(cmd, c->cmd);
        json_obj(j, NULL);
        json_uint(j, "id", c->id);
        json_str(j, "addr", addr);
        json_str(j, "name", name);
        json_str(j, "cmd", cmd);
        json_uint(j, "query_buffer", c->qbuf);
        json_uint(j, "output_buffer", c->obuf);
        json_uint(j, "total", c->total);
        json_int(j, "age_s", c->age_s);
        json_int(j, "idle_s", c->idle_s);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
}

char *metrics_console_json(const metrics_inputs *in, const metrics_console_actions *act,
                           size_t *len) {
    json_buf jb, *j = &jb;
    json_init(j);
    json_obj(j, NULL);
    char version[sizeof(in->server.version) + 1];
    FIXED_STR(version, in->server.version);
    json_str(j, "version", version);
    json_double(j, "start_time_seconds", in->server.start_time_seconds);
    keyspace_json(j, &in->server);
    clients_json(j, &in->server);
    json_obj(j, "actions");
    json_bool(j, "enabled", act && act->enabled);
    json_bool(j, "token", act && act->has_token);
    const char *why = "";
    if (!act || !act->enabled)
        why = "actions are switched off: CONFIG SET metrics-console-actions yes";
    else if (!act->has_token)
        why = "actions need a token: CONFIG SET metrics-token <secret>";
    json_str(j, "why_disabled", why);
    json_obj_end(j);
    json_obj_end(j);
    return json_take(j, len);
}
