#!/bin/sh
# Builds edgehook_VERSION_ARCH.deb from the static binary with dpkg-deb
# alone (no debhelper): make deb VERSION=... calls it.
#   sh packaging/mkdeb.sh BINARY VERSION OUTDIR
set -eu
bin=$1 version=$2 out=$3
arch=$(dpkg --print-architecture)
here=$(dirname "$0")
stage=$out/deb-root
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/man/man1" "$stage/usr/share/doc/edgehook" \
	"$stage/usr/lib/systemd/system" "$stage/etc/edgehook"
install -m 0755 "$bin" "$stage/usr/bin/edgehook"
install -m 0644 "$here/edgehook.service" "$here/edgehook.socket" "$stage/usr/lib/systemd/system/"
install -m 0644 "$here/config.yaml" "$stage/etc/edgehook/config.yaml"
gzip -9n <"$here/edgehook.1" >"$stage/usr/share/man/man1/edgehook.1.gz"
install -m 0644 "$here/deb/copyright" "$stage/usr/share/doc/edgehook/copyright"
gzip -9n <"$here/../README.md" >"$stage/usr/share/doc/edgehook/README.md.gz"
printf 'edgehook (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- edgehook maintainers <edgehook@localhost>  %s\n' \
	"$version" "$version" "$(date -R -u -d @"${SOURCE_DATE_EPOCH:-0}")" |
	gzip -9n >"$stage/usr/share/doc/edgehook/changelog.gz"
chmod 0644 "$stage/usr/share/man/man1/edgehook.1.gz" "$stage/usr/share/doc/edgehook/"*
install -m 0755 "$here/deb/postinst" "$here/deb/postrm" "$stage/DEBIAN/"
echo /etc/edgehook/config.yaml >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/deb/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find usr etc -type f -exec md5sum {} + | sort -k2) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
deb=$out/edgehook_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error,warning "$deb"
fi
echo "$deb"
