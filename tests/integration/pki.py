"""A throwaway PKI made with the openssl CLI, once per test process."""
import os
import subprocess
import tempfile
import threading

_lock = threading.Lock()
_dir = None


def _run(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def _ca(d, name, cn):
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".pem",
          "-days", "3650", "-subj", "/CN=" + cn], d)


def _leaf(d, name, cn, sans, ca="ca", key="rsa:2048", ec=False, expired=False):
    if ec:
        _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn], d)
    else:
        _run(["openssl", "req", "-newkey", key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
              "-subj", "/CN=" + cn], d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=" + sans + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    if not expired:
        _run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
              "-CAcreateserial", "-out", name + ".pem", "-days", "365", "-extfile", name + ".ext"], d)
        return
    # `openssl x509` cannot backdate; a minimal `openssl ca` can.
    os.makedirs(os.path.join(d, "db"), exist_ok=True)
    open(os.path.join(d, "db", "index.txt"), "w").close()
    with open(os.path.join(d, "db", "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=c\n[c]\ndir=db\ndatabase=db/index.txt\nserial=db/serial\nnew_certs_dir=db\n"
                "default_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n")
    _run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key",
          "-in", name + ".csr", "-out", name + ".pem", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
          "-extfile", name + ".ext", "-notext"], d)


def pki():
    """Directory with ca.pem, other-ca.pem, server(.pem/.key) for localhost,
    ec.pem/.key, expired.pem/.key, wronghost.pem/.key."""
    global _dir
    with _lock:
        if _dir:
            return _dir
        d = tempfile.mkdtemp(prefix="edgehook-pki-")
        _ca(d, "ca", "edgehook test CA")
        _ca(d, "other-ca", "someone else")
        sans = "DNS:localhost,DNS:sink.test,IP:127.0.0.1"
        _leaf(d, "server", "localhost", sans)
        _leaf(d, "ec", "localhost", sans, ec=True)
        _leaf(d, "expired", "localhost", sans, expired=True)
        _leaf(d, "wronghost", "other.example", "DNS:other.example")
        _dir = d
        return d


def path(name):
    return os.path.join(pki(), name)
