/* script — Lua scripting as Redis 7.0 has it: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT
 * LOAD / EXISTS / FLUSH / KILL / HELP, on Lua 5.1 with Redis's `redis` library, its conversion
 * rules between replies and Lua values, its sandbox and its error texts.
 *
 * The pieces (all in src/server, main thread only):
 *  - script_lua.c:   the Lua state (its heap in ALLOC_SUB_SCRIPTING), the sandbox (read-only
 *                    globals and libraries, no file or OS access, no bytecode), the redis.*
 *                    functions; redis.call runs a command on the script's own client through
 *                    command_call(), the path clients' commands take.
 *  - script_conv.c:  a command's RESP reply -> Lua value, a script's Lua value -> a reply.
 *  - script_cache.c: sha1 -> compiled script; scripts EVAL brought in are evicted least
 *                    recently used past lua-script-cache-max, SCRIPT LOAD-ed ones are kept.
 *  - cmd_script.c:   the commands, shebang flags, busy scripts (busy-reply-threshold, the
 *                    count hook serving other clients, SCRIPT KILL).
 */
#ifndef MEMKV_SCRIPT_H
#define MEMKV_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct command;
struct lua_State;
struct script_run;

/* Shebang flags (#!lua flags=...) and the compatibility mode of scripts without a shebang. */
#define SCRIPT_FLAG_NO_WRITES (1 << 0)
#define SCRIPT_FLAG_ALLOW_OOM (1 << 1)
#define SCRIPT_FLAG_ALLOW_STALE (1 << 2)
#define SCRIPT_FLAG_NO_CLUSTER (1 << 3)
#define SCRIPT_FLAG_ALLOW_CROSS_SLOT (1 << 4)
#define SCRIPT_FLAG_EVAL_COMPAT (1 << 5) /* no shebang: Redis 6 semantics */

/* ---- cmd_script.c ---- */
int script_init(char *err, size_t cap); /* at start-up, after the dbs exist */
void script_shutdown(void);
/* A script has run past busy-reply-threshold: other clients are being served from inside it.
 * Returns 1 after answering -BUSY when cmd may not run now (command_process calls it). */
int script_refuse_busy(struct client *c, const struct command *cmd);
/* From the count hook: past busy-reply-threshold, serve other clients for a moment. */
void script_busy_check(struct script_run *run);
/* Statistics and memory for INFO, MEMORY STATS, /metrics and the doctor. */
typedef struct script_figures {
    size_t vm_bytes;        /* the Lua heap (used_memory_lua, used_memory_vm_eval) */
    size_t cache_bytes;     /* script bodies and cache entries (used_memory_scripts_eval) */
    long long scripts;      /* number_of_cached_scripts */
    long long eval_scripts; /* of which brought in by EVAL (evictable) */
    long long evicted;      /* evicted_scripts: EVAL scripts dropped past the cap */
    long long loaded_total; /* distinct scripts ever compiled (churn) */
    long long cache_max;    /* lua-script-cache-max */
} script_figures;
void script_figures_get(script_figures *f);
struct mem_scripts;
void script_fill_doctor(struct mem_scripts *out); /* the doctor's view of the same */
void script_reset_stats(void);                    /* CONFIG RESETSTAT */

/* ---- script_cache.c ---- */
typedef struct script_entry script_entry;
struct script_entry {
    char sha[41];
    int flags;  /* SCRIPT_FLAG_* */
    int fn_ref; /* the compiled function in the Lua registry */
    int loaded; /* SCRIPT LOAD-ed (or run since): never evicted */
    char *body; /* ALLOC_SUB_SCRIPTING */
    size_t body_len;
    script_entry *hnext;               /* hash chain */
    script_entry *lru_prev, *lru_next; /* EVAL-loaded entries, most recent first */
};
script_entry *script_cache_find(const char *sha); /* sha: 40 hex digits, any case */
/* Adds an entry (the caller compiled the function); evicts past the cap. Takes no ownership
 * of body (it is copied). */
script_entry *script_cache_add(const char *sha, const char *body, size_t len, int flags, int fn_ref,
                               int loaded);
void script_cache_touch(script_entry *e); /* EVAL / EVALSHA used it */
void script_cache_keep(script_entry *e);  /* SCRIPT LOAD: out of the eviction order */
void script_cache_flush(void);            /* every entry (the Lua state goes too) */
void script_cache_figures(script_figures *f);
void script_cache_reset_stats(void);
/* Evicts EVAL entries past the cap (after CONFIG SET lua-script-cache-max). */
void script_cache_trim(void);
extern long long script_cache_max; /* lua-script-cache-max */
struct cfg_param;
int script_cache_apply_max(const struct cfg_param *p, char *err); /* config hook: trims */

/* ---- script_lua.c ---- */
/* The run of one script: what redis.call checks and the hook reads. */
typedef struct script_run {
    struct client *caller;
    struct client *fake; /* the script's own client */
    const char *sha;
    int flags;     /* SCRIPT_FLAG_* of the script */
    int read_only; /* EVAL_RO / EVALSHA_RO or no-writes */
    int wrote;     /* a write command ran: SCRIPT KILL refuses */
    int oom_start; /* over maxmemory when the script began */
    int timed_out; /* past busy-reply-threshold: serving other clients */
    int kill;      /* 1 SCRIPT KILL, 2 SHUTDOWN NOSAVE: stop at the next hook */
    int64_t start_ms;
} script_run;
extern script_run *script_current; /* NULL when no script runs */

int script_lua_init(char *err, size_t cap);
void script_lua_free(void);
struct lua_State *script_lua_state(void);
size_t script_lua_heap_bytes(void);
/* Compiles body (after its shebang line, which the caller measured) into a function kept in
 * the registry; returns its reference, or -1 with err set to Redis's compile error text. */
int script_lua_compile(const char *body, size_t len, size_t shebang_len, char *err, size_t cap);
void script_lua_unref(int ref);
/* Runs the function with KEYS and ARGV from the caller's argv; the reply (or the error) goes to
 * the caller. */
void script_lua_run(script_run *run, int fn_ref, int numkeys, int first_key);

/* ---- script_conv.c ---- */
/* Pushes the RESP reply in buf (one whole reply) as Redis's rules make it a Lua value; resp is
 * the protocol the script asked for (redis.setresp). Returns the bytes consumed. */
/* The field Redis 7.0 sets in a command's error table (redis.call/pcall): its error reply was
 * counted when the command replied it, so the script's reply of it counts no second time. */
#define SCRIPT_ERR_COUNTED "ignore_error_stats_update"
size_t script_conv_reply_to_lua(struct lua_State *L, const char *buf, size_t len, int resp);
/* Writes the Lua value on the top of the stack (popped) to c's reply; lua_resp is the
 * protocol the script set (booleans differ). */
void script_conv_lua_to_reply(struct lua_State *L, struct client *c, int lua_resp);

#endif
