"""edgehook as adnanh/webhook: rows of the specification's tables that
the other compat modules leave out (issue 15 tests: every row), each
case against the Debian `webhook` package and edgehook."""
import datetime
import hashlib
import hmac
import os
import shutil
import tempfile

import test_webhook_compat as wc

CT = {"Content-Type": "application/json"}


def match(type_, param=None, **kw):
    m = {"type": type_}
    if param:
        m["parameter"] = param
    m.update(kw)
    return {"match": m}


def test_webhook_compat_rows_response_headers_and_content_type():
    """response-headers only when the rules pass (not on a mismatch nor a
    rule error); a Content-Type among them replaces text/plain."""
    rh = [{"name": "X-Test", "value": "yes"}, {"name": "Content-Type", "value": "application/json"}]
    hooks = [
        wc.hook("rh", **{"response-message": '{"ok":1}', "response-headers": rh,
                         "trigger-rule": match("value", wc.arg("header", "X-Key"), value="k")}),
        wc.hook("rh-error", **{"response-headers": rh,
                               "trigger-rule": match("payload-hmac-sha1", wc.arg("header", "X-Key"), secret="s")}),
    ]
    wc.compare(hooks, [
        ("headers-when-rules-pass", ("POST", "/hooks/rh", b"", {"X-Key": "k"}), True, None),
        ("no-headers-on-mismatch", ("POST", "/hooks/rh", b"", {"X-Key": "other"}), False, None),
        ("no-headers-on-rule-error", ("POST", "/hooks/rh-error", b"", {"X-Key": "00"}), False, None),
    ], flags=["-header", "x-global=g"])


def test_webhook_compat_rows_parameter_sources():
    """header: first value, Host as webhook sees it; request remote-addr
    as IP:port (through a rule: the port differs per connection);
    entire-headers; base64decode on an argument; a form's first value."""
    args = [wc.arg("header", "X-Twice"), wc.arg("header", "host"), wc.arg("header", "x-b64", base64decode=True),
            wc.arg("entire-headers"), wc.arg("payload", "a"), wc.arg("request", "METHOD")]
    rule = match("regex", wc.arg("request", "remote-addr"), regex=r"^127\.0\.0\.1:[0-9]+$")
    hooks = [wc.hook("src", **{"pass-arguments-to-command": args, "trigger-rule": rule})]
    hdrs = {"X-Twice": "first\r\nX-Twice: second", "X-B64": "aGk8Pg==",
            "Content-Type": "application/x-www-form-urlencoded"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wc.compare(hooks, [
        ("first-header-host-entire-headers-b64-form", ("POST", "/hooks/src", b"a=1&a=2&b=%3C", hdrs), True, None),
        ("form-semicolon-is-no-payload", ("POST", "/hooks/src", b"a=1;b=2", form), True, None),
        ("form-bad-escape-is-no-payload", ("POST", "/hooks/src", b"a=1&b=%zz", form), True, None),
        ("form-empty-name-and-plus", ("POST", "/hooks/src", b"=x&&a=b+c", form), True, None),
    ])


def test_webhook_compat_rows_ip_whitelist():
    def ipw(rng):
        return {"match": {"type": "ip-whitelist", "ip-range": rng}}

    hooks = [wc.hook("cidr", **{"trigger-rule": ipw("127.0.0.0/8")}),
             wc.hook("bare", **{"trigger-rule": ipw("127.0.0.1")}),
             wc.hook("list", **{"trigger-rule": ipw("10.0.0.0/8 127.0.0.1/32")}),
             wc.hook("other", **{"trigger-rule": ipw("10.0.0.0/8")}),
             wc.hook("v6", **{"trigger-rule": ipw("::1/128")}),
             wc.hook("bad", **{"trigger-rule": ipw("127.0.0.999/8")}),
             wc.hook("not-other", **{"trigger-rule": {"not": ipw("192.168.0.0/16")}})]
    wc.compare(hooks, [(name, ("POST", "/hooks/" + name), run, None) for name, run in (
        ("cidr", True), ("bare", True), ("list", True), ("other", False), ("v6", False), ("bad", False),
        ("not-other", True))])


def scalr(body, date, key=b"sk"):
    return hmac.new(key, body + date.encode(), hashlib.sha1).hexdigest()


def test_webhook_compat_rows_scalr_signature():
    body = b'{"event":"x"}'
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%a %d %b %Y %H:%M:%S UTC")
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)).strftime(
        "%a %d %b %Y %H:%M:%S UTC")
    hooks = [wc.hook("scalr", **{"trigger-rule": {"match": {"type": "scalr-signature", "secret": "sk"}}}),
             wc.hook("scalr-soft", **{"trigger-signature-soft-failures": True,
                                      "trigger-rule": {"or": [{"match": {"type": "scalr-signature", "secret": "sk"}},
                                                              {"match": {"type": "value", "value": "x",
                                                                         "parameter": wc.arg("payload", "event")}}]}})]
    wc.compare(hooks, [
        ("valid", ("POST", "/hooks/scalr", body, dict(CT, **{"Date": now, "X-Signature": scalr(body, now)})), True,
         None),
        ("bad-signature", ("POST", "/hooks/scalr", body, dict(CT, **{"Date": now, "X-Signature": "00"})), False, None),
        ("outdated", ("POST", "/hooks/scalr", body, dict(CT, **{"Date": old, "X-Signature": scalr(body, old)})), False,
         None),
        ("no-date", ("POST", "/hooks/scalr", body, dict(CT, **{"X-Signature": scalr(body, now)})), False, None),
        ("soft-failure-in-or", ("POST", "/hooks/scalr-soft", body, dict(CT, **{"Date": now, "X-Signature": "00"})),
         True, None),
    ])


def test_webhook_compat_rows_commands():
    """execute-command: a name found through $PATH, one relative to
    command-working-directory, one containing a space that is no file
    (exec error); on-error output for a command that cannot start."""
    d = tempfile.mkdtemp(prefix="compat-cwd-")
    try:
        shutil.copy(wc.ECHO, os.path.join(d, "echo.py"))
        hooks = [
            {"id": "path", "execute-command": "echo", "include-command-output-in-response": True,
             "pass-arguments-to-command": [wc.arg("string", "via"), wc.arg("string", "PATH")]},
            {"id": "relative", "execute-command": "./echo.py", "command-working-directory": d,
             "include-command-output-in-response": True, "pass-arguments-to-command": [wc.arg("string", "rel")]},
            {"id": "space", "execute-command": wc.ECHO + " arg", "include-command-output-in-response": True},
            {"id": "space-async", "execute-command": wc.ECHO + " arg", "response-message": "queued"},
            {"id": "missing-on-error", "execute-command": "/nonexistent/cmd", "include-command-output-in-response": True,
             "include-command-output-in-response-on-error": True},
        ]
        wc.compare(hooks, [
            ("found-through-path", ("POST", "/hooks/path"), False, None),
            ("relative-to-working-directory", ("POST", "/hooks/relative"), False, None),
            ("space-in-command-sync", ("POST", "/hooks/space"), False, None),
            ("space-in-command-async", ("POST", "/hooks/space-async"), False, None),
            ("exec-failure-on-error", ("POST", "/hooks/missing-on-error"), False, None),
        ])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_webhook_compat_rows_paths():
    hooks = [wc.hook("nested/id"), wc.hook("sp ace")]
    wc.compare(hooks, [
        ("encoded-slash-in-id", ("POST", "/hooks/nested%2Fid"), True, None),
        ("encoded-space-in-id", ("POST", "/hooks/sp%20ace"), True, None),
        ("trailing-slash", ("POST", "/hooks/nested/id/"), False, None),
        ("dot-segment", ("POST", "/hooks/./nested/id"), False, None),
    ])


def test_webhook_compat_rows_methods_files_env():
    """hook http-methods upper-cased (webhook does); HEAD and OPTIONS reach a
    hook without methods; pass-file-to-command writes into the
    command-working-directory; env names for header and url sources."""
    d = tempfile.mkdtemp(prefix="compat-files-")
    try:
        hooks = [
            wc.hook("lower", **{"http-methods": ["post"]}),
            wc.hook("any"),
            wc.hook("files", **{"command-working-directory": d,
                                "pass-file-to-command": [wc.arg("header", "X-Doc"), wc.arg("url", "q", envname="T_Q")],
                                "pass-environment-to-command": [wc.arg("header", "x-doc"), wc.arg("url", "q"),
                                                                wc.arg("request", "method")]}),
        ]
        wc.compare(hooks, [
            ("lowercase-method-list-takes-POST", ("POST", "/hooks/lower"), True, None),
            ("HEAD-runs-hook", ("HEAD", "/hooks/any"), True, None),
            ("OPTIONS-runs-hook", ("OPTIONS", "/hooks/any"), True, None),
            ("files-in-working-directory", ("POST", "/hooks/files?q=v%20w", b"", {"X-Doc": "doc"}), True, None),
        ], flags=["-header", "x-a=1", "-header", "x-b=2=3"])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_webhook_compat_rows_json_payload_as_gos_decoder():
    """Go's json.Decoder reads the first value (what follows is not read),
    a repeated name keeps the last, a top-level scalar is no payload."""
    names = ("a", "a.b", "a.0", "a.1.x", "root", "root.0", "x.y")
    args = [wc.arg("entire-payload")] + [wc.arg("payload", n) for n in names]
    hooks = [wc.hook("j", **{"pass-arguments-to-command": args})]
    cases = [
        ("repeated-name-last-wins", b'{"a": {"b": 1}, "a": [5, {"x": "y"}], "x": {"y": 1, "y": 2}}'),
        ("nested-repeats", b'{"x": {"y": [1], "y": {"z": 1, "z": "<"}}}'),
        ("trailing-text-not-read", b'{"a": 1} trailing'),
        ("second-value-not-read", b'{"a": 1}{"a": 2}'),
        ("array-then-text", b' \n[{"x": 1}] junk'),
        ("broken-array", b'[1, 2'),
        ("top-level-string", b'"just a string"'),
        ("top-level-number", b"123"),
        ("top-level-null", b"null"),
        ("empty-body", b""),
        ("broken-object", b'{"a": '),
        ("numbers-kept-as-sent", b'{"a": {"b": 1e5}, "x": {"y": -0.0}}'),
    ]
    wc.compare(hooks, [(name, ("POST", "/hooks/j", body, CT), True, None) for name, body in cases])


def test_webhook_compat_rows_query_as_url_parsequery():
    """url parameters come from url.ParseQuery's map: a pair with ';' or a
    bad escape is dropped (the next one of the name counts), names are
    decoded, an empty name and a bare name are pairs too."""
    args = [wc.arg("entire-query"), wc.arg("url", "a"), wc.arg("url", "b c"), wc.arg("url", "a.b"),
            wc.arg("url", ""), wc.arg("query", "bare")]
    hooks = [wc.hook("q", **{"pass-arguments-to-command": args,
                             "pass-environment-to-command": [wc.arg("url", "a"), wc.arg("string", "s v")]})]
    wc.compare(hooks, [(path, ("POST", "/hooks/q" + path), True, None) for path in (
        "?a=1;b=2&c=3", "?a=%zz&b+c=ok&a=2", "?=empty&bare", "?a.b=lit&a=x", "?a=%E9", "?a=1&&&a=2", "")])
