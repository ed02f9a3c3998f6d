package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"time"
)

// SendOptions tune Send.
type SendOptions struct {
	// Progress, if set, is called from Send's goroutine at most every 100 ms
	// and at every file boundary; it must not block.
	Progress func(Progress)
	// OnStall, if set, is called from another goroutine when no data moved
	// for StallAfter (DefaultStallAfter if zero), once per stall.
	OnStall    func(idle time.Duration)
	StallAfter time.Duration
}

// Accept is the receiver's answer to a manifest.
type Accept struct {
	// Files, if not nil, lists the indexes in Manifest.Entries of the only
	// files the receiver wants (the browser page's per-file Download
	// button, or the files a resumed transfer still lacks); nil means
	// every file.
	Files []int `json:"files"`
	// Resume lists files the receiver has the start of already.
	Resume []ResumePoint `json:"resume,omitempty"`
}

// wants reports whether the receiver asked for entry i.
func (a Accept) wants(i int) bool {
	return a.Files == nil || slices.Contains(a.Files, i)
}

// resumeFrom returns the resume point for entry i, if any.
func (a Accept) resumeFrom(i int) *ResumePoint {
	for k := range a.Resume {
		if a.Resume[k].File == i {
			return &a.Resume[k]
		}
	}
	return nil
}

// total is the number of bytes the receiver asked for.
func (a Accept) total(m Manifest) int64 {
	var n int64
	for i, e := range m.Entries {
		if a.wants(i) {
			n += e.Size
		}
	}
	return n
}

// Send offers o over rwc and streams every file once the receiver accepts.
// It returns nil only after the receiver confirmed that every file verified.
// Send closes rwc before it returns. Canceling ctx tells the receiver that
// the sender stopped.
func Send(ctx context.Context, rwc io.ReadWriteCloser, o *Offer, opts SendOptions) (err error) {
	c := newConn(rwc, "receiver")
	stop := c.onCancel(ctx)
	defer func() {
		stop()
		rwc.Close()
	}()

	if err := c.sendManifest(o.Manifest); err != nil {
		return readErr(ctx, err)
	}
	b, err := c.readJoined(frameAcceptPart, frameAccept, ErrProtocol)
	if err != nil {
		var pe *PeerError
		if errors.As(err, &pe) || errors.Is(err, ErrProtocol) {
			return err
		}
		return readErr(ctx, err)
	}
	var accept Accept
	if err := json.Unmarshal(b, &accept); err != nil {
		return fmt.Errorf("%w: bad accept: %v", ErrProtocol, err)
	}
	for _, i := range accept.Files {
		if i < 0 || i >= len(o.Manifest.Entries) || o.Manifest.Entries[i].Dir {
			return fmt.Errorf("%w: accept names entry %d, which is not a file", ErrProtocol, i)
		}
	}
	if err := accept.validResume(o.Manifest); err != nil {
		return err
	}

	// From here on the receiver only speaks to say done or cancel.
	peerEnd := make(chan error, 1)
	go func() {
		t, payload, err := c.fr.next()
		switch {
		case err != nil:
			peerEnd <- readErr(ctx, err)
		case t == frameDone:
			peerEnd <- nil
		case t == frameCancel:
			peerEnd <- c.peerCanceled(payload)
		default:
			peerEnd <- unexpected(t, "done")
		}
	}()
	fail := func(err error) error {
		var pe *PeerError
		if ctx.Err() == nil && !errors.Is(err, ErrConnectionLost) && !errors.As(err, &pe) {
			if errors.Is(err, ErrSourceChanged) {
				c.abort(CancelSourceChanged, err.Error())
			} else {
				c.abort(CancelFailed, err.Error())
			}
		}
		c.rwc.Close() // unblocks the reader goroutine
		if perr := <-peerEnd; perr != nil {
			if errors.As(perr, &pe) {
				return perr // the receiver's reason explains more than ours
			}
		}
		return err
	}

	tr := newTracker(opts.Progress, accept.total(o.Manifest))
	tr.wd = startWatchdog(opts.StallAfter, opts.OnStall)
	defer tr.wd.close()
	defer func() {
		if err != nil {
			tr.report(true) // the exact count of what was sent
		}
	}()
	buf := make([]byte, MaxFrame)
	for i, e := range o.Manifest.Entries {
		if e.Dir || !accept.wants(i) {
			continue
		}
		tr.file(i, e)
		sum, err := c.sendFile(ctx, o.local[i], o.modTime[i], e, accept.resumeFrom(i), buf, tr, peerEnd)
		if err != nil {
			if ctx.Err() != nil {
				return readErr(ctx, err)
			}
			return fail(err)
		}
		if err := c.fw.write(frameFileEnd, sum); err != nil {
			return fail(readErr(ctx, err))
		}
	}
	tr.finish()
	select {
	case err := <-peerEnd:
		return err
	case <-ctx.Done():
		stop()
		return readErr(ctx, ctx.Err())
	}
}

func (c *conn) sendManifest(m Manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.writeJoined(frameManifestPart, frameManifest, b)
}

// sendFile streams one file as data frames and returns its SHA-256. buf is
// a MaxFrame scratch buffer; frames are built in place to avoid a copy.
// A file whose size or modification time differs from the offer's, before
// or after it is read, is refused: its bytes would not be the offered ones.
//
// With a resume point, the sender hashes its own first rp.Offset bytes and
// skips them if they match the receiver's, telling it with resume-at where
// the data starts.
func (c *conn) sendFile(ctx context.Context, local string, mtime time.Time, e Entry, rp *ResumePoint, buf []byte, tr *tracker, peerEnd chan error) ([]byte, error) {
	f, err := os.Open(local)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSourceChanged, e.Path, err)
	}
	defer f.Close()
	unchanged := func(when string) error {
		fi, err := f.Stat()
		if err != nil || fi.Size() != e.Size || !fi.ModTime().Equal(mtime) {
			return fmt.Errorf("%w: %s was modified %s", ErrSourceChanged, e.Path, when)
		}
		return nil
	}
	if err := unchanged("after it was offered"); err != nil {
		return nil, err
	}
	h := sha256.New()
	left := e.Size
	if rp != nil {
		start, err := c.skipPrefix(ctx, f, h, rp, tr)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrConnectionLost) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: read: %v", ErrSourceChanged, e.Path, err)
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(start))
		if err := c.fw.write(frameResumeAt, b[:]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConnectionLost, err)
		}
		tr.skip(start)
		left -= start
	}
	for left > 0 {
		select {
		case err := <-peerEnd:
			if err == nil {
				err = fmt.Errorf("%w: done before the last file", ErrProtocol)
			}
			peerEnd <- err // fail() reads it again
			return nil, err
		default:
		}
		n := int(min(left, MaxPayload))
		chunk := buf[headerSize : headerSize+n]
		if _, err := io.ReadFull(f, chunk); err != nil {
			return nil, fmt.Errorf("%w: %s: read: %v", ErrSourceChanged, e.Path, err)
		}
		h.Write(chunk)
		if err := c.fw.writeFramed(frameData, buf[:headerSize+n]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConnectionLost, err)
		}
		left -= int64(n)
		tr.add(n)
	}
	if err := unchanged("while it was being sent"); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// skipPrefix hashes the first rp.Offset bytes of f into h and returns
// rp.Offset if they are the receiver's, leaving f there; otherwise it resets
// h and f and returns 0.
//
// Hashing gigabytes from a slow disk can take longer than a stall: every
// checkingEvery it tells the receiver, whose watchdog would otherwise see
// nothing arrive, that it is still at work.
func (c *conn) skipPrefix(ctx context.Context, f *os.File, h hash.Hash, rp *ResumePoint, tr *tracker) (int64, error) {
	told := time.Now()
	for done := int64(0); done < rp.Offset; {
		if ctx.Err() != nil {
			return 0, ctx.Err() // a stop need not wait for gigabytes of hashing
		}
		n, err := io.CopyN(h, f, min(rp.Offset-done, 8<<20))
		done += n
		if err != nil {
			return 0, err
		}
		tr.wd.touch() // hashing a long prefix is progress, not a stall
		if done < rp.Offset && time.Since(told) >= checkingEvery {
			if err := c.fw.write(frameChecking, nil); err != nil {
				return 0, fmt.Errorf("%w: %v", ErrConnectionLost, err)
			}
			told = time.Now()
		}
	}
	if bytes.Equal(h.Sum(nil), rp.SHA256) {
		return rp.Offset, nil
	}
	h.Reset()
	_, err := f.Seek(0, io.SeekStart)
	return 0, err
}
