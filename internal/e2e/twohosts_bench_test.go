package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The two-hosts topology: two network namespaces joined by one veth
// pair (1500 MTU, as an Ethernet LAN), the sending side pinned to CPU 0
// and the receiving side to CPU 1, so that neither steals the other's
// core as they do on loopback in one namespace.
const (
	hostA = "10.77.0.1"
	hostB = "10.77.0.2"
)

// twoHosts makes the two namespaces and returns their names; they are
// removed when the benchmark ends.
func twoHosts(b *testing.B) (a, bns string) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	a, bns = fmt.Sprintf("es-hostA-%d", os.Getpid()), fmt.Sprintf("es-hostB-%d", os.Getpid())
	run := func(args ...string) {
		b.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	for _, ns := range []string{a, bns} {
		run("netns", "add", ns)
		b.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", a, "link", "add", "h0", "mtu", "1500", "type", "veth", "peer", "name", "h0", "netns", bns, "mtu", "1500")
	run("-n", a, "addr", "add", hostA+"/24", "dev", "h0")
	run("-n", bns, "addr", "add", hostB+"/24", "dev", "h0")
	run("-n", a, "link", "set", "h0", "up")
	run("-n", bns, "link", "set", "h0", "up")
	return a, bns
}

// onHost is name with args run in namespace ns, pinned to cpu.
func onHost(ns string, cpu int, name string, args ...string) []string {
	return append(hostPrefix(ns, cpu), append([]string{name}, args...)...)
}

// hostPrefix is the command that runs what follows it in namespace ns,
// pinned to cpu.
func hostPrefix(ns string, cpu int) []string {
	return []string{"taskset", "-c", fmt.Sprint(cpu), "ip", "netns", "exec", ns}
}

// BenchmarkTwoHosts moves 1 GiB across the two-hosts topology with
// "epicshare send" (and its built-in signaling server) on host A and
// "epicshare receive" on host B (over QUIC, and as epicshare-sctp over
// the data channel alone), and with raw TCP between two processes
// placed the same way, and with the plain Pion channel of
// BenchmarkPlainPion, in one run, and reports throughput, CPU seconds
// per GiB and peak RSS of each side.
func BenchmarkTwoHosts(b *testing.B) {
	a, bns := twoHosts(b)
	src := bigFile(b, benchSize)
	epicshare, _ := binaries(b)
	epicshareRun := func(env ...string) func(*testing.B) {
		return func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			send := onHost(a, 0, epicshare, "send", "--interface", "h0", "--listen", hostA+":0", src)
			benchTransfer(b, ctx, benchSize, env, send, func(out, link string) []string {
				return onHost(bns, 1, epicshare, "receive", "--interface", "h0", "--out", out, link)
			})
		}
	}
	b.Run("epicshare", epicshareRun())
	b.Run("epicshare-sctp", epicshareRun(noQUIC)) // the data channel alone
	b.Run("plain-pion", func(b *testing.B) {
		for b.Loop() {
			plainPion(b, hostPrefix(a, 0), hostPrefix(bns, 1), "h0", benchSize)
		}
	})
	b.Run("raw-tcp", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		for b.Loop() {
			so := onHost(a, 0, os.Args[0], "-test.run=^TestTCPSource$")
			source := exec.CommandContext(ctx, so[0], so[1:]...)
			source.Env = append(os.Environ(), tcpSourceEnv+"="+src)
			stdout, err := source.StdoutPipe()
			must(b, err)
			must(b, source.Start())
			addr, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				b.Fatalf("the TCP source printed no address: %v", err)
			}
			si := onHost(bns, 1, os.Args[0], "-test.run=^TestTCPSink$")
			sink := exec.CommandContext(ctx, si[0], si[1:]...)
			sink.Env = append(os.Environ(), "EPICSHARE_TCP_SINK="+strings.TrimSpace(addr))
			t0 := time.Now()
			must(b, sink.Run())
			elapsed := time.Since(t0)
			must(b, source.Wait())
			reportTransfer(b, benchSize, elapsed, source.ProcessState, sink.ProcessState)
		}
	})
}

const tcpSourceEnv = "EPICSHARE_TCP_SOURCE"

// TestTCPSource is BenchmarkTwoHosts's raw TCP sender: it listens on
// host A, prints its address, and sends the file named in the
// environment in 64 KiB writes to the first connection.
func TestTCPSource(t *testing.T) {
	src := os.Getenv(tcpSourceEnv)
	if src == "" {
		t.Skip("only runs as BenchmarkTwoHosts's TCP source")
	}
	ln, err := net.Listen("tcp", hostA+":0")
	must(t, err)
	defer ln.Close()
	fmt.Println(ln.Addr())
	c, err := ln.Accept()
	must(t, err)
	defer c.Close()
	f, err := os.Open(src)
	must(t, err)
	defer f.Close()
	if _, err := io.CopyBuffer(struct{ io.Writer }{c}, f, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
}
