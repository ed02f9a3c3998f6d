// Package wire defines every format that crosses a process boundary in
// EpicShare, so that the broker, the desktop app and the browser page
// agree on one definition:
//
//   - the signaling envelope exchanged with the broker over a WebSocket
//     (Envelope, message types, error codes, close codes, protocol version);
//   - the peer-to-peer signaling payloads carried inside that envelope
//     (Signal: hello, offer, answer, candidate, bye) and the handshake that
//     authenticates them with the link's secret (Auth);
//   - the links (Link): a share link /s/ID#secret or a receive link
//     /r/ID#secret, each naming the broker, its holder's peer ID and the
//     secret that only lives in the URL fragment.
//
// The data-channel frames of the file protocol live in package transfer,
// which owns that protocol end to end.
//
// # Broker protocol
//
// A peer opens a WebSocket to <server>/ws offering the subprotocol
// Subprotocol. The broker answers with a Welcome naming the random ID it gave
// the peer; from then on peers address each other by ID only. The broker
// stamps the true sender on every routed message, so From cannot be forged
// by another peer, and it forgets a peer as soon as its socket closes,
// telling every peer that peer had exchanged messages with.
//
// # Reclaimable IDs
//
// A sender's ID is in its share link, so the link would die with the
// socket. To survive a lost connection or a broker restart, a peer may
// present a private random token (NewToken, 256 bits) in the TokenHeader
// of the handshake. The broker then names it TokenID(token), the SHA-256
// of the token cut to an ID, instead of a random ID: it remembers nothing,
// yet gives the same ID back to the token holder on any reconnection, and
// to no one else. A malformed token is refused after the upgrade with
// CloseBadToken and a reason, as a wrong version is with
// CloseUnsupportedVersion. If the ID is connected already, the newer
// socket takes it over and the older one is closed with CloseReplaced
// (the token holder is back, and its old socket is likely half-dead); the
// ID's contacts stay its contacts, so nobody is told it left.
//
//	sender                        broker
//	   | --- ws connect, Epicshare-Token: T --> |
//	   | <-- welcome{id: TokenID(T)} ---------- |   link = <server>/s/TokenID(T)#secret
//	   |            ... broker restarts ...     |
//	   | --- ws connect, Epicshare-Token: T --> |   (redialled with backoff)
//	   | <-- welcome{id: TokenID(T)} ---------- |   the same link works again
//
// A client that presents a token checks that the welcome names
// TokenID(token); a broker that ignores the header gives a random ID and
// is thereby detected.
//
// # Direction
//
// A link's holder (the host) is the peer whose ID is in it; whoever opens
// it (the guest) says hello, and the host makes the WebRTC offer, whatever
// the kind of link. Only once the data channel is open does the kind
// matter: on a share link the host sends and the guest receives, on a
// receive link the other way round. The file protocol (package transfer)
// is the same both ways.
//
//	link          host (holds it, offers)     guest (opens it, answers)
//	/s/ID#secret  sends the files             receives them
//	/r/ID#secret  receives them               sends the files
//
// The diagram below names the guest "receiver" and the host "sender", as on
// a share link; on a receive link the two swap once the channel is open.
// A receive link's MAC key comes from another HKDF info string
// (AuthInfoReceive), so a link whose kind was edited on the way fails the
// hello as a wrong secret does.
//
// # Handshake
//
// The broker must never be able to read or alter a transfer, so it is not
// trusted with anything that matters: every Signal carries an HMAC-SHA256
// tag under a key that both peers derive from the link's secret (see Auth,
// DeriveKey and MACInput), over its kind, direction, both nonces, a
// sequence number and its content. K is the key, nR and nS the guest's
// (receiver's) and the host's (sender's) fresh random nonces, and mac(...)
// the tag; testdata/handshake-vectors.json pins them:
//
//	receiver                      broker                       sender
//	   |                            |  <-- ws connect ---------   |
//	   |                            |  --- welcome{id:S} ----->   |  link = <server>/s/S#secret
//	   | --- ws connect ----------> |                             |  K = HKDF(secret)
//	   | <-- welcome{id:R} -------- |                             |
//	   | --- hello{nR, seq 1, mac(hello, nR)} ------------------> |  check the tag: a wrong
//	   |                            |                             |  secret gets bye{wrong-secret}
//	   | <-- offer{sdp, nS, seq 1, mac(offer, nR, nS, sdp)} ----- |  new PeerConnection
//	   |  check the tag, or bye{tampered}                         |
//	   | --- answer{sdp, seq 2, mac(answer, nR, nS, sdp)} ------> |  check the tag, or bye{tampered}
//	   | <== candidate{…, seq n, mac(…)}, both ways ============> |  a bad tag or an old seq: dropped
//	   | <================ DTLS + data channel, peer to peer ===> |  certificates must match the
//	   |                            |                             |  fingerprints in the signed SDP
//	   |  ... the path is lost for a few seconds ...              |
//	   | <-- offer{sdp', nS, seq m, mac(offer, nR, nS, sdp')} --- |  ICE restart: same nS, new
//	   | --- answer{sdp', seq k, mac(…)} -----------------------> |  ICE credentials; DTLS and
//	   | <== candidate{…} both ways =============================> |  the data channel go on
//	   |  ... the files are received and verified ...             |
//	   | --- ws close ------------> | --- left{peer:R} -------->  |
//
// Because each SDP names its side's DTLS certificate fingerprint and Pion
// refuses a certificate that does not match, a broker that wants to sit in
// the middle must rewrite the SDP, and the tag gives it away. Nonces make
// every tag valid for one handshake only; sequence numbers refuse replays
// within it. That is also why a later offer (an ICE restart, which the
// sender makes when the peer-to-peer path is lost mid-transfer) is taken
// only with the sender's nonce of the first one: the receiver therefore
// keeps its broker connection until the transfer ends. A bye is honoured unsigned: whoever could forge one could as
// well drop messages. Both ends can show VerificationCode, derived from
// both fingerprints, for people who want to compare screens.
//
// A message to an ID the broker does not know is answered with an Error of
// code CodeUnknownPeer that names the target, so a receiver holding an
// expired link learns at once that the share is gone.
package wire
