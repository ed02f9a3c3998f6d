package rendezvous_test

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

// A peer that answers pings stays; one that does not is dropped after
// PongWait, and its contacts are told it left.
func TestPingsKeepAnsweringPeersAndDropSilentOnes(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{PingInterval: 20 * time.Millisecond, PongWait: 150 * time.Millisecond})
	live, silent := connect(t, url), connect(t, url)
	// Reading answers pings (gorilla's default handler); silent's handler
	// swallows them, as a peer whose network died would.
	silent.ws.SetPingHandler(func(string) error { return nil })
	silent.send(live.id, `{}`) // live and silent are contacts
	if e := live.next(); e.From != silent.id {
		t.Fatalf("live got %+v", e)
	}
	pings := 0
	live.ws.SetPingHandler(func(data string) error {
		pings++
		return live.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	gone := make(chan error, 1)
	go func() {
		silent.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := silent.ws.ReadMessage(); err != nil {
				gone <- err
				return
			}
		}
	}()
	// live reads (and so answers pings) until it hears silent left: by
	// then silent went without pongs for PongWait, and live did not.
	if e := live.next(); e.Type != wire.TypeLeft || e.Peer != silent.id {
		t.Fatalf("live got %+v, want %s left", e, silent.id)
	}
	var ce *websocket.CloseError
	if err := <-gone; errors.As(err, &ce) && ce.Code == wire.CloseGoingAway {
		t.Fatalf("silent peer: %v", err)
	}
	if pings < 2 {
		t.Errorf("live answered %d pings in a PongWait, want several", pings)
	}
	live.nothingQueued() // still connected and served
}

// An idle peer costs the broker one goroutine, blocked reading its
// socket: pings and renewals are timers, and the writer runs only while
// something is queued.
func TestAnIdlePeerHoldsOneGoroutine(t *testing.T) {
	const n = 50
	_, url := newBroker(t, rendezvous.Config{PingInterval: 50 * time.Millisecond, MaxPeersPerIP: n + 1})
	base := runtime.NumGoroutine()
	peers := make([]*peer, n)
	for i := range peers {
		peers[i] = connect(t, url)
	}
	// Each welcome was written by a writer that ends when its queue is
	// empty, and each ping by another: the count settles at one per peer.
	deadline := time.Now().Add(10 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		if got = runtime.NumGoroutine() - base; got <= n {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a count, not ordering events
	}
	if got > n {
		t.Fatalf("%d idle peers hold %d goroutines, want at most %d", n, got, n)
	}
	// And they are served: a ping was answered, a message goes through.
	peers[0].send(peers[n-1].id, `{"still":"here"}`)
	if e := peers[n-1].next(); e.From != peers[0].id {
		t.Fatalf("got %+v", e)
	}
}
