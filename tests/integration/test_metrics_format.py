"""The /metrics exposition (issue 13 #2): every family is introduced by
one `# HELP` line and one `# TYPE` line, in that order, before its first
sample, and no family is introduced twice."""
import re

from harness import Edgehook, assert_eq, assert_true
from sinks import Sink

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? \S+$")


def families(text):
    """name -> [help?, type?]; fails on a sample before its head."""
    seen = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert_true(name not in seen, "one HELP for " + name)
            assert_true(doc.strip() != "", "HELP text for " + name)
            seen[name] = ["help"]
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert_eq(seen.get(name), ["help"], "HELP just before TYPE for " + name)
            assert_true(kind in ("counter", "gauge"), "type of " + name)
            seen[name].append(kind)
        else:
            m = SAMPLE.match(line)
            assert_true(m is not None, "sample line: " + line)
            assert_eq(len(seen.get(m.group(1), [])), 2, "HELP and TYPE before " + m.group(1))
    return seen


def test_metrics_every_family_has_help_and_type():
    sink = Sink()
    cfg = ("webhook:\n  endpoints:\n    - url: \"%s\"\n      name: a\n    - url: \"stdout:\"\n      name: out\n"
           "triggers:\n  - id: t\n    emit: true\n" % sink.url())
    try:
        with Edgehook(cfg) as eh:
            m = eh.request("GET", "/metrics").body.decode()
            seen = families(m)
            for name in ("edgehook_uptime_seconds", "edgehook_requests_total", "edgehook_webhooks_total",
                         "edgehook_events_total", "edgehook_deliveries_delivered_total",
                         "edgehook_endpoint_in_flight", "edgehook_client_tls_resumed_total"):
                assert_true(name in seen, "family " + name)
            assert_true('edgehook_deliveries_failed_total{endpoint="a"} 0' in m, "labelled sample kept")
    finally:
        sink.close()
