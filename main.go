// Command epicshare sends files peer to peer. With no arguments it opens
// the desktop window; "send" and "receive" run headless.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/epicshare/epicshare/app/cli"
	"github.com/epicshare/epicshare/app/ui"
	"github.com/epicshare/epicshare/assets"
)

func main() {
	if len(os.Args) > 1 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], cli.StdIO())
		stop()
		os.Exit(code)
	}
	a := app.NewWithID(ui.AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	u := ui.New(a, ui.Config{})
	defer u.Close()
	u.ShowAndRun()
}
