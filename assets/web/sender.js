// The sending half of the file protocol over an open data channel (Go:
// transfer.Send), for the page behind a receive link. It knows nothing of
// the DOM: the view gives it the picked files and a text, and draws what
// it reports. It reads each file in slices (a Blob read never holds more
// than one slice), hashes as it sends, and waits whenever the data
// channel's buffer is full, so memory stays bounded whatever the size.
import * as P from "./proto.js";
import { Sha256 } from "./sha256.js";
import { cancelFrame, concat, frame, joined, parseCancel, parseFrame } from "./frames.js";

// How much is read from a file at once, and the data channel's buffer
// bounds: a write waits above HIGH_WATER until the buffer drains below
// LOW_WATER (Pion's flow-control example; the desktop does the same).
const SLICE = 1 << 20;
const HIGH_WATER = 4 << 20;
const LOW_WATER = 1 << 20;
const CHECKING_EVERY = 1000;

// Stopped is thrown when the other side cancelled; code and detail say why.
export class Stopped extends Error {
  constructor({ code, detail }) {
    super(code + (detail ? ": " + detail : ""));
    this.code = code;
    this.detail = detail;
  }
}

// byPath orders picked items by path: a browser lists a folder's files in
// no fixed order, and the same files must make the same manifest every
// time, or the receiver cannot find what a broken attempt left (its resume
// journal is named after the manifest).
export function byPath(items) {
  return [...items].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// manifest lists items ({path, file} or {path, dir: true}) as Go's
// transfer.Manifest, in path order, with the folders that hold them, and a
// text.
export function manifest(items, text) {
  items = byPath(items);
  const entries = [];
  const dirs = new Set();
  for (const it of items) {
    const parts = it.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) { dirs.add(d); entries.push({ path: d, size: 0, mode: 0o755, dir: true }); }
    }
    if (it.dir) {
      if (!dirs.has(it.path)) { dirs.add(it.path); entries.push({ path: it.path, size: 0, mode: 0o755, dir: true }); }
    } else {
      entries.push({ path: it.path, size: it.file.size, mode: 0o644 });
    }
  }
  const m = { entries };
  if (text) m.text = text;
  return m;
}

// Sender sends items and text over dc. on.progress({done, total, file,
// fileDone, fileSize, resumed}) is called as data leaves, on.sent(path)
// once a file's last byte and hash left; on.accepted() once the receiver
// said yes. run() resolves when the receiver confirmed
// every file verified, and rejects with Stopped if it cancelled, or an
// Error when the connection or a file failed. stop(code, detail) ends it
// from this side.
export class Sender {
  constructor(dc, items, text, on = {}, craft = null) {
    this.dc = dc;
    items = byPath(items);
    this.items = items;
    this.m = manifest(items, text);
    if (craft) this.m = craft(this.m); // a test's hostile manifest
    this.on = on;
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.stopped = false;
    this.files = new Map(); // manifest index → File
    const picked = items.filter((it) => !it.dir);
    let k = 0;
    for (const [i, e] of this.m.entries.entries()) if (!e.dir) this.files.set(i, picked[k++]?.file);
    dc.binaryType = "arraybuffer";
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onmessage = (e) => this.push(e.data);
    dc.onclose = () => this.end(new P.KeyedError("the connection closed", "protocol.closed"));
  }

  push(data) {
    const w = this.waiters.shift();
    if (w) w.resolve(data);
    else this.queue.push(data);
  }

  end(err) {
    if (!this.closed) this.closed = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  // next returns the next frame from the receiver; a cancel is thrown.
  async next() {
    let data = this.queue.shift();
    if (data === undefined) {
      if (this.closed) throw this.closed;
      data = await new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    const f = parseFrame(data);
    if (f.type === P.FRAME_CANCEL) throw new Stopped(parseCancel(f.payload));
    return f;
  }

  async write(b) {
    if (this.closed) throw this.closed;
    if (this.dc.bufferedAmount > HIGH_WATER) {
      await new Promise((resolve) => {
        const done = () => { this.dc.removeEventListener("bufferedamountlow", done); clearInterval(t); resolve(); };
        // The interval also notices a closed channel, which fires no event.
        const t = setInterval(() => { if (this.closed || this.dc.bufferedAmount <= LOW_WATER) done(); }, 250);
        this.dc.addEventListener("bufferedamountlow", done);
      });
      if (this.closed) throw this.closed;
    }
    this.dc.send(b);
  }

  stop(code, detail) {
    if (this.stopped) return;
    this.stopped = true;
    if (this.dc.readyState === "open") this.dc.send(cancelFrame(code, detail));
    this.end(new P.KeyedError("stopped", "protocol.stopped"));
  }

  async run() {
    for (const f of joined(P.FRAME_MANIFEST_PART, P.FRAME_MANIFEST, this.m)) await this.write(f);
    const parts = [];
    for (;;) {
      const f = await this.next();
      if (f.type !== P.FRAME_ACCEPT_PART && f.type !== P.FRAME_ACCEPT) throw new P.KeyedError("the receiver broke the protocol", "protocol.receiverBroke");
      parts.push(f.payload.slice());
      if (parts.reduce((n, p) => n + p.length, 0) > 8 << 20) throw new P.KeyedError("the receiver's answer is too long", "protocol.answerTooLong");
      if (f.type === P.FRAME_ACCEPT) break;
    }
    const accept = JSON.parse(new TextDecoder().decode(concat(parts)));
    const wanted = Array.isArray(accept.files) ? new Set(accept.files) : null;
    const resume = new Map((accept.resume || []).map((r) => [r.file, r]));
    const list = [...this.files.keys()].filter((i) => !wanted || wanted.has(i));
    for (const i of wanted || []) if (!this.files.has(i)) throw new P.KeyedError("the receiver asked for something that is not a file", "protocol.notAFile");
    const total = list.reduce((n, i) => n + this.m.entries[i].size, 0);
    const pr = { done: 0, total, resumed: 0, file: "", fileDone: 0, fileSize: 0 };
    this.on.accepted?.(accept);
    // From here the receiver only speaks to say done or cancel.
    const end = this.next();
    end.catch(() => {});
    let over = null;
    end.then(() => (over = new P.KeyedError("the receiver finished early", "protocol.finishedEarly")), (e) => (over = e));
    try {
      for (const i of list) {
        if (over) throw over;
        await this.sendFile(i, resume.get(i), pr, () => over);
      }
    } catch (err) {
      // A receiver that refuses says why and then closes: its reason
      // arrived before the close did, and says more.
      throw over || err;
    }
    const f = await end;
    if (f.type !== P.FRAME_DONE) throw new P.KeyedError("the receiver broke the protocol", "protocol.receiverBroke");
  }

  // sendFile sends entry i, continuing after the receiver's first bytes if
  // they are the start of this file.
  async sendFile(i, rp, pr, over) {
    const e = this.m.entries[i], file = this.files.get(i);
    Object.assign(pr, { file: e.path, fileDone: 0, fileSize: e.size });
    this.on.progress?.(pr);
    // The file's own size, not the manifest's: if they differ (a test's
    // crafted manifest), the receiver must notice and refuse.
    const size = file.size;
    let h = new Sha256(), pos = 0;
    if (rp) {
      pos = await this.prefix(file, rp, h, over);
      if (pos === 0) h = new Sha256();
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(pos));
      await this.write(frame(P.FRAME_RESUME_AT, b));
      pr.done += pos; pr.resumed += pos; pr.fileDone = pos;
    }
    while (pos < size) {
      if (over()) throw over();
      const chunk = new Uint8Array(await file.slice(pos, Math.min(pos + SLICE, size)).arrayBuffer());
      if (chunk.length === 0) throw new P.KeyedError(`${e.path} changed or cannot be read any more`, "protocol.changed", { path: e.path });
      h.update(chunk);
      for (let o = 0; o < chunk.length; o += P.MAX_PAYLOAD) {
        await this.write(frame(P.FRAME_DATA, chunk.subarray(o, o + P.MAX_PAYLOAD)));
      }
      pos += chunk.length;
      pr.done += chunk.length; pr.fileDone += chunk.length;
      this.on.progress?.(pr);
    }
    await this.write(frame(P.FRAME_FILE_END, h.digest()));
    this.on.sent?.(e.path);
  }

  // prefix hashes the first rp.offset bytes of file into h and returns
  // rp.offset if they hash as the receiver's do, else 0; while it hashes
  // it tells the receiver every second, so its watchdog sees work.
  async prefix(file, rp, h, over) {
    const want = Uint8Array.from(atob(rp.sha256 || ""), (c) => c.charCodeAt(0));
    if (!(rp.offset > 0 && rp.offset <= file.size)) return 0;
    let told = performance.now();
    for (let pos = 0; pos < rp.offset;) {
      if (over()) throw over();
      const chunk = new Uint8Array(await file.slice(pos, Math.min(pos + SLICE, rp.offset)).arrayBuffer());
      if (chunk.length === 0) throw new P.KeyedError(`${file.name} cannot be read any more`, "protocol.unreadable", { path: file.name });
      h.update(chunk);
      pos += chunk.length;
      if (performance.now() - told >= CHECKING_EVERY) {
        await this.write(frame(P.FRAME_CHECKING));
        told = performance.now();
      }
    }
    const got = h.clone().digest();
    return got.length === want.length && got.every((b, k) => b === want[k]) ? rp.offset : 0;
  }
}
