package transfer

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits a receiver enforces on a manifest.
const (
	MaxEntries   = 100_000
	MaxPathBytes = 4096
	MaxNameBytes = 255
	MaxFileSize  = 1 << 50 // 1 PiB: far beyond any disk, small enough to never overflow
	// MaxText bounds the text message a share may carry.
	MaxText = 1 << 20
)

// Entry is one item of a share: a regular file or a directory.
type Entry struct {
	// Path is relative, '/'-separated, and names the entry inside the share;
	// its first element is the name of the item the sender picked.
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Mode holds permission bits only (0o777).
	Mode uint32 `json:"mode"`
	Dir  bool   `json:"dir,omitempty"`
}

// Manifest lists everything a share offers, in sending order, and the
// text message it carries, if any. The text is untrusted: show it as
// text, never as markup.
type Manifest struct {
	Entries []Entry `json:"entries"`
	Text    string  `json:"text,omitempty"`
}

// Total returns the number of bytes of file data in m.
func (m Manifest) Total() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// Files returns the number of regular files in m.
func (m Manifest) Files() int {
	n := 0
	for _, e := range m.Entries {
		if !e.Dir {
			n++
		}
	}
	return n
}

// DecodeManifest parses a manifest and checks it with Validate.
func DecodeManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Validate checks everything a receiver relies on: safe relative names,
// bounded sizes, no duplicates, and no file that is also used as a folder.
func (m Manifest) Validate() error {
	if len(m.Entries) == 0 && m.Text == "" {
		return fmt.Errorf("%w: it lists nothing", ErrBadManifest)
	}
	if len(m.Text) > MaxText {
		return fmt.Errorf("%w: a text of %d bytes (at most %d)", ErrBadManifest, len(m.Text), MaxText)
	}
	if !utf8.ValidString(m.Text) {
		return fmt.Errorf("%w: the text is not valid UTF-8", ErrBadManifest)
	}
	if len(m.Entries) > MaxEntries {
		return fmt.Errorf("%w: %d entries (at most %d)", ErrBadManifest, len(m.Entries), MaxEntries)
	}
	kinds := make(map[string]bool, len(m.Entries)) // path → is a directory
	var total int64
	for _, e := range m.Entries {
		if err := ValidatePath(e.Path); err != nil {
			return err
		}
		if e.Size < 0 || e.Size > MaxFileSize || (e.Dir && e.Size != 0) {
			return fmt.Errorf("%w: %q has size %d", ErrBadManifest, e.Path, e.Size)
		}
		if total += e.Size; total > MaxFileSize {
			return fmt.Errorf("%w: total size too large", ErrBadManifest)
		}
		if e.Mode&^0o777 != 0 {
			return fmt.Errorf("%w: %q has mode %#o", ErrBadManifest, e.Path, e.Mode)
		}
		if _, dup := kinds[e.Path]; dup {
			return fmt.Errorf("%w: %q is listed twice", ErrBadManifest, e.Path)
		}
		kinds[e.Path] = e.Dir
	}
	// Every parent of an entry must be a directory, never a listed file.
	for p := range kinds {
		for dir := parentOf(p); dir != ""; dir = parentOf(dir) {
			if isDir, listed := kinds[dir]; listed && !isDir {
				return fmt.Errorf("%w: %q is a file but also a folder of %q", ErrBadManifest, dir, p)
			}
		}
	}
	return nil
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// ValidatePath checks one manifest path: relative, '/'-separated, valid
// UTF-8, no empty, "." or ".." element, no backslash, NUL or control
// character, no drive letter, no top-level name that EpicShare reserves for
// its own files (".epicshare-…"), and within the length limits.
func ValidatePath(p string) error {
	bad := func(why string) error {
		q := p
		if len(q) > 60 {
			q = q[:60] + "…"
		}
		return fmt.Errorf("%w: name %q %s", ErrBadManifest, q, why)
	}
	switch {
	case p == "":
		return bad("is empty")
	case len(p) > MaxPathBytes:
		return bad("is too long")
	case !utf8.ValidString(p):
		return bad("is not valid UTF-8")
	case p[0] == '/':
		return bad("is absolute")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return bad("has a control character or backslash")
		}
	}
	for i, el := range strings.Split(p, "/") {
		switch {
		case el == "" || el == "." || el == "..":
			return bad("has an empty, . or .. element")
		case len(el) > MaxNameBytes:
			return bad("has an element longer than 255 bytes")
		case i == 0 && len(el) >= 2 && el[1] == ':' && isLetter(el[0]):
			return bad("starts with a drive letter")
		case i == 0 && strings.HasPrefix(el, journalPrefix):
			// A receiver keeps its resume journals under such names.
			return bad("is reserved for EpicShare's own files")
		}
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// Offer is what a sender shares: a manifest and where each entry lives on
// the local disk. It is read-only once built and serves any number of
// receivers at once.
type Offer struct {
	Manifest Manifest
	local    []string    // local path of each entry, same index as Manifest.Entries
	modTime  []time.Time // when each entry was last modified, as offered
	// Skipped lists items inside shared folders that are not regular files
	// or folders (symbolic links, sockets, devices) and are not sent.
	Skipped []string
}

// NewTextOffer offers a text message and the given files and folders
// (none is fine), as NewOffer does.
func NewTextOffer(text string, paths ...string) (*Offer, error) {
	if text == "" {
		return NewOffer(paths...)
	}
	if len(text) > MaxText {
		return nil, fmt.Errorf("share: the text is %d bytes; at most %d fit in a share", len(text), MaxText)
	}
	o, err := newOffer(paths)
	if err != nil {
		return nil, err
	}
	o.Manifest.Text = text
	if err := o.Manifest.Validate(); err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	return o, nil
}

// NewOffer scans the given files and folders into an Offer. Each argument
// becomes a top-level entry named by its base name; folders are walked
// recursively, keeping empty files and empty folders. Every file is opened
// once to make sure it is readable now rather than failing mid-transfer.
func NewOffer(paths ...string) (*Offer, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("nothing to share")
	}
	o, err := newOffer(paths)
	if err != nil {
		return nil, err
	}
	if err := o.Manifest.Validate(); err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	return o, nil
}

func newOffer(paths []string) (*Offer, error) {
	o := &Offer{}
	top := make(map[string]string)
	for _, arg := range paths {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return nil, fmt.Errorf("share %s: %w", arg, err)
		}
		name := filepath.Base(abs)
		if name == string(filepath.Separator) || name == "." {
			return nil, fmt.Errorf("share %s: cannot share the root folder", arg)
		}
		if prev, dup := top[name]; dup {
			return nil, fmt.Errorf("share %s: another item is also named %q (%s)", arg, name, prev)
		}
		top[name] = arg
		fi, err := os.Stat(abs) // follows a link the user named explicitly
		if err != nil {
			return nil, fmt.Errorf("share %s: %w", arg, err)
		}
		switch {
		case fi.Mode().IsRegular():
			if err := o.addFile(abs, name, fi); err != nil {
				return nil, err
			}
		case fi.IsDir():
			if err := o.addTree(abs, name); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("share %s: not a regular file or folder", arg)
		}
	}
	return o, nil
}

func (o *Offer) addFile(local, rel string, fi fs.FileInfo) error {
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("share: %w", err)
	}
	f.Close()
	o.Manifest.Entries = append(o.Manifest.Entries, Entry{Path: rel, Size: fi.Size(), Mode: uint32(fi.Mode().Perm())})
	o.local = append(o.local, local)
	o.modTime = append(o.modTime, fi.ModTime())
	return nil
}

func (o *Offer) addTree(root, name string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("share: %w", err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(filepath.Join(name, rel))
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("share: %w", err)
		}
		switch {
		case d.IsDir():
			o.Manifest.Entries = append(o.Manifest.Entries, Entry{Path: rel, Mode: uint32(fi.Mode().Perm()), Dir: true})
			o.local = append(o.local, p)
			o.modTime = append(o.modTime, fi.ModTime())
			return nil
		case fi.Mode().IsRegular():
			return o.addFile(p, rel, fi)
		default:
			o.Skipped = append(o.Skipped, p)
			return nil
		}
	})
}
