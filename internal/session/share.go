package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// State of one peer of a link.
type State int

const (
	Connecting State = iota
	Sending
	Receiving
	Done
	Failed
)

func (s State) String() string {
	return [...]string{"connecting", "sending", "receiving", "done", "failed"}[s]
}

// Stall says that no data has moved for Idle, and the likely cause.
type Stall struct {
	Idle  time.Duration
	Cause peer.StallCause
}

// String says it for logs and the terminal: "no data for 12s: …".
func (s Stall) String() string {
	return fmt.Sprintf("no data for %s: %s", s.Idle.Round(time.Second), s.Cause)
}

// Event reports what happens to one peer of a link: a receiver of a
// share, or a sender into an inbox.
type Event struct {
	Peer     string // the peer's ID on the broker
	State    State
	Progress transfer.Progress // while Sending or Receiving, and the last figures after
	Err      error             // when Failed; a *transfer.PartialError if the files that arrived were kept
	// Code is the verification code of the connection, once connected:
	// the other side shows the same one.
	Code string
	// Path says whether the connection is direct or relayed.
	Path peer.Path
	// Stalled, while no data moves, says for how long and the likely
	// cause; it is nil again with the next progress.
	Stalled *Stall
	// Result, when an inbox's sender is Done, says what was saved.
	Result *transfer.Result
	// Device is the device the peer proved it is, once its answer came;
	// nil for one that proved none.
	Device *RemoteDevice
}

// ShareOptions tune Share.
type ShareOptions struct {
	// OnEvent, if set, is called for every change of a receiver; calls for
	// one receiver come in order, from its transfer's goroutine, except a
	// stall report, which comes from a watchdog. It must not block.
	OnEvent func(Event)
	// OnServer, if set, is called in order, from one goroutine, whenever
	// the share loses the signaling server, fails to reach it again, or
	// is back. It must not block.
	OnServer func(ServerState)
}

// ServerState is a link's connection to the signaling server. A link
// that loses it reconnects by itself and keeps its address: peers
// already connected are not affected (their files never pass through the
// server), and new ones can open the link again once it is back.
type ServerState struct {
	// Connected is false while the link is reconnecting.
	Connected bool
	// Err, while reconnecting, says why the connection was lost or why
	// the last attempt to reconnect failed.
	Err error
	// Attempts counts the failed attempts since the connection was lost.
	Attempts int
}

// Sharing is a share in progress.
type Sharing struct{ h *host }

// Share registers with the broker at server and serves offer to every
// receiver that opens the share link, until ctx ends or Stop is called.
//
// The share's peer ID, and so its link, comes from a private token (see
// wire.TokenHeader): if the connection to the broker is lost, or the
// broker restarts, the share reconnects with the same token and the link
// works again (see ShareOptions.OnServer).
func Share(ctx context.Context, cfg Config, server *url.URL, offer *transfer.Offer, opts ShareOptions) (*Sharing, error) {
	h, err := startHost(ctx, cfg, server, hostOptions{
		kind:     wire.ShareLink,
		serve:    func(ctx context.Context, g *guest) error { return sendOver(ctx, cfg, g, offer) },
		onEvent:  opts.OnEvent,
		onServer: opts.OnServer,
	})
	if err != nil {
		return nil, err
	}
	return &Sharing{h}, nil
}

// Server says whether the share is connected to the signaling server.
func (s *Sharing) Server() ServerState { return s.h.server() }

// Link returns the link to give to receivers.
func (s *Sharing) Link() wire.Link { return s.h.link }

// Stop ends the share: receivers in progress are told the sender stopped.
func (s *Sharing) Stop() { s.h.stop() }

// StopReceiver ends the transfer to one receiver; the share goes on.
func (s *Sharing) StopReceiver(id string) { s.h.stopGuest(id, errors.New("stopped by the sender")) }

// Done is closed when the share has ended.
func (s *Sharing) Done() <-chan struct{} { return s.h.done }

// Err says why the share ended: nil after Stop or when the context ended,
// the signaling error if the broker connection was lost for good (another
// connection took the share's ID over, or the broker refused it).
func (s *Sharing) Err() error { return s.h.wait() }

// sendOver sends offer to a connected guest, reporting progress as events;
// on failure the last event counts exactly what was sent.
func sendOver(ctx context.Context, cfg Config, g *guest, offer *transfer.Offer) error {
	r := &reporter{g: g, state: Sending}
	err := transfer.Send(ctx, g.conn, offer, transfer.SendOptions{StallAfter: cfg.StallAfter, Progress: r.progress, OnStall: r.stall})
	r.end(err, nil)
	return nil // reported with its progress
}

// reporter turns one transfer's progress and stalls into a guest's
// events, in either direction.
type reporter struct {
	g     *guest
	state State // Sending or Receiving
	mu    sync.Mutex
	last  transfer.Progress
}

func (r *reporter) progress(pr transfer.Progress) {
	r.mu.Lock()
	r.last = pr
	r.mu.Unlock()
	r.g.event(Event{State: r.state, Progress: pr})
}

// stall is called from the transfer's watchdog goroutine.
func (r *reporter) stall(idle time.Duration) {
	r.mu.Lock()
	pr := r.last
	r.mu.Unlock()
	r.g.event(Event{State: r.state, Progress: pr, Stalled: &Stall{Idle: idle, Cause: r.g.conn.StallCause()}})
}

// end reports how the transfer ended, with the last progress.
func (r *reporter) end(err error, res *transfer.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.g.event(Event{State: Failed, Err: err, Progress: r.last})
		return
	}
	r.g.event(Event{State: Done, Progress: r.last, Result: res})
}
