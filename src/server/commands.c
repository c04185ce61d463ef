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
    {"ping", cmd_ping, -1, F, 0, 0, 0, "connection", "Returns the server's liveliness response."},
    {"echo", cmd_echo, 2, F, 0, 0, 0, "connection", "Returns the given string."},
    {"quit", cmd_quit, -1, CMD_NOAUTH | CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "connection", "Closes the connection."},
    {"auth", cmd_auth, -2, CMD_NOAUTH | CMD_NOSCRIPT | F, 0, 0, 0, "connection", "Authenticates the connection."},
    {"hello", cmd_hello, -1, CMD_NOAUTH | CMD_NOSCRIPT | F, 0, 0, 0, "connection", "Handshakes with the server."},
    {"select", cmd_select, 2, F, 0, 0, 0, "connection", "Changes the selected database."},
    {"reset", cmd_reset, 1, CMD_NOAUTH | CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "connection", "Resets the connection."},
    {"client", cmd_client, -2, 0, 0, 0, 0, "connection", "A container for client connection commands."},
    {"command", cmd_command, -1, 0, 0, 0, 0, "server", "Returns detailed information about all commands."},
    {"info", cmd_info, -1, 0, 0, 0, 0, "server", "Returns information and statistics about the server."},
    {"config", cmd_config, -2, CMD_ADMIN, 0, 0, 0, "server", "A container for server configuration commands."},
    {"shutdown", cmd_shutdown, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, 0, 0, 0, "server", "Synchronously saves the database(s) to disk and shuts down the server."},
    {"save", cmd_save, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, 0, 0, 0, "server", "Synchronously saves the database(s) to disk."},
    {"bgsave", cmd_bgsave, -1, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server", "Asynchronously saves the database(s) to disk."},
    {"lastsave", cmd_lastsave, 1, F, 0, 0, 0, "server", "Returns the Unix timestamp of the last successful save to disk."},
    {"time", cmd_time, 1, F, 0, 0, 0, "server", "Returns the server time."},
    {"memory", cmd_memory, -2, 0, 0, 0, 0, "server", "A container for memory diagnostics commands."},
    {"kprofile", cmd_kprofile, -3, CMD_ADMIN, 0, 0, 0, "server", "Kvrocks-compatible heap profiler control (KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP)."},
    {"debug", cmd_debug, -2, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server", "A container for debugging commands (enable-debug-command)."},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server", "Returns the number of keys in the database."},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "server", "Removes all keys from the current database."},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "Removes all keys from all databases."},

    {"multi", cmd_multi, 1, CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "transactions", "Starts a transaction."},
    {"exec", cmd_exec, 1, CMD_NOSCRIPT | CMD_NOQUEUE | CMD_SKIP_SLOWLOG, 0, 0, 0, "transactions", "Executes all commands in a transaction."},
    {"discard", cmd_discard, 1, CMD_NOSCRIPT | CMD_NOQUEUE | F, 0, 0, 0, "transactions", "Discards a transaction."},
    {"watch", cmd_watch, -2, CMD_NOSCRIPT | CMD_NOQUEUE | F, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction."},
    {"unwatch", cmd_unwatch, 1, CMD_NOSCRIPT | F, 0, 0, 0, "transactions", "Forgets about watched keys of a transaction."},

    {"del", cmd_del, -2, W | CMD_KEY_DELETE, 1, -1, 1, "generic", "Deletes one or more keys."},
    {"unlink", cmd_del, -2, W | F | CMD_KEY_DELETE, 1, -1, 1, "generic", "Asynchronously deletes one or more keys."},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic", "Determines whether one or more keys exist."},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic", "Determines the type of value stored at a key."},
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds."},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds."},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp."},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp."},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key."},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key."},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic", "Removes the expiration time of a key."},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "Renames a key and overwrites the destination."},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist."},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "Returns all key names that match a pattern."},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic", "Iterates over the key names in the database."},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic", "Returns a random key name from the database."},
    {"object", cmd_object, -2, 0, 0, 0, 0, "generic", "A container for object introspection commands."},
    {"dump", cmd_dump, 2, R, 1, 1, 1, "generic", "Returns a serialized representation of the value stored at a key."},
    {"restore", cmd_restore, -4, W | M, 1, 1, 1, "generic", "Creates a key from the serialized representation of a value."},
    {"copy", cmd_copy, -3, W | M, 1, 2, 1, "generic", "Copies the value of a key to a new key."},
    {"move", cmd_move, 3, W | F, 1, 1, 1, "generic", "Moves a key to another database."},
    {"touch", cmd_touch, -2, R | F, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed."},

    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "Returns the string value of a key."},
    {"set", cmd_set, -3, W | M, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."},
    {"setnx", cmd_setnx, 3, W | M | F, 1, 1, 1, "string", "Set the string value of a key only when the key doesn't exist."},
    {"setex", cmd_setex, 4, W | M, 1, 1, 1, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."},
    {"psetex", cmd_psetex, 4, W | M, 1, 1, 1, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."},
    {"getset", cmd_getset, 3, W | M | F, 1, 1, 1, "string", "Returns the previous string value of a key after setting it to a new value."},
    {"getdel", cmd_getdel, 2, W | F | CMD_KEY_DELETE, 1, 1, 1, "string", "Returns the string value of a key after deleting the key."},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string", "Returns the string value of a key after setting its expiration time."},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string", "Atomically returns the string values of one or more keys."},
    {"mset", cmd_mset, -3, W | M, 1, -1, 2, "string", "Atomically creates or modifies the string values of one or more keys."},
    {"msetnx", cmd_msetnx, -3, W | M, 1, -1, 2, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist."},
    {"incr", cmd_incr, 2, W | M | F, 1, 1, 1, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
    {"decr", cmd_decr, 2, W | M | F, 1, 1, 1, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
    {"incrby", cmd_incrby, 3, W | M | F, 1, 1, 1, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
    {"decrby", cmd_decrby, 3, W | M | F, 1, 1, 1, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | M | F, 1, 1, 1, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
    {"append", cmd_append, 3, W | M | F, 1, 1, 1, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist."},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "Returns the length of a string value."},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring of the string stored at a key."},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring from a string value."},
    {"setrange", cmd_setrange, 4, W | M, 1, 1, 1, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."},
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
    {hll_commands, &hll_commands_count},
    {geo_commands, &geo_commands_count},
    {sort_commands, &sort_commands_count},
    {extra_commands, &extra_commands_count},
    {introspection_commands, &introspection_commands_count},
    {pubsub_commands, &pubsub_commands_count},
    {scripting_commands, &scripting_commands_count},
};

/* The subcommands of the container commands, as Redis 7.0's command table has them (name,
 * arity, admin), plus memkv's own (arity -2: their handlers check the rest). One table serves
 * dispatch (unknown subcommand, arity: before running and before queuing in MULTI), CLIENT
 * LIST's cmd= ("client|list"; "NULL" for an unknown one, as Redis), MONITOR (which does not
 * show the admin ones), COMMAND GETKEYS (has_key: the key is argument 2) and INFO
 * commandstats. */
#define SUB(container, sub, ar, adm, key)                                                          \
    { .name = sub, .fullname = container "|" sub, .arity = ar, .admin = adm, .has_key = key }
#define SUBS_END                                                                                   \
    { .name = NULL }
static subcommand client_subs[] = {
    SUB("client", "caching", 3, 0, 0),      SUB("client", "getredir", 2, 0, 0),
    SUB("client", "getname", 2, 0, 0),      SUB("client", "help", 2, 0, 0),
    SUB("client", "id", 2, 0, 0),           SUB("client", "info", 2, 0, 0),
    SUB("client", "kill", -3, 1, 0),        SUB("client", "list", -2, 1, 0),
    SUB("client", "no-evict", 3, 1, 0),     SUB("client", "pause", -3, 1, 0),
    SUB("client", "reply", 3, 0, 0),        SUB("client", "setname", 3, 0, 0),
    SUB("client", "setinfo", 4, 0, 0),      SUB("client", "tracking", -3, 0, 0),
    SUB("client", "trackinginfo", 2, 0, 0), SUB("client", "unblock", -3, 1, 0),
    SUB("client", "unpause", 2, 1, 0),      SUBS_END};
static subcommand config_subs[] = {
    SUB("config", "get", -3, 1, 0),      SUB("config", "set", -4, 1, 0),
    SUB("config", "resetstat", 2, 1, 0), SUB("config", "rewrite", 2, 1, 0),
    SUB("config", "help", 2, 0, 0),      SUBS_END};
static subcommand command_subs[] = {
    SUB("command", "count", 2, 0, 0),    SUB("command", "docs", -2, 0, 0),
    SUB("command", "getkeys", -4, 0, 0), SUB("command", "getkeysandflags", -4, 0, 0),
    SUB("command", "help", 2, 0, 0),     SUB("command", "info", -2, 0, 0),
    SUB("command", "list", -2, 0, 0),    SUBS_END};
static subcommand memory_subs[] = {SUB("memory", "doctor", 2, 0, 0),
                                   SUB("memory", "help", 2, 0, 0),
                                   SUB("memory", "malloc-stats", 2, 0, 0),
                                   SUB("memory", "purge", 2, 0, 0),
                                   SUB("memory", "stats", 2, 0, 0),
                                   SUB("memory", "usage", -3, 0, 1),
                                   SUB("memory", "profile", -2, 0, 0),
                                   SUB("memory", "prefixes", -2, 0, 0),
                                   SUB("memory", "top-keys", -2, 0, 0),
                                   SUB("memory", "history", -2, 0, 0),
                                   SUBS_END};
static subcommand object_subs[] = {
    SUB("object", "encoding", 3, 0, 1), SUB("object", "freq", 3, 0, 1),
    SUB("object", "help", 2, 0, 0),     SUB("object", "idletime", 3, 0, 1),
    SUB("object", "refcount", 3, 0, 1), SUBS_END};
static subcommand slowlog_subs[] = {SUB("slowlog", "get", -2, 1, 0), SUB("slowlog", "len", 2, 1, 0),
                                    SUB("slowlog", "reset", 2, 1, 0),
                                    SUB("slowlog", "help", 2, 0, 0), SUBS_END};
static subcommand latency_subs[] = {
    SUB("latency", "doctor", 2, 1, 0),  SUB("latency", "graph", 3, 1, 0),
    SUB("latency", "help", 2, 0, 0),    SUB("latency", "histogram", -2, 1, 0),
    SUB("latency", "history", 3, 1, 0), SUB("latency", "latest", 2, 1, 0),
    SUB("latency", "reset", -2, 1, 0),  SUBS_END};
static subcommand pubsub_subs[] = {SUB("pubsub", "channels", -2, 0, 0),
                                   SUB("pubsub", "help", 2, 0, 0),
                                   SUB("pubsub", "numpat", 2, 0, 0),
                                   SUB("pubsub", "numsub", -2, 0, 0),
                                   SUB("pubsub", "shardchannels", -2, 0, 0),
                                   SUB("pubsub", "shardnumsub", -2, 0, 0),
                                   SUBS_END};
static subcommand script_subs[] = {SUB("script", "debug", 3, 0, 0),
                                   SUB("script", "exists", -3, 0, 0),
                                   SUB("script", "flush", -2, 0, 0),
                                   SUB("script", "help", 2, 0, 0),
                                   SUB("script", "kill", 2, 0, 0),
                                   SUB("script", "load", 3, 0, 0),
                                   SUBS_END};
#undef SUB
static const struct {
    const char *container;
    subcommand *subs;
} containers[] = {
    {"client", client_subs},   {"config", config_subs}, {"command", command_subs},
    {"memory", memory_subs},   {"object", object_subs}, {"slowlog", slowlog_subs},
    {"latency", latency_subs}, {"pubsub", pubsub_subs}, {"script", script_subs},
};

/* Per command of srv.commands (same index): its subcommands when it is a container, and its
 * statistics. */
static subcommand **cmd_subs;
static cmd_stats *cmd_stat;

static subcommand *find_sub(subcommand *subs, const resp_arg *a) {
    for (subcommand *s = subs; s->name; s++)
        if (strlen(s->name) == a->len && strncasecmp(s->name, a->ptr, a->len) == 0) return s;
    return NULL;
}

subcommand *command_find_sub(const command *cmd, const resp_arg *a) {
    subcommand *subs = cmd_subs[cmd - srv.commands];
    return subs ? find_sub(subs, a) : NULL;
}

cmd_stats *command_stats(const command *cmd) {
    return &cmd_stat[cmd - srv.commands];
}

const subcommand *command_subcommands(const command *cmd) {
    return cmd_subs[cmd - srv.commands];
}

void commands_each_sub_stats(const command *cmd,
                             void (*fn)(void *ctx, const char *name, cmd_stats *st), void *ctx) {
    subcommand *subs = cmd_subs[cmd - srv.commands];
    for (subcommand *s = subs; s && s->name; s++)
        fn(ctx, s->fullname, &s->stats);
}

void commands_each_stats(void (*fn)(void *ctx, const char *name, cmd_stats *st), void *ctx) {
    for (size_t i = 0; i < srv.ncommands; i++) {
        fn(ctx, srv.commands[i].name, &cmd_stat[i]);
        if (cmd_subs[i])
            for (subcommand *s = cmd_subs[i]; s->name; s++)
                fn(ctx, s->fullname, &s->stats);
    }
}

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
    cmd_subs = alloc_calloc(ALLOC_SUB_OTHER, n * sizeof(*cmd_subs));
    cmd_stat = alloc_calloc(ALLOC_SUB_OTHER, n * sizeof(*cmd_stat));
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
    cmdstats_free();
    alloc_free(ALLOC_SUB_OTHER, cmd_subs);
    cmd_subs = NULL;
    alloc_free(ALLOC_SUB_OTHER, cmd_stat);
    cmd_stat = NULL;
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

/* The running command failed with an error counted elsewhere (reply_error_uncounted). */
static int failed_uncounted;

void reply_error(client *c, const char *msg) {
    srv.stats.error_replies++;
    cmdstats_error(msg);
    reply_add_error(&c->reply, msg);
}

void reply_error_uncounted(client *c, const char *msg) {
    failed_uncounted = 1;
    reply_add_error(&c->reply, msg);
}

void error_reply_count(const char *msg, size_t len, int counted) {
    if (counted) {
        failed_uncounted = 1;
        return;
    }
    char prefix[40]; /* cmdstats_error reads the first word within 32 bytes */
    if (len >= sizeof(prefix)) len = sizeof(prefix) - 1;
    memcpy(prefix, msg, len);
    prefix[len] = '\0';
    srv.stats.error_replies++;
    cmdstats_error(prefix);
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

/* The error-reply count when the running command started (or when the last command EXEC ran
 * ended): a command failed when error replies were added since. EXEC's own count moves past
 * its queued commands' errors, so EXEC fails only for its own (Redis 7.0's rule). */
static long long errors_mark;
/* The clock when the running command (or EXEC's previous queued one) started; 0: not timed. */
static int64_t clock_mark;

/* A command ran (or a blocked one was answered: its call was counted when it blocked, as Redis
 * 7.0 counts it): its statistics, and what the timing hooks want of its duration `us` (-1: not
 * timed); `track` 0 keeps it out of the latency histogram. */
static inline void command_ran(client *c, const command *cmd, cmd_stats *st, long long us,
                               int track, int count_call) {
    if (count_call) {
        st->calls++;
        srv.stats.commands_processed++;
    }
    if (srv.stats.error_replies > errors_mark || failed_uncounted) st->failed++;
    errors_mark = srv.stats.error_replies;
    failed_uncounted = 0;
    if (us >= 0) {
        st->usec += us;
        if (track && srv.latency_tracking) lathist_add(&st->hist, (uint64_t)us, ALLOC_SUB_SLOWLOG);
        command_timed(c, cmd, us);
    }
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

/* Refused before running: the reply is sent, the command (if known) counts a rejection and,
 * inside MULTI, the transaction fails (EXECABORT at EXEC). */
static void rejected(client *c, cmd_stats *st) {
    st->rejected++;
    multi_flag_error(c);
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
     * refused itself discards it at once (multi_exec_abort), as Redis 7.0's rejectCommand. An
     * unknown command or subcommand counts in no command's statistics (Redis has none). */
    if (!cmd) {
        c->last_cmd = "NULL";
        reply_unknown_command(c);
        multi_flag_error(c);
        return NULL;
    }
    subcommand *sub = NULL;
    c->last_cmd = cmd->name;
    int arity = cmd->arity;
    cmd_stats *st = &cmd_stat[cmd - srv.commands];
    if ((cmd->flags & CMD_CONTAINER) && c->argc >= 2) {
        sub = find_sub(cmd_subs[cmd - srv.commands], &c->argv[1]);
        c->last_cmd = sub ? sub->fullname : "NULL";
        if (!sub) { /* refused before running, as Redis's lookup does */
            reply_unknown_subcommand(c);
            multi_flag_error(c);
            return NULL;
        }
        arity = sub->arity;
        st = &sub->stats;
    }
    if ((arity > 0 && c->argc != arity) || (c->argc < -arity)) {
        if (cmd->fn == cmd_exec) { /* even outside MULTI, as Redis 7.0 */
            st->rejected++;
            multi_exec_abort(c, "wrong number of arguments for 'exec' command");
            return NULL;
        }
        if (sub)
            reply_wrong_subcommand_arity(c);
        else
            reply_wrong_arity(c);
        rejected(c, st);
        return NULL;
    }
    if (client_auth_required(c) && !(cmd->flags & CMD_NOAUTH)) {
        if (cmd->fn == cmd_exec) {
            st->rejected++;
            multi_exec_abort(c, "NOAUTH Authentication required.");
            return NULL;
        }
        reply_error(c, "NOAUTH Authentication required.");
        rejected(c, st);
        return NULL;
    }
    /* A script has run past busy-reply-threshold: only a few commands may run meanwhile
     * (before eviction, which must not touch the key space under the script). */
    if (srv.script_busy && script_refuse_busy(c, cmd)) {
        rejected(c, st);
        return NULL;
    }
    /* maxmemory, as Redis's processCommand: over the limit, evict before any command; if
     * that cannot get under the limit, refuse the commands that may grow memory (inside MULTI,
     * whatever would be queued, and EXEC of such a queue). Reads, deletes and the like still
     * run. */
    srv.pre_command_oom = srv.maxmemory > 0 && evict_perform() < 0; /* scripts check it too */
    if (srv.pre_command_oom && ((cmd->flags & CMD_DENYOOM) || multi_refused_on_oom(c, cmd))) {
        if ((c->flags & CLIENT_MULTI) && cmd->fn == cmd_exec) {
            st->rejected++;
            multi_exec_abort(c, ERR_OOM);
            return NULL;
        }
        reply_error(c, ERR_OOM);
        rejected(c, st);
        return NULL;
    }
    /* RESP2 subscribed mode (inside MULTI the refusal fails the transaction, as Redis). */
    if (c->pubsub && pubsub_deny_command(c, cmd) < 0) {
        rejected(c, st);
        return NULL;
    }
    if ((c->flags & CLIENT_MONITOR) &&
        (cmd->flags & (CMD_READONLY | CMD_WRITE | CMD_MAY_REPLICATE))) {
        reply_error(c, "ERR Replica can't interact with the keyspace");
        rejected(c, st);
        return NULL;
    }
    /* Pauses, MONITOR, SLOWLOG, LATENCY and latency-tracking: one flag to test when none is in
     * use. The two clock reads are shared by all of them and by commandstats' usec. */
    int64_t start = 0;
    if (srv.cmd_hooks) {
        if (srv.pause_type && pause_holds(c, cmd)) { /* CLIENT PAUSE: runs when it ends */
            pause_hold(c);
            return NULL;
        }
        if (command_timing_on()) start = util_monotonic_us();
    }
    /* The one branch a client outside MULTI pays. */
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_NOQUEUE)) {
        if (multi_queue(c, cmd, sub) < 0) st->rejected++;
        return NULL;
    }
    if (cmd->flags & CMD_READONLY) db_reads_only();
    errors_mark = srv.stats.error_replies;
    clock_mark = start;
    cmd->fn(c);
    if (c->bstate) { /* blocked on keys: the rest is counted once answered */
        st->calls++;
        srv.stats.commands_processed++;
        c->blocked_cmd = cmd;
        c->blocked_us = start ? util_monotonic_us() - start : 0;
    } else {
        command_ran(c, cmd, st, start ? util_monotonic_us() - start : -1, 1, 1);
    }
    if (srv.cmd_hooks && srv.monitors) monitor_feed(c, cmd, sub);
    client_obuf_check(c);
    /* Clients waiting on keys this command filled are served before the next command (not
     * in the middle of a busy script: it has not finished writing). */
    if (!srv.script_busy) blocking_serve_ready_keys();
    db_settle(); /* the collections the command (and the clients it served) changed */
    return cmd;
}

void command_call(client *c, const command *cmd, subcommand *sub) {
    cmd_stats *st = sub ? &sub->stats : &cmd_stat[cmd - srv.commands];
    if (cmd->flags & CMD_READONLY) db_reads_only();
    c->last_cmd = sub ? sub->fullname : cmd->name;
    /* The command's errors are its own failures, not the script's: the script's mark moves
     * past them (Redis 7.0 fails EVAL only for its own error reply). */
    long long outer_mark = errors_mark, inner_start = srv.stats.error_replies;
    errors_mark = inner_start;
    int64_t start = command_timing_on() ? util_monotonic_us() : 0;
    cmd->fn(c);
    command_ran(c, cmd, st, start ? util_monotonic_us() - start : -1, 1, 1);
    errors_mark = outer_mark + (srv.stats.error_replies - inner_start);
    if (srv.monitors) monitor_feed(c, cmd, sub);
    db_settle();
}

void command_script_refused(const command *cmd, subcommand *sub, const char *msg, size_t len) {
    if (cmd) (sub ? &sub->stats : &cmd_stat[cmd - srv.commands])->rejected++;
    long long before = srv.stats.error_replies;
    error_reply_count(msg, len, 0);
    errors_mark += srv.stats.error_replies - before;
}

void command_exec_queued(client *c, const command *cmd, subcommand *sub) {
    cmd_stats *st = sub ? &sub->stats : &cmd_stat[cmd - srv.commands];
    if (cmd->flags & CMD_READONLY) db_reads_only();
    errors_mark = srv.stats.error_replies;
    cmd->fn(c);
    long long us = -1;
    if (clock_mark) { /* EXEC is timed: one read per queued command, chained */
        int64_t now = util_monotonic_us();
        us = now - clock_mark;
        clock_mark = now;
    }
    command_ran(c, cmd, st, us, 1, 1);
    db_settle(); /* each command's collections, as after a command outside EXEC */
}

void command_unblocked_reply(client *c, size_t before, long long errors_before, long long extra_us,
                             int served) {
    const command *cmd = c->blocked_cmd;
    if (cmd) {
        errors_mark = errors_before;
        command_ran(c, cmd, &cmd_stat[cmd - srv.commands],
                    command_timing_on() ? c->blocked_us + extra_us : -1, served, 0);
        c->blocked_cmd = NULL;
    }
    if (!(c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP))) return;
    reply_buf_truncate(&c->reply, before);
    c->flags &= ~CLIENT_REPLY_SKIP;
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
