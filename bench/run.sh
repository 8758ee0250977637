#!/bin/sh
# make bench: install the peers if missing, then run every comparison.
# The bench starts its own nginx, webhook and edgehook on free ports with
# their own pid files and stops them by pid (bench/bench.py); it never
# touches a process or a service it did not start.
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
	# Debian packages start (and enable) their service on install; a
	# policy-rc.d that answers 101 forbids it for the time of this install
	# only. One the admin already has is left as it is.
	policy=/usr/sbin/policy-rc.d
	own_policy=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	trap '[ -z "$own_policy" ] || rm -f "$policy"' EXIT
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
	[ -z "$own_policy" ] || rm -f "$policy"
	own_policy=""
	# enabled units still start at the next boot: leave nginx disabled
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && case "$need" in *nginx*) true ;; *) false ;; esac; then
		systemctl disable nginx >/dev/null 2>&1 || :
	fi
fi
exec python3 bench/bench.py "$@"
