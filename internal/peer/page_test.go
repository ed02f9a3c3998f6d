package peer

import (
	"strconv"
	"testing"

	"github.com/epicshare/epicshare/internal/testutil"
)

func TestPageUsesTheChannelLabel(t *testing.T) {
	if got := testutil.PageConstants(t)["DATA_CHANNEL_LABEL"]; got != strconv.Quote(channelLabel) {
		t.Errorf("proto.js names the data channel %s, Go %q", got, channelLabel)
	}
}
