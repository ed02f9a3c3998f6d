package peer

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/wire"
)

func TestParseICEServer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want wire.ICEServer
	}{
		{"stun:stun.example.org:3478", wire.ICEServer{URLs: []string{"stun:stun.example.org:3478"}}},
		{"  stun:198.51.100.1 ", wire.ICEServer{URLs: []string{"stun:198.51.100.1"}}},
		{"turn:turn.example.org:3478?transport=tcp alice s3cret", wire.ICEServer{URLs: []string{"turn:turn.example.org:3478?transport=tcp"}, Username: "alice", Credential: "s3cret"}},
		{"turn:alice:s3cret@turn.example.org:3478", wire.ICEServer{URLs: []string{"turn:turn.example.org:3478"}, Username: "alice", Credential: "s3cret"}},
		{"turns:bob:p@ss@turn.example.org", wire.ICEServer{URLs: []string{"turns:turn.example.org"}, Username: "bob", Credential: "p@ss"}},
	} {
		got, err := ParseICEServer(tc.in)
		if err != nil || got.URLs[0] != tc.want.URLs[0] || got.Username != tc.want.Username || got.Credential != tc.want.Credential {
			t.Errorf("ParseICEServer(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "stun.example.org", "http://example.org", "turn:turn.example.org:3478",
		"turn:turn.example.org alice", "stun:h alice s3cret", "stun:", "turn:h a b c",
		"turn:@h", "turn:alice@h",
	} {
		if _, err := ParseICEServer(bad); !errors.Is(err, ErrBadICEServer) {
			t.Errorf("ParseICEServer(%q) = %v, want ErrBadICEServer", bad, err)
		}
	}
}

func TestBadICEServersFromTheBrokerAreLeftOut(t *testing.T) {
	got := webrtcServers([]wire.ICEServer{
		{URLs: []string{"stun:198.51.100.1:3478"}},
		{URLs: []string{"turn:198.51.100.1:3478"}}, // no credentials
		{URLs: []string{"turn:198.51.100.1:3478?transport=udp"}, Username: "1:a", Credential: "c"},
		{URLs: []string{"http://198.51.100.1"}},
	}, slog.New(slog.DiscardHandler))
	if len(got) != 2 || got[0].URLs[0] != "stun:198.51.100.1:3478" || got[1].Username != "1:a" {
		t.Fatalf("kept %+v, want the two usable servers", got)
	}
	pc, err := NewAPI(Config{Interfaces: []string{"lo"}}).NewPeerConnection(webrtc.Configuration{ICEServers: got})
	if err != nil {
		t.Fatalf("Pion refuses what was kept: %v", err)
	}
	pc.Close()
}

func TestPathOf(t *testing.T) {
	c := func(typ webrtc.ICECandidateType, addr string) *webrtc.ICECandidate {
		return &webrtc.ICECandidate{Typ: typ, Address: addr}
	}
	host, srflx, prflx, relay := webrtc.ICECandidateTypeHost, webrtc.ICECandidateTypeSrflx, webrtc.ICECandidateTypePrflx, webrtc.ICECandidateTypeRelay
	for _, tc := range []struct {
		local, remote *webrtc.ICECandidate
		want          Path
	}{
		{c(host, "192.168.1.2"), c(host, "192.168.1.3"), PathDirect},
		{c(host, "10.250.0.1"), c(prflx, "10.250.0.1"), PathDirect}, // a browser's mDNS-hidden host
		{c(host, "10.1.0.2"), c(srflx, "198.51.100.3"), PathNAT},
		{c(host, "10.1.0.2"), c(prflx, "198.51.100.3"), PathNAT},
		{c(relay, "198.51.100.1"), c(prflx, "198.51.100.3"), PathRelay},
		{c(host, "10.1.0.2"), c(relay, "198.51.100.1"), PathRelay},
	} {
		if got := pathOf(tc.local, tc.remote); got != tc.want {
			t.Errorf("pathOf(%v %s, %v %s) = %v, want %v", tc.local.Typ, tc.local.Address, tc.remote.Typ, tc.remote.Address, got, tc.want)
		}
	}
}
