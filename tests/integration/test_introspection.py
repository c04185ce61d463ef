"""CLIENT REPLY, CLIENT PAUSE / UNPAUSE, MONITOR, SLOWLOG, LATENCY and the CLIENT LIST line,
against the real memkv-server. Where a test states what Redis does, it runs the same steps
against Debian's redis-server 7.0 in the same test (the `target` parameter), so the
expectations are Redis's own; MONITOR's lines and SLOWLOG's entries are compared between the
two servers directly.

Connections are raw sockets through tests/diff/resp.py (it keeps reply types and can read with
a timeout), because redis-py cannot express "no reply" (CLIENT REPLY OFF) or a held command."""
import os
import re
import socket
import sys
import time

import pytest

from exporter_harness import RedisServer
from helpers import wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diff"))
from resp import Conn, encode  # noqa: E402


@pytest.fixture(scope="module")
def redis_server():
    s = RedisServer()
    yield s
    s.stop()


@pytest.fixture(params=["memkv", "redis"])
def target(request, server, redis_server):
    return ("127.0.0.1", server.port if request.param == "memkv" else redis_server.port)


def conn(addr):
    return Conn(addr, timeout=10)


def nothing_within(c, seconds):
    """True when the connection has no reply to read within `seconds`."""
    if len(c.buf) > c.pos:
        return False  # already read from the socket
    c.sock.settimeout(seconds)
    try:
        c.sock.recv(1, socket.MSG_PEEK)
        return False  # bytes, or the close
    except socket.timeout:
        return True
    finally:
        c.sock.settimeout(10)


def call(c, *args):
    return c.call([a if isinstance(a, bytes) else str(a).encode() for a in args])


def client_line(c, client_id):
    text = call(c, "CLIENT", "LIST", "ID", client_id)
    body = text[-1] if text[0] == "verbatim" else text[1]
    return dict(f.split("=", 1) for f in body.decode().split())


# ---- CLIENT REPLY ----


def test_client_reply_off_on_skip(target):
    c = conn(target)
    c.send(b"".join(encode(a) for a in (
        [b"CLIENT", b"REPLY", b"SKIP"], [b"PING", b"a"], [b"PING", b"b"],
        [b"CLIENT", b"REPLY", b"OFF"], [b"PING", b"c"], [b"GET", b"missing"],
        [b"NOSUCHCOMMAND"], [b"CLIENT", b"REPLY", b"ON"], [b"PING", b"d"])))
    assert c.read() == ("bulk", b"b")
    assert c.read() == ("status", b"OK")  # CLIENT REPLY ON answers
    assert c.read() == ("bulk", b"d")
    assert nothing_within(c, 0.2)
    # SKIP while OFF does nothing more; RESET turns replies back on.
    c.send(encode([b"CLIENT", b"REPLY", b"OFF"]) + encode([b"PING"]) + encode([b"RESET"])
           + encode([b"PING", b"e"]))
    assert c.read() == ("status", b"RESET")
    assert c.read() == ("bulk", b"e")
    assert call(c, "CLIENT", "REPLY", "bogus") == ("error", b"ERR syntax error")
    # ON right after SKIP answers (it clears the skip it would fall under).
    c.send(encode([b"CLIENT", b"REPLY", b"SKIP"]) + encode([b"CLIENT", b"REPLY", b"ON"])
           + encode([b"PING", b"f"]))
    assert c.read() == ("status", b"OK")
    assert c.read() == ("bulk", b"f")


def test_client_reply_off_mutes_a_blocked_commands_reply(target):
    c = conn(target)
    c.send(encode([b"CLIENT", b"REPLY", b"SKIP"]) + encode([b"BLPOP", b"nolist", b"0.05"])
           + encode([b"PING", b"after"]))
    assert c.read() == ("bulk", b"after")  # the timed-out BLPOP's reply was skipped


# ---- CLIENT PAUSE / UNPAUSE ----


def test_pause_write_holds_a_write_serves_a_read_and_unpause_releases(target):
    admin, writer, reader = conn(target), conn(target), conn(target)
    call(admin, "FLUSHALL")
    writer_id = call(writer, "CLIENT", "ID")[1]
    assert call(admin, "CLIENT", "PAUSE", 5000, "WRITE") == ("status", b"OK")
    start = time.monotonic()
    writer.send(encode([b"SET", b"k", b"v"]) + encode([b"GET", b"k"]))
    assert nothing_within(writer, 0.3)
    assert call(reader, "GET", "k")[0] in ("nil", "null")  # reads are served meanwhile
    assert call(reader, "PING") == ("status", b"PONG")
    line = client_line(reader, writer_id)
    assert line["flags"] == "b" and line["cmd"] == "set"
    info = call(reader, "INFO", "clients")[-1].decode()
    assert int(re.search(r"blocked_clients:(\d+)", info).group(1)) >= 1
    assert call(admin, "CLIENT", "UNPAUSE") == ("status", b"OK")
    assert writer.read() == ("status", b"OK")
    assert writer.read() == ("bulk", b"v")  # its next command waited behind the held one
    assert time.monotonic() - start < 4


def test_pause_runs_out(target):
    admin, other = conn(target), conn(target)
    start = time.monotonic()
    assert call(admin, "CLIENT", "PAUSE", 1500, "ALL") == ("status", b"OK")
    other.send(encode([b"PING"]))
    assert nothing_within(other, 0.3)  # well inside the pause, even on a slow host
    assert other.read() == ("status", b"PONG")
    assert 1.45 <= time.monotonic() - start < 6


def test_pause_keeps_expired_keys_until_it_ends(target):
    c = conn(target)
    call(c, "FLUSHALL")
    # One write: SET and PAUSE run in the same turn of the loop, so the key cannot expire
    # before the pause holds it.
    c.send(encode([b"SET", b"e", b"1", b"PX", b"100"]) +
           encode([b"CLIENT", b"PAUSE", b"3000", b"WRITE"]))
    assert c.read() == ("status", b"OK")
    assert c.read() == ("status", b"OK")
    time.sleep(0.4)  # the key's time passes while paused, and the cron ticks
    assert call(c, "GET", "e")[0] in ("nil", "null")  # reads as missing ...
    assert call(c, "DBSIZE") == ("int", 1)  # ... but is not deleted (no active expiry either)
    info = call(c, "INFO", "stats")[-1].decode()
    assert "expired_keys:0\r\n" in info
    assert call(c, "CLIENT", "UNPAUSE") == ("status", b"OK")
    assert wait_until(lambda: call(c, "DBSIZE") == ("int", 0), timeout=5)


def test_pause_errors(target):
    c = conn(target)
    assert call(c, "CLIENT", "PAUSE", "x") == ("error", b"ERR timeout is not an integer or out of range")
    assert call(c, "CLIENT", "PAUSE", -1) == ("error", b"ERR timeout is negative")
    assert call(c, "CLIENT", "PAUSE", 10, "bogus") == (
        "error", b"ERR CLIENT PAUSE mode must be WRITE or ALL")
    assert call(c, "CLIENT", "PAUSE", "x", "bogus") == (
        "error", b"ERR CLIENT PAUSE mode must be WRITE or ALL")


# ---- MONITOR ----

MONITORED = [
    [b"SET", b"k", b'a b"c\\\x00\x01\xff\n\r\t\x07\x08'], [b"SELECT", b"2"], [b"GET", b"k"],
    [b"AUTH", b"pw"], [b"AUTH", b"u", b"pw"], [b"AUTH", b"a", b"b", b"c"],
    [b"HELLO", b"3", b"AUTH", b"default", b"x"], [b"HELLO", b"2"],
    [b"HELLO", b"3", b"SETNAME", b"foo"], [b"HELLO", b"4", b"AUTH", b"a", b"b"],
    [b"HELLO", b"3", b"bogus", b"AUTH", b"a", b"b"], [b"CLIENT", b"SETNAME", b"x"],
    [b"CLIENT", b"LIST"], [b"CLIENT", b"INFO"], [b"CLIENT", b"bogus"], [b"NOSUCHCMD", b"a"],
    [b"GET"], [b"CONFIG", b"SET", b"maxmemory", b"0"], [b"CONFIG", b"HELP"],
    [b"SLOWLOG", b"LEN"], [b"SLOWLOG", b"HELP"], [b"LATENCY", b"LATEST"], [b"SELECT", b"0"],
    [b"RPUSH", b"list", b"x"], [b"BLPOP", b"list", b"0.01"], [b"MONITOR"], [b"GET", b"k"],
    [b"QUIT"]]


def monitor_lines(addr):
    m = conn(addr)
    assert call(m, "MONITOR") == ("status", b"OK")
    o = socket.create_connection(addr)
    o.sendall(b"".join(encode(a) for a in MONITORED))
    time.sleep(0.3)
    o.close()
    lines = []
    while True:
        m.sock.settimeout(0.3)
        try:
            r = m.read()
        except (socket.timeout, RuntimeError):
            break
        if r[0] != "status":
            break
        lines.append(r[1])
    # The monitor's own commands are shown to it too; RESET ends MONITOR.
    m.sock.settimeout(10)
    m.send(encode([b"PING"]) + encode([b"GET", b"k"]) + encode([b"HELLO", b"3"])
           + encode([b"MONITOR"]) + encode([b"RESET"]) + encode([b"PING"]))
    own = [m.read() for _ in range(6)]
    return lines, own


def normalize_monitor(line):
    line = re.sub(rb"^\d+\.\d{6} ", b"T ", line)
    return re.sub(rb"127\.0\.0\.1:\d+", b"ADDR", line)


def test_monitor_lines_as_redis(server, redis_server):
    mk_lines, mk_own = monitor_lines(("127.0.0.1", server.port))
    rd_lines, rd_own = monitor_lines(("127.0.0.1", redis_server.port))
    assert re.match(rb"^\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] \"SET\" \"k\"", mk_lines[0])
    assert [normalize_monitor(x) for x in mk_lines] == [normalize_monitor(x) for x in rd_lines]
    assert mk_lines[0].endswith(rb'"a b\"c\\\x00\x01\xff\n\r\t\a\b"')
    assert b'"AUTH" "(redacted)" "(redacted)"' in mk_lines[4]

    def norm_own(replies):
        out = []
        for r in replies:
            if r[0] == "status":
                r = ("status", normalize_monitor(r[1]))
            if r[0] == "map":
                r = ("map",)  # HELLO's own fields (server, version, id)
            out.append(r)
        return out
    assert norm_own(mk_own) == norm_own(rd_own)
    assert mk_own[2][0] == "error" and b"Replica can't interact with the keyspace" in mk_own[2][1]


# ---- SLOWLOG ----

SLOW = [[b"CLIENT", b"SETNAME", b"nm"], [b"SET", b"k", b"x" * 200],
        [b"RPUSH", b"l"] + [str(i).encode() for i in range(40)], [b"AUTH", b"a", b"b"],
        [b"GET", b"k"]]


def slowlog_entries(addr):
    c = conn(addr)
    call(c, "FLUSHALL")
    assert call(c, "CONFIG", "SET", "slowlog-log-slower-than", 0) == ("status", b"OK")
    call(c, "SLOWLOG", "RESET")
    for argv in SLOW:
        c.call(argv)
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", -1)
    entries = call(c, "SLOWLOG", "GET", -1)
    assert call(c, "SLOWLOG", "LEN") == ("int", len(entries[1]))
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", 10000)
    return entries


def test_slowlog_entries_as_redis(server, redis_server):
    mk = slowlog_entries(("127.0.0.1", server.port))
    rd = slowlog_entries(("127.0.0.1", redis_server.port))

    def norm(reply):
        out = []
        for e in reply[1]:
            ident, ts, dur, args, addr, name = e[1]
            assert ident[0] == ts[0] == dur[0] == "int" and dur[1] >= 0
            assert abs(ts[1] - time.time()) < 60
            assert re.match(rb"127\.0\.0\.1:\d+$", addr[1])
            out.append((args, name))
        return out
    assert norm(mk) == norm(rd)
    # newest first, ids counting down
    ids = [e[1][0][1] for e in mk[1]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    texts = {e[1][3][1][0][1]: [a[1] for a in e[1][3][1]] for e in mk[1]}
    assert texts[b"SET"][2] == b"x" * 128 + b"... (72 more bytes)"
    assert len(texts[b"RPUSH"]) == 32 and texts[b"RPUSH"][31] == b"... (11 more arguments)"
    assert texts[b"AUTH"] == [b"AUTH", b"(redacted)", b"(redacted)"]


def test_slowlog_max_len_and_errors(target):
    c = conn(target)
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", 0)
    call(c, "CONFIG", "SET", "slowlog-max-len", 3)
    for i in range(10):
        call(c, "PING")
    assert call(c, "SLOWLOG", "LEN") == ("int", 3)
    assert len(call(c, "SLOWLOG", "GET")[1]) == 3
    assert len(call(c, "SLOWLOG", "GET", 1)[1]) == 1
    assert call(c, "SLOWLOG", "RESET") == ("status", b"OK")
    assert call(c, "SLOWLOG", "LEN") == ("int", 1)  # RESET itself is logged, as in Redis
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", -1)
    call(c, "SLOWLOG", "RESET")
    assert call(c, "SLOWLOG", "LEN") == ("int", 0)
    assert call(c, "SLOWLOG", "GET", -2) == (
        "error", b"ERR count should be greater than or equal to -1")
    assert call(c, "SLOWLOG", "GET", 1, 2) == (
        "error", b"ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    call(c, "CONFIG", "SET", "slowlog-max-len", 128)
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", 10000)


def test_slowlog_memory_is_a_subsystem(server):
    c = conn(("127.0.0.1", server.port))
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", 0)
    for i in range(100):
        call(c, "SET", "k%d" % i, "v" * 1000)
    info = call(c, "INFO", "memory")[-1].decode()
    assert int(re.search(r"memkv_subsystem_slowlog:(\d+)", info).group(1)) > 100 * 128
    call(c, "CONFIG", "SET", "slowlog-log-slower-than", -1)
    call(c, "SLOWLOG", "RESET")
    # The per-command latency histograms live there too: RESETSTAT frees them.
    call(c, "CONFIG", "SET", "latency-tracking", "no")
    call(c, "CONFIG", "RESETSTAT")
    info = call(c, "INFO", "memory")[-1].decode()
    assert int(re.search(r"memkv_subsystem_slowlog:(\d+)", info).group(1)) == 0
    call(c, "CONFIG", "SET", "latency-tracking", "yes")


# ---- LATENCY ----


def test_latency_with_a_threshold(target):
    c = conn(target)
    call(c, "FLUSHALL")
    assert call(c, "LATENCY", "RESET") == ("int", 0) or True
    assert call(c, "LATENCY", "LATEST") == ("array", [])
    assert call(c, "LATENCY", "GRAPH", "command") == (
        "error", b"ERR No samples available for event 'command'")
    # 100 000 keys: KEYS * takes milliseconds in both servers.
    for b in range(100):
        c.send(encode([b"MSET"] + [x for i in range(1000)
                                  for x in (b"key:%d:%d" % (b, i), b"v")]))
    for b in range(100):
        c.read()
    assert call(c, "CONFIG", "SET", "latency-monitor-threshold", 1) == ("status", b"OK")
    for _ in range(3):
        assert len(call(c, "KEYS", "*")[1]) == 100000
    call(c, "CONFIG", "SET", "latency-monitor-threshold", 0)
    latest = call(c, "LATENCY", "LATEST")
    events = {e[1][0][1]: e[1] for e in latest[1]}
    assert b"command" in events
    name, ts, last, worst = events[b"command"]
    assert ts[0] == last[0] == worst[0] == "int" and worst[1] >= last[1] >= 1
    assert abs(ts[1] - time.time()) < 60
    history = call(c, "LATENCY", "HISTORY", "command")
    assert history[0] == "array" and 1 <= len(history[1]) <= 3
    assert all(len(p[1]) == 2 and p[1][1][1] >= 1 for p in history[1])
    assert call(c, "LATENCY", "HISTORY", "nosuch") == ("array", [])
    assert call(c, "LATENCY", "DOCTOR")[0] in ("bulk", "verbatim")
    assert call(c, "LATENCY", "GRAPH", "command")[0] in ("bulk", "verbatim")
    assert call(c, "LATENCY", "RESET", "command", "nosuch") == ("int", 1)
    assert call(c, "LATENCY", "HISTORY", "command") == ("array", [])
    call(c, "FLUSHALL")


# ---- CLIENT LIST / INFO ----


def field_names(line):
    return [f.split("=", 1)[0] for f in line.split()]


def test_client_list_fields_as_redis(server, redis_server):
    lines = {}
    for name, port in (("memkv", server.port), ("redis", redis_server.port)):
        c = conn(("127.0.0.1", port))
        r = call(c, "CLIENT", "INFO")
        lines[name] = (r[-1] if r[0] == "verbatim" else r[1]).decode().strip()
    redis_names = field_names(lines["redis"])
    mk_names = field_names(lines["memkv"])
    assert mk_names[:len(redis_names)] == redis_names  # memkv's own fields would come after
    assert "cmd=client|info" in lines["memkv"].split()


def test_client_list_cmd_and_flags(target):
    a, b = conn(target), conn(target)
    a_id = call(a, "CLIENT", "ID")[1]
    for argv, cmd in (([b"CLIENT"], "client"), ([b"CLIENT", b"bogus"], "NULL"),
                      ([b"NOSUCH"], "NULL"), ([b"GET"], "get"),
                      ([b"CONFIG", b"GET"], "config|get"), ([b"CLIENT", b"REPLY", b"ON"], "client|reply"),
                      ([b"CLIENT", b"NO-EVICT", b"ON"], "client|no-evict")):
        a.call(argv)
        assert client_line(b, a_id)["cmd"] == cmd, argv
    assert client_line(b, a_id)["flags"] == "e"
    a.call([b"CLIENT", b"NO-EVICT", b"OFF"])
    assert client_line(b, a_id)["flags"] == "N"
    m = conn(target)
    m_id = call(m, "CLIENT", "ID")[1]
    call(m, "MONITOR")
    assert client_line(b, m_id)["flags"] == "O"
    # A monitor is a normal client for CLIENT LIST TYPE (as Redis 7.0 shows it).
    r = call(b, "CLIENT", "LIST", "TYPE", "normal")
    assert b"id=%d " % m_id in (r[-1] if r[0] == "verbatim" else r[1])


def test_tracking_replies_without_tracking(target):
    c = conn(target)
    assert call(c, "CLIENT", "GETREDIR") == ("int", -1)
    info = call(c, "CLIENT", "TRACKINGINFO")
    assert info[0] == "array" and info[1][0] == ("bulk", b"flags")
    assert info[1][1] == ("array", [("bulk", b"off")]) and info[1][3] == ("int", -1)
    assert call(c, "CLIENT", "TRACKING", "OFF") == ("status", b"OK")
    assert call(c, "CLIENT", "CACHING", "YES")[0] == "error"




# Commands and subcommands one server has and the other not: Redis 7.0's that memkv does not
# implement (README), and memkv's own or newer Redis's.
REDIS_ONLY = re.compile(rb"^(acl|asking|bgrewriteaof|cluster|failover|lolwut|migrate|"
                        rb"module|psync|readonly|readwrite|replconf|replicaof|"
                        rb"restore-asking|slaveof|sync|x\w+|function\|\w+)(\|[\w-]+)?$")
MEMKV_ONLY = {b"kprofile", b"client|setinfo", b"memory|history", b"memory|prefixes",
              b"memory|profile", b"memory|top-keys"}


def command_names(port, *filt):
    reply = call(conn(("127.0.0.1", port)), "COMMAND", "LIST", *filt)
    return {e[1] for e in reply[1]}


@pytest.mark.parametrize("filt", [(), ("FILTERBY", "ACLCAT", "dangerous"),
                                  ("FILTERBY", "ACLCAT", "read"), ("FILTERBY", "ACLCAT", "write"),
                                  ("FILTERBY", "ACLCAT", "keyspace"),
                                  ("FILTERBY", "ACLCAT", "connection"),
                                  ("FILTERBY", "ACLCAT", "scripting"),
                                  ("FILTERBY", "ACLCAT", "blocking"),
                                  ("FILTERBY", "ACLCAT", "fast"), ("FILTERBY", "ACLCAT", "admin"),
                                  ("FILTERBY", "PATTERN", "c*")])
def test_command_list_and_categories_as_redis(server, redis_server, filt):
    """COMMAND LIST names subcommands (config|get) and filters by Redis's ACL categories as
    Redis 7.0 does, over the commands both servers have."""
    ours = {n for n in command_names(server.port, *filt) if n not in MEMKV_ONLY}
    theirs = {n for n in command_names(redis_server.port, *filt) if not REDIS_ONLY.match(n)}
    assert (sorted(ours - theirs), sorted(theirs - ours)) == ([], [])


# Flags about states memkv has not (replication, async loading, busy scripts' allowances...).
UNMODELLED_FLAGS = {b"loading", b"stale", b"allow_busy", b"pubsub", b"skip_monitor",
                    b"no_mandatory_keys", b"no_async_loading"}


@pytest.mark.parametrize("resp", [2, 3])
def test_command_info_flags_and_categories_as_redis(server, redis_server, resp):
    """COMMAND INFO's arity, flags (but UNMODELLED_FLAGS), key positions and ACL categories (in
    Redis's order) for every command and every subcommand (nested in its container's entry)
    both servers have; FUNCTION is memkv's stub (README). The subcommand list is an array when
    it has entries and a set when empty, as Redis sends it."""
    def entry(e):
        name, arity, flags, first, last, step, cats = (x[1] for x in e[1][:7])
        return name, (arity, {f[1] for f in flags} - UNMODELLED_FLAGS, first, last, step, cats)

    def by_name(port):
        c = conn(("127.0.0.1", port))
        if resp == 3:
            call(c, "HELLO", "3")
        out = {}
        for e in call(c, "COMMAND")[1]:
            name, info = entry(e)
            out[name] = info
            subs = e[1][9]
            if resp == 3:
                assert subs[0] == ("array" if subs[1] else "set"), (name, subs[0])
            for sub in subs[1]:
                sname, sinfo = entry(sub)
                assert sname.startswith(name + b"|") and sub[1][9][1] == [], sname
                out[sname] = sinfo
        return out
    ours, theirs = by_name(server.port), by_name(redis_server.port)
    both = (ours.keys() & theirs.keys()) - {b"function"}
    diff = {n: (ours[n], theirs[n]) for n in both if ours[n] != theirs[n]}
    assert not diff
    assert len(both) > 240
    assert {n for n in ours.keys() - theirs.keys()} == MEMKV_ONLY
    assert not {n for n in theirs.keys() - ours.keys() if not REDIS_ONLY.match(n)}
