package relay

import "errors"

var (
	// ErrNeedPublicIP: the relay listens on all addresses and was not told
	// which one to put in relay candidates.
	ErrNeedPublicIP = errors.New("relay needs --turn-public-ip when listening on all addresses")
	// ErrBadConfig is wrapped by New for every other invalid Config.
	ErrBadConfig = errors.New("invalid relay configuration")
	// ErrSecretTooShort: the TURN secret is shorter than MinSecretLen.
	ErrSecretTooShort = errors.New("TURN secret too short")
	// ErrSecretExposed: the secret file may be read by other users.
	ErrSecretExposed = errors.New("TURN secret file is readable by other users")
	// ErrCloseTimeout: Close gave up waiting for pion's goroutines to end.
	ErrCloseTimeout = errors.New("relay did not stop in time")

	// errNoTCPRelay refuses RFC 6062 allocations: EpicShare peers relay
	// UDP only, and TCP relaying would let clients open connections to
	// anything the policy admits.
	errNoTCPRelay = errors.New("TCP relaying is not offered")
)
