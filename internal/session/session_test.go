package session_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/epicshare/epicshare/internal/memtune"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cfg keeps ICE on loopback: the tests never touch the real network.
var cfg = session.Config{Peer: peer.Config{Interfaces: []string{"lo"}}, ConnectTimeout: 20 * time.Second}

// broker runs a real broker on a real loopback socket.
func broker(t *testing.T) *url.URL {
	t.Helper()
	b := rendezvous.New(rendezvous.Config{})
	srv := httptest.NewServer(b)
	t.Cleanup(func() { b.Close(); srv.Close() })
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tree builds the folder the issue asks for: nested files, an empty file,
// an empty folder and a large random file.
func tree(t *testing.T, bigSize int64) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "holiday")
	testutil.WriteTree(t, root, map[string]string{
		"notes.txt":           "sun, sea",
		"empty.txt":           "",
		"photos/day1/a.jpg":   strings.Repeat("A", 100_000),
		"photos/day2/b.jpg":   strings.Repeat("B", 70_001),
		"photos/nothing-yet/": "",
		"scripts/run.sh":      "#!/bin/sh\necho hi\n",
	})
	testutil.Must(t, os.Chmod(filepath.Join(root, "scripts/run.sh"), 0o755))
	testutil.RandomFile(t, filepath.Join(root, "video.bin"), bigSize)
	return root
}

// events collects a share's events, safe for concurrent use.
type events struct {
	mu   sync.Mutex
	list []session.Event
	done chan string // receiver IDs, as each finishes or fails
}

func newEvents() *events { return &events{done: make(chan string, 16)} }

func (e *events) on(ev session.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
	if ev.State == session.Done || ev.State == session.Failed {
		e.done <- ev.Peer
	}
}

func (e *events) final(id string) session.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.list) - 1; i >= 0; i-- {
		if e.list[i].Peer == id {
			return e.list[i]
		}
	}
	return session.Event{}
}

func share(t *testing.T, ctx context.Context, server *url.URL, ev *events, paths ...string) *session.Sharing {
	t.Helper()
	o, err := transfer.NewOffer(paths...)
	testutil.Must(t, err)
	s, err := session.Share(ctx, cfg, server, o, session.ShareOptions{OnEvent: ev.on})
	testutil.Must(t, err)
	t.Cleanup(s.Stop)
	return s
}

func TestTreeArrivesByteIdentical(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := tree(t, 64<<20)
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, src)

	out := t.TempDir()
	var last transfer.Progress
	res, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
		Progress: func(p transfer.Progress) { last = p },
	}})
	testutil.Must(t, err)
	if got, want := testutil.Digest(t, filepath.Join(out, "holiday")), testutil.Digest(t, src); got != want {
		t.Fatalf("received tree differs:\n%s\nwant:\n%s", got, want)
	}
	if len(res.Saved) != 1 || res.Saved[0] != "holiday" {
		t.Errorf("saved %v", res.Saved)
	}
	if last.Done != last.Total || last.Total != res.Manifest.Total() {
		t.Errorf("last progress %+v", last)
	}
	id := <-ev.done
	if e := ev.final(id); e.State != session.Done || e.Progress.Done != res.Manifest.Total() {
		t.Errorf("sender's final event %+v", e)
	}
}

func TestTwoReceiversAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := tree(t, 8<<20)
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, src)

	var wg sync.WaitGroup
	outs := []string{t.TempDir(), t.TempDir()}
	errs := make([]error, len(outs))
	for i, out := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{})
		}()
	}
	wg.Wait()
	want := testutil.Digest(t, src)
	for i, out := range outs {
		testutil.Must(t, errs[i])
		if got := testutil.Digest(t, filepath.Join(out, "holiday")); got != want {
			t.Errorf("receiver %d got a different tree", i)
		}
	}
	for range outs {
		if e := ev.final(<-ev.done); e.State != session.Done {
			t.Errorf("sender saw %v: %v", e.State, e.Err)
		}
	}
}

// stallAfter returns a Progress callback that calls fn once past n bytes.
func stallAfter(n int64, fn func()) func(transfer.Progress) {
	var once sync.Once
	return func(p transfer.Progress) {
		if p.Done >= n {
			once.Do(fn)
		}
	}
}

func TestReceiverCancels(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := tree(t, 32<<20)
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, src)

	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	out := t.TempDir()
	_, err := session.Receive(rctx, cfg, s.Link(), out, session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{Progress: stallAfter(4<<20, rcancel)}})
	if !errors.Is(err, transfer.ErrCanceled) {
		t.Fatalf("receiver got %v, want ErrCanceled", err)
	}
	e := ev.final(<-ev.done)
	var pe *transfer.PeerError
	if e.State != session.Failed || !errors.As(e.Err, &pe) || !strings.Contains(pe.Reason(), "receiver stopped") {
		t.Errorf("sender saw %v: %v; want the receiver's reason", e.State, e.Err)
	}
	testutil.NoPartFiles(t, out)
	// The share goes on: a second receiver still gets everything.
	out2 := t.TempDir()
	_, err = session.Receive(ctx, cfg, s.Link(), out2, session.ReceiveOptions{})
	testutil.Must(t, err)
	if testutil.Digest(t, filepath.Join(out2, "holiday")) != testutil.Digest(t, src) {
		t.Error("second receiver got a different tree")
	}
}

func TestSenderStopsOneReceiver(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := tree(t, 32<<20)
	ev := newEvents()
	var s *session.Sharing
	stopped := make(chan struct{})
	o, err := transfer.NewOffer(src)
	testutil.Must(t, err)
	var once sync.Once
	s, err = session.Share(ctx, cfg, broker(t), o, session.ShareOptions{OnEvent: func(e session.Event) {
		if e.State == session.Sending && e.Progress.Done > 4<<20 {
			once.Do(func() { go func() { s.StopReceiver(e.Peer); close(stopped) }() })
		}
		ev.on(e)
	}})
	testutil.Must(t, err)
	defer s.Stop()

	out := t.TempDir()
	_, err = session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{})
	var pe *transfer.PeerError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason(), "sender stopped") {
		t.Fatalf("receiver got %v, want the sender's reason", err)
	}
	<-stopped
	if e := ev.final(<-ev.done); e.State != session.Failed || !errors.Is(e.Err, transfer.ErrCanceled) {
		t.Errorf("sender saw %v: %v", e.State, e.Err)
	}
	testutil.KeptForResume(t, out)
	// The same link again resumes.
	res, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{})
	testutil.Must(t, err)
	if res.Resumed < 4<<20 {
		t.Errorf("resumed %d bytes, want at least the 4 MiB that had arrived", res.Resumed)
	}
	if testutil.Digest(t, filepath.Join(out, "holiday")) != testutil.Digest(t, src) {
		t.Error("resumed tree differs")
	}
	testutil.NoPartFiles(t, out)
}

func TestSenderStopsShareMidFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := tree(t, 32<<20)
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, src)
	out := t.TempDir()
	_, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
		Progress: stallAfter(4<<20, func() { go s.Stop() }),
	}})
	var pe *transfer.PeerError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason(), "sender stopped") {
		t.Fatalf("receiver got %v, want the sender's reason", err)
	}
	testutil.KeptForResume(t, out)
	// The sender shares the same files again, under a new link: the
	// receiver resumes from what it kept.
	s2 := share(t, ctx, broker(t), newEvents(), src)
	res, err := session.Receive(ctx, cfg, s2.Link(), out, session.ReceiveOptions{})
	testutil.Must(t, err)
	if res.Resumed < 4<<20 || len(res.Saved) != 1 || res.Saved[0] != "holiday" {
		t.Errorf("resumed %d bytes into %v", res.Resumed, res.Saved)
	}
	if testutil.Digest(t, filepath.Join(out, "holiday")) != testutil.Digest(t, src) {
		t.Error("resumed tree differs")
	}
	testutil.NoPartFiles(t, out)
}

func TestUnknownOrExpiredLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	server := broker(t)
	link := wire.Link{Server: server, ID: wire.NewPeerID(), Secret: wire.NewSecret()}
	_, err := session.Receive(ctx, cfg, link, t.TempDir(), session.ReceiveOptions{})
	if !errors.Is(err, session.ErrShareGone) {
		t.Fatalf("got %v, want ErrShareGone", err)
	}

	// A share that was stopped is gone too.
	ev := newEvents()
	s := share(t, ctx, server, ev, tree(t, 1))
	s.Stop()
	_, err = session.Receive(ctx, cfg, s.Link(), t.TempDir(), session.ReceiveOptions{})
	if !errors.Is(err, session.ErrShareGone) {
		t.Fatalf("after Stop: got %v, want ErrShareGone", err)
	}
}

func TestBrokerUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	u, _ := url.Parse(srv.URL)
	srv.Close() // nothing listens there any more
	link := wire.Link{Server: u, ID: wire.NewPeerID(), Secret: wire.NewSecret()}
	_, err := session.Receive(t.Context(), cfg, link, t.TempDir(), session.ReceiveOptions{})
	if err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("got %v, want a connection error", err)
	}
}

// TestBrokerShutdownIsReportedAndTheShareWaits: a broker that goes away
// no longer ends the share: it says so and keeps trying to come back.
func TestBrokerShutdownIsReportedAndTheShareWaits(t *testing.T) {
	b := rendezvous.New(rendezvous.Config{})
	srv := httptest.NewServer(b)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	o, err := transfer.NewOffer(tree(t, 10))
	testutil.Must(t, err)
	server := make(chan session.ServerState, 64)
	s, err := session.Share(t.Context(), cfg, u, o, session.ShareOptions{OnServer: func(st session.ServerState) { server <- st }})
	testutil.Must(t, err)
	if !s.Server().Connected {
		t.Fatalf("Server() = %+v right after Share", s.Server())
	}
	b.Close()
	select {
	case st := <-server:
		if st.Connected || st.Err == nil || !strings.Contains(st.Err.Error(), "the signaling server shut down") {
			t.Fatalf("OnServer got %+v, want disconnected because the server shut down", st)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the share did not report losing the server")
	}
	if st := s.Server(); st.Connected {
		t.Errorf("Server() = %+v while the broker is gone", st)
	}
	select {
	case <-s.Done():
		t.Fatalf("the share ended: %v", s.Err())
	default:
	}
	s.Stop()
	if err := s.Err(); err != nil {
		t.Fatalf("Err after Stop = %v", err)
	}
}

// TestTenReceiversAtOnce: a classroom scanning one QR code together; every
// receiver verifies everything.
func TestTenReceiversAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	src := tree(t, 2<<20)
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, src)
	want := testutil.Digest(t, src)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	outs := make([]string, 10)
	for i := range outs {
		outs[i] = t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = session.Receive(ctx, cfg, s.Link(), outs[i], session.ReceiveOptions{})
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if errs[i] != nil {
			t.Errorf("receiver %d: %v", i, errs[i])
		} else if testutil.Digest(t, filepath.Join(out, "holiday")) != want {
			t.Errorf("receiver %d got a different tree", i)
		}
	}
}

// TestDiskFull receives into a 4 MiB tmpfs: the transfer stops with a
// clear reason on both sides and no file takes its final name.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	out := t.TempDir()
	if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "epicshare-test", out).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, b)
	}
	t.Cleanup(func() { exec.Command("umount", out).Run() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ev := newEvents()
	src := tree(t, 16<<20)
	s := share(t, ctx, broker(t), ev, src)
	_, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("receiver got %v, want no space left", err)
	}
	e := ev.final(<-ev.done)
	var pe *transfer.PeerError
	if e.State != session.Failed || !errors.As(e.Err, &pe) || !strings.Contains(pe.Reason(), "disk is full") {
		t.Errorf("sender saw %v: %v", e.State, e.Err)
	}
	if _, err := os.Stat(filepath.Join(out, "holiday", "video.bin")); err == nil {
		t.Error("the file that did not fit has its final name")
	}
	var partial *transfer.PartialError
	if !errors.As(err, &partial) || partial.Kept < 2<<20 {
		t.Errorf("receiver got %v, want to hear what was kept", err)
	}
	testutil.KeptForResume(t, out)

	// Space is freed: the same link resumes and completes.
	if b, err := exec.Command("mount", "-o", "remount,size=64m", out).CombinedOutput(); err != nil {
		t.Fatalf("grow tmpfs: %v %s", err, b)
	}
	res, err := session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{})
	testutil.Must(t, err)
	if res.Resumed < 2<<20 {
		t.Errorf("resumed %d bytes, want what fitted before", res.Resumed)
	}
	if testutil.Digest(t, filepath.Join(out, "holiday")) != testutil.Digest(t, src) {
		t.Error("resumed tree differs")
	}
	testutil.NoPartFiles(t, out)
}

// TestStallIsReportedWithACause: a receiver that stops taking data for a
// while is reported by the sender as stalled, with the likely cause, and
// the transfer then completes.
func TestStallIsReportedWithACause(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := cfg
	c.StallAfter = 300 * time.Millisecond
	stalled := make(chan session.Stall, 8)
	o, err := transfer.NewOffer(tree(t, 16<<20))
	testutil.Must(t, err)
	s, err := session.Share(ctx, c, broker(t), o, session.ShareOptions{OnEvent: func(e session.Event) {
		if e.Stalled != nil {
			select {
			case stalled <- *e.Stalled:
			default:
			}
		}
	}})
	testutil.Must(t, err)
	defer s.Stop()
	var once sync.Once
	_, err = session.Receive(ctx, c, s.Link(), t.TempDir(), session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
		Progress: func(p transfer.Progress) {
			if p.Done > 4<<20 {
				// The receiver stops reading until the sender reports it.
				once.Do(func() {
					select {
					case st := <-stalled:
						if st.Cause != peer.StallPeerBusy || st.Idle < c.StallAfter {
							t.Errorf("stall %+v, want the peer busy for at least %s", st, c.StallAfter)
						}
					case <-time.After(30 * time.Second):
						t.Error("the sender did not report the stall")
					}
				})
			}
		},
	}})
	testutil.Must(t, err)
}

// TestTransfersLoosenTheGCWhileTheyRun checks that both sides hold the
// Tuner while files move, and let it go once they are done.
func TestTransfersLoosenTheGCWhileTheyRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	src := filepath.Join(t.TempDir(), "one.bin")
	testutil.RandomFile(t, src, 4<<20)
	var sendGC, recvGC memtune.Tuner
	scfg, rcfg := cfg, cfg
	scfg.GC, rcfg.GC = &sendGC, &recvGC
	o, err := transfer.NewOffer(src)
	testutil.Must(t, err)
	ev := newEvents()
	s, err := session.Share(ctx, scfg, broker(t), o, session.ShareOptions{OnEvent: ev.on})
	testutil.Must(t, err)
	defer s.Stop()
	var during [2]int
	_, err = session.Receive(ctx, rcfg, s.Link(), t.TempDir(), session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
		Progress: func(p transfer.Progress) {
			if p.Done > 0 && during[0] == 0 {
				during = [2]int{sendGC.Active(), recvGC.Active()}
			}
		},
	}})
	testutil.Must(t, err)
	<-ev.done
	if during != [2]int{1, 1} {
		t.Errorf("transfers under way (sender, receiver) while data moved: %v, want [1 1]", during)
	}
	s.Stop()
	if a, b := sendGC.Active(), recvGC.Active(); a != 0 || b != 0 {
		t.Errorf("after the transfer: sender %d, receiver %d still active", a, b)
	}
}
