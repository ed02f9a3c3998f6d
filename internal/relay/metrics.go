package relay

import (
	"net"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of epicshare_turn_refused_total besides the policy's.
const (
	reasonMalformedUsername = "malformed-username"
	reasonExpired           = "expired"
	reasonBadCredential     = "bad-credential"
	reasonUserQuota         = "user-quota"
	reasonIPQuota           = "ip-quota"
	reasonCapacity          = "capacity"         // maxTCPConns reached
	reasonPermissionQuota   = "permission-quota" // maxPermissions reached
)

// reasons are all refusal reasons, so that each is exported from the start.
var reasons = []string{
	reasonMalformedUsername, reasonExpired, reasonBadCredential,
	reasonUserQuota, reasonIPQuota, reasonCapacity, reasonPermissionQuota,
	reasonUnspecified, reasonLoopback, reasonPrivate, reasonCGNAT, reasonLinkLocal,
	reasonULA, reasonMulticast, reasonBroadcast, reasonReserved, reasonOwnAddress,
}

// metrics are the relay's Prometheus figures; the broker registers them.
type metrics struct {
	allocations      prometheus.GaugeFunc
	allocationsTotal prometheus.Counter
	relayed          *prometheus.CounterVec
	toPeer, fromPeer prometheus.Counter
	refused          *prometheus.CounterVec
	dropped          prometheus.Counter
}

func newMetrics(allocations func() int) *metrics {
	m := &metrics{
		allocations: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "epicshare_turn_allocations", Help: "TURN allocations right now.",
		}, func() float64 { return float64(allocations()) }),
		allocationsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "epicshare_turn_allocations_total", Help: "TURN allocations made.",
		}),
		relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "epicshare_turn_relayed_bytes_total",
			Help: "Payload bytes relayed, by direction (to-peer: sent from a relay socket).",
		}, []string{"direction"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "epicshare_turn_refused_total", Help: "Requests and connections refused, by reason.",
		}, []string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "epicshare_turn_dropped_bytes_total", Help: "Payload bytes dropped over a user's bandwidth budget.",
		}),
	}
	m.toPeer = m.relayed.WithLabelValues("to-peer")
	m.fromPeer = m.relayed.WithLabelValues("from-peer")
	for _, r := range reasons {
		m.refused.WithLabelValues(r)
	}
	return m
}

// Collectors are the relay's figures, for the broker's /metrics.
func (s *Server) Collectors() []prometheus.Collector {
	m := s.metrics
	return []prometheus.Collector{m.allocations, m.allocationsTotal, m.relayed, m.refused, m.dropped}
}

// refuse counts and logs a refusal; args are slog attributes (client
// address, peer IP, user), never a password.
func (s *Server) refuse(reason string, args ...any) {
	s.metrics.refused.WithLabelValues(reason).Inc()
	s.log.Debug("TURN refused", append([]any{"reason", reason}, args...)...)
}

// events are the hooks of pion's allocation life cycle.
func (s *Server) events() turn.EventHandler {
	return turn.EventHandler{
		// pion reports here only requests whose username the
		// AuthHandler accepted: false means MESSAGE-INTEGRITY did not
		// match, a wrong password. The 401 challenge is not reported.
		OnAuth: func(src, _ net.Addr, _, username, _, method string, ok bool) {
			if !ok {
				s.refuse(reasonBadCredential, "client", src, "username", clip(username), "method", method)
			}
		},
		OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, relay net.Addr, _ int) {
			s.allocs.created(src, user)
			s.relays.attach(src, relay)
			s.metrics.allocationsTotal.Inc()
			s.log.Debug("TURN allocation created", "client", src, "transport", src.Network(), "user", user, "relay", relay)
		},
		OnAllocationDeleted: func(src, _ net.Addr, _, user, _ string) {
			s.allocs.deleted(src)
			s.log.Debug("TURN allocation deleted", "client", src, "user", user)
			s.notify()
		},
		// Called for every request that failed; only a failed Allocate
		// leaves a pending quota slot to free.
		OnAllocationError: func(src, _ net.Addr, _, _ string) { s.allocs.failed(src) },
		OnPermissionCreated: func(_, _ net.Addr, _, _, _ string, relay net.Addr, peer net.IP) {
			s.relays.permit(relay, peer, true)
		},
		OnPermissionDeleted: func(_, _ net.Addr, _, _, _ string, relay net.Addr, peer net.IP) {
			s.relays.permit(relay, peer, false)
		},
	}
}
