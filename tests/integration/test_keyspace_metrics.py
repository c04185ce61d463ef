"""Key-space statistics on /metrics (issue 13, "Metrics"): the memkv_keyspace_* families against
what the server answers over RESP at the same moment (MEMORY PREFIXES, INFO keysizes, MEMORY
USAGE, TYPE, TTL and the length of every key), the histograms valid for promtool and for the
strict OpenMetrics parser of python3-prometheus-client, label values that are folded prefixes and
never key names, keyspace-prefix-metrics bounding the prefix series, prefixes that are not valid
UTF-8, and keyspace-stats switched off and on.

"The same moment": the figures come from the snapshot the cron publishes ten times a second, so
each test writes its data, then waits until two scrapes in a row agree (the snapshot has caught
up) and asks the RESP questions with no write in between.
"""
import http.client
import re
import subprocess
import time

from prometheus_client.openmetrics import parser as om_parser

from helpers import Resp, info_fields, metric as value, parse_text as parse, wait_until

OPENMETRICS = "application/openmetrics-text;version=1.0.0"
TYPES = ("string", "hash", "list", "set", "zset")
TTL_BUCKETS = ("none", "lt_1h", "lt_1d", "lt_1w", "longer")
LENGTH_COMMAND = {"string": "STRLEN", "hash": "HLEN", "list": "LLEN", "set": "SCARD",
                  "zset": "ZCARD"}
# INFO keysizes field names (Redis 8's for lengths, memkv's for bytes).
KEYSIZES_FIELD = {"string": ("strings_sizes", "strings_bytes"),
                  "list": ("lists_items", "lists_bytes"), "set": ("sets_items", "sets_bytes"),
                  "zset": ("zsets_items", "zsets_bytes"), "hash": ("hashes_items", "hashes_bytes")}


# ---- helpers ----

def get_metrics(port, accept=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", "/metrics", headers={"Accept": accept} if accept else {})
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body[:300])
        return body
    finally:
        conn.close()


def series(samples, name):
    """{labels dict as a sorted tuple: value} of one sample name."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def by_label(samples, name, label):
    return {dict(labels)[label]: v for labels, v in series(samples, name).items()}


def keyspace_lines(body):
    return [l for l in body.decode().splitlines()
            if l.startswith("memkv_keyspace_") and not l.startswith(("memkv_keyspace_keys{",
                                                                     "memkv_keyspace_hits",
                                                                     "memkv_keyspace_misses"))]


def settled_scrape(port, timeout=10):
    """A scrape whose key-space figures equal those of the two scrapes before it, spread over
    half a second, five cron periods (100 ms): the cron's snapshot has caught up with the last
    write, even when a loaded host delays a tick or two."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        body = get_metrics(port)
        seen = (seen + [keyspace_lines(body)])[-3:]
        if len(seen) == 3 and seen[0] == seen[1] == seen[2]:
            return body
        time.sleep(0.25)
    raise AssertionError("the key-space figures on /metrics did not settle")


def assert_promtool_clean(body):
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b""), (p.stdout, p.stderr)


def as_map(flat):
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def memory_prefixes(c, count):
    rows = [as_map(r) for r in c("MEMORY", "PREFIXES", "COUNT", count)]
    assert all(isinstance(r, dict) for r in rows), rows
    return rows


def keysizes_bins(text):
    """ "1=3,4=50,1K=2" -> {bin floor: count}."""
    out = {}
    for pair in text.split(","):
        label, n = pair.split("=")
        m = re.fullmatch(r"(\d+)([KMGTP]?)", label)
        floor = int(m.group(1)) * 1024 ** (" KMGTP".index(m.group(2) or " "))
        out[floor] = int(n)
    return out


def all_keys(c):
    keys, cursor = [], b"0"
    while True:
        cursor, batch = c("SCAN", cursor, "COUNT", 1000)
        keys += batch
        if cursor == b"0":
            return keys


def expected_from_resp(c, dbs=16):
    """Per type: keys, bytes (MEMORY USAGE) and the sum of lengths; per TTL bucket: keys and
    bytes; from RESP questions about every key of every db."""
    types = {t: {"keys": 0, "bytes": 0, "len_sum": 0} for t in TYPES}
    ttl = {b: {"keys": 0, "bytes": 0} for b in TTL_BUCKETS}
    now_minute = int(time.time()) // 60
    keys = []
    for db in range(dbs):
        assert c("SELECT", db) == b"OK"
        keys += [(db, k) for k in all_keys(c)]
    for db, k in keys:
        assert c("SELECT", db) == b"OK"
        t = c("TYPE", k).decode()
        usage = c("MEMORY", "USAGE", k)
        length = c(LENGTH_COMMAND[t], k)
        types[t]["keys"] += 1
        types[t]["bytes"] += usage
        types[t]["len_sum"] += length
        pttl = c("PTTL", k)
        if pttl < 0:
            b = "none"
        else:  # kstats's rule: the expire minute against the current minute
            left = (int(time.time() * 1000) + pttl) // 60000 - now_minute
            b = "lt_1h" if left < 60 else "lt_1d" if left < 1440 else \
                "lt_1w" if left < 10080 else "longer"
        ttl[b]["keys"] += 1
        ttl[b]["bytes"] += usage
    assert c("SELECT", 0) == b"OK"
    return types, ttl


def check_histogram(samples, name, t):
    """The buckets of one type: le increasing, counts cumulative, +Inf = _count. Returns
    {le (float): cumulative count}."""
    buckets = {float(dict(l)["le"]): v for l, v in series(samples, name + "_bucket").items()
               if dict(l)["type"] == t}
    les = sorted(buckets)
    assert les[-1] == float("inf"), (name, t, les)
    counts = [buckets[le] for le in les]
    assert counts == sorted(counts), (name, t, buckets)
    assert buckets[float("inf")] == value(samples, name + "_count", type=t)
    # le = 2^i - 1 for i = 0.. the highest non-empty bin: consecutive, nothing beyond it
    finite = les[:-1]
    assert finite == [2.0 ** i - 1 for i in range(len(finite))], (name, t, finite)
    if finite:  # the highest finite bucket is a bin with keys in it
        below = buckets[finite[-2]] if len(finite) > 1 else 0
        assert buckets[finite[-1]] > below, "%s{type=%s}: empty last bucket" % (name, t)
    return buckets


def load(c):
    """Several types, sizes, TTLs and prefixes; returns the names written."""
    cmds, names = [], []
    for i in range(300):  # strings of lengths 0..149 under one prefix
        cmds.append(("SET", "user:%d:name" % i, "x" * (i % 150)))
        names.append("user:%d:name" % i)
    for i in range(60):  # hashes of 1..30 fields, some past the listpack limits
        k = "session:%d" % i
        fields = ("f%d" % f for f in range(1 + i % 30))
        cmds.append(("HSET", k) + tuple(x for f in fields for x in (f, "v" * 10)))
        names.append(k)
    cmds.append(("HSET", "session:999") + tuple(x for f in range(700) for x in ("f%d" % f, "v")))
    names.append("session:999")
    for i in range(40):  # lists of 1..200 elements
        k = "queue:jobs:%d" % i
        cmds.append(("RPUSH", k) + tuple("job-%d" % j for j in range(1 + (i * 5) % 200)))
        names.append(k)
    for i in range(30):  # sets: integers (intset) and strings
        k = "tags:%d" % i
        if i % 2:
            members = ["%d" % j for j in range(1 + i)]
        else:
            members = ["t%d" % j for j in range(1 + 3 * i)]
        cmds.append(("SADD", k) + tuple(members))
        names.append(k)
    for i in range(20):  # sorted sets, one past the listpack limit
        k = "board:%d" % i
        n = 300 if i == 0 else 1 + i
        cmds.append(("ZADD", k) + tuple(x for j in range(n) for x in (str(j), "m%d" % j)))
        names.append(k)
    for i in range(25):  # IDs folded: hex and long segments
        k = "obj:%016x:meta" % (0xdeadbeef00 + i)
        cmds.append(("SET", k, "v"))
        names.append(k)
    for i in range(10):  # no separator: no prefix
        cmds.append(("SET", "plain%d" % i, "v"))
        names.append("plain%d" % i)
    # TTLs far from every bucket edge
    for i, secs in enumerate((600, 7200, 3 * 86400, 30 * 86400)):
        for j in range(5 + i):
            k = "ttl:%d:%d" % (i, j)
            cmds.append(("SET", k, "v" * 20, "EX", secs))
            names.append(k)
    cmds += [("EXPIRE", "session:%d" % i, 1800) for i in range(10)]
    cmds += [("SELECT", 3), ("SET", "user:1000:name", "in db 3"), ("RPUSH", "queue:jobs:9999", "a"),
             ("SELECT", 0)]
    names += ["user:1000:name", "queue:jobs:9999"]
    replies = c.pipeline(cmds)
    errors = [r for r in replies if isinstance(r, str)]
    assert not errors, errors
    return names


# ---- tests ----

def test_families_agree_with_resp(server_factory):
    server = server_factory(["--enable-debug-command", "yes"])
    c = Resp(server)
    names = load(c)
    port = server.metrics_port
    body = settled_scrape(port)
    # The RESP side at the same moment (nothing is written from here on).
    prefixes = memory_prefixes(c, 20)
    keysizes = info_fields(c, "keysizes")
    types, ttl = expected_from_resp(c)
    assert c("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"  # the running figures equal a rebuild
    assert keyspace_lines(get_metrics(port)) == keyspace_lines(body)  # nothing moved meanwhile
    s = parse(body)

    # promtool: parses and lints clean
    assert_promtool_clean(body)
    # the strict OpenMetrics parser: histograms (le order, +Inf, _count = +Inf), units, # EOF
    om = get_metrics(port, OPENMETRICS)
    fams = {f.name: f for f in om_parser.text_string_to_metric_families(om.decode())}
    assert fams["memkv_keyspace_key_length"].type == "histogram"
    assert (fams["memkv_keyspace_key_bytes"].type, fams["memkv_keyspace_key_bytes"].unit) == \
        ("histogram", "bytes")
    assert fams["memkv_keyspace_prefix_refusals"].type == "counter"
    om_les = {sm.labels["le"] for sm in fams["memkv_keyspace_key_length"].samples
              if sm.name.endswith("_bucket")}
    assert "7.0" in om_les and "+Inf" in om_les, om_les  # canonical bounds

    assert value(s, "memkv_keyspace_stats_enabled") == 1
    # bytes and keys per type: MEMORY USAGE of every key, and memkv_keyspace_keys by type
    kinds = series(s, "memkv_keyspace_keys")
    for t in TYPES:
        assert value(s, "memkv_keyspace_bytes", type=t) == types[t]["bytes"], t
        assert value(s, "memkv_keyspace_key_bytes_sum", type=t) == types[t]["bytes"], t
        assert value(s, "memkv_keyspace_key_length_count", type=t) == types[t]["keys"], t
        assert value(s, "memkv_keyspace_key_bytes_count", type=t) == types[t]["keys"], t
        assert value(s, "memkv_keyspace_key_length_sum", type=t) == types[t]["len_sum"], t
        assert sum(v for l, v in kinds.items() if dict(l)["type"] == t) == types[t]["keys"], t
        assert types[t]["keys"] > 0, t
    # TTL buckets, each one used
    for b in TTL_BUCKETS:
        assert value(s, "memkv_keyspace_ttl_keys", bucket=b) == ttl[b]["keys"], b
        assert value(s, "memkv_keyspace_ttl_bytes", bucket=b) == ttl[b]["bytes"], b
        assert ttl[b]["keys"] > 0, b

    # histograms: INFO keysizes (lengths and bytes, summed over the dbs) bin by bin
    for t in TYPES:
        for name, field in (("memkv_keyspace_key_length", KEYSIZES_FIELD[t][0]),
                            ("memkv_keyspace_key_bytes", KEYSIZES_FIELD[t][1])):
            buckets = check_histogram(s, name, t)
            bins = {}
            for db in range(16):
                text = keysizes.get("db%d_distrib_%s" % (db, field))
                for floor, n in (keysizes_bins(str(text)) if text is not None else {}).items():
                    bins[floor] = bins.get(floor, 0) + n
            assert bins, (t, field)
            for le, cum in buckets.items():  # bin of floor f holds values up to 2f - 1 (0: 0)
                want = sum(n for f, n in bins.items() if max(2 * f - 1, 0) <= le)
                assert cum == want, (name, t, le, cum, want, bins)

    # prefixes: MEMORY PREFIXES COUNT 20, row by row; the rest is (other) + (none)
    got = by_label(s, "memkv_keyspace_prefix_bytes", "prefix")
    got_keys = by_label(s, "memkv_keyspace_prefix_keys", "prefix")
    top = prefixes[:-2]
    other, none = prefixes[-2], prefixes[-1]
    assert (other["prefix"], none["prefix"]) == (b"(other)", b"(none)")
    assert {r["prefix"].decode(): r["bytes"] for r in top} == got
    assert {r["prefix"].decode(): r["keys"] for r in top} == got_keys
    assert value(s, "memkv_keyspace_prefix_other_bytes") == other["bytes"] + none["bytes"]
    assert value(s, "memkv_keyspace_prefix_other_keys") == other["keys"] + none["keys"]
    total = sum(types[t]["bytes"] for t in TYPES)
    assert sum(got.values()) + value(s, "memkv_keyspace_prefix_other_bytes") == total
    assert value(s, "memkv_keyspace_prefixes_tracked") == len(top)  # fewer than 20 here
    assert value(s, "memkv_keyspace_prefix_refusals_total") == 0
    assert {"user:#:name", "session:#", "queue:jobs:#", "obj:*:meta", "ttl:#:#"} <= set(got)

    # label values: folded prefixes, never a key name (every key written has digits or an ID)
    labels = {v for (n, ls) in s for _, v in ls if n.startswith("memkv_keyspace_")}
    for k in names:
        assert k not in labels, k
        assert k.encode() not in body, k


def test_prefix_metrics_bound_the_series(server_factory):
    """keyspace-prefix-metrics N: exactly the N largest prefixes of MEMORY PREFIXES, the rest in
    other; 0 and 200 at run time; out-of-range values refused; keyspace-prefix-max caps what is
    tracked (refusals counted, the untracked keys in other)."""
    server = server_factory(["--keyspace-prefix-metrics", "5"])
    c = Resp(server)
    assert c("CONFIG", "GET", "keyspace-prefix-metrics") == [b"keyspace-prefix-metrics", b"5"]
    # 60 prefixes (letters only: digits would fold them together) of distinct sizes
    names = ["p%s%s" % (chr(97 + i % 26), chr(97 + i // 26)) for i in range(60)]
    c.pipeline([("SET", "%s:%d" % (n, j), "v" * (10 + 3 * i)) for i, n in enumerate(names)
                for j in range(3)])
    port = server.metrics_port

    def check(n):
        s = parse(settled_scrape(port))
        rows = memory_prefixes(c, 200)
        top, rest = rows[:n], rows[n:]
        got = by_label(s, "memkv_keyspace_prefix_bytes", "prefix")
        assert got == {r["prefix"].decode(): r["bytes"] for r in top}, (n, got)
        assert len(by_label(s, "memkv_keyspace_prefix_keys", "prefix")) == n
        assert value(s, "memkv_keyspace_prefix_other_bytes") == sum(r["bytes"] for r in rest)
        assert value(s, "memkv_keyspace_prefix_other_keys") == sum(r["keys"] for r in rest)
        return s

    s = check(5)
    shown = by_label(s, "memkv_keyspace_prefix_bytes", "prefix")
    assert min(shown.values()) >= max(r["bytes"] for r in memory_prefixes(c, 60)[5:-2])
    assert c("CONFIG", "SET", "keyspace-prefix-metrics", "0") == b"OK"
    check(0)
    assert c("CONFIG", "SET", "keyspace-prefix-metrics", "200") == b"OK"
    check(60)
    for bad in ("201", "-1", "x"):
        r = c("CONFIG", "SET", "keyspace-prefix-metrics", bad)
        assert isinstance(r, str) and r.startswith("ERR"), (bad, r)
    assert c("CONFIG", "GET", "keyspace-prefix-metrics") == [b"keyspace-prefix-metrics", b"200"]

    # a cap on tracking: 10 prefixes tracked, the other 50 refused and counted in other
    assert c("CONFIG", "SET", "keyspace-prefix-max", "10") == b"OK"
    s = check(10)
    assert value(s, "memkv_keyspace_prefixes_tracked") == 10
    assert value(s, "memkv_keyspace_prefix_refusals_total") >= 50 * 3
    total = sum(by_label(s, "memkv_keyspace_bytes", "type").values())
    assert sum(by_label(s, "memkv_keyspace_prefix_bytes", "prefix").values()) + \
        value(s, "memkv_keyspace_prefix_other_bytes") == total

    # the series count stays bounded whatever the key names: 2 per prefix shown, at most
    # (2 + bins) per type and histogram, 10 TTL series, 5 byte series, 6 single ones
    lines = [l for l in keyspace_lines(settled_scrape(port)) if not l.startswith("#")]
    assert len(lines) <= 2 * 200 + 2 * 5 * (65 + 3) + 10 + 5 + 6, len(lines)


def test_long_prefix_names(server_factory):
    """The snapshot keeps 8 KiB of prefix names: with 150 prefixes of ~100 bytes and
    keyspace-prefix-metrics 200, the largest that fit are shown, in MEMORY PREFIXES's order, and
    the rest is in other, so the figures still add up."""
    server = server_factory(["--keyspace-prefix-metrics", "200"])
    c = Resp(server)
    def seg(i, ch):  # 32 letters, no digits: kept as they are
        return ch * 29 + "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3))
    c.pipeline([("SET", "%s:%s:%s:%d" % (seg(i, "x"), seg(i, "y"), seg(i, "z"), j),
                 "v" * (10 + i)) for i in range(150) for j in range(2)])
    s = parse(settled_scrape(server.metrics_port))
    rows = memory_prefixes(c, 150)[:-2]
    assert len(rows) == 150 and all(len(r["prefix"]) == 98 for r in rows)
    got = by_label(s, "memkv_keyspace_prefix_bytes", "prefix")
    shown = len(got)
    assert 8192 // 99 <= shown <= 8192 // 98, shown
    assert got == {r["prefix"].decode(): r["bytes"] for r in rows[:shown]}
    assert value(s, "memkv_keyspace_prefix_other_bytes") == sum(r["bytes"] for r in rows[shown:])
    assert value(s, "memkv_keyspace_prefix_other_keys") == sum(r["keys"] for r in rows[shown:])


def test_many_prefixes(server_factory):
    """Beyond 16384 tracked prefixes the cron ranks them at most once a second (a pass over the
    prefix table): a second after the last write the figures are those of MEMORY PREFIXES."""
    server = server_factory(["--keyspace-prefix-max", "30000"])
    c = Resp(server)

    def name(i):  # letters only, so that folding keeps them apart
        return "".join(chr(97 + (i // 26 ** k) % 26) for k in range(4))
    c.pipeline([("SET", "%s:%d" % (name(i), j), "v" * (i % 300)) for i in range(20000)
                for j in range(1 + i % 2)])
    # Over 16384 prefixes the ranking for /metrics runs at most once a second: wait for it.
    rows = memory_prefixes(c, 20)
    want = {r["prefix"].decode(): r["bytes"] for r in rows[:-2]}
    assert wait_until(lambda: by_label(parse(get_metrics(server.metrics_port)),
                                       "memkv_keyspace_prefix_bytes", "prefix") == want, 15)
    s = parse(settled_scrape(server.metrics_port))
    assert value(s, "memkv_keyspace_prefixes_tracked") == 20000
    assert by_label(s, "memkv_keyspace_prefix_bytes", "prefix") == \
        {r["prefix"].decode(): r["bytes"] for r in rows[:-2]}
    assert value(s, "memkv_keyspace_prefix_other_bytes") == rows[-2]["bytes"] + rows[-1]["bytes"]


def test_default_and_prefixes_that_are_not_utf8(server):
    """A fresh server shows 20 prefixes. Prefixes holding NUL or bytes that are not UTF-8 become
    label values with U+FFFD; those that become equal are one series, so the family is never
    lost to a repeated label set, and both parsers accept the body."""
    c = Resp(server)
    assert c("CONFIG", "GET", "keyspace-prefix-metrics") == [b"keyspace-prefix-metrics", b"20"]
    keys = [b"bin\x00:1", b"bin\xff:1", b"bin\xef\xbf\xbd:1", b"q\"uo\\te\n:1", b"ok:1"]
    for k in keys:
        assert c("SET", k, "v" * 30) == b"OK"
    body = settled_scrape(server.metrics_port)
    assert_promtool_clean(body)
    s = parse(body)
    om = get_metrics(server.metrics_port, OPENMETRICS)
    list(om_parser.text_string_to_metric_families(om.decode()))
    got = by_label(s, "memkv_keyspace_prefix_keys", "prefix")
    assert got == {"bin\ufffd:#": 3, 'q"uo\\te\n:#': 1, "ok:#": 1}, got
    rows = memory_prefixes(c, 20)
    assert sum(r["bytes"] for r in rows[:-2]) == \
        sum(by_label(s, "memkv_keyspace_prefix_bytes", "prefix").values())


def test_keyspace_stats_off_and_on(server):
    c = Resp(server)
    c.pipeline([("SET", "a:%d" % i, "v") for i in range(100)])
    port = server.metrics_port
    s = parse(settled_scrape(port))
    assert value(s, "memkv_keyspace_stats_enabled") == 1
    assert value(s, "memkv_keyspace_prefix_keys", prefix="a:#") == 100
    assert c("CONFIG", "SET", "keyspace-stats", "no") == b"OK"
    s = parse(settled_scrape(port))
    assert value(s, "memkv_keyspace_stats_enabled") == 0
    assert not [n for n, _ in s if n.startswith("memkv_keyspace_") and n not in (
        "memkv_keyspace_stats_enabled", "memkv_keyspace_keys", "memkv_keyspace_hits_total",
        "memkv_keyspace_misses_total")], sorted({n for n, _ in s})
    assert value(s, "memkv_keyspace_keys", db="0", type="string", encoding="") == 100
    assert c("CONFIG", "SET", "keyspace-stats", "yes") == b"OK"  # rebuilt from every key
    s = parse(settled_scrape(port))
    assert value(s, "memkv_keyspace_stats_enabled") == 1
    assert value(s, "memkv_keyspace_prefix_keys", prefix="a:#") == 100
    assert value(s, "memkv_keyspace_key_length_count", type="string") == 100
