// Package signal is the app's client of the broker (package rendezvous):
// it connects offering the protocol version, learns its peer ID, sends
// messages to other peers by ID and delivers what the broker routes back.
// It owns the WebSocket and its lifetime; what the messages mean is the
// caller's business (see wire.Signal and package session).
//
// A Conn runs one goroutine, which reads the current socket, answers the
// broker's pings and feeds Recv. Writes are serialised by a lock that
// Send waits for under its context.
//
// With Options.Token a peer gets the ID derived from its token
// (wire.TokenID), the same on every connection. With Options.Reconnect as
// well, a Conn that loses its socket unexpectedly (the broker restarted,
// the network dropped, the socket went silent) redials with the same
// token, waiting longer after each failure, and keeps its ID and its Recv
// channel: the caller sees a State change, not an ended connection.
package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/wire"
)

// Options tune Dial. The zero value is ready to use.
type Options struct {
	Logger *slog.Logger
	Header http.Header // extra HTTP headers for the handshake, e.g. Origin

	// Token, if set, is presented to the broker (wire.TokenHeader), which
	// then names this peer wire.TokenID(Token) instead of a random ID.
	// Make one with wire.NewToken and keep it private: whoever holds it
	// can take the ID over. Dial checks that the broker honoured it.
	Token string
	// Reconnect, which needs a Token, redials after an unexpected loss of
	// the connection until it is back, Close is called, or Dial's ctx
	// ends: with Reconnect that ctx bounds the Conn's whole life. A
	// refusal that a retry cannot cure (another protocol version, a bad
	// token, ErrReplaced) still ends the Conn.
	Reconnect bool
	// RetryMin and RetryMax bound the wait before each redial: it starts
	// at RetryMin (500 ms if zero), doubles after each failed attempt up
	// to RetryMax (30 s if zero), and is drawn between half and all of
	// that, so that peers that lost one broker do not return all at once.
	RetryMin, RetryMax time.Duration
	// OnState, if set, is called from the Conn's goroutine whenever a
	// reconnecting Conn loses its connection, fails a redial, or is
	// connected again. It must not block.
	OnState func(State)
}

// Status says whether a Conn is connected.
type Status int

const (
	// Connected: messages flow.
	Connected Status = iota
	// Reconnecting: the connection was lost and the Conn is redialling;
	// Send fails with ErrDisconnected meanwhile.
	Reconnecting
	// Closed: the Conn has ended for good; Err says why.
	Closed
)

func (s Status) String() string {
	switch s {
	case Connected:
		return "connected"
	case Reconnecting:
		return "reconnecting"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// State is a Conn's connection state.
type State struct {
	Status Status
	// Err, while Reconnecting, is why the connection was lost or, after
	// a failed redial, why that failed; when Closed, the same as Conn.Err.
	Err error
	// Attempts counts the redials that failed since the connection was
	// lost.
	Attempts int
}

const (
	handshakeTimeout = 15 * time.Second
	welcomeWait      = 15 * time.Second // after the handshake, for the welcome
	writeWait        = 10 * time.Second
	closeWait        = time.Second // for the server's answer to our close frame
	readLimit        = 1 << 20     // well above the broker's 64 KiB per message
	// silenceLimit: the broker pings every 20 s by default, so a broker
	// silent for this long is gone.
	silenceLimit = 90 * time.Second
	recvBuffer   = 16

	defaultRetryMin = 500 * time.Millisecond
	defaultRetryMax = 30 * time.Second
)

// Conn is a connection to the broker. Its methods are safe for concurrent
// use.
type Conn struct {
	id   string
	addr string // the broker's WebSocket URL
	opts Options
	log  *slog.Logger
	recv chan wire.Envelope

	// wlock admits one writer at a time; a channel rather than a mutex so
	// that Send can give up waiting when its context ends.
	wlock     chan struct{}
	closing   atomic.Bool   // Close was called
	quit      chan struct{} // closed by Close: stop delivering to recv
	closeOnce sync.Once
	// life ends redials: Close cancels it, and with Reconnect it is
	// Dial's ctx, whose end closes the Conn (stopAfter undoes that).
	life      context.Context
	endLife   context.CancelFunc
	stopAfter func() bool

	mu    sync.Mutex
	sock  *socket // the live socket; nil between connections and at the end
	state State
	ice   []wire.ICEServer // from the last welcome or ice message

	err  error         // why the Conn ended; written before done closes
	done chan struct{} // closed when the Conn has ended, just before recv
}

// socket is one WebSocket of a Conn.
type socket struct {
	ws *websocket.Conn

	failMu  sync.Mutex
	failure error // a failed write that broke the socket

	err      error         // why it ended; written before readDone closes
	readDone chan struct{} // closed when its reader has ended
}

// Dial connects to the broker at server (its base URL, see
// wire.ParseServer) and waits, bounded by ctx, for the welcome that names
// this peer. A server that speaks another protocol version gives an error
// wrapping ErrUnsupportedVersion.
func Dial(ctx context.Context, server *url.URL, opts Options) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = defaultRetryMin
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(defaultRetryMax, opts.RetryMin)
	}
	addr := wire.SocketURL(server)
	fail := func(err error) (*Conn, error) {
		return nil, fmt.Errorf("connect to signaling server %s: %w", addr, err)
	}
	if opts.Token != "" && !wire.ValidToken(opts.Token) {
		return fail(ErrBadToken)
	}
	if opts.Reconnect && opts.Token == "" {
		// Without a token a new connection gets a new ID, and whoever
		// knew the old one could not reach this peer any more.
		return fail(errors.New("reconnecting needs a peer token"))
	}
	ws, welcome, err := dialSocket(ctx, addr, opts)
	if err != nil {
		return fail(err)
	}
	c := &Conn{
		id:    welcome.ID,
		ice:   welcome.ICE,
		addr:  addr,
		opts:  opts,
		log:   log,
		recv:  make(chan wire.Envelope, recvBuffer),
		wlock: make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if opts.Reconnect {
		c.life, c.endLife = context.WithCancel(ctx)
		c.stopAfter = context.AfterFunc(c.life, func() { c.Close() })
	} else {
		// The connection outlives ctx, which only bounded the dial.
		c.life, c.endLife = context.WithCancel(context.WithoutCancel(ctx))
		c.stopAfter = func() bool { return true }
	}
	s := c.newSocket(ws)
	c.sock = s
	log.Debug("connected to signaling server", "server", addr, "id", c.id)
	go c.run(s)
	return c, nil
}

// dialSocket opens one WebSocket and reads its welcome, bounded by ctx.
func dialSocket(ctx context.Context, addr string, opts Options) (*websocket.Conn, wire.Envelope, error) {
	header := opts.Header.Clone()
	if opts.Token != "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set(wire.TokenHeader, opts.Token)
	}
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}, HandshakeTimeout: handshakeTimeout}
	ws, resp, err := d.DialContext(ctx, addr, header)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, wire.Envelope{}, err
	}
	if p := ws.Subprotocol(); p != wire.Subprotocol {
		ws.Close()
		return nil, wire.Envelope{}, fmt.Errorf("%w (it chose subprotocol %q, this app speaks %q)", ErrUnsupportedVersion, p, wire.Subprotocol)
	}
	ws.SetReadLimit(readLimit)
	ws.SetReadDeadline(time.Now().Add(welcomeWait))
	// Cancelling ctx must end the wait at once, not after welcomeWait.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	env, err := readWelcome(ws)
	if !stop() {
		ws.Close()
		return nil, wire.Envelope{}, context.Cause(ctx)
	}
	if err == nil && opts.Token != "" && env.ID != wire.TokenID(opts.Token) {
		err = ErrTokenIgnored
	}
	if err != nil {
		ws.Close()
		return nil, wire.Envelope{}, err
	}
	ws.SetReadDeadline(time.Now().Add(silenceLimit))
	return ws, env, nil
}

func readWelcome(ws *websocket.Conn) (wire.Envelope, error) {
	_, b, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case wire.CloseUnsupportedVersion:
			return wire.Envelope{}, fmt.Errorf("%w: %w", ErrUnsupportedVersion, err)
		case wire.CloseBadToken:
			return wire.Envelope{}, fmt.Errorf("%w: %w", ErrBadToken, err)
		case wire.CloseGoingAway:
			return wire.Envelope{}, fmt.Errorf("%w: %w", ErrGoingAway, err)
		}
	}
	if err != nil {
		return wire.Envelope{}, err
	}
	env, err := wire.DecodeEnvelope(b)
	if err != nil {
		return wire.Envelope{}, err
	}
	if env.Type != wire.TypeWelcome {
		return wire.Envelope{}, fmt.Errorf("expected a welcome, got %q", env.Type)
	}
	return env, nil
}

func (c *Conn) newSocket(ws *websocket.Conn) *socket {
	s := &socket{ws: ws, readDone: make(chan struct{})}
	ws.SetPingHandler(func(data string) error { return onPing(ws, data) })
	return s
}

// ID is this peer's ID on the broker. A reconnecting Conn keeps it.
func (c *Conn) ID() string { return c.id }

// ICEServers are the STUN and TURN servers the broker offers this peer,
// with credentials that are valid now: from its welcome, replaced by
// each renewal and each reconnection. None from a broker without a relay.
func (c *Conn) ICEServers() []wire.ICEServer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ice)
}

// Recv delivers routed messages, "left" notices and errors, each
// validated with wire.DecodeEnvelope. It is closed when the Conn ends (a
// reconnecting Conn keeps it open between connections); Err then says
// why. The caller must keep receiving: while Recv is full the connection
// reads nothing, answers no pings, and the broker drops it after its pong
// timeout.
func (c *Conn) Recv() <-chan wire.Envelope { return c.recv }

// Err says why the Conn ended, nil while it is open or reconnecting:
// ErrClosed after Close, an error wrapping ErrGoingAway when the server
// shut down, ErrReplaced, ErrBadToken or ErrUnsupportedVersion for what
// the server refused, one wrapping the *websocket.CloseError for another
// close code, or the failed read or write.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// State says whether the Conn is connected, reconnecting or closed.
func (c *Conn) State() State {
	select {
	case <-c.done:
		return State{Status: Closed, Err: c.err}
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// run reads one socket after the other until the Conn ends.
func (c *Conn) run(s *socket) {
	for {
		c.read(s)
		switch {
		case !c.opts.Reconnect:
			c.finish(s.err)
			return
		case c.closing.Load():
			c.finish(ErrClosed)
			return
		case permanent(s.err):
			c.finish(s.err)
			return
		}
		next, err := c.redial(s.err)
		if err != nil {
			c.finish(err)
			return
		}
		s = next
	}
}

// permanent reports whether err is a refusal that redialling cannot cure.
func permanent(err error) bool {
	return errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrBadToken) ||
		errors.Is(err, ErrReplaced) || errors.Is(err, ErrTokenIgnored)
}

// read delivers what s receives until it ends.
func (c *Conn) read(s *socket) {
	var err error
	for {
		var b []byte
		if _, b, err = s.ws.ReadMessage(); err != nil {
			break
		}
		s.ws.SetReadDeadline(time.Now().Add(silenceLimit))
		env, derr := wire.DecodeEnvelope(b)
		if derr != nil {
			c.log.Warn("dropping a malformed message from the signaling server", "err", derr)
			continue
		}
		switch env.Type {
		case wire.TypeMessage, wire.TypeLeft, wire.TypeError:
		case wire.TypeICE:
			c.mu.Lock()
			c.ice = env.ICE
			c.mu.Unlock()
			c.log.Debug("ICE servers renewed", "servers", len(env.ICE))
			continue
		default:
			c.log.Warn("dropping an unexpected message from the signaling server", "type", env.Type)
			continue
		}
		select {
		case c.recv <- env:
		case <-c.quit: // nobody is listening any more; read on until the close
		}
	}
	s.ws.Close()
	s.err = c.closeReason(s, err)
	c.mu.Lock()
	c.sock = nil
	if c.opts.Reconnect {
		c.state = State{Status: Reconnecting, Err: s.err}
	}
	c.mu.Unlock()
	close(s.readDone)
}

// redial connects again after the loss of a socket for reason lost,
// waiting longer after each failure, until it succeeds, life ends, or
// the server refuses for good.
func (c *Conn) redial(lost error) (*socket, error) {
	c.log.Info("lost the signaling server; reconnecting", "err", lost)
	st := State{Status: Reconnecting, Err: lost}
	c.notify(st)
	wait := c.opts.RetryMin
	for {
		// Between half and all of wait: full waits would bring back
		// every peer of a restarted broker in the same instant.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-c.life.Done():
			t.Stop()
			return nil, ErrClosed
		}
		ws, welcome, err := dialSocket(c.life, c.addr, c.opts)
		if err == nil {
			s := c.newSocket(ws)
			c.mu.Lock()
			if c.closing.Load() { // Close came during the dial
				c.mu.Unlock()
				ws.Close()
				return nil, ErrClosed
			}
			c.sock, c.state, c.ice = s, State{Status: Connected}, welcome.ICE
			c.mu.Unlock()
			c.log.Info("reconnected to the signaling server", "id", c.id, "attempts", st.Attempts+1)
			c.notify(State{Status: Connected})
			return s, nil
		}
		if c.life.Err() != nil {
			return nil, ErrClosed
		}
		if permanent(err) {
			return nil, fmt.Errorf("reconnect to signaling server %s: %w", c.addr, err)
		}
		st.Attempts++
		st.Err = err
		c.log.Debug("reconnecting to the signaling server failed", "attempt", st.Attempts, "err", err)
		c.mu.Lock()
		c.state = st
		c.mu.Unlock()
		c.notify(st)
		wait = min(wait*2, c.opts.RetryMax)
	}
}

func (c *Conn) notify(st State) {
	if c.opts.OnState != nil {
		c.opts.OnState(st)
	}
}

// finish ends the Conn with err.
func (c *Conn) finish(err error) {
	c.stopAfter()
	c.endLife()
	c.mu.Lock()
	c.sock = nil
	c.state = State{Status: Closed, Err: err}
	c.mu.Unlock()
	// Err reads c.err once done is closed, and whoever sees recv closed
	// has also seen done closed.
	c.err = err
	close(c.done)
	close(c.recv)
}

func (c *Conn) closeReason(s *socket, err error) error {
	var ce *websocket.CloseError
	switch {
	case c.closing.Load():
		return ErrClosed
	case s.writeFailure() != nil:
		return s.writeFailure()
	case errors.As(err, &ce) && ce.Code == wire.CloseGoingAway:
		return fmt.Errorf("%w: %w", ErrGoingAway, err)
	case errors.As(err, &ce) && ce.Code == wire.CloseUnsupportedVersion:
		return fmt.Errorf("%w: %w", ErrUnsupportedVersion, err)
	case errors.As(err, &ce) && ce.Code == wire.CloseReplaced:
		return fmt.Errorf("%w: %w", ErrReplaced, err)
	case errors.As(err, &ce) && ce.Code == wire.CloseBadToken:
		return fmt.Errorf("%w: %w", ErrBadToken, err)
	case errors.As(err, &ce):
		return fmt.Errorf("the signaling server closed the connection: %w", err)
	}
	return fmt.Errorf("read from signaling server: %w", err)
}

func onPing(ws *websocket.Conn, data string) error {
	ws.SetReadDeadline(time.Now().Add(silenceLimit))
	err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
	var ne net.Error
	if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
		return nil // as gorilla's default handler: a missed pong is not fatal
	}
	return err
}

// Send asks the broker to deliver data (JSON) to the peer with ID to.
//
// ctx bounds the wait for other senders, and its deadline (at most
// 10 s from now) bounds the write. A write under way is not abandoned when
// ctx is cancelled: half a frame would break the connection for every
// other sender. A write that fails does break it: Recv then closes and
// Err reports the failure, or, with Reconnect, the Conn redials. While a
// reconnecting Conn is between connections Send fails at once with an
// error wrapping ErrDisconnected: nothing is queued for later.
func (c *Conn) Send(ctx context.Context, to string, data json.RawMessage) error {
	b, err := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: data})
	if err != nil {
		return fmt.Errorf("encode message to %s: %w", to, err)
	}
	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("send to signaling server: %w", context.Cause(ctx))
	case <-c.done:
		return c.err // already says what ended the connection
	}
	defer func() { <-c.wlock }()
	if c.closing.Load() {
		return ErrClosed
	}
	s, err := c.current()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send to signaling server: %w", context.Cause(ctx))
	}
	deadline := time.Now().Add(writeWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.ws.SetWriteDeadline(deadline)
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		if c.closing.Load() {
			return ErrClosed
		}
		if errors.Is(err, websocket.ErrCloseSent) {
			// The server closed first (gorilla answered its close frame);
			// the reader is about to say why.
			<-s.readDone
			return c.lost(s)
		}
		err = fmt.Errorf("send to signaling server: %w", err)
		s.failMu.Lock()
		if s.failure == nil {
			s.failure = err
		}
		s.failMu.Unlock()
		s.ws.Close() // gorilla keeps a failed write's error: this socket is done
		return err
	}
	return nil
}

// current returns the live socket, or the error Send reports without one.
func (c *Conn) current() (*socket, error) {
	c.mu.Lock()
	s, st := c.sock, c.state
	c.mu.Unlock()
	if s != nil {
		select {
		case <-s.readDone:
			return nil, c.lost(s)
		default:
			return s, nil
		}
	}
	if !c.opts.Reconnect || st.Status == Closed {
		<-c.done // about to be closed by run
		return nil, c.err
	}
	return nil, fmt.Errorf("%w: %w", ErrDisconnected, st.Err)
}

// lost is what Send reports after socket s ended.
func (c *Conn) lost(s *socket) error {
	if !c.opts.Reconnect {
		<-c.done // about to be closed by run
		return c.err
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, s.err)
}

func (s *socket) writeFailure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failure
}

// Close says goodbye to the broker with a normal close frame, gives it a
// moment to answer, and waits for the Conn's goroutine to end, stopping
// any redial. Messages not yet taken from Recv are dropped. Close is
// idempotent and always returns nil.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing.Store(true)
		s := c.sock
		c.mu.Unlock()
		close(c.quit)
		c.endLife() // ends a redial or the wait for one
		if s == nil {
			return
		}
		// A close handshake rather than a bare TCP close lets the broker
		// see a clean goodbye.
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait)); err == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-s.readDone:
			case <-t.C:
			}
			t.Stop()
		}
		s.ws.Close()
	})
	<-c.done
	return nil
}
