package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/testutil"
)

// The NAT tests build a small internet out of network namespaces, with
// nothing on the machine's real interfaces:
//
//	inet   198.51.100.1/24 on a bridge: the signal server (https, STUN, TURN)
//	natN   router: wan 198.51.100.1N on the bridge, lan 10.N.0.1/24, nftables masquerade (natKind)
//	hN     a device: 10.N.0.2/24, default route through natN
//
// 198.51.100.0/24 is a documentation range (TEST-NET-2): public to the
// relay's policy, routed nowhere. A router that keeps ports per host
// (plain masquerade: endpoint-independent mapping) lets two devices
// behind two of them connect directly once STUN told each its public
// address; one that gives every destination a new random port
// (masquerade random,fully-random: a symmetric NAT) leaves only the relay.
const (
	labServerIP = "198.51.100.1"
	labDomain   = "share.test"
)

// netLab is one test's set of namespaces; its cleanup deletes them all.
type netLab struct {
	t      testing.TB
	prefix string
	made   []string
}

func newNetLab(t testing.TB) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	l := &netLab{t: t, prefix: fmt.Sprintf("es%d-", os.Getpid())}
	t.Cleanup(func() {
		for _, ns := range l.made {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	l.namespace("inet",
		"ip link add br0 type bridge",
		"ip addr add "+labServerIP+"/24 dev br0",
		"ip link set br0 up")
	return l
}

// ns is the full name of the lab's namespace name.
func (l *netLab) ns(name string) string { return l.prefix + name }

// namespace makes namespace name with loopback up and IPv6 off, then
// runs each command (split at spaces) in it.
func (l *netLab) namespace(name string, cmds ...string) {
	l.t.Helper()
	ns := l.ns(name)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		l.t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	l.made = append(l.made, ns)
	l.in(name,
		"sysctl -q -w net.ipv6.conf.all.disable_ipv6=1",
		"sysctl -q -w net.ipv6.conf.default.disable_ipv6=1",
		"ip link set lo up")
	l.in(name, cmds...)
}

// in runs commands in namespace name.
func (l *netLab) in(name string, cmds ...string) {
	l.t.Helper()
	for _, c := range cmds {
		args := append([]string{"netns", "exec", l.ns(name)}, strings.Fields(c)...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			l.t.Fatalf("in %s: %s: %v\n%s", name, c, err, out)
		}
	}
}

// natKind is how a lab router treats its devices' traffic.
type natKind int

const (
	// keepsPorts: plain masquerade, endpoint-independent mapping.
	keepsPorts natKind = iota
	// symmetric: a new random port for every destination.
	symmetric
	// tcpOnly: keeps ports, but forwards no UDP at all, as some
	// corporate and hotel networks do; only TURN over TCP gets out.
	tcpOnly
)

// device adds router natN of kind and device hN behind it, and returns
// the device's namespace name.
func (l *netLab) device(n int, kind natKind) string {
	l.t.Helper()
	router, host := fmt.Sprintf("nat%d", n), fmt.Sprintf("h%d", n)
	wanIP := fmt.Sprintf("198.51.100.%d", 10+n)
	masquerade := "masquerade"
	if kind == symmetric {
		masquerade = "masquerade random,fully-random"
	}
	l.namespace(router, "sysctl -q -w net.ipv4.ip_forward=1",
		fmt.Sprintf("ip link add wan type veth peer name w%d netns %s", n, l.ns("inet")))
	l.in("inet", fmt.Sprintf("ip link set w%d master br0", n), fmt.Sprintf("ip link set w%d up", n))
	l.namespace(host)
	l.in(router,
		"ip addr add "+wanIP+"/24 dev wan", "ip link set wan up",
		"ip link add lan type veth peer name eth0 netns "+l.ns(host),
		fmt.Sprintf("ip addr add 10.%d.0.1/24 dev lan", n), "ip link set lan up",
		"nft add table ip nat",
		"nft add chain ip nat post { type nat hook postrouting priority 100 ; }",
		"nft add rule ip nat post oifname wan "+masquerade,
		// Like a home router's firewall, drop what nobody behind it asked
		// for. Without this, a peer's packet that arrives before the
		// device behind has sent its own leaves a conntrack entry that
		// takes the port the device's outgoing flow would have kept.
		"nft add table ip filter",
		"nft add chain ip filter input { type filter hook input priority 0 ; }",
		"nft add rule ip filter input iifname wan ct state new drop")
	if kind == tcpOnly {
		l.in(router,
			"nft add chain ip filter forward { type filter hook forward priority 0 ; }",
			"nft add rule ip filter forward meta l4proto udp drop")
	}
	l.in(host,
		fmt.Sprintf("ip addr add 10.%d.0.2/24 dev eth0", n), "ip link set eth0 up",
		fmt.Sprintf("ip route add default via 10.%d.0.1", n))
	return host
}

// command is name run in namespace ns, with env added.
func (l *netLab) command(ctx context.Context, ns string, env []string, name string, args ...string) *proc {
	p := start(l.t, ctx, "ip", append([]string{"netns", "exec", l.ns(ns), name}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	return p
}

// labServer is the signal server of a lab: https on 443 with a test CA,
// the http redirect on 80, STUN and TURN on 3478.
type labServer struct {
	ca  *testutil.TestCA
	url string // https://198.51.100.1
	p   *proc
}

func (l *netLab) server(ctx context.Context, extra ...string) *labServer {
	l.t.Helper()
	_, bin := binaries(l.t)
	ca := testutil.NewTestCA(l.t, labDomain, labServerIP)
	args := append([]string{
		"--addr", labServerIP + ":443", "--http-addr", labServerIP + ":80",
		"--tls-cert", ca.CertFile, "--tls-key", ca.KeyFile,
		"--turn-addr", labServerIP + ":3478", "--state-dir", l.t.TempDir(),
		"--log-level", "debug",
	}, extra...)
	p := l.command(ctx, "inet", nil, bin, args...)
	p.run(l.t)
	waitFor(l.t, p.stderr, "relay listening", 20*time.Second)
	return &labServer{ca: ca, url: "https://" + labServerIP, p: p}
}

// env is what a process needs to trust the lab's server.
func (s *labServer) env() []string { return []string{"SSL_CERT_FILE=" + s.ca.CAFile} }

// relayed is how many bytes the lab's relay has carried, both ways.
func (l *netLab) relayed(s *labServer) float64 {
	l.t.Helper()
	const m = "epicshare_turn_relayed_bytes_total"
	return l.metric(s, m+`{direction="to-peer"}`) + l.metric(s, m+`{direction="from-peer"}`)
}

// metric reads one figure from the server's /metrics, fetched from
// inside the lab by this test binary (see fetchEnv in TestMain).
func (l *netLab) metric(s *labServer, name string) float64 {
	l.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", l.ns("inet"), os.Args[0])
	cmd.Env = append(os.Environ(), append(s.env(), fetchEnv+"="+s.url+"/metrics")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("fetch metrics: %v\n%s", err, out)
	}
	return metricIn(string(out), name)
}

// metricIn returns the value of the series name (with its labels, as
// printed: `x_total{result="ok"}`) in a /metrics text, 0 if absent.
func metricIn(text, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+-]+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestAcrossNATs sends files between devices behind NATs through a
// signal server on the lab's internet, with no setting: the app takes
// the STUN and TURN servers the broker offers in its welcome.
func TestAcrossNATs(t *testing.T) {
	if os.Getenv(natLinkEnv) != "" {
		t.Skip("the outer test")
	}
	lab := newNetLab(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	srv := lab.server(ctx)
	a, b, c, d := lab.device(1, keepsPorts), lab.device(2, keepsPorts), lab.device(3, symmetric), lab.device(4, tcpOnly)
	epicshare, _ := binaries(t)
	ice := []string{"--interface", "eth0"}

	// share starts "epicshare send" on device from and returns its link.
	share := func(from string, flags []string, src ...string) (*proc, string) {
		t.Helper()
		args := slices.Concat([]string{"send", "--server", srv.url}, ice, flags, src)
		p := lab.command(ctx, from, srv.env(), epicshare, args...)
		return p, p.firstLine(t)
	}
	for _, tc := range []struct {
		name, to, path string
		flags          []string
	}{
		// Both NATs keep ports: STUN is enough.
		{"direct", b, "direct through NAT", nil},
		// The receiver's NAT gives every destination a new port: only
		// the built-in TURN server gets through.
		{"relayed", c, "relayed (TURN)", nil},
		// A sender that keeps its addresses to itself, where a direct
		// path exists.
		{"relay-only", b, "relayed (TURN)", []string{"--relay-only"}},
		// A receiver whose network lets no UDP out: TURN over TCP.
		{"tcp-only", d, "relayed (TURN)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			makeTree(t, src, 8<<20)
			before := lab.relayed(srv)
			sender, link := share(a, tc.flags, filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))
			if !strings.HasPrefix(link, srv.url+"/s/") {
				t.Fatalf("link %q, want one on %s", link, srv.url)
			}
			dst := t.TempDir()
			recv := lab.command(ctx, tc.to, srv.env(), epicshare, append(append([]string{"receive", "--verbose", "--out", dst}, ice...), link)...)
			recv.run(t)
			if code := recv.exitCode(t, 2*time.Minute); code != 0 {
				t.Fatalf("receive exited %d:\n%s\nsender:\n%s\nserver:\n%s", code, recv.stderr, sender.stderr, lastLines(srv.p.stderr.String(), 30))
			}
			if got, want := digest(t, dst), digest(t, src); got != want {
				t.Errorf("received tree differs:\n%s\nwant:\n%s", got, want)
			}
			if !strings.Contains(recv.stderr.String(), "Connected ("+tc.path+")") {
				t.Errorf("the receiver says:\n%s\nwant the path %q", recv.stderr, tc.path)
			}
			// Through the NATs the desktops move to QUIC on ICE's path;
			// a relayed path keeps the data channel.
			transport := "transport=QUIC"
			if tc.path == "relayed (TURN)" {
				transport = "transport=SCTP"
			}
			if !strings.Contains(recv.stderr.String(), transport) {
				t.Errorf("the receiver logged:\n%s\nwant %s", recv.stderr, transport)
			}
			relayed := lab.relayed(srv) - before
			if tc.path == "relayed (TURN)" && relayed < 8<<20 || tc.path != "relayed (TURN)" && relayed > 1<<20 {
				t.Errorf("the relay carried %.0f bytes of the 8 MiB file on the path %s", relayed, tc.path)
			}
			t.Logf("%s: relay carried %.1f MB", tc.name, relayed/1e6)
		})
	}
	t.Run("browser-relayed", func(t *testing.T) {
		// Headless Chromium behind the symmetric NAT opens the plain
		// http link: redirected to https with the secret kept, a secure
		// context, the files streamed to disk, through the relay.
		src := t.TempDir()
		makeTree(t, src, 8<<20)
		sender, link := share(a, nil, filepath.Join(src, "docs"), filepath.Join(src, "big.bin"))
		httpLink := "http://" + strings.TrimPrefix(link, "https://")
		env := append(srv.env(), natLinkEnv+"="+httpLink, natSPKIEnv+"="+srv.ca.SPKI, natSrcEnv+"="+src)
		inner := lab.command(ctx, c, env, os.Args[0], "-test.run=^TestBrowserBehindNAT$", "-test.v", "-test.count=1", "-test.timeout=3m")
		inner.run(t)
		if code := inner.exitCode(t, 3*time.Minute); code != 0 {
			t.Fatalf("the browser behind the NAT failed (%d):\n%s\n%s\nsender:\n%s", code, inner.stdout, inner.stderr, sender.stderr)
		}
		t.Logf("%s", lastLines(inner.stdout.String(), 4))
		waitFor(t, sender.stderr, "relayed (TURN)", 10*time.Second)
	})
}
