package ui

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"fyne.io/fyne/v2/lang"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The window's words live in translations/<tag>.json, one catalogue per
// language in the format of Fyne's lang package (go-i18n's JSON): a key
// maps to a string, or to plural forms ("one", "other", …). Placeholders
// are text/template fields: {{.Name}}; plural entries get {{.Count}}.
// lang_test.go checks that the code and the catalogues agree.
//
// The window does not use Fyne's lang package directly: its localizer is
// one per process, chosen from the system locale alone, so Settings could
// not override it and tests could not run one window in Chinese beside
// another in English. A Words value is the same engine (go-i18n, on the
// same JSON), held by one window.
//
//go:embed translations
var catalogues embed.FS

// languages are the languages the window speaks, English first (the
// fallback), as Settings stores them.
func languages() []string { return []string{"en", "zh-Hans", "es", "de", "fr", "ja"} }

// languageName is a language's name in that language, as Settings lists
// it: the same in every catalogue, so it is not in them.
func languageName(tag string) string {
	return map[string]string{
		"en": "English", "zh-Hans": "简体中文", "es": "Español",
		"de": "Deutsch", "fr": "Français", "ja": "日本語",
	}[tag]
}

// Words chooses the window's words from the catalogues for one language.
// It is read-only once made, so any goroutine may use it.
type Words struct {
	tag     language.Tag
	loc     *i18n.Localizer
	english *i18n.Localizer // for a translation whose template is broken
	printer *message.Printer
}

// M holds a message's placeholders.
type M = map[string]any

// NewWords loads the catalogues and picks the language: want (a tag from
// languages(), as Settings stores it, or a locale such as "de_AT") if
// set, else the system's; English when neither is close to one of them.
// A key a language lacks is said in English.
func NewWords(want string) (*Words, error) {
	if want == "" {
		want = string(lang.SystemLocale())
	}
	return newWords(catalogues, want)
}

// newWords is NewWords on the catalogues in fsys (translations/<tag>.json).
func newWords(fsys fs.FS, want string) (*Words, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	var tags []language.Tag
	for _, l := range languages() {
		data, err := fs.ReadFile(fsys, path.Join("translations", l+".json"))
		if err != nil {
			return nil, fmt.Errorf("read catalogue %s: %w", l, err)
		}
		if _, err := b.ParseMessageFileBytes(data, l+".json"); err != nil {
			return nil, fmt.Errorf("parse catalogue %s: %w", l, err)
		}
		tags = append(tags, language.Make(l))
	}
	tag := matchLanguage(tags, want)
	return &Words{
		tag:     tag,
		loc:     i18n.NewLocalizer(b, tag.String(), "en"),
		english: i18n.NewLocalizer(b, "en"),
		printer: message.NewPrinter(tag),
	}, nil
}

// matchLanguage picks the catalogue for want ("zh-CN", "de_AT.UTF-8",
// "pt"), or English when none is close: a Taiwanese or Brazilian user
// gets English rather than Simplified Chinese or Spanish.
func matchLanguage(tags []language.Tag, want string) language.Tag {
	want, _, _ = strings.Cut(want, ".") // de_AT.UTF-8
	want, _, _ = strings.Cut(want, "@") // sr_RS@latin
	// A tag that parses with an error ("zh-CN-Hans", as Fyne writes one)
	// is still usable as far as it parsed.
	t, _ := language.Parse(want) // "de_AT" parses too
	if t == language.Und {
		return tags[0]
	}
	_, i, conf := language.NewMatcher(tags).Match(t)
	if conf < language.High {
		return tags[0]
	}
	return tags[i]
}

// Language is the chosen language's tag.
func (w *Words) Language() string { return w.tag.String() }

// T says the message key, with placeholders from data.
func (w *Words) T(key string, data ...M) string {
	var d M
	if len(data) > 0 {
		d = data[0]
	}
	return w.localize(&i18n.LocalizeConfig{MessageID: key, TemplateData: d})
}

// N says the message key in the plural form for n; data gets Count = n,
// written with the language's digit grouping.
func (w *Words) N(key string, n int, data ...M) string {
	d := M{}
	if len(data) > 0 {
		for k, v := range data[0] {
			d[k] = v
		}
	}
	d["Count"] = w.Number(int64(n))
	return w.localize(&i18n.LocalizeConfig{MessageID: key, PluralCount: n, TemplateData: d})
}

// localize says c's message in the chosen language; go-i18n falls back to
// English for a key the language lacks. A translation that does not
// execute falls back to English too; a key no catalogue has (which
// lang_test.go catches) shows as the key rather than nothing.
func (w *Words) localize(c *i18n.LocalizeConfig) string {
	if s, err := w.loc.Localize(c); s != "" || err == nil {
		return s
	}
	if s, _ := w.english.Localize(c); s != "" {
		return s
	}
	return c.MessageID
}

// Number formats n with the language's digit grouping.
func (w *Words) Number(n int64) string { return w.printer.Sprintf("%d", n) }

// sizeKeys are the messages of sizes, by power of 1000: bytes, kB, MB, …
// (French says "Mo" for MB).
func sizeKeys() []string {
	return []string{"size.bytes", "size.kb", "size.mb", "size.gb", "size.tb", "size.pb", "size.eb"}
}

// Bytes formats a size with decimal units, as file managers do, in the
// language's decimal separator: "1.5 MB", "1,5 MB".
func (w *Words) Bytes(n int64) string {
	const unit = 1000
	keys := sizeKeys()
	if n < unit {
		return w.T(keys[0], M{"N": w.Number(n)})
	}
	div, exp := int64(unit), 1
	for m := n / unit; m >= unit && exp < len(keys)-1; m /= unit {
		div *= unit
		exp++
	}
	return w.T(keys[exp], M{"N": w.printer.Sprintf("%.1f", float64(n)/float64(div))})
}

// Rate formats a speed: "12.5 MB/s".
func (w *Words) Rate(bytesPerSecond float64) string {
	return w.T("size.rate", M{"Size": w.Bytes(int64(bytesPerSecond))})
}

// Duration formats a time taken or left as "1:05" or "1:02:03", or a
// mark for unknown (negative).
func (w *Words) Duration(d time.Duration) string {
	if d < 0 {
		return w.T("duration.unknown")
	}
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return w.printer.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return w.printer.Sprintf("%d:%02d", s/60, s%60)
}

// Time formats a moment in the language's date and time layout.
func (w *Words) Time(t time.Time) string {
	return t.Local().Format(w.T("format.datetime"))
}
