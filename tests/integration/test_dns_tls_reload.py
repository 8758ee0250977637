"""Outbound DNS, TLS and reload edges from the second audit (issue 19
items 6, 10, 11; issue 12 item 12): trailing-dot names, both answers
truncated, IP literals over TLS (IP SANs, no SNI), renegotiation refused
on both sides, and reloads that are all or nothing and re-read
hosts_file, resolv_conf and ca_file."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import tempfile

from harness import Edgehook, assert_eq, assert_true
from netfakes import OpenSSLPeer, SniSink, s_server
from pki import path
from sinks import FakeDNS, Sink


def post(eh, ev):
    r = eh.request("POST", "/api/v1/events", json.dumps(ev).encode(), {"Content-Type": "application/json"})
    assert_eq(r.status, 202, "event accepted")
    return r


def scratch(name, text=""):
    p = os.path.join(tempfile.mkdtemp(prefix="edgehook-test-"), name)
    with open(p, "w") as f:
        f.write(text)
    return p


def endpoint_names(eh):
    return sorted(e["name"] for e in eh.request("GET", "/api/v1/endpoints").json()["endpoints"])


def wait_delivered(eh, name, n):
    def done():
        eps = eh.request("GET", "/api/v1/endpoints").json()["endpoints"]
        return [e for e in eps if e["name"] == name][0]["delivered"] >= n
    eh.wait_for(done, 40, "%d deliveries to %s" % (n, name))


# ---- DNS ----

def test_dns_trailing_dot_host_resolves():
    """`sink.test.` is the fully qualified `sink.test`: through the
    nameserver and through the hosts file."""
    sink = Sink()
    dns = FakeDNS(zone={"sink.test": {"A": ["127.0.0.1"]}})
    resolv = dns.resolv_conf(scratch("resolv.conf"), timeout=30)
    hosts = scratch("hosts", "127.0.0.1 fromhosts.test\n")
    cfg = """
webhook:
  resolv_conf: %s
  hosts_file: %s
  retries: 0
  endpoints:
    - {url: "http://sink.test.:%d/dns", name: dns}
    - {url: "http://fromhosts.test.:%d/hosts", name: hosts}
""" % (resolv, hosts, sink.port, sink.port)
    with Edgehook(cfg) as eh:
        post(eh, {"event": "e"})
        reqs = sink.wait(2, timeout=30)
        assert_eq(sorted(r.path for r in reqs), ["/dns", "/hosts"])
        assert_eq([l for l in eh.stderr_lines if "delivery failed" in l], [])
    sink.close()
    dns.close()


def test_dns_both_answers_truncated_tcp_fallbacks_run_at_once():
    """A and AAAA both come back truncated: both are asked again over TCP
    at once. Before, the AAAA fallback waited for the resolver timeout,
    after which the UDP question was sent a second time."""
    sink = Sink()
    dns = FakeDNS(zone={"big.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]}}, truncate={"big.test"})
    resolv = dns.resolv_conf(scratch("resolv.conf"), timeout=10, attempts=2)
    cfg = """
webhook:
  resolv_conf: %s
  hosts_file: /nonexistent
  timeout: 30s
  endpoints:
    - {url: "http://big.test:%d/big", name: big}
""" % (resolv, sink.port)
    with Edgehook(cfg) as eh:
        post(eh, {"event": "e"})
        sink.wait(1, timeout=60)
        udp = sorted(q[1] for q in dns.queries if q[0] == "big.test")
        assert_eq(udp, [1, 28], "each type asked once over UDP (no retry after a resolver timeout)")
        assert_eq(dns.tcp_queries.count("big.test"), 2, "A and AAAA both asked over TCP")
    sink.close()
    dns.close()


# ---- TLS to IP literals, SNI ----

def test_tls_ip_literal_matches_ip_san_and_sends_no_sni():
    """https://127.0.0.1 is checked against the certificate's IP SANs
    (IP:127.0.0.1) and sends no SNI (RFC 6066); a host name still sends
    its SNI, without the trailing dot."""
    sink = SniSink(path("server.pem"), path("server.key"))
    wrong = SniSink(path("wronghost.pem"), path("wronghost.key"))
    hosts = scratch("hosts", "127.0.0.1 sink.test\n")
    cfg = """
webhook:
  ca_file: %s
  hosts_file: %s
  retries: 0
  endpoints:
    - {url: "https://127.0.0.1:%d/ip", name: ip, events: ["ip"]}
    - {url: "https://sink.test.:%d/name", name: name, events: ["name"]}
    - {url: "https://127.0.0.1:%d/wrong", name: wrong, events: ["wrong"]}
""" % (path("ca.pem"), hosts, sink.port, sink.port, wrong.port)
    with Edgehook(cfg) as eh:
        post(eh, {"event": "ip"})
        assert_eq(sink.wait(1), ["POST /ip HTTP/1.1"])
        assert_eq(sink.names, [None], "no SNI for an IP literal")
        post(eh, {"event": "name"})
        sink.wait(2)
        assert_eq(sink.names, [None, "sink.test"], "SNI for a host name, without the trailing dot")
        post(eh, {"event": "wrong"})
        eh.wait_log(r'endpoint=wrong .*err="tls: name mismatch"', timeout=20)
        assert_eq(wrong.names, [None])
        assert_eq([l for l in eh.stderr_lines if "delivery failed" in l and "endpoint=wrong" not in l], [])
    sink.close()
    wrong.close()


# ---- renegotiation ----

def test_tls_server_refuses_renegotiation():
    """openssl s_client's `R` asks the HTTPS listener to renegotiate:
    refused, and no request is served on that connection afterwards."""
    cfg = """
server:
  tls: {cert: %s, key: %s}
webhook:
  endpoints:
    - url: "stdout:"
""" % (path("server.pem"), path("server.key"))
    with Edgehook(cfg) as eh:
        cl = OpenSSLPeer(["openssl", "s_client", "-connect", "127.0.0.1:%d" % eh.port, "-tls1_2",
                          "-servername", "localhost", "-CAfile", path("ca.pem")])
        try:
            cl.wait_for(r"Verify return code: 0")
            cl.type("R\n")
            cl.wait_for(r"RENEGOTIATING")
            cl.type("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            cl.wait_exit()
            out = cl.text()
        finally:
            cl.stop()
        assert_true(re.search(r"no renegotiation", out), "renegotiation refused:\n" + out)
        assert_true("HTTP/1.1 200" not in out, "nothing served after the refused renegotiation:\n" + out)
        ctx = ssl.create_default_context(cafile=path("ca.pem"))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", eh.port), timeout=10),
                             server_hostname="localhost") as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert_true(s.recv(4096).startswith(b"HTTP/1.1 200"), "the listener still serves")


def test_tls_client_refuses_renegotiation():
    """An https endpoint (openssl s_server) asks edgehook to renegotiate
    while edgehook waits for its answer: refused with a no_renegotiation
    alert, the attempt fails and is logged."""
    srv, port = s_server(path("server.pem"), path("server.key"))
    cfg = """
webhook:
  ca_file: %s
  retries: 0
  timeout: 30s
  endpoints:
    - {url: "https://localhost:%d/hook", name: reneg}
""" % (path("ca.pem"), port)
    try:
        with Edgehook(cfg) as eh:
            post(eh, {"event": "e"})
            srv.wait_for(r"^POST /hook HTTP/1.1")
            srv.type("r\n")
            srv.wait_for(r"no renegotiation")
            line = eh.wait_log(r"delivery failed.*endpoint=reneg", timeout=40)[0]
            assert_true("tls: peer sent a fatal alert" in line, line)
    finally:
        srv.stop()


# ---- reload: all or nothing, files re-read ----

def test_reload_failing_trust_anchors_changes_nothing():
    """The new config adds an https endpoint, but its ca_file holds no
    certificate: the reload fails and neither the endpoints nor the
    server limits change."""
    sink = Sink()
    bad_ca = scratch("ca.pem", "not a certificate\n")
    cfg1 = """
server:
  max_body_bytes: 64KiB
webhook:
  endpoints:
    - {url: "%s", name: old}
""" % sink.url("/old")
    cfg2 = """
server:
  max_body_bytes: 1KiB
webhook:
  ca_file: %s
  endpoints:
    - {url: "%s", name: new}
    - {url: "https://localhost:1/", name: tls}
""" % (bad_ca, sink.url("/new"))
    with Edgehook(cfg1) as eh:
        assert_eq(endpoint_names(eh), ["old"])
        with open(eh.config_path, "w") as f:
            f.write(cfg2)
        eh.signal(signal.SIGHUP)
        eh.wait_log("reload failed")
        assert_true(not any("config reloaded" in l for l in eh.stderr_lines), "no partial reload logged")
        assert_eq(endpoint_names(eh), ["old"], "endpoints unchanged")
        post(eh, {"event": "e", "pad": "x" * 2048})
        assert_eq([r.path for r in sink.wait(1)], ["/old"])
    sink.close()


def test_reload_rereads_hosts_resolv_and_ca_file():
    """Same config file, changed files behind it: SIGHUP re-reads the
    hosts file, resolv.conf and the CA bundle."""
    sink = Sink()
    tls_sink = Sink(tls=(path("server.pem"), path("server.key")))
    dns_old = FakeDNS(nxdomain={"viadns.test"})
    dns_new = FakeDNS(zone={"viadns.test": {"A": ["127.0.0.1"]}})
    resolv = dns_old.resolv_conf(scratch("resolv.conf"), timeout=30)
    hosts = scratch("hosts", "# nothing yet\n")
    ca = scratch("ca.pem")
    shutil.copy(path("other-ca.pem"), ca)
    cfg = """
webhook:
  resolv_conf: %s
  hosts_file: %s
  ca_file: %s
  retries: 0
  endpoints:
    - {url: "http://moved.test:%d/hosts", name: hosts}
    - {url: "http://viadns.test:%d/dns", name: dns}
    - {url: "https://localhost:%d/tls", name: tls}
""" % (resolv, hosts, ca, sink.port, sink.port, tls_sink.port)
    with Edgehook(cfg) as eh:
        post(eh, {"event": "before"})
        eh.wait_for(lambda: sum("delivery failed" in l for l in eh.stderr_lines) >= 3, 40, "3 failed deliveries")
        logs = "\n".join(eh.stderr_lines)
        assert_true(re.search(r'endpoint=tls .*err="tls: unknown CA"', logs), logs)
        with open(hosts, "w") as f:
            f.write("127.0.0.1 moved.test\n")
        dns_new.resolv_conf(resolv, timeout=30)
        shutil.copy(path("ca.pem"), ca)
        eh.signal(signal.SIGHUP)
        eh.wait_log("config reloaded")
        post(eh, {"event": "after"})
        assert_eq(sorted(r.path for r in sink.wait(2, timeout=40)), ["/dns", "/hosts"])
        assert_eq([r.path for r in tls_sink.wait(1, timeout=40)], ["/tls"])
    sink.close()
    tls_sink.close()
    dns_old.close()
    dns_new.close()


def test_reload_new_trust_anchors_are_not_bypassed_by_resumption():
    """A session saved under the old anchors is not resumed after a
    reload changed them: the endpoint whose CA is no longer trusted fails
    at once instead of resuming its way past the new bundle."""
    closer = Sink(lambda i, r: ("close", 200), tls=(path("server.pem"), path("server.key")))
    ca = scratch("ca.pem")
    shutil.copy(path("ca.pem"), ca)
    cfg = """
webhook:
  ca_file: %s
  retries: 0
  endpoints:
    - {url: "https://localhost:%d/tls", name: tls}
""" % (ca, closer.port)
    with Edgehook(cfg) as eh:
        post(eh, {"event": "first"})
        wait_delivered(eh, "tls", 1)  # the session is saved with the answer
        post(eh, {"event": "resumed"})
        wait_delivered(eh, "tls", 2)
        assert_true(closer.resumed >= 1, "the session is resumed while the anchors stay")
        shutil.copy(path("other-ca.pem"), ca)
        eh.signal(signal.SIGHUP)
        eh.wait_log("config reloaded")
        post(eh, {"event": "after"})
        line = eh.wait_log(r"delivery failed.*endpoint=tls", timeout=40)[0]
        assert_true('err="tls: unknown CA"' in line, line)
        assert_eq(len(closer.requests), 2, "nothing delivered under the old trust")
    closer.close()
