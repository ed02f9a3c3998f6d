package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/human"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
)

// prefInbox keeps the receive link's identity (session.Identity as JSON),
// so the link, and a phone's bookmark of it, survives a restart.
const prefInbox = "inbox.identity"

// inboxView is "Send to this computer": the receive link and its QR code,
// and a row for each device that sends through it.
type inboxView struct {
	u *UI

	qr       *canvas.Image
	link     *widget.Label
	reach    *widget.Label // says when the link works on this network only
	status   *widget.Label
	copyBtn  *widget.Button
	newBtn   *widget.Button
	rowsBox  *fyne.Container
	content  fyne.CanvasObject
	linkText string

	mu      sync.Mutex
	inbox   *session.Inbox
	want    place // where the latest open was asked for
	gen     int   // counts opens asked for; an overtaken one gives up
	closed  bool
	note    string                // what to say once the next open is done
	opening sync.Mutex            // one open at a time
	rows    map[string]*senderRow // UI thread only, as the widgets
	n       int                   // senders seen, to name the rows
	wg      sync.WaitGroup
}

func newInboxView(u *UI) *inboxView {
	v := &inboxView{u: u, rows: map[string]*senderRow{}}
	v.qr = canvas.NewImageFromImage(nil)
	v.qr.FillMode = canvas.ImageFillContain
	v.qr.ScaleMode = canvas.ImageScalePixels
	v.qr.SetMinSize(fyne.NewSize(180, 180))
	v.link = widget.NewLabel("Starting…")
	v.link.Wrapping = fyne.TextWrapBreak
	v.link.Selectable = true
	v.status = widget.NewLabel("")
	v.reach = reachLabel()
	v.status.Wrapping = fyne.TextWrapWord
	v.copyBtn = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(v.linkText)
	})
	v.copyBtn.Disable()
	v.newBtn = widget.NewButtonWithIcon("New code", theme.ViewRefreshIcon(), v.newCode)
	v.rowsBox = container.NewVBox()
	v.content = container.NewVBox(
		widget.NewCard("Send to this computer", "Scan the code with a phone, or open the link on another device, to send files or text here.",
			container.NewBorder(nil, nil, v.qr, nil, container.NewVBox(v.link, v.reach, container.NewHBox(v.copyBtn, v.newBtn), v.status))),
		v.rowsBox)
	return v
}

// identity is the kept identity, made and kept on first use.
func (v *inboxView) identity(fresh bool) session.Identity {
	prefs := v.u.app.Preferences()
	var id session.Identity
	if !fresh && json.Unmarshal([]byte(prefs.String(prefInbox)), &id) == nil && id.Valid() {
		return id
	}
	id = session.NewIdentity()
	b, _ := json.Marshal(id)
	prefs.SetString(prefInbox, string(b))
	return id
}

// place is where a receive link is open: the remote server from Settings
// ("" for the built-in one) and the folder it saves into.
type place struct{ server, dir string }

func (v *inboxView) here() place {
	return place{v.u.settings.remoteServer(), v.u.settings.downloads()}
}

// start opens the receive link in the background, or moves it when
// Settings name another server or folder; not while files are arriving
// (the next visit to the tab moves it then).
func (v *inboxView) start() {
	p := v.here()
	v.mu.Lock()
	if v.closed || (v.gen > 0 && v.want == p) || (v.gen > 0 && v.busy()) {
		v.mu.Unlock()
		return
	}
	v.reopen(p)
}

// newCode revokes the receive link: a new identity, a new link; the old
// one stops working at once. Transfers under way stop with it, so it asks
// first.
func (v *inboxView) newCode() {
	do := func() {
		v.identity(true)
		v.mu.Lock()
		v.note = "New code made: the old link and code no longer work."
		v.reopen(v.here())
	}
	if !v.busy() {
		do()
		return
	}
	dialog.ShowConfirm("Make a new code?", "Files are arriving through the current code. A new code stops those transfers (what arrived is removed). Go on?",
		func(ok bool) {
			if ok {
				do()
			}
		}, v.u.win)
}

// reopen (called with v.mu held, which it releases) closes the receive
// link and opens it again at p. Opens run one at a time, in order, and one
// that a later call overtook does nothing: two links with one identity
// would take the ID from each other.
func (v *inboxView) reopen(p place) {
	v.gen++
	gen := v.gen
	// From now on v.inbox is only ever a link open at p.
	old := v.inbox
	v.inbox, v.want = nil, p
	v.mu.Unlock()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		v.opening.Lock()
		defer v.opening.Unlock()
		if old != nil {
			v.u.nearby.inboxOpened(nil, false)
			old.Stop()
		}
		v.mu.Lock()
		overtaken := gen != v.gen
		v.mu.Unlock()
		if !overtaken {
			v.open(gen, p)
		}
	}()
}

func (v *inboxView) open(gen int, p place) {
	server, err := v.u.server()
	if err != nil {
		v.u.do(func() { v.unavailable(err) })
		return
	}
	in, err := session.OpenInbox(context.Background(), v.u.sessionConfig(), server, p.dir,
		session.InboxOptions{Identity: v.identity(false), OnEvent: v.event, OnServer: v.serverState,
			Confirm: func(ctx context.Context, o session.Incoming) error { return v.confirm(ctx, o, p.dir) }})
	if err != nil {
		v.u.do(func() { v.unavailable(err) })
		return
	}
	v.mu.Lock()
	if gen != v.gen || v.closed {
		v.mu.Unlock()
		in.Stop() // overtaken, or the window closed meanwhile
		return
	}
	v.inbox = in
	note := v.note
	v.note = ""
	v.mu.Unlock()
	link := in.Link()
	v.u.nearby.inboxOpened(&link, p.server == "")
	if note == "" {
		note = v.u.brokerStatus()
	}
	// A link that ends by itself (another app took its ID, the server
	// refused it) says so, and the next visit to the tab opens it again.
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		<-in.Done()
		v.mu.Lock()
		current := v.inbox == in
		if current {
			v.inbox, v.want = nil, place{}
		}
		v.mu.Unlock()
		if current {
			v.u.nearby.inboxOpened(nil, false)
		}
		if err := in.Err(); current && err != nil {
			v.u.do(func() { v.unavailable(err) })
		}
	}()
	shown := link.String()
	img, qerr := qrImage(shown)
	v.u.do(func() {
		v.linkText = shown
		v.link.SetText(shown)
		showReach(v.reach, in.Link())
		if qerr == nil {
			v.qr.Image = img
			v.qr.Refresh()
		}
		v.copyBtn.Enable()
		v.status.SetText(note)
	})
}

func (v *inboxView) unavailable(err error) {
	v.linkText = ""
	v.link.SetText("No receive link: " + words(err))
	v.reach.Hide()
	v.qr.Image = nil
	v.qr.Refresh()
	v.copyBtn.Disable()
}

// stop closes the receive link for good; used when the window closes.
func (v *inboxView) stop() {
	v.mu.Lock()
	v.closed = true
	v.gen++
	in := v.inbox
	v.inbox = nil
	v.mu.Unlock()
	if in != nil {
		in.Stop()
	}
	v.wg.Wait()
}

func (v *inboxView) busy() bool {
	for _, r := range v.rows {
		if r.state == session.Receiving || r.asking {
			return true
		}
	}
	return false
}

func (v *inboxView) serverState(st session.ServerState) {
	v.u.do(func() {
		if st.Connected {
			v.status.SetText("Reconnected to the signaling server: the link works again.")
		} else {
			v.status.SetText("Reconnecting to the signaling server… Transfers under way go on; the link works again once it is back.")
		}
	})
}

// row returns the row of sender id, made on first use.
func (v *inboxView) row(id string) *senderRow {
	r := v.rows[id]
	if r == nil {
		v.n++
		r = newSenderRow(v.u, v.n, func() {
			v.mu.Lock()
			in := v.inbox
			v.mu.Unlock()
			if in != nil {
				in.StopSender(id)
			}
		})
		v.rows[id] = r
		v.rowsBox.Add(r.box)
		if v.u.recv != nil {
			v.u.recv.scroll.Refresh() // the scroll must learn that its content grew
		}
	}
	return r
}

// confirm shows a sender's offer into dir and waits for Accept or
// Decline; called from the sender's goroutine. Nothing is written before
// Accept.
func (v *inboxView) confirm(ctx context.Context, o session.Incoming, dir string) error {
	if o.Device != nil {
		if _, ok := v.u.trustedDevices()[o.Device.ID]; ok {
			// Marked "always accept": by its key, which it proved, not
			// by its name.
			v.u.do(func() { v.row(o.Peer).autoAccepted(o, dir) })
			return nil
		}
	}
	answer := make(chan bool, 1)
	v.u.do(func() {
		v.row(o.Peer).offered(o, dir, answer)
		v.u.recv.scroll.ScrollToTop() // the rows sit under the receive code
	})
	who := "A device"
	if o.Device != nil {
		who = o.Device.Name
	}
	v.u.notify("Files offered", fmt.Sprintf("%s offers %s.", who, offerSummary(o.Manifest)))
	err := waitAnswer(ctx, answer)
	if ctx.Err() != nil {
		v.u.do(func() { v.row(o.Peer).decided() }) // withdrawn: no more buttons
	}
	return err
}

func (v *inboxView) event(e session.Event) {
	v.u.do(func() {
		if e.State == session.Connecting {
			return // a row appears with the offer
		}
		if _, ok := v.rows[e.Peer]; !ok && e.State == session.Failed {
			switch {
			case errors.Is(e.Err, session.ErrWrongSecret):
				v.status.SetText("Refused a device whose link has the wrong secret.")
			case errors.Is(e.Err, transfer.ErrBadManifest):
				// A hostile or broken offer, refused before anyone was asked.
				v.status.SetText("Refused a device's offer: " + words(e.Err))
			}
			return // else it left before offering anything
		}
		r := v.row(e.Peer)
		r.update(e)
		switch e.State {
		case session.Done:
			if m := e.Result.Manifest; len(m.Entries) == 0 {
				v.u.notify("Message received", "A device sent a message.")
			} else {
				v.u.notify("Files received", offerSummary(m)+", every file verified.")
			}
		case session.Failed:
			if !errors.Is(e.Err, transfer.ErrDeclined) {
				v.u.notify("Receiving failed", words(e.Err))
			}
		}
	})
}

// offerSummary says what a manifest holds: "3 files, 12 MB", "a message".
func offerSummary(m transfer.Manifest) string {
	if len(m.Entries) == 0 {
		return "a message"
	}
	s := fmt.Sprintf("%d file%s, %s", m.Files(), plural(m.Files()), human.Bytes(m.Total()))
	if m.Text != "" {
		s += " and a message"
	}
	return s
}

// senderRow is one sending device's offer and transfer.
type senderRow struct {
	u       *UI
	n       int
	state   session.State
	asking  bool
	head    string // "Sender 1 · code 123 456 · direct"
	title   *widget.Label
	list    *widget.Label
	text    *fyne.Container
	accept  *widget.Button
	decline *widget.Button
	always  *widget.Check // "Always accept from this device", for a proven device
	device  *session.RemoteDevice
	answer  chan bool
	bar     *widget.ProgressBar
	detail  *widget.Label
	stop    *widget.Button
	open    *widget.Button
	dir     string
	box     *fyne.Container
}

func newSenderRow(u *UI, n int, stop func()) *senderRow {
	r := &senderRow{u: u, n: n, title: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		list: widget.NewLabel(""), text: container.NewVBox(), bar: widget.NewProgressBar(), detail: widget.NewLabel("")}
	r.list.Wrapping = fyne.TextWrapWord
	r.detail.Wrapping = fyne.TextWrapWord
	r.accept = widget.NewButtonWithIcon("Accept", theme.ConfirmIcon(), func() { r.decide(true) })
	r.accept.Importance = widget.HighImportance
	r.decline = widget.NewButtonWithIcon("Decline", theme.CancelIcon(), func() { r.decide(false) })
	r.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), stop)
	r.open = widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), func() {
		if err := u.app.OpenURL(&url.URL{Scheme: "file", Path: r.dir}); err != nil {
			u.showError(err)
		}
	})
	r.always = widget.NewCheck("Always accept from this device", nil)
	r.bar.Hide()
	r.stop.Hide()
	r.open.Hide()
	r.accept.Hide()
	r.decline.Hide()
	r.always.Hide()
	r.box = container.NewVBox(r.title, r.list, r.text, container.NewHBox(r.accept, r.decline, r.always, r.stop, r.open), r.bar, r.detail, widget.NewSeparator())
	return r
}

func (r *senderRow) name(code string) string {
	s := fmt.Sprintf("Sender %d", r.n)
	if code != "" {
		s += " · code " + code
	}
	return s
}

// show fills the row with o's offer into dir.
func (r *senderRow) show(o session.Incoming, dir string) {
	r.dir, r.device = dir, o.Device
	r.head = r.name(o.Code) + " · " + pathWords(o.Path)
	r.title.SetText(r.head + " · offers " + offerSummary(o.Manifest))
	if o.Device != nil {
		r.head = fmt.Sprintf("%s · code %s · %s", o.Device.Name, o.Code, pathWords(o.Path))
		r.title.SetText(fmt.Sprintf("%s wants to send you %s · code %s · %s", o.Device.Name, offerSummary(o.Manifest), o.Code, pathWords(o.Path)))
	}
	if len(o.Manifest.Entries) > 0 {
		r.list.SetText(offerText(o.Manifest))
		r.list.Show()
	} else {
		r.list.Hide()
	}
	r.text.Objects = nil
	if o.Manifest.Text != "" {
		r.text.Objects = []fyne.CanvasObject{textBox(r.u, o.Manifest.Text)}
	}
	r.text.Refresh()
	r.box.Refresh()
}

func (r *senderRow) offered(o session.Incoming, dir string, answer chan bool) {
	r.show(o, dir)
	r.asking, r.answer = true, answer
	r.detail.SetText("Compare the code with the one the sending device shows. Nothing is saved before you accept; it goes to " + dir + ".")
	r.accept.Show()
	r.decline.Show()
	if o.Device != nil {
		r.always.SetChecked(false)
		r.always.Show()
	}
}

// autoAccepted shows an offer from a device marked "always accept".
func (r *senderRow) autoAccepted(o session.Incoming, dir string) {
	r.show(o, dir)
	r.detail.SetText(fmt.Sprintf("Accepted without asking: %s is always accepted (Settings, Nearby devices). Saving into %s.", o.Device.Name, dir))
	r.stop.Show()
}

func (r *senderRow) decide(ok bool) {
	if ok && r.device != nil && r.always.Checked {
		r.u.setTrusted(r.device.ID, r.device.Name, true)
	}
	if r.answer != nil {
		r.answer <- ok
	}
	r.decided()
	if ok {
		r.detail.SetText("Starting…")
		r.stop.Show()
	}
}

func (r *senderRow) decided() {
	r.asking, r.answer = false, nil
	r.accept.Hide()
	r.decline.Hide()
	r.always.Hide()
}

func (r *senderRow) update(e session.Event) {
	r.state = e.State
	p := e.Progress
	switch e.State {
	case session.Receiving:
		r.title.SetText(r.head + " · receiving")
		r.bar.Show()
		if p.Total > 0 {
			r.bar.SetValue(float64(p.Done) / float64(p.Total))
		}
		if e.Stalled != nil {
			r.detail.SetText(stallWords(*e.Stalled))
			return
		}
		r.detail.SetText(fmt.Sprintf("Receiving: %s of %s · %s · %s", human.Bytes(p.Done), human.Bytes(p.Total), speed(p), p.File))
	case session.Done:
		r.decided()
		r.stop.Hide()
		r.title.SetText(r.head + " · done")
		res := e.Result
		if len(res.Manifest.Entries) == 0 {
			r.detail.SetText("Message received.")
			return
		}
		r.bar.Show()
		r.bar.SetValue(1)
		msg := fmt.Sprintf("Received %s, every file verified, in %s", offerSummary(res.Manifest), r.dir)
		if p.Elapsed > 0 {
			msg += fmt.Sprintf(" (%s in %s, %s/s)", human.Bytes(p.Total-p.Resumed), human.Duration(p.Elapsed), human.Bytes(int64(p.Rate)))
		}
		if res.Resumed > 0 {
			msg += fmt.Sprintf(". Resumed: %s had arrived before", human.Bytes(res.Resumed))
		}
		r.detail.SetText(msg + ".")
		r.open.Show()
	case session.Failed:
		r.decided()
		r.stop.Hide()
		r.title.SetText(r.head + " · not received")
		if errors.Is(e.Err, transfer.ErrDeclined) {
			r.detail.SetText("Declined. Nothing was saved.")
			return
		}
		msg := "Not received: " + words(e.Err)
		var partial *transfer.PartialError
		if errors.As(e.Err, &partial) {
			msg += fmt.Sprintf(" The %s that arrived are kept: sending the same files again resumes.", human.Bytes(partial.Kept))
		}
		r.detail.SetText(msg)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// textBox shows a received text as text (never markup), with a Copy
// button and a button to open each web link in it.
func textBox(u *UI, text string) fyne.CanvasObject {
	shown := text
	if r := []rune(shown); len(r) > 4000 {
		shown = string(r[:4000]) + "…" // the whole text is what Copy copies
	}
	l := widget.NewLabel(shown)
	l.Wrapping = fyne.TextWrapWord
	l.Selectable = true
	buttons := container.NewHBox(widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(text)
	}))
	for _, m := range linkRE.FindAllString(text, 3) {
		link, err := url.Parse(trimLink(m))
		if err != nil || link.Host == "" {
			continue
		}
		// The button names the site, so nobody opens a link blind.
		buttons.Add(widget.NewButtonWithIcon("Open "+link.Host, theme.ComputerIcon(), func() {
			if err := u.app.OpenURL(link); err != nil {
				u.showError(err)
			}
		}))
	}
	return widget.NewCard("", "Message", container.NewVBox(l, buttons))
}

// trimLink drops the punctuation a sentence puts after a link.
func trimLink(s string) string {
	for len(s) > 0 && isTrailing(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isTrailing(c byte) bool {
	switch c {
	case '.', ',', ';', ':', '!', '?', ')', ']':
		return true
	}
	return false
}
