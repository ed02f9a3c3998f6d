package rendezvous

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/epicshare/epicshare/internal/wire"
)

// client is one connected peer: its socket's reader (the HTTP handler's
// goroutine) and writer, its limits, and its contacts. It is the Hub's
// Member for its ID.
type client struct {
	b    *Broker
	id   string
	conn *websocket.Conn
	send *queue // bounded, for the writer goroutine
	host string // the Host of its handshake, for its ICE servers

	mu sync.Mutex
	// contacts are the peers this one exchanged messages with: they are
	// told when it leaves.
	contacts map[string]struct{}
	replaced bool // a newer socket took the ID over

	limit      *rate.Limiter
	lastNotice time.Time // when it was last told it is rate limited

	once      sync.Once
	done      chan struct{} // closed to stop the writer
	closeCode int
	closeText string
}

func newClient(b *Broker, conn *websocket.Conn, host string) *client {
	return &client{
		b: b, conn: conn, send: newQueue(b.cfg.SendQueue), host: host,
		contacts: map[string]struct{}{}, done: make(chan struct{}),
		limit: rate.NewLimiter(rate.Limit(b.cfg.MessageRate), b.cfg.MessageBurst),
	}
}

// Receive queues an envelope routed to this peer, keeping its contacts:
// whoever sends to it becomes one, and one that left is one no more.
func (c *client) Receive(env wire.Envelope) {
	switch env.Type {
	case wire.TypeMessage:
		if env.From != c.id {
			c.addContacts([]string{env.From})
		}
	case wire.TypeLeft:
		if !c.dropContact(env.Peer) {
			return // not a contact (any more): nothing to tell
		}
	}
	c.enqueue(env)
}

// Replace hands the ID over to a newer socket: this one stops speaking
// for it, gives up its contacts and closes as replaced.
func (c *client) Replace() []string {
	c.mu.Lock()
	c.replaced = true
	contacts := keys(c.contacts)
	c.contacts = nil
	c.mu.Unlock()
	c.b.forget(c)
	c.shutdown(wire.CloseReplaced, "a newer connection with the same token took over this peer ID")
	return contacts
}

func (c *client) isReplaced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replaced
}

func (c *client) addContacts(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.contacts == nil {
		return // replaced or gone
	}
	for _, id := range ids {
		c.contacts[id] = struct{}{}
	}
}

// dropContact forgets id and reports whether it was a contact.
func (c *client) dropContact(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.contacts[id]
	delete(c.contacts, id)
	return ok
}

// leave ends c's contacts and returns those to tell that it left: none
// if it was replaced (the ID lives on, and nobody is told).
func (c *client) leave() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaced {
		return nil
	}
	contacts := keys(c.contacts)
	c.contacts = nil
	return contacts
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (c *client) readLoop() {
	cfg := c.b.cfg
	c.conn.SetReadLimit(cfg.MaxMessageBytes)
	c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.b.log.Warn("peer sent an oversized message", "peer", c.id)
				c.b.metrics.refused.WithLabelValues(wire.CodeTooLarge).Inc()
			}
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
		if !c.limit.Allow() {
			c.b.metrics.refused.WithLabelValues(wire.CodeRateLimited).Inc()
			// Say so at most once a second: a flood must not turn into
			// a flood of replies.
			if now := time.Now(); now.Sub(c.lastNotice) >= time.Second {
				c.lastNotice = now
				c.refuse(wire.CodeRateLimited, "", "too many messages; slow down")
			}
			continue
		}
		if typ != websocket.TextMessage {
			c.refuse(wire.CodeBadMessage, "", "messages must be JSON text")
			continue
		}
		env, err := wire.DecodeEnvelope(msg)
		if err == nil && env.Type != wire.TypeSend {
			err = errors.New("peers may only send messages of type send")
		}
		if err != nil {
			c.refuse(wire.CodeBadMessage, "", err.Error())
			continue
		}
		c.b.route(c, env)
	}
}

func (c *client) refuse(code, to, msg string) {
	c.b.metrics.refused.WithLabelValues(code).Inc()
	c.enqueue(wire.Envelope{Type: wire.TypeError, Code: code, To: to, Message: msg})
}

// enqueue queues env for c's writer and reports whether it did; a full
// queue drops c.
func (c *client) enqueue(env wire.Envelope) bool {
	b, err := json.Marshal(env)
	if err != nil {
		c.b.log.Error("encode envelope", "err", err)
		return false
	}
	select {
	case <-c.done: // checked first: a peer being closed gets nothing more
		return false
	default:
	}
	if c.send.push(b) {
		return true
	}
	// Its writer is likely stuck in a write: closing the socket ends
	// that write now instead of after WriteWait.
	c.b.log.Warn("dropping a peer that does not read its messages", "peer", c.id)
	c.b.metrics.connRefused.WithLabelValues("slow-reader").Inc()
	c.shutdown(websocket.ClosePolicyViolation, "too slow")
	c.conn.Close()
	return false
}

// shutdown makes the writer send a close frame and close the socket,
// which also ends the reader.
func (c *client) shutdown(code int, text string) {
	c.once.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
	})
}

// renewal fires when credentials that expire at expires should be
// replaced: when three quarters of their life (from now) have passed,
// which leaves the peer time to use the new ones before the old expire.
// It returns nil for credentials that never expire.
func renewal(expires, now time.Time) <-chan time.Time {
	if expires.IsZero() {
		return nil
	}
	return time.After(max(expires.Sub(now)*3/4, time.Second))
}

func (c *client) writeLoop(renew <-chan time.Time) {
	defer c.b.wg.Done()
	cfg := c.b.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	defer c.conn.Close()
	for {
		select {
		case <-renew:
			servers, expires := cfg.ICE.ICEServers(c.host, c.id)
			renew = renewal(expires, time.Now())
			msg, err := json.Marshal(wire.Envelope{Type: wire.TypeICE, ICE: servers})
			if err != nil {
				c.b.log.Error("encode ICE servers", "err", err)
				continue
			}
			c.conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.send.ready:
			for _, msg := range c.send.take() {
				c.conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
				if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					c.shutdown(websocket.CloseAbnormalClosure, "")
					return
				}
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				c.shutdown(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
			c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(cfg.WriteWait))
			return
		}
	}
}

// queue is a bounded FIFO of encoded messages that holds no memory while
// empty, unlike a buffered channel of the same bound: most peers wait
// with nothing queued for minutes.
type queue struct {
	mu    sync.Mutex
	items [][]byte
	max   int
	ready chan struct{} // signalled when items were added
}

func newQueue(max int) *queue { return &queue{max: max, ready: make(chan struct{}, 1)} }

// push adds b unless max messages wait already.
func (q *queue) push(b []byte) bool {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // the writer has been told already
	}
	return true
}

// take removes and returns everything queued, oldest first.
func (q *queue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}
