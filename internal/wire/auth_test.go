package wire_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"testing"

	"github.com/epicshare/epicshare/internal/wire"
)

// TestDeriveKeyIsRFC5869 recomputes HKDF-SHA256 by hand (RFC 5869 with one
// block of output), as the browser page does without WebCrypto.
func TestDeriveKeyIsRFC5869(t *testing.T) {
	k, err := wire.DeriveKey(secret, wire.ShareLink)
	if err != nil {
		t.Fatal(err)
	}
	ikm, _ := base64.RawURLEncoding.DecodeString(secret)
	mac := func(key, msg []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		return m.Sum(nil)
	}
	prk := mac([]byte(wire.AuthSalt), ikm)
	okm := mac(prk, append([]byte(wire.AuthInfo), 1))
	if string(okm) != string(k[:]) {
		t.Fatalf("DeriveKey = %x, want %x", k, okm)
	}
	if _, err := wire.DeriveKey("short", wire.ShareLink); err == nil {
		t.Error("DeriveKey accepted a bad secret")
	}
}

func handshake(t *testing.T) (r, s *wire.Auth, key wire.Key) {
	t.Helper()
	key, err := wire.DeriveKey(wire.NewSecret(), wire.ShareLink)
	if err != nil {
		t.Fatal(err)
	}
	r, s = wire.NewGuestAuth(key), wire.NewHostAuth(key)
	hello := wire.Signal{Kind: wire.SignalHello}
	r.Seal(&hello)
	if err := s.Open(hello); err != nil {
		t.Fatalf("hello: %v", err)
	}
	offer := wire.Signal{Kind: wire.SignalOffer, SDP: "v=0\r\na=fingerprint:sha-256 AA\r\n"}
	s.Seal(&offer)
	if err := r.Open(offer); err != nil {
		t.Fatalf("offer: %v", err)
	}
	return r, s, key
}

func candidate(line string) wire.Signal {
	mid, idx := "0", uint16(0)
	return wire.Signal{Kind: wire.SignalCandidate, Candidate: &wire.Candidate{Candidate: line, SDPMid: &mid, SDPMLineIndex: &idx}}
}

func TestHandshakeRoundTrip(t *testing.T) {
	r, s, _ := handshake(t)
	answer := wire.Signal{Kind: wire.SignalAnswer, SDP: "v=0 answer"}
	r.Seal(&answer)
	if err := s.Open(answer); err != nil {
		t.Fatalf("answer: %v", err)
	}
	for i, line := range []string{"candidate:1", "candidate:2"} {
		c := candidate(line)
		s.Seal(&c)
		if err := r.Open(c); err != nil {
			t.Fatalf("candidate %d to the receiver: %v", i, err)
		}
		c = candidate(line)
		r.Seal(&c)
		if err := s.Open(c); err != nil {
			t.Fatalf("candidate %d to the sender: %v", i, err)
		}
	}
}

func TestHandshakeRefusals(t *testing.T) {
	t.Run("wrong secret", func(t *testing.T) {
		other, _ := wire.DeriveKey(wire.NewSecret(), wire.ShareLink)
		key, _ := wire.DeriveKey(wire.NewSecret(), wire.ShareLink)
		hello := wire.Signal{Kind: wire.SignalHello}
		wire.NewGuestAuth(other).Seal(&hello)
		if err := wire.NewHostAuth(key).Open(hello); !errors.Is(err, wire.ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("share link edited into a receive link", func(t *testing.T) {
		sec := wire.NewSecret()
		share, _ := wire.DeriveKey(sec, wire.ShareLink)
		recv, _ := wire.DeriveKey(sec, wire.ReceiveLink)
		hello := wire.Signal{Kind: wire.SignalHello}
		wire.NewGuestAuth(recv).Seal(&hello)
		if err := wire.NewHostAuth(share).Open(hello); !errors.Is(err, wire.ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("rewritten fingerprint", func(t *testing.T) {
		r, s, _ := handshake(t)
		answer := wire.Signal{Kind: wire.SignalAnswer, SDP: "a=fingerprint:sha-256 AA"}
		r.Seal(&answer)
		answer.SDP = "a=fingerprint:sha-256 EVIL"
		if err := s.Open(answer); !errors.Is(err, wire.ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("replayed candidate", func(t *testing.T) {
		r, s, _ := handshake(t)
		c := candidate("candidate:1")
		s.Seal(&c)
		if err := r.Open(c); err != nil {
			t.Fatal(err)
		}
		if err := r.Open(c); !errors.Is(err, wire.ErrReplay) {
			t.Fatalf("got %v, want ErrReplay", err)
		}
	})
	t.Run("reflected back to its signer", func(t *testing.T) {
		_, s, _ := handshake(t)
		c := candidate("candidate:1")
		s.Seal(&c)
		if err := s.Open(c); !errors.Is(err, wire.ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("offer replayed to another receiver", func(t *testing.T) {
		_, s, key := handshake(t)
		offer := wire.Signal{Kind: wire.SignalOffer, SDP: "v=0"}
		s.Seal(&offer)
		other := wire.NewGuestAuth(key)
		hello := wire.Signal{Kind: wire.SignalHello}
		other.Seal(&hello)
		if err := other.Open(offer); !errors.Is(err, wire.ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
	t.Run("second hello", func(t *testing.T) {
		r, s, _ := handshake(t)
		hello := wire.Signal{Kind: wire.SignalHello}
		r.Seal(&hello)
		if err := s.Open(hello); !errors.Is(err, wire.ErrReplay) {
			t.Fatalf("got %v, want ErrReplay", err)
		}
	})
	t.Run("replayed offer", func(t *testing.T) {
		r, s, _ := handshake(t)
		offer := wire.Signal{Kind: wire.SignalOffer, SDP: "v=0"}
		s.Seal(&offer)
		if err := r.Open(offer); err != nil {
			t.Fatalf("a restart offer is refused: %v", err)
		}
		if err := r.Open(offer); !errors.Is(err, wire.ErrReplay) {
			t.Fatalf("got %v, want ErrReplay", err)
		}
	})
	t.Run("offer from another handshake", func(t *testing.T) {
		r, _, key := handshake(t)
		other := wire.NewHostAuth(key)
		hello := wire.Signal{Kind: wire.SignalHello}
		wire.NewGuestAuth(key).Seal(&hello)
		other.Open(hello)
		offer := wire.Signal{Kind: wire.SignalOffer, SDP: "v=0"}
		other.Seal(&offer)
		if err := r.Open(offer); !errors.Is(err, wire.ErrReplay) {
			t.Fatalf("got %v, want ErrReplay", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		r, _, _ := handshake(t)
		if err := r.Open(candidate("candidate:9")); !errors.Is(err, wire.ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
	})
}

func TestVerificationCode(t *testing.T) {
	a := wire.VerificationCode("sha-256 AA:BB", "sha-256 CC:DD")
	if !regexp.MustCompile(`^\d{3} \d{3}$`).MatchString(a) {
		t.Fatalf("code %q", a)
	}
	if b := wire.VerificationCode("SHA-256 aa:bb", "sha-256 cc:dd"); b != a {
		t.Errorf("case changes the code: %q vs %q", a, b)
	}
	if c := wire.VerificationCode("sha-256 CC:DD", "sha-256 AA:BB"); c == a {
		t.Errorf("swapping roles gives the same code %q", c)
	}
	if fp := wire.SDPFingerprint("v=0\r\na=fingerprint:sha-256 AB:CD\r\na=x\r\n"); fp != "sha-256 AB:CD" {
		t.Errorf("SDPFingerprint = %q", fp)
	}
}
