"""Logs for collectors (issue 20 #6): log.format json with the logfmt keys,
log.level, log.file reopened on SIGUSR2 for logrotate."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import harness
from harness import Edgehook, assert_eq, assert_true
from test_ops_systemd import ACTIVATE


def logfmt_keys(line):
    return re.findall(r'(?:^| )([a-z_]+)=(?:"(?:[^"\\]|\\.)*"|\S*)', line)


def session(config):
    """Start, one request to an unknown trigger, stop: the stderr lines."""
    with Edgehook(config=config) as eh:
        eh.request("POST", "/webhooks/nope", b"{}")
        eh.signal(signal.SIGTERM)
        eh.wait_log("stopped")
        return list(eh.stderr_lines)


def test_json_log_lines_parse_and_keys_match_logfmt():
    plain = session("log:\n  format: logfmt\n")
    as_json = session("log:\n  format: json\n")
    objects = [json.loads(line) for line in as_json]
    assert_eq(len(objects), len(plain), "one JSON object per logfmt line")
    for obj, line in zip(objects, plain):
        assert_eq(list(obj.keys()), logfmt_keys(line), "keys of %s" % line)
        assert_eq(obj["msg"], re.search(r'msg=("(?:[^"\\]|\\.)*"|\S+)', line).group(1).strip('"'))
    assert_eq([o["msg"] for o in objects][-1], "stopped")
    assert_true(all(o["level"] in ("debug", "info", "warn", "error") for o in objects), objects)


def wait_file(path, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return
        time.sleep(0.02)  # polling the file for the line, not a delay
    raise AssertionError("%s never got %r" % (path, text))


def start_logging_to_file(config_text, tmpdir):
    """edgehook with its log in a file: the port comes from a socket the
    test binds and passes (socket activation), not from stderr."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    cfg = os.path.join(tmpdir, "config.yaml")
    with open(cfg, "w") as f:
        f.write(config_text)
    proc = subprocess.Popen([sys.executable, "-c", ACTIVATE, str(ls.fileno()), harness.binary(), "-c", cfg],
                            pass_fds=[ls.fileno()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=harness.flavour_env())
    harness.register(proc)
    return proc, ls


def get(port, path):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(harness.build_request("GET", path))
    r = harness.read_response(c)
    c.close()
    return r.status


def test_log_level_warn_drops_info_lines():
    tmp = tempfile.mkdtemp(prefix="edgehook-test-")
    path = os.path.join(tmp, "edgehook.log")
    proc, ls = start_logging_to_file("log:\n  level: warn\n  file: %s\n" % path, tmp)
    try:
        # answered once the loop runs (signals are handled from then on)
        assert_eq(get(ls.getsockname()[1], "/healthz"), 200)
        # a broken file on reload is an error line
        with open(os.path.join(tmp, "config.yaml"), "a") as f:
            f.write("bogus: 1\n")
        proc.send_signal(signal.SIGHUP)
        wait_file(path, "reload failed")
        proc.send_signal(signal.SIGTERM)
        assert_eq(proc.wait(30), 0)
        text = open(path).read()
        assert_true("level=info" not in text and "level=error" in text, text)
    finally:
        ls.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_log_file_is_reopened_on_sigusr2():
    tmp = tempfile.mkdtemp(prefix="edgehook-test-")
    path = os.path.join(tmp, "edgehook.log")
    proc, ls = start_logging_to_file("log:\n  file: %s\n" % path, tmp)
    try:
        wait_file(path, "edgehook started")
        assert_eq(get(ls.getsockname()[1], "/healthz"), 200)
        os.rename(path, path + ".1")
        proc.send_signal(signal.SIGUSR2)
        wait_file(path, "log file reopened")
        proc.send_signal(signal.SIGTERM)
        assert_eq(proc.wait(30), 0)
        old, new = open(path + ".1").read(), open(path).read()
        assert_true("msg=listening" in old and "msg=listening" not in new, old)
        assert_true("msg=stopped" in new and "msg=stopped" not in old, new)
        assert_eq(proc.stderr.read(), b"", "nothing on stderr while logging to a file")
    finally:
        ls.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_log_settings_are_config_errors():
    for cfg, err in (("log:\n  format: xml\n", "log.format"), ("log:\n  level: loud\n", "log.level"),
                     ("log:\n  file: relative.log\n", "log.file")):
        eh = Edgehook(config=cfg, args=["--check"], listen=None)
        out = harness.run_cli(["--check", "-c", eh.write_config(cfg)])
        assert_eq(out.returncode, 2, cfg)
        assert_true(err in out.stderr, out.stderr)
