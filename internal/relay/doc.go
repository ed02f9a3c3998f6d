// Package relay is the STUN and TURN server built into signal-server: the
// relay of last resort for EpicShare peers whose NATs keep them from
// reaching each other directly.
//
// It owns
//   - STUN binding (a peer learns its public address) and TURN (RFC 8656)
//     over UDP and over TCP on one port, served by pion/turn; the relayed
//     side is always UDP (TCP relaying, RFC 6062, is refused);
//   - the TURN REST credential scheme (Credentials): the broker hands each
//     peer a username "expiry:peer" and a password HMAC-SHA1(secret,
//     username), so the relay needs no user database and coturn with
//     use-auth-secret and the same secret could replace it;
//   - the permission policy (policy.go) that keeps the relay from being
//     turned on the server's own network: no relaying to loopback, private,
//     link-local, multicast or the server's own addresses;
//   - quotas: allocations per user and per client address, relayed bytes
//     per second per user, TCP connections per client address;
//   - its Prometheus figures (Collectors), named epicshare_turn_*.
//
// It knows nothing of WebRTC or of the broker: the broker calls ICEServers
// for each peer and passes the result on in its welcome.
//
//	peer                         broker                        relay
//	 |---- WebSocket ------------->|                              |
//	 |                             |-- ICEServers(host, peer) --->|
//	 |<--- welcome{ice} -----------|<- stun:, turn: URLs, --------|
//	 |                             |   "expiry:peer", password    |
//	 |---- Allocate (no credentials) ---------------------------->|
//	 |<--- 401 realm, nonce --------------------------------------| the challenge,
//	 |                                                            | not a refusal
//	 |---- Allocate (username, MESSAGE-INTEGRITY) --------------->| credential, quotas
//	 |<--- XOR-RELAYED-ADDRESS (public IP:port) ------------------|
//	 |---- CreatePermission / ChannelBind (peer IP) ------------->| permission policy
//	 |<=== datagrams to and from the peer ========================| per-user budget
//	 |---- Refresh (every few minutes; lifetime 0 to end) ------->|
//
// Credentials expire (Config.TTL) and the broker renews them before then;
// an allocation made while they were valid may still be refreshed with
// them for Grace after they expire (see Grace).
package relay
