package ui

import (
	"context"
	"errors"
	"fmt"
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

	"github.com/epicshare/epicshare/internal/human"
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

	link     *widget.Label
	reach    *widget.Label // says when the link works on this network only
	qr       *canvas.Image
	status   *widget.Label
	offline  *widget.Label // shown while the share is reconnecting to the server
	rowsBox  *fyne.Container
	rowsView *container.Scroll
	rows     map[string]*receiverRow
	sharing  fyne.CanvasObject
	content  *fyne.Container
	linkText string

	mu    sync.Mutex
	share *session.Sharing
	stopF context.CancelFunc
	wg    sync.WaitGroup // the goroutine that runs a share
}

func newSendView(u *UI) *sendView {
	v := &sendView{u: u, rows: map[string]*receiverRow{}}
	v.list = widget.NewList(
		func() int { return len(v.items) },
		func() fyne.CanvasObject {
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
			right.Objects[0].(*widget.Label).SetText(human.Bytes(it.size))
			right.Objects[1].(*widget.Button).OnTapped = func() { v.remove(i) }
		},
	)
	v.total = widget.NewLabel("")
	v.message = widget.NewMultiLineEntry()
	v.message.SetPlaceHolder("Send text (optional): a note, an address, a link…")
	v.message.SetMinRowsVisible(2)
	v.message.Wrapping = fyne.TextWrapWord
	v.message.OnChanged = func(string) { v.refresh() }
	v.message.Validator = func(s string) error {
		if len(s) > transfer.MaxText {
			return fmt.Errorf("at most %s of text", human.Bytes(transfer.MaxText))
		}
		return nil
	}
	v.shareBtn = widget.NewButtonWithIcon("Share", theme.MailSendIcon(), v.start)
	v.shareBtn.Importance = widget.HighImportance
	addFiles := widget.NewButtonWithIcon("Add files…", theme.FileIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				return
			}
			r.Close()
			v.add([]fyne.URI{r.URI()})
		}, u.win)
	})
	addFolder := widget.NewButtonWithIcon("Add folder…", theme.FolderIcon(), func() {
		dialog.ShowFolderOpen(func(l fyne.ListableURI, err error) {
			if err != nil || l == nil {
				return
			}
			v.add([]fyne.URI{l})
		}, u.win)
	})
	dropIcon := widget.NewIcon(theme.UploadIcon())
	v.empty = container.NewCenter(container.NewVBox(
		container.NewGridWrap(fyne.NewSize(96, 96), dropIcon),
		widget.NewLabelWithStyle("Drop files or folders here", fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
		widget.NewLabelWithStyle("They go straight to the other device: no upload, no account, no size limit.", fyne.TextAlignCenter, fyne.TextStyle{}),
	))
	v.picking = container.NewBorder(
		container.NewCenter(container.NewHBox(addFiles, addFolder)),
		container.NewVBox(u.nearby.content, v.message, container.NewBorder(nil, nil, v.total, v.shareBtn)),
		nil, nil, container.NewStack(v.list, v.empty))

	// The sharing screen.
	v.link = widget.NewLabel("")
	v.link.Wrapping = fyne.TextWrapBreak
	v.link.Selectable = true
	v.reach = reachLabel()
	v.qr = canvas.NewImageFromImage(nil)
	v.qr.FillMode = canvas.ImageFillContain
	v.qr.ScaleMode = canvas.ImageScalePixels
	v.qr.SetMinSize(fyne.NewSize(300, 300))
	copyBtn := widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(v.linkText)
	})
	stopBtn := widget.NewButtonWithIcon("Stop sharing", theme.MediaStopIcon(), v.stop)
	v.status = widget.NewLabel("Waiting for someone to open the link…")
	v.offline = widget.NewLabel("")
	v.offline.Importance = widget.WarningImportance
	v.offline.Wrapping = fyne.TextWrapWord
	v.offline.Hide()
	v.rowsBox = container.NewVBox()
	v.rowsView = container.NewVScroll(v.rowsBox)
	v.sharing = container.NewBorder(
		container.NewHBox(v.qr, container.NewVBox(
			widget.NewLabelWithStyle("Scan the code or open the link on the other device:", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			v.link, v.reach, container.NewHBox(copyBtn, stopBtn), v.status, v.offline)),
		nil, nil, nil,
		v.rowsView)

	v.content = container.NewStack(v.picking)
	v.refresh()
	return v
}

// add puts dropped or picked items on the list, refusing unreadable ones.
func (v *sendView) add(uris []fyne.URI) {
	if v.active() {
		dialog.ShowInformation("Sharing", "Stop sharing to change the files.", v.u.win)
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
			v.u.showError(fmt.Errorf("%s can't be shared: %w", filepath.Base(p), err))
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
	text := v.message.Text
	switch {
	case len(v.items) == 0 && text == "":
		v.total.SetText("Nothing picked yet")
		v.empty.Show()
	case len(v.items) == 0:
		v.total.SetText("A message")
		v.empty.Show()
	default:
		s := fmt.Sprintf("%d item%s, %s", len(v.items), plural(len(v.items)), human.Bytes(total))
		if text != "" {
			s += " and a message"
		}
		v.total.SetText(s)
		v.empty.Hide()
	}
	if (len(v.items) == 0 && text == "") || len(text) > transfer.MaxText {
		v.shareBtn.Disable()
	} else {
		v.shareBtn.Enable()
	}
	v.list.Refresh()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// start shares the picked items.
// offer is what is picked: the files and folders, and the message;
// nil if there is nothing.
func (v *sendView) offer() (*transfer.Offer, error) {
	if len(v.items) == 0 && strings.TrimSpace(v.message.Text) == "" {
		return nil, nil
	}
	paths := make([]string, len(v.items))
	for i, it := range v.items {
		paths[i] = it.path
	}
	return transfer.NewTextOffer(v.message.Text, paths...)
}

func (v *sendView) start() {
	offer, err := v.offer()
	if err == nil && offer == nil {
		err = errors.New("nothing to share: add files or folders, or write a message")
	}
	if err != nil {
		v.u.showError(err)
		return
	}
	v.shareBtn.Disable()
	v.message.Disable()
	v.total.SetText("Starting…")
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
		v.mu.Unlock()
		link := s.Link().String()
		img, err := qrImage(link)
		v.u.do(func() {
			v.linkText = link
			v.link.SetText(link)
			showReach(v.reach, s.Link())
			if err == nil {
				v.qr.Image = img
				v.qr.Refresh()
			}
			v.status.SetText("Waiting for someone to open the link…")
			v.content.Objects = []fyne.CanvasObject{v.sharing}
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
		r := v.rows[e.Peer]
		if r == nil {
			if e.State == session.Failed && e.Progress.Total == 0 && e.Code == "" {
				// Refused before connecting (a wrong secret): one line.
				v.status.SetText("Refused a device: " + words(e.Err))
				return
			}
			r = newReceiverRow(len(v.rows)+1, func() {
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
			v.u.notify("Files sent", fmt.Sprintf("Receiver %d got everything, verified.", r.n))
		case session.Failed:
			v.u.notify("Sending failed", words(e.Err))
		}
	})
}

// server shows whether the share is connected to the signaling server;
// called from a session goroutine.
func (v *sendView) server(st session.ServerState) {
	v.u.do(func() {
		if st.Connected {
			v.offline.Hide()
			return
		}
		v.offline.SetText("Reconnecting to the signaling server… Transfers under way go on; the link works again once it is back.")
		v.offline.Show()
	})
}

// speed says how fast and how long: "12.5 MB/s · 0:42 left".
func speed(p transfer.Progress) string {
	if p.Rate <= 0 {
		return "measuring speed…"
	}
	return fmt.Sprintf("%s/s · %s left", human.Bytes(int64(p.Rate)), human.Duration(p.ETA()))
}

// summary counts receivers by state for the status line.
func (v *sendView) summary() string {
	var active, done, failed int
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
	s := fmt.Sprintf("%d receiving, %d done", active, done)
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	return s + ". The link stays open for more."
}

// receiverRow is one receiver's line on the sharing screen.
type receiverRow struct {
	n      int
	state  session.State
	title  *widget.Label
	bar    *widget.ProgressBar
	detail *widget.Label
	stop   *widget.Button
	box    *fyne.Container
}

func newReceiverRow(n int, stop func()) *receiverRow {
	r := &receiverRow{n: n, title: widget.NewLabel(""), bar: widget.NewProgressBar(), detail: widget.NewLabel("")}
	r.stop = widget.NewButtonWithIcon("Stop", theme.CancelIcon(), stop)
	r.box = container.NewVBox(container.NewBorder(nil, nil, nil, r.stop, r.title), r.bar, r.detail, widget.NewSeparator())
	return r
}

func (r *receiverRow) update(e session.Event) {
	r.state = e.State
	name := fmt.Sprintf("Receiver %d", r.n)
	if e.Code != "" {
		name += " · code " + e.Code
	}
	p := e.Progress
	if p.Total > 0 {
		r.bar.SetValue(float64(p.Done) / float64(p.Total))
	}
	switch e.State {
	case session.Connecting:
		r.title.SetText(name + " · connecting")
	case session.Sending:
		if e.Path != peer.PathUnknown {
			name += " · " + pathWords(e.Path)
		}
		if e.Stalled != nil {
			r.title.SetText(name + " · stalled")
			r.detail.SetText(stallWords(*e.Stalled))
			return
		}
		r.title.SetText(name + " · sending")
		r.detail.SetText(fmt.Sprintf("%s of %s · %s · %s", human.Bytes(p.Done), human.Bytes(p.Total), speed(p), p.File))
	case session.Done:
		r.title.SetText(name + " · done")
		r.bar.SetValue(1)
		r.detail.SetText(fmt.Sprintf("%s verified in %s (%s/s)", human.Bytes(p.Total), human.Duration(p.Elapsed), human.Bytes(int64(p.Rate))))
		r.stop.Hide()
	case session.Failed:
		r.title.SetText(name + " · failed")
		r.detail.SetText(words(e.Err))
		r.stop.Hide()
	}
}
