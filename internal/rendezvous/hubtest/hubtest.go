// Package hubtest checks a rendezvous.Hub against the broker's promises
// with peers on several nodes: brokers that each serve their own
// sockets and share nothing but the hubs given to them. The in-process
// hub runs it with one hub shared by two brokers; a distributed one with
// a hub per broker.
package hubtest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

// Nodes returns n hubs that reach each other, one per broker.
type Nodes func(t *testing.T, n int) []rendezvous.Hub

// Run checks every cross-node promise, each in a subtest.
func Run(t *testing.T, nodes Nodes) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, urls []string)
	}{
		{"from is stamped by the sender's node", fromStamped},
		{"an unknown target is refused at once", unknownTarget},
		{"left reaches contacts on every node", leftReachesContacts},
		{"a token holder takes its ID over on another node", tokenTakeover},
		{"one pair's messages keep their order", orderKept},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hubs := nodes(t, 2)
			urls := make([]string, len(hubs))
			for i, h := range hubs {
				urls[i] = Serve(t, h)
			}
			tc.run(t, urls)
		})
	}
}

// Serve runs a broker on hub, a node of its own, on a loopback socket
// until the test ends, and returns its URL.
func Serve(t *testing.T, hub rendezvous.Hub) string {
	t.Helper()
	b := rendezvous.New(rendezvous.Config{Hub: hub, MessageRate: 10_000, MessageBurst: 10_000})
	srv := httptest.NewServer(b)
	t.Cleanup(func() { b.Close(); srv.Close() })
	return srv.URL
}

// Peer is a raw socket to one node, so tests see exactly what it sends.
type Peer struct {
	t  *testing.T
	ws *websocket.Conn
	ID string
}

// Connect opens a socket to the node at url, presenting token if not
// empty, and reads its welcome.
func Connect(t *testing.T, url, token string) *Peer {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}}
	header := map[string][]string{}
	if token != "" {
		header[wire.TokenHeader] = []string{token}
	}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http")+wire.SocketPath, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	p := &Peer{t: t, ws: ws}
	if e := p.Next(); e.Type != wire.TypeWelcome {
		t.Fatalf("first message %+v, want a welcome", e)
	} else {
		p.ID = e.ID
	}
	return p
}

// Next is the next envelope p receives, within 10 s.
func (p *Peer) Next() wire.Envelope {
	p.t.Helper()
	p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := p.ws.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	e, err := wire.DecodeEnvelope(b)
	if err != nil {
		p.t.Fatalf("broker sent %s: %v", b, err)
	}
	return e
}

// Nothing checks that p receives nothing for a while. The socket cannot
// be read after that (gorilla ends it at a read timeout): last check only.
func (p *Peer) Nothing(within time.Duration) {
	p.t.Helper()
	p.ws.SetReadDeadline(time.Now().Add(within))
	if _, b, err := p.ws.ReadMessage(); err == nil {
		p.t.Fatalf("got %s, want nothing", b)
	}
}

// Send asks p's node to deliver data to the peer to.
func (p *Peer) Send(to string, data string) {
	p.t.Helper()
	b, _ := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: json.RawMessage(data)})
	if err := p.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		p.t.Fatal(err)
	}
}

func fromStamped(t *testing.T, urls []string) {
	a, b := Connect(t, urls[0], ""), Connect(t, urls[1], "")
	a.Send(b.ID, `{"n":1}`)
	if e := b.Next(); e.Type != wire.TypeMessage || e.From != a.ID || string(e.Data) != `{"n":1}` {
		t.Fatalf("got %+v, want a message from %s", e, a.ID)
	}
	// A from of its own choosing is not taken: the broker decodes only
	// send messages, and stamps the sender's ID on what it routes.
	b.Send(a.ID, `{"n":2}`)
	if e := a.Next(); e.From != b.ID {
		t.Fatalf("got %+v, want it from %s", e, b.ID)
	}
}

func unknownTarget(t *testing.T, urls []string) {
	a := Connect(t, urls[0], "")
	ghost := wire.NewPeerID()
	a.Send(ghost, `{}`)
	if e := a.Next(); e.Type != wire.TypeError || e.Code != wire.CodeUnknownPeer || e.To != ghost {
		t.Fatalf("got %+v, want unknown-peer for %s", e, ghost)
	}
}

func leftReachesContacts(t *testing.T, urls []string) {
	a, b, c := Connect(t, urls[0], ""), Connect(t, urls[1], ""), Connect(t, urls[1], "")
	a.Send(b.ID, `{}`)
	b.Next()
	a.ws.Close()
	if e := b.Next(); e.Type != wire.TypeLeft || e.Peer != a.ID {
		t.Fatalf("got %+v, want left for %s", e, a.ID)
	}
	c.Nothing(300 * time.Millisecond) // not a contact: told nothing
}

func tokenTakeover(t *testing.T, urls []string) {
	token := wire.NewToken()
	old := Connect(t, urls[0], token)
	b := Connect(t, urls[1], "")
	b.Send(old.ID, `{"hello":1}`)
	old.Next()
	// The holder comes back on the other node: the new socket gets the
	// ID, the old one is closed as replaced, and b is told nothing.
	fresh := Connect(t, urls[1], token)
	if fresh.ID != old.ID {
		t.Fatalf("token gave %s, then %s", old.ID, fresh.ID)
	}
	old.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := old.ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != wire.CloseReplaced {
		t.Fatalf("old socket ended with %v, want close %d", err, wire.CloseReplaced)
	}
	// The first thing b hears after the takeover is the new socket
	// speaking, not a "left".
	fresh.Send(b.ID, `{"back":1}`)
	if e := b.Next(); e.Type != wire.TypeMessage || e.From != fresh.ID {
		t.Fatalf("got %+v, want the message of the returned holder", e)
	}
	b.Send(fresh.ID, `{"again":1}`)
	if e := fresh.Next(); e.From != b.ID {
		t.Fatalf("got %+v, want b's message on the new socket", e)
	}
	// The contacts moved with the ID: when it really leaves, b is told.
	fresh.ws.Close()
	if e := b.Next(); e.Type != wire.TypeLeft || e.Peer != fresh.ID {
		t.Fatalf("got %+v, want left for %s", e, fresh.ID)
	}
}

func orderKept(t *testing.T, urls []string) {
	a, b := Connect(t, urls[0], ""), Connect(t, urls[1], "")
	const n = 100 // within the send queue (128): b reads only after
	for i := range n {
		a.Send(b.ID, fmt.Sprintf(`{"n":%d}`, i))
	}
	for i := range n {
		if e := b.Next(); string(e.Data) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("message %d is %s", i, e.Data)
		}
	}
}
