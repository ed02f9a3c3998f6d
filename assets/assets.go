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

// Web holds the browser pages: index.html (the receiver), send.html (the
// sender), the style sheet and JavaScript modules they load, and their
// words, a catalogue per language (lang-<tag>.json, read by i18n.js), all
// at the top level: the broker serves each file by its base name.
var Web, _ = fs.Sub(web, "web")
