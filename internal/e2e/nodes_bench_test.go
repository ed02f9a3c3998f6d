package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/wire"
)

// nodePeers is how many idle peers BenchmarkNodesIdlePeers spreads over
// its three nodes.
const nodePeers = 10_000

// startLoadNodes starts three nodes on a NATS cluster with limits raised
// for load, and returns their socket URLs and process IDs.
func startLoadNodes(b *testing.B, ctx context.Context) (sockets []string, pids []int) {
	nodes, procs := startNodes(b, ctx, 3, "--max-peers-per-ip", strconv.Itoa(nodePeers), "--rate", "100000", "--burst", "100000")
	for i, n := range nodes {
		sockets = append(sockets, "ws"+strings.TrimPrefix(n, "http")+wire.SocketPath)
		pids = append(pids, procs[i].cmd.Process.Pid)
	}
	return sockets, pids
}

// BenchmarkNodesIdlePeers holds 10,000 idle peers spread evenly over
// three signal-server nodes on a three-server NATS cluster (in this
// process) and reports each node's resident memory and the cost of a
// peer: every node's growth over its start, summed, per peer.
func BenchmarkNodesIdlePeers(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		sockets, pids := startLoadNodes(b, ctx)
		var base []float64
		for _, pid := range pids {
			base = append(base, rssMiB(b, pid))
		}
		// Four dialers: a node's Claim waits for a NATS round trip.
		conns := make([][]*websocket.Conn, 4)
		var wg sync.WaitGroup
		for w := range conns {
			wg.Go(func() {
				for i := w; i < nodePeers; i += len(conns) {
					ws, _ := dialPeer(b, sockets[i%len(sockets)])
					conns[w] = append(conns[w], ws)
				}
			})
		}
		wg.Wait()
		var grown, top float64
		for i, pid := range pids {
			rss := rssMiB(b, pid)
			grown += rss - base[i]
			top = max(top, rss)
		}
		b.ReportMetric(nodePeers, "peers")
		b.ReportMetric(top, "max-node-rss-MiB")
		b.ReportMetric(grown*1024/nodePeers, "KiB/peer")
		for _, cs := range conns {
			for _, ws := range cs {
				ws.Close()
			}
		}
		cancel()
	}
}

// BenchmarkNodesRouting sends 2,000 messages from a peer on node 1,
// alternately to a peer on node 1 and to one on node 2, at 200 per
// second to each, and reports the routing latency, send to receive, at
// the 50th and 99th percentile for each: same-node against cross-node
// (through NATS), in one run under the same load.
func BenchmarkNodesRouting(b *testing.B) {
	const n, rate = 2000, 400
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		sockets, _ := startLoadNodes(b, ctx)
		from, _ := dialPeer(b, sockets[0])
		same, sameID := dialPeer(b, sockets[0])
		cross, crossID := dialPeer(b, sockets[1])
		collect := func(ws *websocket.Conn, out chan<- []time.Duration) {
			var ds []time.Duration
			for len(ds) < n/2 {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					break
				}
				var e wire.Envelope
				var sent int64
				if json.Unmarshal(msg, &e) == nil && json.Unmarshal(e.Data, &sent) == nil {
					ds = append(ds, time.Since(time.Unix(0, sent)))
				}
			}
			out <- ds
		}
		sameLat, crossLat := make(chan []time.Duration, 1), make(chan []time.Duration, 1)
		go collect(same, sameLat)
		go collect(cross, crossLat)
		tick := time.NewTicker(time.Second / rate)
		for i := range n {
			<-tick.C
			to := sameID
			if i%2 == 1 {
				to = crossID
			}
			env, _ := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: json.RawMessage(strconv.FormatInt(time.Now().UnixNano(), 10))})
			must(b, from.WriteMessage(websocket.TextMessage, env))
		}
		tick.Stop()
		for _, r := range []struct {
			name string
			lat  chan []time.Duration
		}{{"same-node", sameLat}, {"cross-node", crossLat}} {
			ds := <-r.lat
			if len(ds) != n/2 {
				b.Fatalf("%s: received %d of %d", r.name, len(ds), n/2)
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), r.name+"-p50-µs")
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), r.name+"-p99-µs")
		}
		for _, ws := range []*websocket.Conn{from, same, cross} {
			ws.Close()
		}
		cancel()
	}
}
