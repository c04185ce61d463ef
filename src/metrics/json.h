/* json — the small JSON writer behind the endpoint's reports (/debug/memory and the console's
 * JSON): one growable buffer (ALLOC_SUB_HTTP) that values are appended to in order, commas and
 * keys placed by the writer. Strings are escaped ('"', '\', control characters as \u00XX) and
 * bytes that are not valid UTF-8 become U+FFFD; NaN and infinities are written as null. Nesting
 * is fixed by the caller's code (deeper than JSON_DEPTH aborts: a programming error). Used by
 * the metrics module and by the server's --analyze-rdb report (src/server/analyze.c). */
#ifndef MEMKV_METRICS_JSON_H
#define MEMKV_METRICS_JSON_H

#include <stddef.h>

#define JSON_DEPTH 16

typedef struct json_buf {
    char *p;
    size_t len, cap;
    int depth;
    int first[JSON_DEPTH]; /* no element written yet at this depth */
} json_buf;

void json_init(json_buf *j);
/* The text (NUL-terminated, never NULL; free with metrics_buffer_free); j is left empty. */
char *json_take(json_buf *j, size_t *len);

void json_raw(json_buf *j, const char *s, size_t n); /* bytes as they are */
void json_puts(json_buf *j, const char *s);
void json_string(json_buf *j, const char *s); /* a quoted, escaped string (NULL as "") */
void json_key(json_buf *j, const char *key);  /* the comma and "key": before a value */
void json_open(json_buf *j, const char *key, char bracket);
void json_close(json_buf *j, char bracket);
#define json_obj(j, key) json_open((j), (key), '{')
#define json_obj_end(j) json_close((j), '}')
#define json_arr(j, key) json_open((j), (key), '[')
#define json_arr_end(j) json_close((j), ']')
/* key NULL inside arrays */
void json_str(json_buf *j, const char *key, const char *v);
void json_int(json_buf *j, const char *key, long long v);
void json_uint(json_buf *j, const char *key, unsigned long long v);
void json_bool(json_buf *j, const char *key, int v);
void json_double(json_buf *j, const char *key, double v);

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if it is not one. */
size_t json_utf8_len(const unsigned char *s, size_t n);

#endif
