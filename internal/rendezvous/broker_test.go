package rendezvous_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/epicshare/epicshare/assets"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newBroker(t *testing.T, cfg rendezvous.Config) (*rendezvous.Broker, string) {
	t.Helper()
	b := rendezvous.New(cfg)
	srv := httptest.NewServer(b)
	t.Cleanup(func() { b.Close(); srv.Close() })
	return b, srv.URL
}

// peer is a raw WebSocket client, so the tests see exactly what the broker sends.
type peer struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

func dial(t *testing.T, url string, protocols ...string) (*websocket.Conn, error) {
	t.Helper()
	if protocols == nil {
		protocols = []string{wire.Subprotocol}
	}
	d := websocket.Dialer{Subprotocols: protocols}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http")+wire.SocketPath, nil)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, err
}

func connect(t *testing.T, url string) *peer {
	t.Helper()
	ws, err := dial(t, url)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ws: ws}
	if e := p.next(); e.Type != wire.TypeWelcome || !wire.ValidPeerID(e.ID) {
		t.Fatalf("first message %+v, want a welcome", e)
	} else {
		p.id = e.ID
	}
	return p
}

func (p *peer) next() wire.Envelope {
	p.t.Helper()
	p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := p.ws.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	e, err := wire.DecodeEnvelope(b)
	if err != nil {
		p.t.Fatalf("broker sent %s: %v", b, err)
	}
	return e
}

func (p *peer) sendRaw(s string) {
	p.t.Helper()
	if err := p.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) send(to string, data string) {
	p.t.Helper()
	b, _ := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: json.RawMessage(data)})
	p.sendRaw(string(b))
}

// nothingQueued asserts that no message is waiting for p: it sends to an
// unknown ID, and the broker's error reply must be the next message.
func (p *peer) nothingQueued() {
	p.t.Helper()
	p.send(wire.NewPeerID(), `{}`)
	if e := p.next(); e.Type != wire.TypeError || e.Code != wire.CodeUnknownPeer {
		p.t.Fatalf("got %+v before the probe's error", e)
	}
}

func TestWelcomeGivesDistinctIDs(t *testing.T) {
	b, url := newBroker(t, rendezvous.Config{})
	seen := map[string]bool{}
	for range 20 {
		p := connect(t, url)
		if seen[p.id] {
			t.Fatalf("ID %s given twice", p.id)
		}
		seen[p.id] = true
	}
	if n := b.Peers(); n != 20 {
		t.Errorf("Peers() = %d", n)
	}
}

func TestRoutesToExactlyTheTargetWithTheRealSender(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	a, b, c := connect(t, url), connect(t, url), connect(t, url)
	// a claims to be c: the broker stamps the truth.
	a.sendRaw(`{"type":"send","to":"` + b.id + `","from":"` + c.id + `","data":{"kind":"hello"}}`)
	e := b.next()
	if e.Type != wire.TypeMessage || e.From != a.id || string(e.Data) != `{"kind":"hello"}` {
		t.Fatalf("b got %+v", e)
	}
	c.nothingQueued() // c received nothing
	a.nothingQueued()
}

func TestUnknownTarget(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	a := connect(t, url)
	ghost := wire.NewPeerID()
	a.send(ghost, `{}`)
	if e := a.next(); e.Type != wire.TypeError || e.Code != wire.CodeUnknownPeer || e.To != ghost {
		t.Fatalf("got %+v, want unknown-peer naming %s", e, ghost)
	}
}

func TestLeftGoesToContactsOnly(t *testing.T) {
	// A contact is a peer the leaver exchanged messages with, either way.
	for _, leaverSent := range []bool{true, false} {
		name := map[bool]string{true: "leaver sent", false: "leaver received"}[leaverSent]
		t.Run(name, func(t *testing.T) {
			b, url := newBroker(t, rendezvous.Config{})
			leaver, contact, bystander := connect(t, url), connect(t, url), connect(t, url)
			if leaverSent {
				leaver.send(contact.id, `{}`)
				contact.next()
			} else {
				contact.send(leaver.id, `{}`)
				leaver.next()
			}
			leaver.ws.Close()
			if e := contact.next(); e.Type != wire.TypeLeft || e.Peer != leaver.id {
				t.Fatalf("contact got %+v, want left", e)
			}
			bystander.nothingQueued()
			// The leaver is forgotten at once: messages to it bounce.
			contact.send(leaver.id, `{}`)
			if e := contact.next(); e.Code != wire.CodeUnknownPeer {
				t.Fatalf("got %+v, want unknown-peer", e)
			}
			if n := b.Peers(); n != 2 {
				t.Errorf("Peers() = %d, want 2", n)
			}
		})
	}
}

func TestVersionMismatch(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	for _, protos := range [][]string{{"epicshare.v0"}, {"chat"}, {} /* none offered */} {
		ws, err := dial(t, url, protos...)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != wire.CloseUnsupportedVersion || !strings.Contains(ce.Text, wire.Subprotocol) {
			t.Errorf("offering %v: %v, want close %d naming %s", protos, err, wire.CloseUnsupportedVersion, wire.Subprotocol)
		}
	}
}

func TestBadMessagesAreRefusedAndServingGoesOn(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{MaxMessageBytes: 1024})
	a, b := connect(t, url), connect(t, url)
	for _, bad := range []string{
		`not json`, `{}`, `{"type":"send","to":"` + b.id + `","da`, `{"type":"bogus"}`,
		`{"type":"welcome","id":"` + b.id + `"}`, `{"type":"send","to":"x","data":{}}`,
		`{"type":"send","to":"` + b.id + `"}`, `{"type":"message","from":"` + b.id + `","data":{}}`,
	} {
		a.sendRaw(bad)
		if e := a.next(); e.Type != wire.TypeError || e.Code != wire.CodeBadMessage {
			t.Errorf("%s: got %+v, want bad-message", bad, e)
		}
	}
	a.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if e := a.next(); e.Code != wire.CodeBadMessage {
		t.Errorf("binary: got %+v", e)
	}
	// Oversized: the broker closes that socket, and only that one.
	a.sendRaw(`{"type":"send","to":"` + b.id + `","data":"` + strings.Repeat("x", 2000) + `"}`)
	a.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ce *websocket.CloseError
	if _, _, err := a.ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("oversized message: %v, want close %d", err, websocket.CloseMessageTooBig)
	}
	c := connect(t, url)
	c.send(b.id, `{"ok":1}`)
	if e := b.next(); e.Type == wire.TypeLeft {
		// a's socket closed after it talked to nobody; b may not hear of it
		t.Fatalf("b was told about a stranger: %+v", e)
	} else if e.From != c.id {
		t.Fatalf("b got %+v", e)
	}
}

func TestSlowReaderIsDroppedWithoutBlockingOthers(t *testing.T) {
	b, url := newBroker(t, rendezvous.Config{SendQueue: 16, MessageRate: 1e6, MessageBurst: 1e6})
	slow, fast, sender := connect(t, url), connect(t, url), connect(t, url)
	// slow never reads: its socket buffers fill, then its queue, and the
	// broker drops it. 2000 × 30 kB is far more than those buffers.
	//
	// After each message to slow the sender sends a probe to an unknown ID
	// and waits for its error: the broker has then handled the message,
	// and it is still serving the sender while slow's writer is stuck.
	// Pacing also keeps the sender from looking slow itself: had it
	// pipelined hundreds of messages, each one after slow is gone would
	// earn it a reply, more than its own small queue holds.
	big := `"` + strings.Repeat("y", 30000) + `"`
	probe := wire.NewPeerID()
	dropped := false
	for i := 0; i < 2000 && !dropped; i++ {
		sender.send(slow.id, big)
		sender.send(probe, `{}`)
		for {
			e := sender.next()
			if e.Code == wire.CodeUnknownPeer && e.To == probe {
				break
			}
			// slow's contact hears that it left (or, had the message
			// raced the notice, that it is unknown).
			if e.Type == wire.TypeLeft && e.Peer == slow.id || e.Code == wire.CodeUnknownPeer && e.To == slow.id {
				dropped = true
				continue
			}
			t.Fatalf("sender got %+v", e)
		}
		if i == 100 {
			sender.send(fast.id, `{"n":1}`)
			if e := fast.next(); e.From != sender.id {
				t.Fatalf("fast got %+v while slow was stuck", e)
			}
		}
	}
	if !dropped {
		t.Fatal("a peer that never reads was not dropped")
	}
	sender.send(fast.id, `{"still":"here"}`)
	if e := fast.next(); e.From != sender.id {
		t.Fatalf("fast got %+v", e)
	}
	if n := b.Peers(); n != 2 {
		t.Errorf("Peers() = %d, want 2", n)
	}
}

func TestCloseSaysGoingAway(t *testing.T) {
	b := rendezvous.New(rendezvous.Config{})
	srv := httptest.NewServer(b)
	defer srv.Close()
	peers := []*peer{connect(t, srv.URL), connect(t, srv.URL), connect(t, srv.URL)}
	peers[0].send(peers[1].id, `{}`)
	peers[1].next()
	b.Close() // returns once every socket's goroutines are done
	if n := b.Peers(); n != 0 {
		t.Errorf("Peers() after Close = %d", n)
	}
	for i, p := range peers {
		p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := p.ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != wire.CloseGoingAway {
			t.Errorf("peer %d: got %v, want close %d", i, err, wire.CloseGoingAway)
		}
	}
	if ws, err := dial(t, srv.URL); err == nil {
		var ce *websocket.CloseError
		if _, _, err := ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != wire.CloseGoingAway {
			t.Fatalf("new socket after Close: %v", err)
		}
	}
	b.Close() // idempotent
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHTTPRoutes(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	if code, body, _ := get(t, url+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	for _, path := range []string{"/nope", wire.SharePath, "/healthz/x"} {
		if code, _, _ := get(t, url+path); code != 404 {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	if resp, err := http.Post(url+"/healthz", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}
}

func TestDefaultSharePageIsTheBrowserReceiver(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	id := wire.NewPeerID()
	for _, path := range []string{wire.SharePath + id, wire.SharePath + id + "/"} {
		code, body, h := get(t, url+path)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, code, h.Get("Content-Type"))
		}
		if !strings.Contains(body, `<script type="module" src="receive.js">`) {
			t.Errorf("%s: the page does not load the receiver", path)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: no Referrer-Policy", path)
		}
	}
	// The files it loads resolve from both forms of the link, and none of
	// them loads anything from elsewhere: it must work on a LAN with no
	// internet, and the secret must stay in the browser.
	for _, name := range []string{"receive.js", "send.js", "sender.js", "connect.js", "auth.js", "frames.js", "view.js", "download.js", "proto.js", "sha256.js", "stage.js", "sw.js", "style.css"} {
		for _, dir := range []string{wire.SharePath, wire.SharePath + id + "/", wire.ReceivePath, wire.ReceivePath + id + "/"} {
			code, body, h := get(t, url+dir+name)
			if code != 200 || strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Fatalf("%s%s: %d %s", dir, name, code, h.Get("Content-Type"))
			}
			if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Errorf("%s: refers to another site", name)
			}
		}
	}
}

func TestReceiveLinkIsTheBrowserSender(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	id := wire.NewPeerID()
	for _, path := range []string{wire.ReceivePath + id, wire.ReceivePath + id + "/", wire.ReceivePath + id + "/index.html"} {
		code, body, h := get(t, url+path)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `<script type="module" src="send.js">`) {
			t.Errorf("%s: %d %s, not the sender page", path, code, h.Get("Content-Type"))
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: no CSP", path)
		}
	}
	if _, body, _ := get(t, url+wire.SharePath+id+"/send.html"); !strings.Contains(body, `src="receive.js"`) {
		t.Error("a share link serves the sender page under another name")
	}
}

func TestSharePageHasTheAppIcon(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	code, body, h := get(t, url+wire.SharePath+"icon.png")
	if code != 200 || h.Get("Content-Type") != "image/png" || body != string(assets.Icon) {
		t.Errorf("icon.png: %d %s, %d bytes", code, h.Get("Content-Type"), len(body))
	}
	if _, page, _ := get(t, url+wire.SharePath+wire.NewPeerID()); !strings.Contains(page, `<link rel="icon" href="icon.png">`) {
		t.Error("the page does not name its icon")
	}
}

func TestCustomSharePage(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page for "+r.PathValue("id"))
	})
	_, url := newBroker(t, rendezvous.Config{Page: page})
	id := wire.NewPeerID()
	if code, body, _ := get(t, url+wire.SharePath+id); code != 200 || body != "page for "+id {
		t.Errorf("custom page: %d %q", code, body)
	}
}

// A download the page's service worker should have answered, sent to the
// server instead (Safari does that), gets an error, never the page: a
// browser would save the page's HTML under the file's name.
func TestWorkerDownloadPathIsNotThePage(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	id := wire.NewPeerID()
	for _, p := range []string{wire.SharePath + "dl/abc/photo.jpg", wire.SharePath + id + "/dl/abc/receive.js"} {
		code, body, h := get(t, url+p)
		if code != http.StatusNotFound || strings.HasPrefix(h.Get("Content-Type"), "text/html") || strings.Contains(body, "<html") {
			t.Errorf("%s: %d %s %q", p, code, h.Get("Content-Type"), body)
		}
	}
	// A share ID ending in "dl" is still a share.
	if code, body, _ := get(t, url+wire.SharePath+id[:20]+"dl"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("a share ID ending in dl: %d", code)
	}
}
