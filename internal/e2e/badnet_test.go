package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bad-network tests run the built binaries on two hosts of their own:
// two network namespaces joined by a veth pair on 10.251.0.0/24 (the
// browser tests use 10.250.0.0/24, so both can run at once). The sender
// and the signal server live in one namespace, the receiver in the other,
// so signaling crosses the same link as the data. The link is made bad
// with what this kernel has (no netem): nftables drops a share of UDP
// packets at random on arrival at each host, tc's tbf caps each
// direction's rate, and `ip link set down` pulls the cable. Deleting a
// namespace deletes its end of the veth pair, its nftables table and its
// qdisc, so the cleanup of the namespaces removes everything the tests
// made, whether they pass or not.
const (
	badnetSender   = "10.251.0.1"
	badnetReceiver = "10.251.0.2"
	// badnetRate is the rate of the shaped link, each way; badnetTheory
	// is the time 64 MiB takes at that rate with nothing else on the
	// link: 64 × 2^20 × 8 / 20e6 ≈ 26.8 s.
	badnetRate   = "20mbit"
	badnetBits   = 20e6
	badnetSize   = 64 << 20
	badnetPrefix = "epicshare-badnet"
)

// hosts is the pair of namespaces; dev names each one's end of the veth.
type hosts struct {
	send, recv       string // namespace names
	sendDev, recvDev string
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "tc", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; run make deps", tool)
		}
	}
}

// newHosts makes the two namespaces and the link between them.
func newHosts(t testing.TB) *hosts {
	t.Helper()
	needRoot(t)
	id := fmt.Sprintf("%s-%d-%d", badnetPrefix, os.Getpid(), time.Now().UnixNano()%1e6)
	h := &hosts{send: id + "-s", recv: id + "-r", sendDev: "es-s", recvDev: "es-r"}
	for _, ns := range []string{h.send, h.recv} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
		h.in(t, ns, "ip", "link", "set", "lo", "up")
	}
	h.in(t, h.send, "ip", "link", "add", h.sendDev, "type", "veth", "peer", "name", h.recvDev, "netns", h.recv)
	h.in(t, h.send, "ip", "addr", "add", badnetSender+"/24", "dev", h.sendDev)
	h.in(t, h.recv, "ip", "addr", "add", badnetReceiver+"/24", "dev", h.recvDev)
	h.in(t, h.send, "ip", "link", "set", h.sendDev, "up")
	h.in(t, h.recv, "ip", "link", "set", h.recvDev, "up")
	return h
}

func sh(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// in runs a command inside namespace ns.
func (h *hosts) in(t testing.TB, ns string, args ...string) {
	t.Helper()
	sh(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// lossy drops percent % of the UDP packets arriving at each host (the
// data; the signaling runs over TCP and is left alone, as a real network
// would deliver it through TCP's retransmissions).
func (h *hosts) lossy(t testing.TB, percent int) {
	t.Helper()
	for _, ns := range []string{h.send, h.recv} {
		h.in(t, ns, "nft", "add", "table", "inet", "epicshare_loss")
		h.in(t, ns, "nft", "add", "chain", "inet", "epicshare_loss", "input", "{ type filter hook input priority 0 ; }")
		h.in(t, ns, "nft", "add", "rule", "inet", "epicshare_loss", "input",
			"meta", "l4proto", "udp", "numgen", "random", "mod", "100", "<", fmt.Sprint(percent), "drop")
	}
}

// shaped caps what each host sends at badnetRate.
func (h *hosts) shaped(t testing.TB) {
	t.Helper()
	h.in(t, h.send, "tc", "qdisc", "add", "dev", h.sendDev, "root", "tbf", "rate", badnetRate, "burst", "32kbit", "latency", "100ms")
	h.in(t, h.recv, "tc", "qdisc", "add", "dev", h.recvDev, "root", "tbf", "rate", badnetRate, "burst", "32kbit", "latency", "100ms")
}

// transfer runs a signal server and `epicshare send` in the sender's
// namespace and `epicshare receive` in the receiver's, sends one random
// file of size bytes, and fails the test unless it arrives identical.
// During, if set, is called once the transfer is under way with the
// receiver's folder. It returns the time from starting the receiver to
// its exit, and both sides' logs.
func (h *hosts) transfer(t testing.TB, ctx context.Context, size int64, during func(out string)) (time.Duration, string) {
	t.Helper()
	epicshare, signalServer := binaries(t)
	src := filepath.Join(t.TempDir(), "data.bin")
	randomFile(t, src, size)

	server := start(t, ctx, "ip", "netns", "exec", h.send, signalServer, "--addr", badnetSender+":0")
	server.run(t)
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); {
		if m := addrRE.FindStringSubmatch(server.stderr.String()); m != nil {
			url = "http://" + m[1]
		} else {
			time.Sleep(20 * time.Millisecond) // polling a log, not ordering events
		}
	}
	if url == "" {
		t.Fatalf("signal-server did not log its address:\n%s", server.stderr)
	}
	sender := start(t, ctx, "ip", "netns", "exec", h.send, epicshare, "send", "--verbose", "--server", url, "--interface", h.sendDev, src)
	link := sender.firstLine(t)
	out := t.TempDir()
	recv := start(t, ctx, "ip", "netns", "exec", h.recv, epicshare, "receive", "--verbose", "--interface", h.recvDev, "--out", out, link)
	t0 := time.Now()
	recv.run(t)
	if during != nil {
		during(out)
	}
	code := recv.exitCode(t, time.Until(deadlineOf(ctx)))
	elapsed := time.Since(t0)
	logs := "sender:\n" + sender.stderr.String() + "\nreceiver:\n" + recv.stderr.String()
	if code != 0 {
		t.Fatalf("receive exited %d:\n%s", code, logs)
	}
	if code := sender.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("send exited %d:\n%s", code, logs)
	}
	if got, want := digest(t, out), digest(t, filepath.Dir(src)); got != want {
		t.Fatalf("received:\n%s\nsent:\n%s", got, want)
	}
	wantTransport(t, logs)
	return elapsed, logs
}

// wantTransport fails the test unless both desktops logged that QUIC
// carried the data (the data channel, if EPICSHARE_NO_QUIC is set), so
// that the bad links test the path that runs.
func wantTransport(t testing.TB, logs string) {
	t.Helper()
	want := "transport=QUIC"
	if v := os.Getenv("EPICSHARE_NO_QUIC"); v != "" && v != "0" {
		want = "transport=SCTP"
	}
	if n := strings.Count(logs, want); n < 2 {
		t.Fatalf("%d of the two sides logged %s:\n%s", n, want, logs)
	}
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Minute)
}

// waitForBytes returns once the file being received under out holds at
// least n bytes (polling its size: the receiver tells nothing else), or
// fails the test when ctx ends.
func waitForBytes(t testing.TB, ctx context.Context, out string, n int64) {
	t.Helper()
	for {
		parts, _ := filepath.Glob(filepath.Join(out, "*.part"))
		for _, p := range parts {
			if fi, err := os.Stat(p); err == nil && fi.Size() >= n {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the receiver never got %d bytes", n)
		case <-time.After(50 * time.Millisecond): // polling a file size
		}
	}
}

// TestLossyShapedLink sends 64 MiB over a link of 20 Mbit/s each way that
// drops 5 % of UDP packets at each end.
func TestLossyShapedLink(t *testing.T) {
	h := newHosts(t)
	h.shaped(t)
	h.lossy(t, 5)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	elapsed, _ := h.transfer(t, ctx, badnetSize, nil)
	t.Logf("64 MiB over 20 Mbit/s with 5 %% loss: %.1fs (%.1fs at the link's rate)", elapsed.Seconds(), badnetSize*8/badnetBits)
}

// TestLinkCut pulls the cable (the sender's end of the veth pair goes
// down, so the receiver's loses its carrier too) once a quarter of a
// 16 MiB file arrived, and plugs it back after a while: 3 s stays under
// ICE's disconnected timeout; 15 s outlasts it, so the sender restarts
// ICE through the signal server, whose TCP connections survive the cut.
func TestLinkCut(t *testing.T) {
	for _, cut := range []time.Duration{3 * time.Second, 15 * time.Second} {
		t.Run(cut.String(), func(t *testing.T) {
			h := newHosts(t)
			h.shaped(t) // 16 MiB take ~7 s: the cut falls mid-file
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			const size = 16 << 20
			elapsed, logs := h.transfer(t, ctx, size, func(out string) {
				waitForBytes(t, ctx, out, size/4)
				h.in(t, h.send, "ip", "link", "set", h.sendDev, "down")
				time.Sleep(cut) // the length of the cut itself
				h.in(t, h.send, "ip", "link", "set", h.sendDev, "up")
			})
			t.Logf("16 MiB with a %s cut: %.1fs; ICE restarts offered: %d; connection back: %v",
				cut, elapsed.Seconds(), strings.Count(logs, "ICE restart offered"), strings.Contains(logs, "connection back"))
		})
	}
}

// BenchmarkBadNetwork reports how long 64 MiB take over the shaped link
// of TestLossyShapedLink, without and with 5 % loss, next to the time at
// the link's rate; and, on Pion's virtual network, a file over a path of
// 100 ms round trip and 5 % loss next to what the Mathis formula allows
// a TCP-like sender there (see mathisBytesPerSecond).
func BenchmarkBadNetwork(b *testing.B) {
	for _, loss := range []int{0, 5} {
		b.Run(fmt.Sprintf("20Mbit_loss%d", loss), func(b *testing.B) {
			for b.Loop() {
				h := newHosts(b)
				h.shaped(b)
				if loss > 0 {
					h.lossy(b, loss)
				}
				ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
				elapsed, _ := h.transfer(b, ctx, badnetSize, nil)
				cancel()
				reportTime(b, badnetSize, elapsed, badnetSize*8/badnetBits)
			}
		})
	}
	b.Run("100msRTT_loss5_vnet", func(b *testing.B) {
		const size = 8 << 20
		for b.Loop() {
			ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
			elapsed := vnetTransfer(b, ctx, size, 5, 50*time.Millisecond)
			cancel()
			reportTime(b, size, elapsed, size/mathisBytesPerSecond(1200, 100*time.Millisecond, 0.05))
		}
	})
}

// reportTime reports a transfer's time to complete next to the
// theoretical time, in the units tools/benchtable pairs up.
func reportTime(b *testing.B, size int64, elapsed time.Duration, theory float64) {
	b.ReportMetric(float64(size)/(1<<20), "MiB")
	b.ReportMetric(elapsed.Seconds(), "s")
	b.ReportMetric(theory, "theory-s")
	b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
}

// mathisBytesPerSecond is the Mathis et al. bound on a TCP-like flow:
// MSS/RTT × C/√p with C = √(3/2) ≈ 1.22.
func mathisBytesPerSecond(mss float64, rtt time.Duration, p float64) float64 {
	return mss / rtt.Seconds() * math.Sqrt(1.5) / math.Sqrt(p)
}
