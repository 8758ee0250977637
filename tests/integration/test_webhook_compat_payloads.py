"""edgehook as adnanh/webhook: multipart/form-data payloads (issue 15
item 4), each case against the Debian `webhook` package and edgehook."""
import test_webhook_compat as wc

B = "XyZb0undary"


def multipart(parts, boundary=B, close=True):
    out = b""
    for head, data in parts:
        out += b"--" + boundary.encode() + b"\r\n" + head.encode() + b"\r\n\r\n" + data + b"\r\n"
    if close:
        out += b"--" + boundary.encode() + b"--\r\n"
    return out


def test_webhook_compat_multipart_values_and_json_files():
    args = [wc.arg("payload", n) for n in ("a", "b", "meta.x", "forced.y", "plain", "missing")]
    hooks = [wc.hook("mp", **{"pass-arguments-to-command": args,
                              "parse-parameters-as-json": [wc.arg("payload", "forced")]})]
    ct = {"Content-Type": "multipart/form-data; boundary=" + B}
    body = multipart([
        ('Content-Disposition: form-data; name="a"', b"first"),
        ('Content-Disposition: form-data; name="a"', b"second"),
        ('Content-Disposition: form-data; name="b"', b"line\r\nbreak"),
        ('Content-Disposition: form-data; name="meta"; filename="m.json"\r\nContent-Type: application/json',
         b'{"x": 1.50, "n": null}'),
        ('Content-Disposition: form-data; name="forced"; filename="f.txt"\r\nContent-Type: text/plain',
         b'{"y": "yes"}'),
        ('Content-Disposition: form-data; name="plain"; filename="p.txt"', b"not json"),
    ])
    quoted = {"Content-Type": 'multipart/form-data; boundary="' + B + '"'}
    wc.compare(hooks, [
        ("values-first-wins-json-files-parsed", ("POST", "/hooks/mp", body, ct), True, None),
        ("quoted-boundary", ("POST", "/hooks/mp", body, quoted), True, None),
        ("unclosed-body", ("POST", "/hooks/mp", multipart([('Content-Disposition: form-data; name="a"', b"x")],
                                                          close=False), ct), False, None),
        ("no-boundary", ("POST", "/hooks/mp", body, {"Content-Type": "multipart/form-data"}), True, None),
        ("ends-after-delimiter-line", ("POST", "/hooks/mp", b"--" + B.encode() + b"\r\n", ct), True, None),
        ("no-delimiter", ("POST", "/hooks/mp", b"just text", ct), False, None),
    ])


def test_webhook_compat_parse_parameters_as_json():
    args = [wc.arg("payload", n) for n in ("data.x.y", "data", "s", "list.0.k", "nested.in")]
    rule = {"match": {"type": "value", "value": "2", "parameter": wc.arg("payload", "data.x.y")}}
    hooks = [wc.hook("pj", **{"pass-arguments-to-command": args, "trigger-rule": rule,
                              "parse-parameters-as-json": [wc.arg("payload", n) for n in
                                                           ("data", "s", "missing", "nested")]})]
    js = {"Content-Type": "application/json"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = (b'{"data": "{\\"x\\": {\\"y\\": 2}, \\"u\\": \\"\\\\u00e9\\"}", "s": "not json",'
            b' "list": ["{\\"k\\": true}"], "nested": {"in": 1}}')
    wc.compare(hooks, [
        ("json-strings-become-objects", ("POST", "/hooks/pj", body, js), True, None),
        ("form-value-becomes-object", ("POST", "/hooks/pj", b"data=%7B%22x%22%3A%7B%22y%22%3A2%7D%7D&s=1", form),
         True, None),
        ("rule-sees-no-object", ("POST", "/hooks/pj", b'{"data": "{\\"x\\": 3}"}', js), False, None),
    ])


def test_webhook_compat_parse_parameters_as_json_headers_and_query():
    """parse-parameters-as-json on header and url sources: webhook
    replaces the value in its header/query map, so dotted paths, the
    rule and entire-headers/entire-query all see the object."""
    args = [wc.arg("header", n) for n in ("X-Data.a.b", "x-data", "X-Data.u", "X-Bad", "X-Plain")]
    args += [wc.arg("url", "q.k"), wc.arg("query", "q.list.1"), wc.arg("url", "q"), wc.arg("url", "s"),
             wc.arg("entire-headers"), wc.arg("entire-query")]
    rule = {"match": {"type": "value", "value": "2", "parameter": wc.arg("header", "X-Data.a.b")}}
    hooks = [wc.hook("hj", **{"pass-arguments-to-command": args, "trigger-rule": rule,
                              "parse-parameters-as-json": [wc.arg("header", "x-data"), wc.arg("url", "q"),
                                                           wc.arg("header", "X-Bad"), wc.arg("url", "nope")]}),
             wc.hook("qj", **{"pass-arguments-to-command": [wc.arg("url", "q.k"), wc.arg("entire-query")],
                              "parse-parameters-as-json": [wc.arg("url", "q")]})]
    hdrs = {"X-Data": '{"a": {"b": 2}, "u": "<&>", "n": 1.50}', "X-Bad": "not json", "X-Plain": "p"}
    q = "?q=%7B%22k%22%3A%22v%22%2C%22list%22%3A%5B1%2C2.0%5D%7D&q=second&s=plain"

    def objects(view):
        assert view["run"]["argv"][:3] == ["2", '{"a":{"b":2},"n":1.50,"u":"\\u003c\\u0026\\u003e"}', "<&>"], view
        assert view["run"]["argv"][5:7] == ["v", "2.0"], view

    wc.compare(hooks, [
        ("header-and-query-objects", ("POST", "/hooks/hj" + q, b"", hdrs), True, objects),
        ("header-not-an-object", ("POST", "/hooks/hj" + q, b"", dict(hdrs, **{"X-Data": "2"})), False, None),
        ("header-absent", ("POST", "/hooks/hj" + q, b"", {"X-Plain": "p"}), False, None),
        ("query-only", ("POST", "/hooks/qj" + q, b"", {}), True, None),
        ("query-not-json", ("POST", "/hooks/qj?q=v", b"", {}), True, None),
    ])


def test_webhook_compat_without_verbose_payload_read_only_when_needed():
    """Without -verbose edgehook parses a payload only for a hook whose
    rule or lists read it (nothing else would show the parse): the
    answers and the commands must still be webhook's, including the 500
    for a multipart body it cannot read, which the parse alone decides."""
    import hashlib
    import hmac

    def signed(data, ctype, mac=None):
        mac = mac or "sha256=" + hmac.new(b"s3cret", data, hashlib.sha256).hexdigest()
        return {"Content-Type": ctype, "X-Hub-Signature-256": mac}

    def argv(expect):
        def check(view):
            assert view["run"]["argv"] == expect, view
        return check
    body = b'{"ref": "refs/heads/main", "n": 1.50}'
    js = "application/json"
    rule = {"match": {"type": "payload-hmac-sha256", "secret": "s3cret",
                      "parameter": wc.arg("header", "X-Hub-Signature-256")}}
    hooks = [wc.hook("hdr", **{"trigger-rule": rule, "pass-arguments-to-command": [wc.arg("request", "method")]}),
             wc.hook("all", **{"pass-arguments-to-command": [wc.arg("entire-payload"), wc.arg("payload", "n")]}),
             wc.hook("env", **{"pass-environment-to-command": [wc.arg("payload", "ref", envname="REF")]})]
    wc.compare(hooks, [
        ("header-rule-passes", ("POST", "/hooks/hdr", body, signed(body, js)), True, argv(["POST"])),
        ("header-rule-fails", ("POST", "/hooks/hdr", body, signed(body, js, "sha256=00")), False, None),
        ("unparsable-json-unread", ("POST", "/hooks/hdr", b"{not json", signed(b"{not json", js)), True, None),
        ("bad-multipart-still-500", ("POST", "/hooks/hdr", b"just text",
                                     signed(b"just text", "multipart/form-data; boundary=" + B)), False, None),
        ("entire-payload-read", ("POST", "/hooks/all", body, signed(body, js)), True,
         argv(['{"n":1.50,"ref":"refs/heads/main"}', "1.50"])),
        ("env-payload-read", ("POST", "/hooks/env", body, signed(body, js)), True, None),
    ], verbose=False)
