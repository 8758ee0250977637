"""edgehook as adnanh/webhook, the operational flags (issue 15 item 6):
-x-request-id, -pidfile, -logfile, -secure, -hotreload with a bad file,
-setuid/-setgid, each against the Debian `webhook` package where its
behaviour can be observed, and a POST without Content-Length (Go reads
an empty body). Documented differences are asserted as such: HTTPS is
TLS 1.2 only (BearSSL), and Debian's webhook 2.8.0 refuses -setuid on
Linux while edgehook drops privileges after binding."""
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import test_webhook_compat as wc
from harness import assert_eq, assert_true, read_to_close, wait_until

ID_HOOK = {"id": "id", "execute-command": "/usr/bin/id", "include-command-output-in-response": True,
           "pass-arguments-to-command": [{"source": "string", "name": "-u"}]}


def both(hooks, flags=()):
    return [wc.Server("reference", hooks, flags), wc.Server("edgehook", hooks, flags)]


def stop_all(servers):
    for s in servers:
        s.stop()


def read(path):
    with open(path) as f:
        return f.read()


def executable(kind, d):
    """The reference, or edgehook through a symlink named webhook in d."""
    if kind == "reference":
        return wc.REFERENCE
    exe = os.path.join(d, "webhook")
    if not os.path.exists(exe):
        os.symlink(os.path.abspath(os.environ["EDGEHOOK_BIN"]), exe)
    return exe


def test_webhook_compat_x_request_id():
    servers = both([wc.hook("h")], ["-x-request-id", "-x-request-id-limit", "5"])
    plain = both([wc.hook("h")])
    try:
        for s in servers:
            s.request("POST", "/hooks/h", b"", {"X-Request-Id": "abcdefgh"})
            for line in ("[abcde] incoming HTTP POST request from", "[abcde] h got matched",
                         "[abcde] h hook triggered successfully", "[abcde] command output: "):
                wc.wait_log(s, line)
            s.request("POST", "/hooks/h")
            wait_until(lambda: sum(bool(re.search(r"\d \[[0-9a-f]{6}\] incoming HTTP POST", l)) for l in s.log) == 1,
                       20, "%s: a generated id without the header" % s.kind)
        for s in plain:
            s.request("POST", "/hooks/h", b"", {"X-Request-Id": "abcdefgh"})
            wc.wait_log(s, "incoming HTTP POST request from")
            assert_true(not any("abcde" in l for l in s.log), (s.kind, "the header is ignored without the flag"))
    finally:
        stop_all(servers + plain)


def test_webhook_compat_post_without_content_length():
    """curl -X POST sends no Content-Length: Go reads an empty body."""
    servers = both([wc.hook("h", **{"response-message": "ran"})])
    try:
        answers = []
        for s in servers:
            before = s.runs()
            c = socket.create_connection(("127.0.0.1", s.port), timeout=20)
            c.sendall(b"POST /hooks/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_to_close(c, 20)
            c.close()
            s.wait_run(before)
            answers.append((data.split(b"\r\n")[0], data.partition(b"\r\n\r\n")[2]))
        assert_eq(answers[1], answers[0], "edgehook vs webhook")
        assert_eq(answers[0], (b"HTTP/1.1 200 OK", b"ran"))
    finally:
        stop_all(servers)


def test_webhook_compat_pidfile():
    for kind in ("reference", "edgehook"):
        d = tempfile.mkdtemp(prefix="webhook-pid-")
        pidfile = os.path.join(d, "run", "sub", "webhook.pid")  # directories are created
        srv = wc.Server(kind, [wc.hook("h")], ["-pidfile", pidfile])
        try:
            wait_until(lambda: os.path.exists(pidfile), 20, "%s: the pidfile" % kind)
            assert_eq(read(pidfile), str(srv.proc.pid), "%s: the pid, no newline" % kind)
            assert_eq(os.stat(pidfile).st_mode & 0o777, 0o600, kind)
            # a second one refuses to start while the first runs
            p = subprocess.run([executable(kind, d), "-hooks", srv.hooks, "-port", str(wc.free_port()), "-ip",
                                "127.0.0.1", "-verbose", "-pidfile", pidfile], capture_output=True, timeout=30)
            assert_eq(p.returncode, 1, kind)
            assert_true(b"Error creating pidfile: pid file found, ensure webhook is not running or delete " +
                        pidfile.encode() in p.stderr, (kind, p.stderr))
        finally:
            srv.proc.send_signal(signal.SIGTERM)
            srv.proc.wait(20)
            wait_until(lambda: any("caught terminated signal; exiting" in l for l in srv.log), 20,
                       "%s: the exit logged" % kind)
            srv.stop()
        assert_true(not os.path.exists(pidfile), "%s: removed at exit" % kind)
        # a stale file (no such process) is replaced
        with open(pidfile, "w") as f:
            f.write("999999999")
        srv = wc.Server(kind, [wc.hook("h")], ["-pidfile", pidfile])
        try:
            wait_until(lambda: read(pidfile) == str(srv.proc.pid), 20, "%s: a stale pidfile replaced" % kind)
        finally:
            srv.stop()


def test_webhook_compat_pidfile_not_followed():
    """-pidfile is written as root before -setuid: a symlink or a hard
    link planted where the pidfile goes (by whoever can write that
    directory, such as the service user) must not make the start truncate
    and overwrite the file it leads to. The stale name is replaced by a
    new file of our own; the other file is left alone."""
    content = "root:x:0:0::/root:/bin/sh\n"
    for how in ("symlink", "link"):
        d = tempfile.mkdtemp(prefix="webhook-pid-")
        victim = os.path.join(d, "victim")
        with open(victim, "w") as f:
            f.write(content)
        pidfile = os.path.join(d, "webhook.pid")
        getattr(os, how)(victim, pidfile)
        srv = wc.Server("edgehook", [wc.hook("h")], ["-pidfile", pidfile])
        try:
            wait_until(lambda: os.path.islink(pidfile) is False and os.path.exists(pidfile) and
                       read(pidfile) == str(srv.proc.pid) or read(victim) != content, 20, "%s: the pidfile" % how)
            assert_eq(read(victim), content, "%s: the planted name's target is untouched" % how)
            assert_eq(os.stat(pidfile).st_nlink, 1, how)
        finally:
            srv.stop()


def test_webhook_compat_logfile():
    for kind in ("reference", "edgehook"):
        d = tempfile.mkdtemp(prefix="webhook-log-")
        path = os.path.join(d, "webhook.log")
        srv = wc.Server(kind, [wc.hook("h")], ["-logfile", path])
        try:
            status, _, _ = srv.request("POST", "/hooks/h", b"", {"X-Request-Id": "r1"})
            assert_eq(status, 200)
            wait_until(lambda: "finished handling h" in read(path), 20, "%s: the run in the log file" % kind)
        finally:
            srv.proc.send_signal(signal.SIGTERM)
            srv.proc.wait(20)
            srv.stop()
        lines = read(path).splitlines()
        for want in (r"version 2\.8\.0 starting", r"attempting to load hooks from", r"loaded: h",
                     r"serving hooks on http://127\.0\.0\.1:%d/hooks/\{id\}" % srv.port,
                     r"\[[0-9a-f]{6}\] incoming HTTP POST request from 127\.0\.0\.1:", r"\] h got matched",
                     r"\] command output: args:", r"caught terminated signal; exiting"):
            assert_true(any(re.match(r"\[webhook\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d .*" + want, l) for l in lines),
                        "%s: %s in\n%s" % (kind, want, "\n".join(lines)))
        assert_true(all(l.startswith("[webhook] ") or not l.strip() or l.startswith("to stderr") or
                        l.startswith("please check") for l in lines), (kind, lines))
        assert_true(not any("serving hooks" in l for l in srv.log), "%s: the log goes to the file only" % kind)


def make_cert(d):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_request(port, path, min_version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if min_version:
        ctx.minimum_version = min_version
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost")
    try:
        s.sendall(("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" %
                   path).encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
        return s.version(), data.split(b"\r\n")[0], data.partition(b"\r\n\r\n")[2]
    finally:
        s.close()


def test_webhook_compat_https():
    d = tempfile.mkdtemp(prefix="webhook-tls-")
    cert, key = make_cert(d)
    servers = both([wc.hook("h", **{"response-message": "over tls"})], ["-secure", "-cert", cert, "-key", key])
    try:
        ref, ours = (tls_request(s.port, "/hooks/h", ssl.TLSVersion.TLSv1_2) for s in servers)
        assert_eq(ours[1:], ref[1:], "status and body over TLS")
        assert_eq(ours[1:], (b"HTTP/1.1 200 OK", b"over tls"))
        assert_eq(ours[0], "TLSv1.2", "BearSSL speaks TLS 1.2")
        # the documented difference: a TLS 1.3-only client
        assert_eq(tls_request(servers[0].port, "/hooks/h", ssl.TLSVersion.TLSv1_3)[0], "TLSv1.3", "webhook")
        try:
            tls_request(servers[1].port, "/hooks/h", ssl.TLSVersion.TLSv1_3)
            refused = False
        except (ssl.SSLError, OSError):
            refused = True
        assert_true(refused, "edgehook has no TLS 1.3")
        for s in servers:
            wc.wait_log(s, "serving hooks on https://127.0.0.1:%d/hooks/{id}" % s.port)
    finally:
        stop_all(servers)


def test_webhook_compat_hotreload_bad_file_keeps_the_set():
    servers = both([wc.hook("h", **{"response-message": "still"})], ["-hotreload"])
    try:
        for s in servers:
            wc.wait_log(s, "setting up file watcher for " + s.hooks)
            # one write over the same length, no truncation: webhook reloads
            # on every write event and must never read a file caught empty
            fd = os.open(s.hooks, os.O_WRONLY)
            os.write(fd, b"[{".ljust(os.path.getsize(s.hooks)))
            os.close(fd)
            wc.wait_log(s, "hooks file %s modified" % s.hooks)
            wc.wait_log(s, "couldn't load hooks from file! ")
        ref, ours = (wc.answer(s, ("POST", "/hooks/h"), True) for s in servers)
        assert_eq(ours, ref, "edgehook vs webhook after a bad hooks file")
        assert_eq(ours["body"], "still")
    finally:
        stop_all(servers)


def privileged_port():
    for port in range(1023, 900, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port below 1024")


def test_webhook_compat_setuid_setgid_after_binding():
    d = tempfile.mkdtemp(prefix="webhook-uid-")
    os.chmod(d, 0o755)
    hooks = os.path.join(d, "hooks.json")
    with open(hooks, "w") as f:
        f.write(wc.json.dumps([ID_HOOK, dict(ID_HOOK, id="gid", **{"pass-arguments-to-command": [
            {"source": "string", "name": "-g"}]})]))
    # both: the pair or nothing, said before anything else
    for kind in ("reference", "edgehook"):
        p = subprocess.run([executable(kind, d), "-hooks", hooks, "-setuid", "65534"], capture_output=True, timeout=30)
        assert_eq((p.returncode, p.stdout), (1, b"error: setuid and setgid options must be used together\n"), kind)
    # Debian's webhook 2.8.0 cannot drop privileges on Linux at all
    p = subprocess.run([wc.REFERENCE, "-hooks", hooks, "-port", str(wc.free_port()), "-ip", "127.0.0.1", "-verbose",
                        "-setuid", "65534", "-setgid", "65534"], capture_output=True, timeout=30)
    assert_true(p.returncode == 1 and b"setuid and setgid not supported on linux" in p.stderr, p.stderr)
    # edgehook binds a port below 1024 as root, then runs as nobody
    port = privileged_port()
    proc = subprocess.Popen([executable("edgehook", d), "-hooks", hooks, "-port", str(port), "-ip", "127.0.0.1",
                             "-verbose", "-setuid", "65534", "-setgid", "65534"], cwd=d,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                assert_true(proc.poll() is None and time.time() < deadline, "edgehook did not start")
                time.sleep(0.02)
        with open("/proc/%d/status" % proc.pid) as f:
            status = f.read()
        assert_true(re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status)
        assert_true(re.search(r"^Gid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status)
        assert_true(re.search(r"^Groups:\s*$", status, re.M), "supplementary groups dropped")
        srv = wc.Server.__new__(wc.Server)
        srv.port = port
        assert_eq(srv.request("POST", "/hooks/id")[::2], (200, b"65534\n"), "the command's uid")
        assert_eq(srv.request("POST", "/hooks/gid")[::2], (200, b"65534\n"), "the command's gid")
    finally:
        proc.terminate()
        proc.wait(20)
