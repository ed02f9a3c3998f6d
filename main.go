// Command epicshare sends files peer to peer. With no arguments it opens
// the desktop window, with paths it opens the window ready to share them
// (as "Open with" from a file manager does); "send" and "receive" run
// headless.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/epicshare/epicshare/app/cli"
	"github.com/epicshare/epicshare/app/ui"
	"github.com/epicshare/epicshare/assets"
	"github.com/epicshare/epicshare/internal/nearby"
)

func main() {
	if len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], cli.StdIO())
		stop()
		os.Exit(code)
	}
	for _, p := range os.Args[1:] {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(os.Stderr, "epicshare: %q is neither a command nor a file to share\n\n%s", p, cli.Usage)
			os.Exit(cli.ExitUsage)
		}
	}
	a := app.NewWithID(ui.AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	u := ui.New(a, ui.Config{Nearby: nearby.Start, Tray: ui.TrayAvailable()})
	defer u.Close()
	u.Open(os.Args[1:]...)
	u.ShowAndRun()
}
