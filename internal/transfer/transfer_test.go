package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type result struct {
	res *transfer.Result
	err error
}

// run sends offer from one goroutine and receives into dir in another,
// over a synchronous in-memory pipe.
func run(t *testing.T, ctxS, ctxR context.Context, o *transfer.Offer, dir string, ropts transfer.ReceiveOptions) (sendErr error, rr result) {
	t.Helper()
	a, b := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendErr = transfer.Send(ctxS, a, o, transfer.SendOptions{})
	}()
	rr.res, rr.err = transfer.Receive(ctxR, b, dir, ropts)
	wg.Wait()
	return sendErr, rr
}

func TestTreeArrivesIdentical(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{
		"album/a.txt":             "hello",
		"album/empty.txt":         "",
		"album/deep/er/b.bin":     strings.Repeat("xyz", 30000),
		"album/nothing-here/":     "",
		"album/deep/other-empty/": "",
	})
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 3*transfer.MaxPayload+17)
	if err := os.Chmod(filepath.Join(src, "album/a.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := transfer.NewOffer(filepath.Join(src, "album"), filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	var progress []transfer.Progress
	sendErr, rr := run(t, t.Context(), t.Context(), o, dst, transfer.ReceiveOptions{
		Progress: func(p transfer.Progress) { progress = append(progress, p) },
	})
	if sendErr != nil || rr.err != nil {
		t.Fatalf("send: %v, receive: %v", sendErr, rr.err)
	}
	if want, got := testutil.Digest(t, src), testutil.Digest(t, dst); want != got {
		t.Fatalf("trees differ:\nsent:\n%s\nreceived:\n%s", want, got)
	}
	if !slices.Equal(rr.res.Saved, []string{"album", "big.bin"}) {
		t.Errorf("saved %v", rr.res.Saved)
	}
	last := progress[len(progress)-1]
	if last.Done != o.Manifest.Total() || last.Total != o.Manifest.Total() {
		t.Errorf("last progress %+v, total %d", last, o.Manifest.Total())
	}
}

func TestNameCollisionsNeverOverwrite(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"dir/x.txt": "new", "report.tar.gz": "new", ".hidden": "new"})
	o, err := transfer.NewOffer(filepath.Join(src, "dir"), filepath.Join(src, "report.tar.gz"), filepath.Join(src, ".hidden"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	testutil.WriteTree(t, dst, map[string]string{"dir/x.txt": "old", "report.tar.gz": "old", "report (1).tar.gz": "old", ".hidden": "old"})
	for round := 0; round < 2; round++ {
		if sendErr, rr := run(t, t.Context(), t.Context(), o, dst, transfer.ReceiveOptions{}); sendErr != nil || rr.err != nil {
			t.Fatalf("send: %v, receive: %v", sendErr, rr.err)
		}
	}
	want := map[string]string{
		"dir/x.txt": "old", "report.tar.gz": "old", "report (1).tar.gz": "old", ".hidden": "old",
		"dir (1)/x.txt": "new", "report (2).tar.gz": "new", ".hidden (1)": "new",
		"dir (2)/x.txt": "new", "report (3).tar.gz": "new", ".hidden (2)": "new",
	}
	for p, content := range want {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || string(b) != content {
			t.Errorf("%s: %q, %v; want %q", p, b, err, content)
		}
	}
}

func TestDecline(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "a"})
	o, err := transfer.NewOffer(filepath.Join(src, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	sendErr, rr := run(t, t.Context(), t.Context(), o, dst, transfer.ReceiveOptions{
		Confirm: func(context.Context, transfer.Manifest) error { return errors.New("no thanks") },
	})
	var pe *transfer.PeerError
	if !errors.As(sendErr, &pe) || pe.Code != transfer.CancelDeclined {
		t.Errorf("sender got %v, want the receiver's decline", sendErr)
	}
	if !errors.Is(rr.err, transfer.ErrDeclined) {
		t.Errorf("receiver got %v, want ErrDeclined", rr.err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("declined offer wrote %v", entries)
	}
}

// tripwire calls fn once, after n bytes were read through it.
type tripwire struct {
	net.Conn
	n    int64
	fn   func()
	once sync.Once
}

func (t *tripwire) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if t.n -= int64(n); t.n < 0 {
		t.once.Do(t.fn)
	}
	return n, err
}

func TestCancel(t *testing.T) {
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 8<<20)
	o, err := transfer.NewOffer(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		senderCancels bool
		wantReason    string
		cancelerErr   error
	}{
		{"by sender", true, "sender stopped", transfer.ErrCanceled},
		{"by receiver", false, "receiver stopped", transfer.ErrCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ctxS, ctxR := t.Context(), t.Context()
			if tc.senderCancels {
				ctxS = ctx
			} else {
				ctxR = ctx
			}
			a, b := net.Pipe()
			sendDone := make(chan error, 1)
			go func() { sendDone <- transfer.Send(ctxS, a, o, transfer.SendOptions{}) }()
			// Cancel once the receiver has read 1 MiB.
			_, rerr := transfer.Receive(ctxR, &tripwire{Conn: b, n: 1 << 20, fn: cancel}, dst, transfer.ReceiveOptions{})
			serr := <-sendDone
			cancelerErr, otherErr := serr, rerr
			if !tc.senderCancels {
				cancelerErr, otherErr = rerr, serr
			}
			var pe *transfer.PeerError
			if !errors.As(otherErr, &pe) || !strings.Contains(pe.Reason(), tc.wantReason) {
				t.Errorf("other side got %v, want reason %q", otherErr, tc.wantReason)
			}
			if !errors.Is(cancelerErr, tc.cancelerErr) {
				t.Errorf("canceling side got %v, want %v", cancelerErr, tc.cancelerErr)
			}
			if tc.senderCancels {
				// The sender may share again: what arrived is kept.
				testutil.OnlyPartial(t, dst)
			} else if entries, _ := os.ReadDir(dst); len(entries) != 0 {
				t.Errorf("canceled receive left %v", entries)
			}
		})
	}
}

// countingConn counts the bytes written through it.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func TestConnectionLostMidFileThenResume(t *testing.T) {
	src := t.TempDir()
	const size = 8 << 20
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), size)
	o, err := transfer.NewOffer(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	a, b := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), a, o, transfer.SendOptions{}) }()
	// The sender's machine vanishes once the receiver has read 3 MiB.
	b2 := &tripwire{Conn: b, n: 3 << 20, fn: func() { a.Close() }}
	_, rerr := transfer.Receive(t.Context(), b2, dst, transfer.ReceiveOptions{})
	if !errors.Is(rerr, transfer.ErrConnectionLost) {
		t.Errorf("receiver got %v, want ErrConnectionLost", rerr)
	}
	if serr := <-sendDone; !errors.Is(serr, transfer.ErrConnectionLost) {
		t.Errorf("sender got %v, want ErrConnectionLost", serr)
	}
	testutil.OnlyPartial(t, dst)

	// The same offer again: the transfer continues where it stopped.
	a, b = net.Pipe()
	counted := &countingConn{Conn: a}
	go func() { sendDone <- transfer.Send(t.Context(), counted, o, transfer.SendOptions{}) }()
	res, err := transfer.Receive(t.Context(), b, dst, transfer.ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
	if res.Resumed < 3<<20-transfer.MaxFrame || res.Resumed > 3<<20+transfer.MaxFrame {
		t.Errorf("resumed at %d, want about %d", res.Resumed, 3<<20)
	}
	// Only what was missing crossed the wire again (plus frame headers
	// and the manifest).
	if sent := counted.n.Load(); sent > size-res.Resumed+64<<10 {
		t.Errorf("the sender wrote %d bytes to deliver the last %d", sent, size-res.Resumed)
	}
	if got, want := testutil.Digest(t, dst), testutil.Digest(t, src); got != want {
		t.Errorf("resumed tree differs:\n%s\nwant\n%s", got, want)
	}
}

func TestSourceChanged(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "original content"})
	o, err := transfer.NewOffer(filepath.Join(src, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	serr, rr := run(t, t.Context(), t.Context(), o, dst, transfer.ReceiveOptions{})
	if !errors.Is(serr, transfer.ErrSourceChanged) {
		t.Errorf("sender got %v, want ErrSourceChanged", serr)
	}
	var pe *transfer.PeerError
	if !errors.As(rr.err, &pe) || !strings.Contains(pe.Reason(), "a.txt") {
		t.Errorf("receiver got %v, want the sender's reason naming the file", rr.err)
	}
	testutil.OnlyPartial(t, dst)
}

func TestOfferErrors(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a/x": "1", "b/x": "2"})
	for _, tc := range []struct {
		name  string
		paths []string
		want  string
	}{
		{"nothing", nil, "nothing to share"},
		{"missing", []string{filepath.Join(src, "nope")}, "no such file"},
		{"same name twice", []string{filepath.Join(src, "a/x"), filepath.Join(src, "b/x")}, "also named"},
		{"root", []string{"/"}, "root folder"},
		{"device", []string{"/dev/null"}, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transfer.NewOffer(tc.paths...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewOffer(%v) = %v, want error containing %q", tc.paths, err, tc.want)
			}
		})
	}
}

func TestTargetNotWritable(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "a", "file": "x"})
	o, err := transfer.NewOffer(filepath.Join(src, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{filepath.Join(src, "missing"), filepath.Join(src, "file")} {
		serr, rr := run(t, t.Context(), t.Context(), o, dst, transfer.ReceiveOptions{})
		if rr.err == nil || !strings.Contains(rr.err.Error(), "target folder") {
			t.Errorf("receive into %s: %v, want a target folder error", dst, rr.err)
		}
		var pe *transfer.PeerError
		if !errors.As(serr, &pe) || !strings.Contains(pe.Reason(), "cannot write") {
			t.Errorf("sender got %v", serr)
		}
	}
}

// hostile plays a sender that writes the given frames, then reads whatever
// the receiver says until the pipe closes.
func hostile(t *testing.T, dir string, frames ...[]byte) error {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		defer a.Close()
		go io.Copy(io.Discard, a)
		for _, f := range frames {
			if _, err := a.Write(f); err != nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // let a cancel frame arrive before close
	}()
	_, err := transfer.Receive(t.Context(), b, dir, transfer.ReceiveOptions{})
	return err
}

func frame(typ byte, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)+1))
	return append(append(b, typ), payload...)
}

const (
	fManifest = 2
	fData     = 4
	fFileEnd  = 5
)

func manifestFrame(t *testing.T, entries ...transfer.Entry) []byte {
	b, err := json.Marshal(transfer.Manifest{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	return frame(fManifest, b)
}

// textManifestFrames is a manifest of text alone, in as many frames as
// it takes.
func textManifestFrames(text string) [][]byte {
	b, _ := json.Marshal(transfer.Manifest{Entries: []transfer.Entry{}, Text: text})
	var out [][]byte
	for len(b) > transfer.MaxPayload {
		out = append(out, frame(fManifest-1, b[:transfer.MaxPayload]))
		b = b[transfer.MaxPayload:]
	}
	return append(out, frame(fManifest, b))
}

// A sender that stops while the receiver's person still decides withdraws
// the question: Confirm's context ends and the receiver reports why.
func TestSenderStopsWhileTheReceiverDecides(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "hello"})
	o, err := transfer.NewOffer(filepath.Join(src, "a.txt"))
	testutil.Must(t, err)
	ctxS, stopSender := context.WithCancel(t.Context())
	asked := make(chan struct{})
	withdrawn := make(chan error, 1)
	a, b := net.Pipe()
	go func() { <-asked; stopSender() }()
	go transfer.Send(ctxS, a, o, transfer.SendOptions{})
	dst := t.TempDir()
	_, rerr := transfer.Receive(t.Context(), b, dst, transfer.ReceiveOptions{Confirm: func(ctx context.Context, _ transfer.Manifest) error {
		close(asked)
		<-ctx.Done() // a person who never answers
		withdrawn <- ctx.Err()
		return ctx.Err()
	}})
	var pe *transfer.PeerError
	if !errors.As(rerr, &pe) || pe.Code != transfer.CancelStopped {
		t.Fatalf("receiver got %v, want the sender's stop", rerr)
	}
	if err := <-withdrawn; err == nil {
		t.Error("Confirm's context did not end")
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("a withdrawn offer wrote %v", entries)
	}
}

func TestTextArrives(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"a.txt": "hello"})
	text := "Meet at 6 — <b>not bold</b> https://example.org/x?y=1\n" + strings.Repeat("é", 1000)
	for _, tc := range []struct {
		name  string
		paths []string
		files int
	}{
		{"text alone", nil, 0},
		{"text and a file", []string{filepath.Join(src, "a.txt")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := transfer.NewTextOffer(text, tc.paths...)
			testutil.Must(t, err)
			dst := t.TempDir()
			serr, rr := run(t, t.Context(), t.Context(), o, dst, transfer.ReceiveOptions{})
			if serr != nil || rr.err != nil {
				t.Fatalf("send %v, receive %v", serr, rr.err)
			}
			if rr.res.Manifest.Text != text {
				t.Errorf("text arrived as %.40q", rr.res.Manifest.Text)
			}
			if entries, _ := os.ReadDir(dst); len(entries) != tc.files {
				t.Errorf("target holds %v", entries)
			}
		})
	}
	if _, err := transfer.NewTextOffer(strings.Repeat("x", transfer.MaxText+1)); err == nil {
		t.Error("NewTextOffer took a text over the limit")
	}
}

func TestHostileSender(t *testing.T) {
	sum := sha256.Sum256([]byte("abc"))
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   error
	}{
		{"dot-dot", [][]byte{manifestFrame(t, transfer.Entry{Path: "../evil", Size: 1})}, transfer.ErrBadManifest},
		{"nested dot-dot", [][]byte{manifestFrame(t, transfer.Entry{Path: "a/../../evil", Size: 1})}, transfer.ErrBadManifest},
		{"absolute", [][]byte{manifestFrame(t, transfer.Entry{Path: "/etc/passwd", Size: 1})}, transfer.ErrBadManifest},
		{"drive letter", [][]byte{manifestFrame(t, transfer.Entry{Path: `C:\evil`, Size: 1})}, transfer.ErrBadManifest},
		{"drive letter slash", [][]byte{manifestFrame(t, transfer.Entry{Path: "C:/evil", Size: 1})}, transfer.ErrBadManifest},
		{"NUL", [][]byte{manifestFrame(t, transfer.Entry{Path: "a\x00b", Size: 1})}, transfer.ErrBadManifest},
		{"a resume journal's name", [][]byte{manifestFrame(t, transfer.Entry{Path: ".epicshare-0123.resume", Size: 1})}, transfer.ErrBadManifest},
		{"backslash", [][]byte{manifestFrame(t, transfer.Entry{Path: `a\..\..\b`, Size: 1})}, transfer.ErrBadManifest},
		{"long name", [][]byte{manifestFrame(t, transfer.Entry{Path: strings.Repeat("n", 10000), Size: 1})}, transfer.ErrBadManifest},
		{"duplicate", [][]byte{manifestFrame(t, transfer.Entry{Path: "a"}, transfer.Entry{Path: "a"})}, transfer.ErrBadManifest},
		{"file used as folder", [][]byte{manifestFrame(t, transfer.Entry{Path: "a"}, transfer.Entry{Path: "a/b"})}, transfer.ErrBadManifest},
		{"negative size", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Size: -1})}, transfer.ErrBadManifest},
		{"huge size", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Size: 1 << 62})}, transfer.ErrBadManifest},
		{"setuid mode", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Mode: 0o4755})}, transfer.ErrBadManifest},
		{"empty", [][]byte{manifestFrame(t)}, transfer.ErrBadManifest},
		{"not JSON", [][]byte{frame(fManifest, []byte("{nope"))}, transfer.ErrBadManifest},
		{"text over the limit", textManifestFrames(strings.Repeat("t", transfer.MaxText+1)), transfer.ErrBadManifest},
		{"bad frame length", [][]byte{{0xff, 0xff, 0xff, 0xff, 1}}, transfer.ErrProtocol},
		{"data before manifest", [][]byte{frame(fData, []byte("x"))}, transfer.ErrProtocol},
		{"more than announced", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Size: 2}), frame(fData, []byte("abc"))}, transfer.ErrProtocol},
		{"fewer than announced", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Size: 4}), frame(fData, []byte("abc")), frame(fFileEnd, sum[:])}, transfer.ErrProtocol},
		{"wrong hash", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Size: 3}), frame(fData, []byte("abd")), frame(fFileEnd, sum[:])}, transfer.ErrVerify},
		{"truncated", [][]byte{manifestFrame(t, transfer.Entry{Path: "a", Size: 3}), frame(fData, []byte("ab"))}, transfer.ErrConnectionLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := hostile(t, dir, tc.frames...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 1 {
				t.Errorf("something was written outside the target folder: %v", entries)
			}
			if errors.Is(tc.want, transfer.ErrConnectionLost) {
				testutil.OnlyPartial(t, dir) // kept for a resume
			} else if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("refused transfer left %v", entries)
			}
		})
	}
}

func TestHostileSenderCorrectHashStillConfined(t *testing.T) {
	// A valid transfer of a file whose name only looks dangerous.
	dir := t.TempDir()
	sum := sha256.Sum256([]byte("abc"))
	err := hostile(t, dir, manifestFrame(t, transfer.Entry{Path: "..a..", Size: 3, Mode: 0o644}),
		frame(fData, []byte("abc")), frame(fFileEnd, sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "..a..")); err != nil || !bytes.Equal(b, []byte("abc")) {
		t.Errorf("got %q, %v", b, err)
	}
}

// TestAcceptSomeFiles plays a receiver that asks for one file only, as the
// browser page's per-file Download button does: only that file is sent.
func TestAcceptSomeFiles(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"d/a.txt": "aaa", "d/b.txt": "bbbb", "d/c.txt": "cc"})
	o, err := transfer.NewOffer(filepath.Join(src, "d"))
	if err != nil {
		t.Fatal(err)
	}
	want := -1
	for i, e := range o.Manifest.Entries {
		if e.Path == "d/b.txt" {
			want = i
		}
	}
	a, b := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), a, o, transfer.SendOptions{}) }()
	read := func() (byte, []byte) {
		t.Helper()
		var hdr [5]byte
		if _, err := io.ReadFull(b, hdr[:]); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
		if _, err := io.ReadFull(b, payload); err != nil {
			t.Fatal(err)
		}
		return hdr[4], payload
	}
	for typ, _ := read(); typ != fManifest; typ, _ = read() {
	}
	b.Write(frame(3, []byte(fmt.Sprintf(`{"files":[%d]}`, want))))
	var got []byte
	for {
		typ, p := read()
		if typ == fFileEnd {
			sum := sha256.Sum256(got)
			if string(got) != "bbbb" || !bytes.Equal(p, sum[:]) {
				t.Fatalf("got %q", got)
			}
			break
		}
		got = append(got, p...)
	}
	b.Write(frame(6, nil)) // done: the sender sends nothing more before it
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
	b.Close()
}

func TestAcceptNamingADirectoryIsRefused(t *testing.T) {
	src := t.TempDir()
	testutil.WriteTree(t, src, map[string]string{"d/a.txt": "a"})
	o, err := transfer.NewOffer(filepath.Join(src, "d"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), a, o, transfer.SendOptions{}) }()
	go io.Copy(io.Discard, b)
	b.Write(frame(3, []byte(`{"files":[0]}`))) // entry 0 is the folder d
	if err := <-sendDone; !errors.Is(err, transfer.ErrProtocol) {
		t.Fatalf("got %v, want ErrProtocol", err)
	}
	b.Close()
}

// TestSourceModifiedWhileSending changes a file, keeping its size, while
// it is being sent: the sender notices and the receiver keeps nothing.
func TestSourceModifiedWhileSending(t *testing.T) {
	src := t.TempDir()
	path := filepath.Join(src, "big.bin")
	testutil.RandomFile(t, path, 8<<20)
	o, err := transfer.NewOffer(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	a, b := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), a, o, transfer.SendOptions{}) }()
	touch := func() {
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Error(err)
		}
	}
	_, rerr := transfer.Receive(t.Context(), &tripwire{Conn: b, n: 1 << 20, fn: touch}, dst, transfer.ReceiveOptions{})
	serr := <-sendDone
	if !errors.Is(serr, transfer.ErrSourceChanged) {
		t.Errorf("sender got %v, want ErrSourceChanged", serr)
	}
	var pe *transfer.PeerError
	if !errors.As(rerr, &pe) || !strings.Contains(pe.Reason(), "modified while it was being sent") {
		t.Errorf("receiver got %v", rerr)
	}
	testutil.OnlyPartial(t, dst)
}

// pauser lets bytes through until n have passed, then holds the next
// Write until resume is closed.
type pauser struct {
	net.Conn
	n      int64
	paused chan struct{}
	resume chan struct{}
	once   sync.Once
}

func (p *pauser) Write(b []byte) (int, error) {
	if p.n -= int64(len(b)); p.n < 0 {
		p.once.Do(func() { close(p.paused) })
		<-p.resume
	}
	return p.Conn.Write(b)
}

// TestStallIsReported: while no data moves, both sides say so once; then
// the transfer completes.
func TestStallIsReported(t *testing.T) {
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 4<<20)
	o, err := transfer.NewOffer(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	gate := &pauser{Conn: a, n: 1 << 20, paused: make(chan struct{}), resume: make(chan struct{})}
	stalls := make(chan string, 4)
	stallAfter := 200 * time.Millisecond
	sendDone := make(chan error, 1)
	go func() {
		sendDone <- transfer.Send(t.Context(), gate, o, transfer.SendOptions{StallAfter: stallAfter,
			OnStall: func(idle time.Duration) { stalls <- "sender" }})
	}()
	go func() {
		defer close(gate.resume)
		<-gate.paused
		// Both watchdogs see nothing move; the receiver's must speak.
		timeout := time.After(10 * time.Second)
		for {
			select {
			case s := <-stalls:
				if s == "receiver" {
					return
				}
			case <-timeout:
				t.Error("no stall reported in 10 s without data")
				return
			}
		}
	}()
	_, err = transfer.Receive(t.Context(), b, t.TempDir(), transfer.ReceiveOptions{StallAfter: stallAfter,
		OnStall: func(idle time.Duration) {
			if idle < stallAfter {
				t.Errorf("stall reported after %v", idle)
			}
			stalls <- "receiver"
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
}
