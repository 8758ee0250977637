"""Spool (issue 14), the deliveries' side: attempt counts and next
attempt times survive kill -9, dead letters and delivered events stay
reachable (dead list, replay, recover) after a restart, an event is not
delivered before its record is committed (fsync: always), and a segment
pinned by one stuck event is carried forward instead of holding every
newer segment."""
import os
import re
import resource
import subprocess
import tempfile
import time

import harness
import sinks
from harness import Edgehook, assert_eq, assert_true


def config(spool, endpoints, webhook="", spool_extra=""):
    """A short drain: what is pending at the end stays in the spool."""
    return "server:\n  drain_timeout: 100ms\nspool:\n  dir: %s\n%swebhook:\n%s  endpoints:\n%s" % (
        spool, spool_extra, webhook, endpoints)


def one_endpoint(url, name="sink"):
    return "    - name: %s\n      url: %s\n" % (name, url)


def post(eh, payload):
    r = eh.request("POST", "/api/v1/events", body=payload.encode(), headers={"Content-Type": "application/json"})
    assert_eq(r.status, 202, "accepted: %r" % r.body)
    return r.json()["id"]


def delivery(eh, evid, name="sink"):
    r = eh.request("GET", "/api/v1/events/" + evid)
    assert_eq(r.status, 200, "event known: %r" % r.body)
    return {d["endpoint"]: d for d in r.json()["deliveries"]}[name]


def metric(eh, name):
    m = re.search(r"\n%s (\d+)\n" % name, eh.request("GET", "/metrics").body.decode())
    return int(m.group(1)) if m else None


def test_spool_attempt_count_and_next_time_survive_kill_9():
    """retries 5 against a 500: two attempts, kill -9, restart: the next
    attempt is number 3, at its scheduled time (2s after the second, not
    at once), and the event goes dead after 6 attempts in all."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink(lambda i, r: ("status", 500, {}))
    cfg = config(spool, one_endpoint(sink.url()), "  retries: 5\n  backoff: 2s\n  max_backoff: 2s\n")
    try:
        eh = Edgehook(cfg).start()
        try:
            evid = post(eh, '{"event":"order.created"}')
            eh.wait_log(r"delivery failed.*attempt=2 ")
            # the event's commit, then each attempt's state record synced
            # within spool.interval: a kill before that would resume from
            # the first attempt's record (at least once, one attempt more)
            eh.wait_for(lambda: metric(eh, "edgehook_spool_fsyncs_total") == 3, 10, "second attempt's state on disk")
        finally:
            eh.proc.kill()
            eh.proc.wait()
        assert_eq(len(sink.requests), 2, "two attempts before the kill")
        second = sink.requests[1].at
        with Edgehook(cfg) as eh2:
            eh2.wait_log(r"deliveries resumed\" events=1 deliveries=1 ")
            d = delivery(eh2, evid)
            assert_eq((d["state"], d["attempts"], d["last_status"]), ("retrying", 2, 500), "state as logged: %r" % d)
            assert_true(d["next_attempt"] is not None, "next attempt time restored: %r" % d)
            eh2.wait_log(r"delivery failed.*attempt=3 ")
            third = sink.requests[2].at
            assert_true(third - second >= 1.55, "attempt 3 waited for its time (2s +-20%% after attempt 2), "
                        "not sent at once: %.3fs" % (third - second))
            eh2.wait_for(lambda: delivery(eh2, evid)["state"] == "failed", 30, "dead after its retries")
            assert_eq(delivery(eh2, evid)["attempts"], 6, "1 + 5 retries in all")
            assert_eq(len(sink.requests), 6, "4 attempts after the restart, not 5 more")
            assert_eq(len(eh2.wait_log(r"delivery failed.*attempt=6")), 1)
    finally:
        sink.close()


def test_spool_dead_letters_and_history_survive_restart():
    """After a restart the dead letter is listed, replayed and recovered,
    and a delivered event is replayed, all with the same webhook-id."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    fail = [True]
    flaky = sinks.Sink(lambda i, r: ("status", 500 if fail[0] else 200, {}))
    good = sinks.Sink()
    eps = one_endpoint(flaky.url(), "flaky") + "      events: [bad.*]\n" + one_endpoint(good.url(), "good") + \
        "      events: [good.*]\n"
    cfg = config(spool, eps, "  retries: 1\n  backoff: 1ms\n")
    try:
        with Edgehook(cfg) as eh:
            dead = post(eh, '{"event":"bad.one"}')
            ok = post(eh, '{"event":"good.one"}')
            eh.wait_for(lambda: delivery(eh, dead, "flaky")["state"] == "failed", 20, "dead")
            eh.wait_for(lambda: delivery(eh, ok, "good")["state"] == "delivered", 20, "delivered")
            before = time.time()
        eh = Edgehook(cfg).start()
        eh.proc.kill()  # a restart that left no clean shutdown behind either
        eh.proc.wait()
        with Edgehook(cfg) as eh2:
            eh2.wait_log(r"deliveries resumed\" events=0 deliveries=0 .* settled=2$")
            listed = eh2.request("GET", "/api/v1/dead?endpoint=flaky").json()["dead"]
            assert_eq([(d["id"], d["attempts"], d["last_status"]) for d in listed], [(dead, 2, 500)], "dead letter")
            assert_eq(delivery(eh2, ok, "good")["state"], "delivered")
            fail[0] = False
            r = eh2.request("POST", "/api/v1/events/%s/replay" % dead)
            assert_eq(r.status, 202, "replay of a dead letter from the spool: %r" % r.body)
            flaky.wait(3, timeout=20)
            assert_eq(flaky.requests[2].header("webhook-id"), dead, "same webhook-id")
            r = eh2.request("POST", "/api/v1/events/%s/replay" % ok)
            assert_eq(r.status, 202, "replay of a delivered event from the spool: %r" % r.body)
            good.wait(2, timeout=20)
            assert_eq(good.requests[1].header("webhook-id"), ok)
        with Edgehook(cfg) as eh3:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before - 60))
            r = eh3.request("POST", "/api/v1/endpoints/flaky/recover", body=('{"since":"%s"}' % since).encode(),
                            headers={"Content-Type": "application/json"})
            assert_eq((r.status, r.json()["replayed"]), (202, 1), "recover from the spool: %r" % r.body)
            flaky.wait(4, timeout=20)
            assert_eq(flaky.requests[3].header("webhook-id"), dead)
    finally:
        flaky.close()
        good.close()


def test_spool_fsync_always_delivers_only_after_the_commit():
    """With fsync: always a delivery starts only once the event's record
    is committed: not while the (delayed) flush is pending, and never for
    an event whose write failed and was answered 503."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    cfg = config(spool, one_endpoint(sink.url()), "  retries: 3\n")
    try:
        with Edgehook(cfg, env={"EDGEHOOK_TEST_SPOOL_DELAY_MS": "300"}) as eh:
            sent = time.time()
            first = post(eh, '{"event":"a.b","n":1}')
            sink.wait(1, timeout=10)
            assert_true(sink.requests[0].at - sent >= 0.3, "delivered %.3fs after the post, before the 300ms commit"
                        % (sink.requests[0].at - sent))
            eh.wait_for(lambda: metric(eh, "edgehook_spool_fsyncs_total") == 2, 10, "event and outcome synced")
            size = os.path.getsize(os.path.join(spool, "0000000000000001.seg"))
            old = resource.prlimit(eh.proc.pid, resource.RLIMIT_FSIZE, (size + 20, resource.RLIM_INFINITY))
            r = eh.request("POST", "/api/v1/events", body=b'{"event":"a.b","n":2,"pad":"' + b"x" * 200 + b'"}',
                           headers={"Content-Type": "application/json"})
            assert_eq(r.status, 503, "not written")
            resource.prlimit(eh.proc.pid, resource.RLIMIT_FSIZE, old)
            third = post(eh, '{"event":"a.b","n":3}')
            sink.wait(2, timeout=10)
            ids = [q.header("webhook-id") for q in sink.requests]
            assert_eq(ids, [first, third], "the event answered 503 was not delivered")
    finally:
        sink.close()


def test_spool_carries_a_stuck_event_forward_so_segments_stay_bounded():
    """One event stuck behind an endpoint that never answers, then many
    delivered events over 64 KiB segments with retention 0: the oldest
    segment is carried forward and deleted, the segment count stays
    small, and the stuck event still resumes after kill -9."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    good = sinks.Sink()
    down = "http://127.0.0.1:%d/hook" % sinks.closed_port()
    eps = one_endpoint(down, "stuck") + "      events: [stuck.*]\n" + one_endpoint(good.url(), "good") + \
        "      events: [load.*]\n"
    cfg = config(spool, eps, "  retries: 100\n  backoff: 1h\n  history: 4096\n",
                 "  segment_bytes: 64KiB\n  retention: 0s\n  max_bytes: 256MiB\n")
    pad = "x" * 1000
    n = 1500
    try:
        eh = Edgehook(cfg).start()
        try:
            stuck = post(eh, '{"event":"stuck.one"}')
            c = eh.connect()
            reader = harness.Reader(c)
            for i in range(n):
                c.sendall(harness.build_request("POST", "/api/v1/events", ('{"event":"load.%d","pad":"%s"}' % (i, pad))
                                                .encode(), {"Content-Type": "application/json"}))
                assert_eq(reader.read_response().status, 202)
            c.close()
            good.wait(n, timeout=60)
            written = metric(eh, "edgehook_spool_segments") + metric(eh, "edgehook_spool_segments_deleted_total")
            assert_true(written >= 20, "the load spans many segments (%d)" % written)
            eh.wait_for(lambda: metric(eh, "edgehook_spool_segments") <= 3, 30,
                        "segments deleted behind the stuck event")
            assert_true(metric(eh, "edgehook_spool_carries_total") >= 1, "carried forward")
            assert_eq(delivery(eh, stuck, "stuck")["state"], "retrying")
        finally:
            eh.proc.kill()
            eh.proc.wait()
        with Edgehook(cfg) as eh2:
            eh2.wait_log(r"deliveries resumed\" events=1 deliveries=1 ")
            assert_eq(delivery(eh2, stuck, "stuck")["attempts"], 1, "the carried copy kept its attempt count")
    finally:
        good.close()


def test_spool_full_answers_503_saying_so():
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    down = "http://127.0.0.1:%d/hook" % sinks.closed_port()
    cfg = config(spool, one_endpoint(down), "  retries: 5\n  backoff: 1h\n",
                 "  segment_bytes: 64KiB\n  max_bytes: 1MiB\n")
    body = ('{"event":"big.one","pad":"%s"}' % ("x" * 20000)).encode()
    with Edgehook(cfg) as eh:
        accepted = 0
        for _ in range(100):
            r = eh.request("POST", "/api/v1/events", body=body, headers={"Content-Type": "application/json"})
            if r.status != 202:
                break
            accepted += 1
        assert_eq(r.status, 503, "refused once max_bytes is reached")
        assert_true(40 <= accepted < 60, "about 1 MiB of 20 KB events accepted: %d" % accepted)
        assert_eq(r.json()["error"], "spool full (spool.max_bytes)")
        assert_eq(r.header("retry-after"), "1")
        eh.wait_log(r'events refused" why="spool full')
        assert_eq(metric(eh, "edgehook_events_rejected_total"), 1, "the refusal is counted")


def test_spool_restart_keeps_only_the_newest_bodies_within_max_queue_bytes():
    """Settled events come back from the spool with their bodies only
    while they fit in max_queue_bytes (the newest kept, as the history
    keeps them); older ones keep their status, and replay says why not."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    cfg = config(spool, one_endpoint(sink.url()), "  max_queue_bytes: 4KiB\n")
    pad = "x" * 1000
    try:
        with Edgehook(cfg) as eh:
            ids = []
            for i in range(10):  # one at a time: 4 KiB is also the queue's bound
                ids.append(post(eh, '{"event":"a.b","n":%d,"pad":"%s"}' % (i, pad)))
                sink.wait(i + 1, timeout=20)
            eh.wait_for(lambda: all(delivery(eh, i)["state"] == "delivered" for i in ids), 20, "all delivered")
        with Edgehook(cfg) as eh2:
            eh2.wait_log(r"deliveries resumed\" events=0 deliveries=0 ")
            assert_eq(delivery(eh2, ids[0])["state"], "delivered", "the oldest keeps its status")
            r = eh2.request("POST", "/api/v1/events/%s/replay" % ids[-1])
            assert_eq(r.status, 202, "the newest keeps its body: %r" % r.body)
            sink.wait(11, timeout=20)
            assert_eq(sink.requests[10].header("webhook-id"), ids[-1])
            assert_true(b'"n":9,' in sink.requests[10].body, "the same body")
            r = eh2.request("POST", "/api/v1/events/%s/replay" % ids[0])
            assert_eq(r.status, 404, "the oldest's body was let go")
            assert_true("max_queue_bytes" in r.json()["error"], r.body)
    finally:
        sink.close()


def test_spool_dir_immutable_at_run_time_answers_503_until_writable():
    """The spool directory turns unwritable at run time (chattr +i: even
    root cannot create a file in it, so the next segment cannot be
    opened): ingest answers 503 and is logged once; the event answered 503
    is never delivered; after chattr -i ingest is accepted again."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    cfg = config(spool, one_endpoint(sink.url()), spool_extra="  segment_bytes: 64KiB\n")
    body = ('{"event":"a.b","pad":"%s"}' % ("x" * 20000)).encode()
    try:
        with Edgehook(cfg) as eh:
            first = post(eh, '{"event":"a.b"}')
            sink.wait(1, timeout=10)
            subprocess.run(["chattr", "+i", spool], check=True)
            statuses = []
            for _ in range(8):  # 64 KiB fill up after three: the fourth needs a new segment
                r = eh.request("POST", "/api/v1/events", body=body, headers={"Content-Type": "application/json"})
                statuses.append(r.status)
                if r.status != 202:
                    break
            assert_eq(statuses[-1], 503, "refused once a segment cannot be created: %r" % statuses)
            assert_eq(r.json()["error"], "the spool could not write the events")
            refused = eh.request("POST", "/api/v1/events", body=body, headers={"Content-Type": "application/json"})
            assert_eq(refused.status, 503, "still refused")
            subprocess.run(["chattr", "-i", spool], check=True)
            last = post(eh, '{"event":"a.b","last":true}')
            eh.wait_log(r"spool: writing again")
            assert_eq(len(eh.wait_log(r"spool: write failed.*err=\"Operation not permitted\"")), 1, "logged once")
            n = len(statuses)  # the first, the 202s before the refusal, the last
            sink.wait(n + 1, timeout=20)
            ids = [q.header("webhook-id") for q in sink.requests]
            assert_eq((ids[0], ids[-1], len(ids)), (first, last, n + 1), "only accepted events delivered")
            assert_true(metric(eh, "edgehook_spool_write_errors_total") >= 1, "counted")
    finally:
        subprocess.run(["chattr", "-i", spool])
        sink.close()


def form_refused_413_nothing_emitted(pad_mib):
    """A form webhook of pad_mib MiB to an emitting trigger with a spool is
    refused 413; a small one after it is the only event emitted."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    cfg = config(spool, one_endpoint(sink.url())).replace("server:\n", "server:\n  max_body_bytes: 48MiB\n") + (
        "triggers:\n  - id: form\n    emit: true\n")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        with Edgehook(cfg) as eh:
            r = eh.request("POST", "/webhooks/form", b"a=" + b"x" * (pad_mib << 20), form)
            assert_eq(r.status, 413, r.body[:200])
            small = eh.request("POST", "/webhooks/form", b"a=1", form)
            assert_eq(small.status, 202, small.body)
            sink.wait(1, 120)
            harness.wait_until(lambda: eh.endpoints()["sink"]["in_flight"] == 0, 60, "nothing in flight")
            assert_eq(eh.endpoints()["sink"]["attempts"], 1, "only the small one was emitted")
            assert_true(len(sink.requests[0].body) < 1000, "the small one")
    finally:
        sink.close()


def test_spool_trigger_record_too_large_is_413_not_spool_full():
    """A webhook whose spool record (the body plus the JSON a form body
    becomes, together) is over the 64 MiB a record holds can never be
    accepted: it is refused 413 before anything is emitted, not 503
    "spool full" (the sender would retry it for as long as it retries,
    and the operator read that an empty spool is full)."""
    form_refused_413_nothing_emitted(34)  # 34 MiB of body, 34 MiB of JSON: one record


def test_ingest_that_can_never_be_admitted_is_413_not_503():
    """An ingest request larger than the spool takes at once (one 64 MiB
    batch), or than webhook.max_queue_bytes holds, can never be admitted:
    413 saying why, not 503 "full" with Retry-After, which has the sender
    retry forever while the operator reads that an empty spool is full."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    half = ('{"event":"big","pad":"%s"}' % ("x" * (34 << 20))).encode()
    headers = {"Content-Type": "application/json"}
    try:
        for queue_bytes, body, why in (("", b"[" + half + b"," + half + b"]", "spool takes at once"),
                                       ("  max_queue_bytes: 30MiB\n", half, "delivery queue holds")):
            cfg = config(spool, one_endpoint(sink.url()), queue_bytes).replace(
                "server:\n", "server:\n  max_body_bytes: 80MiB\n")
            with Edgehook(cfg) as eh:
                r = eh.request("POST", "/api/v1/events", body, headers)
                assert_eq(r.status, 413, r.body[:200])
                assert_true(why in r.json()["error"], r.json())
                assert_true(r.header("retry-after") is None, "no retry advised")
        with Edgehook(config(spool, one_endpoint(sink.url())).replace(
                "server:\n", "server:\n  max_body_bytes: 80MiB\n")) as eh:
            assert_eq(eh.request("POST", "/api/v1/events", half, headers).status, 202, "one half fits")
            sink.wait(1, 120)
    finally:
        sink.close()


def test_spool_trigger_emit_and_record_checked_together_before_the_emit():
    """A form webhook to a trigger that emits writes two records in one
    batch: the event (the form's JSON) and the delivery (body plus that
    JSON). Whether both fit is decided before the emit; when the second
    could not be written after the first, the answer was 503 with the
    event already emitted, and each retry of the sender emitted it again."""
    form_refused_413_nothing_emitted(22)  # a 22 MiB event and a 44 MiB delivery: one batch
