#include "server/reply.h"

#include "alloc/alloc.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A standard block is one REPLY_BLOCK_SIZE allocation, header included, so it fills exactly
 * one allocator size class; its data capacity is what remains. */
#define REPLY_BLOCK_BYTES ((size_t)REPLY_BLOCK_SIZE)
#define REPLY_STD_CAP (REPLY_BLOCK_BYTES - sizeof(reply_block))

void reply_buf_init(reply_buf *rb) {
    memset(rb, 0, sizeof(*rb));
    rb->resp = 2;
}

static void block_free(reply_buf *rb, reply_block *b) {
    rb->allocated -= alloc_usable_size(b);
    alloc_free(ALLOC_SUB_OUTPUT_BUF, b);
}

void reply_buf_deinit(reply_buf *rb) {
    reply_block *b = rb->head;
    while (b) {
        reply_block *next = b->next;
        block_free(rb, b);
        b = next;
    }
    rb->head = rb->tail = NULL;
    rb->pending = 0;
}

/* Appends a new tail block with room for at least `need` bytes. */
static reply_block *block_append(reply_buf *rb, size_t need) {
    size_t size = need > REPLY_STD_CAP ? sizeof(reply_block) + need : REPLY_BLOCK_BYTES;
    reply_block *b = alloc_malloc(ALLOC_SUB_OUTPUT_BUF, size);
    size_t usable = alloc_usable_size(b);
    b->next = NULL;
    b->used = 0;
    b->sent = 0;
    b->cap = usable - sizeof(reply_block);
    rb->allocated += usable;
    if (rb->tail)
        rb->tail->next = b;
    else
        rb->head = b;
    rb->tail = b;
    return b;
}

static inline void block_put(reply_buf *rb, reply_block *b, const void *p, size_t n) {
    memcpy(b->data + b->used, p, n);
    b->used += n;
    rb->pending += n;
}

void reply_add_raw(reply_buf *rb, const void *p, size_t n) {
    if (n == 0) return;
    reply_block *t = rb->tail;
    if (t && t->cap - t->used >= n) {
        block_put(rb, t, p, n);
        return;
    }
    if (n > REPLY_STD_CAP) {
        /* A payload larger than a block gets a block of its own, sized to fit. */
        block_put(rb, block_append(rb, n), p, n);
        return;
    }
    /* Fill what is left of the tail, continue in a new standard block. */
    const char *s = p;
    if (t) {
        size_t room = t->cap - t->used;
        block_put(rb, t, s, room);
        s += room;
        n -= room;
    }
    block_put(rb, block_append(rb, n), s, n);
}

/* Copies s[0..n) replacing CR and LF by spaces, so the text stays one protocol line. */
static void add_one_line(reply_buf *rb, const char *s, size_t n) {
    while (n) {
        size_t k = 0;
        while (k < n && s[k] != '\r' && s[k] != '\n')
            k++;
        reply_add_raw(rb, s, k);
        if (k == n) break;
        reply_add_raw(rb, " ", 1);
        s += k + 1;
        n -= k + 1;
    }
}

static void add_line(reply_buf *rb, char prefix, const char *s) {
    size_t n = strlen(s);
    reply_block *t = rb->tail;
    if (t && t->cap - t->used >= n + 3) {
        /* Common case: one copy, then fix up any CR/LF in place. */
        char *d = t->data + t->used;
        d[0] = prefix;
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a protocol line, no NUL */
        memcpy(d + 1, s, n);
        for (size_t i = 1; i <= n; i++)
            if (d[i] == '\r' || d[i] == '\n') d[i] = ' ';
        d[n + 1] = '\r';
        d[n + 2] = '\n';
        t->used += n + 3;
        rb->pending += n + 3;
        return;
    }
    reply_add_raw(rb, &prefix, 1);
    add_one_line(rb, s, n);
    reply_add_raw(rb, "\r\n", 2);
}

void reply_add_status(reply_buf *rb, const char *s) {
    add_line(rb, '+', s);
}

void reply_add_error(reply_buf *rb, const char *msg) {
    add_line(rb, '-', msg);
}

void reply_add_errorf(reply_buf *rb, const char *fmt, ...) {
    char small[256], *big = NULL;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof(small)) {
        big = alloc_malloc(ALLOC_SUB_OUTPUT_BUF, (size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    va_end(ap);
    reply_add_error(rb, n < 0 ? "ERR error formatting reply" : big ? big : small);
    alloc_free(ALLOC_SUB_OUTPUT_BUF, big);
}

/* "<prefix>[-]<digits>\r\n" into dst (>= 24 bytes); returns its length. */
static size_t format_len_line(char *dst, char prefix, int neg, unsigned long long v) {
    char digits[20];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t n = 0;
    dst[n++] = prefix;
    if (neg) dst[n++] = '-';
    memcpy(dst + n, digits + i, sizeof(digits) - i);
    n += sizeof(digits) - i;
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

static void add_ll_line(reply_buf *rb, char prefix, long long v) {
    char line[32];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    reply_add_raw(rb, line, format_len_line(line, prefix, v < 0, u));
}

void reply_add_int(reply_buf *rb, long long v) {
    add_ll_line(rb, ':', v);
}

void reply_add_bulk(reply_buf *rb, const void *p, size_t n) {
    char hdr[32];
    size_t h = format_len_line(hdr, '$', 0, n);
    reply_block *t = rb->tail;
    if (t && t->cap - t->used >= h + n + 2) {
        char *d = t->data + t->used;
        memcpy(d, hdr, h);
        if (n) memcpy(d + h, p, n);
        d[h + n] = '\r';
        d[h + n + 1] = '\n';
        t->used += h + n + 2;
        rb->pending += h + n + 2;
        return;
    }
    reply_add_raw(rb, hdr, h);
    reply_add_raw(rb, p, n);
    reply_add_raw(rb, "\r\n", 2);
}

void reply_add_bulk_cstr(reply_buf *rb, const char *s) {
    if (!s)
        reply_add_null(rb);
    else
        reply_add_bulk(rb, s, strlen(s));
}

void reply_add_null(reply_buf *rb) {
    if (rb->resp == 2)
        reply_add_raw(rb, "$-1\r\n", 5);
    else
        reply_add_raw(rb, "_\r\n", 3);
}

void reply_add_null_array(reply_buf *rb) {
    if (rb->resp == 2)
        reply_add_raw(rb, "*-1\r\n", 5);
    else
        reply_add_raw(rb, "_\r\n", 3);
}

void reply_add_array_len(reply_buf *rb, long long n) {
    add_ll_line(rb, '*', n);
}

void reply_add_map_len(reply_buf *rb, long long n) {
    if (rb->resp == 2)
        add_ll_line(rb, '*', (long long)((unsigned long long)n * 2));
    else
        add_ll_line(rb, '%', n);
}

void reply_add_set_len(reply_buf *rb, long long n) {
    add_ll_line(rb, rb->resp == 2 ? '*' : '~', n);
}

void reply_add_push_len(reply_buf *rb, long long n) {
    add_ll_line(rb, rb->resp == 2 ? '*' : '>', n);
}

void reply_add_bool(reply_buf *rb, int v) {
    if (rb->resp == 2)
        reply_add_raw(rb, v ? ":1\r\n" : ":0\r\n", 4);
    else
        reply_add_raw(rb, v ? "#t\r\n" : "#f\r\n", 4);
}

void reply_add_double_text(reply_buf *rb, const char *text, size_t n) {
    /* RESP3: ",<text>\r\n" in one go when short; RESP2: the text as a bulk string. */
    if (rb->resp == 2) {
        reply_add_bulk(rb, text, n);
        return;
    }
    char buf[64];
    if (n + 3 > sizeof(buf)) {
        reply_add_raw(rb, ",", 1);
        reply_add_raw(rb, text, n);
        reply_add_raw(rb, "\r\n", 2);
        return;
    }
    buf[0] = ',';
    memcpy(buf + 1, text, n);
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';
    reply_add_raw(rb, buf, n + 3);
}

void reply_add_double(reply_buf *rb, double d) {
    char buf[64];
    size_t n;
    if (isinf(d)) {
        /* Spelled out, as Redis does, rather than trusting every libc's printf. */
        n = d > 0 ? 3 : 4;
        memcpy(buf, d > 0 ? "inf" : "-inf", n);
    } else {
        int k = snprintf(buf, sizeof(buf), "%.17g", d);
        n = k < 0 ? 0 : (size_t)k;
    }
    reply_add_double_text(rb, buf, n);
}

void reply_add_verbatim(reply_buf *rb, const char *fmt, const void *p, size_t n) {
    if (rb->resp == 2) {
        reply_add_bulk(rb, p, n);
        return;
    }
    char hdr[32];
    size_t h = format_len_line(hdr, '=', 0, n + 4);
    memcpy(hdr + h, fmt, 3);
    hdr[h + 3] = ':';
    reply_add_raw(rb, hdr, h + 4);
    reply_add_raw(rb, p, n);
    reply_add_raw(rb, "\r\n", 2);
}

void reply_add_pairs_len(reply_buf *rb, long long n) {
    if (rb->resp == 2)
        add_ll_line(rb, '*', (long long)((unsigned long long)n * 2));
    else
        add_ll_line(rb, '*', n);
}

void reply_add_pair(reply_buf *rb) {
    if (rb->resp != 2) reply_add_raw(rb, "*2\r\n", 4);
}

int reply_buf_iov(const reply_buf *rb, struct iovec *iov, int max) {
    int n = 0;
    for (const reply_block *b = rb->head; b && n < max; b = b->next) {
        if (b->used == b->sent) continue;
        iov[n].iov_base = (void *)(b->data + b->sent);
        iov[n].iov_len = b->used - b->sent;
        n++;
    }
    return n;
}

void reply_buf_consume(reply_buf *rb, size_t n) {
    assert(n <= rb->pending);
    if (n > rb->pending) n = rb->pending;
    reply_block *b;
    while ((b = rb->head) != NULL) {
        size_t take = b->used - b->sent;
        if (take > n) take = n;
        b->sent += take;
        rb->pending -= take;
        n -= take;
        if (b->sent < b->used) break;
        if (b == rb->tail) {
            /* Drained: keep a standard block for the next reply (no malloc per request). */
            if (b->cap <= REPLY_BLOCK_BYTES) {
                b->used = b->sent = 0;
            } else {
                block_free(rb, b);
                rb->head = rb->tail = NULL;
            }
            break;
        }
        rb->head = b->next;
        block_free(rb, b);
    }
}

void reply_buf_truncate(reply_buf *rb, size_t keep) {
    if (keep >= rb->pending) return;
    size_t seen = 0;
    reply_block *b = rb->head;
    while (b && seen + (b->used - b->sent) < keep) {
        seen += b->used - b->sent;
        b = b->next;
    }
    if (!b) return;
    b->used = b->sent + (keep - seen);
    reply_block *rest = b->next;
    b->next = NULL;
    rb->tail = b;
    while (rest) {
        reply_block *next = rest->next;
        block_free(rb, rest);
        rest = next;
    }
    rb->pending = keep;
}

void reply_buf_trim(reply_buf *rb) {
    if (rb->pending == 0) reply_buf_deinit(rb);
}
