/* target — address parsing and the kept-connection table (see target.h). */
#include "target.h"

#include "alloc/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int fail(char *err, size_t errcap, const char *msg) {
    if (err && errcap) snprintf(err, errcap, "%s", msg);
    return -1;
}

static int is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static int is_v6_char(char c) {
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

/* Port digits [s, e): 1…65535, or -1. */
int target_parse_port(const char *s, const char *e, int min) {
    if (s == e || e - s > 5) return -1;
    int v = 0;
    for (const char *p = s; p < e; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= min && v <= 65535 ? v : -1;
}

static int starts_with_ci(const char *s, const char *prefix) {
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int target_parse(const char *text, target_addr *out, char *err, size_t errcap) {
    if (!text || !out) return fail(err, errcap, "no target");
    memset(out, 0, sizeof(*out));
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return fail(err, errcap, "control character in target");
    if (!*text) return fail(err, errcap, "empty target");
    if (strlen(text) >= TARGET_KEY_MAX - 16) return fail(err, errcap, "target too long");

    static const char *const tls[] = {"rediss://", "valkeys://", "tls://", "https://", "http://"};
    for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
        if (starts_with_ci(text, tls[i]))
            return fail(err, errcap,
                        i < 4 ? "TLS targets are not supported (plain TCP or unix sockets only)"
                              : "not a Redis-protocol target (http://)");
    if (strchr(text, '@'))
        return fail(err, errcap,
                    "credentials in the target are refused: use an auth entry of the config "
                    "file (auth=NAME)");
    if (strchr(text, '?') || strchr(text, '#'))
        return fail(err, errcap, "query or fragment in the target");

    const char *rest = text;
    int default_port = TARGET_DEFAULT_PORT;
    if (starts_with_ci(text, "unix://")) {
        const char *path = text + 7;
        if (path[0] != '/') return fail(err, errcap, "unix:// needs an absolute path");
        if (strlen(path) >= TARGET_PATH_MAX) return fail(err, errcap, "unix socket path too long");
        out->is_unix = 1;
        snprintf(out->path, sizeof(out->path), "%s", path);
        snprintf(out->canonical, sizeof(out->canonical), "unix://%s", path);
        return 0;
    } else if (starts_with_ci(text, "redis://")) {
        rest = text + 8;
    } else if (starts_with_ci(text, "valkey://")) {
        rest = text + 9;
    } else if (starts_with_ci(text, "proxy://")) {
        rest = text + 8;
        out->is_proxy = 1;
    } else if (starts_with_ci(text, "twemproxy://")) {
        rest = text + 12;
        out->is_proxy = 1;
    } else if (strstr(text, "://")) {
        return fail(err, errcap, "unknown scheme (redis://, valkey://, unix://, proxy://)");
    }
    if (out->is_proxy) default_port = TARGET_DEFAULT_PROXY_PORT;

    /* Strip a "/" or "/N" suffix (a Redis URL's database number). */
    const char *end = rest + strlen(rest);
    const char *slash = strchr(rest, '/');
    if (slash) {
        for (const char *p = slash + 1; p < end; p++)
            if (*p < '0' || *p > '9') return fail(err, errcap, "unexpected path in the target");
        if (end - slash > 6) return fail(err, errcap, "unexpected path in the target");
        end = slash;
    }
    if (rest == end) return fail(err, errcap, "no host in the target");

    const char *host, *host_end, *port_s = NULL;
    int v6 = 0;
    if (*rest == '[') {
        const char *close = memchr(rest, ']', (size_t)(end - rest));
        if (!close) return fail(err, errcap, "unbalanced '[' in the target");
        host = rest + 1;
        host_end = close;
        if (host == host_end) return fail(err, errcap, "empty IPv6 address");
        for (const char *p = host; p < host_end; p++)
            if (!is_v6_char(*p)) return fail(err, errcap, "invalid IPv6 address");
        if (close + 1 < end) {
            if (close[1] != ':') return fail(err, errcap, "garbage after ']'");
            port_s = close + 2;
        }
        v6 = 1;
    } else {
        const char *colon = memchr(rest, ':', (size_t)(end - rest));
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return fail(err, errcap, "an IPv6 address needs brackets: [addr]:port");
        host = rest;
        host_end = colon ? colon : end;
        if (host == host_end) return fail(err, errcap, "no host in the target");
        for (const char *p = host; p < host_end; p++)
            if (!is_host_char(*p)) return fail(err, errcap, "invalid character in the host");
        if (colon) port_s = colon + 1;
    }
    if ((size_t)(host_end - host) >= TARGET_HOST_MAX) return fail(err, errcap, "host too long");
    int port = default_port;
    if (port_s) {
        port = target_parse_port(port_s, end, 1);
        if (port < 0) return fail(err, errcap, "invalid port (1-65535)");
    }
    memcpy(out->host, host, (size_t)(host_end - host));
    out->host[host_end - host] = '\0';
    out->port = port;
    snprintf(out->canonical, sizeof(out->canonical), "%s%s%s%s:%d", out->is_proxy ? "proxy://" : "",
             v6 ? "[" : "", out->host, v6 ? "]" : "", port);
    return 0;
}

/* ---- the table ---- */

typedef struct entry {
    char key[TARGET_KEY_MAX + 80]; /* canonical '\n' auth */
    int fd;                        /* -1: none kept */
    uint64_t last_used;            /* a tick, for LRU */
    target_memory mem;
} entry;

struct target_table {
    pthread_mutex_t lock;
    entry *e;
    size_t n, max;
    uint64_t tick;
};

target_table *target_table_new(size_t max_entries) {
    if (max_entries == 0) max_entries = 1;
    target_table *t = alloc_calloc(ALLOC_SUB_OTHER, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->e = alloc_calloc(ALLOC_SUB_OTHER, max_entries * sizeof(entry));
    t->max = max_entries;
    return t;
}

void target_table_free(target_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].fd >= 0) close(t->e[i].fd);
    pthread_mutex_destroy(&t->lock);
    alloc_free(ALLOC_SUB_OTHER, t->e);
    alloc_free(ALLOC_SUB_OTHER, t);
}

static void make_key(char *key, size_t cap, const char *canonical, const char *auth) {
    snprintf(key, cap, "%s\n%s", canonical ? canonical : "", auth ? auth : "");
}

static entry *find(target_table *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->e[i].key, key) == 0) return &t->e[i];
    return NULL;
}

int target_conn_take(target_table *t, const char *canonical, const char *auth, target_memory *mem) {
    char key[sizeof(((entry *)0)->key)];
    make_key(key, sizeof(key), canonical, auth);
    if (mem) memset(mem, 0, sizeof(*mem));
    int fd = -1;
    pthread_mutex_lock(&t->lock);
    entry *e = find(t, key);
    if (e) {
        fd = e->fd;
        e->fd = -1;
        e->last_used = ++t->tick;
        if (mem) *mem = e->mem;
    }
    pthread_mutex_unlock(&t->lock);
    return fd;
}

void target_conn_put(target_table *t, const char *canonical, const char *auth, int fd,
                     const target_memory *mem) {
    char key[sizeof(((entry *)0)->key)];
    make_key(key, sizeof(key), canonical, auth);
    int to_close = -1;
    pthread_mutex_lock(&t->lock);
    entry *e = find(t, key);
    if (!e) {
        if (t->n < t->max) {
            e = &t->e[t->n++];
        } else { /* evict the least recently used entry */
            e = &t->e[0];
            for (size_t i = 1; i < t->n; i++)
                if (t->e[i].last_used < e->last_used) e = &t->e[i];
            to_close = e->fd;
        }
        memset(e, 0, sizeof(*e));
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->fd = -1;
    }
    if (mem) e->mem = *mem;
    e->last_used = ++t->tick;
    if (fd >= 0) {
        if (e->fd < 0) {
            e->fd = fd;
            fd = -1;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (fd >= 0) close(fd); /* a spare: the slot already holds one */
    if (to_close >= 0) close(to_close);
}

size_t target_table_kept(target_table *t) {
    size_t k = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].fd >= 0) k++;
    pthread_mutex_unlock(&t->lock);
    return k;
}

size_t target_table_entries(target_table *t) {
    pthread_mutex_lock(&t->lock);
    size_t n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}
