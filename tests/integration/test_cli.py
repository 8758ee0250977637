"""Command line, --check, config errors, signals (drain and reload)."""
import json
import os
import signal
import socket
import subprocess
import tempfile

import harness
from harness import REPO, Edgehook, Reader, assert_eq, assert_true, build_request, read_response


def run(args, config=None, env=None):
    path = None
    if config is not None:
        fd, path = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(config)
        args = ["-c", path] + args
    return harness.run_cli(args, env=env), path


def test_version_help_usage():
    p, _ = run(["--version"])
    assert_eq(p.returncode, 0)
    assert_true(p.stdout.startswith("edgehook "), "version line")
    p, _ = run(["--help"])
    assert_eq(p.returncode, 0)
    assert_true("--check" in p.stdout, "help lists flags")
    p, _ = run(["--bogus"])
    assert_eq(p.returncode, 2)
    p, _ = run(["-c"])
    assert_eq(p.returncode, 2)


def test_check_accepts_agentstack_and_default():
    p, _ = run(["--check", "-c", os.path.join(REPO, "..", "shared", "testdata", "agentstack-config.yaml")])
    assert_eq((p.returncode, p.stdout.strip()), (0, "ok"))
    p, _ = run(["--check"])
    assert_eq((p.returncode, p.stdout.strip()), (0, "ok"))


def test_check_reports_file_line():
    cases = [
        ("server:\n  listen: 127.0.0.1:8080\n  max_body: 1MiB\n", ':3: unknown key "max_body"'),
        ("webhook:\n  endpoints:\n    - url: notaurl\n", ":3: bad url"),
        ("triggers:\n  - id: a\n  - id: a\n", ':3: duplicate trigger id "a"'),
        ("server:\n  header_timeout: soon\n", ":2: header_timeout: bad duration"),
        ("triggers:\n  - id: g\n    kind: github\n", ":2: trigger g: kind github needs a secret"),
        ("api:\n  token: ${EDGEHOOK_TEST_UNSET_VAR}\n", ":2: environment variable EDGEHOOK_TEST_UNSET_VAR is not set"),
        ("server:\n  listen: [\n", ":2:"),
        ('{"server": {"listen": 5,}}', ":1: invalid JSON"),
    ]
    for text, expect in cases:
        p, path = run(["--check"], text)
        assert_eq(p.returncode, 2, text)
        assert_true((path + expect) in p.stderr, "expected %r in %r" % (path + expect, p.stderr))
        assert_eq(p.stdout, "", "nothing on stdout for a bad config")
    p, _ = run(["--check", "-c", "/nonexistent/x.yaml"])
    assert_eq(p.returncode, 2)
    assert_true("/nonexistent/x.yaml" in p.stderr, "names the file")


def test_bad_config_at_start_exits_2():
    p, path = run([], "server:\n  bogus: 1\n")
    assert_eq(p.returncode, 2)
    assert_true(path + ":2:" in p.stderr, "FILE:LINE on start too")


def test_listen_in_use_exits_1():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    p, _ = run(["-l", "127.0.0.1:%d" % port])
    s.close()
    assert_eq(p.returncode, 1)
    assert_true("cannot listen" in p.stderr, p.stderr)


def test_sigterm_drains_in_flight_request():
    with Edgehook() as eh:
        s = eh.connect()
        body = b'{"slow": true}'
        s.sendall(b"POST /webhooks/demo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:5])
        eh.sync()  # the partial request has been read: it is in flight
        eh.signal(signal.SIGTERM)
        eh.wait_log("msg=draining")
        try:
            socket.create_connection(("127.0.0.1", eh.port), timeout=1).close()
            refused = False
        except OSError:
            refused = True
        assert_true(refused, "no new connections while draining")
        s.sendall(body[5:])
        r = read_response(s)
        assert_eq(r.status, 202)
        assert_eq(r.header("connection"), "close")
        assert_eq(eh.proc.wait(10), 0)
        assert_eq(json.loads(eh.wait_stdout(1)[0])["data"], {"slow": True})


def test_sigterm_drain_timeout():
    with Edgehook("server:\n  drain_timeout: 300ms\n") as eh:
        s = eh.connect()
        s.sendall(b"POST /webhooks/demo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{")
        eh.sync()
        eh.signal(signal.SIGTERM)
        # the request never completes: only the drain timeout ends the run
        assert_eq(eh.proc.wait(60), 0)
        eh.wait_log("drain timeout")
        s.close()


def test_sighup_reload_good_and_bad():
    """Every reload changes what is served, and each step waits for its
    own log line, so no step can pass on the config that already ran."""
    def cfg(trigger):
        return "webhook:\n  endpoints:\n    - url: \"stdout:\"\ntriggers:\n  - id: %s\n    emit: true\n" % trigger

    def reload(eh, text, done):
        seen = sum(done in l for l in eh.stderr_lines)
        with open(eh.config_path, "w") as f:
            f.write(text)
        eh.signal(signal.SIGHUP)
        eh.wait_for(lambda: sum(done in l for l in eh.stderr_lines) > seen, 30, "log " + done)

    def served(eh):
        return {t: eh.request("POST", "/webhooks/" + t, b"{}").status for t in ("one", "two", "three")}
    with Edgehook(cfg("one")) as eh:
        assert_eq(served(eh), {"one": 202, "two": 404, "three": 404})
        keep = eh.connect()
        keep.sendall(build_request("GET", "/healthz"))
        rd = Reader(keep)
        assert_eq(rd.read_response().status, 200)
        reload(eh, "triggers:\n  - id: broken\n    bogus: 1\n", "reload failed")
        assert_true(any(":3: unknown key" in l for l in eh.stderr_lines), "reload error names the line")
        assert_eq(served(eh), {"one": 202, "two": 404, "three": 404}, "a bad config keeps the running one")
        reload(eh, cfg("two"), "config reloaded")
        assert_true(not any("take effect after a restart" in l for l in eh.stderr_lines), "same listeners: no warning")
        assert_eq(served(eh), {"one": 404, "two": 202, "three": 404})
        reload(eh, "server:\n  listen: 127.0.0.1:1\n" + cfg("three"), "take effect after a restart")
        eh.wait_for(lambda: sum("config reloaded" in l for l in eh.stderr_lines) == 2, 30, "second reload applied")
        assert_eq(served(eh), {"one": 404, "two": 404, "three": 202}, "the rest of the config applies")
        reload(eh, cfg("one"), "config reloaded")
        assert_eq(served(eh), {"one": 202, "two": 404, "three": 404})
        keep.sendall(build_request("GET", "/healthz"))
        assert_eq(rd.read_response().status, 200, "connections survive a reload")
        keep.close()
        assert_eq([json.loads(l)["resource_id"] for l in eh.wait_stdout(5)], ["one", "one", "two", "three", "one"])


def test_stdout_flags_restored_at_exit():
    """A terminal's flags are shared with the user's shell: O_NONBLOCK set
    for the stdout writer must be undone when edgehook exits."""
    import fcntl
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen([harness.binary(), "-l", "127.0.0.1:0"], stdout=slave, stderr=subprocess.PIPE,
                         env=harness.flavour_env())
    harness.register(p)
    try:
        harness.check_exe(p.pid, harness.binary())
        for line in iter(p.stderr.readline, b""):
            if b"edgehook started" in line:
                break
        assert_true(fcntl.fcntl(slave, fcntl.F_GETFL) & os.O_NONBLOCK, "non-blocking while running")
        p.send_signal(signal.SIGTERM)
        assert_eq(p.wait(10), 0)
        assert_eq(fcntl.fcntl(slave, fcntl.F_GETFL) & os.O_NONBLOCK, 0)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)
