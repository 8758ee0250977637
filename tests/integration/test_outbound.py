"""Outbound deliveries against sinks run by the test: payloads, Standard
Webhooks signatures (verified independently), patterns, retries,
Retry-After, dead endpoints beside healthy ones, DNS, keep-alive, queue
bounds, status API, drain."""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import tempfile
import time

from harness import REPO, Edgehook, assert_eq, assert_true, read_response, serial
from sinks import FakeDNS, Sink, closed_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def verify_standard(secret, req):
    """Independent Standard Webhooks verification."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id, ts = req.header("webhook-id"), req.header("webhook-timestamp")
    signed = msg_id.encode() + b"." + ts.encode() + b"." + req.body
    expect = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in req.header("webhook-signature").split(" ") if s.startswith("v1,")]
    return expect in sigs and abs(int(ts) - time.time()) < 300


def post_events(eh, payload, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return eh.request("POST", "/api/v1/events", body, dict({"Content-Type": "application/json"}, **(headers or {})))


def test_delivery_headers_body_and_signature():
    sink = Sink()
    cfg = """
webhook:
  user_agent: edgehook-test/1
  endpoints:
    - url: "%s"
      name: sink
      secret: %s
      headers:
        Authorization: "Bearer my-secret-token"
""" % (sink.url("/webhook?x=1"), SECRET)
    with Edgehook(cfg) as eh:
        raw = b'{"event":"provider.created","resource_type":"provider","resource_id":"550e8400","n": [1, 2]}'
        r = post_events(eh, raw)
        assert_eq(r.status, 202)
        reply = r.json()
        assert_true(reply["id"].startswith("evt_"), "evt id")
        assert_eq(reply["endpoints"], 1)
        req = sink.wait(1)[0]
        assert_eq(req.method, "POST")
        assert_eq(req.path, "/webhook?x=1")
        assert_eq(req.header("content-type"), "application/json")
        assert_eq(req.header("user-agent"), "edgehook-test/1")
        assert_eq(req.header("authorization"), "Bearer my-secret-token")
        assert_eq(req.header("webhook-id"), reply["id"])
        assert_true(req.body.startswith(raw[:-1] + b',"timestamp":"'), "body as given plus timestamp")
        ts = json.loads(req.body)["timestamp"]
        assert_true(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ts), "ISO 8601 UTC")
        assert_true(verify_standard(SECRET, req), "signature verifies independently")
        r = post_events(eh, {"event": "x", "timestamp": "2026-03-26T12:00:00Z"})
        req = sink.wait(2)[1]
        assert_eq(req.body, b'{"event": "x", "timestamp": "2026-03-26T12:00:00Z"}')
    sink.close()


def test_agentstack_patterns():
    ci, mon = Sink(), Sink()
    with open(os.path.join(REPO, "..", "shared", "testdata", "agentstack-config.yaml")) as f:
        cfg = f.read()
    cfg = cfg.replace("https://ci.example.com/hooks/agentstack", ci.url()).replace(
        "https://monitoring.example.com/ingest", mon.url())
    with Edgehook(cfg) as eh:
        # routing is decided at ingest: the 202 says how many endpoints
        # matched, so nothing needs waiting for to know none else will come
        for ev, n in [("provider_build.started", 2), ("provider.created", 1), ("provider_build.done", 2),
                      ("user.deleted", 1)]:
            r = post_events(eh, {"event": ev})
            assert_eq((r.status, r.json()["endpoints"]), (202, n), ev)
        mon.wait(4)
        ci.wait(2)
        assert_eq(sorted(json.loads(r.body)["event"] for r in ci.requests), ["provider_build.done", "provider_build.started"])
        assert_eq(len(mon.requests), 4)
        assert_eq(ci.requests[0].header("authorization"), "Bearer ci-token")
        assert_eq(mon.requests[0].header("x-api-key"), "monitoring-key")
    ci.close()
    mon.close()


def test_batch_ingest_and_validation():
    sink = Sink()
    cfg = 'server:\n  max_body_bytes: 2KiB\nwebhook:\n  endpoints:\n    - url: "%s"\n      events: ["a.*"]\n' % sink.url()
    with Edgehook(cfg) as eh:
        r = post_events(eh, [{"event": "a.one"}, {"event": "b.two"}])
        assert_eq(r.status, 202)
        body = r.json()
        assert_eq([x["endpoints"] for x in body], [1, 0])
        sink.wait(1)
        for bad, why in [(b"{not json", "not valid JSON"), (b'{"x":1}', "missing string"), (b'{"event":5}', "missing string"),
                         (b'[{"event":"a"}, 3]', "event 1"), (b"[]", "empty array"), (b"", "empty body")]:
            r = post_events(eh, bad)
            assert_eq(r.status, 400, bad)
            assert_true(why in r.json()["error"], "%r: %r" % (bad, r.json()))
        r = post_events(eh, {"event": "a.big", "pad": "x" * 3000})
        assert_eq(r.status, 413)
        assert_eq(eh.request("DELETE", "/api/v1/events").status, 405)
    sink.close()


def test_api_token():
    sink = Sink()
    cfg = 'api:\n  token: ${EH_TEST_API_TOKEN}\nwebhook:\n  endpoints:\n    - url: "%s"\n' % sink.url()
    with Edgehook(cfg, env={"EH_TEST_API_TOKEN": "s3cret"}) as eh:
        r = post_events(eh, {"event": "a"})
        assert_eq(r.status, 401)
        assert_eq(r.header("www-authenticate"), "Bearer")
        assert_eq(post_events(eh, {"event": "a"}, {"Authorization": "Bearer wrong"}).status, 401)
        assert_eq(post_events(eh, {"event": "a"}, {"Authorization": "Bearer s3cret"}).status, 202)
        assert_eq(eh.request("GET", "/api/v1/endpoints").status, 401)
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers={"Authorization": "Bearer s3cret"}).status, 200)
        sink.wait(1)
    sink.close()


def test_retries_then_success_same_webhook_id():
    sink = Sink(lambda i, r: ("status", 503 if i < 2 else 200, {}))
    cfg = 'webhook:\n  retries: 3\n  backoff: 100ms\n  endpoints:\n    - url: "%s"\n      secret: %s\n' % (sink.url(), SECRET)
    with Edgehook(cfg) as eh:
        r = post_events(eh, {"event": "e"})
        evid = r.json()["id"]
        reqs = sink.wait(3)
        assert_eq({q.header("webhook-id") for q in reqs}, {evid})
        assert_true(all(verify_standard(SECRET, q) for q in reqs), "every attempt signed")
        gap1, gap2 = reqs[1].at - reqs[0].at, reqs[2].at - reqs[1].at
        # backoff * 2^n - 20 %: a slow machine only makes the gaps longer
        assert_true(gap1 >= 0.08, "first backoff at least 100ms - 20%% (%.3f)" % gap1)
        assert_true(gap2 >= 0.16, "second backoff at least 200ms - 20%% (%.3f)" % gap2)
        eh.wait_for(lambda: eh.request("GET", "/api/v1/events/" + evid).json()["deliveries"][0]["state"] == "delivered",
                    30, "delivered state")
        st = eh.request("GET", "/api/v1/events/" + evid).json()
        d = st["deliveries"][0]
        assert_eq((d["state"], d["attempts"], d["last_status"]), ("delivered", 3, 200))
        logs = eh.wait_log("delivery failed", count=2)
        assert_eq(len(logs), 2)
        assert_true('err="http 503"' in logs[0] and "attempt=1" in logs[0] and "retry_in=" in logs[0], logs[0])
        assert_true(re.search(r" after=\d+(ms|(\.\d)?s) ", logs[0]), "attempt duration logged: " + logs[0])
        m = eh.request("GET", "/metrics").body.decode()
        assert_true('edgehook_deliveries_retried_total{endpoint="127.0.0.1"} 2' in m, "retried counted")
        assert_true('edgehook_deliveries_delivered_total{endpoint="127.0.0.1"} 1' in m, "delivered counted")
    sink.close()


def test_retry_after_honored():
    sink = Sink(lambda i, r: ("status", 429, {"Retry-After": "1"}) if i == 0 else ("status", 200, {}))
    cfg = 'webhook:\n  retries: 2\n  backoff: 10ms\n  endpoints:\n    - url: "%s"\n' % sink.url()
    with Edgehook(cfg) as eh:
        post_events(eh, {"event": "e"})
        reqs = sink.wait(2)
        gap = reqs[1].at - reqs[0].at
        assert_true(0.9 < gap < 2.0, "waited Retry-After (%.2fs)" % gap)
    sink.close()


def test_no_retry_by_default():
    """Without retries every failure is final; with them, every non-2xx
    is retried (test_delivery_semantics.py)."""
    always503 = Sink(lambda i, r: ("status", 503, {}))
    bad = Sink(lambda i, r: ("status", 400, {}))
    redirect = Sink(lambda i, r: ("status", 302, {"Location": "http://127.0.0.1:1/"}))
    cfg = """
webhook:
  backoff: 10ms
  endpoints:
    - {url: "%s", name: default}
    - {url: "%s", name: bad}
    - {url: "%s", name: redirect}
""" % (always503.url(), bad.url(), redirect.url())
    with Edgehook(cfg) as eh:
        evid = post_events(eh, {"event": "e"}).json()["id"]
        for s in (always503, bad, redirect):
            s.wait(1)
        # once every delivery is in a final state no attempt can follow
        eh.wait_for(lambda: all(d["state"] == "failed" for d in
                                eh.request("GET", "/api/v1/events/" + evid).json()["deliveries"]), 30, "final states")
        for s in (always503, bad, redirect):
            assert_eq(len(s.requests), 1, "exactly one attempt")
        st = eh.request("GET", "/api/v1/events/" + evid).json()
        assert_eq(sorted((d["endpoint"], d["state"], d["last_status"]) for d in st["deliveries"]),
                  [("bad", "failed", 400), ("default", "failed", 503), ("redirect", "failed", 302)])
        logs = eh.wait_log("delivery failed", count=3)
        assert_eq(len(logs), 3)
    for s in (always503, bad, redirect):
        s.close()


@serial
def test_dead_endpoints_do_not_delay_healthy_one():
    healthy = Sink()
    hole = Sink(lambda i, r: ("blackhole",))
    reset = Sink(lambda i, r: ("reset",))
    refused = closed_port()
    cfg = """
webhook:
  timeout: 1500ms
  endpoints:
    - {url: "%s", name: healthy}
    - {url: "%s", name: hole, max_in_flight: 2}
    - {url: "%s", name: reset}
    - {url: "http://127.0.0.1:%d/", name: refused}
""" % (healthy.url(), hole.url(), reset.url(), refused)
    with Edgehook(cfg) as eh:
        ids = [post_events(eh, {"event": "e", "n": i}).json()["id"] for i in range(50)]
        healthy.wait(50)
        # all 50 arrived while the black hole still held its first two
        # attempts (1.5 s each): the dead endpoints delayed nothing
        assert_eq(eh.endpoints()["hole"]["failed"], 0, "healthy endpoint served before any black-hole timeout")
        assert_eq(eh.request("GET", "/healthz").status, 200)
        # every delivery to the dead ones ends as a logged failure
        eh.wait_for(lambda: sum("delivery failed" in l for l in eh.stderr_lines) >= 150, 20, "150 failure lines")
        logs = [l for l in eh.stderr_lines if "delivery failed" in l]
        assert_eq(sum("endpoint=hole" in l and "err=timeout" in l for l in logs), 50)
        assert_eq(sum("endpoint=refused" in l and 'err="connection refused"' in l for l in logs), 50)
        assert_eq(sum("endpoint=reset" in l and ('err="connection reset"' in l or 'err="connection closed"' in l) for l in logs), 50)
        st = eh.request("GET", "/api/v1/events/" + ids[-1]).json()
        states = {d["endpoint"]: d["state"] for d in st["deliveries"]}
        assert_eq(states, {"healthy": "delivered", "hole": "failed", "reset": "failed", "refused": "failed"})
    for s in (healthy, hole, reset):
        s.close()


def test_keep_alive_reuse_and_stale_connections():
    sink = Sink()
    stale = Sink(lambda i, r: ("idle_close", 200))
    cfg = """
webhook:
  endpoints:
    - {url: "%s", name: sink, max_in_flight: 4}
    - {url: "%s", name: stale, max_in_flight: 1}
""" % (sink.url(), stale.url())
    with Edgehook(cfg) as eh:
        for i in range(40):
            post_events(eh, {"event": "e", "i": i})
            if i % 10 == 9:
                # the stale sink closes its idle connection after answering:
                # the next delivery finds it pooled but dead
                stale.wait(i + 1)
                stale.wait_closed(stale.connections)
        sink.wait(40)
        stale.wait(40)
        assert_true(sink.connections <= 4, "at most max_in_flight connections (%d)" % sink.connections)
        eh.wait_for(lambda: eh.endpoints()["stale"]["delivered"] == 40, 30, "40 delivered to stale")
        assert_eq(eh.endpoints()["stale"]["failed"], 0)
        assert_eq([l for l in eh.stderr_lines if "delivery failed" in l], [], "stale connections are not failures")
        m = eh.request("GET", "/metrics").body.decode()
        reused = int(re.search(r"edgehook_client_connections_reused_total (\d+)", m).group(1))
        assert_true(reused >= 30, "pool reuse visible in metrics (%d)" % reused)
    sink.close()
    stale.close()


def test_dns_fake_server():
    sink = Sink()
    closer = Sink(lambda i, r: ("close", 200))
    sink6 = Sink(host="::1", family=socket.AF_INET6)
    dns = FakeDNS(zone={"sink.test": {"A": ["127.0.0.1"]}, "six.test": {"AAAA": ["::1"]},
                        "big.test": {"A": ["127.0.0.1"]}, "cname.test": {"A": ["127.0.0.1"]}},
                  nxdomain={"nope.test"}, silent={"slow.test"}, truncate={"big.test"},
                  garbage={"junk.test"}, wrong_id={"spoof.test"})
    resolv = dns.resolv_conf(os.path.join(tempfile.mkdtemp(prefix="edgehook-test-"), "resolv.conf"))
    hosts = os.path.join(os.path.dirname(resolv), "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 fromhosts.test\n")
    cfg = """
webhook:
  resolv_conf: %s
  hosts_file: %s
  timeout: 4s
  endpoints:
    - {url: "http://sink.test:%d/a", name: a}
    - {url: "http://sink.test:%d/e", name: closer}
    - {url: "http://six.test:%d/b", name: six}
    - {url: "http://big.test:%d/c", name: big}
    - {url: "http://fromhosts.test:%d/d", name: hosts}
    - {url: "http://nope.test:%d/", name: nx}
    - {url: "http://slow.test:%d/", name: slow}
    - {url: "http://junk.test:%d/", name: junk}
    - {url: "http://spoof.test:%d/", name: spoof}
""" % ((resolv, hosts) + (sink.port, closer.port, sink6.port, sink.port, sink.port) + (sink.port,) * 4)
    with Edgehook(cfg) as eh:
        post_events(eh, {"event": "one"})
        reqs = sink.wait(3)
        assert_eq(sorted(r.path for r in reqs), ["/a", "/c", "/d"])
        assert_eq(sink6.wait(1)[0].path, "/b")
        assert_eq(sink6.requests[0].header("host"), "six.test:%d" % sink6.port)
        assert_true("big.test" in dns.tcp_queries, "truncated answer retried over TCP")
        eh.wait_for(lambda: sum("delivery failed" in l for l in eh.stderr_lines) >= 4, 6, "4 DNS failures")
        logs = "\n".join(eh.stderr_lines)
        assert_true(re.search(r"endpoint=nx .*err=\"dns: NXDOMAIN\"", logs), "NXDOMAIN logged")
        assert_true(re.search(r"endpoint=slow .*err=\"dns: timeout\"", logs), "DNS timeout logged")
        assert_true(re.search(r"endpoint=junk .*err=\"dns: timeout\"", logs), "garbage ignored until timeout")
        assert_true(re.search(r"endpoint=spoof .*err=\"dns: timeout\"", logs), "wrong-id answers ignored")
        closer.wait(1)
        eh.wait_for(lambda: all(e["delivered"] + e["failed"] == 1 for e in eh.endpoints().values()), 30,
                    "every endpoint's first outcome")
        n_queries = len([q for q in dns.queries if q[0] == "sink.test"])
        post_events(eh, {"event": "two"})
        sink.wait(6)
        closer.wait(2)
        assert_eq(len([q for q in dns.queries if q[0] == "sink.test"]), n_queries, "second event served from cache")
        m = eh.request("GET", "/metrics").body.decode()
        assert_true(int(re.search(r"edgehook_dns_cache_hits_total (\d+)", m).group(1)) >= 2, "cache hits counted")
    sink.close()
    closer.close()
    sink6.close()
    dns.close()


def test_queue_full_503():
    hole = Sink(lambda i, r: ("blackhole",))
    cfg = 'server:\n  drain_timeout: 100ms\nwebhook:\n  queue: 5\n  timeout: 30s\n  endpoints:\n    - {url: "%s", max_in_flight: 2}\n' % hole.url()
    with Edgehook(cfg) as eh:
        codes = [post_events(eh, {"event": "e"}).status for _ in range(12)]
        assert_eq(codes, [202] * 5 + [503] * 7)
        r = post_events(eh, {"event": "e"})
        assert_eq(r.header("retry-after"), "1")
        r = post_events(eh, [{"event": "a"}, {"event": "b"}])
        assert_eq(r.status, 503)
        m = eh.request("GET", "/metrics").body.decode()
        assert_true("edgehook_queue_depth 5" in m, "queue depth gauge")
        assert_true("edgehook_events_rejected_total 10" in m, "rejections counted: " + m)
    hole.close()


def test_status_endpoints_and_test_route():
    ok = Sink()
    hole = Sink(lambda i, r: ("blackhole",))
    cfg = """
webhook:
  endpoints:
    - {url: "%s", name: ok}
    - {url: "%s", name: hole, timeout: 500ms}
    - {url: "http://127.0.0.1:%d/", name: refused}
""" % (ok.url(), hole.url(), closed_port())
    with Edgehook(cfg) as eh:
        r = eh.request("POST", "/api/v1/endpoints/ok/test")
        assert_eq(r.status, 200)
        out = r.json()
        assert_eq((out["endpoint"], out["delivered"], out["status"], out["error"]), ("ok", True, 200, None))
        assert_eq(json.loads(ok.wait(1)[0].body)["event"], "webhook.test")
        t0 = time.time()
        out = eh.request("POST", "/api/v1/endpoints/hole/test").json()
        assert_eq((out["delivered"], out["error"]), (False, "timeout"))
        assert_true(time.time() - t0 >= 0.4, "answers when the attempt times out, not before")
        out = eh.request("POST", "/api/v1/endpoints/refused/test").json()
        assert_eq(out["error"], "connection refused")
        assert_eq(eh.request("POST", "/api/v1/endpoints/none/test").status, 404)
        eps = eh.request("GET", "/api/v1/endpoints").json()["endpoints"]
        by = {e["name"]: e for e in eps}
        assert_eq(by["ok"]["health"], "healthy")
        assert_eq(by["refused"]["health"], "failing")
        assert_eq(by["ok"]["delivered"], 1)
        assert_eq(eh.request("GET", "/api/v1/events/evt_doesnotexist").status, 404)
        # a client that leaves before the outcome does not break anything
        s = eh.connect()
        s.sendall(b"POST /api/v1/endpoints/hole/test HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        eh.sync()
        s.close()
        # a second test to the same endpoint, started later with the same
        # timeout, is answered after the abandoned one's outcome came
        assert_eq(eh.request("POST", "/api/v1/endpoints/hole/test").json()["error"], "timeout")
        assert_eq(eh.request("GET", "/healthz").status, 200)
    ok.close()
    hole.close()


def test_sigterm_drains_pending_deliveries():
    sink = Sink(lambda i, r: ("status", 503 if i == 0 else 200, {}))
    hole = Sink(lambda i, r: ("blackhole",))
    cfg = """
server:
  drain_timeout: 1500ms
webhook:
  retries: 2
  backoff: 300ms
  timeout: 10s
  endpoints:
    - {url: "%s", name: flaky}
    - {url: "%s", name: hole}
""" % (sink.url(), hole.url())
    with Edgehook(cfg) as eh:
        post_events(eh, {"event": "e"})
        sink.wait(1)
        hole.wait(1)
        t0 = time.time()
        eh.signal(signal.SIGTERM)
        assert_eq(eh.proc.wait(60), 0)
        assert_true(time.time() - t0 >= 1.2, "waited for drain_timeout")
        assert_eq(len(sink.requests), 2, "the retry ran during the drain")
        eh.wait_log("deliveries abandoned at shutdown.*count=1")
    sink.close()
    hole.close()


@serial
def test_wide_json_event_answers_fast():
    """jsmn without parent links walked back over every token at each
    comma: a 1 MB event with a wide array stalled the loop for seconds.
    Compared within one run with an event of the same size that is one
    long string: per byte, tokens cost more than string bytes (about 10x
    measured), a walk back over every token at each comma costs ~10^4 x.
    No endpoint matches, so the CPU measured is the ingest alone; the
    least of three posts each (other processes only add)."""
    sink = Sink()
    cfg = ('server:\n  max_body_bytes: 4MiB\nwebhook:\n  endpoints:\n    - url: "%s"\n      events: ["other.*"]\n'
           % sink.url())
    with Edgehook(cfg) as eh:
        def cost(data):
            body = json.dumps({"event": "wide", "data": data}).encode()
            best = None
            for _ in range(3):
                before = eh.cpu_ns()
                r = post_events(eh, body)
                used = eh.cpu_ns() - before
                assert_eq((r.status, r.json()["endpoints"]), (202, 0))
                best = used if best is None else min(best, used)
            return best, len(body)
        for wide in (list(range(150000)), {("k%d" % i): i for i in range(60000)}):
            used, size = cost(wide)
            flat, _ = cost("x" * size)
            assert_true(used < 50 * flat, "CPU for %d bytes of tokens / of one string: %d / %d us" % (
                size, used // 1000, flat // 1000))
        assert_eq(post_events(eh, {"event": "other.x"}).json()["endpoints"], 1)
        assert_eq(len(sink.wait(1)), 1, "only the matching event delivered")
    sink.close()

