package testutil

import (
	"context"
	"net"
	"net/url"
	"testing"

	"github.com/epicshare/epicshare/internal/rendezvous"
)

// Broker is a real broker on a loopback address that can be stopped and
// started again on the same address, as a restarted signal server is.
// Each start is a new broker that knows nothing of the last one.
type Broker struct {
	t      testing.TB
	addr   string
	url    *url.URL
	cancel context.CancelFunc
	served chan error
}

// StartBroker starts a broker on a free loopback port; the test's cleanup
// stops it.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	b := &Broker{t: t, addr: "127.0.0.1:0"}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// URL is the broker's base URL; it stays the same across restarts.
func (b *Broker) URL() *url.URL { return b.url }

// Start starts a new broker on the address, which must be free again.
func (b *Broker) Start() {
	b.t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("listen on %s: %v", b.addr, err)
	}
	b.addr = ln.Addr().String()
	b.url = &url.URL{Scheme: "http", Host: b.addr}
	ctx, cancel := context.WithCancel(b.t.Context())
	b.cancel, b.served = cancel, make(chan error, 1)
	r := rendezvous.New(rendezvous.Config{})
	go func() { b.served <- r.Serve(ctx, ln) }()
}

// Stop shuts the broker down gracefully (every socket gets
// wire.CloseGoingAway) and returns once it has stopped listening.
// Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	<-b.served
	b.cancel = nil
}
