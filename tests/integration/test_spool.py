"""Spool (issue 14): start-up checks of spool.dir, recovery of damaged
segments, config errors. Record format: u32 length | u32 CRC32C over
length+type+payload | u8 type | payload, little endian."""
import os
import random
import re
import resource
import socket
import struct
import subprocess
import tempfile
import threading
import time

import harness
import sinks
from harness import Edgehook, assert_eq, assert_true


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def record(rtype, payload):
    length = struct.pack("<I", len(payload))
    return length + struct.pack("<I", crc32c(length + bytes([rtype]) + payload)) + bytes([rtype]) + payload


def spool_config(path, extra=""):
    return "spool:\n  dir: %s\n%s" % (path, extra)


def run_binary(config_text, timeout=30):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(config_text)
    try:
        return subprocess.run([harness.binary(), "-c", path, "-l", "127.0.0.1:0"], capture_output=True, text=True,
                              timeout=timeout)
    finally:
        os.unlink(path)


def test_spool_dir_that_cannot_be_created_exits_2():
    base = tempfile.mkdtemp(prefix="edgehook-spool-")
    blocker = os.path.join(base, "file")
    open(blocker, "w").close()
    p = run_binary(spool_config(os.path.join(blocker, "spool")))
    assert_eq(p.returncode, 2, "exit status")
    assert_true(re.search(r"edgehook: spool: spool directory \S+/file/spool cannot be created", p.stderr),
                "clear error: " + p.stderr[-500:])


def test_spool_dir_unwritable_for_the_running_user_exits_2():
    if os.geteuid() != 0:
        return
    base = tempfile.mkdtemp(prefix="edgehook-spool-")
    spool = os.path.join(base, "spool")
    os.mkdir(spool, 0o700)  # root's; the server runs as nobody
    os.chmod(base, 0o755)
    p = run_binary(spool_config(spool) + "server:\n  user: nobody\n")
    assert_eq(p.returncode, 2, "exit status: " + p.stderr[-500:])
    assert_true("edgehook: spool: spool directory %s" % spool in p.stderr, "clear error: " + p.stderr[-500:])


def test_spool_config_errors_name_file_and_line():
    p = run_binary(spool_config("/tmp/x", "  fsync: sometimes\n"))
    assert_eq(p.returncode, 2)
    assert_true(re.search(r"\.yaml:3: fsync: expected always, interval or off", p.stderr), p.stderr[-500:])


def test_spool_recovery_cuts_torn_tail_and_counts_corrupt_record():
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    first, middle, last = record(1, b"first"), bytearray(record(2, b"middle-record")), record(3, b"third")
    middle[12] ^= 0x20
    torn = record(4, b"torn-at-the-end")[:11]
    seg = os.path.join(spool, "0000000000000001.seg")
    with open(seg, "wb") as f:
        f.write(first + bytes(middle) + last + torn)
    with Edgehook(spool_config(spool)) as eh:
        lines = eh.wait_log(r"msg=\"spool recovered\"")
        assert_eq(len(lines), 1, "one summary line")
        assert_true("records=2 " in lines[0] and "corrupt=1 " in lines[0] and "truncated_bytes=11 " in lines[0],
                    lines[0])
        eh.wait_log(r"torn tail truncated")
        m = eh.request("GET", "/metrics").body.decode()
        assert_true("\nedgehook_spool_corrupt_records_total 1\n" in m, "corrupt counter")
        assert_true("\nedgehook_spool_recovered_records 2\n" in m, "recovered gauge")
    assert_eq(os.path.getsize(seg), len(first) + len(middle) + len(last), "torn tail cut off")


def endpoint_config(spool, url, extra="", backoff="30s"):
    return spool_config(spool, extra) + (
        "webhook:\n  retries: 20\n  backoff: %s\n  timeout: 2s\n"
        "  endpoints:\n    - name: sink\n      url: %s\n" % (backoff, url))


def post_events(eh, n):
    ids = []
    for i in range(n):
        r = eh.request("POST", "/api/v1/events", body=('{"event":"order.created","n":%d}' % i).encode(),
                       headers={"Content-Type": "application/json"})
        assert_eq(r.status, 202, "accepted")
        ids.append(r.json()["id"])
    return ids


def test_spool_accepted_events_survive_kill_9_with_same_webhook_id():
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    down = "http://127.0.0.1:%d/hook" % sinks.closed_port()
    eh = Edgehook(endpoint_config(spool, down, backoff="1s")).start()
    try:
        ids = post_events(eh, 5)
        eh.wait_for(lambda: sum("delivery failed" in l for l in eh.stderr_lines) >= 5, 20, "five failed attempts")
    finally:
        eh.proc.kill()  # kill -9: nothing is flushed on the way out
        eh.proc.wait()
    sink = sinks.Sink()
    try:
        with Edgehook(endpoint_config(spool, sink.url(), backoff="1s")) as eh2:
            eh2.wait_log(r"deliveries resumed\" events=5 deliveries=5 ")
            got = sink.wait(5, timeout=20)
            assert_eq(sorted(r.header("webhook-id") for r in got), sorted(ids), "same webhook-id after the crash")
            eh2.wait_for(lambda: "\nedgehook_spool_records_total 5\n" in eh2.request("GET", "/metrics").body.decode(),
                         10, "five DONE records")
        # a clean restart owes nothing: the outcomes were logged
        with Edgehook(endpoint_config(spool, sink.url())) as eh3:
            eh3.wait_log(r"deliveries resumed\" events=0 deliveries=0 ")
    finally:
        sink.close()


def test_spool_fsync_always_answers_after_the_commit():
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    try:
        with Edgehook(endpoint_config(spool, sink.url()), env={"EDGEHOOK_TEST_SPOOL_DELAY_MS": "300"}) as eh:
            c = eh.connect()
            c.sendall(harness.build_request("POST", "/api/v1/events", b'{"event":"a.b"}',
                                            {"Content-Type": "application/json"}))
            # while the commit is held back, other routes answer
            assert_eq(eh.request("GET", "/healthz").status, 200, "healthz during a slow flush")
            m = eh.request("GET", "/metrics").body.decode()
            assert_true("\nedgehook_spool_flushes_total 0\n" in m, "no commit finished yet")
            r = harness.read_response(c)
            assert_eq(r.status, 202)
            m = eh.request("GET", "/metrics").body.decode()
            assert_true(re.search(r"\nedgehook_spool_fsyncs_total [1-9]", m), "the 202 came after an fsync")
            c.close()
    finally:
        sink.close()


def producer(port, stop, accepted, lock):
    """Posts events on one keep-alive connection until stopped or cut off;
    records the id of every 202."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        reader = harness.Reader(s)
        while not stop.is_set():
            s.sendall(harness.build_request("POST", "/api/v1/events", b'{"event":"load.tick"}',
                                            {"Content-Type": "application/json"}))
            r = reader.read_response()
            if r.status == 202:
                with lock:
                    accepted.add(r.json()["id"])
    except (OSError, EOFError, ValueError, AssertionError):
        pass  # the kill cut the connection


def test_spool_kill_9_cycles_lose_no_accepted_event():
    """Three cycles of 10 producers and a kill -9 at a random moment on
    one spool (fsync: always), against an endpoint that never answers;
    then a restart against one that does: every event that got a 202
    reaches it, with its own webhook-id, at least once."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    hole = sinks.Sink(lambda i, r: ("blackhole",))
    sink = sinks.Sink()
    accepted, lock = set(), threading.Lock()
    try:
        for cycle in range(3):
            eh = Edgehook(endpoint_config(spool, hole.url())).start()
            stop = threading.Event()
            threads = [threading.Thread(target=producer, args=(eh.port, stop, accepted, lock)) for _ in range(10)]
            for t in threads:
                t.start()
            target = len(accepted) + random.randint(50, 400)
            eh.wait_for(lambda: len(accepted) >= target, 60, "%d accepted events" % target)
            eh.proc.kill()
            eh.proc.wait()
            stop.set()
            for t in threads:
                t.join(20)
        with Edgehook(endpoint_config(spool, sink.url())) as eh:
            eh.wait_log(r"deliveries resumed")

            def seen():
                with sink.lock:
                    return {r.header("webhook-id") for r in sink.requests}
            deadline = time.time() + 60
            while not accepted <= seen() and time.time() < deadline:
                with sink.cond:
                    sink.cond.wait(0.2)
            missing = accepted - seen()
            assert_true(not missing, "%d of %d accepted events never delivered, e.g. %s" %
                        (len(missing), len(accepted), sorted(missing)[:3]))
    finally:
        hole.close()
        sink.close()


def test_spool_unwritable_at_run_time_answers_503_and_recovers():
    """A spool that cannot grow (a file size limit set on the running
    process: EFBIG, as a full disk gives ENOSPC, without needing a small
    filesystem or root tricks) makes ingest answer 503 with one log line;
    once it can write again, events are accepted again and that is logged."""
    spool = tempfile.mkdtemp(prefix="edgehook-spool-")
    sink = sinks.Sink()
    try:
        with Edgehook(endpoint_config(spool, sink.url())) as eh:
            post_events(eh, 1)
            # the delivery's outcome record is written too before the limit:
            # it rides along unsynced, and the sync that follows it within
            # spool.interval is the second one
            eh.wait_for(lambda: "\nedgehook_spool_fsyncs_total 2\n" in eh.request("GET", "/metrics").body.decode(),
                        10, "event and outcome written")
            size = os.path.getsize(os.path.join(spool, "0000000000000001.seg"))
            old = resource.prlimit(eh.proc.pid, resource.RLIMIT_FSIZE, (size + 20, resource.RLIM_INFINITY))
            for _ in range(2):
                r = eh.request("POST", "/api/v1/events", body=b'{"event":"big","pad":"' + b"x" * 200 + b'"}',
                               headers={"Content-Type": "application/json"})
                assert_eq(r.status, 503, "spool cannot write")
                assert_eq(r.header("retry-after"), "1")
            eh.wait_log(r"spool: write failed")
            resource.prlimit(eh.proc.pid, resource.RLIMIT_FSIZE, old)
            post_events(eh, 1)
            eh.wait_log(r"spool: writing again")  # logged after every earlier line
            assert_eq(len(eh.wait_log(r"spool: write failed")), 1, "one log line while it could not write")
            m = eh.request("GET", "/metrics").body.decode()
            assert_true(re.search(r"\nedgehook_spool_write_errors_total [1-9]", m), "write error counted")
    finally:
        sink.close()
