package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/epicshare/epicshare/internal/rendezvous/hubtest"
	"github.com/epicshare/epicshare/internal/wire"
)

// startNode runs one signal-server node in process with args until the
// test ends and returns its URL.
func startNode(t *testing.T, args ...string) string {
	t.Helper()
	log := newTestLog()
	s, err := configure(append([]string{"--addr", "127.0.0.1:0", "--log-level", "debug"}, args...), log)
	if err != nil {
		t.Fatalf("configure: %v\n%s", err, log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + log.waitFor(t, listeningRE, 1)[1]
}

func healthz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// Two nodes on one NATS server: a peer on each reaches the other; with
// NATS gone, each node's /healthz says so.
func TestNodesThroughNATS(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	n1, n2 := startNode(t, "--nats", ns.ClientURL()), startNode(t, "--nats", ns.ClientURL())
	a, b := hubtest.Connect(t, n1, ""), hubtest.Connect(t, n2, "")
	a.Send(b.ID, `{"n":1}`)
	if e := b.Next(); e.Type != wire.TypeMessage || e.From != a.ID {
		t.Fatalf("node 2 delivered %+v, want a's message", e)
	}
	if code, body := healthz(t, n1); code != http.StatusOK {
		t.Errorf("healthz with NATS up: %d %s", code, body)
	}
	ns.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := healthz(t, n1)
		if code == http.StatusServiceUnavailable && strings.Contains(body, "NATS disconnected") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz with NATS down: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond) // polling the endpoint
	}
}

func TestNATSFlagErrors(t *testing.T) {
	log := newTestLog()
	if _, err := configure([]string{"--addr", "127.0.0.1:0", "--nats-creds", "x.creds"}, log); err == nil || !strings.Contains(log.String(), "need --nats") {
		t.Errorf("--nats-creds alone: %v %q", err, log)
	}
	log = newTestLog()
	s, err := configure([]string{"--addr", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.serve(t.Context()); err == nil || !strings.Contains(err.Error(), "connect to NATS") {
		t.Errorf("serve with NATS unreachable: %v", err)
	}
}
