package relay

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestICEServers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clk := &clock{t: now}
	s := newServer(t, Config{Now: clk.Now, TTL: 2 * time.Hour})
	named := newServer(t, Config{Now: clk.Now, Host: "turn.example.org"})
	for _, tc := range []struct {
		s          *Server
		host, want string
		ttl        time.Duration
	}{
		{s, "share.example.org:8080", "share.example.org", 2 * time.Hour},
		{s, "share.example.org", "share.example.org", 2 * time.Hour},
		{s, "[2001:db8::1]:443", "[2001:db8::1]", 2 * time.Hour},
		{s, "2001:db8::1", "[2001:db8::1]", 2 * time.Hour},
		{s, "10.0.0.5", "10.0.0.5", 2 * time.Hour},
		{s, "", "127.0.0.1", 2 * time.Hour}, // no host: the PublicIP
		{named, "share.example.org:8080", "turn.example.org", DefaultTTL},
	} {
		t.Run(tc.host, func(t *testing.T) {
			servers, expires := tc.s.ICEServers(tc.host, "peer")
			hp := tc.want + ":" + strconv.Itoa(tc.s.Addr().(*net.UDPAddr).Port)
			if len(servers) != 2 {
				t.Fatalf("%d servers, want 2", len(servers))
			}
			if want := []string{"stun:" + hp}; !slices.Equal(servers[0].URLs, want) || servers[0].Username != "" {
				t.Errorf("STUN server %+v, want URLs %v without credentials", servers[0], want)
			}
			want := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
			if !slices.Equal(servers[1].URLs, want) {
				t.Errorf("TURN URLs %v, want %v", servers[1].URLs, want)
			}
			if !expires.Equal(now.Add(tc.ttl)) {
				t.Errorf("expires %v, want now + %v", expires, tc.ttl)
			}
			user, pass := Credentials(testSecret, "peer", expires)
			if servers[1].Username != user || servers[1].Credential != pass {
				t.Errorf("credential %q/%q, want %q/%q", servers[1].Username, servers[1].Credential, user, pass)
			}
			if _, peer, ok := parseUsername(servers[1].Username); !ok || peer != "peer" {
				t.Errorf("username %q does not parse back to the peer", servers[1].Username)
			}
		})
	}
}
