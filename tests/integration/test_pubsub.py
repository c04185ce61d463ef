"""Pub/sub and keyspace notifications against the real memkv-server, each behaviour checked
against Debian's redis-server 7.0 in the same run where the two must agree: the replies of
(P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PUBLISH / PUBSUB in RESP2 and RESP3 (push frames), the
subscribed-mode rule, the stream of notifications a `__key*__:*` subscriber receives for a
script of commands of every class, and Debian's python3-redis PubSub (get_message, listen,
pattern subscriptions). memkv alone: the pubsub output-buffer limit closing a slow subscriber,
MEMORY DOCTOR (and /debug/memory) naming a subscriber that does not keep up, and not one that
does, active expiry and eviction events, the subsystem, INFO and CLIENT LIST fields.

Replies are compared typed (tests/diff/resp.py), so "+OK" and "$2 OK", or a RESP2 array and a
RESP3 push, never compare equal."""
import json
import os
import socket
import sys
import threading
import time
import urllib.request

import pytest

from exporter_harness import RedisServer
from helpers import Resp, info_fields, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diff"))
from resp import CLOSED, Conn, encode  # noqa: E402


@pytest.fixture(scope="module")
def redis_server():
    s = RedisServer()
    yield s
    s.stop()


def addr(s):
    return ("127.0.0.1", s.port)


def argv(cmd):
    return [w.encode() for w in cmd.split(" ")]


# A script for two connections: (conn, command, replies to read). A subscriber waits for
# every confirmation before the publisher goes on, so the order of events is fixed.
SCRIPT = [
    (0, "SUBSCRIBE a b a", 3), (0, "PING", 1), (0, "PING hello", 1), (0, "GET k", 1),
    (0, "CONFIG GET maxmemory", 1), (0, "PSUBSCRIBE h*llo h?llo n[ae]ws \\*", 4),
    (1, "PUBLISH a m1", 1), (0, "", 1), (1, "PUBLISH hello m2", 1), (0, "", 2),
    (1, "PUBLISH hallo m3", 1), (0, "", 2), (1, "PUBLISH *", 1), (1, "PUBLISH * x", 1), (0, "", 1),
    (1, "PUBLISH news m4", 1), (0, "", 1), (1, "PUBLISH nows m5", 1), (1, "PUBLISH nobody m6", 1),
    (1, "PUBSUB NUMSUB a b c", 1), (1, "PUBSUB NUMSUB", 1), (1, "PUBSUB NUMPAT", 1),
    (1, "PUBSUB CHANNELS a*", 1), (1, "PUBSUB CHANNELS zz*", 1),
    (1, "PUBSUB NUMPAT x", 1), (1, "PUBSUB CHANNELS a b", 1), (1, "PUBSUB FOO", 1), (1, "PUBSUB", 1),
    (0, "UNSUBSCRIBE a zzz", 2), (0, "PUNSUBSCRIBE h?llo", 1), (0, "UNSUBSCRIBE", 1),
    (0, "GET k", 1), (0, "PUNSUBSCRIBE", 3), (0, "UNSUBSCRIBE", 1), (0, "PUNSUBSCRIBE", 1),
    (0, "SUNSUBSCRIBE", 1), (0, "GET k", 1),
    (0, "SSUBSCRIBE s1 s2", 2), (1, "SPUBLISH s1 hi", 1), (1, "PUBLISH s1 plain", 1), (0, "", 1),
    (1, "PUBSUB SHARDNUMSUB s1 s3", 1), (1, "PUBSUB SHARDCHANNELS s1*", 1), (0, "SUBSCRIBE c", 1),
    (0, "SUNSUBSCRIBE s1", 1), (0, "GET k", 1), (0, "RESET", 1), (0, "GET k", 1),
    (1, "PUBSUB NUMSUB c", 1), (1, "PUBSUB SHARDNUMSUB s2", 1),
    (0, "SUBSCRIBE", 1), (0, "PUBLISH a", 1), (0, "PING a b", 1), (0, "QUIT", 1),
]


def run_script(target, script, resp3):
    conns = [Conn(addr(target), timeout=5), Conn(addr(target), timeout=5)]
    if resp3:
        for c in conns:
            assert c.call(argv("HELLO 3"))[0] == "map"
    out = []
    for ci, cmd, n in script:
        c = conns[ci]
        if cmd:
            c.send(encode(argv(cmd)))
        got = [c.read() for _ in range(n)]
        out.append((ci, cmd, got))
    for c in conns:
        c.close()
    return out


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_pubsub_script_as_redis(server, redis_server, resp3):
    mine = run_script(server, SCRIPT, resp3)
    theirs = run_script(redis_server, SCRIPT, resp3)
    for (ci, cmd, a), (_, _, b) in zip(mine, theirs):
        if cmd in ("", "UNSUBSCRIBE"):  # across patterns / unsubscribe-all: table order
            a, b = sorted(map(repr, a)), sorted(map(repr, b))
        assert a == b, "conn %d %r: memkv %r, redis %r" % (ci, cmd, a, b)


def test_unsubscribe_from_nothing(server):
    """Unsubscribe-all when subscribed to nothing: the kind, a nil, 0 (RESP3: `_`)."""
    c = Conn(addr(server))
    assert c.call(argv("UNSUBSCRIBE")) == ("array", [("bulk", b"unsubscribe"), ("nil",), ("int", 0)])
    assert c.call(argv("PUNSUBSCRIBE")) == ("array", [("bulk", b"punsubscribe"), ("nil",), ("int", 0)])
    c.call(argv("HELLO 3"))
    assert c.call(argv("SUNSUBSCRIBE")) == ("push", [("bulk", b"sunsubscribe"), ("null",), ("int", 0)])
    assert c.call(argv("GET x")) == ("null",)  # not in subscribed mode
    c.close()


def test_resp3_subscriber_runs_any_command(server):
    c = Conn(addr(server))
    c.call(argv("HELLO 3"))
    assert c.call(argv("SUBSCRIBE ch"))[0] == "push"
    assert c.call(argv("SET k v")) == ("status", b"OK")
    assert c.call(argv("PUBLISH ch self")) == ("push", [("bulk", b"message"), ("bulk", b"ch"), ("bulk", b"self")])
    assert c.read() == ("int", 1)
    assert c.call(argv("PING")) == ("status", b"PONG")
    c.close()


def test_message_order_many_subscribers(server):
    subs = [Conn(addr(server)) for _ in range(5)]
    for s in subs:
        s.call(argv("SUBSCRIBE ord"))
    p = Conn(addr(server))
    for i in range(200):
        p.send(encode([b"PUBLISH", b"ord", b"%d" % i]))
    for i in range(200):
        assert p.read() == ("int", 5)
    for s in subs:
        for i in range(200):
            assert s.read() == ("array", [("bulk", b"message"), ("bulk", b"ord"), ("bulk", b"%d" % i)])
        s.close()
    p.close()


def test_glob_patterns(server, redis_server):
    pats = ["*", "a?c", "a[bc]d", "a[^b]d", "a[b-d]e", "x\\*y", "*end", "[a-", "\\", "a[]b"]
    chans = ["abc", "abd", "acd", "aed", "ace", "x*y", "xzy", "theend", "[a-", "a", "ab", ""]
    results = []
    for target in (server, redis_server):
        s = Conn(addr(target))
        p = Conn(addr(target))
        s.send(encode([b"PSUBSCRIBE"] + [x.encode() for x in pats]))
        for _ in pats:
            s.read()
        got = {}
        for ch in chans:
            got[ch] = p.call([b"PUBLISH", ch.encode(), b"m"])[1]
        matched = []
        for _ in range(sum(got.values())):
            m = s.read()[1]
            matched.append((m[1][1], m[2][1]))
        results.append((got, sorted(matched)))
        s.close()
        p.close()
    assert results[0] == results[1]


def test_client_type_pubsub_as_redis(server, redis_server):
    """A client with a subscription is of type pubsub for CLIENT LIST and CLIENT KILL (not
    normal), and normal again once it has none, as in Redis."""
    def scenario(target):
        sub, other = Conn(addr(target), timeout=5), Conn(addr(target), timeout=5)
        sid = sub.call(argv("CLIENT ID"))[1]
        ids = lambda t: [l.split(" ")[0] for l in  # noqa: E731
                         other.call(argv("CLIENT LIST TYPE " + t))[-1].decode().splitlines()]
        sub.call(argv("PSUBSCRIBE p*"))
        out = [("id=%d" % sid) in ids("pubsub"), ("id=%d" % sid) in ids("normal"),
               other.call(argv("CLIENT KILL ID %d TYPE normal" % sid)),
               other.call(argv("CLIENT KILL ID %d TYPE master" % sid))]
        sub.call(argv("PUNSUBSCRIBE"))
        out += [("id=%d" % sid) in ids("pubsub"), ("id=%d" % sid) in ids("normal")]
        sub.call(argv("SUBSCRIBE c"))
        out += [other.call(argv("CLIENT KILL ID %d TYPE pubsub" % sid)), sub.read()]
        other.close()
        return out

    mine, theirs = scenario(server), scenario(redis_server)
    assert mine == theirs
    assert mine == [True, False, ("int", 0), ("int", 0), False, True, ("int", 1), CLOSED]


def test_client_list_info_and_subsystem(server):
    c = Resp(server)
    base = int(info_fields(c, "memory")["memkv_subsystem_pubsub"])  # the empty tables
    s = Resp(server)
    s.send("SUBSCRIBE", "x", "y")
    s.read(), s.read()
    s.send("PSUBSCRIBE", "p*")
    s.read()
    s.send("SSUBSCRIBE", "z")
    s.read()
    line = [l for l in c("CLIENT", "LIST").decode().splitlines() if "sub=2" in l]
    assert line and " psub=1 ssub=1 " in line[0] and " flags=P " in line[0], line
    stats = info_fields(c, "stats")
    assert stats["pubsub_channels"] == "2" and stats["pubsub_patterns"] == "1"
    assert stats["pubsubshard_channels"] == "1"
    mem = info_fields(c, "memory")
    assert int(mem["memkv_subsystem_pubsub"]) > base
    s.close()
    assert wait_until(lambda: info_fields(c, "stats")["pubsub_channels"] == "0")
    # the tables keep their (small) bucket arrays; the subscriptions themselves are gone
    assert wait_until(lambda: int(info_fields(c, "memory")["memkv_subsystem_pubsub"]) <= base + 512)
    c.close()


def test_client_output_buffer_limit_classes(server, redis_server):
    for target in (server, redis_server):
        r = target.client()
        assert r.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 30")
        got = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        assert got.endswith("slave 268435456 67108864 60 pubsub 1048576 524288 30"), got
        r.close()


def test_slow_subscriber_closed_at_pubsub_limit(server):
    c = Resp(server)
    assert c("CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 0 0") == b"OK"
    slow = Resp(server, rcvbuf=4096)
    slow.send("SUBSCRIBE", "flood")
    assert slow.read() == [b"subscribe", b"flood", 1]
    payload = b"x" * 16384
    before = int(info_fields(c, "stats")["client_output_buffer_limit_disconnections"])
    for _ in range(200):
        c("PUBLISH", "flood", payload)
        if c("PUBSUB", "NUMSUB", "flood")[1] == 0:
            break
    assert wait_until(lambda: c("PUBSUB", "NUMSUB", "flood")[1] == 0)
    after = int(info_fields(c, "stats")["client_output_buffer_limit_disconnections"])
    assert after == before + 1
    # a normal client with a big reply is not in the pubsub class
    assert c("SET", "big", b"y" * (512 * 1024)) == b"OK"
    assert len(c("GET", "big")) == 512 * 1024
    slow.close()
    c.close()


def doctor_text(c):
    report = c("MEMORY", "DOCTOR")
    assert isinstance(report, bytes), report
    return " ".join(report.decode().split())  # word-wrapping undone


def debug_memory(server):
    url = "http://127.0.0.1:%d/debug/memory" % server.metrics_port
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def subscriber_findings(report):
    return [f for f in report["doctor"]["findings"] if f["code"] == "subscriber-output-buffer"]


def test_doctor_names_a_subscriber_that_does_not_keep_up(server):
    """Under Redis's default pubsub limits (32mb 8mb 60), a subscriber that never reads while a
    publisher sends 12 MiB is named by MEMORY DOCTOR and /debug/memory (id, address, name, its
    channels and patterns, the limits, the seconds over the soft one, the next step); one that
    reads every message on the same channel is not, and once the slow one is gone nothing is."""
    c = Resp(server)
    assert c("CONFIG", "GET", "client-output-buffer-limit")[1].endswith(
        b"pubsub 33554432 8388608 60")
    # The subscriber that keeps up: a thread reads and counts every message.
    fast = Resp(server)
    assert fast("CLIENT", "SETNAME", "fast-sub") == b"OK"
    fast_id = fast("CLIENT", "ID")
    fast.send("SUBSCRIBE", "feed")
    assert fast.read() == [b"subscribe", b"feed", 1]
    received = []

    def drain():
        while True:
            try:
                m = fast.read()
            except (ConnectionError, OSError):
                return
            if m[0] == b"message":
                received.append(len(m[2]))
            if m == [b"message", b"feed", b"end"]:
                return

    reader = threading.Thread(target=drain)
    reader.start()
    # The slow one: a small receive window, subscribed, then never reads again.
    slow = Resp(server, rcvbuf=4096)
    assert slow("CLIENT", "SETNAME", "slow-sub") == b"OK"
    slow_id = slow("CLIENT", "ID")
    slow_addr = "%s:%d" % slow.sock.getsockname()
    slow.send("SUBSCRIBE", "feed")
    assert slow.read() == [b"subscribe", b"feed", 1]
    slow.send("PSUBSCRIBE", "fe*")
    assert slow.read() == [b"psubscribe", b"fe*", 2]

    payload = b"m" * 65536
    for _ in range(96):  # 6 MiB, delivered twice to the slow one (channel and pattern)
        assert c("PUBLISH", "feed", payload) == 3
    assert c("PUBLISH", "feed", "end") == 3
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert received == [65536] * 96 + [3]  # the reader got every message

    text = doctor_text(c)
    assert "Pub/sub subscriber behind: client id %d (addr %s, name slow-sub), on 1 channel, " \
        "1 pattern, 0 shard channels" % (slow_id, slow_addr) in text, text
    assert "of the hard limit 32.00M, above the soft limit 8.00M for " in text, text
    assert "CLIENT KILL ID %d" % slow_id in text, text
    assert 'client-output-buffer-limit "pubsub 64mb 16mb 60"' in text, text
    assert "All 2 subscribers hold" in text, text
    assert "client id %d" % fast_id not in text, text
    # The same finding on the HTTP endpoint (the cron publishes its state every tick).
    assert wait_until(lambda: subscriber_findings(debug_memory(server)), timeout=10)
    report = debug_memory(server)
    (f,) = subscriber_findings(report)
    assert f["severity"] in ("warning", "critical") and f["bytes"] >= 8 * 1024 * 1024, f
    assert "client id %d (addr %s, name slow-sub)" % (slow_id, slow_addr) in f["text"], f
    top = report["clients"]["top_subscriber"]
    assert top["id"] == slow_id and top["name"] == "slow-sub", top
    subs = report["clients"]["subscribers"]
    assert subs["count"] == 2 and subs["top_channels"] == 1 and subs["top_patterns"] == 1, subs
    assert subs["limit_hard_bytes"] == 32 << 20 and subs["limit_soft_seconds"] == 60, subs
    assert subs["top_over_soft_limit_ms"] > 0, subs

    # Gone: no finding, though the reading subscriber is still there.
    assert c("CLIENT", "KILL", "ID", slow_id) == 1
    slow.close()
    assert wait_until(lambda: c("PUBSUB", "NUMSUB", "feed")[1] == 1)
    assert "Pub/sub subscriber behind" not in doctor_text(c)
    assert wait_until(lambda: not subscriber_findings(debug_memory(server)), timeout=10)
    fast.sock.shutdown(socket.SHUT_RDWR)
    fast.close()
    c.close()


# ---- keyspace notifications ----

NOTIFY_SCRIPT = """SET a 1|SET a 2 EX 100|GETSET a 3|SETNX a 4|SETNX c 4|SETEX d 10 v|MSET e 1 f 2
|MSETNX g 1 h 2|INCR i|INCRBY i 5|DECR i|INCRBYFLOAT j 1.5|APPEND k abc|APPEND k def
|SETRANGE l 2 xy|GETDEL k|GETEX a EX 100|GETEX a PERSIST|GETEX a PXAT 1|GET nokey|SET nk v GET
|DEL e f nokey|UNLINK g|EXPIRE h 100|EXPIRE h 100 NX|PEXPIREAT h 1|PERSIST d|RENAME c c2
|RENAMENX c2 d|COPY d d3|COPY d d3 REPLACE|COPY d d5 DB 1|MOVE d3 2|HSET hh f v f2 v2
|HSETNX hh f3 v|HINCRBY hh n 1|HINCRBYFLOAT hh fl 1.5|HDEL hh f f2 n fl f3|LPUSH l1 a b c
|RPUSH l1 d|LPUSHX nol a|RPUSHX l1 e|LPOP l1|RPOP l1 2|LPOP l1 0|LSET l1 0 z
|LINSERT l1 BEFORE z y|LREM l1 0 y|LTRIM l1 0 0|LMOVE l1 l2 LEFT RIGHT|RPOPLPUSH l2 l2
|LMPOP 1 l2 LEFT COUNT 5|RPUSH l3 1 2 3|BLPOP l3 0|BRPOP l3 0|BLMOVE l3 l4 LEFT LEFT 0
|SADD s1 a b c|SREM s1 a zz|SMOVE s1 s2 b|SMOVE s1 s2 c|SADD s3 1 2 3|SPOP s3 0|SPOP s3 5
|SADD s4 1 2|SADD s5 2 3|SINTERSTORE s6 s4 s5|SUNIONSTORE s6 s4 s5|SDIFFSTORE s6 s4 s4
|SINTERSTORE s7 s4 nos|ZADD z1 1 a 2 b|ZADD z1 1 a|ZADD z1 XX 5 a|ZADD z1 INCR 1 a
|ZINCRBY z1 1 c|ZREM z1 c zz|ZREMRANGEBYSCORE z1 0 1|ZREMRANGEBYRANK z1 0 0
|ZADD z2 1 a 2 b 3 c 4 d|ZREMRANGEBYLEX z2 [a [a|ZPOPMIN z2|ZPOPMAX z2 5|ZADD z3 1 a 2 b
|ZUNIONSTORE z4 1 z3|ZINTERSTORE z4 2 z3 z3|ZDIFFSTORE z4 2 z3 z3|ZRANGESTORE z5 z3 0 -1
|ZRANGESTORE z5 z3 5 6|BZPOPMIN z3 0|ZMPOP 1 z3 MAX|SETBIT bt 7 1|SETBIT bt 7 1|SETBIT bt 7 0
|BITFIELD bf SET u8 0 1 GET u8 0|BITFIELD bf3 OVERFLOW FAIL INCRBY u8 0 300|BITOP OR bo bt bf
|BITOP AND bo nokey1 nokey2|EXISTS nokey|TYPE nokey|OBJECT ENCODING nokey|FLUSHDB|SWAPDB 0 1"""


def notification_stream(target, flags, script):
    sub = Conn(addr(target), timeout=5)
    c = Conn(addr(target), timeout=5)
    c.call(argv("FLUSHALL"))
    assert c.call([b"CONFIG", b"SET", b"notify-keyspace-events", flags]) == ("status", b"OK")
    sub.call(argv("PSUBSCRIBE __key*__:*"))
    replies = []
    for cmd in script.replace("\n", "").split("|"):
        replies.append(c.call(argv(cmd)))
        if "PXAT 1" in cmd or "PEXPIREAT" in cmd:
            time.sleep(0.002)
    c.call(argv("PUBLISH __keyevent@0__:end end"))
    msgs = []
    while True:
        m = sub.read()[1]
        if m[2][1] == b"__keyevent@0__:end":
            break
        msgs.append((m[2][1], m[3][1]))
    c.call([b"CONFIG", b"SET", b"notify-keyspace-events", b""])
    sub.close()
    c.close()
    return msgs, replies


@pytest.mark.parametrize("flags", [b"KEA", b"KEAmn", b"Kg", b"E$", b"El", b"Es", b"Eh", b"Ez",
                                   b"Ex", b"Em", b"En", b"AK", b"A"])
def test_notifications_as_redis(server, redis_server, flags):
    mine, _ = notification_stream(server, flags, NOTIFY_SCRIPT)
    theirs, _ = notification_stream(redis_server, flags, NOTIFY_SCRIPT)
    assert mine == theirs


@pytest.mark.parametrize("value", ["KEA", "gKxm", "Ax$", "n", "", "AKEm", "KEg$lshzxetdn",
                                   "Q", "KEA ", "g$lshzxetd"])
def test_notify_config_as_redis(server, redis_server, value):
    got = []
    for target in (server, redis_server):
        c = Conn(addr(target))
        got.append((c.call([b"CONFIG", b"SET", b"notify-keyspace-events", value.encode()]),
                    c.call(argv("CONFIG GET notify-keyspace-events"))))
        c.call([b"CONFIG", b"SET", b"notify-keyspace-events", b""])
        c.close()
    assert got[0] == got[1]


def test_expired_lazily_and_actively_and_evicted(server):
    c = Resp(server)
    sub = Resp(server)
    c("CONFIG", "SET", "notify-keyspace-events", "Exe")
    sub.send("SUBSCRIBE", "__keyevent@0__:expired", "__keyevent@0__:evicted")
    sub.read(), sub.read()
    c("SET", "lazy", "v", "PX", 1)
    time.sleep(0.01)
    c("CONFIG", "SET", "hz", 1)  # let the lazy path be the one that sees it
    assert c("GET", "lazy") is None
    assert sub.read() == [b"message", b"__keyevent@0__:expired", b"lazy"]
    c("CONFIG", "SET", "hz", 100)
    c("SET", "active", "v", "PX", 5)
    assert sub.read() == [b"message", b"__keyevent@0__:expired", b"active"]  # no command touched it
    for i in range(200):
        c("SET", "k%d" % i, "x" * 1000)
    used = int(info_fields(c, "memory")["used_memory"])
    c("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    c("CONFIG", "SET", "maxmemory", used - 50000)
    m = sub.read()
    assert m[:2] == [b"message", b"__keyevent@0__:evicted"] and m[2].startswith(b"k")
    c("CONFIG", "SET", "maxmemory", 0)
    sub.close()
    c.close()


# ---- Debian's python3-redis PubSub, against memkv and redis-server ----

def redis_py_session(r):
    p = r.pubsub()
    p.subscribe("news", "sport")
    p.psubscribe("w*ther")
    got = [p.get_message(timeout=2) for _ in range(3)]
    assert r.publish("news", "hello") == 1
    assert r.publish("weather", "rain") == 1
    assert r.publish("nobody", "x") == 0
    got.append(p.get_message(timeout=2))
    got.append(p.get_message(timeout=2))
    p.unsubscribe()
    p.punsubscribe()
    for _ in range(3):
        got.append(p.get_message(timeout=2))
    assert p.get_message(timeout=0.1) is None
    assert r.pubsub_numsub("news") == [(b"news", 0)]
    p.subscribe("loop")
    r.publish("loop", "1")
    r.publish("loop", "2")
    seen = []
    for m in p.listen():
        seen.append(m)
        if m["type"] == "message" and m["data"] == b"2":
            break
    p.close()
    # redis-py may or may not hand "1" to listen() (it reads ahead while subscribing): the
    # loop ends at "2" on both servers, with nothing but the confirmation and the messages.
    assert all(m["channel"] == b"loop" for m in seen)
    return got + seen[-1:]


def test_redis_py_pubsub(server, redis_server):
    a = redis_py_session(server.client())
    b = redis_py_session(redis_server.client())
    def norm(ms):  # unsubscribe-all walks a hash table: its order (and counts) is the table's
        return sorted(repr(dict(m, data=None) if m["type"] == "unsubscribe" else m) for m in ms)
    assert norm(a) == norm(b)
    assert a[3] == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert a[4] == {"type": "pmessage", "pattern": b"w*ther", "channel": b"weather", "data": b"rain"}
