"""Generators for the GEO commands (GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER
and their _RO forms, GEOSEARCH GEOSEARCHSTORE), merged into generator.COMMANDS by generator.py.

Keys come from generator.KEYS, so the searches also meet sorted sets that ZADD filled with
scores no GEOADD makes (negative, fractional, past 2^52: positions clamped to the limits) and
the other types (WRONGTYPE). Positions cluster around a few places (the equator, both sides of
the antimeridian, near the Mercator limits, a city), at spreads from metres to thousands of
kilometres, so that a search's cells, their neighbours and the cells it leaves out all meet
members; the radii and boxes span the same scales. Coordinates are random decimals, so two
members rarely share a distance: COUNT without ANY takes the nearest ones, and Redis orders
ties with a partial sort of its own (pqsort)."""

import generator as g
import gen_zsets

PLACES = [(13.361389, 38.115556), (0.0, 0.0), (179.99, 0.5), (-179.99, -0.5),
          (-122.42, 37.77), (2.35, 85.0), (-70.0, -84.9), (151.2, -33.87)]
SPREADS = [0.0001, 0.01, 0.5, 3.0, 30.0]
MEMBERS = gen_zsets.MEMBERS[:12] + [b"p%d" % i for i in range(40)]
UNITS = [b"m", b"km", b"ft", b"mi", b"M", b"KM", b"Mi", b"parsec", b""]
LENGTHS = [b"0", b"1", b"50", b"500", b"5000", b"100000", b"1000000", b"20000000", b"1e-300",
           b"-1", b"abc", b"inf", b"1.5", b"0x10", b""]


def coord(rng, lo, hi, x):
    return b"%.6f" % min(hi, max(lo, x))


def position(rng):
    """Longitude and latitude arguments: mostly near a place, at times a limit or invalid."""
    r = rng.random()
    if r < 0.04:
        return [g.pick(rng, [b"180", b"-180", b"180.0000001", b"0", b"abc", b"inf", b"nan", b""]),
                g.pick(rng, [b"85.05112878", b"-85.05112878", b"85.05112879", b"0", b"-90", b"x"])]
    lon0, lat0 = g.pick(rng, PLACES)
    spread = g.pick(rng, SPREADS)
    lon = lon0 + rng.gauss(0, spread)
    if lon > 180:
        lon -= 360
    if lon < -180:
        lon += 360
    return [coord(rng, -180, 180, lon), coord(rng, -85.05112878, 85.05112878,
                                              lat0 + rng.gauss(0, spread / 2))]


def member(rng):
    return g.pick(rng, MEMBERS)


def g_geoadd(rng):
    argv = [b"GEOADD", g.key(rng)]
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        argv.append(g.pick(rng, [b"NX", b"XX", b"CH", b"ch", b"GT", b"BOGUS"]))
    n = rng.choice([1, 1, 2, 3, 5, 8]) if rng.random() < 0.95 else rng.choice([60, 150])
    for _ in range(n):
        argv += position(rng) + [member(rng) if n < 20 else b"q%d" % rng.randrange(400)]
    if rng.random() < 0.04:
        argv.append(member(rng))  # not a whole triple
    return argv


def g_geodist(rng):
    argv = [b"GEODIST", g.key(rng), member(rng), member(rng)]
    r = rng.random()
    if r < 0.6:
        argv.append(g.pick(rng, UNITS))
    elif r < 0.65:
        argv += [b"km", b"x"]
    return argv


def g_geopos(rng):
    return [g.pick(rng, [b"GEOPOS", b"GEOHASH"]), g.key(rng)] + [
        member(rng) for _ in range(rng.choice([0, 1, 1, 2, 4]))]


def length(rng):
    if rng.random() < 0.85:
        return b"%g" % (10 ** rng.uniform(-1, 7))
    return g.pick(rng, LENGTHS)


def options(rng, may_store, search):
    out = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        r = rng.random()
        if r < 0.3:
            out.append(g.pick(rng, [b"WITHDIST", b"WITHHASH", b"WITHCOORD", b"withdist"]))
        elif r < 0.45:
            out.append(g.pick(rng, [b"ASC", b"DESC", b"asc"]))
        elif r < 0.65:
            out += [b"COUNT", g.pick(rng, [b"1", b"2", b"3", b"5", b"20", b"0", b"-1", b"x",
                                            b"9223372036854775807"])]
            if rng.random() < 0.4:
                out.append(b"ANY")
        elif r < 0.8 and may_store:
            out += [g.pick(rng, [b"STORE", b"STOREDIST", b"store"]), g.key(rng)]
        elif r < 0.85 and search:
            out.append(b"STOREDIST")
        elif r < 0.9:
            out.append(g.pick(rng, [b"ANY", b"COUNT", b"STORE", b"BOGUS", b"FROMMEMBER",
                                    b"BYBOX"]))
    return out


def shape(rng):
    if rng.random() < 0.5:
        return [b"BYRADIUS", length(rng), g.pick(rng, UNITS[:5]) if rng.random() < 0.95
                else g.pick(rng, UNITS)]
    return [b"BYBOX", length(rng), length(rng), g.pick(rng, UNITS[:5])]


def origin(rng):
    if rng.random() < 0.5:
        return [b"FROMMEMBER", member(rng)]
    return [b"FROMLONLAT"] + position(rng)


def g_georadius(rng):
    name = g.pick(rng, [b"GEORADIUS", b"GEORADIUS_RO", b"GEORADIUSBYMEMBER",
                        b"GEORADIUSBYMEMBER_RO"])
    argv = [name, g.key(rng)]
    argv += position(rng) if b"MEMBER" not in name else [member(rng)]
    argv += [length(rng), g.pick(rng, UNITS[:5]) if rng.random() < 0.95 else g.pick(rng, UNITS)]
    return argv + options(rng, not name.endswith(b"_RO"), False)


def g_geosearch(rng):
    store = rng.random() < 0.35
    argv = [b"GEOSEARCHSTORE", g.key(rng)] if store else [b"GEOSEARCH"]
    argv.append(g.key(rng))
    parts = [origin(rng), shape(rng)]
    if rng.random() < 0.05:
        parts.pop(rng.randrange(2))
    if rng.random() < 0.05:
        parts.append(g.pick(rng, [origin(rng), shape(rng)]))
    rng.shuffle(parts)
    for p in parts:
        argv += p
    return argv + options(rng, False, store)


COMMANDS = {
    b"GEOADD": (4, g_geoadd),
    b"GEODIST": (1.5, g_geodist),
    b"GEOPOS": (1.5, g_geopos),
    b"GEORADIUS": (3, g_georadius),
    b"GEOSEARCH": (3, g_geosearch),
}

COVERED = {"geoadd", "geodist", "geohash", "geopos", "georadius", "georadius_ro",
           "georadiusbymember", "georadiusbymember_ro", "geosearch", "geosearchstore"}
