"""edgehook as adnanh/webhook: XML payloads (issue 15 item 4), read the
way webhook's mxj map reads them; every case against the Debian
`webhook` package and edgehook (payload paths, entire-payload, a rule on
an XML value), malformed and hostile bodies included."""
import test_webhook_compat as wc

NAMES = ("a", "a.b", "a.-x", "a.#text", "a.b.0", "a.b.1", "a.b.0.-id", "a.c", "root")

WELL_FORMED = [
    ("elements-attributes-lists", b'<a><b>1</b><b id="2">two</b><c/></a>'),
    ("attribute-and-trimmed-text", b'<a x="1">  text  </a>'),
    ("declaration-comment-whitespace", b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><a>\n  <b>hi</b>\n</a>'),
    ("entities-and-char-refs", b"<a>&lt;&amp;&#65;&#x42;&quot;&apos;&gt;</a>"),
    ("surrogate-ref-is-replacement-char", b"<a>&#xD800;</a>"),
    ("only-first-element-read", b"<a><b>1</b></a><c/>trailing &junk"),
    ("text-before-child-wins", b"<a>t1<b/>t2</a>"),
    ("text-after-child-is-#text", b"<a><b/>t</a>"),
    ("last-text-token-wins", b"<a>x<!--c-->y</a>"),
    ("cdata", b"<a>1<![CDATA[ <raw> & ]]></a>"),
    ("namespaces-local-names", b'<x:a xmlns:x="urn:x" x:at="1"><x:b>1</x:b><x:b>2</x:b></x:a>'),
    ("default-namespace-attribute", b'<a xmlns="urn:d" xmlns:p="urn:p"><p:b p:c="1">2</p:b></a>'),
    ("duplicate-attribute-last-wins", b'<a x="1" x="2" y=\'q&quot;\'/>'),
    ("crlf-normalised", b"<a\r\n>l1\r\nl2\rl3</a>"),
    ("odd-colons-keep-whole-name", b"<a:b:c>1</a:b:c>"),
    ("doctype-skipped", b"<!DOCTYPE a [ <!ELEMENT a (#PCDATA)> <!-- > --> ]><a>1</a>"),
    ("directive-inside-element", b"<a><!DOCTYPE x>2</a>"),
    ("list-order-kept", b"<a><b>1</b><c>2</c><b>3</b><b x='4'/></a>"),
    ("nested-list-of-maps", b"<a><b><c>1</c></b><b>2</b></a>"),
    ("whitespace-only-element", b"  <a>   </a>"),
    ("non-ascii-name", "<é>1</é>".encode()),
    ("bom-and-text-before-root", b"\xef\xbb\xbfjunk text <a>1</a>"),
]

MALFORMED = [
    ("unknown-entity", b"<a>&foo;</a>"),
    ("doctype-entity-not-expanded", b'<!DOCTYPE a [<!ENTITY foo "bar">]><a>&foo;</a>'),
    ("billion-laughs", b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">'
                       b'<!ENTITY c "&b;&b;&b;&b;">]><l>&c;&c;&c;</l>'),
    ("mismatched-tag", b"<a><b></a>"),
    ("unclosed", b"<a><b>1</b>"),
    ("not-xml", b"plain text"),
    ("empty-body", b""),
    ("double-dash-in-comment", b"<a><!-- x -- y --></a>"),
    ("cdata-end-in-text", b"<a>]]></a>"),
    ("nul-char-ref", b"<a>&#0;</a>"),
    ("other-encoding", b'<?xml version="1.0" encoding="ISO-8859-1"?><a>1</a>'),
    ("version-1.1", b'<?xml version="1.1"?><a>1</a>'),
    ("unquoted-attribute", b"<a x=1/>"),
    ("lt-in-attribute", b'<a b="<"/>'),
    ("digit-name", b"<1a/>"),
    ("control-char", b"<a>\t\x01</a>"),
    ("invalid-utf8", b"<a>\xff</a>"),
    ("stray-end-tag", b"</a>"),
    ("entity-no-semicolon", b"<a>&amp</a>"),

]

# big inputs go to a hook that passes one short argument (a 200 kB one
# is more than exec takes)
HOSTILE = [
    ("deep-nesting-unclosed", b"<a>" * 100000),
    ("deep-nesting-closed", b"<a>" * 200 + b"x" + b"</a>" * 200),
    ("huge-name", b"<" + b"n" * 200000 + b"/>"),
    ("many-siblings", b"<a>" + b"".join(b"<n%d/>" % i for i in range(20000)) + b"</a>"),
    ("many-attributes", b"<a " + b" ".join(b'a%d="1"' % i for i in range(20000)) + b"/>"),
]


def test_webhook_compat_xml_payloads():
    args = [wc.arg("entire-payload")] + [wc.arg("payload", n) for n in NAMES]
    env = [wc.arg("payload", "a.b", envname="T_B")]
    hooks = [wc.hook("x", **{"pass-arguments-to-command": args, "pass-environment-to-command": env}),
             wc.hook("rule", **{"trigger-rule": {"match": {"type": "value", "value": "two",
                                                            "parameter": wc.arg("payload", "a.b.1.#text")}}}),
             wc.hook("forced", **{"incoming-payload-content-type": "text/xml",
                                  "pass-arguments-to-command": [wc.arg("payload", "a.b")]}),
             # a dotted name here makes webhook 2.8.0 panic (ReplaceParameter): top level only
             wc.hook("pj", **{"parse-parameters-as-json": [wc.arg("payload", "a")],
                              "pass-arguments-to-command": [wc.arg("payload", "a.k"), wc.arg("entire-payload")]}),
             wc.hook("small", **{"pass-arguments-to-command": [wc.arg("payload", "a.a.a.a"),
                                                               wc.arg("payload", "a.n19999"),
                                                               wc.arg("payload", "a.-a7")]})]
    ct = {"Content-Type": "application/xml"}
    cases = [(name, ("POST", "/hooks/x", body, ct), True, None) for name, body in WELL_FORMED + MALFORMED]
    cases += [(name, ("POST", "/hooks/small", body, ct), True, None) for name, body in HOSTILE]
    cases += [
        ("json-string-in-xml-parsed", ("POST", "/hooks/pj", b'<a>{"k": "v&lt;"}</a>', ct), True, None),
        ("text-xml-charset", ("POST", "/hooks/x", WELL_FORMED[0][1], {"Content-Type": "text/xml; charset=utf-8"}),
         True, None),
        ("rule-on-xml-text", ("POST", "/hooks/rule", WELL_FORMED[0][1], ct), True, None),
        ("rule-on-xml-mismatch", ("POST", "/hooks/rule", b"<a><b>one</b><b>2</b></a>", ct), False, None),
        ("content-type-override", ("POST", "/hooks/forced", b"<a><b>z</b></a>", {"Content-Type": "text/plain"}),
         True, None),
        ("multipart-boundary-containing-xml", ("POST", "/hooks/x", b"--xmlB\r\nContent-Disposition: form-data; "
                                              b'name="a"\r\n\r\nv\r\n--xmlB--\r\n',
                                              {"Content-Type": "multipart/form-data; boundary=xmlB"}), True, None),
        ("json-wins-over-xml", ("POST", "/hooks/x", b'{"a": {"b": "j"}}', {"Content-Type": "application/xml+json"}),
         True, None),
    ]

    def parsed(view):
        assert view["run"]["argv"][0] != "null", view

    wc.compare(hooks, cases[:1] + [(cases[0][0] + "-check", cases[0][1], True, parsed)] + cases[1:])


def test_webhook_compat_xml_beyond_our_caps_is_a_logged_error():
    """Nesting webhook would follow to any depth is refused past
    XML_MAX_DEPTH: no payload, a log line, and the server keeps serving."""
    srv = wc.Server("edgehook", [wc.hook("x", **{"pass-arguments-to-command": [wc.arg("entire-payload")]})])
    try:
        ct = {"Content-Type": "application/xml"}
        before = srv.runs()
        deep = b"<a>" * 256 + b"</a>" * 256
        assert srv.request("POST", "/hooks/x", deep, ct)[0] == 200
        assert srv.wait_run(before)["argv"] == ["null"]
        wc.wait_log(srv, "error parsing XML payload: edgehook: XML payload refused: elements nested too deep")
        before = srv.runs()
        ok = b"<a>" * 255 + b"</a>" * 255
        assert srv.request("POST", "/hooks/x", ok, ct)[0] == 200
        assert srv.wait_run(before)["argv"][0].startswith('{"a":{"a":')
    finally:
        srv.stop()
