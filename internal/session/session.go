// Package session is what the GUI and the CLI both call: Share offers files
// through a broker to any number of receivers, each on its own peer
// connection; Receive opens a share link and saves the files. It ties the
// signaling client, the WebRTC peer and the file protocol together and
// reports progress through callbacks, so a front end only draws.
package session

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/wire"
)

// Config is what both sides need.
type Config struct {
	Peer   peer.Config
	Logger *slog.Logger
	// ConnectTimeout bounds the negotiation of one peer connection; 30 s if zero.
	ConnectTimeout time.Duration
	// StallAfter is how long without data counts as a stall
	// (transfer.DefaultStallAfter if zero).
	StallAfter time.Duration
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c Config) connectTimeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout
	}
	return 30 * time.Second
}

var (
	// ErrUnreachable: the signaling server did not answer.
	ErrUnreachable = errors.New("could not reach the signaling server")
	// ErrShareGone: the link names a sender the broker does not know.
	ErrShareGone = errors.New("this share is no longer available: the sender stopped sharing or the link is wrong")
	// ErrSenderLeft: the sender went away before the transfer started.
	ErrSenderLeft = errors.New("the sender went offline")
	// ErrBrokerLost: the connection to the signaling server ended before
	// the sender answered, and did not come back in time.
	ErrBrokerLost = errors.New("lost the connection to the signaling server before the sender answered")
	// ErrNoAnswer: the sender did not answer in time.
	ErrNoAnswer = errors.New("the sender did not answer")
	// ErrTooManyReceivers: the sender is already serving its maximum.
	ErrTooManyReceivers = errors.New("the sender is busy with too many receivers")
	// ErrWrongSecret: the receiver's link has the right share but the wrong secret.
	ErrWrongSecret = errors.New("the link's secret does not match this share: ask the sender for the link again")
	// ErrTampered: an offer or answer failed its check on the way.
	ErrTampered = errors.New("the connection request was altered on the way (the signaling server or the network may be tampering); nothing was transferred")
)

// byeError turns the other side's bye into an error for the user.
func byeError(sg wire.Signal) error {
	switch sg.Code {
	case wire.ByeWrongSecret:
		return ErrWrongSecret
	case wire.ByeTampered:
		return ErrTampered
	case wire.ByeBusy:
		return ErrTooManyReceivers
	}
	reason := sg.Reason
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("%w: %s", peer.ErrBye, reason)
}
