// Runs the pages' own handshake and frame code under node, without a
// browser, against the golden vectors Go writes (internal/wire/testdata/
// handshake-vectors.json). Exits non-zero, naming each mismatch.
import { readFileSync } from "node:fs";
import { Auth, deriveKey, macInput, signalBody, tag, verificationCode } from "../web/auth.js";
import { cancelFrame, joined, parseCancel, parseFrame } from "../web/frames.js";
import { manifest } from "../web/sender.js";
import * as P from "../web/proto.js";

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
const m = manifest([{ path: "trip/day 1/a.jpg", file: { size: 3 } }, { path: "b.txt", file: { size: 0 } }], "hi");
check("manifest of a tree", JSON.stringify(m.entries.map((e) => e.path + (e.dir ? "/" : ""))), JSON.stringify(["trip/", "trip/day 1/", "trip/day 1/a.jpg", "b.txt"]));
check("manifest text", m.text, "hi");

if (bad) process.exit(1);
console.log(`ok: ${v.keys.length} keys, ${v.macs.length} tags, ${v.verification.length} codes, frames`);
