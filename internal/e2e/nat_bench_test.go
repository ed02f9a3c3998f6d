package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkAcrossNATs moves 256 MiB between two devices of the NAT lab
// (TestAcrossNATs), directly through their NATs and relayed by the
// signal server's built-in TURN, in the same run, and reports MB/s for
// both and the server's CPU seconds per relayed GiB.
func BenchmarkAcrossNATs(b *testing.B) {
	lab := newNetLab(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	srv := lab.server(ctx)
	from, direct, symmetric := lab.device(1, keepsPorts), lab.device(2, keepsPorts), lab.device(3, symmetric)
	epicshare, _ := binaries(b)
	const size = 256 << 20
	src := bigFile(b, size)
	for _, tc := range []struct{ name, to string }{{"direct", direct}, {"relayed", symmetric}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				out := b.TempDir()
				sender := lab.command(ctx, from, srv.env(), epicshare, "send", "--server", srv.url, "--interface", "eth0", src)
				link := sender.firstLine(b)
				relayed0, cpu0 := lab.relayed(srv), procCPU(b, srv.p.cmd.Process.Pid)
				recv := lab.command(ctx, tc.to, srv.env(), epicshare, "receive", "--interface", "eth0", "--out", out, link)
				t0 := time.Now()
				recv.run(b)
				if code := recv.exitCode(b, 10*time.Minute); code != 0 {
					b.Fatalf("receive exited %d:\n%s", code, recv.stderr)
				}
				elapsed := time.Since(t0)
				cpu := procCPU(b, srv.p.cmd.Process.Pid) - cpu0
				relayed := lab.relayed(srv) - relayed0
				if _, err := os.Stat(filepath.Join(out, filepath.Base(src))); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(size/elapsed.Seconds()/1e6, "MB/s")
				if tc.name == "relayed" {
					if relayed < size {
						b.Fatalf("the relay carried %.0f bytes of %d", relayed, size)
					}
					b.ReportMetric(cpu/(relayed/(1<<30)), "turn-cpu-s/GiB")
				}
			}
		})
	}
}

// procCPU is the CPU seconds process pid has used so far.
func procCPU(t testing.TB, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(t, err)
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}
