// Command signal-server runs the EpicShare broker: peers connect over a
// WebSocket, get an ID (random, or derived from a token they present) and
// exchange signaling messages by ID; the files themselves never pass
// through it. See package rendezvous. It serves plain http, or https and
// wss itself (tls.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/epicshare/epicshare/internal/relay"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/version"
)

const usage = `Usage: signal-server [flags]
       signal-server --version

Runs the EpicShare signaling server. Peers connect to /ws, share links are
served at /s/ID, /healthz answers "ok" and /metrics has Prometheus figures.
SIGINT or SIGTERM shut it down gracefully. It keeps no state but the peers
connected right now, and never sees a link's secret or a file. A restart
does not break share links: a sharing app reconnects with its private
token and gets the same ID back.

It speaks plain http unless given a certificate: --tls-cert and --tls-key
(re-read when the files change, so a renewal needs no restart), or
--acme-domain (certificates from Let's Encrypt, kept in --state-dir). Then
--addr (say :443) serves https and wss, and plain http on --http-addr
redirects every request to https, answers /healthz and, with ACME, the
http-01 challenge.
Handshakes for a name the certificate does not cover, or without a name
(unless the certificate names the IP address connected to), are refused.

It also serves STUN, and TURN over UDP and TCP, on --turn-addr (needs
--turn-public-ip when listening on all addresses; off without it), and
hands every peer the servers' URLs with TURN credentials of its own in
its welcome, renewed before they expire. The relay refuses to send to
loopback, private, link-local, multicast and its own addresses unless
--turn-allow opens a range. The credentials' secret is kept in
--state-dir.

Several servers can share the load as nodes of one service: give each
--nats with the same NATS cluster, and put a load balancer that passes
WebSockets in front. Peers on any node reach peers on any other; a node
cut off from NATS answers /healthz with 503. Behind a load balancer or
proxy, name it with --trusted-proxies so that each client is counted
under its own address, from X-Forwarded-For, not the proxy's.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errVersion):
		fmt.Println(versionLine())
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "signal-server: %v\n", err)
		os.Exit(1)
	}
}

// errUsage is returned for flag misuse, once the reason went to stderr.
var errUsage = errors.New("usage")

// errVersion is returned for --version: main prints versionLine on
// stdout, where scripts read it, and exits 0.
var errVersion = errors.New("version asked for")

// versionLine is what --version prints.
func versionLine() string { return "signal-server " + version.String() }

// run serves until ctx ends. Logs and usage go to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	s, err := configure(args, stderr)
	if err != nil {
		return err
	}
	return s.serve(ctx)
}

// server is what the flags asked for.
type server struct {
	log      *slog.Logger
	addr     string
	broker   rendezvous.Config
	tls      *tlsServer    // nil: plain http
	relay    *relay.Config // nil: no STUN or TURN
	nats     natsFlags     // urls "": peers in this process only
	stateDir string
}

// configure parses the flags and builds what they name, reading the
// certificate files, without listening yet.
func configure(args []string, stderr io.Writer) (*server, error) {
	fs := flag.NewFlagSet("signal-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(stderr, fs) }
	s := &server{}
	fs.StringVar(&s.addr, "addr", ":8080", "listen on this `host:port` (port 0 picks a free one)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	brokerFlags(fs, &s.broker)
	var tf tlsFlags
	tf.register(fs)
	var rf relayFlags
	rf.register(fs)
	s.nats.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if *showVersion {
		return nil, errVersion
	}
	if fs.NArg() > 0 {
		return nil, usageError(stderr, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return nil, usageError(stderr, fmt.Errorf("bad --log-level %q", *level))
	}
	if err := tf.check(fs); err != nil {
		return nil, usageError(stderr, err)
	}
	if err := s.nats.check(fs); err != nil {
		return nil, usageError(stderr, err)
	}
	s.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	s.broker.Logger = s.log
	s.stateDir = tf.stateDir
	var err error
	if s.relay, err = rf.config(s.log.With("part", "relay")); err != nil {
		return nil, usageError(stderr, err)
	}
	if tf.on() {
		t, err := newTLSServer(tf, s.log)
		if err != nil {
			return nil, err
		}
		s.tls = t
		s.broker.Collectors = append(s.broker.Collectors, t.refused)
		s.broker.Logger = slog.New(t.countHandshakeErrors(s.log.Handler()))
	}
	return s, nil
}

// brokerFlags registers the flags of the broker's limits.
func brokerFlags(fs *flag.FlagSet, cfg *rendezvous.Config) {
	fs.IntVar(&cfg.MaxPeersPerIP, "max-peers-per-ip", rendezvous.DefaultMaxPeersPerIP, "at most `n` sockets open from one IP address")
	fs.Float64Var(&cfg.MessageRate, "rate", rendezvous.DefaultMessageRate, "`n` messages per second one socket may send, sustained")
	fs.IntVar(&cfg.MessageBurst, "burst", rendezvous.DefaultMessageBurst, "`n` messages one socket may send in a burst")
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", rendezvous.DefaultMaxMessageBytes, "largest message, in `bytes`; a larger one closes the socket")
	fs.IntVar(&cfg.SendQueue, "send-queue", rendezvous.DefaultSendQueue, "`n` messages queued for one peer; a peer that lets it fill is dropped")
	fs.Func("allow-origin", "also accept sockets from web pages of this `origin`, e.g. https://example.org (repeatable)", func(o string) error {
		cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		return nil
	})
	fs.Func("trusted-proxies", "the load balancers or reverse proxies in front, as comma-separated `addresses or CIDRs`: for their sockets the client's address (which --max-peers-per-ip counts) comes from X-Forwarded-For (repeatable)", func(v string) error {
		ps, err := parsePrefixes(v)
		cfg.TrustedProxies = append(cfg.TrustedProxies, ps...)
		return err
	})
}

// parsePrefixes parses a comma-separated list of CIDRs and addresses,
// an address standing for itself alone.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR such as 10.0.0.0/8", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// serve listens and serves until ctx ends.
func (s *server) serve(ctx context.Context) error {
	if s.relay != nil {
		r, err := s.startRelay()
		if err != nil {
			return err
		}
		defer r.Close()
		s.broker.ICE = r
		s.broker.Collectors = append(s.broker.Collectors, r.Collectors()...)
	}
	if s.nats.urls != "" {
		c, err := s.nats.connect(s.log.With("part", "nats"))
		if err != nil {
			return err
		}
		defer c.close()
		c.use(&s.broker)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	b := rendezvous.New(s.broker)
	if s.tls == nil {
		s.log.Info("listening", "addr", ln.Addr().String(), "scheme", "http")
		err = b.Serve(ctx, ln)
	} else {
		s.log.Info("listening", "addr", ln.Addr().String(), "scheme", "https")
		err = s.tls.serve(ctx, ln, b.Serve)
	}
	s.log.Info("stopped")
	return err
}

// startRelay starts the STUN and TURN server, with the secret of its
// credentials from the state directory (made there on the first run).
func (s *server) startRelay() (*relay.Server, error) {
	dir := s.stateDir
	if dir == "" {
		var err error
		if dir, err = defaultStateDir(); err != nil {
			return nil, err
		}
	}
	secret, err := relay.LoadOrCreateSecret(dir)
	if err != nil {
		return nil, fmt.Errorf("TURN secret: %w", err)
	}
	cfg := *s.relay
	cfg.Secret = secret
	r, err := relay.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("start STUN and TURN: %w", err)
	}
	s.log.Info("relay listening", "addr", r.Addr().String(), "public_ip", cfg.PublicIP, "ports", fmt.Sprintf("%d-%d", cfg.MinPort, cfg.MaxPort))
	return r, nil
}

// usageError reports flag misuse on w and returns errUsage.
func usageError(w io.Writer, err error) error {
	fmt.Fprintf(w, "signal-server: %v\n", err)
	return errUsage
}

// printUsage lists the flags one per line, unlike flag.PrintDefaults.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "false" {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s %s\t%s\n", f.Name, arg, text)
	})
	tw.Flush()
}
