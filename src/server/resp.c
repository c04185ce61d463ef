#include "server/resp.h"

#include "alloc/alloc.h"
#include "util/util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Argument arrays: a new multibulk command reserves min(count, RESP_ARGV_FIRST) slots (the
 * peer's announced count is not trusted further), then doubles as arguments really arrive.
 * Arrays up to RESP_ARGV_FIRST slots are kept between commands; a bigger one (left by a huge
 * command) is cut back to RESP_ARGV_RETAIN when the next command starts, so it does not pin
 * memory for the life of the connection. */
#define RESP_ARGV_MIN 8
#define RESP_ARGV_FIRST 1024
#define RESP_ARGV_RETAIN 128

enum { KIND_NONE = 0, KIND_MULTIBULK = '*', KIND_INLINE = 'i', KIND_FAILED = 'E' };

resp_limits resp_limits_default(void) {
    resp_limits l = {
        .max_bulk_len = 512LL * 1024 * 1024,
        .max_multibulk = 1024LL * 1024,
        .max_inline = (size_t)64 * 1024,
    };
    return l;
}

static void start_command(resp_parser *p) {
    p->argc = 0;
    p->pos = 0;
    p->kind = KIND_NONE;
    p->mb_left = -1;
    p->bulk_len = -1;
    p->scan = 0;
}

void resp_parser_init(resp_parser *p, const resp_limits *limits) {
    memset(p, 0, sizeof(*p));
    p->limits = limits ? *limits : resp_limits_default();
    start_command(p);
}

void resp_parser_deinit(resp_parser *p) {
    alloc_free(ALLOC_SUB_QUERY_BUF, p->argv);
    alloc_free(ALLOC_SUB_QUERY_BUF, p->offs);
    p->argv = NULL;
    p->offs = NULL;
    p->argv_cap = 0;
    start_command(p);
}

void resp_parser_reset(resp_parser *p) {
    start_command(p);
    p->err[0] = '\0';
}

size_t resp_parser_bytes_needed(const resp_parser *p) {
    if (p->kind != KIND_MULTIBULK || p->mb_left <= 0 || p->bulk_len < 0) return 0;
    return p->pos + (size_t)p->bulk_len + 2;
}

size_t resp_parser_mem(const resp_parser *p) {
    return alloc_usable_size(p->argv) + alloc_usable_size(p->offs);
}

static void set_cap(resp_parser *p, size_t cap) {
    p->argv = alloc_realloc(ALLOC_SUB_QUERY_BUF, p->argv, cap * sizeof(*p->argv));
    p->offs = alloc_realloc(ALLOC_SUB_QUERY_BUF, p->offs, cap * sizeof(*p->offs));
    p->argv_cap = cap;
}

/* Capacity for the start of a command expecting about `want` arguments. */
static void reserve_first(resp_parser *p, size_t want) {
    if (want < RESP_ARGV_MIN) want = RESP_ARGV_MIN;
    if (want > RESP_ARGV_FIRST) want = RESP_ARGV_FIRST;
    if (p->argv_cap < want)
        set_cap(p, want);
    else if (p->argv_cap > RESP_ARGV_FIRST)
        set_cap(p, want > RESP_ARGV_RETAIN ? want : RESP_ARGV_RETAIN);
}

/* Room for one more argument; `limit` bounds the growth (arguments still announced). */
static void grow(resp_parser *p, size_t limit) {
    size_t cap = p->argv_cap ? p->argv_cap * 2 : RESP_ARGV_MIN;
    if (cap > limit) cap = limit;
    if (cap <= p->argv_cap) cap = p->argv_cap + 1;
    set_cap(p, cap);
}

static int fail(resp_parser *p, const char *msg) {
    snprintf(p->err, sizeof(p->err), "Protocol error: %s", msg);
    p->kind = KIND_FAILED;
    return RESP_ERROR;
}

/* Redis's string2ll: optional '-', no '+', no spaces, no leading zeros, at most 20 chars. */
static int parse_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20) return -1;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    size_t i = 0;
    int neg = s[0] == '-';
    if (neg && len == 1) return -1;
    i = (size_t)neg;
    if (s[i] < '1' || s[i] > '9') return -1;
    unsigned long long v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) return -1;
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        *out = (long long)v;
    }
    return 0;
}

/* Find the '\r' ending the line that starts at `start`, as Redis does: the byte after it is
 * required to be present but is not checked. At most max_inline + 1 bytes of the line are
 * searched, and never twice (p->scan). Returns 1 and *cr, 0 to wait, -1 if too long. */
static int find_line(resp_parser *p, const char *buf, size_t len, size_t start, size_t *cr) {
    size_t window = p->limits.max_inline + 1;
    size_t end = len - start > window ? start + window : len;
    size_t from = p->scan > start ? p->scan : start;
    const char *r = from < end ? memchr(buf + from, '\r', end - from) : NULL;
    if (!r) {
        if (len - start > p->limits.max_inline) return -1;
        p->scan = end;
        return 0;
    }
    size_t i = (size_t)(r - buf);
    if (i + 1 >= len) {
        p->scan = i;
        return 0;
    }
    *cr = i;
    return 1;
}

static int parse_multibulk(resp_parser *p, char *buf, size_t len, size_t *consumed) {
    size_t pos = p->pos, cr;
    size_t argc = p->argc, argc_before = p->argc;
    long long ll;
    int r;

    if (p->mb_left < 0) {
        r = find_line(p, buf, len, 0, &cr);
        if (r < 0) return fail(p, "too big mbulk count string");
        if (r == 0) return RESP_NEED_MORE;
        if (parse_ll(buf + 1, cr - 1, &ll) < 0 || ll > p->limits.max_multibulk)
            return fail(p, "invalid multibulk length");
        if (ll > 10 && p->limits.unauthenticated)
            return fail(p, "unauthenticated multibulk length");
        pos = cr + 2;
        if (ll <= 0) {
            *consumed = pos;
            start_command(p);
            return RESP_OK;
        }
        p->mb_left = ll;
        p->bulk_len = -1;
        reserve_first(p, (size_t)ll);
    }

    long long left = p->mb_left, blen = p->bulk_len;
    while (left > 0) {
        if (blen < 0) {
            r = find_line(p, buf, len, pos, &cr);
            if (r < 0) {
                p->pos = pos;
                p->argc = argc;
                return fail(p, "too big bulk count string");
            }
            if (r == 0) break;
            if (buf[pos] != '$') {
                snprintf(p->err, sizeof(p->err), "Protocol error: expected '$', got '%c'",
                         buf[pos]);
                p->kind = KIND_FAILED;
                return RESP_ERROR;
            }
            if (parse_ll(buf + pos + 1, cr - pos - 1, &blen) < 0 || blen < 0 ||
                blen > p->limits.max_bulk_len) {
                return fail(p, "invalid bulk length");
            }
            if (blen > 16384 && p->limits.unauthenticated)
                return fail(p, "unauthenticated bulk length");
            pos = cr + 2;
        }
        /* The bulk plus two bytes Redis skips without looking at (normally "\r\n"). */
        if (len - pos < (size_t)blen + 2) break;
        if (argc == p->argv_cap) grow(p, argc + (size_t)left);
        p->offs[argc] = pos;
        p->argv[argc].ptr = buf + pos;
        p->argv[argc].len = (size_t)blen;
        argc++;
        pos += (size_t)blen + 2;
        blen = -1;
        left--;
    }
    if (left > 0) {
        p->pos = pos;
        p->argc = argc;
        p->mb_left = left;
        p->bulk_len = blen;
        return RESP_NEED_MORE;
    }
    /* The buffer may have moved since earlier calls recorded their arguments. */
    for (size_t i = 0; i < argc_before; i++)
        p->argv[i].ptr = buf + p->offs[i];
    *consumed = pos;
    start_command(p);
    p->argc = argc;
    return RESP_OK;
}

/* One argument of an inline command, where util_split_args found it (in the buffer). */
static int inline_arg(void *ctx, char *arg, size_t len) {
    resp_parser *p = ctx;
    if (p->argc == p->argv_cap) grow(p, SIZE_MAX);
    p->argv[p->argc].ptr = arg;
    p->argv[p->argc].len = len;
    p->argc++;
    return 0;
}

static int parse_inline(resp_parser *p, char *buf, size_t len, size_t *consumed) {
    size_t window = p->limits.max_inline + 1;
    size_t end = len > window ? window : len;
    const char *nl = p->scan < end ? memchr(buf + p->scan, '\n', end - p->scan) : NULL;
    if (!nl) {
        if (len > p->limits.max_inline) return fail(p, "too big inline request");
        p->scan = end;
        return RESP_NEED_MORE;
    }
    size_t n = (size_t)(nl - buf), linelen = n;
    if (linelen > 0 && buf[linelen - 1] == '\r') linelen--;
    start_command(p);
    if (linelen > 0) {
        reserve_first(p, RESP_ARGV_MIN);
        p->argc = 0;
        if (util_split_args(buf, linelen, inline_arg, p) < 0) {
            p->argc = 0;
            return fail(p, "unbalanced quotes in request");
        }
    }
    *consumed = n + 1;
    return RESP_OK;
}

int resp_parse(resp_parser *p, char *buf, size_t len, size_t *consumed) {
    *consumed = 0;
    switch (p->kind) {
    case KIND_NONE:
        if (len == 0) return RESP_NEED_MORE;
        p->argc = 0; /* the previous command's output */
        if (buf[0] == '*') {
            p->kind = KIND_MULTIBULK;
            return parse_multibulk(p, buf, len, consumed);
        }
        p->kind = KIND_INLINE;
        return parse_inline(p, buf, len, consumed);
    case KIND_MULTIBULK:
        return parse_multibulk(p, buf, len, consumed);
    case KIND_INLINE:
        return parse_inline(p, buf, len, consumed);
    default:
        return RESP_ERROR; /* sticky until resp_parser_reset() */
    }
}
