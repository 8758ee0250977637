"""Inbound triggers with real signed requests (GitHub JSON and form,
GitLab, Slack with an injected clock, Standard Webhooks), source rules,
dedupe, the command runner and the runtime trigger API."""
import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import tempfile
import time
import urllib.parse

from harness import Edgehook, assert_eq, assert_true, proc_alive, serial
from sinks import Sink

GH_SECRET = "It's a Secret to Everybody"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK_TS = 1531420618


def gh_sig(body, secret=GH_SECRET, algo="sha256"):
    return "%s=%s" % (algo, hmac.new(secret.encode(), body, getattr(hashlib, algo)).hexdigest())


def slack_sig(body, ts, secret=SLACK_SECRET):
    base = b"v0:" + str(ts).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def std_headers(body, msg_id="msg_1", ts=None, secret=STD_SECRET):
    ts = str(int(time.time()) if ts is None else ts)
    key = base64.b64decode(secret[len("whsec_"):])
    sig = base64.b64encode(hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1,bm9wZQ== v1," + sig}


BASE = """
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - id: gh
    kind: github
    secret: "It's a Secret to Everybody"
    emit: true
  - id: gh1
    kind: github
    secret: "It's a Secret to Everybody"
    allow_sha1: true
  - id: gl
    kind: gitlab
    secret: gl-token
    emit: true
  - id: sl
    kind: slack
    secret: 8f742231b10e8888abcd99yyyzzz85a5
    emit: true
  - id: std
    kind: standard
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    emit: true
  - id: gen
    kind: generic
    secret: gensecret
    emit: true
"""


def test_github_signatures():
    with Edgehook(BASE) as eh:
        body = b'{"action":"opened","repository":{"full_name":"o/r"}}'
        h = {"X-Hub-Signature-256": gh_sig(body), "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-1"}
        r = eh.request("POST", "/webhooks/gh", body, h)
        assert_eq(r.status, 202)
        ev = json.loads(eh.wait_stdout(1)[0])
        assert_eq((ev["event"], ev["delivery_id"], ev["data"]["repository"]["full_name"]), ("pull_request", "d-1", "o/r"))
        assert_eq(eh.request("POST", "/webhooks/gh", body, dict(h, **{"X-GitHub-Delivery": "d-1"})).status, 200)
        bad = dict(h, **{"X-Hub-Signature-256": gh_sig(body, "wrong"), "X-GitHub-Delivery": "d-2"})
        r = eh.request("POST", "/webhooks/gh", body, bad)
        assert_eq(r.status, 401)
        assert_eq(r.json()["error"], "signature mismatch")
        assert_eq(eh.request("POST", "/webhooks/gh", body, {"X-GitHub-Event": "push"}).status, 401)
        assert_eq(eh.request("POST", "/webhooks/gh", body + b" ", h).status, 401)
        sha1 = {"X-Hub-Signature": gh_sig(body, algo="sha1")}
        assert_eq(eh.request("POST", "/webhooks/gh", body, sha1).status, 401)
        assert_eq(eh.request("POST", "/webhooks/gh1", body, sha1).status, 202)
        # the GitHub route on a generic trigger verifies GitHub-style with its secret
        assert_eq(eh.request("POST", "/webhooks/gen/github", body, {"X-Hub-Signature-256": gh_sig(body, "gensecret")}).status, 202)
        assert_eq(eh.request("POST", "/webhooks/gen", body, {"X-Hub-Signature-256": gh_sig(body, "gensecret")}).status, 202)
        assert_eq(eh.request("POST", "/webhooks/gen", body).status, 401)


def test_github_form_payload():
    with Edgehook(BASE) as eh:
        payload = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1})
        body = urllib.parse.urlencode({"payload": payload}).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded", "X-Hub-Signature-256": gh_sig(body), "X-GitHub-Event": "ping"}
        assert_eq(eh.request("POST", "/webhooks/gh", body, h).status, 202)
        ev = json.loads(eh.wait_stdout(1)[0])
        assert_eq(ev["event"], "ping")
        assert_eq(ev["data"], {"zen": "Keep it logically awesome.", "hook_id": 1})
        body = b"other=1"
        h["X-Hub-Signature-256"] = gh_sig(body)
        assert_eq(eh.request("POST", "/webhooks/gh", body, h).status, 400)


def test_gitlab_token():
    with Edgehook(BASE) as eh:
        body = b'{"object_kind":"push"}'
        h = {"X-Gitlab-Token": "gl-token", "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "u-1"}
        assert_eq(eh.request("POST", "/webhooks/gl", body, h).status, 202)
        assert_eq(json.loads(eh.wait_stdout(1)[0])["event"], "Push Hook")
        assert_eq(eh.request("POST", "/webhooks/gl", body, h).status, 200)
        assert_eq(eh.request("POST", "/webhooks/gl", body, {"X-Gitlab-Token": "gl-tokeN"}).status, 401)
        assert_eq(eh.request("POST", "/webhooks/gl", body).status, 401)
        assert_eq(eh.request("POST", "/webhooks/gl/gitlab", body, {"X-Gitlab-Token": "gl-token"}).status, 202)


def test_slack_with_injected_clock():
    with open("/work/shared/testdata/signatures.json") if os.path.exists("/work/shared/testdata/signatures.json") else \
            open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "testdata", "signatures.json")) as f:
        vec = json.load(f)["slack_v0"]
    with Edgehook(BASE, env={"EDGEHOOK_TEST_NOW": str(SLACK_TS + 60)}) as eh:
        body = vec["body"].encode()
        h = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": vec["timestamp"],
             "X-Slack-Signature": vec["expected"]}
        r = eh.request("POST", "/webhooks/sl", body, h)
        assert_eq(r.status, 202)
        ev = json.loads(eh.wait_stdout(1)[0])
        assert_eq((ev["data"]["command"], ev["data"]["user_name"], ev["data"]["text"]), ("/webhook-collect", "roadrunner", ""))
        assert_eq(eh.request("POST", "/webhooks/sl", body, dict(h, **{"X-Slack-Signature": "v0=00"})).status, 401)
        assert_eq(eh.request("POST", "/webhooks/sl", body, {"Content-Type": "application/x-www-form-urlencoded"}).status, 401)
        stale_ts = SLACK_TS - 400
        r = eh.request("POST", "/webhooks/sl", body, dict(h, **{"X-Slack-Request-Timestamp": str(stale_ts),
                                                                 "X-Slack-Signature": slack_sig(body, stale_ts)}))
        assert_eq(r.status, 401)
        assert_true("window" in r.json()["error"], "stale timestamp named")
        chal = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).encode()
        r = eh.request("POST", "/webhooks/sl", chal, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(SLACK_TS),
                                                      "X-Slack-Signature": slack_sig(chal, SLACK_TS)})
        assert_eq(r.status, 200)
        assert_eq(r.json(), {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})


def test_standard_webhooks_inbound():
    with Edgehook(BASE) as eh:
        body = b'{"type":"invoice.paid"}'
        r = eh.request("POST", "/webhooks/std", body, std_headers(body))
        assert_eq(r.status, 202)
        assert_eq(json.loads(eh.wait_stdout(1)[0])["delivery_id"], "msg_1")
        assert_eq(eh.request("POST", "/webhooks/std", body, std_headers(body)).status, 200)
        assert_eq(eh.request("POST", "/webhooks/std", body, std_headers(body, "msg_2", secret="whsec_" + base64.b64encode(b"k" * 24).decode())).status, 401)
        assert_eq(eh.request("POST", "/webhooks/std", body, std_headers(body, "msg_3", ts=int(time.time()) - 600)).status, 401)
        assert_eq(eh.request("POST", "/webhooks/std", body, {"webhook-id": "m"}).status, 401)
        assert_eq(eh.request("POST", "/webhooks/std", b'{"type":"x"}', std_headers(body, "msg_4")).status, 401)


def test_refused_delivery_is_not_remembered_as_seen():
    """A delivery refused with 400/401/503 must be accepted when the
    provider retries it: only accepted ids enter the dedupe window."""
    hole = Sink(lambda i, r: ("blackhole",))
    cfg = """
server:
  drain_timeout: 100ms
webhook:
  queue: 1
  timeout: 400ms
  endpoints:
    - url: "%s"
triggers:
  - {id: t, emit: true}
  - {id: g, kind: github, secret: s, emit: true}
""" % hole.url()
    with Edgehook(cfg) as eh:
        h = {"Idempotency-Key": "retry-me"}
        assert_eq(eh.request("POST", "/webhooks/t", b"{broken", h).status, 400)
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", h).status, 202)
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", h).status, 200, "now it is a duplicate")
        body = b'{"a":1}'
        g = {"X-GitHub-Delivery": "sig-retry", "X-Hub-Signature-256": gh_sig(body, "wrong")}
        assert_eq(eh.request("POST", "/webhooks/g", body, g).status, 401)
        full = {"Idempotency-Key": "queue-retry"}
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", full).status, 503)  # the one slot is taken
        eh.wait_log("delivery failed")  # the black hole's attempt timed out and freed the slot
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", full).status, 202)
        assert_eq(eh.request("POST", "/webhooks/g", body, dict(g, **{"X-Hub-Signature-256": gh_sig(body, "s")})).status, 503)
    hole.close()


def test_ip_rules_v4_v6_and_event_source():
    cfg = """
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: v4ok, allowed_ips: [127.0.0.0/8]}
  - {id: v4no, allowed_ips: [10.0.0.0/8]}
  - {id: v6ok, allowed_ips: ["::1"]}
  - {id: v6no, allowed_ips: ["2001:db8::/32"]}
  - {id: src, event_source: ci.example.com}
  - {id: srcip, event_source: 127.0.0.1}
"""
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("POST", "/webhooks/v4ok", b"{}").status, 202)
        assert_eq(eh.request("POST", "/webhooks/v4no", b"{}").status, 403)
        assert_eq(eh.request("POST", "/webhooks/v6no", b"{}").status, 403)
        assert_eq(eh.request("POST", "/webhooks/src", b"{}").status, 403)
        assert_eq(eh.request("POST", "/webhooks/src", b"{}", {"Origin": "https://ci.example.com"}).status, 202)
        assert_eq(eh.request("POST", "/webhooks/src", b"{}", {"Origin": "https://evil.example.com"}).status, 403)
        assert_eq(eh.request("POST", "/webhooks/srcip", b"{}").status, 202)
    with Edgehook(cfg, listen="[::1]:0") as eh6:
        import socket
        def req6(path):
            s = socket.create_connection(("::1", eh6.port), timeout=5)
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" % path).encode())
            from harness import read_response
            r = read_response(s)
            s.close()
            return r.status
        assert_eq(req6("/webhooks/v6ok"), 202)
        assert_eq(req6("/webhooks/v6no"), 403)
        assert_eq(req6("/webhooks/v4ok"), 403)


def test_trusted_proxy_forwarded_for():
    cfg = """
server:
  trusted_proxies: [127.0.0.1]
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: t, allowed_ips: [203.0.113.0/24], emit: true}
"""
    with Edgehook(cfg) as eh:
        assert_eq(eh.request("POST", "/webhooks/t", b"{}").status, 403)
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}).status, 202)
        assert_eq(json.loads(eh.wait_stdout(1)[0])["source_ip"], "203.0.113.9")
    with Edgehook(cfg.replace("[127.0.0.1]", "[10.0.0.1]")) as eh:
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"X-Forwarded-For": "203.0.113.9"}).status, 403)


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, stat.S_IRWXU)
    return path


def test_runner_args_env_stdin_and_events():
    sink = Sink()
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    out = os.path.join(d, "out.txt")
    script = write_script(os.path.join(d, "cmd.sh"), """#!/bin/sh
{ printf 'args:'; for a in "$@"; do printf '[%%s]' "$a"; done; echo
  echo "env:$EDGEHOOK_EVENT|$EDGEHOOK_DELIVERY|$EDGEHOOK_TRIGGER|$EDGEHOOK_SOURCE_IP|$EDGEHOOK_RUN_ID"
  echo "secret:${DEPLOY_SECRET:-unset}"
  printf 'stdin:'; cat; echo
  ls /proc/self/fd | tr '\\n' ' '; echo
} > %s
echo "done on stdout"
echo "warn on stderr" >&2
""" % out)
    cfg = """
webhook:
  endpoints:
    - url: "%s"
      events: ["run.*"]
triggers:
  - id: deploy
    secret: ${DEPLOY_SECRET}
    run:
      command: %s
      args: ["{event}", "{delivery}", "{json.repository.full_name}", "{json.commits.0.id}", "{trigger}", "{source_ip}", "x{nope}y"]
      allow_root: true
""" % (sink.url(), script)
    with Edgehook(cfg, env={"DEPLOY_SECRET": "s"}) as eh:
        body = b'{"repository":{"full_name":"o/r"},"commits":[{"id":"abc"}]}'
        r = eh.request("POST", "/webhooks/deploy", body, {"X-Hub-Signature-256": gh_sig(body, "s"), "X-GitHub-Event": "push",
                                                          "Idempotency-Key": "dd"})
        assert_eq(r.status, 202)
        run_id = r.json()["run_id"]
        assert_true(run_id.startswith("run_"), "run id")
        reqs = sink.wait(2)
        evs = [json.loads(q.body) for q in reqs]
        assert_eq([e["event"] for e in evs], ["run.started", "run.completed"])
        assert_eq((evs[1]["resource_type"], evs[1]["resource_id"], evs[1]["exit_code"], evs[1]["trigger"]), ("run", run_id, 0, "deploy"))
        assert_eq(evs[1]["resource_url"], "/api/v1/runs/" + run_id)
        assert_true(isinstance(evs[1]["duration_ms"], int), "duration")
        with open(out) as f:
            lines = f.read().splitlines()
        assert_eq(lines[0], "args:[push][dd][o/r][abc][deploy][127.0.0.1][x{nope}y]")
        assert_eq(lines[1], "env:push|dd|deploy|127.0.0.1|" + run_id)
        assert_eq(lines[2], "secret:unset", "server environment does not leak")
        assert_eq(lines[3], "stdin:" + body.decode())
        # stdin, stdout (the file), stderr, and the directory ls reads
        assert_eq(lines[4].split(), ["0", "1", "2", "3"], "no inherited descriptors")
        st = eh.request("GET", "/api/v1/runs/" + run_id).json()
        assert_eq((st["state"], st["exit_code"], st["trigger"]), ("completed", 0, "deploy"))
        assert_true("done on stdout" in st["output"] and "warn on stderr" in st["output"], st["output"])
        assert_eq(eh.request("GET", "/api/v1/runs/run_nope").status, 404)
    sink.close()


def test_runner_timeout_failure_and_no_zombies():
    sink = Sink()
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    pids = os.path.join(d, "pids")
    # both sleeps write their pid: the check below looks at exactly these
    # processes, not at every "sleep 30" on the machine
    hang = write_script(os.path.join(d, "hang.sh"),
                        "#!/bin/sh\nsleep 30 &\necho $! >> %s\necho $$ >> %s\nexec sleep 30\n" % (pids, pids))
    fail = write_script(os.path.join(d, "fail.sh"), "#!/bin/sh\necho oops >&2\nexit 3\n")
    noisy = write_script(os.path.join(d, "noisy.sh"), "#!/bin/sh\ni=0\nwhile [ $i -lt 10000 ]; do echo line $i; i=$((i+1)); done\n")
    cfg = """
webhook:
  endpoints:
    - {url: "%s", events: ["run.failed", "run.completed"]}
triggers:
  - {id: hang, run: {command: %s, timeout: 500ms, allow_root: true}}
  - {id: fail, run: {command: %s, allow_root: true}}
  - {id: noisy, run: {command: %s, allow_root: true}}
  - {id: missing, run: {command: /nonexistent/cmd, allow_root: true}}
""" % (sink.url(), hang, fail, noisy)
    with Edgehook(cfg) as eh:
        ids = {name: eh.request("POST", "/webhooks/" + name, b"{}").json()["run_id"] for name in ("hang", "fail", "noisy", "missing")}
        reqs = sink.wait(4, timeout=10)
        evs = {json.loads(q.body)["resource_id"]: json.loads(q.body) for q in reqs}
        assert_eq(evs[ids["hang"]]["event"], "run.failed")
        assert_true("timeout" in evs[ids["hang"]]["error"], evs[ids["hang"]])
        assert_eq((evs[ids["fail"]]["event"], evs[ids["fail"]]["exit_code"]), ("run.failed", 3))
        assert_eq(evs[ids["noisy"]]["event"], "run.completed")
        assert_eq(evs[ids["missing"]]["event"], "run.failed")
        # glibc's posix_spawn reports ENOENT; emulations (valgrind) exit 127
        missing = evs[ids["missing"]]
        assert_true("No such file" in missing.get("error", "") or missing["exit_code"] == 127, missing)
        st = eh.request("GET", "/api/v1/runs/" + ids["noisy"]).json()
        assert_true(st["output"].endswith("line 9999\n") and len(st["output"]) <= 4096, "last 4 KiB kept")
        assert_true("oops" in eh.request("GET", "/api/v1/runs/" + ids["fail"]).json()["output"], "stderr kept")
        # every run has ended (its event came): edgehook reaps each child
        # when it ends, so a zombie that stays is a child never reaped
        def zombies():
            out = subprocess.run(["ps", "-o", "pid=,stat=", "--ppid", str(eh.proc.pid)], capture_output=True, text=True)
            assert_true(out.returncode in (0, 1) and not out.stderr, "ps failed: %r" % out.stderr)
            return [l for l in out.stdout.splitlines() if l.split()[1].startswith("Z")]
        eh.wait_for(lambda: not zombies(), 30, "no zombies")

        with open(pids) as f:
            hung = [int(p) for p in f.read().split()]
        assert_eq(len(hung), 2, "both sleeps started")
        eh.wait_for(lambda: not any(proc_alive(p) for p in hung), 30, "the whole process group killed")
    sink.close()


def test_runner_concurrency_and_queue():
    d = tempfile.mkdtemp(prefix="edgehook-test-")
    log = os.path.join(d, "log")
    script = write_script(os.path.join(d, "one.sh"), "#!/bin/sh\necho start $$ >> %s\nsleep 0.3\necho end $$ >> %s\n" % (log, log))
    cfg = """
webhook:
  endpoints:
    - {url: "stdout:", events: ["run.completed"]}
triggers:
  - {id: one, run: {command: %s, concurrency: 1, queue: 4, allow_root: true}}
""" % script
    with Edgehook(cfg) as eh:
        codes = [eh.request("POST", "/webhooks/one", b"{}").status for _ in range(6)]
        assert_eq(codes, [202] * 5 + [503])
        eh.wait_stdout(5, timeout=10)
        with open(log) as f:
            lines = [l.split()[0] for l in f.read().splitlines()]
        assert_eq(lines, ["start", "end"] * 5, "one at a time")


def test_refuses_root_without_allow_root():
    cfg = "triggers:\n  - {id: r, run: {command: /bin/true}}\n"
    with Edgehook(cfg) as eh:
        assert_true(os.geteuid() == 0, "make test runs as root: this checks the root rule")
        r = eh.request("POST", "/webhooks/r", b"{}")
        assert_eq(r.status, 500)
        eh.wait_log("refusing to run a command as root")


def test_trigger_api_round_trip():
    with Edgehook(BASE) as eh:
        r = eh.request("GET", "/api/v1/triggers")
        ids = [t["id"] for t in r.json()["triggers"]]
        assert_eq(ids, ["gh", "gh1", "gl", "sl", "std", "gen"])
        assert_true(all(t["source"] == "config" for t in r.json()["triggers"]), "config source")
        assert_true(all("secret" not in t for t in r.json()["triggers"]), "no secrets")
        body = json.dumps({"kind": "generic", "path": "/agent-7/webhook", "emit": True, "description": "agent 7",
                           "metadata": {"team": "a"}}).encode()
        r = eh.request("PUT", "/api/v1/triggers/agent-7", body)
        assert_eq(r.status, 201)
        assert_eq((r.json()["source"], r.json()["path"], r.json()["metadata"]), ("api", "/agent-7/webhook", {"team": "a"}))
        assert_eq(eh.request("POST", "/agent-7/webhook", b'{"x":1}').status, 202)
        assert_eq(json.loads(eh.wait_stdout(1)[0])["resource_id"], "agent-7")
        r = eh.request("PUT", "/api/v1/triggers/agent-7", json.dumps({"enabled": False}).encode())
        assert_eq(r.status, 200)
        assert_eq(eh.request("POST", "/webhooks/agent-7", b"{}").status, 403)
        for bad, status, why in [(b'{"kind":"nope"}', 400, "kind"), (b'{"kind":"github"}', 400, "needs a secret"),
                                 (b'{"bogus":1}', 400, "unknown key"), (b"[1]", 400, "JSON object"),
                                 (b'{"id":"other"}', 400, "differs"), (b'{"path":"/api/v1/x"}', 400, "collides")]:
            r = eh.request("PUT", "/api/v1/triggers/agent-8", bad)
            assert_eq(r.status, status, bad)
            assert_true(why in r.json()["error"], "%r: %r" % (bad, r.json()))
        assert_eq(eh.request("PUT", "/api/v1/triggers/gh", b"{}").status, 409)
        assert_eq(eh.request("DELETE", "/api/v1/triggers/gh").status, 409)
        assert_eq(eh.request("GET", "/api/v1/triggers/agent-7").json()["enabled"], False)
        assert_eq(eh.request("DELETE", "/api/v1/triggers/agent-7").status, 200)
        assert_eq(eh.request("DELETE", "/api/v1/triggers/agent-7").status, 404)
        assert_eq(eh.request("POST", "/agent-7/webhook", b"{}").status, 404)
        assert_eq(eh.request("GET", "/api/v1/triggers/agent-7").status, 404)


@serial
def test_trigger_api_hostile_bodies_answer_fast():
    """A map with tens of thousands of keys once took O(n^2) to check for
    duplicates: 30 s of a stalled loop for one PUT."""
    with Edgehook("server:\n  max_body_bytes: 2MiB\n") as eh:
        huge = json.dumps({"metadata": {("k%d" % i): i for i in range(60000)}}).encode()
        r = eh.request("PUT", "/api/v1/triggers/x", huge)
        assert_eq(r.status, 413)

        def cost(keys):
            body = json.dumps({"metadata": {("k%d" % i): i for i in range(keys)}}).encode()
            best = None
            for _ in range(7):
                before = eh.cpu_ns()
                r = eh.request("PUT", "/api/v1/triggers/x", body)
                used = eh.cpu_ns() - before
                assert_eq(r.status, 400)
                assert_true("too many keys" in r.json()["error"], r.json())
                best = used if best is None else min(best, used)
            return best
        # 4x the keys must cost about 4x (a whole-map duplicate scan: 16x);
        # compared within one run, the least of seven requests each; the
        # wide gap between 4x and 16x keeps a busy machine's noise out
        small, big = cost(1000), cost(4000)
        assert_true(big < 8 * small, "CPU for 4n / n keys: %d / %d us" % (big // 1000, small // 1000))
        assert_eq(eh.request("GET", "/healthz").status, 200)

