package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

// relay is a hostile signaling server: it stands in front of the real
// broker and passes every message through rewrite, which returns what to
// forward instead (nothing, the same, altered, or several).
func relay(t *testing.T, broker *url.URL, rewrite func(toClient bool, e wire.Envelope) []wire.Envelope) *url.URL {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{wire.Subprotocol}}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}}
		// The peer's token goes through, so it keeps its ID on the broker.
		server, _, err := d.Dial(wire.SocketURL(broker), http.Header{wire.TokenHeader: r.Header.Values(wire.TokenHeader)})
		if err != nil {
			client.Close()
			return
		}
		pipe := func(from, to *websocket.Conn, toClient bool) {
			defer wg.Done()
			defer from.Close()
			defer to.Close()
			for {
				_, b, err := from.ReadMessage()
				if err != nil {
					return
				}
				var e wire.Envelope
				if json.Unmarshal(b, &e) != nil {
					continue
				}
				for _, out := range rewrite(toClient, e) {
					b, _ := json.Marshal(out)
					if to.WriteMessage(websocket.TextMessage, b) != nil {
						return
					}
				}
			}
		}
		wg.Add(2)
		go pipe(client, server, false)
		go pipe(server, client, true)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); wg.Wait() })
	u, _ := url.Parse(srv.URL)
	return u
}

var fingerprintRE = regexp.MustCompile(`a=fingerprint:sha-256 [0-9A-F:]+`)

// rewriteSDP swaps the DTLS fingerprint of every offer and answer for one
// of the relay's own, as a broker wanting to sit in the middle must.
func rewriteSDP(_ bool, e wire.Envelope) []wire.Envelope {
	if e.Type != wire.TypeSend && e.Type != wire.TypeMessage {
		return []wire.Envelope{e}
	}
	var sg wire.Signal
	if json.Unmarshal(e.Data, &sg) == nil && sg.SDP != "" {
		sg.SDP = fingerprintRE.ReplaceAllString(sg.SDP, "a=fingerprint:sha-256 66:6F:6F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC")
		e.Data, _ = json.Marshal(sg)
	}
	return []wire.Envelope{e}
}

func TestRelayRewritingFingerprintIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ev := newEvents()
	s := share(t, ctx, relay(t, broker(t), rewriteSDP), ev, tree(t, 1000))
	out := t.TempDir()
	_, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{})
	if !errors.Is(err, session.ErrTampered) {
		t.Fatalf("receiver got %v, want ErrTampered", err)
	}
	if e := ev.final(<-ev.done); e.State != session.Failed || !errors.Is(e.Err, session.ErrTampered) {
		t.Errorf("sender saw %v: %v, want ErrTampered", e.State, e.Err)
	}
	testutil.NoPartFiles(t, out)
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("something was written: %v", entries)
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, tree(t, 1000))
	link := s.Link()
	link.Secret = wire.NewSecret()
	_, err := session.Receive(ctx, cfg, link, t.TempDir(), session.ReceiveOptions{})
	if !errors.Is(err, session.ErrWrongSecret) {
		t.Fatalf("receiver got %v, want ErrWrongSecret", err)
	}
	if e := ev.final(<-ev.done); e.State != session.Failed || !errors.Is(e.Err, session.ErrWrongSecret) {
		t.Errorf("sender saw %v: %v", e.State, e.Err)
	}
	// The right link still works.
	if _, err := session.Receive(ctx, cfg, s.Link(), t.TempDir(), session.ReceiveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestReplayingRelay sends every signaling message twice: the copies are
// refused as replays and the transfer goes through.
func TestReplayingRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	twice := func(_ bool, e wire.Envelope) []wire.Envelope {
		if e.Type == wire.TypeMessage {
			return []wire.Envelope{e, e}
		}
		return []wire.Envelope{e}
	}
	ev := newEvents()
	src := tree(t, 1<<20)
	s := share(t, ctx, relay(t, broker(t), twice), ev, src)
	var codes []string
	out := t.TempDir()
	_, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{OnConnected: func(c string, path peer.Path) {
		codes = append(codes, c)
		if path != peer.PathDirect {
			t.Errorf("path %q on loopback, want direct", path)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := ev.final(<-ev.done)
	if e.State != session.Done || len(codes) != 1 || e.Code != codes[0] {
		t.Errorf("sender %v code %q, receiver codes %q: want done and the same code", e.State, e.Code, codes)
	}
}
