// Opening a link, for both pages: the WebSocket to the broker, the signed
// handshake with the link's holder (auth.js) and the WebRTC connection,
// up to an open data channel. The holder always offers; the page says
// hello and answers, whichever way the files then go.
import * as P from "./proto.js";
import { Auth, deriveKey, sdpFingerprint, verificationCode } from "./auth.js";
import { reason, t } from "./i18n.js";

// The words about the link's holder, by the kind of link: the sender of a
// share, or the receiving device behind a receive link. Whole sentences
// each, since languages inflect the holder's name differently.
const HOLDER = {
  share: {
    looking: "connect.sender.looking", connecting: "connect.sender.connecting", busy: "connect.sender.busy",
    ended: "connect.sender.ended", endedReason: "connect.sender.endedReason", offline: "connect.sender.offline",
    noPath: "connect.sender.noPath", broke: "connect.sender.broke", gone: "connect.shareGone",
  },
  receive: {
    looking: "connect.receiver.looking", connecting: "connect.receiver.connecting", busy: "connect.receiver.busy",
    ended: "connect.receiver.ended", endedReason: "connect.receiver.endedReason", offline: "connect.receiver.offline",
    noPath: "connect.receiver.noPath", broke: "connect.receiver.broke", gone: "connect.codeGone",
  },
};

function byeMessage(s, holder) {
  switch (s.code) {
    case P.BYE_WRONG_SECRET: return t("connect.wrongSecret");
    case P.BYE_TAMPERED: return t("connect.tampered");
    case P.BYE_BUSY: return t(holder.busy);
  }
  return s.reason ? t(holder.endedReason, { reason: s.reason }) : t(holder.ended);
}

// Guest opens link and calls, as things happen:
//   status(text)            progress of the connection, for people
//   open(dc, code)          the data channel is open; code is the verification code
//   fail(message)           it is over: a sentence for people
// Once open, a broken connection is a fail too. hangUp ends it cleanly.
export class Guest {
  constructor(link, { status, open, fail }) {
    this.link = link;
    this.holder = link.kind === "receive" ? HOLDER.receive : HOLDER.share;
    this.cb = { status, open, fail };
    this.auth = new Auth(deriveKey(link.secret, link.kind));
    this.pending = [];
    this.haveOffer = false;
    this.connected = false;
    this.over = false;
    this.ws = null;
    this.pc = null;
    this.dc = null;
    // STUN and TURN servers from the broker: its welcome names them,
    // with credentials made for this page, and it renews them later.
    this.iceServers = [];
  }

  fail(message) {
    if (this.over) return;
    this.cb.fail(message);
  }

  start() {
    // A page closed or left mid-transfer closes its connection at once,
    // so the holder learns it now rather than when ICE gives up (~45 s).
    if (!Guest.current) addEventListener("pagehide", () => Guest.current?.pc?.close());
    Guest.current = this;
    this.cb.status(t(this.holder.looking));
    const ws = (this.ws = new WebSocket(this.link.socket, P.SUBPROTOCOL));
    const id = this.link.id;
    ws.onmessage = (e) => {
      let env;
      try { env = JSON.parse(e.data); } catch { return; }
      if (env.type === P.TYPE_WELCOME) {
        this.useICE(env.ice);
        this.send({ kind: P.SIGNAL_HELLO });
      } else if (env.type === P.TYPE_ICE) this.useICE(env.ice);
      else if (env.type === P.TYPE_MESSAGE && env.from === id) this.onSignal(env.data).catch((err) => this.fail(t("connect.failed", { detail: reason(err) })));
      else if (env.type === P.TYPE_LEFT && env.peer === id && !this.connected) this.fail(t(this.holder.offline));
      else if (env.type === P.TYPE_ERROR && env.code === P.CODE_UNKNOWN_PEER && env.to === id) this.fail(t(this.holder.gone));
    };
    ws.onclose = (e) => {
      if (this.connected || this.over) return;
      if (e.code === P.CLOSE_UNSUPPORTED_VERSION) this.fail(t("connect.tooOld"));
      else this.fail(t("connect.lostServer"));
    };
  }

  // useICE takes the broker's servers for the connection to come and,
  // for an ICE restart, the one that runs.
  useICE(servers) {
    if (!Array.isArray(servers)) return;
    this.iceServers = servers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
    if (!this.pc) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: this.iceServers });
    } catch (e) {
      console.info("EpicShare: kept the old ICE servers: " + e.message);
    }
  }

  send(sig) {
    this.ws.send(JSON.stringify({ type: P.TYPE_SEND, to: this.link.id, data: this.auth.seal(sig) }));
  }

  async onSignal(s) {
    if (s.kind === P.SIGNAL_BYE) return this.fail(byeMessage(s, this.holder));
    try {
      this.auth.open(s);
    } catch (e) {
      if (s.kind === P.SIGNAL_OFFER && !this.haveOffer) {
        this.send({ kind: P.SIGNAL_BYE, code: P.BYE_TAMPERED });
        return this.fail(t("connect.tamperedOffer"));
      }
      console.info("EpicShare: dropped a " + s.kind + " signal: " + e.message);
      return; // a replay or a forgery: dropped
    }
    if (s.kind === P.SIGNAL_OFFER) console.info("EpicShare: offer" + (this.pc ? " (ICE restart)" : ""));
    const pc = this.pc;
    if (s.kind === P.SIGNAL_OFFER && pc) {
      // The holder restarts ICE after losing the path: answer on the
      // same connection, so the data channel goes on where it stopped.
      await pc.setRemoteDescription({ type: "offer", sdp: s.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.send({ kind: P.SIGNAL_ANSWER, sdp: pc.localDescription.sdp });
    } else if (s.kind === P.SIGNAL_OFFER) {
      this.haveOffer = true;
      this.cb.status(t(this.holder.connecting));
      await this.answer(s.sdp);
    } else if (s.kind === P.SIGNAL_CANDIDATE && s.candidate?.candidate) {
      console.info("EpicShare: remote candidate " + s.candidate.candidate);
      if (pc?.remoteDescription) await pc.addIceCandidate(s.candidate).catch(() => {});
      else this.pending.push(s.candidate);
    }
  }

  async answer(sdp) {
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: this.iceServers });
    } catch (e) {
      // A server list the browser refuses must not cost the LAN path.
      console.info("EpicShare: ICE servers refused (" + e.message + "); trying without");
      pc = new RTCPeerConnection({ iceServers: [] });
    }
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) {
        const c = e.candidate;
        console.info("EpicShare: local candidate " + c.candidate);
        this.send({ kind: P.SIGNAL_CANDIDATE, candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
      }
    };
    pc.ondatachannel = (e) => { if (e.channel.label === P.DATA_CHANNEL_LABEL) this.channel(e.channel); };
    // For whoever opens the developer tools on a stuck page.
    pc.oniceconnectionstatechange = () => console.info("EpicShare: ICE " + pc.iceConnectionState);
    pc.onconnectionstatechange = () => {
      console.info("EpicShare: connection " + pc.connectionState);
      if (pc.connectionState !== "failed") return;
      if (!this.connected) {
        // ICE found no path at all (a firewall, networks that cannot
        // reach each other): nothing had started.
        return this.fail(t(this.holder.noPath));
      }
      this.fail(t(this.holder.broke));
    };
    await pc.setRemoteDescription({ type: "offer", sdp });
    for (const c of this.pending) await pc.addIceCandidate(c).catch(() => {});
    this.pending = [];
    await pc.setLocalDescription(await pc.createAnswer());
    this.send({ kind: P.SIGNAL_ANSWER, sdp: pc.localDescription.sdp });
  }

  channel(dc) {
    this.dc = dc;
    dc.binaryType = "arraybuffer";
    dc.onopen = () => {
      this.connected = true;
      const code = verificationCode(sdpFingerprint(this.pc.remoteDescription.sdp), sdpFingerprint(this.pc.localDescription.sdp));
      this.cb.open(dc, code);
    };
  }

  // hangUp closes the peer connection and the socket once the last frame
  // has left, so the holder sees a clean close rather than a lost path.
  hangUp(then) {
    this.over = true;
    const dc = this.dc, pc = this.pc;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      then?.();
      this.ws?.close();
      if (pc && pc.connectionState !== "closed") {
        pc.close();
        console.info("EpicShare: connection closed");
      }
    };
    if (!dc || dc.readyState !== "open" || dc.bufferedAmount === 0) return close();
    dc.bufferedAmountLowThreshold = 0;
    dc.onbufferedamountlow = close;
    setTimeout(close, 5000);
  }
}
