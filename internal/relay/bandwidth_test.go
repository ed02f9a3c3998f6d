package relay

import (
	"net/netip"
	"testing"

	"github.com/pion/turn/v5"
)

// TestBandwidth sends 1 MiB through a relay with a 64 KiB/s budget as
// fast as the client can: most of it is dropped. Only that something is
// dropped is asserted, not how much: that depends on timing.
func TestBandwidth(t *testing.T) {
	s := newServer(t, Config{Allow: loopback, BandwidthPerUser: 64 << 10})
	ra := allocate(t, newClient(t, s, creds("peer-a")))
	rb := allocate(t, newClient(t, s, creds("peer-b")))
	chunk := make([]byte, 1024)
	const total = 1 << 20
	for sent := 0; sent < total; sent += len(chunk) {
		if _, err := ra.WriteTo(chunk, rb.LocalAddr()); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	eventually(t, "bytes dropped", func() bool { return metric(t, s, "epicshare_turn_dropped_bytes_total") > 0 })
	relayed := metric(t, s, "epicshare_turn_relayed_bytes_total", "to-peer")
	if relayed >= total {
		t.Errorf("relayed %v bytes of %d", relayed, total)
	}
	t.Logf("relayed %v bytes, dropped %v", relayed, metric(t, s, "epicshare_turn_dropped_bytes_total"))
}

// TestBudgetShared checks that the allocations of one user spend one
// budget, and that it is gone with the last of them.
func TestBudgetShared(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	r, err := newRelays(settings{listen: ip, relay: ip, public: ip, minPort: DefaultMinPort, maxPort: DefaultMaxPort},
		1000, newMetrics(func() int { return 0 }), func() {})
	if err != nil {
		t.Fatal(err)
	}
	var conns []*relayConn
	for _, user := range []string{"u", "u", "v"} {
		pc, _, err := r.AllocatePacketConn(turn.AllocateListenerConfig{Network: "udp4", UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, pc.(*relayConn))
	}
	if conns[0].budget != conns[1].budget || conns[0].budget == conns[2].budget {
		t.Error("budgets not shared by user")
	}
	for _, c := range conns {
		c.Close()
	}
	if len(r.budgets) != 0 || r.openCount() != 0 {
		t.Errorf("after Close: %d budgets, %d open", len(r.budgets), r.openCount())
	}
}
