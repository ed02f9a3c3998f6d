// Package rendezvous is the broker core: it gives every connecting peer a
// random ID, or the ID derived from the token it presents (see
// wire.TokenHeader), routes each message to exactly the peer it names
// (stamping the true sender), and forgets a peer the moment its socket
// closes, telling the peers it talked to. It keeps no other state, so
// several brokers can share the load (see Hub), and a restarted broker gives
// a returning token holder its old ID. The transfer itself never passes
// through here.
//
// Where peers live is behind one small interface, Hub (hub.go): the
// per-socket logic here (limits, stamping the sender, contacts, "left")
// claims an ID for a socket, delivers envelopes to IDs and releases the
// ID, and never knows whether the holder is in this process
// (NewLocalHub, the default) or on another node. Package hubtest checks
// a Hub against these promises with peers on two brokers.
//
// The protocol is defined in package wire. Each socket has one reader
// goroutine (started by the HTTP handler, which returns) and one writer
// goroutine fed by a bounded
// queue: a peer that does not read fast enough is disconnected rather than
// allowed to grow the broker's memory.
//
// What a peer sends is checked with wire.DecodeEnvelope. A message that
// fails, or is not of type send, is answered with an error of code
// wire.CodeBadMessage and the socket stays open: garbage costs the broker
// one small reply, and the per-socket rate limit (Config.MessageRate)
// bounds how many, so repeated garbage is never a reason to close the
// socket. A message over Config.MaxMessageBytes does
// close the socket (gorilla sends close code 1009, message too big), as
// the broker cannot skip it without reading it. Message data is never
// logged.
package rendezvous

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/epicshare/epicshare/internal/wire"
)

// Defaults of Config's limits. A burst of signaling (a dozen receivers
// joining at once, ~10 messages each) fits in them; a flood does not.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultSendQueue       = 128
	DefaultMaxPeersPerIP   = 32
	DefaultMessageRate     = 50
	DefaultMessageBurst    = 100
)

// Config holds the broker's limits. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// MaxMessageBytes bounds one incoming message (DefaultMaxMessageBytes); a larger
	// one closes the socket.
	MaxMessageBytes int64
	// SendQueue bounds the messages waiting for one peer (DefaultSendQueue). A
	// peer whose queue is full is disconnected.
	SendQueue int
	// PingInterval (default 20 s) is how often the broker pings each peer;
	// a peer silent for PongWait (default 30 s) is dropped. WriteWait
	// (default 10 s) bounds every write.
	PingInterval, PongWait, WriteWait time.Duration
	// Page, if set, serves share and receive links (GET /s/{id} and
	// /r/{id}); by default the browser pages from package assets.
	Page http.Handler
	// MaxPeersPerIP caps the sockets open from one address (DefaultMaxPeersPerIP).
	MaxPeersPerIP int
	// TrustedProxies are the load balancers and reverse proxies in front
	// of the broker: for a socket from one of them, the client's address
	// is taken from X-Forwarded-For (see clientIP). Without them every
	// peer behind a proxy would count as the proxy's address.
	TrustedProxies []netip.Prefix
	// MessageRate and MessageBurst limit what one socket may send: a
	// sustained rate per second and a burst (DefaultMessageRate, DefaultMessageBurst).
	// Messages beyond are dropped with a rate-limited error.
	MessageRate  float64
	MessageBurst int
	// AllowedOrigins lists web origins ("https://example.org") besides the
	// broker's own whose pages may open a socket. The desktop app sends no
	// Origin and is always allowed.
	AllowedOrigins []string
	// ICE, if set, gives each peer the STUN and TURN servers it may use,
	// in its welcome and again before their credentials expire
	// (wire.TypeICE). Without it peers get none: enough on one network.
	ICE ICEProvider
	// Collectors are added to the figures at /metrics: the relay's, the
	// TLS listener's.
	Collectors []prometheus.Collector
	// Hub is where peers live (NewLocalHub, the default: in this
	// process).
	Hub Hub
	// Health, if set, is asked by /healthz: an error makes it answer 503
	// with the error's text (a node cut off from its cluster).
	Health func() error
}

// ICEProvider makes the ICE servers a peer may use (package relay has
// one). It must be safe for concurrent use.
type ICEProvider interface {
	// ICEServers returns the servers for peer, which reached the broker
	// under host (the Host its handshake named, so the URLs name what
	// the peer can reach), and when their credentials expire; the zero
	// time means never.
	ICEServers(host, peer string) (servers []wire.ICEServer, expires time.Time)
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 30 * time.Second
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.Page == nil {
		c.Page = pages()
	}
	if c.MaxPeersPerIP <= 0 {
		c.MaxPeersPerIP = DefaultMaxPeersPerIP
	}
	if c.MessageRate <= 0 {
		c.MessageRate = DefaultMessageRate
	}
	if c.MessageBurst <= 0 {
		c.MessageBurst = DefaultMessageBurst
	}
	if c.Hub == nil {
		c.Hub = NewLocalHub()
	}
}

// Broker routes signaling messages between connected peers.
type Broker struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	upgrader websocket.Upgrader

	metrics *metrics
	hub     Hub

	mu      sync.Mutex
	clients map[*client]struct{} // the sockets that speak for an ID
	perIP   map[string]int
	closed  bool
	wg      sync.WaitGroup
}

// New returns a broker; it is an http.Handler for the routes listed in
// package wire (the socket and share links), /healthz and /metrics.
func New(cfg Config) *Broker {
	cfg.setDefaults()
	b := &Broker{
		cfg:     cfg,
		log:     cfg.Logger,
		mux:     http.NewServeMux(),
		hub:     cfg.Hub,
		clients: make(map[*client]struct{}),
		perIP:   make(map[string]int),
		metrics: newMetrics(cfg.Collectors),
	}
	b.upgrader = websocket.Upgrader{
		Subprotocols: []string{wire.Subprotocol},
		CheckOrigin:  b.originAllowed,
		// Small buffers of its own rather than net/http's 4 KiB ones,
		// which then go with the handler: a signaling socket moves a
		// few small messages a minute, and a larger one is read in parts.
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		// Write buffers are taken for a message and given back: an idle
		// socket holds none.
		WriteBufferPool: &sync.Pool{},
	}
	b.mux.HandleFunc("GET "+wire.SocketPath, b.serveSocket)
	b.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Health != nil {
			if err := cfg.Health(); err != nil {
				// A load balancer sends new sockets elsewhere.
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	b.mux.Handle("GET "+wire.SharePath+"{id}", cfg.Page)
	b.mux.Handle("GET "+wire.SharePath+"{id}/", cfg.Page) // wire.ParseLink accepts it too
	b.mux.Handle("GET "+wire.ReceivePath+"{id}", cfg.Page)
	b.mux.Handle("GET "+wire.ReceivePath+"{id}/", cfg.Page)
	b.mux.Handle("GET /metrics", b.metrics.handler())
	return b
}

func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// Peers returns the number of peers connected to this broker.
func (b *Broker) Peers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.clients)
}

// Close disconnects every peer with wire.CloseGoingAway and waits until
// their goroutines are done. New sockets are refused afterwards.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	peers := make([]*client, 0, len(b.clients))
	for c := range b.clients {
		peers = append(peers, c)
	}
	b.mu.Unlock()
	for _, c := range peers {
		c.shutdown(wire.CloseGoingAway, "server shutting down")
	}
	b.wg.Wait()
}

// Serve runs an HTTP server for the broker on ln until ctx ends, then shuts
// it down gracefully: sockets get wire.CloseGoingAway.
func (b *Broker) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	srv.RegisterOnShutdown(b.Close)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		b.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	b.Close() // Shutdown runs it in the background; wait for it here
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

func (b *Broker) serveSocket(w http.ResponseWriter, r *http.Request) {
	if !b.originAllowed(r) {
		b.metrics.connRefused.WithLabelValues("origin").Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	ip := b.clientIP(r)
	if !b.admit(ip) {
		b.metrics.connRefused.WithLabelValues("per-ip-limit").Inc()
		http.Error(w, "too many connections from your address", http.StatusTooManyRequests)
		return
	}
	handedOver := false // to the socket's reader, which releases ip
	defer func() {
		if !handedOver {
			b.release(ip)
		}
	}()
	conn, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered with an HTTP error
	}
	refuse := func(code int, reason string) {
		msg := websocket.FormatCloseMessage(code, reason)
		conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(b.cfg.WriteWait))
		conn.Close()
	}
	if conn.Subprotocol() != wire.Subprotocol {
		b.log.Debug("refusing client without protocol", "offered", r.Header.Get("Sec-WebSocket-Protocol"))
		b.metrics.connRefused.WithLabelValues("version").Inc()
		refuse(wire.CloseUnsupportedVersion, "this server speaks "+wire.Subprotocol)
		return
	}
	// The token is checked after the upgrade, like the version, so that
	// the client gets a close code and a reason rather than a bare HTTP
	// status. It is never logged.
	var token string
	if tokens, sent := r.Header[http.CanonicalHeaderKey(wire.TokenHeader)]; sent {
		if len(tokens) != 1 || !wire.ValidToken(tokens[0]) {
			b.log.Debug("refusing client with a malformed token", "remote", r.RemoteAddr)
			b.metrics.connRefused.WithLabelValues("bad-token").Inc()
			refuse(wire.CloseBadToken, "malformed "+wire.TokenHeader+": want one token of 43 URL-safe base64 characters")
			return
		}
		token = tokens[0]
	}
	c := newClient(b, conn, r.Host)
	replaced, err := b.register(c, token)
	if errors.Is(err, errClosed) {
		refuse(wire.CloseGoingAway, "server shutting down")
		return
	}
	if err != nil {
		// This node cannot make the peer reachable: it should reconnect,
		// which a load balancer sends to a healthy node.
		b.log.Warn("could not register a peer", "err", err)
		b.metrics.connRefused.WithLabelValues("hub").Inc()
		refuse(wire.CloseGoingAway, "server cannot take peers right now")
		return
	}
	if replaced {
		b.log.Debug("peer ID taken over by a new connection", "peer", c.id, "remote", r.RemoteAddr)
		b.metrics.connRefused.WithLabelValues("replaced").Inc()
	}
	b.log.Debug("peer connected", "peer", c.id, "remote", r.RemoteAddr)
	welcome := wire.Envelope{Type: wire.TypeWelcome, ID: c.id}
	var expires time.Time
	if b.cfg.ICE != nil {
		welcome.ICE, expires = b.cfg.ICE.ICEServers(c.host, c.id)
	}
	c.enqueue(welcome)
	c.startTimers(expires)
	// The reader is a goroutine of its own rather than this handler's:
	// returning frees what net/http keeps per connection (its buffers,
	// the handler's deeper stack), a third of an idle peer's memory.
	handedOver = true
	go func() {
		defer b.release(ip)
		c.readLoop()
		b.unregister(c)
		b.log.Debug("peer left", "peer", c.id)
	}()
}

// register gives c its ID, TokenID(token) with a token, else a random
// one, and claims it on the hub. If a token's ID is connected already
// (on this node or another), c takes it over, with its contacts: only
// the token holder can do this, and its older socket is most likely
// half-dead (a laptop that slept, a NAT that forgot the mapping).
// It fails with errClosed once the broker is closing, or with the hub's
// error (a node cut off from its cluster), leaving nothing registered.
func (b *Broker) register(c *client, token string) (replaced bool, err error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false, errClosed
	}
	b.clients[c] = struct{}{}
	b.metrics.peers.Inc()
	b.wg.Add(1) // for the handler, released in unregister
	b.mu.Unlock()
	var contacts []string
	if token != "" {
		c.id = wire.TokenID(token)
		contacts, err = b.hub.Claim(c.id, c, true)
	} else {
		for {
			c.id = wire.NewPeerID()
			if _, err = b.hub.Claim(c.id, c, false); !errors.Is(err, ErrIDTaken) {
				break
			}
		}
	}
	if err != nil {
		b.hub.Release(c.id, c)
		b.forget(c)
		b.wg.Done()
		return false, err
	}
	c.addContacts(contacts)
	return contacts != nil, nil
}

var errClosed = errors.New("broker closed")

// forget removes c from the broker's sockets, once.
func (b *Broker) forget(c *client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.clients[c]; ok {
		delete(b.clients, c)
		b.metrics.peers.Dec()
	}
}

// unregister releases c's ID and tells its contacts that it left,
// unless a newer connection took the ID over or the broker is closing
// (every peer is going away: no left notices).
func (b *Broker) unregister(c *client) {
	b.hub.Release(c.id, c)
	b.forget(c)
	b.mu.Lock()
	closing := b.closed
	b.mu.Unlock()
	if contacts := c.leave(); !closing {
		for _, id := range contacts {
			b.hub.Deliver(id, wire.Envelope{Type: wire.TypeLeft, Peer: c.id}) // gone too: nobody to tell
		}
	}
	c.shutdown(websocket.CloseNormalClosure, "")
	b.wg.Done()
}

// route delivers env from c to its target, stamping the real sender.
func (b *Broker) route(from *client, env wire.Envelope) {
	if from.isReplaced() {
		// A connection being replaced by a newer one with its token:
		// the ID speaks through the new one only.
		return
	}
	if env.To != from.id {
		from.addContacts([]string{env.To})
	}
	if err := b.hub.Deliver(env.To, wire.Envelope{Type: wire.TypeMessage, From: from.id, Data: env.Data}); err != nil {
		from.dropContact(env.To)
		from.refuse(wire.CodeUnknownPeer, env.To, "no peer with that ID is connected")
		return
	}
	b.metrics.routed.Inc()
}
