package transfer

import (
	"strconv"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
)

// TestPageFramesMatchGo keeps the browser pages' frame numbers, limits
// and cancel codes equal to the Go definitions.
func TestPageFramesMatchGo(t *testing.T) {
	page := testutil.PageConstants(t)
	for name, v := range map[string]int{
		"FRAME_MANIFEST_PART": int(frameManifestPart), "FRAME_MANIFEST": int(frameManifest), "FRAME_ACCEPT": int(frameAccept),
		"FRAME_DATA": int(frameData), "FRAME_FILE_END": int(frameFileEnd), "FRAME_DONE": int(frameDone),
		"FRAME_CANCEL": int(frameCancel), "FRAME_RESUME_AT": int(frameResumeAt), "FRAME_ACCEPT_PART": int(frameAcceptPart),
		"FRAME_CHECKING": int(frameChecking),
		"MAX_FRAME":      MaxFrame, "MAX_PAYLOAD": MaxPayload, "MAX_TEXT": MaxText,
		"MAX_PATH_BYTES": MaxPathBytes, "MAX_NAME_BYTES": MaxNameBytes,
	} {
		if got := page[name]; got != strconv.Itoa(v) {
			t.Errorf("proto.js %s = %q, Go has %d", name, got, v)
		}
	}
	for name, v := range map[string]string{
		"CANCEL_STOPPED": CancelStopped, "CANCEL_DECLINED": CancelDeclined, "CANCEL_BAD_OFFER": CancelBadOffer,
		"CANCEL_NO_ROOM": CancelNoRoom, "CANCEL_CANNOT_WRITE": CancelCannotWrite, "CANCEL_VERIFY": CancelVerify,
		"CANCEL_PROTOCOL": CancelProtocol, "CANCEL_SOURCE_CHANGED": CancelSourceChanged,
		"CANCEL_DOWNLOAD_CUT": CancelDownloadCut, "CANCEL_DOWNLOAD_CANCELLED": CancelDownloadCancelled,
		"CANCEL_FAILED": CancelFailed,
	} {
		if got := page[name]; got != strconv.Quote(v) {
			t.Errorf("proto.js %s = %s, Go has %q", name, got, v)
		}
	}
}
