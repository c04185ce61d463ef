"""Generators for the bitmap commands and the rest of Redis 7.0's string, generic and server
commands memkv added with them (LCS, EXPIRETIME, PEXPIRETIME, SWAPDB, WAIT, ROLE), merged into
generator.COMMANDS by generator.py.

Keys come from generator.KEYS, so bitmaps are the same keys the string commands write (SETBIT
on "12", BITCOUNT of an APPENDed value, WRONGTYPE against the collections). Bit offsets stay
below 800 000 (a string of 100 KB) or go past the 512 MB limit (an error in both): a string of
hundreds of megabytes would cost seconds in both servers and overrun memkv's output-buffer
limit on a GET (no_huge_bitmap guards what an argument swap could make)."""

import generator as g

# Bit offsets: small, byte and word edges, a 100 KB string, past the limit (2^32 bits is the
# first offset whose byte is 512 MB), and texts that are no offset.
OFFSETS = [b"0", b"1", b"7", b"8", b"9", b"15", b"16", b"31", b"63", b"64", b"100", b"1000",
           b"799999", b"4294967296", b"4294967297", b"9223372036854775807",
           b"9223372036854775808", b"-1", b"-9223372036854775808", b"abc", b"", b"1.5", b" 1",
           b"+1", b"01", b"0x10", b"#1", b"#0"]
# BITFIELD offsets: the above, and #n (n fields of the type's width).
BF_OFFSETS = OFFSETS + [b"#1", b"#2", b"#3", b"#100", b"#-1", b"#", b"##1", b"#abc",
                        b"#9223372036854775807", b"#144115188075855872",
                        b"#288230376151711744", b"#4611686018427387904"]
TYPES = [b"i1", b"i2", b"i5", b"i8", b"u8", b"i16", b"u16", b"u31", b"i32", b"u32", b"i63",
         b"u63", b"i64", b"u64", b"i65", b"u0", b"i0", b"I8", b"U8", b"i", b"u", b"x8", b"",
         b"i-1", b"i08", b"i+8", b"i8\x00x", b"i 8"]
BF_VALUES = [b"0", b"1", b"-1", b"2", b"100", b"127", b"128", b"-128", b"-129", b"255", b"256",
             b"32767", b"-32768", b"65535", b"2147483647", b"-2147483648", b"4294967295",
             b"9223372036854775807", b"-9223372036854775808", b"9223372036854775806",
             b"-9223372036854775807", b"4611686018427387904", b"-4611686018427387905",
             b"9223372036854775808", b"abc", b"", b"1.5"]
OVERFLOWS = [b"WRAP", b"SAT", b"FAIL", b"wrap", b"sat", b"fail", b"bogus", b""]
UNITS = [b"BYTE", b"BIT", b"byte", b"bit", b"bits", b"", b"BOGUS"]
DBS = [b"0", b"1", b"2", b"15", b"16", b"-1", b"abc", b"", b"2147483648", b"-2147483649",
       b"9223372036854775808", b"01", b"+1", b"1.0", b"0"]


VALID_OFFSETS = OFFSETS[:13]
VALID_TYPES = TYPES[:13]


def offset(rng):
    return g.pick(rng, VALID_OFFSETS) if rng.random() < 0.7 else g.pick(rng, OFFSETS)


def bf_type(rng):
    return g.pick(rng, VALID_TYPES) if rng.random() < 0.85 else g.pick(rng, TYPES)


def bf_offset(rng):
    r = rng.random()
    if r < 0.6:
        return g.pick(rng, VALID_OFFSETS)
    if r < 0.8:
        return b"#%d" % rng.randrange(12)
    return g.pick(rng, BF_OFFSETS)


def bf_value(rng):
    return g.pick(rng, BF_VALUES) if rng.random() < 0.8 else g.val(rng)


def rng_index(rng):
    return g.small_index(rng) if rng.random() < 0.7 else g.num(rng)


def g_setbit(rng):
    v = g.pick(rng, [b"0", b"1"]) if rng.random() < 0.8 else g.pick(rng, [b"2", b"-1", b"abc",
                                                                         b"", b"01", b" 1"])
    return [b"SETBIT", g.key(rng), offset(rng), v]


def g_bitcount(rng):
    argv = [b"BITCOUNT", g.key(rng)]
    r = rng.random()
    if r < 0.7:
        argv += [rng_index(rng), rng_index(rng)]
        if rng.random() < 0.6:
            argv.append(g.pick(rng, UNITS))
    elif r < 0.8:
        argv.append(rng_index(rng))  # start without end
    return argv


def g_bitpos(rng):
    bit = g.pick(rng, [b"0", b"1"]) if rng.random() < 0.85 else g.pick(rng, [b"2", b"-1",
                                                                            b"abc", b""])
    argv = [b"BITPOS", g.key(rng), bit]
    n = rng.choice([0, 1, 2, 2, 3, 3, 4])
    for i in range(n):
        if i < 2:
            argv.append(rng_index(rng))
        else:
            argv.append(g.pick(rng, UNITS[:4]) if rng.random() < 0.8 else g.pick(rng, UNITS))
    return argv


def g_bitop(rng):
    op = g.pick(rng, [b"AND", b"OR", b"XOR", b"NOT", b"and", b"not", b"NAND", b""])
    return [b"BITOP", op, g.key(rng)] + [g.key(rng) for _ in range(rng.choice([1, 1, 2, 3]))]


def bf_op(rng, read_only):
    r = rng.random()
    if r < 0.4 or (read_only and r < 0.9):
        return [g.pick(rng, [b"GET", b"get"]), bf_type(rng), bf_offset(rng)]
    if r < 0.65:
        return [b"SET", bf_type(rng), bf_offset(rng), bf_value(rng)]
    if r < 0.85:
        return [g.pick(rng, [b"INCRBY", b"incrby"]), bf_type(rng), bf_offset(rng),
                bf_value(rng)]
    if r < 0.97:
        return [b"OVERFLOW", g.pick(rng, OVERFLOWS)]
    return [g.pick(rng, [b"BOGUS", b"GET", b"SET", b"OVERFLOW"])]  # unknown or cut short


def g_bitfield(rng, name=b"BITFIELD"):
    argv = [name, g.key(rng)]
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
        argv += bf_op(rng, name == b"BITFIELD_RO")
    return argv


def g_lcs(rng):
    argv = [b"LCS", g.key(rng), g.key(rng)]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        opt = g.pick(rng, [b"LEN", b"IDX", b"MINMATCHLEN", b"WITHMATCHLEN", b"idx", b"BOGUS"])
        argv.append(opt)
        if opt == b"MINMATCHLEN" and rng.random() < 0.9:
            argv.append(g.pick(rng, [b"0", b"1", b"2", b"4", b"-1", b"abc",
                                     b"9223372036854775807", b"9223372036854775808"]))
    return argv


def g_wait(rng):
    # Never more than 0 replicas with a timeout of 0: Redis would block forever (memkv
    # answers 0 at once, a deliberate difference). Positive counts only with a short timeout.
    n = g.pick(rng, [b"0", b"-1", b"0", b"-100", b"abc", b"", b"-9223372036854775808",
                     b"9223372036854775808", b"1"])
    t = g.pick(rng, [b"0", b"1", b"-1", b"abc", b"", b"1.5", b"9223372036854775807",
                     b"9223372036854775808", b"-9223372036854775808"])
    if n == b"1" and t in (b"0", b"9223372036854775807"):
        t = b"1"
    return [b"WAIT", n, t]


def g_swapdb(rng):
    def db(r):
        return g.pick(r, [b"0", b"1", b"2"]) if r.random() < 0.7 else g.pick(r, DBS)

    return [b"SWAPDB", db(rng), db(rng)]


COMMANDS = {
    b"SETBIT": (5, g_setbit),
    b"GETBIT": (2, lambda r: [b"GETBIT", g.key(r), offset(r)]),
    b"BITCOUNT": (3, g_bitcount),
    b"BITPOS": (4, g_bitpos),
    b"BITOP": (2.5, g_bitop),
    b"BITFIELD": (5, g_bitfield),
    b"BITFIELD_RO": (1.5, lambda r: g_bitfield(r, b"BITFIELD_RO")),
    b"LCS": (2, g_lcs),
    b"EXPIRETIME": (2, lambda r: [g.pick(r, [b"EXPIRETIME", b"PEXPIRETIME"]), g.key(r)]),
    b"SWAPDB": (1.5, g_swapdb),
    b"WAIT": (0.5, g_wait),
    b"ROLE": (0.3, lambda r: [b"ROLE"] + [b"x" for _ in range(r.choice([0, 0, 1]))]),
}

COVERED = {"setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro",
           "lcs", "expiretime", "pexpiretime", "swapdb", "wait", "role"}

# Absolute times rounded to seconds or in ms: the two servers set a relative expire a few
# milliseconds apart.
NEAR = {b"expiretime": 1, b"pexpiretime": 1000}


def _int(b):
    try:
        return int(b)
    except ValueError:
        return None


def _bf_offset(arg, bits):
    if arg.startswith(b"#"):
        n = _int(arg[1:])
        if n is None:
            return None
        v = (n * bits) % 2**64  # Redis multiplies in 64 bits: it wraps
        return v - 2**64 if v >= 2**63 else v
    return _int(arg)


def _bf_bits(t):
    if len(t) < 2 or t[:1] not in (b"i", b"u"):
        return None
    n = _int(t[1:].split(b"\x00")[0])
    return n if n and 0 < n <= 64 else None


HUGE_LO, HUGE_HI = 100000 * 8, 536870912 * 8  # bits: 100 KB .. 512 MB


def no_huge_bitmap(argv):
    """A SETBIT or a writing BITFIELD whose offset lies between 100 KB and 512 MB (an argument
    swap can make one) would make a string that large: its offset becomes 0."""
    name = argv[0].lower()
    if name == b"setbit" and len(argv) == 4:
        off = _int(argv[2])
        if off is not None and HUGE_LO <= off < HUGE_HI:
            argv = argv[:2] + [b"0", argv[3]]
    elif name == b"bitfield":
        argv = list(argv)
        j = 2
        while j < len(argv):
            op = argv[j].lower()
            if op in (b"set", b"incrby") and j + 3 < len(argv):
                bits = _bf_bits(argv[j + 1]) or 1
                off = _bf_offset(argv[j + 2], bits)
                if off is not None and HUGE_LO <= off < HUGE_HI + 64:
                    argv[j + 2] = b"0"
                j += 4
            elif op == b"get":
                j += 3
            elif op == b"overflow":
                j += 2
            else:
                j += 1
    return argv
