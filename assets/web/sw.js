// Service worker for streamed downloads. The page (download.js) opens one
// stream per file by posting {kind: "open"} with a MessagePort, then loads
// dl/<id>/<name> in a hidden frame; this worker answers that request with
// the stream, so the browser writes the file to disk as it arrives instead
// of the page holding it in memory. Browsers give service workers to
// secure origins only.
//
// A browser may stop a worker it thinks idle (Firefox after 30 s, and
// messages on a MessagePort do not count as activity there), and nothing
// tells the page when it does. So the page pings the worker through its
// controller every few seconds, which keeps it running, and each answer
// names the streams this worker instance holds: a restarted worker knows
// none of them, and the page knows at once that the download was cut.
// The page calls a file saved only when this worker answers "saved",
// which it does once the browser has taken every byte from the stream and
// the count matches what the page sent.

// Version of the page ⇄ worker messages; the page falls back to keeping
// files in memory when an old worker answers with another.
const VERSION = 2;
const streams = new Map(); // id → download

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("message", (e) => {
  const m = e.data || {};
  if (m.kind === "hello" || m.kind === "ping") {
    const ids = Array.isArray(m.ids) ? m.ids : [];
    e.source?.postMessage({ kind: m.kind === "hello" ? "hello" : "pong", seq: m.seq, version: VERSION, known: ids.filter((id) => streams.has(id)) });
  } else if (m.kind === "open" && typeof m.id === "string" && e.ports[0]) {
    streams.set(m.id, download(m.id, String(m.name), Number(m.size) || 0, e.ports[0]));
  }
});

// download is one file's stream. It hands the browser one chunk per read
// (highWaterMark 0), so a read after the last chunk means the browser has
// taken them all.
function download(id, name, size, port) {
  const queue = [];
  let controller, wake = null, over = false, fetched = false, settle;
  const settled = new Promise((r) => (settle = r));
  let received = 0, handed = 0, end = -1;
  const finish = (reply) => {
    over = true;
    queue.length = 0;
    port.postMessage(reply);
    port.close();
    settle();
    // Still known for a while, so that a ping crossing this reply on the
    // other channel does not read as a restarted worker.
    setTimeout(() => streams.delete(id), 60_000);
  };
  const stream = new ReadableStream({
    start(c) {
      controller = c;
    },
    async pull() {
      while (!over) {
        if (queue.length) {
          const b = queue.shift();
          handed += b.byteLength;
          controller.enqueue(b);
          return;
        }
        if (end >= 0) {
          if (received !== end || handed !== end) {
            controller.error(new Error("byte count mismatch"));
            return finish({ kind: "error", message: `the worker had ${received} bytes of ${end}` });
          }
          controller.close();
          return finish({ kind: "saved", bytes: handed });
        }
        await new Promise((r) => (wake = r));
      }
    },
    cancel() {
      // The browser (or the person, in its downloads list) cancelled it.
      if (!over) finish({ kind: "cancelled" });
    },
  }, { highWaterMark: 0 });
  port.onmessage = ({ data }) => {
    if (over) return;
    if (data instanceof ArrayBuffer) {
      received += data.byteLength;
      queue.push(new Uint8Array(data));
    } else if (data && data.kind === "end") {
      end = Number(data.bytes);
    } else if (data && data.kind === "abort") {
      // The page gave up on the file: an errored stream makes the browser
      // drop the download instead of keeping a part of it.
      over = true;
      queue.length = 0;
      controller.error(new Error(String(data.reason)));
      port.close();
      settle();
      setTimeout(() => streams.delete(id), 60_000);
    }
    const w = wake;
    wake = null;
    w?.();
  };
  port.postMessage({ kind: "ready" });
  return {
    settled,
    get fetched() {
      return fetched;
    },
    response() {
      fetched = true;
      port.postMessage({ kind: "started" });
      return new Response(stream, {
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(size),
          "Content-Disposition": "attachment; filename*=UTF-8''" + encodeURIComponent(name),
        },
      });
    },
  };
}

self.addEventListener("fetch", (e) => {
  const m = /\/dl\/([A-Za-z0-9_-]+)\//.exec(new URL(e.request.url).pathname);
  if (!m) return;
  const s = streams.get(m[1]);
  if (!s || s.fetched) {
    // A stream this worker does not hold (it was restarted, or the frame
    // was reloaded): never let the request reach the server.
    e.respondWith(new Response("This download is no longer available.", { status: 410 }));
    return;
  }
  e.respondWith(s.response());
  // Work in progress for the browser: Firefox keeps a worker with pending
  // work for up to 5 minutes even without the page's pings.
  e.waitUntil(s.settled);
});
