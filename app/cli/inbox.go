package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/skip2/go-qrcode"

	"github.com/epicshare/epicshare/internal/human"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

// inboxFlags are what `receive` without a link takes beyond the common
// flags and --out/--yes.
type inboxFlags struct {
	server, listen string
	listenSet      bool
	keep           bool
	hidden         bool
}

// runInbox holds a receive link: it prints it (stdout's first line) and a
// QR code, then asks before each sender's offer and saves into dir.
func runInbox(ctx context.Context, c common, f inboxFlags, dir string, ask bool, stdio IO) int {
	if f.server != "" && f.listenSet {
		fmt.Fprintln(stdio.Stderr, "epicshare receive: use either --server or --listen, not both")
		return ExitUsage
	}
	cfg := c.config(stdio.Stderr)
	cfg.Device = loadDevice(c.name, stdio.Stderr)
	base, stopBroker, err := brokerURL(f.server, f.listen, c.interfaces, cfg)
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	defer stopBroker()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	v := &inboxView{stdio: stdio, tty: isTerminal(stdio.Stderr), dir: dir, ask: ask, first: make(chan struct{})}
	in, err := session.OpenInbox(ctx, cfg, base, dir, session.InboxOptions{Confirm: v.confirm, OnEvent: v.event, OnServer: v.server})
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	defer in.Stop()
	link := in.Link().String()
	fmt.Fprintln(stdio.Stdout, link)
	if v.tty {
		if qr, err := qrcode.New(link, qrcode.Medium); err == nil {
			fmt.Fprint(stdio.Stderr, qr.ToSmallString(false))
		}
	}
	fmt.Fprintf(stdio.Stderr, "Send to this computer: open %s on the other device (or scan the code).\n", link)
	if f.server == "" && !f.hidden {
		// On this machine's own broker: nearby devices can find it.
		if stop, err := announce(cfg.Device, in.Link(), c.interfaces); err != nil {
			fmt.Fprintf(stdio.Stderr, "Not visible to nearby devices: %v\n", err)
		} else {
			defer stop()
			fmt.Fprintf(stdio.Stderr, "Visible to nearby devices as %q: epicshare send --to %s PATH... reaches it.\n", cfg.Device.Name, shellWord(cfg.Device.Name))
		}
	}
	fmt.Fprintf(stdio.Stderr, "Saving into %s. ", dir)
	if f.keep {
		fmt.Fprintln(stdio.Stderr, "Press Ctrl-C to stop.")
	} else {
		fmt.Fprintln(stdio.Stderr, "Waiting for a sender; press Ctrl-C to stop.")
	}
	first := v.first
	for {
		select {
		case <-first:
			if !f.keep {
				return ExitOK
			}
			first = nil
		case <-in.Done():
			if err := in.Err(); err != nil {
				return fail(stdio.Stderr, err)
			}
			return v.exitCode()
		case <-ctx.Done():
			return v.exitCode()
		}
	}
}

// inboxView asks about each offer and follows each sender on stderr; a
// received text goes to stdout.
type inboxView struct {
	stdio IO
	tty   bool
	dir   string
	ask   bool
	first chan struct{} // closed when a sender's files all verified

	askMu    sync.Mutex // one question on the terminal at a time
	mu       sync.Mutex
	once     sync.Once
	finished int
	offline  bool
}

func (v *inboxView) confirm(ctx context.Context, o session.Incoming) error {
	v.askMu.Lock()
	defer v.askMu.Unlock()
	m := o.Manifest
	what := summary(m, 20)
	if m.Files() == 0 {
		what = "a message\n"
	}
	who := "Sender " + short(o.Peer)
	if o.Device != nil {
		who = fmt.Sprintf("%s (device %s)", printable(o.Device.Name), short(o.Device.ID))
	}
	fmt.Fprintf(v.stdio.Stderr, "%s (verification code %s, %s) offers %s", who, o.Code, o.Path, what)
	if !v.ask {
		return nil
	}
	return confirm(ctx, v.stdio, fmt.Sprintf("Save to %s? [y/N] ", v.dir))
}

func (v *inboxView) event(e session.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := short(e.Peer)
	if e.Device != nil {
		id = printable(e.Device.Name) // "sender NAME: …"
	}
	w := v.stdio.Stderr
	switch e.State {
	case session.Receiving:
		if e.Stalled != nil {
			fmt.Fprintf(w, "sender %s: stalled, %s\n", id, e.Stalled)
		} else if v.tty {
			fmt.Fprintf(w, "\r\x1b[2Ksender %s: %s", id, bar(e.Progress, termWidth(w)-16))
		}
	case session.Done:
		if v.tty {
			fmt.Fprint(w, "\r\x1b[2K")
		}
		res, p := e.Result, e.Progress
		if res.Manifest.Text != "" {
			text := res.Manifest.Text
			if !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			if isTerminal(v.stdio.Stdout) {
				text = printable(text) // a message must not drive the terminal
			}
			fmt.Fprint(v.stdio.Stdout, text)
			fmt.Fprintf(w, "sender %s: message received (on standard output)\n", id)
		}
		if res.Manifest.Files() > 0 || len(res.Manifest.Entries) > 0 {
			line := fmt.Sprintf("sender %s: received %s, every file verified, in %s: %s", id, headline(res.Manifest), v.dir, strings.Join(res.Saved, ", "))
			if res.Resumed > 0 {
				line += fmt.Sprintf("; resumed: %s had arrived before", human.Bytes(res.Resumed))
			}
			fmt.Fprintln(w, line)
			if p.Elapsed > 0 {
				fmt.Fprintf(w, "sender %s: %s in %s (%s/s)\n", id, human.Bytes(p.Total-p.Resumed), human.Duration(p.Elapsed), human.Bytes(int64(p.Rate)))
			}
		}
		v.finished++
		v.once.Do(func() { close(v.first) })
	case session.Failed:
		if v.tty {
			fmt.Fprint(w, "\r\x1b[2K")
		}
		if errors.Is(e.Err, session.ErrWrongSecret) {
			fmt.Fprintf(w, "refused a sender %s: its link has the wrong secret\n", id)
			return
		}
		if errors.Is(e.Err, transfer.ErrDeclined) {
			fmt.Fprintf(w, "sender %s: declined; nothing was saved\n", id)
			return
		}
		line := fmt.Sprintf("sender %s: failed: %s", id, printable(e.Err.Error()))
		var pe *transfer.PartialError
		if errors.As(e.Err, &pe) {
			line += fmt.Sprintf("; kept the %s that arrived: sending the same files again resumes", human.Bytes(pe.Kept))
		}
		fmt.Fprintln(w, line)
	}
}

func (v *inboxView) server(st session.ServerState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case !st.Connected && !v.offline:
		fmt.Fprintf(v.stdio.Stderr, "lost the signaling server (%v); reconnecting…\n", st.Err)
	case st.Connected && v.offline:
		fmt.Fprintln(v.stdio.Stderr, "reconnected to the signaling server; the link works again")
	}
	v.offline = !st.Connected
}

func (v *inboxView) exitCode() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished > 0 {
		return ExitOK
	}
	fmt.Fprintln(v.stdio.Stderr, "epicshare: stopped before anyone sent anything")
	return ExitError
}

func short(id string) string {
	if len(id) > 6 {
		return id[:6]
	}
	return id
}

// announce makes the inbox at link visible to nearby devices as d until
// stop.
func announce(d *session.Device, link wire.Link, interfaces []string) (stop func(), err error) {
	a, err := d.Announcement(link)
	if err != nil {
		return nil, err
	}
	n, err := startNearby(interfaces, d.ID())
	if err != nil {
		return nil, err
	}
	if err := n.Announce(a); err != nil {
		n.Close()
		return nil, err
	}
	return func() { n.Close() }, nil
}

// shellWord quotes s for a POSIX shell if it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
