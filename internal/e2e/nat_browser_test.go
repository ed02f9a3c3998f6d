package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Set by TestAcrossNATs for the processes it starts inside the lab.
const (
	fetchEnv   = "EPICSHARE_E2E_FETCH" // fetch this URL, print it, exit
	natLinkEnv = "EPICSHARE_NAT_LINK"  // the link TestBrowserBehindNAT opens
	natSPKIEnv = "EPICSHARE_NAT_SPKI"  // the keys Chromium is to trust
	natSrcEnv  = "EPICSHARE_NAT_SRC"   // the shared folder, to compare with
)

// fetch prints the body at u (trusting SSL_CERT_FILE) and returns the
// process's exit code.
func fetch(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}

// TestBrowserBehindNAT runs inside a device of TestAcrossNATs's lab:
// headless Chromium opens the link it is given and downloads the files.
func TestBrowserBehindNAT(t *testing.T) {
	link, src := os.Getenv(natLinkEnv), os.Getenv(natSrcEnv)
	if link == "" {
		t.Skip("runs inside the lab TestAcrossNATs builds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	downloads := t.TempDir()
	p := openBrowser(t, ctx, "chromium", "nat", downloads)
	diagnose := func() string {
		return fmt.Sprintf("the page says:\n%s\nits console:\n%s\nthe downloads:\n%s", text(p, "status"), p.Console(), listDir(downloads))
	}
	must(t, p.Navigate(link))
	var where struct {
		Href   string `json:"href"`
		Secure bool   `json:"secure"`
	}
	must(t, p.Eval(`({href: location.href, secure: window.isSecureContext && !!(window.crypto && crypto.subtle)})`, &where))
	want := "https://" + strings.TrimPrefix(link, "http://")
	if where.Href != want || !where.Secure {
		t.Fatalf("the page is at %s (secure context %v), want %s, secure", where.Href, where.Secure, want)
	}
	waitStatus := statusWaiter(t, p, diagnose)
	waitVisible(t, p, "accept", 90*time.Second, diagnose)
	t0 := time.Now()
	click(t, p, "#accept")
	waitStatus("every file verified", 90*time.Second)
	waitStatus("saved to your downloads", 30*time.Second) // streamed by the worker
	elapsed := time.Since(t0)
	var total int64
	for _, rel := range []string{"docs/readme.txt", "docs/sub/x.csv", "big.bin"} {
		b, err := os.ReadFile(filepath.Join(src, rel))
		must(t, err)
		total += int64(len(b))
		name := filepath.Join(downloads, strings.ReplaceAll(rel, "/", " - "))
		got, err := os.ReadFile(name)
		if err != nil || sha256.Sum256(got) != sha256.Sum256(b) {
			t.Errorf("%s not downloaded intact (%v)\n%s", rel, err, diagnose())
		}
	}
	t.Logf("behind a symmetric NAT: %.1f MB in %v (%.1f MB/s)", float64(total)/1e6, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6)
}
