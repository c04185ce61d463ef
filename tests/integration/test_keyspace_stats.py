"""Key-space statistics (src/db/kstats) proved against the real data, not only by the server's
own self-check.

A client-side model is built from SCAN + TYPE + MEMORY USAGE key SAMPLES 0 + PTTL + the length
command of each type (STRLEN, HLEN, LLEN, SCARD, ZCARD) over every db, and compared with what
the server answers:
- INFO keysizes: every line (Redis 8's length histograms and memkv's byte histograms) is
  recomputed from the model, bins and labels included, so the keys per db and type are checked
  too (they are the sums of a histogram);
- MEMORY PREFIXES: every tracked prefix (folded here with the documented rule), "(other)" and
  "(none)", the sort orders, COUNT, DEPTH; the rows add up to the whole key space;
- MEMORY TOP-KEYS: the sizes are the K largest MEMORY USAGE values, every key strictly above
  the K-th size is listed, and each row's bytes, type, length and TTL are those of its key
  (when a type has at most K keys the answer lists all of them, which checks the type's bytes);
- INFO keyspace: keys and expires per db;
- INFO memory's bytes per type (src/alloc counts every allocation by subsystem): they are the
  keys' MEMORY USAGE less the key table's and expires index's share, which checks MEMORY USAGE
  itself (a list's bytes are a running total, for one).
The TTL buckets are not shown by any command: DEBUG KEYSPACE-STATS-CHECK (the server's full
rescan) is asked after every change as well, and covers them.

Changes of every kind are made (writes of every type in small and large encodings, deletes,
lazy and active expiry, eviction, renames, moves, copies, flushes, blocking pops served by a
push, the *STORE commands, reads that rehash a collection...), then a seeded random sequence
with the self-check after every command. MEMKV_KS_SEED=<n> replays one sequence.
"""
import os
import random
import re
import time
from collections import namedtuple

import pytest

from helpers import Resp, info_fields, parse_info, wait_until

TYPES = ("string", "hash", "list", "set", "zset")
LEN_CMD = {"string": "STRLEN", "hash": "HLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD"}
# INFO keysizes field names: Redis 8's for lengths, memkv's for MEMORY USAGE bytes.
INFO_LEN = {"string": "distrib_strings_sizes", "list": "distrib_lists_items",
            "set": "distrib_sets_items", "zset": "distrib_zsets_items",
            "hash": "distrib_hashes_items"}
INFO_BYTES = {"string": "distrib_strings_bytes", "list": "distrib_lists_bytes",
              "set": "distrib_sets_bytes", "zset": "distrib_zsets_bytes",
              "hash": "distrib_hashes_bytes"}
DEBUG_ARGS = ["--enable-debug-command", "yes"]

Key = namedtuple("Key", "db key type bytes length pttl")


# ---- the model's rules, written from the specification ----

def bin_floor(n):
    """Lower bound of n's histogram bin: the largest power of two <= n, 0 for 0."""
    return 0 if n == 0 else 1 << (n.bit_length() - 1)


def bin_label(v):
    """Redis 8's label of a bin: 1024 -> 1K, 2^20 -> 1M ..."""
    units = ""
    for u in "KMGTP":
        if v >= 1024 and v % 1024 == 0:
            v //= 1024
            units = u
        else:
            break
    return "%d%s" % (v, units)


HEX = frozenset(b"0123456789abcdefABCDEF-")  # '-' too, so UUIDs fold (as src/db/kstats.c does)
HEX_LETTERS = frozenset(b"abcdefABCDEF")  # a hex ID needs one: a long number stays '#' 


def fold_segment(seg):
    if len(seg) > 32:
        return b"*"
    if not any(48 <= ch <= 57 for ch in seg):
        return seg
    if len(seg) >= 8 and all(ch in HEX for ch in seg) and any(ch in HEX_LETTERS for ch in seg):
        return b"*"
    return re.sub(rb"[0-9]+", b"#", seg)


def prefix_of(key, depth, seps):
    """The folded prefix of key: cut after `depth` separators; None when it has none."""
    if not any(ch in seps for ch in key):
        return None
    out, start, seg = b"", 0, 0
    while True:
        end = start
        while end < len(key) and key[end] not in seps:
            end += 1
        out += fold_segment(key[start:end])
        if end == len(key) or seg == depth:
            return out
        out += key[end:end + 1]
        start, seg = end + 1, seg + 1


# ---- reading the server ----

def pairs(flat):
    """A map sent as a flat RESP2 array -> dict with str keys."""
    assert isinstance(flat, list) and len(flat) % 2 == 0, flat
    return {k.decode(): v for k, v in zip(flat[0::2], flat[1::2])}


def ks_config(m):
    r = m("CONFIG", "GET", "keyspace-*")
    d = {k.decode(): v.decode() for k, v in zip(r[0::2], r[1::2])}
    return {"stats": d["keyspace-stats"] == "yes",
            "seps": d["keyspace-prefix-separators"].encode(),
            "depth": int(d["keyspace-prefix-depth"]),
            "max": int(d["keyspace-prefix-max"]),
            "top": int(d["keyspace-top-keys"])}


def keyspace_dbs(m):
    """{db: (keys, expires)} from INFO keyspace (which touches no key)."""
    out = {}
    for name, v in info_fields(m, "keyspace").items():
        if re.fullmatch(r"db\d+", name):
            f = dict(kv.split("=") for kv in v.split(","))
            out[int(name[2:])] = (int(f["keys"]), int(f["expires"]))
    return out


def scan_model(m):
    """Every live key: [Key]. TYPE deletes a key whose expire has passed (lazy expiry), so the
    model and the statistics read after it agree on such keys."""
    keys = []
    for db in sorted(keyspace_dbs(m)):
        assert m("SELECT", db) == b"OK"
        names, cursor = set(), b"0"
        while True:
            cursor, batch = m("SCAN", cursor, "COUNT", 1000)
            names.update(batch)
            if cursor == b"0":
                break
        names = sorted(names)
        types = m.pipeline([("TYPE", k) for k in names])
        live = [(k, t.decode()) for k, t in zip(names, types) if t != b"none"]
        cmds = []
        for k, t in live:
            cmds += [("MEMORY", "USAGE", k, "SAMPLES", 0), ("PTTL", k), (LEN_CMD[t], k)]
        r = m.pipeline(cmds)
        for i, (k, t) in enumerate(live):
            usage, pttl, length = r[3 * i:3 * i + 3]
            assert isinstance(usage, int) and isinstance(length, int), (k, usage, length)
            keys.append(Key(db, k, t, usage, length, pttl))
    assert m("SELECT", 0) == b"OK"
    return keys


def keysizes_lines(m):
    text = m("INFO", "keysizes")
    assert isinstance(text, bytes), text
    return {k: v for k, v in parse_info(text).items() if k.startswith("db")}


def expected_keysizes(keys):
    hist = {}
    for k in keys:
        for field, v in ((INFO_LEN[k.type], k.length), (INFO_BYTES[k.type], k.bytes)):
            h = hist.setdefault("db%d_%s" % (k.db, field), {})
            h[bin_floor(v)] = h.get(bin_floor(v), 0) + 1
    return {f: ",".join("%s=%d" % (bin_label(b), n) for b, n in sorted(h.items()))
            for f, h in hist.items()}


def prefix_rows(m, *args):
    rows = [pairs(r) for r in m("MEMORY", "PREFIXES", *args)]
    assert len(rows) >= 2 and rows[-2]["prefix"] == b"(other)" and rows[-1]["prefix"] == b"(none)", rows
    return rows


def top_rows(m, *args):
    r = m("MEMORY", "TOP-KEYS", *args)
    assert isinstance(r, list), r
    return [pairs(x) for x in r]


# ---- the comparisons ----

def check_prefixes(m, keys, cfg, all_tracked):
    seps, depth = cfg["seps"], cfg["depth"]
    total_keys, total_bytes = len(keys), sum(k.bytes for k in keys)
    full = {}  # folded prefix at the configured depth -> [keys, bytes, keys with ttl]
    none = [0, 0]
    for k in keys:
        p = prefix_of(k.key, depth, seps)
        if p is None:
            none[0] += 1
            none[1] += k.bytes
        else:
            e = full.setdefault(p, [0, 0, 0])
            e[0] += 1
            e[1] += k.bytes
            e[2] += k.pttl >= 0
    rows = prefix_rows(m, "COUNT", 10 ** 9)
    listed = {r["prefix"]: [r["keys"], r["bytes"], r["keys-with-ttl"]] for r in rows[:-2]}
    assert len(listed) == len(rows) - 2, "a prefix listed twice: %r" % rows
    assert len(listed) <= cfg["max"]
    assert [rows[-1]["keys"], rows[-1]["bytes"]] == none, ("(none)", rows[-1], none)
    for p, figures in listed.items():
        assert full.get(p) == figures, "prefix %r: server %r, scan %r" % (p, figures, full.get(p))
    untracked = [v for p, v in full.items() if p not in listed]
    other = [sum(v[0] for v in untracked), sum(v[1] for v in untracked)]
    assert [rows[-2]["keys"], rows[-2]["bytes"]] == other, ("(other)", rows[-2], other)
    if all_tracked:
        assert set(listed) == set(full), (sorted(set(full) - set(listed)), sorted(set(listed) - set(full)))
    assert sum(r["keys"] for r in rows) == total_keys
    assert sum(r["bytes"] for r in rows) == total_bytes
    # SORT bytes (the default): bytes, then keys, descending; then the name.
    order = [(-r["bytes"], -r["keys"], r["prefix"]) for r in rows[:-2]]
    assert order == sorted(order), "MEMORY PREFIXES not sorted by bytes"
    by_keys = prefix_rows(m, "COUNT", 10 ** 9, "SORT", "keys")
    order = [(-r["keys"], -r["bytes"], r["prefix"]) for r in by_keys[:-2]]
    assert order == sorted(order), "MEMORY PREFIXES SORT keys not sorted by keys"
    assert sorted(map(repr, by_keys)) == sorted(map(repr, rows))
    # COUNT n: the first n rows, the rest summed into (other).
    n = max(1, len(listed) // 2)
    cut = prefix_rows(m, "COUNT", n)
    assert cut[:-2] == rows[:min(n, len(listed))]
    assert cut[-2]["keys"] == other[0] + sum(r["keys"] for r in rows[n:-2])
    assert cut[-2]["bytes"] == other[1] + sum(r["bytes"] for r in rows[n:-2])
    assert cut[-1] == rows[-1]
    # DEPTH d: the tracked prefixes cut to d separators and merged; (other) and (none) as is.
    # Cutting a folded prefix equals folding the key at that depth.
    for d in range(depth):
        want = {}
        for k in keys:
            if prefix_of(k.key, depth, seps) in listed:
                e = want.setdefault(prefix_of(k.key, d, seps), [0, 0, 0])
                e[0] += 1
                e[1] += k.bytes
                e[2] += k.pttl >= 0
        got = prefix_rows(m, "COUNT", 10 ** 9, "DEPTH", d)
        assert {r["prefix"]: [r["keys"], r["bytes"], r["keys-with-ttl"]] for r in got[:-2]} == want, d
        assert got[-2:] == rows[-2:], d


def check_top(m, keys, cfg, type_=None):
    k_max = cfg["top"]
    args = ("COUNT", k_max) + (("TYPE", type_) if type_ else ())
    rows = top_rows(m, *args)
    pool = [k for k in keys if type_ is None or k.type == type_]
    what = "MEMORY TOP-KEYS %s" % (type_ or "")
    assert len(rows) == min(k_max, len(pool)), (what, rows)
    assert [r["bytes"] for r in rows] == sorted((k.bytes for k in pool), reverse=True)[:k_max], what
    by_name = {(k.db, k.key): k for k in pool}
    for r in rows:
        k = by_name.get((r["db"], r["key"]))
        assert k is not None, (what, "a key that is not there", r)
        assert (r["type"].decode(), r["bytes"], r["length"]) == (k.type, k.bytes, k.length), (what, r, k)
        if k.pttl < 0:
            assert r["ttl-ms"] == -1, (what, r, k)
        else:
            assert abs(r["ttl-ms"] - k.pttl) < 5000, (what, r, k)
    order = [(-r["bytes"], r["db"], r["key"]) for r in rows]
    assert order == sorted(order), (what, "order", rows)
    listed = {(r["db"], r["key"]) for r in rows}
    assert len(listed) == len(rows), (what, "a key listed twice", rows)
    if rows:  # every key strictly above the smallest size listed is listed: names where unique
        kth = rows[-1]["bytes"]
        missing = [k for k in pool if k.bytes > kth and (k.db, k.key) not in listed]
        assert not missing, (what, missing)
    if len(pool) <= k_max:  # the whole type: its keys and bytes
        assert listed == set(by_name), what
        assert sum(r["bytes"] for r in rows) == sum(k.bytes for k in pool), what


SUBSYSTEM = {"string": "strings", "hash": "hashes", "list": "lists", "set": "sets", "zset": "zsets"}
_expire_cost = {}


def expire_cost(m, klen):
    """What an expire adds to MEMORY USAGE for a key of klen bytes (its expires-index entry and
    that entry's bucket share): measured on a probe key in the last db, once per length."""
    port = m.sock.getpeername()[1]
    if (port, klen) not in _expire_cost:
        last = int(m("CONFIG", "GET", "databases")[1]) - 1
        probe = b"p" * klen
        assert m("SELECT", last) == b"OK"
        assert m("EXISTS", probe) == 0
        assert m("SET", probe, "v") == b"OK"
        without = m("MEMORY", "USAGE", probe, "SAMPLES", 0)
        assert m("PEXPIRE", probe, 10 ** 9) == 1
        _expire_cost[port, klen] = m("MEMORY", "USAGE", probe, "SAMPLES", 0) - without
        assert m("DEL", probe) == 1
        assert m("SELECT", 0) == b"OK"
    return _expire_cost[port, klen]


def check_subsystems(m, keys):
    """MEMORY USAGE against the allocator: the bytes each type's subsystem holds (INFO memory,
    counted by src/alloc on every allocation) are the keys' MEMORY USAGE less the 8-byte share
    of the key table's bucket array and, for keys with an expire, its cost (expires index). A
    running total that drifted (a quicklist's bytes, say) would show here, where the model and
    the statistics, which both trust MEMORY USAGE, cannot see it."""
    costs = {len(k.key): expire_cost(m, len(k.key)) for k in keys if k.pttl >= 0}
    want = {t: 0 for t in TYPES}
    for k in keys:
        want[k.type] += k.bytes - 8 - (costs[len(k.key)] if k.pttl >= 0 else 0)
    mem = info_fields(m, "memory")
    got = {t: int(mem["memkv_subsystem_" + SUBSYSTEM[t]]) for t in TYPES}
    assert got == want, "allocator's bytes per type %r, from MEMORY USAGE %r" % (got, want)


def compare(m, all_tracked=True, keys=None):
    """The full client-side comparison; returns the model."""
    cfg = ks_config(m)
    if keys is None:
        keys = scan_model(m)
    # INFO keyspace: keys and expires per db.
    per_db = {}
    for k in keys:
        n = per_db.setdefault(k.db, [0, 0])
        n[0] += 1
        n[1] += k.pttl >= 0
    assert {d: list(v) for d, v in keyspace_dbs(m).items()} == per_db
    # INFO keysizes, every line; its sums are the keys per db and type.
    got, want = keysizes_lines(m), expected_keysizes(keys)
    assert got == want, "INFO keysizes:\nserver %r\nscan   %r" % (got, want)
    for db in per_db:
        for t in TYPES:
            n = sum(1 for k in keys if k.db == db and k.type == t)
            line = got.get("db%d_%s" % (db, INFO_LEN[t]), "")
            assert sum(int(x.split("=")[1]) for x in line.split(",") if x) == n, (db, t)
    if cfg["max"] > 0:
        check_prefixes(m, keys, cfg, all_tracked)
    check_top(m, keys, cfg)
    for t in TYPES:
        check_top(m, keys, cfg, t)
    check_subsystems(m, keys)
    return keys


def self_check(m):
    r = m("DEBUG", "KEYSPACE-STATS-CHECK")
    assert r == b"OK", r


class KS:
    """A server with the debug command, the test's connection `c` and the model's `m`."""

    def __init__(self, server):
        self.server = server
        self.c = Resp(server)
        self.m = Resp(server)

    def check(self, all_tracked=True):
        self_check(self.m)
        return compare(self.m, all_tracked)

    def close(self):
        self.c.close()
        self.m.close()


@pytest.fixture
def ks(server_factory):
    # K large enough that each type's top list is all its keys (checks per-type bytes).
    k = KS(server_factory(DEBUG_ARGS + ["--keyspace-top-keys", "256"]))
    yield k
    k.close()


@pytest.fixture
def ks_small_top(server_factory):
    k = KS(server_factory(DEBUG_ARGS + ["--keyspace-top-keys", "4"]))
    yield k
    k.close()


# ---- data of every type, in small and large encodings ----

def populate(c, tag="", n=6):
    """Keys of every type and encoding under prefixes of several shapes; returns their names."""
    big_list = ["element-%05d-%s" % (i, "x" * 10) for i in range(1500)]  # many quicklist nodes
    cmds = [("SET", "%sstr:%d:v" % (tag, i), "v" * i) for i in range(n)]  # includes ""
    cmds += [
        ("SET", "%sstr:int" % tag, "12345"),
        ("SET", "%sstr:big:%s" % (tag, "0123abcd" * 2), "x" * 5000),
        ("SET", "%splain" % tag, "y" * 100),  # no separator: (none)
        ("SET", "%ssess:%s" % (tag, "f" * 40), "z" * 20),  # a segment over 32 bytes
        ("SET", "%suuid:123e4567-e89b-12d3-a456-426614174000:x" % tag, "u"),
        ("HSET", "%shash:small" % tag, "a", "1", "b", "2"),
        ("HSET", "%shash:big" % tag) + tuple(x for i in range(200) for x in ("f%d" % i, "v%d" % i)),
        ("HSET", "%shash:wide" % tag, "f", "w" * 100),  # a value over 64 bytes: hashtable
        ("RPUSH", "%slist:small" % tag, "a", "b", "c"),
        ("RPUSH", "%slist:big" % tag) + tuple(big_list),
        ("SADD", "%sset:ints" % tag) + tuple(range(50)),  # intset
        ("SADD", "%sset:small" % tag, "a", "b", "c"),  # listpack
        ("SADD", "%sset:big" % tag) + tuple("m%d" % i for i in range(300)),  # hashtable
        ("SADD", "%sset:bigints" % tag) + tuple(range(600)),  # over set-max-intset-entries
        ("ZADD", "%szset:small" % tag, 1, "a", 2, "b"),
        ("ZADD", "%szset:big" % tag) + tuple(x for i in range(200) for x in (i, "m%d" % i)),
        ("ZADD", "%szset:wide" % tag, 1, "w" * 100),
    ]
    for r in c.pipeline(cmds):
        assert not isinstance(r, str), r
    return [cmd[1] for cmd in cmds]


def encodings(c, names):
    return {c("OBJECT", "ENCODING", k) for k in names}


# ---- 2. every kind of change ----

def test_populate_every_encoding_two_dbs(ks):
    c = ks.c
    names = populate(c)
    assert encodings(c, names) == {b"embstr", b"raw", b"int", b"listpack", b"hashtable",
                                   b"quicklist", b"intset", b"skiplist"}
    ks.check()
    assert c("SELECT", 1) == b"OK"
    populate(c, "d1:")
    ks.check()
    assert c("SELECT", 9) == b"OK"
    assert c("SET", "far:away", "x") == b"OK"
    keys = ks.check()
    assert {k.db for k in keys} == {0, 1, 9}


def test_string_writes(ks):
    c = ks.c
    populate(c)
    steps = [
        [("SET", "str:3:v", "abc")],  # the same size
        [("SET", "str:3:v", "a" * 300)],  # bigger: embstr -> raw
        [("SET", "str:3:v", "")],  # empty
        [("SET", "hash:small", "now a string")],  # a collection replaced by a string
        [("SET", "str:0:v", "x", "KEEPTTL")],
        [("APPEND", "str:4:v", "+" * 10)], [("APPEND", "str:4:v", "+" * 5000)],
        [("APPEND", "str:new:append", "first")],
        [("SETRANGE", "str:5:v", 2, "ZZ")], [("SETRANGE", "str:5:v", 1000, "end")],
        [("SETRANGE", "str:new:range", 40, "x")],
        [("INCR", "str:int")], [("SET", "n:1", "9"), ("INCR", "n:1")],  # 9 -> 10: one byte more
        [("INCRBY", "n:1", 1000000)], [("DECR", "n:1")], [("DECRBY", "n:1", 10 ** 12)],
        [("INCR", "n:new")], [("INCRBYFLOAT", "n:f", "1.5")], [("INCRBYFLOAT", "n:f", "1e10")],
        [("GETDEL", "str:2:v")], [("GETSET", "str:1:v", "g" * 70)],
        [("SETEX", "tt:1", 3600, "v")], [("PSETEX", "tt:2", 90000000, "v" * 50)],
        [("SETNX", "tt:1", "no")], [("SETNX", "nx:1", "yes")],
        [("MSET", "m:1", "a", "m:2", "b" * 100, "str:0:v", "c")],
        [("MSETNX", "m:3", "a", "m:4", "b")], [("MSETNX", "m:3", "x", "m:5", "y")],
        [("GETEX", "m:1", "EX", 100)], [("GETEX", "m:1", "PX", 7 * 86400 * 1000)],
        [("GETEX", "m:1", "PERSIST")], [("GETEX", "m:2", "EXAT", int(time.time()) + 30 * 86400)],
        [("SET", "m:2", "c", "KEEPTTL")], [("SET", "m:2", "d" * 40, "GET", "KEEPTTL")],
        [("SET", "m:2", "e")],  # drops the TTL
        [("SET", "m:6", "v", "NX", "PX", 10 ** 8)], [("SET", "m:6", "w", "XX", "EX", 7200)],
    ]
    for step in steps:
        for cmd in step:
            r = c(*cmd)
            assert not isinstance(r, str), (cmd, r)
        ks.check()


def test_hash_writes(ks):
    c = ks.c
    populate(c)
    steps = [
        ("HSET", "hash:small", "c", "3"), ("HSET", "hash:small", "a", "longer value"),
        ("HSET", "hash:small", "wide", "v" * 65),  # -> hashtable
        ("HSETNX", "hash:big", "f1", "x"), ("HSETNX", "hash:big", "new", "x"),
        ("HINCRBY", "hash:big", "n", 1000), ("HINCRBY", "hash:small", "b", 10 ** 15),
        ("HINCRBY", "hash:new", "n", 1),
        ("HINCRBYFLOAT", "hash:big", "n", "0.25"), ("HINCRBYFLOAT", "hash:small", "pi", "3.14159"),
        ("HDEL", "hash:big", "f4", "f5", "nope"), ("HMSET", "hash:wide", "g", "1", "h", "2"),
        ("HDEL", "hash:wide", "f", "g", "h"),  # emptied: the key goes
        ("HDEL", "hash:new", "n"),
    ]
    for cmd in steps:
        assert not isinstance(c(*cmd), str), cmd
        ks.check()
    ks.check()


def test_reads_that_rehash_a_growing_table(ks):
    """A hash and a set grown one element at a time: their tables rehash step by step, and
    reads (HEXISTS, SISMEMBER) move buckets and finally free the old table, which changes
    MEMORY USAGE without a write. (Sorted sets keep no such table.)"""
    c = ks.c
    populate(c, n=2)
    changed_by_read = {}
    for key, add, read in (("grow", ("HSET", "grow", "field-%d", "v" * 70), ("HEXISTS", "grow", "x")),
                           ("sgrow", ("SADD", "sgrow", "member-%d" + "m" * 70), ("SISMEMBER", "sgrow", "x"))):
        changed_by_read[key] = 0
        for i in range(300):
            assert c(*[a % i if isinstance(a, str) and "%d" in a else a for a in add]) == 1
            before = c("MEMORY", "USAGE", key, "SAMPLES", 0)
            for _ in range(3):
                c(*read)
                now = c("MEMORY", "USAGE", key, "SAMPLES", 0)
                if now != before:
                    changed_by_read[key] += 1
                    self_check(ks.m)
                before = now
            if i % 10 == 0:
                self_check(ks.m)
    assert all(n > 0 for n in changed_by_read.values()), changed_by_read
    ks.check()


def test_list_writes(ks):
    c = ks.c
    populate(c)
    steps = [
        ("LPUSH", "list:small", "z"), ("RPUSH", "list:small", "y" * 100),
        ("LSET", "list:small", 0, "q" * 500), ("LINSERT", "list:small", "BEFORE", "b", "ins"),
        ("LINSERT", "list:big", "AFTER", "element-00700-xxxxxxxxxx", "mid" * 30),
        ("LREM", "list:big", 0, "element-00001-xxxxxxxxxx"), ("LREM", "list:small", 1, "a"),
        ("LTRIM", "list:big", 100, 1000), ("LTRIM", "list:big", 0, 200),
        ("LPOP", "list:big", 50), ("RPOP", "list:big"), ("LMPOP", 2, "nope", "list:big", "LEFT", "COUNT", 3),
        ("LMOVE", "list:big", "list:small", "LEFT", "RIGHT"),
        ("LMOVE", "list:small", "list:small", "LEFT", "RIGHT"),  # a rotation
        ("LMOVE", "list:small", "list:moved", "RIGHT", "LEFT"),  # a new key
        ("RPOPLPUSH", "list:moved", "list:moved2"),  # empties list:moved
        ("LPUSHX", "list:moved2", "x"), ("RPUSHX", "list:none", "x"),
        ("LTRIM", "list:moved2", 5, 10),  # empties it: deleted
        ("RPUSH", "list:grow") + tuple("e%d" % i for i in range(2000)),
        ("LSET", "list:grow", 1000, "x" * 9000),  # a big element in the middle node
        ("LTRIM", "list:grow", 1, -2),
    ]
    for cmd in steps:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()


def test_set_writes(ks):
    c = ks.c
    populate(c)
    steps = [
        ("SADD", "set:ints", 50, 51), ("SADD", "set:ints", "notanint"),  # intset -> listpack
        ("SADD", "set:small", "w" * 80),  # -> hashtable
        ("SREM", "set:big", "m1", "m2", "nope"), ("SPOP", "set:big"), ("SPOP", "set:big", 100),
        ("SPOP", "set:bigints", 10), ("SPOP", "set:ints", 3),
        ("SMOVE", "set:bigints", "set:ints", 599), ("SMOVE", "set:big", "set:fresh", "m200"),
        ("SMOVE", "set:fresh", "set:small", "m200"),  # empties set:fresh
        ("SUNIONSTORE", "set:u", "set:ints", "set:small", "set:big"),
        ("SINTERSTORE", "set:i", "set:ints", "set:bigints"),
        ("SDIFFSTORE", "set:d", "set:bigints", "set:ints"),
        ("SINTERSTORE", "set:u", "set:small", "nope"),  # empty result: the destination goes
        ("SUNIONSTORE", "str:int", "set:small"),  # a string replaced by a set
        ("SREM", "set:ints") + tuple(range(600)) + ("notanint",),
        ("SADD", "set:ints", 1),
    ]
    for cmd in steps:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()


def test_zset_writes(ks):
    c = ks.c
    populate(c)
    steps = [
        ("ZADD", "zset:small", 3, "c"), ("ZADD", "zset:small", 4, "d" * 70),  # -> skiplist
        ("ZINCRBY", "zset:big", 5, "m1"), ("ZINCRBY", "zset:new", 1, "a"),
        ("ZREM", "zset:big", "m2", "m3"), ("ZPOPMIN", "zset:big"), ("ZPOPMAX", "zset:big", 5),
        ("ZMPOP", 1, "zset:big", "MIN", "COUNT", 2),
        ("ZREMRANGEBYSCORE", "zset:big", 10, 30), ("ZREMRANGEBYRANK", "zset:big", 0, 10),
        ("ZADD", "zset:lex", 0, "a", 0, "b", 0, "c", 0, "d"),
        ("ZREMRANGEBYLEX", "zset:lex", "[b", "[c"),
        ("ZUNIONSTORE", "zset:u", 2, "zset:big", "zset:small"),
        ("ZINTERSTORE", "zset:i", 2, "zset:big", "zset:u", "WEIGHTS", 1, 2),
        ("ZDIFFSTORE", "zset:d", 2, "zset:u", "zset:small"),
        ("ZRANGESTORE", "zset:r", "zset:u", 0, 20),
        ("ZUNIONSTORE", "zset:u", 1, "nope"),  # empty: the destination goes
        ("ZUNIONSTORE", "list:small", 1, "zset:small"),  # a list replaced by a zset
        ("ZREMRANGEBYRANK", "zset:wide", 0, -1),
    ]
    for cmd in steps:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()


def test_deletes_renames_moves_copies(ks):
    c = ks.c
    populate(c)
    c("EXPIRE", "hash:big", 5000)
    c("EXPIRE", "str:3:v", 100000)
    steps = [
        ("DEL", "str:1:v", "hash:small", "nope"), ("UNLINK", "list:big", "set:big", "zset:big"),
        ("RENAME", "hash:big", "hash:renamed:with:a:longer:name"),  # keeps its TTL
        ("RENAME", "str:3:v", "s"), ("RENAME", "s", "str:4:v"),  # over an existing key
        ("RENAMENX", "set:ints", "set:small"), ("RENAMENX", "set:ints", "set:ints2"),
        ("RENAME", "zset:small", "zset:small"),
        ("MOVE", "str:4:v", 1), ("MOVE", "set:ints2", 1), ("MOVE", "str:5:v", 1),
        ("COPY", "hash:wide", "hash:copy"), ("COPY", "set:bigints", "set:bigints", "DB", 1),
        ("COPY", "hash:renamed:with:a:longer:name", "hc", "DB", 2),
        ("COPY", "list:small", "hash:copy", "REPLACE"),  # replaces a hash with a list
        ("COPY", "zset:wide", "str:5:v", "DB", 1, "REPLACE"),
        ("COPY", "str:big:0123abcd0123abcd", "s2"), ("COPY", "str:int", "s2", "REPLACE"),
    ]
    for cmd in steps:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()
    # The same from another db.
    assert c("SELECT", 1) == b"OK"
    for cmd in [("MOVE", "str:4:v", 0), ("RENAME", "set:ints2", "x:y"), ("COPY", "x:y", "x:z", "DB", 0),
                ("DEL", "set:bigints")]:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()


def test_expire_persist_and_ttl_buckets(ks):
    c = ks.c
    names = populate(c)
    now = int(time.time())
    for i, k in enumerate(names):
        ttl = (1800, 5 * 3600, 3 * 86400, 30 * 86400, None)[i % 5]
        if ttl:
            assert c("EXPIRE", k, ttl) == 1
    ks.check()
    for cmd in [("PERSIST", "hash:big"), ("EXPIRE", "list:big", 100), ("PEXPIRE", "list:big", 10 ** 9),
                ("EXPIREAT", "set:big", now + 50), ("PEXPIREAT", "zset:big", (now + 86400 * 8) * 1000),
                ("EXPIRE", "zset:big", 7200, "XX"), ("EXPIRE", "plain", 60, "NX"),
                ("EXPIRE", "plain", 30, "LT"), ("EXPIRE", "plain", 3000, "GT"),
                ("PERSIST", "plain"), ("PERSIST", "plain")]:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()
    # An expire in the past deletes the key at once.
    assert c("EXPIRE", "set:small", -1) == 1
    assert c("PEXPIREAT", "zset:small", 1) == 1
    ks.check()


def test_lazy_expiry_every_type(ks):
    c = ks.c
    names = populate(c)
    for k in names:
        assert c("PEXPIRE", k, 5) == 1
    time.sleep(0.02)
    # Each key found expired by a read, a write or a lookup that touches nothing.
    accesses = [("GET", "str:0:v"), ("STRLEN", "str:1:v"), ("EXISTS", "str:2:v"), ("TYPE", "str:3:v"),
                ("APPEND", "str:4:v", "x"), ("INCR", "str:int"), ("HGET", "hash:small", "a"),
                ("HSET", "hash:big", "f", "v"), ("HLEN", "hash:wide"), ("LLEN", "list:small"),
                ("RPUSH", "list:big", "x"), ("SCARD", "set:ints"), ("SADD", "set:small", "x"),
                ("SISMEMBER", "set:big", "m1"), ("SPOP", "set:bigints"), ("ZCARD", "zset:small"),
                ("ZADD", "zset:big", 1, "x"), ("ZSCORE", "zset:wide", "x"), ("PTTL", "plain"),
                ("OBJECT", "ENCODING", "str:5:v"), ("MEMORY", "USAGE", "str:big:0123abcd0123abcd"),
                ("GETEX", "sess:" + "f" * 40), ("TOUCH", "uuid:123e4567-e89b-12d3-a456-426614174000:x")]
    assert len(accesses) == len(names)
    for cmd in accesses:
        c(*cmd)
        self_check(ks.m)
    ks.check()


def test_active_expiry(ks):
    c = ks.c
    expiring = {}
    for db, tag in ((0, ""), (1, "d1:")):
        assert c("SELECT", db) == b"OK"
        expiring[db] = populate(c, tag)[::2]
    # Counted before any expire is set: on a slow machine the cron may take a db's keys while
    # the other db's are still being given their expires.
    before = keyspace_dbs(ks.m)
    assert all(before[db][1] == 0 and len(expiring[db]) > 5 for db in (0, 1)), before
    for db in (0, 1):
        assert c("SELECT", db) == b"OK"
        # Half the keys of every type, never read again: only the cron can delete them.
        for k in expiring[db]:
            assert c("PEXPIRE", k, 20) == 1
    assert wait_until(lambda: all(e == 0 for _, e in keyspace_dbs(ks.m).values()), timeout=10), \
        "the cron did not expire the keys"
    after = keyspace_dbs(ks.m)
    assert all(after[db][0] == before[db][0] - len(expiring[db]) for db in (0, 1)), (before, after)
    ks.check()


@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru", "volatile-lru",
                                    "volatile-random", "volatile-ttl"])
def test_eviction(ks, policy):
    c = ks.c
    for db in (1, 0):  # keys to evict in two dbs
        assert c("SELECT", db) == b"OK"
        populate(c)
        pipe = [("SET", "evict:%d" % i, "e" * (50 + i % 300)) for i in range(200)]
        pipe += [("EXPIRE", "evict:%d" % i, 1000 + i) for i in range(0, 200, 2)]
        pipe += [("EXPIRE", "hash:big", 500), ("EXPIRE", "list:big", 600), ("EXPIRE", "set:big", 700)]
        c.pipeline(pipe)
    ks.check()
    evicted = int(info_fields(c, "stats")["evicted_keys"])
    used = int(info_fields(c, "memory")["used_memory"])
    assert c("CONFIG", "SET", "maxmemory-policy", policy) == b"OK"
    assert c("CONFIG", "SET", "maxmemory", used - 60000) == b"OK"
    c("SET", "trigger", "t")  # may be refused with OOM if nothing could be evicted
    assert c("CONFIG", "SET", "maxmemory", 0) == b"OK"
    assert int(info_fields(c, "stats")["evicted_keys"]) > evicted
    ks.check()


def test_flushes_and_select(ks):
    c = ks.c
    for db in (0, 1, 2):
        assert c("SELECT", db) == b"OK"
        populate(c, "db%d:" % db)
    ks.check()
    assert c("SELECT", 1) == b"OK"
    assert c("FLUSHDB") == b"OK"
    ks.check()
    populate(c, "again:")
    assert c("FLUSHDB", "ASYNC") == b"OK"
    ks.check()
    populate(c, "again:")
    assert c("SELECT", 0) == b"OK"
    assert c("FLUSHALL", "ASYNC") == b"OK"
    assert ks.check() == []
    populate(c)
    assert c("FLUSHALL") == b"OK"
    assert ks.check() == []
    assert keysizes_lines(ks.m) == {}
    assert top_rows(ks.m) == []
    populate(c)
    ks.check()


def blocked_clients(c):
    return int(info_fields(c, "clients")["blocked_clients"])


def test_blocking_pops_served_by_a_push(ks):
    c = ks.c
    populate(c)
    waiters = [Resp(ks.server) for _ in range(3)]
    try:
        for db in (0, 1):
            assert c("SELECT", db) == b"OK"
            for w in waiters:
                assert w("SELECT", db) == b"OK"
            cases = [
                (("BLPOP", "q:l", 0), ("RPUSH", "q:l", "a", "b" * 200)),
                (("BRPOP", "q:l2", "q:l3", 0), ("LPUSH", "q:l2", "x")),  # the last element: key goes
                (("BZPOPMIN", "q:z", 0), ("ZADD", "q:z", 1, "a", 2, "b")),
                (("BZPOPMAX", "q:z2", 0), ("ZADD", "q:z2", 1, "a")),
                (("BLMOVE", "q:src", "q:dst", "LEFT", "RIGHT", 0), ("RPUSH", "q:src", "m" * 100)),
                (("BRPOPLPUSH", "q:src2", "q:dst", 0), ("RPUSH", "q:src2", "n", "o")),
                (("BLMPOP", 0, 1, "q:mp", "LEFT", "COUNT", 2), ("RPUSH", "q:mp", 1, 2, 3)),
                (("BZMPOP", 0, 1, "q:zm", "MAX"), ("ZADD", "q:zm", 1, "a", 2, "b")),
            ]
            for pop, push in cases:
                waiters[0].send(*pop)
                assert wait_until(lambda: blocked_clients(c) == 1)
                assert not isinstance(c(*push), str)
                assert waiters[0].read() is not None
                ks.check()
            # Several waiters on one key, one push serving all of them, one of them moving
            # the element to a list another waits on.
            waiters[0].send("BLPOP", "q:multi", 0)
            waiters[1].send("BLMOVE", "q:multi", "q:chain", "LEFT", "LEFT", 0)
            waiters[2].send("BLPOP", "q:chain", 0)
            assert wait_until(lambda: blocked_clients(c) == 3)
            assert c("RPUSH", "q:multi", "a", "b") == 2
            for w in waiters:
                assert w.read() is not None
            ks.check()
    finally:
        for w in waiters:
            w.close()


def test_smove_and_store_commands_over_other_types(ks):
    c = ks.c
    populate(c)
    c("EXPIRE", "hash:small", 1000)
    for cmd in [("SUNIONSTORE", "hash:small", "set:ints"),  # a volatile hash replaced (no TTL)
                ("ZUNIONSTORE", "set:big", 2, "zset:big", "set:small"),  # sets count as score 1
                ("SDIFFSTORE", "set:bigints", "set:bigints", "set:ints"),  # dst is a source
                ("ZINTERSTORE", "zset:big", 2, "zset:big", "zset:big"),
                ("LMOVE", "list:big", "list:big", "RIGHT", "LEFT"),
                ("SMOVE", "set:ints", "set:ints", 1), ("SMOVE", "set:ints", "set:new", 1),
                ("GETDEL", "str:int"), ("GETEX", "plain", "PX", 50000)]:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()


def test_edge_cases(ks):
    """Moves onto the same key, single-element lists, duplicate keys in one command, huge
    strings growing in place, and changes that leave every figure where it was."""
    c = ks.c
    populate(c, n=2)
    huge = 5 * 1024 * 1024
    steps = [
        ("RPUSH", "one", "x"), ("LMOVE", "one", "one", "LEFT", "RIGHT"), ("RPOPLPUSH", "one", "one"),
        ("BLMOVE", "one", "one", "RIGHT", "LEFT", 0), ("LMOVE", "one", "two", "LEFT", "LEFT"),
        ("SADD", "s1", "a"), ("SMOVE", "s1", "s1", "a"), ("SMOVE", "s1", "s2", "a"),
        ("MSET", "dup", "a", "dup", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
        ("SUNIONSTORE", "s2", "s2", "s2"), ("ZUNIONSTORE", "z2", 2, "zset:big", "zset:big"),
        ("SET", "huge", "h" * huge), ("APPEND", "huge", "h" * 100000), ("SETRANGE", "huge", huge * 2, "end"),
        ("SETRANGE", "huge", 0, "start"), ("SET", "huge", "h" * huge, "KEEPTTL"),
        ("PEXPIRE", "huge", 10 ** 9), ("RENAME", "huge", "a-much-longer-name-for-the-huge-string:1"),
        ("COPY", "a-much-longer-name-for-the-huge-string:1", "h2", "DB", 3),
        ("SET", "str:0:v", ""), ("SETRANGE", "str:0:v", 0, ""), ("APPEND", "str:0:v", ""),
        ("RENAME", "hash:big", "hash:big"), ("EXPIRE", "hash:big", 100), ("RENAME", "hash:big", "hash:big"),
        ("PERSIST", "hash:big"), ("GETEX", "str:int", "PERSIST"), ("INCRBYFLOAT", "str:int", "0"),
        ("LSET", "list:big", -1, "element-01499-xxxxxxxxxx"), ("HSET", "hash:small", "a", "1"),
        ("ZADD", "zset:small", 1, "a"), ("SADD", "set:ints", 1),
        # Expires in the past: the key goes at once.
        ("SET", "str:1:v", "x", "PXAT", 1), ("GETEX", "plain", "EXAT", 1), ("EXPIREAT", "hash:wide", 1),
        ("SETEX", "past", 1, "v"), ("PEXPIRE", "past", 0),
    ]
    for cmd in steps:
        r = c(*cmd)
        assert not isinstance(r, str), (cmd, r)
        ks.check()
    # A CONFIG SET of several parameters that fails on the last is rolled back whole, and the
    # statistics follow the settings in force.
    r = c("CONFIG", "SET", "keyspace-prefix-depth", 1, "keyspace-top-keys", 3,
          "keyspace-prefix-separators", "#")
    assert isinstance(r, str) and r.startswith("ERR"), r
    assert ks_config(ks.m)["depth"] == 2 and ks_config(ks.m)["top"] == 256
    ks.check()


# ---- 3. a seeded random sequence, checked after every command ----

class RandomWorkload:
    """Commands over ~200 keys (strings, hashes, lists, sets, sorted sets and keys of any type
    without a prefix) in dbs 0 and 1. The sequence depends only on the seed, not on replies."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.names = (["u:%d:name" % i for i in range(50)] + ["tok:%016x" % (i * 7919) for i in range(10)]
                      + ["h:%d" % i for i in range(40)] + ["l:%d" % i for i in range(30)]
                      + ["s:%d" % i for i in range(30)] + ["z:%d" % i for i in range(30)]
                      + ["k%d" % i for i in range(10)])
        self.by_type = {"string": self.names[:60], "hash": self.names[60:100], "list": self.names[100:130],
                        "set": self.names[130:160], "zset": self.names[160:190]}
        self.short_expires = False  # a short expire was set since the last comparison

    def key(self, t):
        r = self.rng
        if r.random() < 0.1:
            return r.choice(self.names)  # any key: WRONGTYPE, or a type change by SET
        return r.choice(self.by_type[t])

    def value(self):
        r = self.rng
        n = r.choice((0, 1, 3, 8, 20, 44, 45, 64, 65, 100, 300, 2000))
        if r.random() < 0.3:
            return str(r.randrange(-10 ** 6, 10 ** 12))
        return r.choice("abcxyz") * n

    def short_ms(self):
        self.short_expires = True
        return self.rng.randrange(1, 30)

    def long_s(self):
        return self.rng.choice((120, 1800, 7200, 3 * 86400, 10 * 86400))

    def command(self):
        r = self.rng
        if r.random() < 0.0015:
            return (r.choice(("FLUSHDB", "FLUSHDB", "FLUSHALL")),) + r.choice(((), ("ASYNC",)))
        t = r.choice(TYPES + ("generic",) * 2)
        return getattr(self, "cmd_" + t)(r)

    def cmd_string(self, r):
        k, v = self.key("string"), self.value()
        c = r.randrange(18)
        if c == 0:
            return ("SET", k, v)
        if c == 1:
            return ("SET", k, v, r.choice(("KEEPTTL", "NX", "XX", "GET")))
        if c == 2:
            if r.random() < 0.3:
                return ("SET", k, v, "PX", self.short_ms())
            return ("SET", k, v, "EX", self.long_s())
        if c == 3:
            return ("APPEND", k, v)
        if c == 4:
            return ("SETRANGE", k, r.choice((0, 3, 40, 100, 3000)), v or "x")
        if c == 5:
            return (r.choice(("INCR", "DECR")), k)
        if c == 6:
            return (r.choice(("INCRBY", "DECRBY")), k, r.randrange(-10 ** 9, 10 ** 9))
        if c == 7:
            return ("INCRBYFLOAT", k, r.choice(("0.5", "1e3", "-2.25", "3")))
        if c == 8:
            return ("GETDEL", k)
        if c == 9:
            return ("GETEX", k) + r.choice((("PERSIST",), ("EX", self.long_s()), ("PX", self.short_ms())))
        if c == 10:
            return ("GETSET", k, v)
        if c == 11:
            return ("SETEX", k, self.long_s(), v)
        if c == 12:
            return ("PSETEX", k, self.short_ms() if r.random() < 0.3 else 10 ** 7, v)
        if c == 13:
            return ("SETNX", k, v)
        if c == 14:
            return ("MSET", k, v, self.key("string"), self.value())
        if c == 15:
            return ("MSETNX", k, v, self.key("string"), self.value())
        if c == 16:
            return ("STRLEN", k)
        return ("GET", k)

    def cmd_hash(self, r):
        k = self.key("hash")
        c = r.randrange(9)
        if c <= 2:
            n = r.choice((1, 2, 5, 20, 40))
            return ("HSET", k) + tuple(x for _ in range(n) for x in ("f%d" % r.randrange(300), self.value()))
        if c == 3:
            return ("HDEL", k) + tuple("f%d" % r.randrange(300) for _ in range(r.choice((1, 5, 30))))
        if c == 4:
            return ("HINCRBY", k, "n%d" % r.randrange(3), r.randrange(-10 ** 9, 10 ** 9))
        if c == 5:
            return ("HINCRBYFLOAT", k, "x%d" % r.randrange(3), r.choice(("0.1", "-7.5", "1e6")))
        if c == 6:
            return ("HSETNX", k, "f%d" % r.randrange(300), self.value())
        if c == 7:
            return r.choice((("HGET", k, "f%d" % r.randrange(300)), ("HRANDFIELD", k, -5, "WITHVALUES"),
                             ("HSCAN", k, 0, "COUNT", 5), ("HSTRLEN", k, "f1")))
        return ("HEXISTS", k, "f%d" % r.randrange(300))

    def cmd_list(self, r):
        k, k2 = self.key("list"), self.key("list")
        side = lambda: r.choice(("LEFT", "RIGHT"))  # noqa: E731
        c = r.randrange(14)
        if c <= 2:
            n = r.choice((1, 3, 20, 80))
            return (r.choice(("LPUSH", "RPUSH")), k) + tuple(self.value() for _ in range(n))
        if c == 3:
            return (r.choice(("LPOP", "RPOP")), k) + r.choice(((), (r.randrange(1, 30),)))
        if c == 4:
            return ("LSET", k, r.randrange(-5, 50), self.value())
        if c == 5:
            return ("LINSERT", k, r.choice(("BEFORE", "AFTER")), self.value(), self.value())
        if c == 6:
            return ("LREM", k, r.randrange(-3, 4), self.value())
        if c == 7:
            return ("LTRIM", k, r.randrange(-20, 20), r.randrange(-20, 100))
        if c == 8:
            return ("LMOVE", k, k2, side(), side())
        if c == 9:
            return ("RPOPLPUSH", k, k2)
        if c == 10:
            return ("LMPOP", 2, k, k2, side(), "COUNT", r.randrange(1, 10))
        if c == 11 and r.random() < 0.3:  # blocking: served at once, or a 10 ms timeout
            return r.choice((("BLPOP", k, k2, "0.01"), ("BLMOVE", k, k2, side(), side(), "0.01"),
                             ("BLMPOP", "0.01", 1, k, side())))
        if c == 12:
            return (r.choice(("LPUSHX", "RPUSHX")), k, self.value())
        return r.choice((("LINDEX", k, r.randrange(-3, 3)), ("LPOS", k, "a"), ("LRANGE", k, 0, 3)))

    def member(self):
        r = self.rng
        if r.random() < 0.5:
            return str(r.randrange(700))  # an intset while all members are integers
        return "m%d%s" % (r.randrange(300), "w" * r.choice((0, 0, 70)))

    def cmd_set(self, r):
        k, k2, k3 = self.key("set"), self.key("set"), self.key("set")
        c = r.randrange(10)
        if c <= 2:
            return ("SADD", k) + tuple(self.member() for _ in range(r.choice((1, 5, 40, 150))))
        if c == 3:
            return ("SREM", k) + tuple(self.member() for _ in range(r.choice((1, 10, 100))))
        if c == 4:
            return ("SPOP", k) + r.choice(((), (r.randrange(1, 50),)))
        if c == 5:
            return ("SMOVE", k, k2, self.member())
        if c == 6:
            return (r.choice(("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE")), k, k2, k3)
        if c == 7:
            return ("SISMEMBER", k, self.member())
        if c == 8:
            return r.choice((("SRANDMEMBER", k, r.choice((3, -7))), ("SSCAN", k, 0),
                             ("SMISMEMBER", k, "1", "m1")))
        return ("SCARD", k)

    def cmd_zset(self, r):
        k, k2, k3 = self.key("zset"), self.key("zset"), self.key("zset")
        c = r.randrange(13)
        if c <= 2:
            return ("ZADD", k) + tuple(x for _ in range(r.choice((1, 5, 40, 150)))
                                       for x in (r.randrange(1000), self.member()))
        if c == 3:
            return ("ZINCRBY", k, r.randrange(-5, 5), self.member())
        if c == 4:
            return ("ZREM", k) + tuple(self.member() for _ in range(r.choice((1, 10, 100))))
        if c == 5:
            return (r.choice(("ZPOPMIN", "ZPOPMAX")), k) + r.choice(((), (r.randrange(1, 30),)))
        if c == 6:
            a = r.randrange(1000)
            return ("ZREMRANGEBYSCORE", k, a, a + r.randrange(200))
        if c == 7:
            return ("ZREMRANGEBYRANK", k, r.randrange(-20, 20), r.randrange(-20, 20))
        if c == 8:
            return ("ZREMRANGEBYLEX", k, "[m1", "(m5")
        if c == 9:
            return (r.choice(("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE")), k, 2, k2, k3)
        if c == 10:
            return ("ZRANGESTORE", k, k2, 0, r.randrange(50))
        if c == 11 and r.random() < 0.3:
            return r.choice((("BZPOPMIN", k, "0.01"), ("BZMPOP", "0.01", 2, k, k2, "MAX")))
        if c == 11:
            return r.choice((("ZRANDMEMBER", k, -4), ("ZSCAN", k, 0), ("ZRANGE", k, 0, 5),
                             ("ZSCORE", k, "m1")))
        return ("ZMPOP", 1, k, r.choice(("MIN", "MAX")), "COUNT", r.randrange(1, 10))

    def cmd_generic(self, r):
        k, k2 = r.choice(self.names), r.choice(self.names)
        c = r.randrange(100)
        if c < 12:
            return ("DEL", k) + r.choice(((), (k2,)))
        if c < 18:
            return ("UNLINK", k, k2)
        if c < 30:
            return ("EXPIRE", k, self.long_s()) + r.choice(((), ("NX",), ("GT",), ("LT",)))
        if c < 38:
            return ("PEXPIRE", k, self.short_ms())
        if c < 44:
            return ("PERSIST", k)
        if c < 52:
            return (r.choice(("RENAME", "RENAMENX")), k, k2)
        if c < 62:
            return ("COPY", k, k2) + r.choice(((), ("REPLACE",), ("DB", r.randrange(2)),
                                               ("DB", r.randrange(2), "REPLACE")))
        if c < 70:
            return ("MOVE", k, r.randrange(2))
        if c < 80:
            return ("SELECT", r.randrange(2))
        if c < 86:
            return (r.choice(("EXISTS", "TYPE", "TOUCH", "PTTL")), k)
        if c < 89:
            return ("CONFIG", "SET", "keyspace-top-keys", r.choice((2, 3, 8, 32)))
        if c < 92:
            return r.choice((("CONFIG", "SET", "keyspace-prefix-max", r.choice((3, 8, 4096))),
                             ("CONFIG", "SET", "keyspace-prefix-depth", r.choice((0, 1, 2, 3)))))
        return ("MEMORY", "USAGE", k)


def settle_expired(m, names):
    """Deletes the keys whose expire passed (a lookup expires them; SCAN only hides them)."""
    for db in (0, 1):
        assert m("SELECT", db) == b"OK"
        m.pipeline([("EXISTS", k) for k in names])
    assert m("SELECT", 0) == b"OK"


def test_random_sequence_checked_after_every_command(ks):
    seed = int(os.environ.get("MEMKV_KS_SEED", random.randrange(1 << 32)))
    print("MEMKV_KS_SEED=%d" % seed)
    w = RandomWorkload(seed)
    c, m = ks.c, ks.m
    total, block = int(os.environ.get("MEMKV_KS_COMMANDS", 3000)), 200
    history, most = [], 0
    for start in range(0, total, block):
        cmds = [w.command() for _ in range(block)]
        replies = c.pipeline([x for cmd in cmds for x in (cmd, ("DEBUG", "KEYSPACE-STATS-CHECK"))])
        for i, cmd in enumerate(cmds):
            history.append(cmd)
            reply, check = replies[2 * i], replies[2 * i + 1]
            if isinstance(reply, str):
                assert reply.startswith(("WRONGTYPE", "ERR no such key", "ERR value is not",
                                         "ERR hash value is not", "ERR index out of range",
                                         "ERR source and destination", "ERR increment or decrement",
                                         "ERR value is out of range")), (seed, cmd, reply)
            assert check == b"OK", (
                "MEMKV_KS_SEED=%d: command #%d %r broke the statistics: %s\nthe commands before it:\n%s" % (
                    seed, len(history), cmd, check, "\n".join(map(repr, history[-40:]))))
        # The full comparison with the real data, once the short expires have passed (every
        # command of the block has run: its replies are in).
        if w.short_expires:
            time.sleep(0.04)
            w.short_expires = False
        settle_expired(m, w.names)
        cfg = ks_config(m)
        try:
            keys = compare(m, all_tracked=cfg["max"] >= 4096)
        except AssertionError as e:
            raise AssertionError("MEMKV_KS_SEED=%d, after command #%d: %s" % (seed, len(history), e)) from e
        most = max(most, len(keys))
    assert most > 100, "the workload never held many keys: at most %d" % most
    print("keys at the end: %d; encodings in db 0: %s" % (len(keys), sorted(
        {"%s %r" % (k.type, m("OBJECT", "ENCODING", k.key)) for k in keys if k.db == 0})))


# ---- 4. the largest keys ----

def server_figures(m):
    """Everything the statistics answer, for a before/after comparison."""
    return (keysizes_lines(m), prefix_rows(m, "COUNT", 10 ** 9), top_rows(m, "COUNT", ks_config(m)["top"]),
            [top_rows(m, "COUNT", ks_config(m)["top"], "TYPE", t) for t in TYPES])


def info_stat(c, field):
    """An integer field of INFO stats (memkv's key-space bookkeeping)."""
    for line in c("INFO", "stats").decode().split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("INFO stats has no " + field)


def test_top_keys_follow_deletes_and_shrinks(ks_small_top):
    ks = ks_small_top
    c, m = ks.c, ks.m
    populate(c, n=3)
    baseline = server_figures(m)
    # 30 big strings of distinct sizes (30% apart: never in one allocator size class), and
    # big keys of every other type.
    c.pipeline([("SET", "big:s:%d" % i, "x" * int(1000 * 1.3 ** i)) for i in range(30)])
    c.pipeline([("RPUSH", "big:l:%d" % i) + tuple("e" * 50 for _ in range(100 + 20 * i)) for i in range(20)])
    c.pipeline([("HSET", "big:h:%d" % i) + tuple(x for j in range(150 + 10 * i) for x in ("f%d" % j, "v"))
                for i in range(20)])
    c.pipeline([("SADD", "big:set:%d" % i) + tuple(range(150 + 10 * i)) for i in range(20)])
    c.pipeline([("ZADD", "big:z:%d" % i) + tuple(x for j in range(150 + 10 * i) for x in (j, "m%d" % j))
                for i in range(20)])
    ks.check()
    top = top_rows(m, "COUNT", 4, "TYPE", "string")
    assert [r["key"] for r in top] == [b"big:s:29", b"big:s:28", b"big:s:27", b"big:s:26"]
    # Deleting the biggest and shrinking the next: both leave the list.
    assert c("DEL", "big:s:29") == 1
    assert c("SET", "big:s:28", "small") == b"OK"
    assert c("HDEL", "big:h:19", *["f%d" % j for j in range(300)]) == 300
    assert c("LTRIM", "big:l:19", 0, 1) == b"OK"
    assert len(c("SPOP", "big:set:19", 330)) == 330
    assert c("ZREMRANGEBYRANK", "big:z:19", 0, 330) == 331
    keys = ks.check()
    assert [r["key"] for r in top_rows(m, "COUNT", 4, "TYPE", "string")] == [
        b"big:s:27", b"big:s:26", b"big:s:25", b"big:s:24"]
    for t, name in (("hash", b"big:h:19"), ("list", b"big:l:19"), ("set", b"big:set:19"),
                    ("zset", b"big:z:19")):
        assert name not in [r["key"] for r in top_rows(m, "COUNT", 4, "TYPE", t)], t
    # Many more big keys gone than the candidates kept (4 * keyspace-top-keys = 16 per type):
    # the server refills from a scan and stays exact after each delete or shrink.
    for i in range(27, 1, -1):
        if i % 3:
            assert c("UNLINK", "big:s:%d" % i) == 1
        else:
            assert c("SET", "big:s:%d" % i, "y") == b"OK"
        if i < 19:
            for k in ("big:h:%d", "big:l:%d", "big:set:%d", "big:z:%d"):
                assert c("DEL", k % i) == 1
        keys = ks.check()
    assert len([k for k in keys if k.key.startswith(b"big:s:")]) == 30 - 1 - 26 + 9
    assert info_stat(c, "memkv_keyspace_top_refills") > 0  # the candidates ran out: rescanned
    assert [r["key"] for r in top_rows(m, "COUNT", 4, "TYPE", "string")] == [
        b"str:big:0123abcd0123abcd", b"big:s:1", b"big:s:0", b"plain"]
    # Everything added goes: every figure is back where it was.
    names = [k.key for k in keys if k.key.startswith(b"big:")]
    assert c("DEL", *names) == len(names)
    ks.check()
    assert server_figures(m) == baseline


def test_top_keys_ties_and_across_dbs(ks_small_top):
    ks = ks_small_top
    c, m = ks.c, ks.m
    # Equal sizes: the order is db, then name; every key above the 4th size is listed.
    for db in (0, 1):
        assert c("SELECT", db) == b"OK"
        c.pipeline([("SET", "tie:%d" % i, "t" * 3000) for i in range(10)])
        c.pipeline([("SET", "other:%d" % i, "o" * (10 + i)) for i in range(10)])
    ks.check()
    top = top_rows(m, "COUNT", 4)
    assert [(r["db"], r["key"]) for r in top] == [(0, b"tie:0"), (0, b"tie:1"), (0, b"tie:2"), (0, b"tie:3")]
    assert c("SELECT", 0) == b"OK"
    c.pipeline([("DEL", "tie:%d" % i) for i in range(10)])
    ks.check()
    assert all(r["db"] == 1 for r in top_rows(m, "COUNT", 4))
    # A TTL shows in ttl-ms, and MOVE changes the db of a listed key.
    assert c("SELECT", 1) == b"OK"
    assert c("PEXPIRE", "tie:5", 3600000) == 1
    assert c("MOVE", "tie:5", 0) == 1
    ks.check()
    moved = [r for r in top_rows(m, "COUNT", 4) if r["key"] == b"tie:5"]
    assert len(moved) == 1 and moved[0]["db"] == 0 and 3590000 < moved[0]["ttl-ms"] <= 3600000, moved
    # Changing K rebuilds the candidates.
    for k in (1, 2, 7, 32):
        assert c("CONFIG", "SET", "keyspace-top-keys", k) == b"OK"
        ks.check()
        assert len(top_rows(m, "COUNT", k)) == min(k, 30)


# ---- 5. the prefix cap, and rebuilds by CONFIG SET ----

def prefixed_keys(c, families, per=3, ttl_every=4):
    """per keys under each of `families` (a prefix at depth 2 each), sizes and TTLs varied."""
    cmds, i = [], 0
    for f in families:
        for j in range(per):
            i += 1
            k = "%s:%d:item" % (f, j)
            cmds.append(("SET", k, "v" * (10 + 37 * i % 400)))
            if i % ttl_every == 0:
                cmds.append(("EXPIRE", k, 1000 * i))
    c.pipeline(cmds)


def test_prefix_cap_tracks_exactly_and_sums_the_rest(server_factory):
    ks = KS(server_factory(DEBUG_ARGS + ["--keyspace-prefix-max", "5"]))
    c, m = ks.c, ks.m
    try:
        families = ["fam%s" % chr(97 + i) for i in range(12)]
        prefixed_keys(c, families)
        assert c("SELECT", 1) == b"OK"
        prefixed_keys(c, families[6:], per=2)
        c.pipeline([("SET", "noprefix%d" % i, "x") for i in range(5)])
        ks.check(all_tracked=False)
        rows = prefix_rows(m, "COUNT", 100)
        assert len(rows) == 5 + 2 and rows[-2]["keys"] > 0, rows
        assert info_stat(c, "memkv_keyspace_prefixes") == 5
        assert info_stat(c, "memkv_keyspace_prefix_refusals") >= rows[-2]["keys"]
        # Deleting every key of a tracked prefix frees its slot; the key space stays exact as
        # families come and go.
        tracked = [r["prefix"].split(b":")[0].decode() for r in rows[:-2]]
        for db in (0, 1):
            assert c("SELECT", db) == b"OK"
            for j in range(3):
                c("DEL", "%s:%d:item" % (tracked[0], j))
        ks.check(all_tracked=False)
        assert len(prefix_rows(m, "COUNT", 100)) <= 7
        for i in range(20):
            prefixed_keys(c, ["new%d" % i], per=1)
            c("DEL", "%s:0:item" % families[i % 12])
            ks.check(all_tracked=False)
        # A bigger cap: a rebuild tracks every prefix.
        assert c("CONFIG", "SET", "keyspace-prefix-max", 1000) == b"OK"
        ks.check(all_tracked=True)
        assert prefix_rows(m, "COUNT", 10 ** 9)[-2]["keys"] == 0
        # Back to a small cap.
        assert c("CONFIG", "SET", "keyspace-prefix-max", 3) == b"OK"
        ks.check(all_tracked=False)
        assert len(prefix_rows(m, "COUNT", 100)) == 3 + 2
    finally:
        ks.close()


def test_prefix_config_rebuilds(ks):
    c, m = ks.c, ks.m
    keys = ["user:1001:profile:name", "user:1002:profile:mail", "user:77:cart", "order|2024|x",
            "order|2025|y", "a/b/c/d/e/f", "a/b/c/d/e/g", "x:y|z/w", ":lead", "::", "trail:",
            "hex:deadbeef01:v", "hex:deadbeef:v", "id:0123456789abcdef0123456789abcdef0123:x",
            "num:123456789012:v", "date:2024-01-15:v",
            "uuid:123e4567-e89b-12d3-a456-426614174000", "n0:12ab34:7", "plainkey", "p", "a1b2:c3",
            b"bin\x00ary:\xff\xfe:1", "deep:1:2:3:4:5:6:7:8:9:10"]
    c.pipeline([("SET", k, "v" * (i * 13 % 300)) for i, k in enumerate(keys)])
    c.pipeline([("EXPIRE", k, 500 + i) for i, k in enumerate(keys) if i % 3 == 0])
    ks.check()
    rows = {r["prefix"] for r in prefix_rows(m, "COUNT", 100)[:-2]}
    assert {b"user:#:profile", b"user:#:cart", b"hex:*:v", b"hex:deadbeef:v", b"id:*:x", b"uuid:*",
            b"num:#:v", b"date:#-#-#:v",
            b"n#:#ab#:#", b"a#b#:c#", b":lead", b"::", b"trail:", b"deep:#:#"} <= rows, rows
    for depth in (0, 1, 3, 8, 2):
        assert c("CONFIG", "SET", "keyspace-prefix-depth", depth) == b"OK"
        ks.check()
    for seps in ("|", "/|", ":|/", ":"):
        assert c("CONFIG", "SET", "keyspace-prefix-separators", seps) == b"OK"
        ks.check()
        assert c("CONFIG", "SET", "keyspace-prefix-depth", 1) == b"OK"
        ks.check()
        assert c("CONFIG", "SET", "keyspace-prefix-depth", 4) == b"OK"
        ks.check()
    # DEPTH 0 (with ":" and depth 4): the first segment; ":lead" and "::" have the empty one.
    assert {r["prefix"] for r in prefix_rows(m, "COUNT", 100, "DEPTH", 0)[:-2]} >= {b"user", b"deep", b""}
    # Prefix tracking off: MEMORY PREFIXES says so, the rest goes on.
    assert c("CONFIG", "SET", "keyspace-prefix-max", 0) == b"OK"
    assert m("MEMORY", "PREFIXES") == "ERR prefix tracking is off (CONFIG SET keyspace-prefix-max 4096)"
    c("SET", "user:5:profile", "while off")
    ks.check()
    assert c("CONFIG", "SET", "keyspace-prefix-max", 4096) == b"OK"
    ks.check()


def test_depth_zero_puts_a_key_with_an_empty_first_segment_in_the_same_row(ks):
    """':abc' has a separator, so it has a prefix at every depth: at depth 0 the empty one.
    MEMORY PREFIXES DEPTH 0 (with keyspace-prefix-depth 2) and keyspace-prefix-depth 0 must
    agree on it."""
    c, m = ks.c, ks.m
    c.pipeline([("SET", ":abc", "1"), ("SET", ":", "2"), ("SET", "plain", "3"), ("SET", "a:b", "4")])
    ks.check()
    by_query = prefix_rows(m, "DEPTH", 0)
    assert c("CONFIG", "SET", "keyspace-prefix-depth", 0) == b"OK"
    ks.check()
    assert prefix_rows(m) == by_query
    assert by_query[-1]["keys"] == 1  # only "plain" has no separator


def test_keyspace_stats_off_and_on(ks):
    c, m = ks.c, ks.m
    populate(c)
    ks.check()
    assert c("CONFIG", "SET", "keyspace-stats", "no") == b"OK"
    off = "ERR keyspace statistics are off (CONFIG SET keyspace-stats yes)"
    assert m("MEMORY", "PREFIXES") == off
    assert m("MEMORY", "TOP-KEYS") == off
    assert m("DEBUG", "KEYSPACE-STATS-CHECK") == off
    assert keysizes_lines(m) == {}
    # Changes while off are all counted by the rebuild.
    populate(c, "while-off:")
    c("DEL", "hash:big", "list:big")
    c("HSET", "hash:small", "x", "y" * 100)
    c("EXPIRE", "set:big", 1000)
    assert c("CONFIG", "SET", "keyspace-prefix-depth", 1) == b"OK"  # applies when back on
    # Settings that could not be used are refused while off too (else keyspace-stats yes would
    # fail later, naming the wrong parameter).
    for seps in ("#", "a1", "abcdefghij"):
        r = c("CONFIG", "SET", "keyspace-prefix-separators", seps)
        assert isinstance(r, str) and "keyspace-prefix-separators" in r, (seps, r)
    assert ks_config(m)["seps"] == b":"
    assert c("CONFIG", "SET", "keyspace-stats", "yes") == b"OK"
    ks.check()
    assert ks_config(m)["depth"] == 1


# ---- 6. errors ----

def test_errors(ks):
    c, m = ks.c, ks.m
    populate(c, n=2)
    syntax = "ERR syntax error"
    not_int = "ERR value is not an integer or out of range"
    count_pos = "ERR COUNT must be positive"
    depth_err = "ERR DEPTH must be between 0 and keyspace-prefix-depth (2)"
    top_count = "ERR COUNT must be between 1 and keyspace-top-keys (256)"
    bad_type = "ERR unknown TYPE: use string, list, set, zset or hash"
    for args, err in [(("COUNT", 0), count_pos), (("COUNT", -1), count_pos), (("COUNT", "x"), not_int),
                      (("COUNT", "99999999999999999999"), not_int), (("COUNT",), syntax),
                      (("DEPTH", -1), depth_err), (("DEPTH", 3), depth_err), (("DEPTH", "1.5"), not_int),
                      (("SORT", "size"), syntax), (("SORT",), syntax), (("BOGUS", 1), syntax),
                      (("COUNT", 1, "DEPTH"), syntax)]:
        assert m("MEMORY", "PREFIXES", *args) == err, args
    for args, err in [(("COUNT", 0), top_count), (("COUNT", 257), top_count), (("COUNT", "x"), not_int),
                      (("COUNT", -5), top_count), (("TYPE", "stream"), bad_type), (("TYPE", ""), bad_type),
                      (("TYPE",), syntax), (("FOO", "bar"), syntax)]:
        assert m("MEMORY", "TOP-KEYS", *args) == err, args
    # Case does not matter, options combine and repeat (the last one counts).
    assert prefix_rows(m, "sort", "KEYS", "depth", 1, "count", 2, "SORT", "bytes") == \
        prefix_rows(m, "DEPTH", 1, "COUNT", 2)
    assert m("MEMORY", "TOP-KEYS", "type", "HASH", "COUNT", 3) == \
        m("MEMORY", "TOP-KEYS", "TYPE", "hash", "COUNT", 3)
    assert m("DEBUG", "KEYSPACE-STATS-CHECK", "extra").startswith("ERR")
    # Separators that would clash with folded IDs, out-of-range numbers: refused, nothing changes.
    before = ks_config(m)
    for name, value in [("keyspace-prefix-separators", "#"), ("keyspace-prefix-separators", "5"),
                        ("keyspace-prefix-separators", ":0"), ("keyspace-prefix-separators", "*"),
                        ("keyspace-prefix-separators", ""), ("keyspace-prefix-separators", ":;,./|-_!"),
                        ("keyspace-prefix-depth", 9), ("keyspace-prefix-depth", -1),
                        ("keyspace-prefix-max", -1), ("keyspace-prefix-max", 1000001),
                        ("keyspace-top-keys", 0), ("keyspace-top-keys", 10001),
                        ("keyspace-stats", "maybe"), ("keyspace-top-keys", "x")]:
        r = c("CONFIG", "SET", name, value)
        assert isinstance(r, str) and r.startswith("ERR"), (name, value, r)
        assert ks_config(m) == before, (name, value)
    r = c("CONFIG", "SET", "keyspace-prefix-separators", "#")
    assert "separators may not hold '#', '*' or digits" in r, r
    assert c("PING") == b"PONG"
    ks.check()

