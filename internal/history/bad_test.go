package history

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// line is testRecord(i) as the store writes it.
func line(t *testing.T, i int) string {
	t.Helper()
	b, err := encodeLine(testRecord(i).Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, fileName)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTruncatedFile(t *testing.T) {
	three := headerLine + line(t, 1) + line(t, 2) + line(t, 3)
	fourth := line(t, 4)
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"cut in the middle of the last line", three + fourth[:len(fourth)/2], idRange(4, 1)},
		{"cut after its first byte", three + fourth[:1], idRange(4, 1)},
		{"only its newline missing", three + fourth[:len(fourth)-1], idRange(5, 1)},
		{"cut in the header", headerLine[:10], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tt.content)
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := ids(mustList(t, s)); !slices.Equal(got, tt.want) {
				t.Fatalf("List = %v, want %v", got, tt.want)
			}
			// The next line starts on a line of its own.
			mustAdd(t, s, testRecord(9))
			if got := ids(mustList(t, s)); !slices.Equal(got, append([]string{"r0009"}, tt.want...)) {
				t.Fatalf("after Add: %v, want r0009 then %v", got, tt.want)
			}
		})
	}
}

func TestCorruptLines(t *testing.T) {
	rec := line(t, 5)
	tests := []struct {
		name, bad string
	}{
		{"garbage", "this is not json\n"},
		{"half a record", rec[:len(rec)/2] + "\n"},
		{"json that is not a record", `{"hello":"world"}` + "\n"},
		{"a record with an unknown direction", strings.Replace(rec, `"direction":"sent"`, `"direction":"sideways"`, 1)},
		{"a record with a negative size", strings.Replace(rec, `"size":1005`, `"size":-1`, 1)},
		{"a record with no time", strings.Replace(rec, `"time":"2026-05-01T09:30:05Z",`, "", 1)},
		{"zeros", strings.Repeat("\x00", 300) + "\n"},
		{"a json array", "[1,2,3]\n"},
		{"null", "null\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bad == rec {
				t.Fatal("the damage did not apply")
			}
			dir := t.TempDir()
			writeFile(t, dir, headerLine+line(t, 1)+line(t, 2)+tt.bad+line(t, 3))
			var logs bytes.Buffer
			s := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if got, want := ids(mustList(t, s)), idRange(4, 1); !slices.Equal(got, want) {
				t.Fatalf("List = %v, want %v", got, want)
			}
			if !strings.Contains(logs.String(), "skipped damaged lines") {
				t.Errorf("Open said nothing of the damage: %q", logs.String())
			}
		})
	}
}

// TestHugeFile: reading is bounded by the window and the line limit,
// whatever the file holds; a file over its bounds is trimmed at Open.
func TestHugeFile(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T, f *os.File)
		want  []string
	}{
		{"a 64 MiB line of zeros before the last records", func(t *testing.T, f *os.File) {
			write(t, f, headerLine+line(t, 1)+line(t, 2))
			grow(t, f, 64<<20)
			write(t, f, "\n"+line(t, 3)+line(t, 4))
		}, idRange(5, 3)},
		{"1 GiB of zeros, no newline", func(t *testing.T, f *os.File) {
			write(t, f, headerLine+line(t, 1))
			grow(t, f, 1<<30)
		}, nil},
		{"a line over the limit between records", func(t *testing.T, f *os.File) {
			write(t, f, headerLine+line(t, 1)+strings.Repeat("x", defaultMaxLine+100)+"\n"+line(t, 2))
		}, idRange(3, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, fileName))
			if err != nil {
				t.Fatal(err)
			}
			tt.build(t, f)
			st, _ := f.Stat()
			f.Close()

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s := openStore(t, dir, Options{})
			got := ids(mustList(t, s))
			runtime.ReadMemStats(&after)

			if !slices.Equal(got, tt.want) {
				t.Fatalf("List = %v, want %v", got, tt.want)
			}
			// The window (8 MiB) is read in 64 KiB pieces; one line is
			// gathered up to 2 MiB. Reading the whole file would cost
			// at least its size.
			const bound = 12 << 20
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("a %d MiB file: Open and List allocated %.1f MiB", st.Size()>>20, float64(alloc)/(1<<20))
			if alloc > bound {
				t.Errorf("Open and List of a %d-byte file allocated %d bytes, more than %d", st.Size(), alloc, bound)
			}
			if st, err := os.Stat(filepath.Join(dir, fileName)); err != nil || st.Size() > defaultWindow {
				t.Errorf("the file was not trimmed at Open: %v, %v", st.Size(), err)
			}
		})
	}
}

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// grow adds n zero bytes at the end of f cheaply: a hole where the file
// system has them.
func grow(t *testing.T, f *os.File, n int64) {
	t.Helper()
	end, err := f.Seek(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(end + n); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 2); err != nil {
		t.Fatal(err)
	}
}

func TestNotOurs(t *testing.T) {
	tests := []struct{ name, content string }{
		{"plain text", "shopping list\nmilk\n"},
		{"another program's json", `{"name":"settings","theme":"dark"}` + "\n"},
		{"our records without the header", line(t, 1) + line(t, 2)},
		{"a header with version 0", `{"epicshare-history":0}` + "\n" + line(t, 1)},
		{"a first line longer than any header", strings.Repeat("y", 1000)},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tt.content)
			var logs bytes.Buffer
			s := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if got := mustList(t, s); len(got) != 0 {
				t.Fatalf("a foreign file listed %v", ids(got))
			}
			aside, _ := filepath.Glob(filepath.Join(dir, fileName+".not-ours-*"))
			if len(aside) != 1 {
				t.Fatalf("moved aside: %v, want one file", aside)
			}
			if b, err := os.ReadFile(aside[0]); err != nil || string(b) != tt.content {
				t.Fatalf("the file moved aside holds %q (%v), want it unchanged", b, err)
			}
			if !strings.Contains(logs.String(), "moved it aside") || !strings.Contains(logs.String(), aside[0]) {
				t.Errorf("Open did not say where it moved the file: %q", logs.String())
			}
			mustAdd(t, s, testRecord(1))
			if got := fileLines(t, dir); len(got) != 1 {
				t.Fatalf("the fresh file holds %d records", len(got))
			}
		})
	}
}

// TestNotOursTwice: a second foreign file never overwrites the first one
// moved aside in the same second.
func TestNotOursTwice(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"first\n", "second\n"} {
		writeFile(t, dir, content)
		openStore(t, dir, Options{}).Close()
	}
	aside, _ := filepath.Glob(filepath.Join(dir, fileName+".not-ours-*"))
	var got []string
	for _, a := range aside {
		b, _ := os.ReadFile(a)
		got = append(got, string(b))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"first\n", "second\n"}) {
		t.Fatalf("moved aside: %q", got)
	}
}

func TestNewerFormat(t *testing.T) {
	dir := t.TempDir()
	content := `{"epicshare-history":2}` + "\n" + `{"whatever":"v2 writes"}` + "\n"
	path := writeFile(t, dir, content)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("Open = %v, want ErrNewerFormat", err)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Fatalf("the newer file was changed: %q", b)
	}
}

// TestForeignFileAfterOpen: a file that replaces ours while the store is
// open is neither appended to nor listed.
func TestForeignFileAfterOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	path := writeFile(t, dir, "someone else's\n")
	if err := s.Add(testRecord(1)); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("Add = %v, want ErrNotOurs", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("List = %v, want ErrNotOurs", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "someone else's\n" {
		t.Fatalf("the foreign file was changed: %q", b)
	}
}

func TestUnwritable(t *testing.T) {
	tests := []struct {
		name string
		// spoil makes dir unwritable for a store opened on it; it
		// returns a probe that succeeds if the process can write all
		// the same (root ignores file modes).
		spoil func(t *testing.T, dir string) (probe func() error)
		want  error
	}{
		{"the folder replaced by a file", func(t *testing.T, dir string) func() error {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, syscall.ENOTDIR},
		{"a read-only folder, the file not made yet", func(t *testing.T, dir string) func() error {
			if err := os.Remove(filepath.Join(dir, fileName)); err != nil {
				t.Fatal(err)
			}
			chmod(t, dir, 0o500)
			return func() error { return os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600) }
		}, fs.ErrPermission},
		{"a read-only file", func(t *testing.T, dir string) func() error {
			path := filepath.Join(dir, fileName)
			chmod(t, path, 0o400)
			return func() error {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err == nil {
					f.Close()
				}
				return err
			}
		}, fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "storage")
			s := openStore(t, dir, Options{})
			mustAdd(t, s, testRecord(1))
			if probe := tt.spoil(t, dir); probe != nil && probe() == nil {
				t.Skip("this process writes despite file modes (running as root?); the case cannot be made")
			}
			err := s.Add(testRecord(2))
			if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "add to history: ") {
				t.Fatalf("Add = %v, want %v wrapped with the operation", err, tt.want)
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o700) })
}

func TestOpenUnderAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "storage"), Options{}); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("Open = %v, want ENOTDIR", err)
	}
}

// TestDiskFull: /dev/full fails every write with ENOSPC.
func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	if err := os.Symlink("/dev/full", filepath.Join(dir, fileName)); err != nil {
		t.Fatal(err)
	}
	err := s.Add(testRecord(1))
	if !errors.Is(err, syscall.ENOSPC) || ReasonOf(err) != ReasonDiskFull {
		t.Fatalf("Add = %v, want ENOSPC", err)
	}
}

func TestTooLarge(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	s.maxLine = 400
	r := testRecord(1)
	r.Names = []string{strings.Repeat("n", 500)}
	if err := s.Add(r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Add = %v, want ErrTooLarge", err)
	}
	if err := s.Add(testRecord(2)); err != nil {
		t.Fatalf("a record that fits: %v", err)
	}
}

func TestInvalidRecord(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	r := testRecord(1)
	r.Direction = "sideways"
	if err := s.Add(r); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Add = %v, want ErrInvalid", err)
	}
	if got := mustList(t, s); len(got) != 0 {
		t.Fatalf("an invalid record was stored: %v", ids(got))
	}
}

// TestLocked: a process that holds the lock too long costs an Add, which
// fails with ErrLocked instead of waiting for ever.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	s.lockWait = 20 * time.Millisecond
	held := func() *os.File {
		f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	other := held()
	if ok, err := tryLock(other, true); !ok || err != nil {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	if ok, _ := tryLock(held(), false); ok {
		t.Skip("no file locks on this system")
	}
	if err := s.Add(testRecord(1)); !errors.Is(err, ErrLocked) {
		t.Fatalf("Add under another's lock = %v, want ErrLocked", err)
	}
	if err := unlock(other); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, testRecord(2))
}
