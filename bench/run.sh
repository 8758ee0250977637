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
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
command -v strace >/dev/null 2>&1 || need="$need strace"
if [ -n "$need" ]; then
	echo "installing:$need"
	# Debian packages start (and enable) their service on install; a
	# policy-rc.d that answers 101 forbids any start for the time of this
	# install. An existing one is set aside and put back afterwards.
	policy=/usr/sbin/policy-rc.d
	saved=$policy.edgehook-bench
	restore() {
		rm -f "$policy"
		if [ -e "$saved" ]; then mv "$saved" "$policy"; fi
	}
	if [ -e "$policy" ]; then mv "$policy" "$saved"; fi
	trap restore EXIT
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
	restore
	trap - EXIT
	# the package also enables its service for the next boot: undo that
	case "$need" in
	*nginx-light*)
		if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
			systemctl disable nginx >/dev/null 2>&1 || :
		elif command -v update-rc.d >/dev/null 2>&1; then
			update-rc.d nginx disable >/dev/null 2>&1 || :
		fi
		;;
	esac
fi
sh bench/tls.sh
python3 bench/spool.py
python3 bench/cluster.py
python3 bench/bench.py "$@"
exec env BENCH_REPEAT="${BENCH_REPEAT:-5}" python3 bench/webhook.py
