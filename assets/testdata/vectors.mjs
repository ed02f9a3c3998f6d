// Runs the pages' own handshake and frame code under node, without a
// browser, against the golden vectors Go writes (internal/wire/testdata/
// handshake-vectors.json), and the pages' SHA-256 against node's.
// Exits non-zero, naming each mismatch.
import { readFileSync } from "node:fs";
import { Auth, deriveKey, macInput, signalBody, tag, verificationCode } from "../web/auth.js";
import { cancelFrame, joined, parseCancel, parseFrame } from "../web/frames.js";
import { Sender, manifest } from "../web/sender.js";
import { Receiver } from "../web/receiver.js";
import * as P from "../web/proto.js";
import { Sha256, sha256 } from "../web/sha256.js";
import { createHash } from "node:crypto";

const v = JSON.parse(readFileSync(process.argv[2], "utf8"));
let bad = 0;
const check = (what, got, want) => {
  if (got !== want) { console.error(`${what}: page computes ${got}, Go ${want}`); bad++; }
};
const hex = (b) => Buffer.from(b).toString("hex");

for (const k of v.keys) check(`key of a ${k.kind} link`, hex(deriveKey(k.secret, k.kind)), k.key);
for (const m of v.macs) {
  const s = m.signal, key = deriveKey(m.secret, m.kind);
  const h = s.kind === P.SIGNAL_HELLO ? "" : m.nonceH;
  check(`${m.kind} ${s.kind} #${s.seq} tag`, tag(key, macInput(s.kind, m.dir, m.nonceG, h, s.seq, signalBody(s))), s.mac);
}
// The page's Auth, a guest, signs its hello and opens the host's signals
// exactly as Go does.
for (const kind of ["share", "receive"]) {
  const ms = v.macs.filter((m) => m.kind === kind);
  const a = new Auth(deriveKey(ms[0].secret, kind), ms[0].nonceG);
  check(`${kind} hello sealed by the page`, a.seal({ kind: P.SIGNAL_HELLO }).mac, ms[0].signal.mac);
  for (const m of ms.filter((m) => m.dir === P.DIR_TO_GUEST)) {
    try { a.open(structuredClone(m.signal)); } catch (e) { check(`${kind} ${m.signal.kind} opened by the page`, e.message, "ok"); }
  }
  const forged = structuredClone(ms.find((m) => m.signal.kind === P.SIGNAL_CANDIDATE && m.dir === P.DIR_TO_GUEST).signal);
  forged.seq = 9;
  let refused = false;
  try { a.open(forged); } catch { refused = true; }
  check(`${kind}: a candidate with a changed sequence number refused`, refused, true);
}
for (const c of v.verification) check(`verification code of ${c.Offerer}`, verificationCode(c.Offerer, c.Answerer), c.Code);

// Frames: a long manifest splits at MAX_PAYLOAD, a cancel carries a code.
const long = joined(P.FRAME_MANIFEST_PART, P.FRAME_MANIFEST, { text: "x".repeat(3 * P.MAX_PAYLOAD) });
check("frames of a long manifest", long.map((f) => parseFrame(f).type).join(","), "1,1,1,2");
check("largest frame", Math.max(...long.map((f) => f.length)), P.MAX_FRAME);
const c = parseCancel(parseFrame(cancelFrame(P.CANCEL_DECLINED)).payload);
check("cancel frame", JSON.stringify(c), JSON.stringify({ code: P.CANCEL_DECLINED, detail: "" }));
// The sender page's manifest lists the folders of a picked tree.
// In path order whatever order the browser listed the files in, so the
// same files always make the same manifest (the receiver's resume journal
// is named after it).
const m = manifest([{ path: "trip/day 1/a.jpg", file: { size: 3 } }, { path: "b.txt", file: { size: 0 } }, { path: "trip/b.jpg", file: { size: 1 } }], "hi");
const m2 = manifest([{ path: "trip/b.jpg", file: { size: 1 } }, { path: "b.txt", file: { size: 0 } }, { path: "trip/day 1/a.jpg", file: { size: 3 } }], "hi");
check("manifest of a tree", JSON.stringify(m.entries.map((e) => e.path + (e.dir ? "/" : ""))), JSON.stringify(["b.txt", "trip/", "trip/b.jpg", "trip/day 1/", "trip/day 1/a.jpg"]));
check("the same files picked in another order", JSON.stringify(m2), JSON.stringify(m));
check("manifest text", m.text, "hi");

// The page's two halves of the file protocol against each other, over a
// pair of fake data channels: a tree arrives verified; a sender that sends
// more than it announced is refused.
function channels() {
  const mk = () => ({ readyState: "open", bufferedAmount: 0, binaryType: "", onmessage: null, onclose: null,
    addEventListener() {}, removeEventListener() {} });
  const a = mk(), b = mk();
  a.send = (x) => queueMicrotask(() => b.onmessage?.({ data: x.slice().buffer }));
  b.send = (x) => queueMicrotask(() => a.onmessage?.({ data: x.slice().buffer }));
  return [a, b];
}
async function roundTrip(items, craft) {
  const [a, b] = channels();
  const got = new Map();
  const result = new Promise((resolve) => {
    const rx = new Receiver(b, {
      offer: () => rx.accept(),
      file: (f) => got.set(f.path, []),
      chunk: (f, x) => got.get(f.path).push(x.slice()),
      progress() {},
      verified: () => true,
      finished: () => { rx.confirm(); resolve("ok"); },
      stopped: (w) => resolve("stopped " + w.code),
      refused: (e) => resolve("refused: " + e.message),
      verifyFailed: (f) => resolve("verify " + f.path),
    });
  });
  const sent = new Sender(a, items, "", {}, craft).run().then(() => "sent", (e) => "sender: " + (e.code || e.message));
  return { rx: await result, tx: await sent, got };
}
const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
const items = [{ path: "t/a.bin", file: new Blob([big]) }, { path: "t/e.txt", file: new Blob([]) }];
const ok = await roundTrip(items);
check("JS sender to JS receiver", ok.rx + "/" + ok.tx, "ok/sent");
check("bytes that arrived", concatLen(ok.got.get("t/a.bin")), big.length);
const hostile = await roundTrip(items, (m) => { m.entries[1].size = 10; return m; });
check("more than announced", hostile.rx.startsWith("refused: more data than announced") && hostile.tx.includes(P.CANCEL_PROTOCOL), true);
function concatLen(parts) { return parts.reduce((n, p) => n + p.length, 0); }

// The page's SHA-256 against node's (OpenSSL): every length around the
// block and padding edges and some long ones, fed whole and in pieces of
// random sizes, from views that start at any byte of their buffer (a
// frame's payload starts at byte 5 of its message).
let seed = 1;
const rnd = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
for (const n of [...Array(260).keys(), 1000, 4095, 4096, 65531, 200003]) {
  const buf = new Uint8Array(n + 7);
  for (let i = 0; i < buf.length; i++) buf[i] = rnd(256);
  const data = buf.subarray(n % 8, n % 8 + n);
  const want = createHash("sha256").update(data).digest("hex");
  const h = new Sha256();
  for (let o = 0; o < n; ) { const k = Math.min(n - o, rnd(300)); h.update(data.subarray(o, o + k)); o += k; }
  if (hex(sha256(data)) !== want || hex(h.digest()) !== want) check(`SHA-256 of ${n} bytes (the reference is node's here)`, "a different digest", want);
}
// A clone hashes the prefix it was taken at, and the original goes on
// to the whole.
const sevens = new Uint8Array(150).fill(7);
const whole = new Sha256().update(sevens.subarray(0, 100));
const prefix = whole.clone().digest();
whole.update(sevens.subarray(100));
check("SHA-256 of a clone", hex(prefix), createHash("sha256").update(sevens.subarray(0, 100)).digest("hex"));
check("SHA-256 after a clone", hex(whole.digest()), createHash("sha256").update(sevens).digest("hex"));

if (bad) process.exit(1);
console.log(`ok: ${v.keys.length} keys, ${v.macs.length} tags, ${v.verification.length} codes, frames, a JS round trip, SHA-256 of ${260 + 5} lengths`);
