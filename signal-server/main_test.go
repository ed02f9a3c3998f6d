package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/testutil"
)

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var logs testutil.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--log-level", "debug"}, &logs) }()

	re := regexp.MustCompile(`addr=(\S+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening address logged:\n%s", logs.String())
		} else {
			time.Sleep(10 * time.Millisecond) // polling the log
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--log-level", "loud"}, {"extra"}, {"--nope"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, &out); err != errUsage {
			t.Errorf("run(%q) = %v, want errUsage", args, err)
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--addr", "256.0.0.1:1"}, &out); err == nil {
		t.Error("listening on a bad address succeeded")
	}
}
