package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// logLines passes each write (slog writes one record per call) to a
// channel, so a test can wait for a log line instead of polling.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default: // nobody is watching any more
	}
	return len(p), nil
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := make(logLines, 64)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--log-level", "debug"}, logs) }()

	re := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	var addr string
	timeout := time.After(10 * time.Second)
	for addr == "" {
		select {
		case line := <-logs:
			if m := re.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		case err := <-done:
			t.Fatalf("run returned early: %v", err)
		case <-timeout:
			t.Fatal("no listening address logged")
		}
	}
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("logged the requested address %s, not the real one", addr)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--log-level", "loud"}, {"extra"}, {"--nope"}, {"--trusted-proxies", "10.0.0.0/8,lb.example.org"}, {"--trusted-proxies", "10.0.0.0/33"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, &out); err != errUsage {
			t.Errorf("run(%q) = %v, want errUsage", args, err)
		}
	}
}

func TestRunListenFails(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{"256.0.0.1:1", taken.Addr().String()} {
		var out bytes.Buffer
		err := run(t.Context(), []string{"--addr", addr}, &out)
		if err == nil || errors.Is(err, errUsage) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--addr %s: %v, want a one-line listen error", addr, err)
		}
	}
}

func TestHelpListsEveryFlagOnOneLine(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(--help) = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	if !strings.HasPrefix(help, "Usage: signal-server") {
		t.Errorf("help starts with %q", help[:min(len(help), 40)])
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  --addr host:port +listen on .*\(default :8080\)$`),
		regexp.MustCompile(`(?m)^  --log-level level +log level: debug, info, warn or error \(default info\)$`),
	} {
		if !want.MatchString(help) {
			t.Errorf("help lacks a line matching %s:\n%s", want, help)
		}
	}
}

func TestTrustedProxiesFlag(t *testing.T) {
	var out bytes.Buffer
	s, err := configure([]string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7", "--trusted-proxies", "2001:db8::/32,::ffff:198.51.100.1", "--turn-addr", "off"}, &out)
	if err != nil {
		t.Fatalf("configure: %v\n%s", err, &out)
	}
	var got []string
	for _, p := range s.broker.TrustedProxies {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "198.51.100.1/32"}
	if !slices.Equal(got, want) {
		t.Errorf("TrustedProxies = %v, want %v", got, want)
	}
}
