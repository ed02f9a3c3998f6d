package history

import (
	"context"
	"errors"
	"io/fs"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// Reason says why a transfer did not verify, as a code that stays the same
// in the file from one version to the next; the UI words it. With the
// record's Direction it says whose side: a sent transfer that ends with
// ReasonDiskFull found the receiver's disk full.
type Reason string

const (
	ReasonNone          Reason = ""                  // verified
	ReasonCancelled     Reason = "cancelled"         // this side stopped it
	ReasonPeerCancelled Reason = "peer-cancelled"    // the other side stopped it
	ReasonDeclined      Reason = "declined"          // the receiver declined the offer
	ReasonDiskFull      Reason = "disk-full"         // the receiving disk (or browser storage) is full
	ReasonPermission    Reason = "permission-denied" // the receiver cannot write its folder, or the sender read a file
	ReasonHashMismatch  Reason = "hash-mismatch"     // a file did not match the sender's SHA-256
	ReasonSourceChanged Reason = "source-changed"    // a shared file changed or vanished while it was sent
	ReasonConnLost      Reason = "connection-lost"   // the connection ended before the transfer did
	ReasonUnreachable   Reason = "unreachable"       // the signaling server could not be reached
	ReasonConnectFailed Reason = "connect-failed"    // no peer connection could be made, or no answer came
	ReasonBadLink       Reason = "bad-link"          // the link is gone, of the wrong kind, or its secret is wrong
	ReasonBusy          Reason = "busy"              // the other device serves too many transfers
	ReasonWrongDevice   Reason = "wrong-device"      // the device that answered is not the one picked
	ReasonTampered      Reason = "tampered"          // the connection request was altered on the way
	ReasonProtocol      Reason = "protocol"          // the other side broke the protocol, or speaks another version
	ReasonOther         Reason = "other"             // anything else, and codes a newer EpicShare wrote
)

// Reasons lists every reason but ReasonNone, for a UI to check that it
// words each one.
func Reasons() []Reason {
	return []Reason{ReasonCancelled, ReasonPeerCancelled, ReasonDeclined, ReasonDiskFull,
		ReasonPermission, ReasonHashMismatch, ReasonSourceChanged, ReasonConnLost,
		ReasonUnreachable, ReasonConnectFailed, ReasonBadLink, ReasonBusy,
		ReasonWrongDevice, ReasonTampered, ReasonProtocol, ReasonOther}
}

func (r Reason) valid() bool {
	if r == ReasonNone {
		return true
	}
	for _, k := range Reasons() {
		if r == k {
			return true
		}
	}
	return false
}

// ReasonOf maps an error that session or transfer returned, or an Event's
// Err, to its Reason: ReasonNone for nil. The other side's cancel is
// taken at its word (its code says why), then this side's stop, which
// explains whatever broke after it, then the errors by how specific they
// are: a signaling error wrapped in session.ErrUnreachable that says the
// server speaks another version is a protocol matter, not reachability.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	if transfer.Declined(err) {
		return ReasonDeclined
	}
	var pe *transfer.PeerError
	if errors.As(err, &pe) {
		return peerReason(pe.Code)
	}
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case is(transfer.ErrCanceled, context.Canceled):
		return ReasonCancelled
	case diskFull(err):
		return ReasonDiskFull
	case is(transfer.ErrVerify):
		return ReasonHashMismatch
	case is(transfer.ErrSourceChanged):
		return ReasonSourceChanged
	case is(fs.ErrPermission):
		return ReasonPermission
	case is(session.ErrTampered):
		return ReasonTampered
	case is(session.ErrWrongDevice, session.ErrPickedOther):
		return ReasonWrongDevice
	case is(session.ErrTooManyReceivers):
		return ReasonBusy
	case is(session.ErrShareGone, session.ErrWrongSecret, session.ErrWrongKind, wire.ErrBadLink):
		return ReasonBadLink
	case is(transfer.ErrProtocol, transfer.ErrBadManifest, signal.ErrUnsupportedVersion):
		return ReasonProtocol
	case is(peer.ErrBye):
		return ReasonPeerCancelled
	case is(transfer.ErrConnectionLost, peer.ErrBroken, session.ErrPeerLeft, session.ErrBrokerLost):
		return ReasonConnLost
	case is(peer.ErrFailed, session.ErrNoAnswer):
		return ReasonConnectFailed
	case is(session.ErrUnreachable, signal.ErrGoingAway, signal.ErrClosed, signal.ErrDisconnected):
		return ReasonUnreachable
	}
	return ReasonOther
}

// peerReason maps the other side's cancel code (transfer.Cancel*).
func peerReason(code string) Reason {
	switch code {
	case transfer.CancelStopped, transfer.CancelDownloadCancelled:
		return ReasonPeerCancelled
	case transfer.CancelDeclined:
		return ReasonDeclined
	case transfer.CancelNoRoom:
		return ReasonDiskFull
	case transfer.CancelCannotWrite:
		return ReasonPermission
	case transfer.CancelVerify:
		return ReasonHashMismatch
	case transfer.CancelSourceChanged:
		return ReasonSourceChanged
	case transfer.CancelBadOffer, transfer.CancelProtocol:
		return ReasonProtocol
	case transfer.CancelDownloadCut:
		return ReasonConnLost
	}
	return ReasonOther
}

// ResultOf maps the same errors to a Result: verified for nil, partial
// when a receiver kept what had arrived (a *transfer.PartialError with
// bytes kept), declined, cancelled when either side stopped, failed
// otherwise.
func ResultOf(err error) Result {
	if err == nil {
		return ResultVerified
	}
	var pe *transfer.PartialError
	if errors.As(err, &pe) && pe.Kept > 0 {
		return ResultPartial
	}
	switch ReasonOf(err) {
	case ReasonDeclined:
		return ResultDeclined
	case ReasonCancelled, ReasonPeerCancelled:
		return ResultCancelled
	}
	return ResultFailed
}
