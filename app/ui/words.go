package ui

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// Errors of the window itself, worded by words like the core's.
var (
	// errBadServer: the remote server in Settings is not a server URL.
	errBadServer = errors.New("bad signal server in Settings")
	// errNothing: Share or a nearby device was pressed with nothing picked.
	errNothing = errors.New("nothing to share")
)

// portsTakenError: every port the built-in server may take is in use.
type portsTakenError struct {
	from, to int
	err      error // the first port's
}

func (e *portsTakenError) Error() string {
	return "ports " + strconv.Itoa(e.from) + " to " + strconv.Itoa(e.to) + " are all in use: " + e.err.Error()
}

func (e *portsTakenError) Unwrap() error { return e.err }

// errorKey is the message for an error that wraps err. With detail, the
// message has a {{.Detail}}: what the core wrote after the sentinel (a
// path, or how the other side broke the protocol).
type errorKey struct {
	err    error
	key    string
	detail bool
}

// errorKeys are the errors words knows, in the order it tries them.
func errorKeys() []errorKey {
	return []errorKey{
		{context.Canceled, "error.stopped", false},
		{transfer.ErrCanceled, "error.stopped", false},
		{transfer.ErrDeclined, "error.declined", false},
		{errNothing, "error.nothing", false},
		{errBadServer, "error.bad-server", false},
		{wire.ErrBadLink, "error.bad-link", false},
		{session.ErrWrongKind, "error.wrong-kind", false},
		{session.ErrUnreachable, "error.unreachable", false},
		{session.ErrNoAddress, "error.no-address", false},
		{session.ErrBrokerLost, "error.broker-lost", false},
		{session.ErrShareGone, "error.share-gone", false},
		{session.ErrPeerLeft, "error.peer-left", false},
		{session.ErrNoAnswer, "error.no-answer", false},
		{session.ErrTooManyReceivers, "error.too-many", false},
		{session.ErrWrongSecret, "error.wrong-secret", false},
		{session.ErrPickedOther, "error.picked-other", false},
		{session.ErrTampered, "error.tampered", false},
		{session.ErrWrongDevice, "error.wrong-device", false},
		{syscall.ENOSPC, "error.disk-full", false},
		{os.ErrPermission, "error.permission", false},
		{os.ErrNotExist, "error.not-found", false},
		{transfer.ErrConnectionLost, "error.connection-lost", false},
		{peer.ErrBroken, "error.broken", false},
		{peer.ErrFailed, "error.connect-failed", false},
		{peer.ErrBye, "error.bye", true},
		{transfer.ErrBadManifest, "error.bad-manifest", true},
		{transfer.ErrVerify, "error.verify", true},
		{transfer.ErrSourceChanged, "error.source-changed", true},
		{transfer.ErrProtocol, "error.protocol", true},
		{peer.ErrBadICEServer, "error.bad-ice-server", true},
		{nearby.ErrNoNetwork, "error.no-network", false},
	}
}

// peerKey is the message for the other side's cancel with code, sent by
// from ("sender" or "receiver"); detailKey, if any, is the one with the
// cancel's detail ({{.Detail}}: a path, or the error a program saw).
type peerKey struct {
	code, from     string
	key, detailKey string
}

// peerKeys are the cancels words knows. A side sends only some codes; an
// unexpected one is said as that side's failure.
func peerKeys() []peerKey {
	const s, r = "sender", "receiver"
	return []peerKey{
		{transfer.CancelStopped, s, "error.peer.sender.stopped", ""},
		{transfer.CancelSourceChanged, s, "error.peer.sender.source-changed", "error.peer.sender.source-changed.detail"},
		{transfer.CancelProtocol, s, "error.peer.sender.protocol", "error.peer.sender.protocol.detail"},
		{transfer.CancelFailed, s, "error.peer.sender.failed", "error.peer.sender.failed.detail"},
		{transfer.CancelStopped, r, "error.peer.receiver.stopped", ""},
		{transfer.CancelDeclined, r, "error.peer.receiver.declined", ""},
		{transfer.CancelBadOffer, r, "error.peer.receiver.bad-offer", "error.peer.receiver.bad-offer.detail"},
		{transfer.CancelNoRoom, r, "error.peer.receiver.no-room", ""},
		{transfer.CancelCannotWrite, r, "error.peer.receiver.cannot-write", ""},
		{transfer.CancelVerify, r, "error.peer.receiver.verify", "error.peer.receiver.verify.detail"},
		{transfer.CancelProtocol, r, "error.peer.receiver.protocol", "error.peer.receiver.protocol.detail"},
		{transfer.CancelDownloadCut, r, "error.peer.receiver.download-cut", ""},
		{transfer.CancelDownloadCancelled, r, "error.peer.receiver.download-cancelled", ""},
		{transfer.CancelFailed, r, "error.peer.receiver.failed", "error.peer.receiver.failed.detail"},
	}
}

// words turns an error into a sentence for people: what happened and,
// where there is something to do, what; never Go's wrapping. An error it
// does not know is said with its text.
func words(w *Words, err error) string {
	if err == nil {
		return ""
	}
	var ports *portsTakenError
	if errors.As(err, &ports) {
		return w.T("error.ports-taken", M{"From": strconv.Itoa(ports.from), "To": strconv.Itoa(ports.to)})
	}
	for _, k := range errorKeys() {
		if !errors.Is(err, k.err) {
			continue
		}
		if !k.detail {
			return w.T(k.key)
		}
		if d := detailOf(err, k.err); d != "" {
			return w.T(k.key, M{"Detail": d})
		}
		break // the core always gives these a detail: say the whole error
	}
	var pe *transfer.PeerError
	if errors.As(err, &pe) {
		if s := peerWords(w, pe); s != "" {
			return s
		}
	}
	return w.T("error.unknown", M{"Err": err.Error()})
}

// peerWords says the other side's cancel, or "" for one from neither a
// sender nor a receiver.
func peerWords(w *Words, pe *transfer.PeerError) string {
	var failed *peerKey
	for _, k := range peerKeys() {
		if k.from != pe.From {
			continue
		}
		if k.code == transfer.CancelFailed {
			failed = &k
		}
		if k.code == pe.Code {
			return peerKeyWords(w, k, pe.Detail)
		}
	}
	if failed == nil {
		return ""
	}
	return peerKeyWords(w, *failed, pe.Detail)
}

func peerKeyWords(w *Words, k peerKey, detail string) string {
	if detail != "" && k.detailKey != "" {
		return w.T(k.detailKey, M{"Detail": detail})
	}
	return w.T(k.key)
}

// detailOf is what err's text says after sentinel's: "a.jpg" of
// "receive: file failed verification: a.jpg".
func detailOf(err, sentinel error) string {
	s, prefix := err.Error(), sentinel.Error()+": "
	if i := strings.Index(s, prefix); i >= 0 {
		return strings.TrimSpace(s[i+len(prefix):])
	}
	return ""
}

// pathWords says how a connection runs, for the rows and status lines.
func pathWords(w *Words, p peer.Path) string {
	switch p {
	case peer.PathDirect:
		return w.T("path.direct")
	case peer.PathNAT:
		return w.T("path.nat")
	case peer.PathRelay:
		return w.T("path.relay")
	}
	return w.T("path.connecting")
}

// stallWords says that no data moves, for how long, and why.
func stallWords(w *Words, s session.Stall) string {
	idle := M{"Idle": w.Duration(s.Idle)}
	switch s.Cause {
	case peer.StallNoRoute:
		return w.T("stall.no-route", idle)
	case peer.StallRelaySlow:
		return w.T("stall.relay-slow", idle)
	}
	return w.T("stall.peer-slow", idle)
}

func reachLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.WarningImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// showReach shows on l whether link can be opened from another network.
func showReach(w *Words, l *widget.Label, link wire.Link) {
	if note := reachNote(w, link); note != "" {
		l.SetText(note)
		l.Show()
	} else {
		l.Hide()
	}
}

// reachNote warns when a link names a server that only devices on this
// network can reach: a private, loopback or link-local address, or an
// mDNS name. A device elsewhere could not even load the page.
func reachNote(w *Words, link wire.Link) string {
	host := link.Server.Hostname()
	if strings.HasSuffix(strings.ToLower(host), ".local") {
		return w.T("reach.local")
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	switch {
	case ip.IsLoopback():
		return w.T("reach.loopback", M{"Host": host})
	case ip.IsPrivate() || ip.IsLinkLocalUnicast() || cgnat.Contains(ip):
		return w.T("reach.private", M{"Host": host})
	}
	return ""
}

// card is a titled card whose text wraps: a Card's own subtitle is one
// line, cut off at 800 px and in longer languages.
func card(title, text string, content fyne.CanvasObject) *widget.Card {
	if text == "" {
		return widget.NewCard(title, "", content)
	}
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return widget.NewCard(title, "", container.NewVBox(l, content))
}
