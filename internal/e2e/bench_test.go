package e2e

import (
	"context"
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

// benchSize is what each benchmark moves: 1 GiB.
const benchSize = 1 << 30

var benchFile struct {
	once sync.Once
	path string
}

// bigFile creates the 1 GiB source file once; TestMain removes it.
func bigFile(b *testing.B) string {
	benchFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "epicshare-bench-")
		must(b, err)
		cleanup = append(cleanup, dir)
		benchFile.path = filepath.Join(dir, "1GiB.bin")
		randomFile(b, benchFile.path, benchSize)
	})
	return benchFile.path
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
func BenchmarkSendReceive(b *testing.B) {
	epicshare, _ := binaries(b)
	src := bigFile(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	server := signalServer(b, ctx)
	for b.Loop() {
		out, err := os.MkdirTemp("", "epicshare-bench-out-")
		must(b, err)
		sender := start(b, ctx, epicshare, append(append([]string{"send", "--server", server}, loopbackFlags...), src)...)
		link := sender.firstLine(b)
		recv := start(b, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), link)...)
		t0 := time.Now()
		recv.run(b)
		if code := recv.exitCode(b, 20*time.Minute); code != 0 {
			b.Fatalf("receive exited %d:\n%s", code, recv.stderr)
		}
		elapsed := time.Since(t0)
		if code := sender.exitCode(b, time.Minute); code != 0 {
			b.Fatalf("send exited %d:\n%s", code, sender.stderr)
		}
		sCPU, sRSS := usage(sender.cmd.ProcessState)
		rCPU, rRSS := usage(recv.cmd.ProcessState)
		b.ReportMetric(benchSize/elapsed.Seconds()/1e6, "MB/s")
		b.ReportMetric(sCPU, "send-cpu-s")
		b.ReportMetric(rCPU, "recv-cpu-s")
		b.ReportMetric(sRSS, "send-rss-MiB")
		b.ReportMetric(rRSS, "recv-rss-MiB")
		os.RemoveAll(out)
	}
}

// BenchmarkRawTCP is the baseline: 1 GiB in 64 KiB writes over a loopback
// TCP connection between two processes (this test binary, re-run as a
// sink), with the same metrics as BenchmarkSendReceive.
func BenchmarkRawTCP(b *testing.B) {
	src := bigFile(b)
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
