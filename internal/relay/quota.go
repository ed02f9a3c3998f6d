package relay

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// pendingTTL is how long an admitted Allocate may take to become an
// allocation before its slot is given back. pion creates the allocation
// right after the quota check, in the same goroutine, so a slot still
// pending after this long belongs to an Allocate that failed.
const pendingTTL = 30 * time.Second

// slot is one allocation counted against its user and client IP.
type slot struct {
	user  string
	ip    netip.Addr
	since time.Time // when admitted; pending slots only
}

// tracker counts allocations per user and per client IP for the quotas.
//
// pion asks the QuotaHandler before it creates an allocation and reports
// the creation later, and Allocates from different TCP connections run
// concurrently: counting only created allocations would let a burst of
// them all pass the check. So admit reserves a pending slot at once,
// keyed by the client's transport address; the creation event makes it
// active, the deletion event frees it. An Allocate that fails after the
// check (no relay port free, TCP relaying refused) ends in pion's
// OnAllocationError for the same address, which frees the pending slot;
// a pending slot still there at the next Allocate from that address, or
// after pendingTTL, is freed too.
type tracker struct {
	maxUser, maxIP int

	mu      sync.Mutex
	pending map[string]slot // by clientKey
	active  map[string]slot // by clientKey
	users   map[string]int  // pending and active slots per user
	ips     map[netip.Addr]int
}

func newTracker(maxUser, maxIP int) *tracker {
	t := &tracker{maxUser: maxUser, maxIP: maxIP}
	t.reset()
	return t
}

// reset forgets everything; Close calls it once pion is gone.
func (t *tracker) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = make(map[string]slot)
	t.active = make(map[string]slot)
	t.users = make(map[string]int)
	t.ips = make(map[netip.Addr]int)
}

// admit reserves a slot for an Allocate of user from src, or returns
// the refusal reason.
func (t *tracker) admit(user string, src net.Addr) string {
	key, ip, now := clientKey(src), addrIP(src), time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.pending[key]; ok { // an earlier Allocate from src failed
		t.drop(t.pending, key, old)
	}
	for k, p := range t.pending {
		if now.Sub(p.since) > pendingTTL {
			t.drop(t.pending, k, p)
		}
	}
	switch {
	case t.users[user] >= t.maxUser:
		return reasonUserQuota
	case t.ips[ip] >= t.maxIP:
		return reasonIPQuota
	}
	t.add(t.pending, key, slot{user: user, ip: ip, since: now})
	return ""
}

// created makes the pending slot of src active.
func (t *tracker) created(src net.Addr, user string) {
	key := clientKey(src)
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.active[key]; ok { // never seen; keep the counts right
		t.drop(t.active, key, old)
	}
	if p, ok := t.pending[key]; ok {
		delete(t.pending, key)
		t.active[key] = p
		return
	}
	t.add(t.active, key, slot{user: user, ip: addrIP(src)}) // pending slot expired
}

// deleted frees the slot of the allocation of src.
func (t *tracker) deleted(src net.Addr) {
	key := clientKey(src)
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.active[key]; ok {
		t.drop(t.active, key, s)
	}
}

// failed frees the pending slot of src, if any: a request from src
// failed, and requests from one address are handled one at a time.
func (t *tracker) failed(src net.Addr) {
	key := clientKey(src)
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.pending[key]; ok {
		t.drop(t.pending, key, s)
	}
}

// holds reports whether src has an allocation made by user.
func (t *tracker) holds(src net.Addr, user string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.active[clientKey(src)]
	return ok && s.user == user
}

// count is the number of allocations.
func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.active)
}

func (t *tracker) add(m map[string]slot, key string, s slot) {
	m[key] = s
	t.users[s.user]++
	t.ips[s.ip]++
}

func (t *tracker) drop(m map[string]slot, key string, s slot) {
	delete(m, key)
	if t.users[s.user]--; t.users[s.user] <= 0 {
		delete(t.users, s.user)
	}
	if t.ips[s.ip]--; t.ips[s.ip] <= 0 {
		delete(t.ips, s.ip)
	}
}

// clientKey names a client's transport address: a UDP and a TCP client
// may have the same IP and port.
func clientKey(a net.Addr) string { return a.Network() + " " + a.String() }

// addrIP is the IP of a UDP or TCP address.
func addrIP(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		ap, _ := netip.ParseAddrPort(a.String())
		return ap.Addr().Unmap()
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}
