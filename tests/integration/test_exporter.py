"""memkv-exporter against Debian's redis-server 7.0.15 and memkv-server, both through one
exporter via /scrape?target=: families and values, promtool, the kept connection, pipelining,
auth entries, the HTTP answers to bad requests, memory after many scrapes."""
import os
import shutil
import socket
import tempfile
import time

import pytest

from exporter_harness import (Exporter, FakeRedis, FakeTarget, Forwarder, RedisServer, labels_of, last_error, parse_metrics,
                              promtool_check, value)

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs Debian's redis-server")


@pytest.fixture
def redis_server():
    r = RedisServer()
    yield r
    r.stop()


@pytest.fixture
def exporter_factory():
    started = []

    def start(*args, **kw):
        e = Exporter(args, **kw)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


@pytest.fixture
def exporter(exporter_factory):
    return exporter_factory()


def near(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1)


def test_redis_and_memkv_through_one_exporter(exporter, redis_server, server):
    rc = redis_server.client()
    mc = server.client()
    for i in range(200):
        rc.set("k%d" % i, "v" * 100)
        mc.set("k%d" % i, "v" * 100)
    mc.expire("k0", 1000)

    for target, c, kind in ((redis_server.target, rc, "redis"), ("127.0.0.1:%d" % server.port, mc, "memkv")):
        body = exporter.scrape(target)
        info = c.info("all")
        m = parse_metrics(body)
        assert value(m, "memkv_up") == 1, body[:2000]
        assert last_error(m) == ""
        servers = labels_of(m, "memkv_server_info")
        assert len(servers) == 1 and servers[0]["kind"] == kind, servers
        assert near(value(m, "memkv_memory_used_bytes"), info["used_memory"], 0.10)
        assert near(value(m, "memkv_memory_rss_bytes"), info["used_memory_rss"], 0.25)
        assert value(m, "memkv_db_keys", db="0") == 200
        if kind == "memkv":
            assert value(m, "memkv_db_expiring_keys", db="0") == 1
        assert value(m, "memkv_exporter_scrape_duration_seconds") < 1.0
        assert value(m, "memkv_exporter_scrapes_total", result="up") >= 1
        code, out = promtool_check(body)
        assert code == 0, out


def test_metrics_is_default_target_plus_self(exporter_factory, redis_server):
    e = exporter_factory("--target", "redis://" + redis_server.target)
    status, headers, body = e.get("/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    m = parse_metrics(body)
    assert value(m, "memkv_up") == 1
    for name in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds",
                 "memkv_exporter_connections_kept", "memkv_exporter_build_info"):
        assert any(k[0] == name for k in m), name
    assert promtool_check(body)[0] == 0
    # OpenMetrics when asked for
    status, headers, body = e.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    # without --target: only the exporter itself
    e2 = exporter_factory()
    m = parse_metrics(e2.get("/metrics")[2])
    assert value(m, "memkv_up") is None
    assert any(k[0] == "process_resident_memory_bytes" for k in m)


def test_kept_connection_and_fresh(exporter_factory, redis_server):
    c = redis_server.client()
    e = exporter_factory()
    e.scrape(redis_server.target)
    before = c.info("stats")["total_connections_received"]
    for _ in range(20):
        assert value(parse_metrics(e.scrape(redis_server.target)), "memkv_up") == 1
    after = c.info("stats")["total_connections_received"]
    assert after - before <= 1, (before, after)  # our own INFO client only
    m = parse_metrics(e.get("/metrics")[2])
    assert value(m, "memkv_exporter_connections_kept") == 1
    assert value(m, "memkv_exporter_connections_opened_total") == 1

    # the server closes idle connections: the next scrape redials and is still up
    c.config_set("timeout", 1)
    time.sleep(2.5)
    assert value(parse_metrics(e.scrape(redis_server.target)), "memkv_up") == 1
    c = redis_server.client()  # the old one was closed by the server too
    c.config_set("timeout", 0)

    f = exporter_factory("--fresh-connection")
    before = c.info("stats")["total_connections_received"]
    for _ in range(20):
        assert value(parse_metrics(f.scrape(redis_server.target)), "memkv_up") == 1
    after = c.info("stats")["total_connections_received"]
    assert after - before >= 20
    assert value(parse_metrics(f.get("/metrics")[2]), "memkv_exporter_connections_kept") == 0


def test_commands_are_pipelined(exporter_factory, redis_server):
    fwd = Forwarder(redis_server.port)
    try:
        e = exporter_factory(config_text="auth pw password-env EXP_TEST_PW\n", env={"EXP_TEST_PW": "secret"})
        redis_server.client().config_set("requirepass", "secret")
        for _ in range(3):
            m = parse_metrics(e.scrape(fwd.target, auth="pw"))
            assert value(m, "memkv_up") == 1, last_error(m)
        # one write per scrape, each holding every command
        assert len(fwd.chunks) == 3, fwd.chunks
        for chunk in fwd.chunks:
            assert chunk.startswith(b"*2\r\n$4\r\nAUTH\r\n"), chunk
            assert b"INFO" in chunk and b"STATS" in chunk
    finally:
        fwd.stop()


def test_malloc_stats_opt_in_and_cached(exporter_factory, redis_server):
    c = redis_server.client()
    e = exporter_factory("--malloc-stats-interval", "60s")
    m = parse_metrics(e.scrape(redis_server.target))
    assert not any(k[0].startswith("memkv_allocator_bin_") for k in m)
    for _ in range(3):
        m = parse_metrics(e.scrape(redis_server.target, malloc_stats="1"))
        assert value(m, "memkv_up") == 1
        assert any(k[0].startswith("memkv_allocator_bin_") for k in m), sorted({k[0] for k in m})
    calls = c.info("commandstats").get("cmdstat_memory|malloc-stats", {}).get("calls", 0)
    assert calls == 1  # cached for --malloc-stats-interval


@pytest.fixture
def secured(redis_server):
    c = redis_server.client()
    c.execute_command("ACL", "SETUSER", "metrics", "on", ">filepass", "~*", "+@all")
    c.config_set("requirepass", "envpass")
    return redis_server


def test_auth_entries(exporter_factory, secured):
    d = tempfile.mkdtemp()
    try:
        pwfile = os.path.join(d, "metrics.pass")
        with open(pwfile, "w") as f:
            f.write("filepass\n")
        os.chmod(pwfile, 0o600)
        conf = ("auth byfile user metrics password-file %s\n"
                "auth byenv password-env EXP_TEST_ENVPASS\n"
                "auth wrong password-env EXP_TEST_WRONG\n"
                "auth unset password-env EXP_TEST_UNSET\n") % pwfile
        e = exporter_factory(config_text=conf, env={"EXP_TEST_ENVPASS": "envpass", "EXP_TEST_WRONG": "nope"})
        t = secured.target
        for name in ("byfile", "byenv"):
            m = parse_metrics(e.scrape(t, auth=name))
            assert value(m, "memkv_up") == 1, (name, last_error(m))
        m = parse_metrics(e.scrape(t, auth="wrong"))
        assert value(m, "memkv_up") == 0
        assert last_error(m).startswith("WRONGPASS"), last_error(m)
        m = parse_metrics(e.scrape(t))
        assert value(m, "memkv_up") == 0
        assert last_error(m).startswith("NOAUTH"), last_error(m)
        m = parse_metrics(e.scrape(t, auth="unset"))
        assert value(m, "memkv_up") == 0
        assert "EXP_TEST_UNSET" in last_error(m)
        # the password never appears in what the exporter answers or logs
        for name in ("byfile", "byenv", "wrong"):
            body = e.scrape(t, auth=name)
            assert "filepass" not in body and "envpass" not in body
        assert "filepass" not in e.read_stderr() and "envpass" not in e.read_stderr()
        status, _, body = e.get("/scrape?target=%s&auth=ghost" % t)
        assert status == 400 and "ghost" in body
    finally:
        shutil.rmtree(d)


def test_credentials_go_only_to_their_targets(exporter_factory, secured, tmp_path):
    """An auth entry with "targets" is sent to those targets only, and allow-targets bounds what
    /scrape accepts at all: whoever reaches the exporter cannot have it send a password, or
    connect, elsewhere (403, and no connection is made)."""
    pw = tmp_path / "bound.pass"
    pw.write_text("filepass\n")
    elsewhere = FakeTarget(handler=lambda t, c: (t.read_request(c), c.sendall(b"-ERR no\r\n")))
    try:
        conf = ("auth bound user metrics password-file %s targets 10.9.9.*:6379,%s\n"
                "allow-targets 127.0.0.1:*,unix:///*\n") % (pw, secured.target)
        e = exporter_factory(config_text=conf)
        m = parse_metrics(e.scrape(secured.target, auth="bound"))
        assert value(m, "memkv_up") == 1, last_error(m)
        status, _, body = e.get("/scrape?target=%s&auth=bound" % elsewhere.target)
        assert status == 403 and "auth 'bound' is not for target" in body, (status, body)
        status, _, body = e.get("/scrape?target=10.1.2.3:6379")
        assert status == 403 and "allow-targets" in body, (status, body)
        time.sleep(0.2)
        assert elsewhere.conns == [] and elsewhere.chunks == []
        # Without auth the other target is allowed (127.0.0.1:*), and gets no AUTH.
        m = parse_metrics(e.scrape(elsewhere.target))
        assert value(m, "memkv_up") == 0
        assert elsewhere.chunks and b"AUTH" not in b"".join(elsewhere.chunks)
        assert b"filepass" not in b"".join(elsewhere.chunks)
    finally:
        elsewhere.stop()


def test_token_file(exporter_factory, redis_server, tmp_path):
    """--token-file: every path but /healthz needs "Authorization: Bearer <token>"; an empty or
    unreadable token file stops the start."""
    tok = tmp_path / "token"
    tok.write_text("s3cret-token\n")
    e = exporter_factory("--token-file", str(tok))
    path = "/scrape?target=%s" % redis_server.target
    assert e.get(path)[0] == 401
    assert e.get(path, headers={"Authorization": "Bearer wrong"})[0] == 401
    status, _, body = e.get(path, headers={"Authorization": "Bearer s3cret-token"})
    assert status == 200 and value(parse_metrics(body), "memkv_up") == 1
    assert e.get("/healthz")[0] == 200
    assert e.get("/metrics")[0] == 401
    tok.write_text("")
    with pytest.raises(RuntimeError, match="token-file"):
        exporter_factory("--token-file", str(tok))
    with pytest.raises(RuntimeError, match="token-file"):
        exporter_factory("--token-file", str(tmp_path / "missing"))


def test_ipv6(exporter_factory):
    """Over IPv6 loopback both ways: the exporter listening on [::1], the target [::1]:port."""
    if not socket.has_ipv6:
        pytest.fail("no IPv6 in this Python")
    r = RedisServer("--bind", "127.0.0.1", "::1")
    try:
        e = exporter_factory("--listen", "[::1]:0")
        assert e.host == "::1"
        m = parse_metrics(e.scrape("%%5B::1%%5D:%d" % r.port))
        assert value(m, "memkv_up") == 1, last_error(m)
        m = parse_metrics(e.scrape("redis://%%5B::1%%5D:%d" % r.port))
        assert value(m, "memkv_up") == 1, last_error(m)
    finally:
        r.stop()


def test_bad_requests(exporter, redis_server):
    cases = [
        ("/scrape?target=%s&colour=red" % redis_server.target, "unknown query parameter 'colour'"),
        ("/scrape", "missing target"),
        ("/scrape?target=", "missing target"),
        ("/scrape?target=redis://user:pw@127.0.0.1:1", "credentials"),
        ("/scrape?target=rediss://127.0.0.1:1", "TLS"),
        ("/scrape?target=%s&target=%s" % (redis_server.target, redis_server.target), "twice"),
        ("/scrape?target=%s&malloc_stats=maybe" % redis_server.target, "malloc_stats"),
        ("/scrape?target=%s&kind=memcached" % redis_server.target, "kind"),
    ]
    for path, text in cases:
        status, headers, body = exporter.get(path)
        assert status == 400, (path, status, body)
        assert headers["content-type"].startswith("text/plain")
        assert text in body, (path, body)
    m = parse_metrics(exporter.get("/metrics")[2])
    assert value(m, "memkv_exporter_scrapes_total", result="bad_request") == len(cases)
    status, _, body = exporter.get("/healthz")
    assert status == 200


def test_cli_refuses_secrets_and_bad_flags(tmp_path):
    import subprocess
    from exporter_harness import EXPORTER
    for args, text in ((["--password", "x"], "never"), (["--target", "redis://u:p@h"], "credentials"),
                       (["--bogus", "1"], "unknown option"), (["--timeout", "soon"], "invalid timeout")):
        r = subprocess.run([EXPORTER] + args, capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (args, r.stderr)
        assert text in r.stderr, (args, r.stderr)
    r = subprocess.run([EXPORTER, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--max-reply-bytes" in r.stdout and "9123" in r.stdout
    r = subprocess.run([EXPORTER, "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("memkv-exporter ")


def test_memory_after_1000_scrapes(exporter, redis_server):
    for _ in range(1000):
        exporter.scrape(redis_server.target)
    vmrss, anon = exporter.rss_kb()
    print("memkv-exporter after 1000 scrapes: VmRSS %d kB, RssAnon %d kB" % (vmrss, anon))
    if not exporter.sanitized():
        assert anon <= 1200, anon  # a fifth of redis_exporter's ~6 MB of private memory


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "data", "exporter")


@pytest.mark.parametrize("recording,kind,sends_memory_stats,sends_malloc_stats", [
    ("kvrocks-2.10.1-info.synthetic.txt", "kvrocks", False, False),
    ("dragonfly-1.25.0-info.synthetic.txt", "dragonfly", True, False),
    ("valkey-8.0.0-info.synthetic.txt", "valkey", True, True),
    ("keydb-6.3.4-info.synthetic.txt", "keydb", True, True),
])
def test_commands_follow_the_kind(exporter_factory, recording, kind, sends_memory_stats, sends_malloc_stats):
    """Once INFO told the kind, the next scrape asks only what that kind has: no MEMORY on
    Kvrocks (an alias of its disk usage), no MALLOC-STATS on Dragonfly (mimalloc's text) or
    Kvrocks. A MEMORY error on the first scrape, before the kind is known, is not down."""
    with open(os.path.join(DATA, recording), "rb") as f:
        info = f.read()
    fake = FakeRedis(info)
    try:
        e = exporter_factory()
        for _ in range(2):
            m = parse_metrics(e.scrape(fake.target, malloc_stats="1"))
            assert value(m, "memkv_up") == 1, last_error(m)
            assert labels_of(m, "memkv_server_info")[0]["kind"] == kind
        first, second = fake.batches[0], fake.batches[1]
        assert first[:2] == ["INFO ALL", "MEMORY STATS"]
        assert ("MEMORY STATS" in second) == sends_memory_stats, second
        assert ("MEMORY MALLOC-STATS" in second) == sends_malloc_stats, second
        assert len(fake.conns) == 1  # kept across both
    finally:
        fake.stop()
