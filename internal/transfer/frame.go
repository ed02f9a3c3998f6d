package transfer

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Frame types. The browser page uses the same numbers.
const (
	frameManifestPart byte = 1  // S→R: a piece of the manifest JSON, more follows
	frameManifest     byte = 2  // S→R: the last piece of the manifest JSON
	frameAccept       byte = 3  // R→S: JSON Accept
	frameData         byte = 4  // S→R: bytes of the current file
	frameFileEnd      byte = 5  // S→R: SHA-256 of the current file (32 bytes)
	frameDone         byte = 6  // R→S: every file verified
	frameCancel       byte = 7  // both: JSON cancel{code, detail}
	frameResumeAt     byte = 8  // S→R: 8-byte offset the next file's data starts at
	frameAcceptPart   byte = 9  // R→S: a piece of the Accept JSON, more follows
	frameChecking     byte = 10 // S→R: still hashing the prefix of a resume point (no payload)
)

const (
	// MaxFrame is the largest frame, length prefix included: 64 KiB, the
	// message size every WebRTC implementation accepts.
	MaxFrame   = 64 << 10
	headerSize = 5
	// MaxPayload is the largest payload of one frame.
	MaxPayload = MaxFrame - headerSize
	// maxManifest bounds the manifest JSON a receiver accepts (about 50k
	// files), and the Accept JSON a sender accepts.
	maxManifest = 8 << 20
)

func frameName(t byte) string {
	switch t {
	case frameManifestPart, frameManifest:
		return "manifest"
	case frameAcceptPart, frameAccept:
		return "accept"
	case frameData:
		return "data"
	case frameFileEnd:
		return "file-end"
	case frameDone:
		return "done"
	case frameCancel:
		return "cancel"
	case frameResumeAt:
		return "resume-at"
	case frameChecking:
		return "checking"
	}
	return fmt.Sprintf("frame type %d", t)
}

// frameReader reads frames from a byte stream into one reusable buffer.
type frameReader struct {
	r     io.Reader
	buf   [MaxFrame]byte
	ahead *aheadRead // a read started early, which next returns first
}

// aheadRead is a frame read in the background while nothing else reads.
type aheadRead struct {
	done    chan struct{}
	t       byte
	payload []byte
	err     error
}

// readAhead starts reading the next frame now, while the caller waits on
// something else (a person deciding), and returns a channel closed once
// that frame, or a read error, is in: the other side spoke or went away.
// The next call to next returns that frame. At most one is pending.
func (fr *frameReader) readAhead() <-chan struct{} {
	a := &aheadRead{done: make(chan struct{})}
	fr.ahead = a
	go func() {
		a.t, a.payload, a.err = fr.read()
		close(a.done)
	}()
	return a.done
}

// next returns the next frame. The payload is valid until the next call.
func (fr *frameReader) next() (byte, []byte, error) {
	if a := fr.ahead; a != nil {
		<-a.done
		fr.ahead = nil
		return a.t, a.payload, a.err
	}
	return fr.read()
}

func (fr *frameReader) read() (byte, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.buf[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(fr.buf[:4])
	if n < 1 || n > MaxFrame-4 {
		return 0, nil, fmt.Errorf("%w: frame length %d", ErrProtocol, n)
	}
	if _, err := io.ReadFull(fr.r, fr.buf[4:4+n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return fr.buf[4], fr.buf[headerSize : 4+n], nil
}

// frameWriter writes whole frames with one Write each; safe for concurrent use.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf [MaxFrame]byte
}

// write sends one frame whose payload is copied from p.
func (fw *frameWriter) write(t byte, p []byte) error {
	if len(p) > MaxPayload {
		return fmt.Errorf("frame payload of %d bytes exceeds %d", len(p), MaxPayload)
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	putHeader(fw.buf[:], t, len(p))
	copy(fw.buf[headerSize:], p)
	_, err := fw.w.Write(fw.buf[:headerSize+len(p)])
	return err
}

// writeFramed sends a frame built in place: b[:headerSize] is free for the
// header and b[headerSize:] holds the payload. It saves a copy per data frame.
func (fw *frameWriter) writeFramed(t byte, b []byte) error {
	putHeader(b, t, len(b)-headerSize)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	_, err := fw.w.Write(b)
	return err
}

func putHeader(b []byte, t byte, payload int) {
	binary.BigEndian.PutUint32(b[:4], uint32(payload+1))
	b[4] = t
}
