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
#include "server/script.h"
#include "server/server.h"
#include "server/tracking.h"
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
    {"quit", cmd_quit, -1, CMD_NOAUTH | CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "connection", "Closes the connection.", 0, 0},
    {"auth", cmd_auth, -2, CMD_NOAUTH | CMD_NOSCRIPT | F, 0, 0, 0, "connection", "Authenticates the connection.", 0, 0},
    {"hello", cmd_hello, -1, CMD_NOAUTH | CMD_NOSCRIPT | F, 0, 0, 0, "connection", "Handshakes with the server.", 0, 0},
    {"select", cmd_select, 2, F, 0, 0, 0, "connection", "Changes the selected database.", 0, 0},
    {"reset", cmd_reset, 1, CMD_NOAUTH | CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "connection", "Resets the connection.", 0, 0},
    {"client", cmd_client, -2, 0, 0, 0, 0, "connection", "A container for client connection commands.", 0, 0},
    {"command", cmd_command, -1, 0, 0, 0, 0, "server", "Returns detailed information about all commands.", 0, 0},
    {"info", cmd_info, -1, 0, 0, 0, 0, "server", "Returns information and statistics about the server.", 0, 0},
    {"config", cmd_config, -2, CMD_ADMIN, 0, 0, 0, "server", "A container for server configuration commands.", 0, 0},
    {"shutdown", cmd_shutdown, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, 0, 0, 0, "server", "Synchronously saves the database(s) to disk and shuts down the server.", 0, 0},
    {"time", cmd_time, 1, F, 0, 0, 0, "server", "Returns the server time.", 0, 0},
    {"memory", cmd_memory, -2, 0, 0, 0, 0, "server", "A container for memory diagnostics commands.", 0, 0},
    {"kprofile", cmd_kprofile, -3, CMD_ADMIN, 0, 0, 0, "server", "Kvrocks-compatible heap profiler control (KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP).", 0, 0},
    {"debug", cmd_debug, -2, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server", "A container for debugging commands (enable-debug-command).", 0, 0},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server", "Returns the number of keys in the database.", 0, 0},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "server", "Removes all keys from the current database.", 0, 0},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "Removes all keys from all databases.", 0, 0},

    {"multi", cmd_multi, 1, CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "transactions", "Starts a transaction.", 0, 0},
    {"exec", cmd_exec, 1, CMD_NOSCRIPT | CMD_NOQUEUE, 0, 0, 0, "transactions", "Executes all commands in a transaction.", 0, 0},
    {"discard", cmd_discard, 1, CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "transactions", "Discards a transaction.", 0, 0},
    {"watch", cmd_watch, -2, CMD_NOSCRIPT | CMD_NOQUEUE | F, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction.", 0, 0},
    {"unwatch", cmd_unwatch, 1, CMD_NOSCRIPT | F, 0, 0, 0, "transactions", "Forgets about watched keys of a transaction.", 0, 0},

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
    {introspection_commands, &introspection_commands_count},
    {pubsub_commands, &pubsub_commands_count},
    {scripting_commands, &scripting_commands_count},
};

/* The subcommands of the container commands, as Redis 7.0's command table has them (plus
 * memkv's own), for CLIENT LIST's cmd= ("client|list"; "NULL" for an unknown one, as Redis)
 * and for MONITOR, which does not show the admin ones. */
#define SUBS_END                                                                                   \
    { NULL, NULL, 0 }
static const subcommand client_subs[] = {{"caching", "client|caching", 0},
                                         {"getredir", "client|getredir", 0},
                                         {"getname", "client|getname", 0},
                                         {"help", "client|help", 0},
                                         {"id", "client|id", 0},
                                         {"info", "client|info", 0},
                                         {"kill", "client|kill", 1},
                                         {"list", "client|list", 1},
                                         {"no-evict", "client|no-evict", 1},
                                         {"pause", "client|pause", 1},
                                         {"reply", "client|reply", 0},
                                         {"setname", "client|setname", 0},
                                         {"setinfo", "client|setinfo", 0},
                                         {"tracking", "client|tracking", 0},
                                         {"trackinginfo", "client|trackinginfo", 0},
                                         {"unblock", "client|unblock", 1},
                                         {"unpause", "client|unpause", 1},
                                         SUBS_END};
static const subcommand config_subs[] = {{"get", "config|get", 1},
                                         {"set", "config|set", 1},
                                         {"resetstat", "config|resetstat", 1},
                                         {"rewrite", "config|rewrite", 1},
                                         {"help", "config|help", 0},
                                         SUBS_END};
static const subcommand command_subs[] = {
    {"count", "command|count", 0},     {"docs", "command|docs", 0},
    {"getkeys", "command|getkeys", 0}, {"getkeysandflags", "command|getkeysandflags", 0},
    {"help", "command|help", 0},       {"info", "command|info", 0},
    {"list", "command|list", 0},       SUBS_END};
static const subcommand memory_subs[] = {{"doctor", "memory|doctor", 0},
                                         {"help", "memory|help", 0},
                                         {"malloc-stats", "memory|malloc-stats", 0},
                                         {"purge", "memory|purge", 0},
                                         {"stats", "memory|stats", 0},
                                         {"usage", "memory|usage", 0},
                                         {"profile", "memory|profile", 0},
                                         {"prefixes", "memory|prefixes", 0},
                                         {"top-keys", "memory|top-keys", 0},
                                         {"history", "memory|history", 0},
                                         SUBS_END};
static const subcommand object_subs[] = {
    {"encoding", "object|encoding", 0}, {"freq", "object|freq", 0},
    {"help", "object|help", 0},         {"idletime", "object|idletime", 0},
    {"refcount", "object|refcount", 0}, SUBS_END};
static const subcommand slowlog_subs[] = {{"get", "slowlog|get", 1},
                                          {"len", "slowlog|len", 1},
                                          {"reset", "slowlog|reset", 1},
                                          {"help", "slowlog|help", 0},
                                          SUBS_END};
static const subcommand latency_subs[] = {
    {"doctor", "latency|doctor", 1},   {"graph", "latency|graph", 1},
    {"help", "latency|help", 0},       {"histogram", "latency|histogram", 1},
    {"history", "latency|history", 1}, {"latest", "latency|latest", 1},
    {"reset", "latency|reset", 1},     SUBS_END};
static const subcommand pubsub_subs[] = {{"channels", "pubsub|channels", 0},
                                         {"help", "pubsub|help", 0},
                                         {"numpat", "pubsub|numpat", 0},
                                         {"numsub", "pubsub|numsub", 0},
                                         {"shardchannels", "pubsub|shardchannels", 0},
                                         {"shardnumsub", "pubsub|shardnumsub", 0},
                                         SUBS_END};
static const subcommand script_subs[] = {{"debug", "script|debug", 0},
                                         {"exists", "script|exists", 0},
                                         {"flush", "script|flush", 0},
                                         {"help", "script|help", 0},
                                         {"kill", "script|kill", 0},
                                         {"load", "script|load", 0},
                                         SUBS_END};
static const struct {
    const char *container;
    const subcommand *subs;
} containers[] = {
    {"client", client_subs},   {"config", config_subs}, {"command", command_subs},
    {"memory", memory_subs},   {"object", object_subs}, {"slowlog", slowlog_subs},
    {"latency", latency_subs}, {"pubsub", pubsub_subs}, {"script", script_subs},
};

/* Per command of srv.commands (same index): its subcommands when it is a container. */
static const subcommand **cmd_subs;

static const subcommand *find_sub(const subcommand *subs, const resp_arg *a) {
    for (const subcommand *s = subs; s->name; s++)
        if (strlen(s->name) == a->len && strncasecmp(s->name, a->ptr, a->len) == 0) return s;
    return NULL;
}
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

const subcommand *command_find_sub(const command *cmd, const resp_arg *a) {
    const subcommand *subs = cmd_subs[cmd - srv.commands];
    return subs ? find_sub(subs, a) : NULL;
}

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
    cmd_subs = alloc_calloc(ALLOC_SUB_OTHER, n * sizeof(*cmd_subs));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sizeof(containers) / sizeof(containers[0]); j++)
            if (strcmp(all[i].name, containers[j].container) == 0) {
                cmd_subs[i] = containers[j].subs;
                all[i].flags |= CMD_CONTAINER;
            }

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
    alloc_free(ALLOC_SUB_OTHER, cmd_subs);
    cmd_subs = NULL;
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

void reply_subcommand_syntax_error(client *c) {
    char name[64];
    lower_name(c, 0, name, sizeof(name));
    for (char *p = name; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    int n = c->argv[1].len < 128 ? (int)c->argv[1].len : 128;
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                 n, c->argv[1].ptr, name);
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

static inline void command_timed(client *c, const command *cmd, long long us) {
    if (srv.latency_monitor_threshold > 0)
        latency_add_sample((cmd->flags & CMD_FAST) ? "fast-command" : "command", us / 1000);
    if (srv.slowlog_log_slower_than >= 0 && us >= srv.slowlog_log_slower_than)
        slowlog_push(c, cmd, us);
}

void server_hooks_update(void) {
    srv.cmd_hooks = srv.monitors > 0 || srv.pause_type != PAUSE_OFF || command_timing_on();
}

int server_hooks_apply(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    server_hooks_update();
    return 0;
}

/* Inlined into both paths of command_process: the common one pays no extra call. Returns the
 * command when it ran (not refused, held or queued), else NULL. */
static inline __attribute__((always_inline)) const command *process(client *c) {
    /* Cross-protocol scripting defence (as Redis): an HTTP request sent to us is dropped. */
    if (arg_eq(c, 0, "post") || arg_eq(c, 0, "host:")) {
        client_close_async(c);
        return NULL;
    }
    const command *cmd = command_lookup(c->argv[0].ptr, c->argv[0].len);
    /* A command refused here, inside MULTI, fails the transaction (multi_flag_error); EXEC
     * refused itself discards it at once (multi_exec_abort), as Redis 7.0's rejectCommand. */
    if (!cmd) {
        c->last_cmd = "NULL";
        reply_unknown_command(c);
        multi_flag_error(c);
        return NULL;
    }
    const subcommand *sub = NULL;
    c->last_cmd = cmd->name;
    if ((cmd->flags & CMD_CONTAINER) && c->argc >= 2) {
        sub = find_sub(cmd_subs[cmd - srv.commands], &c->argv[1]);
        c->last_cmd = sub ? sub->fullname : "NULL";
        if (!sub) { /* refused before running, as Redis's lookup does */
            reply_unknown_subcommand(c);
            multi_flag_error(c);
            return NULL;
        }
    }
    if ((cmd->arity > 0 && c->argc != cmd->arity) || (c->argc < -cmd->arity)) {
        if (cmd->fn == cmd_exec) { /* even outside MULTI, as Redis 7.0 */
            multi_exec_abort(c, "wrong number of arguments for 'exec' command");
            return NULL;
        }
        reply_wrong_arity(c);
        multi_flag_error(c);
        return NULL;
    }
    if (client_auth_required(c) && !(cmd->flags & CMD_NOAUTH)) {
        if (cmd->fn == cmd_exec) {
            multi_exec_abort(c, "NOAUTH Authentication required.");
            return NULL;
        }
        reply_error(c, "NOAUTH Authentication required.");
        multi_flag_error(c);
        return NULL;
    }
    /* A script has run past busy-reply-threshold: only a few commands may run meanwhile
     * (before eviction, which must not touch the key space under the script). */
    if (srv.script_busy && script_refuse_busy(c, cmd)) {
        multi_flag_error(c);
        return NULL;
    }
    /* maxmemory, as Redis's processCommand: over the limit, evict before any command; if
     * that cannot get under the limit, refuse the commands that may grow memory (inside MULTI,
     * whatever would be queued, and EXEC of such a queue). Reads, deletes and the like still
     * run. */
    srv.pre_command_oom = srv.maxmemory > 0 && evict_perform() < 0; /* scripts check it too */
    if (srv.pre_command_oom && ((cmd->flags & CMD_DENYOOM) || multi_refused_on_oom(c, cmd))) {
        if ((c->flags & CLIENT_MULTI) && cmd->fn == cmd_exec) {
            multi_exec_abort(c, ERR_OOM);
            return NULL;
        }
        reply_error(c, ERR_OOM);
        multi_flag_error(c);
        return NULL;
    }
    /* RESP2 subscribed mode (inside MULTI the refusal fails the transaction, as Redis). */
    if (c->pubsub && pubsub_deny_command(c, cmd) < 0) {
        multi_flag_error(c);
        return NULL;
    }
    if ((c->flags & CLIENT_MONITOR) &&
        (cmd->flags & (CMD_READONLY | CMD_WRITE | CMD_MAY_REPLICATE))) {
        multi_flag_error(c);
        reply_error(c, "ERR Replica can't interact with the keyspace");
        return NULL;
    }
    /* Pauses, MONITOR, SLOWLOG and LATENCY: one flag to test when none is in use. */
    int64_t start = 0;
    if (srv.cmd_hooks) {
        if (srv.pause_type && pause_holds(c, cmd)) { /* CLIENT PAUSE: runs when it ends */
            pause_hold(c);
            return NULL;
        }
        /* SLOWLOG and LATENCY time each command, as Redis does. */
        if (command_timing_on()) start = util_monotonic_us();
    }
    /* The one branch a client outside MULTI pays. */
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_NOQUEUE)) {
        multi_queue(c, cmd);
        return NULL;
    }
    command *mut = (command *)cmd;
    if (cmd->flags & CMD_READONLY) db_reads_only();
    mut->fn(c);
    mut->calls++;
    srv.stats.commands_processed++;
    if (srv.cmd_hooks) {
        if (start && !(c->flags & CLIENT_BLOCKED))
            command_timed(c, cmd, util_monotonic_us() - start);
        if (srv.monitors) monitor_feed(c, cmd, sub);
    }
    client_obuf_check(c);
    /* Clients waiting on keys this command filled are served before the next command (not
     * in the middle of a busy script: it has not finished writing). */
    if (!srv.script_busy) blocking_serve_ready_keys();
    db_settle(); /* the collections the command (and the clients it served) changed */
    return cmd;
}

void command_call(client *c, const command *cmd, const subcommand *sub) {
    command *mut = (command *)cmd;
    if (cmd->flags & CMD_READONLY) db_reads_only();
    c->last_cmd = cmd->name;
    mut->fn(c);
    mut->calls++;
    srv.stats.commands_processed++;
    if (srv.monitors) monitor_feed(c, cmd, sub);
    db_settle();
}

void command_process(client *c) {
    /* One test for the common case: no CLIENT REPLY OFF/SKIP, no CLIENT TRACKING. */
    if (!(c->flags &
          (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_TRACKING))) {
        process(c);
        return;
    }
    int tracking = c->flags & CLIENT_TRACKING;
    /* CLIENT REPLY OFF / SKIP: the command runs, its replies are dropped; SKIP is for the one
     * command after CLIENT REPLY SKIP (Redis turns SKIP_NEXT into SKIP in resetClient). */
    if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
        c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
        c->flags |= CLIENT_REPLY_SKIP;
    }
    size_t before = reply_buf_bytes(&c->reply);
    const command *ran = process(c);
    /* Muted as the command ends (CLIENT REPLY ON's own OK goes out). */
    if (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) reply_buf_truncate(&c->reply, before);
    /* Held by a pause or blocked: the later reply is the skipped one (command_unblocked). */
    if (!(c->flags & (CLIENT_PAUSED | CLIENT_BLOCKED))) c->flags &= ~CLIENT_REPLY_SKIP;
    /* Client-side caching: the keys it read; invalidations for it go after its reply, which
     * CLIENT REPLY OFF does not take back (Redis 7.0 sends them even then). */
    if (tracking) tracking_command_done(c, ran, c->argv, c->argc);
}

void command_unblocked_reply(client *c, size_t before) {
    if (!(c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP))) return;
    reply_buf_truncate(&c->reply, before);
    c->flags &= ~CLIENT_REPLY_SKIP;
}
