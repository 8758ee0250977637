#!/usr/bin/env python3
"""Side-by-side load benchmarks: edgehook against nginx on this machine,
in one run (adnanh/webhook: bench/webhook.py, the same hooks file served
by both). Servers are pinned to CPU 0, clients to
CPU 1. Prints one row per comparison (edgehook, peer, ratio, target) and a
one-line summary; writes bench/results/<date>.{json,md,svg}."""
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import (BODY, CLIENT_CPU, CONNS, DURATION, EDGEHOOK, LOADGEN, REPEAT, ROOT, SECRET, SERVER_CPU,
                      cpu_ticks, free_port, loadgen, median, metric, metrics, run_and_stop, wait_port)

STATIC = os.path.join(ROOT, "build", "static", "edgehook.bin")
TMP = tempfile.mkdtemp(prefix="edgehook-bench-")
procs = []
rows = []


def start(cmd, cpu=SERVER_CPU, **kw):
    p = subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


def rss_kib(pid):
    # smaps_rollup is exact; VmRSS in /status is synced lazily per thread
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return int(re.search(r"^Rss:\s+(\d+)", f.read(), re.M).group(1))


def wrk(url, headers=None, conns=CONNS):
    lua = os.path.join(TMP, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\n' % json.dumps(BODY))
        for k, v in (headers or {}).items():
            f.write('wrk.headers[%s] = %s\n' % (json.dumps(k), json.dumps(v)))
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c%d" % conns, "-d%ds" % int(DURATION), "-s", lua, url],
                         capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)) if m else 0.0, int(non2xx.group(1)) if non2xx else 0


def paired(ours_fn, peer_fn):
    """Runs both sides REPEAT times, alternating, and keeps the medians:
    this VM's throughput drifts by 20% over a minute, so one run each
    would compare weather, not servers."""
    a, b = [], []
    for _ in range(REPEAT):
        a.append(ours_fn())
        b.append(peer_fn())
    return median(a), median(b)


def row(name, ours, peer, peer_name, target, unit="req/s", higher_is_better=True, note=""):
    ratio = (ours / peer if higher_is_better else peer / ours) if ours and peer else 0.0
    ok = ratio >= target if target else None
    rows.append({"name": name, "edgehook": round(ours, 1), "peer": round(peer, 1) if peer else None, "peer_name": peer_name,
                 "ratio": round(ratio, 2), "target": target, "met": ok, "unit": unit, "note": note})
    print("%-58s edgehook %12.1f  %-14s %12s  ratio %6.2f  target %s %s" % (
        name, ours, peer_name, "%.1f" % peer if peer else "-", ratio, target or "-",
        "" if ok is None else ("ok" if ok else "MISSED")), flush=True)


def sig(body):
    return "sha256=" + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))
    for tool in (EDGEHOOK, LOADGEN):
        if not os.path.exists(tool):
            raise SystemExit("missing %s: run make bench" % tool)
    p_nginx, p_sink, p_eh, p_lat, p_tls = (free_port() for _ in range(5))
    conf = os.path.join(TMP, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/nginx.err;
events { worker_connections 30000; }
http { access_log off; client_body_buffer_size 64k;
  keepalive_requests 100000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:%d backlog=4096; location / { return 202 '{"status":"accepted"}'; } }
}
""" % (TMP, TMP, p_nginx))
    nginx = start(["nginx", "-c", conf, "-p", TMP])
    # The sink is part of the test rig, not of the system under test: it
    # runs beside the client on CPU 1 in both outbound measurements, so
    # edgehook (CPU 0) is compared with the direct path on equal terms.
    sink_dir = os.path.join(TMP, "sink")
    os.makedirs(sink_dir)
    with open(os.path.join(sink_dir, "nginx.conf"), "w") as f:
        f.write("""worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/nginx.err;
events { worker_connections 30000; }
http { access_log off; keepalive_requests 100000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:%d backlog=4096; location / { return 200 'ok'; } }
}
""" % (sink_dir, sink_dir, p_sink))
    start(["nginx", "-c", os.path.join(sink_dir, "nginx.conf"), "-p", sink_dir], cpu=CLIENT_CPU)
    pki = os.path.join(TMP, "pki")
    os.makedirs(pki)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", "k.pem", "-out", "c.pem", "-days", "2", "-subj", "/CN=localhost"], cwd=pki,
                   check=True, capture_output=True)
    cfg = os.path.join(TMP, "edgehook.yaml")
    with open(cfg, "w") as f:
        f.write("""server:
  listen: ["127.0.0.1:%d", {address: "127.0.0.1:%d", tls: true}]
  tls: {cert: %s/c.pem, key: %s/k.pem}
  max_connections: 30000
  idle_timeout: 300s
webhook:
  queue: 2000000
  max_queue_bytes: 2GiB
  history: 1024
  endpoints:
    - {url: "http://127.0.0.1:%d/", name: sink, events: ["bench.*"], max_in_flight: 64}
    - {url: "http://127.0.0.1:%d/", name: latency, events: ["lat.*"], max_in_flight: 8}
triggers:
  - {id: gen, kind: generic}
  - {id: gh, kind: github, secret: %s}
""" % (p_eh, p_tls, pki, pki, p_sink, p_lat, SECRET))
    eh = start([EDGEHOOK, "-c", cfg])
    for p in (p_nginx, p_sink, p_eh):
        wait_port(p)
    time.sleep(0.5)
    idle_rss = rss_kib(eh.pid)
    print("edgehook bench: %gs per run, %d connections, server on CPU %s, client on CPU %s" % (
        DURATION, CONNS, SERVER_CPU, CLIENT_CPU), flush=True)

    post = ["-m", "POST", "-b", BODY, "-H", "Content-Type: application/json"]
    # 1. generic trigger -> 202, against nginx `return 202`
    ours, peer = paired(lambda: wrk("http://127.0.0.1:%d/webhooks/gen" % p_eh)[0],
                        lambda: wrk("http://127.0.0.1:%d/webhooks/gen" % p_nginx)[0])
    row("generic trigger -> 202 vs nginx (wrk)", ours, peer, "nginx", 0.9, note="median of %d" % REPEAT)
    ours, peer = paired(lambda: loadgen("http://127.0.0.1:%d/webhooks/gen" % p_eh, post)["rps"],
                        lambda: loadgen("http://127.0.0.1:%d/webhooks/gen" % p_nginx, post)["rps"])
    row("generic trigger -> 202 vs nginx (loadgen)", ours, peer, "nginx", 0.9, note="median of %d" % REPEAT)
    # 2. GitHub-signed trigger
    gh = post + ["-H", "X-Hub-Signature-256: " + sig(BODY), "-H", "X-GitHub-Event: push"]
    check = loadgen("http://127.0.0.1:%d/webhooks/gh" % p_eh, gh, duration=1)
    assert check["status"]["2xx"] > 0 and check["status"]["4xx"] == 0, check
    ours, peer = paired(lambda: loadgen("http://127.0.0.1:%d/webhooks/gh" % p_eh, gh)["rps"],
                        lambda: loadgen("http://127.0.0.1:%d/webhooks/gh" % p_nginx, gh)["rps"])
    row("GitHub-signed trigger (HMAC) vs nginx return 202", ours, peer, "nginx", 0.8, note="median of %d" % REPEAT)
    # 3. outbound: ingest and deliver to the nginx sink
    def outbound():
        before = metrics(p_eh)
        t0 = time.time()
        loadgen("http://127.0.0.1:%d/api/v1/events" % p_eh, ["-m", "POST", "-b", '{"event":"bench.x","n":1}'],
                duration=DURATION)
        end = time.time() + 60
        while time.time() < end and metric(metrics(p_eh), "edgehook_queue_depth") > 0:
            time.sleep(0.02)
        after = metrics(p_eh)
        delivered = metric(after, "edgehook_deliveries_delivered_total") - metric(before, "edgehook_deliveries_delivered_total")
        outbound.failed += metric(after, "edgehook_deliveries_failed_total") - metric(before, "edgehook_deliveries_failed_total")
        return delivered / (time.time() - t0)
    outbound.failed = 0
    ours, peer = paired(outbound, lambda: loadgen("http://127.0.0.1:%d/" % p_sink,
                                                  ["-m", "POST", "-b", '{"event":"bench.x","n":1}'])["rps"])
    row("outbound: events ingested+delivered/s vs loadgen->sink", ours, peer, "direct", 0.7, unit="events/s",
        note="median of %d; failed deliveries %d; time counted until the queue is empty" % (REPEAT, outbound.failed))
    # 4. emit -> delivered latency at a fixed 1000 events/s
    sink = subprocess.Popen(["taskset", "-c", CLIENT_CPU, LOADGEN, "--sink", "127.0.0.1:%d" % p_lat, "-d", str(DURATION + 3)],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    loadgen("http://127.0.0.1:%d/api/v1/events" % p_eh, ["-R", "1000", "-m", "POST", "-b", '{"event":"lat.x","t":{now}}'],
            conns=4, duration=DURATION)
    lat = json.loads(sink.communicate()[0])
    p99 = lat["latency_us"]["p99"] / 1000.0
    row("emit -> delivered p99 at 1000 events/s (ms)", p99, 2.0, "target", 1.0, unit="ms", higher_is_better=False,
        note="p50 %dus p999 %dus max %dus, %d events" % (lat["latency_us"]["p50"], lat["latency_us"]["p999"],
                                                       lat["latency_us"]["max"], lat["requests"]))
    # 5. memory, on the static musl binary (what an edge box runs) and this build
    p_mem = free_port()
    mem_cfg = os.path.join(TMP, "mem.yaml")
    with open(mem_cfg, "w") as f:
        f.write("server:\n  listen: 127.0.0.1:%d\n  max_connections: 30000\n  idle_timeout: 300s\n" % p_mem)
    static = start([STATIC if os.path.exists(STATIC) else EDGEHOOK, "-c", mem_cfg])
    wait_port(p_mem)
    time.sleep(0.5)
    static_idle = rss_kib(static.pid)
    idle = subprocess.Popen(["taskset", "-c", CLIENT_CPU, LOADGEN, "--idle", "10000", "-d", "4",
                             "http://127.0.0.1:%d/healthz" % p_mem], stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    static_held = rss_kib(static.pid)
    idle.wait()
    idle = subprocess.Popen(["taskset", "-c", CLIENT_CPU, LOADGEN, "--idle", "10000", "-d", "4",
                             "http://127.0.0.1:%d/" % p_nginx], stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    child = subprocess.run(["pgrep", "-P", str(nginx.pid)], capture_output=True, text=True).stdout.split()
    nheld = sum(rss_kib(int(c)) for c in child) if child else 0
    idle.wait()
    per_conn = (static_held - static_idle) * 1024 / 10000
    row("RSS idle, static binary (KiB)", static_idle, 2048, "target", 1.0, unit="KiB", higher_is_better=False,
        note="glibc build idle: %d KiB" % idle_rss)
    row("RSS per idle keep-alive connection (bytes, 10000 open)", per_conn, 4096, "target", 1.0, unit="bytes",
        higher_is_better=False, note="static binary %d -> %d KiB with 10000 open; nginx worker with 10000: %d KiB" % (
            static_idle, static_held, nheld))
    # 6. TLS, on a fresh process (a used heap would hide new allocations)
    p_tls2 = free_port()
    tls_cfg = os.path.join(TMP, "tls.yaml")
    with open(tls_cfg, "w") as f:
        f.write("server:\n  listen: 127.0.0.1:%d\n  tls: {cert: %s/c.pem, key: %s/k.pem}\n  idle_timeout: 300s\n" % (
            p_tls2, pki, pki))
    tls_eh = start([EDGEHOOK, "-c", tls_cfg])
    wait_port(p_tls2)
    t0 = cpu_ticks(tls_eh.pid)
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, "openssl", "s_time", "-connect", "127.0.0.1:%d" % p_tls2, "-new",
                          "-time", str(int(DURATION))], capture_output=True, text=True).stdout
    server_secs = (cpu_ticks(tls_eh.pid) - t0) / os.sysconf("SC_CLK_TCK")
    m2 = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    count = int(m2.group(1)) if m2 else 0
    hs_real = count / float(m2.group(2)) if m2 else 0.0
    row("TLS handshakes/s, ECDSA P-256 (per server CPU second)", count / server_secs if server_secs else 0, None, "-", None,
        unit="hs/s", note="observed %.0f/s with openssl s_time -new as the client (the client is the limit)" % hs_real)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    time.sleep(0.3)
    base = rss_kib(tls_eh.pid)
    held_socks = []
    for _ in range(500):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", p_tls2)), server_hostname="localhost")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        held_socks.append(s)
    time.sleep(0.3)
    tls_per = (rss_kib(tls_eh.pid) - base) * 1024 / 500
    for s in held_socks:
        s.close()
    row("RSS per idle TLS connection (bytes, 500 open)", tls_per, None, "-", None, unit="bytes",
        note="one TLS object is 23656 bytes, 16.7 KiB of it BearSSL's I/O buffer")
    # 7. binary sizes
    stripped = os.path.join(TMP, "edgehook.stripped")
    shutil.copy(EDGEHOOK, stripped)
    subprocess.run(["strip", stripped])
    row("binary size, dynamic stripped (KiB)", os.path.getsize(stripped) / 1024, None, "-", None, unit="KiB")
    if os.path.exists(STATIC):
        row("binary size, static musl (KiB)", os.path.getsize(STATIC) / 1024, 600, "target", 1.0, unit="KiB",
            higher_is_better=False)
    report()


def report():
    date = datetime.date.today().isoformat()
    outdir = os.path.join(ROOT, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    meta = {"date": date, "seconds_per_run": DURATION, "connections": CONNS, "cpus": os.cpu_count(),
            "kernel": os.uname().release, "rows": rows}
    with open(os.path.join(outdir, date + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(outdir, date + ".md"), "w") as f:
        f.write("| benchmark | edgehook | peer | ratio | target | met |\n|---|---:|---:|---:|---:|---|\n")
        for r in rows:
            f.write("| %s | %s %s | %s %s | %s | %s | %s |\n" % (
                r["name"], r["edgehook"], r["unit"], r["peer"] if r["peer"] is not None else "-", r["peer_name"],
                r["ratio"] or "-", r["target"] or "-", "" if r["met"] is None else ("yes" if r["met"] else "**no**")))
    svg = chart([r for r in rows if r["target"]])
    for name in (date + ".svg", "latest.svg"):
        with open(os.path.join(outdir, name), "w") as f:
            f.write(svg)
    summary = ", ".join("%s %.2f" % (short(r["name"]), r["ratio"]) for r in rows if r["target"])
    print("summary: " + summary)


def short(name):
    return name.split(" (")[0].split(" vs ")[0][:32] + (" vs " + name.split(" vs ")[1][:18] if " vs " in name else "")


def chart(items):
    """Horizontal bars: ratio against target (1.0 = target met exactly)."""
    w, bar_h, left = 820, 26, 360
    h = 40 + bar_h * len(items) + 30
    scale = (w - left - 40) / 3.0  # up to 3x the target
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (w, h),
           '<text x="10" y="20" font-size="14" font-weight="bold">edgehook vs peers: ratio / target (1.0 = target)</text>']
    for i, r in enumerate(items):
        y = 35 + i * bar_h
        score = r["ratio"] / r["target"] if r["target"] else 0
        length = min(score, 3.0) * scale
        color = "#2e8b57" if r["met"] else "#c0392b"
        out.append('<text x="10" y="%d">%s</text>' % (y + 16, short(r["name"])))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (left, y + 4, length, bar_h - 8, color))
        out.append('<text x="%.1f" y="%d">%.2fx (ratio %.2f)</text>' % (left + length + 5, y + 16, score, r["ratio"]))
    x1 = left + scale
    out.append('<line x1="%.1f" y1="30" x2="%.1f" y2="%d" stroke="#333" stroke-dasharray="4"/>' % (x1, x1, h - 20))
    out.append('<text x="%.1f" y="%d">target</text>' % (x1 - 15, h - 5))
    out.append("</svg>\n")
    return "\n".join(out)


if __name__ == "__main__":
    run_and_stop(main, procs, TMP)
