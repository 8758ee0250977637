"""The inbound body is parsed once and that one parse reaches the runner
(issue 13 #4): {json.PATH} reads the same data for every body shape the
trigger accepts (JSON, JSON labelled as a form, a form, GitHub's form
with its payload field)."""
import hashlib
import hmac
import urllib.parse

from harness import Edgehook, assert_eq

SECRET = "s3cret"

CFG = """
triggers:
  - id: g
    run: {command: /bin/echo, args: ["{json.a}", "{json.n}"], allow_root: true}
  - id: gh
    kind: github
    secret: %s
    run: {command: /bin/echo, args: ["{json.a}", "{json.n}"], allow_root: true}
""" % SECRET


def run_output(eh, path, body, headers):
    r = eh.request("POST", path, body, headers)
    assert_eq(r.status, 202, "accepted: %r" % r.body)
    url = "/api/v1/runs/" + r.json()["run_id"]
    eh.wait_for(lambda: eh.request("GET", url).json()["state"] in ("completed", "failed"), 10, "run finished")
    st = eh.request("GET", url).json()
    assert_eq(st["state"], "completed", "run: %r" % st)
    return st["output"]


def test_run_placeholders_read_every_body_shape():
    form = "application/x-www-form-urlencoded"
    with Edgehook(CFG) as eh:
        doc = b'{"a":"json","n":[1]}'
        assert_eq(run_output(eh, "/webhooks/g", doc, {"Content-Type": "application/json"}), "json [1]\n")
        curl = b'{"a":"curl","n":2}'
        assert_eq(run_output(eh, "/webhooks/g", curl, {"Content-Type": form}), "curl 2\n")
        assert_eq(run_output(eh, "/webhooks/g", b"a=form&n=3", {"Content-Type": form}), "form 3\n")
        payload = urllib.parse.urlencode({"payload": '{"a":"github","n":4}'}).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
        assert_eq(run_output(eh, "/webhooks/gh", payload, {"Content-Type": form, "X-Hub-Signature-256": sig,
                                                           "X-GitHub-Event": "push"}), "github 4\n")
