// Package cli implements the headless subcommands of the epicshare binary:
// send and receive. It parses flags, prints for people on stderr and for
// scripts on stdout, and leaves all the work to package session.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/epicshare/epicshare/internal/memtune"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/version"
	"github.com/epicshare/epicshare/internal/wire"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// IO is where a command reads and writes. Stdin and Stderr are checked for
// a terminal to decide on prompts, QR codes and progress bars.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// StdIO is the process's standard streams.
func StdIO() IO { return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr} }

func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func termWidth(x any) int {
	if f, ok := x.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 10 {
			return w
		}
	}
	return 80
}

// Usage is the top-level help text.
const Usage = `EpicShare sends files straight from one device to another, peer to peer.

Usage:
  epicshare                            open the EpicShare window
  epicshare PATH...                    open the window ready to share these
  epicshare send [flags] PATH...       share files and folders; prints the link
  epicshare send [flags] LINK PATH...  send into a receive link
  epicshare receive [flags] LINK       download what a share link offers
  epicshare receive [flags]            print a receive link, save what is sent to it
                                       (visible to nearby devices)
  epicshare send --to NAME PATH...     send to a nearby device
  epicshare devices                    list the EpicShare devices on this network
  epicshare --version                  print the version

Run 'epicshare send --help', 'epicshare receive --help' or
'epicshare devices --help' for their flags.
`

// IsCommand reports whether arg names a subcommand or asks for help,
// rather than being a file to open in the window.
func IsCommand(arg string) bool {
	switch arg {
	case "send", "receive", "recv", "devices", "help", "-h", "-help", "--help":
		return true
	}
	return strings.HasPrefix(arg, "-")
}

// Main runs the subcommand named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	if len(args) == 0 {
		fmt.Fprint(stdio.Stderr, Usage)
		return ExitUsage
	}
	switch args[0] {
	case "send":
		return runSend(ctx, args[1:], stdio)
	case "receive", "recv":
		return runReceive(ctx, args[1:], stdio)
	case "devices":
		return runDevices(ctx, args[1:], stdio)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdio.Stdout, Usage)
		return ExitOK
	case "-version", "--version":
		fmt.Fprintln(stdio.Stdout, "epicshare", version.String())
		return ExitOK
	}
	fmt.Fprintf(stdio.Stderr, "epicshare: unknown command %q\n\n%s", args[0], Usage)
	return ExitUsage
}

// common holds the flags both subcommands take.
type common struct {
	ice        iceFlag
	relayOnly  bool
	interfaces listFlag
	verbose    bool
	name       string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.Var(&c.ice, "ice-server", "use this STUN or TURN `server` instead of those the signaling server offers: \"stun:HOST:PORT\" or \"turn:HOST:PORT USER PASSWORD\" (repeatable)")
	fs.BoolVar(&c.relayOnly, "relay-only", false, "connect only through a TURN relay, so that the other device never learns this one's addresses")
	fs.Var(&c.interfaces, "interface", "use only this network `NAME` for the peer-to-peer connection, e.g. eth0 (repeatable; default: all)")
	fs.BoolVar(&c.verbose, "verbose", false, "log connection details to stderr")
	fs.StringVar(&c.name, "name", "", "this device's `NAME` as nearby devices see it (default: the host name)")
}

func (c *common) config(stderr io.Writer) session.Config {
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return session.Config{
		Peer:   peer.Config{ICEServers: c.ice, RelayOnly: c.relayOnly, Interfaces: c.interfaces, Logger: log},
		Logger: log,
		GC:     new(memtune.Tuner), // a command runs one transfer per process
	}
}

// iceFlag collects --ice-server values, each checked as it is given.
type iceFlag []wire.ICEServer

func (l *iceFlag) String() string { return fmt.Sprint(len(*l), " servers") }
func (l *iceFlag) Set(s string) error {
	srv, err := peer.ParseICEServer(s)
	if err != nil {
		return err
	}
	*l = append(*l, srv)
	return nil
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// parse parses flags that may come before, between or after the
// positional arguments, as people type them ("send a.txt --keep").
// Everything after "--" is positional.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// brokerURL is the signaling server to hold a link on: the remote one if
// server is set, else one started here on listen; stop stops it.
func brokerURL(server, listen string, interfaces []string, cfg session.Config) (base *url.URL, stop func(), err error) {
	if server != "" {
		base, err = wire.ParseServer(server)
		return base, func() {}, err
	}
	b, err := session.StartLocalBroker(listen, interfaces, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	return b.URL, func() { b.Close() }, nil
}

// fail prints a one-line error and returns ExitError.
func fail(stderr io.Writer, err error) int {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "epicshare: stopped")
		return ExitError
	}
	// The error may quote the other device's words (a cancel's detail).
	fmt.Fprintf(stderr, "epicshare: %s\n", printable(err.Error()))
	return ExitError
}
