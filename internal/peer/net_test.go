package peer

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestICESocketsGetLargeBuffers(t *testing.T) {
	c, err := newBufferedNet().ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*socket).udp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	raw.Control(func(fd uintptr) { got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	// Linux doubles the request and caps it at net.core.rmem_max.
	if limit := rmemMax(t); got < min(udpBuffer, limit) {
		t.Errorf("receive buffer %d bytes, want at least %d", got, min(udpBuffer, limit))
	}
}

func rmemMax(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("no /proc/sys/net/core/rmem_max")
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBufferedNetSeesInterfaces(t *testing.T) {
	lo, err := newBufferedNet().InterfaceByName("lo")
	if err != nil || lo == nil {
		t.Fatalf("lo: %v", err)
	}
}
