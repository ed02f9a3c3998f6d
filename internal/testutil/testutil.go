// Package testutil holds helpers that tests of several packages share:
// building file trees, comparing them, and capturing process output. It
// is imported by tests only.
package testutil

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// WriteTree creates files under root: path → content, where a path ending
// in "/" makes an empty folder. Files get mode 0644, folders 0755.
func WriteTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			Must(t, os.MkdirAll(full, 0o755))
			continue
		}
		Must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		Must(t, os.WriteFile(full, []byte(content), 0o644))
	}
}

// RandomFile writes size random bytes to path.
func RandomFile(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	Must(t, err)
	_, err = io.CopyN(f, rand.Reader, size)
	Must(t, err)
	Must(t, f.Close())
}

// Digest describes the tree under root, one line per entry: its path,
// permission bits and, for a file, the SHA-256 of its content. Two trees
// are identical when their digests are.
func Digest(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	Must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			fmt.Fprintf(&b, "%s/ %v\n", filepath.ToSlash(rel), fi.Mode().Perm())
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %x\n", filepath.ToSlash(rel), fi.Mode().Perm(), h.Sum(nil))
		return nil
	}))
	return b.String()
}

// NoPartFiles fails the test if any temporary .part file is left under dir.
func NoPartFiles(t testing.TB, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".part") {
			t.Errorf("leftover temporary file %s", p)
		}
		return nil
	})
}

// OnlyPartial fails the test unless everything under dir is what a broken
// transfer keeps for a resume: folders, .part files and the resume journal,
// and no file under a final name.
func OnlyPartial(t testing.TB, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".part") && !(strings.HasPrefix(name, ".epicshare-") && strings.HasSuffix(name, ".resume")) {
			t.Errorf("a broken transfer left %s under its final name", p)
		}
		return nil
	})
}

// KeptForResume fails the test unless dir holds the resume journal of a
// broken transfer.
func KeptForResume(t testing.TB, dir string) {
	t.Helper()
	if j, _ := filepath.Glob(filepath.Join(dir, ".epicshare-*.resume")); len(j) != 1 {
		t.Errorf("%s holds %d resume journals, want 1", dir, len(j))
	}
}

// ClosedPort returns a loopback address where nothing listens: a port the
// kernel just handed out and that was closed again.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err)
	addr := ln.Addr().String()
	Must(t, ln.Close())
	return addr
}

// PageConstants reads the `export const NAME = value;` lines of the
// browser page's protocol module, for tests that keep it equal to Go.
func PageConstants(t testing.TB) map[string]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "../../assets/web/proto.js"))
	Must(t, err)
	out := map[string]string{}
	for _, m := range pageConst.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

var pageConst = regexp.MustCompile(`(?m)^export const ([A-Z_]+) = (.+);$`)

// Must fails the test on a non-nil error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Buffer is a bytes.Buffer safe for concurrent use, for a process's or a
// logger's output that a test polls.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
