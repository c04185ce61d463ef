/* MONITOR: clients that receive every command the server executes, one status line each, in
 * Redis 7.0's format:
 *
 *     +1700000000.123456 [0 127.0.0.1:51234] "set" "k" "a\"b\x00"
 *
 * (wall time with microseconds, the db after the command, the client's address, the
 * arguments quoted with Redis's escapes), also on RESP3 connections. As in 7.0, a line is
 * written once the command has run (SELECT shows the new db), commands that were refused
 * before running (unknown, wrong arity, NOAUTH, OOM) are not shown, nor admin commands
 * (CONFIG, CLIENT KILL/LIST/PAUSE, SLOWLOG, MONITOR, ...); the arguments of AUTH and HELLO's
 * AUTH are shown as "(redacted)". A monitor's own commands are shown to it too. A monitor may
 * not run commands that read or write keys ("Replica can't interact with the keyspace");
 * RESET (or QUIT) ends it. Main thread only. */
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/server.h"
#include "util/util.h"

static client **monitors;
static int cap;

/* Redis's redaction (authCommand, helloCommand): AUTH's arguments when it has at most two,
 * HELLO's two after an AUTH option that its option loop reached. */
int command_arg_redacted(const client *c, const command *cmd, int i) {
    if (i == 0) return 0;
    if (cmd->fn == cmd_auth) return c->argc <= 3;
    if (cmd->fn != cmd_hello || c->argc < 2) return 0;
    long long ver;
    if (util_parse_ll(c->argv[1].ptr, c->argv[1].len, &ver) < 0 || (ver != 2 && ver != 3)) return 0;
    for (int j = 2; j < c->argc;) {
        int more = c->argc - j - 1;
        if (arg_eq(c, j, "auth") && more >= 2) {
            if (i == j + 1 || i == j + 2) return 1;
            j += 3;
        } else if (arg_eq(c, j, "setname") && more >= 1) {
            j += 2;
        } else {
            break;
        }
    }
    return 0;
}

/* sdscatrepr's quoting: \\ \" \n \r \t \a \b, printable ASCII as is, other bytes \xHH. */
static size_t repr(char *out, const char *p, size_t len) {
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\':
        case '"':
            out[n++] = '\\';
            out[n++] = (char)ch;
            break;
        case '\n':
            out[n++] = '\\', out[n++] = 'n';
            break;
        case '\r':
            out[n++] = '\\', out[n++] = 'r';
            break;
        case '\t':
            out[n++] = '\\', out[n++] = 't';
            break;
        case '\a':
            out[n++] = '\\', out[n++] = 'a';
            break;
        case '\b':
            out[n++] = '\\', out[n++] = 'b';
            break;
        default:
            if (ch >= 0x20 && ch <= 0x7e) {
                out[n++] = (char)ch;
            } else {
                static const char hex[] = "0123456789abcdef";
                out[n++] = '\\';
                out[n++] = 'x';
                out[n++] = hex[ch >> 4];
                out[n++] = hex[ch & 15];
            }
        }
    }
    out[n++] = '"';
    return n;
}

void monitor_feed(client *c, const command *cmd, const subcommand *sub) {
    if (sub ? sub->admin : (cmd->flags & CMD_ADMIN)) return;
    if (cmd->flags & CMD_SKIP_MONITOR) return;
    monitor_feed_always(c, cmd);
}

void monitor_feed_always(client *c, const command *cmd) {
    size_t cap_line = 64 + strlen(c->addr);
    for (int i = 0; i < c->argc; i++)
        cap_line += 3 + (command_arg_redacted(c, cmd, i) ? 10 : c->argv[i].len * 4);
    char *line = alloc_malloc(ALLOC_SUB_OUTPUT_BUF, cap_line);
    int64_t us = util_ustime();
    size_t n = (size_t)snprintf(line, cap_line, "+%lld.%06lld [%d %s]", (long long)(us / 1000000),
                                (long long)(us % 1000000), c->db_index, c->addr);
    for (int i = 0; i < c->argc; i++) {
        line[n++] = ' ';
        if (command_arg_redacted(c, cmd, i))
            n += repr(line + n, "(redacted)", 10);
        else
            n += repr(line + n, c->argv[i].ptr, c->argv[i].len);
    }
    line[n++] = '\r';
    line[n++] = '\n';
    for (int i = 0; i < srv.monitors; i++) {
        client *m = monitors[i];
        if (m->flags & (CLIENT_CLOSE_ASAP | CLIENT_REPLY_OFF)) continue;
        reply_add_raw(&m->reply, line, n);
        client_queue_write(m);
        client_obuf_check(m);
    }
    alloc_free(ALLOC_SUB_OUTPUT_BUF, line);
}

void cmd_monitor(client *c) {
    if (c->flags & CLIENT_MONITOR) return; /* already one: no reply, as Redis */
    if (srv.monitors == cap) {
        cap = cap ? cap * 2 : 4;
        monitors = alloc_realloc(ALLOC_SUB_CLIENTS, monitors, (size_t)cap * sizeof(*monitors));
    }
    monitors[srv.monitors++] = c;
    server_hooks_update();
    c->flags |= CLIENT_MONITOR;
    reply_add_status(&c->reply, "OK");
}

void monitor_stop(client *c) {
    if (!(c->flags & CLIENT_MONITOR)) return;
    c->flags &= ~CLIENT_MONITOR;
    for (int i = 0; i < srv.monitors; i++) {
        if (monitors[i] == c) {
            memmove(monitors + i, monitors + i + 1,
                    (size_t)(srv.monitors - i - 1) * sizeof(*monitors));
            srv.monitors--;
            server_hooks_update();
            break;
        }
    }
    if (srv.monitors == 0) {
        alloc_free(ALLOC_SUB_CLIENTS, monitors);
        monitors = NULL;
        cap = 0;
    }
}
