// The browser sender, behind a receive link (/r/ID#secret): pick files, a
// folder or a text, press Send, and they go straight to the device that
// showed the code, over the same signed handshake (connect.js) and the
// same file protocol (sender.js) as the desktop app.
import * as P from "./proto.js";
import { Guest } from "./connect.js";
import { Sender, Stopped } from "./sender.js";
import { bytes, duration } from "./view.js";

const $ = (id) => document.getElementById(id);
const st = { link: null, guest: null, dc: null, code: "", items: [], sender: null, busy: false, over: false };

function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
  document.title = (error ? "Failed · " : "") + "EpicShare";
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
      $("code").textContent = "Verification code: " + code + " (the receiving device shows the same)";
      $("code").hidden = false;
      dc.onclose = () => { if (!st.sender) lost("The receiving device closed the connection."); };
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
  $("again").textContent = "Try again";
}

function ready() {
  $("pick").hidden = false;
  $("done").hidden = true;
  $("progress").hidden = true;
  status("Connected. Choose what to send.");
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
    size.textContent = it.dir ? "folder" : bytes(it.file.size);
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "secondary remove";
    rm.textContent = "✕";
    rm.setAttribute("aria-label", "Remove " + it.path);
    rm.onclick = () => { st.items = st.items.filter((x) => x !== it); update(); };
    li.append(name, size, rm);
    list.append(li);
  }
  const files = st.items.filter((it) => !it.dir);
  const total = files.reduce((n, it) => n + it.file.size, 0);
  $("picked-total").textContent = files.length ? `${files.length} file${files.length === 1 ? "" : "s"}, ${bytes(total)}` : "";
  const text = $("message").value;
  $("send").disabled = !st.dc || st.busy || (!st.items.length && !text);
  $("message").classList.toggle("error", new TextEncoder().encode(text).length > P.MAX_TEXT);
}

async function send() {
  const text = $("message").value;
  if (new TextEncoder().encode(text).length > P.MAX_TEXT) return status(`The message is longer than ${bytes(P.MAX_TEXT)}; shorten it.`, true);
  st.busy = true;
  st.progress = null;
  $("pick").hidden = true;
  $("progress").hidden = false;
  $("stop").hidden = false;
  const rows = new Map();
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
  status("Waiting for the receiving device to accept…");
  const started = performance.now();
  let rateAt = started, rateDone = 0, rate = 0, drawn = 0;
  const draw = (p, force) => {
    const now = performance.now();
    if (!force && now - drawn < 100) return;
    drawn = now;
    if (now - rateAt >= 500) { rate = ((p.done - rateDone) * 1000) / (now - rateAt); rateAt = now; rateDone = p.done; }
    $("overall").value = p.total ? p.done / p.total : 1;
    const left = rate > 0 ? duration((p.total - p.done) / rate) : "?";
    $("detail").textContent = `${bytes(p.done)} of ${bytes(p.total)} · ${bytes(rate)}/s · ${left} left · ${p.file}`;
    const r = rows.get(p.file);
    if (r && !r.sent) r.size.textContent = `${bytes(p.fileDone)} of ${bytes(p.fileSize)}`;
  };
  const craft = typeof window.epicshareCraftManifest === "function" ? window.epicshareCraftManifest : null;
  st.sender = new Sender(st.dc, st.items, text, {
    accepted: (a) => {
      status("Sending…");
      if (Array.isArray(a.resume) && a.resume.length) console.info("EpicShare: the receiver has the start of " + a.resume.length + " file(s)");
    },
    progress: (p) => { st.progress = p; draw(p, false); },
    sent: (path) => {
      const r = rows.get(path);
      if (r) { r.sent = true; r.size.textContent = bytes(r.bytes) + " ✓ sent"; }
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
  for (const r of rows.values()) r.size.textContent = bytes(r.bytes) + " ✓ verified";
  const n = rows.size;
  let what = n ? `Sent ${n} file${n === 1 ? "" : "s"}, ${bytes(p.total)}, every file verified by the receiving device` : "Sent the message";
  if (n && text) what += ", and the message";
  if (p.resumed > 0) what += ` (${bytes(p.resumed)} had arrived before and was not sent again)`;
  $("detail").textContent = `${bytes(p.total)} in ${duration((performance.now() - started) / 1000)}`;
  status(what + ".");
  finish(false);
}

function failed(err) {
  let message;
  if (err instanceof Stopped) message = refusal(err);
  else if (st.over) return; // lost() said it
  else {
    // Tell the receiving device why, as the desktop sender does: a file
    // that cannot be read any more changed, anything else failed.
    st.sender?.stop(/cannot be read|changed/.test(err.message) ? P.CANCEL_SOURCE_CHANGED : P.CANCEL_FAILED, err.message);
    message = "Not sent: " + err.message + ".";
  }
  status(message, true);
  for (const li of $("sending").children) if (!li.textContent.includes("✓")) li.classList.add("failed");
  finish(true);
}

// refusal words the receiving device's cancel code.
function refusal({ code, detail }) {
  switch (code) {
    case P.CANCEL_DECLINED: return "The receiving device declined. Nothing was sent.";
    case P.CANCEL_STOPPED: return "The receiving device stopped the transfer.";
    case P.CANCEL_BAD_OFFER: return "The receiving device refused the offer" + (detail ? ": " + detail : ".");
    case P.CANCEL_NO_ROOM: return "The receiving device's disk is full.";
    case P.CANCEL_CANNOT_WRITE: return "The receiving device cannot write to its folder.";
    case P.CANCEL_VERIFY: return `${detail || "A file"} failed verification on the receiving device; it was not saved. Try again.`;
    case P.CANCEL_PROTOCOL: return "The receiving device refused the data" + (detail ? ": " + detail : ".");
  }
  return "The receiving device stopped" + (detail ? ": " + detail : ".");
}

function finish(error) {
  st.sender = null;
  $("stop").hidden = true;
  $("done").hidden = false;
  $("again").textContent = error ? "Try again" : "Send more";
  $("again").focus();
  st.guest.hangUp();
  st.over = true;
}

// again starts over without scanning the code again: a new connection,
// the same link. The picked files stay picked after a failure, so the
// same files resume where they stopped.
function again(keep) {
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

function main() {
  try {
    st.link = P.parseLink(location.href);
  } catch (e) {
    return status(e.message, true);
  }
  if (st.link.kind !== "receive") return status("This is a link to receive files from, not to send them to.", true);
  if (!window.RTCPeerConnection) return status("This browser cannot send files: it has no WebRTC. Open the link in a current Chrome, Firefox or Safari.", true);
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
      el.addEventListener("drop", (e) => dropped(e).catch((err) => status("Could not read what was dropped: " + err.message, true)));
    }
    d.addEventListener("dragleave", () => d.classList.remove("over"));
  }
  $("message").oninput = update;
  $("send").onclick = () => send();
  $("stop").onclick = () => {
    st.sender?.stop(P.CANCEL_STOPPED);
    failed(new Error("stopped"));
    status("Stopped. The receiving device keeps what arrived, unfinished: sending the same files again continues where it stopped.", true);
  };
  $("again").onclick = () => again($("again").textContent === "Try again");
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden" && st.busy) document.title = "Sending… keep this page open";
  });
  connect();
}

main();
