package nearby_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/epicshare/epicshare/internal/nearby"
	"github.com/epicshare/epicshare/internal/rendezvous"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

const round = 300 * time.Millisecond

// device is one app on the LAN: a broker and a Node, in its namespace.
type device struct {
	id   string
	node *nearby.Node
	port int
	ann  nearby.Announcement
}

// start starts device i's broker and Node; changes, if set, is told of
// every change of its list.
func start(t *testing.T, l *testutil.LAN, i int, name string) *device {
	t.Helper()
	ln := l.Listen(i, l.Addrs[i]+":0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rendezvous.New(rendezvous.Config{}).Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	d := &device{id: wire.NewPeerID(), port: ln.Addr().(*net.TCPAddr).Port}
	var err error
	l.In(i, func() {
		d.node, err = nearby.Start(nearby.Config{Round: round, Dial: l.Dialer(i)}, d.id)
	})
	if err != nil {
		t.Fatalf("start device %d: %v", i+1, err)
	}
	t.Cleanup(func() { d.node.Close() })
	d.ann = nearby.Announcement{ID: d.id, Name: name, Port: d.port, Inbox: wire.NewPeerID(), Secret: wire.NewSecret()}
	return d
}

func names(ds []nearby.Device) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

// waitList polls d's list until it names exactly want.
func waitList(t *testing.T, d *device, want []string, within time.Duration) []nearby.Device {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := d.node.Devices()
		if slices.Equal(names(got), want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the list is %q after %v, want %q", names(got), within, want)
		}
		time.Sleep(20 * time.Millisecond) // polling the list
	}
}

// Devices on one bridge find each other, with the receive link each
// announces; one that hides, and one that quits without a word, are gone
// within a few rounds.
func TestDevicesFindEachOther(t *testing.T) {
	l := testutil.NewLAN(t, 3)
	a, b, c := start(t, l, 0, "Anna's laptop"), start(t, l, 1, "Büro-PC"), start(t, l, 2, "nobody sees me")
	if err := a.node.Announce(a.ann); err != nil {
		t.Fatal(err)
	}
	if err := b.node.Announce(b.ann); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	got := waitList(t, c, []string{"Anna's laptop", "Büro-PC"}, 10*time.Second)
	t.Logf("both listed %v after they announced", time.Since(t0).Round(time.Millisecond))
	for i, d := range []*device{a, b} {
		g := got[i]
		if g.ID != d.id || g.Inbox != d.ann.Inbox || g.Secret != d.ann.Secret {
			t.Errorf("%s: listed as %+v, announced %+v", d.ann.Name, g.Announcement, d.ann)
		}
		want := fmt.Sprintf("http://%s:%d/r/%s#%s", l.Addrs[i], d.port, d.ann.Inbox, d.ann.Secret)
		if g.Link.String() != want {
			t.Errorf("%s: link %s, want %s", d.ann.Name, g.Link.String(), want)
		}
	}
	// Each lists the other, never itself; c announces nothing.
	waitList(t, a, []string{"Büro-PC"}, 10*time.Second)
	waitList(t, b, []string{"Anna's laptop"}, 10*time.Second)

	b.node.Hide()
	t0 = time.Now()
	waitList(t, c, []string{"Anna's laptop"}, 10*time.Second)
	t.Logf("a hidden device gone after %v", time.Since(t0).Round(time.Millisecond))
	a.node.Close() // the app quits: no goodbye
	t0 = time.Now()
	waitList(t, c, nil, 10*time.Second)
	t.Logf("a device that quit gone after %v", time.Since(t0).Round(time.Millisecond))

	// Visible again, under a new name: listed again.
	b.ann.Name = "Büro-PC (2. Stock)"
	if err := b.node.Announce(b.ann); err != nil {
		t.Fatal(err)
	}
	waitList(t, c, []string{"Büro-PC (2. Stock)"}, 10*time.Second)
}

// An announcement whose broker does not answer (a closed port, or an
// address where no EpicShare broker runs) is never listed.
func TestDeadBrokersAreNotListed(t *testing.T) {
	l := testutil.NewLAN(t, 3)
	a, b, c := start(t, l, 0, "closed port"), start(t, l, 1, "real"), start(t, l, 2, "browser")
	// a announces a port nothing listens on.
	closed := l.Listen(0, l.Addrs[0]+":0")
	a.ann.Port = closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	if err := a.node.Announce(a.ann); err != nil {
		t.Fatal(err)
	}
	if err := b.node.Announce(b.ann); err != nil {
		t.Fatal(err)
	}
	waitList(t, c, []string{"real"}, 10*time.Second)
	// Several rounds more: the closed port stays out.
	time.Sleep(4 * round) // letting rounds pass, not ordering events
	if got := names(c.node.Devices()); !slices.Equal(got, []string{"real"}) {
		t.Errorf("the list is %q", got)
	}
}

func TestAnnouncementsAreChecked(t *testing.T) {
	l := testutil.NewLAN(t, 1)
	d := start(t, l, 0, "x")
	good := d.ann
	cases := map[string]func(a *nearby.Announcement){
		"bad ID":       func(a *nearby.Announcement) { a.ID = "short" },
		"empty name":   func(a *nearby.Announcement) { a.Name = " \t" },
		"no port":      func(a *nearby.Announcement) { a.Port = 0 },
		"big port":     func(a *nearby.Announcement) { a.Port = 70000 },
		"bad inbox":    func(a *nearby.Announcement) { a.Inbox = "../x" },
		"bad secret":   func(a *nearby.Announcement) { a.Secret = "" },
		"control only": func(a *nearby.Announcement) { a.Name = "\x00\x1b" },
	}
	for name, spoil := range cases {
		a := good
		spoil(&a)
		if err := d.node.Announce(a); err == nil {
			t.Errorf("%s: announced", name)
		}
	}
	long := good
	long.Name = strings.Repeat("ü", 40) // 80 bytes: cut to 62
	if err := d.node.Announce(long); err != nil {
		t.Errorf("a long name: %v", err)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"  Anna\n":                     "Anna",
		"a\x00b\x1bc":                  "abc",
		strings.Repeat("é", 40):        strings.Repeat("é", 31),
		strings.Repeat("a", 62) + "日本": strings.Repeat("a", 62),
		"\u200b":                       "\u200b", // a format character, not a control one
	} {
		if got := nearby.CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

// hostile sends raw mDNS responses from device i, as anyone on the
// network may: each announces instance inst of the service with the
// given TXT strings, SRV port and A address.
func hostile(t *testing.T, l *testutil.LAN, i int, records []rawRecord) {
	t.Helper()
	var pc *ipv4.PacketConn
	l.In(i, func() {
		c, err := net.ListenPacket("udp4", l.Addrs[i]+":0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		pc = ipv4.NewPacketConn(c)
		ifc, err := net.InterfaceByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.SetMulticastInterface(ifc); err != nil {
			t.Fatal(err)
		}
	})
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	for _, r := range records {
		if _, err := pc.WriteTo(r.pack(t), nil, group); err != nil {
			t.Fatal(err)
		}
	}
}

type rawRecord struct {
	inst string
	txt  []string
	port uint16
	addr [4]byte
}

func (r rawRecord) pack(t *testing.T) []byte {
	t.Helper()
	name := func(s string) dnsmessage.Name {
		n, err := dnsmessage.NewName(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	svc := name(nearby.Service + ".local.")
	inst := name(r.inst + "." + nearby.Service + ".local.")
	sum := sha256.Sum256([]byte(r.inst))
	host := name(fmt.Sprintf("spoof-%x.local.", sum[:6]))
	hdr := func(n dnsmessage.Name, typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: n, Type: typ, Class: dnsmessage.ClassINET, TTL: 120}
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, Authoritative: true})
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartAnswers())
	must(b.PTRResource(hdr(svc, dnsmessage.TypePTR), dnsmessage.PTRResource{PTR: inst}))
	must(b.SRVResource(hdr(inst, dnsmessage.TypeSRV), dnsmessage.SRVResource{Target: host, Port: r.port}))
	must(b.TXTResource(hdr(inst, dnsmessage.TypeTXT), dnsmessage.TXTResource{TXT: r.txt}))
	must(b.AResource(hdr(host, dnsmessage.TypeA), dnsmessage.AResource{A: r.addr}))
	msg, err := b.Finish()
	must(err)
	return msg
}

// Records anyone on the network may send: malformed ones, a flood, and
// one copying a real device's name and inbox under another ID. None
// hangs or crashes the browser; the malformed and dead ones are never
// listed, the list stays bounded, and the real device is still found.
func TestHostileAnnouncements(t *testing.T) {
	l := testutil.NewLAN(t, 3)
	real, c := start(t, l, 1, "Büro-PC"), start(t, l, 2, "browser")
	if err := real.node.Announce(real.ann); err != nil {
		t.Fatal(err)
	}
	waitList(t, c, []string{"Büro-PC"}, 10*time.Second)
	realAddr := [4]byte{10, 88, 0, 2}
	txt := func(id, name string, extra ...string) []string {
		return append([]string{"v=1", "id=" + id, "n=" + name, "p=" + wire.NewPeerID(), "s=" + wire.NewSecret()}, extra...)
	}
	id := wire.NewPeerID()
	bad := []rawRecord{
		{inst: id, txt: []string{"v=2", "id=" + id, "n=later", "p=" + wire.NewPeerID(), "s=" + wire.NewSecret()}, port: uint16(real.port), addr: realAddr},
		{inst: id, txt: txt(id, strings.Repeat("n", 200)), port: uint16(real.port), addr: realAddr}, // a name over 63 bytes
		{inst: id, txt: txt(id, "twice", "n=again"), port: uint16(real.port), addr: realAddr},
		{inst: id, txt: txt(id, "bad\x07bell"), port: uint16(real.port), addr: realAddr},
		{inst: id, txt: txt("not-an-id", "bad id"), port: uint16(real.port), addr: realAddr},
		{inst: "other", txt: txt(id, "instance is not its ID"), port: uint16(real.port), addr: realAddr},
		{inst: id, txt: []string{"v=1", "id=" + id, "n=no inbox"}, port: uint16(real.port), addr: realAddr},
		{inst: id, txt: txt(id, "port zero"), port: 0, addr: realAddr},
		{inst: id, txt: txt(id, "loopback"), port: uint16(real.port), addr: [4]byte{127, 0, 0, 1}},
	}
	// A flood of well-formed announcements of brokers that do not exist.
	var flood []rawRecord
	for i := range 500 {
		fid := wire.NewPeerID()
		flood = append(flood, rawRecord{inst: fid, txt: txt(fid, fmt.Sprintf("ghost %d", i)), port: 9, addr: [4]byte{10, 88, 0, byte(100 + i%100)}})
	}
	// A copy of the real device's inbox under another ID and its name:
	// its broker answers, so it is listed, but as another device (the
	// handshake proves which device answers).
	copyID := wire.NewPeerID()
	copycat := rawRecord{inst: copyID, txt: []string{"v=1", "id=" + copyID, "n=Büro-PC", "p=" + real.ann.Inbox, "s=" + real.ann.Secret}, port: uint16(real.port), addr: realAddr}
	// (A flood fills the list's room for new devices, MaxDevices, until
	// their brokers fail to answer: what came before it is listed.)
	for range 3 { // across rounds
		hostile(t, l, 0, []rawRecord{copycat})
		hostile(t, l, 0, bad)
		hostile(t, l, 0, flood)
		time.Sleep(round) // letting a round pass, not ordering events
	}
	got := waitList(t, c, []string{"Büro-PC", "Büro-PC"}, 10*time.Second)
	ids := []string{got[0].ID, got[1].ID}
	slices.Sort(ids)
	want := []string{real.id, copyID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("listed IDs %v, want the real one and the copy's %v", ids, want)
	}
	// Once the flood stops, the list is the real device's alone.
	waitList(t, c, []string{"Büro-PC"}, 10*time.Second)
}

// A device on two interfaces of one network (Wi-Fi and Ethernet; here
// the second with IPv6 link-local only) answers on each, with another
// address each time. Listed once checked, it stays listed, at its IPv4
// address.
func TestTwoInterfacesDoNotFlicker(t *testing.T) {
	l := testutil.NewLAN(t, 2)
	l.SecondLink(0)
	a, c := start(t, l, 0, "two links"), start(t, l, 1, "browser")
	if err := a.node.Announce(a.ann); err != nil {
		t.Fatal(err)
	}
	got := waitList(t, c, []string{"two links"}, 10*time.Second)
	for end := time.Now().Add(8 * round); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if now := c.node.Devices(); len(now) != 1 {
			t.Fatalf("the list flickered to %q", names(now))
		} else if now[0].Addr != got[0].Addr {
			t.Fatalf("the device moved from %s to %s", got[0].Addr, now[0].Addr)
		}
	}
	if !got[0].Addr.Addr().Is4() {
		t.Errorf("listed at %s, want its IPv4 address", got[0].Addr)
	}
}

// A device whose only address on the network is IPv6 link-local is
// found at that address, with the interface it is reached on.
func TestIPv6LinkLocalOnly(t *testing.T) {
	l := testutil.NewLAN(t, 2)
	if out, err := exec.Command("ip", "-n", l.Names[0], "-4", "addr", "flush", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("flush: %v\n%s", err, out)
	}
	waitLinkLocal(t, l.Names[0])
	waitLinkLocal(t, l.Names[1])
	// Device 0's broker listens on IPv6 only, like its network.
	ln := l.Listen(0, "[::]:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rendezvous.New(rendezvous.Config{}).Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	a := &device{id: wire.NewPeerID(), port: ln.Addr().(*net.TCPAddr).Port}
	var err error
	l.In(0, func() { a.node, err = nearby.Start(nearby.Config{Round: round, Dial: l.Dialer(0)}, a.id) })
	testutil.Must(t, err)
	defer a.node.Close()
	c := start(t, l, 1, "browser")
	testutil.Must(t, a.node.Announce(nearby.Announcement{ID: a.id, Name: "v6 only", Port: a.port, Inbox: wire.NewPeerID(), Secret: wire.NewSecret()}))
	got := waitList(t, c, []string{"v6 only"}, 10*time.Second)
	// Listed means its broker answered at that address, zone included.
	// (The zone is the interface the answer came in on. Go names it from
	// its index through a table of the process, so in a test whose
	// devices share a process it may bear another namespace's name for
	// that index; dialling maps it back to the same index.)
	ip := got[0].Addr.Addr()
	if !ip.Is6() || !ip.IsLinkLocalUnicast() || ip.Zone() == "" {
		t.Fatalf("listed at %s, want an IPv6 link-local address with its interface", got[0].Addr)
	}
	back, err := wire.ParseLink(got[0].Link.String())
	if err != nil || back.Server.Host != got[0].Link.Server.Host {
		t.Errorf("the link %s parses as %+v, %v", got[0].Link.String(), back, err)
	}
}

func waitLinkLocal(t *testing.T, ns string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("ip", "-n", ns, "-6", "addr", "show", "dev", "eth0", "scope", "link").Output()
		if strings.Contains(string(out), "inet6") && !strings.Contains(string(out), "tentative") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link-local address in %s:\n%s", ns, out)
		}
		time.Sleep(50 * time.Millisecond) // polling the kernel's address state
	}
}

// On a machine with loopback only there is nobody to announce to.
func TestLoopbackOnlyAnnouncesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("es-lo-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	testutil.Must(t, err)
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	testutil.Must(t, err)
	defer target.Close()
	testutil.Must(t, unix.Setns(int(target.Fd()), unix.CLONE_NEWNET))
	_, err = nearby.Start(nearby.Config{}, wire.NewPeerID())
	if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
		t.Fatal(rerr) // the thread stays locked, and ends with the test
	}
	if !errors.Is(err, nearby.ErrNoNetwork) {
		t.Fatalf("Start on loopback only: %v, want ErrNoNetwork", err)
	}
}
