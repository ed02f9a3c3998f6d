package ui

import (
	"net/url"
	"regexp"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

var linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// messageBox shows a received text as text (never markup), with a Copy
// button and a button to open each web link in it (the first three).
type messageBox struct {
	card  *widget.Card
	copy  *widget.Button
	open  []*widget.Button
	links []*url.URL // what each open button opens
}

func newMessageBox(u *UI, text string) *messageBox {
	w := u.w
	shown := text
	if r := []rune(shown); len(r) > 4000 {
		shown = string(r[:4000]) + "…" // the whole text is what Copy copies
	}
	l := widget.NewLabel(shown)
	l.Wrapping = fyne.TextWrapWord
	l.Selectable = true
	b := &messageBox{copy: widget.NewButtonWithIcon(w.T("message.copy"), theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(text)
	})}
	buttons := container.NewHBox(b.copy)
	for _, m := range linkRE.FindAllString(text, 3) {
		link, err := url.Parse(trimLink(m))
		if err != nil || link.Host == "" {
			continue
		}
		// The button names the site, so nobody opens a link blind.
		open := widget.NewButtonWithIcon(w.T("message.open", M{"Host": link.Host}), theme.ComputerIcon(), func() {
			if err := u.app.OpenURL(link); err != nil {
				u.showError(err)
			}
		})
		b.open, b.links = append(b.open, open), append(b.links, link)
		buttons.Add(open)
	}
	b.card = widget.NewCard("", w.T("message.title"), container.NewVBox(l, buttons))
	return b
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
