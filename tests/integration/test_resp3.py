"""RESP3 against the real memkv-server: HELLO (switching, NOPROTO, AUTH and SETNAME), the
reply shapes of RESP3 byte for byte, per-connection protocols, blocking replies, and redis-cli
in RESP3 mode (-3). Where a test states the bytes Redis sends, it checks them against Debian's
redis-server 7.0 in the same run, so the expectations are Redis's own.

Debian 12's python3-redis (4.3) has no protocol=3 and its hiredis parser no RESP3, so RESP3 is
spoken over a raw socket with tests/diff/resp.py, which keeps every reply's type: ("map",
[(k, v), ...]), ("set", [...]), ("double", b"1.5"), ("null",), ("verbatim", b"txt", text)."""
import os
import subprocess
import sys
import threading
import time

import pytest

from exporter_harness import RedisServer
from helpers import Resp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diff"))
from resp import Conn, encode  # noqa: E402 (the differential test's typed RESP2/RESP3 client)


@pytest.fixture(scope="module")
def redis_server():
    s = RedisServer()
    yield s
    s.stop()


def conn(server):
    return Conn((server.host, server.port), timeout=30)


def rconn(redis_server):
    return Conn(("127.0.0.1", redis_server.port), timeout=30)


def fields(reply):
    """HELLO's reply as a dict, from a RESP3 map or a RESP2 flat array."""
    if reply[0] == "map":
        return {k[1]: v for k, v in reply[1]}
    items = reply[1]
    return {k[1]: v for k, v in zip(items[0::2], items[1::2])}


# ---- HELLO ----


def test_hello_switches_protocol(server):
    c = conn(server)
    my_id = c.call([b"CLIENT", b"ID"])
    r = c.call([b"HELLO"])
    assert r[0] == "array" and len(r[1]) == 14
    assert fields(r)[b"proto"] == ("int", 2)
    assert c.call([b"GET", b"missing"]) == ("nil",)

    r = c.call([b"HELLO", b"3"])
    assert r[0] == "map"
    # Redis 7.0's fields, in its order.
    assert [k for k, _ in r[1]] == [("bulk", x) for x in (b"server", b"version", b"proto", b"id",
                                                         b"mode", b"role", b"modules")]
    f = fields(r)
    assert f[b"proto"] == ("int", 3)
    assert f[b"id"] == my_id
    assert f[b"version"] == ("bulk", b"7.0.0")
    assert f[b"mode"] == ("bulk", b"standalone")
    assert f[b"role"] == ("bulk", b"master")
    assert f[b"modules"] == ("array", [])
    # Every later reply is RESP3; HELLO without a version answers in the current protocol.
    assert c.call([b"GET", b"missing"]) == ("null",)
    assert fields(c.call([b"HELLO"]))[b"proto"] == ("int", 3)
    assert c.call([b"HELLO"])[0] == "map"
    # And back: the reply to HELLO 2 is already RESP2.
    r = c.call([b"HELLO", b"2"])
    assert r[0] == "array" and fields(r)[b"proto"] == ("int", 2)
    assert c.call([b"GET", b"missing"]) == ("nil",)
    c.close()


@pytest.mark.parametrize("version", [b"1", b"4", b"0", b"-1", b"9223372036854775807"])
def test_hello_noproto(server, version):
    c = conn(server)
    # Redis 7.0's text, exactly (checked against redis-server in test_hello_errors_as_redis).
    assert c.call([b"HELLO", version]) == ("error", b"NOPROTO unsupported protocol version")
    assert c.call([b"GET", b"missing"]) == ("nil",)
    assert c.call([b"HELLO", b"3"])[0] == "map"
    # A refused version leaves the connection in the protocol it spoke.
    assert c.call([b"HELLO", version]) == ("error", b"NOPROTO unsupported protocol version")
    assert c.call([b"GET", b"missing"]) == ("null",)
    c.close()


HELLO_ERRORS = [
    [b"HELLO", b"4"],
    [b"HELLO", b"abc"],
    [b"HELLO", b""],
    [b"HELLO", b"9223372036854775808"],
    [b"HELLO", b"3", b"BOGUS"],
    [b"HELLO", b"3", b"AUTH", b"default"],
    [b"HELLO", b"3", b"SETNAME"],
    [b"HELLO", b"3", b"SETNAME", b"a b"],
]


def test_hello_errors_as_redis(server, redis_server):
    """Each refused HELLO answers Redis's error and leaves the connection in RESP2."""
    for argv in HELLO_ERRORS:
        got = []
        for c in (conn(server), rconn(redis_server)):
            got.append((c.call(argv), c.call([b"GET", b"missing"])))
            c.close()
        assert got[0] == got[1], argv
        assert got[0][0][0] == "error" and got[0][1] == ("nil",), (argv, got[0])


def test_hello_auth_setname(server_factory):
    s = server_factory(args=["--requirepass", "s3cret"])
    c = conn(s)
    noauth = c.call([b"HELLO", b"3"])
    assert noauth[0] == "error" and noauth[1].startswith(b"NOAUTH HELLO must be called")
    assert c.call([b"HELLO", b"3", b"AUTH", b"default", b"wrong"]) == (
        "error", b"WRONGPASS invalid username-password pair or user is disabled.")
    # Neither switched the protocol (and the client is not logged in).
    assert c.call([b"GET", b"k"]) == ("error", b"NOAUTH Authentication required.")
    r = c.call([b"HELLO", b"3", b"AUTH", b"default", b"s3cret", b"SETNAME", b"conn-1"])
    assert r[0] == "map" and fields(r)[b"proto"] == ("int", 3)
    assert c.call([b"CLIENT", b"GETNAME"]) == ("bulk", b"conn-1")
    assert c.call([b"GET", b"k"]) == ("null",)
    info = c.call([b"CLIENT", b"INFO"])
    assert info[0] == "verbatim" and info[1] == b"txt"
    assert b" name=conn-1 " in info[2] and info[2].endswith(b" resp=3\n")
    # SETNAME alone (already authenticated), the name replaced.
    r = c.call([b"HELLO", b"2", b"SETNAME", b"conn-2"])
    assert r[0] == "array" and fields(r)[b"proto"] == ("int", 2)
    assert c.call([b"CLIENT", b"GETNAME"]) == ("bulk", b"conn-2")
    assert c.call([b"CLIENT", b"INFO"])[1].endswith(b" resp=2\n")
    c.close()


def test_reset(server_factory):
    """RESET: back to RESP2, db 0, no name; with a password set, logged out (as Redis 7.0)."""
    s = server_factory(args=["--requirepass", "s3cret"])
    c = conn(s)
    assert c.call([b"RESET"]) == ("status", b"RESET")  # allowed before AUTH
    assert c.call([b"HELLO", b"3", b"AUTH", b"default", b"s3cret", b"SETNAME", b"n1"])[0] == "map"
    assert c.call([b"SELECT", b"3"]) == ("status", b"OK")
    assert c.call([b"RESET", b"x"]) == ("error", b"ERR wrong number of arguments for 'reset' command")
    assert c.call([b"RESET"]) == ("status", b"RESET")
    assert c.call([b"GET", b"k"]) == ("error", b"NOAUTH Authentication required.")
    assert c.call([b"AUTH", b"s3cret"]) == ("status", b"OK")
    assert c.call([b"GET", b"k"]) == ("nil",)
    info = c.call([b"CLIENT", b"INFO"])
    assert info[0] == "bulk" and b" name= " in info[1] and b" db=0 " in info[1]
    assert info[1].endswith(b" resp=2\n")
    c.close()


def test_reset_without_password(server):
    c = conn(server)
    c.call([b"HELLO", b"3"])
    assert c.call([b"RESET"]) == ("status", b"RESET")
    assert c.call([b"GET", b"k"]) == ("nil",)  # still logged in: there is no password


# ---- reply shapes ----

# (command, Redis 7.0's RESP3 reply), on a server where SETUP ran; checked against both servers.
SETUP = [
    [b"HSET", b"h", b"a", b"1", b"b", b"2"],
    [b"SADD", b"s", b"3", b"1", b"2"],
    [b"ZADD", b"z", b"1.1", b"a", b"2", b"b", b"inf", b"c"],
    [b"RPUSH", b"l", b"x", b"y"],
    [b"SET", b"str", b"v"],
]
SHAPES = [
    ([b"GET", b"missing"], b"_\r\n"),
    ([b"GET", b"str"], b"$1\r\nv\r\n"),
    ([b"MGET", b"str", b"missing"], b"*2\r\n$1\r\nv\r\n_\r\n"),
    ([b"HGETALL", b"h"], b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"),
    ([b"HGETALL", b"missing"], b"%0\r\n"),
    ([b"HGET", b"h", b"zz"], b"_\r\n"),
    ([b"HMGET", b"h", b"a", b"zz"], b"*2\r\n$1\r\n1\r\n_\r\n"),
    ([b"HRANDFIELD", b"missing"], b"_\r\n"),
    ([b"HSCAN", b"h", b"0"], b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"),
    ([b"HINCRBYFLOAT", b"h", b"f", b"1.5"], b"$3\r\n1.5\r\n"),  # a bulk string in RESP3 too
    ([b"SMEMBERS", b"s"], b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
    ([b"SMEMBERS", b"missing"], b"~0\r\n"),
    ([b"SINTER", b"s", b"s"], b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
    ([b"SINTER", b"s", b"missing"], b"~0\r\n"),
    ([b"SUNION", b"s", b"missing"], b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
    ([b"SDIFF", b"s", b"missing"], b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
    ([b"SRANDMEMBER", b"s", b"5"], b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),  # an array
    ([b"SRANDMEMBER", b"missing"], b"_\r\n"),
    ([b"SPOP", b"missing"], b"_\r\n"),
    ([b"SPOP", b"missing", b"2"], b"~0\r\n"),
    ([b"SPOP", b"s", b"0"], b"~0\r\n"),
    ([b"SMISMEMBER", b"s", b"1", b"9"], b"*2\r\n:1\r\n:0\r\n"),
    ([b"ZSCORE", b"z", b"a"], b",1.1000000000000001\r\n"),
    ([b"ZSCORE", b"z", b"c"], b",inf\r\n"),
    ([b"ZSCORE", b"z", b"zz"], b"_\r\n"),
    ([b"ZMSCORE", b"z", b"b", b"zz"], b"*2\r\n,2\r\n_\r\n"),
    ([b"ZRANK", b"z", b"zz"], b"_\r\n"),
    ([b"ZRANGE", b"z", b"0", b"1"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    ([b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"],
     b"*3\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,2\r\n"
     b"*2\r\n$1\r\nc\r\n,inf\r\n"),
    ([b"ZREVRANGEBYSCORE", b"z", b"2", b"-inf", b"WITHSCORES"],
     b"*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n"),
    ([b"ZUNION", b"1", b"z", b"WITHSCORES"],
     b"*3\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,2\r\n"
     b"*2\r\n$1\r\nc\r\n,inf\r\n"),
    ([b"ZRANGE", b"missing", b"0", b"-1", b"WITHSCORES"], b"*0\r\n"),
    ([b"ZRANDMEMBER", b"z", b"3", b"WITHSCORES"], None),  # random order: shape checked below
    ([b"ZSCAN", b"z", b"0"],  # scores stay bulk strings
     b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$18\r\n1.1000000000000001\r\n$1\r\nb\r\n$1\r\n2\r\n"
     b"$1\r\nc\r\n$3\r\ninf\r\n"),
    ([b"ZINCRBY", b"z", b"1", b"b"], b",3\r\n"),
    ([b"ZADD", b"z", b"INCR", b"1", b"b"], b",4\r\n"),
    ([b"ZADD", b"z", b"NX", b"INCR", b"1", b"b"], b"_\r\n"),
    ([b"ZPOPMIN", b"z"], b"*2\r\n$1\r\na\r\n,1.1000000000000001\r\n"),
    ([b"ZPOPMAX", b"z", b"1"], b"*1\r\n*2\r\n$1\r\nc\r\n,inf\r\n"),
    ([b"ZPOPMIN", b"missing", b"2"], b"*0\r\n"),
    ([b"ZADD", b"z", b"5", b"e", b"6", b"f"], b":2\r\n"),
    ([b"ZMPOP", b"1", b"z", b"MIN", b"COUNT", b"2"],
     b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n,4\r\n*2\r\n$1\r\ne\r\n,5\r\n"),
    ([b"ZMPOP", b"1", b"missing", b"MIN"], b"_\r\n"),
    ([b"BZPOPMIN", b"z", b"0.01"], b"*3\r\n$1\r\nz\r\n$1\r\nf\r\n,6\r\n"),
    ([b"BZPOPMIN", b"missing", b"0.01"], b"_\r\n"),
    ([b"INCRBYFLOAT", b"fl", b"1.5"], b"$3\r\n1.5\r\n"),
    ([b"LPOP", b"missing"], b"_\r\n"),
    ([b"LPOP", b"missing", b"2"], b"_\r\n"),
    ([b"LMPOP", b"1", b"missing", b"LEFT"], b"_\r\n"),
    ([b"BLPOP", b"missing", b"0.01"], b"_\r\n"),
    ([b"LPOS", b"l", b"zz"], b"_\r\n"),
    ([b"LINDEX", b"l", b"9"], b"_\r\n"),
    ([b"GETDEL", b"missing"], b"_\r\n"),
    ([b"SET", b"str2", b"v", b"GET"], b"_\r\n"),
    ([b"OBJECT", b"ENCODING", b"missing"], b"_\r\n"),
    ([b"MEMORY", b"USAGE", b"missing"], b"_\r\n"),
    ([b"CLIENT", b"GETNAME"], b"_\r\n"),
    ([b"CLIENT", b"LIST", b"TYPE", b"pubsub"], b"=4\r\ntxt:\r\n"),
    ([b"CONFIG", b"GET", b"maxmemory"], b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
    ([b"CONFIG", b"GET", b"nosuch"], b"%0\r\n"),
    ([b"COMMAND", b"DOCS", b"nosuch"], b"%0\r\n"),
    ([b"COMMAND", b"INFO", b"nosuch"], b"*1\r\n_\r\n"),
    ([b"TTL", b"missing"], b":-2\r\n"),
]


def raw_replies(address, commands):
    """The raw bytes of each reply to commands (sent one at a time after HELLO 3), read with
    the typed parser so that a reply's end is known, then sliced out of the stream."""
    c = Conn(address, timeout=30)
    assert c.call([b"HELLO", b"3"])[0] == "map"
    out = []
    for argv in commands:
        start = c.pos
        c.send(encode(argv))
        c.read()
        out.append(bytes(c.buf[start:c.pos]))
    c.close()
    return out


@pytest.mark.parametrize("target", ["memkv", "redis"])
def test_resp3_shapes(server, redis_server, target):
    """Every expectation holds for memkv and for Debian's redis-server alike."""
    address = ((server.host, server.port) if target == "memkv"
               else ("127.0.0.1", redis_server.port))
    setup = Conn(address)
    assert setup.call([b"FLUSHALL"]) == ("status", b"OK")
    for argv in SETUP:
        assert setup.call(argv)[0] in ("int", "status")
    setup.close()
    got = raw_replies(address, [argv for argv, _ in SHAPES])
    for (argv, want), reply in zip(SHAPES, got):
        if want is not None:
            assert reply == want, (target, argv)
    # ZRANDMEMBER z 3 WITHSCORES: three [member, double] pairs.
    i = [argv for argv, _ in SHAPES].index([b"ZRANDMEMBER", b"z", b"3", b"WITHSCORES"])
    assert got[i].startswith(b"*3\r\n*2\r\n$1\r\n") and got[i].count(b"*2\r\n") == 3
    assert got[i].count(b"\r\n,") == 3


def test_resp3_text_and_stats_shapes(server):
    c = conn(server)
    c.call([b"HELLO", b"3"])
    c.call([b"SET", b"k", b"v"])
    # Text for people: verbatim with the txt format.
    for argv in ([b"INFO"], [b"INFO", b"memory"], [b"CLIENT", b"LIST"], [b"CLIENT", b"INFO"],
                 [b"MEMORY", b"DOCTOR"], [b"MEMORY", b"MALLOC-STATS"]):
        r = c.call(argv)
        if r == ("bulk", b"Stats not supported for the current allocator"):
            continue  # MALLOC-STATS without jemalloc (the sanitizer build), as Redis says it
        assert r[0] == "verbatim" and r[1] == b"txt" and r[2], argv
    assert b"redis_version:7.0.0\r\n" in c.call([b"INFO", b"server"])[2]
    # MEMORY STATS: a map; ratios and percentages are doubles, db.0 a map of its own.
    r = c.call([b"MEMORY", b"STATS"])
    assert r[0] == "map"
    stats = {k[1]: v for k, v in r[1]}
    assert stats[b"keys.count"] == ("int", 1)
    for name in (b"dataset.percentage", b"peak.percentage", b"allocator-fragmentation.ratio",
                 b"fragmentation"):
        assert stats[name][0] == "double", name
        float(stats[name][1])
    assert stats[b"db.0"][0] == "map"
    # COMMAND INFO: flags and ACL categories are sets.
    info = c.call([b"COMMAND", b"INFO", b"get"])
    entry = info[1][0][1]
    assert entry[0] == ("bulk", b"get") and entry[1] == ("int", 2)
    assert entry[2][0] == "set" and ("status", b"readonly") in entry[2][1]
    assert entry[6][0] == "set"
    docs = c.call([b"COMMAND", b"DOCS", b"get"])
    assert docs[0] == "map" and docs[1][0][0] == ("bulk", b"get") and docs[1][0][1][0] == "map"
    c.close()


def test_protocol_is_per_connection(server):
    c3, c2 = conn(server), conn(server)
    c3.call([b"HELLO", b"3"])
    c2.call([b"HSET", b"h", b"f", b"v"])
    assert c3.call([b"HGETALL", b"h"]) == ("map", [(("bulk", b"f"), ("bulk", b"v"))])
    assert c2.call([b"HGETALL", b"h"]) == ("array", [("bulk", b"f"), ("bulk", b"v")])
    assert c3.call([b"GET", b"missing"]) == ("null",)
    assert c2.call([b"GET", b"missing"]) == ("nil",)
    # CLIENT LIST shows each connection's protocol.
    listing = c2.call([b"CLIENT", b"LIST"])[1]
    assert sorted(line.rsplit(b" ", 1)[1] for line in listing.split(b"\n") if line) == [
        b"resp=2", b"resp=3"]
    c3.close()
    c2.close()


def test_resp3_pipeline(server):
    """Ordinary work pipelined in RESP3: a thousand SET/GET/INCR/ZADD/ZSCORE in one write."""
    c = conn(server)
    c.call([b"HELLO", b"3"])
    cmds = []
    for i in range(1000):
        k = b"key:%d" % i
        cmds += [[b"SET", k, b"v%d" % i], [b"GET", k], [b"INCR", b"n"],
                 [b"ZADD", b"z", b"%d.5" % i, k], [b"ZSCORE", b"z", k], [b"GET", k + b":no"]]
    c.send(b"".join(encode(a) for a in cmds))
    for i in range(1000):
        assert c.read() == ("status", b"OK")
        assert c.read() == ("bulk", b"v%d" % i)
        assert c.read() == ("int", i + 1)
        assert c.read() == ("int", 1)
        assert c.read() == ("double", b"%d.5" % i)
        assert c.read() == ("null",)
    assert c.call([b"DBSIZE"]) == ("int", 1002)
    c.close()


def test_resp3_blocking(server):
    """A client blocked in RESP3 is answered in RESP3 when another (RESP2) client serves it,
    and a timeout is RESP3's null."""
    waiter, pusher = conn(server), Resp(server)
    waiter.call([b"HELLO", b"3"])
    assert waiter.call([b"BLPOP", b"q", b"0.05"]) == ("null",)
    assert waiter.call([b"BZPOPMIN", b"zq", b"0.05"]) == ("null",)
    results = []

    def wait():
        results.append(waiter.call([b"BZPOPMIN", b"zq", b"10"]))
        results.append(waiter.call([b"BLPOP", b"q", b"10"]))

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)
    assert pusher("ZADD", "zq", "2.5", "m") == 1
    time.sleep(0.2)
    assert pusher("RPUSH", "q", "x") == 1
    t.join(20)
    assert results == [("array", [("bulk", b"zq"), ("bulk", b"m"), ("double", b"2.5")]),
                       ("array", [("bulk", b"q"), ("bulk", b"x")])]
    waiter.close()
    pusher.close()


# ---- redis-cli -3 ----

CLI_SCRIPT = """\
SET k v
GET k
GET missing
HSET h a 1 b 2
HGETALL h
SADD s 3 1 2
SMEMBERS s
ZADD z 1.5 a 2 b inf c
ZRANGE z 0 -1 WITHSCORES
ZSCORE z a
ZMSCORE z a nope c
ZPOPMIN z 2
CONFIG GET maxmemory
MGET k missing
INCRBYFLOAT f 2.5
"""


def run_cli(port):
    out = subprocess.run(["redis-cli", "-3", "--no-raw", "-h", "127.0.0.1", "-p", str(port)],
                         input=CLI_SCRIPT, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def test_redis_cli_resp3(server, redis_server):
    """redis-cli in RESP3 mode (it opens with HELLO 3) shows memkv's replies as it shows
    Redis's: maps, sets, doubles and nulls rendered by their RESP3 types."""
    Resp(server)("FLUSHALL")
    redis_server.client().flushall()
    got, want = run_cli(server.port), run_cli(redis_server.port)
    assert got == want
    assert "1# \"a\" => \"1\"" in got and "1~ \"1\"" in got and "(double) 1.5" in got
