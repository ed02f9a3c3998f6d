package assets

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// TestCatalogueChecksFail breaks a copy of the pages in each way the
// catalogue checks are there to catch, and expects each to be caught:
// a check that cannot fail checks nothing.
func TestCatalogueChecksFail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, f fstest.MapFS)
		want  string
	}{
		{"a key missing in a language", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "de", func(c map[string]any) { delete(c, "receive.accept") })
		}, "lang-de.json: receive.accept is missing"},
		{"a key English lacks", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "ja", func(c map[string]any) { c["receive.extra"] = "余分" })
		}, "lang-ja.json: receive.extra is not in English"},
		{"a dropped placeholder", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "fr", func(c map[string]any) { c["receive.code"] = "Code de vérification" })
		}, "lang-fr.json: receive.code has placeholders [], English [code]"},
		{"an added placeholder", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "es", func(c map[string]any) { c["receive.accept"] = "Descargar {count}" })
		}, "lang-es.json: receive.accept has placeholders [count], English []"},
		{"a renamed placeholder in one plural form", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "de", func(c map[string]any) { c["page.files"].(map[string]any)["one"] = "{n} Datei, {size}" })
		}, "lang-de.json: page.files (one) has placeholders [n size], English [count size]"},
		{"a plural form English needs", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "en", func(c map[string]any) { delete(c["page.files"].(map[string]any), "one") })
		}, "lang-en.json: page.files has the plural forms [other]; the language's rules pick [one other]"},
		{"French without its form for millions", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "fr", func(c map[string]any) { delete(c["send.sent"].(map[string]any), "many") })
		}, "lang-fr.json: send.sent has the plural forms [one other]"},
		{"a form Chinese never picks", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "zh-Hans", func(c map[string]any) { c["page.files"].(map[string]any)["one"] = "{count} 个文件，{size}" })
		}, "lang-zh-Hans.json: page.files has the plural forms [one other]; the language's rules pick [other]"},
		{"a plural written as a string", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "es", func(c map[string]any) { c["page.files"] = "{count} archivos, {size}" })
		}, "lang-es.json: page.files is a string, in English a plural"},
		{"an empty translation", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "ja", func(c map[string]any) { c["send.stop"] = " " })
		}, "lang-ja.json: send.stop is empty"},
		{"a stray brace", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "de", func(c map[string]any) { c["receive.code"] = "Prüfcode: {code (der Absender sieht {code})" })
		}, "lang-de.json: receive.code has a brace that is not a placeholder"},
		{"a value that is neither", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "de", func(c map[string]any) { c["send.stop"] = 3 })
		}, "lang-de.json: send.stop is neither a string nor an object of plural forms"},
		{"a catalogue that is not JSON", func(t *testing.T, f fstest.MapFS) {
			f["lang-es.json"] = &fstest.MapFile{Data: []byte(`{"send.stop": "Detener",}`)}
		}, "lang-es.json: invalid character"},
		{"a key a script uses that English lacks", func(t *testing.T, f fstest.MapFS) {
			appendTo(f, "send.js", "\nstatus(t(\"send.nowhere\"));\n")
		}, "send.js uses send.nowhere, which is not in lang-en.json"},
		{"a key a page uses that English lacks", func(t *testing.T, f fstest.MapFS) {
			replaceIn(t, f, "index.html", `data-i18n="receive.decline"`, `data-i18n="receive.declineAll"`)
		}, "index.html uses receive.declineAll, which is not in lang-en.json"},
		{"a key in a table of keys", func(t *testing.T, f fstest.MapFS) {
			replaceIn(t, f, "connect.js", `looking: "connect.sender.looking"`, `looking: "connect.sender.lookin"`)
		}, "connect.js uses connect.sender.lookin, which is not in lang-en.json"},
		{"a key no page uses", func(t *testing.T, f fstest.MapFS) {
			for tag := range pluralForms {
				edit(t, f, tag, func(c map[string]any) { c["send.unused"] = "x" })
			}
		}, "lang-en.json: send.unused is used by no page"},
		{"HTML text that is not the English entry", func(t *testing.T, f fstest.MapFS) {
			replaceIn(t, f, "index.html", ">Download everything<", ">Download all<")
		}, `index.html: <button data-i18n="receive.accept"> says "Download all", lang-en.json "Download everything"`},
		{"an HTML attribute that is not the English entry", func(t *testing.T, f fstest.MapFS) {
			replaceIn(t, f, "send.html", `placeholder="A note, an address, a link…"`, `placeholder="A note"`)
		}, `send.html: <textarea data-i18n-placeholder="send.messagePlaceholder"> says "A note"`},
		{"a language i18n.js does not know", func(t *testing.T, f fstest.MapFS) {
			f["lang-ko.json"] = f["lang-en.json"]
		}, `lang-ko.json: no page language "ko"`},
		{"a language without its catalogue", func(t *testing.T, f fstest.MapFS) {
			delete(f, "lang-ja.json")
		}, "lang-ja.json: missing"},
		{"i18n.js choosing from other languages", func(t *testing.T, f fstest.MapFS) {
			replaceIn(t, f, "i18n.js", `"fr", "ja"]`, `"fr"]`)
		}, "i18n.js LANGUAGES lists [de en es fr zh-Hans]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := copyWeb(t)
			tc.spoil(t, f)
			problems := catalogueProblems(f)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("not caught; want a problem containing %q, got %q", tc.want, problems)
		})
	}
}

// copyWeb copies the pages into a map that a case can break.
func copyWeb(t *testing.T) fstest.MapFS {
	t.Helper()
	f := fstest.MapFS{}
	err := fs.WalkDir(Web, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Web, p)
		f[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// edit changes the catalogue of language tag in f.
func edit(t *testing.T, f fstest.MapFS, tag string, change func(map[string]any)) {
	t.Helper()
	name := "lang-" + tag + ".json"
	var c map[string]any
	if err := json.Unmarshal(f[name].Data, &c); err != nil {
		t.Fatal(err)
	}
	change(c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	f[name] = &fstest.MapFile{Data: b}
}

func appendTo(f fstest.MapFS, name, s string) {
	f[name] = &fstest.MapFile{Data: append(f[name].Data, s...)}
}

func replaceIn(t *testing.T, f fstest.MapFS, name, old, new string) {
	t.Helper()
	s := string(f[name].Data)
	if !strings.Contains(s, old) {
		t.Fatalf("%s has no %q", name, old)
	}
	f[name] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
}
