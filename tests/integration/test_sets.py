"""SET commands against the real memkv-server: replies and error texts as Redis 7.0's (checked
against Debian's redis-server 7.0.15 while writing these tests), encoding conversions at the
thresholds (seen through MEMORY USAGE until OBJECT ENCODING exists), and the sets subsystem's
memory counter back at its baseline once the sets are gone.

Replies are read with hiredis's own parser over a raw socket (helpers.Resp): an error reply is
compared with its full text.
"""
from helpers import Resp, mem_info, wait_until

SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_POSITIVE = "ERR value is out of range, must be positive"


def sets_bytes(c):
    return int(mem_info(c)["memkv_subsystem_sets"])


def members(c, key):
    return set(c("SMEMBERS", key))


# ---- SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS ----

def test_add_remove_basics(c):
    assert c("SADD", "s", "a", "b", "a", "c") == 3
    assert c("SADD", "s", "a", "d") == 1
    assert c("SCARD", "s") == 4
    assert members(c, "s") == {b"a", b"b", b"c", b"d"}
    assert c("SISMEMBER", "s", "a") == 1
    assert c("SISMEMBER", "s", "z") == 0
    assert c("SMISMEMBER", "s", "a", "z", "d", "a") == [1, 0, 1, 1]
    assert c("SREM", "s", "a", "z", "a") == 1
    assert c("SREM", "s", "nope") == 0
    assert members(c, "s") == {b"b", b"c", b"d"}
    assert c("TYPE", "s") == b"set"
    # The last member removed deletes the key.
    assert c("SREM", "s", "b", "c", "d", "e") == 3
    assert c("EXISTS", "s") == 0
    assert c("TYPE", "s") == b"none"


def test_missing_key(c):
    assert c("SCARD", "none") == 0
    assert c("SISMEMBER", "none", "a") == 0
    assert c("SMISMEMBER", "none", "a", "b") == [0, 0]
    assert c("SMEMBERS", "none") == []
    assert c("SREM", "none", "a") == 0
    assert c("SPOP", "none") is None
    assert c("SPOP", "none", 3) == []
    assert c("SRANDMEMBER", "none") is None
    assert c("SRANDMEMBER", "none", 5) == []
    assert c("SRANDMEMBER", "none", -5) == []
    assert c("SSCAN", "none", 0) == [b"0", []]
    assert c("SSCAN", "none", 0, "COUNT", 0) == [b"0", []]  # options not even read
    assert c("EXISTS", "none") == 0


def test_binary_and_integer_like_members(c):
    odd = [b"", b"\x00\r\n\xff", b"01", b"-0", b"+1", b"1", b" 1", b"1.0", b"0x10",
           b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
           b"x" * 70000]
    assert c("SADD", "s", *odd) == len(odd)
    assert members(c, "s") == set(odd)
    for m in odd:
        assert c("SISMEMBER", "s", m) == 1
    assert c("SISMEMBER", "s", "+01") == 0
    assert c("SREM", "s", "1") == 1
    assert c("SISMEMBER", "s", "01") == 1
    # integers alone: SMEMBERS of an intset is in ascending order, as Redis
    assert c("SADD", "i", 5, -3, 100, 0, -9223372036854775808, 9223372036854775807) == 6
    assert c("SMEMBERS", "i") == [b"-9223372036854775808", b"-3", b"0", b"5", b"100",
                                  b"9223372036854775807"]
    assert c("SISMEMBER", "i", "05") == 0
    assert c("SISMEMBER", "i", "5") == 1


def test_wrongtype_and_arity(c):
    c("SET", "str", "x")
    for cmd in (("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"),
                ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SCARD", "str"),
                ("SPOP", "str"), ("SPOP", "str", 2), ("SRANDMEMBER", "str"),
                ("SRANDMEMBER", "str", 2), ("SINTER", "str"), ("SUNION", "str"),
                ("SDIFF", "str"), ("SINTERCARD", 1, "str"), ("SSCAN", "str", 0),
                ("SMOVE", "str", "x", "a"), ("SINTER", "nokey", "str"),
                ("SDIFF", "nokey", "str"), ("SUNIONSTORE", "d", "nokey", "str"),
                ("SINTERSTORE", "d", "nokey", "str"), ("SINTERCARD", 2, "nokey", "str")):
        assert c(*cmd) == WRONGTYPE, cmd
    assert c("GET", "str") == b"x"
    c("SADD", "s", "1")
    assert c("SMOVE", "s", "str", "1") == WRONGTYPE
    assert c("SISMEMBER", "s", "1") == 1  # nothing moved
    assert c("SMOVE", "nokey", "str", "1") == 0  # a missing source answers first
    assert c("GET", "s") == WRONGTYPE
    for cmd, n in (("SADD", 2), ("SREM", 2), ("SMEMBERS", 1), ("SISMEMBER", 2),
                   ("SMISMEMBER", 2), ("SCARD", 1), ("SPOP", 1), ("SRANDMEMBER", 1),
                   ("SMOVE", 3), ("SINTER", 1), ("SINTERSTORE", 2), ("SINTERCARD", 2),
                   ("SUNION", 1), ("SDIFFSTORE", 2), ("SSCAN", 2)):
        args = ["k"] * (n - 1)
        assert c(cmd, *args) == "ERR wrong number of arguments for '%s' command" % cmd.lower()
    assert c("SISMEMBER", "s", "1", "2") == "ERR wrong number of arguments for 'sismember' command"


# ---- SPOP ----

def test_spop(c):
    c("SADD", "s", *range(10))
    popped = set()
    for _ in range(4):
        m = c("SPOP", "s")
        assert m not in popped and m in {b"%d" % i for i in range(10)}
        popped.add(m)
    assert c("SCARD", "s") == 6
    more = c("SPOP", "s", 3)
    assert len(more) == 3 and not popped & set(more)
    assert c("SPOP", "s", 0) == []
    assert c("SCARD", "s") == 3
    rest = c("SPOP", "s", 100)
    assert sorted(popped | set(more) | set(rest)) == sorted(b"%d" % i for i in range(10))
    assert c("EXISTS", "s") == 0
    c("SADD", "one", "a")
    assert c("SPOP", "one") == b"a"
    assert c("EXISTS", "one") == 0
    c("SADD", "s", "a", "b")
    assert c("SPOP", "s", -1) == NOT_POSITIVE
    assert c("SPOP", "s", "abc") == NOT_POSITIVE
    assert c("SPOP", "s", "-0") == NOT_POSITIVE
    assert c("SPOP", "s", 1, 2) == SYNTAX
    assert c("SPOP", "nokey", -1) == NOT_POSITIVE  # the count is checked first
    assert c("SPOP", "s", 9223372036854775807) in ([b"a", b"b"], [b"b", b"a"])


def test_spop_every_encoding(c):
    """Pop every member one at a time from an intset, a listpack and a hashtable."""
    c("SADD", "ints", *range(50))
    c("SADD", "strs", *["m%d" % i for i in range(50)])
    c("SADD", "big", *["m%d" % i for i in range(300)])
    for key, n in (("ints", 50), ("strs", 50), ("big", 300)):
        seen = set(c("SPOP", key, n // 2))
        while c("EXISTS", key):
            m = c("SPOP", key)
            assert m not in seen
            seen.add(m)
        assert len(seen) == n


# ---- SRANDMEMBER ----

def test_srandmember(c):
    all_ = {b"%d" % i for i in range(20)}
    for key, extra in (("ints", []), ("strs", ["s"]), ("big", ["x%d" % i for i in range(200)])):
        c("SADD", key, *range(20), *extra)
        everything = all_ | {e.encode() for e in extra}
        n = len(everything)
        assert c("SRANDMEMBER", key) in everything
        for count in (1, 5, n - 1):
            got = c("SRANDMEMBER", key, count)
            assert len(got) == count and len(set(got)) == count and set(got) <= everything
        assert set(c("SRANDMEMBER", key, n)) == everything
        assert sorted(c("SRANDMEMBER", key, n + 100)) == sorted(everything)
        rep = c("SRANDMEMBER", key, -(3 * n))
        assert len(rep) == 3 * n and set(rep) <= everything
        assert c("SRANDMEMBER", key, 0) == []
        assert c("SCARD", key) == n  # nothing removed
    assert c("SRANDMEMBER", "ints", "abc") == NOT_INT
    assert c("SRANDMEMBER", "ints", "-0") == NOT_INT
    assert c("SRANDMEMBER", "ints", -9223372036854775808) == (
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert c("SRANDMEMBER", "ints", 1, 2) == SYNTAX
    # every member comes up
    c("SADD", "few", "a", "b", "c")
    assert set(c("SRANDMEMBER", "few", -300)) == {b"a", b"b", b"c"}


def test_srandmember_huge_negative_count(server, c):
    """Redis 7.0 builds a reply of 2^63 elements until it runs out of memory; memkv stops at the
    output-buffer limit, closes that client, and goes on serving the others."""
    c("SADD", "s", "a", "b")
    assert c("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0") == b"OK"
    victim = Resp(server)
    victim.send("SRANDMEMBER", "s", -9223372036854775807)
    assert victim.closed_by_server(timeout=30)
    victim.close()
    assert c("PING") == b"PONG"
    assert c("SCARD", "s") == 2


# ---- SMOVE ----

def test_smove(c):
    c("SADD", "src", "a", "b", "1")
    c("SADD", "dst", "x")
    assert c("SMOVE", "src", "dst", "a") == 1
    assert members(c, "src") == {b"b", b"1"}
    assert members(c, "dst") == {b"x", b"a"}
    assert c("SMOVE", "src", "dst", "zz") == 0
    assert c("SMOVE", "src", "src", "b") == 1
    assert c("SMOVE", "src", "src", "zz") == 0
    assert c("SMOVE", "nokey", "dst", "a") == 0
    # into a new key; the last member out deletes the source
    assert c("SMOVE", "src", "new", "1") == 1
    assert c("SMEMBERS", "new") == [b"1"]
    assert c("SMOVE", "src", "dst", "b") == 1
    assert c("EXISTS", "src") == 0
    assert members(c, "dst") == {b"x", b"a", b"b"}
    # already in the destination: removed from the source all the same
    c("SADD", "src", "x", "y")
    assert c("SMOVE", "src", "dst", "x") == 1
    assert members(c, "src") == {b"y"}
    assert members(c, "dst") == {b"x", b"a", b"b"}


# ---- SINTER SUNION SDIFF, STORE and CARD ----

def test_set_algebra(c):
    c("SADD", "a", 1, 2, 3, 4, "x")
    c("SADD", "b", 3, 4, 5, "x", "y")
    c("SADD", "c", 4, "x", "z")
    assert set(c("SINTER", "a", "b")) == {b"3", b"4", b"x"}
    assert set(c("SINTER", "a", "b", "c")) == {b"4", b"x"}
    assert c("SINTER", "a", "nokey") == []
    assert set(c("SINTER", "a", "a")) == set(c("SMEMBERS", "a"))
    assert set(c("SUNION", "a", "b", "nokey")) == {b"1", b"2", b"3", b"4", b"5", b"x", b"y"}
    assert c("SUNION", "nokey") == []
    assert set(c("SDIFF", "a", "b")) == {b"1", b"2"}
    assert set(c("SDIFF", "a", "b", "c")) == {b"1", b"2"}
    assert set(c("SDIFF", "a", "nokey")) == set(c("SMEMBERS", "a"))
    assert c("SDIFF", "a", "a") == []
    assert c("SDIFF", "nokey", "a") == []
    assert c("SINTERCARD", 2, "a", "b") == 3
    assert c("SINTERCARD", 2, "a", "b", "LIMIT", 2) == 2
    assert c("SINTERCARD", 2, "a", "b", "limit", 0) == 3
    assert c("SINTERCARD", 1, "a", "LIMIT", 1, "LIMIT", 100) == 5
    assert c("SINTERCARD", 2, "a", "nokey") == 0
    # integers only: SMEMBERS of a stored intset is sorted
    c("SADD", "i1", 9, 1, 5, 3)
    c("SADD", "i2", 3, 9, 7)
    assert c("SUNIONSTORE", "u", "i1", "i2") == 5
    assert c("SMEMBERS", "u") == [b"1", b"3", b"5", b"7", b"9"]


def test_store_forms(c):
    c("SADD", "a", 1, 2, 3)
    c("SADD", "b", 2, 3, 4)
    c("SET", "dst", "a string")
    c("EXPIRE", "dst", 1000)
    assert c("SINTERSTORE", "dst", "a", "b") == 2
    assert c("TYPE", "dst") == b"set"
    assert c("TTL", "dst") == -1  # a new key: no expire
    assert set(c("SMEMBERS", "dst")) == {b"2", b"3"}
    assert c("SUNIONSTORE", "dst", "a", "b") == 4
    assert c("SDIFFSTORE", "dst", "a", "b") == 1
    assert c("SMEMBERS", "dst") == [b"1"]
    # the destination among the sources
    assert c("SUNIONSTORE", "a", "a", "b") == 4
    assert set(c("SMEMBERS", "a")) == {b"1", b"2", b"3", b"4"}
    # an empty result deletes the destination
    assert c("SINTERSTORE", "dst", "a", "nokey") == 0
    assert c("EXISTS", "dst") == 0
    c("SADD", "dst", "q")
    assert c("SDIFFSTORE", "dst", "a", "a") == 0
    assert c("EXISTS", "dst") == 0
    c("SADD", "dst", "q")
    assert c("SUNIONSTORE", "dst", "nokey") == 0
    assert c("EXISTS", "dst") == 0
    assert c("SINTERSTORE", "dst", "b", "str_missing") == 0
    c("SET", "str", "x")
    assert c("SINTERSTORE", "str", "a", "b") == 3  # another type is overwritten
    assert c("TYPE", "str") == b"set"


def test_sintercard_errors(c):
    c("SADD", "s", 1, 2)
    assert c("SINTERCARD", 0, "s") == "ERR numkeys should be greater than 0"
    assert c("SINTERCARD", -1, "s") == "ERR numkeys should be greater than 0"
    assert c("SINTERCARD", "abc", "s") == "ERR numkeys should be greater than 0"
    assert c("SINTERCARD", 3, "s") == "ERR Number of keys can't be greater than number of args"
    assert c("SINTERCARD", 1, "s", "LIMIT", -1) == "ERR LIMIT can't be negative"
    assert c("SINTERCARD", 1, "s", "LIMIT", "abc") == "ERR LIMIT can't be negative"
    assert c("SINTERCARD", 1, "s", "LIMIT") == SYNTAX
    assert c("SINTERCARD", 1, "s", "FOO", 1) == SYNTAX
    assert c("SINTERCARD", 1, "s", "s") == SYNTAX


# ---- SSCAN ----

def full_sscan(c, key, *opts):
    cursor, got, calls = b"0", [], 0
    while True:
        cursor, batch = c("SSCAN", key, cursor, *opts)
        got += batch
        calls += 1
        if cursor == b"0":
            return got, calls


def test_sscan_compact_returns_everything(c):
    c("SADD", "ints", *range(100))
    c("SADD", "strs", *["m%d" % i for i in range(100)])
    for key in ("ints", "strs"):
        cursor, got = c("SSCAN", key, 0, "COUNT", 1)
        assert cursor == b"0" and len(got) == 100
        cursor, got = c("SSCAN", key, 12345)  # any cursor: everything at once
        assert cursor == b"0" and len(got) == 100
    assert sorted(c("SSCAN", "ints", 0, "MATCH", "1*")[1]) == sorted(
        b"%d" % i for i in range(100) if str(i).startswith("1"))
    assert c("SSCAN", "strs", 0, "MATCH", "m9?")[1] == [b"m%d" % i for i in range(90, 100)]


def test_sscan_hashtable(c):
    c("SADD", "big", *["member:%d" % i for i in range(1000)])
    got, calls = full_sscan(c, "big", "COUNT", 10)
    assert calls > 10
    assert set(got) == {b"member:%d" % i for i in range(1000)}
    got, _ = full_sscan(c, "big", "MATCH", "member:99*", "COUNT", 50)
    assert set(got) == {b"member:99"} | {b"member:99%d" % i for i in range(10)}
    # Members present for the whole scan are returned even when the set grows meanwhile.
    cursor, seen = b"0", set()
    for i in range(10000):
        cursor, batch = c("SSCAN", "big", cursor)
        seen |= set(batch)
        c("SADD", "big", "extra:%d" % i)
        if cursor == b"0":
            break
    assert {b"member:%d" % i for i in range(1000)} <= seen


def test_sscan_errors(c):
    c("SADD", "s", "a")
    assert c("SSCAN", "s", "abc") == "ERR invalid cursor"
    assert c("SSCAN", "s", "18446744073709551616") == "ERR invalid cursor"
    assert c("SSCAN", "s", " 0") == "ERR invalid cursor"
    assert c("SSCAN", "s", -1) == [b"0", [b"a"]]
    assert c("SSCAN", "s", 0, "COUNT", 0) == SYNTAX
    assert c("SSCAN", "s", 0, "COUNT", -1) == SYNTAX
    assert c("SSCAN", "s", 0, "COUNT", "abc") == NOT_INT
    assert c("SSCAN", "s", 0, "TYPE", "string") == SYNTAX
    assert c("SSCAN", "s", 0, "MATCH") == SYNTAX
    assert c("SSCAN", "nokey", "abc") == "ERR invalid cursor"  # the cursor first


# ---- encodings and memory ----

def usage(c, key):
    return c("MEMORY", "USAGE", key)


def test_listpack_to_hashtable_at_the_thresholds(c):
    """set-max-listpack-entries (128) and -value (64): a listpack up to them, a hashtable past
    them (its usage jumps), and no way back once members are removed."""
    c("SADD", "s", *["m%03d" % i for i in range(128)])
    small = usage(c, "s")
    assert small < 1500  # about 6 bytes a member in one listpack
    c("SADD", "s", "m128")
    big = usage(c, "s")
    assert big > 2 * small
    c("SREM", "s", *["m%03d" % i for i in range(100)])
    assert usage(c, "s") > small  # still a hashtable
    c("SADD", "v", "a", "x" * 64)
    assert usage(c, "v") < 200
    c("SADD", "v", "y" * 65)
    assert usage(c, "v") > 200
    # the thresholds are config
    assert c("CONFIG", "SET", "set-max-listpack-entries", 4) == b"OK"
    c("SADD", "t", "a", "b", "c", "d")
    four = usage(c, "t")
    c("SADD", "t", "e")
    assert usage(c, "t") > 2 * four


def test_intset_thresholds(c):
    c("SADD", "i", *range(512))
    intset = usage(c, "i")
    assert intset < 1500  # 1032 bytes of intset in a 1280-byte size class, and the entry
    c("SADD", "i", 512)
    assert usage(c, "i") > 4 * intset  # hashtable
    # a string into a small intset: a listpack, still small
    c("SADD", "j", *range(10))
    c("SADD", "j", "abc")
    assert usage(c, "j") < 200
    assert c("SISMEMBER", "j", 5) == 1 and c("SISMEMBER", "j", "abc") == 1
    # a string into an intset of 128 integers or more: a hashtable
    c("SADD", "k", *range(128))
    before = usage(c, "k")
    c("SADD", "k", "abc")
    assert usage(c, "k") > 4 * before
    # wider integers: the intset widens (16 -> 64 bits)
    c("SADD", "w", *range(100))
    narrow = usage(c, "w")
    c("SADD", "w", 2**40)
    assert usage(c, "w") > 3 * narrow
    assert c("SISMEMBER", "w", 2**40) == 1 and c("SISMEMBER", "w", 99) == 1
    assert c("CONFIG", "SET", "set-max-intset-entries", 10) == b"OK"
    c("SADD", "x", *range(10))
    ten = usage(c, "x")
    c("SADD", "x", 10)
    assert usage(c, "x") > 4 * ten


def test_memory_back_to_baseline(c):
    base = sets_bytes(c)
    c("SADD", "ints", *range(300))
    c("SADD", "strs", *["s%d" % i for i in range(100)])
    c("SADD", "big", *["b%d" % i for i in range(2000)])
    c("SADD", "huge", "x" * 100000)
    c("SADD", "ttl", 1, 2, 3)
    assert sets_bytes(c) > base + 2000 * 16
    c("SUNIONSTORE", "u", "ints", "strs", "big")
    c("SINTERSTORE", "i", "big", "strs")
    c("PEXPIRE", "ttl", 1)
    assert wait_until(lambda: c("EXISTS", "ttl") == 0)
    assert c("DEL", "ints", "strs") == 2
    c("SPOP", "huge", 10)
    c("SADD", "tmp", "a")
    c("SET", "tmp", "now a string")  # an overwrite frees the set
    c("FLUSHALL")
    assert sets_bytes(c) == base


def test_memory_per_set_compact(c):
    """Small sets cost no more than Redis 7.0's (about 180 bytes a key for 50 small integers
    and about 2.6 KB for 50 short strings there, measured with INFO used_memory)."""
    base = sets_bytes(c)
    for i in range(200):
        c("SADD", "i:%d" % i, *range(50))
    per_int_set = (sets_bytes(c) - base) / 200
    c("FLUSHALL")
    for i in range(200):
        c("SADD", "s:%d" % i, *["member:%d" % j for j in range(50)])
    per_str_set = (sets_bytes(c) - base) / 200
    c("FLUSHALL")
    assert per_int_set <= 180, per_int_set
    assert per_str_set <= 1000, per_str_set
