package version

import (
	"runtime/debug"
	"testing"
)

func TestResolveFallsBack(t *testing.T) {
	info := func(v string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Path: "github.com/epicshare/epicshare", Version: v}}, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name, linked string
		info         func() (*debug.BuildInfo, bool)
		want         string
	}{
		{"linked wins over build info", "0.1.0", info("v9.9.9"), "0.1.0"},
		{"linked tag loses its v", "v1.2.3", none, "1.2.3"},
		{"linked blank is not set", " ", info("v0.2.0"), "0.2.0"},
		{"module version from go install", "", info("v0.2.0"), "0.2.0"},
		{"pseudo-version", "", info("v0.0.0-20261202101500-88c1230aa0b1"), "0.0.0-20261202101500-88c1230aa0b1"},
		{"checkout build", "", info("(devel)"), Dev},
		{"no module version", "", info(""), Dev},
		{"no build info", "", none, Dev},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.linked, tc.info); got != tc.want {
				t.Errorf("resolve(%q) = %q, want %q", tc.linked, got, tc.want)
			}
		})
	}
}

// A test binary is built without the -X flag and from a checkout.
func TestStringUnlinked(t *testing.T) {
	if got := String(); got != Dev {
		t.Errorf("String() = %q in a test binary, want %q", got, Dev)
	}
}
