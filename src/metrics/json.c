/* json — a small JSON writer for the endpoint's reports (see json.h). */
#include "metrics/json.h"

#include "alloc/alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(json_buf *j, size_t n) {
    if (j->cap - j->len > n) return;
    size_t cap = j->cap ? j->cap : 8192;
    while (cap - j->len <= n) {
        if (cap > SIZE_MAX / 2) abort();
        cap *= 2;
    }
    j->p = alloc_realloc(ALLOC_SUB_HTTP, j->p, cap);
    j->cap = cap;
}

void json_raw(json_buf *j, const char *s, size_t n) {
    reserve(j, n);
    memcpy(j->p + j->len, s, n);
    j->len += n;
    j->p[j->len] = '\0';
}

void json_puts(json_buf *j, const char *s) {
    json_raw(j, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF are not). */
size_t json_utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

/* A JSON string: '"' and '\' escaped, control characters (and DEL) as \u00XX, bytes that are
 * not valid UTF-8 as U+FFFD. NULL is written as "". */
void json_string(json_buf *j, const char *s) {
    json_raw(j, "\"", 1);
    if (s) {
        const unsigned char *u = (const unsigned char *)s;
        size_t n = strlen(s);
        size_t i = 0;
        while (i < n) {
            size_t run = i; /* copy plain bytes in runs */
            while (run < n && u[run] >= 0x20 && u[run] < 0x7F && u[run] != '"' && u[run] != '\\')
                run++;
            if (run > i) {
                json_raw(j, s + i, run - i);
                i = run;
                continue;
            }
            unsigned char c = u[i];
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                json_raw(j, e, 2);
                i++;
            } else if (c < 0x20 || c == 0x7F) {
                char e[8];
                snprintf(e, sizeof(e), "\\u%04x", c);
                json_raw(j, e, 6);
                i++;
            } else {
                size_t len = json_utf8_len(u + i, n - i);
                if (len == 0) {
                    json_puts(j, "\\ufffd");
                    i++;
                } else {
                    json_raw(j, s + i, len);
                    i += len;
                }
            }
        }
    }
    json_raw(j, "\"", 1);
}

/* Comma and key before a value (key NULL inside arrays). */
void json_key(json_buf *j, const char *key) {
    if (!j->first[j->depth]) json_raw(j, ",", 1);
    j->first[j->depth] = 0;
    if (key) {
        json_string(j, key);
        json_raw(j, ":", 1);
    }
}

void json_open(json_buf *j, const char *key, char bracket) {
    json_key(j, key);
    json_raw(j, &bracket, 1);
    if (j->depth + 1 >= JSON_DEPTH) abort(); /* a programming error: nesting is fixed here */
    j->depth++;
    j->first[j->depth] = 1;
}

void json_close(json_buf *j, char bracket) {
    json_raw(j, &bracket, 1);
    if (j->depth > 0) j->depth--;
}

void json_str(json_buf *j, const char *key, const char *v) {
    json_key(j, key);
    json_string(j, v);
}

void json_int(json_buf *j, const char *key, long long v) {
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", v);
    json_key(j, key);
    json_raw(j, b, (size_t)n);
}

void json_uint(json_buf *j, const char *key, unsigned long long v) {
    char b[32];
    int n = snprintf(b, sizeof(b), "%llu", v);
    json_key(j, key);
    json_raw(j, b, (size_t)n);
}

void json_bool(json_buf *j, const char *key, int v) {
    json_key(j, key);
    json_puts(j, v ? "true" : "false");
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v; null for NaN and infinities, which
 * JSON cannot hold. */
void json_double(json_buf *j, const char *key, double v) {
    json_key(j, key);
    if (!isfinite(v)) {
        json_puts(j, "null");
        return;
    }
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof(b), "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    json_puts(j, b);
}

void json_init(json_buf *j) {
    memset(j, 0, sizeof(*j));
    j->first[0] = 1;
}

char *json_take(json_buf *j, size_t *len) {
    if (!j->p) json_raw(j, "", 0);
    if (len) *len = j->len;
    char *p = j->p;
    memset(j, 0, sizeof(*j));
    return p;
}
