"""Bad input and limits, over raw sockets: random bytes, huge and negative lengths, unterminated
frames, inline commands, proto-max-bulk-len, client-query-buffer-limit, 100k arguments,
maxclients, a client that never reads its replies (client-output-buffer-limit), pipelining,
and the idle timeout. In every case the server survives, answers other clients meanwhile,
and frees what the offender held.

Protocol error texts are Redis 7.0's (checked against Debian's redis-server 7.0.15).
"""
import os
import random
import socket
import subprocess
import time

import hiredis
import pytest

from helpers import Resp, client_ids, info_fields, wait_until

HIREDIS_CLIENT = os.environ.get(
    "MEMKV_HIREDIS_CLIENT",
    os.path.join(os.path.dirname(__file__), "../../build/tests/integration/hiredis-client"))


def raw_exchange(server, data, wait=2.0, expect=None):
    """Send data on a fresh connection; return (everything received, whether the server
    closed the connection). Stops reading at close, or after `wait` s of silence; once
    len(expect) bytes have arrived, after a short extra wait (to see a close or extra bytes)."""
    s = socket.create_connection((server.host, server.port), timeout=30)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_until_close(s, wait, expect)
    finally:
        s.close()


def read_until_close(s, wait, expect=None):
    s.settimeout(wait)
    out = b""
    try:
        while True:
            d = s.recv(1 << 16)
            if not d:
                return out, True
            out += d
            if expect is not None and len(out) >= len(expect):
                s.settimeout(0.05)
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


def used_memory(c):
    return int(info_fields(c, "memory")["used_memory"])


def assert_serving(server):
    other = Resp(server)
    try:
        assert other("PING") == b"PONG"
        assert other("SET", "alive", "yes") == b"OK"
        assert other("GET", "alive") == b"yes"
    finally:
        other.close()
    assert server.alive()


def wait_memory_back(c, baseline, tolerance):
    """Poll until used_memory is within `tolerance` bytes of `baseline`; return the last
    reading (buffers of closed clients are freed at once, but the measuring client's own
    buffers move a little)."""
    last = [used_memory(c)]

    def ok():
        last[0] = used_memory(c)
        return last[0] - baseline <= tolerance

    wait_until(ok, timeout=10)
    return last[0]


# ---- malformed input ----

PROTOCOL_ERRORS = [
    (b"*1\r\n$9999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$+4\r\nPING\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$ 4\r\nPING\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    # memkv keeps the 1M multibulk count limit of the issue (Redis 7.0 raised it to INT_MAX).
    (b"*1048577\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*9999999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*+1\r\n$4\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b"*2\r\n$4\r\nECHO\r\n:5\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
    (b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    (b'echo "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"echo 'a'b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    # Commands before the bad frame are answered first.
    (b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$-2\r\n",
     b"+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
]


@pytest.mark.parametrize("data,reply", PROTOCOL_ERRORS)
def test_protocol_errors_close_the_connection(server, data, reply):
    watcher = Resp(server)
    got, closed = raw_exchange(server, data)
    assert got == reply
    assert closed
    # Another client, connected all along, is fine; so are new ones.
    assert watcher("PING") == b"PONG"
    watcher.close()
    assert_serving(server)


def test_huge_bulk_length_allocates_nothing(server, c):
    """$9999999999999 and an over-the-limit multibulk count are refused before any
    allocation proportional to them."""
    before = used_memory(c)
    for data in (b"*1\r\n$9999999999999\r\n", b"*1048577\r\n", b"*2\r\n$536870913\r\n"):
        got, closed = raw_exchange(server, data)
        assert got.startswith(b"-ERR Protocol error: invalid")
        assert closed
    # Generous against bookkeeping noise, tiny against what the lengths announced.
    assert used_memory(c) - before < 1024 * 1024


NOT_ERRORS = [
    # Lines that are not protocol errors: no close.
    (b"$9999999999999\r\n",
     b"-ERR unknown command '$9999999999999', with args beginning with: \r\n"),
    (b"*-5\r\nPING\r\n", b"+PONG\r\n"),
    (b"*0\r\nPING\r\n", b"+PONG\r\n"),
    (b"\r\n\r\nPING\r\n", b"+PONG\r\n"),
    (b"*1\r\n$3\r\nPING\r\n", b"-ERR unknown command 'PIN', with args beginning with: \r\n"),
    (b"*2\r\n$4\r\necho\r\n$0\r\n\r\n", b"$0\r\n\r\n"),
    # As in Redis, the two bytes after a bulk's payload are skipped unchecked.
    (b"*1\r\n$4\r\nPINGxx", b"+PONG\r\n"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nbXY*1\r\n$4\r\nPING\r\n", b"+OK\r\n+PONG\r\n"),
    (b"*2\r\n$4\r\necho\r\n$3\r\nabc\r\r", b"$3\r\nabc\r\n"),
]


@pytest.mark.parametrize("data,reply", NOT_ERRORS)
def test_odd_but_valid_input(server, data, reply):
    got, closed = raw_exchange(server, data, expect=reply)
    assert got == reply
    assert not closed


def test_inline_commands(server):
    cases = [
        (b"PING\r\n", b"+PONG\r\n"),
        (b"PING\n", b"+PONG\r\n"),
        (b"ping  hello\r\n", b"$5\r\nhello\r\n"),
        (b"   ECHO    spaced   \r\n", b"$6\r\nspaced\r\n"),
        (b'echo "a b" \'c d\'\r\n', b"-ERR wrong number of arguments for 'echo' command\r\n"),
        (b'echo "a b c"\r\n', b"$5\r\na b c\r\n"),
        (b"echo 'it''s'\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b'echo "a\\x41\\n"\r\n', b"$3\r\naA\n\r\n"),
        (b'echo "tab\\there"\r\n', b"$8\r\ntab\there\r\n"),
        (b"echo 'single \\'quoted\\''\r\n", b"$15\r\nsingle 'quoted'\r\n"),
        (b'echo ""\r\n', b"$0\r\n\r\n"),
        (b'set k "\\x00\\r\\n"\r\nstrlen k\r\nget k\r\n', b"+OK\r\n:3\r\n$3\r\n\x00\r\n\r\n"),
        (b"set a 1\r\nincr a\r\nincrby a 10\r\n", b"+OK\r\n:2\r\n:12\r\n"),
        (b"PING\r\nPING\nPING\r\n", b"+PONG\r\n+PONG\r\n+PONG\r\n"),
    ]
    for data, reply in cases:
        got, closed = raw_exchange(server, data, expect=reply)
        assert (got, closed) == (reply, reply.startswith(b"-ERR Protocol")), data


def test_inline_split_across_writes(server):
    s = socket.create_connection((server.host, server.port), timeout=30)
    for piece in (b"EC", b"HO ", b'"hel', b'lo"', b"\r", b"\n"):
        s.sendall(piece)
        time.sleep(0.02)
    got, closed = read_until_close(s, 0.5)
    s.close()
    assert (got, closed) == (b"$5\r\nhello\r\n", False)


def test_http_request_is_dropped(server):
    got, closed = raw_exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (got, closed) == (b"", True)
    got, closed = raw_exchange(server, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    assert closed
    assert_serving(server)


def test_random_bytes(server, c):
    """Seeded random garbage, several rounds and shapes. The server answers with error
    replies (protocol errors, unknown commands) or nothing, closes the connection after a
    protocol error, and keeps serving everyone else."""
    rng = random.Random(20240501)
    prefixes = [b"", b"*", b"*3\r\n", b"*3\r\n$3\r\nSET\r\n$", b"*2\r\n$4\r\nECHO\r\n"]
    for round_no in range(40):
        blob = prefixes[round_no % len(prefixes)] + bytes(
            rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
        got, closed = raw_exchange(server, blob, wait=0.2)
        reader = hiredis.Reader()
        reader.feed(got)
        replies = []
        while True:
            try:
                r = reader.gets()
            except hiredis.ProtocolError as e:
                raise AssertionError("round %d: unparseable reply %r (%s)" % (round_no, got, e))
            if r is False:
                break
            replies.append(r)
        assert got == b"" or got.endswith(b"\r\n"), (round_no, got)
        for r in replies:
            # Random data makes no valid command worth answering with anything but an error.
            assert isinstance(r, hiredis.ReplyError), (round_no, blob[:80], replies)
        if any(str(r).startswith("ERR Protocol error") for r in replies):
            assert str(replies[-1]).startswith("ERR Protocol error"), (round_no, replies)
            assert closed, round_no
        assert c("PING") == b"PONG", round_no
    assert server.alive()
    assert_serving(server)
    assert wait_until(lambda: len(client_ids(c)) == 1)


def test_unterminated_frames_then_close(server, c):
    before = used_memory(c)
    frames = [
        b"*3\r",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n",
        b"*1\r\n$4\r\nPI",
        b"PIN",
        b'ECHO "unterminated quote',
        b"*2\r\n$4\r\nECHO\r\n$100000\r\n" + b"x" * 50000,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$50000000\r\n" + b"y" * (1024 * 1024),
    ]
    for frame in frames:
        s = socket.create_connection((server.host, server.port), timeout=30)
        s.sendall(frame)
        time.sleep(0.05)
        assert c("PING") == b"PONG"
        s.close()
    assert wait_until(lambda: client_ids(c) == {c("CLIENT", "ID")})
    assert c("DBSIZE") == 0
    # Whatever the half-read commands held (up to a 50 MB bulk being read) is freed.
    # Tolerance: 256 KiB of allocator/bookkeeping noise, far below what was buffered.
    after = wait_memory_back(c, before, 256 * 1024)
    assert after - before <= 256 * 1024, (before, after)
    assert_serving(server)


# ---- configured limits ----

def test_proto_max_bulk_len(server, c):
    assert c("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"OK"
    limit = 1024 * 1024
    # Exactly the limit is fine.
    assert c("SET", "k", b"x" * limit) == b"OK"
    assert c("STRLEN", "k") == limit
    # One byte more: a protocol error as soon as the length is read, then close.
    got, closed = raw_exchange(server, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (limit + 1))
    assert (got, closed) == (b"-ERR Protocol error: invalid bulk length\r\n", True)
    # The key name is a bulk too.
    got, closed = raw_exchange(server, b"*2\r\n$3\r\nGET\r\n$%d\r\n" % (limit + 1))
    assert (got, closed) == (b"-ERR Protocol error: invalid bulk length\r\n", True)
    assert c("STRLEN", "k") == limit
    # Raising it again lets the bigger value through (new connection, new limit).
    assert c("CONFIG", "SET", "proto-max-bulk-len", "2mb") == b"OK"
    other = Resp(server)
    assert other("SET", "k2", b"z" * (limit + 1)) == b"OK"
    assert other("STRLEN", "k2") == limit + 1
    other.close()


def incomplete_bulk_payload():
    """2 MB of a 3 MB bulk (within proto-max-bulk-len), never finished."""
    return b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (3 * 1024 * 1024) + b"x" * (2 * 1024 * 1024)


def incomplete_multibulk_payload():
    """2 MB of small arguments of a multibulk never finished."""
    arg = b"$10\r\n0123456789\r\n"
    nargs = 2 * 1024 * 1024 // len(arg) + 1
    return b"*%d\r\n" % (nargs + 1000) + b"$4\r\nMSET\r\n" + arg * nargs


@pytest.mark.parametrize("make_payload", [incomplete_bulk_payload, incomplete_multibulk_payload])
def test_client_query_buffer_limit(server, c, make_payload):
    assert c("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"OK"
    before = used_memory(c)
    disconnections = int(info_fields(c, "stats")["client_query_buffer_limit_disconnections"])
    s = socket.create_connection((server.host, server.port), timeout=30)
    payload = make_payload()
    try:
        for i in range(0, len(payload), 64 * 1024):
            s.sendall(payload[i:i + 64 * 1024])
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed by the server mid-send: what we want
    got, closed = read_until_close(s, 10)
    s.close()
    assert closed
    assert got == b""
    stats = info_fields(c, "stats")
    assert int(stats["client_query_buffer_limit_disconnections"]) == disconnections + 1
    assert c("DBSIZE") == 0
    # Tolerance: 256 KiB, far below the 1 MiB+ the offender's query buffer held.
    after = wait_memory_back(c, before, 256 * 1024)
    assert after - before <= 256 * 1024, (before, after)
    assert_serving(server)
    # A big command that fits is still fine: some 400 KB of arguments.
    keys = ["k%d" % i for i in range(30000)]
    assert c("DEL", *keys) == 0


def run_hiredis_client(server, *args, timeout=120):
    return subprocess.run([HIREDIS_CLIENT, str(server.port)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)


def test_command_with_100k_arguments_hiredis(server, c):
    before = used_memory(c)
    p = run_hiredis_client(server, "bigarg", 100000)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == "OK bigarg\n"
    assert c("DBSIZE") == 0
    # The 100k-slot argument arrays and buffers are not kept after the command.
    after = wait_memory_back(c, before, 512 * 1024)
    assert after - before <= 512 * 1024, (before, after)


def test_command_with_100k_arguments_redis_py(server):
    r = server.client()
    try:
        mapping = {"key:%d" % i: "value:%d" % i for i in range(50000)}
        assert r.mset(mapping) is True
        assert r.dbsize() == 50000
        keys = list(mapping)
        values = r.mget(keys)
        assert values == [v.encode() for v in mapping.values()]
        assert r.execute_command("EXISTS", *(keys + keys)) == 100000
        assert r.delete(*(keys + ["missing:%d" % i for i in range(50000)])) == 50000
        assert r.dbsize() == 0
        assert r.ping() is True
    finally:
        r.close()


def test_max_multibulk_count_accepted(server):
    """1024*1024 arguments is the limit itself: accepted (the command is then refused
    normally)."""
    n = 1024 * 1024
    payload = b"*%d\r\n$6\r\nEXISTS\r\n" % n + b"$1\r\nk\r\n" * (n - 1)
    s = socket.create_connection((server.host, server.port), timeout=60)
    s.sendall(payload)
    s.settimeout(60)
    got = b""
    while not got.endswith(b"\r\n"):
        d = s.recv(1 << 16)
        if not d:
            break
        got += d
    s.close()
    assert got == b":0\r\n"


def test_maxclients(server, c):
    assert c("CONFIG", "SET", "maxclients", 5) == b"OK"
    others = [Resp(server) for _ in range(4)]
    for o in others:
        assert o("PING") == b"PONG"
    rejected = int(info_fields(c, "stats")["rejected_connections"])
    for _ in range(3):
        got, closed = raw_exchange(server, b"PING\r\n")
        assert (got, closed) == (b"-ERR max number of clients reached\r\n", True)
    assert int(info_fields(c, "stats")["rejected_connections"]) == rejected + 3
    assert int(info_fields(c, "clients")["connected_clients"]) == 5
    # The ones already connected keep working.
    for o in others:
        assert o("PING") == b"PONG"
    # Room again after one leaves.
    others.pop().close()
    assert wait_until(lambda: int(info_fields(c, "clients")["connected_clients"]) == 4)
    newcomer = Resp(server)
    assert newcomer("PING") == b"PONG"
    newcomer.close()
    for o in others:
        o.close()
    assert c("CONFIG", "SET", "maxclients", 10000) == b"OK"


def test_client_that_never_reads(server, c):
    """A client pipelines GETs of a 100 KB value and never reads. With
    client-output-buffer-limit "normal 1mb 0 0" the server closes it once its pending replies
    pass 1 MB, answers other clients meanwhile, and frees the offender's buffers."""
    assert c("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0") == b"OK"
    assert c("SET", "big", b"v" * (100 * 1024)) == b"OK"
    # Settle the measuring client's own buffers, then take the baseline.
    used_memory(c)
    time.sleep(0.1)
    before = used_memory(c)
    disconnections = int(info_fields(c, "stats")["client_output_buffer_limit_disconnections"])

    offender = Resp(server, rcvbuf=4096)
    offender_id = offender("CLIENT", "ID")
    assert offender_id in client_ids(c)
    get = Resp.encode("GET", "big")
    try:
        # Up to 4000 x 100 KB = 400 MB of replies: far beyond socket buffers and the limit.
        for _ in range(40):
            offender.sock.sendall(get * 100)
            # Other clients are served meanwhile.
            assert c("PING") == b"PONG"
            if offender_id not in client_ids(c):
                break
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed by the server while we were still sending
    assert wait_until(lambda: offender_id not in client_ids(c), timeout=10), \
        "the client that never reads is still connected"
    stats = info_fields(c, "stats")
    assert int(stats["client_output_buffer_limit_disconnections"]) == disconnections + 1
    assert c("PING") == b"PONG"
    assert c("STRLEN", "big") == 100 * 1024
    # The offender's reply buffer (over 1 MB when it was cut off) is freed.
    # Tolerance: 256 KiB of allocator/bookkeeping noise, well below the 1 MiB limit.
    after = wait_memory_back(c, before, 256 * 1024)
    assert after - before <= 256 * 1024, (before, after)
    offender.close()
    assert_serving(server)


def test_soft_output_buffer_limit(server, c):
    """Soft limit: over 64 KB for 1 second gets the client closed even below the hard one."""
    assert c("CONFIG", "SET", "client-output-buffer-limit", "normal 0 64kb 1") == b"OK"
    assert c("SET", "big", b"v" * (100 * 1024)) == b"OK"
    offender = Resp(server, rcvbuf=4096)
    offender_id = offender("CLIENT", "ID")
    offender.sock.sendall(Resp.encode("GET", "big") * 200)
    assert wait_until(lambda: offender_id not in client_ids(c), timeout=10)
    assert int(info_fields(c, "stats")["client_output_buffer_limit_disconnections"]) == 1
    offender.close()
    assert_serving(server)


def test_soft_output_buffer_limit_huge_seconds(server, c):
    """soft_seconds up to LLONG_MAX is accepted (as Redis does) and means "never": the check
    must not form soft_seconds * 1000 (signed overflow: UBSan aborted the server, a release
    build wrapped it negative and closed the client at once)."""
    assert c("CONFIG", "SET", "client-output-buffer-limit",
             "normal 0 64kb 9223372036854775807") == b"OK"
    assert c("SET", "big", b"v" * (100 * 1024)) == b"OK"
    offender = Resp(server, rcvbuf=4096)
    offender_id = offender("CLIENT", "ID")
    offender.sock.sendall(Resp.encode("GET", "big") * 200)
    # Well over the soft limit for a while (checked on every write attempt): still connected.
    time.sleep(1.5)
    assert offender_id in client_ids(c)
    assert int(info_fields(c, "stats")["client_output_buffer_limit_disconnections"]) == 0
    offender.close()
    assert c("CONFIG", "SET", "client-output-buffer-limit", "normal 1gb 256mb 60") == b"OK"
    assert_serving(server)


def test_pipelining_10k_in_one_write(server, c):
    cmds = []
    for i in range(5000):
        cmds.append(Resp.encode("SET", "p:%d" % i, "v%d" % i))
        cmds.append(Resp.encode("INCR", "counter"))
    s = socket.create_connection((server.host, server.port), timeout=60)
    s.sendall(b"".join(cmds))
    reader = hiredis.Reader()
    replies = []
    while len(replies) < 10000:
        d = s.recv(1 << 16)
        assert d, "closed after %d replies" % len(replies)
        reader.feed(d)
        while True:
            r = reader.gets()
            if r is False:
                break
            replies.append(r)
    s.close()
    for i in range(5000):
        assert replies[2 * i] == b"OK"
        assert replies[2 * i + 1] == i + 1
    assert c("GET", "counter") == b"5000"
    assert c("MGET", "p:0", "p:4999") == [b"v0", b"v4999"]
    # GETs pipelined in one write come back in order.
    s = socket.create_connection((server.host, server.port), timeout=60)
    s.sendall(b"".join(Resp.encode("GET", "p:%d" % i) for i in range(10000)))
    reader = hiredis.Reader()
    replies = []
    while len(replies) < 10000:
        d = s.recv(1 << 16)
        assert d
        reader.feed(d)
        while True:
            r = reader.gets()
            if r is False:
                break
            replies.append(r)
    s.close()
    assert replies == [b"v%d" % i for i in range(5000)] + [None] * 5000


def test_idle_timeout(server):
    busy = Resp(server)
    assert busy("CONFIG", "SET", "timeout", 1) == b"OK"
    idle = Resp(server)
    assert idle("PING") == b"PONG"
    start = time.monotonic()
    # The busy client talks every 200 ms and stays; the idle one is closed after ~1 s
    # (watched for up to 8 s, and at least 2.5 s so the busy one outlives the timeout).
    closed_at = None
    idle.sock.setblocking(False)
    while time.monotonic() - start < (2.5 if closed_at else 8.0):
        assert busy("PING") == b"PONG"
        try:
            if idle.sock.recv(1) == b"" and closed_at is None:
                closed_at = time.monotonic() - start
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed_at = closed_at or time.monotonic() - start
        time.sleep(0.2)
    assert closed_at is not None, "idle client not closed within 8 s with timeout 1"
    assert closed_at >= 0.9
    assert busy("PING") == b"PONG"
    idle.close()
    # timeout 0 disables it again.
    assert busy("CONFIG", "SET", "timeout", 0) == b"OK"
    busy.close()
    quiet = Resp(server)
    assert quiet("PING") == b"PONG"
    time.sleep(1.5)
    assert quiet("PING") == b"PONG"
    quiet.close()
