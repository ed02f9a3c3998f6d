package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/epicshare/epicshare/internal/wire"
)

const (
	id     = "AAAAAAAAAAAAAAAAAAAAAA"
	secret = "BBBBBBBBBBBBBBBBBBBBBA"
)

func TestIDs(t *testing.T) {
	a, b := wire.NewPeerID(), wire.NewPeerID()
	if a == b || !wire.ValidPeerID(a) || !wire.ValidSecret(wire.NewSecret()) {
		t.Fatalf("ids %q %q", a, b)
	}
	for _, bad := range []string{"", "short", id + "A", "AAAAAAAAAAAAAAAAAAAA/A", "AAAAAAAAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBBBBBBBBB"} {
		if wire.ValidPeerID(bad) {
			t.Errorf("ValidPeerID(%q) = true", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	a, b := wire.NewToken(), wire.NewToken()
	if a == b || !wire.ValidToken(a) || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if id := wire.TokenID(a); !wire.ValidPeerID(id) || id != wire.TokenID(a) || id == wire.TokenID(b) {
		t.Fatalf("TokenID %q is not a deterministic peer ID", id)
	}
	// The derivation is fixed by the protocol: SHA-256 of the token's
	// characters, cut to 16 bytes, base64url (computed by hand here).
	if got := wire.TokenID(strings.Repeat("A", 42) + "E"); got != "GuswXq5j7W6smrJtRu8Uag" {
		t.Errorf("TokenID = %q", got)
	}
	for _, bad := range []string{
		"", "short", id, a + "A", a[:42], strings.Repeat("A", 42) + "B", // non-zero padding bits
		strings.Repeat("A", 42) + "=", strings.Repeat("A", 42) + "/", strings.Repeat("A", 42) + "+",
		strings.Repeat("A", 41) + " E", strings.Repeat("é", 21) + "A",
	} {
		if wire.ValidToken(bad) {
			t.Errorf("ValidToken(%q) = true", bad)
		}
	}
}

func TestParseLink(t *testing.T) {
	for _, tc := range []struct {
		in, server string
		kind       wire.LinkKind
	}{
		{"http://192.168.1.5:8080/s/" + id + "#" + secret, "http://192.168.1.5:8080", wire.ShareLink},
		{"https://share.example.org/s/" + id + "#" + secret, "https://share.example.org", wire.ShareLink},
		{"https://example.org/epic/s/" + id + "/#" + secret, "https://example.org/epic", wire.ShareLink},
		{"  http://[::1]:80/s/" + id + "#" + secret + "\n", "http://[::1]:80", wire.ShareLink},
		{"http://192.168.1.5:8080/r/" + id + "#" + secret, "http://192.168.1.5:8080", wire.ReceiveLink},
		{"https://example.org/s/r/" + id + "#" + secret, "https://example.org/s", wire.ReceiveLink},
		{"https://example.org/r/s/" + id + "#" + secret, "https://example.org/r", wire.ShareLink},
	} {
		l, err := wire.ParseLink(tc.in)
		if err != nil {
			t.Errorf("ParseLink(%q): %v", tc.in, err)
			continue
		}
		if l.Server.String() != tc.server || l.ID != id || l.Secret != secret || l.Kind != tc.kind {
			t.Errorf("ParseLink(%q) = %v %q %q %v", tc.in, l.Server, l.ID, l.Secret, l.Kind)
		}
		again, err := wire.ParseLink(l.String())
		if err != nil || again.String() != l.String() {
			t.Errorf("round trip of %q: %q, %v", l.String(), again.String(), err)
		}
	}
	for _, bad := range []string{
		"", "hello", "ftp://h/s/" + id + "#" + secret, "http:///s/" + id + "#" + secret,
		"http://h/x/" + id + "#" + secret, "http://h/s/" + id, "http://h/s/" + id + "#short",
		"http://h/s/short#" + secret, "http://user:pw@h/s/" + id + "#" + secret,
		"http://h/s/" + strings.Repeat("A", 3000) + "#" + secret,
		"http://h/r/" + id, "http://h/r/short#" + secret, "http://h/R/" + id + "#" + secret,
	} {
		if _, err := wire.ParseLink(bad); !errors.Is(err, wire.ErrBadLink) {
			t.Errorf("ParseLink(%q) = %v, want ErrBadLink", bad, err)
		}
	}
}

func TestSocketURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:1":       "ws://h:1/ws",
		"https://h/x/":     "wss://h/x/ws",
		"ws://h:2/ws":      "ws://h:2/ws",
		"wss://h/p/ws?q#f": "wss://h/p/ws",
	} {
		u, err := wire.ParseServer(in)
		if err != nil {
			t.Errorf("ParseServer(%q): %v", in, err)
			continue
		}
		if got := wire.SocketURL(u); got != want {
			t.Errorf("SocketURL(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"h:1", "ftp://h", "http://"} {
		if _, err := wire.ParseServer(bad); err == nil {
			t.Errorf("ParseServer(%q) accepted", bad)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	good := []string{
		`{"type":"welcome","id":"` + id + `"}`,
		`{"type":"send","to":"` + id + `","data":{"kind":"hello"}}`,
		`{"type":"message","from":"` + id + `","data":{}}`,
		`{"type":"left","peer":"` + id + `"}`,
		`{"type":"error","code":"unknown-peer","to":"` + id + `"}`,
		`{"type":"welcome","id":"` + id + `","ice":[{"urls":["stun:198.51.100.1:3478"]},{"urls":["turn:share.example.org:3478?transport=udp","turns:[2001:db8::1]:5349"],"username":"1:x","credential":"c"}]}`,
		`{"type":"ice","ice":[{"urls":["turn:h:3478?transport=tcp"],"username":"1:x","credential":"c"}]}`,
		`{"type":"ice"}`,
	}
	for _, s := range good {
		if _, err := wire.DecodeEnvelope([]byte(s)); err != nil {
			t.Errorf("DecodeEnvelope(%s): %v", s, err)
		}
	}
	bad := []string{
		``, `null`, `[]`, `{"type":"nope"}`, `{"type":"send","to":"x","data":1}`,
		`{"type":"send","to":"` + id + `"}`, `{"type":"welcome"}`, `{"type":"error"}`, `{"type":"left"}`,
		`{"type":"ice","ice":[{"urls":[]}]}`, `{"type":"ice","ice":[{"urls":["http://example.org"]}]}`,
		`{"type":"ice","ice":[{"urls":["turn:"]}]}`, `{"type":"ice","ice":[{"urls":["turn:user:pw@host"]}]}`,
		`{"type":"ice","ice":[{"urls":"stun:h"}]}`,
		`{"type":"ice","ice":[` + strings.Repeat(`{"urls":["stun:h"]},`, 8) + `{"urls":["stun:h"]}]}`,
	}
	for _, s := range bad {
		if _, err := wire.DecodeEnvelope([]byte(s)); !errors.Is(err, wire.ErrBadEnvelope) {
			t.Errorf("DecodeEnvelope(%s) = %v, want ErrBadEnvelope", s, err)
		}
	}
}

func TestDecodeSignal(t *testing.T) {
	for _, s := range []wire.Signal{
		{Kind: wire.SignalHello},
		{Kind: wire.SignalOffer, SDP: "v=0"},
		{Kind: wire.SignalCandidate, Candidate: &wire.Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}},
		{Kind: wire.SignalBye, Reason: "bye"},
	} {
		got, err := wire.DecodeSignal(s.Encode())
		if err != nil || got.Kind != s.Kind {
			t.Errorf("round trip %+v: %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{`{}`, `{"kind":"offer"}`, `{"kind":"candidate"}`, `{"kind":"x"}`, `{"kind":"offer","sdp":"` + strings.Repeat("a", wire.MaxSDP+1) + `"}`} {
		if _, err := wire.DecodeSignal([]byte(s)); !errors.Is(err, wire.ErrBadSignal) {
			t.Errorf("DecodeSignal(%.40s) = %v", s, err)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add("http://192.168.1.5:8080/s/" + id + "#" + secret)
	f.Add("https://h/p/s/" + id + "/#" + secret)
	f.Add("http://h/s/%2e%2e#" + secret)
	f.Add("http://h/r/" + id + "#" + secret)
	f.Fuzz(func(t *testing.T, s string) {
		l, err := wire.ParseLink(s)
		if err != nil {
			return
		}
		if !wire.ValidPeerID(l.ID) || !wire.ValidSecret(l.Secret) {
			t.Fatalf("accepted %q with bad parts", s)
		}
		again, err := wire.ParseLink(l.String())
		if err != nil || again.String() != l.String() || again.Secret != l.Secret || again.ID != l.ID || again.Kind != l.Kind {
			t.Fatalf("round trip of %q: %q, %v", l.String(), again.String(), err)
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"type":"send","to":"` + id + `","data":{"kind":"hello"}}`))
	f.Add([]byte(`{"type":"welcome","id":"` + id + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := wire.DecodeEnvelope(b)
		if err != nil {
			return
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("accepted envelope does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeSignal(f *testing.F) {
	f.Add([]byte(`{"kind":"offer","sdp":"v=0"}`))
	f.Add([]byte(`{"kind":"candidate","candidate":{"candidate":"","sdpMid":"0"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := wire.DecodeSignal(b)
		if err != nil {
			return
		}
		if _, err := wire.DecodeSignal(s.Encode()); err != nil {
			t.Fatalf("accepted signal does not round trip: %v", err)
		}
	})
}
