// The signed handshake as whoever opens a link runs it (Go: wire.Auth,
// wire.MACInput, wire.VerificationCode). Plain HMAC and SHA-256 from
// sha256.js, so it also works on a plain-http page without crypto.subtle.
import { hkdf32, hmacSha256, sha256, utf8 } from "./sha256.js";
import {
  AUTH_INFO, AUTH_INFO_RECEIVE, AUTH_SALT, DIR_TO_GUEST, DIR_TO_HOST, SIGNAL_ANSWER,
  SIGNAL_BYE, SIGNAL_CANDIDATE, SIGNAL_HELLO, SIGNAL_OFFER, TOKEN,
} from "./proto.js";

export function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function unb64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// deriveKey is the MAC key of a link of kind "share" or "receive".
export function deriveKey(secret, kind) {
  return hkdf32(unb64url(secret), utf8(AUTH_SALT), utf8(kind === "receive" ? AUTH_INFO_RECEIVE : AUTH_INFO));
}

export function macInput(kind, dir, nonceG, nonceH, seq, body) {
  return ["epicshare/v1", kind, dir, nonceG, nonceH, String(seq), body].join("\n");
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

// Auth is the guest's side of the handshake (Go: wire.NewGuestAuth): the
// page opened the link, says hello and answers the holder's offer.
export class Auth {
  constructor(key, nonce = b64url(crypto.getRandomValues(new Uint8Array(16)))) {
    this.key = key;
    this.nonceG = nonce;
    this.nonceH = "";
    this.sent = 0;
    this.seen = 0;
  }

  seal(s) {
    s.nonce = s.kind === SIGNAL_HELLO ? this.nonceG : undefined;
    s.seq = ++this.sent;
    const nonceH = s.kind === SIGNAL_HELLO ? "" : this.nonceH;
    s.mac = tag(this.key, macInput(s.kind, DIR_TO_HOST, this.nonceG, nonceH, s.seq, signalBody(s)));
    return s;
  }

  // open throws unless s carries a valid tag and a new sequence number.
  open(s) {
    let nonceH = this.nonceH;
    if (s.kind === SIGNAL_OFFER) {
      // A later offer (an ICE restart) must carry the first one's nonce.
      if (this.nonceH && s.nonce !== this.nonceH) throw new Error("offer from another handshake");
      nonceH = s.nonce || "";
    }
    if (!TOKEN.test(nonceH)) throw new Error("signal before the handshake");
    const want = tag(this.key, macInput(s.kind, DIR_TO_GUEST, this.nonceG, nonceH, s.seq, signalBody(s)));
    if (want !== s.mac) throw new Error("not signed with this link's secret");
    if (!(s.seq > this.seen)) throw new Error("replayed signal");
    this.seen = s.seq;
    this.nonceH = nonceH;
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

