package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchSize is what the throughput benchmarks move: 1 GiB.
const benchSize = 1 << 30

var benchFiles struct {
	sync.Mutex
	paths map[int64]string
}

// bigFile creates a random source file of the size once; TestMain
// removes it.
func bigFile(b *testing.B, size int64) string {
	benchFiles.Lock()
	defer benchFiles.Unlock()
	if p, ok := benchFiles.paths[size]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "epicshare-bench-")
	must(b, err)
	cleanup = append(cleanup, dir)
	p := filepath.Join(dir, fmt.Sprintf("%dMiB.bin", size>>20))
	randomFile(b, p, size)
	if benchFiles.paths == nil {
		benchFiles.paths = map[int64]string{}
	}
	benchFiles.paths[size] = p
	return p
}

// reportTransfer reports the throughput of size bytes moved in elapsed,
// and the CPU seconds per GiB and peak RSS of the finished sending and
// receiving processes.
func reportTransfer(b *testing.B, size int64, elapsed time.Duration, send, recv *os.ProcessState) {
	sCPU, sRSS := usage(send)
	rCPU, rRSS := usage(recv)
	gib := float64(size) / (1 << 30)
	b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(sCPU/gib, "send-cpu-s/GiB")
	b.ReportMetric(rCPU/gib, "recv-cpu-s/GiB")
	b.ReportMetric(sRSS, "send-rss-MiB")
	b.ReportMetric(rRSS, "recv-rss-MiB")
}

// usage reports a finished process's CPU seconds and peak RSS in MiB.
func usage(p *os.ProcessState) (cpu float64, rssMiB float64) {
	ru := p.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return cpu, float64(ru.Maxrss) / 1024 // Maxrss is in KiB on Linux
}

// BenchmarkSendReceive moves 1 GiB from "epicshare send" to "epicshare
// receive", two processes on loopback through a signal-server process,
// and reports throughput, CPU seconds and peak RSS of each side.
func BenchmarkSendReceive(b *testing.B) { benchSendReceive(b, benchSize) }

// BenchmarkSendReceiveSCTP is BenchmarkSendReceive with QUIC turned off
// (EPICSHARE_NO_QUIC): the data channel, as toward a browser.
func BenchmarkSendReceiveSCTP(b *testing.B) { benchSendReceive(b, benchSize, noQUIC) }

// noQUIC is the environment of a desktop that keeps the data on the
// data channel.
const noQUIC = "EPICSHARE_NO_QUIC=1"

// BenchmarkSendReceive4GiB is the same with a 4 GiB file: its peak RSS,
// next to the 1 GiB run's, shows whether memory stays flat in file size.
func BenchmarkSendReceive4GiB(b *testing.B) { benchSendReceive(b, 4<<30) }

// benchSendReceive moves size bytes between two processes on loopback
// with env added to their environment.
func benchSendReceive(b *testing.B, size int64, env ...string) {
	epicshare, _ := binaries(b)
	src := bigFile(b, size)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	server := signalServer(b, ctx)
	send := append(append([]string{epicshare, "send", "--server", server}, loopbackFlags...), src)
	benchTransfer(b, ctx, size, env, send, func(out, link string) []string {
		return append(append([]string{epicshare, "receive", "--out", out}, loopbackFlags...), link)
	})
}

// benchTransfer runs, once per iteration, the send command and the
// receive command for its link (into a fresh folder), both with env added
// to their environment, and reports throughput, CPU seconds and peak RSS
// of each side.
func benchTransfer(b *testing.B, ctx context.Context, size int64, env, send []string, receive func(out, link string) []string) {
	for b.Loop() {
		out, err := os.MkdirTemp("", "epicshare-bench-out-")
		must(b, err)
		sender := start(b, ctx, send[0], send[1:]...)
		sender.cmd.Env = append(os.Environ(), env...)
		link := sender.firstLine(b)
		ra := receive(out, link)
		recv := start(b, ctx, ra[0], ra[1:]...)
		recv.cmd.Env = append(os.Environ(), env...)
		t0 := time.Now()
		recv.run(b)
		if code := recv.exitCode(b, time.Until(deadlineOf(ctx))); code != 0 {
			b.Fatalf("receive exited %d:\n%s", code, recv.stderr)
		}
		elapsed := time.Since(t0)
		if code := sender.exitCode(b, time.Minute); code != 0 {
			b.Fatalf("send exited %d:\n%s", code, sender.stderr)
		}
		reportTransfer(b, size, elapsed, sender.cmd.ProcessState, recv.cmd.ProcessState)
		os.RemoveAll(out)
	}
}

// BenchmarkRawTCP is the baseline: 1 GiB in 64 KiB writes over a loopback
// TCP connection between two processes (this test binary, re-run as a
// sink), with the same metrics as BenchmarkSendReceive.
func BenchmarkRawTCP(b *testing.B) {
	src := bigFile(b, benchSize)
	for b.Loop() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(b, err)
		sink := exec.Command(os.Args[0], "-test.run=^TestTCPSink$")
		sink.Env = append(os.Environ(), "EPICSHARE_TCP_SINK="+ln.Addr().String())
		t0 := time.Now()
		must(b, sink.Start())
		c, err := ln.Accept()
		must(b, err)
		f, err := os.Open(src)
		must(b, err)
		buf := make([]byte, 64<<10)
		n, err := io.CopyBuffer(struct{ io.Writer }{c}, f, buf)
		must(b, err)
		c.Close()
		f.Close()
		ln.Close()
		must(b, sink.Wait())
		elapsed := time.Since(t0)
		if n != benchSize {
			b.Fatalf("sent %d bytes", n)
		}
		cpu, rss := usage(sink.ProcessState)
		b.ReportMetric(benchSize/elapsed.Seconds()/1e6, "MB/s")
		b.ReportMetric(cpu, "recv-cpu-s")
		b.ReportMetric(rss, "recv-rss-MiB")
	}
}

// TestTCPSink is BenchmarkRawTCP's receiving process: it writes what it
// reads to a file, as the receiver does, and is skipped in normal runs.
func TestTCPSink(t *testing.T) {
	addr := os.Getenv("EPICSHARE_TCP_SINK")
	if addr == "" {
		t.Skip("only runs as BenchmarkRawTCP's sink")
	}
	c, err := net.Dial("tcp", addr)
	must(t, err)
	f, err := os.CreateTemp("", "epicshare-sink-")
	must(t, err)
	defer os.Remove(f.Name())
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, c, make([]byte, 64<<10))
	must(t, err)
	must(t, f.Close())
	if n != benchSize {
		t.Fatalf("got %d bytes", n)
	}
}
