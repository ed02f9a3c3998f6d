package peer

import (
	"os"
	"strings"
	"testing"
)

func TestPageUsesTheChannelLabel(t *testing.T) {
	b, err := os.ReadFile("../../assets/web/proto.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `export const DATA_CHANNEL_LABEL = "`+channelLabel+`";`) {
		t.Errorf("proto.js does not name the data channel %q", channelLabel)
	}
}
