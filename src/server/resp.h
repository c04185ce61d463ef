/* resp — RESP2 request parser (multibulk and inline). Pure: no I/O, no globals.
 *
 * The caller keeps a buffer that starts at the first unconsumed byte of a command and grows
 * by appending; it calls resp_parse() after each read with the whole unconsumed region. The
 * parser remembers how far it got (so a command arriving in many reads is scanned once, not
 * once per read) and, on RESP_OK, fills p->argv with slices pointing INTO the caller's
 * buffer; they stay valid until the caller discards the consumed bytes. Inline commands are
 * unescaped in place, which is why the buffer is writable.
 *
 * Limits are fields (Redis's defaults from resp_limits_default()), checked before any
 * allocation proportional to what the peer announced.
 *
 * Behaviour as Redis 7's processMultibulkBuffer / processInlineBuffer, with these choices:
 *  - Like Redis, the byte after the '\r' that ends a "*n" or "$n" line, and the two bytes
 *    after a bulk's payload, are skipped without being checked (normally "\n" and "\r\n").
 *  - More than max_inline bytes before the '\r' of a "*n" / "$n" line, or before the '\n'
 *    of an inline line (a '\r' there counts), is an error whether or not the end has
 *    arrived yet: the same bound Redis applies while the line is incomplete.
 *  - "*0", "*-1" (any n <= 0) and empty or blank inline lines are consumed as RESP_OK with
 *    argc == 0.
 *  - Inline lines are split as sdssplitargs does on a C string: a NUL byte ends the line.
 *  - Arguments are slices, not NUL-terminated.
 *  - *consumed is 0 unless RESP_OK. After RESP_ERROR the parser keeps answering RESP_ERROR
 *    until resp_parser_reset().
 *  - Argument arrays are kept between commands (no allocation per command); at most a
 *    small number of slots survives a huge command.
 */
#ifndef MEMKV_RESP_H
#define MEMKV_RESP_H

#include <stddef.h>
#include <stdint.h>

typedef struct resp_limits {
    long long max_bulk_len;  /* proto-max-bulk-len, Redis: 512 MiB */
    long long max_multibulk; /* Redis: 1024*1024 arguments */
    size_t max_inline;       /* Redis: 64 KiB per inline request / per count line */
    /* Set while the client still owes AUTH: Redis then allows at most 10 arguments of at
     * most 16 KiB each, so an unauthenticated peer cannot make the server buffer much. */
    int unauthenticated;
} resp_limits;

resp_limits resp_limits_default(void);

typedef struct resp_arg {
    char *ptr; /* into the caller's buffer */
    size_t len;
} resp_arg;

typedef struct resp_parser {
    resp_limits limits;
    /* output, valid after RESP_OK */
    resp_arg *argv;
    size_t argc;
    /* private state */
    size_t argv_cap;
    size_t pos;         /* bytes of the current command already scanned */
    int kind;           /* 0 = not started, '*' multibulk, 'i' inline */
    long long mb_left;  /* multibulk args still to read */
    long long bulk_len; /* -1 when the next thing is a $len line */
    size_t *offs;       /* argument offsets while the command is incomplete */
    size_t scan;        /* where the search for the current line's end resumes */
    char err[128];      /* protocol error text, without "-ERR " */
} resp_parser;

enum resp_status {
    RESP_OK = 1,        /* a whole command: argv/argc filled, *consumed = its size */
    RESP_NEED_MORE = 0, /* incomplete: call again with the same bytes and more */
    RESP_ERROR = -1,    /* protocol error: p->err says why, e.g. "Protocol error: invalid
                           bulk length"; the connection should be closed */
};

void resp_parser_init(resp_parser *p, const resp_limits *limits);
void resp_parser_deinit(resp_parser *p);
/* Forget a partial command (e.g. after a reset); limits are kept. */
void resp_parser_reset(resp_parser *p);

/* Parse one command from buf[0..len). Empty inline lines are consumed and skipped (returned
 * as RESP_OK with argc == 0, so the caller discards them). */
int resp_parse(resp_parser *p, char *buf, size_t len, size_t *consumed);

/* After RESP_NEED_MORE inside a known-length bulk: the total buffer size (from the start of
 * the command) needed to complete that bulk, so the caller can grow its buffer once.
 * 0 when unknown. */
size_t resp_parser_bytes_needed(const resp_parser *p);

/* Memory held by the parser itself (argv arrays), for accounting. */
size_t resp_parser_mem(const resp_parser *p);

#endif
