package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kinds of Signal, the peer-to-peer payload carried in Envelope.Data.
const (
	// SignalHello (receiver → sender): "I opened your link, offer me a connection."
	SignalHello = "hello"
	// SignalOffer (sender → receiver) carries the SDP offer.
	SignalOffer = "offer"
	// SignalAnswer (receiver → sender) carries the SDP answer.
	SignalAnswer = "answer"
	// SignalCandidate (both ways) carries one trickled ICE candidate.
	SignalCandidate = "candidate"
	// SignalBye (both ways) ends the negotiation with a reason for the user.
	SignalBye = "bye"
)

// Codes of a bye, so the other side can tell the user precisely.
const (
	ByeWrongSecret = "wrong-secret" // the hello was not signed with the link's secret
	ByeTampered    = "tampered"     // an offer or answer failed its check
	ByeBusy        = "busy"         // the sender serves too many receivers
	ByeWrongDevice = "wrong-device" // the offer proves another device than the one picked
)

// MaxSDP bounds an SDP blob; real ones for one data channel are ~1-3 KiB.
const MaxSDP = 32 << 10

// Candidate mirrors RTCIceCandidateInit so that the browser can send what its
// icecandidate event gives it unchanged.
type Candidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// Signal is the payload peers exchange through the broker.
type Signal struct {
	Kind      string     `json:"kind"`
	SDP       string     `json:"sdp,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`
	Reason    string     `json:"reason,omitempty"` // for people
	Code      string     `json:"code,omitempty"`   // for programs: one of the Bye codes
	// Handshake authentication (see Auth): the signer's nonce in a hello
	// or an offer, the per-direction sequence number, and the HMAC tag.
	Nonce string `json:"nonce,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`
	MAC   string `json:"mac,omitempty"`
	// Device, in an offer or answer, proves which device sent it (see
	// DeviceProof); browsers send none.
	Device *DeviceProof `json:"device,omitempty"`
}

// ErrBadSignal is wrapped by DecodeSignal for every malformed payload.
var ErrBadSignal = errors.New("malformed peer signal")

// DecodeSignal parses and validates a peer signal.
func DecodeSignal(b []byte) (Signal, error) {
	var s Signal
	if err := json.Unmarshal(b, &s); err != nil {
		return Signal{}, fmt.Errorf("%w: %v", ErrBadSignal, err)
	}
	switch s.Kind {
	case SignalHello, SignalBye:
	case SignalOffer, SignalAnswer:
		if s.SDP == "" || len(s.SDP) > MaxSDP {
			return Signal{}, fmt.Errorf("%w: %s with %d bytes of SDP", ErrBadSignal, s.Kind, len(s.SDP))
		}
	case SignalCandidate:
		// An empty candidate string is the end-of-candidates marker.
		if s.Candidate == nil || len(s.Candidate.Candidate) > 1024 {
			return Signal{}, fmt.Errorf("%w: bad candidate", ErrBadSignal)
		}
	default:
		return Signal{}, fmt.Errorf("%w: unknown kind %q", ErrBadSignal, truncate(s.Kind))
	}
	if len(s.Reason) > 500 || len(s.Code) > 40 || len(s.Nonce) > 64 || len(s.MAC) > 64 {
		return Signal{}, fmt.Errorf("%w: oversized reason, nonce or tag", ErrBadSignal)
	}
	if s.Device != nil {
		if s.Kind != SignalOffer && s.Kind != SignalAnswer {
			return Signal{}, fmt.Errorf("%w: a device proof in a %s", ErrBadSignal, s.Kind)
		}
		if err := s.Device.check(); err != nil {
			return Signal{}, err
		}
	}
	return s, nil
}

// Encode returns s as JSON for Envelope.Data.
func (s Signal) Encode() json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // Signal has only strings and pointers to them
	}
	return b
}
