package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/epicshare/epicshare/internal/human"
	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

const receiveUsage = `Usage: epicshare receive [flags] LINK
       epicshare receive [flags]

With a LINK, downloads what a share link offers, straight from the sender.

Without one, holds a receive link: prints it alone on the first line of
standard output (and a QR code on a terminal), and saves what any device
that opens it sends: a phone's browser, or "epicshare send LINK PATH...".
Each sender's offer is shown, and asked about, before anything is written;
a text message that comes with it goes to standard output. It exits 0 once
the first sender's files all verified, or with --keep goes on until
Ctrl-C. Without --server, the signaling server runs inside this command on
--listen, as for send, and the receive link is announced on this network
(mDNS) under --name unless --hidden: nearby devices list it, and
"epicshare send --to NAME" reaches it. Senders that prove their device
key are shown by name and device ID.

Either way: what is offered is shown and asked about before anything is
written, unless --yes is given or standard input is not a terminal. Every
file is verified with SHA-256 and written as NAME.part until it verifies;
existing files are never overwritten (a taken name becomes "name
(1).ext"). Exits 0 only when every file verified.

If a transfer breaks (the connection drops, the sender stops, the disk
fills up, Ctrl-C), what arrived is kept: receiving the same files into the
same --out again resumes where it stopped, skipping complete files.

Flags:
`

func runReceive(ctx context.Context, args []string, stdio IO) int {
	fs := newFlagSet("receive", receiveUsage, stdio.Stderr)
	var c common
	c.register(fs)
	out := fs.String("out", ".", "save into this `DIR`ectory")
	yes := fs.Bool("yes", false, "accept without asking")
	var in inboxFlags
	fs.StringVar(&in.server, "server", "", "without LINK: hold the receive link on the signaling server at `URL` instead of running one here")
	fs.StringVar(&in.listen, "listen", ":0", "without LINK: run the signaling server on this `ADDR`ess (host:port; port 0 picks a free one)")
	fs.BoolVar(&in.keep, "keep", false, "without LINK: keep receiving after the first sender finishes, until Ctrl-C")
	fs.BoolVar(&in.hidden, "hidden", false, "without LINK: do not announce the receive link to nearby devices")
	pos, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	fs.Visit(func(f *flag.Flag) { in.listenSet = in.listenSet || f.Name == "listen" })
	if len(pos) > 1 {
		fmt.Fprint(stdio.Stderr, "epicshare receive: give at most one link\n\n")
		fs.Usage()
		return ExitUsage
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	ask := !*yes && isTerminal(stdio.Stdin)
	if len(pos) == 0 {
		return runInbox(ctx, c, in, dir, ask, stdio)
	}
	link, err := wire.ParseLink(pos[0])
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	if link.Kind == wire.ReceiveLink {
		return fail(stdio.Stderr, errors.New("that is a receive link, to send files to: epicshare send LINK PATH..."))
	}
	tty := isTerminal(stdio.Stderr)
	drawn, resumed := false, false
	opts := session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
		Confirm: func(ctx context.Context, m transfer.Manifest) error {
			if m.Files() == 0 && len(m.Entries) == 0 {
				fmt.Fprintln(stdio.Stderr, "Offered: a message")
			} else {
				fmt.Fprintf(stdio.Stderr, "Offered: %s", summary(m, 20))
			}
			if !ask {
				return nil
			}
			return confirm(ctx, stdio, fmt.Sprintf("Save to %s? [y/N] ", dir))
		},
		// Ctrl-C keeps what arrived: the same command resumes.
		KeepOnCancel: true,
		Progress: func(p transfer.Progress) {
			if p.Resumed > 0 && !resumed {
				resumed = true
				if drawn {
					fmt.Fprintln(stdio.Stderr)
				}
				fmt.Fprintf(stdio.Stderr, "Resuming: %s of %s arrived earlier\n", human.Bytes(p.Resumed), human.Bytes(p.Total))
			}
			if tty {
				fmt.Fprintf(stdio.Stderr, "\r\x1b[2K%s", bar(p, termWidth(stdio.Stderr)))
				drawn = true
			}
		},
	}}
	opts.OnConnected = func(code string, path peer.Path) {
		fmt.Fprintf(stdio.Stderr, "Connected (%s). Verification code: %s (the sender shows the same)\n", path, code)
	}
	opts.OnStall = func(idle time.Duration, cause peer.StallCause) {
		fmt.Fprintf(stdio.Stderr, "\nStalled, no data for %s: %s\n", idle.Round(time.Second), cause)
	}
	fmt.Fprintf(stdio.Stderr, "Connecting to %s…\n", link.Server.Host)
	res, err := session.Receive(ctx, c.config(stdio.Stderr), link, dir, opts)
	if drawn {
		fmt.Fprintln(stdio.Stderr)
	}
	if err != nil {
		if errors.Is(err, transfer.ErrDeclined) {
			fmt.Fprintln(stdio.Stderr, "epicshare: declined; nothing was saved")
			return ExitError
		}
		code := fail(stdio.Stderr, err)
		var pe *transfer.PartialError
		if errors.As(err, &pe) {
			fmt.Fprintf(stdio.Stderr, "epicshare: kept the %s that arrived in %s; run the same command again to resume\n", human.Bytes(pe.Kept), dir)
		}
		return code
	}
	if res.Manifest.Text != "" {
		text := res.Manifest.Text
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		if isTerminal(stdio.Stdout) {
			text = printable(text) // a message must not drive the terminal
		}
		fmt.Fprint(stdio.Stdout, text)
	}
	if len(res.Manifest.Entries) == 0 {
		fmt.Fprintln(stdio.Stderr, "Received a message (on standard output)")
		return ExitOK
	}
	fmt.Fprintf(stdio.Stderr, "Received %s, every file verified, in %s: %s\n",
		human.Bytes(res.Manifest.Total()), dir, strings.Join(res.Saved, ", "))
	return ExitOK
}

// confirm asks a yes/no question on the terminal.
func confirm(ctx context.Context, stdio IO, question string) error {
	fmt.Fprint(stdio.Stderr, question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdio.Stdin).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		if a == "y" || a == "yes" {
			return nil
		}
		return errors.New("declined by the user")
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
