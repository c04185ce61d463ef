"""The exporter's MALLOC-STATS parser and renderer against real servers.

memkv: the per-size-class figures the exporter derives from MEMORY MALLOC-STATS text
(exporter/malloc_stats.c, render_malloc.c, run as the exporter-malloc-render filter) must
equal memkv's own memkv_allocator_bin_* families, which come from mallctl; both are read on
a quiet server, the metrics before and after the text, and the classes that did not move in
between must agree exactly.

Debian's redis-server 7.0.15 (system jemalloc 5.3.0, one arena): the text parses, the bins
are there, and the used bytes of the classes add up to the arena's "small: allocated".
"""
import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from exporter_harness import RedisServer
from helpers import Resp

RENDER = os.environ.get("MEMKV_EXPORTER_MALLOC_RENDER",
                        os.path.join(os.path.dirname(__file__), "../../build/tests/integration/exporter-malloc-render"))


def render(text):
    p = subprocess.run([RENDER], input=text, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode()


def families(body, prefix):
    """{name: {size: value}} for the memkv_allocator_bin_* samples, {name: value} for the
    unlabelled ones."""
    bins, plain = {}, {}
    for line in body.splitlines():
        if line.startswith("#") or not line.startswith(prefix):
            continue
        name, _, value = line.rpartition(" ")
        m = re.fullmatch(r'(\w+)\{size="(\d+)"\}', name)
        if m:
            bins.setdefault(m.group(1), {})[int(m.group(2))] = float(value)
        else:
            plain[name] = float(value)
    return bins, plain


def small_allocated(text, merged):
    """The "small:" allocated figure of the section the parser takes."""
    lines = text.decode().splitlines()
    start = 0
    if merged:
        start = next(i for i, l in enumerate(lines) if l.startswith("Merged arenas stats:"))
    else:
        start = next(i for i, l in enumerate(lines) if l.startswith("arenas[0]:"))
    for l in lines[start:]:
        if l.startswith("small:"):
            return int(l.split()[1])
    raise AssertionError("no small: line")


def fill(c):
    """Strings of many sizes, hashes, and deletions that leave holes in the slabs."""
    cmds = []
    for i in range(30000):
        cmds.append(("SET", "k:%d" % i, "x" * (5 + (i * 37) % 700)))
        if i % 4 == 0:
            cmds.append(("HSET", "h:%d" % (i % 300), "f%d" % i, "v" * (i % 50)))
    c.pipeline(cmds)
    c.pipeline([("DEL", "k:%d" % i) for i in range(0, 30000, 3)])


def memkv_metrics(server):
    url = "http://127.0.0.1:%d/metrics" % server.metrics_port
    return urllib.request.urlopen(url, timeout=30).read().decode()


def test_memkv_bins_match_own_metrics(server_factory):
    server = server_factory()
    c = Resp(server)
    if c("MEMORY", "MALLOC-STATS").startswith(b"Stats not supported"):
        pytest.skip("memkv built on libc malloc (the ASan tree): no jemalloc statistics")
    fill(c)
    time.sleep(0.3)  # let the cron and the client settle
    # Reading the text and the metrics allocates a little itself: take the classes that did
    # not move from one /metrics to the next, with MALLOC-STATS read in between, and require
    # those to match exactly; a few tries for the rare class that moves every time.
    for attempt in range(5):
        before, _ = families(memkv_metrics(server), "memkv_allocator_bin_")
        text = c("MEMORY", "MALLOC-STATS")
        after, _ = families(memkv_metrics(server), "memkv_allocator_bin_")
        assert isinstance(text, bytes) and text.startswith(b"___ Begin jemalloc statistics ___")
        body = render(text)
        mine, totals = families(body, "memkv_allocator_")
        assert "memkv_allocator_allocated_bytes" in totals
        free_b, used_b = before["memkv_allocator_bin_free_bytes"], before["memkv_allocator_bin_used_bytes"]
        stable = [s for s in free_b
                  if after["memkv_allocator_bin_free_bytes"].get(s) == free_b[s]
                  and after["memkv_allocator_bin_used_bytes"].get(s) == used_b.get(s)]
        assert len(stable) >= len(free_b) // 2, (before, after)
        bad = [(s, free_b[s], mine["memkv_allocator_bin_free_bytes"].get(s), used_b[s],
                mine["memkv_allocator_bin_used_bytes"].get(s)) for s in stable
               if mine["memkv_allocator_bin_free_bytes"].get(s) != free_b[s]
               or mine["memkv_allocator_bin_used_bytes"].get(s) != used_b[s]]
        if not bad:
            break
    assert not bad, "size, free (memkv), free (exporter), used (memkv), used (exporter): %r" % bad
    # The classes this data certainly uses are there, with holes left by the deletions.
    assert sum(mine["memkv_allocator_bin_free_bytes"].values()) > 0
    assert sum(mine["memkv_allocator_bin_used_bytes"].values()) == pytest.approx(
        small_allocated(text, merged=True), abs=0)
    c.close()


@pytest.fixture
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("Debian's redis-server is not installed")
    r = RedisServer()  # on a free port, started again on another if that one was taken

    class Addr:
        host = "127.0.0.1"
        port = r.port

    c = Resp(Addr())
    yield c
    c.close()
    r.stop()


def test_redis_server(redis_server):
    c = redis_server
    assert c("INFO", "server").decode().find("redis_version:") >= 0
    fill(c)
    text = c("MEMORY", "MALLOC-STATS")
    assert isinstance(text, bytes)
    body = render(text)
    bins, totals = families(body, "memkv_allocator_")
    used = bins["memkv_allocator_bin_used_bytes"]
    free = bins["memkv_allocator_bin_free_bytes"]
    assert len(used) >= 10 and set(used) == set(free)
    assert 8 in used and all(v >= 0 for v in free.values())
    assert sum(free.values()) > 0  # the deletions left holes
    # One arena: the classes' used bytes are exactly its small allocations, which are part of
    # everything allocated; active >= allocated, resident >= active.
    assert sum(used.values()) == small_allocated(text, merged=False)
    alloc = totals["memkv_allocator_allocated_bytes"]
    assert sum(used.values()) <= alloc
    assert totals["memkv_allocator_active_bytes"] >= alloc
    assert totals["memkv_allocator_resident_bytes"] >= totals["memkv_allocator_active_bytes"]
    for name in ("mapped", "metadata", "retained"):
        assert "memkv_allocator_%s_bytes" % name in totals


def test_not_supported():
    p = subprocess.run([RENDER], input=b"Stats not supported for the current allocator",
                       capture_output=True, timeout=60)
    assert p.returncode == 1
    assert b"Stats not supported" in p.stderr
