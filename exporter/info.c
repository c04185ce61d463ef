/* INFO ALL text → info_doc, and the server kind (parse.h). Pure: one copy of the text split in
 * place, bounded by INFO_MAX_FIELDS, no locale (sections are lower-cased in ASCII only). */
#include "parse.h"

#include "alloc/alloc.h"

#include <string.h>

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

static char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Trim blanks (and \r) from both ends of [*s, *s + *n). */
static void trim(char **s, size_t *n) {
    while (*n > 0 && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_blank((*s)[*n - 1]))
        (*n)--;
}

static void add_field(info_doc *d, const char *section, const char *key, const char *value) {
    if (d->n >= INFO_MAX_FIELDS) {
        d->dropped++;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        if (cap > INFO_MAX_FIELDS) cap = INFO_MAX_FIELDS;
        d->fields = alloc_realloc(ALLOC_SUB_OTHER, d->fields, cap * sizeof(*d->fields));
        d->cap = cap;
    }
    d->fields[d->n].section = section;
    d->fields[d->n].key = key;
    d->fields[d->n].value = value;
    d->n++;
}

int info_parse(info_doc *d, const char *text, size_t len) {
    if (!d) return -1;
    memset(d, 0, sizeof(*d));
    if (!text) return -1;
    d->text = alloc_malloc(ALLOC_SUB_OTHER, len + 1);
    memcpy(d->text, text, len);
    d->text[len] = '\0';

    const char *section = "";
    size_t lines = 0; /* "key:value" lines seen, kept or dropped */
    char *p = d->text, *end = d->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        char *s = p;
        size_t n = (size_t)(line_end - p);
        p = nl ? nl + 1 : end;
        *line_end = '\0';
        while (n > 0 && is_blank(s[n - 1]))
            n--;
        s[n] = '\0';
        if (n == 0) continue;
        if (s[0] == '#') {
            char *h = s + 1;
            size_t hn = n - 1;
            trim(&h, &hn);
            h[hn] = '\0';
            for (size_t i = 0; i < hn; i++)
                h[i] = ascii_lower(h[i]);
            section = h;
            continue;
        }
        char *colon = memchr(s, ':', n);
        /* not "key:value", no key, or a NUL in the key (binary garbage, not a name) */
        if (!colon || colon == s || memchr(s, '\0', (size_t)(colon - s))) continue;
        *colon = '\0';
        lines++;
        add_field(d, section, s, colon + 1);
    }
    if (lines == 0) {
        info_free(d);
        return -1;
    }
    return 0;
}

void info_free(info_doc *d) {
    if (!d) return;
    alloc_free(ALLOC_SUB_OTHER, d->text);
    alloc_free(ALLOC_SUB_OTHER, d->fields);
    memset(d, 0, sizeof(*d));
}

size_t info_dropped(const info_doc *d) {
    return d ? d->dropped : 0;
}

const char *info_get(const info_doc *d, const char *key) {
    if (!d || !key) return NULL;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->fields[i].key, key) == 0) return d->fields[i].value;
    return NULL;
}

int info_get_number(const info_doc *d, const char *key, double *out) {
    const char *v = info_get(d, key);
    if (!v || !out) return -1;
    return exp_parse_number(v, strlen(v), out);
}

const char *server_kind_name(server_kind k) {
    switch (k) {
    case SERVER_MEMKV:
        return "memkv";
    case SERVER_REDIS:
        return "redis";
    case SERVER_VALKEY:
        return "valkey";
    case SERVER_KEYDB:
        return "keydb";
    case SERVER_KVROCKS:
        return "kvrocks";
    case SERVER_DRAGONFLY:
        return "dragonfly";
    case SERVER_PROXY:
        return "twemproxy";
    case SERVER_UNKNOWN:
        break;
    }
    return "unknown";
}

/* value equals want, ignoring blanks around it and ASCII case */
static int value_is(const char *value, const char *want) {
    if (!value) return 0;
    char *s = (char *)value; /* trim only reads through it */
    size_t n = strlen(value);
    trim(&s, &n);
    size_t wn = strlen(want);
    if (n != wn) return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(s[i]) != ascii_lower(want[i])) return 0;
    return 1;
}

static int has_section(const info_doc *d, const char *section) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->fields[i].section, section) == 0) return 1;
    return 0;
}

server_kind info_detect_kind(const info_doc *d, const char **version) {
    static const char none[] = "";
    const char *v = NULL;
    server_kind k = SERVER_UNKNOWN;
    if (!d) {
        if (version) *version = none;
        return k;
    }
    if ((v = info_get(d, "memkv_version")) != NULL) {
        k = SERVER_MEMKV;
    } else if ((v = info_get(d, "dragonfly_version")) != NULL) {
        k = SERVER_DRAGONFLY;
    } else if ((v = info_get(d, "kvrocks_version")) != NULL) {
        k = SERVER_KVROCKS;
    } else if ((v = info_get(d, "valkey_version")) != NULL ||
               value_is(info_get(d, "server_name"), "valkey")) {
        k = SERVER_VALKEY;
        if (!v) v = info_get(d, "redis_version");
    } else if (has_section(d, "keydb") || info_get(d, "mvcc_depth") ||
               info_get(d, "storage_provider")) {
        k = SERVER_KEYDB;
        v = info_get(d, "redis_version");
    } else if ((v = info_get(d, "redis_version")) != NULL) {
        k = SERVER_REDIS;
    }
    if (version) *version = v ? v : none;
    return k;
}
