package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/testutil"
)

// TestNearbyDevices runs the CLI on three devices of a LAN (network
// namespaces on one bridge; mDNS stays there): two "epicshare receive"
// under the same name, which "epicshare devices" lists on the third;
// "send --to" that name is refused as ambiguous, "send --to" one's ID
// reaches that one only, which sees the sender by name and device ID; a
// receiver killed without a word drops off the list.
func TestNearbyDevices(t *testing.T) {
	lan := testutil.NewLAN(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	epicshare, _ := binaries(t)
	// device runs the CLI on device i, with a configuration directory
	// (its device key) of its own.
	config := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	device := func(i int, args ...string) *proc {
		p := start(t, ctx, "ip", append([]string{"netns", "exec", lan.Names[i], epicshare}, args...)...)
		p.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+config[i])
		return p
	}
	devices := func() []string {
		t.Helper()
		p := device(1, "devices", "--interface", "eth0", "--wait", "3s")
		p.run(t)
		if code := p.exitCode(t, 30*time.Second); code != 0 {
			t.Fatalf("devices exited %d:\n%s", code, p.stderr)
		}
		return strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	}

	outs := []string{t.TempDir(), "", t.TempDir()}
	var receivers []*proc
	for _, i := range []int{0, 2} {
		r := device(i, "receive", "--name", "Desk", "--interface", "eth0", "--out", outs[i])
		r.run(t)
		waitFor(t, r.stderr, `Visible to nearby devices as "Desk"`, 20*time.Second)
		receivers = append(receivers, r)
	}
	listed := devices()
	if len(listed) != 2 || !strings.HasPrefix(listed[0], "Desk ") || !strings.HasPrefix(listed[1], "Desk ") {
		t.Fatalf("devices listed:\n%s", strings.Join(listed, "\n"))
	}
	var deskID string // device 1's, at 10.88.0.1
	for _, l := range listed {
		if f := strings.Fields(l); len(f) == 3 && strings.HasPrefix(f[2], lan.Addrs[0]+":") {
			deskID = f[1]
		}
	}
	if deskID == "" {
		t.Fatalf("no device listed at %s:\n%s", lan.Addrs[0], strings.Join(listed, "\n"))
	}

	src := t.TempDir()
	makeTree(t, src, 2<<20)
	send := func(to string) *proc {
		p := device(1, "send", "--name", "Laptop", "--interface", "eth0", "--to", to, filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))
		p.run(t)
		return p
	}
	if p := send("Desk"); p.exitCode(t, 30*time.Second) != 1 || !strings.Contains(p.stderr.String(), `2 devices on this network are called "Desk"`) {
		t.Fatalf("send --to an ambiguous name:\n%s", p.stderr)
	}
	p := send(deskID[:8])
	if code := p.exitCode(t, time.Minute); code != 0 {
		t.Fatalf("send --to %s exited %d:\n%s\nreceiver:\n%s", deskID[:8], code, p.stderr, receivers[0].stderr)
	}
	if code := receivers[0].exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("the receiver exited %d:\n%s", code, receivers[0].stderr)
	}
	if got, want := digest(t, outs[0]), digest(t, src); got != want {
		t.Errorf("received tree differs")
	}
	if entries, _ := os.ReadDir(outs[2]); len(entries) != 0 {
		t.Errorf("the other Desk received %v", entries)
	}
	if !strings.Contains(receivers[0].stderr.String(), "Laptop (device ") {
		t.Errorf("the receiver did not name the sender's device:\n%s", receivers[0].stderr)
	}

	t.Logf("the receiver said:\n%s\nthe sender:\n%s", receivers[0].stderr, p.stderr)

	// The second Desk is killed: no goodbye, yet it drops off the list.
	receivers[1].cmd.Process.Kill()
	if listed := devices(); len(listed) != 1 || listed[0] != "" {
		t.Errorf("devices after both receivers left:\n%s", strings.Join(listed, "\n"))
	}
}
