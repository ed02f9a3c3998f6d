package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
)

// plainPionSize is what BenchmarkPlainPion moves over loopback: a quarter
// of benchSize, since the plain data channel is slow there; its rate is
// what counts.
const plainPionSize = 256 << 20

// The plain Pion channel's two processes are this test binary re-run as
// TestPlainPionSource and TestPlainPionSink; these variables tell them
// the interface to use and how many bytes to move.
const (
	plainSourceEnv = "EPICSHARE_PION_SOURCE"
	plainSinkEnv   = "EPICSHARE_PION_SINK"
	plainSizeEnv   = "EPICSHARE_PION_SIZE"
)

// BenchmarkPlainPion is the baseline a Pion data channel gives without
// EpicShare's tuning, as Pion's flow-control example shows it, two
// processes on loopback as in BenchmarkSendReceive.
func BenchmarkPlainPion(b *testing.B) {
	for b.Loop() {
		plainPion(b, nil, nil, "lo", plainPionSize)
	}
}

// plainPion moves size bytes over a plain Pion data channel from a
// source process (started as srcPrefix + the test binary) to a sink
// process (sinkPrefix + the test binary), both on network interface
// iface, and reports MB/s, CPU seconds per GiB and peak RSS of each
// side. The offer and answer pass through this process's pipes; the
// clock starts when the channel is open.
func plainPion(b *testing.B, srcPrefix, sinkPrefix []string, iface string, size int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	child := func(prefix []string, test, env string) *exec.Cmd {
		args := append(slices.Clone(prefix), os.Args[0], "-test.run=^"+test+"$")
		c := exec.CommandContext(ctx, args[0], args[1:]...)
		c.Env = append(os.Environ(), env+"="+iface, fmt.Sprintf("%s=%d", plainSizeEnv, size))
		c.Stderr = os.Stderr
		return c
	}
	source, sink := child(srcPrefix, "TestPlainPionSource", plainSourceEnv), child(sinkPrefix, "TestPlainPionSink", plainSinkEnv)
	srcIn, err := source.StdinPipe()
	must(b, err)
	srcOut, err := source.StdoutPipe()
	must(b, err)
	sinkIn, err := sink.StdinPipe()
	must(b, err)
	sinkOut, err := sink.StdoutPipe()
	must(b, err)
	must(b, source.Start())
	defer source.Process.Kill()
	fromSource := json.NewDecoder(srcOut)
	var offer, answer webrtc.SessionDescription
	must(b, fromSource.Decode(&offer))
	must(b, sink.Start())
	defer sink.Process.Kill()
	must(b, json.NewEncoder(sinkIn).Encode(offer))
	must(b, json.NewDecoder(sinkOut).Decode(&answer))
	must(b, json.NewEncoder(srcIn).Encode(answer))
	var open struct{ Open bool }
	if err := fromSource.Decode(&open); err != nil || !open.Open {
		b.Fatalf("the plain data channel did not open: %v", err)
	}
	t0 := time.Now()
	must(b, sink.Wait()) // the sink exits once it has every byte
	elapsed := time.Since(t0)
	srcIn.Close() // tells the source it may go
	must(b, source.Wait())
	reportTransfer(b, int64(size), elapsed, source.ProcessState, sink.ProcessState)
}

// plainPionPeer makes a peer connection confined to the interface named in
// the environment variable env, with Pion's defaults otherwise, and the
// size to move.
func plainPionPeer(t *testing.T, env string) (*webrtc.PeerConnection, int) {
	iface := os.Getenv(env)
	if iface == "" {
		t.Skip("only runs as a process of the plain Pion benchmarks")
	}
	size, err := strconv.Atoi(os.Getenv(plainSizeEnv))
	must(t, err)
	var se webrtc.SettingEngine
	se.SetInterfaceFilter(func(name string) bool { return name == iface })
	se.SetIncludeLoopbackCandidate(iface == "lo")
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	return pc, size
}

// describe sets d as pc's local description and returns it once ICE
// gathering is complete.
func describe(t *testing.T, pc *webrtc.PeerConnection, d webrtc.SessionDescription) *webrtc.SessionDescription {
	gathered := webrtc.GatheringCompletePromise(pc)
	must(t, pc.SetLocalDescription(d))
	<-gathered
	return pc.LocalDescription()
}

// TestPlainPionSource is the plain channel's sending process: it prints
// an offer on stdout, reads the answer on stdin, reports the channel open
// and sends 16 KiB messages paced by the buffered-amount-low event (512
// KiB low, 1 MiB high), as Pion's flow-control example does; it exits
// when its stdin closes.
func TestPlainPionSource(t *testing.T) {
	pc, size := plainPionPeer(t, plainSourceEnv)
	defer pc.Close()
	opened := make(chan struct{})
	dc, err := pc.CreateDataChannel("bench", nil)
	must(t, err)
	dc.OnOpen(func() { close(opened) })
	offer, err := pc.CreateOffer(nil)
	must(t, err)
	out := json.NewEncoder(os.Stdout)
	must(t, out.Encode(describe(t, pc, offer)))
	in := json.NewDecoder(os.Stdin)
	var answer webrtc.SessionDescription
	must(t, in.Decode(&answer))
	must(t, pc.SetRemoteDescription(answer))
	select {
	case <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("the data channel did not open")
	}
	must(t, out.Encode(struct{ Open bool }{true}))

	const chunk, low, high = 16 << 10, 512 << 10, 1 << 20
	dc.SetBufferedAmountLowThreshold(low)
	drained := make(chan struct{}, 1)
	dc.OnBufferedAmountLow(func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	buf := make([]byte, chunk)
	for sent := 0; sent < size; sent += chunk {
		for dc.BufferedAmount() > high {
			select {
			case <-drained:
			case <-time.After(10 * time.Second):
				t.Fatal("the data channel stopped draining")
			}
		}
		must(t, dc.Send(buf))
	}
	io.Copy(io.Discard, os.Stdin) // until the benchmark is done with us
}

// TestPlainPionSink is the plain channel's receiving process: it answers
// the offer on stdin with an answer on stdout, counts what arrives and
// exits once it has everything.
func TestPlainPionSink(t *testing.T) {
	pc, size := plainPionPeer(t, plainSinkEnv)
	defer pc.Close()
	var got atomic.Int64
	done := make(chan struct{})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if got.Add(int64(len(m.Data))) == int64(size) {
				close(done)
			}
		})
	})
	var offer webrtc.SessionDescription
	must(t, json.NewDecoder(os.Stdin).Decode(&offer))
	must(t, pc.SetRemoteDescription(offer))
	answer, err := pc.CreateAnswer(nil)
	must(t, err)
	must(t, json.NewEncoder(os.Stdout).Encode(describe(t, pc, answer)))
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("received %d of %d bytes", got.Load(), size)
	}
}

// BenchmarkFirstByte measures, in this process on loopback, the time from
// opening a link (session.Receive) until the first byte of file data
// arrives: the broker round trips, the signed handshake, ICE, DTLS, SCTP
// and the manifest.
func BenchmarkFirstByte(b *testing.B) {
	broker := rendezvous.New(rendezvous.Config{})
	srv := httptest.NewServer(broker)
	defer func() { broker.Close(); srv.Close() }()
	server, err := url.Parse(srv.URL)
	must(b, err)
	src := filepath.Join(b.TempDir(), "one.bin")
	randomFile(b, src, 1<<20)
	o, err := transfer.NewOffer(src)
	must(b, err)
	cfg := session.Config{Peer: peer.Config{Interfaces: []string{"lo"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := session.Share(ctx, cfg, server, o, session.ShareOptions{})
	must(b, err)
	defer s.Stop()
	for b.Loop() {
		out, err := os.MkdirTemp("", "epicshare-bench-out-")
		must(b, err)
		var first time.Duration
		t0 := time.Now()
		_, err = session.Receive(ctx, cfg, s.Link(), out, session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
			Progress: func(p transfer.Progress) {
				if first == 0 && p.Done > 0 {
					first = time.Since(t0)
				}
			},
		}})
		must(b, err)
		os.RemoveAll(out)
		b.ReportMetric(float64(first.Microseconds())/1000, "first-byte-ms")
	}
}
