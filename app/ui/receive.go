package ui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/human"
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
}

func newRecvView(u *UI) *recvView {
	v := &recvView{u: u, inbox: newInboxView(u), text: container.NewVBox()}
	v.entry = widget.NewEntry()
	v.entry.SetPlaceHolder("Paste a link here (Ctrl+V), then press Enter")
	v.entry.OnSubmitted = func(string) { v.connect() }
	v.connectBtn = widget.NewButtonWithIcon("Connect", theme.LoginIcon(), v.connect)
	v.connectBtn.Importance = widget.HighImportance
	v.status = widget.NewLabel("")
	v.status.Wrapping = fyne.TextWrapWord
	v.folder = widget.NewLabel("Saving to " + u.settings.downloads())
	change := widget.NewButton("Change…", func() { u.tabs.SelectIndex(2) })

	v.offer = widget.NewLabel("")
	v.offer.Wrapping = fyne.TextWrapWord
	v.code = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.acceptBtn = widget.NewButtonWithIcon("Accept", theme.ConfirmIcon(), func() { v.decide(true) })
	v.acceptBtn.Importance = widget.HighImportance
	v.declineB = widget.NewButtonWithIcon("Decline", theme.CancelIcon(), func() { v.decide(false) })
	v.decision = container.NewHBox(v.acceptBtn, v.declineB)
	v.decision.Hide()

	v.bar = widget.NewProgressBar()
	v.bar.Hide()
	v.fileLabel = widget.NewLabel("")
	v.openBtn = widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), v.openFolder)
	v.openBtn.Hide()

	v.scroll = container.NewVScroll(container.NewVBox(
		v.inbox.content,
		widget.NewCard("Receive from a link", "Paste a share link another device shows.", container.NewVBox(
			container.NewBorder(nil, nil, nil, v.connectBtn, v.entry),
			container.NewBorder(nil, nil, nil, change, v.folder),
			v.status, v.code, v.decision, v.bar, v.fileLabel, container.NewHBox(v.openBtn), v.text, v.offer)),
	))
	v.content = v.scroll
	return v
}

func (v *recvView) folderChanged(dir string) {
	v.folder.SetText("Saving to " + dir)
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
	link, err := wire.ParseLink(v.entry.Text)
	if err != nil {
		v.u.showError(err)
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
	v.text.Objects = nil
	v.text.Refresh()
	v.code.SetText("")
	v.bar.SetValue(0)
	v.bar.Hide()
	v.fileLabel.SetText("")
	v.status.SetText("Connecting to " + link.Server.Host + "…")

	opts := session.ReceiveOptions{
		OnStall: func(idle time.Duration, cause peer.StallCause) {
			v.u.do(func() {
				v.status.SetText(stallWords(session.Stall{Idle: idle, Cause: cause}))
			})
		},
		OnConnected: func(code string, path peer.Path) {
			v.u.do(func() {
				v.code.SetText("Verification code: " + code + " (the sender shows the same) · " + pathWords(path))
				v.status.SetText("Connected, waiting for the list of files…")
			})
		},
		ReceiveOptions: transfer.ReceiveOptions{
			Confirm: func(ctx context.Context, m transfer.Manifest) error {
				v.u.do(func() {
					if len(m.Entries) > 0 {
						v.offer.SetText(offerText(m))
					}
					if m.Text != "" {
						v.text.Objects = []fyne.CanvasObject{textBox(v.u, m.Text)}
						v.text.Refresh()
					}
					v.status.SetText(fmt.Sprintf("Offered: %s. Save to %s?", offerSummary(m), dir))
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
					v.fileLabel.SetText(fmt.Sprintf("%s · %s of %s · %s", p.File, human.Bytes(p.FileDone), human.Bytes(p.FileSize), speed(p)))
					v.status.SetText(fmt.Sprintf("Receiving: %s of %s", human.Bytes(p.Done), human.Bytes(p.Total)))
				})
			},
		},
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		res, err := session.Receive(ctx, v.u.sessionConfig(), link, dir, opts)
		cancel()
		v.u.do(func() { v.finished(res, err) })
	}()
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
		v.status.SetText("Starting…")
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
	switch {
	case errors.Is(err, transfer.ErrDeclined):
		v.status.SetText("Declined. Nothing was saved.")
	case err != nil:
		msg := "Not received: " + words(err)
		var partial *transfer.PartialError
		if errors.As(err, &partial) {
			msg += fmt.Sprintf("\nThe %s that arrived are kept: connect with the same link again to resume.", human.Bytes(partial.Kept))
		}
		v.status.SetText(msg)
		v.u.showError(err)
		v.u.notify("Receiving failed", words(err))
	default:
		v.bar.SetValue(1)
		v.fileLabel.SetText("")
		done := fmt.Sprintf("Received %s, every file verified, in %s.", offerSummary(res.Manifest), dir)
		if len(res.Manifest.Entries) == 0 {
			done = "Received the message."
		}
		if res.Resumed > 0 {
			done += fmt.Sprintf(" Resumed: %s had arrived before.", human.Bytes(res.Resumed))
		}
		v.status.SetText(done)
		v.saved = dir
		v.openBtn.Show()
		v.u.notify("Files received", fmt.Sprintf("%s, every file verified.", human.Bytes(res.Manifest.Total())))
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
func offerText(m transfer.Manifest) string {
	s := ""
	shown := 0
	for _, e := range m.Entries {
		if e.Dir {
			continue
		}
		if shown == 200 {
			s += fmt.Sprintf("… and %d more\n", m.Files()-shown)
			break
		}
		s += fmt.Sprintf("%s — %s\n", e.Path, human.Bytes(e.Size))
		shown++
	}
	return s + fmt.Sprintf("\nTotal: %d file%s, %s", m.Files(), plural(m.Files()), human.Bytes(m.Total()))
}
