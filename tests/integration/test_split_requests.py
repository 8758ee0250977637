"""Same answer whole or split (issue 12 item 8).

Every case of tests/data/http_requests.txt goes to the server over a real
socket whole, one byte per read, and cut at 20 random points. The status
must be the same each way, and an error in the head must be answered at
the byte that makes it certain: header_timeout is far longer than the
deadline a response gets here, so a 408 cannot pass for an answer.

A piece is read by the server on its own when a barrier follows it: a
fresh connection whose first byte is refused. The piece was readable
before the listener saw the barrier's connection, and epoll reports ready
descriptors in that order, so it has been read once the barrier is
answered."""
import random
import socket

from harness import Edgehook, Reader, assert_eq, assert_true, http_corpus, read_response

CONFIG = "server:\n  header_timeout: 120s\n  body_timeout: 120s\n"
ANSWER_WITHIN = 20.0


def corpus():
    return [c for c in http_corpus() if c[0] != "incomplete"]


def barrier(eh):
    s = eh.connect()
    s.sendall(b"\x01")
    assert_eq(read_response(s).status, 400, "barrier")
    s.close()


def answer(eh, pieces, name):
    """Sends the pieces, each read on its own; the status answered."""
    s = eh.connect(timeout=ANSWER_WITHIN)
    try:
        for p in pieces:
            try:
                s.sendall(p)
            except (BrokenPipeError, ConnectionResetError):
                break  # answered and closed already: read it
            if len(pieces) > 1:
                barrier(eh)
        try:
            rd = Reader(s)
            status = rd.read_response().status
            while status < 200:  # 100 Continue, then the answer
                status = rd.read_response().status
            return status
        except socket.timeout:
            raise AssertionError("%s: no answer within %.0fs (waiting for a timeout?)" % (name, ANSWER_WITHIN))
    finally:
        s.close()


def split_at(raw, cuts):
    cuts = sorted(set(cuts))
    return [raw[a:b] for a, b in zip([0] + cuts, cuts + [len(raw)])]


def check_cases(cases):
    with Edgehook(CONFIG) as eh:
        for expect, name, raw in cases:
            rng = random.Random(name)
            whole = answer(eh, [raw], name)
            if expect != "ok":
                assert_eq(whole, int(expect), name + " (whole)")
            bytewise = answer(eh, [raw[i:i + 1] for i in range(len(raw))], name)
            assert_eq(bytewise, whole, name + " (byte by byte)")
            cuts = rng.sample(range(1, len(raw)), min(20, len(raw) - 1))
            assert_eq(answer(eh, split_at(raw, cuts), name), whole, name + " (20 random splits)")


def test_split_requests_same_status_errors():
    cases = [c for c in corpus() if c[0] != "ok"]
    assert_true(len(cases) > 60, "enough error cases")
    check_cases(cases)


def test_split_requests_same_status_valid():
    cases = [c for c in corpus() if c[0] == "ok"]
    assert_true(len(cases) > 25, "enough valid cases")
    check_cases(cases)
