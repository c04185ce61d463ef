/* Unit tests of the RESP2 request parser: every framing edge, fed whole, split at every byte,
 * and one byte at a time. Each call sees its input at the very end of a readable mapping
 * followed by a PROT_NONE page (picohttpparser's trick), and the two arenas alternate so the
 * buffer moves between calls: an over-read crashes, a stale pointer shows up as wrong argv. */
#include "server/resp.h"

#include "alloc/alloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- guarded arenas ---------------------------------------------------------------------- */

#define ARENA_SIZE ((size_t)2 * 1024 * 1024)

typedef struct arena {
    char *base;
    size_t size; /* readable bytes; a PROT_NONE page follows */
} arena;

static arena arenas[2];
static int arena_flip;

static void arena_init(arena *a, size_t size) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size = (size + pg - 1) / pg * pg;
    char *m = mmap(NULL, size + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + size, pg, PROT_NONE), 0);
    a->base = m;
    a->size = size;
}

static void arena_deinit(arena *a) {
    munmap(a->base, a->size + (size_t)sysconf(_SC_PAGESIZE));
}

/* Copies src to the end of the next arena: the byte after the last one is unreadable. */
static char *guarded_copy(const void *src, size_t len) {
    arena *a = &arenas[arena_flip ^= 1];
    assert_true(len <= a->size);
    char *d = a->base + a->size - len;
    if (len) memcpy(d, src, len);
    return d;
}

static int setup(void **state) {
    (void)state;
    arena_init(&arenas[0], ARENA_SIZE);
    arena_init(&arenas[1], ARENA_SIZE);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    arena_deinit(&arenas[0]);
    arena_deinit(&arenas[1]);
    return 0;
}

/* ---- recording parsed commands ----------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* "(len:bytes,len:bytes,)" per command. */
static void record(sbuf *b, const resp_parser *p) {
    sb_add(b, "(", 1);
    for (size_t i = 0; i < p->argc; i++) {
        char num[32];
        int k = snprintf(num, sizeof(num), "%zu:", p->argv[i].len);
        sb_add(b, num, (size_t)k);
        sb_add(b, p->argv[i].ptr, p->argv[i].len);
        sb_add(b, ",", 1);
    }
    sb_add(b, ")", 1);
}

typedef struct run_result {
    sbuf out;
    int status; /* RESP_ERROR, or RESP_NEED_MORE when the input ran out */
    char err[128];
    size_t leftover; /* unconsumed bytes at the end */
    size_t calls;
} run_result;

static void run_result_free(run_result *r) {
    free(r->out.s);
    memset(r, 0, sizeof(*r));
}

/* A connection's read loop: reads end at ends[0..nends) (ascending, the last is len); after
 * each read, parse until RESP_NEED_MORE, each call on a fresh guarded copy of the unconsumed
 * bytes. */
static void run_stream(const resp_limits *lim, const char *in, size_t len, const size_t *ends,
                       size_t nends, run_result *rr) {
    resp_parser p;
    resp_parser_init(&p, lim);
    char *q = malloc(len + 1);
    assert_non_null(q);
    size_t qlen = 0, fed = 0;
    memset(rr, 0, sizeof(*rr));
    rr->status = RESP_NEED_MORE;
    for (size_t i = 0; i < nends && rr->status != RESP_ERROR; i++) {
        memcpy(q + qlen, in + fed, ends[i] - fed);
        qlen += ends[i] - fed;
        fed = ends[i];
        for (;;) {
            char *buf = guarded_copy(q, qlen);
            size_t consumed = 12345;
            int st = resp_parse(&p, buf, qlen, &consumed);
            rr->calls++;
            if (st == RESP_ERROR) {
                assert_int_equal(consumed, 0);
                rr->status = st;
                snprintf(rr->err, sizeof(rr->err), "%s", p.err);
                /* Sticky until reset. */
                assert_int_equal(resp_parse(&p, buf, qlen, &consumed), RESP_ERROR);
                break;
            }
            if (st == RESP_NEED_MORE) {
                assert_int_equal(st, RESP_NEED_MORE);
                assert_int_equal(consumed, 0);
                break;
            }
            assert_int_equal(st, RESP_OK);
            assert_true(consumed > 0 && consumed <= qlen);
            record(&rr->out, &p);
            memmove(q, q + consumed, qlen - consumed);
            qlen -= consumed;
        }
    }
    rr->leftover = qlen;
    resp_parser_deinit(&p);
    free(q);
}

static void run_whole(const resp_limits *lim, const char *in, size_t len, run_result *rr) {
    size_t end = len;
    run_stream(lim, in, len, &end, 1, rr);
}

static void run_bytewise(const resp_limits *lim, const char *in, size_t len, run_result *rr) {
    size_t *ends = malloc((len + 1) * sizeof(*ends));
    assert_non_null(ends);
    for (size_t i = 0; i < len; i++)
        ends[i] = i + 1;
    run_stream(lim, in, len, ends, len, rr);
    free(ends);
}

static void expect_result(const run_result *rr, const char *out, size_t outlen, int status,
                          const char *err) {
    if (rr->out.len != outlen || (outlen && memcmp(rr->out.s, out, outlen) != 0)) {
        print_error("got      %.*s\nexpected %.*s\n", (int)rr->out.len, rr->out.s ? rr->out.s : "",
                    (int)outlen, out);
        fail();
    }
    assert_int_equal(rr->status, status);
    if (status == RESP_ERROR) assert_string_equal(rr->err, err);
}

/* Whole, split into two reads at every position, and one byte at a time: same result. */
static void check_all_ways(const resp_limits *lim, const char *in, size_t len, const char *out,
                           size_t outlen, int status, const char *err) {
    run_result rr;
    run_whole(lim, in, len, &rr);
    expect_result(&rr, out, outlen, status, err);
    run_result_free(&rr);

    for (size_t k = 0; k <= len; k++) {
        size_t ends[2] = {k, len};
        run_stream(lim, in, len, ends, 2, &rr);
        expect_result(&rr, out, outlen, status, err);
        run_result_free(&rr);
    }

    run_bytewise(lim, in, len, &rr);
    expect_result(&rr, out, outlen, status, err);
    run_result_free(&rr);
}

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- framing ----------------------------------------------------------------------------- */

static const char pipeline[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
                               "PING\r\n"
                               "*0\r\n"
                               "\r\n"
                               "*-1\r\n"
                               "set \"a b\" 'c\\'d' \"\\x41\\n\"\n"
                               "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
                               "*1\r\n$4\r\na\0\r\n\r\n"
                               "  spaced   out  \r\n"
                               "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
static const char pipeline_out[] = "(3:SET,3:key,5:va\r\nl,)"
                                   "(4:PING,)"
                                   "()"
                                   "()"
                                   "()"
                                   "(3:set,3:a b,3:c'd,2:A\n,)"
                                   "(4:ECHO,0:,)"
                                   "(4:a\0\r\n,)"
                                   "(6:spaced,3:out,)"
                                   "(3:GET,1:k,)";

static void test_pipeline_every_split(void **state) {
    (void)state;
    check_all_ways(NULL, S(pipeline), S(pipeline_out), RESP_NEED_MORE, NULL);
}

static void test_pipeline_three_reads(void **state) {
    (void)state;
    size_t len = sizeof(pipeline) - 1;
    for (size_t a = 0; a <= len; a += 3) {
        for (size_t b = a; b <= len; b += 5) {
            size_t ends[3] = {a, b, len};
            run_result rr;
            run_stream(NULL, pipeline, len, ends, 3, &rr);
            expect_result(&rr, S(pipeline_out), RESP_NEED_MORE, NULL);
            assert_int_equal(rr.leftover, 0);
            run_result_free(&rr);
        }
    }
}

static void test_consumed_exact(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    static const char in[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\n*0\r\n";
    char *buf = guarded_copy(in, sizeof(in) - 1);
    size_t len = sizeof(in) - 1, c;
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK);
    assert_int_equal(c, 20);
    assert_int_equal(p.argc, 2);
    assert_ptr_equal(p.argv[0].ptr, buf + 8);
    assert_ptr_equal(p.argv[1].ptr, buf + 17);
    buf += c, len -= c;
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK);
    assert_int_equal(c, 6);
    assert_int_equal(p.argc, 1);
    assert_memory_equal(p.argv[0].ptr, "PING", 4);
    buf += c, len -= c;
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK); /* "\n": empty inline */
    assert_int_equal(c, 1);
    assert_int_equal(p.argc, 0);
    buf += c, len -= c;
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK);
    assert_int_equal(c, 4);
    assert_int_equal(p.argc, 0);
    buf += c, len -= c;
    assert_int_equal(len, 0);
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_NEED_MORE);
    assert_int_equal(c, 0);
    resp_parser_deinit(&p);
}

static void test_empty_multibulk(void **state) {
    (void)state;
    check_all_ways(NULL, S("*0\r\n"), S("()"), RESP_NEED_MORE, NULL);
    check_all_ways(NULL, S("*-1\r\n"), S("()"), RESP_NEED_MORE, NULL);
    check_all_ways(NULL, S("*-100\r\n*1\r\n$1\r\nx\r\n"), S("()(1:x,)"), RESP_NEED_MORE, NULL);
    /* "-0" is not a number for string2ll. */
    check_all_ways(NULL, S("*-0\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid multibulk length");
}

static void test_binary_bulk(void **state) {
    (void)state;
    static const char in[] = "*3\r\n$4\r\n\r\n\r\n\r\n$3\r\n\0\0\0\r\n$6\r\n*1\r\n$1\r\n";
    check_all_ways(NULL, S(in), S("(4:\r\n\r\n,3:\0\0\0,6:*1\r\n$1,)"), RESP_NEED_MORE, NULL);
}

static void test_incomplete_then_completed(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    static const char in[] = "*1\r\n$3\r\nabc\r\n";
    size_t c = 99;
    char *buf = guarded_copy(in, 11); /* "*1\r\n$3\r\nabc" */
    assert_int_equal(resp_parse(&p, buf, 11, &c), RESP_NEED_MORE);
    assert_int_equal(c, 0);
    assert_int_equal(resp_parser_bytes_needed(&p), 13);
    buf = guarded_copy(in, 12);
    assert_int_equal(resp_parse(&p, buf, 12, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_bytes_needed(&p), 13);
    buf = guarded_copy(in, 13);
    assert_int_equal(resp_parse(&p, buf, 13, &c), RESP_OK);
    assert_int_equal(c, 13);
    assert_int_equal(p.argc, 1);
    assert_ptr_equal(p.argv[0].ptr, buf + 8);
    assert_int_equal(p.argv[0].len, 3);
    assert_int_equal(resp_parser_bytes_needed(&p), 0);
    resp_parser_deinit(&p);
}

static void test_bytes_needed(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    static const char in[] = "*2\r\n$3\r\nfoo\r\n$100000\r\nxyz";
    size_t c, len = sizeof(in) - 1;
    /* Nothing known yet: inside count lines. */
    for (size_t k = 0; k < 8; k++) {
        resp_parser_reset(&p);
        assert_int_equal(resp_parse(&p, guarded_copy(in, k), k, &c), RESP_NEED_MORE);
        assert_int_equal(resp_parser_bytes_needed(&p), 0);
    }
    resp_parser_reset(&p);
    assert_int_equal(resp_parse(&p, guarded_copy(in, 8), 8, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_bytes_needed(&p), 8 + 3 + 2);
    assert_int_equal(resp_parse(&p, guarded_copy(in, 20), 20, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_bytes_needed(&p), 0); /* in the "$100000" line */
    assert_int_equal(resp_parse(&p, guarded_copy(in, len), len, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_bytes_needed(&p), 22 + 100000 + 2);
    /* Inline commands never know. */
    resp_parser_reset(&p);
    assert_int_equal(resp_parse(&p, guarded_copy("GET k", 5), 5, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parser_bytes_needed(&p), 0);
    resp_parser_deinit(&p);
}

/* Redis skips the two bytes after a bulk (and the one after a count line's '\r') unchecked;
 * so do we. */
static void test_lenient_terminators(void **state) {
    (void)state;
    check_all_ways(NULL, S("*2\r\n$3\r\nabcXY$1\r?xZZ"), S("(3:abc,1:x,)"), RESP_NEED_MORE, NULL);
    check_all_ways(NULL, S("*1\rX$1\r\nq\r\n"), S("(1:q,)"), RESP_NEED_MORE, NULL);
}

/* ---- inline ------------------------------------------------------------------------------ */

typedef struct inline_case {
    const char *in;
    size_t inlen;
    const char *out; /* NULL: unbalanced quotes */
    size_t outlen;
} inline_case;

#define OK_CASE(in, out)                                                                           \
    { S(in), S(out) }
#define BAD_CASE(in)                                                                               \
    { S(in), NULL, 0 }

static const inline_case inline_cases[] = {
    OK_CASE("a b c\r\n", "(1:a,1:b,1:c,)"),
    OK_CASE("a\tb\n", "(1:a,1:b,)"),
    OK_CASE("\"hello world\"\n", "(11:hello world,)"),
    OK_CASE("\"\\x41\\x4a\\x4Z\\x\"\n", "(6:AJx4Zx,)"),
    OK_CASE("\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n", "(8:\n\r\t\b\a\\\"q,)"),
    OK_CASE("'it\\'s' 'a\\nb' '\\\"'\n", "(4:it's,4:a\\nb,2:\\\",)"),
    OK_CASE("foo\"bar baz\" x\n", "(10:foobar baz,1:x,)"),
    OK_CASE("pre'q q' x\n", "(6:preq q,1:x,)"),
    OK_CASE("\"\" '' x\n", "(0:,0:,1:x,)"),
    OK_CASE("\"abc\"\t next\r\n", "(3:abc,4:next,)"),
    OK_CASE("a\vb\n", "(3:a\vb,)"),
    OK_CASE("\v\f a\n", "(1:a,)"),
    OK_CASE("a\0b c\n", "(1:a,)"),
    OK_CASE("\0\n", "()"),
    OK_CASE("  \t \r\n", "()"),
    OK_CASE("\n", "()"),
    OK_CASE("x\r\r\n", "(1:x,)"),
    OK_CASE("\"a\r\"\r\n", "(2:a\r,)"),
    OK_CASE("\"\\x00\"\n", "(1:\0,)"),
    OK_CASE("\"a\" \"b\"\n", "(1:a,1:b,)"),
    OK_CASE("'a'\r\n", "(1:a,)"),
    BAD_CASE("\"abc\n"),
    BAD_CASE("'abc\n"),
    BAD_CASE("\"abc\"def\n"),
    BAD_CASE("'abc'def\n"),
    BAD_CASE("\"abc\\\"\n"),
    BAD_CASE("\"end\\\n"),
    BAD_CASE("x \"a\0\" y\n"),
};

static void test_inline(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(inline_cases) / sizeof(inline_cases[0]); i++) {
        const inline_case *t = &inline_cases[i];
        if (t->out)
            check_all_ways(NULL, t->in, t->inlen, t->out, t->outlen, RESP_NEED_MORE, NULL);
        else
            check_all_ways(NULL, t->in, t->inlen, "", 0, RESP_ERROR,
                           "Protocol error: unbalanced quotes in request");
    }
}

static void test_inline_unescaped_in_place(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    static const char in[] = "SET \"k\\x31\" 'v v'\r\nrest";
    size_t len = sizeof(in) - 1, c;
    char *buf = guarded_copy(in, len);
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK);
    assert_int_equal(c, 19);
    assert_int_equal(p.argc, 3);
    for (size_t i = 0; i < p.argc; i++) {
        assert_true(p.argv[i].ptr >= buf);
        assert_true(p.argv[i].ptr + p.argv[i].len <= buf + c);
    }
    assert_memory_equal(p.argv[1].ptr, "k1", 2);
    assert_memory_equal(p.argv[2].ptr, "v v", 3);
    assert_memory_equal(buf + c, "rest", 4); /* untouched */
    resp_parser_deinit(&p);
}

/* ---- errors and limits ------------------------------------------------------------------- */

typedef struct err_case {
    const char *in;
    size_t inlen;
    const char *err;
} err_case;

#define ERR_CASE(in, err)                                                                          \
    { S(in), "Protocol error: " err }

static const err_case default_err_cases[] = {
    ERR_CASE("*abc\r\n", "invalid multibulk length"),
    ERR_CASE("*\r\n", "invalid multibulk length"),
    ERR_CASE("*+1\r\n", "invalid multibulk length"),
    ERR_CASE("*01\r\n", "invalid multibulk length"),
    ERR_CASE("* 1\r\n", "invalid multibulk length"),
    ERR_CASE("*1 \r\n", "invalid multibulk length"),
    ERR_CASE("*1048577\r\n", "invalid multibulk length"),
    ERR_CASE("*99999999999999999999\r\n", "invalid multibulk length"),
    ERR_CASE("*9223372036854775808\r\n", "invalid multibulk length"),
    ERR_CASE("*-9223372036854775809\r\n", "invalid multibulk length"),
    ERR_CASE("*1\r\n$-1\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$-9223372036854775808\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$abc\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$+3\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$03\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$3 \r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$536870913\r\n", "invalid bulk length"),
    ERR_CASE("*1\r\n$99999999999999999999999\r\n", "invalid bulk length"),
    ERR_CASE("*2\r\n$1\r\na\r\nx\r\n", "expected '$', got 'x'"),
    ERR_CASE("*1\r\n:1\r\n", "expected '$', got ':'"),
    ERR_CASE("*1\r\n*1\r\n", "expected '$', got '*'"),
    ERR_CASE("*1\r\n\r\n", "expected '$', got '\r'"),
    ERR_CASE("\"abc\r\n", "unbalanced quotes in request"),
};

static void test_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(default_err_cases) / sizeof(default_err_cases[0]); i++) {
        const err_case *t = &default_err_cases[i];
        check_all_ways(NULL, t->in, t->inlen, "", 0, RESP_ERROR, t->err);
    }
}

static void test_commands_before_error(void **state) {
    (void)state;
    check_all_ways(NULL, S("PING\r\n*1\r\n$1\r\nx\r\n*1\r\n$x\r\n"), S("(4:PING,)(1:x,)"),
                   RESP_ERROR, "Protocol error: invalid bulk length");
}

static void test_error_sticky_until_reset(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    size_t c;
    assert_int_equal(resp_parse(&p, guarded_copy("*x\r\n", 4), 4, &c), RESP_ERROR);
    assert_string_equal(p.err, "Protocol error: invalid multibulk length");
    assert_int_equal(resp_parse(&p, guarded_copy("PING\n", 5), 5, &c), RESP_ERROR);
    resp_parser_reset(&p);
    assert_string_equal(p.err, "");
    assert_int_equal(resp_parse(&p, guarded_copy("PING\n", 5), 5, &c), RESP_OK);
    assert_int_equal(p.argc, 1);
    resp_parser_deinit(&p);
}

/* A client that owes AUTH: at most 10 arguments of at most 16 KiB (Redis's texts), checked
 * after the general limits. */
static void test_unauthenticated_limits(void **state) {
    (void)state;
    resp_limits lim = resp_limits_default();
    lim.unauthenticated = 1;
    check_all_ways(&lim, S("*11\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: unauthenticated multibulk length");
    check_all_ways(&lim, S("*2\r\n$16385\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: unauthenticated bulk length");
    check_all_ways(&lim, S("*1\r\n$536870913\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid bulk length");
    check_all_ways(&lim, S("*1048577\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid multibulk length");
    check_all_ways(&lim, S("*10\r\n"), "", 0, RESP_NEED_MORE, NULL);
    check_all_ways(&lim, S("*1\r\n$16384\r\n"), "", 0, RESP_NEED_MORE, NULL);
}

static const resp_limits small = {.max_bulk_len = 10, .max_multibulk = 5, .max_inline = 16};

static void test_small_limits(void **state) {
    (void)state;
    /* Counts. */
    check_all_ways(&small, S("*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
                   S("(1:a,1:b,1:c,1:d,1:e,)"), RESP_NEED_MORE, NULL);
    check_all_ways(&small, S("*6\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid multibulk length");
    /* Bulk of exactly max_bulk_len, and one more. */
    check_all_ways(&small, S("*1\r\n$10\r\n0123456789\r\n"), S("(10:0123456789,)"), RESP_NEED_MORE,
                   NULL);
    check_all_ways(&small, S("*1\r\n$11\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid bulk length");
    /* Count lines: max_inline bytes before '\r' are searched, one more is too big. */
    check_all_ways(&small, S("*000000000000001\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid multibulk length");
    check_all_ways(&small, S("*0000000000000001\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: too big mbulk count string");
    check_all_ways(&small, S("*0000000000000001"), "", 0, RESP_ERROR,
                   "Protocol error: too big mbulk count string");
    check_all_ways(&small, S("*000000000000001"), "", 0, RESP_NEED_MORE, NULL);
    check_all_ways(&small, S("*1\r\n$000000000000001\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: invalid bulk length");
    check_all_ways(&small, S("*1\r\n$0000000000000001\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: too big bulk count string");
    check_all_ways(&small, S("*1\r\n$0000000000000001"), "", 0, RESP_ERROR,
                   "Protocol error: too big bulk count string");
    check_all_ways(&small, S("*1\r\n$000000000000001"), "", 0, RESP_NEED_MORE, NULL);
    /* The bulk line limit applies per line, not from the command start. */
    check_all_ways(&small, S("*2\r\n$10\r\n0123456789\r\n$10\r\nabcdefghij\r\n"),
                   S("(10:0123456789,10:abcdefghij,)"), RESP_NEED_MORE, NULL);
    /* Inline: max_inline bytes before '\n' (a '\r' counts). */
    check_all_ways(&small, S("0123456789abcdef\n"), S("(16:0123456789abcdef,)"), RESP_NEED_MORE,
                   NULL);
    check_all_ways(&small, S("0123456789abcde\r\n"), S("(15:0123456789abcde,)"), RESP_NEED_MORE,
                   NULL);
    check_all_ways(&small, S("0123456789abcdefg\n"), "", 0, RESP_ERROR,
                   "Protocol error: too big inline request");
    check_all_ways(&small, S("0123456789abcdef\r\n"), "", 0, RESP_ERROR,
                   "Protocol error: too big inline request");
    check_all_ways(&small, S("0123456789abcdefg"), "", 0, RESP_ERROR,
                   "Protocol error: too big inline request");
    check_all_ways(&small, S("0123456789abcdef"), "", 0, RESP_NEED_MORE, NULL);
    /* Several maximal inline lines in one buffer. */
    check_all_ways(&small, S("0123456789abcdef\nPING\n0123456789abcdef\n"),
                   S("(16:0123456789abcdef,)(4:PING,)(16:0123456789abcdef,)"), RESP_NEED_MORE,
                   NULL);
}

/* Inputs too big to copy once per byte: one guarded copy, parsed with growing lengths. */
static void expect_growing(const char *in, size_t len, int last_status, const char *err) {
    resp_parser p;
    resp_parser_init(&p, NULL);
    char *buf = guarded_copy(in, len);
    size_t c;
    for (size_t k = 0; k < len; k++)
        assert_int_equal(resp_parse(&p, buf, k, &c), RESP_NEED_MORE);
    assert_int_equal(resp_parse(&p, buf, len, &c), last_status);
    if (err) assert_string_equal(p.err, err);
    resp_parser_deinit(&p);
}

static void test_default_limits(void **state) {
    (void)state;
    resp_limits d = resp_limits_default();
    assert_int_equal(d.max_bulk_len, 512LL * 1024 * 1024);
    assert_int_equal(d.max_multibulk, 1024 * 1024);
    assert_int_equal(d.max_inline, 64 * 1024);

    size_t max = (size_t)64 * 1024;
    char *big = malloc(max + 16);
    assert_non_null(big);
    run_result rr;

    memset(big, 'a', max + 1);
    run_whole(NULL, big, max, &rr);
    expect_result(&rr, "", 0, RESP_NEED_MORE, NULL);
    run_result_free(&rr);
    run_whole(NULL, big, max + 1, &rr);
    expect_result(&rr, "", 0, RESP_ERROR, "Protocol error: too big inline request");
    run_result_free(&rr);
    expect_growing(big, max + 1, RESP_ERROR, "Protocol error: too big inline request");
    big[max] = '\n';
    expect_growing(big, max + 1, RESP_OK, NULL);

    big[0] = '*';
    memset(big + 1, '1', max);
    expect_growing(big, max + 1, RESP_ERROR, "Protocol error: too big mbulk count string");

    memcpy(big, "*1\r\n$", 5); /* NOLINT(bugprone-not-null-terminated-result) */
    memset(big + 5, '1', max);
    expect_growing(big, max + 5, RESP_ERROR, "Protocol error: too big bulk count string");

    /* The largest allowed count and bulk are accepted (and wait for their data). */
    run_whole(NULL, S("*1048576\r\n$536870912\r\n"), &rr);
    expect_result(&rr, "", 0, RESP_NEED_MORE, NULL);
    run_result_free(&rr);
    free(big);
}

/* ---- big commands, memory ---------------------------------------------------------------- */

#define BIG_ARGC 100000

static char *build_big(size_t *len) {
    size_t cap = 16 + (size_t)BIG_ARGC * 20, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    n += (size_t)sprintf(s + n, "*%d\r\n", BIG_ARGC);
    for (int i = 0; i < BIG_ARGC; i++) {
        char arg[16];
        int k = sprintf(arg, "%d", i);
        n += (size_t)sprintf(s + n, "$%d\r\n%s\r\n", k, arg);
    }
    *len = n;
    return s;
}

static void check_big(const resp_parser *p) {
    assert_int_equal(p->argc, BIG_ARGC);
    for (int i = 0; i < BIG_ARGC; i++) {
        char arg[16];
        int k = sprintf(arg, "%d", i);
        assert_int_equal(p->argv[i].len, (size_t)k);
        assert_memory_equal(p->argv[i].ptr, arg, (size_t)k);
    }
}

static void test_big_command(void **state) {
    (void)state;
    size_t len, c;
    char *big = build_big(&len);
    resp_parser p;
    resp_parser_init(&p, NULL);

    /* Whole, at the end of a guarded arena. */
    char *buf = guarded_copy(big, len);
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK);
    assert_int_equal(c, len);
    check_big(&p);

    /* Split in two reads with the buffer moving in between. */
    buf = guarded_copy(big, len / 2);
    assert_int_equal(resp_parse(&p, buf, len / 2, &c), RESP_NEED_MORE);
    buf = guarded_copy(big, len);
    assert_int_equal(resp_parse(&p, buf, len, &c), RESP_OK);
    assert_int_equal(c, len);
    check_big(&p);

    /* One byte at a time: each call must only look at what is new, or this never ends. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t k = 0; k < len; k++) {
        assert_int_equal(resp_parse(&p, big, k, &c), RESP_NEED_MORE);
    }
    assert_int_equal(resp_parse(&p, big, len, &c), RESP_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(c, len);
    check_big(&p);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 10.0);

    /* A big command's arrays are given back when the next, small one starts. */
    size_t mem_big = resp_parser_mem(&p);
    assert_true(mem_big >= BIG_ARGC * sizeof(resp_arg));
    buf = guarded_copy("*1\r\n$4\r\nPING\r\n", 14);
    assert_int_equal(resp_parse(&p, buf, 14, &c), RESP_OK);
    assert_true(resp_parser_mem(&p) < (size_t)16 * 1024);

    resp_parser_deinit(&p);
    free(big);
}

static void test_announced_count_not_trusted(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    size_t c;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_QUERY_BUF);
    assert_int_equal(resp_parse(&p, guarded_copy("*1048576\r\n", 10), 10, &c), RESP_NEED_MORE);
    /* min(n, 1024) slots, not 1M. */
    assert_true(resp_parser_mem(&p) <= 1024 * (sizeof(resp_arg) + sizeof(size_t)) + 256);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_QUERY_BUF) - base, (int64_t)resp_parser_mem(&p));
    resp_parser_deinit(&p);
    assert_int_equal(resp_parser_mem(&p), 0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_QUERY_BUF), base);
}

static void test_no_allocation_per_command(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, NULL);
    size_t c;
    char cmd[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    char *buf = cmd;
    assert_int_equal(resp_parse(&p, buf, sizeof(cmd) - 1, &c), RESP_OK);
    int64_t after_first = alloc_sub_bytes(ALLOC_SUB_QUERY_BUF);
    void *argv = p.argv;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(resp_parse(&p, buf, sizeof(cmd) - 1, &c), RESP_OK);
        assert_int_equal(p.argc, 3);
        assert_int_equal(resp_parse(&p, guarded_copy("GET k\r\n", 7), 7, &c), RESP_OK);
        assert_int_equal(p.argc, 2);
    }
    assert_ptr_equal(p.argv, argv);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_QUERY_BUF), after_first);

    /* Alternating medium (up to 1024 arguments) and small commands: no reallocation churn. */
    char medium[600 * 8 + 16];
    size_t mlen = (size_t)sprintf(medium, "*600\r\n");
    for (int i = 0; i < 600; i++)
        mlen += (size_t)sprintf(medium + mlen, "$1\r\n%d\r\n", i % 10);
    assert_int_equal(resp_parse(&p, medium, mlen, &c), RESP_OK);
    assert_int_equal(p.argc, 600);
    argv = p.argv;
    int64_t after_medium = alloc_sub_bytes(ALLOC_SUB_QUERY_BUF);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(resp_parse(&p, buf, sizeof(cmd) - 1, &c), RESP_OK);
        assert_int_equal(resp_parse(&p, medium, mlen, &c), RESP_OK);
        assert_int_equal(p.argc, 600);
    }
    assert_ptr_equal(p.argv, argv);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_QUERY_BUF), after_medium);
    resp_parser_deinit(&p);
}

static void test_many_inline_args(void **state) {
    (void)state;
    /* Arrays grow for inline commands too. */
    char line[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        line[n++] = (char)('a' + i % 26), line[n++] = ' ';
    line[n++] = '\n';
    resp_parser p;
    resp_parser_init(&p, NULL);
    size_t c;
    char *buf = guarded_copy(line, n);
    assert_int_equal(resp_parse(&p, buf, n, &c), RESP_OK);
    assert_int_equal(c, n);
    assert_int_equal(p.argc, 1000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(p.argv[i].len, 1);
        assert_int_equal(p.argv[i].ptr[0], 'a' + i % 26);
    }
    resp_parser_deinit(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_every_split),
        cmocka_unit_test(test_pipeline_three_reads),
        cmocka_unit_test(test_consumed_exact),
        cmocka_unit_test(test_empty_multibulk),
        cmocka_unit_test(test_binary_bulk),
        cmocka_unit_test(test_incomplete_then_completed),
        cmocka_unit_test(test_bytes_needed),
        cmocka_unit_test(test_lenient_terminators),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_inline_unescaped_in_place),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_commands_before_error),
        cmocka_unit_test(test_error_sticky_until_reset),
        cmocka_unit_test(test_unauthenticated_limits),
        cmocka_unit_test(test_small_limits),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_big_command),
        cmocka_unit_test(test_announced_count_not_trusted),
        cmocka_unit_test(test_no_allocation_per_command),
        cmocka_unit_test(test_many_inline_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
