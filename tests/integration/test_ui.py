"""The status page (GET /ui): its files, headers and access rule over
plain HTTP, the read-only API views it is built from (events, runs,
received, spool, stats/series), and the page itself driven in Debian's
chromium by tests/ui/status_page.js (puppeteer-core, installed by
tests/setup.sh): an endpoint failing with 500 goes dead, the dead letter
shows, the sink recovers, Replay delivers it with the same webhook-id and
the endpoint turns healthy; no request leaves the origin; a token is
asked once."""
import json
import os
import shutil
import subprocess
import threading

import harness
from harness import Edgehook, assert_eq, assert_true, serial, timeout, wait_until, write_script
from sinks import Sink

UI_DIR = os.path.join(harness.REPO, "tests", "ui")
ARTIFACTS = os.path.join(harness.REPO, "tests", "artifacts")
SERIES_BUCKETS = 60
# one endpoint "ci" that gets one retry 50 ms after a failure
CI_ENDPOINT = """
webhook:
  retries: 1
  backoff: 50ms
  endpoints:
    - name: ci
      url: "%s"
"""
# a trigger (id, command) that emits and runs, and a spool (dir)
TRIGGER_AND_SPOOL = """
triggers:
  - id: %s
    emit: true
    run: {command: %s, allow_root: true}
spool:
  dir: %s
"""


def ui_files(eh, headers=None):
    """{path: Response} of the page and of every file it loads."""
    page = eh.request("GET", "/ui", headers=headers)
    out = {"/ui": page}
    if page.status == 200:
        for ref in ("/ui/status.css", "/ui/status.js"):
            assert_true(('"%s"' % ref).encode() in page.body, "the page loads %s" % ref)
            out[ref] = eh.request("GET", ref, headers=headers)
    return out


def post_event(eh, body, headers=None):
    r = eh.request("POST", "/api/v1/events", json.dumps(body).encode(),
                   dict({"Content-Type": "application/json"}, **(headers or {})))
    assert_eq(r.status, 202, r.body)
    return r.json()["id"]


def test_ui_files_size_headers_and_methods():
    with Edgehook('webhook:\n  endpoints:\n    - url: "stdout:"\n') as eh:
        files = ui_files(eh)
        total = 0
        for path, r in files.items():
            assert_eq(r.status, 200, path)
            assert_eq(r.header("content-security-policy"), "default-src 'self'", path)
            assert_eq(r.header("x-content-type-options"), "nosniff", path)
            total += len(r.body)
        assert_true(total < 40 * 1024, "page, style and script under 40 KiB (%d bytes)" % total)
        assert_true(files["/ui"].header("content-type").startswith("text/html"), "html")
        assert_true(files["/ui/status.js"].header("content-type").startswith("text/javascript"), "js")
        assert_true(files["/ui/status.css"].header("content-type").startswith("text/css"), "css")
        page = files["/ui"].body
        # the CSP forbids inline code: nothing inline, nothing from elsewhere
        for bad in (b"<style", b" style=", b"onclick", b"http://", b"https://", b"//cdn"):
            assert_true(bad not in page, "page holds %r" % bad)
        assert_true(b"<script src=\"/ui/status.js\"" in page and b"<script>" not in page, "script is a file")
        assert_eq(eh.request("GET", "/ui/").body, page, "/ui/ is the page")
        assert_eq(eh.request("GET", "/ui/nope.js").status, 404)
        assert_eq(eh.request("POST", "/ui", b"x").status, 405)
        s = eh.connect()
        s.sendall(harness.build_request("HEAD", "/ui"))
        r = harness.read_response(s, head_request=True)
        s.close()
        assert_eq((r.status, r.body, r.header("content-length")), (200, b"", str(len(page))), "HEAD")


def test_ui_access_rule_is_the_apis():
    """Without api.token only local, unproxied callers get the page; with
    a token everyone reaching the listener gets the page (it holds no
    data) but no data without the token; with api.listen the page lives
    there and only there."""
    stdout = 'webhook:\n  endpoints:\n    - url: "stdout:"\n'
    proxied = {"X-Forwarded-For": "198.51.100.4"}
    with Edgehook(stdout) as eh:
        for path in ("/ui", "/ui/status.js", "/ui/status.css"):
            assert_eq(eh.request("GET", path, headers=proxied).status, 403, path)
            assert_eq(eh.request("GET", path, headers={"Via": "1.1 proxy"}).status, 403, path)
        assert_eq(eh.request("GET", "/api/v1/stats/series", headers=proxied).status, 403, "data neither")
    with Edgehook("server:\n  trusted_proxies: [127.0.0.1]\n" + stdout) as eh:
        assert_eq(eh.request("GET", "/ui").status, 403, "a trusted proxy's peer is not local")
    with Edgehook("api:\n  token: tok\n" + stdout) as eh:
        assert_eq(eh.request("GET", "/ui", headers=proxied).status, 200, "the page itself")
        for path in ("endpoints", "stats/series", "events", "runs", "received", "spool", "dead"):
            assert_eq(eh.request("GET", "/api/v1/" + path, headers=proxied).status, 401, path)
            assert_eq(eh.request("GET", "/api/v1/" + path,
                                 headers=dict(proxied, Authorization="Bearer tok")).status, 200, path)
    sock = os.path.join(harness.tempfile.mkdtemp(prefix="edgehook-ui-"), "api.sock")
    with Edgehook("api:\n  listen: unix:%s\n" % sock + stdout) as eh:
        assert_eq(eh.request("GET", "/ui").status, 404, "not on server.listen when api.listen is set")
        r = unix_get(sock, "/ui")
        assert_true(r.startswith(b"HTTP/1.1 200") and b"default-src 'self'" in r, r[:200])


def test_ui_api_refuses_other_origins():
    """Another site's page in the operator's browser cannot drive the API
    (CSRF: the browser says so in Origin and Sec-Fetch-Site), nor can a
    page whose name was rebound to 127.0.0.1 (its Host is its own name)."""
    sink = Sink(lambda i, r: ("status", 500, {}))
    with Edgehook('webhook:\n  endpoints:\n    - name: ci\n      url: "%s"\n' % sink.url()) as eh:
        evid = post_event(eh, {"event": "e"})
        eh.wait_for(lambda: eh.endpoints()["ci"]["failed"] == 1, what="dead letter")
        replay = "/api/v1/events/%s/replay?endpoint=ci" % evid
        for h in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:1"},
                  {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                  {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1"},
                  {"Host": "rebound.example:%d" % eh.port, "Origin": "http://rebound.example:%d" % eh.port}):
            r = eh.request("POST", replay, headers=h)
            assert_eq(r.status, 403, h)
            assert_eq(eh.request("GET", "/api/v1/endpoints", headers=h).status, 403, h)
        assert_eq(len(sink.requests), 1, "nothing was replayed")
        here = "127.0.0.1:%d" % eh.port
        for h in ({"Origin": "http://" + here, "Sec-Fetch-Site": "same-origin", "Host": here},
                  {"Host": "localhost:%d" % eh.port}, {"Host": "[::1]"}, {"Sec-Fetch-Site": "none"}):
            assert_eq(eh.request("GET", "/api/v1/endpoints", headers=h).status, 200, h)
        assert_eq(eh.request("POST", replay, headers={"Origin": "http://" + here, "Host": here}).status, 202)
        sink.wait(2)
        assert_eq(eh.request("GET", "/ui", headers={"Sec-Fetch-Site": "cross-site"}).status, 200,
                  "a link from elsewhere opens the page (it holds no data)")
    with Edgehook('api:\n  token: tok\nwebhook:\n  endpoints:\n    - url: "stdout:"\n') as eh:
        h = {"Authorization": "Bearer tok", "Host": "edge.example"}
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers=h).status, 200, "any name with the token")
        # behind a proxy that rewrites Host: the browser's word, or the proxy's
        h.update({"Host": "127.0.0.1:8080", "Origin": "https://edge.example"})
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers=dict(h, **{"Sec-Fetch-Site": "same-origin"})).status,
                  200, "Sec-Fetch-Site decides")
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers=dict(h, **{"X-Forwarded-Host": "edge.example"})).status,
                  200, "the proxy's X-Forwarded-Host")
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers=h).status, 403, "Origin is not the host")
        # a default port is written in one and left out of the other
        for o, host in (("http://edge.example", "edge.example:80"), ("https://edge.example:443", "edge.example"),
                        ("https://edge.example", "edge.example:443")):
            assert_eq(eh.request("GET", "/api/v1/endpoints", headers=dict(h, Origin=o, Host=host)).status, 200,
                      "same origin: %s vs Host %s" % (o, host))
        for o, host in (("http://edge.example", "edge.example:443"), ("https://edge.example", "edge.example:80"),
                        ("http://edge.example:8080", "edge.example"), ("http://edge.example", "edge.example:")):
            assert_eq(eh.request("GET", "/api/v1/endpoints", headers=dict(h, Origin=o, Host=host)).status, 403,
                      "another origin: %s vs Host %s" % (o, host))
        h["Origin"] = "http://evil.example"
        assert_eq(eh.request("GET", "/api/v1/endpoints", headers=dict(h, **{"Sec-Fetch-Site": "cross-site"})).status,
                  403, "never for another origin")
    sink.close()


def unix_get(path, target):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
        return harness.read_to_close(s)
    finally:
        s.close()


def test_ui_api_views_shape():
    """stats/series: 60 buckets of 10 s per endpoint, the last one live;
    events and runs newest first; received per trigger; spool; dead
    letters say whether they were replayed."""
    sink = Sink(lambda i, r: ("status", 500 if i < 2 else 200, {}))
    d = harness.tempfile.mkdtemp(prefix="edgehook-ui-")
    script = write_script(d, "hello.sh", "#!/bin/sh\necho hello from the run\nexit 3\n")
    cfg = CI_ENDPOINT % sink.url() + TRIGGER_AND_SPOOL % ("demo", script, os.path.join(d, "spool"))
    with Edgehook(cfg) as eh:
        series = eh.request("GET", "/api/v1/stats/series").json()
        assert_eq((series["interval_seconds"], series["buckets"]), (10, SERIES_BUCKETS))
        [ep] = series["endpoints"]
        assert_eq(ep["name"], "ci")
        for k in ("delivered", "failed", "retried"):
            assert_eq(ep[k], [0] * SERIES_BUCKETS, k)
        first = post_event(eh, {"event": "a.one"})
        sink.wait(2)
        eh.wait_for(lambda: eh.endpoints()["ci"]["failed"] == 1, what="the first event dead")
        since = eh.endpoints()["ci"]["failing_since"]
        assert_true(since and since.startswith(events_created(eh)[:10]), "failing since: %r" % since)
        second = post_event(eh, {"event": "a.two"})
        sink.wait(3)
        eh.wait_for(lambda: eh.endpoints()["ci"]["delivered"] == 1, what="the second delivered")
        assert_eq(eh.endpoints()["ci"]["failing_since"], None, "a success ends the failing run")
        ep = eh.request("GET", "/api/v1/stats/series").json()["endpoints"][0]
        # all within the interval in progress (a tick between them moves
        # counts into the previous bucket: sums hold either way)
        assert_eq((sum(ep["delivered"]), sum(ep["failed"]), sum(ep["retried"])), (1, 1, 1), ep)
        assert_true(ep["delivered"][-1] + ep["delivered"][-2] == 1, "counted in the newest buckets")

        def closed_buckets():
            """The counts of the intervals that ended (the tick moved them)."""
            e = eh.request("GET", "/api/v1/stats/series").json()["endpoints"][0]
            assert_eq(len(e["delivered"]), SERIES_BUCKETS)
            return sum(e["delivered"][:-1]), sum(e["failed"][:-1]), e["delivered"][-1]

        eh.wait_for(lambda: closed_buckets() == (1, 1, 0), 40, "the 10 s tick closing the bucket")
        events = eh.request("GET", "/api/v1/events?limit=5").json()["events"]
        assert_eq([e["id"] for e in events], [second, first], "newest first")
        assert_eq(events[1]["deliveries"][0]["state"], "failed")
        assert_eq(events[1]["deliveries"][0]["last_status"], 500)
        assert_eq(len(eh.request("GET", "/api/v1/events?limit=1").json()["events"]), 1)
        for bad in ("0", "x", "1001", ""):
            assert_eq(eh.request("GET", "/api/v1/events?limit=" + bad).status, 400, bad)
        assert_eq(eh.request("DELETE", "/api/v1/stats/series").status, 405)
        [dead] = eh.request("GET", "/api/v1/dead").json()["dead"]
        assert_eq((dead["id"], dead["replayed"]), (first, None))
        assert_eq(eh.request("POST", "/api/v1/events/%s/replay?endpoint=ci" % first).status, 202)
        sink.wait(4)
        eh.wait_for(lambda: eh.request("GET", "/api/v1/dead").json()["dead"][0]["replayed"] == "delivered",
                    what="the dead letter replayed")
        assert_eq(sink.requests[3].header("webhook-id"), first, "same webhook-id")
        # a webhook to the trigger: received, emitted, run
        r = eh.request("POST", "/webhooks/demo", b'{"x":1}', {"Content-Type": "application/json",
                                                             "X-Request-Id": "abc"})
        assert_eq(r.status, 202, r.body)
        got = r.json()
        [rec] = eh.request("GET", "/api/v1/received?trigger=demo").json()["received"]
        assert_eq((rec["trigger"], rec["id"], rec["run_id"]), ("demo", got["id"], got["run_id"]))
        assert_true(rec["event_id"].startswith("evt_") and rec["received"], rec)
        assert_eq(eh.request("GET", "/api/v1/received?trigger=other").json()["received"], [])
        wait_run(eh, "failed")
        [run] = eh.request("GET", "/api/v1/runs").json()["runs"]
        assert_eq((run["id"], run["exit_code"], run["output"]), (got["run_id"], 3, "hello from the run\n"))
        spool = eh.request("GET", "/api/v1/spool").json()
        assert_true(spool["enabled"] and spool["bytes"] > 0 and spool["appended"] >= 2, spool)
    sink.close()


def events_created(eh):
    """The newest event's creation time (the server's wall clock)."""
    return eh.request("GET", "/api/v1/events?limit=1").json()["events"][0]["created"]


def wait_run(eh, state):
    """Until the newest run is in state."""
    eh.wait_for(lambda: eh.request("GET", "/api/v1/runs").json()["runs"][0]["state"] == state,
                what="the run " + state)


def node_env():
    return dict(os.environ, NODE_PATH=os.path.join(UI_DIR, "node_modules"))


def drive(scenario, base, arg="", on_wait=None):
    """Runs one scenario of status_page.js; returns its step lines.
    on_wait(step) is called for each {"wait": step} before going on."""
    for tool in ("node", "chromium"):
        assert_true(shutil.which(tool), "%s missing: run tests/setup.sh" % tool)
    assert_true(os.path.isdir(os.path.join(UI_DIR, "node_modules", "puppeteer-core")),
                "puppeteer-core missing: run tests/setup.sh")
    os.makedirs(ARTIFACTS, exist_ok=True)
    proc = subprocess.Popen(["node", os.path.join(UI_DIR, "status_page.js"), scenario, base, ARTIFACTS, arg],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=node_env(), text=True)
    harness.register(proc)
    err = []
    t = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    t.start()
    steps = []
    for line in proc.stdout:
        msg = json.loads(line)
        steps.append(msg)
        if "wait" in msg:
            on_wait(msg["wait"])
            proc.stdin.write("go\n")
            proc.stdin.flush()
    rc = proc.wait(120)
    t.join(10)
    assert_eq(rc, 0, "status_page.js %s failed (screenshot in tests/artifacts):\n%s" % (scenario, "".join(err)))
    return steps


@timeout(300)
def test_ui_replay_in_browser():
    """The operator's story, clicked through in chromium."""
    state = {"fail": True}
    sink = Sink(lambda i, r: ("status", 500 if state["fail"] else 200, {}))
    ok = Sink()
    cfg = CI_ENDPOINT % sink.url() + """
    - name: ok
      url: "%s"
""" % ok.url()
    with Edgehook(cfg) as eh:
        evid = post_event(eh, {"event": "build.done", "n": 1})
        eh.wait_for(lambda: eh.endpoints()["ci"]["failed"] == 1, what="the first dead letter")
        other = post_event(eh, {"event": "build.done", "n": 2})
        ok.wait(2)

        def recover(step):
            assert_eq(step, "sink recovered")
            assert_eq(len(sink.requests), 4, "no delivery to ci before Replay")
            state["fail"] = False

        steps = drive("replay", "http://127.0.0.1:%d" % eh.port, evid + "," + other, recover)
        assert_eq([s.get("step") for s in steps if "step" in s], ["failing", "healthy"])
        reqs = sink.wait(6)
        assert_eq(len(reqs), 6, "one delivery by the Replay click, one by Recover")
        assert_eq([r.header("webhook-id") for r in reqs[4:]], [evid, other], "the same webhook-ids")
        assert_eq([json.loads(r.body)["n"] for r in reqs[4:]], [1, 2], "the same bodies")
        eps = eh.endpoints()
        assert_eq((eps["ci"]["health"], eps["ci"]["delivered"], eps["ok"]["health"]), ("healthy", 2, "healthy"))
    sink.close()
    ok.close()


@timeout(300)
def test_ui_same_origin_only_and_narrow():
    """At 360 px: no request to another origin, no CSP violation, nothing
    wider than the screen; triggers, runs and the spool are shown."""
    d = harness.tempfile.mkdtemp(prefix="edgehook-ui-")
    script = write_script(d, "out.sh", "#!/bin/sh\necho line one\necho line two\n")
    sink = Sink()
    cfg = """
webhook:
  endpoints:
    - name: a-rather-long-endpoint-name-for-a-narrow-screen
      url: "%s"
""" % sink.url("/a/very/long/path/that/would/not/fit/on/a/phone/screen/at/all") + \
        TRIGGER_AND_SPOOL % ("deploy", script, os.path.join(d, "s"))
    with Edgehook(cfg) as eh:
        r = eh.request("POST", "/webhooks/deploy", b'{"x":1}', {"Content-Type": "application/json"})
        assert_eq(r.status, 202, r.body)
        wait_run(eh, "completed")
        sink.wait(2)  # the event and run.completed
        [step] = drive("plain", "http://127.0.0.1:%d" % eh.port)
        assert_true("deploy" in step["triggers"] and "webhook.received" in step["triggers"], step)
        assert_true("line two" in step["runs"] and "completed" in step["runs"], step)
        assert_true("Spool size" in step["queue"], step)
    sink.close()


@timeout(300)
def test_ui_token_asked_once():
    with Edgehook('api:\n  token: s3cr3t-t0ken\nwebhook:\n  endpoints:\n    - url: "stdout:"\n') as eh:
        drive("token", "http://127.0.0.1:%d" % eh.port, "s3cr3t-t0ken")


@timeout(300)
def test_ui_enable_a_gone_endpoint():
    sink = Sink(lambda i, r: ("status", 410, {}))
    with Edgehook('webhook:\n  endpoints:\n    - name: gone\n      url: "%s"\n' % sink.url()) as eh:
        post_event(eh, {"event": "e"})
        eh.wait_for(lambda: eh.endpoints()["gone"]["disabled"], what="disabled by 410")
        [step] = drive("enable", "http://127.0.0.1:%d" % eh.port)
        assert_eq(step["message"], "Endpoint gone enabled.")
        assert_eq(eh.endpoints()["gone"]["disabled"], False)
    sink.close()


def dead_letters(eh, n):
    """Sends events until n deliveries to the closed port are dead."""
    have = eh.endpoints()["gone"]["failed"]
    while have < n:
        k = min(1000, n - have)
        r = eh.request("POST", "/api/v1/events", json.dumps([{"event": "e"}] * k).encode(),
                       {"Content-Type": "application/json"})
        assert_eq(r.status, 202, r.body)
        have += k
        # not eh.wait_for: it holds the log readers' lock while it asks, and
        # thousands of log lines then fill the pipe the relay writes to
        wait_until(lambda: eh.endpoints()["gone"]["failed"] >= have, 120, "%d dead letters" % have)


def dead_cpu_ns(eh):
    """The least CPU one GET /api/v1/dead took in three, and its count."""
    best, count = None, 0
    for _ in range(3):
        before = eh.cpu_ns()
        r = eh.request("GET", "/api/v1/dead")
        spent = eh.cpu_ns() - before
        assert_eq(r.status, 200, r.body[:200])
        count = len(r.json()["dead"])
        best = spent if best is None else min(best, spent)
    return best, count


@serial
@timeout(300)
def test_ui_dead_letters_cost_linear_in_history():
    """GET /api/v1/dead (the status page asks every 2 s) looks up each
    dead letter's newest replay: that must not walk the whole history per
    letter, or a full history (up to 1,000,000) blocks the loop for
    minutes. Twice the dead letters cost about twice, not four times."""
    n = 6000
    cfg = ("webhook:\n  history: %d\n  breaker: {failures: 1000000}\n  endpoints:\n"
           "    - name: gone\n      url: \"http://127.0.0.1:1/\"\n" % (2 * n))
    with Edgehook(cfg) as eh:
        dead_letters(eh, n)
        one, c1 = dead_cpu_ns(eh)
        dead_letters(eh, 2 * n)
        two, c2 = dead_cpu_ns(eh)
        assert_eq((c1, c2), (n, 2 * n))
        assert_true(two < 3 * one, "2n dead letters cost %.1fx n's (%d vs %d ns)" % (two / one, two, one))


def test_ui_dead_letters_limit():
    """GET /api/v1/dead?limit=N: the newest N dead letters (still newest
    last), as the other lists take a limit; the page asks for a bounded
    list, not for every dead letter of a history of up to 1,000,000."""
    cfg = ("webhook:\n  endpoints:\n    - name: gone\n      url: \"http://127.0.0.1:1/\"\n")
    with Edgehook(cfg) as eh:
        ids = [post_event(eh, {"event": "e%d" % i}) for i in range(3)]
        wait_until(lambda: eh.endpoints()["gone"]["failed"] == 3, 60, "three dead letters")
        everything = [d["id"] for d in eh.request("GET", "/api/v1/dead").json()["dead"]]
        assert_eq(sorted(everything), sorted(ids), "without limit: all of them")
        newest = [d["id"] for d in eh.request("GET", "/api/v1/dead?limit=2").json()["dead"]]
        assert_eq(newest, everything[1:], "the newest two, newest last")
        assert_eq(eh.request("GET", "/api/v1/dead?limit=2&endpoint=gone").json()["dead"],
                  eh.request("GET", "/api/v1/dead?limit=2").json()["dead"], "with the endpoint filter")
        assert_eq(eh.request("GET", "/api/v1/dead?limit=0").status, 400)
        script = eh.request("GET", "/ui/status.js").body
        assert_true(b"'dead?limit=" in script and b"api('GET', 'dead')" not in script, "the page bounds its list")
