// Streamed downloads: each file goes to the browser's downloads through
// the service worker (sw.js) while it arrives, so a phone never holds a
// whole file in memory. This module is the page's half of that exchange;
// sw.js explains the worker's half and why the page pings it.
//
// A file counts as saved only when the worker answers "saved": it has
// handed the browser every byte the page gave it, and the count matches.
// Anything else (a worker the browser stopped, a download cancelled in the
// browser, a short count) rejects the file's `done` promise, and the page
// says so instead of "saved".

import { b64url } from "./auth.js";

// The page ⇄ worker message version; sw.js has the same constant.
export const WORKER_VERSION = 2;
// Browsers stop a worker after 30 s without events; a ping every 2 s
// keeps it running and finds a stopped one within a few seconds.
const PING_EVERY = 2000;
// A worker that answers no ping for this long is gone, whatever the cause.
const SILENCE = 20000;

// Cut is a download the browser cut short; Cancelled one it cancelled.
export class Cut extends Error {}
export class Cancelled extends Error {}

// startStreaming registers the worker and checks that it speaks this
// page's version. It resolves to null where the browser cannot stream a
// download honestly (no secure origin, no service worker, a worker that
// does not control the page or does not answer): the page then keeps
// files in memory and says so.
export async function startStreaming() {
  if (!window.isSecureContext || !("serviceWorker" in navigator)) return null;
  try {
    const sw = navigator.serviceWorker;
    const reg = await sw.register("sw.js");
    await sw.ready;
    if (!sw.controller) await event(sw, "controllerchange", 3000);
    if (!sw.controller) return null;
    const hello = answer(sw, "hello", 3000);
    sw.controller.postMessage({ kind: "hello" });
    const h = await hello;
    if (!h || h.version !== WORKER_VERSION) {
      reg.update().catch(() => {}); // an old worker: the next visit gets the new one
      return null;
    }
    return new Streamer(sw);
  } catch {
    return null;
  }
}

function event(target, name, ms) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); target.removeEventListener(name, done); resolve(); };
    const t = setTimeout(done, ms);
    target.addEventListener(name, done);
  });
}

function answer(sw, kind, ms) {
  return new Promise((resolve) => {
    const on = (e) => {
      if (e.data?.kind !== kind) return;
      clearTimeout(t);
      sw.removeEventListener("message", on);
      resolve(e.data);
    };
    const t = setTimeout(() => { sw.removeEventListener("message", on); resolve(null); }, ms);
    sw.addEventListener("message", on);
  });
}

class Streamer {
  constructor(sw) {
    this.sw = sw;
    this.open = new Set(); // downloads not yet settled
    this.unanswered = 0; // when the oldest unanswered ping went out
    this.seq = 0;
    sw.addEventListener("message", (e) => {
      if (e.data?.kind === "pong") this.pong(e.data);
    });
    this.timer = setInterval(() => this.ping(), PING_EVERY);
  }

  // file starts the download of one file named name, of size bytes.
  file(name, size) {
    const d = new Download(this, name, size);
    this.open.add(d);
    d.done.finally(() => this.open.delete(d)).catch(() => {});
    return d;
  }

  ping() {
    const worker = this.sw.controller;
    if (!this.open.size) {
      this.unanswered = 0;
      return;
    }
    const now = performance.now();
    if (!worker || (this.unanswered && now - this.unanswered > SILENCE)) {
      for (const d of this.open) d.settle(new Cut("the download worker stopped answering"));
      return;
    }
    if (!this.unanswered) this.unanswered = now;
    const seq = ++this.seq;
    for (const d of this.open) d.askedIn ||= seq;
    worker.postMessage({ kind: "ping", seq, ids: [...this.open].map((d) => d.id) });
  }

  pong(m) {
    this.unanswered = 0;
    const known = new Set(Array.isArray(m.known) ? m.known : []);
    for (const d of this.open) {
      // A worker that does not know a stream it opened was stopped and
      // started again: what it had streamed is cut off.
      if (d.askedIn && d.askedIn <= m.seq && !known.has(d.id)) d.settle(new Cut("the browser stopped the download worker"));
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}

class Download {
  constructor(streamer, name, size) {
    this.id = b64url(crypto.getRandomValues(new Uint8Array(12)));
    this.sent = 0;
    this.askedIn = 0; // the first ping that named it: its answer, and any later, must know it
    this.over = false;
    this.queue = []; // messages until the worker is ready
    this.done = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    const ch = new MessageChannel();
    this.port = ch.port1;
    this.port.onmessage = ({ data }) => this.onMessage(data, name);
    streamer.sw.controller.postMessage({ kind: "open", id: this.id, name, size }, [ch.port2]);
  }

  onMessage(m, name) {
    if (this.over) return;
    switch (m?.kind) {
      case "ready": {
        for (const [msg, transfer] of this.queue) this.port.postMessage(msg, transfer);
        this.queue = null;
        // One hidden frame per file: navigating the page itself would let
        // each download cancel the one before it.
        this.frame = document.createElement("iframe");
        this.frame.hidden = true;
        this.frame.src = "dl/" + this.id + "/" + encodeURIComponent(name);
        document.body.append(this.frame);
        // A browser that holds the download back (asking whether the
        // site may download several files) leaves the page waiting.
        this.stallTimer = setTimeout(() => this.onStall?.(), 10_000);
        return;
      }
      case "started":
        clearTimeout(this.stallTimer);
        return this.onStart?.();
      case "saved":
        return this.settle(m.bytes === this.sent ? null : new Cut(`the browser took ${m.bytes} of ${this.sent} bytes`));
      case "cancelled":
        return this.settle(new Cancelled("the download was cancelled in the browser"));
      case "error":
        return this.settle(new Cut(String(m.message)));
    }
  }

  post(msg, transfer = []) {
    if (this.over) return;
    if (this.queue) this.queue.push([msg, transfer]);
    else this.port.postMessage(msg, transfer);
  }

  // write hands the worker a copy of bytes.
  write(bytes) {
    const b = bytes.slice().buffer; // its own buffer, handed over without a copy
    this.sent += b.byteLength;
    this.post(b, [b]);
  }

  // end says the file is complete and verified; done settles once the
  // worker confirms.
  end() {
    this.post({ kind: "end", bytes: this.sent });
    return this.done;
  }

  // abort makes the browser drop the download.
  abort(reason) {
    this.post({ kind: "abort", reason: String(reason) });
    this.settle(new Cancelled(String(reason)));
  }

  settle(err) {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.stallTimer);
    // Later, so that an abort posted just now still reaches the worker.
    setTimeout(() => this.port.close(), 1000);
    if (err) this.reject(err);
    else this.resolve();
    // The frame has handed its request to the downloads by now.
    const frame = this.frame;
    if (frame) setTimeout(() => frame.remove(), 10_000);
  }
}
