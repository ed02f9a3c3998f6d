package assets

import (
	"io/fs"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// The page and its service worker are loaded separately, and a browser
// may keep an old worker; they agree on the version of their messages,
// which the page checks at start (download.js) before it streams.
func TestPageAndWorkerSpeakOneVersion(t *testing.T) {
	version := func(file, pattern string) string {
		t.Helper()
		b, err := fs.ReadFile(Web, file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(pattern).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s has no %s", file, pattern)
		}
		return string(m[1])
	}
	page := version("download.js", `(?m)^export const WORKER_VERSION = (\d+);$`)
	worker := version("sw.js", `(?m)^const VERSION = (\d+);$`)
	if page != worker {
		t.Errorf("download.js speaks version %s to the worker, sw.js version %s", page, worker)
	}
}

// Every module a page script imports is embedded, and exports every name
// imported from it: a browser refuses the whole page otherwise.
func TestPageImportsAreEmbedded(t *testing.T) {
	imp := regexp.MustCompile(`(?ms)^import (?:\{([^}]*)\}|\* as \w+) from "\./([a-z0-9]+\.js)";$`)
	files, err := fs.Glob(Web, "*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		b, _ := fs.ReadFile(Web, f)
		for _, m := range imp.FindAllSubmatch(b, -1) {
			from := string(m[2])
			src, err := fs.ReadFile(Web, from)
			if err != nil {
				t.Errorf("%s imports %s, which is not embedded", f, from)
				continue
			}
			for _, name := range strings.Split(string(m[1]), ",") {
				name = strings.TrimSpace(strings.Split(strings.TrimSpace(name), " as ")[0])
				if name == "" {
					continue
				}
				export := regexp.MustCompile(`(?m)^export (?:const|let|function|async function|class) ` + regexp.QuoteMeta(name) + `\b`)
				if !export.Match(src) {
					t.Errorf("%s imports %s from %s, which does not export it", f, name, from)
				}
			}
		}
	}
}

// The pages compute the handshake (keys, tags, verification codes) and
// build frames with their own JavaScript. Node runs that code, no browser
// needed, against the golden vectors the Go side pins in
// internal/wire/testdata (TestHandshakeVectors).
func TestPageMatchesHandshakeVectors(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the pages' code: apt-get install nodejs (make deps does)")
	}
	out, err := exec.Command(node, "testdata/vectors.mjs", "../internal/wire/testdata/handshake-vectors.json").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
}
