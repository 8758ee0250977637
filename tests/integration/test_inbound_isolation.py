"""A request sees only its own connection's bytes (issue 12 item 1).

Connections interleave: one has parsed its head and waits for its body
while others send partial heads, bad heads, or go away. Every emitted
event must carry exactly the headers and body its own connection sent.

Ordering without sleeps: a request answered on a control connection is a
barrier. Bytes already sent on loopback are readable before the barrier's
bytes, and epoll reports ready descriptors in the order they became ready,
so the server has read everything sent earlier once the barrier answers.
Between a head and its body no barrier is used (a barrier is a request
too): bytes sent on another connection before the body are still read
before it, for the same reason."""
import json
import random

from harness import Edgehook, Reader, assert_eq, assert_true, build_request, read_response


def barrier(ctl):
    ctl.sock.sendall(build_request("GET", "/healthz"))
    assert_eq(ctl.read_response().status, 200, "barrier")


def refused_barrier(eh):
    """A barrier that parses no request: a fresh connection whose first
    byte is refused. Earlier pieces were readable before the listener saw
    it, so they have been read once it is answered."""
    s = eh.connect()
    s.sendall(b"\x01")
    assert_eq(read_response(s).status, 400, "refused barrier")
    s.close()


def head_of(event, key, body, extra=None):
    h = {"Content-Type": "application/json", "X-Webhook-Event": event, "Idempotency-Key": key}
    h.update(extra or {})
    req = build_request("POST", "/webhooks/demo", body, h)
    return req[:len(req) - len(body)]


def send_head_in_two_reads(sock, head, ctl):
    """The second read grows the buffer, so the body's read (the third)
    lands in place: a parse result kept from the head would still look
    current to a cache keyed by buffer address."""
    sock.sendall(head[:20])
    barrier(ctl)
    sock.sendall(head[20:])


def events_by_key(eh, n):
    return {e["delivery_id"]: e for e in (json.loads(l) for l in eh.wait_stdout(n, 30))}


def waiting_body_vs_other_head(b_action):
    """A's head is parsed (100 Continue seen) and its body pending; then B
    acts; then A's body completes. A's event must be A's."""
    body_a = b'{"from":"a"}'
    with Edgehook() as eh:
        ctl = Reader(eh.connect())
        a = eh.connect()
        b = eh.connect()  # accepted by the barrier below, before A's head ends
        send_head_in_two_reads(a, head_of("a.event", "key-a", body_a, {"Expect": "100-continue"}), ctl)
        ra = Reader(a)
        assert_eq(ra.read_response().status, 100, "A's head parsed")
        b_action(b, ctl)
        a.sendall(body_a)
        assert_eq(ra.read_response().status, 202, "A accepted")
        ev = events_by_key(eh, 1)
        assert_true("key-a" in ev, "A's event carries A's Idempotency-Key: %r" % list(ev))
        assert_eq(ev["key-a"]["event"], "a.event", "A's event type")
        assert_eq(ev["key-a"]["data"], {"from": "a"}, "A's body")
        a.close()
        b.close()
        ctl.sock.close()


def test_waiting_body_keeps_own_headers_while_other_head_partial():
    body_b = b'{"from":"b"}'
    head_b = head_of("b.event", "key-b", body_b)
    with Edgehook() as eh:
        ctl = Reader(eh.connect())
        a = eh.connect()
        b = eh.connect()
        send_head_in_two_reads(a, head_of("a.event", "key-a", b'{"from":"a"}', {"Expect": "100-continue"}), ctl)
        ra = Reader(a)
        assert_eq(ra.read_response().status, 100, "A's head parsed")
        b.sendall(head_b[:-2])  # all of B's header lines, not the blank line
        a.sendall(b'{"from":"a"}')
        assert_eq(ra.read_response().status, 202)
        # B, completed afterwards, is its own request, not a duplicate of A
        b.sendall(head_b[-2:] + body_b)
        assert_eq(read_response(b).status, 202, "B accepted, not a duplicate")
        ev = events_by_key(eh, 2)
        assert_eq(sorted(ev), ["key-a", "key-b"])
        assert_eq((ev["key-a"]["event"], ev["key-a"]["data"]), ("a.event", {"from": "a"}))
        assert_eq((ev["key-b"]["event"], ev["key-b"]["data"]), ("b.event", {"from": "b"}))


def test_waiting_body_keeps_own_headers_after_other_closed():
    def gone(b, ctl):
        b.sendall(head_of("b.event", "key-b", b"{}")[:-2])
        b.close()  # its buffer is freed: A must not read from it

    waiting_body_vs_other_head(gone)


def test_waiting_body_keeps_own_headers_after_other_head_rejected():
    def bad(b, ctl):
        b.sendall(b"POST /webhooks/demo HTTP/1.1\r\nHost: a\r\nX-Webhook-Event: b.event\r\n"
                  b"Idempotency-Key: key-b\r\nBad Header: x\r\n\r\n")
        assert_eq(read_response(b).status, 400, "B refused")

    waiting_body_vs_other_head(bad)


def interleaved_distinct_requests(seed, nconns=24):
    rng = random.Random(seed)
    with Edgehook() as eh:
        ctl = Reader(eh.connect(timeout=30))
        plan = []
        for i in range(nconns):
            key = "key-%d-%d-%x" % (seed, i, rng.getrandbits(32))
            event = "ev.%d.%d" % (seed, i)
            body = json.dumps({"i": i, "pad": "p" * rng.randint(0, 3000)}).encode()
            pad = {"X-Pad-%d" % i: "x" * rng.randint(0, 2000)}
            raw = head_of(event, key, body, pad) + body
            head_end = len(raw) - len(body)
            # the head's end is always a cut: its body comes in a later read
            cuts = sorted(set(rng.sample(range(1, len(raw)), rng.randint(1, 12)) + [head_end]))
            pieces = [raw[a:b] for a, b in zip([0] + cuts, cuts + [len(raw)])]
            plan.append({"key": key, "event": event, "body": json.loads(body), "pieces": pieces,
                         "sock": eh.connect(timeout=30)})
        barrier(ctl)  # every connection accepted: pieces are read in send order
        pending = list(range(nconns))
        while pending:
            i = rng.choice(pending)
            p = plan[i]
            p["sock"].sendall(p["pieces"].pop(0))
            if not p["pieces"]:
                pending.remove(i)
            if rng.random() < 0.7:
                refused_barrier(eh)  # this piece is read on its own
        for p in plan:
            r = read_response(p["sock"])
            assert_eq(r.status, 202, "seed %d %s" % (seed, p["key"]))
            p["sock"].close()
        ev = events_by_key(eh, nconns)
        for p in plan:
            e = ev.get(p["key"])
            assert_true(e is not None, "seed %d: event for %s" % (seed, p["key"]))
            assert_eq(e["event"], p["event"], "seed %d: event type of %s" % (seed, p["key"]))
            assert_eq(e["data"], p["body"], "seed %d: body of %s" % (seed, p["key"]))
        ctl.sock.close()


# Seeds 5, 14 and 17 each caught the shared header array on the old server
# (another connection's headers, or its Idempotency-Key taken as a duplicate).
def test_interleaved_heads_keep_own_headers_seed_5():
    interleaved_distinct_requests(5)


def test_interleaved_heads_keep_own_headers_seed_14():
    interleaved_distinct_requests(14)


def test_interleaved_heads_keep_own_headers_seed_17():
    interleaved_distinct_requests(17)


def test_interleaved_heads_keep_own_headers_seed_31():
    interleaved_distinct_requests(31)
