/* reply — a client's pending output: RESP2 and RESP3 reply encoding into a chain of blocks
 * that a writev() drains. Pure: no sockets. Memory is attributed to ALLOC_SUB_OUTPUT_BUF.
 *
 * A command handler states the shape of its answer (a map, a set, a double, a null, a
 * verbatim text, pairs); the writer encodes it for the protocol the client speaks
 * (reply_buf.resp, which HELLO sets): RESP3 gets its own types, RESP2 the encodings Redis
 * gives them there (a map as a flat array of 2n, a set as an array, a double as a bulk
 * string, a null as $-1 or *-1, verbatim text as a bulk string). No handler branches on the
 * protocol.
 *
 * Small replies are appended into the tail block (16 KiB blocks); a payload larger than a
 * block gets a block of its own, sized to fit. reply_buf_bytes() is what the output buffer
 * limits compare against.
 *
 * When everything has been sent, the last block is kept (emptied) if it is a standard one, so
 * a request/reply cycle does not malloc and free a block each time; reply_buf_trim() gives
 * it back (e.g. for idle clients), reply_buf_deinit() frees everything. `allocated` counts
 * that block too (it is the sum of alloc_usable_size() of every block, headers included).
 */
#ifndef MEMKV_REPLY_H
#define MEMKV_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define REPLY_BLOCK_SIZE (16 * 1024)

typedef struct reply_block {
    struct reply_block *next;
    size_t used; /* bytes written into data */
    size_t sent; /* bytes of data already written to the socket */
    size_t cap;
    char data[];
} reply_block;

typedef struct reply_buf {
    reply_block *head, *tail;
    size_t pending;   /* bytes not yet sent */
    size_t allocated; /* usable bytes of all blocks */
    int resp;         /* protocol of the replies: 2 (the default) or 3 */
} reply_buf;

void reply_buf_init(reply_buf *rb);   /* empty, RESP2 */
void reply_buf_deinit(reply_buf *rb); /* frees every block */
static inline size_t reply_buf_bytes(const reply_buf *rb) {
    return rb->pending;
}

void reply_add_raw(reply_buf *rb, const void *p, size_t n);
void reply_add_status(reply_buf *rb, const char *s); /* +s\r\n, CR/LF in s become spaces */
/* -msg\r\n; msg includes its code ("ERR ...", "WRONGTYPE ..."). CR and LF inside msg are
 * replaced by spaces so a reply can never be split. */
void reply_add_error(reply_buf *rb, const char *msg);
void reply_add_errorf(reply_buf *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_add_int(reply_buf *rb, long long v);              /* :v\r\n */
void reply_add_bulk(reply_buf *rb, const void *p, size_t n); /* $n\r\n...\r\n */
void reply_add_bulk_cstr(reply_buf *rb, const char *s);      /* s == NULL: $-1\r\n */
void reply_add_array_len(reply_buf *rb, long long n);        /* *n\r\n */

/* Shapes whose encoding depends on the protocol (RESP2 | RESP3): */
void reply_add_null(reply_buf *rb);                  /* a missing value:    $-1 | _ */
void reply_add_null_array(reply_buf *rb);            /* a missing array:    *-1 | _ */
void reply_add_map_len(reply_buf *rb, long long n);  /* n key-value pairs:  *2n | %n */
void reply_add_set_len(reply_buf *rb, long long n);  /* n distinct members: *n | ~n */
void reply_add_push_len(reply_buf *rb, long long n); /* out-of-band data:    *n | >n */
void reply_add_bool(reply_buf *rb, int v);           /* :1 / :0 | #t / #f */
/* A double as Redis 7.0 writes one: "%.17g", and inf / -inf spelled so on every libc.
 * RESP2: a bulk string ($3 inf); RESP3: ,inf */
void reply_add_double(reply_buf *rb, double d);
/* A double already written as text (GEOPOS's "%.17Lf" digits): ",text" | a bulk string. */
void reply_add_double_text(reply_buf *rb, const char *text, size_t n);
/* Text for people (INFO, CLIENT LIST, MEMORY DOCTOR). fmt is three characters ("txt").
 * RESP2: the bulk string; RESP3: =<n+4> fmt:text */
void reply_add_verbatim(reply_buf *rb, const char *fmt, const void *p, size_t n);
/* n pairs (member and score, field and value), each begun by reply_add_pair(): RESP2 a flat
 * array of 2n elements, RESP3 an array of n two-element arrays (ZRANGE ... WITHSCORES). */
void reply_add_pairs_len(reply_buf *rb, long long n);
void reply_add_pair(reply_buf *rb); /* RESP2: nothing; RESP3: *2 */

/* Fill up to max iovecs with pending data; returns how many were filled. */
int reply_buf_iov(const reply_buf *rb, struct iovec *iov, int max);
/* n bytes were written: advance, free drained blocks. n must not exceed reply_buf_bytes(). */
void reply_buf_consume(reply_buf *rb, size_t n);
/* Drops what was added after the first `keep` pending bytes (CLIENT REPLY OFF/SKIP: a
 * command's reply taken back). keep must not exceed reply_buf_bytes(). */
void reply_buf_truncate(reply_buf *rb, size_t keep);
/* Nothing pending: free the emptied block kept for reuse. No-op while output is pending. */
void reply_buf_trim(reply_buf *rb);

#endif
