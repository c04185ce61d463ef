"""Transactions (MULTI EXEC DISCARD WATCH UNWATCH) against the real memkv-server, and the same
behaviour tests against Debian's redis-server 7.0.15 in the same run (the `both` fixture), so
every expectation here is Redis's own: queued errors and EXECABORT, runtime errors in their
slot, nested MULTI, WATCH invalidated by another client's write, by the same client, by expiry,
by FLUSHALL/FLUSHDB, RENAME/MOVE/COPY onto the key, blocking commands inside EXEC, disconnects
in MULTI and WATCH, and Debian's python3-redis (pipeline() and transaction() with WatchError
retries) in its default configuration.

memkv-only checks: CLIENT LIST's x/d flags and multi/multi-mem fields, the queue's memory in
the clients subsystem and its bound (client-query-buffer-limit: Redis 7.0 does not bound the
queue, see the README), and DEBUG KEYSPACE-STATS-CHECK after transactions.

redis-py's Lock (its release and extend are Lua scripts) is in test_clients_python.py and
test_scripting.py.
"""
import threading
import time

import pytest
import redis

from helpers import Resp, mem_info, wait_until

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."

def conn(server):
    return Resp(server)


def errors_as_text(reply):
    """EXEC's array with hiredis's nested error objects as their texts."""
    return [str(x) if isinstance(x, Exception) else x for x in reply]


# ---- queuing, EXEC, DISCARD ----

def test_multi_exec_basics(both):
    c = conn(both)
    c("FLUSHALL")
    assert c("MULTI") == b"OK"
    assert c("SET", "a", "1") == b"QUEUED"
    assert c("INCR", "a") == b"QUEUED"
    assert c("GET", "a") == b"QUEUED"
    assert c("EXEC") == [b"OK", 2, b"2"]
    assert c("MULTI") == b"OK"
    assert c("EXEC") == []
    assert c("EXEC") == "ERR EXEC without MULTI"
    assert c("DISCARD") == "ERR DISCARD without MULTI"
    assert c("MULTI") == b"OK"
    assert c("SET", "a", "x") == b"QUEUED"
    assert c("DISCARD") == b"OK"
    assert c("GET", "a") == b"2"


def test_nested_multi_and_watch_inside_multi_do_not_fail_the_transaction(both):
    c = conn(both)
    assert c("MULTI") == b"OK"
    assert c("MULTI") == "ERR MULTI calls can not be nested"
    assert c("WATCH", "a") == "ERR WATCH inside MULTI is not allowed"
    assert c("SET", "n", "1") == b"QUEUED"
    assert c("EXEC") == [b"OK"]


def test_queued_errors_abort_the_transaction(both):
    c = conn(both)
    c("FLUSHALL")
    for bad in (("NOSUCHCOMMAND", "x"), ("SET", "a"), ("MEMORY", "NOSUCH"),
                ("CONFIG", "GET"), ("SHUTDOWN", "ABORT")):
        assert c("MULTI") == b"OK"
        assert c("SET", "a", "1") == b"QUEUED"
        assert isinstance(c(*bad), str)
        assert c("SET", "b", "1") == b"QUEUED"
        assert c("EXEC") == EXECABORT
        assert c("EXISTS", "a", "b") == 0
    assert c("MULTI") == b"OK"
    assert c("SHUTDOWN", "NOSAVE") == "ERR Command not allowed inside a transaction"
    assert c("EXEC") == EXECABORT
    # DISCARD with an argument is an arity error that fails the transaction...
    assert c("MULTI") == b"OK"
    assert c("DISCARD", "x") == "ERR wrong number of arguments for 'discard' command"
    assert c("EXEC") == EXECABORT
    # ...EXEC with one ends it at once, even outside MULTI.
    assert c("MULTI") == b"OK"
    assert c("EXEC", "x") == ("EXECABORT Transaction discarded because of: wrong number of "
                              "arguments for 'exec' command")
    assert c("EXEC") == "ERR EXEC without MULTI"
    assert c("EXEC", "x").startswith("EXECABORT Transaction discarded because of: wrong number")


def test_exec_refused_before_auth(both):
    admin = conn(both)
    admin("CONFIG", "SET", "requirepass", "pw")
    try:
        c = conn(both)
        assert c("EXEC") == "EXECABORT Transaction discarded because of: NOAUTH Authentication required."
        assert c("MULTI") == "NOAUTH Authentication required."
        assert c("AUTH", "pw") == b"OK"
        assert c("MULTI") == b"OK"
        assert c("AUTH", "pw") == b"QUEUED"
        assert c("EXEC") == [b"OK"]
    finally:
        admin("CONFIG", "SET", "requirepass", "")


def test_runtime_errors_take_their_slot(both):
    c = conn(both)
    c("FLUSHALL")
    c("RPUSH", "l", "a")
    assert c("MULTI") == b"OK"
    for cmd in (("SET", "s", "x"), ("INCR", "s"), ("GET", "l"), ("LPOP", "l"), ("SET", "t", "1")):
        assert c(*cmd) == b"QUEUED"
    assert errors_as_text(c("EXEC")) == [b"OK", "ERR value is not an integer or out of range",
                                         WRONGTYPE, b"a", b"OK"]
    assert c("GET", "t") == b"1"


def test_select_and_flush_inside_exec(both):
    c = conn(both)
    c("FLUSHALL")
    assert c("MULTI") == b"OK"
    assert c("SELECT", "1") == b"QUEUED"
    assert c("SET", "in1", "v") == b"QUEUED"
    assert c("EXEC") == [b"OK", b"OK"]
    assert c("EXISTS", "in1") == 1  # still in db 1: SELECT inside EXEC stays
    c("SELECT", "0")
    assert c("EXISTS", "in1") == 0


def test_blocking_commands_do_not_block_inside_exec(both):
    c = conn(both)
    c("FLUSHALL")
    assert c("MULTI") == b"OK"
    for cmd in (("BLPOP", "nl", "0"), ("BRPOP", "nl", "0"), ("BRPOPLPUSH", "nl", "d", "0"),
                ("BLMOVE", "nl", "d", "LEFT", "LEFT", "0"), ("BLMPOP", "0", "1", "nl", "LEFT"),
                ("BZPOPMIN", "nz", "0"), ("BZMPOP", "0", "1", "nz", "MIN"),
                ("BLPOP", "nl", "x")):
        assert c(*cmd) == b"QUEUED"
    t0 = time.monotonic()
    assert errors_as_text(c("EXEC")) == [None] * 7 + ["ERR timeout is not a float or out of range"]
    assert time.monotonic() - t0 < 1
    c("RPUSH", "l", "a")
    assert c("MULTI") == b"OK"
    assert c("BLPOP", "l", "0") == b"QUEUED"
    assert c("EXEC") == [[b"l", b"a"]]


def test_exec_is_atomic_for_blocked_clients(both):
    """A client blocked on a key is served after the whole EXEC, not in its middle."""
    c, waiter = conn(both), conn(both)
    c("FLUSHALL")
    waiter.send("BLPOP", "q", "5")
    wait_until(lambda: b"blocked_clients:1" in c("INFO", "clients"))
    assert c("MULTI") == b"OK"
    assert c("RPUSH", "q", "a") == b"QUEUED"
    assert c("LPOP", "q") == b"QUEUED"
    assert c("RPUSH", "q", "b") == b"QUEUED"
    assert c("EXEC") == [1, b"a", 1]
    assert waiter.read() == [b"q", b"b"]


# ---- WATCH ----

def exec_after_watch(c):
    assert c("MULTI") == b"OK"
    assert c("PING") == b"QUEUED"
    return c("EXEC")


def test_watch_other_client_write(both):
    c, other = conn(both), conn(both)
    c("FLUSHALL")
    c("SET", "w", "1")
    assert c("WATCH", "w") == b"OK"
    assert exec_after_watch(c) == [b"PONG"]  # untouched
    assert c("WATCH", "w", "w2") == b"OK"
    other("SET", "w", "2")
    assert c("MULTI") == b"OK"
    assert c("SET", "w", "3") == b"QUEUED"
    assert c("EXEC") is None
    assert c("GET", "w") == b"2"
    # EXEC unwatched: the next transaction runs.
    other("SET", "w", "4")
    assert exec_after_watch(c) == [b"PONG"]


def test_watch_same_client_write_unwatch_and_discard(both):
    c = conn(both)
    c("FLUSHALL")
    c("SET", "w", "1")
    c("WATCH", "w")
    c("SET", "w", "2")
    assert exec_after_watch(c) is None
    c("WATCH", "w")
    c("SET", "w", "3")
    assert c("UNWATCH") == b"OK"
    assert exec_after_watch(c) == [b"PONG"]
    c("WATCH", "w")
    assert c("MULTI") == b"OK"
    assert c("DISCARD") == b"OK"
    c("SET", "w", "4")
    assert exec_after_watch(c) == [b"PONG"]
    # A missing key: created -> changed; deleted while missing -> not.
    c("WATCH", "nk")
    c("SET", "nk", "1")
    assert exec_after_watch(c) is None
    c("WATCH", "nk2")
    c("DEL", "nk2")
    assert exec_after_watch(c) == [b"PONG"]
    # The same key in another db is another key.
    c("SELECT", "1")
    c("WATCH", "w")
    c("SELECT", "0")
    c("SET", "w", "5")
    assert exec_after_watch(c) == [b"PONG"]


@pytest.mark.parametrize("write,changes", [
    (("SREM", "s", "nosuch"), False), (("SADD", "s", "a"), False), (("SADD", "s", "z"), True),
    (("HDEL", "h", "nosuch"), False), (("HSET", "h", "f", "v"), True),
    (("LREM", "l", "0", "nosuch"), False), (("LSET", "l", "0", "x"), True),
    (("ZINCRBY", "z", "0", "a"), False), (("ZADD", "z", "5", "a"), True),
    (("SETNX", "k", "x"), False), (("APPEND", "k", ""), True), (("SETRANGE", "k", "0", ""), False),
    (("SETRANGE", "k", "0", "9"), True), (("PERSIST", "k"), False), (("EXPIRE", "k", "100"), True),
    (("GET", "k"), False), (("RENAME", "k", "k"), False),
])
def test_watch_writes_that_change_nothing(both, write, changes):
    """Redis counts a write only when it changes the key (its signalModifiedKey calls)."""
    c = conn(both)
    c("FLUSHALL")
    c("SADD", "s", "a")
    c("HSET", "h", "f", "v")
    c("RPUSH", "l", "a")
    c("ZADD", "z", "1", "a")
    c("SET", "k", "10")
    c("WATCH", write[1])
    c(*write)
    assert (exec_after_watch(c) is None) == changes


def test_watch_expiry(both):
    c = conn(both)
    c("FLUSHALL")
    c("SET", "e", "1", "PX", "500")
    c("WATCH", "e")
    time.sleep(0.65)  # expired since WATCH (deleted by active expiry or not yet): changed
    assert exec_after_watch(c) is None
    # A key already expired when watched: its deletion is no change (7.0's rule).
    c("SET", "e2", "1", "PX", "20")
    time.sleep(0.1)
    c("WATCH", "e2")
    assert c("GET", "e2") is None
    assert exec_after_watch(c) == [b"PONG"]


def test_watch_flush_rename_move_copy(both):
    c, other = conn(both), conn(both)
    c("FLUSHALL")
    c("SET", "k", "1")
    c("WATCH", "k")
    other("FLUSHALL")
    assert exec_after_watch(c) is None
    c("WATCH", "missing")
    other("FLUSHALL")  # a watched key that did not exist is not changed by a flush
    assert exec_after_watch(c) == [b"PONG"]
    c("SET", "k", "1")
    c("WATCH", "k")
    other("SELECT", "1")
    other("FLUSHDB")  # another db
    other("SELECT", "0")
    assert exec_after_watch(c) == [b"PONG"]
    c("WATCH", "k")
    other("FLUSHDB")
    assert exec_after_watch(c) is None
    for setup, write in (((("SET", "src", "v"),), ("RENAME", "src", "dst")),
                         ((("SET", "src", "v"),), ("COPY", "src", "dst")),
                         ((("SET", "dst", "v"),), ("MOVE", "dst", "1")),
                         ((("SET", "dst", "v"),), ("RENAME", "dst", "other"))):
        c("FLUSHALL")
        for s in setup:
            c(*s)
        c("WATCH", "dst")
        other(*write)
        assert exec_after_watch(c) is None, write


def test_disconnect_in_multi_and_watch(both):
    c = conn(both)
    c("FLUSHALL")
    for _ in range(3):
        gone = conn(both)
        gone("WATCH", "k", "k2")
        gone("MULTI")
        gone("SET", "k", "from-gone")
        gone.close()
        other = conn(both)
        wait_until(lambda: other("CLIENT", "LIST").count(b"\n") == 2)
        other("SET", "k", "1")  # a write to the key the closed client watched
        other("FLUSHALL")
        other.close()
    assert c("GET", "k") is None
    c("WATCH", "k")
    c("SET", "k", "x")
    assert exec_after_watch(c) is None


# ---- python3-redis in its default configuration ----

def test_redis_py_pipeline_and_transaction(both):
    r = both.client()
    r.flushall()
    with r.pipeline() as p:  # transaction=True by default: MULTI ... EXEC
        p.set("a", 1).incr("a").get("a").lpush("l", "x")
        assert p.execute() == [True, 2, b"2", 1]
    with r.pipeline() as p:
        p.set("s", "x").incr("s").set("t", 1)
        with pytest.raises(redis.ResponseError):
            p.execute()  # raise_on_error: the runtime error of INCR
    assert r.get("t") == b"1"
    with r.pipeline() as p:
        p.set("q", 1)
        p.execute_command("NOSUCHCOMMAND")
        with pytest.raises(redis.ResponseError):
            p.execute()  # EXECABORT
    assert r.get("q") is None

    other = both.client()
    attempts = []

    def incr_twice(pipe):
        value = int(pipe.get("counter") or 0)
        attempts.append(value)
        if len(attempts) == 1:
            other.set("counter", 100)  # another client changes the watched key once
        pipe.multi()
        pipe.set("counter", value + 2)

    r.set("counter", 1)
    assert r.transaction(incr_twice, "counter") == [True]
    assert attempts == [1, 100]
    assert r.get("counter") == b"102"

    with r.pipeline() as p:
        p.watch("counter")
        other.incr("counter")
        p.multi()
        p.incr("counter")
        with pytest.raises(redis.WatchError):
            p.execute()


def test_redis_py_concurrent_increments(both):
    """Optimistic locking under contention: WATCH/GET/MULTI/SET/EXEC retried on WatchError
    by several threads loses no increment."""
    both.client().set("n", 0)

    def worker():
        r = both.client()
        for _ in range(50):
            def step(pipe):
                v = int(pipe.get("n"))
                pipe.multi()
                pipe.set("n", v + 1)
            r.transaction(step, "n")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert both.client().get("n") == b"200"


# ---- memkv only: CLIENT LIST, memory, the queue's bound, statistics ----

def client_line(c):
    return dict(f.split("=", 1) for f in c("CLIENT", "INFO").decode().split())


def test_client_list_fields(c, server):
    assert client_line(c)["multi"] == "-1"
    assert client_line(c)["multi-mem"] == "0"
    assert client_line(c)["flags"] == "N"
    c("SET", "w", "1")
    c("WATCH", "w")
    other = Resp(server)
    other("SET", "w", "2")
    assert client_line(c)["flags"] == "d"
    c("MULTI")
    c("SET", "a", "bb")  # 1+1+2 bytes and three pointers: Redis's argv_len_sums
    c("CLIENT", "LIST")
    lines = [dict(f.split("=", 1) for f in line.split())
             for line in other("CLIENT", "LIST").decode().splitlines()]
    mine = [x for x in lines if x["cmd"] == "client|list" and x["multi"] != "-1"][0]
    assert mine["flags"] == "xd"
    assert mine["multi"] == "2"
    assert int(mine["multi-mem"]) == (3 + 1 + 2) + 3 * 8 + (6 + 4) + 2 * 8
    info = c("EXEC")
    assert info is None  # dirty
    assert client_line(c)["flags"] == "N"
    c("MULTI")
    c("CLIENT", "INFO")
    during = c("EXEC")[0].decode()
    assert " flags=x " in during and " multi=1 " in during and " cmd=exec " in during


def test_queue_memory_is_accounted_and_freed(c, server):
    other = Resp(server)

    def clients_bytes():
        return int(mem_info(other)["memkv_subsystem_clients"])

    base = clients_bytes()
    c("MULTI")
    value = b"v" * 100_000
    for i in range(10):
        assert c("SET", "k%d" % i, value) == b"QUEUED"
    held = clients_bytes() - base
    assert 1_000_000 <= held < 1_200_000
    assert c("DISCARD") == b"OK"
    assert clients_bytes() == base
    c("WATCH", *["w%d" % i for i in range(100)])
    assert clients_bytes() > base
    c("UNWATCH")
    assert clients_bytes() == base


def test_queue_bounded_by_query_buffer_limit(c, server):
    c("CONFIG", "SET", "client-query-buffer-limit", "1mb")
    c("MULTI")
    value = b"v" * 100_000
    closed = False
    for i in range(20):
        try:
            c.send("SET", "k%d" % i, value)
            c.read()
        except (ConnectionError, OSError):
            closed = True
            break
    assert closed or c.closed_by_server()
    other = Resp(server)
    assert "client_query_buffer_limit_disconnections:1" in other("INFO", "stats").decode()
    assert other("DBSIZE") == 0
    assert "reached max query buffer length" in server.read_stdout() + server.read_stderr()


def test_keyspace_stats_stay_right_across_transactions(server_factory):
    s = server_factory(("--enable-debug-command", "yes"))
    c = Resp(s)
    c("HSET", "h", *[x for i in range(200) for x in ("f%d" % i, "v")])  # a hashtable
    c("ZADD", "z", *[x for i in range(200) for x in (str(i), "m%d" % i)])  # a skiplist
    c("MULTI")
    for cmd in (("HGET", "h", "f1"), ("HSET", "h", "new", "x" * 500), ("HLEN", "h"),
                ("ZSCORE", "z", "m1"), ("ZADD", "z", "1", "x" * 300), ("ZCARD", "z"),
                ("GET", "nosuch"), ("SADD", "s", "a"), ("SMEMBERS", "s"), ("RPUSH", "l", "a"),
                ("HDEL", "h", "f2"), ("INCR", "n"), ("APPEND", "n", "1")):
        assert c(*cmd) == b"QUEUED"
    assert len(c("EXEC")) == 13
    assert c("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"
    c("MULTI")
    c("HGETALL", "h")
    c("DEL", "h", "z")
    c("EXEC")
    assert c("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"


def test_oom_refuses_queuing_and_exec(server_factory):
    s = server_factory()
    c, admin = Resp(s), Resp(s)
    oom = "OOM command not allowed when used memory > 'maxmemory'."
    admin("CONFIG", "SET", "maxmemory", "1")
    c("MULTI")
    assert c("GET", "a") == oom  # anything queued needs memory
    assert c("EXEC") == EXECABORT
    admin("CONFIG", "SET", "maxmemory", "0")
    c("MULTI")
    c("SET", "a", "1")
    admin("CONFIG", "SET", "maxmemory", "1")
    assert c("EXEC") == "EXECABORT Transaction discarded because of: " + oom
    c("MULTI")  # a read-only queue runs
    admin("CONFIG", "SET", "maxmemory", "0")
    c("GET", "a")
    admin("CONFIG", "SET", "maxmemory", "1")
    assert c("EXEC") == [None]
    admin("CONFIG", "SET", "maxmemory", "0")
