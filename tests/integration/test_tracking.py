"""Client-side caching (CLIENT TRACKING, CLIENT CACHING) against the real memkv-server and, in
the same test, Debian's redis-server 7.0: each scenario runs on both and what the clients saw
(replies and invalidation messages, client ids replaced by names) must be equal, then the
test states what that is.

Push frames are read with tests/diff/resp.py's typed RESP3 reader. No test waits for a push
by time: a client's invalidations are in its stream before the reply to a PING it sends after
the write that caused them (Redis and memkv queue them at once, or, for the client being
served and for BCAST, before the next replies go out), so `sync` reads up to that PONG."""
import os
import sys

import pytest

from exporter_harness import RedisServer
from helpers import parse_info, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diff"))
from resp import Conn, encode  # noqa: E402


@pytest.fixture(scope="module")
def redis_server():
    s = RedisServer()
    yield s
    s.stop()


def address(target):
    return (getattr(target, "host", "127.0.0.1"), target.port)


class Client:
    """A typed RESP2/RESP3 connection that keeps push frames apart from replies."""

    def __init__(self, target, resp3=True):
        self.conn = Conn(address(target), timeout=30)
        self.pushes = []
        if resp3:
            assert self.call("HELLO", "3")[0] == "map"
        self.id = self.call("CLIENT", "ID")[1]

    def call(self, *args):
        self.conn.send(encode([a if isinstance(a, bytes) else str(a).encode() for a in args]))
        return self.reply()

    def reply(self):
        while True:
            r = self.conn.read()
            if r[0] != "push":
                return r
            self.pushes.append(r)

    def sync(self):
        """The pushes that arrived up to now (see the module's docstring), and forgets them."""
        assert self.call("PING") == ("status", b"PONG")
        out, self.pushes = self.pushes, []
        return out

    def close(self):
        self.conn.close()


def inv(*keys):
    """An invalidation push: the keys, or None for the null (FLUSHDB, FLUSHALL)."""
    payload = ("null",) if keys == (None,) else ("array", [("bulk", k.encode()) for k in keys])
    return ("push", [("bulk", b"invalidate"), payload])


def both(memkv, redis, scenario):
    """Runs scenario(target, names) on memkv and redis-server; `names` maps the client ids it
    registers to names, so the logs compare. Returns memkv's log."""
    logs = []
    for target in (memkv, redis):
        names = {}
        log = scenario(target, names)
        logs.append(normalize(log, names))
    assert logs[0] == logs[1], "memkv:\n%s\nredis:\n%s" % (logs[0], logs[1])
    return logs[0]


def normalize(x, names):
    if isinstance(x, tuple) and x[:1] == ("int",) and x[1] in names:
        return ("client", names[x[1]])
    if isinstance(x, (list, tuple)):
        return type(x)(normalize(v, names) for v in x)
    return x


def client_field(c, field):
    """A field of CLIENT INFO for c."""
    r = c.call("CLIENT", "INFO")
    text = r[-1] if r[0] == "verbatim" else r[1]
    return dict(kv.split(b"=", 1) for kv in text.split())[field.encode()]


def info(c, section):
    r = c.call("INFO", section)
    return parse_info(r[-1] if r[0] == "verbatim" else r[1])


def test_default_mode_invalidation_by_another_client(server, redis_server):
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON"), a.call("GET", "k1"), a.call("MGET", "k2", "k3")]
        log.append(b.call("SET", "k1", "v"))
        log.append(a.sync())
        log.append(b.call("SET", "k1", "w"))  # forgotten once invalidated: no second push
        log.append(a.sync())
        log.append(b.call("MSET", "k2", "1", "k3", "1", "other", "1"))
        log.append(a.sync())
        # RENAME changes both names; a write in another db invalidates too (keys are global).
        log += [a.call("GET", "k2"), a.call("GET", "k4"), b.call("RENAME", "k2", "k4")]
        log.append(a.sync())
        log += [a.call("GET", "k1"), b.call("SELECT", "1"), b.call("SET", "k1", "db1")]
        log.append(a.sync())
        # A read-only command of any kind (EXISTS, TYPE, OBJECT ENCODING, even a WRONGTYPE
        # read) tracks its keys; a refused one (wrong arity) does not.
        log += [b.call("SELECT", "0"), b.call("LPUSH", "wl", "x"), a.call("GET", "wl"),
                a.call("EXISTS", "e1"), a.call("TYPE", "e2"), a.call("OBJECT", "ENCODING", "e3"),
                a.call("GET")]
        log.append(b.call("DEL", "wl"))
        log.append(b.call("MSET", "e1", "1", "e2", "1", "e3", "1"))
        log.append(a.sync())
        # The client's own write: OK first, then its invalidation.
        log += [a.call("GET", "own"), a.call("SET", "own", "1"), a.sync()]
        log.append(client_field(a, "flags"))
        log.append(info(b, "clients")["tracking_clients"])
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[4] == [inv("k1")] and log[6] == []
    assert log[8] == [inv("k2"), inv("k3")]
    assert log[12] == [inv("k2"), inv("k4")]
    assert log[16] == [inv("k1")]
    assert log[-6] == [inv("wl"), inv("e1"), inv("e2"), inv("e3")]
    assert log[-4:-2] == [("status", b"OK"), [inv("own")]]
    assert log[-2] == b"t" and log[-1] == "1"


def test_invalidation_on_expiry_and_eviction(server, redis_server):
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON")]
        log.append(b.call("SET", "ttl", "v", "PX", "500"))
        log.append(a.call("GET", "ttl"))
        # Expired (by active expiry or by this lookup, whichever comes first): invalidated.
        assert wait_until(lambda: b.call("EXISTS", "ttl") == ("int", 0))
        log.append(a.sync())
        # Evicted: allkeys-random with a 1-byte maxmemory evicts every key before a command.
        log.append(b.call("SET", "big", "x" * 100000))
        log.append(a.call("STRLEN", "big"))
        log.append(b.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random"))
        b.call("CONFIG", "SET", "maxmemory", "1")
        b.call("PING")
        log.append(b.call("CONFIG", "SET", "maxmemory", "0"))
        log.append(b.call("DBSIZE"))
        log.append(a.sync())
        b.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[3] == [inv("ttl")]
    assert log[-2] == ("int", 0) and log[-1] == [inv("big")]


def test_noloop(server, redis_server):
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON", "NOLOOP"), a.call("GET", "n")]
        log += [a.call("SET", "n", "mine"), a.sync()]  # its own write: nothing
        log += [a.call("GET", "n"), b.call("SET", "n", "theirs"), a.sync()]
        log.append(a.call("CLIENT", "TRACKINGINFO"))
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[3] == [] and log[6] == [inv("n")]
    flags = dict((k[1], v) for k, v in log[7][1])[b"flags"]
    assert flags == ("set", [("bulk", b"on"), ("bulk", b"noloop")])


def test_bcast_prefixes(server, redis_server):
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
                      "NOLOOP")]
        # One message per prefix for everything changed in an event-loop iteration, keys
        # sorted and each once; keys under no prefix are not sent.
        b.conn.send(b"".join(encode(x) for x in (
            [b"MULTI"], [b"SET", b"user:2", b"a"], [b"SET", b"user:1", b"a"],
            [b"SET", b"obj:1", b"a"], [b"SET", b"user:2", b"b"], [b"SET", b"zz", b"a"],
            [b"EXEC"])))
        log.append([b.reply() for _ in range(7)])
        log.append(a.sync())
        # NOLOOP: its own writes are left out (a message with none left is not sent).
        log += [a.call("SET", "user:3", "x"), a.sync()]
        log.append(client_field(a, "flags"))
        log.append(a.call("CLIENT", "TRACKINGINFO"))
        log.append(info(b, "stats")["tracking_total_prefixes"])
        # BCAST without PREFIX: every key.
        c = Client(t)
        log += [c.call("CLIENT", "TRACKING", "ON", "BCAST"), b.call("SET", "anything", "1"),
                c.sync()]
        log.append(info(b, "stats")["tracking_total_prefixes"])
        for x in (a, b, c):
            x.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[2] == [inv("obj:1"), inv("user:1", "user:2")]
    assert log[4] == [] and log[5] == b"tB"
    info_map = dict((k[1], v) for k, v in log[6][1])
    assert info_map[b"prefixes"] == ("array", [("bulk", b"obj:"), ("bulk", b"user:")])
    assert log[7] == "2" and log[10] == [inv("anything")] and log[11] == "3"


def test_optin_and_optout(server, redis_server):
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON", "OPTIN"), a.call("GET", "o1"),
               a.call("CLIENT", "CACHING", "YES"), a.call("CLIENT", "TRACKINGINFO"),
               a.call("GET", "o2"), a.call("GET", "o3")]
        log += [b.call("MSET", "o1", "1", "o2", "1", "o3", "1"), a.sync()]
        # CACHING YES covers a whole transaction.
        log += [a.call("CLIENT", "CACHING", "YES"), a.call("MULTI"), a.call("GET", "m1"),
                a.call("GET", "m2"), a.call("EXEC"), a.call("GET", "m3")]
        log += [b.call("MSET", "m1", "1", "m2", "1", "m3", "1"), a.sync()]
        log.append(a.call("CLIENT", "TRACKING", "OFF"))
        log += [a.call("CLIENT", "TRACKING", "ON", "OPTOUT"), a.call("GET", "p1"),
                a.call("CLIENT", "CACHING", "NO"), a.call("GET", "p2"), a.call("GET", "p3")]
        log += [b.call("MSET", "p1", "1", "p2", "1", "p3", "1"), a.sync()]
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[7] == [inv("o2")]
    assert log[15] == [inv("m1"), inv("m2")]
    assert log[-1] == [inv("p1"), inv("p3")]


def test_resp2_redirect_and_broken_redirect(server, redis_server):
    def scenario(t, names):
        a, b = Client(t, resp3=False), Client(t)
        target = Client(t, resp3=False)
        names[target.id] = "target"
        log = [target.call("SUBSCRIBE", "__redis__:invalidate")]
        log += [a.call("CLIENT", "TRACKING", "ON", "REDIRECT", target.id), a.call("GET", "r1"),
                a.call("CLIENT", "GETREDIR"), b.call("SET", "r1", "1")]
        # RESP2: the subscribed target gets pub/sub messages; PING answers [pong, ""] there.
        target.conn.send(encode([b"PING"]))
        log.append([target.conn.read(), target.conn.read()])
        log.append(b.call("FLUSHALL"))
        target.conn.send(encode([b"PING"]))
        log.append([target.conn.read(), target.conn.read()])
        target.close()
        assert wait_until(lambda: b"id=%d " % target.id not in b.call("CLIENT", "LIST")[-1])
        # The target is gone: the next invalidation marks the redirect broken (flag R).
        log += [a.call("GET", "r2"), b.call("SET", "r2", "1"), a.sync()]
        log += [client_field(a, "flags"), ("int", int(client_field(a, "redir"))),
                a.call("CLIENT", "GETREDIR"),
                a.call("CLIENT", "TRACKINGINFO")]
        # In RESP3 the client itself is told.
        log += [a.call("HELLO", "3")[0], a.call("GET", "r3"), b.call("SET", "r3", "1"), a.sync()]
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    message = lambda payload: ("array", [("bulk", b"message"), ("bulk", b"__redis__:invalidate"),
                                         payload])
    assert log[5] == [message(("array", [("bulk", b"r1")])),
                      ("array", [("bulk", b"pong"), ("bulk", b"")])]
    assert log[7][0] == message(("nil",))
    assert log[10] == []
    assert log[11] == b"tR" and log[12] == log[13] == ("client", "target")
    assert log[-1] == [("push", [("bulk", b"tracking-redir-broken"), ("client", "target")])]


def test_resp3_redirect_to_another_client(server, redis_server):
    def scenario(t, names):
        a, b, target = Client(t), Client(t), Client(t)
        names[target.id] = "target"
        log = [a.call("CLIENT", "TRACKING", "ON", "REDIRECT", target.id), a.call("GET", "x"),
               b.call("SET", "x", "1"), a.sync(), target.sync()]
        # The target itself writing: its push comes after its own reply.
        log += [a.call("GET", "x"), target.call("SET", "x", "2"), target.sync()]
        for c in (a, b, target):
            c.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[3] == [] and log[4] == [inv("x")] and log[-1] == [inv("x")]


def test_flush_sends_the_null_invalidation(server, redis_server):
    def scenario(t, names):
        a, b, c = Client(t), Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON"), c.call("CLIENT", "TRACKING", "ON", "BCAST"),
               a.call("GET", "f")]
        log += [b.call("FLUSHALL"), a.sync(), c.sync()]
        log += [a.call("FLUSHDB"), a.sync(), c.sync()]  # its own: after the OK
        log.append(info(b, "stats")["tracking_total_keys"])
        for x in (a, b, c):
            x.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[4] == [inv(None)] and log[5] == [inv(None)]
    assert log[6] == ("status", b"OK") and log[7] == [inv(None)] and log[8] == [inv(None)]
    assert log[9] == "0"


def test_table_cap_invalidates_random_keys(server, redis_server):
    for target in (server, redis_server):
        a, b = Client(target), Client(target)
        assert b.call("CONFIG", "SET", "tracking-table-max-keys", "3") == ("status", b"OK")
        assert b.call("CONFIG", "GET", "tracking-table-max-keys") == (
            "map", [(("bulk", b"tracking-table-max-keys"), ("bulk", b"3"))])
        a.call("CLIENT", "TRACKING", "ON")
        read = ["cap%d" % i for i in range(8)]
        for k in read:
            a.call("GET", k)
        b.call("PING")  # Redis enforces the cap before each command
        pushes = a.sync()
        keys = [p[1][1][1][0][1].decode() for p in pushes]
        assert len(keys) == 5 and len(set(keys)) == 5 and set(keys) <= set(read), (target, keys)
        stats = info(b, "stats")
        assert stats["tracking_total_keys"] == "3" and stats["tracking_total_items"] == "3"
        # The keys still tracked are exactly the others: their writes invalidate.
        b.call("MSET", *[x for k in read for x in (k, "1")])
        rest = [p[1][1][1][0][1].decode() for p in a.sync()]
        assert sorted(rest) == sorted(set(read) - set(keys)), (target, rest)
        b.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        a.close()
        b.close()


def test_reset_and_off_turn_tracking_off(server, redis_server):
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p"), a.call("RESET"),
               a.call("CLIENT", "TRACKINGINFO"), a.call("CLIENT", "GETREDIR"),
               client_field(a, "flags"), info(b, "clients")["tracking_clients"],
               info(b, "stats")["tracking_total_prefixes"]]
        log += [a.call("HELLO", "3")[0], b.call("SET", "p1", "1"), a.sync()]
        log += [a.call("CLIENT", "TRACKING", "ON"), a.call("GET", "q"),
                a.call("CLIENT", "TRACKING", "OFF"), b.call("SET", "q", "1"), a.sync()]
        # A client that goes away stops counting at once.
        c = Client(t)
        c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "zz")
        log.append(info(b, "clients")["tracking_clients"])
        c.close()
        assert wait_until(lambda: info(b, "clients")["tracking_clients"] == "0")
        log.append(info(b, "stats")["tracking_total_prefixes"])
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[1] == ("status", b"RESET")
    assert log[2] == ("array", [("bulk", b"flags"), ("array", [("bulk", b"off")]),
                                ("bulk", b"redirect"), ("int", -1), ("bulk", b"prefixes"),
                                ("array", [])])
    assert log[3] == ("int", -1) and log[4] == b"N" and log[5] == "0" and log[6] == "0"
    assert log[9] == [] and log[14] == [] and log[15] == "1" and log[16] == "0"


ERROR_CASES = [
    ["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
    ["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
    ["CLIENT", "TRACKING", "ON", "BCAST", "OPTOUT"],
    ["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
    ["CLIENT", "TRACKING", "ON", "REDIRECT", "0"],
    ["CLIENT", "TRACKING", "ON", "REDIRECT", "-1"],
    ["CLIENT", "TRACKING", "ON", "REDIRECT", "abc"],
    ["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
    ["CLIENT", "TRACKING", "OFF", "REDIRECT", "999999"],
    ["CLIENT", "TRACKING", "ON", "REDIRECT"],
    ["CLIENT", "TRACKING", "ON", "PREFIX"],
    ["CLIENT", "TRACKING", "ON", "BOGUS"],
    ["CLIENT", "TRACKING", "MAYBE"],
    ["CLIENT", "TRACKING"],
    ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
    ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "a"],
    ["CLIENT", "CACHING", "YES"],
    ["CLIENT", "CACHING", "NO"],
    ["CLIENT", "CACHING", "MAYBE"],
    ["CLIENT", "CACHING"],
    ["CLIENT", "CACHING", "YES", "x"],
]


def test_error_texts(server, redis_server):
    def scenario(t, names):
        a = Client(t)
        log = [a.call(*argv) for argv in ERROR_CASES]
        # Errors that depend on the mode in force.
        log += [a.call("CLIENT", "TRACKING", "ON", "OPTIN"), a.call("CLIENT", "CACHING", "NO"),
                a.call("CLIENT", "CACHING", "MAYBE"),
                a.call("CLIENT", "TRACKING", "ON", "OPTOUT"),
                a.call("CLIENT", "TRACKING", "ON", "BCAST"), a.call("CLIENT", "TRACKING", "OFF")]
        log += [a.call("CLIENT", "TRACKING", "ON", "OPTOUT"), a.call("CLIENT", "CACHING", "YES"),
                a.call("CLIENT", "TRACKING", "OFF")]
        log += [a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:"),
                a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "use"),
                a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:1"),
                a.call("CLIENT", "TRACKING", "ON"),
                a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "other"),
                a.call("CLIENT", "TRACKINGINFO")]
        a.close()
        return log

    log = both(server, redis_server, scenario)
    for argv, reply in zip(ERROR_CASES, log):
        assert reply[0] == "error", (argv, reply)
    assert log[0] == ("error", b"ERR PREFIX option requires BCAST mode to be enabled")
    assert log[4] == ("error", b"ERR The client ID you want redirect to does not exist")
    assert log[-3] == ("error", b"ERR You can't switch BCAST mode on/off before disabling "
                       b"tracking for this client, and then re-enabling it with a different mode.")


def test_prefix_overlap_among_later_prefixes(server, redis_server):
    """Redis 7.0 answers this with its error AND turns tracking on with an OK (two replies to
    one command, a bug of its prefix check); memkv answers the error alone (README)."""
    argv = [b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"x", b"PREFIX", b"ab",
            b"PREFIX", b"a"]
    err = ("error", b"ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a "
                    b"single client must not overlap.")
    r = Client(redis_server)
    assert r.call(*argv) == err and r.reply() == ("status", b"OK")
    m = Client(server)
    assert m.call(*argv) == err
    assert m.call("CLIENT", "GETREDIR") == ("int", -1)
    r.close()
    m.close()


def test_tracking_memory_is_accounted(server):
    a, b = Client(server), Client(server)
    before = int(info(b, "memory")["memkv_subsystem_tracking"])
    a.call("CLIENT", "TRACKING", "ON")
    for i in range(2000):
        a.conn.send(encode([b"GET", b"mem:%d" % i]))
    for i in range(2000):
        a.reply()
    mem = info(b, "memory")
    assert int(mem["memkv_subsystem_tracking"]) > before + 2000 * 16
    stats = b.call("MEMORY", "STATS")
    fields = dict((k[1], v) for k, v in stats[1])
    assert fields[b"subsystem.tracking"] == ("int", int(info(b, "memory")["memkv_subsystem_tracking"]))
    assert info(b, "stats")["tracking_total_items"] == "2000"
    # The client's own part (BCAST prefixes) is in its tot-mem; the table is not.
    c = Client(server)
    tot0 = int(client_field(c, "tot-mem"))
    c.call("CLIENT", "TRACKING", "ON", "BCAST", *[x for i in range(50) for x in ("PREFIX", "pre%02d:" % i)])
    assert int(client_field(c, "tot-mem")) > tot0
    b.call("FLUSHALL")
    assert info(b, "stats")["tracking_total_keys"] == "0"
    for x in (a, b, c):
        x.close()
    assert wait_until(lambda: int(info(Client(server, resp3=False), "memory")["memkv_subsystem_tracking"]) < before + 4096)


def test_pipelined_pushes_interleave_with_replies(server, redis_server):
    """A pipeline of reads and writes on a tracking connection: each invalidation comes right
    after the reply of the command that caused it, never inside a reply."""
    def scenario(t, names):
        a = Client(t)
        a.call("CLIENT", "TRACKING", "ON")
        cmds = []
        for i in range(50):
            k = b"pl%d" % (i % 7)
            cmds += [[b"GET", k], [b"MGET", k, b"pl-other"], [b"SET", k, b"v%d" % i]]
        cmds += [[b"MULTI"], [b"GET", b"px"], [b"SET", b"px", b"1"], [b"GET", b"px"], [b"EXEC"]]
        a.conn.send(b"".join(encode(c) for c in cmds))
        stream = []
        while len([r for r in stream if r[0] != "push"]) < len(cmds):
            stream.append(a.conn.read())
        stream += a.sync()
        a.close()
        return stream

    stream = both(server, redis_server, scenario)
    assert stream[-1] == inv("px")


def test_a_tracking_read_costs_nothing_when_nobody_tracks(server):
    """Tracking off: the db's change hook is not set and no key is remembered."""
    b = Client(server, resp3=False)
    b.call("SET", "x", "1")
    b.call("GET", "x")
    stats = info(b, "stats")
    assert stats["tracking_total_keys"] == "0" and info(b, "clients")["tracking_clients"] == "0"
    b.close()


def test_caching_yes_covers_a_command_held_by_a_pause(server, redis_server):
    """CLIENT CACHING's one-command scope ends with the command, also when CLIENT PAUSE held it
    for a while (the pause runs out by itself: every command waits under ALL)."""
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON", "OPTIN"), a.call("CLIENT", "CACHING", "YES"),
               b.call("CLIENT", "PAUSE", "300", "ALL")]
        log += [a.call("GET", "held"), a.call("GET", "after")]
        log += [b.call("MSET", "held", "1", "after", "1"), a.sync()]
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[-1] == [inv("held")]


def test_keys_a_script_reads_are_tracked_for_its_caller(server, redis_server):
    # Redis 7.0's call(): a read inside a script remembers the keys of the caller's command
    # (its KEYS), not the key the read named; EVAL_RO, read-only itself, remembers its KEYS; a
    # script that only writes remembers nothing.
    def scenario(t, names):
        a, b = Client(t), Client(t)
        log = [a.call("CLIENT", "TRACKING", "ON"),
               a.call("EVAL", "return redis.call('GET', KEYS[1])", "1", "s1"),
               a.call("EVAL_RO", "return redis.call('EXISTS', 's2')", "2", "s3", "s4"),
               a.call("EVAL", "redis.call('SET', KEYS[1], 'x') return 1", "1", "s5")]
        log.append(b.call("MSET", "s1", "1", "s2", "1", "s3", "1", "s4", "1", "s5", "1"))
        log.append(a.sync())
        a.close()
        b.close()
        return log

    log = both(server, redis_server, scenario)
    assert log[-1] == [inv("s1"), inv("s3"), inv("s4")]
