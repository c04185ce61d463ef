"""Integration-test harness: starts the real memkv-server on an ephemeral port.

The server writes the port it actually bound to a ready file (--port 0 --ready-file F), so
tests never race for ports and can run in parallel. Teardown sends SIGTERM, expects exit code
0, and fails on any sanitizer report in the server's stderr.

MEMKV_SERVER_WRAPPER (optional) is a command the server is started under, e.g.
"valgrind --error-exitcode=99 -q --log-file={log}" (the valgrind.* ctest entries set it): "{log}"
becomes a file in the server's temporary directory, which teardown reads too, failing on any
report in it (tests/sanitizers/vgcheck.py). Under a wrapper, start-up and shutdown waits are
multiplied by MEMKV_TIMEOUT_SCALE (default 10), and under valgrind the tests that measure latency
or throughput are skipped with a reason (the `timing` mark below).
"""
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import redis

from helpers import RedisLikeMemkv, Resp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sanitizers"))
from vgcheck import log_errors  # noqa: E402 (shared with the valgrind.unit.* runs)

SERVER = os.environ.get("MEMKV_SERVER", os.path.join(os.path.dirname(__file__), "../../build/src/memkv-server"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")
WRAPPER = shlex.split(os.environ.get("MEMKV_SERVER_WRAPPER", ""))
UNDER_VALGRIND = any(os.path.basename(w) == "valgrind" for w in WRAPPER)
TIMEOUT_SCALE = float(os.environ.get("MEMKV_TIMEOUT_SCALE", "10")) if WRAPPER else 1.0
# A test that measures latency or throughput: it cannot hold under valgrind's 20-50x slowdown.
timing = pytest.mark.skipif(UNDER_VALGRIND, reason="measures latency/throughput: not under valgrind")


class MemkvServer:
    """One running memkv-server process."""

    def __init__(self, args=(), config_text=None, start_timeout=20.0, wrapper=(), preexec_fn=None):
        """wrapper: a command the server runs under (e.g. setpriv ...); preexec_fn: run in the
        child before exec (e.g. to set a resource limit)."""
        self.dir = tempfile.mkdtemp(prefix="memkv-test-")
        self.ready = os.path.join(self.dir, "ready")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.wrapper_log = os.path.join(self.dir, "wrapper.log")
        start_timeout *= TIMEOUT_SCALE
        cmd = list(wrapper) + [w.replace("{log}", self.wrapper_log) for w in WRAPPER] + [SERVER]
        if config_text is not None:
            self.config_path = os.path.join(self.dir, "memkv.conf")
            with open(self.config_path, "w") as f:
                f.write(config_text)
            cmd.append(self.config_path)
        # Both ports ephemeral: "--port 0" and "--metrics-port auto" (0 switches the HTTP
        # endpoint off); the ready file says which ports were bound.
        cmd += ["--port", "0", "--metrics-port", "auto", "--ready-file", self.ready] + list(args)
        self.stdout = open(self.stdout_path, "w")
        self.stderr = open(self.stderr_path, "w")
        # cwd: the server's own directory, so the default `dir ./` never shares a dump.rdb
        # between tests.
        self.proc = subprocess.Popen(cmd, stdout=self.stdout, stderr=self.stderr, stdin=subprocess.DEVNULL,
                                     preexec_fn=preexec_fn, cwd=self.dir)
        deadline = time.monotonic() + start_timeout
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None:
                raise RuntimeError("memkv-server exited with %s during start-up:\n%s\n%s" % (
                    self.proc.returncode, self.read_stdout(), self.read_stderr()))
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("memkv-server did not become ready")
            time.sleep(0.01)
        fields = dict(line.split("=", 1) for line in open(self.ready).read().split())
        self.port = int(fields["port"])
        self.metrics_port = int(fields.get("metrics_port", 0))
        self.host = "127.0.0.1"

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def cli(self, *args, input=None, check=True, timeout=60):
        """Run redis-cli against this server; returns the completed process."""
        cmd = ["redis-cli", "-h", self.host, "-p", str(self.port)] + [str(a) for a in args]
        return subprocess.run(cmd, input=input, capture_output=True, text=True, check=check, timeout=timeout)

    def read_stdout(self):
        if not self.stdout.closed:
            self.stdout.flush()
        with open(self.stdout_path) as f:
            return f.read()

    def read_stderr(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, expect_code=0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60 * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("memkv-server did not exit within %d s of SIGTERM" % (60 * TIMEOUT_SCALE))
        self.stdout.close()
        self.stderr.close()
        err = self.read_stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in err, "sanitizer report in server stderr:\n" + err
        if os.path.exists(self.wrapper_log):
            with open(self.wrapper_log) as f:
                bad = log_errors(f.read())
            assert not bad, "valgrind reports (%s):\n%s" % (self.wrapper_log, "\n\n".join(bad))
        if expect_code is not None:
            assert self.proc.returncode == expect_code, "exit code %s, stderr:\n%s\nstdout:\n%s" % (
                self.proc.returncode, err, self.read_stdout())


@pytest.fixture
def server_factory():
    started = []

    def start(*args, **kw):
        s = MemkvServer(*args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def r(server):
    c = server.client()
    yield c
    c.close()


@pytest.fixture(params=["memkv", pytest.param("redis", marks=pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs Debian's redis-server"))])
def both(request, server_factory):
    """The server under test: memkv, then Debian's redis-server 7.0, both with DEBUG enabled:
    each expectation of the test is proved against Redis in the same run."""
    if request.param == "memkv":
        yield server_factory(("--enable-debug-command", "yes"))
    else:
        s = RedisLikeMemkv("--enable-debug-command", "yes")
        yield s
        s.stop()


@pytest.fixture
def c(server):
    """A raw RESP2 connection (helpers.Resp) to the server."""
    conn = Resp(server)
    yield conn
    conn.close()
