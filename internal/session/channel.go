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
	self   *Device    // this device, proven in its offer or answer; nil: none
	want   string     // the device ID the remote must prove, if any
	mu     sync.Mutex // from Seal to Send, so sequence numbers arrive in order

	dmu     sync.Mutex
	offerFP string        // the offer's DTLS fingerprint, once sent or received
	device  *RemoteDevice // the device the remote proved it is
}

// send signs sg and sends it to the remote peer; a signal that cannot be
// sent is as good as lost on the way, which the handshake survives.
func (c *signedChannel) send(ctx context.Context, sg wire.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth.Seal(&sg)
	c.prove(&sg)
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
	if err == nil && description {
		if err := c.checkDevice(sg); err != nil {
			c.log.Warn("refusing a description", "from", c.remote, "kind", sg.Kind, "err", err)
			code := wire.ByeTampered
			if errors.Is(err, ErrWrongDevice) {
				code = wire.ByeWrongDevice
			}
			c.send(ctx, wire.Signal{Kind: wire.SignalBye, Code: code})
			return err
		}
	}
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

// prove adds this device's proof to an outgoing offer or answer, and
// notes an offer's fingerprint.
func (c *signedChannel) prove(sg *wire.Signal) {
	if sg.Kind != wire.SignalOffer && sg.Kind != wire.SignalAnswer {
		return
	}
	c.dmu.Lock()
	defer c.dmu.Unlock()
	answerFP := ""
	if sg.Kind == wire.SignalOffer {
		c.offerFP = wire.SDPFingerprint(sg.SDP)
	} else {
		answerFP = wire.SDPFingerprint(sg.SDP)
	}
	if c.self == nil || c.offerFP == "" {
		return
	}
	g, h := c.auth.Nonces()
	sg.Device = wire.ProveDevice(c.self.Key, c.self.Name, sg.Kind, g, h, c.offerFP, answerFP)
}

// checkDevice checks the device proof of an incoming offer or answer
// (signed with the link's key already): one that does not verify was
// tampered with; without one, or with another device's, a remote that
// had to be a given device is refused.
func (c *signedChannel) checkDevice(sg wire.Signal) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	answerFP := ""
	if sg.Kind == wire.SignalOffer {
		c.offerFP = wire.SDPFingerprint(sg.SDP)
	} else {
		answerFP = wire.SDPFingerprint(sg.SDP)
	}
	if sg.Device != nil {
		g, h := c.auth.Nonces()
		id, err := sg.Device.Verify(sg.Kind, g, h, c.offerFP, answerFP)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrTampered, err)
		}
		if c.device != nil && c.device.ID != id {
			return fmt.Errorf("%w: another device's proof in a later %s", ErrTampered, sg.Kind)
		}
		c.device = &RemoteDevice{ID: id, Name: sg.Device.Name}
	}
	if c.want != "" && (c.device == nil || c.device.ID != c.want) {
		return ErrWrongDevice
	}
	return nil
}

// remoteDevice is the device the remote proved it is, nil if it did not.
func (c *signedChannel) remoteDevice() *RemoteDevice {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	return c.device
}
