package transfer

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestPageFramesMatchGo keeps the browser page's frame numbers equal to
// the Go definitions.
func TestPageFramesMatchGo(t *testing.T) {
	b, err := os.ReadFile("../../assets/web/proto.js")
	if err != nil {
		t.Fatal(err)
	}
	page := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export const ([A-Z_]+) = (.+);$`).FindAllStringSubmatch(string(b), -1) {
		page[m[1]] = m[2]
	}
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
