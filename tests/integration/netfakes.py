"""Peers for the DNS/TLS/reload tests: a TLS sink that records the SNI
each client sent, and openssl s_server / s_client driven through their
command letters (renegotiation)."""
import re
import socket
import ssl
import subprocess
import threading
import time

from sinks import accept_each, wait_on


class SniSink:
    """HTTPS sink answering 200 and closing. `names` gets, per handshake,
    the server_name the client sent (None when it sent no SNI)."""

    def __init__(self, certfile, keyfile):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.ctx.sni_callback = self._sni
        self.names = []
        self.requests = []
        self.cond = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _sni(self, sslobj, name, ctx):
        with self.cond:
            self.names.append(name)
        return None

    def _accept(self):
        accept_each(self.sock, lambda: self.stopped,
                    lambda c: threading.Thread(target=self._serve, args=(c,), daemon=True).start())

    def _serve(self, c):
        try:
            c.settimeout(10)
            c = self.ctx.wrap_socket(c, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            want = int(m.group(1)) if m else 0
            while len(body) < want:
                chunk = c.recv(65536)
                if not chunk:
                    return
                body += chunk
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            with self.cond:
                self.requests.append(head.split(b"\r\n", 1)[0].decode())
                self.cond.notify_all()
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()

    def wait(self, n, timeout=20):
        wait_on(self.cond, lambda: len(self.requests) >= n, timeout,
                lambda: "%d requests at the SNI sink (got %d)" % (n, len(self.requests)))
        return list(self.requests)

    def close(self):
        self.stopped = True
        self.sock.close()


class OpenSSLPeer:
    """openssl s_server or s_client with stdin kept open, so its command
    letters ("r": server asks for renegotiation, "R": client renegotiates)
    can be typed at the right moment. Output (stdout and stderr) is kept
    in `out`; stop() ends the process by its pid."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.cond:
                self.out.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.out.append(None)  # end of output
            self.cond.notify_all()

    def text(self):
        with self.cond:
            return "\n".join(l for l in self.out if l is not None)

    def wait_for(self, pattern, timeout=20):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for l in self.out:
                    if l is not None and rx.search(l):
                        return l
                left = deadline - time.time()
                if left <= 0 or (self.out and self.out[-1] is None):
                    raise AssertionError("openssl: no line matching %r in:\n%s" % (pattern, self.text()))
                self.cond.wait(min(left, 0.5))

    def wait_exit(self, timeout=20):
        """Waits for the end of the output (not just the exit: the last
        lines may still be in the pipe); None when it did not end."""
        deadline = time.time() + timeout
        with self.cond:
            while not (self.out and self.out[-1] is None):
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)
        try:
            return self.proc.wait(max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            return None

    def type(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        try:
            self.proc.stdin.close()
        except OSError:
            pass


def s_server(cert, key):
    """Returns (peer, port) for an s_server on an ephemeral loopback port."""
    peer = OpenSSLPeer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key])
    port = int(peer.wait_for(r"^ACCEPT ").rsplit(":", 1)[1])
    return peer, port
