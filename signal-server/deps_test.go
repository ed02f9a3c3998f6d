package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps fences the broker: it must never link the GUI toolkit or the
// WebRTC stack, which it has no use for and which would bloat and widen
// the attack surface of a server meant to run anywhere.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"fyne.io/", "github.com/pion/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("signal-server depends on %s", dep)
			}
		}
	}
}
