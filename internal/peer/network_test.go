package peer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/testutil"
)

// TestStreamSurvivesLinkCut pulls the (virtual) link between the two
// peers mid-stream and puts it back: every byte must still arrive, in
// order. A cut of 3 s stays under ICE's disconnected timeout, so only
// SCTP's retransmissions bring the data back; one of 12 s outlasts it and
// the offerer's ICE restart (the answerer is the same Pion code the
// receiver runs).
func TestStreamSurvivesLinkCut(t *testing.T) {
	for _, c := range []struct {
		name        string
		cut         time.Duration
		wantRestart bool
	}{
		{"3s", 3 * time.Second, false},
		{"12s", 12 * time.Second, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
			defer cancel()
			vn := testutil.NewVNet(t, 0, 5*time.Millisecond)
			var offers atomic.Int32
			off, ans := pairOn(t, ctx, peer.Config{Net: vn.A}, peer.Config{Net: vn.B}, &offers)

			data := make([]byte, 8<<20)
			rand.Read(data)
			errc := make(chan error, 1)
			go func() {
				for rest := data; len(rest) > 0; rest = rest[min(len(rest), 64<<10):] {
					if _, err := off.Write(rest[:min(len(rest), 64<<10)]); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			got := make([]byte, len(data))
			// Cut once a quarter arrived, so that the cut falls mid-stream.
			if _, err := io.ReadFull(ans, got[:len(got)/4]); err != nil {
				t.Fatal(err)
			}
			vn.Cut(true)
			t0 := time.Now()
			time.AfterFunc(c.cut, func() { vn.Cut(false) })
			if _, err := io.ReadFull(ans, got[len(got)/4:]); err != nil {
				t.Fatalf("after a %s cut: %v", c.cut, err)
			}
			t.Logf("rest arrived %.1fs after the cut began; %d ICE restart offers", time.Since(t0).Seconds(), offers.Load()-1)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("bytes differ")
			}
			if c.wantRestart && offers.Load() < 2 {
				t.Errorf("the link was down %s, past ICE's disconnected timeout, and the offerer tried no ICE restart", c.cut)
			}
		})
	}
}
