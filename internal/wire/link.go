package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// SharePath is the path prefix of a share link on the broker, ReceivePath
// that of a receive link. The broker serves the browser pages under them
// (the receiver page for a share link, the sender page for a receive
// link), so the link a phone scans and the link the desktop app pastes
// are the same.
const (
	SharePath   = "/s/"
	ReceivePath = "/r/"
)

// LinkKind says what the holder of a link does once a peer opens it.
type LinkKind int

const (
	// ShareLink: the link holder sends files; whoever opens it receives.
	ShareLink LinkKind = iota
	// ReceiveLink: the link holder receives; whoever opens it sends.
	ReceiveLink
)

func (k LinkKind) path() string {
	if k == ReceiveLink {
		return ReceivePath
	}
	return SharePath
}

func (k LinkKind) String() string {
	if k == ReceiveLink {
		return "receive"
	}
	return "share"
}

// SocketPath is where the broker accepts signaling WebSockets.
const SocketPath = "/ws"

// Link is a parsed share or receive link:
//
//	https://broker.example/s/<holder's peer ID>#<secret>   the holder sends
//	https://broker.example/r/<holder's peer ID>#<secret>   the holder receives
//
// The secret lives in the fragment, which browsers and HTTP clients never
// send to a server. Whoever opens a link of either kind says hello to the
// holder, and the holder makes the WebRTC offer: the handshake is the same,
// only the direction of the files differs once the data channel is open.
type Link struct {
	Kind   LinkKind
	Server *url.URL // broker base URL: scheme, host and any path prefix; no trailing slash
	ID     string   // the link holder's peer ID on that broker
	Secret string   // shared only through the link
}

// ErrBadLink is wrapped by ParseLink for every malformed link.
var ErrBadLink = errors.New("not an EpicShare link")

// ParseLink parses and validates a share or receive link.
func ParseLink(s string) (Link, error) {
	s = strings.TrimSpace(s)
	if len(s) > 2048 {
		return Link{}, fmt.Errorf("%w: too long", ErrBadLink)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Link{}, fmt.Errorf("%w: scheme must be http or https", ErrBadLink)
	}
	if u.Host == "" || u.User != nil {
		return Link{}, fmt.Errorf("%w: missing or unexpected host part", ErrBadLink)
	}
	kind, i := ShareLink, strings.LastIndex(u.Path, SharePath)
	if j := strings.LastIndex(u.Path, ReceivePath); j > i {
		kind, i = ReceiveLink, j
	}
	if i < 0 {
		return Link{}, fmt.Errorf("%w: path has neither %s nor %s", ErrBadLink, SharePath, ReceivePath)
	}
	id := strings.TrimSuffix(u.Path[i+len(kind.path()):], "/")
	if !ValidPeerID(id) {
		return Link{}, fmt.Errorf("%w: bad %s ID", ErrBadLink, kind)
	}
	if u.Fragment == "" {
		return Link{}, fmt.Errorf("%w: the secret after # is missing (copy the whole link)", ErrBadLink)
	}
	if !ValidSecret(u.Fragment) {
		return Link{}, fmt.Errorf("%w: bad secret after #", ErrBadLink)
	}
	server := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path[:i]}
	return Link{Kind: kind, Server: server, ID: id, Secret: u.Fragment}, nil
}

// String formats the link.
func (l Link) String() string {
	u := *l.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + l.Kind.path() + l.ID
	u.RawQuery = ""
	u.Fragment = l.Secret
	return u.String()
}

// SocketURL returns the broker's WebSocket URL for a server base URL.
func SocketURL(server *url.URL) string {
	u := *server
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + SocketPath
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// ParseServer parses a broker base URL given by a user (http, https, ws or
// wss), normalised to http(s) with no trailing slash.
func ParseServer(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("bad server URL: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("bad server URL %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad server URL %q: no host", s)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, SocketPath), "/")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u, nil
}
