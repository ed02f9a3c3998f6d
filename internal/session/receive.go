package session

import (
	"context"
	"fmt"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// Receive opens link, negotiates a peer connection with the sender and
// saves the files under dir (see transfer.Receive). It returns when every
// file verified, or with the reason it could not.
func Receive(ctx context.Context, cfg Config, link wire.Link, dir string, opts transfer.ReceiveOptions) (*transfer.Result, error) {
	log := cfg.logger()
	sig, err := signal.Dial(ctx, link.Server, signal.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer sig.Close()

	send := func(sg wire.Signal) {
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
				var sg wire.Signal
				if sg, err = wire.DecodeSignal(env.Data); err != nil {
					log.Warn("dropping bad signal", "err", err)
					continue
				}
				if sg.Kind == wire.SignalBye {
					err = fmt.Errorf("%w: %s", peer.ErrBye, sg.Reason)
					if sg.Reason == ErrTooManyReceivers.Error() {
						err = ErrTooManyReceivers
					}
				} else if herr := p.HandleSignal(sg); herr != nil {
					log.Warn("bad signal from the sender", "kind", sg.Kind, "err", herr)
					if sg.Kind == wire.SignalOffer {
						err = fmt.Errorf("%w: %v", peer.ErrFailed, herr)
					}
				} else if sg.Kind == wire.SignalOffer && !gotOffer {
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
	return transfer.Receive(ctx, conn, dir, opts)
}
