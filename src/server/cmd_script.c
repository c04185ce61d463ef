/* EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT, shebang flags and busy scripts (see script.h). */
#include "server/script.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "memory/memory.h"
#include "server/log.h"
#include "server/server.h"
#include "util/util.h"

static client *fake_client; /* the scripts' own client: redis.call runs on it */

int script_init(char *err, size_t cap) {
    if (script_lua_init(err, cap) < 0) return -1;
    if (!fake_client) {
        client *fc = alloc_calloc(ALLOC_SUB_SCRIPTING, sizeof(*fc));
        fc->fd = -1;
        /* authenticated; blocking commands answer at once, as inside EXEC */
        fc->flags = CLIENT_AUTHENTICATED | CLIENT_IN_EXEC;
        fc->db = srv.dbs[0];
        reply_buf_init(&fc->reply);
        snprintf(fc->addr, sizeof(fc->addr), "lua");
        fc->last_cmd = "NULL";
        fake_client = fc;
    }
    return 0;
}

void script_shutdown(void) {
    script_cache_flush();
    script_lua_free();
    if (fake_client) {
        reply_buf_deinit(&fake_client->reply);
        alloc_free(ALLOC_SUB_SCRIPTING, fake_client);
        fake_client = NULL;
    }
}

/* SCRIPT FLUSH: the cache and the whole Lua state, as Redis (a fresh heap). */
static void script_flush_all(void) {
    char err[128];
    script_cache_flush();
    script_lua_free();
    if (script_lua_init(err, sizeof(err)) < 0) log_msg(LOG_WARNING, "SCRIPT FLUSH: %s", err);
}

void script_figures_get(script_figures *f) {
    memset(f, 0, sizeof(*f));
    script_cache_figures(f);
    f->vm_bytes = script_lua_heap_bytes();
}

void script_fill_doctor(mem_scripts *out) {
    script_figures f;
    script_figures_get(&f);
    *out = (mem_scripts){
        .cached = (size_t)f.scripts,
        .eval_cached = (size_t)f.eval_scripts,
        .compiled = (size_t)f.loaded_total,
        .evicted = (size_t)f.evicted,
        .cache_max = (size_t)f.cache_max,
        .cache_bytes = f.cache_bytes,
        .heap_bytes = f.vm_bytes,
    };
}

void script_reset_stats(void) {
    script_cache_reset_stats();
}

/* ---- shebang --------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int flag;
} shebang_flags[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
};

/* "#!lua flags=a,b" on the first line, as Redis 7.0's evalExtractShebangFlags. Returns 0 with
 * *flags and *shebang_len (the line without its '\n', kept so line numbers stay), or -1 with
 * err. */
static int parse_shebang(const char *body, size_t len, int *flags, size_t *shebang_len, char *err,
                         size_t cap) {
    *flags = SCRIPT_FLAG_EVAL_COMPAT;
    *shebang_len = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return 0;
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        snprintf(err, cap, "ERR Invalid script shebang");
        return -1;
    }
    *shebang_len = (size_t)(nl - body);
    const char *p = body, *end = nl;
    int part = 0;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p >= end) break;
        const char *w = p;
        while (p < end && !isspace((unsigned char)*p))
            p++;
        int wlen = (int)(p - w);
        if (part++ == 0) {
            if (wlen != 5 || memcmp(w, "#!lua", 5) != 0) {
                snprintf(err, cap, "ERR Unexpected engine in script shebang: %.*s", wlen, w);
                return -1;
            }
            *flags &= ~SCRIPT_FLAG_EVAL_COMPAT;
            continue;
        }
        if (wlen < 6 || memcmp(w, "flags=", 6) != 0) {
            snprintf(err, cap, "ERR Unknown lua shebang option: %.*s", wlen, w);
            return -1;
        }
        const char *f = w + 6, *fend = p;
        while (f < fend) {
            const char *comma = memchr(f, ',', (size_t)(fend - f));
            const char *fe = comma ? comma : fend;
            size_t flen = (size_t)(fe - f);
            int found = 0;
            for (size_t i = 0; i < sizeof(shebang_flags) / sizeof(shebang_flags[0]); i++) {
                if (strlen(shebang_flags[i].name) == flen &&
                    memcmp(shebang_flags[i].name, f, flen) == 0) {
                    *flags |= shebang_flags[i].flag;
                    found = 1;
                }
            }
            if (!found) {
                snprintf(err, cap, "ERR Unexpected flag in script shebang: %.*s", (int)flen, f);
                return -1;
            }
            f = comma ? comma + 1 : fend;
        }
    }
    if (part == 0) {
        snprintf(err, cap, "ERR Invalid engine in script shebang");
        return -1;
    }
    return 0;
}

/* The cache entry of a script body: found, or compiled and added. NULL after replying. */
static script_entry *script_get_or_compile(client *c, const char *body, size_t len, int load) {
    char sha[41];
    util_sha1_hex(body, len, sha);
    script_entry *e = script_cache_find(sha);
    if (e) return e;
    char err[1024];
    int flags;
    size_t shebang_len;
    if (parse_shebang(body, len, &flags, &shebang_len, err, sizeof(err)) < 0) {
        reply_error(c, err);
        return NULL;
    }
    int ref = script_lua_compile(body, len, shebang_len, err, sizeof(err));
    if (ref < 0) {
        reply_error(c, err);
        return NULL;
    }
    return script_cache_add(sha, body, len, flags, ref, load);
}

/* ---- EVAL family ----------------------------------------------------------------------- */

static void eval_generic(client *c, int by_sha, int read_only) {
    /* MONITOR shows the script before the commands it runs (EVAL is skip-monitor for the
     * command path), as Redis 7.0. */
    if (srv.monitors) monitor_feed_always(c, command_lookup(c->argv[0].ptr, c->argv[0].len));
    /* A digest of the wrong length cannot match: NOSCRIPT before anything else, as Redis. */
    if (by_sha && c->argv[1].len != 40) {
        reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    long long numkeys;
    if (arg_ll(c, 2, &numkeys) < 0) return;
    if (numkeys > c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return;
    }
    script_entry *e;
    if (by_sha) {
        e = script_cache_find(c->argv[1].ptr);
        if (!e) {
            reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
    } else {
        e = script_get_or_compile(c, c->argv[1].ptr, c->argv[1].len, 0);
        if (!e) return;
    }
    script_cache_touch(e);
    if (read_only && !(e->flags & (SCRIPT_FLAG_EVAL_COMPAT | SCRIPT_FLAG_NO_WRITES))) {
        reply_error(c, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    /* A script that declares it may write and may not run out of memory is refused at once
     * over maxmemory, as Redis 7.0 refuses its EVAL. */
    if (!(e->flags & SCRIPT_FLAG_EVAL_COMPAT) &&
        !(e->flags & (SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM)) && srv.maxmemory &&
        srv.pre_command_oom) {
        reply_error(c, ERR_OOM);
        return;
    }
    script_run run = {
        .caller = c,
        .fake = fake_client,
        .sha = e->sha,
        .flags = e->flags,
        .read_only = read_only || (e->flags & SCRIPT_FLAG_NO_WRITES),
        .oom_start = srv.pre_command_oom,
        .start_ms = util_monotonic_us() / 1000,
    };
    script_lua_run(&run, e->fn_ref, (int)numkeys, 3);
    if (run.timed_out) {
        srv.script_busy = 0;
        client_protect(c, 0);
        log_msg(LOG_WARNING, "Slow script finished after %lld milliseconds",
                (long long)(util_monotonic_us() / 1000 - run.start_ms));
    }
}

static void cmd_eval(client *c) {
    eval_generic(c, 0, 0);
}
static void cmd_evalsha(client *c) {
    eval_generic(c, 1, 0);
}
static void cmd_eval_ro(client *c) {
    eval_generic(c, 0, 1);
}
static void cmd_evalsha_ro(client *c) {
    eval_generic(c, 1, 1);
}

/* ---- busy scripts ---------------------------------------------------------------------- */

void script_busy_check(script_run *run) {
    if (!run->timed_out) {
        if (srv.busy_reply_threshold <= 0 ||
            util_monotonic_us() / 1000 - run->start_ms < srv.busy_reply_threshold)
            return;
        run->timed_out = 1;
        srv.script_busy = 1;
        log_msg(LOG_WARNING,
                "Slow script detected: still in execution after %lld milliseconds. You can try "
                "killing the script using the SCRIPT KILL command. Script name is: %s.",
                (long long)(util_monotonic_us() / 1000 - run->start_ms), run->sha);
        client_protect(run->caller, 1); /* its next commands wait for the script */
    }
    /* Serve the other clients for a moment: only what script_refuse_busy lets through runs. */
    client *current = srv.current_client;
    evloop_poll(srv.el);
    net_write_pending();
    srv.current_client = current;
    if (srv.shutdown_asap && !run->kill) run->kill = 2;
}

/* Redis 7.0's allow-busy commands (SHUTDOWN only with NOSAVE, see cmd_shutdown). */
int script_refuse_busy(client *c, const command *cmd) {
    static const char *const allowed[] = {"auth",  "hello",   "quit",  "reset",
                                          "multi", "discard", "watch", "unwatch"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (strcmp(cmd->name, allowed[i]) == 0) return 0;
    if (strcmp(cmd->name, "script") == 0 && c->argc >= 2 && arg_eq(c, 1, "kill")) return 0;
    if (strcmp(cmd->name, "shutdown") == 0)
        for (int i = 1; i < c->argc; i++)
            if (arg_eq(c, i, "nosave")) return 0;
    reply_error(c, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                   "SHUTDOWN NOSAVE.");
    return 1;
}

/* ---- SCRIPT ---------------------------------------------------------------------------- */

static const char *const script_help[] = {
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
    NULL};

static void cmd_script(client *c) {
    if (arg_eq(c, 1, "help")) {
        if (c->argc != 2) {
            reply_wrong_subcommand_arity(c);
            return;
        }
        reply_help(c, script_help);
    } else if (arg_eq(c, 1, "flush")) {
        if (c->argc > 3 || (c->argc == 3 && !arg_eq(c, 2, "sync") && !arg_eq(c, 2, "async"))) {
            reply_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        script_flush_all();
        reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 1, "exists")) {
        if (c->argc < 3) {
            reply_wrong_subcommand_arity(c);
            return;
        }
        reply_add_array_len(&c->reply, c->argc - 2);
        for (int i = 2; i < c->argc; i++)
            reply_add_int(&c->reply,
                          c->argv[i].len == 40 && script_cache_find(c->argv[i].ptr) != NULL);
    } else if (arg_eq(c, 1, "load")) {
        if (c->argc != 3) {
            reply_wrong_subcommand_arity(c);
            return;
        }
        script_entry *e = script_get_or_compile(c, c->argv[2].ptr, c->argv[2].len, 1);
        if (!e) return;
        script_cache_keep(e);
        reply_add_bulk(&c->reply, e->sha, 40);
    } else if (arg_eq(c, 1, "kill")) {
        if (c->argc != 2) {
            reply_wrong_subcommand_arity(c);
            return;
        }
        if (!script_current) {
            reply_error(c, "NOTBUSY No scripts in execution right now.");
        } else if (script_current->wrote) {
            reply_error(c, "UNKILLABLE Sorry the script already executed write commands against "
                           "the dataset. You can either wait the script termination or kill the "
                           "server in a hard way using the SHUTDOWN NOSAVE command.");
        } else {
            script_current->kill = 1;
            reply_add_status(&c->reply, "OK");
        }
    } else if (arg_eq(c, 1, "debug")) {
        if (c->argc != 3) {
            reply_wrong_subcommand_arity(c);
            return;
        }
        if (arg_eq(c, 2, "no")) {
            reply_add_status(&c->reply, "OK");
        } else if (arg_eq(c, 2, "yes") || arg_eq(c, 2, "sync")) {
            reply_error(c, "ERR memkv has no Lua debugger (SCRIPT DEBUG YES|SYNC)");
        } else {
            reply_error(c, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
        }
    } else {
        reply_subcommand_syntax_error(c);
    }
}

/* Redis Functions are not implemented: a clear error instead of "unknown command". */
static void cmd_function_unsupported(client *c) {
    reply_error(c, "ERR memkv does not support Redis Functions (FUNCTION, FCALL, FCALL_RO); use "
                   "EVAL / EVALSHA");
}

#define S (CMD_NOSCRIPT | CMD_SKIP_MONITOR | CMD_SCRIPT)
#define MR CMD_MAY_REPLICATE
#define K CMD_MOVABLEKEYS
/* clang-format off */
command scripting_commands[] = {
    {"eval", cmd_eval, -3, S | MR | K | CMD_KEY_RW_ACCESS, 0, 0, 0, "scripting", "Executes a server-side Lua script."},
    {"evalsha", cmd_evalsha, -3, S | MR | K | CMD_KEY_RW_ACCESS, 0, 0, 0, "scripting", "Executes a server-side Lua script by SHA1 digest."},
    {"eval_ro", cmd_eval_ro, -3, S | CMD_READONLY | K, 0, 0, 0, "scripting", "Executes a read-only server-side Lua script."},
    {"evalsha_ro", cmd_evalsha_ro, -3, S | CMD_READONLY | K, 0, 0, 0, "scripting", "Executes a read-only server-side Lua script by SHA1 digest."},
    {"script", cmd_script, -2, CMD_NOSCRIPT, 0, 0, 0, "scripting", "A container for Lua scripts management commands."},
    {"function", cmd_function_unsupported, -2, CMD_NOSCRIPT, 0, 0, 0, "scripting", "A container for function commands (not supported by memkv)."},
    {"fcall", cmd_function_unsupported, -3, S | MR | K | CMD_KEY_RW_ACCESS, 0, 0, 0, "scripting", "Invokes a function (not supported by memkv)."},
    {"fcall_ro", cmd_function_unsupported, -3, S | CMD_READONLY | K, 0, 0, 0, "scripting", "Invokes a read-only function (not supported by memkv)."},
};
/* clang-format on */
const size_t scripting_commands_count = sizeof(scripting_commands) / sizeof(scripting_commands[0]);
