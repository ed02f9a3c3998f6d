package peer

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/wire"
)

// ErrBadICEServer is wrapped by ParseICEServer for every entry it cannot use.
var ErrBadICEServer = errors.New("not a STUN or TURN server")

// ParseICEServer reads a STUN or TURN server as a person writes one in
// Settings or on the command line: a URL, followed for TURN by a user
// name and a password, separated by spaces:
//
//	stun:stun.example.org:3478
//	turn:turn.example.org:3478?transport=udp alice s3cret
//
// "turn:alice:s3cret@turn.example.org:3478", the form people try first
// (no WebRTC stack takes it), is split into the same three parts.
func ParseICEServer(s string) (wire.ICEServer, error) {
	f := strings.Fields(s)
	bad := func(why string) (wire.ICEServer, error) {
		return wire.ICEServer{}, fmt.Errorf("%w: %q: %s", ErrBadICEServer, s, why)
	}
	if len(f) == 0 {
		return bad("empty")
	}
	srv := wire.ICEServer{URLs: f[:1]}
	switch len(f) {
	case 1:
		if scheme, rest, ok := strings.Cut(f[0], ":"); ok {
			if userinfo, host, ok := cutLast(rest, "@"); ok {
				user, pass, _ := strings.Cut(userinfo, ":")
				srv = wire.ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass}
			}
		}
	case 3:
		srv.Username, srv.Credential = f[1], f[2]
	default:
		return bad("want a URL, or a TURN URL, a user name and a password")
	}
	u, err := stun.ParseURI(srv.URLs[0])
	if err != nil || !wire.ValidICEURL(srv.URLs[0]) {
		return bad("want stun:HOST[:PORT] or turn:HOST[:PORT][?transport=udp|tcp]")
	}
	turn := u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS
	switch {
	case turn && (srv.Username == "" || srv.Credential == ""):
		return bad("a TURN server needs a user name and a password after the URL")
	case !turn && srv.Username != "":
		return bad("a STUN server takes no user name")
	}
	return srv, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// webrtcServers turns servers into Pion's form, leaving out (and logging)
// any that Pion would refuse: one bad entry from a broker must not stop
// every connection.
func webrtcServers(servers []wire.ICEServer, log *slog.Logger) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, s := range servers {
		w := webrtc.ICEServer{URLs: s.URLs}
		if s.Username != "" || s.Credential != "" {
			w.Username, w.Credential, w.CredentialType = s.Username, s.Credential, webrtc.ICECredentialTypePassword
		}
		if err := validICEServer(w); err != nil {
			log.Warn("leaving out an ICE server", "urls", s.URLs, "err", err)
			continue
		}
		out = append(out, w)
	}
	return out
}

// validICEServer checks w as Pion's NewPeerConnection would.
func validICEServer(w webrtc.ICEServer) error {
	for _, raw := range w.URLs {
		u, err := stun.ParseURI(raw)
		if err != nil {
			return err
		}
		if (u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS) && (w.Username == "" || w.Credential == nil) {
			return errors.New("a TURN server without credentials")
		}
	}
	return nil
}

// Path says which way a connection's packets go, from the candidate
// pair ICE chose.
type Path int

const (
	// PathUnknown: ICE has not chosen a pair yet.
	PathUnknown Path = iota
	// PathDirect: between the two devices' own addresses (one network).
	PathDirect
	// PathNAT: peer to peer, through the address a NAT gave one side
	// (learnt from STUN, or from the other side's checks).
	PathNAT
	// PathRelay: through a TURN server.
	PathRelay
)

func (p Path) String() string {
	switch p {
	case PathDirect:
		return "direct"
	case PathNAT:
		return "direct through NAT"
	case PathRelay:
		return "relayed (TURN)"
	}
	return ""
}

// pathOf names the path of a selected pair. A peer-reflexive candidate
// (an address learnt from the other side's checks) is a NAT's only when
// it is a public address: a browser that hides its host addresses
// behind mDNS names shows up as peer-reflexive on its own LAN address.
func pathOf(local, remote *webrtc.ICECandidate) Path {
	relay, srflx := webrtc.ICECandidateTypeRelay, webrtc.ICECandidateTypeSrflx
	switch {
	case local.Typ == relay || remote.Typ == relay:
		return PathRelay
	case local.Typ == srflx || remote.Typ == srflx:
		return PathNAT
	case reflexivePublic(local) || reflexivePublic(remote):
		return PathNAT
	}
	return PathDirect
}

func reflexivePublic(c *webrtc.ICECandidate) bool {
	if c.Typ != webrtc.ICECandidateTypePrflx {
		return false
	}
	ip, err := netip.ParseAddr(c.Address)
	return err == nil && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast()
}
