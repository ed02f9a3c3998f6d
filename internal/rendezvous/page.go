package rendezvous

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/epicshare/epicshare/assets"
	"github.com/epicshare/epicshare/internal/wire"
)

// pages serves the browser pages: the receiver at every share link and
// the sender at every receive link. /s/{id} is the receiver page
// (index.html), /r/{id} the sender page (send.html), and /s/receive.js,
// /r/send.js and their siblings are the files they load, plus icon.png,
// the app's icon (the names never collide: a peer ID has no dot). The
// link's secret stays in the URL fragment, which browsers do not send.
func pages() http.Handler {
	files := http.FileServerFS(assets.Web)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Scripts, styles, sockets and the service worker's download frames
		// from this server only; nothing else.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; img-src 'self' blob: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		page := "index.html"
		if strings.HasPrefix(r.URL.Path, wire.ReceivePath) {
			page = "send.html"
		} else if seg := strings.Split(strings.TrimPrefix(r.URL.Path, wire.SharePath), "/"); seg[0] == "dl" || (len(seg) > 1 && seg[1] == "dl") {
			// A download the page's service worker should have answered
			// (sw.js). A browser that sent it here anyway gets no page
			// to save under the file's name.
			http.Error(w, "This download is answered by the page itself; open the link again.", http.StatusNotFound)
			return
		}
		name := path.Base(r.URL.Path) // /s/ID, /s/ID/ and /s/ID/receive.js alike
		if name == "icon.png" {
			// The app's own icon, for the tab and a phone's home screen.
			h.Set("Content-Type", "image/png")
			w.Write(assets.Icon)
			return
		}
		if _, err := fs.Stat(assets.Web, name); err != nil || strings.HasSuffix(name, ".html") {
			name = page
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		if name == page {
			// FileServer redirects /index.html to /; serve the bytes directly.
			b, err := fs.ReadFile(assets.Web, name)
			if err != nil {
				http.Error(w, "page missing", http.StatusInternalServerError)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.Write(b)
			return
		}
		files.ServeHTTP(w, r2)
	})
}
