/* proxy_stats_parse (parse.h): the JSON twemproxy (nutcracker) writes on its stats port.
 *
 *   {"service":"nutcracker", "source":"host", "version":"0.5.0", "uptime":4,
 *    "timestamp":1796586335, "total_connections":7, "curr_connections":6,
 *    "<pool>": {"client_eof":0, …, "fragments":0,
 *               "<server>": {"server_eof":0, …, "out_queue_bytes":0}, …}, …}
 *
 * A small strict JSON reader of its own (RFC 8259 syntax: strings with escapes, numbers,
 * literals, nesting), recursive with a bounded depth. Objects at the top level are pools,
 * objects inside a pool are servers; known keys are read, everything else is checked for
 * syntax and skipped. A key given twice keeps its last value; a pool or server named twice
 * (or two names equal once cut to the field's size) keeps the first. */
#include "parse.h"

#include "alloc/alloc.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 32
#define PROXY_MAX_POOLS 256
#define PROXY_MAX_SERVERS 4096

typedef struct jr {
    const char *s;
    size_t n, i;
    char *err;
    size_t errcap;
    int failed;
    proxy_stats *out;
    size_t pools_cap, servers_cap;
} jr;

static int fail(jr *r, const char *msg) {
    if (!r->failed && r->err && r->errcap) snprintf(r->err, r->errcap, "%s at byte %zu", msg, r->i);
    r->failed = 1;
    return -1;
}

static void ws(jr *r) {
    while (r->i < r->n) {
        char c = r->s[r->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        r->i++;
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(jr *r, unsigned *out) {
    if (r->n - r->i < 4) return fail(r, "bad \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(r->s[r->i + (size_t)k]);
        if (h < 0) return fail(r, "bad \\u escape");
        v = v << 4 | (unsigned)h;
    }
    r->i += 4;
    *out = v;
    return 0;
}

/* The length of b[0..len) without a UTF-8 sequence cut at its end. */
static size_t utf8_trim(const char *b, size_t len) {
    size_t j = len, back = 0;
    while (j > 0 && back < 4 && ((unsigned char)b[j - 1] & 0xC0) == 0x80) {
        j--;
        back++;
    }
    if (j == 0) return len;
    unsigned char lead = (unsigned char)b[j - 1];
    size_t need = lead < 0x80             ? 1
                  : (lead & 0xE0) == 0xC0 ? 2
                  : (lead & 0xF0) == 0xE0 ? 3
                  : (lead & 0xF8) == 0xF0 ? 4
                                          : 1;
    return len - (j - 1) < need ? j - 1 : len;
}

/* A bounded output: bytes past the capacity are dropped, and so is everything after them. */
typedef struct sbuf {
    char *buf;
    size_t cap, len;
    int full;
} sbuf;

static void put_bytes(sbuf *o, const char *b, size_t n) {
    if (!o->buf || o->cap == 0 || o->full) return;
    if (o->len + n + 1 > o->cap) {
        o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, b, n);
    o->len += n;
}

/* A string at r->i ('"' expected), decoded into buf (cap bytes, NUL-terminated, cut to fit)
 * when buf is not NULL. */
static int read_string(jr *r, char *buf, size_t cap) {
    sbuf o = {buf, cap, 0, 0};
    if (r->i >= r->n || r->s[r->i] != '"') return fail(r, "string expected");
    r->i++;
    for (;;) {
        if (r->i >= r->n) return fail(r, "unterminated string");
        unsigned char c = (unsigned char)r->s[r->i];
        if (c == '"') {
            r->i++;
            break;
        }
        if (c < 0x20) return fail(r, "control character in string");
        if (c != '\\') {
            put_bytes(&o, &r->s[r->i], 1);
            r->i++;
            continue;
        }
        r->i++;
        if (r->i >= r->n) return fail(r, "unterminated string");
        char e = r->s[r->i++];
        char one;
        switch (e) {
        case '"':
            one = '"';
            break;
        case '\\':
            one = '\\';
            break;
        case '/':
            one = '/';
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (read_hex4(r, &cp) != 0) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF && r->n - r->i >= 6 && r->s[r->i] == '\\' &&
                r->s[r->i + 1] == 'u') {
                size_t save = r->i;
                r->i += 2;
                unsigned lo;
                if (read_hex4(r, &lo) != 0) return -1;
                if (lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    r->i = save; /* a lone high surrogate; the next escape stands alone */
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            if (cp == 0) cp = 0xFFFD; /* a NUL would cut the C string */
            char u[4];
            size_t un;
            if (cp < 0x80) {
                u[0] = (char)cp;
                un = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                un = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                un = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                un = 4;
            }
            put_bytes(&o, u, un);
            continue;
        }
        default:
            r->i--;
            return fail(r, "bad escape");
        }
        put_bytes(&o, &one, 1);
    }
    if (buf && cap) {
        if (o.full) o.len = utf8_trim(buf, o.len); /* cut: no half character at the end */
        buf[o.len] = '\0';
    }
    return 0;
}

/* A number per RFC 8259's grammar; *out its value. */
static int read_number(jr *r, double *out) {
    size_t start = r->i;
    if (r->i < r->n && r->s[r->i] == '-') r->i++;
    if (r->i >= r->n) return fail(r, "bad number");
    if (r->s[r->i] == '0') {
        r->i++;
    } else if (r->s[r->i] >= '1' && r->s[r->i] <= '9') {
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
    } else {
        return fail(r, "bad number");
    }
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        size_t d = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
        if (r->i == d) return fail(r, "bad number");
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-')) r->i++;
        size_t d = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
        if (r->i == d) return fail(r, "bad number");
    }
    size_t len = r->i - start;
    if (exp_parse_number(r->s + start, len, out) == 0) return 0;
    /* longer than exp_parse_number takes: strtod on a bounded copy ("C" locale) */
    char buf[512];
    if (len >= sizeof(buf)) return fail(r, "number too long");
    memcpy(buf, r->s + start, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

static int expect_lit(jr *r, const char *lit) {
    size_t l = strlen(lit);
    if (r->n - r->i < l || memcmp(r->s + r->i, lit, l) != 0) return fail(r, "bad literal");
    r->i += l;
    return 0;
}

/* Any value, checked and dropped. */
static int skip_value(jr *r, int depth);

static int skip_container(jr *r, int depth, char close) {
    if (depth >= JSON_MAX_DEPTH) return fail(r, "nested too deep");
    r->i++; /* '{' or '[' */
    ws(r);
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
        return 0;
    }
    for (;;) {
        ws(r);
        if (close == '}') {
            if (read_string(r, NULL, 0) != 0) return -1;
            ws(r);
            if (r->i >= r->n || r->s[r->i] != ':') return fail(r, "':' expected");
            r->i++;
            ws(r);
        }
        if (skip_value(r, depth + 1) != 0) return -1;
        ws(r);
        if (r->i >= r->n) return fail(r, "unterminated container");
        if (r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->s[r->i] == close) {
            r->i++;
            return 0;
        }
        return fail(r, "',' or end of container expected");
    }
}

static int skip_value(jr *r, int depth) {
    ws(r);
    if (r->i >= r->n) return fail(r, "value expected");
    char c = r->s[r->i];
    double d;
    switch (c) {
    case '{':
        return skip_container(r, depth, '}');
    case '[':
        return skip_container(r, depth, ']');
    case '"':
        return read_string(r, NULL, 0);
    case 't':
        return expect_lit(r, "true");
    case 'f':
        return expect_lit(r, "false");
    case 'n':
        return expect_lit(r, "null");
    default:
        return read_number(r, &d);
    }
}

/* A value that should be a number: *out set when it is one; anything else is skipped. */
static int read_figure(jr *r, int depth, double *out) {
    ws(r);
    if (r->i < r->n && (r->s[r->i] == '-' || (r->s[r->i] >= '0' && r->s[r->i] <= '9')))
        return read_number(r, out);
    return skip_value(r, depth);
}

static int read_text(jr *r, int depth, char *buf, size_t cap) {
    ws(r);
    if (r->i < r->n && r->s[r->i] == '"') return read_string(r, buf, cap);
    return skip_value(r, depth);
}

/* Iterate an object's members: calls member(r, key, depth + 1, ctx) with r->i at the value. */
typedef int (*member_fn)(jr *r, const char *key, int depth, void *ctx);

static int read_object(jr *r, int depth, member_fn member, void *ctx) {
    if (depth >= JSON_MAX_DEPTH) return fail(r, "nested too deep");
    ws(r);
    if (r->i >= r->n || r->s[r->i] != '{') return fail(r, "object expected");
    r->i++;
    ws(r);
    if (r->i < r->n && r->s[r->i] == '}') {
        r->i++;
        return 0;
    }
    for (;;) {
        ws(r);
        char key[160];
        if (read_string(r, key, sizeof(key)) != 0) return -1;
        ws(r);
        if (r->i >= r->n || r->s[r->i] != ':') return fail(r, "':' expected");
        r->i++;
        if (member(r, key, depth + 1, ctx) != 0) return -1;
        ws(r);
        if (r->i >= r->n) return fail(r, "unterminated object");
        if (r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->s[r->i] == '}') {
            r->i++;
            return 0;
        }
        return fail(r, "',' or '}' expected");
    }
}

static int is_object_next(jr *r) {
    ws(r);
    return r->i < r->n && r->s[r->i] == '{';
}

/* ---- servers ---- */

static int server_member(jr *r, const char *key, int depth, void *ctx) {
    proxy_server *s = ctx;
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"server_eof", offsetof(proxy_server, server_eof)},
        {"server_err", offsetof(proxy_server, server_err)},
        {"server_timedout", offsetof(proxy_server, server_timedout)},
        {"server_connections", offsetof(proxy_server, server_connections)},
        {"server_ejected_at", offsetof(proxy_server, server_ejected_at)},
        {"requests", offsetof(proxy_server, requests)},
        {"request_bytes", offsetof(proxy_server, request_bytes)},
        {"responses", offsetof(proxy_server, responses)},
        {"response_bytes", offsetof(proxy_server, response_bytes)},
        {"in_queue", offsetof(proxy_server, in_queue)},
        {"in_queue_bytes", offsetof(proxy_server, in_queue_bytes)},
        {"out_queue", offsetof(proxy_server, out_queue)},
        {"out_queue_bytes", offsetof(proxy_server, out_queue_bytes)},
    };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        if (strcmp(key, fields[k].name) == 0)
            return read_figure(r, depth, (double *)(void *)((char *)s + fields[k].off));
    return skip_value(r, depth);
}

static void server_init(proxy_server *s) {
    memset(s, 0, sizeof(*s));
    s->server_eof = s->server_err = s->server_timedout = s->server_connections = -1;
    s->server_ejected_at = s->requests = s->request_bytes = s->responses = -1;
    s->response_bytes = s->in_queue = s->in_queue_bytes = s->out_queue = s->out_queue_bytes = -1;
}

/* ---- pools ---- */

typedef struct pool_ctx {
    proxy_pool pool;
    size_t first_server; /* this pool's servers start here in out->servers */
} pool_ctx;

static void copy_name(char *dst, size_t cap, const char *src) {
    size_t len = strlen(src);
    if (len >= cap) len = utf8_trim(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int pool_member(jr *r, const char *key, int depth, void *ctx) {
    pool_ctx *pc = ctx;
    proxy_pool *p = &pc->pool;
    if (is_object_next(r)) {
        proxy_server s;
        server_init(&s);
        copy_name(s.pool, sizeof(s.pool), p->name);
        copy_name(s.name, sizeof(s.name), key);
        if (read_object(r, depth, server_member, &s) != 0) return -1;
        proxy_stats *o = r->out;
        for (size_t k = pc->first_server; k < o->nservers; k++)
            if (strcmp(o->servers[k].name, s.name) == 0) return 0; /* named twice */
        if (o->nservers >= PROXY_MAX_SERVERS) return fail(r, "too many servers");
        if (o->nservers == r->servers_cap) {
            size_t cap = r->servers_cap ? r->servers_cap * 2 : 16;
            o->servers = alloc_realloc(ALLOC_SUB_OTHER, o->servers, cap * sizeof(*o->servers));
            r->servers_cap = cap;
        }
        o->servers[o->nservers++] = s;
        return 0;
    }
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"client_eof", offsetof(proxy_pool, client_eof)},
        {"client_err", offsetof(proxy_pool, client_err)},
        {"client_connections", offsetof(proxy_pool, client_connections)},
        {"server_ejects", offsetof(proxy_pool, server_ejects)},
        {"forward_error", offsetof(proxy_pool, forward_error)},
        {"fragments", offsetof(proxy_pool, fragments)},
    };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        if (strcmp(key, fields[k].name) == 0)
            return read_figure(r, depth, (double *)(void *)((char *)p + fields[k].off));
    return skip_value(r, depth);
}

/* ---- top level ---- */

typedef struct top_ctx {
    int known; /* a nutcracker key or a pool was seen */
} top_ctx;

static int top_member(jr *r, const char *key, int depth, void *ctx) {
    top_ctx *t = ctx;
    proxy_stats *o = r->out;
    if (strcmp(key, "service") == 0) {
        t->known = 1;
        return read_text(r, depth, o->service, sizeof(o->service));
    }
    if (strcmp(key, "source") == 0) {
        t->known = 1;
        return read_text(r, depth, o->source, sizeof(o->source));
    }
    if (strcmp(key, "version") == 0) {
        t->known = 1;
        return read_text(r, depth, o->version, sizeof(o->version));
    }
    double *fig = NULL;
    if (strcmp(key, "uptime") == 0)
        fig = &o->uptime;
    else if (strcmp(key, "timestamp") == 0)
        fig = &o->timestamp;
    else if (strcmp(key, "total_connections") == 0)
        fig = &o->total_connections;
    else if (strcmp(key, "curr_connections") == 0)
        fig = &o->curr_connections;
    if (fig) {
        t->known = 1;
        return read_figure(r, depth, fig);
    }
    if (!is_object_next(r)) return skip_value(r, depth);

    /* a pool */
    t->known = 1;
    pool_ctx pc;
    memset(&pc, 0, sizeof(pc));
    copy_name(pc.pool.name, sizeof(pc.pool.name), key);
    pc.pool.client_eof = pc.pool.client_err = pc.pool.client_connections = -1;
    pc.pool.server_ejects = pc.pool.forward_error = pc.pool.fragments = -1;
    pc.first_server = o->nservers;
    if (read_object(r, depth, pool_member, &pc) != 0) return -1;
    for (size_t k = 0; k < o->npools; k++) {
        if (strcmp(o->pools[k].name, pc.pool.name) == 0) {
            o->nservers = pc.first_server; /* named twice: drop it with its servers */
            return 0;
        }
    }
    if (o->npools >= PROXY_MAX_POOLS) return fail(r, "too many pools");
    if (o->npools == r->pools_cap) {
        size_t cap = r->pools_cap ? r->pools_cap * 2 : 8;
        o->pools = alloc_realloc(ALLOC_SUB_OTHER, o->pools, cap * sizeof(*o->pools));
        r->pools_cap = cap;
    }
    o->pools[o->npools++] = pc.pool;
    return 0;
}

int proxy_stats_parse(const char *json, size_t len, proxy_stats *out, char *err, size_t errcap) {
    if (err && errcap) err[0] = '\0';
    if (!out) {
        if (err && errcap) snprintf(err, errcap, "no output");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->uptime = out->timestamp = out->total_connections = out->curr_connections = -1;
    jr r = {.s = json, .n = json ? len : 0, .err = err, .errcap = errcap, .out = out};
    top_ctx t = {0};
    ws(&r);
    if (r.i >= r.n) {
        fail(&r, "empty answer");
    } else if (read_object(&r, 0, top_member, &t) == 0) {
        ws(&r);
        if (r.i != r.n)
            fail(&r, "trailing bytes after the JSON object");
        else if (!t.known)
            fail(&r, "not twemproxy stats (no service, figures or pools)");
    }
    if (r.failed) {
        proxy_stats_free(out);
        return -1;
    }
    return 0;
}

void proxy_stats_free(proxy_stats *p) {
    if (!p) return;
    alloc_free(ALLOC_SUB_OTHER, p->pools);
    alloc_free(ALLOC_SUB_OTHER, p->servers);
    memset(p, 0, sizeof(*p));
}
