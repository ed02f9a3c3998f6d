package history

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const (
	// DefaultMax is how many records a Store keeps unless told.
	DefaultMax = 1000

	fileName = "history.jsonl"
	lockName = "history.lock"
	tempGlob = fileName + ".tmp-*"

	// defaultWindow bounds the bytes of the file read, from its end; a
	// file that grows past it is rewritten.
	defaultWindow = 8 << 20
	// defaultMaxLine bounds one line: a sanitized record takes at most
	// about 1.4 MiB even with every field full (names and paths at most
	// doubled by JSON, a text's control characters sixfold).
	defaultMaxLine = 2 << 20
	// defaultLockWait bounds the wait for another process's append or
	// rewrite, which takes milliseconds.
	defaultLockWait = 5 * time.Second
)

// Options tune Open.
type Options struct {
	// Max bounds how many records are kept; DefaultMax if zero.
	Max int
	// Clock stamps a record added without a time; time.Now if nil.
	Clock func() time.Time
	// Logger hears what the store mends on its own: a file that is not
	// EpicShare's moved aside, damaged lines skipped, a failed rewrite.
	// Discarded if nil.
	Logger *slog.Logger
}

// Store is the history kept in one directory. It is safe for concurrent
// use, and two processes may use the same directory at once.
type Store struct {
	dir, path string
	max       int
	clock     func() time.Time
	log       *slog.Logger
	// Bounds, fields so that tests can shrink them: the bytes read from
	// the file's end, one line, and the lines' bytes kept (half the
	// window, so that a rewritten file has room to grow before the next
	// rewrite and List reads it whole).
	window  int64
	maxLine int
	budget  int
	// trimAfter is the count of lines over which the file is rewritten:
	// Max plus some slack, so that a rewrite comes every so many adds,
	// not with each.
	trimAfter int
	lockWait  time.Duration

	mu     sync.Mutex
	lock   *os.File // nil where it cannot be made: no locking between processes
	count  int      // lines in the file, as far as this process knows
	closed bool
}

// Open opens the history kept in dir, creating dir if needed (the file
// itself comes with the first Add). A file there that is not EpicShare's
// history is moved aside, with a warning to the Logger, and a fresh one
// started; a file that is too big is trimmed to its newest records. Open
// fails if dir cannot be made or read, if a foreign file cannot be moved
// aside, and with ErrNewerFormat for a newer EpicShare's file, which it
// leaves alone: the caller then runs without history.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open history: no directory given")
	}
	if opts.Max < 0 {
		return nil, fmt.Errorf("open history: Max %d", opts.Max)
	}
	s := &Store{
		dir:      dir,
		path:     filepath.Join(dir, fileName),
		max:      opts.Max,
		clock:    opts.Clock,
		log:      opts.Logger,
		window:   defaultWindow,
		maxLine:  defaultMaxLine,
		budget:   defaultWindow / 2,
		lockWait: defaultLockWait,
	}
	if s.max == 0 {
		s.max = DefaultMax
	}
	s.trimAfter = s.max + max(s.max/8, 8)
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// A read-only directory: List still works, Add will say why not.
		s.log.Debug("history: no lock file", "err", err)
	} else {
		s.lock = lock
	}
	if err := s.withLock(true, s.recover); err != nil {
		s.Close()
		return nil, fmt.Errorf("open history: %w", err)
	}
	return s, nil
}

// recover, under the exclusive lock, removes what a crashed rewrite left,
// moves a foreign file aside, counts the lines and trims the file if it
// is over its bounds.
func (s *Store) recover() error {
	temps, _ := filepath.Glob(filepath.Join(s.dir, tempGlob))
	for _, t := range temps {
		os.Remove(t)
	}
	if err := s.ensureOurs(); err != nil {
		return err
	}
	sc, size, err := s.read()
	if err != nil {
		return err
	}
	if sc.bad > 0 {
		s.log.Warn("history: skipped damaged lines", "lines", sc.bad, "file", s.path)
	}
	s.count = sc.lines + sc.bad
	if s.overBound(size) {
		if err := s.rewrite(newest(sc.entries, s.max, s.budget)); err != nil {
			s.log.Warn("history: could not trim the file", "file", s.path, "err", err)
		}
	}
	return nil
}

// ensureOurs moves the file aside if it is not EpicShare's history.
func (s *Store) ensureOurs() error {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = readHeader(f, st.Size())
	}
	f.Close() // before the rename: Windows renames no open file
	if !errors.Is(err, ErrNotOurs) {
		return err
	}
	aside := s.path + ".not-ours-" + strconv.FormatInt(s.clock().Unix(), 10)
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i == 100 {
			return fmt.Errorf("%w, and there is no free name to move it aside", ErrNotOurs)
		}
		aside = fmt.Sprintf("%s.not-ours-%d-%d", s.path, s.clock().Unix(), i)
	}
	if err := os.Rename(s.path, aside); err != nil {
		return fmt.Errorf("%w, and moving it aside failed: %w", ErrNotOurs, err)
	}
	s.log.Warn("history: the history file was not EpicShare's; moved it aside and started a new one",
		"file", s.path, "moved_to", aside)
	return nil
}

// Add appends r to the history, with an ID and the time now if it has
// none, its paths made absolute, and Sanitize applied; it refuses, with
// ErrInvalid, a record that still fails Validate. It reports why the
// file could not be written (a read-only folder, a full disk) wrapped
// with the operation: the caller logs it and goes on, as a transfer
// never depends on its history.
func (s *Store) Add(r Record) error {
	r, err := s.prepare(r)
	if err != nil {
		return fmt.Errorf("add to history: %w", err)
	}
	line, err := encodeLine(r)
	if err != nil {
		return fmt.Errorf("add to history: %w", err)
	}
	if len(line) > s.maxLine {
		return fmt.Errorf("add to history: %w: %d bytes", ErrTooLarge, len(line))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("add to history: %w", ErrClosed)
	}
	var size int64
	err = s.withLock(false, func() error {
		size, err = s.appendLine(line)
		return err
	})
	if err != nil {
		return fmt.Errorf("add to history: %w", err)
	}
	s.count++
	if s.overBound(size) {
		if err := s.withLock(true, s.trim); err != nil {
			s.log.Warn("history: could not trim the file", "file", s.path, "err", err)
		}
	}
	return nil
}

func (s *Store) prepare(r Record) (Record, error) {
	if r.ID == "" {
		r.ID = rand.Text()
	}
	if r.Time.IsZero() {
		r.Time = s.clock()
	}
	// Made absolute here, in the process that knows the working
	// directory they are relative to; Sanitize drops a relative path.
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return ""
		}
		return a
	}
	r.Folder = abs(r.Folder)
	if len(r.Sources) > 0 && len(r.Sources) <= MaxSources {
		src := make([]string, len(r.Sources))
		for i, p := range r.Sources {
			src[i] = abs(p)
		}
		r.Sources = src
	}
	r = r.Sanitize()
	return r, r.Validate()
}

// appendLine writes line at the end of the file in one write, after the
// header if the file is new and after a newline if the last line was cut
// (a crash, a full disk), so that a cut line never swallows this one. It
// returns the file's size after.
func (s *Store) appendLine(line []byte) (int64, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	size, err := writeAppend(f, line)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return size, err
}

func writeAppend(f *os.File, line []byte) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	var out []byte
	if size == 0 {
		out = append(out, headerLine...)
	} else {
		// Never append to another program's file that replaced ours
		// since Open: the next Open moves it aside.
		if _, err := readHeader(f, size); err != nil {
			return 0, err
		}
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			return 0, err
		}
		if last[0] != '\n' {
			out = append(out, '\n')
		}
	}
	out = append(out, line...)
	n, err := f.Write(out)
	return size + int64(n), err
}

// overBound says whether the file is due for a rewrite: too many lines,
// or more bytes than a List reads.
func (s *Store) overBound(size int64) bool {
	return s.count > s.trimAfter || size > s.window
}

// List returns the records, newest first: at most Max, and as many as
// fit in a few MiB of the file's end.
func (s *Store) List() ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("list history: %w", ErrClosed)
	}
	sc, _, err := s.read()
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	return newest(sc.entries, s.max, s.budget), nil
}

// read scans the file; a missing file is an empty history.
func (s *Store) read() (scanned, int64, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return scanned{}, 0, nil
	}
	if err != nil {
		return scanned{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return scanned{}, 0, err
	}
	size := st.Size()
	start, err := readHeader(f, size)
	if err != nil {
		return scanned{}, 0, err
	}
	sc, err := scan(f, start, size, s.window, s.maxLine, s.max)
	return sc, size, err
}

// Clear removes every record.
func (s *Store) Clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("clear history: %w", ErrClosed)
	}
	err := s.withLock(true, func() error {
		if err := s.ensureOurs(); err != nil {
			return err
		}
		return s.rewrite(nil)
	})
	if err != nil {
		return fmt.Errorf("clear history: %w", err)
	}
	return nil
}

// trim, under the exclusive lock, rereads the file (another process may
// have appended) and rewrites it with what List shows.
func (s *Store) trim() error {
	sc, _, err := s.read()
	if err != nil {
		return err
	}
	return s.rewrite(newest(sc.entries, s.max, s.budget))
}

// rewrite replaces the file with recs (newest first) atomically: a
// temporary file in the same directory, written oldest first, synced,
// then renamed over the old one, so that a crash leaves either file
// whole.
func (s *Store) rewrite(recs []Record) (err error) {
	tmp, err := os.CreateTemp(s.dir, tempGlob)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriter(tmp)
	w.WriteString(headerLine)
	for i := len(recs) - 1; i >= 0; i-- {
		line, err := encodeLine(recs[i])
		if err != nil {
			return err
		}
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return err
	}
	s.count = len(recs)
	syncDir(s.dir)
	return nil
}

// syncDir makes a rename durable where directories can be synced (not
// on Windows, where opening one fails: the rename is durable enough).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// withLock runs fn holding the lock between processes, shared for an
// append, exclusive for a rewrite; s.mu orders the goroutines of this
// process, since a lock is one per open file, not per goroutine. It
// waits for the lock at most lockWait, polling, so that a process stuck
// while holding it (stopped in a debugger, say) costs a history line,
// not a caller that never returns.
func (s *Store) withLock(exclusive bool, fn func() error) error {
	if s.lock == nil {
		return fn()
	}
	deadline := time.Now().Add(s.lockWait)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		ok, err := tryLock(s.lock, exclusive)
		if err != nil {
			return fmt.Errorf("lock history: %w", err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return ErrLocked
		}
		time.Sleep(pause)
	}
	defer unlock(s.lock)
	return fn()
}

// Close releases the store; later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.lock != nil {
		return s.lock.Close()
	}
	return nil
}
