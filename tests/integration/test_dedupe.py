"""Dedupe: keyed and compared in full (a forged id cannot make a real
delivery a duplicate), and server.dedupe: 0 turns it off."""
from harness import Edgehook, assert_eq

CFG = """
server:
  dedupe: %s
webhook:
  endpoints:
    - url: "stdout:"
triggers:
  - {id: t, emit: true}
"""

# Equal under the old unkeyed FNV-1a-32 + djb2 key for scope "t": found
# by a birthday search over djb2-equal strings in 2 s of Python.
FORGED = "order-aaaaaaaab@b@aaaab@b@aab@aab@b@aaaaaaaaaa"
REAL = "order-aaaab@b@aab@aaaab@aab@b@b@aaaaaab@aaaaaa"


def test_dedupe_forged_collision_is_no_duplicate():
    with Edgehook(CFG % "1000") as eh:
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": FORGED}).status, 202)
        r = eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": REAL})
        assert_eq(r.status, 202, "the real delivery is accepted")
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": REAL}).status, 200)
        eh.wait_stdout(2)


def test_dedupe_zero_turns_it_off():
    with Edgehook(CFG % "0") as eh:
        for _ in range(3):
            assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": "k"}).status, 202)
        eh.wait_stdout(3)
    with Edgehook(CFG % "1") as eh:
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": "k"}).status, 202)
        assert_eq(eh.request("POST", "/webhooks/t", b"{}", {"Idempotency-Key": "k"}).status, 200)
