// Package signal is the app's client of the broker (package rendezvous):
// it connects offering the protocol version, learns its peer ID, sends
// messages to other peers by ID and delivers what the broker routes back.
// It owns one WebSocket and its lifetime; what the messages mean is the
// caller's business (see wire.Signal and package session).
//
// A Conn runs one reader goroutine, which answers the broker's pings and
// feeds Recv. Writes are serialised by a lock that Send waits for under
// its context.
package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
)

// Conn is a connection to the broker. Its methods are safe for concurrent
// use.
type Conn struct {
	ws   *websocket.Conn
	id   string
	log  *slog.Logger
	recv chan wire.Envelope

	// wlock admits one writer at a time; a channel rather than a mutex so
	// that Send can give up waiting when its context ends.
	wlock     chan struct{}
	closing   atomic.Bool   // Close was called
	quit      chan struct{} // closed by Close: stop delivering to recv
	closeOnce sync.Once

	failMu  sync.Mutex
	failure error // a failed write that broke the connection

	err      error         // why the connection ended; written before readDone closes
	readDone chan struct{} // closed when the reader has ended, just before recv
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
	addr := wire.SocketURL(server)
	fail := func(err error) (*Conn, error) {
		return nil, fmt.Errorf("connect to signaling server %s: %w", addr, err)
	}
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}, HandshakeTimeout: handshakeTimeout}
	ws, resp, err := d.DialContext(ctx, addr, opts.Header)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return fail(err)
	}
	if p := ws.Subprotocol(); p != wire.Subprotocol {
		ws.Close()
		return fail(fmt.Errorf("%w (it chose subprotocol %q, this app speaks %q)", ErrUnsupportedVersion, p, wire.Subprotocol))
	}
	ws.SetReadLimit(readLimit)
	ws.SetReadDeadline(time.Now().Add(welcomeWait))
	// Cancelling ctx must end the wait at once, not after welcomeWait.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	env, err := readWelcome(ws)
	if !stop() {
		ws.Close()
		return fail(context.Cause(ctx))
	}
	if err != nil {
		ws.Close()
		return fail(err)
	}
	c := &Conn{
		ws:       ws,
		id:       env.ID,
		log:      log,
		recv:     make(chan wire.Envelope, recvBuffer),
		wlock:    make(chan struct{}, 1),
		quit:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
	ws.SetReadDeadline(time.Now().Add(silenceLimit))
	ws.SetPingHandler(c.onPing)
	log.Debug("connected to signaling server", "server", addr, "id", c.id)
	go c.readLoop()
	return c, nil
}

func readWelcome(ws *websocket.Conn) (wire.Envelope, error) {
	_, b, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == wire.CloseUnsupportedVersion {
		return wire.Envelope{}, fmt.Errorf("%w: %w", ErrUnsupportedVersion, err)
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

// ID is this peer's ID on the broker.
func (c *Conn) ID() string { return c.id }

// Recv delivers routed messages, "left" notices and errors, each
// validated with wire.DecodeEnvelope. It is closed when the connection
// ends; Err then says why. The caller must keep receiving: while Recv is
// full the connection reads nothing, answers no pings, and the broker
// drops it after its pong timeout.
func (c *Conn) Recv() <-chan wire.Envelope { return c.recv }

// Err says why the connection ended, nil while it is open: ErrClosed after
// Close, an error wrapping ErrGoingAway when the server shut down, one
// wrapping the *websocket.CloseError for another close code, or the
// failed read or write.
func (c *Conn) Err() error {
	select {
	case <-c.readDone:
		return c.err
	default:
		return nil
	}
}

func (c *Conn) readLoop() {
	var err error
	for {
		var b []byte
		if _, b, err = c.ws.ReadMessage(); err != nil {
			break
		}
		c.ws.SetReadDeadline(time.Now().Add(silenceLimit))
		env, derr := wire.DecodeEnvelope(b)
		if derr != nil {
			c.log.Warn("dropping a malformed message from the signaling server", "err", derr)
			continue
		}
		switch env.Type {
		case wire.TypeMessage, wire.TypeLeft, wire.TypeError:
		default:
			c.log.Warn("dropping an unexpected message from the signaling server", "type", env.Type)
			continue
		}
		select {
		case c.recv <- env:
		case <-c.quit: // nobody is listening any more; read on until the close
		}
	}
	// Err reads c.err once readDone is closed, and whoever sees recv
	// closed has also seen readDone closed.
	c.err = c.closeReason(err)
	close(c.readDone)
	close(c.recv)
}

func (c *Conn) closeReason(err error) error {
	var ce *websocket.CloseError
	switch {
	case c.closing.Load():
		return ErrClosed
	case c.writeFailure() != nil:
		return c.writeFailure()
	case errors.As(err, &ce) && ce.Code == wire.CloseGoingAway:
		return fmt.Errorf("%w: %w", ErrGoingAway, err)
	case errors.As(err, &ce) && ce.Code == wire.CloseUnsupportedVersion:
		return fmt.Errorf("%w: %w", ErrUnsupportedVersion, err)
	case errors.As(err, &ce):
		return fmt.Errorf("the signaling server closed the connection: %w", err)
	}
	return fmt.Errorf("read from signaling server: %w", err)
}

func (c *Conn) onPing(data string) error {
	c.ws.SetReadDeadline(time.Now().Add(silenceLimit))
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
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
// Err reports the failure.
func (c *Conn) Send(ctx context.Context, to string, data json.RawMessage) error {
	b, err := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: data})
	if err != nil {
		return fmt.Errorf("encode message to %s: %w", to, err)
	}
	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("send to signaling server: %w", context.Cause(ctx))
	case <-c.readDone:
		return c.err // already says what ended the connection
	}
	defer func() { <-c.wlock }()
	if c.closing.Load() {
		return ErrClosed
	}
	if err := c.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send to signaling server: %w", context.Cause(ctx))
	}
	deadline := time.Now().Add(writeWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		if c.closing.Load() {
			return ErrClosed
		}
		if errors.Is(err, websocket.ErrCloseSent) {
			// The server closed first (gorilla answered its close frame);
			// the reader is about to say why.
			<-c.readDone
			return c.err
		}
		err = fmt.Errorf("send to signaling server: %w", err)
		c.failMu.Lock()
		if c.failure == nil {
			c.failure = err
		}
		c.failMu.Unlock()
		c.ws.Close() // gorilla keeps a failed write's error: this socket is done
		return err
	}
	return nil
}

func (c *Conn) writeFailure() error {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	return c.failure
}

// Close says goodbye to the broker with a normal close frame, gives it a
// moment to answer, and waits for the reader to end. Messages not yet
// taken from Recv are dropped. Close is idempotent and always returns nil.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		close(c.quit)
		// A close handshake rather than a bare TCP close lets the broker
		// see a clean goodbye.
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait)); err == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-c.readDone:
			case <-t.C:
			}
			t.Stop()
		}
		c.ws.Close()
	})
	<-c.readDone
	return nil
}
