/* COMMAND GETKEYS, COMMAND GETKEYSANDFLAGS and COMMAND LIST FILTERBY: which arguments of a
 * command are keys, as Redis 7.0 finds them, and the command list filtered; the "since" of
 * COMMAND DOCS. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "server/server.h"
#include "util/util.h"

/* How a command with movable keys finds them: the key count at argument `count_at`, the keys
 * from `first` on, and a destination key at `store` (0: none). `optional`: keys are not
 * mandatory (the scripts'): the count is read with atoi and one out of range means no key. */
typedef struct movable {
    const char *name;
    int store, count_at, first, optional;
} movable;

static const movable movables[] = {
    {"zunionstore", 1, 2, 3, 0}, {"zinterstore", 1, 2, 3, 0}, {"zdiffstore", 1, 2, 3, 0},
    {"zunion", 0, 1, 2, 0},      {"zinter", 0, 1, 2, 0},      {"zdiff", 0, 1, 2, 0},
    {"zintercard", 0, 1, 2, 0},  {"sintercard", 0, 1, 2, 0},  {"lmpop", 0, 1, 2, 0},
    {"zmpop", 0, 1, 2, 0},       {"blmpop", 0, 2, 3, 0},      {"bzmpop", 0, 2, 3, 0},
    {"eval", 0, 2, 3, 1},        {"evalsha", 0, 2, 3, 1},     {"eval_ro", 0, 2, 3, 1},
    {"evalsha_ro", 0, 2, 3, 1},  {"fcall", 0, 2, 3, 1},       {"fcall_ro", 0, 2, 3, 1},
};

/* C's atoi over a counted argument (Redis reads these key counts with atoi: "2x" is 2). */
static long long arg_atoi(const resp_arg *a) {
    char buf[32];
    size_t n = a->len < sizeof(buf) - 1 ? a->len : sizeof(buf) - 1;
    memcpy(buf, a->ptr, n);
    buf[n] = '\0';
    return atoi(buf);
}

/* The keys at the table's first_key, last_key and key_step; -1 when argc is too short. */
static int fixed_keys(const command *cmd, int argc, int *pos) {
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int n = 0;
    if (last >= argc) return -1;
    for (int k = cmd->first_key; k <= last; k += cmd->key_step)
        pos[n++] = k;
    return n;
}

/* Positions (in argv, the command's own arguments) of its keys into pos (room for argc);
 * returns how many, or -1: the arguments name no key where the command needs some. */
/* SORT: the key, and the last STORE's destination, found as Redis 7.0's sortGetKeys finds it
 * (LIMIT, GET and BY skip their arguments, so "BY store" names no destination). */
static int sort_keys_of(const resp_arg *argv, int argc, int *pos) {
    static const struct {
        const char *name;
        int skip;
    } skips[] = {{"limit", 2}, {"get", 1}, {"by", 1}};
    int store = 0;
    pos[0] = 1;
    for (int i = 2; i < argc; i++) {
        for (size_t j = 0; j < sizeof(skips) / sizeof(skips[0]); j++) {
            size_t n = strlen(skips[j].name);
            if (argv[i].len == n && strncasecmp(argv[i].ptr, skips[j].name, n) == 0) {
                i += skips[j].skip;
                break;
            }
            if (argv[i].len == 5 && strncasecmp(argv[i].ptr, "store", 5) == 0 && i + 1 < argc) {
                pos[1] = i + 1;
                store = 1;
                break;
            }
        }
    }
    return 1 + store;
}

/* GEORADIUS[BYMEMBER]: the key, then the argument after the first STORE, then the one after
 * the first STOREDIST, each searched from `from` on (Redis 7.0's keyword key specs). */
static int georadius_keys_of(const resp_arg *argv, int argc, int from, int *pos) {
    static const char *const words[] = {"store", "storedist"};
    int n = 0;
    pos[n++] = 1;
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t len = strlen(words[w]);
        for (int i = from; i < argc; i++) {
            if (argv[i].len != len || strncasecmp(argv[i].ptr, words[w], len) != 0) continue;
            if (i + 1 < argc) pos[n++] = i + 1;
            break;
        }
    }
    return n;
}

static int keys_of(const command *cmd, const subcommand *sub, const resp_arg *argv, int argc,
                   int *pos) {
    if (sub) {
        pos[0] = 2;
        return 1;
    }
    if (!strcmp(cmd->name, "sort")) return sort_keys_of(argv, argc, pos);
    if (!strcmp(cmd->name, "georadius")) return georadius_keys_of(argv, argc, 6, pos);
    if (!strcmp(cmd->name, "georadiusbymember")) return georadius_keys_of(argv, argc, 5, pos);
    for (size_t i = 0; (cmd->flags & CMD_MOVABLEKEYS) && i < sizeof(movables) / sizeof(movables[0]);
         i++) {
        const movable *m = &movables[i];
        if (strcmp(cmd->name, m->name) != 0) continue;
        /* As Redis 7.0: a valid count gives the destination first, then the keys; otherwise
         * its fallback reads the count with atoi and lists the destination last. */
        long long num;
        int n = 0, fallback = 0;
        if (m->optional) {
            num = arg_atoi(&argv[m->count_at]);
            if (num < 1 || num > argc - m->first) return 0;
            for (int k = 0; k < num; k++)
                pos[n++] = m->first + k;
            return n;
        }
        if (util_parse_ll(argv[m->count_at].ptr, argv[m->count_at].len, &num) < 0 || num < 1 ||
            num > argc - m->first) {
            num = arg_atoi(&argv[m->count_at]);
            fallback = 1;
        }
        if (num < 1 || num > argc - m->first) return -1;
        if (m->store && !fallback) pos[n++] = m->store;
        for (int k = 0; k < num; k++)
            pos[n++] = m->first + k;
        if (m->store && fallback) pos[n++] = m->store;
        return n;
    }
    return fixed_keys(cmd, argc, pos);
}

static int command_has_keys(const command *cmd) {
    /* Shard channels sit in the key positions (for cluster slots), flagged not-keys in Redis
     * 7.0: GETKEYS says the command has none. */
    if (cmd->flags & CMD_CHANNELS) return 0;
    return cmd->first_key > 0 || (cmd->flags & CMD_MOVABLEKEYS);
}

int command_keys(const command *cmd, const resp_arg *argv, int argc, int *pos) {
    if ((cmd->flags & CMD_CONTAINER) || !command_has_keys(cmd)) return 0;
    int n = keys_of(cmd, NULL, argv, argc, pos);
    return n < 0 ? 0 : n;
}

int command_read_keys(const command *cmd, const resp_arg *argv, int argc, int *pos) {
    const subcommand *sub = NULL;
    if (cmd->flags & CMD_CONTAINER) {
        /* OBJECT ENCODING key, MEMORY USAGE key...: read-only key subcommands in Redis. */
        sub = argc >= 2 ? command_find_sub(cmd, &argv[1]) : NULL;
        if (!sub || !sub->has_key || (sub->arity > 0 && argc != sub->arity) || argc < -sub->arity)
            return 0;
    } else if (!(cmd->flags & CMD_READONLY) || !command_has_keys(cmd)) {
        return 0;
    }
    /* A read-only command with a first key in the table has no movable keys (those that
     * read several keys by a count, ZUNION SINTERCARD..., have none there): no name lookup. */
    int n = !sub && cmd->first_key > 0 ? fixed_keys(cmd, argc, pos)
                                       : keys_of(cmd, sub, argv, argc, pos);
    return n < 0 ? 0 : n;
}

/* The key flags GETKEYSANDFLAGS lists: Redis's vocabulary, but coarser than its per-command key
 * specs (memkv's table has none): read-only commands' keys are RO/access, deleting commands'
 * RM/delete, other writes' RW/update. */
static void reply_key_flags(client *c, const command *cmd) {
    if (cmd->flags & CMD_READONLY) {
        reply_add_array_len(&c->reply, 2);
        reply_add_status(&c->reply, "RO");
        reply_add_status(&c->reply, "access");
    } else if (cmd->flags & CMD_KEY_RW_ACCESS) {
        reply_add_array_len(&c->reply, 3);
        reply_add_status(&c->reply, "RW");
        reply_add_status(&c->reply, "access");
        reply_add_status(&c->reply, "update");
    } else if (cmd->flags & CMD_KEY_DELETE) {
        reply_add_array_len(&c->reply, 2);
        reply_add_status(&c->reply, "RM");
        reply_add_status(&c->reply, "delete");
    } else {
        reply_add_array_len(&c->reply, 2);
        reply_add_status(&c->reply, "RW");
        reply_add_status(&c->reply, "update");
    }
}

void command_getkeys(client *c, int with_flags) {
    const resp_arg *argv = c->argv + 2;
    int argc = c->argc - 2;
    const command *cmd = command_lookup(argv[0].ptr, argv[0].len);
    const subcommand *sub = NULL;
    /* A container's subcommand from the one table (commands.c); only MEMORY USAGE and
     * OBJECT's key subcommands take a key (argument 2). */
    int container = cmd && (cmd->flags & CMD_CONTAINER) && argc >= 2;
    if (container) {
        sub = command_find_sub(cmd, &argv[1]);
        if (!sub) cmd = NULL; /* an unknown subcommand is no command */
    }
    if (!cmd) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    int arity = sub ? sub->arity : cmd->arity;
    if (container ? !(sub && sub->has_key) : !command_has_keys(cmd)) {
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    if ((arity > 0 && arity != argc) || argc < -arity) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    int *pos = alloc_malloc(ALLOC_SUB_OTHER, sizeof(int) * (size_t)(argc + 1));
    int n = keys_of(cmd, sub, argv, argc, pos);
    if (n < 0) {
        reply_error(c, "ERR Invalid arguments specified for command");
    } else {
        reply_add_array_len(&c->reply, n);
        for (int i = 0; i < n; i++) {
            if (with_flags) reply_add_array_len(&c->reply, 2);
            reply_add_bulk(&c->reply, argv[pos[i]].ptr, argv[pos[i]].len);
            if (with_flags) reply_key_flags(c, cmd);
        }
    }
    alloc_free(ALLOC_SUB_OTHER, pos);
}

/* ---- COMMAND LIST FILTERBY ---- */

/* Redis's ACL categories, in its order (COMMAND INFO lists them so). */
static const char *const categories[] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};
enum { CAT_READ = 1, CAT_SCRIPTING = 20 };

static int category_index(const char *name) {
    for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++)
        if (!strcmp(categories[i], name)) return (int)i;
    return -1;
}

/* The commands whose categories in Redis 7.0 are not their group's: these replace it. */
static const char *own_categories(const char *name) {
    static const struct {
        const char *name, *cats;
    } own[] = {
        {"command", "connection"},
        {"dbsize", "keyspace"},
        {"flushall", "keyspace dangerous"},
        {"flushdb", "keyspace dangerous"},
        {"info", "dangerous"},
        {"keys", "keyspace dangerous"},
        {"lastsave", "admin dangerous"},
        {"restore", "keyspace dangerous"},
        {"role", "admin dangerous"},
        {"sort", "set sortedset list dangerous"},
        {"sort_ro", "set sortedset list dangerous"},
        {"swapdb", "keyspace dangerous"},
        {"wait", "connection"},
        {"function", ""},
    };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (!strcmp(own[i].name, name)) return own[i].cats;
    return NULL;
}

/* A command's categories as a bit mask over categories[]: its group's (generic -> keyspace,
 * sorted_set -> sortedset, transactions -> transaction; server has none) or its own
 * (own_categories), then Redis's implicit ones from the flags: write, read (not for scripts),
 * admin and dangerous, fast or slow, blocking. A container has only its own and fast/slow. */
unsigned command_categories(const command *cmd) {
    static const struct {
        const char *group, *cat;
    } by_group[] = {{"generic", "keyspace"},
                    {"sorted_set", "sortedset"},
                    {"transactions", "transaction"},
                    {"server", NULL}};
    unsigned m = 0;
    int container = (cmd->flags & CMD_CONTAINER) != 0;
    const char *own = own_categories(cmd->name);
    if (own) {
        char name[32];
        for (const char *p = own; *p;) {
            size_t n = strcspn(p, " ");
            snprintf(name, sizeof(name), "%.*s", (int)n, p);
            int i = category_index(name);
            if (i >= 0) m |= 1u << i;
            p += n + (p[n] == ' ');
        }
    } else if (!container) {
        const char *cat = cmd->group;
        for (size_t i = 0; i < sizeof(by_group) / sizeof(by_group[0]); i++)
            if (!strcmp(cmd->group, by_group[i].group)) cat = by_group[i].cat;
        int g = cat ? category_index(cat) : -1;
        if (g >= 0) m |= 1u << g;
    }
    m |= 1u << category_index(cmd->flags & CMD_FAST ? "fast" : "slow");
    if (container) return m;
    if (cmd->flags & CMD_WRITE) m |= 1u << category_index("write");
    if ((cmd->flags & CMD_READONLY) && !(m & (1u << CAT_SCRIPTING))) m |= 1u << CAT_READ;
    if (cmd->flags & CMD_ADMIN)
        m |= (1u << category_index("admin")) | (1u << category_index("dangerous"));
    if (cmd->flags & CMD_BLOCKING) m |= 1u << category_index("blocking");
    return m;
}

/* COMMAND INFO's category set of a mask. */
static void reply_categories(client *c, unsigned m) {
    reply_add_set_len(&c->reply, __builtin_popcount(m));
    char buf[32];
    for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++) {
        if (!(m & (1u << i))) continue;
        snprintf(buf, sizeof(buf), "@%s", categories[i]);
        reply_add_status(&c->reply, buf);
    }
}

void reply_command_categories(client *c, const command *cmd) {
    reply_categories(c, command_categories(cmd));
}

/* Redis 7.0's: admin for the admin ones, readonly for those naming a key (OBJECT ENCODING,
 * MEMORY USAGE), noscript for every subcommand of CLIENT, CONFIG, LATENCY and SCRIPT but their
 * HELP. */
int subcommand_flags(const command *cmd, const subcommand *sub) {
    static const char *const noscript[] = {"client", "config", "latency", "script"};
    int flags = (sub->has_key ? CMD_READONLY : 0) | (sub->admin ? CMD_ADMIN : 0);
    if (strcmp(sub->name, "help") != 0)
        for (size_t i = 0; i < sizeof(noscript) / sizeof(noscript[0]); i++)
            if (!strcmp(cmd->name, noscript[i])) flags |= CMD_NOSCRIPT;
    return flags;
}

/* A subcommand's, as Redis 7.0 gives them: its container's group's (object -> keyspace,
 * client -> connection, pubsub -> pubsub but for PUBSUB HELP, which lacks the pubsub flag that
 * category comes from in Redis), read for a key subcommand, admin and dangerous for an admin
 * one, slow. */
static unsigned subcommand_categories(const command *cmd, const subcommand *sub) {
    command as_cmd = *cmd;
    as_cmd.flags = subcommand_flags(cmd, sub);
    if (!strcmp(cmd->name, "command")) as_cmd.group = "connection";
    if (!strcmp(cmd->name, "pubsub") && !strcmp(sub->name, "help")) as_cmd.group = "server";
    return command_categories(&as_cmd);
}

void reply_subcommand_categories(client *c, const command *cmd, const subcommand *sub) {
    reply_categories(c, subcommand_categories(cmd, sub));
}

static int in_category(const command *cmd, const subcommand *sub, const char *cat) {
    int i = category_index(cat);
    unsigned m = sub ? subcommand_categories(cmd, sub) : command_categories(cmd);
    return i >= 0 && (m & (1u << i));
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]; MODULE lists
 * nothing (memkv loads no modules). */
void command_list(client *c) {
    int mode = 0; /* 0 all, 1 module, 2 aclcat, 3 pattern */
    if (c->argc == 5 && arg_eq(c, 2, "filterby")) {
        if (arg_eq(c, 3, "module"))
            mode = 1;
        else if (arg_eq(c, 3, "aclcat"))
            mode = 2;
        else if (arg_eq(c, 3, "pattern"))
            mode = 3;
    }
    if (c->argc != 2 && mode == 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    char cat[64] = "";
    if (mode == 2) {
        size_t n = c->argv[4].len < sizeof(cat) - 1 ? c->argv[4].len : sizeof(cat) - 1;
        for (size_t i = 0; i < n; i++)
            cat[i] = (char)tolower((unsigned char)c->argv[4].ptr[i]);
        cat[n] = '\0';
    }
    long long count = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) reply_add_array_len(&c->reply, count);
        for (size_t i = 0; i < srv.ncommands; i++) {
            const command *cmd = &srv.commands[i];
            /* As Redis: the commands and, after a container, its subcommands (config|get). */
            const subcommand *subs = command_subcommands(cmd);
            for (const subcommand *sub = NULL; sub == NULL || sub->name;
                 sub = sub ? sub + 1 : subs) {
                const char *name = sub ? sub->fullname : cmd->name;
                int match = mode == 0 || (mode == 2 && in_category(cmd, sub, cat)) ||
                            (mode == 3 && util_glob_match(c->argv[4].ptr, c->argv[4].len, name,
                                                          strlen(name), 1));
                if (match && pass == 0) count++;
                if (match && pass == 1) reply_add_bulk_cstr(&c->reply, name);
                if (!subs) break;
            }
        }
    }
}

/* ---- COMMAND DOCS ---- */

/* The Redis release that introduced each command (COMMAND DOCS "since"), sorted by name; the
 * commands not listed are from 1.0.0. */
static const struct {
    const char *name, *since;
} since_table[] = {
    {"append", "2.0.0"},
    {"bitcount", "2.6.0"},
    {"bitfield", "3.2.0"},
    {"bitfield_ro", "6.0.0"},
    {"bitop", "2.6.0"},
    {"bitpos", "2.8.7"},
    {"blmove", "6.2.0"},
    {"blmpop", "7.0.0"},
    {"blpop", "2.0.0"},
    {"brpop", "2.0.0"},
    {"brpoplpush", "2.2.0"},
    {"bzmpop", "7.0.0"},
    {"bzpopmax", "5.0.0"},
    {"bzpopmin", "5.0.0"},
    {"client", "2.4.0"},
    {"command", "2.8.13"},
    {"config", "2.0.0"},
    {"copy", "6.2.0"},
    {"expireat", "1.2.0"},
    {"expiretime", "7.0.0"},
    {"getbit", "2.2.0"},
    {"geoadd", "3.2.0"},
    {"geodist", "3.2.0"},
    {"geohash", "3.2.0"},
    {"geopos", "3.2.0"},
    {"georadius", "3.2.0"},
    {"georadius_ro", "3.2.10"},
    {"georadiusbymember", "3.2.0"},
    {"georadiusbymember_ro", "3.2.10"},
    {"geosearch", "6.2.0"},
    {"geosearchstore", "6.2.0"},
    {"getdel", "6.2.0"},
    {"getex", "6.2.0"},
    {"getrange", "2.4.0"},
    {"hdel", "2.0.0"},
    {"hello", "6.0.0"},
    {"hexists", "2.0.0"},
    {"hget", "2.0.0"},
    {"hgetall", "2.0.0"},
    {"hincrby", "2.0.0"},
    {"hincrbyfloat", "2.6.0"},
    {"hkeys", "2.0.0"},
    {"hlen", "2.0.0"},
    {"hmget", "2.0.0"},
    {"hmset", "2.0.0"},
    {"hrandfield", "6.2.0"},
    {"hscan", "2.8.0"},
    {"hset", "2.0.0"},
    {"hsetnx", "2.0.0"},
    {"hstrlen", "3.2.0"},
    {"hvals", "2.0.0"},
    {"incrbyfloat", "2.6.0"},
    {"lcs", "7.0.0"},
    {"linsert", "2.2.0"},
    {"lmove", "6.2.0"},
    {"lmpop", "7.0.0"},
    {"lpos", "6.0.6"},
    {"lpushx", "2.2.0"},
    {"memory", "4.0.0"},
    {"mset", "1.0.1"},
    {"msetnx", "1.0.1"},
    {"object", "2.2.3"},
    {"persist", "2.2.0"},
    {"pexpire", "2.6.0"},
    {"pexpireat", "2.6.0"},
    {"pexpiretime", "7.0.0"},
    {"pfadd", "2.8.9"},
    {"pfcount", "2.8.9"},
    {"pfdebug", "2.8.9"},
    {"pfmerge", "2.8.9"},
    {"pfselftest", "2.8.9"},
    {"psetex", "2.6.0"},
    {"psubscribe", "2.0.0"},
    {"pttl", "2.6.0"},
    {"publish", "2.0.0"},
    {"pubsub", "2.8.0"},
    {"punsubscribe", "2.0.0"},
    {"role", "2.8.12"},
    {"rpoplpush", "1.2.0"},
    {"rpushx", "2.2.0"},
    {"scan", "2.8.0"},
    {"setbit", "2.2.0"},
    {"setex", "2.0.0"},
    {"setrange", "2.2.0"},
    {"sintercard", "7.0.0"},
    {"smismember", "6.2.0"},
    {"sort", "1.0.0"},
    {"sort_ro", "7.0.0"},
    {"spublish", "7.0.0"},
    {"sscan", "2.8.0"},
    {"ssubscribe", "7.0.0"},
    {"strlen", "2.2.0"},
    {"subscribe", "2.0.0"},
    {"sunsubscribe", "7.0.0"},
    {"swapdb", "4.0.0"},
    {"time", "2.6.0"},
    {"touch", "3.2.1"},
    {"unlink", "4.0.0"},
    {"unsubscribe", "2.0.0"},
    {"wait", "3.0.0"},
    {"zadd", "1.2.0"},
    {"zcard", "1.2.0"},
    {"zcount", "2.0.0"},
    {"zdiff", "6.2.0"},
    {"zdiffstore", "6.2.0"},
    {"zincrby", "1.2.0"},
    {"zinter", "6.2.0"},
    {"zintercard", "7.0.0"},
    {"zinterstore", "2.0.0"},
    {"zlexcount", "2.8.9"},
    {"zmpop", "7.0.0"},
    {"zmscore", "6.2.0"},
    {"zpopmax", "5.0.0"},
    {"zpopmin", "5.0.0"},
    {"zrandmember", "6.2.0"},
    {"zrange", "1.2.0"},
    {"zrangebylex", "2.8.9"},
    {"zrangebyscore", "1.0.5"},
    {"zrangestore", "6.2.0"},
    {"zrank", "2.0.0"},
    {"zrem", "1.2.0"},
    {"zremrangebylex", "2.8.9"},
    {"zremrangebyrank", "2.0.0"},
    {"zremrangebyscore", "1.2.0"},
    {"zrevrange", "1.2.0"},
    {"zrevrangebylex", "2.8.9"},
    {"zrevrangebyscore", "2.2.0"},
    {"zrevrank", "2.0.0"},
    {"zscan", "2.8.0"},
    {"zscore", "1.2.0"},
    {"zunion", "6.2.0"},
    {"zunionstore", "2.0.0"},
};

const char *command_since(const char *name) {
    size_t lo = 0, hi = sizeof(since_table) / sizeof(since_table[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, since_table[mid].name);
        if (c == 0) return since_table[mid].since;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return "1.0.0";
}
