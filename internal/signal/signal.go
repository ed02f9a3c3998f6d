// Package signal is the app's client of the broker (package rendezvous):
// it connects with the protocol version, learns its peer ID, sends
// messages to other peers by ID and delivers what the broker routes back.
package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/wire"
)

var (
	// ErrUnsupportedVersion: the server speaks another protocol version.
	ErrUnsupportedVersion = errors.New("the signaling server speaks another protocol version; update EpicShare")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("signaling connection closed")
)

// Options tune Dial.
type Options struct {
	Logger *slog.Logger
	Header http.Header // extra HTTP headers for the handshake, e.g. Origin
}

const (
	writeWait    = 10 * time.Second
	readLimit    = 1 << 20
	silenceLimit = 90 * time.Second // the broker pings every 20 s
)

// Conn is a connection to the broker. Send is safe for concurrent use.
type Conn struct {
	ws   *websocket.Conn
	id   string
	log  *slog.Logger
	recv chan wire.Envelope

	wmu       sync.Mutex
	closing   bool  // Close was called; guarded by wmu
	err       error // set before recv is closed
	closeOnce sync.Once
	readDone  chan struct{}
}

// Dial connects to the broker at server (its base URL) and waits for the
// welcome that names this peer.
func Dial(ctx context.Context, server *url.URL, opts Options) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := wire.SocketURL(server)
	d := websocket.Dialer{Subprotocols: []string{wire.Subprotocol}, HandshakeTimeout: 15 * time.Second}
	ws, resp, err := d.DialContext(ctx, addr, opts.Header)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, fmt.Errorf("connect to signaling server %s: %w", addr, err)
	}
	if ws.Subprotocol() != wire.Subprotocol {
		ws.Close()
		return nil, fmt.Errorf("connect to signaling server %s: %w", addr, ErrUnsupportedVersion)
	}
	ws.SetReadLimit(readLimit)
	deadline := time.Now().Add(15 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ws.SetReadDeadline(deadline)
	env, err := readEnvelope(ws)
	if err != nil || env.Type != wire.TypeWelcome {
		ws.Close()
		if err == nil {
			err = fmt.Errorf("expected a welcome, got %q", env.Type)
		}
		return nil, fmt.Errorf("connect to signaling server %s: %w", addr, err)
	}
	c := &Conn{ws: ws, id: env.ID, log: log, recv: make(chan wire.Envelope, 16), readDone: make(chan struct{})}
	// The broker pings; a silent broker is a dead one.
	ws.SetReadDeadline(time.Now().Add(silenceLimit))
	ws.SetPingHandler(func(data string) error {
		ws.SetReadDeadline(time.Now().Add(silenceLimit))
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	go c.readLoop()
	return c, nil
}

func readEnvelope(ws *websocket.Conn) (wire.Envelope, error) {
	_, b, err := ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == wire.CloseUnsupportedVersion {
			return wire.Envelope{}, ErrUnsupportedVersion
		}
		return wire.Envelope{}, err
	}
	return wire.DecodeEnvelope(b)
}

// ID is this peer's ID on the broker.
func (c *Conn) ID() string { return c.id }

// Recv delivers routed messages, "left" notices and errors. It is closed
// when the connection ends; Err then says why.
func (c *Conn) Recv() <-chan wire.Envelope { return c.recv }

// Err says why the connection ended; nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.readDone:
		return c.err
	default:
		return nil
	}
}

func (c *Conn) readLoop() {
	defer close(c.readDone)
	defer close(c.recv)
	for {
		env, err := readEnvelope(c.ws)
		if errors.Is(err, wire.ErrBadEnvelope) {
			c.log.Warn("dropping malformed message from the signaling server", "err", err)
			continue
		}
		if err != nil {
			c.err = c.closeReason(err)
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(silenceLimit))
		c.recv <- env
	}
}

func (c *Conn) closeReason(err error) error {
	var ce *websocket.CloseError
	switch {
	case c.closedLocally():
		return ErrClosed
	case errors.As(err, &ce) && ce.Code == wire.CloseGoingAway:
		return errors.New("the signaling server shut down")
	case errors.As(err, &ce):
		return fmt.Errorf("the signaling server closed the connection: %s (%d)", ce.Text, ce.Code)
	}
	return fmt.Errorf("lost the signaling server: %w", err)
}

func (c *Conn) closedLocally() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closing
}

// Send asks the broker to deliver data to the peer with ID to.
func (c *Conn) Send(ctx context.Context, to string, data json.RawMessage) error {
	b, err := json.Marshal(wire.Envelope{Type: wire.TypeSend, To: to, Data: data})
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return ErrClosed
	}
	deadline := time.Now().Add(writeWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("send to signaling server: %w", err)
	}
	return nil
}

// Close says goodbye to the broker and waits for the reader to end.
// Messages not yet taken from Recv are dropped.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		c.closing = true
		c.wmu.Unlock()
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.ws.Close()
		go func() {
			for range c.recv { // let a reader blocked on delivery finish
			}
		}()
	})
	<-c.readDone
	return nil
}
