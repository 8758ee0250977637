"""Local peers for outbound tests: an HTTP sink with scripted behaviour
and a fake DNS server. Both record what they see; both stop cleanly."""
import socket
import struct
import threading
import time


class Request:
    def __init__(self, method, path, headers, body, conn_id, at):
        self.method, self.path, self.headers, self.body, self.conn_id, self.at = method, path, headers, body, conn_id, at

    def header(self, name):
        return self.headers.get(name.lower())


def wait_on(cond, pred, timeout, what):
    """Waits under cond (notified by whoever changes what pred reads)
    until pred() holds; AssertionError after timeout seconds. what: the
    text of the failure, or a callable giving it then."""
    deadline = time.time() + timeout
    with cond:
        while not pred():
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("timed out waiting for " + (what() if callable(what) else what))
            cond.wait(left)


def accept_each(sock, stopped, on_conn):
    """Accepts on sock until it is closed or stopped() is true, calling
    on_conn(conn) on the accepting thread for each connection."""
    while not stopped():
        try:
            c, _ = sock.accept()
        except OSError:
            return
        on_conn(c)


class Sink:
    """HTTP/1.1 sink. `behave(req_index, request)` returns one of:
    ("status", code, extra_headers_dict) -- answer and keep the connection
    ("close", code)       -- answer with Connection: close and close
    ("blackhole",)        -- never answer
    ("reset",)            -- drop the connection with a RST
    ("raw", bytes)        -- send bytes verbatim, then close
    ("idle_close", code)  -- answer keep-alive, then close the idle connection
    Default: 200 for everything."""

    def __init__(self, behave=None, host="127.0.0.1", family=socket.AF_INET, tls=None):
        """tls: (certfile, keyfile) to serve HTTPS."""
        self.behave = behave or (lambda i, r: ("status", 200, {}))
        self.tls = None
        self.resumed = 0
        self.sni = []  # the server name of every ClientHello (None: no SNI)
        self.handshake_errors = []
        if tls:
            import ssl
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
            self.tls.sni_callback = self._on_sni
        self.requests = []
        self.connections = 0
        self.closed = 0  # connections this sink has ended or seen end
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _on_sni(self, sock, name, ctx):
        with self.lock:
            self.sni.append(name)

    def url(self, path="/hook", host="127.0.0.1"):
        return "%s://%s:%d%s" % ("https" if self.tls else "http", host, self.port, path)

    def _accept(self):
        accept_each(self.sock, lambda: self.stopped, self._accepted)

    def _accepted(self, c):
        with self.lock:
            self.connections += 1
            cid = self.connections
        threading.Thread(target=self._start, args=(c, cid), daemon=True).start()

    def _start(self, c, cid):
        if self.tls:
            try:
                c.settimeout(10)
                c = self.tls.wrap_socket(c, server_side=True)
                c.settimeout(None)
            except Exception as e:
                self.handshake_errors.append(str(e))
                c.close()
                return
            if c.session_reused:
                with self.lock:
                    self.resumed += 1
        self._serve(c, cid)

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            data = c.recv(65536)
            if not data:
                return None, buf
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(buf) < n:
            data = c.recv(65536)
            if not data:
                return None, buf
            buf += data
        return (method, path, headers, buf[:n]), buf[n:]

    def _serve(self, c, cid):
        if self._serve_conn(c, cid) is not False:
            with self.cond:
                self.closed += 1
                self.cond.notify_all()

    def wait_closed(self, n, timeout=30):
        """Waits until n connections have ended on the sink's side."""
        wait_on(self.cond, lambda: self.closed >= n, timeout,
                lambda: "sink to close %d connections (closed %d)" % (n, self.closed))

    def _serve_conn(self, c, cid):
        buf = b""
        try:
            while True:
                parsed, buf = self._read_request(c, buf)
                if parsed is None:
                    return
                req = Request(*parsed, conn_id=cid, at=time.time())
                with self.cond:
                    idx = len(self.requests)
                    self.requests.append(req)
                    self.cond.notify_all()
                action = self.behave(idx, req)
                kind = action[0]
                if kind == "blackhole":
                    self.held.append(c)
                    return False
                if kind == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
                    return
                if kind == "raw":
                    c.sendall(action[1])
                    c.close()
                    return
                code = action[1]
                extra = action[2] if len(action) > 2 else {}
                body = b'{"ok":true}'
                head = "HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (code, len(body))
                head += "".join("%s: %s\r\n" % kv for kv in extra.items())
                if kind == "close":
                    head += "Connection: close\r\n"
                c.sendall(head.encode() + b"\r\n" + body)
                if kind == "close":
                    if self.tls:
                        # close_notify first: OpenSSL forgets sessions of
                        # connections that end without it
                        try:
                            c = c.unwrap()
                        except (OSError, ValueError):
                            pass
                    c.close()
                    return
                if kind == "idle_close":
                    time.sleep(0.05)
                    c.close()
                    return
        except OSError:
            return

    def wait(self, n, timeout=30):
        wait_on(self.cond, lambda: len(self.requests) >= n, timeout,
                lambda: "%d requests at the sink (got %d)" % (n, len(self.requests)))
        return self.requests

    def close(self):
        self.stopped = True
        self.sock.close()
        close_all(self.held)


def close_all(socks):
    """Closes each socket, whatever state it is in."""
    for c in socks:
        try:
            c.close()
        except OSError:
            pass


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class FakeDNS:
    """Answers A/AAAA from `zone` {name: {"A": [...], "AAAA": [...]}};
    names in `nxdomain` get NXDOMAIN, names in `silent` get nothing,
    names in `truncate` get TC over UDP and the full answer over TCP;
    names in `garbage` get random bytes; `wrong_id` names get an answer
    with a different id (must be ignored)."""

    def __init__(self, zone=None, nxdomain=(), silent=(), truncate=(), garbage=(), wrong_id=()):
        self.zone = zone or {}
        self.nxdomain, self.silent, self.truncate = set(nxdomain), set(silent), set(truncate)
        self.garbage, self.wrong_id = set(garbage), set(wrong_id)
        self.queries = []
        self.tcp_queries = []
        # UDP and TCP on one port number: retry until both are free
        for _ in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket()
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        self.stopped = False
        threading.Thread(target=self._udp_loop, daemon=True).start()
        threading.Thread(target=self._tcp_loop, daemon=True).start()

    def resolv_conf(self, path, timeout=1, attempts=1):
        with open(path, "w") as f:
            f.write("nameserver 127.0.0.1:%d\noptions timeout:%d attempts:%d\n" % (self.port, timeout, attempts))
        return path

    @staticmethod
    def _parse_question(msg):
        qid = struct.unpack("!H", msg[:2])[0]
        off, labels = 12, []
        while msg[off]:
            l = msg[off]
            labels.append(msg[off + 1:off + 1 + l].decode())
            off += 1 + l
        qtype = struct.unpack("!H", msg[off + 1:off + 3])[0]
        return qid, ".".join(labels).lower(), qtype, msg[12:off + 5]

    def _answer(self, msg, tc=False):
        qid, name, qtype, question = self._parse_question(msg)
        if name in self.nxdomain:
            return struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        rtype = "A" if qtype == 1 else "AAAA"
        addrs = self.zone.get(name, {}).get(rtype, [])
        if tc:
            return struct.pack("!HHHHHH", qid, 0x8380, 1, 0, 0, 0) + question
        answers = b""
        for a in addrs:
            rdata = socket.inet_pton(socket.AF_INET if qtype == 1 else socket.AF_INET6, a)
            answers += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(rdata)) + rdata
        return struct.pack("!HHHHHH", qid, 0x8180, 1, len(addrs), 0, 0) + question + answers

    def _udp_loop(self):
        import os
        while not self.stopped:
            try:
                msg, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            try:
                qid, name, qtype, _ = self._parse_question(msg)
            except Exception:
                continue
            self.queries.append((name, qtype, peer))
            if name in self.silent:
                continue
            if name in self.garbage:
                self.udp.sendto(os.urandom(40), peer)
                self.udp.sendto(msg[:2] + os.urandom(60), peer)
                continue
            if name in self.wrong_id:
                bad = bytearray(self._answer(msg))
                bad[0] ^= 0xff
                self.udp.sendto(bytes(bad), peer)
                continue
            self.udp.sendto(self._answer(msg, tc=name in self.truncate), peer)

    def _tcp_loop(self):
        while not self.stopped:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            try:
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                msg = data[2:]
                self.tcp_queries.append(self._parse_question(msg)[1])
                ans = self._answer(msg)
                c.sendall(struct.pack("!H", len(ans)) + ans)
            except Exception:
                pass
            finally:
                c.close()

    def close(self):
        self.stopped = True
        self.udp.close()
        self.tcp.close()
