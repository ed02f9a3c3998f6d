package transfer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// ResumePoint asks the sender to continue a file from Offset instead of from
// its start. SHA256 is the hash of the receiver's first Offset bytes: the
// sender skips them only if its own first Offset bytes hash the same, and
// otherwise sends the whole file again.
type ResumePoint struct {
	File   int    `json:"file"`
	Offset int64  `json:"offset"`
	SHA256 []byte `json:"sha256"`
}

// A receiver keeps a journal per share in its target folder, named after a
// digest of the manifest's entries (not its text), so that opening the
// same link again — or a new link to the same files — finds what the
// broken transfer left:
//
//	.epicshare-<digest>.resume
//
// It is a log of JSON lines, appended as the transfer claims names:
//
//	{"k":"top","p":"photos","name":"photos (1)"}   a top-level folder's name
//	{"k":"part","i":3,"name":"photos (1)/a.jpg.part"}
//	{"k":"done","i":3,"name":"photos (1)/a.jpg","mtime":1764000000000000000}
//
// The journal is a hint, never trusted with the user's files: a name in it
// counts only if it is one this receiver could have given that entry
// ("a.txt.part", "a (2).txt.part"), a done file must still have its size and
// modification time, and a .part's content is checked by the sender's hash.
// Senders cannot plant a journal: top-level names starting ".epicshare-"
// are refused in a manifest.
//
// A torn last line (the process died while writing it) is ignored. The
// journal is removed when every file verified, or when the receiver gives
// the partial files up. A journal is used by one receiver at a time (an
// advisory lock, released by the kernel when the process dies); a second
// receiver of the same share into the same folder starts afresh.
const (
	journalPrefix = ".epicshare-"
	journalSuffix = ".resume"
	maxJournal    = 64 << 20
)

type journalLine struct {
	Kind string `json:"k"`
	Path string `json:"p,omitempty"`
	File int    `json:"i,omitempty"`
	Name string `json:"name"`
	// A done file's modification time (Unix nanoseconds): a file put
	// there since under the same name and size is not taken for it.
	MTime int64 `json:"mtime,omitempty"`
}

// doneFile is a file an earlier attempt verified and saved.
type doneFile struct {
	name  string
	mtime int64
}

type journal struct {
	root *os.Root
	name string
	f    *os.File
	top  map[string]string // manifest top-level folder → its local name
	part map[int]string    // entry index → its .part file
	done map[int]doneFile  // entry index → its verified local file
}

// journalName names the journal of a manifest.
func journalName(m Manifest) string {
	// The files alone: the same files sent again with another message
	// (or none) are still the same transfer to resume.
	b, _ := json.Marshal(Manifest{Entries: m.Entries}) // a Manifest always marshals
	sum := sha256.Sum256(b)
	return journalPrefix + hex.EncodeToString(sum[:16]) + journalSuffix
}

// openJournal opens (creating it if needed) and locks the journal of m under
// root, and reads what an earlier attempt recorded. It returns nil, nil when
// another receiver holds the journal.
func openJournal(root *os.Root, m Manifest) (*journal, error) {
	name := journalName(m)
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open resume journal: %w", err)
	}
	// A file system without locks still gets a journal, unguarded.
	if locked, err := tryLock(f); err == nil && !locked {
		f.Close()
		return nil, nil
	}
	j := &journal{root: root, name: name, f: f,
		top: make(map[string]string), part: make(map[int]string), done: make(map[int]doneFile)}
	tops := make(map[string]bool)
	for _, e := range m.Entries {
		if first, _, nested := strings.Cut(e.Path, "/"); nested || e.Dir {
			tops[first] = true
		}
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxJournal))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Name == "" || !fs.ValidPath(l.Name) {
			continue // a torn or foreign line
		}
		fileOK := l.File >= 0 && l.File < len(m.Entries) && !m.Entries[l.File].Dir
		switch {
		case l.Kind == "top" && tops[l.Path] && !strings.Contains(l.Name, "/"):
			j.top[l.Path] = l.Name
		case l.Kind == "part" && fileOK:
			j.part[l.File] = l.Name
		case l.Kind == "done" && fileOK:
			j.done[l.File] = doneFile{l.Name, l.MTime}
			delete(j.part, l.File)
		}
	}
	// Appending after a torn last line would join the next line to it.
	end, err := f.Seek(0, io.SeekEnd)
	if err == nil && end > 0 {
		last := make([]byte, 1)
		if _, err = f.ReadAt(last, end-1); err == nil && last[0] != '\n' {
			_, err = f.Write([]byte{'\n'})
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open resume journal: %w", err)
	}
	return j, nil
}

// record appends one line; nil j records nothing.
func (j *journal) record(l journalLine) error {
	if j == nil {
		return nil
	}
	b, _ := json.Marshal(l)
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write resume journal: %w", err)
	}
	return nil
}

// finish removes the journal after a complete transfer.
func (j *journal) finish() {
	if j == nil {
		return
	}
	// Removed while still locked, so no other receiver takes it up; a
	// system that cannot remove an open file gets a second try.
	err := j.root.Remove(j.name)
	j.f.Close()
	if err != nil {
		j.root.Remove(j.name)
	}
}

// keep closes the journal, leaving it and every partial file for a resume.
func (j *journal) keep() {
	if j != nil {
		j.f.Close()
	}
}

// discard removes every partial file the journal knows of, then the journal.
func (j *journal) discard() {
	if j == nil {
		return
	}
	for _, p := range j.part {
		j.root.Remove(p)
	}
	j.finish()
}

// topFolder returns the local name an earlier attempt gave the top-level
// folder p, if that folder is still there.
func (j *journal) topFolder(p string) (string, bool) {
	if j == nil {
		return "", false
	}
	name, ok := j.top[p]
	if !ok || !isClaim(name, p) {
		return "", false
	}
	fi, err := j.root.Lstat(name)
	return name, err == nil && fi.IsDir()
}

// resumeState is what the receiver found of one file.
type resumeState struct {
	part   string    // the .part file to continue
	offset int64     // its length
	h      hash.Hash // SHA-256 of its content so far
}

// plan decides, from the journal, which files are complete already (skip)
// and which continue from a .part file (resume), and builds the Accept that
// tells the sender.
func (w *writer) plan() (Accept, error) {
	var a Accept
	if w.j == nil {
		return a, nil
	}
	var wanted []int
	skipped := false
	for i, e := range w.m.Entries {
		if e.Dir {
			continue
		}
		final := w.local(e.Path)
		if d, ok := w.j.done[i]; ok && isClaim(d.name, final) {
			fi, err := w.root.Lstat(d.name)
			if err == nil && fi.Mode().IsRegular() && fi.Size() == e.Size && fi.ModTime().UnixNano() == d.mtime {
				w.skip[i] = true
				skipped = true
				if !strings.Contains(e.Path, "/") {
					w.saved = append(w.saved, d.name)
				}
				continue
			}
		}
		wanted = append(wanted, i)
		part, ok := w.j.part[i]
		if !ok {
			continue
		}
		delete(w.j.part, i) // known again only if it is continued
		if !isClaim(part, final+".part") {
			continue // not a name this receiver would have given it
		}
		st, err := w.hashPart(part, e.Size)
		if err != nil {
			return a, err
		}
		if st == nil || st.offset == 0 {
			if st != nil {
				w.root.Remove(part) // nothing to continue; a fresh one is made
			}
			continue
		}
		w.j.part[i] = part
		w.resume[i] = st
		a.Resume = append(a.Resume, ResumePoint{File: i, Offset: st.offset, SHA256: st.h.Sum(nil)})
	}
	if skipped {
		a.Files = wanted
		if a.Files == nil {
			a.Files = []int{} // nothing left: not "everything"
		}
	}
	return a, nil
}

// hashPart hashes a .part file left by an earlier attempt; nil if there is
// none worth continuing.
func (w *writer) hashPart(name string, size int64) (*resumeState, error) {
	if fi, err := w.root.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		return nil, nil // gone, or not a file this receiver made
	}
	f, err := w.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	}
	st := &resumeState{part: name, offset: min(fi.Size(), size), h: sha256.New()}
	if _, err := io.CopyN(st.h, f, st.offset); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return st, nil
}

// isClaim reports whether name is one that claim could have given want:
// want itself or "stem (n).ext" in the same folder.
func isClaim(name, want string) bool {
	if name == want {
		return true
	}
	dir, base := "", want
	if i := strings.LastIndexByte(want, '/'); i >= 0 {
		dir, base = want[:i+1], want[i+1:]
	}
	stem, ext := splitExt(base)
	rest, ok := strings.CutPrefix(name, dir+stem+" (")
	if !ok {
		return false
	}
	n, ok := strings.CutSuffix(rest, ")"+ext)
	if !ok {
		return false
	}
	v, err := strconv.Atoi(n)
	return err == nil && v > 0 && v < maxClaims && strconv.Itoa(v) == n
}

// validResume checks a receiver's resume points against the manifest.
func (a Accept) validResume(m Manifest) error {
	seen := make(map[int]bool)
	for _, r := range a.Resume {
		if r.File < 0 || r.File >= len(m.Entries) || m.Entries[r.File].Dir || !a.wants(r.File) || seen[r.File] {
			return fmt.Errorf("%w: cannot resume entry %d", ErrProtocol, r.File)
		}
		if r.Offset <= 0 || r.Offset > m.Entries[r.File].Size || len(r.SHA256) != sha256.Size {
			return fmt.Errorf("%w: bad resume point for entry %d", ErrProtocol, r.File)
		}
		seen[r.File] = true
	}
	return nil
}
