package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// SharePath is the path prefix of a share link on the broker. The broker
// serves the browser receiver page under it, so the link a phone scans and
// the link the desktop app pastes are the same.
const SharePath = "/s/"

// SocketPath is where the broker accepts signaling WebSockets.
const SocketPath = "/ws"

// Link is a parsed share link:
//
//	https://broker.example/s/<sender peer ID>#<secret>
//
// The secret lives in the fragment, which browsers and HTTP clients never
// send to a server.
type Link struct {
	Server *url.URL // broker base URL: scheme, host and any path prefix; no trailing slash
	Sender string   // the sender's peer ID on that broker
	Secret string   // shared only through the link
}

// ErrBadLink is wrapped by ParseLink for every malformed link.
var ErrBadLink = errors.New("not an EpicShare link")

// ParseLink parses and validates a share link.
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
	i := strings.LastIndex(u.Path, SharePath)
	if i < 0 {
		return Link{}, fmt.Errorf("%w: path has no %s", ErrBadLink, SharePath)
	}
	sender := strings.TrimSuffix(u.Path[i+len(SharePath):], "/")
	if !ValidPeerID(sender) {
		return Link{}, fmt.Errorf("%w: bad share ID", ErrBadLink)
	}
	if u.Fragment == "" {
		return Link{}, fmt.Errorf("%w: the secret after # is missing (copy the whole link)", ErrBadLink)
	}
	if !ValidSecret(u.Fragment) {
		return Link{}, fmt.Errorf("%w: bad secret after #", ErrBadLink)
	}
	server := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path[:i]}
	return Link{Server: server, Sender: sender, Secret: u.Fragment}, nil
}

// String formats the link.
func (l Link) String() string {
	u := *l.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + SharePath + l.Sender
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
