package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/epicshare/epicshare/internal/testutil"
)

// browserPage is what the browser cases need of a browser's tab, so that
// each case is written once for Chromium (chromedp, over CDP) and Firefox
// (firefoxPage, over WebDriver BiDi).
type browserPage interface {
	Navigate(url string) error
	// Eval evaluates a JavaScript expression in the page, awaits it if it
	// is a promise, and decodes its value, as JSON, into out (if not nil).
	Eval(js string, out any) error
	// Preload runs js before the page's own scripts on every navigation
	// after this one.
	Preload(js string) error
	Viewport(width, height int, scale float64) error
	Screenshot() ([]byte, error)
	// Console is what the page logged so far, a line per entry.
	Console() string
	// StopServiceWorkers makes the browser stop the page's service worker
	// as it would one it thinks idle.
	StopServiceWorkers() error
}

// openBrowser starts browser name (chromium or firefox) headless with
// downloads going to the folder downloads, for the case c.
func openBrowser(t *testing.T, ctx context.Context, name, c, downloads string) browserPage {
	t.Helper()
	if name == "firefox" {
		prefs := firefoxPrefs(downloads)
		if workerPath(c) {
			// The page stages files in the origin's private file system
			// in Firefox, and streams them through its worker only when
			// the offer is over the origin's quota: a quota of 10 MB makes
			// these cases take the worker path.
			prefs["dom.quotaManager.temporaryStorage.fixedLimit"] = 10 << 10 // KiB
		}
		if strings.HasPrefix(c, "worker-stopped") {
			// Firefox stops an idle worker after 30 s, and one with work
			// pending after a further 5 minutes. Shorter here, so that it
			// stops the download's worker soon after the page's keep-alive
			// is held back (firefoxPage.StopServiceWorkers).
			prefs["dom.serviceWorkers.idle_timeout"] = 3000
			prefs["dom.serviceWorkers.idle_extended_timeout"] = 3000
		}
		if lang := caseLanguage(c); lang != "" {
			prefs["intl.accept_languages"] = lang
		}
		p := firefoxPage{f: startFirefox(t, ctx, prefs), ctx: ctx}
		if strings.HasPrefix(c, "worker-stopped") {
			must(t, p.Preload(starveWorkerScript))
		}
		return p
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	if lang := caseLanguage(c); lang != "" {
		// What headless Chromium gives the page as navigator.languages
		// (--lang sets only its own interface there).
		opts = append(opts, chromedp.Flag("accept-lang", lang))
	}
	if spki := os.Getenv(natSPKIEnv); spki != "" {
		// The lab's server has a certificate from a test CA: trust it
		// as a browser trusts a public one.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// The first Run starts the browser; its context must not time out.
	must(t, chromedp.Do(bctx, chromedp.Navigate("about:blank")))
	p := &chromiumPage{ctx: bctx, downloads: map[string]string{}}
	console := chromedp.Console(bctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			fmt.Fprintf(&p.console, "%s %s\n", m.Time.Format("15:04:05.000"), m)
		}
	}()
	must(t, chromedp.ListenBrowser(bctx, func(ev any) {
		if e, ok := ev.(*browser.EventDownloadWillBegin); ok {
			p.mu.Lock()
			p.downloads[e.SuggestedFilename] = e.GUID
			p.mu.Unlock()
		}
	}))
	events := true
	_, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &events,
	})
	must(t, err)
	return p
}

// workerPath reports whether Firefox must take the service-worker path
// in case c rather than staging: the held download (the keep-alive over
// minutes) and the stopped worker.
func workerPath(c string) bool {
	return c == "long-secure" || strings.HasPrefix(c, "worker-stopped")
}

// starveWorkerScript holds back the page's keep-alive pings to its
// service worker while window.__epicshareStarve is set.
const starveWorkerScript = `
	const post = ServiceWorker.prototype.postMessage;
	ServiceWorker.prototype.postMessage = function (m, ...rest) {
		if (window.__epicshareStarve && m && m.kind === "ping") return;
		return post.call(this, m, ...rest);
	};`

type chromiumPage struct {
	ctx     context.Context
	console testutil.Buffer

	mu        sync.Mutex
	downloads map[string]string // suggested file name → download GUID
}

// downloadCanceller is a browser that can cancel a download as the person
// would in its downloads list: Chromium, over CDP. (BiDi has no such
// command.)
type downloadCanceller interface {
	CancelDownload(name string) error
}

func (p *chromiumPage) CancelDownload(name string) error {
	p.mu.Lock()
	guid, ok := p.downloads[name]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no download named %q began", name)
	}
	_, err := chromedp.CallBrowser(p.ctx, browser.CancelDownload, browser.CancelDownloadParams{GUID: guid})
	return err
}

func (p *chromiumPage) Navigate(url string) error {
	return chromedp.Do(p.ctx, chromedp.Navigate(url))
}

func (p *chromiumPage) Eval(js string, out any) error {
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](jsonResult(js), chromedp.EvalAwaitPromise))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

func (p *chromiumPage) Preload(js string) error {
	_, err := chromedp.Call(p.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: js})
	return err
}

func (p *chromiumPage) Viewport(width, height int, scale float64) error {
	return chromedp.Do(p.ctx, chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateScale(scale)))
}

func (p *chromiumPage) Screenshot() ([]byte, error) {
	return chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
}

func (p *chromiumPage) Console() string { return p.console.String() }

func (p *chromiumPage) StopServiceWorkers() error {
	if _, err := chromedp.Call(p.ctx, serviceworker.Enable, cdp.Empty{}); err != nil {
		return err
	}
	_, err := chromedp.Call(p.ctx, serviceworker.StopAllWorkers, cdp.Empty{})
	return err
}

// The helpers below drive either browser through browserPage.

// text is the visible text of the element with this ID ("" if none).
func text(p browserPage, id string) string {
	var s string
	p.Eval(fmt.Sprintf(`document.getElementById(%q)?.innerText ?? ""`, id), &s)
	return s
}

// click clicks the element the CSS selector names; it fails the test if
// there is none.
func click(t *testing.T, p browserPage, selector string) {
	t.Helper()
	var ok bool
	must(t, p.Eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (e) e.click(); return !!e; })()`, selector), &ok))
	if !ok {
		t.Fatalf("nothing to click at %s", selector)
	}
}

// poll evaluates js, which returns "" to go on and anything else to stop,
// until it stops or within is over.
func poll(p browserPage, js string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for {
		var s string
		err := p.Eval(js, &s)
		if err == nil && s != "" {
			return s, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("not within %v (last error: %v)", within, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the page
	}
}

// waitVisible waits for the element with this ID to show.
func waitVisible(t *testing.T, p browserPage, id string, within time.Duration, diagnose func() string) {
	t.Helper()
	if _, err := poll(p, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return e && e.checkVisibility() ? "yes" : ""; })()`, id), within); err != nil {
		t.Fatalf("#%s never showed: %v\n%s", id, err, diagnose())
	}
}

// fileSetter is a browser that can put files into a page's file input,
// as a person picking them would: Chromium, over CDP
// (DOM.setFileInputFiles).
type fileSetter interface {
	SetFiles(selector string, paths []string) error
}

func (p *chromiumPage) SetFiles(selector string, paths []string) error {
	return chromedp.Do(p.ctx, chromedp.SetUploadFiles(chromedp.CSS(selector), paths))
}
