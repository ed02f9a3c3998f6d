package history

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Direction says which way a transfer went.
type Direction string

const (
	Sent     Direction = "sent"
	Received Direction = "received"
)

// Via says how the two sides met. When several fit (a browser sending
// into this device's inbox), the caller picks the most specific: nearby,
// then browser, then inbox, then link.
type Via string

const (
	// ViaUnknown: not said, or a way a newer EpicShare wrote that this
	// one does not know.
	ViaUnknown Via = ""
	ViaLink    Via = "link"    // a share link between two EpicShare apps
	ViaBrowser Via = "browser" // the browser page on the other side
	ViaNearby  Via = "nearby"  // a device picked from the nearby list
	ViaInbox   Via = "inbox"   // a receive link: this device's inbox, or another's
)

// Kind says what a transfer carried. A share of a text and files is
// KindFiles with Text set.
type Kind string

const (
	KindFiles Kind = "files"
	KindText  Kind = "text"
)

// Result says how a transfer ended.
type Result string

const (
	ResultVerified  Result = "verified"  // every file arrived and matched its hash
	ResultFailed    Result = "failed"    // it broke off; Reason says why
	ResultDeclined  Result = "declined"  // the receiver declined the offer
	ResultCancelled Result = "cancelled" // one side stopped it
	ResultPartial   Result = "partial"   // it broke off, and what arrived was kept for a resume
)

// Peer is the other side as the app knew it.
type Peer struct {
	// Code is the connection's verification code (both sides showed it).
	Code string `json:"code,omitempty"`
	// Device is the name of the device the peer proved it is; empty for
	// one that proved none (a browser).
	Device string `json:"device,omitempty"`
}

// Record is one transfer. Its fields are everything the store keeps:
// there is deliberately no field for a link, a secret or a token (see
// the package doc).
type Record struct {
	// ID is unique; Add makes one if empty.
	ID string `json:"id"`
	// Time is when the transfer ended, in UTC; Add stamps it if zero.
	Time      time.Time `json:"time"`
	Direction Direction `json:"direction"`
	Via       Via       `json:"via,omitempty"`
	Kind      Kind      `json:"kind"`
	Peer      Peer      `json:"peer"`
	// Names are the top-level names of what was offered, at most
	// MaxNames; MoreNames counts the rest.
	Names     []string `json:"names,omitempty"`
	MoreNames int      `json:"more_names,omitempty"`
	// Size is the total of the files' bytes; Files how many files.
	Size  int64 `json:"size"`
	Files int   `json:"files"`
	// Result is how it ended; Reason why, for any result but verified.
	Result Result `json:"result"`
	Reason Reason `json:"reason,omitempty"`
	// Folder, for a received transfer, is the absolute path of the
	// folder it was saved into (Open folder).
	Folder string `json:"folder,omitempty"`
	// Sources, for a sent transfer, are the absolute paths that were
	// shared (Share again). Empty when unknown or too many to keep: a
	// partial list could not share the same again.
	Sources []string `json:"sources,omitempty"`
	// Text is the text message, at most MaxText bytes; TextCut says that
	// it was longer and cut (Copy then copies only this much).
	Text    string `json:"text,omitempty"`
	TextCut bool   `json:"text_cut,omitempty"`
	// Redacted says that Sanitize removed a URL's #fragment or
	// user:password@ from a field.
	Redacted bool `json:"redacted,omitempty"`
}

// Bounds of a record, so that a line of the file is bounded too.
const (
	MaxNames   = 100      // names kept; MoreNames counts the rest
	MaxSources = 100      // source paths kept; more and none are kept
	MaxText    = 64 << 10 // bytes of a text message kept
	maxName    = 1024     // bytes of one name, device name or code
	maxPath    = 4096     // bytes of one path
	maxID      = 64
)

func (d Direction) valid() bool { return d == Sent || d == Received }
func (k Kind) valid() bool      { return k == KindFiles || k == KindText }

func (v Via) valid() bool {
	switch v {
	case ViaUnknown, ViaLink, ViaBrowser, ViaNearby, ViaInbox:
		return true
	}
	return false
}

func (r Result) valid() bool {
	switch r {
	case ResultVerified, ResultFailed, ResultDeclined, ResultCancelled, ResultPartial:
		return true
	}
	return false
}

// Sanitize returns r bounded and cleaned: UTC time, at most MaxNames
// names (the rest counted in MoreNames) and MaxText bytes of text, valid
// UTF-8, no control characters in names, URLs without #fragment or
// user:password@, Folder only on a received and Sources only on a sent
// record, only absolute paths (a path that would need changing is dropped,
// as a changed path would open the wrong place), and a Reason that agrees
// with Result. It does not touch the caller's slices.
func (r Record) Sanitize() Record {
	var red bool
	clean := func(s string, max int) string {
		s, changed := redact(cleanName(s))
		red = red || changed
		return cut(s, max)
	}
	r.Time = r.Time.Round(0).UTC()
	r.Peer.Code = clean(r.Peer.Code, maxName)
	r.Peer.Device = clean(r.Peer.Device, maxName)

	names := r.Names
	if len(names) > MaxNames {
		r.MoreNames += len(names) - MaxNames
		names = names[:MaxNames]
	}
	r.Names = nil
	for _, n := range names {
		r.Names = append(r.Names, clean(n, maxName))
	}

	if r.Direction != Received || !goodPath(r.Folder) {
		r.Folder = ""
	}
	sources := r.Sources
	r.Sources = nil
	if r.Direction == Sent && len(sources) <= MaxSources {
		for _, p := range sources {
			if !goodPath(p) {
				r.Sources = nil
				break
			}
			r.Sources = append(r.Sources, p)
		}
	}

	text, changed := redact(strings.ToValidUTF8(r.Text, "\uFFFD"))
	red = red || changed
	if len(text) > MaxText {
		text, r.TextCut = cut(text, MaxText), true
	}
	r.Text = text
	r.Redacted = r.Redacted || red

	switch {
	case r.Result == ResultVerified:
		r.Reason = ReasonNone
	case r.Reason != ReasonNone:
	case r.Result == ResultDeclined:
		r.Reason = ReasonDeclined
	case r.Result == ResultCancelled:
		r.Reason = ReasonCancelled
	default:
		r.Reason = ReasonOther
	}
	return r
}

// Validate reports, wrapping ErrInvalid, what makes r unfit to store:
// what Sanitize cannot mend (an unknown direction, kind, result or
// reason, a bad ID, a zero time, a negative count) and what it would
// have changed (a record must be stored as Sanitize leaves it).
func (r Record) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch {
	case !validID(r.ID):
		return bad("ID %q", cut(r.ID, maxID))
	case r.Time.IsZero():
		return bad("no time")
	case r.Time.Year() < 1 || r.Time.Year() > 9999:
		return bad("time in year %d", r.Time.Year()) // JSON holds years 0 to 9999 only
	case !r.Direction.valid():
		return bad("direction %q", cut(string(r.Direction), maxName))
	case !r.Via.valid():
		return bad("via %q", cut(string(r.Via), maxName))
	case !r.Kind.valid():
		return bad("kind %q", cut(string(r.Kind), maxName))
	case !r.Result.valid():
		return bad("result %q", cut(string(r.Result), maxName))
	case !r.Reason.valid():
		return bad("reason %q", cut(string(r.Reason), maxName))
	case (r.Result == ResultVerified) != (r.Reason == ReasonNone):
		return bad("result %s with reason %q", r.Result, r.Reason)
	case r.Size < 0 || r.Files < 0 || r.MoreNames < 0:
		return bad("negative size or count")
	}
	if s := r.Sanitize(); !s.equal(r) {
		return bad("not sanitized")
	}
	return nil
}

// equal compares everything Sanitize may change.
func (r Record) equal(o Record) bool {
	return r.Time.Equal(o.Time) && r.Time.Location() == o.Time.Location() &&
		r.Peer == o.Peer && slicesEqual(r.Names, o.Names) && r.MoreNames == o.MoreNames &&
		r.Folder == o.Folder && slicesEqual(r.Sources, o.Sources) &&
		r.Text == o.Text && r.TextCut == o.TextCut && r.Redacted == o.Redacted && r.Reason == o.Reason
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// goodPath: an absolute path that the file can carry unchanged and that
// holds nothing Sanitize would strip.
func goodPath(p string) bool {
	if p == "" || len(p) > maxPath || !filepath.IsAbs(p) || !utf8.ValidString(p) {
		return false
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return false
	}
	_, changed := redact(p)
	return !changed
}

// cleanName makes s valid UTF-8 without control characters: names are
// shown, never opened, and a control character would only garble a list
// (and takes six bytes in JSON).
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// cut shortens valid UTF-8 s to at most max bytes without splitting a rune.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// redact removes from every URL in s (anything with "://") its
// #fragment, where an EpicShare link keeps its secret, and every
// user:password@ before a host. A URL runs to the next space or quote,
// and the cut fragment runs there too, erring on the side of removing
// more. redact(redact(s)) == redact(s).
func redact(s string) (string, bool) {
	if !strings.Contains(s, "://") {
		return s, false
	}
	var b strings.Builder
	changed := false
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			break
		}
		i += len("://")
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexFunc(s, endsURL)
		if end < 0 {
			end = len(s)
		}
		u := s[:end]
		s = s[end:]
		if h := strings.IndexByte(u, '#'); h >= 0 {
			u, changed = u[:h], true
		}
		// Each "://" in the rest of the URL (one URL inside another's
		// query, say) starts an authority of its own.
		for pos := 0; ; {
			auth := strings.IndexAny(u[pos:], "/?")
			if auth < 0 {
				auth = len(u) - pos
			}
			if at := strings.LastIndexByte(u[pos:pos+auth], '@'); at >= 0 {
				u, changed = u[:pos]+u[pos+at+1:], true
			}
			next := strings.Index(u[pos:], "://")
			if next < 0 {
				break
			}
			pos += next + len("://")
		}
		b.WriteString(u)
	}
	return b.String(), changed
}

func endsURL(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("\"'<>`", r)
}
