// Staged downloads, for Firefox and Safari: each file is written to the origin's
// private file system (OPFS) as it arrives, and handed to the downloads
// only once it verified, as a disk-backed File. Nothing unverified ever
// reaches the downloads folder, and memory stays flat.
//
// Why not the service worker stream (download.js) there: when Firefox
// stops a worker that feeds a download, it completes the download with
// what it got so far, under the file's own name, as if the file had
// ended (measured on Firefox ESR 153; Chromium fails such a download).
// The page's keep-alive makes that rare, but a browser under memory
// pressure may still stop a worker, and a cut file must never pass for
// a whole one. Safari does not let a worker answer a download at all.
// Staging costs a second copy on disk while the file is handed over, so
// an offer that does not fit the origin's quota goes through the worker
// after all in Firefox, and stays in memory in Safari.

import { b64url } from "./auth.js";
import { Cancelled, Cut } from "./download.js";

// NoRoom is a file that the device has no space (or quota) left for.
export class NoRoom extends Error {}

const DIR_PREFIX = "epicshare-";
// Room kept free besides the offer: other sites' data, rounding.
const MARGIN = 64e6;

// workerDownloadsFail tells the engines whose downloads a service worker
// cannot be trusted to feed, and names how: "cut" for Gecko (Firefox on
// desktop and Android), whose download of a stopped worker completes
// with what it got; "bypassed" for WebKit (Safari, and every browser on
// iOS), which sends a download request around the worker to the server
// (StreamSaver.js issue 69); "" for the rest (Chromium's engine). Neither
// can be detected without losing a download, hence the user agent.
export function workerDownloadsFail() {
  const ua = navigator.userAgent;
  if (/\bGecko\/\d/.test(ua) && /\bFirefox\//.test(ua)) return "cut";
  // Chromium says AppleWebKit too, and "HeadlessChrome/" when headless.
  if (navigator.vendor === "Apple Computer, Inc." || (/AppleWebKit\//.test(ua) && !/(Chrome|Chromium)\//.test(ua))) return "bypassed";
  return "";
}

// startStaging resolves to a Stager if this browser can stage total
// bytes in the origin's private file system, or null.
export async function startStaging(total) {
  try {
    if (!window.isSecureContext || !navigator.storage?.getDirectory || !navigator.locks) return null;
    if (typeof FileSystemFileHandle === "undefined" || !("createWritable" in FileSystemFileHandle.prototype)) return null;
    const { quota = 0, usage = 0 } = await navigator.storage.estimate();
    if (quota - usage < total + MARGIN) return null;
    const root = await navigator.storage.getDirectory();
    // Each page stages in a folder of its own, held by a Web Lock for as
    // long as the page lives; a folder nobody holds is left over from an
    // earlier visit and is removed.
    const name = DIR_PREFIX + b64url(crypto.getRandomValues(new Uint8Array(9)));
    await new Promise((locked) => {
      navigator.locks.request(name, () => {
        locked();
        return new Promise(() => {}); // held until the page goes
      });
    });
    await sweep(root);
    const dir = await root.getDirectoryHandle(name, { create: true });
    addEventListener("pagehide", () => root.removeEntry(name, { recursive: true }).catch(() => {}));
    return new Stager(dir);
  } catch {
    return null;
  }
}

async function sweep(root) {
  const held = new Set(((await navigator.locks.query()).held || []).map((l) => l.name));
  for await (const [name] of root.entries()) {
    if (name.startsWith(DIR_PREFIX) && !held.has(name)) await root.removeEntry(name, { recursive: true }).catch(() => {});
  }
}

class Stager {
  constructor(dir) {
    this.dir = dir;
    this.n = 0;
  }

  // file starts staging one file that will be saved as name.
  file(name, size) {
    return new StagedFile(this.dir, String(++this.n), name, size);
  }
}

class StagedFile {
  constructor(dir, entry, name, size) {
    this.dir = dir;
    this.entry = entry;
    this.name = name;
    this.sent = 0;
    this.over = false;
    this.done = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    this.chain = (async () => {
      this.handle = await dir.getFileHandle(entry, { create: true });
      this.writer = await this.handle.createWritable();
    })();
    this.chain.catch((e) => this.fail(e));
  }

  write(bytes) {
    if (this.over) return;
    const copy = bytes.slice(); // the frame's buffer is reused
    this.sent += copy.length;
    this.chain = this.chain.then(() => this.writer.write(copy));
    this.chain.catch((e) => this.fail(e));
  }

  // end closes the staged file, checks its size and hands it to the
  // downloads.
  end() {
    if (this.over) return this.done;
    const chain = this.chain.then(async () => {
      await this.writer.close();
      const file = await this.handle.getFile();
      if (file.size !== this.sent) throw new Cut(`staged ${file.size} of ${this.sent} bytes`);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(file);
      a.download = this.name;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      this.settle(null);
    });
    chain.catch((e) => this.fail(e));
    return this.done;
  }

  abort(reason) {
    if (this.over) return;
    this.settle(new Cancelled(String(reason)));
    this.chain.then(() => this.writer.abort()).catch(() => {}).then(() => this.dir.removeEntry(this.entry).catch(() => {}));
  }

  fail(e) {
    if (this.over) return;
    const full = e?.name === "QuotaExceededError" || /quota|space/i.test(String(e?.message));
    this.settle(full ? new NoRoom(String(e?.message)) : e instanceof Error ? e : new Error(String(e)));
    this.writer?.abort().catch(() => {});
    this.dir.removeEntry(this.entry).catch(() => {});
  }

  settle(err) {
    if (this.over) return;
    this.over = true;
    if (err) this.reject(err);
    else this.resolve();
  }
}
