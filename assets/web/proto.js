// The EpicShare protocol as the page speaks it. Every constant here must
// equal its Go definition in internal/wire or internal/transfer; a Go test
// compares them, so the page cannot drift from the app.

import { hkdf32, hmacSha256, sha256, utf8 } from "./sha256.js";

export const SUBPROTOCOL = "epicshare.v1";
export const SOCKET_PATH = "/ws";
export const SHARE_PATH = "/s/";

// Envelope types.
export const TYPE_WELCOME = "welcome";
export const TYPE_SEND = "send";
export const TYPE_MESSAGE = "message";
export const TYPE_LEFT = "left";
export const TYPE_ERROR = "error";
export const CODE_UNKNOWN_PEER = "unknown-peer";

// Signal kinds and bye codes.
export const SIGNAL_HELLO = "hello";
export const SIGNAL_OFFER = "offer";
export const SIGNAL_ANSWER = "answer";
export const SIGNAL_CANDIDATE = "candidate";
export const SIGNAL_BYE = "bye";
export const BYE_WRONG_SECRET = "wrong-secret";
export const BYE_TAMPERED = "tampered";
export const BYE_BUSY = "busy";

// Handshake.
export const AUTH_SALT = "epicshare/v1 salt";
export const AUTH_INFO = "epicshare/v1 signaling mac key";
export const DIR_TO_SENDER = "r2s";
export const DIR_TO_RECEIVER = "s2r";
export const DATA_CHANNEL_LABEL = "epicshare";

// Data-channel frames: 4-byte big-endian length, type, payload.
export const FRAME_MANIFEST_PART = 1;
export const FRAME_MANIFEST = 2;
export const FRAME_ACCEPT = 3;
export const FRAME_DATA = 4;
export const FRAME_FILE_END = 5;
export const FRAME_DONE = 6;
export const FRAME_CANCEL = 7;
export const MAX_FRAME = 65536;

export function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function unb64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const TOKEN = /^[A-Za-z0-9_-]{22}$/;

// parseLink reads the share from the page's own address:
// <server>/s/<sender>#<secret>. The secret never left this device.
export function parseLink(href) {
  const u = new URL(href);
  const i = u.pathname.lastIndexOf(SHARE_PATH);
  const sender = i < 0 ? "" : u.pathname.slice(i + SHARE_PATH.length).replace(/\/$/, "");
  const secret = u.hash.slice(1);
  if (!TOKEN.test(sender)) throw new Error("This address does not name a share.");
  if (!secret) throw new Error("This link is missing its secret, the part after #. Ask for the whole link, or scan the code again.");
  if (!TOKEN.test(secret)) throw new Error("The secret in this link (after #) is damaged. Ask for the whole link, or scan the code again.");
  const scheme = u.protocol === "https:" ? "wss:" : "ws:";
  return { sender, secret, socket: scheme + "//" + u.host + u.pathname.slice(0, i) + SOCKET_PATH };
}

export function deriveKey(secret) {
  return hkdf32(unb64url(secret), utf8(AUTH_SALT), utf8(AUTH_INFO));
}

export function macInput(kind, dir, nonceR, nonceS, seq, body) {
  return ["epicshare/v1", kind, dir, nonceR, nonceS, String(seq), body].join("\n");
}

export function signalBody(s) {
  switch (s.kind) {
    case SIGNAL_OFFER:
    case SIGNAL_ANSWER:
      return s.sdp;
    case SIGNAL_CANDIDATE: {
      const c = s.candidate || {};
      const mid = c.sdpMid == null ? "" : c.sdpMid;
      const idx = c.sdpMLineIndex == null ? "" : String(c.sdpMLineIndex);
      return (c.candidate || "") + "\n" + mid + "\n" + idx;
    }
    case SIGNAL_BYE:
      return s.reason || "";
  }
  return "";
}

export function tag(key, input) {
  return b64url(hmacSha256(key, utf8(input)));
}

// Auth is the receiver's side of the handshake (Go: wire.Auth).
export class Auth {
  constructor(key) {
    this.key = key;
    this.nonceR = b64url(crypto.getRandomValues(new Uint8Array(16)));
    this.nonceS = "";
    this.sent = 0;
    this.seen = 0;
  }

  seal(s) {
    s.nonce = s.kind === SIGNAL_HELLO ? this.nonceR : undefined;
    s.seq = ++this.sent;
    const nonceS = s.kind === SIGNAL_HELLO ? "" : this.nonceS;
    s.mac = tag(this.key, macInput(s.kind, DIR_TO_SENDER, this.nonceR, nonceS, s.seq, signalBody(s)));
    return s;
  }

  // open throws unless s carries a valid tag and a new sequence number.
  open(s) {
    let nonceS = this.nonceS;
    if (s.kind === SIGNAL_OFFER) {
      // A later offer (an ICE restart) must carry the first one's nonce.
      if (this.nonceS && s.nonce !== this.nonceS) throw new Error("offer from another handshake");
      nonceS = s.nonce || "";
    }
    if (!TOKEN.test(nonceS)) throw new Error("signal before the handshake");
    const want = tag(this.key, macInput(s.kind, DIR_TO_RECEIVER, this.nonceR, nonceS, s.seq, signalBody(s)));
    if (want !== s.mac) throw new Error("not signed with this link's secret");
    if (!(s.seq > this.seen)) throw new Error("replayed signal");
    this.seen = s.seq;
    this.nonceS = nonceS;
  }
}

export function sdpFingerprint(sdp) {
  const m = /^a=fingerprint:(.*)$/m.exec(sdp || "");
  return m ? m[1].trim() : "";
}

// verificationCode matches wire.VerificationCode.
export function verificationCode(offererFP, answererFP) {
  const sum = sha256(utf8("epicshare/v1 verification\n" + offererFP.toLowerCase() + "\n" + answererFP.toLowerCase()));
  const n = (((sum[0] << 24) | (sum[1] << 16) | (sum[2] << 8) | sum[3]) >>> 0) % 1000000;
  const s = String(n).padStart(6, "0");
  return s.slice(0, 3) + " " + s.slice(3);
}

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
  if (b.length < 5) throw new Error("short frame");
  const n = new DataView(b.buffer, b.byteOffset).getUint32(0);
  if (n !== b.length - 4) throw new Error("bad frame length");
  return { type: b[4], payload: b.subarray(5) };
}

// safeName flattens a manifest path into one download name.
export function safeName(path) {
  return path.split("/").join(" - ").replace(/[\\:*?"<>|\u0000-\u001f]/g, "_");
}
