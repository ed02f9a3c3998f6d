package rendezvous

import (
	"net"
	"net/http"
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

// clientIP is the address a connection comes from. X-Forwarded-For is not
// trusted: behind a proxy, the proxy's limits apply.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
