// Package ui is the desktop window of EpicShare, built with Fyne: a Send
// tab (drop files, share, a QR code, one row per receiver), a Receive tab
// (paste a link, accept, watch it arrive) and Settings. It only draws and
// reacts; all the work is package session's. Every change to widgets from
// another goroutine goes through fyne.Do. Its words are catalogues in
// translations/, said through a Words (lang.go) chosen when it starts.
package ui

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"github.com/epicshare/epicshare/internal/memtune"
	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/wire"
)

// AppID is the application ID, as in FyneApp.toml.
const AppID = "io.github.epicshare"

// Config is what the window needs from its surroundings.
type Config struct {
	// Peer restricts and configures WebRTC (tests keep it on loopback);
	// the STUN/TURN servers from Settings are added to it.
	Peer peer.Config
	// Listen is where the built-in signaling server listens. When empty,
	// it listens on all interfaces on the port from Settings
	// (DefaultPort), or the next free one if that is taken: the receive
	// link names the port, so it should stay the same across restarts.
	Listen string
	Logger *slog.Logger
	// Do runs a UI update from another goroutine; fyne.Do by default.
	// Tests, whose Fyne driver has no UI thread, pass one that serialises.
	Do func(func())
	// Nearby, if set, starts finding nearby devices and announcing this
	// one (nearby.Start); without it the window does neither. Tests that
	// may not touch the machine's network leave it unset.
	Nearby func(cfg nearby.Config, self string) (*nearby.Node, error)
	// Language, if set, is the window's language (a tag of languages(),
	// or a locale such as "de_AT"), whatever Settings say; tests set it.
	// Else Settings choose, or the system's locale.
	Language string
	// Tray says that the desktop shows tray icons (TrayAvailable): the
	// window then puts one there, and closing it while a share or a
	// transfer runs keeps them running there.
	Tray bool
	// HistoryDir is where the history of transfers is kept; the app's
	// storage folder if empty.
	HistoryDir string
}

// UI is the EpicShare window.
type UI struct {
	app  fyne.App
	win  fyne.Window
	cfg  Config
	w    *Words // the window's words, in the language chosen at start
	tabs *container.AppTabs
	// settingsTab is the Settings tab, which other views open.
	settingsTab *container.TabItem

	send     *sendView
	recv     *recvView
	settings *settingsView
	nearby   *nearbyView
	history  *historyView
	gc       memtune.Tuner // shared by every transfer of the window

	mu         sync.Mutex
	broker     *session.LocalBroker // the built-in one, started on first use
	brokerNote string               // what to tell about its port, if anything
	dev        *session.Device      // this device, loaded on first use
	toldTray   bool                 // the window said once that it went on in the tray
}

// New builds the window of app a.
func New(a fyne.App, cfg Config) *UI {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Do == nil {
		cfg.Do = fyne.Do
	}
	want := cfg.Language
	if want == "" {
		want = a.Preferences().String(prefLanguage)
	}
	w, err := NewWords(want)
	if err != nil {
		// The catalogues are embedded, and lang_test.go reads them all.
		panic(fmt.Sprintf("the window's catalogues: %v", err))
	}
	u := &UI{app: a, cfg: cfg, w: w, win: a.NewWindow("EpicShare")}
	u.nearby = newNearbyView(u)
	u.settings = newSettingsView(u)
	u.send = newSendView(u)
	u.recv = newRecvView(u)
	u.history = newHistoryView(u)
	recvTab := container.NewTabItem(w.T("tab.receive"), u.recv.content)
	u.settingsTab = container.NewTabItem(w.T("tab.settings"), u.settings.content)
	u.tabs = container.NewAppTabs(
		container.NewTabItem(w.T("tab.send"), u.send.content),
		recvTab,
		container.NewTabItem(w.T("tab.history"), u.history.content),
		u.settingsTab,
	)
	// The receive link is ready as soon as the app runs (a phone may
	// hold a bookmark of it), and follows a change of server in Settings.
	u.tabs.OnSelected = func(t *container.TabItem) {
		if t == recvTab {
			u.recv.inbox.start()
		}
	}
	u.nearby.start()
	u.recv.inbox.start()
	u.win.SetContent(u.tabs)
	u.win.Resize(fyne.NewSize(760, 620))
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { u.Drop(uris) })
	u.win.SetCloseIntercept(u.closeWindow)
	if icon := a.Icon(); icon != nil {
		u.win.SetIcon(icon)
	}
	u.setupTray()
	return u
}

// do runs f on the UI thread.
func (u *UI) do(f func()) { u.cfg.Do(f) }

// Window returns the main window.
func (u *UI) Window() fyne.Window { return u.win }

// ShowAndRun shows the window and runs the app until it closes.
func (u *UI) ShowAndRun() { u.win.ShowAndRun() }

// Open puts files and folders named on the command line on the Send list.
func (u *UI) Open(paths ...string) {
	if len(paths) == 0 {
		return
	}
	uris := make([]fyne.URI, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		uris[i] = storage.NewFileURI(abs)
	}
	u.Drop(uris)
}

// Drop handles items dropped anywhere on the window: they go to the Send tab.
func (u *UI) Drop(uris []fyne.URI) {
	u.tabs.SelectIndex(0)
	u.send.add(uris)
}

// sessionConfig is the session configuration with the user's settings.
func (u *UI) sessionConfig() session.Config {
	pc := u.cfg.Peer
	pc.ICEServers = append(slices.Clone(pc.ICEServers), u.settings.iceServers()...)
	pc.Logger = u.cfg.Logger
	return session.Config{Peer: pc, Logger: u.cfg.Logger, Device: u.device(), GC: &u.gc}
}

// server returns the signaling server to share through: the remote one
// from Settings, or the built-in one, started on first use.
func (u *UI) server() (*url.URL, error) {
	if remote := u.settings.remoteServer(); remote != "" {
		s, err := wire.ParseServer(remote)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadServer, err)
		}
		return s, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.broker == nil {
		b, note, err := u.startBroker()
		if err != nil {
			return nil, err
		}
		u.broker, u.brokerNote = b, note
	}
	return u.broker.URL, nil
}

// startBroker starts the built-in broker on Config.Listen or, if that is
// empty, on the port from Settings or, when another program has it, on the
// next free port after it; note then says so.
func (u *UI) startBroker() (*session.LocalBroker, string, error) {
	if u.cfg.Listen != "" {
		b, err := session.StartLocalBroker(u.cfg.Listen, u.cfg.Peer.Interfaces, u.cfg.Logger)
		return b, "", err
	}
	want := u.settings.port()
	var first error
	for port := want; port < want+20 && port <= 65535; port++ {
		b, err := session.StartLocalBroker(fmt.Sprintf(":%d", port), u.cfg.Peer.Interfaces, u.cfg.Logger)
		if err == nil {
			note := ""
			if port != want {
				note = u.w.T("receive.port-moved", M{"Want": strconv.Itoa(want), "Port": strconv.Itoa(port)})
			}
			return b, note, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, "", err
		}
		if first == nil {
			first = err
		}
	}
	return nil, "", &portsTakenError{from: want, to: want + 19, err: first}
}

// brokerStatus is what the Receive tab should say about the built-in
// server's port ("" if nothing).
func (u *UI) brokerStatus() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.broker == nil {
		return ""
	}
	return u.brokerNote
}

// Close stops what the window started and waits until it has. It is safe
// to call more than once.
func (u *UI) Close() {
	u.nearby.stop()
	u.send.stop()
	u.recv.cancel()
	u.recv.inbox.stop()
	u.send.wg.Wait()
	u.recv.wg.Wait()
	u.history.close()
	u.mu.Lock()
	b := u.broker
	u.broker = nil
	u.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

// notify shows a system notification.
func (u *UI) notify(title, text string) {
	u.app.SendNotification(fyne.NewNotification(title, text))
}

// showError tells the user what went wrong, in plain words.
func (u *UI) showError(err error) { u.showProblem(words(u.w, err)) }

// showProblem shows a sentence that says what went wrong.
func (u *UI) showProblem(text string) { dialog.ShowError(errors.New(text), u.win) }

// defaultDownloads is the user's Downloads folder, or the home folder.
func defaultDownloads() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "."
	}
	if xdg := os.Getenv("XDG_DOWNLOAD_DIR"); xdg != "" {
		return xdg
	}
	d := filepath.Join(home, "Downloads")
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		return d
	}
	return home
}
