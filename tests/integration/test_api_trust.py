"""Who may reach the API and what an API client may define: forwarded
requests are never loopback, api.listen keeps the API off the public
listeners, API triggers carry no commands unless the config allows it;
client addresses from X-Forwarded-For; route suffixes; empty secrets;
the event_source and shared-listener warnings; config wins over API
triggers on reload."""
import json
import os
import signal
import socket
import stat
import subprocess
import tempfile

import harness
from harness import Edgehook, assert_eq, assert_true, build_request, read_response


def binary():
    return os.environ.get("EDGEHOOK_BIN") or harness.BIN


def check(config, env=None):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(config)
    try:
        return subprocess.run([binary(), "--check", "-c", path], capture_output=True, text=True, timeout=20,
                              env=dict(os.environ, **(env or {})))
    finally:
        os.unlink(path)


def raw_request(eh, head_lines, body=b"{}"):
    """A POST whose header lines are sent as given (repeated names kept)."""
    s = eh.connect()
    try:
        head = "".join(l + "\r\n" for l in head_lines)
        s.sendall(head.encode() + ("Content-Length: %d\r\n\r\n" % len(body)).encode() + body)
        return read_response(s)
    finally:
        s.close()


def unix_request(path, method, target, body=b"", headers=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(build_request(method, target, body, headers))
        return read_response(s)
    finally:
        s.close()


STDOUT = """
webhook:
  endpoints:
    - url: "stdout:"
"""


def test_api_forwarded_request_is_never_loopback():
    """Behind a reverse proxy on the same host every request comes from
    127.0.0.1: a proxied request must not pass as a local one."""
    with Edgehook(STDOUT) as eh:
        assert_eq(eh.request("GET", "/api/v1/triggers").status, 200, "plain loopback peer")
        for h in ({"X-Forwarded-For": "198.51.100.4"}, {"X-Real-IP": "198.51.100.4"},
                  {"Forwarded": "for=198.51.100.4"}, {"X-Forwarded-For": "127.0.0.1"},
                  {"X-Forwarded-Proto": "https"}, {"X-Forwarded-Host": "hooks.example.com"}, {"Via": "1.1 proxy"}):
            r = eh.request("PUT", "/api/v1/triggers/x", b'{"emit":true}', h)
            assert_eq(r.status, 403, h)
        assert_eq(eh.request("GET", "/api/v1/triggers/x").status, 404, "nothing was created")
    with Edgehook("server:\n  trusted_proxies: [127.0.0.1]\n" + STDOUT) as eh:
        assert_eq(eh.request("GET", "/api/v1/triggers").status, 403, "a trusted proxy's peer is not local")
    with Edgehook("api:\n  token: tok\n" + STDOUT) as eh:
        h = {"X-Forwarded-For": "198.51.100.4", "Authorization": "Bearer tok"}
        assert_eq(eh.request("GET", "/api/v1/triggers", headers=h).status, 200, "a token works through a proxy")


def test_api_listen_unix_socket_only():
    d = tempfile.mkdtemp(prefix="edgehook-api-")
    path = os.path.join(d, "api.sock")
    with Edgehook("api:\n  listen: unix:%s\n" % path + STDOUT) as eh:
        eh.wait_log(r"listening for the API")
        assert_eq(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        assert_true(stat.S_ISSOCK(os.stat(path).st_mode), "a socket")
        r = eh.request("GET", "/api/v1/triggers")
        assert_eq(r.status, 404, "the API is not on the public listener")
        assert_eq(eh.request("POST", "/api/v1/events", b'{"event":"a"}').status, 404)
        assert_eq(unix_request(path, "GET", "/api/v1/triggers").status, 200)
        assert_eq(unix_request(path, "PUT", "/api/v1/triggers/u", b'{"emit":true}').status, 201)
        assert_eq(eh.request("POST", "/webhooks/u", b"{}").status, 202, "webhooks stay public")
        assert_eq(unix_request(path, "POST", "/webhooks/u", b"{}").status, 404, "the API socket serves the API")
    assert_true(not os.path.exists(path), "the socket is removed at exit")


def test_api_listen_tcp_loopback():
    with Edgehook("api:\n  listen: [127.0.0.1:0]\n" + STDOUT) as eh:
        line = eh.wait_log(r"listening for the API")[0]
        port = int(line.split("addr=")[1].split()[0].rsplit(":", 1)[1])
        assert_eq(eh.request("GET", "/api/v1/endpoints").status, 404)
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(build_request("GET", "/api/v1/endpoints"))
        assert_eq(read_response(s).status, 200)
        s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(build_request("GET", "/api/v1/endpoints", headers={"X-Forwarded-For": "192.0.2.1"}))
        assert_eq(read_response(s).status, 403, "forwarded requests stay refused on the API listener")
        s.close()


def test_check_warns_api_on_public_listener_without_token():
    p = check("server:\n  listen: 0.0.0.0:8080\n")
    assert_eq((p.returncode, p.stdout.strip()), (0, "ok"))
    assert_true("api.token" in p.stderr and "warning" in p.stderr, p.stderr)
    for quiet in ("server:\n  listen: 127.0.0.1:8080\n", "server:\n  listen: 0.0.0.0:8080\napi:\n  token: t\n",
                  "server:\n  listen: 0.0.0.0:8080\napi:\n  listen: unix:/run/eh.sock\n"):
        p = check(quiet)
        assert_eq((p.returncode, p.stderr), (0, ""), quiet)
    p = check("api:\n  listen: 0.0.0.0:9090\n")
    assert_true("api.token" in p.stderr, "a public api.listen without a token warns: %r" % p.stderr)
    with Edgehook(STDOUT, listen="0.0.0.0:0") as eh:
        eh.wait_log(r"level=warn.*api\.token")


def test_api_trigger_run_needs_allow_run():
    run = {"emit": True, "run": {"command": "/bin/true"}}
    with Edgehook(STDOUT) as eh:
        r = eh.request("PUT", "/api/v1/triggers/r", json.dumps(run).encode())
        assert_eq(r.status, 400)
        assert_true("api.allow_run" in r.json()["error"], r.json())
        assert_eq(eh.request("GET", "/api/v1/triggers/r").status, 404)
        assert_eq(eh.request("PUT", "/api/v1/triggers/r", b'{"emit":true}').status, 201)
        r = eh.request("PUT", "/api/v1/triggers/r", json.dumps(run).encode())
        assert_eq(r.status, 400, "replacing may not add a command either")
        assert_eq(eh.request("GET", "/api/v1/triggers/r").json()["run"], False)
    with Edgehook("api:\n  allow_run: true\n" + STDOUT) as eh:
        assert_eq(eh.request("PUT", "/api/v1/triggers/r", json.dumps(run).encode()).status, 201)
        root = {"run": {"command": "/bin/sh", "allow_root": True}}
        r = eh.request("PUT", "/api/v1/triggers/root", json.dumps(root).encode())
        assert_eq(r.status, 400)
        assert_true("allow_root" in r.json()["error"], r.json())
        root["run"]["allow_root"] = False
        assert_eq(eh.request("PUT", "/api/v1/triggers/root", json.dumps(root).encode()).status, 201)


def test_xff_rightmost_untrusted_across_lines():
    cfg = """
server:
  trusted_proxies: [127.0.0.1, 10.0.0.0/8]
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: t, allowed_ips: [203.0.113.0/24], emit: true}
"""
    with Edgehook(cfg) as eh:
        host = "Host: x"
        # the client's own line first, the proxy's appended line after it
        r = raw_request(eh, ["POST /webhooks/t HTTP/1.1", host, "X-Forwarded-For: 203.0.113.9",
                             "X-Forwarded-For: 198.51.100.7"])
        assert_eq(r.status, 403, "a forged first line must not win")
        r = raw_request(eh, ["POST /webhooks/t HTTP/1.1", host, "X-Forwarded-For: 198.51.100.7",
                             "X-Forwarded-For: 203.0.113.9, 10.1.2.3"])
        assert_eq(r.status, 202, "trusted hops are skipped from the right")
        assert_eq(json.loads(eh.wait_stdout(1)[0])["source_ip"], "203.0.113.9")
        r = raw_request(eh, ["POST /webhooks/t HTTP/1.1", host, "X-Forwarded-For: 203.0.113.9, bogus"])
        assert_eq(r.status, 403, "an unparsable hop is the client, and matches nothing")
        r = raw_request(eh, ["POST /webhooks/t HTTP/1.1", host, "X-Forwarded-For: 203.0.113.9,198.51.100.7"])
        assert_eq(r.status, 403)


def std_headers(body, msg_id, secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ts=None):
    import base64
    import hashlib
    import hmac
    import time
    ts = ts or int(time.time())
    key = base64.b64decode(secret[6:])
    sig = base64.b64encode(hmac.new(key, b"%s.%d.%s" % (msg_id.encode(), ts, body), hashlib.sha256).digest())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": "v1," + sig.decode()}


def test_dedupe_id_from_the_triggers_own_scheme():
    cfg = STDOUT + """
triggers:
  - {id: std, kind: standard, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, emit: true}
  - {id: gen, emit: true}
"""
    with Edgehook(cfg) as eh:
        body = b'{"type":"a"}'
        h = std_headers(body, "msg_1")
        assert_eq(eh.request("POST", "/webhooks/std", body, h).status, 202)
        r = eh.request("POST", "/webhooks/std", body, dict(h, **{"X-GitHub-Delivery": "other"}))
        assert_eq((r.status, r.json()), (200, {"status": "duplicate"}), "an added id header changes nothing")
        long_id = "msg_" + "x" * 300
        h = std_headers(body, long_id)
        assert_eq(eh.request("POST", "/webhooks/std", body, h).status, 202)
        assert_eq(eh.request("POST", "/webhooks/std", body, h).status, 200, "a long id is hashed, not skipped")
        ev = [json.loads(l) for l in eh.wait_stdout(2)]
        assert_true(len(ev[1]["delivery_id"]) <= 128, "the event carries a bounded id")
        g = {"X-GitHub-Delivery": "d-1"}
        assert_eq(eh.request("POST", "/webhooks/gen", b"{}", g).status, 202)
        assert_eq(eh.request("POST", "/webhooks/gen", b"{}", g).status, 202, "not a generic trigger's id header")
        for name in ("Idempotency-Key", "X-Request-Id"):
            assert_eq(eh.request("POST", "/webhooks/gen", b"{}", {name: "k-" + name}).status, 202)
            assert_eq(eh.request("POST", "/webhooks/gen", b"{}", {name: "k-" + name}).status, 200, name)


def test_empty_secret_is_a_config_error():
    for kind in ("generic", "gitlab", "github", "slack", "standard"):
        p = check("triggers:\n  - id: t\n    kind: %s\n    secret: \"\"\n" % kind)
        assert_eq(p.returncode, 2, kind)
        assert_true(":4: secret: empty" in p.stderr, p.stderr)
    p = check("triggers:\n  - id: t\n    kind: gitlab\n    secret: ${EH_TEST_EMPTY}\n", env={"EH_TEST_EMPTY": ""})
    assert_eq(p.returncode, 2, "a variable that expands to nothing")
    with Edgehook(STDOUT) as eh:
        r = eh.request("PUT", "/api/v1/triggers/e", b'{"kind":"gitlab","secret":""}')
        assert_eq(r.status, 400)
        assert_true("secret: empty" in r.json()["error"], r.json())


def test_route_suffix_cannot_switch_the_scheme():
    cfg = STDOUT + """
triggers:
  - {id: gl, kind: gitlab, secret: gl-token, emit: true}
  - {id: gh, kind: github, secret: s, emit: true}
  - {id: gen, emit: true}
  - {id: gens, secret: gensecret, emit: true}
"""
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("POST", "/webhooks/gl/slack", b"{}", {"X-Gitlab-Token": "gl-token"}).status, 404)
        assert_eq(eh.request("POST", "/webhooks/gh/gitlab", b"{}", {"X-Gitlab-Token": "s"}).status, 404)
        assert_eq(eh.request("POST", "/webhooks/gl/gitlab", b"{}", {"X-Gitlab-Token": "gl-token"}).status, 202)
        assert_eq(eh.request("POST", "/webhooks/gens/gitlab", b"{}", {"X-Gitlab-Token": "gensecret"}).status, 202)
        r = eh.request("POST", "/webhooks/gen/gitlab", b"{}")
        assert_eq(r.status, 401, "a scheme chosen by the route needs the trigger's secret")


def test_check_warns_event_source_without_auth():
    p = check("triggers:\n  - id: t\n    event_source: ci.example.com\n")
    assert_eq((p.returncode, p.stdout.strip()), (0, "ok"))
    assert_true(":2: warning: trigger t" in p.stderr and "event_source" in p.stderr, p.stderr)
    for quiet in ("triggers:\n  - {id: t, event_source: ci.example.com, secret: s}\n",
                  "triggers:\n  - {id: t, event_source: ci.example.com, allowed_ips: [10.0.0.0/8]}\n"):
        p = check(quiet)
        assert_eq((p.returncode, p.stderr), (0, ""), quiet)


def test_reload_config_trigger_wins_over_api_trigger():
    with Edgehook(STDOUT) as eh:
        assert_eq(eh.request("PUT", "/api/v1/triggers/x", b'{"emit":true,"description":"api"}').status, 201)
        assert_eq(eh.request("PUT", "/api/v1/triggers/p", b'{"emit":true,"path":"/hook"}').status, 201)
        eh.write_config(STDOUT + "triggers:\n  - {id: x, description: config}\n  - {id: c, path: /hook}\n")
        eh.signal(signal.SIGHUP)
        eh.wait_log("config reloaded")
        eh.wait_log(r"API trigger dropped.*trigger=x")
        eh.wait_log(r"API trigger dropped.*trigger=p")
        ts = eh.request("GET", "/api/v1/triggers").json()["triggers"]
        assert_eq(sorted((t["id"], t["source"]) for t in ts), [("c", "config"), ("x", "config")])
        assert_eq(eh.request("GET", "/api/v1/triggers/x").json()["description"], "config")
        assert_eq(eh.request("DELETE", "/api/v1/triggers/x").status, 409)
        assert_eq(eh.request("GET", "/api/v1/triggers/p").status, 404)
        eh.write_config(STDOUT)
        eh.signal(signal.SIGHUP)
        eh.wait_for(lambda: len([l for l in eh.stderr_lines if "config reloaded" in l]) == 2, what="second reload")
        assert_eq(eh.request("GET", "/api/v1/triggers").json()["triggers"], [], "the API copy is gone for good")
        assert_eq(eh.request("POST", "/webhooks/x", b"{}").status, 404)
