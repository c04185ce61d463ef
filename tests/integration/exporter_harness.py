"""memkv-exporter under test: the real binary on an ephemeral port, Debian's redis-server beside
memkv-server, and small hostile targets written here (black hole, trickle, garbage, huge INFO).

The exporter is started with --listen 127.0.0.1:0 and prints "listening on http://HOST:PORT/" to
stderr; the harness reads the port from there (no probe-then-bind race). MEMKV_EXPORTER names
the binary (ctest sets it, like MEMKV_SERVER). Teardown sends SIGTERM, expects exit 0 and fails
on any sanitizer report in the exporter's stderr.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

from conftest import SANITIZER_MARKERS
from helpers import free_port, wait_until

EXPORTER = os.environ.get("MEMKV_EXPORTER",
                          os.path.join(os.path.dirname(__file__), "../../build/exporter/memkv-exporter"))
LISTENING = re.compile(r"listening on http://(\[[^\]]+\]|[^:/]+):(\d+)/")


class Exporter:
    """One running memkv-exporter."""

    def __init__(self, args=(), config_text=None, env=None, start_timeout=20.0, exe=None):
        self.dir = tempfile.mkdtemp(prefix="memkv-exporter-test-")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        cmd = [exe or EXPORTER, "--listen", "127.0.0.1:0"]
        if config_text is not None:
            self.config_path = os.path.join(self.dir, "memkv-exporter.conf")
            with open(self.config_path, "w") as f:
                f.write(config_text)
            cmd += ["--config", self.config_path]
        cmd += list(args)
        self.stderr = open(self.stderr_path, "w")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, env=full_env)
        deadline = time.monotonic() + start_timeout
        while True:
            m = LISTENING.search(self.read_stderr())
            if m:
                self.host = m.group(1).strip("[]")
                self.port = int(m.group(2))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("memkv-exporter exited with %s:\n%s" % (self.proc.returncode, self.read_stderr()))
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("memkv-exporter did not print its address")
            time.sleep(0.01)

    def read_stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def get(self, path, headers=None, timeout=30):
        """(status, headers dict (lower-case names), body text)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read().decode("utf-8", "replace")
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def scrape(self, target, headers=None, timeout=30, **params):
        q = "target=" + target + "".join("&%s=%s" % kv for kv in params.items())
        status, _, body = self.get("/scrape?" + q, headers=headers, timeout=timeout)
        assert status == 200, (status, body)
        return body

    def status(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}

    def rss_kb(self):
        s = self.status()
        return int(s["VmRSS"].split()[0]), int(s["RssAnon"].split()[0])

    def sanitized(self):
        with open("/proc/%d/maps" % self.proc.pid) as f:
            maps = f.read()
        return "libasan" in maps or "libubsan" in maps or "libtsan" in maps

    def stop(self, expect_code=0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("memkv-exporter did not exit within 30 s of SIGTERM")
        self.stderr.close()
        err = self.read_stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in err, "sanitizer report in exporter stderr:\n" + err
        if expect_code is not None:
            assert self.proc.returncode == expect_code, "exit code %s, stderr:\n%s" % (self.proc.returncode, err)
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_metrics(text):
    """{(name, ((label, value), ...)): value} of a text-format body (labels sorted)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, "unparsable line: %r" % line
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(metrics, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return metrics.get(key)


def labels_of(metrics, name):
    return [dict(k[1]) for k in metrics if k[0] == name]


def last_error(metrics):
    errs = labels_of(metrics, "memkv_exporter_last_error_info")
    return errs[0]["error"] if errs else ""


class RedisServer:
    """Debian's redis-server on a free port, no save rules; its files in `directory` (kept), or in
    a temporary directory of its own (removed at stop)."""

    def __init__(self, *args, directory=None):
        self.own_dir = directory is None
        self.dir = tempfile.mkdtemp(prefix="memkv-exporter-redis-") if self.own_dir else directory
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", self.dir] + list(args),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_until(self._up, timeout=10):
                return
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("redis-server did not start")

    def _up(self):
        if self.proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def client(self, db=0, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=30, **kw)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class FakeTarget:
    """A TCP listener on 127.0.0.1 whose connections are served by handler(sock) on a thread
    each. accept=False leaves connections in the backlog, never accepted (a black hole)."""

    def __init__(self, handler=None, accept=True, backlog=16):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stopping = False
        self.conns = []
        self.chunks = []  # what each recv() returned, for the pipelining test
        if accept:
            threading.Thread(target=self._accept, daemon=True).start()

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            self.handler(self, c)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def read_request(self, c):
        """Read one pipelined batch of commands (one recv)."""
        data = c.recv(65536)
        self.chunks.append(data)
        return data

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


class Forwarder(FakeTarget):
    """Passes bytes between the exporter and a real server, recording each chunk the exporter's
    side delivered in one recv()."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        super().__init__(handler=Forwarder._relay)

    @staticmethod
    def _relay(self, c):
        up = socket.create_connection(("127.0.0.1", self.upstream_port))

        def back():
            try:
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            finally:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=back, daemon=True).start()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                self.chunks.append(d)
                up.sendall(d)
        finally:
            up.close()


def promtool_check(body):
    r = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode()


def parse_commands(data):
    """The RESP commands (lists of str) in data, as a client pipelines them."""
    cmds, i = [], 0
    while i < len(data):
        assert data[i:i + 1] == b"*", data[i:]
        j = data.index(b"\r\n", i)
        n = int(data[i + 1:j])
        i = j + 2
        args = []
        for _ in range(n):
            j = data.index(b"\r\n", i)
            ln = int(data[i + 1:j])
            args.append(data[j + 2:j + 2 + ln].decode())
            i = j + 2 + ln + 2
        cmds.append(args)
    return cmds


class FakeRedis(FakeTarget):
    """Answers INFO with a recorded text and MEMORY subcommands from `memory` (name -> RESP
    bytes; absent -> an error as a server without it answers); records each batch of
    commands it read in one recv()."""

    def __init__(self, info_text, memory=None):
        self.info_text = info_text.encode() if isinstance(info_text, str) else info_text
        self.memory = memory or {}
        self.batches = []
        super().__init__(handler=FakeRedis._serve_redis)

    @staticmethod
    def _serve_redis(self, c):
        while True:
            data = c.recv(65536)
            if not data:
                return
            cmds = parse_commands(data)
            self.batches.append([" ".join(a).upper() for a in cmds])
            out = b""
            for a in cmds:
                name = a[0].upper()
                if name == "INFO":
                    out += b"$%d\r\n%s\r\n" % (len(self.info_text), self.info_text)
                elif name == "MEMORY":
                    sub = a[1].upper() if len(a) > 1 else ""
                    out += self.memory.get(sub, b"-ERR unknown subcommand '%s'\r\n" % sub.encode())
                elif name == "AUTH":
                    out += b"+OK\r\n"
                else:
                    out += b"-ERR unknown command\r\n"
            c.sendall(out)
