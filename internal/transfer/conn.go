package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// cancelGrace bounds how long a side waits to tell the other why it stops.
const cancelGrace = 2 * time.Second

// conn is one side of a transfer: frames in, frames out, and the rules for
// ending: a canceled context sends cancel{reason} and closes the stream,
// which unblocks any Read or Write in progress.
type conn struct {
	rwc io.ReadWriteCloser
	fr  frameReader
	fw  frameWriter
}

func newConn(rwc io.ReadWriteCloser) *conn {
	c := &conn{rwc: rwc}
	c.fr.r = rwc
	c.fw.w = rwc
	return c
}

type cancelMsg struct {
	Reason string `json:"reason"`
}

// abort tells the other side why this side stops, waiting at most
// cancelGrace, then closes the stream.
func (c *conn) abort(reason string) {
	b, _ := json.Marshal(cancelMsg{Reason: reason})
	sent := make(chan struct{})
	go func() {
		c.fw.write(frameCancel, b) // best effort: the stream may be gone
		close(sent)
	}()
	t := time.NewTimer(cancelGrace)
	select {
	case <-sent:
	case <-t.C:
	}
	t.Stop()
	c.rwc.Close()
	<-sent // Close unblocks a pending write
}

// onCancel arranges for abort(reason) when ctx ends. The returned stop
// function must be called before the transfer returns.
func (c *conn) onCancel(ctx context.Context, reason string) (stop func()) {
	done := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		defer close(done)
		c.abort(reason)
	})
	return func() {
		if !unregister() {
			<-done // the abort is running: let it finish
		}
	}
}

// peerCanceled decodes the payload of a cancel frame.
func peerCanceled(payload []byte) error {
	var m cancelMsg
	if err := json.Unmarshal(payload, &m); err != nil {
		return &PeerError{}
	}
	if len(m.Reason) > 500 {
		m.Reason = m.Reason[:500]
	}
	return &PeerError{Reason: m.Reason}
}

// readErr classifies an error from reading or writing the stream.
func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ErrCanceled, context.Cause(ctx))
	}
	var pe *PeerError
	if errors.Is(err, ErrProtocol) || errors.Is(err, ErrBadManifest) || errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrConnectionLost, err)
}

// unexpected reports a frame that has no place at this point of the flow.
func unexpected(t byte, want string) error {
	if t == frameCancel {
		return nil
	}
	return fmt.Errorf("%w: got %s, want %s", ErrProtocol, frameName(t), want)
}

// writeJoined sends b as frames of type part, the last one of type last,
// so that a JSON message larger than a frame gets through.
func (c *conn) writeJoined(part, last byte, b []byte) error {
	for len(b) > MaxPayload {
		if err := c.fw.write(part, b[:MaxPayload]); err != nil {
			return err
		}
		b = b[MaxPayload:]
	}
	return c.fw.write(last, b)
}

// readJoined reads what writeJoined sent, up to maxManifest bytes; a cancel
// frame instead returns the other side's reason. tooBig is the error a
// longer message is wrapped in.
func (c *conn) readJoined(part, last byte, tooBig error) ([]byte, error) {
	var b []byte
	for {
		t, payload, err := c.fr.next()
		if err != nil {
			return nil, err
		}
		switch t {
		case part, last:
		case frameCancel:
			return nil, peerCanceled(payload)
		default:
			return nil, unexpected(t, frameName(last))
		}
		if len(b)+len(payload) > maxManifest {
			return nil, fmt.Errorf("%w: %s larger than %d bytes", tooBig, frameName(last), maxManifest)
		}
		b = append(b, payload...)
		if t == last {
			return b, nil
		}
	}
}
