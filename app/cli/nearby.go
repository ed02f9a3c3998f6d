package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/session"
)

const devicesUsage = `Usage: epicshare devices [flags]

Lists the EpicShare devices on this network: every desktop app that is
visible to nearby devices, and every "epicshare receive" without a link.
It looks for --wait, then prints one line per device on standard
output: its name, its device ID and its address. Send to one with
"epicshare send --to NAME PATH...".

Flags:
`

// deviceKeyFile is where the CLI keeps this device's key, under the
// user's configuration directory.
const deviceKeyFile = "epicshare/device-key"

// loadDevice returns this device, named name (the host name if empty):
// its key is read from the user's configuration directory, or made and
// written there the first time, so that other devices know it again.
func loadDevice(name string, stderr io.Writer) *session.Device {
	if name == "" {
		name, _ = os.Hostname()
	}
	if name = nearby.CleanName(name); name == "" {
		name = "EpicShare"
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		fmt.Fprintf(stderr, "no configuration directory (%v): this device gets a new key each time\n", err)
		return session.NewDevice(name)
	}
	path := filepath.Join(dir, deviceKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if d, err := session.ParseDevice(strings.TrimSpace(string(b)), name); err == nil {
			return d
		}
		fmt.Fprintf(stderr, "%s is damaged: this device gets a new key\n", path)
	}
	d := session.NewDevice(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		err = os.WriteFile(path, []byte(d.Seed()+"\n"), 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "cannot keep this device's key (%v): it gets a new one each time\n", err)
		}
	}
	return d
}

// startNearby starts finding devices on the network, on the given
// interfaces (all if none). self is never listed.
func startNearby(interfaces []string, self string) (*nearby.Node, error) {
	n, err := nearby.Start(nearby.Config{Interfaces: interfaces}, self)
	if err != nil {
		return nil, fmt.Errorf("look for nearby devices: %w", err)
	}
	return n, nil
}

func runDevices(ctx context.Context, args []string, stdio IO) int {
	fs := newFlagSet("devices", devicesUsage, stdio.Stderr)
	var interfaces listFlag
	fs.Var(&interfaces, "interface", "look only on this network `NAME`, e.g. eth0 (repeatable; default: all)")
	wait := fs.Duration("wait", 3*time.Second, "look for this `long`")
	pos, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stdio.Stderr, "epicshare devices: unexpected argument %q\n", pos[0])
		return ExitUsage
	}
	n, err := startNearby(interfaces, "")
	if err != nil {
		return fail(stdio.Stderr, err)
	}
	defer n.Close()
	select {
	case <-time.After(*wait):
	case <-ctx.Done():
		return fail(stdio.Stderr, context.Cause(ctx))
	}
	devices := n.Devices()
	if len(devices) == 0 {
		fmt.Fprintf(stdio.Stderr, "No EpicShare device found on this network in %s.\n", *wait)
		return ExitOK
	}
	tw := tabwriter.NewWriter(stdio.Stdout, 0, 0, 2, ' ', 0)
	for _, d := range devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(d.Name), d.ID, d.Addr)
	}
	tw.Flush()
	return ExitOK
}

// findDevice looks on the network for the device to, named or given by
// its ID (or the first characters of it), for up to wait.
func findDevice(ctx context.Context, interfaces []string, self, to string, wait time.Duration) (nearby.Device, error) {
	n, err := startNearby(interfaces, self)
	if err != nil {
		return nearby.Device{}, err
	}
	defer n.Close()
	deadline := time.Now().Add(wait)
	for {
		matches := matchDevices(n.Devices(), to)
		switch {
		case len(matches) == 1:
			return matches[0], nil
		case len(matches) > 1:
			var b strings.Builder
			fmt.Fprintf(&b, "%d devices on this network are called %q:", len(matches), to)
			for _, d := range matches {
				fmt.Fprintf(&b, "\n  %s  %s  at %s", printable(d.Name), d.ID, d.Addr)
			}
			b.WriteString("\npick one with --to and its ID")
			return nearby.Device{}, errors.New(b.String())
		case time.Now().After(deadline):
			return nearby.Device{}, fmt.Errorf("no device called %q on this network (looked for %s; \"epicshare devices\" lists them)", to, wait)
		}
		select {
		case <-time.After(100 * time.Millisecond): // polling the list
		case <-ctx.Done():
			return nearby.Device{}, context.Cause(ctx)
		}
	}
}

// matchDevices returns the devices to names: the one with that ID, or
// whose ID starts with it (at least 4 characters), else those with that
// name, in any case.
func matchDevices(devices []nearby.Device, to string) []nearby.Device {
	var byID, byName []nearby.Device
	for _, d := range devices {
		switch {
		case d.ID == to || (len(to) >= 4 && strings.HasPrefix(d.ID, to)):
			byID = append(byID, d)
		case strings.EqualFold(d.Name, to):
			byName = append(byName, d)
		}
	}
	if len(byID) > 0 {
		return byID
	}
	return byName
}
