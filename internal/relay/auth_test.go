package relay

import (
	"encoding/base64"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

func TestCredentials(t *testing.T) {
	// The TURN REST scheme as coturn computes it: base64(HMAC-SHA1);
	// the password was computed with openssl dgst -sha1 -hmac.
	user, pass := Credentials([]byte("secret"), "peer", time.Unix(1700000000, 0))
	if user != "1700000000:peer" {
		t.Errorf("username %q", user)
	}
	if want := "m9GnlZWvaZKjLjGseKws6UpgiA0="; pass != want {
		t.Errorf("password %q, want %q", pass, want)
	}
	if raw, err := base64.StdEncoding.DecodeString(pass); err != nil || len(raw) != 20 {
		t.Errorf("password is not a base64 SHA-1 HMAC: %v", err)
	}
}

func TestAuthRefusals(t *testing.T) {
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: levelTrace}))
	s := newServer(t, Config{Logger: logger})
	valid := creds("peer")
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	expiredUser, expiredPass := Credentials(testSecret, "peer", time.Now().Add(-time.Minute))
	for _, tc := range []struct {
		name   string
		cr     cred
		reason string
	}{
		{"expired", cred{expiredUser, expiredPass}, reasonExpired},
		{"forged password", cred{valid.user, "Zm9yZ2Vk"}, reasonBadCredential},
		{"password of another peer", cred{valid.user, creds("other").pass}, reasonBadCredential},
		{"no colon", cred{future, "x"}, reasonMalformedUsername},
		{"non-numeric expiry", cred{"soon:peer", "x"}, reasonMalformedUsername},
		{"signed expiry", cred{"+" + future + ":peer", "x"}, reasonMalformedUsername},
		{"empty peer", cred{future + ":", "x"}, reasonMalformedUsername},
		{"overlong peer", cred{future + ":" + strings.Repeat("p", maxPeerLen+1), "x"}, reasonMalformedUsername},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, counted := refusals(t, s), metric(t, s, "epicshare_turn_refused_total", tc.reason)
			_, err := newClient(t, s, tc.cr).Allocate()
			if code := turnCode(err); code != 401 {
				t.Fatalf("Allocate: %v (code %d), want 401", err, code)
			}
			if got := metric(t, s, "epicshare_turn_refused_total", tc.reason) - counted; got != 1 {
				t.Errorf("refused{%s} grew by %v, want 1", tc.reason, got)
			}
			if got := refusals(t, s) - before; got != 1 {
				t.Errorf("refusals grew by %v, want 1: the 401 challenge counted?", got)
			}
		})
	}
	t.Run("valid after refusals", func(t *testing.T) {
		before := refusals(t, s)
		allocate(t, newClient(t, s, valid))
		if got := refusals(t, s); got != before {
			t.Errorf("a valid allocation counted as refused (%v → %v)", before, got)
		}
	})
	for _, secret := range []string{valid.pass, string(testSecret), expiredPass} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

// TestExpiryGrace moves the clock past the expiry of the credential a
// client allocated with. Its CreatePermission and its Refresh (which the
// client sends from Close, with lifetime 0) are accepted within Grace and
// refused after.
func TestExpiryGrace(t *testing.T) {
	start := time.Now()
	clk := &clock{t: start}
	s := newServer(t, Config{Allow: loopback, Now: clk.Now, TTL: time.Hour})
	login := func(peer string) (*tclient, time.Time) {
		servers, expires := s.ICEServers("127.0.0.1", peer)
		return newClient(t, s, cred{servers[1].Username, servers[1].Credential}), expires
	}
	// CreatePermission rather than WriteTo: a write also starts a
	// ChannelBind in the background, which would race the clock.
	permit := func(c *tclient, ip string) error {
		return c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(ip), Port: 9})
	}

	c, expires := login("peer-a")
	relay := allocate(t, c)
	clk.Set(expires.Add(time.Hour))
	if err := permit(c, "127.0.0.2"); err != nil {
		t.Errorf("CreatePermission within the grace: %v", err)
	}
	clk.Set(expires.Add(Grace + time.Minute))
	expired := metric(t, s, "epicshare_turn_refused_total", reasonExpired)
	if err := permit(c, "127.0.0.3"); turnCode(err) != 401 {
		t.Errorf("CreatePermission past the grace: %v, want 401", err)
	}
	if got := metric(t, s, "epicshare_turn_refused_total", reasonExpired); got != expired+1 {
		t.Errorf("refused{expired} = %v, want %v", got, expired+1)
	}

	clk.Set(expires.Add(time.Hour))
	relay.Close()
	eventually(t, "the Refresh within the grace deletes the allocation", func() bool {
		return metric(t, s, "epicshare_turn_allocations") == 0
	})

	clk.Set(start)
	c, expires = login("peer-b")
	relay = allocate(t, c)
	clk.Set(expires.Add(Grace + time.Minute))
	expired = metric(t, s, "epicshare_turn_refused_total", reasonExpired)
	relay.Close()
	eventually(t, "the Refresh past the grace refused", func() bool {
		return metric(t, s, "epicshare_turn_refused_total", reasonExpired) == expired+1
	})
	if got := metric(t, s, "epicshare_turn_allocations"); got != 1 {
		t.Errorf("allocations = %v: a refused Refresh deleted it", got)
	}
	c, _ = login("peer-c") // credentials made at the clock's time
	allocate(t, c)
}

func TestVerdict(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	user := func(expiry time.Time) string { u, _ := Credentials(testSecret, "peer", expiry); return u }
	holds := func(peer string) bool { return peer == "peer" }
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name     string
		username string
		method   stun.Method
		holds    func(string) bool
		reason   string
	}{
		{"valid allocate", user(now.Add(time.Second)), stun.MethodAllocate, none, ""},
		{"valid at expiry", user(now), stun.MethodAllocate, none, ""},
		{"expired allocate", user(now.Add(-time.Second)), stun.MethodAllocate, holds, reasonExpired},
		{"refresh in grace", user(now.Add(-time.Hour)), stun.MethodRefresh, holds, ""},
		{"permission in grace", user(now.Add(-Grace)), stun.MethodCreatePermission, holds, ""},
		{"channel bind in grace", user(now.Add(-time.Hour)), stun.MethodChannelBind, holds, ""},
		{"refresh past grace", user(now.Add(-Grace - time.Second)), stun.MethodRefresh, holds, reasonExpired},
		{"refresh without allocation", user(now.Add(-time.Hour)), stun.MethodRefresh, none, reasonExpired},
		{"connect in grace", user(now.Add(-time.Hour)), stun.MethodConnect, holds, reasonExpired},
		{"malformed", "peer", stun.MethodAllocate, none, reasonMalformedUsername},
		{"negative expiry", "-5:peer", stun.MethodAllocate, none, reasonMalformedUsername},
		{"peer with colon", "1900000000:a:b", stun.MethodAllocate, none, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, reason := verdict(tc.username, tc.method, now, tc.holds); reason != tc.reason {
				t.Errorf("verdict = %q, want %q", reason, tc.reason)
			}
		})
	}
}
