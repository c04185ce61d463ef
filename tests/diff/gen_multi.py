"""Transactions for the differential test: MULTI EXEC DISCARD WATCH UNWATCH.

Single commands (merged into generator.COMMANDS) give the stray cases: EXEC and DISCARD
without MULTI, nested MULTI, WATCH inside MULTI, arity errors (EXEC x, MULTI x, WATCH
without keys). expand() turns a MULTI the generator drew into a whole block most of the
time:

    [WATCH keys]  [commands of this connection, often writes to a watched key]
    MULTI  [0-6 random commands, now and then an unknown one, a wrong arity, a nested MULTI
            or a WATCH]  EXEC | DISCARD | (nothing: the block stays open)

so that queued errors (EXECABORT), runtime errors inside EXEC (WRONGTYPE in its slot), a
watched key written by the same connection (EXEC answers a null array), expiry by EXPIREAT
in the past and FLUSHALL on watched keys all meet Redis. The test has one connection: a
watched key changed by another client is in tests/integration/test_multi.py.
"""

KEYS = [b"k0", b"k1", b"k2", b"k3", b"", b"\x00b\xffin"]


def _pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def _watch(rng):
    return [b"WATCH"] + [_pick(rng, KEYS) for _ in range(rng.choice([1, 1, 2, 3]))]


def _touch_watched(rng, keys):
    """A command of the same connection on a watched key: writes that change it, writes that
    change nothing (Redis does not count those), and reads."""
    k = _pick(rng, keys)
    return _pick(rng, [
        [b"SET", k, b"v"], [b"INCR", k], [b"DEL", k], [b"EXPIRE", k, b"100000"],
        [b"PERSIST", k], [b"EXPIREAT", k, b"1"], [b"SETNX", k, b"x"], [b"GET", k],
        [b"APPEND", k, b""], [b"SETRANGE", k, b"0", b""], [b"SADD", k, b"m"],
        [b"SREM", k, b"nosuch"], [b"RPUSH", k, b"e"], [b"LPOP", k], [b"HSET", k, b"f", b"v"],
        [b"HDEL", k, b"nosuch"], [b"ZADD", k, b"1", b"m"], [b"ZINCRBY", k, b"0", b"m"],
        [b"RENAME", _pick(rng, KEYS), k], [b"COPY", _pick(rng, KEYS), k, b"REPLACE"],
        [b"FLUSHALL"], [b"FLUSHDB"], [b"SELECT", b"1"], [b"SELECT", b"0"],
        [b"MOVE", k, b"1"], [b"UNWATCH"], [b"EXISTS", k],
    ])


COMMANDS = {
    b"MULTI": (1.5, lambda r: [b"MULTI"] + [b"x" for _ in range(r.choice([0] * 12 + [1]))]),
    b"EXEC": (1, lambda r: [b"EXEC"] + [b"x" for _ in range(r.choice([0] * 8 + [1]))]),
    b"DISCARD": (0.5, lambda r: [b"DISCARD"] + [b"x" for _ in range(r.choice([0] * 8 + [1]))]),
    b"WATCH": (1.5, lambda r: _watch(r) if r.random() < 0.95 else [b"WATCH"]),
    b"UNWATCH": (0.5, lambda r: [b"UNWATCH"] + [b"x" for _ in range(r.choice([0] * 8 + [1]))]),
}

COVERED = {"multi", "exec", "discard", "watch", "unwatch"}


def memkv_only(argv):
    """Commands that Redis 7.0 refuses before queuing where memkv queues them (memkv's own
    subcommands, CLIENT SETINFO of 7.2, DEBUG, which the test enables in memkv only): inside
    MULTI they would fail Redis's transaction alone. Not generated there (README)."""
    name = argv[0].lower()
    sub = argv[1].lower() if len(argv) > 1 else b""
    # CLIENT REPLY inside a transaction: Redis 7.0 answers +OK in EXEC's array and then stays
    # muted in a way memkv does not follow (README); not generated there.
    # FUNCTION / FCALL: memkv's "not supported" error, where Redis checks their subcommands.
    return (name in (b"kprofile", b"debug", b"function", b"fcall", b"fcall_ro")
            or (name == b"client" and sub == b"reply")
            or (name == b"memory" and sub in (b"profile", b"prefixes", b"top-keys", b"history"))
            or (name == b"client" and sub == b"setinfo"))


def follow(in_multi, argv):
    """Whether the connection is in MULTI after argv (as far as the generator can tell)."""
    if len(argv) == 1 and argv[0].lower() == b"multi":  # any case: mutate() changes it
        return True
    if len(argv) == 1 and argv[0].lower() in (b"exec", b"discard", b"quit", b"reset"):
        return False
    return in_multi


def expand(rng, argv, gen_command):
    """argv as drawn, or, for a plain MULTI, a transaction block around it (see above)."""
    if len(argv) != 1 or argv[0].lower() != b"multi":
        return [argv]
    out = []
    if rng.random() < 0.6:
        w = _watch(rng)
        out.append(w)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            out.append(_touch_watched(rng, w[1:]))
    out.append(argv)
    for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 6])):
        r = rng.random()
        if r < 0.05:
            out.append([b"NOSUCHCOMMAND", b"a"])  # refused before queuing: EXECABORT
        elif r < 0.09:
            out.append([b"GET"])  # wrong arity: EXECABORT
        elif r < 0.12:
            out.append([b"MULTI"])  # nested: an error, the transaction goes on
        elif r < 0.15:
            out.append(_watch(rng))  # inside MULTI: an error, the transaction goes on
        else:
            cmd = gen_command(rng)
            # (SORT: outside transactions only, where the harness clears Redis's errno first.)
            while cmd[0].lower() in (b"multi", b"exec", b"discard", b"quit", b"sort",
                                     b"sort_ro") or memkv_only(cmd):
                cmd = gen_command(rng)
            out.append(cmd)
    r = rng.random()
    if r < 0.8:
        out.append([b"EXEC"])
    elif r < 0.95:
        out.append([b"DISCARD"])
    return out
