package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// The test driver has no UI thread: every widget access, from the tests or
// from the UI's goroutines, goes through onUI.
var uiMu sync.Mutex

func onUI(f func()) {
	uiMu.Lock()
	defer uiMu.Unlock()
	f()
}

// testConfig keeps ICE and the built-in broker on loopback, and the
// window in English, whatever the machine's locale: the tests read its
// words.
var testConfig = Config{Peer: peer.Config{Interfaces: []string{"lo"}}, Listen: "127.0.0.1:0", Do: onUI, Language: "en"}

// configFor is testConfig with a history of the test's own: the test
// app's storage is the machine's temporary folder, shared by all tests.
func configFor(t *testing.T) Config {
	c := testConfig
	c.HistoryDir = t.TempDir()
	return c
}

func newTestUI(t *testing.T) *UI {
	t.Helper()
	var u *UI
	onUI(func() { u = New(test.NewTempApp(t), configFor(t)) })
	t.Cleanup(u.Close)
	return u
}

// eventually polls cond on the UI goroutine until it holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var ok bool
		onUI(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling widgets updated by other goroutines
	}
}

func uris(paths ...string) []fyne.URI {
	out := make([]fyne.URI, len(paths))
	for i, p := range paths {
		out[i] = storage.NewFileURI(p)
	}
	return out
}

func TestDropFillsTheList(t *testing.T) {
	u := newTestUI(t)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "hello", "album/b.jpg": strings.Repeat("x", 2000), "album/empty/": ""})
	onUI(func() {
		u.Drop(uris(filepath.Join(src, "a.txt"), filepath.Join(src, "album")))
		if len(u.send.items) != 2 {
			t.Fatalf("%d items after the drop, want 2", len(u.send.items))
		}
		if got := u.send.total.Text; got != "2 items, 2.0 kB" {
			t.Errorf("total %q", got)
		}
		if u.send.shareBtn.Disabled() {
			t.Error("Share is disabled with items on the list")
		}
		// The same item twice is listed once; an unreadable one is refused.
		u.Drop(uris(filepath.Join(src, "a.txt"), filepath.Join(src, "missing")))
		if len(u.send.items) != 2 {
			t.Errorf("%d items, want still 2", len(u.send.items))
		}
		u.send.remove(0)
		if len(u.send.items) != 1 || u.send.total.Text != "1 item, 2.0 kB" {
			t.Errorf("after remove: %d items, total %q", len(u.send.items), u.send.total.Text)
		}
	})
}

func TestShareShowsAScannableQRCode(t *testing.T) {
	u := newTestUI(t)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "hello"})
	onUI(func() {
		u.Drop(uris(filepath.Join(src, "a.txt")))
		test.Tap(u.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the link", func() bool { return u.send.linkText != "" })

	var link string
	var img image.Image
	onUI(func() { link, img = u.send.linkText, u.send.qr.Image })
	if img == nil {
		t.Fatal("no QR image")
	}
	if b := img.Bounds(); b.Dx() < 300 {
		t.Errorf("QR code is %d px wide, too small to scan from arm's length", b.Dx())
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	if res.GetText() != link || !strings.Contains(link, "/s/") {
		t.Fatalf("QR says %q, link is %q", res.GetText(), link)
	}
	// The built-in server of the tests is on 127.0.0.1: the link says
	// that no device elsewhere can open it.
	var reach string
	onUI(func() {
		if u.send.reach.Visible() {
			reach = u.send.reach.Text
		}
	})
	if !strings.Contains(reach, "Works on this computer only: 127.0.0.1") {
		t.Errorf("under the link: %q, want the LAN-only note", reach)
	}
	onUI(func() { test.Tap(u.send.stopBtn) })
	eventually(t, 10*time.Second, "the share to stop", func() bool { return !u.send.active() })
}

// TestSendAndReceiveThroughTheWidgets runs two windows in one process: one
// shares a folder, the other pastes the link, accepts, and the files land
// on disk verified.
func TestSendAndReceiveThroughTheWidgets(t *testing.T) {
	sender, receiver := newTestUI(t), newTestUI(t)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"trip/notes.txt": "sun", "trip/empty.txt": "", "trip/photos/a.jpg": strings.Repeat("a", 300_000), "trip/nothing/": ""})
	testutil.RandomFile(t, filepath.Join(src, "trip/video.bin"), 8<<20)
	out := t.TempDir()
	onUI(func() { receiver.settings.setDownloads(out) })

	onUI(func() {
		sender.Drop(uris(filepath.Join(src, "trip")))
		test.Tap(sender.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the link", func() bool { return sender.send.linkText != "" })
	var link string
	onUI(func() { link = sender.send.linkText })

	onUI(func() {
		receiver.tabs.SelectIndex(1)
		test.Type(receiver.recv.entry, link)
		receiver.recv.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	eventually(t, 30*time.Second, "the offer", func() bool { return receiver.recv.decision.Visible() })
	var offer string
	onUI(func() { offer = receiver.recv.offer.Text })
	if !strings.Contains(offer, "trip/video.bin") || !strings.Contains(offer, "Total: 4 files") {
		t.Errorf("offer shows %q", offer)
	}
	onUI(func() { test.Tap(receiver.recv.acceptBtn) })
	eventually(t, time.Minute, "the files", func() bool { return receiver.recv.openBtn.Visible() })

	if got, want := testutil.Digest(t, filepath.Join(out, "trip")), testutil.Digest(t, filepath.Join(src, "trip")); got != want {
		t.Fatalf("received:\n%s\nsent:\n%s", got, want)
	}
	var senderCode, receiverCode string
	eventually(t, 10*time.Second, "the sender's row", func() bool {
		for _, r := range sender.send.rows {
			senderCode = r.title.Text
			return strings.Contains(r.title.Text, "done")
		}
		return false
	})
	onUI(func() {
		receiverCode = receiver.recv.code.Text
		// The row is laid out, not just kept in a map.
		if h := sender.send.rowsBox.Size().Height; h < 50 {
			t.Errorf("the receiver's row is %v px high on the sharing screen", h)
		}
	})
	code := strings.TrimPrefix(receiverCode, "Verification code: ")
	if len(code) >= 7 {
		code = code[:7]
	}
	if !strings.HasSuffix(receiverCode, "· direct") {
		t.Errorf("the receiver does not say the connection is direct: %q", receiverCode)
	}
	if len(code) != 7 || !strings.Contains(senderCode, code) {
		t.Errorf("codes differ: sender %q, receiver %q", senderCode, receiverCode)
	}
}

func TestBadLinkShowsAMessageAndStaysUsable(t *testing.T) {
	u := newTestUI(t)
	onUI(func() {
		test.Type(u.recv.entry, "https://example.org/not-a-share")
		test.Tap(u.recv.connectBtn)
		if u.recv.busy() || u.recv.entry.Disabled() {
			t.Error("a bad link started a receive")
		}
		if u.win.Canvas().Overlays().Top() == nil {
			t.Error("no message shown")
		}
	})
}

func TestAppIDMatchesFyneAppToml(t *testing.T) {
	b, err := os.ReadFile("../../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `ID = "`+AppID+`"`) {
		t.Errorf("FyneApp.toml does not declare ID %q", AppID)
	}
}

// findButton finds a button by its label under o.
func findButton(t *testing.T, o fyne.CanvasObject, label string) *widget.Button {
	t.Helper()
	var found *widget.Button
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Button:
			if x.Text == label {
				found = x
			}
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case *container.Scroll:
			walk(x.Content)
		case *widget.Card:
			walk(x.Content)
		}
	}
	walk(o)
	if found == nil {
		t.Fatalf("no %q button", label)
	}
	return found
}

func TestUnreachableServerShowsAMessageAndStaysUsable(t *testing.T) {
	u := newTestUI(t)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "hello"})
	onUI(func() {
		u.settings.mode.SetSelected(u.settings.modeLabel(modeRemote))
		u.settings.url.SetText("http://" + testutil.ClosedPort(t)) // nothing listens there
		u.Drop(uris(filepath.Join(src, "a.txt")))
		test.Tap(u.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the error", func() bool {
		return !u.send.shareBtn.Disabled() && u.win.Canvas().Overlays().Top() != nil
	})
	if u.send.active() {
		t.Error("a share is active without a server")
	}
}

// TestServerRestartShowsReconnecting: while a remote signal server is
// restarted, the sharing screen says the share is reconnecting, and the
// line goes once it is back, with the link unchanged.
func TestServerRestartShowsReconnecting(t *testing.T) {
	u := newTestUI(t)
	srv := testutil.StartBroker(t)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "hello"})
	onUI(func() {
		u.settings.mode.SetSelected(u.settings.modeLabel(modeRemote))
		u.settings.url.SetText(srv.URL().String())
		u.Drop(uris(filepath.Join(src, "a.txt")))
		test.Tap(u.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the link", func() bool { return u.send.linkText != "" })
	var link string
	onUI(func() {
		link = u.send.linkText
		if u.send.offline.Visible() {
			t.Error("the reconnecting line shows while connected")
		}
	})
	srv.Stop()
	eventually(t, 20*time.Second, "the reconnecting line", func() bool {
		return u.send.offline.Visible() && strings.Contains(u.send.offline.Text, "Reconnecting")
	})
	srv.Start()
	eventually(t, 30*time.Second, "the reconnecting line to go", func() bool { return !u.send.offline.Visible() })
	onUI(func() {
		if u.send.linkText != link || !u.send.active() {
			t.Errorf("after the restart: link %q (was %q), active %v", u.send.linkText, link, u.send.active())
		}
	})
}

func TestWordsArePlain(t *testing.T) {
	w := english(t)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", session.ErrUnreachable), "Could not reach the signaling server"},
		{fmt.Errorf("write x: %w", syscall.ENOSPC), "The disk is full"},
		{&transfer.PeerError{Code: transfer.CancelDeclined, From: "receiver"}, "The receiver declined."},
		{fmt.Errorf("%w: no such thing", wire.ErrBadLink), "That is not an EpicShare link"},
		{session.ErrWrongSecret, "The link's secret does not match"},
		{fmt.Errorf("%w: websocket: close 1001 (going away)", session.ErrBrokerLost), "Lost the connection to the signaling server"},
		{&transfer.PartialError{Err: &transfer.PeerError{Code: transfer.CancelStopped, From: "sender"}}, "The sender stopped sharing."},
		{&transfer.PeerError{Code: transfer.CancelVerify, Detail: "trip/a.jpg", From: "receiver"}, "A file failed verification: trip/a.jpg."},
		{&transfer.PeerError{Code: transfer.CancelFailed, Detail: "open x: too many open files", From: "sender"}, "The sender failed: open x: too many open files."},
		{&transfer.PeerError{Code: transfer.CancelDeclined, From: "sender"}, "The sender failed."}, // a sender does not decline
		{fmt.Errorf("receive: %w: trip/a.jpg", transfer.ErrVerify), "File failed verification: trip/a.jpg."},
		{&portsTakenError{from: 47470, to: 47489, err: syscall.EADDRINUSE}, "Ports 47470 to 47489 are all in use"},
		{fmt.Errorf("start: %w", context.Canceled), "Stopped."},
		{errors.New("the flux capacitor melted"), "Something went wrong: the flux capacitor melted"},
	} {
		if got := words(w, tc.err); !strings.HasPrefix(got, tc.want) || strings.Contains(got, "dial tcp") || strings.Contains(got, "websocket") {
			t.Errorf("words(%v) = %q, want it to start with %q", tc.err, got, tc.want)
		}
	}
}

// english is the window's words in English.
func english(t *testing.T) *Words {
	t.Helper()
	w, err := NewWords("en")
	testutil.Must(t, err)
	return w
}

// TestBrokenTransferResumesThroughTheWidgets: the sender stops sharing in
// the middle of a file; the window says what it kept and how to resume;
// the sender shares the same files again and the receiver, given the new
// link, resumes and says so.
func TestBrokenTransferResumesThroughTheWidgets(t *testing.T) {
	sender, receiver := newTestUI(t), newTestUI(t)
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 64<<20)
	out := t.TempDir()
	onUI(func() { receiver.settings.setDownloads(out) })
	onUI(func() { receiver.tabs.SelectIndex(1) })

	// share taps Share (the dropped file stays listed after a stop) and
	// returns the new link.
	onUI(func() { sender.Drop(uris(filepath.Join(src, "big.bin"))) })
	share := func(prev string) string {
		onUI(func() { test.Tap(sender.send.shareBtn) })
		var link string
		eventually(t, 20*time.Second, "the link", func() bool {
			link = sender.send.linkText
			return link != "" && link != prev
		})
		return link
	}
	receive := func(link string) {
		onUI(func() {
			receiver.recv.entry.SetText(link)
			receiver.recv.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		})
		eventually(t, 30*time.Second, "the offer", func() bool { return receiver.recv.decision.Visible() })
		onUI(func() { test.Tap(receiver.recv.acceptBtn) })
	}

	first := share("")
	receive(first)
	eventually(t, time.Minute, "some data", func() bool { return receiver.recv.bar.Value > 0.05 })
	onUI(sender.send.stop)
	eventually(t, time.Minute, "the failure", func() bool { return strings.Contains(receiver.recv.status.Text, "Not received") })
	var status string
	onUI(func() { status = receiver.recv.status.Text })
	if !strings.Contains(status, "connect with the same link again to resume") {
		t.Fatalf("after a broken transfer the window says %q", status)
	}
	eventually(t, 20*time.Second, "the sender back to picking", func() bool {
		return len(sender.send.content.Objects) == 1 && sender.send.content.Objects[0] == sender.send.picking
	})

	receive(share(first))
	eventually(t, time.Minute, "the files", func() bool { return receiver.recv.openBtn.Visible() })
	onUI(func() { status = receiver.recv.status.Text })
	if !strings.Contains(status, "Resumed:") {
		t.Errorf("a resumed transfer says %q", status)
	}
	if testutil.Digest(t, out) != testutil.Digest(t, src) {
		t.Error("the resumed file differs")
	}
}

func TestParseICEServers(t *testing.T) {
	got, err := parseICEServers("\n stun:stun.example.org:3478\nturn:turn.example.org:3478 alice s3cret\n\nturn:nopassword.example.org\n")
	if len(got) != 2 || got[1].Username != "alice" || got[1].Credential != "s3cret" {
		t.Errorf("kept %+v, want the two good lines", got)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "line 5:") {
		t.Errorf("error %v, want one naming line 5", err)
	}
	if got, err := parseICEServers(""); len(got) != 0 || err != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
}

func TestReachNote(t *testing.T) {
	for raw, lanOnly := range map[string]bool{
		"http://192.168.1.5:47470/s/":   true,
		"http://10.0.0.2:47470/s/":      true,
		"http://127.0.0.1:47470/s/":     true,
		"http://[fe80::1]:47470/s/":     true,
		"http://100.64.3.4:47470/s/":    true,
		"http://laptop.local:47470/s/":  true,
		"https://share.example.org/s/":  false,
		"http://198.51.100.1:8080/s/":   false,
		"http://[2001:db8::5]:47470/s/": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		note := reachNote(english(t), wire.Link{Server: u})
		if (note != "") != lanOnly {
			t.Errorf("%s: note %q, want LAN only = %v", raw, note, lanOnly)
		}
	}
}
