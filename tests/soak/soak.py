#!/usr/bin/python3
"""memkv soak test: hours of what clients, scrapers and operators do, squeezed into minutes.

Starts a real memkv-server (ephemeral ports, a temporary dump directory) and, for --duration
seconds, drives it with:
  - load worker processes (mixed commands over every command group memkv implements: strings,
    keys, expiry, INFO, CONFIG GET, MEMORY, CLIENT, SCAN, ...) over a bounded key space;
  - the heap profiler switched on and off every few seconds with its sample rate changed;
  - heap dumps in every format over RESP (also TOFILE) and over HTTP;
  - /metrics scraped 20 times a second (keep-alive, both exposition formats), /debug/memory
    and /healthz now and then;
  - clients that connect and drop (mid-command, half-written requests, resets), and one client
    that sends commands but never reads its replies;
and samples the server's RSS (/proc/<pid>/status VmRSS) every second.

It fails when the server died or did not exit 0 on SIGTERM, when a sanitizer report is in its
stderr, when a client saw an unexpected error, or when RSS kept growing after the load went
flat (see README.md, "The growth check"). Exit code 0 = pass, 1 = fail, 2 = could not start.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter

import hiredis

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SERVER = os.environ.get("MEMKV_SERVER", os.path.join(HERE, "../../build/src/memkv-server"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
FORMATS = ("PPROF", "RAW", "COLLAPSED", "SVG")
MiB = 1024 * 1024

# Errors a correct server gives to this load: (command, text prefix). Anything else a client
# sees is unexpected and fails the soak.
EXPECTED_ERRORS = (
    ("RENAME", "ERR no such key"),       # the source expired or was deleted meanwhile
    ("RENAMENX", "ERR no such key"),
    ("MEMORY PROFILE LEAKS", "ERR need at least 2 snapshots"),
    ("MEMORY PROFILE SNAPSHOT", "ERR profiling is not active"),
    ("MEMORY PROFILE", "ERR the profiler is busy"),   # its bounded queue, by design
)


def expected_error(cmd, text):
    return any(cmd.startswith(c) and text.startswith(t) for c, t in EXPECTED_ERRORS)


# ---- a raw RESP connection ---------------------------------------------------------------

def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """RESP2 over a socket, replies parsed by hiredis; an error reply comes back as
    hiredis.ReplyError (not raised)."""

    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = hiredis.Reader()

    def read(self):
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.read()

    def pipeline(self, cmds):
        self.sock.sendall(b"".join(encode(*c) for c in cmds))
        return [self.read() for _ in cmds]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def is_error(reply):
    return isinstance(reply, hiredis.ReplyError)


class Stats:
    """Counters shared by the threads of one process (a lock; the figures are small)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = Counter()
        self.errors = Counter()       # "kind: text" -> count, expected ones included
        self.unexpected = []          # the first few unexpected errors, in full

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def error(self, kind, text, unexpected):
        text = text[:160]
        with self.lock:
            self.errors[("unexpected " if unexpected else "expected ") + kind + ": " + text] += 1
            if unexpected:
                self.c["unexpected_errors"] += 1
                if len(self.unexpected) < 20:
                    self.unexpected.append("%s: %s" % (kind, text))

    def snapshot(self):
        with self.lock:
            return {"counters": dict(self.c), "errors": dict(self.errors),
                    "unexpected": list(self.unexpected)}


# ---- the load (worker processes) ---------------------------------------------------------

def make_batch(rnd, keys, worker):
    """A batch of mixed commands over a bounded key space. String keys s:N (values 0..512
    bytes: APPEND and SETRANGE grow them, the SET family rewrites them, so their size stays
    bounded), integer counters n:N, float counters f:N."""
    cmds = []
    for _ in range(rnd.randint(1, 40)):
        k = "s:%d" % rnd.randrange(keys)
        k2 = "s:%d" % rnd.randrange(keys)
        n = "n:%d" % rnd.randrange(keys // 10)
        f = "f:%d" % rnd.randrange(keys // 10)
        val = os.urandom(rnd.randint(0, 256)).hex().encode()[:rnd.randint(0, 512)]
        op = rnd.randrange(100)
        if op < 14:
            cmds.append(("GET", k))
        elif op < 22:
            cmds.append(("SET", k, val))
        elif op < 25:
            cmds.append(("SET", k, val, "EX", rnd.randint(1, 20)))
        elif op < 27:
            cmds.append(("SET", k, val, "PX", rnd.randint(50, 5000), "GET"))
        elif op < 28:
            cmds.append(("SET", k, val, rnd.choice(("NX", "XX")), "KEEPTTL"))
        elif op < 29:
            cmds.append(("SET", k, val, "EXAT", int(time.time()) + rnd.randint(1, 30)))
        elif op < 30:
            cmds.append(("SET", k, val, "PXAT", int(time.time() * 1000) + rnd.randint(10, 9000)))
        elif op < 31:
            cmds.append(("SETNX", k, val))
        elif op < 32:
            cmds.append(("SETEX", k, rnd.randint(1, 10), val))
        elif op < 33:
            cmds.append(("PSETEX", k, rnd.randint(10, 10000), val))
        elif op < 34:
            cmds.append(("GETSET", k, val))
        elif op < 35:
            cmds.append(("GETDEL", k))
        elif op < 36:
            cmds.append(rnd.choice((("GETEX", k), ("GETEX", k, "PERSIST"),
                                    ("GETEX", k, "EX", rnd.randint(1, 30)),
                                    ("GETEX", k, "PX", rnd.randint(10, 30000)))))
        elif op < 38:
            cmds.append(("MGET",) + tuple("s:%d" % rnd.randrange(keys) for _ in range(10)))
        elif op < 39:
            pairs = []
            for _ in range(5):
                pairs += ["s:%d" % rnd.randrange(keys), val]
            cmds.append(("MSET",) + tuple(pairs))
        elif op < 40:
            cmds.append(("MSETNX", "s:%d" % rnd.randrange(keys), val, k2, val))
        elif op < 44:
            cmds.append(rnd.choice((("INCR", n), ("DECR", n), ("INCRBY", n, rnd.randint(-100, 100)),
                                    ("DECRBY", n, rnd.randint(-100, 100)))))
        elif op < 45:
            cmds.append(("INCRBYFLOAT", f, "%.3f" % rnd.uniform(-10, 10)))
        elif op < 47:
            cmds.append(("APPEND", k, val[:16]))
        elif op < 48:
            cmds.append(("STRLEN", k))
        elif op < 49:
            cmds.append(("GETRANGE", k, rnd.randint(0, 50), rnd.randint(-10, 100)))
        elif op < 50:
            cmds.append(("SUBSTR", k, 0, rnd.randint(0, 20)))
        elif op < 51:
            cmds.append(("SETRANGE", k, rnd.randint(0, 256), val[:32]))
        elif op < 54:
            cmds.append((rnd.choice(("DEL", "UNLINK")), k))
        elif op < 56:
            cmds.append(("EXISTS", k, k2))
        elif op < 57:
            cmds.append(("TYPE", k))
        elif op < 59:
            cmds.append(rnd.choice((("EXPIRE", k, rnd.randint(1, 30)),
                                    ("PEXPIRE", k, rnd.randint(10, 30000), "NX"),
                                    ("EXPIREAT", k, int(time.time()) + rnd.randint(1, 30), "GT"),
                                    ("PEXPIREAT", k, int(time.time() * 1000) + 5000, "LT"))))
        elif op < 61:
            cmds.append((rnd.choice(("TTL", "PTTL")), k))
        elif op < 62:
            cmds.append(("PERSIST", k))
        elif op < 63:
            cmds.append((rnd.choice(("RENAME", "RENAMENX")), k, k2))
        elif op < 64:
            cmds.append(("RANDOMKEY",))
        elif op < 65:
            cmds.append(("SCAN", rnd.randrange(1 << 12), "MATCH", "s:1*", "COUNT", 100,
                         *(("TYPE", "string") if rnd.random() < 0.5 else ())))
        elif op < 66:
            cmds.append(("KEYS", "s:%d?" % rnd.randrange(100)))
        elif op < 67:
            cmds.append(("DBSIZE",))
        elif op < 68:
            cmds.append(("INFO", rnd.choice(("memory", "stats", "clients", "keyspace", "server",
                                             "all", "default", "everything"))))
        elif op < 69:
            cmds.append(("CONFIG", "GET", rnd.choice(("maxmemory*", "memory-profiling-*", "*",
                                                      "hz", "metrics-port"))))
        elif op < 70:
            cmds.append(("MEMORY", "USAGE", k))
        elif op < 71:
            cmds.append(("MEMORY", rnd.choice(("STATS", "DOCTOR", "HELP"))))
        elif op < 72:
            cmds.append(rnd.choice((("CLIENT", "ID"), ("CLIENT", "INFO"), ("CLIENT", "GETNAME"),
                                    ("CLIENT", "SETNAME", "worker-%d" % worker),
                                    ("CLIENT", "LIST"))))
        elif op < 73:
            cmds.append(rnd.choice((("PING",), ("ECHO", val[:20]), ("TIME",),
                                    ("COMMAND", "COUNT"), ("COMMAND", "INFO", "get", "set"),
                                    ("SELECT", 0), ("HELLO", 2))))
        elif op < 74:
            cmds.append(("MEMORY", "PROFILE", rnd.choice(("STATUS", "TOP", "SUBSYSTEMS",
                                                          "LEAKS", "SNAPSHOT"))))
        else:
            cmds.append(("GET", k))
    return cmds


def load_worker(worker, port, duration, keys, rate, seed, out):
    """One load process: pipelined batches at about `rate` commands a second."""
    rnd = random.Random(seed)
    st = Stats()
    deadline = time.monotonic() + duration
    conn = None
    sent = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if conn is None:
                conn = Conn(port)
                st.add("connections")
            cmds = make_batch(rnd, keys, worker)
            try:
                replies = conn.pipeline(cmds)
            except (OSError, ConnectionError) as e:
                st.error("connection", "%s: %s" % (type(e).__name__, e), True)
                conn.close()
                conn = None
                time.sleep(0.1)
                continue
            for cmd, rep in zip(cmds, replies):
                if is_error(rep):
                    name = " ".join(str(a) for a in cmd[:3]).upper()
                    text = str(rep)
                    st.error(cmd[0].upper() if cmd[0] != "MEMORY" else " ".join(cmd[:3]),
                             text, not expected_error(name, text))
            st.add("requests", len(cmds))
            sent += len(cmds)
            # Pace to `rate` commands a second: the load is flat, not as fast as possible.
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    except Exception:  # noqa: BLE001 - reported, then the soak fails
        st.error("worker crash", traceback.format_exc().splitlines()[-1], True)
    finally:
        if conn:
            conn.close()
        out.put(st.snapshot())


# ---- the soak (threads in the main process) ----------------------------------------------

class Soak:
    def __init__(self, args):
        self.args = args
        self.stats = Stats()
        self.stop = threading.Event()
        self.rss = []         # (seconds since start, VmRSS bytes)
        self.used = []        # (seconds since start, used_memory)
        self.dir = tempfile.mkdtemp(prefix="memkv-soak-")
        self.dump_dir = os.path.join(self.dir, "dumps")
        os.mkdir(self.dump_dir)
        self.threads = []
        self.proc = None

    # -- server --

    def start_server(self):
        ready = os.path.join(self.dir, "ready")
        self.stdout_path = os.path.join(self.dir, "server.log")
        self.stderr_path = os.path.join(self.dir, "server.err")
        cmd = [self.args.server, "--port", "0", "--metrics-port", "auto", "--ready-file", ready,
               "--memory-profiling-dump-dir", self.dump_dir,
               "--memory-profiling-snapshot-interval", "3",
               # The never-reading client is cut off at 8 MiB of pending replies (Redis's
               # limit for normal clients is none; memkv's default 1 GiB would let it hold
               # that much memory for a minute).
               "--client-output-buffer-limit", "normal 8mb 4mb 5",
               "--maxclients", "1000"]
        self.out = open(self.stdout_path, "w")
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("memkv-server did not start: %s" % self.read(self.stderr_path))
            time.sleep(0.01)
        fields = dict(line.split("=", 1) for line in open(ready).read().split())
        self.port = int(fields["port"])
        self.http_port = int(fields["metrics_port"])
        self.pid = self.proc.pid

    @staticmethod
    def read(path):
        with open(path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    # -- helpers for the threads --

    def thread(self, fn, name):
        def run():
            try:
                fn()
            except Exception:  # noqa: BLE001
                self.stats.error("thread " + name, traceback.format_exc().splitlines()[-1], True)
        t = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(t)
        t.start()

    def now(self):
        return time.monotonic() - self.t0

    def check(self, kind, cmd, reply):
        if is_error(reply):
            text = str(reply)
            self.stats.error(kind, text, not expected_error(cmd, text))
            return False
        return True

    # -- RSS and used memory, every second --

    def sampler(self):
        conn = Conn(self.port)
        next_t = time.monotonic()
        while not self.stop.is_set():
            try:
                with open("/proc/%d/status" % self.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.rss.append((self.now(), int(line.split()[1]) * 1024))
            except OSError:
                return  # the server is gone: the main loop notices
            info = conn.call("INFO", "memory")
            if self.check("INFO", "INFO", info):
                for line in info.decode().split("\r\n"):
                    if line.startswith("used_memory:"):
                        self.used.append((self.now(), int(line.split(":")[1])))
            next_t += 1.0
            self.stop.wait(max(0.0, next_t - time.monotonic()))
        conn.close()

    # -- the profiler switched on and off, its rate changed --

    def profiler_switch(self):
        rnd = random.Random(self.args.seed + 1)
        conn = Conn(self.port)
        on = False
        while not self.stop.wait(rnd.uniform(2.0, 4.0)):
            on = not on
            sample = rnd.choice(("4kb", "16kb", "64kb", "512kb", "1mb"))
            for args in (("CONFIG", "SET", "memory-profiling-sample-bytes", sample),
                         ("CONFIG", "SET", "memory-profiling-enabled", "yes" if on else "no")):
                if self.check("CONFIG SET", "CONFIG SET", conn.call(*args)):
                    self.stats.add("profiler_switches")
            if rnd.random() < 0.2:
                self.check("MEMORY PROFILE", "MEMORY PROFILE RESET",
                           conn.call("MEMORY", "PROFILE", "RESET"))
            if rnd.random() < 0.2:
                self.check("KPROFILE", "KPROFILE", conn.call("KPROFILE", "MEMORY", "STATUS"))
        conn.close()

    # -- dumps over RESP (in the reply and TOFILE) --

    def resp_dumps(self):
        rnd = random.Random(self.args.seed + 2)
        conn = Conn(self.port, timeout=120)
        i = 0
        while not self.stop.wait(rnd.uniform(0.3, 1.0)):
            fmt = FORMATS[i % 4]
            tofile = (i // 4) % 2 == 1
            i += 1
            args = ("MEMORY", "PROFILE", "DUMP", fmt) + (("TOFILE",) if tofile else ())
            reply = conn.call(*args)
            if not self.check("DUMP", "MEMORY PROFILE DUMP", reply):
                continue
            if tofile:
                path = reply.decode()
                # An empty COLLAPSED profile is right when nothing is sampled (just reset).
                if os.path.dirname(path) != self.dump_dir or (
                        fmt != "COLLAPSED" and os.path.getsize(path) == 0):
                    self.stats.error("DUMP TOFILE", "bad file %r" % path, True)
                if os.path.dirname(path) == self.dump_dir:
                    os.unlink(path)  # the disk use stays bounded
                self.stats.add("dumps_resp_tofile")
            else:
                if not reply and fmt != "COLLAPSED":
                    self.stats.error("DUMP", "empty %s dump" % fmt, True)
                self.stats.add("dumps_resp")
            if rnd.random() < 0.1:
                reply = conn.call("KPROFILE", "MEMORY", "DUMP")
                if self.check("KPROFILE", "KPROFILE DUMP", reply):
                    os.unlink(reply.decode())
                    self.stats.add("dumps_resp_tofile")

    # -- dumps over HTTP, and /debug/memory now and then --

    def http_get(self, conn, path, accept=None):
        headers = {"Accept": accept} if accept else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body

    def http_dumps(self):
        rnd = random.Random(self.args.seed + 3)
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=120)
        i = 0
        while not self.stop.wait(rnd.uniform(0.5, 1.5)):
            fmt = FORMATS[i % 4].lower()
            i += 1
            try:
                status, body = self.http_get(conn, "/debug/pprof/heap?format=" + fmt)
                if status != 200 or (not body and fmt != "collapsed"):
                    self.stats.error("HTTP pprof", "%d %r" % (status, body[:100]), True)
                else:
                    self.stats.add("dumps_http")
                if i % 5 == 0:
                    status, body = self.http_get(conn, "/debug/memory")
                    if status != 200:
                        self.stats.error("HTTP /debug/memory", str(status), True)
                    else:
                        json.loads(body)
                        self.stats.add("debug_memory")
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.stats.error("HTTP pprof", "%s: %s" % (type(e).__name__, e), True)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=120)

    # -- /metrics 20 times a second --

    def scraper(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        period = 1.0 / self.args.scrape_hz
        next_t = time.monotonic()
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                status, body = self.http_get(conn, "/metrics",
                                             OPENMETRICS_ACCEPT if i % 2 else None)
                if status != 200 or b"memkv_memory_used_bytes" not in body:
                    self.stats.error("HTTP /metrics", "%d %r" % (status, body[:100]), True)
                elif i % 2 and not body.endswith(b"# EOF\n"):
                    self.stats.error("HTTP /metrics", "OpenMetrics body without # EOF", True)
                else:
                    self.stats.add("scrapes")
                if i % 100 == 0:
                    status, body = self.http_get(conn, "/healthz")
                    if status != 200:
                        self.stats.error("HTTP /healthz", str(status), True)
            except (OSError, http.client.HTTPException) as e:
                self.stats.error("HTTP /metrics", "%s: %s" % (type(e).__name__, e), True)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
            next_t += period
            delay = next_t - time.monotonic()
            if delay < -1.0:
                next_t = time.monotonic()  # fell behind (a slow host): do not burst
            self.stop.wait(max(0.0, delay))

    # -- clients that connect and drop --

    def churn(self):
        rnd = random.Random(self.args.seed + 4)
        partials = (
            b"*3\r\n$3\r\nSET\r\n$5\r\nchurn",                 # in the middle of an argument
            b"*2\r\n$3\r\nGET\r\n",                             # an argument short
            b"*3\r\n$3\r\nSET\r\n$5\r\nchurn\r\n$100000\r\n" + b"x" * 5000,  # half a bulk
            b"GET s:1",                                         # inline, no newline
            b"*1000000\r\n",                                    # a huge announced array
            encode("PING") + b"*2\r\n$4\r\nECHO\r\n$3\r\nab",   # one full, one half
            encode("MEMORY", "PROFILE", "DUMP", "COLLAPSED"),   # a dump, then gone
            encode("CLIENT", "LIST") * 3,                       # replies never read
        )
        while not self.stop.wait(rnd.uniform(0.02, 0.08)):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                what = rnd.randrange(len(partials) + 2)
                if what < len(partials):
                    s.sendall(partials[what])
                    if rnd.random() < 0.5:
                        # a reset instead of a FIN
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                elif what == len(partials):
                    c = Conn.__new__(Conn)
                    c.sock, c.reader = s, hiredis.Reader()
                    if c.call("PING") != b"PONG":
                        self.stats.error("churn", "PING", True)
                    c.sock.sendall(encode("QUIT"))
                    c.read()
                # else: connect and close at once
                s.close()
                self.stats.add("churn_connections")
            except (OSError, ConnectionError) as e:
                self.stats.error("churn", "%s: %s" % (type(e).__name__, e), True)

    # -- a client that sends and never reads --

    def never_reader(self):
        rnd = random.Random(self.args.seed + 5)
        setup = Conn(self.port)
        self.check("SET", "SET", setup.call("SET", "never-reader:big", b"r" * 65536))
        setup.close()
        s = None
        while not self.stop.wait(0.05):
            try:
                if s is None:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.sendall(encode("CLIENT", "SETNAME", "never-reader"))
                    self.stats.add("never_reader_connections")
                s.sendall(encode("GET", "never-reader:big") * rnd.randint(1, 8))
                self.stats.add("never_reader_requests")
            except (OSError, socket.timeout):
                # Cut off by client-output-buffer-limit or CLIENT KILL (or our send blocked on a
                # full window): what a server must do with such a client. Start over.
                self.stats.add("never_reader_dropped")
                s.close()
                s = None

    # -- an occasional full SCAN, MEMORY MALLOC-STATS / PURGE, FLUSHDB of another db --

    def admin(self):
        rnd = random.Random(self.args.seed + 6)
        conn = Conn(self.port)
        while not self.stop.wait(rnd.uniform(1.0, 3.0)):
            cursor, seen = b"0", 0
            while True:
                reply = conn.call("SCAN", cursor, "COUNT", 500)
                if not self.check("SCAN", "SCAN", reply):
                    break
                cursor, keys = reply
                seen += len(keys)
                if cursor == b"0":
                    break
            self.stats.add("full_scans")
            for args in (("MEMORY", "MALLOC-STATS"), ("MEMORY", "PURGE"),
                         ("CONFIG", "RESETSTAT"), ("SELECT", 3),
                         ("MSET", "db3:a", "1", "db3:b", "2"), ("FLUSHDB",), ("SELECT", 0)):
                if rnd.random() < 0.5 or args[0] in ("SELECT", "FLUSHDB", "MSET"):
                    self.check(args[0], " ".join(str(x) for x in args[:2]), conn.call(*args))
            listing = conn.call("CLIENT", "LIST")
            if self.check("CLIENT", "CLIENT LIST", listing) and rnd.random() < 0.3:
                # Now and then the never-reading client is killed, its replies still pending.
                for line in listing.decode().splitlines():
                    if " name=never-reader " in line:
                        cid = line.split(" ", 1)[0][3:]
                        if self.check("CLIENT", "CLIENT KILL",
                                      conn.call("CLIENT", "KILL", "ID", cid)):
                            self.stats.add("client_kills")
                        break
        conn.close()

    # -- run --

    def run(self):
        a = self.args
        self.start_server()
        self.t0 = time.monotonic()
        print("memkv soak: pid %d, port %d, metrics port %d, %d s, %d workers at %d cmd/s each, "
              "%d keys" % (self.pid, self.port, self.http_port, a.duration, a.workers, a.rate,
                           a.keys), flush=True)
        out = multiprocessing.Queue()
        workers = [multiprocessing.Process(target=load_worker,
                                           args=(w, self.port, a.duration, a.keys, a.rate,
                                                 a.seed * 100 + w, out), daemon=True)
                   for w in range(a.workers)]
        for w in workers:
            w.start()
        self.thread(self.sampler, "sampler")
        self.thread(self.profiler_switch, "profiler")
        self.thread(self.resp_dumps, "resp-dumps")
        self.thread(self.http_dumps, "http-dumps")
        self.thread(self.scraper, "scraper")
        self.thread(self.churn, "churn")
        self.thread(self.never_reader, "never-reader")
        self.thread(self.admin, "admin")
        died = None
        next_report = 30
        while self.now() < a.duration:
            time.sleep(0.5)
            if not self.alive():
                died = "memkv-server exited with %s during the soak" % self.proc.returncode
                break
            if self.now() >= next_report:
                next_report += 30
                c = self.stats.snapshot()["counters"]
                rss = self.rss[-1][1] / MiB if self.rss else 0
                print("  %4.0f s: RSS %.1f MiB, scrapes %d, dumps %d, unexpected errors %d" % (
                    self.now(), rss, c.get("scrapes", 0),
                    c.get("dumps_resp", 0) + c.get("dumps_resp_tofile", 0) + c.get("dumps_http", 0),
                    c.get("unexpected_errors", 0)), flush=True)
        self.stop.set()
        results = []
        for _ in workers:
            try:
                results.append(out.get(timeout=60))
            except Exception:  # noqa: BLE001
                results.append({"counters": {"unexpected_errors": 1},
                                "errors": {"unexpected worker: no result": 1},
                                "unexpected": ["worker: no result"]})
        for w in workers:
            w.join(timeout=10)
        for t in self.threads:
            t.join(timeout=60)
        return self.finish(died, results)

    def finish(self, died, results):
        a = self.args
        # Stop the server: SIGTERM, exit 0 promptly.
        exit_problem = None
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                exit_problem = "did not exit within 30 s of SIGTERM"
            if self.proc.returncode != 0 and not exit_problem:
                exit_problem = "exit code %s after SIGTERM" % self.proc.returncode
        self.out.close()
        self.err.close()
        stderr = self.read(self.stderr_path)
        sanitizer = [m for m in SANITIZER_MARKERS if m in stderr]

        mine = self.stats.snapshot()
        counters, errors, unexpected = Counter(mine["counters"]), Counter(mine["errors"]), \
            list(mine["unexpected"])
        for r in results:
            counters.update(r["counters"])
            errors.update(r["errors"])
            unexpected += r["unexpected"]
        growth = growth_check(self.rss, a.rss_tolerance, a.rss_slack_mib * MiB)
        report = {
            "duration_s": round(self.now(), 1),
            "requests": counters.get("requests", 0),
            "requests_per_s": round(counters.get("requests", 0) / max(1.0, self.now())),
            "dumps_resp": counters.get("dumps_resp", 0),
            "dumps_resp_tofile": counters.get("dumps_resp_tofile", 0),
            "dumps_http": counters.get("dumps_http", 0),
            "scrapes": counters.get("scrapes", 0),
            "debug_memory": counters.get("debug_memory", 0),
            "profiler_switches": counters.get("profiler_switches", 0),
            "churn_connections": counters.get("churn_connections", 0),
            "never_reader": {k: counters.get(k, 0) for k in
                             ("never_reader_connections", "never_reader_requests",
                              "never_reader_dropped")},
            "full_scans": counters.get("full_scans", 0),
            "client_kills": counters.get("client_kills", 0),
            "errors_by_kind": dict(sorted(errors.items(), key=lambda kv: -kv[1])),
            "unexpected_errors": counters.get("unexpected_errors", 0),
            "unexpected_examples": unexpected[:20],
            "rss": growth,
            "used_memory_first_last_peak": [self.used[0][1], self.used[-1][1],
                                            max(u for _, u in self.used)] if self.used else None,
            "server_died": died,
            "server_exit": exit_problem,
            "sanitizer": sanitizer,
        }
        failures = []
        if died:
            failures.append(died)
        if exit_problem:
            failures.append("server " + exit_problem)
        if sanitizer:
            failures.append("sanitizer report in the server's stderr")
        if report["unexpected_errors"]:
            failures.append("%d unexpected errors" % report["unexpected_errors"])
        if not growth["ok"]:
            failures.append("RSS kept growing: " + growth["verdict"])
        if not died and (report["scrapes"] < a.scrape_hz * self.now() * 0.5):
            failures.append("only %d scrapes in %.0f s" % (report["scrapes"], self.now()))
        report["failures"] = failures
        report["pass"] = not failures
        print_report(report, self.rss)
        if a.report:
            with open(a.report, "w") as f:
                json.dump(dict(report, rss_series=self.rss, used_memory_series=self.used), f,
                          indent=1)
        if failures:
            print("server log tail:\n" + "".join(self.read(self.stdout_path).splitlines(True)[-30:]))
            print("server stderr tail:\n" + stderr[-3000:])
        if a.keep or failures:
            print("server log and stderr kept in " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 0 if not failures else 1


def growth_check(rss, tolerance, slack):
    """After the first third (warm-up: key space filling, jemalloc's arenas and decay settling,
    the profiler's first activations), the load is flat. RSS must not keep growing: the median
    of the last third may exceed the median of the middle third by at most
    max(slack, tolerance x that median). Medians, so a dump's transient buffers, a MALLOC-STATS
    reply or a profiler activation spike do not decide; thirds of at least 30 samples, so
    jemalloc's 10 s decay and the 2-4 s profiler switching are averaged over."""
    out = {"samples": len(rss), "ok": True, "verdict": "too few samples to judge"}
    if not rss:
        out["ok"] = False
        return out
    values = [v for _, v in rss]
    out.update(first=values[0], last=values[-1], peak=max(values))
    n = len(values)
    if n < 30:
        return out
    middle = values[n // 3: 2 * n // 3]
    last = values[2 * n // 3:]
    m_mid, m_last = statistics.median(middle), statistics.median(last)
    allowed = max(slack, tolerance * m_mid)
    out.update(median_middle=m_mid, median_last=m_last, max_middle=max(middle),
               max_last=max(last), allowed_growth=allowed, growth=m_last - m_mid)
    out["ok"] = m_last - m_mid <= allowed
    out["verdict"] = "median RSS last third %.1f MiB vs middle third %.1f MiB: %+.1f MiB " \
                     "(allowed %+.1f MiB)" % (m_last / MiB, m_mid / MiB, (m_last - m_mid) / MiB,
                                              allowed / MiB)
    return out


def print_report(r, rss):
    g = r["rss"]
    print("memkv soak: %s after %.0f s" % ("PASS" if r["pass"] else "FAIL", r["duration_s"]))
    print("  requests %d (%d/s), churned connections %d, full scans %d, CLIENT KILLs %d" % (
        r["requests"], r["requests_per_s"], r["churn_connections"], r["full_scans"],
        r["client_kills"]))
    print("  dumps: RESP %d, RESP TOFILE %d, HTTP %d; /metrics scrapes %d; /debug/memory %d; "
          "profiler switches %d" % (r["dumps_resp"], r["dumps_resp_tofile"], r["dumps_http"],
                                   r["scrapes"], r["debug_memory"], r["profiler_switches"]))
    nr = r["never_reader"]
    print("  never-reading client: %d connections, %d sends, cut off %d times" % (
        nr["never_reader_connections"], nr["never_reader_requests"], nr["never_reader_dropped"]))
    if "first" in g:
        print("  RSS: first %.1f MiB, last %.1f MiB, peak %.1f MiB (%d samples)" % (
            g["first"] / MiB, g["last"] / MiB, g["peak"] / MiB, g["samples"]))
    print("  growth check: " + g["verdict"])
    if r["used_memory_first_last_peak"]:
        f, l, p = r["used_memory_first_last_peak"]
        print("  used_memory: first %.1f MiB, last %.1f MiB, peak %.1f MiB" % (
            f / MiB, l / MiB, p / MiB))
    if rss:
        # RSS over time, one figure per tenth of the run.
        step = max(1, len(rss) // 10)
        print("  RSS over time: " + ", ".join("%ds %.1f" % (t, v / MiB) for t, v in rss[::step]))
    print("  errors by kind (%d unexpected):" % r["unexpected_errors"])
    for k, v in list(r["errors_by_kind"].items())[:25]:
        print("    %7d  %s" % (v, k))
    if not r["errors_by_kind"]:
        print("    none")
    for f in r["failures"]:
        print("  FAILED: " + f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=180, help="seconds of load (default 180)")
    p.add_argument("--server", default=DEFAULT_SERVER, help="memkv-server binary")
    p.add_argument("--workers", type=int, default=2, help="load processes (default 2)")
    p.add_argument("--rate", type=int, default=4000,
                   help="commands a second per load process (default 4000)")
    p.add_argument("--keys", type=int, default=5000, help="string keys in the key space")
    p.add_argument("--scrape-hz", type=float, default=20, help="/metrics scrapes a second")
    p.add_argument("--rss-tolerance", type=float, default=0.10,
                   help="allowed growth of the median RSS, last third vs middle third (0.10)")
    p.add_argument("--rss-slack-mib", type=float, default=4,
                   help="allowed growth in MiB when that is more than the tolerance (4)")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    p.add_argument("--report", help="write the figures (and the RSS series) as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the server's log directory")
    a = p.parse_args()
    if not os.access(a.server, os.X_OK):
        print("no memkv-server at %s (build it, or pass --server)" % a.server)
        return 2
    print("seed %d" % a.seed)
    soak = Soak(a)
    try:
        return soak.run()
    except RuntimeError as e:
        print(e)
        return 2
    finally:
        if soak.proc and soak.proc.poll() is None:
            soak.proc.kill()


if __name__ == "__main__":
    sys.exit(main())
