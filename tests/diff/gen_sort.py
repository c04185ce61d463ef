"""Generators for SORT and SORT_RO, merged into generator.COMMANDS by generator.py.

The keys to sort are generator.KEYS, which the list, set and sorted-set generators fill (and
the string ones, for WRONGTYPE); most elements there come from those generators' pools, so
SORTDATA writes BY/GET targets for them: strings w_<element> (numbers, words, the empty string)
and hashes h_<element> with a field f. Patterns name those, a key for every element (`*`),
a constant (BY nosort: no sorting), `#` (GET the element), a missing field, and text that is
no pattern.

Orders both servers must agree on are compared exactly (numeric sorts, ALPHA STORE); the rest
(difftest.sort_rule) as sorted replies: nothing sorted (a set's own order differs), and ALPHA
without STORE (compared up to the first NUL byte, so "" and "\\x00..." tie, and ties keep each
server's reading order). A STORE with ALPHA and a BY pattern, whose ties would keep a set's
order in the stored list, is not generated."""

import generator as g
import gen_lists
import gen_sets
import gen_zsets

TARGET_ELEMENTS = sorted(set(gen_lists.ELEMENTS[:20] + gen_sets.MEMBERS[:22] +
                             gen_zsets.MEMBERS[:15]))
BY = [b"w_*", b"w_*", b"h_*->f", b"h_*->g", b"*", b"nosort", b"k0", b"#", b"w_*->", b"",
      b"w_*\x00x", b"h_*->f\x00", b"*->f"]
GET = [b"#", b"w_*", b"h_*->f", b"h_*->nofield", b"nokey", b"*", b"k*", b"#x", b"h_*->"]
LIMITS = [b"0", b"1", b"2", b"5", b"-1", b"-5", b"100", b"abc", b"9223372036854775807",
          b"-9223372036854775808", b"9223372036854775808"]


def target_value(rng):
    return g.pick(rng, [b"1", b"2", b"3", b"-1", b"0", b"1.5", b"10", b"abc", b"", b"inf",
                        b"-inf", b"nan", b"1e400", b" 7", b"0x10", b"b", b"a", b"\x00z",
                        b"5\x00abc"])


def g_sortdata(rng):
    """MSET of w_<element> for several elements (or HSET of one hash h_<element>)."""
    if rng.random() < 0.7:
        argv = [b"MSET"]
        for _ in range(rng.choice([1, 3, 8, 15])):
            argv += [b"w_" + g.pick(rng, TARGET_ELEMENTS), target_value(rng)]
        return argv
    return [b"HSET", b"h_" + g.pick(rng, TARGET_ELEMENTS), g.pick(rng, [b"f", b"f", b"g"]),
            target_value(rng)]


def g_sort(rng, name=b"SORT"):
    argv = [name, g.key(rng)]
    by = alpha = store = False
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        r = rng.random()
        if r < 0.25:
            argv += [b"BY", g.pick(rng, BY)]
            by = by or b"*" in argv[-1].split(b"\x00")[0]
        elif r < 0.45:
            argv += [b"GET", g.pick(rng, GET)]
        elif r < 0.6:
            argv += [b"LIMIT", g.pick(rng, LIMITS[:7] if rng.random() < 0.8 else LIMITS),
                     g.pick(rng, LIMITS[:7] if rng.random() < 0.8 else LIMITS)]
        elif r < 0.75:
            argv.append(g.pick(rng, [b"ASC", b"DESC", b"desc"]))
        elif r < 0.88:
            argv.append(g.pick(rng, [b"ALPHA", b"alpha"]))
            alpha = True
        elif r < 0.97:
            argv += [b"STORE", g.key(rng)]
            store = True
        else:
            argv.append(g.pick(rng, [b"BOGUS", b"LIMIT", b"BY", b"GET", b"STORE"]))
    if store and alpha and by:
        argv = [a for a in argv if a.lower() != b"alpha"]
    return argv


COMMANDS = {
    b"SORT": (4, g_sort),
    b"SORT_RO": (1.5, lambda r: g_sort(r, b"SORT_RO")),
    b"SORTDATA": (2, g_sortdata),
}

COVERED = {"sort", "sort_ro"}
