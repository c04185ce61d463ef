"""Generators for the pub/sub commands, merged into generator.COMMANDS by generator.py.

The harness speaks over one connection, which must never enter subscribed mode (its liveness
PING and the key-space check would be refused there) nor receive messages it did not ask for
(they would shift every later reply). So the sequences PUBLISH, SPUBLISH and PUBSUB, and set
notify-keyspace-events (through CONFIG_SET): their replies, error texts and arities are
compared, and the harness's second connection to each server, a PSUBSCRIBE to __key*__:*,
receives the keyspace notifications (and what PUBLISH sends to such channels), compared after
every batch. SUBSCRIBE and the others of subscribed mode are
compared against redis-server by tests/integration/test_pubsub.py (scripts on two connections in
RESP2 and RESP3, and the stream of keyspace notifications for every command group)."""

import generator as g

CHANNELS = g.KEYS + [b"ch", b"__keyspace@0__:k0", b"a*", b""]
PUBSUB_SUBS = [b"CHANNELS", b"NUMSUB", b"NUMPAT", b"SHARDCHANNELS", b"SHARDNUMSUB", b"HELP",
               b"channels", b"numpat", b"FOO", b""]


def g_publish(rng, name=b"PUBLISH"):
    n = rng.choice([2, 2, 2, 2, 1, 3])
    return [name] + [g.pick(rng, CHANNELS), g.val(rng)][:n] + [b"x"] * max(0, n - 2)


def g_pubsub(rng):
    sub = g.pick(rng, PUBSUB_SUBS)
    extra = rng.choice([0, 0, 1, 1, 2, 3])
    args = [g.pick(rng, g.PATTERNS + CHANNELS) for _ in range(extra)]
    return [b"PUBSUB", sub] + args if sub or extra else [b"PUBSUB"]


COMMANDS = {
    b"PUBLISH": (2, g_publish),
    b"SPUBLISH": (1, lambda r: g_publish(r, b"SPUBLISH")),
    b"PUBSUB": (2, g_pubsub),
}

COVERED = {"publish", "spublish", "pubsub",
           # subscribed mode: tests/integration/test_pubsub.py (see the docstring)
           "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"}

CONFIG_SET = {
    b"notify-keyspace-events": [b"", b"KEA", b"AKE", b"gKxm", b"Ax$", b"n", b"Q", b"KEA ",
                                b"Kg$lshzxetdn", b"Em", b"A", b"K", b"E"],
}
