"""Helpers of tests/bench/rdb-vs-redis.sh (run with Debian's /usr/bin/python3, which has redis-py).

    rdb_bench.py gen FILE KEYS
        writes the data set as RESP commands (redis-cli --pipe); prints shell assignments:
        NCMDS (commands, i.e. replies to expect), NKEYS, NEXPIRES, and the key counts the write
        load draws from: N_STR (keys "s:%012d", small strings) and N_HASH ("h:%012d", small hashes).
    rdb_bench.py saves PORT PID DIR
        SAVE (wall and CPU time, file size), then an idle BGSAVE (wall time from BGSAVE to
        rdb_bgsave_in_progress:0 with rdb_saves counted up, CPU time of the server and its
        reaped children); prints shell assignments.
    rdb_bench.py bgload PORT PID N_STR N_HASH CLIENTS WARMUP SAMPLE_MS TIMEOUT
        runs the write load (two redis-benchmark, SET on "s:" keys and HSET on "h:" keys, -P 16),
        waits WARMUP seconds, samples the memory of PID (and of its children: Redis's fork), sends
        BGSAVE, samples every SAMPLE_MS until the save is over, stops the load; prints shell
        assignments (see bgload below).

The data set, KEYS keys in all (fractions of KEYS; small strings take the rest):
    s: small strings, 5-60 bytes          n: integers (int encoding)         b: 0.5-8 kB strings
    h: hashes of 3-20 fields (listpack)   H: hashes of 150-400 fields (hashtable)
    l: lists of 5-50 items                L: lists of 300-1000 items (several quicklist nodes)
    e: sets of 5-100 integers (intset) or strings    E: sets of 150-400 strings (hashtable)
    z: sorted sets of 5-100 (listpack)    Z: sorted sets of 150-400 (skiplist)
and one key in ten of every kind has a TTL of one to two days (none expires during a run).
"""
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_types import cmd  # noqa: E402  (the RESP encoder the other generators use)

MIX = [  # prefix, fraction of KEYS
    ("n", 0.10), ("b", 0.02), ("h", 0.20), ("H", 0.003), ("l", 0.08), ("L", 0.003),
    ("e", 0.06), ("E", 0.003), ("z", 0.06), ("Z", 0.003),
]


def counts(keys):
    c = {p: int(keys * f) for p, f in MIX}
    c["s"] = keys - sum(c.values())
    return c


def gen(path, keys):
    rnd = random.Random(17)
    words = [("w%x" % rnd.getrandbits(24)) for _ in range(2000)]
    text = " ".join(rnd.choice(words) for _ in range(40000)).encode()  # compressible text
    hexpool = os.urandom(8192).hex().encode()  # barely compressible

    def txt(lo, hi):
        n = rnd.randint(lo, hi)
        off = rnd.randrange(0, len(text) - n)
        return text[off:off + n]

    def members(n, lo=4, hi=24):
        return list({txt(lo, hi) for _ in range(n)})

    c = counts(keys)
    ncmds = nexp = 0
    with open(path, "wb") as f:
        buf = []
        for prefix in ["s"] + [p for p, _ in MIX]:
            for i in range(c[prefix]):
                k = b"%s:%012d" % (prefix.encode(), i)
                if prefix == "s":
                    buf.append(cmd(b"SET", k, txt(5, 60)))
                elif prefix == "n":
                    buf.append(cmd(b"SET", k, rnd.randrange(-10**12, 10**12)))
                elif prefix == "b":
                    n = rnd.randint(512, 8192)
                    if i % 2:
                        buf.append(cmd(b"SET", k, txt(n, n)))
                    else:
                        off = rnd.randrange(0, len(hexpool) - n)
                        buf.append(cmd(b"SET", k, hexpool[off:off + n]))
                elif prefix in "hH":
                    n = rnd.randint(3, 20) if prefix == "h" else rnd.randint(150, 400)
                    args = []
                    for j in range(n):
                        args += [b"field%d" % j, txt(3, 40) if j % 3 else b"%d" % rnd.randrange(10**6)]
                    buf.append(cmd(b"HSET", k, *args))
                elif prefix in "lL":
                    n = rnd.randint(5, 50) if prefix == "l" else rnd.randint(300, 1000)
                    buf.append(cmd(b"RPUSH", k, *[txt(4, 40) for _ in range(n)]))
                elif prefix == "e":
                    n = rnd.randint(5, 100)
                    if i % 2:
                        buf.append(cmd(b"SADD", k, *[rnd.randrange(10**9) for _ in range(n)]))
                    else:
                        buf.append(cmd(b"SADD", k, *members(n)))
                elif prefix == "E":
                    buf.append(cmd(b"SADD", k, *members(rnd.randint(150, 400))))
                else:  # z, Z
                    n = rnd.randint(5, 100) if prefix == "z" else rnd.randint(150, 400)
                    args = []
                    for m in members(n):
                        args += [b"%d" % rnd.randrange(10**6) if rnd.random() < 0.7 else b"%.3f" % rnd.random(), m]
                    buf.append(cmd(b"ZADD", k, *args))
                ncmds += 1
                if i % 10 == 9:
                    buf.append(cmd(b"EXPIRE", k, rnd.randint(86400, 2 * 86400)))
                    ncmds += 1
                    nexp += 1
                if len(buf) >= 20000:
                    f.write(b"".join(buf))
                    buf.clear()
        f.write(b"".join(buf))
    print("NCMDS=%d NKEYS=%d NEXPIRES=%d N_STR=%d N_HASH=%d" % (ncmds, keys, nexp, c["s"], c["h"]))


def info(r, section):
    return r.info(section)


def wait_bgsave(r, saves_before, timeout, on_tick=None, tick=0.005):
    """Polls INFO persistence until no BGSAVE runs and rdb_saves moved on; returns the info."""
    t_end = time.monotonic() + timeout
    while True:
        if on_tick:
            on_tick()
        p = info(r, "persistence")
        if not p["rdb_bgsave_in_progress"] and p["rdb_saves"] > saves_before:
            if p["rdb_last_bgsave_status"] != "ok":
                sys.exit("BGSAVE failed")
            return p
        if time.monotonic() > t_end:
            sys.exit("BGSAVE did not finish within %s s" % timeout)
        time.sleep(tick)


def cpu_s(pid):
    """CPU seconds of pid (all its threads) and of its children it has waited for (Redis's
    BGSAVE child, once reaped): on a machine shared with other work, the figure that moves
    less than wall time."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def saves(port, pid, directory):
    import redis
    r = redis.Redis(port=port, socket_timeout=3600)
    path = os.path.join(directory, "dump.rdb")
    c0, t0 = cpu_s(pid), time.monotonic()
    r.save()
    t_save, c_save = time.monotonic() - t0, cpu_s(pid) - c0
    size = os.path.getsize(path)
    before = info(r, "persistence")["rdb_saves"]
    c0, t0 = cpu_s(pid), time.monotonic()
    r.bgsave()
    wait_bgsave(r, before, 3600, tick=0.01)
    t_bg, c_bg = time.monotonic() - t0, cpu_s(pid) - c0
    print("SAVE_S=%.4f SAVE_CPU=%.2f SIZE=%d BGSAVE_S=%.4f BGSAVE_CPU=%.2f BG_SIZE=%d"
          % (t_save, c_save, size, t_bg, c_bg, os.path.getsize(path)))


def rollup(pid):
    """{field: bytes} of /proc/PID/smaps_rollup ({} once the process is gone)."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def sample(pid):
    """(rss, pss) of pid plus its children, the children's Private_Dirty, how many children."""
    parent = rollup(pid)
    kids = [rollup(c) for c in children(pid)]
    rss = parent.get("Rss", 0) + sum(k.get("Rss", 0) for k in kids)
    pss = parent.get("Pss", 0) + sum(k.get("Pss", 0) for k in kids)
    return rss, pss, sum(k.get("Private_Dirty", 0) for k in kids), len(kids)


def bgload(port, pid, n_str, n_hash, clients, warmup, sample_ms, timeout):
    import redis
    r = redis.Redis(port=port, socket_timeout=600)
    loads = [
        ["SET", "s:__rand_int__", "value-of-twenty-byte", n_str],
        ["HSET", "h:__rand_int__", "field1", "new-value-written", n_hash],
    ]
    procs = []
    try:
        for *argv, rng in loads:
            procs.append(subprocess.Popen(
                ["redis-benchmark", "-p", str(port), "-c", str(clients), "-P", "16", "-n", "2000000000",
                 "-r", str(rng), "-q"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(warmup)
        if any(p.poll() is not None for p in procs):
            sys.exit("the write load (redis-benchmark) stopped before BGSAVE")
        base = sample(pid)
        cmds0 = info(r, "stats")["total_commands_processed"]
        saves0 = info(r, "persistence")["rdb_saves"]
        peak = [base[0], base[1], 0, 0]  # rss, pss, children's private dirty, snapshot subsystem
        nchild = [0]
        last = [0.0]
        is_memkv = [True]

        def tick():
            now = time.monotonic()
            if now - last[0] < sample_ms / 1000.0:
                return
            last[0] = now
            rss, pss, child_pd, nc = sample(pid)
            peak[0] = max(peak[0], rss)
            peak[1] = max(peak[1], pss)
            peak[2] = max(peak[2], child_pd)
            nchild[0] = max(nchild[0], nc)
            if is_memkv[0]:  # Redis has no such field: asked once
                snap = info(r, "memory").get("memkv_subsystem_snapshot")
                is_memkv[0] = snap is not None
                peak[3] = max(peak[3], int(snap or 0))

        t0 = time.monotonic()
        r.bgsave()
        p = wait_bgsave(r, saves0, timeout, tick)
        t_bg = time.monotonic() - t0
        cmds1 = info(r, "stats")["total_commands_processed"]
    finally:
        for p_ in procs:
            p_.terminate()
        for p_ in procs:
            p_.wait()
    print("BGL_S=%.4f BGL_OPS=%.0f RSS0=%d PSS0=%d RSS_PEAK=%d PSS_PEAK=%d "
          "CHILD_PD_PEAK=%d NCHILD=%d SNAP_PEAK=%d COW_LAST=%d"
          % (t_bg, (cmds1 - cmds0) / t_bg, base[0], base[1], peak[0], peak[1],
             peak[2], nchild[0], peak[3], p.get("rdb_last_cow_size", 0)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "saves":
        saves(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "bgload":
        a = sys.argv[2:]
        bgload(int(a[0]), int(a[1]), int(a[2]), int(a[3]), int(a[4]), float(a[5]), float(a[6]), float(a[7]))
    else:
        sys.exit(__doc__)
