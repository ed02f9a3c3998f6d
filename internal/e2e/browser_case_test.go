package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// TestBrowserInNamespace plays one case in one browser inside the
// namespace that TestBrowserPages made.
func TestBrowserInNamespace(t *testing.T) {
	c, b := os.Getenv(browserCaseEnv), os.Getenv(browserEnv)
	if c == "" || b == "" {
		t.Skip("runs inside the network namespace TestBrowserPages makes")
	}
	if strings.HasPrefix(c, "send-") {
		playSender(t, b, c)
		return
	}
	long := strings.HasPrefix(c, "long-")
	ctx, cancel := context.WithTimeout(context.Background(), caseLimit(c))
	defer cancel()

	// The page is served on 127.0.0.1 (a secure context, like https) or
	// on the veth address (insecure: what a phone opening http://LAN-IP
	// gets, with no crypto.subtle and no service worker).
	server, host := caseServer(t, ctx, c)
	// Where the page is opened: the sender's broker, or another node of
	// its cluster, as a load balancer would send the browser.
	pageServer := server
	if c == "other-node-secure" {
		nodes, _ := startNodes(t, ctx, 3)
		server, pageServer = mustParseURL(t, nodes[0]), mustParseURL(t, nodes[2])
	}

	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{
		"trip/notes.txt":       "sun and sea\n",
		"trip/empty.txt":       "",
		"trip/photos/a.jpg":    strings.Repeat("a", 123_457),
		"trip/photos/b.jpg":    strings.Repeat("b", 70_000),
		"trip/nothing-inside/": "",
	})
	bigSize := int64(32 << 20)
	switch {
	case c == "bench-256MiB":
		bigSize = 256 << 20
	case long:
		bigSize = int64(longDuration()) * longBytesPerSecond
	case heldPath(c):
		bigSize = 40 * longBytesPerSecond // long enough to stop the worker in the middle
	}
	testutil.RandomFile(t, filepath.Join(src, "trip/video.bin"), bigSize)
	offer, err := transfer.NewTextOffer(pageText, filepath.Join(src, "trip"))
	if c == "text-only-secure" {
		offer, err = transfer.NewTextOffer(pageText)
	}
	must(t, err)
	// The sender's log and the page's console tell what happened when a
	// wait below times out.
	senderLog, cfg := caseConfig()
	events := make(chan session.Event, 1024)
	share, err := session.Share(ctx, cfg, server, offer, session.ShareOptions{OnEvent: sink(events)})
	must(t, err)
	defer share.Stop()
	link := share.Link()
	link.Server = pageServer
	if c == "wrong-secret" {
		link.Secret = wire.NewSecret()
	}

	downloads := t.TempDir()
	p := openBrowser(t, ctx, b, c, downloads)
	// diagnose is what a failed wait prints: the page's words, its console
	// and the sender's log.
	diagnose := func() string {
		return fmt.Sprintf("the page says:\n%s\nits console:\n%s\nthe downloads:\n%s\nthe sender's log:\n%s", strings.TrimSpace(text(p, "status")+"\n"+text(p, "offer")), p.Console(), listDir(downloads), senderLog)
	}
	must(t, p.Viewport(390, 844, 2))
	must(t, p.Navigate(link.String()))
	// shot writes a screenshot when pageShotsEnv names a folder: the
	// README's pictures from Chromium's insecure-origin and lang-zh
	// cases, and <browser>-<case>-<name> from any other.
	shot := func(name string) {
		dir := os.Getenv(pageShotsEnv)
		if dir == "" {
			return
		}
		if (c != "insecure-origin" && c != "lang-zh") || b != "chromium" {
			name = b + "-" + c + "-" + name
		}
		png, err := p.Screenshot()
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}

	var secure bool
	must(t, p.Eval(`window.isSecureContext && !!(window.crypto && crypto.subtle)`, &secure))
	if secure != (host == "127.0.0.1") {
		t.Fatalf("secure context = %v on %s", secure, host)
	}
	checkVectors(t, p)

	waitStatus := statusWaiter(t, p, diagnose)
	// fileIs reports whether the download folder holds name with the
	// SHA-256 sum.
	fileIs := func(name, sum string) bool {
		b, err := os.ReadFile(filepath.Join(downloads, name))
		return err == nil && fmt.Sprintf("%x", sha256.Sum256(b)) == sum
	}
	// landed waits until every file of the offer is in the download
	// folder, byte-identical.
	landed := func() {
		t.Helper()
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
			for !fileIs(name, sum) {
				if time.Now().After(deadline) {
					t.Fatalf("%s not downloaded intact\n%s", name, diagnose())
				}
				time.Sleep(50 * time.Millisecond) // polling the download folder
			}
		}
	}
	// senderEnd waits for the sender's last word on the receiver.
	senderEnd := func() session.Event { t.Helper(); return lastEvent(t, ctx, events, "the sender", diagnose) }
	// midFile waits until the sender is a quarter into the big file.
	midFile := func() {
		t.Helper()
		for {
			select {
			case e := <-events:
				if e.State == session.Sending && e.Progress.Done > bigSize/4 {
					return
				}
			case <-ctx.Done():
				t.Fatalf("the transfer never got under way\n%s", diagnose())
			}
		}
	}

	switch c {
	case "lang-zh":
		playInChinese(t, p, shot, landed, diagnose)
		if e := senderEnd(); e.State != session.Done {
			t.Errorf("the sender ended %v (%v)", e.State, e.Err)
		}
		return
	case "text-only-secure":
		// A message alone: shown as text, accepted, nothing downloaded.
		waitVisible(t, p, "accept", 90*time.Second, diagnose)
		if total := text(p, "total"); total != "A message, no files." {
			t.Errorf("the offer says %q", total)
		}
		checkShownText(t, p, pageText)
		click(t, p, "#accept")
		waitStatus("Received the message.", 30*time.Second)
		if e := senderEnd(); e.State != session.Done {
			t.Errorf("the sender ended %v (%v)", e.State, e.Err)
		}
		if entries, _ := os.ReadDir(downloads); len(entries) != 0 {
			t.Errorf("a message alone downloaded %v", entries)
		}
		return
	case "wrong-secret":
		waitStatus("secret does not match", 30*time.Second)
		// The link without its secret, and a share that ended.
		bare := link
		bare.Secret = ""
		must(t, p.Navigate(strings.TrimSuffix(bare.String(), "#")))
		waitStatus("missing its secret", 10*time.Second)
		share.Stop()
		// about:blank first: a change of fragment alone would not reload.
		must(t, p.Navigate("about:blank"))
		must(t, p.Navigate(share.Link().String()))
		waitStatus("no longer available", 10*time.Second)
		// A browser without WebRTC.
		must(t, p.Preload("delete window.RTCPeerConnection; window.RTCPeerConnection = undefined;"))
		must(t, p.Navigate("about:blank"))
		must(t, p.Navigate(link.String()))
		waitStatus("no WebRTC", 10*time.Second)
		return
	case "download-cancelled-secure":
		waitVisible(t, p, "accept", 90*time.Second, diagnose)
		click(t, p, "#accept")
		// The person cancels the big file in the browser's downloads
		// list: the worker's stream is cancelled, the page says so and
		// stops the sender.
		midFile()
		must(t, p.(downloadCanceller).CancelDownload("trip - video.bin"))
		waitStatus("The download of trip/video.bin was cancelled in the browser", 30*time.Second)
		if e := senderEnd(); e.State != session.Failed || !strings.Contains(fmt.Sprint(e.Err), "cancelled a download") {
			t.Errorf("the sender ended %v (%v), want failed: the receiver cancelled a download", e.State, e.Err)
		}
		nothingLooksComplete(t, downloads, "trip - video.bin", bigSize)
		return
	case "no-path":
		// ICE finds no path: the page says it could not connect, not that
		// a connection broke.
		waitStatus("Could not connect", 90*time.Second)
		shot("no-path.png")
		return
	case "no-route":
		// Firefox gathers no host candidate without a default route; on
		// one host with the sender it still connects through the
		// sender's candidates (a peer-reflexive pair, as Chromium always
		// does). What matters is that it connects or says it could not.
		if _, err := poll(p, `(() => {
			const code = document.getElementById("code"), status = document.getElementById("status");
			if (status.textContent.includes("Could not connect")) return "could not";
			if (status.classList.contains("error")) return "failed: " + status.textContent;
			return code.hidden ? "" : "connected";
		})()`, 90*time.Second); err != nil {
			t.Fatalf("neither connected nor said it could not: %v\n%s", err, diagnose())
		}
		t.Logf("without a default route: %s\n%s", text(p, "status"), p.Console())
		return
	case "one-file":
		// The per-file Download button: only that file comes.
		waitVisible(t, p, "accept", 90*time.Second, diagnose)
		click(t, p, `button[aria-label="Download only trip/photos/b.jpg"]`)
		waitStatus("every file verified", time.Minute)
		click(t, p, "#save-all")
		want := fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Repeat("b", 70_000))))
		deadline := time.Now().Add(30 * time.Second)
		for !fileIs("trip - photos - b.jpg", want) {
			if time.Now().After(deadline) {
				t.Fatalf("the one file was not downloaded intact\n%s", diagnose())
			}
			time.Sleep(50 * time.Millisecond) // polling the download folder
		}
		time.Sleep(time.Second) // anything else would have landed by now
		if entries, _ := os.ReadDir(downloads); len(entries) != 1 {
			t.Errorf("downloads hold %v, want only the one file", entries)
		}
		if e := senderEnd(); e.State != session.Done || e.Progress.Total != 70_000 {
			t.Errorf("sender ended %v having sent %d bytes, want done with only the file's 70000", e.State, e.Progress.Total)
		}
		return
	case "sender-leaves", "sender-leaves-secure":
		waitVisible(t, p, "accept", 90*time.Second, diagnose)
		click(t, p, "#accept")
		// The sender goes away in the middle of the big file.
		midFile()
		share.Stop()
		waitStatus("This page cannot resume", 30*time.Second) // and says so plainly
		var n int
		must(t, p.Eval(`document.querySelectorAll("a.save").length`, &n))
		if n >= 5 {
			t.Errorf("%d files offered to save after the sender left mid-transfer", n)
		}
		nothingLooksComplete(t, downloads, "trip - video.bin", bigSize)
		return
	case "worker-stopped-secure":
		waitVisible(t, p, "accept", 90*time.Second, diagnose)
		click(t, p, "#accept")
		// The browser stops the worker that feeds the download stream in
		// the middle of the big file: the page must say so, tell the
		// sender, and leave nothing that looks like the whole file.
		midFile()
		must(t, p.StopServiceWorkers())
		waitStatus("The download of trip/video.bin was cut short by the browser", time.Minute)
		shot("cut.png")
		if e := senderEnd(); e.State != session.Failed || !strings.Contains(fmt.Sprint(e.Err), "cut a download short") {
			t.Errorf("the sender ended %v (%v), want failed: the receiver's browser cut a download short", e.State, e.Err)
		}
		var marked string
		must(t, p.Eval(`[...document.querySelectorAll("#files li")].filter((li) => li.innerText.includes("video.bin")).map((li) => li.innerText).join()`, &marked))
		if strings.Contains(marked, "saved") {
			t.Errorf("the cut file is marked %q", marked)
		}
		if b == "firefox" {
			// Firefox completes a download whose worker it stopped, under
			// the file's own name: why the page stages files in Firefox
			// and takes this path only for offers over the origin's quota.
			// All the page can do is say so.
			t.Logf("the downloads:\n%s", listDir(downloads))
			waitStatus("if your downloads list it, delete it", time.Second)
			return
		}
		nothingLooksComplete(t, downloads, "trip - video.bin", bigSize)
		return
	}

	// Generous: the first case on a fresh CI machine also pays for the
	// browser's first start. A page that gave up stops the wait at once.
	code, err := poll(p, `(() => {
		const code = document.getElementById("code"), status = document.getElementById("status");
		if (status.classList.contains("error")) return "failed";
		return code.hidden ? "" : code.textContent;
	})()`, 90*time.Second)
	if err != nil || code == "failed" {
		t.Fatalf("the page never connected: %v\n%s", err, diagnose())
	}
	waitVisible(t, p, "accept", 30*time.Second, diagnose)
	if total := text(p, "total"); !strings.Contains(total, "5 files") {
		t.Errorf("offer shows %q", total)
	}
	checkShownText(t, p, pageText)
	// The note under the offer says where the files go: streamed by the
	// worker, staged (Firefox, within its quota) or, on an insecure
	// origin, nowhere until saved (a warning comes only over 512 MB).
	note, wantNote := text(p, "memory-warning"), ""
	switch {
	case secure && b == "firefox" && !workerPath(c):
		wantNote = "as soon as it is verified"
	case secure:
		wantNote = "as they arrive"
	}
	if (wantNote == "" && note != "") || !strings.Contains(note, wantNote) {
		t.Errorf("the note says %q, want %q", note, wantNote)
	}
	shot("browser-offer.png")
	t0 := time.Now()
	click(t, p, "#accept")
	within := time.Minute
	if long {
		within += 2 * time.Duration(longDuration()) * time.Second
	}
	waitStatus("every file verified", within)
	if secure {
		// A secure origin streams each file to disk through the service
		// worker as it arrives; nothing waits in memory for a click, and
		// the page says saved only once the worker confirmed every file.
		waitStatus("saved to your downloads", 30*time.Second)
	}
	elapsed := time.Since(t0)
	shot("browser-done.png")
	if e := senderEnd(); e.State != session.Done || e.Code == "" || !strings.Contains(code, e.Code) {
		t.Errorf("the sender ended %v (%v) with code %q; the page shows %q", e.State, e.Err, e.Code, code)
	}
	if !secure {
		click(t, p, "#save-all")
	}

	landed()
	// The page hangs up once done, so the sender sees a clean close and
	// the browser no ICE failure later.
	if title := ""; p.Eval(`document.title`, &title) == nil && strings.Contains(title, "Failed") {
		t.Errorf("the page failed after the transfer\n%s", diagnose())
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Console(), "EpicShare: connection closed") {
		if time.Now().After(deadline) {
			t.Fatalf("the page did not close its peer connection after the transfer\n%s", diagnose())
		}
		time.Sleep(50 * time.Millisecond) // polling the console
	}
	if secure && b == "firefox" && !workerPath(c) {
		// The staged copies do not outlive the page: the next visit finds
		// only the folder it made itself.
		must(t, p.Navigate("about:blank"))
		must(t, p.Navigate(link.String()))
		waitVisible(t, p, "accept", 90*time.Second, diagnose)
		var staged []string
		must(t, p.Eval(`(async () => {
			const names = [];
			for await (const [name] of (await navigator.storage.getDirectory()).entries()) names.push(name);
			return names;
		})()`, &staged))
		if len(staged) != 1 {
			t.Errorf("the private file system holds %v after a second visit, want only that visit's folder", staged)
		}
	}
	if long && elapsed < 60*time.Second {
		// Not a speed check: the case is only worth its name if the held
		// path made the download outlast the browsers' 30 s worker timeout.
		t.Errorf("the held download took only %v; it must last over a minute", elapsed)
	}
	t.Logf("%s: %d MB to %s in %v (%.1f MB/s), code %s", c, offer.Manifest.Total()/1e6, b, elapsed.Round(time.Millisecond),
		float64(offer.Manifest.Total())/elapsed.Seconds()/1e6, code)
}

// pageText is the message that comes with the files: its link must be
// clickable, its markup shown as text.
const pageText = "Photos from Saturday, and the map: https://example.org/map?x=1. Tags like <b>this</b> or <img src=x onerror=alert(1)> stay text."

// checkShownText checks that the page shows text as text, with its one
// link a link that opens in a new tab without a referrer.
func checkShownText(t *testing.T, p browserPage, want string) {
	t.Helper()
	var got struct {
		Text, Href, Rel string
		Markup          int
	}
	must(t, p.Eval(`(() => {
		const box = document.getElementById("text"), a = box.querySelector("pre a");
		return { text: box.querySelector("pre").textContent, href: a ? a.href : "", rel: a ? a.rel : "",
			markup: box.querySelectorAll("pre b, pre img").length };
	})()`, &got))
	if got.Text != want || got.Href != "https://example.org/map?x=1" || got.Rel != "noopener noreferrer" || got.Markup != 0 {
		t.Errorf("the page shows the text as %+v", got)
	}
}

// nothingLooksComplete fails the test if the download folder holds the
// file name with anything in it, after a transfer that broke during it:
// a partial file may stay under a temporary name, or empty, but nothing
// under its name may pass for the file.
func nothingLooksComplete(t *testing.T, downloads, name string, size int64) {
	t.Helper()
	time.Sleep(2 * time.Second) // let the browser settle the failed download
	t.Logf("the downloads:\n%s", listDir(downloads))
	if fi, err := os.Stat(filepath.Join(downloads, name)); err == nil && fi.Size() > 0 {
		t.Errorf("the unfinished %s is in the downloads under its name (%d of %d bytes)", name, fi.Size(), size)
	}
}

// listDir lists a folder's files with their sizes, a line each.
func listDir(dir string) string {
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "  %s  %d bytes\n", e.Name(), fi.Size())
		}
	}
	return b.String()
}
