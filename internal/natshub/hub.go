// Package natshub is a rendezvous.Hub on NATS, so that signal-server can
// run as several nodes: a peer connected to any node reaches a peer on
// any other. It keeps the broker's design: every peer has a subject of
// its own, prefix.peer.<id>, that only the node holding its socket
// subscribes to; an envelope is a request on that subject, and NATS's
// "no responders" says at once that nobody in the cluster holds the ID.
//
//	node 1 (holds A)                 NATS                 node 2 (holds B)
//	  | A sends to B                   |                        |
//	  |-- request peer.B {env, from-node 1} ------------------->| B's socket gets it
//	  |<----------------------------------------- reply "node 2"|
//	  | (no responders: unknown-peer to A at once)              |
//	  |                                |                        |
//	  | A reconnects to node 2 with its token:                  |
//	  |<------------------------------------ request claim.A ---|
//	  | A's old socket: closed as replaced                      |
//	  |-- reply: A's contacts ---------------------------------->| the new socket keeps them
//	  |                                |                        |
//	  |-- node.1 heartbeat every second, to every node -------->|
//
// A node that dies stops its heartbeats: after three missed ones every
// other node tells its local peers that the dead node's peers they
// talked to have left, as the dead node would have, unless a probe on a
// peer's claim subject finds it held again elsewhere (a link holder
// reconnects with its token). For that a hub remembers, for each remote
// peer its local peers exchanged envelopes with, the node that holds it.
package natshub

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/wire"
)

// Defaults of Config.
const (
	DefaultPrefix    = "epicshare"
	DefaultTimeout   = 2 * time.Second
	DefaultHeartbeat = time.Second
	// missedBeats heartbeats missed make a node dead.
	missedBeats = 3
	// inbound bounds the envelopes waiting for the dispatcher.
	inbound = 8192
	// nodeHeader names the node that sent an envelope.
	nodeHeader = "Epicshare-Node"
	// probeHeader on a claim asks whether the ID is held, without taking
	// it over: the holder answers with its node.
	probeHeader = "Epicshare-Probe"
)

// Config configures a Hub.
type Config struct {
	// Conn is the connection to the NATS cluster; the caller owns it.
	Conn   *nats.Conn
	Logger *slog.Logger
	// Prefix starts every subject (DefaultPrefix), so that several
	// deployments can share a cluster.
	Prefix string
	// Timeout bounds a request to another node (DefaultTimeout).
	Timeout time.Duration
	// Heartbeat is how often a node says it is alive (DefaultHeartbeat).
	Heartbeat time.Duration
}

// Hub is a rendezvous.Hub over NATS. Close it before closing the
// connection.
type Hub struct {
	cfg  Config
	nc   *nats.Conn
	log  *slog.Logger
	node string
	msgs chan *nats.Msg // every subscription's messages, in arrival order
	done chan struct{}
	wg   sync.WaitGroup

	sent     *prometheus.CounterVec // envelopes to other nodes, by result
	received prometheus.Counter     // envelopes from other nodes
	latency  prometheus.Histogram   // request to another node → its reply

	mu       sync.Mutex
	local    map[string]*holder
	remote   map[string]string              // remote peer → its node
	watchers map[string]map[string]struct{} // remote peer → local peers it exchanged envelopes with
	seen     map[string]time.Time           // node → its last heartbeat
	beatSub  *nats.Subscription
}

// holder is a local peer and its subscriptions.
type holder struct {
	m              rendezvous.Member
	peerSub, claim *nats.Subscription
}

// New starts a Hub on cfg.Conn.
func New(cfg Config) (*Hub, error) {
	if cfg.Conn == nil {
		return nil, errors.New("natshub: no NATS connection")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	h := &Hub{
		cfg: cfg, nc: cfg.Conn, log: cfg.Logger, node: wire.NewPeerID(),
		msgs: make(chan *nats.Msg, inbound), done: make(chan struct{}),
		local: map[string]*holder{}, remote: map[string]string{},
		watchers: map[string]map[string]struct{}{}, seen: map[string]time.Time{},
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "epicshare_nats_sent_total", Help: "Envelopes sent to peers on other nodes, by result.",
		}, []string{"result"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "epicshare_nats_received_total", Help: "Envelopes received from peers on other nodes.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "epicshare_nats_route_seconds", Help: "From an envelope sent to another node to that node's reply.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
	}
	var err error
	if h.beatSub, err = h.nc.ChanSubscribe(h.subject("node", "*"), h.msgs); err != nil {
		return nil, fmt.Errorf("subscribe to heartbeats: %w", err)
	}
	h.wg.Add(2)
	go h.dispatch()
	go h.beat()
	return h, nil
}

// Collectors are the hub's Prometheus figures.
func (h *Hub) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.sent, h.received, h.latency}
}

// Node is this hub's node ID, as other nodes know it.
func (h *Hub) Node() string { return h.node }

// Close stops the hub: its peers' subjects are unsubscribed and its
// heartbeats stop (other nodes then take its peers for gone).
func (h *Hub) Close() {
	h.mu.Lock()
	for _, hd := range h.local {
		hd.unsubscribe()
	}
	h.local = map[string]*holder{}
	h.beatSub.Unsubscribe()
	h.mu.Unlock()
	close(h.done)
	h.wg.Wait()
}

func (h *Hub) subject(kind, id string) string { return h.cfg.Prefix + "." + kind + "." + id }

func (hd *holder) unsubscribe() {
	if hd.peerSub != nil {
		hd.peerSub.Unsubscribe()
	}
	if hd.claim != nil {
		hd.claim.Unsubscribe()
	}
}

// Claim implements rendezvous.Hub. Random IDs (without takeOver) have
// 128 bits: they are checked against this node only.
func (h *Hub) Claim(id string, m rendezvous.Member, takeOver bool) ([]string, error) {
	h.mu.Lock()
	if old := h.local[id]; old != nil {
		if !takeOver {
			h.mu.Unlock()
			return nil, rendezvous.ErrIDTaken
		}
		prev := old.m
		old.m = m
		h.mu.Unlock()
		return prev.Replace(), nil
	}
	hd := &holder{m: m}
	var err error
	// Subscribed before the old holder is asked to let go: an envelope
	// meanwhile may reach both sockets (a replay the peers drop), never
	// neither (an unknown-peer that would end a waiting guest).
	if hd.peerSub, err = h.nc.ChanSubscribe(h.subject("peer", id), h.msgs); err != nil {
		h.mu.Unlock()
		return nil, fmt.Errorf("subscribe peer %s: %w", id, err)
	}
	h.local[id] = hd
	h.mu.Unlock()
	var contacts []string
	if takeOver {
		contacts = h.takeOver(id)
	}
	claim, err := h.nc.ChanSubscribe(h.subject("claim", id), h.msgs)
	if err == nil {
		err = h.nc.Flush() // the server knows both before the peer is welcomed
	}
	h.mu.Lock()
	if h.local[id] == hd {
		hd.claim = claim
	} else if claim != nil {
		claim.Unsubscribe() // released meanwhile
	}
	h.mu.Unlock()
	if err != nil {
		return contacts, fmt.Errorf("subscribe claim %s: %w", id, err)
	}
	return contacts, nil
}

// takeOver asks the node holding id, if any, to let it go, and returns
// the contacts it hands over.
func (h *Hub) takeOver(id string) []string {
	resp, err := h.nc.Request(h.subject("claim", id), []byte(h.node), h.cfg.Timeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil
	case err != nil:
		h.log.Warn("taking a peer ID over from another node", "peer", id, "err", err)
		return nil
	}
	var contacts []string
	if err := json.Unmarshal(resp.Data, &contacts); err != nil {
		h.log.Warn("a node handed over malformed contacts", "peer", id, "err", err)
	}
	if contacts == nil {
		contacts = []string{} // it was held: a takeover, with no contacts
	}
	return contacts
}

// Release implements rendezvous.Hub.
func (h *Hub) Release(id string, m rendezvous.Member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hd := h.local[id]; hd != nil && hd.m == m {
		hd.unsubscribe()
		delete(h.local, id)
		h.forgetWatcher(id)
	}
}

// Deliver implements rendezvous.Hub: to a local peer directly, to a
// remote one by a request on its subject.
func (h *Hub) Deliver(to string, env wire.Envelope) error {
	h.mu.Lock()
	hd := h.local[to]
	h.mu.Unlock()
	if hd != nil {
		hd.m.Receive(env)
		return nil
	}
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode envelope: %w", err)
	}
	msg := nats.NewMsg(h.subject("peer", to))
	msg.Data = data
	msg.Header.Set(nodeHeader, h.node)
	t0 := time.Now()
	resp, err := h.nc.RequestMsg(msg, h.cfg.Timeout)
	if errors.Is(err, nats.ErrNoResponders) {
		h.sent.WithLabelValues("no-peer").Inc()
		return rendezvous.ErrNoPeer
	}
	if err != nil {
		h.sent.WithLabelValues("error").Inc()
		h.log.Warn("delivering to another node", "peer", to, "err", err)
		return rendezvous.ErrNoPeer
	}
	h.latency.Observe(time.Since(t0).Seconds())
	h.sent.WithLabelValues("delivered").Inc()
	if env.Type == wire.TypeMessage {
		h.watch(to, string(resp.Data), env.From)
	}
	return nil
}

// watch records that local peer talked with remote peer on node.
func (h *Hub) watch(remote, node, local string) {
	if node == "" || node == h.node {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remote[remote] = node
	if _, ok := h.seen[node]; !ok {
		h.seen[node] = time.Now()
	}
	w := h.watchers[remote]
	if w == nil {
		w = map[string]struct{}{}
		h.watchers[remote] = w
	}
	w[local] = struct{}{}
}

// unwatch forgets that local peer talked with remote peer, which left.
func (h *Hub) unwatch(remote, local string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.watchers[remote]; w != nil {
		delete(w, local)
		if len(w) == 0 {
			delete(h.watchers, remote)
			delete(h.remote, remote)
		}
	}
}

// forgetWatcher drops local peer id from every watch list; h.mu held.
func (h *Hub) forgetWatcher(id string) {
	for remote, w := range h.watchers {
		delete(w, id)
		if len(w) == 0 {
			delete(h.watchers, remote)
			delete(h.remote, remote)
		}
	}
}

// dispatch handles what the subscriptions receive, one at a time, so
// that one sender's envelopes to one peer keep their order.
func (h *Hub) dispatch() {
	defer h.wg.Done()
	check := time.NewTicker(h.cfg.Heartbeat)
	defer check.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-check.C:
			h.buryDead()
		case msg := <-h.msgs:
			kind, id, _ := strings.Cut(strings.TrimPrefix(msg.Subject, h.cfg.Prefix+"."), ".")
			switch kind {
			case "peer":
				h.onEnvelope(id, msg)
			case "claim":
				h.onClaim(id, msg)
			case "node":
				if id != h.node {
					h.mu.Lock()
					h.seen[id] = time.Now()
					h.mu.Unlock()
				}
			}
		}
	}
}

func (h *Hub) onEnvelope(id string, msg *nats.Msg) {
	env, err := wire.DecodeEnvelope(msg.Data)
	if err != nil || (env.Type != wire.TypeMessage && env.Type != wire.TypeLeft) {
		h.log.Warn("dropping a malformed envelope from another node", "err", err)
		return
	}
	h.mu.Lock()
	hd := h.local[id]
	h.mu.Unlock()
	if hd == nil {
		return // released meanwhile: no reply, as if unsubscribed
	}
	switch env.Type {
	case wire.TypeMessage:
		h.watch(env.From, msg.Header.Get(nodeHeader), id)
	case wire.TypeLeft:
		h.unwatch(env.Peer, id)
	}
	h.received.Inc()
	hd.m.Receive(env)
	msg.Respond([]byte(h.node))
}

func (h *Hub) onClaim(id string, msg *nats.Msg) {
	if string(msg.Data) == h.node {
		return // our own claim, subscribed a moment after it
	}
	h.mu.Lock()
	hd := h.local[id]
	if msg.Header.Get(probeHeader) != "" {
		h.mu.Unlock()
		if hd != nil {
			msg.Respond([]byte(h.node))
		}
		return
	}
	if hd != nil {
		hd.unsubscribe()
		delete(h.local, id)
		h.forgetWatcher(id)
	}
	h.mu.Unlock()
	if hd == nil {
		return
	}
	h.log.Debug("peer ID taken over on another node", "peer", id)
	contacts, _ := json.Marshal(hd.m.Replace())
	msg.Respond(contacts)
}

// beat says every Heartbeat that this node is alive.
func (h *Hub) beat() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.Heartbeat)
	defer t.Stop()
	for {
		h.nc.Publish(h.subject("node", h.node), nil)
		select {
		case <-h.done:
			return
		case <-t.C:
		}
	}
}

// buryDead finds the nodes that stopped their heartbeats and has their
// peers that local peers talked to confirmed gone (see confirmGone).
func (h *Hub) buryDead() {
	deadline := time.Now().Add(-missedBeats * h.cfg.Heartbeat)
	lost := map[string][]string{} // remote peer → local peers that talked to it
	h.mu.Lock()
	for node, last := range h.seen {
		if last.After(deadline) {
			continue
		}
		delete(h.seen, node)
		h.log.Info("a node stopped its heartbeats: its peers are gone unless they moved", "node", node)
		for remote, n := range h.remote {
			if n != node {
				continue
			}
			for local := range h.watchers[remote] {
				lost[remote] = append(lost[remote], local)
			}
			delete(h.remote, remote)
			delete(h.watchers, remote)
		}
	}
	h.mu.Unlock()
	if len(lost) == 0 {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.confirmGone(lost)
	}()
}

// confirmGone tells each local peer in lost that the remote peer it
// talked to has left, as the dead node would have, unless the remote
// peer is held again on another node: a link holder whose node died
// reconnects elsewhere with its token within a second or two, often
// before its node is missed, and its contacts must not hear that it
// left. It asks on the peer's claim subject with probeHeader, which the
// holder answers; "no responders" means gone. It runs outside the
// dispatcher: a request waits up to Timeout.
func (h *Hub) confirmGone(lost map[string][]string) {
	type notice struct {
		to   rendezvous.Member
		peer string
	}
	var notices []notice
	// Every probe first, then every notice: a peer is told what became
	// of all its contacts on the dead node at once.
	for remote, locals := range lost {
		msg := nats.NewMsg(h.subject("claim", remote))
		msg.Data = []byte(h.node)
		msg.Header.Set(probeHeader, "1")
		if resp, err := h.nc.RequestMsg(msg, h.cfg.Timeout); err == nil && len(resp.Data) > 0 {
			for _, local := range locals {
				h.watch(remote, string(resp.Data), local) // it moved: watch it there
			}
			continue
		}
		h.mu.Lock()
		for _, local := range locals {
			if hd := h.local[local]; hd != nil {
				notices = append(notices, notice{hd.m, remote})
			}
		}
		h.mu.Unlock()
	}
	for _, n := range notices {
		n.to.Receive(wire.Envelope{Type: wire.TypeLeft, Peer: n.peer})
	}
}
