package session_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/epicshare/epicshare/internal/session"
	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/transfer"
)

func withDevice(d *session.Device) session.Config {
	c := cfg
	c.Device = d
	return c
}

// Each side of a connection learns which device the other is, by its
// key: the inbox sees the sender's device (not its name, which anyone
// can take), and a sender that picked a device reaches that one only.
func TestDevicesProveWhoTheyAre(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	desk, laptop := session.NewDevice("Desk"), session.NewDevice("Laptop")
	impostor := session.NewDevice("Laptop") // the same name, another key
	var mu sync.Mutex
	var seen []*session.RemoteDevice
	dir := t.TempDir()
	in, err := session.OpenInbox(ctx, withDevice(desk), broker(t), dir, session.InboxOptions{Confirm: func(_ context.Context, o session.Incoming) error {
		mu.Lock()
		seen = append(seen, o.Device)
		mu.Unlock()
		return nil
	}})
	testutil.Must(t, err)
	defer in.Stop()
	src := tree(t, 1<<20)
	o, err := transfer.NewOffer(src)
	testutil.Must(t, err)

	testutil.Must(t, session.Send(ctx, withDevice(laptop), in.Link(), o, session.SendOptions{Device: desk.ID()}))
	testutil.Must(t, session.Send(ctx, withDevice(impostor), in.Link(), o, session.SendOptions{Device: desk.ID()}))
	testutil.Must(t, session.Send(ctx, cfg, in.Link(), o, session.SendOptions{})) // proves nothing, wants nothing
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] == nil || seen[1] == nil || seen[2] != nil {
		t.Fatalf("the inbox saw devices %+v, want two and then none", seen)
	}
	if *seen[0] != (session.RemoteDevice{ID: laptop.ID(), Name: "Laptop"}) {
		t.Errorf("the first sender proved %+v, want %s", *seen[0], laptop.ID())
	}
	if seen[1].ID != impostor.ID() || seen[1].ID == laptop.ID() || seen[1].Name != "Laptop" {
		t.Errorf("the impostor proved %+v: its own ID under the same name was expected", *seen[1])
	}
}

// A sender that picked a device refuses any other, before sending a
// byte: one whose announcement was copied, or one that proves nothing.
func TestSenderRefusesAnotherDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	desk, picked := session.NewDevice("Desk"), session.NewDevice("Desk")
	for name, c := range map[string]session.Config{"another device": withDevice(desk), "no device": cfg} {
		t.Run(name, func(t *testing.T) {
			ev := newEvents()
			asked := false
			dir := t.TempDir()
			in, err := session.OpenInbox(ctx, c, broker(t), dir, session.InboxOptions{OnEvent: ev.on, Confirm: func(context.Context, session.Incoming) error {
				asked = true
				return nil
			}})
			testutil.Must(t, err)
			defer in.Stop()
			o, err := transfer.NewOffer(tree(t, 64<<10))
			testutil.Must(t, err)
			err = session.Send(ctx, withDevice(session.NewDevice("Laptop")), in.Link(), o, session.SendOptions{Device: picked.ID()})
			if !errors.Is(err, session.ErrWrongDevice) {
				t.Fatalf("Send = %v, want ErrWrongDevice", err)
			}
			e := ev.final(<-ev.done)
			if e.State != session.Failed || !errors.Is(e.Err, session.ErrPickedOther) {
				t.Errorf("the inbox ended %v (%v), want failed: picked another", e.State, e.Err)
			}
			if asked {
				t.Error("the inbox was asked about an offer that never came")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("the inbox's folder holds %v", entries)
			}
		})
	}
}
