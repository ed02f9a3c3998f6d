// Package assets embeds the files EpicShare ships: the app icon and, later,
// the browser receiver page. It only embeds; nothing here has logic.
package assets

import _ "embed"

// Icon is the application icon, 512×512 PNG.
//
//go:embed icon.png
var Icon []byte
