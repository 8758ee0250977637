#!/bin/sh
# Fetch the pinned Debian source packages of BearSSL and jsmn into DEST
# (default build/vendor) and unpack them. Nothing here touches the system's
# apt configuration: apt runs on a private state dir and a sources list
# derived from the mirror the machine is already configured with.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/../build/vendor}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
apt_dir=$dest/apt
dl=$dest/dl

if [ -f "$dest/.stamp" ]; then exit 0; fi

# The mirror the base image already uses (deb822 or one-line format).
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
	[ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
	echo "fetch.sh: no Debian mirror found in /etc/apt" >&2
	exit 1
fi
suite=bookworm

mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$dl"
: > "$apt_dir/state/status"
printf 'deb-src %s %s main\ndeb %s %s main\n' "$mirror" "$suite" "$mirror" "$suite" > "$apt_dir/sources.list"

apt_opts="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/nonexistent
 -o Dir::State=$apt_dir/state -o Dir::State::status=$apt_dir/state/status
 -o Dir::Cache=$apt_dir/cache -o APT::Sandbox::User=root -o Debug::NoLocking=1"

if ! command -v apt-get >/dev/null; then
	echo "fetch.sh: apt-get is required" >&2
	exit 1
fi
# shellcheck disable=SC2086
apt-get -q $apt_opts update >/dev/null
cd "$dl"
# shellcheck disable=SC2086
apt-get -q $apt_opts source --download-only bearssl=0.6+dfsg.1-3 >/dev/null
# jsmn's Debian diff is missing from the mirror (404), so apt-get source
# fails after the orig tarball has arrived; the tarball is all we need.
# shellcheck disable=SC2086
apt-get -q $apt_opts source --download-only jsmn=1.1.0-2 >/dev/null 2>&1 || true
if [ ! -f jsmn_1.1.0.orig.tar.gz ]; then
	# shellcheck disable=SC2086
	apt-get -q $apt_opts download libjsmn-dev=1.1.0-2 >/dev/null
fi

# Every file we use must match its pinned hash.
for f in $(awk '{ print $2 }' "$here/SHA256SUMS"); do
	[ -f "$f" ] || continue
	grep " $f\$" "$here/SHA256SUMS" | sha256sum -c --quiet - || {
		echo "fetch.sh: checksum mismatch for $f" >&2
		exit 1
	}
done

rm -rf "$dest/bearssl" "$dest/jsmn"
mkdir -p "$dest/bearssl" "$dest/jsmn"
tar -xJf bearssl_0.6+dfsg.1.orig.tar.xz -C "$dest/bearssl" --strip-components=1
if [ -f jsmn_1.1.0.orig.tar.gz ]; then
	tar -xzf jsmn_1.1.0.orig.tar.gz -C "$dest/jsmn" --strip-components=1
else
	dpkg-deb -x libjsmn-dev_1.1.0-2_all.deb "$dest/jsmn/pkg"
	cp "$dest/jsmn/pkg/usr/include/jsmn.h" "$dest/jsmn/jsmn.h"
fi
test -f "$dest/bearssl/inc/bearssl.h"
test -f "$dest/jsmn/jsmn.h"
touch "$dest/.stamp"
echo "fetch.sh: BearSSL 0.6 and jsmn 1.1.0 ready in $dest"
