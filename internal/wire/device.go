package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Device identity.
//
// A device (one installation of the app) keeps an Ed25519 key of its
// own; its device ID is derived from the public key (DeviceID), so an ID
// cannot be claimed without the key. A device that opens another's link,
// or whose link is opened, may prove which device it is: its offer or
// answer then carries a DeviceProof, a signature over both handshake
// nonces and the DTLS fingerprints of this connection (DeviceProofInput).
// Nothing else can make one: not a copy of an earlier handshake (fresh
// nonces), and not a peer in the middle, which would have to present
// its own DTLS certificate (another fingerprint). The proof is not
// covered by the handshake's MAC: it needs no secret to check, and on a
// network where the link's secret is announced (nearby devices) the MAC
// proves nothing about who answered.

// ErrBadDeviceProof: a device proof that does not verify.
var ErrBadDeviceProof = errors.New("device proof does not verify")

// DeviceProof is one device's proof of its key on one connection.
type DeviceProof struct {
	Key  string `json:"key"`  // the Ed25519 public key, base64url
	Name string `json:"name"` // the device's name for people
	Sig  string `json:"sig"`  // Ed25519 over DeviceProofInput, base64url
}

// MaxDeviceName bounds a device's name, in bytes.
const MaxDeviceName = 63

// DeviceID is the ID of the device with public key pub: 128 bits of a
// hash of it, encoded as a peer ID is.
func DeviceID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(append([]byte("epicshare/v1 device id\n"), pub...))
	return idEncoding.EncodeToString(sum[:IDBytes])
}

// DeviceProofInput is the exact text a device signs, one field per line:
//
//	epicshare/v1 device proof
//	<kind: offer or answer>
//	<guest nonce>
//	<host nonce>
//	<the offer's DTLS fingerprint, as SDPFingerprint gives it>
//	<the answer's, empty in an offer>
//	<the device's name>
func DeviceProofInput(kind, nonceG, nonceH, offerFP, answerFP, name string) string {
	return strings.Join([]string{"epicshare/v1 device proof", kind, nonceG, nonceH, offerFP, answerFP, name}, "\n")
}

// ProveDevice signs a proof for the device with key on the connection
// the other arguments describe.
func ProveDevice(key ed25519.PrivateKey, name, kind, nonceG, nonceH, offerFP, answerFP string) *DeviceProof {
	sig := ed25519.Sign(key, []byte(DeviceProofInput(kind, nonceG, nonceH, offerFP, answerFP, name)))
	return &DeviceProof{
		Key:  idEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
		Name: name,
		Sig:  idEncoding.EncodeToString(sig),
	}
}

// Verify checks p on the connection the arguments describe and returns
// the device ID it proves.
func (p *DeviceProof) Verify(kind, nonceG, nonceH, offerFP, answerFP string) (string, error) {
	pub, err := idEncoding.Strict().DecodeString(p.Key)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: bad key", ErrBadDeviceProof)
	}
	sig, err := idEncoding.Strict().DecodeString(p.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: bad signature", ErrBadDeviceProof)
	}
	if offerFP == "" || (kind == SignalAnswer && answerFP == "") {
		return "", fmt.Errorf("%w: no DTLS fingerprint to bind it to", ErrBadDeviceProof)
	}
	if !ed25519.Verify(pub, []byte(DeviceProofInput(kind, nonceG, nonceH, offerFP, answerFP, p.Name)), sig) {
		return "", ErrBadDeviceProof
	}
	return DeviceID(pub), nil
}

// check bounds a proof as DecodeSignal reads it.
func (p *DeviceProof) check() error {
	if len(p.Key) > 64 || len(p.Sig) > 128 || len(p.Name) > MaxDeviceName || !utf8.ValidString(p.Name) || strings.ContainsFunc(p.Name, isControl) {
		return fmt.Errorf("%w: oversized or garbled device proof", ErrBadSignal)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
