package ui

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func newTrayUI(t *testing.T) (*UI, fyne.App) {
	t.Helper()
	cfg := configFor(t)
	cfg.Tray = true
	a := test.NewTempApp(t)
	var u *UI
	onUI(func() { u = New(a, cfg) })
	t.Cleanup(u.Close)
	return u, a
}

func windowOpen(a fyne.App, w fyne.Window) bool {
	return slices.Contains(a.Driver().AllWindows(), w)
}

// TestTrayKeepsASharingWindowRunning: with a tray, closing the window
// while a share runs hides it and says so once; the share goes on. Once
// nothing runs, closing quits.
func TestTrayKeepsASharingWindowRunning(t *testing.T) {
	u, a := newTrayUI(t)
	src := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(src, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	onUI(func() {
		u.Drop(uris(src))
		test.Tap(u.send.shareBtn)
	})
	eventually(t, 20*time.Second, "the link", func() bool { return u.send.linkText != "" })

	said := &fyne.Notification{Title: u.w.T("tray.still-running.title"), Content: u.w.T("tray.still-running")}
	test.AssertNotificationSent(t, said, func() { onUI(u.closeWindow) })
	if !u.send.active() || !windowOpen(a, u.win) {
		t.Fatalf("closing with a tray: sharing %v, window kept %v", u.send.active(), windowOpen(a, u.win))
	}
	// The second time it goes to the tray without a word.
	onUI(u.showWindow)
	test.AssertNotificationSent(t, nil, func() { onUI(u.closeWindow) })
	if !u.send.active() {
		t.Fatal("the share stopped on the second close")
	}

	onUI(func() { test.Tap(u.send.stopBtn) })
	// Once its goroutine is done (Close waits for it, and the test's
	// UI thread is a lock that it needs to end).
	eventually(t, 10*time.Second, "the share to end", func() bool { return u.send.content.Objects[0] == u.send.picking })
	onUI(u.closeWindow)
	if windowOpen(a, u.win) {
		t.Error("closing with nothing running did not close the window")
	}
}

// TestTrayMenu: the menu's items and what they do.
func TestTrayMenu(t *testing.T) {
	u, a := newTrayUI(t)
	m := u.trayMenu()
	var labels []string
	for _, it := range m.Items {
		labels = append(labels, it.Label)
	}
	want := []string{u.w.T("tray.show"), u.w.T("tray.receive"), u.w.T("tray.send-clipboard"), "", u.w.T("tray.quit")}
	if !slices.Equal(labels, want) || !m.Items[3].IsSeparator || !m.Items[4].IsQuit {
		t.Fatalf("tray menu %q, want %q with a separator and Quit last", labels, want)
	}

	// Receive from a phone opens the Receive tab, where its code is.
	onUI(m.Items[1].Action)
	if u.tabs.SelectedIndex() != 1 {
		t.Errorf("Receive from a phone shows tab %d", u.tabs.SelectedIndex())
	}

	// An empty clipboard is said, and nothing is shared.
	onUI(m.Items[2].Action)
	onUI(func() {
		if u.send.active() || u.win.Canvas().Overlays().Top() == nil {
			t.Errorf("empty clipboard: sharing %v, message shown %v", u.send.active(), u.win.Canvas().Overlays().Top() != nil)
		}
		u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
	})

	// Its text is shared.
	a.Clipboard().SetContent("  meet at 6  ")
	onUI(m.Items[2].Action)
	eventually(t, 20*time.Second, "the link of the clipboard's text", func() bool { return u.send.linkText != "" })
	onUI(func() {
		if u.tabs.SelectedIndex() != 0 || u.send.offered == nil || u.send.offered.Manifest.Text != "meet at 6" {
			t.Errorf("the share: tab %d, offer %+v", u.tabs.SelectedIndex(), u.send.offered)
		}
	})
	// While it runs, another Send clipboard text is refused with a word.
	onUI(m.Items[2].Action)
	onUI(func() {
		if u.win.Canvas().Overlays().Top() == nil {
			t.Error("a second Send clipboard text said nothing")
		}
	})
}
