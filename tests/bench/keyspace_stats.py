"""Inputs and client-side timings of tests/bench/keyspace-stats.sh.

    keyspace_stats.py preload FILE KEYSPACE HASHES      -> prints the number of commands
    keyspace_stats.py load FILE LOAD N KEYSPACE HASHES  -> LOAD: set-new set-existing get hget
                                                           hset-new-field del
    keyspace_stats.py roundtrip PORT LOAD N KEYSPACE HASHES
                                                        -> sends the load's commands one at
                                                           a time, each after the last reply
    keyspace_stats.py prefixes FILE P K                 -> K keys under each of P prefixes
    keyspace_stats.py mixed FILE START END              -> keys START..END-1 of the mixed set
    keyspace_stats.py time PORT REPEAT ARG...           -> "first median min max" seconds of
                                                           one command on one connection
    keyspace_stats.py ri-sample PORT TARGET             -> "seconds keys bytes" of a
                                                           RedisInsight-style analysis

Every file is RESP for redis-cli --pipe; the same arguments give the same bytes.
"""
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_types import cmd, write  # noqa: E402

M64 = (1 << 64) - 1
# Value bytes: slices of one fixed pseudo-random text, so values cost no time to make.
FILLER = bytes(random.Random(7).choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(70000))


def mix64(x):
    """A bijection of 64-bit integers (splitmix64's finaliser): ids that look random."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def value(i, n):
    off = (i * 7919) % (len(FILLER) - n)
    return FILLER[off:off + n]


# ---- callgrind key space and loads ---------------------------------------------------------
# Strings user:<i>:session (64-byte values) and hashes cart:<i>:items (4 fields): the prefixes
# user:#:session and cart:#:items, as an application's keys fold.

def session_key(i):
    return "user:%d:session" % i


def cart_key(i):
    return "cart:%d:items" % i


def preload(keyspace, hashes):
    for i in range(keyspace):
        yield cmd("SET", session_key(i), value(i, 64))
    for i in range(hashes):
        yield cmd("HSET", cart_key(i), "name", "item-%d" % i, "qty", str(i % 9 + 1),
                  "price", "%d.99" % (i % 100), "added", str(1700000000 + i))


def load(kind, n, keyspace, hashes):
    rnd = random.Random(1)
    if kind == "set-new":  # new keys of the same prefix
        return (cmd("SET", session_key(keyspace + i), value(i + 1, 64)) for i in range(n))
    if kind == "set-existing":  # existing keys, a value of the same size
        return (cmd("SET", session_key(rnd.randrange(keyspace)), value(i + 3, 64))
                for i in range(n))
    if kind == "get":
        return (cmd("GET", session_key(rnd.randrange(keyspace))) for i in range(n))
    if kind == "hget":  # a field of an existing (listpack) hash
        return (cmd("HGET", cart_key(rnd.randrange(hashes)), "qty") for i in range(n))
    if kind == "hset-new-field":  # a new field of an existing (small, listpack) hash
        return (cmd("HSET", cart_key(i % hashes), "opt:%d" % (i // hashes), value(i, 16))
                for i in range(n))
    if kind == "del":  # each an existing key, each once
        if n > keyspace:
            sys.exit("del: %d requests but only %d keys" % (n, keyspace))
        return (cmd("DEL", session_key(i)) for i in rnd.sample(range(keyspace), n))
    sys.exit("unknown load " + kind)


# ---- memory per prefix ---------------------------------------------------------------------

def letters(p):
    """A distinct name of letters g..z only (no digit, no hex run: nothing folds)."""
    s = ""
    p += 20 * 20  # at least three letters
    while p:
        s = chr(ord("g") + p % 20) + s
        p //= 20
    return s


def prefixes(p, k):
    for i in range(p):
        t = "tenant" + letters(i)
        for j in range(k):
            yield cmd("SET", "%s:order:%d" % (t, j), value(i * k + j, 32))


# ---- the mixed key space of the side-by-side part ------------------------------------------
# (weight, kind, key format, sizes): key i picks its shape from a hash of i, so any range of
# keys can be made alone and ranges concatenate into the same key space. Folded at depth 2
# these are about 20 prefixes.
SHAPES = [
    (20, "string", "user:{id}:session", (100, 300)),
    (8, "string", "session:{hex32}", (200, 400)),
    (8, "string", "cache:page:{hex16}", (300, 2000)),
    (4, "string", "cache:api:v2:{id}", (50, 800)),
    (10, "string", "product:{id}:price", (4, 8)),
    (6, "string", "product:{id}:stock", (1, 4)),
    (5, "string", "rate:10.0.{b}.{c}:{id}", (1, 3)),
    (5, "string", "token:{hex40}", (60, 120)),
    (3, "string", "lock:order:{id}", (36, 36)),
    (4, "string", "counter:2024-05-{d}:{id}", (1, 6)),
    (2, "string", "img:thumb:{id}", (1000, 4000)),
    (3, "string", "email:verify:{hex32}", (30, 60)),
    (4, "string", "geo:city:{id}", (20, 200)),
    (3, "string", "cfg:svc{m}:{id}", (100, 500)),
    (5, "hash", "user:{id}:profile", (5, 15)),
    (2, "hash", "cart:{id}:items", (1, 20)),
    (2, "list", "feed:{id}:recent", (20, 50)),
    (1, "list", "queue:jobs:{id}", (10, 100)),
    (2, "set", "tags:{id}", (5, 20)),
    (1, "zset", "board:{id}:scores", (20, 100)),
    (1, "string", "big:blob:{id}", (5000, 20000)),
]
SHAPE_TABLE = [s for s in SHAPES for _ in range(s[0])]


def mixed_key(i):
    h = mix64(i)
    _, kind, fmt, (lo, hi) = SHAPE_TABLE[h % len(SHAPE_TABLE)]
    g = mix64(h)
    size = lo + (g >> 8) % (hi - lo + 1)
    key = fmt.format(id=i, hex16="%016x" % g, hex32="%016x%016x" % (g, h),
                     hex40="%016x%016x%08x" % (g, h, i & 0xFFFFFFFF),
                     b=i % 250, c=(i >> 8) % 250, d=i % 28 + 1, m=chr(ord("a") + g % 6))
    if kind == "string":
        return cmd("SET", key, value(i, size))
    if kind == "hash":
        return cmd("HSET", key, *[x for j in range(size) for x in ("f%d" % j, value(i + j, 12))])
    if kind == "list":
        return cmd("RPUSH", key, *[value(i + j, 24) for j in range(size)])
    if kind == "set":
        return cmd("SADD", key, *["tag-%d" % ((i + j * 37) % 1000) for j in range(size)])
    return cmd("ZADD", key, *[x for j in range(size) for x in (str((i * j) % 10007), "p%d" % j)])


# ---- client-side timings -------------------------------------------------------------------

def read_reply(sock, buf):
    """One reply of the simple kinds the loads get (+ - : $), from buf and then sock; returns
    what follows it."""
    while True:
        end = buf.find(b"\r\n")
        if end >= 0:
            if buf[:1] != b"$" or int(buf[1:end]) < 0:
                return buf[end + 2:]
            need = end + 2 + int(buf[1:end]) + 2
            if len(buf) >= need:
                return buf[need:]
        more = sock.recv(65536)
        if not more:
            sys.exit("roundtrip: the server closed the connection")
        buf += more


def roundtrip(port, kind, n, keyspace, hashes):
    """The load as a client without pipelining sends it: one request per round trip."""
    import socket
    sock = socket.create_connection(("127.0.0.1", int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf, count = b"", 0
    for c in load(kind, n, keyspace, hashes):
        sock.sendall(c)
        buf = read_reply(sock, buf)
        if buf:
            sys.exit("roundtrip: more than one reply")
        count += 1
    sock.close()
    print(count)


def connect(port):
    import redis  # python3-redis
    return redis.Redis(host="127.0.0.1", port=int(port), socket_timeout=600)


def time_command(port, repeat, args):
    r = connect(port)
    r.ping()
    times = []
    for _ in range(1 + repeat):
        t0 = time.perf_counter()
        r.execute_command(*args)
        times.append(time.perf_counter() - t0)
    rest = times[1:] or times
    print("%.6f %.6f %.6f %.6f" % (times[0], statistics.median(rest), min(rest), max(rest)))


LENGTH_OF = {b"string": "STRLEN", b"hash": "HLEN", b"list": "LLEN", b"set": "SCARD",
             b"zset": "ZCARD"}


def ri_sample(port, target):
    """What RedisInsight's database analysis sends (api/.../scanner/keys-scanner.ts): SCAN
    COUNT 1000 until `target` keys are scanned, then pipelines of MEMORY USAGE key SAMPLES 0,
    TYPE and TTL for every key found, then each key's length by its type."""
    r = connect(port)
    r.ping()
    t0 = time.perf_counter()
    keys, cursor, scanned = [], None, 0
    while scanned < target and cursor != 0:
        cursor, batch = r.execute_command("SCAN", cursor or 0, "COUNT", 1000)
        cursor = int(cursor)
        scanned += 1000
        keys.extend(batch)
    p = r.pipeline(transaction=False)
    for k in keys:
        p.execute_command("MEMORY", "USAGE", k, "SAMPLES", 0)
    for k in keys:
        p.execute_command("TYPE", k)
    for k in keys:
        p.execute_command("TTL", k)
    res = p.execute()
    n = len(keys)
    sizes, types = res[:n], res[n:2 * n]
    p = r.pipeline(transaction=False)
    for k, t in zip(keys, types):
        p.execute_command(LENGTH_OF.get(t, "EXISTS"), k)
    p.execute()
    elapsed = time.perf_counter() - t0
    print("%.6f %d %d" % (elapsed, n, sum(s or 0 for s in sizes)))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    op = argv[1]
    if op == "preload":
        print(write(argv[2], preload(int(argv[3]), int(argv[4]))))
    elif op == "load":
        print(write(argv[2], load(argv[3], int(argv[4]), int(argv[5]), int(argv[6]))))
    elif op == "roundtrip":
        roundtrip(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]))
    elif op == "prefixes":
        print(write(argv[2], prefixes(int(argv[3]), int(argv[4]))))
    elif op == "mixed":
        print(write(argv[2], (mixed_key(i) for i in range(int(argv[3]), int(argv[4])))))
    elif op == "time":
        time_command(argv[2], int(argv[3]), argv[4:])
    elif op == "ri-sample":
        ri_sample(argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
