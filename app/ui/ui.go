// Package ui is the desktop window of EpicShare, built with Fyne: a Send
// tab (drop files, share, a QR code, one row per receiver), a Receive tab
// (paste a link, accept, watch it arrive) and Settings. It only draws and
// reacts; all the work is package session's. Every change to widgets from
// another goroutine goes through fyne.Do.
package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/memtune"
	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
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
}

// UI is the EpicShare window.
type UI struct {
	app  fyne.App
	win  fyne.Window
	cfg  Config
	tabs *container.AppTabs

	send     *sendView
	recv     *recvView
	settings *settingsView
	nearby   *nearbyView
	gc       memtune.Tuner // shared by every transfer of the window

	mu         sync.Mutex
	broker     *session.LocalBroker // the built-in one, started on first use
	brokerNote string               // what to tell about its port, if anything
	dev        *session.Device      // this device, loaded on first use
}

// New builds the window of app a.
func New(a fyne.App, cfg Config) *UI {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Do == nil {
		cfg.Do = fyne.Do
	}
	u := &UI{app: a, cfg: cfg, win: a.NewWindow("EpicShare")}
	u.nearby = newNearbyView(u)
	u.settings = newSettingsView(u)
	u.send = newSendView(u)
	u.recv = newRecvView(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItem("Send", u.send.content),
		container.NewTabItem("Receive", u.recv.content),
		container.NewTabItem("Settings", u.settings.content),
	)
	// The receive link is ready as soon as the app runs (a phone may
	// hold a bookmark of it), and follows a change of server in Settings.
	u.tabs.OnSelected = func(t *container.TabItem) {
		if t.Text == "Receive" {
			u.recv.inbox.start()
		}
	}
	u.nearby.start()
	u.recv.inbox.start()
	u.win.SetContent(u.tabs)
	u.win.Resize(fyne.NewSize(760, 620))
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { u.Drop(uris) })
	u.win.SetCloseIntercept(u.confirmClose)
	if icon := a.Icon(); icon != nil {
		u.win.SetIcon(icon)
	}
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
		return wire.ParseServer(remote)
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
				note = fmt.Sprintf("Port %d is in use by another program, so the built-in server listens on %d: links and codes name that port. Change it in Settings.", want, port)
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
	return nil, "", fmt.Errorf("ports %d to %d are all in use: pick another port in Settings: %w", want, want+19, first)
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
	u.mu.Lock()
	b := u.broker
	u.broker = nil
	u.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

// confirmClose asks before closing the window while files are moving.
func (u *UI) confirmClose() {
	if !u.send.busy() && !u.recv.busy() && !u.recv.inbox.busy() && !u.nearby.busy() {
		u.Close()
		u.win.Close()
		return
	}
	dialog.ShowConfirm("Transfers in progress",
		"Files are still being sent or received. Quit and stop them?",
		func(quit bool) {
			if quit {
				u.Close()
				u.win.Close()
			}
		}, u.win)
}

// notify shows a system notification.
func (u *UI) notify(title, text string) {
	u.app.SendNotification(fyne.NewNotification(title, text))
}

// showError tells the user what went wrong, in plain words.
func (u *UI) showError(err error) {
	dialog.ShowError(errors.New(words(err)), u.win)
}

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

// words turns an error into a sentence for people. The core's own reasons
// are written for them already; the usual failures get a sentence that
// says what to do, without Go's wrapping.
func words(err error) string {
	if err == nil {
		return ""
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "Stopped."
	case errors.Is(err, wire.ErrBadLink):
		return "That is not an EpicShare link. Copy the whole link, including the part after #."
	case errors.Is(err, session.ErrUnreachable):
		return "Could not reach the signaling server. Check your network, or the server address in Settings."
	case errors.Is(err, session.ErrBrokerLost):
		return "Lost the connection to the signaling server before the sender answered. Check your network and open the link again."
	case errors.Is(err, syscall.ENOSPC):
		return "The disk is full. Free some space or pick another folder in Settings; nothing incomplete was kept."
	case errors.Is(err, os.ErrPermission):
		return "EpicShare is not allowed to use that file or folder. Pick another one."
	case errors.Is(err, transfer.ErrConnectionLost):
		return "The connection to the other device was lost. Nothing incomplete was kept; try again."
	case errors.Is(err, peer.ErrFailed):
		return "Could not connect to the other device. On different networks, a STUN or TURN server in Settings may help."
	}
	var pe *transfer.PeerError
	if errors.As(err, &pe) {
		return sentence(pe.Reason())
	}
	return sentence(err.Error())
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// pathWords says how a connection runs, for the rows and status lines.
func pathWords(p peer.Path) string {
	switch p {
	case peer.PathDirect:
		return "direct"
	case peer.PathNAT:
		return "direct, through NAT"
	case peer.PathRelay:
		return "relayed by the server"
	}
	return "connecting"
}

// stallWords says that no data moves, for how long, and why.
func stallWords(s session.Stall) string {
	cause := "the other device stopped taking data: it may be asleep or busy, or its disk slow"
	switch s.Cause {
	case peer.StallNoRoute:
		cause = "no route to the other device: its network changed or it went to sleep"
	case peer.StallRelaySlow:
		cause = "the relay server carrying the connection is slow or full"
	}
	return fmt.Sprintf("Stalled, no data for %s: %s.", s.Idle.Round(time.Second), cause)
}

func reachLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.WarningImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// showReach shows on l whether link can be opened from another network.
func showReach(l *widget.Label, link wire.Link) {
	if note := reachNote(link); note != "" {
		l.SetText(note)
		l.Show()
	} else {
		l.Hide()
	}
}

// reachNote warns when a link names a server that only devices on this
// network can reach: a private, loopback or link-local address, or an
// mDNS name. A device elsewhere could not even load the page.
func reachNote(link wire.Link) string {
	host := link.Server.Hostname()
	if strings.HasSuffix(strings.ToLower(host), ".local") {
		return "Works on this network only. For a device elsewhere, choose a signal server in Settings."
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	switch {
	case ip.IsLoopback():
		return "Works on this computer only: " + host + " is its own address. For another device, choose a signal server in Settings."
	case ip.IsPrivate() || ip.IsLinkLocalUnicast() || cgnat.Contains(ip):
		return "Works on this network only: " + host + " cannot be reached from the internet. For a device elsewhere, choose a signal server in Settings."
	}
	return ""
}
