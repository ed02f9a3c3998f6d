package cli

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/epicshare/epicshare/internal/transfer"
)

func TestParseInterleavedFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keep := fs.Bool("keep", false, "")
	var stun listFlag
	fs.Var(&stun, "stun", "")
	pos, err := parse(fs, []string{"a.txt", "--keep", "--stun", "s1", "b dir", "--stun=s2", "--", "--literal"})
	if err != nil {
		t.Fatal(err)
	}
	if !*keep || !slices.Equal(stun, []string{"s1", "s2"}) || !slices.Equal(pos, []string{"a.txt", "b dir", "--literal"}) {
		t.Errorf("keep=%v stun=%v pos=%q", *keep, stun, pos)
	}
}

func TestSummary(t *testing.T) {
	m := transfer.Manifest{Entries: []transfer.Entry{
		{Path: "d", Dir: true}, {Path: "d/a", Size: 1500}, {Path: "d/b", Size: 10}, {Path: "d/c", Size: 0}, {Path: "d/e", Dir: true},
	}}
	s := summary(m, 2)
	for _, want := range []string{"3 files, 1.5 kB:", "d/a", "1.5 kB", "… and 1 more"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if s := summary(m, 10); !strings.Contains(s, "d/e/") || !strings.Contains(s, "(empty)") {
		t.Errorf("summary does not show the empty folder:\n%s", s)
	}
}

func TestBarFitsWidth(t *testing.T) {
	p := transfer.Progress{File: strings.Repeat("long-name/", 20), Done: 50, Total: 100, Rate: 1e6}
	if got := bar(p, 60); len([]rune(got)) > 60 || !strings.Contains(got, " 50%") {
		t.Errorf("bar = %q", got)
	}
}

func TestPrintableDropsTerminalControls(t *testing.T) {
	in := "ok\x1b]0;pwned\x07 line\n\tnext\u009b2J é"
	if got, want := printable(in), "ok]0;pwned line\n\tnext2J é"; got != want {
		t.Errorf("printable(%q) = %q, want %q", in, got, want)
	}
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{"Desk": "Desk", "my-pc_2.local": "my-pc_2.local", "Anna's laptop": `'Anna'\''s laptop'`, "": "''", "Büro": "'Büro'"} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %s, want %s", in, got, want)
		}
	}
}
