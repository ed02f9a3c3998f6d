package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/wire"
)

// brokerPeers is how many idle peers BenchmarkBrokerIdlePeers holds.
const brokerPeers = 2000

// startBroker runs the signal-server binary with limits raised for load.
func startBroker(b *testing.B, ctx context.Context) (url string, pid int) {
	base, p := startSignalServer(b, ctx, "--max-peers-per-ip", strconv.Itoa(brokerPeers+10), "--rate", "100000", "--burst", "100000")
	return "ws" + strings.TrimPrefix(base, "http") + wire.SocketPath, p.cmd.Process.Pid
}

func rssMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			must(b, err)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func dialPeer(b *testing.B, url string) (*websocket.Conn, string) {
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}}
	ws, _, err := d.Dial(url, nil)
	must(b, err)
	_, msg, err := ws.ReadMessage()
	must(b, err)
	e, err := wire.DecodeEnvelope(msg)
	must(b, err)
	return ws, e.ID
}

// BenchmarkBrokerIdlePeers holds 2,000 idle peers on a signal-server
// process over loopback and reports its resident memory.
func BenchmarkBrokerIdlePeers(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		url, pid := startBroker(b, ctx)
		base := rssMiB(b, pid)
		conns := make([]*websocket.Conn, 0, brokerPeers)
		for range brokerPeers {
			ws, _ := dialPeer(b, url)
			conns = append(conns, ws)
		}
		rss := rssMiB(b, pid)
		b.ReportMetric(brokerPeers, "peers")
		b.ReportMetric(rss, "server-rss-MiB")
		b.ReportMetric((rss-base)*1024/brokerPeers, "KiB/peer")
		for _, ws := range conns {
			ws.Close()
		}
		cancel()
	}
}

// BenchmarkBrokerRouting sends 1,000 messages from one peer to another at
// 200 per second through a signal-server process and reports the routing
// latency, send to receive, at the 50th and 99th percentile.
func BenchmarkBrokerRouting(b *testing.B) {
	const n, rate = 1000, 200
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		url, _ := startBroker(b, ctx)
		a, _ := dialPeer(b, url)
		r, rid := dialPeer(b, url)
		lat := make(chan []time.Duration, 1)
		go func() {
			var ds []time.Duration
			for len(ds) < n {
				_, msg, err := r.ReadMessage()
				if err != nil {
					break
				}
				var e wire.Envelope
				var sent int64
				if json.Unmarshal(msg, &e) == nil && json.Unmarshal(e.Data, &sent) == nil {
					ds = append(ds, time.Since(time.Unix(0, sent)))
				}
			}
			lat <- ds
		}()
		tick := time.NewTicker(time.Second / rate)
		for range n {
			<-tick.C
			env, _ := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: rid, Data: json.RawMessage(strconv.FormatInt(time.Now().UnixNano(), 10))})
			must(b, a.WriteMessage(websocket.TextMessage, env))
		}
		tick.Stop()
		ds := <-lat
		if len(ds) != n {
			b.Fatalf("received %d of %d", len(ds), n)
		}
		slices.Sort(ds)
		b.ReportMetric(float64(ds[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(ds[n*99/100].Microseconds()), "p99-µs")
		a.Close()
		r.Close()
		cancel()
	}
}
