// What both pages draw the same way: sizes, speeds, durations, and a
// received text message, shown as text (never markup) with its links
// clickable and a Copy button. Numbers are formatted for the reader's
// locale (i18n.js): 1.5 MB, 1,5 MB, 1,5 Mo.
import { format, locale, number, t } from "./i18n.js";

// Decimal units, as the desktop app counts: Intl knows each by name, and
// words and abbreviates it for the locale.
const UNITS = ["kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte"];
// What a browser whose Intl has no units (Safari before 14.1) shows.
const SYMBOLS = { byte: "B", kilobyte: "kB", megabyte: "MB", gigabyte: "GB", terabyte: "TB", petabyte: "PB", hour: "h", minute: "min", second: "s" };

// unit formats n of unit (with "-per-second", a speed) for the locale.
function unit(n, name, display, digits) {
  try {
    return format("NumberFormat", locale(), { style: "unit", unit: name, unitDisplay: display, ...digits }).format(n);
  } catch {
    const [base, per] = name.split("-per-");
    return number(n, digits) + " " + SYMBOLS[base] + (per ? "/s" : "");
  }
}

// bytes formats a size: "500 bytes", "1.5 MB".
export function bytes(n) {
  return size(n, "");
}

// rate formats a speed, n bytes a second: "1.5 MB/s".
export function rate(n) {
  return size(n, "-per-second");
}

function size(n, per) {
  if (!(n >= 1000)) {
    // Whole bytes are spelled out ("500 bytes", "500 octets"): the short
    // form of the unit is not plural in every locale ("500 byte").
    return unit(Math.max(0, Math.round(n)) || 0, "byte" + per, "long", { maximumFractionDigits: 0 });
  }
  let u = -1;
  while (n >= 1000 && u < UNITS.length - 1) { n /= 1000; u++; }
  return unit(n, UNITS[u] + per, "short", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

// duration formats s seconds by its two largest units, as the locale
// writes them: "3 min, 5 sec", "3 min et 5 s", "3分钟5秒".
export function duration(s) {
  if (!isFinite(s) || s < 0) return "?";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  let parts = h ? [["hour", h], ["minute", m]] : m ? [["minute", m], ["second", sec]] : [["second", sec]];
  if (parts.length > 1 && !parts[1][1]) parts = parts.slice(0, 1);
  const words = parts.map(([name, v]) => unit(v, name, "short", {}));
  if (typeof Intl.ListFormat !== "function") return words.join(" ");
  return format("ListFormat", locale(), { type: "unit", style: "short" }).format(words);
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
      copy.textContent = t("page.copied");
    } catch {
      // No clipboard on a plain-http page: select the text instead.
      getSelection().selectAllChildren(pre);
      copy.textContent = t("page.selected");
    }
    setTimeout(() => (copy.textContent = t("page.copy")), 2000);
  };
  box.hidden = false;
}
