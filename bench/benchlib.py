"""Helpers shared by the bench scripts (bench.py, tls.py, spool.py,
webhook.py): the binaries and run settings, free ports, readiness, CPU of
a process, the load generator, the metrics, and running a script's main
with its own servers stopped by pid afterwards."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# BENCH_EDGEHOOK: another build of edgehook (a before/after comparison)
EDGEHOOK = os.environ.get("BENCH_EDGEHOOK", os.path.join(ROOT, "build", "release", "edgehook.bin"))
LOADGEN = os.path.join(ROOT, "build", "release", "loadgen")
DURATION = float(os.environ.get("BENCH_SECONDS", "4"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CONNS = int(os.environ.get("BENCH_CONNS", "50"))
SERVER_CPU, CLIENT_CPU = "0", "1"
SECRET = "benchsecret"
BODY = '{"repository":{"full_name":"o/r"},"ref":"refs/heads/main","commits":[{"id":"abc"}]}'


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server on port %d did not start" % port)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def loadgen(url, extra=(), conns=CONNS, duration=DURATION):
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, LOADGEN, "-c", str(conns), "-d", str(duration), "-w", "1"] +
                         list(extra) + [url], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("loadgen failed: " + out.stderr)
    return json.loads(out.stdout)


def metrics(port):
    return urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()


def metric(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\d+)" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else 0


def run_and_stop(main, procs, tmp):
    """main(), then SIGTERM (SIGKILL after 10 s) to the processes the
    script started, by pid, and its temporary directory removed."""
    try:
        main()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
