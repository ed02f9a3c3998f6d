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
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

const receiveUsage = `Usage: epicshare receive [flags] LINK

Downloads what a share link offers, straight from the sender. Shows what is
offered and asks before writing anything, unless --yes is given or standard
input is not a terminal. Every file is verified with SHA-256 and written as
NAME.part until it verifies; existing files are never overwritten (a taken
name becomes "name (1).ext"). Exits 0 only when every file verified.

If the transfer breaks (the connection drops, the sender stops, the disk
fills up, Ctrl-C), what arrived is kept: run the same command again, with
the same link (or a new link to the same files) and the same --out, and it
resumes where it stopped, skipping complete files.

Flags:
`

func runReceive(ctx context.Context, args []string, stdio IO) int {
	fs := newFlagSet("receive", receiveUsage, stdio.Stderr)
	var c common
	c.register(fs)
	out := fs.String("out", ".", "save into this `DIR`ectory")
	yes := fs.Bool("yes", false, "accept without asking")
	pos, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if len(pos) != 1 {
		fmt.Fprint(stdio.Stderr, "epicshare receive: give exactly one link\n\n")
		fs.Usage()
		return ExitUsage
	}
	link, err := wire.ParseLink(pos[0])
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return fail(stdio.Stderr, err)
	}

	ask := !*yes && isTerminal(stdio.Stdin)
	tty := isTerminal(stdio.Stderr)
	drawn, resumed := false, false
	opts := session.ReceiveOptions{ReceiveOptions: transfer.ReceiveOptions{
		Confirm: func(ctx context.Context, m transfer.Manifest) error {
			fmt.Fprintf(stdio.Stderr, "Offered: %s", summary(m, 20))
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
	opts.OnConnected = func(code, path string) {
		fmt.Fprintf(stdio.Stderr, "Connected (%s). Verification code: %s (the sender shows the same)\n", path, code)
	}
	opts.OnStall = func(idle time.Duration, cause string) {
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
