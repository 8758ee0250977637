"""TLS both ways: https endpoints (trust, SNI, name checks, expiry,
resumption, keep-alive) and HTTPS listeners (curl, openssl s_client,
keep-alive, pipelining, garbage, plain HTTP on the TLS port)."""
import json
import os
import re
import socket
import ssl
import subprocess

import harness
from harness import Edgehook, Reader, assert_eq, assert_true, build_request, is_closed
from pki import path
from sinks import Sink


def https_sink(name="server", behave=None):
    return Sink(behave, tls=(path(name + ".pem"), path(name + ".key")))


def post(eh, ev):
    return eh.request("POST", "/api/v1/events", json.dumps(ev).encode())


def test_https_delivery_keepalive_and_resumption():
    """One delivery at a time to each sink, each waited for, so every
    connection count is what the protocol allows, not what timing gives:
    `keep` never closes and max_in_flight is 1, so its one connection is
    always reused (a second would mean the pool dropped a live keep-alive
    connection); `closer` closes after each answer with close_notify, so
    each of its 6 connections after the first resumes the session the
    previous one established."""
    keep = https_sink()
    closer = https_sink(behave=lambda i, r: ("close", 200))
    cfg = """
webhook:
  ca_file: %s
  endpoints:
    - {url: "https://localhost:%d/keep", name: keep, max_in_flight: 1}
    - {url: "https://localhost:%d/close", name: closer, max_in_flight: 1}
""" % (path("ca.pem"), keep.port, closer.port)
    with Edgehook(cfg) as eh:
        for i in range(6):
            assert_eq(post(eh, {"event": "e", "i": i}).status, 202)
            eh.wait_for(lambda: all(e["delivered"] == i + 1 for e in
                                    eh.request("GET", "/api/v1/endpoints").json()["endpoints"]),
                        30, "delivery %d done on both endpoints" % i)
        assert_eq([json.loads(r.body)["i"] for r in keep.requests], list(range(6)))
        assert_eq(keep.connections, 1, "keep-alive over TLS")
        assert_eq(keep.sni, ["localhost"], "SNI: the endpoint's host name, as the sink's TLS stack saw it")
        assert_eq(closer.sni, ["localhost"] * 6, "SNI on every handshake, resumed ones too")
        assert_eq(closer.connections, 6)
        assert_eq(closer.resumed, 5, "sessions resumed on every reconnect")
        m = eh.request("GET", "/metrics").body.decode()
        assert_eq(int(re.search(r"edgehook_client_tls_resumed_total (\d+)", m).group(1)), 5, "resumption counted")
        assert_eq([l for l in eh.stderr_lines if "delivery failed" in l], [])
        eh.wait_log("trust anchors loaded")
    keep.close()
    closer.close()


def test_https_refusals_named():
    good, expired, wrong = https_sink(), https_sink("expired"), https_sink("wronghost")
    cfg = """
webhook:
  ca_file: %s
  endpoints:
    - {url: "https://localhost:%d/", name: unknownca}
    - {url: "https://localhost:%d/", name: expired}
    - {url: "https://localhost:%d/", name: wronghost}
""" % (path("other-ca.pem"), good.port, expired.port, wrong.port)
    with Edgehook(cfg) as eh:
        post(eh, {"event": "e"})
        eh.wait_for(lambda: sum("delivery failed" in l for l in eh.stderr_lines) >= 3, 10, "3 failures")
    cfg2 = cfg.replace(path("other-ca.pem"), path("ca.pem"))
    with Edgehook(cfg2) as eh2:
        post(eh2, {"event": "e"})
        eh2.wait_for(lambda: sum("delivery failed" in l for l in eh2.stderr_lines) >= 2, 10, "2 failures")
        good.wait(1)
        eh2.wait_for(lambda: {e["name"]: e for e in eh2.request("GET", "/api/v1/endpoints").json()["endpoints"]}
                     ["unknownca"]["delivered"] == 1, 5, "good delivery counted")
        logs2 = "\n".join(eh2.stderr_lines)
        assert_true(re.search(r'endpoint=expired .*err="tls: expired certificate"', logs2), logs2)
        assert_true(re.search(r'endpoint=wronghost .*err="tls: name mismatch"', logs2), logs2)
        assert_true(re.search(r'endpoint=unknownca .*delivery', logs2) is None, "good endpoint delivered")
        eps = {e["name"]: e for e in eh2.request("GET", "/api/v1/endpoints").json()["endpoints"]}
        assert_eq((eps["expired"]["failed"], eps["wronghost"]["failed"], eps["unknownca"]["delivered"]), (1, 1, 1))
    logs = "\n".join(eh.stderr_lines)
    assert_true(re.search(r'endpoint=unknownca .*err="tls: unknown CA"', logs), logs)
    for s in (good, expired, wrong):
        s.close()


def test_https_endpoint_needs_readable_ca():
    import tempfile
    cfg = 'webhook:\n  ca_file: /nonexistent/ca.pem\n  endpoints:\n    - url: "https://example.com/x"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(cfg)
    p = harness.run_cli(["--check", "-c", f.name])
    os.unlink(f.name)
    assert_eq(p.returncode, 2)
    assert_true(f.name + ":2: webhook.ca_file: cannot read /nonexistent/ca.pem" in p.stderr, p.stderr)


def test_plain_http_endpoint_warning():
    cfg = 'webhook:\n  endpoints:\n    - url: "http://192.0.2.1/x"\n    - url: "http://127.0.0.1:9/x"\n'
    with Edgehook(cfg) as eh:
        lines = eh.wait_log("plain http off this host")
        assert_eq(len(lines), 1)
        assert_true("192.0.2.1" in lines[0], lines[0])


def tls_server_config(cert="server", extra=""):
    return """
server:
  header_timeout: 1s
  tls: {cert: %s, key: %s}
%s
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: demo, emit: true}
""" % (path(cert + ".pem"), path(cert + ".key"), extra)


def client_ctx():
    ctx = ssl.create_default_context(cafile=path("ca.pem"))
    return ctx


def test_https_listener_curl_and_s_client():
    for cert in ("server", "ec"):
        with Edgehook(tls_server_config(cert)) as eh:
            eh.wait_log("tls=on")
            out = subprocess.run(["curl", "-s", "--cacert", path("ca.pem"), "-d", '{"x":1}',
                                  "https://localhost:%d/webhooks/demo" % eh.port], capture_output=True, text=True, timeout=20)
            assert_true('"status":"accepted"' in out.stdout, cert + ": " + out.stdout + out.stderr)
            assert_eq(json.loads(eh.wait_stdout(1)[0])["data"], {"x": 1})
            req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            out = subprocess.run(["openssl", "s_client", "-quiet", "-connect", "127.0.0.1:%d" % eh.port,
                                  "-servername", "localhost", "-CAfile", path("ca.pem"), "-verify_return_error"],
                                 input=req, capture_output=True, text=True, timeout=20)
            assert_true("HTTP/1.1 200 OK" in out.stdout and '{"status":"ok"}' in out.stdout, out.stdout + out.stderr)


def test_https_keepalive_pipelining():
    with Edgehook(tls_server_config()) as eh:
        raw = socket.create_connection(("127.0.0.1", eh.port), timeout=10)
        s = client_ctx().wrap_socket(raw, server_hostname="localhost")
        rd = Reader(s)
        for _ in range(3):
            s.sendall(build_request("GET", "/healthz"))
            assert_eq(rd.read_response().status, 200)
        s.sendall(b"".join(build_request("GET", "/healthz" if i % 2 else "/nope") for i in range(200)))
        for i in range(200):
            assert_eq(rd.read_response().status, 200 if i % 2 else 404)
        body = json.dumps({"big": "y" * 40000}).encode()
        s.sendall(build_request("POST", "/webhooks/demo", body))
        assert_eq(rd.read_response().status, 202)
        s.close()


def test_https_listener_hostile_input():
    with Edgehook(tls_server_config()) as eh:
        for junk in [build_request("GET", "/healthz"), os.urandom(2000), b"\x16\x03\x01\x00\x05hello", b""]:
            c = socket.create_connection(("127.0.0.1", eh.port), timeout=5)
            if junk:
                c.sendall(junk)
            assert_true(is_closed(c, 4), "closed after %r" % junk[:20])
        # a client that connects and says nothing is cut at header_timeout
        c = socket.create_connection(("127.0.0.1", eh.port), timeout=5)
        assert_true(is_closed(c, 30), "silent TLS client closed at header_timeout")
        out = subprocess.run(["curl", "-s", "--cacert", path("ca.pem"), "https://localhost:%d/healthz" % eh.port],
                             capture_output=True, text=True, timeout=20)
        assert_eq(out.stdout, '{"status":"ok"}')


def test_plain_and_tls_listeners_together():
    extra = '  listen:\n    - 127.0.0.1:0\n    - {address: "127.0.0.1:0", tls: true}\n'
    cfg = tls_server_config().replace("server:\n", "server:\n" + extra, 1)
    with Edgehook(cfg, listen=None) as eh:
        eh.wait_for(lambda: len(eh.ports) == 2, 5, "two listeners")
        plain, tls_port = eh.ports
        eh.port = plain
        assert_eq(eh.request("GET", "/healthz").status, 200)
        out = subprocess.run(["curl", "-s", "--cacert", path("ca.pem"), "https://localhost:%d/healthz" % tls_port],
                             capture_output=True, text=True, timeout=20)
        assert_eq(out.stdout, '{"status":"ok"}')
        assert_true(any("tls=off" in l for l in eh.stderr_lines) and any("tls=on" in l for l in eh.stderr_lines), "both logged")
