package transfer

import (
	"errors"
	"fmt"
)

var (
	// ErrCanceled: this side stopped the transfer (its context ended).
	ErrCanceled = errors.New("transfer canceled")
	// ErrPeerCanceled: the other side stopped the transfer; see PeerError.
	ErrPeerCanceled = errors.New("canceled by the other side")
	// ErrConnectionLost: the connection ended before the transfer did.
	ErrConnectionLost = errors.New("connection lost")
	// ErrProtocol: the other side broke the protocol.
	ErrProtocol = errors.New("protocol violation")
	// ErrBadManifest: the sender's manifest is unsafe or malformed.
	ErrBadManifest = errors.New("unacceptable manifest")
	// ErrVerify: a received file does not match the sender's SHA-256.
	ErrVerify = errors.New("file failed verification")
	// ErrSourceChanged: a shared file changed or vanished after it was offered.
	ErrSourceChanged = errors.New("shared file changed")
	// ErrDeclined: the receiver declined the offer.
	ErrDeclined = errors.New("declined")
)

// Cancel codes: why a side stopped, as a cancel frame carries it. No
// words for people travel in the protocol, only a code and, for some, a
// detail (a file's path, or the error a program saw); each side words the
// code itself (PeerError.Reason). The browser pages send the same codes.
const (
	CancelStopped           = "stopped"            // the person stopped it, or the program was interrupted
	CancelDeclined          = "declined"           // the receiver declined the offer
	CancelBadOffer          = "bad-offer"          // the manifest is unsafe or malformed; detail: why
	CancelNoRoom            = "no-room"            // the disk, or the browser's storage, is full
	CancelCannotWrite       = "cannot-write"       // the receiver cannot write to its folder
	CancelVerify            = "verify-failed"      // a file failed verification; detail: its path
	CancelProtocol          = "protocol"           // the other side broke the protocol; detail: how
	CancelSourceChanged     = "source-changed"     // a shared file changed while it was sent; detail: its path
	CancelDownloadCut       = "download-cut"       // the receiver's browser cut a download short
	CancelDownloadCancelled = "download-cancelled" // the receiver cancelled a download in its browser
	CancelFailed            = "failed"             // anything else; detail: the error
)

// PeerError is the other side's cancel: its code, detail, and which side
// it was ("sender" or "receiver"), as the side that read it knows.
type PeerError struct {
	Code, Detail string
	From         string
}

func (e *PeerError) Error() string { return fmt.Sprintf("%v: %s", ErrPeerCanceled, e.Reason()) }

// Reason words the other side's cancel for people.
func (e *PeerError) Reason() string {
	who := e.From
	if who == "" {
		who = "other side"
	}
	detail := func(s string) string {
		if e.Detail == "" {
			return s
		}
		return s + ": " + e.Detail
	}
	switch e.Code {
	case CancelStopped:
		if who == "sender" {
			return "the sender stopped sharing"
		}
		return "the " + who + " stopped the transfer"
	case CancelDeclined:
		return "the " + who + " declined"
	case CancelBadOffer:
		return detail("the " + who + " refused the offer")
	case CancelNoRoom:
		return "the " + who + "'s disk is full"
	case CancelCannotWrite:
		return "the " + who + " cannot write to its folder"
	case CancelVerify:
		return detail("a file failed verification")
	case CancelProtocol:
		return detail("the " + who + " refused the data")
	case CancelSourceChanged:
		return detail("a file changed on the " + who + "'s side while it was being sent")
	case CancelDownloadCut:
		return "the " + who + "'s browser cut a download short"
	case CancelDownloadCancelled:
		return "the " + who + " cancelled a download in the browser"
	}
	return detail("the " + who + " failed")
}

func (e *PeerError) Unwrap() error { return ErrPeerCanceled }

// PartialError is what Receive returns when it failed but kept what had
// arrived: receiving the same offer into the same folder again resumes.
type PartialError struct {
	Err  error
	Kept int64 // bytes already in the target folder
}

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// Declined reports whether err says the offer was declined: this side's
// ErrDeclined, or the receiver's decline as the sender heard it.
func Declined(err error) bool {
	var pe *PeerError
	return errors.Is(err, ErrDeclined) || (errors.As(err, &pe) && pe.Code == CancelDeclined)
}
