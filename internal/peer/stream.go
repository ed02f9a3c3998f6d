package peer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

// maxMessage is the largest data-channel message a stream reads.
const maxMessage = 256 << 10

// stream adapts a detached, message-oriented data channel to a byte stream
// with write backpressure. One Write sends one message, so a writer that
// writes whole frames keeps one frame per message.
type stream struct {
	dc  *webrtc.DataChannel
	raw datachannel.ReadWriteCloserDeadliner

	rbuf       []byte // the current message
	rpos, rend int

	low       chan struct{} // a token when the send buffer drained below lowWater
	closed    chan struct{}
	broken    chan struct{} // the connection failed: nothing written will arrive
	breakOnce sync.Once
	failed    atomic.Bool // the connection failed (not closed by the peer)
	closeOnce sync.Once
}

func newStream(dc *webrtc.DataChannel, raw datachannel.ReadWriteCloserDeadliner) *stream {
	s := &stream{dc: dc, raw: raw, low: make(chan struct{}, 1), closed: make(chan struct{}), broken: make(chan struct{})}
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case s.low <- struct{}{}:
		default:
		}
	})
	return s
}

// Read reads bytes of the incoming messages in order.
func (s *stream) Read(p []byte) (int, error) {
	if s.rpos == s.rend {
		if s.rbuf == nil {
			s.rbuf = make([]byte, maxMessage)
		}
		n, err := s.raw.Read(s.rbuf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				return 0, fmt.Errorf("data channel message larger than %d bytes", maxMessage)
			}
			return 0, s.closedErr(err)
		}
		s.rpos, s.rend = 0, n
	}
	n := copy(p, s.rbuf[s.rpos:s.rend])
	s.rpos += n
	return n, nil
}

// Write sends p as one message, waiting while the send buffer is full.
func (s *stream) Write(p []byte) (int, error) {
	for s.dc.BufferedAmount() > highWater {
		select {
		case <-s.low:
		case <-s.closed:
			return 0, s.closedErr(nil)
		case <-s.broken: // the buffer will never drain
			if s.failed.Load() {
				return 0, ErrBroken
			}
			return 0, io.ErrClosedPipe
		}
	}
	n, err := s.raw.Write(p)
	if err != nil {
		return n, s.closedErr(err)
	}
	return n, nil
}

// ErrBroken is what reads and writes return once the connection failed.
var ErrBroken = errors.New("the other device stopped answering")

func (s *stream) closedErr(err error) error {
	if s.failed.Load() {
		return ErrBroken
	}
	select {
	case <-s.closed:
		return net.ErrClosed
	default:
		return err
	}
}

// closeGrace bounds how long Close waits for written data to be delivered.
const closeGrace = 3 * time.Second

// Close closes the data channel once what was written has been delivered
// (acknowledged by the peer), waiting at most closeGrace; blocked Reads and
// Writes return at once.
func (s *stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.raw.SetReadDeadline(time.Now()) // closing the SCTP stream alone does not end a Read
		deadline := time.Now().Add(closeGrace)
		for s.dc.BufferedAmount() > 0 && time.Now().Before(deadline) {
			select {
			case <-s.broken:
				deadline = time.Time{}
			case <-time.After(10 * time.Millisecond): // Pion signals no "empty" event
			}
		}
		err = s.raw.Close()
	})
	return err
}

// markBroken records that nothing written will be delivered any more.
func (s *stream) markBroken() { s.breakOnce.Do(func() { close(s.broken) }) }

// fail marks the connection as broken and closes the stream.
func (s *stream) fail() {
	s.failed.Store(true)
	s.markBroken()
	s.Close()
}
