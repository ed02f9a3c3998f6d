package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/epicshare/epicshare/internal/human"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

const sendUsage = `Usage: epicshare send [flags] PATH...
       epicshare send [flags] LINK PATH...

Shares files and folders, and with --text a message (alone or with files).
The share link is printed alone on the first line of standard output;
everything else goes to standard error. The command exits once the first
receiver has verified every file (or, with --keep, serves receivers until
interrupted).

Given a receive link first (one that "epicshare receive" or the desktop
app's "Send to this computer" shows), it sends the files and the message
into it instead, and exits 0 once the receiver accepted and verified every
file. If that breaks, sending the same files again resumes.

With --to, it sends to a device on this network instead: one that
"epicshare devices" lists, by name or device ID. Only that device can
receive (it proves its key); it still decides whether to accept.

Without --server, the signaling server runs inside this command on --listen
and the link names this machine's network address, so a second device on
the same network needs nothing else.

With --server, losing that server (it restarted, the network dropped) does
not end the share: send says so on standard error, reconnects by itself and
the same link works again once it is back. Transfers under way go on.

Flags:
`

func runSend(ctx context.Context, args []string, stdio IO) int {
	fs := newFlagSet("send", sendUsage, stdio.Stderr)
	var c common
	c.register(fs)
	server := fs.String("server", "", "use the signaling server at `URL` instead of running one here")
	listen := fs.String("listen", ":0", "run the signaling server on this `ADDR`ess (host:port; port 0 picks a free one)")
	keep := fs.Bool("keep", false, "keep sharing after the first receiver finishes, until Ctrl-C")
	text := fs.String("text", "", "send this `MESSAGE` too (up to 1 MiB; - reads it from standard input)")
	to := fs.String("to", "", "send to the nearby device with this `NAME` or device ID")
	paths, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var link *wire.Link
	if len(paths) > 0 && looksLikeLink(paths[0]) {
		l, err := wire.ParseLink(paths[0])
		if err != nil {
			return fail(stdio.Stderr, err)
		}
		if l.Kind != wire.ReceiveLink {
			return fail(stdio.Stderr, errors.New("that is a share link, to receive from: epicshare receive LINK"))
		}
		link, paths = &l, paths[1:]
	}
	switch {
	case len(paths) == 0 && !set["text"]:
		fmt.Fprint(stdio.Stderr, "epicshare send: name at least one file or folder, or give --text\n\n")
		fs.Usage()
		return ExitUsage
	case *server != "" && set["listen"]:
		fmt.Fprintln(stdio.Stderr, "epicshare send: use either --server or --listen, not both")
		return ExitUsage
	case link != nil && (set["server"] || set["listen"] || set["keep"]):
		fmt.Fprintln(stdio.Stderr, "epicshare send: --server, --listen and --keep are for sharing; a receive link names its server")
		return ExitUsage
	case set["to"] && (link != nil || set["server"] || set["listen"] || set["keep"]):
		fmt.Fprintln(stdio.Stderr, "epicshare send: --to sends to a nearby device: give it no link, --server, --listen or --keep")
		return ExitUsage
	case set["to"] && *to == "":
		fmt.Fprintln(stdio.Stderr, "epicshare send: --to needs a device's name or ID")
		return ExitUsage
	}
	if *text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdio.Stdin, transfer.MaxText+1))
		if err != nil {
			return fail(stdio.Stderr, fmt.Errorf("read the message: %w", err))
		}
		*text = string(b)
	}
	if set["text"] && *text == "" {
		fmt.Fprintln(stdio.Stderr, "epicshare send: the message is empty")
		return ExitUsage
	}

	offer, err := transfer.NewTextOffer(*text, paths...)
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	if link != nil {
		// Proving this device lets the receiver name it, and accept it
		// without asking if it was marked so.
		cfg := c.config(stdio.Stderr)
		cfg.Device = loadDevice(c.name, stdio.Stderr)
		return sendInto(ctx, cfg, *link, "", offer, stdio)
	}
	if *to != "" {
		cfg := c.config(stdio.Stderr)
		cfg.Device = loadDevice(c.name, stdio.Stderr)
		d, err := findDevice(ctx, c.interfaces, cfg.Device.ID(), *to, 5*time.Second)
		if err != nil {
			return fail(stdio.Stderr, err)
		}
		fmt.Fprintf(stdio.Stderr, "Found %s (device %s) at %s.\n", printable(d.Name), short(d.ID), d.Addr)
		return sendInto(ctx, cfg, d.Link, d.ID, offer, stdio)
	}
	for _, p := range offer.Skipped {
		fmt.Fprintf(stdio.Stderr, "skipping %s: not a regular file or folder\n", p)
	}
	cfg := c.config(stdio.Stderr)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, stopBroker, err := brokerURL(*server, *listen, c.interfaces, cfg)
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	defer stopBroker()

	out := newSendView(stdio)
	sharing, err := session.Share(ctx, cfg, base, offer, session.ShareOptions{OnEvent: out.event, OnServer: out.server})
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	defer sharing.Stop()
	shared := sharing.Link().String()
	fmt.Fprintln(stdio.Stdout, shared)
	out.intro(shared, offer.Manifest, *keep)

	firstDone := out.done
	for {
		select {
		case <-firstDone:
			if !*keep {
				return ExitOK
			}
			firstDone = nil // closed for good: stop selecting it
		case <-sharing.Done():
			if err := sharing.Err(); err != nil {
				return fail(stdio.Stderr, err)
			}
			return out.exitCode()
		case <-ctx.Done():
			return out.exitCode()
		}
	}
}

// looksLikeLink tells a link from a file name: a file called "http:" is
// still sent as "./http:".
func looksLikeLink(arg string) bool {
	return strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://")
}

// sendInto sends offer into a receive link, held by the device with ID
// device if that is set.
func sendInto(ctx context.Context, cfg session.Config, link wire.Link, device string, offer *transfer.Offer, stdio IO) int {
	tty := isTerminal(stdio.Stderr)
	drawn := false
	fmt.Fprintf(stdio.Stderr, "Sending %s to %s…\n", headline(offer.Manifest), link.Server.Host)
	err := session.Send(ctx, cfg, link, offer, session.SendOptions{
		Device: device,
		OnConnected: func(code string, path peer.Path) {
			fmt.Fprintf(stdio.Stderr, "Connected (%s). Verification code: %s (the receiver shows the same). Waiting for it to accept…\n", path, code)
		},
		Progress: func(p transfer.Progress) {
			if tty {
				fmt.Fprintf(stdio.Stderr, "\r\x1b[2K%s", bar(p, termWidth(stdio.Stderr)))
				drawn = true
			}
		},
		OnStall: func(idle time.Duration, cause peer.StallCause) {
			fmt.Fprintf(stdio.Stderr, "\nStalled, no data for %s: %s\n", idle.Round(time.Second), cause)
		},
	})
	if drawn {
		fmt.Fprintln(stdio.Stderr)
	}
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	fmt.Fprintf(stdio.Stderr, "Sent %s; the receiver verified every file\n", headline(offer.Manifest))
	return ExitOK
}

// sendView shows a share's link and its receivers.
type sendView struct {
	stdio IO
	tty   bool
	done  chan struct{} // closed when a receiver finished

	mu       sync.Mutex
	order    []string
	lines    map[string]string
	drawn    int
	finished int
	once     sync.Once
	offline  bool // lost the signaling server and not back yet
}

func newSendView(stdio IO) *sendView {
	return &sendView{stdio: stdio, tty: isTerminal(stdio.Stderr), done: make(chan struct{}), lines: map[string]string{}}
}

// server says when the share loses the signaling server and when it is
// back: one line each, not one per failed attempt.
func (v *sendView) server(st session.ServerState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var line string
	switch {
	case !st.Connected && !v.offline:
		line = fmt.Sprintf("lost the signaling server (%v); reconnecting… transfers under way go on", st.Err)
	case st.Connected && v.offline:
		line = "reconnected to the signaling server; the link works again"
	default:
		return
	}
	v.offline = !st.Connected
	w := v.stdio.Stderr
	if !v.tty {
		fmt.Fprintln(w, line)
		return
	}
	// The line goes below the receivers' lines, which are then drawn
	// again under it rather than repainted over it.
	fmt.Fprintf(w, "\r\x1b[2K%s\n", line)
	v.drawn = 0
	if len(v.order) > 0 {
		v.draw("")
	}
}

func (v *sendView) intro(link string, m transfer.Manifest, keep bool) {
	w := v.stdio.Stderr
	if v.tty {
		if qr, err := qrcode.New(link, qrcode.Medium); err == nil {
			fmt.Fprint(w, qr.ToSmallString(false))
		}
	}
	fmt.Fprintf(w, "Sharing %s\nLink: %s\n", headline(m), link)
	if keep {
		fmt.Fprintln(w, "Waiting for receivers; press Ctrl-C to stop sharing.")
	} else {
		fmt.Fprintln(w, "Waiting for a receiver; press Ctrl-C to stop sharing.")
	}
}

func (v *sendView) event(e session.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := e.Peer
	if len(id) > 6 {
		id = id[:6]
	}
	var line string
	switch e.State {
	case session.Connecting:
		line = fmt.Sprintf("receiver %s: connecting", id)
	case session.Sending:
		if !v.tty {
			if _, seen := v.lines[e.Peer]; seen && strings.Contains(v.lines[e.Peer], "sending") && e.Stalled == nil {
				return
			}
			line = fmt.Sprintf("receiver %s: sending (%s); verification code %s", id, e.Path, e.Code)
		} else {
			line = fmt.Sprintf("receiver %s [%s]: %s", id, e.Code, bar(e.Progress, termWidth(v.stdio.Stderr)-26))
		}
		if e.Stalled != nil {
			line = fmt.Sprintf("receiver %s: stalled, %s", id, e.Stalled)
		}
	case session.Done:
		p := e.Progress
		line = fmt.Sprintf("receiver %s [%s]: done, %s verified in %s (%s/s)", id, e.Code, human.Bytes(p.Total), human.Duration(p.Elapsed), human.Bytes(int64(p.Rate)))
		if p.Resumed > 0 {
			line += fmt.Sprintf("; resumed: %s was there already, %s sent", human.Bytes(p.Resumed), human.Bytes(p.Done-p.Resumed))
		}
		v.finished++
		v.once.Do(func() { close(v.done) })
	case session.Failed:
		line = fmt.Sprintf("receiver %s: failed: %v", id, e.Err)
		if sent := e.Progress.Done - e.Progress.Resumed; sent > 0 {
			line = fmt.Sprintf("receiver %s: failed after %s sent: %v", id, human.Bytes(sent), e.Err)
		}
	}
	if _, seen := v.lines[e.Peer]; !seen {
		v.order = append(v.order, e.Peer)
	}
	v.lines[e.Peer] = line
	v.draw(line)
}

// draw repaints the receivers' lines on a terminal, or appends the new line.
func (v *sendView) draw(line string) {
	w := v.stdio.Stderr
	if !v.tty {
		fmt.Fprintln(w, line)
		return
	}
	if v.drawn > 0 {
		fmt.Fprintf(w, "\x1b[%dA", v.drawn)
	}
	for _, id := range v.order {
		fmt.Fprintf(w, "\r\x1b[2K%s\n", v.lines[id])
	}
	v.drawn = len(v.order)
}

func (v *sendView) exitCode() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished > 0 {
		return ExitOK
	}
	fmt.Fprintln(v.stdio.Stderr, "epicshare: stopped before anyone received the files")
	return ExitError
}
