package signal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T, h http.Handler) *url.URL {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func broker(t *testing.T, cfg rendezvous.Config) (*rendezvous.Broker, *url.URL) {
	t.Helper()
	b := rendezvous.New(cfg)
	u := serve(t, b)
	t.Cleanup(b.Close) // runs before srv.Close: hijacked sockets end first
	return b, u
}

func dial(t *testing.T, u *url.URL) *signal.Conn {
	t.Helper()
	c, err := signal.Dial(t.Context(), u, signal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func next(t *testing.T, c *signal.Conn) wire.Envelope {
	t.Helper()
	select {
	case e, ok := <-c.Recv():
		if !ok {
			t.Fatalf("connection ended: %v", c.Err())
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received")
	}
	return wire.Envelope{}
}

// ended waits for Recv to close and returns Err.
func ended(t *testing.T, c *signal.Conn) error {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-c.Recv():
			if !ok {
				return c.Err()
			}
			t.Logf("ignoring %+v", e)
		case <-timeout:
			t.Fatal("Recv not closed")
		}
	}
}

// fakeServer upgrades every request, answering with header (which
// selects the subprotocol), and runs h on the socket: a server that does
// what a real broker never does.
func fakeServer(t *testing.T, header http.Header, h func(ws *websocket.Conn)) *url.URL {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the server's Close, which waits for handlers not yet upgraded
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, header)
		if err != nil {
			return
		}
		defer ws.Close()
		h(ws)
	}))
}

var speaksV1 = http.Header{"Sec-Websocket-Protocol": {wire.Subprotocol}}

func welcome(t *testing.T, ws *websocket.Conn) {
	b, _ := json.Marshal(wire.Envelope{Type: wire.TypeWelcome, ID: wire.NewPeerID()})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Error(err)
	}
}

func TestExchange(t *testing.T) {
	_, u := broker(t, rendezvous.Config{})
	a, c := dial(t, u), dial(t, u)
	if a.ID() == c.ID() || !wire.ValidPeerID(a.ID()) || !wire.ValidPeerID(c.ID()) {
		t.Fatalf("IDs %q %q", a.ID(), c.ID())
	}
	if err := a.Send(t.Context(), c.ID(), []byte(`{"kind":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.Type != wire.TypeMessage || e.From != a.ID() || string(e.Data) != `{"kind":"hello"}` {
		t.Fatalf("c got %+v", e)
	}
	if err := c.Send(t.Context(), a.ID(), []byte(`{"kind":"offer"}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, a); e.Type != wire.TypeMessage || e.From != c.ID() || string(e.Data) != `{"kind":"offer"}` {
		t.Fatalf("a got %+v", e)
	}
	ghost := wire.NewPeerID()
	if err := a.Send(t.Context(), ghost, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, a); e.Type != wire.TypeError || e.Code != wire.CodeUnknownPeer || e.To != ghost {
		t.Fatalf("got %+v, want unknown-peer", e)
	}
	c.Close()
	if e := next(t, a); e.Type != wire.TypeLeft || e.Peer != c.ID() {
		t.Fatalf("got %+v, want left", e)
	}
	if _, ok := <-c.Recv(); ok {
		t.Fatal("Recv still open after Close")
	}
	if !errors.Is(c.Err(), signal.ErrClosed) {
		t.Fatalf("Err after Close = %v", c.Err())
	}
	if err := c.Send(t.Context(), a.ID(), []byte(`{}`)); !errors.Is(err, signal.ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if a.Err() != nil {
		t.Fatalf("Err of an open connection = %v", a.Err())
	}
}

func TestConcurrentSends(t *testing.T) {
	const senders, each = 8, 50
	// Limits that let the whole burst queue up: this tests the client.
	_, u := broker(t, rendezvous.Config{MessageRate: 1e6, MessageBurst: 1e6, SendQueue: senders * each})
	a, c := dial(t, u), dial(t, u)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				if err := a.Send(t.Context(), c.ID(), fmt.Appendf(nil, `{"s":%d,"n":%d}`, i, j)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	last := map[int]int{}
	for range senders * each {
		e := next(t, c)
		var m struct{ S, N int }
		if err := json.Unmarshal(e.Data, &m); err != nil || e.From != a.ID() {
			t.Fatalf("got %+v", e)
		}
		if prev, ok := last[m.S]; ok && m.N != prev+1 || !ok && m.N != 0 {
			t.Fatalf("sender %d: message %d after %d", m.S, m.N, prev)
		}
		last[m.S] = m.N
	}
	wg.Wait()
}

func TestVersionMismatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header // the server's response
		// close, if set, is the reason the server closes with
		// wire.CloseUnsupportedVersion right after the upgrade.
		close string
	}{
		// An older server that selects no subprotocol.
		{name: "no subprotocol"},
		// A broken server that picks one the client did not offer.
		{name: "other subprotocol", header: http.Header{"Sec-Websocket-Protocol": {"epicshare.v0"}}},
		{name: "closed with CloseUnsupportedVersion", header: speaksV1, close: "this server speaks epicshare.v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := fakeServer(t, tc.header, func(ws *websocket.Conn) {
				if tc.close != "" {
					ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(wire.CloseUnsupportedVersion, tc.close), time.Now().Add(time.Second))
				}
				ws.ReadMessage() // until the client hangs up
			})
			_, err := signal.Dial(t.Context(), u, signal.Options{})
			if !errors.Is(err, signal.ErrUnsupportedVersion) || !strings.Contains(err.Error(), "connect to signaling server ws://") {
				t.Fatalf("got %v, want ErrUnsupportedVersion", err)
			}
			if !strings.Contains(err.Error(), tc.close) {
				t.Errorf("%v does not carry the server's reason", err)
			}
		})
	}
}

func TestServerGoingAway(t *testing.T) {
	b, u := broker(t, rendezvous.Config{})
	c := dial(t, u)
	b.Close()
	err := ended(t, c)
	var ce *websocket.CloseError
	if !errors.Is(err, signal.ErrGoingAway) || !errors.As(err, &ce) || ce.Code != wire.CloseGoingAway {
		t.Fatalf("Err = %v, want ErrGoingAway with close code %d", err, wire.CloseGoingAway)
	}
	if err := c.Send(t.Context(), wire.NewPeerID(), []byte(`{}`)); !errors.Is(err, signal.ErrGoingAway) {
		t.Fatalf("Send after the server left = %v", err)
	}
}

func TestOtherCloseCodeIsReported(t *testing.T) {
	const otherCode = 4999 // an application close code the client has no name for
	u := fakeServer(t, speaksV1, func(ws *websocket.Conn) {
		welcome(t, ws)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(otherCode, "enough"), time.Now().Add(time.Second))
		ws.ReadMessage()
	})
	c := dial(t, u)
	err := ended(t, c)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != otherCode || ce.Text != "enough" || errors.Is(err, signal.ErrGoingAway) {
		t.Fatalf("Err = %v", err)
	}
}

func TestRecvDeliversOnlyValidRoutedMessages(t *testing.T) {
	from := wire.NewPeerID()
	u := fakeServer(t, speaksV1, func(ws *websocket.Conn) {
		welcome(t, ws)
		for _, m := range []string{
			`garbage`,
			`{"type":"message","from":"not-an-id","data":{}}`,
			`{"type":"welcome","id":"` + from + `"}`, // a second welcome
			`{"type":"send","to":"` + from + `","data":{}}`,
			`{"type":"message","from":"` + from + `","data":{"n":1}}`,
			`{"type":"left","peer":"` + from + `"}`,
			`{"type":"error","code":"rate-limited"}`,
		} {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				t.Error(err)
				return
			}
		}
		ws.ReadMessage() // until the client closes
	})
	c := dial(t, u)
	for _, want := range []wire.Envelope{
		{Type: wire.TypeMessage, From: from, Data: json.RawMessage(`{"n":1}`)},
		{Type: wire.TypeLeft, Peer: from},
		{Type: wire.TypeError, Code: wire.CodeRateLimited},
	} {
		if e := next(t, c); e.Type != want.Type || e.From != want.From || e.Peer != want.Peer || e.Code != want.Code || string(e.Data) != string(want.Data) {
			t.Fatalf("got %+v, want %+v", e, want)
		}
	}
}

func TestDialWaitsForWelcomeUntilContextEnds(t *testing.T) {
	upgraded := make(chan struct{})
	u := fakeServer(t, speaksV1, func(ws *websocket.Conn) {
		close(upgraded)
		ws.ReadMessage() // never welcomes; ends when the client gives up
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := signal.Dial(ctx, u, signal.Options{})
		done <- err
	}()
	<-upgraded
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Dial did not return when its context was cancelled")
	}
}

func TestSendHonoursContext(t *testing.T) {
	_, u := broker(t, rendezvous.Config{})
	a := dial(t, u)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Send(ctx, wire.NewPeerID(), []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context = %v", err)
	}
	if err := a.Send(t.Context(), wire.NewPeerID(), []byte(`not json`)); err == nil {
		t.Fatal("Send accepted data that is not JSON")
	}
	if a.Err() != nil {
		t.Fatalf("a refused Send broke the connection: %v", a.Err())
	}
}

func TestCloseIsIdempotentAndConcurrent(t *testing.T) {
	_, u := broker(t, rendezvous.Config{})
	c := dial(t, u)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
	if !errors.Is(c.Err(), signal.ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestDialErrors(t *testing.T) {
	u := serve(t, http.NotFoundHandler())
	_, err := signal.Dial(t.Context(), u, signal.Options{})
	if err == nil || !strings.Contains(err.Error(), "connect to signaling server ws://") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("got %v", err)
	}
}

func TestICEServersFromWelcomeAndRenewals(t *testing.T) {
	from := wire.NewPeerID()
	first := []wire.ICEServer{{URLs: []string{"turn:198.51.100.1:3478"}, Username: "1:a", Credential: "x"}}
	second := []wire.ICEServer{{URLs: []string{"turn:198.51.100.1:3478"}, Username: "2:a", Credential: "y"}}
	u := fakeServer(t, speaksV1, func(ws *websocket.Conn) {
		b, _ := json.Marshal(wire.Envelope{Type: wire.TypeWelcome, ID: wire.NewPeerID(), ICE: first})
		ws.WriteMessage(websocket.TextMessage, b)
		ws.ReadMessage() // the client looked at the first servers
		for _, e := range []wire.Envelope{
			{Type: wire.TypeICE, ICE: []wire.ICEServer{{URLs: []string{"http://not-ice"}}}}, // dropped
			{Type: wire.TypeICE, ICE: second},
			{Type: wire.TypeMessage, From: from, Data: json.RawMessage(`{"n":2}`)},
		} {
			b, _ := json.Marshal(e)
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				t.Error(err)
				return
			}
		}
		ws.ReadMessage() // until the client closes
	})
	c := dial(t, u)
	if got := c.ICEServers(); len(got) != 1 || got[0].Username != "1:a" {
		t.Fatalf("after the welcome: %+v, want its servers", got)
	}
	if err := c.Send(t.Context(), from, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); string(e.Data) != `{"n":2}` {
		t.Fatalf("got %+v; the ice messages must not reach Recv", e)
	}
	if got := c.ICEServers(); len(got) != 1 || got[0].Username != "2:a" || got[0].Credential != "y" {
		t.Fatalf("after the renewal: %+v, want the renewed servers", got)
	}
}
