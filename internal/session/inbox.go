package session

import (
	"context"
	"errors"
	"net/url"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// InboxOptions tune OpenInbox.
type InboxOptions struct {
	// Identity, if set, makes the receive link: keep it to keep the link
	// (a phone's bookmark) across runs. The zero Identity makes a new one.
	Identity Identity
	// Confirm, if set, is asked for each sender's offer before anything
	// is written; it may block until the person decides, and returning an
	// error declines (the sender is told). Nil accepts every offer.
	Confirm func(context.Context, Incoming) error
	// OnEvent, OnServer: as in ShareOptions, for the senders.
	OnEvent  func(Event)
	OnServer func(ServerState)
}

// Incoming is one sender's offer into an inbox.
type Incoming struct {
	Peer string // the sender's peer ID
	// Code and Path: the connection's verification code (the sender shows
	// the same) and whether it is direct or relayed.
	Code     string
	Path     peer.Path
	Manifest transfer.Manifest
	// Device is the device the sender proved it is (its key, see
	// Config.Device); nil for one that proved none, as a browser.
	Device *RemoteDevice
}

// Inbox is a receive link being held: whoever opens it sends files (and
// text) into one folder, each sender on its own connection, several at
// once.
type Inbox struct{ h *host }

// OpenInbox registers a receive link with the broker at server and saves
// what each sender that opens it offers, once accepted, under dir,
// through the same safe writer as Receive: NAME.part until verified,
// nothing outside dir, no overwrite. A sender that leaves mid-file leaves
// its .part files for a resume: sending the same files again continues.
func OpenInbox(ctx context.Context, cfg Config, server *url.URL, dir string, opts InboxOptions) (*Inbox, error) {
	h, err := startHost(ctx, cfg, server, hostOptions{
		kind:     wire.ReceiveLink,
		id:       opts.Identity,
		serve:    func(ctx context.Context, g *guest) error { return receiveOver(ctx, cfg, g, dir, opts.Confirm) },
		onEvent:  opts.OnEvent,
		onServer: opts.OnServer,
	})
	if err != nil {
		return nil, err
	}
	return &Inbox{h}, nil
}

// Link returns the receive link to give to senders.
func (in *Inbox) Link() wire.Link { return in.h.link }

// Server says whether the inbox is connected to the signaling server.
func (in *Inbox) Server() ServerState { return in.h.server() }

// Stop closes the inbox: senders in progress are told, and their partial
// files are removed (a sender that leaves, or loses its connection,
// leaves them for a resume instead).
func (in *Inbox) Stop() { in.h.stop() }

// StopSender ends the transfer from one sender; its partial files are
// removed. The inbox goes on.
func (in *Inbox) StopSender(id string) { in.h.stopGuest(id, errors.New("stopped by the receiver")) }

// Done is closed when the inbox has ended.
func (in *Inbox) Done() <-chan struct{} { return in.h.done }

// Err says why the inbox ended, as Sharing.Err does.
func (in *Inbox) Err() error { return in.h.wait() }

// receiveOver receives from a connected guest into dir.
func receiveOver(ctx context.Context, cfg Config, g *guest, dir string, confirm func(context.Context, Incoming) error) error {
	r := &reporter{g: g, state: Receiving}
	code, path := g.conn.VerificationCode(), g.conn.Path()
	res, err := transfer.Receive(ctx, g.conn, dir, transfer.ReceiveOptions{
		StallAfter: cfg.StallAfter,
		Confirm: func(ctx context.Context, m transfer.Manifest) error {
			if confirm == nil {
				return nil
			}
			return confirm(ctx, Incoming{Peer: g.id, Code: code, Path: path, Manifest: m, Device: g.ch.remoteDevice()})
		},
		Progress: r.progress,
		OnStall:  r.stall,
	})
	r.end(err, res)
	return nil
}
