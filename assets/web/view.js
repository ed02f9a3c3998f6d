// What both pages draw the same way: sizes, durations, and a received
// text message, shown as text (never markup) with its links clickable and
// a Copy button.

export function bytes(n) {
  if (n < 1000) return Math.round(n) + " B";
  const units = "kMGTPE";
  let u = -1;
  while (n >= 1000 && u < units.length - 1) { n /= 1000; u++; }
  return n.toFixed(1) + " " + units[u] + "B";
}

export function duration(s) {
  if (!isFinite(s) || s < 0) return "?";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

const LINK = /\bhttps?:\/\/[^\s<>"']+/g;

// showText fills box (an element holding a <pre> and a Copy button) with
// text. Only http(s) addresses become links, opened in a new tab without
// a referrer; everything else is text nodes.
export function showText(box, text) {
  const pre = box.querySelector("pre");
  pre.replaceChildren();
  let at = 0;
  for (const m of text.matchAll(LINK)) {
    const url = m[0].replace(/[.,;:!?)\]]+$/, "");
    pre.append(text.slice(at, m.index));
    const a = document.createElement("a");
    a.href = url;
    a.textContent = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    pre.append(a);
    at = m.index + url.length;
  }
  pre.append(text.slice(at));
  const copy = box.querySelector("button");
  copy.onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      // No clipboard on a plain-http page: select the text instead.
      getSelection().selectAllChildren(pre);
      copy.textContent = "Selected: copy it now";
    }
    setTimeout(() => (copy.textContent = "Copy"), 2000);
  };
  box.hidden = false;
}
