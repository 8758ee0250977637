"""Delivery semantics after Standard Webhooks' guidance (issue 14): with
retries every non-2xx is retried, 410 Gone disables the endpoint until it
is enabled again, and multi-secret signatures for key rotation."""
import base64
import hashlib
import hmac
import json
import os
import tempfile
import time

import harness
from harness import Edgehook, assert_eq, assert_true
from sinks import Sink


def check_config(cfg):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(cfg)
    try:
        return harness.run_cli(["--check", "-c", path])
    finally:
        os.unlink(path)


def post_event(eh, payload):
    return eh.request("POST", "/api/v1/events", json.dumps(payload).encode(), {"Content-Type": "application/json"})


def endpoint(eh, name):
    return [e for e in eh.request("GET", "/api/v1/endpoints").json()["endpoints"] if e["name"] == name][0]


def states(eh, evid):
    return {d["endpoint"]: d for d in eh.request("GET", "/api/v1/events/" + evid).json()["deliveries"]}


def test_every_non_2xx_is_retried_with_retries():
    sinks = {code: Sink(lambda i, r, code=code: ("status", code if i == 0 else 200, {})) for code in (400, 404, 302, 422)}
    cfg = "webhook:\n  retries: 2\n  backoff: 10ms\n  endpoints:\n" + "".join(
        '    - {url: "%s", name: s%d}\n' % (s.url(), code) for code, s in sinks.items())
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e"}).json()["id"]
        eh.wait_for(lambda: all(d["state"] == "delivered" for d in states(eh, evid).values()), 30, "all delivered")
        for code, s in sinks.items():
            assert_eq(len(s.requests), 2, "s%d: the %d was retried once" % (code, code))
            assert_eq((states(eh, evid)["s%d" % code]["attempts"]), 2)
    for s in sinks.values():
        s.close()


def test_410_gone_disables_endpoint_until_enabled():
    gone = Sink(lambda i, r: ("status", 410 if i == 0 else 200, {}))
    other = Sink()
    cfg = """
webhook:
  retries: 3
  backoff: 10ms
  endpoints:
    - {url: "%s", name: gone}
    - {url: "%s", name: other}
""" % (gone.url(), other.url())
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e"}).json()["id"]
        eh.wait_for(lambda: states(eh, evid)["gone"]["state"] == "failed", 30, "410 is final")
        d = states(eh, evid)["gone"]
        assert_eq((d["attempts"], d["last_status"]), (1, 410))
        ep = endpoint(eh, "gone")
        assert_eq((ep["disabled"], ep["health"]), (True, "disabled"))
        assert_eq(endpoint(eh, "other")["disabled"], False)
        m = eh.request("GET", "/metrics").body.decode()
        assert_true('edgehook_endpoint_disabled{endpoint="gone"} 1' in m, "disabled gauge")
        assert_true('edgehook_endpoint_disabled{endpoint="other"} 0' in m, "enabled gauge")
        logs = eh.wait_log("endpoint disabled")
        assert_eq(len(logs), 1)
        assert_true("endpoint=gone" in logs[0] and 'reason="410 Gone"' in logs[0], logs[0])
        # disabled: new events are not routed to it
        r = post_event(eh, {"event": "e"})
        assert_eq(r.json()["endpoints"], 1)
        other.wait(2)
        assert_eq(len(gone.requests), 1, "nothing sent to a disabled endpoint")
        assert_eq(eh.request("GET", "/api/v1/endpoints/gone/enable").status, 405)
        assert_eq(eh.request("POST", "/api/v1/endpoints/nosuch/enable").status, 404)
        r = eh.request("POST", "/api/v1/endpoints/gone/enable")
        assert_eq(r.status, 200)
        assert_eq(r.json()["disabled"], False)
        evid = post_event(eh, {"event": "e"}).json()["id"]
        eh.wait_for(lambda: states(eh, evid)["gone"]["state"] == "delivered", 30, "delivered after enable")
        assert_eq(endpoint(eh, "gone")["health"], "healthy")
    gone.close()
    other.close()


SECRET_OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_NEW = "whsec_" + base64.b64encode(b"rotated-key-0123456789abcdefghij").decode()


def standard_signatures(secret, msg_id, ts, body):
    """An independent Standard Webhooks signer: v1,base64(HMAC-SHA256(key, id.ts.body))."""
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_secret_list_signs_once_per_secret():
    sink = Sink()
    cfg = 'webhook:\n  endpoints:\n    - url: "%s"\n      name: rot\n      secret: [%s, %s]\n' % (sink.url(), SECRET_OLD, SECRET_NEW)
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e", "n": 1}).json()["id"]
        req = sink.wait(1)[0]
        msg_id, ts = req.header("webhook-id"), req.header("webhook-timestamp")
        assert_eq(msg_id, evid)
        assert_true(abs(int(ts) - time.time()) < 300, "fresh timestamp")
        sigs = req.header("webhook-signature").split(" ")
        assert_eq(sigs, [standard_signatures(SECRET_OLD, msg_id, ts, req.body),
                         standard_signatures(SECRET_NEW, msg_id, ts, req.body)])
        assert_eq(endpoint(eh, "rot")["signed"], True)
    sink.close()


def test_secret_list_config_errors():
    for bad, why in (("[%s, whsec_!!]" % SECRET_OLD, "whsec_"), ("[]", "secret"), ("[%s]" % ",".join([SECRET_OLD] * 9), "at most 8")):
        cfg = 'webhook:\n  endpoints:\n    - url: "http://127.0.0.1:1/"\n      secret: %s\n' % bad
        r = check_config(cfg)
        assert_true(r.returncode != 0 and why in r.stderr, "%s: %r" % (bad, r.stderr))


def test_breaker_opens_and_waiting_deliveries_keep_their_retries():
    fail = [True]
    sink = Sink(lambda i, r: ("status", 500 if fail[0] else 200, {}))
    cfg = """
webhook:
  retries: 1
  backoff: 10ms
  breaker: {failures: 2, cooldown: 1h}
  endpoints:
    - {url: "%s", name: flaky}
""" % sink.url()
    with Edgehook(cfg) as eh:
        first = post_event(eh, {"event": "e"}).json()["id"]
        eh.wait_for(lambda: states(eh, first)["flaky"]["state"] == "failed", 30, "retries exhausted")
        ep = endpoint(eh, "flaky")
        assert_eq((ep["breaker"], ep["health"]), ("open", "failing"))
        logs = eh.wait_log("breaker open")
        assert_true("endpoint=flaky" in logs[0] and "cooldown=3600s" in logs[0], logs[0])
        m = eh.request("GET", "/metrics").body.decode()
        assert_true('edgehook_endpoint_breaker_open{endpoint="flaky"} 1' in m, "breaker gauge")
        waiting = [post_event(eh, {"event": "e", "n": i}).json()["id"] for i in range(3)]
        for evid in waiting:
            d = states(eh, evid)["flaky"]
            assert_eq((d["state"], d["attempts"]), ("retrying", 0), "waits for the breaker")
        assert_eq(len(sink.requests), 2, "nothing sent while open")
        fail[0] = False
        # enable closes the breaker: the waiting deliveries go, none lost a retry
        assert_eq(eh.request("POST", "/api/v1/endpoints/flaky/enable").json()["breaker"], "closed")
        for evid in waiting:
            eh.wait_for(lambda: states(eh, evid)["flaky"]["state"] == "delivered", 30, "delivered after close")
            assert_eq(states(eh, evid)["flaky"]["attempts"], 1)
    sink.close()


def test_breaker_probes_after_cooldown_doubling():
    sink = Sink(lambda i, r: ("status", 503 if i < 3 else 200, {}))
    cfg = """
webhook:
  retries: 10
  backoff: 1ms
  breaker: {failures: 1, cooldown: 100ms}
  endpoints:
    - {url: "%s", name: probe}
""" % sink.url()
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e"}).json()["id"]
        eh.wait_for(lambda: states(eh, evid)["probe"]["state"] == "delivered", 30, "delivered by a probe")
        assert_eq(states(eh, evid)["probe"]["attempts"], 4)
        logs = eh.wait_log("breaker open", count=3)
        assert_eq([l.split("cooldown=")[1].split()[0] for l in logs], ["100ms", "200ms", "400ms"])
        assert_eq(len(eh.wait_log("breaker closed")), 1)
        reqs = sink.requests
        gaps = [reqs[i + 1].at - reqs[i].at for i in range(3)]
        # each probe waits at least its cooldown (a slow machine only waits longer)
        assert_true(gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39, "cooldowns %r" % gaps)
        assert_eq(endpoint(eh, "probe")["breaker"], "closed")
    sink.close()


def test_breaker_disable_after_continuous_failure():
    sink = Sink(lambda i, r: ("status", 500, {}))
    cfg = """
webhook:
  retries: 3
  backoff: 20ms
  breaker: {failures: 100, disable_after: 10ms}
  endpoints:
    - {url: "%s", name: dead}
""" % sink.url()
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e"}).json()["id"]
        eh.wait_for(lambda: states(eh, evid)["dead"]["state"] == "failed", 30, "given up")
        assert_eq(endpoint(eh, "dead")["disabled"], True)
        logs = eh.wait_log("endpoint disabled")
        assert_true("endpoint=dead" in logs[0] and 'reason="failing for 10ms"' in logs[0], logs[0])
        assert_eq(len(logs), 1)
        assert_eq(len(sink.requests), 2, "disabled at the second failure, 20ms after the first")
    sink.close()


def test_dead_letters_listed_per_endpoint():
    bad = Sink(lambda i, r: ("status", 500, {}))
    good = Sink()
    cfg = """
webhook:
  retries: 1
  backoff: 1ms
  endpoints:
    - {url: "%s", name: bad}
    - {url: "%s", name: good}
""" % (bad.url(), good.url())
    with Edgehook(cfg) as eh:
        ids = [post_event(eh, {"event": "e", "n": i}).json()["id"] for i in range(3)]
        for evid in ids:
            eh.wait_for(lambda: states(eh, evid)["bad"]["state"] == "failed", 30, "dead")
        dead = eh.request("GET", "/api/v1/dead?endpoint=bad").json()["dead"]
        assert_eq(sorted(d["id"] for d in dead), sorted(ids))
        assert_true(all(d["endpoint"] == "bad" and d["attempts"] == 2 and d["last_status"] == 500 for d in dead), dead)
        assert_eq(eh.request("GET", "/api/v1/dead?endpoint=good").json()["dead"], [])
        assert_eq(len(eh.request("GET", "/api/v1/dead").json()["dead"]), 3)
        assert_eq(eh.request("POST", "/api/v1/dead").status, 405)
    bad.close()
    good.close()


def test_replay_resends_dead_and_delivered_with_same_webhook_id():
    fail = [True]
    flaky = Sink(lambda i, r: ("status", 500 if fail[0] else 200, {}))
    good = Sink()
    cfg = """
webhook:
  endpoints:
    - {url: "%s", name: flaky, secret: %s}
    - {url: "%s", name: good}
""" % (flaky.url(), SECRET_OLD, good.url())
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "e", "n": 7}).json()["id"]
        eh.wait_for(lambda: states(eh, evid)["flaky"]["state"] == "failed", 30, "dead")
        good.wait(1)
        fail[0] = False
        r = eh.request("POST", "/api/v1/events/%s/replay?endpoint=flaky" % evid)
        assert_eq(r.status, 202)
        assert_eq((r.json()["id"], r.json()["endpoints"]), (evid, 1))
        reqs = flaky.wait(2)
        assert_eq(reqs[1].header("webhook-id"), evid)
        assert_eq(reqs[1].body, reqs[0].body)
        assert_eq(reqs[1].header("webhook-signature"),
                  standard_signatures(SECRET_OLD, evid, reqs[1].header("webhook-timestamp"), reqs[1].body))
        assert_eq(len(good.requests), 1, "replay to one endpoint only")
        # without ?endpoint every matching endpoint gets it again, delivered ones too
        assert_eq(eh.request("POST", "/api/v1/events/%s/replay" % evid).json()["endpoints"], 2)
        good.wait(2)
        flaky.wait(3)
        assert_eq(good.requests[1].header("webhook-id"), evid)
        assert_eq(eh.request("POST", "/api/v1/events/evt_nosuch/replay").status, 404)
        assert_eq(eh.request("POST", "/api/v1/events/%s/replay?endpoint=nosuch" % evid).status, 404)
        assert_eq(eh.request("GET", "/api/v1/events/%s/replay" % evid).status, 405)
    flaky.close()
    good.close()


def test_recover_resends_failed_since():
    fail = [True]
    sink = Sink(lambda i, r: ("status", 500 if fail[0] else 200, {}))
    cfg = 'webhook:\n  endpoints:\n    - {url: "%s", name: rec}\n' % sink.url()
    with Edgehook(cfg) as eh:
        ids = [post_event(eh, {"event": "e", "n": i}).json()["id"] for i in range(3)]
        for evid in ids:
            eh.wait_for(lambda: states(eh, evid)["rec"]["state"] == "failed", 30, "dead")
        fail[0] = False
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        r = eh.request("POST", "/api/v1/endpoints/rec/recover", json.dumps({"since": future}).encode())
        assert_eq((r.status, r.json()["replayed"]), (202, 0))
        past = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
        r = eh.request("POST", "/api/v1/endpoints/rec/recover", json.dumps({"since": past}).encode())
        assert_eq((r.status, r.json()["replayed"]), (202, 3))
        reqs = sink.wait(6)
        assert_eq(sorted(q.header("webhook-id") for q in reqs[3:]), sorted(ids))
        for evid in ids:
            eh.wait_for(lambda: states(eh, evid)["rec"]["state"] == "delivered", 30, "recovered")
        for bad in (b'{"since": "yesterday"}', b'{}', b'not json'):
            assert_eq(eh.request("POST", "/api/v1/endpoints/rec/recover", bad).status, 400, bad)
        assert_eq(eh.request("POST", "/api/v1/endpoints/nosuch/recover", json.dumps({"since": past}).encode()).status, 404)
    sink.close()


def test_ordered_endpoint_delivers_in_ingest_order_behind_failing_head():
    seen = []
    ordered = Sink(lambda i, r: ("status", 500 if i < 2 else 200, {}))
    cfg = """
webhook:
  retries: 5
  backoff: 20ms
  endpoints:
    - {url: "%s", name: ord, ordered: true}
""" % ordered.url()
    with Edgehook(cfg) as eh:
        ids = [post_event(eh, {"event": "e", "n": i}).json()["id"] for i in range(6)]
        reqs = ordered.wait(8)
        seen = [r.header("webhook-id") for r in reqs]
        # the failing head is retried before anything behind it goes
        assert_eq(seen, [ids[0]] * 3 + ids[1:])
        for evid in ids:
            eh.wait_for(lambda: states(eh, evid)["ord"]["state"] == "delivered", 30, "delivered")
        assert_eq(states(eh, ids[0])["ord"]["attempts"], 3)
        assert_eq(len(ordered.requests), 8)
        assert_eq(endpoint(eh, "ord")["ordered"], True)
    ordered.close()
