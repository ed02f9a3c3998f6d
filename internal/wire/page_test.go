package wire_test

import (
	"fmt"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

// TestPageConstantsMatchGo keeps the browser pages from drifting from the
// Go definitions: paths, envelope types, error and close codes, signal
// kinds, bye codes and the handshake's strings.
func TestPageConstantsMatchGo(t *testing.T) {
	page := testutil.PageConstants(t)
	for name, v := range map[string]any{
		"SUBPROTOCOL": wire.Subprotocol, "SOCKET_PATH": wire.SocketPath, "SHARE_PATH": wire.SharePath, "RECEIVE_PATH": wire.ReceivePath,
		"CLOSE_UNSUPPORTED_VERSION": wire.CloseUnsupportedVersion, "CLOSE_BAD_TOKEN": wire.CloseBadToken,
		"CLOSE_GOING_AWAY": wire.CloseGoingAway, "CLOSE_REPLACED": wire.CloseReplaced,
		"TYPE_WELCOME": wire.TypeWelcome, "TYPE_ICE": wire.TypeICE, "TYPE_SEND": wire.TypeSend, "TYPE_MESSAGE": wire.TypeMessage,
		"TYPE_LEFT": wire.TypeLeft, "TYPE_ERROR": wire.TypeError,
		"CODE_UNKNOWN_PEER": wire.CodeUnknownPeer, "CODE_BAD_MESSAGE": wire.CodeBadMessage,
		"CODE_RATE_LIMITED": wire.CodeRateLimited, "CODE_TOO_LARGE": wire.CodeTooLarge,
		"SIGNAL_HELLO": wire.SignalHello, "SIGNAL_OFFER": wire.SignalOffer, "SIGNAL_ANSWER": wire.SignalAnswer,
		"SIGNAL_CANDIDATE": wire.SignalCandidate, "SIGNAL_BYE": wire.SignalBye,
		"BYE_WRONG_SECRET": wire.ByeWrongSecret, "BYE_TAMPERED": wire.ByeTampered, "BYE_BUSY": wire.ByeBusy,
		"AUTH_SALT": wire.AuthSalt, "AUTH_INFO": wire.AuthInfo, "AUTH_INFO_RECEIVE": wire.AuthInfoReceive,
		"DIR_TO_HOST": wire.DirToHost, "DIR_TO_GUEST": wire.DirToGuest,
	} {
		want := fmt.Sprint(v)
		if _, ok := v.(string); ok {
			want = fmt.Sprintf("%q", v)
		}
		if got, ok := page[name]; !ok || got != want {
			t.Errorf("proto.js %s = %s, Go has %s", name, got, want)
		}
	}
}
