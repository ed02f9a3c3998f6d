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
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// ReceiveOptions tune Receive.
type ReceiveOptions struct {
	// Confirm, if set, is asked before anything is written. Returning an
	// error declines the offer; the sender is told the receiver declined.
	Confirm func(context.Context, Manifest) error
	// Progress, if set, is called from Receive's goroutine at most every
	// 100 ms and at every file boundary; it must not block.
	Progress func(Progress)
	// OnStall, if set, is called from another goroutine when no data
	// arrived for StallAfter (DefaultStallAfter if zero), once per stall.
	OnStall    func(idle time.Duration)
	StallAfter time.Duration
	// KeepOnCancel keeps the partial files for a later resume when ctx
	// ends (an interrupted command), instead of removing them (a Cancel
	// button).
	KeepOnCancel bool
}

// Result describes a completed receive.
type Result struct {
	Manifest Manifest
	// Saved lists the top-level items as named in the target folder; a
	// name differs from the manifest's when that name was already taken.
	Saved []string
	// Resumed counts the bytes an earlier, broken attempt had delivered.
	Resumed int64
}

// doneLinger bounds how long the receiver waits, after saying done, for the
// sender to close the stream.
const doneLinger = 5 * time.Second

// Receive reads an offer from rwc and writes the files under dir, which
// must exist. Every file is written as NAME.part and renamed to its final
// name only once its SHA-256 matches; existing files are never overwritten
// (a taken name becomes "name (1).ext"). Nothing is written outside dir.
//
// When a transfer breaks (the connection, the sender, a full disk), the
// .part files stay, with a journal, and receiving the same offer into the
// same folder again continues where it stopped: complete files are skipped
// and each .part continues from its end once the sender agrees that its
// content is the start of the file. Receive closes rwc before it returns.
func Receive(ctx context.Context, rwc io.ReadWriteCloser, dir string, opts ReceiveOptions) (*Result, error) {
	c := newConn(rwc, "sender")
	stop := c.onCancel(ctx)
	defer func() {
		stop()
		rwc.Close()
	}()

	m, err := c.readManifest()
	if err != nil {
		if errors.Is(err, ErrBadManifest) {
			c.abort(CancelBadOffer, err.Error())
		}
		return nil, readErr(ctx, err)
	}
	root, err := openTarget(dir)
	if err != nil {
		c.abort(CancelCannotWrite, "")
		return nil, err
	}
	defer root.Close()
	if opts.Confirm != nil {
		if err := c.confirm(ctx, m, opts.Confirm); err != nil {
			return nil, err
		}
	}

	w := &writer{root: root, m: m, top: make(map[string]string),
		skip: make(map[int]bool), resume: make(map[int]*resumeState)}
	if w.j, err = openJournal(root, m); err != nil {
		c.abort(cancelFor(err))
		return nil, err
	}
	var tr *tracker
	fail := func(err error) (*Result, error) {
		if ctx.Err() != nil {
			err = readErr(ctx, err)
		} else {
			var pe *PeerError
			if !errors.As(err, &pe) && !errors.Is(err, ErrConnectionLost) {
				c.abort(cancelFor(err))
			}
		}
		if !w.resumable(ctx, err, opts.KeepOnCancel) {
			w.j.discard()
			return nil, err
		}
		w.j.keep()
		if tr != nil && tr.p.Done > 0 {
			tr.report(true)
			return nil, &PartialError{Err: err, Kept: tr.p.Done}
		}
		return nil, err
	}
	if err := w.makeDirs(); err != nil {
		return fail(err)
	}
	accept, err := w.plan()
	if err != nil {
		return fail(err)
	}
	b, _ := json.Marshal(accept)
	if err := c.writeJoined(frameAcceptPart, frameAccept, b); err != nil {
		return fail(readErr(ctx, err))
	}

	tr = newTracker(opts.Progress, m.Total())
	tr.wd = startWatchdog(opts.StallAfter, opts.OnStall)
	defer tr.wd.close()
	for i, e := range m.Entries {
		if e.Dir {
			continue
		}
		tr.file(i, e)
		if w.skip[i] {
			tr.skip(e.Size)
			continue
		}
		if err := c.receiveFile(ctx, w, i, e, tr, opts.KeepOnCancel); err != nil {
			return fail(err)
		}
	}
	if err := w.chmodDirs(); err != nil {
		return fail(err)
	}
	if err := c.fw.write(frameDone, nil); err != nil {
		return fail(readErr(ctx, err))
	}
	w.j.finish()
	tr.finish()
	c.linger()
	return &Result{Manifest: m, Saved: w.saved, Resumed: tr.p.Resumed}, nil
}

// confirm asks whether to take the offer m. The sender says nothing until
// it has an answer, so while the person decides, a frame from it (its
// cancel: it stopped) or the end of the stream (it left) withdraws the
// question: confirm's context ends, and the sender's reason is returned.
func (c *conn) confirm(ctx context.Context, m Manifest, ask func(context.Context, Manifest) error) error {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	spoke := c.fr.readAhead()
	withdrawn := make(chan struct{})
	go func() {
		select {
		case <-spoke:
			close(withdrawn)
			cancel()
		case <-actx.Done():
		}
	}()
	err := ask(actx, m)
	select {
	case <-withdrawn:
		// The sender stopped or left while the person decided.
		t, payload, rerr := c.fr.next()
		switch {
		case rerr != nil:
			return readErr(ctx, rerr)
		case t == frameCancel:
			return c.peerCanceled(payload)
		}
		perr := unexpected(t, "nothing before the accept")
		c.abort(CancelProtocol, perr.Error())
		return perr
	default:
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return readErr(ctx, err)
	}
	c.abort(CancelDeclined, "")
	return fmt.Errorf("%w: %v", ErrDeclined, err)
}

// resumable reports whether the partial files of a failed transfer are
// worth keeping: yes when the connection or the sender went away, or the
// disk filled up; no when this side canceled (unless asked to keep), or
// the data was wrong.
func (w *writer) resumable(ctx context.Context, err error, keepOnCancel bool) bool {
	switch {
	case w.j == nil:
		return false
	case ctx.Err() != nil:
		return keepOnCancel
	case errors.Is(err, ErrVerify), errors.Is(err, ErrProtocol), errors.Is(err, ErrBadManifest):
		return false
	}
	return true
}

// linger waits for the sender to close after done, so that done is
// delivered before this side tears the connection down.
func (c *conn) linger() {
	t := time.AfterFunc(doneLinger, func() { c.rwc.Close() })
	defer t.Stop()
	for {
		if _, _, err := c.fr.next(); err != nil {
			return
		}
	}
}

func (c *conn) readManifest() (Manifest, error) {
	b, err := c.readJoined(frameManifestPart, frameManifest, ErrBadManifest)
	if err != nil {
		return Manifest{}, err
	}
	return DecodeManifest(b)
}

// receiveFile reads the data frames of one file into NAME.part, verifies
// them and gives the file its final name. A file with a .part from an
// earlier attempt first learns from the sender where its data starts.
func (c *conn) receiveFile(ctx context.Context, w *writer, i int, e Entry, tr *tracker, keepOnCancel bool) (err error) {
	var f *os.File
	var tmp string
	h := sha256.New()
	var got int64
	if st := w.resume[i]; st != nil {
		tmp = st.part
		if f, err = w.root.OpenFile(tmp, os.O_WRONLY, 0); err != nil {
			return fmt.Errorf("open %s: %w", tmp, err)
		}
		start, err := c.resumeAt(st.offset, tr)
		if err != nil {
			f.Close()
			return err
		}
		if start == st.offset {
			h, got = st.h, start
		}
		if err := truncateAt(f, start); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", e.Path, err)
		}
		tr.skip(start)
	} else if f, tmp, err = w.createPart(i, e); err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			if !w.resumable(ctx, err, keepOnCancel) {
				w.root.Remove(tmp)
			}
		}
	}()
	for {
		t, payload, err := c.fr.next()
		if err != nil {
			return readErr(ctx, err)
		}
		if ctx.Err() != nil {
			// Canceled here: the abort that closes the stream runs on its
			// own, and frames already buffered must not finish a file.
			return readErr(ctx, ctx.Err())
		}
		switch t {
		case frameData:
			if got += int64(len(payload)); got > e.Size {
				return fmt.Errorf("%w: the sender sent more than the %d bytes announced for %s", ErrProtocol, e.Size, e.Path)
			}
			if _, err := f.Write(payload); err != nil {
				return fmt.Errorf("write %s: %w", e.Path, err)
			}
			h.Write(payload)
			tr.add(len(payload))
		case frameFileEnd:
			if err := verify(e, got, h, payload); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("write %s: %w", e.Path, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write %s: %w", e.Path, err)
			}
			keep = true
			if err := w.finish(i, e, tmp); err != nil {
				w.root.Remove(tmp)
				return err
			}
			return nil
		case frameCancel:
			return c.peerCanceled(payload)
		default:
			return unexpected(t, "file data")
		}
	}
}

// resumeAt reads the sender's answer to a resume point: where the data of
// the file starts, either offset or 0 (the prefix did not match). While
// the sender hashes its copy of the prefix it says so now and then, which
// is progress to the stall watchdog.
func (c *conn) resumeAt(offset int64, tr *tracker) (int64, error) {
	t, payload, err := c.fr.next()
	for err == nil && t == frameChecking {
		tr.wd.touch()
		t, payload, err = c.fr.next()
	}
	if err != nil {
		return 0, err
	}
	switch {
	case t == frameCancel:
		return 0, c.peerCanceled(payload)
	case t != frameResumeAt:
		return 0, unexpected(t, "resume-at")
	case len(payload) != 8:
		return 0, fmt.Errorf("%w: resume-at of %d bytes", ErrProtocol, len(payload))
	}
	start := int64(binary.BigEndian.Uint64(payload))
	if start != 0 && start != offset {
		return 0, fmt.Errorf("%w: resume at %d, asked for %d", ErrProtocol, start, offset)
	}
	return start, nil
}

// truncateAt cuts f to n bytes and positions it there.
func truncateAt(f *os.File, n int64) error {
	if err := f.Truncate(n); err != nil {
		return err
	}
	_, err := f.Seek(n, io.SeekStart)
	return err
}

func verify(e Entry, got int64, h hash.Hash, sum []byte) error {
	if got != e.Size {
		return fmt.Errorf("%w: %s: got %d of %d bytes", ErrProtocol, e.Path, got, e.Size)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("%w: %s", ErrVerify, e.Path)
	}
	return nil
}

// cancelFor is the cancel code and detail that tell the sender about a
// local failure.
func cancelFor(err error) (code, detail string) {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return CancelNoRoom, ""
	case errors.Is(err, ErrVerify):
		return CancelVerify, strings.TrimPrefix(err.Error(), ErrVerify.Error()+": ")
	case errors.Is(err, ErrProtocol):
		return CancelProtocol, err.Error()
	}
	return CancelCannotWrite, ""
}

// openTarget opens dir as the root of everything Receive writes and checks
// that it is writable, so a read-only folder fails before anything starts.
func openTarget(dir string) (*os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open target folder: %w", err)
	}
	probe := fmt.Sprintf(".epicshare-probe-%d", time.Now().UnixNano())
	f, err := root.OpenFile(probe, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("target folder %s is not writable: %w", dir, err)
	}
	f.Close()
	root.Remove(probe)
	return root, nil
}

// writer places a manifest's entries under a root, renaming top-level
// items whose names are taken.
type writer struct {
	root   *os.Root
	m      Manifest
	j      *journal          // nil: no resume
	top    map[string]string // manifest top-level folder → claimed name
	dirs   []Entry
	saved  []string
	skip   map[int]bool         // files an earlier attempt completed
	resume map[int]*resumeState // files an earlier attempt started
}

// local maps a manifest path to its path under the root.
func (w *writer) local(p string) string {
	first, rest, nested := strings.Cut(p, "/")
	if !nested {
		return p
	}
	return w.top[first] + "/" + rest
}

// makeDirs claims a fresh name for every top-level folder, then creates
// every folder of the manifest.
func (w *writer) makeDirs() error {
	for _, e := range w.m.Entries {
		first, _, nested := strings.Cut(e.Path, "/")
		if (!nested && !e.Dir) || w.top[first] != "" {
			continue
		}
		if name, ok := w.j.topFolder(first); ok {
			w.top[first] = name // an earlier attempt's folder
			w.saved = append(w.saved, name)
			continue
		}
		name, err := claim(first, func(cand string) error { return w.root.Mkdir(cand, 0o700) })
		if err != nil {
			return fmt.Errorf("create folder %s: %w", first, err)
		}
		if err := w.j.record(journalLine{Kind: "top", Path: first, Name: name}); err != nil {
			return err
		}
		w.top[first] = name
		w.saved = append(w.saved, name)
	}
	for _, e := range w.m.Entries {
		if e.Dir {
			if err := w.root.MkdirAll(w.local(e.Path), 0o700); err != nil {
				return fmt.Errorf("create folder %s: %w", e.Path, err)
			}
			w.dirs = append(w.dirs, e)
		}
	}
	return nil
}

// chmodDirs gives folders their modes once their files are written (a
// read-only folder could not be filled otherwise).
func (w *writer) chmodDirs() error {
	for i := len(w.dirs) - 1; i >= 0; i-- {
		e := w.dirs[i]
		if err := w.root.Chmod(w.local(e.Path), dirMode(e.Mode)); err != nil {
			return fmt.Errorf("set mode of %s: %w", e.Path, err)
		}
	}
	return nil
}

// Modes keep the owner's access and never grant write to others.
func dirMode(m uint32) fs.FileMode  { return fs.FileMode(m|0o700) &^ 0o022 }
func fileMode(m uint32) fs.FileMode { return fs.FileMode(m|0o600) &^ 0o022 }

// createPart creates the temporary file for e, never reusing an existing one.
func (w *writer) createPart(i int, e Entry) (*os.File, string, error) {
	final := w.local(e.Path)
	if dir := parentOf(final); dir != "" {
		if err := w.root.MkdirAll(dir, 0o700); err != nil {
			return nil, "", fmt.Errorf("create folder for %s: %w", e.Path, err)
		}
	}
	var f *os.File
	tmp, err := claim(final+".part", func(cand string) error {
		var err error
		f, err = w.root.OpenFile(cand, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create %s: %w", e.Path, err)
	}
	if err := w.j.record(journalLine{Kind: "part", File: i, Name: tmp}); err != nil {
		f.Close()
		w.root.Remove(tmp)
		return nil, "", err
	}
	return f, tmp, nil
}

// finish gives a verified temporary file its final name, without ever
// replacing an existing file.
func (w *writer) finish(i int, e Entry, tmp string) error {
	if err := w.root.Chmod(tmp, fileMode(e.Mode)); err != nil {
		return fmt.Errorf("set mode of %s: %w", e.Path, err)
	}
	moved := false
	name, err := claim(w.local(e.Path), func(cand string) error {
		// A hard link fails atomically if cand exists.
		err := w.root.Link(tmp, cand)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return err
		}
		// File systems without hard links: check, then rename.
		if _, err := w.root.Lstat(cand); err == nil {
			return fs.ErrExist
		}
		if err := w.root.Rename(tmp, cand); err != nil {
			return err
		}
		moved = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("save %s: %w", e.Path, err)
	}
	if !moved {
		if err := w.root.Remove(tmp); err != nil {
			return fmt.Errorf("save %s: %w", e.Path, err)
		}
	}
	if !strings.Contains(e.Path, "/") {
		w.saved = append(w.saved, name)
	}
	if w.j == nil {
		return nil
	}
	delete(w.j.part, i) // the .part is gone: a later discard must not touch its name
	var mtime int64
	if fi, err := w.root.Lstat(name); err == nil {
		mtime = fi.ModTime().UnixNano()
	}
	return w.j.record(journalLine{Kind: "done", File: i, Name: name, MTime: mtime})
}

// maxClaims bounds the "name (n).ext" search.
const maxClaims = 1000

// claim calls try with name, then "name (1)", "name (2)"… until try
// succeeds or fails with anything but "exists", and returns the name used.
func claim(name string, try func(string) error) (string, error) {
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	stem, ext := splitExt(base)
	for n := 0; n < maxClaims; n++ {
		cand := name
		if n > 0 {
			cand = fmt.Sprintf("%s%s (%d)%s", dir, stem, n, ext)
		}
		err := try(cand)
		if err == nil {
			return cand, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: %d names taken", name, maxClaims)
}

// splitExt splits "report.tar.gz" into "report" and ".tar.gz", ".bashrc"
// into ".bashrc" and "", "a.txt.part" into "a.txt" and ".part"... except
// that a ".part" suffix keeps the real extension with it: "a (1).txt.part".
func splitExt(base string) (stem, ext string) {
	suffix := ""
	if s, ok := strings.CutSuffix(base, ".part"); ok && s != "" {
		base, suffix = s, ".part"
	}
	i := strings.IndexByte(base[1:], '.') // a leading dot is part of the name
	if i < 0 {
		return base, suffix
	}
	i++
	// Keep only the last extension unless it is a known compound one.
	last := strings.LastIndexByte(base, '.')
	if j := strings.LastIndexByte(base[:last], '.'); j >= i && base[j:last] == ".tar" {
		return base[:j], base[j:] + suffix
	}
	return base[:last], base[last:] + suffix
}
