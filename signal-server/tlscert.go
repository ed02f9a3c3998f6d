package main

// Which TLS handshakes get a certificate, and where it comes from:
// certificate files, re-read when they change, or ACME (autocert). A
// handshake that gets none is refused, logged at debug level (scanners
// cause plenty) and counted in epicshare_tls_refused_total{reason}.

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"
)

// Reasons of epicshare_tls_refused_total.
const (
	reasonNoSNI       = "no-sni"           // no server name, and no IP the certificate covers
	reasonUnknownName = "unknown-name"     // a name the certificate or --acme-domain does not cover
	reasonACMEFailed  = "acme-failed"      // ACME gave no certificate
	reasonHandshake   = "handshake-failed" // any other failed handshake
)

const (
	// certCheckEvery bounds how often a handshake looks at the
	// certificate files' modification times.
	certCheckEvery = 2 * time.Second
	// acmeWarnEvery bounds the warnings about one name that ACME gives
	// no certificate for: a handshake flood must not flood the log.
	acmeWarnEvery = time.Minute
)

func newRefusedCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "epicshare_tls_refused_total",
		Help: "TLS handshakes that failed, by reason: no-sni, unknown-name, acme-failed, handshake-failed (any other).",
	}, []string{"reason"})
	for _, r := range []string{reasonNoSNI, reasonUnknownName, reasonACMEFailed, reasonHandshake} {
		c.WithLabelValues(r) // show zeros rather than nothing
	}
	return c
}

// refusedText starts the text of every refusal, which net/http logs as
// a handshake error: countHandshakeErrors skips those.
const refusedText = "no certificate for this handshake"

// refusal is the error GetCertificate returns for a refused handshake.
type refusal struct {
	reason string
	err    error // why ACME failed, if it did
}

func (r *refusal) Error() string {
	if r.err != nil {
		return fmt.Sprintf("%s (%s): %v", refusedText, r.reason, r.err)
	}
	return fmt.Sprintf("%s (%s)", refusedText, r.reason)
}

func (r *refusal) Unwrap() error { return r.err }

// refusals counts and logs refused handshakes.
type refusals struct {
	log   *slog.Logger
	count *prometheus.CounterVec
}

func (r refusals) refuse(reason string, hello *tls.ClientHelloInfo) error {
	r.count.WithLabelValues(reason).Inc()
	r.log.Debug("refused TLS handshake", "reason", reason, "sni", hello.ServerName, "remote", remoteAddr(hello))
	return &refusal{reason: reason}
}

func remoteAddr(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil {
		return ""
	}
	return hello.Conn.RemoteAddr().String()
}

// fileSource serves the certificate of --tls-cert and --tls-key. A
// handshake at least certCheckEvery after the last look stats both files
// and, if either changed, loads them again: a renewed certificate needs
// no restart. A pair that fails to load leaves the old certificate in
// place, and is not tried again until the files change once more.
type fileSource struct {
	certFile, keyFile string
	refusals

	mu      sync.Mutex
	cert    *tls.Certificate
	loaded  fileStamp // of the files cert came from
	failed  fileStamp // of the files that last failed to load
	checked time.Time
}

// fileStamp tells whether the files changed since the last look.
type fileStamp struct{ certMod, certSize, keyMod, keySize int64 }

func stampFiles(certFile, keyFile string) fileStamp {
	var s fileStamp
	if fi, err := os.Stat(certFile); err == nil {
		s.certMod, s.certSize = fi.ModTime().UnixNano(), fi.Size()
	}
	if fi, err := os.Stat(keyFile); err == nil {
		s.keyMod, s.keySize = fi.ModTime().UnixNano(), fi.Size()
	}
	return s
}

func newFileSource(certFile, keyFile string, r refusals) (*fileSource, error) {
	stamp := stampFiles(certFile, keyFile)
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.log.Info("serving certificate", certAttrs(cert)...)
	return &fileSource{certFile: certFile, keyFile: keyFile, refusals: r, cert: cert, loaded: stamp, checked: time.Now()}, nil
}

// loadPair reads a certificate and its key; errors name the files.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s with key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil // X509KeyPair has parsed the Leaf
}

// certAttrs describe a certificate for the log: public facts only.
func certAttrs(c *tls.Certificate) []any {
	return []any{"names", c.Leaf.DNSNames, "ips", c.Leaf.IPAddresses, "serial", c.Leaf.SerialNumber.Text(16), "expires", c.Leaf.NotAfter}
}

func (s *fileSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert := s.current()
	if hello.ServerName == "" {
		// Browsers send no name for an IP literal: serve a certificate
		// that names the address connected to.
		if coversLocalIP(cert, hello.Conn) {
			return cert, nil
		}
		return nil, s.refuse(reasonNoSNI, hello)
	}
	if cert.Leaf.VerifyHostname(hello.ServerName) != nil {
		return nil, s.refuse(reasonUnknownName, hello)
	}
	return cert, nil
}

func coversLocalIP(cert *tls.Certificate, conn net.Conn) bool {
	if conn == nil {
		return false
	}
	addr, ok := conn.LocalAddr().(*net.TCPAddr)
	if !ok {
		return false
	}
	for _, ip := range cert.Leaf.IPAddresses {
		if ip.Equal(addr.IP) {
			return true
		}
	}
	return false
}

// current returns the certificate, re-reading the files if it is time
// to look and they changed.
func (s *fileSource) current() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.checked) < certCheckEvery {
		return s.cert
	}
	s.checked = time.Now()
	stamp := stampFiles(s.certFile, s.keyFile)
	if stamp == s.loaded || stamp == s.failed {
		return s.cert
	}
	cert, err := loadPair(s.certFile, s.keyFile)
	if err != nil {
		s.failed = stamp
		s.log.Warn("could not reload the certificate; keeping the old one", "err", err)
		return s.cert
	}
	s.cert, s.loaded, s.failed = cert, stamp, fileStamp{}
	s.log.Info("reloaded the certificate", certAttrs(cert)...)
	return cert
}

// acmeSource gets certificates for --acme-domain from ACME. It refuses
// other names itself, so that ACME is never asked for them.
type acmeSource struct {
	manager *autocert.Manager
	names   map[string]bool
	refusals

	mu     sync.Mutex
	bursts map[string]acmeBurst // by name
}

// acmeBurst is when a failure for one name was last logged, and how
// many were not since.
type acmeBurst struct {
	logged     time.Time
	suppressed int
}

func newACMESource(f tlsFlags, r refusals) (*acmeSource, error) {
	dir := f.stateDir
	if dir == "" {
		var err error
		if dir, err = defaultStateDir(); err != nil {
			return nil, err
		}
	}
	cache := filepath.Join(dir, "acme")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	a := &acmeSource{
		manager: &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(cache),
			HostPolicy: autocert.HostWhitelist(f.acmeDomains...),
			Email:      f.acmeEmail,
			Client:     &acme.Client{DirectoryURL: f.acmeDirectory, UserAgent: "epicshare-signal"},
		},
		names:    make(map[string]bool),
		refusals: r,
		bursts:   make(map[string]acmeBurst),
	}
	for _, d := range f.acmeDomains {
		a.names[d] = true
	}
	r.log.Info("certificates from ACME", "domains", f.acmeDomains, "directory", f.acmeDirectory, "cache", cache)
	return a, nil
}

// defaultStateDir is where --state-dir points by default.
func defaultStateDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/epicshare-signal", nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "epicshare-signal"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --state-dir given and %w", err)
	}
	return filepath.Join(home, ".local", "state", "epicshare-signal"), nil
}

func (a *acmeSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		return nil, a.refuse(reasonNoSNI, hello)
	}
	// The same normalisation as autocert's, so both agree on a name.
	name, err := idna.Lookup.ToASCII(hello.ServerName)
	if err != nil || !a.names[name] {
		return nil, a.refuse(reasonUnknownName, hello)
	}
	cert, err := a.manager.GetCertificate(hello)
	if err != nil {
		a.count.WithLabelValues(reasonACMEFailed).Inc()
		if suppressed, ok := a.warnDue(name); ok {
			attrs := []any{"err", err}
			if suppressed > 0 {
				attrs = append(attrs, "suppressed", suppressed) // since the last warning
			}
			a.log.Warn(fmt.Sprintf("could not get a certificate for %s from ACME", name), attrs...)
		}
		return nil, &refusal{reason: reasonACMEFailed, err: err}
	}
	return cert, nil
}

// warnDue reports whether a failure for name should be logged, and how
// many were not since the last that was.
func (a *acmeSource) warnDue(name string) (suppressed int, due bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.bursts[name]
	now := time.Now()
	if !b.logged.IsZero() && now.Sub(b.logged) < acmeWarnEvery {
		b.suppressed++
		a.bursts[name] = b
		return 0, false
	}
	a.bursts[name] = acmeBurst{logged: now}
	return b.suppressed, true
}
