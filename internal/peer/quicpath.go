package peer

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// quicPath is the net.PacketConn QUIC runs on: the datagrams of the
// candidate pair ICE selected, on ICE's own socket (see socket). It has
// one remote, whatever address that pair has: when ICE moves to another
// pair (after a restart, say), the path moves with it and QUIC sees
// nothing change. While the selected pair is relayed, or its socket is
// gone, the path has no route and drops what QUIC writes, as a network
// would.
type quicPath struct {
	peer  *net.UDPAddr // the address QUIC is shown for the remote
	local net.Addr

	in     chan *[]byte
	route  atomic.Pointer[route]
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // closed and replaced when the deadline changes
}

// route is where a path's datagrams go: the socket and the remote
// address of the selected pair.
type route struct {
	sock   *socket
	remote netip.AddrPort
}

// pathQueue is how many datagrams a path holds for QUIC; more are
// dropped, as a full socket buffer would, and QUIC slows down.
const pathQueue = 2048

// packets are the buffers datagrams wait in between ICE's read loop and
// QUIC's.
var packets = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

func newQUICPath(r route) *quicPath {
	q := &quicPath{
		peer:   net.UDPAddrFromAddrPort(r.remote),
		local:  r.sock.LocalAddr(),
		in:     make(chan *[]byte, pathQueue),
		closed: make(chan struct{}),
		wake:   make(chan struct{}),
	}
	q.moveTo(&r)
	return q
}

// moveTo routes the path through r, or nowhere when r is nil.
func (q *quicPath) moveTo(r *route) {
	select {
	case <-q.closed:
		return
	default:
	}
	if r != nil {
		r.remote = plain(r.remote)
	}
	old := q.route.Swap(r)
	if old != nil && (r == nil || old.sock != r.sock) {
		old.sock.quic.CompareAndSwap(q, nil)
	}
	if r != nil {
		if old != nil && old.sock != r.sock {
			dontFragment(r.sock)
		}
		r.sock.quic.Store(q)
	}
}

// lose drops the route through s (it closed).
func (q *quicPath) lose(s *socket) {
	if r := q.route.Load(); r != nil && r.sock == s {
		q.route.CompareAndSwap(r, nil)
	}
}

// deliver queues a datagram s read from from, if it belongs to the path.
func (q *quicPath) deliver(s *socket, b []byte, from netip.AddrPort) bool {
	r := q.route.Load()
	if r == nil || r.sock != s || plain(from) != r.remote {
		return false
	}
	p := packets.Get().(*[]byte)
	*p = append((*p)[:0], b...)
	select {
	case q.in <- p:
	default:
		packets.Put(p)
	}
	return true
}

// ReadFrom returns the next datagram of the path.
func (q *quicPath) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		q.mu.Lock()
		deadline, wake := q.deadline, q.wake
		q.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		var p *[]byte
		var err error
		select {
		case p = <-q.in:
		case <-q.closed:
			err = net.ErrClosed
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		switch {
		case p != nil:
			n := copy(b, *p)
			packets.Put(p)
			return n, q.peer, nil
		case err != nil:
			return 0, nil, err
		}
	}
}

// WriteTo sends b along the route, whatever addr says (it is q.peer).
func (q *quicPath) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-q.closed:
		return 0, net.ErrClosed
	default:
	}
	r := q.route.Load()
	if r == nil {
		return len(b), nil // no route: lost, as on a network
	}
	r.sock.WriteToAddrPort(b, r.remote) // an error drops it; QUIC retransmits
	return len(b), nil
}

// Close detaches the path from its socket; reads end with net.ErrClosed.
func (q *quicPath) Close() error {
	q.once.Do(func() {
		q.moveTo(nil)
		close(q.closed)
	})
	return nil
}

func (q *quicPath) LocalAddr() net.Addr { return q.local }

// SetReadDeadline sets the deadline of ReadFrom.
func (q *quicPath) SetReadDeadline(t time.Time) error {
	q.mu.Lock()
	q.deadline = t
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
	return nil
}

// SetDeadline sets the read deadline; writes never block.
func (q *quicPath) SetDeadline(t time.Time) error { return q.SetReadDeadline(t) }

func (q *quicPath) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer and SetWriteBuffer keep QUIC from asking: the socket's
// buffers were sized when ICE opened it (see udpBuffer).
func (q *quicPath) SetReadBuffer(int) error  { return nil }
func (q *quicPath) SetWriteBuffer(int) error { return nil }

// routeOf is the route of a selected candidate pair, if QUIC can take
// it: a direct (host, server- or peer-reflexive) pair on a socket of
// this process.
func routeOf(pair *webrtc.ICECandidatePair) (route, bool) {
	if pair == nil || pair.Local == nil || pair.Remote == nil ||
		pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay {
		return route{}, false
	}
	remote, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return route{}, false // an mDNS name: a browser's, which speaks no QUIC
	}
	addr, port := pair.Local.Address, pair.Local.Port
	if pair.Local.Typ != webrtc.ICECandidateTypeHost {
		addr, port = pair.Local.RelatedAddress, pair.Local.RelatedPort // the socket it came from
	}
	local, err := netip.ParseAddr(addr)
	if err != nil {
		return route{}, false
	}
	s := socketAt(netip.AddrPortFrom(local, port))
	if s == nil {
		return route{}, false
	}
	return route{sock: s, remote: netip.AddrPortFrom(remote, pair.Remote.Port)}, true
}
