package relay

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	testSecret = []byte("test-secret-0123456789abcdef")
	loopback   = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
)

// newServer starts a server on 127.0.0.1 and a free port, closed at the
// end of the test.
func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testLogger discards, unless RELAY_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RELAY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logBuffer collects log output, safe for pion's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cred is what a client authenticates with; the zero cred is none.
type cred struct{ user, pass string }

// creds are valid credentials for peer.
func creds(peer string) cred {
	u, p := Credentials(testSecret, peer, time.Now().Add(time.Hour))
	return cred{u, p}
}

// quietLogs silences pion's client.
var quietLogs = &logging.DefaultLoggerFactory{Writer: io.Discard}

// tclient is a TURN client and the address it sends from.
type tclient struct {
	*turn.Client
	local net.Addr
}

// newClient is a TURN client on a UDP socket of 127.0.0.1.
func newClient(t *testing.T, s *Server, cr cred) *tclient {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startClient(t, s, conn, cr)
}

// newTCPClient is a TURN client over a TCP connection to the server.
func newTCPClient(t *testing.T, s *Server, cr cred) *tclient {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := startClient(t, s, turn.NewSTUNConn(conn), cr)
	c.local = conn.LocalAddr()
	return c
}

func startClient(t *testing.T, s *Server, conn net.PacketConn, cr cred) *tclient {
	t.Helper()
	addr := s.Addr().String()
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr,
		Username: cr.user, Password: cr.pass,
		Conn: conn, LoggerFactory: quietLogs,
	})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return &tclient{Client: c, local: conn.LocalAddr()}
}

// allocate makes a UDP allocation, released at the end of the test.
func allocate(t *testing.T, c *tclient) net.PacketConn {
	t.Helper()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { relay.Close() })
	return relay
}

// turnCode is the STUN error code in err, or 0.
func turnCode(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}
	return 0
}

// metric reads a counter or gauge of s; label is the value of its one
// label, if it has one.
func metric(t *testing.T, s *Server, name string, label ...string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(label) > 0 && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label[0]) {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s %v", name, label)
	return 0
}

// refusals is the sum of epicshare_turn_refused_total over all reasons.
func refusals(t *testing.T, s *Server) float64 {
	t.Helper()
	var sum float64
	for _, r := range reasons {
		sum += metric(t, s, "epicshare_turn_refused_total", r)
	}
	return sum
}

// eventually waits for cond, which the server makes true from another
// goroutine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
