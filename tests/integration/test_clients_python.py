"""Debian's python3-redis (redis-py 4.3, RESP2, its default configuration) against the real
memkv-server and against Debian's redis-server 7.0 in the same run (the `both` fixture, so each
expectation is proven on Redis itself), for what applications built on it do and the other tests
do not already cover:

- pipelines: `pipeline(transaction=False)` is a plain batch (a bad command fails alone, no
  EXECABORT), beside the default transactional `pipeline()` (whose semantics test_multi.py covers:
  MULTI/EXEC, the runtime error, EXECABORT, `transaction()` with one WatchError retry, concurrent
  increments);
- `transaction(fn, *watches)` under contention that is certain, not hoped for: threads read the
  watched keys, meet at a barrier, then all EXEC, so all but one must get WatchError and retry;
- pub/sub: `run_in_thread` with handlers, `ignore_subscribe_messages`, PING on a subscribed RESP2
  connection (test_pubsub.py covers `get_message`, `listen` and pattern subscriptions);
- locks: redis-py's own `Lock` (its release, extend and reacquire are Lua run with EVALSHA), and
  the classic pattern without scripting: acquire with SET NX PX and a random token, release and
  extend with WATCH, GET, MULTI, DEL/PEXPIRE, EXEC; mutual exclusion is checked with threads.
"""
import threading
import time
import uuid

import pytest
import redis

from helpers import wait_until


def run_threads(n, target):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# ---- pipelines ----

def test_pipeline_without_transaction_is_a_plain_batch(both):
    r = both.client()
    r.set("s", "text")
    with r.pipeline(transaction=False) as p:
        p.set("a", 1).incr("a").incr("s").execute_command("NOSUCHCOMMAND").lpush("l", "x").get("a")
        replies = p.execute(raise_on_error=False)
    assert replies[:2] == [True, 2]
    assert isinstance(replies[2], redis.ResponseError) and str(replies[2]) == "value is not an integer or out of range"
    assert isinstance(replies[3], redis.ResponseError) and str(replies[3]).startswith("unknown command 'NOSUCHCOMMAND'")
    assert replies[4:] == [1, b"2"]
    # The same batch as a transaction: the unknown command is a queued error, nothing runs.
    r.delete("a", "l")
    with r.pipeline() as p:
        p.set("a", 1).incr("a").incr("s").execute_command("NOSUCHCOMMAND").lpush("l", "x").get("a")
        with pytest.raises(redis.ResponseError, match="NOSUCHCOMMAND"):  # the queued error, then EXECABORT
            p.execute()
    assert r.exists("a", "l") == 0
    # Without errors both forms give the same replies; raise_on_error (the default) raises the
    # first error of a plain batch after every command has run.
    for transaction in (False, True):
        with r.pipeline(transaction=transaction) as p:
            assert p.mset({"k1": "v1", "k2": "v2"}).mget("k1", "k2", "k3").hset("h", mapping={"f": "v"}) \
                .hgetall("h").sadd("set", "m").smembers("set").zadd("z", {"x": 1.5}) \
                .zrange("z", 0, -1, withscores=True).execute() == [
                    True, [b"v1", b"v2", None], 1, {b"f": b"v"}, 1, {b"m"}, 1, [(b"x", 1.5)]]
        r.delete("h", "set", "z")
    with r.pipeline(transaction=False) as p:
        p.incr("s").set("after", 1)
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.get("after") == b"1"


def test_pipeline_batches_many_commands(both):
    r = both.client()
    with r.pipeline(transaction=False) as p:
        for i in range(2000):
            p.set("key:%d" % i, i)
        for i in range(2000):
            p.incr("key:%d" % i)
        replies = p.execute()
    assert replies[:2000] == [True] * 2000 and replies[2000:] == list(range(1, 2001))
    assert r.dbsize() == 2000


# ---- transaction() under certain contention ----

def test_transaction_retries_under_contention(both):
    """Every thread reads the two watched accounts, then all meet at a barrier before EXEC: the
    first EXEC changes the accounts, so every other thread's EXEC fails with WatchError and
    transaction() runs its function again. Money is conserved and no transfer is lost."""
    n = 4
    setup = both.client()
    setup.mset({"acct:a": 1000, "acct:b": 1000})
    barrier = threading.Barrier(n)
    calls = [0] * n

    def worker(i):
        r = both.client()

        def transfer(pipe):
            calls[i] += 1
            a, b = int(pipe.get("acct:a")), int(pipe.get("acct:b"))
            if calls[i] == 1:
                barrier.wait(timeout=30)
            pipe.multi()
            pipe.set("acct:a", a - (i + 1))
            pipe.set("acct:b", b + (i + 1))
            return a

        seen = r.transaction(transfer, "acct:a", "acct:b", value_from_callable=True)
        assert 1000 - sum(range(1, n + 1)) <= seen <= 1000
        r.close()

    run_threads(n, worker)
    assert sum(calls) >= 2 * n - 1, calls  # one EXEC won the first round, the others retried
    moved = sum(range(1, n + 1))
    assert setup.mget("acct:a", "acct:b") == [str(1000 - moved).encode(), str(1000 + moved).encode()]


# ---- pub/sub ----

def pubsub_in_thread(r):
    """run_in_thread with a handler per channel and pattern; returns what the handlers saw."""
    seen, done = [], threading.Event()

    def handler(m):
        seen.append((m["type"], m["pattern"], m["channel"], m["data"]))
        if m["data"] == b"last":
            done.set()

    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe(**{"orders": handler, "audit": handler})
    p.psubscribe(**{"job:*": handler})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        publisher = r.client()
        # The subscriptions are confirmed once PUBSUB NUMSUB/NUMPAT count them.
        assert wait_until(lambda: publisher.pubsub_numsub("orders", "audit") == [(b"orders", 1), (b"audit", 1)]
                          and publisher.pubsub_numpat() == 1), "subscriptions not confirmed"
        counts = [publisher.publish("orders", "o1"), publisher.publish("job:7", "started"),
                  publisher.publish("nobody", "x"), publisher.publish("audit", "a1"),
                  publisher.publish("job:7", "last")]
        assert done.wait(10), seen
    finally:
        worker.stop()
        worker.join(10)
        p.close()
    return counts, seen


def test_pubsub_run_in_thread(both):
    counts, seen = pubsub_in_thread(both.client())
    assert counts == [1, 1, 0, 1, 1]
    assert seen == [("message", None, b"orders", b"o1"), ("pmessage", b"job:*", b"job:7", b"started"),
                    ("message", None, b"audit", b"a1"), ("pmessage", b"job:*", b"job:7", b"last")]


def test_pubsub_ping_and_ignored_confirmations(both):
    """PING on a subscribed RESP2 connection answers [pong, arg]; redis-py hands it to
    get_message as a 'pong' message. Confirmations are dropped with ignore_subscribe_messages."""
    r = both.client()
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("c1")
    p.ping("hi")
    p.ping()
    got = []
    assert wait_until(lambda: got.append(p.get_message(timeout=0.1)) or len([m for m in got if m]) == 2)
    got = [m for m in got if m]
    assert got == [{"type": "pong", "pattern": None, "channel": None, "data": b"hi"},
                   {"type": "pong", "pattern": None, "channel": None, "data": b""}]
    # A RESP2 subscriber may run only the pub/sub commands and PING: redis-py surfaces the error.
    p.execute_command("GET", "x")
    with pytest.raises(redis.ResponseError, match="only .*allowed in this context"):
        wait_until(lambda: p.get_message(timeout=0.1) and False)
    p.close()


# ---- a lock without scripting ----

class ScriptlessLock:
    """A lock with SET NX PX and a random token, released and extended with WATCH/MULTI/EXEC
    (what redis-py's Lock does with Lua): only the holder of the token may release or extend."""

    def __init__(self, r, name, px):
        self.r, self.name, self.px = r, name, px
        self.token = None

    def acquire(self):
        token = uuid.uuid4().hex.encode()
        while not self.r.set(self.name, token, nx=True, px=self.px):
            time.sleep(0.0005)  # polling a taken lock, as redis-py's Lock does
        self.token = token

    def _if_owner(self, action):
        with self.r.pipeline() as p:
            while True:
                try:
                    p.watch(self.name)
                    if p.get(self.name) != self.token:
                        return False
                    p.multi()
                    action(p)
                    p.execute()
                    return True
                except redis.WatchError:
                    continue

    def release(self):
        released = self._if_owner(lambda p: p.delete(self.name))
        self.token = None
        return released

    def extend(self, px):
        return self._if_owner(lambda p: p.pexpire(self.name, px))


def test_scriptless_lock_mutual_exclusion(both):
    """Threads increment a counter with a non-atomic GET then SET, each inside the lock: no
    increment is lost and no two threads ever hold the lock at once."""
    n, rounds = 4, 40
    both.client().set("counter", 0)
    max_holders = []

    def worker(i):
        r = both.client()
        lock = ScriptlessLock(r, "lock:counter", px=30000)
        for _ in range(rounds):
            lock.acquire()
            holders = r.incr("holders")
            max_holders.append(holders)
            value = int(r.get("counter"))
            r.set("counter", value + 1)
            r.decr("holders")
            assert lock.release()
        r.close()

    run_threads(n, worker)
    r = both.client()
    assert r.get("counter") == str(n * rounds).encode()
    assert max(max_holders) == 1 and len(max_holders) == n * rounds
    assert r.exists("lock:counter") == 0


def test_scriptless_lock_owner_only(both):
    r, other = both.client(), both.client()
    lock = ScriptlessLock(r, "lock:x", px=5000)
    lock.acquire()
    assert 0 < r.pttl("lock:x") <= 5000
    assert lock.extend(60000) and r.pttl("lock:x") > 5000
    intruder = ScriptlessLock(other, "lock:x", px=5000)
    intruder.token = b"not-the-token"
    assert not intruder.release() and not intruder.extend(1)
    assert r.get("lock:x") == lock.token

    # The lock changes hands between the owner's GET and EXEC (it expired and another client took
    # it): EXEC aborts on the watched key, the retry sees a foreign token and releases nothing.
    with r.pipeline() as p:
        p.watch("lock:x")
        assert p.get("lock:x") == lock.token
        other.set("lock:x", "thief", px=5000)
        p.multi()
        p.delete("lock:x")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert not lock.release()
    assert r.get("lock:x") == b"thief"


def test_redis_py_lock(both):
    """redis-py's own Lock: acquire is SET NX PX; extend, reacquire and release are its Lua
    scripts (EVALSHA, loaded on first use), the same on both servers."""
    r = both.client()
    lock = r.lock("lock:py", timeout=30)
    assert lock.acquire(blocking=False)
    assert not r.lock("lock:py", timeout=30).acquire(blocking=False)
    assert lock.extend(10)
    assert 30000 < r.pttl("lock:py") <= 40000
    assert lock.reacquire()
    assert lock.owned()
    lock.release()
    assert r.exists("lock:py") == 0
    # a lock that expired and was taken by someone else is not released by its old owner
    old = r.lock("lock:py", timeout=30)
    assert old.acquire(blocking=False)
    r.set("lock:py", "other-owner")
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        old.release()
    assert r.get("lock:py") == b"other-owner"
