"""Hash commands against the real memkv-server: replies and error texts as Redis 7.0's (checked
against Debian's redis-server 7.0.15 while writing these tests), the listpack -> hashtable
conversion at exactly Redis's thresholds (OBJECT ENCODING), and the hashes subsystem counter
back at its baseline after DEL and FLUSHALL.

Replies are read with hiredis's parser over a raw socket (helpers.Resp): an error reply is the
full error text, a bulk reply is bytes."""
import pytest

from helpers import info_fields

SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def encoding(c, key):
    return c("OBJECT", "ENCODING", key)


def hashes_bytes(c):
    return int(info_fields(c, "memory")["memkv_subsystem_hashes"])


def pairs(reply):
    return list(zip(reply[0::2], reply[1::2]))


# ---- basics ----

def test_hset_hget_and_friends(c):
    assert c("HGET", "h", "f") is None
    assert c("HLEN", "h") == 0
    assert c("HEXISTS", "h", "f") == 0
    assert c("HSTRLEN", "h", "f") == 0
    assert c("HMGET", "h", "a", "b") == [None, None]
    assert c("HSET", "h", "f", "v") == 1
    assert c("TYPE", "h") == b"hash"
    assert c("HSET", "h", "f", "v2", "g", "w", "i", "12") == 2  # fields created, not updated
    assert c("HGET", "h", "f") == b"v2"
    assert c("HMGET", "h", "f", "nope", "i") == [b"v2", None, b"12"]
    assert c("HLEN", "h") == 3
    assert c("HEXISTS", "h", "g") == 1
    assert c("HEXISTS", "h", "G") == 0  # fields are case-sensitive
    assert c("HSTRLEN", "h", "f") == 2
    assert c("HSTRLEN", "h", "i") == 2  # an integer in the listpack counts its digits
    assert c("HMSET", "h", "a", "1", "b", "2") == b"OK"
    assert c("HLEN", "h") == 5
    # Binary-safe fields and values, the empty field and value.
    value = bytes(range(256)) + b"\r\n"
    assert c("HSET", "h", b"\x00\xff\r\n", value, "", "") == 2
    assert c("HGET", "h", b"\x00\xff\r\n") == value
    assert c("HGET", "h", "") == b""
    assert c("HEXISTS", "h", "") == 1
    # Command names and options are case-insensitive.
    assert c("hGeT", "h", "a") == b"1"


def test_arity_and_wrongtype(c):
    assert c("HSET", "h", "f") == arity("hset")
    assert c("HSET", "h", "f", "v", "g") == arity("hset")
    assert c("HMSET", "h", "f", "v", "g") == arity("hmset")
    assert c("HDEL", "h") == arity("hdel")
    assert c("HMGET", "h") == arity("hmget")
    assert c("HGET", "h") == arity("hget")
    assert c("HSCAN", "h") == arity("hscan")
    assert c("HRANDFIELD") == arity("hrandfield")
    assert c("EXISTS", "h") == 0  # nothing was created by the refused commands
    assert c("SET", "s", "x") == b"OK"
    for cmd in (("HSET", "s", "f", "v"), ("HSETNX", "s", "f", "v"), ("HGET", "s", "f"),
                ("HMGET", "s", "f"), ("HMSET", "s", "f", "v"), ("HDEL", "s", "f"),
                ("HLEN", "s"), ("HEXISTS", "s", "f"), ("HKEYS", "s"), ("HVALS", "s"),
                ("HGETALL", "s"), ("HINCRBY", "s", "f", "1"), ("HINCRBYFLOAT", "s", "f", "1"),
                ("HSTRLEN", "s", "f"), ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"),
                ("HSCAN", "s", "0")):
        assert c(*cmd) == WRONGTYPE, cmd
    assert c("GET", "s") == b"x"
    c("HSET", "h", "f", "v")
    for cmd in (("GET", "h"), ("INCR", "h"), ("APPEND", "h", "x"), ("STRLEN", "h")):
        assert c(*cmd) == WRONGTYPE, cmd
    # Argument errors that Redis checks before the type.
    assert c("HINCRBY", "s", "f", "x") == NOT_INT
    assert c("HINCRBYFLOAT", "s", "f", "x") == NOT_FLOAT
    assert c("HRANDFIELD", "s", "x") == NOT_INT
    assert c("HRANDFIELD", "s", "1", "bogus") == SYNTAX
    assert c("HSCAN", "s", "x") == "ERR invalid cursor"
    assert c("HSCAN", "s", "0", "bogus") == WRONGTYPE  # options after the type


def test_listpack_keeps_insertion_order(c):
    c("HSET", "h", "c", "3", "a", "1", "b", "2")
    assert encoding(c, "h") == b"listpack"
    assert c("HKEYS", "h") == [b"c", b"a", b"b"]
    assert c("HVALS", "h") == [b"3", b"1", b"2"]
    c("HSET", "h", "a", "one")  # an update keeps its place
    assert c("HGETALL", "h") == [b"c", b"3", b"a", b"one", b"b", b"2"]
    c("HDEL", "h", "c")
    c("HSET", "h", "c", "again")  # a re-added field goes last
    assert c("HKEYS", "h") == [b"a", b"b", b"c"]
    assert c("HKEYS", "nokey") == []
    assert c("HVALS", "nokey") == []
    assert c("HGETALL", "nokey") == []


def test_hdel_and_empty_hash_goes(c):
    c("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert c("HDEL", "h", "a", "nope", "a") == 1
    assert c("HDEL", "nokey", "a") == 0
    assert c("HDEL", "h", "b", "c", "d") == 2
    assert c("EXISTS", "h") == 0  # an empty hash never exists
    assert c("TYPE", "h") == b"none"
    # The same in a hashtable.
    c("CONFIG", "SET", "hash-max-listpack-entries", "0")
    c("HSET", "t", "a", "1", "b", "2")
    assert encoding(c, "t") == b"hashtable"
    assert c("HDEL", "t", "a", "b") == 2
    assert c("EXISTS", "t") == 0


def test_hsetnx(c):
    assert c("HSETNX", "h", "f", "v") == 1
    assert c("HSETNX", "h", "f", "other") == 0
    assert c("HGET", "h", "f") == b"v"
    assert c("HSETNX", "h", "g", "w") == 1
    assert c("HLEN", "h") == 2


def test_hincrby(c):
    assert c("HINCRBY", "h", "n", "5") == 5  # creates key and field
    assert c("HINCRBY", "h", "n", "-7") == -2
    assert c("HGET", "h", "n") == b"-2"
    assert c("HINCRBY", "h", "n", "abc") == NOT_INT
    assert c("HINCRBY", "h", "n", "1.5") == NOT_INT
    assert c("HINCRBY", "h", "n", "9223372036854775808") == NOT_INT
    c("HSET", "h", "s", "abc", "sp", " 1", "big", "9223372036854775807", "f", "1.5")
    for f in ("s", "sp", "f"):
        assert c("HINCRBY", "h", f, "1") == "ERR hash value is not an integer"
    assert c("HINCRBY", "h", "big", "1") == "ERR increment or decrement would overflow"
    assert c("HINCRBY", "h", "big", "-1") == 9223372036854775806
    c("HSET", "h", "low", "-9223372036854775808")
    assert c("HINCRBY", "h", "low", "-1") == "ERR increment or decrement would overflow"
    assert c("HINCRBY", "h", "low", "0") == -9223372036854775808
    assert c("HGET", "h", "s") == b"abc"  # failed increments change nothing


def test_hincrbyfloat(c):
    assert c("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert c("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert c("HINCRBYFLOAT", "h", "g", "5.0e3") == b"5000"
    assert c("HINCRBYFLOAT", "h", "g", "-5000") == b"0"
    c("HSET", "h", "i", "3")
    assert c("HINCRBYFLOAT", "h", "i", "1.5") == b"4.5"
    assert c("HINCRBY", "h", "i", "1") == "ERR hash value is not an integer"
    assert c("HINCRBYFLOAT", "h", "f", "abc") == NOT_FLOAT
    assert c("HINCRBYFLOAT", "h", "f", "nan") == NOT_FLOAT
    assert c("HINCRBYFLOAT", "h", "f", "inf") == "ERR value is NaN or Infinity"
    assert c("HINCRBYFLOAT", "h", "f", "-inf") == "ERR value is NaN or Infinity"
    c("HSET", "h", "s", "abc", "big", "1e4932")
    assert c("HINCRBYFLOAT", "h", "s", "1") == "ERR hash value is not a float"
    assert c("HINCRBYFLOAT", "h", "big", "1e4932") == \
        "ERR increment would produce NaN or Infinity"
    assert c("HGET", "h", "big") == b"1e4932"
    assert c("HINCRBYFLOAT", "nokey", "f", "inf") == "ERR value is NaN or Infinity"
    assert c("EXISTS", "nokey") == 0


# ---- encodings ----

def test_conversion_at_entry_threshold(c):
    assert c("CONFIG", "GET", "hash-max-listpack-entries") == [b"hash-max-listpack-entries", b"512"]
    c("HSET", "h", *[x for i in range(512) for x in ("f%d" % i, "v")])
    assert c("HLEN", "h") == 512
    assert encoding(c, "h") == b"listpack"
    c("HSET", "h", "f0", "updated")  # an update at the limit does not convert
    assert encoding(c, "h") == b"listpack"
    assert c("HSET", "h", "f512", "v") == 1
    assert encoding(c, "h") == b"hashtable"
    assert c("HGET", "h", "f0") == b"updated"
    assert sorted(c("HKEYS", "h")) == sorted(b"f%d" % i for i in range(513))
    assert c("HDEL", "h", *["f%d" % i for i in range(1, 513)]) == 512
    assert encoding(c, "h") == b"hashtable"  # never back

    # One HSET of many pairs converts where the count passes the limit.
    c("CONFIG", "SET", "hash-max-listpack-entries", "3")
    c("HSET", "a", "1", "1", "2", "2", "3", "3")
    assert encoding(c, "a") == b"listpack"
    c("HSET", "b", "1", "1", "2", "2", "3", "3", "4", "4")
    assert encoding(c, "b") == b"hashtable"
    # Redis's old name of the parameter sets the same threshold.
    c("CONFIG", "SET", "hash-max-ziplist-entries", "0")
    c("HSET", "z", "f", "v")
    assert encoding(c, "z") == b"hashtable"


def test_conversion_at_value_threshold(c):
    c("HSET", "v64", "f", "x" * 64)
    assert encoding(c, "v64") == b"listpack"
    c("HSET", "v65", "f", "x" * 65)
    assert encoding(c, "v65") == b"hashtable"
    c("HSET", "f64", "y" * 64, "v")
    assert encoding(c, "f64") == b"listpack"
    c("HSET", "f65", "y" * 65, "v")
    assert encoding(c, "f65") == b"hashtable"
    c("HSETNX", "nx", "f", "x" * 65)
    assert encoding(c, "nx") == b"hashtable"
    # An existing listpack converts when a long value replaces a short one.
    c("HSET", "up", "a", "1")
    c("HSET", "up", "a", "x" * 65)
    assert encoding(c, "up") == b"hashtable"
    # HINCRBY's field and HINCRBYFLOAT's result count too (value limit 4 here).
    c("CONFIG", "SET", "hash-max-listpack-value", "4")
    c("HSET", "i", "a", "1")
    c("HINCRBY", "i", "a", "998")  # "999": fits
    assert encoding(c, "i") == b"listpack"
    c("HINCRBY", "i", "bbbbb", "1")  # a 5-byte field
    assert encoding(c, "i") == b"hashtable"
    c("HSET", "fl", "a", "1")
    assert c("HINCRBYFLOAT", "fl", "a", "1.25") == b"2.25"  # 4 bytes: fits
    assert encoding(c, "fl") == b"listpack"
    assert c("HINCRBYFLOAT", "fl", "a", "10") == b"12.25"  # 5 bytes
    assert encoding(c, "fl") == b"hashtable"


def test_commands_on_both_encodings(server, c):
    for limit in ("512", "0"):
        c("FLUSHALL")
        c("CONFIG", "SET", "hash-max-listpack-entries", limit)
        c("HSET", "h", "a", "1", "b", "-2", "c", "x" * 10)
        assert encoding(c, "h") == (b"listpack" if limit == "512" else b"hashtable")
        assert c("HGET", "h", "b") == b"-2"
        assert c("HSTRLEN", "h", "c") == 10
        assert sorted(pairs(c("HGETALL", "h"))) == [(b"a", b"1"), (b"b", b"-2"), (b"c", b"x" * 10)]
        assert c("HINCRBY", "h", "a", "41") == 42
        assert c("HINCRBYFLOAT", "h", "b", "0.5") == b"-1.5"
        assert c("HSETNX", "h", "a", "0") == 0
        assert c("HDEL", "h", "c") == 1
        assert sorted(c("HKEYS", "h")) == [b"a", b"b"]
        assert sorted(c("HVALS", "h")) == [b"-1.5", b"42"]
        assert c("COPY", "h", "h2") == 1
        assert encoding(c, "h2") == encoding(c, "h")
        c("HSET", "h2", "new", "1")
        assert c("HLEN", "h") == 2 and c("HLEN", "h2") == 3


# ---- HRANDFIELD ----

@pytest.mark.parametrize("limit", ["512", "0"])
def test_hrandfield(c, limit):
    c("CONFIG", "SET", "hash-max-listpack-entries", limit)
    assert c("HRANDFIELD", "nokey") is None
    assert c("HRANDFIELD", "nokey", "3") == []
    assert c("HRANDFIELD", "nokey", "3", "WITHVALUES") == []
    full = {b"f%d" % i: b"v%d" % i for i in range(10)}
    c("HSET", "h", *[x for kv in full.items() for x in kv])
    for _ in range(20):
        assert c("HRANDFIELD", "h") in full
    assert c("HRANDFIELD", "h", "0") == []
    # Positive counts: distinct fields, all of them once the count reaches the size.
    for n in (1, 3, 5, 9):
        got = c("HRANDFIELD", "h", str(n))
        assert len(got) == n and len(set(got)) == n and set(got) <= set(full)
    assert sorted(c("HRANDFIELD", "h", "10")) == sorted(full)
    assert sorted(c("HRANDFIELD", "h", "1000")) == sorted(full)
    got = pairs(c("HRANDFIELD", "h", "4", "withvalues"))
    assert len(got) == 4 and all(full[f] == v for f, v in got)
    # Negative counts: that many, repetitions allowed.
    got = c("HRANDFIELD", "h", "-50")
    assert len(got) == 50 and set(got) <= set(full) and len(set(got)) < 50
    got = pairs(c("HRANDFIELD", "h", "-30", "WITHVALUES"))
    assert len(got) == 30 and all(full[f] == v for f, v in got)
    # Over many draws every field shows up.
    assert set(c("HRANDFIELD", "h", "-2000")) == set(full)
    # Errors.
    assert c("HRANDFIELD", "h", "-9223372036854775808") == (
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert c("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES") == "ERR value is out of range"
    assert c("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES") == "ERR value is out of range"
    assert len(c("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES")) == 20
    assert c("HRANDFIELD", "h", "1", "WITHVALUE") == SYNTAX
    assert c("HRANDFIELD", "h", "1", "WITHVALUES", "x") == SYNTAX
    assert c("HRANDFIELD", "h", "x", "bogus") == NOT_INT


def test_hrandfield_big_table(c):
    """Few fields out of a big hashtable (random picks) and most of them (a shuffle)."""
    c("HSET", "h", *[x for i in range(2000) for x in ("f%d" % i, str(i))])
    assert encoding(c, "h") == b"hashtable"
    for n in (5, 100, 1000, 1999):
        got = c("HRANDFIELD", "h", str(n), "WITHVALUES")
        assert len(got) == 2 * n
        fs = got[0::2]
        assert len(set(fs)) == n
        assert all(v == f[1:] for f, v in pairs(got))


# ---- HSCAN ----

def scan_all(c, key, *opts):
    cursor, seen, calls = b"0", [], 0
    while True:
        cursor, items = c("HSCAN", key, cursor, *opts)
        seen += pairs(items)
        calls += 1
        if cursor == b"0":
            return seen, calls


def test_hscan(c):
    assert c("HSCAN", "nokey", "0") == [b"0", []]
    assert c("HSCAN", "nokey", "abc") == "ERR invalid cursor"
    assert c("HSCAN", "nokey", "0", "bogus") == [b"0", []]  # no key: options not read
    c("HSET", "small", "a", "1", "b", "2", "c", "3")
    # A listpack comes back whole, in order, with cursor 0, whatever COUNT says.
    assert c("HSCAN", "small", "0", "COUNT", "1") == [b"0", [b"a", b"1", b"b", b"2", b"c", b"3"]]
    assert c("HSCAN", "small", "0", "MATCH", "[ab]") == [b"0", [b"a", b"1", b"b", b"2"]]
    assert c("HSCAN", "small", "0", "COUNT", "0") == SYNTAX
    assert c("HSCAN", "small", "0", "COUNT", "-1") == SYNTAX
    assert c("HSCAN", "small", "0", "COUNT", "x") == NOT_INT
    assert c("HSCAN", "small", "0", "COUNT") == SYNTAX
    assert c("HSCAN", "small", "0", "TYPE", "hash") == SYNTAX
    assert c("HSCAN", "small", "0", "NOVALUES") == SYNTAX
    assert c("HSCAN", "small", " 0") == "ERR invalid cursor"
    assert c("HSCAN", "small", "18446744073709551616") == "ERR invalid cursor"
    # A hashtable: every field exactly once over the whole iteration.
    c("HSET", "big", *[x for i in range(1000) for x in ("f%d" % i, "v%d" % i)])
    seen, calls = scan_all(c, "big", "COUNT", "7")
    assert sorted(seen) == sorted((b"f%d" % i, b"v%d" % i) for i in range(1000))
    assert calls > 50
    seen, _ = scan_all(c, "big", "MATCH", "f1?", "COUNT", "100")
    assert sorted(f for f, _ in seen) == sorted(b"f1%d" % i for i in range(10))


def test_hscan_while_the_hash_changes(c):
    """Fields present for the whole scan come back at least once while others are added and
    removed (the table grows, shrinks and rehashes in between)."""
    c("HSET", "h", *[x for i in range(300) for x in ("stay%d" % i, "v")])
    cursor, seen, step = b"0", set(), 0
    while True:
        cursor, items = c("HSCAN", "h", cursor, "COUNT", "5")
        seen.update(items[0::2])
        if step < 30:
            c("HSET", "h", *[x for i in range(100) for x in ("churn%d_%d" % (step, i), "v")])
        else:
            for s in range(30):
                c("HDEL", "h", *["churn%d_%d" % (s, i) for i in range(100)])
        step += 1
        if cursor == b"0":
            break
    assert {b"stay%d" % i for i in range(300)} <= seen


# ---- memory ----

def test_memory_accounting_back_to_baseline(c):
    base = hashes_bytes(c)
    # Small listpack hashes, a big hashtable, a converted one, a copy.
    pipe = []
    for k in range(500):
        pipe.append(("HSET", "small%d" % k, "a", "1", "b", "x" * 30, "c", str(k)))
    for cmd in pipe:
        c(*cmd)
    c("HSET", "big", *[x for i in range(3000) for x in ("field%d" % i, "value%d" % i)])
    c("HSET", "conv", "f", "y" * 100)
    c("COPY", "big", "bigcopy")
    assert hashes_bytes(c) > base + 3000 * 2 * 32
    # MEMORY USAGE of a hash covers its value: more than its fields and values.
    assert c("MEMORY", "USAGE", "big") > 3000 * 20
    assert c("MEMORY", "USAGE", "small1") < 200
    c("DEL", *["small%d" % k for k in range(250)])
    c("HDEL", "big", *["field%d" % i for i in range(3000)])  # emptied: the key goes
    assert c("EXISTS", "big") == 0
    c("DEL", "conv")
    c("DEL", "bigcopy", *["small%d" % k for k in range(250, 500)])
    assert hashes_bytes(c) == base
    c("HSET", "again", "f", "v")
    c("HINCRBYFLOAT", "again", "g", "1.5")
    c("FLUSHALL")
    assert hashes_bytes(c) == base


def test_expire_and_rename_a_hash(c):
    c("HSET", "h", "f", "v")
    assert c("PEXPIRE", "h", "1") == 1
    import time
    time.sleep(0.05)
    assert c("HGET", "h", "f") is None
    assert c("EXISTS", "h") == 0
    c("HSET", "h", "f", "v")
    assert c("RENAME", "h", "h2") == b"OK"
    assert c("HGETALL", "h2") == [b"f", b"v"]


def test_redis_py_client(r):
    assert r.hset("user:1", mapping={"name": "ann", "age": "41"}) == 2
    assert r.hgetall("user:1") == {b"name": b"ann", b"age": b"41"}
    assert r.hincrby("user:1", "age", 1) == 42
    assert r.hincrbyfloat("user:1", "score", 0.5) == 0.5
    assert r.hmget("user:1", ["name", "nope"]) == [b"ann", None]
    assert r.hkeys("user:1") == [b"name", b"age", b"score"]
    assert dict(r.hscan_iter("user:1")) == {b"name": b"ann", b"age": b"42", b"score": b"0.5"}
    assert r.hrandfield("user:1") in (b"name", b"age", b"score")


def test_hrandfield_huge_negative_count_hits_the_output_limit(server, c):
    """HRANDFIELD h -2^63+1 asks for that many picks: memkv stops producing them once the
    client is over its output-buffer limit (the connection is closed, as Redis would close it
    there), and the server goes on serving others."""
    from helpers import Resp
    c("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0")
    c("HSET", "h", "a", "1", "b", "2")
    other = Resp(server)
    other.send("HRANDFIELD", "h", "-9223372036854775807")
    assert other.closed_by_server(timeout=30)
    other.close()
    assert c("HLEN", "h") == 2
