"""memkv-server --analyze-rdb FILE [--json]: a dump.rdb written by Debian's redis-server 7.0.15,
analysed offline. The report's counts and bytes agree with what a normal memkv start on the
same file says (INFO keyspace, MEMORY USAGE, MEMORY TOP-KEYS) and with what redis-server says
(DBSIZE, TYPE, OBJECT ENCODING); text and JSON agree; damaged and missing files fail naming
the offset or the file; the Redis 7.0 estimate is checked against redis-server's own used_memory
on several data shapes."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import SANITIZER_MARKERS, SERVER, MemkvServer
from exporter_harness import RedisServer
from helpers import fill_every_encoding, free_port

# The estimate must be within this share of redis-server's used_memory delta on every shape
# (seen here: within 0.1%; the margin covers an empty server's own figures moving a little).
ESTIMATE_TOLERANCE = 0.10


def analyze(path, *args, check=True):
    p = subprocess.run([SERVER, "--analyze-rdb", path] + list(args), capture_output=True,
                       text=True, timeout=300)
    assert not any(m in p.stderr for m in SANITIZER_MARKERS), p.stderr
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="memkv-analyze-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def fill(r, r3, r5):
    """Every type in every encoding Redis 7.0 writes, TTLs, three dbs, a stream."""
    fill_every_encoding(r)
    r.set("s:shared", 7)
    r.xadd("st", {"f": "v"})
    r3.set("db3:key", "in db 3")
    r3.rpush("db3:list", "x")
    r3.set("db3:ttl", "t", ex=90_000)
    for i in range(50):
        r5.set("user:%d:name" % i, "name-%d" % i)


def redis_view(rs, dbs):
    """Per db: keys; over all: (type, encoding) counts as redis-server reports them."""
    sizes, encs = {}, {}
    for db in dbs:
        c = rs.client(db)
        sizes[db] = c.dbsize()
        for k in c.scan_iter(count=1000):
            t = c.type(k).decode()
            e = c.object("encoding", k).decode()
            encs[(t, e)] = encs.get((t, e), 0) + 1
    return sizes, encs


def text_sections(text):
    """{section title: [lines]} of the text report."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("# "):
            cur = line[2:]
            out[cur] = []
        elif cur is not None and line.strip():
            out[cur].append(line)
    return out


def text_table(lines):
    """Rows of a table section (after its header line): {name: [numbers...]}."""
    rows = {}
    for line in lines[1:]:
        parts = line.split()
        name = " ".join(parts[:-3]) if len(parts) > 4 else parts[0]
        nums = [int(x) for x in parts[len(name.split()):]]
        rows[name] = nums
    return rows


@pytest.fixture
def redis_dump(workdir):
    """A dump.rdb from redis-server with one key already expired when it is analysed, and what
    redis-server said about its data before the save."""
    rs = RedisServer(directory=workdir)
    try:
        r, r3, r5 = rs.client(), rs.client(3), rs.client(5)
        fill(r, r3, r5)
        r.set("s:soon", "gone at load", px=3000)  # room for redis_view and the save
        soon = time.monotonic() + 3.1
        sizes, encs = redis_view(rs, [0, 3, 5])
        r.save()
    finally:
        rs.stop()
    time.sleep(max(0.0, soon - time.monotonic()))  # s:soon's time has passed: the analysis
    # drops it, as a load does
    return os.path.join(workdir, "dump.rdb"), sizes, encs


def test_report_agrees_with_memkv_and_redis(redis_dump, workdir):
    path, redis_sizes, redis_encs = redis_dump
    rep = json.loads(analyze(path, "--json").stdout)
    f = rep["file"]
    assert f["name"] == path and f["size"] == os.path.getsize(path)
    assert f["rdb_version"] == 10
    assert f["aux"]["redis-ver"] == "7.0.15" and "ctime" in f["aux"] and "used-mem" in f["aux"]
    assert f["keys_expired_at_load"] == 1
    assert f["skipped"]["total"] == 1 and f["skipped"]["by_type"] == {"stream": 1}
    assert f["skipped"]["keys"] == ["st"]
    # redis-server's DBSIZE per db, less the stream (skipped) and s:soon (expired)
    by_db = {d["db"]: d for d in rep["by_db"]}
    assert by_db[0]["keys"] == redis_sizes[0] - 2
    assert by_db[3]["keys"] == redis_sizes[3] and by_db[5]["keys"] == redis_sizes[5]
    assert f["keys_loaded"] == sum(redis_sizes.values()) - 2
    # the file's encodings are Redis's: OBJECT ENCODING counts, less the stream and s:soon
    file_encs = {}
    for row in rep["by_rdb_encoding"]:
        if row["name"] != "string":
            t, e = row["name"].split("/")
            file_encs[(t, e)] = row["keys"]
    for row in rep["by_redis_string_encoding"]:
        file_encs[("string", row["name"])] = row["keys"]
    expect = dict(redis_encs)
    expect[("stream", "stream")] -= 1
    expect[("string", "embstr")] -= 1  # s:soon
    # hll:sparse (21 bytes) is raw while PFADD made it, embstr once loaded from a file
    expect[("string", "raw")] -= 1
    expect[("string", "embstr")] += 1
    expect = {k: v for k, v in expect.items() if v}
    assert file_encs == expect

    # a normal memkv start on the same file
    d = os.path.dirname(path)
    srv = MemkvServer(["--dir", d, "--dbfilename", "dump.rdb"])
    try:
        c = srv.client()
        info = c.info("keyspace")
        memkv_encs, usage, types = {}, {}, {}
        for db in (0, 3, 5):
            row = info["db%d" % db]
            assert row["keys"] == by_db[db]["keys"]
            assert row["expires"] == by_db[db]["volatile_keys"]
            for k, v in row.items():
                if k in ("keys", "expires", "avg_ttl"):
                    continue
                name = k.replace("_", "/", 1) if "_" in k else k
                memkv_encs[name] = memkv_encs.get(name, 0) + v
            cd = srv.client(db=db)
            db_bytes = 0
            for k in cd.scan_iter(count=1000):
                u = cd.memory_usage(k, samples=0)
                t = cd.type(k).decode()
                types[t] = types.get(t, 0) + u
                db_bytes += u
            usage[db] = db_bytes
            assert by_db[db]["memkv_bytes"] == db_bytes
        assert {r["name"]: r["keys"] for r in rep["by_encoding"]} == memkv_encs
        assert rep["memory"]["memkv_bytes"] == sum(usage.values())
        assert {r["name"]: r["memkv_bytes"] for r in rep["by_type"] if r["keys"]} == types
        assert sum(r["memkv_bytes"] for r in rep["by_encoding"]) == sum(usage.values())
        assert sum(r["memkv_bytes"] for r in rep["by_rdb_encoding"]) == sum(usage.values())
        assert sum(r["memkv_bytes"] for r in rep["by_ttl"]) == sum(usage.values())
        top = c.execute_command("MEMORY", "TOP-KEYS", "COUNT", "10")
        top = [dict(zip(t[::2], t[1::2])) for t in top]
        assert [(k["key"], k["memkv_bytes"]) for k in rep["top_keys"]] == [
            (t[b"key"].decode(), t[b"bytes"]) for t in top]
        for big in rep["largest_by_type"]:
            t = c.execute_command("MEMORY", "TOP-KEYS", "COUNT", "1", "TYPE", big["type"])[0]
            t = dict(zip(t[::2], t[1::2]))
            assert (big["key"], big["memkv_bytes"], big["length"]) == (
                t[b"key"].decode(), t[b"bytes"], t[b"length"])
    finally:
        srv.stop()
    assert rep["top_keys"][0]["key"] == "l:big" and rep["top_keys"][0]["encoding"] == "quicklist"
    assert any(p["prefix"].startswith("user:") and p["keys"] == 50 for p in rep["top_prefixes"])
    mem = rep["memory"]
    assert mem["redis_estimate_bytes"] == mem["redis_keys_bytes"] + mem["redis_tables_bytes"]
    assert sum(r["redis_bytes"] for r in rep["by_db"]) == mem["redis_estimate_bytes"]
    assert sum(r["redis_bytes"] for r in rep["by_type"]) == mem["redis_keys_bytes"]
    assert "estimate" in mem["redis_estimate_model"].lower()
    assert rep["doctor"]["keyspace_stats"] is True
    assert "Not judged offline" in rep["doctor"]["not_judged"]


def test_text_and_json_agree(redis_dump):
    path = redis_dump[0]
    rep = json.loads(analyze(path, "--json").stdout)
    text = analyze(path).stdout
    s = text_sections(text)
    fields = dict(line.split(": ", 1) for line in s["File"])
    assert fields["file"] == path and int(fields["file_size"]) == rep["file"]["size"]
    assert int(fields["rdb_version"]) == 10
    assert int(fields["keys_loaded"]) == rep["file"]["keys_loaded"]
    assert int(fields["keys_expired_at_load"].split()[0]) == 1
    assert fields["skipped.stream"] == "1" and fields["skipped_key"] == "st"
    assert fields["aux.redis-ver"] == "7.0.15"
    mem = dict(line.split(": ", 1) for line in s["Memory"])
    for k in ("memkv_bytes", "memkv_dataset_bytes", "redis_estimate_bytes"):
        assert int(mem[k].split()[0]) == rep["memory"][k]
    for title, key in (("By type", "by_type"), ("By encoding (memkv, after load)", "by_encoding")):
        rows = text_table(s[title])
        assert rows == {r["name"]: [r["keys"], r["memkv_bytes"], r["redis_bytes"]]
                        for r in rep[key]}, title
    rows = text_table(s["By encoding (the file's RDB type: Redis's)"])
    for r in rep["by_rdb_encoding"]:
        assert rows[r["name"]] == [r["keys"], r["memkv_bytes"], r["redis_bytes"]]
    rows = text_table(s["By db (redis_bytes include the db's tables)"])
    assert rows == {"db%d" % r["db"]: [r["keys"], r["memkv_bytes"], r["redis_bytes"]]
                    for r in rep["by_db"]}
    rows = text_table(s["By TTL"])
    assert rows == {r["name"]: [r["keys"], r["memkv_bytes"]] for r in rep["by_ttl"]}
    top = [line.split() for line in s["Top keys"][1:]]
    assert [(t[0], int(t[5])) for t in top] == [(k["key"], k["memkv_bytes"])
                                                for k in rep["top_keys"]]
    largest = [line.split() for line in s["Largest key per type"][1:]]
    assert [(t[0], t[2], int(t[5])) for t in largest] == [
        (k["key"], k["type"], k["memkv_bytes"]) for k in rep["largest_by_type"]]
    assert "Not judged offline" in "\n".join(s["Doctor"])
    assert "jemalloc 5.3 size class" in " ".join(s["Redis 7.0 estimate"])


def test_doctor_findings_on_the_file(workdir):
    """The doctor's key-space rules judge the loaded data: a dominant key, and (given
    --maxmemory) a data set that will not fit."""
    rs = RedisServer(directory=workdir)
    try:
        r = rs.client()
        r.set("huge", b"h" * (40 << 20))
        _pipe(r, lambda p, i: p.set("small:%d" % i, "v"), 100)
        r.save()
    finally:
        rs.stop()
    path = os.path.join(workdir, "dump.rdb")
    rep = json.loads(analyze(path, "--json").stdout)
    codes = [f["code"] for f in rep["doctor"]["findings"]]
    assert codes == ["big-key"], rep["doctor"]
    assert '"huge"' in rep["doctor"]["findings"][0]["text"]
    rep = json.loads(analyze(path, "--json", "--maxmemory", "20mb").stdout)
    assert {f["code"] for f in rep["doctor"]["findings"]} == {"big-key", "maxmemory"}
    text = analyze(path).stdout
    assert "big-key: Big key" in text


def test_damaged_and_missing_files(redis_dump, workdir):
    path = redis_dump[0]
    data = open(path, "rb").read()
    cut = os.path.join(workdir, "cut.rdb")
    with open(cut, "wb") as f:
        f.write(data[: len(data) // 2])
    p = analyze(cut, check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert "offset" in p.stderr and "cut.rdb" in p.stderr
    bad = os.path.join(workdir, "bad.rdb")
    with open(bad, "wb") as f:
        f.write(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])  # the checksum no longer matches
    p = analyze(bad, "--json", check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert "checksum" in p.stderr and "offset" in p.stderr
    p = analyze(os.path.join(workdir, "nope.rdb"), check=False)
    assert p.returncode == 1 and p.stdout == ""
    assert "nope.rdb" in p.stderr and "No such file" in p.stderr
    p = subprocess.run([SERVER, "--analyze-rdb"], capture_output=True, text=True)
    assert p.returncode == 1 and "Usage" in p.stderr


def test_config_args_no_listener_no_pidfile(redis_dump, workdir):
    path = redis_dump[0]
    pidfile = os.path.join(workdir, "memkv.pid")
    port = free_port()
    p = analyze(path, "--json", "--port", str(port), "--pidfile", pidfile, "--loglevel", "debug")
    json.loads(p.stdout)  # nothing but the report on stdout
    assert not os.path.exists(pidfile)
    # a db beyond --databases: a clear refusal, as a start-up load gives
    p = analyze(path, "--databases", "4", check=False)
    assert p.returncode == 3 and "databases" in p.stderr
    assert analyze(path, "--json", "--databases", "32").returncode == 0
    p = analyze(path, "--no-such-option", "1", check=False)
    assert p.returncode != 0 and "no-such-option" in p.stderr


def test_help_mentions_analyze():
    p = subprocess.run([SERVER, "--help"], capture_output=True, text=True, check=True)
    assert "--analyze-rdb" in p.stdout


# ---- the Redis 7.0 estimate against redis-server's own accounting ----

def _pipe(r, fn, n):
    p = r.pipeline(transaction=False)
    for i in range(n):
        fn(p, i)
    p.execute()


SHAPES = {
    "small strings": lambda r: _pipe(r, lambda p, i: p.set("user:%d" % i, "v%08d" % i), 20000),
    "big strings": lambda r: _pipe(r, lambda p, i: p.set("blob:%d" % i, "x" * (200 + i % 5 * 700)),
                                   2000),
    "ints": lambda r: _pipe(r, lambda p, i: p.set(
        "n:%d" % i, i if i % 2 else random.Random(i).randint(10**5, 10**15)), 20000),
    "strings with TTL": lambda r: _pipe(
        r, lambda p, i: p.set("sess:%d" % i, "token-%d" % i, ex=3600 + i), 20000),
    "small hashes": lambda r: _pipe(
        r, lambda p, i: p.hset("h:%d" % i, mapping={"f%d" % j: "val%d" % j for j in range(10)}),
        2000),
    "big hashes": lambda r: _pipe(
        r, lambda p, i: p.hset("bh:%d" % i,
                               mapping={"field:%d" % j: "value-%d" % j for j in range(1000)}), 20),
    "small lists": lambda r: _pipe(r, lambda p, i: p.rpush("l:%d" % i, *range(10)), 2000),
    "big lists": lambda r: _pipe(
        r, lambda p, i: p.rpush("bl:%d" % i, *["element-%d" % j for j in range(20000)]), 10),
    "small sets": lambda r: _pipe(
        r, lambda p, i: (p.sadd("si:%d" % i, *range(10)),
                         p.sadd("ss:%d" % i, *["m%d" % j for j in range(10)])), 2000),
    "big sets": lambda r: _pipe(
        r, lambda p, i: p.sadd("bs:%d" % i, *["member:%d" % j for j in range(5000)]), 10),
    "small zsets": lambda r: _pipe(
        r, lambda p, i: p.zadd("z:%d" % i, {"m%d" % j: j * 1.5 for j in range(10)}), 2000),
    "big zsets": lambda r: _pipe(
        r, lambda p, i: p.zadd("bz:%d" % i, {"member:%d" % j: j * 0.5 for j in range(5000)}), 10),
}


def used_memory(rs):
    return int(rs.client().info("memory")["used_memory"])


def test_redis_estimate_within_tolerance(workdir):
    empty_dir = os.path.join(workdir, "empty")
    os.makedirs(empty_dir)
    results = []
    for name, make in SHAPES.items():
        d = os.path.join(workdir, name.replace(" ", "_"))
        os.makedirs(d)
        rs = RedisServer(directory=d)
        try:
            make(rs.client())
            rs.client().save()
        finally:
            rs.stop()
        # used_memory of a server that loaded the file, minus an empty one's
        empty = RedisServer(directory=empty_dir)
        try:
            base = used_memory(empty)
        finally:
            empty.stop()
        loaded = RedisServer(directory=d)
        try:
            delta = used_memory(loaded) - base
            c = loaded.client()
            usage = sum(c.memory_usage(k, samples=0) for k in c.scan_iter(count=1000))
        finally:
            loaded.stop()
        rep = json.loads(analyze(os.path.join(d, "dump.rdb"), "--json").stdout)["memory"]
        est = rep["redis_estimate_bytes"]
        err = (est - delta) / delta
        results.append((name, delta, est, err, usage, rep["redis_keys_bytes"],
                        rep["memkv_dataset_bytes"]))
    print("\n%-18s %12s %12s %8s %14s %12s %12s" % ("shape", "redis_delta", "estimate", "error",
                                                  "memory_usage", "est_keys", "memkv"))
    for name, delta, est, err, usage, keys, memkv in results:
        print("%-18s %12d %12d %+7.2f%% %14d %12d %12d" % (name, delta, est, 100 * err, usage,
                                                         keys, memkv))
    bad = [(n, round(100 * e, 2)) for n, _, _, e, _, _, _ in results
           if abs(e) > ESTIMATE_TOLERANCE]
    assert not bad, "estimate off by more than %d%%: %s" % (100 * ESTIMATE_TOLERANCE, bad)
