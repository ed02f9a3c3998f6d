package wire

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// IDBytes is the number of random bytes in a peer ID and in a share secret:
// 128 bits, encoded as 22 URL-safe base64 characters without padding.
const IDBytes = 16

// TokenBytes is the number of random bytes in a peer token (see
// TokenHeader): 256 bits, encoded as 43 URL-safe base64 characters
// without padding.
const TokenBytes = 32

var idEncoding = base64.RawURLEncoding

// NewPeerID returns a fresh random peer ID.
func NewPeerID() string { return randomString(IDBytes) }

// NewSecret returns a fresh random share secret.
func NewSecret() string { return randomString(IDBytes) }

// NewToken returns a fresh random peer token. It is private to the peer
// that made it: whoever holds it can take the peer ID TokenID(token).
func NewToken() string { return randomString(TokenBytes) }

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return idEncoding.EncodeToString(b)
}

// ValidPeerID reports whether s has the exact form of a peer ID.
func ValidPeerID(s string) bool { return validEncoded(s, IDBytes) }

// ValidSecret reports whether s has the exact form of a share secret.
func ValidSecret(s string) bool { return validEncoded(s, IDBytes) }

// ValidToken reports whether s has the exact form of a peer token.
func ValidToken(s string) bool { return validEncoded(s, TokenBytes) }

// TokenID is the peer ID the broker gives to the holder of token: the
// first IDBytes bytes of the SHA-256 of the token's characters, encoded
// as a peer ID. Anyone can compute it from the token, nobody can find a
// token for a given ID, and the broker needs to remember nothing to give
// the same peer the same ID again after a reconnection or a restart.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return idEncoding.EncodeToString(sum[:IDBytes])
}

func validEncoded(s string, n int) bool {
	if len(s) != idEncoding.EncodedLen(n) {
		return false
	}
	b, err := idEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == n
}
