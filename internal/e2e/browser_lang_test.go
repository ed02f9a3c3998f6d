package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/assets"
)

// The lang-* cases play the receiver page in a browser set to another
// language (Chromium's --accept-lang, Firefox's intl.accept_languages):
// the page must speak it, with the words of that language's catalogue,
// the one the broker serves, and still complete a transfer.

// caseLanguage is the browser language of case c ("" for the default,
// English): lang-zh is a browser in Simplified Chinese, as in China.
func caseLanguage(c string) string {
	if strings.HasPrefix(c, "lang-zh") {
		return "zh-CN,zh"
	}
	return ""
}

// pageWords is one page catalogue, read from the embedded pages.
type pageWords struct {
	tag   string
	words map[string]json.RawMessage
}

func readPageWords(t *testing.T, tag string) pageWords {
	t.Helper()
	b, err := fs.ReadFile(assets.Web, "lang-"+tag+".json")
	must(t, err)
	w := pageWords{tag: tag}
	must(t, json.Unmarshal(b, &w.words))
	return w
}

// text is the catalogue's string for key (for a plural, its form).
func (w pageWords) text(t *testing.T, key, form string) string {
	t.Helper()
	raw, ok := w.words[key]
	if !ok {
		t.Fatalf("lang-%s.json has no %s", w.tag, key)
	}
	var s string
	if form == "" {
		must(t, json.Unmarshal(raw, &s))
		return s
	}
	var forms map[string]string
	must(t, json.Unmarshal(raw, &forms))
	return forms[form]
}

// fill replaces the placeholders of key's text as the page does.
func (w pageWords) fill(t *testing.T, key string, params map[string]string) string {
	t.Helper()
	s := w.text(t, key, "")
	for k, v := range params {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// pattern matches key's text (in form) with every placeholder filled by
// anything, or by params where given.
func (w pageWords) pattern(t *testing.T, key, form string, params map[string]string) *regexp.Regexp {
	t.Helper()
	parts := regexp.MustCompile(`\{(\w+)\}`).Split(w.text(t, key, form), -1)
	names := regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(w.text(t, key, form), -1)
	var re strings.Builder
	re.WriteString("^")
	for i, p := range parts {
		re.WriteString(regexp.QuoteMeta(p))
		if i < len(names) {
			if v, ok := params[names[i][1]]; ok {
				re.WriteString(regexp.QuoteMeta(v))
			} else {
				re.WriteString(".+")
			}
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String())
}

// playInChinese plays a share to a browser set to Chinese: the offer is
// worded from the zh-Hans catalogue, accepted, verified and saved.
// shot takes the page's picture; landed waits for every file in the
// downloads.
func playInChinese(t *testing.T, p browserPage, shot func(string), landed func(), diagnose func() string) {
	zh := readPageWords(t, "zh-Hans")
	var langs []string
	must(t, p.Eval(`navigator.languages`, &langs))
	t.Logf("navigator.languages = %v", langs)
	if _, err := poll(p, `document.getElementById("code").hidden ? "" : "y"`, 90*time.Second); err != nil {
		t.Fatalf("the page never connected: %v\n%s", err, diagnose())
	}
	waitVisible(t, p, "accept", 30*time.Second, diagnose)
	var page struct {
		Lang, Title, Tagline, Status, Code, OfferTitle, Total, Accept, Decline, Download, DownloadLabel string
	}
	must(t, p.Eval(`(() => {
		const $ = (id) => document.getElementById(id);
		const one = document.querySelector("#files button.get");
		const a = [...document.querySelectorAll("#files li")].find((li) => li.textContent.includes("a.jpg"));
		return { lang: document.documentElement.lang, title: document.title, tagline: document.querySelector(".sub").textContent,
			status: $("status").textContent, code: $("code").textContent, offerTitle: $("offer-title").textContent,
			total: $("total").textContent, accept: $("accept").textContent, decline: $("decline").textContent,
			download: one.textContent, downloadLabel: a.querySelector("button.get").getAttribute("aria-label") };
	})()`, &page))
	t.Logf("the page in Chinese: %+v", page)
	for _, c := range []struct{ what, got, want string }{
		{"<html lang>", page.Lang, "zh-Hans"},
		{"the title", page.Title, zh.text(t, "receive.title", "")},
		{"the tagline", page.Tagline, zh.text(t, "receive.tagline", "")},
		{"the status", page.Status, zh.text(t, "receive.ask", "")},
		{"the offer's heading", page.OfferTitle, zh.text(t, "receive.offerTitle", "")},
		{"the accept button", page.Accept, zh.text(t, "receive.accept", "")},
		{"the decline button", page.Decline, zh.text(t, "receive.decline", "")},
		{"a file's button", page.Download, zh.text(t, "receive.download", "")},
		{"a file button's label", page.DownloadLabel, zh.fill(t, "receive.downloadOnly", map[string]string{"path": "trip/photos/a.jpg"})},
	} {
		if c.got != c.want {
			t.Errorf("%s is %q, want %q", c.what, c.got, c.want)
		}
	}
	if re := zh.pattern(t, "page.files", "other", map[string]string{"count": "5"}); !re.MatchString(page.Total) {
		t.Errorf("the offer says %q, want %v", page.Total, re)
	}
	if re := zh.pattern(t, "receive.code", "", nil); !re.MatchString(page.Code) {
		t.Errorf("the code line says %q, want %v", page.Code, re)
	}
	shot("page-zh.png")
	click(t, p, "#accept")
	done := zh.pattern(t, "receive.saveBelow", "other", map[string]string{"count": "5"})
	if _, err := poll(p, fmt.Sprintf(`(() => {
		const s = document.getElementById("status");
		if (s.classList.contains("error")) return "failed";
		return new RegExp(%q).test(s.textContent) ? "done" : "";
	})()`, done.String()), time.Minute); err != nil {
		t.Fatalf("the page never said %v: %v\n%s", done, err, diagnose())
	}
	var detail, save string
	must(t, p.Eval(`document.getElementById("detail").textContent`, &detail))
	must(t, p.Eval(`document.querySelector("a.save").textContent`, &save))
	if re := zh.pattern(t, "page.took", "", nil); !re.MatchString(detail) || !strings.ContainsAny(detail, "秒分") {
		t.Errorf("the detail says %q, want %v in minutes (分钟) or seconds (秒)", detail, re)
	}
	if want := zh.text(t, "receive.save", ""); save != want {
		t.Errorf("a file's save button says %q, want %q", save, want)
	}
	click(t, p, "#save-all")
	landed()
}
