package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/wire"
)

// signedChannel is one end of the signed handshake with one remote peer
// through the broker, the same for the link holder and for whoever opened
// the link: it signs what goes out, in order, checks what comes in, and
// applies the rules both roles share (wire.Auth has the cryptography).
type signedChannel struct {
	sig    *signal.Conn
	remote string
	auth   *wire.Auth
	log    *slog.Logger
	mu     sync.Mutex // from Seal to Send, so sequence numbers arrive in order
}

// send signs sg and sends it to the remote peer; a signal that cannot be
// sent is as good as lost on the way, which the handshake survives.
func (c *signedChannel) send(ctx context.Context, sg wire.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth.Seal(&sg)
	if err := c.sig.Send(ctx, c.remote, sg.Encode()); err != nil {
		c.log.Debug("signal not sent", "to", c.remote, "kind", sg.Kind, "err", err)
	}
}

// receive checks one signal from the remote peer and hands it to p. It
// returns an error only when the negotiation must end:
//   - a bye, signed or not: whoever could forge one could as well drop
//     messages;
//   - an offer or answer that fails its check: it names the DTLS
//     certificate, so the other side is told it was tampered with;
//   - an offer Pion cannot take.
//
// Anything else that fails its check (a replay, a forged candidate) is
// dropped: its author could as well have withheld the real one.
func (c *signedChannel) receive(ctx context.Context, sg wire.Signal, p *peer.Peer) error {
	if sg.Kind == wire.SignalBye {
		return byeError(sg)
	}
	description := sg.Kind == wire.SignalOffer || sg.Kind == wire.SignalAnswer
	err := c.auth.Open(sg)
	switch {
	case err == nil:
		if err := p.HandleSignal(sg); err != nil {
			if sg.Kind == wire.SignalOffer {
				return fmt.Errorf("%w: %v", peer.ErrFailed, err)
			}
			c.log.Warn("bad signal", "from", c.remote, "kind", sg.Kind, "err", err)
		}
	case description && errors.Is(err, wire.ErrAuth):
		c.log.Warn("refusing a description that fails its check", "from", c.remote, "kind", sg.Kind, "err", err)
		c.send(ctx, wire.Signal{Kind: wire.SignalBye, Code: wire.ByeTampered})
		return ErrTampered
	default:
		c.log.Warn("dropping a signal that fails its check", "from", c.remote, "kind", sg.Kind, "err", err)
	}
	return nil
}
