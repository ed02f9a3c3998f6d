package session

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"

	"github.com/epicshare/epicshare/internal/rendezvous"
)

// LocalBroker is a signaling server run inside this process, so that
// devices on the same network can share with nothing else set up.
type LocalBroker struct {
	// URL is the broker's address as other devices reach it.
	URL    *url.URL
	cancel context.CancelFunc
	served chan error
}

// StartLocalBroker listens on listen (host:port; port 0 picks a free one)
// and serves a broker there. If the host is unspecified, URL names this
// machine's LAN address, chosen among interfaces if any are given.
func StartLocalBroker(listen string, interfaces []string, log *slog.Logger) (*LocalBroker, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("run the signaling server: %w", err)
	}
	u, err := localURL(ln.Addr().(*net.TCPAddr), interfaces)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &LocalBroker{URL: u, cancel: cancel, served: make(chan error, 1)}
	broker := rendezvous.New(rendezvous.Config{Logger: log})
	go func() { b.served <- broker.Serve(ctx, ln) }()
	return b, nil
}

// Close stops the broker; connected peers are told it is going away.
func (b *LocalBroker) Close() error {
	b.cancel()
	return <-b.served
}

// localURL returns the broker URL receivers use for a listener: its own
// address if it listens on one, else this machine's LAN address.
func localURL(addr *net.TCPAddr, interfaces []string) (*url.URL, error) {
	ip := addr.IP
	if ip == nil || ip.IsUnspecified() {
		var err error
		if ip, err = lanAddress(interfaces); err != nil {
			return nil, err
		}
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(ip.String(), fmt.Sprint(addr.Port))}, nil
}

// lanAddress picks the address other devices on the local network most
// likely reach this one by: a private IPv4 address of an interface that is
// up, preferring the named interfaces. It only reads the interface table.
func lanAddress(only []string) (net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var fallback net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || (len(only) > 0 && !slices.Contains(only, ifc.Name)) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.To4() == nil {
				continue
			}
			switch {
			case n.IP.IsPrivate():
				return n.IP, nil
			case n.IP.IsLoopback() && len(only) == 0:
				continue
			case fallback == nil && !n.IP.IsLinkLocalUnicast():
				fallback = n.IP
			}
		}
	}
	if fallback == nil {
		return nil, fmt.Errorf("%w; use --listen HOST:PORT or --server URL", ErrNoAddress)
	}
	return fallback, nil
}
