"""Key-space commands against the real memkv-server: DEL UNLINK EXISTS TYPE, the EXPIRE family
with NX/XX/GT/LT, TTL PTTL PERSIST, RENAME RENAMENX, KEYS SCAN RANDOMKEY, DBSIZE FLUSHDB
FLUSHALL SELECT, and lazy and active expiry. Expected replies are Redis 7.0's (checked against
Debian's redis-server 7.0.15 while writing these tests).
"""
import random
import time

import pytest

from helpers import Resp, wait_until


NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"


def info_field(c, section, name):
    text = c("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("INFO %s has no field %s:\n%s" % (section, name, text))


# ---- DEL UNLINK EXISTS TYPE ----

def test_del_unlink_exists_type(c):
    assert c("MSET", "a", 1, "b", 2, "c", 3, "d", 4) == b"OK"
    assert c("EXISTS", "a") == 1
    assert c("EXISTS", "a", "a", "missing", "b") == 3  # repeats count
    assert c("EXISTS", "missing") == 0
    assert c("TYPE", "a") == b"string"
    assert c("TYPE", "missing") == b"none"
    assert c("DEL", "a", "a", "missing") == 1
    assert c("DEL", "a") == 0
    assert c("UNLINK", "b", "c", "zz") == 2
    assert c("EXISTS", "a", "b", "c", "d") == 1
    assert c("DBSIZE") == 1
    assert c("DEL") == "ERR wrong number of arguments for 'del' command"
    assert c("UNLINK") == "ERR wrong number of arguments for 'unlink' command"
    assert c("EXISTS") == "ERR wrong number of arguments for 'exists' command"
    assert c("TYPE") == "ERR wrong number of arguments for 'type' command"
    assert c("TYPE", "a", "b") == "ERR wrong number of arguments for 'type' command"


def test_del_many_keys(c):
    keys = ["k%d" % i for i in range(5000)]
    args = []
    for k in keys:
        args += [k, "v"]
    assert c("MSET", *args) == b"OK"
    assert c("DBSIZE") == 5000
    assert c("DEL", *keys[:2500]) == 2500
    assert c("UNLINK", *keys) == 2500
    assert c("DBSIZE") == 0


# ---- EXPIRE family, TTL, PTTL, PERSIST ----

def test_expire_ttl_pttl_persist(c):
    assert c("TTL", "missing") == -2
    assert c("PTTL", "missing") == -2
    assert c("EXPIRE", "missing", 10) == 0
    assert c("PERSIST", "missing") == 0
    assert c("SET", "k", "v") == b"OK"
    assert c("TTL", "k") == -1
    assert c("PTTL", "k") == -1
    assert c("PERSIST", "k") == 0
    assert c("EXPIRE", "k", 100) == 1
    assert 99 <= c("TTL", "k") <= 100
    assert 95000 <= c("PTTL", "k") <= 100000
    assert c("PEXPIRE", "k", 200000) == 1
    assert 199 <= c("TTL", "k") <= 200
    now = int(time.time())
    assert c("EXPIREAT", "k", now + 300) == 1
    assert 298 <= c("TTL", "k") <= 300
    assert c("PEXPIREAT", "k", (now + 400) * 1000) == 1
    assert 398 <= c("TTL", "k") <= 400
    assert c("PERSIST", "k") == 1
    assert c("TTL", "k") == -1
    assert c("GET", "k") == b"v"


@pytest.mark.parametrize("cmd,arg", [
    ("EXPIRE", "0"), ("EXPIRE", "-1"), ("PEXPIRE", "0"), ("EXPIREAT", "1"), ("PEXPIREAT", "1"),
])
def test_expire_in_the_past_deletes(c, cmd, arg):
    assert c("SET", "k", "v") == b"OK"
    assert c(cmd, "k", arg) == 1
    assert c("EXISTS", "k") == 0
    assert c("GET", "k") is None
    assert c("DBSIZE") == 0


def test_expire_nx_xx_gt_lt(c):
    assert c("SET", "k", "v") == b"OK"
    # No TTL yet: XX and GT refuse (no TTL counts as infinite), NX and LT set one.
    assert c("EXPIRE", "k", 100, "XX") == 0
    assert c("EXPIRE", "k", 100, "GT") == 0
    assert c("TTL", "k") == -1
    assert c("EXPIRE", "k", 100, "NX") == 1
    assert c("EXPIRE", "k", 200, "NX") == 0
    assert 99 <= c("TTL", "k") <= 100
    assert c("EXPIRE", "k", 150, "XX") == 1
    assert 149 <= c("TTL", "k") <= 150
    assert c("EXPIRE", "k", 50, "GT") == 0
    assert c("EXPIRE", "k", 200, "GT") == 1
    assert 199 <= c("TTL", "k") <= 200
    assert c("EXPIRE", "k", 300, "LT") == 0
    assert c("EXPIRE", "k", 50, "LT") == 1
    assert 49 <= c("TTL", "k") <= 50
    assert c("PEXPIRE", "k", 60000, "gt") == 1
    assert c("PEXPIRE", "k", 70000, "XX", "GT") == 1
    assert 69 <= c("TTL", "k") <= 70
    assert c("PERSIST", "k") == 1
    assert c("EXPIRE", "k", 100, "LT") == 1
    assert 99 <= c("TTL", "k") <= 100
    # GT/XX with a time in the past do not delete; LT does.
    assert c("EXPIRE", "k", 0, "GT") == 0
    assert c("EXPIRE", "k", 0, "XX") == 1  # it has a TTL, so XX applies and deletes
    assert c("EXISTS", "k") == 0
    assert c("SET", "k", "v") == b"OK"
    assert c("EXPIRE", "k", 0, "XX") == 0
    assert c("EXPIRE", "k", 0, "GT") == 0
    assert c("EXISTS", "k") == 1
    assert c("EXPIRE", "k", 0, "LT") == 1
    assert c("EXISTS", "k") == 0
    now = int(time.time())
    assert c("SET", "k", "v") == b"OK"
    assert c("EXPIREAT", "k", now + 100, "NX") == 1
    assert c("EXPIREAT", "k", now + 50, "GT") == 0
    assert c("PEXPIREAT", "k", (now + 500) * 1000, "GT") == 1
    assert 498 <= c("TTL", "k") <= 500


@pytest.mark.parametrize("cmd", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_expire_option_errors(c, cmd):
    assert c("SET", "k", "v") == b"OK"
    assert c(cmd, "k", 100, "NX", "XX") == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert c(cmd, "k", 100, "NX", "GT") == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert c(cmd, "k", 100, "GT", "LT") == \
        "ERR GT and LT options at the same time are not compatible"
    assert c(cmd, "k", 100, "FOO") == "ERR Unsupported option FOO"
    assert c(cmd, "k", "abc") == NOT_INT
    assert c(cmd, "k", "1.5") == NOT_INT
    assert c(cmd, "k") == "ERR wrong number of arguments for '%s' command" % cmd.lower()
    assert c("TTL", "k") == -1


def test_expire_overflow(c):
    assert c("SET", "k", "v") == b"OK"
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT"):
        assert c(cmd, "k", "9223372036854775807") == \
            "ERR invalid expire time in '%s' command" % cmd.lower()
    assert c("EXPIRE", "k", "-9223372036854775808") == \
        "ERR invalid expire time in 'expire' command"
    assert c("EXPIRE", "k", "9223372036854775808") == NOT_INT
    assert c("TTL", "k") == -1
    assert c("EXISTS", "k") == 1


def test_ttl_tracks_time(c):
    assert c("SET", "k", "v", "PX", 3000) == b"OK"
    first = c("PTTL", "k")
    time.sleep(0.3)
    second = c("PTTL", "k")
    assert 0 < second < first <= 3000
    assert first - second >= 250


# ---- RENAME / RENAMENX ----

def test_rename(c):
    assert c("RENAME", "missing", "x") == "ERR no such key"
    assert c("RENAMENX", "missing", "x") == "ERR no such key"
    assert c("SET", "k", "v", "EX", 100) == b"OK"
    assert c("RENAME", "k", "k") == b"OK"
    assert c("GET", "k") == b"v"
    assert 99 <= c("TTL", "k") <= 100
    # The TTL travels with the value.
    assert c("SET", "d", "old") == b"OK"
    assert c("RENAME", "k", "d") == b"OK"
    assert c("EXISTS", "k") == 0
    assert c("GET", "d") == b"v"
    assert 99 <= c("TTL", "d") <= 100
    # The destination's own TTL is replaced by the source's (none here).
    assert c("SET", "k2", "v2") == b"OK"
    assert c("RENAME", "k2", "d") == b"OK"
    assert c("GET", "d") == b"v2"
    assert c("TTL", "d") == -1
    assert c("DBSIZE") == 1
    # Binary key names.
    assert c("SET", b"a\x00b", "bin") == b"OK"
    assert c("RENAME", b"a\x00b", b"c\r\nd") == b"OK"
    assert c("GET", b"c\r\nd") == b"bin"


def test_renamenx(c):
    assert c("SET", "src", "v", "PX", 500000) == b"OK"
    assert c("SET", "dst", "x") == b"OK"
    assert c("RENAMENX", "src", "dst") == 0
    assert c("GET", "dst") == b"x"
    assert c("RENAMENX", "src", "src") == 0
    assert c("RENAMENX", "src", "new") == 1
    assert c("EXISTS", "src") == 0
    assert c("GET", "new") == b"v"
    assert 495000 <= c("PTTL", "new") <= 500000


def test_rename_of_expired_key(c):
    assert c("SET", "k", "v", "PX", 30) == b"OK"
    time.sleep(0.1)
    assert c("RENAME", "k", "x") == "ERR no such key"
    assert c("EXISTS", "x") == 0


# ---- KEYS ----

def test_keys_patterns(c):
    assert c("KEYS", "*") == []
    assert c("MSET", "a*", 1, "ab", 2, "b", 3, "a?", 4, "[a]", 5, "hello", 6, "hallo", 7,
             "hllo", 8, "heeeello", 9) == b"OK"
    assert sorted(c("KEYS", "*")) == sorted([b"a*", b"ab", b"b", b"a?", b"[a]", b"hello",
                                             b"hallo", b"hllo", b"heeeello"])
    assert sorted(c("KEYS", "a*")) == [b"a*", b"a?", b"ab"]
    assert c("KEYS", "a\\*") == [b"a*"]
    assert c("KEYS", "a\\?") == [b"a?"]
    assert c("KEYS", "\\[a\\]") == [b"[a]"]
    assert c("KEYS", "[ab]") == [b"b"]
    assert sorted(c("KEYS", "a[^b]")) == [b"a*", b"a?"]
    assert c("KEYS", "a[!b]") == [b"ab"]  # only ^ negates, as in Redis
    assert sorted(c("KEYS", "h?llo")) == [b"hallo", b"hello"]
    assert sorted(c("KEYS", "h*llo")) == [b"hallo", b"heeeello", b"hello", b"hllo"]
    assert sorted(c("KEYS", "h[ae]llo")) == [b"hallo", b"hello"]
    assert c("KEYS", "h[a-b]llo") == [b"hallo"]
    assert c("KEYS", "nomatch*") == []
    assert c("KEYS", "HELLO") == []  # case-sensitive
    assert c("KEYS") == "ERR wrong number of arguments for 'keys' command"


def test_keys_skips_expired(c):
    assert c("SET", "live", "v") == b"OK"
    assert c("SET", "dying", "v", "PX", 20) == b"OK"
    time.sleep(0.1)
    assert c("KEYS", "*") == [b"live"]


# ---- SCAN ----

def full_scan(c, *options):
    seen = []
    cursor = b"0"
    rounds = 0
    while True:
        reply = c("SCAN", cursor, *options)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, keys = reply
        seen += keys
        rounds += 1
        assert rounds < 100000
        if cursor == b"0":
            return seen, rounds


def test_scan_full_iteration(c):
    keys = {b"key:%d" % i for i in range(3000)}
    args = []
    for k in keys:
        args += [k, b"v"]
    assert c("MSET", *args) == b"OK"
    seen, rounds = full_scan(c)
    assert set(seen) == keys
    assert rounds > 1  # COUNT defaults to 10: many rounds
    seen, rounds = full_scan(c, "COUNT", 1000)
    assert set(seen) == keys
    seen, _ = full_scan(c, "MATCH", "key:1*", "COUNT", 100)
    assert set(seen) == {k for k in keys if k.startswith(b"key:1")}
    seen, _ = full_scan(c, "TYPE", "string", "COUNT", 500)
    assert set(seen) == keys
    seen, _ = full_scan(c, "TYPE", "STRING", "COUNT", 500)
    assert set(seen) == keys
    for t in ("hash", "list", "set", "zset", "nosuchtype"):
        seen, _ = full_scan(c, "TYPE", t, "COUNT", 500)
        assert seen == []
    seen, _ = full_scan(c, "MATCH", "nomatch*", "COUNT", 1000)
    assert seen == []


def test_scan_while_keys_are_added(c):
    """Every key present for the whole iteration is returned (set-wise, duplicates are
    allowed as in Redis); nothing that never existed is returned. The table grows (and
    rehashes) while the scan runs."""
    rng = random.Random(1234)
    original = {b"orig:%d" % i for i in range(2000)}
    args = []
    for k in original:
        args += [k, b"v"]
    assert c("MSET", *args) == b"OK"
    added = set()
    seen = []
    cursor = b"0"
    n = 0
    while True:
        cursor, keys = c("SCAN", cursor, "COUNT", rng.choice([5, 20, 50]))
        seen += keys
        batch = [b"new:%d" % (n + i) for i in range(40)]
        n += len(batch)
        added.update(batch)
        mset = []
        for k in batch:
            mset += [k, b"x"]
        assert c("MSET", *mset) == b"OK"
        if cursor == b"0":
            break
    assert original <= set(seen), "missing: %r" % sorted(original - set(seen))[:10]
    assert set(seen) <= original | added
    assert c("DBSIZE") == len(original) + len(added)


def test_scan_errors(c):
    assert c("SET", "k", "v") == b"OK"
    assert c("SCAN", "abc") == "ERR invalid cursor"
    assert c("SCAN", "1.5") == "ERR invalid cursor"
    assert c("SCAN", "18446744073709551616") == "ERR invalid cursor"
    assert c("SCAN", "0", "COUNT", 0) == SYNTAX
    assert c("SCAN", "0", "COUNT", -1) == SYNTAX
    assert c("SCAN", "0", "COUNT", "abc") == NOT_INT
    assert c("SCAN", "0", "MATCH") == SYNTAX
    assert c("SCAN", "0", "FOO", "bar") == SYNTAX
    assert c("SCAN") == "ERR wrong number of arguments for 'scan' command"
    assert c("SCAN", "0", "COUNT", 100) == [b"0", [b"k"]]


# ---- RANDOMKEY DBSIZE FLUSHDB FLUSHALL SELECT ----

def test_randomkey(c):
    assert c("RANDOMKEY") is None
    assert c("MSET", "a", 1, "b", 2, "c", 3) == b"OK"
    got = set()
    for _ in range(200):
        k = c("RANDOMKEY")
        assert k in (b"a", b"b", b"c")
        got.add(k)
    assert got == {b"a", b"b", b"c"}
    assert c("FLUSHDB") == b"OK"
    assert c("SET", "dying", "v", "PX", 20) == b"OK"
    time.sleep(0.1)
    assert c("RANDOMKEY") is None
    assert c("RANDOMKEY", "x") == "ERR wrong number of arguments for 'randomkey' command"


def test_select_and_databases(c, server):
    assert c("SET", "k", "db0") == b"OK"
    for db in range(16):
        assert c("SELECT", db) == b"OK"
        assert c("SET", "k%d" % db, db) == b"OK"
    assert c("SELECT", 16) == "ERR DB index is out of range"
    assert c("SELECT", -1) == "ERR DB index is out of range"
    assert c("SELECT", "abc") == NOT_INT
    assert c("SELECT", 15) == b"OK"
    assert c("DBSIZE") == 1
    assert c("GET", "k") is None
    assert c("GET", "k15") == b"15"
    assert c("SELECT", 3) == b"OK"
    assert c("KEYS", "*") == [b"k3"]
    # The selection is per connection.
    other = Resp(server)
    try:
        assert other("GET", "k") == b"db0"
        assert other("DBSIZE") == 2
        assert other("GET", "k3") is None
    finally:
        other.close()
    # FLUSHDB empties only the selected database.
    assert c("FLUSHDB") == b"OK"
    assert c("DBSIZE") == 0
    assert c("SELECT", 0) == b"OK"
    assert c("DBSIZE") == 2
    assert c("SELECT", 4) == b"OK"
    assert c("DBSIZE") == 1
    assert c("FLUSHDB", "ASYNC") == b"OK"
    assert c("FLUSHDB", "SYNC") == b"OK"
    assert c("FLUSHDB", "foo") == SYNTAX
    assert c("FLUSHALL", "foo") == SYNTAX
    # FLUSHALL empties all of them.
    assert c("FLUSHALL") == b"OK"
    for db in range(16):
        assert c("SELECT", db) == b"OK"
        assert c("DBSIZE") == 0
    assert c("FLUSHALL", "ASYNC") == b"OK"
    assert c("DBSIZE", "x") == "ERR wrong number of arguments for 'dbsize' command"


# ---- expiry ----

def test_lazy_expiry(c):
    assert c("SET", "k", "v", "PX", 500) == b"OK"
    assert c("GET", "k") == b"v"
    time.sleep(0.6)
    assert c("GET", "k") is None
    assert c("TTL", "k") == -2
    assert c("EXISTS", "k") == 0
    # Many keys: reading them after their deadline finds none of them, and reading removes
    # them (DBSIZE counts keys not yet reclaimed).
    replies = c.pipeline([("SET", "lazy:%d" % i, "v", "PX", 50) for i in range(5000)])
    assert replies == [b"OK"] * 5000
    time.sleep(0.1)
    assert c("MGET", *["lazy:%d" % i for i in range(5000)]) == [None] * 5000
    assert c("DBSIZE") == 0
    assert int(info_field(c, "stats", "expired_keys")) == 5001


def test_active_expiry(c):
    """1000 keys with PX 100 disappear without being touched: DBSIZE (which does not look at
    the keys) drops to 0 within a few seconds."""
    assert c("SET", "forever", "v") == b"OK"
    replies = c.pipeline([("SET", "vol:%d" % i, "v", "PX", 100) for i in range(1000)])
    assert replies == [b"OK"] * 1000
    # (Not asserting 1001 here: on a loaded machine some may already be gone.)
    assert 1 <= c("DBSIZE") <= 1001
    assert wait_until(lambda: c("DBSIZE") == 1, timeout=10), "DBSIZE stuck at %d" % c("DBSIZE")
    assert int(info_field(c, "stats", "expired_keys")) == 1000
    assert info_field(c, "keyspace", "db0") == "keys=1,expires=0,avg_ttl=0,string=1"
    assert c("GET", "forever") == b"v"


def test_active_expiry_in_other_databases(c):
    assert c("SELECT", 9) == b"OK"
    replies = c.pipeline([("SET", "vol:%d" % i, "v", "PX", 100) for i in range(500)])
    assert replies == [b"OK"] * 500
    assert c("SELECT", 0) == b"OK"
    assert wait_until(lambda: "db9:" not in c("INFO", "keyspace").decode(), timeout=10)
    assert c("SELECT", 9) == b"OK"
    assert c("DBSIZE") == 0
