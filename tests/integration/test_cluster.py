"""Cluster mode on Redis Streams (issue 16): a real redis-server with AOF
(redis_server.py), several edgehook instances, sinks; kill -9 of
instances and of Redis under load; a hostile fake Redis."""
import hashlib
import hmac
import json
import os
import re
import random
import signal
import socket
import tempfile
import threading
import time

import harness
import pki
import sinks
from harness import Edgehook, assert_eq, assert_true
from redis_server import FakeRedis, Redis


def cluster_config(redis, url, instance, extra="", claim_after="1s", timeout="30s"):
    return ("webhook:\n  retries: 20\n  backoff: 200ms\n  max_backoff: 1s\n  timeout: %s\n"
            "  endpoints:\n    - name: sink\n      url: %s\n"
            "cluster:\n  redis: %s\n  instance: %s\n  claim_after: %s\n  timeout: 2s\n%s"
            % (timeout, url, redis.url(), instance, claim_after, extra))


def post(eh, body=b'{"event":"order.created"}'):
    return eh.request("POST", "/api/v1/events", body=body, headers={"Content-Type": "application/json"})


def delivered_ids(sink):
    with sink.lock:
        return [r.header("webhook-id") for r in sink.requests]


def wait_delivered(sink, ids, timeout=60, what="accepted events delivered"):
    ids = set(ids)
    deadline = time.time() + timeout
    while not ids <= set(delivered_ids(sink)):
        if time.time() > deadline:
            missing = ids - set(delivered_ids(sink))
            raise AssertionError("%s: %d of %d missing, e.g. %s" % (what, len(missing), len(ids), sorted(missing)[:3]))
        with sink.cond:
            sink.cond.wait(0.2)


def wait_ready(eh):
    """Ingest answers 202 once the instance is connected to Redis."""
    harness.wait_until(lambda: post(eh, b'{"event":"warmup"}').status == 202, 30, "ingest through redis")


def stream_len(redis):
    return redis.cmd("XLEN", "edgehook:events")


def test_cluster_event_is_in_redis_before_the_202_and_delivered_once():
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a")) as eh:
            wait_ready(eh)
            ids = []
            for i in range(20):
                r = post(eh, ('{"event":"order.created","n":%d}' % i).encode())
                assert_eq(r.status, 202, "accepted")
                ids.append(r.json()["id"])
            wait_delivered(sink, ids)
            got = delivered_ids(sink)
            for i in ids:
                assert_eq(got.count(i), 1, "delivered exactly once with its own webhook-id")
            body = [json.loads(r.body) for r in sink.requests if r.header("webhook-id") == ids[3]][0]
            assert_eq(body["n"], 3, "the body as posted")
            # settled entries are acknowledged and deleted: the stream holds only undelivered events
            harness.wait_until(lambda: stream_len(redis) == 0, 20, "stream emptied")
            assert_eq(redis.cmd("XPENDING", "edgehook:events", "edgehook:deliver")[0], 0, "nothing pending")
    finally:
        sink.close()
        redis.close()


def test_cluster_redis_stopped_answers_503_never_202_and_resumes():
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a")) as eh:
            wait_ready(eh)
            redis.stop()
            for _ in range(5):
                t0 = time.time()
                r = post(eh)
                assert_eq(r.status, 503, "no durable copy, no 202")
                assert_eq(r.header("retry-after"), "1", "Retry-After")
                assert_true(time.time() - t0 < 5, "answered within the request timeout")
            redis.start()
            wait_ready(eh)
            r = post(eh)
            assert_eq(r.status, 202, "accepted again")
            wait_delivered(sink, [r.json()["id"]])
    finally:
        sink.close()
        redis.close()


def test_cluster_instance_killed_its_deliveries_are_taken_over():
    """a holds 10 deliveries (its endpoint never answers) and is killed
    -9; b, on the same stream, claims them after claim_after and delivers
    them with their own webhook-id."""
    redis = Redis().start()
    hole = sinks.Sink(lambda i, r: ("blackhole",))
    sink = sinks.Sink()
    try:
        a = Edgehook(cluster_config(redis, hole.url(), "a")).start()
        wait_ready(a)
        ids = [post(a).json()["id"] for _ in range(10)]
        hole.wait(11)  # warmup + 10, all held by a
        a.proc.kill()
        a.proc.wait()
        with Edgehook(cluster_config(redis, sink.url(), "b")) as b:
            wait_delivered(sink, ids, 60, "deliveries of the killed instance")
            b.wait_log(r"taken over from a silent instance")
    finally:
        hole.close()
        sink.close()
        redis.close()


def test_cluster_restarted_instance_resumes_its_own_pending_at_once():
    redis = Redis().start()
    hole = sinks.Sink(lambda i, r: ("blackhole",))
    sink = sinks.Sink()
    try:
        a = Edgehook(cluster_config(redis, hole.url(), "a", claim_after="10m")).start()
        wait_ready(a)
        ids = [post(a).json()["id"] for _ in range(5)]
        hole.wait(6)
        a.proc.kill()
        a.proc.wait()
        # claim_after is 10 minutes: only reading its own pending list delivers these now
        with Edgehook(cluster_config(redis, sink.url(), "a", claim_after="10m")):
            wait_delivered(sink, ids, 30, "pending entries of the previous life")
    finally:
        hole.close()
        sink.close()
        redis.close()


def test_cluster_lost_group_is_recreated_not_looped_on():
    """Redis loses its data (FLUSHALL stands for a restart without AOF):
    the reader gets NOGROUP, recreates the group with MKSTREAM and goes on."""
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a")) as eh:
            wait_ready(eh)
            redis.cmd("FLUSHALL")
            eh.wait_log(r"consumer group missing", 30)
            eh.wait_log(r"consumer group created", 30, count=2)
            r = post(eh)
            assert_eq(r.status, 202, "accepted after the group came back")
            wait_delivered(sink, [r.json()["id"]])
            assert_true(len(eh.wait_log(r"consumer group missing")) < 5, "no loop on NOGROUP")
    finally:
        sink.close()
        redis.close()


def metric(eh, name):
    m = eh.request("GET", "/metrics").body.decode()
    return int(re.search(r"^%s (\d+)$" % re.escape(name), m, re.M).group(1))


@harness.serial
def test_cluster_hostile_redis_clear_errors_no_crash_no_busy_loop():
    """Against a fake Redis that answers garbage, stalls, sends half a
    reply or refuses everything: ingest answers 503 within the command
    timeout, the log says why, the process lives, and the Redis calls it
    makes while failing are bounded by the backoff (a busy loop would
    make thousands of reads and connects in the same window)."""
    for mode, log in (("garbage", r"protocol error|malformed reply"), ("stall", r"timeout"),
                      ("partial", r"timeout"), ("error", r"ERR nope")):
        fake = FakeRedis(mode)
        sink = sinks.Sink()
        try:
            cfg = cluster_config(fake, sink.url(), "a").replace("timeout: 2s", "timeout: 1s")
            with Edgehook(cfg) as eh:
                t0 = time.time()
                r = post(eh)
                assert_eq(r.status, 503, "%s: no 202 without Redis" % mode)
                assert_true(time.time() - t0 < 10, "%s: answered within the request timeout" % mode)
                eh.wait_log(log, 20)
                before = (metric(eh, "edgehook_cluster_reads_total"), metric(eh, "edgehook_cluster_redis_connects_total"),
                          fake.connections)
                w0 = time.time()
                eh.wait_log(r"redis", 5)
                harness.wait_until(lambda: time.time() - w0 >= 3, 10, "a 3 s window")
                after = (metric(eh, "edgehook_cluster_reads_total"), metric(eh, "edgehook_cluster_redis_connects_total"),
                         fake.connections)
                window = time.time() - w0
                # the backoff floor is 100 ms per step: at most ~10 per second each
                bound = int(window * 10 * 2) + 10
                for what, a, b in zip(("reads", "connects", "accepted connections"), before, after):
                    assert_true(b - a <= bound, "%s: %d %s in %.1fs: busy loop" % (mode, b - a, what, window))
                assert_eq(eh.request("GET", "/healthz").status, 200, "%s: still serving" % mode)
        finally:
            sink.close()
            fake.close()


def producer(ports, stop, accepted, lock):
    """Posts to random instances until stopped; records every 202's id."""
    conns = {}
    while not stop.is_set():
        port = random.choice(ports)
        try:
            if port not in conns:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                conns[port] = (s, harness.Reader(s))
            s, reader = conns[port]
            s.sendall(harness.build_request("POST", "/api/v1/events", b'{"event":"load.tick"}',
                                            {"Content-Type": "application/json"}))
            r = reader.read_response()
            if r.status == 202:
                with lock:
                    accepted.add(r.json()["id"])
        except (OSError, EOFError, ValueError, AssertionError):
            conn = conns.pop(port, None)
            if conn:
                conn[0].close()
            time.sleep(0.01)  # the instance is down: try another one
    for s, _ in conns.values():
        s.close()


@harness.timeout(300)
def test_cluster_three_instances_kill_9_and_redis_restart_lose_no_accepted_event():
    """3 instances and a sink; 12 producers post to random instances; one
    instance is killed -9 mid-load and restarted, then Redis itself is
    killed -9 and restarted from its AOF. Every event that got a 202 is
    delivered at least once; duplicates stay bounded."""
    redis = Redis().start()
    sink = sinks.Sink()
    names = ["a", "b", "c"]
    ehs = {}
    accepted, lock = set(), threading.Lock()
    try:
        for n in names:
            ehs[n] = Edgehook(cluster_config(redis, sink.url(), n)).start()
        for eh in ehs.values():
            wait_ready(eh)
        stop = threading.Event()
        ports = [eh.port for eh in ehs.values()]
        threads = [threading.Thread(target=producer, args=(ports, stop, accepted, lock)) for _ in range(12)]
        for t in threads:
            t.start()
        harness.wait_until(lambda: len(accepted) >= 300, 60, "300 accepted events")
        victim = ehs["b"]
        victim.proc.kill()
        victim.proc.wait()
        harness.wait_until(lambda: len(accepted) >= 600, 60, "600 accepted events")
        ehs["b"] = Edgehook(cluster_config(redis, sink.url(), "b")).start()
        harness.wait_until(lambda: len(accepted) >= 900, 60, "900 accepted events")
        redis.kill()
        ehs["a"].wait_log(r"redis connection failed", 20)
        redis.start()
        for eh in ehs.values():
            wait_ready(eh)
        target = len(accepted) + 200
        harness.wait_until(lambda: len(accepted) >= target, 60, "accepted after the Redis restart")
        stop.set()
        for t in threads:
            t.join(30)
        wait_delivered(sink, accepted, 120, "events accepted under kills")
        got = [i for i in delivered_ids(sink) if i in accepted]
        dups = len(got) - len(set(got))
        print("accepted %d delivered %d duplicates %d" % (len(accepted), len(got), dups))
        assert_true(dups <= len(accepted) // 4, "%d duplicates for %d events" % (dups, len(accepted)))
    finally:
        stop.set()
        for eh in ehs.values():
            if eh.proc.poll() is None:
                eh.stop()
        sink.close()
        redis.close()


GH_SECRET = "It's a Secret to Everybody"
GH_TRIGGER = "triggers:\n  - id: gh\n    kind: github\n    secret: \"%s\"\n    emit: true\n" % GH_SECRET


def gh_post(eh, delivery, body):
    sig = "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return eh.request("POST", "/webhooks/gh", body, {"X-Hub-Signature-256": sig, "X-GitHub-Event": "push",
                                                     "X-GitHub-Delivery": delivery,
                                                     "Content-Type": "application/json"})


def test_cluster_github_redelivery_to_another_instance_is_a_duplicate():
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a", GH_TRIGGER)) as a, \
                Edgehook(cluster_config(redis, sink.url(), "b", GH_TRIGGER)) as b:
            wait_ready(a)
            wait_ready(b)
            body = b'{"ref":"refs/heads/main","n":1}'
            r = gh_post(a, "d-1", body)
            assert_eq(r.status, 202, "first delivery accepted")
            r = gh_post(b, "d-1", body)
            assert_eq(r.status, 200, "GitHub's redelivery to the other instance")
            assert_eq(r.json()["status"], "duplicate", "recognised as a duplicate")
            assert_eq(gh_post(b, "d-2", body).status, 202, "a new delivery on b")

            def events():
                with sink.lock:
                    return [json.loads(q.body) for q in sink.requests if b'"resource_type":"trigger"' in q.body]
            harness.wait_until(lambda: len(events()) >= 2, 30, "both trigger events delivered")
            assert_eq(sorted(e["delivery_id"] for e in events()), ["d-1", "d-2"], "d-1 emitted once, d-2 once")
    finally:
        sink.close()
        redis.close()


def test_cluster_runtime_trigger_registered_on_one_instance_is_served_by_all():
    redis = Redis().start()
    sink = sinks.Sink()
    ehs = []
    try:
        ehs = [Edgehook(cluster_config(redis, sink.url(), n)).start() for n in ("a", "b", "c")]
        for eh in ehs:
            wait_ready(eh)
        r = ehs[0].request("PUT", "/api/v1/triggers/rt", b'{"emit":true,"description":"shared"}')
        assert_eq(r.status, 201, "registered on a")
        for eh in ehs[1:]:
            harness.wait_until(lambda: eh.request("GET", "/api/v1/triggers/rt").status == 200, 5,
                               "the trigger announced to instance %d" % eh.port)
            assert_eq(eh.request("GET", "/api/v1/triggers/rt").json()["description"], "shared", "same definition")
        r = ehs[2].request("POST", "/webhooks/rt", b'{"x":1}', {"Content-Type": "application/json"})
        assert_eq(r.status, 202, "served by c")

        def trigger_events():
            with sink.lock:
                return [q for q in sink.requests if b'"resource_id":"rt"' in q.body]
        harness.wait_until(lambda: len(trigger_events()) == 1, 30, "the event of the shared trigger")
        r = ehs[1].request("DELETE", "/api/v1/triggers/rt")
        assert_eq(r.status, 200, "deleted on b")
        for eh in (ehs[0], ehs[2]):
            harness.wait_until(lambda: eh.request("GET", "/api/v1/triggers/rt").status == 404, 5,
                               "the deletion announced")
    finally:
        for eh in ehs:
            eh.stop()
        sink.close()
        redis.close()


# test-only: the safety poll of the API trigger version, so long here that
# only the PUBLISH of a change can have told the other instance in time
SLOW_TRIGGER_POLL = {"EDGEHOOK_TEST_TRIGGER_POLL_MS": "600000"}


def test_cluster_runtime_trigger_is_announced_by_pub_sub():
    """b polls the trigger version only every 10 minutes: a trigger PUT on
    a reaches it through pub/sub (the issue says within a second; the
    deadline is generous, the poll is 600 times longer). After a Redis
    restart b re-subscribes by itself and a DELETE reaches it the same way."""
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a"), env=SLOW_TRIGGER_POLL) as a, \
                Edgehook(cluster_config(redis, sink.url(), "b"), env=SLOW_TRIGGER_POLL) as b:
            wait_ready(a)
            wait_ready(b)
            b.wait_log(r"cluster: trigger announcements subscribed")
            r = a.request("PUT", "/api/v1/triggers/rt", b'{"emit":true,"description":"announced"}')
            assert_eq(r.status, 201, "registered on a")
            harness.wait_until(lambda: b.request("GET", "/api/v1/triggers/rt").status == 200, 10,
                               "the trigger announced to b")
            redis.kill()
            redis.start()
            wait_ready(a)
            wait_ready(b)
            b.wait_log(r"cluster: trigger announcements subscribed", 30, count=2)
            r = a.request("DELETE", "/api/v1/triggers/rt")
            assert_eq(r.status, 200, "deleted on a")
            harness.wait_until(lambda: b.request("GET", "/api/v1/triggers/rt").status == 404, 10,
                               "the deletion announced to b")
    finally:
        sink.close()
        redis.close()


def test_cluster_event_status_answers_on_every_instance():
    """The event is delivered by whichever instance reads it; its status
    (GET /api/v1/events/{id}) answers on all of them from the shared hash."""
    redis = Redis().start()
    refused = []

    def once_503(i, r):
        if b"order.paid" in r.body and not refused:
            refused.append(i)
            return ("status", 503, {})
        return ("status", 200, {})
    sink = sinks.Sink(once_503)
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a")) as a, \
                Edgehook(cluster_config(redis, sink.url(), "b")) as b:
            wait_ready(a)
            wait_ready(b)
            r = post(a, b'{"event":"order.paid"}')
            evid = r.json()["id"]
            wait_delivered(sink, [evid])
            for eh in (a, b):
                def delivered():
                    s = eh.request("GET", "/api/v1/events/" + evid)
                    return s.status == 200 and s.json()["deliveries"] and \
                        s.json()["deliveries"][0]["state"] == "delivered"
                harness.wait_until(delivered, 10, "status of %s on instance %d" % (evid, eh.port))
                st = eh.request("GET", "/api/v1/events/" + evid).json()
                assert_eq(st["event"], "order.paid", "event type")
                assert_eq(st["deliveries"][0]["attempts"], 2, "one 503, then delivered")
            assert_eq(a.request("GET", "/api/v1/events/evt_unknown").status, 404, "unknown id")
    finally:
        sink.close()
        redis.close()


def test_cluster_over_rediss_verifies_the_server():
    """rediss:// goes through our BearSSL client: the certificate is
    checked against cluster.ca_file and the URL's host; a Redis whose
    certificate another CA signed is refused (and ingest answers 503)."""
    redis = Redis(tls=(pki.path("server.pem"), pki.path("server.key"))).start()
    sink = sinks.Sink()
    try:
        ca = "  ca_file: %s\n" % pki.path("ca.pem")
        with Edgehook(cluster_config(redis, sink.url(), "a", ca).replace("rediss://127.0.0.1", "rediss://localhost")) as eh:
            wait_ready(eh)
            r = post(eh)
            assert_eq(r.status, 202, "stored over TLS")
            wait_delivered(sink, [r.json()["id"]])
        other = "  ca_file: %s\n" % pki.path("other-ca.pem")
        with Edgehook(cluster_config(redis, sink.url(), "b", other)) as eh:
            eh.wait_log(r"redis connection failed.*(unknown CA|tls)", 20)
            assert_eq(post(eh).status, 503, "no 202 over an unverified connection")
    finally:
        sink.close()
        redis.close()


def test_cluster_open_breaker_is_open_on_every_instance():
    """a's breaker opens on its own failures; b, started afterwards and
    never attempting the endpoint, shows it open within a second."""
    redis = Redis().start()
    sink = sinks.Sink(lambda i, r: ("status", 503, {}))
    extra = "  breaker:\n    failures: 2\n    cooldown: 60s\n"
    try:
        cfg = lambda n: cluster_config(redis, sink.url(), n).replace("  timeout: 30s\n", "  timeout: 30s\n" + extra, 1)
        with Edgehook(cfg("a")) as a:
            wait_ready(a)
            harness.wait_until(lambda: a.endpoints()["sink"]["breaker"] == "open", 20, "a's breaker open")
            attempts = len(sink.requests)
            with Edgehook(cfg("b")) as b:
                harness.wait_until(lambda: b.endpoints()["sink"]["breaker"] == "open", 5, "b's breaker open")
                b.wait_log(r"breaker opened by another instance")
                assert_eq(b.endpoints()["sink"]["failed"] if "failed" in b.endpoints()["sink"] else 0, 0,
                          "b never failed an attempt itself")
            assert_eq(len(sink.requests), attempts, "no attempt while the breaker is open")
    finally:
        sink.close()
        redis.close()


def run_trigger(script):
    return "triggers:\n  - {id: job, run: {command: %s, args: [\"{delivery}\"], allow_root: true}}\n" % script


def lifecycle(sink, kind):
    with sink.lock:
        return [json.loads(q.body) for q in sink.requests if ('"event":"%s"' % kind).encode() in q.body]


def test_cluster_trigger_run_executes_once_on_the_reading_instance():
    redis = Redis().start()
    sink = sinks.Sink()
    d = tempfile.mkdtemp(prefix="edgehook-runs-")
    script = harness.write_script(d, "job.sh", "#!/bin/sh\necho \"$1\" >> %s/ran\n" % d)
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a", run_trigger(script))) as a, \
                Edgehook(cluster_config(redis, sink.url(), "b", run_trigger(script))) as b:
            wait_ready(a)
            wait_ready(b)
            run_ids = []
            for i in range(6):
                r = (a, b)[i % 2].request("POST", "/webhooks/job", b'{"n":%d}' % i, {"X-Request-Id": "req-%d" % i})
                assert_eq(r.status, 202, "accepted")
                run_ids.append(r.json()["run_id"])
            harness.wait_until(lambda: len(lifecycle(sink, "run.completed")) >= 6, 30, "6 runs completed")
            done = sorted(e["resource_id"] for e in lifecycle(sink, "run.completed"))
            assert_eq(done, sorted(run_ids), "each run under the id its 202 gave, once")
            with open(os.path.join(d, "ran")) as f:
                assert_eq(len(f.read().split()), 6, "six commands ran in all")
    finally:
        sink.close()
        redis.close()


def test_cluster_run_interrupted_by_a_kill_is_reported_not_repeated():
    """a starts a long run and is killed -9; b takes the entry over after
    claim_after and reports run.failed "interrupted" instead of running
    the command a second time."""
    redis = Redis().start()
    sink = sinks.Sink()
    d = tempfile.mkdtemp(prefix="edgehook-runs-")
    script = harness.write_script(d, "job.sh", "#!/bin/sh\necho $$ > %s/pid\necho started >> %s/ran\nexec sleep 60\n" % (d, d))
    try:
        a = Edgehook(cluster_config(redis, sink.url(), "a", run_trigger(script))).start()
        wait_ready(a)
        r = a.request("POST", "/webhooks/job", b'{}')
        assert_eq(r.status, 202, "accepted")
        run_id = r.json()["run_id"]
        harness.wait_until(lambda: os.path.exists(os.path.join(d, "ran")), 20, "the run started on a")
        a.proc.kill()
        a.proc.wait()
        with Edgehook(cluster_config(redis, sink.url(), "b", run_trigger(script))) as b:
            harness.wait_until(lambda: [e for e in lifecycle(sink, "run.failed") if e["resource_id"] == run_id], 30,
                               "run.failed for the interrupted run")
            failed = [e for e in lifecycle(sink, "run.failed") if e["resource_id"] == run_id][0]
            assert_eq(failed["error"], "interrupted", "reported as interrupted")
            b.wait_log(r"run failed.*interrupted")
        with open(os.path.join(d, "ran")) as f:
            assert_eq(f.read().split(), ["started"], "not run a second time")
    finally:
        kill_pid_file(os.path.join(d, "pid"))  # the orphaned command of the killed instance
        sink.close()
        redis.close()


def blocking_job(d):
    """A trigger with concurrency 1 whose command appends its delivery id
    to d/ran and, while d/block exists, blocks (its pid in d/pid)."""
    block = os.path.join(d, "block")
    script = harness.write_script(
        d, "job.sh", "#!/bin/sh\necho \"$1\" >> %s/ran\nif [ -e %s ]; then echo $$ > %s/pid; exec sleep 60; fi\n"
        % (d, block, d))
    open(block, "w").close()
    return block, ("triggers:\n  - {id: job, run: {command: %s, args: [\"{delivery}\"], concurrency: 1,"
                   " allow_root: true}}\n" % script)


def one_running_one_queued(a, d):
    """The first delivery runs (blocked), the second waits behind it."""
    first = a.request("POST", "/webhooks/job", b'{}', {"X-Request-Id": "dlv-first"})
    assert_eq(first.status, 202, "first accepted")
    harness.wait_until(lambda: os.path.exists(os.path.join(d, "pid")), 20, "the first run started")
    second = a.request("POST", "/webhooks/job", b'{}', {"X-Request-Id": "dlv-second"})
    assert_eq(second.status, 202, "second accepted")
    queued = second.json()["run_id"]
    harness.wait_until(lambda: a.request("GET", "/api/v1/runs/" + queued).status == 200, 20, "the second run read")
    assert_eq(a.request("GET", "/api/v1/runs/" + queued).json()["state"], "queued", "behind the first")
    return first.json()["run_id"], queued


def kill_pid_file(path):
    try:
        with open(path) as f:
            os.kill(int(f.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def test_cluster_queued_run_of_a_killed_instance_runs_once_elsewhere():
    """a accepts two deliveries of a trigger with concurrency 1: the first
    runs (its command blocks), the second waits in a's queue. a is killed
    -9; b takes both entries over. The first had started: it is reported
    run.failed "interrupted" and not run again. The second never started:
    b runs it, exactly once (each command appends its delivery id)."""
    redis = Redis().start()
    sink = sinks.Sink()
    d = tempfile.mkdtemp(prefix="edgehook-runs-")
    block, trig = blocking_job(d)
    try:
        a = Edgehook(cluster_config(redis, sink.url(), "a", trig)).start()
        wait_ready(a)
        started, queued = one_running_one_queued(a, d)
        assert_eq(redis.cmd("GET", "edgehook:started:" + started), b"a",
                  "the running run was marked started (by a) before its command spawned")
        assert_eq(redis.cmd("EXISTS", "edgehook:started:" + queued), 0, "the queued one was not")
        a.proc.kill()
        a.proc.wait()
        os.unlink(block)
        with Edgehook(cluster_config(redis, sink.url(), "b", trig)) as b:
            harness.wait_until(lambda: [e for e in lifecycle(sink, "run.completed") if e["resource_id"] == queued],
                               30, "the queued run completed on b")
            harness.wait_until(lambda: [e for e in lifecycle(sink, "run.failed")
                                        if e["resource_id"] == started], 30,
                               "run.failed for the interrupted run")
            failed = [e for e in lifecycle(sink, "run.failed") if e["resource_id"] == started][0]
            assert_eq(failed["error"], "interrupted", "the started run is reported interrupted")
            assert_eq([e for e in lifecycle(sink, "run.failed") if e["resource_id"] == queued], [],
                      "the queued run did not fail")
            harness.wait_until(lambda: redis.cmd("XLEN", "edgehook:events") == 0, 30, "both entries settled")
            assert_eq(redis.cmd("KEYS", "edgehook:started:*"), [], "the marks went with their entries")
            b.wait_log(r"run failed.*interrupted")
        with open(os.path.join(d, "ran")) as f:
            assert_eq(f.read().split(), ["dlv-first", "dlv-second"], "each command ran once")
    finally:
        kill_pid_file(os.path.join(d, "pid"))  # the orphaned command of the killed instance
        sink.close()
        redis.close()


def test_cluster_run_never_spawns_without_its_mark_in_redis():
    """Redis is stopped while a run waits for its turn; when its turn
    comes, the mark cannot be stored: the run fails unstarted, saying
    so, and its command never runs."""
    redis = Redis().start()
    sink = sinks.Sink()
    d = tempfile.mkdtemp(prefix="edgehook-runs-")
    block, trig = blocking_job(d)
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a", trig)) as a:
            wait_ready(a)
            _, queued = one_running_one_queued(a, d)
            redis.stop()
            kill_pid_file(os.path.join(d, "pid"))  # the first run ends: the second's turn
            harness.wait_until(lambda: a.request("GET", "/api/v1/runs/" + queued).json()["state"] == "failed", 30,
                               "the queued run failed")
            assert_true("could not be recorded" in a.request("GET", "/api/v1/runs/" + queued).json()["error"],
                        "the reason is given")
            a.wait_log(r"run-start mark not stored")
        with open(os.path.join(d, "ran")) as f:
            assert_eq(f.read().split(), ["dlv-first"], "the second command never ran")
    finally:
        kill_pid_file(os.path.join(d, "pid"))
        sink.close()
        redis.close()


def test_cluster_live_instance_keeps_what_it_holds():
    """a holds 600 deliveries (more than one XCLAIM batch) to an endpoint
    that never answers; b, started next to it with claim_after 1s, looks
    for silent instances' entries many times over and takes none: a
    re-claims what it holds every claim_after/3."""
    redis = Redis().start()
    hole = sinks.Sink(lambda i, r: ("blackhole",))
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, hole.url(), "a")) as a:
            wait_ready(a)
            events = [{"event": "held", "n": i} for i in range(600)]
            assert_eq(post(a, json.dumps(events).encode()).status, 202, "600 events accepted")
            harness.wait_until(lambda: metric(a, "edgehook_cluster_entries_total") >= 601, 30, "a read them all")
            with Edgehook(cluster_config(redis, sink.url(), "b")) as b:
                harness.wait_until(lambda: metric(b, "edgehook_cluster_claim_calls_total") >= 16, 30,
                                   "b looked for silent instances' entries for 4 s (claim_after 1s)")
                assert_eq(metric(b, "edgehook_cluster_claimed_total"), 0, "nothing taken from a live instance")
                assert_eq(len(sink.requests), 0, "b delivered none of a's events")
    finally:
        hole.close()
        sink.close()
        redis.close()


def test_cluster_reload_keeps_the_running_cluster_and_says_so():
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a")) as eh:
            wait_ready(eh)
            eh.write_config(cluster_config(redis, sink.url(), "a", "  prefix: other\n"))
            eh.signal(signal.SIGHUP)
            eh.wait_log(r"cluster changes take effect after a restart")
            eh.wait_log(r"config reloaded")
            r = post(eh)
            assert_eq(r.status, 202, "still in cluster mode on the old prefix")
            wait_delivered(sink, [r.json()["id"]])
            assert_eq(redis.cmd("EXISTS", "other:events"), 0, "the new prefix is not used before a restart")
    finally:
        sink.close()
        redis.close()


def test_cluster_full_stream_answers_503_and_trims_nothing():
    """max_stream_len bounds the undelivered events: past it ingest says
    503 with Retry-After; nothing already accepted is trimmed away."""
    redis = Redis().start()
    hole = sinks.Sink(lambda i, r: ("blackhole",))
    try:
        with Edgehook(cluster_config(redis, hole.url(), "a", "  max_stream_len: 100\n")) as eh:
            wait_ready(eh)
            accepted = 1
            while True:
                r = post(eh)
                if r.status != 202:
                    break
                accepted += 1
                assert_true(accepted <= 100, "more than max_stream_len undelivered events accepted")
            assert_eq(r.status, 503, "full")
            assert_eq(r.header("retry-after"), "1", "Retry-After")
            assert_true("max_stream_len" in r.json()["error"], "says why: %s" % r.json()["error"])
            assert_eq(stream_len(redis), accepted, "every accepted event still in the stream")
    finally:
        hole.close()
        redis.close()


def test_cluster_waiting_retry_lives_in_redis_and_survives_its_instance():
    """A delivery that waits seconds for its retry is parked in the
    shared retry set (PREFIX:retries), not held by its instance: a is
    killed while it waits, and b takes it from the set when it is due
    (not through XAUTOCLAIM) and delivers it with the same webhook-id."""
    redis = Redis().start()
    refused = []

    def once_503(i, r):
        if b"order.retry" in r.body and not refused:
            refused.append(r.header("webhook-id"))
            return ("status", 503, {})
        return ("status", 200, {})
    sink = sinks.Sink(once_503)
    slow = lambda n: cluster_config(redis, sink.url(), n).replace("backoff: 200ms\n  max_backoff: 1s",
                                                                  "backoff: 3s\n  max_backoff: 10s")
    try:
        a = Edgehook(slow("a")).start()
        wait_ready(a)
        evid = post(a, b'{"event":"order.retry"}').json()["id"]
        harness.wait_until(lambda: metric(a, "edgehook_cluster_retries_parked_total") >= 1, 20, "the retry parked")
        assert_eq(redis.cmd("ZCARD", "edgehook:retries"), 1, "waiting in the shared retry set")
        assert_eq(metric(a, "edgehook_queue_depth"), 0, "a holds nothing while it waits")
        a.proc.kill()
        a.proc.wait()
        with Edgehook(slow("b")) as b:
            harness.wait_until(lambda: delivered_ids(sink).count(evid) >= 2, 30, "the parked retry sent again by b")
            assert_eq(refused, [evid], "the first attempt was the refused one")
            assert_true(metric(b, "edgehook_cluster_retries_taken_total") >= 1, "taken from the retry set")
            assert_eq(metric(b, "edgehook_cluster_claimed_total"), 0, "not through XAUTOCLAIM")
            harness.wait_until(lambda: redis.cmd("ZCARD", "edgehook:retries") == 0 and stream_len(redis) == 0, 10,
                               "retry set and stream empty once delivered")
            st = b.request("GET", "/api/v1/events/" + evid).json()
            assert_eq(st["deliveries"][0]["state"], "delivered", "status delivered")
            assert_eq(st["deliveries"][0]["attempts"], 2, "attempts carried over from a")
    finally:
        sink.close()
        redis.close()


def test_cluster_run_read_from_redis_keeps_the_allow_root_rule():
    """A run entry in the stream runs on whichever instance reads it, so
    that instance must apply run.allow_root as one receiving the webhook
    does (and as a run resumed from the spool does): as root without
    allow_root it is reported failed, never executed. The entry is written
    straight to Redis, as another instance (its config allowing root) or
    anyone who can write there would."""
    redis = Redis().start()
    sink = sinks.Sink()
    d = tempfile.mkdtemp(prefix="edgehook-runs-")
    script = harness.write_script(d, "job.sh", "#!/bin/sh\necho \"$1\" >> %s/ran\n" % d)
    no_root = "triggers:\n  - {id: job, run: {command: %s, args: [\"{delivery}\"]}}\n" % script
    try:
        with Edgehook(cluster_config(redis, sink.url(), "b", no_root)) as b:
            wait_ready(b)
            assert_eq(os.geteuid(), 0, "the tests run as root")
            redis.cmd("XADD", "edgehook:events", "*", "id", "run_fromredis000000000000", "type", "job",
                      "ts", "1", "kind", "run", "trigger", "job", "delivery", "d-1", "ip", "127.0.0.1", "body", "{}")
            harness.wait_until(lambda: lifecycle(sink, "run.failed") or os.path.exists(os.path.join(d, "ran")), 30,
                               "the run refused or executed")
            assert_true(not os.path.exists(os.path.join(d, "ran")), "the command did not run as root")
            [failed] = lifecycle(sink, "run.failed")
            assert_true("allow_root" in json.dumps(failed), failed)
    finally:
        sink.close()
        redis.close()


def test_cluster_stream_entry_id_cannot_inject_headers():
    """An event's id goes out as the webhook-id header: an id read from the
    stream with CR LF in it (whoever can write Redis) must not add header
    lines (or a second request) to what the endpoint receives. Such an
    entry is dropped as poison; a well-formed one after it is delivered."""
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "b")) as b:
            wait_ready(b)
            redis.cmd("XADD", "edgehook:events", "*", "id", "evt_x\r\nX-Injected: yes", "type", "order.created",
                      "ts", "1", "body", '{"bad":1}')
            redis.cmd("XADD", "edgehook:events", "*", "id", "evt_wellformed0000000000", "type", "order.created",
                      "ts", "1", "body", '{"good":1}')
            harness.wait_until(lambda: any(b'"good":1' in r.body for r in sink.requests), 30, "the good one")
            with sink.lock:
                assert_eq([r.header("x-injected") for r in sink.requests], [None] * len(sink.requests),
                          "no injected header")
                assert_true(not any(b'"bad":1' in r.body for r in sink.requests), "the bad one not sent")
    finally:
        sink.close()
        redis.close()


def test_cluster_event_status_too_large_in_redis_is_an_error_not_truncated_json():
    """An event's status hash in Redis is spliced into the answer up to
    16 MiB; a larger one (a hostile or broken Redis) answers 502, never a
    200 with cut-off JSON."""
    redis = Redis().start()
    sink = sinks.Sink()
    try:
        with Edgehook(cluster_config(redis, sink.url(), "a")) as a:
            wait_ready(a)
            redis.cmd("HSET", "edgehook:status:evt_huge", "_event", b'"event":"' + b"x" * (17 << 20) + b'"')
            r = a.request("GET", "/api/v1/events/evt_huge")
            assert_eq(r.status, 502, "a status over the bound: %d %r" % (r.status, r.body[:80]))
            assert_true(b"too large" in r.body, r.body[:200])
            redis.cmd("HSET", "edgehook:status:evt_small", "_event", b'"event":"x"')
            assert_eq(a.request("GET", "/api/v1/events/evt_small").json()["event"], "x", "a small one still answers")
    finally:
        sink.close()
        redis.close()
