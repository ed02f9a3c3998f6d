package peer

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// dfPath is a quicPath that shows QUIC its socket, so that quic-go sets
// the don't-fragment bit on it and probes the path's MTU (DPLPMTUD, RFC
// 8899): on a 1500-byte link its packets grow from 1,280 to 1,452 bytes,
// an eighth fewer for the same data, while a path with a smaller MTU
// simply never acknowledges the larger probes. Only QUIC's own packets
// get large: Pion's stay under 1,200 bytes.
type dfPath struct{ *quicPath }

func (p dfPath) SyscallConn() (syscall.RawConn, error) {
	r := p.route.Load()
	if r == nil {
		return nil, net.ErrClosed
	}
	return r.sock.udp.SyscallConn()
}

func packetConn(q *quicPath) net.PacketConn { return dfPath{q} }

// dontFragment sets on s what quic-go sets on the socket it is shown:
// for a path that moves to another socket (see quicPath.moveTo).
func dontFragment(s *socket) {
	raw, err := s.udp.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
	})
}
