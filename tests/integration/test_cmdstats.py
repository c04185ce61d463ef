"""Per-command statistics against the real memkv-server and Debian's redis-server 7.0.15 in the
same test: every scenario runs on both and what moved is compared (times are never compared,
only their shape). INFO commandstats (calls, rejected vs failed, subcommands, inside MULTI/EXEC,
blocked commands), INFO errorstats and total_error_replies, INFO latencystats (percentiles
present and ordered, latency-tracking-info-percentiles), LATENCY HISTOGRAM in RESP2 and RESP3,
CONFIG RESETSTAT, the INFO section sets, and the command-flag fixes that came with them
(EXEC not in the SLOWLOG, CLIENT PAUSE WRITE holding PUBLISH and an EXEC that writes).

memkv-only: errorstats-max-prefixes (Redis 7.0 has no bound; 7.2's is 128) and the latency
histograms' memory in the slowlog subsystem."""
import os
import re
import shutil
import socket
import sys
import time

import pytest

from helpers import RedisLikeMemkv, Resp, parse_info, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diff"))
from resp import Conn  # noqa: E402 (typed RESP2/RESP3 client)

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs Debian's redis-server")

CMDSTAT = re.compile(r"^cmdstat_([a-z|_-]+):calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                     r"rejected_calls=(\d+),failed_calls=(\d+)$")
ERRSTAT = re.compile(r"^errorstat_([A-Z_]+):count=(\d+)$")
LATSTAT = re.compile(r"^latency_percentiles_usec_([a-z|_-]+):(.*)$")


@pytest.fixture
def pair(server_factory):
    """(memkv, redis): the same scenario runs on both."""
    r = RedisLikeMemkv()
    yield server_factory(), r
    r.stop()


def section(c, name):
    text = c("INFO", name)
    assert isinstance(text, bytes), text
    return [ln for ln in text.decode().split("\r\n") if ln and not ln.startswith("#")]


def commandstats(c):
    """{name: (calls, rejected, failed)}; every line in Redis's format, usec_per_call right."""
    out = {}
    for ln in section(c, "commandstats"):
        m = CMDSTAT.match(ln)
        assert m, ln
        name, calls, usec, per, rej, fail = m.groups()
        calls, usec = int(calls), int(usec)
        assert float(per) == pytest.approx(usec / calls if calls else 0.0, abs=0.006), ln
        out[name] = (calls, int(rej), int(fail))
    return out


def errorstats(c):
    out = {}
    for ln in section(c, "errorstats"):
        m = ERRSTAT.match(ln)
        assert m, ln
        out[m.group(1)] = int(m.group(2))
    return out


def latencystats(c):
    """{name: [(percentile name, value)]}, values as floats with three decimals."""
    out = {}
    for ln in section(c, "latencystats"):
        m = LATSTAT.match(ln)
        assert m, ln
        vals = []
        for part in filter(None, m.group(2).split(",")):
            k, _, v = part.partition("=")
            assert re.fullmatch(r"p[0-9.]+", k) and re.fullmatch(r"\d+\.\d{3}", v), part
            vals.append((k, float(v)))
        out[m.group(1)] = vals
    return out


def total_errors(c):
    return int(parse_info(c("INFO", "stats"))["total_error_replies"])


def on_both(pair, scenario):
    """Runs scenario(server, conn) on memkv and on redis; returns both results."""
    results = []
    for s in pair:
        c = Resp(s)
        c("CONFIG", "RESETSTAT")
        results.append(scenario(s, c))
        c.close()
    return results


def test_calls_rejected_failed_like_redis(pair):
    def scenario(s, c):
        c("SET", "s", "1")
        c("GET", "s")
        c("GET")                      # arity: rejected
        c("LPUSH", "s", "x")          # WRONGTYPE: failed
        c("NOSUCHCMD", "a")           # unknown: no command counts it
        c("CONFIG", "NOSUCHSUB")      # unknown subcommand: none either
        c("CONFIG", "GET")            # subcommand arity: config|get rejected
        c("CONFIG")                   # container arity: config rejected
        c("CLIENT", "LIST")           # subcommand counted as client|list
        c("CLIENT", "ID")
        c("OBJECT", "ENCODING", "s")
        c("INCR", "s")
        c("INCRBY", "s", "notanumber")  # failed
        c("COMMAND", "COUNT")
        # requirepass: a new connection's commands are refused (NOAUTH), AUTH counts
        c("CONFIG", "SET", "requirepass", "pw")
        other = Resp(s)
        assert other("GET", "s").startswith("NOAUTH")
        assert other("AUTH", "bad").startswith("WRONGPASS")
        assert other("AUTH", "pw") == b"OK"
        other("CONFIG", "SET", "requirepass", "")
        other.close()
        return commandstats(c), errorstats(c), total_errors(c)

    m, r = on_both(pair, scenario)
    assert m == r
    assert m[0]["get"] == (1, 2, 0) and m[0]["lpush"] == (1, 0, 1)  # NOAUTH rejects too
    assert m[0]["config|get"][1] == 1 and m[0]["config"][1] == 1
    assert "client|list" in m[0] and "nosuchcmd" not in m[0]


def test_scripts_count_their_commands_and_their_own_errors(pair):
    # Redis 7.0: a script's commands count as calls; their errors count once (errorstats and
    # the command's failed_calls) even when the script raises them again; EVAL fails only for
    # its own error reply (a raised one, error_reply/{err=}, a Lua error), not for a pcall.
    def scenario(s, c):
        c("DEL", "sk")
        c("EVAL", "redis.pcall('INCR', KEYS[1]); return redis.call('GET', KEYS[1])", "1", "sk")
        c("SET", "sk", "abc")
        c("EVAL", "redis.pcall('INCR', KEYS[1]); return 1", "1", "sk")
        c("EVAL", "return redis.call('INCR', KEYS[1])", "1", "sk")
        c("EVAL", "return redis.pcall('INCR', KEYS[1])", "1", "sk")
        c("EVAL", "local ok, e = pcall(redis.call, 'INCR', KEYS[1]); return e", "1", "sk")
        c("EVAL", "return redis.error_reply('MY bad')", "0")
        c("EVAL", "return {err='OWN x'}", "0")
        c("EVAL", "error('boom')", "0")
        c("EVAL", "return redis.call('NOSUCH')", "0")
        return commandstats(c), errorstats(c), total_errors(c)

    m, r = on_both(pair, scenario)
    assert m == r
    assert m[0]["eval"] == (9, 0, 6) and m[0]["incr"] == (5, 0, 4)
    assert m[1]["MY"] == 1 and m[1]["OWN"] == 1


def test_script_refused_commands_count_once_and_as_rejected(pair):
    # Redis 7.0: a command a script's redis.call/pcall refuses before running it (unknown,
    # wrong arity, not allowed in scripts, a write in a read-only script) counts its error at
    # once and a rejected call of the command; a pcall that swallows it leaves EVAL unfailed,
    # a script that returns it does not count it a second time.
    def scenario(s, c):
        c("EVAL", "local r = redis.pcall('nosuch') return 1", "0")
        c("EVAL", "local r = redis.pcall('GET') return 1", "0")
        c("EVAL", "return redis.pcall('GET')", "0")
        c("EVAL", "local r = redis.pcall('MULTI') return 1", "0")
        c("EVAL_RO", "local r = redis.pcall('INCR', KEYS[1]) return 1", "1", "k")
        c("EVAL", "local r = redis.pcall('CONFIG', 'SET', 'x') return 1", "0")
        c("EVAL", "local r = redis.pcall('CLIENT', 'nosuchsub') return 1", "0")
        c("EVAL", "return redis.call('MULTI')", "0")
        return commandstats(c), errorstats(c), total_errors(c)

    m, r = on_both(pair, scenario)
    assert m == r
    assert m[0]["get"] == (0, 2, 0) and m[0]["multi"] == (0, 2, 0)
    assert m[0]["incr"] == (0, 1, 0) and m[0]["config|set"] == (0, 1, 0)
    assert m[0]["eval"] == (7, 0, 2) and m[2] == 8


def test_keyspace_hits_and_misses_like_redis(pair):
    # The lookups Redis 7.0 counts where a write command reads: SET's GET, the sources of the
    # STORE forms, both keys of LCS, SCAN's TYPE filter (one per key it examines), SPOP of a
    # whole set (answered through SUNION's code).
    def scenario(s, c):
        c("FLUSHALL")
        c("SET", "s", "v")
        c("SADD", "a", "1", "2")
        c("SADD", "b", "2")
        c("ZADD", "z", "1", "m")
        c("HSET", "h", "f", "v")
        before = parse_info(c("INFO", "stats"))
        c("SET", "s", "w", "GET")
        c("SET", "new", "w", "GET")
        c("SINTERSTORE", "d", "a", "b", "nosuch")
        c("SUNIONSTORE", "d", "a", "nosuch")
        c("ZUNIONSTORE", "zd", "2", "z", "nosuch")
        c("LCS", "s", "s")
        c("LCS", "nosuch", "h")
        c("SCAN", "0", "COUNT", "100", "TYPE", "hash")
        c("SPOP", "b", "10")
        after = parse_info(c("INFO", "stats"))
        return tuple(int(after[k]) - int(before[k]) for k in ("keyspace_hits", "keyspace_misses"))

    m, r = on_both(pair, scenario)
    assert m == r
    assert m == (17, 5)  # SCAN: 8 keys looked up; SPOP: 1 hit


def test_expire_in_the_past_is_a_delete_not_an_expiry(pair):
    # Redis 7.0: EXPIRE/PEXPIREAT/GETEX EXAT with a time already past deletes the key ("del")
    # without counting it in expired_keys; a key whose time runs out does count.
    def scenario(s, c):
        c("MSET", "a", "1", "b", "2", "c", "3")
        c("EXPIRE", "a", "-1")
        c("PEXPIREAT", "b", "1")
        c("GETEX", "c", "EXAT", "1")
        c("SET", "d", "4", "PX", "1")
        wait_until(lambda: c("EXISTS", "d") == 0, 5)
        return int(parse_info(c("INFO", "stats"))["expired_keys"]), c("DBSIZE")

    m, r = on_both(pair, scenario)
    assert m == r == (1, 0)


def test_scan_expires_the_expired_keys_it_meets(server_factory):
    # Redis 7.0's SCAN deletes each expired key it meets that matches MATCH: an expiry
    # (expired_keys, the "expired" event); with TYPE it met it by a read lookup first (a miss,
    # "keymiss"). KEYS only skips them. Active expiry is off on both (DEBUG SET-ACTIVE-EXPIRE 0)
    # so that only the commands delete.
    redis = RedisLikeMemkv("--enable-debug-command", "yes")
    try:
        memkv = server_factory(["--enable-debug-command", "yes"])

        def scenario(s, c):
            c("CONFIG", "SET", "notify-keyspace-events", "KEAm")
            assert c("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
            for p in ("a", "b", "k"):
                for i in range(4):
                    c("SET", "%s%d" % (p, i), "x", "PX", "20")
            c("SET", "live", "y")
            c("HSET", "h", "f", "v")
            events = Resp(s)
            events.send("PSUBSCRIBE", "__key*__:*", "end")
            events.read(), events.read()
            time.sleep(0.1)
            keys = sorted(c("KEYS", "*"))
            match = sorted(c("SCAN", "0", "MATCH", "a*", "COUNT", "1000")[1])
            typed = sorted(c("SCAN", "0", "TYPE", "hash", "COUNT", "1000")[1])
            info = parse_info(c("INFO", "stats"))
            counts = (int(info["expired_keys"]), int(info["keyspace_hits"]),
                      int(info["keyspace_misses"]), c("DBSIZE"))
            c("PUBLISH", "end", "x")  # the events' connection stops at this one
            seen = []
            while True:
                msg = events.read()
                if msg[0] == b"pmessage" and msg[2] == b"end":
                    break
                seen.append((msg[2], msg[3]))
            events.close()
            c("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            return keys, match, typed, counts, sorted(seen)

        m, r = on_both((memkv, redis), scenario)
    finally:
        redis.stop()
    assert m == r
    keys, match, typed, counts, seen = m
    assert keys == [b"h", b"live"] and match == [] and typed == [b"h"]
    assert counts == (12, 2, 8, 2)  # a* by the first SCAN, b* and k* by the typed one
    assert (b"__keyevent@0__:expired", b"b3") in seen
    assert (b"__keyevent@0__:keymiss", b"k0") in seen
    assert (b"__keyevent@0__:keymiss", b"a0") not in seen


def test_multi_exec_counts_queued_commands_when_they_run(pair):
    def scenario(s, c):
        c("DEL", "k")
        c("MULTI")
        c("SET", "k", "v")
        c("LPUSH", "k", "x")     # fails inside EXEC: lpush failed, exec not
        c("GET", "k")
        c("CONFIG", "GET", "maxmemory")
        c("EXEC")
        c("MULTI")
        c("MULTI")               # nested: multi failed
        c("GET")                 # arity inside MULTI: get rejected
        c("SHUTDOWN")            # no-multi: shutdown rejected
        c("WATCH", "k")          # WATCH inside MULTI: watch failed
        assert c("EXEC").startswith("EXECABORT")
        c("EXEC")                # EXEC without MULTI: exec failed
        c("EXEC", "x")           # arity: exec rejected (EXECABORT even outside MULTI)
        return commandstats(c), errorstats(c), total_errors(c)

    m, r = on_both(pair, scenario)
    assert m == r
    stats = m[0]
    assert stats["set"][0] == 1 and stats["lpush"] == (1, 0, 1)
    assert stats["config|get"][0] == 1
    assert stats["exec"] == (3, 1, 2)


def test_queued_commands_not_counted_until_exec(pair):
    def scenario(s, c):
        c("MULTI")
        c("SET", "q", "1")
        c("INCR", "q")
        other = Resp(s)
        before = commandstats(other)
        c("EXEC")
        after = commandstats(other)
        other.close()
        return [before.get("set"), before.get("incr"), after["set"], after["incr"]]

    m, r = on_both(pair, scenario)
    assert m == r == [None, None, (1, 0, 0), (1, 0, 0)]


def test_blocked_commands_counted_when_answered(pair):
    def scenario(s, c):
        c("DEL", "bl")
        ids = {}
        # timed out (Redis 7.0 then records no latency sample)
        assert c("BLPOP", "bl", "0.05") is None
        assert c("BZPOPMIN", "bz", "0.05") is None
        # served by a push from another client
        waiter = Resp(s)
        waiter.send("BLPOP", "bl", "0")
        assert wait_until(lambda: b"blpop" in c("CLIENT", "LIST"))
        mid = commandstats(c).get("blpop")
        c("RPUSH", "bl", "x")
        assert waiter.read() == [b"bl", b"x"]
        # unblocked with an error: failed
        ids["w"] = waiter("CLIENT", "ID")
        waiter.send("BRPOP", "bl", "0")
        assert wait_until(lambda: b"brpop" in c("CLIENT", "LIST"))
        assert c("CLIENT", "UNBLOCK", ids["w"], "ERROR") == 1
        assert waiter.read().startswith("UNBLOCKED")
        waiter.close()
        stats = commandstats(c)
        lat = latencystats(c)
        return (mid, stats["blpop"], stats["brpop"], errorstats(c).get("UNBLOCKED"),
                "blpop" in lat, "brpop" in lat, stats["bzpopmin"], "bzpopmin" in lat)

    m, r = on_both(pair, scenario)
    assert m == r
    # Redis 7.0 counts a blocked command's call when it blocks, the rest once answered
    assert m[0] == (2, 0, 0) and m[1] == (2, 0, 0) and m[2] == (1, 0, 1) and m[3] == 1


def test_resetstat_resets_everything(pair):
    def scenario(s, c):
        c("SET", "a", "1")
        c("LPUSH", "a", "1")
        c("CONFIG", "RESETSTAT")
        return (commandstats(c), errorstats(c), sorted(latencystats(c)), total_errors(c),
                c("LATENCY", "HISTOGRAM", "set", "lpush"))

    m, r = on_both(pair, scenario)
    assert m == r
    assert m[0] == {"config|resetstat": (1, 0, 0)} and m[1] == {} and m[4] == []


def _check_histogram_entry(entry, resp3):
    """One command's value: {calls, histogram_usec: {2^k: cumulative}}; returns calls."""
    kind, items = entry
    assert kind == ("map" if resp3 else "array")
    fields = dict(items) if resp3 else dict(zip(items[0::2], items[1::2]))
    calls = fields[("bulk", b"calls")]
    hist = fields[("bulk", b"histogram_usec")]
    assert calls[0] == "int" and hist[0] == ("map" if resp3 else "array")
    pairs = hist[1] if resp3 else list(zip(hist[1][0::2], hist[1][1::2]))
    bounds = [k[1] for k, _ in pairs]
    cums = [v[1] for _, v in pairs]
    assert all(k[0] == "int" and v[0] == "int" for k, v in pairs)
    assert bounds == sorted(set(bounds)) and cums == sorted(cums) and len(set(cums)) == len(cums)
    assert cums[-1] == calls[1]
    return calls[1]


@pytest.mark.parametrize("resp3", [False, True])
def test_latency_histogram_shape(pair, resp3):
    got = []
    for s in pair:
        c = Conn((s.host, s.port), timeout=30)
        if resp3:
            c.call([b"HELLO", b"3"])
        c.call([b"CONFIG", b"RESETSTAT"])
        for i in range(5):
            c.call([b"SET", b"h%d" % i, b"v"])
        c.call([b"GET", b"h1"])
        c.call([b"CLIENT", b"ID"])
        shapes = {}
        for args in ([b"set", b"get"], [b"client"], [b"client|id", b"nosuch", b"set"],
                     [b"lpush"], []):
            rep = c.call([b"LATENCY", b"HISTOGRAM"] + args)
            assert rep[0] == ("map" if resp3 else "array")
            pairs = rep[1] if resp3 else list(zip(rep[1][0::2], rep[1][1::2]))
            names = []
            for k, v in pairs:
                assert k[0] == "bulk"
                names.append((k[1], _check_histogram_entry(v, resp3)))
            shapes[tuple(args)] = names if args else sorted(names)
        got.append(shapes)
        c.close()
    assert got[0] == got[1]
    assert got[0][(b"set", b"get")] == [(b"set", 5), (b"get", 1)]
    assert got[0][(b"client",)] == [(b"client|id", 1)]
    assert got[0][(b"lpush",)] == []


def test_latencystats_percentiles(pair):
    def scenario(s, c):
        for i in range(50):
            c("SET", "p%d" % i, "v")
        lat = latencystats(c)
        for name, vals in lat.items():
            assert [k for k, _ in vals] == ["p50", "p99", "p99.9"], name
            assert vals[0][1] <= vals[1][1] <= vals[2][1], (name, vals)
        conf = []
        for value in ("50.0 0 100 99.99", "", "1e1 0x10 50 50", "abc", "101", "-1", "50 99 99.9"):
            conf.append((c("CONFIG", "SET", "latency-tracking-info-percentiles", value),
                         c("CONFIG", "GET", "latency-tracking-info-percentiles")))
            if value == "50.0 0 100 99.99":
                names = [k for k, _ in latencystats(c)["set"]]
                conf.append(names)
            if value == "":
                conf.append(latencystats(c)["set"])
        conf.append(c("CONFIG", "GET", "latency-tracking"))
        conf.append(c("CONFIG", "SET", "latency-tracking", "maybe"))
        # off: no new histogram
        c("CONFIG", "SET", "latency-tracking", "no")
        c("INCR", "counter")
        off = "incr" in latencystats(c)
        c("CONFIG", "SET", "latency-tracking", "yes")
        return sorted(lat), conf, off

    m, r = on_both(pair, scenario)
    assert m == r
    assert "set" in m[0] and m[2] is False


def test_info_sections(pair):
    got = []
    for s in pair:
        c = Resp(s)
        heads = {}
        for args in ((), ("default",), ("all",), ("everything",), ("commandstats",),
                     ("errorstats", "latencystats")):
            text = c("INFO", *args).decode()
            heads[args] = [ln for ln in text.split("\r\n") if ln.startswith("# ")]
        got.append(heads)
        c.close()
    # memkv has one section more (Keysizes, Redis 8's), after Redis's in "all"/"everything".
    for k in got[0]:
        assert [h for h in got[0][k] if h != "# Keysizes"] == got[1][k], k
    assert "# Errorstats" in got[1][()] and "# Commandstats" not in got[1][()]


def test_exec_not_in_slowlog_its_commands_are(pair):
    def scenario(s, c):
        c("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c("SLOWLOG", "RESET")
        c("MULTI")
        c("SET", "sl", "1")
        c("GET", "sl")
        c("EXEC")
        entries = c("SLOWLOG", "GET", "-1")
        c("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        return [e[3][0].lower() for e in entries]

    m, r = on_both(pair, scenario)
    assert m == r
    assert b"exec" not in m and b"set" in m and b"get" in m


def _held(conn, timeout=1.0):
    """True if the command sent on conn gets no reply within timeout (held by a pause)."""
    conn.sock.settimeout(timeout)
    try:
        data = conn.sock.recv(1 << 16)
        conn.reader.feed(data)
        return False
    except socket.timeout:
        return True
    finally:
        conn.sock.settimeout(30)


def test_pause_write_holds_publish_and_writing_exec(pair):
    def scenario(s, c):
        out = []
        for cmds in ([("PUBLISH", "ch", "m")], [("SPUBLISH", "ch", "m")],
                     [("MULTI",), ("SET", "pw", "1"), ("EXEC",)],
                     [("MULTI",), ("GET", "pw"), ("EXEC",)]):
            w = Resp(s)
            for cmd in cmds[:-1]:
                w(*cmd)
            assert c("CLIENT", "PAUSE", "20000", "WRITE") == b"OK"
            w.send(*cmds[-1])
            held = _held(w)
            c("CLIENT", "UNPAUSE")
            reply = w.read()
            out.append((cmds[-1][0], held, reply))
            w.close()
        return out

    m, r = on_both(pair, scenario)
    assert m == r
    assert [h for _, h, _ in m] == [True, True, True, False]


def test_errorstats_bounded(server):
    c = Resp(server)
    assert c("CONFIG", "GET", "errorstats-max-prefixes") == [b"errorstats-max-prefixes", b"128"]
    c("CONFIG", "SET", "errorstats-max-prefixes", "3")
    c("CONFIG", "RESETSTAT")
    c("SET", "s", "1")
    c("GET")                            # ERR
    c("LPUSH", "s", "x")                # WRONGTYPE
    c("HELLO", "4")                     # NOPROTO
    assert errorstats(c) == {"ERR": 1, "WRONGTYPE": 1, "NOPROTO": 1}
    c("LPUSH", "s", "x")
    c("MULTI")
    c("GET")
    c("EXEC")                           # EXECABORT: a fourth prefix
    assert errorstats(c) == {"ERRORSTATS_DISABLED": 1}
    c("GET")
    c("LPUSH", "s", "x")
    assert errorstats(c) == {"ERRORSTATS_DISABLED": 1}
    assert total_errors(c) == 8
    c("CONFIG", "RESETSTAT")
    c("GET")
    assert errorstats(c) == {"ERR": 1}
    c("CONFIG", "SET", "errorstats-max-prefixes", "128")
    assert wait_until(lambda: "Errorstats stopped adding new errors" in server.read_stdout()
                      + server.read_stderr(), timeout=5)


def test_histograms_in_the_slowlog_subsystem(server):
    c = Resp(server)
    c("CONFIG", "SET", "slowlog-log-slower-than", "-1")
    c("CONFIG", "SET", "latency-tracking", "no")
    c("CONFIG", "RESETSTAT")
    sub = lambda: int(parse_info(c("INFO", "memory"))["memkv_subsystem_slowlog"])  # noqa: E731
    assert sub() == 0
    c("CONFIG", "SET", "latency-tracking", "yes")
    for i in range(20):
        c("SET", "m%d" % i, "v")
    assert sub() > 0
    c("CONFIG", "SET", "latency-tracking", "no")
    c("CONFIG", "RESETSTAT")
    assert sub() == 0
    c("CONFIG", "SET", "latency-tracking", "yes")
