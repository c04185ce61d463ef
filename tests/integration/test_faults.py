"""Faults from the world around memkv, on the real server: a dump directory that cannot be
written or is full, a file-size limit, maxclients reached, slow HTTP clients (slowloris, a
header byte a second), SIGTERM while dumps are in flight, and clients that leave while their
profiler job runs. In each case the server must report the problem clearly (an -ERR to the
client, a log line, a counter), leave no partial file behind, and go on serving.

We run as root (the project's machines and CI do), and root writes into a 0555 directory
anyway (CAP_DAC_OVERRIDE): the unwritable-directory test starts the server with that
capability (and its relatives) dropped from the bounding set by setpriv(1), so the mode bits
bind it; a second form puts the directory on a read-only bind mount (EROFS). The full disk is
a 64 KiB tmpfs mounted for the test. A test that needs root for this checks for it and fails
with the reason rather than skipping.

Two builds run this file. In the ASan+UBSan one (libc malloc) there is no heap profiler: the
dump tests then check that every dump answers the clear "heap profiling is unavailable" error
and that the server is unharmed; the other tests are the same in both builds.
"""
import gzip
import http.client
import os
import resource
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

from helpers import Resp, info_fields, mem_info, wait_until

UNAVAILABLE = "ERR heap profiling is unavailable: "
FORMATS = ("PPROF", "RAW", "COLLAPSED", "SVG")
EXT = {"PPROF": ".pb.gz", "RAW": ".heap", "COLLAPSED": ".folded", "SVG": ".svg"}


# ---- helpers ----

def has_profiling(c):
    fields = mem_info(c)
    jemalloc = fields["mem_allocator"].startswith("jemalloc-")
    assert fields["memkv_profiling_available"] == ("1" if jemalloc else "0"), fields
    return jemalloc


def http_get(port, path, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def metric_value(port, name):
    status, body = http_get(port, "/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def fill_profile(c, keys=3000):
    """Some sampled allocations from a few call sites, so that dumps have content."""
    replies = c.pipeline([("SET", "fill:%d" % i, "v" * (20 + i % 300)) for i in range(keys)])
    assert replies == [b"OK"] * keys


def profiled_server(server_factory, dump_dir, *extra, **kw):
    args = ["--memory-profiling-enabled", "yes", "--memory-profiling-sample-bytes", "4096",
            "--memory-profiling-snapshot-interval", "0", "--memory-profiling-dump-dir", dump_dir]
    return server_factory(args + list(extra), **kw)


def assert_unavailable(reply):
    assert isinstance(reply, str) and reply.startswith(UNAVAILABLE), reply


def dump_errors(c):
    return int(mem_info(c)["memkv_profiling_dump_errors"])


def assert_dump_fails_cleanly(s, c, dump_dir, reason_words):
    """Every format to a file: a clear -ERR naming the cause, a log line, the counter, no file
    left; then the server goes on serving (a dump in the reply, over HTTP too)."""
    before = dump_errors(c)
    for n, fmt in enumerate(FORMATS):
        reply = c("MEMORY", "PROFILE", "DUMP", fmt, "TOFILE", "fault-%d%s" % (n, EXT[fmt]))
        assert isinstance(reply, str) and reply.startswith("ERR "), reply
        assert any(w in reply for w in reason_words), reply
        assert os.listdir(dump_dir) == [], os.listdir(dump_dir)
    reply = c("KPROFILE", "MEMORY", "DUMP")
    assert isinstance(reply, str) and any(w in reply for w in reason_words), reply
    assert dump_errors(c) == before + len(FORMATS) + 1
    assert metric_value(s.metrics_port, "memkv_profiling_dump_errors_total") == before + 5
    # One warning line per failure, saying what failed and why.
    assert wait_until(lambda: s.read_stdout().count("heap profile dump failed:") >= 5), \
        s.read_stdout()[-2000:]
    line = [ln for ln in s.read_stdout().splitlines() if "heap profile dump failed:" in ln][-1]
    assert " # profiler: " in line and any(w in line for w in reason_words), line
    assert os.listdir(dump_dir) == []
    # Still serving, and dumps that need no file still work.
    assert c("PING") == b"PONG"
    assert c("SET", "after", "1") == b"OK" and c("GET", "after") == b"1"
    assert c("MEMORY", "PROFILE", "DUMP", "RAW").startswith(b"heap_v2/")
    status, body = http_get(s.metrics_port, "/debug/pprof/heap?format=collapsed")
    assert status == 200, (status, body[:200])


def check_whole(path):
    """A dump file that is complete in its format."""
    name = os.path.basename(path)
    if name.endswith(".svg"):
        ET.parse(path)
    elif name.endswith(".pb.gz"):
        with gzip.open(path) as f:
            assert f.read()
    elif name.endswith(".heap"):
        with open(path) as f:
            text = f.read()
        assert text.startswith("heap_v2/") and "MAPPED_LIBRARIES:" in text, path
    elif name.endswith(".folded"):
        with open(path) as f:
            for line in f.read().splitlines():
                assert line.rsplit(" ", 1)[1].isdigit(), line
    else:
        raise AssertionError("unexpected file %s" % name)


def need_root(what):
    assert os.geteuid() == 0, "%s needs root (the project's machines and CI run as root)" % what


# ---- the dump directory cannot be written ----

def test_dump_dir_without_write_permission(server_factory, tmp_path):
    """chmod 0555, and a server that root's CAP_DAC_OVERRIDE does not let past the mode bits."""
    dump_dir = str(tmp_path / "dumps")
    os.mkdir(dump_dir)
    os.chmod(dump_dir, 0o555)
    wrapper = ()
    if os.geteuid() == 0:
        # Root writes there anyway: check, then drop the capabilities that allow it.
        probe = os.path.join(dump_dir, "probe")
        open(probe, "w").close()
        os.unlink(probe)
        wrapper = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--")
    try:
        s = profiled_server(server_factory, dump_dir, wrapper=wrapper)
        c = Resp(s)
        if not has_profiling(c):
            assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE"))
            assert c("PING") == b"PONG"
            return
        fill_profile(c)
        assert_dump_fails_cleanly(s, c, dump_dir, ("Permission denied",))
        # Writable again: the next dump works.
        os.chmod(dump_dir, 0o755)
        path = c("MEMORY", "PROFILE", "DUMP", "SVG", "TOFILE").decode()
        assert os.path.dirname(path) == dump_dir
        ET.parse(path)
        c.close()
    finally:
        os.chmod(dump_dir, 0o755)


def test_dump_dir_on_read_only_mount(server_factory, tmp_path):
    need_root("a read-only bind mount")
    dump_dir = str(tmp_path / "dumps")
    os.mkdir(dump_dir)
    subprocess.run(["mount", "--bind", dump_dir, dump_dir], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", dump_dir], check=True)
        s = profiled_server(server_factory, dump_dir)
        c = Resp(s)
        if not has_profiling(c):
            assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "SVG", "TOFILE"))
            return
        fill_profile(c)
        assert_dump_fails_cleanly(s, c, dump_dir, ("Read-only file system",))
        c.close()
    finally:
        subprocess.run(["umount", dump_dir], check=True)


# ---- the dump directory is full ----

def test_dump_dir_full(server_factory, tmp_path):
    """A 64 KiB tmpfs, filled up: writing a dump fails with ENOSPC part-way (a file was
    created and partly written): the part is removed, nothing is left."""
    need_root("mounting a tmpfs")
    dump_dir = str(tmp_path / "dumps")
    os.mkdir(dump_dir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "memkv-test-full",
                    dump_dir], check=True)
    try:
        s = profiled_server(server_factory, dump_dir)
        c = Resp(s)
        if not has_profiling(c):
            assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "SVG", "TOFILE"))
            return
        fill_profile(c)
        # What fits now: a dump that works. Then the disk is filled but for a few bytes, so that
        # the next dump's file is created and its write fails part-way.
        path = c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE").decode()
        assert os.path.getsize(path) > 1000
        os.unlink(path)
        filler = os.path.join(dump_dir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        # One page free (tmpfs counts pages): a dump bigger than that is cut off part-way.
        os.truncate(filler, os.path.getsize(filler) - 4096)
        before = dump_errors(c)
        failed = []
        for n, fmt in enumerate(FORMATS):
            reply = c("MEMORY", "PROFILE", "DUMP", fmt, "TOFILE", "full-%d%s" % (n, EXT[fmt]))
            if isinstance(reply, bytes):
                # A small profile may fit in the page left: then it is whole.
                check_whole(reply.decode())
                os.unlink(reply.decode())
                continue
            assert "No space left on device" in reply, (fmt, reply)
            assert sorted(os.listdir(dump_dir)) == ["filler"], os.listdir(dump_dir)
            failed.append(fmt)
        # jemalloc's raw dump carries a copy of /proc/self/maps: never under a page.
        assert "RAW" in failed, failed
        assert dump_errors(c) == before + len(failed)
        assert "heap profile dump failed: writing " in s.read_stdout()
        assert c("PING") == b"PONG"
        assert c("MEMORY", "PROFILE", "DUMP", "SVG").startswith(b"<?xml")
        # Room again: the next dump is written whole.
        os.unlink(filler)
        path = c("MEMORY", "PROFILE", "DUMP", "PPROF", "TOFILE").decode()
        with gzip.open(path) as f:
            assert len(f.read()) > 0
        c.close()
    finally:
        subprocess.run(["umount", dump_dir], check=True)


# ---- a file-size limit (RLIMIT_FSIZE) ----

def test_file_size_limit_never_kills(server_factory, tmp_path):
    """With RLIMIT_FSIZE at 8 KiB, a write past it raises SIGXFSZ, whose default action kills
    the process. memkv ignores SIGXFSZ: its log (stdout, a file here) outgrows the limit and a
    dump is bigger than the limit (jemalloc's own dump into a memfd counts too), and each just
    fails (EFBIG), with a clear error, no file left, and the server serving on."""
    limit = 8192
    dump_dir = str(tmp_path / "dumps")
    os.mkdir(dump_dir)

    def limit_fsize():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    s = profiled_server(server_factory, dump_dir, preexec_fn=limit_fsize)
    c = Resp(s)
    # The log grows past the limit: every switch of the profiler writes a line.
    for i in range(150):
        reply = c("CONFIG", "SET", "memory-profiling-enabled", "yes" if i % 2 else "no")
        assert reply == b"OK" or reply.startswith("ERR"), reply
    assert s.alive(), "killed: exit %s" % s.proc.returncode
    assert os.path.getsize(s.stdout_path) <= limit
    assert c("PING") == b"PONG"
    if has_profiling(c):
        assert c("CONFIG", "SET", "memory-profiling-enabled", "yes") == b"OK"
        fill_profile(c)
        for fmt in ("RAW", "SVG"):
            reply = c("MEMORY", "PROFILE", "DUMP", fmt, "TOFILE")
            assert isinstance(reply, str) and "File too large" in reply, reply
            assert os.listdir(dump_dir) == []
            reply = c("MEMORY", "PROFILE", "DUMP", "RAW")
            assert isinstance(reply, str) and "File too large" in reply, reply
        assert dump_errors(c) >= 2
    else:
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE"))
    assert s.alive()
    assert c("SET", "k", "v") == b"OK" and c("GET", "k") == b"v"
    assert http_get(s.metrics_port, "/metrics")[0] == 200
    c.close()


# ---- maxclients ----

def test_maxclients_reached_and_recovered(server_factory):
    s = server_factory(["--maxclients", "20"])
    admin = Resp(s)
    assert admin("PING") == b"PONG"  # accepted: its descriptor is counted below
    d = "/proc/%d/fd" % s.proc.pid
    fds_before = {n: os.readlink(os.path.join(d, n)) for n in os.listdir(d)}
    clients = [Resp(s) for _ in range(19)]  # + admin = 20
    for cl in clients:
        assert cl("PING") == b"PONG"
    rejected = int(info_fields(admin, "stats")["rejected_connections"])

    def over_limit(_):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        try:
            sock.sendall(b"PING\r\n")
            got = b""
            while True:
                d = sock.recv(4096)
                if not d:
                    return got
                got += d
        except ConnectionResetError:
            return got
        finally:
            sock.close()

    # 60 more at once, from 6 threads: each is told why and closed.
    results = []
    lock = threading.Lock()

    def burst():
        for i in range(10):
            r = over_limit(i)
            with lock:
                results.append(r)
    threads = [threading.Thread(target=burst) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"-ERR max number of clients reached\r\n"] * 60, set(results)
    assert int(info_fields(admin, "stats")["rejected_connections"]) == rejected + 60
    assert int(info_fields(admin, "clients")["connected_clients"]) == 20
    for cl in clients:
        assert cl("PING") == b"PONG"
    # Half of them leave: as many newcomers are accepted, and the limit holds again after.
    for cl in clients[:10]:
        cl.close()
    assert wait_until(lambda: int(info_fields(admin, "clients")["connected_clients"]) == 10)
    newcomers = [Resp(s) for _ in range(10)]
    for n in newcomers:
        assert n("PING") == b"PONG"
    assert over_limit(0) == b"-ERR max number of clients reached\r\n"
    for cl in clients[10:] + newcomers:
        cl.close()
    assert wait_until(lambda: int(info_fields(admin, "clients")["connected_clients"]) == 1)
    # No descriptor was kept for the refused ones.
    def fds():
        d = "/proc/%d/fd" % s.proc.pid
        out = {}
        for n in os.listdir(d):
            try:
                out[n] = os.readlink(os.path.join(d, n))
            except OSError:
                pass
        return out
    assert wait_until(lambda: len(fds()) <= len(fds_before)), "new descriptors: %s" % sorted(
        set(fds().items()) - set(fds_before.items()))
    assert admin("PING") == b"PONG"
    admin.close()


# ---- slow HTTP clients ----

def test_http_slowloris_and_byte_a_second(server_factory):
    """40 connections that send part of a request and stop, and one that sends a header byte a
    second: a normal client's /metrics is answered promptly all along, and the server closes
    every slow connection at metrics-timeout (3 s here): the stalled ones by inactivity, the
    trickling one because its request took longer than that to arrive."""
    timeout = 3
    s = server_factory(["--metrics-timeout", str(timeout)])
    port = s.metrics_port
    c = Resp(s)
    assert c("CONFIG", "GET", "metrics-timeout") == [b"metrics-timeout", str(timeout).encode()]
    partial = []
    for i in range(40):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall((b"GET /metrics HTTP/1.1\r\nHost: x\r\n", b"GET /met", b"G")[i % 3])
        partial.append(sock)
    trickle = socket.create_connection(("127.0.0.1", port), timeout=30)
    trickle.sendall(b"GET /metrics HTTP/1.1\r\n")
    t0 = time.monotonic()
    closed_at = {}
    trickle_closed_at = None
    worst = 0.0
    header = b"X-Slow: " + b"a" * 100
    sent = 0

    def closed(sock):
        """True once the server has closed sock (EOF, a reset, or a 408 before closing)."""
        sock.setblocking(False)
        try:
            d = sock.recv(4096)
            return d == b"" or d.startswith(b"HTTP/1.1 408")
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        finally:
            sock.setblocking(True)

    while time.monotonic() - t0 < timeout + 6:
        # The normal client, every 100 ms.
        t = time.monotonic()
        status, body = http_get(port, "/metrics", timeout=10)
        worst = max(worst, time.monotonic() - t)
        assert status == 200 and b"memkv_memory_used_bytes" in body
        now = time.monotonic() - t0
        for n, sock in enumerate(partial):
            if n not in closed_at and closed(sock):
                closed_at[n] = now
        if trickle_closed_at is None:
            if closed(trickle):
                trickle_closed_at = now
            elif now >= sent:  # one more header byte each second
                try:
                    trickle.sendall(header[sent:sent + 1])
                    sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    trickle_closed_at = now
        time.sleep(0.1)
    for sock in partial + [trickle]:
        sock.close()
    print("slowloris: normal /metrics worst %.3f s; stalled closed at %.1f-%.1f s; "
          "trickler closed at %s s" % (worst, min(closed_at.values(), default=-1),
                                     max(closed_at.values(), default=-1), trickle_closed_at))
    # Promptly: far below the timeout, on a noisy host too.
    assert worst < 1.0, worst
    assert len(closed_at) == len(partial), "still open: %d" % (len(partial) - len(closed_at))
    assert all(timeout - 0.5 <= t <= timeout + 3 for t in closed_at.values()), closed_at
    assert trickle_closed_at is not None, "the byte-a-second client was never closed"
    assert trickle_closed_at <= timeout + 3, trickle_closed_at
    assert c("PING") == b"PONG"
    c.close()


# ---- SIGTERM while dumps are in flight ----

def dumping_server(server_factory, tmp_path, keys, prefix):
    """A server sampling every KiB, with a dump dir and `keys` string keys named prefix:N, so
    dumps have stacks to write. Returns (server, connection, dump_dir, profiling available)."""
    dump_dir = str(tmp_path / "dumps")
    os.mkdir(dump_dir)
    s = server_factory(["--memory-profiling-enabled", "yes", "--memory-profiling-sample-bytes",
                        "1024", "--memory-profiling-max-memory", "0",
                        "--memory-profiling-dump-dir", dump_dir])
    c = Resp(s)
    profiling = has_profiling(c)
    assert c.pipeline([("SET", "%s:%d" % (prefix, i), "v" * (16 + i % 200)) for i in range(keys)],
                      batch=20000) == [b"OK"] * keys
    return s, c, dump_dir, profiling


def test_sigterm_during_dumps(server_factory, tmp_path):
    s, c, dump_dir, profiling = dumping_server(server_factory, tmp_path, 100000, "big")
    # RESP dumps to files and in replies (five pipelined per client), HTTP dumps: far more
    # than the worker can finish before the signal (a dump takes about a millisecond; the
    # worker's queue holds 64 jobs, so 60 clients at a time).
    resp_clients = []
    for i in range(60):
        d = Resp(s)
        fmt = FORMATS[i % 4]
        d.sock.sendall(Resp.encode(*(("MEMORY", "PROFILE", "DUMP", fmt) +
                                     (("TOFILE",) if i % 2 else ()))) * 5)
        resp_clients.append(d)
    http_results = []

    def http_dump(fmt):
        try:
            http_results.append(http_get(s.metrics_port, "/debug/pprof/heap?format=" + fmt)[0])
        except (OSError, http.client.HTTPException) as e:
            http_results.append(type(e).__name__)
    threads = [threading.Thread(target=http_dump, args=(f,)) for f in ("svg", "pprof", "raw")]
    for t in threads:
        t.start()
    time.sleep(0.02)
    done_before = int(mem_info(c)["memkv_profiling_dumps"])
    if profiling:
        assert done_before < 5 * len(resp_clients), "every dump finished before the signal"
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    code = s.proc.wait(timeout=30)
    took = time.monotonic() - t0
    for t in threads:
        t.join(timeout=30)
    print("SIGTERM with %d RESP and %d HTTP dumps asked for, %d done: exit %d in %.2f s; "
          "HTTP: %s; files left: %d" % (5 * len(resp_clients), len(threads), done_before, code,
                                        took, http_results, len(os.listdir(dump_dir))))
    assert code == 0
    assert took < 15, took
    s.stop()  # checks the exit code again and that stderr has no sanitizer report
    # Whatever is in the dump dir is whole: a dump either finished before the exit or left
    # nothing (the worker finishes the job it is on; queued ones are dropped).
    for name in os.listdir(dump_dir):
        check_whole(os.path.join(dump_dir, name))
    if not profiling:
        assert os.listdir(dump_dir) == []
    for d in resp_clients:
        d.close()
    c.close()


# ---- a client that leaves while its profiler job runs ----

def test_clients_leave_while_blocked_on_profiler_jobs(server_factory, tmp_path):
    s, c, dump_dir, profiling = dumping_server(server_factory, tmp_path, 50000, "k")

    def baseline():
        f = mem_info(c)
        return int(f["memkv_subsystem_profiler"]), int(f["memkv_subsystem_clients"])
    if profiling:
        assert isinstance(c("MEMORY", "PROFILE", "DUMP", "SVG"), bytes)  # symbolizer warmed up
    prof0, clients0 = baseline()
    jobs = (("DUMP", "SVG"), ("DUMP", "PPROF", "TOFILE"), ("DUMP", "RAW"), ("TOP", "5"),
            ("SUBSYSTEMS",), ("SNAPSHOT",), ("DUMP", "COLLAPSED", "TOFILE"))
    for i in range(40):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        job = jobs[i % len(jobs)]
        payload = Resp.encode("MEMORY", "PROFILE", *job)
        if i % 3 == 1:
            payload += Resp.encode("PING") * 5  # pipelined behind the blocked job
        sock.sendall(payload)
        if i % 2:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")  # RST
        sock.close()
        # Meanwhile another client is served as usual.
        assert c("INCR", "served") == i + 1
    # All leavers are gone and the jobs they left behind have finished and been dropped.
    assert wait_until(lambda: int(info_fields(c, "clients")["connected_clients"]) == 1, 30)
    assert wait_until(lambda: b"flags=b" not in c("CLIENT", "LIST"), 30)
    if profiling:
        # Everything the jobs held has been given back (a little slack: the snapshots the
        # SNAPSHOT jobs took are kept, by design, up to memory-profiling-snapshots-keep).
        def settled():
            prof, clients = baseline()
            return clients <= clients0 and prof <= prof0 + 512 * 1024
        assert wait_until(settled, 30), (baseline(), (prof0, clients0))
        # A following dump works, over RESP and HTTP, and the files of the abandoned TOFILE
        # jobs are whole.
        dump = c("MEMORY", "PROFILE", "DUMP", "SVG")
        ET.fromstring(dump)
        assert http_get(s.metrics_port, "/debug/pprof/heap?format=raw")[1].startswith(b"heap_v2/")
        for name in os.listdir(dump_dir):
            path = os.path.join(dump_dir, name)
            if name.endswith(".pb.gz"):
                with gzip.open(path) as f:
                    assert f.read()
    else:
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "SVG"))
    assert c("GET", "served") == b"40"
    c.close()
    # The fixture's SIGTERM teardown checks exit 0 and, in the sanitizer build, no leak report.
