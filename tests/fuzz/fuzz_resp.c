/* RESP request parser (src/server/resp.c), multibulk and inline.
 *
 * Input: byte 0 picks the limits (small ones too, so every limit is reached), byte 1 seeds the
 * split points, the rest is the byte stream a client sends. The stream is parsed three ways —
 * whole, in random chunks, one byte at a time — as the server does: the unconsumed region
 * starts the buffer, new bytes are appended, consumed commands are cut off the front, and the
 * buffer is a fresh allocation at every call (so it moves, as a growing query buffer does).
 * Checks beyond "no crash": consumed <= len and > 0 on RESP_OK, every argument inside the
 * consumed bytes and within the limits, argc within max_multibulk, bytes_needed > len when
 * it is known, the error text set on RESP_ERROR and sticky, and the three ways agree on the
 * commands (argument bytes included), the final status and the error text. */
#include "fuzz.h"

#include "server/resp.h"

#include <string.h>

typedef struct log_buf {
    char *s;
    size_t len, cap;
} log_buf;

static void log_add(log_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->s = realloc(b->s, b->cap);
        FUZZ_CHECK(b->s != NULL);
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
}

static void log_command(log_buf *b, const resp_parser *p) {
    size_t argc = p->argc;
    log_add(b, "C", 1);
    log_add(b, &argc, sizeof(argc));
    for (size_t i = 0; i < p->argc; i++) {
        log_add(b, &p->argv[i].len, sizeof(p->argv[i].len));
        log_add(b, p->argv[i].ptr, p->argv[i].len);
    }
}

static void check_ok(const resp_parser *p, const char *buf, size_t len, size_t consumed,
                     int multibulk) {
    FUZZ_CHECK(consumed > 0 && consumed <= len);
    FUZZ_CHECK(p->argc <= consumed); /* every argument costs at least a byte */
    for (size_t i = 0; i < p->argc; i++) {
        const char *a = p->argv[i].ptr;
        FUZZ_CHECK(a >= buf && a <= buf + consumed);
        FUZZ_CHECK(p->argv[i].len <= (size_t)(buf + consumed - a));
        if (multibulk) FUZZ_CHECK((long long)p->argv[i].len <= p->limits.max_bulk_len);
    }
}

/* Parses as many commands as buf[0..len) holds; returns the last status and sets *used to the
 * bytes consumed. The buffer is copied into a fresh allocation first (the parser's buffer
 * moves between calls in the server). */
static int drain(resp_parser *p, char **bufp, size_t len, size_t *used, log_buf *log) {
    size_t off = 0;
    for (;;) {
        size_t n = len - off;
        char *buf = malloc(n ? n : 1);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, *bufp + off, n);
        size_t consumed = 12345;
        /* Known before the call: an inline command is unescaped in place. */
        int multibulk = n > 0 && buf[0] == '*';
        int rc = resp_parse(p, buf, n, &consumed);
        if (rc != RESP_OK) FUZZ_CHECK(consumed == 0);
        if (rc == RESP_OK) {
            check_ok(p, buf, n, consumed, multibulk);
            log_command(log, p);
        } else if (rc == RESP_NEED_MORE) {
            size_t need = resp_parser_bytes_needed(p);
            FUZZ_CHECK(need == 0 || need > n);
        } else {
            FUZZ_CHECK(rc == RESP_ERROR);
            FUZZ_CHECK(p->err[0] != '\0');
            size_t again = 1;
            FUZZ_CHECK(resp_parse(p, buf, n, &again) == RESP_ERROR && again == 0);
        }
        /* The parser may have unescaped an inline command in place: keep what it wrote. */
        memcpy(*bufp + off, buf, n);
        free(buf);
        if (rc != RESP_OK) {
            *used = off;
            return rc;
        }
        off += consumed;
    }
}

typedef struct outcome {
    log_buf log;
    int rc;
    char err[sizeof(((resp_parser *)0)->err)];
} outcome;

/* Feeds data in chunks: chunk == 0 means random sizes drawn from seed, else fixed. */
static void run(const resp_limits *lim, const uint8_t *data, size_t size, size_t chunk,
                uint64_t seed, outcome *out) {
    resp_parser p;
    resp_parser_init(&p, lim);
    char *pending = malloc(size ? size : 1);
    FUZZ_CHECK(pending != NULL);
    size_t have = 0, fed = 0;
    int rc = RESP_NEED_MORE;
    while (fed < size || fed == 0) {
        size_t n = chunk ? chunk : 1 + (size_t)(fuzz_rand(&seed) % 64);
        if (n > size - fed) n = size - fed;
        memcpy(pending + have, data + fed, n);
        have += n;
        fed += n;
        size_t used = 0;
        rc = drain(&p, &pending, have, &used, &out->log);
        memmove(pending, pending + used, have - used);
        have -= used;
        if (rc == RESP_ERROR || size == 0) break;
    }
    out->rc = rc;
    memcpy(out->err, p.err, sizeof(out->err));
    if (rc != RESP_ERROR) out->err[0] = '\0';
    resp_parser_deinit(&p);
    free(pending);
}

static void same(const outcome *a, const outcome *b) {
    FUZZ_CHECK(a->rc == b->rc);
    FUZZ_CHECK(a->log.len == b->log.len);
    FUZZ_CHECK(a->log.len == 0 || memcmp(a->log.s, b->log.s, a->log.len) == 0);
    FUZZ_CHECK(strcmp(a->err, b->err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    resp_limits lim = resp_limits_default();
    uint8_t pick = data[0];
    if (pick & 1) lim.max_inline = 4 + (pick >> 1 & 63);   /* 4..67 bytes */
    if (pick & 2) lim.max_bulk_len = pick >> 2 & 31;       /* 0..31 bytes */
    if (pick & 4) lim.max_multibulk = 1 + (pick >> 3 & 7); /* 1..8 arguments */
    uint64_t seed = data[1];
    data += 2;
    size -= 2;

    outcome whole = {0}, random = {0}, bytes = {0};
    run(&lim, data, size, size ? size : 1, 0, &whole);
    run(&lim, data, size, 0, seed, &random);
    same(&whole, &random);
    if (size <= 4096) {
        run(&lim, data, size, 1, 0, &bytes);
        same(&whole, &bytes);
    }
    free(whole.log.s);
    free(random.log.s);
    free(bytes.log.s);
    return 0;
}
