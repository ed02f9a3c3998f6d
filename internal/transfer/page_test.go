package transfer

import (
	"strconv"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
)

// TestPageFramesMatchGo keeps the browser page's frame numbers equal to
// the Go definitions.
func TestPageFramesMatchGo(t *testing.T) {
	page := testutil.PageConstants(t)
	for name, v := range map[string]int{
		"FRAME_MANIFEST_PART": int(frameManifestPart), "FRAME_MANIFEST": int(frameManifest), "FRAME_ACCEPT": int(frameAccept),
		"FRAME_DATA": int(frameData), "FRAME_FILE_END": int(frameFileEnd), "FRAME_DONE": int(frameDone),
		"FRAME_CANCEL": int(frameCancel), "MAX_FRAME": MaxFrame,
	} {
		if got := page[name]; got != strconv.Itoa(v) {
			t.Errorf("proto.js %s = %q, Go has %d", name, got, v)
		}
	}
}
