package peer

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

func sdpFingerprint(t *testing.T, id identity) string {
	t.Helper()
	fps, err := id.webrtc.GetFingerprints()
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range fps {
		if fp.Algorithm == "sha-256" {
			return fp.Algorithm + " " + fp.Value
		}
	}
	t.Fatalf("no sha-256 fingerprint in %v", fps)
	return ""
}

// TestFingerprintIsDTLSs: QUIC checks the peer certificate against the
// fingerprint as Pion writes it into the SDP for DTLS.
func TestFingerprintIsDTLSs(t *testing.T) {
	a, err := newIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newIdentity()
	fp := sdpFingerprint(t, a)
	if !matchesFingerprint(fp, a.tls.Certificate[0]) {
		t.Errorf("%q does not match its own certificate", fp)
	}
	for _, bad := range []string{sdpFingerprint(t, b), "", "sha-256", "sha-1 " + fp[len("sha-256 "):], fp[:len(fp)-3]} {
		if matchesFingerprint(bad, a.tls.Certificate[0]) {
			t.Errorf("%q matches", bad)
		}
	}
}

// TestQUICRefusesAnotherCertificate: a QUIC handshake goes through only
// when each side's certificate is the one the other's SDP announced.
func TestQUICRefusesAnotherCertificate(t *testing.T) {
	client, _ := newIdentity()
	server, _ := newIdentity()
	stranger, _ := newIdentity()
	for _, c := range []struct {
		name                         string
		clientExpects, serverExpects identity
		ok                           bool
	}{
		{"both as announced", server, client, true},
		{"server not as announced", stranger, client, false},
		{"client not as announced", server, stranger, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			listen := func() *net.UDPConn {
				u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				return u
			}
			st := &quic.Transport{Conn: listen()}
			defer st.Close()
			defer st.Conn.Close()
			ct := &quic.Transport{Conn: listen()}
			defer ct.Close()
			defer ct.Conn.Close()
			ln, err := st.Listen(tlsConfig(server, sdpFingerprint(t, c.serverExpects), true), quicConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			accepted := make(chan error, 1)
			go func() {
				conn, err := ln.Accept(ctx)
				if err == nil {
					// A client's certificate is checked after the
					// server's handshake: a stream shows the outcome.
					_, err = conn.AcceptStream(ctx)
					conn.CloseWithError(0, "")
				}
				accepted <- err
			}()
			conn, err := ct.Dial(ctx, st.Conn.LocalAddr(), tlsConfig(client, sdpFingerprint(t, c.clientExpects), false), quicConfig())
			if err == nil {
				var s *quic.Stream
				if s, err = conn.OpenStreamSync(ctx); err == nil {
					s.Write([]byte{markQUIC})
				}
			}
			serr := <-accepted
			if c.ok && (err != nil || serr != nil) {
				t.Fatalf("handshake failed: client %v, server %v", err, serr)
			}
			if !c.ok && serr == nil {
				t.Fatalf("the server accepted a stream (client error %v)", err)
			}
			if c.name == "server not as announced" && (err == nil || !strings.Contains(err.Error(), errWrongCert.Error())) {
				t.Errorf("client error %v, want %v", err, errWrongCert)
			}
			if conn != nil {
				conn.CloseWithError(0, "")
			}
		})
	}
}
