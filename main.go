// Command epicshare sends files peer to peer: "send" shares files and
// folders and prints a link, "receive" downloads what a link shares.
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
