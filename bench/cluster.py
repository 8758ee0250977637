#!/usr/bin/env python3
"""Cluster mode benchmark (issue 16): events ingested+delivered per second
with cluster: (Redis Streams, one instance, then two) against spool mode
with fsync: always, in one run on this machine; and the Redis writes and
replies per event (pipelining batches them). edgehook instances run on
CPU 0 (two instances: CPU 0 and 1), loadgen, the nginx sink and
redis-server on CPU 1. Writes bench/results/cluster-<date>.{json,md}."""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from benchlib import cpu_ticks, free_port, median, wait_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EDGEHOOK = os.path.join(ROOT, "build", "release", "edgehook.bin")
LOADGEN = os.path.join(ROOT, "build", "release", "loadgen")
DURATION = float(os.environ.get("BENCH_SECONDS", "4"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CONNS = int(os.environ.get("BENCH_CONNS", "50"))
TMP = tempfile.mkdtemp(prefix="edgehook-bench-cluster-")
EVENT = '{"event":"bench.x","n":1}'
procs = []


def start(cmd, cpu, **kw):
    p = subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def metric(port, name):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    m = re.search(r"^%s(?:\{[^}]*\})? (\d+)" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else 0


def loadgens(ports, duration=DURATION):
    """One loadgen per instance, all at once, connections split; the sum of 2xx."""
    runs = [subprocess.Popen(["taskset", "-c", "1", LOADGEN, "-c", str(max(1, CONNS // len(ports))), "-d",
                              str(duration), "-w", "1", "-m", "POST", "-b", EVENT, "-H",
                              "Content-Type: application/json", "http://127.0.0.1:%d/api/v1/events" % p],
                             stdout=subprocess.PIPE, text=True) for p in ports]
    return sum(json.loads(r.communicate()[0])["status"]["2xx"] for r in runs)


def instance(name, cfg_text, cpu):
    port = free_port()
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write("server:\n  listen: 127.0.0.1:%d\n  max_connections: 30000\n  idle_timeout: 300s\n" % port + cfg_text)
    p = start([EDGEHOOK, "-c", path], cpu)
    wait_port(port)
    return p, port


REDIS = {}


def measure(ports, ingested_metric, delivered_metric):
    """events/s from the first byte until every ingested event (loadgen's
    warm-up included) is delivered."""
    before = sum(metric(p, delivered_metric) for p in ports)
    ingested = sum(metric(p, ingested_metric) for p in ports)
    writes = sum(metric(p, "edgehook_cluster_redis_writes_total") for p in ports)
    replies = sum(metric(p, "edgehook_cluster_redis_replies_total") for p in ports)
    t0 = time.time()
    r0 = cpu_ticks(REDIS["pid"])
    e0 = [cpu_ticks(p) for p in REDIS["edgehook"]]
    accepted = loadgens(ports)
    ingested = sum(metric(p, ingested_metric) for p in ports) - ingested
    end = time.time() + 120
    while time.time() < end and sum(metric(p, delivered_metric) for p in ports) - before < ingested:
        time.sleep(0.02)
    took = time.time() - t0
    done = sum(metric(p, delivered_metric) for p in ports) - before
    tick = os.sysconf("SC_CLK_TCK")
    redis_cpu = (cpu_ticks(REDIS["pid"]) - r0) / tick
    eh_cpu = sum(cpu_ticks(p) - e for p, e in zip(REDIS["edgehook"], e0)) / tick
    w = sum(metric(p, "edgehook_cluster_redis_writes_total") for p in ports) - writes
    r = sum(metric(p, "edgehook_cluster_redis_replies_total") for p in ports) - replies
    return {"events_per_s": done / took, "accepted": accepted, "ingested": ingested, "delivered": done,
            "redis_cpu_s": round(redis_cpu, 2), "edgehook_cpu_s": round(eh_cpu, 2), "seconds": round(took, 2),
            "redis_writes_per_event": w / done if done else 0, "redis_replies_per_event": r / done if done else 0}


def main():
    for tool in (EDGEHOOK, LOADGEN):
        if not os.path.exists(tool):
            raise SystemExit("missing %s: run make bench" % tool)
    p_sink = free_port()
    with open(os.path.join(TMP, "nginx.conf"), "w") as f:
        f.write("""worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/nginx.err;
events { worker_connections 30000; }
http { access_log off; keepalive_requests 100000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:%d backlog=4096; location / { return 200 'ok'; } }
}
""" % (TMP, TMP, p_sink))
    start(["nginx", "-c", os.path.join(TMP, "nginx.conf"), "-p", TMP], "1")
    p_redis = free_port()
    rdir = os.path.join(TMP, "redis")
    os.makedirs(rdir)
    REDIS["pid"] = start(["redis-server", "--port", str(p_redis), "--bind", "127.0.0.1", "--dir", rdir, "--save", "",
           "--appendonly", "yes", "--appendfsync", "everysec"], "1").pid
    wait_port(p_sink)
    wait_port(p_redis)
    webhook = ("webhook:\n  queue: 2000000\n  max_queue_bytes: 2GiB\n  endpoints:\n"
               "    - {url: \"http://127.0.0.1:%d/\", name: sink, max_in_flight: 64}\n" % p_sink)
    cluster = "cluster:\n  redis: redis://127.0.0.1:%d\n  instance: %%s\n  timeout: 10s\n  queue: 100000\n" % p_redis
    print("edgehook cluster bench: %gs per run, %d connections, median of %d" % (DURATION, CONNS, REPEAT), flush=True)
    results = {}
    # spool, fsync: always
    spool_dir = os.path.join(TMP, "spool")
    p, port = instance("spool", webhook + "spool:\n  dir: %s\n  fsync: always\n" % spool_dir, "0")
    REDIS["edgehook"] = [p.pid]
    results["spool fsync: always, 1 instance"] = [measure([port], "edgehook_events_total", "edgehook_deliveries_delivered_total")
                                                   for _ in range(REPEAT)]
    stop(p)
    # cluster, 1 then 2 instances
    p, port = instance("a", webhook + cluster % "a", "0")
    REDIS["edgehook"] = [p.pid]
    results["cluster, 1 instance"] = [measure([port], "edgehook_cluster_stored_total", "edgehook_cluster_acked_total") for _ in range(REPEAT)]
    q, port2 = instance("b", webhook + cluster % "b", "1")
    REDIS["edgehook"] = [p.pid, q.pid]
    results["cluster, 2 instances (CPU 0 and 1)"] = [measure([port, port2], "edgehook_cluster_stored_total", "edgehook_cluster_acked_total")
                                                      for _ in range(REPEAT)]
    stop(q)
    stop(p)
    rows = []
    for name, runs in results.items():
        best = median([r["events_per_s"] for r in runs])
        run = [r for r in runs if r["events_per_s"] == best][0]
        rows.append(dict(run, name=name))
        print("%-40s %8.0f events/s  redis writes/event %.3f  replies/event %.2f  CPU s: redis %.2f edgehook %.2f "
              "of %.2f s" % (name, best, run["redis_writes_per_event"], run["redis_replies_per_event"],
                             run["redis_cpu_s"], run["edgehook_cpu_s"], run["seconds"]), flush=True)
    date = datetime.date.today().isoformat()
    outdir = os.path.join(ROOT, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "cluster-%s.json" % date), "w") as f:
        json.dump({"date": date, "seconds_per_run": DURATION, "connections": CONNS, "cpus": os.cpu_count(),
                   "rows": rows}, f, indent=1)
    with open(os.path.join(outdir, "cluster-%s.md" % date), "w") as f:
        f.write("| mode | events/s ingested+delivered | Redis writes/event | Redis replies/event | CPU s redis / edgehook / wall |\n"
                "|---|---:|---:|---:|---|\n")
        for r in rows:
            f.write("| %s | %.0f | %.3f | %.2f | %.2f / %.2f / %.2f |\n" % (
                r["name"], r["events_per_s"], r["redis_writes_per_event"], r["redis_replies_per_event"],
                r["redis_cpu_s"], r["edgehook_cpu_s"], r["seconds"]))


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(TMP, ignore_errors=True)
