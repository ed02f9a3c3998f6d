package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/epicshare/epicshare/internal/relay"
)

// relayFlags are the flags of the built-in STUN and TURN server.
type relayFlags struct {
	addr, publicIP, host, ports string
	ttl                         time.Duration
	userAllocs, ipAllocs        int
	bandwidth                   int64
	allow                       []netip.Prefix
}

func (f *relayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "turn-addr", relay.DefaultAddr, "serve STUN, and TURN over UDP and TCP, on this `ip:port`; \"off\" for none")
	fs.StringVar(&f.publicIP, "turn-public-ip", "", "the relay's `ip` as the internet reaches it; needed when --turn-addr listens on all addresses (the relay is off without it)")
	fs.StringVar(&f.host, "turn-host", "", "host `name` in the STUN and TURN URLs handed to peers (default: the one they reached this server under)")
	fs.StringVar(&f.ports, "turn-ports", fmt.Sprintf("%d-%d", relay.DefaultMinPort, relay.DefaultMaxPort), "UDP `range` of relay ports, to open in a firewall")
	fs.DurationVar(&f.ttl, "turn-ttl", relay.DefaultTTL, "lifetime of the TURN credentials handed to each peer; renewed before they expire")
	fs.IntVar(&f.userAllocs, "turn-user-allocations", relay.DefaultMaxAllocationsPerUser, "at most `n` relay allocations per peer")
	fs.IntVar(&f.ipAllocs, "turn-ip-allocations", relay.DefaultMaxAllocationsPerIP, "at most `n` relay allocations (and TURN-over-TCP connections) per client IP address")
	fs.Int64Var(&f.bandwidth, "turn-bandwidth", 0, "relay at most `bytes` per second for one peer, both ways together; 0 for no limit")
	fs.Func("turn-allow", "relay to peers in this `CIDR` despite the policy that refuses loopback, private, link-local and the server's own addresses (repeatable; for tests and closed networks)", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("want a CIDR such as 10.0.0.0/8: %v", err)
		}
		f.allow = append(f.allow, p.Masked())
		return nil
	})
}

// config is the relay the flags ask for, or nil when it is off.
func (f *relayFlags) config(log *slog.Logger) (*relay.Config, error) {
	if f.addr == "off" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return nil, fmt.Errorf("bad --turn-addr %q: want ip:port or off", f.addr)
	}
	cfg := &relay.Config{
		Logger: log, Addr: f.addr, Host: f.host, TTL: f.ttl,
		MaxAllocationsPerUser: f.userAllocs, MaxAllocationsPerIP: f.ipAllocs,
		BandwidthPerUser: f.bandwidth, Allow: f.allow,
	}
	if f.publicIP != "" {
		if cfg.PublicIP = net.ParseIP(f.publicIP); cfg.PublicIP == nil {
			return nil, fmt.Errorf("bad --turn-public-ip %q: want an IP address", f.publicIP)
		}
	}
	if ip := net.ParseIP(host); (host == "" || ip.IsUnspecified()) && cfg.PublicIP == nil {
		log.Info("STUN and TURN off: listening on all addresses needs --turn-public-ip (or --turn-addr on one address)")
		return nil, nil
	} else if host != "" && ip == nil {
		return nil, fmt.Errorf("bad --turn-addr %q: want an IP address, not a name", f.addr)
	}
	lo, hi, ok := strings.Cut(f.ports, "-")
	cfg.MinPort, _ = strconv.Atoi(lo)
	cfg.MaxPort, _ = strconv.Atoi(hi)
	if !ok || cfg.MinPort < 1 || cfg.MaxPort > 65535 || cfg.MinPort > cfg.MaxPort {
		return nil, fmt.Errorf("bad --turn-ports %q: want MIN-MAX, e.g. 49152-65535", f.ports)
	}
	switch {
	case f.ttl < time.Minute:
		return nil, errors.New("--turn-ttl must be a minute or more")
	case f.userAllocs < 1 || f.ipAllocs < 1:
		return nil, errors.New("--turn-user-allocations and --turn-ip-allocations must be 1 or more")
	case f.bandwidth < 0:
		return nil, errors.New("--turn-bandwidth must be 0 or more")
	}
	return cfg, nil
}
