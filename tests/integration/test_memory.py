"""Memory observability (issue 3): INFO memory, MEMORY STATS/USAGE/DOCTOR/MALLOC-STATS/PURGE/
HELP, the per-subsystem counters against reality, and Debian's prometheus-redis-exporter reading
memkv unchanged. (maxmemory and eviction are tested elsewhere.)

Two builds run this file: the normal one (mem_allocator:jemalloc-5.3.0) and the ASan+UBSan one
(mem_allocator:libc: the allocator figures equal used_memory, MALLOC-STATS is unsupported). Tests
branch on mem_allocator where they need jemalloc's figures; none is skipped as a whole.

Error texts, the MEMORY STATS key names and the exporter's metric names were checked against
Debian's redis-server 7.0.15 and prometheus-redis-exporter 1.45.0.
"""
import json
import os
import random
import re
import subprocess
import tempfile
import time
import urllib.request

import pytest

from helpers import SUBSYSTEMS, Resp, client_ids, free_port, info_fields, mem_info, wait_until

MiB = 1024 * 1024
# memkv's reply blocks and read chunks are 16 KiB (REPLY_BLOCK_SIZE, NET_READ_CHUNK).
BLOCK = 16 * 1024
# MEMORY USAGE adds the key's share of the bucket array: one pointer.
BUCKET_SHARE = 8

REDIS_INFO_MEMORY_FIELDS = (
    "used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human",
    "used_memory_peak", "used_memory_peak_human", "used_memory_peak_perc",
    "used_memory_overhead", "used_memory_startup", "used_memory_startup_human",
    "used_memory_dataset", "used_memory_dataset_perc",
    "allocator_allocated", "allocator_active", "allocator_resident",
    "total_system_memory", "total_system_memory_human",
    "maxmemory", "maxmemory_human", "maxmemory_policy",
    "allocator_frag_ratio", "allocator_frag_bytes", "allocator_rss_ratio", "allocator_rss_bytes",
    "rss_overhead_ratio", "rss_overhead_bytes", "mem_fragmentation_ratio",
    "mem_fragmentation_bytes", "mem_clients_slaves", "mem_clients_normal", "mem_allocator")

MEMKV_INFO_MEMORY_FIELDS = (
    "memkv_allocator_metadata", "memkv_allocator_mapped", "memkv_allocator_retained",
    "memkv_allocator_background_thread", "memkv_rss_baseline")

# MEMORY STATS keys of Redis 7.0.15 (read from Debian's redis-server), db.N aside.
REDIS_MEMORY_STATS_KEYS = (
    "peak.allocated", "total.allocated", "startup.allocated", "replication.backlog",
    "clients.slaves", "clients.normal", "aof.buffer", "lua.caches", "overhead.total",
    "keys.count", "keys.bytes-per-key", "dataset.bytes", "dataset.percentage",
    "peak.percentage", "allocator.allocated", "allocator.active", "allocator.resident",
    "allocator-fragmentation.ratio", "allocator-fragmentation.bytes",
    "allocator-rss.ratio", "allocator-rss.bytes", "rss-overhead.ratio", "rss-overhead.bytes",
    "fragmentation", "fragmentation.bytes")

EXPORTER = "prometheus-redis-exporter"


# ---- helpers ----

def subsystems(fields):
    return {name: int(fields["memkv_subsystem_" + name]) for name in SUBSYSTEMS}


def sub_bytes(c, name):
    return int(mem_info(c)["memkv_subsystem_" + name])


def is_jemalloc(fields):
    return fields["mem_allocator"].startswith("jemalloc-")


def human(n):
    """Redis's bytesToHuman, which memkv's *_human fields follow."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 1024:
        return "%s%dB" % (sign, n)
    div = 1024
    for unit in "KMGTP":
        if n < div * 1024:
            return "%s%.2f%s" % (sign, n / div, unit)
        div *= 1024
    return "%s%dB" % (sign, n)


def assert_ratio(printed, num, den, name):
    """A ratio INFO prints with 2 decimals equals num/den within that rounding (0.005, plus a
    hair for the binary representation)."""
    if den == 0:
        return
    assert abs(float(printed) - num / den) <= 0.005 + 1e-9, (name, printed, num, den, num / den)


def memory_stats(server):
    """MEMORY STATS as a dict (db.N as nested dicts), on a connection of its own which then
    checks that the reply was exactly as long as announced (the next reply is PONG)."""
    conn = Resp(server, timeout=10)  # a reply shorter than announced would wait for more
    try:
        reply = conn("MEMORY", "STATS")
        assert conn("PING") == b"PONG", "MEMORY STATS sent more elements than it announced"
    finally:
        conn.close()
    assert isinstance(reply, list), reply
    assert len(reply) % 2 == 0
    stats = {}
    for k, v in zip(reply[0::2], reply[1::2]):
        k = k.decode()
        if isinstance(v, list):
            v = {a.decode(): b for a, b in zip(v[0::2], v[1::2])}
        stats[k] = v
    return stats


def info_and_stats(c, server):
    """INFO memory and MEMORY STATS describing the same hash tables: the server's cron rehashes
    incrementally between commands, so retry until MEMORY STATS reads the same bucket arrays
    before and after the INFO."""
    for _ in range(100):
        s1 = memory_stats(server)
        fields = mem_info(c)
        s2 = memory_stats(server)
        if all(s1.get(k) == s2.get(k) for k in s1 if k.startswith("db.")):
            return fields, s2
        time.sleep(0.05)
    raise AssertionError("the hash tables never settled")


def load_strings(c, keys_values, batch=10000):
    replies = c.pipeline([("SET", k, v) for k, v in keys_values], batch)
    assert all(r == b"OK" for r in replies), set(replies)


def memory_usages(c, keys, batch=10000):
    replies = c.pipeline([("MEMORY", "USAGE", k) for k in keys], batch)
    assert all(isinstance(r, int) for r in replies), [r for r in replies if not isinstance(r, int)][:3]
    return replies


def doctor(c):
    report = c("MEMORY", "DOCTOR")
    assert isinstance(report, bytes), report
    return report.decode()


def flat(text):
    """The report with its word-wrapping undone, for matching phrases that may wrap."""
    return " ".join(text.split())


# ---- INFO memory ----

def check_info_memory(fields):
    """Every Redis field present and consistent with the others of the same reply."""
    for name in REDIS_INFO_MEMORY_FIELDS + MEMKV_INFO_MEMORY_FIELDS:
        assert name in fields, name
    for name in SUBSYSTEMS:
        assert "memkv_subsystem_" + name in fields, name
    n = {k: int(v) for k, v in fields.items()
         if re.fullmatch(r"-?\d+", v) and not k.endswith("_human")}
    for name in ("used_memory", "used_memory_rss", "used_memory_peak", "used_memory_overhead",
                 "used_memory_startup", "used_memory_dataset", "allocator_allocated",
                 "allocator_active", "allocator_resident", "allocator_frag_bytes",
                 "allocator_rss_bytes", "rss_overhead_bytes", "mem_fragmentation_bytes",
                 "mem_clients_normal", "maxmemory", "total_system_memory"):
        assert name in n, (name, fields[name])

    used, rss = n["used_memory"], n["used_memory_rss"]
    alloc, active, resident = n["allocator_allocated"], n["allocator_active"], n["allocator_resident"]
    assert used > 0 and rss > 0
    assert n["used_memory_peak"] >= used
    assert 0 < n["used_memory_startup"] <= n["used_memory_overhead"]
    assert n["used_memory_dataset"] == used - n["used_memory_overhead"]
    # Redis's overhead includes the startup memory and the clients' buffers and structs.
    assert n["used_memory_overhead"] >= n["used_memory_startup"] + n["mem_clients_normal"]

    if is_jemalloc(fields):
        assert fields["mem_allocator"] == "jemalloc-5.3.0"
        assert alloc > 0
        assert active >= alloc, (active, alloc)
        assert resident >= active, (resident, active)
        assert n["memkv_allocator_mapped"] >= active
        assert n["memkv_allocator_metadata"] > 0
        assert n["memkv_allocator_background_thread"] in (0, 1)
    else:
        # Without jemalloc the allocator figures are stood in for by used memory.
        assert fields["mem_allocator"] == "libc"
        assert alloc == active == resident == used, (alloc, active, resident, used)
        assert fields["allocator_frag_ratio"] == fields["allocator_rss_ratio"] == "1.00"

    # Each ratio is its definition, each _bytes the matching difference.
    assert_ratio(fields["allocator_frag_ratio"], active, alloc, "allocator_frag_ratio")
    assert n["allocator_frag_bytes"] == active - alloc
    assert_ratio(fields["allocator_rss_ratio"], resident, active, "allocator_rss_ratio")
    assert n["allocator_rss_bytes"] == resident - active
    assert_ratio(fields["rss_overhead_ratio"], rss, resident, "rss_overhead_ratio")
    assert n["rss_overhead_bytes"] == rss - resident
    assert_ratio(fields["mem_fragmentation_ratio"], rss, used, "mem_fragmentation_ratio")
    assert n["mem_fragmentation_bytes"] == rss - used
    peak_perc = float(fields["used_memory_peak_perc"].rstrip("%"))
    assert abs(peak_perc - 100.0 * used / n["used_memory_peak"]) <= 0.005 + 1e-9
    assert fields["used_memory_dataset_perc"].endswith("%")

    # The human forms are Redis's formatting of the same reply's numbers.
    for name in ("used_memory", "used_memory_rss", "used_memory_peak", "used_memory_startup",
                 "maxmemory", "total_system_memory"):
        assert fields[name + "_human"] == human(n[name]), (name, fields[name], fields[name + "_human"])

    assert n["maxmemory"] >= 0
    assert fields["maxmemory_policy"] in ("noeviction", "allkeys-lru", "volatile-lru",
                                          "allkeys-random", "volatile-random", "volatile-ttl")
    assert n["mem_clients_slaves"] == 0
    subs = subsystems(fields)
    assert all(v >= 0 for v in subs.values()), subs
    # mem_clients_normal is memkv's three client subsystems.
    assert n["mem_clients_normal"] == (subs["query_buffers"] + subs["output_buffers"] +
                                       subs["clients"])
    # used_memory is the sum of the subsystems' counters: exactly, as both come from the same
    # counters, read on the server's one thread while it builds this reply. (The reply's own
    # text buffer is counted as `other`: the figures must be read before it grows, or after.)
    assert sum(subs.values()) == used, (sum(subs.values()) - used, subs, used)
    assert 0 < n["memkv_rss_baseline"]
    assert fields["memkv_accounting"] == "exact"
    # Subsystems with a jemalloc arena of their own (memory-subsystem-arenas): its figures and
    # their ratio, by the same definition as allocator_frag_ratio.
    for key in fields:
        m = re.fullmatch(r"memkv_arena_(\w+)_frag_ratio", key)
        if m:
            g = m.group(1)
            assert is_jemalloc(fields), key
            assert_ratio(fields[key], n["memkv_arena_%s_active" % g],
                         n["memkv_arena_%s_allocated" % g], key)
            assert n["memkv_arena_%s_resident" % g] >= 0
    return n


def test_info_memory_fresh(server, c):
    fields = mem_info(c)
    n = check_info_memory(fields)
    assert n["maxmemory"] == 0
    assert fields["maxmemory_human"] == "0B"
    assert fields["maxmemory_policy"] == "noeviction"
    subs = subsystems(fields)
    for name in ("strings", "hashes", "lists", "sets", "zsets", "expires_index"):
        assert subs[name] == 0, (name, subs)
    # This client's struct is counted.
    assert subs["clients"] > 0


@pytest.mark.parametrize("sections", [("memory",), (), ("all",), ("everything",), ("default",)])
def test_info_memory_with_data(server, c, sections):
    """Same checks with data, clients and TTLs, whichever sections the reply carries."""
    rng = random.Random(7)
    load_strings(c, [("k:%d" % i, b"v" * rng.randint(0, 3000)) for i in range(5000)])
    assert c.pipeline([("EXPIRE", "k:%d" % i, 1000) for i in range(0, 5000, 3)]) == [1] * 1667
    others = [Resp(server) for _ in range(5)]
    for o in others:
        assert o("PING") == b"PONG"
    fields = info_fields(c, *sections)
    assert "# Memory" in c("INFO", *sections).decode()
    check_info_memory(fields)
    subs = subsystems(fields)
    assert subs["strings"] > 5000 * 24
    assert subs["expires_index"] > 1667 * 24
    assert int(fields["used_memory_dataset"]) > 0
    # A second, different reply is consistent too (with the counters having moved).
    for o in others:
        o.close()
    check_info_memory(mem_info(c))


@pytest.mark.parametrize("path_len", [0, 300, 600, 900])
def test_info_memory_sum_whatever_precedes_it(server_factory, monkeypatch, tmp_path, path_len):
    """The subsystems add up to used_memory exactly even when the sections before Memory are
    long: INFO's text buffer (counted as `other`) grows while the Memory section is written.
    The Server section carries the config file's path, so a long path moves that growth to
    every point of the Memory section."""
    d = str(tmp_path)
    while len(d) < path_len:
        d = os.path.join(d, "d" * min(200, max(1, path_len - len(d) - 1)))
    os.makedirs(d, exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", d)
    server = server_factory(config_text="")
    c = Resp(server)
    try:
        for sections in ((), ("all",), ("server", "memory"), ("server", "clients", "memory")):
            fields = info_fields(c, *sections)
            assert len(fields["config_file"]) >= path_len
            check_info_memory(fields)
    finally:
        c.close()


@pytest.mark.parametrize("arenas", ["yes", "no"])
def test_info_memory_with_and_without_subsystem_arenas(server_factory, arenas):
    """Both settings of memory-subsystem-arenas give consistent figures; the per-arena fields
    are there only with jemalloc and the arenas on."""
    server = server_factory(["--memory-subsystem-arenas", arenas])
    c = Resp(server)
    try:
        load_strings(c, [("a:%d" % i, b"a" * (i % 700)) for i in range(20000)])
        fields = mem_info(c)
        check_info_memory(fields)
        has_arenas = any(k.startswith("memkv_arena_") for k in fields)
        assert has_arenas == (arenas == "yes" and is_jemalloc(fields)), sorted(fields)
        stats = memory_stats(server)
        assert stats["keys.count"] == 20000
        assert any(k.startswith("arena.") for k in stats) == has_arenas
    finally:
        c.close()


def test_info_memory_is_read_by_redis_py(server, r):
    """redis-py's INFO parser (hiredis) reads every field: numbers as numbers."""
    info = r.info("memory")
    assert isinstance(info["used_memory"], int)
    assert isinstance(info["allocator_frag_ratio"], float)
    assert isinstance(info["memkv_subsystem_strings"], int)
    assert info["mem_allocator"] in ("jemalloc-5.3.0", "libc")


# ---- MEMORY STATS ----

def test_memory_stats(server, c):
    stats = memory_stats(server)
    for k in REDIS_MEMORY_STATS_KEYS:
        assert k in stats, k
    for name in SUBSYSTEMS:
        assert isinstance(stats["subsystem." + name], int), name
    assert not any(k.startswith("db.") for k in stats), "db.N without keys"
    assert stats["keys.count"] == 0

    rng = random.Random(11)
    load_strings(c, [("s:%d" % i, b"x" * rng.randint(1, 500)) for i in range(3000)])
    assert c.pipeline([("EXPIRE", "s:%d" % i, 500) for i in range(1000)]) == [1] * 1000
    assert c("SELECT", 3) == b"OK"
    load_strings(c, [("t:%d" % i, b"y") for i in range(10)])
    assert c("SELECT", 0) == b"OK"

    before = int(mem_info(c)["used_memory"])
    stats = memory_stats(server)
    after = int(mem_info(c)["used_memory"])
    for k in REDIS_MEMORY_STATS_KEYS:
        assert k in stats, k
    # total.allocated is INFO's used_memory. Tolerance: the three replies' own buffers and the
    # block this client keeps (a few KiB each, 64 KiB in all).
    assert min(before, after) - 64 * 1024 <= stats["total.allocated"] <= max(before, after) + 64 * 1024
    assert stats["peak.allocated"] >= stats["total.allocated"]
    assert stats["keys.count"] == 3010
    assert stats["keys.bytes-per-key"] > 0
    assert stats["dataset.bytes"] + stats["overhead.total"] == stats["total.allocated"]
    assert stats["startup.allocated"] <= stats["overhead.total"]
    assert stats["replication.backlog"] == 0 and stats["clients.slaves"] == 0
    assert stats["clients.normal"] > 0
    for k in ("dataset.percentage", "peak.percentage", "allocator-fragmentation.ratio",
              "allocator-rss.ratio", "rss-overhead.ratio", "fragmentation"):
        float(stats[k])  # doubles travel as bulk strings in RESP2, as in Redis
    assert 0 < float(stats["peak.percentage"]) <= 100.0
    assert stats["allocator.active"] >= stats["allocator.allocated"] > 0
    assert stats["allocator-fragmentation.bytes"] == stats["allocator.active"] - stats["allocator.allocated"]
    assert stats["allocator-rss.bytes"] == stats["allocator.resident"] - stats["allocator.active"]
    # The ratios travel at full precision and are their definitions (same snapshot).
    assert abs(float(stats["allocator-fragmentation.ratio"]) -
               stats["allocator.active"] / stats["allocator.allocated"]) < 1e-9
    assert abs(float(stats["allocator-rss.ratio"]) -
               stats["allocator.resident"] / stats["allocator.active"]) < 1e-9
    rss = stats["fragmentation.bytes"] + stats["total.allocated"]
    assert abs(float(stats["fragmentation"]) - rss / stats["total.allocated"]) < 1e-9
    assert abs(float(stats["rss-overhead.ratio"]) - rss / stats["allocator.resident"]) < 1e-9
    assert stats["rss-overhead.bytes"] == rss - stats["allocator.resident"]
    # That RSS is the process's (INFO's used_memory_rss a moment later; 4 MiB of drift).
    assert abs(rss - int(mem_info(c)["used_memory_rss"])) <= 4 * MiB

    # db.N maps for the databases that have keys, with Redis's two entries.
    assert set(k for k in stats if k.startswith("db.")) == {"db.0", "db.3"}
    db0 = stats["db.0"]
    assert set(db0) == {"overhead.hashtable.main", "overhead.hashtable.expires"}
    assert db0["overhead.hashtable.main"] >= 3000 * 8
    assert db0["overhead.hashtable.expires"] >= 1000 * 8
    assert stats["db.3"]["overhead.hashtable.expires"] == 0

    # The subsystems add up to the total (within the reply being built meanwhile: the map is
    # written into this client's output buffer while it is gathered).
    subs_sum = sum(stats["subsystem." + n] for n in SUBSYSTEMS)
    assert abs(subs_sum - stats["total.allocated"]) <= 64 * 1024, (subs_sum, stats["total.allocated"])


def test_memory_stats_read_by_redis_py(server, r):
    r.set("a", "b")
    stats = r.memory_stats()
    assert stats["keys.count"] == 1
    assert "db.0" in stats
    assert stats["total.allocated"] > 0


# ---- subsystems follow reality ----

def test_strings_and_key_index_follow_100k_keys(server, c):
    """100k string keys of many sizes (with overwrites and APPENDs, so realloc paths count too):
    the strings subsystem grows by exactly sum(MEMORY USAGE) - 8 per key.

    Tolerance 0, and why it can be: MEMORY USAGE of a string key without TTL is the usable size
    of its one allocation (header + key + value) plus its 8-byte share of the bucket array, and
    the strings counter adds exactly that usable size at each allocation and subtracts it at
    each free, on the server's one thread; nothing else allocates as `strings`."""
    base = subsystems(mem_info(c))
    rng = random.Random(20240611)
    n = 100000
    keys = ["key:%06d" % i for i in range(n)]
    load_strings(c, [(k, b"v" * rng.choice((0, 1, 7, 8, 9, 16, rng.randint(0, 4000)))) for k in keys])
    # Overwrite 10% with other sizes; APPEND to 5%.
    load_strings(c, [(keys[i], b"w" * rng.randint(0, 2000)) for i in rng.sample(range(n), n // 10)])
    appended = c.pipeline([("APPEND", keys[i], b"a" * rng.randint(1, 300)) for i in rng.sample(range(n), n // 20)])
    assert all(isinstance(x, int) for x in appended)
    assert c("DBSIZE") == n

    after = subsystems(mem_info(c))
    usages = memory_usages(c, keys)
    again = subsystems(mem_info(c))
    assert after["strings"] == again["strings"], "MEMORY USAGE changed the strings counter"
    growth = after["strings"] - base["strings"]
    assert growth == sum(usages) - BUCKET_SHARE * n, (growth, sum(usages) - BUCKET_SHARE * n)

    # The key index grew by the bucket array (at least a pointer per key) and nothing else of
    # it: it is exactly MEMORY STATS's overhead.hashtable.main (power-of-two arrays of
    # pointers, whose usable size is what was asked).
    fields, stats = info_and_stats(c, server)
    after = subsystems(fields)
    key_index_growth = after["key_index"] - base["key_index"]
    assert key_index_growth >= BUCKET_SHARE * n
    assert key_index_growth == stats["db.0"]["overhead.hashtable.main"], (key_index_growth, stats["db.0"])
    # No TTLs, no expires index.
    assert after["expires_index"] == base["expires_index"]

    assert c("FLUSHALL") == b"OK"
    flushed = subsystems(mem_info(c))
    assert flushed["strings"] == base["strings"]
    assert flushed["expires_index"] == base["expires_index"]
    assert flushed["key_index"] == base["key_index"]


def test_expires_index_follows_ttls(server, c):
    """Keys with TTLs grow expires_index by their expires entries plus the expires bucket
    array; MEMORY USAGE of a key with a TTL includes its expires entry and its bucket share.
    FLUSHALL gives it all back."""
    base = subsystems(mem_info(c))
    n = 20000
    keys = ["ttl:%05d" % i for i in range(n)]
    # Half with SET ... EX, half with SET then EXPIRE.
    replies = c.pipeline([("SET", k, b"z" * (i % 300), "EX", 10000) for i, k in enumerate(keys[:n // 2])])
    assert all(x == b"OK" for x in replies)
    load_strings(c, [(k, b"z" * (i % 300)) for i, k in enumerate(keys[n // 2:])])
    assert c.pipeline([("EXPIRE", k, 10000) for k in keys[n // 2:]]) == [1] * (n // 2)

    usages = memory_usages(c, keys)
    fields, stats = info_and_stats(c, server)
    after = subsystems(fields)
    exp_growth = after["expires_index"] - base["expires_index"]
    str_growth = after["strings"] - base["strings"]
    # usage = entry + 8 + expires entry + 8: what is left after the strings' part is exactly
    # the expires entries plus a pointer each.
    expires_entries = sum(usages) - str_growth - 2 * BUCKET_SHARE * n
    assert expires_entries >= n * (24 + len(keys[0]))
    buckets = stats["db.0"]["overhead.hashtable.expires"]
    assert buckets >= BUCKET_SHARE * n
    assert exp_growth >= expires_entries + BUCKET_SHARE * n
    assert exp_growth == expires_entries + buckets, (exp_growth, expires_entries, buckets)

    # PERSIST gives the expires entries back (the bucket array may stay until it shrinks).
    assert c.pipeline([("PERSIST", k) for k in keys]) == [1] * n
    persisted = subsystems(mem_info(c))
    assert persisted["strings"] == after["strings"]
    assert persisted["expires_index"] - base["expires_index"] <= buckets

    assert c("FLUSHALL") == b"OK"
    flushed = subsystems(mem_info(c))
    assert flushed["strings"] == base["strings"]
    assert flushed["expires_index"] == base["expires_index"]
    assert flushed["key_index"] == base["key_index"]


def test_output_buffers_follow_a_client_that_never_reads(server, c):
    """A client pipelines GETs of a 100 KB value and never reads: output_buffers grows by
    what is pending (minus what the kernel's socket buffers took); CLIENT KILL gives it back.

    Tolerance after the kill: one 16 KiB block per remaining client (here only this one): a
    client keeps its emptied reply block for reuse after its last reply went out and gives it
    back after 2 s idle, so the remaining client's share can differ by one block between two
    readings."""
    value = b"v" * (100 * 1024)
    assert c("SET", "big", value) == b"OK"
    c("PING")
    base = sub_bytes(c, "output_buffers")

    hog = Resp(server, rcvbuf=4096)
    hog_id = hog("CLIENT", "ID")
    n = 300  # 30 MB of replies; the socket buffers can take at most a few MB of it
    hog.sock.sendall(Resp.encode("GET", "big") * n)
    # Several MB pending: at least 16 MiB of the 30 MB.
    assert wait_until(lambda: sub_bytes(c, "output_buffers") - base >= 16 * MiB, timeout=15), \
        sub_bytes(c, "output_buffers") - base
    time.sleep(0.2)
    fields = mem_info(c)
    grown = int(fields["memkv_subsystem_output_buffers"]) - base
    # Not more than was asked for: each reply's block is sized to fit (header and the size
    # class's rounding: under 25%).
    assert grown <= n * (len(value) + 64) * 1.25 + BLOCK, grown
    check_info_memory(fields)
    # CLIENT LIST names the culprit: its omem is (nearly) all of the growth.
    line = [l for l in c("CLIENT", "LIST").decode().splitlines() if l.startswith("id=%d " % hog_id)][0]
    omem = int(re.search(r" omem=(\d+) ", line).group(1))
    assert abs(omem - grown) <= 2 * BLOCK, (omem, grown)
    assert c("PING") == b"PONG"

    assert c("CLIENT", "KILL", "ID", hog_id) == 1
    assert wait_until(lambda: hog_id not in client_ids(c))
    remaining = len(client_ids(c))
    assert remaining == 1
    assert wait_until(lambda: abs(sub_bytes(c, "output_buffers") - base) <= BLOCK * remaining)
    assert abs(sub_bytes(c, "output_buffers") - base) <= BLOCK * remaining
    hog.close()


def test_query_buffers_follow_an_incomplete_bulk(server, c):
    """A client sends 2 MB of a 3 MB bulk and stops: query_buffers holds it; closing the
    connection gives it back (tolerance: one 16 KiB read buffer per remaining client, which is
    given back after 2 s idle and taken again at the next command)."""
    c("PING")
    base = sub_bytes(c, "query_buffers")
    s = Resp(server)
    s.sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (3 * MiB) + b"x" * (2 * MiB))
    assert wait_until(lambda: sub_bytes(c, "query_buffers") - base >= 2 * MiB), \
        sub_bytes(c, "query_buffers") - base
    check_info_memory(mem_info(c))
    assert c("EXISTS", "k") == 0
    s.close()
    assert wait_until(lambda: len(client_ids(c)) == 1)
    assert wait_until(lambda: abs(sub_bytes(c, "query_buffers") - base) <= BLOCK)
    assert c("EXISTS", "k") == 0


# ---- MEMORY USAGE ----

def test_memory_usage(server, c):
    assert c("MEMORY", "USAGE", "missing") is None
    assert c("MEMORY", "USAGE", "missing", "SAMPLES", 5) is None
    assert c("SET", "kb", b"x" * 1024) == b"OK"
    usage = c("MEMORY", "USAGE", "kb")
    assert usage >= 1024 + len("kb")
    assert c("MEMORY", "USAGE", "kb", "SAMPLES", 0) == usage
    assert c("MEMORY", "USAGE", "kb", "samples", 5) == usage
    assert c("memory", "usage", "kb", "SAMPLES", 1000000) == usage
    # Bigger values report more.
    assert c("SET", "small", "x") == b"OK"
    assert c("MEMORY", "USAGE", "small") < usage
    # A TTL adds the expires entry and its bucket share.
    assert c("SET", "kc", b"x" * 1024) == b"OK"
    assert c("MEMORY", "USAGE", "kc") == usage  # same key length, same value
    assert c("EXPIRE", "kc", 100) == 1
    assert c("MEMORY", "USAGE", "kc") - usage >= 24 + len("kc") + BUCKET_SHARE
    assert c("PERSIST", "kc") == 1
    assert c("MEMORY", "USAGE", "kc") == usage
    # An expired key is gone.
    assert c("SET", "gone", "v", "PX", 1) == b"OK"
    time.sleep(0.01)
    assert c("MEMORY", "USAGE", "gone") is None

    assert c("MEMORY", "USAGE", "kb", "SAMPLES", "x") == "ERR value is not an integer or out of range"
    assert c("MEMORY", "USAGE", "kb", "SAMPLES", "99999999999999999999") == \
        "ERR value is not an integer or out of range"
    assert c("MEMORY", "USAGE", "kb", "SAMPLES", -1) == "ERR syntax error"
    assert c("MEMORY", "USAGE", "kb", "SAMPLES") == "ERR syntax error"
    assert c("MEMORY", "USAGE", "kb", "FOO", 1) == "ERR syntax error"
    assert c("MEMORY", "USAGE", "kb", "SAMPLES", 5, "extra") == "ERR syntax error"
    assert c("MEMORY", "USAGE") == "ERR wrong number of arguments for 'memory|usage' command"


def test_redis_cli_memkeys(server, c):
    """redis-cli --memkeys (SCAN + TYPE + MEMORY USAGE) finds the biggest key with memkv's
    figure."""
    load_strings(c, [("small:%d" % i, b"s" * 10) for i in range(100)])
    assert c("SET", "the-big-one", b"B" * 20000) == b"OK"
    usage = c("MEMORY", "USAGE", "the-big-one")
    out = server.cli("--memkeys").stdout
    assert "Biggest string found '\"the-big-one\"' has %d bytes" % usage in out, out


# ---- MEMORY DOCTOR ----

def test_doctor_fresh_server(server, c):
    report = doctor(c)
    lines = report.split("\n")
    assert lines[0] == "No memory problems found.", report
    assert "[warning]" not in report and "[critical]" not in report, report
    assert "Key figures:" in report
    assert all(len(l) < 100 for l in lines), report
    fields = mem_info(c)
    if is_jemalloc(fields):
        assert "jemalloc" in report
    else:
        assert "libc malloc" in report


def test_doctor_names_allocator_fragmentation(server, c):
    """150k keys with ~1000-byte values, then a random 80% deleted: partly used slabs all over
    the values' size class. Under jemalloc the doctor names allocator fragmentation and that
    size class first; under libc (no allocator figures) it stays sane."""
    n = 150000
    keys = ["frag:%06d" % i for i in range(n)]
    value = b"f" * 1000
    for i in range(0, n, 25000):
        load_strings(c, [(k, value) for k in keys[i:i + 25000]], batch=5000)
    entry = c("MEMORY", "USAGE", keys[0]) - BUCKET_SHARE  # the entry's size class
    rng = random.Random(4242)
    doomed = rng.sample(keys, n * 8 // 10)
    replies = c.pipeline([("DEL",) + tuple(doomed[i:i + 1000]) for i in range(0, len(doomed), 1000)])
    assert replies == [1000] * (len(doomed) // 1000)
    assert c("DBSIZE") == n - len(doomed)

    fields = mem_info(c)
    check_info_memory(fields)
    report = doctor(c)
    text = flat(report)
    assert report.split("\n")[0] in ("No memory problems found.",) or \
        re.fullmatch(r"\d+ finding\(s\):", report.split("\n")[0]), report
    assert "Key figures:" in report
    if is_jemalloc(fields):
        assert float(fields["allocator_frag_ratio"]) > 1.3, fields["allocator_frag_ratio"]
        assert re.fullmatch(r"\d+ finding\(s\):", report.split("\n")[0]), report
        m = re.search(r"\[(warning|critical)\] Allocator fragmentation: .*?"
                      r"size class(?:es)? (\d+) B \(", text)
        assert m, report
        assert int(m.group(2)) == entry, (entry, report)
        # MEMORY STATS tells the same story.
        stats = memory_stats(server)
        assert float(stats["allocator-fragmentation.ratio"]) > 1.3
        assert stats["allocator-fragmentation.bytes"] >= 32 * MiB
    else:
        assert "Allocator fragmentation" not in text, report
        assert "libc malloc" in report
    assert c("PING") == b"PONG"


def test_doctor_names_the_client_with_a_huge_output_buffer(server, c):
    """A client holding >= 64 MiB of unread replies (no output limit): the doctor names it by
    id, address and name; once it is killed, it is no longer named."""
    assert c("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0") == b"OK"
    value = b"h" * MiB
    assert c("SET", "huge", value) == b"OK"
    # A few other clients, so the id is not the only small number around.
    others = [Resp(server) for _ in range(3)]
    for o in others:
        assert o("PING") == b"PONG"
    hog = Resp(server, rcvbuf=4096)
    assert hog("CLIENT", "SETNAME", "slow-reader") == b"OK"
    hog_id = hog("CLIENT", "ID")
    hog_addr = "%s:%d" % hog.sock.getsockname()
    hog.sock.sendall(Resp.encode("GET", "huge") * 80)  # 80 MiB of replies
    assert wait_until(lambda: sub_bytes(c, "output_buffers") >= 64 * MiB, timeout=20), \
        sub_bytes(c, "output_buffers")
    report = doctor(c)
    text = flat(report)
    assert re.fullmatch(r"\d+ finding\(s\):", report.split("\n")[0]), report
    assert "client id %d (addr %s, name slow-reader)" % (hog_id, hog_addr) in text, report
    assert "CLIENT KILL ID %d" % hog_id in text, report
    # The output_buffers subsystem is not named separately: the one client is the culprit.
    assert "Subsystem output_buffers" not in text, report

    assert c("CLIENT", "KILL", "ID", hog_id) == 1
    hog.close()
    assert wait_until(lambda: sub_bytes(c, "output_buffers") < MiB)
    assert "client id %d" % hog_id not in flat(doctor(c))
    for o in others:
        o.close()


def script_findings(server):
    url = "http://127.0.0.1:%d/debug/memory" % server.metrics_port
    report = json.loads(urllib.request.urlopen(url, timeout=10).read())
    return [f for f in report["doctor"]["findings"] if f["code"] == "script-cache"]


def test_doctor_names_an_application_that_generates_scripts(server, c):
    """Scripts as libraries use them (SCRIPT LOAD once, EVALSHA with KEYS/ARGV; EVAL of a fixed
    text) are no finding; an application that writes its values into the script text (a new
    script per call) fills the script cache and evicts past lua-script-cache-max: MEMORY DOCTOR
    and /debug/memory name it with the figures and the fix."""
    incr = "return redis.call('incr', KEYS[1])"
    sha = c("SCRIPT", "LOAD", incr)
    replies = c.pipeline([("EVALSHA", sha, 1, "user:%d" % (i % 50)) for i in range(3000)])
    assert replies[-1] == 60, replies[-1]
    replies = c.pipeline([("EVAL", "return ARGV[1]", 0, i) for i in range(3000)])
    assert replies[-1] == b"2999"
    report = doctor(c)
    assert report.split("\n")[0] == "No memory problems found.", report
    assert "Script cache" not in report, report
    assert "scripts       2 cached" in report, report

    # The anti-pattern: the key written into the text, 2500 distinct scripts.
    assert c("CONFIG", "SET", "lua-script-cache-max", "200") == b"OK"
    replies = c.pipeline([("EVAL", "return redis.call('incr', 'gen:%d')" % i, 0)
                          for i in range(2500)], 500)
    assert replies == [1] * 2500
    stats = info_fields(c, "stats")
    assert int(stats["evicted_scripts"]) >= 2300, stats["evicted_scripts"]
    report = doctor(c)
    text = flat(report)
    assert re.fullmatch(r"\d+ finding\(s\):", report.split("\n")[0]), report
    m = re.search(r"\[warning\] Script cache churn: (\d+) distinct scripts were compiled and "
                  r"(\d+) of them \(\d+%\) were evicted past lua-script-cache-max \(200\); the "
                  r"cache holds (\d+) scripts \((\d+) from EVAL\)", text)
    assert m, report
    assert int(m.group(1)) == 2502 and int(m.group(2)) >= 2300, m.groups()
    assert int(m.group(3)) <= 202 and int(m.group(4)) == 200, m.groups()
    assert "pass the values as KEYS and ARGV" in text, report
    assert "SCRIPT LOAD and call it with EVALSHA" in text, report
    # The SCRIPT LOAD-ed script survived the churn.
    assert c("EVALSHA", sha, 1, "user:0") == 61
    if server.metrics_port:
        assert wait_until(lambda: script_findings(server), timeout=10)
        (f,) = script_findings(server)
        assert f["severity"] == "warning" and "Script cache churn" in f["text"], f
    # CONFIG RESETSTAT forgets the evictions: no finding until the churn comes back.
    assert c("CONFIG", "RESETSTAT") == b"OK"
    assert "Script cache" not in doctor(c)


# ---- MALLOC-STATS, PURGE, HELP, errors ----

def test_malloc_stats_purge_help(server, c):
    fields = mem_info(c)
    text = c("MEMORY", "MALLOC-STATS")
    assert isinstance(text, bytes), text
    if is_jemalloc(fields):
        assert b"jemalloc" in text
        assert b"Begin jemalloc statistics" in text and b"End jemalloc statistics" in text
        assert b"bins:" in text
    else:
        assert text == b"Stats not supported for the current allocator"

    assert c("MEMORY", "PURGE") == b"OK"
    assert c("memory", "purge") == b"OK"
    check_info_memory(mem_info(c))

    help_lines = [l.decode() for l in c("MEMORY", "HELP")]
    assert help_lines[0].startswith("MEMORY <subcommand>")
    for sub in ("DOCTOR", "MALLOC-STATS", "PURGE", "STATS", "USAGE <key> [SAMPLES <count>]", "HELP"):
        assert sub in help_lines, (sub, help_lines)


def dirty_bytes(c):
    """Freed pages jemalloc still holds (allocator resident - active; metadata is the small rest)."""
    f = mem_info(c)
    return int(f["allocator_resident"]) - int(f["allocator_active"])


def fill_and_delete(c, n=2000, size=32 * 1024):
    """64 MB of large values (extents of their own), then deleted: pages freed all at once."""
    val = b"x" * size
    assert c.pipeline([("SET", "big:%d" % i, val) for i in range(n)]) == [b"OK"] * n
    assert c.pipeline([("DEL", "big:%d" % i) for i in range(n)]) == [1] * n


def test_jemalloc_decay_and_background_thread_at_run_time(server, c):
    """CONFIG SET jemalloc-dirty-decay-ms / jemalloc-muzzy-decay-ms / jemalloc-bg-thread reach
    every arena at run time (the key space's own included): with decay off, 64 MB of freed pages
    stay resident until a synchronous FLUSHALL returns them at once; with decay 0 they go back as
    they are freed. Nothing here waits on a clock: both are synchronous in jemalloc."""
    assert c("CONFIG", "GET", "jemalloc-*") == [
        b"jemalloc-bg-thread", b"yes", b"jemalloc-dirty-decay-ms", b"10000",
        b"jemalloc-muzzy-decay-ms", b"0"]
    for name, bad in (("jemalloc-dirty-decay-ms", "-2"), ("jemalloc-muzzy-decay-ms", "86400001"),
                      ("jemalloc-bg-thread", "maybe"), ("jemalloc-dirty-decay-ms", "1s")):
        err = c("CONFIG", "SET", name, bad)
        assert isinstance(err, str) and err.startswith(
            "ERR CONFIG SET failed (possibly related to argument '%s')" % name), err
    fields = mem_info(c)
    if not is_jemalloc(fields):
        # libc malloc: accepted and kept (as Redis does with jemalloc-bg-thread), no effect.
        assert c("CONFIG", "SET", "jemalloc-dirty-decay-ms", "0") == b"OK"
        assert c("FLUSHALL") == b"OK"
        return
    assert fields["memkv_allocator_background_thread"] == "1"
    assert c("CONFIG", "SET", "jemalloc-bg-thread", "no") == b"OK"
    assert mem_info(c)["memkv_allocator_background_thread"] == "0"
    assert c("CONFIG", "SET", "jemalloc-bg-thread", "yes") == b"OK"
    assert mem_info(c)["memkv_allocator_background_thread"] == "1"

    assert c("CONFIG", "SET", "jemalloc-dirty-decay-ms", "-1", "jemalloc-muzzy-decay-ms", "-1") == b"OK"
    report = json.loads(urllib.request.urlopen(
        "http://127.0.0.1:%d/debug/memory" % server.metrics_port, timeout=10).read())
    assert report["allocator"]["dirty_decay_ms"] == -1, report["allocator"]
    fill_and_delete(c)
    kept = dirty_bytes(c)
    assert kept >= 32 * MiB, kept
    assert c("FLUSHALL", "ASYNC") == b"OK"  # ASYNC leaves them to the decay, as Redis does
    assert dirty_bytes(c) >= 32 * MiB
    assert c("FLUSHALL") == b"OK"
    assert dirty_bytes(c) < 8 * MiB, (kept, dirty_bytes(c))
    fill_and_delete(c)
    assert dirty_bytes(c) >= 32 * MiB
    assert c("FLUSHDB", "SYNC") == b"OK"
    assert dirty_bytes(c) < 8 * MiB

    assert c("CONFIG", "SET", "jemalloc-dirty-decay-ms", "0", "jemalloc-muzzy-decay-ms", "0") == b"OK"
    fill_and_delete(c)
    assert dirty_bytes(c) < 8 * MiB, dirty_bytes(c)


def test_memory_errors(server, c):
    assert c("MEMORY", "FOO") == "ERR unknown subcommand 'FOO'. Try MEMORY HELP."
    assert c("MEMORY", "foo", "bar") == "ERR unknown subcommand 'foo'. Try MEMORY HELP."
    assert c("MEMORY") == "ERR wrong number of arguments for 'memory' command"
    for sub in ("stats", "doctor", "purge", "help", "malloc-stats"):
        assert c("MEMORY", sub, "x") == "ERR wrong number of arguments for 'memory|%s' command" % sub
    assert c("MEMORY", "STATS", "x") == "ERR wrong number of arguments for 'memory|stats' command"
    assert c("MEMORY", "USAGE") == "ERR wrong number of arguments for 'memory|usage' command"
    assert c("PING") == b"PONG"


# ---- prometheus-redis-exporter ----

def parse_metrics(text):
    """Prometheus text format -> {name or name{labels}: float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


@pytest.fixture
def exporter(server):
    """Debian's prometheus-redis-exporter pointed at the server, on a free loopback port;
    stopped at teardown. Yields its /metrics URL."""
    log = open(os.path.join(server.dir, "exporter.log"), "w")
    proc = None
    url = None
    for _ in range(5):  # the port was free a moment ago; retry if someone took it meanwhile
        port = free_port()
        proc = subprocess.Popen(
            [EXPORTER, "--redis.addr=redis://127.0.0.1:%d" % server.port,
             "--web.listen-address=127.0.0.1:%d" % port, "--redis-only-metrics"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = "http://127.0.0.1:%d/metrics" % port

        def up():
            try:
                urllib.request.urlopen(url.replace("/metrics", "/"), timeout=2).read()
                return True
            except OSError:
                return False

        if wait_until(lambda: up() or proc.poll() is not None, timeout=10) and proc.poll() is None:
            break
        proc.kill()
        proc.wait()
        proc = None
    assert proc is not None, open(log.name).read()
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_prometheus_redis_exporter(server, c, exporter):
    """The exporter's memory metrics carry memkv's values. Each metric is compared with INFO
    taken right before and right after the scrape; the tolerance is the drift a live server
    has between two reads (the exporter's own connection and replies, the cron): 1 MiB for
    byte figures, 0.05 for ratios (data is loaded first so the ratios are stable)."""
    load_strings(c, [("p:%d" % i, b"p" * 1000) for i in range(20000)], batch=5000)
    before = mem_info(c)
    body = urllib.request.urlopen(exporter, timeout=30).read().decode()
    after = mem_info(c)
    m = parse_metrics(body)
    assert m.get("redis_up") == 1.0, body[:2000]

    def between(metric, field, tol):
        assert metric in m, (metric, sorted(k for k in m if k.startswith("redis_")))
        lo = min(float(before[field]), float(after[field])) - tol
        hi = max(float(before[field]), float(after[field])) + tol
        assert lo <= m[metric] <= hi, (metric, m[metric], before[field], after[field])

    between("redis_memory_used_bytes", "used_memory", MiB)
    between("redis_allocator_active_bytes", "allocator_active", MiB)
    between("redis_allocator_allocated_bytes", "allocator_allocated", MiB)
    between("redis_allocator_resident_bytes", "allocator_resident", MiB)
    between("redis_memory_used_rss_bytes", "used_memory_rss", MiB)
    between("redis_allocator_frag_ratio", "allocator_frag_ratio", 0.05)
    between("redis_allocator_frag_bytes", "allocator_frag_bytes", MiB)
    between("redis_allocator_rss_ratio", "allocator_rss_ratio", 0.05)
    between("redis_mem_fragmentation_ratio", "mem_fragmentation_ratio", 0.05)
    between("redis_mem_fragmentation_bytes", "mem_fragmentation_bytes", MiB)
    between("redis_memory_used_peak_bytes", "used_memory_peak", MiB)
    between("redis_memory_used_startup_bytes", "used_memory_startup", 0)
    between("redis_memory_max_bytes", "maxmemory", 0)
    assert m.get('redis_db_keys{db="db0"}') == 20000.0
