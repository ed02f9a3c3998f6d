// The browser sender, behind a receive link (/r/ID#secret): pick files, a
// folder or a text, press Send, and they go straight to the device that
// showed the code, over the same signed handshake (connect.js) and the
// same file protocol (sender.js) as the desktop app. Everything people
// read is worded here, in their language (i18n.js).
import * as P from "./proto.js";
import { Guest } from "./connect.js";
import { Sender, Stopped } from "./sender.js";
import { bytes, duration, rate as perSecond } from "./view.js";
import { loadLanguage, plural, reason, t, then, translatePage } from "./i18n.js";

const $ = (id) => document.getElementById(id);
// failedLast: the last attempt failed, so the button below offers to try
// the same files again rather than to send more.
const st = { link: null, guest: null, dc: null, code: "", items: [], rows: null, sender: null, busy: false, over: false, failedLast: false };

function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
  document.title = t(error ? "page.titleFailed" : "send.title");
}

// connect opens the link; the page stays connected while files are picked.
function connect() {
  st.over = false;
  st.dc = null;
  st.sender = null;
  st.guest = new Guest(st.link, {
    status,
    open: (dc, code) => {
      st.dc = dc;
      st.code = code;
      $("code").textContent = t("send.code", { code });
      $("code").hidden = false;
      dc.onclose = () => { if (!st.sender) lost(t("send.closed")); };
      ready();
    },
    fail: (message) => lost(message),
  });
  st.guest.start();
}

function lost(message) {
  if (st.over) return;
  st.over = true;
  st.sender?.stop(P.CANCEL_FAILED);
  st.sender = null;
  st.busy = false;
  $("stop").hidden = true;
  status(message, true);
  $("send").disabled = true;
  st.guest?.hangUp();
  $("done").hidden = false;
  showAgain(true);
}

function ready() {
  $("pick").hidden = false;
  $("done").hidden = true;
  $("progress").hidden = true;
  status(t("send.ready"));
  update();
}

// add puts picked files on the list: {path, file}, the path relative to
// what was picked (a folder keeps its tree).
function add(items) {
  const have = new Set(st.items.map((it) => it.path));
  for (const it of items) {
    let path = it.path;
    for (let n = 1; have.has(path); n++) path = renamed(it.path, n); // two files called photo.jpg
    have.add(path);
    st.items.push({ ...it, path });
  }
  update();
}

function renamed(path, n) {
  const slash = path.lastIndexOf("/"), dot = path.lastIndexOf(".");
  return dot > slash + 1 ? `${path.slice(0, dot)} (${n})${path.slice(dot)}` : `${path} (${n})`;
}

function update() {
  const list = $("picked");
  list.replaceChildren();
  for (const it of st.items) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = it.path;
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = it.dir ? t("send.folder") : bytes(it.file.size);
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "secondary remove";
    rm.textContent = "✕";
    rm.setAttribute("aria-label", t("send.remove", { path: it.path }));
    rm.onclick = () => { st.items = st.items.filter((x) => x !== it); update(); };
    li.append(name, size, rm);
    list.append(li);
  }
  const files = st.items.filter((it) => !it.dir);
  const total = files.reduce((n, it) => n + it.file.size, 0);
  $("picked-total").textContent = files.length ? plural("page.files", files.length, { size: bytes(total) }) : "";
  const text = $("message").value;
  $("send").disabled = !st.dc || st.busy || (!st.items.length && !text);
  $("message").classList.toggle("error", new TextEncoder().encode(text).length > P.MAX_TEXT);
}

async function send() {
  const text = $("message").value;
  if (new TextEncoder().encode(text).length > P.MAX_TEXT) return status(t("send.tooLong", { size: bytes(P.MAX_TEXT) }), true);
  st.busy = true;
  st.progress = null;
  $("pick").hidden = true;
  $("progress").hidden = false;
  $("stop").hidden = false;
  const rows = (st.rows = new Map()); // path → its row on the list
  $("sending").replaceChildren();
  for (const it of st.items.filter((x) => !x.dir)) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = it.path;
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = bytes(it.file.size);
    li.append(name, size);
    $("sending").append(li);
    rows.set(it.path, { li, size, bytes: it.file.size });
  }
  status(t("send.waiting"));
  const started = performance.now();
  let rateAt = started, rateDone = 0, rate = 0, drawn = 0;
  const draw = (p, force) => {
    const now = performance.now();
    if (!force && now - drawn < 100) return;
    drawn = now;
    if (now - rateAt >= 500) { rate = ((p.done - rateDone) * 1000) / (now - rateAt); rateAt = now; rateDone = p.done; }
    $("overall").value = p.total ? p.done / p.total : 1;
    const words = { done: bytes(p.done), total: bytes(p.total), rate: perSecond(rate), file: p.file };
    $("detail").textContent = rate > 0 ? t("page.detail", { ...words, left: duration((p.total - p.done) / rate) }) : t("page.detailNoEstimate", words);
    const r = rows.get(p.file);
    if (r && !r.sent) r.size.textContent = t("page.of", { done: bytes(p.fileDone), total: bytes(p.fileSize) });
  };
  const craft = typeof window.epicshareCraftManifest === "function" ? window.epicshareCraftManifest : null;
  st.sender = new Sender(st.dc, st.items, text, {
    accepted: (a) => {
      status(t("send.sending"));
      if (Array.isArray(a.resume) && a.resume.length) console.info("EpicShare: the receiver has the start of " + a.resume.length + " file(s)");
    },
    progress: (p) => { st.progress = p; draw(p, false); },
    sent: (path) => {
      const r = rows.get(path);
      if (r) { r.sent = true; r.size.textContent = t("send.sizeSent", { size: bytes(r.bytes) }); }
    },
  }, craft);
  try {
    await st.sender.run();
  } catch (err) {
    return failed(err);
  } finally {
    st.busy = false;
  }
  const p = st.progress || { done: 0, total: 0, resumed: 0 };
  draw(p, true);
  for (const r of rows.values()) r.size.textContent = t("send.sizeVerified", { size: bytes(r.bytes) });
  const n = rows.size;
  const what = !n ? t("send.sentMessage") : plural(text ? "send.sentWithMessage" : "send.sent", n, { size: bytes(p.total) });
  $("detail").textContent = t("page.took", { size: bytes(p.total), time: duration((performance.now() - started) / 1000) });
  status(then(what, p.resumed > 0 ? t("send.resumed", { size: bytes(p.resumed) }) : ""));
  finish(false);
}

function failed(err) {
  let message;
  if (err instanceof Stopped) message = refusal(err);
  else if (st.over) return; // lost() said it
  else {
    // Tell the receiving device why, as the desktop sender does: a file
    // that cannot be read any more changed, anything else failed.
    const changed = err.key === "protocol.changed" || err.key === "protocol.unreadable";
    st.sender?.stop(changed ? P.CANCEL_SOURCE_CHANGED : P.CANCEL_FAILED, err.message);
    message = t("send.notSent", { detail: reason(err) });
  }
  status(message, true);
  for (const r of st.rows?.values() || []) if (!r.sent) r.li.classList.add("failed");
  finish(true);
}

// refusal words the receiving device's cancel code.
function refusal({ code, detail }) {
  switch (code) {
    case P.CANCEL_DECLINED: return t("send.declined");
    case P.CANCEL_STOPPED: return t("send.stoppedThere");
    case P.CANCEL_BAD_OFFER: return detail ? t("send.badOfferDetail", { detail }) : t("send.badOffer");
    case P.CANCEL_NO_ROOM: return t("send.noRoom");
    case P.CANCEL_CANNOT_WRITE: return t("send.cannotWrite");
    case P.CANCEL_VERIFY: return detail ? t("send.verifyFailed", { path: detail }) : t("send.verifyFailedFile");
    case P.CANCEL_PROTOCOL: return detail ? t("send.refusedDataDetail", { detail }) : t("send.refusedData");
  }
  return detail ? t("send.receiverStoppedDetail", { detail }) : t("send.receiverStopped");
}

function finish(error) {
  st.sender = null;
  $("stop").hidden = true;
  $("done").hidden = false;
  showAgain(error);
  $("again").focus();
  st.guest.hangUp();
  st.over = true;
}

// showAgain words the button that starts over: try the same files again
// after a failure, or send more.
function showAgain(failed) {
  st.failedLast = failed;
  $("again").textContent = t(failed ? "send.again" : "send.more");
}

// restart starts over without scanning the code again: a new connection,
// the same link. The picked files stay picked after a failure, so the
// same files resume where they stopped.
function restart(keep) {
  if (!keep) { st.items = []; $("message").value = ""; }
  $("done").hidden = true;
  $("progress").hidden = true;
  $("code").hidden = true;
  connect();
}

// Drag and drop: folders arrive as trees through webkitGetAsEntry.
async function dropped(e) {
  e.preventDefault();
  $("drop").classList.remove("over");
  const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return add([...e.dataTransfer.files].map((file) => ({ path: file.name, file })));
  const out = [];
  for (const en of entries) await walk(en, en.name, out);
  add(out);
}

async function walk(entry, path, out) {
  if (entry.isFile) {
    out.push({ path, file: await new Promise((res, rej) => entry.file(res, rej)) });
    return;
  }
  const reader = entry.createReader();
  let batch, any = false;
  do {
    batch = await new Promise((res, rej) => reader.readEntries(res, rej));
    for (const child of batch) { any = true; await walk(child, path + "/" + child.name, out); }
  } while (batch.length);
  if (!any) out.push({ path, dir: true });
}

async function main() {
  await loadLanguage();
  translatePage();
  try {
    st.link = P.parseLink(location.href);
  } catch (e) {
    return status(reason(e), true);
  }
  if (st.link.kind !== "receive") return status(t("send.wrongLink"), true);
  if (!window.RTCPeerConnection) return status(t("send.noWebRTC"), true);
  $("files").onchange = (e) => { add([...e.target.files].map((file) => ({ path: file.name, file }))); e.target.value = ""; };
  if ("webkitdirectory" in $("folder")) {
    $("folder-label").hidden = false;
    $("folder").onchange = (e) => { add([...e.target.files].map((file) => ({ path: file.webkitRelativePath || file.name, file }))); e.target.value = ""; };
  }
  if (matchMedia("(pointer: fine)").matches) {
    const d = $("drop");
    d.hidden = false;
    for (const el of [d, document.body]) {
      el.addEventListener("dragover", (e) => { e.preventDefault(); d.classList.add("over"); });
      el.addEventListener("drop", (e) => dropped(e).catch((err) => status(t("send.dropFailed", { detail: reason(err) }), true)));
    }
    d.addEventListener("dragleave", () => d.classList.remove("over"));
  }
  $("message").oninput = update;
  $("send").onclick = () => send();
  $("stop").onclick = () => {
    st.sender?.stop(P.CANCEL_STOPPED);
    failed(new Error("stopped"));
    status(t("send.stoppedHere"), true);
  };
  $("again").onclick = () => restart(st.failedLast);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden" && st.busy) document.title = t("send.titleBusy");
  });
  connect();
}

main();
