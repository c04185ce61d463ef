"""String commands against the real memkv-server: every option, and Redis 7.0's exact replies
and error texts (checked against Debian's redis-server 7.0.15 while writing these tests).

Replies are read with hiredis's own parser over a raw socket (see helpers.Resp), so an error reply
is compared with its full text, "ERR " prefix included.
"""
import time

import pytest


SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def invalid_expire(cmd):
    return "ERR invalid expire time in '%s' command" % cmd


def assert_ttl_about(c, key, seconds):
    """TTL rounds to the nearest second in memkv and Redis; allow one second of slack."""
    ttl = c("TTL", key)
    assert isinstance(ttl, int) and seconds - 1 <= ttl <= seconds, ttl


def assert_pttl_about(c, key, ms, slack_ms=5000):
    pttl = c("PTTL", key)
    assert isinstance(pttl, int) and ms - slack_ms <= pttl <= ms, pttl


# ---- GET / SET ----

def test_get_set_basics(c):
    assert c("GET", "k") is None
    assert c("SET", "k", "v") == b"OK"
    assert c("GET", "k") == b"v"
    assert c("SET", "k", "other") == b"OK"
    assert c("GET", "k") == b"other"
    assert c("SET", "empty", "") == b"OK"
    assert c("GET", "empty") == b""
    assert c("STRLEN", "empty") == 0
    value = bytes(range(256)) + b"\r\n\x00end"
    assert c("SET", b"bin\x00\r\nkey", value) == b"OK"
    assert c("GET", b"bin\x00\r\nkey") == value
    assert c("GET", b"bin\x00") is None
    # Commands and options are case-insensitive.
    assert c("sEt", "k", "v2", "xX") == b"OK"
    assert c("get", "k") == b"v2"


def test_set_ex_px_exat_pxat(c):
    assert c("SET", "ex", "v", "EX", 100) == b"OK"
    assert_ttl_about(c, "ex", 100)
    assert c("SET", "px", "v", "PX", 100000) == b"OK"
    assert_pttl_about(c, "px", 100000)
    assert c("SET", "exat", "v", "EXAT", int(time.time()) + 200) == b"OK"
    assert_ttl_about(c, "exat", 200)
    assert c("SET", "pxat", "v", "PXAT", int(time.time() * 1000) + 300000) == b"OK"
    assert_pttl_about(c, "pxat", 300000)
    # A plain SET discards the TTL.
    assert c("SET", "ex", "v2") == b"OK"
    assert c("TTL", "ex") == -1
    # An absolute time in the past: the SET succeeds and the key is gone at once.
    assert c("SET", "past", "v", "PXAT", 1) == b"OK"
    assert c("GET", "past") is None
    assert c("EXISTS", "past") == 0
    assert c("SET", "past", "v", "EXAT", 1) == b"OK"
    assert c("EXISTS", "past") == 0


def test_set_nx_xx(c):
    assert c("SET", "k", "v1", "NX") == b"OK"
    assert c("SET", "k", "v2", "NX") is None
    assert c("GET", "k") == b"v1"
    assert c("SET", "missing", "v", "XX") is None
    assert c("EXISTS", "missing") == 0
    assert c("SET", "k", "v3", "XX") == b"OK"
    assert c("GET", "k") == b"v3"
    # Repeating the same flag is allowed.
    assert c("SET", "k", "v4", "NX", "NX") is None
    assert c("SET", "k", "v5", "XX", "XX") == b"OK"
    assert c("GET", "k") == b"v5"


def test_set_keepttl(c):
    assert c("SET", "k", "v", "EX", 100) == b"OK"
    assert c("SET", "k", "v2", "KEEPTTL") == b"OK"
    assert c("GET", "k") == b"v2"
    assert_ttl_about(c, "k", 100)
    assert c("SET", "k", "v3") == b"OK"
    assert c("TTL", "k") == -1
    # KEEPTTL on a new key: no TTL.
    assert c("SET", "fresh", "v", "KEEPTTL") == b"OK"
    assert c("TTL", "fresh") == -1


def test_set_get_option(c):
    assert c("SET", "k", "v1", "GET") is None
    assert c("GET", "k") == b"v1"
    assert c("SET", "k", "v2", "GET") == b"v1"
    assert c("GET", "k") == b"v2"
    # NX with GET: the old value comes back and nothing is written.
    assert c("SET", "k", "v3", "NX", "GET") == b"v2"
    assert c("GET", "k") == b"v2"
    # XX with GET on a missing key: nil, and the key is not created.
    assert c("SET", "new", "v", "XX", "GET") is None
    assert c("EXISTS", "new") == 0
    # GET combined with an expire.
    assert c("SET", "k", "v4", "GET", "PX", 100000) == b"v2"
    assert_pttl_about(c, "k", 100000)
    assert c("SET", "k", "v5", "KEEPTTL", "GET") == b"v4"
    assert_pttl_about(c, "k", 100000)


@pytest.mark.parametrize("args,err", [
    (("NX", "XX"), SYNTAX),
    (("XX", "NX"), SYNTAX),
    (("EX", 10, "PX", 100), SYNTAX),
    (("PX", 100, "EXAT", 10), SYNTAX),
    (("EX", 10, "KEEPTTL"), SYNTAX),
    (("KEEPTTL", "EX", 10), SYNTAX),
    (("KEEPTTL", "PXAT", 10), SYNTAX),
    (("EX",), SYNTAX),
    (("PX",), SYNTAX),
    (("FOO",), SYNTAX),
    (("EX", 10, "FOO"), SYNTAX),
    (("EX", "abc"), NOT_INT),
    (("PX", "1.5"), NOT_INT),
    (("EX", 0), invalid_expire("set")),
    (("EX", -1), invalid_expire("set")),
    (("PX", 0), invalid_expire("set")),
    (("EXAT", 0), invalid_expire("set")),
    (("PXAT", -5), invalid_expire("set")),
    (("EX", 9223372036854775807), invalid_expire("set")),
    (("EX", 9223372036854775), invalid_expire("set")),
    (("PX", 9223372036854775807), invalid_expire("set")),
])
def test_set_option_errors(c, args, err):
    assert c("SET", "k", "old") == b"OK"
    assert c("SET", "k", "new", *args) == err
    # A refused SET changes nothing.
    assert c("GET", "k") == b"old"
    assert c("TTL", "k") == -1


# ---- SETNX SETEX PSETEX GETSET GETDEL GETEX ----

def test_setnx(c):
    assert c("SETNX", "k", "v1") == 1
    assert c("SETNX", "k", "v2") == 0
    assert c("GET", "k") == b"v1"


def test_setex_psetex(c):
    assert c("SETEX", "k", 100, "v") == b"OK"
    assert c("GET", "k") == b"v"
    assert_ttl_about(c, "k", 100)
    assert c("PSETEX", "p", 100000, "pv") == b"OK"
    assert c("GET", "p") == b"pv"
    assert_pttl_about(c, "p", 100000)
    # SETEX overwrites value and TTL.
    assert c("SETEX", "p", 200, "pv2") == b"OK"
    assert c("GET", "p") == b"pv2"
    assert_ttl_about(c, "p", 200)
    assert c("SETEX", "k", 0, "v") == invalid_expire("setex")
    assert c("SETEX", "k", -5, "v") == invalid_expire("setex")
    assert c("SETEX", "k", "x", "v") == NOT_INT
    assert c("SETEX", "k", 9223372036854775807, "v") == invalid_expire("setex")
    assert c("PSETEX", "k", 0, "v") == invalid_expire("psetex")
    assert c("PSETEX", "k", 9223372036854775807, "v") == invalid_expire("psetex")
    assert c("PSETEX", "k", "1x", "v") == NOT_INT
    assert c("GET", "k") == b"v"


def test_getset(c):
    assert c("GETSET", "k", "v1") is None
    assert c("GET", "k") == b"v1"
    assert c("SET", "k", "v2", "EX", 100) == b"OK"
    assert c("GETSET", "k", "v3") == b"v2"
    assert c("GET", "k") == b"v3"
    assert c("TTL", "k") == -1  # GETSET discards the TTL


def test_getdel(c):
    assert c("GETDEL", "missing") is None
    assert c("SET", "k", "v", "EX", 100) == b"OK"
    assert c("GETDEL", "k") == b"v"
    assert c("EXISTS", "k") == 0
    assert c("GETDEL", "k") is None
    assert c("DBSIZE") == 0


def test_getex(c):
    assert c("GETEX", "missing") is None
    assert c("GETEX", "missing", "EX", 10) is None
    assert c("EXISTS", "missing") == 0
    assert c("SET", "k", "v") == b"OK"
    assert c("GETEX", "k") == b"v"
    assert c("TTL", "k") == -1
    assert c("GETEX", "k", "EX", 100) == b"v"
    assert_ttl_about(c, "k", 100)
    assert c("GETEX", "k", "PX", 200000) == b"v"
    assert_pttl_about(c, "k", 200000)
    assert c("GETEX", "k", "EXAT", int(time.time()) + 300) == b"v"
    assert_ttl_about(c, "k", 300)
    assert c("GETEX", "k", "PXAT", int(time.time() * 1000) + 400000) == b"v"
    assert_pttl_about(c, "k", 400000)
    # Without an option the TTL is left alone.
    assert c("GETEX", "k") == b"v"
    assert_pttl_about(c, "k", 400000)
    assert c("GETEX", "k", "PERSIST") == b"v"
    assert c("TTL", "k") == -1
    # A time in the past returns the value and deletes the key.
    assert c("GETEX", "k", "PXAT", 1) == b"v"
    assert c("EXISTS", "k") == 0


@pytest.mark.parametrize("args,err", [
    (("PERSIST", "EX", 10), SYNTAX),
    (("EX", 10, "PERSIST"), SYNTAX),
    (("EX", 10, "PX", 10), SYNTAX),
    (("FOO",), SYNTAX),
    (("EX",), SYNTAX),
    (("EX", "abc"), NOT_INT),
    (("EX", 0), invalid_expire("getex")),
    (("PX", -1), invalid_expire("getex")),
    (("EXAT", 0), invalid_expire("getex")),
])
def test_getex_errors(c, args, err):
    assert c("SET", "k", "v", "EX", 100) == b"OK"
    assert c("GETEX", "k", *args) == err
    assert_ttl_about(c, "k", 100)


# ---- MGET MSET MSETNX ----

def test_mget_mset_msetnx(c):
    assert c("MSET", "a", "1", "b", "2", "c", "3") == b"OK"
    assert c("MGET", "a", "b", "missing", "c") == [b"1", b"2", None, b"3"]
    assert c("MGET", "missing") == [None]
    # Later pairs win when a key repeats.
    assert c("MSET", "d", "x", "d", "y") == b"OK"
    assert c("GET", "d") == b"y"
    # MSET discards a TTL.
    assert c("SET", "t", "v", "EX", 100) == b"OK"
    assert c("MSET", "t", "w") == b"OK"
    assert c("TTL", "t") == -1
    # MSETNX: all or nothing.
    assert c("MSETNX", "a", "9", "new1", "9") == 0
    assert c("MGET", "a", "new1") == [b"1", None]
    assert c("MSETNX", "new1", "x", "new2", "y") == 1
    assert c("MGET", "new1", "new2") == [b"x", b"y"]
    assert c("MSET", "a") == "ERR wrong number of arguments for 'mset' command"
    assert c("MSET", "a", "1", "b") == "ERR wrong number of arguments for 'mset' command"
    assert c("MSETNX", "a", "1", "b") == "ERR wrong number of arguments for 'msetnx' command"
    assert c("MGET", "a", "b") == [b"1", b"2"]


def test_mset_many_pairs(c):
    pairs = []
    for i in range(2000):
        pairs += ["key:%d" % i, "val:%d" % i]
    assert c("MSET", *pairs) == b"OK"
    assert c("DBSIZE") == 2000
    got = c("MGET", *["key:%d" % i for i in range(2000)])
    assert got == [b"val:%d" % i for i in range(2000)]


# ---- INCR DECR INCRBY DECRBY ----

def test_incr_decr(c):
    assert c("INCR", "n") == 1
    assert c("INCR", "n") == 2
    assert c("INCRBY", "n", 10) == 12
    assert c("DECR", "n") == 11
    assert c("DECRBY", "n", 20) == -9
    assert c("INCRBY", "n", -1) == -10
    assert c("DECRBY", "n", -10) == 0
    assert c("GET", "n") == b"0"
    assert c("DECR", "fresh") == -1
    assert c("GET", "fresh") == b"-1"
    assert c("SET", "n", "-5") == b"OK"
    assert c("INCR", "n") == -4
    # INCR keeps the TTL.
    assert c("SET", "t", "5", "EX", 100) == b"OK"
    assert c("INCR", "t") == 6
    assert_ttl_about(c, "t", 100)


@pytest.mark.parametrize("value", ["abc", " 1", "1 ", "1.5", "+1", "007", "-0", "00", "",
                                   "9223372036854775808", "1e3"])
def test_incr_not_an_integer(c, value):
    assert c("SET", "n", value) == b"OK"
    assert c("INCR", "n") == NOT_INT
    assert c("DECR", "n") == NOT_INT
    assert c("INCRBY", "n", 1) == NOT_INT
    assert c("GET", "n") == value.encode()


def test_incr_overflow(c):
    assert c("SET", "n", "9223372036854775807") == b"OK"
    assert c("INCR", "n") == "ERR increment or decrement would overflow"
    assert c("INCRBY", "n", 1) == "ERR increment or decrement would overflow"
    assert c("INCRBY", "n", -9223372036854775807) == 0
    assert c("SET", "n", "-9223372036854775808") == b"OK"
    assert c("DECR", "n") == "ERR increment or decrement would overflow"
    assert c("DECRBY", "n", 1) == "ERR increment or decrement would overflow"
    assert c("INCRBY", "n", -1) == "ERR increment or decrement would overflow"
    assert c("GET", "n") == b"-9223372036854775808"
    assert c("DECRBY", "n", -9223372036854775807) == -1
    assert c("DECRBY", "n", "-9223372036854775808") == "ERR decrement would overflow"
    assert c("SET", "z", "0") == b"OK"
    assert c("DECRBY", "z", "-9223372036854775808") == "ERR decrement would overflow"
    assert c("INCRBY", "z", "9223372036854775808") == NOT_INT
    assert c("INCRBY", "z", "abc") == NOT_INT
    assert c("DECRBY", "z", "1.0") == NOT_INT
    assert c("INCRBY", "z", "-9223372036854775808") == -9223372036854775808
    assert c("GET", "z") == b"-9223372036854775808"


# ---- INCRBYFLOAT ----

@pytest.mark.parametrize("start,incr,result", [
    ("10.5", "0.1", b"10.6"),
    (None, "5.0e3", b"5000"),
    (None, "3", b"3"),
    ("3", "-3", b"0"),
    (None, "1.23456789012345678", b"1.23456789012345678"),
    ("0.1", "0.2", b"0.3"),
    (None, ".5", b"0.5"),
    (None, "-.5", b"-0.5"),
    (None, "1e-5", b"0.00001"),
    ("10", "1", b"11"),
    ("-1.5", "0.5", b"-1"),
    ("1.5", "1", b"2.5"),
    (None, "3.0000000000000001", b"3.0000000000000001"),
    # long double holds 2e308; Redis prints it in full with %.17Lf.
    ("1e308", "1e308", b"199999999999999999993371759311691291321120199694831134415594095989843"
                       b"469737676123744200253843777078640893494450108026446304269499187921167"
                       b"194841628860392837535918200039206381557326219209014213335878306791577"
                       b"877829121087126122536729803237260434173178506889763247582601711514636"
                       b"284849020905456510092687857156096"),
])
def test_incrbyfloat(c, start, incr, result):
    if start is not None:
        assert c("SET", "f", start) == b"OK"
    assert c("INCRBYFLOAT", "f", incr) == result
    assert c("GET", "f") == result


def test_incrbyfloat_errors_and_ttl(c):
    assert c("INCRBYFLOAT", "f", "abc") == NOT_FLOAT
    assert c("INCRBYFLOAT", "f", "1e") == NOT_FLOAT
    assert c("INCRBYFLOAT", "f", "nan") == NOT_FLOAT
    assert c("INCRBYFLOAT", "f", "") == NOT_FLOAT
    assert c("INCRBYFLOAT", "f", "inf") == "ERR increment would produce NaN or Infinity"
    assert c("INCRBYFLOAT", "f", "+inf") == "ERR increment would produce NaN or Infinity"
    assert c("EXISTS", "f") == 0
    for bad in ("abc", "1.5abc", " 1", "nan"):
        assert c("SET", "f", bad) == b"OK"
        assert c("INCRBYFLOAT", "f", "1") == NOT_FLOAT
        assert c("GET", "f") == bad.encode()
    # INCRBYFLOAT keeps the TTL.
    assert c("SET", "t", "1.5", "EX", 100) == b"OK"
    assert c("INCRBYFLOAT", "t", "1") == b"2.5"
    assert_ttl_about(c, "t", 100)


# ---- APPEND STRLEN GETRANGE SETRANGE ----

def test_append_strlen(c):
    assert c("STRLEN", "missing") == 0
    assert c("APPEND", "k", "Hello") == 5
    assert c("APPEND", "k", " World") == 11
    assert c("GET", "k") == b"Hello World"
    assert c("STRLEN", "k") == 11
    assert c("APPEND", "k", b"\x00\r\n") == 14
    assert c("GET", "k") == b"Hello World\x00\r\n"
    assert c("APPEND", "e", "") == 0
    assert c("EXISTS", "e") == 1
    assert c("GET", "e") == b""
    # APPEND keeps the TTL.
    assert c("SET", "t", "v", "EX", 100) == b"OK"
    assert c("APPEND", "t", "x") == 2
    assert_ttl_about(c, "t", 100)
    # Many appends build a long string correctly.
    for i in range(1000):
        c.send("APPEND", "long", "%04d" % i)
    for i in range(1000):
        assert c.read() == 4 * (i + 1)
    assert c("GET", "long") == b"".join(b"%04d" % i for i in range(1000))


def test_append_over_proto_max_bulk_len(c):
    assert c("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"OK"
    half = b"x" * (600 * 1024)
    assert c("SET", "k", half) == b"OK"
    assert c("APPEND", "k", half) == TOO_BIG
    assert c("STRLEN", "k") == len(half)
    assert c("APPEND", "k", b"y" * (1024 * 1024 - len(half))) == 1024 * 1024


def test_getrange(c):
    assert c("SET", "s", "Hello World") == b"OK"
    assert c("GETRANGE", "s", 0, 4) == b"Hello"
    assert c("GETRANGE", "s", -5, -1) == b"World"
    assert c("GETRANGE", "s", 0, -1) == b"Hello World"
    assert c("GETRANGE", "s", 0, -100) == b"H"
    assert c("GETRANGE", "s", -100, -50) == b"H"
    assert c("GETRANGE", "s", 5, 3) == b""
    assert c("GETRANGE", "s", -1, -5) == b""
    assert c("GETRANGE", "s", 0, 1000) == b"Hello World"
    assert c("GETRANGE", "s", 10, 10) == b"d"
    assert c("GETRANGE", "s", 11, 20) == b""
    assert c("GETRANGE", "s", 1, -1) == b"ello World"
    assert c("GETRANGE", "missing", 0, -1) == b""
    assert c("GETRANGE", "s", "a", 1) == NOT_INT
    assert c("GETRANGE", "s", 0, "1.5") == NOT_INT
    assert c("SUBSTR", "s", 0, 1) == b"He"
    assert c("SET", "e", "") == b"OK"
    assert c("GETRANGE", "e", 0, -1) == b""


def test_setrange(c):
    assert c("SETRANGE", "k", 5, "hi") == 7
    assert c("GET", "k") == b"\x00\x00\x00\x00\x00hi"
    assert c("SET", "s", "Hello World") == b"OK"
    assert c("SETRANGE", "s", 6, "Redis") == 11
    assert c("GET", "s") == b"Hello Redis"
    assert c("SETRANGE", "s", 11, "!") == 12
    assert c("SETRANGE", "s", 14, "?") == 15
    assert c("GET", "s") == b"Hello Redis!\x00\x00?"
    assert c("SETRANGE", "s", 0, "J") == 15
    assert c("GET", "s") == b"Jello Redis!\x00\x00?"
    # An empty value changes nothing and creates nothing.
    assert c("SETRANGE", "s", 100, "") == 15
    assert c("STRLEN", "s") == 15
    assert c("SETRANGE", "nokey", 100, "") == 0
    assert c("EXISTS", "nokey") == 0
    assert c("SETRANGE", "s", -1, "x") == "ERR offset is out of range"
    assert c("SETRANGE", "s", "abc", "x") == NOT_INT
    # offset + length above proto-max-bulk-len (512 MiB by default): refused, nothing allocated.
    assert c("SETRANGE", "s", 536870912, "x") == TOO_BIG
    assert c("SETRANGE", "big", 536870911, "xy") == TOO_BIG
    assert c("EXISTS", "big") == 0
    # Offsets near 2^63: offset + length would overflow; refused, the server lives on.
    for off in (2**63 - 1, 2**63 - 2, 2**62, 2**40, 2**40 - 1):
        assert c("SETRANGE", "s", off, "A") == TOO_BIG
        assert c("SETRANGE", "nokey", off, "AB") == TOO_BIG
    assert c("EXISTS", "nokey") == 0
    assert c("STRLEN", "s") == 15
    # SETRANGE keeps the TTL.
    assert c("SET", "t", "abc", "EX", 100) == b"OK"
    assert c("SETRANGE", "t", 1, "X") == 3
    assert c("GET", "t") == b"aXc"
    assert_ttl_about(c, "t", 100)


def test_setrange_respects_configured_limit(c):
    assert c("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"OK"
    assert c("SETRANGE", "k", 1024 * 1024, "x") == TOO_BIG
    assert c("EXISTS", "k") == 0
    assert c("SETRANGE", "k", 1024 * 1024 - 1, "x") == 1024 * 1024
    assert c("GETRANGE", "k", -2, -1) == b"\x00x"
    # Above the entry's own length limit (2^40 - 1) even a raised proto-max-bulk-len refuses,
    # instead of reaching the key space's length assertion.
    assert c("CONFIG", "SET", "proto-max-bulk-len", str(2**43)) == b"OK"
    assert c("SETRANGE", "k", 2**40, "x") == TOO_BIG
    assert c("APPEND", "k", "x") == 1024 * 1024 + 1


# ---- arity ----

@pytest.mark.parametrize("cmd", [
    ("GET",), ("GET", "a", "b"), ("SET", "k"), ("SETNX", "k"), ("SETNX", "k", "v", "x"),
    ("SETEX", "k", 1), ("PSETEX", "k", 1), ("GETSET", "k"), ("GETDEL",), ("GETDEL", "a", "b"),
    ("GETEX",), ("MGET",), ("MSET",), ("MSET", "k"), ("MSETNX", "k"), ("INCR",), ("DECR", "a", "b"),
    ("INCRBY", "k"), ("DECRBY", "k", 1, 2), ("INCRBYFLOAT", "k"), ("APPEND", "k"), ("STRLEN",),
    ("GETRANGE", "k", 0), ("SETRANGE", "k", 0), ("SUBSTR", "k"),
])
def test_wrong_arity(c, cmd):
    assert c(*cmd) == "ERR wrong number of arguments for '%s' command" % cmd[0].lower()
    # The connection stays usable.
    assert c("PING") == b"PONG"
