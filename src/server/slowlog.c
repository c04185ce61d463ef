/* SLOWLOG: the commands that ran longer than slowlog-log-slower-than microseconds, newest
 * first, at most slowlog-max-len of them, as Redis 7.0 keeps and shows them.
 *
 * An entry keeps a trimmed copy of the command (at most SLOWLOG_MAX_ARGC arguments, the last
 * one saying how many more there were; arguments longer than SLOWLOG_MAX_STRING bytes cut with
 * "... (N more bytes)"), so a huge command costs a few KiB here at most. Entries live in one
 * allocation each, in ALLOC_SUB_SLOWLOG. Main thread only. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc/alloc.h"
#include "server/server.h"
#include "util/util.h"

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_STRING 128
#define SUB ALLOC_SUB_SLOWLOG

typedef struct slowlog_entry {
    struct slowlog_entry *next, *prev; /* newer, older */
    long long id;
    long long time; /* unix seconds */
    long long duration_us;
    int argc;
    resp_arg *argv; /* into this allocation */
    char *addr, *name;
} slowlog_entry;

static struct {
    slowlog_entry *newest, *oldest;
    long long len;
    long long next_id;
} S;

static void entry_unlink_oldest(void) {
    slowlog_entry *e = S.oldest;
    S.oldest = e->next;
    if (S.oldest)
        S.oldest->prev = NULL;
    else
        S.newest = NULL;
    S.len--;
    alloc_free(SUB, e);
}

static void trim_to(long long max) {
    while (S.len > max)
        entry_unlink_oldest();
}

/* The text an argument is shown as (Redis's): redacted, cut, or the placeholder for the
 * arguments left out. */
typedef struct shown_arg {
    const char *p;
    size_t len;
    char tail[48]; /* "... (N more bytes)" after p[0..len), or the whole text when p is NULL */
    size_t tail_len;
} shown_arg;

void slowlog_push(client *c, const command *cmd, long long duration_us) {
    if (srv.slowlog_log_slower_than < 0 || duration_us < srv.slowlog_log_slower_than) return;
    if (cmd->flags & CMD_SKIP_SLOWLOG) return;
    int argc = c->argc < SLOWLOG_MAX_ARGC ? c->argc : SLOWLOG_MAX_ARGC;
    shown_arg shown[SLOWLOG_MAX_ARGC];
    size_t bytes = sizeof(slowlog_entry) + (size_t)argc * sizeof(resp_arg);
    for (int i = 0; i < argc; i++) {
        shown_arg *s = &shown[i];
        s->tail_len = 0;
        if (i == SLOWLOG_MAX_ARGC - 1 && c->argc > SLOWLOG_MAX_ARGC) {
            s->p = NULL;
            s->len = 0;
            s->tail_len = (size_t)snprintf(s->tail, sizeof(s->tail), "... (%d more arguments)",
                                           c->argc - SLOWLOG_MAX_ARGC + 1);
        } else if (command_arg_redacted(c, cmd, i)) {
            s->p = "(redacted)";
            s->len = 10;
        } else {
            s->p = c->argv[i].ptr;
            s->len = c->argv[i].len;
            if (s->len > SLOWLOG_MAX_STRING) {
                s->tail_len = (size_t)snprintf(s->tail, sizeof(s->tail), "... (%zu more bytes)",
                                               s->len - SLOWLOG_MAX_STRING);
                s->len = SLOWLOG_MAX_STRING;
            }
        }
        bytes += s->len + s->tail_len + 1;
    }
    size_t alen = strlen(c->addr) + 1, nlen = (c->name ? strlen(c->name) : 0) + 1;
    bytes += alen + nlen;

    slowlog_entry *e = alloc_malloc(SUB, bytes);
    e->argv = (resp_arg *)(e + 1);
    char *p = (char *)(e->argv + argc);
    for (int i = 0; i < argc; i++) {
        const shown_arg *s = &shown[i];
        e->argv[i].ptr = p;
        if (s->len) memcpy(p, s->p, s->len);
        if (s->tail_len) memcpy(p + s->len, s->tail, s->tail_len);
        e->argv[i].len = s->len + s->tail_len;
        p += e->argv[i].len;
        *p++ = '\0';
    }
    e->addr = p;
    memcpy(p, c->addr, alen);
    p += alen;
    e->name = p;
    memcpy(p, c->name ? c->name : "", nlen);
    e->argc = argc;
    e->id = S.next_id++;
    e->time = (long long)time(NULL);
    e->duration_us = duration_us;
    e->prev = S.newest;
    e->next = NULL;
    if (S.newest)
        S.newest->next = e;
    else
        S.oldest = e;
    S.newest = e;
    S.len++;
    trim_to(srv.slowlog_max_len);
}

int slowlog_apply_max_len(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    trim_to(srv.slowlog_max_len);
    return 0;
}

void slowlog_free(void) {
    trim_to(0);
}

static void reply_entry(client *c, const slowlog_entry *e) {
    reply_add_array_len(&c->reply, 6);
    reply_add_int(&c->reply, e->id);
    reply_add_int(&c->reply, e->time);
    reply_add_int(&c->reply, e->duration_us);
    reply_add_array_len(&c->reply, e->argc);
    for (int i = 0; i < e->argc; i++)
        reply_add_bulk(&c->reply, e->argv[i].ptr, e->argv[i].len);
    reply_add_bulk_cstr(&c->reply, e->addr);
    reply_add_bulk_cstr(&c->reply, e->name);
}

void cmd_slowlog(client *c) {
    /* clang-format off */
    static const char *const help[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
        NULL};
    /* clang-format on */
    if (arg_eq(c, 1, "help") && c->argc == 2) {
        reply_help(c, help);
    } else if (arg_eq(c, 1, "reset") && c->argc == 2) {
        trim_to(0);
        reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 1, "len") && c->argc == 2) {
        reply_add_int(&c->reply, S.len);
    } else if (arg_eq(c, 1, "get") && (c->argc == 2 || c->argc == 3)) {
        long long count = 10;
        if (c->argc == 3 &&
            (util_parse_ll(c->argv[2].ptr, c->argv[2].len, &count) < 0 || count < -1)) {
            reply_error(c, "ERR count should be greater than or equal to -1");
            return;
        }
        if (count == -1 || count > S.len) count = S.len;
        reply_add_array_len(&c->reply, count);
        const slowlog_entry *e = S.newest;
        for (long long i = 0; i < count; i++, e = e->prev)
            reply_entry(c, e);
    } else if (arg_eq(c, 1, "get")) {
        reply_subcommand_syntax_error(c);
    } else if (arg_eq(c, 1, "help") || arg_eq(c, 1, "reset") || arg_eq(c, 1, "len")) {
        reply_wrong_subcommand_arity(c);
    } else {
        reply_unknown_subcommand(c);
    }
}
