package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// The browser tests run headless Chromium against the receiver page. Both
// Chromium and the Go sender run inside a network namespace that the
// outer test creates, with only loopback and a veth pair (10.250.0.1/24):
// Chromium does not use loopback for ICE, and nothing may touch the
// machine's real interfaces. The outer test re-runs this test binary in
// the namespace with the case to play in browserCaseEnv.
const (
	browserCaseEnv = "EPICSHARE_BROWSER_CASE"
	// pageShotsEnv names a folder for phone-sized screenshots of the page
	// (make screenshots sets it).
	pageShotsEnv = "EPICSHARE_PAGE_SHOTS"
	chromiumPath = "/usr/bin/chromium"
	vethAddr     = "10.250.0.1"
)

func TestBrowserReceiver(t *testing.T) {
	if os.Getenv(browserCaseEnv) != "" {
		t.Skip("the outer test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("Chromium is not installed; run make deps")
	}
	for _, c := range []string{"secure-origin", "insecure-origin", "one-file", "wrong-secret", "sender-leaves", "sender-leaves-secure"} {
		t.Run(c, func(t *testing.T) {
			t.Logf("%s", lastLines(inNamespace(t, c), 6))
		})
	}
}

// inNamespace makes a network namespace with loopback and a veth pair,
// runs TestBrowserInNamespace in it for case c, and returns its output.
func inNamespace(t testing.TB, c string) string {
	t.Helper()
	ns := fmt.Sprintf("epicshare-%d-%s", os.Getpid(), c)
	run := func(args ...string) {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	run("ip", "link", "set", "lo", "up")
	run("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	run("ip", "addr", "add", vethAddr+"/24", "dev", "v0")
	run("ip", "link", "set", "v1", "up")
	run("ip", "link", "set", "v0", "up")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestBrowserInNamespace$", "-test.v", "-test.count=1", "-test.bench=^$")
	cmd.Env = append(os.Environ(), browserCaseEnv+"="+c)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestBrowserInNamespace") {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
	return string(out)
}

// BenchmarkBrowser sends 256 MiB from a Go sender to headless Chromium
// over a veth pair in a namespace and reports the throughput.
func BenchmarkBrowser(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for a network namespace")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		b.Skip("Chromium is not installed; run make deps")
	}
	re := regexp.MustCompile(`\(([0-9.]+) MB/s\)`)
	for b.Loop() {
		out := inNamespace(b, "bench-256MiB")
		m := re.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("no throughput in:\n%s", out)
		}
		mbs, _ := strconv.ParseFloat(m[1], 64)
		b.ReportMetric(mbs, "MB/s")
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestBrowserInNamespace plays one case inside the namespace.
func TestBrowserInNamespace(t *testing.T) {
	c := os.Getenv(browserCaseEnv)
	if c == "" {
		t.Skip("runs inside the network namespace TestBrowserReceiver makes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The page is served on 127.0.0.1 (a secure context, like https) or
	// on the veth address (insecure: what a phone opening http://LAN-IP
	// gets, with no crypto.subtle).
	host := vethAddr
	if c == "secure-origin" || strings.HasSuffix(c, "-secure") {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", host+":0")
	must(t, err)
	broker := rendezvous.New(rendezvous.Config{})
	go broker.Serve(ctx, ln)
	server := &url.URL{Scheme: "http", Host: ln.Addr().String()}

	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{
		"trip/notes.txt":       "sun and sea\n",
		"trip/empty.txt":       "",
		"trip/photos/a.jpg":    strings.Repeat("a", 123_457),
		"trip/photos/b.jpg":    strings.Repeat("b", 70_000),
		"trip/nothing-inside/": "",
	})
	bigSize := int64(32 << 20)
	if c == "bench-256MiB" {
		bigSize = 256 << 20
	}
	testutil.RandomFile(t, filepath.Join(src, "trip/video.bin"), bigSize)
	offer, err := transfer.NewOffer(filepath.Join(src, "trip"))
	must(t, err)
	// The sender's log and the page's console tell what happened when a
	// wait below times out.
	senderLog := &testutil.Buffer{}
	logger := slog.New(slog.NewTextHandler(senderLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := session.Config{Peer: peer.Config{Interfaces: []string{"v0"}, Logger: logger}, Logger: logger}
	events := make(chan session.Event, 1024)
	share, err := session.Share(ctx, cfg, server, offer, session.ShareOptions{OnEvent: func(e session.Event) {
		select {
		case events <- e:
		default:
		}
	}})
	must(t, err)
	defer share.Stop()
	link := share.Link()
	if c == "wrong-secret" {
		link.Secret = wire.NewSecret()
	}

	downloads := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// The first Run starts the browser; its context must not time out.
	must(t, chromedp.Do(bctx, chromedp.Navigate("about:blank")))
	pageLog := &testutil.Buffer{}
	console := chromedp.Console(bctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			fmt.Fprintf(pageLog, "%s %s\n", m.Time.Format("15:04:05.000"), m)
		}
	}()
	// diagnose is what a failed wait prints: the page's words, its console
	// and the sender's log.
	diagnose := func() string {
		dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
		defer dcancel()
		words, _ := chromedp.Run(dctx, chromedp.Text(chromedp.CSS("body")))
		return fmt.Sprintf("the page says:\n%s\nits console:\n%s\nthe sender's log:\n%s", strings.TrimSpace(words), pageLog, senderLog)
	}
	_, err = chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
	})
	must(t, err)
	must(t, chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(link.String())))
	shot := func(name string) {
		dir := os.Getenv(pageShotsEnv)
		if dir == "" || c != "insecure-origin" {
			return
		}
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}

	secure, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.isSecureContext && !!(window.crypto && crypto.subtle)`))
	must(t, err)
	if secure != (host == "127.0.0.1") || (c == "insecure-origin" && host != vethAddr) {
		t.Fatalf("secure context = %v on %s", secure, host)
	}
	checkVectors(t, bctx)

	status := func() string {
		s, _ := chromedp.Run(bctx, chromedp.Text(chromedp.ID("status")))
		return s
	}
	waitStatus := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !strings.Contains(status(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the page says %q, want %q\n%s", status(), want, diagnose())
			}
			time.Sleep(50 * time.Millisecond) // polling the page
		}
	}

	switch c {
	case "wrong-secret":
		waitStatus("secret does not match", 30*time.Second)
		// The link without its secret, and a share that ended.
		bare := link
		bare.Secret = ""
		must(t, chromedp.Do(bctx, chromedp.Navigate(strings.TrimSuffix(bare.String(), "#"))))
		waitStatus("missing its secret", 10*time.Second)
		share.Stop()
		// about:blank first: a change of fragment alone would not reload.
		must(t, chromedp.Do(bctx, chromedp.Navigate("about:blank"), chromedp.Navigate(share.Link().String())))
		waitStatus("no longer available", 10*time.Second)
		// A browser without WebRTC.
		_, err := chromedp.Call(bctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
			Source: "delete window.RTCPeerConnection; window.RTCPeerConnection = undefined;",
		})
		must(t, err)
		must(t, chromedp.Do(bctx, chromedp.Navigate("about:blank"), chromedp.Navigate(link.String())))
		waitStatus("no WebRTC", 10*time.Second)
		return
	case "one-file":
		// The per-file Download button: only that file comes.
		must(t, chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("accept"))))
		clicked, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => {
			const b = document.querySelector('button[aria-label="Download only trip/photos/b.jpg"]');
			if (b) b.click();
			return !!b;
		})()`))
		must(t, err)
		if !clicked {
			t.Fatal("no Download button for trip/photos/b.jpg")
		}
		waitStatus("every file verified", time.Minute)
		must(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("save-all"))))
		want := fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Repeat("b", 70_000))))
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(downloads, "trip - photos - b.jpg"))
			if err == nil && fmt.Sprintf("%x", sha256.Sum256(b)) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the one file was not downloaded intact")
			}
			time.Sleep(50 * time.Millisecond) // polling the download folder
		}
		if entries, _ := os.ReadDir(downloads); len(entries) != 1 {
			t.Errorf("downloads hold %v, want only the one file", entries)
		}
		for e := range events {
			if e.State == session.Done {
				if e.Progress.Total != 70_000 {
					t.Errorf("sender sent %d bytes, want only the file's 70000", e.Progress.Total)
				}
				break
			}
		}
		return
	case "sender-leaves", "sender-leaves-secure":
		must(t, chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("accept")), chromedp.Click(chromedp.ID("accept"))))
		// The sender goes away in the middle of the big file.
		for e := range events {
			if e.State == session.Sending && e.Progress.Done > bigSize/4 {
				break
			}
		}
		share.Stop()
		waitStatus("This page cannot resume", 30*time.Second) // and says so plainly
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("a.save").length`))
		must(t, err)
		if n >= 5 {
			t.Errorf("%d files offered to save after the sender left mid-transfer", n)
		}
		// Whatever was streamed of the big file never takes its name.
		time.Sleep(time.Second) // let the browser settle the failed download
		if _, err := os.Stat(filepath.Join(downloads, "trip - video.bin")); err == nil {
			t.Error("the unfinished file was saved under its name")
		}
		return
	}

	// Generous: the first case on a fresh CI machine also pays for
	// Chromium's first start. A page that gave up stops the wait at once.
	code, err := chromedp.Run(bctx, chromedp.Poll[string](`(() => {
		const code = document.getElementById("code"), status = document.getElementById("status");
		if (status.classList.contains("error")) return "failed";
		return code.hidden ? "" : code.textContent;
	})()`, chromedp.WithPollingTimeout(90*time.Second)))
	if err != nil || code == "failed" {
		t.Fatalf("the page never connected: %v\n%s", err, diagnose())
	}
	must(t, chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("accept"))))
	total, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("total")))
	must(t, err)
	if !strings.Contains(total, "5 files") {
		t.Errorf("offer shows %q", total)
	}
	shot("browser-offer.png")
	t0 := time.Now()
	must(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("accept"))))
	waitStatus("every file verified", time.Minute)
	shot("browser-done.png")
	elapsed := time.Since(t0)
	for e := range events {
		if e.State == session.Done {
			if !strings.Contains(code, e.Code) || e.Code == "" {
				t.Errorf("page shows %q, sender %q", code, e.Code)
			}
			break
		}
	}
	if secure {
		// A secure origin streams each file to disk through the service
		// worker as it arrives; nothing waits in memory for a click.
		waitStatus("saved to your downloads", 10*time.Second)
	} else {
		must(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("save-all"))))
	}

	// Every file lands in the download folder, byte-identical.
	want := map[string]string{}
	for _, e := range offer.Manifest.Entries {
		if !e.Dir {
			b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(e.Path)))
			must(t, err)
			want[strings.ReplaceAll(e.Path, "/", " - ")] = fmt.Sprintf("%x", sha256.Sum256(b))
		}
	}
	deadline := time.Now().Add(time.Minute)
	for name, sum := range want {
		for {
			b, err := os.ReadFile(filepath.Join(downloads, name))
			if err == nil && fmt.Sprintf("%x", sha256.Sum256(b)) == sum {
				break
			}
			if time.Now().After(deadline) {
				entries, _ := os.ReadDir(downloads)
				t.Fatalf("%s not downloaded intact; the folder has %v", name, entries)
			}
			time.Sleep(50 * time.Millisecond) // polling the download folder
		}
	}
	t.Logf("%s: %d MB to Chromium in %v (%.1f MB/s), code %s", c, offer.Manifest.Total()/1e6, elapsed.Round(time.Millisecond),
		float64(offer.Manifest.Total())/elapsed.Seconds()/1e6, code)
}

// checkVectors runs the page's own SHA-256, HMAC and HKDF, and the
// handshake's MAC and verification code, against Go's on the same inputs.
func checkVectors(t *testing.T, ctx context.Context) {
	t.Helper()
	secret := "BBBBBBBBBBBBBBBBBBBBBA"
	key, err := wire.DeriveKey(secret)
	must(t, err)
	long := strings.Repeat("abc", 1000)
	macIn := wire.MACInput(wire.SignalAnswer, wire.DirToSender, "nR", "nS", 7, "v=0\r\n")
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
		const S = await import("./sha256.js"), P = await import("./proto.js");
		const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
		const long = "abc".repeat(1000);
		const inc = new S.Sha256(); for (let i = 0; i < long.length; i += 77) inc.update(S.utf8(long.slice(i, i + 77)));
		if (hex(inc.digest()) !== hex(S.sha256(S.utf8(long)))) return "incremental differs";
		return [hex(S.sha256(new Uint8Array(0))), hex(S.sha256(S.utf8(long))), hex(S.hmacSha256(S.utf8("k"), S.utf8(long))),
			hex(P.deriveKey(%q)), P.tag(P.deriveKey(%q), P.macInput("answer", "r2s", "nR", "nS", 7, "v=0\r\n")),
			P.verificationCode("sha-256 AB:CD", "sha-256 EF:01")].join("|");
	})()`, secret, secret)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	must(t, err)
	if got != want {
		t.Fatalf("the page's crypto differs from Go's:\npage %s\ngo   %s", got, want)
	}
}
