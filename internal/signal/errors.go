package signal

import "errors"

var (
	// ErrUnsupportedVersion: the server speaks another protocol version
	// (it chose no or another subprotocol, or closed with
	// wire.CloseUnsupportedVersion).
	ErrUnsupportedVersion = errors.New("the signaling server speaks another protocol version; update EpicShare")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("signaling connection closed")
	// ErrGoingAway: the server closed the connection with
	// wire.CloseGoingAway because it is shutting down.
	ErrGoingAway = errors.New("the signaling server shut down")
	// ErrBadToken: Options.Token is not a well-formed token (see
	// wire.ValidToken), or the server refused it with wire.CloseBadToken.
	ErrBadToken = errors.New("malformed peer token")
	// ErrTokenIgnored: the server gave a random ID rather than the one
	// derived from Options.Token: it predates reclaimable IDs.
	ErrTokenIgnored = errors.New("the signaling server does not keep peer IDs across reconnections; update it")
	// ErrReplaced: another connection presented the same token and took
	// this peer ID over (wire.CloseReplaced). A Conn does not reconnect
	// after it, so two holders of one token cannot take turns forever.
	ErrReplaced = errors.New("another connection took over this peer ID")
	// ErrDisconnected: Send was called while a reconnecting Conn is
	// between connections; nothing is queued.
	ErrDisconnected = errors.New("not connected to the signaling server (reconnecting)")
)
