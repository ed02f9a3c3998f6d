package ui

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"text/template"
	"time"

	"fyne.io/fyne/v2/test"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"

	"github.com/epicshare/epicshare/internal/testutil"
)

// entry is one message of a catalogue: a string, or plural forms.
type entry struct {
	text  string
	forms map[string]string // nil for a string
}

func (e *entry) UnmarshalJSON(b []byte) error {
	if json.Unmarshal(b, &e.text) == nil {
		return nil
	}
	return json.Unmarshal(b, &e.forms)
}

// texts are the entry's strings: its text, or each form.
func (e entry) texts() map[string]string {
	if e.forms == nil {
		return map[string]string{"": e.text}
	}
	return e.forms
}

func readCatalogue(t *testing.T, lang string) map[string]entry {
	t.Helper()
	b, err := catalogues.ReadFile(path.Join("translations", lang+".json"))
	testutil.Must(t, err)
	var c map[string]entry
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return c
}

var fieldRE = regexp.MustCompile(`\{\{\s*\.([A-Za-z]\w*)\s*\}\}`)

// fields are the placeholders of s, as a sorted list.
func fields(s string) []string {
	set := map[string]bool{}
	for _, m := range fieldRE.FindAllStringSubmatch(s, -1) {
		set[m[1]] = true
	}
	return sortedKeys(set)
}

// entryFields are the placeholders of all of e's strings.
func entryFields(e entry) []string {
	set := map[string]bool{}
	for _, s := range e.texts() {
		for _, f := range fields(s) {
			set[f] = true
		}
	}
	return sortedKeys(set)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyUse is a message the code says: where, and with which placeholders
// (nil when the data is not a literal the test can read).
type keyUse struct {
	pos    string
	fields []string
}

// keyTables are the functions that say a key from a table rather than a
// literal, with the table's keys and the placeholders each gets. Any
// other function must name its keys as string literals, so that this
// test sees them.
func keyTables() map[string]map[string][]string {
	errs, peers, sizes := map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, k := range errorKeys() {
		errs[k.key] = []string{}
		if k.detail {
			errs[k.key] = []string{"Detail"}
		}
	}
	for _, k := range peerKeys() {
		peers[k.key] = []string{}
		if k.detailKey != "" {
			peers[k.detailKey] = []string{"Detail"}
		}
	}
	for _, k := range sizeKeys() {
		sizes[k] = []string{"N"}
	}
	return map[string]map[string][]string{"words": errs, "peerKeyWords": peers, "Bytes": sizes}
}

// codeKeys walks the package's non-test files for calls of the T and N
// methods and returns the keys said, and the calls whose key is neither
// a literal nor from keyTables.
func codeKeys(t *testing.T) (map[string][]keyUse, []string) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := os.ReadDir(".")
	testutil.Must(t, err)
	used := map[string][]keyUse{}
	var computed []string
	tables := keyTables()
	for _, n := range names {
		name := n.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(".", name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		testutil.Must(t, err)
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				_, tabled := tables[fd.Name.Name]
				computed = append(computed, funcKeys(fset, fd, tabled, used)...)
			}
		}
	}
	for _, keys := range tables {
		for k, f := range keys {
			used[k] = append(used[k], keyUse{"a key table", f})
		}
	}
	return used, computed
}

// funcKeys adds the literal keys fd says to used, and returns where it
// says others, unless it says them from a table.
func funcKeys(fset *token.FileSet, fd *ast.FuncDecl, tabled bool, used map[string][]keyUse) (computed []string) {
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "T" && sel.Sel.Name != "N") || len(call.Args) == 0 {
			return true
		}
		pos := fset.Position(call.Pos()).String()
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			if !tabled {
				computed = append(computed, pos)
			}
			return true
		}
		key, _ := strconv.Unquote(lit.Value)
		used[key] = append(used[key], keyUse{pos, callFields(call, sel.Sel.Name == "N")})
		return true
	})
	return computed
}

// callFields are the placeholders a T or N call passes, from its M{…}
// literal; nil if the data is something else.
func callFields(call *ast.CallExpr, isN bool) []string {
	set := map[string]bool{}
	at := 1
	if isN {
		at, set["Count"] = 2, true
	}
	if len(call.Args) > at {
		lit, ok := call.Args[at].(*ast.CompositeLit)
		if !ok {
			return nil
		}
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				return nil
			}
			k, ok := kv.Key.(*ast.BasicLit)
			if !ok {
				return nil
			}
			s, _ := strconv.Unquote(k.Value)
			set[s] = true
		}
	}
	return sortedKeys(set)
}

// TestCatalogueKeysMatchTheCode: every key the code says is in en.json,
// with the placeholders the code passes; en.json has no other key.
func TestCatalogueKeysMatchTheCode(t *testing.T) {
	en := readCatalogue(t, "en")
	used, computed := codeKeys(t)
	for _, pos := range computed {
		t.Errorf("%s: a key that is not a string literal: name it, or say it from a table listed in keyTables", pos)
	}
	for _, key := range sortedKeys(used) {
		e, ok := en[key]
		if !ok {
			t.Errorf("%s: key %q is not in en.json", used[key][0].pos, key)
			continue
		}
		want := entryFields(e)
		for _, u := range used[key] {
			if u.fields != nil && !slices.Equal(u.fields, want) {
				t.Errorf("%s: %q gets placeholders %v, en.json has %v", u.pos, key, u.fields, want)
			}
		}
	}
	for _, key := range sortedKeys(en) {
		if _, ok := used[key]; !ok {
			t.Errorf("en.json: key %q is not used by the code", key)
		}
	}
}

// pluralForms are the plural forms each language needs for whole numbers
// (CLDR, as x/text and go-i18n have them).
func pluralForms() map[string][]string {
	return map[string][]string{
		"en": {"one", "other"}, "es": {"one", "other"}, "de": {"one", "other"}, "fr": {"one", "other"},
		"zh-Hans": {"other"}, "ja": {"other"},
	}
}

func TestPluralFormsTableMatchesCLDR(t *testing.T) {
	names := map[plural.Form]string{plural.Other: "other", plural.Zero: "zero", plural.One: "one",
		plural.Two: "two", plural.Few: "few", plural.Many: "many"}
	for _, l := range languages() {
		seen := map[string]bool{}
		for n := 0; n <= 1000; n++ {
			seen[names[plural.Cardinal.MatchPlural(language.Make(l), n, 0, 0, 0, 0)]] = true
		}
		if got, want := sortedKeys(seen), pluralForms()[l]; !slices.Equal(got, want) {
			t.Errorf("%s: CLDR has the forms %v, the table %v", l, got, want)
		}
	}
}

// checkEntry reports what is wrong with a translation tr of English e
// in lang: another kind of entry, plural forms the language does not
// need or lacks, other placeholders, or a template that does not parse.
func checkEntry(lang string, tr, e entry) []string {
	var bad []string
	if (tr.forms == nil) != (e.forms == nil) {
		return []string{"a string where English has plural forms, or the reverse"}
	}
	if tr.forms != nil {
		if got, want := sortedKeys(tr.forms), pluralForms()[lang]; !slices.Equal(got, want) {
			bad = append(bad, "plural forms "+strings.Join(got, ", ")+", want "+strings.Join(want, ", "))
		}
	}
	want := entryFields(e)
	for form, s := range tr.texts() {
		if form == "" {
			form = "the text"
		}
		if got := fields(s); !slices.Equal(got, want) {
			bad = append(bad, form+": placeholders "+strings.Join(got, ", ")+", want "+strings.Join(want, ", "))
		}
		if strings.Count(s, "{{") != len(fieldRE.FindAllString(s, -1)) {
			bad = append(bad, form+": a template action other than {{.Field}}")
		}
		if _, err := template.New("").Parse(s); err != nil {
			bad = append(bad, form+": "+err.Error())
		}
	}
	return bad
}

// TestCataloguesMatchEnglish: each catalogue has exactly en.json's keys,
// with the placeholders of the English strings and the plural forms of
// its language. A catalogue that is still {} is not translated yet.
func TestCataloguesMatchEnglish(t *testing.T) {
	en := readCatalogue(t, "en")
	for key, e := range en {
		for _, b := range checkEntry("en", e, e) {
			t.Errorf("en.json %q: %s", key, b)
		}
	}
	for _, l := range languages()[1:] {
		c := readCatalogue(t, l)
		if len(c) == 0 {
			t.Logf("%s.json: not translated yet", l)
			continue
		}
		for _, key := range sortedKeys(en) {
			tr, ok := c[key]
			if !ok {
				t.Errorf("%s.json: no %q", l, key)
				continue
			}
			for _, b := range checkEntry(l, tr, en[key]) {
				t.Errorf("%s.json %q: %s", l, key, b)
			}
		}
		for _, key := range sortedKeys(c) {
			if _, ok := en[key]; !ok {
				t.Errorf("%s.json: %q is not in en.json", l, key)
			}
		}
	}
}

// TestCataloguesAreSortedAndIndented: each file is as json.MarshalIndent
// writes it (keys sorted, two spaces), so that diffs stay small.
func TestCataloguesAreSortedAndIndented(t *testing.T) {
	for _, l := range languages() {
		b, err := catalogues.ReadFile(path.Join("translations", l+".json"))
		testutil.Must(t, err)
		var raw map[string]any
		testutil.Must(t, json.Unmarshal(b, &raw))
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		testutil.Must(t, enc.Encode(raw)) // sorts map keys
		if string(b) != want.String() {
			t.Errorf("%s.json is not sorted by key with two-space indents; it would be:\n%s", l, want.String())
		}
	}
}

func TestNewWordsPicksTheLanguage(t *testing.T) {
	for _, tc := range []struct{ want, got string }{
		{"zh-Hans", "zh-Hans"}, {"zh-CN", "zh-Hans"}, {"zh_CN.UTF-8", "zh-Hans"}, {"de_AT", "de"},
		{"fr-CA", "fr"}, {"es-419", "es"}, {"ja", "ja"}, {"en-GB", "en"},
		{"ko", "en"}, {"pt-BR", "en"}, {"zh-TW", "en"}, {"C", "en"}, {"not a tag", "en"},
	} {
		w, err := NewWords(tc.want)
		testutil.Must(t, err)
		if w.Language() != tc.got {
			t.Errorf("NewWords(%q) speaks %s, want %s", tc.want, w.Language(), tc.got)
		}
	}
}

// TestNewWordsFollowsTheSystem: with no choice, the locale the
// environment names, as gettext reads it.
func TestNewWordsFollowsTheSystem(t *testing.T) {
	for _, tc := range []struct{ language, lcAll, got string }{
		{"", "de_DE.UTF-8", "de"},
		{"ja_JP:en", "ja_JP.UTF-8", "ja"},
		{"", "zh_CN.UTF-8", "zh-Hans"},
		{"fr_FR", "C", "en"}, // C turns LANGUAGE off
		{"", "ko_KR.UTF-8", "en"},
	} {
		t.Setenv("LANGUAGE", tc.language)
		t.Setenv("LC_ALL", tc.lcAll)
		w, err := NewWords("")
		testutil.Must(t, err)
		if w.Language() != tc.got {
			t.Errorf("LANGUAGE=%q LC_ALL=%q: the window speaks %s, want %s", tc.language, tc.lcAll, w.Language(), tc.got)
		}
	}
}

// TestMissingKeysAreSaidInEnglish: a partly translated language says
// what it has, and English (not the key) for the rest.
func TestMissingKeysAreSaidInEnglish(t *testing.T) {
	en, err := catalogues.ReadFile("translations/en.json")
	testutil.Must(t, err)
	fsys := fstest.MapFS{"translations/en.json": {Data: en}, "translations/de.json": {Data: []byte(`{
  "send.total.items": {"one": "{{.Count}} Objekt, {{.Size}}", "other": "{{.Count}} Objekte, {{.Size}}"},
  "tab.send": "Senden",
  "tab.settings": "{{.Broken"
}`)}}
	for _, l := range languages()[1:] {
		if l != "de" {
			fsys["translations/"+l+".json"] = &fstest.MapFile{Data: []byte("{}")}
		}
	}
	w, err := newWords(fsys, "de")
	testutil.Must(t, err)
	for _, tc := range []struct{ got, want string }{
		{w.T("tab.send"), "Senden"},
		{w.T("tab.receive"), "Receive"},   // not translated
		{w.T("tab.settings"), "Settings"}, // a translation that does not execute
		{w.N("send.total.items", 1, M{"Size": w.Bytes(1500)}), "1 Objekt, 1,5 kB"},
		{w.N("send.total.items", 1234, M{"Size": w.Bytes(2e9)}), "1.234 Objekte, 2,0 GB"},
		{w.N("offer.total", 2, M{"Size": w.Bytes(999)}), "Total: 2 files, 999 B"},
		{w.T("no.such.key"), "no.such.key"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestFormatsForTheLanguage(t *testing.T) {
	en := english(t)
	de, err := NewWords("de")
	testutil.Must(t, err)
	for _, tc := range []struct{ got, want string }{
		{en.Bytes(0), "0 B"}, {en.Bytes(999), "999 B"}, {en.Bytes(1500), "1.5 kB"},
		{en.Bytes(1 << 30), "1.1 GB"}, {en.Bytes(3e12), "3.0 TB"}, {de.Bytes(1500), "1,5 kB"},
		{en.Rate(12.5e6), "12.5 MB/s"}, {en.Number(1234567), "1,234,567"}, {de.Number(1234567), "1.234.567"},
		{en.Duration(65 * time.Second), "1:05"}, {en.Duration(3723 * time.Second), "1:02:03"}, {en.Duration(-1), "?"},
		{en.N("send.total.items", 1, M{"Size": "1 B"}), "1 item, 1 B"}, {en.N("send.total.items", 2, M{"Size": "2 B"}), "2 items, 2 B"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestWindowInChinese: a window built in Chinese says its tabs in
// Chinese, beside one in English in the same process.
func TestWindowInChinese(t *testing.T) {
	zh := readCatalogue(t, "zh-Hans")
	if len(zh) == 0 {
		t.Skip("zh-Hans.json is not translated yet")
	}
	cfg := configFor(t)
	cfg.Language = "zh-Hans"
	var u *UI
	onUI(func() { u = New(test.NewTempApp(t), cfg) })
	t.Cleanup(u.Close)
	en := newTestUI(t)
	onUI(func() {
		for i, key := range []string{"tab.send", "tab.receive", "tab.history", "tab.settings"} {
			if got, want := u.tabs.Items[i].Text, zh[key].text; got != want || got == en.tabs.Items[i].Text {
				t.Errorf("tab %d says %q, want %q (the English window says %q)", i, got, want, en.tabs.Items[i].Text)
			}
		}
	})
}

// TestSettingsStoreKeysNotLabels: the language and the server mode are
// kept as stable values, whatever the labels say; the language applies
// from the next start.
func TestSettingsStoreKeysNotLabels(t *testing.T) {
	app := test.NewTempApp(t)
	cfg := configFor(t)
	cfg.Language = ""
	t.Setenv("LANGUAGE", "")
	t.Setenv("LC_ALL", "en_US.UTF-8")
	var u *UI
	onUI(func() { u = New(app, cfg) })
	onUI(func() {
		want := []string{u.w.T("settings.language.system"), "English", "简体中文", "Español", "Deutsch", "Français", "日本語"}
		if !slices.Equal(u.settings.lang.Options, want) || u.settings.lang.SelectedIndex() != 0 {
			t.Errorf("the languages: %q, selected %d", u.settings.lang.Options, u.settings.lang.SelectedIndex())
		}
		u.settings.lang.SetSelected("简体中文")
		u.settings.mode.SetSelected(u.settings.modeLabel(modeRemote))
	})
	if got := app.Preferences().String(prefLanguage); got != "zh-Hans" {
		t.Errorf("the language is kept as %q", got)
	}
	if got := app.Preferences().String(prefServerMode); got != modeRemote {
		t.Errorf("the server mode is kept as %q", got)
	}
	if u.w.Language() != "en" {
		t.Errorf("the running window changed its language to %s", u.w.Language())
	}
	u.Close()
	onUI(func() { u = New(app, cfg) })
	t.Cleanup(u.Close)
	onUI(func() {
		if u.w.Language() != "zh-Hans" || u.settings.lang.Selected != "简体中文" || u.settings.mode.Selected != u.settings.modeLabel(modeRemote) {
			t.Errorf("after a restart: language %s, Settings show %q and %q", u.w.Language(), u.settings.lang.Selected, u.settings.mode.Selected)
		}
	})
}
