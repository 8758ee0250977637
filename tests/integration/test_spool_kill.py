"""Spool and triggers (issue 14): an accepted trigger delivery survives
kill -9; its run starts exactly once or is reported interrupted; the
dedupe window comes back; and kill cycles under load lose no accepted
event, emit or run."""
import hashlib
import hmac
import json
import os
import random
import re
import socket
import tempfile
import threading
import time
import uuid

import harness
import sinks
from harness import Edgehook, assert_eq, assert_true

SECRET = "kill-test-secret"


def gh_headers(body, delivery):
    return {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


def run_script(d, block=False):
    """A command that appends its delivery id to d/runs.txt; with block it
    then waits while d/block exists (a run still running at the kill)."""
    text = '#!/bin/sh\necho "$EDGEHOOK_DELIVERY" >> %s/runs.txt\n' % d
    if block:
        text += "while [ -e %s/block ]; do sleep 0.02; done\n" % d
    return harness.write_script(d, "run.sh", text)


def config(spool, sink_url, script, fsync="always", concurrency=1, extra_spool=""):
    return """spool:
  dir: %s
  fsync: %s
  interval: 10ms
%swebhook:
  retries: 20
  backoff: 100ms
  timeout: 5s
  endpoints:
    - name: sink
      url: %s
triggers:
  - id: gh
    kind: github
    secret: %s
    emit: true
    run: {command: %s, allow_root: true, concurrency: %d, queue: 100000}
""" % (spool, fsync, extra_spool, sink_url, SECRET, script, concurrency)


def runs_of(d):
    try:
        with open(os.path.join(d, "runs.txt")) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def sink_events(sink):
    with sink.lock:
        return [(r.header("webhook-id"), json.loads(r.body)) for r in sink.requests]


def post_trigger(eh, delivery, body=b'{"ref":"main"}'):
    return eh.request("POST", "/webhooks/gh", body, gh_headers(body, delivery))


def test_trigger_runs_after_kill_9_once_and_running_one_is_reported_interrupted():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    spool = os.path.join(d, "spool")
    script = run_script(d, block=True)
    open(os.path.join(d, "block"), "w").close()
    sink = sinks.Sink()
    eh = Edgehook(config(spool, sink.url(), script)).start()
    try:
        ids = ["d-%d-%s" % (i, uuid.uuid4()) for i in range(3)]
        run_ids = []
        for i in ids:
            r = post_trigger(eh, i)
            assert_eq(r.status, 202, "accepted")
            run_ids.append(r.json()["run_id"])
        # the first run is running (blocked); the others wait in the queue
        harness.wait_until(lambda: runs_of(d) == ids[:1], 20, "first run started")
        sink.wait(4)  # three emits and run.started
    finally:
        eh.proc.kill()
        eh.proc.wait()
    os.unlink(os.path.join(d, "block"))  # the orphaned command ends by itself
    with Edgehook(config(spool, sink.url(), script)) as eh2:
        line = eh2.wait_log(r"spool: runs resumed")[0]
        assert_true("runs=2 " in line and "interrupted=1 " in line and "dedupe_keys=3 " in line, line)
        harness.wait_until(lambda: sorted(runs_of(d)) == sorted(ids), 20, "queued runs ran after the restart")

        def failed():
            return [e for _, e in sink_events(sink) if e.get("event") == "run.failed"]
        harness.wait_until(lambda: failed(), 20, "run.failed for the interrupted run")
        ev = failed()[0]
        assert_eq((ev["resource_id"], ev["delivery_id"], ev["error"]), (run_ids[0], ids[0], "interrupted"))
        done = lambda: sorted(e["resource_id"] for _, e in sink_events(sink) if e.get("event") == "run.completed")
        harness.wait_until(lambda: done() == sorted(run_ids[1:]), 20, "the resumed runs completed with their ids")
        run = eh2.request("GET", "/api/v1/runs/" + run_ids[0]).json()
        assert_eq((run["state"], run["error"]), ("failed", "interrupted"))
        # the emits were logged as events: none is sent twice under a new id
        pushes = [e for _, e in sink_events(sink) if e.get("event") == "push"]
        assert_eq(sorted(e["delivery_id"] for e in pushes), sorted(ids), "one emit per delivery")
    assert_eq(sorted(runs_of(d)), sorted(ids), "no run started twice")
    # a clean stop settled everything: nothing is owed at the next start
    with Edgehook(config(spool, sink.url(), script)) as eh3:
        line = eh3.wait_log(r"spool: runs resumed")[0]
        assert_true("runs=0 " in line and "interrupted=0 " in line, line)
    sink.close()


def test_dedupe_window_restored_after_kill_9():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    spool = os.path.join(d, "spool")
    script = run_script(d)
    sink = sinks.Sink()
    delivery = str(uuid.uuid4())
    eh = Edgehook(config(spool, sink.url(), script)).start()
    try:
        assert_eq(post_trigger(eh, delivery).status, 202)
        assert_eq(post_trigger(eh, delivery).json(), {"status": "duplicate"}, "duplicate before the crash")
        harness.wait_until(lambda: runs_of(d) == [delivery], 20, "the run ran")
    finally:
        eh.proc.kill()
        eh.proc.wait()
    with Edgehook(config(spool, sink.url(), script)) as eh2:
        eh2.wait_log(r"spool: runs resumed")
        r = post_trigger(eh2, delivery)
        assert_eq((r.status, r.json()), (200, {"status": "duplicate"}), "GitHub's retry after our crash")
        assert_eq(post_trigger(eh2, str(uuid.uuid4())).status, 202, "a new delivery is not")
        m = eh2.request("GET", "/metrics").body.decode()
        assert_true('\nedgehook_webhooks_total{outcome="duplicate"} 1\n' in m, "counted")
    assert_eq(runs_of(d).count(delivery), 1, "ran once")
    sink.close()


def test_trigger_202_waits_for_the_commit_and_the_run_for_it_too():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    spool = os.path.join(d, "spool")
    script = run_script(d)
    sink = sinks.Sink()
    try:
        with Edgehook(config(spool, sink.url(), script), env={"EDGEHOOK_TEST_SPOOL_DELAY_MS": "300"}) as eh:
            c = eh.connect()
            body = b'{"ref":"main"}'
            c.sendall(harness.build_request("POST", "/webhooks/gh", body, gh_headers(body, "slow-1")))
            assert_eq(eh.request("GET", "/healthz").status, 200, "healthz during a slow flush")
            m = eh.request("GET", "/metrics").body.decode()
            assert_true("\nedgehook_spool_flushes_total 0\n" in m, "no commit finished yet: " + m[-2000:])
            assert_eq(runs_of(d), [], "the run waits for the commit")
            r = harness.read_response(c)
            assert_eq(r.status, 202)
            m = eh.request("GET", "/metrics").body.decode()
            assert_true(re.search(r"\nedgehook_spool_fsyncs_total [1-9]", m), "the 202 came after an fsync")
            harness.wait_until(lambda: runs_of(d) == ["slow-1"], 20, "the run after its start record")
            c.close()
        with Edgehook(config(spool, sink.url(), script, fsync="off")) as eh:
            eh.wait_log(r"spool: runs resumed")
            assert_eq(post_trigger(eh, "fast-1").status, 202, "fsync: off answers at once")
    finally:
        sink.close()


def test_trigger_spool_full_answers_503_counted():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    spool = os.path.join(d, "spool")
    script = run_script(d)
    sink = sinks.Sink()
    body = json.dumps({"pad": "x" * 100000}).encode()
    try:
        cfg = config(spool, sink.url(), script, extra_spool="  max_bytes: 1MiB\n  segment_bytes: 64KiB\n")
        with Edgehook(cfg) as eh:
            statuses = []
            while len(statuses) < 40 and 503 not in statuses:
                r = post_trigger(eh, str(uuid.uuid4()), body)
                statuses.append(r.status)
                if r.status == 503:
                    assert_eq(r.header("retry-after"), "1")
            assert_true(503 in statuses and statuses[0] == 202, "full after some: %s" % statuses)
            full = statuses.count(503)
            accepted = statuses.count(202)
            m = eh.request("GET", "/metrics").body.decode()
            assert_true('\nedgehook_webhooks_total{outcome="spool_full"} %d\n' % full in m, "503s counted")
            assert_true('\nedgehook_webhooks_total{outcome="accepted"} %d\n' % accepted in m, "202s counted")
            harness.wait_until(lambda: len(runs_of(d)) == accepted, 20, "every accepted run ran")
    finally:
        sink.close()
