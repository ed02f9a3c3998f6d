package assets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// The pages' words are catalogues, web/lang-<tag>.json, one per language
// that web/i18n.js can choose: a stable key maps to a string, or to the
// plural forms (Intl.PluralRules categories) that the language's rules
// can pick. English is the reference the others are checked against.

// pluralForms are the Intl.PluralRules categories (CLDR's) of each page
// language for whole numbers: exactly the forms each of its plural
// entries must have. Spanish and French have "many" for round millions
// ("1 000 000 de fichiers"): a folder of a million files is a count the
// sender page can show. TestPageWordsUnderNode checks this table against
// the browsers' own rules (ICU, in node).
var pluralForms = map[string][]string{
	"en":      {"one", "other"},
	"de":      {"one", "other"},
	"es":      {"many", "one", "other"},
	"fr":      {"many", "one", "other"},
	"ja":      {"other"},
	"zh-Hans": {"other"},
}

// TestPageCatalogues fails on any problem catalogueProblems finds in the
// embedded pages.
func TestPageCatalogues(t *testing.T) {
	for _, p := range catalogueProblems(Web) {
		t.Error(p)
	}
}

// TestPageWordsUnderNode runs i18n.js and view.js under node with the
// real catalogues: the choice of language from navigator.languages, the
// fallbacks, the plural forms the locale's rules pick, and sizes and
// times formatted for the locale.
func TestPageWordsUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the pages' code: apt-get install nodejs (make deps does)")
	}
	forms, _ := json.Marshal(pluralForms)
	out, err := exec.Command(node, "testdata/i18n.mjs", string(forms)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// entry is one catalogue entry: a text, or plural forms.
type entry struct {
	text  string
	forms map[string]string
}

func (e entry) plural() bool { return e.forms != nil }

// texts are the entry's strings, by form ("" for a plain text).
func (e entry) texts() map[string]string {
	if e.plural() {
		return e.forms
	}
	return map[string]string{"": e.text}
}

// catalogueProblems checks the page catalogues in fsys (the pages'
// folder) and returns what is wrong, a sentence each.
func catalogueProblems(fsys fs.FS) []string {
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	cats := map[string]map[string]entry{}
	files, _ := fs.Glob(fsys, "lang-*.json")
	for _, f := range files {
		tag := strings.TrimSuffix(strings.TrimPrefix(f, "lang-"), ".json")
		if _, ok := pluralForms[tag]; !ok {
			badf("%s: no page language %q (add it to pluralForms and to LANGUAGES in i18n.js)", f, tag)
			continue
		}
		c, problems := readCatalogue(fsys, f)
		bad = append(bad, problems...)
		cats[tag] = c
	}
	for tag := range pluralForms {
		if _, ok := cats[tag]; !ok {
			badf("lang-%s.json: missing", tag)
		}
	}
	if got, want := jsLanguages(fsys), slices.Sorted(maps.Keys(pluralForms)); !slices.Equal(got, want) {
		badf("i18n.js LANGUAGES lists %v, the catalogues are %v", got, want)
	}
	en := cats["en"]
	if en == nil {
		return bad
	}
	for _, tag := range slices.Sorted(maps.Keys(cats)) {
		c := cats[tag]
		for _, key := range slices.Sorted(maps.Keys(c)) {
			e := c[key]
			bad = append(bad, formProblems(tag, key, e)...)
			ref, ok := en[key]
			if !ok {
				badf("lang-%s.json: %s is not in English", tag, key)
				continue
			}
			if e.plural() != ref.plural() {
				badf("lang-%s.json: %s is %s, in English %s", tag, key, kind(e), kind(ref))
				continue
			}
			want := placeholders(ref.texts()[refForm(ref)])
			for form, s := range e.texts() {
				if got := placeholders(s); !slices.Equal(got, want) {
					badf("lang-%s.json: %s%s has placeholders %v, English %v", tag, key, formName(form), got, want)
				}
			}
		}
		for _, key := range slices.Sorted(maps.Keys(en)) {
			if _, ok := c[key]; !ok {
				badf("lang-%s.json: %s is missing", tag, key)
			}
		}
	}
	used := usedKeys(fsys, namespaces(en))
	for _, key := range slices.Sorted(maps.Keys(used)) {
		if _, ok := en[key]; !ok {
			badf("%s uses %s, which is not in lang-en.json", used[key], key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(en)) {
		if _, ok := used[key]; !ok {
			badf("lang-en.json: %s is used by no page", key)
		}
	}
	return append(bad, htmlProblems(fsys, en)...)
}

// readCatalogue decodes one catalogue: each value a string, or an object
// of plural forms that are strings.
func readCatalogue(fsys fs.FS, name string) (map[string]entry, []string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", name, err)}
	}
	var bad []string
	c := map[string]entry{}
	for key, v := range raw {
		var e entry
		if json.Unmarshal(v, &e.text) != nil && (json.Unmarshal(v, &e.forms) != nil || e.forms == nil) {
			bad = append(bad, fmt.Sprintf("%s: %s is neither a string nor an object of plural forms", name, key))
			continue
		}
		c[key] = e
	}
	return c, bad
}

// formProblems checks one entry of language tag: no empty text, braces
// only around placeholders, and, for a plural, exactly the forms the
// language's rules pick.
func formProblems(tag, key string, e entry) []string {
	var bad []string
	for form, s := range e.texts() {
		if strings.TrimSpace(s) == "" {
			bad = append(bad, fmt.Sprintf("lang-%s.json: %s%s is empty", tag, key, formName(form)))
		}
		if strings.ContainsAny(placeholder.ReplaceAllString(s, ""), "{}") {
			bad = append(bad, fmt.Sprintf("lang-%s.json: %s%s has a brace that is not a placeholder: %q", tag, key, formName(form), s))
		}
	}
	if e.plural() {
		if got, want := slices.Sorted(maps.Keys(e.forms)), pluralForms[tag]; !slices.Equal(got, want) {
			bad = append(bad, fmt.Sprintf("lang-%s.json: %s has the plural forms %v; the language's rules pick %v", tag, key, got, want))
		}
	}
	return bad
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// placeholders are the names of the {name} placeholders in s, sorted.
func placeholders(s string) []string {
	set := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		set[m[1]] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// refForm is the form of an English entry the others are compared with.
func refForm(e entry) string {
	if e.plural() {
		return "other"
	}
	return ""
}

func kind(e entry) string {
	if e.plural() {
		return "a plural"
	}
	return "a string"
}

func formName(form string) string {
	if form == "" {
		return ""
	}
	return " (" + form + ")"
}

// jsLanguages is the list LANGUAGES in i18n.js, sorted.
func jsLanguages(fsys fs.FS) []string {
	b, _ := fs.ReadFile(fsys, "i18n.js")
	m := regexp.MustCompile(`(?m)^export const LANGUAGES = \[([^\]]*)\];$`).FindSubmatch(b)
	if m == nil {
		return nil
	}
	var out []string
	for _, s := range regexp.MustCompile(`"([^"]+)"`).FindAllSubmatch(m[1], -1) {
		out = append(out, string(s[1]))
	}
	sort.Strings(out)
	return out
}

// namespaces are the first segments of the English keys: a string in a
// page script that starts with one of them and a dot is a key.
func namespaces(en map[string]entry) map[string]bool {
	ns := map[string]bool{}
	for key := range en {
		ns[strings.SplitN(key, ".", 2)[0]] = true
	}
	return ns
}

var (
	jsKey = regexp.MustCompile("[\"'`]([a-z][A-Za-z0-9]*(?:\\.[a-z][A-Za-z0-9]*)+)[\"'`]")
	// htmlKey is any data-i18n attribute: the text's, or an attribute's.
	htmlKey = regexp.MustCompile(`\bdata-i18n(?:-[a-z-]+)?="([^"]*)"`)
	// fileName is a string that names a file, not a key.
	fileName = regexp.MustCompile(`\.(js|json|css|html|png)$`)
)

// usedKeys finds the keys the pages use, each with a file that uses it:
// the string literals of the scripts that start with a namespace (keys
// are written whole, never built), and the data-i18n attributes of the
// HTML.
func usedKeys(fsys fs.FS, ns map[string]bool) map[string]string {
	used := map[string]string{}
	files, _ := fs.Glob(fsys, "*.*")
	for _, f := range files {
		b, _ := fs.ReadFile(fsys, f)
		var keys [][][]byte
		switch path.Ext(f) {
		case ".js":
			keys = jsKey.FindAllSubmatch(b, -1)
		case ".html":
			keys = htmlKey.FindAllSubmatch(b, -1)
		default:
			continue
		}
		for _, m := range keys {
			key := string(m[1])
			if path.Ext(f) == ".js" && (!ns[strings.SplitN(key, ".", 2)[0]] || fileName.MatchString(key)) {
				continue
			}
			if _, ok := used[key]; !ok {
				used[key] = f
			}
		}
	}
	return used
}

// htmlProblems checks that the English the HTML holds of its own (what a
// browser without script shows) is the English catalogue's.
func htmlProblems(fsys fs.FS, en map[string]entry) []string {
	var bad []string
	files, _ := fs.Glob(fsys, "*.html")
	for _, f := range files {
		b, _ := fs.ReadFile(fsys, f)
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		for n := range doc.Descendants() {
			for _, a := range n.Attr {
				target, ok := strings.CutPrefix(a.Key, "data-i18n")
				if !ok {
					continue
				}
				e, ok := en[a.Val]
				if !ok || e.plural() {
					continue // usedKeys reports a missing key; a plural has no one text
				}
				var got string
				if target == "" {
					got = textOf(n)
				} else {
					got = attr(n, strings.TrimPrefix(target, "-"))
				}
				if got != e.text {
					bad = append(bad, fmt.Sprintf("%s: <%s %s=%q> says %q, lang-en.json %q", f, n.Data, a.Key, a.Val, got, e.text))
				}
			}
		}
	}
	return bad
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
