package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/wire"
)

// MaxGuests bounds how many peers one link serves at once.
const MaxGuests = 16

// Identity is what makes a link: the private token its holder presents
// to the broker (the link's ID is wire.TokenID of it) and the secret in
// its fragment. Keeping an Identity keeps the link: a receive link that a
// phone bookmarked works again after the app restarts.
type Identity struct {
	Token  string `json:"token"`
	Secret string `json:"secret"`
}

// NewIdentity returns a fresh identity, hence a new link.
func NewIdentity() Identity { return Identity{Token: wire.NewToken(), Secret: wire.NewSecret()} }

// Valid reports whether both parts are well formed.
func (id Identity) Valid() bool { return wire.ValidToken(id.Token) && wire.ValidSecret(id.Secret) }

// host holds a link: it registers with the broker, answers every hello
// signed with the link's key with an offer, and runs serve on each
// connection once its data channel is open. What flows over it, and in
// which direction, is serve's business (see Share and Inbox).
type host struct {
	link   wire.Link
	key    wire.Key
	sig    *signal.Conn
	cfg    Config
	api    *webrtc.API
	opts   hostOptions
	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error

	mu     sync.Mutex
	guests map[string]*guest
	wg     sync.WaitGroup
}

type hostOptions struct {
	kind     wire.LinkKind
	id       Identity // the zero Identity: a fresh one
	serve    func(ctx context.Context, g *guest) error
	onEvent  func(Event)
	onServer func(ServerState)
}

// guest is one peer that opened the link.
type guest struct {
	id     string
	ch     *signedChannel
	peer   *peer.Peer
	conn   *peer.Conn // once connected
	cancel context.CancelCauseFunc
	h      *host
}

// event reports a change of this guest, with its connection's code and
// path once it is connected.
func (g *guest) event(e Event) {
	e.Peer = g.id
	e.Device = g.ch.remoteDevice()
	if g.conn != nil && e.Code == "" {
		e.Code, e.Path = g.conn.VerificationCode(), g.conn.Path()
	}
	g.h.event(e)
}

func startHost(ctx context.Context, cfg Config, server *url.URL, opts hostOptions) (*host, error) {
	id := opts.id
	if id == (Identity{}) {
		id = NewIdentity()
	}
	if !id.Valid() {
		return nil, errors.New("the link's identity is damaged")
	}
	key, err := wire.DeriveKey(id.Secret, opts.kind)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	h := &host{
		key:    key,
		cfg:    cfg,
		api:    peer.NewAPI(cfg.Peer),
		opts:   opts,
		cancel: cancel,
		done:   make(chan struct{}),
		guests: make(map[string]*guest),
	}
	h.sig, err = signal.Dial(ctx, server, signal.Options{Logger: cfg.Logger, Token: id.Token, Reconnect: true, OnState: h.serverChanged})
	if errors.Is(err, signal.ErrTokenIgnored) && opts.id == (Identity{}) {
		// An older broker: host all the same, with a link that lasts
		// as long as this connection. A kept identity cannot be.
		cfg.logger().Warn("this signaling server does not keep peer IDs; the link will not survive losing it", "server", server)
		h.sig, err = signal.Dial(ctx, server, signal.Options{Logger: cfg.Logger})
	}
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	h.link = wire.Link{Kind: opts.kind, Server: server, ID: h.sig.ID(), Secret: id.Secret}
	go h.run(ctx)
	return h, nil
}

func (h *host) server() ServerState { return serverState(h.sig.State()) }

func serverState(st signal.State) ServerState {
	return ServerState{Connected: st.Status == signal.Connected, Err: st.Err, Attempts: st.Attempts}
}

func (h *host) serverChanged(st signal.State) {
	if st.Status == signal.Closed {
		return // the link ends too, and says why through Err
	}
	if h.opts.onServer != nil {
		h.opts.onServer(serverState(st))
	}
}

func (h *host) stop() {
	h.cancel(errors.New("stopped"))
	<-h.done
}

func (h *host) stopGuest(id string, why error) {
	h.mu.Lock()
	g := h.guests[id]
	h.mu.Unlock()
	if g != nil {
		g.cancel(why)
	}
}

func (h *host) wait() error {
	<-h.done
	return h.err
}

func (h *host) run(ctx context.Context) {
	log := h.cfg.logger()
	defer func() {
		h.cancel(errors.New("link closed"))
		h.wg.Wait()
		h.sig.Close()
		close(h.done)
	}()
	stop := context.AfterFunc(ctx, func() { h.sig.Close() })
	defer stop()
	for env := range h.sig.Recv() {
		switch env.Type {
		case wire.TypeMessage:
			sg, err := wire.DecodeSignal(env.Data)
			if err != nil {
				log.Warn("dropping bad signal", "from", env.From, "err", err)
				continue
			}
			h.handle(ctx, env.From, sg)
		case wire.TypeLeft:
			h.goneBeforeConnected(env.Peer)
		case wire.TypeError:
			if env.Code == wire.CodeUnknownPeer {
				h.goneBeforeConnected(env.To)
			} else {
				log.Warn("broker refused a message", "code", env.Code, "message", env.Message)
			}
		}
	}
	if ctx.Err() == nil {
		if err := h.sig.Err(); errors.Is(err, signal.ErrGoingAway) {
			h.err = signal.ErrGoingAway // "the signaling server shut down" says it all
		} else {
			h.err = fmt.Errorf("lost the signaling server: %w", err)
		}
	}
}

func (h *host) handle(ctx context.Context, from string, sg wire.Signal) {
	h.mu.Lock()
	g := h.guests[from]
	h.mu.Unlock()
	if g != nil {
		if err := g.ch.receive(ctx, sg, g.peer); err != nil {
			g.peer.Abort(err)
		}
		return
	}
	if sg.Kind != wire.SignalHello {
		return // a late signal from a guest that is gone
	}
	ch := &signedChannel{sig: h.sig, remote: from, auth: wire.NewHostAuth(h.key), log: h.cfg.logger(), self: h.cfg.Device}
	if err := ch.auth.Open(sg); err != nil {
		h.cfg.logger().Warn("refusing a peer whose hello fails its check", "from", from, "err", err)
		h.bye(ctx, from, wire.ByeWrongSecret)
		h.event(Event{Peer: from, State: Failed, Err: ErrWrongSecret})
		return
	}
	if h.count() >= MaxGuests {
		h.bye(ctx, from, wire.ByeBusy)
		return
	}
	gctx, cancel := context.WithCancelCause(ctx)
	g = &guest{id: from, ch: ch, cancel: cancel, h: h}
	p, err := peer.New(h.api, h.cfg.peerConfig(h.sig), peer.Offerer, func(sg wire.Signal) { ch.send(ctx, sg) })
	if err != nil {
		cancel(nil)
		h.event(Event{Peer: from, State: Failed, Err: err})
		return
	}
	g.peer = p
	h.mu.Lock()
	h.guests[from] = g
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer cancel(nil)
		err := h.connect(gctx, g)
		h.mu.Lock()
		delete(h.guests, from)
		h.mu.Unlock()
		if err != nil {
			g.event(Event{State: Failed, Err: err})
		}
	}()
}

// connect negotiates the connection with g and runs serve on it.
func (h *host) connect(ctx context.Context, g *guest) error {
	defer g.peer.Close()
	h.event(Event{Peer: g.id, State: Connecting})
	cctx, cancel := context.WithTimeoutCause(ctx, h.cfg.connectTimeout(), peer.ErrFailed)
	conn, err := g.peer.Connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	g.conn = conn
	defer h.cfg.GC.Begin()()
	return h.opts.serve(ctx, g)
}

// bye turns a peer away before any connection exists: unsigned, as the
// handshake with it never started.
func (h *host) bye(ctx context.Context, to, code string) {
	if err := h.sig.Send(ctx, to, wire.Signal{Kind: wire.SignalBye, Code: code}.Encode()); err != nil {
		h.cfg.logger().Debug("bye not sent", "to", to, "err", err)
	}
}

func (h *host) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.guests)
}

// goneBeforeConnected ends the negotiation with a guest that left the
// broker. A guest already connected peer to peer needs the broker no
// more, so its transfer goes on.
func (h *host) goneBeforeConnected(id string) {
	h.mu.Lock()
	g := h.guests[id]
	h.mu.Unlock()
	if g != nil {
		g.peer.Abort(ErrPeerLeft)
	}
}

func (h *host) event(e Event) {
	if h.opts.onEvent != nil {
		h.opts.onEvent(e)
	}
}
