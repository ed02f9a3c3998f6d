package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps fences the broker: it must never link the GUI toolkit or the
// WebRTC stack (peer connections, ICE agents, SCTP, data channels, media),
// which it has no use for and which would bloat and widen the attack
// surface of a server meant to run anywhere. The relay's TURN and STUN
// (pion/turn, pion/stun and what they need) are allowed.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{
		"fyne.io/", "github.com/pion/webrtc/", "github.com/pion/ice/", "github.com/pion/sctp",
		"github.com/pion/datachannel", "github.com/pion/srtp/", "github.com/pion/interceptor", "github.com/pion/mdns/",
		"github.com/epicshare/epicshare/internal/peer", "github.com/epicshare/epicshare/internal/session",
	}
	turn := false
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(dep, b) {
				t.Errorf("signal-server depends on %s", dep)
			}
		}
		turn = turn || strings.HasPrefix(dep, "github.com/pion/turn/")
	}
	if !turn {
		t.Error("signal-server does not link pion/turn: the fence is checking the wrong binary")
	}
}
