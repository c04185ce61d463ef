"""RESP command files for tests/bench/types-vs-redis.sh (loaded with redis-cli --pipe).

    gen_types.py shape NAME FILE SCALE  -> prints "KEYS UNITS COMMANDS KEY"
    gen_types.py preload FILE N [LISTLEN] -> N keys of each type for the loads
"""
import sys


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def shape_commands(shape, scale):
    """(keys, units, one key, iterator of commands) of a memory shape."""
    if shape == "hash10":  # 1M small hashes of 10 fields (user profiles, sessions)
        keys = 1000000 // scale
        gen = (cmd("HSET", "user:%07d" % i,
                   *[x for j in range(10) for x in ("field%d" % j, "value-%d" % (i * 10 + j))])
               for i in range(keys))
        return keys, keys, "user:0000000", gen
    if shape == "list100":  # 100k lists of 100 items (queues)
        keys = 100000 // scale
        gen = (cmd("RPUSH", "queue:%06d" % i, *["job-%d-%d" % (i, j) for j in range(100)])
               for i in range(keys))
        return keys, keys, "queue:000000", gen
    if shape == "setint50":  # 100k sets of 50 integers (ids)
        keys = 100000 // scale
        gen = (cmd("SADD", "ids:%06d" % i, *[i * 50 + j for j in range(50)]) for i in range(keys))
        return keys, keys, "ids:000000", gen
    if shape == "setstr50":  # 100k sets of 50 strings (tags)
        keys = 100000 // scale
        gen = (cmd("SADD", "tags:%06d" % i, *["tag-%d" % (i * 50 + j) for j in range(50)])
               for i in range(keys))
        return keys, keys, "tags:000000", gen
    if shape == "zset50":  # 100k sorted sets of 50 members (small leaderboards)
        keys = 100000 // scale
        gen = (cmd("ZADD", "board:%06d" % i,
                   *[x for j in range(50) for x in ((i * 7 + j * 13) % 1000, "player-%d" % j)])
               for i in range(keys))
        return keys, keys, "board:000000", gen
    if shape == "zsetbig":  # one sorted set of 1M members (a big leaderboard), per member
        members = 1000000 // scale
        gen = (cmd("ZADD", "leaderboard",
                   *[x for j in range(i, min(i + 100, members))
                     for x in ((j * 7919) % 1000003, "player:%07d" % j)])
               for i in range(0, members, 100))
        return 1, members, "leaderboard", gen
    sys.exit("unknown shape " + shape)


def write(path, commands):
    n = 0
    with open(path, "wb") as f:
        buf = []
        for c in commands:
            buf.append(c)
            n += 1
            if len(buf) >= 20000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    return n


def preload_commands(n, listlen):
    """n keys of each type: "hp:" 10-field hashes, "lp:" lists of listlen items (enough for
    every LPOP of a run), "sp:" sets of 50 numbers, "zp:" sorted sets of 50 members, "hllp:"
    HyperLogLogs of 100 elements (sparse), "gp:" geospatial indexes of 50 places within some
    40 km of Palermo."""
    for i in range(n):
        k = "%012d" % i
        yield cmd("HSET", "hp:" + k, *[x for j in range(10) for x in ("f%d" % j, "v%d" % j)])
        yield cmd("RPUSH", "lp:" + k, *["item-%d" % j for j in range(listlen)])
        yield cmd("SADD", "sp:" + k, *[(i * 50 + j) % n for j in range(50)])
        yield cmd("ZADD", "zp:" + k, *[x for j in range(50) for x in (j, "m%d" % j)])
        yield cmd("PFADD", "hllp:" + k, *["e%d" % (i * 100 + j) for j in range(100)])
        yield cmd("GEOADD", "gp:" + k, *[x for j in range(50) for x in (
            "%.6f" % (13.0 + (j * 7919 % 100) / 125), "%.6f" % (37.8 + (j * 104729 % 100) / 160),
            "place%d" % j)])


if __name__ == "__main__":
    if sys.argv[1] == "shape":
        keys, units, key, gen = shape_commands(sys.argv[2], int(sys.argv[4]))
        print(keys, units, write(sys.argv[3], gen), key)
    elif sys.argv[1] == "preload":
        write(sys.argv[2], preload_commands(int(sys.argv[3]),
                                            int(sys.argv[4]) if len(sys.argv) > 4 else 1000))
    else:
        sys.exit(__doc__)
