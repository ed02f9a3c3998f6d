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
// ending: a canceled context sends cancel{code, detail} and closes the stream,
// which unblocks any Read or Write in progress.
type conn struct {
	rwc  io.ReadWriteCloser
	fr   frameReader
	fw   frameWriter
	peer string // what the other side is: "sender" or "receiver"
}

func newConn(rwc io.ReadWriteCloser, peer string) *conn {
	c := &conn{rwc: rwc, peer: peer}
	c.fr.r = rwc
	c.fw.w = rwc
	return c
}

// cancelMsg is the payload of a cancel frame.
type cancelMsg struct {
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// abort tells the other side why this side stops (a Cancel code and an
// optional detail), waiting at most cancelGrace, then closes the stream.
func (c *conn) abort(code, detail string) {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	b, _ := json.Marshal(cancelMsg{Code: code, Detail: detail})
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

// onCancel arranges for abort(CancelStopped) when ctx ends. The returned
// stop function must be called before the transfer returns.
func (c *conn) onCancel(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		defer close(done)
		c.abort(CancelStopped, "")
	})
	return func() {
		if !unregister() {
			<-done // the abort is running: let it finish
		}
	}
}

// maxDetail bounds the detail of a cancel, both ways.
const maxDetail = 500

// peerCanceled decodes the payload of a cancel frame from the side named
// from ("sender" or "receiver").
func (c *conn) peerCanceled(payload []byte) error {
	var m cancelMsg
	if err := json.Unmarshal(payload, &m); err != nil || len(m.Code) > 40 {
		return &PeerError{Code: CancelFailed, From: c.peer}
	}
	if len(m.Detail) > maxDetail {
		m.Detail = m.Detail[:maxDetail]
	}
	return &PeerError{Code: m.Code, Detail: m.Detail, From: c.peer}
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
			return nil, c.peerCanceled(payload)
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
