"""Issue 13: MEMORY DOCTOR names the culprit in the key space — a key holding a large share of the
data set (any type), a key prefix that grows steadily, a volatile-* policy that cannot evict what
has no TTL — and stays silent on healthy loads of several sizes. Also MEMORY HISTORY and MEMORY
PREFIXES SORT growth, which the growth finding is built on.

The history samples every memory-history-interval-ms (a minute by default); the tests set it to
100 ms so that ten points, the fewest a growth needs, take a second. CONFIG SET of it starts the
history afresh, which is how a test begins with a flat window after loading its data."""
import time

import pytest

from conftest import TIMEOUT_SCALE
from helpers import wait_until

MiB = 1024 * 1024
DEBUG = ["--enable-debug-command", "yes"]


@pytest.fixture
def server(server_factory):
    return server_factory(DEBUG)


def doctor(r):
    return r.execute_command("MEMORY", "DOCTOR").decode()


def findings(report):
    """The codes-as-text of a report: its first line and the finding paragraphs."""
    return report.split("Key figures:")[0]


def fresh_history(r, interval_ms=100):
    r.config_set("memory-history-interval-ms", str(interval_ms))


def wait_points(r, n):
    assert wait_until(lambda: len(r.execute_command("MEMORY", "HISTORY", "COUNT", n)) >= n,
                      timeout=20 * TIMEOUT_SCALE)


def fill_small(r, prefix, keys, size, ttl=None):
    p = r.pipeline(transaction=False)
    v = b"v" * size
    for i in range(keys):
        if ttl:
            p.set("%s:%d" % (prefix, i), v, ex=ttl)
        else:
            p.set("%s:%d" % (prefix, i), v)
        if i % 2000 == 1999:
            p.execute()
    p.execute()


@pytest.mark.parametrize("kind", ["string", "hash", "list", "zset"])
def test_dominant_key_of_any_type_is_named(server, r, kind):
    fill_small(r, "user", 2000, 100)
    big = "reports:2026:all"
    if kind == "string":
        for _ in range(40):
            r.append(big, b"x" * MiB)
    else:
        p = r.pipeline(transaction=False)
        for i in range(100):
            chunk = ["f%d-%d" % (i, j) for j in range(1000)]
            if kind == "hash":
                p.hset(big, mapping={f: "y" * 400 for f in chunk})
            elif kind == "list":
                p.rpush(big, *["y" * 400] * 1000)
            else:
                p.zadd(big, {f + "-" + "y" * 380: j for j, f in enumerate(chunk)})
        p.execute()
    usage = r.memory_usage(big, samples=0)
    assert usage >= 32 * MiB
    report = doctor(r)
    head = findings(report)
    assert "Big key" in head, report
    assert '"%s"' % big in head
    assert "a %s of" % kind in head
    # The same key heads MEMORY TOP-KEYS, with the same bytes.
    top = r.execute_command("MEMORY", "TOP-KEYS", "COUNT", 1)[0]
    top = dict(zip(top[::2], top[1::2]))
    assert top[b"key"] == big.encode() and top[b"bytes"] == usage
    # Gone: the finding goes with it.
    r.unlink(big)
    assert wait_until(lambda: "Big key" not in findings(doctor(r)))
    assert r.execute_command("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"


def test_steadily_growing_prefix_is_named(server_factory):
    s = server_factory(DEBUG + ["--memory-history-interval-ms", "100"])
    r = s.client()
    fill_small(r, "user", 3000, 200)  # steady background, not growing
    fresh_history(r)
    wait_points(r, 3)
    value = b"e" * 4000
    n = 0
    for _ in range(30):  # ~45 MB over ~3 s: a straight line at 100 ms per point
        p = r.pipeline(transaction=False)
        for _ in range(375):
            p.set("feed:%d" % n, value)
            n += 1
        p.execute()
        time.sleep(0.1)
    wait_points(r, 12)
    report = doctor(r)
    head = findings(report)
    assert "Growth" in head, report
    assert 'key prefix "feed:#"' in head
    assert "per hour" in head and "no TTL" in head
    assert "user:#" not in head  # the flat prefix is not blamed
    rows = r.execute_command("MEMORY", "PREFIXES", "SORT", "growth")
    first = dict(zip(rows[0][::2], rows[0][1::2]))
    assert first[b"prefix"] == b"feed:#" and first[b"bytes-per-hour"] > 0
    # History points carry used memory that climbed.
    hist = r.execute_command("MEMORY", "HISTORY", "COUNT", 40)
    used = [dict(zip(p[::2], p[1::2]))[b"used-memory"] for p in hist]
    assert used[-1] > used[0] + 30 * MiB
    # Once the writes stop and the window is flat again, the finding goes.
    fresh_history(r)
    wait_points(r, 12)
    assert "Growth" not in findings(doctor(r))
    r.close()


def test_volatile_policy_that_cannot_evict_is_named(server_factory):
    s = server_factory(DEBUG + ["--memory-history-interval-ms", "100"])
    r = s.client()
    fill_small(r, "doc", 10000, 4000)  # ~40 MB, no TTL
    fill_small(r, "cache", 100, 100, ttl=3600)
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", str(used * 3 // 2))
    r.config_set("maxmemory-policy", "volatile-lru")
    head = findings(doctor(r))
    assert "Eviction: maxmemory-policy volatile-lru" in head, head
    assert "allkeys-lru" in head
    r.config_set("maxmemory-policy", "allkeys-lru")
    assert "Eviction:" not in findings(doctor(r))
    r.config_set("maxmemory", "0")
    r.close()


@pytest.mark.parametrize("keys,size", [(0, 0), (2000, 50), (20000, 2000), (2000, 40000)])
def test_healthy_loads_stay_silent(server_factory, keys, size):
    s = server_factory(DEBUG + ["--memory-history-interval-ms", "100"])
    r = s.client()
    for i in range(10):  # ten prefixes, none dominant, a third with a TTL
        fill_small(r, "tenant%d:item" % i, keys // 10, size, ttl=3600 if i % 3 == 0 else None)
    fresh_history(r)
    wait_points(r, 12)
    report = doctor(r)
    assert report.startswith("No memory problems found."), report
    assert r.execute_command("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"
    r.close()


def test_history_and_its_config(server, r):
    fresh_history(r, 100)
    wait_points(r, 3)
    pts = r.execute_command("MEMORY", "HISTORY", "COUNT", 3)
    assert len(pts) == 3
    p = dict(zip(pts[-1][::2], pts[-1][1::2]))
    for field in (b"time-ms", b"used-memory", b"rss", b"keys", b"strings-bytes", b"hashes-bytes",
                  b"lists-bytes", b"sets-bytes", b"zsets-bytes"):
        assert field in p
    assert p[b"used-memory"] > 0 and p[b"rss"] > 0
    times = [dict(zip(x[::2], x[1::2]))[b"time-ms"] for x in pts]
    assert times == sorted(times)
    # Bounded by memory-history-points.
    r.config_set("memory-history-points", "10")
    fresh_history(r, 100)
    wait_points(r, 10)
    time.sleep(0.5)
    assert len(r.execute_command("MEMORY", "HISTORY", "COUNT", 1000)) == 10
    with pytest.raises(Exception, match="COUNT must be positive"):
        r.execute_command("MEMORY", "HISTORY", "COUNT", 0)
    with pytest.raises(Exception):
        r.config_set("memory-history-interval-ms", "10")
    with pytest.raises(Exception):
        r.config_set("memory-history-points", "5")
