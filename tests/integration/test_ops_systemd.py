"""systemd integration without libsystemd (issue 20 #1, #2): READY=1,
RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1 over $NOTIFY_SOCKET, and
listeners passed by socket activation (LISTEN_FDS)."""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import harness
from harness import Edgehook, assert_eq, assert_true, serial


class NotifySocket:
    """A service manager's notify socket: abstract ("@...") or a path.
    SO_PASSCRED makes the kernel stamp every datagram with its sender's
    pid/uid/gid at send time, as systemd reads them."""

    def __init__(self, abstract=True, tmpdir=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "edgehook-test-%d-%d" % (os.getpid(), id(self))
            self.sock.bind("\0" + name)
            self.env_value = "@" + name
        else:
            path = os.path.join(tmpdir, "notify.sock")
            self.sock.bind(path)
            os.chmod(path, 0o666)
            self.env_value = path
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def recv(self, timeout=10.0):
        """(fields dict, uid, arrival time) or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        uid = None
        for level, kind, blob in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                _, uid, _ = struct.unpack("iII", blob[:12])
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        return fields, uid, time.monotonic()

    def wait_for(self, key, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv(max(0.01, deadline - time.monotonic()))
            if got is None:
                raise AssertionError("no %s on the notify socket" % key)
            if key in got[0]:
                return got

    def close(self):
        self.sock.close()


def test_notify_ready_after_listeners_bound_and_privileges_dropped():
    ns = NotifySocket(abstract=True)
    try:
        with Edgehook(args=["--user", "65534:65534"], env={"NOTIFY_SOCKET": ns.env_value}) as eh:
            fields, uid, _ = ns.wait_for("READY")
            # the kernel's credentials of the READY datagram: sent after the drop
            assert_eq(uid, 65534, "uid that sent READY=1")
            assert_eq(eh.request("GET", "/healthz").status, 200)
            assert_eq(fields.get("READY"), "1")
            assert_true(fields.get("STATUS", "").startswith("serving"), fields)
    finally:
        ns.close()


def test_notify_reloading_ready_around_sighup_and_stopping_at_drain(tmp=None):
    eh = Edgehook(config="server:\n  drain_timeout: 5s\n", env=None)
    ns = NotifySocket(abstract=False, tmpdir=eh.dir)
    eh.env["NOTIFY_SOCKET"] = ns.env_value
    try:
        with eh:
            ns.wait_for("READY")
            eh.signal(signal.SIGHUP)
            fields, _, _ = ns.wait_for("RELOADING")
            assert_true(int(fields["MONOTONIC_USEC"]) > 0, fields)
            assert_true(fields["STATUS"].startswith("reloading"), fields)
            fields, _, _ = ns.wait_for("READY")
            assert_true(fields["STATUS"].startswith("serving"), fields)
            eh.signal(signal.SIGTERM)
            fields, _, _ = ns.wait_for("STOPPING")
            assert_true(fields["STATUS"].startswith("draining"), fields)
    finally:
        ns.close()


def test_notify_status_counts_connections():
    ns = NotifySocket()
    try:
        with Edgehook(env={"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "100000"}) as eh:
            ns.wait_for("READY")
            held = eh.connect()
            held.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # head left open
            deadline = time.monotonic() + 10
            while True:
                fields, _, _ = ns.wait_for("WATCHDOG")
                if "1 connections" in fields["STATUS"]:
                    break
                assert_true(time.monotonic() < deadline, "STATUS never counted the open connection: %s" % fields)
            assert_true("deliveries pending" in fields["STATUS"], fields)
            held.close()
    finally:
        ns.close()


@serial
def test_watchdog_pings_at_half_the_interval_and_stop_while_stalled():
    ns = NotifySocket()
    try:
        with Edgehook(env={"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "400000"}) as eh:
            ns.wait_for("READY")
            times = [ns.wait_for("WATCHDOG")[2] for _ in range(6)]
            gaps = sorted(b - a for a, b in zip(times, times[1:]))
            median = gaps[len(gaps) // 2]
            # 400 ms watchdog: a ping every 200 ms, never late by a whole interval
            assert_true(0.1 <= median <= 0.4, "ping period %.3fs" % median)
            eh.signal(signal.SIGSTOP)
            try:
                while ns.recv(0.05) is not None:  # pings already sent
                    pass
                assert_eq(ns.recv(1.5), None, "a ping from a stopped loop")
            finally:
                eh.signal(signal.SIGCONT)
            assert_true("WATCHDOG" in ns.wait_for("WATCHDOG")[0], "pings resume")
    finally:
        ns.close()


def test_watchdog_for_another_pid_is_ignored():
    ns = NotifySocket()
    try:
        with Edgehook(env={"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}):
            ns.wait_for("READY")
            assert_eq(ns.recv(1.0), None, "a ping meant for pid 1's watchdog")
    finally:
        ns.close()


def test_notify_socket_not_inherited_by_commands():
    ns = NotifySocket()
    cfg = ("triggers:\n  - id: env\n    kind: generic\n    allowed_ips: [127.0.0.1]\n"
           "    run:\n      command: /bin/sh\n      args: [\"-c\", \"env > %s/env.txt\"]\n      allow_root: true\n")
    eh = Edgehook(env={"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "1000000"})
    eh.config = cfg % eh.dir
    try:
        with eh:
            ns.wait_for("READY")
            assert_eq(eh.request("POST", "/webhooks/env", b"{}").status, 202)
            path = os.path.join(eh.dir, "env.txt")
            eh.wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 10, "env.txt")
            env = open(path).read()
            for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS"):
                assert_true(var not in env, var + " leaked into a command")
    finally:
        ns.close()
