package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)

// testRecord is a valid record whose ID and time follow i.
func testRecord(i int) Record {
	return Record{
		ID:        fmt.Sprintf("r%04d", i),
		Time:      t0.Add(time.Duration(i) * time.Second),
		Direction: Sent,
		Via:       ViaLink,
		Kind:      KindFiles,
		Peer:      Peer{Code: "4821-0937", Device: "Ada's laptop"},
		Names:     []string{fmt.Sprintf("photo-%d.jpg", i)},
		Size:      int64(1000 + i),
		Files:     1,
		Result:    ResultVerified,
		Sources:   []string{filepath.Join(os.TempDir(), fmt.Sprintf("photo-%d.jpg", i))},
	}
}

func openStore(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAdd(t *testing.T, s *Store, recs ...Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Add(r); err != nil {
			t.Fatalf("Add %s: %v", r.ID, err)
		}
	}
}

func mustList(t *testing.T, s *Store) []Record {
	t.Helper()
	recs, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return recs
}

func ids(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// idRange is the IDs of testRecord(hi-1) down to testRecord(lo).
func idRange(hi, lo int) []string {
	var out []string
	for i := hi - 1; i >= lo; i-- {
		out = append(out, testRecord(i).ID)
	}
	return out
}

// fileLines returns the lines of the history file after its header,
// failing unless the header is there and every line decodes.
func fileLines(t *testing.T, dir string) []Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := bytes.Cut(b, []byte("\n"))
	if string(head)+"\n" != headerLine {
		t.Fatalf("file starts %q", head)
	}
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(rest))
	sc.Buffer(nil, defaultMaxLine)
	for sc.Scan() {
		r, err := decodeLine(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestAddList(t *testing.T) {
	at := func(i, sec int) Record {
		r := testRecord(i)
		r.Time = t0.Add(time.Duration(sec) * time.Second)
		return r
	}
	tests := []struct {
		name string
		add  []Record
		want []string
	}{
		{"empty", nil, nil},
		{"newest first", []Record{at(1, 1), at(2, 2), at(3, 3)}, []string{"r0003", "r0002", "r0001"}},
		{"same time: last added first", []Record{at(1, 5), at(2, 5), at(3, 5)}, []string{"r0003", "r0002", "r0001"}},
		{"by time, not by order added", []Record{at(1, 3), at(2, 1), at(3, 2)}, []string{"r0001", "r0003", "r0002"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, Options{})
			mustAdd(t, s, tt.add...)
			got := mustList(t, s)
			if !slices.Equal(ids(got), tt.want) {
				t.Fatalf("List = %v, want %v", ids(got), tt.want)
			}
			for _, r := range got {
				i := slices.IndexFunc(tt.add, func(a Record) bool { return a.ID == r.ID })
				if want := tt.add[i].Sanitize(); !sameRecord(r, want) {
					t.Fatalf("read back %+v\nwant %+v", r, want)
				}
			}
			s.Close()
			if again := mustList(t, openStore(t, dir, Options{})); !slices.Equal(ids(again), tt.want) {
				t.Fatalf("after reopening: %v, want %v", ids(again), tt.want)
			}
		})
	}
}

func sameRecord(a, b Record) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func TestAddFills(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 6, 2, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	s := openStore(t, dir, Options{Clock: func() time.Time { return now }})
	r := testRecord(1)
	r.ID, r.Time = "", time.Time{}
	r.Direction, r.Sources, r.Folder = Received, nil, "inbox"
	mustAdd(t, s, r, r)
	got := mustList(t, s)
	if len(got) != 2 || got[0].ID == "" || got[0].ID == got[1].ID {
		t.Fatalf("IDs %q: want two different ones", ids(got))
	}
	if !got[0].Time.Equal(now) || got[0].Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", got[0].Time, now)
	}
	if want, _ := filepath.Abs("inbox"); got[0].Folder != want {
		t.Errorf("folder %q, want %q", got[0].Folder, want)
	}
}

func TestBound(t *testing.T) {
	for _, limit := range []int{1, 10, 40} {
		for _, extra := range []int{1, 3 * limit} {
			t.Run(fmt.Sprintf("max %d plus %d", limit, extra), func(t *testing.T) {
				dir := t.TempDir()
				s := openStore(t, dir, Options{Max: limit})
				for i := range limit + extra {
					mustAdd(t, s, testRecord(i))
				}
				want := idRange(limit+extra, extra)
				if got := ids(mustList(t, s)); !slices.Equal(got, want) {
					t.Fatalf("List = %v, want %v", got, want)
				}
				if n, most := len(fileLines(t, dir)), s.trimAfter; n > most {
					t.Errorf("file holds %d records, more than %d", n, most)
				}
				s.Close()
				if got := ids(mustList(t, openStore(t, dir, Options{Max: limit}))); !slices.Equal(got, want) {
					t.Fatalf("after reopening: %v, want %v", got, want)
				}
			})
		}
	}
}

// TestByteBound: records with long texts are bounded by bytes too, and
// List agrees with what a rewrite keeps.
func TestByteBound(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{Max: 1000})
	s.window, s.budget = 64<<10, 32<<10
	for i := range 40 {
		r := testRecord(i)
		r.Kind, r.Text = KindText, strings.Repeat("x", 4000)
		mustAdd(t, s, r)
		st, err := os.Stat(filepath.Join(dir, fileName))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > s.window+int64(s.maxLine) {
			t.Fatalf("after %d adds the file is %d bytes", i+1, st.Size())
		}
	}
	got := mustList(t, s)
	if len(got) == 0 || len(got) > 8 {
		t.Fatalf("%d records of 4 KB listed in a 32 KiB budget", len(got))
	}
	if want := idRange(40, 40-len(got)); !slices.Equal(ids(got), want) {
		t.Fatalf("List = %v, want the newest %v", ids(got), want)
	}
}

func TestConcurrentAdd(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() { errs <- s.Add(testRecord(i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := idRange(50, 0)
	if got := ids(mustList(t, s)); !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	if n := len(fileLines(t, dir)); n != 50 {
		t.Fatalf("file holds %d records, want 50", n)
	}
}

// TestTwoStores plays the window and the CLI: two stores on one folder
// adding at once while each rewrites the file after every few adds. No
// append may land in a file being replaced: every record stays.
func TestTwoStores(t *testing.T) {
	dir := t.TempDir()
	stores := []*Store{openStore(t, dir, Options{}), openStore(t, dir, Options{})}
	for _, s := range stores {
		s.trimAfter = 4
	}
	const goroutines, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				errs <- stores[g%2].Add(testRecord(g*each + i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := idRange(goroutines*each, 0)
	for i, s := range stores {
		if got := ids(mustList(t, s)); !slices.Equal(got, want) {
			t.Fatalf("store %d lists %d records, want all %d: %v", i, len(got), len(want), got)
		}
	}
	fileLines(t, dir)
}

func TestClear(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	other := openStore(t, dir, Options{})
	mustAdd(t, s, testRecord(1), testRecord(2))
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, other); len(got) != 0 {
		t.Fatalf("after Clear the other store lists %v", ids(got))
	}
	if n := len(fileLines(t, dir)); n != 0 {
		t.Fatalf("after Clear the file holds %d records", n)
	}
	mustAdd(t, other, testRecord(3))
	if got := ids(mustList(t, s)); !slices.Equal(got, []string{"r0003"}) {
		t.Fatalf("after Clear and Add: %v", got)
	}
}

func TestClosed(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, lerr := s.List()
	for name, err := range map[string]error{"Add": s.Add(testRecord(1)), "List": lerr, "Clear": s.Clear()} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestNoSecretsInFile: a link's secret given in any field a person's
// data fills never reaches the disk.
func TestNoSecretsInFile(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	r := testRecord(1)
	r.Kind = KindText
	r.Text = "open https://share.example:8443/s/Qm9vaz#SECRET-one please"
	r.Names = []string{"https://user:SECRET-two@host/x", "see http://h/r/ID#SECRET-three"}
	r.Peer.Device = "wss://h/#SECRET-four"
	mustAdd(t, s, r)
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("SECRET")) {
		t.Fatalf("the file holds a secret:\n%s", b)
	}
	got := mustList(t, s)
	if len(got) != 1 || !got[0].Redacted || got[0].Text != "open https://share.example:8443/s/Qm9vaz please" {
		t.Fatalf("read back %+v", got)
	}
}
