/* Unit tests of the reply writer: exact bytes of every encoder, block layout for large
 * payloads, writev draining with partial consumes, and exact memory accounting. */
#include "server/reply.h"

#include "alloc/alloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK ((size_t)REPLY_BLOCK_SIZE)

/* Everything pending, through the iovec interface; returns its length. */
static size_t collect(const reply_buf *rb, char *out, size_t cap) {
    struct iovec iov[256];
    int n = reply_buf_iov(rb, iov, 256);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        assert_true(iov[i].iov_len > 0);
        assert_true(len + iov[i].iov_len <= cap);
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    assert_int_equal(len, reply_buf_bytes(rb));
    return len;
}

static size_t count_blocks(const reply_buf *rb) {
    size_t n = 0;
    for (const reply_block *b = rb->head; b; b = b->next)
        n++;
    return n;
}

/* allocated is exactly the usable size of every block, and what the allocator counted. */
static void check_accounting(const reply_buf *rb, int64_t base) {
    size_t sum = 0, pending = 0;
    for (const reply_block *b = rb->head; b; b = b->next) {
        sum += alloc_usable_size(b);
        assert_true(b->sent <= b->used && b->used <= b->cap);
        assert_int_equal(b->cap, alloc_usable_size(b) - sizeof(reply_block));
        pending += b->used - b->sent;
        if (!b->next) assert_ptr_equal(b, rb->tail);
    }
    assert_int_equal(rb->allocated, sum);
    assert_int_equal(rb->pending, pending);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF) - base, (int64_t)sum);
}

#define EXPECT(rb, lit)                                                                            \
    do {                                                                                           \
        char got_[4096];                                                                           \
        size_t n_ = collect((rb), got_, sizeof(got_));                                             \
        if (n_ != sizeof(lit) - 1 || memcmp(got_, (lit), n_) != 0) {                               \
            print_error("got %.*s\n", (int)n_, got_);                                              \
            fail();                                                                                \
        }                                                                                          \
        reply_buf_consume((rb), n_);                                                               \
    } while (0)

static void test_encoders(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    assert_int_equal(reply_buf_bytes(&rb), 0);
    assert_int_equal(reply_buf_iov(&rb, NULL, 0), 0);

    reply_add_status(&rb, "OK");
    EXPECT(&rb, "+OK\r\n");
    reply_add_status(&rb, "");
    EXPECT(&rb, "+\r\n");
    reply_add_error(&rb, "ERR unknown command 'foo'");
    EXPECT(&rb, "-ERR unknown command 'foo'\r\n");
    reply_add_error(&rb, "WRONGTYPE Operation against a key holding the wrong kind of value");
    EXPECT(&rb, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    reply_add_int(&rb, 0);
    EXPECT(&rb, ":0\r\n");
    reply_add_int(&rb, 42);
    EXPECT(&rb, ":42\r\n");
    reply_add_int(&rb, -1);
    EXPECT(&rb, ":-1\r\n");
    reply_add_int(&rb, LLONG_MAX);
    EXPECT(&rb, ":9223372036854775807\r\n");
    reply_add_int(&rb, LLONG_MIN);
    EXPECT(&rb, ":-9223372036854775808\r\n");
    reply_add_bulk(&rb, "hello", 5);
    EXPECT(&rb, "$5\r\nhello\r\n");
    reply_add_bulk(&rb, "", 0);
    EXPECT(&rb, "$0\r\n\r\n");
    reply_add_bulk(&rb, NULL, 0);
    EXPECT(&rb, "$0\r\n\r\n");
    reply_add_bulk(&rb, "a\0\r\nb", 5);
    EXPECT(&rb, "$5\r\na\0\r\nb\r\n");
    reply_add_bulk_cstr(&rb, "bar");
    EXPECT(&rb, "$3\r\nbar\r\n");
    reply_add_bulk_cstr(&rb, NULL);
    EXPECT(&rb, "$-1\r\n");
    reply_add_null(&rb);
    EXPECT(&rb, "$-1\r\n");
    reply_add_null_array(&rb);
    EXPECT(&rb, "*-1\r\n");
    reply_add_array_len(&rb, 0);
    EXPECT(&rb, "*0\r\n");
    reply_add_array_len(&rb, 3);
    EXPECT(&rb, "*3\r\n");
    reply_add_map_len(&rb, 2);
    EXPECT(&rb, "*4\r\n");
    reply_add_map_len(&rb, 0);
    EXPECT(&rb, "*0\r\n");
    reply_add_raw(&rb, "+PONG\r\n", 7);
    EXPECT(&rb, "+PONG\r\n");
    reply_add_raw(&rb, "x", 0);
    EXPECT(&rb, "");

    /* Several replies back to back. */
    reply_add_array_len(&rb, 2);
    reply_add_bulk_cstr(&rb, "k");
    reply_add_int(&rb, 7);
    EXPECT(&rb, "*2\r\n$1\r\nk\r\n:7\r\n");

    check_accounting(&rb, base);
    reply_buf_deinit(&rb);
    check_accounting(&rb, base);
    assert_int_equal(rb.allocated, 0);
}

/* The shapes a handler states, in RESP2: exactly the encodings replies had before RESP3. */
static void test_shapes_resp2(void **state) {
    (void)state;
    reply_buf rb;
    reply_buf_init(&rb);
    assert_int_equal(rb.resp, 2);
    reply_add_set_len(&rb, 3);
    EXPECT(&rb, "*3\r\n");
    reply_add_push_len(&rb, 3);
    EXPECT(&rb, "*3\r\n");
    reply_add_bool(&rb, 1);
    reply_add_bool(&rb, 0);
    EXPECT(&rb, ":1\r\n:0\r\n");
    /* Doubles as Redis 7.0's RESP2 scores: %.17g in a bulk string, inf spelled out. */
    reply_add_double(&rb, 1.5);
    EXPECT(&rb, "$3\r\n1.5\r\n");
    reply_add_double(&rb, 1.1);
    EXPECT(&rb, "$18\r\n1.1000000000000001\r\n");
    reply_add_double(&rb, 3);
    EXPECT(&rb, "$1\r\n3\r\n");
    reply_add_double(&rb, -0.0);
    EXPECT(&rb, "$2\r\n-0\r\n");
    reply_add_double(&rb, 1e300);
    EXPECT(&rb, "$23\r\n1.0000000000000001e+300\r\n");
    reply_add_double(&rb, 5e-324);
    EXPECT(&rb, "$23\r\n4.9406564584124654e-324\r\n");
    reply_add_double(&rb, INFINITY);
    EXPECT(&rb, "$3\r\ninf\r\n");
    reply_add_double(&rb, -INFINITY);
    EXPECT(&rb, "$4\r\n-inf\r\n");
    reply_add_double(&rb, NAN);
    EXPECT(&rb, "$3\r\nnan\r\n");
    reply_add_verbatim(&rb, "txt", "a\r\nb", 4);
    EXPECT(&rb, "$4\r\na\r\nb\r\n");
    reply_add_verbatim(&rb, "txt", "", 0);
    EXPECT(&rb, "$0\r\n\r\n");
    /* Pairs are flat: ZRANGE ... WITHSCORES as [m1, s1, m2, s2]. */
    reply_add_pairs_len(&rb, 2);
    reply_add_pair(&rb);
    reply_add_bulk_cstr(&rb, "a");
    reply_add_double(&rb, 1);
    reply_add_pair(&rb);
    reply_add_bulk_cstr(&rb, "b");
    reply_add_double(&rb, 2);
    EXPECT(&rb, "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    reply_add_pairs_len(&rb, 0);
    EXPECT(&rb, "*0\r\n");
    reply_buf_deinit(&rb);
}

/* The same shapes in RESP3, byte for byte as Redis 7.0 sends them. */
static void test_shapes_resp3(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    rb.resp = 3;
    reply_add_null(&rb);
    EXPECT(&rb, "_\r\n");
    reply_add_null_array(&rb);
    EXPECT(&rb, "_\r\n");
    reply_add_bulk_cstr(&rb, NULL);
    EXPECT(&rb, "_\r\n");
    reply_add_map_len(&rb, 2);
    EXPECT(&rb, "%2\r\n");
    reply_add_map_len(&rb, 0);
    EXPECT(&rb, "%0\r\n");
    reply_add_set_len(&rb, 3);
    EXPECT(&rb, "~3\r\n");
    reply_add_push_len(&rb, 3);
    EXPECT(&rb, ">3\r\n");
    reply_add_bool(&rb, 1);
    reply_add_bool(&rb, 0);
    EXPECT(&rb, "#t\r\n#f\r\n");
    reply_add_double(&rb, 1.5);
    EXPECT(&rb, ",1.5\r\n");
    reply_add_double(&rb, 1.1);
    EXPECT(&rb, ",1.1000000000000001\r\n");
    reply_add_double(&rb, 3);
    EXPECT(&rb, ",3\r\n");
    reply_add_double(&rb, -1e300);
    EXPECT(&rb, ",-1.0000000000000001e+300\r\n");
    reply_add_double(&rb, INFINITY);
    EXPECT(&rb, ",inf\r\n");
    reply_add_double(&rb, -INFINITY);
    EXPECT(&rb, ",-inf\r\n");
    reply_add_double(&rb, NAN);
    EXPECT(&rb, ",nan\r\n");
    /* The length counts the "txt:" prefix; the text may hold CR LF. */
    reply_add_verbatim(&rb, "txt", "a\r\nb", 4);
    EXPECT(&rb, "=8\r\ntxt:a\r\nb\r\n");
    reply_add_verbatim(&rb, "txt", "", 0);
    EXPECT(&rb, "=4\r\ntxt:\r\n");
    reply_add_pairs_len(&rb, 2);
    reply_add_pair(&rb);
    reply_add_bulk_cstr(&rb, "a");
    reply_add_double(&rb, 1);
    reply_add_pair(&rb);
    reply_add_bulk_cstr(&rb, "b");
    reply_add_double(&rb, 2);
    EXPECT(&rb, "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    /* Unchanged by the protocol: */
    reply_add_array_len(&rb, 2);
    reply_add_int(&rb, 1);
    reply_add_bulk(&rb, "x", 1);
    reply_add_status(&rb, "OK");
    reply_add_error(&rb, "ERR x");
    EXPECT(&rb, "*2\r\n:1\r\n$1\r\nx\r\n+OK\r\n-ERR x\r\n");
    /* The protocol outlives the blocks: a drained and trimmed buffer still speaks RESP3. */
    reply_buf_trim(&rb);
    assert_int_equal(rb.allocated, 0);
    reply_add_null(&rb);
    EXPECT(&rb, "_\r\n");
    check_accounting(&rb, base);
    reply_buf_deinit(&rb);
    assert_int_equal(rb.resp, 3);
}

/* A verbatim text larger than a block: header, prefix and text in order, nothing lost. */
static void test_verbatim_large(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    rb.resp = 3;
    size_t n = 3 * BLOCK + 17;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    reply_add_int(&rb, 1);
    reply_add_verbatim(&rb, "txt", text, n);
    char *got = malloc(n + 64);
    size_t len = collect(&rb, got, n + 64);
    char hdr[64];
    int h = snprintf(hdr, sizeof(hdr), ":1\r\n=%zu\r\ntxt:", n + 4);
    assert_int_equal(len, (size_t)h + n + 2);
    assert_memory_equal(got, hdr, (size_t)h);
    assert_memory_equal(got + h, text, n);
    assert_memory_equal(got + h + n, "\r\n", 2);
    check_accounting(&rb, base);
    reply_buf_deinit(&rb);
    free(got);
    free(text);
}

static void test_error_crlf_stripped(void **state) {
    (void)state;
    reply_buf rb;
    reply_buf_init(&rb);
    reply_add_error(&rb, "ERR bad\r\nthing\n\r");
    EXPECT(&rb, "-ERR bad  thing  \r\n");
    reply_add_error(&rb, "\r\n");
    EXPECT(&rb, "-  \r\n");
    reply_add_errorf(&rb, "ERR %s %d", "a\nb", 5);
    EXPECT(&rb, "-ERR a b 5\r\n");
    reply_add_errorf(&rb, "ERR Protocol error: %s", "expected '$', got '\r'");
    EXPECT(&rb, "-ERR Protocol error: expected '$', got ' '\r\n");
    reply_add_status(&rb, "O\nK");
    EXPECT(&rb, "+O K\r\n");
    reply_buf_deinit(&rb);
}

static void test_errorf_long(void **state) {
    (void)state;
    reply_buf rb;
    reply_buf_init(&rb);
    char arg[1001];
    memset(arg, 'z', 1000);
    arg[1000] = '\0';
    arg[500] = '\n';
    reply_add_errorf(&rb, "ERR long %s!", arg);
    char got[2048];
    size_t n = collect(&rb, got, sizeof(got));
    assert_int_equal(n, 1 + 9 + 1000 + 1 + 2);
    assert_memory_equal(got, "-ERR long ", 10);
    for (size_t i = 10; i < 1010; i++)
        assert_int_equal(got[i], i == 510 ? ' ' : 'z');
    assert_memory_equal(got + 1010, "!\r\n", 3);
    reply_buf_deinit(&rb);
}

/* An error that does not fit the tail block is split across blocks; still stripped. */
static void test_error_across_blocks(void **state) {
    (void)state;
    reply_buf rb;
    reply_buf_init(&rb);
    char *filler = malloc(BLOCK);
    assert_non_null(filler);
    memset(filler, '.', BLOCK);
    size_t room = BLOCK - sizeof(reply_block);
    reply_add_raw(&rb, filler, 1); /* allocate the first block */
    size_t cap = rb.head->cap;
    reply_add_raw(&rb, filler, cap - 1 - 5); /* leave 5 bytes */
    assert_true(cap >= room);
    reply_add_error(&rb, "ERR a\rb\nc");
    assert_int_equal(count_blocks(&rb), 2);
    char *got = malloc(2 * BLOCK);
    size_t n = collect(&rb, got, 2 * BLOCK);
    assert_int_equal(n, cap - 5 + 12);
    assert_memory_equal(got + cap - 5, "-ERR a b c\r\n", 12);
    free(got);
    free(filler);
    reply_buf_deinit(&rb);
}

static void test_large_payload(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    size_t big = 100000;
    char *payload = malloc(big);
    assert_non_null(payload);
    for (size_t i = 0; i < big; i++)
        payload[i] = (char)(i * 7 + 3);

    reply_add_status(&rb, "OK");
    reply_add_bulk(&rb, payload, big);
    reply_add_int(&rb, 1);
    check_accounting(&rb, base);
    /* "+OK\r\n$100000\r\n" | payload (own block, sized to fit) | "\r\n:1\r\n", the last
     * part in the big block's spare room if its size class left some. */
    reply_block *mid = rb.head->next;
    assert_non_null(mid);
    assert_memory_equal(mid->data, payload, big);
    if (mid->cap - big >= 6) {
        assert_int_equal(count_blocks(&rb), 2);
        assert_int_equal(mid->used, big + 6);
    } else {
        assert_int_equal(count_blocks(&rb), 3);
        assert_int_equal(mid->used, mid->cap); /* small replies fill the room left */
    }
    assert_true(mid->cap >= big && mid->cap <= big + big / 4 + 64); /* one size class */
    assert_int_equal(rb.head->used, 5 + 9);
    assert_int_equal(reply_buf_bytes(&rb), 5 + 9 + big + 2 + 4);

    char *got = malloc(big + 64);
    size_t n = collect(&rb, got, big + 64);
    assert_int_equal(n, 5 + 9 + big + 2 + 4);
    assert_memory_equal(got, "+OK\r\n$100000\r\n", 14);
    assert_memory_equal(got + 14, payload, big);
    assert_memory_equal(got + 14 + big, "\r\n:1\r\n", 6);

    /* Payloads up to the standard capacity go to standard blocks. */
    reply_buf_consume(&rb, n);
    check_accounting(&rb, base);
    reply_add_raw(&rb, payload, BLOCK - sizeof(reply_block));
    check_accounting(&rb, base);
    for (reply_block *b = rb.head; b; b = b->next)
        assert_true(b->cap <= BLOCK);

    free(got);
    free(payload);
    reply_buf_deinit(&rb);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF), base);
}

/* Many small replies fill blocks completely, continuing in the next one. */
static void test_small_replies_fill_blocks(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    size_t expect_len = 0;
    char *expect = malloc(1 << 20);
    assert_non_null(expect);
    for (int i = 0; i < 20000; i++) {
        reply_add_int(&rb, i);
        expect_len += (size_t)sprintf(expect + expect_len, ":%d\r\n", i);
    }
    check_accounting(&rb, base);
    assert_int_equal(reply_buf_bytes(&rb), expect_len);
    size_t blocks = count_blocks(&rb);
    size_t cap = rb.head->cap;
    assert_int_equal(blocks, (expect_len + cap - 1) / cap);
    for (reply_block *b = rb.head; b->next; b = b->next)
        assert_int_equal(b->used, b->cap);

    char *got = malloc(1 << 20);
    assert_non_null(got);
    assert_int_equal(collect(&rb, got, 1 << 20), expect_len);
    assert_memory_equal(got, expect, expect_len);
    free(got);
    free(expect);
    reply_buf_deinit(&rb);
}

/* A tiny deterministic PRNG so the test is reproducible. */
static uint32_t rng_state = 12345;
static uint32_t rng(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* Interleave appends with writev-style draining: iov limited to a few entries, partial
 * consumes of odd sizes. The bytes that come out are the bytes that went in. */
static void test_iov_drain(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    size_t cap = 8 << 20;
    char *in = malloc(cap), *out = malloc(cap);
    assert_non_null(in);
    assert_non_null(out);
    size_t in_len = 0, out_len = 0;
    char *payload = malloc(70000);
    assert_non_null(payload);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (char)rng();

    for (int round = 0; round < 3000; round++) {
        /* Append a few replies. */
        int k = (int)(rng() % 4);
        for (int j = 0; j < k; j++) {
            uint32_t what = rng() % 10;
            if (what < 6) {
                long long v = (long long)rng() - 5000000;
                reply_add_int(&rb, v);
                in_len += (size_t)sprintf(in + in_len, ":%lld\r\n", v);
            } else if (what < 9) {
                size_t n = rng() % 3000;
                reply_add_bulk(&rb, payload, n);
                in_len += (size_t)sprintf(in + in_len, "$%zu\r\n", n);
                memcpy(in + in_len, payload, n);
                in_len += n;
                in[in_len] = '\r';
                in[in_len + 1] = '\n';
                in_len += 2;
            } else if (in_len + 70000 < cap / 2) {
                size_t n = 20000 + rng() % 50000;
                reply_add_raw(&rb, payload, n);
                memcpy(in + in_len, payload, n);
                in_len += n;
            }
        }
        assert_int_equal(reply_buf_bytes(&rb), in_len - out_len);
        /* "writev" up to a random number of bytes from at most 3 iovecs. */
        struct iovec iov[3];
        int niov = reply_buf_iov(&rb, iov, (int)(1 + rng() % 3));
        size_t budget = rng() % 20000, wrote = 0;
        for (int i = 0; i < niov && wrote < budget; i++) {
            size_t take = iov[i].iov_len;
            if (take > budget - wrote) take = budget - wrote;
            memcpy(out + out_len + wrote, iov[i].iov_base, take);
            wrote += take;
        }
        reply_buf_consume(&rb, wrote);
        out_len += wrote;
        check_accounting(&rb, base);
        if (in_len > cap / 2) break;
    }
    /* Drain the rest one byte at a time for a while, then everything. */
    for (int i = 0; i < 100 && reply_buf_bytes(&rb); i++) {
        struct iovec iov[1];
        assert_int_equal(reply_buf_iov(&rb, iov, 1), 1);
        out[out_len++] = *(char *)iov[0].iov_base;
        reply_buf_consume(&rb, 1);
    }
    out_len += collect(&rb, out + out_len, cap - out_len);
    reply_buf_consume(&rb, reply_buf_bytes(&rb));
    assert_int_equal(out_len, in_len);
    assert_memory_equal(out, in, in_len);
    assert_int_equal(reply_buf_bytes(&rb), 0);
    assert_int_equal(reply_buf_iov(&rb, (struct iovec[1]){{0}}, 1), 0);
    check_accounting(&rb, base);
    /* At most one emptied standard block is kept; trim frees it. */
    assert_true(count_blocks(&rb) <= 1);
    reply_buf_trim(&rb);
    assert_int_equal(rb.allocated, 0);
    assert_ptr_equal(rb.head, NULL);
    check_accounting(&rb, base);

    free(payload);
    free(in);
    free(out);
    reply_buf_deinit(&rb);
}

/* The request/reply cycle reuses the drained block: no allocation per reply. */
static void test_block_reused(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_OUTPUT_BUF);
    reply_buf rb;
    reply_buf_init(&rb);
    reply_add_status(&rb, "OK");
    reply_block *b = rb.head;
    size_t allocated = rb.allocated;
    for (int i = 0; i < 1000; i++) {
        reply_buf_consume(&rb, reply_buf_bytes(&rb));
        reply_add_bulk(&rb, "value", 5);
        assert_ptr_equal(rb.head, b);
        assert_int_equal(rb.allocated, allocated);
        assert_int_equal(reply_buf_bytes(&rb), 11);
    }
    EXPECT(&rb, "$5\r\nvalue\r\n");
    /* trim is a no-op while output is pending. */
    reply_add_int(&rb, 1);
    reply_buf_trim(&rb);
    EXPECT(&rb, ":1\r\n");
    check_accounting(&rb, base);

    /* A drained oversize block is not kept. */
    char *big = calloc(1, 50000);
    assert_non_null(big);
    reply_buf_consume(&rb, 0);
    reply_add_raw(&rb, big, 50000);
    assert_int_equal(count_blocks(&rb), 2); /* the emptied block, then the big one */
    struct iovec iov[4];
    assert_int_equal(reply_buf_iov(&rb, iov, 4), 1);
    assert_int_equal(iov[0].iov_len, 50000);
    reply_buf_consume(&rb, 50000);
    assert_int_equal(count_blocks(&rb), 0);
    assert_int_equal(rb.allocated, 0);
    check_accounting(&rb, base);
    free(big);
    reply_buf_deinit(&rb);
}

static void test_consume_zero_and_partial(void **state) {
    (void)state;
    reply_buf rb;
    reply_buf_init(&rb);
    reply_buf_consume(&rb, 0);
    reply_add_bulk_cstr(&rb, "abcdef");
    reply_buf_consume(&rb, 0);
    assert_int_equal(reply_buf_bytes(&rb), 12);
    reply_buf_consume(&rb, 4);
    EXPECT(&rb, "abcdef\r\n");
    reply_buf_deinit(&rb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoders),
        cmocka_unit_test(test_shapes_resp2),
        cmocka_unit_test(test_shapes_resp3),
        cmocka_unit_test(test_verbatim_large),
        cmocka_unit_test(test_error_crlf_stripped),
        cmocka_unit_test(test_errorf_long),
        cmocka_unit_test(test_error_across_blocks),
        cmocka_unit_test(test_large_payload),
        cmocka_unit_test(test_small_replies_fill_blocks),
        cmocka_unit_test(test_iov_drain),
        cmocka_unit_test(test_block_reused),
        cmocka_unit_test(test_consume_zero_and_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
