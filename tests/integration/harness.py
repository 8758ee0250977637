"""Helpers for integration tests: start the real binary, talk raw HTTP.

Tests are plain functions named test_* in tests/integration/test_*.py;
tests/run.py collects and runs them. A test fails by raising.
"""
import os
import re
import select
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The processes started for each running test, so tests/run.py can kill
# what a timed-out test left behind: {test name: [Popen]}.
_live_lock = threading.Lock()
_live = {}
current_test = threading.local()


def binary():
    """The binary under test, read at every start: tests/run.py sets
    EDGEHOOK_BIN per flavour, so nothing may keep it from import time."""
    return os.environ.get("EDGEHOOK_BIN", os.path.join(REPO, "edgehook"))


def __getattr__(name):
    # harness.BIN, read at each use (PEP 562), for callers written before
    # binary(); `from harness import BIN` would freeze it: use binary()
    if name == "BIN":
        return binary()
    raise AttributeError(name)


def flavour_env(extra=None):
    """The environment for a process of the binary under test. ASan must
    report leaks and fail the exit status, whatever the caller set."""
    env = dict(os.environ, **(extra or {}))
    opts = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o and not o.startswith("detect_leaks=")]
    env["ASAN_OPTIONS"] = ":".join(opts + ["detect_leaks=1"])
    return env


def register(proc):
    """Remembers proc as started by the calling test (see kill_started)."""
    with _live_lock:
        _live.setdefault(getattr(current_test, "name", None), []).append(proc)


def kill_started(test_name):
    """SIGKILL, by pid, every process test_name started that still runs."""
    with _live_lock:
        procs = _live.pop(test_name, [])
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def forget_started(test_name):
    with _live_lock:
        _live.pop(test_name, None)


def proc_alive(pid):
    """False once pid is gone or a zombie (reparented to an init that may
    not reap). The process may be reaped between the open and the read
    of its stat file: that read fails with ESRCH, not ENOENT."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def check_exe(pid, expect):
    """Raises unless /proc/PID/exe is `expect` (symlinks resolved). A
    process that has already exited cannot be checked; its argv[0] was
    `expect` anyway, so that is accepted."""
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except FileNotFoundError:
        return
    if exe.endswith(" (deleted)"):
        exe = exe[:-len(" (deleted)")]
    if os.path.realpath(exe) != os.path.realpath(expect):
        raise AssertionError("process %d runs %s, expected the flavour's binary %s" % (pid, exe, expect))


def run_cli(args, env=None, timeout=60, **kw):
    """One short run of the binary under test (--check, --version...)."""
    p = subprocess.Popen([binary()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=flavour_env(env), **kw)
    register(p)
    check_exe(p.pid, binary())
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def serial(fn):
    """Marks a test that needs the machine to itself (timing, fd or CPU
    measurements): tests/run.py runs it after the parallel ones."""
    fn.serial = True
    return fn


def timeout(seconds):
    """Sets a test's deadline in tests/run.py (default 240 s)."""
    def mark(fn):
        fn.timeout = seconds
        return fn
    return mark


class Edgehook:
    """Runs edgehook on an ephemeral port; use as a context manager.

    The port is read from the "listening" log line, so no port is ever
    guessed. On exit the process gets SIGTERM and must exit 0 (under
    ASan a leak makes that fail)."""

    def __init__(self, config=None, args=(), env=None, listen="127.0.0.1:0", preexec_fn=None, expect_exit=0,
                 command=None, exe=None, pass_fds=()):
        """command: the argv to run instead of the binary under test (e.g.
        through chroot); exe: the file that process ends up running, checked
        like the binary under test is; pass_fds: descriptors the child
        inherits (socket activation)."""
        self.config = config
        self.args = list(args)
        self.env = flavour_env(env)
        self.exe = exe
        self.listen = listen
        self.preexec_fn = preexec_fn
        self.expect_exit = expect_exit
        self.stderr_lines = []
        self.stdout_lines = []
        self.ports = []
        self._cond = threading.Condition()
        self.dir = tempfile.mkdtemp(prefix="edgehook-test-")
        self.config_path = None
        self.command = command
        self.pass_fds = tuple(pass_fds)

    def write_config(self, text):
        path = os.path.join(self.dir, "config.yaml")
        with open(path, "w") as f:
            f.write(text)
        self.config_path = path
        return path

    def _reader(self, stream, lines):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                lines.append(line)
                m = re.search(r'msg=listening addr=(\S+)|"msg":"listening","addr":"([^"]+)"', line)
                if m:
                    self.ports.append(int((m.group(1) or m.group(2)).rsplit(":", 1)[1]))
                self._cond.notify_all()

    def start(self):
        cmd = list(self.command) if self.command else [binary()]
        expect_exe = self.exe if self.command else binary()
        # Under valgrind /proc/PID/exe is valgrind's tool, not our binary:
        # there the check is skipped (the binary is then cmd[-1] of the
        # wrapper, chosen by binary() above like everywhere else).
        valgrind = bool(os.environ.get("EDGEHOOK_VALGRIND")) and not self.command
        if valgrind:
            # any memcheck error or definitely lost byte makes the exit
            # status 99, which __exit__ reports as a failure
            cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"] + cmd
        if self.config is not None:
            cmd += ["-c", self.write_config(self.config)]
        if self.listen:
            cmd += ["-l", self.listen]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                     preexec_fn=self.preexec_fn, pass_fds=self.pass_fds)
        register(self.proc)
        if not self.command and not valgrind:
            check_exe(self.proc.pid, expect_exe)  # Popen returns after the exec
        self.threads = [threading.Thread(target=self._reader, args=(self.proc.stdout, self.stdout_lines), daemon=True),
                        threading.Thread(target=self._reader, args=(self.proc.stderr, self.stderr_lines), daemon=True)]
        for t in self.threads:
            t.start()
        self.wait_for(lambda: self.ports or self.proc.poll() is not None, 60, "listening line")
        if not self.ports:
            raise AssertionError("edgehook did not start: %s" % "\n".join(self.stderr_lines))
        self.port = self.ports[0]
        # checked once it is ready: a wrapper (chroot) has exec'd by then
        if expect_exe and not valgrind:
            check_exe(self.proc.pid, expect_exe)
        return self

    def wait_for(self, pred, timeout=20.0, what="condition"):
        # pred runs outside the lock: a pred that talks to edgehook must not
        # hold up the reader threads, or edgehook blocks on a full stderr
        # pipe and cannot answer it (a wakeup missed in between costs 0.1 s).
        deadline = time.time() + timeout
        while not pred():
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("timed out waiting for %s" % what)
            with self._cond:
                self._cond.wait(min(left, 0.1))

    def wait_stdout(self, n, timeout=20.0):
        self.wait_for(lambda: len(self.stdout_lines) >= n, timeout, "%d stdout lines" % n)
        return self.stdout_lines[:n]

    def wait_log(self, pattern, timeout=20.0, count=1):
        """The stderr lines matching pattern, once at least count have been
        read (stderr arrives through a pipe and a reader thread, so a state
        seen through the API can be ahead of its log line)."""
        rx = re.compile(pattern)
        self.wait_for(lambda: sum(1 for l in self.stderr_lines if rx.search(l)) >= count, timeout,
                      "%d log line(s) %s" % (count, pattern))
        return [l for l in self.stderr_lines if rx.search(l)]

    def sync(self):
        """A /healthz round trip on a new connection: bytes other clients
        sent before it have been read by the loop once it is answered
        (epoll reports them no later than this request)."""
        assert_eq(self.request("GET", "/healthz").status, 200, "sync request")

    def endpoints(self):
        """{name: endpoint status} from /api/v1/endpoints."""
        return {e["name"]: e for e in self.request("GET", "/api/v1/endpoints").json()["endpoints"]}

    def cpu_ns(self):
        """CPU time the process has used, in ns (schedstat, not ticks)."""
        with open("/proc/%d/schedstat" % self.proc.pid) as f:
            return int(f.read().split()[0])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("edgehook did not exit after SIGTERM")
        for t in self.threads:
            t.join(5)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        if exc_type is None and self.expect_exit is not None and rc != self.expect_exit:
            raise AssertionError("edgehook exited %s (expected %s); stderr:\n%s" %
                                 (rc, self.expect_exit, "\n".join(self.stderr_lines[-40:])))
        return False

    # ---- talking to it ----

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def request(self, method, path, body=b"", headers=None, version="HTTP/1.1"):
        """One request on a new connection; returns a Response."""
        s = self.connect()
        try:
            s.sendall(build_request(method, path, body, headers, version))
            return read_response(s)
        finally:
            s.close()


def build_request(method, path, body=b"", headers=None, version="HTTP/1.1"):
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": "127.0.0.1"}
    if body or method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None)
    return head.encode() + b"\r\n" + body


class Response:
    def __init__(self, status, headers, body, raw_head):
        self.status = status
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class Reader:
    """Buffered reads from a socket, keeping leftovers between responses."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_request or status < 200 else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return Response(status, headers, body, head)


def read_response(sock, head_request=False):
    return Reader(sock).read_response(head_request)


def is_closed(sock, timeout=3.0):
    """True when the peer closes (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def wait_until(pred, timeout=20.0, what="condition"):
    """Polls pred every 20 ms until it is true; raises after timeout. For
    events outside edgehook's output (files, /proc)."""
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.02)


def read_to_close(sock, timeout=10.0):
    """Every byte the peer sends until it closes; raises if it does not
    close within timeout. Unlike is_closed, nothing is thrown away."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data
    except socket.timeout:
        raise AssertionError("peer did not close within %.0fs (got %r)" % (timeout, data[:200]))


def barrier(eh, path="/webhooks/demo"):
    """Sends one request that emits an event and waits for its stdout line:
    edgehook handles connections in one loop, so whatever an earlier
    (already answered or closed) request would have emitted is on stdout
    by then. Returns the stdout lines before the barrier's own."""
    marker = "barrier-%d" % id(eh)
    r = eh.request("POST", path, ('{"barrier":"%s"}' % marker).encode())
    assert_eq(r.status, 202, "barrier request")
    eh.wait_for(lambda: any(marker in l for l in eh.stdout_lines), 30, "barrier event")
    lines = list(eh.stdout_lines)
    return [l for l in lines[:next(i for i, l in enumerate(lines) if marker in l)]]


def http_corpus():
    """The cases of tests/data/http_requests.txt as (expect, name, raw
    bytes); expect is "ok", "incomplete" or the status, as text."""
    cases = []
    with open(os.path.join(REPO, "tests", "data", "http_requests.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split(" | ")
            raw = parts[2].encode("latin-1").decode("unicode_escape").encode("latin-1")
            cases.append((parts[0], parts[1], raw))
    return cases


def write_script(d, name, text):
    """An executable file d/name holding text; its path."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, stat.S_IRWXU)
    return path


def assert_eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what or "values differ", a, b))


def assert_true(cond, what):
    if not cond:
        raise AssertionError(what)
