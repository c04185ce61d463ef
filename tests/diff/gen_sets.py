"""Generators of the SET commands for the differential test (merged into generator.COMMANDS).

Members come from a small pool so that they collide, with integers (intset), strings
(listpack / hashtable), members that look like integers but are not canonical ("01", "-0",
"+1"), a member over set-max-listpack-value (64 bytes) and, now and then, a bulk SADD of more
than 128 strings or 512 integers to cross the listpack and intset limits.

Randomness: SRANDMEMBER and SSCAN are normalized in difftest.py (README.md). SPOP changes the
set, and which member it removes is random: a pop that leaves members behind would make the
two servers' data differ from then on, so SPOP is generated only with counts that take the
whole set (or invalid ones), and deterministic_pop() turns a plain `SPOP key` that a mutation
made into one that does.
"""

I64_MIN = -(2**63)

# No big negative number except int64's minimum: SRANDMEMBER's count may get a member by a
# swap of arguments, and Redis 7.0 answers SRANDMEMBER k -9223372036854775807 by building a
# reply of that many elements until the kernel kills it.
MEMBERS = [
    b"a", b"b", b"c", b"d", b"", b"\x00bin\xff", b"1", b"2", b"3", b"-1", b"0", b"100",
    b"-100", b"70000", b"2147483648", b"9223372036854775807", b"%d" % I64_MIN,
    b"9223372036854775808", b"01", b"-0", b"+1", b"1.5", b" 1", b"x" * 64, b"y" * 65,
    b"z" * 300,
]

PATTERNS = [b"*", b"a*", b"1*", b"[ab]", b"?", b"*0*", b"m1*", b"[", b"\\", b"*\x00*", b""]

# Counts for SPOP: only ones that pop everything (the pool and bulk adds stay below 1000
# members) or errors. 0 pops nothing.
SPOP_VALID = [b"0", b"1000", b"100000", b"9223372036854775807", b"+1000", b"01000"]
SPOP_INVALID = [b"-1", b"-0", b"abc", b"", b"1.5", b"9223372036854775808", b"%d" % I64_MIN]

# Counts for SRANDMEMBER: small ones of both signs, big positive ones, the edges that are
# errors. Never a big negative one (see MEMBERS).
RAND_VALID = [b"0", b"1", b"2", b"3", b"5", b"10", b"200", b"-1", b"-2", b"-5", b"-20",
              b"9223372036854775807", b"+1", b"01"]
RAND_INVALID = [b"%d" % I64_MIN, b"9223372036854775808", b"-0", b"abc", b"", b"1.5"]

SCAN_CURSORS = [b"0", b"0", b"0", b"1", b"7", b"-1", b"18446744073709551615",
                b"18446744073709551616", b"abc", b"", b" 0", b"+0", b"00"]
SCAN_COUNTS = [b"1", b"2", b"10", b"100", b"1000", b"0", b"-1", b"abc", b"",
               b"9223372036854775807"]


def _pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def _key(rng):
    import generator
    return _pick(rng, generator.KEYS)


def member(rng):
    r = rng.random()
    if r < 0.8:
        return _pick(rng, MEMBERS)
    if r < 0.9:
        return b"m%d" % rng.randrange(200)
    return b"%d" % rng.randrange(600)


def members(rng, lo=1):
    return [member(rng) for _ in range(rng.choice([lo, lo, lo + 1, lo + 2, lo + 4]))]


def g_sadd(rng):
    r = rng.random()
    if r < 0.03:  # more than set-max-listpack-entries strings
        return [b"SADD", _key(rng)] + [b"m%d" % i for i in range(rng.randrange(120, 200))]
    if r < 0.06:  # around set-max-intset-entries integers
        start = rng.randrange(0, 100)
        return [b"SADD", _key(rng)] + [b"%d" % i for i in range(start, start +
                                                                 rng.randrange(500, 520))]
    return [b"SADD", _key(rng)] + members(rng)


def g_spop(rng):
    counts = SPOP_VALID if rng.random() < 0.7 else SPOP_INVALID
    return [b"SPOP", _key(rng), _pick(rng, counts)] + (
        [b"extra"] if rng.random() < 0.03 else [])


def g_srandmember(rng):
    argv = [b"SRANDMEMBER", _key(rng)]
    if rng.random() < 0.8:
        argv.append(_pick(rng, RAND_VALID if rng.random() < 0.8 else RAND_INVALID))
    return argv


def g_smove(rng):
    return [b"SMOVE", _key(rng), _key(rng), member(rng)]


def keys(rng, lo=1):
    return [_key(rng) for _ in range(rng.choice([lo, lo, lo + 1, lo + 2]))]


def g_sintercard(rng):
    ks = keys(rng)
    r = rng.random()
    numkeys = b"%d" % len(ks) if r < 0.85 else _pick(
        rng, [b"0", b"-1", b"%d" % (len(ks) + 1), b"abc", b"", b"9223372036854775808",
              b"01", b"+1"])
    argv = [b"SINTERCARD", numkeys] + ks
    r = rng.random()
    if r < 0.4:
        argv += [_pick(rng, [b"LIMIT", b"limit"]), _pick(rng, [b"0", b"1", b"2", b"5", b"-1",
                                                              b"abc", b"", b"-0"])]
    elif r < 0.5:
        argv += [_pick(rng, [b"LIMIT", b"FOO"])]
    elif r < 0.55:
        argv += [b"LIMIT", b"1", b"LIMIT", b"3"]
    return argv


def g_sscan(rng):
    argv = [b"SSCAN", _key(rng), _pick(rng, SCAN_CURSORS)]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        opt = rng.random()
        if opt < 0.45:
            argv += [_pick(rng, [b"MATCH", b"match"]), _pick(rng, PATTERNS)]
        elif opt < 0.9:
            argv += [_pick(rng, [b"COUNT", b"count"]), _pick(rng, SCAN_COUNTS)]
        else:
            argv += [_pick(rng, [b"TYPE", b"NOVALUE", b"MATCH", b"COUNT"])]
    return argv


COMMANDS = {
    b"SADD": (14, g_sadd),
    b"SREM": (3, lambda r: [b"SREM", _key(r)] + members(r)),
    b"SMEMBERS": (2, lambda r: [b"SMEMBERS", _key(r)]),
    b"SISMEMBER": (1.5, lambda r: [b"SISMEMBER", _key(r), member(r)]),
    b"SMISMEMBER": (1.5, lambda r: [b"SMISMEMBER", _key(r)] + members(r)),
    b"SCARD": (1.5, lambda r: [b"SCARD", _key(r)]),
    b"SPOP": (1, g_spop),
    b"SRANDMEMBER": (2, g_srandmember),
    b"SMOVE": (2, g_smove),
    b"SINTER": (1, lambda r: [b"SINTER"] + keys(r)),
    b"SUNION": (1, lambda r: [b"SUNION"] + keys(r)),
    b"SDIFF": (1, lambda r: [b"SDIFF"] + keys(r)),
    b"SINTERSTORE": (1, lambda r: [b"SINTERSTORE", _key(r)] + keys(r)),
    b"SUNIONSTORE": (1, lambda r: [b"SUNIONSTORE", _key(r)] + keys(r)),
    b"SDIFFSTORE": (1, lambda r: [b"SDIFFSTORE", _key(r)] + keys(r)),
    b"SINTERCARD": (1.5, g_sintercard),
    b"SSCAN": (2, g_sscan),
}

COVERED = {
    "sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember",
    "smove", "sinter", "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore",
    "sintercard", "sscan",
}


def deterministic_pop(argv):
    """A plain SPOP (a mutation dropped the count) would remove a random member: make it pop
    the whole set instead."""
    if len(argv) == 2 and argv[0].lower() == b"spop":
        return argv + [b"1000"]
    return argv
