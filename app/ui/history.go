package ui

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/history"
	"github.com/epicshare/epicshare/internal/transfer"
)

// historyView lists every transfer the window made, newest first, with
// what can be done again: open the folder a transfer went into, share the
// same files again, copy a text. The store is package history's; a
// history that cannot be read or written is said in the view and logged,
// and never stops a transfer.
type historyView struct {
	u       *UI
	store   *history.Store // nil when it could not be opened
	openErr error

	records []history.Record
	list    *widget.List
	empty   *widget.Label
	clear   *widget.Button
	problem *widget.Label
	content fyne.CanvasObject
}

func newHistoryView(u *UI) *historyView {
	v := &historyView{u: u}
	dir := u.cfg.HistoryDir
	if dir == "" {
		dir = u.app.Storage().RootURI().Path()
	}
	v.store, v.openErr = history.Open(dir, history.Options{Logger: u.cfg.Logger})
	if v.openErr != nil {
		u.cfg.Logger.Warn("history unavailable", "dir", dir, "err", v.openErr)
	}
	v.list = widget.NewList(func() int { return len(v.records) }, v.newRow, v.updateRow)
	v.empty = widget.NewLabelWithStyle(u.w.T("history.empty"), fyne.TextAlignCenter, fyne.TextStyle{})
	v.empty.Wrapping = fyne.TextWrapWord
	v.problem = reachLabel()
	v.clear = widget.NewButtonWithIcon(u.w.T("history.clear"), theme.DeleteIcon(), v.confirmClear)
	top := container.NewBorder(nil, nil, nil, v.clear, v.problem)
	v.content = container.NewBorder(top, nil, nil, nil, container.NewStack(v.list, container.NewCenter(v.empty)))
	v.reload()
	return v
}

// add keeps a finished transfer; it is called on the UI thread.
func (v *historyView) add(r history.Record) {
	if v.store == nil {
		return
	}
	if err := v.store.Add(r); err != nil {
		v.u.cfg.Logger.Warn("history: could not keep a transfer", "err", err)
		v.showProblem(err)
		return
	}
	v.reload()
}

// close lets the store go; the window keeps no more.
func (v *historyView) close() {
	if v.store != nil {
		v.store.Close()
	}
}

// reload reads the store again.
func (v *historyView) reload() {
	if v.store == nil {
		v.records = nil
		v.showProblem(v.openErr)
	} else if recs, err := v.store.List(); err != nil {
		v.u.cfg.Logger.Warn("history: could not read", "err", err)
		v.showProblem(err)
	} else {
		v.records = recs
	}
	if len(v.records) == 0 {
		v.empty.Show()
		v.clear.Disable()
	} else {
		v.empty.Hide()
		v.clear.Enable()
	}
	v.list.Refresh()
}

func (v *historyView) showProblem(err error) {
	if err == nil {
		v.problem.Hide()
		return
	}
	v.problem.SetText(v.u.w.T("history.unavailable", M{"Err": err.Error()}))
	v.problem.Show()
}

func (v *historyView) confirmClear() {
	dialog.ShowConfirm(v.u.w.T("history.clear.title"), v.u.w.T("history.clear.text"), func(ok bool) {
		if ok {
			v.clearNow()
		}
	}, v.u.win)
}

// clearNow forgets every transfer.
func (v *historyView) clearNow() {
	if v.store == nil {
		return
	}
	if err := v.store.Clear(); err != nil {
		v.u.showError(err)
	}
	v.reload()
}

// A row: direction icon, title and detail on the left, buttons right.
func (v *historyView) newRow() fyne.CanvasObject {
	title := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Truncation = fyne.TextTruncateEllipsis
	detail := widget.NewLabel("")
	detail.Truncation = fyne.TextTruncateEllipsis
	buttons := container.NewHBox(
		widget.NewButtonWithIcon(v.u.w.T("history.open-folder"), theme.FolderOpenIcon(), nil),
		widget.NewButtonWithIcon(v.u.w.T("history.share-again"), theme.MailSendIcon(), nil),
		widget.NewButtonWithIcon(v.u.w.T("history.copy"), theme.ContentCopyIcon(), nil),
	)
	// Centred, so that the buttons keep their height in a two-line row.
	return container.NewBorder(nil, nil, widget.NewIcon(theme.UploadIcon()), container.NewCenter(buttons),
		container.NewVBox(title, detail))
}

func (v *historyView) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	if i < 0 || i >= len(v.records) {
		return
	}
	r := v.records[i]
	row := o.(*fyne.Container)
	text := row.Objects[0].(*fyne.Container)
	icon := row.Objects[1].(*widget.Icon)
	buttons := row.Objects[2].(*fyne.Container).Objects[0].(*fyne.Container)
	text.Objects[0].(*widget.Label).SetText(v.title(r))
	text.Objects[1].(*widget.Label).SetText(v.detail(r))
	if r.Direction == history.Sent {
		icon.SetResource(theme.UploadIcon())
	} else {
		icon.SetResource(theme.DownloadIcon())
	}
	open, again, copyBtn := buttons.Objects[0].(*widget.Button), buttons.Objects[1].(*widget.Button), buttons.Objects[2].(*widget.Button)
	show(open, r.Direction == history.Received && r.Folder != "" && r.Kind == history.KindFiles, func() { v.openFolder(r) })
	show(again, r.Direction == history.Sent && (len(r.Sources) > 0 || (r.Text != "" && !r.TextCut)), func() { v.shareAgain(r) })
	show(copyBtn, r.Text != "", func() { v.copyText(r) })
}

func show(b *widget.Button, on bool, tapped func()) {
	b.OnTapped = tapped
	if on {
		b.Show()
	} else {
		b.Hide()
	}
}

// title names what moved: the first name and how many more, or the text.
func (v *historyView) title(r history.Record) string {
	w := v.u.w
	switch {
	case len(r.Names) == 0 && r.Text != "":
		return w.T("history.text", M{"Text": firstLine(r.Text, 80)})
	case len(r.Names) == 0:
		return w.T("history.nothing")
	case len(r.Names)+r.MoreNames == 1:
		return r.Names[0]
	}
	return w.N("history.names", len(r.Names)-1+r.MoreNames, M{"First": r.Names[0]})
}

// detail says when, with whom, how much and how it ended.
func (v *historyView) detail(r history.Record) string {
	w := v.u.w
	who := r.Peer.Device
	if who == "" && r.Peer.Code != "" {
		who = w.T("history.code", M{"Code": r.Peer.Code})
	}
	if who == "" {
		who = v.via(r.Via)
	}
	with := w.T("history.sent-to", M{"Who": who})
	if r.Direction == history.Received {
		with = w.T("history.received-from", M{"Who": who})
	}
	parts := []string{w.Time(r.Time), with}
	if r.Kind == history.KindFiles {
		parts = append(parts, w.N("history.files", r.Files, M{"Size": w.Bytes(r.Size)}))
	}
	parts = append(parts, v.result(r))
	return strings.Join(parts, " · ")
}

// via names the way two sides met, for a peer with no name or code.
func (v *historyView) via(via history.Via) string {
	w := v.u.w
	switch via {
	case history.ViaLink:
		return w.T("history.via.link")
	case history.ViaBrowser:
		return w.T("history.via.browser")
	case history.ViaNearby:
		return w.T("history.via.nearby")
	case history.ViaInbox:
		return w.T("history.via.inbox")
	}
	return w.T("history.via.unknown")
}

// result words how the transfer ended, and why.
func (v *historyView) result(r history.Record) string {
	w := v.u.w
	why := M{"Why": v.reason(r.Reason)}
	switch r.Result {
	case history.ResultVerified:
		return w.T("history.result.verified")
	case history.ResultDeclined:
		return w.T("history.result.declined")
	case history.ResultCancelled:
		return w.T("history.result.cancelled", why)
	case history.ResultPartial:
		return w.T("history.result.partial", why)
	}
	return w.T("history.result.failed", why)
}

// reason words why a transfer did not verify.
func (v *historyView) reason(r history.Reason) string {
	w := v.u.w
	switch r {
	case history.ReasonCancelled:
		return w.T("reason.cancelled")
	case history.ReasonPeerCancelled:
		return w.T("reason.peer-cancelled")
	case history.ReasonDeclined:
		return w.T("reason.declined")
	case history.ReasonDiskFull:
		return w.T("reason.disk-full")
	case history.ReasonPermission:
		return w.T("reason.permission-denied")
	case history.ReasonHashMismatch:
		return w.T("reason.hash-mismatch")
	case history.ReasonSourceChanged:
		return w.T("reason.source-changed")
	case history.ReasonConnLost:
		return w.T("reason.connection-lost")
	case history.ReasonUnreachable:
		return w.T("reason.unreachable")
	case history.ReasonConnectFailed:
		return w.T("reason.connect-failed")
	case history.ReasonBadLink:
		return w.T("reason.bad-link")
	case history.ReasonBusy:
		return w.T("reason.busy")
	case history.ReasonWrongDevice:
		return w.T("reason.wrong-device")
	case history.ReasonTampered:
		return w.T("reason.tampered")
	case history.ReasonProtocol:
		return w.T("reason.protocol")
	}
	return w.T("reason.other")
}

// firstLine is the text's first line, cut to max runes.
func firstLine(s string, max int) string {
	s, _, cut := strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	} else if cut {
		return s + " …"
	}
	return s
}

func (v *historyView) openFolder(r history.Record) {
	if fi, err := os.Stat(r.Folder); err != nil || !fi.IsDir() {
		v.u.showMessage(v.u.w.T("history.open-folder"), v.u.w.T("history.folder-gone", M{"Folder": r.Folder}))
		return
	}
	if err := v.u.app.OpenURL(&url.URL{Scheme: "file", Path: r.Folder}); err != nil {
		v.u.showError(err)
	}
}

// shareAgain puts the same files (and text) on the Send tab and shares
// them, if they are all still there.
func (v *historyView) shareAgain(r history.Record) {
	w := v.u.w
	if v.u.send.active() {
		v.u.showMessage(w.T("history.share-again"), w.T("history.stop-first"))
		return
	}
	var gone []string
	for _, p := range r.Sources {
		if _, err := os.Stat(p); err != nil {
			gone = append(gone, filepath.Base(p))
		}
	}
	if len(gone) > 0 {
		v.u.showMessage(w.T("history.share-again"), w.N("history.sources-gone", len(gone), M{"Names": strings.Join(gone, ", ")}))
		return
	}
	uris := make([]fyne.URI, len(r.Sources))
	for i, p := range r.Sources {
		uris[i] = storage.NewFileURI(p)
	}
	v.u.send.clearItems()
	v.u.send.message.SetText(r.Text)
	v.u.tabs.SelectIndex(0)
	v.u.send.add(uris)
	if len(v.u.send.items) == len(uris) {
		v.u.send.start()
	}
}

func (v *historyView) copyText(r history.Record) {
	v.u.app.Clipboard().SetContent(r.Text)
	msg := v.u.w.T("history.copied")
	if r.TextCut {
		msg = v.u.w.T("history.copied-cut")
	}
	v.u.showMessage(v.u.w.T("history.copy"), msg)
}

// clearItems empties the Send tab's list (not while sharing).
func (v *sendView) clearItems() {
	if v.active() {
		return
	}
	v.items = nil
	v.refresh()
}

// showMessage shows a short note in a dialog.
func (u *UI) showMessage(title, text string) {
	dialog.ShowInformation(title, text, u.win)
}

// transferRecord is the history record of a transfer of manifest m that
// ended with err (nil: verified), with the peer as the connection knew it.
func transferRecord(dir history.Direction, via history.Via, m transfer.Manifest, code, device string, err error) history.Record {
	r := history.Record{
		Direction: dir, Via: via, Kind: history.KindFiles,
		Peer:  history.Peer{Code: code, Device: device},
		Names: topNames(m), Size: m.Total(), Files: m.Files(), Text: m.Text,
		Result: history.ResultOf(err), Reason: history.ReasonOf(err),
	}
	if len(m.Entries) == 0 && m.Text != "" {
		r.Kind = history.KindText
	}
	return r
}

// topNames are the names of the items the sender picked, in order.
func topNames(m transfer.Manifest) []string {
	var names []string
	seen := map[string]bool{}
	for _, e := range m.Entries {
		top, _, _ := strings.Cut(e.Path, "/")
		if !seen[top] {
			seen[top] = true
			names = append(names, top)
		}
	}
	return names
}
