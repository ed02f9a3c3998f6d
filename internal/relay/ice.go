package relay

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/epicshare/epicshare/internal/wire"
)

// ICEServers returns the STUN and TURN servers peer may use, with a
// credential made for it, and when the credential expires. host is the
// host the peer reached the broker under (a Host header: it may carry a
// port, which is dropped); Config.Host, if set, replaces it, and the
// PublicIP stands in for an empty one.
func (s *Server) ICEServers(host, peer string) ([]wire.ICEServer, time.Time) {
	if s.host != "" {
		host = s.host
	}
	h := urlHost(host)
	if h == "" {
		h = urlHost(s.publicIP.String())
	}
	hp := h + ":" + strconv.Itoa(s.port)
	expires := time.Unix(s.now().Add(s.ttl).Unix(), 0)
	username, password := Credentials(s.secret, peer, expires)
	return []wire.ICEServer{
		{URLs: []string{"stun:" + hp}},
		{
			URLs:     []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"},
			Username: username, Credential: password,
		},
	}, expires
}

// urlHost is host without its port, an IPv6 literal in brackets.
func urlHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}
