package relay

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// Defaults of Config.
const (
	DefaultAddr                  = ":3478"
	DefaultMinPort               = 49152
	DefaultMaxPort               = 65535
	DefaultTTL                   = 12 * time.Hour
	DefaultMaxAllocationsPerUser = 8
	DefaultMaxAllocationsPerIP   = 32
	// MinSecretLen is the shortest Config.Secret New accepts.
	MinSecretLen = 16
)

// Realm is the TURN realm the server announces. With TURN REST
// credentials it only enters the key derivation, which the client does
// with whatever realm the server sent.
const Realm = "epicshare"

// closeWait bounds how long Close waits for pion's goroutines.
const closeWait = 5 * time.Second

// Config configures a Server. Only Secret is required when Addr names a
// specific address; listening on all addresses also needs PublicIP or
// RelayIP.
type Config struct {
	// Logger receives refusals (debug), pion's own messages and errors;
	// nil discards. Passwords and the secret are never logged.
	Logger *slog.Logger
	// Secret is the HMAC key of the TURN REST scheme, shared with whoever
	// makes credentials (LoadOrCreateSecret); at least MinSecretLen bytes.
	Secret []byte
	// Addr is the IP:port of STUN and TURN over UDP and of TURN over TCP,
	// the same port for both (DefaultAddr). Port 0 picks a free one.
	Addr string
	// PublicIP is the address put in relay candidates (XOR-RELAYED-ADDRESS):
	// the one peers reach the relay sockets at. By default the listen IP,
	// or RelayIP when the relay listens on all addresses.
	PublicIP net.IP
	// RelayIP is where relay sockets bind; by default the listen IP, or
	// the unspecified address when the relay listens on all addresses.
	RelayIP net.IP
	// MinPort and MaxPort bound the relay sockets' ports (DefaultMinPort,
	// DefaultMaxPort).
	MinPort, MaxPort int
	// Host is the host name put in the ICE URLs; "" means the host the
	// peer reached the broker under.
	Host string
	// TTL is the lifetime of credentials (DefaultTTL).
	TTL time.Duration
	// MaxAllocationsPerUser caps the allocations of one user, the peer
	// part of the username (DefaultMaxAllocationsPerUser).
	MaxAllocationsPerUser int
	// MaxAllocationsPerIP caps the allocations, and the TURN-over-TCP
	// connections, from one client IP (DefaultMaxAllocationsPerIP).
	MaxAllocationsPerIP int
	// BandwidthPerUser is the budget in bytes per second of what the relay
	// sends and receives for one user, both directions and all its
	// allocations together; 0 means unlimited. Datagrams over budget are
	// dropped and counted.
	BandwidthPerUser int64
	// Allow lists peer ranges opened despite the permission policy; they
	// open the server's own addresses too (see policy).
	Allow []netip.Prefix
	// Now is the clock of credentials (time.Now).
	Now func() time.Time
}

// Server is a running STUN/TURN server. Its methods are safe for
// concurrent use.
type Server struct {
	log      *slog.Logger
	secret   []byte
	now      func() time.Time
	ttl      time.Duration
	host     string
	publicIP netip.Addr
	port     int

	udp     *servedConn
	tcp     *tcpListener
	turn    *turn.Server
	policy  *policy
	allocs  *tracker
	relays  *relays
	metrics *metrics

	changed   chan struct{} // signalled when something Close waits for ends
	closeOnce sync.Once
	closeErr  error
}

// New listens on UDP and TCP and serves until Close.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	st, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	own, err := ownAddresses(st)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log: cfg.Logger, secret: bytes.Clone(cfg.Secret), now: cfg.Now, ttl: cfg.TTL,
		host: cfg.Host, publicIP: st.public,
		policy:  &policy{allow: unmapPrefixes(cfg.Allow), own: own},
		allocs:  newTracker(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerIP),
		changed: make(chan struct{}, 1),
	}
	s.metrics = newMetrics(s.allocs.count)
	s.relays, err = newRelays(st, cfg.BandwidthPerUser, s.metrics, s.notify)
	if err != nil {
		return nil, err
	}
	pc, ln, err := listen(st.listen, st.port)
	if err != nil {
		return nil, err
	}
	s.port = pc.LocalAddr().(*net.UDPAddr).Port
	s.udp = &servedConn{PacketConn: pc, log: s.log, notify: s.notify}
	s.tcp = newTCPListener(ln, cfg.MaxAllocationsPerIP, s.refuse, s.notify)
	s.turn, err = turn.NewServer(s.turnConfig())
	if err != nil {
		pc.Close()
		ln.Close()
		return nil, fmt.Errorf("start TURN server: %w", err)
	}
	return s, nil
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MinPort == 0 && c.MaxPort == 0 {
		c.MinPort, c.MaxPort = DefaultMinPort, DefaultMaxPort
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.MaxAllocationsPerUser <= 0 {
		c.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if c.MaxAllocationsPerIP <= 0 {
		c.MaxAllocationsPerIP = DefaultMaxAllocationsPerIP
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// settings are the addresses a Config resolves to.
type settings struct {
	listen, relay, public netip.Addr
	port                  int
	minPort, maxPort      uint16
}

func (c *Config) resolve() (settings, error) {
	var st settings
	if len(c.Secret) < MinSecretLen {
		return st, fmt.Errorf("%w: %d bytes, at least %d", ErrSecretTooShort, len(c.Secret), MinSecretLen)
	}
	if c.MinPort < 1 || c.MaxPort > 65535 || c.MinPort > c.MaxPort {
		return st, fmt.Errorf("%w: relay ports %d-%d", ErrBadConfig, c.MinPort, c.MaxPort)
	}
	st.minPort, st.maxPort = uint16(c.MinPort), uint16(c.MaxPort)
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return st, fmt.Errorf("%w: address %q: %v", ErrBadConfig, c.Addr, err)
	}
	if st.port, err = strconv.Atoi(port); err != nil || st.port < 0 || st.port > 65535 {
		return st, fmt.Errorf("%w: port %q", ErrBadConfig, port)
	}
	st.listen = netip.IPv4Unspecified()
	if host != "" {
		if st.listen, err = netip.ParseAddr(host); err != nil {
			return st, fmt.Errorf("%w: listen address %q is not an IP", ErrBadConfig, host)
		}
		st.listen = st.listen.Unmap()
	}
	if st.relay, err = configIP(c.RelayIP, st.listen, "relay"); err != nil {
		return st, err
	}
	fallback := st.listen
	if fallback.IsUnspecified() {
		fallback = st.relay
	}
	if st.public, err = configIP(c.PublicIP, fallback, "public"); err != nil {
		return st, err
	}
	if st.public.IsUnspecified() {
		return st, ErrNeedPublicIP
	}
	return st, nil
}

// configIP converts ip, or returns def when ip is nil.
func configIP(ip net.IP, def netip.Addr, name string) (netip.Addr, error) {
	if ip == nil {
		return def, nil
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return a, fmt.Errorf("%w: %s IP %v", ErrBadConfig, name, ip)
	}
	return a.Unmap(), nil
}

// unmapPrefixes copies prefixes, IPv4-mapped ones as IPv4: the policy
// matches them against unmapped addresses.
func unmapPrefixes(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// listen binds UDP and TCP on the same port. With port 0 the kernel picks
// the UDP port, which may be taken on the TCP side: then it tries again.
func listen(ip netip.Addr, port int) (net.PacketConn, net.Listener, error) {
	const attempts = 16
	for i := 0; ; i++ {
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, uint16(port)).String())
		if err != nil {
			return nil, nil, fmt.Errorf("listen on UDP: %w", err)
		}
		bound := netip.AddrPortFrom(ip, uint16(pc.LocalAddr().(*net.UDPAddr).Port))
		ln, err := net.Listen("tcp", bound.String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != 0 || i == attempts-1 {
			return nil, nil, fmt.Errorf("listen on TCP: %w", err)
		}
	}
}

func (s *Server) turnConfig() turn.ServerConfig {
	return turn.ServerConfig{
		Realm:         Realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.admit,
		EventHandler:  s.events(),
		LoggerFactory: pionLogs{s.log},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: s.udp, RelayAddressGenerator: s.relays, PermissionHandler: s.permit,
		}},
		ListenerConfigs: []turn.ListenerConfig{{
			Listener: s.tcp, RelayAddressGenerator: s.relays, PermissionHandler: s.permit,
		}},
	}
}

// Addr is the UDP address the server is bound to; TCP has the same port.
func (s *Server) Addr() net.Addr { return s.udp.LocalAddr() }

// Close stops serving, ends every allocation and waits until the
// goroutines pion started for them are gone.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown() })
	return s.closeErr
}

func (s *Server) shutdown() error {
	err := s.turn.Close() // closes the UDP socket and the TCP listener
	// pion leaves the TCP connections it accepted open; closing them ends
	// their goroutines, which delete their allocations.
	s.tcp.closeConns()
	if werr := s.waitIdle(); err == nil {
		err = werr
	}
	s.allocs.reset()
	if err != nil {
		return fmt.Errorf("close relay: %w", err)
	}
	return nil
}

// waitIdle waits until pion's read loops have stopped, its TCP
// connections are closed and every allocation is deleted, which pion does
// from the goroutine of the allocation.
func (s *Server) waitIdle() error {
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	for !s.idle() {
		select {
		case <-s.changed:
		case <-timer.C:
			return ErrCloseTimeout
		}
	}
	return nil
}

func (s *Server) idle() bool {
	return s.udp.stopped.Load() && s.tcp.idle() && s.relays.openCount() == 0 && s.allocs.count() == 0
}

func (s *Server) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// servedConn is the TURN socket given to pion. pion's read loop ends at
// the first read error, so errors other than a closed socket (ICMP
// reports on some systems) are retried here; and Close learns when the
// loop has stopped.
type servedConn struct {
	net.PacketConn
	log     *slog.Logger
	stopped atomic.Bool
	notify  func()
}

func (c *servedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := readFrom(c.PacketConn, p)
	if err != nil {
		if !errors.Is(err, net.ErrClosed) {
			c.log.Error("STUN/TURN over UDP stopped", "err", err)
		}
		c.stopped.Store(true)
		c.notify()
	}
	return n, addr, err
}
