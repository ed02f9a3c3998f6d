package nearby_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests never touch the machine's own network: every device is a
// network namespace of its own with a veth into a bridge, in a
// namespace of its own too, which the test makes and removes. mDNS
// flows on that bridge only. One test process holds every device: the
// sockets of each are made with a thread switched into its namespace
// (they stay there), and its connections through a dialer that does
// the same.

// lan is a bridged network of namespaces.
type lan struct {
	t     *testing.T
	names []string // the devices' namespaces
	addrs []string // their IPv4 addresses, on eth0
}

// newLAN makes n devices, 10.88.0.1 to 10.88.0.n, with IPv6 link-local
// addresses too, on one bridge.
func newLAN(t *testing.T, n int) *lan {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	prefix := fmt.Sprintf("es-nb-%d-", os.Getpid())
	hub := prefix + "hub"
	l := &lan{t: t}
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
		l.names = append(l.names, ns)
		l.addrs = append(l.addrs, addr)
	}
	return l
}

// in runs fn on a thread switched into device i's namespace.
func (l *lan) in(i int, fn func()) {
	l.t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		l.t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + l.names[i])
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

// dialer dials from device i's namespace.
func (l *lan) dialer(i int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		l.in(i, func() { c, err = (&net.Dialer{}).DialContext(ctx, network, addr) })
		return c, err
	}
}

// listen listens on TCP in device i's namespace.
func (l *lan) listen(i int, addr string) net.Listener {
	l.t.Helper()
	var ln net.Listener
	var err error
	l.in(i, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close() })
	return ln
}
