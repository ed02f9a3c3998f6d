package testutil

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// VNet is a virtual network of two hosts, A (10.0.0.1) and B (10.0.0.2),
// built on Pion's vnet: packets never leave the process, so tests can add
// delay and loss without root or a kernel qdisc (this kernel has no netem).
// Give each side's peer.Config the Net of its host.
type VNet struct {
	A, B *vnet.Net
	cut  atomic.Bool
}

// NewVNet starts the network: every packet is delayed by oneWay (the round
// trip is twice that) and lost with probability lossPercent/100 on arrival
// at either host, independently. The router stops when the test ends.
func NewVNet(t testing.TB, lossPercent int, oneWay time.Duration) *VNet {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR:          "10.0.0.0/24",
		MinDelay:      oneWay,
		LoggerFactory: &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelError},
	})
	Must(t, err)
	v := &VNet{}
	router.AddChunkFilter(func(vnet.Chunk) bool { return !v.cut.Load() })
	host := func(ip string) *vnet.Net {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		Must(t, err)
		if lossPercent == 0 {
			Must(t, router.AddNet(n))
			return n
		}
		lossy, err := vnet.NewLossFilter(n, lossPercent)
		Must(t, err)
		Must(t, router.AddNet(lossy))
		return n
	}
	v.A, v.B = host("10.0.0.1"), host("10.0.0.2")
	Must(t, router.Start())
	t.Cleanup(func() { router.Stop() })
	return v
}

// Cut drops every packet while down is true: the link is pulled.
func (v *VNet) Cut(down bool) { v.cut.Store(down) }
