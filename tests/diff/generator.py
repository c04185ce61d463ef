"""Random command sequences over every command memkv implements, weighted towards collisions
(a pool of six keys) and towards hostile arguments.

gen_command(rng) returns one command as a list of bytes. Everything comes from the
random.Random passed in, so a seed gives the same sequence every time."""

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

# Hostile numbers: the edges of int64 and one beyond, 2^53 (doubles lose integers past it),
# 32-bit edges, and texts strtoll/strtod accept but Redis's parsers do not.
NUMBERS = [
    b"0", b"1", b"-1", b"2", b"3", b"10", b"100", b"-100",
    b"%d" % I64_MAX, b"%d" % (I64_MAX + 1), b"%d" % I64_MIN, b"%d" % (I64_MIN - 1),
    b"%d" % (I64_MAX - 1), b"%d" % (I64_MIN + 1),
    b"9007199254740992", b"-9007199254740992", b"9007199254740993",
    b"2147483647", b"2147483648", b"-2147483648", b"-2147483649", b"4294967296",
    b"9223372036854775", b"9223372036854776", b"-9223372036854775", b"-9223372036854776",
    b"18446744073709551615", b"18446744073709551616", b"99999999999999999999999",
    b"536870911", b"536870912", b"536870913", b"1099511627775",
    b"inf", b"-inf", b"+inf", b"nan", b"-nan", b"-0", b"+0", b" 1", b"1 ", b"1e400",
    b"-1e400", b"1e-400", b"0x10", b"+1", b"01", b"1.5", b"-1.5", b"1e3", b"0.1",
    b"", b"abc", b"1a", b"\x001", b"1\x00", b"00", b"-", b"+", b".", b"1.", b".5",
    b"3.0e3", b"5e-324", b"1.7976931348623157e308", b"1.7976931348623159e308",
    b"0.30000000000000004", b"1" + b"0" * 60, b"1" * 400,
]

# Expire-time arguments. Relative ones (EX, PX, EXPIRE, PEXPIRE, SETEX, PSETEX) never get a
# small positive value: a key that expires a second later could expire in one server and
# not yet in the other (the two run the same command a few milliseconds apart).
REL_EXPIRES = [
    b"0", b"-1", b"-100", b"100000", b"+100000", b"0100000", b"86400000", b"2147483648",
    b"4294967296", b"9007199254740992", b"9223372036854775", b"9223372036854776",
    b"-9223372036854775", b"-9223372036854776", b"9223372036854775807",
    b"9223372036854775806", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"9223372036854770000", b"inf", b"1.5", b" 100000", b"0x10",
    b"", b"abc", b"1e400", b"-0",
]
# Absolute ones: small values are long past (the key goes at once), large ones far ahead.
ABS_EXPIRES = REL_EXPIRES + [
    b"1", b"100", b"1000000000", b"4102444800", b"4102444800000", b"+1", b"01",
]
# SET's EXAT/PXAT get no time in the past: Redis 7.0 then keeps the key until its expire
# cycle reclaims it (DBSIZE and MEMORY USAGE still see it for a while), memkv drops it at
# once. Invalid and far-future times only.
SET_INVALID = [b"0", b"-1", b"-100", b"", b"abc", b"1.5", b"inf", b"1e400", b"-0", b" 1",
               b"0x10", b"-9223372036854775808", b"-9223372036854775809"]
SET_EXAT = SET_INVALID + [b"4102444800", b"9223372036854775", b"9223372036854776",
                          b"9007199254740992", b"9223372036854775807", b"+4102444800"]
SET_PXAT = SET_INVALID + [b"4102444800000", b"9223372036854775807", b"9223372036854775806",
                          b"9223372036854775808", b"9007199254740992", b"04102444800000"]

KEYS = [b"k0", b"k1", b"k2", b"k3", b"", b"\x00b\xffin"]

VALUES = [
    b"", b"v", b"value", b"\x00\x01\xff\r\n", b"x" * 100, b"y" * 5000, b"12", b"-7",
    b"3.5", b"1e5", b"abc", b"9223372036854775807", b"-9223372036854775808",
    b"9223372036854775806", b" 1", b"0x10", b"inf", b"1e400", b"10.50", b"-0",
]

PATTERNS = [b"*", b"k*", b"k?", b"k[0-1]", b"k[^0]", b"[", b"\\", b"k\\*", b"*\x00*",
            b"", b"nomatch", b"[a-", b"*k*", b"k[1-0]", b"?", b"\x00b\xffin"]

# CONFIG parameters both servers have, with values to set. Parameters that would change how
# the test itself works (port, bind, timeout > 0, requirepass, maxmemory below the data
# size, save/appendonly other than off) get only values that keep it working, or invalid ones.
CONFIG_SET = {
    # Not below 10: Redis 7.0 notices a blocking command's timeout at its cron tick, so at hz 1
    # the rest of a batch could run up to a second later in Redis than in memkv, and remaining
    # times (TTL, PTTL) would differ by more than their tolerance.
    b"hz": [n for n in NUMBERS if n not in (b"0", b"1", b"2", b"3")] + [b"500", b"501", b"10"],
    b"tcp-keepalive": NUMBERS,
    b"timeout": [b"0", b"-1", b"abc", b"", b"2147483648", b"1.5", b"-0", b"9223372036854775808"],
    # Not above 10000: Redis raises RLIMIT_NOFILE for a larger value (for 2^31 it loops for
    # minutes), memkv's fd table is sized at start-up.
    # Not below 3: the harness holds three connections (its commands, its keyspace-event
    # listener, its blocker).
    b"maxclients": [b"0", b"-1", b"3", b"10000", b"100", b"abc", b"4294967296",
                    b"9223372036854775807", b"+100", b"01", b"1.5", b""],
    # Not 2^63 and above: memkv keeps maxmemory signed (README, deliberate differences).
    b"maxmemory": [b"0", b"10gb", b"10GB", b"1tb", b"-1", b"abc", b"100000000000",
                   b"9223372036854775807", b"1.5gb", b"10g", b"", b"0x10", b"1kb1", b"-0"],
    b"maxmemory-policy": [b"noeviction", b"NOEVICTION", b"volatile-lru", b"bogus", b"",
                          b"allkeys-lru"],
    b"maxmemory-samples": NUMBERS + [b"64", b"65"],
    b"loglevel": [b"debug", b"verbose", b"notice", b"warning", b"WARNING", b"nothing",
                  b"bogus", b""],
    # Never above 512mb: SETRANGE could then make strings of gigabytes (or a terabyte, which
    # Redis would try to allocate).
    b"proto-max-bulk-len": [b"512mb", b"1mb", b"1048575", b"1048576", b"0", b"-1", b"abc",
                            b"536870912", b"1k", b"", b"2000000", b"1.5mb"],
    # Not down to 1mb: a pipelined batch of the test could then overrun it in one server
    # and not in the other (they read their input in different chunks).
    b"client-query-buffer-limit": [b"1gb", b"1048575", b"0", b"-1", b"abc", b"",
                                   b"9223372036854775807", b"2gb", b"512mb", b"1.5gb"],
    b"requirepass": [b""],
    # Clients of the test are local: protected mode changes nothing for them.
    b"protected-mode": [b"yes", b"no", b"YES", b"maybe", b""],
    # Start-up only in both: every value is refused as immutable.
    b"enable-protected-configs": [b"yes", b"no", b"local", b"bogus"],
    b"save": [b""],
    b"appendonly": [b"no", b"NO", b"maybe", b""],
    b"databases": [b"16", b"1"],
    b"tcp-backlog": [b"511"],
    # Encoding thresholds of the collection types (and Redis's ziplist aliases); small values
    # make the conversions happen within a sequence.
    b"hash-max-listpack-entries": [b"512", b"0", b"1", b"2", b"4", b"-1", b"abc", b"1kb"],
    b"hash-max-ziplist-entries": [b"512", b"3", b"9223372036854775807"],
    b"hash-max-listpack-value": [b"64", b"0", b"1", b"4", b"1kb", b"-1", b"abc"],
    b"hash-max-ziplist-value": [b"64", b"2"],
    b"set-max-intset-entries": [b"512", b"0", b"1", b"3", b"-1", b"abc"],
    b"zset-max-listpack-entries": [b"128", b"0", b"1", b"3", b"-1", b"abc"],
    b"zset-max-ziplist-entries": [b"128", b"2"],
    b"zset-max-listpack-value": [b"64", b"0", b"1", b"4", b"1kb", b"-1"],
    b"zset-max-ziplist-value": [b"64", b"3"],
    b"list-max-listpack-size": [b"-2", b"-1", b"-5", b"-6", b"1", b"2", b"3", b"0",
                               b"2147483648", b"abc"],
    b"list-max-ziplist-size": [b"-2", b"4"],
    # Both build on jemalloc (Debian's redis-server too); a libc build of memkv keeps the value.
    b"jemalloc-bg-thread": [b"yes", b"no", b"YES", b"maybe", b""],
    b"logfile": [b"x"],
    b"pidfile": [b"x"],
}

# memkv-only parameters: sent to both servers; only "both answer" is checked.
MEMKV_ONLY_CONFIG = {
    b"memory-profiling-sample-bytes": [b"1024", b"0", b"1gb", b"abc", b"%d" % I64_MAX],
    b"memory-profiling-snapshots-keep": [b"2", b"1", b"1000", b"1001"],
    b"memory-profiling-snapshot-interval": [b"0", b"60", b"-1", b"86401"],
    b"memory-profiling-max-memory": [b"64mb", b"0", b"-1"],
    b"memory-subsystem-arenas": [b"yes", b"no"],
    b"enable-debug-command": [b"yes"],
    # Protected (enable-protected-configs) in memkv, unknown to Redis.
    b"memory-profiling-dump-dir": [b"/tmp", b"", b"relative"],
    b"metrics-timeout": [b"10", b"0", b"-1", b"abc"],
    b"metrics-console-actions": [b"no", b"maybe"],
    b"jemalloc-dirty-decay-ms": [b"10000", b"0", b"-1", b"-2", b"86400001", b"abc"],
    b"jemalloc-muzzy-decay-ms": [b"0", b"1000", b"-1", b"x"],
    # Key-space statistics: every change rebuilds them from the keys.
    b"keyspace-stats": [b"yes", b"no", b"maybe"],
    b"keyspace-prefix-separators": [b":", b":/.", b"#", b"1", b"", b"123456789"],
    b"keyspace-prefix-depth": [b"2", b"0", b"8", b"9", b"-1"],
    b"keyspace-prefix-max": [b"4096", b"0", b"2", b"1000001", b"abc"],
    b"keyspace-top-keys": [b"32", b"1", b"0", b"10001"],
    b"memory-history-interval-ms": [b"60000", b"100", b"99"],
    b"memory-history-points": [b"1440", b"10", b"9"],
    # Redis 7.2's listpack encoding of small sets of strings; 7.0 has no such parameters.
    b"set-max-listpack-entries": [b"128", b"0", b"2"],
    b"set-max-listpack-value": [b"64", b"0", b"3"],
    # Redis 7.2's bound on distinct error prefixes (7.0 has none): memkv's parameter.
    b"errorstats-max-prefixes": [b"128", b"1", b"0", b"abc"],
}

CONFIG_GET_PATTERNS = [b"*", b"hz", b"HZ", b"max*", b"*max*", b"port", b"nonexistent",
                       b"proto-max-bulk-len", b"client-*", b"maxmemory", b"loglevel", b"",
                       b"save", b"appendonly", b"databases", b"*o*", b"[mt]*", b"timeout",
                       b"protected-mode", b"enable-protected-configs", b"jemalloc*",
                       b"latency-tracking*"]


def pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def key(rng):
    return pick(rng, KEYS)


def num(rng):
    return pick(rng, NUMBERS)


def val(rng):
    r = rng.random()
    if r < 0.3:
        return num(rng)
    if r < 0.4:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
    return pick(rng, VALUES)


def small_index(rng):
    return b"%d" % rng.randint(-12, 12)


def index(rng):
    return small_index(rng) if rng.random() < 0.5 else num(rng)


def rel_exp(rng):
    return pick(rng, REL_EXPIRES)


def abs_exp(rng):
    return pick(rng, ABS_EXPIRES)


def expire_option(rng, with_extras=()):
    """One of SET/GETEX's expire options with an argument."""
    kind = pick(rng, [b"EX", b"PX", b"EXAT", b"PXAT"] + list(with_extras))
    if kind in (b"EX", b"PX"):
        return [kind, rel_exp(rng)]
    if kind == b"EXAT":
        return [kind, pick(rng, SET_EXAT)]
    if kind == b"PXAT":
        return [kind, pick(rng, SET_PXAT)]
    return [kind]


# ---- per-command generators: each returns argv (name first) ----

def g_set(rng):
    argv = [b"SET", key(rng), val(rng)]
    opts = []
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        r = rng.random()
        if r < 0.2:
            opts.append([pick(rng, [b"NX", b"XX"])])
        elif r < 0.35:
            opts.append([b"GET"])
        elif r < 0.45:
            opts.append([b"KEEPTTL"])
        elif r < 0.9:
            opts.append(expire_option(rng))
        else:
            opts.append([pick(rng, [b"EX", b"PX", b"NXX", b"GETT", b"PERSIST"])])
    for o in opts:
        argv += o
    return argv


def g_object(rng):
    sub = pick(rng, [b"ENCODING", b"ENCODING", b"REFCOUNT", b"IDLETIME", b"FREQ", b"HELP",
                     b"encoding", b"nosuch"])
    argv = [b"OBJECT", sub]
    if sub != b"HELP" or rng.random() < 0.2:
        argv.append(key(rng))
    return argv


def g_copy(rng):
    argv = [b"COPY", key(rng), key(rng)]
    for _ in range(rng.choice([0, 0, 1, 2])):
        if rng.random() < 0.5:
            argv.append(pick(rng, [b"REPLACE", b"replace", b"bogus"]))
        else:
            argv += [b"DB", pick(rng, [b"0", b"1", b"15", b"16", b"-1", b"abc", b"9999999999"])]
    return argv


# DUMP payloads Debian's redis-server 7.0.15 wrote (a string, an int-encoded and an LZF string,
# a quicklist, listpack hash, intset, plain set, listpack zset), as RESTORE takes them; and
# damaged ones (a flipped checksum byte, a later RDB version, too short).
RESTORE_PAYLOADS = [
    b'\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce',
    b'\x00\xc0\n\n\x00n\x9fWE\x0e\xaec\xbb',
    b'\x00\xc3\t(\x01xx\xe0\x1b\x00\x01xx\n\x00z\x1dl\xce\xa5@\x133',
    b'\x12\x01\x02\x0f\x0f\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\x03\x01\xff\n\x00\xdc\xa1\xe6}P\x05PH',
    b'\x10\x14\x14\x00\x00\x00\x04\x00\x81f\x02\x01\x01\x81g\x02\x83two\x04\xff\n\x00\xe3\x18t+a\xdbo\xdf',
    b'\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\n\x00\xa5\x02\\\xe2mnM\x1b',
    b'\x02\x02\x01y\x01x\n\x00\x0c\xdfk=\xb30\xbc\xf0',
    b'\x11\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xff\n\x00\xd4Ln\xa4\xf6D\xd9\xd7',
]
RESTORE_BAD = [
    b'\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xcf',
    b'\x00\x01v\x0b\x00\x91\x08\xce\xb2\x198\x8a\xce',
    b'\x00\x01', b'',
]


def g_restore(rng):
    payload = pick(rng, RESTORE_PAYLOADS if rng.random() < 0.85 else RESTORE_BAD)
    # (never a TTL of a few ms: whether it passed before the next command is timing)
    ttl = pick(rng, [b"0", b"0", b"0", b"100000", b"-1", b"abc", b"4102444800000"])
    argv = [b"RESTORE", key(rng), ttl, payload]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        r = rng.random()
        if r < 0.35:
            argv.append(pick(rng, [b"REPLACE", b"replace"]))
        elif r < 0.5:
            argv.append(pick(rng, [b"ABSTTL", b"absttl"]))
        elif r < 0.7:
            argv += [b"IDLETIME", pick(rng, [b"0", b"100", b"-1", b"x"])]
        elif r < 0.9:
            argv += [b"FREQ", pick(rng, [b"0", b"255", b"256", b"-1"])]
        else:
            argv.append(pick(rng, [b"BOGUS", b"IDLETIME", b"FREQ"]))
    return argv


def g_move(rng):
    return [b"MOVE", key(rng), pick(rng, [b"0", b"1", b"2", b"15", b"16", b"-1", b"abc",
                                          b"4294967296", b"2147483647", b""])]


def g_getex(rng):
    argv = [b"GETEX", key(rng)]
    for _ in range(rng.choice([0, 1, 1, 2])):
        if rng.random() < 0.25:
            argv.append(pick(rng, [b"PERSIST", b"persist", b"EX", b"KEEPTTL"]))
        else:
            argv += expire_option(rng)
    return argv


def g_expire_family(rng):
    name = pick(rng, [b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
    t = rel_exp(rng) if name in (b"EXPIRE", b"PEXPIRE") else abs_exp(rng)
    argv = [name, key(rng), t]
    # GT and LT only with absolute times: "EXPIRE k 100000 GT" after "EXPIRE k 100000" is 1 or
    # 0 depending on whether a millisecond passed in between, which differs between servers.
    opts = [b"NX", b"XX", b"nx", b"BOGUS", b""]
    if name.endswith(b"AT"):
        opts += [b"GT", b"LT", b"gt"]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        argv.append(pick(rng, opts))
    return argv


def g_getrange(rng):
    return [pick(rng, [b"GETRANGE", b"SUBSTR"]), key(rng), index(rng), index(rng)]


def g_setrange(rng):
    r = rng.random()
    if r < 0.05:
        # At the 512 MB limit: an offset that still fits with an empty value (no
        # allocation) and offsets one past the limit.
        off, v = pick(rng, [(b"536870911", b""), (b"536870912", b"x"),
                            (b"536870911", b"xy"), (b"536870912", b"")])
        return [b"SETRANGE", key(rng), off, v]
    off = small_index(rng) if r < 0.6 else pick(rng, NUMBERS)
    try:
        if int(off) > 100000:
            off = pick(rng, [off, b"0"]) if int(off) > 536870911 else b"100000"
    except ValueError:
        pass
    return [b"SETRANGE", key(rng), off, val(rng)]


def g_scan(rng):
    argv = [b"SCAN", pick(rng, [b"0", b"0", b"1", b"-1", b"abc", b"18446744073709551615",
                                b"18446744073709551616", b" 0", b"+0", b"", b"00", b"17"])]
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        opt = pick(rng, [b"COUNT", b"MATCH", b"TYPE", b"count", b"BOGUS"])
        if opt.upper() == b"COUNT":
            argv += [opt, pick(rng, [b"1", b"10", b"1000", b"0", b"-1", b"abc",
                                     b"9223372036854775807", b"9223372036854775808"])]
        elif opt == b"MATCH":
            argv += [opt, pick(rng, PATTERNS)]
        elif opt == b"TYPE":
            argv += [opt, pick(rng, [b"string", b"STRING", b"hash", b"bogus", b"list"])]
        else:
            argv.append(opt)
    return argv


def g_client(rng):
    sub = pick(rng, [b"ID", b"GETNAME", b"SETNAME", b"LIST", b"INFO", b"KILL", b"HELP",
                     b"SETINFO", b"NOSUCH", b"getname", b"setname", b"list", b"kill"])
    up = sub.upper()
    argv = [b"CLIENT", sub]
    if up == b"SETNAME":
        argv.append(pick(rng, [b"name", b"", b"a b", b"a\nb", b"x" * 300, b"\xff", b"ok-1"]))
    elif up == b"LIST":
        r = rng.random()
        if r < 0.3:
            argv += [b"TYPE", pick(rng, [b"normal", b"NORMAL", b"master", b"replica",
                                         b"pubsub", b"slave", b"bogus"])]
        elif r < 0.6:
            argv += [b"ID"] + [pick(rng, [b"1", b"0", b"-1", b"abc", b"999999",
                                          b"9223372036854775807", b"9223372036854775808"])
                               for _ in range(rng.randrange(3))]
        elif r < 0.7:
            argv.append(pick(rng, [b"BOGUS", b"TYPE", b"ID"]))
    elif up == b"KILL":
        r = rng.random()
        if r < 0.3:
            argv.append(pick(rng, [b"1.2.3.4:5", b"127.0.0.1:1", b"bogus", b""]))
        else:
            for _ in range(rng.choice([1, 1, 2, 3])):
                opt = pick(rng, [b"ID", b"ADDR", b"LADDR", b"TYPE", b"USER", b"SKIPME",
                                 b"BOGUS"])
                argv.append(opt)
                if rng.random() < 0.95:
                    if opt == b"ID":
                        argv.append(pick(rng, [b"0", b"-1", b"abc", b"999999",
                                               b"9223372036854775807", b"9223372036854775808"]))
                    elif opt == b"TYPE":
                        argv.append(pick(rng, [b"master", b"replica", b"pubsub", b"bogus",
                                               b"slave"]))
                    elif opt == b"SKIPME":
                        argv.append(pick(rng, [b"yes", b"YES", b"maybe"]))
                    elif opt == b"USER":
                        argv.append(pick(rng, [b"nosuchuser", b"bob"]))
                    else:
                        argv.append(pick(rng, [b"1.2.3.4:5", b"bogus", b""]))
    elif up == b"SETINFO":
        argv += [pick(rng, [b"lib-name", b"LIB-VER", b"bogus"]), pick(rng, [b"x", b"a b"])]
    if rng.random() < 0.1:
        argv.append(b"extra")
    return argv


def g_config(rng):
    sub = pick(rng, [b"GET", b"GET", b"SET", b"SET", b"SET", b"RESETSTAT", b"HELP", b"get",
                     b"set", b"NOSUCH", b"REWRITE"])
    up = sub.upper()
    argv = [b"CONFIG", sub]
    if up == b"GET":
        for _ in range(rng.choice([1, 1, 1, 2, 3, 0])):
            argv.append(pick(rng, CONFIG_GET_PATTERNS))
    elif up == b"SET":
        for _ in range(rng.choice([1, 1, 1, 2])):
            r = rng.random()
            if r < 0.85:
                name = pick(rng, list(CONFIG_SET))
                value = pick(rng, CONFIG_SET[name])
            else:
                name = pick(rng, [b"nosuch-param", b"HZ", b"Maxmemory-Samples", b""])
                value = pick(rng, [b"1", b"10", b"abc"])
            if name == b"HZ" and value not in CONFIG_SET[b"hz"]:
                value = b"10"
            argv += [name, value]
        if rng.random() < 0.1:
            argv.append(b"dangling")
    elif up == b"REWRITE":
        pass  # neither server runs from a config file
    if rng.random() < 0.08:
        argv.append(b"extra")
    return argv


# Commands for COMMAND GETKEYS: fixed keys, movable keys (a key count, valid or not, "2x"
# read with atoi by Redis's fallback), containers with and without key subcommands.
GETKEYS_COMMANDS = [
    [b"GET"], [b"SET"], [b"MSET"], [b"DEL"], [b"BLPOP"], [b"LMOVE"], [b"BITOP", b"AND"],
    [b"RENAME"], [b"ZUNIONSTORE", b"d"], [b"ZINTERSTORE", b"d"], [b"ZDIFFSTORE", b"d"],
    [b"ZUNION"], [b"ZINTER"], [b"ZDIFF"], [b"ZINTERCARD"], [b"SINTERCARD"], [b"LMPOP"],
    [b"ZMPOP"], [b"BLMPOP", b"0"], [b"BZMPOP", b"0"], [b"OBJECT", b"ENCODING"],
    [b"OBJECT", b"FREQ"], [b"OBJECT", b"HELP"], [b"OBJECT", b"bogus"], [b"MEMORY", b"USAGE"],
    [b"MEMORY", b"STATS"], [b"CONFIG", b"GET"], [b"CLIENT", b"LIST"], [b"OBJECT"],
    [b"PING"], [b"NOSUCH"], [b"LCS"], [b"SETBIT"], [b"BITFIELD"], [b"SWAPDB"], [b"EXPIRETIME"],
    [b"COMMAND", b"GETKEYS"], [b"MEMORY"], [b"getrange"], [b"SINTERSTORE"], [b"WAIT"],
    [b"EVAL", b"return 1"], [b"EVALSHA_RO", b"0123"], [b"FCALL", b"f"], [b"eval_ro", b"x"],
    [b"SPUBLISH"], [b"SSUBSCRIBE"], [b"sunsubscribe"], [b"GEORADIUS", b"k", b"0", b"0", b"1"],
    [b"GEORADIUSBYMEMBER", b"k", b"m", b"1"], [b"GEOSEARCHSTORE"], [b"georadius_ro"],
]


def g_getkeys(rng):
    argv = [b"COMMAND", pick(rng, [b"GETKEYS", b"GETKEYSANDFLAGS", b"getkeys"])]
    argv += pick(rng, GETKEYS_COMMANDS)
    for _ in range(rng.choice([0, 1, 2, 3, 3, 4, 5])):
        argv.append(pick(rng, [b"a", b"b", b"c", b"1", b"2", b"0", b"3", b"-1", b"2x",
                               b"LEFT", b"abc", b"10", b"STORE", b"storedist"]))
    return argv


def g_command(rng):
    sub = pick(rng, [None, b"COUNT", b"LIST", b"INFO", b"INFO", b"DOCS", b"HELP", b"NOSUCH",
                     b"info", b"GETKEYS", b"GETKEYS", b"LIST"])
    argv = [b"COMMAND"]
    if sub is None:
        return argv
    if sub == b"GETKEYS":
        return g_getkeys(rng)
    argv.append(sub)
    if sub == b"LIST" and rng.random() < 0.7:
        argv += [pick(rng, [b"FILTERBY", b"filterby", b"BOGUS"]),
                 pick(rng, [b"MODULE", b"ACLCAT", b"PATTERN", b"pattern", b"BOGUS"]),
                 pick(rng, [b"string", b"bitmap", b"bit*", b"*", b"read", b"bogus", b"x"])]
        return argv[:rng.choice([3, 4, 5, 5, 5, 5])]  # cut short: a syntax error
    if sub.upper() in (b"INFO", b"DOCS"):
        for _ in range(rng.choice([0, 1, 1, 2])):
            argv.append(pick(rng, [b"get", b"SET", b"nosuch", b"", b"config", b"client",
                                   b"ping", b"expire", b"mset", b"GETRANGE", b"bitfield",
                                   b"lcs", b"swapdb", b"zadd", b"getex", b"expiretime"]))
    elif rng.random() < 0.15:
        argv.append(b"extra")
    return argv


def g_memory(rng):
    sub = pick(rng, [b"USAGE", b"USAGE", b"STATS", b"DOCTOR", b"MALLOC-STATS", b"PURGE",
                     b"HELP", b"NOSUCH", b"usage"])
    argv = [b"MEMORY", sub]
    if sub.upper() == b"USAGE":
        argv.append(key(rng))
        if rng.random() < 0.4:
            argv += [pick(rng, [b"SAMPLES", b"samples", b"BOGUS"]),
                     pick(rng, [b"0", b"5", b"-1", b"abc", b"9223372036854775807"])]
        elif rng.random() < 0.1:
            argv.append(b"SAMPLES")
    elif rng.random() < 0.1:
        argv.append(b"extra")
    return argv


def g_memory_keyspace(rng):
    sub = pick(rng, [b"PREFIXES", b"TOP-KEYS", b"HISTORY", b"prefixes", b"top-keys"])
    argv = [b"MEMORY", sub]
    opts = {b"PREFIXES": [b"COUNT", b"DEPTH", b"SORT", b"BOGUS"],
            b"TOP-KEYS": [b"COUNT", b"TYPE", b"BOGUS"], b"HISTORY": [b"COUNT", b"BOGUS"]}
    vals = [b"1", b"0", b"-1", b"3", b"33", b"abc", b"bytes", b"keys", b"growth", b"hash",
            b"string", b"nosuch", b"9223372036854775807"]
    for _ in range(rng.choice([0, 1, 1, 2])):
        argv.append(pick(rng, opts[sub.upper()]))
        if rng.random() < 0.9:
            argv.append(pick(rng, vals))
    return argv


def g_info(rng):
    argv = [b"INFO"]
    for _ in range(rng.choice([0, 1, 1, 2])):
        argv.append(pick(rng, [b"server", b"memory", b"keyspace", b"all", b"everything",
                               b"default", b"stats", b"bogus", b"CLIENTS", b"commandstats",
                               b"keysizes", b"errorstats", b"latencystats"]))
    return argv


# The protocol versions HELLO asks for (difftest.py's --resp sets them): 2 and 3 switch the
# connection back and forth inside a sequence, so every command meets both protocols.
HELLO_VERSIONS = [b"2", b"3"]


def g_hello(rng):
    argv = [b"HELLO"]
    if rng.random() < 0.8:
        argv.append(pick(rng, [rng.choice(HELLO_VERSIONS), b"1", b"4", b"0", b"-1", b"abc",
                               b"", b"2.0", b"9223372036854775808", b"03"]))
        for _ in range(rng.choice([0, 0, 1, 2])):
            opt = pick(rng, [b"SETNAME", b"AUTH", b"BOGUS", b"setname"])
            argv.append(opt)
            if opt.upper() == b"SETNAME" and rng.random() < 0.9:
                argv.append(pick(rng, [b"n1", b"a b", b""]))
            elif opt == b"AUTH":
                argv += [pick(rng, [b"default", b"bob"]), b"pw"][:rng.choice([1, 2, 2])]
    return argv


def g_debug(rng):
    return [b"DEBUG"] + [pick(rng, [b"LEAK", b"HELP", b"SLEEP", b"OBJECT", b"x", b"1"])
                         for _ in range(rng.choice([0, 1, 1, 2]))]


def g_shutdown(rng):
    # Only forms that must not shut Redis down: ABORT (nothing to abort), a bogus flag, or
    # conflicting flags.
    forms = [[b"ABORT"], [b"abort"], [b"BOGUS"], [b"NOSAVE", b"ABORT"], [b"SAVE", b"NOSAVE"],
             [b"NOW", b"BOGUS"], [b"ABORT", b"FORCE"], [b"NOSAVE", b"SAVE"],
             [b"NOSAVE", b"NOSAVE", b"ABORT"]]
    return [b"SHUTDOWN"] + pick(rng, forms)


def g_flush(rng):
    argv = [pick(rng, [b"FLUSHDB", b"FLUSHALL"])]
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        argv.append(pick(rng, [b"ASYNC", b"SYNC", b"sync", b"BOGUS", b""]))
    return argv


def g_select(rng):
    return [b"SELECT", pick(rng, [b"0", b"1", b"15", b"16", b"-1", b"0", b"abc", b"1.0",
                                  b"9223372036854775807", b"9223372036854775808",
                                  b"2147483648", b"4294967296", b"01", b" 1", b"+1", b""])]


def g_auth(rng):
    return [b"AUTH"] + [pick(rng, [b"pw", b"default", b"", b"bob"])
                        for _ in range(rng.choice([1, 1, 2, 3]))]


def g_kprofile(rng):
    return [b"KPROFILE"] + [pick(rng, [b"MEMORY", b"STATUS", b"DUMP", b"bogus", b"DISABLE"])
                            for _ in range(rng.choice([1, 2, 2, 3]))]


def g_memory_profile(rng):
    return [b"MEMORY", b"PROFILE"] + [pick(rng, [b"STATUS", b"HELP", b"bogus", b"TOP",
                                                 b"STOP", b"LEAKS"])
                                      for _ in range(rng.choice([0, 1, 1, 2]))]


def g_memkv_config(rng):
    name = pick(rng, list(MEMKV_ONLY_CONFIG))
    if rng.random() < 0.3:
        return [b"CONFIG", b"GET", name]
    return [b"CONFIG", b"SET", name, pick(rng, MEMKV_ONLY_CONFIG[name])]


def nkeys(rng, lo=1):
    return [key(rng) for _ in range(rng.choice([lo, lo, lo + 1, lo + 2, lo + 3]))]


def kv_pairs(rng):
    argv = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        argv += [key(rng), val(rng)]
    if rng.random() < 0.1:
        argv.append(key(rng))  # odd count
    return argv


# name -> (weight, generator). Every command of memkv's table appears here.
COMMANDS = {
    b"PING": (2, lambda r: [b"PING"] + [val(r) for _ in range(r.choice([0, 0, 1, 2]))]),
    b"ECHO": (1, lambda r: [b"ECHO"] + [val(r) for _ in range(r.choice([1, 1, 1, 0, 2]))]),
    b"QUIT": (0.3, lambda r: [b"QUIT"] + [b"x" for _ in range(r.choice([0, 0, 1]))]),
    b"AUTH": (0.5, g_auth),
    b"HELLO": (1, g_hello),
    b"SELECT": (2, g_select),
    # Back to RESP2, db 0, no name (it could only log out with a password, which is not set).
    b"RESET": (0.3, lambda r: [b"RESET"] + [b"x" for _ in range(r.choice([0, 0, 0, 1]))]),
    b"CLIENT": (3, g_client),
    b"COMMAND": (1.5, g_command),
    b"INFO": (1, g_info),
    b"CONFIG": (4, g_config),
    b"SHUTDOWN": (0.3, g_shutdown),
    b"TIME": (0.5, lambda r: [b"TIME"] + [b"x" for _ in range(r.choice([0, 0, 1]))]),
    b"MEMORY": (2, g_memory),
    b"MEMORY PREFIXES": (0.5, g_memory_keyspace),
    b"DEBUG": (0.5, g_debug),
    b"DBSIZE": (1, lambda r: [b"DBSIZE"] + [b"x" for _ in range(r.choice([0, 0, 0, 1]))]),
    b"FLUSHDB": (0.6, g_flush),
    b"DEL": (3, lambda r: [pick(r, [b"DEL", b"UNLINK"])] + nkeys(r)),
    b"EXISTS": (2, lambda r: [b"EXISTS"] + nkeys(r)),
    b"TYPE": (1, lambda r: [b"TYPE", key(r)]),
    b"EXPIRE": (6, g_expire_family),
    b"TTL": (3, lambda r: [pick(r, [b"TTL", b"PTTL"]), key(r)]),
    b"PERSIST": (1.5, lambda r: [b"PERSIST", key(r)]),
    b"RENAME": (3, lambda r: [pick(r, [b"RENAME", b"RENAMENX"]), key(r), key(r)]),
    b"KEYS": (1.5, lambda r: [b"KEYS", pick(r, PATTERNS)]),
    b"SCAN": (2, g_scan),
    b"RANDOMKEY": (0.5, lambda r: [b"RANDOMKEY"]),
    b"OBJECT": (2, g_object),
    b"COPY": (2, g_copy),
    b"DUMP": (1, lambda r: [b"DUMP", key(r)] + [b"x" for _ in range(r.choice([0, 0, 0, 1]))]),
    b"RESTORE": (2, g_restore),
    b"SAVE": (0.1, lambda r: [b"SAVE"] + [b"x" for _ in range(r.choice([0, 0, 0, 1]))]),
    # Only BGSAVE's refused forms: a real one runs for an unknown time in each server (Redis
    # notices its child's end at its next cron tick), which a later SAVE or BGSAVE would see.
    # tests/integration/test_persistence.py covers it.
    b"BGSAVE": (0.1, lambda r: [b"BGSAVE"] + pick(r, [[b"BOGUS"], [b"SCHEDULE", b"x"],
                                                      [b"x", b"y", b"z"]])),
    b"LASTSAVE": (0.2, lambda r: [b"LASTSAVE"] + [b"x" for _ in range(r.choice([0, 0, 1]))]),
    b"MOVE": (1.5, g_move),
    b"TOUCH": (1, lambda r: [b"TOUCH"] + nkeys(r)),
    b"GET": (4, lambda r: [b"GET", key(r)]),
    b"SET": (10, g_set),
    b"SETNX": (1.5, lambda r: [b"SETNX", key(r), val(r)]),
    b"SETEX": (3, lambda r: [pick(r, [b"SETEX", b"PSETEX"]), key(r), rel_exp(r), val(r)]),
    b"GETSET": (1.5, lambda r: [b"GETSET", key(r), val(r)]),
    b"GETDEL": (1.5, lambda r: [b"GETDEL", key(r)]),
    b"GETEX": (4, g_getex),
    b"MGET": (2, lambda r: [b"MGET"] + nkeys(r)),
    b"MSET": (2.5, lambda r: [pick(r, [b"MSET", b"MSETNX"])] + kv_pairs(r)),
    b"INCR": (3, lambda r: [pick(r, [b"INCR", b"DECR"]), key(r)]),
    b"INCRBY": (6, lambda r: [pick(r, [b"INCRBY", b"DECRBY"]), key(r), num(r)]),
    b"INCRBYFLOAT": (6, lambda r: [b"INCRBYFLOAT", key(r), num(r)]),
    b"APPEND": (3, lambda r: [b"APPEND", key(r), val(r)]),
    b"STRLEN": (1.5, lambda r: [b"STRLEN", key(r)]),
    b"GETRANGE": (5, g_getrange),
    b"SETRANGE": (5, g_setrange),
    b"UNKNOWN": (0.5, lambda r: [pick(r, [b"NOSUCHCOMMAND", b"GETT", b"SETT", b"\xff", b" "])]
                 + [val(r) for _ in range(r.choice([0, 1, 3, 30]))]),
    # memkv-only: both must answer (not compared).
    b"KPROFILE": (0.3, g_kprofile),
    b"MEMORY PROFILE": (0.3, g_memory_profile),
    b"MEMKV CONFIG": (0.5, g_memkv_config),
}

# Commands of memkv's table and which generator entry covers them (for the README's list and
# for test_coverage below).
COVERED = {
    "ping", "echo", "quit", "auth", "hello", "select", "reset", "client", "command", "info", "config",
    "shutdown", "time", "memory", "kprofile", "debug", "dbsize", "flushdb", "flushall", "del",
    "unlink", "exists", "type", "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl",
    "persist", "rename", "renamenx", "keys", "scan", "randomkey", "get", "set", "setnx",
    "setex", "psetex", "getset", "getdel", "getex", "mget", "mset", "msetnx", "incr", "decr",
    "incrby", "decrby", "incrbyfloat", "append", "strlen", "getrange", "substr", "setrange",
    "object", "copy", "move", "touch", "dump", "restore", "save", "lastsave", "bgsave",
}

# The collection types' generators live in modules of their own (gen_<group>.py).
import gen_hashes  # noqa: E402
import gen_sets  # noqa: E402
import gen_zsets  # noqa: E402
import gen_lists  # noqa: E402 (blocking commands only with tiny timeouts)
import gen_bitmaps  # noqa: E402 (and LCS, EXPIRETIME, SWAPDB, WAIT, ROLE)
import gen_multi  # noqa: E402 (transactions: blocks of MULTI ... EXEC, see gen_sequence)
import gen_pubsub  # noqa: E402 (PUBLISH SPUBLISH PUBSUB; no subscriber on this connection)
import gen_introspect  # noqa: E402 (CLIENT REPLY/PAUSE/..., SLOWLOG, LATENCY)
import gen_scripting  # noqa: E402 (EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT, deterministic scripts)
import gen_hll  # noqa: E402 (PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST, hand-made sketches)
import gen_sort  # noqa: E402 (SORT SORT_RO, and the BY/GET keys they read)
import gen_geo  # noqa: E402 (GEOADD ... GEOSEARCHSTORE, positions clustered at several scales)

for _group in (gen_hashes, gen_sets, gen_zsets, gen_lists, gen_bitmaps, gen_multi, gen_pubsub,
               gen_introspect, gen_scripting, gen_hll, gen_sort, gen_geo):
    COMMANDS.update(_group.COMMANDS)
    COVERED |= _group.COVERED
CONFIG_SET.update(gen_zsets.CONFIG_SET)  # its encoding thresholds, with smaller values
CONFIG_SET.update(gen_lists.CONFIG_SET)  # quicklist node sizes down to one element
CONFIG_SET.update(gen_introspect.CONFIG_SET)  # slowlog and latency monitor thresholds
CONFIG_SET.update(gen_pubsub.CONFIG_SET)  # notify-keyspace-events (nobody listens here)
CONFIG_SET.update(gen_scripting.CONFIG_SET)  # busy-reply-threshold, lua-time-limit
CONFIG_SET.update(gen_hll.CONFIG_SET)  # hll-sparse-max-bytes, small limits too
MEMKV_ONLY_CONFIG.update(gen_scripting.MEMKV_ONLY_CONFIG)  # lua-script-cache-max

_names = list(COMMANDS)
_weights = [COMMANDS[n][0] for n in _names]


# Commands with an expire time among their arguments.
TIMED = {b"SET", b"SETEX", b"PSETEX", b"GETEX", b"EXPIRE", b"PEXPIRE", b"EXPIREAT",
         b"PEXPIREAT", b"WAIT", b"RESTORE"}
# (WAIT: a swap could make "WAIT 1 0", blocking Redis; RESTORE: "RESTORE k 0 v IDLETIME 100"
# could become a TTL of 100 ms)


def mutate(rng, argv):
    """Argument-level hostility applied to any command: wrong case, a missing or an extra
    argument, two arguments swapped."""
    r = rng.random()
    if r < 0.06:
        argv[0] = bytes(rng.choice([c, c - 32]) if 97 <= c <= 122 else c
                        for c in argv[0].lower())
    elif r < 0.09 and len(argv) > 1:
        argv = argv[:-1]
    elif r < 0.12:
        # Not a number: "GETEX k EX" + "1" would be a one-second expire (a race).
        argv = argv + [pick(rng, [b"extra", b"", b"EX", b"NX", b"abc"])]
    elif r < 0.14 and len(argv) > 3 and argv[0].upper() not in TIMED:
        # (A swap in a command with a time could put a small number there: a race.)
        i, j = rng.sample(range(1, len(argv)), 2)
        argv[i], argv[j] = argv[j], argv[i]
    elif r < 0.20:
        argv[0] = argv[0].lower()
    return argv


def no_huge_string(argv):
    """A SETRANGE whose offset and value end between 100 KB and 512 MB (a swap of arguments
    can make one) would make a string of up to 512 MB; a few GETs of it overrun memkv's
    1 GB output-buffer limit (a deliberate difference, README) and cost seconds."""
    if argv[0].lower() == b"setrange" and len(argv) == 4:
        try:
            end = int(argv[2]) + len(argv[3])
        except ValueError:
            return argv
        if argv[3] and 100000 < end <= 536870912:
            argv = argv[:2] + [b"100000", argv[3]]
    return argv


def gen_command(rng):
    name = rng.choices(_names, _weights)[0]
    argv = COMMANDS[name][1](rng)
    if name not in (b"SHUTDOWN", b"HELLO", b"QUIT", b"CONFIG", b"MEMKV CONFIG", b"BGSAVE",
                    b"@B"):
        argv = mutate(rng, argv)
    return gen_bitmaps.no_huge_bitmap(no_huge_string(gen_sets.deterministic_pop(argv)))


def gen_sequence(rng, n, resp3=False):
    """n commands; a MULTI drawn often becomes a whole transaction block (gen_multi.expand),
    which the end of the sequence may cut (the harness then discards the open transaction).
    resp3: each command that may close the connection (QUIT, CLIENT KILL) or go back to RESP2
    (RESET) is followed by HELLO 3, so a RESP3 run stays in RESP3; inside a transaction, where
    a CLIENT KILL would only run at EXEC, it becomes a PING."""
    seq = []
    in_multi = False
    muted = False  # a CLIENT REPLY OFF or SKIP since the last CLIENT REPLY ON
    # The last @B waits on several keys: a SWAPDB makes them ready at once, and which one
    # serves it is the order of a hash table of each server's (a random seed in Redis: seed
    # 4000 gave either key, run to run). No SWAPDB then, until the next @B.
    multi_key_blocker = False
    while len(seq) < n:
        cmd = gen_command(rng)
        while in_multi and (gen_multi.memkv_only(cmd) or cmd[0] == b"@B"):
            cmd = gen_command(rng)
        for argv in gen_multi.expand(rng, cmd, gen_command):
            name = argv[0].lower()
            if name == b"client" and len(argv) == 3 and argv[1].lower() == b"reply":
                muted = argv[2].lower() != b"on" and (
                    muted or argv[2].lower() in (b"off", b"skip"))
            if name == b"reset":
                muted = False
            kill = name == b"client" and len(argv) > 1 and argv[1].lower() == b"kill"
            if resp3 and kill and in_multi:
                argv = [b"PING"]
                kill = False
            if name == b"swapdb" and multi_key_blocker:
                argv = [b"PING"]
            if (name == b"quit" or kill) and muted:
                # A muted QUIT leaves Redis 7.0's connection open but deaf (it closes only
                # after writing a reply); memkv closes it. Replies go back on before it.
                seq.append([b"CLIENT", b"REPLY", b"ON"])
                muted = False
            seq.append(argv)
            if name == b"@b":  # what may serve it (gen_lists.g_blocker)
                multi_key_blocker = len(set(gen_lists.blocker_keys(argv))) > 1
                seq += gen_lists.serve_blocker(rng, argv)
            if gen_introspect.is_tracking_on(argv):
                # Tracking on only while no key changes: TRACKING OFF closes every such
                # block (inside a transaction too), see gen_introspect.py.
                seq += gen_introspect.tracking_tail(rng)
            in_multi = gen_multi.follow(in_multi, argv)
            if resp3 and (name in (b"quit", b"reset") or kill):
                seq.append([b"HELLO", b"3"])
    return seq[:n]
