package wire_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/epicshare/epicshare/internal/wire"
)

// A device proof verifies only on the connection it was made for, and
// proves the ID of the key that made it.
func TestDeviceProof(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	g, h := wire.NewSecret(), wire.NewSecret()
	offerFP, answerFP := "sha-256 AA:BB", "sha-256 CC:DD"
	p := wire.ProveDevice(key, "Desk", wire.SignalAnswer, g, h, offerFP, answerFP)
	id, err := p.Verify(wire.SignalAnswer, g, h, offerFP, answerFP)
	if err != nil || id != wire.DeviceID(pub) {
		t.Fatalf("Verify = %q, %v; want %q", id, err, wire.DeviceID(pub))
	}
	if !wire.ValidPeerID(id) {
		t.Errorf("device ID %q is not shaped like a peer ID", id)
	}
	bad := map[string]func() (string, error){
		"another kind":        func() (string, error) { return p.Verify(wire.SignalOffer, g, h, offerFP, answerFP) },
		"another guest nonce": func() (string, error) { return p.Verify(wire.SignalAnswer, wire.NewSecret(), h, offerFP, answerFP) },
		"another host nonce":  func() (string, error) { return p.Verify(wire.SignalAnswer, g, wire.NewSecret(), offerFP, answerFP) },
		"another offer":       func() (string, error) { return p.Verify(wire.SignalAnswer, g, h, "sha-256 EE:FF", answerFP) },
		"another answer":      func() (string, error) { return p.Verify(wire.SignalAnswer, g, h, offerFP, "sha-256 EE:FF") },
		"no answer":           func() (string, error) { return p.Verify(wire.SignalAnswer, g, h, offerFP, "") },
		"renamed": func() (string, error) {
			q := *p
			q.Name = "Laptop"
			return q.Verify(wire.SignalAnswer, g, h, offerFP, answerFP)
		},
		"another key": func() (string, error) {
			q := *wire.ProveDevice(other, "Desk", wire.SignalAnswer, g, h, offerFP, answerFP)
			q.Sig = p.Sig
			return q.Verify(wire.SignalAnswer, g, h, offerFP, answerFP)
		},
		"garbled key": func() (string, error) {
			q := *p
			q.Key = "!!"
			return q.Verify(wire.SignalAnswer, g, h, offerFP, answerFP)
		},
	}
	for name, verify := range bad {
		if id, err := verify(); !errors.Is(err, wire.ErrBadDeviceProof) || id != "" {
			t.Errorf("%s: Verify = %q, %v; want ErrBadDeviceProof", name, id, err)
		}
	}
}

func TestDecodeSignalBoundsDeviceProofs(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	good := wire.Signal{Kind: wire.SignalAnswer, SDP: "v=0", Device: wire.ProveDevice(key, "Desk", wire.SignalAnswer, "g", "h", "o", "a")}
	if _, err := wire.DecodeSignal(good.Encode()); err != nil {
		t.Fatalf("a good proof: %v", err)
	}
	for name, spoil := range map[string]func(s *wire.Signal){
		"in a hello":     func(s *wire.Signal) { s.Kind, s.SDP = wire.SignalHello, "" },
		"a long name":    func(s *wire.Signal) { s.Device.Name = strings.Repeat("x", 64) },
		"a control char": func(s *wire.Signal) { s.Device.Name = "a\x1bb" },
		"a long key":     func(s *wire.Signal) { s.Device.Key = strings.Repeat("A", 65) },
		"a long sig":     func(s *wire.Signal) { s.Device.Sig = strings.Repeat("A", 129) },
	} {
		s := good
		d := *good.Device
		s.Device = &d
		spoil(&s)
		if _, err := wire.DecodeSignal(s.Encode()); !errors.Is(err, wire.ErrBadSignal) {
			t.Errorf("%s: %v, want ErrBadSignal", name, err)
		}
	}
}
