"""Variations on the security rounds' scenarios (issues 12, 19, 21) that
the first regression tests did not cover, each found failing once."""
import json
import os
import select
import shutil
import signal
import socket
import ssl
import tempfile
import time

from harness import Edgehook, assert_eq, assert_true, serial
from pki import path
from sinks import Sink

TICK = 0.1
TRICKLE_FOR = 12.0


def tls_handshake(sock):
    """A TLS client over a memory BIO, so the test controls every byte
    that goes out after the handshake."""
    ctx = ssl.create_default_context(cafile=path("ca.pem"))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            data = sock.recv(65536)
            assert_true(data, "handshake: server closed")
            inc.write(data)
    sock.sendall(out.read())
    return obj, out


@serial
def test_tls_record_trickle_does_not_rearm_idle_deadline():
    """Issue 12 #7 over TLS: bytes of a TLS record that never completes
    give no plaintext, so they are no progress: an idle connection still
    ends idle_timeout after it became idle."""
    cfg = """
server:
  header_timeout: 1s
  idle_timeout: 1s
  tls: {cert: %s, key: %s}
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: demo, emit: true}
""" % (path("server.pem"), path("server.key"))
    with Edgehook(cfg) as eh:
        s = socket.create_connection(("127.0.0.1", eh.port), timeout=10)
        obj, out = tls_handshake(s)
        obj.write(b"G" * 16000)  # one record, sent a byte at a time
        record = out.read()
        t0 = time.monotonic()
        closed = False
        i = 0
        while time.monotonic() - t0 < TRICKLE_FOR:
            readable, _, _ = select.select([s], [], [], TICK)
            if readable:
                closed = True
                break
            try:
                s.send(record[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            i += 1
        s.close()
        assert_true(closed, "connection still open after %.0fs of a trickled TLS record" % TRICKLE_FOR)


STDOUT = """
webhook:
  endpoints:
    - url: "stdout:"
"""


def test_v4_mapped_trusted_proxy_is_not_local():
    """Issue 12 #2 with the proxy written as an IPv4-mapped IPv6 address
    (or inside an IPv6 range that holds the mapped space): a peer is the
    same address whichever way the config spells it, so it is a proxy and
    never a local API caller."""
    for proxies in ('["::ffff:127.0.0.1"]', '["::ffff:127.0.0.0/104"]', '["::ffff:0:0/96"]', '["::/0"]'):
        with Edgehook("server:\n  trusted_proxies: %s\n" % proxies + STDOUT) as eh:
            r = eh.request("PUT", "/api/v1/triggers/x", b'{"emit":true}')
            assert_eq(r.status, 403, "trusted_proxies %s: the proxy's peer is not local" % proxies)


def test_v4_mapped_allowed_ip_matches_v4_peer():
    """allowed_ips written as a v4-mapped address admits that v4 peer."""
    cfg = STDOUT + 'triggers:\n  - {id: t, allowed_ips: ["::ffff:127.0.0.1"], emit: true}\n'
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("POST", "/webhooks/t", b"{}").status, 202, "mapped allowed_ips")


def test_reload_new_trust_anchors_close_idle_tls_connections():
    """Issue 19 #6 / the resumption fix, for pooled connections: an idle
    keep-alive TLS connection verified under anchors a reload removed is
    not used again; the next delivery handshakes under the new bundle and
    fails for a CA that is no longer trusted."""
    keep = Sink(tls=(path("server.pem"), path("server.key")))
    ca = os.path.join(tempfile.mkdtemp(prefix="edgehook-test-"), "ca.pem")
    shutil.copy(path("ca.pem"), ca)
    cfg = """
webhook:
  ca_file: %s
  retries: 0
  endpoints:
    - {url: "https://localhost:%d/tls", name: tls}
""" % (ca, keep.port)

    def delivered(n):
        eps = eh.request("GET", "/api/v1/endpoints").json()["endpoints"]
        return eps[0]["delivered"] >= n

    with Edgehook(cfg) as eh:
        for n in (1, 2):
            assert_eq(eh.request("POST", "/api/v1/events", json.dumps({"event": "e%d" % n}).encode()).status, 202)
            eh.wait_for(lambda: delivered(n), 40, "delivery %d" % n)
        assert_eq(keep.connections, 1, "both deliveries on one pooled connection")
        shutil.copy(path("other-ca.pem"), ca)
        eh.signal(signal.SIGHUP)
        eh.wait_log("config reloaded")
        assert_eq(eh.request("POST", "/api/v1/events", b'{"event":"after"}').status, 202)
        line = eh.wait_log(r"delivery failed.*endpoint=tls", timeout=40)[0]
        assert_true('err="tls: unknown CA"' in line, line)
        assert_eq(len(keep.requests), 2, "nothing delivered under the old trust")
    keep.close()


def test_api_trigger_string_with_nul_refused():
    """Issue 19 #3 / 21 #2 for the trigger API: a config string holding
    \\u0000 was cut at the NUL (secret "abc\\u0000def" signed with
    "abc"). A value that cannot be kept exactly is refused."""
    with Edgehook(STDOUT) as eh:
        for body in (b'{"emit":true,"secret":"abc\\u0000def"}', b'{"emit":true,"description":"a\\u0000b"}',
                     b'{"emit":true,"allowed_ips":["127.0.0.1\\u0000x"]}', b'{"emit":true,"r\\u0000":1}'):
            r = eh.request("PUT", "/api/v1/triggers/x", body, {"Content-Type": "application/json"})
            assert_eq(r.status, 400, body)
            assert_true("NUL" in r.body.decode(), r.body)
        assert_eq(eh.request("GET", "/api/v1/triggers/x").status, 404, "nothing created")


def dedupe_cfg(window):
    return "server:\n  dedupe: %d\n" % window + STDOUT + "triggers:\n  - {id: t, emit: true}\n"


def post_key(eh, key):
    return eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": key})


def test_reload_applies_dedupe_window():
    """Issue 21 #12 across a reload: server.dedupe was read at start only,
    so turning dedupe on (0 -> 100) by SIGHUP silently left it off, and a
    smaller window kept the old one. The ids already seen stay seen (the
    newest ones, up to the new window)."""
    with Edgehook(dedupe_cfg(0)) as eh:
        assert_eq(post_key(eh, "a").status, 202)
        assert_eq(post_key(eh, "a").status, 202, "dedupe off")
        eh.write_config(dedupe_cfg(100))
        eh.signal(signal.SIGHUP)
        eh.wait_log("config reloaded")
        assert_eq(post_key(eh, "b").status, 202)
        assert_eq(post_key(eh, "b").status, 200, "dedupe on after the reload")
        for k in ("c", "d"):
            assert_eq(post_key(eh, k).status, 202)
        eh.write_config(dedupe_cfg(2))
        eh.signal(signal.SIGHUP)
        eh.wait_for(lambda: sum("config reloaded" in l for l in eh.stderr_lines) >= 2, 20, "second reload")
        assert_eq(post_key(eh, "d").status, 200, "the newest ids survive a smaller window")
        assert_eq(post_key(eh, "c").status, 200)
        assert_eq(post_key(eh, "b").status, 202, "the window is 2 now")


def test_github_form_repeated_payload_refused():
    """Issue 21 #2 for GitHub's form content type: routing and
    placeholders read the first payload field while a command reading the
    body (stdin) with a usual form parser sees the last; a repeated name,
    also spelled with escapes (pay%6Coad), is refused like a repeated
    JSON key."""
    import hashlib
    import hmac
    secret = "gh-secret"
    cfg = STDOUT + "triggers:\n  - {id: gh, kind: github, secret: %s, emit: true}\n" % secret
    form = "application/x-www-form-urlencoded"
    with Edgehook(cfg) as eh:
        for i, body in enumerate((b'payload=%7B%22a%22%3A1%7D&payload=%7B%22a%22%3A2%7D',
                                  b'payload=%7B%22a%22%3A1%7D&pay%6Coad=%7B%22a%22%3A2%7D',
                                  b'payload=%7B%22a%22%3A1%7D')):
            sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            r = eh.request("POST", "/webhooks/gh", body, {"Content-Type": form, "X-Hub-Signature-256": sig,
                                                         "X-GitHub-Event": "push", "X-GitHub-Delivery": "d%d" % i})
            assert_eq(r.status, 202 if i == 2 else 400, body)


def test_overlong_event_header_is_refused_not_skipped():
    """An event header too long to keep must not hand the event type to
    the next header in line: with X-GitHub-Event over the bound, an
    X-Webhook-Event the sender adds would otherwise route the event
    (receivers and filters that read X-GitHub-Event see another type)."""
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:", events: ["public.*"]}
triggers:
  - {id: t, emit: true}
"""
    with Edgehook(cfg) as eh:
        r = eh.request("POST", "/webhooks/t", b'{"a":1}', {"Content-Type": "application/json",
                                                         "X-GitHub-Event": "admin." + "x" * 200,
                                                         "X-Webhook-Event": "public.ping"})
        assert_eq(r.status, 400, r.body)
        r = eh.request("POST", "/webhooks/t", b'{"a":2}', {"Content-Type": "application/json",
                                                         "X-GitHub-Event": "public.ok"})
        assert_eq(r.status, 202, r.body)
        eh.wait_for(lambda: any('"public.ok"' in l for l in eh.stdout_lines), 20, "the valid event")
        assert_true(not any('"public.ping"' in l for l in eh.stdout_lines), "the overlong request emitted nothing")
