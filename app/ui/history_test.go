package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/testutil"
)

// share runs one share from sender to receiver through the widgets: a
// file and a text, accepted, verified on disk.
func share(t *testing.T, sender, receiver *UI, text string) (src, out string) {
	t.Helper()
	dir := t.TempDir()
	src = filepath.Join(dir, "report.pdf")
	testutil.RandomFile(t, src, 200_000)
	out = t.TempDir()
	onUI(func() {
		receiver.settings.setDownloads(out)
		sender.Drop(uris(src))
		sender.send.message.SetText(text)
		test.Tap(sender.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the link", func() bool { return sender.send.linkText != "" })
	var link string
	onUI(func() { link = sender.send.linkText })
	onUI(func() {
		test.Type(receiver.recv.entry, link)
		test.Tap(receiver.recv.connectBtn)
	})
	eventually(t, 30*time.Second, "the offer", func() bool { return receiver.recv.decision.Visible() })
	onUI(func() { test.Tap(receiver.recv.acceptBtn) })
	eventually(t, time.Minute, "the files", func() bool { return receiver.recv.openBtn.Visible() })
	if got, want := testutil.Digest(t, filepath.Join(out, "report.pdf")), testutil.Digest(t, src); got != want {
		t.Fatalf("received %s, sent %s", got, want)
	}
	return src, out
}

// records are the rows the History tab lists (not from eventually's
// condition, which runs on the UI already).
func records(u *UI) []history.Record {
	var recs []history.Record
	onUI(func() { recs = append(recs, u.history.records...) })
	return recs
}

// rowOf renders the history list's row i and returns its parts.
func rowOf(u *UI, i int) (title, detail string, open, again, copyBtn *widget.Button) {
	onUI(func() {
		o := u.history.newRow()
		u.history.updateRow(i, o)
		row := o.(*fyne.Container)
		text := row.Objects[0].(*fyne.Container)
		title, detail = text.Objects[0].(*widget.Label).Text, text.Objects[1].(*widget.Label).Text
		b := row.Objects[2].(*fyne.Container).Objects[0].(*fyne.Container).Objects
		open, again, copyBtn = b[0].(*widget.Button), b[1].(*widget.Button), b[2].(*widget.Button)
	})
	return
}

// TestHistoryKeepsBothSidesOfATransfer: after a share between two
// windows, each lists it, with what can be done again, and a new window
// on the same storage lists it too.
func TestHistoryKeepsBothSidesOfATransfer(t *testing.T) {
	sender, receiver := newTestUI(t), newTestUI(t)
	src, out := share(t, sender, receiver, "the figures are on page 3")

	eventually(t, 10*time.Second, "the sender's record", func() bool { return len(sender.history.records) == 1 })
	eventually(t, 10*time.Second, "the receiver's record", func() bool { return len(receiver.history.records) == 1 })
	s, r := records(sender)[0], records(receiver)[0]
	if s.Direction != history.Sent || s.Result != history.ResultVerified || s.Files != 1 || s.Size != 200_000 ||
		len(s.Sources) != 1 || s.Sources[0] != src || s.Text != "the figures are on page 3" || s.Peer.Code == "" {
		t.Errorf("sender's record %+v", s)
	}
	if r.Direction != history.Received || r.Result != history.ResultVerified || r.Folder != out ||
		len(r.Names) != 1 || r.Names[0] != "report.pdf" || r.Peer.Code != s.Peer.Code {
		t.Errorf("receiver's record %+v", r)
	}

	title, detail, open, again, copyBtn := rowOf(sender, 0)
	if title != "report.pdf" || !strings.Contains(detail, "1 file, 200.0 kB") || !strings.Contains(detail, "verified") {
		t.Errorf("sender's row: %q / %q", title, detail)
	}
	if open.Visible() || !again.Visible() || !copyBtn.Visible() {
		t.Errorf("sender's row buttons: open %v, share again %v, copy %v", open.Visible(), again.Visible(), copyBtn.Visible())
	}
	_, _, open, again, _ = rowOf(receiver, 0)
	if !open.Visible() || again.Visible() {
		t.Errorf("receiver's row buttons: open %v, share again %v", open.Visible(), again.Visible())
	}

	// Copy puts the text on the clipboard.
	onUI(func() { test.Tap(copyBtn) })
	var clip string
	onUI(func() { clip = sender.app.Clipboard().Content() })
	if clip != "the figures are on page 3" {
		t.Errorf("clipboard holds %q", clip)
	}

	// Another window on the receiver's storage reads the same history.
	cfg := configFor(t)
	cfg.HistoryDir = receiver.cfg.HistoryDir
	var again2 *UI
	onUI(func() { again2 = New(test.NewTempApp(t), cfg) })
	t.Cleanup(again2.Close)
	if recs := records(again2); len(recs) != 1 || recs[0].ID != r.ID {
		t.Errorf("a new window lists %+v", recs)
	}
}

// TestHistoryActionsAndClear: rows come newest first; Share again puts
// the same files on the Send tab and shares them; a file that is gone
// is said, not shared; Clear empties the list and the file.
func TestHistoryActionsAndClear(t *testing.T) {
	cfg := configFor(t)
	src := filepath.Join(t.TempDir(), "plan.txt")
	testutil.Must(t, os.WriteFile(src, []byte("the plan"), 0o644))
	st, err := history.Open(cfg.HistoryDir, history.Options{})
	testutil.Must(t, err)
	old := time.Now().Add(-time.Hour)
	testutil.Must(t, st.Add(history.Record{Time: old, Direction: history.Sent, Via: history.ViaLink, Kind: history.KindFiles,
		Names: []string{"plan.txt"}, Files: 1, Size: 8, Result: history.ResultVerified, Sources: []string{src}}))
	testutil.Must(t, st.Add(history.Record{Time: old.Add(time.Minute), Direction: history.Sent, Via: history.ViaNearby, Kind: history.KindFiles,
		Peer: history.Peer{Device: "Office"}, Names: []string{"gone.bin", "b", "c"}, Files: 3, Size: 3e9,
		Result: history.ResultFailed, Reason: history.ReasonDiskFull, Sources: []string{filepath.Join(t.TempDir(), "gone.bin")}}))
	testutil.Must(t, st.Add(history.Record{Time: old.Add(2 * time.Minute), Direction: history.Received, Via: history.ViaBrowser, Kind: history.KindText,
		Text: "call me\nlater", Result: history.ResultDeclined}))
	testutil.Must(t, st.Close())

	var u *UI
	onUI(func() { u = New(test.NewTempApp(t), cfg) })
	t.Cleanup(u.Close)
	if n := len(records(u)); n != 3 {
		t.Fatalf("%d records listed, want 3", n)
	}
	title, detail, open, again, copyBtn := rowOf(u, 0)
	if title != "Text: call me …" || !strings.Contains(detail, "from a browser") || !strings.Contains(detail, "declined") ||
		open.Visible() || again.Visible() || !copyBtn.Visible() {
		t.Errorf("newest row: %q / %q (open %v, again %v, copy %v)", title, detail, open.Visible(), again.Visible(), copyBtn.Visible())
	}
	title, detail, _, again, _ = rowOf(u, 1)
	if title != "gone.bin and 2 more" || !strings.Contains(detail, "to Office") || !strings.Contains(detail, "3 files, 3.0 GB") ||
		!strings.Contains(detail, "failed: the disk was full") {
		t.Errorf("second row: %q / %q", title, detail)
	}
	// Its file is gone: Share again says so and shares nothing.
	onUI(func() { test.Tap(again) })
	onUI(func() {
		if u.send.active() || len(u.send.items) != 0 || u.win.Canvas().Overlays().Top() == nil {
			t.Errorf("share again of a gone file: sharing %v, %d items, message shown %v", u.send.active(), len(u.send.items), u.win.Canvas().Overlays().Top() != nil)
		}
		u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
	})

	_, _, _, again, _ = rowOf(u, 2)
	onUI(func() { test.Tap(again) })
	eventually(t, 20*time.Second, "the link of the share again", func() bool { return u.send.linkText != "" })
	onUI(func() {
		if len(u.send.items) != 1 || u.send.items[0].path != src {
			t.Errorf("share again shares %+v", u.send.items)
		}
		u.send.stop()
	})

	onUI(func() { test.Tap(u.history.clear) })
	onUI(func() {
		if u.win.Canvas().Overlays().Top() == nil {
			t.Error("Clear history did not ask first")
		}
		u.history.clearNow()
	})
	if n := len(records(u)); n != 0 {
		t.Errorf("%d records after Clear", n)
	}
	st, err = history.Open(cfg.HistoryDir, history.Options{})
	testutil.Must(t, err)
	defer st.Close()
	if recs, err := st.List(); err != nil || len(recs) != 0 {
		t.Errorf("the file still lists %d records (%v)", len(recs), err)
	}
}

// TestBrokenHistoryNeverStopsATransfer: a history that cannot be kept
// (its folder is a file) is said in the History tab, and files still
// move; a file that is not EpicShare's is moved aside, not read.
func TestBrokenHistoryNeverStopsATransfer(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "not-a-folder")
	testutil.Must(t, os.WriteFile(blocked, []byte("x"), 0o644))
	cfg := configFor(t)
	cfg.HistoryDir = blocked
	var sender *UI
	onUI(func() { sender = New(test.NewTempApp(t), cfg) })
	t.Cleanup(sender.Close)

	cfg = configFor(t)
	testutil.Must(t, os.WriteFile(filepath.Join(cfg.HistoryDir, "history.jsonl"), []byte("{\"someone\":\"else\"}\n"), 0o600))
	var receiver *UI
	onUI(func() { receiver = New(test.NewTempApp(t), cfg) })
	t.Cleanup(receiver.Close)

	onUI(func() {
		if !sender.history.problem.Visible() || !strings.Contains(sender.history.problem.Text, "History is not being kept") {
			t.Errorf("the sender's History tab says %q", sender.history.problem.Text)
		}
	})
	if n := len(records(receiver)); n != 0 {
		t.Errorf("a foreign file listed %d records", n)
	}
	share(t, sender, receiver, "")
	eventually(t, 10*time.Second, "the receiver's record", func() bool { return len(receiver.history.records) == 1 })
	aside, _ := filepath.Glob(filepath.Join(cfg.HistoryDir, "history.jsonl.not-ours-*"))
	if len(aside) != 1 {
		t.Errorf("the foreign file was not moved aside: %v", aside)
	}
}
