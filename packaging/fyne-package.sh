#!/usr/bin/env bash
# Packages the desktop app with `fyne package` for one target OS:
#
#   packaging/fyne-package.sh linux|windows VERSION OUT
#
# linux writes the .tar.xz (binary, icon, .desktop entry, Makefile),
# windows the .exe with its icon, manifest and version resource; for
# windows, CC must name the mingw-w64 cross compiler. VERSION goes into
# the app's metadata (-app-version) and into internal/version (-X).
#
# It runs in a copy of the source tree because fyne package writes into
# the directory it packages: it rewrites FyneApp.toml to bump Build, and
# leaves fyne_metadata_init.go, fyne.syso and the binary there while it
# builds, where other builds in the same tree would pick them up. With
# -release fyne builds with -trimpath, so the copy's other path costs no
# cache misses.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 linux|windows VERSION OUT" >&2
	exit 2
fi
os=$1 version=$2 out=$3
case $os in
linux) made=EpicShare.tar.xz ;;
windows) made=EpicShare.exe ;;
*) echo "fyne-package.sh: unknown OS $os" >&2; exit 2 ;;
esac
go=${GO:-go}
tools=${FYNE_TOOLS:?FYNE_TOOLS must name the fyne.io/tools version}
src=$(cd "$(dirname "$0")/.." && pwd)
case $out in /*) ;; *) out=$PWD/$out ;; esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The fyne tool is built on its own, for this machine: the version flag
# below must not reach its build, nor the cross compiler in CC.
env -u CC -u GOOS -u GOARCH GOBIN="$stage/tool" "$go" install "fyne.io/tools/cmd/fyne@$tools"
mkdir "$stage/src"
tar -C "$src" --exclude=./.git --exclude=./bin --exclude=./dist -cf - . | tar -C "$stage/src" -xf -
cd "$stage/src"
args=(package -os "$os" -release -app-version "$version")
if [ "$os" = windows ]; then
	# fyne builds a Windows app twice, the second time with the icon's
	# .syso, but takes -ldflags out of GOFLAGS in the first build, so
	# the exe it ships would say "dev". Given an existing executable it
	# builds only once, with the .syso, and overwrites this placeholder.
	: >epicshare.exe
	args+=(-executable epicshare.exe)
fi
# fyne hands an -ldflags= found in GOFLAGS on to go build, beside its own
# -s -w (and -H=windowsgui); a value may hold no space, hence -X=.
GOFLAGS="$($go env GOFLAGS) -ldflags=-X=github.com/epicshare/epicshare/internal/version.version=$version" \
	"$stage/tool/fyne" "${args[@]}"
mv "$made" "$out"
