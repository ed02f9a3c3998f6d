package rendezvous

import (
	"errors"
	"sync"

	"github.com/epicshare/epicshare/internal/wire"
)

// Hub is where peers live. The broker's per-socket logic (limits,
// stamping from, contacts, "left") asks it to claim an ID for a socket,
// to deliver an envelope to an ID and to release the ID again, and never
// looks further: whether the holder is in this process or on another
// node is the Hub's business. NewLocalHub keeps them in this process.
//
// A Hub promises what the broker promises: an envelope reaches exactly
// the member holding its target, envelopes from one sender to one target
// arrive in the order they were delivered, and Deliver says at once when
// nobody holds the target.
type Hub interface {
	// Claim makes id reachable through m. If id is held already, on this
	// node or another, then with takeOver the holder is told it was
	// replaced (Member.Replace), its contacts are returned for m to keep
	// (non-nil, even when there are none) and m holds id from now on;
	// without takeOver Claim fails with ErrIDTaken. Contacts are nil when
	// nobody held id.
	Claim(id string, m Member, takeOver bool) (contacts []string, err error)
	// Release forgets m as the holder of id; it does nothing if another
	// member took id over meanwhile.
	Release(id string, m Member)
	// Deliver hands env to the holder of to, or fails with ErrNoPeer.
	Deliver(to string, env wire.Envelope) error
}

// Member is one peer's socket as a Hub sees it.
type Member interface {
	// Receive takes an envelope routed to the peer. It must not block.
	Receive(env wire.Envelope)
	// Replace tells the member that a newer socket took its ID over: it
	// stops speaking for the ID, returns its contacts and closes.
	Replace() (contacts []string)
}

// Errors of a Hub.
var (
	ErrNoPeer  = errors.New("no peer with that ID is connected")
	ErrIDTaken = errors.New("peer ID taken")
)

// localHub is the Hub of a broker on one process: a map.
type localHub struct {
	mu      sync.Mutex
	members map[string]Member
}

// NewLocalHub returns a Hub that keeps every peer in this process.
func NewLocalHub() Hub { return &localHub{members: map[string]Member{}} }

func (h *localHub) Claim(id string, m Member, takeOver bool) ([]string, error) {
	h.mu.Lock()
	old := h.members[id]
	if old != nil && !takeOver {
		h.mu.Unlock()
		return nil, ErrIDTaken
	}
	h.members[id] = m
	h.mu.Unlock()
	if old == nil {
		return nil, nil
	}
	return old.Replace(), nil
}

func (h *localHub) Release(id string, m Member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.members[id] == m {
		delete(h.members, id)
	}
}

func (h *localHub) Deliver(to string, env wire.Envelope) error {
	h.mu.Lock()
	m := h.members[to]
	h.mu.Unlock()
	if m == nil {
		return ErrNoPeer
	}
	// Receive only queues: calling it outside the lock keeps one slow
	// peer from holding every other delivery up, and the order of one
	// sender's envelopes is kept because that sender's reader delivers
	// them one after the other.
	m.Receive(env)
	return nil
}
