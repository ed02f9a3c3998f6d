package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/testutil"
)

// Firefox is driven over WebDriver BiDi, the W3C protocol Firefox speaks
// natively (it dropped CDP). A small client over gorilla/websocket, which
// the module already has, covers the handful of commands these tests use
// (navigate, evaluate, preload scripts, screenshots, console events). It
// was chosen over puppeteer-core so that the Firefox tests are Go tests
// in the same binary as the Chromium ones: the binary runs inside the
// network namespace as it is, with no Node.js, no npm install in CI and
// no second test runner.
const firefoxPath = "/usr/bin/firefox-esr"

// firefox is one headless firefox-esr with one tab, driven over BiDi.
type firefox struct {
	cmd     *exec.Cmd
	ws      *websocket.Conn
	context string // the tab's browsing context ID
	console testutil.Buffer
	stderr  testutil.Buffer

	wmu     sync.Mutex // serialises writes to ws
	mu      sync.Mutex // guards the fields below
	nextID  int
	pending map[int]chan bidiMessage
	readErr error
	exited  chan struct{}
}

type bidiMessage struct {
	ID      int             `json:"id"`
	Type    string          `json:"type"` // success, error or event
	Method  string          `json:"method"`
	Result  json.RawMessage `json:"result"`
	Params  json.RawMessage `json:"params"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// firefoxPrefs keep a test browser quiet and make downloads land in a
// folder without asking.
func firefoxPrefs(downloads string) map[string]any {
	return map[string]any{
		"browser.download.folderList":                           2,
		"browser.download.dir":                                  downloads,
		"browser.download.useDownloadDir":                       true,
		"browser.download.always_ask_before_handling_new_types": false,
		"browser.download.start_downloads_in_tmp_dir":           false,
		"browser.download.alwaysOpenPanel":                      false,
		"browser.safebrowsing.downloads.enabled":                false,
		"browser.shell.checkDefaultBrowser":                     false,
		"app.update.disabledForTesting":                         true,
		"datareporting.policy.dataSubmissionEnabled":            false,
		"toolkit.telemetry.reportingpolicy.firstRun":            false,
		"network.captive-portal-service.enabled":                false,
		"network.connectivity-service.enabled":                  false,
		"extensions.update.enabled":                             false,
		"browser.newtabpage.enabled":                            false,
		"browser.startup.page":                                  0,
	}
}

// startFirefox starts headless Firefox with a fresh profile holding prefs
// and connects to it. It must run inside the test's network namespace.
func startFirefox(t testing.TB, ctx context.Context, prefs map[string]any) *firefox {
	t.Helper()
	profile := t.TempDir()
	var userJS strings.Builder
	for k, v := range prefs {
		b, err := json.Marshal(v) // a JSON string, number or bool is a pref literal too
		testutil.Must(t, err)
		fmt.Fprintf(&userJS, "user_pref(%q, %s);\n", k, b)
	}
	testutil.Must(t, os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS.String()), 0o644))

	f := &firefox{pending: map[int]chan bidiMessage{}, exited: make(chan struct{})}
	f.cmd = exec.Command(firefoxPath, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", "0", "about:blank")
	f.cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := f.cmd.StderrPipe()
	testutil.Must(t, err)
	f.cmd.Stdout = &f.stderr
	testutil.Must(t, f.cmd.Start())
	t.Cleanup(f.close)
	go func() { f.cmd.Wait(); close(f.exited) }()

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&f.stderr, sc.Text())
			if m := bidiListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var url string
	select {
	case url = <-addr:
	case <-f.exited:
		t.Fatalf("firefox exited before it listened:\n%s", &f.stderr)
	case <-time.After(90 * time.Second):
		t.Fatalf("firefox did not start listening within 90 s:\n%s", &f.stderr)
	}
	f.ws, _, err = websocket.DefaultDialer.DialContext(ctx, url+"/session", nil)
	testutil.Must(t, err)
	go f.read()

	var sess struct{}
	testutil.Must(t, f.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, &sess))
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	testutil.Must(t, f.call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree))
	if len(tree.Contexts) == 0 {
		t.Fatal("firefox has no tab")
	}
	f.context = tree.Contexts[0].Context
	testutil.Must(t, f.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil))
	return f
}

// read delivers replies to their callers and records console entries.
func (f *firefox) read() {
	for {
		var m bidiMessage
		if err := f.ws.ReadJSON(&m); err != nil {
			f.mu.Lock()
			f.readErr = err
			for id, ch := range f.pending {
				close(ch)
				delete(f.pending, id)
			}
			f.mu.Unlock()
			return
		}
		if m.Type == "event" {
			if m.Method == "log.entryAdded" {
				var e struct {
					Level     string `json:"level"`
					Text      string `json:"text"`
					Timestamp int64  `json:"timestamp"`
				}
				json.Unmarshal(m.Params, &e)
				fmt.Fprintf(&f.console, "%s %s %s\n", time.UnixMilli(e.Timestamp).Format("15:04:05.000"), e.Level, e.Text)
			}
			continue
		}
		f.mu.Lock()
		ch := f.pending[m.ID]
		delete(f.pending, m.ID)
		f.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends one command and decodes its result into out (if not nil).
func (f *firefox) call(ctx context.Context, method string, params any, out any) error {
	f.mu.Lock()
	if f.readErr != nil {
		f.mu.Unlock()
		return fmt.Errorf("%s: connection lost: %w", method, f.readErr)
	}
	f.nextID++
	id := f.nextID
	ch := make(chan bidiMessage, 1)
	f.pending[id] = ch
	f.mu.Unlock()

	f.wmu.Lock()
	err := f.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params})
	f.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: connection lost", method)
		}
		if m.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(m.Result, out)
	case <-ctx.Done():
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close ends the browser: politely first, then by force.
func (f *firefox) close() {
	if f.ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		f.call(ctx, "browser.close", map[string]any{}, nil)
		cancel()
		f.ws.Close()
	}
	select {
	case <-f.exited:
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		<-f.exited
	}
}

// firefoxPage is the browserPage of a firefox tab.
type firefoxPage struct {
	f   *firefox
	ctx context.Context
}

func (p firefoxPage) Navigate(url string) error {
	return p.f.call(p.ctx, "browsingContext.navigate", map[string]any{"context": p.f.context, "url": url, "wait": "complete"}, nil)
}

func (p firefoxPage) Eval(js string, out any) error {
	var r struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := p.f.call(p.ctx, "script.evaluate", map[string]any{
		"expression":   jsonResult(js),
		"target":       map[string]any{"context": p.f.context},
		"awaitPromise": true,
	}, &r)
	if err != nil {
		return err
	}
	if r.Type == "exception" {
		return fmt.Errorf("the page threw: %s", r.ExceptionDetails.Text)
	}
	if r.Result.Type != "string" {
		return fmt.Errorf("evaluate gave a %s, not a string", r.Result.Type)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(r.Result.Value), out)
}

func (p firefoxPage) Preload(js string) error {
	return p.f.call(p.ctx, "script.addPreloadScript", map[string]any{"functionDeclaration": "() => {" + js + "}"}, nil)
}

func (p firefoxPage) Viewport(width, height int, scale float64) error {
	return p.f.call(p.ctx, "browsingContext.setViewport", map[string]any{
		"context": p.f.context, "viewport": map[string]int{"width": width, "height": height}, "devicePixelRatio": scale,
	}, nil)
}

func (p firefoxPage) Screenshot() ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.f.call(p.ctx, "browsingContext.captureScreenshot", map[string]any{"context": p.f.context}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

func (p firefoxPage) Console() string { return p.f.console.String() }

// StopServiceWorkers cannot be asked of Firefox over BiDi. The page's
// keep-alive messages are held back instead (see starveWorkerScript),
// and the profile of that case shortens Firefox's idle timeouts to 3 s
// each, so the browser stops the worker itself: the very failure the
// keep-alive is for. After 8 s the pings go out again, and the worker
// that answers is a new one.
func (p firefoxPage) StopServiceWorkers() error {
	if err := p.Eval(`(window.__epicshareStarve = true, "")`, nil); err != nil {
		return err
	}
	time.Sleep(8 * time.Second) // Firefox's idle and extended timeouts, with a margin
	return p.Eval(`(window.__epicshareStarve = false, "")`, nil)
}

// jsonResult wraps an expression so that its awaited value comes back as
// a JSON string, whatever its type.
func jsonResult(js string) string {
	return "(async () => JSON.stringify(await (" + js + ")) ?? \"null\")()"
}

// SetFiles puts files into the file input the CSS selector names, as a
// person picking them would (BiDi input.setFiles).
func (p firefoxPage) SetFiles(selector string, paths []string) error {
	var r struct {
		Result struct {
			Type     string `json:"type"`
			SharedID string `json:"sharedId"`
		} `json:"result"`
	}
	if err := p.f.call(p.ctx, "script.evaluate", map[string]any{
		"expression":   fmt.Sprintf("document.querySelector(%q)", selector),
		"target":       map[string]any{"context": p.f.context},
		"awaitPromise": false,
	}, &r); err != nil {
		return err
	}
	if r.Result.Type != "node" {
		return fmt.Errorf("no element at %s", selector)
	}
	return p.f.call(p.ctx, "input.setFiles", map[string]any{
		"context": p.f.context, "element": map[string]any{"sharedId": r.Result.SharedID}, "files": paths,
	}, nil)
}
