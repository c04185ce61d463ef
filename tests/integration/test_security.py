"""Security surfaces (docs/SECURITY.md): protected mode, AUTH gating, the limits on
unauthenticated clients, protected configs, DEBUG, and the default binds.

Redis counts only 127.0.0.1, ::1 and unix sockets as local clients, so a connection from
127.0.0.2 (still loopback, so allowed on this machine) stands in for a remote client. The
expected texts are what Debian's redis-server 7.0.15 sends; test_protected_mode_text_is_redis
checks that against the real server."""
import shutil
import socket
import subprocess
import tempfile

import pytest

from helpers import Resp, free_port, info_fields, wait_until

REMOTE = "127.0.0.2"  # loopback, but not a "local client" to Redis or memkv
DENIED_PREFIX = ("DENIED Redis is running in protected mode because protected mode is enabled and "
                 "no password is set for the default user.")
NOAUTH = "NOAUTH Authentication required."


def denied_reply(server, port=None):
    """Connect from REMOTE; return (first reply, closed by the server afterwards)."""
    c = Resp(server, source=REMOTE, timeout=10, port=port)
    try:
        c.send("PING")
        reply = c.read()
        return reply, c.closed_by_server(timeout=10)
    finally:
        c.close()


def rejected(server):
    c = Resp(server)
    try:
        return int(info_fields(c, "stats")["rejected_connections"])
    finally:
        c.close()


# ---- protected mode ----

def test_protected_mode_refuses_remote_clients_without_password(server_factory):
    # Listening on every address, as a deployment that forgot requirepass would.
    s = server_factory(["--bind", "0.0.0.0"])
    reply, closed = denied_reply(s)
    assert isinstance(reply, str) and reply.startswith(DENIED_PREFIX), reply
    assert "'CONFIG SET protected-mode no'" in reply and reply.endswith(
        "in order for the server to start accepting connections from the outside."), reply
    assert closed
    assert rejected(s) == 1
    # Local clients are served.
    c = Resp(s)
    assert c("PING") == b"PONG"
    # The operator can lift it at run time, from a local connection.
    assert c("CONFIG", "GET", "protected-mode") == [b"protected-mode", b"yes"]
    assert c("CONFIG", "SET", "protected-mode", "no") == b"OK"
    r = Resp(s, source=REMOTE)
    assert r("PING") == b"PONG"
    r.close()
    assert c("CONFIG", "SET", "protected-mode", "yes") == b"OK"
    assert denied_reply(s)[0].startswith(DENIED_PREFIX)
    c.close()


def test_protected_mode_off_at_start_up(server_factory):
    s = server_factory(["--protected-mode", "no"])
    r = Resp(s, source=REMOTE)
    assert r("PING") == b"PONG"
    r.close()


def test_password_lets_remote_clients_authenticate(server_factory):
    s = server_factory(["--requirepass", "s3cr3t"])
    r = Resp(s, source=REMOTE)
    assert r("PING") == NOAUTH
    assert r("AUTH", "s3cr3t") == b"OK"
    assert r("PING") == b"PONG"
    # Clearing the password from a session brings protected mode back for new clients.
    assert r("CONFIG", "SET", "requirepass", "") == b"OK"
    assert denied_reply(s)[0].startswith(DENIED_PREFIX)
    r.close()


def test_protected_mode_text_is_redis(server_factory):
    """The exact DENIED text, against Debian's redis-server on the same kind of connection."""
    s = server_factory()
    ours, _ = denied_reply(s)
    tmp = tempfile.mkdtemp(prefix="memkv-redis-ref-")
    proc = None
    try:
        for _ in range(5):  # free_port() can race with another process; try a few
            port = free_port()
            proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--dir", tmp],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            up = wait_until(lambda: _accepts(port), timeout=5)
            if up:
                break
            proc.kill()
            proc.wait()
            proc = None
        assert proc is not None, "redis-server did not start"

        class _Ref:
            host = "127.0.0.1"

        _Ref.port = port
        theirs, closed = denied_reply(_Ref)
        assert closed
        assert ours == theirs
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


# ---- AUTH ----

def command_arities(s):
    """{name: arity} from COMMAND, asked by an authenticated client."""
    c = Resp(s)
    try:
        assert c("AUTH", "pw") == b"OK"
        return {e[0].decode(): e[1] for e in c("COMMAND")}
    finally:
        c.close()


CONTAINERS = ("client", "config", "command", "memory", "object", "slowlog", "latency", "pubsub",
              "script")


def test_auth_gates_every_command_but_auth_hello_quit_reset(server_factory):
    s = server_factory(["--requirepass", "pw"])
    arities = command_arities(s)
    names = sorted(arities)
    assert len(names) > 40
    c = Resp(s)
    gated = []
    for name in names:
        if name in ("auth", "hello", "quit", "reset"):
            continue
        # A valid number of arguments, so the answer is about AUTH, not arity; a container's
        # subcommand must exist (an unknown one is refused before AUTH, as Redis 7.0 does).
        args = ["x"] * (abs(arities[name]) - 1)
        if name in CONTAINERS and args:
            args[0] = "help"
        reply = c(name, *args)
        # EXEC refused answers EXECABORT with the reason, as Redis 7.0's rejectCommand.
        want = "EXECABORT Transaction discarded because of: " + NOAUTH if name == "exec" else NOAUTH
        assert reply == want, (name, reply)
        gated.append(name)
    # An unknown subcommand of a container is refused before AUTH, as in Redis 7.0.
    assert c("CLIENT", "x") == "ERR unknown subcommand 'x'. Try CLIENT HELP."
    # RESET needs no AUTH either (as in Redis 7.0), and leaves the client logged out.
    assert c("RESET") == b"RESET"
    assert c("DBSIZE") == NOAUTH
    # Nothing was done: the key space is empty once authenticated.
    assert c("AUTH", "pw") == b"OK"
    assert c("DBSIZE") == 0
    # HELLO without AUTH is refused; with AUTH it authenticates.
    d = Resp(s)
    err = d("HELLO", "2")
    assert isinstance(err, str) and err.startswith("NOAUTH HELLO must be called"), err
    assert isinstance(d("HELLO", "2", "AUTH", "default", "pw"), list)
    assert d("PING") == b"PONG"
    # Wrong passwords: Redis's texts, and no access.
    e = Resp(s)
    assert e("AUTH", "nope") == "WRONGPASS invalid username-password pair or user is disabled."
    assert e("AUTH", "someone", "pw") == "WRONGPASS invalid username-password pair or user is disabled."
    assert e("GET", "k") == NOAUTH
    for conn in (c, d, e):
        conn.close()
    assert len(gated) == len(names) - 4


def test_password_changes_at_run_time(server_factory):
    s = server_factory()
    early = Resp(s)  # connected while there was no password: keeps its access, as in Redis
    admin = Resp(s)
    assert admin("CONFIG", "SET", "requirepass", "pw") == b"OK"
    late = Resp(s)
    assert late("PING") == NOAUTH
    assert early("PING") == b"PONG"
    # Cleared again: the client that never authenticated is let through.
    assert admin("CONFIG", "SET", "requirepass", "") == b"OK"
    assert late("PING") == b"PONG"
    # And set again: it needs AUTH once more.
    assert admin("CONFIG", "SET", "requirepass", "pw2") == b"OK"
    assert late("PING") == NOAUTH
    # requirepass is never shown in the log.
    for conn in (early, admin, late):
        conn.close()
    assert "pw2" not in s.read_stdout()


def test_unauthenticated_clients_cannot_send_big_requests(server_factory):
    s = server_factory(["--requirepass", "pw"])
    for payload, text in ((b"*11\r\n", "ERR Protocol error: unauthenticated multibulk length"),
                          (b"*2\r\n$16385\r\n", "ERR Protocol error: unauthenticated bulk length")):
        c = Resp(s)
        c.sock.sendall(payload)
        assert c.read() == text
        assert c.closed_by_server()
        c.close()
    # Within the limits, and after AUTH without them.
    c = Resp(s)
    assert c("ECHO", "x" * 16384) == NOAUTH
    assert c("AUTH", "pw") == b"OK"
    assert c("MSET", *(["k", "v" * 20000] * 6)) == b"OK"
    c.close()
    # Without a password there is no such limit.
    t = server_factory()
    c = Resp(t)
    assert c("MSET", *(["k", "v" * 20000] * 6)) == b"OK"
    c.close()


# ---- protected configs: paths the server writes ----

def test_dump_dir_is_protected_by_default(server_factory):
    d = tempfile.mkdtemp(prefix="memkv-prot-")
    try:
        s = server_factory()
        c = Resp(s)
        err = c("CONFIG", "SET", "memory-profiling-dump-dir", d)
        assert err == ("ERR CONFIG SET failed (possibly related to argument "
                       "'memory-profiling-dump-dir') - can't set protected config"), err
        assert c("CONFIG", "GET", "memory-profiling-dump-dir") == [b"memory-profiling-dump-dir", b""]
        # All or nothing: a protected one in a batch refuses the batch.
        err = c("CONFIG", "SET", "maxmemory", "10mb", "memory-profiling-dump-dir", d)
        assert isinstance(err, str) and "can't set protected config" in err
        assert c("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"0"]
        # The option itself is fixed at start-up, as in Redis.
        err = c("CONFIG", "SET", "enable-protected-configs", "yes")
        assert err == ("ERR CONFIG SET failed (possibly related to argument "
                       "'enable-protected-configs') - can't set immutable config"), err
        c.close()
        # Start-up (file or command line) may still set it.
        t = server_factory(["--memory-profiling-dump-dir", d])
        c = Resp(t)
        assert c("CONFIG", "GET", "memory-profiling-dump-dir") == [b"memory-profiling-dump-dir", d.encode()]
        c.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_enable_protected_configs_yes_and_local(server_factory):
    d = tempfile.mkdtemp(prefix="memkv-prot-")
    try:
        s = server_factory(["--enable-protected-configs", "yes"])
        c = Resp(s)
        assert c("CONFIG", "SET", "memory-profiling-dump-dir", d) == b"OK"
        c.close()
        t = server_factory(["--enable-protected-configs", "local", "--protected-mode", "no"])
        c = Resp(t)
        assert c("CONFIG", "SET", "memory-profiling-dump-dir", d) == b"OK"
        r = Resp(t, source=REMOTE)
        err = r("CONFIG", "SET", "memory-profiling-dump-dir", "")
        assert isinstance(err, str) and err.endswith("can't set protected config"), err
        assert c("CONFIG", "GET", "memory-profiling-dump-dir")[1] == d.encode()
        c.close()
        r.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_debug_local_means_127_0_0_1_only(server_factory):
    s = server_factory(["--enable-debug-command", "local", "--protected-mode", "no"])
    c = Resp(s)
    assert c("DEBUG", "HELP")[0].startswith(b"DEBUG <subcommand>")
    r = Resp(s, source=REMOTE)
    err = r("DEBUG", "HELP")
    assert isinstance(err, str) and err.startswith("ERR DEBUG command not allowed."), err
    c.close()
    r.close()
    t = server_factory()
    c = Resp(t)
    err = c("DEBUG", "LEAK", "100")
    assert isinstance(err, str) and err.startswith("ERR DEBUG command not allowed."), err
    c.close()


# ---- default binds ----

def test_defaults_listen_on_127_0_0_1_only(server_factory):
    s = server_factory()
    c = Resp(s)
    assert c("CONFIG", "GET", "bind") == [b"bind", b"127.0.0.1"]
    assert c("CONFIG", "GET", "metrics-bind") == [b"metrics-bind", b"127.0.0.1"]
    assert c("CONFIG", "GET", "protected-mode") == [b"protected-mode", b"yes"]
    assert c("CONFIG", "GET", "enable-debug-command") == [b"enable-debug-command", b"no"]
    assert c("CONFIG", "GET", "enable-protected-configs") == [b"enable-protected-configs", b"no"]
    c.close()
    # Another loopback address of the same host reaches neither port.
    for port in (s.port, s.metrics_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=5)
