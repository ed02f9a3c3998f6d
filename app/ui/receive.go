package ui

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// recvView is the Receive tab: "Send to this computer" (inboxView) and,
// below it, a pasted share link opened, its offer shown and the download
// followed.
type recvView struct {
	u     *UI
	inbox *inboxView

	entry      *widget.Entry
	connectBtn *widget.Button
	status     *widget.Label
	folder     *widget.Label

	offer     *widget.Label // manifest summary
	text      *fyne.Container
	message   *messageBox // the offer's text, if any
	code      *widget.Label
	acceptBtn *widget.Button
	declineB  *widget.Button
	decision  *fyne.Container

	bar       *widget.ProgressBar
	fileLabel *widget.Label
	openBtn   *widget.Button
	scroll    *container.Scroll
	content   fyne.CanvasObject

	wg      sync.WaitGroup // the goroutine that runs a receive
	mu      sync.Mutex
	cancelF context.CancelFunc
	answer  chan bool
	dir     string
	saved   string // folder of the last completed receive
	// offered and peerCode are the running receive's offer, once it
	// came, and its verification code, for the history; UI thread only.
	offered  *transfer.Manifest
	peerCode string
}

func newRecvView(u *UI) *recvView {
	w := u.w
	v := &recvView{u: u, inbox: newInboxView(u), text: container.NewVBox()}
	v.entry = widget.NewEntry()
	v.entry.SetPlaceHolder(w.T("receive.paste"))
	v.entry.OnSubmitted = func(string) { v.connect() }
	v.connectBtn = widget.NewButtonWithIcon(w.T("receive.connect"), theme.LoginIcon(), v.connect)
	v.connectBtn.Importance = widget.HighImportance
	v.status = widget.NewLabel("")
	v.status.Wrapping = fyne.TextWrapWord
	v.folder = widget.NewLabel(w.T("receive.saving-to", M{"Dir": u.settings.downloads()}))
	change := widget.NewButton(w.T("common.change"), func() { u.tabs.Select(u.settingsTab) })

	v.offer = widget.NewLabel("")
	v.offer.Wrapping = fyne.TextWrapWord
	v.code = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.acceptBtn = widget.NewButtonWithIcon(w.T("common.accept"), theme.ConfirmIcon(), func() { v.decide(true) })
	v.acceptBtn.Importance = widget.HighImportance
	v.declineB = widget.NewButtonWithIcon(w.T("common.decline"), theme.CancelIcon(), func() { v.decide(false) })
	v.decision = container.NewHBox(v.acceptBtn, v.declineB)
	v.decision.Hide()

	v.bar = widget.NewProgressBar()
	v.bar.Hide()
	v.fileLabel = widget.NewLabel("")
	v.openBtn = widget.NewButtonWithIcon(w.T("common.open-folder"), theme.FolderOpenIcon(), v.openFolder)
	v.openBtn.Hide()

	v.scroll = container.NewVScroll(container.NewVBox(
		v.inbox.content,
		card(w.T("receive.card.title"), w.T("receive.card.text"), container.NewVBox(
			container.NewBorder(nil, nil, nil, v.connectBtn, v.entry),
			container.NewBorder(nil, nil, nil, change, v.folder),
			v.status, v.code, v.decision, v.bar, v.fileLabel, container.NewHBox(v.openBtn), v.text, v.offer)),
	))
	v.content = v.scroll
	return v
}

func (v *recvView) folderChanged(dir string) {
	v.folder.SetText(v.u.w.T("receive.saving-to", M{"Dir": dir}))
	v.inbox.start() // the receive link saves there from now on
}

func (v *recvView) busy() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cancelF != nil
}

// cancel stops a receive in progress.
func (v *recvView) cancel() {
	v.mu.Lock()
	c := v.cancelF
	v.mu.Unlock()
	if c != nil {
		c()
	}
}

// connect opens the link in the entry.
func (v *recvView) connect() {
	if v.busy() {
		return
	}
	w := v.u.w
	link, err := wire.ParseLink(v.entry.Text)
	if err != nil {
		v.u.showError(err)
		return
	}
	if link.Kind == wire.ReceiveLink {
		v.u.showProblem(w.T("receive.wrong-kind"))
		return
	}
	dir := v.u.settings.downloads()
	ctx, cancel := context.WithCancel(context.Background())
	v.mu.Lock()
	v.cancelF, v.dir, v.answer = cancel, dir, make(chan bool, 1)
	answer := v.answer
	v.mu.Unlock()
	v.connectBtn.Disable()
	v.entry.Disable()
	v.openBtn.Hide()
	v.offer.SetText("")
	v.offered, v.peerCode = nil, ""
	v.text.Objects, v.message = nil, nil
	v.text.Refresh()
	v.code.SetText("")
	v.bar.SetValue(0)
	v.bar.Hide()
	v.fileLabel.SetText("")
	v.status.SetText(w.T("receive.connecting", M{"Host": link.Server.Host}))
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		res, err := session.Receive(ctx, v.u.sessionConfig(), link, dir, v.options(dir, answer))
		cancel()
		v.u.do(func() { v.finished(res, err) })
	}()
}

// options follow a receive into dir on the widgets; answer gets the
// person's Accept or Decline.
func (v *recvView) options(dir string, answer <-chan bool) session.ReceiveOptions {
	w := v.u.w
	return session.ReceiveOptions{
		OnStall: func(idle time.Duration, cause peer.StallCause) {
			v.u.do(func() {
				v.status.SetText(stallWords(w, session.Stall{Idle: idle, Cause: cause}))
			})
		},
		OnConnected: func(code string, path peer.Path) {
			v.u.do(func() {
				v.peerCode = code
				v.code.SetText(w.T("receive.code", M{"Code": code, "Path": pathWords(w, path)}))
				v.status.SetText(w.T("receive.connected"))
			})
		},
		ReceiveOptions: transfer.ReceiveOptions{
			Confirm: func(ctx context.Context, m transfer.Manifest) error {
				v.u.do(func() {
					v.offered = &m
					if len(m.Entries) > 0 {
						v.offer.SetText(offerText(w, m))
					}
					if m.Text != "" {
						v.message = newMessageBox(v.u, m.Text)
						v.text.Objects = []fyne.CanvasObject{v.message.card}
						v.text.Refresh()
					}
					v.status.SetText(w.T("receive.offered", M{"What": offerSummary(w, m), "Dir": dir}))
					v.decision.Show()
					// The offer is below the receive code: bring it into view.
					v.scroll.ScrollToBottom()
				})
				return waitAnswer(ctx, answer)
			},
			Progress: func(p transfer.Progress) {
				v.u.do(func() {
					v.bar.Show()
					if p.Total > 0 {
						v.bar.SetValue(float64(p.Done) / float64(p.Total))
					}
					v.fileLabel.SetText(w.T("receive.file", M{"File": p.File, "Done": w.Bytes(p.FileDone), "Total": w.Bytes(p.FileSize), "Speed": speed(w, p)}))
					v.status.SetText(w.T("receive.progress", M{"Done": w.Bytes(p.Done), "Total": w.Bytes(p.Total)}))
				})
			},
		},
	}
}

func (v *recvView) decide(accept bool) {
	v.decision.Hide()
	v.mu.Lock()
	answer := v.answer
	v.mu.Unlock()
	if answer != nil {
		answer <- accept
	}
	if accept {
		v.status.SetText(v.u.w.T("common.starting"))
	}
}

func (v *recvView) finished(res *transfer.Result, err error) {
	v.mu.Lock()
	v.cancelF, v.answer = nil, nil
	dir := v.dir
	v.mu.Unlock()
	v.decision.Hide()
	v.connectBtn.Enable()
	v.entry.Enable()
	if v.offered != nil {
		rec := transferRecord(history.Received, history.ViaLink, *v.offered, v.peerCode, "", err)
		rec.Folder = dir
		v.u.history.add(rec)
	}
	w := v.u.w
	switch {
	case errors.Is(err, transfer.ErrDeclined):
		v.status.SetText(w.T("receive.declined"))
	case err != nil:
		msg := w.T("receive.failed", M{"Err": words(w, err)})
		var partial *transfer.PartialError
		if errors.As(err, &partial) {
			msg += "\n" + w.T("receive.failed.kept", M{"Size": w.Bytes(partial.Kept)})
		}
		v.status.SetText(msg)
		v.u.showError(err)
		v.u.notify(w.T("notify.receive-failed.title"), words(w, err))
	default:
		v.bar.SetValue(1)
		v.fileLabel.SetText("")
		done := w.T("receive.done", M{"What": offerSummary(w, res.Manifest), "Dir": dir})
		if len(res.Manifest.Entries) == 0 {
			done = w.T("receive.done.message")
		}
		if res.Resumed > 0 {
			done += " " + w.T("receive.resumed", M{"Size": w.Bytes(res.Resumed)})
		}
		v.status.SetText(done)
		v.saved = dir
		v.openBtn.Show()
		v.u.notify(w.T("notify.received.title"), w.T("notify.received.size", M{"Size": w.Bytes(res.Manifest.Total())}))
	}
}

func (v *recvView) openFolder() {
	if v.saved == "" {
		return
	}
	if err := v.u.app.OpenURL(&url.URL{Scheme: "file", Path: v.saved}); err != nil {
		v.u.showError(err)
	}
}

// waitAnswer waits for the person's Accept (true) or Decline, or for ctx
// to end (the offer was withdrawn, or the window closed).
func waitAnswer(ctx context.Context, answer <-chan bool) error {
	select {
	case ok := <-answer:
		if ok {
			return nil
		}
		return errors.New("declined")
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// offerText lists a manifest for people: files with sizes, then the total.
func offerText(w *Words, m transfer.Manifest) string {
	var b strings.Builder
	shown := 0
	for _, e := range m.Entries {
		if e.Dir {
			continue
		}
		if shown == 200 {
			b.WriteString(w.N("offer.more", m.Files()-shown) + "\n")
			break
		}
		b.WriteString(w.T("offer.file", M{"Path": e.Path, "Size": w.Bytes(e.Size)}) + "\n")
		shown++
	}
	return b.String() + "\n" + w.N("offer.total", m.Files(), M{"Size": w.Bytes(m.Total())})
}
