// SHA-256, HMAC-SHA256 and HKDF-SHA256 in plain JavaScript.
//
// The page uses these everywhere instead of WebCrypto: a page opened on a
// plain-http LAN address has no crypto.subtle, and WebCrypto cannot hash a stream
// piece by piece anyway. The Go tests check them against Go's on shared
// vectors, in Chromium.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Sha256 hashes bytes fed in any number of update calls.
export class Sha256 {
  constructor() {
    this.h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Int32Array(64);
    this.block = new Uint8Array(64);
    this.fill = 0; // bytes in block
    this.length = 0; // total bytes, as a Number (exact below 2^53)
  }

  update(data) {
    let i = 0;
    this.length += data.length;
    if (this.fill > 0) {
      const n = Math.min(64 - this.fill, data.length);
      this.block.set(data.subarray(0, n), this.fill);
      this.fill += n;
      i = n;
      if (this.fill < 64) return this;
      this.compress(this.block, 0);
      this.fill = 0;
    }
    const end = i + ((data.length - i) & ~63);
    if (end > i) this.compress(data, i, end);
    i = end;
    if (i < data.length) {
      this.block.set(data.subarray(i), 0);
      this.fill = data.length - i;
    }
    return this;
  }

  // compress hashes the 64-byte blocks of m from off up to end. The
  // state stays in local int32 variables (V8 then runs it unboxed), and
  // the rounds are unrolled by eight so that the variables trade roles
  // instead of moving: round r+1's a is round r's h. They are written
  // out on purpose: in node 20 this ran at 205-217 MB/s, one round per
  // turn at 168-185, and the same rounds through small helper functions
  // (sum0, ch, maj…) at 76-126.
  compress(m, off, end = off + 64) {
    const w = this.w, H = this.h, v = new DataView(m.buffer, m.byteOffset, m.byteLength);
    let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7], x;
    for (let p = off; p < end; p += 64) {
      for (let t = 0; t < 16; t++) w[t] = v.getInt32(p + 4 * t);
      for (let t = 16; t < 64; t++) {
        const x = w[t - 15], y = w[t - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (((w[t - 16] + s0) | 0) + ((w[t - 7] + s1) | 0)) | 0;
      }
      for (let t = 0; t < 64; t += 8) {
        x = ((((h + ((((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))))) | 0) + (((e & f) ^ (~e & g)) + ((K[t + 0] + w[t + 0]) | 0) | 0)) | 0);
        d = (d + x) | 0;
        h = (x + (((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0)) | 0;
        x = ((((g + ((((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))))) | 0) + (((d & e) ^ (~d & f)) + ((K[t + 1] + w[t + 1]) | 0) | 0)) | 0);
        c = (c + x) | 0;
        g = (x + (((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) ^ (h & b) ^ (a & b))) | 0)) | 0;
        x = ((((f + ((((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))))) | 0) + (((c & d) ^ (~c & e)) + ((K[t + 2] + w[t + 2]) | 0) | 0)) | 0);
        b = (b + x) | 0;
        f = (x + (((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) ^ (g & a) ^ (h & a))) | 0)) | 0;
        x = ((((e + ((((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))))) | 0) + (((b & c) ^ (~b & d)) + ((K[t + 3] + w[t + 3]) | 0) | 0)) | 0);
        a = (a + x) | 0;
        e = (x + (((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & h) ^ (g & h))) | 0)) | 0;
        x = ((((d + ((((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))))) | 0) + (((a & b) ^ (~a & c)) + ((K[t + 4] + w[t + 4]) | 0) | 0)) | 0);
        h = (h + x) | 0;
        d = (x + (((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g))) | 0)) | 0;
        x = ((((c + ((((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))))) | 0) + (((h & a) ^ (~h & b)) + ((K[t + 5] + w[t + 5]) | 0) | 0)) | 0);
        g = (g + x) | 0;
        c = (x + (((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f))) | 0)) | 0;
        x = ((((b + ((((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))))) | 0) + (((g & h) ^ (~g & a)) + ((K[t + 6] + w[t + 6]) | 0) | 0)) | 0);
        f = (f + x) | 0;
        b = (x + (((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e))) | 0)) | 0;
        x = ((((a + ((((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))))) | 0) + (((f & g) ^ (~f & h)) + ((K[t + 7] + w[t + 7]) | 0) | 0)) | 0);
        e = (e + x) | 0;
        a = (x + (((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d))) | 0)) | 0;
      }
      a = (a + H[0]) | 0; b = (b + H[1]) | 0; c = (c + H[2]) | 0; d = (d + H[3]) | 0;
      e = (e + H[4]) | 0; f = (f + H[5]) | 0; g = (g + H[6]) | 0; h = (h + H[7]) | 0;
      H[0] = a; H[1] = b; H[2] = c; H[3] = d; H[4] = e; H[5] = f; H[6] = g; H[7] = h;
    }
  }

  // clone copies the state, so a prefix's digest can be taken while the
  // whole file's hash goes on.
  clone() {
    const c = new Sha256();
    c.h.set(this.h);
    c.block.set(this.block);
    c.fill = this.fill;
    c.length = this.length;
    return c;
  }

  digest() {
    const bits = this.length * 8;
    const pad = new Uint8Array(((this.fill < 56 ? 56 : 120) - this.fill) + 8);
    pad[0] = 0x80;
    const hi = Math.floor(bits / 2 ** 32), lo = bits >>> 0;
    const n = pad.length;
    pad[n - 8] = hi >>> 24; pad[n - 7] = hi >>> 16; pad[n - 6] = hi >>> 8; pad[n - 5] = hi;
    pad[n - 4] = lo >>> 24; pad[n - 3] = lo >>> 16; pad[n - 2] = lo >>> 8; pad[n - 1] = lo;
    const len = this.length;
    this.update(pad);
    this.length = len;
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[4 * i] = this.h[i] >>> 24; out[4 * i + 1] = this.h[i] >>> 16;
      out[4 * i + 2] = this.h[i] >>> 8; out[4 * i + 3] = this.h[i];
    }
    return out;
  }
}

export function sha256(data) {
  return new Sha256().update(data).digest();
}

const enc = new TextEncoder();
export const utf8 = (s) => enc.encode(s);

export function hmacSha256(key, msg) {
  if (key.length > 64) key = sha256(key);
  const k = new Uint8Array(64);
  k.set(key);
  const ipad = k.map((b) => b ^ 0x36), opad = k.map((b) => b ^ 0x5c);
  const inner = new Sha256().update(ipad).update(msg).digest();
  return new Sha256().update(opad).update(inner).digest();
}

// hkdf32 is HKDF-SHA256 (RFC 5869) with 32 bytes of output.
export function hkdf32(ikm, salt, info) {
  const prk = hmacSha256(salt, ikm);
  const t = new Uint8Array(info.length + 1);
  t.set(info);
  t[info.length] = 1;
  return hmacSha256(prk, t);
}
