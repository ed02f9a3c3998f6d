// The EpicShare protocol's constants as the pages speak it, and the
// page's own link. Every constant here must equal its Go definition in
// internal/wire, internal/transfer, internal/peer or internal/rendezvous;
// Go tests compare them, so the pages cannot drift from the app.

export const SUBPROTOCOL = "epicshare.v1";
export const SOCKET_PATH = "/ws";
export const SHARE_PATH = "/s/";
export const RECEIVE_PATH = "/r/";

// WebSocket close codes of the broker.
export const CLOSE_UNSUPPORTED_VERSION = 4001;
export const CLOSE_BAD_TOKEN = 4002;
export const CLOSE_GOING_AWAY = 4003;
export const CLOSE_REPLACED = 4004;

// Envelope types.
export const TYPE_WELCOME = "welcome";
export const TYPE_ICE = "ice";
export const TYPE_SEND = "send";
export const TYPE_MESSAGE = "message";
export const TYPE_LEFT = "left";
export const TYPE_ERROR = "error";
export const CODE_UNKNOWN_PEER = "unknown-peer";
export const CODE_BAD_MESSAGE = "bad-message";
export const CODE_RATE_LIMITED = "rate-limited";
export const CODE_TOO_LARGE = "too-large";

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
export const AUTH_INFO_RECEIVE = "epicshare/v1 receive-link mac key";
export const DIR_TO_HOST = "r2s";
export const DIR_TO_GUEST = "s2r";
export const DATA_CHANNEL_LABEL = "epicshare";

// Data-channel frames: 4-byte big-endian length, type, payload.
export const FRAME_MANIFEST_PART = 1;
export const FRAME_MANIFEST = 2;
export const FRAME_ACCEPT = 3;
export const FRAME_DATA = 4;
export const FRAME_FILE_END = 5;
export const FRAME_DONE = 6;
export const FRAME_CANCEL = 7;
export const FRAME_RESUME_AT = 8;
export const FRAME_ACCEPT_PART = 9;
export const FRAME_CHECKING = 10;
export const MAX_FRAME = 65536;
export const MAX_PAYLOAD = 65531;
export const MAX_TEXT = 1048576;
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

// Cancel codes: why a side stopped, as a cancel frame carries it.
export const CANCEL_STOPPED = "stopped";
export const CANCEL_DECLINED = "declined";
export const CANCEL_BAD_OFFER = "bad-offer";
export const CANCEL_NO_ROOM = "no-room";
export const CANCEL_CANNOT_WRITE = "cannot-write";
export const CANCEL_VERIFY = "verify-failed";
export const CANCEL_PROTOCOL = "protocol";
export const CANCEL_SOURCE_CHANGED = "source-changed";
export const CANCEL_DOWNLOAD_CUT = "download-cut";
export const CANCEL_DOWNLOAD_CANCELLED = "download-cancelled";
export const CANCEL_FAILED = "failed";

export const TOKEN = /^[A-Za-z0-9_-]{22}$/;

// KeyedError is an error the pages word for people: key names its words
// in the pages' catalogue (i18n.js), params fill them in. Its message is
// the plain English form for the console and, as a cancel's detail, for
// the other side, which words it itself.
export class KeyedError extends Error {
  constructor(message, key, params = {}) {
    super(message);
    this.key = key;
    this.params = params;
  }
}

// parseLink reads the link from the page's own address:
// <server>/s/<id>#<secret> (a share: this page receives) or
// <server>/r/<id>#<secret> (a receive link: this page sends). The secret
// never left this device.
export function parseLink(href) {
  const u = new URL(href);
  let kind = "share", i = u.pathname.lastIndexOf(SHARE_PATH);
  const j = u.pathname.lastIndexOf(RECEIVE_PATH);
  if (j > i) { kind = "receive"; i = j; }
  const id = i < 0 ? "" : u.pathname.slice(i + SHARE_PATH.length).replace(/\/$/, "");
  const secret = u.hash.slice(1);
  if (!TOKEN.test(id)) throw new KeyedError("no share ID in the address", "link.notAShare");
  if (!secret) throw new KeyedError("the link has no secret", "link.noSecret");
  if (!TOKEN.test(secret)) throw new KeyedError("the link's secret is damaged", "link.badSecret");
  const scheme = u.protocol === "https:" ? "wss:" : "ws:";
  return { kind, id, secret, socket: scheme + "//" + u.host + u.pathname.slice(0, i) + SOCKET_PATH };
}
