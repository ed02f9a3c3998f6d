// Package e2e runs the built binaries as a person would: a signal server,
// "epicshare send" and "epicshare receive" as separate processes talking
// over loopback. Its benchmarks measure the same processes.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/testutil"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	cleanup   []string // temporary folders TestMain removes
)

// binaries builds epicshare and signal-server once per test run.
func binaries(t testing.TB) (epicshare, signalServer string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "epicshare-e2e-")
		if buildErr != nil {
			return
		}
		cleanup = append(cleanup, binDir)
		for _, pkg := range []string{".", "./signal-server"} {
			out := filepath.Join(binDir, filepath.Base(pkg))
			if pkg == "." {
				out = filepath.Join(binDir, "epicshare")
			}
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = "../.."
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "epicshare"), filepath.Join(binDir, "signal-server")
}

func TestMain(m *testing.M) {
	if u := os.Getenv(fetchEnv); u != "" {
		// Not a test run: this binary was started inside a namespace to
		// fetch u from there (see netLab.metric).
		os.Exit(fetch(u))
	}
	code := m.Run()
	for _, dir := range cleanup {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// ICE stays on loopback in every process these tests start.
var loopbackFlags = []string{"--interface", "lo"}

// proc is a started process with its output captured.
type proc struct {
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	stderr *testutil.Buffer
	done   chan error
}

func start(t testing.TB, ctx context.Context, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.CommandContext(ctx, name, args...), stdout: &bytes.Buffer{}, stderr: &testutil.Buffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	return p
}

// run starts p and returns once it is running; wait collects its end.
func (p *proc) run(t testing.TB) {
	t.Helper()
	p.cmd.Stdout = p.stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
}

// firstLine starts p and returns the first line it prints on stdout.
func (p *proc) firstLine(t testing.TB) string {
	t.Helper()
	r, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(p.stdout, r) // the rest, read once the process ended
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("%s printed no line; stderr:\n%s", p.cmd.Path, p.stderr)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed no line in 30 s; stderr:\n%s", p.cmd.Path, p.stderr)
	}
	return ""
}

func (p *proc) exitCode(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		// put it back for the cleanup
		p.done <- nil
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("%s still running after %v; stderr:\n%s", filepath.Base(p.cmd.Path), within, p.stderr)
	}
	return -1
}

var addrRE = regexp.MustCompile(`addr"?[=:]"?([0-9.]+:[0-9]+)`)

// signalServer starts the broker binary on a free loopback port and
// returns its URL.
func signalServer(t testing.TB, ctx context.Context) string {
	t.Helper()
	url, _ := startSignalServer(t, ctx)
	return url
}

func startSignalServer(t testing.TB, ctx context.Context, extra ...string) (string, *proc) {
	t.Helper()
	_, bin := binaries(t)
	p := start(t, ctx, bin, append([]string{"--addr", "127.0.0.1:0"}, extra...)...)
	p.run(t)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrRE.FindStringSubmatch(p.stderr.String()); m != nil {
			return "http://" + m[1], p
		}
		time.Sleep(20 * time.Millisecond) // polling a log, not ordering events
	}
	t.Fatalf("signal-server did not log its address:\n%s", p.stderr)
	return "", nil
}

func makeTree(t testing.TB, root string, big int64) {
	t.Helper()
	testutil.WriteTree(t, root, map[string]string{
		"docs/readme.txt": "read me",
		"docs/empty.txt":  "",
		"docs/sub/x.csv":  "1,2,3\n",
		"docs/hollow/":    "",
	})
	randomFile(t, filepath.Join(root, "big.bin"), big)
}

var (
	randomFile = testutil.RandomFile
	must       = testutil.Must
	digest     = testutil.Digest
)

func TestSendReceiveProcesses(t *testing.T) {
	epicshare, _ := binaries(t)
	for _, mode := range []string{"signal-server", "send --listen"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			src := t.TempDir()
			makeTree(t, src, 16<<20)

			args := append([]string{"send"}, loopbackFlags...)
			if mode == "signal-server" {
				args = append(args, "--server", signalServer(t, ctx))
			} else {
				args = append(args, "--listen", "127.0.0.1:0")
			}
			args = append(args, filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))
			sender := start(t, ctx, epicshare, args...)
			link := sender.firstLine(t)
			if !strings.Contains(link, "/s/") || !strings.Contains(link, "#") {
				t.Fatalf("first stdout line %q is not a link", link)
			}

			out := t.TempDir()
			recv := start(t, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), link)...)
			recv.run(t)
			if code := recv.exitCode(t, time.Minute); code != 0 {
				t.Fatalf("receive exited %d:\n%s", code, recv.stderr)
			}
			if code := sender.exitCode(t, 30*time.Second); code != 0 {
				t.Fatalf("send exited %d:\n%s", code, sender.stderr)
			}
			if got, want := digest(t, out), digest(t, src); got != want {
				t.Fatalf("received:\n%s\nsent:\n%s", got, want)
			}
			if !strings.Contains(recv.stderr.String(), "every file verified") {
				t.Errorf("receive did not report verification:\n%s", recv.stderr)
			}
		})
	}
}

// TestReceiveLinkProcesses: "receive" without a link prints a receive
// link, "send LINK PATH... --text" pushes into it; the files arrive
// identical and the text comes out on the receiver's standard output.
func TestReceiveLinkProcesses(t *testing.T) {
	epicshare, _ := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := t.TempDir()
	makeTree(t, src, 8<<20)
	out := t.TempDir()
	recv := start(t, ctx, epicshare, append([]string{"receive", "--listen", "127.0.0.1:0", "--out", out}, loopbackFlags...)...)
	link := recv.firstLine(t)
	if !strings.Contains(link, "/r/") || !strings.Contains(link, "#") {
		t.Fatalf("first stdout line %q is not a receive link", link)
	}
	const text = "the wifi password is hunter2"
	send := start(t, ctx, epicshare, append(append([]string{"send", "--text", text}, loopbackFlags...), link, filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))...)
	send.run(t)
	if code := send.exitCode(t, time.Minute); code != 0 {
		t.Fatalf("send exited %d:\n%s", code, send.stderr)
	}
	if code := recv.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("receive exited %d:\n%s", code, recv.stderr)
	}
	if got, want := digest(t, out), digest(t, src); got != want {
		t.Fatalf("received:\n%s\nsent:\n%s", got, want)
	}
	if got := recv.stdout.String(); got != text+"\n" {
		t.Errorf("receive printed %q after the link, want the text", got)
	}
	for _, want := range []string{"verification code", "every file verified"} {
		if !strings.Contains(recv.stderr.String(), want) {
			t.Errorf("receive's stderr lacks %q:\n%s", want, recv.stderr)
		}
	}
}

func TestReceiveBadInput(t *testing.T) {
	epicshare, _ := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	server := signalServer(t, ctx)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"malformed link", []string{"receive", "not a link"}, 1, "not an EpicShare link"},
		{"no secret", []string{"receive", server + "/s/AAAAAAAAAAAAAAAAAAAAAA"}, 1, "secret"},
		{"unknown share", []string{"receive", server + "/s/AAAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBA"}, 1, "no longer available"},
		{"server down", []string{"receive", "http://" + testutil.ClosedPort(t) + "/s/AAAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBA"}, 1, "connect"},
		{"two links", []string{"receive", "a", "b"}, 2, "at most one link"},
		{"receive link to receive from", []string{"receive", server + "/r/AAAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBA"}, 1, "receive link, to send files to"},
		{"share link to send into", []string{"send", server + "/s/AAAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBA", "x"}, 1, "share link, to receive from"},
		{"revoked receive link", []string{"send", "--text", "hi", server + "/r/AAAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBA"}, 1, "no longer available"},
		{"empty text", []string{"send", "--text", ""}, 2, "empty"},
		{"unreadable path", []string{"send", "--listen", "127.0.0.1:0", "/nonexistent/file"}, 1, "no such file"},
		{"nothing to send", []string{"send"}, 2, "at least one"},
		{"server and listen", []string{"send", "--server", server, "--listen", ":0", "x"}, 2, "either"},
		{"unknown command", []string{"frobnicate"}, 2, "neither a command nor a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, ctx, epicshare, tc.args...)
			p.run(t)
			if code := p.exitCode(t, 30*time.Second); code != tc.code || !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to mention %q", code, tc.code, p.stderr, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(p.stderr.String()), "\n"); tc.code == 1 && lines > 2 {
				t.Errorf("want a short error, got:\n%s", p.stderr)
			}
		})
	}
}

// TestPeerGoneMidFile kills one process at about half of a large file. The
// survivor fails with a clear reason and no file gets its final name
// unverified. When the receiver was killed, running it again with the same
// link resumes: it completes, and the bytes sent twice (counted by the
// sender) stay under 10 % of the file.
func TestPeerGoneMidFile(t *testing.T) {
	epicshare, _ := binaries(t)
	const size = 128 << 20
	for _, victim := range []string{"sender", "receiver"} {
		t.Run(victim, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			src := t.TempDir()
			randomFile(t, filepath.Join(src, "big.bin"), size)
			sender := start(t, ctx, epicshare, append(append([]string{"send", "--listen", "127.0.0.1:0"}, loopbackFlags...), filepath.Join(src, "big.bin"))...)
			link := sender.firstLine(t)
			out := t.TempDir()
			receive := append(append([]string{"receive", "--out", out}, loopbackFlags...), link)
			recv := start(t, ctx, epicshare, receive...)
			recv.run(t)
			// Wait until about half arrived.
			deadline := time.Now().Add(time.Minute)
			for {
				if fi, err := os.Stat(filepath.Join(out, "big.bin.part")); err == nil && fi.Size() > size/2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no data arrived; receiver:\n%s", recv.stderr)
				}
				time.Sleep(10 * time.Millisecond) // polling the disk
			}
			if victim == "sender" {
				sender.cmd.Process.Signal(syscall.SIGKILL)
				if code := recv.exitCode(t, time.Minute); code == 0 {
					t.Fatalf("receiver exited 0:\n%s", recv.stderr)
				}
				if _, err := os.Stat(filepath.Join(out, "big.bin")); err == nil {
					t.Error("a partial file has the final name")
				}
				if s := recv.stderr.String(); !strings.Contains(s, "connection") || !strings.Contains(s, "run the same command again to resume") {
					t.Errorf("receiver's reason does not say the connection was lost and how to resume:\n%s", s)
				}
				return
			}
			// The sender reports the failure and keeps sharing; the
			// receiver, run again, resumes.
			recv.cmd.Process.Signal(syscall.SIGKILL)
			recv.exitCode(t, 30*time.Second)
			waitFor(t, sender.stderr, "failed", time.Minute)
			if _, err := os.Stat(filepath.Join(out, "big.bin")); err == nil {
				t.Error("a partial file has the final name")
			}
			again := start(t, ctx, epicshare, receive...)
			again.run(t)
			if code := again.exitCode(t, time.Minute); code != 0 {
				t.Fatalf("second receive exited %d:\n%s\nsender:\n%s", code, again.stderr, sender.stderr)
			}
			if !strings.Contains(again.stderr.String(), "Resuming:") {
				t.Errorf("second receive does not say it resumed:\n%s", again.stderr)
			}
			if testutil.Digest(t, out) != testutil.Digest(t, src) {
				t.Error("resumed file differs")
			}
			waitFor(t, sender.stderr, "verified", 30*time.Second)
			first := sentBytes(t, sender.stderr.String(), `failed after (\S+ \S+) sent`)
			second := sentBytes(t, sender.stderr.String(), `was there already, (\S+ \S+) sent`)
			resent := first + second - size
			t.Logf("sent %d + %d bytes for a %d-byte file: %d (%.1f %%) sent twice", first, second, size, resent, 100*float64(resent)/size)
			if resent > size/10 {
				t.Errorf("%d bytes sent twice, more than 10 %% of the file", resent)
			}
			sender.cmd.Process.Signal(os.Interrupt)
			sender.exitCode(t, 30*time.Second)
		})
	}
}

// sentBytes finds the size that re (one group, like "12.5 MB") matches in
// a process's output.
func sentBytes(t testing.TB, out, re string) int64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in:\n%s", re, out)
	}
	var v float64
	var unit string
	if _, err := fmt.Sscanf(m[1], "%g %s", &v, &unit); err != nil {
		t.Fatalf("size %q: %v", m[1], err)
	}
	mult := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
	if mult == 0 {
		t.Fatalf("unit in %q", m[1])
	}
	return int64(v * mult)
}

// waitFor polls a process's stderr until it contains want.
func waitFor(t testing.TB, b *testutil.Buffer, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v in:\n%s", want, within, b)
		}
		time.Sleep(20 * time.Millisecond) // polling output
	}
}

// TestPermissionErrors runs the binaries as the unprivileged user "nobody"
// (root reads and writes everything, so only then do permissions bite): a
// file it may not read and a folder it may not write get clear errors.
func TestPermissionErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	epicshare, _ := binaries(t)
	must(t, os.Chmod(filepath.Dir(epicshare), 0o755))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}

	dir, err := os.MkdirTemp("", "epicshare-perm-")
	must(t, err)
	defer os.RemoveAll(dir)
	must(t, os.Chmod(dir, 0o755))
	secret := filepath.Join(dir, "secret.txt")
	must(t, os.WriteFile(secret, []byte("root only"), 0o600))

	p := start(t, ctx, epicshare, "send", "--listen", "127.0.0.1:0", "--interface", "lo", secret)
	p.cmd.SysProcAttr = nobody
	p.run(t)
	if code := p.exitCode(t, 30*time.Second); code != 1 || !strings.Contains(p.stderr.String(), "permission denied") {
		t.Errorf("send of an unreadable file: exit %d, stderr:\n%s", code, p.stderr)
	}

	// A share that nobody may read, received into a folder nobody may not write.
	public := filepath.Join(dir, "public.txt")
	must(t, os.WriteFile(public, []byte("for all"), 0o644))
	sender := start(t, ctx, epicshare, "send", "--listen", "127.0.0.1:0", "--interface", "lo", public)
	link := sender.firstLine(t)
	recv := start(t, ctx, epicshare, "receive", "--out", dir, "--interface", "lo", link)
	recv.cmd.SysProcAttr = nobody
	recv.run(t)
	if code := recv.exitCode(t, 30*time.Second); code != 1 || !strings.Contains(recv.stderr.String(), "not writable") {
		t.Errorf("receive into a read-only folder: exit %d, stderr:\n%s", code, recv.stderr)
	}
	waitFor(t, sender.stderr, "cannot write", 30*time.Second)
}

// TestSendKeep serves two receivers one after the other, then stops on
// Ctrl-C with success.
func TestSendKeep(t *testing.T) {
	epicshare, _ := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := t.TempDir()
	makeTree(t, src, 1<<20)
	sender := start(t, ctx, epicshare, append(append([]string{"send", "--keep", "--listen", "127.0.0.1:0"}, loopbackFlags...), filepath.Join(src, "docs"))...)
	link := sender.firstLine(t)
	for i := range 2 {
		out := t.TempDir()
		recv := start(t, ctx, epicshare, append(append([]string{"receive", "--out", out}, loopbackFlags...), link)...)
		recv.run(t)
		if code := recv.exitCode(t, time.Minute); code != 0 {
			t.Fatalf("receiver %d exited %d:\n%s", i, code, recv.stderr)
		}
		if digest(t, filepath.Join(out, "docs")) != digest(t, filepath.Join(src, "docs")) {
			t.Fatalf("receiver %d got a different tree", i)
		}
	}
	sender.cmd.Process.Signal(os.Interrupt)
	if code := sender.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("send --keep exited %d after Ctrl-C:\n%s", code, sender.stderr)
	}
	if n := strings.Count(sender.stderr.String(), ": done,"); n != 2 {
		t.Errorf("sender reported %d receivers done, want 2:\n%s", n, sender.stderr)
	}
}
