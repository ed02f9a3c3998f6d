package signal_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

// states collects a Conn's state changes.
type states chan signal.State

func (s states) on(st signal.State) {
	select {
	case s <- st:
	default: // a test that stopped listening does not block the Conn
	}
}

// await returns the first state that satisfies ok.
func (s states) await(t *testing.T, what string, ok func(signal.State) bool) signal.State {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-s:
			if ok(st) {
				return st
			}
		case <-timeout:
			t.Fatalf("no state change: %s", what)
		}
	}
}

func reconnecting(opts signal.Options, ch states) signal.Options {
	opts.Token = wire.NewToken()
	opts.Reconnect = true
	opts.RetryMin, opts.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	opts.OnState = ch.on
	return opts
}

func dialOpts(t *testing.T, ctx context.Context, u *url.URL, opts signal.Options) *signal.Conn {
	t.Helper()
	c, err := signal.Dial(ctx, u, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTokenGivesItsID(t *testing.T) {
	_, u := broker(t, rendezvous.Config{})
	token := wire.NewToken()
	c := dialOpts(t, t.Context(), u, signal.Options{Token: token})
	if c.ID() != wire.TokenID(token) {
		t.Fatalf("ID %q, want TokenID %q", c.ID(), wire.TokenID(token))
	}
	c.Close()
	if again := dialOpts(t, t.Context(), u, signal.Options{Token: token}); again.ID() != c.ID() {
		t.Fatalf("second connection got %q, want %q", again.ID(), c.ID())
	}
}

func TestTokenRefusals(t *testing.T) {
	_, real := broker(t, rendezvous.Config{})
	// A server that predates tokens: a random ID whatever it is sent.
	ignores := fakeServer(t, speaksV1, func(ws *websocket.Conn) {
		welcome(t, ws)
		ws.ReadMessage()
	})
	// A server that refuses the token as the broker does.
	refuses := fakeServer(t, speaksV1, func(ws *websocket.Conn) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(wire.CloseBadToken, "malformed token"), time.Now().Add(time.Second))
		ws.ReadMessage()
	})
	for _, tc := range []struct {
		name   string
		server *url.URL
		opts   signal.Options
		want   error  // errors.Is
		text   string // in the message
	}{
		{"malformed token", real, signal.Options{Token: "not-a-token"}, signal.ErrBadToken, "malformed peer token"},
		{"a peer ID as token", real, signal.Options{Token: wire.NewPeerID()}, signal.ErrBadToken, "malformed"},
		{"server refuses the token", refuses, signal.Options{Token: wire.NewToken()}, signal.ErrBadToken, "malformed token"},
		{"server ignores the token", ignores, signal.Options{Token: wire.NewToken()}, signal.ErrTokenIgnored, "update it"},
		{"reconnect without token", real, signal.Options{Reconnect: true}, nil, "needs a peer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signal.Dial(t.Context(), tc.server, tc.opts)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestReconnectsAfterBrokerRestart(t *testing.T) {
	srv := testutil.StartBroker(t)
	ch := make(states, 64)
	c := dialOpts(t, t.Context(), srv.URL(), reconnecting(signal.Options{}, ch))
	id := c.ID()
	before := dial(t, srv.URL())
	if err := before.Send(t.Context(), id, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.From != before.ID() {
		t.Fatalf("got %+v", e)
	}

	srv.Stop()
	ch.await(t, "reconnecting after the broker shut down", func(st signal.State) bool {
		return st.Status == signal.Reconnecting && errors.Is(st.Err, signal.ErrGoingAway)
	})
	// Nothing listens: redials fail, and say why.
	ch.await(t, "a failed redial", func(st signal.State) bool {
		return st.Status == signal.Reconnecting && st.Attempts >= 1 && st.Err != nil
	})
	if err := c.Send(t.Context(), id, []byte(`{}`)); !errors.Is(err, signal.ErrDisconnected) {
		t.Fatalf("Send while reconnecting = %v, want ErrDisconnected", err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err while reconnecting = %v", err)
	}
	if st := c.State(); st.Status != signal.Reconnecting || st.Err == nil {
		t.Fatalf("State while reconnecting = %+v", st)
	}

	srv.Start() // the same address, a broker that knows nothing
	ch.await(t, "connected again", func(st signal.State) bool { return st.Status == signal.Connected })
	if c.ID() != id || c.State().Status != signal.Connected {
		t.Fatalf("after reconnecting: ID %q (was %q), state %+v", c.ID(), id, c.State())
	}
	after := dial(t, srv.URL())
	if err := after.Send(t.Context(), id, []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.From != after.ID() || string(e.Data) != `{"n":2}` {
		t.Fatalf("got %+v, want the message sent to the old ID", e)
	}
	if err := c.Send(t.Context(), after.ID(), []byte(`{"n":3}`)); err != nil {
		t.Fatalf("Send after reconnecting: %v", err)
	}
	if e := next(t, after); e.From != id {
		t.Fatalf("got %+v", e)
	}
}

// proxy relays TCP connections to a broker; cut drops the client sides
// only, so the broker still believes in its sockets: half-dead ones, as
// after a laptop slept or a NAT forgot its mapping.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	client []net.Conn
	all    []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) (*proxy, *url.URL) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.client = append(p.client, in)
			p.all = append(p.all, in, out)
			p.mu.Unlock()
			// Neither copy closes the other side: cutting the client
			// must leave the broker's socket open.
			p.wg.Go(func() { io.Copy(out, in) })
			p.wg.Go(func() { io.Copy(in, out) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.all {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p, &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.client {
		c.Close()
	}
	p.client = nil
}

func TestReconnectTakesOverAHalfDeadSocket(t *testing.T) {
	b, direct := broker(t, rendezvous.Config{})
	p, via := startProxy(t, direct.Host)
	ch := make(states, 64)
	c := dialOpts(t, t.Context(), via, reconnecting(signal.Options{}, ch))
	contact := dial(t, direct)
	if err := contact.Send(t.Context(), c.ID(), []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	next(t, c)

	p.cut()
	ch.await(t, "reconnecting after the cut", func(st signal.State) bool { return st.Status == signal.Reconnecting })
	ch.await(t, "connected again", func(st signal.State) bool { return st.Status == signal.Connected })
	if n := b.Peers(); n != 2 {
		t.Errorf("Peers() = %d, want 2: the half-dead socket must have been replaced", n)
	}
	if err := contact.Send(t.Context(), c.ID(), []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.From != contact.ID() || string(e.Data) != `{"n":2}` {
		t.Fatalf("got %+v", e)
	}
	// The contact was not told that c left: it never did.
	ghost := wire.NewPeerID()
	if err := contact.Send(t.Context(), ghost, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, contact); e.Type != wire.TypeError || e.To != ghost {
		t.Fatalf("contact got %+v before the probe's error", e)
	}
}

func TestReplacedConnectionDoesNotReconnect(t *testing.T) {
	_, u := broker(t, rendezvous.Config{})
	ch := make(states, 64)
	opts := reconnecting(signal.Options{}, ch)
	c := dialOpts(t, t.Context(), u, opts)
	// Another holder of the token (never the app itself: it redials
	// only after its socket ended) takes the ID.
	other := dialOpts(t, t.Context(), u, signal.Options{Token: opts.Token})
	err := ended(t, c)
	var ce *websocket.CloseError
	if !errors.Is(err, signal.ErrReplaced) || !errors.As(err, &ce) || ce.Code != wire.CloseReplaced {
		t.Fatalf("Err = %v, want ErrReplaced", err)
	}
	if st := c.State(); st.Status != signal.Closed || !errors.Is(st.Err, signal.ErrReplaced) {
		t.Fatalf("State = %+v", st)
	}
	if other.Err() != nil || other.ID() != c.ID() {
		t.Fatalf("the newer connection: %v, ID %q", other.Err(), other.ID())
	}
	select {
	case st := <-ch:
		if st.Status == signal.Reconnecting {
			t.Fatalf("a replaced Conn tried to reconnect: %+v", st)
		}
	default:
	}
}

func TestReconnectingStopsOnCloseOrContext(t *testing.T) {
	for _, how := range []string{"Close", "context"} {
		t.Run(how, func(t *testing.T) {
			srv := testutil.StartBroker(t)
			ch := make(states, 64)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c := dialOpts(t, ctx, srv.URL(), reconnecting(signal.Options{}, ch))
			srv.Stop()
			ch.await(t, "a failed redial", func(st signal.State) bool { return st.Attempts >= 1 })
			if how == "Close" {
				c.Close()
			} else {
				cancel()
			}
			if err := ended(t, c); !errors.Is(err, signal.ErrClosed) {
				t.Fatalf("Err = %v, want ErrClosed", err)
			}
			if err := c.Send(t.Context(), wire.NewPeerID(), json.RawMessage(`{}`)); !errors.Is(err, signal.ErrClosed) {
				t.Fatalf("Send = %v, want ErrClosed", err)
			}
			// goleak (TestMain) checks that no redial outlives the Conn.
		})
	}
}

// TestContextDoesNotBoundAPlainConn: without Reconnect, Dial's ctx bounds
// the dial only, as before.
func TestContextDoesNotBoundAPlainConn(t *testing.T) {
	_, u := broker(t, rendezvous.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	c := dialOpts(t, ctx, u, signal.Options{})
	cancel()
	other := dial(t, u)
	if err := other.Send(t.Context(), c.ID(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.From != other.ID() {
		t.Fatalf("got %+v", e)
	}
}
