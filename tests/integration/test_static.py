"""The static musl binary in an empty chroot: no /etc, no /dev, no libc
files. It must serve /healthz and deliver to a sink by IP literal."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import REPO, Edgehook, assert_eq, assert_true
from sinks import Sink

STATIC = os.path.join(REPO, "build", "static", "edgehook.bin")


def test_static_binary_in_empty_chroot():
    assert_true(os.path.exists(STATIC), "make test builds build/static/edgehook.bin")
    assert_true(os.geteuid() == 0, "chroot needs root (make test runs as root)")
    size = os.path.getsize(STATIC)
    assert_true(size <= 600 * 1024, "static binary is %d KiB (target 600)" % (size // 1024))
    assert_true(shutil.which("file"), "file(1) is missing: tests/setup.sh installs it")
    out = subprocess.run(["file", STATIC], capture_output=True, text=True).stdout
    assert_true("statically linked" in out or "static-pie" in out, out)
    sink = Sink()
    root = tempfile.mkdtemp(prefix="edgehook-chroot-")
    shutil.copy(STATIC, os.path.join(root, "edgehook"))
    with open(os.path.join(root, "config.yaml"), "w") as f:
        f.write('webhook:\n  endpoints:\n    - url: "http://127.0.0.1:%d/in-chroot"\n' % sink.port)
    assert_eq(sorted(os.listdir(root)), ["config.yaml", "edgehook"])
    try:
        with Edgehook(command=[shutil.which("chroot") or "/usr/sbin/chroot", root, "/edgehook", "-c", "/config.yaml", "-l", "127.0.0.1:0"],
                      listen=None, exe=os.path.join(root, "edgehook")) as eh:
            assert_eq(eh.request("GET", "/healthz").json(), {"status": "ok"})
            r = eh.request("POST", "/api/v1/events", b'{"event":"static.test"}')
            assert_eq(r.status, 202)
            req = sink.wait(1)[0]
            assert_eq(req.path, "/in-chroot")
            assert_eq(json.loads(req.body)["event"], "static.test")
    finally:
        sink.close()
        shutil.rmtree(root)
