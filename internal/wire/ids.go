package wire

import (
	"crypto/rand"
	"encoding/base64"
)

// IDBytes is the number of random bytes in a peer ID and in a share secret:
// 128 bits, encoded as 22 URL-safe base64 characters without padding.
const IDBytes = 16

var idEncoding = base64.RawURLEncoding

// NewPeerID returns a fresh random peer ID.
func NewPeerID() string { return randomToken() }

// NewSecret returns a fresh random share secret.
func NewSecret() string { return randomToken() }

func randomToken() string {
	b := make([]byte, IDBytes)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return idEncoding.EncodeToString(b)
}

// ValidPeerID reports whether s has the exact form of a peer ID.
func ValidPeerID(s string) bool { return validToken(s) }

// ValidSecret reports whether s has the exact form of a share secret.
func ValidSecret(s string) bool { return validToken(s) }

func validToken(s string) bool {
	if len(s) != idEncoding.EncodedLen(IDBytes) {
		return false
	}
	b, err := idEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == IDBytes
}
