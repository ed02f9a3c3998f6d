// Command signal-server runs the EpicShare broker: peers connect over a
// WebSocket, get an ID (random, or derived from a token they present) and
// exchange signaling messages by ID; the files themselves never pass
// through it. See package rendezvous.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/epicshare/epicshare/internal/rendezvous"
)

const usage = `Usage: signal-server [flags]

Runs the EpicShare signaling server. Peers connect to /ws, share links are
served at /s/ID, /healthz answers "ok" and /metrics has Prometheus figures.
SIGINT or SIGTERM shut it down gracefully. It keeps no state but the peers
connected right now, and never sees a link's secret or a file. A restart
does not break share links: a sharing app reconnects with its private
token and gets the same ID back.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "signal-server: %v\n", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run serves until ctx ends. Logs and usage go to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("signal-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(stderr, fs) }
	addr := fs.String("addr", ":8080", "listen on this `host:port` (port 0 picks a free one)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	var cfg rendezvous.Config
	fs.IntVar(&cfg.MaxPeersPerIP, "max-peers-per-ip", rendezvous.DefaultMaxPeersPerIP, "at most `n` sockets open from one IP address")
	fs.Float64Var(&cfg.MessageRate, "rate", rendezvous.DefaultMessageRate, "`n` messages per second one socket may send, sustained")
	fs.IntVar(&cfg.MessageBurst, "burst", rendezvous.DefaultMessageBurst, "`n` messages one socket may send in a burst")
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", rendezvous.DefaultMaxMessageBytes, "largest message, in `bytes`; a larger one closes the socket")
	fs.IntVar(&cfg.SendQueue, "send-queue", rendezvous.DefaultSendQueue, "`n` messages queued for one peer; a peer that lets it fill is dropped")
	fs.Func("allow-origin", "also accept sockets from web pages of this `origin`, e.g. https://example.org (repeatable)", func(o string) error {
		cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "signal-server: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "signal-server: bad --log-level %q\n", *level)
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String())
	cfg.Logger = log
	err = rendezvous.New(cfg).Serve(ctx, ln)
	log.Info("stopped")
	return err
}

// printUsage lists the flags one per line, unlike flag.PrintDefaults.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if f.DefValue != "" {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s %s\t%s\n", f.Name, arg, text)
	})
	tw.Flush()
}
