package peer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loopback keeps ICE on the loopback interface: tests never touch the
// machine's real network.
var loopback = peer.Config{Interfaces: []string{"lo"}}

// pair connects an offerer and an answerer through in-memory signaling
// that keeps each direction in order, as the broker does.
func pair(t *testing.T, ctx context.Context) (off, ans *peer.Conn) {
	t.Helper()
	return pairOn(t, ctx, loopback, loopback, nil)
}

// pairOn is pair with a configuration per side; offers, if not nil,
// counts the offers the offerer sends.
func pairOn(t *testing.T, ctx context.Context, offCfg, ansCfg peer.Config, offers *atomic.Int32) (off, ans *peer.Conn) {
	t.Helper()
	toAns, toOff := make(chan wire.Signal, 64), make(chan wire.Signal, 64)
	o, err := peer.New(peer.NewAPI(offCfg), offCfg, peer.Offerer, func(s wire.Signal) {
		if s.Kind == wire.SignalOffer && offers != nil {
			offers.Add(1)
		}
		toAns <- s
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := peer.New(peer.NewAPI(ansCfg), ansCfg, peer.Answerer, func(s wire.Signal) { toOff <- s })
	if err != nil {
		t.Fatal(err)
	}
	route := func(ch chan wire.Signal, p *peer.Peer) {
		for {
			select {
			case s := <-ch:
				if err := p.HandleSignal(s); err != nil {
					t.Errorf("handle %s: %v", s.Kind, err)
				}
			case <-ctx.Done():
				return
			}
		}
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { route(toAns, a); done <- struct{}{} }()
	go func() { route(toOff, o); done <- struct{}{} }()
	t.Cleanup(func() { stop(); <-done; <-done })

	type res struct {
		c   *peer.Conn
		err error
	}
	ansc := make(chan res, 1)
	go func() { c, err := a.Connect(rctx); ansc <- res{c, err} }()
	off, err = o.Connect(rctx)
	r := <-ansc
	if err != nil || r.err != nil {
		t.Fatalf("connect: offerer %v, answerer %v", err, r.err)
	}
	t.Cleanup(func() { off.Close(); r.c.Close() })
	return off, r.c
}

func TestStreamCarriesBytesBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	off, ans := pair(t, ctx)

	data := make([]byte, 8<<20+123)
	rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		// Odd write sizes, up to the 64 KiB frame limit.
		rest := data
		for len(rest) > 0 {
			n := min(len(rest), 65536-len(rest)%7)
			if _, err := off.Write(rest[:n]); err != nil {
				errc <- err
				return
			}
			rest = rest[n:]
		}
		errc <- nil
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(ans, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	// And back.
	if _, err := ans.Write([]byte("thanks")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(off, buf); err != nil || string(buf) != "thanks" {
		t.Fatalf("got %q, %v", buf, err)
	}
}

func TestCloseUnblocksRemoteRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	off, ans := pair(t, ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := ans.Read(make([]byte, 10))
		errc <- err
	}()
	off.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("read after remote close succeeded")
		}
	case <-ctx.Done():
		t.Fatal("read still blocked after the remote closed")
	}
}

func TestByeEndsNegotiation(t *testing.T) {
	api := peer.NewAPI(loopback)
	p, err := peer.New(api, loopback, peer.Answerer, func(wire.Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	p.HandleSignal(wire.Signal{Kind: wire.SignalBye, Reason: "share stopped"})
	_, err = p.Connect(t.Context())
	if !errors.Is(err, peer.ErrBye) {
		t.Fatalf("got %v, want ErrBye", err)
	}
}

func TestConnectHonoursContext(t *testing.T) {
	api := peer.NewAPI(loopback)
	p, err := peer.New(api, loopback, peer.Offerer, func(wire.Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Connect(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestRemoteCloseUnblocksBlockedWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	off, ans := pair(t, ctx)
	// ans never reads: its receive window and then off's send buffer fill
	// up, and off's writes block in flow control.
	errc := make(chan error, 1)
	var writes atomic.Int64
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := off.Write(buf); err != nil {
				errc <- err
				return
			}
			writes.Add(1)
		}
	}()
	// Stalled: no write completed for half a second.
	for last := int64(-1); ; {
		select {
		case err := <-errc:
			t.Fatalf("write failed before blocking: %v", err)
		case <-ctx.Done():
			t.Fatal("writes never stalled")
		case <-time.After(500 * time.Millisecond):
		}
		n := writes.Load()
		if n == last {
			break
		}
		last = n
	}
	ans.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("nil error")
		}
	case <-ctx.Done():
		t.Fatal("writer still blocked after the remote closed")
	}
}

// TestNoCandidateBeforeItsDescription: Pion gathers candidates as soon as a
// local description is set, before the description itself is sent. A
// receiver checks each signal against the handshake the offer starts, so a
// candidate that overtakes the offer is dropped (the page does so), and a
// browser that offers only an mDNS name then has no way to the sender at
// all. The send below takes its time over the offer, as a busy broker
// connection would: no candidate may be handed over before it returns.
func TestNoCandidateBeforeItsDescription(t *testing.T) {
	var (
		mu    sync.Mutex
		kinds []string
		cand  = make(chan struct{}, 1)
	)
	o, err := peer.New(peer.NewAPI(loopback), loopback, peer.Offerer, func(s wire.Signal) {
		if s.Kind == wire.SignalOffer {
			time.Sleep(300 * time.Millisecond) // long after gathering
		}
		mu.Lock()
		kinds = append(kinds, s.Kind)
		mu.Unlock()
		if s.Kind == wire.SignalCandidate {
			select {
			case cand <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Connect(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-cand:
	case <-time.After(10 * time.Second):
		t.Fatal("no candidate gathered")
	}
	mu.Lock()
	defer mu.Unlock()
	if kinds[0] != wire.SignalOffer {
		t.Fatalf("the first signal handed over is %s, not the offer: %v", kinds[0], kinds)
	}
}
