/* Connection and server commands: PING ECHO QUIT AUTH HELLO SELECT CLIENT COMMAND CONFIG
 * SHUTDOWN TIME DBSIZE FLUSHDB FLUSHALL. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "alloc/alloc.h"
#include "memory/memory.h"
#include "server/log.h"
#include "server/multi.h"
#include "server/pubsub.h"
#include "server/script.h"
#include "server/server.h"
#include "server/tracking.h"
#include "util/util.h"

void cmd_ping(client *c) {
    if (c->argc > 2) {
        reply_wrong_arity(c);
        return;
    }
    if (c->reply.resp == 2 && pubsub_client_subscribed(c)) { /* Redis's subscribed-mode shape */
        reply_add_array_len(&c->reply, 2);
        reply_add_bulk(&c->reply, "pong", 4);
        reply_add_bulk(&c->reply, c->argc == 2 ? c->argv[1].ptr : "",
                       c->argc == 2 ? c->argv[1].len : 0);
        return;
    }
    if (c->argc == 2)
        reply_add_bulk(&c->reply, c->argv[1].ptr, c->argv[1].len);
    else
        reply_add_status(&c->reply, "PONG");
}

void cmd_echo(client *c) {
    reply_add_bulk(&c->reply, c->argv[1].ptr, c->argv[1].len);
}

void cmd_quit(client *c) {
    reply_add_status(&c->reply, "OK");
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* Constant-time comparison, so the reply time does not leak the password prefix. */
static int secret_equal(const char *a, size_t alen, const char *b, size_t blen) {
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return diff == 0;
}

/* Returns 0 on success, -1 after replying with the error. */
static int try_auth(client *c, const resp_arg *user, const resp_arg *pass) {
    if (!srv.requirepass[0] && !user) {
        reply_error(c, "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?");
        return -1;
    }
    int user_ok = !user || (user->len == 7 && strncmp(user->ptr, "default", 7) == 0);
    /* Without requirepass the default user has no password (Redis's "nopass"): AUTH default
     * <anything> succeeds. */
    int pass_ok = !srv.requirepass[0] ||
                  secret_equal(pass->ptr, pass->len, srv.requirepass, strlen(srv.requirepass));
    if (!user_ok || !pass_ok) {
        reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return -1;
    }
    c->flags |= CLIENT_AUTHENTICATED;
    return 0;
}

void cmd_auth(client *c) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    const resp_arg *user = c->argc == 3 ? &c->argv[1] : NULL;
    if (try_auth(c, user, &c->argv[c->argc - 1]) == 0) reply_add_status(&c->reply, "OK");
}

static int valid_client_name(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] < '!' || p[i] > '~') return 0;
    return 1;
}

static int set_client_name(client *c, const resp_arg *name) {
    if (!valid_client_name(name->ptr, name->len)) {
        reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
        return -1;
    }
    alloc_free(ALLOC_SUB_CLIENTS, c->name);
    c->name = name->len ? alloc_strndup(ALLOC_SUB_CLIENTS, name->ptr, name->len) : NULL;
    return 0;
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: the options take effect in order (a name
 * set before a failing option stays, as in Redis); the protocol switches only once everything
 * passed, and the reply is already in the new protocol. */
void cmd_hello(client *c) {
    int i = 1;
    long long ver = 0;
    if (c->argc >= 2) {
        if (util_parse_ll(c->argv[1].ptr, c->argv[1].len, &ver) < 0) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver != 2 && ver != 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    for (; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_eq(c, i, "auth") && more >= 2) {
            if (try_auth(c, &c->argv[i + 1], &c->argv[i + 2]) < 0) return;
            i += 2;
        } else if (arg_eq(c, i, "setname") && more >= 1) {
            /* Set where it stands, as Redis: a later bad option does not undo it. */
            if (set_client_name(c, &c->argv[++i]) < 0) return;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'",
                         (int)(c->argv[i].len > 128 ? 128 : c->argv[i].len), c->argv[i].ptr);
            return;
        }
    }
    if (client_auth_required(c)) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time");
        return;
    }
    if (ver) c->reply.resp = (int)ver;
    reply_add_map_len(&c->reply, 7);
    reply_add_bulk_cstr(&c->reply, "server");
    reply_add_bulk_cstr(&c->reply, "memkv");
    reply_add_bulk_cstr(&c->reply, "version");
    reply_add_bulk_cstr(&c->reply, MEMKV_REDIS_COMPAT_VERSION);
    reply_add_bulk_cstr(&c->reply, "proto");
    reply_add_int(&c->reply, c->reply.resp);
    reply_add_bulk_cstr(&c->reply, "id");
    reply_add_int(&c->reply, (long long)c->id);
    reply_add_bulk_cstr(&c->reply, "mode");
    reply_add_bulk_cstr(&c->reply, "standalone");
    reply_add_bulk_cstr(&c->reply, "role");
    reply_add_bulk_cstr(&c->reply, "master");
    reply_add_bulk_cstr(&c->reply, "modules");
    reply_add_array_len(&c->reply, 0);
}

void cmd_select(client *c) {
    long long idx;
    if (arg_ll(c, 1, &idx) < 0) return;
    /* Redis reads the index as an int first. */
    if (idx < INT_MIN || idx > INT_MAX) {
        reply_error(c, "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (idx < 0 || idx >= srv.databases) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    c->db_index = (int)idx;
    c->db = srv.dbs[idx];
    reply_add_status(&c->reply, "OK");
}

/* RESET: the connection as it was when it connected, for what memkv has of Redis 7.0's
 * connection state: RESP2, db 0, no name, and logged out when a password is set (AUTH again);
 * MONITOR, CLIENT REPLY OFF/SKIP, NO-EVICT and CLIENT TRACKING end. */
void cmd_reset(client *c) {
    multi_client_reset(c);
    pubsub_client_reset(c);
    if (c->flags & CLIENT_TRACKING) tracking_disable(c);
    c->reply.resp = 2;
    c->db_index = 0;
    c->db = srv.dbs[0];
    alloc_free(ALLOC_SUB_CLIENTS, c->name);
    c->name = NULL;
    if (srv.requirepass[0]) c->flags &= ~CLIENT_AUTHENTICATED;
    monitor_stop(c);
    c->flags &= ~(CLIENT_NO_EVICT | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP_NEXT);
    reply_add_status(&c->reply, "RESET");
}

/* ---- CLIENT ---- */

/* Client types as Redis names them: a client with a subscription is "pubsub", any other one
 * "normal" (a MONITOR too); memkv has no "master" nor "replica". */
enum { CLIENT_TYPE_ANY = -1, CLIENT_TYPE_NORMAL, CLIENT_TYPE_PUBSUB, CLIENT_TYPE_REPLICATION };

/* The type named by argv[i], or -2 when it names none. */
static int client_type_arg(const client *c, int i) {
    if (arg_eq(c, i, "normal")) return CLIENT_TYPE_NORMAL;
    if (arg_eq(c, i, "pubsub")) return CLIENT_TYPE_PUBSUB;
    if (arg_eq(c, i, "master") || arg_eq(c, i, "replica") || arg_eq(c, i, "slave"))
        return CLIENT_TYPE_REPLICATION;
    return -2;
}

static int client_is_type(const client *o, int type) {
    if (type == CLIENT_TYPE_ANY) return 1;
    return type == (pubsub_client_subscribed(o) ? CLIENT_TYPE_PUBSUB : CLIENT_TYPE_NORMAL);
}

static void client_list(client *c) {
    /* CLIENT LIST [TYPE normal|master|replica|pubsub] | [ID id ...], parsed as Redis: TYPE
     * only with exactly one value, ID with at least one (any integer; unknown ones match
     * nothing), anything else a syntax error. */
    int only_ids = 0, type = CLIENT_TYPE_ANY;
    if (c->argc == 4 && arg_eq(c, 2, "type")) {
        type = client_type_arg(c, 3);
        if (type == -2) {
            reply_errorf(c, "ERR Unknown client type '%.*s'", (int)c->argv[3].len, c->argv[3].ptr);
            return;
        }
    } else if (c->argc > 3 && arg_eq(c, 2, "id")) {
        for (int k = 3; k < c->argc; k++) {
            long long id;
            if (util_parse_ll(c->argv[k].ptr, c->argv[k].len, &id) < 0) {
                reply_error(c, "ERR Invalid client ID");
                return;
            }
        }
        only_ids = 3;
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    size_t cap = 1024, len = 0;
    char *out = alloc_malloc(ALLOC_SUB_OTHER, cap);
    for (client *o = srv.clients; o; o = o->next) {
        if (!client_is_type(o, type)) continue;
        if (only_ids) {
            int want = 0;
            for (int k = only_ids; k < c->argc; k++) {
                long long id;
                util_parse_ll(c->argv[k].ptr, c->argv[k].len, &id);
                if ((uint64_t)id == o->id) want = 1;
            }
            if (!want) continue;
        }
        char line[768];
        client_info_line(o, line, sizeof(line));
        size_t n = strlen(line);
        if (len + n + 2 > cap) {
            cap = (len + n + 2) * 2;
            out = alloc_realloc(ALLOC_SUB_OTHER, out, cap);
        }
        memcpy(out + len, line, n);
        len += n;
        out[len++] = '\n';
    }
    reply_add_verbatim(&c->reply, "txt", out, len);
    alloc_free(ALLOC_SUB_OTHER, out);
}

static void client_kill(client *c) {
    if (c->argc == 3) {
        /* Old form: CLIENT KILL addr:port */
        for (client *o = srv.clients; o; o = o->next) {
            if (strlen(o->addr) == c->argv[2].len &&
                memcmp(o->addr, c->argv[2].ptr, c->argv[2].len) == 0) {
                if (o == c)
                    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
                else
                    client_close_async(o);
                reply_add_status(&c->reply, "OK");
                return;
            }
        }
        reply_error(c, "ERR No such client");
        return;
    }
    /* Options as Redis parses them: one at a time, each needing its value; the first bad
     * one answers. */
    long long id = 0;
    const resp_arg *addr = NULL, *laddr = NULL;
    int skipme = 1, type = CLIENT_TYPE_ANY;
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        const resp_arg *v = &c->argv[i + 1];
        if (arg_eq(c, i, "id")) {
            if (util_parse_ll(v->ptr, v->len, &id) < 0 || id <= 0) {
                reply_error(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_eq(c, i, "type")) {
            type = client_type_arg(c, i + 1);
            if (type == -2) {
                reply_errorf(c, "ERR Unknown client type '%.*s'", (int)v->len, v->ptr);
                return;
            }
        } else if (arg_eq(c, i, "addr")) {
            addr = v;
        } else if (arg_eq(c, i, "laddr")) {
            laddr = v;
        } else if (arg_eq(c, i, "user")) {
            if (!arg_eq(c, i + 1, "default")) {
                reply_errorf(c, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                return;
            }
        } else if (arg_eq(c, i, "skipme")) {
            if (arg_eq(c, i + 1, "yes"))
                skipme = 1;
            else if (arg_eq(c, i + 1, "no"))
                skipme = 0;
            else {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    long long killed = 0;
    for (client *o = srv.clients; o; o = o->next) {
        if (!client_is_type(o, type)) continue;
        if (id && o->id != (uint64_t)id) continue;
        if (addr && (strlen(o->addr) != addr->len || memcmp(o->addr, addr->ptr, addr->len)))
            continue;
        if (laddr && (strlen(o->laddr) != laddr->len || memcmp(o->laddr, laddr->ptr, laddr->len)))
            continue;
        if (o == c && skipme) continue;
        if (o == c)
            c->flags |= CLIENT_CLOSE_AFTER_REPLY; /* reply first, then close */
        else
            client_close_async(o);
        killed++;
    }
    reply_add_int(&c->reply, killed);
}

void cmd_client(client *c) {
    /* clang-format off */
    static const char *const help[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ID <client-id>", "      Kill connections by client id.",
        "    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
        "    * USER <username>", "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
        "LIST [options ...]", "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
        "    * ID <id> [<id> ...]", "      Return clients with the given ids.",
        "UNPAUSE", "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO", "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "HELP", "    Prints this help.", NULL};
    /* clang-format on */
    if (client_ext_subcommand(c)) return;
    if (arg_eq(c, 1, "id") && c->argc == 2) {
        reply_add_int(&c->reply, (long long)c->id);
    } else if (arg_eq(c, 1, "getname") && c->argc == 2) {
        if (c->name)
            reply_add_bulk_cstr(&c->reply, c->name);
        else
            reply_add_null(&c->reply);
    } else if (arg_eq(c, 1, "setname") && c->argc == 3) {
        if (set_client_name(c, &c->argv[2]) == 0) reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 1, "setinfo") && c->argc == 4) {
        reply_add_status(&c->reply, "OK"); /* lib-name / lib-ver: accepted, not shown */
    } else if (arg_eq(c, 1, "list")) {
        client_list(c);
    } else if (arg_eq(c, 1, "info") && c->argc == 2) {
        char line[768];
        client_info_line(c, line, sizeof(line));
        size_t n = strlen(line);
        line[n++] = '\n';
        reply_add_verbatim(&c->reply, "txt", line, n);
    } else if (arg_eq(c, 1, "kill") && c->argc >= 3) {
        client_kill(c);
    } else if (arg_eq(c, 1, "help") && c->argc == 2) {
        reply_help(c, help);
    } else if (arg_eq(c, 1, "unblock") && (c->argc == 3 || c->argc == 4)) {
        long long id;
        if (arg_ll(c, 2, &id) < 0) return;
        int error = 0;
        if (c->argc == 4) {
            if (arg_eq(c, 3, "error")) {
                error = 1;
            } else if (!arg_eq(c, 3, "timeout")) {
                reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        reply_add_int(&c->reply, id > 0 ? blocking_unblock_by_id((uint64_t)id, error) : 0);
    } else if (arg_eq(c, 1, "unblock") && c->argc > 4) {
        reply_subcommand_syntax_error(c);
    } else if (arg_eq(c, 1, "unblock") || arg_eq(c, 1, "id") || arg_eq(c, 1, "getname") ||
               arg_eq(c, 1, "setname") || arg_eq(c, 1, "info") || arg_eq(c, 1, "kill") ||
               arg_eq(c, 1, "help") || arg_eq(c, 1, "setinfo")) {
        reply_wrong_subcommand_arity(c);
    } else {
        reply_unknown_subcommand(c);
    }
}

/* ---- COMMAND ---- */

/* One COMMAND INFO entry's name, arity, flags and key positions. */
static void reply_info_head(client *c, const char *name, int arity, int flags, int first, int last,
                            int step) {
    static const struct {
        int flag;
        const char *name;
    } flag_names[] = {
        {CMD_WRITE, "write"},
        {CMD_READONLY, "readonly"},
        {CMD_DENYOOM, "denyoom"},
        {CMD_ADMIN, "admin"},
        {CMD_NOAUTH, "no_auth"},
        {CMD_FAST, "fast"},
        {CMD_NOSCRIPT, "noscript"},
        {CMD_BLOCKING, "blocking"},
        {CMD_MOVABLEKEYS, "movablekeys"},
        {CMD_SKIP_SLOWLOG, "skip_slowlog"},
        {CMD_NO_MULTI, "no_multi"},
    };
    reply_add_array_len(&c->reply, 10);
    reply_add_bulk_cstr(&c->reply, name);
    reply_add_int(&c->reply, arity);
    int nflags = 0;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (flags & flag_names[i].flag) nflags++;
    reply_add_set_len(&c->reply, nflags);
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (flags & flag_names[i].flag) reply_add_status(&c->reply, flag_names[i].name);
    reply_add_int(&c->reply, first);
    reply_add_int(&c->reply, last);
    reply_add_int(&c->reply, step);
}

static void reply_command_info(client *c, const command *cmd) {
    /* A container's flags are its subcommands' in Redis 7.0: it shows none. */
    int container = (cmd->flags & CMD_CONTAINER) != 0;
    reply_info_head(c, cmd->name, cmd->arity, container ? 0 : cmd->flags, cmd->first_key,
                    cmd->last_key, cmd->key_step);
    reply_command_categories(c, cmd);
    /* Redis sends these as sets (memkv's table has no tips or key specs), and an empty
     * subcommand list as a set, a full one as an array of entries like this one. */
    reply_add_set_len(&c->reply, 0); /* tips */
    reply_add_set_len(&c->reply, 0); /* key specs */
    const subcommand *subs = container ? command_subcommands(cmd) : NULL;
    size_t n = 0;
    while (subs && subs[n].name)
        n++;
    if (!n) {
        reply_add_set_len(&c->reply, 0);
        return;
    }
    reply_add_array_len(&c->reply, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const subcommand *s = &subs[i];
        reply_info_head(c, s->fullname, s->arity, subcommand_flags(cmd, s), s->has_key ? 2 : 0,
                        s->has_key ? 2 : 0, s->has_key ? 1 : 0);
        reply_subcommand_categories(c, cmd, s);
        reply_add_set_len(&c->reply, 0);
        reply_add_set_len(&c->reply, 0);
        reply_add_set_len(&c->reply, 0);
    }
}

static void reply_command_docs(client *c, const command *cmd) {
    reply_add_bulk_cstr(&c->reply, cmd->name);
    reply_add_map_len(&c->reply, 3);
    reply_add_bulk_cstr(&c->reply, "summary");
    reply_add_bulk_cstr(&c->reply, cmd->summary);
    reply_add_bulk_cstr(&c->reply, "since");
    reply_add_bulk_cstr(&c->reply, command_since(cmd->name));
    reply_add_bulk_cstr(&c->reply, "group");
    reply_add_bulk_cstr(&c->reply, cmd->group);
}

void cmd_command(client *c) {
    if (c->argc == 1) {
        reply_add_array_len(&c->reply, (long long)srv.ncommands);
        for (size_t i = 0; i < srv.ncommands; i++)
            reply_command_info(c, &srv.commands[i]);
    } else if (arg_eq(c, 1, "count") && c->argc == 2) {
        reply_add_int(&c->reply, (long long)srv.ncommands);
    } else if (arg_eq(c, 1, "list")) {
        command_list(c);
    } else if (arg_eq(c, 1, "getkeys") && c->argc >= 4) {
        command_getkeys(c, 0);
    } else if (arg_eq(c, 1, "getkeysandflags") && c->argc >= 4) {
        command_getkeys(c, 1);
    } else if (arg_eq(c, 1, "info")) {
        if (c->argc == 2) {
            reply_add_array_len(&c->reply, (long long)srv.ncommands);
            for (size_t i = 0; i < srv.ncommands; i++)
                reply_command_info(c, &srv.commands[i]);
            return;
        }
        reply_add_array_len(&c->reply, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            const command *cmd = command_lookup(c->argv[i].ptr, c->argv[i].len);
            if (cmd)
                reply_command_info(c, cmd);
            else
                reply_add_null(&c->reply); /* RESP2: a null bulk, as Redis */
        }
    } else if (arg_eq(c, 1, "docs")) {
        if (c->argc == 2) {
            reply_add_map_len(&c->reply, (long long)srv.ncommands);
            for (size_t i = 0; i < srv.ncommands; i++)
                reply_command_docs(c, &srv.commands[i]);
            return;
        }
        long long found = 0;
        for (int i = 2; i < c->argc; i++)
            if (command_lookup(c->argv[i].ptr, c->argv[i].len)) found++;
        reply_add_map_len(&c->reply, found);
        for (int i = 2; i < c->argc; i++) {
            const command *cmd = command_lookup(c->argv[i].ptr, c->argv[i].len);
            if (cmd) reply_command_docs(c, cmd);
        }
    } else if (arg_eq(c, 1, "help") && c->argc == 2) {
        /* clang-format off */
    static const char *const help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)", "    Return details about all commands.",
            "COUNT", "    Return the total number of commands in this server.",
            "LIST", "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]", "    Return details about the given commands.",
            "DOCS [<command-name> ...]", "    Return documentation details about the given commands.",
            "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
            "HELP", "    Print this help.", NULL};
        /* clang-format on */
        reply_help(c, help);
    } else if (arg_eq(c, 1, "count") || arg_eq(c, 1, "help") || arg_eq(c, 1, "getkeys") ||
               arg_eq(c, 1, "getkeysandflags")) {
        reply_wrong_subcommand_arity(c);
    } else {
        reply_unknown_subcommand(c);
    }
}

/* ---- CONFIG ---- */

/* CONFIG GET pattern...: as Redis, a name without glob characters is looked up directly and
 * answered under the name as the client wrote it, a pattern answers canonical names; the
 * first argument (in order) that matches a parameter decides. */
static void config_get(client *c) {
    long long n = 0;
    /* Count first (RESP2 needs the length up front), then emit. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) reply_add_map_len(&c->reply, n);
        for (size_t i = 0; i < srv.config.count; i++) {
            const cfg_param *p = &srv.config.params[i];
            size_t plen = strlen(p->name);
            const resp_arg *as_written = NULL;
            int match = 0;
            for (int a = 2; a < c->argc && !as_written && !match; a++) {
                const resp_arg *pat = &c->argv[a];
                int glob = memchr(pat->ptr, '*', pat->len) || memchr(pat->ptr, '?', pat->len) ||
                           memchr(pat->ptr, '[', pat->len);
                if (!glob) {
                    if (pat->len == plen && strncasecmp(pat->ptr, p->name, plen) == 0)
                        as_written = pat;
                } else if (!(p->flags & CFG_HIDDEN)) {
                    match = util_glob_match(pat->ptr, pat->len, p->name, plen, 1);
                }
            }
            if (!match && !as_written) continue;
            if (pass == 0) {
                n++;
                continue;
            }
            char value[1024];
            cfg_format(p, value, sizeof(value));
            if (as_written)
                reply_add_bulk(&c->reply, as_written->ptr, as_written->len);
            else
                reply_add_bulk_cstr(&c->reply, p->name);
            reply_add_bulk_cstr(&c->reply, value);
        }
    }
}

static void config_set(client *c) {
    int pairs = (c->argc - 2) / 2;
    const char **names = alloc_malloc(ALLOC_SUB_OTHER, sizeof(char *) * (size_t)pairs * 2);
    const char **values = names + pairs;
    /* The engine wants C strings: copy (arguments are not NUL-terminated). An integer with a
     * NUL inside is no integer for Redis ("1\0" would read as 1 here): it gets a text that
     * fails the same way, in its turn. */
    for (int i = 0; i < pairs; i++) {
        const resp_arg *n = &c->argv[2 + 2 * i], *v = &c->argv[3 + 2 * i];
        names[i] = alloc_strndup(ALLOC_SUB_OTHER, n->ptr, n->len);
        const cfg_param *p = cfg_find(&srv.config, names[i]);
        int nul_int = p && p->type == CFG_INT && memchr(v->ptr, '\0', v->len);
        values[i] = nul_int ? alloc_strndup(ALLOC_SUB_OTHER, "not-an-integer", 14)
                            : alloc_strndup(ALLOC_SUB_OTHER, v->ptr, v->len);
    }
    char err[CFG_ERR_LEN];
    size_t bad = 0;
    /* As Redis, before any value is parsed: the first unknown, immutable or repeated name
     * (in argument order) fails the command, named as written. */
    int unknown = -1, refused = -1;
    const char *why = NULL;
    srv.config.allow_protected = client_option_allows(c, srv.enable_protected_configs);
    for (int i = 0; i < pairs && unknown < 0 && refused < 0; i++) {
        const cfg_param *p = cfg_find(&srv.config, names[i]);
        if (!p) {
            unknown = i;
        } else if (p->flags & CFG_IMMUTABLE) {
            refused = i;
            why = "can't set immutable config";
        } else if ((p->flags & CFG_PROTECTED) && !srv.config.allow_protected) {
            refused = i;
            why = "can't set protected config";
        } else {
            for (int j = 0; j < i && refused < 0; j++) {
                if (cfg_find(&srv.config, names[j]) == p) {
                    refused = i;
                    why = "duplicate parameter";
                }
            }
        }
    }
    if (unknown >= 0) {
        reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                     names[unknown]);
    } else if (refused >= 0) {
        reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     names[refused], why);
    } else if (cfg_set_many(&srv.config, names, values, (size_t)pairs, &bad, err) < 0) {
        reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     cfg_find(&srv.config, names[bad])->name, err);
    } else {
        reply_add_status(&c->reply, "OK");
    }
    for (int i = 0; i < pairs; i++) {
        alloc_free(ALLOC_SUB_OTHER, (void *)names[i]);
        alloc_free(ALLOC_SUB_OTHER, (void *)values[i]);
    }
    alloc_free(ALLOC_SUB_OTHER, names);
}

static void reset_stats(void) {
    server_stats *s = &srv.stats;
    memset(s, 0, sizeof(*s));
    s->ops_last_ms = server_now_ms();
    evloop_take_max_busy_us(srv.el);
    script_reset_stats();
    cmdstats_reset(); /* commandstats, errorstats, latencystats */
}

void cmd_config(client *c) {
    if (arg_eq(c, 1, "get") && c->argc >= 3) {
        config_get(c);
    } else if (arg_eq(c, 1, "set") && c->argc >= 4) {
        if (c->argc % 2 != 0) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        config_set(c);
    } else if (arg_eq(c, 1, "resetstat") && c->argc == 2) {
        reset_stats();
        reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 1, "rewrite") && c->argc == 2) {
        char err[CFG_ERR_LEN];
        if (!srv.config_file) {
            reply_error(c, "ERR The server is running without a config file");
        } else if (cfg_rewrite(&srv.config, srv.config_file, err) < 0) {
            log_msg(LOG_WARNING, "CONFIG REWRITE failed: %s", err);
            reply_errorf(c, "ERR %s", err);
        } else {
            log_msg(LOG_NOTICE, "CONFIG REWRITE executed with success.");
            reply_add_status(&c->reply, "OK");
        }
    } else if (arg_eq(c, 1, "help") && c->argc == 2) {
        /* clang-format off */
    static const char *const help[] = {
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
            "RESETSTAT", "    Reset statistics reported by the INFO command.",
            "REWRITE", "    Rewrite the configuration file.",
            "HELP", "    Print this help.", NULL};
        /* clang-format on */
        reply_help(c, help);
    } else if (arg_eq(c, 1, "get") || arg_eq(c, 1, "set") || arg_eq(c, 1, "resetstat") ||
               arg_eq(c, 1, "rewrite") || arg_eq(c, 1, "help")) {
        reply_wrong_subcommand_arity(c);
    } else {
        reply_unknown_subcommand(c);
    }
}

void cmd_shutdown(client *c) {
    int abort = 0, save = 0, nosave = 0, other = 0;
    for (int i = 1; i < c->argc; i++) {
        if (arg_eq(c, i, "abort"))
            abort = 1;
        else if (arg_eq(c, i, "save"))
            save = 1;
        else if (arg_eq(c, i, "nosave"))
            nosave = 1;
        else if (arg_eq(c, i, "now") || arg_eq(c, i, "force"))
            other = 1;
        else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    /* As Redis: ABORT goes alone, SAVE and NOSAVE exclude each other. */
    if ((abort && (save || nosave || other)) || (save && nosave)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (abort) {
        reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    log_msg(LOG_WARNING, "User requested shutdown...");
    if (persist_before_shutdown(save ? 1 : nosave ? 0 : -1) < 0) {
        reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    server_request_shutdown();
    /* No reply: the client sees the connection close, as with Redis. */
}

void cmd_time(client *c) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char buf[32];
    reply_add_array_len(&c->reply, 2);
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)tv.tv_sec);
    reply_add_bulk(&c->reply, buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "%lld", (long long)tv.tv_usec);
    reply_add_bulk(&c->reply, buf, (size_t)n);
}

void cmd_dbsize(client *c) {
    reply_add_int(&c->reply, (long long)db_size(c->db));
}

static int flush_mode_ok(client *c) {
    if (c->argc == 1) return 1;
    if (c->argc == 2 && (arg_eq(c, 1, "async") || arg_eq(c, 1, "sync"))) return 1;
    reply_error(c, ERR_SYNTAX);
    return 0;
}

/* After a synchronous flush the freed pages go back to the OS at once, as Redis 7 does: jemalloc
 * would otherwise return them only over its decay time, and an idle server never. ASYNC asks for
 * a quick return, so it leaves them to the decay. */
static void flush_done(client *c) {
    /* Tracking clients are told with one null invalidation (keys are not per db there). */
    tracking_invalidate_all();
    if (!(c->argc == 2 && arg_eq(c, 1, "async"))) (void)mem_purge();
    reply_add_status(&c->reply, "OK");
}

void cmd_flushdb(client *c) {
    if (!flush_mode_ok(c)) return;
    srv.dirty += (long long)db_size(c->db);
    db_flush(c->db);
    flush_done(c);
}

/* As Redis: a BGSAVE in progress is abandoned (its snapshot holds what was flushed), and with
 * save rules the empty data set is saved at once (the count of changes starts again from 0),
 * so a restart cannot bring the keys back. */
void cmd_flushall(client *c) {
    if (!flush_mode_ok(c)) return;
    for (long long i = 0; i < srv.databases; i++) {
        srv.dirty += (long long)db_size(srv.dbs[i]);
        db_flush(srv.dbs[i]);
    }
    bgsave_abort();
    if (persist_has_rules()) {
        char err[PATH_MAX + 256];
        (void)persist_save(err, sizeof(err)); /* a failure is logged, and counted in INFO */
    }
    flush_done(c);
}
