"""edgehook as adnanh/webhook, hooks files as people write them (issue 15
item 7): the same YAML/lenient-JSON file is loaded by the Debian `webhook`
package and by edgehook, and every answer and command run must agree."""
import test_webhook_compat as wc

YAML_HOOKS = """\
# shared parts, reused by alias
- id: first
  execute-command: %(echo)s
  response-message: |
    Deploying
      indented line

    after a blank
  pass-arguments-to-command: &args [
    {source: header, name: X-Who},
    {source: payload, name: ref},   # trailing comma next
  ]
  trigger-rule:
    and: [
\t"match": {type: value, value: "refs/heads/main", parameter: {source: payload, name: ref}},
\t{match: {type: value, value: me, parameter: {source: header, name: X-Who}}},
    ]
- id: second
  execute-command:\t%(echo)s
  response-message: >-
    folded
    into one line
  pass-arguments-to-command: *args
  pass-environment-to-command:
  - {source: string, envname: FIXED, name: "caf\\u00e9"}
"""

LENIENT_JSON_HOOKS = """\
[
  {
    "id": "lenient",
    "execute-command": "%(echo)s",
    "response-message": "ok",
    "pass-arguments-to-command": [
\t{"source": "payload", "name": "a"},
    ],
  },
]
"""


def test_webhook_compat_yaml_hooks_file_features():
    body = b'{"ref":"refs/heads/main"}'
    js = {"Content-Type": "application/json"}
    wc.compare(YAML_HOOKS % {"echo": wc.ECHO}, [
        ("block-literal-message-and-flow-rule", ("POST", "/hooks/first", body, dict(js, **{"X-Who": "me"})), True, None),
        ("flow-rule-mismatch", ("POST", "/hooks/first", body, dict(js, **{"X-Who": "you"})), False, None),
        ("alias-args-folded-message", ("POST", "/hooks/second", body, dict(js, **{"X-Who": "x"})), True, None),
    ])


def test_webhook_compat_lenient_json_hooks_file():
    wc.compare(LENIENT_JSON_HOOKS % {"echo": wc.ECHO}, [
        ("trailing-commas-and-tabs", ("POST", "/hooks/lenient", b'{"a":"1"}', {"Content-Type": "application/json"}),
         True, None),
    ])
