"""LIST commands against the real memkv-server: replies and error texts as Redis 7.0's (checked
against Debian's redis-server 7.0.15 while writing these tests), lists spanning many quicklist
nodes, the lists subsystem's memory counter back at its baseline once the lists are gone, and
the blocking commands with several real clients: a pop woken by a push from another client,
waiters served in order, timeouts, disconnects, CLIENT UNBLOCK, INFO's blocked_clients, and a
blocked client that holds up nobody else.

Replies are read with hiredis's own parser over raw sockets (helpers.Resp): an error reply is
compared with its full text.
"""
import select
import time

import pytest

from helpers import Resp, info_fields, mem_info, wait_until

SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_POSITIVE = "ERR value is out of range, must be positive"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")
NOT_FLOAT_TIMEOUT = "ERR timeout is not a float or out of range"
NEGATIVE_TIMEOUT = "ERR timeout is negative"


def lists_bytes(c):
    return int(mem_info(c)["memkv_subsystem_lists"])


def blocked_clients(c):
    return int(info_fields(c, "clients")["blocked_clients"])


def silent(conn, seconds=0.15):
    """True if nothing arrives on conn for `seconds` (it is still blocked)."""
    r, _, _ = select.select([conn.sock], [], [], seconds)
    return not r


def elements(c, key):
    return c("LRANGE", key, 0, -1)


# ---- push, pop, length ----

def test_push_pop_basics(c):
    assert c("LPUSH", "l", "a", "b", "c") == 3  # c b a
    assert c("RPUSH", "l", "x", "y") == 5       # c b a x y
    assert elements(c, "l") == [b"c", b"b", b"a", b"x", b"y"]
    assert c("LLEN", "l") == 5
    assert c("LLEN", "nokey") == 0
    assert c("TYPE", "l") == b"list"
    assert c("OBJECT", "ENCODING", "l") == b"quicklist"
    assert c("LPOP", "l") == b"c"
    assert c("RPOP", "l") == b"y"
    assert c("LPOP", "nokey") is None
    assert c("RPOP", "nokey") is None
    # Integers and binary-safe values come back as the bytes pushed.
    assert c("RPUSH", "n", "0", "-1", "12", "012", "9223372036854775807", "-9223372036854775808",
             "", b"\x00\r\n\xff") == 8
    assert elements(c, "n") == [b"0", b"-1", b"12", b"012", b"9223372036854775807",
                                b"-9223372036854775808", b"", b"\x00\r\n\xff"]
    # Emptying a list deletes the key.
    assert c("DEL", "n") == 1
    assert c("RPUSH", "one", "v") == 1
    assert c("RPOP", "one") == b"v"
    assert c("EXISTS", "one") == 0


def test_pushx(c):
    assert c("LPUSHX", "l", "a") == 0
    assert c("RPUSHX", "l", "a", "b") == 0
    assert c("EXISTS", "l") == 0
    c("RPUSH", "l", "m")
    assert c("LPUSHX", "l", "a", "b") == 3
    assert c("RPUSHX", "l", "z") == 4
    assert elements(c, "l") == [b"b", b"a", b"m", b"z"]


def test_pop_with_count(c):
    c("RPUSH", "l", "a", "b", "c", "d", "e")
    assert c("LPOP", "l", 2) == [b"a", b"b"]
    assert c("RPOP", "l", 2) == [b"e", b"d"]
    assert c("LPOP", "l", 0) == []          # an empty array for an existing key
    assert c("LPOP", "l", 10) == [b"c"]     # the rest; the key is gone
    assert c("EXISTS", "l") == 0
    assert c("LPOP", "nokey", 0) is None    # null array
    assert c("LPOP", "nokey", 3) is None
    assert c("LPOP", "l", -1) == NOT_POSITIVE
    assert c("LPOP", "l", "abc") == NOT_POSITIVE
    assert c("RPOP", "l", "1.5") == NOT_POSITIVE
    assert c("LPOP", "l", 1, 2) == "ERR wrong number of arguments for 'lpop' command"
    assert c("LPOP") == "ERR wrong number of arguments for 'lpop' command"


# ---- reading ----

def test_lrange_lindex(c):
    c("RPUSH", "l", *"abcdef")
    assert c("LRANGE", "l", 0, 2) == [b"a", b"b", b"c"]
    assert c("LRANGE", "l", -2, -1) == [b"e", b"f"]
    assert c("LRANGE", "l", -100, 1) == [b"a", b"b"]
    assert c("LRANGE", "l", 4, 100) == [b"e", b"f"]
    assert c("LRANGE", "l", 3, 2) == []
    assert c("LRANGE", "l", 6, 10) == []
    assert c("LRANGE", "l", "9223372036854775807", "-9223372036854775808") == []
    assert c("LRANGE", "nokey", 0, -1) == []
    assert c("LRANGE", "l", "a", 1) == NOT_INT
    assert c("LRANGE", "nokey", 0, "x") == NOT_INT
    assert c("LINDEX", "l", 0) == b"a"
    assert c("LINDEX", "l", -1) == b"f"
    assert c("LINDEX", "l", 6) is None
    assert c("LINDEX", "l", -7) is None
    assert c("LINDEX", "nokey", "x") is None  # the key is looked up first
    assert c("LINDEX", "l", "x") == NOT_INT


def test_lset(c):
    c("RPUSH", "l", "a", "b", "c")
    assert c("LSET", "l", 1, "B") == b"OK"
    assert c("LSET", "l", -1, "C" * 10000) == b"OK"
    assert elements(c, "l") == [b"a", b"B", b"C" * 10000]
    assert c("LSET", "l", 3, "x") == "ERR index out of range"
    assert c("LSET", "l", -4, "x") == "ERR index out of range"
    assert c("LSET", "nokey", 0, "x") == "ERR no such key"
    assert c("LSET", "nokey", "abc", "x") == "ERR no such key"
    assert c("LSET", "l", "abc", "x") == NOT_INT


def test_linsert(c):
    c("RPUSH", "l", "a", "b", "c")
    assert c("LINSERT", "l", "BEFORE", "b", "x") == 4
    assert c("LINSERT", "l", "after", "c", "y") == 5
    assert elements(c, "l") == [b"a", b"x", b"b", b"c", b"y"]
    assert c("LINSERT", "l", "BEFORE", "zz", "x") == -1
    assert c("LINSERT", "nokey", "BEFORE", "a", "x") == 0
    assert c("EXISTS", "nokey") == 0
    assert c("LINSERT", "l", "middle", "a", "x") == SYNTAX
    assert c("LINSERT", "nokey", "middle", "a", "x") == SYNTAX


def test_lrem(c):
    c("RPUSH", "l", "a", "b", "a", "c", "a", "b")
    assert c("LREM", "l", 1, "a") == 1           # the first from the head
    assert elements(c, "l") == [b"b", b"a", b"c", b"a", b"b"]
    assert c("LREM", "l", -1, "b") == 1          # the first from the tail
    assert elements(c, "l") == [b"b", b"a", b"c", b"a"]
    assert c("LREM", "l", 0, "a") == 2           # all
    assert elements(c, "l") == [b"b", b"c"]
    assert c("LREM", "l", 0, "zz") == 0
    assert c("LREM", "l", 0, "b") == 1
    assert c("LREM", "l", -5, "c") == 1
    assert c("EXISTS", "l") == 0
    assert c("LREM", "l", 0, "c") == 0
    assert c("LREM", "l", "x", "c") == NOT_INT


def test_ltrim(c):
    c("RPUSH", "l", *"abcdefg")
    assert c("LTRIM", "l", 1, -2) == b"OK"
    assert elements(c, "l") == [b"b", b"c", b"d", b"e", b"f"]
    assert c("LTRIM", "l", -3, 100) == b"OK"
    assert elements(c, "l") == [b"d", b"e", b"f"]
    assert c("LTRIM", "l", 2, 1) == b"OK"  # empty range: the key goes
    assert c("EXISTS", "l") == 0
    assert c("LTRIM", "nokey", 0, 1) == b"OK"
    assert c("LTRIM", "nokey", "x", 1) == NOT_INT  # arguments first
    c("SET", "s", "v")
    assert c("LTRIM", "s", "x", 1) == NOT_INT
    assert c("LTRIM", "s", 0, 1) == WRONGTYPE


def test_lpos(c):
    c("RPUSH", "l", "a", "b", "c", "a", "b", "a")
    assert c("LPOS", "l", "a") == 0
    assert c("LPOS", "l", "b") == 1
    assert c("LPOS", "l", "zz") is None
    assert c("LPOS", "l", "a", "RANK", 2) == 3
    assert c("LPOS", "l", "a", "RANK", -1) == 5
    assert c("LPOS", "l", "a", "RANK", -3) == 0
    assert c("LPOS", "l", "a", "RANK", 4) is None
    assert c("LPOS", "l", "a", "COUNT", 0) == [0, 3, 5]
    assert c("LPOS", "l", "a", "COUNT", 2) == [0, 3]
    assert c("LPOS", "l", "a", "RANK", -1, "COUNT", 0) == [5, 3, 0]
    assert c("LPOS", "l", "a", "RANK", 2, "COUNT", 0, "MAXLEN", 1) == []
    assert c("LPOS", "l", "a", "MAXLEN", 3) == 0
    assert c("LPOS", "l", "a", "RANK", 2, "MAXLEN", 3) is None
    assert c("LPOS", "l", "a", "COUNT", 1, "COUNT", 0) == [0, 3, 5]  # the last one counts
    assert c("LPOS", "l", "zz", "COUNT", 0) == []
    assert c("LPOS", "nokey", "a") is None
    assert c("LPOS", "nokey", "a", "COUNT", 0) == []
    assert c("LPOS", "l", "a", "RANK", -9223372036854775808) == 5
    assert c("LPOS", "l", "a", "RANK", 0) == RANK_ZERO
    assert c("LPOS", "nokey", "a", "RANK", 0) == RANK_ZERO  # options before the key
    assert c("LPOS", "l", "a", "RANK", "x") == NOT_INT
    assert c("LPOS", "l", "a", "COUNT", -1) == "ERR COUNT can't be negative"
    assert c("LPOS", "l", "a", "COUNT", "x") == "ERR COUNT can't be negative"
    assert c("LPOS", "l", "a", "MAXLEN", -1) == "ERR MAXLEN can't be negative"
    assert c("LPOS", "l", "a", "RANK") == SYNTAX
    assert c("LPOS", "l", "a", "BOGUS", 1) == SYNTAX


# ---- moving ----

def test_lmove_rpoplpush(c):
    c("RPUSH", "src", "a", "b", "c")
    assert c("LMOVE", "src", "dst", "LEFT", "RIGHT") == b"a"
    assert c("LMOVE", "src", "dst", "right", "left") == b"c"
    assert elements(c, "dst") == [b"c", b"a"]
    assert c("RPOPLPUSH", "src", "dst") == b"b"
    assert c("EXISTS", "src") == 0
    assert elements(c, "dst") == [b"b", b"c", b"a"]
    # The same list: a rotation, the key stays.
    assert c("LMOVE", "dst", "dst", "LEFT", "RIGHT") == b"b"
    assert elements(c, "dst") == [b"c", b"a", b"b"]
    assert c("RPOPLPUSH", "dst", "dst") == b"b"
    assert elements(c, "dst") == [b"b", b"c", b"a"]
    assert c("LMOVE", "nokey", "dst", "LEFT", "LEFT") is None
    assert c("RPOPLPUSH", "nokey", "dst") is None
    c("SET", "s", "v")
    assert c("LMOVE", "dst", "s", "LEFT", "LEFT") == WRONGTYPE
    assert elements(c, "dst") == [b"b", b"c", b"a"]  # nothing popped
    assert c("LMOVE", "s", "dst", "LEFT", "LEFT") == WRONGTYPE
    assert c("LMOVE", "nokey", "s", "LEFT", "LEFT") is None  # no source: no type check of dst
    assert c("LMOVE", "dst", "x", "UP", "LEFT") == SYNTAX
    assert c("LMOVE", "dst", "x", "LEFT", "") == SYNTAX


def test_lmpop(c):
    c("RPUSH", "b", "1", "2", "3")
    assert c("LMPOP", 2, "a", "b", "LEFT") == [b"b", [b"1"]]
    assert c("LMPOP", 2, "a", "b", "RIGHT", "COUNT", 10) == [b"b", [b"3", b"2"]]
    assert c("EXISTS", "b") == 0
    assert c("LMPOP", 2, "a", "b", "LEFT") is None  # null array
    assert c("LMPOP", 0, "a", "LEFT") == "ERR numkeys should be greater than 0"
    assert c("LMPOP", "x", "a", "LEFT") == "ERR numkeys should be greater than 0"
    assert c("LMPOP", 2, "a", "LEFT") == SYNTAX
    assert c("LMPOP", "9223372036854775807", "a", "LEFT") == SYNTAX
    assert c("LMPOP", 1, "a", "MIDDLE") == SYNTAX
    assert c("LMPOP", 1, "a", "LEFT", "COUNT", 0) == "ERR count should be greater than 0"
    assert c("LMPOP", 1, "a", "LEFT", "COUNT", 1, "COUNT", 2) == SYNTAX
    assert c("LMPOP", 1, "a", "LEFT", "COUNT") == SYNTAX
    assert c("LMPOP", 1, "a") == "ERR wrong number of arguments for 'lmpop' command"
    c("SET", "s", "v")
    c("RPUSH", "l", "x")
    assert c("LMPOP", 2, "s", "l", "LEFT") == WRONGTYPE  # in key order
    assert c("LMPOP", 2, "l", "s", "LEFT") == [b"l", [b"x"]]


def test_wrongtype_everywhere(c):
    c("SET", "s", "v")
    for cmd in (("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"),
                ("RPUSHX", "s", "a"), ("LPOP", "s"), ("RPOP", "s", 0), ("LLEN", "s"),
                ("LRANGE", "s", 0, -1), ("LINDEX", "s", 0), ("LINDEX", "s", "x"),
                ("LSET", "s", 0, "a"), ("LINSERT", "s", "BEFORE", "a", "b"), ("LREM", "s", 0, "a"),
                ("LPOS", "s", "a"), ("RPOPLPUSH", "s", "d"), ("BLPOP", "s", 0),
                ("BRPOP", "nokey", "s", 0), ("BLMOVE", "s", "d", "LEFT", "LEFT", 0),
                ("BLMPOP", 0, 1, "s", "LEFT")):
        assert c(*cmd) == WRONGTYPE, cmd
    # A string command on a list.
    c("RPUSH", "l", "a")
    assert c("GET", "l") == WRONGTYPE
    assert c("APPEND", "l", "x") == WRONGTYPE


# ---- many nodes, big elements, every fill ----

@pytest.mark.parametrize("fill", [-1, -2, -5, 1, 3, 128])
def test_long_lists_across_nodes(server, fill):
    c = Resp(server)
    assert c("CONFIG", "SET", "list-max-listpack-size", fill) == b"OK"
    n = 3000
    c.pipeline([("RPUSH", "l", "e%d" % i) for i in range(n)])
    big = b"B" * 70000  # larger than any node limit: a node of its own
    assert c("LINSERT", "l", "BEFORE", "e1500", big) == n + 1
    assert c("LINDEX", "l", 1500) == big
    assert c("LINDEX", "l", 1501) == b"e1500"
    assert c("LINDEX", "l", -1) == b"e%d" % (n - 1)
    assert c("LRANGE", "l", 1498, 1502) == [b"e1498", b"e1499", big, b"e1500", b"e1501"]
    assert c("LREM", "l", 0, big) == 1
    assert c("LPOS", "l", "e2999") == 2999
    assert c("LPOS", "l", "e0", "RANK", -1) == 0
    # Remove every third element: nodes shrink and merge back.
    for i in range(0, n, 3):
        assert c("LREM", "l", 1, "e%d" % i) == 1
    want = [b"e%d" % i for i in range(n) if i % 3]
    assert c("LRANGE", "l", 0, -1) == want
    assert c("LTRIM", "l", 100, -100) == b"OK"
    assert c("LRANGE", "l", 0, -1) == want[100:-99]
    assert c("LLEN", "l") == len(want[100:-99])
    c.close()


def test_memory_usage_and_counter_back_to_baseline(c):
    base = lists_bytes(c)
    c.pipeline([("RPUSH", "list:%d" % k, *["item-%d" % i for i in range(100)])
                for k in range(200)])
    c("RPUSH", "big", "x" * 100000, "y")
    grown = lists_bytes(c)
    assert grown > base + 200 * 100 * 6
    usage = c("MEMORY", "USAGE", "list:0")
    assert isinstance(usage, int) and 800 < usage < 4000, usage
    assert c("MEMORY", "USAGE", "big") > 100000
    c("DEL", *["list:%d" % k for k in range(100)])
    c("LPOP", "big", 2)
    assert c("EXISTS", "big") == 0
    assert c("FLUSHALL") == b"OK"
    assert lists_bytes(c) == base
    # COPY (a deep copy) and RENAME keep the accounting exact too.
    c("RPUSH", "a", *["v%d" % i for i in range(1000)])
    assert c("COPY", "a", "b") == 1
    c("RENAME", "b", "c")
    assert c("LRANGE", "c", 0, -1) == c("LRANGE", "a", 0, -1)
    c("DEL", "a", "c")
    assert lists_bytes(c) == base


# ---- blocking ----

def test_blpop_served_at_once_when_elements_exist(c):
    c("RPUSH", "l", "a", "b")
    assert c("BLPOP", "nokey", "l", 0) == [b"l", b"a"]
    assert c("BRPOP", "l", 0) == [b"l", b"b"]
    assert c("EXISTS", "l") == 0
    c("RPUSH", "l", "a", "b")
    assert c("BLMOVE", "l", "d", "RIGHT", "LEFT", 0) == b"b"
    assert c("BRPOPLPUSH", "l", "d", 0) == b"a"
    assert c("LRANGE", "d", 0, -1) == [b"a", b"b"]
    assert c("BLMPOP", 0, 2, "nokey", "d", "LEFT", "COUNT", 5) == [b"d", [b"a", b"b"]]


def test_timeout_arguments(c):
    assert c("BLPOP", "l", "abc") == NOT_FLOAT_TIMEOUT
    assert c("BLPOP", "l", "") == NOT_FLOAT_TIMEOUT
    assert c("BLPOP", "l", "nan") == NOT_FLOAT_TIMEOUT
    assert c("BLPOP", "l", " 1") == NOT_FLOAT_TIMEOUT
    assert c("BLPOP", "l", -1) == NEGATIVE_TIMEOUT
    assert c("BLPOP", "l", "inf") == NEGATIVE_TIMEOUT      # as Redis 7.0 on x86
    assert c("BLPOP", "l", "1e400") == NEGATIVE_TIMEOUT
    assert c("BRPOPLPUSH", "l", "d", "x") == NOT_FLOAT_TIMEOUT
    assert c("BLMOVE", "l", "d", "LEFT", "UP", "x") == SYNTAX  # directions first
    assert c("BLMPOP", "x", 0, "l", "LEFT") == "ERR numkeys should be greater than 0"
    assert c("BLMPOP", "x", 1, "l", "LEFT") == NOT_FLOAT_TIMEOUT
    # Timeouts round up to whole milliseconds: a tiny one still times out.
    assert c("BLPOP", "l", "0.0001") is None
    assert c("BLPOP", "l", "0x0.01p0") is None  # strtold's hexadecimal floats, as Redis


def test_timeout_gives_null_array(c):
    for cmd in (("BLPOP", "l", "0.1"), ("BRPOP", "l", "m", "0.1"),
                ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0.1"), ("BRPOPLPUSH", "l", "d", "0.1"),
                ("BLMPOP", "0.1", 1, "l", "LEFT")):
        t0 = time.monotonic()
        assert c(*cmd) is None, cmd
        assert time.monotonic() - t0 >= 0.09, cmd
    assert c("EXISTS", "d") == 0


def test_pop_woken_by_push_from_another_client(server):
    waiter, pusher = Resp(server), Resp(server)
    waiter.send("BLPOP", "k1", "k2", 0)
    assert silent(waiter)
    assert blocked_clients(pusher) == 1
    assert pusher("RPUSH", "k2", "x", "y") == 2  # the length before the waiter takes one
    assert waiter.read() == [b"k2", b"x"]
    assert pusher("LRANGE", "k2", 0, -1) == [b"y"]
    assert blocked_clients(pusher) == 0
    # BRPOP and a list created by LMOVE of another client.
    waiter.send("BRPOP", "dst", 5)
    assert silent(waiter)
    pusher("RPUSH", "src", "m")
    assert pusher("LMOVE", "src", "dst", "LEFT", "LEFT") == b"m"
    assert waiter.read() == [b"dst", b"m"]
    assert pusher("EXISTS", "src", "dst") == 0
    waiter.close()
    pusher.close()


def test_waiters_served_in_order(server):
    ws = [Resp(server) for _ in range(3)]
    p = Resp(server)
    for w in ws:
        w.send("BLPOP", "q", 0)
        assert silent(w, 0.05)
    assert wait_until(lambda: blocked_clients(p) == 3)
    assert p("RPUSH", "q", "a", "b") == 2
    assert ws[0].read() == [b"q", b"a"]
    assert ws[1].read() == [b"q", b"b"]
    assert silent(ws[2])
    assert p("EXISTS", "q") == 0
    assert p("LPUSH", "q", "c") == 1
    assert ws[2].read() == [b"q", b"c"]
    # BLMPOP with COUNT takes several at once.
    ws[0].send("BLMPOP", 0, 2, "x", "y", "RIGHT", "COUNT", 2)
    assert silent(ws[0])
    p("RPUSH", "y", "1", "2", "3")
    assert ws[0].read() == [b"y", [b"3", b"2"]]
    for w in ws + [p]:
        w.close()


def test_pipelined_commands_wait_and_served_before_pushers_next_command(server):
    w, p = Resp(server), Resp(server)
    # The waiter's next commands wait until it is served.
    w.sock.sendall(Resp.encode("BLPOP", "k", 0) + Resp.encode("PING") + Resp.encode("LLEN", "k"))
    assert silent(w)
    # The pusher's push serves the waiter before the pusher's own next command runs.
    p.sock.sendall(Resp.encode("RPUSH", "k", "v") + Resp.encode("LPOP", "k"))
    assert p.read() == 1
    assert p.read() is None
    assert w.read() == [b"k", b"v"]
    assert w.read() == b"PONG"
    assert w.read() == 0
    w.close()
    p.close()


def test_blocked_client_blocks_nobody_else(server):
    w, other = Resp(server), Resp(server)
    w.send("BLPOP", "k", 0)
    assert silent(w)
    for i in range(50):
        assert other("SET", "x%d" % i, i) == b"OK"
    assert other("PING") == b"PONG"
    assert b"flags=b" in other("CLIENT", "LIST")
    other("RPUSH", "k", "v")
    assert w.read() == [b"k", b"v"]
    w.close()
    other.close()


def test_disconnect_while_blocked(server):
    c = Resp(server)
    base = blocked_clients(c)
    w = Resp(server)
    w.send("BLPOP", "k", 0)
    w2 = Resp(server)
    w2.send("BLMOVE", "k", "d", "LEFT", "LEFT", 0)
    assert wait_until(lambda: blocked_clients(c) == base + 2)
    w.close()
    assert wait_until(lambda: blocked_clients(c) == base + 1)
    # The element goes to the remaining waiter, not to the one that left.
    assert c("RPUSH", "k", "v") == 1
    assert w2.read() == b"v"
    assert c("LRANGE", "d", 0, -1) == [b"v"]
    w2.close()
    assert wait_until(lambda: blocked_clients(c) == base)
    c.close()


def test_client_unblock(server):
    c, w = Resp(server), Resp(server)
    wid = w("CLIENT", "ID")
    w.send("BRPOP", "k", 0)
    assert silent(w)
    assert c("CLIENT", "UNBLOCK", wid) == 1
    assert w.read() is None  # as a timeout
    w.send("BLMOVE", "k", "d", "LEFT", "LEFT", 0)
    assert silent(w)
    assert c("CLIENT", "UNBLOCK", wid, "TIMEOUT") == 1
    assert w.read() is None
    w.send("BLPOP", "k", 0)
    assert silent(w)
    assert c("CLIENT", "UNBLOCK", wid, "error") == 1
    assert w.read() == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert w("PING") == b"PONG"  # the connection goes on
    assert c("CLIENT", "UNBLOCK", wid) == 0  # not blocked
    assert c("CLIENT", "UNBLOCK", 999999) == 0
    assert c("CLIENT", "UNBLOCK", -1) == 0
    assert c("CLIENT", "UNBLOCK", "x") == NOT_INT
    assert c("CLIENT", "UNBLOCK", wid, "bogus") == \
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    assert c("CLIENT", "UNBLOCK") == "ERR wrong number of arguments for 'client|unblock' command"
    assert blocked_clients(c) == 0
    c.close()
    w.close()


def test_blmove_served_and_chained(server):
    p = Resp(server)
    mover, popper = Resp(server), Resp(server)
    mover.send("BLMOVE", "src", "mid", "RIGHT", "LEFT", 0)
    assert silent(mover)
    popper.send("BLPOP", "mid", 0)
    assert silent(popper)
    assert wait_until(lambda: blocked_clients(p) == 2)
    # The served BLMOVE pushes into "mid", which serves the BLPOP waiter in the same pass.
    assert p("RPUSH", "src", "a", "b") == 2
    assert mover.read() == b"b"
    assert popper.read() == [b"mid", b"b"]
    assert p("LRANGE", "src", 0, -1) == [b"a"]
    assert p("EXISTS", "mid") == 0
    # Served when the destination holds another type: WRONGTYPE, the element stays.
    p("DEL", "src")
    mover.send("BRPOPLPUSH", "src", "str", 0)
    assert silent(mover)
    p("SET", "str", "v")
    p("RPUSH", "src", "x")
    assert mover.read() == WRONGTYPE
    assert p("LRANGE", "src", 0, -1) == [b"x"]
    for conn in (p, mover, popper):
        conn.close()


def test_served_from_the_key_that_became_ready(server):
    """Redis 7.0 serves a waiter on several keys from the key that was pushed to, even when an
    earlier key of its list got elements too, later in the same command sequence."""
    w, p = Resp(server), Resp(server)
    w.send("BLPOP", "a", "b", 0)
    assert silent(w)
    p.sock.sendall(Resp.encode("RPUSH", "b", "from-b") + Resp.encode("RPUSH", "a", "from-a"))
    assert p.read() == 1 and p.read() == 1
    assert w.read() == [b"b", b"from-b"]
    assert p("LRANGE", "a", 0, -1) == [b"from-a"]
    w.close()
    p.close()


def test_blocked_on_key_of_other_type_waits(server):
    """A key that exists with another type fails at once (WRONGTYPE); one that gets another
    type while a client waits does not wake it."""
    w, p = Resp(server), Resp(server)
    w.send("BLPOP", "k", 10)
    assert silent(w, 0.05)
    p("SADD", "k", "m")
    assert silent(w, 0.1)
    p("DEL", "k")
    p("RPUSH", "k", "v")
    assert w.read() == [b"k", b"v"]
    w.close()
    p.close()


def test_blocked_clients_in_info_and_many_waiters(server):
    c = Resp(server)
    ws = [Resp(server) for _ in range(20)]
    for i, w in enumerate(ws):
        w.send("BLPOP", "k%d" % (i % 4), "shared", 0 if i % 2 else 30)
    assert wait_until(lambda: blocked_clients(c) == 20)
    c("RPUSH", "shared", *["v%d" % i for i in range(20)])
    got = sorted(w.read()[1] for w in ws)
    assert got == sorted(b"v%d" % i for i in range(20))
    assert blocked_clients(c) == 0
    assert c("EXISTS", "shared") == 0
    for w in ws:
        w.close()
    c.close()


def test_timeouts_of_many_clients_in_deadline_order(server):
    # Half a second apart, and each reply timed as it arrives (select over all three): a
    # stall of the test shorter than that cannot reorder them.
    c = Resp(server)
    ws = []
    for t in (1.5, 0.5, 1.0):
        w = Resp(server)
        w.send("BLPOP", "k", t)
        ws.append((t, w))
    assert wait_until(lambda: blocked_clients(c) == 3)
    t0 = time.monotonic()
    done = {}
    while len(done) < 3 and time.monotonic() - t0 < 10:
        waiting = {w.sock: (t, w) for t, w in ws if t not in done}
        ready, _, _ = select.select(list(waiting), [], [], 0.05)
        now = time.monotonic() - t0
        for sock in ready:
            t, w = waiting[sock]
            assert w.read() is None
            done[t] = now
    assert sorted(done, key=done.get) == [0.5, 1.0, 1.5]
    assert blocked_clients(c) == 0
    for _, w in ws:
        w.close()
    c.close()


def test_rename_copy_move_serve_waiters(server):
    """A list arriving under a waited key by RENAME, COPY or MOVE serves the waiter, as Redis
    7.0's dbAdd signals the key."""
    w, p = Resp(server), Resp(server)
    for setup, trigger, want in ((("RPUSH", "src", "a"), ("RENAME", "src", "k"), b"a"),
                                 (("RPUSH", "src", "b"), ("COPY", "src", "k"), b"b")):
        w.send("BLPOP", "k", 5)
        assert silent(w, 0.05)
        p(*setup)
        p(*trigger)
        assert w.read() == [b"k", want]
    p("DEL", "src", "k")
    assert w("SELECT", 1) == b"OK"
    w.send("BLPOP", "k", 5)
    assert silent(w, 0.05)
    p("RPUSH", "k", "m")
    assert p("MOVE", "k", 1) == 1
    assert w.read() == [b"k", b"m"]
    w.close()
    p.close()


def test_kill_blocked_client(server):
    c, w = Resp(server), Resp(server)
    wid = w("CLIENT", "ID")
    w.send("BLPOP", "k", 0)
    assert silent(w)
    assert c("CLIENT", "KILL", "ID", wid) == 1
    assert w.closed_by_server()
    assert wait_until(lambda: blocked_clients(c) == 0)
    assert c("RPUSH", "k", "v") == 1
    assert c("LRANGE", "k", 0, -1) == [b"v"]  # nobody took it
    c.close()
    w.close()


def test_random_blocking_traffic_loses_and_duplicates_nothing(server):
    """Twelve clients block with BLPOP/BRPOP/BLMOVE/BLMPOP on three keys with short timeouts
    while a pusher adds unique values and some clients hang up mid-wait: every value ends up
    exactly once either in a reply or still in a list (values taken by a client that hung up
    while its reply was in flight are at most one per hang-up)."""
    import random
    rng = random.Random(7)
    keys = ["q0", "q1", "q2"]
    pusher = Resp(server)
    clients = [Resp(server) for _ in range(12)]
    waiting = {}
    received = []
    hangups = 0
    next_value = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for i, cl in enumerate(clients):
            if i in waiting:
                continue
            k = rng.choice(keys)
            t = rng.choice(["0.05", "0.1", "0.2", "0"])
            kind = rng.randrange(4)
            if kind == 0:
                cl.send("BLPOP", k, rng.choice(keys), t)
            elif kind == 1:
                cl.send("BRPOP", k, t)
            elif kind == 2:
                cl.send("BLMOVE", k, rng.choice(keys), "LEFT", "RIGHT", t)
            else:
                cl.send("BLMPOP", t, 2, k, rng.choice(keys), "LEFT", "COUNT", 2)
            waiting[i] = kind
        if rng.random() < 0.7:
            k = rng.choice(keys)
            vals = ["v%d" % (next_value + j) for j in range(rng.randrange(1, 4))]
            next_value += len(vals)
            pusher("RPUSH", k, *vals)
        if rng.random() < 0.05:  # a client hangs up mid-wait
            i = rng.choice(list(waiting))
            clients[i].close()
            clients[i] = Resp(server)
            del waiting[i]
            hangups += 1
        ready, _, _ = select.select([clients[i].sock for i in waiting], [], [], 0.01)
        for i in list(waiting):
            if clients[i].sock not in ready:
                continue
            reply = clients[i].read()
            kind = waiting.pop(i)
            if reply is None:
                continue
            if kind == 2:
                continue  # BLMOVE moved it to another list: still there
            if kind == 3:
                received.extend(reply[1])
            else:
                received.append(reply[1])
    hangups += len(waiting)  # the ones still waiting hang up now
    for cl in clients:
        cl.close()
    assert wait_until(lambda: blocked_clients(pusher) == 0)
    remaining = []
    for k in keys:
        remaining.extend(pusher("LRANGE", k, 0, -1))
    everything = received + remaining
    assert len(everything) == len(set(everything)), "a value was delivered twice"
    missing = {b"v%d" % i for i in range(next_value)} - set(everything)
    assert len(missing) <= hangups, (len(missing), hangups)
    pusher.close()
