/* The command table, its lookup, and dispatch: arity, authentication, statistics. */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "util/util.h"

const char *const ERR_SYNTAX = "ERR syntax error";
const char *const ERR_NOT_INT = "ERR value is not an integer or out of range";
const char *const ERR_NOT_FLOAT = "ERR value is not a valid float";
const char *const ERR_WRONGTYPE =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
const char *const ERR_NO_SUCH_KEY = "ERR no such key";
const char *const ERR_OVERFLOW = "ERR increment or decrement would overflow";
const char *const ERR_OOM = "OOM command not allowed when used memory > 'maxmemory'.";

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM /* exactly where Redis 7.0 says "denyoom" (COMMAND INFO) */

/* name, handler, arity, flags, first key, last key, step, group, summary */
/* clang-format off */
static command table[] = {
    {"ping", cmd_ping, -1, F, 0, 0, 0, "connection", "Returns the server's liveliness response.", 0, 0},
    {"echo", cmd_echo, 2, F, 0, 0, 0, "connection", "Returns the given string.", 0, 0},
    {"quit", cmd_quit, -1, CMD_NOAUTH | CMD_NOQUEUE | F, 0, 0, 0, "connection", "Closes the connection.", 0, 0},
    {"auth", cmd_auth, -2, CMD_NOAUTH | F, 0, 0, 0, "connection", "Authenticates the connection.", 0, 0},
    {"hello", cmd_hello, -1, CMD_NOAUTH | F, 0, 0, 0, "connection", "Handshakes with the server.", 0, 0},
    {"select", cmd_select, 2, F, 0, 0, 0, "connection", "Changes the selected database.", 0, 0},
    {"reset", cmd_reset, 1, CMD_NOAUTH | CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "connection", "Resets the connection.", 0, 0},
    {"client", cmd_client, -2, 0, 0, 0, 0, "connection", "A container for client connection commands.", 0, 0},
    {"command", cmd_command, -1, 0, 0, 0, 0, "server", "Returns detailed information about all commands.", 0, 0},
    {"info", cmd_info, -1, 0, 0, 0, 0, "server", "Returns information and statistics about the server.", 0, 0},
    {"config", cmd_config, -2, CMD_ADMIN, 0, 0, 0, "server", "A container for server configuration commands.", 0, 0},
    {"shutdown", cmd_shutdown, -1, CMD_ADMIN | CMD_NO_MULTI, 0, 0, 0, "server", "Synchronously saves the database(s) to disk and shuts down the server.", 0, 0},
    {"time", cmd_time, 1, F, 0, 0, 0, "server", "Returns the server time.", 0, 0},
    {"memory", cmd_memory, -2, 0, 0, 0, 0, "server", "A container for memory diagnostics commands.", 0, 0},
    {"kprofile", cmd_kprofile, -3, CMD_ADMIN, 0, 0, 0, "server", "Kvrocks-compatible heap profiler control (KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP).", 0, 0},
    {"debug", cmd_debug, -2, CMD_ADMIN, 0, 0, 0, "server", "A container for debugging commands (enable-debug-command).", 0, 0},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server", "Returns the number of keys in the database.", 0, 0},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "server", "Removes all keys from the current database.", 0, 0},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "Removes all keys from all databases.", 0, 0},

    {"multi", cmd_multi, 1, CMD_NOQUEUE | F, 0, 0, 0, "transactions", "Starts a transaction.", 0, 0},
    {"exec", cmd_exec, 1, CMD_NOQUEUE, 0, 0, 0, "transactions", "Executes all commands in a transaction.", 0, 0},
    {"discard", cmd_discard, 1, CMD_NOQUEUE | F, 0, 0, 0, "transactions", "Discards a transaction.", 0, 0},
    {"watch", cmd_watch, -2, CMD_NOQUEUE | F, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction.", 0, 0},
    {"unwatch", cmd_unwatch, 1, F, 0, 0, 0, "transactions", "Forgets about watched keys of a transaction.", 0, 0},

    {"del", cmd_del, -2, W, 1, -1, 1, "generic", "Deletes one or more keys.", 0, 0},
    {"unlink", cmd_del, -2, W | F, 1, -1, 1, "generic", "Asynchronously deletes one or more keys.", 0, 0},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic", "Determines whether one or more keys exist.", 0, 0},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic", "Determines the type of value stored at a key.", 0, 0},
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds.", 0, 0},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds.", 0, 0},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp.", 0, 0},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", 0, 0},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key.", 0, 0},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key.", 0, 0},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic", "Removes the expiration time of a key.", 0, 0},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "Renames a key and overwrites the destination.", 0, 0},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist.", 0, 0},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "Returns all key names that match a pattern.", 0, 0},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic", "Iterates over the key names in the database.", 0, 0},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic", "Returns a random key name from the database.", 0, 0},
    {"object", cmd_object, -2, 0, 0, 0, 0, "generic", "A container for object introspection commands.", 0, 0},
    {"copy", cmd_copy, -3, W | M, 1, 2, 1, "generic", "Copies the value of a key to a new key.", 0, 0},
    {"move", cmd_move, 3, W | F, 1, 1, 1, "generic", "Moves a key to another database.", 0, 0},
    {"touch", cmd_touch, -2, R | F, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", 0, 0},

    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "Returns the string value of a key.", 0, 0},
    {"set", cmd_set, -3, W | M, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", 0, 0},
    {"setnx", cmd_setnx, 3, W | M | F, 1, 1, 1, "string", "Set the string value of a key only when the key doesn't exist.", 0, 0},
    {"setex", cmd_setex, 4, W | M, 1, 1, 1, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", 0, 0},
    {"psetex", cmd_psetex, 4, W | M, 1, 1, 1, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", 0, 0},
    {"getset", cmd_getset, 3, W | M | F, 1, 1, 1, "string", "Returns the previous string value of a key after setting it to a new value.", 0, 0},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string", "Returns the string value of a key after deleting the key.", 0, 0},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string", "Returns the string value of a key after setting its expiration time.", 0, 0},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string", "Atomically returns the string values of one or more keys.", 0, 0},
    {"mset", cmd_mset, -3, W | M, 1, -1, 2, "string", "Atomically creates or modifies the string values of one or more keys.", 0, 0},
    {"msetnx", cmd_msetnx, -3, W | M, 1, -1, 2, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", 0, 0},
    {"incr", cmd_incr, 2, W | M | F, 1, 1, 1, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", 0, 0},
    {"decr", cmd_decr, 2, W | M | F, 1, 1, 1, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", 0, 0},
    {"incrby", cmd_incrby, 3, W | M | F, 1, 1, 1, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", 0, 0},
    {"decrby", cmd_decrby, 3, W | M | F, 1, 1, 1, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", 0, 0},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | M | F, 1, 1, 1, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", 0, 0},
    {"append", cmd_append, 3, W | M | F, 1, 1, 1, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", 0, 0},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "Returns the length of a string value.", 0, 0},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring of the string stored at a key.", 0, 0},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring from a string value.", 0, 0},
    {"setrange", cmd_setrange, 4, W | M, 1, 1, 1, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", 0, 0},
};
/* clang-format on */

#undef W
#undef R
#undef F
#undef M

/* The tables of the command groups that live in their own files (cmd_<group>.c). COMMAND
 * lists them in this order, after the table above. */
static const struct {
    command *cmds;
    const size_t *count;
} groups[] = {
    {NULL, NULL}, /* the table above, filled in by commands_init */
    {hashes_commands, &hashes_commands_count},
    {sets_commands, &sets_commands_count},
    {lists_commands, &lists_commands_count},
    {zsets_commands, &zsets_commands_count},
    {bitmaps_commands, &bitmaps_commands_count},
    {extra_commands, &extra_commands_count},
    {pubsub_commands, &pubsub_commands_count},
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

/* Open-addressing index over lower-case names, built once, at least twice the number of
 * commands so probes stay short. */
static command **cmd_index;
static size_t cmd_index_mask;

static unsigned name_hash(const char *s, size_t len) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)tolower((unsigned char)s[i])) * 16777619u;
    return h;
}

void commands_init(void) {
    size_t n = sizeof(table) / sizeof(table[0]);
    for (size_t g = 1; g < NGROUPS; g++)
        n += *groups[g].count;
    command *all = alloc_malloc(ALLOC_SUB_OTHER, n * sizeof(*all));
    size_t k = sizeof(table) / sizeof(table[0]);
    memcpy(all, table, sizeof(table));
    for (size_t g = 1; g < NGROUPS; g++) {
        memcpy(all + k, groups[g].cmds, *groups[g].count * sizeof(*all));
        k += *groups[g].count;
    }
    srv.commands = all;
    srv.ncommands = n;

    size_t size = 64;
    while (size < 2 * n)
        size <<= 1;
    cmd_index = alloc_calloc(ALLOC_SUB_OTHER, size * sizeof(*cmd_index));
    cmd_index_mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        size_t h = name_hash(all[i].name, strlen(all[i].name)) & cmd_index_mask;
        while (cmd_index[h])
            h = (h + 1) & cmd_index_mask;
        cmd_index[h] = &all[i];
    }
}

void commands_free(void) {
    alloc_free(ALLOC_SUB_OTHER, cmd_index);
    alloc_free(ALLOC_SUB_OTHER, srv.commands);
    cmd_index = NULL;
    srv.commands = NULL;
    srv.ncommands = 0;
}

const command *command_lookup(const char *name, size_t len) {
    if (len == 0 || len > 32) return NULL;
    size_t h = name_hash(name, len) & cmd_index_mask;
    while (cmd_index[h]) {
        const command *cmd = cmd_index[h];
        if (strlen(cmd->name) == len && strncasecmp(cmd->name, name, len) == 0) return cmd;
        h = (h + 1) & cmd_index_mask;
    }
    return NULL;
}

/* ---- replies with shared texts ---- */

void reply_error(client *c, const char *msg) {
    srv.stats.error_replies++;
    reply_add_error(&c->reply, msg);
}

void reply_errorf(client *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(c, msg);
}

static void lower_name(const client *c, int i, char *buf, size_t cap) {
    size_t n = c->argv[i].len < cap - 1 ? c->argv[i].len : cap - 1;
    for (size_t k = 0; k < n; k++)
        buf[k] = (char)tolower((unsigned char)c->argv[i].ptr[k]);
    buf[n] = '\0';
}

void reply_wrong_arity(client *c) {
    char name[64];
    lower_name(c, 0, name, sizeof(name));
    reply_errorf(c, "ERR wrong number of arguments for '%s' command", name);
}

/* "ERR wrong number of arguments for 'config|get' command": the command and its
 * subcommand (argv[1]), lower case. */
void reply_wrong_subcommand_arity(client *c) {
    char name[64], sub[64];
    lower_name(c, 0, name, sizeof(name));
    lower_name(c, 1, sub, sizeof(sub));
    reply_errorf(c, "ERR wrong number of arguments for '%s|%s' command", name, sub);
}

void reply_help(client *c, const char *const *lines) {
    long long n = 0;
    while (lines[n])
        n++;
    reply_add_array_len(&c->reply, n);
    for (long long i = 0; i < n; i++)
        reply_add_status(&c->reply, lines[i]);
}

void reply_unknown_subcommand(client *c) {
    char name[64];
    lower_name(c, 0, name, sizeof(name));
    for (char *p = name; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    int n = c->argv[1].len < 128 ? (int)c->argv[1].len : 128;
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.", n, c->argv[1].ptr, name);
}

int arg_ll(client *c, int i, long long *out) {
    if (util_parse_ll(c->argv[i].ptr, c->argv[i].len, out) < 0) {
        reply_error(c, ERR_NOT_INT);
        return -1;
    }
    return 0;
}

int arg_eq(const client *c, int i, const char *lower) {
    size_t n = strlen(lower);
    return c->argv[i].len == n && strncasecmp(c->argv[i].ptr, lower, n) == 0;
}

int arg_random_count(client *c, const char *with, long long *count, int *with_set) {
    if (arg_ll(c, 2, count) < 0) return -1;
    if (*count == LLONG_MIN) { /* outside Redis's -LONG_MAX..LONG_MAX */
        reply_error(c, "ERR value is out of range, value must between -9223372036854775807 and "
                       "9223372036854775807");
        return -1;
    }
    *with_set = 0;
    if (c->argc > 4 || (c->argc == 4 && !arg_eq(c, 3, with))) {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    if (c->argc == 4) {
        *with_set = 1;
        if (*count < -LLONG_MAX / 2 || *count > LLONG_MAX / 2) { /* twice as many replies */
            reply_error(c, "ERR value is out of range");
            return -1;
        }
    }
    return 0;
}

/* ---- the SCAN family ---- */

int arg_scan_cursor(client *c, int i, uint64_t *cursor) {
    char *buf = alloc_strndup(ALLOC_SUB_OTHER, c->argv[i].ptr, c->argv[i].len);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    int bad = isspace((unsigned char)buf[0]) || *end != '\0' || errno == ERANGE;
    alloc_free(ALLOC_SUB_OTHER, buf);
    if (bad) {
        reply_error(c, "ERR invalid cursor");
        return -1;
    }
    *cursor = v;
    return 0;
}

int parse_scan_args(client *c, int first, int allow_type, scan_args *out) {
    *out = (scan_args){.count = 10, .match_all = 1, .type = -1};
    for (int i = first; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
        if (arg_eq(c, i, "count")) {
            if (arg_ll(c, i + 1, &out->count) < 0) return -1;
            if (out->count < 1) {
                reply_error(c, ERR_SYNTAX);
                return -1;
            }
        } else if (arg_eq(c, i, "match")) {
            out->pat = c->argv[i + 1].ptr;
            out->plen = c->argv[i + 1].len;
            out->match_all = out->plen == 1 && out->pat[0] == '*';
        } else if (allow_type && arg_eq(c, i, "type")) {
            out->type = -1;
            out->type_unknown = 1;
            for (int t = 0; t < DB_TYPES; t++) {
                if (arg_eq(c, i + 1, db_type_name(t))) {
                    out->type = t;
                    out->type_unknown = 0;
                }
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

int scan_args_match(const scan_args *a, const void *s, size_t len) {
    return a->match_all || util_glob_match(a->pat, a->plen, (const char *)s, len, 0);
}

void reply_scan_head(client *c, uint64_t next) {
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)next);
    reply_add_array_len(&c->reply, 2);
    reply_add_bulk(&c->reply, buf, (size_t)n);
}

/* ---- dispatch ---- */

static void reply_unknown_command(client *c) {
    char args[160] = "";
    size_t used = 0;
    for (int i = 1; i < c->argc && used < 128; i++) {
        int room = 128 - (int)used;
        int n = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                         (int)(c->argv[i].len < (size_t)room ? c->argv[i].len : (size_t)room),
                         c->argv[i].ptr);
        if (n < 0) break;
        used += (size_t)n;
        if (used >= sizeof(args)) break;
    }
    int n = c->argv[0].len < 128 ? (int)c->argv[0].len : 128;
    reply_errorf(c, "ERR unknown command '%.*s', with args beginning with: %s", n, c->argv[0].ptr,
                 args);
}

void command_process(client *c) {
    /* Cross-protocol scripting defence (as Redis): an HTTP request sent to us is dropped. */
    if (arg_eq(c, 0, "post") || arg_eq(c, 0, "host:")) {
        client_close_async(c);
        return;
    }
    const command *cmd = command_lookup(c->argv[0].ptr, c->argv[0].len);
    /* A command refused here, inside MULTI, fails the transaction (multi_flag_error); EXEC
     * refused itself discards it at once (multi_exec_abort), as Redis 7.0's rejectCommand. */
    if (!cmd) {
        reply_unknown_command(c);
        multi_flag_error(c);
        return;
    }
    c->last_cmd = cmd->name;
    if ((cmd->arity > 0 && c->argc != cmd->arity) || (c->argc < -cmd->arity)) {
        if (cmd->fn == cmd_exec) { /* even outside MULTI, as Redis 7.0 */
            multi_exec_abort(c, "wrong number of arguments for 'exec' command");
            return;
        }
        reply_wrong_arity(c);
        multi_flag_error(c);
        return;
    }
    if (client_auth_required(c) && !(cmd->flags & CMD_NOAUTH)) {
        if (cmd->fn == cmd_exec) {
            multi_exec_abort(c, "NOAUTH Authentication required.");
            return;
        }
        reply_error(c, "NOAUTH Authentication required.");
        multi_flag_error(c);
        return;
    }
    /* maxmemory, as Redis's processCommand: over the limit, evict before any command; if
     * that cannot get under the limit, refuse the commands that may grow memory (inside MULTI,
     * whatever would be queued, and EXEC of such a queue). Reads, deletes and the like still
     * run. */
    if (srv.maxmemory > 0 && evict_perform() < 0 &&
        ((cmd->flags & CMD_DENYOOM) || multi_refused_on_oom(c, cmd))) {
        if ((c->flags & CLIENT_MULTI) && cmd->fn == cmd_exec) {
            multi_exec_abort(c, ERR_OOM);
            return;
        }
        reply_error(c, ERR_OOM);
        multi_flag_error(c);
        return;
    }
    /* The one branch a client outside MULTI pays. */
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_NOQUEUE)) {
        multi_queue(c, cmd);
        return;
    }
    if (c->pubsub && pubsub_deny_command(c, cmd) < 0) return; /* RESP2 subscribed mode */
    command *mut = (command *)cmd;
    if (cmd->flags & CMD_READONLY) db_reads_only();
    mut->fn(c);
    mut->calls++;
    srv.stats.commands_processed++;
    client_obuf_check(c);
    /* Clients waiting on keys this command filled are served before the next command. */
    blocking_serve_ready_keys();
    db_settle(); /* the collections the command (and the clients it served) changed */
}
