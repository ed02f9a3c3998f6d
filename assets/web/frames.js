// Frames of the file protocol over the data channel, the same for the
// receiving and the sending page (Go: internal/transfer): a 4-byte
// big-endian length, a type byte and the payload, one frame per message.
import { utf8 } from "./sha256.js";
import { FRAME_CANCEL, KeyedError, MAX_PAYLOAD } from "./proto.js";

// frame builds one data-channel frame.
export function frame(type, payload = new Uint8Array(0)) {
  const b = new Uint8Array(5 + payload.length);
  new DataView(b.buffer).setUint32(0, payload.length + 1);
  b[4] = type;
  b.set(payload, 5);
  return b;
}

// parseFrame splits one data-channel message into its type and payload.
export function parseFrame(buf) {
  const b = new Uint8Array(buf);
  if (b.length < 5) throw new KeyedError("short frame", "protocol.badFrame");
  const n = new DataView(b.buffer, b.byteOffset).getUint32(0);
  if (n !== b.length - 4) throw new KeyedError("bad frame length", "protocol.badFrame");
  return { type: b[4], payload: b.subarray(5) };
}

// safeName flattens a manifest path into one download name.
export function safeName(path) {
  return path.split("/").join(" - ").replace(/[\\:*?"<>|\u0000-\u001f]/g, "_");
}

// joined splits a JSON message into frames of type part, the last of type
// last, as Go's writeJoined does for a manifest or an accept.
export function joined(part, last, obj) {
  const b = utf8(JSON.stringify(obj));
  const out = [];
  let o = 0;
  for (; b.length - o > MAX_PAYLOAD; o += MAX_PAYLOAD) out.push(frame(part, b.subarray(o, o + MAX_PAYLOAD)));
  out.push(frame(last, b.subarray(o)));
  return out;
}

// cancelFrame tells the other side why this side stops: a code from
// proto.js (CANCEL_…) and an optional detail, never words for people.
export function cancelFrame(code, detail) {
  return frame(FRAME_CANCEL, utf8(JSON.stringify(detail ? { code, detail: String(detail).slice(0, 500) } : { code })));
}

// parseCancel reads a cancel frame's payload: {code, detail}.
export function parseCancel(payload) {
  try {
    const m = JSON.parse(new TextDecoder().decode(payload));
    return { code: String(m.code || ""), detail: String(m.detail || "").slice(0, 500) };
  } catch {
    return { code: "", detail: "" };
  }
}

export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
