package peer

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
)

// socket is one UDP socket ICE gathers on: its writes batched (see
// batchConn), and its reads split between ICE and, once a QUIC path is
// attached (see quicPath), QUIC. The two share the socket, and with it
// the address pair ICE checked and NATs opened, the way DTLS shares it
// with STUN.
//
// The first byte tells them apart (RFC 7983, RFC 9443): STUN starts
// with 0–3 and DTLS with 20–63, while every QUIC packet has the fixed
// bit 0x40 set. TURN channel data (64–79) never reaches a socket a QUIC
// path is attached to, since QUIC runs on direct pairs only, and a
// packet goes to QUIC only when it comes from the path's remote address.
type socket struct {
	transport.UDPConn // writes (batched on Linux), deadlines, Close
	udp               *net.UDPConn
	local             netip.AddrPort // its address, as sockets keys it
	quic              atomic.Pointer[quicPath]
}

// sockets lists the open sockets by local address, so that the QUIC path
// can find the one under the candidate pair ICE selected.
var sockets = struct {
	sync.Mutex
	m map[netip.AddrPort]*socket
}{m: map[netip.AddrPort]*socket{}}

func newSocket(c *net.UDPConn) *socket {
	s := &socket{UDPConn: newBatchConn(c), udp: c}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
		s.local = plain(a.AddrPort())
		sockets.Lock()
		sockets.m[s.local] = s
		sockets.Unlock()
	}
	return s
}

// plain is ap without an IPv4-in-IPv6 mapping or a zone, so that the
// same address compares equal however a socket reports it.
func plain(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// socketAt is the open socket bound to local or, failing that, the only
// one bound to its port.
func socketAt(local netip.AddrPort) *socket {
	local = plain(local)
	sockets.Lock()
	defer sockets.Unlock()
	if s := sockets.m[local]; s != nil {
		return s
	}
	var found *socket
	for ap, s := range sockets.m {
		if ap.Port() == local.Port() {
			if found != nil {
				return nil
			}
			found = s
		}
	}
	return found
}

// ReadFromAddrPort reads the next datagram meant for ICE (which uses
// this method when present); QUIC's datagrams go to the path on the way.
func (s *socket) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(b)
		if err == nil && n > 0 && b[0]&0x40 != 0 {
			if q := s.quic.Load(); q != nil && q.deliver(s, b[:n], from) {
				continue
			}
		}
		return n, from, err
	}
}

// ReadFrom is ReadFromAddrPort with a net.Addr.
func (s *socket) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := s.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteToAddrPort writes through the batch, if there is one.
func (s *socket) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if w, ok := s.UDPConn.(interface {
		WriteToAddrPort([]byte, netip.AddrPort) (int, error)
	}); ok {
		return w.WriteToAddrPort(b, to)
	}
	return s.udp.WriteToUDPAddrPort(b, to)
}

// Close forgets the socket and closes it; a QUIC path on it loses its
// route until ICE selects another pair.
func (s *socket) Close() error {
	sockets.Lock()
	if sockets.m[s.local] == s {
		delete(sockets.m, s.local)
	}
	sockets.Unlock()
	if q := s.quic.Swap(nil); q != nil {
		q.lose(s)
	}
	return s.UDPConn.Close()
}
