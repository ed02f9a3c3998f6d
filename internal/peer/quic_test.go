package peer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

// TestDesktopsMoveToQUIC: two EpicShare peers carry the data over QUIC,
// byte for byte, both ways at once.
func TestDesktopsMoveToQUIC(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	off, ans := pair(t, ctx)
	if off.Transport() != "QUIC" || ans.Transport() != "QUIC" {
		t.Fatalf("transports %s / %s, want QUIC both", off.Transport(), ans.Transport())
	}
	data := make([]byte, 32<<20+77)
	rand.Read(data)
	back := make([]byte, 5<<20+3)
	rand.Read(back)
	write := func(c *peer.Conn, out []byte) {
		for rest := out; len(rest) > 0; {
			n := min(len(rest), 64<<10-len(rest)%7)
			if _, err := c.Write(rest[:n]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			rest = rest[n:]
		}
	}
	go write(off, data)
	go write(ans, back)
	for _, c := range []struct {
		name string
		from *peer.Conn
		want []byte
	}{{"offerer to answerer", ans, data}, {"answerer to offerer", off, back}} {
		got := make([]byte, len(c.want))
		if _, err := io.ReadFull(c.from, got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: bytes differ", c.name)
		}
	}
}

// TestLastWordsBeforeCloseArrive is the transfer's ending: the receiver
// writes its final answer and closes at once, and the sender, reading,
// must get it and then io.EOF.
func TestLastWordsBeforeCloseArrive(t *testing.T) {
	for i := range 5 {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		off, ans := pair(t, ctx)
		if ans.Transport() != "QUIC" {
			t.Fatalf("transport %s, want QUIC", ans.Transport())
		}
		go func() {
			ans.Write([]byte("verified"))
			ans.Close()
		}()
		b, err := io.ReadAll(off)
		if err != nil || string(b) != "verified" {
			t.Fatalf("round %d: got %q, %v; want \"verified\" then io.EOF", i, b, err)
		}
		off.Close()
		cancel()
	}
}

// TestWithoutQUICTheDataChannelCarries: a side that does not offer QUIC
// (a browser, an older EpicShare, one with NoQUIC) keeps both on the
// data channel, which still works; so does a relayed path.
func TestWithoutQUICTheDataChannelCarries(t *testing.T) {
	noQUIC := loopback
	noQUIC.NoQUIC = true
	for _, c := range []struct {
		name     string
		off, ans peer.Config
	}{
		{"offerer without", noQUIC, loopback},
		{"answerer without", loopback, noQUIC},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			off, ans := pairOn(t, ctx, c.off, c.ans, nil)
			if off.Transport() != "SCTP" || ans.Transport() != "SCTP" {
				t.Fatalf("transports %s / %s, want SCTP both", off.Transport(), ans.Transport())
			}
			msg := []byte("over the data channel")
			go off.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(ans, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

// TestQUICOfferIsSignedAndOnlyForSDP: the QUIC line travels in the SDP
// that the handshake signs, and a virtual network (whose sockets are not
// ours) offers none.
func TestQUICOfferIsSignedAndOnlyForSDP(t *testing.T) {
	offers := func(cfg peer.Config) string {
		got := make(chan string, 1)
		p, err := peer.New(peer.NewAPI(cfg), cfg, peer.Offerer, func(s wire.Signal) {
			if s.Kind == wire.SignalOffer {
				select {
				case got <- s.SDP:
				default:
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { p.Connect(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		select {
		case sdp := <-got:
			return sdp
		case <-time.After(10 * time.Second):
			t.Fatal("no offer")
		}
		return ""
	}
	sdp := offers(loopback)
	session, _, _ := strings.Cut(sdp, "\r\nm=")
	if !strings.Contains(session, "\r\na=x-epicshare-quic:1") {
		t.Errorf("offer's session part has no QUIC line:\n%s", session)
	}
	vn := testutil.NewVNet(t, 0, 0)
	if sdp := offers(peer.Config{Net: vn.A}); strings.Contains(sdp, "x-epicshare-quic") {
		t.Error("an offer over a virtual network offers QUIC")
	}
}
