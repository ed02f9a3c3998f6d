package e2e

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

// vnetTransfer sends one random file of size bytes in process, the peers
// on Pion's virtual network with lossPercent loss at each host and oneWay
// delay, the broker on a loopback socket; it fails unless the file
// arrives identical and returns how long Receive took.
func vnetTransfer(t testing.TB, ctx context.Context, size int64, lossPercent int, oneWay time.Duration) time.Duration {
	t.Helper()
	vn := testutil.NewVNet(t, lossPercent, oneWay)
	b := rendezvous.New(rendezvous.Config{})
	srv := httptest.NewServer(b)
	defer func() { b.Close(); srv.Close() }()
	server, err := url.Parse(srv.URL)
	must(t, err)

	src := filepath.Join(t.TempDir(), "data.bin")
	randomFile(t, src, size)
	o, err := transfer.NewOffer(src)
	must(t, err)
	s, err := session.Share(ctx, session.Config{Peer: peer.Config{Net: vn.A}}, server, o, session.ShareOptions{})
	must(t, err)
	defer s.Stop()
	out := t.TempDir()
	t0 := time.Now()
	_, err = session.Receive(ctx, session.Config{Peer: peer.Config{Net: vn.B}}, s.Link(), out, session.ReceiveOptions{})
	elapsed := time.Since(t0)
	must(t, err)
	if got, want := digest(t, out), digest(t, filepath.Dir(src)); got != want {
		t.Fatalf("received:\n%s\nsent:\n%s", got, want)
	}
	return elapsed
}
