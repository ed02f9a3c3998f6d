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
)
