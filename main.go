// Command epicshare sends files peer to peer. With no arguments it will
// open the desktop window; "send" and "receive" run headless.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/epicshare/epicshare/app/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.StdIO())
	stop()
	os.Exit(code)
}
