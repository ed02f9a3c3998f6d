package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/epicshare/epicshare/internal/version"
)

func TestVersionFlagStopsBeforeServing(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--addr", "127.0.0.1:0", "--version"}, {"--version", "--log-level", "loud"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, &out); !errors.Is(err, errVersion) {
			t.Errorf("run(%q) = %v, want errVersion", args, err)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) wrote to stderr: %q", args, &out)
		}
	}
	if got, want := versionLine(), "signal-server "+version.String(); got != want {
		t.Errorf("versionLine() = %q, want %q", got, want)
	}
}

func TestHelpListsVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(--help) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^       signal-server --version$`),
		regexp.MustCompile(`(?m)^  --version +print the version and exit$`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("help lacks a line matching %s:\n%s", want, &out)
		}
	}
}

// mainEnv makes the test binary run main instead of the tests (see
// TestVersionOnStdout).
const mainEnv = "SIGNAL_SERVER_TEST_MAIN"

// TestVersionOnStdout runs main in a child process, as a user would run
// the binary: the version goes to stdout alone and the exit code is 0.
// The release check in the Makefile runs the real binary, built with the
// version linked in.
func TestVersionOnStdout(t *testing.T) {
	if os.Getenv(mainEnv) != "" {
		os.Args = []string{"signal-server", "--version"}
		main()
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestVersionOnStdout$")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("signal-server --version: %v\n%s", err, &stderr)
	}
	if got, want := stdout.String(), "signal-server "+version.String()+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", &stderr)
	}
}
