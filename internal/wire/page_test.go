package wire_test

import (
	"fmt"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
	"github.com/epicshare/epicshare/internal/wire"
)

// TestPageConstantsMatchGo keeps the browser page from drifting from the
// Go definitions.
func TestPageConstantsMatchGo(t *testing.T) {
	page := testutil.PageConstants(t)
	for name, v := range map[string]any{
		"SUBPROTOCOL": wire.Subprotocol, "SOCKET_PATH": wire.SocketPath, "SHARE_PATH": wire.SharePath,
		"TYPE_WELCOME": wire.TypeWelcome, "TYPE_SEND": wire.TypeSend, "TYPE_MESSAGE": wire.TypeMessage,
		"TYPE_LEFT": wire.TypeLeft, "TYPE_ERROR": wire.TypeError, "CODE_UNKNOWN_PEER": wire.CodeUnknownPeer,
		"SIGNAL_HELLO": wire.SignalHello, "SIGNAL_OFFER": wire.SignalOffer, "SIGNAL_ANSWER": wire.SignalAnswer,
		"SIGNAL_CANDIDATE": wire.SignalCandidate, "SIGNAL_BYE": wire.SignalBye,
		"BYE_WRONG_SECRET": wire.ByeWrongSecret, "BYE_TAMPERED": wire.ByeTampered, "BYE_BUSY": wire.ByeBusy,
		"AUTH_SALT": wire.AuthSalt, "AUTH_INFO": wire.AuthInfo,
		"DIR_TO_SENDER": wire.DirToSender, "DIR_TO_RECEIVER": wire.DirToReceiver,
	} {
		want := fmt.Sprintf("%q", v)
		if got, ok := page[name]; !ok || got != want {
			t.Errorf("proto.js %s = %s, Go has %s", name, got, want)
		}
	}
}
