package wire

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Handshake authentication.
//
// The link's secret never leaves the two peers. From it both derive a MAC
// key with HKDF-SHA256 (salt AuthSalt, info AuthInfo), and every signal they
// exchange carries an HMAC-SHA256 tag over a canonical text (MACInput) that
// binds its kind, its direction, both peers' fresh nonces, a per-direction
// sequence number and its content. The SDP inside offers and answers holds
// each side's DTLS certificate fingerprint, and Pion refuses a DTLS peer
// whose certificate does not match it, so a broker that rewrites an offer to
// slip itself in between is caught by the tag and the data channel never
// opens. Everything here is plain HMAC and SHA-256, which a browser page can
// compute with WebCrypto or, on a plain-http page without crypto.subtle, with
// a small JavaScript SHA-256.
//
// The key of a receive link comes from another HKDF info string than that
// of a share link (AuthInfoReceive), so a link whose kind was changed on
// the way (/s/ edited into /r/) fails the hello as a wrong secret would,
// rather than leaving two receivers, or two senders, facing each other.
const (
	AuthSalt        = "epicshare/v1 salt"
	AuthInfo        = "epicshare/v1 signaling mac key"
	AuthInfoReceive = "epicshare/v1 receive-link mac key"
	// DirToHost and DirToGuest name the direction a signal travels:
	// towards the link holder (the host) or towards whoever opened the
	// link (the guest). The strings date from when every host sent.
	DirToHost  = "r2s"
	DirToGuest = "s2r"
)

// Errors of the handshake.
var (
	ErrAuth   = errors.New("handshake not signed with this link's secret")
	ErrReplay = errors.New("replayed or out-of-order handshake message")
)

// Key is the MAC key derived from a share secret.
type Key [32]byte

// DeriveKey derives the signaling MAC key of a link of kind k from its
// secret.
func DeriveKey(secret string, k LinkKind) (Key, error) {
	raw, err := idEncoding.Strict().DecodeString(secret)
	if err != nil || len(raw) != IDBytes {
		return Key{}, fmt.Errorf("%w: bad secret", ErrBadLink)
	}
	info := AuthInfo
	if k == ReceiveLink {
		info = AuthInfoReceive
	}
	b, err := hkdf.Key(sha256.New, raw, []byte(AuthSalt), info, len(Key{}))
	if err != nil {
		return Key{}, err
	}
	return Key(b), nil
}

// MACInput is the exact text a tag covers, one field per line:
//
//	epicshare/v1
//	<kind>
//	<direction: r2s towards the host, s2r towards the guest>
//	<guest nonce>
//	<host nonce, empty in a hello>
//	<sequence number, decimal>
//	<body: see SignalBody>
func MACInput(kind, dir, nonceG, nonceH string, seq uint64, body string) string {
	return strings.Join([]string{"epicshare/v1", kind, dir, nonceG, nonceH, strconv.FormatUint(seq, 10), body}, "\n")
}

// SignalBody is the content of s that its tag covers: the SDP of an offer
// or answer; the candidate line, sdpMid and sdpMLineIndex of a candidate
// (empty when absent), one per line; the reason of a bye; nothing for a
// hello.
func SignalBody(s Signal) string {
	switch s.Kind {
	case SignalOffer, SignalAnswer:
		return s.SDP
	case SignalCandidate:
		if s.Candidate == nil {
			return ""
		}
		mid, idx := "", ""
		if s.Candidate.SDPMid != nil {
			mid = *s.Candidate.SDPMid
		}
		if s.Candidate.SDPMLineIndex != nil {
			idx = strconv.Itoa(int(*s.Candidate.SDPMLineIndex))
		}
		return s.Candidate.Candidate + "\n" + mid + "\n" + idx
	case SignalBye:
		return s.Reason
	}
	return ""
}

// Tag computes the base64url HMAC-SHA256 of input under k.
func (k Key) Tag(input string) string {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(input))
	return idEncoding.EncodeToString(m.Sum(nil))
}

// Auth is one side's handshake state with one peer: it signs what goes out
// and checks what comes in. The guest (who opened the link) says hello
// and answers; the host (the link holder) offers. It is safe for
// concurrent use, but a caller that sends from several goroutines must
// hold its own lock from Seal to the send, or sequence numbers arrive out
// of order and are refused.
type Auth struct {
	mu             sync.Mutex
	key            Key
	out, in        string // directions
	nonceG, nonceH string
	sent, seen     uint64 // last sequence numbers, per direction
}

// NewGuestAuth starts the handshake of whoever opened a link: it picks
// its nonce.
func NewGuestAuth(k Key) *Auth {
	return &Auth{key: k, out: DirToHost, in: DirToGuest, nonceG: NewSecret()}
}

// NewHostAuth starts the link holder's handshake with one guest; its
// nonce is picked now, the guest's comes with the hello.
func NewHostAuth(k Key) *Auth {
	return &Auth{key: k, out: DirToGuest, in: DirToHost, nonceH: NewSecret()}
}

// Seal numbers and signs s before it is sent. A guest's hello and a
// host's offer also carry the signer's nonce.
func (a *Auth) Seal(s *Signal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case s.Kind == SignalHello:
		s.Nonce = a.nonceG
	case s.Kind == SignalOffer:
		s.Nonce = a.nonceH
	default:
		s.Nonce = ""
	}
	a.sent++
	s.Seq = a.sent
	s.MAC = a.key.Tag(MACInput(s.Kind, a.out, a.nonceG, a.nonceH, s.Seq, SignalBody(*s)))
}

// Nonces returns the guest's and the host's nonces, "" while unknown.
func (a *Auth) Nonces() (guest, host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nonceG, a.nonceH
}

// Open checks a received signal: its tag, and that its sequence number is
// higher than any seen before. A host learns the guest's nonce from the
// hello, a guest the host's from the offer.
func (a *Auth) Open(s Signal) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	nonceG, nonceH := a.nonceG, a.nonceH
	switch {
	case s.Kind == SignalHello && a.in == DirToHost:
		if a.nonceG != "" {
			return fmt.Errorf("%w: second hello", ErrReplay)
		}
		nonceG = s.Nonce
	case s.Kind == SignalOffer && a.in == DirToGuest:
		// A later offer restarts ICE within the same handshake: it must
		// carry the host's nonce of the first (and a new sequence
		// number, checked below).
		if a.nonceH != "" && s.Nonce != a.nonceH {
			return fmt.Errorf("%w: second offer with another nonce", ErrReplay)
		}
		nonceH = s.Nonce
	}
	macH := nonceH
	if s.Kind == SignalHello {
		macH = "" // the guest does not know the host's nonce yet
	}
	if !ValidSecret(nonceG) || (s.Kind != SignalHello && !ValidSecret(nonceH)) {
		return fmt.Errorf("%w: %s before the handshake started", ErrAuth, s.Kind)
	}
	want := a.key.Tag(MACInput(s.Kind, a.in, nonceG, macH, s.Seq, SignalBody(s)))
	if !hmac.Equal([]byte(want), []byte(s.MAC)) {
		return fmt.Errorf("%w (%s)", ErrAuth, s.Kind)
	}
	if s.Seq <= a.seen {
		return fmt.Errorf("%w: %s #%d after #%d", ErrReplay, s.Kind, s.Seq, a.seen)
	}
	a.seen = s.Seq
	a.nonceG, a.nonceH = nonceG, nonceH
	return nil
}

// VerificationCode is the short code both ends of a connection can show
// so that people may compare screens: six digits derived from the DTLS
// certificate fingerprints of the offerer (the host) and the answerer,
// as they appear in the SDP ("sha-256 AB:CD:…"). A peer in the middle
// would have to present its own certificates, changing the code.
func VerificationCode(offererFingerprint, answererFingerprint string) string {
	sum := sha256.Sum256([]byte("epicshare/v1 verification\n" + strings.ToLower(offererFingerprint) + "\n" + strings.ToLower(answererFingerprint)))
	n := binary.BigEndian.Uint32(sum[:4]) % 1_000_000
	return fmt.Sprintf("%03d %03d", n/1000, n%1000)
}

// SDPFingerprint returns the first "a=fingerprint:" value of an SDP, e.g.
// "sha-256 AB:CD:…", or "" if there is none.
func SDPFingerprint(sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=fingerprint:"); ok {
			return v
		}
	}
	return ""
}
