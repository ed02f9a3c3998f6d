package signal_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

func TestExchange(t *testing.T) {
	b := rendezvous.New(rendezvous.Config{})
	t.Cleanup(b.Close)
	u := serve(t, b)
	a, err := signal.Dial(t.Context(), u, signal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c, err := signal.Dial(t.Context(), u, signal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == c.ID() || !wire.ValidPeerID(a.ID()) {
		t.Fatalf("IDs %q %q", a.ID(), c.ID())
	}
	if err := a.Send(t.Context(), c.ID(), []byte(`{"kind":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.Type != wire.TypeMessage || e.From != a.ID() || string(e.Data) != `{"kind":"hello"}` {
		t.Fatalf("got %+v", e)
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
}

func TestVersionMismatch(t *testing.T) {
	// An older server that selects no subprotocol.
	up := websocket.Upgrader{}
	u := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err == nil {
			ws.ReadMessage()
			ws.Close()
		}
	}))
	_, err := signal.Dial(t.Context(), u, signal.Options{})
	if !errors.Is(err, signal.ErrUnsupportedVersion) {
		t.Fatalf("got %v, want ErrUnsupportedVersion", err)
	}
}

func TestServerGoingAway(t *testing.T) {
	b := rendezvous.New(rendezvous.Config{})
	u := serve(t, b)
	c, err := signal.Dial(t.Context(), u, signal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.Close()
	select {
	case _, ok := <-c.Recv():
		if ok {
			t.Fatal("unexpected message")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Recv not closed after the server went away")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "shut down") {
		t.Fatalf("Err = %v, want the server shut down", err)
	}
}

func TestDialErrors(t *testing.T) {
	u := serve(t, http.NotFoundHandler())
	_, err := signal.Dial(t.Context(), u, signal.Options{})
	if err == nil || !strings.Contains(err.Error(), "connect to signaling server") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("got %v", err)
	}
}
