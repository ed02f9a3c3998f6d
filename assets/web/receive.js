// The browser receiver's page: opens the share named by this page's
// address (connect.js runs the same signed handshake as the desktop app),
// receives the files over a WebRTC data channel straight from the sender
// (receiver.js runs the protocol and verifies each file with SHA-256), and
// keeps and offers them to save: streamed to the downloads, staged, or in
// memory. Everything people read is worded here, in their language
// (i18n.js).
import * as P from "./proto.js";
import { safeName } from "./frames.js";
import { Guest } from "./connect.js";
import { Receiver } from "./receiver.js";
import { bytes, duration, rate, showText } from "./view.js";
import { loadLanguage, plural, reason, t, then, translatePage } from "./i18n.js";
import { Cancelled, startStreaming } from "./download.js";
import { NoRoom, startStaging, workerDownloadsFail } from "./stage.js";

const $ = (id) => document.getElementById(id);
// Above this, keeping everything in memory may be too much for a phone.
const MEMORY_WARNING = 512e6;

const st = {
  guest: null, dc: null, rx: null, connected: false, over: false,
  files: [], started: false,
  rateAt: 0, rateDone: 0, rate: 0,
  // The service worker that streams downloads to disk (download.js), or
  // null where the browser has none.
  streamer: null, streamReady: null,
  // Where received files go: that worker's streams, staging in the
  // origin's private file system (stage.js, for Firefox), or, when null,
  // memory until the person saves them.
  sink: null,
  stalled: null, // {f, was}: the file whose download the browser holds back, and the status before
};

function status(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
  document.title = t(error ? "page.titleFailed" : "receive.title");
}

// fail ends everything with a message for the person holding the phone,
// telling the sender why with a cancel code (and detail) if one is given.
function fail(message, code, detail) {
  if (st.over) return;
  st.over = true;
  status(message, true);
  if (code) st.rx?.cancel(code, detail);
  for (const f of st.files) {
    if (f.dl && !f.saved) f.dl.abort(message); // the browser drops the partial download
    if (!f.url && !f.saved) f.li?.classList.add("failed");
  }
  $("offer").hidden = st.files.every((f) => !f.li);
  for (const b of document.querySelectorAll("#offer button")) b.disabled = true;
  setTimeout(hangUp, 500);
}

// hangUp closes the connection once the last frame has left.
function hangUp() {
  st.guest?.hangUp(() => st.streamer?.stop());
}

// noResume says plainly what a browser cannot do after a broken transfer.
// The desktop app continues where it stopped; a page has no place to keep
// half a file between visits.
function noResume() {
  return st.started ? t("receive.noResume") : "";
}

// broken is message, then what a broken transfer leaves.
function broken(message) {
  return then(message, t("receive.nothingIncomplete"), noResume());
}

// opened starts the transfer once the data channel is open.
function opened(dc, code) {
  st.dc = dc;
  st.connected = true;
  $("code").textContent = t("receive.code", { code });
  $("code").hidden = false;
  status(t("receive.waitingForList"));
  st.rx = new Receiver(dc, {
    offer: (m, files) => st.streamReady.then(() => offer(m, files)).catch((err) => fail(t("receive.offerFailed", { detail: reason(err) }))),
    file: (f) => {
      f.chunks = [];
      if (st.sink) stream(f);
      progress(f, true);
    },
    chunk: (f, b) => (f.dl ? f.dl.write(b) : f.chunks.push(b)),
    progress: (f) => progress(f),
    verified,
    finished: finish,
    stopped: (why) => fail(broken(senderStopped(why))),
    refused: (err) => fail(t("receive.refused", { detail: reason(err) })),
    verifyFailed: (f) => fail(t("receive.verifyFailed", { path: f.path })),
  });
  dc.onclose = () => {
    if (!st.over) fail(broken(t("receive.senderLeft")));
  };
}

// senderStopped words the sender's cancel code.
function senderStopped({ code, detail }) {
  switch (code) {
    case P.CANCEL_STOPPED: return t("receive.stoppedSharing");
    case P.CANCEL_SOURCE_CHANGED: return detail ? t("receive.sourceChangedDetail", { detail }) : t("receive.sourceChanged");
  }
  return detail ? t("receive.senderStoppedDetail", { detail }) : t("receive.senderStopped");
}

async function offer(m, files) {
  st.files = files;
  const total = st.rx.total;
  if (typeof m.text === "string" && m.text) showText($("text"), m.text);
  st.sink = st.streamer;
  const worker = workerDownloadsFail();
  if (worker) st.sink = (await startStaging(total)) || (worker === "cut" ? st.streamer : null);
  if (st.over) return;
  const list = $("files");
  list.replaceChildren();
  for (const f of st.files) {
    f.li = document.createElement("li");
    const name = document.createElement("span");
    // A long path breaks after a slash before it breaks inside a name.
    f.path.split("/").forEach((part, i, all) => {
      name.append(part + (i < all.length - 1 ? "/" : ""));
      if (i < all.length - 1) name.append(document.createElement("wbr"));
    });
    f.sizeEl = document.createElement("span");
    f.sizeEl.className = "size";
    f.sizeEl.textContent = bytes(f.size);
    f.get = document.createElement("button");
    f.get.type = "button";
    f.get.className = "secondary get";
    f.get.textContent = t("receive.download");
    f.get.setAttribute("aria-label", t("receive.downloadOnly", { path: f.path }));
    f.get.onclick = () => accept(f);
    f.li.append(name, f.sizeEl, f.get);
    list.append(f.li);
  }
  const n = st.files.length;
  $("total").textContent = n ? plural("page.files", n, { size: bytes(total) }) : t("receive.messageOnly");
  if (!n) $("accept").textContent = t("receive.acceptMessage");
  if (st.sink && st.sink !== st.streamer) {
    $("memory-warning").textContent = t("receive.noteStaged");
    $("memory-warning").className = "note";
    $("memory-warning").hidden = false;
  } else if (st.sink) {
    $("memory-warning").textContent = t("receive.noteStreamed");
    $("memory-warning").className = "note";
    $("memory-warning").hidden = false;
  } else if (total > MEMORY_WARNING) {
    $("memory-warning").textContent = t("receive.memoryWarning", { size: bytes(total) });
    $("memory-warning").hidden = false;
  }
  $("offer").hidden = false;
  status(t(n ? "receive.ask" : "receive.askMessage"));
  $("accept").focus();
}

// accept asks for every file, or for only one.
function accept(only) {
  $("accept").disabled = $("decline").disabled = true;
  for (const f of st.files) f.get.remove();
  const one = only instanceof Object && only.path ? only : null;
  if (one) {
    for (const f of st.files) if (f !== one) f.li.remove();
    st.files = [one];
  }
  document.querySelector("#offer .actions").hidden = true;
  $("progress").hidden = false;
  st.rateAt = st.startedAt = performance.now();
  st.started = true;
  status(t("receive.receiving"));
  st.rx.accept(one);
}

// stream starts the streamed download of f. The file is saved only when
// the sink confirms it handed the browser every byte; until then it is
// merely verified.
function stream(f) {
  f.dl = st.sink.file(safeName(f.path), f.size);
  f.dl.onStall = () => {
    if (st.over) return;
    st.stalled = { f, was: $("status").textContent };
    status(t("receive.stalled", { path: f.path }));
  };
  f.dl.onStart = () => {
    if (st.stalled?.f !== f) return;
    if (!st.over) status(st.stalled.was);
    st.stalled = null;
  };
  f.dl.done.then(
    () => {
      f.saved = true;
      f.sizeEl.textContent = t("receive.sizeSaved", { size: bytes(f.size) });
    },
    (err) => {
      if (err instanceof NoRoom) {
        fail(t("receive.noRoom", { path: f.path }), P.CANCEL_NO_ROOM);
      } else if (err instanceof Cancelled) {
        fail(then(t("receive.downloadCancelled", { path: f.path }), noResume()), P.CANCEL_DOWNLOAD_CANCELLED);
      } else if (st.sink !== st.streamer) {
        console.info("EpicShare: staging " + f.path + ": " + err.message);
        fail(then(t("receive.storeFailed", { path: f.path, detail: err.message }), noResume()), P.CANCEL_NO_ROOM, err.message);
      } else {
        console.info("EpicShare: download of " + f.path + ": " + err.message);
        fail(then(t("receive.downloadCut", { path: f.path }), noResume()), P.CANCEL_DOWNLOAD_CUT);
      }
    },
  );
}

// verified keeps a file that matched its hash: the sink finishes its
// download, or it becomes a Save button. False if it could not be kept.
function verified(f) {
  if (f.dl) {
    // The browser finishes the download only now that the file verified;
    // it is saved once the worker confirms.
    f.dl.end();
    f.sizeEl.textContent = t("receive.sizeSaving", { size: bytes(f.size) });
    return true;
  }
  try {
    f.url = URL.createObjectURL(new Blob(f.chunks));
  } catch {
    fail(t("receive.noRoom", { path: f.path }), P.CANCEL_NO_ROOM);
    return false;
  }
  f.chunks = null;
  const a = document.createElement("a");
  a.href = f.url;
  a.download = safeName(f.path);
  a.className = "button save";
  a.textContent = t("receive.save");
  a.setAttribute("aria-label", t("receive.saveOne", { path: f.path }));
  f.sizeEl.textContent = bytes(f.size) + " ✓";
  f.li.append(a);
  return true;
}

function progress(f, force) {
  const now = performance.now();
  // The page redraws at most ten times a second: a redraw per 64 KiB frame
  // would cost more than the transfer itself.
  if (!force && now - (st.drawnAt || 0) < 100) return;
  st.drawnAt = now;
  const { received, total } = st.rx;
  if (now - st.rateAt >= 500) {
    st.rate = ((received - st.rateDone) * 1000) / (now - st.rateAt);
    st.rateAt = now;
    st.rateDone = received;
  }
  $("overall").value = total ? received / total : 1;
  f.sizeEl.textContent = t("page.of", { done: bytes(f.got), total: bytes(f.size) });
  const words = { done: bytes(received), total: bytes(total), rate: rate(st.rate), file: f.path };
  $("detail").textContent = st.rate > 0 ? t("page.detail", { ...words, left: duration((total - received) / st.rate) }) : t("page.detailNoEstimate", words);
}

async function finish() {
  $("overall").value = 1;
  const total = st.rx.total;
  $("detail").textContent = t("page.took", { size: bytes(total), time: duration((performance.now() - st.startedAt) / 1000) });
  const n = st.files.length;
  const params = { size: bytes(total) };
  if (st.sink && n) {
    // Done only once the browser has every byte: until the sink
    // confirms each file, the sender is not told, and the page does not
    // say saved.
    status(plural("receive.finishing", n, params));
    try {
      await Promise.all(st.files.map((f) => f.dl.done));
    } catch {
      return; // stream() said what went wrong
    }
    if (st.over) return;
    st.over = true;
    st.rx.confirm();
    status(plural("receive.savedAll", n, params));
    return hangUp();
  }
  st.over = true;
  st.rx.confirm();
  hangUp();
  if (!n) return status(t("receive.gotMessage"));
  status(plural("receive.saveBelow", n, params));
  $("done").hidden = false;
  $("save-all").focus();
}

async function saveAll() {
  for (const a of document.querySelectorAll("a.save")) {
    a.click();
    await new Promise((r) => setTimeout(r, 300)); // browsers refuse bursts of downloads
  }
}

// A phone may stop a page in the background: say so while files move.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden" && st.connected && !st.over) {
    document.title = t("receive.titleBusy");
  }
});

async function main() {
  await loadLanguage();
  translatePage();
  $("accept").onclick = () => accept();
  $("decline").onclick = () => fail(t("receive.declined"), P.CANCEL_DECLINED);
  $("save-all").onclick = saveAll;
  let link;
  try {
    link = P.parseLink(location.href);
  } catch (e) {
    return fail(reason(e));
  }
  if (link.kind !== "share") return fail(t("receive.wrongLink"));
  if (!window.RTCPeerConnection) return fail(t("receive.noWebRTC"));
  st.streamReady = startStreaming().then((s) => (st.streamer = s));
  st.guest = new Guest(link, {
    status,
    open: opened,
    fail: (message) => fail(st.connected ? broken(message) : message),
  });
  st.guest.start();
}

main();
