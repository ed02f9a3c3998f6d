package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// ReceiveOptions tune Receive.
type ReceiveOptions struct {
	transfer.ReceiveOptions
	// OnConnected, if set, is called once the peer connection is up, before
	// the manifest arrives, with the verification code the sender shows
	// too and whether the connection is direct or relayed.
	OnConnected func(code, path string)
	// OnStall, if set, is called from another goroutine while no data
	// arrives, with the likely cause (see transfer.ReceiveOptions.OnStall).
	OnStall func(idle time.Duration, cause string)
}

// Receive opens link, negotiates a peer connection with the sender and
// saves the files under dir (see transfer.Receive). It returns when every
// file verified, or with the reason it could not.
//
// If the connection to the broker ends before the sender answered (the
// broker restarted, say), Receive dials again and starts over with a new
// hello, for up to the connect timeout, so the sender, which reconnects
// too, can still be reached. Nothing has been written by then.
func Receive(ctx context.Context, cfg Config, link wire.Link, dir string, opts ReceiveOptions) (*transfer.Result, error) {
	giveUp := time.Now().Add(cfg.connectTimeout())
	lost := false
	for {
		res, err := receiveOnce(ctx, cfg, link, dir, opts)
		// Once the broker went away, not reaching it, or not finding the
		// sender on it yet, is part of its restart.
		again := errors.Is(err, ErrBrokerLost) || (lost && (errors.Is(err, ErrUnreachable) || errors.Is(err, ErrShareGone)))
		if !again || ctx.Err() != nil || time.Now().After(giveUp) {
			return res, err
		}
		lost = true
		cfg.logger().Info("lost the signaling server before the sender answered; trying again", "err", err)
		t := time.NewTimer(redialAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
}

// redialAfter is how long Receive waits before dialling a lost broker again.
const redialAfter = 500 * time.Millisecond

func receiveOnce(ctx context.Context, cfg Config, link wire.Link, dir string, opts ReceiveOptions) (*transfer.Result, error) {
	log := cfg.logger()
	key, err := wire.DeriveKey(link.Secret)
	if err != nil {
		return nil, err
	}
	auth := wire.NewReceiverAuth(key)
	sig, err := signal.Dial(ctx, link.Server, signal.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer sig.Close()

	var sendMu sync.Mutex // keeps sequence numbers in sending order
	send := func(sg wire.Signal) {
		sendMu.Lock()
		defer sendMu.Unlock()
		auth.Seal(&sg)
		if err := sig.Send(ctx, link.Sender, sg.Encode()); err != nil {
			log.Debug("signal not sent", "kind", sg.Kind, "err", err)
		}
	}
	p, err := peer.New(peer.NewAPI(cfg.Peer), cfg.Peer, peer.Answerer, send)
	if err != nil {
		return nil, err
	}
	defer p.Close()

	// Route the sender's signals to the peer while the transfer runs: late
	// candidates may still arrive after the data channel opened.
	offered := make(chan struct{})
	failure := make(chan error, 1)
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		gotOffer := false
		for env := range sig.Recv() {
			var err error
			switch {
			case env.Type == wire.TypeMessage && env.From == link.Sender:
				sg, derr := wire.DecodeSignal(env.Data)
				if derr != nil {
					log.Warn("dropping bad signal", "err", derr)
					continue
				}
				err = handleSenderSignal(sg, auth, p, send, log)
				if err == nil && sg.Kind == wire.SignalOffer && !gotOffer {
					gotOffer = true
					close(offered)
				}
			case env.Type == wire.TypeLeft && env.Peer == link.Sender && !gotOffer:
				err = ErrSenderLeft
			case env.Type == wire.TypeError && env.Code == wire.CodeUnknownPeer && env.To == link.Sender:
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
		// The broker went away (not closed by us) before the offer came.
		if err := sig.Err(); !gotOffer && err != nil && !errors.Is(err, signal.ErrClosed) {
			select {
			case failure <- fmt.Errorf("%w: %v", ErrBrokerLost, err):
			default:
			}
		}
	}()
	defer func() { sig.Close(); <-routed }()

	send(wire.Signal{Kind: wire.SignalHello})
	// The sender answers a hello with an offer at once; give up early on
	// a link whose sender is gone rather than at the connect timeout.
	t := time.NewTimer(cfg.connectTimeout())
	defer t.Stop()
	select {
	case <-offered:
	case err := <-failure:
		return nil, err
	case <-t.C:
		return nil, ErrNoAnswer
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}

	cctx, cancel := context.WithTimeoutCause(ctx, cfg.connectTimeout(), peer.ErrFailed)
	conn, err := p.Connect(cctx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
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
	return transfer.Receive(ctx, conn, dir, topts)
}

// handleSenderSignal checks one signal from the sender and applies it. It
// returns an error only when the negotiation must end: on a bye, or an
// offer that fails its check (the sender is then told). Other signals that
// fail are dropped: replays, or forgeries whose sender could as well have
// withheld the real ones.
func handleSenderSignal(sg wire.Signal, auth *wire.Auth, p *peer.Peer, send func(wire.Signal), log *slog.Logger) error {
	if sg.Kind == wire.SignalBye {
		return byeError(sg)
	}
	err := auth.Open(sg)
	if err == nil {
		err = p.HandleSignal(sg)
		if err != nil && sg.Kind == wire.SignalOffer {
			return fmt.Errorf("%w: %v", peer.ErrFailed, err)
		}
	} else if sg.Kind == wire.SignalOffer && errors.Is(err, wire.ErrAuth) {
		send(wire.Signal{Kind: wire.SignalBye, Code: wire.ByeTampered, Reason: ErrTampered.Error()})
		return ErrTampered
	}
	if err != nil {
		log.Warn("dropping a signal from the sender", "kind", sg.Kind, "err", err)
	}
	return nil
}
