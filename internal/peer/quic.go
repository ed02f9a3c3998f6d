package peer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/quic-go/quic-go"

	"github.com/epicshare/epicshare/internal/wire"
)

// Between two EpicShare desktops the data does not ride the data
// channel but a QUIC stream (github.com/quic-go/quic-go) on the same
// ICE-selected UDP path. A data channel costs its sender and receiver
// per datagram: Pion's SCTP sends fixed 1,191-byte packets, each through
// DTLS, a goroutine hand-off or two and a lock-heavy association, and
// tops out near 50 MB/s at ~18 / 11 CPU-seconds per GiB (sender /
// receiver) on a 1500-MTU link between two machines. quic-go on the same
// link, socket and cores moved the same bytes at over four times the
// rate for a fifth of the CPU (bench/levers.md, 2026-12-08). Browsers
// speak no QUIC to a peer, so they keep the data channel.
//
// Nothing about the trust changes. Each side offers QUIC with a line in
// its SDP (quicAttribute), which the handshake's MAC covers like the
// rest of it, and QUIC's TLS 1.3 uses the very certificate whose
// fingerprint the signed SDP carries for DTLS: each side accepts only
// the peer certificate whose SHA-256 matches the fingerprint in the
// remote description. A broker that strips the line only keeps the pair
// on the data channel.
//
// The upgrade runs once the data channel is open: the offerer dials,
// the answerer accepts, each then tells the other over the data channel
// whether it has a working QUIC stream ('Q') or not ('S'), and only when
// both say 'Q' does the connection move to QUIC; else both stay on the
// data channel. The data channel stays open, idle, for the close
// handshake (see quicStream.Close).
const (
	quicAttribute = "a=x-epicshare-quic:1"
	quicALPN      = "epicshare/1"
	quicHandshake = 3 * time.Second  // for the QUIC handshake, on a path ICE just checked
	quicDecision  = 10 * time.Second // for the other side's 'Q' or 'S'
	markQUIC      = 'Q'
	markSCTP      = 'S'
	markEnd       = 'E' // "I have all you sent" (see quicStream.Close)
)

// noQUICEnv names the environment variable that keeps every connection
// on the data channel when set to anything but "" or "0" (for measuring
// one against the other, or as a way out should a network mistreat it).
const noQUICEnv = "EPICSHARE_NO_QUIC"

// quicWanted says whether a peer built with cfg offers QUIC: not over a
// virtual network, whose sockets are not ours, nor when only a relay
// may carry the data.
func quicWanted(cfg Config) bool {
	if v := os.Getenv(noQUICEnv); v != "" && v != "0" {
		return false
	}
	return cfg.Net == nil && !cfg.RelayOnly && !cfg.NoQUIC
}

// withQUIC adds quicAttribute to the session part of sdp.
func withQUIC(sdp string) string {
	i := strings.Index(sdp, "\r\nm=")
	if i < 0 {
		return sdp
	}
	return sdp[:i+2] + quicAttribute + "\r\n" + sdp[i+2:]
}

// offersQUIC says whether the session part of sdp has quicAttribute.
func offersQUIC(sdp string) bool {
	session, _, _ := strings.Cut(sdp, "\nm=")
	for line := range strings.Lines(session) {
		if strings.TrimRight(line, "\r\n") == quicAttribute {
			return true
		}
	}
	return false
}

// identity is a peer's certificate, for DTLS and QUIC alike.
type identity struct {
	webrtc webrtc.Certificate
	tls    tls.Certificate
}

func newIdentity() (identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return identity{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return identity{}, err
	}
	now := time.Now()
	tpl := x509.Certificate{
		SerialNumber:       serial,
		Subject:            pkix.Name{CommonName: "epicshare"},
		NotBefore:          now.Add(-24 * time.Hour),
		NotAfter:           now.AddDate(0, 0, 30),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificate(rand.Reader, &tpl, &tpl, &key.PublicKey, key)
	if err != nil {
		return identity{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return identity{}, err
	}
	return identity{
		webrtc: webrtc.CertificateFromX509(key, cert),
		tls:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert},
	}, nil
}

// errWrongCert is a QUIC peer certificate other than the one the
// signed SDP announced.
var errWrongCert = errors.New("QUIC peer certificate does not match the fingerprint in the signed SDP")

// matchesFingerprint says whether cert (DER) has the fingerprint fp, as
// an SDP writes it ("sha-256 AB:CD:…").
func matchesFingerprint(fp string, cert []byte) bool {
	alg, value, ok := strings.Cut(strings.TrimSpace(fp), " ")
	if !ok || !strings.EqualFold(alg, "sha-256") {
		return false
	}
	want, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(value), ":", ""))
	sum := sha256.Sum256(cert)
	return err == nil && bytes.Equal(want, sum[:])
}

// tlsConfig is the TLS of a QUIC upgrade: ours is id, the peer's must
// have the fingerprint remoteFP.
func tlsConfig(id identity, remoteFP string, server bool) *tls.Config {
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 || !matchesFingerprint(remoteFP, raw[0]) {
			return errWrongCert
		}
		return nil
	}
	c := &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{id.tls},
		NextProtos:            []string{quicALPN},
		VerifyPeerCertificate: verify,
	}
	if server {
		c.ClientAuth = tls.RequireAnyClientCert
	} else {
		c.ServerName = "epicshare"
		c.InsecureSkipVerify = true // no CA: verify checks the fingerprint instead
	}
	return c
}

func quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: quicHandshake,
		// The connection outlives a lost path as long as the data
		// channel would (see giveUpAfter); ICE keeps the path checked.
		MaxIdleTimeout:        giveUpAfter,
		KeepAlivePeriod:       iceKeepAlive,
		MaxIncomingStreams:    1,
		MaxIncomingUniStreams: -1,
	}
}

// quietBuffers keeps quic-go from printing (to the terminal, mid
// progress bar) that it could not grow the socket's buffers: ICE opened
// the socket with the buffers it could get (see udpBuffer), and QUIC
// works with them. A value set by the user wins.
var quietBuffers = sync.OnceFunc(func() {
	const env = "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"
	if _, set := os.LookupEnv(env); !set {
		os.Setenv(env, "true")
	}
})

// upgrade tries to move the connection to QUIC (see above) and returns
// the QUIC stream, or nil to stay on the data channel. An error means
// the two sides could not even agree on that.
func (p *Peer) upgrade(ctx context.Context, dc *stream) (*quicStream, error) {
	p.mu.Lock()
	try := p.quicOK && p.remoteQUIC
	p.mu.Unlock()
	if !try {
		return nil, nil
	}
	q, err := p.openQUIC(ctx)
	mine := byte(markQUIC)
	if err != nil {
		p.log.Info("QUIC not available; staying on the data channel", "err", err)
		mine = markSCTP
	}
	theirs, derr := exchange(dc, mine)
	if derr != nil {
		if q != nil {
			q.abort()
		}
		return nil, fmt.Errorf("%w: agree on the data path: %v", ErrFailed, derr)
	}
	if mine != markQUIC || theirs != markQUIC {
		if q != nil {
			p.log.Info("QUIC refused by the other side; staying on the data channel")
			q.abort()
		}
		return nil, nil
	}
	q.dc = dc
	return q, nil
}

// exchange writes one mark on the data channel and reads the other
// side's.
func exchange(dc *stream, mine byte) (byte, error) {
	if _, err := dc.Write([]byte{mine}); err != nil {
		return 0, err
	}
	dc.raw.SetReadDeadline(time.Now().Add(quicDecision))
	defer dc.raw.SetReadDeadline(time.Time{})
	var b [1]byte
	n, err := dc.Read(b[:])
	if err != nil {
		return 0, err
	}
	if n != 1 || dc.rpos != dc.rend {
		return 0, errors.New("unexpected message")
	}
	return b[0], nil
}

// openQUIC runs the QUIC handshake on the selected pair: the offerer
// dials, the answerer listens, and the offerer opens the one stream.
func (p *Peer) openQUIC(ctx context.Context) (*quicStream, error) {
	ice := p.pc.SCTP().Transport().ICETransport()
	pair, err := ice.GetSelectedCandidatePair()
	if err != nil {
		return nil, err
	}
	r, ok := routeOf(pair)
	if !ok {
		return nil, fmt.Errorf("no direct UDP path (%v)", pair)
	}
	remote := p.pc.RemoteDescription()
	if remote == nil {
		return nil, errors.New("no remote description")
	}
	fp := wire.SDPFingerprint(remote.SDP)
	path := newQUICPath(r)
	ice.OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		if r, ok := routeOf(pair); ok {
			path.moveTo(&r)
		} else {
			path.moveTo(nil)
		}
		p.log.Debug("QUIC path follows the selected pair", "pair", pair.String(), "direct", ok)
	})
	quietBuffers()
	tr := &quic.Transport{Conn: packetConn(path)}
	fail := func(err error) (*quicStream, error) {
		tr.Close()
		path.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, quicHandshake)
	defer cancel()
	var conn *quic.Conn
	var st *quic.Stream
	if p.role == Offerer {
		conn, err = tr.Dial(ctx, path.peer, tlsConfig(p.id, fp, false), quicConfig())
		if err != nil {
			return fail(err)
		}
		if st, err = conn.OpenStreamSync(ctx); err == nil {
			_, err = st.Write([]byte{markQUIC}) // a stream shows up at the peer with its first byte
		}
	} else {
		var ln *quic.Listener
		ln, err = tr.Listen(tlsConfig(p.id, fp, true), quicConfig())
		if err != nil {
			return fail(err)
		}
		conn, err = ln.Accept(ctx)
		ln.Close() // one connection; accepted ones stay
		if err != nil {
			return fail(err)
		}
		if st, err = conn.AcceptStream(ctx); err == nil {
			st.SetReadDeadline(time.Now().Add(quicHandshake))
			var b [1]byte
			if _, err = io.ReadFull(st, b[:]); err == nil && b[0] != markQUIC {
				err = errors.New("unexpected first byte")
			}
			st.SetReadDeadline(time.Time{})
		}
	}
	if err != nil {
		conn.CloseWithError(quicRefused, "")
		return fail(err)
	}
	return &quicStream{st: st, conn: conn, tr: tr, path: path, sawEnd: make(chan struct{})}, nil
}

// QUIC application error codes.
const (
	quicDone    quic.ApplicationErrorCode = 0 // both sides have all the other sent
	quicRefused quic.ApplicationErrorCode = 1 // the upgrade did not go through
	quicLost    quic.ApplicationErrorCode = 2 // the connection failed (see Peer.fail)
)

// quicStream is the QUIC stream of a connection, as an
// io.ReadWriteCloser with the data channel's errors: io.EOF after the
// other side closed, net.ErrClosed after this one did, ErrBroken when
// the connection failed.
type quicStream struct {
	st   *quic.Stream
	conn *quic.Conn
	tr   *quic.Transport
	path *quicPath
	dc   *stream // for the close handshake

	rmu, wmu  sync.Mutex    // one Read, one Write at a time (Close takes them too)
	sawEnd    chan struct{} // closed once a Read ended (the peer's FIN, or an error)
	endOnce   sync.Once
	closing   atomic.Bool
	failed    atomic.Bool
	closeOnce sync.Once
}

// Read reads what the other side wrote.
func (q *quicStream) Read(b []byte) (int, error) {
	q.rmu.Lock()
	defer q.rmu.Unlock()
	for {
		n, err := q.st.Read(b)
		if err != nil {
			q.endOnce.Do(func() { close(q.sawEnd) })
		}
		switch {
		case err == nil && q.closing.Load():
			continue // closed by this side: what still comes is drained
		case err == nil, n > 0 && !q.closing.Load():
			return n, nil // an error comes again with the next Read
		}
		return 0, q.mapErr(err)
	}
}

// Write writes b to the other side, waiting while QUIC's flow and
// congestion control hold it back.
func (q *quicStream) Write(b []byte) (int, error) {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if q.closing.Load() {
		return 0, q.mapErr(net.ErrClosed)
	}
	n, err := q.st.Write(b)
	if err != nil {
		return n, q.mapErr(err)
	}
	return n, nil
}

func (q *quicStream) mapErr(err error) error {
	switch {
	case q.failed.Load():
		return ErrBroken
	case q.closing.Load():
		return net.ErrClosed
	case errors.Is(err, io.EOF):
		return io.EOF
	}
	return fmt.Errorf("%w: %v", ErrBroken, err)
}

// Close ends the stream once both sides have all the other wrote, so
// that nothing written is lost, waiting at most closeGrace: it sends
// FIN, reads (and drops) what the other side still sends up to its FIN,
// then says so with markEnd on the data channel, which delivers it
// reliably, and tears QUIC down when the other side's markEnd arrives.
// (Tearing QUIC down discards what is not yet acknowledged, so neither
// side may do it before the other has everything.) A Read or Write
// waiting meanwhile returns net.ErrClosed.
func (q *quicStream) Close() error {
	q.closeOnce.Do(func() {
		deadline := time.Now().Add(closeGrace)
		q.closing.Store(true)
		if !q.wmu.TryLock() {
			q.st.SetWriteDeadline(time.Now()) // unblock the Write holding it
			q.wmu.Lock()
		}
		q.st.Close() // FIN, after what was written
		q.wmu.Unlock()
		q.st.SetReadDeadline(deadline)
		if q.rmu.TryLock() {
			go func() { // no reader: drain here, up to the FIN
				defer q.rmu.Unlock()
				buf := make([]byte, 16<<10)
				for {
					if _, err := q.st.Read(buf); err != nil {
						q.endOnce.Do(func() { close(q.sawEnd) })
						return
					}
				}
			}()
		}
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-q.sawEnd:
		case <-t.C:
		}
		if q.dc != nil && !q.failed.Load() {
			q.dc.Write([]byte{markEnd})
			q.dc.raw.SetReadDeadline(deadline)
			var b [1]byte
			q.dc.Read(b[:]) // the other side's markEnd, or the deadline
		}
		q.shut(quicDone)
	})
	return nil
}

// abort tears QUIC down at once, for an upgrade that did not go through.
func (q *quicStream) abort() {
	q.closing.Store(true)
	q.shut(quicRefused)
}

// fail marks the connection as broken and tears QUIC down: blocked
// Reads and Writes return ErrBroken.
func (q *quicStream) fail() {
	q.failed.Store(true)
	q.shut(quicLost)
}

func (q *quicStream) shut(code quic.ApplicationErrorCode) {
	q.conn.CloseWithError(code, "")
	q.tr.Close()
	q.path.Close()
}
