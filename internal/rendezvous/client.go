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

// client is one connected peer: its socket's reader, its writer (a
// goroutine that runs only while something waits to be written), its
// limits, and its contacts. It is the Hub's Member for its ID.
//
// An idle peer has one goroutine, blocked reading: pings and credential
// renewals are timers that start the writer when they fire. Most peers
// wait for minutes with nothing to say, and a second stack per socket
// was a quarter of a node's memory per peer.
type client struct {
	b    *Broker
	id   string
	conn *websocket.Conn
	send *queue // what the writer is to write, bounded
	host string // the Host of its handshake, for its ICE servers

	mu sync.Mutex
	// contacts are the peers this one exchanged messages with: they are
	// told when it leaves. Made on first use.
	contacts map[string]struct{}
	replaced bool // a newer socket took the ID over
	gone     bool // left or replaced: no more contacts

	limit      *rate.Limiter
	lastNotice time.Time // when it was last told it is rate limited

	ping, renew *time.Timer // nil until started
	stopped     bool        // the timers are stopped for good
}

func newClient(b *Broker, conn *websocket.Conn, host string) *client {
	c := &client{
		b: b, conn: conn, host: host,
		limit: rate.NewLimiter(rate.Limit(b.cfg.MessageRate), b.cfg.MessageBurst),
	}
	c.send = &queue{max: b.cfg.SendQueue, start: c.startWriter}
	return c
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
	c.replaced, c.gone = true, true
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
	if c.gone {
		return
	}
	if c.contacts == nil {
		c.contacts = make(map[string]struct{}, len(ids))
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
	c.contacts, c.gone = nil, true
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
	switch c.send.push(b) {
	case queued:
		return true
	case closing: // a peer being closed gets nothing more
		return false
	}
	// Its writer is likely stuck in a write: closing the socket ends
	// that write now instead of after WriteWait.
	c.b.log.Warn("dropping a peer that does not read its messages", "peer", c.id)
	c.b.metrics.connRefused.WithLabelValues("slow-reader").Inc()
	c.shutdown(websocket.ClosePolicyViolation, "too slow")
	c.conn.Close()
	return false
}

// shutdown makes the writer send a close frame, after what is queued,
// and close the socket, which also ends the reader. Only the first call
// counts.
func (c *client) shutdown(code int, text string) {
	c.send.close(websocket.FormatCloseMessage(code, text))
}

// startTimers starts c's pings and, for credentials that expire at
// expires, their renewals. Each tick only queues a message.
func (c *client) startTimers(expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ping = time.AfterFunc(c.b.cfg.PingInterval, c.pingTick)
	if d, ok := renewal(expires, time.Now()); ok {
		c.renew = time.AfterFunc(d, c.renewTick)
	}
}

func (c *client) pingTick() {
	if c.send.push(pingFrame) == queued {
		c.rearm(&c.ping, c.b.cfg.PingInterval)
	}
}

func (c *client) renewTick() {
	servers, expires := c.b.cfg.ICE.ICEServers(c.host, c.id)
	if !c.enqueue(wire.Envelope{Type: wire.TypeICE, ICE: servers}) {
		return
	}
	if d, ok := renewal(expires, time.Now()); ok {
		c.rearm(&c.renew, d)
	}
}

// rearm resets *t, read under c.mu: startTimers may still be setting it
// when a short timer fires.
func (c *client) rearm(t **time.Timer, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		(*t).Reset(d)
	}
}

// stopTimers stops c's pings and renewals for good.
func (c *client) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for _, t := range []*time.Timer{c.ping, c.renew} {
		if t != nil {
			t.Stop()
		}
	}
}

// renewal says how long until credentials that expire at expires should
// be replaced: when three quarters of their life (from now) have passed,
// which leaves the peer time to use the new ones before the old expire.
// It reports false for credentials that never expire.
func renewal(expires, now time.Time) (time.Duration, bool) {
	if expires.IsZero() {
		return 0, false
	}
	return max(expires.Sub(now)*3/4, time.Second), true
}

// startWriter runs the writer; the queue calls it, holding its lock, when
// the first item arrives and no writer runs. Counting it in the broker's
// WaitGroup under that lock orders it before the reader's own count is
// released (the reader closes the queue first).
func (c *client) startWriter() {
	c.b.wg.Add(1)
	go c.writeLoop()
}

// writeLoop writes what is queued, oldest first, and returns once the
// queue is empty, or after the close frame.
func (c *client) writeLoop() {
	defer c.b.wg.Done()
	wait := c.b.cfg.WriteWait
	for {
		items, closeMsg, more := c.send.take()
		for _, msg := range items {
			var err error
			if msg == nil {
				err = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wait))
			} else {
				c.conn.SetWriteDeadline(time.Now().Add(wait))
				err = c.conn.WriteMessage(websocket.TextMessage, msg)
			}
			if err != nil {
				c.send.close(nil)
				c.send.take() // and drop the rest: nobody will read it
				c.stopTimers()
				c.conn.Close()
				return
			}
		}
		if closeMsg != nil {
			c.stopTimers()
			c.conn.WriteControl(websocket.CloseMessage, closeMsg, time.Now().Add(wait))
			c.conn.Close()
			return
		}
		if !more {
			return
		}
	}
}

// pingFrame in a queue stands for a ping: no JSON encodes to nil.
var pingFrame []byte

type pushResult int

const (
	queued  pushResult = iota
	full               // max items wait already
	closing            // the close frame is queued: nothing more
)

// queue is a bounded FIFO of encoded messages for one socket's writer.
// It holds no memory and no goroutine while empty, unlike a buffered
// channel and a writer waiting on it: most peers wait with nothing
// queued for minutes.
type queue struct {
	mu       sync.Mutex
	items    [][]byte
	max      int
	writing  bool   // a writer runs, and will take what is pushed
	closeMsg []byte // the close frame, once closed
	closed   bool
	start    func() // starts a writer, called holding mu
}

// push adds b, starting a writer if none runs.
func (q *queue) push(b []byte) pushResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return closing
	case len(q.items) >= q.max:
		return full
	}
	q.items = append(q.items, b)
	q.wake()
	return queued
}

// close queues the close frame msg (nil: none, the socket failed) after
// what waits already; later pushes are refused. Only the first call
// counts.
func (q *queue) close(msg []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed, q.closeMsg = true, msg
	if msg != nil {
		q.wake()
	}
}

func (q *queue) wake() {
	if !q.writing {
		q.writing = true
		q.start()
	}
}

// take removes and returns everything queued, oldest first, with the
// close frame if it is queued. more is false when there was nothing
// left: the writer is to return, and the next push starts another.
func (q *queue) take() (items [][]byte, closeMsg []byte, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items, closeMsg = q.items, q.closeMsg
	q.items, q.closeMsg = nil, nil
	if len(items) == 0 && closeMsg == nil {
		q.writing = false
		return nil, nil, false
	}
	return items, closeMsg, true
}
