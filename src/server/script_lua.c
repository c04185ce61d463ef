/* The Lua state of the scripts: its heap, the sandbox and the redis.* library (see script.h). */
#include "server/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/log.h"
#include "server/server.h"
#include "server/tracking.h"
#include "util/util.h"

/* Debian's lua-cjson and lua-bitop, linked as C modules. */
int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

#define LUA_SUB ALLOC_SUB_SCRIPTING
#define SCRIPT_HOOK_INSTRUCTIONS 100000 /* as Redis: the busy check every 100k instructions */
#define SCRIPT_GC_PERIOD 50             /* as Redis: a GC step every 50 scripts */

static lua_State *state;
static int handler_ref = LUA_NOREF;   /* the error handler, in the registry */
static int protected_ref = LUA_NOREF; /* set of the read-only proxies */
static int globals_ref = LUA_NOREF;   /* the real globals table behind _G */
static int keys_name_ref = LUA_NOREF; /* the strings "KEYS" and "ARGV", interned once */
static int argv_name_ref = LUA_NOREF;
static int gc_count;
static uint64_t rand48_state;
script_run *script_current;

/* ---- heap ------------------------------------------------------------------------------ */

/* Every Lua allocation: the scripting subsystem, so the Lua heap is visible (and the heap
 * profiler attributes it by this frame). */
static void *script_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    if (nsize == 0) {
        if (ptr) alloc_free_sized(LUA_SUB, ptr, osize);
        return NULL;
    }
    if (!ptr) return alloc_malloc(LUA_SUB, nsize);
    return alloc_realloc_sized(LUA_SUB, ptr, osize, nsize);
}

size_t script_lua_heap_bytes(void) {
    if (!state) return 0;
    return (size_t)lua_gc(state, LUA_GCCOUNT, 0) * 1024; /* as Redis: whole KiB */
}

lua_State *script_lua_state(void) {
    return state;
}

/* ---- errors ---------------------------------------------------------------------------- */

/* Pushes {err = "<CODE> <msg>"} as Redis's luaPushError: "-CODE msg" keeps its code, text
 * without a leading '-' gets "ERR"; trailing CR/LF go. */
static void push_error_text(lua_State *L, const char *text, size_t n) {
    char buf[1024];
    const char *code = "ERR", *msg = text;
    size_t code_len = 3, msg_len = n;
    if (n > 0 && text[0] == '-') {
        const char *sp = memchr(text, ' ', n);
        if (sp) {
            code = text + 1;
            code_len = (size_t)(sp - text) - 1;
            msg = sp + 1;
            msg_len = n - (size_t)(sp + 1 - text);
        } else {
            msg = text + 1;
            msg_len = n - 1;
        }
    }
    while (msg_len > 0 && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n'))
        msg_len--;
    int len = snprintf(buf, sizeof(buf), "%.*s %.*s", (int)code_len, code, (int)msg_len, msg);
    if (len < 0) len = 0;
    if ((size_t)len >= sizeof(buf)) len = sizeof(buf) - 1;
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushlstring(L, buf, (size_t)len);
    lua_settable(L, -3);
}

static void push_error(lua_State *L, const char *msg) {
    push_error_text(L, msg, strlen(msg));
}

/* The error handler of every script: a string error becomes {err = "ERR <msg>"}, and the place
 * (source, line) of the Lua function that raised it is added, as Redis 7.0's handler does. */
static int error_handler(lua_State *L) {
    lua_Debug ar;
    int have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar);
    if (have && strcmp(ar.what, "C") == 0)
        have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    if (!lua_istable(L, 1)) {
        const char *s;
        if (lua_isstring(L, 1))
            s = lua_tostring(L, 1);
        else if (lua_isnil(L, 1))
            s = "nil";
        else if (lua_isboolean(L, 1))
            s = lua_toboolean(L, 1) ? "true" : "false";
        else
            s = lua_typename(L, lua_type(L, 1));
        lua_pushfstring(L, "ERR %s", s);
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushvalue(L, -3);
        lua_settable(L, -3);
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    if (have) {
        lua_pushstring(L, "source");
        lua_pushstring(L, ar.source);
        lua_settable(L, 1);
        lua_pushstring(L, "line");
        lua_pushinteger(L, ar.currentline);
        lua_settable(L, 1);
    }
    return 1;
}

/* ---- the sandbox ----------------------------------------------------------------------- */

static int readonly_error(lua_State *L) {
    luaL_where(L, 1);
    lua_pushstring(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    return lua_error(L);
}

static int nonexistent_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    luaL_where(L, 1);
    lua_pushfstring(L, "Script attempted to access nonexistent global variable '%s'",
                    name ? name : "?");
    lua_concat(L, 2);
    return lua_error(L);
}

static int is_protected(lua_State *L, int idx) {
    if (!lua_istable(L, idx)) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, protected_ref);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    int yes = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return yes;
}

/* rawset and setmetatable refuse the read-only tables (they would bypass __newindex). */
static int safe_rawset(lua_State *L) {
    if (is_protected(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int safe_setmetatable(lua_State *L) {
    if (is_protected(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* pcall as Redis 7.0 has it: errors are {err=...} tables there (so the final reply can say
 * where), but a script catching one gets the message string, as before 7.0. */
static int script_pcall(lua_State *L) {
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

/* loadstring / load without precompiled chunks: Lua 5.1 does not verify bytecode, so a crafted
 * chunk could read and write the server's memory (Redis's Lua refuses them too). */
static int load_text(lua_State *L, const char *s, size_t len, const char *chunkname) {
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "attempt to load a binary chunk");
        return 2;
    }
    if (luaL_loadbuffer(L, s, len, chunkname) == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

static int safe_loadstring(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, s);
    return load_text(L, s, len, chunkname);
}

static int safe_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    lua_settop(L, 2);
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) return luaL_error(L, "reader function must return a string");
        size_t n;
        lua_tolstring(L, -1, &n);
        if (n == 0) {
            lua_pop(L, 1);
            break;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    return load_text(L, s, len, chunkname);
}

/* A read-only view of the table at idx (pushed): an empty table whose metatable reads through
 * to it and refuses writes. Lua 5.1 has no read-only tables (Redis patched its Lua for them). */
static void push_readonly_proxy(lua_State *L, int idx) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L); /* proxy */
    lua_newtable(L); /* its metatable */
    lua_pushstring(L, "__index");
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pushstring(L, "__newindex");
    lua_pushcfunction(L, readonly_error);
    lua_rawset(L, -3);
    lua_pushstring(L, "__metatable");
    lua_pushboolean(L, 0);
    lua_rawset(L, -3);
    lua_setmetatable(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, protected_ref);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* ---- math.random: rand48, seeded the same way at every start (and SCRIPT FLUSH) -------- */

static int32_t rand48_next(void) {
    rand48_state = (rand48_state * UINT64_C(0x5DEECE66D) + 0xB) & ((UINT64_C(1) << 48) - 1);
    return (int32_t)(rand48_state >> 17);
}

static int math_random(lua_State *L) {
    lua_Number r = (lua_Number)(rand48_next() % INT32_MAX) / (lua_Number)INT32_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L) {
    rand48_state = ((uint64_t)(uint32_t)luaL_checkint(L, 1) << 16) | 0x330E;
    return 0;
}

/* ---- redis.* --------------------------------------------------------------------------- */

/* A reply of the script's client as one contiguous buffer (usually its only block). */
static char *reply_linear(reply_buf *rb, size_t *len, char **owned) {
    struct iovec iov[64];
    int n = reply_buf_iov(rb, iov, 64);
    *len = reply_buf_bytes(rb);
    *owned = NULL;
    if (n == 1) return iov[0].iov_base;
    char *buf = alloc_malloc(LUA_SUB, *len);
    size_t off = 0;
    while (reply_buf_bytes(rb) > 0) {
        n = reply_buf_iov(rb, iov, 64);
        size_t got = 0;
        for (int i = 0; i < n; i++) {
            memcpy(buf + off + got, iov[i].iov_base, iov[i].iov_len);
            got += iov[i].iov_len;
        }
        reply_buf_consume(rb, got);
        off += got;
    }
    *owned = buf;
    return buf;
}

/* A number argument as "%.17g" writes it; integers below 1e17 (what scripts pass: counts,
 * times, TTLs) print the same digits without printf's floating-point path. */
static size_t format_number(char *buf, size_t cap, double d) {
    if (d > -1e17 && d < 1e17 && d == (double)(long long)d && !(d == 0 && signbit(d)))
        return util_format_ll(buf, (long long)d);
    int n = snprintf(buf, cap, "%.17g", d);
    return n < 0 ? 0 : (size_t)n;
}

static resp_arg *call_argv;
static int call_argv_cap;

/* Redis 7.0's "noscript" subcommands: everything of CLIENT, CONFIG, LATENCY and SCRIPT but HELP. */
static int subcommand_noscript(const command *cmd, const resp_arg *sub) {
    if (strcmp(cmd->name, "client") && strcmp(cmd->name, "config") &&
        strcmp(cmd->name, "latency") && strcmp(cmd->name, "script") &&
        strcmp(cmd->name, "function"))
        return 0;
    return !(sub->len == 4 && strncasecmp(sub->ptr, "help", 4) == 0);
}

static int redis_generic_call(lua_State *L, int raise) {
    script_run *run = script_current;
    if (!run) {
        push_error(L, "redis.call/pcall can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        push_error(L, "Please specify at least one argument for this redis lib call");
        return raise ? lua_error(L) : 1;
    }
    if (argc > call_argv_cap) {
        call_argv = alloc_realloc(LUA_SUB, call_argv, (size_t)argc * sizeof(*call_argv));
        call_argv_cap = argc;
    }
    for (int j = 1; j <= argc; j++) {
        int t = lua_type(L, j);
        if (t == LUA_TNUMBER) { /* "%.17g": Lua's own conversion would lose precision */
            char num[64];
            size_t nlen = format_number(num, sizeof(num), (double)lua_tonumber(L, j));
            lua_pushlstring(L, num, nlen);
            lua_replace(L, j);
        } else if (t != LUA_TSTRING) {
            push_error(L, "Lua redis lib command arguments must be strings or integers");
            return raise ? lua_error(L) : 1;
        }
        size_t n;
        call_argv[j - 1].ptr = (char *)lua_tolstring(L, j, &n);
        call_argv[j - 1].len = n;
    }
    const char *err = NULL;
    subcommand *sub = NULL;
    const command *cmd = command_lookup(call_argv[0].ptr, call_argv[0].len);
    if (cmd && (cmd->flags & CMD_CONTAINER) && argc >= 2) {
        sub = command_find_sub(cmd, &call_argv[1]);
        if (!sub) cmd = NULL;
    }
    if (!cmd)
        err = "Unknown Redis command called from script";
    else if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity)
        err = "Wrong number of args calling Redis command from script";
    else if ((cmd->flags & CMD_NOSCRIPT) || (sub && subcommand_noscript(cmd, &call_argv[1])))
        err = "This Redis command is not allowed from script";
    else if ((cmd->flags & CMD_WRITE) && run->read_only)
        err = "Write commands are not allowed from read-only scripts.";
    else if (!(run->flags & SCRIPT_FLAG_ALLOW_OOM) && srv.maxmemory && !run->wrote &&
             run->oom_start && (cmd->flags & CMD_DENYOOM))
        err = "-OOM command not allowed when used memory > 'maxmemory'.";
    if (err) {
        push_error(L, err);
        lua_getfield(L, -1, "err"); /* "ERR ..." or "OOM ...", as the table holds it */
        size_t elen;
        const char *etext = lua_tolstring(L, -1, &elen);
        command_script_refused(cmd, sub, etext ? etext : "ERR", etext ? elen : 3);
        lua_pop(L, 1);
        lua_pushstring(L, SCRIPT_ERR_COUNTED);
        lua_pushboolean(L, 1);
        lua_settable(L, -3);
        return raise ? lua_error(L) : 1;
    }
    if (cmd->flags & CMD_WRITE) run->wrote = 1;
    client *fc = run->fake;
    fc->argv = call_argv;
    fc->argc = argc;
    command_call(fc, cmd, sub);
    /* Client-side caching, as Redis 7.0's call(): a read inside a script remembers the keys of
     * the caller's command (the script's KEYS), not the keys the read named. */
    if ((cmd->flags & CMD_READONLY) && run->caller && (run->caller->flags & CLIENT_TRACKING))
        tracking_script_read(run->caller);
    fc->argv = NULL;
    fc->argc = 0;
    size_t len;
    char *owned;
    char *buf = reply_linear(&fc->reply, &len, &owned);
    int is_error = len > 0 && buf[0] == '-';
    script_conv_reply_to_lua(L, buf, len, fc->reply.resp);
    if (owned)
        alloc_free(LUA_SUB, owned);
    else
        reply_buf_consume(&fc->reply, len);
    if (raise && is_error) return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L) {
    return redis_generic_call(L, 1);
}

static int redis_pcall(lua_State *L) {
    return redis_generic_call(L, 0);
}

static int redis_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments");
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    if (n > 0 && s[0] == '-') {
        push_error_text(L, s, n);
    } else {
        lua_pushfstring(L, "-%s", s);
        size_t m;
        const char *t = lua_tolstring(L, -1, &m);
        push_error_text(L, t, m);
    }
    return 1;
}

static int redis_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments");
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, "ok");
    lua_pushvalue(L, 1);
    lua_settable(L, -3);
    return 1;
}

static int redis_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1) {
        push_error(L, "wrong number of arguments");
        return lua_error(L);
    }
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    char hex[41];
    util_sha1_hex(s ? s : "", s ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2) {
        push_error(L, "redis.log() requires two arguments or more.");
        return lua_error(L);
    }
    if (!lua_isnumber(L, 1)) {
        push_error(L, "First argument must be a number (log level).");
        return lua_error(L);
    }
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING) {
        push_error(L, "Invalid debug level.");
        return lua_error(L);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int j = 2; j <= argc; j++) {
        size_t n;
        const char *s = lua_tolstring(L, j, &n);
        if (!s) continue;
        if (j != 2) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, n);
    }
    luaL_pushresult(&b);
    log_msg(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int redis_setresp(lua_State *L) {
    if (lua_gettop(L) != 1) {
        push_error(L, "redis.setresp() requires one argument.");
        return lua_error(L);
    }
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) {
        push_error(L, "RESP version must be 2 or 3.");
        return lua_error(L);
    }
    if (script_current) script_current->fake->reply.resp = resp;
    return 0;
}

static int redis_set_repl(lua_State *L) {
    if (lua_gettop(L) != 1) {
        push_error(L, "redis.set_repl() requires two arguments."); /* sic, Redis 7.0 */
        return lua_error(L);
    }
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~3) {
        push_error(L,
                   "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        return lua_error(L);
    }
    return 0; /* no replication: accepted and ignored */
}

static int redis_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_breakpoint(lua_State *L) {
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_debug(lua_State *L) {
    (void)L;
    return 0;
}

static int redis_acl_check_cmd(lua_State *L) {
    size_t n;
    const char *name = lua_gettop(L) >= 1 ? lua_tolstring(L, 1, &n) : NULL;
    if (!name || !command_lookup(name, n)) {
        push_error(L, "Invalid command passed to redis.acl_check_cmd()");
        return lua_error(L);
    }
    lua_pushboolean(L, 1); /* no ACLs: every command is allowed */
    return 1;
}

static void set_field_fn(lua_State *L, const char *name, lua_CFunction fn) {
    lua_pushstring(L, name);
    lua_pushcfunction(L, fn);
    lua_rawset(L, -3);
}

static void set_field_num(lua_State *L, const char *name, lua_Number v) {
    lua_pushstring(L, name);
    lua_pushnumber(L, v);
    lua_rawset(L, -3);
}

static void open_lib(lua_State *L, lua_CFunction fn, const char *name) {
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* ---- state ----------------------------------------------------------------------------- */

int script_lua_init(char *err, size_t cap) {
    lua_State *L = lua_newstate(script_lua_alloc, NULL);
    if (!L) {
        snprintf(err, cap, "cannot create the Lua state");
        return -1;
    }
    state = L;
    rand48_state = 0x330E; /* srand48(0) */
    gc_count = 0;
    lua_newtable(L);
    protected_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    open_lib(L, luaopen_bit, "bit");

    /* What Redis 7.0 leaves out of the base library, and the safe replacements. */
    static const char *const removed[] = {"loadfile", "dofile",   "print",  "getfenv",
                                          "setfenv",  "newproxy", "module", "require"};
    for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_pushcfunction(L, safe_loadstring);
    lua_setglobal(L, "loadstring");
    lua_pushcfunction(L, safe_load);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, script_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, safe_rawset);
    lua_setglobal(L, "rawset");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, safe_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_getglobal(L, LUA_MATHLIBNAME);
    set_field_fn(L, "random", math_random);
    set_field_fn(L, "randomseed", math_randomseed);
    lua_pop(L, 1);

    /* redis.* */
    lua_newtable(L);
    set_field_fn(L, "call", redis_call);
    set_field_fn(L, "pcall", redis_pcall);
    set_field_fn(L, "error_reply", redis_error_reply);
    set_field_fn(L, "status_reply", redis_status_reply);
    set_field_fn(L, "sha1hex", redis_sha1hex);
    set_field_fn(L, "log", redis_log);
    set_field_fn(L, "setresp", redis_setresp);
    set_field_fn(L, "set_repl", redis_set_repl);
    set_field_fn(L, "replicate_commands", redis_replicate_commands);
    set_field_fn(L, "breakpoint", redis_breakpoint);
    set_field_fn(L, "debug", redis_debug);
    set_field_fn(L, "acl_check_cmd", redis_acl_check_cmd);
    set_field_num(L, "LOG_DEBUG", LOG_DEBUG);
    set_field_num(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_field_num(L, "LOG_NOTICE", LOG_NOTICE);
    set_field_num(L, "LOG_WARNING", LOG_WARNING);
    set_field_num(L, "REPL_NONE", 0);
    set_field_num(L, "REPL_AOF", 1);
    set_field_num(L, "REPL_SLAVE", 2);
    set_field_num(L, "REPL_REPLICA", 2);
    set_field_num(L, "REPL_ALL", 3);
    lua_pushstring(L, "REDIS_VERSION");
    lua_pushstring(L, MEMKV_REDIS_COMPAT_VERSION);
    lua_rawset(L, -3);
    set_field_num(L, "REDIS_VERSION_NUM", 0x070000);
    lua_setglobal(L, "redis");

    /* Every library table read-only. */
    static const char *const libs[] = {"redis", "string", "table",    "math",
                                       "cjson", "bit",    "coroutine"};
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        lua_getglobal(L, libs[i]);
        push_readonly_proxy(L, -1);
        lua_setglobal(L, libs[i]);
        lua_pop(L, 1);
    }
    /* The string metatable: getmetatable("") must not hand out the real string table. */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushstring(L, "__metatable");
        lua_pushboolean(L, 0);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    /* _G: a read-only proxy over the real globals, whose misses are errors. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushvalue(L, -1);
    globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_pushstring(L, "__index");
    lua_pushcfunction(L, nonexistent_global);
    lua_rawset(L, -3);
    lua_setmetatable(L, -2);
    push_readonly_proxy(L, -1); /* real, proxy */
    lua_pushstring(L, "_G");
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_pop(L, 1);

    lua_pushcfunction(L, error_handler);
    handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "KEYS");
    keys_name_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "ARGV");
    argv_name_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

void script_lua_free(void) {
    if (state) lua_close(state);
    state = NULL;
    alloc_free(LUA_SUB, call_argv);
    call_argv = NULL;
    call_argv_cap = 0;
}

int script_lua_compile(const char *body, size_t len, size_t shebang_len, char *err, size_t cap) {
    lua_State *L = state;
    if (luaL_loadbuffer(L, body + shebang_len, len - shebang_len, "@user_script")) {
        snprintf(err, cap, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

void script_lua_unref(int ref) {
    if (state) luaL_unref(state, LUA_REGISTRYINDEX, ref);
}

/* A fresh table every run, as Redis: a script may change its KEYS and ARGV. */
static void set_array_global(lua_State *L, int name_ref, const resp_arg *a, int n) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, globals_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, name_ref);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].ptr, a[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    script_run *run = script_current;
    if (!run) return;
    script_busy_check(run);
    if (run->kill) {
        /* On every line from now on, so a pcall cannot swallow it and go on. */
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        push_error(L, "Script killed by user with SCRIPT KILL...");
        lua_error(L);
    }
}

/* The final error of a script, as Redis 7.0 words it. */
static void reply_script_error(lua_State *L, client *c, const char *sha) {
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        reply_errorf(c, "ERR Error running script %s, %.100s ", sha, msg);
        return;
    }
    lua_getfield(L, -1, "err");
    lua_getfield(L, -2, "source");
    lua_getfield(L, -3, "line");
    lua_getfield(L, -4, SCRIPT_ERR_COUNTED);
    const char *msg = lua_tostring(L, -4);
    const char *source = lua_tostring(L, -3);
    const char *line = lua_tostring(L, -2);
    int counted = lua_toboolean(L, -1);
    if (!msg) msg = "";
    char text[1024];
    if (source && line)
        snprintf(text, sizeof(text), "%s script: %s, on %s:%s.", msg, sha, source, line);
    else
        snprintf(text, sizeof(text), "%s", msg);
    if (counted)
        reply_error_uncounted(c, text);
    else
        reply_error(c, text);
    lua_pop(L, 4);
}

void script_lua_run(script_run *run, int fn_ref, int numkeys, int first_key) {
    lua_State *L = state;
    client *c = run->caller;
    set_array_global(L, keys_name_ref, c->argv + first_key, numkeys);
    set_array_global(L, argv_name_ref, c->argv + first_key + numkeys,
                     c->argc - first_key - numkeys);
    lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
    client *fc = run->fake;
    fc->db = c->db;
    fc->db_index = c->db_index;
    fc->reply.resp = 2;
    script_current = run;
    if (srv.busy_reply_threshold > 0)
        lua_sethook(L, count_hook, LUA_MASKCOUNT, SCRIPT_HOOK_INSTRUCTIONS);
    int err = lua_pcall(L, 0, 1, -2);
    lua_sethook(L, NULL, 0, 0);
    script_current = NULL;
    int lua_resp = fc->reply.resp;
    if (err)
        reply_script_error(L, c, run->sha);
    else
        script_conv_lua_to_reply(L, c, lua_resp);
    lua_settop(L, 0);
    if (++gc_count >= SCRIPT_GC_PERIOD) {
        lua_gc(L, LUA_GCSTEP, SCRIPT_GC_PERIOD);
        gc_count = 0;
    }
}
