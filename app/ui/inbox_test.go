package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// inboxLink waits for the Receive tab's receive link.
func inboxLink(t *testing.T, u *UI) wire.Link {
	t.Helper()
	var s string
	eventually(t, 20*time.Second, "the receive link", func() bool { s = u.recv.inbox.linkText; return s != "" })
	l, err := wire.ParseLink(s)
	testutil.Must(t, err)
	if l.Kind != wire.ReceiveLink {
		t.Fatalf("the Receive tab shows %s, not a receive link", s)
	}
	return l
}

// inboxUI is a window whose receive link saves into a fresh folder.
func inboxUI(t *testing.T) (*UI, string) {
	t.Helper()
	u := newTestUI(t)
	out := t.TempDir()
	onUI(func() { u.settings.setDownloads(out) })
	// The inbox reopens on the new folder: wait for that.
	eventually(t, 20*time.Second, "the inbox on the new folder", func() bool {
		u.recv.inbox.mu.Lock()
		defer u.recv.inbox.mu.Unlock()
		return u.recv.inbox.inbox != nil && u.recv.inbox.want.dir == out
	})
	return u, out
}

// pushTo sends paths and text into a receive link from Go, as a phone's
// page or another desktop would.
func pushTo(ctx context.Context, link wire.Link, text string, paths ...string) <-chan error {
	done := make(chan error, 1)
	go func() {
		o, err := transfer.NewTextOffer(text, paths...)
		if err == nil {
			err = session.Send(ctx, session.Config{Peer: testConfig.Peer}, link, o, session.SendOptions{})
		}
		done <- err
	}()
	return done
}

// onlyRow returns the one sender row.
func onlyRow(t *testing.T, u *UI) *senderRow {
	t.Helper()
	var r *senderRow
	eventually(t, 30*time.Second, "a sender's row", func() bool {
		for _, x := range u.recv.inbox.rows {
			r = x
		}
		return r != nil && r.accept.Visible()
	})
	return r
}

func TestIncomingOfferRowAcceptVerifies(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	u, out := inboxUI(t)
	link := inboxLink(t, u)
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"trip/notes.txt": "sun", "trip/empty.txt": "", "trip/photos/a.jpg": strings.Repeat("a", 300_000)})
	testutil.RandomFile(t, filepath.Join(src, "trip/video.bin"), 4<<20)
	sent := pushTo(ctx, link, "see you at https://example.org/cafe.", filepath.Join(src, "trip"))

	r := onlyRow(t, u)
	onUI(func() {
		if !strings.Contains(r.title.Text, "code ") || !strings.Contains(r.title.Text, "4 files") || !strings.Contains(r.list.Text, "trip/video.bin") {
			t.Errorf("the row shows %q / %q", r.title.Text, r.list.Text)
		}
		if len(r.text.Objects) != 1 || r.message == nil || r.text.Objects[0] != r.message.card {
			t.Fatalf("the row does not show the message")
		}
		if !r.message.copy.Visible() || len(r.message.links) != 1 || r.message.links[0].String() != "https://example.org/cafe" {
			t.Errorf("the message's buttons: copy shown %v, links %v", r.message.copy.Visible(), r.message.links)
		}
	})
	// Nothing is written before Accept.
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("written before Accept: %v", entries)
	}
	onUI(func() { test.Tap(r.accept) })
	testutil.Must(t, <-sent)
	eventually(t, 30*time.Second, "the row done", func() bool { return r.open.Visible() })
	if got, want := testutil.Digest(t, filepath.Join(out, "trip")), testutil.Digest(t, filepath.Join(src, "trip")); got != want {
		t.Fatalf("received:\n%s\nsent:\n%s", got, want)
	}
	onUI(func() {
		if !strings.Contains(r.detail.Text, "every file verified") {
			t.Errorf("the row says %q", r.detail.Text)
		}
		// The History tab keeps it: from a sender that proved no device.
		if recs := u.history.records; len(recs) != 1 || recs[0].Direction != history.Received || recs[0].Via != history.ViaBrowser ||
			recs[0].Folder != out || recs[0].Result != history.ResultVerified || recs[0].Text == "" {
			t.Errorf("history: %+v", recs)
		}
	})
}

func TestIncomingOfferDeclined(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, out := inboxUI(t)
	src := filepath.Join(t.TempDir(), "a.txt")
	testutil.Must(t, os.WriteFile(src, []byte("hello"), 0o644))
	sent := pushTo(ctx, inboxLink(t, u), "", src)
	r := onlyRow(t, u)
	onUI(func() { test.Tap(r.decline) })
	var pe *transfer.PeerError
	if err := <-sent; !errors.As(err, &pe) || pe.Code != transfer.CancelDeclined {
		t.Errorf("the sender got %v, want declined", err)
	}
	eventually(t, 10*time.Second, "the row to say declined", func() bool { return strings.Contains(r.detail.Text, "Declined") })
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a declined offer wrote %v", entries)
	}
}

// The receive link survives a restart of the app; New code revokes it.
func TestReceiveLinkKeptAcrossRestartsAndRevokedByNewCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	app := test.NewTempApp(t)
	cfg := configFor(t)
	var u *UI
	onUI(func() { u = New(app, cfg) })
	first := inboxLink(t, u)
	u.Close()
	onUI(func() { u = New(app, cfg) })
	t.Cleanup(u.Close)
	again := inboxLink(t, u)
	if again.ID != first.ID || again.Secret != first.Secret {
		t.Fatalf("after a restart the link is %s, was %s", again, first)
	}
	onUI(func() { test.Tap(u.recv.inbox.newBtn) })
	eventually(t, 20*time.Second, "a new link", func() bool {
		return u.recv.inbox.linkText != "" && !strings.Contains(u.recv.inbox.linkText, first.ID)
	})
	fresh := inboxLink(t, u)
	if fresh.Secret == first.Secret {
		t.Error("New code kept the secret")
	}
	if err := <-pushTo(ctx, again, "still there?"); !errors.Is(err, session.ErrShareGone) {
		t.Errorf("the revoked link: %v, want ErrShareGone", err)
	}
	onUI(func() {
		if !strings.Contains(u.recv.inbox.status.Text, "old link") {
			t.Errorf("the tab says %q after New code", u.recv.inbox.status.Text)
		}
	})
}

func TestSendTextAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sender := newTestUI(t)
	onUI(func() {
		if !sender.send.shareBtn.Disabled() {
			t.Error("Share is enabled with nothing picked")
		}
		test.Type(sender.send.message, "the wifi password is hunter2")
		if sender.send.shareBtn.Disabled() {
			t.Error("Share is disabled with a message")
		}
		test.Tap(sender.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the link", func() bool { return sender.send.linkText != "" })
	var l string
	onUI(func() { l = sender.send.linkText })
	link, err := wire.ParseLink(l)
	testutil.Must(t, err)
	res, err := session.Receive(ctx, session.Config{Peer: testConfig.Peer}, link, t.TempDir(), session.ReceiveOptions{})
	testutil.Must(t, err)
	if res.Manifest.Text != "the wifi password is hunter2" || len(res.Manifest.Entries) != 0 {
		t.Errorf("received %+v", res.Manifest)
	}
}

// A sender that stops mid-file: the row says what is kept for a resume.
func TestSenderLeavesMidFileRowSaysKept(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, out := inboxUI(t)
	src := filepath.Join(t.TempDir(), "big.bin")
	testutil.RandomFile(t, src, 256<<20)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	sent := pushTo(sctx, inboxLink(t, u), "", src)
	r := onlyRow(t, u)
	onUI(func() { test.Tap(r.accept) })
	eventually(t, 30*time.Second, "data to arrive", func() bool { return r.state == session.Receiving && r.bar.Value > 0.05 })
	stop()
	<-sent
	eventually(t, 30*time.Second, "the row to say what is kept", func() bool { return strings.Contains(r.detail.Text, "are kept") })
	if _, err := os.Stat(filepath.Join(out, "big.bin")); err == nil {
		t.Error("the unfinished file is under its final name")
	}
	testutil.OnlyPartial(t, out)
}
