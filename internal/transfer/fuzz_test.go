package transfer_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"entries":[{"path":"a/b.txt","size":3,"mode":420},{"path":"a","dir":true,"mode":493}]}`))
	f.Add([]byte(`{"entries":[{"path":"../x","size":1}]}`))
	f.Add([]byte(`{"entries":[{"path":"a"},{"path":"a/b"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := transfer.DecodeManifest(b)
		if err != nil {
			return
		}
		var total int64
		for _, e := range m.Entries {
			if !filepath.IsLocal(filepath.FromSlash(e.Path)) || strings.ContainsAny(e.Path, "\\\x00") {
				t.Fatalf("accepted unsafe path %q", e.Path)
			}
			if e.Size < 0 {
				t.Fatalf("accepted negative size %d", e.Size)
			}
			total += e.Size
		}
		if total != m.Total() || total < 0 {
			t.Fatalf("total %d vs %d", total, m.Total())
		}
	})
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../a", "a/./b", "C:/x", `a\b`, "/abs", "a//b", "..a..", "é/ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if transfer.ValidatePath(p) != nil {
			return
		}
		if !filepath.IsLocal(filepath.FromSlash(p)) || filepath.Clean(p) != p {
			t.Fatalf("accepted %q, which is not a clean local path", p)
		}
	})
}

// FuzzReceive feeds arbitrary bytes to a receiver as if from a hostile
// sender: it must return, write nothing outside its folder, and leave no
// temporary file behind.
func FuzzReceive(f *testing.F) {
	f.Add(frame(fManifest, []byte(`{"entries":[{"path":"a","size":3,"mode":420}]}`)))
	good := append(frame(fManifest, []byte(`{"entries":[{"path":"d/a","size":3,"mode":420}]}`)), frame(fData, []byte("abc"))...)
	f.Add(good)
	f.Add(append(bytes.Clone(good), frame(fFileEnd, make([]byte, 32))...))
	f.Fuzz(func(t *testing.T, stream []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		a, b := net.Pipe()
		go func() {
			defer a.Close()
			go io.Copy(io.Discard, a)
			a.Write(stream)
		}()
		_, err := transfer.Receive(t.Context(), b, dir, transfer.ReceiveOptions{})
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Fatalf("wrote outside the target folder: %v", entries)
		}
		journals, _ := filepath.Glob(filepath.Join(dir, ".epicshare-*.resume"))
		switch {
		case errors.Is(err, transfer.ErrConnectionLost) && len(journals) == 1:
			// .part files may stay, for a resume.
		case len(journals) != 0:
			t.Errorf("journal left after %v", err)
		default:
			testutil.NoPartFiles(t, dir)
		}
	})
}
