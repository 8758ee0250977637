"""Issue 12 #11: no script in the tree touches processes or services it
did not start. Stopping is by pid (of a process the script started),
never by name, and no script stops a system service."""
import os
import re
import subprocess

from harness import REPO, assert_true

# kill by name, or a service manager stopping what the user runs
FORBIDDEN = re.compile(r"\b(pkill|killall|pidof)\b|systemctl\s+(stop|kill|restart|disable\s+--now)|"
                       r"\bservice\s+\S+\s+(stop|restart)\b|kill\s+[^\n]*\$\((pgrep|pidof)")
SCRIPT = re.compile(r"(\.(sh|py|mk)$|(^|/)(Makefile|run)$)")


def tracked_scripts():
    out = subprocess.run(["git", "-C", REPO, "ls-files"], capture_output=True, text=True, check=True).stdout
    files = [f for f in out.splitlines() if SCRIPT.search(f)]
    assert_true(len(files) > 10, "found the tree's scripts (%d)" % len(files))
    return files


def test_no_script_kills_by_name_or_stops_services():
    here = os.path.relpath(__file__, REPO)
    offenders = []
    for rel in tracked_scripts():
        if rel == here:
            continue
        with open(os.path.join(REPO, rel), encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.lstrip().startswith("#") and FORBIDDEN.search(line):
                    offenders.append("%s:%d: %s" % (rel, n, line.strip()))
    assert_true(not offenders, "kill by name / service stop:\n" + "\n".join(offenders))


def test_forbidden_pattern_catches_what_the_audit_found():
    """The check itself can fail: the two lines bench/run.sh once had."""
    for bad in ("systemctl stop nginx 2>/dev/null || true", "pkill -x nginx || true", "kill $(pidof nginx)"):
        assert_true(FORBIDDEN.search(bad), "pattern misses: " + bad)
    for ok in ('kill "$(cat "$dir/nginx.pid")"', "os.kill(pid, signal.SIGTERM)"):
        assert_true(not FORBIDDEN.search(ok), "pattern flags: " + ok)
