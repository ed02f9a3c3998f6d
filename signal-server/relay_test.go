package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/relay"
	"github.com/epicshare/epicshare/internal/wire"
)

var relayRE = regexp.MustCompile(`msg="relay listening" addr=(127\.0\.0\.1:\d+)`)

// TestRelayInWelcome starts the server with its STUN and TURN on
// loopback: each peer's welcome names them, with credentials of its own
// that the secret kept in the state directory verifies, and /metrics has
// the relay's figures.
func TestRelayInWelcome(t *testing.T) {
	state := t.TempDir()
	log := newTestLog()
	s, err := configure([]string{"--addr", "127.0.0.1:0", "--turn-addr", "127.0.0.1:0", "--state-dir", state, "--log-level", "debug"}, log)
	if err != nil {
		t.Fatalf("configure: %v\n%s", err, log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	turnAddr := log.waitFor(t, relayRE, 1)[1]
	addr := log.waitFor(t, listeningRE, 1)[1]

	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}}
	ws, _, err := d.Dial("ws://"+addr+wire.SocketPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var welcome wire.Envelope
	if err := ws.ReadJSON(&welcome); err != nil {
		t.Fatal(err)
	}
	port := turnAddr[strings.LastIndexByte(turnAddr, ':')+1:]
	if len(welcome.ICE) != 2 || welcome.ICE[0].URLs[0] != "stun:127.0.0.1:"+port ||
		!strings.HasPrefix(welcome.ICE[1].URLs[0], "turn:127.0.0.1:"+port) {
		t.Fatalf("welcome ICE %+v, want STUN and TURN on %s", welcome.ICE, turnAddr)
	}
	secret, err := relay.LoadOrCreateSecret(state)
	if err != nil {
		t.Fatal(err)
	}
	turn := welcome.ICE[1]
	expiry, peerID, _ := strings.Cut(turn.Username, ":")
	if peerID != welcome.ID {
		t.Errorf("TURN username %q does not name the peer %s", turn.Username, welcome.ID)
	}
	var exp int64
	json.Unmarshal([]byte(expiry), &exp)
	if user, pass := relay.Credentials(secret, peerID, time.Unix(exp, 0)); user != turn.Username || pass != turn.Credential {
		t.Error("the credential does not verify with the secret in the state directory")
	}
	if fi, err := os.Stat(filepath.Join(state, relay.SecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v %v, want mode 0600", fi, err)
	}
	if strings.Contains(log.String(), turn.Credential) {
		t.Error("the log holds a TURN password")
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"epicshare_turn_allocations", "epicshare_turn_refused_total", "epicshare_turn_relayed_bytes_total"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestRelayFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the message; "" if the relay is just off
	}{
		{[]string{"--turn-addr", "nonsense"}, "bad --turn-addr"},
		{[]string{"--turn-addr", "turn.example.org:3478"}, "not a name"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-ports", "60000-50000"}, "bad --turn-ports"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-ports", "many"}, "bad --turn-ports"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-ttl", "1s"}, "a minute or more"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-bandwidth", "-1"}, "0 or more"},
		{[]string{"--turn-public-ip", "example.org"}, "bad --turn-public-ip"},
		{[]string{"--turn-allow", "10.0.0.0"}, "want a CIDR"},
	} {
		log := newTestLog()
		_, err := configure(append([]string{"--addr", "127.0.0.1:0"}, tc.args...), log)
		if err == nil || !strings.Contains(log.String(), tc.want) {
			t.Errorf("%q: %v, log %q; want a usage error saying %q", tc.args, err, log, tc.want)
		}
	}
	// Listening on every address without a public one: the relay is off,
	// and the log says how to turn it on.
	log := newTestLog()
	s, err := configure([]string{"--addr", "127.0.0.1:0"}, log)
	if err != nil || s.relay != nil || !strings.Contains(log.String(), "needs --turn-public-ip") {
		t.Errorf("default flags: relay %+v, %v, log %q; want it off with a hint", s.relay, err, log)
	}
}
