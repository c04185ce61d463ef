/* dump — jemalloc's heap_v2 text dump parsed into a heap_dump, the jeprof unbiasing formula,
 * and the growable byte buffer the writers produce their output in.
 *
 * The parser is pure (no I/O, no globals). It reads exactly `len` bytes (the text need not be
 * NUL-terminated), rejects anything it does not understand with "line N: reason", and never
 * trusts a count: numbers that overflow 64 bits, addresses longer than 16 hex digits and
 * array sizes that would overflow size_t are errors, not crashes. */
#include "profiler/profiler.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"

/* ---- prof_buf --------------------------------------------------------------------------- */

void prof_buf_init(prof_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void prof_buf_free(prof_buf *b) {
    alloc_free(ALLOC_SUB_PROFILER, b->data);
    prof_buf_init(b);
}

/* Room for `n` more bytes plus the terminating NUL the buffer always keeps after `len`. */
static void buf_reserve(prof_buf *b, size_t n) {
    if (n > SIZE_MAX - 1 - b->len) abort(); /* cannot be represented: as out of memory */
    size_t need = b->len + n + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = alloc_realloc(ALLOC_SUB_PROFILER, b->data, cap);
    b->cap = cap;
}

void prof_buf_append(prof_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void prof_buf_printf(prof_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    buf_reserve(b, 0);
    size_t room = b->cap - b->len;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(again);
        b->data[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    b->len += (size_t)n;
}

/* ---- scaling ---------------------------------------------------------------------------- */

double heap_scale(uint64_t objs, uint64_t bytes, uint64_t period) {
    if (objs == 0 || bytes == 0 || period == 0) return 1.0;
    double ratio = ((double)bytes / (double)objs) / (double)period;
    /* 1 / (1 − e^−r), computed with expm1 so tiny ratios (big period) keep their precision. */
    double denom = -expm1(-ratio);
    if (!(denom > 0.0)) return 1.0;
    return 1.0 / denom;
}

/* ---- parser ----------------------------------------------------------------------------- */

typedef struct parse_state {
    const char *s; /* current line, [s, e) */
    const char *e;
    size_t lineno;
    char *err;
    size_t errcap;
} parse_state;

static int fail(parse_state *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parse_state *ps, const char *fmt, ...) {
    if (ps->err && ps->errcap) {
        char reason[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        snprintf(ps->err, ps->errcap, "line %zu: %s", ps->lineno, reason);
    }
    return PROF_ERR_PARSE;
}

static void skip_blanks(const char **p, const char *e) {
    while (*p < e && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* Decimal u64, at least one digit. Returns 0, -1 (no digit) or -2 (overflow). */
static int parse_u64(const char **p, const char *e, uint64_t *out) {
    const char *q = *p;
    uint64_t v = 0;
    if (q >= e || *q < '0' || *q > '9') return -1;
    while (q < e && *q >= '0' && *q <= '9') {
        unsigned d = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - d) / 10) return -2;
        v = v * 10 + d;
        q++;
    }
    *p = q;
    *out = v;
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int expect_char(const char **p, const char *e, char c) {
    skip_blanks(p, e);
    if (*p >= e || **p != c) return -1;
    (*p)++;
    skip_blanks(p, e);
    return 0;
}

/* "objs: bytes [accum_objs: accum_bytes]" (what follows "t*:" / "tN:"). */
static int parse_counts(parse_state *ps, const char *p, uint64_t v[4]) {
    const char *e = ps->e;
    static const char seps[4] = {':', '[', ':', ']'};
    skip_blanks(&p, e);
    for (int i = 0; i < 4; i++) {
        int rc = parse_u64(&p, e, &v[i]);
        if (rc == -2) return fail(ps, "count does not fit in 64 bits");
        if (rc < 0) return fail(ps, "expected a count (objs: bytes [objs: bytes])");
        if (expect_char(&p, e, seps[i]) < 0)
            return fail(ps, "expected '%c' in counts (objs: bytes [objs: bytes])", seps[i]);
    }
    if (p != e) return fail(ps, "unexpected text after the counts");
    return 0;
}

/* Counts one address token list ("0x… 0x…"), validating each; fills addrs when non-NULL. */
static int parse_addrs(parse_state *ps, const char *p, uint64_t *addrs, size_t *n) {
    const char *e = ps->e;
    size_t count = 0;
    for (;;) {
        skip_blanks(&p, e);
        if (p >= e) break;
        if (e - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2;
        uint64_t v = 0;
        int digits = 0;
        while (p < e && *p != ' ' && *p != '\t') {
            int d = hex_digit(*p);
            if (d < 0) return fail(ps, "address %zu is not hexadecimal", count + 1);
            if (++digits > 16) return fail(ps, "address %zu does not fit in 64 bits", count + 1);
            v = (v << 4) | (uint64_t)d;
            p++;
        }
        if (digits == 0) return fail(ps, "address %zu has no digits", count + 1);
        if (addrs) addrs[count] = v;
        count++;
    }
    if (count == 0) return fail(ps, "stack without addresses");
    *n = count;
    return 0;
}

static int line_is(const char *s, const char *e, const char *word) {
    size_t n = strlen(word);
    return (size_t)(e - s) >= n && memcmp(s, word, n) == 0;
}

void heap_dump_free(heap_dump *d) {
    if (!d) return;
    for (size_t i = 0; i < d->nstacks; i++)
        alloc_free(ALLOC_SUB_PROFILER, d->stacks[i].addrs);
    alloc_free(ALLOC_SUB_PROFILER, d->stacks);
    alloc_free(ALLOC_SUB_PROFILER, d->maps);
    memset(d, 0, sizeof(*d));
}

int heap_dump_parse(const char *text, size_t len, heap_dump *out, char *err, size_t errcap) {
    parse_state ps = {.err = err, .errcap = errcap};
    if (err && errcap) err[0] = '\0';
    if (!out) return PROF_ERR_BADARG;
    memset(out, 0, sizeof(*out));
    if (!text && len) return PROF_ERR_BADARG;

    size_t cap = 0;
    int have_total = 0;
    int in_stack = 0, stack_counted = 0;
    const char *pos = text, *end = text + len;
    int rc = 0;

    while (pos < end) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        const char *next = nl ? nl + 1 : end;
        ps.s = pos;
        ps.e = nl ? nl : end;
        ps.lineno++;
        pos = next;
        if (ps.e > ps.s && ps.e[-1] == '\r') ps.e--;

        if (ps.lineno == 1) {
            static const char magic[] = "heap_v2/";
            const char *p = ps.s + (sizeof(magic) - 1);
            uint64_t period;
            if (!line_is(ps.s, ps.e, magic)) {
                rc = fail(&ps, "not a jemalloc heap_v2 dump (expected \"heap_v2/<period>\")");
                goto out;
            }
            int r = parse_u64(&p, ps.e, &period);
            if (r < 0 || p != ps.e || period == 0) {
                rc = fail(&ps, "bad sample period in the heap_v2 header");
                goto out;
            }
            out->sample_period = period;
            continue;
        }

        const char *p = ps.s;
        skip_blanks(&p, ps.e);
        if (p == ps.e) continue; /* blank line */

        if (*p == 't') {
            p++;
            int star = 0;
            if (p < ps.e && *p == '*') {
                star = 1;
                p++;
            } else {
                uint64_t tid;
                if (parse_u64(&p, ps.e, &tid) < 0) {
                    rc = fail(&ps, "expected \"t*:\" or \"t<thread>:\"");
                    goto out;
                }
            }
            if (p >= ps.e || *p != ':') {
                rc = fail(&ps, "expected ':' after the thread name");
                goto out;
            }
            uint64_t v[4];
            if ((rc = parse_counts(&ps, p + 1, v)) < 0) goto out;
            if (!star) {
                /* Per-thread counts: validated, then ignored. */
                if (!have_total) {
                    rc = fail(&ps, "thread counts before the t* totals");
                    goto out;
                }
                continue;
            }
            if (!have_total) {
                out->total_live_objs = v[0];
                out->total_live_bytes = v[1];
                have_total = 1;
            } else if (in_stack && !stack_counted) {
                heap_stack *st = &out->stacks[out->nstacks - 1];
                st->live_objs = v[0];
                st->live_bytes = v[1];
                st->accum_objs = v[2];
                st->accum_bytes = v[3];
                stack_counted = 1;
            } else {
                rc = fail(&ps, "duplicate t* line");
                goto out;
            }
            continue;
        }

        if (*p == '@') {
            if (!have_total) {
                rc = fail(&ps, "stack before the t* totals");
                goto out;
            }
            if (in_stack && !stack_counted) {
                rc = fail(&ps, "previous stack has no t* counts");
                goto out;
            }
            size_t n = 0;
            if ((rc = parse_addrs(&ps, p + 1, NULL, &n)) < 0) goto out;
            if (n > SIZE_MAX / sizeof(uint64_t)) {
                rc = fail(&ps, "stack too deep");
                goto out;
            }
            if (out->nstacks == cap) {
                if (cap > SIZE_MAX / 2 / sizeof(heap_stack)) {
                    rc = fail(&ps, "too many stacks");
                    goto out;
                }
                cap = cap ? cap * 2 : 64;
                out->stacks =
                    alloc_realloc(ALLOC_SUB_PROFILER, out->stacks, cap * sizeof(heap_stack));
            }
            heap_stack *st = &out->stacks[out->nstacks++];
            memset(st, 0, sizeof(*st));
            st->addrs = alloc_malloc(ALLOC_SUB_PROFILER, n * sizeof(uint64_t));
            st->naddrs = n;
            parse_addrs(&ps, p + 1, st->addrs, &n);
            in_stack = 1;
            stack_counted = 0;
            continue;
        }

        if (line_is(p, ps.e, "MAPPED_LIBRARIES:")) {
            const char *q = p + strlen("MAPPED_LIBRARIES:");
            skip_blanks(&q, ps.e);
            if (q != ps.e) {
                rc = fail(&ps, "unexpected text after MAPPED_LIBRARIES:");
                goto out;
            }
            size_t n = (size_t)(end - pos);
            out->maps = alloc_malloc(ALLOC_SUB_PROFILER, n + 1);
            if (n) memcpy(out->maps, pos, n);
            out->maps[n] = '\0';
            pos = end;
            break;
        }

        {
            /* Quote a little of the offending line, printable characters only. */
            char shown[41];
            size_t k = 0;
            for (const char *q = p; q < ps.e && k < sizeof(shown) - 1; q++)
                shown[k++] = (*q >= 0x20 && *q < 0x7f) ? *q : '?';
            shown[k] = '\0';
            rc = fail(&ps, "unexpected line \"%s\"", shown);
            goto out;
        }
    }

    if (ps.lineno == 0) {
        ps.lineno = 1;
        rc = fail(&ps, "empty dump");
        goto out;
    }
    if (!have_total) {
        rc = fail(&ps, "no t* totals line");
        goto out;
    }
    if (in_stack && !stack_counted) {
        rc = fail(&ps, "last stack has no t* counts");
        goto out;
    }
    if (!out->maps) {
        out->maps = alloc_malloc(ALLOC_SUB_PROFILER, 1);
        out->maps[0] = '\0';
    }

out:
    if (rc < 0) heap_dump_free(out);
    return rc;
}
