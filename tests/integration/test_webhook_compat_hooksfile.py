"""edgehook as adnanh/webhook: how hooks files load (issue 15 items 1
and 7): -template expansion and repeated hook ids, against the Debian
`webhook` package where it has the feature, by the specification where
it does not (its 2.8.0 has neither cat nor credential)."""
import json
import os
import signal
import subprocess
import tempfile

import test_webhook_compat as wc

ENV = {"T_TPL_VAR": "v1", "T_TPL_Q": "a\"b<c>&'=\\ \u00e9\u2028", "T_TPL_SECRET": "s3cret"}

TEMPLATE_HOOKS = """\
[
  {{- /* a comment, trimmed away with the whitespace around it */ -}}
  {"id": "t", "execute-command": "%(echo)s",
   "response-message": "{{ "lit" }} {{ `raw` }} {{ "\\x41\\u00e9" | js }}",
   "pass-arguments-to-command": [
     {"source": "string", "name": "{{ getenv "T_TPL_VAR" }}"},
     {"source": "string", "name": "{{ getenv "T_TPL_UNSET" }}"},
     {"source": "string", "name": "{{ getenv "T_TPL_Q" | js }}"},
     {"source": "string", "name": "{{ getenv "T_TPL_Q" | html }}"},
     {"source": "string", "name": "{{ js "<" "&" }}"},
     {"source": "string", "name": "  {{- "x" -}}  "}
   ],
   "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "{{ getenv "T_TPL_SECRET" }}",
                              "parameter": {"source": "header", "name": "X-Sig"}}}}
]
"""


def test_webhook_compat_template_expansion():
    body = b'{"a": 1}'
    good = {"X-Sig": "sha256=" + wc.sig("sha256", body), "Content-Type": "application/json"}
    bad = {"X-Sig": "sha256=" + wc.sig("sha256", body, b"other"), "Content-Type": "application/json"}
    wc.compare(TEMPLATE_HOOKS % {"echo": wc.ECHO}, [
        ("getenv-js-html-literals-trim", ("POST", "/hooks/t", body, good), True, None),
        ("secret-from-environment-refuses-other", ("POST", "/hooks/t", body, bad), False, None),
    ], flags=["-template"], env=ENV)


def test_webhook_compat_template_unknown_function_loads_no_hooks():
    hooks = '[{"id": "t",\n  "execute-command": "{{ nosuch "x" }}"}]'
    wc.compare(hooks, [("unknown-function", ("POST", "/hooks/t"), False, None)], flags=["-template"])
    srv = wc.Server("edgehook", hooks, flags=["-template"])
    try:
        wc.wait_log(srv, 'hooks.json:2: -template: function "nosuch" not defined')
    finally:
        srv.stop()


def test_webhook_compat_template_unsupported_action_names_file_line():
    hooks = '[\n{"id": "t",\n  "execute-command": "{{ if .X }}a{{ end }}"}]'
    srv = wc.Server("edgehook", hooks, flags=["-template"])
    try:
        wc.wait_log(srv, 'hooks.json:3: -template: "if" is not supported')
        assert srv.request("POST", "/hooks/t")[2] == b"Hook not found."
    finally:
        srv.stop()


def test_webhook_compat_template_cat_and_credential():
    """By the specification: cat FILE (one trailing newline trimmed, ""
    when missing), credential NAME from $CREDENTIALS_DIRECTORY, else the
    environment."""
    d = tempfile.mkdtemp(prefix="tpl-cat-")
    with open(os.path.join(d, "secret.txt"), "w") as f:
        f.write("from-file\n")
    os.mkdir(os.path.join(d, "creds"))
    with open(os.path.join(d, "creds", "tok"), "w") as f:
        f.write("cred-value\n")
    args = ['{"source": "string", "name": "{{ %s }}"}' % a for a in (
        'cat "%s/secret.txt"' % d, 'cat "%s/missing"' % d, 'credential "tok"', 'credential "T_TPL_VAR"')]
    hooks = '[{"id": "t", "execute-command": "%s", "pass-arguments-to-command": [%s]}]' % (wc.ECHO, ", ".join(args))

    def run(env):
        srv = wc.Server("edgehook", hooks, flags=["-template"], env=env)
        try:
            before = srv.runs()
            assert srv.request("POST", "/hooks/t")[0] == 200
            return srv.wait_run(before)["argv"]
        finally:
            srv.stop()

    assert run(dict(ENV, CREDENTIALS_DIRECTORY=os.path.join(d, "creds"))) == ["from-file", "", "cred-value", ""]
    assert run(ENV) == ["from-file", "", "", "v1"]


def test_webhook_compat_duplicate_id_in_one_file_first_wins():
    hooks = [wc.hook("d", **{"pass-arguments-to-command": [wc.arg("string", "first")]}),
             wc.hook("d", **{"pass-arguments-to-command": [wc.arg("string", "second")]})]

    def first(view):
        assert view["run"]["argv"] == ["first"], view

    wc.compare(hooks, [("first-of-two-wins", ("POST", "/hooks/d"), True, first)])


def test_webhook_compat_duplicate_ids_across_files_refuse_to_start():
    d = tempfile.mkdtemp(prefix="dup-ids-")
    f1, f2 = os.path.join(d, "a.json"), os.path.join(d, "b.json")
    with open(f1, "w") as f:
        json.dump([wc.hook("d"), wc.hook("e")], f)
    with open(f2, "w") as f:
        f.write('[\n  {"id": "x", "execute-command": "/bin/true"},\n  {"id": "d", "execute-command": "/bin/true"}\n]')
    bin_ = os.environ.get("EDGEHOOK_BIN", os.path.join(wc.HERE, "..", "..", "edgehook"))
    outs = {}
    for kind, cmd in (("reference", [wc.REFERENCE]), ("edgehook", [bin_, "webhook"])):
        p = subprocess.run(cmd + ["-hooks", f1, "-hooks", f2, "-ip", "127.0.0.1", "-port", str(wc.free_port()),
                                  "-verbose"], capture_output=True, timeout=60)
        outs[kind] = (p.returncode, (p.stdout + p.stderr).decode())
    assert outs["reference"][0] == outs["edgehook"][0] == 1, outs
    assert "hook with the id d has already been loaded" in outs["reference"][1], outs
    assert "%s:3: hook with the id d has already been loaded" % f2 in outs["edgehook"][1], outs


def test_webhook_compat_reload_refuses_id_repeated_within_a_file():
    """webhook's reload checks ids within the file too (its start does
    not): the old set stays."""
    servers = [wc.Server(kind, [wc.hook("a")]) for kind in ("reference", "edgehook")]
    try:
        # SIGUSR1 before webhook's signal watcher is up would end it
        wc.wait_log(servers[0], "os signal watcher ready")
        for srv in servers:
            with open(srv.hooks, "w") as f:
                json.dump([wc.hook("d"), wc.hook("d")], f)
            srv.proc.send_signal(signal.SIGUSR1)
            wc.wait_log(srv, "reverting hooks back to the previous configuration")
            assert any("hook with the id d has already been loaded" in line for line in srv.log), srv.log[-5:]
            got = srv.request("POST", "/hooks/a")
            assert got[0] == 200, (srv.kind, got, srv.log[-12:])
            assert srv.request("POST", "/hooks/d")[2] == b"Hook not found.", srv.kind
    finally:
        for srv in servers:
            srv.stop()
