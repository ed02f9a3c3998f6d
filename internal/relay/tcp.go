package relay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

const (
	// maxTCPConns caps the TURN-over-TCP connections of the whole server;
	// pion runs a goroutine for each.
	maxTCPConns = 4096
	// tcpIdle closes a TCP connection silent for this long. pion grants
	// allocation lifetimes under an hour and a client refreshes before
	// the end, so a connection that holds an allocation always speaks
	// sooner; one that never allocates is bounded by the caps meanwhile.
	tcpIdle = time.Hour
	// acceptBackoff bounds the pause after a failed Accept.
	acceptBackoff = time.Second
)

// tcpListener is the TURN-over-TCP listener given to pion. pion's accept
// loop ends at the first Accept error and leaves the connections it
// accepted open when the server closes; tcpListener retries transient
// errors (too many open files), caps connections per client IP and in
// all, and closes the connections at Close.
type tcpListener struct {
	net.Listener
	perIP  int
	refuse func(reason string, args ...any)
	notify func()
	done   chan struct{} // closed by closeConns

	mu      sync.Mutex
	conns   map[*tcpConn]bool
	byIP    map[netip.Addr]int
	stopped bool // pion's accept loop has ended
}

func newTCPListener(ln net.Listener, perIP int, refuse func(string, ...any), notify func()) *tcpListener {
	return &tcpListener{
		Listener: ln, perIP: perIP, refuse: refuse, notify: notify,
		done:  make(chan struct{}),
		conns: make(map[*tcpConn]bool),
		byIP:  make(map[netip.Addr]int),
	}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	pause := 5 * time.Millisecond
	for {
		conn, err := l.Listener.Accept()
		switch {
		case errors.Is(err, net.ErrClosed):
			l.mu.Lock()
			l.stopped = true
			l.mu.Unlock()
			l.notify()
			return nil, err
		case err != nil:
			select {
			case <-time.After(pause):
			case <-l.done:
			}
			pause = min(2*pause, acceptBackoff)
			continue
		}
		pause = 5 * time.Millisecond
		if c := l.admit(conn); c != nil {
			return c, nil
		}
	}
}

// admit wraps conn, or closes it when a cap is reached.
func (l *tcpListener) admit(conn net.Conn) *tcpConn {
	ip := addrIP(conn.RemoteAddr())
	l.mu.Lock()
	reason := ""
	switch {
	case l.closing():
		l.mu.Unlock()
		conn.Close() // accepted as the server closed
		return nil
	case len(l.conns) >= maxTCPConns:
		reason = reasonCapacity
	case l.byIP[ip] >= l.perIP:
		reason = reasonIPQuota
	}
	if reason != "" {
		l.mu.Unlock()
		// Counted before the close, which the client sees: whoever looks
		// at the figures after that finds the refusal there.
		l.refuse(reason, "client", conn.RemoteAddr(), "transport", "tcp")
		conn.Close()
		return nil
	}
	c := &tcpConn{Conn: conn, owner: l, ip: ip}
	l.conns[c] = true
	l.byIP[ip]++
	l.mu.Unlock()
	return c
}

// closeConns closes every connection; pion's goroutines then close them
// again through tcpConn.Close, which is when they are forgotten.
func (l *tcpListener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing() {
		return
	}
	close(l.done)
	for c := range l.conns {
		c.Conn.Close()
	}
}

// closing reports whether closeConns has run; l.mu is held.
func (l *tcpListener) closing() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *tcpListener) forget(c *tcpConn) {
	l.mu.Lock()
	delete(l.conns, c)
	if l.byIP[c.ip]--; l.byIP[c.ip] <= 0 {
		delete(l.byIP, c.ip)
	}
	l.mu.Unlock()
	l.notify()
}

// idle reports whether pion's accept loop and connection goroutines are
// done.
func (l *tcpListener) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped && len(l.conns) == 0
}

// tcpConn is one TURN-over-TCP connection.
type tcpConn struct {
	net.Conn
	owner *tcpListener
	ip    netip.Addr
	once  sync.Once
}

func (c *tcpConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(tcpIdle))
	return c.Conn.Read(p)
}

// Close is called by pion as its goroutine for the connection ends.
func (c *tcpConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.owner.forget(c) })
	return err
}
