"""GEO commands (GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER and their _RO forms,
GEOSEARCH GEOSEARCHSTORE) against the real memkv-server, and the same tests against Debian's
redis-server 7.0.15 in the same run (the `both` fixture), so every expectation is Redis's own:
the scores GEOADD stores, the digits GEOPOS and GEODIST print, the members a search finds and
their order (ties under COUNT included), what STORE keeps and in which encoding, the events,
and the error texts.

memkv-only: the key-space statistics stay exact through GEOADD and the STORE forms (DEBUG
KEYSPACE-STATS-CHECK). The differential test (tests/diff, gen_geo.py) compares every reply on
random sequences; tests/unit/test_geohash.c checks that a search's cells cover its shape."""
import socket

import pytest
import redis

from helpers import pattern_messages

PALERMO = ("13.361389", "38.115556")
CATANIA = ("15.087269", "37.502669")


GEO_COMMANDS = ("GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEORADIUS", "GEORADIUS_RO",
                "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO", "GEOSEARCH", "GEOSEARCHSTORE")


def client(server):
    """A redis-py client that returns GEO replies as sent (no float conversion, no options)."""
    c = server.client()
    for name in GEO_COMMANDS:
        c.response_callbacks.pop(name, None)
    return c


def sicily(c):
    assert c.execute_command("GEOADD", "Sicily", *PALERMO, "Palermo", *CATANIA, "Catania") == 2


def test_positions_distances_and_hashes(both):
    c = client(both)
    sicily(c)
    # the score is the 52-bit interleaved geohash; GEOPOS decodes the centre of its cell
    assert c.zscore("Sicily", "Palermo") == 3479099956230698
    assert c.execute_command("GEOPOS", "Sicily", "Palermo", "nowhere") == [
        [b"13.36138933897018433", b"38.11555639549629859"], None]
    for unit, text in (([], b"166274.1516"), (["km"], b"166.2742"), (["MI"], b"103.3182"),
                       (["ft"], b"545518.8700")):
        assert c.execute_command("GEODIST", "Sicily", "Palermo", "Catania", *unit) == text
    assert c.execute_command("GEODIST", "Sicily", "Palermo", "nowhere") is None
    assert c.execute_command("GEODIST", "missing", "a", "b") is None
    assert c.execute_command("GEOHASH", "Sicily", "Palermo", "Catania", "x") == [
        b"sqc8b49rny0", b"sqdtr74hyu0", None]
    assert c.execute_command("GEOPOS", "missing", "a") == [None]
    # any score decodes: out-of-range ones to the clamped corners, as Redis's cast gives them
    c.zadd("z", {"neg": -1, "zero": 0, "huge": 1e30})
    assert c.execute_command("GEOPOS", "z", "neg", "zero", "huge") == [
        [b"180", b"85.0511287799999991"],
        [b"-179.99999731779098511", b"-85.05112751263942528"],
        [b"-179.99999731779098511", b"-85.05112751263942528"]]
    assert c.execute_command("GEOHASH", "z", "neg") == [b"bp05b5048p0"]
    # the limits themselves: longitude 180 gives a 53-bit score
    assert c.execute_command("GEOADD", "edge", "180", "85.05112878", "ne") == 1
    assert c.zscore("edge", "ne") == 13510798882111488


def test_searches(both):
    c = client(both)
    sicily(c)
    assert c.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST",
                             "WITHCOORD", "ASC") == [
        [b"Catania", b"56.4413", [b"15.08726745843887329", b"37.50266842333162032"]],
        [b"Palermo", b"190.4424", [b"13.36138933897018433", b"38.11555639549629859"]]]
    assert c.execute_command("GEORADIUS", "Sicily", "15", "37", "100", "km") == [b"Catania"]
    assert c.execute_command("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "200", "km", "DESC",
                             "WITHHASH") == [[b"Catania", 3479447370796909],
                                             [b"Palermo", 3479099956230698]]
    assert c.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400",
                             "400", "km", "ASC", "WITHDIST") == [
        [b"Catania", b"56.4413"], [b"Palermo", b"190.4424"]]
    assert c.execute_command("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "10", "10",
                             "km") == [b"Palermo"]
    assert c.execute_command("GEOSEARCH", "missing", "FROMMEMBER", "x", "BYRADIUS", "1",
                             "m") == []
    # eight members at one spot: COUNT sorts only the ranks it returns, and Redis's partial
    # quicksort orders the ties its own way (c, not a, after far and near when descending)
    c.execute_command("GEOADD", "t", *sum((["10", "10", m] for m in "abcdefgh"), []),
                      "10.001", "10", "near", "10.01", "10", "far")
    assert c.execute_command("GEORADIUS", "t", "10", "10", "100", "km", "COUNT", "3") == [
        b"a", b"b", b"c"]
    assert c.execute_command("GEORADIUS", "t", "10", "10", "100", "km", "COUNT", "3",
                             "DESC") == [b"far", b"near", b"c"]
    assert len(c.execute_command("GEORADIUS", "t", "10", "10", "100", "km", "COUNT", "2",
                                 "ANY")) == 2
    # Redis's cells do not wrap at the antimeridian: a point 222 m away across it is missed
    c.execute_command("GEOADD", "am", "179.999", "0", "west", "-179.999", "0", "east")
    assert c.execute_command("GEORADIUS", "am", "180", "0", "1", "km", "ASC") == [b"west"]


def test_store_forms(both):
    c = client(both)
    sicily(c)
    assert c.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "pos") == 2
    assert c.zrange("pos", 0, -1, withscores=True) == [(b"Palermo", 3479099956230698.0),
                                                       (b"Catania", 3479447370796909.0)]
    assert c.execute_command("GEOSEARCHSTORE", "dist", "Sicily", "FROMLONLAT", "15", "37",
                             "BYRADIUS", "200", "km", "STOREDIST", "COUNT", "1") == 1
    assert c.zrange("dist", 0, -1, withscores=True) == [(b"Catania", 56.441257870158204)]
    assert c.object("encoding", "dist") == b"listpack"
    c.config_set("zset-max-listpack-entries", "1")
    assert c.execute_command("GEORADIUSBYMEMBER", "Sicily", "Palermo", "500", "km",
                             "STOREDIST", "dist") == 2
    assert c.object("encoding", "dist") == b"skiplist"
    c.config_set("zset-max-listpack-entries", "128")
    # the source as its own destination
    assert c.execute_command("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Palermo",
                             "BYRADIUS", "1", "km") == 1
    assert c.zrange("Sicily", 0, -1) == [b"Palermo"]
    # nothing found, or no source: the destination is deleted
    assert c.execute_command("GEORADIUS", "Sicily", "0", "0", "1", "km", "ASC", "STORE", "pos") == 0
    assert c.exists("pos") == 0
    assert c.execute_command("GEOSEARCHSTORE", "dist", "missing", "FROMLONLAT", "0", "0",
                             "BYRADIUS", "1", "km") == 0
    assert c.exists("dist") == 0


ERRORS = [
    (("GEOADD", "g", "200", "100", "x"), "^invalid longitude,latitude pair 200.000000,100.000000$"),
    (("GEOADD", "g", "inf", "1", "x"), "^invalid longitude,latitude pair inf,1.000000$"),
    (("GEOADD", "g", "abc", "1", "x"), "^value is not a valid float$"),
    (("GEOADD", "g", "1", "2", "x", "y"), "^syntax error$"),
    (("GEOADD", "g", "NX", "XX", "1", "2", "x"), "^syntax error$"),
    (("GEOADD", "g", "CH", "CH", "CH"), "^syntax error$"),
    (("GEODIST", "g", "a", "b", "parsec"), "^unsupported unit provided. please use M, KM, FT, MI$"),
    (("GEODIST", "g", "a", "b", "km", "x"), "^syntax error$"),
    (("GEORADIUS", "g", "1", "2", "x", "km"), "^need numeric radius$"),
    (("GEORADIUS", "g", "1", "2", "-1", "km"), "^radius cannot be negative$"),
    (("GEORADIUS", "g", "1", "2", "1", "km", "COUNT", "0"), "^COUNT must be > 0$"),
    (("GEORADIUS", "g", "1", "2", "1", "km", "COUNT", "x"),
     "^value is not an integer or out of range$"),
    (("GEORADIUS", "g", "1", "2", "1", "km", "ANY"), "^the ANY argument requires COUNT argument$"),
    (("GEORADIUS", "g", "1", "2", "1", "km", "STORE", "d", "WITHDIST"),
     "^STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD"),
    (("GEORADIUS_RO", "g", "1", "2", "1", "km", "STORE", "d"), "^syntax error$"),
    (("GEORADIUSBYMEMBER", "g", "nowhere", "1", "km"), "^could not decode requested zset member$"),
    (("GEOSEARCH", "g", "BYRADIUS", "1", "km", "ASC", "WITHDIST"),
     "^exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH$"),
    (("geoSearch", "g", "FROMLONLAT", "1", "2", "ASC", "WITHDIST"),
     "^exactly one of BYRADIUS and BYBOX can be specified for geoSearch$"),
    (("GEOSEARCH", "g", "FROMLONLAT", "1", "2", "FROMMEMBER", "a", "BYRADIUS", "1", "m"),
     "^syntax error$"),
    (("GEOSEARCH", "g", "FROMLONLAT", "1", "2", "BYBOX", "-1", "1", "m"),
     "^height or width cannot be negative$"),
    (("GEOSEARCH", "g", "FROMLONLAT", "1", "2", "BYBOX", "1", "x", "m"), "^need numeric height$"),
    (("GEOSEARCH", "g", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "m", "STORE", "d"),
     "^syntax error$"),
    (("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "m", "WITHCOORD"),
     "^GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options$"),
    (("GEOPOS", "s", "a"), "^WRONGTYPE"),
    (("GEOSEARCH", "s", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "m"), "^WRONGTYPE"),
]


@pytest.mark.parametrize("argv,error", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_errors(both, argv, error):
    c = client(both)
    c.execute_command("GEOADD", "g", "1", "2", "a")
    c.set("s", "x")
    with pytest.raises(redis.ResponseError, match=error):
        c.execute_command(*argv)
    assert c.exists("d") == 0


def test_events(both):
    c, events = client(both), both.client()
    c.config_set("notify-keyspace-events", "KEA")
    ps = events.pubsub()
    ps.psubscribe("__keyevent@0__:*")
    ps.get_message(timeout=5)
    sicily(c)
    c.execute_command("GEOADD", "Sicily", "XX", *PALERMO, "Palermo")  # no change: no event
    c.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d")
    c.execute_command("GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1",
                      "km")
    c.execute_command("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1",
                      "km")
    assert pattern_messages(ps) == [(b"__keyevent@0__:zadd", b"Sicily"),
                                    (b"__keyevent@0__:georadiusstore", b"d"),
                                    (b"__keyevent@0__:geosearchstore", b"d"),
                                    (b"__keyevent@0__:del", b"d")]
    ps.close()


def raw_resp3(server, *argv):
    """The bytes a connection receives for HELLO 3, the command and a PING (redis-py here
    speaks RESP2 only): the command's reply is just before the "+PONG"."""
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        def send(args):
            s.sendall(b"*%d\r\n" % len(args) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args))
        send(["HELLO", "3"])
        send(list(argv))
        send(["PING"])
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            data += s.recv(65536)
    return data


def test_resp3_types(both):
    """Coordinates are doubles in RESP3 (Redis's human long double text), distances stay bulk
    strings, a missing position is a null."""
    c = client(both)
    sicily(c)
    data = raw_resp3(both, "GEOPOS", "Sicily", "Palermo", "nowhere")
    assert data.endswith(b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n"
                         b"_\r\n+PONG\r\n")
    data = raw_resp3(both, "GEORADIUS", "Sicily", "15", "37", "100", "km", "WITHDIST")
    assert data.endswith(b"*1\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n+PONG\r\n")


def test_keyspace_stats_follow_geo_writes(server_factory):
    s = server_factory(("--enable-debug-command", "yes"))
    c = client(s)

    def check():
        assert c.execute_command("DEBUG", "KEYSPACE-STATS-CHECK") == b"OK"

    c.execute_command("GEOADD", "geo:a", *sum(([str(i % 90), str(i % 80), "m%d" % i]
                                                for i in range(300)), []))
    check()
    assert c.object("encoding", "geo:a") == b"skiplist"
    c.execute_command("GEORADIUS", "geo:a", "0", "0", "5000", "km", "STORE", "geo:b")
    c.execute_command("GEOSEARCHSTORE", "geo:c", "geo:a", "FROMMEMBER", "m1", "BYBOX", "3000",
                      "3000", "km", "STOREDIST")
    check()
    c.execute_command("GEOSEARCHSTORE", "geo:a", "geo:a", "FROMMEMBER", "m1", "BYRADIUS", "1",
                      "km")
    check()
    c.delete("geo:a", "geo:b", "geo:c")
    check()
    assert c.dbsize() == 0
