"""`hooks:` in an edgehook config (issue 15 item 1): adnanh/webhook hooks
files served at /{urlprefix}/{id} beside the triggers by one process,
reloaded with the config on SIGHUP (a bad file refuses the config:
`FILE:LINE: message`, the running set stays), and ip-whitelist judged on
the client behind trusted_proxies, never on a header a peer made up."""
import json
import os
import signal
import socket
import subprocess

from harness import Edgehook, assert_eq, assert_true, binary, build_request, flavour_env, read_response, \
    read_to_close, wait_until, write_script


def config(d, hooks, extra="", trusted=None):
    path = os.path.join(d, "hooks.json")
    with open(path, "w") as f:
        json.dump(hooks, f)
    text = "hooks:\n  files: [%s]\n" % path
    if trusted:
        text += "server:\n  trusted_proxies: %s\n" % json.dumps(trusted)
    return text + extra, path


def marker_hook(id_, d, **kw):
    """A hook whose command touches d/<id>-<n> for the payload's n."""
    h = {"id": id_, "execute-command": "/bin/sh", "response-message": "ok " + id_,
         "pass-arguments-to-command": [{"source": "string", "name": "-c"},
                                       {"source": "string", "name": 'touch "$0/$1-$2"'},
                                       {"source": "string", "name": d},
                                       {"source": "string", "name": id_},
                                       {"source": "payload", "name": "n"}]}
    h.update(kw)
    return h


def request_from(eh, source_ip, method, path, body=b"", headers=None):
    """One request from a chosen loopback address (a different peer)."""
    s = socket.socket()
    s.bind((source_ip, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", eh.port))
    try:
        s.sendall(build_request(method, path, body, headers))
        return read_response(s)
    finally:
        s.close()


def test_hooks_in_config_served_beside_triggers():
    """Triggers with a run command and hooks with a command side by side,
    many at once: each kind's children are reaped by their owner (the
    runner's SIGCHLD handling must not swallow a hook command's exit)."""
    eh = Edgehook()
    d = eh.dir
    script = write_script(d, "run.sh", '#!/bin/sh\ntouch "%s/trigger-$1"\n' % d)
    trig = """
webhook:
  endpoints: [{url: "stdout:", events: [nothing]}]
triggers:
  - id: deploy
    run: {command: %s, args: ["{json.n}"], concurrency: 4, allow_root: true}
""" % script
    sync = {"id": "sync", "execute-command": "/bin/echo", "include-command-output-in-response": True,
            "pass-arguments-to-command": [{"source": "payload", "name": "n"}]}
    eh.config, _ = config(d, [marker_hook("h", d), sync], trig)
    ct = {"Content-Type": "application/json"}
    with eh:
        for n in range(20):
            body = json.dumps({"n": n}).encode()
            assert_eq(eh.request("POST", "/webhooks/deploy", body, ct).status, 202, "trigger %d" % n)
            r = eh.request("POST", "/hooks/h", body, ct)
            assert_eq((r.status, r.body), (200, b"ok h"), "hook %d" % n)
            r = eh.request("POST", "/hooks/sync", body, ct)
            assert_eq((r.status, r.body), (200, b"%d\n" % n), "synchronous hook %d" % n)
        want = {"trigger-%d" % n for n in range(20)} | {"h-%d" % n for n in range(20)}
        wait_until(lambda: want <= set(os.listdir(d)), 30, "every command ran")
        r = eh.request("POST", "/hooks/nope")
        assert_eq((r.status, r.body), (404, b"Hook not found."), "unknown hook: webhook's answer")
        assert_eq(eh.request("POST", "/webhooks/h").status, 404, "hooks are not triggers")
        assert_eq(eh.request("GET", "/healthz").status, 200)
        # curl -X POST sends no Content-Length: webhook's routes read an
        # empty body, the triggers keep asking for the length
        for path, status in (("/hooks/h", b"200"), ("/webhooks/deploy", b"411")):
            s = eh.connect()
            s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            head = read_to_close(s).split(b"\r\n")[0]
            s.close()
            assert_eq(head.split(b" ")[1], status, path)
        eh.wait_log(r"h hook triggered successfully")
        eh.wait_log(r"msg=\"hooks files loaded\" hooks=2 urlprefix=hooks")


def test_hooks_urlprefix_and_config_errors():
    eh = Edgehook()
    eh.config, hooks = config(eh.dir, [{"id": "a", "execute-command": "/bin/true", "response-message": "A"}])
    eh.config = eh.config.replace("files:", "urlprefix: /ci/hooks/\n  files:")
    with eh:
        assert_eq(eh.request("POST", "/ci/hooks/a").body, b"A")
        assert_eq(eh.request("POST", "/hooks/a").status, 404, "only under the configured prefix")
    for bad, why in (("hooks:\n  urlprefix: x\n", "files is required"),
                     ("hooks:\n  files: [%s]\n  urlprefix: api\n" % hooks, "edgehook's own routes"),
                     ("hooks:\n  files: [%s]\ntriggers:\n  - {id: t, path: /hooks/t, emit: false}\n" % hooks,
                      "lies under hooks.urlprefix")):
        p = subprocess.run([binary(), "--check", "-c", write_script(eh.dir, "bad.yaml", bad)], capture_output=True,
                           env=flavour_env(), timeout=60)
        assert_eq(p.returncode, 2, bad)
        assert_true(why.encode() in p.stderr, (why, p.stderr))


def test_hooks_bad_file_refuses_start_and_reload():
    eh = Edgehook()
    eh.config, hooks = config(eh.dir, [{"id": "a", "execute-command": "/bin/true", "response-message": "A"}])
    good = open(hooks).read()
    bad = '[\n  {"id": "b",\n   "trigger-rule": {"match": {"type": "regex", "regex": "(?=x)",\n' \
          '    "parameter": {"source": "header", "name": "X"}}}}\n]\n'
    with open(hooks, "w") as f:
        f.write(bad)
    cfg = eh.write_config(eh.config)
    for args in (["--check", "-c", cfg], ["-c", cfg, "-l", "127.0.0.1:0"]):
        p = subprocess.run([binary()] + args, capture_output=True, env=flavour_env(), timeout=60)
        assert_eq(p.returncode, 2, args)
        assert_true(p.stderr.startswith(("%s:" % hooks).encode()) and b"(?=x)" in p.stderr, p.stderr)
    with open(hooks, "w") as f:
        f.write(good)
    with eh:
        assert_eq(eh.request("POST", "/hooks/a").body, b"A")
        with open(hooks, "w") as f:
            json.dump([{"id": "b", "execute-command": "/bin/true", "response-message": "B"}], f)
        eh.signal(signal.SIGHUP)
        eh.wait_log(r"config reloaded")
        assert_eq(eh.request("POST", "/hooks/b").body, b"B", "the new set after SIGHUP")
        assert_eq(eh.request("POST", "/hooks/a").status, 404, "the old set is gone")
        with open(hooks, "w") as f:
            f.write(bad)
        eh.signal(signal.SIGHUP)
        line = eh.wait_log(r"hooks file refused")[0]
        assert_true("%s:3:" % hooks in line or "%s:" % hooks in line, line)
        eh.wait_log(r"reload failed: keeping the running config")
        assert_eq(eh.request("POST", "/hooks/b").body, b"B", "the running set stays")


def test_hooks_ip_whitelist_uses_the_client_behind_trusted_proxies():
    """Peers 127.0.0.1 (a trusted proxy) and 127.0.0.2 (not): only the
    proxy's X-Forwarded-For names the client."""
    def rule(cidr):
        return {"match": {"type": "ip-whitelist", "ip-range": cidr}}
    eh = Edgehook()
    eh.config, _ = config(eh.dir, [
        {"id": "office", "execute-command": "/bin/true", "response-message": "in",
         "trigger-rule": rule("198.51.100.0/24")},
        {"id": "local", "execute-command": "/bin/true", "response-message": "in",
         "trigger-rule": rule("127.0.0.0/8")}], trusted=["127.0.0.1"])
    xff = {"X-Forwarded-For": "198.51.100.7"}
    with eh:
        r = request_from(eh, "127.0.0.1", "POST", "/hooks/office", headers=xff)
        assert_eq((r.status, r.body), (200, b"in"), "client from a trusted proxy's header")
        r = request_from(eh, "127.0.0.1", "POST", "/hooks/local", headers=xff)
        assert_eq(r.body, b"Hook rules were not satisfied.", "the proxy itself is not the client")
        r = request_from(eh, "127.0.0.2", "POST", "/hooks/office", headers=xff)
        assert_eq(r.body, b"Hook rules were not satisfied.", "a forged header from an untrusted peer")
        r = request_from(eh, "127.0.0.2", "POST", "/hooks/local", headers=xff)
        assert_eq((r.status, r.body), (200, b"in"), "an untrusted peer is judged by its own address")
        r = request_from(eh, "127.0.0.1", "POST", "/hooks/office",
                         headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
        assert_eq(r.body, b"Hook rules were not satisfied.", "the rightmost untrusted hop counts")
        r = request_from(eh, "127.0.0.1", "POST", "/hooks/local", headers={"X-Forwarded-For": "garbage"})
        # webhook's answer for a remote address it cannot read
        assert_eq((r.status, r.body), (500, b"Error occurred while evaluating hook rules."),
                  "a hop that is no address is refused")
