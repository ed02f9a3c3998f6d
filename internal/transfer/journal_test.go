package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
)

func TestJournalIsUsedByOneReceiverAtATime(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	m := Manifest{Entries: []Entry{{Path: "a", Size: 1}}}
	first, err := openJournal(root, m)
	if err != nil || first == nil {
		t.Fatalf("first: %v, %v", first, err)
	}
	if second, err := openJournal(root, m); err != nil || second != nil {
		t.Errorf("second receiver got %v, %v; want no journal", second, err)
	}
	first.keep()
	third, err := openJournal(root, m)
	if err != nil || third == nil {
		t.Fatalf("after release: %v, %v", third, err)
	}
	third.finish()
}

func TestJournalIgnoresTornAndForeignLines(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	m := Manifest{Entries: []Entry{{Path: "d", Dir: true}, {Path: "d/a", Size: 1}}}
	content := `{"k":"top","p":"d","name":"d (1)"}
{"k":"part","i":1,"name":"d (1)/a.part"}
{"k":"part","i":0,"name":"x"}
{"k":"part","i":7,"name":"y"}
{"k":"top","p":"d","name":"../escape"}
{"k":"top","p":"e","name":"e"}
{"k":"done","i":1,"na`
	if err := os.WriteFile(dir+"/"+journalName(m), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := openJournal(root, m)
	if err != nil {
		t.Fatal(err)
	}
	defer j.keep()
	if len(j.top) != 1 || j.top["d"] != "d (1)" {
		t.Errorf("top = %v", j.top)
	}
	if len(j.part) != 1 || j.part[1] != "d (1)/a.part" {
		t.Errorf("part = %v", j.part)
	}
	if len(j.done) != 0 {
		t.Errorf("done = %v", j.done)
	}
}

// hostileJournalSetup shares files and a folder into a folder that holds
// the user's own files and a journal that names them, as a hostile sender
// could have planted it with an earlier share.
func hostileJournalSetup(t *testing.T) (o *Offer, dst string, mine map[string]string) {
	t.Helper()
	src := t.TempDir()
	testutil.RandomFile(t, filepath.Join(src, "big.bin"), 1<<20)
	testutil.RandomFile(t, filepath.Join(src, "mid.bin"), 64<<10)
	testutil.WriteTree(t, src, map[string]string{"small.txt": "0123456789", "album/x.txt": "x"})
	o, err := NewOffer(filepath.Join(src, "big.bin"), filepath.Join(src, "small.txt"), filepath.Join(src, "mid.bin"), filepath.Join(src, "album"))
	testutil.Must(t, err)
	dst = t.TempDir()
	testutil.Must(t, os.Chmod(dst, 0o700))
	mine = map[string]string{
		"precious.txt":     "my thesis",  // named as big.bin's .part
		"small (1).txt":    "mine: 10 B", // named as small.txt, done, same size, another time
		"big.bin (1).part": "not a part", // named as mid.bin's .part
	}
	for name, content := range mine {
		testutil.Must(t, os.WriteFile(filepath.Join(dst, name), []byte(content), 0o644))
	}
	journal := `{"k":"part","i":0,"name":"precious.txt"}
{"k":"done","i":1,"name":"small (1).txt","mtime":1}
{"k":"part","i":2,"name":"big.bin (1).part"}
{"k":"top","p":"album","name":"."}
`
	testutil.Must(t, os.WriteFile(filepath.Join(dst, journalName(o.Manifest)), []byte(journal), 0o600))
	return o, dst, mine
}

func checkMine(t *testing.T, dst string, mine map[string]string) {
	t.Helper()
	for name, content := range mine {
		b, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(b) != content {
			t.Errorf("the user's %s: %q, %v; want %q untouched", name, b, err, content)
		}
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the target folder's mode changed: %v, %v", fi.Mode(), err)
	}
}

func TestAHostileJournalTouchesNoFileOfTheUser(t *testing.T) {
	o, dst, mine := hostileJournalSetup(t)
	a, b := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- Send(t.Context(), a, o, SendOptions{}) }()
	res, err := Receive(t.Context(), b, dst, ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 0 {
		t.Errorf("resumed %d bytes from the user's files", res.Resumed)
	}
	checkMine(t, dst, mine)
	for _, name := range res.Saved {
		if _, taken := mine[name]; taken {
			t.Errorf("a received file is listed under the user's %s", name)
		}
	}
	if len(res.Saved) != 4 {
		t.Errorf("saved %v, want four items under fresh names", res.Saved)
	}
	if _, err := os.Stat(filepath.Join(dst, "album", "x.txt")); err != nil {
		t.Errorf("the folder did not arrive as album: %v", err)
	}
}

func TestAHostileJournalIsNotDiscardedOntoTheUsersFiles(t *testing.T) {
	o, dst, mine := hostileJournalSetup(t)
	ctx, cancel := context.WithCancel(t.Context())
	a, b := net.Pipe()
	go Send(t.Context(), a, o, SendOptions{})
	_, err := Receive(ctx, b, dst, ReceiveOptions{Progress: func(p Progress) {
		if p.Done > 0 {
			cancel()
		}
	}})
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("got %v, want ErrCanceled", err)
	}
	checkMine(t, dst, mine)
}

func TestJournalAppendsAfterATornLine(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	testutil.Must(t, err)
	defer root.Close()
	m := Manifest{Entries: []Entry{{Path: "a", Size: 1}}}
	testutil.Must(t, os.WriteFile(filepath.Join(dir, journalName(m)), []byte(`{"k":"part","i":0,"na`), 0o600))
	j, err := openJournal(root, m)
	testutil.Must(t, err)
	testutil.Must(t, j.record(journalLine{Kind: "part", File: 0, Name: "a.part"}))
	j.keep()
	j, err = openJournal(root, m)
	testutil.Must(t, err)
	defer j.keep()
	if j.part[0] != "a.part" {
		t.Errorf("the line after a torn one was lost: part = %v", j.part)
	}
}

func TestIsClaim(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"a.txt.part", "a.txt.part", true},
		{"a (3).txt.part", "a.txt.part", true},
		{"d/a (999).txt.part", "d/a.txt.part", true},
		{"a (1000).txt.part", "a.txt.part", false},
		{"a (0).txt.part", "a.txt.part", false},
		{"a (01).txt.part", "a.txt.part", false},
		{"a (-1).txt.part", "a.txt.part", false},
		{"precious.txt", "a.txt.part", false},
		{"e/a (1).txt.part", "d/a.txt.part", false},
		{"photos (2)", "photos", true},
		{".", "photos", false},
		{"a (1).txt", "a.txt.part", false},
	} {
		if got := isClaim(tc.name, tc.want); got != tc.ok {
			t.Errorf("isClaim(%q, %q) = %v", tc.name, tc.want, got)
		}
	}
}

// A resume of a share with many files names every file it still wants:
// more than one frame holds. The sender reads an Accept in pieces.
func TestSenderReadsAnAcceptOfManyFrames(t *testing.T) {
	src := t.TempDir()
	const n = 15000
	var paths []string
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("f%05d", i))
		testutil.Must(t, os.WriteFile(p, nil, 0o644))
		paths = append(paths, p)
	}
	o, err := NewOffer(paths...)
	testutil.Must(t, err)
	var accept Accept
	for i := 1; i < n; i++ { // every file but the first
		accept.Files = append(accept.Files, i)
	}
	b, _ := json.Marshal(accept)
	if len(b) <= MaxPayload {
		t.Fatalf("an Accept of %d bytes fits one frame; the test needs more", len(b))
	}
	a, r := net.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- Send(t.Context(), a, o, SendOptions{}) }()
	c := newConn(r, "receiver")
	if _, err := c.readJoined(frameManifestPart, frameManifest, ErrBadManifest); err != nil {
		t.Fatal(err)
	}
	testutil.Must(t, c.writeJoined(frameAcceptPart, frameAccept, b))
	ends := 0
	for ends < n-1 {
		typ, _, err := c.fr.next()
		testutil.Must(t, err)
		if typ == frameFileEnd {
			ends++
		}
	}
	testutil.Must(t, c.fw.write(frameDone, nil))
	if err := <-sendDone; err != nil {
		t.Fatalf("sender: %v", err)
	}
}
