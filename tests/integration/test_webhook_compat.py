"""edgehook as adnanh/webhook: every case runs against the Debian
`webhook` package (the reference, installed by tests/setup.sh) and
against edgehook started as `webhook` with the same flags and hooks file;
status, body, the headers that matter and the command's argv/env (as
recorded by webhook_echo.py) must agree. A disagreement prints both.

Debian's webhook 2.8.0 has no -socket, and logs the -port it was given
rather than the bound one: each server gets a port the kernel just
handed out (bound and released here), and a start that loses that port
to another process is retried."""
import glob
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO = os.path.join(HERE, "webhook_echo.py")
REFERENCE = shutil.which("webhook") or "/usr/bin/webhook"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One webhook-compatible server: kind "reference" or "edgehook"."""

    def __init__(self, kind, hooks, flags=(), env=None, verbose=True):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="webhook-compat-%s-" % kind)
        self.echo_dir = os.path.join(self.dir, "echo")
        os.mkdir(self.echo_dir)
        self.hooks = os.path.join(self.dir, "hooks.json")
        with open(self.hooks, "w") as f:
            f.write(hooks if isinstance(hooks, str) else json.dumps(hooks))
        if kind == "edgehook":
            exe = os.path.join(self.dir, "webhook")
            os.symlink(os.path.abspath(os.environ.get("EDGEHOOK_BIN", os.path.join(HERE, "..", "..", "edgehook"))),
                       exe)
        else:
            exe = REFERENCE
        env = dict(os.environ, ECHO_DIR=self.echo_dir, T_PARENT="inherited", **(env or {}))
        for _attempt in range(5):
            self.port = free_port()
            self.log = []
            self.proc = subprocess.Popen([exe, "-hooks", self.hooks, "-ip", "127.0.0.1", "-port", str(self.port)] +
                                         ["-verbose"] * verbose + list(flags),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
            threading.Thread(target=self._read, args=(self.proc, self.log), daemon=True).start()
            if self._wait_up():
                return
        raise AssertionError("%s did not start:\n%s" % (kind, "\n".join(self.log)))

    def _wait_up(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                return True
            except OSError:
                if self.proc.poll() is not None:
                    return False
                time.sleep(0.02)
        return False

    @staticmethod
    def _read(proc, log):
        for raw in iter(proc.stdout.readline, b""):
            log.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def request(self, method, path, body=b"", headers=None):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        head = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (method, path)
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        if body or method in ("POST", "PUT"):
            head += "Content-Length: %d\r\n" % len(body)
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        raw_head, _, rest = data.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), v.strip())
        return status, hdrs, rest

    def runs(self):
        return set(glob.glob(os.path.join(self.echo_dir, "run-*.json")))

    def wait_run(self, before, timeout=20):
        """The record of the one run that appears after `before`."""
        deadline = time.time() + timeout
        while not self.runs() - before:
            if time.time() > deadline:
                raise AssertionError("%s: no command run recorded\n%s" % (self.kind, "\n".join(self.log[-20:])))
            time.sleep(0.02)
        new = self.runs() - before
        assert len(new) == 1, "%s: %d runs for one request" % (self.kind, len(new))
        with open(new.pop()) as f:
            rec = json.load(f)
        rec.pop("cwd", None)
        # temp file names end in random characters (Go: digits)
        for k in rec["files"]:
            rec["env"][k] = "%s/%s*" % (os.path.dirname(rec["env"][k]), k)
        return rec

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


HEADERS_COMPARED = ("content-type", "location", "x-test", "x-global", "allow", "x-content-type-options")


def answer(srv, req, expect_run):
    before = srv.runs()
    status, hdrs, body = srv.request(*req)
    view = {"status": status, "body": body.decode("utf-8", "replace"),
            "headers": {k: hdrs[k] for k in HEADERS_COMPARED if k in hdrs}}
    if expect_run:
        view["run"] = srv.wait_run(before)
    return view


def compare(hooks, cases, flags=(), env=None, verbose=True):
    """cases: (name, (method, path, body, headers), expect_run, checks).
    Without verbose neither server logs (edgehook then skips the work
    only a log line would show)."""
    servers = [Server("reference", hooks, flags, env, verbose), Server("edgehook", hooks, flags, env, verbose)]
    failures = []
    try:
        for name, req, expect_run, check in cases:
            ref, ours = (answer(s, req, expect_run) for s in servers)
            if ref != ours:
                failures.append("%s:\n  webhook : %r\n  edgehook: %r" % (name, ref, ours))
            elif check:
                check(ref)
    finally:
        logs = servers[1].log[-6:]
        for s in servers:
            s.stop()
    if failures:
        raise AssertionError("edgehook log (end):\n" + "\n".join(logs) + "\n" + "\n".join(failures))


def hook(id_, **kw):
    h = {"id": id_, "execute-command": ECHO}
    h.update(kw)
    return h


def arg(source, name=None, **kw):
    a = {"source": source}
    if name is not None:
        a["name"] = name
    a.update(kw)
    return a


def test_webhook_compat_routes_and_answers():
    hooks = [
        hook("plain", **{"response-message": "started", "response-headers": [{"name": "X-Test", "value": "yes"}]}),
        hook("coded", **{"success-http-response-code": 202}),
        hook("nested/id"),
        hook("post-only", **{"http-methods": ["POST"]}),
        hook("mismatch", **{"trigger-rule-mismatch-http-response-code": 403,
                            "trigger-rule": {"match": {"type": "value", "value": "x",
                                                       "parameter": arg("header", "X-Key")}}}),
        hook("mismatch-default", **{"trigger-rule": {"match": {"type": "value", "value": "x",
                                                               "parameter": arg("header", "X-Key")}}}),
    ]
    compare(hooks, [
        ("root", ("GET", "/"), False, None),
        ("root-post", ("POST", "/"), False, None),
        ("bare-prefix", ("GET", "/hooks"), False, None),
        ("outside-prefix", ("GET", "/other/plain"), False, None),
        ("unknown-hook", ("POST", "/hooks/nope"), False, None),
        ("dot-dot", ("GET", "/hooks/../hooks/plain?x=1"), False, None),
        ("double-slash", ("GET", "/hooks//plain"), False, None),
        ("async-success", ("POST", "/hooks/plain"), True, None),
        ("success-code", ("GET", "/hooks/coded"), True, None),
        ("id-with-slash", ("GET", "/hooks/nested/id"), True, None),
        ("method-not-allowed", ("GET", "/hooks/post-only"), False, None),
        ("method-allowed", ("POST", "/hooks/post-only"), True, None),
        ("rules-mismatch-code", ("POST", "/hooks/mismatch", b"", {"X-Key": "y"}), False, None),
        ("rules-mismatch-default", ("POST", "/hooks/mismatch-default"), False, None),
        ("rules-match", ("POST", "/hooks/mismatch-default", b"", {"X-Key": "x"}), True, None),
    ])


def test_webhook_compat_global_flags():
    hooks = [hook("h"), hook("own", **{"http-methods": ["PUT"]})]
    compare(hooks, [
        ("header-on-answer", ("POST", "/hooks/h"), True, None),
        ("global-method-refused", ("GET", "/hooks/h"), False, None),
        ("global-method-unknown-hook", ("GET", "/hooks/nope"), False, None),
        ("not-found-with-header", ("POST", "/hooks/nope"), False, None),
    ], flags=["-header", "x-global=1", "-http-methods", "post,PUT"])
    compare([hook("h")], [
        ("empty-prefix", ("POST", "/h"), True, None),
        ("empty-prefix-root", ("GET", "/"), False, None),
        ("empty-prefix-unknown", ("GET", "/hooks/h"), False, None),
    ], flags=["-urlprefix", ""])


def test_webhook_compat_sync_answers():
    hooks = [
        hook("sync", **{"include-command-output-in-response": True,
                        "pass-arguments-to-command": [arg("string", "hello")]}),
        hook("sync-fail", **{"include-command-output-in-response": True,
                             "pass-arguments-to-command": [arg("string", "fail")]}),
        hook("sync-fail-output", **{"include-command-output-in-response": True,
                                    "include-command-output-in-response-on-error": True,
                                    "pass-arguments-to-command": [arg("string", "fail")]}),
        hook("sync-code", **{"include-command-output-in-response": True, "success-http-response-code": 201}),
        {"id": "sync-missing", "execute-command": "/nonexistent/cmd",
         "include-command-output-in-response": True},
        {"id": "async-missing", "execute-command": "/nonexistent/cmd", "response-message": "ok"},
    ]
    compare(hooks, [
        ("sync-output", ("POST", "/hooks/sync"), True, None),
        ("sync-failure", ("POST", "/hooks/sync-fail"), True, None),
        ("sync-failure-output", ("POST", "/hooks/sync-fail-output"), True, None),
        ("sync-success-code", ("POST", "/hooks/sync-code"), True, None),
        ("sync-exec-failure", ("POST", "/hooks/sync-missing"), False, None),
        ("async-exec-failure", ("POST", "/hooks/async-missing"), False, None),
    ])


PAYLOAD = json.dumps({"ref": "refs/heads/main", "n": None, "num": 1.50, "obj": {"b": "<&>", "a": [1, True]},
                      "dotted.key": "literal", "dotted": {"key": "path"}, "list": [{"id": 7}]}).encode()


def test_webhook_compat_parameters_and_rendering():
    args = [arg("payload", "ref"), arg("payload", "n"), arg("payload", "num"), arg("payload", "obj"),
            arg("payload", "dotted.key"), arg("payload", "list.0.id"), arg("payload", "missing"),
            arg("header", "x-event"), arg("url", "q"), arg("query", "q"), arg("request", "method"),
            arg("string", "constant"), arg("raw-request-body"), arg("entire-payload"), arg("entire-query")]
    env = [arg("payload", "ref"), arg("payload", "num", envname="T_NUM"), arg("payload", "missing"),
           arg("payload", "dotted.key")]
    files = [arg("payload", "obj", envname="T_FILE"), arg("payload", "ref"),
             arg("header", "x-b64", envname="T_B64", base64decode=True)]
    hooks = [hook("p", **{"pass-arguments-to-command": args, "pass-environment-to-command": env,
                          "pass-file-to-command": files})]
    hdrs = {"Content-Type": "application/json", "X-Event": "push", "X-B64": "aGVsbG8="}
    compare(hooks, [
        ("json-payload", ("POST", "/hooks/p?q=a+b&q=2&z=%41", PAYLOAD, hdrs), True, None),
        ("array-payload", ("POST", "/hooks/p", b'[{"x":1}]', {"Content-Type": "application/json"}), True, None),
        ("form-payload", ("POST", "/hooks/p", b"ref=refs%2Fheads%2Fx&num=2",
                          {"Content-Type": "application/x-www-form-urlencoded"}), True, None),
        ("no-content-type", ("POST", "/hooks/p", PAYLOAD), True, None),
        ("unsupported-type", ("POST", "/hooks/p", PAYLOAD, {"Content-Type": "text/plain"}), True, None),
        ("bad-json", ("POST", "/hooks/p", b"{nope", {"Content-Type": "application/json"}), True, None),
    ])
    compare([hook("r", **{"pass-arguments-to-command": [arg("payload", "root.0.x"), arg("entire-payload")],
                          "incoming-payload-content-type": "application/json"})], [
        ("content-type-override", ("POST", "/hooks/r", b'[{"x":1}]', {"Content-Type": "text/plain"}), True, None),
    ])


def sig(alg, body, secret=b"s3cret"):
    return hmac.new(secret, body, alg).hexdigest()


def test_webhook_compat_rules():
    body = b'{"ref":"refs/heads/main"}'
    ct = {"Content-Type": "application/json"}

    def hm(alg, header, secret="s3cret"):
        return {"match": {"type": "payload-hmac-" + alg, "secret": secret, "parameter": arg("header", header)}}

    ref = {"match": {"type": "value", "value": "refs/heads/main", "parameter": arg("payload", "ref")}}
    missing = {"match": {"type": "value", "value": "x", "parameter": arg("payload", "nope")}}
    hooks = [
        hook("sha1", **{"trigger-rule": hm("sha1", "X-Hub-Signature")}),
        hook("sha256", **{"trigger-rule": {"and": [hm("sha256", "X-Hub-Signature-256"), ref]}}),
        hook("sha512", **{"trigger-rule": hm("sha512", "X-Sig")}),
        hook("hash-old", **{"trigger-rule": {"match": {"type": "payload-hash-sha1", "secret": "s3cret",
                                                       "parameter": arg("header", "X-Hub-Signature")}}}),
        hook("soft", **{"trigger-signature-soft-failures": True,
                        "trigger-rule": {"or": [hm("sha256", "X-Hub-Signature-256"), ref]}}),
        hook("hard", **{"trigger-rule": {"or": [hm("sha256", "X-Hub-Signature-256"), ref]}}),
        hook("empty-secret", **{"trigger-rule": hm("sha1", "X-Hub-Signature", secret="")}),
        hook("not-missing", **{"trigger-rule": {"not": missing}}),
        hook("and-not-missing", **{"trigger-rule": {"and": [{"not": missing}, ref]}}),
        hook("or-missing", **{"trigger-rule": {"or": [missing, ref]}}),
        hook("regex", **{"trigger-rule": {"match": {"type": "regex", "regex": "^refs/heads/(main|master)$",
                                                    "parameter": arg("payload", "ref")}}}),
        hook("regex-no", **{"trigger-rule": {"match": {"type": "regex", "regex": "(?i)TAGS",
                                                       "parameter": arg("payload", "ref")}}}),
        hook("unknown-type", **{"trigger-rule": {"match": {"type": "nope", "parameter": arg("payload", "ref")}}}),
        hook("empty-rule", **{"trigger-rule": {}}),
    ]
    s256 = "sha256=" + sig("sha256", body)
    compare(hooks, [
        ("sha1-ok", ("POST", "/hooks/sha1", body, dict(ct, **{"X-Hub-Signature": "sha1=" + sig("sha1", body)})),
         True, None),
        ("sha1-bare-ok", ("POST", "/hooks/sha1", body, dict(ct, **{"X-Hub-Signature": sig("sha1", body)})), True,
         None),
        ("sha1-bad", ("POST", "/hooks/sha1", body, dict(ct, **{"X-Hub-Signature": "sha1=00"})), False, None),
        ("sha1-missing", ("POST", "/hooks/sha1", body, ct), False, None),
        ("sha256-ok", ("POST", "/hooks/sha256", body, dict(ct, **{"X-Hub-Signature-256": s256})), True, None),
        ("sha256-list", ("POST", "/hooks/sha256", body, dict(ct, **{"X-Hub-Signature-256": "sha256=00," + s256})),
         True, None),
        ("sha256-list-space", ("POST", "/hooks/sha256", body,
                               dict(ct, **{"X-Hub-Signature-256": "sha256=00, " + s256})), False, None),
        ("sha512-ok", ("POST", "/hooks/sha512", body, dict(ct, **{"X-Sig": "sha512=" + sig("sha512", body)})), True,
         None),
        ("hash-old-ok", ("POST", "/hooks/hash-old", body,
                         dict(ct, **{"X-Hub-Signature": "sha1=" + sig("sha1", body)})), True, None),
        ("soft-failure", ("POST", "/hooks/soft", body, dict(ct, **{"X-Hub-Signature-256": "sha256=00"})), True,
         None),
        ("hard-failure", ("POST", "/hooks/hard", body, dict(ct, **{"X-Hub-Signature-256": "sha256=00"})), False,
         None),
        ("empty-secret", ("POST", "/hooks/empty-secret", body, dict(ct, **{"X-Hub-Signature": "x"})), False, None),
        ("not-missing", ("POST", "/hooks/not-missing", body, ct), True, None),
        ("and-not-missing", ("POST", "/hooks/and-not-missing", body, ct), False, None),
        ("or-missing", ("POST", "/hooks/or-missing", body, ct), True, None),
        ("regex", ("POST", "/hooks/regex", body, ct), True, None),
        ("regex-no", ("POST", "/hooks/regex-no", body, ct), False, None),
        ("unknown-type", ("POST", "/hooks/unknown-type", body, ct), False, None),
        ("empty-rule", ("POST", "/hooks/empty-rule", body, ct), False, None),
    ])


def test_webhook_compat_unknown_flag_exits_2():
    bin_ = os.environ.get("EDGEHOOK_BIN", os.path.join(HERE, "..", "..", "edgehook"))
    for exe in (REFERENCE, None):
        cmd = [exe] if exe else [bin_, "webhook"]
        p = subprocess.run(cmd + ["-no-such-flag"], capture_output=True, timeout=30)
        assert p.returncode == 2, (cmd, p.returncode)
        assert b"flag provided but not defined: -no-such-flag" in p.stderr, p.stderr


def wait_log(srv, text, timeout=20):
    deadline = time.time() + timeout
    while not any(text in line for line in srv.log):
        if time.time() > deadline or srv.proc.poll() is not None:
            raise AssertionError("%s: no log line %r\n%s" % (srv.kind, text, "\n".join(srv.log[-20:])))
        time.sleep(0.02)


def test_webhook_compat_reload_keeps_old_set_on_bad_file():
    srv = Server("edgehook", [hook("a")])
    try:
        assert srv.request("POST", "/hooks/a")[0] == 200
        with open(srv.hooks, "w") as f:
            json.dump([hook("b")], f)
        srv.proc.send_signal(signal.SIGHUP)
        wait_log(srv, "loaded: b")
        assert srv.request("POST", "/hooks/b")[0] == 200
        assert srv.request("POST", "/hooks/a")[2] == b"Hook not found."
        with open(srv.hooks, "w") as f:
            f.write('[{"id": "c", "trigger-rule": {"match": {"type": "regex", "regex": "(?=x)"}}}]')
        srv.proc.send_signal(signal.SIGUSR1)
        wait_log(srv, "reverting hooks back to the previous configuration")
        assert srv.request("POST", "/hooks/b")[0] == 200
        assert any("(?=x)" in line for line in srv.log), srv.log[-5:]
    finally:
        srv.stop()


def test_webhook_compat_extensions_timeout_and_body_on_stdin():
    body = b"x" * 300000  # more than a pipe holds: written as the command reads
    hooks = [hook("stdin", **{"pass-body-to-stdin": True, "include-command-output-in-response": True}),
             {"id": "slow", "execute-command": "/bin/sleep", "timeout": "1",
              "include-command-output-in-response": True, "pass-arguments-to-command": [arg("string", "60")]}]
    srv = Server("edgehook", hooks)
    try:
        before = srv.runs()
        status, _, out = srv.request("POST", "/hooks/stdin", body)
        assert status == 200, (status, out)
        assert srv.wait_run(before)["stdin"] == body.decode()
        # without the timeout the 60 s sleep outlives the request's socket timeout
        status, _, out = srv.request("POST", "/hooks/slow")
        assert status == 500 and b"Error occurred while executing" in out, (status, out)
        wait_log(srv, "slow timed out and was killed")
    finally:
        srv.stop()


def test_webhook_compat_hotreload_follows_the_file():
    srv = Server("edgehook", [hook("a")], flags=["-hotreload"])
    try:
        wait_log(srv, "setting up file watcher")
        # replaced by rename, as editors and config tools do
        tmp = srv.hooks + ".new"
        with open(tmp, "w") as f:
            json.dump([hook("b")], f)
        os.rename(tmp, srv.hooks)
        wait_log(srv, "loaded: b")
        assert srv.request("POST", "/hooks/b")[0] == 200
        with open(srv.hooks, "w") as f:
            f.write("[{")
        wait_log(srv, "reverting hooks back to the previous configuration")
        assert srv.request("POST", "/hooks/b")[0] == 200
    finally:
        srv.stop()


def test_webhook_compat_max_concurrency_queues_then_refuses():
    """max-concurrency 1 with the first command held at a gate: 64 more
    wait (202), the next is refused (503); once the gate opens the
    waiting ones run one at a time, in arrival order."""
    script = 'echo start $1 >> order; while [ ! -e gate ]; do sleep 0.02; done; echo end $1 >> order'
    hooks = [{"id": "one", "execute-command": "/bin/sh", "max-concurrency": 1, "success-http-response-code": 202,
              "pass-arguments-to-command": [arg("string", "-c"), arg("string", script), arg("string", "sh"),
                                            arg("payload", "n")]}]
    srv = Server("edgehook", hooks)
    try:
        ct = {"Content-Type": "application/json"}
        codes = [srv.request("POST", "/hooks/one", json.dumps({"n": i}).encode(), ct)[0] for i in range(66)]
        assert codes == [202] * 65 + [503], codes
        open(os.path.join(srv.dir, "gate"), "w").close()
        order = os.path.join(srv.dir, "order")
        want = []
        for i in range(65):
            want += ["start %d" % i, "end %d" % i]
        deadline = time.time() + 120
        while True:
            lines = open(order).read().split("\n")[:-1] if os.path.exists(order) else []
            if len(lines) >= len(want) or time.time() > deadline:
                break
            time.sleep(0.05)
        assert lines == want, lines[:12]
    finally:
        srv.stop()
