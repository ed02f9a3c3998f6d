package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Version is the signaling protocol version. It changes whenever a message
// changes incompatibly; the broker refuses peers that speak another one.
const Version = 1

// Subprotocol is the WebSocket subprotocol that carries Version. Clients offer
// it in Sec-WebSocket-Protocol; the broker selects it or closes the socket with
// CloseUnsupportedVersion.
var Subprotocol = fmt.Sprintf("epicshare.v%d", Version)

// TokenHeader is the HTTP header of the WebSocket handshake in which a
// peer may present a token (see NewToken): the broker then gives it the ID
// TokenID(token) instead of a random one, so the peer gets the same ID
// back after a reconnection or a broker restart. A header rather than a
// query parameter keeps the token out of proxies' access logs. Browsers
// cannot set it; the browser page, a receiver, needs no stable ID.
const TokenHeader = "Epicshare-Token"

// WebSocket close codes used by the broker (4000-4999 is the range RFC 6455
// leaves to applications).
const (
	// CloseUnsupportedVersion: the client did not offer Subprotocol.
	CloseUnsupportedVersion = 4001
	// CloseBadToken: the TokenHeader is not a well-formed token.
	CloseBadToken = 4002
	// CloseGoingAway: the broker is shutting down.
	CloseGoingAway = 4003
	// CloseReplaced: a newer connection presented the same token and took
	// this peer ID over.
	CloseReplaced = 4004
)

// Message types of Envelope.Type.
const (
	// TypeWelcome (broker → peer) carries the peer's own ID in ID and, from
	// a broker with a relay, the STUN and TURN servers the peer may use in
	// ICE, with credentials made for it (see ICEServer).
	TypeWelcome = "welcome"
	// TypeICE (broker → peer) replaces the ICE servers of the welcome with
	// fresh credentials before the old ones expire. Clients that predate it
	// drop it, as they do any unknown type, and keep the old ones.
	TypeICE = "ice"
	// TypeSend (peer → broker) asks the broker to deliver Data to To.
	TypeSend = "send"
	// TypeMessage (broker → peer) delivers Data sent by From.
	TypeMessage = "message"
	// TypeLeft (broker → peer) says that Peer's socket closed.
	TypeLeft = "left"
	// TypeError (broker → peer) reports a refused message; Code says why and
	// To names the target of the refused message, if any.
	TypeError = "error"
)

// Error codes of Envelope.Code.
const (
	CodeUnknownPeer = "unknown-peer" // no peer with that ID is connected
	CodeBadMessage  = "bad-message"  // the envelope could not be understood
	CodeRateLimited = "rate-limited" // too many messages; this one was dropped
	CodeTooLarge    = "too-large"    // the message exceeds the broker's limit
)

// Envelope is the one JSON object exchanged with the broker. Which fields are
// set depends on Type; see the Type constants.
type Envelope struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	To      string          `json:"to,omitempty"`
	From    string          `json:"from,omitempty"`
	Peer    string          `json:"peer,omitempty"`
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	// ICE lists the ICE servers of a welcome or an ice message.
	ICE []ICEServer `json:"ice,omitempty"`
}

// ICEServer is one STUN or TURN server as WebRTC's RTCIceServer names it,
// so that the page can pass it to RTCPeerConnection as it is. A TURN
// server needs Username and Credential; from the broker they are TURN
// REST credentials (package relay) valid for a few hours, renewed by a
// TypeICE message before they expire.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// maxICEServers bounds what one envelope may list; a broker needs two.
const maxICEServers = 8

// ErrBadEnvelope is wrapped by DecodeEnvelope for every malformed input.
var ErrBadEnvelope = errors.New("malformed signaling message")

// DecodeEnvelope parses and validates one envelope. It accepts only the
// fields its type allows to matter, and well-formed peer IDs.
func DecodeEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	check := func(name, id string) error {
		if !ValidPeerID(id) {
			return fmt.Errorf("%w: %s %q is not a peer ID", ErrBadEnvelope, name, truncate(id))
		}
		return nil
	}
	var err error
	switch e.Type {
	case TypeWelcome:
		err = check("id", e.ID)
		if err == nil {
			err = checkICE(e.ICE)
		}
	case TypeICE:
		err = checkICE(e.ICE)
	case TypeSend:
		err = check("to", e.To)
		if err == nil && len(e.Data) == 0 {
			err = fmt.Errorf("%w: send without data", ErrBadEnvelope)
		}
	case TypeMessage:
		err = check("from", e.From)
	case TypeLeft:
		err = check("peer", e.Peer)
	case TypeError:
		if e.Code == "" {
			err = fmt.Errorf("%w: error without code", ErrBadEnvelope)
		}
	default:
		err = fmt.Errorf("%w: unknown type %q", ErrBadEnvelope, truncate(e.Type))
	}
	if err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// checkICE accepts a short list of servers that each name a URL with a
// STUN or TURN scheme; what the URL means is for the WebRTC stack to say.
func checkICE(servers []ICEServer) error {
	if len(servers) > maxICEServers {
		return fmt.Errorf("%w: %d ICE servers, at most %d", ErrBadEnvelope, len(servers), maxICEServers)
	}
	for _, s := range servers {
		if len(s.URLs) == 0 || len(s.URLs) > maxICEServers {
			return fmt.Errorf("%w: an ICE server needs 1 to %d URLs", ErrBadEnvelope, maxICEServers)
		}
		for _, u := range s.URLs {
			if !ValidICEURL(u) {
				return fmt.Errorf("%w: %q is not a STUN or TURN URL", ErrBadEnvelope, truncate(u))
			}
		}
	}
	return nil
}

// ValidICEURL reports whether u has the form of a STUN or TURN URL (RFC
// 7064, 7065): a stun:, stuns:, turn: or turns: scheme and a host.
func ValidICEURL(u string) bool {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || len(u) > 512 {
		return false
	}
	switch scheme {
	case "stun", "stuns", "turn", "turns":
	default:
		return false
	}
	host, _, _ := strings.Cut(rest, "?")
	return host != "" && !strings.ContainsAny(host, " /@\t\n")
}

func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
