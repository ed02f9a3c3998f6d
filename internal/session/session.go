// Package session is what the GUI and the CLI both call. It is "hold a
// link" or "open a link", times "send" or "receive":
//
//	                 hold the link (host)      open the link (guest)
//	share link /s/   Share: send the files     Receive: save them
//	receive link /r/ OpenInbox: save them      Send: send the files
//
// The holder registers with a broker, answers every hello signed with the
// link's key with a WebRTC offer and serves each peer on its own
// connection; whoever opens the link says hello and answers. Both ends
// run the same signed handshake (signedChannel); once the data channel is
// open, the link's kind alone says which side runs transfer.Send and
// which transfer.Receive. It reports progress through callbacks, so a
// front end only draws.
package session

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/epicshare/epicshare/internal/memtune"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
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
	// Device, if set, is this device: its offers and answers prove it
	// (wire.DeviceProof), so that the other side knows which device it
	// deals with (Incoming.Device), and a sender can insist on the
	// device it picked (SendOptions.Device).
	Device *Device
	// GC, if set, loosens garbage collection while a connection moves
	// files (see package memtune); front ends pass one per process.
	GC *memtune.Tuner
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// peerConfig is c.Peer for one connection over sig: with the ICE servers
// the broker offers right now when the caller listed none of its own
// (a list in Settings overrides the broker's).
func (c Config) peerConfig(sig *signal.Conn) peer.Config {
	pc := c.Peer
	if len(pc.ICEServers) == 0 {
		pc.ICEServers = sig.ICEServers()
	}
	return pc
}

func (c Config) connectTimeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout
	}
	return 30 * time.Second
}

var (
	// ErrNoAddress: the built-in server has no address another device
	// could reach (no network, or only loopback).
	ErrNoAddress = errors.New("this machine has no network address other devices could reach")
	// ErrUnreachable: the signaling server did not answer.
	ErrUnreachable = errors.New("could not reach the signaling server")
	// ErrShareGone: the link names a holder the broker does not know.
	ErrShareGone = errors.New("this link is no longer available: its owner stopped sharing, made a new code, or the link is wrong")
	// ErrPeerLeft: the other device (the link's holder, or whoever opened
	// it) went away before the connection was up.
	ErrPeerLeft = errors.New("the other device went offline")
	// ErrBrokerLost: the connection to the signaling server ended before
	// the peer connection was up, and did not come back in time.
	ErrBrokerLost = errors.New("lost the connection to the signaling server before the other device was reached")
	// ErrNoAnswer: the sender did not answer in time.
	ErrNoAnswer = errors.New("the other device did not answer")
	// ErrTooManyReceivers: the link's holder is already serving its maximum.
	ErrTooManyReceivers = errors.New("the other device is busy with too many transfers; try again in a moment")
	// ErrWrongSecret: the link has the right ID but the wrong secret.
	ErrWrongSecret = errors.New("the link's secret does not match: ask for the link again")
	// ErrPickedOther: the sender refused this device: it picked another
	// (a device on the network copied this one's announcement).
	ErrPickedOther = errors.New("the other device meant to reach another device than this one")
	// ErrTampered: an offer or answer failed its check on the way.
	ErrTampered = errors.New("the connection request was altered on the way (the signaling server or the network may be tampering); nothing was transferred")
)

// byeError turns the other side's bye into an error.
func byeError(sg wire.Signal) error {
	switch sg.Code {
	case wire.ByeWrongSecret:
		return ErrWrongSecret
	case wire.ByeTampered:
		return ErrTampered
	case wire.ByeBusy:
		return ErrTooManyReceivers
	case wire.ByeWrongDevice:
		return ErrPickedOther
	}
	reason := sg.Reason
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("%w: %s", peer.ErrBye, reason)
}
