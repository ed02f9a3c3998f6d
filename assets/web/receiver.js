// The receiving half of the file protocol over an open data channel (Go:
// transfer.Receive), for the page behind a share link. It knows nothing
// of the DOM or of where bytes are kept: it assembles and checks the
// manifest, asks for the files, counts and hashes every byte, checks each
// file's length and SHA-256, and says done only when the view confirms the
// last file is saved. The view (receive.js) stores the bytes and words
// everything for people.
import * as P from "./proto.js";
import { Sha256, utf8 } from "./sha256.js";
import { cancelFrame, concat, frame, parseCancel, parseFrame } from "./frames.js";

// Receiver calls, as frames arrive:
//   offer(m, files)      the manifest, and its files {idx, path, size}
//   file(f)              file f starts (f.got = 0); the view prepares its storage
//   chunk(f, bytes)      bytes of f, in order, already counted and hashed
//   progress(f)          after each chunk (the view throttles its redraws)
//   verified(f)          f's length and hash matched; return false if it could not be stored
//   finished()           every file verified; the view calls confirm() once they are saved
//   stopped({code, detail})   the sender cancelled
//   refused(err)         the sender broke the protocol (told already)
//   verifyFailed(f)      f did not match its hash (told already)
export class Receiver {
  constructor(dc, on) {
    this.dc = dc;
    this.on = on;
    this.parts = [];
    this.files = [];
    this.index = -1;
    this.received = 0; // bytes of the accepted files
    this.total = 0;
    this.over = false;
    dc.onmessage = (e) => {
      if (this.over) return;
      try {
        this.frame(e.data);
      } catch (err) {
        this.cancel(P.CANCEL_PROTOCOL, err.message);
        this.on.refused(err);
      }
    };
  }

  frame(data) {
    const { type, payload } = parseFrame(data);
    switch (type) {
      case P.FRAME_MANIFEST_PART:
      case P.FRAME_MANIFEST:
        if (this.index >= 0 || this.files.length) throw new P.KeyedError("a second manifest", "protocol.secondManifest");
        this.parts.push(payload.slice());
        if (this.parts.reduce((n, p) => n + p.length, 0) > 8 << 20) throw new P.KeyedError("a manifest over 8 MiB", "protocol.manifestTooLong");
        if (type === P.FRAME_MANIFEST) this.manifest(JSON.parse(new TextDecoder().decode(concat(this.parts))));
        return;
      case P.FRAME_DATA: {
        const f = this.files[this.index];
        if (!f || f.got + payload.length > f.size) throw new P.KeyedError("more data than announced", "protocol.moreThanAnnounced");
        f.hash.update(payload);
        f.got += payload.length;
        this.received += payload.length;
        this.on.chunk(f, payload);
        this.on.progress(f);
        return;
      }
      case P.FRAME_FILE_END:
        return this.fileEnd(payload);
      case P.FRAME_CANCEL:
        this.over = true;
        return this.on.stopped(parseCancel(payload));
    }
    throw new P.KeyedError("unexpected frame " + type, "protocol.unexpectedFrame", { type });
  }

  manifest(m) {
    if (typeof m.text === "string" && m.text.length > P.MAX_TEXT) throw new P.KeyedError("a text over the limit", "protocol.textTooLong");
    const entries = Array.isArray(m.entries) ? m.entries : [];
    this.files = entries
      .map((e, idx) => ({ idx, dir: !!e.dir, path: String(e.path), size: Number(e.size) || 0 }))
      .filter((e) => !e.dir);
    if (this.files.some((f) => f.size < 0 || !f.path)) throw new P.KeyedError("a file with a bad name or size", "protocol.badEntry");
    this.total = this.files.reduce((n, f) => n + f.size, 0);
    this.on.offer(m, this.files);
  }

  // accept asks for every file, or only for the file only.
  accept(only) {
    let request = {};
    if (only) {
      this.files = [only];
      this.total = only.size;
      request = { files: [only.idx] };
    }
    this.dc.send(frame(P.FRAME_ACCEPT, utf8(JSON.stringify(request))));
    this.next();
  }

  // next moves to the next file, or says every file verified.
  next() {
    this.index++;
    const f = this.files[this.index];
    if (!f) return this.on.finished();
    Object.assign(f, { hash: new Sha256(), got: 0 });
    this.on.file(f);
  }

  fileEnd(sum) {
    const f = this.files[this.index];
    if (!f || f.got !== f.size) throw new P.KeyedError("a file ended early", "protocol.endedEarly");
    const got = f.hash.digest();
    if (got.length !== sum.length || got.some((b, i) => b !== sum[i])) {
      this.cancel(P.CANCEL_VERIFY, f.path);
      return this.on.verifyFailed(f);
    }
    if (this.on.verified(f) !== false) this.next();
  }

  // confirm tells the sender every file is verified and saved.
  confirm() {
    this.over = true;
    this.dc.send(frame(P.FRAME_DONE));
  }

  // cancel tells the sender why this side stops.
  cancel(code, detail) {
    if (this.over) return;
    this.over = true;
    if (this.dc.readyState === "open") this.dc.send(cancelFrame(code, detail));
  }
}
