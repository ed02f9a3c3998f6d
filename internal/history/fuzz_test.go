package history

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecode: whatever a line holds, decodeLine never panics, and what it
// accepts is a valid, bounded record that reads back the same once
// written, in a line the reader accepts.
func FuzzDecode(f *testing.F) {
	good, _ := encodeLine(testRecord(1).Sanitize())
	f.Add(good)
	f.Add([]byte(headerLine))
	f.Add([]byte(`{"id":"x","time":"2026-05-01T09:30:00+02:00","direction":"received","kind":"text","peer":{"code":"1"},"size":0,"files":0,"result":"partial","folder":"/tmp","text":"https://u:p@h/s/a#b"}`))
	f.Add([]byte(`{"id":"x","time":"2026-05-01T09:30:00Z","direction":"sent","via":"x","kind":"files","peer":{},"names":["a\u0000b"],"more_names":5,"size":1,"files":1,"result":"verified","reason":"disk-full","sources":["rel"]}`))
	f.Add([]byte("not json"))
	f.Add([]byte(`{"time":"9999-99-99"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeLine(line)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded a record that fails Validate: %v", err)
		}
		if len(r.Names) > MaxNames || len(r.Sources) > MaxSources || len(r.Text) > MaxText || !utf8.ValidString(r.Text) {
			t.Fatalf("decoded an unbounded record: %d names, %d sources, %d bytes of text", len(r.Names), len(r.Sources), len(r.Text))
		}
		out, err := encodeLine(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > defaultMaxLine {
			t.Fatalf("a decoded record takes %d bytes", len(out))
		}
		back, err := decodeLine(out[:len(out)-1])
		if err != nil || !sameRecord(back, r) {
			t.Fatalf("read back %+v (%v)\nwant %+v", back, err, r)
		}
	})
}

// FuzzSanitize: Sanitize is idempotent, its result passes Validate, and
// no URL keeps a #fragment or a user@ in any field.
func FuzzSanitize(f *testing.F) {
	f.Add("https://h/s/ID#secret", "name", "/tmp/x", "code")
	f.Add("x://a@b://c@d/#e", "https://u:p@h", "/a#b", "http://#")
	f.Add(strings.Repeat("é", 100), "\xff\x00", "relative", "")
	f.Fuzz(func(t *testing.T, text, name, path, code string) {
		r := testRecord(1)
		r.Text, r.Names, r.Peer.Code = text, []string{name, text}, code
		r.Sources = []string{path}
		s := r.Sanitize()
		if err := s.Validate(); err != nil {
			t.Fatalf("Validate after Sanitize: %v", err)
		}
		if again := s.Sanitize(); !sameRecord(again, s) {
			t.Fatalf("Sanitize twice:\n%+v\n%+v", again, s)
		}
		for _, v := range append([]string{s.Text, s.Peer.Code, s.Peer.Device, s.Folder}, append(s.Names, s.Sources...)...) {
			for rest := v; ; {
				i := strings.Index(rest, "://")
				if i < 0 {
					break
				}
				rest = rest[i+3:]
				url := rest
				if end := strings.IndexFunc(url, endsURL); end >= 0 {
					url = url[:end]
				}
				host := url
				if end := strings.IndexAny(host, "/?"); end >= 0 {
					host = host[:end]
				}
				if strings.Contains(url, "#") || strings.Contains(host, "@") {
					t.Fatalf("%q keeps a fragment or a user in %q", v, url)
				}
			}
		}
	})
}
