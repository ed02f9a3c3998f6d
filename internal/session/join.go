package session

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// ErrWrongKind: a share link given where a receive link is needed, or the
// other way round.
var ErrWrongKind = errors.New("wrong kind of link")

// ReceiveOptions tune Receive.
type ReceiveOptions struct {
	transfer.ReceiveOptions
	// OnConnected, if set, is called once the peer connection is up, before
	// the manifest arrives, with the verification code the sender shows
	// too and whether the connection is direct or relayed.
	OnConnected func(code string, path peer.Path)
	// OnStall, if set, is called from another goroutine while no data
	// arrives, with the likely cause (see transfer.ReceiveOptions.OnStall).
	OnStall func(idle time.Duration, cause peer.StallCause)
}

// Receive opens a share link, negotiates a peer connection with the
// sender and saves the files under dir (see transfer.Receive). It returns
// when every file verified, or with the reason it could not.
//
// If the connection to the broker ends before the peer connection is up
// (the broker restarted, or a node of a cluster died), Receive dials
// again and starts over with a new hello, for up to the connect timeout,
// so the sender, which reconnects too, can still be reached. Nothing has
// been written by then.
func Receive(ctx context.Context, cfg Config, link wire.Link, dir string, opts ReceiveOptions) (*transfer.Result, error) {
	if link.Kind != wire.ShareLink {
		return nil, fmt.Errorf("%w: this is a receive link, to send files to", ErrWrongKind)
	}
	var res *transfer.Result
	err := join(ctx, cfg, link, "", func(ctx context.Context, conn *peer.Conn) error {
		if opts.OnConnected != nil {
			opts.OnConnected(conn.VerificationCode(), conn.Path())
		}
		topts := opts.ReceiveOptions
		if topts.StallAfter == 0 {
			topts.StallAfter = cfg.StallAfter
		}
		if opts.OnStall != nil {
			topts.OnStall = func(idle time.Duration) { opts.OnStall(idle, conn.StallCause()) }
		}
		var err error
		res, err = transfer.Receive(ctx, conn, dir, topts)
		return err
	})
	return res, err
}

// SendOptions tune Send.
type SendOptions struct {
	// OnConnected, if set, is called once the peer connection is up, with
	// the verification code the receiver shows too and whether the
	// connection is direct or relayed.
	OnConnected func(code string, path peer.Path)
	// Progress, if set, is called as in transfer.SendOptions.
	Progress func(transfer.Progress)
	// OnStall, if set, is called from another goroutine while no data
	// moves, with the likely cause.
	OnStall func(idle time.Duration, cause peer.StallCause)
	// Device, if set, is the device ID the link's holder must prove it
	// is: the device picked from the nearby list. Another device, or
	// one that proves none, is refused before anything is sent
	// (ErrWrongDevice).
	Device string
}

// Send opens a receive link and sends offer into it. It returns nil once
// the receiver confirmed that every file verified; a receiver that still
// has to accept is waited for. Redialling a lost broker works as for
// Receive.
func Send(ctx context.Context, cfg Config, link wire.Link, offer *transfer.Offer, opts SendOptions) error {
	if link.Kind != wire.ReceiveLink {
		return fmt.Errorf("%w: this is a share link, to receive files from", ErrWrongKind)
	}
	return join(ctx, cfg, link, opts.Device, func(ctx context.Context, conn *peer.Conn) error {
		if opts.OnConnected != nil {
			opts.OnConnected(conn.VerificationCode(), conn.Path())
		}
		sopts := transfer.SendOptions{Progress: opts.Progress, StallAfter: cfg.StallAfter}
		if opts.OnStall != nil {
			sopts.OnStall = func(idle time.Duration) { opts.OnStall(idle, conn.StallCause()) }
		}
		return transfer.Send(ctx, conn, offer, sopts)
	})
}

// redialAfter is how long join waits before dialling a lost broker again.
const redialAfter = 500 * time.Millisecond

// join opens link as a guest: it says hello to the link holder, answers
// its offer, and runs stream on the connection. It starts over while the
// broker is lost before the connection is up (see Receive).
// want, if set, is the device ID the holder must prove (see
// SendOptions.Device).
func join(ctx context.Context, cfg Config, link wire.Link, want string, stream func(context.Context, *peer.Conn) error) error {
	giveUp := time.Now().Add(cfg.connectTimeout())
	lost := false
	for {
		err := joinOnce(ctx, cfg, link, want, stream)
		// Once the broker went away, not reaching it, or not finding the
		// holder on it yet, is part of its restart.
		again := errors.Is(err, ErrBrokerLost) || (lost && (errors.Is(err, ErrUnreachable) || errors.Is(err, ErrShareGone)))
		if !again || ctx.Err() != nil || time.Now().After(giveUp) {
			return err
		}
		lost = true
		cfg.logger().Info("lost the signaling server before the connection was up; trying again", "err", err)
		t := time.NewTimer(redialAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
}

func joinOnce(ctx context.Context, cfg Config, link wire.Link, want string, stream func(context.Context, *peer.Conn) error) error {
	key, err := wire.DeriveKey(link.Secret, link.Kind)
	if err != nil {
		return err
	}
	sig, err := signal.Dial(ctx, link.Server, signal.Options{Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer sig.Close()
	ch := &signedChannel{sig: sig, remote: link.ID, auth: wire.NewGuestAuth(key), log: cfg.logger(), self: cfg.Device, want: want}
	p, err := peer.New(peer.NewAPI(cfg.Peer), cfg.peerConfig(sig), peer.Answerer, func(sg wire.Signal) { ch.send(ctx, sg) })
	if err != nil {
		return err
	}
	defer p.Close()

	// Route the holder's signals to the peer while the transfer runs: late
	// candidates may still arrive after the data channel opened.
	offered := make(chan struct{})
	var connected atomic.Bool
	failure := make(chan error, 1)
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		gotOffer := false
		for env := range sig.Recv() {
			var err error
			switch {
			case env.Type == wire.TypeMessage && env.From == link.ID:
				sg, derr := wire.DecodeSignal(env.Data)
				if derr != nil {
					cfg.logger().Warn("dropping bad signal", "err", derr)
					continue
				}
				err = ch.receive(ctx, sg, p)
				if err == nil && sg.Kind == wire.SignalOffer && !gotOffer {
					gotOffer = true
					close(offered)
				}
			case env.Type == wire.TypeLeft && env.Peer == link.ID && !gotOffer:
				err = ErrPeerLeft
			case env.Type == wire.TypeError && env.Code == wire.CodeUnknownPeer && env.To == link.ID:
				err = ErrShareGone
			}
			if err != nil {
				p.Abort(err) // ends Connect with this reason
				select {
				case failure <- err:
				default:
				}
			}
		}
		// The broker went away (not closed by us) before the connection
		// was up: what was still to come (the offer, the answer's way to
		// the holder, candidates) is lost with it, so waiting for ICE
		// would only end at the connect timeout. Starting over reaches
		// the holder through a broker that lives: another node of the
		// cluster, or this one back. (A connection that came up just now
		// is aborted only in its ICE restarts: it carries on.)
		if err := sig.Err(); !connected.Load() && err != nil && !errors.Is(err, signal.ErrClosed) {
			lost := fmt.Errorf("%w: %v", ErrBrokerLost, err)
			if gotOffer {
				p.Abort(lost) // ends Connect
			}
			select {
			case failure <- lost:
			default:
			}
		}
	}()
	defer func() { sig.Close(); <-routed }()

	ch.send(ctx, wire.Signal{Kind: wire.SignalHello})
	// The holder answers a hello with an offer at once; give up early on
	// a link whose holder is gone rather than at the connect timeout.
	t := time.NewTimer(cfg.connectTimeout())
	defer t.Stop()
	select {
	case <-offered:
	case err := <-failure:
		return err
	case <-t.C:
		return ErrNoAnswer
	case <-ctx.Done():
		return context.Cause(ctx)
	}

	cctx, cancel := context.WithTimeoutCause(ctx, cfg.connectTimeout(), peer.ErrFailed)
	conn, err := p.Connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	connected.Store(true)
	defer conn.Close()
	defer cfg.GC.Begin()()
	return stream(ctx, conn)
}
