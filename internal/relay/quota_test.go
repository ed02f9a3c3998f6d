package relay

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// allocateAll allocates from every client at once and returns how many
// succeeded; the others must fail with 486 Allocation Quota Reached.
func allocateAll(t *testing.T, clients []*tclient) int {
	t.Helper()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for _, c := range clients {
		wg.Go(func() {
			relay, err := c.Allocate()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
				t.Cleanup(func() { relay.Close() })
			case turnCode(err) != 486:
				t.Errorf("Allocate: %v, want success or 486", err)
			}
		})
	}
	wg.Wait()
	return ok
}

func TestAllocationQuotas(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		s := newServer(t, Config{MaxAllocationsPerIP: 3})
		var clients []*tclient
		for i := range 5 { // over UDP and TCP: pion serves TCP clients concurrently
			dial := newClient
			if i%2 == 1 {
				dial = newTCPClient
			}
			clients = append(clients, dial(t, s, creds(fmt.Sprint("peer-", i))))
		}
		if got := allocateAll(t, clients); got != 3 {
			t.Errorf("%d allocations, want 3", got)
		}
		if got := metric(t, s, "epicshare_turn_refused_total", reasonIPQuota); got != 2 {
			t.Errorf("refused{ip-quota} = %v, want 2", got)
		}
	})
	t.Run("per user", func(t *testing.T) {
		s := newServer(t, Config{MaxAllocationsPerUser: 2})
		same := creds("peer")
		var clients []*tclient
		for range 4 {
			clients = append(clients, newClient(t, s, same))
		}
		if got := allocateAll(t, clients); got != 2 {
			t.Errorf("%d allocations, want 2", got)
		}
		if got := metric(t, s, "epicshare_turn_refused_total", reasonUserQuota); got != 2 {
			t.Errorf("refused{user-quota} = %v, want 2", got)
		}
	})
	t.Run("slot back after deletion", func(t *testing.T) {
		s := newServer(t, Config{MaxAllocationsPerUser: 1})
		allocateOne(t, s, creds("peer")).Close()
		eventually(t, "deletion", func() bool { return metric(t, s, "epicshare_turn_allocations") == 0 })
		allocateOne(t, s, creds("peer"))
	})
	t.Run("failed allocation frees its slot", func(t *testing.T) {
		s := newServer(t, Config{MaxAllocationsPerIP: 1})
		// Passes the quota check, then fails: TCP relaying is refused.
		if _, err := newClient(t, s, creds("peer-a")).AllocateTCP(); turnCode(err) != 508 {
			t.Fatalf("AllocateTCP: %v, want 508", err)
		}
		allocateOne(t, s, creds("peer-b"))
	})
	t.Run("TCP connections per IP", func(t *testing.T) {
		s := newServer(t, Config{MaxAllocationsPerIP: 1})
		// The first is accepted and kept; the second is closed at once.
		if _, err := newTCPClient(t, s, cred{}).SendBindingRequest(); err != nil {
			t.Fatalf("first connection: %v", err)
		}
		second := dialTCP(t, s)
		second.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := second.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("read on the connection over the cap: %v, want EOF", err)
		}
		if got := metric(t, s, "epicshare_turn_refused_total", reasonIPQuota); got != 1 {
			t.Errorf("refused{ip-quota} = %v, want 1", got)
		}
	})
}

func allocateOne(t *testing.T, s *Server, cr cred) net.PacketConn {
	t.Helper()
	return allocate(t, newClient(t, s, cr))
}

func dialTCP(t *testing.T, s *Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestTrackerPending(t *testing.T) {
	tr := newTracker(1, 10)
	a := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1000}
	b := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1001}
	tcpA := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1000}
	if r := tr.admit("u", a); r != "" {
		t.Fatalf("first admit: %s", r)
	}
	if r := tr.admit("u", b); r != reasonUserQuota {
		t.Fatalf("admit while a is pending: %q, want user-quota", r)
	}
	// a's Allocate failed without an error event: its retry replaces it.
	if r := tr.admit("u", a); r != "" {
		t.Fatalf("retry from a: %s", r)
	}
	tr.created(a, "u")
	if !tr.holds(a, "u") || tr.holds(tcpA, "u") || tr.holds(a, "v") || tr.count() != 1 {
		t.Fatal("created allocation not held by a alone")
	}
	tr.failed(a) // a later request from a failed: the allocation stays
	if tr.count() != 1 {
		t.Fatal("failed() dropped an active allocation")
	}
	tr.deleted(a)
	if tr.count() != 0 || len(tr.users) != 0 || len(tr.ips) != 0 {
		t.Errorf("after deletion: %d active, users %v, ips %v", tr.count(), tr.users, tr.ips)
	}
}
