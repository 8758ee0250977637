"""Behaviours README.md promises that no other test checked: SIGINT drain,
queue byte bound, history eviction, retry causes and max_backoff, the
/slack and /standard route suffixes, the API's peer rules without a
token, a run's SIGKILL after SIGTERM and its exact environment, API
triggers across SIGHUP, config errors all at once, ${NAME:-default}, the
4 MiB config limit, server.dedupe."""
import fcntl
import json
import os
import signal
import socket
import struct
import tempfile
import time

import harness
from harness import Edgehook, assert_eq, assert_true, read_response, serial, write_script
from sinks import Sink
from test_triggers import SLACK_TS, std_headers

STD_CFG = """
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: sl, kind: slack, secret: 8f742231b10e8888abcd99yyyzzz85a5, emit: true}
  - {id: std, kind: standard, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, emit: true}
"""


def post_event(eh, ev, headers=None):
    return eh.request("POST", "/api/v1/events", json.dumps(ev).encode(), headers)


def delivery(eh, evid):
    return eh.request("GET", "/api/v1/events/" + evid).json()["deliveries"][0]


def test_sigint_drains_in_flight_request():
    with Edgehook() as eh:
        s = eh.connect()
        body = b'{"via": "sigint"}'
        s.sendall(b"POST /webhooks/demo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:4])
        eh.sync()
        eh.signal(signal.SIGINT)
        eh.wait_log("msg=draining signal=INT")
        s.sendall(body[4:])
        r = read_response(s)
        assert_eq((r.status, r.header("connection")), (202, "close"))
        assert_eq(eh.proc.wait(60), 0)
        assert_eq(json.loads(eh.wait_stdout(1)[0])["data"], {"via": "sigint"})


def test_max_queue_bytes_answers_503():
    hole = Sink(lambda i, r: ("blackhole",))
    cfg = """
server:
  drain_timeout: 100ms
webhook:
  queue: 100000
  max_queue_bytes: 2KiB
  timeout: 60s
  endpoints:
    - {url: "%s", max_in_flight: 1}
""" % hole.url()
    with Edgehook(cfg) as eh:
        pad = "x" * 400
        codes = [post_event(eh, {"event": "e", "n": i, "pad": pad}) for i in range(12)]
        statuses = [r.status for r in codes]
        accepted = statuses.count(202)
        # 2 KiB of ~430-byte bodies: a handful fit, then every one is refused
        assert_true(1 <= accepted <= 6, statuses)
        assert_eq(statuses, [202] * accepted + [503] * (12 - accepted), "refused once the bytes are used up")
        assert_eq(codes[-1].header("retry-after"), "1")
        m = eh.request("GET", "/metrics").body.decode()
        assert_true("edgehook_events_rejected_total %d" % (12 - accepted) in m, "refusals counted")
        # the bound is bytes, not events: one body over it is refused too,
        # for good (413: no retry fits in an empty queue either)
        assert_eq(post_event(eh, {"event": "e", "pad": "y" * 3000}).status, 413)
    hole.close()


def test_history_evicts_oldest_event_status():
    cfg = 'webhook:\n  history: 2\n  endpoints:\n    - url: "stdout:"\n'
    with Edgehook(cfg) as eh:
        ids = [post_event(eh, {"event": "h", "n": i}).json()["id"] for i in range(3)]
        eh.wait_stdout(3)
        assert_eq(eh.request("GET", "/api/v1/events/" + ids[0]).status, 404, "oldest evicted")
        for evid in ids[1:]:
            assert_eq(eh.request("GET", "/api/v1/events/" + evid).status, 200, "the last 2 kept")


def test_retries_cover_network_errors_and_408():
    # a fresh connection reset after the request is a network error (a
    # reset pooled connection would be resent for free, not counted)
    reset_once = Sink(lambda i, r: ("reset",) if i == 0 else ("status", 200, {}))
    timeout_once = Sink(lambda i, r: ("status", 408 if i == 0 else 200, {}))
    cfg = """
webhook:
  retries: 2
  backoff: 10ms
  endpoints:
    - {url: "%s", name: reset}
    - {url: "%s", name: t408}
""" % (reset_once.url(), timeout_once.url())
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "r"}).json()["id"]
        reset_once.wait(2)
        timeout_once.wait(2)
        eh.wait_for(lambda: all(d["state"] == "delivered" for d in
                                eh.request("GET", "/api/v1/events/" + evid).json()["deliveries"]), 30, "delivered")
        got = {d["endpoint"]: (d["attempts"], d["last_status"]) for d in
               eh.request("GET", "/api/v1/events/" + evid).json()["deliveries"]}
        assert_eq(got, {"reset": (2, 200), "t408": (2, 200)})
    reset_once.close()
    timeout_once.close()


@serial
def test_max_backoff_caps_the_wait():
    """backoff 2s doubles to 4s; max_backoff 100ms caps both waits. The
    cap is checked against a 10x margin (uncapped: >= 1.6 s)."""
    sink = Sink(lambda i, r: ("status", 503 if i < 2 else 200, {}))
    cfg = 'webhook:\n  retries: 3\n  backoff: 2s\n  max_backoff: 100ms\n  endpoints:\n    - url: "%s"\n' % sink.url()
    with Edgehook(cfg) as eh:
        post_event(eh, {"event": "b"})
        reqs = sink.wait(3)
        gaps = [reqs[1].at - reqs[0].at, reqs[2].at - reqs[1].at]
        assert_true(all(0.08 <= g < 1.0 for g in gaps), "waits capped at max_backoff: %r" % gaps)


def test_slack_and_standard_route_suffixes():
    with open(os.path.join(harness.REPO, "..", "shared", "testdata", "signatures.json")) as f:
        vec = json.load(f)["slack_v0"]
    with Edgehook(STD_CFG, env={"EDGEHOOK_TEST_NOW": str(SLACK_TS + 60)}) as eh:
        body = vec["body"].encode()
        h = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": vec["timestamp"],
             "X-Slack-Signature": vec["expected"]}
        assert_eq(eh.request("POST", "/webhooks/sl/slack", body, h).status, 202)
        assert_eq(eh.request("POST", "/webhooks/sl/slack", body, dict(h, **{"X-Slack-Signature": "v0=00"})).status, 401)
        std = b'{"type":"suffix"}'
        # the injected clock applies to Standard Webhooks timestamps too
        assert_eq(eh.request("POST", "/webhooks/std/standard", std, std_headers(std, "msg_sfx", ts=SLACK_TS + 60)).status, 202)
        assert_eq(eh.request("POST", "/webhooks/std/standard", std, {"webhook-id": "m"}).status, 401)
        evs = [json.loads(l) for l in eh.wait_stdout(2)]
        assert_eq(sorted(e["resource_id"] for e in evs), ["sl", "std"])


def local_ipv4():
    """A non-loopback IPv4 address of this host (SIOCGIFADDR per interface)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            if name == "lo":
                continue
            try:
                raw = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            addr = socket.inet_ntoa(raw[20:24])
            if not addr.startswith("127."):
                return addr
    finally:
        s.close()
    raise AssertionError("this test needs a non-loopback IPv4 address on the host")


def request_from(host, port, method, path, headers=None):
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(harness.build_request(method, path, b"", headers))
        return read_response(s)
    finally:
        s.close()


def test_api_without_token_refuses_non_loopback_peers():
    addr = local_ipv4()
    with Edgehook(listen="0.0.0.0:0") as eh:
        assert_eq(eh.request("GET", "/api/v1/endpoints").status, 200, "loopback peer served")
        r = request_from(addr, eh.port, "GET", "/api/v1/endpoints")
        assert_eq(r.status, 403, "peer %s refused" % addr)
        assert_true("api.token" in r.json()["error"], r.json())
        assert_eq(request_from(addr, eh.port, "GET", "/healthz").status, 200, "public routes stay open")
    with Edgehook('api:\n  token: t0k\n', listen="0.0.0.0:0") as eh:
        assert_eq(request_from(addr, eh.port, "GET", "/api/v1/endpoints", {"Authorization": "Bearer t0k"}).status, 200,
                  "with a token any peer that has it is served")


def test_api_without_token_refuses_forwarded_requests():
    """A local reverse proxy makes every peer loopback: a request that
    carries a forwarding header is never trusted as loopback."""
    with Edgehook() as eh:
        for h in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}, {"X-Real-IP": "203.0.113.7"}):
            assert_eq(eh.request("GET", "/api/v1/endpoints", headers=h).status, 403, h)
        assert_eq(eh.request("GET", "/api/v1/endpoints").status, 200)




@serial
def test_run_gets_sigkill_5s_after_sigterm():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    marks = os.path.join(d, "marks")
    # the shell notes the SIGTERM and goes on; only SIGKILL ends it
    script = write_script(d, "stubborn.sh", "#!/bin/sh\ntrap 'echo term >> %s' TERM\necho $$ > %s.pid\n"
                          "while :; do sleep 1; done\n" % (marks, marks))
    cfg = 'webhook:\n  endpoints:\n    - {url: "stdout:", events: ["run.*"]}\n' \
          'triggers:\n  - {id: s, run: {command: %s, timeout: 300ms, allow_root: true}}\n' % script
    with Edgehook(cfg) as eh:
        run_id = eh.request("POST", "/webhooks/s", b"{}").json()["run_id"]
        harness.wait_until(lambda: os.path.exists(marks + ".pid") and open(marks + ".pid").read().strip(), 30, "pid")
        pid = int(open(marks + ".pid").read())
        harness.wait_until(lambda: os.path.exists(marks), 30, "SIGTERM noted")
        termed = time.time()
        harness.wait_until(lambda: not harness.proc_alive(pid), 60, "the run killed")
        waited = time.time() - termed
        assert_true(waited >= 4.0, "SIGKILL came %.1fs after SIGTERM (5 s promised)" % waited)
        eh.wait_for(lambda: eh.request("GET", "/api/v1/runs/" + run_id).json()["state"] != "running", 30, "run ended")
        st = eh.request("GET", "/api/v1/runs/" + run_id).json()
        assert_eq(st["state"], "failed")


def test_run_environment_is_exactly_the_documented_one():
    cfg = 'triggers:\n  - {id: env, run: {command: /usr/bin/env, allow_root: true}}\n'
    env = {"PATH": "/opt/eh/bin:/usr/bin:/bin", "HOME": "/home/eh", "LANG": "C.UTF-8", "TZ": "Europe/Paris",
           "EDGEHOOK_SECRET_SHOULD_NOT_LEAK": "x", "LD_PRELOAD": ""}
    with Edgehook(cfg, env=env) as eh:
        r = eh.request("POST", "/webhooks/env", b"{}", {"X-Webhook-Event": "env.check"})
        run_id, delivery_id = r.json()["run_id"], r.json()["id"]
        eh.wait_for(lambda: eh.request("GET", "/api/v1/runs/" + run_id).json()["state"] == "completed", 30, "run done")
        out = eh.request("GET", "/api/v1/runs/" + run_id).json()["output"]
        got = dict(l.split("=", 1) for l in out.splitlines())
        assert_eq(got, {"PATH": env["PATH"], "HOME": "/home/eh", "LANG": "C.UTF-8", "TZ": "Europe/Paris",
                        "EDGEHOOK_EVENT": "env.check", "EDGEHOOK_DELIVERY": delivery_id, "EDGEHOOK_TRIGGER": "env",
                        "EDGEHOOK_SOURCE_IP": "127.0.0.1", "EDGEHOOK_RUN_ID": run_id})


def test_api_triggers_survive_sighup():
    cfg = 'webhook:\n  endpoints:\n    - url: "stdout:"\ntriggers:\n  - {id: cfg1, emit: true}\n'
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("PUT", "/api/v1/triggers/dyn", json.dumps({"emit": True}).encode()).status, 201)
        with open(eh.config_path, "w") as f:
            f.write(cfg.replace("cfg1", "cfg2"))
        eh.signal(signal.SIGHUP)
        eh.wait_log("config reloaded")
        assert_eq(eh.request("POST", "/webhooks/cfg1", b"{}").status, 404, "the reload applied")
        t = eh.request("GET", "/api/v1/triggers/dyn")
        assert_eq((t.status, t.json()["source"]), (200, "api"))
        assert_eq(eh.request("POST", "/webhooks/dyn", b"{}").status, 202)
        assert_eq(sorted(x["id"] for x in eh.request("GET", "/api/v1/triggers").json()["triggers"]), ["cfg2", "dyn"])


def check(text, env=None):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return harness.run_cli(["--check", "-c", path], env=env), path


def test_config_errors_reported_all_at_once():
    p, path = check("server:\n  bogus: 1\n  header_timeout: soon\nwebhook:\n  endpoints:\n    - url: notaurl\n"
                    "triggers:\n  - id: g\n    kind: github\n")
    assert_eq(p.returncode, 2)
    for expect in (':2: unknown key "bogus"', ":3: header_timeout: bad duration", ":6: bad url",
                   ":8: trigger g: kind github needs a secret"):
        assert_true(path + expect in p.stderr, "expected %r in %r" % (path + expect, p.stderr))


def test_env_default_expansion():
    cfg = 'api:\n  token: ${EH_TEST_TOKEN_UNSET_XYZ:-fallback-token}\n'
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("GET", "/api/v1/endpoints").status, 401, "a token is set")
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers={"Authorization": "Bearer fallback-token"}).status, 200)
    with Edgehook(cfg, env={"EH_TEST_TOKEN_UNSET_XYZ": "from-env"}) as eh:
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers={"Authorization": "Bearer fallback-token"}).status, 401)
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers={"Authorization": "Bearer from-env"}).status, 200)


def test_config_file_limit_4_mib():
    line = "# " + "x" * 1021 + "\n"  # 1 KiB of comment per line
    p, _ = check("server:\n  listen: 127.0.0.1:0\n" + line * (4 * 1024 - 4))
    assert_eq((p.returncode, p.stdout.strip()), (0, "ok"), "just under 4 MiB loads: " + p.stderr)
    p, path = check("server:\n  listen: 127.0.0.1:0\n" + line * (4 * 1024 + 1))
    assert_eq(p.returncode, 2)
    assert_true(path in p.stderr and "4 MiB" in p.stderr, p.stderr)


def test_server_dedupe_window():
    cfg = 'server:\n  dedupe: 2\nwebhook:\n  endpoints:\n    - url: "stdout:"\ntriggers:\n  - {id: t, emit: true}\n'
    with Edgehook(cfg) as eh:
        def post(key):
            return eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": key}).status
        assert_eq([post(k) for k in ("k1", "k2", "k2", "k3")], [202, 202, 200, 202])
        assert_eq(post("k3"), 200, "inside the window: duplicate")
        assert_eq(post("k1"), 202, "pushed out of a window of 2: accepted again")


def test_server_dedupe_zero_turns_dedupe_off():
    cfg = 'server:\n  dedupe: 0\nwebhook:\n  endpoints:\n    - url: "stdout:"\ntriggers:\n  - {id: t, emit: true}\n'
    with Edgehook(cfg) as eh:
        codes = [eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": "same"}).status for _ in range(3)]
        assert_eq(codes, [202, 202, 202])
        assert_eq(len(eh.wait_stdout(3)), 3)
