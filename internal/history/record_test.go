package history

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	abs := filepath.Join(os.TempDir(), "a.txt")
	many := func(n int) []string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("n%d", i))
		}
		return s
	}
	tests := []struct {
		name  string
		edit  func(*Record)
		check func(t *testing.T, r Record)
	}{
		{"names over the bound are counted", func(r *Record) { r.Names, r.MoreNames = many(150), 3 }, func(t *testing.T, r Record) {
			if len(r.Names) != MaxNames || r.MoreNames != 53 || !slices.Equal(r.Names, many(MaxNames)) {
				t.Fatalf("%d names, %d more", len(r.Names), r.MoreNames)
			}
		}},
		{"a long name is cut on a rune", func(r *Record) { r.Names = []string{strings.Repeat("é", maxName)} }, func(t *testing.T, r Record) {
			if n := r.Names[0]; len(n) > maxName || !utf8.ValidString(n) || len(n) < maxName-1 {
				t.Fatalf("name of %d bytes, valid %v", len(n), utf8.ValidString(n))
			}
		}},
		{"names lose control characters and bad UTF-8", func(r *Record) { r.Names = []string{"a\x1b[31mb\xffc\n"} }, func(t *testing.T, r Record) {
			if r.Names[0] != "a[31mb\uFFFDc" {
				t.Fatalf("name %q", r.Names[0])
			}
		}},
		{"text over the bound is cut on a rune", func(r *Record) { r.Kind, r.Text = KindText, strings.Repeat("é", MaxText) }, func(t *testing.T, r Record) {
			if len(r.Text) > MaxText || len(r.Text) < MaxText-1 || !utf8.ValidString(r.Text) || !r.TextCut {
				t.Fatalf("text of %d bytes, valid %v, cut %v", len(r.Text), utf8.ValidString(r.Text), r.TextCut)
			}
		}},
		{"text within the bound is kept whole", func(r *Record) { r.Kind, r.Text = KindText, "line 1\n\tline 2" }, func(t *testing.T, r Record) {
			if r.Text != "line 1\n\tline 2" || r.TextCut || r.Redacted {
				t.Fatalf("text %q, cut %v, redacted %v", r.Text, r.TextCut, r.Redacted)
			}
		}},
		{"a link's secret is stripped from the text", func(r *Record) { r.Text = "get it at https://h:8443/s/ID#SeCrEt now" }, func(t *testing.T, r Record) {
			if r.Text != "get it at https://h:8443/s/ID now" || !r.Redacted {
				t.Fatalf("text %q, redacted %v", r.Text, r.Redacted)
			}
		}},
		{"a password is stripped from a device name", func(r *Record) { r.Peer.Device = "http://me:pw@host/" }, func(t *testing.T, r Record) {
			if r.Peer.Device != "http://host/" || !r.Redacted {
				t.Fatalf("device %q", r.Peer.Device)
			}
		}},
		{"a relative folder is dropped", func(r *Record) { r.Direction, r.Sources, r.Folder = Received, nil, "Downloads" }, func(t *testing.T, r Record) {
			if r.Folder != "" {
				t.Fatalf("folder %q", r.Folder)
			}
		}},
		{"a folder on a sent record is dropped", func(r *Record) { r.Folder = os.TempDir() }, func(t *testing.T, r Record) {
			if r.Folder != "" {
				t.Fatalf("folder %q", r.Folder)
			}
		}},
		{"sources on a received record are dropped", func(r *Record) { r.Direction = Received }, func(t *testing.T, r Record) {
			if r.Sources != nil {
				t.Fatalf("sources %q", r.Sources)
			}
		}},
		{"too many sources are all dropped", func(r *Record) { r.Sources = slices.Repeat([]string{abs}, MaxSources+1) }, func(t *testing.T, r Record) {
			if r.Sources != nil {
				t.Fatalf("%d sources", len(r.Sources))
			}
		}},
		{"one relative source drops all", func(r *Record) { r.Sources = []string{abs, "b.txt"} }, func(t *testing.T, r Record) {
			if r.Sources != nil {
				t.Fatalf("sources %q", r.Sources)
			}
		}},
		{"a path that would be redacted is dropped, not changed", func(r *Record) { r.Sources = []string{abs + "https://x#y"} }, func(t *testing.T, r Record) {
			if r.Sources != nil {
				t.Fatalf("sources %q", r.Sources)
			}
		}},
		{"time in UTC", func(r *Record) { r.Time = t0.In(time.FixedZone("X", 3600)) }, func(t *testing.T, r Record) {
			if r.Time.Location() != time.UTC || !r.Time.Equal(t0) {
				t.Fatalf("time %v", r.Time)
			}
		}},
		{"verified has no reason", func(r *Record) { r.Reason = ReasonDiskFull }, func(t *testing.T, r Record) {
			if r.Reason != ReasonNone {
				t.Fatalf("reason %q", r.Reason)
			}
		}},
		{"failed without a reason is other", func(r *Record) { r.Result = ResultFailed }, func(t *testing.T, r Record) {
			if r.Reason != ReasonOther {
				t.Fatalf("reason %q", r.Reason)
			}
		}},
		{"declined without a reason is declined", func(r *Record) { r.Result = ResultDeclined }, func(t *testing.T, r Record) {
			if r.Reason != ReasonDeclined {
				t.Fatalf("reason %q", r.Reason)
			}
		}},
		{"cancelled keeps its reason", func(r *Record) { r.Result, r.Reason = ResultCancelled, ReasonPeerCancelled }, func(t *testing.T, r Record) {
			if r.Reason != ReasonPeerCancelled {
				t.Fatalf("reason %q", r.Reason)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRecord(1)
			tt.edit(&r)
			names := slices.Clone(r.Names)
			s := r.Sanitize()
			tt.check(t, s)
			if !slices.Equal(r.Names, names) {
				t.Errorf("Sanitize changed the caller's names")
			}
			if err := s.Validate(); err != nil {
				t.Errorf("Validate after Sanitize: %v", err)
			}
			if again := s.Sanitize(); !sameRecord(again, s) {
				t.Errorf("Sanitize twice differs:\n%+v\n%+v", again, s)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Record)
		ok   bool
	}{
		{"good", func(*Record) {}, true},
		{"no via", func(r *Record) { r.Via = ViaUnknown }, true},
		{"no ID", func(r *Record) { r.ID = "" }, false},
		{"an ID with a slash", func(r *Record) { r.ID = "a/b" }, false},
		{"a long ID", func(r *Record) { r.ID = strings.Repeat("a", maxID+1) }, false},
		{"no time", func(r *Record) { r.Time = time.Time{} }, false},
		{"a time after year 9999", func(r *Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"a time before year 1", func(r *Record) { r.Time = time.Date(0, 12, 31, 23, 0, 0, 0, time.UTC) }, false},
		{"unknown direction", func(r *Record) { r.Direction = "up" }, false},
		{"unknown via", func(r *Record) { r.Via = "pigeon" }, false},
		{"unknown kind", func(r *Record) { r.Kind = "video" }, false},
		{"unknown result", func(r *Record) { r.Result = "meh" }, false},
		{"unknown reason", func(r *Record) { r.Result, r.Reason = ResultFailed, "gremlins" }, false},
		{"failed without a reason", func(r *Record) { r.Result = ResultFailed }, false},
		{"verified with a reason", func(r *Record) { r.Reason = ReasonOther }, false},
		{"negative size", func(r *Record) { r.Size = -1 }, false},
		{"negative files", func(r *Record) { r.Files = -1 }, false},
		{"negative more names", func(r *Record) { r.MoreNames = -1 }, false},
		{"not sanitized: a secret", func(r *Record) { r.Text = "https://h/s/x#secret" }, false},
		{"not sanitized: a local time", func(r *Record) { r.Time = t0.Local() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRecord(1).Sanitize()
			tt.edit(&r)
			err := r.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no link here", "no link here"},
		{"C# and #hashtags stay", "C# and #hashtags stay"},
		{"https://h:8443/s/ID#secret", "https://h:8443/s/ID"},
		{"HTTPS://H/R/ID#secret", "HTTPS://H/R/ID"},
		{"a https://h/#x b http://g/#y c", "a https://h/ b http://g/ c"},
		{`"https://h/s/ID#secret"`, `"https://h/s/ID"`},
		{"<https://h/s/ID#secret>", "<https://h/s/ID>"},
		{"https://user:pw@h/p", "https://h/p"},
		{"https://user@h", "https://h"},
		{"https://h/p?next=https://u:pw@g/x", "https://h/p?next=https://g/x"},
		{"https://a@b://c@d/", "https://b://d/"},
		{"https://h/?q=a@b", "https://h/?q=a@b"},
		{"see#https://h/#frag", "see#https://h/"},
		{"https://h/s/ID#a#b", "https://h/s/ID"},
		{"epicshare://x/s/ID#secret", "epicshare://x/s/ID"},
		{"://#", "://"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, changed := redact(tt.in)
			if got != tt.want || changed != (tt.in != tt.want) {
				t.Fatalf("redact(%q) = %q, %v; want %q", tt.in, got, changed, tt.want)
			}
			if again, changed := redact(got); again != got || changed {
				t.Fatalf("redact twice: %q", again)
			}
		})
	}
}
