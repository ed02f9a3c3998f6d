package rendezvous

import "net/http"

// linkPage explains a share link to someone who opened it in a browser.
// The link itself, secret included, is read by the page from
// location.href: the fragment never reaches this server.
func linkPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Write([]byte(linkPageHTML))
}

const linkPageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EpicShare link</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d1d2b}
h1{font-size:1.4rem}code{display:block;padding:.75rem;background:#f0f1f7;border-radius:.5rem;word-break:break-all}
</style>
</head>
<body>
<h1>Someone is sharing files with you</h1>
<p>Files travel straight from the sender's device to yours. To receive them,
open this link in the EpicShare app, or run:</p>
<code id="cmd">epicshare receive '&lt;this page's full address&gt;'</code>
<p>Keep the whole address, including the part after <b>#</b>: it is the key
to this share, and it never leaves your device.</p>
<script>
document.getElementById("cmd").textContent = "epicshare receive '" + location.href + "'";
</script>
</body>
</html>
`
