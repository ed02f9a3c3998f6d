package main

// TLS in the binary: the flags, the tls.Config around the broker's
// listener and the plain-http server that redirects to it. Where the
// certificates come from, and which handshakes get one, is tlscert.go.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"
)

// tlsFlags are the flags that turn https on.
type tlsFlags struct {
	certFile, keyFile string
	acmeDomains       []string
	acmeEmail         string
	acmeDirectory     string
	stateDir          string
	httpAddr          string
}

func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.certFile, "tls-cert", "", fmt.Sprintf("serve https with the PEM certificate chain in this `file`, re-read when it changes (looked at on a handshake, at most every %v); needs --tls-key", certCheckEvery))
	fs.StringVar(&f.keyFile, "tls-key", "", "the PEM private key of --tls-cert, in this `file`, re-read with it")
	fs.Func("acme-domain", "serve https with a certificate for this domain `name` from ACME, accepting the CA's terms of service (repeatable)", func(d string) error {
		f.acmeDomains = append(f.acmeDomains, d)
		return nil
	})
	fs.StringVar(&f.acmeEmail, "acme-email", "", "contact `address` of the ACME account, for expiry notices (optional)")
	fs.StringVar(&f.acmeDirectory, "acme-directory", acme.LetsEncryptURL, "ACME directory `URL`; Let's Encrypt's staging one is https://acme-staging-v02.api.letsencrypt.org/directory")
	fs.StringVar(&f.stateDir, "state-dir", "", "keep the TURN secret and the ACME account and certificates under this `dir`, created 0700 (default /var/lib/epicshare-signal as root, else $XDG_STATE_HOME/epicshare-signal or ~/.local/state/epicshare-signal)")
	fs.StringVar(&f.httpAddr, "http-addr", ":80", "with https on, plain http on this `host:port` redirects to https, answers /healthz and ACME's http-01 challenge; empty for none")
}

// on reports whether https was asked for.
func (f *tlsFlags) on() bool {
	return f.certFile != "" || f.keyFile != "" || len(f.acmeDomains) > 0
}

// check rejects flags that contradict each other or would be ignored,
// and puts the ACME names in the form handshakes are compared in.
func (f *tlsFlags) check(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	useACME := len(f.acmeDomains) > 0
	switch {
	case f.certFile != "" && f.keyFile == "":
		return errors.New("--tls-cert needs --tls-key")
	case f.keyFile != "" && f.certFile == "":
		return errors.New("--tls-key needs --tls-cert")
	case f.certFile != "" && useACME:
		return errors.New("--tls-cert and --acme-domain exclude each other: give one source of certificates")
	case set["http-addr"] && !f.on():
		return errors.New("--http-addr needs --tls-cert or --acme-domain")
	case !useACME && (set["acme-email"] || set["acme-directory"]):
		return errors.New("--acme-email and --acme-directory need --acme-domain")
	case set["acme-email"] && !strings.Contains(f.acmeEmail, "@"):
		return fmt.Errorf("bad --acme-email %q: want an email address", f.acmeEmail)
	}
	if u, err := url.Parse(f.acmeDirectory); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("bad --acme-directory %q: want an http or https URL", f.acmeDirectory)
	}
	for i, d := range f.acmeDomains {
		name, err := acmeName(d)
		if err != nil {
			return fmt.Errorf("bad --acme-domain %q: %v", d, err)
		}
		f.acmeDomains[i] = name
	}
	return nil
}

// acmeName is d as autocert compares it with a handshake's server name.
func acmeName(d string) (string, error) {
	name, err := idna.Lookup.ToASCII(strings.TrimSuffix(d, "."))
	switch {
	case err != nil:
		return "", err
	case net.ParseIP(name) != nil:
		return "", errors.New("an IP address, not a domain name; use --tls-cert for it")
	case !strings.Contains(name, "."):
		return "", errors.New("want a fully qualified domain name such as share.example.org")
	}
	return name, nil
}

// tlsServer is the https side of the binary.
type tlsServer struct {
	log      *slog.Logger
	config   *tls.Config
	httpAddr string
	acme     *autocert.Manager // nil with certificate files
	// refused counts the handshakes that got no certificate, by reason.
	refused *prometheus.CounterVec
}

func newTLSServer(f tlsFlags, log *slog.Logger) (*tlsServer, error) {
	t := &tlsServer{
		log:      log,
		httpAddr: f.httpAddr,
		refused:  newRefusedCounter(),
		config: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Not h2: the WebSocket upgrade needs HTTP/1.1.
			NextProtos: []string{"http/1.1"},
		},
	}
	r := refusals{log: log, count: t.refused}
	if len(f.acmeDomains) == 0 {
		src, err := newFileSource(f.certFile, f.keyFile, r)
		if err != nil {
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		t.config.GetCertificate = src.getCertificate
		return t, nil
	}
	src, err := newACMESource(f, r)
	if err != nil {
		return nil, err
	}
	t.acme = src.manager
	t.config.GetCertificate = src.getCertificate
	t.config.NextProtos = append(t.config.NextProtos, acme.ALPNProto) // the tls-alpn-01 challenge
	return t, nil
}

// serve runs serveHTTPS on ln wrapped in TLS, and the plain-http server
// beside it, until ctx ends or either fails.
func (t *tlsServer) serve(ctx context.Context, ln net.Listener, serveHTTPS func(context.Context, net.Listener) error) error {
	tln := tls.NewListener(ln, t.config)
	if t.httpAddr == "" {
		return serveHTTPS(ctx, tln)
	}
	hln, err := net.Listen("tcp", t.httpAddr)
	if err != nil {
		ln.Close()
		return err
	}
	t.log.Info("redirecting http", "addr", hln.Addr().String())
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	srv := &http.Server{
		Handler:           t.httpHandler(port),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(t.log.Handler(), slog.LevelDebug),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	httpDone := make(chan error, 1)
	go func() {
		err := srv.Serve(hln)
		cancel() // the broker stops with it
		httpDone <- err
	}()
	err = serveHTTPS(ctx, tln)
	sctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	srv.Shutdown(sctx)
	if herr := <-httpDone; !errors.Is(herr, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", herr)
	}
	return err
}

// httpHandler answers plain http: /healthz, so that a load balancer's
// check needs no certificate, ACME's http-01 challenge, and a redirect
// to https for everything else.
func (t *tlsServer) httpHandler(httpsPort string) http.Handler {
	next := redirectToHTTPS(httpsPort)
	if t.acme != nil {
		next = t.acme.HTTPHandler(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("ok\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// redirectToHTTPS sends every request to the same host, path and query
// over https on httpsPort, with 308 so that the method and body are kept.
func redirectToHTTPS(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		if host == "" {
			http.Error(w, "no Host: use https", http.StatusBadRequest)
			return
		}
		if httpsPort != "443" {
			host = net.JoinHostPort(host, httpsPort)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		u := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		if u.Path == "" {
			u.Path = "/"
		}
		http.Redirect(w, r, u.String(), http.StatusPermanentRedirect)
	})
}

// countHandshakeErrors wraps the broker's log handler to count the
// handshakes that failed for other reasons than a refusal (a client that
// rejects the certificate, a scanner that hangs up): net/http reports
// them only in the server's ErrorLog, which rendezvous writes at debug
// level. It relies on net/http's wording; should that change, the count
// stays at zero and nothing else is lost.
func (t *tlsServer) countHandshakeErrors(h slog.Handler) slog.Handler {
	return handshakeErrors{Handler: h, count: t.refused.WithLabelValues(reasonHandshake)}
}

type handshakeErrors struct {
	slog.Handler
	count prometheus.Counter
}

func (h handshakeErrors) Enabled(ctx context.Context, l slog.Level) bool {
	// ErrorLog asks before it writes: see debug records, to count them.
	return l == slog.LevelDebug || h.Handler.Enabled(ctx, l)
}

func (h handshakeErrors) Handle(ctx context.Context, r slog.Record) error {
	// A refusal says so in its error, and is counted already.
	if strings.HasPrefix(r.Message, "http: TLS handshake error") && !strings.Contains(r.Message, refusedText) {
		h.count.Inc()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h handshakeErrors) WithAttrs(as []slog.Attr) slog.Handler {
	return handshakeErrors{Handler: h.Handler.WithAttrs(as), count: h.count}
}

func (h handshakeErrors) WithGroup(name string) slog.Handler {
	return handshakeErrors{Handler: h.Handler.WithGroup(name), count: h.count}
}
