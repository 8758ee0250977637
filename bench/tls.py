#!/usr/bin/env python3
"""TLS handshake cost: edgehook (BearSSL) against nginx (OpenSSL) on the
same certificates, in one run. Both servers are pinned to CPU 0, the
clients to CPU 1. The cost of a handshake is the CPU the server process
spent (utime+stime from /proc) divided by the handshakes the client did
(openssl s_time -new: a full TLS 1.2 handshake per connection; -reuse:
resumed by session id). Keep-alive HTTPS is wrk's requests/s.

Then a burst of 200 simultaneous new TLS connections while a plain-HTTP
client keeps requesting /healthz: its latency percentiles during the
burst show how long one loop iteration can hold other clients.

nginx runs from its own config and pid file on free ports and is stopped
by pid. Writes bench/results/tls-<date>.{json,md}."""
import datetime
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import cpu_ticks, free_port, wait_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EDGEHOOK = os.environ.get("EDGEHOOK_BIN", os.path.join(ROOT, "build", "release", "edgehook.bin"))
SECONDS = int(os.environ.get("BENCH_TLS_SECONDS", "5"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
BURST = 200
SERVER_CPU, CLIENT_CPU = "0", "1"
TARGETS = {"EC P-256": 1.3, "RSA-2048": 1.5}
TMP = tempfile.mkdtemp(prefix="edgehook-tlsbench-")
procs = []
rows = []


def start(cmd):
    p = subprocess.Popen(["taskset", "-c", SERVER_CPU] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def make_cert(name, key_args):
    key, crt = os.path.join(TMP, name + ".key"), os.path.join(TMP, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", crt] + key_args,
                   check=True, capture_output=True)
    return crt, key


def start_edgehook(crt, key):
    port = free_port()
    cfg = os.path.join(TMP, "edgehook-%d.yaml" % port)
    with open(cfg, "w") as f:
        f.write("server:\n  listen: [\"127.0.0.1:%d\"]\n  tls: {cert: %s, key: %s}\n  idle_timeout: 300s\n"
                "  max_connections: 2000\n" % (port, crt, key))
    p = start([EDGEHOOK, "-c", cfg])
    wait_port(port)
    return p, port


def start_nginx(crt, key):
    port, plain = free_port(), free_port()
    d = os.path.join(TMP, "nginx-%d" % port)
    os.makedirs(os.path.join(d, "logs"))
    conf = os.path.join(d, "nginx.conf")
    # one process that does all the work (master_process off): its CPU
    # is the server's CPU, as for edgehook
    with open(conf, "w") as f:
        f.write("""daemon off; master_process off; worker_processes 1; pid %s/nginx.pid; error_log %s/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  ssl_session_cache shared:bench:4m; ssl_session_tickets off;
  server { listen 127.0.0.1:%d ssl; listen 127.0.0.1:%d;
    ssl_certificate %s; ssl_certificate_key %s;
    location / { return 200 "ok\\n"; } } }
""" % (d, d, port, plain, crt, key))
    p = start(["nginx", "-c", conf, "-p", d])
    wait_port(port)
    return p, port


def s_time(port, mode):
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, "openssl", "s_time", "-connect", "127.0.0.1:%d" % port, mode,
                          "-tls1_2", "-time", str(SECONDS)], capture_output=True, text=True).stdout
    m = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    if not m:
        raise SystemExit("s_time: no result:\n" + out)
    return int(m.group(1))


def us_per_handshake(p, port, mode):
    """Median over REPEAT runs of server CPU microseconds per handshake."""
    tick = 1e6 / os.sysconf("SC_CLK_TCK")
    runs = []
    for _ in range(REPEAT):
        t0 = cpu_ticks(p.pid)
        n = s_time(port, mode)
        runs.append((cpu_ticks(p.pid) - t0) * tick / max(n, 1))
    runs.sort()
    return runs[len(runs) // 2]


def wrk_rps(port):
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c50", "-d%ds" % SECONDS,
                          "https://127.0.0.1:%d/healthz" % port], capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def row(name, ours, peer, target=None, lower_is_better=True, unit="us"):
    ratio = ours / peer if peer else 0.0
    met = None if target is None else (ratio <= target if lower_is_better else ratio >= target)
    rows.append({"name": name, "edgehook": round(ours, 1), "nginx": round(peer, 1) if peer else None,
                 "ratio": round(ratio, 2), "target": target, "met": met, "unit": unit})
    print("%-44s edgehook %9.1f  nginx %9s  ratio %5.2f  target %-5s %s" % (
        name, ours, "%.1f" % peer if peer else "-", ratio, target or "-",
        "" if met is None else ("ok" if met else "MISSED")), flush=True)


def handshake_table():
    for label, key_args in (("EC P-256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]),
                            ("RSA-2048", ["-newkey", "rsa:2048"])):
        crt, key = make_cert(label.split()[0].lower(), key_args)
        eh, eh_port = start_edgehook(crt, key)
        ng, ng_port = start_nginx(crt, key)
        full = (us_per_handshake(eh, eh_port, "-new"), us_per_handshake(ng, ng_port, "-new"))
        row("%s full handshake (server CPU us)" % label, full[0], full[1], TARGETS[label])
        resumed = (us_per_handshake(eh, eh_port, "-reuse"), us_per_handshake(ng, ng_port, "-reuse"))
        row("%s resumed handshake (server CPU us)" % label, resumed[0], resumed[1])
        print("%-44s edgehook %5.2f  nginx %5.2f  target <= 0.2" % (
            "%s resumed / full" % label, resumed[0] / full[0], resumed[1] / full[1]), flush=True)
        rows.append({"name": "%s resumed/full" % label, "edgehook": round(resumed[0] / full[0], 3),
                     "nginx": round(resumed[1] / full[1], 3), "target": 0.2, "met": resumed[0] / full[0] <= 0.2})
        if shutil.which("wrk"):
            row("%s keep-alive HTTPS (req/s, wrk -c50)" % label, wrk_rps(eh_port), wrk_rps(ng_port),
                lower_is_better=False, unit="req/s")
        stop(eh)
        stop(ng)


def plain_latencies(port, stop_evt, out):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    while not stop_evt.is_set():
        t0 = time.perf_counter()
        s.sendall(req)
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        m = re.search(rb"content-length: *(\d+)", got, re.I)
        body = got.split(b"\r\n\r\n", 1)[1]
        while m and len(body) < int(m.group(1)):
            body += s.recv(4096)
        out.append(time.perf_counter() - t0)
    s.close()


def burst_child(port, n):
    """Opens n TLS connections at once (non-blocking handshakes driven
    together), reports when all are done."""
    import selectors
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        raw = socket.socket()
        raw.setblocking(False)
        raw.connect_ex(("127.0.0.1", port))
        s = ctx.wrap_socket(raw, do_handshake_on_connect=False)
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    pending, failed = len(socks), 0
    end = time.time() + 60
    while pending and time.time() < end:
        for key, _ in sel.select(1):
            s = key.fileobj
            try:
                s.do_handshake()
                sel.unregister(s)
                pending -= 1
            except ssl.SSLWantReadError:
                sel.modify(s, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                sel.modify(s, selectors.EVENT_WRITE)
            except OSError:
                sel.unregister(s)
                pending -= 1
                failed += 1
    print(json.dumps({"done": n - pending - failed, "failed": failed + pending}))
    for s in socks:
        s.close()


def burst():
    crt, key = os.path.join(TMP, "ec.pem"), os.path.join(TMP, "ec.key")
    port, plain = free_port(), free_port()
    cfg = os.path.join(TMP, "burst.yaml")
    with open(cfg, "w") as f:
        f.write("server:\n  listen: [\"127.0.0.1:%d\", {address: \"127.0.0.1:%d\", tls: true}]\n"
                "  tls: {cert: %s, key: %s}\n  idle_timeout: 300s\n  max_connections: 2000\n" % (plain, port, crt, key))
    eh = start([EDGEHOOK, "-c", cfg])
    wait_port(port)
    wait_port(plain)
    results = []
    for _ in range(REPEAT):
        lat, stop_evt = [], threading.Event()
        idle = []
        t = threading.Thread(target=plain_latencies, args=(plain, stop_evt, idle))
        t.start()
        time.sleep(0.5)
        stop_evt.set()
        t.join()
        stop_evt = threading.Event()
        t = threading.Thread(target=plain_latencies, args=(plain, stop_evt, lat))
        t.start()
        t0 = time.perf_counter()
        out = subprocess.run(["taskset", "-c", CLIENT_CPU, sys.executable, __file__, "--burst-child", str(port), str(BURST)],
                             capture_output=True, text=True)
        took = time.perf_counter() - t0
        stop_evt.set()
        t.join()
        lat.sort()
        idle.sort()
        res = json.loads(out.stdout or "{}")
        results.append({"p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3,
                        "max_ms": lat[-1] * 1e3, "idle_p99_ms": idle[int(len(idle) * 0.99)] * 1e3, "idle_max_ms": idle[-1] * 1e3,
                        "requests": len(lat), "burst_s": took, **res})
    stop(eh)
    results.sort(key=lambda r: r["p99_ms"])
    r = results[len(results) // 2]
    print("burst of %d new TLS connections (median of %d): plain client p50 %.2f ms, p99 %.2f ms, max %.2f ms "
          "(idle: p99 %.2f ms, max %.2f ms); %d requests during %.2f s; handshakes done %s, failed %s" % (
              BURST, REPEAT, r["p50_ms"], r["p99_ms"], r["max_ms"], r["idle_p99_ms"], r["idle_max_ms"], r["requests"],
              r["burst_s"],
              r.get("done"), r.get("failed")), flush=True)
    rows.append({"name": "burst of %d TLS connections: plain-client latency" % BURST, **{k: round(v, 3) if
                 isinstance(v, float) else v for k, v in r.items()}})


def report():
    day = datetime.date.today().isoformat()
    base = os.path.join(ROOT, "bench", "results", "tls-" + day)
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write("| measure | edgehook | nginx | ratio | target |\n|---|---:|---:|---:|---:|\n")
        for r in rows:
            if "nginx" in r:
                f.write("| %s | %s | %s | %s | %s |\n" % (r["name"], r["edgehook"], r["nginx"], r.get("ratio", "-"),
                                                        r["target"] or "-"))
            else:
                f.write("| %s | p99 %.2f ms, max %.2f ms | | | |\n" % (r["name"], r["p99_ms"], r["max_ms"]))
    print("wrote %s.{json,md}" % base)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--burst-child":
        burst_child(int(sys.argv[2]), int(sys.argv[3]))
        return
    for tool in ("nginx", "openssl", "taskset"):
        if not shutil.which(tool):
            raise SystemExit("bench/tls.py needs %s (make bench installs it)" % tool)
    try:
        handshake_table()
        burst()
        report()
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
