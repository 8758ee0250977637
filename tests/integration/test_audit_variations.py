"""Variations on the security rounds' scenarios (issues 12, 19, 21) that
the first regression tests did not cover, each found failing once."""
import select
import socket
import ssl
import time

from harness import Edgehook, assert_eq, assert_true, serial
from pki import path

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
