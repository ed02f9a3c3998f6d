package wire_test

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/epicshare/epicshare/internal/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/handshake-vectors.json from the Go code")

// vectorFile is the golden file both implementations of the handshake
// check themselves against: this test for Go, assets/testdata/vectors.mjs
// (run by node from package assets' tests) for the browser pages.
const vectorFile = "testdata/handshake-vectors.json"

type vectors struct {
	Keys         []keyVector  `json:"keys"`
	MACs         []macVector  `json:"macs"`
	Verification []codeVector `json:"verification"`
}

type keyVector struct {
	Secret string `json:"secret"`
	Kind   string `json:"kind"`
	Key    string `json:"key"` // hex
}

type macVector struct {
	Kind   string      `json:"kind"` // of the link
	Secret string      `json:"secret"`
	Dir    string      `json:"dir"`
	NonceG string      `json:"nonceG"`
	NonceH string      `json:"nonceH"`
	Signal wire.Signal `json:"signal"` // as sent: with seq, nonce and mac
}

type codeVector struct {
	Offerer, Answerer, Code string
}

func makeVectors(t *testing.T) vectors {
	const secret, nonceG, nonceH = "BBBBBBBBBBBBBBBBBBBBBA", "gggggggggggggggggggggg", "hhhhhhhhhhhhhhhhhhhhhg"
	var v vectors
	mid, idx := "0", uint16(0)
	for _, kind := range []wire.LinkKind{wire.ShareLink, wire.ReceiveLink} {
		key, err := wire.DeriveKey(secret, kind)
		if err != nil {
			t.Fatal(err)
		}
		v.Keys = append(v.Keys, keyVector{Secret: secret, Kind: kind.String(), Key: hex.EncodeToString(key[:])})
		for _, tc := range []struct {
			dir string
			sg  wire.Signal
		}{
			{wire.DirToHost, wire.Signal{Kind: wire.SignalHello, Nonce: nonceG, Seq: 1}},
			{wire.DirToGuest, wire.Signal{Kind: wire.SignalOffer, SDP: "v=0\r\na=fingerprint:sha-256 AA:BB\r\n", Nonce: nonceH, Seq: 1}},
			{wire.DirToHost, wire.Signal{Kind: wire.SignalAnswer, SDP: "v=0\r\na=fingerprint:sha-256 CC:DD\r\n", Seq: 2}},
			{wire.DirToGuest, wire.Signal{Kind: wire.SignalCandidate, Seq: 2, Candidate: &wire.Candidate{Candidate: "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}}},
			{wire.DirToHost, wire.Signal{Kind: wire.SignalCandidate, Seq: 3, Candidate: &wire.Candidate{Candidate: "candidate:2 1 udp 1 10.0.0.2 5001 typ host"}}},
		} {
			sg := tc.sg
			h := nonceH
			if sg.Kind == wire.SignalHello {
				h = ""
			}
			sg.MAC = key.Tag(wire.MACInput(sg.Kind, tc.dir, nonceG, h, sg.Seq, wire.SignalBody(sg)))
			v.MACs = append(v.MACs, macVector{Kind: kind.String(), Secret: secret, Dir: tc.dir, NonceG: nonceG, NonceH: nonceH, Signal: sg})
		}
	}
	for _, fp := range [][2]string{{"sha-256 AA:BB", "sha-256 CC:DD"}, {"SHA-256 0A:FF", "sha-256 0a:ff"}} {
		v.Verification = append(v.Verification, codeVector{fp[0], fp[1], wire.VerificationCode(fp[0], fp[1])})
	}
	return v
}

// TestHandshakeVectors pins the handshake's keys, tags and verification
// codes: a change to any of them breaks every peer already installed, so
// it must be deliberate (go test -run HandshakeVectors -update).
func TestHandshakeVectors(t *testing.T) {
	got, err := json.MarshalIndent(makeVectors(t), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(vectorFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the handshake no longer computes %s; run with -update only if the change is meant", vectorFile)
	}
}
