//go:build !linux

package peer

import "net"

// Elsewhere QUIC is not shown its socket: it keeps 1,280-byte packets.
func packetConn(q *quicPath) net.PacketConn { return q }

func dontFragment(*socket) {}
