"""Generators for the HyperLogLog commands (PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST), merged
into generator.COMMANDS by generator.py.

Keys come from generator.KEYS, so sketches meet the other types (WRONGTYPE) and strings that
are no sketch. A sketch is a string in Redis's byte layout, so every GET, GETRANGE, APPEND or
DUMP the other generators send to one compares its bytes, not only PFCOUNT's estimate:
- PFADD adds a few elements, now and then hundreds or a few thousand (registers over 32 and
  the sparse form past hll-sparse-max-bytes make it dense; CONFIG SET draws small limits);
- HLLCRAFT sets a hand-made sketch: the magic, an encoding byte (sparse, dense or neither), a
  cached count (valid or not) and sparse opcodes that cover 16384 registers or not, or a cut
  dense body, for the corrupt paths (INVALIDOBJ, "not a valid HyperLogLog")."""

import generator as g

ELEMENTS = [b"a", b"b", b"c", b"foo", b"bar", b"", b"0", b"1", b"12", b"\x00\xff", b"x" * 100,
            b"-1", b"3.5", b"element"]


def element(rng):
    if rng.random() < 0.5:
        return g.pick(rng, ELEMENTS)
    return b"e%d" % rng.randrange(20000)


def g_pfadd(rng):
    r = rng.random()
    n = (rng.choice([0, 1, 1, 2, 3, 5]) if r < 0.9 else
         rng.choice([50, 200, 500]) if r < 0.98 else rng.choice([1500, 3000]))
    return [b"PFADD", g.key(rng)] + [element(rng) for _ in range(n)]


def g_pfcount(rng):
    return [b"PFCOUNT"] + [g.key(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]


def g_pfmerge(rng):
    return [b"PFMERGE", g.key(rng)] + [g.key(rng) for _ in range(rng.choice([0, 1, 1, 2, 3]))]


def g_pfdebug(rng):
    sub = g.pick(rng, [b"ENCODING", b"DECODE", b"TODENSE", b"GETREG", b"encoding", b"decode",
                       b"BOGUS", b""])
    return [b"PFDEBUG", sub, g.key(rng)]


def _zeros(n):
    """Zero registers as ZERO (up to 64) and XZERO (up to 16384) opcodes."""
    out = b""
    while n > 0:
        run = min(n, 16384)
        if run > 64:
            out += bytes([0x40 | (run - 1) >> 8, (run - 1) & 0xff])
        else:
            out += bytes([run - 1])
        n -= run
    return out


def _val(value, run):
    return bytes([0x80 | (value - 1) << 2 | (run - 1)])


def crafted(rng):
    """A hand-made sketch: mostly a valid sparse one, else one of several corruptions."""
    enc = rng.choice([1, 1, 1, 1, 0, 2])
    card = bytes(rng.randrange(256) for _ in range(7)) + bytes([rng.choice([0, 0x80, 0x7f])])
    header = b"HYLL" + bytes([enc, 0, 0, 0]) + card
    if enc == 0:  # dense: the right length, or cut
        body = bytes(rng.randrange(256) for _ in range(64))
        size = 12288 if rng.random() < 0.7 else rng.choice([0, 100, 12287, 12289])
        return header + (body * 200)[:size] + b"\x00" * max(0, size - 12800)
    body, regs = b"", 0
    want = 16384 + (0 if rng.random() < 0.7 else rng.choice([-1, 1, -100, 5000]))
    while regs < want and len(body) < 400:
        r = rng.random()
        if r < 0.4:
            run = min(want - regs, rng.randrange(1, 65))
            body += _zeros(run)
        elif r < 0.6:
            run = min(want - regs, rng.randrange(65, 3000))
            body += _zeros(run)
        else:
            run = min(want - regs, rng.randrange(1, 5))
            body += _val(rng.randrange(1, 33), run)
        regs += run
    if regs < want:
        body += _zeros(want - regs)
    if rng.random() < 0.05 and body:
        body = body[:-1]  # an XZERO may lose its second byte
    return header + body


COMMANDS = {
    b"PFADD": (6, g_pfadd),
    b"PFCOUNT": (4, g_pfcount),
    b"PFMERGE": (2.5, g_pfmerge),
    b"PFDEBUG": (1.5, g_pfdebug),
    b"PFSELFTEST": (0.02, lambda r: [b"PFSELFTEST"]),
    b"HLLCRAFT": (1.5, lambda r: [b"SET", g.key(r), crafted(r)]),
}

COVERED = {"pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"}

CONFIG_SET = {b"hll-sparse-max-bytes": [b"0", b"20", b"50", b"200", b"3000", b"3000", b"1kb",
                                        b"-1", b"abc"]}
