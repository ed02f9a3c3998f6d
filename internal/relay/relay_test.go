package relay

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestSTUNBinding(t *testing.T) {
	s := newServer(t, Config{})
	for _, tc := range []struct {
		name string
		dial func(*testing.T, *Server, cred) *tclient
	}{
		{"udp", newClient},
		{"tcp", newTCPClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.dial(t, s, cred{})
			mapped, err := c.SendBindingRequest()
			if err != nil {
				t.Fatalf("binding request: %v", err)
			}
			if mapped.String() != c.local.String() {
				t.Errorf("mapped address %v, want the client's %v", mapped, c.local)
			}
		})
	}
}

// exchange sends rounds datagrams from a to b, each echoed back, checks
// what arrives, and returns the payload bytes sent, both ways together.
func exchange(t *testing.T, a, b net.PacketConn, rounds int) int {
	t.Helper()
	buf := make([]byte, 1500)
	total := 0
	for i := range rounds {
		msg := bytes.Repeat([]byte{byte(i)}, 1000)
		for _, hop := range []struct{ from, to net.PacketConn }{{a, b}, {b, a}} {
			if _, err := hop.from.WriteTo(msg, hop.to.LocalAddr()); err != nil {
				t.Fatalf("round %d: write: %v", i, err)
			}
			hop.to.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := hop.to.ReadFrom(buf)
			if err != nil {
				t.Fatalf("round %d: read: %v", i, err)
			}
			if !bytes.Equal(buf[:n], msg) || from.String() != hop.from.LocalAddr().String() {
				t.Fatalf("round %d: got %d bytes from %v, want %d from %v", i, n, from, len(msg), hop.from.LocalAddr())
			}
			total += n
		}
	}
	return total
}

func TestRelay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(*testing.T, *Server, cred) *tclient
		tcp   int // allocations made over TCP
	}{
		{"udp to udp", newClient, 0},
		{"tcp to udp", newTCPClient, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Config{Allow: loopback})
			a := tc.first(t, s, creds("peer-a"))
			b := newClient(t, s, creds("peer-b"))
			ra, rb := allocate(t, a), allocate(t, b)
			if got := metric(t, s, "epicshare_turn_allocations"); got != 2 {
				t.Fatalf("allocations = %v, want 2", got)
			}
			if got := tcpAllocations(s); got != tc.tcp {
				t.Fatalf("%d allocations over TCP, want %d", got, tc.tcp)
			}
			// b opens for a before a sends; a's first write opens for b.
			if err := b.CreatePermission(ra.LocalAddr()); err != nil {
				t.Fatalf("CreatePermission: %v", err)
			}
			toPeer := metric(t, s, "epicshare_turn_relayed_bytes_total", "to-peer")
			fromPeer := metric(t, s, "epicshare_turn_relayed_bytes_total", "from-peer")
			sent := exchange(t, ra, rb, 20)
			eventually(t, "relayed bytes counted", func() bool {
				return metric(t, s, "epicshare_turn_relayed_bytes_total", "to-peer")-toPeer == float64(sent) &&
					metric(t, s, "epicshare_turn_relayed_bytes_total", "from-peer")-fromPeer == float64(sent)
			})
			if got := metric(t, s, "epicshare_turn_allocations_total"); got != 2 {
				t.Errorf("allocations_total = %v, want 2", got)
			}
			ra.Close() // a Refresh with lifetime 0
			rb.Close()
			eventually(t, "allocations deleted", func() bool { return metric(t, s, "epicshare_turn_allocations") == 0 })
		})
	}
}

// tcpAllocations counts the allocations the server holds for TCP clients.
func tcpAllocations(s *Server) int {
	s.allocs.mu.Lock()
	defer s.allocs.mu.Unlock()
	n := 0
	for key := range s.allocs.active {
		if strings.HasPrefix(key, "tcp ") {
			n++
		}
	}
	return n
}

func TestTCPRelayRefused(t *testing.T) {
	s := newServer(t, Config{Allow: loopback})
	c := newClient(t, s, creds("peer"))
	_, err := c.AllocateTCP()
	if code := turnCode(err); code != 508 {
		t.Fatalf("AllocateTCP: %v (code %d), want 508", err, code)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := New(Config{Secret: testSecret, Addr: "127.0.0.1:0", Allow: loopback, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("clients", func(t *testing.T) {
		// Closed by the server while they still hold their allocations.
		allocate(t, newClient(t, s, creds("peer-a")))
		allocate(t, newTCPClient(t, s, creds("peer-b")))
		newTCPClient(t, s, cred{}) // connected, never allocates
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if got := metric(t, s, "epicshare_turn_allocations"); got != 0 {
			t.Errorf("allocations after Close = %v, want 0", got)
		}
	})
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cfg                  Config
		err                  error
		listen, relay, publc string
	}{
		{"specific address", Config{Addr: "127.0.0.1:0"}, nil, "127.0.0.1", "127.0.0.1", "127.0.0.1"},
		{"all addresses", Config{Addr: ":3478"}, ErrNeedPublicIP, "", "", ""},
		{"all addresses, default", Config{}, ErrNeedPublicIP, "", "", ""},
		{"all addresses, public IP", Config{Addr: "0.0.0.0:3478", PublicIP: net.ParseIP("203.0.113.9")},
			nil, "0.0.0.0", "0.0.0.0", "203.0.113.9"},
		{"all addresses, relay IP", Config{Addr: ":3478", RelayIP: net.ParseIP("192.0.2.4")},
			nil, "0.0.0.0", "192.0.2.4", "192.0.2.4"},
		{"host name", Config{Addr: "localhost:3478"}, ErrBadConfig, "", "", ""},
		{"ports", Config{Addr: "127.0.0.1:0", MinPort: 5000, MaxPort: 4000}, ErrBadConfig, "", "", ""},
		{"short secret", Config{Addr: "127.0.0.1:0", Secret: []byte("short")}, ErrSecretTooShort, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Secret == nil {
				tc.cfg.Secret = testSecret
			}
			tc.cfg.setDefaults()
			st, err := tc.cfg.resolve()
			if !errors.Is(err, tc.err) {
				t.Fatalf("resolve: %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			got := fmt.Sprint(st.listen, st.relay, st.public)
			if want := strings.Join([]string{tc.listen, tc.relay, tc.publc}, " "); got != want {
				t.Errorf("listen, relay, public = %s, want %s", got, want)
			}
		})
	}
}

func TestPortZeroBindsBothTransports(t *testing.T) {
	s := newServer(t, Config{})
	port := s.Addr().(*net.UDPAddr).Port
	conn, err := net.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
	if err != nil {
		t.Fatalf("TCP on the UDP port %d: %v", port, err)
	}
	conn.Close()
}

// TestDeps fences the relay: signal-server links it, and must not link
// WebRTC, the GUI or the broker through it.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{"fyne.io/", "github.com/pion/webrtc/", "github.com/pion/ice/",
		"github.com/epicshare/epicshare/internal/rendezvous"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(dep, b) {
				t.Errorf("relay depends on %s", dep)
			}
		}
	}
}
