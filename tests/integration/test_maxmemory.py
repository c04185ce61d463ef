"""maxmemory and eviction against the real memkv-server: the six policies, Redis 7.0's OOM
error, evicted_keys, and the three parameters.

Used memory is INFO memory's used_memory, the figure eviction compares with maxmemory.

Slack: memkv evicts before every command until used memory is under the limit, so when INFO
runs, memory is at most the limit; INFO then allocates its own text before it reads
used_memory (a few KB, doubled on growth). Nothing else happens between the eviction and the
reading. SLACK is 64 KiB: well above that, well below one percent of the limits used here.
"""
import time

import pytest
import redis

MiB = 1024 * 1024
SLACK = 64 * 1024
OOM = "OOM command not allowed when used memory > 'maxmemory'."
VALUE = b"v" * 1024


def used(r):
    return r.info("memory")["used_memory"]


def evicted(r):
    return r.info("stats")["evicted_keys"]


def limit_above_now(r, extra):
    """Sets maxmemory to the used memory now plus extra; returns the limit."""
    limit = used(r) + extra
    r.config_set("maxmemory", limit)
    return limit


def write(r, keys, value=VALUE, ex=None, chunk=500):
    """SETs the keys in pipelined chunks; ex: key -> seconds, or None."""
    for start in range(0, len(keys), chunk):
        p = r.pipeline(transaction=False)
        for k in keys[start:start + chunk]:
            p.set(k, value, ex=ex(k) if ex else None)
        p.execute()


def present(r, keys, chunk=1000):
    """Which of keys exist (EXISTS does not touch the LRU clock, as in Redis)."""
    out = []
    for start in range(0, len(keys), chunk):
        p = r.pipeline(transaction=False)
        part = keys[start:start + chunk]
        for k in part:
            p.exists(k)
        out += [k for k, e in zip(part, p.execute()) if e]
    return out


def next_second(r):
    """Waits until the server's LRU clock (seconds, refreshed by the cron) has ticked since
    this call: a probe key set now reaches an idle time of 1 s. A barrier rather than a sleep
    to the next wall-clock second, which a late cron on a loaded host would not have seen yet
    (OBJECT IDLETIME does not touch the key; eviction may take it: then it is set again)."""
    r.set("lru-probe", 1)
    deadline = time.monotonic() + 10
    while True:
        idle = r.object("idletime", "lru-probe")
        if idle is None:
            r.set("lru-probe", 1)
        elif idle >= 1:
            return
        assert time.monotonic() < deadline, "the LRU clock did not tick in 10 s"
        time.sleep(0.01)


def test_config_parameters(server_factory):
    s = server_factory()
    r = s.client()
    assert r.config_get("maxmemory*") == {
        "maxmemory": "0", "maxmemory-policy": "noeviction", "maxmemory-samples": "5"}
    assert r.config_set("maxmemory", "100mb")
    assert r.config_get("maxmemory") == {"maxmemory": str(100 * MiB)}
    for policy in ("volatile-lru", "volatile-random", "volatile-ttl", "allkeys-lru",
                   "allkeys-random", "noeviction"):
        assert r.config_set("maxmemory-policy", policy)
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": policy}
    assert r.config_set("maxmemory-policy", "ALLKEYS-LRU")  # case-insensitive, as Redis
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("maxmemory-policy", "allkeys-fifo")
    assert str(e.value).startswith(
        "CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) "
        "must be one of the following: volatile-lru, ")
    assert "noeviction" in str(e.value)
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    for bad in ("0", "2147483648", "x"):
        with pytest.raises(redis.ResponseError):
            r.config_set("maxmemory-samples", bad)
    # Redis's bounds (1..2^31-1); the eviction pool samples 64 keys a round at most.
    assert r.config_set("maxmemory-samples", 65)
    assert r.config_get("maxmemory-samples") == {"maxmemory-samples": "65"}
    assert r.config_set("maxmemory-samples", 64)
    assert r.config_get("maxmemory-samples") == {"maxmemory-samples": "64"}
    with pytest.raises(redis.ResponseError):
        r.config_set("maxmemory", "-1")
    assert r.config_set("maxmemory", 0)
    r.close()

    # From the command line too, and COMMAND INFO shows Redis's denyoom flag.
    s2 = server_factory(["--maxmemory", "10mb", "--maxmemory-policy", "volatile-ttl",
                         "--maxmemory-samples", "10"])
    r2 = s2.client()
    assert r2.config_get("maxmemory*") == {
        "maxmemory": str(10 * MiB), "maxmemory-policy": "volatile-ttl", "maxmemory-samples": "10"}
    info = r2.execute_command("COMMAND", "INFO", "set", "get", "getex", "incr", "del")
    flags = {name: set(i["flags"]) for name, i in info.items()}
    assert "denyoom" in flags["set"] and "denyoom" in flags["incr"]
    assert "denyoom" not in flags["get"]
    assert "denyoom" not in flags["getex"]  # Redis 7.0 marks GETEX write, fast only
    assert "denyoom" not in flags["del"]
    r2.close()


def test_allkeys_lru_load(server):
    """50k keys of 1 KB into a limit of start + 8 MiB: memory stays under the limit, keys
    are evicted, and LRU keeps the keys that are read over the old ones.

    The LRU clock ticks once a second (as Redis's), so keys touched within the same second
    look equally old. The load therefore goes in batches that start in a new second of the
    clock, and the hot keys are read at the start of each batch: from then on they are as
    recent as the batch being written and older than no other key. A batch (2500 keys) is
    well under what fits (about 6000), so older keys remain to be sampled all through it;
    with 5000-key batches the pool of 5 samples sometimes finds only keys as recent as the
    hot ones near a batch's end, and evicts a few of them."""
    r = server.client()
    r.config_set("maxmemory-policy", "allkeys-lru")
    limit = limit_above_now(r, 8 * MiB)
    hot = ["hot:%d" % i for i in range(200)]
    write(r, hot)
    total, batch = 50000, 2500
    peak = 0
    for b in range(total // batch):
        next_second(r)
        p = r.pipeline(transaction=False)
        for k in hot:
            p.get(k)
        p.execute()
        keys = ["k:%d" % i for i in range(b * batch, (b + 1) * batch)]
        for start in range(0, batch, 500):
            write(r, keys[start:start + 500])
            u = used(r)
            peak = max(peak, u)
            assert u <= limit + SLACK, "used_memory %d over maxmemory %d" % (u, limit)
    n_evicted = evicted(r)
    assert n_evicted > 0
    keys = r.dbsize()
    assert keys + n_evicted >= total + len(hot)
    assert keys < total // 2

    hot_left = len(present(r, hot))
    first = len(present(r, ["k:%d" % i for i in range(batch)]))
    last = len(present(r, ["k:%d" % i for i in range(total - batch, total)]))
    print("limit %d, peak used_memory %d (%+d), %d keys, %d evicted, hot %d/%d, "
          "first batch %d/%d, last batch %d/%d" % (
              limit, peak, peak - limit, keys, n_evicted, hot_left, len(hot), first, batch,
              last, batch))
    assert hot_left >= 0.9 * len(hot), "hot keys left: %d of %d" % (hot_left, len(hot))
    assert first <= 0.01 * batch
    assert last >= 0.5 * batch
    r.close()


def volatile_load(r, policy, extra=4 * MiB, n_persistent=1000, n_volatile=10000, ttl=None):
    """Persistent keys first, then keys with a TTL until eviction has long started."""
    r.config_set("maxmemory-policy", policy)
    limit = limit_above_now(r, extra)
    persistent = ["keep:%d" % i for i in range(n_persistent)]
    write(r, persistent)
    volatile = ["vol:%d" % i for i in range(n_volatile)]
    ttl = ttl or (lambda k: 3600)
    for start in range(0, n_volatile, 1000):
        write(r, volatile[start:start + 1000], ex=ttl)
        assert used(r) <= limit + SLACK
    return limit, persistent, volatile


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-random", "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_ttl(server, policy):
    r = server.client()
    limit, persistent, volatile = volatile_load(r, policy)
    assert evicted(r) > 0
    assert len(present(r, persistent)) == len(persistent)
    assert r.info("keyspace")["db0"]["expires"] < len(volatile)
    assert used(r) <= limit + SLACK

    # Only keys without a TTL left to take: writes are refused, reads and deletes work.
    p = r.pipeline(transaction=False)
    for k in volatile:
        p.delete(k)
    p.execute()
    r.config_set("maxmemory", used(r) - 256 * 1024)
    with pytest.raises(redis.ResponseError) as e:
        r.set("new", "x")
    assert str(e.value) == OOM
    assert len(present(r, persistent)) == len(persistent)
    assert r.get("keep:0") == VALUE
    r.close()


def test_volatile_ttl_evicts_shortest_ttl_first(server):
    # TTLs unrelated to the order of writing (a permutation of 10000 s .. 19999 s), so only
    # the TTL can explain which keys survive.
    n = 10000
    ttl_of = {"vol:%d" % i: 10000 + (i * 7919) % n for i in range(n)}
    r = server.client()
    _, _, volatile = volatile_load(r, "volatile-ttl", n_volatile=n, ttl=ttl_of.__getitem__)
    left = present(r, volatile)
    assert 0 < len(left) < n
    # The survivors should be about the len(left) longest TTLs.
    cut = sorted(ttl_of.values(), reverse=True)[len(left) - 1]
    in_top = sum(1 for k in left if ttl_of[k] >= cut)
    median_left = sorted(ttl_of[k] for k in left)[len(left) // 2]
    print("%d of %d volatile keys left, %d of them among the longest TTLs, median TTL left %d" % (
        len(left), n, in_top, median_left))
    assert in_top >= 0.7 * len(left)
    assert median_left >= 10000 + 0.75 * n
    r.close()


def test_allkeys_random(server):
    r = server.client()
    r.config_set("maxmemory-policy", "allkeys-random")
    limit = limit_above_now(r, 4 * MiB)
    n = 12000
    keys = ["k:%d" % i for i in range(n)]
    for start in range(0, n, 1000):
        write(r, keys[start:start + 1000])
        assert used(r) <= limit + SLACK
    n_evicted = evicted(r)
    assert n_evicted > 0 and r.dbsize() < n
    # Random, not LRU: some of the oldest keys are still there.
    oldest = len(present(r, keys[:2000]))
    print("allkeys-random: %d evicted, %d of the 2000 oldest keys left" % (n_evicted, oldest))
    assert oldest > 0
    # No limit any more: the cron must not evict between the reset and the check (the last
    # write may have left memory just above the limit).
    r.config_set("maxmemory", 0)
    r.config_resetstat()
    assert evicted(r) == 0
    r.close()


def test_noeviction(server):
    r = server.client()
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    limit = limit_above_now(r, 2 * MiB)
    i = 0
    with pytest.raises(redis.ResponseError) as e:
        while i < 10000:
            r.set("k:%d" % i, VALUE)
            i += 1
    assert str(e.value) == OOM
    assert 1000 < i < 10000
    assert r.dbsize() == i
    assert evicted(r) == 0
    u = used(r)
    assert limit < u <= limit + SLACK

    # Every command that may grow memory is refused; the others run.
    for args in (("SET", "k:0", "x"), ("SETNX", "n", "x"), ("SETEX", "n", 10, "x"),
                 ("PSETEX", "n", 10000, "x"), ("GETSET", "k:0", "x"), ("MSET", "a", "1"),
                 ("MSETNX", "a", "1"), ("INCR", "c"), ("DECR", "c"), ("INCRBY", "c", 2),
                 ("DECRBY", "c", 2), ("INCRBYFLOAT", "c", 1.5), ("APPEND", "k:0", "x"),
                 ("SETRANGE", "k:0", 0, "x")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == OOM, args
    assert r.get("k:0") == VALUE
    assert r.mget("k:1", "k:2") == [VALUE, VALUE]
    assert r.exists("k:0") == 1 and r.strlen("k:0") == 1024
    assert r.expire("k:1", 1000) and r.ttl("k:1") > 0
    assert r.getex("k:1", persist=True) == VALUE
    assert r.ping()

    # Deleting makes room again.
    p = r.pipeline(transaction=False)
    for j in range(0, 500):
        p.delete("k:%d" % j)
    assert all(p.execute())
    assert used(r) < limit
    assert r.set("again", "x")

    # CONFIG SET maxmemory 0 lifts the limit.
    r.config_set("maxmemory", used(r) - 256 * 1024)
    with pytest.raises(redis.ResponseError):
        r.set("again", "y")
    r.config_set("maxmemory", 0)
    write(r, ["more:%d" % j for j in range(3000)])
    assert r.dbsize() > i
    assert evicted(r) == 0
    r.close()


def test_lowering_maxmemory_evicts_at_once(server):
    r = server.client()
    write(r, ["k:%d" % i for i in range(5000)])
    r.config_set("maxmemory-policy", "allkeys-lru")
    u = used(r)
    r.config_set("maxmemory", u - 2 * MiB)  # evicts within CONFIG SET itself
    n_evicted = evicted(r)
    assert n_evicted > 1000
    assert r.dbsize() == 5000 - n_evicted
    assert used(r) <= u - 2 * MiB + SLACK
    r.close()
    server.stop()
    assert "WARNING: the new maxmemory value set via CONFIG SET" in server.read_stdout()
