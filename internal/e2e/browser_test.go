package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/wire"
)

// The browser tests run headless Chromium and Firefox against the
// receiver page. The browser and the Go sender run inside a network
// namespace that the outer test creates, with only loopback and a veth
// pair (10.250.0.1/24, and a default route through it, as a LAN with a
// gateway has): Chromium does not use loopback for ICE, Firefox gathers
// only on the interface of the default route, and nothing may touch the
// machine's real interfaces. The outer test re-runs this test binary in
// the namespace with the browser and the case to play in the environment
// (browserEnv, browserCaseEnv); browser_case_test.go plays them.
const (
	browserEnv     = "EPICSHARE_BROWSER"
	browserCaseEnv = "EPICSHARE_BROWSER_CASE"
	// pageShotsEnv names a folder for phone-sized screenshots of the page
	// (make screenshots sets it).
	pageShotsEnv = "EPICSHARE_PAGE_SHOTS"
	// longSecondsEnv sets how long the held downloads of the long-* cases
	// should last (default longSeconds): make test crosses the browsers'
	// 30 s worker idle timeout twice; raise it to try longer downloads.
	longSecondsEnv = "EPICSHARE_BROWSER_LONG_SECONDS"
	longSeconds    = 75
	// longRate holds the long-* cases' data path: tbf on the namespace's
	// loopback, where the sender's and the browser's UDP flows meet.
	longRate = "4mbit"
	// longBytesPerSecond is what a file moves at through longRate, after
	// IP, UDP, DTLS and SCTP headers (measured: 0.47–0.49 MB/s).
	longBytesPerSecond = 470_000
	chromiumPath       = "/usr/bin/chromium"
	vethAddr           = "10.250.0.1"
)

// The cases, each played in every browser that is installed. A case
// ending in -secure serves the page on 127.0.0.1 (a secure context,
// like https: downloads stream through the service worker); the others
// on the veth address, insecure like a phone opening http://LAN-IP
// (files wait in memory until saved). A lang-* case runs the browser in
// another language (browser_lang_test.go).
var (
	browserCases = []string{"secure-origin", "insecure-origin", "one-file", "wrong-secret",
		"sender-leaves", "sender-leaves-secure", "worker-stopped-secure", "no-path", "lang-zh"}
	// longCases hold the path so that a file's download lasts past the
	// browsers' worker idle timeouts.
	longCases = []string{"long-secure", "long-insecure"}
	// firefoxOnly: without a default route Firefox gathers no host
	// candidate, as on a LAN without a gateway.
	firefoxOnly = []string{"no-route"}
	// chromiumOnly: a download cancelled in the browser's downloads list
	// (over CDP; BiDi cannot); a message alone, on the origin where the
	// page would stream downloads (there are none to wait for); the page
	// opened on another node than the sender's, through a NATS cluster.
	chromiumOnly = []string{"download-cancelled-secure", "text-only-secure", "other-node-secure"}
)

// browsers lists the installed browsers the tests drive.
func browsers() []string {
	var out []string
	for name, path := range map[string]string{"chromium": chromiumPath, "firefox": firefoxPath} {
		if _, err := os.Stat(path); err == nil {
			out = append(out, name)
		}
	}
	if len(out) == 2 && out[0] != "chromium" {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

// TestBrowserPages plays every case of the receiver page in every
// browser, and the sender page's cases in Chromium.
func TestBrowserPages(t *testing.T) {
	if os.Getenv(browserCaseEnv) != "" {
		t.Skip("the outer test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	bs := browsers()
	if len(bs) < 2 {
		t.Errorf("only %v of chromium and firefox-esr installed; run make deps", bs)
	}
	// Every case runs in a namespace and a browser of its own. The held
	// downloads mostly wait on the path, so they run side by side with
	// everything; of the others, one per browser at a time, so that the
	// two cores are not shared by more than two browsers at full speed
	// (make test allows eight parallel tests).
	for _, b := range bs {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			cases := slices.Concat(longCases, browserCases)
			if b == "firefox" {
				cases = append(cases, firefoxOnly...)
				cases = append(cases, senderBothBrowsers...)
			} else {
				cases = append(cases, chromiumOnly...)
				cases = append(cases, senderCases...)
			}
			one := make(chan struct{}, 1)
			for _, c := range cases {
				t.Run(c, func(t *testing.T) {
					t.Parallel()
					if !slices.Contains(longCases, c) {
						one <- struct{}{}
						defer func() { <-one }()
					}
					t.Logf("%s", lastLines(inNamespace(t, b, c), 6))
				})
			}
		})
	}
}

// inNamespace makes a network namespace with loopback and a veth pair,
// runs TestBrowserInNamespace in it for browser b and case c, and returns
// its output. It removes the namespace, also on failure.
func inNamespace(t testing.TB, b, c string) string {
	t.Helper()
	ns := fmt.Sprintf("epicshare-%d-%s-%s", os.Getpid(), b, c)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	setup := [][]string{
		// No IPv6: its addresses arrive a moment after a link is up, and
		// Chromium takes that for a network change and fails the page's
		// loads in flight (net::ERR_NETWORK_CHANGED, seen once in make test).
		{"sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"},
		{"sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"ip", "addr", "add", vethAddr + "/24", "dev", "v0"},
		{"ip", "link", "set", "v1", "up"},
		{"ip", "link", "set", "v0", "up"},
	}
	if c != "no-route" {
		setup = append(setup, []string{"ip", "route", "add", "default", "dev", "v0"})
	}
	if c == "no-path" {
		// Every UDP packet dropped: ICE finds no path at all.
		setup = append(setup,
			[]string{"nft", "add", "table", "inet", "epicshare_nopath"},
			[]string{"nft", "add", "chain", "inet", "epicshare_nopath", "output", "{ type filter hook output priority 0 ; }"},
			[]string{"nft", "add", "rule", "inet", "epicshare_nopath", "output", "meta", "l4proto", "udp", "drop"})
	}
	if heldPath(c) {
		setup = append(setup, holdUDP(longRate)...)
	}
	for _, args := range setup {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	limit := caseLimit(c) + 2*time.Minute // and the browser's start and stop
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestBrowserInNamespace$", "-test.v", "-test.count=1", "-test.bench=^$",
		"-test.timeout="+limit.String())
	cmd.Env = append(os.Environ(), browserEnv+"="+b, browserCaseEnv+"="+c)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestBrowserInNamespace") {
		t.Fatalf("%s %s in the namespace: %v\n%s", b, c, err, out)
	}
	return string(out)
}

// heldPath reports whether case c holds the namespace's UDP to longRate:
// the long downloads, and the cases that act in the middle of a file.
func heldPath(c string) bool {
	return strings.HasPrefix(c, "long-") || strings.HasPrefix(c, "worker-stopped") || strings.HasPrefix(c, "download-cancelled") || c == "send-resume"
}

// caseLimit is how long case c may take inside its namespace.
func caseLimit(c string) time.Duration {
	if strings.HasPrefix(c, "long-") {
		return 3*time.Minute + 2*time.Duration(longDuration())*time.Second
	}
	return 3 * time.Minute
}

// holdUDP is the tc set-up that holds the namespace's UDP traffic (the
// WebRTC data) to rate on loopback, where sender and browser meet, and
// leaves TCP alone (the page, signaling, and the test's own connection to
// the browser): an htb root sends UDP to a class whose queue is a token
// bucket (tbf), and everything else to a class as fast as loopback.
// (This kernel has no prio qdisc.)
func holdUDP(rate string) [][]string {
	return [][]string{
		{"ip", "link", "set", "lo", "mtu", "1500"},
		{"tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"},
		{"tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit", "quantum", "60000"},
		{"tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "1gbit", "quantum", "60000"},
		{"tc", "qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "tbf", "rate", rate, "burst", "32kbit", "latency", "200ms"},
		{"tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "u32", "match", "ip", "protocol", "17", "0xff", "flowid", "1:20"},
	}
}

// longDuration is how many seconds the long-* downloads should last.
func longDuration() int {
	if n, err := strconv.Atoi(os.Getenv(longSecondsEnv)); err == nil && n > 0 {
		return n
	}
	return longSeconds
}

// BenchmarkBrowser sends 256 MiB from a Go sender to each headless
// browser, and from each browser's sender page to a Go receiver, over a
// veth pair in a namespace, and reports the throughputs.
func BenchmarkBrowser(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for a network namespace")
	}
	re := regexp.MustCompile(`\(([0-9.]+) MB/s\)`)
	for _, browser := range browsers() {
		// browser: the desktop sends to the page; browser-sends: the page
		// sends to the desktop, in the same run.
		for _, bc := range [][2]string{{browser, "bench-256MiB"}, {browser + "-sends", "send-bench-256MiB"}} {
			name, c := bc[0], bc[1]
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					out := inNamespace(b, browser, c)
					m := re.FindStringSubmatch(out)
					if m == nil {
						b.Fatalf("no throughput in:\n%s", out)
					}
					mbs, _ := strconv.ParseFloat(m[1], 64)
					b.ReportMetric(mbs, "MB/s")
				}
			})
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// checkVectors runs the page's own SHA-256, HMAC and HKDF, and the
// handshake's MAC and verification code, against Go's on the same inputs,
// in the browser itself (the golden vectors run them under node too:
// assets.TestPageMatchesHandshakeVectors).
func checkVectors(t *testing.T, p browserPage) {
	t.Helper()
	secret := "BBBBBBBBBBBBBBBBBBBBBA"
	key, err := wire.DeriveKey(secret, wire.ShareLink)
	must(t, err)
	long := strings.Repeat("abc", 1000)
	macIn := wire.MACInput(wire.SignalAnswer, wire.DirToHost, "nR", "nS", 7, "v=0\r\n")
	h := hmac.New(sha256.New, []byte("k"))
	h.Write([]byte(long))
	want := strings.Join([]string{
		fmt.Sprintf("%x", sha256.Sum256(nil)),
		fmt.Sprintf("%x", sha256.Sum256([]byte(long))),
		hex.EncodeToString(h.Sum(nil)),
		hex.EncodeToString(key[:]),
		key.Tag(macIn),
		wire.VerificationCode("sha-256 AB:CD", "sha-256 EF:01"),
	}, "|")
	js := fmt.Sprintf(`(async () => {
		const S = await import("./sha256.js"), P = await import("./auth.js");
		const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
		const long = "abc".repeat(1000);
		const inc = new S.Sha256(); for (let i = 0; i < long.length; i += 77) inc.update(S.utf8(long.slice(i, i + 77)));
		if (hex(inc.digest()) !== hex(S.sha256(S.utf8(long)))) return "incremental differs";
		return [hex(S.sha256(new Uint8Array(0))), hex(S.sha256(S.utf8(long))), hex(S.hmacSha256(S.utf8("k"), S.utf8(long))),
			hex(P.deriveKey(%q, "share")), P.tag(P.deriveKey(%q, "share"), P.macInput("answer", "r2s", "nR", "nS", 7, "v=0\r\n")),
			P.verificationCode("sha-256 AB:CD", "sha-256 EF:01")].join("|");
	})()`, secret, secret)
	var got string
	must(t, p.Eval(js, &got))
	if got != want {
		t.Fatalf("the page's crypto differs from Go's:\npage %s\ngo   %s", got, want)
	}
}
