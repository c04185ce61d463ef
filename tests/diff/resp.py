"""A raw RESP2/RESP3 client that keeps every reply's type, for an exact comparison.

helpers.Resp (tests/integration) parses with hiredis, which gives a status reply and a bulk
reply the same Python type; here they must differ ("+OK" is not "$2 OK"), so replies are
parsed by hand into tagged tuples:

    ("status", b"OK")  ("error", b"ERR ...")  ("int", 5)  ("bulk", b"...")  ("nil",)
    ("array", [reply, ...])  ("nilarray",)

and, once a connection has switched to RESP3 (HELLO 3), RESP3's own types, each kept apart
from its RESP2 look-alike so that a shape is compared as exactly as a value:

    ("null",)  ("map", [(key, value), ...])  ("set", [reply, ...])  ("double", b"1.5")
    ("bool", True)  ("verbatim", b"txt", b"...")  ("push", [reply, ...])  ("bignum", b"...")
    ("bloberror", b"...")

and two pseudo-replies the harness uses: ("closed",) when the server closed the connection
and ("timeout",) when it did not answer in time."""
import select
import socket

CLOSED = ("closed",)
TIMEOUT = ("timeout",)


class Closed(Exception):
    pass


def encode(argv):
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def is_tracking_push(r):
    return (r[0] == "push" and r[1] and r[1][0][0] == "bulk"
            and r[1][0][1] in (b"invalidate", b"tracking-redir-broken"))


class Conn:
    def __init__(self, address, timeout=20.0):
        """address: (host, port) for TCP, or a str path for a Unix socket."""
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = bytearray()
        self.pos = 0
        # When set, client-side caching's pushes (invalidate, tracking-redir-broken) are not
        # replies: read() counts them here and goes on to the next frame.
        self.skip_tracking_pushes = False
        self.tracking_pushes = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the read that follows reports the close

    def pending(self):
        """Whether a reply (or the close) has started to arrive, without waiting."""
        if self.pos < len(self.buf):
            return True
        return bool(select.select([self.sock], [], [], 0)[0])

    def _fill(self):
        try:
            data = self.sock.recv(1 << 16)
        except ConnectionResetError:
            data = b""
        if not data:
            raise Closed()
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return data

    def read(self):
        """One reply as a tagged tuple; CLOSED or TIMEOUT instead of raising."""
        try:
            while True:
                r = self._reply()
                if not (self.skip_tracking_pushes and is_tracking_push(r)):
                    return r
                self.tracking_pushes += 1
        except Closed:
            return CLOSED
        except socket.timeout:
            return TIMEOUT

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("status", rest)
        if t == b"-":
            return ("error", rest)
        if t == b":":
            return ("int", int(rest))
        if t == b"$":
            n = int(rest)
            return ("nil",) if n < 0 else ("bulk", self._exact(n))
        if t == b"*":
            n = int(rest)
            if n < 0:
                return ("nilarray",)
            return ("array", [self._reply() for _ in range(n)])
        # RESP3
        if t == b"_":
            return ("null",) if rest == b"" else ("garbage", line)
        if t == b"%":
            return ("map", [(self._reply(), self._reply()) for _ in range(int(rest))])
        if t == b"~":
            return ("set", [self._reply() for _ in range(int(rest))])
        if t == b">":
            return ("push", [self._reply() for _ in range(int(rest))])
        if t == b",":
            return ("double", rest)
        if t == b"#":
            return ("bool", True) if rest == b"t" else ("bool", False) if rest == b"f" else (
                "garbage", line)
        if t == b"(":
            return ("bignum", rest)
        if t == b"=":
            data = self._exact(int(rest))
            return ("verbatim", data[:3], data[4:]) if data[3:4] == b":" else ("garbage", data)
        if t == b"!":
            return ("bloberror", self._exact(int(rest)))
        return ("garbage", line)

    def call(self, argv):
        self.send(encode(argv))
        return self.read()
