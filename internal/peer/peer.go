// Package peer owns the WebRTC side of EpicShare: it configures Pion, runs
// one PeerConnection per transfer through offer, answer and trickled ICE
// candidates, and hands the caller a flow-controlled io.ReadWriteCloser:
// a QUIC stream on the ICE-selected path between two EpicShare desktops
// (see quic.go), the data channel otherwise. It knows nothing of files or
// of the broker: signals come in through HandleSignal and go out through
// a send function.
package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/epicshare/epicshare/internal/wire"
)

// Config says how peers reach each other.
type Config struct {
	// ICEServers are the STUN and TURN servers ICE may use (see
	// ParseICEServer). None by default: on a LAN host candidates
	// suffice, and package session adds those the broker offers when
	// this is empty.
	ICEServers []wire.ICEServer
	// RelayOnly makes ICE use relayed candidates only: the connection
	// goes through a TURN server, and the other device never learns
	// this one's addresses. It fails without a TURN server.
	RelayOnly bool
	// Interfaces, if set, restricts ICE to these network interfaces (for
	// example "lo" in tests). It also turns mDNS off, and listing "lo"
	// allows loopback candidates.
	Interfaces []string
	// Net, if set, replaces the operating system's network under ICE:
	// tests pass a Pion virtual network (vnet) to add delay and loss. It
	// also turns mDNS off.
	Net transport.Net
	// NoQUIC keeps the data on the data channel even when the other
	// side is an EpicShare desktop that offers QUIC (see quicWanted; the
	// environment variable EPICSHARE_NO_QUIC does the same).
	NoQUIC bool
	Logger *slog.Logger
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Errors a connection attempt can end with.
var (
	ErrFailed = errors.New("could not connect to the other device")
	ErrBye    = errors.New("the other side ended the connection")
)

// Role says which side of the negotiation a Peer takes.
type Role int

const (
	// Offerer creates the data channel and the offer: the sender.
	Offerer Role = iota
	// Answerer answers the offer: the receiver.
	Answerer
)

// Flow control of the data channel's send buffer: a writer blocks above
// highWater until Pion reports the buffer drained below lowWater.
const (
	highWater     = 4 << 20
	lowWater      = 1 << 20
	sctpRecvBuf   = 8 << 20
	channelLabel  = "epicshare"
	iceDisconnect = 5 * time.Second
	iceKeepAlive  = 2 * time.Second
)

// How a connection that was up survives an interruption (a Wi-Fi
// hand-over, a cable pulled for a moment, a laptop lid closed briefly).
//
// ICE reports Disconnected after iceDisconnect without a packet from the
// other side, but keeps checking the pair, so a path that comes back
// recovers by itself; it reports Failed, and stops checking, only after a
// further iceFailed. SCTP retransmits what was lost with a back-off capped
// at sctpRTOMax: Pion's default cap is 60 s, which after a cut of a few
// seconds could leave a working path idle for tens of seconds more; 2 s
// costs a few extra retransmissions per outage and nothing while the path
// works (the RTO stays near the real round trip).
//
// SCTP halves its congestion window at every loss, as TCP does; on a path
// that loses packets at random rather than from congestion (5 % on a
// poor Wi-Fi) the window then never grows and a 20 Mbit/s link carried
// 64 MiB in 114 s instead of 27. A floor of sctpMinCwnd (~54 packets)
// brought that to 34 s; it caps how far a congested path can push the
// rate down (to 64 KiB per round trip, 650 KB/s at 100 ms), a modest
// floor next to what a file transfer wants.
//
// If the path stays down for restartAfter after Disconnected, the offerer
// (the sender) restarts ICE: a new offer with new ICE credentials over the
// signaling channel gathers and checks candidates afresh, which also finds
// a path whose addresses changed. It retries every restartEvery. Either
// side gives up once the connection has been lost for giveUpAfter: reads
// and writes then fail with ErrBroken.
const (
	iceFailed    = 25 * time.Second
	sctpRTOMax   = 2 * time.Second
	sctpMinCwnd  = 64 << 10
	restartAfter = 3 * time.Second
	restartEvery = 5 * time.Second
	giveUpAfter  = 40 * time.Second
)

// NewAPI builds the Pion API for cfg; one serves any number of peers.
func NewAPI(cfg Config) *webrtc.API {
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	se.SetSCTPMaxReceiveBufferSize(sctpRecvBuf)
	se.SetICETimeouts(iceDisconnect, iceFailed, iceKeepAlive)
	se.SetSCTPRTOMax(sctpRTOMax)
	se.SetSCTPMinCwnd(sctpMinCwnd)
	if len(cfg.Interfaces) > 0 {
		allowed := slices.Clone(cfg.Interfaces)
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(allowed, name) })
		se.SetIncludeLoopbackCandidate(slices.Contains(allowed, "lo"))
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	} else {
		se.SetNet(newBufferedNet())
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// Peer negotiates one PeerConnection with one remote peer.
type Peer struct {
	role   Role
	pc     *webrtc.PeerConnection
	send   func(wire.Signal)
	log    *slog.Logger
	id     identity // the certificate of DTLS and QUIC
	quicOK bool     // this side offers QUIC (see quicWanted)

	mu         sync.Mutex
	haveDesc   bool             // remote description set
	pending    []wire.Candidate // candidates that arrived before it
	failed     chan struct{}    // closed when the connection fails or the remote says bye
	failErr    error            //
	opened     chan *stream     // the data channel, once open and detached
	stream     *stream          // the same, for closing it when the connection fails
	quic       *quicStream      // the QUIC stream, once the upgrade went through
	remoteQUIC bool             // the remote description offers QUIC
	back       chan struct{}    // while the connection is lost: closed when ICE connects again
	restarts   int              // ICE restarts offered
	describing bool             // a local description is being set and sent
	held       []wire.Signal    // candidates gathered meanwhile, sent after it
	closed     chan struct{}    // closed by Close
	closeOnce  sync.Once
}

// New creates a Peer. send delivers a signal to the remote peer; it must not
// block for long. Incoming signals go to HandleSignal.
func New(api *webrtc.API, cfg Config, role Role, send func(wire.Signal)) (*Peer, error) {
	servers := webrtcServers(cfg.ICEServers, cfg.logger())
	policy := webrtc.ICETransportPolicyAll
	if cfg.RelayOnly {
		policy = webrtc.ICETransportPolicyRelay
	}
	id, err := newIdentity()
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{
		ICEServers:         servers,
		ICETransportPolicy: policy,
		Certificates:       []webrtc.Certificate{id.webrtc},
	})
	if err != nil {
		return nil, fmt.Errorf("create peer connection: %w", err)
	}
	p := &Peer{
		role:   role,
		pc:     pc,
		send:   send,
		log:    cfg.logger(),
		id:     id,
		quicOK: quicWanted(cfg),
		failed: make(chan struct{}),
		closed: make(chan struct{}),
		opened: make(chan *stream, 1),
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return // gathering complete; trickle needs no marker
		}
		init := c.ToJSON()
		sg := wire.Signal{Kind: wire.SignalCandidate, Candidate: &wire.Candidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		}}
		p.mu.Lock()
		if p.describing {
			p.held = append(p.held, sg)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.send(sg)
	})
	pc.OnICEConnectionStateChange(p.iceStateChanged)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("peer connection state", "state", s.String())
		if s != webrtc.PeerConnectionStateFailed && s != webrtc.PeerConnectionStateClosed {
			return
		}
		p.mu.Lock()
		st := p.stream
		p.mu.Unlock()
		if s == webrtc.PeerConnectionStateFailed && st != nil && pc.ICEConnectionState() == webrtc.ICEConnectionStateFailed {
			return // lost after it was up: recover watches it (see giveUpAfter)
		}
		if s == webrtc.PeerConnectionStateClosed {
			// Nothing more will be delivered, but what arrived can still
			// be read: reads end with io.EOF after it.
			if st != nil {
				st.markBroken()
			}
			return
		}
		p.fail(fmt.Errorf("%w: the connection between the two devices broke or never worked", ErrFailed))
		p.breakStreams() // unblock whoever reads or writes
	})
	if role == Offerer {
		ordered := true
		dc, err := pc.CreateDataChannel(channelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			pc.Close()
			return nil, fmt.Errorf("create data channel: %w", err)
		}
		p.onOpen(dc)
	} else {
		pc.OnDataChannel(func(dc *webrtc.DataChannel) {
			if dc.Label() != channelLabel {
				p.log.Warn("ignoring unexpected data channel", "label", dc.Label())
				return
			}
			p.onOpen(dc)
		})
	}
	return p, nil
}

func (p *Peer) onOpen(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		raw, err := dc.DetachWithDeadline()
		if err != nil {
			p.fail(fmt.Errorf("%w: detach data channel: %v", ErrFailed, err))
			return
		}
		s := newStream(dc, raw)
		p.mu.Lock()
		p.stream = s
		p.mu.Unlock()
		p.opened <- s
	})
}

// iceStateChanged notices a connection that was up getting lost and
// coming back.
func (p *Peer) iceStateChanged(s webrtc.ICEConnectionState) {
	p.log.Debug("ICE connection state", "state", s.String())
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		if p.back != nil {
			close(p.back)
			p.back = nil
			p.log.Info("connection back", "ice_restarts", p.restarts)
		}
	case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
		if p.stream == nil || p.back != nil {
			return // not up yet (Connect handles it), or already lost
		}
		p.back = make(chan struct{})
		p.log.Info("connection lost; waiting for it to come back", "state", s.String())
		go p.recover(p.back)
	}
}

// recover runs while the connection is lost: the offerer restarts ICE
// (see restartAfter), either side gives up after giveUpAfter.
func (p *Peer) recover(back <-chan struct{}) {
	giveUp := time.NewTimer(giveUpAfter)
	defer giveUp.Stop()
	restart := time.NewTimer(restartAfter)
	defer restart.Stop()
	if p.role != Offerer {
		restart.Stop()
	}
	failed := p.failed
	for {
		select {
		case <-back:
			return
		case <-p.closed:
			return
		case <-failed:
			// Aborted (the receiver left the broker, or said bye): no
			// restart can be negotiated any more, but the path may still
			// come back by itself until giveUp.
			restart.Stop()
			failed = nil
		case <-restart.C:
			p.restartICE()
			restart.Reset(restartEvery)
		case <-giveUp.C:
			p.log.Info("connection lost for good", "after", giveUpAfter)
			p.fail(fmt.Errorf("%w: the connection between the two devices broke and did not come back", ErrFailed))
			p.breakStreams()
			return
		}
	}
}

// breakStreams fails the data channel and the QUIC stream, if any:
// blocked Reads and Writes return ErrBroken.
func (p *Peer) breakStreams() {
	p.mu.Lock()
	st, q := p.stream, p.quic
	p.mu.Unlock()
	if q != nil {
		q.fail()
	}
	if st != nil {
		st.fail()
	}
}

// restartICE sends the answerer an offer with new ICE credentials; its
// answer restarts ICE on both sides over the same DTLS and SCTP
// association, so the data channel goes on where it stopped.
func (p *Peer) restartICE() {
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		p.log.Warn("ICE restart: create offer", "err", err)
		return
	}
	p.mu.Lock()
	p.restarts++
	n := p.restarts
	p.mu.Unlock()
	if err := p.describe(wire.SignalOffer, offer); err != nil {
		p.log.Warn("ICE restart", "err", err)
		return
	}
	p.log.Info("ICE restart offered", "attempt", n)
}

// describe sets a local description and sends it. Pion gathers candidates
// as soon as it is set; those are held until the description has been
// sent, since a receiver checks every signal against the handshake that
// the offer starts and drops a candidate that comes before it. A browser
// that offers only an mDNS name of its own then has no path to us at all.
func (p *Peer) describe(kind string, d webrtc.SessionDescription) error {
	p.mu.Lock()
	p.describing = true
	p.mu.Unlock()
	err := p.pc.SetLocalDescription(d)
	if err == nil {
		sdp := d.SDP
		if p.quicOK {
			sdp = withQUIC(sdp) // sent, and signed, but not Pion's business
		}
		p.send(wire.Signal{Kind: kind, SDP: sdp})
	}
	p.mu.Lock()
	held := p.held
	p.held, p.describing = nil, false
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	for _, sg := range held {
		p.send(sg)
	}
	return nil
}

// Abort ends the negotiation: Connect returns err.
func (p *Peer) Abort(err error) { p.fail(err) }

func (p *Peer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.failed:
	default:
		p.failErr = err
		close(p.failed)
	}
}

// HandleSignal applies one signal from the remote peer.
func (p *Peer) HandleSignal(s wire.Signal) error {
	switch s.Kind {
	case wire.SignalOffer:
		if p.role != Offerer {
			return p.answer(s.SDP)
		}
	case wire.SignalAnswer:
		if p.role == Offerer {
			return p.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
		}
	case wire.SignalCandidate:
		return p.addCandidate(*s.Candidate)
	case wire.SignalBye:
		reason := s.Reason
		if reason == "" {
			reason = "no reason given"
		}
		p.fail(fmt.Errorf("%w: %s", ErrBye, reason))
		return nil
	}
	return fmt.Errorf("unexpected %s signal", s.Kind)
}

func (p *Peer) answer(sdp string) error {
	if err := p.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	return p.describe(wire.SignalAnswer, ans)
}

func (p *Peer) setRemote(d webrtc.SessionDescription) error {
	if err := p.pc.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("set remote description: %w", err)
	}
	p.mu.Lock()
	p.haveDesc = true
	p.remoteQUIC = offersQUIC(d.SDP)
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.addCandidate(c); err != nil {
			return err
		}
	}
	return nil
}

func (p *Peer) addCandidate(c wire.Candidate) error {
	p.mu.Lock()
	if !p.haveDesc {
		p.pending = append(p.pending, c)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if c.Candidate == "" {
		return nil // end of candidates
	}
	err := p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
	if err != nil {
		return fmt.Errorf("add ICE candidate: %w", err)
	}
	return nil
}

// Connect runs the negotiation (the offerer sends its offer) and returns the
// open data channel. On failure the Peer is closed.
func (p *Peer) Connect(ctx context.Context) (*Conn, error) {
	if p.role == Offerer {
		offer, err := p.pc.CreateOffer(nil)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("create offer: %w", err)
		}
		if err := p.describe(wire.SignalOffer, offer); err != nil {
			p.Close()
			return nil, err
		}
	}
	select {
	case s := <-p.opened:
		q, err := p.upgrade(ctx, s)
		if err != nil {
			p.Close()
			return nil, err
		}
		c := &Conn{dc: s, peer: p}
		if q != nil {
			p.mu.Lock()
			p.quic = q
			p.mu.Unlock()
			c.quic = q
			select {
			case <-p.failed: // failed during the upgrade: breakStreams missed q
				q.fail()
			default:
			}
		}
		p.log.Info("data path", "transport", c.Transport())
		return c, nil
	case <-p.failed:
		p.Close()
		return nil, p.failErr
	case <-ctx.Done():
		p.Close()
		return nil, context.Cause(ctx)
	}
}

// Close tears the PeerConnection down. It is safe to call more than once.
func (p *Peer) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.closed)
		p.fail(ErrFailed)
		err = p.pc.GracefulClose()
	})
	return err
}

// Conn is an open connection to the remote peer: a byte stream over a
// QUIC stream between two EpicShare desktops, else over the data
// channel (see Transport).
type Conn struct {
	dc   *stream
	quic *quicStream // nil: the data goes over dc
	peer *Peer
}

// Read reads what the other side wrote.
func (c *Conn) Read(p []byte) (int, error) {
	if c.quic != nil {
		return c.quic.Read(p)
	}
	return c.dc.Read(p)
}

// Write writes p to the other side; one Write at a time.
func (c *Conn) Write(p []byte) (int, error) {
	if c.quic != nil {
		return c.quic.Write(p)
	}
	return c.dc.Write(p)
}

// Close closes the streams, once what was written has been delivered
// (waiting at most closeGrace), and the PeerConnection.
func (c *Conn) Close() error {
	if c.quic != nil {
		c.quic.Close()
	}
	c.dc.Close()
	return c.peer.Close()
}

// Transport names what carries the data: "QUIC" or "SCTP" (the data
// channel).
func (c *Conn) Transport() string {
	if c.quic != nil {
		return "QUIC"
	}
	return "SCTP"
}

// VerificationCode is the short code both ends compute from the two DTLS
// certificate fingerprints (see wire.VerificationCode).
func (c *Conn) VerificationCode() string {
	local, remote := c.peer.pc.LocalDescription(), c.peer.pc.RemoteDescription()
	if local == nil || remote == nil {
		return ""
	}
	off, ans := wire.SDPFingerprint(local.SDP), wire.SDPFingerprint(remote.SDP)
	if c.peer.role == Answerer {
		off, ans = ans, off
	}
	return wire.VerificationCode(off, ans)
}

// Path says how the connection runs: directly, through a NAT, or
// relayed; PathUnknown before ICE chose a pair.
func (c *Conn) Path() Path {
	sctp := c.peer.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return PathUnknown
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return PathUnknown
	}
	return pathOf(pair.Local, pair.Remote)
}

// StallCause is the likely reason no data moves, as a code: the UI
// chooses the words.
type StallCause int

const (
	// StallPeerBusy: the other device stopped taking data; it may be
	// asleep or busy, or its disk slow.
	StallPeerBusy StallCause = iota
	// StallNoRoute: ICE lost the path; the other device's network
	// changed or it went to sleep.
	StallNoRoute
	// StallRelaySlow: the TURN server carrying the connection is slow or
	// full.
	StallRelaySlow
)

// String names the cause for logs and the terminal.
func (s StallCause) String() string {
	switch s {
	case StallNoRoute:
		return "no route to the other device: its network changed or it went to sleep"
	case StallRelaySlow:
		return "the relay server carrying the connection is slow or full"
	}
	return "the other device stopped taking data: it may be asleep or busy, or its disk slow"
}

// StallCause guesses why no data moves, from the ICE state and the path.
func (c *Conn) StallCause() StallCause {
	switch c.peer.pc.ICEConnectionState() {
	case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
		return StallNoRoute
	}
	if c.Path() == PathRelay {
		return StallRelaySlow
	}
	return StallPeerBusy
}
