#!/usr/bin/env python3
"""make bench, spool part (issue 14), in one run on this machine:
  1. events/s ingested+delivered with spool fsync: always vs memory only,
     50 producers (loadgen) -> edgehook -> loadgen sink; the ratio, fsyncs/s
     and events per fsync (group commit);
  2. p99 ingest -> delivered at 1,000 events/s with fsync: always;
  3. recovery time per 100 MB of spool (a spool filled by edgehook itself,
     then a restart; page cache warm).
The spool lives under build/ (a real disk: tmpfs would make fsync free).
edgehook runs on CPU 0, loadgen and the sink on CPU 1; every process is
started here and stopped by pid. Prints one line per result."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from benchlib import (CLIENT_CPU, CONNS, DURATION, EDGEHOOK, LOADGEN, REPEAT, ROOT, SERVER_CPU, free_port, loadgen,
                      median, metric, metrics, wait_port)

TMP = tempfile.mkdtemp(prefix="spool-bench-", dir=os.path.join(ROOT, "build"))
procs = []


def start(cmd, cpu, **kw):
    p = subprocess.Popen(["taskset", "-c", cpu] + cmd, **kw)
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def edgehook(name, sink_port, spool=None, fsync="always", extra="", level="error"):
    """Started with its log on a file (TMP/name.log); returns (process, port)."""
    port = free_port()
    cfg = os.path.join(TMP, name + ".yaml")
    with open(cfg, "w") as f:
        f.write("server:\n  listen: 127.0.0.1:%d\nlog:\n  level: %s\n" % (port, level))
        if spool:
            f.write("spool:\n  dir: %s\n  fsync: %s\n%s" % (spool, fsync, extra))
        f.write("webhook:\n  queue: 1000000\n  max_queue_bytes: 1GiB\n  endpoints:\n"
                "    - name: sink\n      url: http://127.0.0.1:%d/\n" % sink_port)
    with open(os.path.join(TMP, name + ".log"), "w") as log:
        p = start([EDGEHOOK, "-c", cfg], SERVER_CPU, stdout=subprocess.DEVNULL, stderr=log)
    wait_port(port)
    return p, port


def sink(port, seconds):
    return start([LOADGEN, "--sink", "127.0.0.1:%d" % port, "-d", str(seconds)], CLIENT_CPU,
                 stdout=subprocess.PIPE, text=True)


def drained(port):
    end = time.time() + 120
    while time.time() < end and metric(metrics(port), "edgehook_queue_depth") > 0:
        time.sleep(0.01)


def throughput(port):
    """Events delivered per second from the first request until the queue
    is empty again; and the spool's fsyncs meanwhile."""
    before = metrics(port)
    t0 = time.time()
    loadgen("http://127.0.0.1:%d/api/v1/events" % port, ["-m", "POST", "-b", '{"event":"bench.x","n":1}'])
    drained(port)
    took = time.time() - t0
    after = metrics(port)
    delta = {k: metric(after, k) - metric(before, k) for k in
             ("edgehook_deliveries_delivered_total", "edgehook_spool_fsyncs_total", "edgehook_deliveries_failed_total")}
    return delta["edgehook_deliveries_delivered_total"] / took, delta, took


def bench_throughput():
    sink_port = free_port()
    s = sink(sink_port, (DURATION + 4) * REPEAT * 2 + 60)
    wait_port(sink_port)
    mem, mem_port = edgehook("memory", sink_port)
    dur, dur_port = edgehook("always", sink_port, os.path.join(TMP, "always"))
    ours, peers, fsyncs, events, busy = [], [], 0, 0, 0.0
    for _ in range(REPEAT):
        rate, delta, took = throughput(dur_port)
        ours.append(rate)
        fsyncs += delta["edgehook_spool_fsyncs_total"]
        busy += took
        events += delta["edgehook_deliveries_delivered_total"]
        peers.append(throughput(mem_port)[0])
    a, m = median(ours), median(peers)
    print("spool fsync: always vs memory only, %d producers: %.0f vs %.0f events/s ingested+delivered, ratio %.2f "
          "(target >= 0.7); %.0f fsyncs/s, %.1f events per fsync (outcome records ride along unsynced)"
          % (CONNS, a, m, a / m, fsyncs / busy, events / fsyncs if fsyncs else 0))
    for p in (mem, dur):
        stop(p)
    stop(s, signal.SIGKILL)
    return a / m


def fdatasync_p99():
    """The disk's own floor: p99 of write(200 bytes) + fdatasync here."""
    fd, path = tempfile.mkstemp(dir=TMP)
    lat = []
    for _ in range(500):
        os.write(fd, b"x" * 200)
        t = time.perf_counter()
        os.fdatasync(fd)
        lat.append(time.perf_counter() - t)
    os.close(fd)
    os.unlink(path)
    return sorted(lat)[int(len(lat) * 0.99)] * 1000


def latency(name, spool):
    sink_port = free_port()
    eh, port = edgehook(name, sink_port, spool)
    s = sink(sink_port, DURATION + 3)
    wait_port(sink_port)
    loadgen("http://127.0.0.1:%d/api/v1/events" % port, ["-R", "1000", "-m", "POST", "-b",
                                                         '{"event":"lat.x","t":{now}}'], conns=4)
    lat = json.loads(s.communicate()[0])["latency_us"]
    stop(eh)
    return lat


def bench_latency():
    lat = latency("latency", os.path.join(TMP, "latency"))
    mem = latency("latency-memory", None)
    print("spool fsync: always, ingest -> delivered at 1000 events/s: p50 %.2f ms, p99 %.2f ms (target < 5 ms), "
          "p999 %.2f ms; memory only p99 %.2f ms; this disk's fdatasync alone p99 %.2f ms"
          % (lat["p50"] / 1000, lat["p99"] / 1000, lat["p999"] / 1000, mem["p99"] / 1000, fdatasync_p99()))
    return lat["p99"] / 1000


def healthy(port):
    """Polls /healthz: the listener is bound before the spool is recovered,
    so a connect alone does not say the loop runs."""
    end = time.time() + 120
    while time.time() < end:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10).read()
            return
        except OSError:
            time.sleep(0.005)


def bench_recovery():
    """Fills a spool with ~100 MB of delivered events (1 KiB bodies,
    fsync: off), kills edgehook with SIGKILL and times the next start's
    recovery (its "spool recovered" line, and start to listening)."""
    spool = os.path.join(TMP, "recovery")
    sink_port = free_port()
    s = sink(sink_port, 600)
    wait_port(sink_port)
    extra = "  max_bytes: 1GiB\n  segment_bytes: 64MiB\n"
    eh, port = edgehook("fill", sink_port, spool, "off", extra)
    body = '{"event":"fill.x","pad":"%s"}' % ("x" * 1000)
    while metric(metrics(port), "edgehook_spool_bytes") < 100 << 20:
        loadgen("http://127.0.0.1:%d/api/v1/events" % port, ["-m", "POST", "-b", body], duration=2)
    drained(port)
    size = metric(metrics(port), "edgehook_spool_bytes")
    records = metric(metrics(port), "edgehook_spool_records_total")
    stop(eh, signal.SIGKILL)
    t0 = time.time()
    eh, port = edgehook("recover", sink_port, spool, "off", extra, level="info")
    healthy(port)
    ready = time.time() - t0
    stop(eh)
    stop(s, signal.SIGKILL)
    with open(os.path.join(TMP, "recover.log")) as f:
        log = f.read()
    m = re.search(r'spool recovered".* records=(\d+) .* ms=(\d+)', log)
    ms = int(m.group(2)) if m else -1
    per100 = ms * (100 << 20) / size if size else 0
    print("spool recovery: %d records, %.1f MB in %d ms (scan and replay; %.0f ms from exec to answering /healthz): "
          "%.0f ms per 100 MB" % (int(m.group(1)) if m else records, size / 1e6, ms, ready * 1000, per100))
    return per100


def main():
    for tool in (EDGEHOOK, LOADGEN):
        if not os.path.exists(tool):
            raise SystemExit("missing %s: run make bench" % tool)
    ratio = bench_throughput()
    p99 = bench_latency()
    per100 = bench_recovery()
    print("spool summary: fsync-always/memory %.2f (>= 0.7 %s), p99 %.2f ms (< 5 %s), recovery %.0f ms/100MB" % (
        ratio, "met" if ratio >= 0.7 else "NOT met", p99, "met" if p99 < 5 else "NOT met", per100))


def cleanup():
    """Every process started here, by pid; then the spools."""
    for p in procs:
        stop(p)
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
