package main

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

// trusting is a client config that trusts ca and asks for serverName.
func trusting(ca *testCA, serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.pool, ServerName: serverName}
}

func TestTLSServesBroker(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM := ca.leaf(t, 1, []string{"share.test"}, localhost)
	ts := startTLS(t, writePair(t, t.TempDir(), certPEM, keyPEM)...)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: trusting(ca, "share.test")}}
	defer client.CloseIdleConnections()

	for _, tc := range []struct{ path, want string }{
		{"/healthz", "ok\n"},
		{"/metrics", `epicshare_tls_refused_total{reason="no-sni"} 0`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := client.Get("https://" + ts.addr + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) || resp.Proto != "HTTP/1.1" {
				t.Fatalf("%s %d: %q lacks %q", resp.Proto, resp.StatusCode, body, tc.want)
			}
		})
	}
	t.Run("wss", func(t *testing.T) {
		d := websocket.Dialer{TLSClientConfig: trusting(ca, "share.test"), Subprotocols: []string{wire.Subprotocol}}
		ws, _, err := d.Dial("wss://"+ts.addr+wire.SocketPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		var env wire.Envelope
		if err := ws.ReadJSON(&env); err != nil || env.Type != wire.TypeWelcome || env.ID == "" {
			t.Fatalf("first message %+v, %v; want a welcome", env, err)
		}
	})
}

func TestHTTPRedirects(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM := ca.leaf(t, 1, []string{"share.test"}, localhost)
	ts := startTLS(t, writePair(t, t.TempDir(), certPEM, keyPEM)...)
	_, port, _ := net.SplitHostPort(ts.addr)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()

	for _, tc := range []struct {
		name, method, target, host string
		status                     int
		want                       string // Location, or the body of a 200
	}{
		{"path and query", "GET", "/s/abc?x=1&y=%2F", "", 308, "https://127.0.0.1:" + port + "/s/abc?x=1&y=%2F"},
		{"escaped path", "GET", "/s/a%2Fb", "", 308, "https://127.0.0.1:" + port + "/s/a%2Fb"},
		{"POST keeps its method", "POST", "/ws", "", 308, "https://127.0.0.1:" + port + "/ws"},
		{"name and http port", "GET", "/", "share.test:8080", 308, "https://share.test:" + port + "/"},
		{"name only", "GET", "/r/x", "share.test", 308, "https://share.test:" + port + "/r/x"},
		{"IPv6", "GET", "/x", "[::1]:80", 308, "https://[::1]:" + port + "/x"},
		{"health check", "GET", "/healthz", "", 200, "ok\n"},
		{"health check, HEAD", "HEAD", "/healthz", "", 200, ""},
		{"POST /healthz is no check", "POST", "/healthz", "", 308, "https://127.0.0.1:" + port + "/healthz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+ts.httpAddr+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := resp.Header.Get("Location")
			if tc.status == 200 {
				got = string(body)
			}
			if resp.StatusCode != tc.status || got != tc.want {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, got, tc.status, tc.want)
			}
		})
	}
}

func TestRedirectToPort443(t *testing.T) {
	for host, want := range map[string]string{
		"share.test:80": "https://share.test/a?b=c",
		"share.test":    "https://share.test/a?b=c",
		"[::1]:80":      "https://[::1]/a?b=c",
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/a?b=c", nil)
		r.Host = host
		redirectToHTTPS("443").ServeHTTP(w, r)
		if got := w.Header().Get("Location"); w.Code != 308 || got != want {
			t.Errorf("Host %s: %d %q, want 308 %q", host, w.Code, got, want)
		}
	}
}

func TestTLSServerNames(t *testing.T) {
	ca := newTestCA(t)
	withIP, withIPKey := ca.leaf(t, 1, []string{"share.test"}, localhost)
	noIP, noIPKey := ca.leaf(t, 2, []string{"share.test"})
	for _, tc := range []struct {
		name         string
		cert, key    []byte
		client       *tls.Config
		wantRefusal  string // "": served
		wantLogMatch string
	}{
		{"covered name", withIP, withIPKey, trusting(ca, "share.test"), "", ""},
		{"wrong name", withIP, withIPKey, trusting(ca, "evil.test"), reasonUnknownName, `reason=unknown-name sni=evil.test`},
		{"no name, IP covered", withIP, withIPKey, trusting(ca, "127.0.0.1"), "", ""},
		{"no name, IP not covered", noIP, noIPKey, trusting(ca, "127.0.0.1"), reasonNoSNI, `reason=no-sni sni=""`},
		{"client rejects the certificate", withIP, withIPKey, &tls.Config{ServerName: "share.test"}, reasonHandshake, `bad certificate|unknown certificate authority`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTLS(t, writePair(t, t.TempDir(), tc.cert, tc.key)...)
			_, err := handshake(ts.addr, tc.client)
			if (err == nil) != (tc.wantRefusal == "") {
				t.Fatalf("handshake: %v, want refused %q", err, tc.wantRefusal)
			}
			want := map[string]float64{}
			if tc.wantRefusal != "" {
				ts.log.waitFor(t, handshakeErrRE, 1) // the server is done with it
				ts.log.waitFor(t, regexp.MustCompile(tc.wantLogMatch), 1)
				want[tc.wantRefusal] = 1
			}
			if got := ts.refused(t); !maps.Equal(got, want) {
				t.Errorf("refused %v, want %v", got, want)
			}
		})
	}
}

func TestCertReload(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certPEM, keyPEM := ca.leaf(t, 1, []string{"share.test"})
	ts := startTLS(t, writePair(t, dir, certPEM, keyPEM)...)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	reloaded := regexp.MustCompile(`msg="reloaded the certificate"`)
	failed := regexp.MustCompile(`msg="could not reload the certificate; keeping the old one" err=.*` + regexp.QuoteMeta(certFile))

	otherCert, _ := ca.leaf(t, 99, []string{"share.test"})
	mod := time.Now()
	serial := int64(1)
	for _, tc := range []struct {
		name      string
		cert, key func() []byte
		ok        bool
	}{
		{"renewed", nil, nil, true},
		{"not a certificate", func() []byte { return []byte("garbage") }, nil, false},
		{"key of another certificate", func() []byte { return otherCert }, nil, false},
		{"renewed again", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newCert, newKey := ca.leaf(t, serial+1, []string{"share.test"})
			if tc.cert != nil {
				newCert = tc.cert()
			}
			if tc.key != nil {
				newKey = tc.key()
			}
			mod = mod.Add(time.Minute)
			writeFile(t, certFile, newCert, mod)
			writeFile(t, keyFile, newKey, mod)
			want, re := serial, failed
			if tc.ok {
				want, re = serial+1, reloaded
			}
			n := ts.log.count(re) + 1
			timeout := time.After(10 * time.Second)
			for ts.log.count(re) < n {
				// A handshake makes the server look at the files.
				if _, err := handshake(ts.addr, trusting(ca, "share.test")); err != nil {
					t.Fatal(err)
				}
				select {
				case <-time.After(50 * time.Millisecond):
				case <-timeout:
					t.Fatalf("no log matching %s:\n%s", re, ts.log)
				}
			}
			leaf, err := handshake(ts.addr, trusting(ca, "share.test"))
			if err != nil {
				t.Fatal(err)
			}
			if got := leaf.SerialNumber.Int64(); got != want {
				t.Fatalf("serial %d, want %d", got, want)
			}
			serial = want
		})
	}
}

func TestACMEUnreachable(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	ts := startTLS(t, "--acme-domain", "share.test", "--acme-directory", "http://"+testutil.ClosedPort(t)+"/dir", "--state-dir", state)
	warned := regexp.MustCompile(`level=WARN msg="could not get a certificate for share.test from ACME" err=.*connection refused`)
	for i := 1; i <= 2; i++ {
		if _, err := handshake(ts.addr, &tls.Config{ServerName: "share.test", InsecureSkipVerify: true}); err == nil {
			t.Fatalf("handshake %d succeeded without a certificate", i)
		}
		ts.log.waitFor(t, warned, 1)
		if got := ts.refused(t); !maps.Equal(got, map[string]float64{reasonACMEFailed: float64(i)}) {
			t.Errorf("after handshake %d: refused %v", i, got)
		}
	}
	if n := ts.log.count(warned); n != 1 {
		t.Errorf("warned %d times about one burst of failures", n)
	}
	resp, err := http.Get("http://" + ts.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz over http: %d %q", resp.StatusCode, body)
	}
	for _, dir := range []string{state, filepath.Join(state, "acme")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a 0700 directory", dir, fi.Mode(), err)
		}
	}
	assertNoKeyLogged(t, ts.log.String(), filepath.Join(state, "acme"))
}

// assertNoKeyLogged fails if log holds a PEM private key, or a piece of
// the keys autocert keeps in cache.
func assertNoKeyLogged(t *testing.T, log, cache string) {
	t.Helper()
	if strings.Contains(log, "PRIVATE KEY") {
		t.Error("the log holds a private key")
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*"))
	keys := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
			keys++
			if lines := strings.Split(string(pem.EncodeToMemory(block)), "\n"); strings.Contains(log, lines[1]) {
				t.Errorf("the log holds a piece of %s", f)
			}
		}
	}
	if keys == 0 {
		t.Errorf("no key in %s to look for in the log", cache)
	}
}

func TestACMEAskedOnlyForItsNames(t *testing.T) {
	var asked atomic.Int32
	dir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.NotFound(w, r)
	}))
	defer dir.Close()
	ts := startTLS(t, "--acme-domain", "share.test", "--acme-directory", dir.URL+"/dir", "--state-dir", t.TempDir())
	for _, tc := range []struct {
		name, serverName, reason string
		asks                     bool
	}{
		{"no name", "127.0.0.1", reasonNoSNI, false}, // an IP is sent as no name
		{"wrong name", "evil.test", reasonUnknownName, false},
		{"its name, any case", "Share.Test", reasonACMEFailed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, counted := asked.Load(), ts.refused(t)[tc.reason]
			if _, err := handshake(ts.addr, &tls.Config{ServerName: tc.serverName, InsecureSkipVerify: true}); err == nil {
				t.Fatal("handshake succeeded without a certificate")
			}
			if got := asked.Load() > before; got != tc.asks {
				t.Errorf("asked ACME: %v, want %v", got, tc.asks)
			}
			if got := ts.refused(t)[tc.reason]; got != counted+1 {
				t.Errorf("refused %q: %v, want %v", tc.reason, got, counted+1)
			}
		})
	}
}

func TestTLSFlagErrors(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certPEM, keyPEM := ca.leaf(t, 1, []string{"share.test"})
	otherCert, _ := ca.leaf(t, 2, []string{"share.test"})
	files := map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "garbage.pem": []byte("garbage"), "other.pem": otherCert, "file": nil}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), b, time.Now())
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool   // flag misuse, exit 2; else a bad file, exit 1
		want  string // in the message
	}{
		{"cert without key", []string{"--tls-cert", cert}, true, "--tls-cert needs --tls-key"},
		{"key without cert", []string{"--tls-key", key}, true, "--tls-key needs --tls-cert"},
		{"files and ACME", []string{"--tls-cert", cert, "--tls-key", key, "--acme-domain", "share.test"}, true, "exclude each other"},
		{"http-addr without TLS", []string{"--http-addr", ":0"}, true, "--http-addr needs --tls-cert or --acme-domain"},
		{"ACME email without domain", []string{"--acme-email", "a@share.test"}, true, "need --acme-domain"},
		{"ACME directory without domain", []string{"--acme-directory", "https://ca.test/dir"}, true, "need --acme-domain"},
		{"wildcard domain", []string{"--acme-domain", "*.share.test"}, true, `bad --acme-domain "*.share.test"`},
		{"IP as domain", []string{"--acme-domain", "127.0.0.1"}, true, "an IP address"},
		{"single label", []string{"--acme-domain", "share"}, true, "fully qualified"},
		{"bad directory", []string{"--acme-domain", "share.test", "--acme-directory", "ftp://ca.test/"}, true, "bad --acme-directory"},
		{"bad email", []string{"--acme-domain", "share.test", "--acme-email", "nobody"}, true, "bad --acme-email"},
		{"missing cert file", []string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", key}, false, "missing.pem"},
		{"not a certificate", []string{"--tls-cert", filepath.Join(dir, "garbage.pem"), "--tls-key", key}, false, "garbage.pem"},
		{"key of another certificate", []string{"--tls-cert", filepath.Join(dir, "other.pem"), "--tls-key", key}, false, "other.pem with key " + key},
		{"certificate as key", []string{"--tls-cert", cert, "--tls-key", cert}, false, cert},
		{"state dir under a file", []string{"--acme-domain", "share.test", "--state-dir", filepath.Join(dir, "file", "state")}, false, filepath.Join(dir, "file")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"--addr", "127.0.0.1:0"}, tc.args...), &out)
			msg := out.String()
			if !tc.usage && err != nil {
				msg = err.Error()
			}
			switch {
			case err == nil:
				t.Fatal("run succeeded")
			case tc.usage != (err == errUsage):
				t.Fatalf("run: %v, usage error %v", err, tc.usage)
			case !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSpace(msg), "\n") > 0:
				t.Errorf("message %q, want one line with %q", msg, tc.want)
			}
		})
	}
}

func TestHelpListsTLSFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(--help) = %v, want flag.ErrHelp", err)
	}
	for _, line := range []string{
		`--tls-cert file +serve https .*re-read when it changes .*every 2s`,
		`--tls-key file +the PEM private key`,
		`--acme-domain name +.*\(repeatable\)`,
		`--acme-email address +`,
		`--acme-directory URL +.*staging.*\(default https://acme-v02\.api\.letsencrypt\.org/directory\)`,
		`--state-dir dir +.*0700 \(default /var/lib/epicshare-signal as root`,
		`--http-addr host:port +.*redirects to https.*\(default :80\)`,
	} {
		if re := regexp.MustCompile(fmt.Sprintf(`(?m)^  %s.*$`, line)); !re.MatchString(out.String()) {
			t.Errorf("help lacks a line matching %s", re)
		}
	}
}
