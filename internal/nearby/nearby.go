// Package nearby finds EpicShare devices on the local network with
// mDNS and DNS-SD (RFC 6762, RFC 6763, through pion/mdns): each app that
// is visible announces an instance of _epicshare._tcp whose SRV record
// names its built-in broker and whose TXT record names its nearby inbox
// (a receive link on that broker, see Announcement), and browses for the
// others.
//
//	app A (visible)                 LAN                  app B (browsing)
//	  |                              |                        |
//	  |<------- PTR? _epicshare._tcp.local (every second) ----|
//	  |-- PTR, SRV (port), TXT (id, name, inbox), A --------->|
//	  |                              |        B checks A's broker answers,
//	  |                              |        lists "A's name"
//	  |                              |                        |
//	  |<== the person on B picks A: B opens A's inbox link ===|
//
// pion/mdns reports an instance once per browse and never says that one
// went away (it sends no goodbyes either), so a Node browses in rounds:
// each round is a fresh browse, and a device that answered none of the
// last two rounds is gone. What a record says is not trusted: a device
// is listed only once its broker answers, the ID it claims is proven in
// the handshake, and the receiving person decides.
package nearby

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/mdns/v2"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/epicshare/epicshare/internal/wire"
)

// Defaults of Config.
const (
	DefaultRound = 2 * time.Second
	// MaxDevices bounds the devices a Node lists, and the new ones it
	// checks in a round: a flood of announcements grows neither.
	MaxDevices = 64
	// missedRounds rounds without an answer make a device gone.
	missedRounds = 2
	checkTimeout = time.Second
)

// ErrNoNetwork: no interface other devices could reach this one on.
var ErrNoNetwork = errors.New("no network interface to find nearby devices on")

// Config configures a Node.
type Config struct {
	// Interfaces names the network interfaces to announce and browse on;
	// by default every interface that is up, multicast and not loopback.
	Interfaces []string
	Logger     *slog.Logger
	// Round is how long one browse lasts (DefaultRound); a device is gone
	// after two rounds without an answer.
	Round time.Duration
	// OnChange, if set, is called from the Node's goroutine whenever the
	// list of devices changed. It must not block.
	OnChange func()
	// Dial, if set, opens the connections that check a device's broker
	// (net.Dialer's by default).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Device is an EpicShare device found on the network.
type Device struct {
	Announcement
	Addr netip.AddrPort // its broker
	Link wire.Link      // its nearby inbox: a receive link on that broker
}

// Node announces this device, when asked to, and lists the others.
type Node struct {
	cfg    Config
	log    *slog.Logger
	conn   *mdns.Conn
	ifaces []net.Interface
	http   *http.Client
	self   string // this device's ID, never listed
	host   string // its .local name

	mu       sync.Mutex
	devices  map[string]*entry // by device ID
	round    int
	closed   bool
	announce *Announcement

	stop chan struct{}
	done chan struct{}
}

// entry is a device and when it last answered.
type entry struct {
	dev      Device
	lastSeen int                    // round
	seen     map[netip.AddrPort]int // its addresses (no zone), and the round each was last heard
	checked  bool                   // its broker answered, at dev.Addr
	checking bool
}

// maxAddrs bounds the addresses kept per device.
const maxAddrs = 4

// better says whether a is the address to prefer over b: IPv4, which
// needs no zone, over IPv6.
func better(a, b netip.AddrPort) bool { return a.Addr().Is4() && !b.Addr().Is4() }

// Start starts browsing on the configured interfaces; self is this
// device's ID, which is never listed (its own announcement comes back).
// It fails with ErrNoNetwork on a machine with loopback only.
func Start(cfg Config, self string) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Round <= 0 {
		cfg.Round = DefaultRound
	}
	ifaces, err := interfaces(cfg.Interfaces)
	if err != nil {
		return nil, err
	}
	host := newHostName()
	conn, err := listen(ifaces, host, cfg.Logger)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger, conn: conn, ifaces: ifaces, self: self, host: host,
		http: &http.Client{Timeout: checkTimeout, Transport: &http.Transport{
			Proxy: nil, DisableKeepAlives: true, DialContext: cfg.Dial,
		}},
		devices: map[string]*entry{},
		stop:    make(chan struct{}), done: make(chan struct{}),
	}
	conn.OnServiceDiscovered(n.found)
	go n.run()
	return n, nil
}

// interfaces returns the interfaces to use: those named, or every one
// that is up, multicast and not loopback, with an address.
func interfaces(names []string) ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []net.Interface
	for _, ifc := range all {
		if len(names) > 0 {
			if slices.Contains(names, ifc.Name) {
				out = append(out, ifc)
			}
			continue
		}
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagMulticast == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if addrs, err := ifc.Addrs(); err == nil && len(addrs) > 0 {
			out = append(out, ifc)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoNetwork
	}
	return out, nil
}

// listen opens the mDNS sockets, IPv4 and IPv6 (either may fail on a
// machine without that family), on ifaces only.
func listen(ifaces []net.Interface, host string, log *slog.Logger) (*mdns.Conn, error) {
	var v4 *ipv4.PacketConn
	var v6 *ipv6.PacketConn
	if a, err := net.ResolveUDPAddr("udp4", mdns.DefaultAddressIPv4); err == nil {
		if l, err := net.ListenUDP("udp4", a); err == nil {
			v4 = ipv4.NewPacketConn(l)
		} else {
			log.Debug("no IPv4 mDNS", "err", err)
		}
	}
	if a, err := net.ResolveUDPAddr("udp6", mdns.DefaultAddressIPv6); err == nil {
		if l, err := net.ListenUDP("udp6", a); err == nil {
			v6 = ipv6.NewPacketConn(l)
		} else {
			log.Debug("no IPv6 mDNS", "err", err)
		}
	}
	if v4 == nil && v6 == nil {
		return nil, fmt.Errorf("%w: cannot listen for mDNS", ErrNoNetwork)
	}
	conn, err := mdns.NewServer(v4, v6,
		mdns.WithInterfaces(ifaces...),
		mdns.WithLoggerFactory(quietLogs{}),
		mdns.WithLocalNames(host),
	)
	if err != nil {
		if v4 != nil {
			v4.Close()
		}
		if v6 != nil {
			v6.Close()
		}
		return nil, fmt.Errorf("start mDNS: %w", err)
	}
	return conn, nil
}

// newHostName makes the .local name a Node answers A and AAAA queries
// for: its own, so that it never claims the machine's, nor shares one
// with another Node.
func newHostName() string {
	sum := sha256.Sum256([]byte(wire.NewPeerID()))
	return "epicshare-" + hex.EncodeToString(sum[:6]) + ".local"
}

// Announce makes this device visible as a, replacing what it announced
// before.
func (n *Node) Announce(a Announcement) error {
	a.Name = CleanName(a.Name)
	if err := a.check(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("nearby: closed")
	}
	if n.announce != nil {
		n.conn.Unregister(n.announce.instance(), Service)
	}
	err := n.conn.Register(mdns.ServiceInstance{
		Instance: a.instance(), Service: Service, Host: n.host + ".",
		Port: uint16(a.Port), Text: a.txt(),
	})
	if err != nil {
		n.announce = nil
		return fmt.Errorf("announce: %w", err)
	}
	n.announce = &a
	return nil
}

// Hide stops announcing: other devices drop this one within two rounds.
func (n *Node) Hide() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.announce != nil && !n.closed {
		n.conn.Unregister(n.announce.instance(), Service)
	}
	n.announce = nil
}

// Devices returns the devices found, by name (then ID).
func (n *Node) Devices() []Device {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Device
	for _, e := range n.devices {
		if e.checked {
			out = append(out, e.dev)
		}
	}
	slices.SortFunc(out, func(a, b Device) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Close stops announcing and browsing.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	<-n.done
	return n.conn.Close()
}

// run browses in rounds until Close.
func (n *Node) run() {
	defer close(n.done)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		if err := n.conn.Browse(ctx, Service); err != nil {
			n.log.Warn("browse for nearby devices", "err", err)
		}
		t := time.NewTimer(n.cfg.Round)
		select {
		case <-n.stop:
			t.Stop()
			cancel()
			return
		case <-t.C:
		}
		cancel()
		n.endRound()
	}
}

// found is pion/mdns's handler, on its read goroutines: it notes the
// device and returns at once.
func (n *Node) found(ev mdns.ServiceEvent) {
	a, err := decode(ev.Instance)
	if err != nil {
		n.log.Debug("ignoring an announcement", "instance", truncate(ev.Instance.Instance), "from", ev.Addr, "err", err)
		return
	}
	if a.ID == n.self {
		return
	}
	addr := netip.AddrPortFrom(ev.Addr, uint16(a.Port))
	if !usable(addr.Addr()) {
		n.log.Debug("ignoring an announcement with an address nobody can reach", "addr", ev.Addr)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.devices[a.ID]
	if e == nil {
		if len(n.devices) >= MaxDevices {
			return
		}
		e = &entry{}
		n.devices[a.ID] = e
	}
	switch {
	case e.dev.Announcement != a:
		// New, or changed: its broker is checked before it is listed.
		e.dev = Device{Announcement: a, Addr: addr, Link: link(addr, a)}
		e.checked, e.seen = false, nil
	case !sameAddr(e.dev.Addr, addr) && !e.checked && !e.checking && better(addr, e.dev.Addr):
		e.dev.Addr, e.dev.Link = addr, link(addr, a)
	}
	// A device that answers with an IPv4 and an IPv6 address comes
	// with each in turn: it stays listed at the one that was checked,
	// unless that one is no longer heard (see endRound).
	if e.seen == nil {
		e.seen = map[netip.AddrPort]int{}
	}
	if _, ok := e.seen[addr]; ok || len(e.seen) < maxAddrs {
		e.seen[addr] = n.round
	}
	e.lastSeen = n.round
	if !e.checked && !e.checking && !n.closed {
		e.checking = true
		go n.check(a.ID, e.dev)
	}
}

func usable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsLoopback()
}

func link(addr netip.AddrPort, a Announcement) wire.Link {
	return wire.Link{
		Kind:   wire.ReceiveLink,
		Server: &url.URL{Scheme: "http", Host: addr.String()},
		ID:     a.Inbox, Secret: a.Secret,
	}
}

// check lists a device once its broker answers at /healthz: an
// announcement naming a closed port, or a machine that runs no
// EpicShare broker, is never listed. An IPv6 link-local address comes
// without the interface it is on: each one is tried.
func (n *Node) check(id string, d Device) {
	var err error
	addr := d.Addr
	for _, a := range n.candidates(d.Addr) {
		if err = n.healthy(a); err == nil {
			addr = a
			break
		}
	}
	n.mu.Lock()
	e := n.devices[id]
	changed := false
	if e != nil && e.dev.Announcement == d.Announcement && sameAddr(e.dev.Addr, d.Addr) {
		if err == nil {
			e.dev.Addr, e.dev.Link = addr, link(addr, d.Announcement)
			e.checked, changed = true, true
		} else {
			n.log.Debug("a nearby device's broker does not answer", "device", id, "addr", d.Addr, "err", err)
		}
	}
	if e != nil {
		e.checking = false
	}
	n.mu.Unlock()
	if changed {
		n.changed()
	}
}

// candidates are the addresses to try for addr: itself, or, for an
// IPv6 link-local address without a zone, the address on each of the
// Node's interfaces.
func (n *Node) candidates(addr netip.AddrPort) []netip.AddrPort {
	ip := addr.Addr()
	if !ip.Is6() || !ip.IsLinkLocalUnicast() || ip.Zone() != "" {
		return []netip.AddrPort{addr}
	}
	var out []netip.AddrPort
	for _, ifc := range n.ifaces {
		out = append(out, netip.AddrPortFrom(ip.WithZone(ifc.Name), addr.Port()))
	}
	return out
}

func (n *Node) healthy(addr netip.AddrPort) error {
	// Built as a URL, not a string: an IPv6 zone is escaped (%25eth0).
	u := url.URL{Scheme: "http", Host: addr.String(), Path: "/healthz"}
	resp, err := n.http.Get(u.String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}

// sameAddr compares addresses without their zones: a checked device
// has the zone that answered, its announcements none.
func sameAddr(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().WithZone("") == b.Addr().WithZone("")
}

// endRound forgets the devices that answered none of the last rounds,
// and those whose broker did not answer (they may be checked again).
func (n *Node) endRound() {
	n.mu.Lock()
	changed := false
	for id, e := range n.devices {
		switch {
		case n.round-e.lastSeen >= missedRounds:
			delete(n.devices, id)
			changed = changed || e.checked
		case !e.checked && !e.checking:
			delete(n.devices, id) // checked and refused: try again when seen
		case e.checked && !e.checking:
			// Heard, but no longer at the address it is listed at (it
			// moved): check it at the best address heard lately.
			listed := netip.AddrPortFrom(e.dev.Addr.Addr().WithZone(""), e.dev.Addr.Port())
			if n.round-e.seen[listed] < missedRounds {
				break
			}
			var next netip.AddrPort
			for a, r := range e.seen {
				if n.round-r < missedRounds && (!next.IsValid() || better(a, next)) {
					next = a
				}
			}
			if next.IsValid() {
				e.dev.Addr, e.dev.Link = next, link(next, e.dev.Announcement)
				e.checked, e.checking, changed = false, true, true
				go n.check(id, e.dev)
			}
		}
	}
	n.round++
	n.mu.Unlock()
	if changed {
		n.changed()
	}
}

func (n *Node) changed() {
	if n.cfg.OnChange != nil {
		n.cfg.OnChange()
	}
}

// quietLogs drops pion/mdns's own logging: what matters is reported
// through the Node's logger.
type quietLogs struct{}

func (quietLogs) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("mdns", logging.LogLevelDisabled, discard{})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
