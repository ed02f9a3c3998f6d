package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// awaitServer returns the first server state that satisfies ok.
func awaitServer(t *testing.T, ch <-chan session.ServerState, what string, ok func(session.ServerState) bool) session.ServerState {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case st := <-ch:
			if ok(st) {
				return st
			}
		case <-timeout:
			t.Fatalf("the share did not report: %s", what)
		}
	}
}

// TestBrokerRestartMidShare restarts the broker while a first receiver is
// in the middle of a file: that transfer completes (it never passes
// through the broker), the share reconnects with the same ID, and a
// second receiver opening the very same link gets everything.
func TestBrokerRestartMidShare(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv := testutil.StartBroker(t)
	src := tree(t, 32<<20)
	want := testutil.Digest(t, src)
	ev := newEvents()
	server := make(chan session.ServerState, 256)
	o, err := transfer.NewOffer(src)
	testutil.Must(t, err)
	s, err := session.Share(ctx, cfg, srv.URL(), o, session.ShareOptions{
		OnEvent:  ev.on,
		OnServer: func(st session.ServerState) { server <- st },
	})
	testutil.Must(t, err)
	defer s.Stop()
	link := s.Link()

	// The first receiver holds still past 4 MiB until the broker has
	// been restarted and the share is back on it.
	midway, restarted := make(chan struct{}), make(chan struct{})
	var once sync.Once
	first := make(chan error, 1)
	out1 := t.TempDir()
	go func() {
		_, err := session.Receive(ctx, cfg, link, out1, session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
			Progress: func(p transfer.Progress) {
				if p.Done > 4<<20 && p.Done < p.Total {
					once.Do(func() {
						close(midway)
						select {
						case <-restarted:
						case <-ctx.Done():
						}
					})
				}
			},
		}})
		first <- err
	}()
	select {
	case <-midway:
	case err := <-first:
		t.Fatalf("the first receiver ended before the restart: %v", err)
	}

	srv.Stop()
	awaitServer(t, server, "lost the server", func(st session.ServerState) bool {
		return !st.Connected && errors.Is(st.Err, signal.ErrGoingAway)
	})
	srv.Start()
	awaitServer(t, server, "back on the server", func(st session.ServerState) bool { return st.Connected })
	close(restarted)

	if err := <-first; err != nil {
		t.Fatalf("the first receiver, mid-file during the restart: %v", err)
	}
	if got := testutil.Digest(t, filepath.Join(out1, "holiday")); got != want {
		t.Fatal("the first receiver got a different tree")
	}
	if s.Link().String() != link.String() {
		t.Fatalf("the link changed: %s, was %s", s.Link(), link)
	}
	out2 := t.TempDir()
	if _, err := session.Receive(ctx, cfg, link, out2, session.ReceiveOptions{}); err != nil {
		t.Fatalf("a new receiver with the same link after the restart: %v", err)
	}
	if got := testutil.Digest(t, filepath.Join(out2, "holiday")); got != want {
		t.Fatal("the second receiver got a different tree")
	}
	for range 2 {
		if e := ev.final(<-ev.done); e.State != session.Done {
			t.Errorf("sender saw %v: %v", e.State, e.Err)
		}
	}
	if !s.Server().Connected {
		t.Errorf("Server() = %+v at the end", s.Server())
	}
}

// TestReceiverWaitingThroughABrokerRestart: a receiver that said hello
// and waits for the sender's answer when the broker restarts dials again
// and says hello again, instead of waiting out its connect timeout, and
// gets the files from the sender, which is back on the broker too. The
// sender reaches the broker through a relay that swallows the first
// hello, so the receiver is still waiting when the broker goes down.
func TestReceiverWaitingThroughABrokerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv := testutil.StartBroker(t)
	var restarted atomic.Bool
	swallowed := make(chan struct{})
	var once sync.Once
	r := relay(t, srv.URL(), func(toClient bool, e wire.Envelope) []wire.Envelope {
		if toClient && e.Type == wire.TypeMessage && !restarted.Load() {
			if sg, err := wire.DecodeSignal(e.Data); err == nil && sg.Kind == wire.SignalHello {
				once.Do(func() { close(swallowed) })
				return nil
			}
		}
		return []wire.Envelope{e}
	})
	src := tree(t, 1<<20)
	ev := newEvents()
	s := share(t, ctx, r, ev, src)
	link := s.Link()
	link.Server = srv.URL() // the receiver goes to the broker itself

	got := make(chan error, 1)
	out := t.TempDir()
	t0 := time.Now()
	go func() {
		_, err := session.Receive(ctx, cfg, link, out, session.ReceiveOptions{})
		got <- err
	}()
	select {
	case <-swallowed:
	case err := <-got:
		t.Fatalf("the receiver ended before the restart: %v", err)
	}
	restarted.Store(true)
	srv.Stop()
	srv.Start()
	if err := <-got; err != nil {
		t.Fatalf("the receiver, waiting for an answer during the restart: %v", err)
	}
	if elapsed := time.Since(t0); elapsed >= cfg.ConnectTimeout {
		t.Errorf("took %v: the receiver waited out its connect timeout", elapsed)
	}
	if got, want := testutil.Digest(t, filepath.Join(out, "holiday")), testutil.Digest(t, src); got != want {
		t.Errorf("received tree differs:\n%s\nwant:\n%s", got, want)
	}
}

// TestShareOnABrokerThatIgnoresTokens: a broker from before reclaimable
// IDs hands out a random ID; the share still works, with that ID.
func TestShareOnABrokerThatIgnoresTokens(t *testing.T) {
	id := wire.NewPeerID()
	var tokens []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get(wire.TokenHeader))
		mu.Unlock()
		ws, err := (&websocket.Upgrader{Subprotocols: []string{wire.Subprotocol}}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		b, _ := json.Marshal(wire.Envelope{Type: wire.TypeWelcome, ID: id})
		ws.WriteMessage(websocket.TextMessage, b)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	o, err := transfer.NewOffer(tree(t, 10))
	testutil.Must(t, err)
	s, err := session.Share(t.Context(), cfg, u, o, session.ShareOptions{})
	testutil.Must(t, err)
	defer s.Stop()
	if s.Link().ID != id {
		t.Errorf("link names %q, want the broker's %q", s.Link().ID, id)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 2 || !wire.ValidToken(tokens[0]) || tokens[1] != "" {
		t.Errorf("tokens presented: %q; want one, then none", tokens)
	}
}
