package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/signal"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// MaxReceivers bounds how many receivers one share serves at once.
const MaxReceivers = 16

// State of one receiver of a share.
type State int

const (
	Connecting State = iota
	Sending
	Done
	Failed
)

func (s State) String() string {
	return [...]string{"connecting", "sending", "done", "failed"}[s]
}

// Event reports what happens to one receiver of a share.
type Event struct {
	Receiver string // the receiver's peer ID on the broker
	State    State
	Progress transfer.Progress // while Sending, and the last figures after
	Err      error             // when Failed
	// Code is the verification code of the connection, once connected:
	// the receiver shows the same one.
	Code string
	// Path says whether the connection is direct or relayed.
	Path string
	// Stalled, while no data moves, says for how long and the likely
	// cause; it is empty again with the next progress.
	Stalled string
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

// ServerState is a share's connection to the signaling server. A share
// that loses it reconnects by itself and keeps its link: receivers
// already connected are not affected (their files never pass through the
// server), and new ones can open the link again once it is back.
type ServerState struct {
	// Connected is false while the share is reconnecting.
	Connected bool
	// Err, while reconnecting, says why the connection was lost or why
	// the last attempt to reconnect failed.
	Err error
	// Attempts counts the failed attempts since the connection was lost.
	Attempts int
}

// Sharing is a share in progress.
type Sharing struct {
	link   wire.Link
	key    wire.Key
	sig    *signal.Conn
	offer  *transfer.Offer
	cfg    Config
	api    *webrtc.API
	opts   ShareOptions
	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error

	mu        sync.Mutex
	receivers map[string]*receiver
	wg        sync.WaitGroup
}

type receiver struct {
	id      string
	peer    *peer.Peer
	auth    *wire.Auth
	sendMu  sync.Mutex
	cancel  context.CancelCauseFunc
	sharing *Sharing
}

// Share registers with the broker at server and serves offer to every
// receiver that opens the link, until ctx ends or Stop is called.
//
// The share's peer ID, and so its link, comes from a private token (see
// wire.TokenHeader): if the connection to the broker is lost, or the
// broker restarts, the share reconnects with the same token and the link
// works again (see ShareOptions.OnServer).
func Share(ctx context.Context, cfg Config, server *url.URL, offer *transfer.Offer, opts ShareOptions) (*Sharing, error) {
	secret := wire.NewSecret()
	key, err := wire.DeriveKey(secret)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	s := &Sharing{
		key:       key,
		offer:     offer,
		cfg:       cfg,
		api:       peer.NewAPI(cfg.Peer),
		opts:      opts,
		cancel:    cancel,
		done:      make(chan struct{}),
		receivers: make(map[string]*receiver),
	}
	s.sig, err = signal.Dial(ctx, server, signal.Options{Logger: cfg.Logger, Token: wire.NewToken(), Reconnect: true, OnState: s.serverChanged})
	if errors.Is(err, signal.ErrTokenIgnored) {
		// An older broker: share all the same, with a link that lasts
		// as long as this connection.
		cfg.logger().Warn("this signaling server does not keep peer IDs; the link will not survive losing it", "server", server)
		s.sig, err = signal.Dial(ctx, server, signal.Options{Logger: cfg.Logger})
	}
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	s.link = wire.Link{Server: server, Sender: s.sig.ID(), Secret: secret}
	go s.serve(ctx)
	return s, nil
}

// Server says whether the share is connected to the signaling server.
func (s *Sharing) Server() ServerState { return serverState(s.sig.State()) }

func serverState(st signal.State) ServerState {
	return ServerState{Connected: st.Status == signal.Connected, Err: st.Err, Attempts: st.Attempts}
}

func (s *Sharing) serverChanged(st signal.State) {
	if st.Status == signal.Closed {
		return // the share ends too, and says why through Err
	}
	if s.opts.OnServer != nil {
		s.opts.OnServer(serverState(st))
	}
}

// Link returns the link to give to receivers.
func (s *Sharing) Link() wire.Link { return s.link }

// Stop ends the share: receivers in progress are told the sender stopped.
func (s *Sharing) Stop() {
	s.cancel(errors.New("share stopped"))
	<-s.done
}

// StopReceiver ends the transfer to one receiver; the share goes on.
func (s *Sharing) StopReceiver(id string) {
	s.mu.Lock()
	r := s.receivers[id]
	s.mu.Unlock()
	if r != nil {
		r.cancel(errors.New("stopped by the sender"))
	}
}

// Done is closed when the share has ended.
func (s *Sharing) Done() <-chan struct{} { return s.done }

// Err says why the share ended: nil after Stop or when the context ended,
// the signaling error if the broker connection was lost for good (another
// connection took the share's ID over, or the broker refused it).
func (s *Sharing) Err() error {
	<-s.done
	return s.err
}

func (s *Sharing) serve(ctx context.Context) {
	log := s.cfg.logger()
	defer func() {
		s.cancel(errors.New("share ended"))
		s.wg.Wait()
		s.sig.Close()
		close(s.done)
	}()
	stop := context.AfterFunc(ctx, func() { s.sig.Close() })
	defer stop()
	for env := range s.sig.Recv() {
		switch env.Type {
		case wire.TypeMessage:
			sg, err := wire.DecodeSignal(env.Data)
			if err != nil {
				log.Warn("dropping bad signal", "from", env.From, "err", err)
				continue
			}
			s.handle(ctx, env.From, sg)
		case wire.TypeLeft:
			s.goneBeforeConnected(env.Peer, "the receiver went offline")
		case wire.TypeError:
			if env.Code == wire.CodeUnknownPeer {
				s.goneBeforeConnected(env.To, "the receiver went offline")
			} else {
				log.Warn("broker refused a message", "code", env.Code, "message", env.Message)
			}
		}
	}
	if ctx.Err() == nil {
		if err := s.sig.Err(); errors.Is(err, signal.ErrGoingAway) {
			s.err = signal.ErrGoingAway // "the signaling server shut down" says it all
		} else {
			s.err = fmt.Errorf("lost the signaling server: %w", err)
		}
	}
}

func (s *Sharing) handle(ctx context.Context, from string, sg wire.Signal) {
	log := s.cfg.logger()
	s.mu.Lock()
	r := s.receivers[from]
	s.mu.Unlock()
	if r != nil {
		switch err := r.auth.Open(sg); {
		case sg.Kind == wire.SignalBye:
			// Honoured signed or not: whoever can forge it can also
			// just drop messages.
			r.peer.Abort(byeError(sg))
		case errors.Is(err, wire.ErrAuth) && sg.Kind == wire.SignalAnswer:
			log.Warn("refusing an answer that fails its check", "from", from, "err", err)
			r.send(ctx, wire.Signal{Kind: wire.SignalBye, Code: wire.ByeTampered, Reason: ErrTampered.Error()})
			r.peer.Abort(ErrTampered)
		case err != nil:
			log.Warn("dropping a signal that fails its check", "from", from, "kind", sg.Kind, "err", err)
		default:
			if err := r.peer.HandleSignal(sg); err != nil {
				log.Warn("bad signal from receiver", "from", from, "err", err)
			}
		}
		return
	}
	if sg.Kind != wire.SignalHello {
		return // a late signal from a receiver that is gone
	}
	auth := wire.NewSenderAuth(s.key)
	if err := auth.Open(sg); err != nil {
		log.Warn("refusing a receiver whose hello fails its check", "from", from, "err", err)
		s.send(ctx, from, wire.Signal{Kind: wire.SignalBye, Code: wire.ByeWrongSecret, Reason: ErrWrongSecret.Error()})
		s.event(Event{Receiver: from, State: Failed, Err: ErrWrongSecret})
		return
	}
	if s.count() >= MaxReceivers {
		s.send(ctx, from, wire.Signal{Kind: wire.SignalBye, Code: wire.ByeBusy, Reason: ErrTooManyReceivers.Error()})
		return
	}
	rctx, cancel := context.WithCancelCause(ctx)
	r = &receiver{id: from, auth: auth, cancel: cancel, sharing: s}
	p, err := peer.New(s.api, s.cfg.Peer, peer.Offerer, func(sg wire.Signal) { r.send(ctx, sg) })
	if err != nil {
		cancel(nil)
		s.event(Event{Receiver: from, State: Failed, Err: err})
		return
	}
	r.peer = p
	s.mu.Lock()
	s.receivers[from] = r
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel(nil)
		last, err := s.sendTo(rctx, from, p)
		s.mu.Lock()
		delete(s.receivers, from)
		s.mu.Unlock()
		if err != nil {
			s.event(Event{Receiver: from, State: Failed, Err: err, Progress: last})
		}
	}()
}

// send signs sg and sends it to the receiver. The lock keeps sequence
// numbers in sending order.
func (r *receiver) send(ctx context.Context, sg wire.Signal) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	r.auth.Seal(&sg)
	r.sharing.send(ctx, r.id, sg)
}

// sendTo connects to one receiver and sends it the offer; it returns the
// last progress, which counts exactly what was sent also on failure.
func (s *Sharing) sendTo(ctx context.Context, id string, p *peer.Peer) (transfer.Progress, error) {
	s.event(Event{Receiver: id, State: Connecting})
	cctx, cancel := context.WithTimeoutCause(ctx, s.cfg.connectTimeout(), peer.ErrFailed)
	conn, err := p.Connect(cctx)
	cancel()
	if err != nil {
		return transfer.Progress{}, err
	}
	defer conn.Close()
	code, path := conn.VerificationCode(), conn.Path()
	var (
		mu   sync.Mutex
		last transfer.Progress
	)
	err = transfer.Send(ctx, conn, s.offer, transfer.SendOptions{
		StallAfter: s.cfg.StallAfter,
		Progress: func(pr transfer.Progress) {
			mu.Lock()
			last = pr
			mu.Unlock()
			s.event(Event{Receiver: id, State: Sending, Progress: pr, Code: code, Path: path})
		},
		OnStall: func(idle time.Duration) {
			mu.Lock()
			pr := last
			mu.Unlock()
			s.event(Event{Receiver: id, State: Sending, Progress: pr, Code: code, Path: path,
				Stalled: fmt.Sprintf("no data for %s: %s", idle.Round(time.Second), conn.StallCause())})
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return last, err
	}
	s.event(Event{Receiver: id, State: Done, Progress: last, Code: code, Path: path})
	return last, nil
}

func (s *Sharing) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.receivers)
}

// goneBeforeConnected ends the negotiation with a receiver that left the
// broker. A receiver already connected peer to peer needs the broker no
// more, so its transfer goes on.
func (s *Sharing) goneBeforeConnected(id, reason string) {
	s.mu.Lock()
	r := s.receivers[id]
	s.mu.Unlock()
	if r != nil {
		r.peer.Abort(errors.New(reason))
	}
}

func (s *Sharing) send(ctx context.Context, to string, sg wire.Signal) {
	if err := s.sig.Send(ctx, to, sg.Encode()); err != nil {
		s.cfg.logger().Debug("signal not sent", "to", to, "kind", sg.Kind, "err", err)
	}
}

func (s *Sharing) event(e Event) {
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}
