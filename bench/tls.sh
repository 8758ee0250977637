#!/bin/sh
# make bench, TLS part: handshake cost against nginx on the same
# certificates (bench/tls.py). bench/run.sh installs the peers first; nginx
# runs from the bench's own config and pid file and is stopped by pid.
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/tls.py "$@"
