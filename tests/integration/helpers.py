"""Small helpers shared by integration tests: a raw RESP2 connection (replies parsed by
hiredis.Reader), pipelining in batches, INFO parsing and polling.

A raw connection is used where redis-py would hide what is measured: the exact text of INFO,
error texts, and clients that never read their replies."""
import socket
import time

import hiredis

# The subsystems of memory accounting, as INFO memory's memkv_subsystem_* fields name them.
SUBSYSTEMS = ("strings", "hashes", "lists", "sets", "zsets", "key_index", "expires_index",
              "query_buffers", "output_buffers", "clients", "profiler", "http", "other")


class Resp:
    """A raw RESP2 connection whose replies are parsed by hiredis.Reader.

    A call sends one command and returns its reply: bytes (bulk or status), int, list, None,
    or, for an error reply, a str with the exact error text ("ERR syntax error"). Bulk
    replies are bytes, so an error never compares equal to a value."""

    def __init__(self, server, rcvbuf=None, timeout=60, source=None, port=None):
        """source: a local address to connect from (e.g. "127.0.0.2", which Redis does not
        count as a local client); port: another port of the server's host."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect, so the advertised window stays small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((server.host, port or server.port))
        self.reader = hiredis.Reader()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, *args):
        self.sock.sendall(self.encode(*args))

    def read(self):
        while True:
            reply = self.reader.gets()
            if reply is not False:
                break
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)
        if isinstance(reply, hiredis.ReplyError):
            return str(reply)
        return reply

    def __call__(self, *args):
        self.send(*args)
        return self.read()

    def pipeline(self, commands, batch=10000):
        """Send commands (tuples of arguments) in batches of `batch`, each batch in one write,
        and return every reply in order."""
        replies = []
        for i in range(0, len(commands), batch):
            chunk = commands[i:i + batch]
            self.sock.sendall(b"".join(self.encode(*cmd) for cmd in chunk))
            for _ in chunk:
                replies.append(self.read())
        return replies

    def closed_by_server(self, timeout=10):
        """True when the server closes the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def parse_info(text):
    """INFO text -> {field: value as str} (section headers and blank lines skipped)."""
    if isinstance(text, bytes):
        text = text.decode()
    fields = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            fields[k] = v
    return fields


def info_fields(c, *sections):
    text = c("INFO", *sections)
    assert isinstance(text, bytes), text
    return parse_info(text)


def mem_info(c):
    return info_fields(c, "memory")


def client_ids(c):
    text = c("CLIENT", "LIST").decode()
    return {int(line.split(" ", 1)[0][3:]) for line in text.splitlines()}


def wait_until(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def free_port():
    """A loopback TCP port that was free a moment ago (for helper processes that need one)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
