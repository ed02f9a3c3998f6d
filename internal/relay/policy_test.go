package relay

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"
)

// TestPermissionPolicy asks a server without Allow for permissions
// through a real client: relayConn.WriteTo sends the CreatePermission.
// pion's client encodes an IPv4-mapped address as IPv4 on the wire, so
// the mapped cases here reach the server as plain IPv4; TestMappedPeer
// sends one as IPv6.
func TestPermissionPolicy(t *testing.T) {
	own := net.ParseIP("203.0.113.9") // the server's PublicIP, a public address
	s := newServer(t, Config{PublicIP: own})
	relay := allocate(t, newClient(t, s, creds("peer")))
	for _, tc := range []struct {
		ip     string
		reason string // "" for granted
	}{
		{"127.0.0.1", reasonLoopback},
		{"10.0.0.1", reasonPrivate},
		{"172.16.0.1", reasonPrivate},
		{"192.168.1.1", reasonPrivate},
		{"100.64.0.1", reasonCGNAT},
		{"169.254.1.1", reasonLinkLocal},
		{"169.254.169.254", reasonLinkLocal},
		{"::ffff:127.0.0.1", reasonLoopback},
		{"::ffff:10.0.0.1", reasonPrivate},
		{"224.0.0.1", reasonMulticast},
		{"255.255.255.255", reasonBroadcast},
		{"0.0.0.0", reasonUnspecified},
		{own.String(), reasonOwnAddress},
		{"198.51.100.7", ""},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			before := refusals(t, s)
			var counted float64
			if tc.reason != "" {
				counted = metric(t, s, "epicshare_turn_refused_total", tc.reason)
			}
			_, err := relay.WriteTo([]byte("hello"), &net.UDPAddr{IP: net.ParseIP(tc.ip), Port: 9})
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("permission to a public address refused: %v", err)
				}
				if got := refusals(t, s); got != before {
					t.Errorf("refusals went from %v to %v", before, got)
				}
				return
			}
			if code := turnCode(err); code != 403 {
				t.Fatalf("WriteTo: %v (code %d), want 403 Forbidden", err, code)
			}
			if got := metric(t, s, "epicshare_turn_refused_total", tc.reason) - counted; got != 1 {
				t.Errorf("refused{%s} grew by %v, want 1", tc.reason, got)
			}
		})
	}
}

// TestMappedPeer sends what a hostile client could: an IPv4 peer in an
// IPv6 XOR-PEER-ADDRESS (::ffff:10.0.0.1), which pion passes on to the
// permission handler as a 16-byte IP.
func TestMappedPeer(t *testing.T) {
	s := newServer(t, Config{})
	cr := creds("peer")
	c := newClient(t, s, cr)
	allocate(t, c)
	server := s.Addr()

	// A request without credentials fetches the nonce.
	challenge, err := c.PerformTransaction(stun.MustBuild(stun.TransactionID,
		stun.NewType(stun.MethodCreatePermission, stun.ClassRequest)), server, false)
	if err != nil {
		t.Fatal(err)
	}
	var nonce stun.Nonce
	if err := nonce.GetFrom(challenge.Msg); err != nil {
		t.Fatalf("no nonce in the challenge: %v", err)
	}
	before := metric(t, s, "epicshare_turn_refused_total", reasonPrivate)
	res, err := c.PerformTransaction(stun.MustBuild(stun.TransactionID,
		stun.NewType(stun.MethodCreatePermission, stun.ClassRequest),
		ipv6PeerAddress{net.ParseIP("::ffff:10.0.0.1"), 9},
		stun.NewUsername(cr.user), stun.NewRealm(Realm), nonce,
		stun.NewLongTermIntegrity(cr.user, Realm, cr.pass), stun.Fingerprint), server, false)
	if err != nil {
		t.Fatal(err)
	}
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(res.Msg); err != nil || code.Code != stun.CodeForbidden {
		t.Fatalf("response %v (%v), want 403", res.Msg, err)
	}
	if got := metric(t, s, "epicshare_turn_refused_total", reasonPrivate) - before; got != 1 {
		t.Errorf("refused{private} grew by %v, want 1", got)
	}
}

// ipv6PeerAddress is an XOR-PEER-ADDRESS of family IPv6 whatever the IP.
type ipv6PeerAddress struct {
	ip   net.IP
	port int
}

func (a ipv6PeerAddress) AddTo(m *stun.Message) error {
	const magicCookie = 0x2112A442
	key := binary.BigEndian.AppendUint32(nil, magicCookie)
	key = append(key, m.TransactionID[:]...)
	v := make([]byte, 20)
	v[1] = 0x02 // IPv6
	binary.BigEndian.PutUint16(v[2:4], uint16(a.port)^uint16(magicCookie>>16))
	for i, b := range a.ip.To16() {
		v[4+i] = b ^ key[i]
	}
	m.Add(stun.AttrXORPeerAddress, v)
	return nil
}

func TestPolicyJudge(t *testing.T) {
	p := &policy{
		own: map[netip.Addr]bool{netip.MustParseAddr("203.0.113.9"): true, netip.MustParseAddr("2001:db8::9"): true},
	}
	allowing := &policy{
		allow: unmapPrefixes([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::ffff:10.1.0.0/112")}),
		own:   map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true},
	}
	for _, tc := range []struct {
		p      *policy
		ip     string
		reason string
	}{
		{p, "8.8.8.8", ""},
		{p, "2001:4860:4860::8888", ""},
		{p, "127.0.0.1", reasonLoopback},
		{p, "127.255.0.1", reasonLoopback},
		{p, "::1", reasonLoopback},
		{p, "::ffff:127.0.0.1", reasonLoopback},
		{p, "::ffff:192.168.0.1", reasonPrivate},
		{p, "::ffff:100.64.0.1", reasonCGNAT},
		{p, "100.127.255.255", reasonCGNAT},
		{p, "100.128.0.1", ""},
		{p, "0.0.0.0", reasonUnspecified},
		{p, "0.1.2.3", reasonUnspecified},
		{p, "::", reasonUnspecified},
		{p, "fe80::1", reasonLinkLocal},
		{p, "fd00::1", reasonULA},
		{p, "fc00::1", reasonULA},
		{p, "fec0::1", reasonULA},
		{p, "ff02::1", reasonMulticast},
		{p, "239.255.255.250", reasonMulticast},
		{p, "255.255.255.255", reasonBroadcast},
		{p, "240.0.0.1", reasonReserved},
		{p, "64:ff9b::10.0.0.1", reasonPrivate},
		{p, "64:ff9b::8.8.8.8", ""},
		{p, "2002:7f00:1::", reasonLoopback},
		{p, "203.0.113.9", reasonOwnAddress},
		{p, "::ffff:203.0.113.9", reasonOwnAddress},
		{p, "2001:db8::9", reasonOwnAddress},
		{allowing, "127.0.0.1", ""}, // Allow opens the server's own address too
		{allowing, "127.0.0.2", ""},
		{allowing, "::ffff:127.0.0.3", ""},
		{allowing, "10.0.0.1", reasonPrivate},
		{allowing, "10.1.2.3", ""}, // a mapped prefix in Allow
		{p, "10.1.2.3", reasonPrivate},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			if got := tc.p.judge(net.ParseIP(tc.ip)); got != tc.reason {
				t.Errorf("judge(%s) = %q, want %q", tc.ip, got, tc.reason)
			}
		})
	}
}
