"""HyperLogLog (PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST) against the real memkv-server, and the
same tests against Debian's redis-server 7.0.15 in the same run (the `both` fixture), so every
expectation is Redis's own: the sketch's bytes (sparse, the switch to dense, the cached count),
what WATCH and client-side caching see (a PFCOUNT that stores its count is a change, a PFADD
that moves no register is none), the keyspace events, and the corrupt-sketch errors.

memkv-only: the key-space statistics stay exact through every change of a sketch's size
(DEBUG KEYSPACE-STATS-CHECK). The differential test (tests/diff, gen_hll.py) compares every
reply on random sequences."""
import pytest
import redis

from helpers import pattern_messages

EMPTY_SPARSE = b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + b"\x7f\xff"  # 16384 zero registers


def test_sketch_bytes_sparse_to_dense(both):
    c = both.client()
    assert c.pfadd("h") == 1  # a new key is a change even without elements
    assert c.get("h") == EMPTY_SPARSE[:15] + b"\x80" + EMPTY_SPARSE[16:]  # count not valid
    assert c.pfcount("h") == 0
    assert c.get("h") == EMPTY_SPARSE  # the count is cached in the sketch
    assert c.pfadd("h", "a", "b", "c") == 1 and c.pfadd("h", "a") == 0
    assert c.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
    assert c.execute_command("PFDEBUG", "DECODE", "h").startswith(b"Z:")
    assert c.object("encoding", "h") == b"raw"
    assert c.pfcount("h") == 3
    c.pfadd("h", *["e%d" % i for i in range(2000)])
    assert c.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    assert c.strlen("h") == 16 + 12288
    assert abs(c.pfcount("h") - 2003) < 2003 * 0.02
    # hll-sparse-max-bytes: a sketch whose sparse form would pass it becomes dense
    c.config_set("hll-sparse-max-bytes", "30")
    assert c.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "30"}
    c.pfadd("small", *"abcdefgh")
    assert c.execute_command("PFDEBUG", "ENCODING", "small") == b"dense"
    c.config_set("hll-sparse-max-bytes", "3000")
    # PFMERGE: dense when a source is, sparse otherwise; a PFCOUNT of several keys stores none
    c.pfadd("s1", "x", "y")
    c.pfadd("s2", "y", "z")
    assert c.pfmerge("m", "s1", "s2") and c.pfcount("m") == 3
    assert c.execute_command("PFDEBUG", "ENCODING", "m") == b"sparse"
    assert c.pfmerge("md", "s1", "h") and c.execute_command("PFDEBUG", "ENCODING", "md") == b"dense"
    before = c.get("s1")
    assert c.pfcount("s1", "s2", "missing") == 3 and c.get("s1") == before
    assert c.execute_command("PFSELFTEST") == b"OK"


def test_errors(both):
    c = both.client()
    c.set("str", "hello")
    c.lpush("list", "x")
    c.set("cut", b"HYLL\x00" + b"\x00" * 20)  # dense, but not 12304 bytes
    c.set("corrupt", EMPTY_SPARSE[:-2] + b"\x7f\xfe")  # sparse, one register short
    c.hset("hash", "f", "v")
    not_hll = "WRONGTYPE Key is not a valid HyperLogLog string value."
    for key in ("str", "cut"):
        for cmd in (("PFADD", key, "a"), ("PFCOUNT", key), ("PFMERGE", "d", key)):
            with pytest.raises(redis.ResponseError, match=not_hll):
                c.execute_command(*cmd)
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against"):
        c.pfadd("list", "a")
    c.hset("c2", "f", "v")
    for cmd in (("PFCOUNT", "corrupt", "x"), ("PFMERGE", "d", "corrupt", "hash")):
        with pytest.raises(redis.ResponseError, match="^INVALIDOBJ Corrupted HLL object detected"):
            c.execute_command(*cmd)
    with pytest.raises(redis.ResponseError, match="The specified key does not exist"):
        c.execute_command("PFDEBUG", "GETREG", "missing")
    with pytest.raises(redis.ResponseError, match="Unknown PFDEBUG subcommand 'NOPE'"):
        c.execute_command("PFDEBUG", "NOPE", "corrupt")
    assert c.exists("d") == 0  # nothing stored after an error


def test_watch_tracking_and_events(both):
    c, other, events = both.client(), both.client(), both.client()
    c.config_set("notify-keyspace-events", "KEA")
    c.pfadd("h", "a")
    ps = events.pubsub()
    ps.psubscribe("__keyevent@0__:*")
    ps.get_message(timeout=5)

    def watch_then(action):
        """EXEC after WATCH h and another client's action: did EXEC run?"""
        p = c.pipeline()
        p.watch("h")
        action()
        p.multi()
        p.ping()
        try:
            p.execute()
            return True
        except redis.WatchError:
            return False
        finally:
            p.reset()

    assert watch_then(lambda: other.pfadd("h", "a")) is True  # no register moved
    assert watch_then(lambda: other.pfadd("h", "b")) is False
    assert watch_then(lambda: other.pfcount("h")) is False  # the count stored in the sketch
    assert watch_then(lambda: other.pfcount("h")) is True  # cached: nothing written
    assert watch_then(lambda: other.pfmerge("h", "h")) is False
    assert watch_then(lambda: other.execute_command("PFDEBUG", "TODENSE", "h")) is True
    got = pattern_messages(ps)
    assert got == [(b"__keyevent@0__:pfadd", b"h")] * 2
    ps.close()


def test_keyspace_stats_follow_sketches(server_factory):
    s = server_factory(("--enable-debug-command", "yes"))
    c = s.client()

    def check():
        assert c.execute_command("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"

    c.pfadd("hll:a", "x")
    check()
    c.pfadd("hll:a", *["e%d" % i for i in range(300)])  # the sparse form grows
    check()
    c.pfadd("hll:a", *["e%d" % i for i in range(3000)])  # dense
    check()
    c.pfadd("hll:b", "y")
    c.execute_command("PFDEBUG", "TODENSE", "hll:b")
    check()
    c.pfmerge("hll:c", "hll:a", "hll:b")
    c.pfcount("hll:c")
    check()
    c.delete("hll:a", "hll:b", "hll:c")
    check()
    assert c.dbsize() == 0
