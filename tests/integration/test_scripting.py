"""Lua scripting (EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT) against the real memkv-server and
Debian's redis-server 7.0.15 in the same test: every case sends the same command to both and
compares the raw reply bytes (RESP2 and RESP3), so the expectations are Redis's own: the
conversion rules both ways, error texts raised inside scripts, pcall of a failing command, the
sandbox, shebang flags and EVAL_RO, commands refused inside scripts.

Then behaviour on memkv (and Redis where it has it): a busy script and SCRIPT KILL from a second
client, the script cache staying under lua-script-cache-max while a client sends thousands of
distinct scripts, WATCH and keyspace notifications fed by script writes, and real scripts as
libraries write them: redis-py's Lock (acquire / extend / release through its own Lua), a
token-bucket rate limiter, a delayed-job queue move.
"""
import shutil
import socket

import pytest
import redis

from exporter_harness import RedisServer
from helpers import wait_until

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="needs Debian's redis-server")


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _reply_end(buf, pos):
    """Index after the reply starting at pos, or None when incomplete."""
    if pos >= len(buf):
        return None
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    t = buf[pos:pos + 1]
    head = buf[pos + 1:eol]
    nxt = eol + 2
    if t in (b"+", b"-", b":", b"_", b"#", b",", b"("):
        return nxt
    if t in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return nxt
        return nxt + n + 2 if len(buf) >= nxt + n + 2 else None
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(head)
        if n < 0:
            return nxt
        if t in (b"%", b"|"):
            n *= 2
        for _ in range(n):
            nxt = _reply_end(buf, nxt)
            if nxt is None:
                return None
        if t == b"|":  # an attribute precedes the real reply
            return _reply_end(buf, nxt)
        return nxt
    raise AssertionError("bad reply type %r in %r" % (t, buf[:200]))


class Raw:
    """One connection speaking raw RESP: call() returns a reply's exact bytes."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, *args):
        self.sock.sendall(_encode(args))

    def read(self):
        while True:
            end = _reply_end(self.buf, 0)
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def call(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.sock.close()


class Pair:
    """memkv and redis-server side by side: the same command to both, replies compared."""

    def __init__(self, memkv, redis_server):
        self.memkv, self.redis = memkv, redis_server
        self.m = Raw(memkv.port)
        self.r = Raw(redis_server.port)

    def both(self, *args):
        return self.m.call(*args), self.r.call(*args)

    def same(self, *args):
        got, want = self.both(*args)
        assert got == want, "%r\n memkv: %r\n redis: %r" % (args, got, want)
        return got


@pytest.fixture
def pair(server_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("needs Debian's redis-server")
    m = server_factory(("--enable-debug-command", "yes"))
    r = RedisServer("--enable-debug-command", "yes")
    p = Pair(m, r)
    yield p
    p.m.close()
    p.r.close()
    r.stop()


# Scripts whose replies must be byte for byte Redis's, under RESP2 and RESP3.
CONVERSIONS = [
    "return 1",
    "return 3.99",
    "return -3.7",
    "return 'x'",
    "return true",
    "return false",
    "return nil",
    "return {1, 2.9, -3.7, 'x', false, true, nil, 5}",
    "return {1, {2, {3, 'a'}}, {ok='st'}, {err='E bad'}}",
    "return {ok='FINE'}",
    "return {ok='two\\r\\nlines'}",
    "return {err='My Error'}",
    "return {err=5}",
    "return {ok=5}",
    "return {a=1}",
    "return {double=3.5}",
    "return {double=0.1}",
    "return {big_number='123456789012345678901234567890'}",
    "return {map={a=1}}",
    "return {set={a=1}}",
    "return 1e300",
    "return -1e300",
    "return 0/0",
    "return 9007199254740993",
    "return redis.status_reply('FINE')",
    "return redis.status_reply('')",
    "return redis.error_reply('My Error')",
    "return redis.error_reply('-My Error')",
    "return redis.error_reply('Oops')",
    "return redis.error_reply('')",
    "return redis.error_reply(1)",
    "return redis.status_reply()",
    "redis.setresp(3); return false",
    "redis.setresp(3); return true",
    "redis.setresp(3); return {map={a=1}}",
    "redis.setresp(3); return {double=3.5}",
    "redis.setresp(3); return {set={a=1}}",
    "redis.setresp(3); return redis.call('hgetall', 'h')",
    "redis.setresp(3); local t = redis.call('hgetall', 'h'); return {t.map.f, t.map.g}",
    "redis.setresp(3); return redis.call('get', 'nokey')",
    "redis.setresp(3); return tostring(redis.call('get', 'nokey'))",
    "return tostring(redis.call('get', 'nokey'))",
    "redis.setresp(3); return redis.call('zscore', 'z', 'a')",
    "redis.setresp(3); return tostring(redis.call('zscore', 'z', 'a').double)",
    "redis.setresp(3); return redis.call('smembers', 'sset')",
    "redis.setresp(3); return tostring(redis.call('smembers', 'sset').set.m1)",
    "redis.setresp(3); return redis.call('exists', 'h')",
    "return redis.call('zscore', 'z', 'a')",
    "return redis.call('hgetall', 'h')",
    "return redis.call('ping')",
    "return redis.call('echo', 0.1)",
    "return redis.call('echo', 1.5)",
    "return redis.call('echo', 100)",
    "return redis.call('echo', -0.0)",
    "return redis.call('echo', -7)",
    "return redis.call('echo', 99999999999999999)",
    "return redis.call('echo', 100000000000000000)",
    "return redis.call('echo', -100000000000000000)",
    "return redis.call('echo', 12345678901234567)",
    "return redis.call('echo', 2^63)",
    "return redis.call('echo', 1/0)",
    "return redis.call('echo', -1/0)",
    "return redis.call('echo', 1e-300)",
    "return type(redis.call('ping'))",
    "return redis.call('ping').ok",
    "return redis.pcall('incr', 'h')",
    "return redis.pcall('incr', 'h').err",
    "return redis.pcall('nosuch')",
    "return redis.pcall('incr', 'a', 'b')",
    "return redis.pcall()",
    "return redis.pcall('set', 'k', {})",
    "return redis.pcall('subscribe', 'x')",
    "return {pcall(redis.call, 'incr', 'h')}",
    "return cjson.encode({1, 2, {a='b'}})",
    "return cjson.decode('[1,2,{\"a\":[3]}]')[3].a[1]",
    "return bit.band(7, 3)",
    "return bit.bxor(5, 3)",
    "return bit.tohex(255)",
    "return redis.sha1hex('abc')",
    "return redis.sha1hex('')",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.replicate_commands()",
    "return redis.log(redis.LOG_WARNING, 'from a script', 1)",
    "return redis.breakpoint()",
    "return type(redis.debug)",
    "return KEYS[1] .. ARGV[1] .. #KEYS .. #ARGV",
    "KEYS[1] = 'changed' return KEYS[1]",
    "local t = {} t.x = 1 return t.x",
    "return type(coroutine)",
    "return type(loadstring)",
    "return loadstring('return 7')()",
    "return type(unpack)",
    "return string.format('%d-%s', 5, 'x')",
    "return string.rep('ab', 3)",
    "return table.concat({'a', 'b'}, ',')",
    "return math.floor(7.9)",
    "return tonumber('12') + 1",
    "return select('#', 1, 2, 3)",
    "return type(_G)",
    "return {pcall(error, 'x')}",
    "return {pcall(error, {err='inner'})}",
    "return redis.call('select', 3)",
    "redis.call('select', 3) return redis.call('set', 'in3', 'v')",
    "return redis.call('get', 'in3')",
    "return redis.call('lpush', 'l', 'a', 'b')",
    "return redis.call('lrange', 'l', 0, -1)",
    "return redis.call('blmpop', 0.01, 1, 'nolist', 'LEFT')",
    "return redis.call('object', 'encoding', 'h')",
    "return redis.call('type', 'h')",
    "return redis.call('sadd', 'sset', 'm2')",
    "return redis.call('hello')",
]

# Errors raised inside scripts, refused commands, sandbox escapes, shebang flags.
ERRORS = [
    "return foo",
    "x = 1",
    "error('boom')",
    "error({err='boom2'})",
    "error({err='CODE with a code'})",
    "error()",
    "error(5)",
    "return 1 +",
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.call('set', 'k')",
    "return redis.call()",
    "return redis.call(1)",
    "return redis.call('get', {})",
    "return redis.call('set', 'k', nil)",
    "return redis.call('incr', 'h')",
    "return redis.call('hset', 's', 'f', 'v')",
    "return redis.sha1hex()",
    "return redis.log()",
    "return redis.log(99, 'x')",
    "return redis.log('x', 'y')",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.set_repl(99)",
    "return os",
    "return io",
    "return loadfile",
    "return dofile",
    "return require",
    "return debug",
    "return print",
    "return getfenv",
    "return setfenv",
    "return newproxy",
    "return module",
    "return loadstring(string.dump(function() return 1 end))()",
    "string.x = 1",
    "redis.call = 1",
    "cjson.x = 1",
    "math.random = nil",
    "_G.x = 1",
    "rawset(_G, 'x', 1)",
    "rawset(redis, 'call', 1)",
    "setmetatable(_G, {})",
    "setmetatable(string, {})",
    "table.x = 1",
    "return redis.call('subscribe', 'x')",
    "return redis.call('multi')",
    "return redis.call('exec')",
    "return redis.call('watch', 'k')",
    "return redis.call('blpop', 'l', 0)",
    "return redis.call('brpop', 'l', 0)",
    "return redis.call('bzpopmin', 'z', 0)",
    "return redis.call('eval', 'return 1', 0)",
    "return redis.call('evalsha', 'abc', 0)",
    "return redis.call('script', 'load', 'return 1')",
    "return redis.call('client', 'id')",
    "return redis.call('client', 'list')",
    "return redis.call('config', 'get', 'maxmemory')",
    "return redis.call('auth', 'x')",
    "return redis.call('monitor')",
    "return redis.call('shutdown')",
    "return redis.call('debug', 'sleep', 0)",
    "return redis.call('role')",
    "return redis.call('wait', 0, 0)",
    "return redis.call('quit')",
    "return redis.call('reset')",
    "local t = {} for i = 1, 100 do t = {t} end return #t",
    "#!lua flags=bad\nreturn 1",
    "#!lua name=x\nreturn 1",
    "#!lu\nreturn 1",
    "#!lua",
    "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
    "#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'a')",
    "#!lua flags=\nreturn 1",
    "#!lua\nreturn redis.call('set', 'a', 'b')",
    "#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 2",
]


def setup_data(p):
    for args in (("flushall",), ("hset", "h", "f", "v", "g", "w"), ("zadd", "z", "1.5", "a"),
                 ("sadd", "sset", "m1"), ("set", "s", "str")):
        p.same(*args)


@pytest.mark.parametrize("proto", [2, 3])
def test_conversions_match_redis(pair, proto):
    if proto == 3:
        pair.both("hello", "3")
    setup_data(pair)
    for script in CONVERSIONS:
        pair.same("eval", script, 1, "key1", "arg1")


@pytest.mark.parametrize("proto", [2, 3])
def test_errors_and_sandbox_match_redis(pair, proto):
    if proto == 3:
        pair.both("hello", "3")
    setup_data(pair)
    for script in ERRORS:
        pair.same("eval", script, 0)
        pair.same("eval_ro", script, 0)
    # the sandbox held: nothing leaked into later scripts
    pair.same("eval", "return type(redis.call)", 0)
    pair.same("eval", "return rawget(_G, 'x')", 0)


def test_commands_match_redis(pair):
    setup_data(pair)
    cases = [
        ("eval", "return 1", -1), ("eval", "return 1", 2, "a"), ("eval", "return 1", "x"),
        ("eval", "return 1"), ("eval",), ("evalsha", "0123456789012345678901234567890123456789", 0),
        ("evalsha", "abc", 0), ("evalsha_ro", "abc", 0),
        ("script", "load", "return 'loaded'"),
        ("evalsha", "6bb19be45c85b0843b75c46bf4a9e0327b11bf17", 0),
        ("evalsha", "6BB19BE45C85B0843B75C46BF4A9E0327B11BF17", 0),
        ("evalsha_ro", "6bb19be45c85b0843b75c46bf4a9e0327b11bf17", 0),
        ("script", "exists", "6bb19be45c85b0843b75c46bf4a9e0327b11bf17", "nope"),
        ("script", "load", "return +"), ("script", "load"), ("script", "load", "a", "b"),
        ("script", "load", "#!lua flags=bad\nreturn 1"),
        ("script", "exists"), ("script", "flush", "bad"), ("script", "flush", "async", "x"),
        ("script", "kill"), ("script", "kill", "x"), ("script",), ("script", "foo"),
        ("script", "help"), ("script", "debug", "no"),
        ("script", "flush"), ("script", "exists", "6bb19be45c85b0843b75c46bf4a9e0327b11bf17"),
        ("script", "flush", "sync"), ("script", "flush", "ASYNC"),
        ("eval_ro", "return redis.call('set', 'a', 'b')", 0),
        ("eval_ro", "return redis.call('get', 's')", 0),
        ("eval", "return redis.call('get', KEYS[1])", 1, "s"),
        ("multi",), ("eval", "return redis.call('incr', 'cnt')", 0),
        ("eval", "return redis.call('incr', 'cnt')", 0), ("exec",),
        ("multi",), ("eval", "return 1"), ("exec",),
        ("multi",), ("script", "load", "return 1"), ("script", "nope"), ("exec",),
        ("config", "get", "lua-time-limit"), ("config", "get", "busy-reply-threshold"),
    ]
    for args in cases:
        pair.same(*args)


def test_math_random_is_seeded_deterministically(pair):
    """Every fresh server gives the same sequence (scripts can be replayed)."""
    script = "return {math.random(1000), math.random(1000), math.floor(math.random() * 1e6)}"
    first = pair.m.call("eval", script, 0)
    server2 = Raw(pair.memkv.port)
    server2.call("script", "flush")
    assert server2.call("eval", script, 0) == first
    server2.close()
    pair.same("eval", "math.randomseed(7) return math.random(1000000)", 0)


def test_writes_feed_watch_notifications_and_stats(server_factory):
    server = server_factory(("--enable-debug-command", "yes"))
    r = server.client()
    w = server.client()
    r.set("k", "1")
    with w.pipeline() as p:
        p.watch("k")
        r.eval("redis.call('incr', KEYS[1])", 1, "k")
        p.multi()
        p.get("k")
        with pytest.raises(redis.WatchError):
            p.execute()
    r.config_set("notify-keyspace-events", "KEA")
    ps = w.pubsub()
    ps.psubscribe("__keyspace@0__:*")
    assert ps.get_message(timeout=5)["type"] == "psubscribe"
    r.eval("redis.call('set', KEYS[1], 'v') redis.call('expire', KEYS[1], 100)", 1, "n")
    events = []
    wait_until(lambda: events.append(ps.get_message(timeout=0.5)) or
               [e for e in events if e and e["data"] == b"expire"], timeout=10)
    assert [e["data"] for e in events if e] == [b"set", b"expire"]
    ps.close()
    # the commands a script runs count as processed commands, as in Redis
    before = r.info("stats")["total_commands_processed"]
    r.eval("redis.call('incr', 'c') redis.call('incr', 'c') return 1", 0)
    assert r.info("stats")["total_commands_processed"] == before + 4  # INFO, EVAL, INCR x2
    r.execute_command("DEBUG", "KEYSPACE-STATS-CHECK")


def test_maxmemory_refuses_scripts_that_may_grow(both_servers):
    for s in both_servers:
        c = s.client()
        c.set("big", "x" * 100000)
        c.config_set("maxmemory", "1")
        try:
            with pytest.raises(redis.ResponseError, match="^OOM command not allowed"):
                c.eval("return redis.call('set', 'a', 'b')", 0)
            # a read is fine, so are deletes and the no-writes / allow-oom flags
            assert c.eval("return redis.call('get', 'nokey')", 0) is None
            assert c.eval("#!lua flags=no-writes\nreturn 1", 0) == 1
            with pytest.raises(redis.ResponseError, match="^OOM command not allowed"):
                c.eval("#!lua\nreturn 1", 0)
            assert c.eval("#!lua flags=allow-oom\nreturn redis.call('set', 'a', 'b')", 0) == b"OK"
            assert c.eval("return redis.call('del', 'a', 'big')", 0) == 2
        finally:
            c.config_set("maxmemory", "0")


@pytest.fixture
def both_servers(server_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("needs Debian's redis-server")
    m = server_factory(())
    r = RedisServer()
    yield [m, r]
    r.stop()


BUSY = ("local i = 0 while true do i = i + 1 end")


def _busy_script_and_kill(port, write_first):
    c1 = Raw(port)
    c2 = Raw(port)
    c2.call("config", "set", "busy-reply-threshold", "100")
    script = ("redis.call('set', 'w', 1) " if write_first else "") + BUSY
    c1.send("eval", script, 0)
    # past the threshold, other clients get -BUSY (and PING too)
    assert wait_until(lambda: c2.call("ping").startswith(b"-BUSY"), timeout=10)
    got = c2.call("get", "x")
    assert got == (b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                   b"SHUTDOWN NOSAVE.\r\n")
    # MULTI is allowed; a command queued meanwhile fails the transaction
    assert c2.call("multi") == b"+OK\r\n"
    assert c2.call("incr", "x").startswith(b"-BUSY")
    assert c2.call("discard") == b"+OK\r\n"
    if write_first:
        assert c2.call("script", "kill").startswith(b"-UNKILLABLE Sorry the script already")
        return c1, c2
    assert c2.call("script", "kill") == b"+OK\r\n"
    reply = c1.read()
    assert reply.startswith(b"-ERR Script killed by user with SCRIPT KILL... script: ")
    assert reply.endswith(b", on @user_script:1.\r\n")
    assert c2.call("ping") == b"+PONG\r\n"
    assert c1.call("ping") == b"+PONG\r\n"
    assert c2.call("script", "kill") == b"-NOTBUSY No scripts in execution right now.\r\n"
    c1.close()
    c2.close()
    return None, None


@pytest.mark.parametrize("impl", ["memkv", pytest.param("redis", marks=needs_redis)])
def test_busy_script_and_script_kill(server_factory, impl):
    if impl == "memkv":
        s = server_factory(())
        _busy_script_and_kill(s.port, False)
        assert s.alive()
    else:
        s = RedisServer()
        try:
            _busy_script_and_kill(s.port, False)
        finally:
            s.stop()


def test_unkillable_script_ends_with_shutdown_nosave(server_factory):
    s = server_factory(())
    c1, c2 = _busy_script_and_kill(s.port, True)
    c2.send("shutdown", "nosave")
    s.proc.wait(timeout=20)
    assert s.proc.returncode == 0
    c1.close()
    c2.close()


def test_script_cache_stays_under_its_cap(server):
    r = server.client()
    r.config_set("lua-script-cache-max", "100")
    loaded = r.script_load("return 'kept'")
    for i in range(3000):
        assert r.eval("return %d" % i, 0) == i
    info = r.info("memory")
    assert info["number_of_cached_scripts"] <= 101
    assert r.info("stats")["evicted_scripts"] >= 2900
    # SCRIPT LOAD-ed scripts are kept; recent EVAL ones are still there, old ones gone
    assert r.evalsha(loaded, 0) == b"kept"
    assert r.script_exists(redis_sha("return 2999"), redis_sha("return 0")) == [True, False]
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha(redis_sha("return 0"), 0)
    # the Lua heap is bounded too: a full GC gets it back near its start
    assert info["used_memory_lua"] < 4 * 1024 * 1024
    assert info["used_memory_scripts_eval"] > 0
    r.script_flush()
    info = r.info("memory")
    assert info["number_of_cached_scripts"] == 0
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha(loaded, 0)
    assert r.info("memory")["memkv_subsystem_scripting"] > 0
    # /metrics: the same figures, once the cron has published them
    if server.metrics_port:
        import urllib.request
        from helpers import metric, parse_text

        def scraped():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.metrics_port,
                                        timeout=10) as resp:
                return parse_text(resp.read())
        def published_after_flush():
            s = scraped()
            return (metric(s, "memkv_scripts_cached") == 0 and
                    metric(s, "memkv_scripts_evicted_total") >= 2900)
        assert wait_until(published_after_flush, 10)
        s = scraped()
        assert metric(s, "memkv_memory_lua_bytes") > 0
        assert metric(s, "memkv_memory_subsystem_bytes", subsystem="scripting") > 0


def redis_sha(text):
    import hashlib
    return hashlib.sha1(text.encode()).hexdigest()


# ---- scripts as libraries write them --------------------------------------------------------

TOKEN_BUCKET = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local requested = tonumber(ARGV[4])
local fill_time = capacity / rate
local ttl = math.floor(fill_time * 2)
local last_tokens = tonumber(redis.call("hget", key, "tokens"))
if last_tokens == nil then last_tokens = capacity end
local last_refreshed = tonumber(redis.call("hget", key, "ts"))
if last_refreshed == nil then last_refreshed = 0 end
local delta = math.max(0, now - last_refreshed)
local filled = math.min(capacity, last_tokens + (delta * rate))
local allowed = filled >= requested
local new_tokens = filled
if allowed then new_tokens = filled - requested end
redis.call("hset", key, "tokens", new_tokens, "ts", now)
redis.call("expire", key, ttl)
return { allowed and 1 or 0, new_tokens }
"""

QUEUE_MOVE = """
local job = redis.call('rpop', KEYS[1])
if not job then return false end
local data = cjson.decode(job)
data.attempts = (data.attempts or 0) + 1
local encoded = cjson.encode(data)
if data.attempts < tonumber(ARGV[2]) then
  redis.call('lpush', KEYS[2], encoded)
  redis.call('zadd', KEYS[3], tonumber(ARGV[1]) + data.attempts * 1000, data.id)
  return {'active', data.id, data.attempts}
end
redis.call('zadd', KEYS[4], ARGV[1], encoded)
return {'failed', data.id, data.attempts}
"""


def _library_run(c):
    out = []
    limiter = c.register_script(TOKEN_BUCKET)
    for i in range(12):
        out.append(limiter(keys=["rl:user1"], args=[2, 5, 1000 + i // 3, 1]))
    out.append(c.hgetall("rl:user1"))
    out.append(c.ttl("rl:user1"))
    mover = c.register_script(QUEUE_MOVE)
    for i in range(3):
        c.lpush("q:wait", '{"id":"job%d","attempts":0}' % i)
    for _ in range(5):
        out.append(mover(keys=["q:wait", "q:active", "q:delayed", "q:failed"],
                         args=[1700000000000, 2]))
    for _ in range(4):
        job = c.rpop("q:active")
        if job:
            c.lpush("q:wait", job)
            out.append(mover(keys=["q:wait", "q:active", "q:delayed", "q:failed"],
                             args=[1700000000000, 2]))
    out.append(c.zrange("q:delayed", 0, -1, withscores=True))
    out.append(c.zrange("q:failed", 0, -1))
    out.append(c.lrange("q:active", 0, -1))
    # redis-py's Lock: SET NX PX, then extend and release through its Lua scripts (EVALSHA,
    # NOSCRIPT -> SCRIPT LOAD on first use)
    lock = c.lock("lock:res", timeout=10)
    out.append(lock.acquire(blocking=False))
    out.append(c.lock("lock:res", timeout=10).acquire(blocking=False))
    out.append(lock.extend(20))
    out.append(0 < c.pttl("lock:res") <= 30000)
    out.append(lock.reacquire())
    lock.release()
    out.append(c.exists("lock:res"))
    stolen = c.lock("lock:res", timeout=10)
    out.append(stolen.acquire(blocking=False))
    c.set("lock:res", "someone-else")
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        stolen.release()
    with pytest.raises(redis.exceptions.LockError):
        stolen.extend(5)
    out.append(c.get("lock:res"))
    return out


def test_library_scripts_same_on_both(both_servers):
    results = [_library_run(s.client()) for s in both_servers]
    assert results[0] == results[1]
    assert results[0][0] == [1, 4]


def test_lua_heap_in_its_own_arena(server):
    """The scripting subsystem (Lua heap, script cache) allocates from a jemalloc arena of its
    own: INFO memory, MEMORY STATS and /metrics show its bytes and fragmentation, and scripts
    kept in the cache grow that arena, not the key space's."""
    r = server.client()
    info = r.info("memory")
    if not info["mem_allocator"].startswith("jemalloc-"):
        pytest.skip("per-arena figures need jemalloc")
    assert "memkv_arena_scripting_allocated" in info, sorted(info)
    before = info["memkv_arena_scripting_allocated"]
    ks_before = info["memkv_arena_keyspace_allocated"]
    # 2000 SCRIPT LOAD-ed scripts of 1 KiB each (kept): bodies and compiled functions.
    pad = "x" * 1000
    for i in range(2000):
        r.script_load("local s = '%s' return %d" % (pad, i))
    info = r.info("memory")
    grown = info["memkv_arena_scripting_allocated"] - before
    assert grown >= 2000 * 1000, grown
    assert info["memkv_arena_keyspace_allocated"] - ks_before < grown // 4
    # Every scripting byte memkv counts is in that arena (the arena may hold more: cached
    # free blocks).
    assert info["memkv_arena_scripting_allocated"] >= info["memkv_subsystem_scripting"] * 0.9
    assert info["memkv_arena_scripting_active"] >= info["memkv_arena_scripting_allocated"]
    assert info["memkv_arena_scripting_frag_ratio"] >= 1.0
    stats = r.memory_stats()
    for k in ("allocated", "active", "resident", "fragmentation.ratio"):
        assert "arena.scripting.%s" % k in stats, sorted(stats)
    assert stats["arena.scripting.allocated"] >= 2000 * 1000
    if server.metrics_port:
        import urllib.request
        from helpers import metric, parse_text
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.metrics_port,
                                    timeout=10) as resp:
            s = parse_text(resp.read())
        assert metric(s, "memkv_memory_arena_bytes", arena="scripting",
                      state="allocated") >= 2000 * 1000
