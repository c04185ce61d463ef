"""Generators for the CLIENT subcommands REPLY, NO-EVICT, PAUSE, UNPAUSE, GETREDIR,
TRACKINGINFO, TRACKING, CACHING, and for SLOWLOG and LATENCY, merged into generator.COMMANDS
by generator.py.

- CLIENT REPLY OFF and SKIP take replies away: the harness knows which commands answer
  (difftest.ReplyState) and reads only those; at the end of a batch it turns replies back on.
- CLIENT PAUSE only with a timeout of 0 (nothing is held) or invalid arguments: a pause that
  lasts would hold the single connection's next write. Held commands, UNPAUSE releasing them
  and a pause running out are in tests/integration/test_introspection.py.
- CLIENT TRACKING ON|OFF with every option (valid and conflicting sets, prefixes that overlap,
  redirects to ids that do not exist), CACHING, GETREDIR, TRACKINGINFO. A tracking connection
  would get invalidation pushes (RESP3) whose place in the stream depends on timing (BCAST,
  expiry), so generator.gen_sequence follows every TRACKING ON with its `tracking_tail`: a few
  commands that write nothing (TRACKINGINFO, GETREDIR, CACHING, another TRACKING ON, reads that
  fill the tracking table) and TRACKING OFF. No key changes while tracking is on, so nothing
  is ever invalidated and every reply stays deterministic (README).
- SLOWLOG and LATENCY: what they record depends on how long commands take in each server, so
  their replies are compared by shape (difftest.rule: "slowlog", "latency"); errors exactly.
  LATENCY HISTOGRAM [command ...] (commands, subcommands "client|list", containers, unknown
  names) by shape too: each entry a name with calls and a histogram_usec map of integer bounds
  to cumulative counts (difftest.rule: "latency-histogram"). latency-tracking and its INFO
  percentiles are set through CONFIG SET (CONFIG_SET below); CONFIG RESETSTAT (generator.py)
  empties the histograms in both.
  CONFIG SET slowlog-log-slower-than 0 makes both log everything (so GET has entries to shape).
- MONITOR is not generated: its lines would interleave with the one connection's replies (it
  is in tests/integration/test_introspection.py, against Redis too).
"""

import generator as g

COUNTS = [b"0", b"1", b"2", b"10", b"-1", b"-2", b"abc", b"", b"9223372036854775807",
          b"9223372036854775808", b"1.5"]
EVENTS = [b"command", b"fast-command", b"expire-cycle", b"nosuch", b"", b"COMMAND"]
# LATENCY HISTOGRAM's arguments: commands, subcommands, containers, unknown names, odd forms.
HISTOGRAM_NAMES = [b"set", b"GET", b"lpush", b"client", b"client|list", b"CONFIG|get",
                   b"config", b"nosuch", b"", b"client|nosuch", b"client|list|x", b"|", b"exec",
                   b"latency", b"info", b"sadd", b"zadd"]


def g_client_ext(rng):
    sub = g.pick(rng, [b"REPLY", b"REPLY", b"REPLY", b"NO-EVICT", b"PAUSE", b"UNPAUSE",
                       b"GETREDIR", b"TRACKINGINFO", b"TRACKING", b"TRACKING", b"CACHING", b"reply",
                       b"no-evict", b"pause"])
    up = sub.upper()
    argv = [b"CLIENT", sub]
    if up == b"REPLY":
        # OFF and SKIP rarely: each one mutes the commands after it.
        argv.append(g.pick(rng, [b"ON", b"ON", b"on", b"OFF", b"SKIP", b"skip", b"bogus", b""]))
    elif up == b"NO-EVICT":
        argv.append(g.pick(rng, [b"ON", b"OFF", b"on", b"off", b"bogus", b""]))
    elif up == b"PAUSE":
        argv.append(g.pick(rng, [b"0", b"0", b"-1", b"abc", b"1.5", b"", b"-9223372036854775808",
                                 b"9223372036854775808"]))
        if rng.random() < 0.6:
            argv.append(g.pick(rng, [b"WRITE", b"ALL", b"write", b"all", b"bogus", b""]))
    elif up == b"TRACKING":
        argv.append(g.pick(rng, [b"ON", b"ON", b"on", b"OFF", b"off", b"bogus", b""]))
        argv += tracking_options(rng)
    elif up == b"CACHING":
        argv.append(g.pick(rng, [b"YES", b"NO", b"bogus"]))
    # Arity: a missing or an extra argument now and then.
    r = rng.random()
    if r < 0.07 and len(argv) > 2:
        argv.pop()
    elif r < 0.14:
        argv.append(b"x")
    return argv


PREFIXES = [b"k", b"k0", b"k1", b"user:", b"", b"a", b"ab", b"\xff"]
# Ids no client has (REDIRECT to an existing client needs its id, which differs per server).
REDIRECTS = [b"0", b"-1", b"abc", b"999999", b"18446744073709551616", b""]


def tracking_options(rng):
    """CLIENT TRACKING's options: mostly one mode, sometimes conflicting ones. At most two
    PREFIX options (a value mutate() appends included): Redis 7.0 answers an overlap between a
    second and a third prefix with an error and an OK (README), which no harness can follow."""
    opts = []
    prefixes = 0
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        opt = g.pick(rng, [b"BCAST", b"BCAST", b"OPTIN", b"OPTOUT", b"NOLOOP", b"PREFIX",
                           b"PREFIX", b"REDIRECT", b"BOGUS", b"bcast", b"noloop"])
        if opt == b"PREFIX":
            prefixes += 1
            if prefixes > 2:
                continue
        opts.append(opt)
        if opt == b"PREFIX" and rng.random() < 0.9:
            opts.append(g.pick(rng, PREFIXES))
        elif opt == b"REDIRECT" and rng.random() < 0.9:
            opts.append(g.pick(rng, REDIRECTS))
    return opts


def is_tracking_on(argv):
    return (len(argv) >= 3 and argv[0].lower() == b"client" and argv[1].lower() == b"tracking"
            and argv[2].lower() == b"on")


def tracking_tail(rng):
    """What follows a CLIENT TRACKING ON (see the top of this file): commands that change no
    key, then TRACKING OFF."""
    out = []
    for _ in range(rng.choice([0, 1, 2, 3, 4])):
        r = rng.random()
        if r < 0.2:
            out.append([b"CLIENT", b"TRACKINGINFO"])
        elif r < 0.3:
            out.append([b"CLIENT", b"GETREDIR"])
        elif r < 0.45:
            out.append([b"CLIENT", b"CACHING", g.pick(rng, [b"YES", b"NO", b"yes", b"maybe"])])
        elif r < 0.6:
            out.append([b"CLIENT", b"TRACKING", b"ON"] + tracking_options(rng))
        elif r < 0.75:
            out.append([b"GET", g.key(rng)])
        elif r < 0.85:
            out.append([b"MGET", g.key(rng), g.key(rng)])
        else:
            out.append([g.pick(rng, [b"EXISTS", b"TYPE", b"STRLEN"]), g.key(rng)])
    out.append([b"CLIENT", b"TRACKING", b"OFF"])
    return out


def g_slowlog(rng):
    sub = g.pick(rng, [b"GET", b"GET", b"LEN", b"RESET", b"HELP", b"get", b"BOGUS"])
    argv = [b"SLOWLOG", sub]
    if sub.upper() == b"GET" and rng.random() < 0.7:
        argv.append(g.pick(rng, COUNTS))
    if rng.random() < 0.08:
        argv.append(b"x")
    return argv


def g_latency(rng):
    sub = g.pick(rng, [b"LATEST", b"HISTORY", b"RESET", b"DOCTOR", b"GRAPH", b"HELP",
                       b"latest", b"BOGUS", b"HISTOGRAM", b"HISTOGRAM", b"histogram"])
    argv = [b"LATENCY", sub]
    up = sub.upper()
    if up == b"HISTOGRAM":
        argv += [g.pick(rng, HISTOGRAM_NAMES) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
        return argv
    if up in (b"HISTORY", b"GRAPH"):
        # GRAPH only of events neither server has samples of: an error in both.
        argv.append(g.pick(rng, EVENTS if up == b"HISTORY" else [b"nosuch", b""]))
    elif up == b"RESET":
        argv += [g.pick(rng, EVENTS) for _ in range(rng.choice([0, 0, 1, 2]))]
    if rng.random() < 0.08:
        argv.append(b"x")
    return argv


COMMANDS = {
    b"CLIENT EXT": (2, g_client_ext),
    b"SLOWLOG": (1, g_slowlog),
    b"LATENCY": (1, g_latency),
}

COVERED = {"slowlog", "latency",
           "monitor"}  # MONITOR: tests/integration/test_introspection.py (see above)

CONFIG_SET = {
    b"slowlog-log-slower-than": [b"0", b"0", b"-1", b"10000", b"-2", b"abc", b"1000000",
                                 b"9223372036854775807", b"9223372036854775808"],
    b"slowlog-max-len": [b"0", b"1", b"3", b"128", b"-1", b"abc", b"9223372036854775807"],
    b"latency-monitor-threshold": [b"0", b"100000", b"-1", b"abc", b"9223372036854775808"],
    # Only caps the table never reaches here: past one, random keys are invalidated (pushes).
    b"tracking-table-max-keys": [b"0", b"1000000", b"100000", b"9223372036854775807", b"-1",
                                 b"abc", b"9223372036854775808"],
    b"latency-tracking": [b"yes", b"yes", b"no", b"maybe", b""],
    b"latency-tracking-info-percentiles": [b"50 99 99.9", b"50.0 0 100", b"", b"1e1 0x10",
                                           b"abc", b"101", b"-1", b"50 50", b"99.99"],
}
