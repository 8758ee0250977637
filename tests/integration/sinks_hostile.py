"""Endpoints that misbehave on purpose, for the outbound client's
security tests: each one is a small raw-socket server driven by a
`serve(conn, conn_index)` function run on its own thread. They record
what they accept and stop cleanly."""
import socket
import ssl
import struct
import threading

from sinks import accept_each, wait_on


def read_head(c, buf=b""):
    """Reads up to the end of a request head; returns (head, rest) or
    (None, buf) at EOF."""
    while b"\r\n\r\n" not in buf:
        data = c.recv(65536)
        if not data:
            return None, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def content_length(head):
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            return int(v.strip())
    return 0


def read_request(c, buf=b""):
    """One whole request; returns (head, body, rest) or (None, None, buf)."""
    head, buf = read_head(c, buf)
    if head is None:
        return None, None, buf
    n = content_length(head)
    while len(buf) < n:
        data = c.recv(65536)
        if not data:
            return None, None, buf
        buf += data
    return head, buf[:n], buf[n:]


def reset(c):
    """Closes with a RST instead of a FIN."""
    try:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    c.close()


class RawSink:
    """Accepts connections on 127.0.0.1 (or `host`) and runs
    serve(conn, index) for each on a thread. `rcvbuf` shrinks the receive
    buffer of accepted sockets (so a large request cannot be absorbed)."""

    def __init__(self, serve, host="127.0.0.1", port=0, rcvbuf=None, backlog=128):
        self.serve = serve
        self.cond = threading.Condition()
        self.connections = 0
        self.requests = []
        self.open = []
        self.stopped = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path="/hook", host="127.0.0.1", scheme="http"):
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def _accept(self):
        accept_each(self.sock, lambda: self.stopped, self._accepted)

    def _accepted(self, c):
        with self.cond:
            self.connections += 1
            idx = self.connections - 1
            self.open.append(c)
            self.cond.notify_all()
        threading.Thread(target=self._run, args=(c, idx), daemon=True).start()

    def _run(self, c, idx):
        try:
            self.serve(c, idx)
        except (OSError, ValueError, ssl.SSLError):
            pass

    def record(self, item):
        with self.cond:
            self.requests.append(item)
            self.cond.notify_all()

    def wait_until(self, pred, timeout=20, what="sink condition"):
        wait_on(self.cond, pred, timeout, what)

    def wait(self, n, timeout=20):
        self.wait_until(lambda: len(self.requests) >= n, timeout, "%d requests" % n)
        return self.requests

    def close(self):
        self.stopped = True
        self.sock.close()
        with self.cond:
            conns = list(self.open)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass


class ResetIdleSink(RawSink):
    """Keep-alive sink whose first `gate` requests are answered only once
    all `gate` are waiting (so the client opens `gate` connections). Each
    connection, once answered, parks until reset_idle() tells every parked
    connection to close with a RST; later connections are served
    normally."""

    def __init__(self, gate=2):
        self.gate = gate
        self.waiting = 0
        self.parked = 0
        self.resets = 0
        self.go_reset = False
        RawSink.__init__(self, self._serve)

    def _answer(self, c, status=200):
        c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok" % status)

    def _serve(self, c, idx):
        head, body, rest = read_request(c)
        if head is None:
            return
        self.record((idx, head, body))
        if idx < self.gate:
            with self.cond:
                self.waiting += 1
                self.cond.notify_all()
                while self.waiting < self.gate:
                    self.cond.wait()
            self._answer(c)
            with self.cond:
                self.parked += 1
                self.cond.notify_all()
                while not self.go_reset:
                    self.cond.wait()
            reset(c)
            with self.cond:
                self.resets += 1
                self.cond.notify_all()
            return
        while head is not None:
            self._answer(c)
            head, body, rest = read_request(c, rest)
            if head is not None:
                self.record((idx, head, body))

    def reset_idle(self):
        """RSTs every parked connection; returns once all are sent."""
        with self.cond:
            self.go_reset = True
            self.cond.notify_all()
        self.wait_until(lambda: self.resets >= self.gate, what="resets sent")
