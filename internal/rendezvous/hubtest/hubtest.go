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
				b := rendezvous.New(rendezvous.Config{Hub: h, MessageRate: 10_000, MessageBurst: 10_000})
				srv := httptest.NewServer(b)
				t.Cleanup(func() { b.Close(); srv.Close() })
				urls[i] = srv.URL
			}
			tc.run(t, urls)
		})
	}
}

// peer is a raw socket to one node.
type peer struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

func connect(t *testing.T, url, token string) *peer {
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
	p := &peer{t: t, ws: ws}
	if e := p.next(); e.Type != wire.TypeWelcome {
		t.Fatalf("first message %+v, want a welcome", e)
	} else {
		p.id = e.ID
	}
	return p
}

func (p *peer) next() wire.Envelope {
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

// nothing checks that p receives nothing for a while. The socket cannot
// be read after that (gorilla ends it at a read timeout): last check only.
func (p *peer) nothing(within time.Duration) {
	p.t.Helper()
	p.ws.SetReadDeadline(time.Now().Add(within))
	if _, b, err := p.ws.ReadMessage(); err == nil {
		p.t.Fatalf("got %s, want nothing", b)
	}
}

func (p *peer) send(to string, data string) {
	p.t.Helper()
	b, _ := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: json.RawMessage(data)})
	if err := p.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		p.t.Fatal(err)
	}
}

func fromStamped(t *testing.T, urls []string) {
	a, b := connect(t, urls[0], ""), connect(t, urls[1], "")
	a.send(b.id, `{"n":1}`)
	if e := b.next(); e.Type != wire.TypeMessage || e.From != a.id || string(e.Data) != `{"n":1}` {
		t.Fatalf("got %+v, want a message from %s", e, a.id)
	}
	// A from of its own choosing is not taken: the broker decodes only
	// send messages, and stamps the sender's ID on what it routes.
	b.send(a.id, `{"n":2}`)
	if e := a.next(); e.From != b.id {
		t.Fatalf("got %+v, want it from %s", e, b.id)
	}
}

func unknownTarget(t *testing.T, urls []string) {
	a := connect(t, urls[0], "")
	ghost := wire.NewPeerID()
	a.send(ghost, `{}`)
	if e := a.next(); e.Type != wire.TypeError || e.Code != wire.CodeUnknownPeer || e.To != ghost {
		t.Fatalf("got %+v, want unknown-peer for %s", e, ghost)
	}
}

func leftReachesContacts(t *testing.T, urls []string) {
	a, b, c := connect(t, urls[0], ""), connect(t, urls[1], ""), connect(t, urls[1], "")
	a.send(b.id, `{}`)
	b.next()
	a.ws.Close()
	if e := b.next(); e.Type != wire.TypeLeft || e.Peer != a.id {
		t.Fatalf("got %+v, want left for %s", e, a.id)
	}
	c.nothing(300 * time.Millisecond) // not a contact: told nothing
}

func tokenTakeover(t *testing.T, urls []string) {
	token := wire.NewToken()
	old := connect(t, urls[0], token)
	b := connect(t, urls[1], "")
	b.send(old.id, `{"hello":1}`)
	old.next()
	// The holder comes back on the other node: the new socket gets the
	// ID, the old one is closed as replaced, and b is told nothing.
	fresh := connect(t, urls[1], token)
	if fresh.id != old.id {
		t.Fatalf("token gave %s, then %s", old.id, fresh.id)
	}
	old.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := old.ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != wire.CloseReplaced {
		t.Fatalf("old socket ended with %v, want close %d", err, wire.CloseReplaced)
	}
	// The first thing b hears after the takeover is the new socket
	// speaking, not a "left".
	fresh.send(b.id, `{"back":1}`)
	if e := b.next(); e.Type != wire.TypeMessage || e.From != fresh.id {
		t.Fatalf("got %+v, want the message of the returned holder", e)
	}
	b.send(fresh.id, `{"again":1}`)
	if e := fresh.next(); e.From != b.id {
		t.Fatalf("got %+v, want b's message on the new socket", e)
	}
	// The contacts moved with the ID: when it really leaves, b is told.
	fresh.ws.Close()
	if e := b.next(); e.Type != wire.TypeLeft || e.Peer != fresh.id {
		t.Fatalf("got %+v, want left for %s", e, fresh.id)
	}
}

func orderKept(t *testing.T, urls []string) {
	a, b := connect(t, urls[0], ""), connect(t, urls[1], "")
	const n = 100 // within the send queue (128): b reads only after
	for i := range n {
		a.send(b.id, fmt.Sprintf(`{"n":%d}`, i))
	}
	for i := range n {
		if e := b.next(); string(e.Data) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("message %d is %s", i, e.Data)
		}
	}
}
