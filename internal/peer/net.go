package peer

import (
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// udpBuffer is the socket buffer size asked for each ICE socket. The
// default (about 208 KiB on Linux) overflows at data channel speeds, and
// every packet dropped there costs SCTP a retransmission. The kernel caps
// the request at net.core.rmem_max / wmem_max.
const udpBuffer = 4 << 20

// bufferedNet is the machine's network with larger UDP socket buffers,
// batched writes (see batchConn) and a QUIC path beside ICE's (see
// socket). It keeps no state: every call that
// lists interfaces looks again, so a peer connection made after a network
// change sees the new addresses.
type bufferedNet struct {
	*stdnet.Net // for its stateless methods: dial, listen, resolve
}

func newBufferedNet() transport.Net { return bufferedNet{&stdnet.Net{}} }

func (bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	// Best effort: a smaller buffer still works, only slower.
	c.SetReadBuffer(udpBuffer)
	c.SetWriteBuffer(udpBuffer)
	return newSocket(c), nil
}

func (bufferedNet) fresh() (*stdnet.Net, error) { return stdnet.NewNet() }

func (n bufferedNet) Interfaces() ([]*transport.Interface, error) {
	s, err := n.fresh()
	if err != nil {
		return nil, err
	}
	return s.Interfaces()
}

func (n bufferedNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	s, err := n.fresh()
	if err != nil {
		return nil, err
	}
	return s.InterfaceByIndex(index)
}

func (n bufferedNet) InterfaceByName(name string) (*transport.Interface, error) {
	s, err := n.fresh()
	if err != nil {
		return nil, err
	}
	return s.InterfaceByName(name)
}
