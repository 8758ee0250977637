#!/usr/bin/env python3
"""Runs every test: C unit tests, integration tests against the real
binary, fuzz corpus replays; for each build flavour given. Prints one
PASS/FAIL line per test and ends with "N passed, N failed"."""
import argparse
import concurrent.futures
import glob
import importlib.util
import io
import os
import subprocess
import sys
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
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


def run_unit(flavour, build):
    for binary in sorted(glob.glob(os.path.join(build, flavour, "tests", "test_*"))):
        name = os.path.basename(binary)
        proc = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True, timeout=300)
        seen = 0
        for line in proc.stdout.splitlines():
            if line.startswith("PASS ") or line.startswith("FAIL "):
                seen += 1
                report("%s unit %s: %s" % (flavour, name, line[5:]), line.startswith("PASS"),
                       proc.stderr if line.startswith("FAIL") else "")
        if proc.returncode != 0 and "FAIL" not in proc.stdout:
            report("%s unit %s exit status" % (flavour, name), False, proc.stderr[-3000:])
        if seen == 0:
            report("%s unit %s ran tests" % (flavour, name), False, "no PASS/FAIL lines")


def run_fuzz_replay(flavour, build):
    for binary in sorted(glob.glob(os.path.join(build, flavour, "fuzz", "fuzz_*"))):
        name = os.path.basename(binary)
        corpus = os.path.join(ROOT, "fuzz", "corpus", name[len("fuzz_"):])
        files = sorted(glob.glob(os.path.join(corpus, "*")))
        if not files:
            report("%s fuzz %s has a corpus" % (flavour, name), False, "no files in " + corpus)
            continue
        proc = subprocess.run([binary] + files, capture_output=True, text=True, timeout=600)
        report("%s fuzz replay %s (%d inputs)" % (flavour, name, len(files)), proc.returncode == 0,
               proc.stderr[-3000:])


def load_tests(pattern):
    tests = []
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))):
        mod_name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(mod_name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr in sorted(dir(mod)):
            if attr.startswith("test_") and callable(getattr(mod, attr)):
                full = "%s.%s" % (mod_name, attr)
                if not pattern or pattern in full:
                    tests.append((full, getattr(mod, attr), getattr(getattr(mod, attr), "serial", False)))
    return tests


def run_one(test):
    name, fn, _ = test
    start = time.time()
    try:
        fn()
        return name, True, "", time.time() - start
    except Exception:
        return name, False, traceback.format_exc()[-4000:], time.time() - start


def run_integration(flavour, build, pattern, jobs):
    os.environ["EDGEHOOK_BIN"] = os.path.join(build, flavour, "edgehook.bin")
    os.environ["EDGEHOOK_FLAVOUR"] = flavour
    tests = load_tests(pattern)
    parallel = [t for t in tests if not t[2]]
    serial = [t for t in tests if t[2]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, ok, detail, secs in pool.map(run_one, parallel):
            report("%s integration %s (%.1fs)" % (flavour, name, secs), ok, detail)
    for t in serial:
        name, ok, detail, secs = run_one(t)
        report("%s integration %s (%.1fs)" % (flavour, name, secs), ok, detail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--flavours", default="release,asan")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("-j", dest="jobs", type=int, default=4)
    ap.add_argument("--only", default="unit,integration,fuzz")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    only = args.only.split(",")
    start = time.time()
    for flavour in args.flavours.split(","):
        if "unit" in only and not args.pattern:
            run_unit(flavour, build)
        if "fuzz" in only and not args.pattern:
            run_fuzz_replay(flavour, build)
        if "integration" in only:
            run_integration(flavour, build, args.pattern, args.jobs)
    print("took %.0fs" % (time.time() - start))
    if failures:
        print("failed: " + ", ".join(failures))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
