"""Generic commands that work on keys of every type: OBJECT, COPY, MOVE, TOUCH, TYPE, RENAME,
SCAN ... TYPE, MEMORY USAGE, and keys per type and encoding in INFO keyspace and /metrics.
Expected replies are Redis 7.0's (checked against Debian's redis-server 7.0.15).
"""
import pytest

from helpers import Resp, wait_until
from test_endpoint import scrape

NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
SAME = "ERR source and destination objects are the same"
DB_RANGE = "ERR DB index is out of range"
INT_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"

# One key of each type, with the commands that build it and its encodings (compact, full).
BUILDERS = {
    "hash": (("HSET", "{k}", "f", "v"), "listpack"),
    "list": (("RPUSH", "{k}", "a", "b"), "quicklist"),
    "set": (("SADD", "{k}", "1", "2"), "intset"),
    "zset": (("ZADD", "{k}", "1", "m"), "listpack"),
}


def has_type(c, t):
    """Whether this build has the type's commands yet (they land type by type)."""
    return c("COMMAND", "INFO", BUILDERS[t][0][0])[0] is not None


def build(c, t, key):
    cmd = tuple(a.format(k=key) for a in BUILDERS[t][0])
    c(*cmd)


# ---- OBJECT ----

def test_object_string_encodings(c):
    c("SET", "i", "12345")
    c("SET", "s", "x" * 44)
    c("SET", "r", "x" * 45)
    c("SET", "z", "012")  # not canonical: a string
    c("SET", "big", "99999999999999999999")  # 20 digits, over 2^63
    assert c("OBJECT", "ENCODING", "i") == b"int"
    assert c("OBJECT", "ENCODING", "s") == b"embstr"
    assert c("OBJECT", "ENCODING", "r") == b"raw"
    assert c("OBJECT", "ENCODING", "z") == b"embstr"
    assert c("OBJECT", "ENCODING", "big") == b"embstr"
    c("APPEND", "i", "6")  # changed in place: raw whatever it holds
    assert c("OBJECT", "ENCODING", "i") == b"raw"
    c("INCRBYFLOAT", "f", "1")  # Redis never int-encodes INCRBYFLOAT's result
    assert c("OBJECT", "ENCODING", "f") == b"embstr"
    c("INCR", "n")
    assert c("OBJECT", "ENCODING", "n") == b"int"
    c("SETRANGE", "sr", 0, "ab")
    assert c("OBJECT", "ENCODING", "sr") == b"raw"
    c("SET", "sr", "ab")  # a whole new value forgets it
    assert c("OBJECT", "ENCODING", "sr") == b"embstr"
    assert c("OBJECT", "ENCODING", "missing") is None


def test_object_other_subcommands(c):
    c("SET", "a", "7")
    assert c("OBJECT", "REFCOUNT", "a") == 2147483647  # a shared small integer, as Redis
    c("SET", "b", "hello")
    assert c("OBJECT", "REFCOUNT", "b") == 1
    assert c("OBJECT", "IDLETIME", "b") <= 1  # the LRU clock ticks in seconds, in the cron
    assert c("OBJECT", "FREQ", "b").startswith("ERR An LFU maxmemory policy is not selected")
    assert c("OBJECT", "FREQ", "missing") is None
    assert c("OBJECT", "HELP")[0].startswith(b"OBJECT <subcommand>")
    assert c("OBJECT", "ENCODING") == "ERR wrong number of arguments for 'object|encoding' command"
    assert c("OBJECT", "ENCODING", "a", "b") == \
        "ERR wrong number of arguments for 'object|encoding' command"
    assert c("OBJECT", "nosuch", "a") == "ERR unknown subcommand 'nosuch'. Try OBJECT HELP."
    assert c("OBJECT") == "ERR wrong number of arguments for 'object' command"


# ---- COPY MOVE TOUCH ----

def test_copy_strings(c):
    c("SET", "src", "value")
    assert c("COPY", "src", "dst") == 1
    assert c("GET", "dst") == b"value"
    assert c("COPY", "src", "dst") == 0  # exists, no REPLACE
    c("SET", "src", "other")
    assert c("COPY", "src", "dst", "REPLACE") == 1
    assert c("GET", "dst") == b"other"
    assert c("COPY", "missing", "x") == 0
    assert c("COPY", "src", "src") == SAME
    assert c("COPY", "src", "src", "DB", 1) == 1  # another db: allowed
    assert c("COPY", "src", "x", "DB", 16) == DB_RANGE
    assert c("COPY", "src", "x", "DB", -1) == DB_RANGE
    assert c("COPY", "src", "x", "DB", "abc") == NOT_INT
    assert c("COPY", "src", "x", "DB", 9999999999) == INT_RANGE
    assert c("COPY", "src", "x", "bogus") == SYNTAX
    assert c("COPY", "src", "x", "DB") == SYNTAX
    c("SELECT", 1)
    assert c("GET", "src") == b"other"


def test_copy_keeps_ttl_and_encoding(c):
    c("SET", "a", "1", "EX", 1000)
    c("APPEND", "a", "2")
    assert c("COPY", "a", "b") == 1
    assert 990 <= c("TTL", "b") <= 1000
    assert c("OBJECT", "ENCODING", "b") == b"raw"


def test_move(c):
    c("SET", "k", "v", "EX", 1000)
    assert c("MOVE", "k", 1) == 1
    assert c("EXISTS", "k") == 0
    assert c("MOVE", "k", 1) == 0  # gone from db 0
    c("SET", "k", "again")
    assert c("MOVE", "k", 1) == 0  # there already: nothing moves
    assert c("GET", "k") == b"again"
    assert c("MOVE", "k", 0) == SAME
    assert c("MOVE", "k", 16) == DB_RANGE
    assert c("MOVE", "k", "x") == NOT_INT
    assert c("MOVE", "k", 4294967296) == INT_RANGE
    c("SELECT", 1)
    assert c("GET", "k") == b"v"
    assert 990 <= c("TTL", "k") <= 1000


def test_touch(c):
    c("MSET", "a", 1, "b", 2)
    assert c("TOUCH", "a", "b", "missing", "a") == 3
    assert c("TOUCH") == "ERR wrong number of arguments for 'touch' command"


# ---- every type ----

@pytest.mark.parametrize("t", sorted(BUILDERS))
def test_generic_commands_on_every_type(c, t):
    if not has_type(c, t):
        pytest.skip("%s commands not in this build yet" % t)
    build(c, t, "k")
    assert c("TYPE", "k") == t.encode()
    assert c("OBJECT", "ENCODING", "k") == BUILDERS[t][1].encode()
    assert c("GET", "k") == "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert c("MGET", "k", "nokey") == [None, None]  # MGET: nil for other types, as Redis
    assert c("COPY", "k", "k2") == 1
    assert c("TYPE", "k2") == t.encode()
    assert c("RENAME", "k2", "k3") == b"OK"
    assert c("TYPE", "k3") == t.encode()
    assert c("MOVE", "k3", 2) == 1
    assert c("SCAN", 0, "TYPE", t) == [b"0", [b"k"]]
    assert c("SCAN", 0, "TYPE", "string") == [b"0", []]
    assert c("MEMORY", "USAGE", "k") > 0
    assert c("MEMORY", "USAGE", "k", "SAMPLES", 0) == c("MEMORY", "USAGE", "k")
    assert c("EXPIRE", "k", 100) == 1
    assert c("SET", "k", "now a string") == b"OK"
    assert c("TYPE", "k") == b"string"
    assert c("TTL", "k") == -1
    c("SELECT", 2)
    assert c("TYPE", "k3") == t.encode()


def test_keys_per_type_in_info_and_metrics(server):
    c = Resp(server)
    c("SET", "s", "v")
    present = [t for t in sorted(BUILDERS) if has_type(c, t)]
    for t in present:
        build(c, t, "k-" + t)
    text = c("INFO", "keyspace").decode()
    line = [x for x in text.split("\r\n") if x.startswith("db0:")][0]
    fields = dict(kv.split("=") for kv in line[4:].split(","))
    assert fields["keys"] == str(1 + len(present))
    assert fields["string"] == "1"
    for t in present:
        assert fields["%s_%s" % (t, BUILDERS[t][1])] == "1", line
    port = server.metrics_port

    def keys_of(**labels):
        return scrape(port).get(("memkv_keyspace_keys", tuple(sorted(labels.items()))))

    assert wait_until(lambda: keys_of(db="0", type="string", encoding="") == 1, 5)
    for t in present:
        assert keys_of(db="0", type=t, encoding=BUILDERS[t][1]) == 1


# ---- expiry and eviction free every type ----

SUBSYSTEM = {"hash": "hashes", "list": "lists", "set": "sets", "zset": "zsets"}


def fill(c, t, key, n):
    """A collection of n elements (a full encoding once n passes the thresholds)."""
    if t == "hash":
        args = [x for i in range(n) for x in ("field-%d" % i, "value-%d" % i)]
        return c("HSET", key, *args)
    if t == "list":
        return c("RPUSH", key, *["item-%d" % i for i in range(n)])
    if t == "set":
        return c("SADD", key, *["member-%d" % i for i in range(n)])
    return c("ZADD", key, *[x for i in range(n) for x in (i, "member-%d" % i)])


def info_int(c, section, field):
    for line in c("INFO", section).decode().split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no %s in INFO %s" % (field, section))


@pytest.mark.parametrize("t", sorted(BUILDERS))
def test_active_expiry_frees_every_type(server, t):
    c = Resp(server)
    if not has_type(c, t):
        pytest.skip("%s commands not in this build yet" % t)
    sub = "memkv_subsystem_" + SUBSYSTEM[t]
    base = info_int(c, "memory", sub)
    # Small and large encodings, nobody reads them: only the active cycle can find them.
    for i in range(100):
        fill(c, t, "exp-%d" % i, 3 if i % 2 else 300)
    assert info_int(c, "memory", sub) > base  # before the TTLs: a slow host could expire all
    for i in range(100):
        c("PEXPIRE", "exp-%d" % i, 20)
    assert wait_until(lambda: c("DBSIZE") == 0, 10)
    assert info_int(c, "memory", sub) == base
    assert info_int(c, "stats", "expired_keys") == 100


POLICIES = ["allkeys-lru", "allkeys-random", "volatile-lru", "volatile-random", "volatile-ttl"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("t", sorted(BUILDERS))
def test_eviction_frees_every_type(server, t, policy):
    """Under maxmemory every policy removes whole collections, and the type's counter follows
    the keys back to its baseline."""
    c = Resp(server)
    if not has_type(c, t):
        pytest.skip("%s commands not in this build yet" % t)
    sub = "memkv_subsystem_" + SUBSYSTEM[t]
    base = info_int(c, "memory", sub)
    limit = info_int(c, "memory", "used_memory") + 2 * 1024 * 1024
    assert c("CONFIG", "SET", "maxmemory-policy", policy) == b"OK"
    assert c("CONFIG", "SET", "maxmemory", limit) == b"OK"
    for i in range(10000):  # 10k collections of 200 elements: far more than 2 MB
        fill(c, t, "ev-%d" % i, 200)
        if policy.startswith("volatile"):
            c("EXPIRE", "ev-%d" % i, 1000 + i)
        if info_int(c, "stats", "evicted_keys") > 20:
            break
    assert info_int(c, "stats", "evicted_keys") > 20
    assert info_int(c, "memory", "used_memory") <= limit + 256 * 1024
    assert c("CONFIG", "SET", "maxmemory", 0) == b"OK"
    assert c("FLUSHALL") == b"OK"
    assert info_int(c, "memory", sub) == base
