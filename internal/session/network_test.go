package session_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

// On Pion's virtual network (testutil.NewVNet) the peers talk through an
// in-process router that adds delay, loss or a cut; the broker stays on a
// real loopback socket. These tests check that the transfer completes and
// verifies; how fast is for the benchmarks to say.

// vnetConfigs gives the sender host A and the receiver host B.
func vnetConfigs(vn *testutil.VNet) (send, recv session.Config) {
	send, recv = cfg, cfg
	send.Peer = peer.Config{Net: vn.A}
	recv.Peer = peer.Config{Net: vn.B}
	return send, recv
}

// sendOver shares one random file of size bytes from sendCfg's side and
// receives it with recvCfg, calling onProgress with the receiver's
// progress; it fails the test unless the file arrives identical.
func sendOver(t *testing.T, ctx context.Context, sendCfg, recvCfg session.Config, size int64, onProgress func(transfer.Progress)) time.Duration {
	t.Helper()
	src := filepath.Join(t.TempDir(), "data.bin")
	testutil.RandomFile(t, src, size)
	o, err := transfer.NewOffer(src)
	testutil.Must(t, err)
	ev := newEvents()
	s, err := session.Share(ctx, sendCfg, broker(t), o, session.ShareOptions{OnEvent: ev.on})
	testutil.Must(t, err)
	t.Cleanup(s.Stop)
	out := t.TempDir()
	t0 := time.Now()
	_, err = session.Receive(ctx, recvCfg, s.Link(), out, session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{Progress: onProgress}})
	elapsed := time.Since(t0)
	testutil.Must(t, err)
	if got, want := testutil.Digest(t, out), testutil.Digest(t, filepath.Dir(src)); got != want {
		t.Fatalf("received file differs:\n%s\nwant:\n%s", got, want)
	}
	if e := ev.final(<-ev.done); e.State != session.Done {
		t.Errorf("sender's final event %+v", e)
	}
	return elapsed
}

// TestLossyLongLink sends over a path with 100 ms of round trip and 5 %
// loss each way. SCTP backs off like TCP: by the Mathis formula, 1,200-byte
// packets at 100 ms and 5 % loss allow about 1200/0.1 × 1.22/√0.05 ≈ 65 KB/s;
// with peer's floor under the congestion window it measured ~560 KB/s
// here, so 64 MiB take some two minutes (1 MiB took 17 s without the
// floor). The time is round trips, not CPU.
func TestLossyLongLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	send, recv := vnetConfigs(testutil.NewVNet(t, 5, 50*time.Millisecond))
	const size = 64 << 20
	elapsed := sendOver(t, ctx, send, recv, size, nil)
	t.Logf("64 MiB at 5 %% loss, 100 ms RTT: %.1fs, %.0f KB/s", elapsed.Seconds(), size/elapsed.Seconds()/1e3)
}

// TestTransferSurvivesLinkCut pulls the virtual link for 12 s once a
// quarter of the file arrived: past ICE's disconnected timeout, so the
// sender restarts ICE through the broker (signed like the first offer)
// and the receiver, which kept its broker connection, answers it.
func TestTransferSurvivesLinkCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	vn := testutil.NewVNet(t, 0, 5*time.Millisecond)
	send, recv := vnetConfigs(vn)
	logs := &testutil.Buffer{}
	send.Peer.Logger = slog.New(slog.NewTextHandler(logs, nil))
	var once sync.Once
	elapsed := sendOver(t, ctx, send, recv, 16<<20, func(p transfer.Progress) {
		if p.Done > p.Total/4 {
			once.Do(func() {
				vn.Cut(true)
				time.AfterFunc(12*time.Second, func() { vn.Cut(false) })
			})
		}
	})
	t.Logf("16 MiB with a 12 s cut: %.1fs", elapsed.Seconds())
	if !strings.Contains(logs.String(), "ICE restart offered") {
		t.Errorf("no ICE restart in the sender's log:\n%s", logs)
	}
}
