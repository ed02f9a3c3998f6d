package rendezvous_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/rendezvous/hubtest"
	"github.com/epicshare/epicshare/internal/wire"
)

// Two brokers sharing the in-process hub are two nodes to their peers.
func TestLocalHubAcrossBrokers(t *testing.T) {
	hubtest.Run(t, func(t *testing.T, n int) []rendezvous.Hub {
		h := rendezvous.NewLocalHub()
		hubs := make([]rendezvous.Hub, n)
		for i := range hubs {
			hubs[i] = h
		}
		return hubs
	})
}

// failingHub cannot make anyone reachable, as a node cut off from its
// cluster cannot.
type failingHub struct{ rendezvous.Hub }

func (failingHub) Claim(string, rendezvous.Member, bool) ([]string, error) {
	return nil, errors.New("cluster unreachable")
}
func (failingHub) Release(string, rendezvous.Member) {}

// A socket the hub cannot register is closed with going-away, so that
// the client reconnects (to a healthy node), and nothing of it is kept.
func TestHubFailureRefusesTheSocket(t *testing.T) {
	b, url := newBroker(t, rendezvous.Config{Hub: failingHub{}})
	ws, err := dial(t, url)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.CloseGoingAway {
		t.Fatalf("got %v, want close %d", err, wire.CloseGoingAway)
	}
	if n := b.Peers(); n != 0 {
		t.Errorf("Peers() = %d after a refusal", n)
	}
}
