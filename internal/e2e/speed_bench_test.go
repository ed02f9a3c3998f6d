package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
)

// plainPionSize is what BenchmarkPlainPion moves: a quarter of benchSize,
// since the plain data channel is slow; its rate is what counts.
const plainPionSize = 256 << 20

// selfCPU returns the CPU seconds this process has used so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkPlainPion is the baseline a Pion data channel gives without
// EpicShare's tuning, as Pion's flow-control example shows it: 16 KiB Send
// calls paced by the buffered-amount-low event (512 KiB low, 1 MiB high),
// default settings otherwise. Two processes on loopback, as in
// BenchmarkSendReceive: this one sends, the test binary re-run as
// TestPlainPionSink receives. It reports MB/s and CPU seconds per GiB of
// each side.
func BenchmarkPlainPion(b *testing.B) {
	for b.Loop() {
		pc, dc, opened := plainPionPeer(b)
		sink := exec.Command(os.Args[0], "-test.run=^TestPlainPionSink$")
		sink.Env = append(os.Environ(), "EPICSHARE_PION_SINK=1")
		sink.Stderr = os.Stderr
		offer, err := pc.CreateOffer(nil)
		must(b, err)
		gathered := webrtc.GatheringCompletePromise(pc)
		must(b, pc.SetLocalDescription(offer))
		<-gathered
		in, err := sink.StdinPipe()
		must(b, err)
		out, err := sink.StdoutPipe()
		must(b, err)
		must(b, sink.Start())
		must(b, json.NewEncoder(in).Encode(pc.LocalDescription()))
		var answer webrtc.SessionDescription
		must(b, json.NewDecoder(out).Decode(&answer))
		must(b, pc.SetRemoteDescription(answer))
		select {
		case <-opened:
		case <-time.After(30 * time.Second):
			sink.Process.Kill()
			b.Fatal("the data channel did not open")
		}

		cpu0, t0 := selfCPU(), time.Now()
		plainSend(b, dc, plainPionSize)
		must(b, sink.Wait()) // the sink exits once it has every byte
		elapsed := time.Since(t0)
		sendCPU := selfCPU() - cpu0
		recvCPU, _ := usage(sink.ProcessState)
		pc.Close()
		perGiB := float64(1<<30) / plainPionSize
		b.ReportMetric(plainPionSize/elapsed.Seconds()/1e6, "MB/s")
		b.ReportMetric(sendCPU*perGiB, "send-cpu-s/GiB")
		b.ReportMetric(recvCPU*perGiB, "recv-cpu-s/GiB")
	}
}

// plainPionPeer makes a peer connection confined to loopback with a data
// channel, which is open once opened is closed.
func plainPionPeer(t testing.TB) (*webrtc.PeerConnection, *webrtc.DataChannel, chan struct{}) {
	var se webrtc.SettingEngine
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	opened := make(chan struct{})
	dc, err := pc.CreateDataChannel("bench", nil)
	must(t, err)
	dc.OnOpen(func() { close(opened) })
	return pc, dc, opened
}

// plainSend sends size bytes in 16 KiB messages with Pion's documented
// flow control.
func plainSend(b *testing.B, dc *webrtc.DataChannel, size int) {
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
				b.Fatal("the data channel stopped draining")
			}
		}
		must(b, dc.Send(buf))
	}
}

// TestPlainPionSink is BenchmarkPlainPion's receiving process: it answers
// the offer on stdin with an answer on stdout, counts what arrives and
// exits once it has everything. It is skipped in normal runs.
func TestPlainPionSink(t *testing.T) {
	if os.Getenv("EPICSHARE_PION_SINK") == "" {
		t.Skip("only runs as BenchmarkPlainPion's receiver")
	}
	var se webrtc.SettingEngine
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	defer pc.Close()
	var got atomic.Int64
	done := make(chan struct{})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if got.Add(int64(len(m.Data))) == plainPionSize {
				close(done)
			}
		})
	})
	var offer webrtc.SessionDescription
	must(t, json.NewDecoder(os.Stdin).Decode(&offer))
	must(t, pc.SetRemoteDescription(offer))
	answer, err := pc.CreateAnswer(nil)
	must(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	must(t, pc.SetLocalDescription(answer))
	<-gathered
	must(t, json.NewEncoder(os.Stdout).Encode(pc.LocalDescription()))
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("received %d of %d bytes", got.Load(), plainPionSize)
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
