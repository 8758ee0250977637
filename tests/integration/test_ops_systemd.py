"""systemd integration without libsystemd (issue 20 #1, #2): READY=1,
RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1 over $NOTIFY_SOCKET, and
listeners passed by socket activation (LISTEN_FDS)."""
import os
import re
import signal
import socket
import struct
import sys
import tempfile
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


# The exec wrapper of a service manager: the passed sockets become fds
# 3.., and LISTEN_PID is the pid that execs edgehook (known only there).
ACTIVATE = ("import fcntl, os, sys\n"
            "fds = [int(f) for f in sys.argv[1].split(',')]\n"
            "tmp = [fcntl.fcntl(f, fcntl.F_DUPFD, 100) for f in fds]\n"
            "for i, f in enumerate(tmp):\n"
            "    os.dup2(f, 3 + i)\n"
            "    os.close(f)\n"
            "os.environ['LISTEN_FDS'] = str(len(fds))\n"
            "os.environ['LISTEN_PID'] = str(os.getpid())\n"
            "os.execv(sys.argv[2], sys.argv[2:])\n")


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def listening_inodes(pid):
    """Inodes of the listening TCP sockets the process holds."""
    held = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            held.add(int(link[8:-1]))
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A":
                    listening.add(int(cols[9]))
    return held & listening


def activated(socks, names=None, config=None, args=()):
    fds = [s.fileno() for s in socks]
    env = {"LISTEN_FDNAMES": names} if names else {}
    eh = Edgehook(config=config, listen=None, env=env, pass_fds=fds, exe=harness.binary(),
                  command=[sys.executable, "-c", ACTIVATE, ",".join(map(str, fds)), harness.binary()] + list(args))
    if config is not None:
        eh.command += ["-c", eh.write_config(config)]
        eh.config = None
    return eh


def test_socket_activation_serves_the_passed_socket_and_binds_nothing():
    ls = listening_socket()
    port = ls.getsockname()[1]
    try:
        # server.listen says port 1: taken from the passed socket instead
        with activated([ls], config="server:\n  listen: 127.0.0.1:1\n") as eh:
            assert_eq(eh.port, port, "the port logged is the passed socket's")
            assert_eq(eh.request("GET", "/healthz").status, 200)
            assert_eq(listening_inodes(eh.proc.pid), {os.fstat(ls.fileno()).st_ino}, "listening sockets held")
            env = open("/proc/%d/environ" % eh.proc.pid, "rb").read()
            assert_true(b"LISTEN_PID=%d" % eh.proc.pid in env, "the wrapper set LISTEN_PID to the child's pid")
    finally:
        ls.close()


def test_socket_activation_matches_entries_by_fdname():
    web, api = listening_socket(), listening_socket()
    cfg = ("server:\n  listen: {address: \"127.0.0.1:1\", name: web}\n"
           "api:\n  listen: {address: \"127.0.0.1:2\", name: control}\n")
    try:
        # passed in the opposite order of the config: names decide
        with activated([api, web], names="control:web", config=cfg) as eh:
            assert_eq(eh.port, web.getsockname()[1], "server.listen took the socket named web")
            assert_eq(eh.request("GET", "/api/v1/triggers").status, 404)
            c = socket.create_connection(api.getsockname())
            c.sendall(harness.build_request("GET", "/api/v1/triggers"))
            assert_eq(harness.read_response(c).status, 200, "the API is served on the socket named control")
            c.close()
    finally:
        web.close()
        api.close()


def test_socket_activation_for_another_pid_binds_as_usual():
    ls = listening_socket()
    try:
        env = {"LISTEN_PID": "1", "LISTEN_FDS": "1"}
        with Edgehook(env=env, pass_fds=[ls.fileno()]) as eh:
            assert_true(eh.port != ls.getsockname()[1], "bound its own port")
            assert_eq(eh.request("GET", "/healthz").status, 200)
    finally:
        ls.close()


def test_socket_activation_without_a_socket_for_an_entry_fails():
    ls = listening_socket()
    try:
        cfg = "server:\n  listen: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n"
        eh = activated([ls], config=cfg)
        eh.expect_exit = 1
        try:
            eh.start()
        except AssertionError:
            pass
        assert_eq(eh.stop(), 1)
        assert_true(any("no passed socket" in l for l in eh.stderr_lines), eh.stderr_lines)
    finally:
        ls.close()


def test_unusable_notify_socket_is_logged_and_the_daemon_runs():
    with Edgehook(env={"NOTIFY_SOCKET": "relative/path", "WATCHDOG_USEC": "100000"}) as eh:
        eh.wait_log("NOTIFY_SOCKET unusable")
        assert_eq(eh.request("GET", "/healthz").status, 200)


def test_socket_activation_serves_sockets_no_entry_took_api_by_name():
    web = listening_socket()
    eh_dir = tempfile.mkdtemp(prefix="edgehook-test-")
    api = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    api.bind(os.path.join(eh_dir, "api.sock"))
    api.listen(4)
    try:
        # no api.listen in the config: the socket named api is served
        # anyway, as an API-only listener
        with activated([web, api], names="edgehook.socket:api", config="server:\n  listen: 127.0.0.1:1\n") as eh:
            eh.wait_log(r"msg=\"listening for the API\" addr=unix:%s/api.sock .*passed=yes" % re.escape(eh_dir))
            assert_eq(eh.request("GET", "/api/v1/triggers").status, 404, "API off the web socket")
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(os.path.join(eh_dir, "api.sock"))
            c.sendall(harness.build_request("GET", "/api/v1/triggers"))
            assert_eq(harness.read_response(c).status, 200)
            c.close()
        assert_true(os.path.exists(os.path.join(eh_dir, "api.sock")), "a passed socket's path is not ours to remove")
    finally:
        web.close()
        api.close()
