"""Real clients against the real memkv-server: the libhiredis client built with the tests
(pipelining, binary keys and values, 100k arguments) and redis-benchmark, pipelined and with
50 concurrent connections. The counters redis-benchmark increments double as a check that no
request was lost.
"""
import os
import re
import subprocess
import time

import pytest

HIREDIS_CLIENT = os.environ.get(
    "MEMKV_HIREDIS_CLIENT",
    os.path.join(os.path.dirname(__file__), "../../build/tests/integration/hiredis-client"))


def hiredis_client(server, *args, timeout=300):
    p = subprocess.run([HIREDIS_CLIENT, str(server.port)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "hiredis-client %s failed:\n%s%s" % (args, p.stdout, p.stderr)
    assert p.stderr == ""
    return p.stdout


def test_hiredis_pipeline(server, r):
    assert hiredis_client(server, "pipeline", 20000) == "OK pipeline\n"
    assert r.dbsize() == 20000
    # The values written through libhiredis read back the same through redis-py.
    value = r.get("pipe:36")
    assert value.startswith(b"v36\r\n\x00") and value.endswith(b"\r\n")
    assert len(value) == len(b"v36\r\n") + 1 + 36 + 2


def test_hiredis_binary(server, r):
    assert hiredis_client(server, "binary") == "OK binary\n"
    for b in (0, 10, 13, 36, 42, 255):
        assert r.get(bytes([b])) == bytes([b]) * (b + 1)
    assert r.strlen(bytes(range(256))) == 512


@pytest.mark.parametrize("k", [2, 1000, 100000])
def test_hiredis_bigarg(server, r, k):
    assert hiredis_client(server, "bigarg", k) == "OK bigarg\n"
    assert r.dbsize() == 0
    assert r.ping() is True


def run_benchmark(server, *args, timeout=300):
    cmd = ["redis-benchmark", "-h", server.host, "-p", str(server.port)] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    output = p.stdout + p.stderr
    assert p.returncode == 0, "%s exited %d:\n%s" % (cmd, p.returncode, output)
    assert "ERR" not in output, output
    assert not re.search(r"error|warning|could not", output, re.IGNORECASE), output
    # -q prints one result per test ("SET: 123.45 requests per second, ..."), between
    # progress lines ended with \r.
    results = {}
    for name, rps in re.findall(r"(?<![A-Za-z])([A-Z][A-Za-z0-9 ()]*?): ([0-9.]+) requests per "
                                r"second", output):
        assert name not in results, output
        results[name] = float(rps)
    return results


def check_benchmark_results(results):
    assert set(results) == {"SET", "GET", "INCR", "MSET (10 keys)"}, results
    assert all(rps > 0 for rps in results.values()), results


def test_redis_benchmark_pipelined(server, r):
    results = run_benchmark(server, "-t", "set,get,incr,mset", "-n", 100000, "-P", 16, "-q")
    check_benchmark_results(results)
    # Every INCR arrived exactly once; SET and MSET wrote their 3-byte values.
    assert r.get("counter:__rand_int__") == b"100000"
    assert r.strlen("key:__rand_int__") == 3
    assert r.dbsize() == 2


def test_redis_benchmark_50_clients(server, r):
    results = run_benchmark(server, "-t", "set,get,incr,mset", "-n", 20000, "-c", 50, "-q")
    check_benchmark_results(results)
    assert r.get("counter:__rand_int__") == b"20000"
    assert r.strlen("key:__rand_int__") == 3
    # The benchmark's 50 connections are all gone; only redis-py's remains.
    deadline = time.monotonic() + 10
    while r.info("clients")["connected_clients"] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.info("clients")["connected_clients"] == 1


def test_redis_benchmark_random_keys(server, r):
    """Random keys (-r) make the key space grow and rehash while 20 clients pipeline."""
    results = run_benchmark(server, "-t", "set,get", "-n", 100000, "-r", 50000, "-c", 20,
                            "-P", 8, "-d", 64, "-q")
    assert set(results) == {"SET", "GET"}, results
    n = r.dbsize()
    assert 30000 < n <= 50000
    key = r.randomkey()
    assert key.startswith(b"key:")
    assert r.strlen(key) == 64
    scanned = set(r.scan_iter(count=1000))
    assert len(scanned) == n
