package natshub_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/epicshare/epicshare/internal/natshub"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/rendezvous/hubtest"
	"github.com/epicshare/epicshare/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// natsServer runs a real NATS server in this process on a free loopback
// port until the test ends.
func natsServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// node is a hub on a connection of its own, as a signal-server node has.
type node struct {
	hub *natshub.Hub
	nc  *nats.Conn
}

func newNode(t *testing.T, s *server.Server) *node {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	h, err := natshub.New(natshub.Config{Conn: nc, Heartbeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{hub: h, nc: nc}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	if !n.nc.IsClosed() {
		n.hub.Close()
		n.nc.Close()
	}
}

func TestHubAcrossNodes(t *testing.T) {
	hubtest.Run(t, func(t *testing.T, count int) []rendezvous.Hub {
		s := natsServer(t)
		hubs := make([]rendezvous.Hub, count)
		for i := range hubs {
			hubs[i] = newNode(t, s).hub
		}
		return hubs
	})
}

// A node killed, not stopped: its NATS connection drops with no word and
// its heartbeats end. The peers on other nodes that talked to its peers
// are told they left.
func TestDeadNodesPeersLeave(t *testing.T) {
	s := natsServer(t)
	n1, n2 := newNode(t, s), newNode(t, s)
	u1, u2 := hubtest.Serve(t, n1.hub), hubtest.Serve(t, n2.hub)
	a, b := hubtest.Connect(t, u1, ""), hubtest.Connect(t, u2, "")
	a.Send(b.ID, `{"hi":1}`)
	b.Next()
	b.Send(a.ID, `{"hi":2}`)
	a.Next()
	n2.nc.Close() // the node's process is gone: no Close of its hub
	t0 := time.Now()
	if e := a.Next(); e.Type != wire.TypeLeft || e.Peer != b.ID {
		t.Fatalf("got %+v, want left for %s", e, b.ID)
	}
	t.Logf("told %v after the node died", time.Since(t0).Round(time.Millisecond))
	n2.hub.Close()
}

// A link holder whose node died reconnects to another node with its
// token: when the dead node is missed, its contacts are not told it
// left, and it still reaches them; a peer of the dead node that did not
// come back is announced as left.
func TestMovedPeerIsNotBuried(t *testing.T) {
	s := natsServer(t)
	n1, n2, n3 := newNode(t, s), newNode(t, s), newNode(t, s)
	u1, u2, u3 := hubtest.Serve(t, n1.hub), hubtest.Serve(t, n2.hub), hubtest.Serve(t, n3.hub)
	token := wire.NewToken()
	holder, stays := hubtest.Connect(t, u1, token), hubtest.Connect(t, u1, "")
	b, c := hubtest.Connect(t, u2, ""), hubtest.Connect(t, u2, "")
	holder.Send(b.ID, `{"hi":1}`)
	b.Next()
	stays.Send(c.ID, `{"hi":2}`)
	c.Next()
	n1.nc.Close() // node 1 is killed
	moved := hubtest.Connect(t, u3, token)
	if moved.ID != holder.ID {
		t.Fatalf("the token gave %s on node 3, want %s", moved.ID, holder.ID)
	}
	// c hears that its contact on node 1 left: node 2 has missed node 1
	// and probed each of its peers.
	if e := c.Next(); e.Type != wire.TypeLeft || e.Peer != stays.ID {
		t.Fatalf("c got %+v, want left for %s", e, stays.ID)
	}
	moved.Send(b.ID, `{"back":1}`)
	if e := b.Next(); e.Type != wire.TypeMessage || e.From != holder.ID {
		t.Fatalf("b got %+v, want the moved holder's message (and no left before it)", e)
	}
	b.Nothing(500 * time.Millisecond)
	n1.hub.Close()
}
