#!/usr/bin/env python3
"""Runs every test: C unit tests, integration tests against the real
binary, fuzz corpus replays; for each build flavour given. Prints one
PASS/FAIL line per test and ends with "N passed, N failed", always.

Each flavour's integration pass runs in a fresh interpreter (this script
with --integration-child), so nothing a test module keeps from import time
can carry one flavour's binary into the next flavour's pass."""
import argparse
import concurrent.futures
import glob
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEFAULT_TIMEOUT = 240  # seconds per integration test; @harness.timeout(n) changes it
SLOWDOWN = 5 if os.environ.get("EDGEHOOK_VALGRIND") else 1  # memcheck runs everything ~5-20x slower
passed = failed = 0
failures = []


def report(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS %s" % name, flush=True)
    else:
        failed += 1
        failures.append(name)
        print("FAIL %s" % name, flush=True)
        if detail:
            print("  " + detail.strip().replace("\n", "\n  "), flush=True)


def binaries(build, flavour, kind, prefix, sources):
    """The built binary of every source in sources (a glob under ROOT): one
    left in the build tree by a test since removed is not run, and a
    source without its binary is a failure."""
    found = []
    for src in sorted(glob.glob(os.path.join(ROOT, sources))):
        name = os.path.splitext(os.path.basename(src))[0]
        binary = os.path.join(build, flavour, kind, name)
        if os.path.exists(binary):
            found.append(binary)
        else:
            report("%s %s %s built" % (flavour, kind, name), False, "no %s: build the flavour first" % binary)
    if not found:
        report("%s %s binaries exist" % (flavour, kind), False,
               "no %s* in %s: build the flavour first" % (prefix, os.path.join(build, flavour, kind)))
    return found


def run_unit(flavour, build):
    for binary in binaries(build, flavour, "tests", "test_", "tests/unit/test_*.c"):
        name = os.path.basename(binary)
        try:
            proc = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            report("%s unit %s finished" % (flavour, name), False, "timed out after 300s")
            continue
        seen = {"PASS": 0, "FAIL": 0}
        count = None
        for line in proc.stdout.splitlines():
            if line.startswith("PASS ") or line.startswith("FAIL "):
                seen[line[:4]] += 1
                report("%s unit %s: %s" % (flavour, name, line[5:]), line.startswith("PASS"),
                       proc.stderr if line.startswith("FAIL") else "")
            m = re.match(r"^(\d+) passed, (\d+) failed$", line)
            if m:
                count = (int(m.group(1)), int(m.group(2)))
        # the binary's own count line is printed last by unit_done(): a
        # crash or an early exit leaves it out or makes it disagree
        if count != (seen["PASS"], seen["FAIL"]):
            report("%s unit %s reported all its tests" % (flavour, name), False,
                   "saw %d PASS / %d FAIL lines, binary counted %s; exit %d\n%s" % (
                       seen["PASS"], seen["FAIL"], count, proc.returncode, proc.stderr[-3000:]))
        elif (proc.returncode != 0) != (seen["FAIL"] > 0):
            report("%s unit %s exit status" % (flavour, name), False,
                   "exit %d with %d failures\n%s" % (proc.returncode, seen["FAIL"], proc.stderr[-3000:]))
        if seen["PASS"] + seen["FAIL"] == 0:
            report("%s unit %s ran tests" % (flavour, name), False, "no PASS/FAIL lines")


def run_fuzz_replay(flavour, build):
    for binary in binaries(build, flavour, "fuzz", "fuzz_", "fuzz/fuzz_*.c"):
        name = os.path.basename(binary)
        corpus = os.path.join(ROOT, "fuzz", "corpus", name[len("fuzz_"):])
        files = sorted(glob.glob(os.path.join(corpus, "*")))
        if not files:
            report("%s fuzz %s has a corpus" % (flavour, name), False, "no files in " + corpus)
            continue
        try:
            proc = subprocess.run([binary] + files, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            report("%s fuzz replay %s finished" % (flavour, name), False, "timed out after 600s")
            continue
        ok = proc.returncode == 0 and ("replayed %d inputs" % len(files)) in proc.stdout
        report("%s fuzz replay %s (%d inputs)" % (flavour, name, len(files)), ok, proc.stdout[-500:] + proc.stderr[-3000:])


def load_tests(pattern):
    """Returns (tests, errors): a module that does not import is a counted
    failure, never a silently smaller suite."""
    tests, errors = [], []
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))):
        mod_name = os.path.splitext(os.path.basename(path))[0]
        try:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = mod
            spec.loader.exec_module(mod)
        except BaseException:
            errors.append((mod_name, traceback.format_exc()[-4000:]))
            continue
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if attr.startswith("test_") and callable(fn) and getattr(fn, "__module__", None) == mod_name:
                full = "%s.%s" % (mod_name, attr)
                if not pattern or pattern in full:
                    tests.append((full, fn, getattr(fn, "serial", False), getattr(fn, "timeout", DEFAULT_TIMEOUT)))
    return tests, errors


def run_one(test):
    """Runs a test in its own thread with a deadline. A test that hangs
    fails with its name, the processes it started are killed by pid, and
    the run goes on. Any exception, SystemExit and KeyboardInterrupt
    included, is a failure."""
    import harness
    name, fn, _, limit = test
    result = {}

    def body():
        harness.current_test.name = name
        try:
            fn()
            result["ok"] = True
        except BaseException:
            result["ok"] = False
            result["detail"] = traceback.format_exc()[-4000:]

    start = time.time()
    t = threading.Thread(target=body, name=name, daemon=True)
    t.start()
    limit *= SLOWDOWN
    t.join(limit)
    secs = time.time() - start
    if t.is_alive():
        harness.kill_started(name)
        t.join(10)
        return name, False, "timed out after %ds (its edgehook processes were killed)" % limit, secs
    harness.forget_started(name)
    return name, result.get("ok", False), result.get("detail", "no result"), secs


def integration_child(flavour, build, pattern, jobs):
    os.environ["EDGEHOOK_BIN"] = os.path.join(build, flavour, "edgehook.bin")
    os.environ["EDGEHOOK_FLAVOUR"] = flavour
    if not os.path.exists(os.environ["EDGEHOOK_BIN"]):
        report("%s integration binary exists" % flavour, False, os.environ["EDGEHOOK_BIN"] + " is missing")
        return
    tests, errors = load_tests(pattern)
    for mod_name, detail in errors:
        report("%s integration %s imports" % (flavour, mod_name), False, detail)
    if not tests and not errors:
        report("%s integration tests selected" % flavour, False, "no test matches %r" % pattern)
    parallel = [t for t in tests if not t[2]]
    serial = [t for t in tests if t[2]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, ok, detail, secs in pool.map(run_one, parallel):
            report("%s integration %s (%.1fs)" % (flavour, name, secs), ok, detail)
    for t in serial:
        name, ok, detail, secs = run_one(t)
        report("%s integration %s (%.1fs)" % (flavour, name, secs), ok, detail)


def run_integration(flavour, build, pattern, jobs):
    """The flavour's integration pass in a fresh interpreter; its PASS/FAIL
    lines are relayed and counted here, and a child that dies without its
    summary line is a failure."""
    cmd = [sys.executable, os.path.abspath(__file__), "--integration-child", "--build", build, "--flavours", flavour,
           "-j", str(jobs)]
    if pattern:
        cmd += ["-k", pattern]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    before = (passed, failed)
    summary = None
    current = None
    for line in child.stdout:
        line = line.rstrip("\n")
        if current is not None and line.startswith("  "):
            current[1].append(line[2:])
            continue
        if current is not None:
            report(current[0], False, "\n".join(current[1]))
            current = None
        m = re.match(r"^(PASS|FAIL) (.*)$", line)
        if m and m.group(1) == "PASS":
            report(m.group(2), True)
            continue
        if m:
            current = [m.group(2), []]
            continue
        m = re.match(r"^(\d+) passed, (\d+) failed$", line)
        if m:
            summary = (int(m.group(1)), int(m.group(2)))
        elif line:
            print(line, flush=True)
    if current is not None:
        report(current[0], False, "\n".join(current[1]))
    rc = child.wait()
    if summary is None or (rc != 0) != (summary[1] > 0) or summary != (passed - before[0], failed - before[1]):
        report("%s integration pass completed" % flavour, False, "child exit %d, summary %s" % (rc, summary))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--flavours", default="release,asan")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("-j", dest="jobs", type=int, default=4)
    ap.add_argument("--only", default="unit,integration,fuzz")
    ap.add_argument("--integration-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    only = args.only.split(",")
    start = time.time()
    try:
        if args.integration_child:
            integration_child(args.flavours, build, args.pattern, args.jobs)
        else:
            for flavour in args.flavours.split(","):
                if "unit" in only and not args.pattern:
                    run_unit(flavour, build)
                if "fuzz" in only and not args.pattern:
                    run_fuzz_replay(flavour, build)
                if "integration" in only:
                    run_integration(flavour, build, args.pattern, args.jobs)
    except BaseException:
        report("test runner", False, traceback.format_exc()[-4000:])
    if not args.integration_child:
        print("took %.0fs" % (time.time() - start))
        if failures:
            print("failed: " + ", ".join(failures))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # a hung test's threads must not keep the interpreter from exiting
    os._exit(code)
