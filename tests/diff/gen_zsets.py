"""Generators of the sorted set commands for the differential test (merged into generator.py's
COMMANDS and COVERED).

Keys come from generator.KEYS (shared with the other types, so WRONGTYPE paths run); members
from a small pool so they collide; scores from a pool with ties, +-inf, huge and tiny values,
-0 and texts that are not valid floats. A CONFIG SET of the zset thresholds to small values
now and then makes the skiplist encoding (and the conversions) run against Redis too."""

import generator as g

pick = g.pick
key = g.key

MEMBERS = [
    b"a", b"b", b"c", b"d", b"e", b"aa", b"ab", b"", b"1", b"-1", b"10", b"2", b"-0",
    b"12345678901", b"9223372036854775807", b"\x00\xff", b"m" * 70, b"n" * 64, b"z",
]

SCORES = [
    b"0", b"1", b"1", b"2", b"2", b"3", b"-1", b"-2.5", b"1.5", b"0.1", b"-0", b"+0",
    b"inf", b"-inf", b"+inf", b"Infinity", b"1e300", b"-1e300", b"1e-300", b"5e-324",
    b"9007199254740993", b"123456789012345678", b"4611686018427387904", b"1e17",
    b"0x10", b"1e", b"nan", b"abc", b"", b" 1", b"1 ", b"1e400", b"1e-400", b"(1",
]

# Range ends: inclusive / exclusive scores, the infinities, texts that are not floats.
SCORE_ENDS = [
    b"-inf", b"+inf", b"inf", b"0", b"1", b"(1", b"2", b"(2", b"-1", b"(-inf", b"(+inf",
    b"1.5", b"(0", b"-0", b"(", b"", b" 1", b"abc", b"nan", b"(nan", b"1e400", b"3",
]

LEX_ENDS = [
    b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[c", b"(d", b"[", b"(", b"[z", b"(aa",
    b"a", b"", b"+x", b"-x", b"[\x00\xff", b"[1", b"(10",
]

COUNTS = [b"0", b"1", b"2", b"3", b"5", b"-1", b"-3", b"100", b"abc", b"", b"1.5",
          b"9223372036854775807", b"-9223372036854775808", b"4611686018427387904"]

RANKS = [b"0", b"1", b"2", b"-1", b"-2", b"3", b"10", b"-10", b"100", b"-100", b"abc",
         b"9223372036854775807", b"-9223372036854775808", b""]


# Lex-range commands run on keys of their own whose members all have score 0: when scores
# differ, what a lex range returns from a skiplist depends on Redis's random node levels
# (unspecified in Redis's documentation), so the two servers could rightly differ.
LEX_KEYS = [b"zlex0", b"zlex1"]
LEX_MEMBERS = [b"a", b"b", b"c", b"d", b"e", b"aa", b"ab", b"", b"\x00\xff", b"m" * 70,
               b"n" * 64, b"z", b"inf-not"]


def lex_key(rng):
    return pick(rng, LEX_KEYS)


def member(rng):
    return pick(rng, MEMBERS)


def score(rng):
    return pick(rng, SCORES) if rng.random() < 0.5 else pick(rng, SCORES[:12])


def g_zadd(rng):
    argv = [b"ZADD", key(rng)]
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        argv.append(pick(rng, [b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"ch", b"incr",
                               b"BOGUS"]))
    for _ in range(rng.choice([1, 1, 2, 3, 5])):
        argv += [score(rng), member(rng)]
    if rng.random() < 0.05:
        argv.append(member(rng))  # odd count
    return argv


def g_zrange(rng):
    name = pick(rng, [b"ZRANGE", b"ZRANGE", b"ZRANGESTORE"])
    argv = [name] + ([key(rng)] if name == b"ZRANGESTORE" else []) + [key(rng)]
    kind = rng.random()
    if kind < 0.4:
        argv += [pick(rng, RANKS), pick(rng, RANKS)]
    elif kind < 0.7:
        argv += [pick(rng, SCORE_ENDS), pick(rng, SCORE_ENDS), b"BYSCORE"]
    else:
        argv[-1] = lex_key(rng)
        argv += [pick(rng, LEX_ENDS), pick(rng, LEX_ENDS), b"BYLEX"]
    for _ in range(rng.choice([0, 1, 1, 2])):
        o = pick(rng, [b"REV", b"WITHSCORES", b"LIMIT", b"BYSCORE", b"bogus"]
                 + ([b"BYLEX"] if argv[-4 if argv[-1] == b"BYLEX" else -3] in LEX_KEYS else []))
        if o == b"LIMIT":
            argv += [o, pick(rng, RANKS[:8]), pick(rng, RANKS[:8])]
        else:
            argv.append(o)
    if len(argv) > 4:
        head, opts = argv[:4 + (name == b"ZRANGESTORE")], argv[4 + (name == b"ZRANGESTORE"):]
        rng.shuffle(opts)
        argv = head + opts
    return argv


def g_range_old(rng):
    name = pick(rng, [b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE", b"ZRANGEBYLEX", b"ZREVRANGEBYLEX",
                      b"ZREVRANGE"])
    if name == b"ZREVRANGE":
        argv = [name, key(rng), pick(rng, RANKS), pick(rng, RANKS)]
    elif b"LEX" in name:
        argv = [name, lex_key(rng), pick(rng, LEX_ENDS), pick(rng, LEX_ENDS)]
    else:
        argv = [name, key(rng), pick(rng, SCORE_ENDS), pick(rng, SCORE_ENDS)]
    for _ in range(rng.choice([0, 0, 1, 2])):
        o = pick(rng, [b"WITHSCORES", b"LIMIT", b"REV"] + ([] if b"LEX" in name else [b"BYSCORE"]))
        if o == b"LIMIT":
            argv += [o, pick(rng, RANKS[:8]), pick(rng, RANKS[:8])]
        else:
            argv.append(o)
    return argv


def g_counts(rng):
    name = pick(rng, [b"ZCOUNT", b"ZLEXCOUNT"])
    ends = SCORE_ENDS if name == b"ZCOUNT" else LEX_ENDS
    return [name, key(rng) if name == b"ZCOUNT" else lex_key(rng), pick(rng, ends),
            pick(rng, ends)]


def g_zremrange(rng):
    name = pick(rng, [b"ZREMRANGEBYRANK", b"ZREMRANGEBYSCORE", b"ZREMRANGEBYLEX"])
    ends = {b"ZREMRANGEBYRANK": RANKS, b"ZREMRANGEBYSCORE": SCORE_ENDS,
            b"ZREMRANGEBYLEX": LEX_ENDS}[name]
    return [name, lex_key(rng) if name == b"ZREMRANGEBYLEX" else key(rng), pick(rng, ends),
            pick(rng, ends)]


def g_zadd_lex(rng):
    argv = [b"ZADD", lex_key(rng)]
    for _ in range(rng.choice([1, 2, 3, 5])):
        # members that are not floats: a swap of arguments (generator.mutate) then makes an
        # error, never a member with another score
        argv += [pick(rng, [b"0", b"-0", b"+0"]), pick(rng, LEX_MEMBERS)]
    return argv


def g_zpop(rng):
    argv = [pick(rng, [b"ZPOPMIN", b"ZPOPMAX"]), key(rng)]
    if rng.random() < 0.6:
        argv.append(pick(rng, COUNTS))
    return argv


def g_zmpop(rng):
    n = rng.choice([1, 1, 2, 3])
    argv = [b"ZMPOP", pick(rng, [b"%d" % n] * 6 + [b"0", b"-1", b"abc", b"%d" % (n + 1)])]
    argv += [key(rng) for _ in range(n)]
    argv.append(pick(rng, [b"MIN", b"MAX", b"min", b"max", b"bogus"]))
    if rng.random() < 0.5:
        argv += [pick(rng, [b"COUNT", b"count", b"BOGUS"]), pick(rng, COUNTS)]
    return argv


# Blocking pops: only timeouts that end at once or are invalid (0 would block forever when
# every key is empty); no 0 among the other numbers either, so that an argument swap
# (generator.mutate) cannot turn one into an endless timeout.
TIMEOUTS = [b"0.01", b"0.001", b"0.01", b"-1", b"abc", b"", b"inf", b"1e400", b"-0.01"]


def g_bzpop(rng):
    name = pick(rng, [b"BZPOPMIN", b"BZPOPMAX", b"BZMPOP"])
    if name == b"BZMPOP":
        n = rng.choice([1, 1, 2, 3])
        argv = [name, pick(rng, TIMEOUTS), pick(rng, [b"%d" % n] * 6 + [b"-1", b"abc", b"%d" % (n + 1)])]
        argv += [key(rng) for _ in range(n)]
        argv.append(pick(rng, [b"MIN", b"MAX", b"bogus"]))
        if rng.random() < 0.5:
            argv += [pick(rng, [b"COUNT", b"BOGUS"]), pick(rng, [b"1", b"2", b"3", b"-1", b"abc"])]
        return argv
    return [name] + [key(rng) for _ in range(rng.choice([1, 1, 2, 3]))] + [pick(rng, TIMEOUTS)]


def g_zrandmember(rng):
    argv = [b"ZRANDMEMBER", key(rng)]
    if rng.random() < 0.7:
        argv.append(pick(rng, COUNTS))
        if rng.random() < 0.5:
            argv.append(pick(rng, [b"WITHSCORES", b"withscores", b"bogus"]))
    return argv


def g_zscan(rng):
    argv = [b"ZSCAN", key(rng), pick(rng, [b"0", b"0", b"0", b"1", b"abc", b"-1", b""])]
    for _ in range(rng.choice([0, 1, 1, 2])):
        o = pick(rng, [b"COUNT", b"MATCH", b"BOGUS"])
        if o == b"COUNT":
            argv += [o, pick(rng, [b"1000", b"1000", b"10", b"1", b"0", b"-1", b"abc"])]
        elif o == b"MATCH":
            argv += [o, pick(rng, [b"*", b"a*", b"?", b"[ab]", b"m*", b""])]
        else:
            argv.append(o)
    return argv


def g_algebra(rng):
    name = pick(rng, [b"ZUNION", b"ZINTER", b"ZDIFF", b"ZUNIONSTORE", b"ZINTERSTORE",
                      b"ZDIFFSTORE", b"ZINTERCARD"])
    n = rng.choice([1, 2, 2, 3])
    argv = [name] + ([key(rng)] if name.endswith(b"STORE") else [])
    argv.append(pick(rng, [b"%d" % n] * 8 + [b"0", b"-1", b"abc", b"%d" % (n + 1)]))
    argv += [key(rng) for _ in range(n)]
    for _ in range(rng.choice([0, 0, 1, 2])):
        o = pick(rng, [b"WEIGHTS", b"AGGREGATE", b"WITHSCORES", b"LIMIT", b"bogus"])
        if o == b"WEIGHTS":
            argv.append(o)
            argv += [pick(rng, [b"1", b"2", b"0", b"-1", b"0.5", b"inf", b"-inf", b"nan",
                                b"abc"]) for _ in range(rng.choice([n, n, n, n - 1]))]
        elif o == b"AGGREGATE":
            argv += [o, pick(rng, [b"SUM", b"MIN", b"MAX", b"max", b"avg"])]
        elif o == b"LIMIT":
            argv += [o, pick(rng, [b"0", b"1", b"2", b"-1", b"abc"])]
        else:
            argv.append(o)
    return argv


def g_zconfig(rng):
    # Small thresholds so the skiplist encoding runs too; the harness restores them.
    name = pick(rng, [b"zset-max-listpack-entries", b"zset-max-listpack-value"])
    return [b"CONFIG", b"SET", name, pick(rng, g.CONFIG_SET[name])]


CONFIG_SET = {
    b"zset-max-listpack-entries": [b"128", b"0", b"1", b"2", b"3", b"5", b"-1", b"abc"],
    b"zset-max-listpack-value": [b"64", b"0", b"1", b"3", b"10"],
}

COMMANDS = {
    b"ZADD": (8, g_zadd),
    b"ZADD LEX": (3, g_zadd_lex),
    b"ZINCRBY": (3, lambda r: [b"ZINCRBY", key(r), score(r), member(r)]),
    b"ZREM": (3, lambda r: [b"ZREM", key(r)] + [member(r) for _ in range(r.choice([1, 1, 2, 3]))]),
    b"ZSCORE": (2, lambda r: [b"ZSCORE", key(r), member(r)]),
    b"ZMSCORE": (1.5, lambda r: [b"ZMSCORE", key(r)] + [member(r) for _ in range(r.choice([1, 2, 3]))]),
    b"ZCARD": (1.5, lambda r: [b"ZCARD", key(r)]),
    b"ZCOUNT": (3, g_counts),
    b"ZRANK": (2, lambda r: [pick(r, [b"ZRANK", b"ZREVRANK"]), key(r), member(r)]),
    b"ZRANGE": (7, g_zrange),
    b"ZRANGEBYSCORE": (5, g_range_old),
    b"ZREMRANGE": (3, g_zremrange),
    b"ZPOP": (3, g_zpop),
    b"ZMPOP": (2, g_zmpop),
    b"BZPOP": (1, g_bzpop),
    b"ZRANDMEMBER": (2, g_zrandmember),
    b"ZSCAN": (1.5, g_zscan),
    b"ZALGEBRA": (6, g_algebra),
    b"ZSET CONFIG": (1, g_zconfig),
    # plain sets on the shared keys: inputs of ZUNION/ZINTER/ZDIFF (score 1) and WRONGTYPE
    b"SADD ZINPUT": (2, lambda r: [b"SADD", key(r)] + [member(r) for _ in range(r.choice([1, 2, 4]))]),
}

COVERED = {
    "zadd", "zincrby", "zrem", "zscore", "zmscore", "zcard", "zcount", "zlexcount", "zrank",
    "zrevrank", "zrange", "zrangestore", "zrevrange", "zrangebyscore", "zrevrangebyscore",
    "zrangebylex", "zrevrangebylex", "zremrangebyrank", "zremrangebyscore", "zremrangebylex",
    "zpopmin", "zpopmax", "zmpop", "zrandmember", "zscan", "zunion", "zinter", "zdiff",
    "zunionstore", "zinterstore", "zdiffstore", "zintercard", "sadd", "bzpopmin", "bzpopmax",
    "bzmpop",
}
