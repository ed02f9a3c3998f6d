#!/usr/bin/env bash
# Builds the desktop app's Debian package from a built binary:
#
#   packaging/deb.sh BINARY VERSION OUT.deb
#
# The package holds /usr/bin/epicshare, its .desktop entry and its icon.
# Depends names the libraries the binary links (its ELF NEEDED entries,
# checked here against the packages that own them on this machine, so a
# new one fails the build instead of a user's install) and those GLFW
# opens with dlopen, which only the binary's strings name. DEB_COMPRESS picks
# dpkg-deb's compressor: xz for releases; the check in `make test` uses
# none, to spend no time squeezing a package it throws away.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 BINARY VERSION OUT.deb" >&2
	exit 2
fi
bin=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
icon=$here/../assets/icon.png
app_id=io.github.epicshare
compress=${DEB_COMPRESS:-xz}
maintainer=${DEB_MAINTAINER:-EpicShare developers <https://github.com/epicshare/epicshare/issues>}

# Linked (NEEDED): libGL.so.1, libwayland-client.so.0, libc and libm.
# Opened by GLFW 3.4 with dlopen: libX11, libXcursor, libXrandr,
# libXinerama, libXi, libXxf86vm for X11; libwayland-cursor,
# libwayland-egl, libxkbcommon and libEGL for Wayland. libc6 is added
# below with the version the binary's symbols need.
depends=(libgl1 libegl1 libx11-6 libxcursor1 libxrandr2 libxinerama1 libxi6 libxxf86vm1
	libwayland-client0 libwayland-cursor0 libwayland-egl1 libxkbcommon0)

# Every library the binary links must come from a package in depends.
needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}')
if [ -z "$needed" ]; then
	echo "deb.sh: $bin links no shared library: not the cgo build of the app" >&2
	exit 1
fi
for lib in $needed; do
	path=$(ldd "$bin" | awk -v l="$lib" '$1 == l && $2 == "=>" {print $3}')
	[ -n "$path" ] || { echo "deb.sh: $lib, which $bin links, is not installed here" >&2; exit 1; }
	# merged /usr: the loader's path and the package's may differ by /usr
	pkg=$({ dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "/usr$path" 2>/dev/null || dpkg-query -S "$(realpath "$path")"; } | head -1 | cut -d: -f1)
	case $pkg in
	libc6) ;;
	*) [[ " ${depends[*]} " == *" $pkg "* ]] || { echo "deb.sh: $bin links $lib from $pkg, which Depends lacks: add it in $0" >&2; exit 1; } ;;
	esac
done
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
depends+=("libc6 (>= ${glibc:-2.17})")

# The hicolor directory must say the icon's real size: bytes 16-23 of a PNG.
size=$(od -An -tu1 -j16 -N8 "$icon" | awk '{printf "%dx%d", $3*256+$4, $7*256+$8}')
if [ "$size" != 512x512 ]; then
	echo "deb.sh: $icon is $size; the package installs it as 512x512" >&2
	exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage" # mktemp's 0700 would be the package's "/"
install -D -m 0755 "$bin" "$stage/usr/bin/epicshare"
install -D -m 0644 "$here/$app_id.desktop" "$stage/usr/share/applications/$app_id.desktop"
install -D -m 0644 "$icon" "$stage/usr/share/icons/hicolor/512x512/apps/$app_id.png"
installed_kib=$(du -sk "$stage/usr" | cut -f1)
mkdir -m 0755 "$stage/DEBIAN"
deps=$(printf '%s, ' "${depends[@]}")
cat >"$stage/DEBIAN/control" <<EOF
Package: epicshare
Version: $version
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $installed_kib
Depends: ${deps%, }
Section: net
Priority: optional
Homepage: https://github.com/epicshare/epicshare
Description: send files straight from one device to another, peer to peer
 EpicShare sends files, folders and text over WebRTC, with no upload to a
 server and no account. It gives a link and a QR code; whoever opens the
 link, in EpicShare on another computer or in a phone's browser, receives
 the files directly, every byte verified with SHA-256.
EOF
chmod 0644 "$stage/DEBIAN/control"
dpkg-deb --root-owner-group -Z"$compress" --build "$stage" "$out" >/dev/null
echo "deb.sh: built $out (Depends: $(dpkg-deb -f "$out" Depends))"
