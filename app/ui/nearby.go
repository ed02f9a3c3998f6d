package ui

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// Preference keys of nearby devices.
const (
	prefDeviceKey  = "device.key"     // this device's key (session.Device.Seed)
	prefDeviceName = "device.name"    // its name for nearby devices
	prefVisible    = "nearby.visible" // announce the receive link on the network
	prefTrusted    = "nearby.trusted" // JSON: device ID → name, always accepted
)

// device is this device: its key, kept in the preferences from the first
// run, and its name from Settings (the host name by default).
func (u *UI) device() *session.Device {
	u.mu.Lock()
	defer u.mu.Unlock()
	prefs := u.app.Preferences()
	name := nearby.CleanName(prefs.String(prefDeviceName))
	if name == "" {
		name = defaultDeviceName()
	}
	if u.dev == nil {
		if d, err := session.ParseDevice(prefs.String(prefDeviceKey), name); err == nil {
			u.dev = d
		} else {
			u.dev = session.NewDevice(name)
			prefs.SetString(prefDeviceKey, u.dev.Seed())
		}
	}
	u.dev.Name = name
	d := *u.dev
	return &d
}

func defaultDeviceName() string {
	if h, err := os.Hostname(); err == nil && nearby.CleanName(h) != "" {
		return nearby.CleanName(h)
	}
	return "EpicShare"
}

// trustedDevices are the devices whose offers are accepted without
// asking: ID → the name it had when it was marked.
func (u *UI) trustedDevices() map[string]string {
	m := map[string]string{}
	json.Unmarshal([]byte(u.app.Preferences().String(prefTrusted)), &m)
	return m
}

// setTrusted marks device id (named name) as always accepted, or not.
func (u *UI) setTrusted(id, name string, on bool) {
	m := u.trustedDevices()
	if on {
		m[id] = name
	} else {
		delete(m, id)
	}
	b, _ := json.Marshal(m)
	u.app.Preferences().SetString(prefTrusted, string(b))
	if u.settings != nil && u.settings.trustedBox != nil {
		u.settings.showTrusted()
	}
}

// nearbyView is the Send tab's "Nearby devices": the devices found on
// this network, each a button that sends what is picked to it, and a
// row for each such send. It also announces this device's receive link
// while that is on the built-in server and Settings say visible.
type nearbyView struct {
	u       *UI
	buttons *fyne.Container
	note    *widget.Label
	rowsBox *fyne.Container
	content fyne.CanvasObject

	mu       sync.Mutex
	node     *nearby.Node // nil while off
	inbox    *wire.Link   // the receive link to announce, if on the built-in server
	shown    bool         // announced
	sends    []*toRow
	sendsCtx context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func newNearbyView(u *UI) *nearbyView {
	v := &nearbyView{u: u, buttons: container.NewHBox(), note: widget.NewLabel(""), rowsBox: container.NewVBox()}
	v.note.Importance = widget.LowImportance
	v.note.Truncation = fyne.TextTruncateEllipsis
	v.sendsCtx, v.cancel = context.WithCancel(context.Background())
	title := widget.NewLabelWithStyle(u.w.T("nearby.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	// One line: the devices, each a button (a click sends what is
	// picked), or a word on why there are none; a row per send below.
	v.content = container.NewVBox(
		container.NewBorder(nil, nil, title, nil, container.NewStack(container.NewHScroll(v.buttons), v.note)),
		v.rowsBox)
	return v
}

// start looks for nearby devices, if the app was given a way to
// (Config.Nearby).
func (v *nearbyView) start() {
	if v.u.cfg.Nearby == nil {
		v.note.SetText(v.u.w.T("nearby.off"))
		return
	}
	node, err := v.u.cfg.Nearby(nearby.Config{
		Interfaces: v.u.cfg.Peer.Interfaces, Logger: v.u.cfg.Logger,
		OnChange: func() { v.u.do(v.refresh) },
	}, v.u.device().ID())
	if err != nil {
		v.note.SetText(v.u.w.T("nearby.not-looking", M{"Err": words(v.u.w, err)}))
		return
	}
	v.mu.Lock()
	v.node = node
	v.mu.Unlock()
	v.announce()
	v.refresh()
}

// inboxOpened is told where the receive link is now: a link on the
// built-in server is announced (while Settings say visible), one on a
// remote server is not, nor is a closed one (nil).
func (v *nearbyView) inboxOpened(link *wire.Link, builtin bool) {
	v.mu.Lock()
	if builtin {
		v.inbox = link
	} else {
		v.inbox = nil
	}
	v.mu.Unlock()
	v.announce()
}

// announce brings the announcement in line with the receive link and
// Settings.
func (v *nearbyView) announce() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.node == nil {
		return
	}
	visible := v.u.app.Preferences().BoolWithFallback(prefVisible, true)
	if v.inbox == nil || !visible {
		if v.shown {
			v.node.Hide()
			v.shown = false
		}
		return
	}
	a, err := v.u.device().Announcement(*v.inbox)
	if err == nil {
		err = v.node.Announce(a)
	}
	if err != nil {
		v.u.cfg.Logger.Warn("announce to nearby devices", "err", err)
		return
	}
	v.shown = true
}

// refresh shows the devices found: one button each, with part of its ID
// where two share a name, and a mark for those always accepted here.
func (v *nearbyView) refresh() {
	v.mu.Lock()
	node := v.node
	v.mu.Unlock()
	if node == nil {
		return
	}
	devices := node.Devices()
	names := map[string]int{}
	for _, d := range devices {
		names[strings.ToLower(d.Name)]++
	}
	trusted := v.u.trustedDevices()
	v.buttons.Objects = nil
	for _, d := range devices {
		label := d.Name
		if names[strings.ToLower(d.Name)] > 1 {
			label += " · " + d.ID[:6]
		}
		icon := theme.ComputerIcon()
		if _, ok := trusted[d.ID]; ok {
			icon = theme.ConfirmIcon()
		}
		b := widget.NewButtonWithIcon(label, icon, func() { v.sendTo(d) })
		v.buttons.Add(b)
	}
	v.buttons.Refresh()
	if len(devices) == 0 {
		v.note.SetText(v.u.w.T("nearby.none"))
	} else {
		v.note.SetText("")
	}
}

// sendTo sends what is picked to device d, in a row of its own.
func (v *nearbyView) sendTo(d nearby.Device) {
	offer, err := v.u.send.offer()
	if err != nil {
		v.u.showError(err)
		return
	}
	if offer == nil {
		dialog.ShowInformation(v.u.w.T("nearby.nothing.title"), v.u.w.T("nearby.nothing"), v.u.win)
		return
	}
	sources := v.u.send.paths()
	r := newToRow(v.u, d)
	v.mu.Lock()
	v.sends = append(v.sends, r)
	ctx := v.sendsCtx
	v.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	r.stop.OnTapped = cancel
	v.rowsBox.Add(r.box)
	v.u.send.content.Refresh() // the line grew: lay the tab out again
	cfg := v.u.sessionConfig()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer cancel()
		err := session.Send(ctx, cfg, d.Link, offer, session.SendOptions{
			Device: d.ID,
			OnConnected: func(code string, path peer.Path) {
				v.u.do(func() { r.connected(code, path) })
			},
			Progress: func(p transfer.Progress) { v.u.do(func() { r.progress(p) }) },
		})
		v.u.do(func() {
			r.end(offer.Manifest, err)
			rec := transferRecord(history.Sent, history.ViaNearby, offer.Manifest, r.code, d.Name, err)
			rec.Sources = sources
			v.u.history.add(rec)
		})
	}()
}

// busy reports whether a send to a nearby device is under way.
func (v *nearbyView) busy() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.sends {
		if r.active {
			return true
		}
	}
	return false
}

// stop ends the sends and the looking; for when the window closes.
func (v *nearbyView) stop() {
	v.cancel()
	v.wg.Wait()
	v.mu.Lock()
	node := v.node
	v.node = nil
	v.mu.Unlock()
	if node != nil {
		node.Close()
	}
}

// toRow is one send to a nearby device.
type toRow struct {
	w      *Words
	name   string
	code   string // the connection's verification code, once connected
	active bool
	title  *widget.Label
	bar    *widget.ProgressBar
	detail *widget.Label
	stop   *widget.Button
	box    *fyne.Container
}

func newToRow(u *UI, d nearby.Device) *toRow {
	w := u.w
	r := &toRow{w: w, name: d.Name, active: true, title: widget.NewLabelWithStyle(w.T("nearby.to", M{"Name": d.Name}), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		bar: widget.NewProgressBar(), detail: widget.NewLabel(w.T("nearby.connecting"))}
	r.detail.Wrapping = fyne.TextWrapWord
	r.stop = widget.NewButtonWithIcon(w.T("common.stop"), theme.MediaStopIcon(), nil)
	r.bar.Hide()
	r.box = container.NewVBox(container.NewBorder(nil, nil, nil, r.stop, r.title), r.bar, r.detail)
	return r
}

func (r *toRow) connected(code string, path peer.Path) {
	w := r.w
	r.code = code
	r.title.SetText(rowTitle(w.T("nearby.to", M{"Name": r.name}), w.T("row.code", M{"Code": code}), pathWords(w, path)))
	r.detail.SetText(w.T("nearby.waiting", M{"Name": r.name}))
}

func (r *toRow) progress(p transfer.Progress) {
	r.bar.Show()
	if p.Total > 0 {
		r.bar.SetValue(float64(p.Done) / float64(p.Total))
	}
	r.detail.SetText(r.w.T("nearby.sending", M{"Done": r.w.Bytes(p.Done), "Total": r.w.Bytes(p.Total), "Speed": speed(r.w, p)}))
}

func (r *toRow) end(m transfer.Manifest, err error) {
	w := r.w
	r.active = false
	r.stop.Hide()
	switch {
	case err == nil:
		r.bar.SetValue(1)
		r.detail.SetText(w.T("nearby.sent", M{"What": offerSummary(w, m), "Name": r.name}))
	case transfer.Declined(err):
		r.bar.Hide()
		r.detail.SetText(w.T("nearby.declined", M{"Name": r.name}))
	case errors.Is(err, context.Canceled):
		r.detail.SetText(w.T("error.stopped"))
	case errors.Is(err, session.ErrWrongDevice):
		r.bar.Hide()
		r.detail.SetText(w.T("nearby.wrong-device", M{"Name": r.name}))
	default:
		r.detail.SetText(w.T("nearby.failed", M{"Err": words(w, err)}))
	}
}

// nearbySettings is the Settings card of nearby devices: whether this
// one is visible, its name, and the devices always accepted.
func (v *settingsView) nearbySettings() fyne.CanvasObject {
	w := v.u.w
	visible := widget.NewCheck(w.T("settings.nearby.visible"), func(on bool) {
		v.prefs.SetBool(prefVisible, on)
		if v.u.nearby != nil {
			v.u.nearby.announce()
		}
	})
	visible.SetChecked(v.prefs.BoolWithFallback(prefVisible, true))
	name := widget.NewEntry()
	name.SetPlaceHolder(defaultDeviceName())
	name.SetText(v.prefs.String(prefDeviceName))
	name.Validator = func(s string) error {
		if strings.TrimSpace(s) != "" && nearby.CleanName(s) == "" {
			return errors.New(w.T("settings.nearby.name.invalid"))
		}
		return nil
	}
	name.OnChanged = func(s string) {
		v.prefs.SetString(prefDeviceName, nearby.CleanName(s))
		if v.u.nearby != nil {
			v.u.nearby.announce()
		}
	}
	v.trustedBox = container.NewVBox()
	v.showTrusted()
	return card(w.T("settings.nearby.title"), w.T("settings.nearby.text"),
		container.NewVBox(visible, widget.NewForm(widget.NewFormItem(w.T("settings.nearby.name"), name)),
			widget.NewLabelWithStyle(w.T("settings.nearby.trusted"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), v.trustedBox))
}

// showTrusted lists the devices always accepted, each with Remove.
func (v *settingsView) showTrusted() {
	w := v.u.w
	m := v.u.trustedDevices()
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(strings.ToLower(m[a]), strings.ToLower(m[b])) })
	v.trustedBox.Objects = nil
	if len(ids) == 0 {
		v.trustedBox.Add(widget.NewLabel(w.T("settings.nearby.trusted.none", M{"Always": w.T("inbox.always")})))
	}
	for _, id := range ids {
		v.trustedBox.Add(container.NewBorder(nil, nil, nil,
			widget.NewButtonWithIcon(w.T("settings.nearby.remove"), theme.DeleteIcon(), func() { v.u.setTrusted(id, "", false) }),
			widget.NewLabel(w.T("settings.nearby.device", M{"Name": m[id], "ID": id[:6]}))))
	}
	v.trustedBox.Refresh()
}
