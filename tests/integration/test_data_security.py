"""Data-side security round (issue 21): duplicate JSON keys, truncated
JSON answers, UTF-8 in emitted events, form escaping, durations and
nested ${...} defaults in the config."""
import json
import os
import subprocess
import tempfile

import harness
from harness import Edgehook, assert_eq, assert_true
from sinks import Sink


def check_config(text):
    """Runs --check on text; returns (process, path of the config)."""
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    env = dict(os.environ)
    env.pop("EH_DATA_UNSET_A", None)
    env.pop("EH_DATA_UNSET_B", None)
    p = subprocess.run([harness.BIN, "--check", "-c", path], capture_output=True, text=True, timeout=60, env=env)
    os.unlink(path)
    return p, path


def strict_json(raw):
    """Decodes raw bytes as strict UTF-8 JSON (raises on anything else)."""
    return json.loads(raw.decode("utf-8", "strict"))


def relay_config(sink, extra=""):
    return """
webhook:
  endpoints:
    - url: "%s"
      events: ["public.*", "webhook.*", "push.*"]
triggers:
  - id: g
    kind: generic
    allowed_ips: [127.0.0.1]
    emit: true
%s""" % (sink.url(), extra)


def test_duplicate_json_keys_refused_and_routing_reads_the_key_receivers_read():
    sink = Sink()
    try:
        with Edgehook(relay_config(sink)) as eh:
            r = eh.request("POST", "/api/v1/events", b'{"event":"public.ping","event":"admin.delete_all"}')
            assert_eq(r.status, 400, "duplicate top-level key")
            assert_true(b"duplicate" in r.body, "the message names the duplicate key: %r" % r.body)
            # "event\u0000" is another key: receivers read event = admin.delete_all
            r = eh.request("POST", "/api/v1/events", b'{"event\\u0000":"public.ping","event":"admin.delete_all"}')
            assert_eq(r.status, 202)
            assert_eq(r.json()["endpoints"], 0, "routed by the real \"event\" member")
            # a NUL in the value would route as "public.ping" what receivers read in full
            r = eh.request("POST", "/api/v1/events", b'{"event":"public.ping\\u0000admin.delete_all"}')
            assert_eq(r.status, 400, "an event type holding a NUL")
            r = eh.request("POST", "/webhooks/g", b'{"a":[{"ref":"main","r\\u0065f":"--upload-pack=evil"}]}')
            assert_eq(r.status, 400, "duplicate key at depth, written with an escape")
            assert_true(b"duplicate" in r.body, "clear message: %r" % r.body)
            r = eh.request("POST", "/webhooks/g", b'a=1&b=2&a=3', {"Content-Type": "application/x-www-form-urlencoded"})
            assert_eq(r.status, 400, "a form repeating a name would emit duplicate keys")
            r = eh.request("POST", "/webhooks/g", b'{"a":{"ref":1},"b":{"ref":2}}')
            assert_eq(r.status, 202, "equal keys in different objects are fine")
            assert_eq(strict_json(sink.wait(1)[0].body)["data"], {"a": {"ref": 1}, "b": {"ref": 2}})
    finally:
        sink.close()


class _NullSink:
    """An endpoint nobody listens on, for tests that send no event."""

    def url(self):
        return "http://127.0.0.1:9/hook"


def test_trigger_json_never_truncated():
    desc = "\x7f" * 30000
    with Edgehook(relay_config(_NullSink())) as eh:
        body = json.dumps({"kind": "generic", "allowed_ips": ["127.0.0.1"], "description": desc},
                          ensure_ascii=False).encode()
        r = eh.request("PUT", "/api/v1/triggers/big", body)
        assert_eq(r.status, 201, r.body[:200])
        assert_eq(strict_json(r.body)["description"], desc)
        for path in ("/api/v1/triggers/big", "/webhooks/big", "/api/v1/triggers"):
            r = eh.request("GET", path)
            assert_eq(r.status, 200, path)
            strict_json(r.body)


def test_metrics_and_endpoints_complete_with_1024_endpoints():
    # long names and URLs: the rendering outgrows the old fixed caps
    # (1 MiB for /metrics, 4 MiB for /api/v1/endpoints)
    name = lambda i: "ep-%04d-" % i + "n" * 120
    events = ", ".join("evt%02d.abcdefghijklm" % k for k in range(88))
    eps = "".join('    - {url: "http://127.0.0.1:9/%s", name: %s, events: [%s]}\n' % ("p" * 2000, name(i), events)
                  for i in range(1024))
    with Edgehook("webhook:\n  endpoints:\n" + eps) as eh:
        r = eh.request("GET", "/metrics")
        assert_eq(r.status, 200)
        lines = r.body.decode().splitlines()
        first = [l for l in lines if 'endpoint="%s"' % name(0) in l]
        last = [l for l in lines if 'endpoint="%s"' % name(1023) in l]
        assert_true(len(first) > 0, "samples for the first endpoint")
        assert_eq(len(last), len(first), "the last endpoint has every sample")
        r = eh.request("GET", "/api/v1/endpoints")
        assert_eq(r.status, 200)
        doc = strict_json(r.body)
        items = doc["endpoints"] if isinstance(doc, dict) else doc
        assert_eq(len(items), 1024)


def test_emitted_json_is_utf8():
    sink = Sink()
    try:
        with Edgehook(relay_config(sink)) as eh:
            r = eh.request("POST", "/webhooks/g", b"name=caf%E9+%FF&ok=caf%C3%A9",
                           {"Content-Type": "application/x-www-form-urlencoded"})
            assert_eq(r.status, 202)
            ev = strict_json(sink.wait(1)[0].body)
            assert_eq(ev["data"], {"name": "caf\ufffd \ufffd", "ok": "caf\u00e9"})
            s = eh.connect()
            try:
                s.sendall(b"POST /webhooks/g HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                          b"X-Webhook-Event: push\xe9\r\n\r\n{}")
                r = harness.read_response(s)
            finally:
                s.close()
            assert_eq(r.status, 400, "an event type that is not UTF-8")
            r = eh.request("POST", "/webhooks/g", b'{"s":"caf\xe9"}')
            assert_eq(r.status, 400, "a JSON body that is not UTF-8")
            r = eh.request("POST", "/webhooks/g", b"{}", {"X-Webhook-Event": "push.\u00e9"})
            assert_eq(r.status, 202)
            assert_eq(strict_json(sink.wait(2)[1].body)["event"], "push.\u00e9")
    finally:
        sink.close()


def test_form_body_worst_case_escaping_accepted():
    sink = Sink()
    try:
        with Edgehook(relay_config(sink)) as eh:
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            r = eh.request("POST", "/webhooks/g", b"a=" + b"%01" * 200, form)
            assert_eq(r.status, 202, r.body)
            r = eh.request("POST", "/webhooks/g", b"b=" + b"\\" * 300, form)
            assert_eq(r.status, 202, r.body)
            r = eh.request("POST", "/webhooks/g", b"c=" + b"\x01" * 300, form)
            assert_eq(r.status, 202, r.body)
            got = {}
            for req in sink.wait(3):
                got.update(strict_json(req.body)["data"])
            assert_eq(got, {"a": "\x01" * 200, "b": "\\" * 300, "c": "\x01" * 300})
    finally:
        sink.close()


def test_zero_and_overflowing_durations_refused():
    wrap = "1000000000h" * 5124 + "95576030h1551s617ms"  # 2^64 + 1 ms
    cases = [
        ("server:\n  idle_timeout: 0\n", ":2: idle_timeout"),
        ("server:\n  header_timeout: 0\n", ":2: header_timeout"),
        ("webhook:\n  timeout: 0\n", ":2: timeout"),
        ("webhook:\n  endpoints:\n    - url: \"stdout:\"\n      timeout: 0ms\n", ":4: timeout"),
        ("webhook:\n  timeout: %s\n" % wrap, ":2: timeout"),
        ("triggers:\n  - id: r\n    allowed_ips: [127.0.0.1]\n    run:\n      command: /bin/true\n      timeout: 0\n",
         ":6: timeout"),
    ]
    for text, expect in cases:
        p, path = check_config(text)
        assert_eq(p.returncode, 2, text[:80])
        assert_true((path + expect) in p.stderr, "expected %r in %r" % (path + expect, p.stderr[:300]))
    p, _ = check_config("server:\n  drain_timeout: 0\nwebhook:\n  backoff: 0\n")
    assert_eq(p.returncode, 0, "0 has a documented meaning for drain_timeout and backoff: " + p.stderr)


def test_nested_env_default_expanded_or_refused():
    p, path = check_config("triggers:\n  - id: s\n    kind: gitlab\n    secret: ${EH_DATA_UNSET_A:-${EH_DATA_UNSET_B}}\n")
    assert_eq(p.returncode, 2, "the inner variable is unset and has no default")
    assert_true(path + ":4: environment variable EH_DATA_UNSET_B is not set" in p.stderr, p.stderr)
    p, path = check_config("triggers:\n  - id: s\n    kind: gitlab\n    secret: ${EH_DATA_UNSET_A:-${EH_DATA_UNSET_B:-fallback}}\n")
    assert_eq(p.returncode, 0, p.stderr)


def test_trigger_api_refuses_zero_and_overflowing_durations():
    wrap = "1000000000h" * 5124 + "95576030h1551s617ms"  # 2^64 + 1 ms
    with Edgehook("api:\n  allow_run: true\n") as eh:
        for timeout in ("0", "0ms", wrap):
            body = json.dumps({"kind": "generic", "allowed_ips": ["127.0.0.1"],
                               "run": {"command": "/bin/true", "timeout": timeout}}).encode()
            r = eh.request("PUT", "/api/v1/triggers/t", body)
            assert_eq(r.status, 400, "run.timeout %r" % timeout[:20])
            assert_true(b"timeout" in r.body, r.body[:200])
        body = json.dumps({"kind": "generic", "allowed_ips": ["127.0.0.1"],
                           "run": {"command": "/bin/true", "timeout": "1s"}}).encode()
        assert_eq(eh.request("PUT", "/api/v1/triggers/t", body).status, 201)
