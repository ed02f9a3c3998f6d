package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/wire"
)

// Preference keys.
const (
	prefServerMode = "server.mode" // "builtin" or "remote"
	prefServerURL  = "server.url"
	prefICEServers = "ice.servers" // one server per line (peer.ParseICEServer)
	prefDownloads  = "downloads.dir"
	prefPort       = "server.port" // the built-in server's port
)

// DefaultPort is the built-in signaling server's port unless Settings
// name another: fixed, so that the receive link, which names it, stays
// the same across restarts.
const DefaultPort = 47470

const (
	modeBuiltin = "Built in: share on this network"
	modeRemote  = "A signal server on the internet"
)

// settingsView edits what Fyne preferences keep between runs.
type settingsView struct {
	u       *UI
	prefs   fyne.Preferences
	mode    *widget.RadioGroup
	url     *widget.Entry
	ice     *widget.Entry
	folder  *widget.Label
	portE   *widget.Entry
	content fyne.CanvasObject
	// trustedBox lists the devices always accepted (nearby.go).
	trustedBox *fyne.Container
}

func newSettingsView(u *UI) *settingsView {
	v := &settingsView{u: u, prefs: u.app.Preferences()}
	v.url = widget.NewEntry()
	v.url.SetPlaceHolder("https://share.example.org")
	v.url.SetText(v.prefs.String(prefServerURL))
	v.url.OnChanged = func(s string) { v.prefs.SetString(prefServerURL, strings.TrimSpace(s)) }
	v.url.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		_, err := wire.ParseServer(s)
		return err
	}

	v.mode = widget.NewRadioGroup([]string{modeBuiltin, modeRemote}, func(choice string) {
		remote := choice == modeRemote
		v.prefs.SetString(prefServerMode, map[bool]string{true: "remote", false: "builtin"}[remote])
		if remote {
			v.url.Enable()
		} else {
			v.url.Disable()
		}
	})
	if v.prefs.String(prefServerMode) == "remote" {
		v.mode.SetSelected(modeRemote)
	} else {
		v.mode.SetSelected(modeBuiltin)
	}

	v.ice = widget.NewMultiLineEntry()
	v.ice.SetPlaceHolder("stun:stun.example.org:3478\nturn:turn.example.org:3478 user password")
	v.ice.SetText(v.prefs.String(prefICEServers))
	v.ice.SetMinRowsVisible(3)
	v.ice.Validator = func(s string) error {
		_, err := parseICEServers(s)
		return err
	}
	v.ice.OnChanged = func(s string) { v.prefs.SetString(prefICEServers, s) }

	v.portE = widget.NewEntry()
	v.portE.SetText(strconv.Itoa(v.port()))
	v.portE.Validator = func(s string) error {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err != nil || n < 1 || n > 65535 {
			return errors.New("a port is a number from 1 to 65535")
		}
		return nil
	}
	v.portE.OnChanged = func(s string) {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 1 && n <= 65535 {
			v.prefs.SetInt(prefPort, n)
		}
	}

	v.folder = widget.NewLabel(v.downloads())
	v.folder.Wrapping = fyne.TextWrapBreak
	change := widget.NewButton("Change…", func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err != nil || l == nil {
				return
			}
			v.setDownloads(l.Path())
		}, u.win)
	})

	v.content = container.NewVScroll(container.NewVBox(
		widget.NewCard("Signaling", "Where devices find each other. Files never pass through it.",
			container.NewVBox(v.mode, widget.NewForm(
				widget.NewFormItem("Server URL", v.url),
				widget.NewFormItem("Built-in server port", container.NewBorder(nil, nil, nil,
					widget.NewLabel("used from the next start; links name it"), v.portE))))),
		widget.NewCard("STUN and TURN servers (optional)", "A signal server offers its own; these replace them. One per line: a URL, then for TURN a user name and a password.", v.ice),
		widget.NewCard("Save received files in", "", container.NewBorder(nil, nil, nil, change, v.folder)),
		v.nearbySettings(),
	))
	return v
}

// remoteServer is the remote signal server URL, or "" for the built-in one.
func (v *settingsView) remoteServer() string {
	if v.prefs.String(prefServerMode) != "remote" {
		return ""
	}
	return strings.TrimSpace(v.prefs.String(prefServerURL))
}

// iceServers lists the STUN and TURN servers the user entered that can
// be used; the entry's validator points at the others.
func (v *settingsView) iceServers() []wire.ICEServer {
	out, _ := parseICEServers(v.prefs.String(prefICEServers))
	return out
}

// parseICEServers reads one server per line (peer.ParseICEServer),
// skipping blank lines; the error names the first line it cannot use.
func parseICEServers(text string) ([]wire.ICEServer, error) {
	var out []wire.ICEServer
	var first error
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		srv, err := peer.ParseICEServer(l)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("line %d: %w", i+1, err)
			}
			continue
		}
		out = append(out, srv)
	}
	return out, first
}

// port is the built-in server's port from Settings.
func (v *settingsView) port() int {
	n := v.prefs.IntWithFallback(prefPort, DefaultPort)
	if n < 1 || n > 65535 {
		return DefaultPort
	}
	return n
}

// downloads is where received files go; remembered across runs.
func (v *settingsView) downloads() string {
	return v.prefs.StringWithFallback(prefDownloads, defaultDownloads())
}

func (v *settingsView) setDownloads(dir string) {
	v.prefs.SetString(prefDownloads, dir)
	v.folder.SetText(dir)
	v.u.recv.folderChanged(dir)
}
