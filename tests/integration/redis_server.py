"""A real redis-server for cluster tests (the Debian package; setup.sh
installs it): own temp dir, a free port, AOF on, stopped by pid. And a
minimal RESP client to look at what edgehook stored."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import harness
import sinks


class Redis:
    def __init__(self, port=None, appendonly=True, tls=None):
        """tls: (cert, key) to serve rediss:// only (clients unauthenticated)."""
        self.dir = tempfile.mkdtemp(prefix="edgehook-redis-")
        self.port = port or sinks.closed_port()
        self.appendonly = appendonly
        self.tls = tls
        self.proc = None

    def url(self, host="127.0.0.1"):
        return "%s://%s:%d" % ("rediss" if self.tls else "redis", host, self.port)

    def start(self):
        port = ["--port", str(self.port)]
        if self.tls:
            port = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.tls[0],
                    "--tls-key-file", self.tls[1], "--tls-auth-clients", "no"]
        args = ["redis-server"] + port + ["--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "always", "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.register(self.proc)
        deadline = time.time() + 30
        while True:
            try:
                if self.cmd("PING") == "PONG":
                    return self
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("redis-server did not start on port %d" % self.port)
            time.sleep(0.05)  # polling a port that is not bound yet: nothing to wait on

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cmd(self, *args):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        try:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            return _read(s.makefile("rb"))
        finally:
            s.close()


class RedisError(Exception):
    pass


def _read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise OSError("bad reply %r" % line)


class FakeRedis:
    """A hostile RESP server. mode: "garbage" (answers bytes that are not
    RESP), "stall" (reads, never answers), "partial" (half a bulk reply,
    then silence), "error" (-ERR to every command)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopped = False
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def _accept(self):
        sinks.accept_each(self.sock, lambda: self.stopped, self._accepted)

    def _accepted(self, c):
        self.connections += 1
        self.held.append(c)
        threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            while not self.stopped:
                data = c.recv(65536)
                if not data:
                    return
                if self.mode == "garbage":
                    c.sendall(b"?this is not RESP\r\n\x00\xff")
                elif self.mode == "partial":
                    c.sendall(b"$100\r\nabc")
                elif self.mode == "error":
                    c.sendall(b"-ERR nope\r\n" * data.count(b"*"))
        except OSError:
            return

    def close(self):
        self.stopped = True
        self.sock.close()
        sinks.close_all(self.held)
