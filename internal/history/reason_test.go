package history

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// The errors below are shaped as session and transfer return them:
// wrapped with %w, or with the cause flattened by %v.
func TestReasonOf(t *testing.T) {
	peerErr := func(code string) error { return &transfer.PeerError{Code: code, From: "receiver"} }
	tests := []struct {
		name string
		err  error
		want Reason
	}{
		{"nil", nil, ReasonNone},
		{"this side stopped", fmt.Errorf("%w: %v", transfer.ErrCanceled, "stopped by the sender"), ReasonCancelled},
		{"the context ended", context.Canceled, ReasonCancelled},
		{"stopped while dialing", fmt.Errorf("%w: %w", session.ErrUnreachable, context.Canceled), ReasonCancelled},
		{"declined here", transfer.ErrDeclined, ReasonDeclined},
		{"declined there", peerErr(transfer.CancelDeclined), ReasonDeclined},
		{"the other side stopped", peerErr(transfer.CancelStopped), ReasonPeerCancelled},
		{"a download cancelled in the browser", peerErr(transfer.CancelDownloadCancelled), ReasonPeerCancelled},
		{"the other side's disk is full", peerErr(transfer.CancelNoRoom), ReasonDiskFull},
		{"the other side cannot write", peerErr(transfer.CancelCannotWrite), ReasonPermission},
		{"the other side's check failed", peerErr(transfer.CancelVerify), ReasonHashMismatch},
		{"the other side refused the offer", peerErr(transfer.CancelBadOffer), ReasonProtocol},
		{"the other side saw a protocol error", peerErr(transfer.CancelProtocol), ReasonProtocol},
		{"the source changed, as the receiver heard", peerErr(transfer.CancelSourceChanged), ReasonSourceChanged},
		{"a browser download cut", peerErr(transfer.CancelDownloadCut), ReasonConnLost},
		{"the other side failed", peerErr(transfer.CancelFailed), ReasonOther},
		{"an unknown cancel code", peerErr("from-the-future"), ReasonOther},
		{"a peer error kept as partial", &transfer.PartialError{Err: peerErr(transfer.CancelStopped), Kept: 10}, ReasonPeerCancelled},
		{"disk full here", fmt.Errorf("write a.part: %w", &os.PathError{Op: "write", Path: "a.part", Err: syscall.ENOSPC}), ReasonDiskFull},
		{"disk full, kept as partial", &transfer.PartialError{Err: fmt.Errorf("write: %w", syscall.ENOSPC), Kept: 1}, ReasonDiskFull},
		{"hash mismatch", fmt.Errorf("%w: a.txt", transfer.ErrVerify), ReasonHashMismatch},
		{"source changed", fmt.Errorf("%w: a.txt", transfer.ErrSourceChanged), ReasonSourceChanged},
		{"folder not writable", fmt.Errorf("target folder /x is not writable: %w", &os.PathError{Op: "open", Path: "/x/p", Err: fs.ErrPermission}), ReasonPermission},
		{"tampered", session.ErrTampered, ReasonTampered},
		{"wrong device", session.ErrWrongDevice, ReasonWrongDevice},
		{"picked another device", session.ErrPickedOther, ReasonWrongDevice},
		{"busy", session.ErrTooManyReceivers, ReasonBusy},
		{"share gone", session.ErrShareGone, ReasonBadLink},
		{"wrong secret", session.ErrWrongSecret, ReasonBadLink},
		{"wrong kind of link", fmt.Errorf("%w: this is a receive link", session.ErrWrongKind), ReasonBadLink},
		{"a bad link", fmt.Errorf("%w: too long", wire.ErrBadLink), ReasonBadLink},
		{"protocol", fmt.Errorf("%w: frame 9", transfer.ErrProtocol), ReasonProtocol},
		{"bad manifest", fmt.Errorf("%w: it lists nothing", transfer.ErrBadManifest), ReasonProtocol},
		{"another broker version, while dialing", fmt.Errorf("%w: %w", session.ErrUnreachable, signal.ErrUnsupportedVersion), ReasonProtocol},
		{"a bye", fmt.Errorf("%w: %s", peer.ErrBye, "no reason given"), ReasonPeerCancelled},
		{"connection lost", fmt.Errorf("%w: %v", transfer.ErrConnectionLost, "EOF"), ReasonConnLost},
		{"connection broken", peer.ErrBroken, ReasonConnLost},
		{"peer left", session.ErrPeerLeft, ReasonConnLost},
		{"broker lost", session.ErrBrokerLost, ReasonConnLost},
		{"could not connect", peer.ErrFailed, ReasonConnectFailed},
		{"no answer", session.ErrNoAnswer, ReasonConnectFailed},
		{"broker unreachable", fmt.Errorf("%w: %v", session.ErrUnreachable, "dial tcp: refused"), ReasonUnreachable},
		{"broker went away", signal.ErrGoingAway, ReasonUnreachable},
		{"something else", errors.New("boom"), ReasonOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReasonOf(tt.err); got != tt.want {
				t.Fatalf("ReasonOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestResultOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Result
	}{
		{"nil", nil, ResultVerified},
		{"declined", transfer.ErrDeclined, ResultDeclined},
		{"stopped here", fmt.Errorf("%w: stop", transfer.ErrCanceled), ResultCancelled},
		{"stopped there", &transfer.PeerError{Code: transfer.CancelStopped}, ResultCancelled},
		{"kept what arrived", &transfer.PartialError{Err: transfer.ErrConnectionLost, Kept: 4096}, ResultPartial},
		{"kept nothing", &transfer.PartialError{Err: transfer.ErrConnectionLost}, ResultFailed},
		{"stopped, kept what arrived", &transfer.PartialError{Err: transfer.ErrCanceled, Kept: 1}, ResultPartial},
		{"failed", session.ErrShareGone, ResultFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResultOf(tt.err); got != tt.want {
				t.Fatalf("ResultOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestReasonsInTheFile: every reason is distinct, valid, and read back
// as written, so the codes are stable in the file.
func TestReasonsInTheFile(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if r == ReasonNone || seen[r] || !r.valid() {
			t.Fatalf("reason %q: none, repeated or invalid", r)
		}
		seen[r] = true
		rec := testRecord(1)
		rec.Result, rec.Reason = ResultFailed, r
		line, err := encodeLine(rec.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeLine(line)
		if err != nil || back.Reason != r {
			t.Fatalf("reason %q read back as %q (%v)", r, back.Reason, err)
		}
	}
	// A code a newer EpicShare wrote reads as other, and an unknown way
	// of meeting as unknown: the rest of the record still shows.
	future := []byte(`{"id":"x","time":"2026-05-01T09:30:00Z","direction":"sent","via":"teleport","kind":"files","peer":{},"size":0,"files":0,"result":"failed","reason":"solar-flare"}`)
	if back, err := decodeLine(future); err != nil || back.Reason != ReasonOther || back.Via != ViaUnknown {
		t.Fatalf("a newer record read back as %+v (%v)", back, err)
	}
}
