package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSendSurvivesSignalServerRestart kills the signal-server process
// under a running `epicshare send --server` and starts a new one on the
// same port: send says it lost the server and got it back, and a
// receiver given the link printed before the restart gets every file.
func TestSendSurvivesSignalServerRestart(t *testing.T) {
	epicshare, _ := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := t.TempDir()
	makeTree(t, src, 4<<20)
	server, first := startSignalServer(t, ctx)
	u, err := url.Parse(server)
	must(t, err)

	sender := start(t, ctx, epicshare, append(append([]string{"send", "--server", server}, loopbackFlags...), filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))...)
	link := sender.firstLine(t)

	// No goodbye from a killed server: the sender finds a dead socket.
	must(t, first.cmd.Process.Signal(syscall.SIGKILL))
	first.exitCode(t, 10*time.Second) // its port is free once it is gone
	waitFor(t, sender.stderr, "lost the signaling server", 30*time.Second)
	if again, _ := startSignalServer(t, ctx, "--addr", u.Host); again != server {
		t.Fatalf("the new server is at %s, the old one was at %s", again, server)
	}
	waitFor(t, sender.stderr, "reconnected to the signaling server", time.Minute)

	out := t.TempDir()
	recv := start(t, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), link)...)
	recv.run(t)
	if code := recv.exitCode(t, time.Minute); code != 0 {
		t.Fatalf("receive with the link from before the restart exited %d:\n%s\nsender:\n%s", code, recv.stderr, sender.stderr)
	}
	if code := sender.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("send exited %d:\n%s", code, sender.stderr)
	}
	if got, want := digest(t, out), digest(t, src); got != want {
		t.Fatalf("received:\n%s\nsent:\n%s", got, want)
	}
	if s := sender.stderr.String(); strings.Count(s, "lost the signaling server") != 1 {
		t.Errorf("want one line for the loss, however many attempts failed:\n%s", s)
	}
}
