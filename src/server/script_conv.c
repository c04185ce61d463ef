/* Conversions between replies and Lua values, with Redis 7.0's rules (see script.h). */
#include "server/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* ---- a command's reply -> Lua ---------------------------------------------------------- */

/* The number after the type byte, up to CRLF; *next is the index after the CRLF. The reply
 * writer wrote it, so it is well formed: digits with an optional '-' ("$-1"). */
static long long read_len(const char *buf, size_t len, size_t pos, size_t *next) {
    const char *p = buf + pos + 1, *end = buf + len;
    int neg = p < end && *p == '-';
    unsigned long long v = 0;
    for (p += neg; p < end && *p != '\r'; p++)
        v = v * 10 + (unsigned long long)(*p - '0');
    *next = (size_t)(p - buf) + 2;
    return neg ? -(long long)v : (long long)v;
}

static void push_field_table(lua_State *L, const char *field, const char *s, size_t n) {
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushlstring(L, s, n);
    lua_settable(L, -3);
}

static size_t to_lua(lua_State *L, const char *buf, size_t len, size_t pos, int resp);

/* n elements into the table on the top: as array items (set: keys = true; map: pairs). */
static size_t fill(lua_State *L, const char *buf, size_t len, size_t pos, long long n, int kind,
                   int resp) {
    for (long long i = 0; i < n; i++) {
        if (kind == 'a') {
            lua_pushnumber(L, (lua_Number)(i + 1));
            pos = to_lua(L, buf, len, pos, resp);
            lua_settable(L, -3);
        } else if (kind == 's') {
            pos = to_lua(L, buf, len, pos, resp);
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        } else {
            pos = to_lua(L, buf, len, pos, resp);
            pos = to_lua(L, buf, len, pos, resp);
            lua_settable(L, -3);
        }
    }
    return pos;
}

static size_t to_lua(lua_State *L, const char *buf, size_t len, size_t pos, int resp) {
    (void)resp;
    luaL_checkstack(L, 4, "reached lua stack limit");
    size_t next;
    const char *p = buf + pos;
    switch (*p) {
    case '+':
    case '-': {
        const char *crlf = memchr(p, '\r', len - pos);
        size_t n = (size_t)(crlf - p) - 1;
        push_field_table(L, *p == '+' ? "ok" : "err", p + 1, n);
        if (*p == '-') { /* counted when the command replied it (Redis 7.0's marker) */
            lua_pushstring(L, SCRIPT_ERR_COUNTED);
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        return pos + n + 3;
    }
    case ':':
        lua_pushnumber(L, (lua_Number)read_len(buf, len, pos, &next));
        return next;
    case '$': {
        long long n = read_len(buf, len, pos, &next);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        lua_pushlstring(L, buf + next, (size_t)n);
        return next + (size_t)n + 2;
    }
    case '*': {
        long long n = read_len(buf, len, pos, &next);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        lua_newtable(L);
        return fill(L, buf, len, next, n, 'a', resp);
    }
    case '%':
    case '~': {
        long long n = read_len(buf, len, pos, &next);
        lua_newtable(L);
        lua_pushstring(L, *p == '%' ? "map" : "set");
        lua_newtable(L);
        next = fill(L, buf, len, next, n, *p == '%' ? 'm' : 's', resp);
        lua_settable(L, -3);
        return next;
    }
    case '_':
        lua_pushnil(L);
        return pos + 3;
    case '#':
        lua_pushboolean(L, p[1] == 't');
        return pos + 4;
    case ',': {
        const char *crlf = memchr(p, '\r', len - pos);
        char tmp[64];
        size_t n = (size_t)(crlf - p) - 1;
        if (n >= sizeof(tmp)) n = sizeof(tmp) - 1;
        memcpy(tmp, p + 1, n);
        tmp[n] = '\0';
        lua_newtable(L);
        lua_pushstring(L, "double");
        lua_pushnumber(L, strtod(tmp, NULL));
        lua_settable(L, -3);
        return (size_t)(crlf - buf) + 2;
    }
    case '(': {
        const char *crlf = memchr(p, '\r', len - pos);
        size_t n = (size_t)(crlf - p) - 1;
        push_field_table(L, "big_number", p + 1, n);
        return pos + n + 3;
    }
    case '=': { /* "fmt:text" */
        long long n = read_len(buf, len, pos, &next);
        lua_newtable(L);
        lua_pushstring(L, "verbatim_string");
        lua_newtable(L);
        lua_pushstring(L, "format");
        lua_pushlstring(L, buf + next, 3);
        lua_settable(L, -3);
        lua_pushstring(L, "string");
        lua_pushlstring(L, buf + next + 4, (size_t)n - 4);
        lua_settable(L, -3);
        lua_settable(L, -3);
        return next + (size_t)n + 2;
    }
    case '>': { /* push data is not a reply: skipped, as Redis does */
        long long n = read_len(buf, len, pos, &next);
        lua_newtable(L);
        next = fill(L, buf, len, next, n, 'a', resp);
        lua_pop(L, 1);
        return to_lua(L, buf, len, next, resp);
    }
    default: /* never written by the reply writer */
        lua_pushnil(L);
        return len;
    }
}

size_t script_conv_reply_to_lua(lua_State *L, const char *buf, size_t len, int resp) {
    return to_lua(L, buf, len, 0, resp);
}

/* ---- a script's Lua value -> the caller's reply ---------------------------------------- */

/* A field of the table on the top, by rawget; its type (value pushed, caller pops). */
static int raw_field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    return lua_type(L, -1);
}

/* Text as a status/error line: CR and LF become spaces. */
static void add_line(reply_buf *rb, int type, const char *s, size_t n) {
    char stackbuf[256];
    char *line = n + 2 <= sizeof(stackbuf) ? stackbuf : alloc_malloc(ALLOC_SUB_SCRIPTING, n + 2);
    line[0] = (char)type;
    for (size_t i = 0; i < n; i++)
        line[i + 1] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    reply_add_raw(rb, line, n + 1);
    reply_add_raw(rb, "\r\n", 2);
    if (line != stackbuf) alloc_free(ALLOC_SUB_SCRIPTING, line);
}

/* (long long) of a double as x86-64 converts it: out of range and NaN give LLONG_MIN. */
static long long lua_number_to_ll(lua_Number d) {
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return INT64_MIN;
    return (long long)d;
}

static void to_reply(lua_State *L, client *c, int lua_resp) {
    reply_buf *rb = &c->reply;
    if (!lua_checkstack(L, 4)) {
        reply_error(c, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_add_bulk(rb, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (lua_resp == 2) {
            if (lua_toboolean(L, -1))
                reply_add_int(rb, 1);
            else
                reply_add_null(rb);
        } else {
            reply_add_bool(rb, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        reply_add_int(rb, lua_number_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE: {
        size_t n;
        if (raw_field(L, "err") == LUA_TSTRING) {
            const char *s = lua_tolstring(L, -1, &n);
            lua_pop(L, 1);
            int counted = raw_field(L, SCRIPT_ERR_COUNTED) == LUA_TBOOLEAN && lua_toboolean(L, -1);
            lua_pop(L, 1);
            error_reply_count(s, n, counted);
            add_line(rb, '-', s, n);
            break;
        }
        lua_pop(L, 1);
        if (raw_field(L, "ok") == LUA_TSTRING) {
            const char *s = lua_tolstring(L, -1, &n);
            add_line(rb, '+', s, n);
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        if (raw_field(L, "double") == LUA_TNUMBER) {
            reply_add_double(rb, lua_tonumber(L, -1));
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        if (raw_field(L, "big_number") == LUA_TSTRING) {
            const char *s = lua_tolstring(L, -1, &n);
            if (rb->resp == 3)
                add_line(rb, '(', s, n);
            else
                reply_add_bulk(rb, s, n);
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        int is_map = raw_field(L, "map") == LUA_TTABLE;
        if (!is_map) {
            lua_pop(L, 1);
            if (raw_field(L, "set") != LUA_TTABLE) {
                lua_pop(L, 1);
                goto array;
            }
        }
        /* map / set: the inner table is on the top; count, then write */
        long long count = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            count++;
        }
        if (is_map)
            reply_add_map_len(rb, count);
        else
            reply_add_set_len(rb, count);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2); /* key, value, key */
            to_reply(L, c, lua_resp);
            if (is_map)
                to_reply(L, c, lua_resp);
            else
                lua_pop(L, 1);
        }
        lua_pop(L, 1);
        break;
    array : {
        /* Elements 1, 2, ... up to the first nil. */
        long long len = 0;
        for (;;) {
            lua_rawgeti(L, -1, (int)(len + 1));
            int nil = lua_isnil(L, -1);
            lua_pop(L, 1);
            if (nil) break;
            len++;
        }
        reply_add_array_len(rb, len);
        for (long long i = 1; i <= len; i++) {
            lua_rawgeti(L, -1, (int)i);
            to_reply(L, c, lua_resp);
        }
        break;
    }
    }
    default: /* nil, functions, userdata */
        reply_add_null(rb);
    }
    lua_pop(L, 1);
}

void script_conv_lua_to_reply(lua_State *L, client *c, int lua_resp) {
    to_reply(L, c, lua_resp);
}
