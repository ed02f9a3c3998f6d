package transfer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

// breakAfter runs a transfer of o into dst that loses its connection once
// the receiver has read n bytes, and checks what the receiver kept.
func breakAfter(t *testing.T, o *transfer.Offer, dst string, n int64) {
	t.Helper()
	a, b := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), a, o, transfer.SendOptions{}) }()
	_, err := transfer.Receive(t.Context(), &tripwire{Conn: b, n: n, fn: func() { a.Close() }}, dst, transfer.ReceiveOptions{})
	if !errors.Is(err, transfer.ErrConnectionLost) {
		t.Fatalf("receiver got %v, want ErrConnectionLost", err)
	}
	<-sendDone
}

// resume receives o into dst again and returns the result and the bytes
// the sender wrote.
// If cancelAfter > 0, ctx is canceled once the receiver read that much.
func resume(t *testing.T, o *transfer.Offer, dst string, opts transfer.ReceiveOptions, cancelAfter int64) (*transfer.Result, error, int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a, b := net.Pipe()
	var rb net.Conn = b
	if cancelAfter > 0 {
		rb = &tripwire{Conn: b, n: cancelAfter, fn: cancel}
	}
	counted := &countingConn{Conn: a}
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), counted, o, transfer.SendOptions{}) }()
	res, err := transfer.Receive(ctx, rb, dst, opts)
	serr := <-sendDone
	if err == nil && serr != nil {
		t.Errorf("sender: %v", serr)
	}
	return res, err, counted.n.Load()
}

func TestResumeSkipsCompleteFilesAndContinuesThePart(t *testing.T) {
	src := t.TempDir()
	album := filepath.Join(src, "album")
	testutil.WriteTree(t, src, map[string]string{"album/empty/": ""})
	testutil.RandomFile(t, filepath.Join(album, "1.bin"), 2<<20)
	testutil.RandomFile(t, filepath.Join(album, "2.bin"), 4<<20)
	testutil.RandomFile(t, filepath.Join(album, "3.bin"), 1<<20)
	o, err := transfer.NewOffer(album)
	testutil.Must(t, err)
	dst := t.TempDir()
	breakAfter(t, o, dst, 3<<20) // 1.bin complete, 2.bin about a quarter

	res, err, sent := resume(t, o, dst, transfer.ReceiveOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Saved) != 1 || res.Saved[0] != "album" {
		t.Errorf("saved as %v, want the same folder as the first attempt", res.Saved)
	}
	if res.Resumed < 2<<20+512<<10 {
		t.Errorf("resumed %d bytes, want 1.bin and part of 2.bin", res.Resumed)
	}
	if total := int64(7 << 20); sent > total-res.Resumed+64<<10 {
		t.Errorf("the sender wrote %d bytes to deliver the last %d", sent, total-res.Resumed)
	}
	if got, want := testutil.Digest(t, dst), testutil.Digest(t, src); got != want {
		t.Errorf("resumed tree differs:\n%s\nwant\n%s", got, want)
	}
}

func TestResumeStartsOverWhenThePartDiffers(t *testing.T) {
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 4<<20)
	o, err := transfer.NewOffer(filepath.Join(src, "big.bin"))
	testutil.Must(t, err)
	dst := t.TempDir()
	breakAfter(t, o, dst, 1<<20)

	// Something changed the kept data: the sender must not trust it.
	part, err := os.OpenFile(filepath.Join(dst, "big.bin.part"), os.O_WRONLY, 0)
	testutil.Must(t, err)
	_, err = part.WriteAt([]byte("not what was sent"), 1000)
	testutil.Must(t, err)
	testutil.Must(t, part.Close())

	res, err, sent := resume(t, o, dst, transfer.ReceiveOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 0 || sent < 4<<20 {
		t.Errorf("resumed %d and sent %d bytes, want a fresh start", res.Resumed, sent)
	}
	if got, want := testutil.Digest(t, dst), testutil.Digest(t, src); got != want {
		t.Errorf("tree differs:\n%s\nwant\n%s", got, want)
	}
}

func TestResumeCanceledByTheReceiver(t *testing.T) {
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "a.bin"), 2<<20)
	testutil.RandomFile(t, filepath.Join(src, "b.bin"), 2<<20)
	o, err := transfer.NewOffer(filepath.Join(src, "a.bin"), filepath.Join(src, "b.bin"))
	testutil.Must(t, err)

	for _, keep := range []bool{false, true} {
		dst := t.TempDir()
		breakAfter(t, o, dst, 1<<20)
		_, err, _ := resume(t, o, dst, transfer.ReceiveOptions{KeepOnCancel: keep}, 256<<10)
		if !errors.Is(err, transfer.ErrCanceled) {
			t.Fatalf("keep=%v: got %v, want ErrCanceled", keep, err)
		}
		if keep {
			testutil.OnlyPartial(t, dst)
			if parts, _ := filepath.Glob(filepath.Join(dst, "*.part")); len(parts) == 0 {
				t.Error("KeepOnCancel kept nothing")
			}
		} else if entries, _ := os.ReadDir(dst); len(entries) != 0 {
			t.Errorf("a canceled resume left %v", entries)
		}
	}
}

// A file finished by a resumed attempt stays when that attempt is then
// canceled, even under a name its .part once had.
func TestCancelAfterResumeKeepsWhatItFinished(t *testing.T) {
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "a.txt"), 2<<20)
	testutil.RandomFile(t, filepath.Join(src, "a.txt.part"), 10<<10) // a file really named so
	testutil.RandomFile(t, filepath.Join(src, "c.bin"), 2<<20)
	o, err := transfer.NewOffer(filepath.Join(src, "a.txt"), filepath.Join(src, "a.txt.part"), filepath.Join(src, "c.bin"))
	testutil.Must(t, err)
	dst := t.TempDir()
	breakAfter(t, o, dst, 1<<20) // in a.txt, kept as a.txt.part

	// The rest of a.txt, all of a.txt.part, then half of c.bin.
	_, err, _ = resume(t, o, dst, transfer.ReceiveOptions{}, 2<<20)
	if !errors.Is(err, transfer.ErrCanceled) {
		t.Fatalf("got %v, want ErrCanceled", err)
	}
	for _, name := range []string{"a.txt", "a.txt.part"} {
		want, _ := os.ReadFile(filepath.Join(src, name))
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s, finished before the cancel: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "c.bin")); err == nil {
		t.Error("c.bin arrived whole though canceled")
	}
}

// frameCounter counts, by type, the frames read through it.
type frameCounter struct {
	net.Conn
	pending []byte
	seen    map[byte]int
}

func (c *frameCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.pending = append(c.pending, p[:n]...)
	for len(c.pending) >= 5 {
		size := 4 + int(binary.BigEndian.Uint32(c.pending))
		if len(c.pending) < size {
			break
		}
		c.seen[c.pending[4]]++
		c.pending = c.pending[size:]
	}
	return n, err
}

// A sender hashing a long resume prefix says now and then that it is at
// work (so the receiver's stall watchdog hears something), and the
// receiver takes that in its stride.
func TestSenderSaysItIsHashingTheResumePrefix(t *testing.T) {
	defer transfer.SetCheckingEvery(0)() // after every 8 MiB hashed
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 40<<20)
	o, err := transfer.NewOffer(filepath.Join(src, "big.bin"))
	testutil.Must(t, err)
	dst := t.TempDir()
	breakAfter(t, o, dst, 33<<20)

	a, b := net.Pipe()
	counter := &frameCounter{Conn: b, seen: map[byte]int{}}
	sendDone := make(chan error, 1)
	go func() { sendDone <- transfer.Send(t.Context(), a, o, transfer.SendOptions{}) }()
	res, err := transfer.Receive(t.Context(), counter, dst, transfer.ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
	if res.Resumed < 32<<20 {
		t.Errorf("resumed at %d, want past 32 MiB", res.Resumed)
	}
	// A prefix of over 32 MiB hashed 8 MiB at a time: at least three.
	if n := counter.seen[transfer.FrameChecking]; n < 3 {
		t.Errorf("%d checking frames while the sender hashed %d bytes", n, res.Resumed)
	}
	if got, want := testutil.Digest(t, dst), testutil.Digest(t, src); got != want {
		t.Errorf("resumed file differs")
	}
}
