package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// maxPermissions caps the peer IPs one allocation may have permissions
// for. A WebRTC peer needs a few: the addresses of the other peer's
// candidates.
const maxPermissions = 64

// minBurst is the smallest burst of a budget: a datagram larger than the
// burst could never pass.
const minBurst = 64 << 10

// maxReadErrors is how many read errors in a row readFrom retries.
const maxReadErrors = 100

// relays is the RelayAddressGenerator given to pion. It makes the relay
// sockets with pion's port-range generator and wraps each in a relayConn,
// which counts the bytes and spends the budget of the allocation's user.
// pion passes the user ID (the peer) to AllocatePacketConn, so one budget
// is shared by all of a user's allocations.
//
// It also mirrors each allocation's permissions, from pion's permission
// events, so that datagrams from peers without a permission, which pion
// drops, are neither counted nor charged: otherwise anyone could drain a
// user's budget by spraying its relay port.
type relays struct {
	gen     *turn.RelayAddressGeneratorPortRange
	rate    int64
	metrics *metrics
	notify  func()

	mu       sync.Mutex
	budgets  map[string]*budget    // by user
	byRelay  map[string]*relayConn // by relay address
	byClient map[string]*relayConn // by clientKey of the allocation's client
	open     int
}

type budget struct {
	lim  *rate.Limiter
	refs int
}

func newRelays(st settings, bandwidth int64, m *metrics, notify func()) (*relays, error) {
	r := &relays{
		gen: &turn.RelayAddressGeneratorPortRange{
			RelayAddress: st.public.AsSlice(),
			Address:      st.relay.String(),
			MinPort:      st.minPort,
			MaxPort:      st.maxPort,
		},
		rate: bandwidth, metrics: m, notify: notify,
		budgets:  make(map[string]*budget),
		byRelay:  make(map[string]*relayConn),
		byClient: make(map[string]*relayConn),
	}
	if err := r.gen.Validate(); err != nil {
		return nil, fmt.Errorf("%w: relay sockets: %v", ErrBadConfig, err)
	}
	return r, nil
}

// Validate is part of turn.RelayAddressGenerator; New validated already.
func (r *relays) Validate() error { return nil }

// AllocatePacketConn makes the relay socket of a UDP allocation.
func (r *relays) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := r.gen.AllocatePacketConn(conf)
	if err != nil {
		return nil, nil, fmt.Errorf("open relay socket: %w", err)
	}
	c := &relayConn{PacketConn: pc, owner: r, key: addr.String(), permitted: make(map[netip.Addr]bool)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rate > 0 {
		b := r.budgets[conf.UserID]
		if b == nil {
			b = &budget{lim: rate.NewLimiter(rate.Limit(r.rate), int(max(r.rate, minBurst)))}
			r.budgets[conf.UserID] = b
		}
		b.refs++
		c.budget, c.user = b.lim, conf.UserID
	}
	r.byRelay[c.key] = c
	r.open++
	return c, addr, nil
}

// AllocateListener refuses TCP allocations (RFC 6062).
func (r *relays) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

// AllocateConn refuses TCP connections to peers (RFC 6062).
func (r *relays) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}

// attach records which client the relay socket at relay serves.
func (r *relays) attach(client, relay net.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.byRelay[relay.String()]; c != nil {
		c.client = clientKey(client)
		r.byClient[c.client] = c
	}
}

// permit mirrors pion's permission events.
func (r *relays) permit(relay net.Addr, peer net.IP, granted bool) {
	r.mu.Lock()
	c := r.byRelay[relay.String()]
	r.mu.Unlock()
	ip, ok := netip.AddrFromSlice(peer)
	if c == nil || !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if granted {
		c.permitted[ip.Unmap()] = true
	} else {
		delete(c.permitted, ip.Unmap())
	}
}

// room reports whether the allocation of client may get a permission for
// peer: it has one already, or fewer than maxPermissions.
func (r *relays) room(client net.Addr, peer net.IP) bool {
	r.mu.Lock()
	c := r.byClient[clientKey(client)]
	r.mu.Unlock()
	ip, _ := netip.AddrFromSlice(peer)
	if c == nil {
		return true // no allocation: pion refuses the request itself
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.permitted[ip.Unmap()] || len(c.permitted) < maxPermissions
}

func (r *relays) release(c *relayConn) {
	r.mu.Lock()
	if r.byRelay[c.key] == c {
		delete(r.byRelay, c.key)
	}
	if r.byClient[c.client] == c {
		delete(r.byClient, c.client)
	}
	if b := r.budgets[c.user]; b != nil && c.budget != nil {
		if b.refs--; b.refs == 0 {
			delete(r.budgets, c.user)
		}
	}
	r.open--
	r.mu.Unlock()
	r.notify()
}

func (r *relays) openCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open
}

// relayConn is the relay socket of one allocation: to-peer traffic is
// what pion writes to it, from-peer what pion reads from it.
type relayConn struct {
	net.PacketConn
	owner  *relays
	key    string        // relay address
	client string        // clientKey, once attached
	user   string        // owner of budget
	budget *rate.Limiter // nil: unlimited
	once   sync.Once

	mu        sync.RWMutex
	permitted map[netip.Addr]bool
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := readFrom(c.PacketConn, p)
		if err != nil || !c.isPermitted(from) {
			return n, from, err // pion drops a datagram from an unpermitted peer
		}
		if !c.spend(n) {
			c.owner.metrics.dropped.Add(float64(n))
			continue
		}
		c.owner.metrics.fromPeer.Add(float64(n))
		return n, from, nil
	}
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.spend(len(p)) {
		c.owner.metrics.dropped.Add(float64(len(p)))
		return len(p), nil // lost, as UDP may be
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.owner.metrics.toPeer.Add(float64(n))
	return n, err
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(func() { c.owner.release(c) })
	return err
}

func (c *relayConn) spend(n int) bool {
	return c.budget == nil || c.budget.AllowN(time.Now(), n)
}

func (c *relayConn) isPermitted(from net.Addr) bool {
	ip := addrIP(from)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.permitted[ip]
}

// readFrom reads a datagram, retrying errors other than a closed socket:
// pion ends a read loop at its first error, and a UDP socket can report
// a past ICMP error on some systems (WSAECONNRESET on Windows).
func readFrom(pc net.PacketConn, p []byte) (n int, addr net.Addr, err error) {
	for range maxReadErrors {
		n, addr, err = pc.ReadFrom(p)
		if err == nil || errors.Is(err, net.ErrClosed) {
			return n, addr, err
		}
	}
	return n, addr, err
}
