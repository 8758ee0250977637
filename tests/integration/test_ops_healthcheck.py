"""edgehook --healthcheck [URL] (issue 20 #5): exit 0 on a 2xx, 1 on
anything else, bounded in time, in the static binary alone in a chroot."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import harness
from harness import Edgehook, assert_eq, assert_true, serial
from sinks import Sink

STATIC = os.path.join(harness.REPO, "build", "static", "edgehook.bin")


def healthcheck(*args):
    return harness.run_cli(["--healthcheck"] + list(args), timeout=30)


def test_healthcheck_up_by_url_by_listen_and_by_config():
    with Edgehook() as eh:
        r = healthcheck("http://127.0.0.1:%d/healthz" % eh.port)
        assert_eq(r.returncode, 0, r.stderr)
        assert_true("healthy" in r.stdout, r.stdout)
        assert_eq(healthcheck("-l", "127.0.0.1:%d" % eh.port).returncode, 0)
        cfg = eh.write_config("server:\n  listen: \"*:%d\"\n" % eh.port)
        r = healthcheck("-c", cfg)
        assert_eq(r.returncode, 0, "a wildcard listener is checked on loopback: %s" % r.stderr)


def test_healthcheck_down_answers_non_2xx_or_refuses():
    sink = Sink(behave=lambda i, r: ("status", 503, {}))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        r = healthcheck(sink.url("/healthz"))
        assert_eq(r.returncode, 1, r.stdout)
        assert_true("503" in r.stderr, r.stderr)
        r = healthcheck("http://127.0.0.1:%d/healthz" % closed.getsockname()[1])
        assert_eq(r.returncode, 1)
        assert_true("refused" in r.stderr, r.stderr)
        with Edgehook() as eh:
            assert_eq(healthcheck("http://127.0.0.1:%d/nope" % eh.port).returncode, 1, "a 404 is not healthy")
        for bad in ("https://127.0.0.1:1/healthz", "http://example.com/healthz", "not a url"):
            assert_eq(healthcheck(bad).returncode, 1, bad)
    finally:
        sink.close()
        closed.close()


@serial
def test_healthcheck_against_a_silent_server_gives_up_within_its_deadline():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts (the kernel does) and never answers
    try:
        t0 = time.monotonic()
        r = healthcheck("http://127.0.0.1:%d/healthz" % silent.getsockname()[1])
        took = time.monotonic() - t0
        assert_eq(r.returncode, 1)
        assert_true("timed out" in r.stderr, r.stderr)
        # 2 s budget; generous slack for a loaded machine
        assert_true(1.5 <= took < 8, "took %.2fs" % took)
    finally:
        silent.close()


def test_healthcheck_static_binary_in_empty_chroot():
    assert_true(os.path.exists(STATIC), "make test builds build/static/edgehook.bin")
    root = tempfile.mkdtemp(prefix="edgehook-chroot-")
    shutil.copy(STATIC, os.path.join(root, "edgehook"))
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    try:
        with Edgehook() as eh:
            r = subprocess.run([chroot, root, "/edgehook", "--healthcheck", "-l", "127.0.0.1:%d" % eh.port],
                               capture_output=True, text=True, timeout=30)
            assert_eq(r.returncode, 0, r.stderr)
            r = subprocess.run([chroot, root, "/edgehook", "--healthcheck", "http://localhost:%d/healthz" % eh.port],
                               capture_output=True, text=True, timeout=30)
            assert_eq(r.returncode, 0, r.stderr)
        assert_eq(os.listdir(root), ["edgehook"])
    finally:
        shutil.rmtree(root)


def test_dockerfile_has_the_healthcheck():
    text = open(os.path.join(harness.REPO, "Dockerfile")).read()
    assert_true('HEALTHCHECK' in text and '["/edgehook", "--healthcheck"]' in text, text)
