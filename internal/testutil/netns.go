package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// LAN is a local network for tests that must never touch the machine's
// own: every device is a network namespace of its own with a veth (eth0)
// into a bridge, itself in a namespace of its own; the test makes them
// and removes them. Multicast (mDNS) flows on that bridge only. Devices
// are processes started in a namespace (Command), or, in one test
// process, sockets made with a thread switched into it (In, Listen,
// Dialer): a socket stays in the namespace it was made in.
type LAN struct {
	t     testing.TB
	Names []string // the devices' namespaces
	Addrs []string // their IPv4 addresses, on eth0
	hub   string   // the bridge's namespace
}

var lans atomic.Int64

// NewLAN makes n devices, 10.88.0.1 to 10.88.0.n (and IPv6 link-local
// addresses), on one bridge. It skips the test unless run as root.
func NewLAN(t testing.TB, n int) *LAN {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	prefix := fmt.Sprintf("es-lan-%d-%d-", os.Getpid(), lans.Add(1))
	hub := prefix + "hub"
	l := &LAN{t: t}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("netns", "add", hub)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", hub).Run() })
	ip("-n", hub, "link", "add", "br0", "type", "bridge")
	ip("-n", hub, "link", "set", "br0", "up")
	for i := range n {
		ns := fmt.Sprintf("%sd%d", prefix, i+1)
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		port := fmt.Sprintf("p%d", i+1)
		ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip("-n", hub, "link", "set", port, "master", "br0", "up")
		addr := fmt.Sprintf("10.88.0.%d", i+1)
		ip("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
		ip("-n", ns, "link", "set", "lo", "up")
		l.Names = append(l.Names, ns)
		l.Addrs = append(l.Addrs, addr)
	}
	l.hub = hub
	return l
}

// SecondLink gives device i a second interface, eth1, into the same
// bridge with only an IPv6 link-local address: a machine on Wi-Fi and
// Ethernet at once.
func (l *LAN) SecondLink(i int) {
	l.t.Helper()
	port := fmt.Sprintf("q%d", i+1)
	for _, args := range [][]string{
		{"-n", l.hub, "link", "add", port, "type", "veth", "peer", "name", "eth1", "netns", l.Names[i]},
		{"-n", l.hub, "link", "set", port, "master", "br0", "up"},
		{"-n", l.Names[i], "link", "set", "eth1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			l.t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	// Its link-local address comes once duplicate detection is done.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("ip", "-n", l.Names[i], "-6", "addr", "show", "dev", "eth1", "scope", "link").Output()
		if strings.Contains(string(out), "inet6") && !strings.Contains(string(out), "tentative") {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("eth1 of device %d has no link-local address:\n%s", i+1, out)
		}
		time.Sleep(50 * time.Millisecond) // polling the kernel's address state
	}
}

// In runs fn on a thread switched into device i's namespace.
func (l *LAN) In(i int, fn func()) {
	l.t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		l.t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + l.Names[i])
	if err != nil {
		l.t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		l.t.Fatal(err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it ends with this goroutine
			// rather than serving others in the wrong namespace.
			l.t.Errorf("restore the namespace: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// Dialer dials from device i's namespace.
func (l *LAN) Dialer(i int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		l.In(i, func() { c, err = (&net.Dialer{}).DialContext(ctx, network, addr) })
		return c, err
	}
}

// Listen listens on TCP in device i's namespace.
func (l *LAN) Listen(i int, addr string) net.Listener {
	l.t.Helper()
	var ln net.Listener
	var err error
	l.In(i, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close() })
	return ln
}

// Command is name with args run in device i's namespace.
func (l *LAN) Command(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.Names[i], name}, args...)...)
}
