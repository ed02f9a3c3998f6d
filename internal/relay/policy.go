package relay

import (
	"fmt"
	"net"
	"net/netip"
)

// policy decides which peer IPs a client may open a permission or a
// channel to. A TURN server sends datagrams wherever its clients ask, from
// inside the server's network: without a policy anyone holding a
// credential could reach services on the server's loopback, its LAN, its
// cloud provider's metadata address (169.254.169.254) or the relay
// itself. EpicShare peers only ever need public addresses of other peers.
//
// Refused, by reason:
//
//	unspecified  0.0.0.0/8, ::
//	loopback     127.0.0.0/8, ::1
//	private      10/8, 172.16/12, 192.168/16 (RFC 1918)
//	cgnat        100.64.0.0/10 (RFC 6598)
//	link-local   169.254.0.0/16, fe80::/10
//	ula          fc00::/7, and the deprecated site-local fec0::/10
//	multicast    224.0.0.0/4, ff00::/8
//	broadcast    255.255.255.255
//	reserved     240.0.0.0/4
//	own-address  the server's PublicIP, RelayIP and listen IP, and every
//	             address of its interfaces when it listens or relays on
//	             all addresses (read once, at New)
//
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry,
// as are NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses.
//
// Allow is checked first and opens everything it contains, the server's
// own addresses included: it is the operator's explicit word, and a relay
// tested on one machine (Allow 127.0.0.0/8) relays between relay sockets
// on its own address. Never put the server's public address in Allow in
// production: a client could then make the relay talk to itself.
type policy struct {
	allow []netip.Prefix
	own   map[netip.Addr]bool
}

// Reasons of epicshare_turn_refused_total from the policy.
const (
	reasonUnspecified = "unspecified"
	reasonLoopback    = "loopback"
	reasonPrivate     = "private"
	reasonCGNAT       = "cgnat"
	reasonLinkLocal   = "link-local"
	reasonULA         = "ula"
	reasonMulticast   = "multicast"
	reasonBroadcast   = "broadcast"
	reasonReserved    = "reserved"
	reasonOwnAddress  = "own-address"
)

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	reserved  = netip.MustParsePrefix("240.0.0.0/4")
	siteLocal = netip.MustParsePrefix("fec0::/10")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// judge returns why a permission to ip is refused, or "" to grant it.
func (p *policy) judge(ip net.IP) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return reasonUnspecified
	}
	return p.judgeAddr(a.Unmap().WithZone(""))
}

func (p *policy) judgeAddr(a netip.Addr) string {
	for _, allowed := range p.allow {
		if allowed.Contains(a) {
			return ""
		}
	}
	if v4, ok := embeddedIPv4(a); ok {
		return p.judgeAddr(v4)
	}
	if reason := class(a); reason != "" {
		return reason
	}
	if p.own[a] {
		return reasonOwnAddress
	}
	return ""
}

// class names the special range a is in, or "" for a public address.
func class(a netip.Addr) string {
	switch {
	case a.IsUnspecified() || a.Is4() && a.As4()[0] == 0:
		return reasonUnspecified
	case a.IsLoopback():
		return reasonLoopback
	case a == broadcast:
		return reasonBroadcast
	case a.IsMulticast():
		return reasonMulticast
	case a.IsLinkLocalUnicast():
		return reasonLinkLocal
	case cgnat.Contains(a):
		return reasonCGNAT
	case a.Is4() && a.IsPrivate():
		return reasonPrivate
	case a.IsPrivate() || siteLocal.Contains(a):
		return reasonULA
	case reserved.Contains(a):
		return reasonReserved
	}
	return ""
}

// embeddedIPv4 is the IPv4 address a NAT64 or 6to4 address reaches.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case !a.Is6():
		return netip.Addr{}, false
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// ownAddresses are the addresses a client must not make the relay send
// to: its own.
func ownAddresses(st settings) (map[netip.Addr]bool, error) {
	own := map[netip.Addr]bool{st.public: true, st.relay: true, st.listen: true}
	if !st.listen.IsUnspecified() && !st.relay.IsUnspecified() {
		return own, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list the machine's addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				own[ip.Unmap()] = true
			}
		}
	}
	return own, nil
}

// permit is pion's PermissionHandler, asked for each peer of a
// CreatePermission or ChannelBind request.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	reason := s.policy.judge(peer)
	if reason == "" && !s.relays.room(client, peer) {
		reason = reasonPermissionQuota
	}
	if reason != "" {
		s.refuse(reason, "client", client, "peer", peer)
		return false
	}
	return true
}
