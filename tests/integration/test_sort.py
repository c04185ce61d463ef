"""SORT and SORT_RO against the real memkv-server, and the same tests against Debian's
redis-server 7.0.15 in the same run (the `both` fixture), so every expectation is Redis's own:
numeric and ALPHA orders, BY and GET patterns (strings, hash fields, `#`, missing keys), LIMIT,
STORE (a list, "sortstore", an empty result deleting the destination, WATCH), BY nosort (a
list's or sorted set's own order; a set sorted ALPHA with STORE or inside a script), the errors.

memkv-only: the key-space statistics stay exact when SORT_RO makes a sorted set a skiplist
(DEBUG KEYSPACE-STATS-CHECK). The differential test (tests/diff, gen_sort.py) compares random
sequences."""
import re

import pytest
import redis

from helpers import pattern_messages


def sort(c, *args):
    return c.execute_command("SORT", *args)


def test_orders_patterns_and_limits(both):
    c = both.client()
    c.rpush("l", 3, 1, 2, 10, -5, 1.5)
    assert sort(c, "l") == [b"-5", b"1", b"1.5", b"2", b"3", b"10"]
    assert sort(c, "l", "DESC", "LIMIT", 1, 3) == [b"3", b"2", b"1.5"]
    assert sort(c, "l", "ALPHA") == [b"-5", b"1", b"1.5", b"10", b"2", b"3"]
    assert sort(c, "l", "LIMIT", 10, 5) == [] and sort(c, "l", "LIMIT", -3, 2) == [b"-5", b"1"]
    c.mset({"w_3": 1, "w_1": 2, "w_2": 3, "w_10": 0})
    c.hset("h_1", "f", "z")
    c.hset("h_2", "f", "a")
    # missing BY values count as 0; equal weights are ordered by the elements' bytes
    assert sort(c, "l", "BY", "w_*") == [b"-5", b"1.5", b"10", b"3", b"1", b"2"]
    assert sort(c, "l", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "h_*->f", "LIMIT", 4, 2) == [
        b"1", b"2", b"z", b"2", b"3", b"a"]
    # ALPHA BY a hash field: missing values first, in the list's order
    assert sort(c, "l", "BY", "h_*->f", "ALPHA") == [b"3", b"10", b"-5", b"1.5", b"2", b"1"]
    # BY without '*': the list's own order, DESC reversed, LIMIT a range of it
    assert sort(c, "l", "BY", "nosort") == [b"3", b"1", b"2", b"10", b"-5", b"1.5"]
    assert sort(c, "l", "BY", "nosort", "DESC", "LIMIT", 1, 2) == [b"-5", b"10"]
    c.zadd("z", {"a": 3, "b": 1, "c": 2})
    assert sort(c, "z", "BY", "nosort", "DESC") == [b"a", b"c", b"b"]
    assert c.object("encoding", "z") == b"skiplist"  # Redis 7.0 converts it to sort it
    assert sort(c, "missing") == []
    assert c.execute_command("SORT_RO", "l", "LIMIT", 0, 2) == [b"-5", b"1"]
    assert c.command_getkeys("SORT", "l", "STORE", "d", "BY", "store") == ["l", "d"]
    assert c.command_getkeys("SORT", "l", "BY", "store", "d") == ["l"]


def test_store_events_and_watch(both):
    c, other = both.client(), both.client()
    c.config_set("notify-keyspace-events", "KEA")
    c.sadd("s", "b", "a", "c")
    ps = other.pubsub()
    ps.psubscribe("__keyevent@0__:*")
    ps.get_message(timeout=5)
    p = c.pipeline()
    p.watch("dst")
    other.execute_command("SORT", "s", "BY", "nosort", "STORE", "dst")  # ALPHA, as STORE needs
    p.multi()
    p.ping()
    with pytest.raises(redis.WatchError):
        p.execute()
    p.reset()
    assert c.lrange("dst", 0, -1) == [b"a", b"b", b"c"] and c.object("encoding", "dst") == b"quicklist"
    assert sort(c, "nothing", "STORE", "dst") == 0 and c.exists("dst") == 0  # deleted
    assert sort(c, "nothing", "STORE", "dst") == 0
    assert c.eval("return redis.call('SORT', KEYS[1], 'BY', 'nosort')", 1, "s") == [b"a", b"b", b"c"]
    got = pattern_messages(ps)
    assert got == [(b"__keyevent@0__:sortstore", b"dst"), (b"__keyevent@0__:del", b"dst")]
    ps.close()


def test_errors(both):
    c = both.client()
    c.rpush("l", "a", "1")
    c.set("str", "x")
    for args, err in ((("l",), "ERR One or more scores can't be converted into double"),
                      (("str",), "WRONGTYPE Operation against a key"),
                      (("l", "LIMIT", "a", "1"), "ERR value is not an integer or out of range"),
                      (("l", "BOGUS"), "ERR syntax error"),
                      (("l", "LIMIT", "1"), "ERR syntax error")):
        with pytest.raises(redis.ResponseError, match=re.escape(err.split(" ", 1)[1])):
            sort(c, *args)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        c.execute_command("SORT_RO", "l", "STORE", "d")
    c.rpush("n", "1", "1e400")
    with pytest.raises(redis.ResponseError, match="can't be converted"):
        sort(c, "n")
    assert c.exists("d") == 0


def test_keyspace_stats_after_sort_ro_converts(server_factory):
    s = server_factory(("--enable-debug-command", "yes"))
    c = s.client()
    c.zadd("z", {"a": 1, "b": 2})
    assert c.object("encoding", "z") == b"listpack"
    assert c.execute_command("SORT_RO", "z", "ALPHA") == [b"a", b"b"]
    assert c.object("encoding", "z") == b"skiplist"
    assert c.execute_command("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"
    c.rpush("l", *range(100))
    sort(c, "l", "DESC", "STORE", "dst")
    assert c.execute_command("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"
