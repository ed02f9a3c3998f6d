package rendezvous_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

// countingICE hands out numbered credentials for the host and peer it is
// asked about, valid for ttl.
type countingICE struct {
	ttl time.Duration

	mu    sync.Mutex
	calls []string // host and peer of each call
}

func (c *countingICE) ICEServers(host, peer string) ([]wire.ICEServer, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, host+" "+peer)
	return []wire.ICEServer{{
		URLs:       []string{"turn:" + strings.Split(host, ":")[0] + ":3478"},
		Username:   fmt.Sprintf("%d:%s", len(c.calls), peer),
		Credential: "pw",
	}}, time.Now().Add(c.ttl)
}

func TestWelcomeCarriesICEServersAndRenewsThem(t *testing.T) {
	ice := &countingICE{ttl: 2 * time.Second}
	_, url := newBroker(t, rendezvous.Config{ICE: ice})
	ws, err := dial(t, url)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ws: ws}
	welcome := p.next()
	if welcome.Type != wire.TypeWelcome || len(welcome.ICE) != 1 {
		t.Fatalf("welcome %+v, want one ICE server", welcome)
	}
	host := strings.TrimPrefix(url, "http://")
	if got, want := welcome.ICE[0], (wire.ICEServer{URLs: []string{"turn:127.0.0.1:3478"}, Username: "1:" + welcome.ID, Credential: "pw"}); !equalICE(got, want) {
		t.Errorf("welcome ICE %+v, want %+v", got, want)
	}
	// Three quarters of two seconds later: fresh credentials, unasked.
	renewed := p.next()
	if renewed.Type != wire.TypeICE || len(renewed.ICE) != 1 || renewed.ICE[0].Username != "2:"+welcome.ID {
		t.Fatalf("second message %+v, want ice with the second credentials", renewed)
	}
	ice.mu.Lock()
	defer ice.mu.Unlock()
	if ice.calls[0] != host+" "+welcome.ID {
		t.Errorf("provider asked for %q, want the Host of the handshake and the peer", ice.calls[0])
	}
}

func TestNoICEServersWithoutProvider(t *testing.T) {
	_, url := newBroker(t, rendezvous.Config{})
	ws, err := dial(t, url)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ws: ws}
	if w := p.next(); w.Type != wire.TypeWelcome || w.ICE != nil {
		t.Fatalf("welcome %+v, want no ICE servers", w)
	}
}

func equalICE(a, b wire.ICEServer) bool {
	return strings.Join(a.URLs, " ") == strings.Join(b.URLs, " ") && a.Username == b.Username && a.Credential == b.Credential
}
