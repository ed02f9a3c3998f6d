// Package version owns the release version both binaries print for
// --version. The Makefile sets it at link time, from the git tag vX.Y.Z
// at HEAD or else FyneApp.toml's Version:
//
//	go build -ldflags "-X github.com/epicshare/epicshare/internal/version.version=0.1.0"
//
// A binary built without that flag, by "go install ...@v0.1.0" say, falls
// back to the module version the go command recorded in it, and a plain
// "go build" of a checkout to "dev".
package version

import (
	"runtime/debug"
	"strings"
)

// version is written by the linker (-X) and by nothing else: the only
// package-level variable here, so that the flag has something to set.
var version string

// Dev is what String reports when the build says nothing about its version.
const Dev = "dev"

// String is the version, without a leading "v": "0.1.0".
func String() string { return resolve(version, debug.ReadBuildInfo) }

// resolve picks the linked version, else the main module's version from
// the build info, else Dev.
func resolve(linked string, buildInfo func() (*debug.BuildInfo, bool)) string {
	if v := strings.TrimSpace(linked); v != "" {
		return strings.TrimPrefix(v, "v")
	}
	// "(devel)" is what the go command records for a build of a checkout.
	if bi, ok := buildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return Dev
}
