package e2e

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
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

// TestNodesThroughNATS runs three signal-server processes, each a node
// on its own server of a three-server NATS cluster: a share on node 1
// reaches receivers on nodes 2 and 3, files verified.
func TestNodesThroughNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	nats := natsCluster(t, 3)
	var nodes []string
	for _, u := range nats {
		server, _ := startSignalServer(t, ctx, "--nats", u)
		nodes = append(nodes, server)
	}
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
}
