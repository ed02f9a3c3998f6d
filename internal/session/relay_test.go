package session_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/epicshare/epicshare/internal/peer"
	turn "github.com/epicshare/epicshare/internal/relay"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	tu "github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

// TestRelayedWithTheBrokersCredentials runs a share through a broker
// whose welcome hands out TURN credentials of a relay on loopback, with
// both peers allowed relayed candidates only. The credentials live for
// four seconds; the receiver comes after they expired, so the share's
// new peer connection works only with the credentials the broker renewed.
func TestRelayedWithTheBrokersCredentials(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	r, err := turn.New(turn.Config{
		Secret: secret, Addr: "127.0.0.1:0", TTL: 4 * time.Second,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	tu.Must(t, err)
	defer r.Close()
	b := rendezvous.New(rendezvous.Config{ICE: r})
	srv := httptest.NewServer(b)
	defer func() { b.Close(); srv.Close() }()
	server, _ := url.Parse(srv.URL)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	relayed := cfg
	relayed.Peer.RelayOnly = true
	src := tree(t, 4<<20)
	o, err := transfer.NewOffer(src)
	tu.Must(t, err)
	ev := newEvents()
	s, err := session.Share(ctx, relayed, server, o, session.ShareOptions{OnEvent: ev.on})
	tu.Must(t, err)
	defer s.Stop()

	time.Sleep(5 * time.Second) // the welcome's credentials expire: what is under test

	var path peer.Path
	out := t.TempDir()
	_, err = session.Receive(ctx, relayed, s.Link(), out, session.ReceiveOptions{OnConnected: func(_ string, p peer.Path) { path = p }})
	tu.Must(t, err)
	if got, want := tu.Digest(t, out+"/holiday"), tu.Digest(t, src); got != want {
		t.Fatalf("received tree differs:\n%s\nwant:\n%s", got, want)
	}
	if path != peer.PathRelay {
		t.Errorf("path %v, want relayed", path)
	}
	id := <-ev.done
	if e := ev.final(id); e.State != session.Done {
		t.Errorf("the share ended %v (%v), want done", e.State, e.Err)
	}
	ev.mu.Lock()
	var sharePath peer.Path
	for _, e := range ev.list {
		if e.Peer == id && e.Path != peer.PathUnknown {
			sharePath = e.Path
		}
	}
	ev.mu.Unlock()
	if sharePath != peer.PathRelay {
		t.Errorf("the share says the path is %v, want relayed", sharePath)
	}
	figures := relayFigures(t, r)
	if figures["epicshare_turn_allocations_total"] < 2 || figures["epicshare_turn_refused_total"] != 0 {
		t.Errorf("relay figures %v, want an allocation per peer and no refusal", figures)
	}
}

// relayFigures sums each of r's metrics over its labels.
func relayFigures(t *testing.T, r *turn.Server) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	mfs, err := reg.Gather()
	tu.Must(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}
