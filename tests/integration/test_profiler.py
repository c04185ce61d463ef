"""The heap profiler (issue 4): MEMORY PROFILE, KPROFILE MEMORY, DEBUG LEAK, the
memory-profiling-* parameters, the four dump formats read by the real tools (go tool pprof,
jeprof, an XML parser), dumps confined to the dump dir, the profiler's memory cap, and the event
loop staying responsive while the worker thread produces a dump.

Four runs of this file. The normal build, the UBSan one and memcheck (the normal build under
valgrind) run on jemalloc 5.3.0 with profiling compiled in (the server embeds malloc_conf
"prof:true,prof_active:false,lg_prof_sample:19"); there profiling must be available. The
ASan+UBSan one runs on libc malloc, where every profiling command must answer
"-ERR heap profiling is unavailable: <why>" and the server must keep working. Tests branch on
INFO memory's mem_allocator (and check memkv_profiling_available agrees); none is skipped: in the
libc build a jemalloc-only test checks the clear error of the command it is about instead. The
unavailable path is also exercised in the jemalloc build, by starting the server with
MALLOC_CONF=prof:false (jemalloc applies the environment after the embedded malloc_conf).

The planted leak is DEBUG LEAK <bytes> <blocks> (enable-debug-command), which allocates from the
noinline function memkv_debug_planted_leak. A compiler may emit it as a clone
(memkv_debug_planted_leak.isra.0, .constprop.0 ...): PLANTED_RE accepts those suffixes.
"""
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET

import pytest

from conftest import SERVER, timing
from helpers import (SUBSYSTEMS, Resp, assert_event_loop_unaffected, mem_info, warm_up,
                     ping_latency_with_and_without, thread_nice, wait_until)

KiB = 1024
MiB = 1024 * 1024

PLANTED = "memkv_debug_planted_leak"
PLANTED_RE = re.compile(r"memkv_debug_planted_leak(?:\.(?:isra|constprop|part|cold|lto_priv)\.\d+)*")

UNAVAILABLE = "ERR heap profiling is unavailable: "

DEBUG_NOT_ALLOWED = (
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "
    "can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.")

# DEBUG LEAK 4080 64: 64 blocks of 4080 bytes plus the 16-byte list header = 64 blocks of
# exactly 4 KiB (a jemalloc size class, so what is sampled is what was asked for): 256 KiB.
LEAK_BLOCK_DATA = 4080
LEAK_BLOCK = 4096
LEAK_BLOCKS = 64
LEAK_PER_CALL = LEAK_BLOCK * LEAK_BLOCKS


# ---- helpers ----

def has_profiling(c):
    """True on the jemalloc build (profiling must work), False on libc malloc (it must not)."""
    fields = mem_info(c)
    jemalloc = fields["mem_allocator"].startswith("jemalloc-")
    assert fields["memkv_profiling_available"] == ("1" if jemalloc else "0"), (
        fields["mem_allocator"], fields["memkv_profiling_available"])
    return jemalloc


def as_dict(reply):
    """A map reply (a flat array in RESP2) as {str: value}."""
    if isinstance(reply, dict):
        items = reply.items()
    else:
        assert isinstance(reply, list) and len(reply) % 2 == 0, reply
        items = zip(reply[0::2], reply[1::2])
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in items}


def status(c):
    st = as_dict(c("MEMORY", "PROFILE", "STATUS"))
    for key in ("available", "active", "sample-bytes", "own-memory", "max-memory", "cap",
                "cap-note", "dumps", "snapshots", "snapshots-held", "dump-dir",
                "unavailable-reason"):
        assert key in st, (key, st)
    return st


def config_get(c, name):
    reply = c("CONFIG", "GET", name)
    assert isinstance(reply, list) and len(reply) == 2, reply
    return reply[1].decode()


def ok(reply):
    assert reply == b"OK", reply


def is_planted(name):
    if isinstance(name, bytes):
        name = name.decode()
    return PLANTED_RE.fullmatch(name) is not None


def leak(c, calls=1):
    for _ in range(calls):
        ok(c("DEBUG", "LEAK", LEAK_BLOCK_DATA, LEAK_BLOCKS))


def traffic(c, rnd, keys=200):
    """Unrelated SET/GET traffic that does not grow: the same keys rewritten with values of the
    same size, and read back."""
    val = (b"%06d" % rnd) * 10
    replies = c.pipeline([("SET", "traffic:%d" % i, val) for i in range(keys)] +
                         [("GET", "traffic:%d" % i) for i in range(keys)])
    assert replies[:keys] == [b"OK"] * keys
    assert replies[keys:] == [val] * keys


def assert_unavailable(reply):
    assert isinstance(reply, str), reply
    assert reply.startswith(UNAVAILABLE), reply
    why = reply[len(UNAVAILABLE):]
    assert len(why) >= 10, reply  # says why (and what to do), not just "unavailable"


def profiling_server(server_factory, *args, debug=True, sample=4096, enabled=True):
    a = ["--memory-profiling-sample-bytes", str(sample),
         "--memory-profiling-snapshot-interval", "0"]
    if debug:
        a += ["--enable-debug-command", "yes"]
    if enabled:
        a += ["--memory-profiling-enabled", "yes"]
    return server_factory(a + list(args))


def run_tool(cmd, timeout=120, env=None):
    e = dict(os.environ)
    e.setdefault("HOME", tempfile.gettempdir())
    e.setdefault("GOCACHE", os.path.join(tempfile.gettempdir(), "memkv-test-gocache"))
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    assert p.returncode == 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
        cmd, p.returncode, p.stdout, p.stderr)
    return p.stdout


@pytest.fixture
def tmpdirs():
    """A parent dir holding the dump dir (and nothing else), so that a file written beside the
    dump dir shows in the parent's listing."""
    parent = tempfile.mkdtemp(prefix="memkv-prof-")
    dump_dir = os.path.join(parent, "dumps")
    os.mkdir(dump_dir)
    yield parent, dump_dir
    shutil.rmtree(parent, ignore_errors=True)


def listing(path):
    out = []
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            out.append(os.path.relpath(os.path.join(root, name), path))
    return sorted(out)


# ---- on, off, status ----

def test_start_stop_and_config_at_run_time(server_factory):
    s = server_factory()
    c = Resp(s)
    if not has_profiling(c):
        assert_unavailable(c("MEMORY", "PROFILE", "START"))
        assert_unavailable(c("KPROFILE", "MEMORY", "ENABLE"))
        assert c("KPROFILE", "MEMORY", "STATUS") == b"disabled"
        assert c("PING") == b"PONG"
        return

    def state():
        st = status(c)
        info = mem_info(c)
        kp = c("KPROFILE", "MEMORY", "STATUS")
        return st["active"], info["memkv_profiling_active"], config_get(c, "memory-profiling-enabled"), kp

    off = (0, "0", "no", b"disabled")
    on = (1, "1", "yes", b"enabled")
    st = status(c)
    assert st["available"] == 1 and st["unavailable-reason"] == b""
    assert st["sample-bytes"] == 524288  # the embedded lg_prof_sample:19
    assert mem_info(c)["memkv_profiling_sample_bytes"] == "524288"
    assert config_get(c, "memory-profiling-sample-bytes") == "524288"
    assert state() == off

    ok(c("MEMORY", "PROFILE", "START"))
    assert state() == on
    ok(c("MEMORY", "PROFILE", "START"))  # idempotent
    assert state() == on
    ok(c("MEMORY", "PROFILE", "STOP"))
    assert state() == off
    # Stopped: a dump is either what was sampled or a clear error saying how to start.
    raw = c("MEMORY", "PROFILE", "DUMP", "RAW")
    assert (isinstance(raw, bytes) and raw.startswith(b"heap_v2/")) or (
        isinstance(raw, str) and "not active" in raw and "memory-profiling-enabled yes" in raw), raw

    ok(c("CONFIG", "SET", "memory-profiling-enabled", "yes"))
    assert state() == on
    ok(c("CONFIG", "SET", "memory-profiling-enabled", "no"))
    assert state() == off

    ok(c("KPROFILE", "MEMORY", "ENABLE"))
    assert state() == on
    ok(c("KPROFILE", "MEMORY", "DISABLE"))
    assert state() == off

    ok(c("memory", "profile", "start"))  # case-insensitive
    assert state() == on
    ok(c("kprofile", "memory", "disable"))
    assert state() == off

    log = s.read_stdout()
    assert "Heap profiling enabled" in log and "Heap profiling disabled" in log, log
    c.close()


def test_enabled_at_start_up(server_factory):
    s = server_factory(["--memory-profiling-enabled", "yes",
                       "--memory-profiling-sample-bytes", "128kb"])
    c = Resp(s)
    if not has_profiling(c):
        # Start-up goes on with a warning; the setting reads back as what is in force.
        assert config_get(c, "memory-profiling-enabled") == "no"
        assert "memory-profiling-enabled is yes but" in s.read_stdout()
        assert status(c)["active"] == 0
        return
    st = status(c)
    assert st["active"] == 1 and st["sample-bytes"] == 131072, st
    assert config_get(c, "memory-profiling-enabled") == "yes"
    assert config_get(c, "memory-profiling-sample-bytes") == "131072"
    assert mem_info(c)["memkv_profiling_active"] == "1"
    assert c("KPROFILE", "MEMORY", "STATUS") == b"enabled"
    c.close()


def test_sample_rate_at_run_time(server_factory):
    s = server_factory()
    c = Resp(s)
    if not has_profiling(c):
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "RAW"))
        # The rate is still validated and remembered.
        ok(c("CONFIG", "SET", "memory-profiling-sample-bytes", "65536"))
        assert config_get(c, "memory-profiling-sample-bytes") == "65536"
        err = c("CONFIG", "SET", "memory-profiling-sample-bytes", "65537")
        assert isinstance(err, str) and "power of two" in err, err
        return

    ok(c("MEMORY", "PROFILE", "START"))
    raw = c("MEMORY", "PROFILE", "DUMP", "RAW")
    assert isinstance(raw, bytes) and raw.startswith(b"heap_v2/524288\n"), raw[:80]

    ok(c("CONFIG", "SET", "memory-profiling-sample-bytes", "65536"))
    assert config_get(c, "memory-profiling-sample-bytes") == "65536"
    assert status(c)["sample-bytes"] == 65536
    assert mem_info(c)["memkv_profiling_sample_bytes"] == "65536"
    raw = c("MEMORY", "PROFILE", "DUMP", "RAW")
    assert raw.startswith(b"heap_v2/65536\n"), raw[:80]
    assert b"\nMAPPED_LIBRARIES:\n" in raw

    ok(c("CONFIG", "SET", "memory-profiling-sample-bytes", "16kb"))  # units accepted
    assert c("MEMORY", "PROFILE", "DUMP", "RAW").startswith(b"heap_v2/16384\n")

    for bad in ("65537", "100000", "3000"):
        err = c("CONFIG", "SET", "memory-profiling-sample-bytes", bad)
        assert isinstance(err, str) and err.startswith(
            "ERR CONFIG SET failed (possibly related to argument 'memory-profiling-sample-bytes')"), err
        assert "power of two" in err, err
    for bad in ("512", "0", "-4096", "2gb", "abc"):  # outside [1 KiB, 1 GiB] or not a size
        err = c("CONFIG", "SET", "memory-profiling-sample-bytes", bad)
        assert isinstance(err, str) and err.startswith("ERR CONFIG SET failed"), (bad, err)
    # Refused values leave the rate as it was.
    assert config_get(c, "memory-profiling-sample-bytes") == "16384"
    assert status(c)["sample-bytes"] == 16384
    assert c("MEMORY", "PROFILE", "DUMP", "RAW").startswith(b"heap_v2/16384\n")

    # RESET forgets the samples but keeps the rate.
    ok(c("MEMORY", "PROFILE", "RESET"))
    assert status(c)["sample-bytes"] == 16384
    assert c("MEMORY", "PROFILE", "DUMP", "RAW").startswith(b"heap_v2/16384\n")
    c.close()


# ---- the planted leak and the reports ----

def test_planted_leak_reports(server_factory):
    s = profiling_server(server_factory)
    c = Resp(s)
    if not has_profiling(c):
        ok(c("DEBUG", "LEAK", LEAK_BLOCK_DATA, LEAK_BLOCKS))  # DEBUG itself works
        for cmd in (("LEAKS",), ("TOP",), ("SUBSYSTEMS",), ("SNAPSHOT",)):
            assert_unavailable(c("MEMORY", "PROFILE", *cmd))
        return

    st = status(c)
    assert st["active"] == 1 and st["sample-bytes"] == 4096, st
    warm_up(c)
    other_before = int(mem_info(c)["memkv_subsystem_other"])

    rounds = 5
    traffic(c, 0)
    ok(c("MEMORY", "PROFILE", "SNAPSHOT"))
    for rnd in range(1, rounds + 1):
        leak(c)
        traffic(c, rnd)
        if rnd == 1:
            # A one-off burst of new keys: grows once, not in most intervals.
            assert c.pipeline([("SET", "burst:%d" % i, "x" * 100) for i in range(500)]) == [b"OK"] * 500
        ok(c("MEMORY", "PROFILE", "SNAPSHOT"))
    leaked = rounds * LEAK_PER_CALL

    # The exact counter saw every byte (the planted blocks are ALLOC_SUB_OTHER).
    other_after = int(mem_info(c)["memkv_subsystem_other"])
    assert other_after - other_before >= leaked, (other_before, other_after, leaked)

    st = status(c)
    assert st["snapshots"] >= rounds + 1, st
    assert 2 <= st["snapshots-held"] <= 10, st  # memory-profiling-snapshots-keep 10
    assert int(mem_info(c)["memkv_profiling_snapshots"]) == st["snapshots"]

    # LEAKS: the planted leak first, having grown in (nearly) every interval.
    leaks = c("MEMORY", "PROFILE", "LEAKS")
    assert isinstance(leaks, list) and leaks, leaks
    for entry in leaks:
        assert isinstance(entry, list) and len(entry) == 5, entry
        assert isinstance(entry[1], int) and isinstance(entry[2], int), entry
        assert re.fullmatch(rb"-?\d+ bytes/s", entry[3]), entry
        assert re.fullmatch(rb"grew in \d+ of \d+ intervals", entry[4]), entry
    first = leaks[0]
    assert is_planted(first[0]), leaks
    live, growth = first[1], first[2]
    assert leaked / 2 <= live <= leaked * 2, (live, leaked)
    # From the oldest kept snapshot (before the first call) to the newest.
    assert leaked / 2 <= growth <= leaked * 2, (growth, leaked)
    rate = int(first[3].split()[0])
    assert rate > 0, first
    grew, intervals = map(int, re.findall(rb"\d+", first[4]))
    assert intervals >= rounds - 1 and grew >= intervals - 1, first
    assert len(c("MEMORY", "PROFILE", "LEAKS", "1")) == 1

    # TOP: names it, with the leaked bytes within a factor of 2.
    top = c("MEMORY", "PROFILE", "TOP", "20")
    assert isinstance(top, list) and 1 <= len(top) <= 20, top
    shares = 0.0
    for entry in top:
        assert isinstance(entry, list) and len(entry) == 4, entry
        assert isinstance(entry[1], int) and entry[1] >= 0, entry
        assert re.fullmatch(rb"\d+\.\d\d%", entry[2]), entry
        assert entry[3].decode() in SUBSYSTEMS, entry
        shares += float(entry[2][:-1])
    assert shares <= 100.0 + 0.01 * len(top), top
    sizes = [e[1] for e in top]
    assert sizes == sorted(sizes, reverse=True), top
    planted = [e for e in top if is_planted(e[0])]
    assert len(planted) == 1, top
    name, nbytes, share, sub = planted[0]
    assert leaked / 2 <= nbytes <= leaked * 2, (nbytes, leaked)
    assert float(share[:-1]) >= 20.0, top  # it is most of what was sampled
    assert sub == b"other", planted  # what DEBUG LEAK counts itself as
    assert top[0] == planted[0], top
    assert len(c("MEMORY", "PROFILE", "TOP", "1")) == 1
    assert len(c("MEMORY", "PROFILE", "TOP")) <= 10  # default count

    # SUBSYSTEMS: every subsystem, sampled beside exact.
    subs = c("MEMORY", "PROFILE", "SUBSYSTEMS")
    assert isinstance(subs, list) and sorted(e[0].decode() for e in subs) == sorted(SUBSYSTEMS), subs
    info = mem_info(c)
    by_name = {}
    for name_, sampled, exact in subs:
        assert isinstance(sampled, int) and sampled >= 0, subs
        assert isinstance(exact, int) and exact >= 0, subs
        by_name[name_.decode()] = (sampled, exact)
    assert leaked / 2 <= by_name["other"][0] <= leaked * 2 + 2 * MiB, by_name
    assert by_name["other"][1] >= leaked, by_name
    # The exact column is the exact counter (strings do not move between the two readings).
    assert by_name["strings"][1] == int(info["memkv_subsystem_strings"]), (by_name, info)
    assert by_name["key_index"][1] == int(info["memkv_subsystem_key_index"]), (by_name, info)

    # After RESET what was sampled is forgotten: the leak is no longer in TOP.
    ok(c("MEMORY", "PROFILE", "RESET"))
    top = c("MEMORY", "PROFILE", "TOP", "100")
    assert not any(is_planted(e[0]) and e[1] > leaked / 10 for e in top), top
    assert c("PING") == b"PONG"
    c.close()


def _leaky_server(server_factory, calls=4, *args):
    s = profiling_server(server_factory, *args)
    c = Resp(s)
    if has_profiling(c):
        warm_up(c)
        for rnd in range(calls):
            leak(c)
            traffic(c, rnd, keys=50)
    return s, c


def test_pprof_read_by_go_tool_pprof(server_factory, tmpdirs):
    s, c = _leaky_server(server_factory)
    if not has_profiling(c):
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "PPROF"))
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP"))
        return
    data = c("MEMORY", "PROFILE", "DUMP", "PPROF")
    assert isinstance(data, bytes) and data[:2] == b"\x1f\x8b", data[:16]  # gzip
    assert len(gzip.decompress(data)) > 0
    default = c("MEMORY", "PROFILE", "DUMP")  # PPROF is the default format
    assert default[:2] == b"\x1f\x8b"
    path = os.path.join(tmpdirs[0], "heap.pb.gz")
    with open(path, "wb") as f:
        f.write(data)
    out = run_tool(["go", "tool", "pprof", "-top", path])
    assert "inuse_space" in out, out
    assert PLANTED in out, out
    line = next(l for l in out.splitlines() if PLANTED in l)
    # "flat flat% sum% cum cum%  name": the leak's flat bytes, within a factor of 2.
    leaked = 4 * LEAK_PER_CALL
    m = re.match(r"\s*([\d.]+)([kMG]?B)\s", line)
    assert m, line
    flat = float(m.group(1)) * {"B": 1, "kB": KiB, "MB": MiB, "GB": 1024 * MiB}[m.group(2)]
    assert leaked / 2 <= flat <= leaked * 2, (line, leaked)
    # The other sample types are there too.
    out = run_tool(["go", "tool", "pprof", "-sample_index=alloc_space", "-top", path])
    assert PLANTED in out, out
    c.close()


def test_raw_read_by_jeprof(server_factory, tmpdirs):
    s, c = _leaky_server(server_factory)
    if not has_profiling(c):
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "RAW"))
        return
    raw = c("MEMORY", "PROFILE", "DUMP", "RAW")
    assert raw.startswith(b"heap_v2/4096\n"), raw[:80]
    assert re.search(rb"^@( 0x[0-9a-f]+)+$", raw, re.M), raw[:400]
    path = os.path.join(tmpdirs[0], "memkv.heap")
    with open(path, "wb") as f:
        f.write(raw)
    out = run_tool(["jeprof", "--text", SERVER, path])
    assert PLANTED in out, out
    line = next(l for l in out.splitlines() if PLANTED in l)
    # "  flat(MB)  flat%  sum%  cum(MB)  cum%  name". The frame-pointer unwinder (the default)
    # starts the raw stacks at the wrapper's caller, so the flat bytes are the planted
    # function's own (with libgcc's, they would sit in alloc_malloc, which jeprof keeps).
    flat_mb, cum_mb = float(line.split()[0]), float(line.split()[3])
    leaked = 4 * LEAK_PER_CALL
    assert leaked / 2 <= cum_mb * MiB <= leaked * 2, (line, leaked)
    assert leaked / 2 <= flat_mb * MiB <= leaked * 2, (line, leaked)
    assert not any(l.split()[-1] == "alloc_malloc" for l in out.splitlines()[1:] if l.split()), out
    c.close()


def test_svg_and_collapsed(server_factory):
    s, c = _leaky_server(server_factory)
    if not has_profiling(c):
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "SVG"))
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "COLLAPSED"))
        return
    svg = c("MEMORY", "PROFILE", "DUMP", "SVG")
    assert isinstance(svg, bytes), svg
    root = ET.fromstring(svg)
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), root.tag
    texts = " ".join(t for el in root.iter() for t in (el.text, el.tail) if t)
    assert PLANTED in texts, svg[:2000]
    assert not root.findall(".//{http://www.w3.org/2000/svg}script") and not root.findall(".//script")

    folded = c("MEMORY", "PROFILE", "DUMP", "COLLAPSED")
    assert isinstance(folded, bytes), folded
    lines = folded.decode().splitlines()
    assert lines, folded
    planted_lines = []
    for line in lines:
        m = re.fullmatch(r"(\S[^;]*(?:;[^;]+)*) (\d+)", line)
        assert m, line
        frames = m.group(1).split(";")
        assert all(frames), line
        if any(PLANTED in f for f in frames):
            planted_lines.append((frames, int(m.group(2))))
    assert planted_lines, folded[:2000]
    total = sum(n for _, n in planted_lines)
    leaked = 4 * LEAK_PER_CALL
    assert leaked / 2 <= total <= leaked * 2, (planted_lines, leaked)
    # Outermost first, allocator frames gone: the planted function is the innermost frame.
    for frames, _ in planted_lines:
        assert is_planted(frames[-1]), frames
        assert "cmd_debug" in frames, frames
    c.close()


# ---- the unwinder ----

def main_thread_stacks(c):
    """{frames: sampled bytes} of the stacks of a COLLAPSED dump that start at main. Frames
    outside main (libc's start-up, which only libgcc's unwinder reports) are never shown."""
    out = {}
    for line in c("MEMORY", "PROFILE", "DUMP", "COLLAPSED").decode().splitlines():
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert "main" not in frames[1:], line
        if frames[0] == "main":
            out[tuple(frames)] = out.get(tuple(frames), 0) + int(n)
    return out


def test_unwinders_see_the_same_stacks(server_factory):
    """memory-profiling-unwinder: frame-pointer (the default, memkv's own walk) and libgcc
    (jemalloc's) name the same call paths for the planted leak and for SET of new keys, and the
    frame-pointer walk took the samples itself."""
    s = profiling_server(server_factory)
    c = Resp(s)
    if not has_profiling(c):
        # Remembered for a build that can profile, as the other memory-profiling-* settings.
        for u in ("libgcc", "frame-pointer"):
            ok(c("CONFIG", "SET", "memory-profiling-unwinder", u))
            assert config_get(c, "memory-profiling-unwinder") == u
        return
    assert config_get(c, "memory-profiling-unwinder") == "frame-pointer"
    assert mem_info(c)["memkv_profiling_unwinder"] == "frame-pointer"
    seen = {}
    for u in ("libgcc", "frame-pointer"):
        ok(c("CONFIG", "SET", "memory-profiling-unwinder", u))
        assert mem_info(c)["memkv_profiling_unwinder"] == u
        status = c("MEMORY", "PROFILE", "STATUS")
        assert dict(zip(status[0::2], status[1::2]))[b"unwinder"] == u.encode(), status
        ok(c("MEMORY", "PROFILE", "RESET"))
        warm_up(c)
        before = int(mem_info(c)["memkv_profiling_unwinds_fp"])
        leak(c, 4)
        tag = uuid.uuid4().hex[:8]
        for i in range(0, 20000, 500):
            assert c.pipeline([("SET", "new:%s:%d" % (tag, j), b"v" * 100)
                               for j in range(i, i + 500)]) == [b"OK"] * 500
        walks = int(mem_info(c)["memkv_profiling_unwinds_fp"]) - before
        if u == "frame-pointer":
            assert walks > 100, walks  # ~4 MiB allocated at 4 KiB sampling
        else:
            assert walks == 0, walks
        stacks = main_thread_stacks(c)
        planted = {k for k in stacks if any(is_planted(f) for f in k)}
        sets = {k for k in stacks if "cmd_set" in k and k[-1] == "db_set_string"}
        assert len(planted) == 1 and len(sets) == 1, stacks
        (p,) = planted
        assert is_planted(p[-1]) and "evloop_run" in p and "cmd_debug" in p, p
        leaked = 4 * LEAK_PER_CALL
        assert leaked / 2 <= stacks[p] <= leaked * 2, (stacks[p], leaked)
        seen[u] = (planted, sets)
    assert seen["frame-pointer"] == seen["libgcc"], seen
    err = c("CONFIG", "SET", "memory-profiling-unwinder", "dwarf")
    assert isinstance(err, str) and "frame-pointer, libgcc" in err, err
    c.close()


# ---- dumps to files: only into the dump dir ----

def test_tofile_confined_to_dump_dir(server_factory, tmpdirs):
    parent, dump_dir = tmpdirs
    # The dump dir is a protected config (a path the server writes): changing it at run time
    # needs enable-protected-configs (test_security.py checks the refusal).
    s, c = _leaky_server(server_factory, 1, "--enable-protected-configs", "yes")
    if not has_profiling(c):
        assert_unavailable(c("MEMORY", "PROFILE", "DUMP", "SVG", "TOFILE"))
        assert_unavailable(c("KPROFILE", "MEMORY", "DUMP"))
        # The directory itself is still validated and accepted.
        ok(c("CONFIG", "SET", "memory-profiling-dump-dir", dump_dir))
        assert listing(dump_dir) == []
        return

    # No dump dir: TOFILE refused, clearly.
    assert config_get(c, "memory-profiling-dump-dir") == ""
    err = c("MEMORY", "PROFILE", "DUMP", "SVG", "TOFILE")
    assert isinstance(err, str) and err.startswith("ERR no dump directory"), err
    assert "memory-profiling-dump-dir" in err, err
    err = c("KPROFILE", "MEMORY", "DUMP")
    assert isinstance(err, str) and err.startswith("ERR no dump directory"), err

    # The dump dir must be an existing directory given by an absolute path.
    a_file = os.path.join(parent, "a-file")
    open(a_file, "w").close()
    for bad, why in (("relative/dir", "absolute"), ("dumps", "absolute"),
                     (os.path.join(parent, "nonexistent"), "not a directory"),
                     (a_file, "not a directory")):
        err = c("CONFIG", "SET", "memory-profiling-dump-dir", bad)
        assert isinstance(err, str) and err.startswith(
            "ERR CONFIG SET failed (possibly related to argument 'memory-profiling-dump-dir')"), err
        assert why in err, (bad, err)
        assert config_get(c, "memory-profiling-dump-dir") == ""
    os.unlink(a_file)

    ok(c("CONFIG", "SET", "memory-profiling-dump-dir", dump_dir))
    assert config_get(c, "memory-profiling-dump-dir") == dump_dir
    assert status(c)["dump-dir"] == dump_dir.encode()

    outside_tmp = "/tmp/memkv-escape-" + uuid.uuid4().hex
    before_parent = listing(parent)
    assert before_parent == ["dumps"]

    # A name memkv chooses.
    path = c("MEMORY", "PROFILE", "DUMP", "SVG", "TOFILE")
    assert isinstance(path, bytes), path
    path = path.decode()
    assert os.path.dirname(path) == dump_dir and path.endswith(".svg"), path
    assert os.path.isfile(path)
    with open(path, "rb") as f:
        assert PLANTED in " ".join(t for el in ET.fromstring(f.read()).iter()
                                   for t in (el.text, el.tail) if t)
    assert "Heap profile written to " + path in s.read_stdout()

    # A name the client chooses.
    path = c("MEMORY", "PROFILE", "DUMP", "PPROF", "TOFILE", "myprof.pb.gz")
    assert path == os.path.join(dump_dir, "myprof.pb.gz").encode(), path
    with open(path, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    # A name that exists is not overwritten, and a symbolic link is not followed.
    with open(path, "rb") as f:
        first = f.read()
    err = c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE", "myprof.pb.gz")
    assert isinstance(err, str) and err.startswith("ERR"), err
    with open(path, "rb") as f:
        assert f.read() == first
    target = os.path.join(parent, "link-target")
    os.symlink(target, os.path.join(dump_dir, "link"))
    err = c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE", "link")
    assert isinstance(err, str) and err.startswith("ERR"), err
    assert not os.path.lexists(target)
    os.unlink(os.path.join(dump_dir, "link"))
    # TOFILE without a format: pprof.
    path = c("MEMORY", "PROFILE", "DUMP", "TOFILE", "default-format")
    assert path == os.path.join(dump_dir, "default-format").encode(), path
    with open(path, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    path = c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE", "x" * 100)
    assert path == os.path.join(dump_dir, "x" * 100).encode(), path

    # Path tricks are refused before anything is written.
    for name in ("../x", "../escape-" + uuid.uuid4().hex, outside_tmp, "/tmp/x", "a/b", ".hidden",
                 "", "..", ".", "a..b", "x" * 101, "sp ace", "new\nline", "nul\x00byte",
                 dump_dir + "/abs", "./y"):
        for fmt in ("SVG", "RAW"):
            err = c("MEMORY", "PROFILE", "DUMP", fmt, "TOFILE", name)
            assert isinstance(err, str) and err.startswith("ERR invalid dump file name"), (name, err)
    assert not os.path.exists(outside_tmp) and not os.path.exists(os.path.join(parent, "x"))
    names = listing(dump_dir)  # no subdirectories either
    assert all(os.path.isfile(os.path.join(dump_dir, n)) for n in names), names
    assert listing(parent) == ["dumps"] + ["dumps/" + n for n in names]
    assert "myprof.pb.gz" in names and "default-format" in names and "x" * 100 in names
    assert len(names) == 4, names

    # KPROFILE MEMORY DUMP: a raw profile in the dump dir, which jeprof reads.
    path = c("KPROFILE", "MEMORY", "DUMP")
    assert isinstance(path, bytes), path
    path = path.decode()
    assert os.path.dirname(path) == dump_dir and path.endswith(".heap"), path
    assert os.path.isfile(path), path
    with open(path, "rb") as f:
        assert f.read(8) == b"heap_v2/"
    out = run_tool(["jeprof", "--text", SERVER, path])
    assert PLANTED in out, out
    # The dump dir itself may be named (Kvrocks's form), with or without a trailing slash.
    for d in (dump_dir, dump_dir + "/"):
        p = c("KPROFILE", "MEMORY", "DUMP", d)
        assert isinstance(p, bytes) and os.path.dirname(p.decode()) == dump_dir, p
    # Any other directory is refused, and nothing is written there.
    other = tempfile.mkdtemp(prefix="memkv-prof-other-")
    try:
        for d in (other, parent, dump_dir + "/..", dump_dir + "/sub", "/tmp", "relative"):
            err = c("KPROFILE", "MEMORY", "DUMP", d)
            assert isinstance(err, str) and err.startswith(
                "ERR dumps can only go to memory-profiling-dump-dir"), (d, err)
        assert os.listdir(other) == []
    finally:
        shutil.rmtree(other, ignore_errors=True)
    assert [n for n in listing(parent) if not n.startswith("dumps")] == []
    assert len(listing(dump_dir)) == 7, listing(dump_dir)
    assert int(mem_info(c)["memkv_profiling_dumps"]) >= 7

    # Unsetting the dump dir refuses TOFILE again.
    ok(c("CONFIG", "SET", "memory-profiling-dump-dir", ""))
    err = c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE", "late")
    assert isinstance(err, str) and err.startswith("ERR no dump directory"), err
    assert "late" not in listing(dump_dir)
    c.close()


# ---- the profiler's own memory cap ----

def test_tiny_max_memory_coarsens_or_stops(server_factory):
    s = server_factory(["--memory-profiling-enabled", "yes", "--memory-profiling-sample-bytes", "4096",
                       "--memory-profiling-max-memory", "1024"])
    c = Resp(s)
    if not has_profiling(c):
        assert status(c)["cap"] == b"none"
        assert mem_info(c)["memkv_profiling_cap"] == "none"
        return
    st = status(c)
    assert st["max-memory"] == 1024, st
    assert mem_info(c)["memkv_profiling_max_memory"] == "1024"

    def capped():
        # Allocation traffic from many values, so there is plenty to sample.
        c.pipeline([("SET", "cap:%d" % i, os.urandom(64 + i % 512)) for i in range(2000)])
        return status(c)["cap"] in (b"coarsened", b"stopped")

    assert wait_until(capped, timeout=15, interval=0.05), status(c)
    st = status(c)
    info = mem_info(c)
    assert info["memkv_profiling_cap"] == st["cap"].decode(), (info, st)
    note = info["memkv_profiling_cap_note"]
    assert note and note == st["cap-note"].decode(), (note, st)
    assert re.search(r"coarse|stop", note, re.I), note
    if st["cap"] == b"coarsened":
        assert st["sample-bytes"] > 4096, st
        assert st["active"] == 1
    else:
        assert st["active"] == 0, st
        assert wait_until(lambda: config_get(c, "memory-profiling-enabled") == "no", timeout=5)
        assert c("KPROFILE", "MEMORY", "STATUS") == b"disabled"
    # The log has the warning ("#" is memkv's and Redis's warning mark).
    assert wait_until(lambda: re.search(r" # profiler: .*(coarse|stop)", s.read_stdout(), re.I),
                      timeout=5), s.read_stdout()
    assert c("PING") == b"PONG"
    c.close()


# ---- the event loop keeps serving during a dump ----

def dump_bursts(server, burst=60, period=0.15):
    """For helpers.ping_latency_with_and_without: a step is `burst` dumps asked for at once
    from as many clients (the four formats in turn), then a pause to the end of `period`."""
    def make():
        clients = [Resp(server) for _ in range(burst)]
        formats = ("SVG", "RAW", "PPROF", "COLLAPSED")

        def step():
            t0 = time.monotonic()
            for i, d in enumerate(clients):
                d.send("MEMORY", "PROFILE", "DUMP", formats[i % len(formats)])
            for d in clients:
                reply = d.read()
                if not isinstance(reply, bytes) or not reply:
                    return "dump reply: %r" % (reply[:100],)
            time.sleep(max(0.0, period - (time.monotonic() - t0)))
            return None
        return step
    return make


@timing
def test_other_clients_served_during_large_dump(server_factory):
    s = server_factory(["--memory-profiling-sample-bytes", "1024",
                       "--memory-profiling-enabled", "yes", "--memory-profiling-max-memory", "0"])
    loader = Resp(s)
    if not has_profiling(loader):
        assert_unavailable(loader("MEMORY", "PROFILE", "DUMP", "SVG"))
        return
    nkeys = 200000
    cmds = [("SET", "big:%d" % i, "v" * (16 + i % 200)) for i in range(nkeys)]
    assert loader.pipeline(cmds, batch=20000) == [b"OK"] * nkeys
    del cmds
    assert status(loader)["active"] == 1
    assert isinstance(loader("MEMORY", "PROFILE", "DUMP", "SVG"), bytes)  # symbolizer loaded

    # A probe's PING round trip while dumps run (60 at once every 150 ms, the worker's queue
    # nearly full, some 20-30 ms of its time) against the same probe without them, in short
    # interleaved phases under the same steady load: the p99 may not be more than
    # helpers.P99_RATIO_MARGIN times worse, or P99_FLOOR_MS worse (a quiet host). Were the dumps made on the event loop (or did the
    # loop wait for them), a PING arriving during a burst would wait for all of it.
    assert_event_loop_unaffected(lambda: ping_latency_with_and_without(s, dump_bursts(s)), "dumps")

    # Several clients ask for dumps at once (the worker runs them one after the other), each
    # with pipelined commands that must wait for its dump and come back after it, in order.
    dumpers = [Resp(s) for _ in range(6)]
    other = Resp(s)
    for n, d in enumerate(dumpers):
        d.sock.sendall(Resp.encode("MEMORY", "PROFILE", "DUMP", "SVG" if n % 2 == 0 else "RAW") +
                       Resp.encode("SET", "after-dump:%d" % n, "1") +
                       Resp.encode("INCR", "after-dump:%d" % n) +
                       Resp.encode("GET", "after-dump:%d" % n) +
                       Resp.encode("PING", "last"))
    seen_blocked = 0
    t0 = time.monotonic()
    for i in range(20):
        assert other("PING") == b"PONG"
        assert other("SET", "other:%d" % i, i) == b"OK"
        # Whether a dumper is still waiting at this moment (flags=b) is timing: not asserted.
        seen_blocked += b" flags=b " in other("CLIENT", "LIST")
    # STATUS is answered on the loop even while jobs run.
    assert status(other)["available"] == 1
    print("PINGs answered while a dump client was blocked: %d of 20 (%.1f ms)" % (
        seen_blocked, 1000 * (time.monotonic() - t0)))

    for n, d in enumerate(dumpers):
        dump = d.read()
        assert isinstance(dump, bytes), dump
        if n % 2 == 0:
            ET.fromstring(dump)
            assert b"cmd_set" in dump, dump[:2000]
        else:
            assert dump.startswith(b"heap_v2/1024\n"), dump[:80]
        assert d.read() == b"OK"
        assert d.read() == 2
        assert d.read() == b"2"
        assert d.read() == b"last"
        d.close()
        assert other("GET", "after-dump:%d" % n) == b"2"
    assert b"flags=b" not in other("CLIENT", "LIST")  # every client went on

    # A client that leaves while its dump is being made: the server just drops the answer.
    dumps = int(mem_info(other)["memkv_profiling_dumps"])
    quitter = Resp(s)
    quitter.send("MEMORY", "PROFILE", "DUMP", "SVG")
    quitter.close()
    assert other("PING") == b"PONG"
    assert wait_until(lambda: int(mem_info(other)["memkv_profiling_dumps"]) >= dumps + 1,
                      timeout=30)
    assert other("PING") == b"PONG"
    # Two dumps asked for at once are both answered.
    a, b = Resp(s), Resp(s)
    a.send("MEMORY", "PROFILE", "DUMP", "COLLAPSED")
    b.send("MEMORY", "PROFILE", "TOP", "3")
    assert other("PING") == b"PONG"
    assert isinstance(a.read(), bytes)
    top = b.read()
    assert isinstance(top, list) and 1 <= len(top) <= 3, top
    # Shutting down while a dump runs: a clean exit (checked by the fixture's teardown: exit 0).
    a.send("MEMORY", "PROFILE", "DUMP", "SVG")
    for conn in (a, b, other, loader):
        conn.close()
    s.stop()


# ---- DEBUG ----

def test_worker_yields_the_cpu_to_the_event_loop(server_factory):
    """The profiler's worker runs at nice 10, so where it and the event loop want the same CPU
    (a dump under load on a busy host), the event loop wins; the event loop stays at 0."""
    s = profiling_server(server_factory)
    c = Resp(s)
    assert c("PING") == b"PONG"
    nice = thread_nice(s.proc.pid)
    assert nice.get("memkv-prof") == [10], nice
    assert nice.get("(main)") == [0], nice
    if has_profiling(c):
        assert isinstance(c("MEMORY", "PROFILE", "DUMP", "COLLAPSED"), bytes)
    c.close()


def test_debug_needs_enable_debug_command(server_factory):
    s = server_factory()
    c = Resp(s)
    assert config_get(c, "enable-debug-command") == "no"
    assert c("DEBUG", "LEAK", "16") == DEBUG_NOT_ALLOWED
    assert c("DEBUG", "HELP") == DEBUG_NOT_ALLOWED
    assert c("debug", "leak", "16", "4") == DEBUG_NOT_ALLOWED
    err = c("CONFIG", "SET", "enable-debug-command", "yes")
    assert isinstance(err, str) and err.startswith("ERR CONFIG SET failed") and "immutable" in err, err
    assert c("DEBUG", "LEAK", "16") == DEBUG_NOT_ALLOWED
    assert c("PING") == b"PONG"
    c.close()


@pytest.mark.parametrize("mode", ["yes", "local"])
def test_debug_leak(server_factory, mode):
    s = server_factory(["--enable-debug-command", mode])
    c = Resp(s)  # from 127.0.0.1: "local" allows it
    assert config_get(c, "enable-debug-command") == mode
    before = int(mem_info(c)["memkv_subsystem_other"])
    ok(c("DEBUG", "LEAK", "100000"))
    ok(c("DEBUG", "LEAK", "1000", "100"))
    after = int(mem_info(c)["memkv_subsystem_other"])
    assert after - before >= 200000, (before, after)
    ok(c("debug", "leak", "1", "1"))
    for args in (("0",), ("-1",), ("abc",), (str(2 * 1024 ** 3),), ("16", "0"), ("16", "-3"),
                 ("16", "1000001"), (str(1024 ** 3), "5")):
        err = c("DEBUG", "LEAK", *args)
        assert isinstance(err, str) and err.startswith("ERR"), (args, err)
    assert c("DEBUG", "LEAK", "abc") == "ERR value is not an integer or out of range"
    assert c("DEBUG", "LEAK", "0") == "ERR DEBUG LEAK <bytes 1..1g> [<blocks 1..1000000>], 4g at most"
    assert int(mem_info(c)["memkv_subsystem_other"]) - after < 1000  # refused ones kept nothing
    assert c("DEBUG", "NOSUCH") == "ERR unknown subcommand 'NOSUCH'. Try DEBUG HELP."
    assert isinstance(c("DEBUG", "LEAK", "1", "2", "3"), str)
    help_ = c("DEBUG", "HELP")
    assert isinstance(help_, list) and any(b"LEAK" in h for h in help_), help_
    err = c("DEBUG")
    assert isinstance(err, str) and "wrong number of arguments" in err, err
    assert c("PING") == b"PONG"
    c.close()
    # Shutdown frees the planted blocks (the sanitizer build's LeakSanitizer checks that in
    # the fixture's teardown).


# ---- errors ----

def test_errors(server_factory):
    s = server_factory()
    c = Resp(s)
    available = has_profiling(c)

    # Answered the same in both builds.
    assert c("MEMORY", "PROFILE", "NOSUCH") == "ERR unknown subcommand 'NOSUCH'. Try MEMORY PROFILE HELP."
    assert c("MEMORY", "PROFILE") == "ERR wrong number of arguments for 'memory|profile' command"
    err = c("MEMORY", "PROFILE", "STATUS", "extra")
    assert isinstance(err, str) and err.startswith("ERR"), err
    err = c("MEMORY", "PROFILE", "START", "now")
    assert isinstance(err, str) and err.startswith("ERR"), err
    help_ = c("MEMORY", "PROFILE", "HELP")
    assert isinstance(help_, list) and help_[0].startswith(b"MEMORY PROFILE <subcommand>"), help_
    text = b"\n".join(help_)
    for verb in (b"START", b"STOP", b"STATUS", b"RESET", b"DUMP", b"TOP", b"LEAKS", b"SUBSYSTEMS",
                 b"SNAPSHOT", b"TOFILE"):
        assert verb in text, verb
    assert any(b"PROFILE" in h for h in c("MEMORY", "HELP"))
    assert c("KPROFILE", "CPU", "ENABLE") == "ERR only KPROFILE MEMORY is supported"
    assert c("KPROFILE", "MEMORY", "NOSUCH") == "ERR KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP [dir]"
    assert c("KPROFILE", "MEMORY", "STATUS", "x") == "ERR KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP [dir]"
    err = c("KPROFILE", "MEMORY")
    assert isinstance(err, str) and "wrong number of arguments" in err, err
    for name, bad in (("memory-profiling-snapshot-interval", "-1"),
                      ("memory-profiling-snapshot-interval", "86401"),
                      ("memory-profiling-snapshots-keep", "1"),
                      ("memory-profiling-max-memory", "-5"),
                      ("memory-profiling-enabled", "maybe")):
        err = c("CONFIG", "SET", name, bad)
        assert isinstance(err, str) and err.startswith("ERR CONFIG SET failed"), (name, bad, err)

    if not available:
        for args in (("DUMP", "NOSUCH"), ("TOP", "0"), ("LEAKS", "abc")):
            assert_unavailable(c("MEMORY", "PROFILE", *args))
        assert c("PING") == b"PONG"
        return

    # Checked before anything runs, whether profiling is active or not.
    fmt_err = "ERR unknown format: use PPROF, RAW, COLLAPSED, SVG or JSON"
    assert c("MEMORY", "PROFILE", "DUMP", "NOSUCH") == fmt_err
    ok(c("MEMORY", "PROFILE", "START"))
    for fmt in ("NOSUCH", "jsonx", "pprofx", "x" * 40, ""):
        assert c("MEMORY", "PROFILE", "DUMP", fmt) == fmt_err, fmt
    for fmt in ("pprof", "Raw", "collapsed", "SVG", "Json"):  # case-insensitive
        assert isinstance(c("MEMORY", "PROFILE", "DUMP", fmt), bytes), fmt
    assert c("MEMORY", "PROFILE", "DUMP", "RAW", "extra") == "ERR syntax error"
    err = c("MEMORY", "PROFILE", "DUMP", "RAW", "TOFILE", "a", "b")
    assert isinstance(err, str) and err.startswith("ERR"), err
    count_err = "ERR count must be between 1 and 10000"
    for verb in ("TOP", "LEAKS"):
        for bad in ("0", "-1", "10001", "99999999999"):
            assert c("MEMORY", "PROFILE", verb, bad) == count_err, (verb, bad)
        assert c("MEMORY", "PROFILE", verb, "abc") == "ERR value is not an integer or out of range"
        assert c("MEMORY", "PROFILE", verb, "1.5") == "ERR value is not an integer or out of range"
        assert c("MEMORY", "PROFILE", verb, "5", "6") == "ERR syntax error"
        many = c("MEMORY", "PROFILE", verb, "10000")
        # LEAKS before any snapshot says why instead of an empty list.
        assert isinstance(many, list) or (verb == "LEAKS" and "snapshots" in many), (verb, many)
    err = c("MEMORY", "PROFILE", "SUBSYSTEMS", "5")
    assert isinstance(err, str) and err.startswith("ERR"), err
    # LEAKS with no snapshot taken yet: an error that says why and what to do.
    leaks = c("MEMORY", "PROFILE", "LEAKS")
    assert isinstance(leaks, str) and "need at least 2 snapshots" in leaks, leaks
    assert "MEMORY PROFILE SNAPSHOT" in leaks, leaks
    assert c("PING") == b"PONG"
    c.close()


# ---- profiling unavailable ----

def _check_unavailable(s):
    c = Resp(s)
    assert mem_info(c)["memkv_profiling_available"] == "0"
    st = status(c)
    assert st["available"] == 0 and st["active"] == 0, st
    why = st["unavailable-reason"].decode()
    assert len(why) >= 10, st
    for args in (("START",), ("STOP",), ("RESET",), ("DUMP",), ("DUMP", "PPROF"), ("DUMP", "RAW"),
                 ("DUMP", "COLLAPSED"), ("DUMP", "SVG"), ("DUMP", "SVG", "TOFILE"),
                 ("DUMP", "RAW", "TOFILE", "x.heap"), ("TOP",), ("TOP", "5"), ("LEAKS",),
                 ("SUBSYSTEMS",), ("SNAPSHOT",)):
        assert c("MEMORY", "PROFILE", *args) == UNAVAILABLE + why, args
        assert c("PING") == b"PONG"
    for args in (("ENABLE",), ("DISABLE",), ("DUMP",)):
        assert c("KPROFILE", "MEMORY", *args) == UNAVAILABLE + why, args
    assert c("KPROFILE", "MEMORY", "STATUS") == b"disabled"
    err = c("CONFIG", "SET", "memory-profiling-enabled", "yes")
    assert err == ("ERR CONFIG SET failed (possibly related to argument 'memory-profiling-enabled') - "
                   + why), err
    assert config_get(c, "memory-profiling-enabled") == "no"
    ok(c("CONFIG", "SET", "memory-profiling-enabled", "no"))
    info = mem_info(c)
    assert info["memkv_profiling_active"] == "0" and info["memkv_profiling_cap"] == "none"
    # The server keeps working.
    assert c.pipeline([("SET", "k%d" % i, "v") for i in range(1000)]) == [b"OK"] * 1000
    assert c("GET", "k999") == b"v"
    assert c("MEMORY", "PROFILE", "HELP")[0].startswith(b"MEMORY PROFILE")
    c.close()
    return why


def test_unavailable_errors_are_clear(server_factory, monkeypatch):
    s = server_factory()
    c = Resp(s)
    available = has_profiling(c)
    c.close()
    if not available:
        # The ASan build: libc malloc.
        why = _check_unavailable(s)
        assert "jemalloc" in why or "malloc" in why, why
        return
    # The jemalloc build started without prof:true (the environment overrides the embedded
    # malloc_conf): the reason says what to do.
    monkeypatch.setenv("MALLOC_CONF", "prof:false")
    s2 = server_factory(["--memory-profiling-enabled", "yes"])
    monkeypatch.delenv("MALLOC_CONF")
    c2 = Resp(s2)
    assert mem_info(c2)["mem_allocator"].startswith("jemalloc-")
    c2.close()
    why = _check_unavailable(s2)
    assert "prof:true" in why, why
    assert "memory-profiling-enabled is yes but" in s2.read_stdout()
