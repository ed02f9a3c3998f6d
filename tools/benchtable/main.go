// Command benchtable turns `go test -bench` output (stdin) into a Markdown
// table (stdout): the median of every metric of every benchmark over its
// runs, and for throughput the ratios to the raw-TCP and plain-Pion
// baselines measured in the same run; the speed goals, met or not; then, for benchmarks that report a time to complete ("s")
// and a theoretical time ("theory-s"), both side by side. `make bench` writes it to bench/results.md.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Baselines measured in the same run: raw TCP, and a plain Pion data
// channel without EpicShare's tuning, over loopback and across the
// two-hosts topology (two namespaces on a 1500-MTU veth, pinned cores).
const (
	baseline = "RawTCP"
	pionBase = "PlainPion"
	twoHosts = "TwoHosts/"
)

// baselines names the raw-TCP and plain-Pion benchmarks a benchmark's
// throughput is compared with: those of its own topology.
func baselines(name string) (raw, pion string) {
	if strings.HasPrefix(name, twoHosts) {
		return twoHosts + "raw-tcp", twoHosts + "plain-pion"
	}
	return baseline, pionBase
}

// goal is a target of the speed issue, checked against a median.
type goal struct {
	bench, unit, what string
	limit             float64
	atLeast           bool
}

var goals = []goal{
	{"SendReceive", "MB/s", "desktop→desktop, 1 GiB over loopback", 120, true},
	{"SendReceive", "send-cpu-s/GiB", "sender CPU seconds per GiB, loopback", 12, false},
	{"SendReceive", "recv-cpu-s/GiB", "receiver CPU seconds per GiB, loopback", 12, false},
	{"TwoHosts/epicshare", "send-cpu-s/GiB", "sender CPU seconds per GiB, two hosts", 8, false},
	{"TwoHosts/epicshare", "recv-cpu-s/GiB", "receiver CPU seconds per GiB, two hosts", 8, false},
	{"TwoHosts/epicshare", "send-rss-MiB", "sender peak RSS, 1 GiB file, two hosts (MiB)", 64, false},
	{"TwoHosts/epicshare", "recv-rss-MiB", "receiver peak RSS, 1 GiB file, two hosts (MiB)", 64, false},
	{"SendReceive", "send-rss-MiB", "sender peak RSS, 1 GiB file (MiB)", 64, false},
	{"SendReceive", "recv-rss-MiB", "receiver peak RSS, 1 GiB file (MiB)", 64, false},
	{"SendReceive4GiB", "send-rss-MiB", "sender peak RSS, 4 GiB file (MiB)", 64, false},
	{"SendReceive4GiB", "recv-rss-MiB", "receiver peak RSS, 4 GiB file (MiB)", 64, false},
	{"Browser/chromium", "MB/s", "desktop→Chromium, 256 MiB", 30, true},
	{"Browser/firefox", "MB/s", "desktop→Firefox, 256 MiB", 30, true},
	{"Browser/chromium-sends", "MB/s", "Chromium→desktop, 256 MiB", 30, true},
	{"Browser/firefox-sends", "MB/s", "Firefox→desktop, 256 MiB", 30, true},
	{"FirstByte", "first-byte-ms", "link opened → first byte (ms)", 300, false},
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// results maps benchmark → unit → values, in the order benchmarks appear.
type results struct {
	order []string
	vals  map[string]map[string][]float64
	units map[string][]string
}

func parse(r io.Reader) (*results, error) {
	res := &results{vals: map[string]map[string][]float64{}, units: map[string][]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop -GOMAXPROCS
			}
		}
		if res.vals[name] == nil {
			res.order = append(res.order, name)
			res.vals[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if unit == "ns/op" {
				continue // one iteration per run: the metrics below say more
			}
			if res.vals[name][unit] == nil {
				res.units[name] = append(res.units[name], unit)
			}
			res.vals[name][unit] = append(res.vals[name][unit], v)
		}
	}
	return res, sc.Err()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func run(in io.Reader, out io.Writer) error {
	res, err := parse(in)
	if err != nil {
		return err
	}
	if len(res.order) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	fmt.Fprintf(out, "# Benchmark results\n\n%s\n\n", machine())
	ratio := func(v, base float64) string {
		if base == 0 {
			return ""
		}
		return fmt.Sprintf("%.3f×", v/base)
	}
	fmt.Fprintln(out, "| benchmark | metric | median | runs | vs raw TCP | vs plain Pion |")
	fmt.Fprintln(out, "| --- | --- | --- | --- | --- | --- |")
	for _, name := range res.order {
		for _, unit := range res.units[name] {
			v := res.vals[name][unit]
			r1, r2 := "", ""
			if unit == "MB/s" {
				raw, pion := baselines(name)
				r1, r2 = ratio(median(v), res.rate(raw)), ratio(median(v), res.rate(pion))
			}
			fmt.Fprintf(out, "| %s | %s | %.4g | %d | %s | %s |\n", name, unit, median(v), len(v), r1, r2)
		}
	}
	goalsTable(out, res)
	timesTable(out, res)
	return nil
}

// goalsTable compares the medians with the speed issue's goals.
func goalsTable(out io.Writer, res *results) {
	fmt.Fprint(out, "\n## Against the goals\n\n")
	fmt.Fprintln(out, "| figure | median | goal | met |")
	fmt.Fprintln(out, "| --- | --- | --- | --- |")
	row := func(what string, got float64, cmp string, limit float64, ok bool) {
		met := "no"
		if ok {
			met = "yes"
		}
		fmt.Fprintf(out, "| %s | %.4g | %s %.4g | %s |\n", what, got, cmp, limit, met)
	}
	for _, g := range goals {
		v := res.vals[g.bench][g.unit]
		if len(v) == 0 {
			continue
		}
		m := median(v)
		if g.atLeast {
			row(g.what, m, "≥", g.limit, m >= g.limit)
		} else {
			row(g.what, m, "≤", g.limit, m <= g.limit)
		}
	}
	for _, c := range []struct{ bench, what string }{
		{"SendReceive", "desktop→desktop vs plain Pion, loopback (×)"},
		{twoHosts + "epicshare", "desktop→desktop vs plain Pion, two hosts (×)"},
	} {
		_, pion := baselines(c.bench)
		if got, base := res.rate(c.bench), res.rate(pion); got > 0 && base > 0 {
			row(c.what, got/base, "≥", 2, got/base >= 2)
		}
	}
}

// rate is the median throughput of a benchmark, 0 if it reported none.
func (r *results) rate(name string) float64 {
	if v := r.vals[name]["MB/s"]; len(v) > 0 {
		return median(v)
	}
	return 0
}

// timesTable lists the benchmarks that report a time to complete ("s")
// next to a theoretical time ("theory-s"): the bad-network transfers.
func timesTable(out io.Writer, res *results) {
	header := false
	for _, name := range res.order {
		got, theory := res.vals[name]["s"], res.vals[name]["theory-s"]
		if len(got) == 0 || len(theory) == 0 {
			continue
		}
		if !header {
			fmt.Fprint(out, "\n## Time to complete on bad networks\n\n")
			fmt.Fprintln(out, "| path | size | time to complete | theoretical | × theoretical | runs |")
			fmt.Fprintln(out, "| --- | --- | --- | --- | --- | --- |")
			header = true
		}
		size := ""
		if v := res.vals[name]["MiB"]; len(v) > 0 {
			size = fmt.Sprintf("%.4g MiB", median(v))
		}
		g, th := median(got), median(theory)
		fmt.Fprintf(out, "| %s | %s | %.1f s | %.1f s | %.2f× | %d |\n", name, size, g, th, g/th, len(got))
	}
}

// machine describes where the figures were measured.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimLeft(v, "\t :"))
				break
			}
		}
	}
	goVersion := runtime.Version()
	if b, err := exec.Command("go", "version").Output(); err == nil {
		goVersion = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("Measured %s on %d × %s, %s. Medians of the runs; throughput also as ratios to raw TCP over loopback and to a plain Pion data channel, both measured in the same run.",
		time.Now().Format("2006-01-02"), runtime.NumCPU(), cpu, goVersion)
}
