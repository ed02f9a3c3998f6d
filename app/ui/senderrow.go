package ui

import (
	"errors"
	"net/url"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
)

// senderRow is one sending device's offer and transfer, in the Receive
// tab under "Send to this computer".
type senderRow struct {
	u       *UI
	n       int
	state   session.State
	asking  bool
	head    string // "Sender 1 · code 123 456 · direct"
	title   *widget.Label
	list    *widget.Label
	text    *fyne.Container
	message *messageBox // the offer's text, if any
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
	offer   *session.Incoming // what the sender offered, once it did
}

func newSenderRow(u *UI, n int, stop func()) *senderRow {
	w := u.w
	r := &senderRow{u: u, n: n, title: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		list: widget.NewLabel(""), text: container.NewVBox(), bar: widget.NewProgressBar(), detail: widget.NewLabel("")}
	r.list.Wrapping = fyne.TextWrapWord
	r.detail.Wrapping = fyne.TextWrapWord
	r.accept = widget.NewButtonWithIcon(w.T("common.accept"), theme.ConfirmIcon(), func() { r.decide(true) })
	r.accept.Importance = widget.HighImportance
	r.decline = widget.NewButtonWithIcon(w.T("common.decline"), theme.CancelIcon(), func() { r.decide(false) })
	r.stop = widget.NewButtonWithIcon(w.T("common.stop"), theme.MediaStopIcon(), stop)
	r.open = widget.NewButtonWithIcon(w.T("common.open-folder"), theme.FolderOpenIcon(), func() {
		if err := u.app.OpenURL(&url.URL{Scheme: "file", Path: r.dir}); err != nil {
			u.showError(err)
		}
	})
	r.always = widget.NewCheck(w.T("inbox.always"), nil)
	r.bar.Hide()
	r.stop.Hide()
	r.open.Hide()
	r.accept.Hide()
	r.decline.Hide()
	r.always.Hide()
	r.box = container.NewVBox(r.title, r.list, r.text, container.NewHBox(r.accept, r.decline, r.always, r.stop, r.open), r.bar, r.detail, widget.NewSeparator())
	return r
}

// show fills the row with o's offer into dir.
func (r *senderRow) show(o session.Incoming, dir string) {
	w := r.u.w
	r.dir, r.device, r.offer = dir, o.Device, &o
	code, path, what := w.T("row.code", M{"Code": o.Code}), pathWords(w, o.Path), offerSummary(w, o.Manifest)
	if o.Device != nil {
		r.head = rowTitle(o.Device.Name, code, path)
		r.title.SetText(rowTitle(w.T("inbox.row.wants", M{"Name": o.Device.Name, "What": what}), code, path))
	} else {
		name := w.T("inbox.sender", M{"N": w.Number(int64(r.n))})
		if o.Code == "" {
			r.head = rowTitle(name, path)
		} else {
			r.head = rowTitle(name, code, path)
		}
		r.title.SetText(rowTitle(r.head, w.T("inbox.row.offers", M{"What": what})))
	}
	if len(o.Manifest.Entries) > 0 {
		r.list.SetText(offerText(w, o.Manifest))
		r.list.Show()
	} else {
		r.list.Hide()
	}
	r.text.Objects, r.message = nil, nil
	if o.Manifest.Text != "" {
		r.message = newMessageBox(r.u, o.Manifest.Text)
		r.text.Objects = []fyne.CanvasObject{r.message.card}
	}
	r.text.Refresh()
	r.box.Refresh()
}

func (r *senderRow) offered(o session.Incoming, dir string, answer chan bool) {
	r.show(o, dir)
	r.asking, r.answer = true, answer
	r.detail.SetText(r.u.w.T("inbox.row.compare", M{"Dir": dir}))
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
	r.detail.SetText(r.u.w.T("inbox.row.auto", M{"Name": o.Device.Name, "Dir": dir}))
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
		r.detail.SetText(r.u.w.T("common.starting"))
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
	w := r.u.w
	r.state = e.State
	p := e.Progress
	switch e.State {
	case session.Receiving:
		r.title.SetText(rowTitle(r.head, w.T("state.receiving")))
		r.bar.Show()
		if p.Total > 0 {
			r.bar.SetValue(float64(p.Done) / float64(p.Total))
		}
		if e.Stalled != nil {
			r.detail.SetText(stallWords(w, *e.Stalled))
			return
		}
		r.detail.SetText(w.T("inbox.row.progress", M{"Done": w.Bytes(p.Done), "Total": w.Bytes(p.Total), "Speed": speed(w, p), "File": p.File}))
	case session.Done:
		r.remember(nil)
		r.decided()
		r.stop.Hide()
		r.title.SetText(rowTitle(r.head, w.T("state.done")))
		r.done(e)
	case session.Failed:
		r.remember(e.Err)
		r.decided()
		r.stop.Hide()
		r.title.SetText(rowTitle(r.head, w.T("state.not-received")))
		if errors.Is(e.Err, transfer.ErrDeclined) {
			r.detail.SetText(w.T("receive.declined"))
			return
		}
		msg := w.T("receive.failed", M{"Err": words(w, e.Err)})
		var partial *transfer.PartialError
		if errors.As(e.Err, &partial) {
			msg += " " + w.T("inbox.row.kept", M{"Size": w.Bytes(partial.Kept)})
		}
		r.detail.SetText(msg)
	}
}

// remember keeps in the history how the sender's transfer ended: a
// browser's (it proves no device) or another device's.
func (r *senderRow) remember(err error) {
	o := r.offer
	if o == nil {
		return
	}
	via, name := history.ViaBrowser, ""
	if o.Device != nil {
		via, name = history.ViaInbox, o.Device.Name
	}
	rec := transferRecord(history.Received, via, o.Manifest, o.Code, name, err)
	rec.Folder = r.dir
	r.u.history.add(rec)
}

// done says what arrived, how fast, and what had arrived before.
func (r *senderRow) done(e session.Event) {
	w := r.u.w
	res, p := e.Result, e.Progress
	if len(res.Manifest.Entries) == 0 {
		r.detail.SetText(w.T("inbox.row.message"))
		return
	}
	r.bar.Show()
	r.bar.SetValue(1)
	what := offerSummary(w, res.Manifest)
	msg := w.T("inbox.row.done", M{"What": what, "Dir": r.dir})
	if p.Elapsed > 0 {
		msg = w.T("inbox.row.done.stats", M{"What": what, "Dir": r.dir,
			"Size": w.Bytes(p.Total - p.Resumed), "Elapsed": w.Duration(p.Elapsed), "Rate": w.Rate(p.Rate)})
	}
	if res.Resumed > 0 {
		msg += " " + w.T("receive.resumed", M{"Size": w.Bytes(res.Resumed)})
	}
	r.detail.SetText(msg)
	r.open.Show()
}
