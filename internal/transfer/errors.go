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

// PeerError carries the reason the other side gave when it canceled.
type PeerError struct{ Reason string }

func (e *PeerError) Error() string {
	if e.Reason == "" {
		return ErrPeerCanceled.Error()
	}
	return fmt.Sprintf("%v: %s", ErrPeerCanceled, e.Reason)
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
