#!/bin/sh
# Installs what the build and tests use when it is missing (Debian).
# The tests need every tool here and fail, rather than pass, without one.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "make test runs as root: it checks privilege dropping, chroot and root-only command rules" >&2
	exit 1
fi
need=""
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
command -v dpkg-source >/dev/null 2>&1 || need="$need dpkg-dev"
command -v musl-gcc >/dev/null 2>&1 || need="$need musl-tools"
command -v chroot >/dev/null 2>&1 || need="$need coreutils"
command -v ps >/dev/null 2>&1 || need="$need procps"
command -v pgrep >/dev/null 2>&1 || need="$need procps"
command -v file >/dev/null 2>&1 || need="$need file"
command -v dpkg-deb >/dev/null 2>&1 || need="$need dpkg"
command -v man >/dev/null 2>&1 || need="$need man-db"
command -v groff >/dev/null 2>&1 || need="$need groff-base"
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v webhook >/dev/null 2>&1 || need="$need webhook"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v chattr >/dev/null 2>&1 || need="$need e2fsprogs"
if [ -n "$need" ]; then
	echo "installing:$need"
	apt-get update -q >/dev/null
	# systemd is wanted for systemd-analyze only, redis-server for the
	# binary (tests start their own): their maintainer scripts must start
	# nothing in this container (policy-rc.d 101 = "do not")
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		policy=1
	fi
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
	if [ -n "$policy" ]; then
		rm -f /usr/sbin/policy-rc.d
	fi
fi
# The status page tests (tests/integration/test_ui.py) drive Debian's
# chromium with puppeteer-core from npm (pinned in tests/ui/package.json,
# works with Node 18 and 20); puppeteer-core never downloads a browser.
ui_need=""
command -v chromium >/dev/null 2>&1 || ui_need="$ui_need chromium"
command -v node >/dev/null 2>&1 || ui_need="$ui_need nodejs"
command -v npm >/dev/null 2>&1 || ui_need="$ui_need npm"
if [ -n "$ui_need" ]; then
	echo "installing:$ui_need"
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $ui_need >/dev/null
fi
ui_dir="$(dirname "$0")/ui"
if [ ! -f "$ui_dir/node_modules/puppeteer-core/package.json" ] ||
	[ "$ui_dir/package-lock.json" -nt "$ui_dir/node_modules/.package-lock.json" ]; then
	echo "installing: puppeteer-core into tests/ui/node_modules"
	(cd "$ui_dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
fi
