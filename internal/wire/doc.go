// Package wire defines every format that crosses a process boundary in
// EpicShare, so that the broker, the desktop app and (later) the browser page
// agree on one definition:
//
//   - the signaling envelope exchanged with the broker over a WebSocket
//     (Envelope, message types, error codes, close codes, protocol version);
//   - the peer-to-peer signaling payloads carried inside that envelope
//     (Signal: hello, offer, answer, candidate, bye);
//   - the share link (Link), which names the broker, the sender's peer ID and
//     the secret that only lives in the URL fragment.
//
// The data-channel frames of the file protocol live in package transfer,
// which owns that protocol end to end.
//
// # Broker protocol
//
// A peer opens a WebSocket to <server>/ws offering the subprotocol
// Subprotocol. The broker answers with a Welcome naming the random ID it gave
// the peer; from then on peers address each other by ID only. The broker
// stamps the true sender on every routed message, so From cannot be forged,
// and it forgets a peer as soon as its socket closes, telling every peer that
// peer had exchanged messages with.
//
//	receiver                      broker                       sender
//	   |                            |  <-- ws connect ---------   |
//	   |                            |  --- welcome{id:S} ----->   |  link = <server>/s/S#secret
//	   | --- ws connect ----------> |                             |
//	   | <-- welcome{id:R} -------- |                             |
//	   | --- send{to:S, hello} ---> | --- msg{from:R, hello} -->  |
//	   |                            | <-- send{to:R, offer} ----  |  one PeerConnection per receiver
//	   | <-- msg{from:S, offer} --- |                             |
//	   | --- send{to:S, answer} --> | --- msg{from:R, answer} ->  |
//	   | <== candidates, both ways (trickle ICE) ===============> |
//	   | <================ data channel, peer to peer ==========> |
//	   | --- ws close ------------> | --- left{peer:R} -------->  |
//
// A message to an ID the broker does not know is answered with an Error of
// code CodeUnknownPeer that names the target, so a receiver holding an
// expired link learns at once that the share is gone.
package wire
