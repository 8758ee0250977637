#!/bin/sh
# make bench: install the peers if missing, then run every comparison.
set -eu
cd "$(dirname "$0")/.."
need=""
command -v nginx >/dev/null 2>&1 || need="$need nginx-light"
command -v webhook >/dev/null 2>&1 || need="$need webhook"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v taskset >/dev/null 2>&1 || need="$need util-linux"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
if [ -n "$need" ]; then
	echo "installing:$need"
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
fi
# nginx-light starts a system service on install; the bench runs its own.
command -v systemctl >/dev/null 2>&1 && systemctl stop nginx >/dev/null 2>&1 || true
pkill -x nginx >/dev/null 2>&1 || true
exec python3 bench/bench.py "$@"
