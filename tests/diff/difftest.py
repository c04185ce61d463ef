#!/usr/bin/python3
"""Differential test: the same random command sequences go to memkv and to Debian's
redis-server 7.0; replies must be equal (after the normalizations listed in README.md).

Usage (see README.md):
  difftest.py --server build/src/memkv-server --seeds 5 --duration 3     bounded run
  difftest.py --seed 42 --duration 600                                 one long seed
  difftest.py --replay [case ...]                                      saved cases
A mismatch or a memkv crash is shrunk (delta debugging) and saved under cases/.
"""
import argparse
import glob
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generator  # noqa: E402
from resp import CLOSED, TIMEOUT, Conn, encode  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:",
                     b"SUMMARY: UndefinedBehaviorSanitizer")
BATCH = 100

# ---------------------------------------------------------------------------------------
# Servers


class Server:
    name = "?"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="memkv-diff-%s-" % self.name)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.proc = None
        self.conn = None
        self.initial_config = {}

    def _spawn(self, cmd):
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=open(self.stdout_path, "ab"),
                                     stderr=open(self.stderr_path, "ab"),
                                     start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read()

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read()

    def sanitizer_report(self):
        err = self.stderr()
        return err if any(m in err for m in SANITIZER_MARKERS) else None

    def connect(self):
        if self.conn:
            self.conn.close()
        for _ in range(200):
            try:
                self.conn = Conn(self.address(), timeout=20)
                self.conn.skip_tracking_pushes = True  # see README: client-side caching
                # With maxclients lowered, the slot of the connection just closed may not be
                # free yet.
                reply = self.conn.call([b"PING"])
                if reply == ("status", b"PONG"):
                    return
                self.conn.close()
            except OSError:
                pass
            if not self.alive():
                raise RuntimeError("%s is not running" % self.name)
            time.sleep(0.02)
        raise RuntimeError("cannot connect to %s" % self.name)

    EVENTS_PATTERN = b"__key*__:*"

    def subscribe(self):
        """(Re)opens the listener of keyspace notifications (Pair.events)."""
        if getattr(self, "sub", None):
            self.sub.close()
        self.sub = Conn(self.address(), timeout=20)
        self.sub.call([b"PSUBSCRIBE", self.EVENTS_PATTERN])

    def events(self):
        """The messages the listener got since the last call, up to the reply to a PING sent
        now on its own connection (everything published before it came first); None if the
        listener's connection is gone (CLIENT KILL, an output buffer limit)."""
        out = []
        self.sub.send(encode([b"PING"]))
        while True:
            r = self.sub.read()
            if r in (CLOSED, TIMEOUT) or r[0] != "array":
                return None
            if r[1] and r[1][0] == ("bulk", b"pong"):
                return out
            out.append(r)

    def open_blocker(self):
        """(Re)opens the connection that runs the sequence's @B commands (Pair.run_blocker);
        its client id is where CLIENT UNBLOCK finds it."""
        if getattr(self, "blk", None):
            self.blk.close()
        self.blk = Conn(self.address(), timeout=20)
        r = self.blk.call([b"CLIENT", b"ID"])
        self.blk_id = r[1] if r[0] == "int" else None

    def wait_blocker(self, deadline_s=10):
        """Returns once the command just sent on the blocker ran: it answered, or the server
        counts a blocked client (INFO, which the counters leave aside)."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.blk.pending():
                return
            clients = info_section(self.conn, b"clients")
            if clients and clients.get(b"blocked_clients") != b"0":
                return
            time.sleep(0.001)

    def stop(self):
        if getattr(self, "blk", None):
            self.blk.close()
            self.blk = None
        if getattr(self, "sub", None):
            self.sub.close()
            self.sub = None
        if self.conn:
            self.conn.close()
            self.conn = None
        code = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            code = self.proc.returncode
        return code

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Memkv(Server):
    name = "memkv"

    def __init__(self, binary):
        super().__init__()
        self.binary = os.path.abspath(binary)
        self.start()

    def start(self):
        ready = os.path.join(self.dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        # DEBUG on: after every batch the runner asks memkv to check its key-space statistics
        # against a scan (DEBUG KEYSPACE-STATS-CHECK), so every command here tests them too.
        self._spawn([self.binary, "--port", "0", "--metrics-port", "0", "--ready-file", ready,
                     "--enable-debug-command", "yes"])
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("memkv-server did not start:\n" + self.stderr().decode())
            time.sleep(0.01)
        fields = dict(line.split("=", 1) for line in open(ready).read().split())
        self.port = int(fields["port"])
        self.connect()
        self.subscribe()
        self.open_blocker()

    def address(self):
        return ("127.0.0.1", self.port)


class Redis(Server):
    name = "redis"

    def __init__(self, binary):
        super().__init__()
        self.binary = os.path.abspath(binary)
        self.start()

    def start(self):
        self.sock = os.path.join(self.dir, "redis.sock")
        # No TCP port (no port race), a Unix socket in our temp dir, no persistence, no
        # config file; its working directory (dump files, if any) is the temp dir too.
        self._spawn([self.binary, "--port", "0", "--unixsocket", self.sock,
                     "--unixsocketperm", "700", "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                     "--logfile", "", "--databases", "16"])
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start:\n" + self.stdout().decode())
            time.sleep(0.01)
        self.connect()
        self.subscribe()
        self.open_blocker()

    def address(self):
        return self.sock


# ---------------------------------------------------------------------------------------
# Normalization (README.md, "Normalizations", says why each exists)

# CONFIG parameters compared by CONFIG GET: the ones both servers have. Values of those in
# CONFIG_VALUE_DIFFERS differ on purpose and are compared by presence only.
CONFIG_SHARED = {
    b"bind", b"port", b"tcp-backlog", b"tcp-keepalive", b"timeout", b"maxclients",
    b"databases", b"hz", b"proto-max-bulk-len", b"client-query-buffer-limit",
    b"client-output-buffer-limit", b"maxmemory", b"maxmemory-policy", b"maxmemory-samples",
    b"requirepass", b"loglevel", b"logfile", b"save", b"appendonly", b"pidfile",
    b"hash-max-listpack-entries", b"hash-max-ziplist-entries", b"hash-max-listpack-value",
    b"hash-max-ziplist-value", b"set-max-intset-entries", b"zset-max-listpack-entries",
    b"zset-max-ziplist-entries", b"zset-max-listpack-value", b"zset-max-ziplist-value",
    b"list-max-listpack-size", b"list-max-ziplist-size", b"jemalloc-bg-thread",
    b"latency-tracking", b"latency-tracking-info-percentiles", b"dir", b"dbfilename",
    b"rdbcompression", b"rdbchecksum",
}
CONFIG_VALUE_DIFFERS = {b"client-output-buffer-limit", b"port", b"dir"}
# MEMORY STATS fields both servers have (their values are compared by type only).
MEMORY_STATS_SHARED = {
    b"peak.allocated", b"total.allocated", b"startup.allocated", b"replication.backlog",
    b"clients.slaves", b"clients.normal", b"cluster.links", b"aof.buffer", b"lua.caches",
    b"functions.caches", b"overhead.total", b"keys.count", b"keys.bytes-per-key",
    b"dataset.bytes", b"dataset.percentage", b"peak.percentage", b"allocator.allocated",
    b"allocator.active", b"allocator.resident", b"allocator-fragmentation.ratio",
    b"allocator-fragmentation.bytes", b"allocator-rss.ratio", b"allocator-rss.bytes",
    b"rss-overhead.ratio", b"rss-overhead.bytes", b"fragmentation", b"fragmentation.bytes",
}
MEMKV_ONLY_CONFIG = set(generator.MEMKV_ONLY_CONFIG) | {
    b"ready-file", b"memory-profiling-enabled", b"memory-profiling-unwinder",
    b"memory-profiling-dump-dir", b"metrics-bind", b"metrics-port", b"metrics-token",
    b"metrics-pprof-enabled", b"metrics-console-actions", b"rdb-load-truncated",
    b"rdb-skip-unknown-types"}


NO_REPLY = ("noreply",)


class ReplyState:
    """CLIENT REPLY as Redis 7.0 applies it to one connection: OFF mutes every reply until
    CLIENT REPLY ON (whose OK is sent); SKIP mutes the next command's; RESET ends both. The
    harness reads a reply only for the commands that answer. Inside MULTI a CLIENT REPLY is
    queued and takes effect in EXEC, if EXEC runs it (a queuing error aborts the transaction):
    after such an EXEC the rest of the batch counts as unknown, read by the resync instead
    (waiting for a reply neither server sends would cost the read's timeout)."""

    def __init__(self):
        self.off = self.skip_next = self.skip = False
        self.in_multi = self.queued = self.unknown = False

    def dirty(self):
        return self.off or self.skip_next or self.skip or self.unknown

    def expect(self, batch):
        out = []
        for argv in batch:
            if self.unknown:
                out.append(False)
                continue
            if self.skip_next:  # what Redis's resetClient did after the previous command
                self.skip, self.skip_next = True, False
            name = lower(argv[0])
            silent = False  # CLIENT REPLY SKIP has no reply of its own
            if name == b"client" and len(argv) == 3 and lower(argv[1]) == b"reply":
                mode = lower(argv[2])
                if self.in_multi:
                    self.queued = True
                elif mode == b"on":  # clears OFF and this command's SKIP: its OK is sent
                    self.off = self.skip = False
                elif mode == b"off":
                    self.off = True
                elif mode == b"skip":
                    silent = True
                    if not self.off:
                        self.skip_next = True
            elif name == b"reset" and len(argv) == 1:
                self.off = self.skip_next = self.in_multi = self.queued = False
            elif name == b"multi" and len(argv) == 1:
                self.in_multi = True
            elif name == b"exec" and len(argv) > 1 and self.in_multi:
                # Redis 7.0: EXEC with arguments aborts the transaction (EXECABORT), which
                # then runs none of its queued commands
                self.in_multi = self.queued = False
            elif name in (b"exec", b"discard") and len(argv) == 1 and self.in_multi:
                self.in_multi = False
                if name == b"exec" and self.queued:
                    self.unknown = True
                    out.append(False)
                    continue
                self.queued = False
            out.append(not (self.off or self.skip or silent))
            self.skip = False
        return out


def lower(b):
    return b.lower() if isinstance(b, bytes) else b


def rule(argv):
    """Which normalization applies to a command's reply."""
    name = lower(argv[0])
    sub = lower(argv[1]) if len(argv) > 1 else None
    if name == b"kprofile" or (name == b"memory" and sub == b"profile"):
        return "answer"
    if name == b"config" and any(lower(a) in MEMKV_ONLY_CONFIG for a in argv[2:]):
        return "answer"
    if name in (b"function", b"fcall", b"fcall_ro"):
        return "answer"  # Redis Functions: memkv refuses them (README)
    if name == b"client" and sub == b"setinfo":
        return "answer"  # Redis 7.2's; memkv accepts it for newer client libraries
    if name == b"pfselftest":
        # Redis draws random elements (10 million; memkv a fixed 100000), so near its
        # hll-sparse-max-bytes whether the sketch is still sparse depends on the draw.
        return "answer"
    if name == b"keys":
        return "sorted"
    if name == b"pubsub" and sub in (b"channels", b"shardchannels"):
        return "sorted"  # the channel table's order
    if name in (b"hkeys", b"hvals"):
        return "sorted"
    if name == b"hgetall":
        return "pairs"
    if name == b"hscan":
        return "hscan"
    if name == b"hrandfield":
        return "count"
    if name in (b"smembers", b"sinter", b"sunion", b"sdiff", b"spop"):
        return "sorted"  # a set's order is its encoding's (and SPOP takes whole sets only)
    if name == b"srandmember":
        return "length"
    if name == b"sscan":
        return "sscan"
    if name == b"zrandmember":
        return "length"
    if name == b"zscan":
        return "zscan"
    if name == b"hello":
        return "hello"
    if name in (b"dump", b"lastsave"):
        return "shape"  # payload bytes: a hashtable's order is each server's; the clock
    if name in (b"scan", b"randomkey", b"time", b"info"):
        return "shape"
    if name == b"object" and sub in (b"idletime", b"refcount"):
        # Seconds since the last access (the servers run a moment apart); Redis's refcount of
        # a shared small integer depends on the policy at the time it was written.
        return "shape"
    scripting = generator.gen_scripting
    if name in (b"eval", b"eval_ro") and sub is not None and argv[1] in scripting.NEAR:
        return "near:%d" % scripting.NEAR[argv[1]]
    if name in (b"evalsha", b"evalsha_ro") and sub in scripting.NEAR_SHAS:
        return "near:%d" % scripting.NEAR_SHAS[sub]
    if name in generator.gen_bitmaps.NEAR:
        return "near:%d" % generator.gen_bitmaps.NEAR[name]
    if name == b"ttl":
        return "near:1"
    if name == b"pttl":
        return "near:1000"
    if name == b"client" and sub in (b"id", b"list", b"info", b"help"):
        return "shape"
    if name == b"memory" and sub == b"stats" and len(argv) == 2:
        return "memory-stats"
    if name == b"memory" and sub in (b"usage", b"stats", b"doctor", b"malloc-stats", b"help"):
        return "shape"
    if name == b"debug":
        return "answer"  # memkv runs with DEBUG enabled (its statistics check), Redis without
    if name == b"memory" and sub in (b"prefixes", b"top-keys", b"history"):
        return "answer"  # memkv's key-space insight; Redis 7.0 has no such subcommands
    if name == b"command":
        if sub == b"info" and len(argv) > 2:
            return "command-info"
        if sub == b"getkeysandflags":
            return "getkeys-flags"
        if sub == b"docs" and len(argv) > 2:
            return "command-docs"
        if sub in (None, b"count", b"list", b"info", b"docs", b"help"):
            return "shape"
    if name == b"slowlog" and sub in (b"get", b"len", b"help"):
        return "slowlog"  # what is logged depends on each server's timings
    if name == b"latency" and sub == b"histogram":
        return "latency-histogram"  # per-command latencies are each server's timings
    if name == b"latency" and sub in (b"latest", b"history", b"reset", b"doctor", b"help"):
        return "shape"  # samples depend on each server's timings; DOCTOR is each one's text
    if name == b"config" and sub == b"get":
        return "config-get"
    if name == b"config" and sub == b"help":
        return "shape"
    if name in (b"sort", b"sort_ro"):
        return sort_rule(argv)
    return "exact"


def sort_rule(argv):
    """SORT's replies are compared in order where both servers must agree on it: a numeric sort
    (equal numbers ordered by the elements' bytes) or ALPHA with STORE (bytes). Sorted when
    nothing is sorted (BY without '*': a set keeps each server's own order), or ALPHA without
    STORE (strcoll stops at a NUL byte, and ties keep each server's reading order)."""
    alpha = dontsort = store = limit = False
    j, ro = 2, lower(argv[0]) == b"sort_ro"
    while j < len(argv):
        a, left = lower(argv[j]), len(argv) - j - 1
        if a == b"alpha":
            alpha = True
        elif a == b"limit" and left >= 2:
            limit = True
            j += 2
        elif a == b"store" and left >= 1 and not ro:
            store = True
            j += 1
        elif a == b"by" and left >= 1:
            dontsort = dontsort or b"*" not in argv[j + 1].split(b"\x00")[0]
            j += 1
        elif a == b"get" and left >= 1:
            j += 1
        elif a not in (b"asc", b"desc"):
            return "exact"  # a syntax error
        j += 1
    if dontsort or (alpha and not store):
        # With LIMIT, which elements fall in the range depends on that order too: how many.
        return "count" if limit else "sorted"
    return "exact"


def counters_comparable(argv):
    """Whether a command leaves INFO's hit, error and command counters as Redis's: not one
    whose reply is memkv's own or refused on purpose (it counts differently), nor SCAN with
    TYPE (each key it visits counts a hit, and the cursors visit different keys)."""
    name = lower(argv[0])
    if rule(argv) == "answer":
        return False
    if name == b"scan" and any(lower(a) == b"type" for a in argv[2:]):
        return False
    if sort_range_reads(argv):
        return False
    return True


def sort_range_reads(argv):
    """A SORT whose LIMIT range holds elements that depend on each server's order (sort_rule
    "count") and that GETs keys for them: which keys it reads (hits, misses, "keymiss")
    differs too."""
    return (lower(argv[0]) in (b"sort", b"sort_ro") and sort_rule(argv) == "count"
            and any(lower(a) == b"get" for a in argv[2:]))


# INFO sections and the fields of them compared by counters_of.
COUNTER_FIELDS = (
    b"keyspace_hits", b"keyspace_misses", b"total_error_replies", b"expired_keys", b"evicted_keys",
    b"connected_clients", b"blocked_clients", b"tracking_clients", b"clients_in_timeout_table",
    b"pubsub_channels", b"pubsub_patterns", b"pubsubshard_channels", b"tracking_total_keys",
    b"tracking_total_items", b"tracking_total_prefixes", b"total_connections_received",
    b"rejected_connections", b"acl_access_denied_auth", b"acl_access_denied_cmd",
    b"acl_access_denied_key", b"acl_access_denied_channel", b"unexpected_error_replies",
    b"dump_payload_sanitizations", b"evicted_clients")
COUNTERS_OWN = (b"cmdstat_info", b"cmdstat_debug", b"cmdstat_config|resetstat")


def info_section(conn, section):
    """One INFO section as {field: value}, or None when INFO does not answer (a password
    set, for one)."""
    r = conn.call([b"INFO", section])
    if r[0] not in ("bulk", "verbatim"):
        return None
    return dict(line.split(b":", 1) for line in r[-1].split(b"\r\n") if b":" in line)


def counters_of(s):
    """Hits, misses, expired and evicted keys, error replies (in all and by prefix), each
    command's calls, rejected and failed calls, connections received and rejected, refused
    AUTHs, the clients connected, blocked and tracking, the pub/sub subscriptions, the
    tracking table's sizes, and each db's keys and keys with a TTL; None when INFO does not
    answer."""
    out = {}
    for section in (b"stats", b"clients", b"errorstats", b"commandstats", b"keyspace"):
        fields = info_section(s.conn, section)
        if fields is None:
            return None
        for k, v in fields.items():
            if k in COUNTER_FIELDS:
                out[k] = v
            elif k.startswith(b"errorstat_"):
                out[k] = v
            elif section == b"keyspace":  # keys and expires per db (avg_ttl: an estimate)
                out[k] = b",".join(v.split(b",")[:2])
            elif k.startswith(b"cmdstat_") and k not in COUNTERS_OWN:
                f = dict(x.split(b"=", 1) for x in v.split(b","))
                out[k] = b"%s/%s/%s" % (f.get(b"calls"), f.get(b"rejected_calls"),
                                         f.get(b"failed_calls"))
    return out


LFU_LIST = b" - argument(s) must be one of the following: "

# Subcommands memkv has and Redis 7.0 not: its key-space insight and profiler, and Redis 7.2's
# CLIENT SETINFO, which clients send at connection (README).
MEMKV_ONLY_SUBCOMMANDS = {b"client|setinfo", b"memory|profile", b"memory|prefixes",
                          b"memory|top-keys", b"memory|history"}

# HELLO's fields whose values are each server's own.
HELLO_OWN = {b"server", b"version", b"id"}


def shape(reply):
    """A reply's types without its values: (type, [shape of each element]) for aggregates."""
    if reply[0] in ("array", "set", "push"):
        return (reply[0], tuple(shape(e) for e in reply[1]))
    if reply[0] == "map":
        return (reply[0], tuple((shape(k), shape(v)) for k, v in reply[1]))
    return (reply[0],)


def random_picks(reply):
    """Random members (SRANDMEMBER, ZRANDMEMBER, HRANDFIELD): how many, and the shapes they
    come in (a [member, score] pair in RESP3)."""
    return (reply[0], len(reply[1]), tuple(sorted(set(shape(e) for e in reply[1]))))


def pairs_of(reply):
    """A map's pairs: a RESP3 map, or a RESP2 flat array of keys and values."""
    if reply[0] == "map":
        return list(reply[1])
    items = reply[1]
    return list(zip(items[0::2], items[1::2]))


def normalize(argv, reply):
    if reply[0] == "error" and LFU_LIST in reply[1] and b"maxmemory-policy" in reply[1]:
        # memkv has no LFU policies, so its list of valid ones is shorter.
        return ("error", reply[1][:reply[1].index(LFU_LIST)])
    if reply[0] in ("error", "closed", "timeout", "garbage"):
        return reply  # errors, closes and hangs are compared exactly under every rule
    r = rule(argv)
    if r == "answer":
        return ("answered",)
    if r == "shape":
        # A verbatim text's format ("txt") is part of its shape.
        return reply[:2] if reply[0] == "verbatim" else (reply[0],)
    if r == "count" and reply[0] in ("array", "set"):
        return (reply[0], len(reply[1]))
    if r == "sorted" and reply[0] in ("array", "set"):
        return (reply[0], sorted(reply[1]))
    if r == "pairs" and reply[0] in ("array", "map"):
        return (reply[0], sorted(pairs_of(reply)))
    if r == "hello" and reply[0] in ("array", "map"):
        # Every field, in order, with its value, except the server's name, version and the
        # client id; the protocol (proto) and the reply's own type are compared.
        return (reply[0], [(k, ("own",) if k[1:] and k[1] in HELLO_OWN else v)
                           for k, v in pairs_of(reply)])
    if r == "memory-stats" and reply[0] in ("array", "map"):
        # The fields both servers have, each with its value's type (a double is a double).
        shared = [(k, v[0]) for k, v in pairs_of(reply)
                  if k[1] in MEMORY_STATS_SHARED or k[1].startswith(b"db.")]
        return (reply[0], sorted(shared))
    if r == "hscan" and reply[0] == "array" and len(reply[1]) == 2:
        cursor, elems = reply[1]
        # Whole when asked from cursor 0 and done in one call; any other cursor names a
        # bucket of a hashtable, whose contents depend on each server's hash function.
        start = argv[2] if len(argv) > 2 else b"x"
        if (start.lstrip(b"+0") == b"" and cursor == ("bulk", b"0")
                and elems[0] == "array"):
            items = elems[1]
            return ("scan-done", sorted(zip(items[0::2], items[1::2])))
        return ("scan-partial",)
    if r == "slowlog" and reply[0] == "array":
        # GET: every entry has the shape of one (id, time, duration, [args], address, name);
        # not how many (one server may have been slower than the threshold, the other not).
        return ("array", all(e[0] == "array" and len(e[1]) == 6
                             and [x[0] for x in e[1]] == ["int", "int", "int", "array", "bulk",
                                                          "bulk"]
                             and all(y[0] == "bulk" for y in e[1][3][1]) for e in reply[1]))
    if r == "slowlog":
        return (reply[0],)
    if r == "count" and reply[0] == "array":
        return random_picks(reply)
    if r == "count" and reply[0] == "bulk":
        return ("bulk",)
    if r == "length":
        return random_picks(reply) if reply[0] == "array" else (reply[0],)
    if r == "sscan":
        return (reply[0],)
    if r == "zscan" and reply[0] == "array" and len(reply[1]) == 2:
        flat = reply[1][1][1]
        return ("zscan", sorted(zip(flat[0::2], flat[1::2])))
    if r == "command-info" and reply[0] == "array":
        # name, arity, first key, last key, step and the ACL categories: exact; flags, tips
        # and key specs are Redis's richer metadata: only their types (sets in RESP3) are
        # compared. A container's subcommands (an array; an empty list is a set) the same way,
        # sorted by name: Redis lists them in its dict's order. memkv's own subcommands and
        # Redis 7.2's CLIENT SETINFO (README) are left out.
        def entry(e):
            if e[0] != "array" or len(e[1]) < 10:
                return e
            subs = e[1][9]
            kept = [x for x in subs[1] if not (x[0] == "array" and x[1] and
                                               x[1][0][1] in MEMKV_ONLY_SUBCOMMANDS)]
            return ("array", [e[1][i] for i in (0, 1, 3, 4, 5, 6)]
                    + [e[1][i][0] for i in (2, 7, 8)]
                    + [(subs[0], sorted((entry(x) for x in kept), key=repr))])
        return ("array", [entry(e) for e in reply[1]])
    if r == "command-docs" and reply[0] in ("array", "map"):
        # Per command: its name and "since"; the rest (complexity, arguments, history,
        # subcommands) is Redis's richer documentation.
        out = []
        for name, doc in pairs_of(reply):
            fields = ({k[1]: v for k, v in pairs_of(doc)} if doc[0] in ("array", "map")
                      else {})
            out.append((name, fields.get(b"since")))
        return ("docs", reply[0], sorted(out))
    if r == "getkeys-flags" and reply[0] == "array":
        # The keys exactly; their flags are Redis's per-command key specs, which memkv's table
        # approximates (README).
        return ("array", [e[1][0] if e[0] == "array" and e[1] else e for e in reply[1]])
    if r == "latency-histogram" and reply[0] in ("array", "map"):
        # Each entry: a command name and {calls: int, histogram_usec: {int bound: int count}},
        # bounds increasing, counts cumulative up to calls. Which commands have data, and the
        # numbers, depend on each server's timings and on the harness's own commands.
        return (reply[0], all(latency_histogram_entry_ok(k, v) for k, v in pairs_of(reply)))
    if r == "config-get" and reply[0] in ("array", "map"):
        pairs = []
        for name_reply, value in pairs_of(reply):
            name = name_reply[1]
            if name.lower() in CONFIG_SHARED:
                if name.lower() in CONFIG_VALUE_DIFFERS:
                    value = ("bulk", b"*")
                pairs.append((name, value))
        return ("config", reply[0], sorted(pairs))
    return reply


def latency_histogram_entry_ok(name, value):
    if name[0] != "bulk" or value[0] not in ("array", "map"):
        return False
    fields = dict(pairs_of(value))
    calls, hist = fields.get(("bulk", b"calls")), fields.get(("bulk", b"histogram_usec"))
    if len(fields) != 2 or not calls or calls[0] != "int" or not hist or hist[0] != value[0]:
        return False
    points = pairs_of(hist)
    if not all(k[0] == "int" and v[0] == "int" for k, v in points):
        return False
    bounds, counts = [k[1] for k, _ in points], [v[1] for _, v in points]
    return (bounds == sorted(set(bounds)) and counts == sorted(set(counts))
            and bool(counts) and counts[-1] == calls[1])


def scan_starts(argv):
    """The cursor argument of an SSCAN is 0: a reply with cursor 0 then holds everything."""
    try:
        return len(argv) > 2 and int(argv[2]) == 0
    except ValueError:
        return False


def is_object_encoding(argv):
    return len(argv) == 3 and lower(argv[0]) == b"object" and lower(argv[1]) == b"encoding"


NO_MALLOC_STATS = ("bulk", b"Stats not supported for the current allocator")


def equal_exec(queued, a, b):
    """EXEC's reply: each element compared under the rule of the command that made it."""
    if not (a[0] == b[0] == "array" and len(a[1]) == len(b[1]) == len(queued)):
        return a == b
    for argv, x, y in zip(queued, a[1], b[1]):
        if is_object_encoding(argv) and x == ("bulk", b"listpack") and y == ("bulk", b"hashtable"):
            continue  # a small set of strings (memkv has Redis 7.2's listpack, see below)
        if not equal(argv, x, y):
            return False
    return True


def equal(argv, a, b):
    r = rule(argv)
    if (a == NO_MALLOC_STATS and len(argv) == 2 and lower(argv[0]) == b"memory"
            and lower(argv[1]) == b"malloc-stats"):
        # memkv built without jemalloc (the sanitizer build) says so in a bulk string, as Redis
        # does without jemalloc; Redis here has jemalloc (a verbatim text in RESP3).
        return b[0] in ("bulk", "verbatim")
    if r.startswith("near:") and a[0] == "int" and b[0] == "int":
        tol = int(r[5:])
        # -1 and -2 (no expire, no key) are exact; a remaining time may differ a little:
        # the two servers run the command a few milliseconds apart.
        if a[1] < 0 or b[1] < 0:
            return a == b
        return abs(a[1] - b[1]) <= tol
    if a == b == CLOSED:
        return True
    if r == "hscan" and a[0] == b[0] == "array":
        na, nb = normalize(argv, a), normalize(argv, b)
        if "scan-partial" in (na[0], nb[0]):
            return True  # a hashtable's cursors follow each server's buckets
        return na == nb
    if (r == "sscan" and a[0] == b[0] == "array" and len(a[1]) == len(b[1]) == 2
            and a[1][0] == b[1][0] == ("bulk", b"0") and scan_starts(argv)):
        # Both returned the whole set in one call: compare the members.
        return sorted(a[1][1][1]) == sorted(b[1][1][1])
    if r == "answer":
        return a[0] not in ("closed", "timeout") and b[0] not in ("closed", "timeout")
    if r == "zscan" and a[0] == b[0] == "array":
        # A scan that started at 0 and ended in one call is compared (sorted); anything
        # partial depends on each server's hash table: reply type only.
        whole = argv[2] == b"0" and a[1][0] == b[1][0] == ("bulk", b"0")
        if not whole:
            return True
    return normalize(argv, a) == normalize(argv, b)


# ---------------------------------------------------------------------------------------
# Formatting of commands and replies (case files and reports)


def quote(arg):
    if arg and all(33 <= c < 127 and c not in b'"\\#' for c in arg):
        return arg.decode()
    out = ['"']
    for c in arg:
        ch = chr(c)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 32 <= c < 127:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append("\\x%02x" % c)
    out.append('"')
    return "".join(out)


def format_command(argv):
    return " ".join(quote(a) for a in argv)


def parse_command(line):
    """Inverse of format_command: words separated by spaces, "..." with \\" \\\\ \\n \\r \\t
    \\xHH escapes."""
    argv, i, n = [], 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        if i >= n:
            break
        if line[i] == '"':
            i += 1
            buf = bytearray()
            while True:
                if i >= n:
                    raise ValueError("unterminated quote: " + line)
                ch = line[i]
                if ch == '"':
                    i += 1
                    break
                if ch == "\\":
                    nx = line[i + 1]
                    if nx == "x":
                        buf.append(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    buf += {"n": b"\n", "r": b"\r", "t": b"\t"}.get(nx, nx.encode())
                    i += 2
                    continue
                buf += ch.encode()
                i += 1
            argv.append(bytes(buf))
        else:
            j = i
            while j < n and line[j] != " ":
                j += 1
            argv.append(line[i:j].encode())
            i = j
    return argv


def format_reply(reply, limit=300):
    t = reply[0]
    if t in ("status", "error", "bulk"):
        s = {"status": "+", "error": "-", "bulk": "$"}[t] + quote(reply[1])
    elif t == "int":
        s = ":%d" % reply[1]
    elif t == "array":
        s = "[" + ", ".join(format_reply(e, limit) for e in reply[1]) + "]"
    elif t in ("set", "push"):
        s = {"set": "~{", "push": ">["}[t] + ", ".join(format_reply(e, limit)
                                                   for e in reply[1]) + {"set": "}",
                                                                         "push": "]"}[t]
    elif t == "map":
        s = "%{" + ", ".join("%s: %s" % (format_reply(k, limit), format_reply(v, limit))
                             for k, v in reply[1]) + "}"
    elif t in ("double", "bignum"):
        s = {"double": ",", "bignum": "("}[t] + reply[1].decode(errors="replace")
    elif t == "verbatim":
        s = "=" + reply[1].decode(errors="replace") + ":" + quote(reply[2])
    elif t == "null":
        s = "_"
    elif t == "bool":
        s = "#t" if reply[1] else "#f"
    else:
        s = "<%s>" % " ".join(str(x) for x in reply)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


# ---------------------------------------------------------------------------------------
# Running a sequence on both servers


class Mismatch:
    def __init__(self, kind, index, argv, memkv, redis, detail=""):
        self.kind, self.index, self.argv = kind, index, argv
        self.memkv, self.redis, self.detail = memkv, redis, detail

    def signature(self):
        sub = lower(self.argv[1]) if len(self.argv) > 1 and lower(self.argv[0]) in (
            b"config", b"client", b"command", b"memory") else b""
        return (self.kind, lower(self.argv[0]), sub, self.memkv[0], self.redis[0])

    def summary(self):
        """One line (CI shows only the end of a failed run's output)."""
        return "%s at command %d: %s; memkv: %s; redis: %s" % (
            self.kind, self.index, format_command(self.argv)[:200], format_reply(self.memkv, 150),
            format_reply(self.redis, 150))

    def describe(self):
        s = "%s at command %d: %s\n  memkv: %s\n  redis: %s" % (
            self.kind, self.index, format_command(self.argv), format_reply(self.memkv),
            format_reply(self.redis))
        if self.detail:
            s += "\n  " + self.detail
        return s


class Pair:
    def __init__(self, memkv_binary, redis_binary):
        self.memkv_binary = memkv_binary
        self.redis_binary = redis_binary
        self.memkv = Memkv(memkv_binary)
        self.redis = Redis(redis_binary)
        self.commands_run = 0
        self.commands_resp3 = 0  # of commands_run, those sent on a RESP3 connection
        self.resp = 2  # the protocol of the connections (HELLO switched both, or none)
        self.reply_state = ReplyState()
        self.tx = None  # the commands queued since MULTI (as Redis answered), None outside
        self.changes_known = True  # rdb_changes_since_last_save compared (see run)
        self.counters_known = True  # INFO's counters compared (compare_counters)
        self.blocker = None  # (index, argv) of the @B command sent and not yet resolved
        self.blocker_may_be_killed = False  # a CLIENT KILL ran since that @B
        self.restore_names = list(generator.CONFIG_SET) + list(generator.MEMKV_ONLY_CONFIG)
        for s in (self.memkv, self.redis):
            s.initial_config = self._config_of(s)

    def _config_of(self, s):
        cfg = {}
        for name in self.restore_names:
            r = s.conn.call([b"CONFIG", b"GET", name])
            if r[0] == "array" and len(r[1]) == 2:
                cfg[name] = r[1][1][1]
        return cfg

    def close(self):
        """Stops both servers; returns a problem found in memkv's exit (code, sanitizer)."""
        problem = None
        code = self.memkv.stop()
        report = self.memkv.sanitizer_report()
        if report:
            problem = "sanitizer report in memkv's stderr:\n" + report.decode(errors="replace")
        elif code != 0:
            problem = "memkv exited with %s on SIGTERM:\n%s" % (
                code, self.memkv.stderr().decode(errors="replace"))
        self.redis.stop()
        if problem is None:
            self.memkv.cleanup()
        else:
            problem += "\n(memkv's files kept in %s)" % self.memkv.dir
        self.redis.cleanup()
        return problem

    def _restart(self, s):
        s.stop()
        if s is self.memkv:
            # A fresh directory: the old one keeps the crashed server's stderr.
            self.memkv = Memkv(self.memkv_binary)
            self.memkv.initial_config = s.initial_config
        else:
            self.redis = Redis(self.redis_binary)
            self.redis.initial_config = s.initial_config

    def reset(self):
        """Back to the start state: empty key space, initial configuration, a new
        connection (db 0, no name, RESP2). A server that died is started again."""
        self.resp = 2
        if self.reply_state.dirty():  # replies off: the old connection would not answer PING
            for s in (self.memkv, self.redis):
                if s.alive():
                    s.connect()
        self.reply_state = ReplyState()
        self.tx = None
        self.changes_known = True
        self.counters_known = True
        self.blocker = None
        for s in (self.memkv, self.redis):
            if not s.alive() or (s is self.memkv and s.sanitizer_report()):
                self._restart(s)
                continue
            try:
                if s.conn.call([b"PING"]) != ("status", b"PONG"):
                    s.connect()
                for name, value in s.initial_config.items():
                    s.conn.call([b"CONFIG", b"SET", name, value])
                s.connect()
                s.open_blocker()  # a blocked command of the last sequence goes with it
                s.conn.call([b"FLUSHALL"])
                if s.events() is None:  # the reset's own notifications (FLUSHALL's)
                    s.subscribe()
                s.conn.call([b"SCRIPT", b"FLUSH"])  # the script cache is state too
                s.conn.call([b"CONFIG", b"RESETSTAT"])
                s.conn.call([b"SAVE"])  # rdb_changes_since_last_save from 0 (compared)
            except RuntimeError:
                self._restart(s)

    def _crash_detail(self):
        report = self.memkv.sanitizer_report()
        if self.memkv.alive() and not report:
            return None
        text = (report or self.memkv.stderr()).decode(errors="replace")
        code = self.memkv.proc.poll()
        return "exit status %s\n%s" % (code, text[-20000:])

    def track_transaction(self, argv, b):
        """Follows MULTI/EXEC by Redis's replies, so EXEC's elements are compared under the
        rules of the queued commands."""
        name = lower(argv[0])
        if b == CLOSED or (name == b"reset" and b == ("status", b"RESET")):
            self.tx = None
        elif self.tx is None:
            if name == b"multi" and b == ("status", b"OK"):
                self.tx = []
        elif b == ("status", b"QUEUED"):
            self.tx.append(argv)
        elif name in (b"exec", b"discard") and not (
                b[0] == "error" and b[1].startswith(b"ERR wrong number")):
            self.tx = None
        elif b[0] == "error" and b[1].startswith(b"EXECABORT"):
            self.tx = None

    RESYNC_MARK = b"memkv-difftest-resync"

    def resync(self, s):
        """Sends DISCARD, CLIENT TRACKING OFF (a discarded transaction may have held the OFF
        that ends a tracking tail), CLIENT REPLY ON and ECHO <marker>; returns the replies up
        to the marker (the first two are muted when replies are off)."""
        s.conn.send(encode([b"DISCARD"]) + encode([b"CLIENT", b"TRACKING", b"OFF"]) +
                    encode([b"CLIENT", b"REPLY", b"ON"]) + encode([b"ECHO", self.RESYNC_MARK]))
        out = []  # replies the batch's model did not expect come first (compared too)
        while len(out) < 100000:
            r = s.conn.read()
            if r in (CLOSED, TIMEOUT) or r == ("bulk", self.RESYNC_MARK):
                return out + [r]
            out.append(r)
        return out

    def set_listpack_allowed(self, argv, a, b):
        """memkv stores small sets of strings as listpacks (Redis 7.2's encoding), Redis 7.0 as
        hashtables: OBJECT ENCODING may then differ, for a set key only."""
        if not (is_object_encoding(argv) and a == ("bulk", b"listpack")
                and b == ("bulk", b"hashtable")):
            return False
        self.memkv.conn.call([b"TYPE", argv[2]])  # the counters see it in both (counters_of)
        return self.redis.conn.call([b"TYPE", argv[2]]) == ("status", b"set")

    def reset_counters(self):
        done = [s.conn.call([b"CONFIG", b"RESETSTAT"]) for s in (self.memkv, self.redis)]
        self.counters_known &= all(r == ("status", b"OK") for r in done)

    def compare_counters(self, batch, last, seq):
        """The counters both servers keep of what ran (counters_of), compared after a batch
        without a command whose statistics differ on purpose; after one, both reset their
        statistics (not compared until the next reset if either refuses, e.g. NOAUTH)."""
        if any(not counters_comparable(argv) for argv in batch):
            self.reset_counters()
        elif self.counters_known:
            counts = [counters_of(s) for s in (self.memkv, self.redis)]
            if None not in counts and any(b"errorstat_ERRORSTATS_DISABLED" in c
                                          for c in counts):
                # memkv's errorstats-max-prefixes (Redis's is 128) was lowered and reached
                for c in counts:
                    for k in [k for k in c if k.startswith(b"errorstat_")]:
                        del c[k]
            if None not in counts and counts[0] != counts[1]:
                names = sorted(k for k in set(counts[0]) | set(counts[1])
                               if counts[0].get(k) != counts[1].get(k))
                return Mismatch("counters", last, seq[last],
                                ("bulk", b" ".join(b"%s=%s" % (k, counts[0].get(k, b"-"))
                                                   for k in names[:6])),
                                ("bulk", b" ".join(b"%s=%s" % (k, counts[1].get(k, b"-"))
                                                   for k in names[:6])),
                                "INFO's keyspace hits/misses, error counts or command "
                                "statistics differ after this command's batch")
        return None

    @staticmethod
    def changes_since_save(s):
        """INFO's rdb_changes_since_last_save, or None while a BGSAVE runs (when it ends, the
        count drops by what it was at the start: the moment differs between the servers)."""
        fields = info_section(s.conn, b"persistence")
        if not fields or fields.get(b"rdb_bgsave_in_progress") != b"0":
            return None
        return int(fields[b"rdb_changes_since_last_save"])

    def errno_reset(self):
        """Redis 7.0's SORT reads errno after strtod without clearing it first, so a number
        parsed by any earlier command that left ERANGE (5e-324, 1e400) makes every later
        numeric SORT answer "One or more scores can't be converted into double". Before a
        SORT, both servers get a command that clears errno in Redis (INCRBYFLOAT's string2ld
        sets it to 0) and changes nothing: the same error in both, counted alike."""
        for s in (self.memkv, self.redis):
            s.conn.call([b"INCRBYFLOAT", b"__errno_reset__", b"x"])

    def run_blocker(self, argv, pos):
        """An @B command: the one before it is resolved, then argv[1:] goes to both servers on
        the blocker connection, and the harness waits until each ran it (answered, or blocked):
        the commands after it on the main connection may then serve it."""
        m = self.resolve_blocker()
        if m:
            return m
        if any(s.blk.pending() for s in (self.memkv, self.redis)):  # closed (CLIENT KILL)
            for s in (self.memkv, self.redis):
                s.open_blocker()
        for s in (self.memkv, self.redis):
            s.blk.send(encode(argv[1:]))
        for s in (self.memkv, self.redis):
            s.wait_blocker()
        self.blocker = (pos, argv)
        self.commands_run += 1
        return None

    def resolve_blocker(self):
        """The @B command sent last: CLIENT UNBLOCK (its timeout reply, if it still waits)
        through the main connection of each server, then its reply, compared (and so is what
        UNBLOCK answered: 1 if it still waited)."""
        if self.blocker is None:
            return None
        bpos, argv = self.blocker
        self.blocker = None
        got = []
        for s in (self.memkv, self.redis):
            u = s.conn.call([b"CLIENT", b"UNBLOCK", b"%d" % s.blk_id])
            got.append((u, s.blk.read()))
        (um, rm), (ur, rr) = got
        killed, self.blocker_may_be_killed = self.blocker_may_be_killed, False
        if CLOSED in (rm, rr):
            for s in (self.memkv, self.redis):
                s.open_blocker()
            if killed:
                # A CLIENT KILL since the @B closed the blocker in both: whether its reply
                # (if it had one) is still read before the close differs between the two
                # sockets (seed 401: memkv's TCP socket gave it, Redis's Unix socket not).
                return None
        if rm == rr == TIMEOUT:
            return Mismatch("hang", bpos, argv, rm, rr, "neither server answered the blocker")
        if not equal(argv[1:], rm, rr) or um != ur:
            return Mismatch("mismatch", bpos, argv, rm, rr,
                            "the @B command, on the harness's blocker connection (CLIENT "
                            "UNBLOCK then: memkv %s, redis %s)" % (format_reply(um),
                                                                     format_reply(ur)))
        return None

    def run(self, seq, deadline=None):
        """Runs seq on both servers; returns the first Mismatch, or None."""
        pos = 0
        while pos < len(seq):
            if deadline and time.monotonic() > deadline:
                return None
            if lower(seq[pos][0]) == b"@b":
                m = self.run_blocker(seq[pos], pos)
                if m:
                    return m
                pos += 1
                continue
            batch = seq[pos:pos + BATCH]
            # A command that may close the connection ends its batch: a server that closes a
            # TCP socket with unread input sends a reset, and the client then loses replies
            # it had not read yet (memkv is on TCP, Redis on a Unix socket). An @B command
            # (run_blocker) starts a batch of its own.
            for i, argv in enumerate(batch):
                if lower(argv[0]) == b"@b":
                    batch = batch[:i]
                    break
                if i > 0 and lower(argv[0]) in (b"sort", b"sort_ro"):
                    batch = batch[:i]  # SORT starts a batch (errno_reset)
                    break
                if lower(argv[0]) == b"quit" or (lower(argv[0]) == b"client" and len(argv) > 1
                                                 and lower(argv[1]) == b"kill"):
                    if lower(argv[0]) == b"client":
                        self.blocker_may_be_killed = self.blocker is not None
                    batch = batch[:i + 1]
                    break
                if is_object_encoding(argv):
                    # Last of its batch, so the key still holds what it answered about when
                    # equal() asks Redis for the key's type (set_listpack_allowed).
                    batch = batch[:i + 1]
                    break
            # CLIENT REPLY OFF / SKIP: which commands answer; at the end of the batch replies
            # are turned on again (the PING below needs one).
            if lower(batch[0][0]) in (b"sort", b"sort_ro"):
                self.errno_reset()
            answers = self.reply_state.expect(batch)
            muted = not all(answers) or self.reply_state.dirty()
            data = b"".join(encode(a) for a in batch)
            self.memkv.conn.send(data)
            self.redis.conn.send(data)
            replies = []
            for s in (self.memkv, self.redis):
                out = []
                for answers_now in answers:
                    r = s.conn.read() if answers_now else NO_REPLY
                    out.append(r)
                    if r in (CLOSED, TIMEOUT):
                        break
                replies.append(out)
            rm, rr = replies
            both_closed_at = None
            for i, argv in enumerate(batch):
                a = rm[i] if i < len(rm) else None
                b = rr[i] if i < len(rr) else None
                if a is None or b is None:
                    break
                self.commands_run += 1
                self.commands_resp3 += self.resp == 3
                if a == b == NO_REPLY:
                    continue
                if lower(argv[0]) == b"hello" and a[0] in ("map", "array"):
                    self.resp = 3 if a[0] == "map" else 2
                if lower(argv[0]) == b"reset" and a == ("status", b"RESET"):
                    self.resp = 2
                if a == b == TIMEOUT:
                    # Neither answered: the reply model (ReplyState) waited for a reply that
                    # CLIENT REPLY had muted in both; a harness error, reported, not taken
                    # for agreement (each such read costs the timeout).
                    return Mismatch("hang", pos + i, argv, a, b,
                                    "neither server answered (the harness expected a reply)")
                if lower(argv[0]) == b"exec" and self.tx is not None:
                    same = equal_exec(self.tx, a, b)
                else:
                    same = equal(argv, a, b) or self.set_listpack_allowed(argv, a, b)
                self.track_transaction(argv, b)
                if not same:
                    # memkv's connection closed where Redis's did not: did memkv die there?
                    detail = self._crash_detail() if a in (CLOSED, TIMEOUT) else None
                    kind = "crash" if detail else ("hang" if TIMEOUT in (a, b) else "mismatch")
                    if not detail and a == CLOSED:
                        # memkv alive but closed the connection: its log says why.
                        log = (self.memkv.stdout() + self.memkv.stderr()).decode(
                            errors="replace").splitlines()
                        detail = "memkv's log ends:\n" + "\n".join(x[:400] for x in log[-3:])
                    return Mismatch(kind, pos + i, argv, a, b, detail or "")
                if a == CLOSED:
                    both_closed_at = i
                    self.reply_state = ReplyState()
                    break
            if both_closed_at is None and (self.tx is not None or muted):
                # The batch may end inside MULTI (with replies muted, MULTI's OK was not seen)
                # or with replies off: PING and the statistics check would be queued or
                # unanswered. DISCARD, CLIENT TRACKING OFF, CLIENT REPLY ON and an ECHO of a
                # marker bring both servers back; what each answers up to the marker must be
                # the same.
                replies = [self.resync(s) for s in (self.memkv, self.redis)]
                if replies[0] != replies[1]:
                    return Mismatch("mismatch", pos + len(batch) - 1, [b"DISCARD"],
                                    replies[0], replies[1],
                                    "DISCARD, CLIENT REPLY ON after the batch")
                self.reply_state = ReplyState()
            self.tx = None
            # Liveness: both must still answer PING; a connection the last command closed
            # (QUIT, CLIENT KILL) must be closed in both, and is opened again.
            last = pos + (both_closed_at if both_closed_at is not None else len(batch) - 1)
            pings = [s.conn.call([b"PING"]) if both_closed_at is None else CLOSED
                     for s in (self.memkv, self.redis)]
            detail = self._crash_detail()
            if detail:
                return Mismatch("crash", last, seq[last], rm[-1] if rm else CLOSED,
                                rr[-1] if rr else CLOSED, detail)
            if (pings[0] == CLOSED) != (pings[1] == CLOSED):
                return Mismatch("mismatch", last, seq[last], pings[0], pings[1],
                                "PING after the command: the connection closed in one server")
            events = [s.events() for s in (self.memkv, self.redis)]
            if events[0] and events[1] and lower(batch[0][0]) in (b"sort", b"sort_ro"):
                # SORT's BY and GET lookups ("keymiss") follow the order it reads a set in,
                # each server's own: the batch's events as a multiset, or not compared when
                # the keys it GETs depend on that order.
                events = [[] if sort_range_reads(batch[0]) else sorted(e) for e in events]
            if None in events:  # a listener is gone: both listen again (commands alike)
                for s in (self.memkv, self.redis):
                    s.subscribe()
            elif events[0] != events[1]:
                return Mismatch("events", last, seq[last], ("array", events[0][:20]),
                                ("array", events[1][:20]),
                                "the keyspace notifications of this command's batch differ "
                                "(%d in memkv, %d in redis)" % (len(events[0]), len(events[1])))
            if pings[0] != CLOSED:
                m = self.compare_counters(batch, last, seq)
                if m:
                    return m
                chk = self.memkv.conn.call([b"DEBUG", b"KEYSPACE-STATS-CHECK"])
                if chk != ("status", b"OK") and not (
                        chk[0] == "error" and b"statistics are off" in chk[1]):
                    return Mismatch("stats", last, seq[last], chk, ("status", b"OK"),
                                    "memkv's key-space statistics differ from a scan after "
                                    "this command's batch")
                if chk[0] == "error":  # an error reply memkv alone counted
                    self.reset_counters()
            for s, p in zip((self.memkv, self.redis), pings):
                if p == CLOSED:
                    s.connect()
                    self.resp = 2
                elif p != ("status", b"PONG"):
                    return Mismatch("dead", last, seq[last], pings[0], pings[1],
                                    "%s stopped answering PING" % s.name)
            if pings[0] == CLOSED:
                m = self.compare_counters(batch, last, seq)
                if m:
                    return m
            # Redis counts a FUNCTION FLUSH as a change, memkv refuses it (README): after a
            # batch that has one (run, queued or not), both save and the count starts again
            # from 0, or is not compared until the next reset when a BGSAVE in progress
            # refuses the SAVE.
            if any(lower(argv[0]) == b"function" and len(argv) > 1 and lower(argv[1]) == b"flush"
                   for argv in batch):
                saved = [s.conn.call([b"SAVE"]) for s in (self.memkv, self.redis)]
                self.changes_known &= all(r == ("status", b"OK") for r in saved)
            elif self.changes_known:
                counts = [self.changes_since_save(s) for s in (self.memkv, self.redis)]
                if None not in counts and counts[0] != counts[1]:
                    return Mismatch("changes", last, seq[last], ("integer", counts[0]),
                                    ("integer", counts[1]),
                                    "INFO's rdb_changes_since_last_save differs after this "
                                    "command's batch (the save rules count these changes)")
            # The command that saw the close was not run by either server: send it again.
            pos += max(both_closed_at, 1) if both_closed_at is not None else len(batch)
        if self.blocker is None:
            return None
        last = self.blocker[0]
        # Unblocked now: what that counted (a failed call, for Redis) is compared too.
        return self.resolve_blocker() or self.compare_counters([], last, seq)


# ---------------------------------------------------------------------------------------
# Protocol-level frames: hostile length claims and framing, each on a new connection,
# followed by PING and QUIT; every reply (and whether the connection closes) must be equal.

# PING, then QUIT: the connection always ends with a close, so no reply is waited for in vain.
PING_FRAME = b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n"
RAW_FRAMES = [
    b"*2\r\n$3\r\nGET\r\n$536870913\r\n",        # one byte over proto-max-bulk-len
    b"*2\r\n$3\r\nGET\r\n$9223372036854775808\r\n",
    b"*2\r\n$3\r\nGET\r\n$-5\r\n",
    b"*2\r\n$3\r\nGET\r\n$abc\r\n",
    b"*2\r\n$3\r\nGET\r\n$ 1\r\n",
    b"*2147483648\r\n",
    b"*9223372036854775808\r\n",
    b"*abc\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"*1\r\nx\r\n",
    b"*1\r\n$4\r\nPING\r\n",
    b"PING\r\n",
    b"\r\n",
    b"ECHO \"a b\"\r\n",
    b"ECHO \"a\\x41\\n\"\r\n",
    b"ECHO \"unbalanced\r\n",
    b"ECHO 'x'y\r\n",
    b"$4\r\nPING\r\n",
    b"SET k0 v\nGET k0\n",
    b"*1\r\n$1234567890123456789012345\r\n",
]


def read_all(conn, timeout):
    """Replies until the connection closes or nothing comes for `timeout` seconds."""
    conn.sock.settimeout(timeout)
    out = []
    while len(out) < 10:
        r = conn.read()
        if r == TIMEOUT:
            break
        out.append(r)
        if r == CLOSED:
            break
    return out


def protocol_check(pair):
    failures = 0
    for frame in RAW_FRAMES:
        pair.reset()
        got = []
        for s in (pair.memkv, pair.redis):
            conn = Conn(s.address(), timeout=5)
            conn.send(frame + PING_FRAME)
            got.append(read_all(conn, 5))
            conn.close()
        if got[0] != got[1]:
            failures += 1
            print("protocol mismatch for %r\n  memkv: %s\n  redis: %s" % (
                frame, [format_reply(r) for r in got[0]], [format_reply(r) for r in got[1]]))
        counts = [counters_of(s) for s in (pair.memkv, pair.redis)]  # errors counted alike
        if counts[0] != counts[1]:
            failures += 1
            print("counters differ after %r\n  memkv: %s\n  redis: %s" % (frame, counts[0],
                                                                        counts[1]))
    detail = pair._crash_detail()
    if detail:
        failures += 1
        print("memkv died during the protocol frames:\n" + detail)
    return failures


# ---------------------------------------------------------------------------------------
# Shrinking (delta debugging: drop commands, then simplify arguments)


def shrink(pair, seq, found, budget_s=60):
    deadline = time.monotonic() + budget_s
    sig = found.signature()

    def test(cand):
        if not cand:
            return None
        pair.reset()
        m = pair.run(cand)
        return m if m and m.signature() == sig else None

    seq = seq[:found.index + 1]
    best = found
    n = 2
    while len(seq) >= 2 and time.monotonic() < deadline:
        chunk = math.ceil(len(seq) / n)
        reduced = False
        for start in range(0, len(seq), chunk):
            cand = seq[:start] + seq[start + chunk:]
            m = test(cand)
            if m:
                seq, best = cand[:m.index + 1], m
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(seq):
                break
            n = min(len(seq), n * 2)
    # Simplify arguments: drop one, or replace it by something plainer.
    simpler = [b"", b"0", b"k0", b"v"]  # no "1": PX 1 would race
    changed = True
    while changed and time.monotonic() < deadline:
        changed = False
        for ci in range(len(seq)):
            argv = seq[ci]
            j = 1
            while j < len(argv) and time.monotonic() < deadline:
                cands = [argv[:j] + argv[j + 1:]]
                cands += [argv[:j] + [s] + argv[j + 1:] for s in simpler
                          if len(s) < len(argv[j]) or (len(s) == len(argv[j]) and s < argv[j])]
                for new in cands:
                    cand = seq[:ci] + [new] + seq[ci + 1:]
                    m = test(cand)
                    if m:
                        seq, best, argv, changed = cand[:m.index + 1], m, new, True
                        break
                else:
                    j += 1
                if ci >= len(seq):
                    break
            if ci >= len(seq) - 1:
                break
    pair.reset()
    return seq, best


def case_text(seq, m, origin):
    lines = ["# origin: %s" % origin, "# %s at the last command" % m.kind,
             "# memkv: %s" % format_reply(m.memkv, 500), "# redis: %s" % format_reply(m.redis, 500)]
    if m.detail:
        lines += ["# " + line for line in m.detail.splitlines()[:40]]
    lines += [format_command(a) for a in seq]
    return "\n".join(lines) + "\n"


def save_case(text, m):
    os.makedirs(CASES_DIR, exist_ok=True)
    base = "-".join(x.decode(errors="replace") for x in m.signature()[1:3] if x) or "case"
    base = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in base)
    existing = glob.glob(os.path.join(CASES_DIR, "*.case"))
    num = 1 + max([int(os.path.basename(p).split("-")[0]) for p in existing
                   if os.path.basename(p).split("-")[0].isdigit()] or [0])
    path = os.path.join(CASES_DIR, "%03d-%s-%s.case" % (num, m.kind, base))
    with open(path, "w") as f:
        f.write(text)
    return path


def load_case(path):
    seq = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                seq.append(parse_command(line))
    return seq


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.environ.get("MEMKV_SERVER", os.path.join(
        HERE, "../../build/src/memkv-server")), help="memkv-server binary")
    ap.add_argument("--redis", default="/usr/bin/redis-server", help="redis-server binary")
    ap.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    ap.add_argument("--seeds", type=int, default=1, help="number of seeds (default 1)")
    ap.add_argument("--duration", type=float, default=3.0,
                    help="seconds of commands per seed (default 3)")
    ap.add_argument("--max-commands", type=int, default=0,
                    help="stop a seed after this many commands (0: only --duration)")
    ap.add_argument("--replay", nargs="*", metavar="CASE",
                    help="replay saved cases (all of cases/*.case when none is named)")
    ap.add_argument("--no-save", action="store_true", help="print shrunk cases, save none")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--resp", choices=("2", "3", "mixed"), default="mixed",
                    help="protocol: 2 or 3 throughout, or mixed (default): even seeds start "
                    "with HELLO 3, generated HELLOs switch between 2 and 3, cases are "
                    "replayed in both")
    args = ap.parse_args()
    generator.HELLO_VERSIONS = {"2": [b"2"], "3": [b"3"], "mixed": [b"2", b"3"]}[args.resp]

    if not os.access(args.server, os.X_OK):
        sys.exit("memkv-server not found: %s (--server)" % args.server)
    pair = Pair(args.server, args.redis)
    failures = passes = 0
    recap = []  # one line per failure, repeated last
    # Every command of memkv's table must be covered by the generator: a new command that is
    # not fails here until the generator (and README's list) has it.
    # (COMMAND LIST names subcommands too, as container|sub: their container's generator has
    # them.)
    listed = pair.memkv.conn.call([b"COMMAND", b"LIST"])
    missing = sorted(e[1].decode() for e in listed[1]
                     if b"|" not in e[1] and e[1].decode() not in generator.COVERED)
    if missing:
        failures += 1
        print("generator does not cover: %s" % " ".join(missing))
    try:
        if args.replay is not None:
            cases = args.replay or sorted(glob.glob(os.path.join(CASES_DIR, "*.case")))
            # Each case in each protocol: RESP3 is the case after a HELLO 3.
            protos = {"2": [2], "3": [3], "mixed": [2, 3]}[args.resp]
            for path in cases:
                for proto in protos:
                    pair.reset()
                    seq = load_case(path)
                    name = os.path.basename(path) + (" (RESP3)" if proto == 3 else "")
                    m = pair.run(([[b"HELLO", b"3"]] if proto == 3 else []) + seq)
                    if m:
                        failures += 1
                        recap.append("%s: %s" % (name, m.summary()))
                        print("FAIL %s\n%s" % (name, m.describe()))
                    else:
                        passes += 1
                        print("ok   %s" % name)
        else:
            bad = protocol_check(pair)
            failures += bad
            print("protocol frames: %d, %d mismatched" % (len(RAW_FRAMES), bad))
            for seed in range(args.seed, args.seed + args.seeds):
                rng = random.Random(seed)
                pair.reset()
                start = time.monotonic()
                before = pair.commands_run
                before3 = pair.commands_resp3
                # A RESP3 seed starts with HELLO 3 (in the sequence, so a shrunk case has it)
                # and says it again after each command that may close the connection.
                resp3 = args.resp == "3" or (args.resp == "mixed" and seed % 2 == 0)
                seq = []
                m = None
                deadline = start + args.duration
                while time.monotonic() < deadline and m is None:
                    chunk = generator.gen_sequence(rng, BATCH, resp3)
                    if resp3 and not seq:
                        chunk.insert(0, [b"HELLO", b"3"])
                    if args.max_commands and len(seq) >= args.max_commands:
                        break
                    m = pair.run(chunk)
                    if m:
                        m.index += len(seq)
                    seq += chunk
                ran = pair.commands_run - before
                if m is None:
                    passes += 1
                    print("seed %d%s: %d commands (%d in RESP3) in %.1f s, no mismatch" % (
                        seed, " (RESP3)" if resp3 else "", ran,
                        pair.commands_resp3 - before3, time.monotonic() - start))
                    continue
                failures += 1
                recap.append("seed %d: %s" % (seed, m.summary()))
                print("seed %d: %s" % (seed, m.describe()))
                if not args.no_shrink:
                    seq, m = shrink(pair, seq, m)
                text = case_text(seq, m, "seed %d" % seed)
                print("shrunk to %d command(s):\n%s" % (len(seq), text))
                if not args.no_save:
                    print("saved as %s" % save_case(text, m))
    finally:
        problem = pair.close()
    if problem:
        failures += 1
        print(problem)
        recap.append(problem.splitlines()[0])
    for line in recap:
        print("FAILED " + line.replace("\n", " "))
    print("%d passed, %d failed" % (passes, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
