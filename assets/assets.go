// Package assets embeds the files EpicShare ships: the app icon and the
// browser receiver page. It only embeds; nothing here has logic.
package assets

import (
	"embed"
	"io/fs"
)

// Icon is the application icon, 512×512 PNG.
//
//go:embed icon.png
var Icon []byte

//go:embed web
var web embed.FS

// Web holds the browser receiver page: index.html and the style sheet and
// JavaScript modules it loads, all at the top level.
var Web, _ = fs.Sub(web, "web")
