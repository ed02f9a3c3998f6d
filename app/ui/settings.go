package ui

import (
	"errors"
	"fmt"
	"slices"
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
	prefServerMode = "server.mode" // modeBuiltin or modeRemote
	prefServerURL  = "server.url"
	prefICEServers = "ice.servers" // one server per line (peer.ParseICEServer)
	prefDownloads  = "downloads.dir"
	prefPort       = "server.port" // the built-in server's port
	prefLanguage   = "ui.language" // a tag of languages(), or "" for the system's
)

// DefaultPort is the built-in signaling server's port unless Settings
// name another: fixed, so that the receive link, which names it, stays
// the same across restarts.
const DefaultPort = 47470

// Server modes, as the preferences keep them; the radio buttons show
// their labels (modeLabel).
const (
	modeBuiltin = "builtin"
	modeRemote  = "remote"
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
	lang    *widget.Select
	content fyne.CanvasObject
	// trustedBox lists the devices always accepted (nearby.go).
	trustedBox *fyne.Container
}

// modeLabel is the radio button's label of a server mode.
func (v *settingsView) modeLabel(mode string) string {
	if mode == modeRemote {
		return v.u.w.T("settings.server.remote")
	}
	return v.u.w.T("settings.server.builtin")
}

func newSettingsView(u *UI) *settingsView {
	v := &settingsView{u: u, prefs: u.app.Preferences()}
	v.content = container.NewVScroll(container.NewVBox(
		v.signalingSettings(),
		v.iceSettings(),
		v.downloadSettings(),
		v.nearbySettings(),
		v.languageSettings(),
	))
	return v
}

// signalingSettings is the Settings card of the signal server: built in
// (on which port) or remote (at which URL).
func (v *settingsView) signalingSettings() fyne.CanvasObject {
	w := v.u.w
	v.url = widget.NewEntry()
	v.url.SetPlaceHolder("https://share.example.org")
	v.url.SetText(v.prefs.String(prefServerURL))
	v.url.OnChanged = func(s string) { v.prefs.SetString(prefServerURL, strings.TrimSpace(s)) }
	v.url.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		if _, err := wire.ParseServer(s); err != nil {
			return errors.New(w.T("settings.server.url.invalid"))
		}
		return nil
	}

	v.mode = widget.NewRadioGroup([]string{v.modeLabel(modeBuiltin), v.modeLabel(modeRemote)}, func(choice string) {
		mode := modeBuiltin
		if choice == v.modeLabel(modeRemote) {
			mode = modeRemote
		}
		v.prefs.SetString(prefServerMode, mode)
		if mode == modeRemote {
			v.url.Enable()
		} else {
			v.url.Disable()
		}
	})
	v.mode.SetSelected(v.modeLabel(v.prefs.String(prefServerMode)))

	v.portE = widget.NewEntry()
	v.portE.SetText(strconv.Itoa(v.port()))
	v.portE.Validator = func(s string) error {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err != nil || n < 1 || n > 65535 {
			return errors.New(w.T("settings.port.invalid"))
		}
		return nil
	}
	v.portE.OnChanged = func(s string) {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 1 && n <= 65535 {
			v.prefs.SetInt(prefPort, n)
		}
	}
	return card(w.T("settings.signaling.title"), w.T("settings.signaling.text"),
		container.NewVBox(v.mode, widget.NewForm(
			widget.NewFormItem(w.T("settings.server.url"), v.url),
			widget.NewFormItem(w.T("settings.port"), container.NewBorder(nil, nil, nil,
				widget.NewLabel(w.T("settings.port.note")), v.portE)))))
}

// iceSettings is the Settings card of STUN and TURN servers.
func (v *settingsView) iceSettings() fyne.CanvasObject {
	w := v.u.w
	v.ice = widget.NewMultiLineEntry()
	v.ice.SetPlaceHolder(w.T("settings.ice.placeholder"))
	v.ice.SetText(v.prefs.String(prefICEServers))
	v.ice.SetMinRowsVisible(3)
	v.ice.Validator = func(s string) error {
		_, err := parseICEServers(s)
		var le *iceLineError
		if errors.As(err, &le) {
			return errors.New(w.T("settings.ice.invalid", M{"Line": strconv.Itoa(le.line), "Detail": detailOf(le.err, peer.ErrBadICEServer)}))
		}
		return err
	}
	v.ice.OnChanged = func(s string) { v.prefs.SetString(prefICEServers, s) }
	return card(w.T("settings.ice.title"), w.T("settings.ice.text"), v.ice)
}

// downloadSettings is the Settings card of the folder received files go to.
func (v *settingsView) downloadSettings() fyne.CanvasObject {
	w := v.u.w
	v.folder = widget.NewLabel(v.downloads())
	v.folder.Wrapping = fyne.TextWrapBreak
	change := widget.NewButton(w.T("common.change"), func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err != nil || l == nil {
				return
			}
			v.setDownloads(l.Path())
		}, v.u.win)
	})
	return card(w.T("settings.downloads.title"), "", container.NewBorder(nil, nil, nil, change, v.folder))
}

// languageSettings is the Settings card of the window's language: the
// system's, or one of languages(), each listed by its own name. The
// window is built in one language, so a change applies from the next
// start.
func (v *settingsView) languageSettings() fyne.CanvasObject {
	w := v.u.w
	tags := append([]string{""}, languages()...)
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = languageName(t)
	}
	names[0] = w.T("settings.language.system")
	v.lang = widget.NewSelect(names, nil)
	v.lang.SetSelectedIndex(max(slices.Index(tags, v.prefs.String(prefLanguage)), 0))
	v.lang.OnChanged = func(string) {
		if i := v.lang.SelectedIndex(); i >= 0 {
			v.prefs.SetString(prefLanguage, tags[i])
		}
	}
	return card(w.T("settings.language.title"), "",
		container.NewBorder(nil, nil, nil, widget.NewLabel(w.T("settings.language.note")), v.lang))
}

// remoteServer is the remote signal server URL, or "" for the built-in one.
func (v *settingsView) remoteServer() string {
	if v.prefs.String(prefServerMode) != modeRemote {
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

// iceLineError is a line of the STUN and TURN servers that is not one.
type iceLineError struct {
	line int
	err  error
}

func (e *iceLineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *iceLineError) Unwrap() error { return e.err }

// parseICEServers reads one server per line (peer.ParseICEServer),
// skipping blank lines; the error (an *iceLineError) names the first line
// it cannot use.
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
				first = &iceLineError{line: i + 1, err: err}
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
