"""The command runner under hostile input: placeholders that cannot be
passed exactly, commands that ignore SIGTERM, refused runs, output that
is not UTF-8, and the memory a finished run keeps."""
import json
import os
import signal
import subprocess
import tempfile

import harness
from harness import Edgehook, assert_eq, assert_true, write_script




def events(eh, n, timeout=10.0):
    return [json.loads(l) for l in eh.wait_stdout(n, timeout)]


def run_record(eh, run_id):
    r = eh.request("GET", "/api/v1/runs/" + run_id)
    assert_eq(r.status, 200, "run record")
    return r.json()


def test_json_placeholder_unpassable_value_fails_run():
    """A 70,000-byte value became "", a value with \\u0000 was cut at the
    NUL and a missing path became "": each ran the command with an
    argument nobody sent. Each must fail the run with a clear error."""
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    marker = os.path.join(d, "ran")
    script = write_script(d, "cmd.sh", "#!/bin/sh\necho \"$@\" >> %s\n" % marker)
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:", events: ["run.*"]}
triggers:
  - id: site
    run: {command: %s, args: ["/srv/www/{json.site}"], allow_root: true}
""" % script
    cases = [
        (json.dumps({"site": "x" * 70000}), "longer than"),
        (json.dumps({"site": "ok\u0000--evil"}), "NUL"),
        (json.dumps({"other": "ok"}), "missing"),
        (b"", "missing"),
    ]
    with Edgehook(cfg) as eh:
        for i, (body, why) in enumerate(cases):
            r = eh.request("POST", "/webhooks/site", body)
            assert_eq(r.status, 202, why)
            run_id = r.json()["run_id"]
            ev = events(eh, i + 1)[i]
            assert_eq((ev["event"], ev["resource_id"]), ("run.failed", run_id), why)
            assert_true("{json.site}" in ev["error"] and why in ev["error"], ev)
            st = run_record(eh, run_id)
            assert_eq(st["state"], "failed", why)
            assert_true("{json.site}" in st["error"] and why in st["error"], st)
        # the control case: an exact value runs the command
        r = eh.request("POST", "/webhooks/site", json.dumps({"site": "a b"}))
        ev = events(eh, len(cases) + 2)
        assert_eq([e["event"] for e in ev[len(cases):]], ["run.started", "run.completed"])
    with open(marker) as f:
        assert_eq(f.read(), "/srv/www/a b\n", "only the exact value reached the command")


def test_json_placeholder_key_compared_by_full_length():
    """{"ref\\u0000x": ...} matched {json.ref} (keys compared with strcmp
    after unescaping); every JSON reader sees ref = "main"."""
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    out = os.path.join(d, "out")
    script = write_script(d, "cmd.sh", "#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\n" % out)
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:", events: ["run.completed", "run.failed"]}
triggers:
  - id: git
    run: {command: %s, args: ["{json.ref}"], allow_root: true}
""" % script
    with Edgehook(cfg) as eh:
        body = b'{"ref\\u0000x":"--upload-pack=evil","ref":"main"}'
        r = eh.request("POST", "/webhooks/git", body)
        assert_eq(r.status, 202)
        assert_eq(events(eh, 1)[0]["event"], "run.completed")
        with open(out) as f:
            assert_eq(f.read(), "main\n")




def test_timeout_sigkills_group_after_leader_died():
    """The leader dies from SIGTERM and is reaped; a background child that
    ignores SIGTERM must still get the SIGKILL at the grace deadline."""
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    pidfile = os.path.join(d, "bg.pid")
    # an ignored signal stays ignored across exec: sleep ignores SIGTERM
    script = write_script(d, "cmd.sh", """#!/bin/sh
(trap '' TERM; exec sleep 120) &
echo $! > %s.tmp && mv %s.tmp %s
exec sleep 60
""" % (pidfile, pidfile, pidfile))
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:", events: ["run.failed"]}
triggers:
  - {id: stubborn, run: {command: %s, timeout: 300ms, allow_root: true}}
""" % script
    bg = None
    try:
        with Edgehook(cfg) as eh:
            assert_eq(eh.request("POST", "/webhooks/stubborn", b"{}").status, 202)
            ev = events(eh, 1)[0]
            assert_true("timeout" in ev["error"], ev)
            with open(pidfile) as f:
                bg = int(f.read())
            assert_true(harness.proc_alive(bg), "the child survived SIGTERM, as it should")
            # the SIGKILL is due 5 s after the SIGTERM
            eh.wait_for(lambda: not harness.proc_alive(bg), 20, "the SIGKILL to the group (child ignoring SIGTERM)")
    finally:
        if bg and harness.proc_alive(bg):
            os.kill(bg, signal.SIGKILL)


def test_run_args_over_bound_are_config_error():
    """65 args were accepted by the loader and refused per request (after
    the trigger had emitted its event)."""
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write("triggers:\n  - id: many\n    emit: true\n    run:\n      command: /bin/true\n      args: [%s]\n"
                % ", ".join(["x"] * 65))
    binary = os.environ.get("EDGEHOOK_BIN", harness.BIN)
    p = subprocess.run([binary, "--check", "-c", cfg], capture_output=True, text=True, timeout=60)
    assert_eq(p.returncode, 2, p.stdout + p.stderr)
    assert_true("at most 64" in p.stdout + p.stderr, p.stdout + p.stderr)
    # the API loads triggers with the same loader
    with Edgehook("api:\n  allow_run: true\n") as eh:
        run = {"command": "/bin/true", "args": ["x"] * 65}
        r = eh.request("PUT", "/api/v1/triggers/many", json.dumps({"emit": True, "run": run}))
        assert_eq(r.status, 400, r.body)
        assert_true("at most 64" in r.json()["error"], r.json())
        run["args"] = ["x"] * 64
        assert_eq(eh.request("PUT", "/api/v1/triggers/many", json.dumps({"emit": True, "run": run})).status, 201)


def test_refused_run_emits_no_event():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    gate = os.path.join(d, "gate")
    script = write_script(d, "wait.sh", "#!/bin/sh\nwhile [ ! -e %s ]; do sleep 0.05; done\n" % gate)
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:"}
triggers:
  - {id: busy, emit: true, run: {command: %s, concurrency: 1, queue: 0, allow_root: true}}
""" % script
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("POST", "/webhooks/busy", b'{"n":1}').status, 202)
        for n in (2, 3, 4):
            assert_eq(eh.request("POST", "/webhooks/busy", json.dumps({"n": n})).status, 503)
        open(gate, "w").close()
        eh.wait_for(lambda: any('"run.completed"' in l for l in eh.stdout_lines), 10, "run.completed")
        got = [json.loads(l) for l in eh.stdout_lines]
        received = [e["data"]["n"] for e in got if e["event"] == "webhook.received"]
        assert_eq(received, [1], "only the accepted request emitted")


def test_run_output_tail_stays_valid_json():
    """Invalid UTF-8 in the output and a 4 KiB cut inside a character
    made GET /api/v1/runs/{id} invalid JSON."""
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    bad = write_script(d, "bad.sh", "#!/bin/sh\nprintf 'ok \\377\\376 \\303( end'\n")
    cut = write_script(d, "cut.sh", "#!/bin/sh\nprintf a\ni=0\nwhile [ $i -lt 3000 ]; do printf '\\303\\251'; i=$((i+1)); done\n")
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:", events: ["run.completed"]}
triggers:
  - {id: bad, run: {command: %s, allow_root: true}}
  - {id: cut, run: {command: %s, allow_root: true}}
""" % (bad, cut)
    with Edgehook(cfg) as eh:
        ids = [eh.request("POST", "/webhooks/" + t, b"{}").json()["run_id"] for t in ("bad", "cut")]
        events(eh, 2)
        st = run_record(eh, ids[0])
        assert_eq(st["output"], "ok \ufffd\ufffd \ufffd( end")
        st = run_record(eh, ids[1])
        out = st["output"]
        assert_true(out and set(out) == {"\u00e9"}, "cut at a character boundary: %r" % out[:8])
        assert_true(len(out.encode()) <= 4096, "tail bounded")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@harness.serial
def test_finished_runs_release_request_bodies():
    """200 finished runs with 1 MiB bodies kept +204 MiB: each run held its
    input copy and expanded args until it left the history ring. The
    growth over n more runs must stay far below the n MiB they carried."""
    n = 24
    body = b'{"tag":"' + b"t" * 60000 + b'","pad":"' + b"x" * ((1 << 20) - 60032) + b'"}'
    cfg = """
server:
  max_body_bytes: 2MiB
webhook:
  endpoints:
    - {url: "stdout:", events: ["run.completed"]}
triggers:
  - {id: big, run: {command: /bin/true, args: ["{json.tag}"], allow_root: true}}
"""
    # ASan's quarantine would keep freed bodies resident on purpose
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"}
    with Edgehook(cfg, env=env) as eh:
        def batch(k, done):
            for _ in range(k):
                assert_eq(eh.request("POST", "/webhooks/big", body).status, 202)
            eh.wait_stdout(done + k, 60)
            return done + k
        done = batch(n, 0)
        base = rss_kib(eh.proc.pid)
        done = batch(2 * n, done)
        grown = rss_kib(eh.proc.pid) - base
        assert_true(grown < 2 * n * 1024 // 4, "RSS grew %d KiB over %d finished 1 MiB runs" % (grown, 2 * n))
