package peer

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// batchPair is a batched sender and a plain receiving socket on loopback.
func batchPair(t *testing.T) (*batchConn, *net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := newBufferedNet().ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b, ok := c.(*socket).UDPConn.(*batchConn)
	if !ok {
		t.Fatalf("ICE sockets write through %T, not batched", c.(*socket).UDPConn)
	}
	t.Cleanup(func() { b.Close() })
	r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.SetReadBuffer(udpBuffer)
	return b, r, r.LocalAddr().(*net.UDPAddr).AddrPort()
}

// datagram i is i's number followed by a size that varies with i, so that
// a datagram cut, merged or swapped shows.
func datagram(i int) []byte {
	return append([]byte(fmt.Sprintf("%05d:", i)), bytes.Repeat([]byte{byte(i)}, 1+i*37%1400)...)
}

// receive reads n datagrams; the deadline only ends a test that fails.
func receive(t *testing.T, r *net.UDPConn, n int) [][]byte {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got [][]byte
	buf := make([]byte, 1<<16)
	for len(got) < n {
		k, _, err := r.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

func TestBatchedDatagramsArriveWholeAndInOrder(t *testing.T) {
	b, r, to := batchPair(t)
	const n = 3*batchSize + 5 // full batches, then a partial one the timer sends
	for i := range n {
		if k, err := b.WriteToAddrPort(datagram(i), to); err != nil || k != len(datagram(i)) {
			t.Fatalf("write %d: %d, %v", i, k, err)
		}
	}
	for i, d := range receive(t, r, n) {
		if !bytes.Equal(d, datagram(i)) {
			t.Fatalf("datagram %d arrived as %q…", i, d[:min(len(d), 12)])
		}
	}
	// A lone datagram, as a STUN check or a SACK, leaves by itself too.
	b.WriteTo([]byte("alone"), net.UDPAddrFromAddrPort(to))
	if got := receive(t, r, 1); string(got[0]) != "alone" {
		t.Fatalf("got %q", got[0])
	}
	// One larger than a batch buffer is sent whole.
	big := bytes.Repeat([]byte("x"), 9000)
	b.WriteToAddrPort(big, to)
	if got := receive(t, r, 1); !bytes.Equal(got[0], big) {
		t.Fatalf("a %d-byte datagram arrived as %d bytes", len(big), len(got[0]))
	}
}

func TestCloseSendsWhatWaits(t *testing.T) {
	b, r, to := batchPair(t)
	for i := range 3 {
		b.WriteToAddrPort(datagram(i), to)
	}
	b.Close()
	if got := receive(t, r, 3); !bytes.Equal(got[2], datagram(2)) {
		t.Fatalf("last datagram %q", got[2])
	}
	if _, err := b.WriteToAddrPort([]byte("late"), to); err == nil {
		t.Error("a write after Close succeeded")
	}
}

func TestBatchedWritesFromManyGoroutines(t *testing.T) {
	b, r, to := batchPair(t)
	const writers, each = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				b.WriteToAddrPort(datagram(w*each+i), to)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, d := range receive(t, r, writers*each) {
		seen[string(d)] = true
	}
	for i := range writers * each {
		if !seen[string(datagram(i))] {
			t.Fatalf("datagram %d lost or damaged", i)
		}
	}
}

func TestADeadlineSendsWhatWasWrittenBeforeIt(t *testing.T) {
	b, r, to := batchPair(t)
	b.WriteToAddrPort(datagram(1), to)
	b.WriteToAddrPort(datagram(2), to)
	b.SetWriteDeadline(time.Now().Add(-time.Second)) // as ICE does before it closes
	if got := receive(t, r, 2); !bytes.Equal(got[1], datagram(2)) {
		t.Fatalf("second datagram %q", got[1])
	}
}

// TestEqualDatagramsLeaveAsRunsAndArriveApart: a burst of equal-size
// datagrams (what QUIC and SCTP send) leaves in coalesced runs, with a
// shorter one ending a run, and still arrives datagram by datagram,
// whole and in order.
func TestEqualDatagramsLeaveAsRunsAndArriveApart(t *testing.T) {
	b, r, to := batchPair(t)
	if !gsoSupported {
		t.Skip("no segmentation offload here")
	}
	var want [][]byte
	for i := range 2*batchSize + 7 {
		d := bytes.Repeat([]byte{byte(i)}, 1400)
		if i%20 == 19 {
			d = d[:300] // ends a run
		}
		copy(d, fmt.Sprintf("%05d:", i))
		want = append(want, d)
	}
	b.mu.Lock()
	for _, d := range want[:batchSize-1] {
		b.queue(d, net.UDPAddrFromAddrPort(to))
	}
	b.queue(want[batchSize-1], net.UDPAddrFromAddrPort(to)) // fills the batch: flushed here
	runs := len(b.firsts)
	b.mu.Unlock()
	if !b.gso {
		t.Skip("this kernel refused segmentation offload")
	}
	if runs != 2 {
		t.Errorf("%d datagrams (one of them short, 19th) left in %d messages, want 2", batchSize, runs)
	}
	for _, d := range want[batchSize:] {
		b.WriteToAddrPort(d, to)
	}
	for i, d := range receive(t, r, len(want)) {
		if !bytes.Equal(d, want[i]) {
			t.Fatalf("datagram %d arrived as %d bytes %q…", i, len(d), d[:min(len(d), 6)])
		}
	}
}

// TestRefusedRunsAreDroppedNotFatal: when the kernel refuses what waits
// (here a destination port 0, EINVAL; a link that is down gives
// ENETDOWN), the batch drops it as a lost packet and goes on.
func TestRefusedRunsAreDroppedNotFatal(t *testing.T) {
	b, r, to := batchPair(t)
	nowhere := netip.AddrPortFrom(to.Addr(), 0)
	b.mu.Lock()
	for i := range batchSize - 1 {
		d := bytes.Repeat([]byte{byte(i)}, 1200)
		if i%2 == 0 {
			b.queue(d, net.UDPAddrFromAddrPort(nowhere))
		} else {
			b.queue(d[:100], net.UDPAddrFromAddrPort(nowhere))
		}
	}
	err := b.flush()
	b.mu.Unlock()
	if err == nil {
		t.Error("a batch to port 0 went without an error")
	}
	b.WriteToAddrPort([]byte("after"), to)
	if got := receive(t, r, 1); string(got[0]) != "after" {
		t.Fatalf("got %q", got[0])
	}
}
