"""Fault and overload: slowloris crowds, hostile endpoints, a flood past
the queue bound with exact accounting, reloads under load, privileges."""
import json
import os
import re
import signal
import socket
import threading

from harness import Edgehook, Reader, assert_eq, assert_true, build_request, read_response, serial
from sinks import Sink
from test_server import raise_nofile


@serial
def test_1000_slowloris_while_serving():
    raise_nofile(4096)
    with Edgehook("server:\n  header_timeout: 2s\n") as eh:
        slow = [eh.connect(timeout=10) for _ in range(1000)]
        for s in slow:
            s.sendall(b"POST /webhooks/demo HTTP/1.1\r\nHo")
        # a normal client is served between every round of trickled bytes
        for _ in range(20):
            for s in slow[:200]:
                try:
                    s.sendall(b"s")
                except OSError:
                    pass  # already answered 408 and closed: counted below
            assert_eq(eh.request("GET", "/healthz").status, 200)
        got408 = 0
        for s in slow:
            try:
                got408 += read_response(s).status == 408
            except (EOFError, OSError):
                pass
            s.close()
        assert_true(got408 >= 990, "slow clients answered 408 (%d)" % got408)
        m = eh.request("GET", "/metrics").body.decode()
        assert_true(int(re.search(r"edgehook_request_timeouts_total (\d+)", m).group(1)) >= 990, "timeouts counted")


def test_hostile_endpoints_beside_healthy():
    def trickle(i, r):
        return ("raw", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    healthy = Sink()
    slow = Sink(lambda i, r: ("blackhole",))
    big = Sink(lambda i, r: ("raw", b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n" + b"y" * 5000000))
    endless = Sink(lambda i, r: ("raw", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1000\r\n" + b"z" * 4096 + b"\r\n" * 1 + (b"1000\r\n" + b"z" * 4096 + b"\r\n") * 200))
    badstatus = Sink(lambda i, r: ("raw", b"HTTP/1.1 OK\r\n\r\n"))
    notHttp = Sink(lambda i, r: ("raw", b"SSH-2.0-OpenSSH\r\n"))
    cut = Sink(trickle)
    cfg = """
webhook:
  timeout: 1500ms
  endpoints:
    - {url: "%s", name: healthy}
    - {url: "%s", name: slow}
    - {url: "%s", name: big}
    - {url: "%s", name: endless}
    - {url: "%s", name: badstatus}
    - {url: "%s", name: nothttp}
    - {url: "%s", name: cut}
""" % tuple(s.url() for s in (healthy, slow, big, endless, badstatus, notHttp, cut))
    with Edgehook(cfg) as eh:
        for i in range(20):
            assert_eq(eh.request("POST", "/api/v1/events", json.dumps({"event": "e", "i": i}).encode()).status, 202)
        healthy.wait(20)
        # the healthy endpoint got everything while the black hole still
        # held its first attempts: no attempt to it had ended yet
        assert_eq(eh.endpoints()["slow"]["failed"], 0, "healthy endpoint unaffected by the black hole")
        eh.wait_for(lambda: all(
            e["delivered"] + e["failed"] == 20 for e in eh.request("GET", "/api/v1/endpoints").json()["endpoints"]), 20,
            "every delivery accounted for")
        eps = {e["name"]: e for e in eh.request("GET", "/api/v1/endpoints").json()["endpoints"]}
        assert_eq(eps["healthy"]["delivered"], 20)
        assert_eq(eps["big"]["delivered"], 20, "status counts even when the body is capped")
        assert_eq(eps["endless"]["delivered"], 20)
        for name in ("slow", "badstatus", "nothttp", "cut"):
            assert_eq(eps[name]["failed"], 20, name)
        logs = "\n".join(eh.stderr_lines)
        assert_true('endpoint=badstatus' in logs and 'err="bad response' in logs, "malformed status named")
        assert_true(re.search(r'endpoint=cut .*err="bad response: truncated body"', logs), "truncated body named")
        assert_eq(eh.request("GET", "/healthz").status, 200)
    for s in (healthy, slow, big, endless, badstatus, notHttp, cut):
        s.close()


@serial
def test_flood_past_queue_bound_exact_accounting():
    hole = Sink(lambda i, r: ("blackhole",))
    cfg = """
server:
  drain_timeout: 200ms
  max_body_bytes: 4MiB
webhook:
  queue: 10000
  timeout: 60s
  endpoints:
    - {url: "%s", name: hole, max_in_flight: 8}
""" % hole.url()
    with Edgehook(cfg) as eh:
        s = eh.connect(timeout=30)
        rd = Reader(s)
        accepted = rejected = 0
        batch = json.dumps([{"event": "flood", "n": i} for i in range(1000)]).encode()
        for _ in range(100):
            s.sendall(build_request("POST", "/api/v1/events", batch))
            r = rd.read_response()
            if r.status == 202:
                accepted += len(r.json())
            else:
                assert_eq(r.status, 503)
                assert_eq(r.header("retry-after"), "1")
                rejected += 1000
        assert_eq((accepted, rejected), (10000, 90000))
        m = eh.request("GET", "/metrics").body.decode()
        assert_true("edgehook_queue_depth 10000" in m, "queue depth exact")
        assert_true("edgehook_events_rejected_total 90000" in m, "rejections exact")
        assert_true("edgehook_events_total 10000" in m, "accepted exact")
        eh.signal(signal.SIGTERM)
        assert_eq(eh.proc.wait(10), 0)
        line = eh.wait_log("deliveries abandoned at shutdown")[0]
        assert_true("count=10000" in line, "every queued delivery accounted for at shutdown: " + line)
    hole.close()


def test_sighup_broken_config_under_load():
    sink = Sink()
    good = 'webhook:\n  endpoints:\n    - url: "%s"\ntriggers:\n  - {id: t, emit: true}\n' % sink.url()
    with Edgehook(good) as eh:
        stop = threading.Event()
        codes = []

        def load():
            while not stop.is_set():
                codes.append(eh.request("POST", "/webhooks/t", b'{"x":1}').status)
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for i in range(10):
            with open(eh.config_path, "w") as f:
                f.write("triggers:\n  - {id: t, emit: maybe}\n" if i % 2 == 0 else good)
            eh.signal(signal.SIGHUP)
            # each reload is done (and logged) before the next file is written
            eh.wait_for(lambda: sum("reload failed" in l or "config reloaded" in l for l in eh.stderr_lines) == i + 1,
                        30, "reload %d" % (i + 1))
            # the load goes on between reloads: counted work, not a time
            # window, so a slow machine only takes longer
            seen = len(codes)
            eh.wait_for(lambda: len(codes) >= seen + 8, 60, "requests after reload %d" % (i + 1))
        stop.set()
        for t in threads:
            t.join()
        assert_true(len(codes) >= 80, "load ran across the reloads (%d requests)" % len(codes))
        assert_eq(set(codes), {202})
        assert_eq(len(eh.wait_log("reload failed")), 5)
        sink.wait(len(codes), timeout=10)
        assert_eq(len(sink.requests), len(codes), "every accepted event delivered")


def test_drop_privileges():
    """Readiness (the "listening" line) comes from a process that is
    already unprivileged: the drop happens before the loop accepts
    anything, so /proc read at readiness shows the new ids."""
    assert_true(os.geteuid() == 0, "make test runs as root: this checks dropping root")

    def task_status(pid):
        # every thread of the process (valgrind runs our code in one of
        # its own, so the process-level status would show its creds)
        out = []
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                out.append(f.read())
        return out

    def dropped_before_listening(eh):
        lines = eh.stderr_lines
        drop = [i for i, l in enumerate(lines) if "dropped privileges" in l]
        listen = [i for i, l in enumerate(lines) if "msg=listening" in l]
        assert_true(drop and listen and drop[0] < listen[0], "dropped before announcing: %r" % lines)
    # memcheck does not show credential changes in /proc; there the proof
    # is the log line, written only after setuid(0) was refused
    under_valgrind = bool(os.environ.get("EDGEHOOK_VALGRIND"))
    with Edgehook(args=["--user", "65534:65534"]) as eh:
        statuses = task_status(eh.proc.pid)
        assert_true(under_valgrind or any(re.search(r"^Uid:\s+65534\s+65534\s+65534", st, re.M) and
                        re.search(r"^Gid:\s+65534\s+65534\s+65534", st, re.M) for st in statuses), statuses[0])
        dropped_before_listening(eh)
        assert_eq(eh.request("GET", "/healthz").status, 200)
    with Edgehook("server:\n  user: nobody\n") as eh:
        assert_true(under_valgrind or any(re.search(r"^Uid:\s+65534", st, re.M) for st in task_status(eh.proc.pid)),
                    "server.user by name")
        dropped_before_listening(eh)
    eh = Edgehook(args=["--user", "no-such-user-xyz"], expect_exit=None)
    try:
        eh.start()
        started = True
    except AssertionError:
        started = False
    assert_true(not started, "started with an unknown user")
    assert_eq(eh.proc.wait(30), 2)
    eh.threads[1].join(10)
    assert_true(any("no-such-user-xyz" in l and "unknown user" in l for l in eh.stderr_lines),
                "the error names the user: %r" % eh.stderr_lines)


def cpu_ns(pid):
    """Time the process has run on a CPU, in ns (schedstat, not ticks)."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


@serial
def test_byte_trickled_heads_cost_linear_cpu():
    """A head re-parsed from its start at every read makes a byte-by-byte
    sender cost O(n^2): each byte then costs in proportion to the bytes
    before it. Measured within one run, so the machine's speed cancels
    out: the last 2 KiB of a 24 KiB head must cost about what the first
    2 KiB did (linear: 1; re-parsing each head at every read: 2.6-3.4
    measured here).

    16 connections get one byte each per round; after each round a
    /healthz round trip on another connection makes the server read that
    round's bytes before the next ones come (epoll reports them first),
    so each byte is one read however fast or busy the machine is."""
    cfg = "server:\n  header_timeout: 120s\n  max_header_bytes: 64KiB\ntriggers:\n  - {id: demo}\n"
    seg = 2048
    with Edgehook(cfg) as eh:
        socks = [eh.connect(timeout=60) for _ in range(16)]
        sync = eh.connect(timeout=60)
        rd = Reader(sync)
        ping = build_request("GET", "/healthz")
        head = b"POST /webhooks/demo HTTP/1.1\r\nHost: a\r\n" + b"".join(
            b"X-Pad-%05d: %s\r\n" % (i, b"v" * 1000) for i in range(24))
        marks = {}
        for i in range(len(head)):
            if i in (0, seg, len(head) - seg):
                marks[i] = cpu_ns(eh.proc.pid)
            for s in socks:
                s.send(head[i:i + 1])
            sync.sendall(ping)
            rd.read_response()
        end = cpu_ns(eh.proc.pid)
        for s in socks:
            s.sendall(b"Content-Length: 2\r\n\r\n{}")
        for s in socks:
            assert_eq(read_response(s).status, 202)
            s.close()
        first = marks[seg] - marks[0]
        last = end - marks[len(head) - seg]
        ratio = last / first
        assert_true(ratio < 2.0, "CPU for the last / first %d bytes of each head: %d / %d us = %.2f" % (
            seg, last // 1000, first // 1000, ratio))
