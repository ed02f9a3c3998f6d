package ui

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

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
	w := u.w
	v := &inboxView{u: u, rows: map[string]*senderRow{}}
	v.qr = canvas.NewImageFromImage(nil)
	v.qr.FillMode = canvas.ImageFillContain
	v.qr.ScaleMode = canvas.ImageScalePixels
	v.qr.SetMinSize(fyne.NewSize(180, 180))
	v.link = widget.NewLabel(w.T("common.starting"))
	v.link.Wrapping = fyne.TextWrapBreak
	v.link.Selectable = true
	v.status = widget.NewLabel("")
	v.reach = reachLabel()
	v.status.Wrapping = fyne.TextWrapWord
	v.copyBtn = widget.NewButtonWithIcon(w.T("common.copy-link"), theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(v.linkText)
	})
	v.copyBtn.Disable()
	v.newBtn = widget.NewButtonWithIcon(w.T("inbox.new-code"), theme.ViewRefreshIcon(), v.newCode)
	v.rowsBox = container.NewVBox()
	v.content = container.NewVBox(
		card(w.T("inbox.title"), w.T("inbox.text"),
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
		v.note = v.u.w.T("inbox.new-code.done")
		v.reopen(v.here())
	}
	if !v.busy() {
		do()
		return
	}
	dialog.ShowConfirm(v.u.w.T("inbox.new-code.confirm.title"), v.u.w.T("inbox.new-code.confirm"),
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
		showReach(v.u.w, v.reach, in.Link())
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
	v.link.SetText(v.u.w.T("inbox.unavailable", M{"Err": words(v.u.w, err)}))
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
			v.status.SetText(v.u.w.T("server.reconnected"))
		} else {
			v.status.SetText(v.u.w.T("server.reconnecting"))
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
	w := v.u.w
	offer := w.T("notify.offered.unknown", M{"What": offerSummary(w, o.Manifest)})
	if o.Device != nil {
		offer = w.T("notify.offered", M{"Name": o.Device.Name, "What": offerSummary(w, o.Manifest)})
	}
	v.u.notify(w.T("notify.offered.title"), offer)
	err := waitAnswer(ctx, answer)
	if ctx.Err() != nil {
		v.u.do(func() { v.row(o.Peer).decided() }) // withdrawn: no more buttons
	}
	return err
}

func (v *inboxView) event(e session.Event) {
	v.u.do(func() {
		w := v.u.w
		if e.State == session.Connecting {
			return // a row appears with the offer
		}
		if _, ok := v.rows[e.Peer]; !ok && e.State == session.Failed {
			switch {
			case errors.Is(e.Err, session.ErrWrongSecret):
				v.status.SetText(w.T("inbox.refused.secret"))
			case errors.Is(e.Err, transfer.ErrBadManifest):
				// A hostile or broken offer, refused before anyone was asked.
				v.status.SetText(w.T("inbox.refused.offer", M{"Err": words(w, e.Err)}))
			}
			return // else it left before offering anything
		}
		r := v.row(e.Peer)
		r.update(e)
		switch e.State {
		case session.Done:
			if m := e.Result.Manifest; len(m.Entries) == 0 {
				v.u.notify(w.T("notify.message.title"), w.T("notify.message"))
			} else {
				v.u.notify(w.T("notify.received.title"), w.T("notify.received", M{"What": offerSummary(w, m)}))
			}
		case session.Failed:
			if !errors.Is(e.Err, transfer.ErrDeclined) {
				v.u.notify(w.T("notify.receive-failed.title"), words(w, e.Err))
			}
		}
	})
}

// offerSummary says what a manifest holds: "3 files, 12 MB", "a message".
func offerSummary(w *Words, m transfer.Manifest) string {
	switch {
	case len(m.Entries) == 0:
		return w.T("offer.message")
	case m.Text != "":
		return w.N("offer.files-message", m.Files(), M{"Size": w.Bytes(m.Total())})
	}
	return w.N("offer.files", m.Files(), M{"Size": w.Bytes(m.Total())})
}
