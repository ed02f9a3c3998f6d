package relay

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme is HMAC-SHA1
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// Grace is how long after its expiry a credential may still refresh an
// allocation made with it, and create permissions and channels on it.
// Credentials expire after Config.TTL, but a transfer may run longer, and
// a WebRTC stack keeps the credentials it allocated with for the life of
// the allocation (a browser only applies new ICE servers at an ICE
// restart): refusing its Refresh at expiry would cut a transfer that
// started legitimately. A new Allocate always needs a valid credential,
// so a leaked credential buys at most an allocation already made with it.
const Grace = 24 * time.Hour

// maxPeerLen bounds the peer part of a username. Peer IDs are far
// shorter; STUN allows usernames of 513 bytes.
const maxPeerLen = 128

// Credentials makes a TURN REST credential for peer, valid until expires:
// username "unix-expiry:peer", password base64(HMAC-SHA1(secret, username)),
// as coturn's use-auth-secret expects.
func Credentials(secret []byte, peer string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + peer
	return username, restPassword(secret, username)
}

func restPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a TURN REST username into its expiry (Unix
// seconds) and peer parts.
func parseUsername(username string) (expiry int64, peer string, ok bool) {
	ts, peer, found := strings.Cut(username, ":")
	if !found || peer == "" || len(peer) > maxPeerLen || ts == "" || ts[0] < '0' || ts[0] > '9' {
		return 0, "", false
	}
	expiry, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return expiry, peer, true
}

// verdict decides whether username may authenticate a request of method
// at now. holds reports whether the client already has an allocation
// made by peer. It returns the peer, or the reason of a refusal.
func verdict(username string, method stun.Method, now time.Time, holds func(peer string) bool) (peer, reason string) {
	expiry, peer, ok := parseUsername(username)
	if !ok {
		return "", reasonMalformedUsername
	}
	late := now.Unix() - expiry
	if late <= 0 {
		return peer, ""
	}
	switch method {
	case stun.MethodRefresh, stun.MethodCreatePermission, stun.MethodChannelBind:
		if late <= int64(Grace/time.Second) && holds(peer) {
			return peer, ""
		}
	}
	return peer, reasonExpired
}

// authenticate is pion's AuthHandler. It checks the username and returns
// the key pion checks MESSAGE-INTEGRITY with; a wrong password shows up
// in events().OnAuth. The user ID it gives pion is the peer, so that
// quotas and budgets count per peer and a peer's renewed credentials
// (same peer, later expiry) refresh the allocation of the old ones.
//
// pion calls it only for requests that carry MESSAGE-INTEGRITY: the 401
// challenge that starts every exchange never gets here.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	holds := func(peer string) bool { return s.allocs.holds(ra.SrcAddr, peer) }
	peer, reason := verdict(ra.Username, ra.Method, s.now(), holds)
	if reason != "" {
		s.refuse(reason, "client", ra.SrcAddr, "username", clip(ra.Username), "method", ra.Method)
		return "", nil, false
	}
	key := turn.GenerateAuthKey(ra.Username, ra.Realm, restPassword(s.secret, ra.Username))
	return peer, key, true
}

// admit is pion's QuotaHandler, called for an authenticated Allocate.
func (s *Server) admit(userID, _ string, src net.Addr) bool {
	if reason := s.allocs.admit(userID, src); reason != "" {
		s.refuse(reason, "client", src, "user", userID)
		return false
	}
	return true
}

// clip shortens what a client sent before it is logged.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
