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
