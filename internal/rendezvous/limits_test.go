package rendezvous_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

// dialFrom connects from a chosen loopback address (all of 127/8 is lo).
func dialFrom(t *testing.T, url, local string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}, NetDialContext: nd.DialContext}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(url, "http")+wire.SocketPath, header)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func TestFloodIsRateLimitedAndOthersAreServed(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{MessageRate: 50, MessageBurst: 50})
	flooder, target := connect(t, url), connect(t, url)
	a, b := connect(t, url), connect(t, url)

	// The target counts what reaches it.
	got := make(chan int)
	target.ws.SetReadDeadline(time.Time{})
	go func() {
		n := 0
		for {
			target.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := target.ws.ReadMessage(); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	flooder.ws.SetReadDeadline(time.Time{})
	notices := make(chan int)
	go func() {
		n := 0
		for {
			flooder.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, msg, err := flooder.ws.ReadMessage()
			if err != nil {
				notices <- n
				return
			}
			if e, _ := wire.DecodeEnvelope(msg); e.Code == wire.CodeRateLimited {
				n++
			}
		}
	}()

	// 10k messages as fast as one socket can send them (bounded in count).
	start := time.Now()
	for i := 0; i < 10_000; i++ {
		flooder.send(target.id, `{"n":1}`)
		if i%1000 == 0 {
			// Meanwhile, others are served.
			a.send(b.id, `{"ping":1}`)
			if e := b.next(); e.From != a.id {
				t.Fatalf("b got %+v during the flood", e)
			}
		}
	}
	elapsed := time.Since(start)
	delivered, told := <-got, <-notices
	if max := 50 + int(50*(elapsed.Seconds()+1)); delivered > max || delivered < 50 {
		t.Errorf("delivered %d of 10000 in %v, want between 50 (the burst) and %d", delivered, elapsed, max)
	}
	if told == 0 || told > int(elapsed.Seconds())+2 {
		t.Errorf("flooder was told %d times it is rate limited in %v, want about once a second", told, elapsed)
	}
}

func TestPerAddressCap(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{MaxPeersPerIP: 10})
	ok, refused := 0, 0
	// 1,000 sockets from one address, bounded and sequential.
	for range 1000 {
		_, resp, err := dialFrom(t, url, "127.0.0.1", nil)
		switch {
		case err == nil:
			ok++
		case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("dial: %v", err)
		}
	}
	if ok != 10 || refused != 990 {
		t.Errorf("%d accepted, %d refused; want 10 and 990", ok, refused)
	}
	// Another address is served meanwhile.
	if _, _, err := dialFrom(t, url, "127.0.0.2", nil); err != nil {
		t.Fatalf("another address was refused: %v", err)
	}
}

// Behind a trusted proxy each client is counted under the address the
// proxy names in X-Forwarded-For; from anywhere else the header is
// ignored, so that it cannot be used to escape the cap.
func TestPerAddressCapBehindTrustedProxies(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{MaxPeersPerIP: 1, TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("10.0.0.0/8"),
	}})
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	cases := []struct {
		name, from string
		header     http.Header
		ok         bool
	}{
		{"client A through the proxy", "127.0.0.2", xff("203.0.113.1"), true},
		{"client A again", "127.0.0.2", xff("203.0.113.1"), false},
		{"client B through the proxy", "127.0.0.2", xff("203.0.113.2"), true},
		// A forged first hop is ignored: the proxy appended the real one.
		{"client A forging an address", "127.0.0.2", xff("198.51.100.9, 203.0.113.1"), false},
		// Two trusted proxies: the first untrusted hop from the right.
		{"client C through two proxies", "127.0.0.2", xff("203.0.113.3", "10.1.2.3"), true},
		{"client C again, one header", "127.0.0.2", xff("203.0.113.3, 10.1.2.3"), false},
		// Not a trusted proxy: its header counts for nothing.
		{"an untrusted address", "127.0.0.3", xff("203.0.113.4"), true},
		{"the same, claiming another client", "127.0.0.3", xff("203.0.113.5"), false},
		// IPv4-mapped IPv6 is the same client.
		{"client B mapped", "127.0.0.2", xff("::ffff:203.0.113.2"), false},
	}
	for _, c := range cases {
		_, resp, err := dialFrom(t, url, c.from, c.header)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && (resp == nil || resp.StatusCode != http.StatusTooManyRequests):
			t.Errorf("%s: %v, want 429", c.name, err)
		}
	}
}

func TestPerAddressCapFreesOnClose(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{MaxPeersPerIP: 1})
	ws, _, err := dialFrom(t, url, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	// The slot frees once the broker notices the close: retry briefly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := dialFrom(t, url, "127.0.0.1", nil); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("slot not freed after close: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling the broker's state from outside
	}
}

func TestOriginPolicy(t *testing.T) {
	b := rendezvous.New(rendezvous.Config{AllowedOrigins: []string{"https://app.example.org"}})
	t.Cleanup(b.Close)
	srv := newServer(t, b)
	host := strings.TrimPrefix(srv, "http://")
	for origin, want := range map[string]bool{
		"":                        true, // the desktop app
		"http://" + host:          true, // a page this broker served
		"https://app.example.org": true,
		"https://evil.example":    false,
		"null":                    false,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		_, resp, err := dialFrom(t, srv, "127.0.0.1", h)
		if (err == nil) != want {
			t.Errorf("origin %q: err %v, want allowed=%v", origin, err, want)
		}
		if !want && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %q: want 403", origin)
		}
	}
}

func TestMetrics(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	a, b := connect(t, url), connect(t, url)
	a.send(b.id, `{}`)
	b.next()
	a.send(wire.NewPeerID(), `{}`)
	a.next()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"epicshare_peers_connected 2",
		"epicshare_messages_routed_total 1",
		`epicshare_messages_refused_total{reason="unknown-peer"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Shutdown(context.Background()); wg.Wait() })
	return "http://" + ln.Addr().String()
}
