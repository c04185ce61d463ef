"""Bitmaps, LCS, EXPIRETIME, SWAPDB, WAIT/ROLE, the INFO fields clients read at connect and
COMMAND GETKEYS: the edge cases the differential test (tests/diff) cannot reach: several
clients (a client blocked on a key of a swapped db), the key-space statistics across a swap,
BITFIELD's overflow policies at every width, offsets at the string-size limit (refused without
allocating), LCS's memory bound."""
import threading
import time

import pytest

from helpers import Resp, info_fields

DEBUG_ARGS = ["--enable-debug-command", "yes"]


@pytest.fixture
def dbg(server_factory):
    s = server_factory(DEBUG_ARGS)
    conn = Resp(s)
    yield conn
    assert conn("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"
    conn.close()


def stats_ok(c):
    assert c("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"


def rows(reply):
    return [dict(zip(r[0::2], r[1::2])) for r in reply]


# ---- bitmaps ----

def test_setbit_getbit_grow_and_stats(dbg):
    c = dbg
    assert c("SETBIT", "b", 7, 1) == 0
    assert c("GET", "b") == b"\x01"
    assert c("SETBIT", "b", 7, 1) == 1
    assert c("SETBIT", "b", 100, 1) == 0
    assert c("STRLEN", "b") == 13
    assert c("GETBIT", "b", 100) == 1
    assert c("GETBIT", "b", 10 ** 6) == 0  # past the end: 0, nothing grows
    assert c("STRLEN", "b") == 13
    assert c("OBJECT", "ENCODING", "b") == b"raw"
    stats_ok(c)
    c("SET", "n", "12")
    assert c("SETBIT", "n", 0, 1) == 0  # an int-encoded value's bytes are its digits
    assert c("GET", "n") == b"\xb12"
    stats_ok(c)
    assert c("SETBIT", "b", 1, 2) == "ERR bit is not an integer or out of range"
    assert c("SETBIT", "b", -1, 1) == "ERR bit offset is not an integer or out of range"
    c("HSET", "h", "f", "v")
    assert c("SETBIT", "h", 1, 1).startswith("WRONGTYPE")
    assert c("GETBIT", "h", 1).startswith("WRONGTYPE")


def test_offsets_at_the_limit_refused_without_allocating(server_factory):
    s = server_factory(DEBUG_ARGS)
    c = Resp(s)
    used = int(info_fields(c, "memory")["used_memory"])
    # The default limit (512 MB): bit 2^32 lies in byte 2^29, one past the last.
    for off in (2 ** 32, 2 ** 32 + 7, 2 ** 63 - 1):
        assert c("SETBIT", "k", off, 1) == "ERR bit offset is not an integer or out of range"
        assert c("BITFIELD", "k", "SET", "u8", off, 1) == \
            "ERR bit offset is not an integer or out of range"
    # "#n" offsets are multiplied by the width; past the limit too.
    assert c("BITFIELD", "k", "SET", "i64", "#%d" % (2 ** 26), 1) == \
        "ERR bit offset is not an integer or out of range"
    assert c("EXISTS", "k") == 0
    assert int(info_fields(c, "memory")["used_memory"]) < used + 1024 * 1024
    # A lower proto-max-bulk-len moves the limit: its last byte is allowed, the next is not.
    assert c("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"OK"
    assert c("SETBIT", "k", 8 * 1024 * 1024, 1) == \
        "ERR bit offset is not an integer or out of range"
    assert c("SETBIT", "k", 8 * 1024 * 1024 - 1, 1) == 0
    assert c("STRLEN", "k") == 1024 * 1024
    # BITFIELD may end up to 8 bytes past an offset that passed (as Redis).
    assert c("BITFIELD", "k", "SET", "i64", 8 * 1024 * 1024 - 1, -1) == [-(2 ** 63)]
    assert c("STRLEN", "k") == 1024 * 1024 + 8
    assert c("SETRANGE", "k", 1024 * 1024, "x") == \
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    stats_ok(c)
    c.close()


def test_bitcount_bitpos_ranges(c):
    c("SET", "s", b"\xff\xf0\x00")
    assert c("BITCOUNT", "s") == 12
    assert c("BITCOUNT", "s", 1, 1) == 4
    assert c("BITCOUNT", "s", 5, 30, "BIT") == 7
    assert c("BITCOUNT", "s", -2, -1) == 4
    assert c("BITCOUNT", "s", -1, -2) == 0
    assert c("BITCOUNT", "s", 0, 0, "bogus") == "ERR syntax error"
    assert c("BITCOUNT", "missing", 0, 0, "bogus") == 0  # 7.0: a missing key answers first
    assert c("BITPOS", "s", 0) == 12
    assert c("BITPOS", "s", 1, 2) == -1
    assert c("BITPOS", "s", 0, 0, 0) == -1  # an end given: no zero inside the range
    assert c("BITPOS", "s", 0, 0) == 12
    c("SET", "ones", b"\xff\xff")
    assert c("BITPOS", "ones", 0) == 16  # no end: the string is padded with zeros
    assert c("BITPOS", "ones", 0, 0, -1) == -1
    assert c("BITPOS", "ones", 0, 3, 9, "BIT") == -1
    assert c("BITPOS", "missing", 0) == 0
    assert c("BITPOS", "missing", 1) == -1
    assert c("BITPOS", "s", 2) == "ERR The bit argument must be 1 or 0."


def test_bitop(dbg):
    c = dbg
    c("SET", "a", b"\x0f\xf0")
    c("SET", "b", b"\xff")
    assert c("BITOP", "AND", "d", "a", "b") == 2
    assert c("GET", "d") == b"\x0f\x00"
    assert c("BITOP", "OR", "d", "a", "b", "missing") == 2
    assert c("GET", "d") == b"\xff\xf0"
    assert c("BITOP", "XOR", "d", "a", "b") == 2
    assert c("GET", "d") == b"\xf0\xf0"
    assert c("BITOP", "NOT", "d", "a") == 2
    assert c("GET", "d") == b"\xf0\x0f"
    c("EXPIRE", "d", 100)
    assert c("BITOP", "NOT", "d", "a") == 2
    assert c("TTL", "d") == -1  # the destination is written whole: no expire
    stats_ok(c)
    assert c("BITOP", "AND", "d", "missing1", "missing2") == 0
    assert c("EXISTS", "d") == 0  # an empty result deletes the destination
    stats_ok(c)
    assert c("BITOP", "NOT", "d", "a", "b") == \
        "ERR BITOP NOT must be called with a single source key."
    c("LPUSH", "l", "x")
    assert c("BITOP", "AND", "d", "a", "l").startswith("WRONGTYPE")


def field_model(bits, signed, value, incr, policy):
    """(result, stored) of value+incr in a field, as Redis's policies make it; result None
    when FAIL refuses it."""
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    s = value + incr
    if lo <= s <= hi:
        return s, s
    if policy == "FAIL":
        return None, None
    if policy == "SAT":
        return (hi, hi) if s > hi else (lo, lo)
    w = s % (2 ** bits)
    if signed and w > hi:
        w -= 2 ** bits
    return w, w


@pytest.mark.parametrize("signed,bits", [(True, 1), (True, 8), (True, 33), (True, 63),
                                         (True, 64), (False, 1), (False, 8), (False, 32),
                                         (False, 63)])
def test_bitfield_overflow_policies(c, signed, bits):
    t = ("i" if signed else "u") + str(bits)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    imax = 2 ** 63 - 1
    for policy in ("WRAP", "SAT", "FAIL"):
        for start in {lo, hi, 0, lo + 1, hi - 1}:
            for incr in {1, -1, hi, -hi, imax, -imax - 1, 2, -2}:
                c("DEL", "f")
                c("BITFIELD", "f", "SET", t, 3, start)
                got = c("BITFIELD", "f", "OVERFLOW", policy, "INCRBY", t, 3, incr, "GET", t, 3)
                want, stored = field_model(bits, signed, start, incr, policy)
                assert got == [want, start if stored is None else stored], \
                    (t, policy, start, incr)


def test_bitfield_set_and_errors(c):
    assert c("BITFIELD", "f", "SET", "u8", "#1", 255, "GET", "u8", 8, "GET", "i8", 8) == \
        [0, 255, -1]
    assert c("BITFIELD", "f", "OVERFLOW", "SAT", "SET", "u8", 0, -1, "GET", "u8", 0) == [0, 255]
    assert c("BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "i8", 0, 128, "GET", "i8", 0) == \
        [None, -1]
    assert c("BITFIELD", "f", "GET", "u64", 0) == \
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported " \
        "but i64 is."
    assert c("BITFIELD", "f", "OVERFLOW", "bogus") == "ERR Invalid OVERFLOW type specified"
    assert c("BITFIELD", "f", "GET", "i8") == "ERR syntax error"
    assert c("BITFIELD_RO", "f", "GET", "u8", 8) == [255]
    assert c("BITFIELD_RO", "f", "SET", "u8", 8, 1) == \
        "ERR BITFIELD_RO only supports the GET subcommand"
    assert c("BITFIELD", "nokey", "GET", "i64", 0) == [0]
    assert c("EXISTS", "nokey") == 0
    assert c("BITFIELD", "nokey", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 9) == [None]
    assert c("GET", "nokey") == b"\x00"  # a write creates the key, even when FAIL refused it


# ---- LCS ----

def test_lcs(c):
    c("MSET", "a", "ohmytext", "b", "mynewtext")
    assert c("LCS", "a", "b") == b"mytext"
    assert c("LCS", "a", "b", "LEN") == 6
    assert c("LCS", "a", "b", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN") == \
        [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert c("LCS", "a", "b", "IDX") == \
        [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert c("LCS", "a", "missing") == b""
    assert c("LCS", "a", "b", "LEN", "IDX") == \
        "ERR If you want both the length and indexes, please just use IDX."
    c("LPUSH", "l", "x")
    assert c("LCS", "a", "l") == "ERR The specified keys must contain string values"


def test_lcs_memory_bound(c):
    """The table takes 4 bytes a cell; more than proto-max-bulk-len is refused, not allocated."""
    c("CONFIG", "SET", "proto-max-bulk-len", "1mb")
    c("SET", "x", "a" * 600)
    c("SET", "y", "a" * 600)  # 601*601*4 bytes: 1.4 MB
    assert c("LCS", "x", "y", "LEN") == \
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    c("SET", "y", "a" * 400)  # 601*401*4: under 1 MB
    assert c("LCS", "x", "y", "LEN") == 400


# ---- EXPIRETIME, WAIT, ROLE, INFO ----

def test_expiretime(c):
    c("SET", "k", "v")
    assert c("EXPIRETIME", "k") == -1
    assert c("PEXPIRETIME", "missing") == -2
    c("PEXPIREAT", "k", 4102444800123)
    assert c("PEXPIRETIME", "k") == 4102444800123
    assert c("EXPIRETIME", "k") == 4102444800


def test_wait_role_info(c):
    assert c("WAIT", 0, 0) == 0
    assert c("WAIT", 1, 0) == 0  # no replica will ever acknowledge: 0 at once
    assert c("WAIT", 0, -1) == "ERR timeout is negative"
    assert c("ROLE") == [b"master", 0, []]
    f = info_fields(c)
    assert f["role"] == "master" and f["connected_slaves"] == "0"
    assert f["loading"] == "0" and f["redis_mode"] == "standalone"
    assert f["cluster_enabled"] == "0" and f["master_failover_state"] == "no-failover"
    assert len(f["master_replid"]) == 40 and f["master_repl_offset"] == "0"
    text = c("INFO", "replication", "persistence").decode()
    assert text.startswith("# Persistence") and "# Replication" in text
    assert "# Memory" not in text
    assert "# CPU" in c("INFO", "everything").decode()


def test_command_getkeys(c):
    assert c("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert c("COMMAND", "GETKEYS", "ZUNIONSTORE", "d", 2, "x", "y") == [b"d", b"x", b"y"]
    assert c("COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k") == [b"k"]
    assert c("COMMAND", "GETKEYS", "PING", "x") == "ERR The command has no key arguments"
    assert c("COMMAND", "GETKEYS", "NOSUCH", "x") == "ERR Invalid command specified"
    assert c("COMMAND", "GETKEYSANDFLAGS", "GET", "k") == [[b"k", [b"RO", b"access"]]]
    assert set(c("COMMAND", "LIST", "FILTERBY", "PATTERN", "bit*")) == \
        {b"bitcount", b"bitfield", b"bitfield_ro", b"bitop", b"bitpos"}


# ---- SWAPDB ----

def test_swapdb_moves_contents_and_statistics(dbg):
    c = dbg
    c("SET", "user:1", "x" * 5000)
    c("HSET", "h:1", "f", "v")
    c("SELECT", 1)
    c("SET", "other:1", "y" * 100)
    c("EXPIRE", "other:1", 1000)
    top_before = rows(c("MEMORY", "TOP-KEYS"))
    assert c("SWAPDB", 0, 1) == b"OK"
    # This client stays on db 1, which now holds what db 0 held.
    assert c("GET", "user:1") == b"x" * 5000
    assert c("EXISTS", "other:1") == 0
    stats_ok(c)
    top_after = rows(c("MEMORY", "TOP-KEYS"))
    moved = {r[b"key"]: r[b"db"] for r in top_after}
    assert moved[b"user:1"] == 1 and moved[b"other:1"] == 0
    assert {r[b"key"]: r[b"bytes"] for r in top_before} == \
        {r[b"key"]: r[b"bytes"] for r in top_after}
    keyspace = info_fields(c, "keyspace")
    assert keyspace["db0"].startswith("keys=1,expires=1")
    assert keyspace["db1"].startswith("keys=2,expires=0")
    # Writes after the swap land in the right db's figures.
    c("SELECT", 0)
    c("APPEND", "other:1", "z" * 3000)
    c("DEL", "user:1")  # not in db 0
    stats_ok(c)
    assert c("SWAPDB", 0, 0) == b"OK"
    assert c("SWAPDB", 0, 16) == "ERR DB index is out of range"
    assert c("SWAPDB", "x", 0) == "ERR invalid first DB index"
    assert c("SWAPDB", 0, "2147483648") == "ERR invalid second DB index"
    c("SWAPDB", 1, 0)
    stats_ok(c)
    c("FLUSHALL")
    stats_ok(c)


def test_swapdb_wakes_a_client_blocked_on_a_key(server):
    """A client blocked on a list of db 1 is served when SWAPDB brings a db where that list
    exists (Redis 7.0); one waiting on a key the swap does not bring stays blocked."""
    waiter = Resp(server)
    other = Resp(server)
    ctl = Resp(server)
    try:
        waiter("SELECT", 1)
        other("SELECT", 1)
        ctl("RPUSH", "q", "job")  # in db 0
        ctl("SET", "notalist", "x")
        results = {}

        def block(conn, name, key):
            results[name] = conn("BLPOP", key, 5)

        t1 = threading.Thread(target=block, args=(waiter, "q", "q"))
        t2 = threading.Thread(target=block, args=(other, "nope", "notalist"))
        t1.start()
        t2.start()
        deadline = time.time() + 5
        while int(info_fields(ctl, "clients")["blocked_clients"]) < 2:
            assert time.time() < deadline
            time.sleep(0.01)
        assert ctl("SWAPDB", 0, 1) == b"OK"
        t1.join(5)
        assert results["q"] == [b"q", b"job"]
        assert int(info_fields(ctl, "clients")["blocked_clients"]) == 1  # a string: waits on
        ctl("SELECT", 1)
        assert ctl("EXISTS", "q") == 0
        ctl("DEL", "notalist")
        ctl("RPUSH", "notalist", "a")
        t2.join(5)
        assert results["nope"] == [b"notalist", b"a"]
    finally:
        for conn in (waiter, other, ctl):
            conn.close()
