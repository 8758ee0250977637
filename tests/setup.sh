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
if [ -n "$need" ]; then
	echo "installing:$need"
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
fi
