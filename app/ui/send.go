package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
)

// item is one file or folder the user picked.
type item struct {
	path string
	size int64 // total bytes, folders included
	dir  bool
}

// sendView picks files, shares them and follows the receivers.
type sendView struct {
	u     *UI
	items []item

	list     *widget.List
	empty    fyne.CanvasObject // shown instead of the list while it is empty
	total    *widget.Label
	message  *widget.Entry // "Send text": a message with the files, or alone
	shareBtn *widget.Button
	picking  fyne.CanvasObject

	link        *widget.Label
	reach       *widget.Label // says when the link works on this network only
	qr          *canvas.Image
	copyBtn     *widget.Button
	stopBtn     *widget.Button
	status      *widget.Label
	offline     *widget.Label // shown while the share is reconnecting to the server
	rowsBox     *fyne.Container
	rowsView    *container.Scroll
	rows        map[string]*receiverRow
	shareScreen fyne.CanvasObject // the QR code, the link and the rows
	content     *fyne.Container
	linkText    string

	mu    sync.Mutex
	share *session.Sharing
	// offered and sources are what the running share offers, and the
	// paths picked for it, for the history.
	offered *transfer.Offer
	sources []string
	stopF   context.CancelFunc
	wg      sync.WaitGroup // the goroutine that runs a share
}

func newSendView(u *UI) *sendView {
	v := &sendView{u: u, rows: map[string]*receiverRow{}}
	v.picking = v.newPicking()
	v.shareScreen = v.newShareScreen()
	v.content = container.NewStack(v.picking)
	v.refresh()
	return v
}

// newPicking makes the screen where files, folders and a message are
// picked.
func (v *sendView) newPicking() fyne.CanvasObject {
	u, w := v.u, v.u.w
	v.list = v.newList()
	v.total = widget.NewLabel("")
	v.message = widget.NewMultiLineEntry()
	v.message.SetPlaceHolder(w.T("send.message.placeholder"))
	v.message.SetMinRowsVisible(2)
	v.message.Wrapping = fyne.TextWrapWord
	v.message.OnChanged = func(string) { v.refresh() }
	v.message.Validator = func(s string) error {
		if len(s) > transfer.MaxText {
			return errors.New(w.T("send.message.too-long", M{"Size": w.Bytes(transfer.MaxText)}))
		}
		return nil
	}
	v.shareBtn = widget.NewButtonWithIcon(w.T("send.share"), theme.MailSendIcon(), v.start)
	v.shareBtn.Importance = widget.HighImportance
	addFiles := widget.NewButtonWithIcon(w.T("send.add-files"), theme.FileIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				return
			}
			r.Close()
			v.add([]fyne.URI{r.URI()})
		}, u.win)
	})
	addFolder := widget.NewButtonWithIcon(w.T("send.add-folder"), theme.FolderIcon(), func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err != nil || l == nil {
				return
			}
			v.add([]fyne.URI{l})
		}, u.win)
	})
	dropIcon := widget.NewIcon(theme.UploadIcon())
	v.empty = container.NewCenter(container.NewVBox(
		// A grid-wrap in a VBox is as wide as the VBox: centre it on its own.
		container.NewCenter(container.NewGridWrap(fyne.NewSize(96, 96), dropIcon)),
		widget.NewLabelWithStyle(w.T("send.drop"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
		widget.NewLabelWithStyle(w.T("send.drop.text"), fyne.TextAlignCenter, fyne.TextStyle{}),
	))
	return container.NewBorder(
		container.NewCenter(container.NewHBox(addFiles, addFolder)),
		container.NewVBox(u.nearby.content, v.message, container.NewBorder(nil, nil, v.total, v.shareBtn)),
		nil, nil, container.NewStack(v.list, v.empty))
}

// newList makes the list of picked files and folders, each with its
// size and a button that takes it off.
func (v *sendView) newList() *widget.List {
	w := v.u.w
	return widget.NewList(
		func() int { return len(v.items) },
		func() fyne.CanvasObject {
			// The labels' texts only size the template; each row sets its own.
			return container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()),
				container.NewHBox(widget.NewLabel("000.0 MB"), widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)),
				widget.NewLabel("name"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			it := v.items[i]
			row := o.(*fyne.Container)
			name := row.Objects[0].(*widget.Label)
			icon := row.Objects[1].(*widget.Icon)
			right := row.Objects[2].(*fyne.Container)
			name.SetText(filepath.Base(it.path))
			if it.dir {
				icon.SetResource(theme.FolderIcon())
			} else {
				icon.SetResource(theme.FileIcon())
			}
			right.Objects[0].(*widget.Label).SetText(w.Bytes(it.size))
			right.Objects[1].(*widget.Button).OnTapped = func() { v.remove(i) }
		},
	)
}

// newShareScreen makes the screen of a share: its QR code and link, and
// a row per receiver.
func (v *sendView) newShareScreen() fyne.CanvasObject {
	u, w := v.u, v.u.w
	v.link = widget.NewLabel("")
	v.link.Wrapping = fyne.TextWrapBreak
	v.link.Selectable = true
	v.reach = reachLabel()
	v.qr = canvas.NewImageFromImage(nil)
	v.qr.FillMode = canvas.ImageFillContain
	v.qr.ScaleMode = canvas.ImageScalePixels
	v.qr.SetMinSize(fyne.NewSize(300, 300))
	v.copyBtn = widget.NewButtonWithIcon(w.T("common.copy-link"), theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(v.linkText)
	})
	v.stopBtn = widget.NewButtonWithIcon(w.T("send.stop"), theme.MediaStopIcon(), v.stop)
	v.status = widget.NewLabel(w.T("send.waiting"))
	v.offline = widget.NewLabel("")
	v.offline.Importance = widget.WarningImportance
	v.offline.Wrapping = fyne.TextWrapWord
	v.offline.Hide()
	v.rowsBox = container.NewVBox()
	v.rowsView = container.NewVScroll(v.rowsBox)
	return container.NewBorder(
		container.NewHBox(v.qr, container.NewVBox(
			widget.NewLabelWithStyle(w.T("send.scan"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			v.link, v.reach, container.NewHBox(v.copyBtn, v.stopBtn), v.status, v.offline)),
		nil, nil, nil,
		v.rowsView)
}

// add puts dropped or picked items on the list, refusing unreadable ones.
func (v *sendView) add(uris []fyne.URI) {
	if v.active() {
		dialog.ShowInformation(v.u.w.T("send.busy.title"), v.u.w.T("send.busy"), v.u.win)
		return
	}
	for _, uri := range uris {
		p := uri.Path()
		if slices.ContainsFunc(v.items, func(it item) bool { return it.path == p }) {
			continue
		}
		// Building an offer reads every folder and opens every file, so
		// anything unreadable is caught now, not halfway through a transfer.
		o, err := transfer.NewOffer(p)
		if err != nil {
			v.u.showProblem(v.u.w.T("send.cannot-share", M{"Name": filepath.Base(p), "Err": words(v.u.w, err)}))
			continue
		}
		fi, _ := os.Stat(p)
		v.items = append(v.items, item{path: p, size: o.Manifest.Total(), dir: fi != nil && fi.IsDir()})
	}
	v.refresh()
}

func (v *sendView) remove(i int) {
	if i < 0 || i >= len(v.items) || v.active() {
		return
	}
	v.items = slices.Delete(v.items, i, i+1)
	v.refresh()
}

func (v *sendView) refresh() {
	var total int64
	for _, it := range v.items {
		total += it.size
	}
	text, w := v.message.Text, v.u.w
	switch {
	case len(v.items) == 0 && text == "":
		v.total.SetText(w.T("send.total.nothing"))
		v.empty.Show()
	case len(v.items) == 0:
		v.total.SetText(w.T("send.total.message"))
		v.empty.Show()
	case text != "":
		v.total.SetText(w.N("send.total.items-message", len(v.items), M{"Size": w.Bytes(total)}))
		v.empty.Hide()
	default:
		v.total.SetText(w.N("send.total.items", len(v.items), M{"Size": w.Bytes(total)}))
		v.empty.Hide()
	}
	if (len(v.items) == 0 && text == "") || len(text) > transfer.MaxText {
		v.shareBtn.Disable()
	} else {
		v.shareBtn.Enable()
	}
	v.list.Refresh()
}

// offer is what is picked: the files and folders, and the message;
// nil if there is nothing.
func (v *sendView) offer() (*transfer.Offer, error) {
	if len(v.items) == 0 && strings.TrimSpace(v.message.Text) == "" {
		return nil, nil
	}
	return transfer.NewTextOffer(v.message.Text, v.paths()...)
}

// paths are the picked files and folders.
func (v *sendView) paths() []string {
	paths := make([]string, len(v.items))
	for i, it := range v.items {
		paths[i] = it.path
	}
	return paths
}

// start shares the picked items.
func (v *sendView) start() {
	offer, err := v.offer()
	if err == nil && offer == nil {
		err = errNothing
	}
	if err != nil {
		v.u.showError(err)
		return
	}
	sources := v.paths()
	v.shareBtn.Disable()
	v.message.Disable()
	v.total.SetText(v.u.w.T("common.starting"))
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		server, err := v.u.server()
		if err != nil {
			v.u.do(func() { v.refresh(); v.u.showError(err) })
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		s, err := session.Share(ctx, v.u.sessionConfig(), server, offer, session.ShareOptions{OnEvent: v.event, OnServer: v.server})
		if err != nil {
			cancel()
			v.u.do(func() { v.refresh(); v.u.showError(err) })
			return
		}
		v.mu.Lock()
		v.share, v.stopF = s, cancel
		v.offered, v.sources = offer, sources
		v.mu.Unlock()
		link := s.Link().String()
		img, err := qrImage(link)
		v.u.do(func() {
			v.linkText = link
			v.link.SetText(link)
			showReach(v.u.w, v.reach, s.Link())
			if err == nil {
				v.qr.Image = img
				v.qr.Refresh()
			}
			v.status.SetText(v.u.w.T("send.waiting"))
			v.content.Objects = []fyne.CanvasObject{v.shareScreen}
			v.content.Refresh()
		})
		<-s.Done()
		if err := s.Err(); err != nil {
			v.u.do(func() { v.u.showError(err) })
		}
		v.u.do(v.ended)
	}()
}

// stop ends the share.
func (v *sendView) stop() {
	v.mu.Lock()
	s, cancel := v.share, v.stopF
	v.share, v.stopF = nil, nil
	v.mu.Unlock()
	if s == nil {
		return
	}
	cancel()
	go s.Stop() // may take a moment; the share's goroutine then goes back to picking
}

// ended goes back to picking files.
func (v *sendView) ended() {
	v.mu.Lock()
	v.share, v.stopF = nil, nil
	v.mu.Unlock()
	v.rows = map[string]*receiverRow{}
	v.rowsBox.RemoveAll()
	v.offline.Hide()
	v.content.Objects = []fyne.CanvasObject{v.picking}
	v.content.Refresh()
	v.message.Enable()
	v.refresh()
}

func (v *sendView) active() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.share != nil
}

// busy says whether files are moving to someone right now.
func (v *sendView) busy() bool {
	for _, r := range v.rows {
		if r.state == session.Sending || r.state == session.Connecting {
			return true
		}
	}
	return false
}

// event shows what happens to one receiver; called from session goroutines.
func (v *sendView) event(e session.Event) {
	v.u.do(func() {
		w := v.u.w
		r := v.rows[e.Peer]
		if r == nil {
			if e.State == session.Failed && e.Progress.Total == 0 && e.Code == "" {
				// Refused before connecting (a wrong secret): one line.
				v.status.SetText(w.T("send.refused", M{"Err": words(w, e.Err)}))
				return
			}
			r = newReceiverRow(w, len(v.rows)+1, func() {
				v.mu.Lock()
				s := v.share
				v.mu.Unlock()
				if s != nil {
					s.StopReceiver(e.Peer)
				}
			})
			v.rows[e.Peer] = r
			v.rowsBox.Add(r.box)
			v.rowsView.Refresh() // the scroll must learn that its content grew
		}
		r.update(e)
		v.status.SetText(v.summary())
		switch e.State {
		case session.Done:
			v.remember(r, nil)
			v.u.notify(w.T("notify.sent.title"), w.T("notify.sent", M{"N": w.Number(int64(r.n))}))
		case session.Failed:
			v.remember(r, e.Err)
			v.u.notify(w.T("notify.send-failed.title"), words(w, e.Err))
		}
	})
}

// remember keeps in the history how the share to receiver r ended.
func (v *sendView) remember(r *receiverRow, err error) {
	v.mu.Lock()
	o, sources := v.offered, v.sources
	v.mu.Unlock()
	if o == nil {
		return
	}
	rec := transferRecord(history.Sent, history.ViaLink, o.Manifest, r.code, r.device, err)
	rec.Sources = sources
	v.u.history.add(rec)
}

// server shows whether the share is connected to the signaling server;
// called from a session goroutine.
func (v *sendView) server(st session.ServerState) {
	v.u.do(func() {
		if st.Connected {
			v.offline.Hide()
			return
		}
		v.offline.SetText(v.u.w.T("server.reconnecting"))
		v.offline.Show()
	})
}

// speed says how fast and how long: "12.5 MB/s · 0:42 left".
func speed(w *Words, p transfer.Progress) string {
	if p.Rate <= 0 {
		return w.T("progress.measuring")
	}
	return w.T("progress.speed", M{"Rate": w.Rate(p.Rate), "Left": w.Duration(p.ETA())})
}

// summary counts receivers by state for the status line.
func (v *sendView) summary() string {
	var active, done, failed int64
	for _, r := range v.rows {
		switch r.state {
		case session.Done:
			done++
		case session.Failed:
			failed++
		default:
			active++
		}
	}
	w := v.u.w
	if failed > 0 {
		return w.T("send.summary.failed", M{"Active": w.Number(active), "Done": w.Number(done), "Failed": w.Number(failed)})
	}
	return w.T("send.summary", M{"Active": w.Number(active), "Done": w.Number(done)})
}

// receiverRow is one receiver's line on the sharing screen.
type receiverRow struct {
	w      *Words
	n      int
	state  session.State
	code   string // the connection's verification code, once known
	device string // the name of the device it proved it is, if any
	title  *widget.Label
	bar    *widget.ProgressBar
	detail *widget.Label
	stop   *widget.Button
	box    *fyne.Container
}

func newReceiverRow(w *Words, n int, stop func()) *receiverRow {
	r := &receiverRow{w: w, n: n, title: widget.NewLabel(""), bar: widget.NewProgressBar(), detail: widget.NewLabel("")}
	r.stop = widget.NewButtonWithIcon(w.T("common.stop"), theme.CancelIcon(), stop)
	r.box = container.NewVBox(container.NewBorder(nil, nil, nil, r.stop, r.title), r.bar, r.detail, widget.NewSeparator())
	return r
}

// rowTitle joins a row's facts: "Receiver 1 · code 123 456 · direct · done".
func rowTitle(parts ...string) string { return strings.Join(parts, " · ") }

func (r *receiverRow) update(e session.Event) {
	w := r.w
	r.state = e.State
	if e.Code != "" {
		r.code = e.Code
	}
	if e.Device != nil {
		r.device = e.Device.Name
	}
	head := []string{w.T("send.receiver", M{"N": w.Number(int64(r.n))})}
	if e.Code != "" {
		head = append(head, w.T("row.code", M{"Code": e.Code}))
	}
	p := e.Progress
	if p.Total > 0 {
		r.bar.SetValue(float64(p.Done) / float64(p.Total))
	}
	switch e.State {
	case session.Connecting:
		r.title.SetText(rowTitle(append(head, w.T("state.connecting"))...))
	case session.Sending:
		if e.Path != peer.PathUnknown {
			head = append(head, pathWords(w, e.Path))
		}
		if e.Stalled != nil {
			r.title.SetText(rowTitle(append(head, w.T("state.stalled"))...))
			r.detail.SetText(stallWords(w, *e.Stalled))
			return
		}
		r.title.SetText(rowTitle(append(head, w.T("state.sending"))...))
		r.detail.SetText(w.T("send.row.progress", M{"Done": w.Bytes(p.Done), "Total": w.Bytes(p.Total), "Speed": speed(w, p), "File": p.File}))
	case session.Done:
		r.title.SetText(rowTitle(append(head, w.T("state.done"))...))
		r.bar.SetValue(1)
		r.detail.SetText(w.T("send.row.done", M{"Size": w.Bytes(p.Total), "Elapsed": w.Duration(p.Elapsed), "Rate": w.Rate(p.Rate)}))
		r.stop.Hide()
	case session.Failed:
		r.title.SetText(rowTitle(append(head, w.T("state.failed"))...))
		r.detail.SetText(words(w, e.Err))
		r.stop.Hide()
	}
}
