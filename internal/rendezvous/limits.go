package rendezvous

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the broker's Prometheus figures, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	peers       prometheus.Gauge
	routed      prometheus.Counter
	refused     *prometheus.CounterVec // messages, by wire error code or "slow-reader"
	connRefused *prometheus.CounterVec // sockets, by reason
}

func newMetrics(extra []prometheus.Collector) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "epicshare_peers_connected", Help: "Peers connected right now.",
		}),
		routed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "epicshare_messages_routed_total", Help: "Messages delivered to their target.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "epicshare_messages_refused_total", Help: "Messages not delivered, by reason.",
		}, []string{"reason"}),
		connRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "epicshare_connections_refused_total", Help: "Sockets refused or dropped, by reason.",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.peers, m.routed, m.refused, m.connRefused,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	m.reg.MustRegister(extra...)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// clientIP is the address a connection comes from: its TCP peer, or,
// when that is one of Config.TrustedProxies, the address the proxies
// name in X-Forwarded-For. The header is read from the right, each
// proxy appending the address it was reached from: the first address
// that is not itself a trusted proxy is the client's. Anything to its
// left was written by the client and is ignored, so that no one can
// pick the address their sockets are counted under.
func (b *Broker) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !b.trusted(ip) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbled: the last proxy that could be read stands for it
		}
		ip = hop.Unmap()
		if !b.trusted(ip) {
			break
		}
	}
	return ip.String()
}

func (b *Broker) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range b.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// originAllowed is the CheckOrigin policy: the desktop app sends no Origin;
// a page this broker served has the broker's own host as its origin; other
// web origins must be listed in Config.AllowedOrigins.
func (b *Broker) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return slices.ContainsFunc(b.cfg.AllowedOrigins, func(o string) bool { return strings.EqualFold(o, origin) })
}

// admit counts a new socket from ip, refusing it past the per-address cap.
func (b *Broker) admit(ip string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perIP[ip] >= b.cfg.MaxPeersPerIP {
		return false
	}
	b.perIP[ip]++
	return true
}

func (b *Broker) release(ip string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perIP[ip]--; b.perIP[ip] <= 0 {
		delete(b.perIP, ip)
	}
}
