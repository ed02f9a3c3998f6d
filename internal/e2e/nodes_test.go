package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/epicshare/epicshare/internal/wire"
)

// natsCluster starts n NATS servers in this process, clustered through
// routes on loopback, and returns their client URLs once each routes to
// every other.
func natsCluster(t testing.TB, n int) []string {
	t.Helper()
	var seed *url.URL
	var servers []*natsserver.Server
	for i := range n {
		opts := &natsserver.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
			Cluster: natsserver.ClusterOpts{Name: "epicshare", Host: "127.0.0.1", Port: -1},
		}
		if seed != nil {
			opts.Routes = []*url.URL{seed}
		}
		s, err := natsserver.NewServer(opts)
		must(t, err)
		s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("NATS server %d not ready", i)
		}
		if seed == nil {
			seed = &url.URL{Scheme: "nats", Host: s.ClusterAddr().String()}
		}
		servers = append(servers, s)
	}
	var urls []string
	for _, s := range servers {
		deadline := time.Now().Add(10 * time.Second)
		for s.NumRoutes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("NATS server %s routes to %d others, want %d", s.Name(), s.NumRoutes(), n-1)
			}
			time.Sleep(20 * time.Millisecond) // polling the cluster's state
		}
		urls = append(urls, s.ClientURL())
	}
	return urls
}

// startNodes starts n signal-server processes on loopback, each a node
// on its own server of an n-server NATS cluster, and returns their base
// URLs and processes.
func startNodes(t testing.TB, ctx context.Context, n int, extra ...string) ([]string, []*proc) {
	t.Helper()
	var urls []string
	var procs []*proc
	for _, u := range natsCluster(t, n) {
		server, p := startSignalServer(t, ctx, append([]string{"--nats", u}, extra...)...)
		urls = append(urls, server)
		procs = append(procs, p)
	}
	return urls, procs
}

// TestNodesThroughNATS runs three signal-server processes, each a node
// on its own server of a three-server NATS cluster: a share on node 1
// reaches receivers on nodes 2 and 3, files verified.
func TestNodesThroughNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	nodes, _ := startNodes(t, ctx, 3)
	epicshare, _ := binaries(t)
	src := t.TempDir()
	makeTree(t, src, 4<<20)
	sender := start(t, ctx, epicshare, append(append([]string{"send", "--keep", "--server", nodes[0]}, loopbackFlags...), filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))...)
	link := sender.firstLine(t)
	for i, node := range nodes[1:] {
		// The link names node 1; a receiver behind a load balancer would
		// land on any node: here it is sent to node i+2 on purpose.
		onNode := strings.Replace(link, strings.TrimPrefix(nodes[0], "http://"), strings.TrimPrefix(node, "http://"), 1)
		out := t.TempDir()
		recv := start(t, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), onNode)...)
		recv.run(t)
		if code := recv.exitCode(t, time.Minute); code != 0 {
			t.Fatalf("receiver on node %d exited %d:\n%s\nsender:\n%s", i+2, code, recv.stderr, sender.stderr)
		}
		if got, want := digest(t, out), digest(t, src); got != want {
			t.Errorf("node %d: received tree differs", i+2)
		}
	}
	// Node 1's figures count what crossed to the other nodes: at least
	// a hello in and an offer out per receiver, each delivery timed.
	_, metrics := httpGet(t, nodes[0]+"/metrics")
	sent, received := metricIn(metrics, `epicshare_nats_sent_total{result="delivered"}`), metricIn(metrics, "epicshare_nats_received_total")
	if sent < 2 || received < 2 {
		t.Errorf("node 1 counts %v envelopes sent to other nodes and %v received, want 2 or more each", sent, received)
	}
	if timed := metricIn(metrics, "epicshare_nats_route_seconds_count"); timed != sent {
		t.Errorf("node 1 timed %v routes for %v envelopes delivered", timed, sent)
	}
	if v := metricIn(metrics, "epicshare_nats_reconnects_total"); v != 0 {
		t.Errorf("node 1 counts %v NATS reconnects, want 0", v)
	}
}

// httpGet returns the status and body at u.
func httpGet(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(b)
}

// waitHealth polls a node's /healthz until it answers status.
func waitHealth(t testing.TB, node string, status int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, body := httpGet(t, node+"/healthz")
		if got == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz answers %d %q, want %d", node, got, body, status)
		}
		time.Sleep(50 * time.Millisecond) // polling a node's state
	}
}

// TestNATSRestartUnderANode restarts the one NATS server two nodes use,
// with a share on node 1: while it is down both nodes say so at
// /healthz (a load balancer sends new sockets elsewhere); once it is back
// on its address they reconnect, count it, and a receiver on node 2
// reaches the share on node 1 again.
func TestNATSRestartUnderANode(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	nats := startNATS(t, opts)
	opts.Port = nats.Addr().(*net.TCPAddr).Port // the restart takes the same address
	var nodes []string
	for range 2 {
		server, _ := startSignalServer(t, ctx, "--nats", nats.ClientURL())
		nodes = append(nodes, server)
	}
	epicshare, _ := binaries(t)
	src := t.TempDir()
	makeTree(t, src, 1<<20)
	sender := start(t, ctx, epicshare, append(append([]string{"send", "--keep", "--server", nodes[0]}, loopbackFlags...), filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))...)
	link := strings.Replace(sender.firstLine(t), strings.TrimPrefix(nodes[0], "http://"), strings.TrimPrefix(nodes[1], "http://"), 1)
	receive := func(when string) {
		t.Helper()
		out := t.TempDir()
		recv := start(t, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), link)...)
		recv.run(t)
		if code := recv.exitCode(t, time.Minute); code != 0 {
			t.Fatalf("receive %s exited %d:\n%s\nsender:\n%s", when, code, recv.stderr, sender.stderr)
		}
		if got, want := digest(t, out), digest(t, src); got != want {
			t.Errorf("received tree differs %s", when)
		}
	}
	receive("before the restart")

	nats.Shutdown()
	for _, node := range nodes {
		if body := waitHealth(t, node, http.StatusServiceUnavailable, 10*time.Second); !strings.Contains(body, "NATS") {
			t.Errorf("%s/healthz says %q while NATS is down", node, body)
		}
	}
	startNATS(t, opts)
	for i, node := range nodes {
		waitHealth(t, node, http.StatusOK, 30*time.Second)
		_, metrics := httpGet(t, node+"/metrics")
		if v := metricIn(metrics, "epicshare_nats_reconnects_total"); v != 1 {
			t.Errorf("node %d counts %v NATS reconnects, want 1", i+1, v)
		}
	}
	receive("after the restart")
}

// startNATS runs a NATS server in this process until the test ends.
func startNATS(t testing.TB, opts *natsserver.Options) *natsserver.Server {
	t.Helper()
	o := *opts
	s, err := natsserver.NewServer(&o)
	must(t, err)
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	return s
}

// hostPorts returns the host:port of each base URL.
func hostPorts(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = strings.TrimPrefix(u, "http://")
	}
	return out
}

// balancer is a TCP load balancer on loopback, as a deployment puts in
// front of its nodes: each connection goes to the next backend in turn,
// skipping those that refuse it.
type balancer struct {
	ln       net.Listener
	backends []string // host:port
	next     atomic.Int64
	// cut, if set, sees each read from a backend before it is passed on
	// and may say to drop it and end the connection instead: a test
	// kills a node at the moment it would have answered.
	cut func(backend int, b []byte) bool
}

func newBalancer(t testing.TB, backends []string) *balancer {
	t.Helper()
	return newCuttingBalancer(t, backends, nil)
}

// newCuttingBalancer is a balancer with its cut (see balancer.cut).
func newCuttingBalancer(t testing.TB, backends []string, cut func(backend int, b []byte) bool) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	lb := &balancer{ln: ln, backends: backends, cut: cut}
	t.Cleanup(func() { ln.Close() })
	go lb.serve()
	return lb
}

func (lb *balancer) URL() string { return "http://" + lb.ln.Addr().String() }

func (lb *balancer) serve() {
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			return
		}
		go lb.forward(c)
	}
}

func (lb *balancer) forward(c net.Conn) {
	defer c.Close()
	first := int(lb.next.Add(1) - 1)
	for i := range lb.backends {
		n := (first + i) % len(lb.backends)
		b, err := net.DialTimeout("tcp", lb.backends[n], time.Second)
		if err != nil {
			continue // a node that is down: the next one
		}
		defer b.Close()
		go func() { io.Copy(b, c); b.(*net.TCPConn).CloseWrite() }()
		if lb.cut == nil {
			io.Copy(c, b)
			return
		}
		buf := make([]byte, 32<<10)
		for {
			k, err := b.Read(buf)
			if k > 0 && (lb.cut(n, buf[:k]) || writeAll(c, buf[:k]) != nil) {
				return
			}
			if err != nil {
				return
			}
		}
	}
}

func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// TestNodeGoneUnderAShare takes away the node a sharing sender is
// connected to through a load balancer, killed with SIGKILL or stopped
// with SIGTERM (a restart, which drains: its sockets are closed with
// "going away"). The sender reconnects through the balancer to another
// node with its token and keeps its link, and a receiver that opens the
// link afterwards gets the files.
func TestNodeGoneUnderAShare(t *testing.T) {
	for _, how := range []string{"killed", "stopped"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			nodes, procs := startNodes(t, ctx, 3)
			lb := newBalancer(t, hostPorts(nodes))
			epicshare, _ := binaries(t)
			src := t.TempDir()
			makeTree(t, src, 4<<20)
			sender := start(t, ctx, epicshare, append(append([]string{"send", "--verbose", "--keep", "--server", lb.URL()}, loopbackFlags...), filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))...)
			link := sender.firstLine(t)
			node1 := procs[0] // the balancer's first connection went to node 1
			if how == "killed" {
				node1.cmd.Process.Kill()
			} else {
				node1.cmd.Process.Signal(syscall.SIGTERM)
				if code := node1.exitCode(t, 30*time.Second); code != 0 {
					t.Fatalf("node 1 exited %d on SIGTERM:\n%s", code, node1.stderr)
				}
				// It closed the socket with wire.CloseGoingAway: the
				// sender knows the server shut down, not that the
				// network failed.
				waitFor(t, sender.stderr, "the signaling server shut down", 10*time.Second)
			}
			waitFor(t, sender.stderr, "reconnected to the signaling server", 30*time.Second)

			out := t.TempDir()
			recv := start(t, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), link)...)
			recv.run(t)
			if code := recv.exitCode(t, time.Minute); code != 0 {
				t.Fatalf("receive exited %d:\n%s\nsender:\n%s", code, recv.stderr, sender.stderr)
			}
			if got, want := digest(t, out), digest(t, src); got != want {
				t.Errorf("received tree differs")
			}
		})
	}
}

func mustParseURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	must(t, err)
	return u
}

// TestNodeKilledMidNegotiation kills, with SIGKILL, the node a receiver
// reached through a load balancer, at two moments of its negotiation
// with a sender on another node: as the node would pass on the sender's
// offer (the receiver said hello and waits), and as it would pass on the
// sender's first ICE candidate (the receiver has the offer and answered).
// Each time the receiver starts over through the balancer on a node
// that lives, and gets the files.
func TestNodeKilledMidNegotiation(t *testing.T) {
	for _, at := range []string{wire.SignalOffer, wire.SignalCandidate} {
		t.Run("at-"+at, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			nodes, procs := startNodes(t, ctx, 3)
			epicshare, _ := binaries(t)
			src := t.TempDir()
			makeTree(t, src, 4<<20)
			sender := start(t, ctx, epicshare, append(append([]string{"send", "--keep", "--server", nodes[0]}, loopbackFlags...), filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))...)
			link := sender.firstLine(t)
			// The balancer sends the receiver to node 2 first, node 3 next.
			var killed atomic.Bool
			killedAt := make(chan time.Time, 1)
			mark := []byte(`"kind":"` + at + `"`)
			lb := newCuttingBalancer(t, hostPorts(nodes[1:]), func(backend int, b []byte) bool {
				if backend != 0 || !bytes.Contains(b, mark) {
					return false
				}
				if killed.CompareAndSwap(false, true) {
					killedAt <- time.Now()
					procs[1].cmd.Process.Kill()
				}
				return true
			})
			viaLB := strings.Replace(link, strings.TrimPrefix(nodes[0], "http://"), strings.TrimPrefix(lb.URL(), "http://"), 1)
			out := t.TempDir()
			recv := start(t, ctx, epicshare, append(append([]string{"receive", "--verbose", "--out", out}, loopbackFlags...), viaLB)...)
			recv.run(t)
			code := recv.exitCode(t, time.Minute)
			if code != 0 {
				t.Fatalf("receive exited %d:\n%s\nsender:\n%s", code, recv.stderr, sender.stderr)
			}
			if !killed.Load() {
				t.Fatalf("node 2 never passed on a %s: the test cut nothing\nreceiver:\n%s", at, recv.stderr)
			}
			if got, want := digest(t, out), digest(t, src); got != want {
				t.Errorf("received tree differs")
			}
			t.Logf("done %v after the kill", time.Since(<-killedAt).Round(time.Millisecond))
		})
	}
}
