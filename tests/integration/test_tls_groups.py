"""HTTPS listener key exchange and resumption: clients that offer only
P-256, only X25519 or only RSA key exchange each connect; X25519 is
preferred when offered; a client that resumes gets its session back, and
a resumed handshake costs the server a fraction of a full one."""
import os
import re
import socket
import ssl
import subprocess

from harness import Edgehook, assert_eq, assert_true, serial
from pki import path

REQ = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def config(cert):
    return "server:\n  tls: {cert: %s, key: %s}\n" % (path(cert + ".pem"), path(cert + ".key"))


def s_client(port, *opts):
    """One TLS 1.2 connection with openssl s_client; returns (stdout, the
    handshake summary on stderr)."""
    out = subprocess.run(["openssl", "s_client", "-brief", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
                          "-CAfile", path("ca.pem"), "-verify_return_error", "-tls1_2", "-ign_eof"] + list(opts),
                         input=REQ, capture_output=True, text=True, timeout=30)
    assert_true("HTTP/1.1 200 OK" in out.stdout and '{"status":"ok"}' in out.stdout,
                "%s: %s%s" % (" ".join(opts), out.stdout, out.stderr))
    return out.stdout, out.stderr


def temp_key(summary):
    m = re.search(r"Server Temp Key: (.*)", summary)
    return m.group(1) if m else summary


def test_clients_offering_only_p256_x25519_or_rsa_key_exchange_connect():
    with Edgehook(config("ec")) as eh:
        eh.wait_log("tls implementations")
        assert_true(temp_key(s_client(eh.port, "-groups", "P-256")[1]).startswith("ECDH, prime256v1"), "P-256 only")
        # an ECDSA P-256 certificate needs P-256 among the client's curves
        # in TLS 1.2, so X25519 is offered beside it: X25519 is chosen
        # whatever the client's order
        for groups in ("X25519:P-256", "P-256:X25519"):
            assert_true(temp_key(s_client(eh.port, "-groups", groups)[1]).startswith("X25519"), groups)
    with Edgehook(config("server")) as eh:
        summary = s_client(eh.port, "-groups", "X25519")[1]
        assert_true(temp_key(summary).startswith("X25519") and "ECDHE-RSA" in summary, "X25519 only: " + summary)
        assert_true(temp_key(s_client(eh.port, "-groups", "P-256")[1]).startswith("ECDH, prime256v1"), "P-256 only")
        summary = s_client(eh.port, "-cipher", "AES128-GCM-SHA256")[1]
        assert_true("Ciphersuite: AES128-GCM-SHA256" in summary and "Server Temp Key" not in summary,
                    "RSA key exchange only: " + summary)


def tls12_client():
    ctx = ssl.create_default_context(cafile=path("ca.pem"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def handshake(ctx, port, session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost",
                        session=session)
    s.sendall(REQ.encode())
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    assert_true(got.startswith(b"HTTP/1.1 200 OK"), got[:200])
    reused, sess = s.session_reused, s.session
    s.close()
    return reused, sess


def test_https_listener_resumes_sessions():
    for cert in ("ec", "server"):
        with Edgehook(config(cert)) as eh:
            ctx = tls12_client()
            reused, sess = handshake(ctx, eh.port)
            assert_true(not reused, "first handshake is full")
            for _ in range(5):
                reused, _ = handshake(ctx, eh.port, sess)
                assert_true(reused, "%s: session resumed" % cert)
            # a client without the session gets a full handshake
            assert_true(not handshake(tls12_client(), eh.port)[0], "fresh client")


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


@serial
def test_resumed_handshake_costs_a_fraction_of_a_full_one():
    """Server CPU for n full against n resumed handshakes in one run.
    The target is 1/5 (make bench reports the ratio); the assertion is
    a generous 1/2 so a loaded machine cannot fail it, while a server
    that ignored the session (ratio near 1) still does."""
    n = 40
    with Edgehook(config("ec")) as eh:
        ctx = tls12_client()
        _, sess = handshake(ctx, eh.port)
        full, resumed = [], []
        # interleaved one by one, so load from elsewhere falls on both
        # kinds alike; medians, so a descheduled outlier cannot decide
        for _ in range(n):
            t0 = cpu_ns(eh.proc.pid)
            assert_true(not handshake(tls12_client(), eh.port)[0], "full")
            full.append(cpu_ns(eh.proc.pid) - t0)
            t0 = cpu_ns(eh.proc.pid)
            assert_true(handshake(ctx, eh.port, sess)[0], "resumed")
            resumed.append(cpu_ns(eh.proc.pid) - t0)
        full_med, resumed_med = sorted(full)[n // 2], sorted(resumed)[n // 2]
        assert_true(resumed_med * 2 < full_med, "median resumed %d ns vs full %d ns" % (resumed_med, full_med))
        assert_eq(eh.proc.poll(), None)
