"""Generators for the hash commands (merged into generator.COMMANDS by generator.py).

Keys come from generator.KEYS, so hashes collide with strings (WRONGTYPE paths) and with each
other; fields from a small pool so fields collide too, with a few longer than the default
hash-max-listpack-value (64) and a wider pool for the HSETs that cross
hash-max-listpack-entries (which the CONFIG generator sets as low as 0, 1, 2, 4)."""

import generator as g

FIELDS = [b"f0", b"f1", b"f2", b"f3", b"", b"12", b"-3", b"\x00b\xff", b"F0", b"x" * 64,
          b"x" * 65, b"9223372036854775807", b"1.5"]
WIDE = [b"w%d" % i for i in range(20)]

# Counts for HRANDFIELD. Never a large negative one: it asks for that many picks with
# repetition (Redis would build a reply of 2^62 elements). LLONG_MIN and the WITHVALUES range
# limits (+-2^62) are refused before anything is picked; positive counts past the size give
# the whole hash.
RANDCOUNTS = [b"0", b"1", b"2", b"3", b"5", b"20", b"-1", b"-2", b"-5", b"-20", b"abc", b"",
              b"1.5", b"-9223372036854775808", b"9223372036854775807",
              b"4611686018427387903", b"4611686018427387904", b" 1", b"+2", b"01"]

CURSORS = [b"0", b"0", b"0", b"1", b"-1", b"abc", b"18446744073709551615",
           b"18446744073709551616", b" 0", b"+0", b"", b"00", b"7"]


def field(rng):
    r = rng.random()
    if r < 0.75:
        return g.pick(rng, FIELDS[:8])
    if r < 0.9:
        return g.pick(rng, FIELDS)
    return g.pick(rng, WIDE)


def hval(rng):
    r = rng.random()
    if r < 0.4:
        return g.num(rng)
    if r < 0.5:
        return b"z" * g.pick(rng, [63, 64, 65, 200])
    return g.val(rng)


def fields(rng, lo=1):
    return [field(rng) for _ in range(rng.choice([lo, lo, lo + 1, lo + 2, lo + 4]))]


def g_hset(rng):
    argv = [g.pick(rng, [b"HSET", b"HSET", b"HMSET"]), g.key(rng)]
    if rng.random() < 0.15:  # many fields at once: crosses small entry limits
        for f in rng.sample(WIDE, rng.randint(2, 10)):
            argv += [f, hval(rng)]
    else:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            argv += [field(rng), hval(rng)]
    if rng.random() < 0.05:
        argv.append(field(rng))  # odd count
    return argv


def g_hincrby(rng):
    r = rng.random()
    by = g.num(rng) if r < 0.6 else g.pick(rng, [b"1", b"-1", b"5", b"1000000"])
    return [b"HINCRBY", g.key(rng), field(rng), by]


def g_hincrbyfloat(rng):
    r = rng.random()
    by = g.num(rng) if r < 0.6 else g.pick(rng, [b"1.5", b"-0.25", b"1e3", b"3"])
    return [b"HINCRBYFLOAT", g.key(rng), field(rng), by]


def g_hrandfield(rng):
    argv = [b"HRANDFIELD", g.key(rng)]
    r = rng.random()
    if r < 0.25:
        return argv
    argv.append(g.pick(rng, RANDCOUNTS))
    if rng.random() < 0.5:
        argv.append(g.pick(rng, [b"WITHVALUES", b"withvalues", b"WITHVALUE", b"bogus"]))
    if rng.random() < 0.05:
        argv.append(b"WITHVALUES")
    return argv


def g_hscan(rng):
    argv = [b"HSCAN", g.key(rng), g.pick(rng, CURSORS)]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        opt = g.pick(rng, [b"COUNT", b"MATCH", b"count", b"match", b"TYPE", b"BOGUS",
                           b"NOVALUES"])
        if opt.upper() == b"COUNT":
            argv += [opt, g.pick(rng, [b"1", b"2", b"10", b"1000", b"0", b"-1", b"abc",
                                       b"9223372036854775807", b"9223372036854775808"])]
        elif opt.upper() == b"MATCH":
            argv += [opt, g.pick(rng, [b"*", b"f*", b"f?", b"f[0-1]", b"[^f]*", b"", b"w1*",
                                       b"x*", b"\\", b"["])]
        elif opt == b"TYPE":
            argv += [opt, b"hash"]
        else:
            argv.append(opt)
    return argv


COMMANDS = {
    b"HSET": (8, g_hset),
    b"HSETNX": (2, lambda r: [b"HSETNX", g.key(r), field(r), hval(r)]),
    b"HGET": (4, lambda r: [b"HGET", g.key(r), field(r)]),
    b"HMGET": (2, lambda r: [b"HMGET", g.key(r)] + fields(r)),
    b"HDEL": (3, lambda r: [b"HDEL", g.key(r)] + fields(r)),
    b"HLEN": (1.5, lambda r: [b"HLEN", g.key(r)]),
    b"HEXISTS": (1.5, lambda r: [b"HEXISTS", g.key(r), field(r)]),
    b"HKEYS": (1.5, lambda r: [g.pick(r, [b"HKEYS", b"HVALS"]), g.key(r)]),
    b"HGETALL": (2, lambda r: [b"HGETALL", g.key(r)]),
    b"HINCRBY": (3, g_hincrby),
    b"HINCRBYFLOAT": (3, g_hincrbyfloat),
    b"HSTRLEN": (1.5, lambda r: [b"HSTRLEN", g.key(r), field(r)]),
    b"HRANDFIELD": (2, g_hrandfield),
    b"HSCAN": (2, g_hscan),
}

COVERED = {"hset", "hsetnx", "hget", "hmget", "hmset", "hdel", "hlen", "hexists", "hkeys",
           "hvals", "hgetall", "hincrby", "hincrbyfloat", "hstrlen", "hrandfield", "hscan"}
