"""Generators of the LIST commands for the differential test (merged into generator.COMMANDS).

Elements come from a small pool so that LREM, LPOS and LINSERT find them, with integers of
every listpack width, non-canonical numbers ("01", "-0", "+1"), empty and binary strings, and
now and then a big element (over 4 KiB, so it needs a quicklist node of its own) or a bulk
push of a few hundred elements (several nodes). List order is defined, so every reply is
compared exactly.

Blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) are generated with a tiny timeout
(10 ms or less) or an invalid one, never 0 or a negative one that rounds to 0 (which would be
"forever"): on a key that holds elements they answer at once, on a missing key they time out
(null array) in both servers. Their weight is low: Redis 7.0 notices a timeout only at its
next cron tick (up to 100 ms). Waiters served by another client: "@B" commands (g_blocker)
run on the harness's second connection with no timeout, the main one may serve them
(serve_blocker), and the harness ends them with CLIENT UNBLOCK; timeouts of seconds are
covered in tests/integration/test_lists.py.
"""

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1

ELEMENTS = [
    b"a", b"b", b"c", b"d", b"", b"\x00bin\xff", b"1", b"2", b"-1", b"0", b"100", b"127",
    b"128", b"-4096", b"4095", b"70000", b"-8388608", b"2147483648", b"%d" % I64_MAX,
    b"%d" % I64_MIN, b"9223372036854775808", b"01", b"-0", b"+1", b"1.5", b" 1", b"x" * 63,
    b"y" * 64, b"z" * 300,
]

# Indexes for LINDEX/LSET/LRANGE/LTRIM: small ones of both signs and hostile ones.
INDEXES = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"-3", b"5", b"-5", b"10", b"-10", b"100",
           b"-100", b"%d" % I64_MAX, b"%d" % I64_MIN, b"9223372036854775808", b"abc", b"",
           b"1.5", b"+1", b"01", b"-0", b" 1"]

COUNTS = [b"0", b"1", b"2", b"3", b"5", b"100", b"-1", b"-2", b"%d" % I64_MAX, b"%d" % I64_MIN,
          b"9223372036854775808", b"abc", b"", b"1.5", b"+1", b"01", b"-0"]

# Tiny or invalid timeouts only: never 0 or in (-1, 0], which mean "block forever".
TIMEOUTS = [b"0.01", b"0.01", b"0.001", b"0.005", b"0.0001", b"1e-3", b"-1", b"-0.000001e6",
            b"abc", b"", b"inf", b"-inf", b"nan", b"1e400", b"-1e400", b" 0.01", b"0.01 ",
            b"9223372036854776", b"-9223372036854775808"]

DIRECTIONS = [b"LEFT", b"RIGHT", b"left", b"Right", b"UP", b""]


def _pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def _key(rng):
    import generator
    return _pick(rng, generator.KEYS)


def element(rng):
    r = rng.random()
    if r < 0.85:
        return _pick(rng, ELEMENTS)
    if r < 0.95:
        return b"e%d" % rng.randrange(50)
    return _pick(rng, [b"B" * 5000, b"C" * 70000])


def elements(rng):
    if rng.random() < 0.02:  # a bulk push: several quicklist nodes
        return [b"n%d" % i for i in range(rng.choice([200, 600, 1500]))]
    return [element(rng) for _ in range(rng.choice([1, 1, 2, 3, 5]))]


def _idx(rng):
    if rng.random() < 0.6:
        return b"%d" % rng.randint(-12, 12)
    return _pick(rng, INDEXES)


def g_push(rng):
    name = _pick(rng, [b"LPUSH", b"RPUSH", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"])
    return [name, _key(rng)] + elements(rng)


def g_pop(rng):
    argv = [_pick(rng, [b"LPOP", b"RPOP"]), _key(rng)]
    r = rng.random()
    if r < 0.4:
        argv.append(_pick(rng, COUNTS))
    elif r < 0.45:
        argv += [b"1", b"2"]
    return argv


def g_lpos(rng):
    argv = [b"LPOS", _key(rng), element(rng)]
    for _ in range(rng.choice([0, 0, 1, 2, 3, 4])):
        opt = _pick(rng, [b"RANK", b"COUNT", b"MAXLEN", b"rank", b"BOGUS"])
        if opt.upper() == b"RANK":
            argv += [opt, _pick(rng, [b"1", b"2", b"-1", b"-2", b"3", b"0", b"%d" % I64_MIN,
                                      b"%d" % I64_MAX, b"abc", b"-100"])]
        elif opt == b"BOGUS":
            argv.append(opt)
        else:
            argv += [opt, _pick(rng, [b"0", b"1", b"2", b"5", b"-1", b"abc", b"100",
                                      b"%d" % I64_MAX])]
    return argv


def g_lmpop(rng, blocking=False):
    keys = [_key(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
    numkeys = b"%d" % len(keys)
    r = rng.random()
    if r < 0.05:
        numkeys = _pick(rng, [b"0", b"-1", b"abc", b"%d" % (len(keys) + 1), b"%d" % I64_MAX])
    argv = [b"BLMPOP", _pick(rng, TIMEOUTS)] if blocking else [b"LMPOP"]
    argv += [numkeys] + keys + [_pick(rng, DIRECTIONS[:4]) if rng.random() < 0.95
                                else _pick(rng, DIRECTIONS)]
    r = rng.random()
    if r < 0.5:
        argv += [_pick(rng, [b"COUNT", b"count"]), _pick(rng, COUNTS)]
    elif r < 0.55:
        argv += [b"COUNT", b"1", b"COUNT", b"2"]
    elif r < 0.58:
        argv += [b"BOGUS"]
    return argv


def g_lmove(rng):
    def d():
        return _pick(rng, DIRECTIONS[:4]) if rng.random() < 0.95 else _pick(rng, DIRECTIONS)
    if rng.random() < 0.3:
        return [b"RPOPLPUSH", _key(rng), _key(rng)]
    return [b"LMOVE", _key(rng), _key(rng), d(), d()]


def g_bpop(rng):
    name = _pick(rng, [b"BLPOP", b"BRPOP"])
    return [name] + [_key(rng) for _ in range(rng.choice([1, 1, 2, 3]))] + [_pick(rng, TIMEOUTS)]


def g_blmove(rng):
    if rng.random() < 0.4:
        return [b"BRPOPLPUSH", _key(rng), _key(rng), _pick(rng, TIMEOUTS)]
    return [b"BLMOVE", _key(rng), _key(rng), _pick(rng, DIRECTIONS[:4]),
            _pick(rng, DIRECTIONS[:4]) if rng.random() < 0.95 else b"UP", _pick(rng, TIMEOUTS)]


# Keys the blocker waits on: not in generator.KEYS, so that they are mostly empty (it blocks)
# and of the type it wants; serve_blocker's commands fill them.
BLOCKER_KEYS = [b"blk0", b"blk1"]


def serve_blocker(rng, blocker):
    """What may follow an @B command on the main connection (generator.gen_sequence): nothing,
    or a push, a ZADD or an LMOVE into one of its keys, which serves it."""
    keys = [a for a in blocker[2:] if a in BLOCKER_KEYS] or BLOCKER_KEYS
    k = _pick(rng, keys)
    zset = blocker[1].startswith(b"BZ")
    r = rng.random()
    if r < 0.25:
        return []
    if r < 0.85 and zset or r >= 0.85 and not zset:  # mostly of the type it waits for
        return [[b"ZADD", k] + [x for _ in range(rng.choice([1, 2, 3]))
                                for x in (_pick(rng, [b"1", b"2", b"-1.5", b"0"]), element(rng))]]
    if rng.random() < 0.8:
        return [[_pick(rng, [b"LPUSH", b"RPUSH"]), k] + [element(rng) for _ in
                                                       range(rng.choice([1, 1, 2, 3]))]]
    return [[b"LMOVE", _key(rng), k, b"LEFT", b"RIGHT"]]


def g_blocker(rng):
    """A blocking pop or move for the harness's second connection ("@B", difftest.py's
    run_blocker), with no timeout or a long one: the commands that follow on the main
    connection may serve it; the harness unblocks it (CLIENT UNBLOCK) when the next @B comes
    or the sequence ends. Never mutated, never inside MULTI (generator.py)."""
    t = _pick(rng, [b"0", b"0", b"100"])
    keys = [_pick(rng, BLOCKER_KEYS) if rng.random() < 0.8 else _key(rng)
            for _ in range(rng.choice([1, 1, 2]))]
    r = rng.random()
    if r < 0.3:
        argv = [_pick(rng, [b"BLPOP", b"BRPOP"])] + keys + [t]
    elif r < 0.45:
        argv = [b"BLMOVE", keys[0], _key(rng), _pick(rng, DIRECTIONS[:2]),
                _pick(rng, DIRECTIONS[:2]), t]
    elif r < 0.5:
        argv = [b"BRPOPLPUSH", keys[0], _key(rng), t]
    elif r < 0.65:
        argv = [b"BLMPOP", t, b"%d" % len(keys)] + keys + [_pick(rng, DIRECTIONS[:2])]
        if rng.random() < 0.5:
            argv += [b"COUNT", _pick(rng, [b"1", b"2", b"3"])]
    elif r < 0.85:
        argv = [_pick(rng, [b"BZPOPMIN", b"BZPOPMAX"])] + keys + [t]
    else:
        argv = [b"BZMPOP", t, b"%d" % len(keys)] + keys + [_pick(rng, [b"MIN", b"MAX"])]
        if rng.random() < 0.5:
            argv += [b"COUNT", _pick(rng, [b"1", b"2", b"3"])]
    return [b"@B"] + argv


def blocker_keys(argv):
    """The keys an @B command (g_blocker's) waits on."""
    name = argv[1].upper()
    if name in (b"BLMPOP", b"BZMPOP"):
        return argv[4:4 + int(argv[3])]
    if name in (b"BLMOVE", b"BRPOPLPUSH"):
        return argv[2:3]
    return argv[2:-1]  # BLPOP BRPOP BZPOPMIN BZPOPMAX: keys, then the timeout


COMMANDS = {
    b"@B": (1.5, g_blocker),
    b"LPUSH": (8, g_push),
    b"LPOP": (4, g_pop),
    b"LLEN": (1, lambda r: [b"LLEN", _key(r)]),
    b"LRANGE": (4, lambda r: [b"LRANGE", _key(r), _idx(r), _idx(r)]),
    b"LINDEX": (2, lambda r: [b"LINDEX", _key(r), _idx(r)]),
    b"LSET": (2, lambda r: [b"LSET", _key(r), _idx(r), element(r)]),
    b"LINSERT": (2, lambda r: [b"LINSERT", _key(r),
                               _pick(r, [b"BEFORE", b"AFTER", b"before", b"after", b"MIDDLE"]),
                               element(r), element(r)]),
    b"LREM": (2, lambda r: [b"LREM", _key(r), _pick(r, COUNTS[:9]) if r.random() < 0.9
                            else _pick(r, COUNTS), element(r)]),
    b"LTRIM": (1.5, lambda r: [b"LTRIM", _key(r), _idx(r), _idx(r)]),
    b"LPOS": (2.5, g_lpos),
    b"LMOVE": (2.5, g_lmove),
    b"LMPOP": (2, g_lmpop),
    b"BLPOP": (0.15, g_bpop),
    b"BLMOVE": (0.1, g_blmove),
    b"BLMPOP": (0.1, lambda r: g_lmpop(r, blocking=True)),
}

# CONFIG SET of the node size, down to 1..3 elements per node, so splits and merges of
# quicklist nodes happen in short sequences too (the replies do not depend on it).
CONFIG_SET = {
    b"list-max-listpack-size": [b"-2", b"-2", b"-1", b"-5", b"1", b"2", b"3", b"0", b"-6",
                                b"128", b"2147483648", b"abc", b""],
    b"list-max-ziplist-size": [b"-2", b"2", b"-3"],
}

COVERED = {
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
    "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop",
    "blmove", "brpoplpush", "blmpop",
}
