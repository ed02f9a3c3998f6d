package rendezvous_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

// dialHeader opens a raw socket with extra handshake headers.
func dialHeader(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http")+wire.SocketPath, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// connectToken connects presenting token and checks the welcome.
func connectToken(t *testing.T, url, token string) *peer {
	t.Helper()
	p := &peer{t: t, ws: dialHeader(t, url, http.Header{wire.TokenHeader: {token}})}
	if e := p.next(); e.Type != wire.TypeWelcome {
		t.Fatalf("first message %+v, want a welcome", e)
	} else {
		p.id = e.ID
	}
	return p
}

// closedWith reads until the socket ends and returns its close error.
func closedWith(t *testing.T, ws *websocket.Conn) *websocket.CloseError {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket ended with %v, want a close frame", err)
		}
		return ce
	}
}

func TestTokenGivesTheSameIDOnEveryBroker(t *testing.T) {
	token := wire.NewToken()
	want := wire.TokenID(token)
	// Two brokers stand for one restarted: neither remembers anything.
	for i := range 2 {
		_, url := newBroker(t, rendezvous.Config{})
		p := connectToken(t, url, token)
		if p.id != want {
			t.Fatalf("broker %d gave %q, want TokenID = %q", i, p.id, want)
		}
		p.ws.Close()
		// A peer without a token still gets a random ID, never that one.
		if q := connect(t, url); q.id == want {
			t.Fatal("a peer without the token got its ID")
		}
		// Reconnecting after a clean close gives the ID back.
		if again := connectToken(t, url, token); again.id != want {
			t.Fatalf("reconnection gave %q, want %q", again.id, want)
		}
		// Another token, another ID.
		if other := connectToken(t, url, wire.NewToken()); other.id == want {
			t.Fatal("two tokens gave one ID")
		}
	}
}

func TestBadTokenIsRefused(t *testing.T) {
	b, url := newBroker(t, rendezvous.Config{})
	good := wire.NewToken()
	for _, tc := range []struct {
		name   string
		tokens []string
	}{
		{"empty", []string{""}},
		{"short", []string{"abc"}},
		{"a peer ID", []string{wire.NewPeerID()}},
		{"too long", []string{good + "A"}},
		{"padding", []string{good[:42] + "="}},
		{"not URL-safe", []string{good[:42] + "/"}},
		{"non-zero trailing bits", []string{strings.Repeat("A", 42) + "B"}},
		{"two tokens", []string{good, wire.NewToken()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := dialHeader(t, url, http.Header{wire.TokenHeader: tc.tokens})
			ce := closedWith(t, ws)
			if ce.Code != wire.CloseBadToken || !strings.Contains(ce.Text, wire.TokenHeader) {
				t.Errorf("got close %d %q, want %d naming %s", ce.Code, ce.Text, wire.CloseBadToken, wire.TokenHeader)
			}
		})
	}
	if n := b.Peers(); n != 0 {
		t.Errorf("Peers() = %d after refusals", n)
	}
	// The good token itself was never taken by the refused attempts.
	if p := connectToken(t, url, good); p.id != wire.TokenID(good) {
		t.Errorf("good token gave %q", p.id)
	}
}

// leftLog captures the broker's "peer left" records: a handler has
// forgotten its socket once it logs one.
type leftLog struct {
	slog.Handler
	left chan string
}

func (h leftLog) Enabled(context.Context, slog.Level) bool { return true }

func (h leftLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "peer left" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "peer" {
				h.left <- a.Value.String()
			}
			return true
		})
	}
	return nil
}

func TestNewerConnectionWithTheTokenTakesTheIDOver(t *testing.T) {
	left := make(chan string, 8)
	b, url := newBroker(t, rendezvous.Config{Logger: slog.New(leftLog{slog.DiscardHandler, left})})
	token := wire.NewToken()
	old := connectToken(t, url, token)
	contact, bystander := connect(t, url), connect(t, url)
	contact.send(old.id, `{"n":1}`)
	if e := old.next(); e.From != contact.id {
		t.Fatalf("old got %+v", e)
	}

	// The old socket is alive as far as the broker knows (half-dead, say):
	// the token holder comes back on a new one.
	fresh := connectToken(t, url, token)
	if fresh.id != old.id {
		t.Fatalf("takeover gave %q, want %q", fresh.id, old.id)
	}
	if ce := closedWith(t, old.ws); ce.Code != wire.CloseReplaced || !strings.Contains(ce.Text, "took over") {
		t.Errorf("old socket closed with %d %q, want %d and a reason", ce.Code, ce.Text, wire.CloseReplaced)
	}
	// Wait until the broker is done with the old socket: forgetting it
	// must not forget the ID, which lives on in the new one.
	select {
	case id := <-left:
		if id != old.id {
			t.Fatalf("%s left, want %s", id, old.id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not let go of the replaced socket")
	}
	if n := b.Peers(); n != 3 {
		t.Errorf("Peers() = %d, want 3", n)
	}
	contact.nothingQueued() // no "left": the ID never went away
	contact.send(fresh.id, `{"n":2}`)
	if e := fresh.next(); e.From != contact.id || string(e.Data) != `{"n":2}` {
		t.Fatalf("new socket got %+v", e)
	}
	fresh.send(contact.id, `{"n":3}`)
	if e := contact.next(); e.From != fresh.id {
		t.Fatalf("contact got %+v", e)
	}
	// The new socket inherited the contacts: when it goes, they hear.
	fresh.ws.Close()
	if e := contact.next(); e.Type != wire.TypeLeft || e.Peer != fresh.id {
		t.Fatalf("contact got %+v, want left", e)
	}
	bystander.nothingQueued()
}

// TestTakeoverInheritsContactsMadeBeforeIt: a contact made through the
// old socket alone still hears when the ID finally leaves.
func TestTakeoverInheritsContactsMadeBeforeIt(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	token := wire.NewToken()
	old := connectToken(t, url, token)
	contact := connect(t, url)
	old.send(contact.id, `{}`)
	contact.next()
	fresh := connectToken(t, url, token)
	closedWith(t, old.ws)
	fresh.ws.Close()
	if e := contact.next(); e.Type != wire.TypeLeft || e.Peer != fresh.id {
		t.Fatalf("contact got %+v, want left", e)
	}
}
