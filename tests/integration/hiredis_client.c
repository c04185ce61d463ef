/* hiredis-client: a small client on libhiredis that the integration tests run against
 * memkv-server, so the server is exercised by a real C client library too.
 *
 *   hiredis-client PORT pipeline N   N SETs of binary values (with \0 and \r\n inside), then
 *                                    N GETs, all appended before any reply is read; every
 *                                    reply is checked.
 *   hiredis-client PORT bigarg K     MSET with K arguments after the name, MGET of those keys,
 *                                    then DEL with K keys (half of them missing).
 *   hiredis-client PORT binary       keys and values made of every byte 0..255 (expects an
 *                                    empty database: it checks DBSIZE at the end).
 *
 * Exit status 0 when every reply was as expected; otherwise 1, with what failed on stderr.
 * The host is 127.0.0.1 unless MEMKV_HOST is set. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hiredis-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

static const char *reply_type_name(int type) {
    switch (type) {
    case REDIS_REPLY_STRING:
        return "string";
    case REDIS_REPLY_ARRAY:
        return "array";
    case REDIS_REPLY_INTEGER:
        return "integer";
    case REDIS_REPLY_NIL:
        return "nil";
    case REDIS_REPLY_STATUS:
        return "status";
    case REDIS_REPLY_ERROR:
        return "error";
    default:
        return "other";
    }
}

/* Describe an unexpected reply (errors and statuses carry text worth showing). */
static void fail_reply(const char *what, const redisReply *r) {
    if (!r) {
        fail("%s: no reply", what);
    } else if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) {
        fail("%s: got %s '%.*s'", what, reply_type_name(r->type), (int)r->len, r->str);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        fail("%s: got integer %lld", what, r->integer);
    } else {
        fail("%s: got %s", what, reply_type_name(r->type));
    }
}

static int expect_status(const redisReply *r, const char *status, const char *what) {
    if (r && r->type == REDIS_REPLY_STATUS && r->len == strlen(status) &&
        memcmp(r->str, status, r->len) == 0)
        return 0;
    fail_reply(what, r);
    return -1;
}

static int expect_bulk(const redisReply *r, const char *val, size_t len, const char *what) {
    if (r && r->type == REDIS_REPLY_STRING && r->len == len && memcmp(r->str, val, len) == 0)
        return 0;
    if (r && r->type == REDIS_REPLY_STRING)
        fail("%s: bulk of %zu bytes differs from the %zu expected", what, r->len, len);
    else
        fail_reply(what, r);
    return -1;
}

static int expect_int(const redisReply *r, long long v, const char *what) {
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == v) return 0;
    if (r && r->type == REDIS_REPLY_INTEGER)
        fail("%s: got integer %lld, expected %lld", what, r->integer, v);
    else
        fail_reply(what, r);
    return -1;
}

/* Read one pipelined reply; a connection error ends the program. */
static redisReply *next_reply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK) {
        fail("connection error: %s", c->errstr);
        exit(1);
    }
    return r;
}

static redisReply *command_argv(redisContext *c, int argc, const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!r) {
        fail("connection error: %s", c->errstr);
        exit(1);
    }
    return r;
}

/* Value i: binary-safe, with NUL and CR LF inside, lengths varying with i. */
static size_t make_value(char *buf, size_t cap, long i) {
    int n = snprintf(buf, cap, "v%ld\r\n", i);
    size_t len = (size_t)n;
    buf[len++] = '\0';
    for (long k = 0; k < i % 37 && len + 2 < cap; k++)
        buf[len++] = (char)('a' + k % 26);
    buf[len++] = '\r';
    buf[len++] = '\n';
    return len;
}

static int mode_pipeline(redisContext *c, long n) {
    char key[64], val[128], what[96];
    for (long i = 0; i < n; i++) {
        int klen = snprintf(key, sizeof(key), "pipe:%ld", i);
        size_t vlen = make_value(val, sizeof(val), i);
        if (redisAppendCommand(c, "SET %b %b", key, (size_t)klen, val, vlen) != REDIS_OK) {
            fail("append SET %ld: %s", i, c->errstr);
            return -1;
        }
    }
    for (long i = 0; i < n; i++) {
        int klen = snprintf(key, sizeof(key), "pipe:%ld", i);
        if (redisAppendCommand(c, "GET %b", key, (size_t)klen) != REDIS_OK) {
            fail("append GET %ld: %s", i, c->errstr);
            return -1;
        }
    }
    for (long i = 0; i < n; i++) {
        redisReply *r = next_reply(c);
        snprintf(what, sizeof(what), "SET pipe:%ld", i);
        expect_status(r, "OK", what);
        freeReplyObject(r);
    }
    for (long i = 0; i < n; i++) {
        redisReply *r = next_reply(c);
        size_t vlen = make_value(val, sizeof(val), i);
        snprintf(what, sizeof(what), "GET pipe:%ld", i);
        expect_bulk(r, val, vlen, what);
        freeReplyObject(r);
        if (failures > 10) return -1;
    }
    return failures ? -1 : 0;
}

static int mode_bigarg(redisContext *c, long k) {
    if (k < 2 || k % 2 != 0) {
        fail("bigarg needs an even K >= 2");
        return -1;
    }
    size_t argc = (size_t)k + 1;
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *lens = calloc(argc, sizeof(*lens));
    char *store = calloc((size_t)k, 32);
    if (!argv || !lens || !store) {
        fail("out of memory");
        exit(1);
    }
    /* MSET big:0 0 big:1 1 ... (k/2 pairs) */
    argv[0] = "MSET";
    lens[0] = 4;
    for (long i = 0; i < k / 2; i++) {
        char *kb = store + (size_t)(2 * i) * 32, *vb = store + (size_t)(2 * i + 1) * 32;
        lens[1 + 2 * i] = (size_t)snprintf(kb, 32, "big:%ld", i);
        lens[2 + 2 * i] = (size_t)snprintf(vb, 32, "%ld", i * 7);
        argv[1 + 2 * i] = kb;
        argv[2 + 2 * i] = vb;
    }
    redisReply *r = command_argv(c, (int)argc, argv, lens);
    expect_status(r, "OK", "MSET with many arguments");
    freeReplyObject(r);

    /* MGET big:0 .. big:(k/2 - 1) */
    const char **gargv = calloc((size_t)k / 2 + 1, sizeof(*gargv));
    size_t *glens = calloc((size_t)k / 2 + 1, sizeof(*glens));
    if (!gargv || !glens) {
        fail("out of memory");
        exit(1);
    }
    gargv[0] = "MGET";
    glens[0] = 4;
    for (long i = 0; i < k / 2; i++) {
        gargv[1 + i] = argv[1 + 2 * i];
        glens[1 + i] = lens[1 + 2 * i];
    }
    r = command_argv(c, (int)(k / 2 + 1), gargv, glens);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)(k / 2)) {
        fail_reply("MGET with many arguments", r);
    } else {
        for (long i = 0; i < k / 2 && failures < 10; i++) {
            char what[64];
            snprintf(what, sizeof(what), "MGET element %ld", i);
            expect_bulk(r->element[i], argv[2 + 2 * i], lens[2 + 2 * i], what);
        }
    }
    freeReplyObject(r);

    /* DEL with k keys: the k/2 set above and k/2 that do not exist. */
    argv[0] = "DEL";
    lens[0] = 3;
    for (long i = 0; i < k; i++) {
        char *kb = store + (size_t)i * 32;
        lens[1 + i] = (size_t)snprintf(kb, 32, i < k / 2 ? "big:%ld" : "missing:%ld", i);
        argv[1 + i] = kb;
    }
    r = command_argv(c, (int)argc, argv, lens);
    expect_int(r, k / 2, "DEL with many keys");
    freeReplyObject(r);

    r = redisCommand(c, "EXISTS big:0 big:%ld", k / 2 - 1);
    expect_int(r, 0, "EXISTS after DEL");
    freeReplyObject(r);

    free(gargv);
    free(glens);
    free(argv);
    free(lens);
    free(store);
    return failures ? -1 : 0;
}

static int mode_binary(redisContext *c) {
    char all[256], rev[256], what[64];
    for (int b = 0; b < 256; b++) {
        all[b] = (char)b;
        rev[b] = (char)(255 - b);
    }
    /* One key per byte value: the key is that single byte, the value the byte repeated. */
    for (int b = 0; b < 256; b++) {
        char key[1] = {(char)b}, val[256];
        memset(val, b, sizeof(val));
        if (redisAppendCommand(c, "SET %b %b", key, (size_t)1, val, (size_t)(b + 1)) != REDIS_OK)
            return -1;
    }
    for (int b = 0; b < 256; b++) {
        char key[1] = {(char)b};
        if (redisAppendCommand(c, "GET %b", key, (size_t)1) != REDIS_OK) return -1;
    }
    for (int b = 0; b < 256; b++) {
        redisReply *r = next_reply(c);
        snprintf(what, sizeof(what), "SET of byte key %d", b);
        expect_status(r, "OK", what);
        freeReplyObject(r);
    }
    for (int b = 0; b < 256; b++) {
        char val[256];
        memset(val, b, sizeof(val));
        redisReply *r = next_reply(c);
        snprintf(what, sizeof(what), "GET of byte key %d", b);
        expect_bulk(r, val, (size_t)(b + 1), what);
        freeReplyObject(r);
    }
    /* A key of all 256 bytes holding them reversed. */
    redisReply *r = redisCommand(c, "SET %b %b", all, sizeof(all), rev, sizeof(rev));
    expect_status(r, "OK", "SET all-bytes key");
    freeReplyObject(r);
    r = redisCommand(c, "GET %b", all, sizeof(all));
    expect_bulk(r, rev, sizeof(rev), "GET all-bytes key");
    freeReplyObject(r);
    r = redisCommand(c, "STRLEN %b", all, sizeof(all));
    expect_int(r, 256, "STRLEN all-bytes key");
    freeReplyObject(r);
    r = redisCommand(c, "APPEND %b %b", all, sizeof(all), all, sizeof(all));
    expect_int(r, 512, "APPEND all bytes");
    freeReplyObject(r);
    r = redisCommand(c, "GETRANGE %b 250 261", all, sizeof(all));
    {
        char want[12];
        memcpy(want, rev + 250, 6);
        memcpy(want + 6, all, 6);
        expect_bulk(r, want, sizeof(want), "GETRANGE across the appended bytes");
    }
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS %b", all, sizeof(all));
    expect_int(r, 1, "EXISTS all-bytes key");
    freeReplyObject(r);
    r = redisCommand(c, "DBSIZE");
    expect_int(r, 257, "DBSIZE after binary keys");
    freeReplyObject(r);
    return failures ? -1 : 0;
}

static long parse_count(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0) {
        fprintf(stderr, "hiredis-client: bad count '%s'\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: hiredis-client PORT pipeline N | bigarg K | binary\n");
        return 2;
    }
    const char *host = getenv("MEMKV_HOST") ? getenv("MEMKV_HOST") : "127.0.0.1";
    int port = atoi(argv[1]);
    struct timeval tv = {60, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "hiredis-client: cannot connect to %s:%d: %s\n", host, port,
                c ? c->errstr : "out of memory");
        return 1;
    }
    redisSetTimeout(c, tv);
    int rc;
    if (strcmp(argv[2], "pipeline") == 0 && argc == 4) {
        rc = mode_pipeline(c, parse_count(argv[3]));
    } else if (strcmp(argv[2], "bigarg") == 0 && argc == 4) {
        rc = mode_bigarg(c, parse_count(argv[3]));
    } else if (strcmp(argv[2], "binary") == 0 && argc == 3) {
        rc = mode_binary(c);
    } else {
        fprintf(stderr, "hiredis-client: unknown mode '%s'\n", argv[2]);
        redisFree(c);
        return 2;
    }
    redisFree(c);
    if (rc == 0 && failures == 0) {
        printf("OK %s\n", argv[2]);
        return 0;
    }
    fprintf(stderr, "hiredis-client: %s failed (%d problem(s))\n", argv[2], failures);
    return 1;
}
