#!/usr/bin/env python3
"""Instructions and system calls per request on webhook.py's verification
path (a payload-hmac-sha256 rule that fails), for edgehook started as
`webhook` and for bench/floor.c: figures that do not move with the load
of a busy machine, unlike CPU time.

Each server runs under `valgrind --tool=callgrind` (user-space
instructions) and then under `strace -c -f` (system calls), once serving
N requests and once 2N, one keep-alive connection, one request in flight;
the difference divided by N is the cost of one request without start-up
and shutdown. Run alone it prints its rows; webhook.py imports
per_request() and prints them beside its CPU-time ratios.

  BENCH_INSN_REQUESTS  N (default 2000)"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import BODY, EDGEHOOK, ROOT, SECRET, free_port

FLOOR = os.path.join(ROOT, "build", "release", "floor")
N = int(os.environ.get("BENCH_INSN_REQUESTS", "2000"))


def hooks_file(tmp):
    """The hooks file webhook.py serves: the rule fails on a wrong signature."""
    import json
    path = os.path.join(tmp, "hooks.json")
    with open(path, "w") as f:
        json.dump([{"id": "gh", "execute-command": "/bin/true", "max-concurrency": 4,
                    "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": SECRET,
                                               "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}],
                  f)
    return path


def request():
    import hashlib
    import hmac
    sig = hmac.new(b"wrong", BODY.encode(), hashlib.sha256).hexdigest()
    return ("POST /hooks/gh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "X-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n\r\n%s" % (sig, len(BODY), BODY)).encode()


def read_answer(s, pending):
    """One whole answer (head + Content-Length body); the rest stays pending."""
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", pending[:end])
            total = end + 4 + (int(m.group(1)) if m else 0)
            if len(pending) >= total:
                return pending[:total], pending[total:]
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("server closed the connection")
        pending += chunk


def drive(port, n):
    """n requests on one keep-alive connection, each answered before the
    next; returns the first answer's status line."""
    req, pending, first = request(), b"", None
    end = time.time() + 120
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            break
        except OSError:
            if time.time() > end:
                raise SystemExit("server on port %d did not start" % port)
            time.sleep(0.1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n):
        s.sendall(req)
        ans, pending = read_answer(s, pending)
        first = first or ans.split(b"\r\n", 1)[0].decode()
    s.close()
    return first


def serve(wrapper, server, n, tmp):
    """Start server (argv with {port}) under wrapper, drive n requests, stop it."""
    port = free_port()
    argv = wrapper + [a.replace("{port}", str(port)) for a in server]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    try:
        status = drive(port, n)
    finally:
        # the server itself: strace exits when its tracee does
        kids = []
        try:
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            pass
        for pid in kids or [p.pid]:
            os.kill(pid, signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return status


def instructions(server, n, tmp):
    out = os.path.join(tmp, "callgrind.%d.out" % n)
    status = serve(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "--dump-line=no"], server, n, tmp)
    with open(out) as f:
        m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    os.unlink(out)
    if not m:
        raise SystemExit("no instruction total from callgrind")
    return int(m.group(1)), status


def syscalls(server, n, tmp):
    """{name: calls} of the whole run."""
    out = os.path.join(tmp, "strace.%d.out" % n)
    serve(["strace", "-f", "-c", "-o", out], server, n, tmp)
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] != "total" and parts[0][0].isdigit() and parts[3].isdigit():
                calls[parts[-1]] = int(parts[3])
    os.unlink(out)
    return calls


def per_request(tmp, hooks=None):
    """{server: {"insn": per request, "syscalls": {name: per request}, "status": first answer}}
    for webhook.py's hooks file (or the same rule written into tmp)."""
    hooks = hooks or hooks_file(tmp)
    as_webhook = os.path.join(tmp, "webhook")
    if not os.path.exists(as_webhook):
        os.symlink(EDGEHOOK, as_webhook)
    servers = {"floor": [FLOOR, "{port}"],
               "edgehook": [as_webhook, "-hooks", hooks, "-ip", "127.0.0.1", "-port", "{port}"]}
    res = {}
    for name, argv in servers.items():
        (i1, status), (i2, _) = instructions(argv, N, tmp), instructions(argv, 2 * N, tmp)
        s1, s2 = syscalls(argv, N, tmp), syscalls(argv, 2 * N, tmp)
        per = {k: (s2.get(k, 0) - s1.get(k, 0)) / N for k in set(s1) | set(s2)}
        res[name] = {"insn": (i2 - i1) / N, "status": status,
                     "syscalls": {k: round(v, 2) for k, v in sorted(per.items()) if abs(v) >= 0.01}}
    return res


def rows(res):
    """(name, value, unit, note) for webhook.py's table. Callgrind counts
    user-space instructions only: the floor's are a few dozen, its cost
    is the kernel's (its system calls), so the instruction ratio says how
    much work edgehook adds in user space, and the system-call ratio
    whether the kernel's share is the same."""
    out = []
    for k in ("floor", "edgehook"):
        sc = res[k]["syscalls"]
        out.append(("(a) failing HMAC rule: user instructions per request, %s" % k, res[k]["insn"], "insn",
                    res[k]["status"]))
        out.append(("(a) failing HMAC rule: system calls per request, %s" % k, sum(sc.values()), "calls",
                    " ".join("%s %g" % kv for kv in sc.items())))
    out.append(("(a) edgehook / floor user instructions (repeatable)", res["edgehook"]["insn"] / res["floor"]["insn"],
                "x", "callgrind, %d vs %d requests, one connection" % (N, 2 * N)))
    out.append(("(a) edgehook / floor system calls (repeatable)",
                sum(res["edgehook"]["syscalls"].values()) / max(sum(res["floor"]["syscalls"].values()), 1e-9), "x",
                "strace -c, the same runs"))
    return out


def main():
    for tool in ("valgrind", "strace"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            raise SystemExit("missing %s (apt-get install %s)" % (tool, tool))
    for tool in (EDGEHOOK, FLOOR):
        if not os.path.exists(tool):
            raise SystemExit("missing %s: run make bench" % tool)
    with tempfile.TemporaryDirectory(prefix="edgehook-bench-insn-") as tmp:
        for name, value, unit, note in rows(per_request(tmp)):
            print("%-62s %10.2f %-10s %s" % (name, value, unit, note), flush=True)


if __name__ == "__main__":
    sys.exit(main())
