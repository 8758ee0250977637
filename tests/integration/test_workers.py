"""server.workers (issue 16 point 5): a supervisor and N single-threaded
workers accepting on their own SO_REUSEPORT sockets, with a real
redis-server for the cluster: section they need. Workers are found as
the server's children in /proc; /metrics says which worker answered."""
import os
import re
import signal
import threading
import tempfile

import json

import harness
import sinks
import test_cluster
import test_ops_systemd
from test_api_trust import unix_request
from harness import Edgehook, assert_eq, assert_true, run_cli
from redis_server import Redis


def workers_config(url, n=3, extra=""):
    return ("server:\n  workers: %s\n  drain_timeout: 5s\n"
            "cluster:\n  redis: %s\n  instance: wtest\n%s" % (n, url, extra))


def children(pid):
    """The server's child pids, read from /proc (all threads: one)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return sorted(int(p) for p in f.read().split())
    except FileNotFoundError:
        return []


def parent_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))


class Counted:
    """Requests on new connections (each one may land on any worker),
    counting every answer, so /metrics can be checked against it."""

    def __init__(self, eh):
        self.eh = eh
        self.answered = 0

    def request(self, method, path, **kw):
        r = self.eh.request(method, path, **kw)
        self.answered += 1
        return r

    def metrics(self):
        r = self.request("GET", "/metrics")
        assert_eq(r.status, 200, "/metrics")
        samples = {}
        for line in r.body.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples


def requests_total(samples):
    return sum(v for k, v in samples.items() if k.startswith("edgehook_requests_total{"))


def scraper(samples):
    """The worker index that answered this scrape."""
    for k in samples:
        m = re.match(r'edgehook_worker_scrape\{worker="(\d+)",pid="(\d+)"\}', k)
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AssertionError("no edgehook_worker_scrape sample")


def check_sums_from_every_worker(c, n):
    """Scrapes until each of the n workers has answered one with
    edgehook_requests_total equal to every request answered before it.
    Another worker's slot trails its answers by a few ms at most, so a
    scrape may see less for a moment, never more. Returns the pid that
    answered the last scrape (its own answer to it is counted after)."""
    exact = set()
    last = []

    def one():
        before = c.answered
        s = c.metrics()
        total = requests_total(s)
        assert_true(total <= before, "summed requests %d exceed the %d answered" % (total, before))
        last[:] = [scraper(s)[1]]
        if total == before:
            exact.add(scraper(s)[0])
        return len(exact) == n

    harness.wait_until(one, 60, "an exact sum from each of %d workers" % n)
    return last[0]


def test_workers_refused_without_cluster():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    for value in ("3", "auto"):
        path = os.path.join(d, "w.yaml")
        with open(path, "w") as f:
            f.write("log:\n  level: info\nserver:\n  workers: %s\n" % value)
        for args in (["--check"], ["-l", "127.0.0.1:0"]):
            p = run_cli(["-c", path] + args)
            assert_eq(p.returncode, 2, "workers: %s without cluster: (%s)" % (value, args[0]))
            assert_true(re.search(r"^%s:4: workers: more than one worker needs cluster:.*cluster mode" % re.escape(path),
                                  p.stderr, re.M), "file:line and why: %r" % p.stderr)
    for bad in ("0", "65", "many", "-1"):
        with open(path, "w") as f:
            f.write("server:\n  workers: %s\n" % bad)
        p = run_cli(["-c", path, "--check"])
        assert_eq(p.returncode, 2, "workers: %s" % bad)
        assert_true("%s:2: workers: expected" % path in p.stderr, "bounded: %r" % p.stderr)
    with open(path, "w") as f:
        f.write("server:\n  workers: 1\n")
    assert_eq(run_cli(["-c", path, "--check"]).returncode, 0, "one worker needs nothing")


def test_workers_refuse_a_shared_spool():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    path = os.path.join(d, "w.yaml")
    with open(path, "w") as f:
        f.write(workers_config("redis://127.0.0.1:1", 2, "spool:\n  dir: %s\n" % d))
    p = run_cli(["-c", path, "--check"])
    assert_eq(p.returncode, 2, "workers sharing spool.dir")
    assert_true(": cluster: spool.dir and cluster: exclude each other" in p.stderr, p.stderr)


def test_workers_spread_restart_and_drain():
    redis = Redis().start()
    try:
        eh = Edgehook(workers_config(redis.url())).start()
        try:
            c = Counted(eh)
            eh.wait_log(r"msg=\"workers serving\" workers=3")
            pids = children(eh.proc.pid)
            assert_eq(len(pids), 3, "three workers")
            for p in pids:
                assert_eq(parent_of(p), eh.proc.pid, "a worker is the server's child")
            eh.wait_log(r"msg=\"cluster mode\".* instance=wtest-w0", count=1)
            eh.wait_log(r"instance=wtest-w[012]", count=3)

            for _ in range(60):
                assert_eq(c.request("GET", "/healthz").status, 200, "served")
            s = c.metrics()
            per = [s['edgehook_worker_requests_total{worker="%d"}' % i] for i in range(3)]
            assert_true(all(n > 0 for n in per), "requests spread over the three workers: %s" % per)
            assert_eq(s["edgehook_workers"], 3, "workers gauge")
            # a worker publishes its counts within METRICS_SHM_PUBLISH_MS of
            # answering: the victim is one whose last answer a later exact
            # scrape has seen (a SIGKILL loses only what was not published)
            last = check_sums_from_every_worker(c, 3)
            victim = [p for p in pids if p != last][0]
            os.kill(victim, signal.SIGKILL)
            eh.wait_log(r"msg=\"worker exited: restarting\" worker=\d+ pid=%d status=\"signal 9\"" % victim)
            harness.wait_until(lambda: len(children(eh.proc.pid)) == 3 and victim not in children(eh.proc.pid),
                               30, "the killed worker replaced")
            # the replacement says it serves like any worker (the supervisor's line names workers=)
            eh.wait_log(r"msg=\"edgehook started\" version=\S+ worker=\d$", count=4)
            fresh = set(children(eh.proc.pid)) - set(pids)
            assert_eq(len(fresh), 1, "one new worker pid")
            for _ in range(30):
                assert_eq(c.request("GET", "/healthz").status, 200, "service continues")
            # the dead worker's counts were folded in: the sum did not go back
            check_sums_from_every_worker(c, 3)
            assert_eq(c.metrics()["edgehook_worker_restarts_total"], 1, "restart counted")

            now = children(eh.proc.pid)
            assert_eq(eh.stop(), 0, "drained and exited 0")
            eh.wait_log(r"msg=\"worker stopped\".*status=\"exit 0\"", count=3)
            left = [p for p in now if os.path.exists("/proc/%d" % p)]
            assert_eq(left, [], "no worker outlives the server")
        finally:
            eh.stop()
    finally:
        redis.close()


def test_workers_reload_reaches_every_worker():
    redis = Redis(appendonly=False).start()
    try:
        with Edgehook(workers_config(redis.url())) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            eh.write_config(workers_config(redis.url(), 2))
            eh.signal(signal.SIGHUP)
            eh.wait_log(r"msg=\"reload passed to the workers\"")
            eh.wait_log(r"msg=\"config reloaded\"", count=3)
            eh.wait_log(r"msg=\"reload: server.workers changes take effect after a restart\"", count=3)
            assert_eq(len(children(eh.proc.pid)), 3, "still three workers")
    finally:
        redis.close()


def test_workers_connection_queued_on_a_dead_worker_is_served():
    """The supervisor keeps every worker's socket: a connection queued on
    one whose worker died is accepted by the replacement, not reset."""
    redis = Redis(appendonly=False).start()
    try:
        with Edgehook(workers_config(redis.url(), 2)) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            pids = children(eh.proc.pid)
            for p in pids:
                os.kill(p, signal.SIGSTOP)
            s = eh.connect(timeout=60)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                for p in pids:
                    os.kill(p, signal.SIGKILL)
                r = harness.read_response(s)
                assert_eq(r.status, 200, "answered by a replacement")
            finally:
                s.close()
            eh.wait_log(r"msg=\"worker exited: restarting\"", count=2)
    finally:
        redis.close()


def test_workers_replacements_resume_what_the_killed_held():
    """Every worker holds deliveries (the endpoint does not answer yet)
    when all are killed -9; claim_after is 10 minutes, so only each
    replacement reading its predecessor's pending list (the same consumer
    name, <instance>-w<index>) delivers them."""
    redis = Redis().start()
    hold = [True]
    answered = []

    def behave(i, r):
        if hold[0]:
            return ("blackhole",)
        answered.append(r.header("webhook-id"))
        return ("status", 200, {})

    sink = sinks.Sink(behave)
    try:
        cfg = test_cluster.cluster_config(redis, sink.url(), "wtest", extra="server:\n  workers: 3\n",
                                          claim_after="10m")
        with Edgehook(cfg) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            test_cluster.wait_ready(eh)
            ids = []
            for _ in range(12):
                r = test_cluster.post(eh)
                assert_eq(r.status, 202, "accepted")
                ids.append(r.json()["id"])
            sink.wait(1 + len(ids))
            pending = redis.cmd("XPENDING", "edgehook:events", "edgehook:deliver")
            assert_eq(pending[0], 1 + len(ids), "every delivery held by a worker")
            assert_true(all(re.match(rb"wtest-w[012]$", name) for name, _ in pending[3]),
                        "one consumer per worker: %r" % pending[3])
            hold[0] = False
            for p in children(eh.proc.pid):
                os.kill(p, signal.SIGKILL)
            eh.wait_log(r"msg=\"worker exited: restarting\"", count=3)
            harness.wait_until(lambda: set(ids) <= set(answered), 60, "deliveries held by the killed workers")
    finally:
        sink.close()
        redis.close()


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))


def test_workers_ready_once_all_serve_privileges_dropped_in_workers():
    """READY=1 comes from the supervisor once every worker serves; the
    workers dropped root, the supervisor kept it to restart them alike."""
    redis = Redis(appendonly=False).start()
    ns = test_ops_systemd.NotifySocket(abstract=True)
    try:
        with Edgehook(workers_config(redis.url(), 2), args=["--user", "65534:65534"],
                      env={"NOTIFY_SOCKET": ns.env_value}) as eh:
            fields, uid, _ = ns.wait_for("READY")
            assert_eq(fields.get("READY"), "1")
            eh.wait_log(r"msg=\"workers serving\" workers=2")
            assert_eq(len(eh.wait_log(r"msg=\"dropped privileges\"", count=2)), 2, "each worker dropped root")
            pids = children(eh.proc.pid)
            assert_eq([uid_of(p) for p in pids], [65534, 65534], "workers run as the user")
            assert_eq(uid_of(eh.proc.pid), 0, "the supervisor keeps root")
            eh.signal(signal.SIGTERM)
            ns.wait_for("STOPPING")
    finally:
        ns.close()
        redis.close()


def test_workers_share_socket_activated_listeners():
    redis = Redis(appendonly=False).start()
    ls = test_ops_systemd.listening_socket()
    try:
        with test_ops_systemd.activated([ls], config=workers_config(redis.url(), 2)) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            inode = {os.fstat(ls.fileno()).st_ino}
            pids = children(eh.proc.pid)
            assert_eq(len(pids), 2, "two workers")
            for p in pids:
                assert_eq(test_ops_systemd.listening_inodes(p), inode, "a worker accepts on the passed socket only")
            assert_eq(test_ops_systemd.listening_inodes(eh.proc.pid), inode, "the supervisor bound nothing")
            for _ in range(10):
                assert_eq(eh.request("GET", "/healthz").status, 200, "served")
    finally:
        ls.close()
        redis.close()


def test_workers_first_worker_failing_stops_the_start():
    """A worker that cannot start (its TLS key is missing: only workers
    load it) stops the start with its exit code, leaving no worker."""
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    path = os.path.join(d, "w.yaml")
    with open(path, "w") as f:
        f.write("server:\n  workers: 2\n  tls: {cert: %s/none.pem, key: %s/none.key}\n"
                "cluster:\n  redis: redis://127.0.0.1:1\n  instance: wtest\n" % (d, d))
    p = run_cli(["-c", path, "-l", "127.0.0.1:0"])
    assert_eq(p.returncode, 2, "the worker's exit code")
    assert_true("msg=\"worker failed to start: stopping\"" in p.stderr, p.stderr)
    started = [int(x) for x in re.findall(r"msg=\"worker started\" worker=\d+ pid=(\d+)", p.stderr)]
    assert_eq(len(started), 2, "two workers were started")
    assert_eq([q for q in started if os.path.exists("/proc/%d" % q)], [], "none left running")


def test_workers_share_one_api_unix_socket_removed_at_exit():
    redis = Redis(appendonly=False).start()
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    path = os.path.join(d, "api.sock")
    try:
        with Edgehook(workers_config(redis.url(), 2, "api:\n  listen: unix:%s\n" % path)) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            assert_eq(oct(os.stat(path).st_mode & 0o777), "0o600", "the socket file's mode")
            for _ in range(6):
                assert_eq(unix_request(path, "GET", "/api/v1/triggers").status, 200, "the API over the socket")
            eh.wait_log(r"msg=\"listening for the API\" addr=unix:%s worker=\d" % re.escape(path), count=2)
        assert_true(not os.path.exists(path), "the supervisor removed the socket file")
    finally:
        redis.close()


def test_workers_stop_when_the_supervisor_is_killed():
    """PR_SET_PDEATHSIG: a supervisor killed -9 leaves no worker behind
    (each gets TERM and drains)."""
    redis = Redis(appendonly=False).start()
    try:
        eh = Edgehook(workers_config(redis.url(), 2), expect_exit=None).start()
        try:
            eh.wait_log(r"msg=\"workers serving\"")
            pids = children(eh.proc.pid)
            eh.proc.kill()
            eh.proc.wait()
            eh.wait_log(r"msg=stopped worker=\d", count=2, timeout=30)


            harness.wait_until(lambda: not any(harness.proc_alive(p) for p in pids), 30, "workers exited")
        finally:
            eh.stop()
    finally:
        redis.close()


def test_workers_under_load_one_killed_every_202_delivered():
    """30 producers post events and signed GitHub deliveries (each sent
    twice: the redelivery lands on any worker) to workers: 3; one worker
    is killed -9 mid-load. Every 202 is delivered, no redelivery is
    accepted twice, duplicates stay bounded."""
    redis = Redis().start()
    sink = sinks.Sink()
    events, deliveries, twice = [], [], []
    lock = threading.Lock()

    def producer(p):
        for i in range(10):
            try:
                if i % 2 == 0:
                    r = test_cluster.post(eh, b'{"event":"load","p":%d,"i":%d}' % (p, i))
                    if r.status == 202:
                        with lock:
                            events.append(r.json()["id"])
                    continue
                d = "p%d-%d" % (p, i)
                body = b'{"ref":"refs/heads/main","d":"%s"}' % d.encode()
                if test_cluster.gh_post(eh, d, body).status == 202:
                    with lock:
                        deliveries.append(d)
                    if test_cluster.gh_post(eh, d, body).status == 202:
                        twice.append(d)
            except (OSError, EOFError):
                pass  # a connection of the killed worker: no 202 was given

    try:
        cfg = test_cluster.cluster_config(redis, sink.url(), "wtest",
                                          extra=test_cluster.GH_TRIGGER + "server:\n  workers: 3\n")
        with Edgehook(cfg) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            test_cluster.wait_ready(eh)
            threads = [threading.Thread(target=producer, args=(p,)) for p in range(30)]
            for t in threads:
                t.start()
            harness.wait_until(lambda: len(events) + len(deliveries) >= 60, 60, "load under way")
            os.kill(children(eh.proc.pid)[0], signal.SIGKILL)
            for t in threads:
                t.join(120)
            eh.wait_log(r"msg=\"worker exited: restarting\"")
            assert_true(len(events) + len(deliveries) >= 200, "most posts accepted: %d" % (len(events) + len(deliveries)))
            assert_eq(twice, [], "a redelivery accepted as new")
            test_cluster.wait_delivered(sink, events, 120, "accepted events delivered")

            def emitted():
                with sink.lock:
                    return [json.loads(q.body)["delivery_id"] for q in sink.requests
                            if b'"resource_type":"trigger"' in q.body]
            harness.wait_until(lambda: set(deliveries) <= set(emitted()), 120, "accepted GitHub deliveries emitted")
            # a repeat is a delivery the killed worker had sent but not yet
            # acknowledged: once at most, and only within its share
            ids = test_cluster.delivered_ids(sink)
            most = max(ids.count(i) for i in set(ids))
            extra = len(ids) - len(set(ids))
            assert_true(most <= 2 and extra <= len(set(ids)) // 3,
                        "duplicates bounded: %d repeats, one id %d times" % (extra, most))
    finally:
        sink.close()
        redis.close()


def test_workers_runtime_trigger_put_on_one_served_by_every_worker():
    """Runtime triggers live in each worker's memory; cluster mode is how
    a PUT answered by one worker reaches the others."""
    redis = Redis(appendonly=False).start()
    sink = sinks.Sink()
    try:
        cfg = test_cluster.cluster_config(redis, sink.url(), "wtest", extra="server:\n  workers: 3\n")
        with Edgehook(cfg) as eh:
            eh.wait_log(r"msg=\"workers serving\"")
            test_cluster.wait_ready(eh)
            r = eh.request("PUT", "/api/v1/triggers/rt", b'{"emit":true}')
            assert_eq(r.status, 201, "registered on one worker")
            served = set()

            def one_connection():
                """A scrape then the GET on one connection: one worker."""
                sock = eh.connect()
                try:
                    reader = harness.Reader(sock)
                    sock.sendall(harness.build_request("GET", "/metrics"))
                    m = re.search(rb'edgehook_worker_scrape\{worker="(\d+)"', reader.read_response().body)
                    sock.sendall(harness.build_request("GET", "/api/v1/triggers/rt"))
                    if reader.read_response().status == 200:
                        served.add(int(m.group(1)))
                finally:
                    sock.close()
                return len(served) == 3

            harness.wait_until(one_connection, 60, "the trigger served by every worker")
    finally:
        sink.close()
        redis.close()
