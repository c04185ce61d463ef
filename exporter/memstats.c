/* MEMORY STATS reply → flat (name, value) pairs (parse.h). Pure: walks what hiredis parsed.
 *
 * Shapes: RESP2 gives an array of alternating names and values, doubles as bulk strings and
 * "db.N" as a nested alternating array; RESP3 gives maps, doubles and the same nesting. The
 * RESP3 type numbers are hiredis 1.x's; hiredis 0.14 (Debian bookworm) has no RESP3, so they
 * are defined here when missing and such replies can only come from a newer hiredis. */
#include "parse.h"

#include "alloc/alloc.h"

#include <string.h>

#ifndef REDIS_REPLY_DOUBLE
#define REDIS_REPLY_DOUBLE 7
#endif
#ifndef REDIS_REPLY_MAP
#define REDIS_REPLY_MAP 9
#endif
#ifndef REDIS_REPLY_VERB
#define REDIS_REPLY_VERB 14
#endif

#define MEMSTATS_MAX_ENTRIES 4096
#define MEMSTATS_MAX_DEPTH 8

static int is_text(const redisReply *r) {
    return r &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
            r->type == REDIS_REPLY_VERB) &&
           r->str;
}

static int is_pairs(const redisReply *r) {
    return r && (r->type == REDIS_REPLY_ARRAY || r->type == REDIS_REPLY_MAP) &&
           r->elements % 2 == 0 && (r->elements == 0 || r->element);
}

static void add_entry(memstats *m, const char *name, size_t len, double v) {
    if (m->n >= MEMSTATS_MAX_ENTRIES) return;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        if (cap > MEMSTATS_MAX_ENTRIES) cap = MEMSTATS_MAX_ENTRIES;
        m->e = alloc_realloc(ALLOC_SUB_OTHER, m->e, cap * sizeof(*m->e));
        m->cap = cap;
    }
    memcpy(m->e[m->n].name, name, len);
    m->e[m->n].name[len] = '\0';
    m->e[m->n].value = v;
    m->n++;
}

/* A numeric value: 0 and *out, or -1. */
static int value_number(const redisReply *v, double *out) {
    if (v->type == REDIS_REPLY_INTEGER) {
        *out = (double)v->integer;
        return 0;
    }
    /* a RESP3 double carries its text in str too (hiredis 1.x), parsed the same way */
    if ((v->type == REDIS_REPLY_DOUBLE || is_text(v)) && v->str)
        return exp_parse_number(v->str, v->len, out);
    return -1;
}

/* The pairs of r under prefix (plen bytes in name, the buffer of sizeof(entry name)). */
static void walk(memstats *m, const redisReply *r, char *name, size_t plen, int depth) {
    for (size_t i = 0; i + 1 < r->elements && m->n < MEMSTATS_MAX_ENTRIES; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (!is_text(k) || !v) continue;
        if (k->len == 0 || memchr(k->str, '\0', k->len)) continue;
        size_t len = plen + (plen ? 1 : 0) + k->len;
        if (len >= sizeof(m->e[0].name)) continue; /* too long: skipped, nested ones too */
        if (plen) name[plen] = '.';
        memcpy(name + plen + (plen ? 1 : 0), k->str, k->len);
        name[len] = '\0';
        double d;
        if (is_pairs(v)) {
            if (depth < MEMSTATS_MAX_DEPTH) walk(m, v, name, len, depth + 1);
        } else if (value_number(v, &d) == 0) {
            add_entry(m, name, len, d);
        }
        name[plen] = '\0';
    }
}

int memstats_parse(const redisReply *r, memstats *out) {
    if (!out) return -1;
    memset(out, 0, sizeof(*out));
    if (!is_pairs(r)) return -1;
    char name[sizeof(out->e[0].name)];
    name[0] = '\0';
    walk(out, r, name, 0, 0);
    return 0;
}

void memstats_free(memstats *m) {
    if (!m) return;
    alloc_free(ALLOC_SUB_OTHER, m->e);
    memset(m, 0, sizeof(*m));
}

int memstats_get(const memstats *m, const char *name, double *out) {
    if (!m || !name || !out) return -1;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0) {
            *out = m->e[i].value;
            return 0;
        }
    return -1;
}
