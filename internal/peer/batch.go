package peer

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// A data channel is a stream of ~1.2 KB datagrams (Pion's SCTP packets
// are 1,191 bytes), and one sendto per datagram cost the sender about a
// third of its CPU. A batchConn gathers the datagrams ICE writes and
// hands them to the kernel in one sendmmsg: when batchSize are waiting,
// or batchWindow after the first of them, whichever comes first. SCTP
// writes in bursts (a congestion window at a time), so a burst leaves in
// a few system calls; a lone packet (a STUN check, a SACK) waits at most
// batchWindow.
//
// Pion's own udp.BatchConn does the same but runs a ticker at half its
// interval for as long as the socket is open, busy or idle; this one
// arms a timer only while datagrams wait.
//
// On Linux a run of datagrams of one size to one address (a burst of
// QUIC or SCTP packets) leaves as one message with generic segmentation
// offload (UDP_SEGMENT): the kernel walks its UDP and IP stack once per
// run, not once per datagram, and the other side still receives the
// same datagrams. A socket whose kernel or device refuses it goes back
// to one message per datagram.
const (
	batchSize   = 32
	batchWindow = 100 * time.Microsecond
)

// batchWriter is the sendmmsg of ipv4.PacketConn or ipv6.PacketConn.
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchConn is a UDP socket whose writes are batched (see batchSize).
// Reads, deadlines and everything else are the socket's own.
type batchConn struct {
	*net.UDPConn
	out batchWriter

	mu     sync.Mutex
	msgs   []ipv4.Message // the first n wait to be sent
	bufs   [][]byte       // their buffers, reused
	n      int
	gso    bool           // coalesce runs (see segment)
	runs   []ipv4.Message // the coalesced messages of a flush
	firsts []int          // the first datagram of each
	oobs   [][]byte       // their control messages, reused
	timer  *time.Timer    // armed while datagrams wait
	closed bool
	last   netip.AddrPort // the last destination, and it as a net.Addr,
	addr   net.Addr       // since a data channel writes to one address
}

// newBatchConn batches c's writes on Linux; elsewhere it returns c.
func newBatchConn(c *net.UDPConn) transport.UDPConn {
	if runtime.GOOS != "linux" {
		return c
	}
	b := &batchConn{UDPConn: c, msgs: make([]ipv4.Message, batchSize), bufs: make([][]byte, batchSize)}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		b.out = ipv6.NewPacketConn(c)
	} else {
		b.out = ipv4.NewPacketConn(c)
	}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, 0, 1500)
	}
	b.gso = gsoSupported
	b.runs = make([]ipv4.Message, 0, batchSize)
	b.firsts = make([]int, 0, batchSize)
	b.oobs = make([][]byte, batchSize)
	b.timer = time.AfterFunc(time.Hour, b.flushNow)
	b.timer.Stop()
	return b
}

// ReadFromAddrPort reads as the socket does, without allocating an
// address (ICE's AddrPortReaderWriter, which it uses when present).
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.UDPConn.ReadFromUDPAddrPort(p)
}

// WriteToAddrPort queues p for to; ICE writes through it.
func (b *batchConn) WriteToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if to != b.last {
		b.last, b.addr = to, net.UDPAddrFromAddrPort(to)
	}
	return b.queue(p, b.addr)
}

// WriteTo queues p for to.
func (b *batchConn) WriteTo(p []byte, to net.Addr) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queue(p, to)
}

func (b *batchConn) queue(p []byte, to net.Addr) (int, error) {
	if b.closed {
		return b.UDPConn.WriteTo(p, to) // the socket's own error
	}
	b.bufs[b.n] = append(b.bufs[b.n][:0], p...)
	m := &b.msgs[b.n]
	m.Buffers, m.Addr = b.bufs[b.n:b.n+1], to
	b.n++
	if b.n == batchSize {
		return len(p), b.flush()
	}
	if b.n == 1 {
		b.timer.Reset(batchWindow)
	}
	return len(p), nil
}

// flush sends what waits. A datagram the kernel refuses is dropped, as
// a lost one would be: SCTP, QUIC and ICE retransmit.
func (b *batchConn) flush() error {
	b.timer.Stop()
	from := 0
	if b.gso {
		from = b.flushRuns()
	}
	var err error
	for sent := from; sent < b.n; {
		k, werr := b.out.WriteBatch(b.msgs[sent:b.n], 0)
		if werr == nil && k <= 0 {
			werr = errNoProgress
		}
		if werr != nil {
			err = werr
			break
		}
		sent += k
	}
	for i := range b.n {
		b.msgs[i].Addr = nil
	}
	b.n = 0
	return err
}

// errNoProgress is a sendmmsg that sent nothing and said nothing.
var errNoProgress = errors.New("sendmmsg sent nothing")

// maxRun bounds a coalesced run: the kernel takes at most 64 segments
// and 64 KiB per message.
const (
	maxRunSegments = 64
	maxRunBytes    = 60 << 10
)

// flushRuns sends what waits as coalesced runs and returns how many
// datagrams went; the rest, if a run was refused, go one by one.
func (b *batchConn) flushRuns() int {
	b.runs, b.firsts = b.runs[:0], b.firsts[:0]
	for i := 0; i < b.n; {
		size, j, total := len(b.bufs[i]), i+1, len(b.bufs[i])
		for j < b.n && j-i < maxRunSegments && total+len(b.bufs[j]) <= maxRunBytes &&
			len(b.bufs[j]) <= size && sameAddr(b.msgs[j].Addr, b.msgs[i].Addr) {
			total += len(b.bufs[j])
			j++
			if len(b.bufs[j-1]) < size {
				break // a shorter one ends a run
			}
		}
		m := ipv4.Message{Buffers: b.bufs[i:j], Addr: b.msgs[i].Addr}
		if j-i > 1 {
			b.oobs[len(b.runs)] = segment(b.oobs[len(b.runs)], size)
			m.OOB = b.oobs[len(b.runs)]
		}
		b.runs = append(b.runs, m)
		b.firsts = append(b.firsts, i)
		i = j
	}
	for sent := 0; sent < len(b.runs); {
		k, err := b.out.WriteBatch(b.runs[sent:], 0)
		sent += max(k, 0) // -1 with an error
		if err == nil && k <= 0 {
			err = errNoProgress
		}
		if err != nil {
			if sent < len(b.runs) && b.runs[sent].OOB != nil {
				if gsoRefused(err) {
					b.gso = false // for good: the kernel or the device cannot
				}
				return b.firsts[sent] // that run, and the rest, one by one
			}
			sent++ // a single datagram refused: dropped
		}
	}
	for i := range b.runs {
		b.runs[i] = ipv4.Message{}
	}
	return b.n
}

// sameAddr says whether a and c are the same UDP address.
func sameAddr(a, c net.Addr) bool {
	if a == c {
		return true
	}
	ua, ok1 := a.(*net.UDPAddr)
	uc, ok2 := c.(*net.UDPAddr)
	return ok1 && ok2 && ua.Port == uc.Port && ua.IP.Equal(uc.IP) && ua.Zone == uc.Zone
}

func (b *batchConn) flushNow() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flush()
}

// SetWriteDeadline sends what waits, then sets the deadline: what was
// written before it counts as written. (ICE sets a deadline in the past
// to stop writes just before it closes the socket; the last packets of
// a closing connection, its SCTP and DTLS goodbyes, wait here then.)
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.flushNow()
	return b.UDPConn.SetWriteDeadline(t)
}

// SetDeadline is SetWriteDeadline and SetReadDeadline.
func (b *batchConn) SetDeadline(t time.Time) error {
	b.flushNow()
	return b.UDPConn.SetDeadline(t)
}

// Close sends what waits, then closes the socket.
func (b *batchConn) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.flush()
		b.closed = true
	}
	b.mu.Unlock()
	return b.UDPConn.Close()
}
