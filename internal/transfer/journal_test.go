package transfer

import (
	"os"
	"testing"
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
