// The browser receiver's page: opens the share named by this page's
// address (connect.js runs the same signed handshake as the desktop app),
// receives the files over a WebRTC data channel straight from the sender
// (receiver.js runs the protocol and verifies each file with SHA-256), and
// keeps and offers them to save: streamed to the downloads, staged, or in
// memory. Everything people read is worded here.
import * as P from "./proto.js";
import { safeName } from "./frames.js";
import { Guest } from "./connect.js";
import { Receiver } from "./receiver.js";
import { bytes, duration, showText } from "./view.js";
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
  document.title = (error ? "Failed · " : "") + "EpicShare";
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
  if (!st.started) return "";
  return " This page cannot resume: opening the link again starts the download over (files already saved stay saved). The EpicShare desktop app resumes where it stopped.";
}

// opened starts the transfer once the data channel is open.
function opened(dc, code) {
  st.dc = dc;
  st.connected = true;
  $("code").textContent = "Verification code: " + code + " (the sender shows the same)";
  $("code").hidden = false;
  status("Connected. Waiting for the list of files…");
  st.rx = new Receiver(dc, {
    offer: (m, files) => st.streamReady.then(() => offer(m, files)).catch((err) => fail("Could not show the offer: " + err.message)),
    file: (f) => {
      f.chunks = [];
      if (st.sink) stream(f);
      progress(f, true);
    },
    chunk: (f, b) => (f.dl ? f.dl.write(b) : f.chunks.push(b)),
    progress: (f) => progress(f),
    verified,
    finished: finish,
    stopped: (why) => fail(senderStopped(why) + " Nothing incomplete is offered to save." + noResume()),
    refused: (err) => fail("The sender sent something this page cannot accept: " + err.message),
    verifyFailed: (f) => fail(`${f.path} failed verification, so it is not offered to save.`),
  });
  dc.onclose = () => {
    if (!st.over) fail("The sender left before the transfer finished. Nothing incomplete is offered to save." + noResume());
  };
}

// senderStopped words the sender's cancel code.
function senderStopped({ code, detail }) {
  switch (code) {
    case P.CANCEL_STOPPED: return "The sender stopped sharing.";
    case P.CANCEL_SOURCE_CHANGED: return `A file changed on the sender's side while it was being sent${detail ? " (" + detail + ")" : ""}.`;
  }
  return "The sender stopped" + (detail ? ": " + detail : ".");
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
    f.get.textContent = "Download";
    f.get.setAttribute("aria-label", "Download only " + f.path);
    f.get.onclick = () => accept(f);
    f.li.append(name, f.sizeEl, f.get);
    list.append(f.li);
  }
  const n = st.files.length;
  $("total").textContent = n ? `${n} file${n === 1 ? "" : "s"}, ${bytes(total)}` : "A message, no files.";
  if (!n) $("accept").textContent = "Accept";
  if (st.sink && st.sink !== st.streamer) {
    $("memory-warning").textContent = "Each file goes to your downloads as soon as it is verified.";
    $("memory-warning").className = "note";
    $("memory-warning").hidden = false;
  } else if (st.sink) {
    $("memory-warning").textContent = "Files are saved to your downloads as they arrive.";
    $("memory-warning").className = "note";
    $("memory-warning").hidden = false;
  } else if (total > MEMORY_WARNING) {
    $("memory-warning").textContent = `This browser keeps received files in memory until you save them, and ${bytes(total)} may be more than this device can hold.`;
    $("memory-warning").hidden = false;
  }
  $("offer").hidden = false;
  status("Download these files?");
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
  status("Receiving…");
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
    status(`Waiting for the browser to start the download of ${f.path}. If it asks whether this site may download several files, allow it.`);
  };
  f.dl.onStart = () => {
    if (st.stalled?.f !== f) return;
    if (!st.over) status(st.stalled.was);
    st.stalled = null;
  };
  f.dl.done.then(
    () => {
      f.saved = true;
      f.sizeEl.textContent = bytes(f.size) + " ✓ saved";
    },
    (err) => {
      if (err instanceof NoRoom) {
        fail(`This device has no room left for ${f.path}. Free some space and open the link again; the download starts over.`, P.CANCEL_NO_ROOM);
      } else if (err instanceof Cancelled) {
        fail(`The download of ${f.path} was cancelled in the browser.` + noResume(), P.CANCEL_DOWNLOAD_CANCELLED);
      } else if (st.sink !== st.streamer) {
        console.info("EpicShare: staging " + f.path + ": " + err.message);
        fail(`The browser could not store ${f.path} (${err.message}). Nothing incomplete reached your downloads.` + noResume(), P.CANCEL_NO_ROOM, err.message);
      } else {
        console.info("EpicShare: download of " + f.path + ": " + err.message);
        fail(`The download of ${f.path} was cut short by the browser, so it is not complete: if your downloads list it, delete it.` + noResume(), P.CANCEL_DOWNLOAD_CUT);
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
    f.sizeEl.textContent = bytes(f.size) + " ✓ verified, saving…";
    return true;
  }
  try {
    f.url = URL.createObjectURL(new Blob(f.chunks));
  } catch {
    fail(`This device has no room left for ${f.path}. Free some space and open the link again; the download starts over.`, P.CANCEL_NO_ROOM);
    return false;
  }
  f.chunks = null;
  const a = document.createElement("a");
  a.href = f.url;
  a.download = safeName(f.path);
  a.className = "button save";
  a.textContent = "Save";
  a.setAttribute("aria-label", "Save " + f.path);
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
  f.sizeEl.textContent = `${bytes(f.got)} of ${bytes(f.size)}`;
  const left = st.rate > 0 ? duration((total - received) / st.rate) : "?";
  $("detail").textContent = `${bytes(received)} of ${bytes(total)} · ${bytes(st.rate)}/s · ${left} left · ${f.path}`;
}

async function finish() {
  $("overall").value = 1;
  const total = st.rx.total;
  $("detail").textContent = `${bytes(total)} in ${duration((performance.now() - st.startedAt) / 1000)}`;
  const n = st.files.length;
  const what = n ? `Received ${n} file${n === 1 ? "" : "s"}, ${bytes(total)}, every file verified` : "Received the message";
  if (st.sink && n) {
    // Done only once the browser has every byte: until the sink
    // confirms each file, the sender is not told, and the page does not
    // say saved.
    status(what + ". Finishing the downloads…");
    try {
      await Promise.all(st.files.map((f) => f.dl.done));
    } catch {
      return; // stream() said what went wrong
    }
    if (st.over) return;
    st.over = true;
    st.rx.confirm();
    status(what + " and saved to your downloads.");
    return hangUp();
  }
  st.over = true;
  st.rx.confirm();
  hangUp();
  if (!n) return status(what + ".");
  status(what + ". Save them below.");
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
    document.title = "Receiving… keep this page open";
  }
});

function main() {
  $("accept").onclick = () => accept();
  $("decline").onclick = () => fail("Declined. Nothing was received.", P.CANCEL_DECLINED);
  $("save-all").onclick = saveAll;
  let link;
  try {
    link = P.parseLink(location.href);
  } catch (e) {
    return fail(e.message);
  }
  if (link.kind !== "share") return fail("This is a link to send files to, not to receive them from.");
  if (!window.RTCPeerConnection) {
    return fail("This browser cannot receive files: it has no WebRTC. Open the link in a current Chrome, Firefox or Safari.");
  }
  st.streamReady = startStreaming().then((s) => (st.streamer = s));
  st.guest = new Guest(link, {
    status,
    open: opened,
    fail: (message) => fail(st.connected ? message + " Nothing incomplete is offered to save." + noResume() : message),
  });
  st.guest.start();
}

main();
