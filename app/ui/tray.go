package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
)

// The tray: where the desktop has one (Config.Tray), EpicShare puts an
// icon there with a menu, and closing the window while a share or an
// accepted receive runs hides it instead of stopping them. Where there is
// none, closing asks first, as it always did.

// setupTray puts the icon and its menu in the system tray, if there is one.
func (u *UI) setupTray() {
	if !u.cfg.Tray {
		return
	}
	desk, ok := u.app.(desktop.App)
	if !ok {
		return
	}
	desk.SetSystemTrayMenu(u.trayMenu())
	desk.SetSystemTrayWindow(u.win)
}

// trayMenu is the tray icon's menu.
func (u *UI) trayMenu() *fyne.Menu {
	quit := fyne.NewMenuItem(u.w.T("tray.quit"), u.quit)
	quit.IsQuit = true
	return fyne.NewMenu("EpicShare",
		fyne.NewMenuItem(u.w.T("tray.show"), u.showWindow),
		fyne.NewMenuItem(u.w.T("tray.receive"), u.showReceiveCode),
		fyne.NewMenuItem(u.w.T("tray.send-clipboard"), u.sendClipboard),
		fyne.NewMenuItemSeparator(),
		quit,
	)
}

// showWindow brings the window back from the tray.
func (u *UI) showWindow() {
	u.win.Show()
	u.win.RequestFocus()
}

// showReceiveCode shows the Receive tab, where the code a phone scans to
// send to this computer is.
func (u *UI) showReceiveCode() {
	u.tabs.SelectIndex(1)
	u.showWindow()
}

// sendClipboard shares the clipboard's text: it goes into the Send tab's
// message box and, unless a share already runs, the share starts.
func (u *UI) sendClipboard() {
	text := strings.TrimSpace(u.app.Clipboard().Content())
	u.tabs.SelectIndex(0)
	u.showWindow()
	if text == "" {
		dialog.ShowInformation(u.w.T("tray.send-clipboard"), u.w.T("tray.clipboard-empty"), u.win)
		return
	}
	if u.send.active() {
		dialog.ShowInformation(u.w.T("tray.send-clipboard"), u.w.T("tray.clipboard-busy"), u.win)
		return
	}
	u.send.message.SetText(text)
	u.send.start()
}

// busy says whether a share, a receive or a nearby send runs.
func (u *UI) busy() bool {
	return u.send.busy() || u.recv.busy() || u.recv.inbox.busy() || u.nearby.busy()
}

// closeWindow is what the window's close button does: with a tray and a
// share or transfer running, hide the window (and say so the first time);
// without a tray, ask before stopping transfers; else quit.
func (u *UI) closeWindow() {
	switch {
	case u.cfg.Tray && (u.busy() || u.send.active()):
		u.win.Hide()
		u.mu.Lock()
		first := !u.toldTray
		u.toldTray = true
		u.mu.Unlock()
		if first {
			u.notify(u.w.T("tray.still-running.title"), u.w.T("tray.still-running"))
		}
	case u.busy():
		u.confirmQuit()
	default:
		u.exit()
	}
}

// quit is the tray's Quit: it asks first while transfers run.
func (u *UI) quit() {
	if !u.busy() {
		u.exit()
		return
	}
	u.showWindow()
	u.confirmQuit()
}

// confirmQuit asks before stopping transfers that run.
func (u *UI) confirmQuit() {
	dialog.ShowConfirm(u.w.T("close.title"), u.w.T("close.text"), func(quit bool) {
		if quit {
			u.exit()
		}
	}, u.win)
}

// exit stops everything and ends the app: closing the window is not
// enough while a tray icon keeps Fyne's loop alive.
func (u *UI) exit() {
	u.Close()
	u.win.Close()
	u.app.Quit()
}
