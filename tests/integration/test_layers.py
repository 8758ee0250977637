"""The house: calls between src/ directories only go down the layers
(relay -> config -> http -> net -> json -> core, with config never
calling http/ or net/), read from the symbols each object file defines
and uses, so a call hidden behind a header declared elsewhere counts."""
import collections
import glob
import os
import subprocess

from harness import assert_true

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# what each layer may call besides itself
ALLOWED = {
    "core": set(),
    "json": {"core"},
    "net": {"core"},
    "http": {"net", "core"},
    "config": {"json", "core"},
    "relay": {"config", "http", "net", "json", "core"},
}


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRB":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
    return defined, used


def calls_between_layers():
    """{(from_dir, to_dir): ["file.o -> file.o: symbol", ...]} for the
    objects of today's sources (stale objects of moved files ignored)."""
    obj_root = os.path.join(os.path.dirname(os.environ["EDGEHOOK_BIN"]), "obj")
    objs = {}
    for src in glob.glob(os.path.join(REPO_ROOT, "src", "*", "*.c")):
        layer = os.path.basename(os.path.dirname(src))
        obj = os.path.join(obj_root, layer, os.path.basename(src)[:-2] + ".o")
        assert_true(os.path.exists(obj), "object for %s (build the flavour first)" % src)
        objs[obj] = (layer, symbols(obj))
    owner = {}
    for obj, (layer, (defined, _)) in objs.items():
        for s in defined:
            owner[s] = obj
    edges = collections.defaultdict(list)
    for obj, (layer, (_, used)) in objs.items():
        for s in sorted(used):
            if s in owner and objs[owner[s]][0] != layer:
                edges[(layer, objs[owner[s]][0])].append(
                    "%s -> %s: %s" % (os.path.basename(obj), os.path.basename(owner[s]), s))
    return edges


def test_calls_only_go_down_the_layers():
    edges = calls_between_layers()
    assert_true(edges, "no calls between layers found at all: the check would be blind")
    for layer in edges:
        assert_true(layer[0] in ALLOWED and layer[1] in ALLOWED, "unknown source directory in %r" % (layer,))
    wrong = ["%s -> %s (%s)" % (a, b, "; ".join(calls[:3])) for (a, b), calls in sorted(edges.items())
             if b not in ALLOWED[a]]
    assert_true(not wrong, "calls against the layer order: " + " | ".join(wrong))
