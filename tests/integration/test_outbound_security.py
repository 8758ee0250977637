"""The outbound client against hostile or broken endpoints (second
outside audit, issue 19 and issue 12 #12): resets on pooled connections
while edgehook is stopped, slow TLS handshakes, early answers, framing
violations, Retry-After tricks, truncated TLS bodies, black-holed
addresses, runs of 1xx answers, and endpoints sharing one origin."""
import json
import os
import re
import resource
import select
import signal
import socket
import ssl
import threading
import time

from harness import Edgehook, Reader, assert_eq, assert_true, build_request, serial
from pki import path
from sinks import FakeDNS, Sink
from sinks_hostile import RawSink, ResetIdleSink, read_request, reset


def post_event(eh, ev):
    r = eh.request("POST", "/api/v1/events", json.dumps(ev).encode(), {"Content-Type": "application/json"})
    assert_eq(r.status, 202, "event accepted")
    return r.json()["id"]


def metric(eh, name):
    m = eh.request("GET", "/metrics").body.decode()
    return int(re.search(r"^%s (\d+)$" % re.escape(name), m, re.M).group(1))


def delivery(eh, evid):
    r = eh.request("GET", "/api/v1/events/" + evid)
    assert_eq(r.status, 200, "event status")
    return r.json()["deliveries"][0]


def wait_delivery(eh, evid, states, timeout=20):
    """Polls the status API until the delivery reaches one of `states`."""
    deadline = time.time() + timeout
    while True:
        d = delivery(eh, evid)
        if d["state"] in states:
            return d
        if time.time() > deadline:
            raise AssertionError("delivery stuck in %r: %r" % (d["state"], d))
        time.sleep(0.02)


def test_reset_idle_connections_never_call_back_inside_send():
    """Two idle pooled connections reset by the peer while edgehook is
    SIGSTOPped, then an event handled in the same loop pass after
    SIGCONT: the request failed on both before http_client_send
    returned, the callback freed the op inside it and the drain later
    cancelled freed memory (heap-use-after-free under ASan)."""
    sink = ResetIdleSink(gate=2)
    cfg = """
server:
  drain_timeout: 1s
webhook:
  retries: 1
  backoff: 1h
  max_backoff: 1h
  timeout: 10s
  endpoints:
    - {url: "%s", name: rst, max_in_flight: 2}
""" % sink.url()
    with Edgehook(cfg) as eh:
        first = [post_event(eh, {"event": "e", "i": i}) for i in range(2)]
        sink.wait_until(lambda: sink.parked >= 2, what="two answered connections")
        for evid in first:
            wait_delivery(eh, evid, ("delivered",))
        # the request that will post the event: a connection the server
        # already watches, so its bytes are read in the same loop pass as
        # the resets below
        s = eh.connect()
        reader = Reader(s)
        s.sendall(build_request("GET", "/healthz"))
        assert_eq(reader.read_response().status, 200)
        eh.signal(signal.SIGSTOP)
        try:
            s.sendall(build_request("POST", "/api/v1/events", json.dumps({"event": "e", "i": 2}),
                                    {"Content-Type": "application/json"}))
            sink.reset_idle()
        finally:
            eh.signal(signal.SIGCONT)
        r = reader.read_response()
        s.close()
        assert_eq(r.status, 202)
        d = wait_delivery(eh, r.json()["id"], ("delivered", "failed", "retrying"))
        assert_eq(d["state"], "delivered", "resent on a fresh connection: %r" % d)
        assert_eq(d["attempts"], 1, "one attempt")
    assert_true(not any("AddressSanitizer" in l for l in eh.stderr_lines), "no ASan report")
    sink.close()


class SlowHandshakeSink(RawSink):
    """HTTPS sink that sees the ClientHello arrive and then withholds its
    answer until release(): the client waits for the ServerHello."""

    def __init__(self):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(path("server.pem"), path("server.key"))
        self.hello = threading.Event()
        self.go = threading.Event()
        RawSink.__init__(self, self._serve)

    def _serve(self, c, idx):
        select.select([c], [], [], 30)
        if c.recv(1, socket.MSG_PEEK):
            self.hello.set()
        self.go.wait(30)
        t = self.ctx.wrap_socket(c, server_side=True)
        head, body, rest = read_request(t)
        while head is not None:
            self.record(body)
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            head, body, rest = read_request(t, rest)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@serial
def test_slow_tls_handshake_does_not_spin():
    """While BearSSL waits for the server's records, EPOLLOUT stayed armed
    on an always-writable socket: the loop spun on recv() = EAGAIN for
    the whole stall (~100 % CPU). The process's CPU time during a stall
    is compared with the stall's own length, with a wide margin."""
    sink = SlowHandshakeSink()
    cfg = """
webhook:
  ca_file: %s
  timeout: 30s
  endpoints:
    - {url: "https://localhost:%d/slow", name: slow}
""" % (path("ca.pem"), sink.port)
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e"})
        assert_true(sink.hello.wait(20), "ClientHello arrived")
        hz = os.sysconf("SC_CLK_TCK")
        t0, w0 = cpu_ticks(eh.proc.pid), time.time()
        time.sleep(1.5)  # the stall being measured, not a synchronisation
        t1, w1 = cpu_ticks(eh.proc.pid), time.time()
        sink.go.set()
        wait_delivery(eh, evid, ("delivered",))
        stall = (w1 - w0) * hz
        assert_true(t1 - t0 <= 0.2 * stall, "CPU during the stall: %d ticks of %.0f" % (t1 - t0, stall))
    sink.close()


def test_early_final_response_ends_attempt_with_its_status():
    """An endpoint that answers 410 after the head and closes without
    reading the body: the client saw only "connection reset" (it wrote
    everything before reading) and retried. The early answer counts:
    410 Gone is final (every other non-2xx would be retried)."""
    def serve(c, idx):
        c.settimeout(30)
        head, rest = read_head_only(c)
        if head is None:
            return
        sink.record(head)
        c.sendall(b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        c.close()  # unread body: the kernel answers with a RST

    sink = RawSink(serve, rcvbuf=4096)
    cfg = """
server:
  max_body_bytes: 16MiB
webhook:
  retries: 3
  backoff: 50ms
  max_queue_bytes: 64MiB
  endpoints:
    - {url: "%s", name: early}
""" % sink.url()
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "big", "pad": "x" * (10 << 20)})
        d = wait_delivery(eh, evid, ("delivered", "failed"))
        assert_eq(d["state"], "failed")
        assert_eq(d["last_status"], 410, "the early answer's status: %r" % d)
        assert_eq(d["attempts"], 1, "410 is not retried")
        assert_eq(sink.connections, 1)
    sink.close()


def read_head_only(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = c.recv(4096)
        if not data:
            return None, buf
        buf += data
    return buf.split(b"\r\n\r\n", 1)


def test_response_with_violated_framing_is_not_reused():
    """A 204 that announces a body (Content-Length, forbidden for 204)
    and sends it late: the bytes were read as the answer to the next
    request already sent on that connection. The connection is closed
    instead, so the next request gets its own answer (503)."""
    go = threading.Event()

    def serve(c, idx):
        c.settimeout(30)
        head, body, rest = read_request(c)
        if head is None:
            return
        sink.record((idx, body))
        if idx == 0:
            go.wait(30)
            junk = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            c.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: %d\r\n\r\n" % len(junk))
            head, body, rest = read_request(c, rest)
            if head is None:
                return
            sink.record((idx, body))
            c.sendall(junk)
        while head is not None:
            c.sendall(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
            head, body, rest = read_request(c, rest)
            if head is not None:
                sink.record((idx, body))

    sink = RawSink(serve)
    cfg = """
webhook:
  retries: 0
  endpoints:
    - {url: "%s", name: liar, max_in_flight: 1}
""" % sink.url()
    with Edgehook(cfg) as eh:
        one = post_event(eh, {"event": "e", "i": 1})
        two = post_event(eh, {"event": "e", "i": 2})
        sink.wait(1)
        go.set()
        assert_eq(wait_delivery(eh, one, ("delivered", "failed"))["last_status"], 204)
        d = wait_delivery(eh, two, ("delivered", "failed"))
        assert_eq((d["state"], d["last_status"]), ("failed", 503), "second request got its own answer")
        assert_eq(sink.connections, 2, "the lying connection was not reused")
    sink.close()


def test_retry_after_leading_zeros_is_one_second():
    """Retry-After: 0000000001 is one second; ten digits were taken as
    overflow and the retry waited max_backoff (an hour here)."""
    sink = Sink(lambda i, r: ("status", 503, {"Retry-After": "0000000001"}) if i == 0 else ("status", 200, {}))
    cfg = """
webhook:
  retries: 1
  backoff: 1h
  max_backoff: 1h
  endpoints:
    - {url: "%s", name: zeros}
""" % sink.url()
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e"})
        eh.wait_log(r"delivery failed.*retry_in=1s", 20)
        sink.wait(2, 30)
        assert_eq(wait_delivery(eh, evid, ("delivered",))["attempts"], 2)
    sink.close()


class TlsCloseSink(RawSink):
    """HTTPS sink answering with a close-delimited body, then closing the
    TCP connection with or without close_notify."""

    def __init__(self, notify):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(path("server.pem"), path("server.key"))
        self.notify = notify
        RawSink.__init__(self, self._serve)

    def _serve(self, c, idx):
        c.settimeout(30)
        t = self.ctx.wrap_socket(c, server_side=True)
        head, body, rest = read_request(t)
        if head is None:
            return
        self.record(body)
        t.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"partial\":")
        if self.notify:
            t = t.unwrap()
        t.close()


def test_tls_close_without_close_notify_truncates_close_delimited_body():
    """After the handshake a TCP close without close_notify can be an
    attacker's truncation: it is not a clean end of a body delimited by
    the close (the same body ended with close_notify is)."""
    cut, clean = TlsCloseSink(False), TlsCloseSink(True)
    cfg = """
webhook:
  ca_file: %s
  retries: 0
  endpoints:
    - {url: "https://localhost:%d/cut", name: cut, events: [cut]}
    - {url: "https://localhost:%d/clean", name: clean, events: [clean]}
""" % (path("ca.pem"), cut.port, clean.port)
    with Edgehook(cfg) as eh:
        a = post_event(eh, {"event": "cut"})
        b = post_event(eh, {"event": "clean"})
        d = wait_delivery(eh, a, ("delivered", "failed"))
        assert_eq(d["state"], "failed", "truncated body is not a delivery: %r" % d)
        assert_true("close_notify" in (d["last_error"] or ""), "named: %r" % d["last_error"])
        assert_eq(wait_delivery(eh, b, ("delivered", "failed"))["state"], "delivered")
    cut.close()
    clean.close()


def test_blackholed_first_address_moves_to_next():
    """A name with two addresses whose first one drops SYNs: the connect
    to it used up the whole attempt. Each address now gets its share of
    the attempt and the next one is tried."""
    sink = Sink()
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.2", sink.port))
    hole.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue: later SYNs are dropped
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.2", sink.port))
        fillers.append(f)
    dns = FakeDNS(zone={"pair.test": {"A": ["127.0.0.2", "127.0.0.1"]}})
    eh = Edgehook()
    cfg = """
webhook:
  resolv_conf: %s
  retries: 0
  timeout: 6s
  endpoints:
    - {url: "http://pair.test:%d/hook", name: pair}
""" % (dns.resolv_conf(os.path.join(eh.dir, "resolv.conf")), sink.port)
    eh.config = cfg
    with eh:
        evid = post_event(eh, {"event": "e"})
        d = wait_delivery(eh, evid, ("delivered", "failed"), 30)
        assert_eq(d["state"], "delivered", "second address used: %r" % d)
        assert_eq(len(sink.requests), 1)
    for f in fillers:
        f.close()
    hole.close()
    dns.close()
    sink.close()


def test_run_of_interim_responses_is_a_loop():
    """Thousands of 1xx answers before the final one were skipped by
    recursion, a stack frame with a 64-header array each: with a 1 MiB
    stack the process crashed."""
    def serve(c, idx):
        c.settimeout(30)
        head, body, rest = read_request(c)
        if head is None:
            return
        sink.record(body)
        c.sendall(b"HTTP/1.1 100\r\n\r\n" * 6000 + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        c.close()

    sink = RawSink(serve)

    def small_stack():
        resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, 1 << 20))

    cfg = "webhook:\n  retries: 0\n  endpoints:\n    - {url: \"%s\", name: chatty}\n" % sink.url()
    with Edgehook(cfg, preexec_fn=small_stack) as eh:
        evid = post_event(eh, {"event": "e"})
        assert_eq(wait_delivery(eh, evid, ("delivered", "failed"))["last_status"], 200)
    sink.close()


def test_endpoints_sharing_an_origin_keep_one_connection_limit():
    """Every send overwrote the origin's connection limit with its own
    endpoint's max_in_flight, so endpoints on one origin fought over it
    (2 then 8: seven connections). The limit is set from the config
    once: the smallest max_in_flight of the endpoints on that origin."""
    go = threading.Event()

    def serve(c, idx):
        c.settimeout(30)
        head, body, rest = read_request(c)
        while head is not None:
            sink.record(body)
            go.wait(30)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            head, body, rest = read_request(c, rest)

    sink = RawSink(serve)
    cfg = """
webhook:
  endpoints:
    - {url: "%s", name: a, events: [a], max_in_flight: 2}
    - {url: "%s", name: b, events: [b], max_in_flight: 8}
""" % (sink.url("/a"), sink.url("/b"))
    with Edgehook(cfg) as eh:
        ids = [post_event(eh, {"event": "a"})] + [post_event(eh, {"event": "b"}) for _ in range(6)]
        opened = metric(eh, "edgehook_client_connections_opened_total")
        go.set()
        for evid in ids:
            wait_delivery(eh, evid, ("delivered",))
        assert_eq(opened, 2, "connections opened to the shared origin")
        assert_true(sink.connections <= 2, "sink saw %d connections" % sink.connections)
    sink.close()
