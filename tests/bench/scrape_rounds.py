#!/usr/bin/python3
"""One measured round of sequential scrapes of one exporter, for exporter-vs-redis_exporter.sh.

    scrape_rounds.py scrape URL SCRAPES EXPORTER_PID TARGET_PID TARGET_PORT [--warmup N] [--expect S]
    scrape_rounds.py idle SECONDS TARGET_PID TARGET_PORT
    scrape_rounds.py smaps PID TOP

"scrape": SCRAPES GETs of URL over ONE persistent HTTP/1.1 connection (as Prometheus keeps its
connection), with the headers Prometheus 2.x sends (Accept, Accept-Encoding: gzip, User-Agent,
X-Prometheus-Scrape-Timeout-Seconds; GZIP=0 in the environment drops Accept-Encoding). Each
latency is request sent -> whole body read. Around the scrapes (not around the warm-up): the
utime+stime ticks of the exporter and of the target (/proc/PID/stat, all threads, dead ones
included), and the target's INFO ALL (total_connections_received, total_commands_processed,
commandstats) over one control connection opened before. "idle": the same readings around
SECONDS of doing nothing, the baseline (target CPU at rest, and what the control INFO itself adds
to the counters). Prints one JSON object on stdout. Exits 1 if a scrape does not answer 200 or
its body lacks --expect.
"""
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse
import zlib


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


class Redis:
    """A minimal RESP client: enough for INFO."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")

    def info_all(self):
        self.s.sendall(b"*2\r\n$4\r\nINFO\r\n$3\r\nALL\r\n")
        line = self.f.readline()
        if not line.startswith(b"$"):
            raise RuntimeError("INFO: unexpected reply %r" % line)
        body = self.f.read(int(line[1:]) + 2)[:-2].decode()
        d, cmds = {}, {}
        for ln in body.split("\r\n"):
            if ":" not in ln or ln.startswith("#"):
                continue
            k, v = ln.split(":", 1)
            if k.startswith("cmdstat_"):
                calls = dict(p.split("=") for p in v.split(","))["calls"]
                cmds[k[8:]] = int(calls)
            else:
                d[k] = v
        return int(d["total_connections_received"]), int(d["total_commands_processed"]), cmds


def counters_delta(a, b):
    conns = b[0] - a[0]
    cmds = b[1] - a[1]
    per = {k: v - a[2].get(k, 0) for k, v in b[2].items() if v - a[2].get(k, 0)}
    return conns, cmds, per


def pct(xs, p):
    xs = sorted(xs)
    i = max(1, -(-p * len(xs) // 100))  # nearest rank
    return xs[int(i) - 1]


def idle(secs, target_pid, port):
    r = Redis(port)
    c0, t0, w0 = r.info_all(), ticks(target_pid), time.monotonic()
    time.sleep(secs)
    t1, w1, c1 = ticks(target_pid), time.monotonic(), r.info_all()
    conns, cmds, per = counters_delta(c0, c1)
    return {"wall": w1 - w0, "target_ticks": t1 - t0, "conns": conns, "cmds": cmds, "cmdstats": per}


HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}


def scrape(url, n, exporter_pid, target_pid, port, warmup, expect):
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    headers = dict(HEADERS)
    if os.environ.get("GZIP", "1") == "0":
        del headers["Accept-Encoding"]
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    last = {}

    def one():
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit("%s: HTTP %d: %r" % (url, resp.status, body[:200]))
        last["len"], last["enc"], last["body"] = len(body), resp.getheader("Content-Encoding", ""), body
        return resp

    for _ in range(warmup):
        one()
    body = last.get("body", b"")
    if last.get("enc") == "gzip":
        body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if expect and expect.encode() not in body:
        raise SystemExit("%s: body lacks %r" % (url, expect))

    # Count the HTTP connections: http.client reopens one by itself when the server closes it.
    opened = [0]
    real_connect = conn.connect

    def counting_connect():
        opened[0] += 1
        real_connect()

    conn.connect = counting_connect

    r = Redis(port)
    lat = []
    c0, e0, t0, w0 = r.info_all(), ticks(exporter_pid), ticks(target_pid), time.monotonic()
    for _ in range(n):
        a = time.perf_counter()
        one()
        lat.append(time.perf_counter() - a)
    e1, t1, w1 = ticks(exporter_pid), ticks(target_pid), time.monotonic()
    c1 = r.info_all()
    conns, cmds, per = counters_delta(c0, c1)
    conn.close()
    return {
        "scrapes": n,
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat),
        "mean": sum(lat) / n,
        "wall": w1 - w0,
        "exporter_ticks": e1 - e0,
        "target_ticks": t1 - t0,
        "conns": conns,
        "cmds": cmds,
        "cmdstats": per,
        "http_connections_opened": opened[0],
        "bytes": last["len"],
        "bytes_plain": len(body),
        "encoding": last["enc"] or "identity",
    }


def smaps(pid, top):
    """Where a process's RSS is: /proc/PID/smaps summed per mapping name (a file's base name,
    [heap], [stack], [anon] for nameless anonymous mappings), largest Rss first; KiB."""
    per, cur = {}, None
    with open("/proc/%d/smaps" % pid) as f:
        for ln in f:
            parts = ln.split()
            if not parts:
                continue
            if not parts[0].endswith(":") or "-" in parts[0]:
                name = parts[5] if len(parts) > 5 else "[anon]"
                if name.startswith("/"):
                    name = os.path.basename(name)
                cur = per.setdefault(name, {"Rss": 0, "Anonymous": 0, "Private_Dirty": 0, "maps": 0})
                cur["maps"] += 1
            elif cur is not None and parts[0][:-1] in cur:
                cur[parts[0][:-1]] += int(parts[1])
    rows = sorted(per.items(), key=lambda kv: -kv[1]["Rss"])
    out = ["  %-34s %9s %9s %9s %5s" % ("mapping", "Rss KiB", "Anon KiB", "PrivDirty", "maps")]
    for name, v in rows[:top]:
        out.append("  %-34s %9d %9d %9d %5d" % (name[:34], v["Rss"], v["Anonymous"], v["Private_Dirty"], v["maps"]))
    rest = rows[top:]
    if rest:
        out.append("  %-34s %9d %9d %9d %5d" % ("(%d others)" % len(rest), sum(v["Rss"] for _, v in rest),
                                                sum(v["Anonymous"] for _, v in rest),
                                                sum(v["Private_Dirty"] for _, v in rest),
                                                sum(v["maps"] for _, v in rest)))
    roll = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            p = ln.split()
            if len(p) == 3 and p[2] == "kB":
                roll[p[0][:-1]] = int(p[1])
    out.append("  smaps_rollup: " + ", ".join("%s %d" % (k, roll.get(k, 0)) for k in (
        "Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty", "Anonymous")) + " KiB")
    return "\n".join(out)


def main():
    a = sys.argv[1:]
    if a and a[0] == "smaps" and len(a) == 3:
        print(smaps(int(a[1]), int(a[2])))
        return
    if a and a[0] == "idle" and len(a) == 4:
        out = idle(float(a[1]), int(a[2]), int(a[3]))
    elif a and a[0] == "scrape" and len(a) >= 6:
        warmup, expect, rest = 0, "", a[6:]
        while rest:
            if rest[0] == "--warmup":
                warmup = int(rest[1])
            elif rest[0] == "--expect":
                expect = rest[1]
            else:
                raise SystemExit("unknown option %s" % rest[0])
            rest = rest[2:]
        out = scrape(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), warmup, expect)
    else:
        raise SystemExit(__doc__)
    out["clk_tck"] = os.sysconf("SC_CLK_TCK")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
