package cli

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/epicshare/epicshare/internal/human"
	"github.com/epicshare/epicshare/internal/transfer"
)

// bar draws one progress line of at most width columns.
func bar(p transfer.Progress, width int) string {
	frac := 1.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	const cells = 24
	full := int(frac * cells)
	b := strings.Repeat("█", full) + strings.Repeat("░", cells-full)
	line := fmt.Sprintf("%s %3.0f%%  %s/s  ETA %s  %s", b, frac*100, human.Bytes(int64(p.Rate)), human.Duration(p.ETA()), p.File)
	if r := []rune(line); len(r) > width && width > 1 {
		line = string(r[:width-1]) + "…"
	}
	return line
}

// headline says how much a manifest holds: "3 files, 1.2 GB", "a
// message", "2 files, 10 kB and a message".
func headline(m transfer.Manifest) string {
	if len(m.Entries) == 0 {
		return "a message"
	}
	s := "s"
	if m.Files() == 1 {
		s = ""
	}
	h := fmt.Sprintf("%d file%s, %s", m.Files(), s, human.Bytes(m.Total()))
	if m.Text != "" {
		h += " and a message"
	}
	return h
}

// summary describes a manifest in a few lines for a person to accept.
func summary(m transfer.Manifest, max int) string {
	var b strings.Builder
	files := m.Files()
	fmt.Fprintf(&b, "%s:\n", headline(m))
	shown := 0
	for _, e := range m.Entries {
		if e.Dir {
			continue
		}
		if shown == max {
			fmt.Fprintf(&b, "  … and %d more\n", files-shown)
			break
		}
		fmt.Fprintf(&b, "  %-50s %10s\n", e.Path, human.Bytes(e.Size))
		shown++
	}
	// A folder is empty unless it is some entry's parent.
	parents := make(map[string]bool)
	for _, e := range m.Entries {
		if i := strings.LastIndexByte(e.Path, '/'); i > 0 {
			parents[e.Path[:i]] = true
		}
	}
	for _, e := range m.Entries {
		if shown >= max {
			break
		}
		if e.Dir && !parents[e.Path] {
			fmt.Fprintf(&b, "  %-50s %10s\n", e.Path+"/", "(empty)")
			shown++
		}
	}
	return b.String()
}

// printable drops what a terminal would act on rather than show from
// text that came from another device: control characters (escape
// sequences included) other than newline and tab.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}
