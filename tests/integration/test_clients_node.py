"""node-redis (the npm package `redis`, the version tests/clients/node/package-lock.json pins)
in RESP3 mode against the real memkv-server and against Debian's redis-server 7.0 in the same
test: tests/clients/node/scenario.js runs a fixed scenario against each and prints what the
client saw as JSON lines, and the two outputs must be equal but for what must differ (HELLO's
server name, version and client id).

The scenario's parts: connect (node-redis's handshake: HELLO 3, CLIENT SETINFO LIB-VER and
LIB-NAME, CLIENT MAINT_NOTIFICATIONS, whose errors it ignores; then PING, HELLO, CLIENT INFO,
INFO, CONFIG GET, SELECT), types (strings, a hash as a RESP3 map, a set as a RESP3 set, sorted-set
scores as doubles with +-inf, lists, expiry), pipeline (execAsPipeline and automatic pipelining),
multi (MULTI/EXEC, a runtime error in its slot, a queued error aborting), watch (a conflicting
write from a second client aborts EXEC as WatchError, then a retry loop), pubsub (SUBSCRIBE,
PSUBSCRIBE, PUBLISH, commands on the subscribed RESP3 connection, UNSUBSCRIBE), notify (CONFIG
SET notify-keyspace-events, the keyspace and keyevent messages), errors (WRONGTYPE and others as
node-redis's ErrorReply), caching (client-side caching: CLIENT TRACKING ON and an invalidation
push after another client's write).

node-redis 5 is pinned, not 6: 6 needs Node.js 20 and Debian 12's nodejs is 18; 5 opens with
HELLO 3 when RESP: 3 is set, and then behaves as 6 does by default.

MEMKV_NODE_MODULES (set by ctest) is where the clients.node_install fixture put node_modules.
A missing node or node-redis fails the test: it is never skipped for want of the client.
"""
import json
import os
import shutil
import subprocess

import pytest

from exporter_harness import RedisServer
from helpers import Resp

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "..", "clients", "node", "scenario.js")
NODE_MODULES = os.environ.get("MEMKV_NODE_MODULES",
                              os.path.join(HERE, "..", "..", "build", "node-clients", "node_modules"))
PARTS = ["connect", "types", "pipeline", "multi", "watch", "pubsub", "notify", "errors"]


@pytest.fixture(scope="module")
def redis_server():
    s = RedisServer()
    yield s
    s.stop()


def run_scenario(port, parts):
    """Runs the scenario's parts against 127.0.0.1:port; returns {part: [(step, value), ...]}."""
    node = shutil.which("node")
    assert node, "node not found (apt-get install nodejs)"
    assert os.path.isfile(os.path.join(NODE_MODULES, "redis", "package.json")), (
        "node-redis is not installed in %s: ctest runs clients.node_install first, or run "
        "tests/clients/node/install.sh DIR and set MEMKV_NODE_MODULES=DIR/node_modules" % NODE_MODULES)
    env = dict(os.environ, NODE_PATH=os.path.abspath(NODE_MODULES))
    proc = subprocess.run([node, SCENARIO, str(port)] + parts, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, "scenario failed (exit %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    out, done = {}, []
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("done"):
            done.append(rec["part"])
        else:
            out.setdefault(rec["part"], []).append((rec["step"], rec["value"]))
    assert done == parts, "parts that ran to their end: %s of %s\n%s" % (done, parts, proc.stderr)
    return out


def normalized(out):
    """What must differ between memkv and redis-server: HELLO's server, version and id."""
    out = json.loads(json.dumps(out))
    for i, (step, value) in enumerate(out.get("connect", [])):
        if step == "hello":
            value = dict(value, server="*", version="*", id="*")
            out["connect"][i] = [step, value]
    return out


def steps(out, part):
    return dict(out[part])


def test_node_redis_resp3_scenario(server, redis_server):
    memkv = run_scenario(server.port, PARTS)
    redis = run_scenario(redis_server.port, PARTS)
    print("node-redis scenario parts run against memkv and redis-server: %s" % " ".join(PARTS))
    for part in PARTS:
        assert normalized(memkv)[part] == normalized(redis)[part], "part %r differs:\nmemkv %s\nredis %s" % (
            part, json.dumps(memkv[part], indent=1), json.dumps(redis[part], indent=1))

    # What the comparison must not hide: the client really is on RESP3 and saw RESP3's types.
    connect = steps(memkv, "connect")
    assert connect["hello"]["proto"] == 3 and connect["hello"]["server"] == "memkv"
    assert connect["client info"]["resp"] == "3"
    types = steps(memkv, "types")
    assert types["hgetall typed"] == {"map": [["f1", "v1"], ["f2", "v2"], ["f3", "3"]]}
    assert types["smembers typed"] == {"set": ["a", "b", "c"]}
    assert types["zrange withscores raw"] == [["low", {"double": "-Infinity"}], ["one", 1.5], ["two", 2],
                                              ["high", {"double": "Infinity"}]]
    assert types["zscore"] == 1.5  # a double, not the bulk string "1.5"
    assert steps(memkv, "watch")["exec after conflict"]["error"] == "WatchError"
    assert steps(memkv, "errors")["wrongtype hgetall"] == {
        "error": "SimpleError", "reply": True,
        "message": "WRONGTYPE Operation against a key holding the wrong kind of value"}
    messages = steps(memkv, "pubsub")["messages"]
    assert [(m["channel"], m["message"]) for m in messages] == [
        ("news", "hello"), ("weather", "rain"), ("sport", "goal"), ("sport", "again")]
    events = steps(memkv, "notify")["events"]
    assert ["__keyevent@0__:rename_to", "nl2"] in events and events[-1] == ["end", "x"]


def has_client_tracking(port):
    class Address:
        host = "127.0.0.1"
    Address.port = port
    c = Resp(Address)
    try:
        reply = c("CLIENT", "TRACKING", "ON")
    finally:
        c.close()
    return reply == b"OK"


def test_node_redis_client_side_caching(server, redis_server):
    """node-redis's client-side cache (RESP3 invalidation pushes), against redis-server and
    memkv: the same hits, misses and invalidation in both."""
    redis = run_scenario(redis_server.port, ["caching"])
    assert steps(redis, "caching") == {
        "first get": "v1", "second get": "v1", "stats after two gets": {"hits": 1, "misses": 1},
        "invalidated key": "ck", "get after invalidation": "v2", "stats at the end": {"hits": 1, "misses": 2}}
    assert has_client_tracking(server.port), "memkv refused CLIENT TRACKING ON"
    memkv = run_scenario(server.port, ["caching"])
    assert memkv == redis
