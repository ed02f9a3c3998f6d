// Service worker for streamed downloads: the page hands it one stream per
// file through a MessageChannel, then navigates to dl/<id>/<name>; this
// worker answers that request with the stream, so the browser writes the
// file to disk as it arrives instead of the page holding it in memory.
// Only on secure origins: browsers give service workers nowhere else.
const streams = new Map();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("message", (e) => {
  const { id, name, size } = e.data || {};
  const port = e.ports[0];
  if (!id || !port) return;
  const stream = new ReadableStream({
    start(controller) {
      port.onmessage = ({ data }) => {
        if (data === "end") controller.close();
        else if (data && data.abort) controller.error(new Error(data.abort));
        else controller.enqueue(new Uint8Array(data));
      };
    },
    cancel() {
      port.postMessage({ cancelled: true });
    },
  });
  streams.set(id, { stream, name, size });
  port.postMessage({ ready: true });
});

self.addEventListener("fetch", (e) => {
  const m = /\/dl\/([A-Za-z0-9_-]+)\//.exec(new URL(e.request.url).pathname);
  const s = m && streams.get(m[1]);
  if (!s) return;
  streams.delete(m[1]);
  e.respondWith(new Response(s.stream, {
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(s.size),
      "Content-Disposition": "attachment; filename*=UTF-8''" + encodeURIComponent(s.name),
    },
  }));
});
