"""Cluster mode on Redis Streams (issue 16): a real redis-server with AOF
(redis_server.py), several edgehook instances, sinks; kill -9 of
instances and of Redis under load; a hostile fake Redis."""
import json
import random
import socket
import threading
import time

import harness
import sinks
from harness import Edgehook, assert_eq, assert_true
from redis_server import Redis


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
