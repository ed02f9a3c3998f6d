package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/memtune"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// The sender page's cases, played in Chromium (and the main ones in
// Firefox): a Go inbox (the desktop's
// receive link) receives what the page sends, files put into the page's
// file inputs over CDP as a person picking them would.
var senderCases = []string{"send-secure", "send-insecure", "send-decline", "send-wrong-secret",
	"send-resume", "send-revoked", "send-hostile"}

// senderBothBrowsers are the sender cases Firefox plays too.
var senderBothBrowsers = []string{"send-secure", "send-insecure"}

// sendText is the message the page sends with the files.
const sendText = "From the phone: the door code is 4711 <script>alert(1)</script>\nhttps://example.org/door"

// playSender plays sender case c in browser b, inside the namespace.
func playSender(t *testing.T, b, c string) {
	ctx, cancel := context.WithTimeout(context.Background(), caseLimit(c))
	defer cancel()
	server, _ := caseServer(t, ctx, c)

	// What the phone picks: a folder of several files (one of 32 MiB, or
	// a smaller one on the held path) and a file beside it.
	src := t.TempDir()
	bigSize := int64(32 << 20)
	if heldPath(c) {
		bigSize = 16 * longBytesPerSecond // about 16 s on the held path
	}
	testutil.WriteTree(t, src, map[string]string{
		"trip/notes.txt":    "sun and sea\n",
		"trip/empty.txt":    "",
		"trip/photos/a.jpg": strings.Repeat("a", 123_457),
		"trip/photos/b.jpg": strings.Repeat("b", 70_000),
		"receipt.pdf":       strings.Repeat("%PDF", 5000),
	})
	testutil.RandomFile(t, filepath.Join(src, "trip/video.bin"), bigSize)

	senderLog, cfg := caseConfig()
	parent := t.TempDir()
	dir := filepath.Join(parent, "inbox")
	must(t, os.Mkdir(dir, 0o755))
	offers := make(chan session.Incoming, 16)
	events := make(chan session.Event, 4096)
	in, err := session.OpenInbox(ctx, cfg, server, dir, session.InboxOptions{
		Confirm: func(_ context.Context, o session.Incoming) error {
			offers <- o
			if c == "send-decline" {
				return errors.New("declined by the person")
			}
			return nil
		},
		OnEvent: sink(events),
	})
	must(t, err)
	defer in.Stop()
	link := in.Link()
	if c == "send-wrong-secret" {
		link.Secret = wire.NewSecret()
	}

	p := openBrowser(t, ctx, b, c, t.TempDir())
	diagnose := func() string {
		return fmt.Sprintf("the page says:\n%s\nits console:\n%s\nthe inbox:\n%s\nthe receiver's log:\n%s", text(p, "status"), p.Console(), listDir(dir), senderLog)
	}
	must(t, p.Viewport(390, 844, 2))
	must(t, p.Navigate(link.String()))
	waitStatus := statusWaiter(t, p, diagnose)
	end := func() session.Event { t.Helper(); return lastEvent(t, ctx, events, "the inbox", diagnose) }
	// pick puts the folder and the file into the page's inputs, and the
	// message into its box. Firefox's BiDi cannot put a folder into an
	// input: there the folder's files go in one by one, flat.
	pick := func(message string) {
		t.Helper()
		waitStatus("Choose what to send", 90*time.Second)
		fs, ok := p.(fileSetter)
		if !ok {
			t.Fatalf("%s cannot set a page's files", b)
		}
		want := "6 files"
		if b == "firefox" {
			must(t, fs.SetFiles("#files", []string{filepath.Join(src, "trip/video.bin"), filepath.Join(src, "trip/photos/a.jpg"), filepath.Join(src, "receipt.pdf")}))
			want = "3 files"
		} else {
			must(t, fs.SetFiles("#folder", []string{filepath.Join(src, "trip")}))
			must(t, fs.SetFiles("#files", []string{filepath.Join(src, "receipt.pdf")}))
		}
		must(t, p.Eval(fmt.Sprintf(`(() => { const m = document.getElementById("message"); m.value = %q; m.dispatchEvent(new Event("input")); })()`, message), nil))
		if got := text(p, "picked-total"); !strings.Contains(got, want) {
			t.Fatalf("the page picked %q, want %s\n%s", got, want, diagnose())
		}
	}
	// arrived checks that the inbox holds what was picked, byte-identical.
	arrived := func() {
		t.Helper()
		if b != "firefox" {
			sameTree(t, src, dir)
			return
		}
		for _, f := range []string{"trip/video.bin", "trip/photos/a.jpg", "receipt.pdf"} {
			want, _ := os.ReadFile(filepath.Join(src, f))
			got, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
			if err != nil || string(got) != string(want) {
				t.Errorf("%s did not arrive intact: %v", f, err)
			}
		}
	}
	onlyInbox := func() {
		t.Helper()
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Errorf("something was written beside the inbox: %v", entries)
		}
	}

	switch c {
	case "send-bench-256MiB":
		// One file of 256 MiB, from a phone's page (an insecure origin).
		big := filepath.Join(src, "big.bin")
		testutil.RandomFile(t, big, 256<<20)
		waitStatus("Choose what to send", 90*time.Second)
		must(t, p.(fileSetter).SetFiles("#files", []string{big}))
		t0 := time.Now()
		click(t, p, "#send")
		waitStatus("every file verified by the receiving device", 5*time.Minute)
		elapsed := time.Since(t0)
		if e := end(); e.State != session.Done {
			t.Fatalf("the inbox ended %v (%v)", e.State, e.Err)
		}
		t.Logf("%s: 268 MB from %s in %v (%.1f MB/s)", c, b, elapsed.Round(time.Millisecond), float64(256<<20)/elapsed.Seconds()/1e6)
		return
	case "send-wrong-secret":
		waitStatus("secret does not match", 30*time.Second)
		return
	case "send-revoked":
		// New code: the old link is revoked, and the page says so.
		in.Stop()
		fresh, err := session.OpenInbox(ctx, cfg, server, dir, session.InboxOptions{Identity: session.NewIdentity()})
		must(t, err)
		defer fresh.Stop()
		must(t, p.Navigate("about:blank"))
		must(t, p.Navigate(link.String()))
		waitStatus("This code is no longer valid", 30*time.Second)
		return
	case "send-decline":
		pick("")
		click(t, p, "#send")
		waitStatus("The receiving device declined", 60*time.Second)
		if e := end(); e.State != session.Failed || !errors.Is(e.Err, transfer.ErrDeclined) {
			t.Errorf("the inbox ended %v (%v), want declined", e.State, e.Err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a declined offer wrote %v", entries)
		}
		return
	case "send-hostile":
		playHostile(t, p, dir, onlyInbox, waitStatus, end, diagnose)
		return
	case "send-resume":
		pick("")
		click(t, p, "#send")
		// The page is closed a quarter into the big file.
		for {
			e := <-events
			if e.State == session.Receiving && e.Progress.File == "trip/video.bin" && e.Progress.FileDone > bigSize/4 {
				break
			}
			if e.State == session.Done || e.State == session.Failed {
				t.Fatalf("the first attempt ended %v (%v) before it was cut\n%s", e.State, e.Err, diagnose())
			}
		}
		must(t, p.Navigate("about:blank"))
		first := end()
		var partial *transfer.PartialError
		if first.State != session.Failed || !errors.As(first.Err, &partial) {
			t.Fatalf("the cut attempt ended %v (%v), want failed with the files kept\n%s", first.State, first.Err, diagnose())
		}
		// Files that verified before the cut keep their names; the cut
		// one is only a .part.
		if _, err := os.Stat(filepath.Join(dir, "trip", "video.bin")); err == nil {
			t.Errorf("the cut file is in the inbox under its final name")
		}
		// The same files picked again: the page hashes its first bytes
		// and continues where the inbox's copy stops.
		must(t, p.Navigate(link.String()))
		pick("")
		click(t, p, "#send")
		waitStatus("every file verified", 2*time.Minute)
		second := end()
		if second.State != session.Done {
			t.Fatalf("the resumed attempt ended %v (%v)\n%s", second.State, second.Err, diagnose())
		}
		total := second.Progress.Total
		twice := first.Progress.Done + (second.Progress.Done - second.Progress.Resumed) - total
		t.Logf("resume: first attempt %d bytes, kept %d, second %d of which %d resumed; %d bytes came twice (%.1f %% of the big file)",
			first.Progress.Done, partial.Kept, second.Progress.Done, second.Progress.Resumed, twice, 100*float64(twice)/float64(bigSize))
		if second.Progress.Resumed == 0 || twice > bigSize/10 {
			t.Errorf("the resume sent %d bytes twice (resumed %d), want under 10 %% of %d", twice, second.Progress.Resumed, bigSize)
		}
		if !strings.Contains(text(p, "status"), "had arrived before") {
			t.Errorf("the page does not say what was resumed: %q", text(p, "status"))
		}
		arrived()
		return
	}

	// send-secure, send-insecure: the folder, the file and a message.
	pick(sendText)
	shot(t, b, c, p, "phone-send-picked.png")
	t0 := time.Now()
	click(t, p, "#send")
	o := <-offers
	if o.Manifest.Text != sendText || (o.Manifest.Files() != 6 && b != "firefox") {
		t.Errorf("the inbox was offered %d files and text %q", o.Manifest.Files(), o.Manifest.Text)
	}
	// Mid-transfer, for the README.
	if os.Getenv(pageShotsEnv) != "" {
		poll(p, `document.getElementById("overall").value > 0.3 ? "y" : ""`, 30*time.Second)
		shot(t, b, c, p, "phone-send-progress.png")
	}
	waitStatus("every file verified by the receiving device", 2*time.Minute)
	elapsed := time.Since(t0)
	shot(t, b, c, p, "phone-send-done.png")
	e := end()
	if e.State != session.Done || e.Result == nil || e.Result.Manifest.Text != sendText {
		t.Fatalf("the inbox ended %v (%v)\n%s", e.State, e.Err, diagnose())
	}
	if code := text(p, "code"); e.Code == "" || !strings.Contains(code, e.Code) {
		t.Errorf("the page shows %q, the inbox code %q", code, e.Code)
	}
	arrived()
	onlyInbox()
	// Send more, without scanning again: a text alone this time.
	click(t, p, "#again")
	waitStatus("Choose what to send", 60*time.Second)
	must(t, p.Eval(`(() => { const m = document.getElementById("message"); m.value = "and one more thing"; m.dispatchEvent(new Event("input")); })()`, nil))
	click(t, p, "#send")
	waitStatus("Sent the message", time.Minute)
	if e := end(); e.State != session.Done || e.Result.Manifest.Text != "and one more thing" {
		t.Errorf("the second send ended %v (%v)", e.State, e.Err)
	}
	t.Logf("%s: %d MB from %s in %v (%.1f MB/s)", c, o.Manifest.Total()/1e6, b, elapsed.Round(time.Millisecond),
		float64(o.Manifest.Total())/elapsed.Seconds()/1e6)
}

// caseServer serves a broker for case c on 127.0.0.1 (a secure context,
// like https) for the secure-origin and *-secure cases, else on the veth
// address (insecure: what a phone opening http://LAN-IP gets, with no
// crypto.subtle and no service worker).
func caseServer(t *testing.T, ctx context.Context, c string) (server *url.URL, host string) {
	host = vethAddr
	if c == "secure-origin" || strings.HasSuffix(c, "-secure") {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", host+":0")
	must(t, err)
	go rendezvous.New(rendezvous.Config{}).Serve(ctx, ln)
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, host
}

// caseConfig is the Go side's session config inside the namespace (ICE on
// the veth only), logging into a buffer that a failed wait prints.
func caseConfig() (*testutil.Buffer, session.Config) {
	log := &testutil.Buffer{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// GC as the app and the CLI set it, so that the benchmark's desktop
	// side costs what a user's does.
	return log, session.Config{Peer: peer.Config{Interfaces: []string{"v0"}, Logger: logger}, Logger: logger, GC: new(memtune.Tuner)}
}

// statusWaiter returns a wait for the page's status line to say want.
func statusWaiter(t *testing.T, p browserPage, diagnose func() string) func(want string, within time.Duration) {
	return func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !strings.Contains(text(p, "status"), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the page says %q, want %q\n%s", text(p, "status"), want, diagnose())
			}
			time.Sleep(50 * time.Millisecond) // polling the page
		}
	}
}

// lastEvent waits for the next Done or Failed event of a link's peer.
func lastEvent(t *testing.T, ctx context.Context, events <-chan session.Event, who string, diagnose func() string) session.Event {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.State == session.Done || e.State == session.Failed {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("%s never finished\n%s", who, diagnose())
		}
	}
}

// sink forwards a link's events to events, dropping them when it is full.
func sink(events chan<- session.Event) func(session.Event) {
	return func(e session.Event) {
		select {
		case events <- e:
		default:
		}
	}
}

// sameTree fails the test unless the inbox holds exactly what was picked.
func sameTree(t *testing.T, src, dir string) {
	t.Helper()
	if got, want := digest(t, dir), digest(t, src); got != want {
		t.Fatalf("the inbox holds:\n%s\nthe phone picked:\n%s", got, want)
	}
}

// playHostile offers, through the page's own sending code, manifests a
// hostile page could craft; each is refused with a clear message on both
// sides and nothing lands outside the inbox, nor anything under a final
// name in it.
func playHostile(t *testing.T, p browserPage, dir string, onlyInbox func(), waitStatus func(string, time.Duration), end func() session.Event, diagnose func() string) {
	for _, tc := range []struct{ name, craft string }{
		{"dot-dot", `m.entries[0].path = "../evil"`},
		{"absolute", `m.entries[0].path = "/tmp/evil"`},
		{"NUL", `m.entries[0].path = "a\u0000b"`},
		{"10k characters", `m.entries[0].path = "n".repeat(10000)`},
		{"duplicate", `m.entries.push({ ...m.entries[0] })`},
		{"negative size", `m.entries[0].size = -1`},
		{"text over the limit", `m.text = "x".repeat(1048577)`},
		{"more than announced", `m.entries[0].size = 1`},
	} {
		waitStatus("Choose what to send", 90*time.Second)
		must(t, p.(fileSetter).SetFiles("#files", []string{writeTemp(t, "photo.jpg", strings.Repeat("p", 5000))}))
		must(t, p.Eval(fmt.Sprintf(`(() => { window.epicshareCraftManifest = (m) => { %s; return m; }; })()`, tc.craft), nil))
		click(t, p, "#send")
		want := "refused the offer"
		if tc.name == "more than announced" {
			want = "refused the data"
		}
		waitStatus(want, time.Minute)
		wantErr := transfer.ErrBadManifest
		if tc.name == "more than announced" {
			wantErr = transfer.ErrProtocol
		}
		if e := end(); e.State != session.Failed || !errors.Is(e.Err, wantErr) {
			t.Errorf("%s: the inbox ended %v (%v), want %v", tc.name, e.State, e.Err, wantErr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: the inbox holds %v", tc.name, entries)
		}
		onlyInbox()
		must(t, p.Eval(`(() => { delete window.epicshareCraftManifest; document.getElementById("picked").innerHTML = ""; })()`, nil))
		click(t, p, "#again")
		t.Logf("%s: %s", tc.name, text(p, "status"))
	}
	_ = diagnose
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// shot writes a phone-sized screenshot of the page when pageShotsEnv
// names a folder.
func shot(t *testing.T, b, c string, p browserPage, name string) {
	dir := os.Getenv(pageShotsEnv)
	if dir == "" {
		return
	}
	if c != "send-insecure" || b != "chromium" {
		name = b + "-" + c + "-" + name
	}
	png, err := p.Screenshot()
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}
