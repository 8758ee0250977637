#!/usr/bin/env python3
"""Command for the webhook compatibility tests: records what it was
given (argv, the HOOK_* and test variables, files named by them, cwd,
stdin) as JSON in $ECHO_DIR, prints its arguments, and exits 3 when an
argument is "fail"."""
import json
import os
import sys

rec = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": {}, "files": {}}
for k, v in os.environ.items():
    if k.startswith("HOOK_") or k.startswith("T_"):
        rec["env"][k] = v
        if os.path.isfile(v) and os.path.basename(v).startswith(k):
            with open(v, "rb") as f:
                rec["files"][k] = f.read().decode("utf-8", "replace")
rec["stdin"] = sys.stdin.read()
out = os.environ.get("ECHO_DIR")
if out:
    tmp = os.path.join(out, ".run-%d" % os.getpid())
    with open(tmp, "w") as f:
        json.dump(rec, f, sort_keys=True)
    os.rename(tmp, os.path.join(out, "run-%d.json" % os.getpid()))
print("args:", " ".join(sys.argv[1:]))
sys.stderr.write("to stderr\n")
sys.exit(3 if "fail" in sys.argv[1:] else 0)
