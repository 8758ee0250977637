"""Packaging (issue 20 #3, #4): make deb, the package's metadata and
contents, an install into a throwaway root, the man page and the units."""
import gzip
import os
import re
import shutil
import subprocess
import tempfile

import harness
from harness import assert_eq, assert_true

PKG = os.path.join(harness.REPO, "packaging")
STATIC = os.path.join(harness.REPO, "build", "static", "edgehook.bin")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    if r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r


def build_deb():
    out = run(["make", "--no-print-directory", "deb"], cwd=harness.REPO).stdout.strip().splitlines()[-1]
    return os.path.join(harness.REPO, out)


def test_make_deb_metadata_contents_and_install_into_a_throwaway_root():
    deb = build_deb()
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    version = re.search(r'^VERSION\s*:=\s*(\S+)', open(os.path.join(harness.REPO, "Makefile")).read(), re.M).group(1)
    assert_eq(os.path.basename(deb), "edgehook_%s_%s.deb" % (version, arch))
    info = run(["dpkg-deb", "--info", deb]).stdout
    for field in ("Package: edgehook", "Version: " + version, "Architecture: " + arch, "Description:"):
        assert_true(field in info, field + " in\n" + info)
    assert_eq(run(["dpkg-deb", "--ctrl-tarfile", deb]).returncode, 0)
    conffiles = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
    assert_eq(conffiles, ["/etc/edgehook/config.yaml"])
    contents = {}
    for line in run(["dpkg-deb", "--contents", deb]).stdout.splitlines():
        cols = line.split()
        contents[cols[5].lstrip(".")] = (cols[0], cols[1])
    for path, mode in (("/usr/bin/edgehook", "-rwxr-xr-x"), ("/etc/edgehook/config.yaml", "-rw-r--r--"),
                       ("/usr/lib/systemd/system/edgehook.service", "-rw-r--r--"),
                       ("/usr/lib/systemd/system/edgehook.socket", "-rw-r--r--"),
                       ("/usr/share/man/man1/edgehook.1.gz", "-rw-r--r--"),
                       ("/usr/share/doc/edgehook/copyright", "-rw-r--r--")):
        assert_eq(contents.get(path), (mode, "root/root"), path)

    root = tempfile.mkdtemp(prefix="edgehook-dpkg-root-")
    try:
        os.makedirs(os.path.join(root, "var/lib/dpkg/info"))
        os.makedirs(os.path.join(root, "var/lib/dpkg/updates"))
        open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
        # an empty root has no shell to chroot into: scripts run outside
        # with DPKG_ROOT, and passwd (Depends) is not there
        dpkg = ["dpkg", "--root=" + root, "--force-script-chrootless", "--force-not-root", "--force-depends",
                "--log=/dev/null"]
        run(dpkg + ["-i", deb])
        assert_true("Status: install ok installed" in run(["dpkg", "--root=" + root, "-s", "edgehook"]).stdout, root)
        assert_true(os.path.isdir(os.path.join(root, "var/lib/edgehook")), "postinst made the state dir")
        installed = os.path.join(root, "usr/bin/edgehook")
        assert_eq(run([installed, "--version"]).stdout.strip(), "edgehook " + version)
        assert_eq(run([installed, "--check", "-c", os.path.join(root, "etc/edgehook/config.yaml")]).stdout.strip(), "ok")
        with gzip.open(os.path.join(root, "usr/share/man/man1/edgehook.1.gz"), "rt") as f:
            assert_eq(f.read(), open(os.path.join(PKG, "edgehook.1")).read())
        run(dpkg + ["--purge", "edgehook"])
        for gone in ("usr/bin/edgehook", "etc/edgehook/config.yaml", "var/lib/edgehook"):
            assert_true(not os.path.exists(os.path.join(root, gone)), gone + " left after purge")
    finally:
        shutil.rmtree(root)
    if shutil.which("lintian"):
        run(["lintian", "--fail-on", "error,warning", deb])


def test_man_page_renders_without_warnings_and_help_points_to_it():
    page = os.path.join(PKG, "edgehook.1")
    assert_true(shutil.which("man") and shutil.which("groff"), "tests/setup.sh installs man-db and groff")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
    assert_eq((r.returncode, r.stderr), (0, ""), "groff warnings")
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert_eq((r.returncode, r.stderr), (0, ""), "man -l warnings")
    for section in ("SYNOPSIS", "OPTIONS", "SIGNALS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"):
        assert_true(section in r.stdout, section)
    for flag in ("--healthcheck", "--check", "--user", "SIGUSR2", "NOTIFY_SOCKET", "LISTEN_FDS", "WATCHDOG_USEC"):
        assert_true(flag in r.stdout.replace("\u2010", "-"), flag + " in the man page")
    assert_true("man edgehook" in harness.run_cli(["--help"]).stdout, "--help points to the man page")


def test_service_unit_has_the_hardening_and_verifies():
    unit = open(os.path.join(PKG, "edgehook.service")).read()
    for line in ("Type=notify", "User=edgehook", "StateDirectory=edgehook", "ProtectSystem=strict", "ProtectHome=yes",
                 "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert_true(re.search(r"^" + re.escape(line), unit, re.M), line)
    assert_true(shutil.which("systemd-analyze"), "tests/setup.sh installs systemd (for systemd-analyze)")
    assert_true(os.path.exists(STATIC), "make test builds build/static/edgehook.bin")
    # verify wants ExecStart's binary to exist: the units as installed,
    # with the path of the binary built here
    d = tempfile.mkdtemp(prefix="edgehook-units-")
    try:
        for name in ("edgehook.service", "edgehook.socket"):
            with open(os.path.join(d, name), "w") as f:
                f.write(open(os.path.join(PKG, name)).read().replace("/usr/bin/edgehook", os.path.abspath(STATIC)))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(d, "edgehook.service"),
                            os.path.join(d, "edgehook.socket")], capture_output=True, text=True, timeout=120)
        assert_eq(r.returncode, 0, r.stderr)
        assert_true("edgehook" not in r.stderr, r.stderr)
    finally:
        shutil.rmtree(d)


def test_packaged_config_is_valid_and_commented():
    path = os.path.join(PKG, "config.yaml")
    assert_eq(harness.run_cli(["--check", "-c", path]).stdout.strip(), "ok")
    text = open(path).read()
    assert_true(text.count("\n#") + text.count("  #") >= 10, "comments explain the settings")
