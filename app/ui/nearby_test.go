package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

// The window's nearby devices are tested on a LAN of network namespaces
// (testutil.LAN): mDNS may not touch the machine's network, and Fyne's
// test driver runs in-process. TestNearbyWindow makes the LAN and runs
// TestNearbyWindowInLAN in its first namespace; that test starts other
// devices in the others by running this binary again as
// TestNearbyDevice, with a role in the environment.
const (
	lanEnv     = "EPICSHARE_UI_LAN"    // the LAN's namespaces, comma-separated
	roleEnv    = "EPICSHARE_UI_ROLE"   // desk, or send:NAME (send to the device NAME)
	seedEnv    = "EPICSHARE_UI_SEED"   // the device's key seed
	deviceEnv  = "EPICSHARE_UI_DEVICE" // the device's name
	dirEnv     = "EPICSHARE_UI_DIR"    // what to send, or where to save
	exitRefuse = 3                     // the send was declined
)

func TestNearbyWindow(t *testing.T) {
	if os.Getenv(lanEnv) != "" {
		t.Skip("the outer test")
	}
	lan := testutil.NewLAN(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := lan.Command(ctx, 0, os.Args[0], "-test.run=^TestNearbyWindowInLAN$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), lanEnv+"="+strings.Join(lan.Names, ","))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNearbyWindowInLAN") {
		t.Fatalf("in the LAN: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// helper starts this binary as TestNearbyDevice in namespace ns.
func helper(t *testing.T, ctx context.Context, ns string, env ...string) (*exec.Cmd, *testutil.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNearbyDevice$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir()), env...)
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, out
}

// exitOf waits for cmd's exit code.
func exitOf(t *testing.T, cmd *exec.Cmd, out *testutil.Buffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(90 * time.Second):
		t.Fatalf("the helper device still runs:\n%s", out)
	}
	return -1
}

// TestNearbyWindowInLAN is the window "Office" on the LAN's first device.
func TestNearbyWindowInLAN(t *testing.T) {
	names := strings.Split(os.Getenv(lanEnv), ",")
	if len(names) < 3 {
		t.Skip("runs inside the LAN TestNearbyWindow makes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	a := test.NewTempApp(t)
	a.Preferences().SetString(prefDeviceName, "Office")
	downloads := t.TempDir()
	a.Preferences().SetString(prefDownloads, downloads)
	var u *UI
	onUI(func() {
		u = New(a, Config{Peer: peer.Config{Interfaces: []string{"eth0"}}, Listen: ":0", Do: onUI, Nearby: nearby.Start, Language: "en", HistoryDir: t.TempDir()})
	})
	t.Cleanup(u.Close)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"trip/notes.txt": "sun and sea\n", "trip/empty.txt": ""})
	testutil.RandomFile(t, filepath.Join(src, "trip/video.bin"), 3<<20)

	// Desk, on the second device, is listed; a click sends to it.
	deskDir := t.TempDir()
	desk, deskOut := helper(t, ctx, names[1], roleEnv+"=desk", deviceEnv+"=Desk", dirEnv+"="+deskDir)
	eventually(t, 30*time.Second, "Desk in the Nearby list", func() bool { return hasButton(u.nearby.buttons, "Desk") })
	onUI(func() { u.Open(filepath.Join(src, "trip")) })
	onUI(func() { test.Tap(findButton(t, u.nearby.buttons, "Desk")) })
	var row *toRow
	eventually(t, 60*time.Second, "the send to Desk verified", func() bool {
		if len(u.nearby.sends) == 0 {
			return false
		}
		row = u.nearby.sends[0]
		return !row.active
	})
	onUI(func() {
		if !strings.Contains(row.detail.Text, "Desk verified every file") || !strings.Contains(row.title.Text, "code ") {
			t.Errorf("the row says %q / %q\n%s", row.title.Text, row.detail.Text, deskOut)
		}
		// The History tab keeps it, as a send to Desk.
		if recs := u.history.records; len(recs) != 1 || recs[0].Via != history.ViaNearby || recs[0].Peer.Device != "Desk" ||
			recs[0].Result != history.ResultVerified || recs[0].Peer.Code == "" || len(recs[0].Sources) != 1 {
			t.Errorf("history: %+v", recs)
		}
	})
	if code := exitOf(t, desk, deskOut); code != 0 {
		t.Fatalf("Desk exited %d:\n%s", code, deskOut)
	}
	if got, want := testutil.Digest(t, deskDir), testutil.Digest(t, src); got != want {
		t.Errorf("Desk received another tree")
	}
	// Desk quit without a word: it leaves the list.
	eventually(t, 20*time.Second, "Desk gone from the list", func() bool { return !hasButton(u.nearby.buttons, "Desk") })

	// Laptop sends to Office: asked, with the device's name; accepted and
	// marked to be always accepted.
	laptop, impostor := session.NewDevice("Laptop").Seed(), session.NewDevice("Laptop").Seed()
	send := func(seed string) (*exec.Cmd, *testutil.Buffer) {
		return helper(t, ctx, names[2], roleEnv+"=send:Office", deviceEnv+"=Laptop", seedEnv+"="+seed, dirEnv+"="+filepath.Join(src, "trip"))
	}
	cmd, out := send(laptop)
	r := onlyRow(t, u)
	onUI(func() {
		if !strings.HasPrefix(r.title.Text, "Laptop wants to send you 3 files") || !r.always.Visible() {
			t.Errorf("the row says %q (always accept shown: %v)", r.title.Text, r.always.Visible())
		}
		r.always.SetChecked(true)
		test.Tap(r.accept)
	})
	if code := exitOf(t, cmd, out); code != 0 {
		t.Fatalf("Laptop exited %d:\n%s", code, out)
	}
	laptopDev, _ := session.ParseDevice(laptop, "Laptop")
	if got := u.trustedDevices(); got[laptopDev.ID()] != "Laptop" || len(got) != 1 {
		t.Errorf("always accepted: %v, want Laptop's ID %s", got, laptopDev.ID())
	}

	// Laptop again: accepted without asking.
	clearRows(u)
	cmd, out = send(laptop)
	if code := exitOf(t, cmd, out); code != 0 {
		t.Fatalf("Laptop, the second time, exited %d:\n%s", code, out)
	}
	eventually(t, 10*time.Second, "the row of the second offer", func() bool {
		for _, r := range u.recv.inbox.rows {
			return strings.Contains(r.detail.Text, "Received") && !r.accept.Visible()
		}
		return false
	})

	// Another device under the same name, with another key: asked, and
	// declined; nothing saved.
	clearRows(u)
	before := testutil.Digest(t, downloads)
	cmd, out = send(impostor)
	r = onlyRow(t, u)
	onUI(func() {
		if !strings.HasPrefix(r.title.Text, "Laptop wants to send you") {
			t.Errorf("the impostor's row says %q", r.title.Text)
		}
		test.Tap(r.decline)
	})
	if code := exitOf(t, cmd, out); code != exitRefuse {
		t.Fatalf("the impostor exited %d, want %d (declined):\n%s", code, exitRefuse, out)
	}
	if after := testutil.Digest(t, downloads); after != before {
		t.Errorf("the declined offer changed the downloads folder")
	}
}

// hasButton reports whether c holds a button labelled label.
func hasButton(c *fyne.Container, label string) bool {
	for _, o := range c.Objects {
		if b, ok := o.(*widget.Button); ok && b.Text == label {
			return true
		}
	}
	return false
}

// clearRows forgets the inbox's rows, so that onlyRow finds the next.
func clearRows(u *UI) {
	onUI(func() {
		u.recv.inbox.rows = map[string]*senderRow{}
		u.recv.inbox.rowsBox.Objects = nil
	})
}

// TestNearbyDevice is another device of the LAN, in its role.
func TestNearbyDevice(t *testing.T) {
	role := os.Getenv(roleEnv)
	if role == "" {
		t.Skip("a device TestNearbyWindowInLAN starts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	dev := session.NewDevice(os.Getenv(deviceEnv))
	if seed := os.Getenv(seedEnv); seed != "" {
		d, err := session.ParseDevice(seed, os.Getenv(deviceEnv))
		testutil.Must(t, err)
		dev = d
	}
	cfg := session.Config{Peer: peer.Config{Interfaces: []string{"eth0"}}, Device: dev}
	node, err := nearby.Start(nearby.Config{Interfaces: []string{"eth0"}}, dev.ID())
	testutil.Must(t, err)
	defer node.Close()
	switch {
	case role == "desk":
		b, err := session.StartLocalBroker(":0", []string{"eth0"}, nil)
		testutil.Must(t, err)
		defer b.Close()
		done := make(chan session.Event, 1)
		in, err := session.OpenInbox(ctx, cfg, b.URL, os.Getenv(dirEnv), session.InboxOptions{OnEvent: func(e session.Event) {
			if e.State == session.Done || e.State == session.Failed {
				done <- e
			}
		}})
		testutil.Must(t, err)
		defer in.Stop()
		a, err := dev.Announcement(in.Link())
		testutil.Must(t, err)
		testutil.Must(t, node.Announce(a))
		if e := <-done; e.State != session.Done {
			t.Fatalf("Desk: %v", e.Err)
		}
	case strings.HasPrefix(role, "send:"):
		to := strings.TrimPrefix(role, "send:")
		var target *nearby.Device
		for target == nil {
			for _, d := range node.Devices() {
				if d.Name == to {
					target = &d
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no device %q", to)
			case <-time.After(50 * time.Millisecond): // polling the list
			}
		}
		o, err := transfer.NewOffer(os.Getenv(dirEnv))
		testutil.Must(t, err)
		err = session.Send(ctx, cfg, target.Link, o, session.SendOptions{Device: target.ID})
		if transfer.Declined(err) {
			fmt.Println("declined")
			os.Exit(exitRefuse)
		}
		testutil.Must(t, err)
	}
}
