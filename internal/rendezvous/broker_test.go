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
	b, url := newBroker(t, rendezvous.Config{})
	a, x, bystander := connect(t, url), connect(t, url), connect(t, url)
	a.send(x.id, `{}`)
	x.next()
	a.ws.Close()
	if e := x.next(); e.Type != wire.TypeLeft || e.Peer != a.id {
		t.Fatalf("contact got %+v, want left", e)
	}
	bystander.nothingQueued()
	// The leaver is forgotten at once: messages to it bounce.
	x.send(a.id, `{}`)
	if e := x.next(); e.Code != wire.CodeUnknownPeer {
		t.Fatalf("got %+v, want unknown-peer", e)
	}
	if n := b.Peers(); n != 2 {
		t.Errorf("Peers() = %d, want 2", n)
	}
}

func TestVersionMismatch(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	for _, protos := range [][]string{{"epicshare.v0"}, {"chat"}} {
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
	if _, _, err := a.ws.ReadMessage(); err == nil {
		t.Error("oversized message did not close the socket")
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
	_, url := newBroker(t, rendezvous.Config{SendQueue: 16, MessageRate: 1e6, MessageBurst: 1e6})
	slow, fast, sender := connect(t, url), connect(t, url), connect(t, url)
	// The sender reads all along (it gets an error per message once slow is
	// gone, and would itself be dropped if it did not read).
	got := make(chan wire.Envelope, 4096)
	sender.ws.SetReadDeadline(time.Time{})
	go func() {
		defer close(got)
		for {
			_, b, err := sender.ws.ReadMessage()
			if err != nil {
				t.Logf("sender read: %v", err)
				return
			}
			if e, err := wire.DecodeEnvelope(b); err == nil {
				got <- e
			}
		}
	}()
	isDrop := func(e wire.Envelope) bool {
		return e.Type == wire.TypeLeft && e.Peer == slow.id || e.Code == wire.CodeUnknownPeer
	}
	// slow never reads: its socket buffers fill, then its queue, and the
	// broker drops it. 2000 × 30 kB is far more than those buffers.
	big := `"` + strings.Repeat("y", 30000) + `"`
	dropped := false
	for i := 0; i < 2000 && !dropped; i++ {
		sender.send(slow.id, big)
		select {
		case e := <-got:
			dropped = isDrop(e)
		default:
		}
		if i == 100 {
			sender.send(fast.id, `{"n":1}`)
			if e := fast.next(); e.From != sender.id {
				t.Fatalf("fast got %+v while slow was stuck", e)
			}
		}
	}
	timeout := time.After(20 * time.Second)
	for !dropped {
		select {
		case e, ok := <-got:
			if !ok {
				t.Fatal("the sender's socket closed")
			}
			dropped = isDrop(e)
		case <-timeout:
			t.Fatal("a peer that never reads was not dropped")
		}
	}
	sender.send(fast.id, `{"still":"here"}`)
	if e := fast.next(); e.From != sender.id {
		t.Fatalf("fast got %+v", e)
	}
	sender.ws.Close()
	for range got {
	}
}

func TestCloseSaysGoingAway(t *testing.T) {
	b := rendezvous.New(rendezvous.Config{})
	srv := httptest.NewServer(b)
	defer srv.Close()
	p := connect(t, srv.URL)
	b.Close()
	p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := p.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.CloseGoingAway {
		t.Fatalf("got %v, want close %d", err, wire.CloseGoingAway)
	}
	if ws, err := dial(t, srv.URL); err == nil {
		if _, _, err := ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != wire.CloseGoingAway {
			t.Fatalf("new socket after Close: %v", err)
		}
	}
}

func TestHTTPRoutes(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, body, _ := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body, h := get(wire.SharePath + wire.NewPeerID())
	if code != 200 || !strings.Contains(body, "epicshare receive") {
		t.Errorf("share page: %d %q", code, body)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("share page loads external resources or lacks a CSP")
	}
	if code, _, _ := get("/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}
