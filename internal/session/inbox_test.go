package session_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/peer"
	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
	"github.com/epicshare/epicshare/internal/wire"
)

func inbox(t *testing.T, ctx context.Context, opts session.InboxOptions) (*session.Inbox, string) {
	t.Helper()
	dir := t.TempDir()
	in, err := session.OpenInbox(ctx, cfg, broker(t), dir, opts)
	testutil.Must(t, err)
	t.Cleanup(in.Stop)
	return in, dir
}

// A receive link: the one who opens it sends, the holder saves, with the
// same verified, confined writes as a share.
func TestInboxReceivesATreeAndText(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ev := newEvents()
	var offered []session.Incoming
	var mu sync.Mutex
	in, dir := inbox(t, ctx, session.InboxOptions{OnEvent: ev.on, Confirm: func(_ context.Context, o session.Incoming) error {
		mu.Lock()
		offered = append(offered, o)
		mu.Unlock()
		return nil
	}})
	if in.Link().Kind != wire.ReceiveLink || !strings.Contains(in.Link().String(), wire.ReceivePath) {
		t.Fatalf("inbox link %s", in.Link())
	}
	src := tree(t, 8<<20)
	o, err := transfer.NewTextOffer("the door code is 4711\nhttps://example.org/map", src)
	testutil.Must(t, err)
	var code string
	err = session.Send(ctx, cfg, in.Link(), o, session.SendOptions{OnConnected: func(c string, _ peer.Path) { code = c }})
	testutil.Must(t, err)
	id := <-ev.done
	e := ev.final(id)
	if e.State != session.Done || e.Result == nil {
		t.Fatalf("inbox event %+v", e)
	}
	if e.Result.Manifest.Text != o.Manifest.Text {
		t.Errorf("text arrived as %q", e.Result.Manifest.Text)
	}
	if got, want := testutil.Digest(t, filepath.Join(dir, "holiday")), testutil.Digest(t, src); got != want {
		t.Fatalf("received tree differs:\n%s\nwant:\n%s", got, want)
	}
	if len(offered) != 1 || offered[0].Code != code || offered[0].Manifest.Files() != o.Manifest.Files() {
		t.Errorf("offered %+v, sender's code %q", offered, code)
	}
}

func TestInboxDecline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	in, dir := inbox(t, ctx, session.InboxOptions{Confirm: func(context.Context, session.Incoming) error { return errors.New("no thanks") }})
	src := tree(t, 1<<20)
	o, err := transfer.NewOffer(src)
	testutil.Must(t, err)
	err = session.Send(ctx, cfg, in.Link(), o, session.SendOptions{})
	var pe *transfer.PeerError
	if !errors.As(err, &pe) || pe.Code != transfer.CancelDeclined || pe.Reason() != "the receiver declined" {
		t.Fatalf("sender got %v, want the receiver's decline", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a declined offer wrote %v", entries)
	}
}

// The same identity gives the same link after a restart; a new identity
// (New code) revokes the old link.
func TestInboxIdentityKeepsAndRevokesTheLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	server := broker(t)
	id := session.NewIdentity()
	first, err := session.OpenInbox(ctx, cfg, server, t.TempDir(), session.InboxOptions{Identity: id})
	testutil.Must(t, err)
	link := first.Link()
	first.Stop()
	again, err := session.OpenInbox(ctx, cfg, server, t.TempDir(), session.InboxOptions{Identity: id})
	testutil.Must(t, err)
	if again.Link().String() != link.String() {
		t.Fatalf("restarted inbox has link %s, was %s", again.Link(), link)
	}
	again.Stop()
	fresh, err := session.OpenInbox(ctx, cfg, server, t.TempDir(), session.InboxOptions{Identity: session.NewIdentity()})
	testutil.Must(t, err)
	defer fresh.Stop()
	o, err := transfer.NewTextOffer("hello")
	testutil.Must(t, err)
	if err := session.Send(ctx, cfg, link, o, session.SendOptions{}); !errors.Is(err, session.ErrShareGone) {
		t.Fatalf("sending to a revoked link: %v, want ErrShareGone", err)
	}
	if _, err := session.OpenInbox(ctx, cfg, server, t.TempDir(), session.InboxOptions{Identity: session.Identity{Token: "bad"}}); err == nil {
		t.Error("a damaged identity was taken")
	}
}

func TestLinkKindsAreNotConfused(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	in, _ := inbox(t, ctx, session.InboxOptions{})
	if _, err := session.Receive(ctx, cfg, in.Link(), t.TempDir(), session.ReceiveOptions{}); !errors.Is(err, session.ErrWrongKind) {
		t.Errorf("receiving from a receive link: %v", err)
	}
	// A receive link edited into a share link reaches the right peer
	// with the wrong key: refused as a wrong secret, nothing moves.
	edited := in.Link()
	edited.Kind = wire.ShareLink
	if _, err := session.Receive(ctx, cfg, edited, t.TempDir(), session.ReceiveOptions{}); !errors.Is(err, session.ErrWrongSecret) {
		t.Errorf("receiving from an edited link: %v, want ErrWrongSecret", err)
	}
	o, err := transfer.NewTextOffer("x")
	testutil.Must(t, err)
	ev := newEvents()
	s := share(t, ctx, broker(t), ev, tree(t, 10))
	if err := session.Send(ctx, cfg, s.Link(), o, session.SendOptions{}); !errors.Is(err, session.ErrWrongKind) {
		t.Errorf("sending into a share link: %v", err)
	}
}

// Ten senders at once, each on its own connection, into one folder.
func TestInboxTenSendersAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ev := newEvents()
	in, dir := inbox(t, ctx, session.InboxOptions{OnEvent: ev.on})
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		src := filepath.Join(t.TempDir(), fmt.Sprintf("phone-%d.bin", i))
		testutil.RandomFile(t, src, 256<<10+int64(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := transfer.NewOffer(src)
			if err == nil {
				err = session.Send(ctx, cfg, in.Link(), o, session.SendOptions{})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// A sender is done once the inbox confirmed the last file; the inbox
	// removes its resume journal just after. Its own Done comes then.
	for range n {
		select {
		case <-ev.done:
		case <-ctx.Done():
			t.Fatal("the inbox did not finish every sender")
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != n {
		t.Errorf("inbox holds %d entries, want %d", len(entries), n)
	}
	for i := range n {
		fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("phone-%d.bin", i)))
		if err != nil || fi.Size() != 256<<10+int64(i) {
			t.Errorf("phone %d: %v", i, err)
		}
	}
}

// A sender that gives up while the inbox still asks withdraws its offer:
// the question's context ends, the sender's reason is the inbox's event,
// and its slot is free again.
func TestInboxOfferWithdrawnWhileAsking(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	asked := make(chan struct{}, 1)
	withdrawn := make(chan struct{})
	ev := newEvents()
	in, dir := inbox(t, ctx, session.InboxOptions{OnEvent: ev.on, Confirm: func(ctx context.Context, _ session.Incoming) error {
		asked <- struct{}{}
		<-ctx.Done() // nobody answers
		close(withdrawn)
		return ctx.Err()
	}})
	o, err := transfer.NewTextOffer("hello?")
	testutil.Must(t, err)
	sctx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- session.Send(sctx, cfg, in.Link(), o, session.SendOptions{}) }()
	<-asked
	stop()
	<-sent
	select {
	case <-withdrawn:
	case <-ctx.Done():
		t.Fatal("the question was never withdrawn")
	}
	e := ev.final(<-ev.done)
	var pe *transfer.PeerError
	if e.State != session.Failed || !errors.As(e.Err, &pe) || pe.Code != transfer.CancelStopped {
		t.Errorf("the inbox ended %v (%v), want the sender's stop", e.State, e.Err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a withdrawn offer wrote %v", entries)
	}
}
