package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testCA issues certificates that the tests' clients trust.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "epicshare test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a certificate with serial for names and ips, as PEM.
func (ca *testCA) leaf(t *testing.T, serial int64, names []string, ips ...net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

var localhost = net.IPv4(127, 0, 0, 1)

// writeFile writes data to path and dates it mod, so that a reload sees
// the change even where modification times are coarse.
func writeFile(t *testing.T, path string, data []byte, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// writePair writes a certificate and its key into dir and returns the
// flags that name them.
func writePair(t *testing.T, dir string, certPEM, keyPEM []byte) []string {
	t.Helper()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, cert, certPEM, time.Now())
	writeFile(t, key, keyPEM, time.Now())
	return []string{"--tls-cert", cert, "--tls-key", key}
}

// testLog collects a server's log and lets a test wait for a line.
type testLog struct {
	mu      sync.Mutex
	text    strings.Builder
	changed chan struct{} // closed on each write
}

func newTestLog() *testLog { return &testLog{changed: make(chan struct{})} }

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.text.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// count is how often re matches the log.
func (l *testLog) count(re *regexp.Regexp) int { return len(re.FindAllString(l.String(), -1)) }

// waitFor waits until re matches the log n times and returns the
// submatches of the n-th match.
func (l *testLog) waitFor(t *testing.T, re *regexp.Regexp, n int) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		ms := re.FindAllStringSubmatch(l.text.String(), -1)
		changed := l.changed
		l.mu.Unlock()
		if len(ms) >= n {
			return ms[n-1]
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the log never matched %s %d times:\n%s", re, n, l)
		}
	}
}

var (
	listeningRE    = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	redirectingRE  = regexp.MustCompile(`msg="redirecting http" addr=(127\.0\.0\.1:\d+)`)
	handshakeErrRE = regexp.MustCompile(`http: TLS handshake error`)
)

// tlsTest is a server run in-process as run does, in its two halves so
// that a test can read the refusal counter: with ACME down, no handshake
// reaches /metrics.
type tlsTest struct {
	s              *server
	log            *testLog
	addr, httpAddr string
}

// startTLS serves with args plus a loopback --addr and --http-addr until
// the test ends.
func startTLS(t *testing.T, args ...string) *tlsTest {
	t.Helper()
	log := newTestLog()
	args = append([]string{"--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "debug"}, args...)
	s, err := configure(args, log)
	if err != nil {
		t.Fatalf("configure(%q): %v\n%s", args, err, log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not return after its context ended")
		}
	})
	ts := &tlsTest{s: s, log: log}
	ts.addr = log.waitFor(t, listeningRE, 1)[1]
	ts.httpAddr = log.waitFor(t, redirectingRE, 1)[1]
	return ts
}

// refused reads epicshare_tls_refused_total by reason.
func (ts *tlsTest) refused(t *testing.T) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 8)
	ts.s.tls.refused.Collect(ch)
	close(ch)
	counts := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		if v := d.GetCounter().GetValue(); v != 0 {
			counts[d.GetLabel()[0].GetValue()] = v
		}
	}
	return counts
}

// handshake connects to addr and returns the certificate it was shown.
func handshake(addr string, cfg *tls.Config) (*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}
