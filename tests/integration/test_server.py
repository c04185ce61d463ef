"""Server and connection commands against the real memkv-server: PING ECHO QUIT AUTH HELLO
CLIENT COMMAND INFO CONFIG SHUTDOWN, start-up from a config file and the command line, signals,
and redis-cli. Expected texts are Redis 7.0's (checked against Debian's redis-server 7.0.15).
"""
import os
import signal
import subprocess
import tempfile

import pytest
import redis

from conftest import SERVER
from helpers import Resp, wait_until


SYNTAX = "ERR syntax error"


def parse_info(text):
    """INFO text -> {section name (lower case): {field: value}}."""
    sections = {}
    current = None
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            current = sections.setdefault(line[2:].strip().lower(), {})
        elif line:
            assert current is not None, "field before any section: %r" % line
            key, _, value = line.partition(":")
            assert _ == ":", "malformed INFO line %r" % line
            current[key] = value
    return sections


def info(c, *sections):
    return parse_info(c("INFO", *sections))


def config_get(c, pattern):
    reply = c("CONFIG", "GET", pattern)
    assert isinstance(reply, list) and len(reply) % 2 == 0, reply
    return {reply[i].decode(): reply[i + 1].decode() for i in range(0, len(reply), 2)}


# ---- PING ECHO QUIT, unknown commands, arity ----

def test_ping_echo(c):
    assert c("PING") == b"PONG"
    assert c("ping", "hello world") == b"hello world"
    assert c("PING", b"\x00\r\n") == b"\x00\r\n"
    assert c("PING", "a", "b") == "ERR wrong number of arguments for 'ping' command"
    assert c("ECHO", "") == b""
    assert c("ECHO", "x" * 100000) == b"x" * 100000
    assert c("ECHO") == "ERR wrong number of arguments for 'echo' command"
    assert c("ECHO", "a", "b") == "ERR wrong number of arguments for 'echo' command"


def test_quit(c, server):
    assert c("QUIT") == b"OK"
    assert c.closed_by_server()
    # The server is fine.
    other = Resp(server)
    assert other("PING") == b"PONG"
    other.close()


def test_unknown_command_and_arity(c):
    assert c("FOO", "a", "b") == "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    assert c("foo") == "ERR unknown command 'foo', with args beginning with: "
    assert c("foo", "x" * 200) == \
        "ERR unknown command 'foo', with args beginning with: '%s' " % ("x" * 128)
    assert c("foo", "a" * 100, "b" * 100, "c") == \
        "ERR unknown command 'foo', with args beginning with: '%s' '%s' " % ("a" * 100, "b" * 25)
    assert c("y" * 200) == \
        "ERR unknown command '%s', with args beginning with: " % ("y" * 128)
    # CR and LF in an error text become spaces: the reply stays one line.
    assert c("foo", "a\r\nb") == "ERR unknown command 'foo', with args beginning with: 'a  b' "
    assert c("GET") == "ERR wrong number of arguments for 'get' command"
    assert c("gEt", "a", "b") == "ERR wrong number of arguments for 'get' command"
    assert c("CONFIG", "GET") == "ERR wrong number of arguments for 'config|get' command"
    assert c("CONFIG", "SET", "maxclients") == \
        "ERR wrong number of arguments for 'config|set' command"
    assert c("CONFIG", "RESETSTAT", "x") == \
        "ERR wrong number of arguments for 'config|resetstat' command"
    assert c("CONFIG", "FOO") == "ERR unknown subcommand 'FOO'. Try CONFIG HELP."
    assert c("CLIENT", "foo") == "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    assert c("CLIENT", "ID", "x") == "ERR wrong number of arguments for 'client|id' command"
    assert c("CLIENT", "GETNAME", "x") == \
        "ERR wrong number of arguments for 'client|getname' command"
    assert c("CLIENT", "SETNAME") == \
        "ERR wrong number of arguments for 'client|setname' command"
    assert c("COMMAND", "foo") == "ERR unknown subcommand 'foo'. Try COMMAND HELP."
    assert c("PING") == b"PONG"
    errors = int(info(c, "stats")["stats"]["total_error_replies"])
    assert errors >= 17


# ---- AUTH / requirepass / HELLO ----

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


def test_auth_requirepass(server_factory):
    s = server_factory(args=["--requirepass", "s3cret"])
    c = Resp(s)
    assert c("GET", "k") == NOAUTH
    assert c("SET", "k", "v") == NOAUTH
    assert c("PING") == NOAUTH
    assert c("AUTH", "wrong") == WRONGPASS
    assert c("AUTH", "default", "wrong") == WRONGPASS
    assert c("AUTH", "someone", "s3cret") == WRONGPASS
    assert c("AUTH", "a", "b", "c") == SYNTAX
    assert c("GET", "k") == NOAUTH
    assert c("AUTH", "s3cret") == b"OK"
    assert c("SET", "k", "v") == b"OK"
    assert c("GET", "k") == b"v"
    # AUTH default <pass> is the same user.
    c2 = Resp(s)
    assert c2("AUTH", "default", "s3cret") == b"OK"
    assert c2("GET", "k") == b"v"
    # A failed AUTH after a good one does not log the connection out (as in Redis).
    assert c2("AUTH", "nope") == WRONGPASS
    assert c2("GET", "k") == b"v"
    # QUIT works before authenticating.
    c3 = Resp(s)
    assert c3("QUIT") == b"OK"
    assert c3.closed_by_server()
    # redis-py and redis-cli with the password.
    r = s.client(password="s3cret")
    assert r.get("k") == b"v"
    r.close()
    with pytest.raises(redis.AuthenticationError):
        s.client().get("k")
    assert s.cli("-a", "s3cret", "--no-auth-warning", "get", "k").stdout == "v\n"
    for conn in (c, c2, c3):
        conn.close()


def test_hello_auth(server_factory):
    s = server_factory(args=["--requirepass", "s3cret"])
    c = Resp(s)
    # Redis 7.0's text (7.2 added "<proto>" after HELLO).
    assert c("HELLO", 2) == ("NOAUTH HELLO must be called with the client already "
                             "authenticated, otherwise the HELLO AUTH <user> <pass> option can "
                             "be used to authenticate the client and select the RESP protocol "
                             "version at the same time")
    assert c("HELLO", 2, "AUTH", "default", "wrong") == WRONGPASS
    assert c("GET", "k") == NOAUTH
    reply = c("HELLO", 2, "AUTH", "default", "s3cret", "SETNAME", "hello-client")
    assert isinstance(reply, list), reply
    fields = dict(zip(reply[::2], reply[1::2]))
    assert fields[b"proto"] == 2
    assert fields[b"id"] == c("CLIENT", "ID")
    assert c("CLIENT", "GETNAME") == b"hello-client"
    assert c("GET", "k") is None
    c.close()


def test_auth_without_password(c):
    assert c("AUTH", "x") == ("ERR AUTH <password> called without any password configured for "
                              "the default user. Are you sure your configuration is correct?")
    assert c("PING") == b"PONG"


def test_hello(c):
    reply = c("HELLO")
    assert isinstance(reply, list) and len(reply) == 14, reply
    fields = dict(zip(reply[::2], reply[1::2]))
    assert set(fields) == {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}
    assert fields[b"proto"] == 2
    assert fields[b"id"] == c("CLIENT", "ID")
    assert fields[b"mode"] == b"standalone"
    assert fields[b"role"] == b"master"
    assert fields[b"modules"] == []
    assert c("HELLO", 2)[4:6] == [b"proto", 2]
    assert c("HELLO", 2, "SETNAME", "me")[4:6] == [b"proto", 2]
    assert c("CLIENT", "GETNAME") == b"me"
    assert c("HELLO", 1) == "NOPROTO unsupported protocol version"
    assert c("HELLO", 4) == "NOPROTO unsupported protocol version"
    assert c("HELLO", "abc") == "ERR Protocol version is not an integer or out of range"
    assert c("HELLO", 2, "foo") == "ERR Syntax error in HELLO option 'foo'"
    assert c("HELLO", 2, "AUTH", "a") == "ERR Syntax error in HELLO option 'AUTH'"
    # Still RESP2 after a refused HELLO (HELLO 3 itself: test_resp3.py).
    assert c("GET", "missing") is None


# ---- CLIENT ----

def client_list(c, *args):
    text = c("CLIENT", "LIST", *args)
    assert isinstance(text, bytes), text
    out = []
    for line in text.decode().splitlines():
        fields = dict(f.split("=", 1) for f in line.split(" "))
        out.append(fields)
    return out


def test_client_id_name_list(c, server):
    my_id = c("CLIENT", "ID")
    assert isinstance(my_id, int) and my_id > 0
    other = Resp(server)
    other_id = other("CLIENT", "ID")
    assert other_id > my_id
    assert c("CLIENT", "GETNAME") is None
    assert c("CLIENT", "SETNAME", "conn-one") == b"OK"
    assert c("CLIENT", "GETNAME") == b"conn-one"
    assert c("CLIENT", "SETNAME", "a b") == \
        "ERR Client names cannot contain spaces, newlines or special characters."
    assert c("CLIENT", "SETNAME", "a\nb") == \
        "ERR Client names cannot contain spaces, newlines or special characters."
    assert c("CLIENT", "GETNAME") == b"conn-one"
    assert c("SELECT", 5) == b"OK"
    clients = client_list(c)
    by_id = {int(f["id"]): f for f in clients}
    assert set(by_id) == {my_id, other_id}
    me = by_id[my_id]
    assert me["name"] == "conn-one"
    assert me["db"] == "5"
    assert me["cmd"] == "client|list" or me["cmd"] == "client"
    assert me["addr"] == "%s:%d" % c.sock.getsockname()
    assert me["laddr"] == "%s:%d" % (server.host, server.port)
    assert by_id[other_id]["addr"] == "%s:%d" % other.sock.getsockname()
    assert by_id[other_id]["name"] == ""
    assert [int(f["id"]) for f in client_list(c, "ID", other_id)] == [other_id]
    assert sorted(int(f["id"]) for f in client_list(c, "ID", other_id, my_id, 999999)) == \
        sorted([my_id, other_id])
    assert len(client_list(c, "TYPE", "normal")) == 2
    assert c("CLIENT", "LIST", "ID", "abc") == "ERR Invalid client ID"
    assert c("CLIENT", "LIST", "TYPE", "foo") == "ERR Unknown client type 'foo'"
    assert c("CLIENT", "LIST", "foo") == SYNTAX
    # An empty name clears it.
    assert c("CLIENT", "SETNAME", "") == b"OK"
    assert c("CLIENT", "GETNAME") is None
    other.close()
    assert wait_until(lambda: len(client_list(c)) == 1)


def test_client_kill(c, server):
    victim = Resp(server)
    victim_id = victim("CLIENT", "ID")
    assert c("CLIENT", "KILL", "ID", victim_id) == 1
    assert victim.closed_by_server()
    assert c("CLIENT", "KILL", "ID", victim_id) == 0
    assert c("CLIENT", "KILL", "ID", 0) == "ERR client-id should be greater than 0"
    assert c("CLIENT", "KILL", "ID", "abc") == "ERR client-id should be greater than 0"
    assert c("CLIENT", "KILL", "foo", "bar") == SYNTAX
    assert c("CLIENT", "KILL", "1.2.3.4:5") == "ERR No such client"
    assert c("CLIENT", "KILL", "ADDR", "1.2.3.4:5") == 0
    # By address, new form.
    victim = Resp(server)
    addr = "%s:%d" % victim.sock.getsockname()
    assert victim("PING") == b"PONG"
    assert c("CLIENT", "KILL", "ADDR", addr) == 1
    assert victim.closed_by_server()
    # By address, old form.
    victim = Resp(server)
    addr = "%s:%d" % victim.sock.getsockname()
    assert victim("PING") == b"PONG"
    assert c("CLIENT", "KILL", addr) == b"OK"
    assert victim.closed_by_server()
    # SKIPME: by default a client does not kill itself.
    my_id = c("CLIENT", "ID")
    assert c("CLIENT", "KILL", "ID", my_id) == 0
    assert c("PING") == b"PONG"
    assert wait_until(lambda: len(client_list(c)) == 1)
    # With SKIPME no it does: the reply still arrives, then the connection closes.
    assert c("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") == 1
    assert c.closed_by_server()
    fresh = Resp(server)
    assert fresh("PING") == b"PONG"
    fresh.close()


# ---- COMMAND ----

SCOPE_COMMANDS = """get set setnx setex psetex getset getdel getex mget mset msetnx incr decr
incrby decrby incrbyfloat append strlen getrange setrange del unlink exists type expire pexpire
expireat pexpireat ttl pttl persist rename renamenx keys scan randomkey dbsize flushdb flushall
select ping echo quit auth hello client command info config shutdown""".split()


def test_command(c):
    count = c("COMMAND", "COUNT")
    assert isinstance(count, int)
    everything = c("COMMAND")
    assert len(everything) == count
    names = c("COMMAND", "LIST")
    assert {n.decode() for n in names} >= set(SCOPE_COMMANDS)
    assert {e[0] for e in everything} <= set(names)
    get, set_, nosuch, mset = c("COMMAND", "INFO", "get", "SET", "nosuch", "mset")
    assert nosuch is None
    assert get[:2] == [b"get", 2]
    assert b"readonly" in get[2] and b"fast" in get[2]
    assert get[3:6] == [1, 1, 1]
    assert set_[:2] == [b"set", -3]
    assert b"write" in set_[2]
    assert mset[:2] == [b"mset", -3]
    assert mset[3:6] == [1, -1, 2]
    arities = {e[0]: e[1] for e in everything}
    assert arities[b"ping"] == -1
    assert arities[b"del"] == -2
    assert arities[b"getrange"] == 4
    docs = c("COMMAND", "DOCS", "get", "nosuch")
    assert isinstance(docs, list) and len(docs) == 2 and docs[0] == b"get"
    get_doc = dict(zip(docs[1][::2], docs[1][1::2]))
    assert get_doc[b"group"] == b"string"
    assert get_doc[b"summary"]
    assert c("COMMAND", "DOCS", "nosuch") == []
    help_lines = c("COMMAND", "HELP")
    assert isinstance(help_lines, list) and len(help_lines) > 3


# ---- INFO ----

def test_info_sections(c, server):
    full = info(c)
    for section in ("server", "clients", "stats", "keyspace"):
        assert section in full, sorted(full)
    srv = full["server"]
    assert int(srv["tcp_port"]) == server.port
    assert int(srv["process_id"]) == server.proc.pid
    assert srv["redis_version"].count(".") == 2
    assert int(srv["uptime_in_seconds"]) >= 0
    assert srv["multiplexing_api"] == "epoll"
    assert int(srv["hz"]) == 10
    assert len(srv["run_id"]) == 40
    assert info(c, "server").keys() == {"server"}
    assert info(c, "SERVER", "keyspace").keys() == {"server", "keyspace"}
    assert c("INFO", "nosuchsection") == b""
    assert {"server", "clients", "stats", "keyspace"} <= info(c, "all").keys()
    assert {"server", "clients", "stats", "keyspace"} <= info(c, "everything").keys()
    assert {"server", "clients", "stats", "keyspace"} <= info(c, "default").keys()
    for field in ("connected_clients", "maxclients", "blocked_clients"):
        assert field in full["clients"]
    for field in ("total_connections_received", "total_commands_processed",
                  "instantaneous_ops_per_sec", "total_net_input_bytes", "total_net_output_bytes",
                  "rejected_connections", "expired_keys", "keyspace_hits", "keyspace_misses",
                  "total_error_replies", "client_output_buffer_limit_disconnections"):
        assert field in full["stats"], field


def test_info_clients_consistent(c, server):
    base = int(info(c, "clients")["clients"]["connected_clients"])
    assert base == 1
    received = int(info(c, "stats")["stats"]["total_connections_received"])
    extra = [Resp(server) for _ in range(3)]
    for e in extra:
        assert e("PING") == b"PONG"
    assert int(info(c, "clients")["clients"]["connected_clients"]) == base + 3
    assert int(info(c, "stats")["stats"]["total_connections_received"]) == received + 3
    assert int(info(c, "clients")["clients"]["maxclients"]) == \
        int(config_get(c, "maxclients")["maxclients"])
    for e in extra:
        e.close()
    assert wait_until(lambda: int(info(c, "clients")["clients"]["connected_clients"]) == base)


def test_info_stats_and_keyspace_consistent(c):
    assert info(c, "keyspace") == {"keyspace": {}}
    for i in range(10):
        assert c("SET", "k%d" % i, "v") == b"OK"
    for i in range(4):
        assert c("EXPIRE", "k%d" % i, 1000) == 1
    assert c("SELECT", 2) == b"OK"
    assert c("SET", "x", "y") == b"OK"
    ks = info(c, "keyspace")["keyspace"]
    assert ks["db0"].startswith("keys=10,expires=4,avg_ttl=")
    assert ks["db2"].startswith("keys=1,expires=0,avg_ttl=")
    assert set(ks) == {"db0", "db2"}
    # Hits and misses, commands processed.
    before = info(c, "stats")["stats"]
    assert c("GET", "x") == b"y"
    assert c("GET", "x") == b"y"
    assert c("GET", "missing") is None
    after = info(c, "stats")["stats"]
    assert int(after["keyspace_hits"]) - int(before["keyspace_hits"]) == 2
    assert int(after["keyspace_misses"]) - int(before["keyspace_misses"]) == 1
    # 3 GETs and the INFO that produced `before` were processed in between.
    assert int(after["total_commands_processed"]) - int(before["total_commands_processed"]) == 4
    assert int(after["total_net_input_bytes"]) > int(before["total_net_input_bytes"])
    assert int(after["total_net_output_bytes"]) > int(before["total_net_output_bytes"])
    # CONFIG RESETSTAT zeroes the counters.
    assert c("CONFIG", "RESETSTAT") == b"OK"
    stats = info(c, "stats")["stats"]
    assert int(stats["keyspace_hits"]) == 0
    assert int(stats["keyspace_misses"]) == 0
    assert int(stats["total_error_replies"]) == 0
    assert int(stats["total_commands_processed"]) <= 1
    # The key space itself is untouched.
    assert info(c, "keyspace")["keyspace"]["db0"].startswith("keys=10,expires=4,")


# ---- CONFIG GET / SET ----

def test_config_get_globs(c):
    assert config_get(c, "maxclients") == {"maxclients": "10000"}
    assert config_get(c, "timeout") == {"timeout": "0"}
    assert config_get(c, "databases") == {"databases": "16"}
    assert config_get(c, "proto-max-bulk-len") == {"proto-max-bulk-len": "536870912"}
    assert config_get(c, "maxclient?") == {"maxclients": "10000"}
    assert config_get(c, "nosuchparam") == {}
    everything = config_get(c, "*")
    for name in ("bind", "port", "maxclients", "timeout", "requirepass", "databases", "hz",
                 "proto-max-bulk-len", "client-query-buffer-limit",
                 "client-output-buffer-limit", "loglevel", "logfile", "tcp-keepalive"):
        assert name in everything, name
    assert everything["bind"] == "127.0.0.1"
    assert set(config_get(c, "*max*")) >= {"maxclients", "proto-max-bulk-len"}
    assert "client-query-buffer-limit" in config_get(c, "client-*-limit")
    assert set(config_get(c, "[mt]*")) >= {"maxclients", "timeout", "tcp-keepalive"}
    assert config_get(c, "loglevel") == {"loglevel": "notice"}
    # Several patterns at once (Redis 7).
    assert set(config_get_many(c, "maxclients", "timeout")) == {"maxclients", "timeout"}


def config_get_many(c, *patterns):
    reply = c("CONFIG", "GET", *patterns)
    return {reply[i].decode(): reply[i + 1].decode() for i in range(0, len(reply), 2)}


def config_set_error(param, why):
    return "ERR CONFIG SET failed (possibly related to argument '%s') - %s" % (param, why)


def test_config_set(c):
    assert c("CONFIG", "SET", "timeout", 100) == b"OK"
    assert config_get(c, "timeout") == {"timeout": "100"}
    assert c("CONFIG", "SET", "maxclients", 500, "timeout", 0, "hz", 20) == b"OK"
    assert config_get_many(c, "maxclients", "timeout", "hz") == \
        {"maxclients": "500", "timeout": "0", "hz": "20"}
    assert int(info(c, "server")["server"]["hz"]) == 20
    assert c("CONFIG", "SET", "loglevel", "WARNING") == b"OK"
    assert config_get(c, "loglevel") == {"loglevel": "warning"}
    assert c("CONFIG", "SET", "proto-max-bulk-len", "2mb") == b"OK"
    assert config_get(c, "proto-max-bulk-len") == {"proto-max-bulk-len": "2097152"}
    assert c("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0") == b"OK"
    assert config_get(c, "client-output-buffer-limit")["client-output-buffer-limit"] \
        .startswith("normal 1048576 0 0")
    assert c("CONFIG", "SET", "MAXCLIENTS", 600) == b"OK"  # names are case-insensitive
    assert config_get(c, "maxclients") == {"maxclients": "600"}


def test_config_set_atomic(c):
    """A CONFIG SET with several pairs applies all or none of them."""
    assert c("CONFIG", "SET", "timeout", 5, "maxclients", "abc") == \
        config_set_error("maxclients", "argument couldn't be parsed into an integer")
    assert c("CONFIG", "SET", "maxclients", 123, "hz", 30, "loglevel", "nope") == \
        config_set_error("loglevel", "argument(s) must be one of the following: "
                         "debug, verbose, notice, warning")
    assert config_get_many(c, "timeout", "maxclients", "hz", "loglevel") == \
        {"timeout": "0", "maxclients": "10000", "hz": "10", "loglevel": "notice"}
    assert c("CONFIG", "SET", "timeout", 5, "timeout", 6) == \
        config_set_error("timeout", "duplicate parameter")
    assert c("CONFIG", "SET", "timeout", 5, "nosuch", 6) == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    assert c("CONFIG", "SET", "timeout", 5, "databases", 4) == \
        config_set_error("databases", "can't set immutable config")
    assert config_get_many(c, "timeout", "databases") == {"timeout": "0", "databases": "16"}


@pytest.mark.parametrize("param,value,why", [
    ("maxclients", "abc", "argument couldn't be parsed into an integer"),
    ("maxclients", "1.5", "argument couldn't be parsed into an integer"),
    ("timeout", "-1", "argument must be between 0 and 2147483647 inclusive"),
    ("loglevel", "loud", "argument(s) must be one of the following: debug, verbose, notice, "
                         "warning"),
    ("proto-max-bulk-len", "1000",
     "argument must be between 1048576 and 9223372036854775807 inclusive"),
    ("proto-max-bulk-len", "abc", "argument must be a memory value"),
    ("client-output-buffer-limit", "foo",
     "Wrong number of arguments in buffer limit configuration."),
    ("client-output-buffer-limit", "foo 1 2 3",
     "Invalid client class specified in buffer limit configuration."),
    ("client-output-buffer-limit", "normal 1 2 x",
     "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("databases", "4", "can't set immutable config"),
])
def test_config_set_bad_values(c, param, value, why):
    before = config_get(c, param)
    assert c("CONFIG", "SET", param, value) == config_set_error(param, why)
    assert config_get(c, param) == before


def test_config_set_maxclients_lower_bound(c):
    reply = c("CONFIG", "SET", "maxclients", 0)
    assert reply.startswith(config_set_error("maxclients", "argument must be between 1 and "))
    assert reply.endswith(" inclusive")
    assert c("CONFIG", "SET", "nosuch", "1") == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"


def test_config_rewrite_without_file(c):
    assert c("CONFIG", "REWRITE") == "ERR The server is running without a config file"


CONFIG_TEXT = """# memkv test configuration
# (this comment must survive CONFIG REWRITE)
maxclients 500

# idle clients
timeout 0
loglevel notice
"""


def test_config_rewrite(server_factory):
    s = server_factory(config_text=CONFIG_TEXT)
    c = Resp(s)
    assert config_get_many(c, "maxclients", "timeout") == {"maxclients": "500", "timeout": "0"}
    assert info(c, "server")["server"]["config_file"] == os.path.realpath(s.config_path)
    assert c("CONFIG", "SET", "maxclients", 600, "timeout", 30, "hz", 20,
             "client-output-buffer-limit", "normal 4mb 2mb 30") == b"OK"
    assert c("CONFIG", "REWRITE") == b"OK"
    with open(s.config_path) as f:
        text = f.read()
    lines = text.splitlines()
    # Comments and blank lines stay where they were; changed values are rewritten in place.
    assert lines[:7] == ["# memkv test configuration",
                         "# (this comment must survive CONFIG REWRITE)",
                         "maxclients 600",
                         "",
                         "# idle clients",
                         "timeout 30",
                         "loglevel notice"], text
    # Parameters not in the file are appended; none appears twice.
    directives = [l.split()[0] for l in lines if l and not l.startswith("#")]
    assert len(directives) == len(set(directives)), text
    assert "hz 20" in lines, text
    assert any(l.startswith("client-output-buffer-limit normal ") for l in lines), text
    c.close()
    # A server started from the rewritten file has the same settings.
    s2 = server_factory(config_text=text)
    c2 = Resp(s2)
    cfg = config_get_many(c2, "maxclients", "timeout", "hz", "client-output-buffer-limit",
                          "loglevel")
    assert cfg["maxclients"] == "600"
    assert cfg["timeout"] == "30"
    assert cfg["hz"] == "20"
    assert cfg["loglevel"] == "notice"
    assert cfg["client-output-buffer-limit"].startswith("normal 4194304 2097152 30")
    # Rewriting again without changes leaves the file as it is.
    assert c2("CONFIG", "REWRITE") == b"OK"
    with open(s2.config_path) as f:
        again = f.read()
    c2.close()
    assert again.splitlines()[:7] == lines[:7]
    assert sorted(l for l in again.splitlines() if not l.startswith(("port", "ready-file"))) == \
        sorted(l for l in lines if not l.startswith(("port", "ready-file")))


def test_command_line_overrides_file(server_factory):
    s = server_factory(config_text="maxclients 500\ntimeout 7\nhz 15\n",
                       args=["--maxclients", "700", "--client-output-buffer-limit", "normal",
                             "3mb", "1mb", "20", "--loglevel", "warning"])
    c = Resp(s)
    cfg = config_get_many(c, "maxclients", "timeout", "hz", "client-output-buffer-limit",
                          "loglevel")
    assert cfg["maxclients"] == "700"
    assert cfg["timeout"] == "7"
    assert cfg["hz"] == "15"
    assert cfg["loglevel"] == "warning"
    assert cfg["client-output-buffer-limit"].startswith("normal 3145728 1048576 20")
    c.close()


def run_server_expecting_failure(args):
    """Start memkv-server directly (not through the fixture) and return (code, stderr+stdout).
    A server that starts anyway is killed after a few seconds and reported."""
    proc = subprocess.Popen([SERVER] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("memkv-server %s did not exit:\n%s%s" % (args, out, err))
    return proc.returncode, err + out


@pytest.mark.parametrize("config_text,expect", [
    ("maxclients 100\nmaxclients abc\n", ["line 2", "maxclients abc",
                                           "argument couldn't be parsed into an integer"]),
    ("# comment\nnosuchoption 1\n", ["line 2", "nosuchoption",
                                     "Bad directive or wrong number of arguments"]),
    ("loglevel \"unbalanced\n", ["line 1", "Unbalanced quotes"]),
    ("port 0\ntimeout\n", ["line 2", "timeout"]),
    ("timeout -1\n", ["line 1", "timeout -1", "argument must be between 0 and 2147483647 "
                                               "inclusive"]),
])
def test_bad_config_file_exits_nonzero(config_text, expect):
    with tempfile.TemporaryDirectory(prefix="memkv-badconf-") as d:
        path = os.path.join(d, "bad.conf")
        with open(path, "w") as f:
            f.write(config_text)
        code, output = run_server_expecting_failure([path, "--port", "0"])
    assert code != 0
    assert "FATAL CONFIG" in output, output
    for text in expect:
        assert text in output, output


def test_bad_command_line_exits_nonzero():
    code, output = run_server_expecting_failure(["--port", "0", "--nosuchoption", "1"])
    assert code != 0
    assert "nosuchoption" in output, output
    code, output = run_server_expecting_failure(["--port", "0", "--maxclients", "abc"])
    assert code != 0
    assert "maxclients" in output and "couldn't be parsed into an integer" in output, output
    code, output = run_server_expecting_failure(["/nonexistent/memkv.conf", "--port", "0"])
    assert code != 0
    assert "/nonexistent/memkv.conf" in output, output


# ---- SHUTDOWN and signals ----

def test_shutdown(server_factory):
    s = server_factory()
    c = Resp(s)
    assert c("SET", "k", "v") == b"OK"
    assert c("SHUTDOWN", "foo") == SYNTAX
    assert c("SHUTDOWN", "ABORT") == "ERR No shutdown in progress."
    assert s.alive()
    bystander = Resp(s)
    assert bystander("PING") == b"PONG"
    c.send("SHUTDOWN", "NOSAVE")
    assert c.closed_by_server()  # no reply: the connection just closes
    assert s.proc.wait(timeout=20) == 0
    assert bystander.closed_by_server()
    c.close()
    bystander.close()
    # The fixture's teardown checks exit code 0 and the sanitizer markers again.


def test_shutdown_requires_auth(server_factory):
    s = server_factory(args=["--requirepass", "pw"])
    c = Resp(s)
    assert c("SHUTDOWN") == NOAUTH
    assert s.alive()
    assert c("AUTH", "pw") == b"OK"
    c.send("SHUTDOWN")
    assert c.closed_by_server()
    assert s.proc.wait(timeout=20) == 0
    c.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero(server_factory, sig):
    s = server_factory()
    clients = [Resp(s) for _ in range(5)]
    for i, conn in enumerate(clients):
        assert conn("SET", "k%d" % i, "v" * 10000) == b"OK"
    # One client with a command half sent.
    clients[0].sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$100\r\nabc")
    s.proc.send_signal(sig)
    assert s.proc.wait(timeout=20) == 0
    for conn in clients:
        assert conn.closed_by_server()
        conn.close()


# ---- redis-cli ----

def test_redis_cli(server):
    assert server.cli("PING").stdout == "PONG\n"
    assert server.cli("set", "a", "b").stdout == "OK\n"
    assert server.cli("get", "a").stdout == "b\n"
    assert server.cli("--no-raw", "get", "a").stdout == '"b"\n'
    assert server.cli("get", "missing").stdout == "\n"
    assert server.cli("--no-raw", "get", "missing").stdout == "(nil)\n"
    assert server.cli("--no-raw", "incr", "n").stdout == "(integer) 1\n"
    assert server.cli("--no-raw", "mget", "a", "n", "missing").stdout == \
        '1) "b"\n2) "1"\n3) (nil)\n'
    out = server.cli("--no-raw", "foo", "a")
    assert out.stdout == "(error) ERR unknown command 'foo', with args beginning with: 'a' \n"
    assert server.cli("-n", "3", "set", "in3", "x").stdout == "OK\n"
    assert server.cli("-n", "3", "get", "in3").stdout == "x\n"
    assert server.cli("get", "in3").stdout == "\n"
    assert server.cli("--no-raw", "dbsize").stdout == "(integer) 2\n"
    for i in range(30):
        server.cli("set", "scan:%d" % i, i)
    out = server.cli("--scan", "--pattern", "scan:*").stdout.split()
    assert sorted(out) == sorted("scan:%d" % i for i in range(30))
    info_out = server.cli("info", "keyspace").stdout
    assert "db0:keys=32," in info_out and "db3:keys=1," in info_out


def test_redis_cli_stdin(server):
    out = server.cli(input="set x 1\nget x\nincr x\nfoo\nget x\n")
    assert out.stdout == ("OK\n1\n2\n"
                          "ERR unknown command 'foo', with args beginning with: \n\n2\n")
    out = server.cli("--no-raw", input="set y 1\nget y\n")
    assert out.stdout == 'OK\n"1"\n'
    # Quoted arguments on stdin (split by redis-cli).
    out = server.cli(input='set "a key" "a value"\nget "a key"\nstrlen "a key"\n')
    assert out.stdout == "OK\na value\n7\n"
    out = server.cli("-x", "set", "fromstdin", input="hello\n")
    assert out.stdout == "OK\n"
    assert server.cli("get", "fromstdin").stdout == "hello\n\n"



def test_eventloop_max_busy(server):
    """INFO stats reports the longest event-loop turn (µs) since start or CONFIG RESETSTAT: a
    KEYS over 200k keys is one long turn, and RESETSTAT forgets it."""
    c = server.client()
    for start in range(0, 200000, 10000):
        c.mset({"key:%d" % i: "v" for i in range(start, start + 10000)})
    assert c.config_resetstat()
    assert len(c.keys("*")) == 200000
    busy = c.info("stats")["memkv_eventloop_max_busy_usec"]
    assert busy >= 1000, busy  # walking 200k keys and writing 200k replies takes milliseconds
    assert c.config_resetstat()
    c.ping()
    assert c.info("stats")["memkv_eventloop_max_busy_usec"] < busy


def test_connection_keeps_reading_after_a_large_reply(server):
    """A reply too large for one write (the server installs a write handler for the rest) must
    not take the connection's read handler away: the next commands are still answered."""
    c = server.client()
    big = b"x" * (8 * 1024 * 1024)
    assert c.set("big", big)
    for _ in range(3):
        assert c.get("big") == big
        assert c.ping()
        assert c.echo("after") == b"after"
