// Words for people, in their language. Both pages take every sentence
// they show from a catalogue: one JSON file per language beside the
// pages (lang-en.json, lang-zh-Hans.json, …), fetched relative to this
// module, which works on any origin, a plain-http LAN address included
// (no secure context needed, unlike a service worker).
//
// A catalogue maps a stable key ("receive.accept") to a string, or, for
// words that depend on a count, to the Intl.PluralRules categories its
// language needs: {"one": "{count} file", "other": "{count} files"}.
// {name} is a placeholder, replaced by the param of that name as text
// (never markup); braces mean nothing else. Keys are written whole in
// the code, never built from parts, so that assets/i18n_test.go finds
// each one: it checks that every language has every English key, the
// same placeholders and the plural forms its language needs.
//
// English is the reference and the fallback: a key a language lacks is
// shown in English, a language without a catalogue gets English.

// The catalogues there are, by the tag their file is named after.
export const LANGUAGES = ["en", "zh-Hans", "es", "de", "fr", "ja"];

const st = {
  lang: "en", // the catalogue in use
  locale: "en", // the tag numbers and times are formatted for (e.g. de-AT)
  words: {},
  english: {},
  formats: new Map(), // Intl formatters by their options
};

// pickLanguage returns the catalogue ({lang, locale}) for a browser's
// preferred languages, best first (navigator.languages): the first tag
// whose language has a catalogue wins, regional variants included (de-AT
// is de, formatted as in Austria). Chinese in the Simplified script (zh,
// zh-CN, zh-SG, zh-Hans) is zh-Hans. Traditional Chinese (zh-TW, zh-HK,
// zh-Hant) has no catalogue of its own: it gets Simplified only when no
// other listed language has one. Anything else is English.
export function pickLanguage(preferred) {
  const tags = [];
  for (const p of preferred || []) {
    try {
      tags.push(...Intl.getCanonicalLocales(p));
    } catch {
      // not a language tag
    }
  }
  for (const loose of [false, true]) {
    for (const tag of tags) {
      const lang = catalogueFor(tag, loose);
      if (lang) return { lang, locale: loose ? lang : tag };
    }
  }
  return { lang: "en", locale: "en" };
}

function catalogueFor(tag, loose) {
  let loc;
  try {
    loc = new Intl.Locale(tag);
  } catch {
    return "";
  }
  if (loc.language === "zh") {
    const script = loc.script || loc.maximize().script;
    return script === "Hans" || loose ? "zh-Hans" : "";
  }
  return LANGUAGES.includes(loc.language) ? loc.language : "";
}

// loadLanguage picks the catalogue for the browser's languages and loads
// it, with English beside it for the keys it lacks. It never rejects: a
// catalogue that cannot be fetched leaves English (and the pages' own
// English text in the HTML when even that fails). get fetches one
// catalogue by tag; tests under node pass their own.
export async function loadLanguage(preferred = browserLanguages(), get = fetchCatalogue) {
  const { lang, locale } = pickLanguage(preferred);
  // Anything but a catalogue (a failed fetch, JSON that is not an object)
  // counts as none.
  const quiet = (p) => p.then(
    (c) => (c && typeof c === "object" && !Array.isArray(c) ? c : null),
    (e) => { console.info(`EpicShare: no words: ${e.message}`); return null; },
  );
  const [english, words] = await Promise.all([quiet(get("en")), lang === "en" ? null : quiet(get(lang))]);
  st.english = english || {};
  st.words = words || st.english;
  st.lang = words ? lang : "en";
  st.locale = words ? locale : "en";
  st.formats.clear();
  return st.lang;
}

function browserLanguages() {
  if (typeof navigator === "undefined") return [];
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

async function fetchCatalogue(lang) {
  const r = await fetch(new URL(`lang-${lang}.json`, import.meta.url));
  if (!r.ok) throw new Error(`lang-${lang}.json: ${r.status}`);
  return r.json();
}

// language is the tag of the catalogue in use, for <html lang>.
export function language() {
  return st.lang;
}

// locale is the tag numbers, sizes and times are formatted for.
export function locale() {
  return st.locale;
}

// t returns the words for key with params filled in. A key this language
// lacks comes in English; one English lacks too (a catalogue that could
// not load) comes as the key itself, so the page still says something.
export function t(key, params) {
  let s = entry(st.words, key) ?? entry(st.english, key);
  if (s && typeof s === "object") s = s.other;
  return fill(typeof s === "string" ? s : key, params);
}

// plural returns the words for key in the plural form count takes in this
// language, with {count} (formatted for the locale) and params filled in.
export function plural(key, count, params = {}) {
  const forms = (words, loc) => {
    const e = entry(words, key);
    if (typeof e === "string") return e;
    if (!e || typeof e !== "object") return undefined;
    return e[format("PluralRules", loc, {}).select(count)] ?? e.other;
  };
  const s = forms(st.words, st.locale) ?? forms(st.english, "en");
  return fill(typeof s === "string" ? s : key, { ...params, count: number(count) });
}

// then joins sentences as this language does: with a space, or, in
// Chinese and Japanese, without one. Empty parts are left out.
export function then(...sentences) {
  const parts = sentences.filter(Boolean);
  return parts.length ? parts.reduce((first, next) => t("page.then", { first, next })) : "";
}

// reason is the words for an error: its catalogue key if it has one
// (proto.js KeyedError), else its own message, as the browser worded it.
export function reason(err) {
  if (err && typeof err.key === "string") return t(err.key, err.params);
  return String(err?.message ?? err);
}

// number formats n for the locale (1,234 or 1.234 or 1 234).
export function number(n, options = {}) {
  return format("NumberFormat", st.locale, options).format(n);
}

// format returns an Intl formatter of kind for loc and options, made once.
export function format(kind, loc, options) {
  const id = kind + "|" + loc + "|" + JSON.stringify(options);
  let f = st.formats.get(id);
  if (!f) {
    f = new Intl[kind](loc, options);
    st.formats.set(id, f);
  }
  return f;
}

// translatePage puts the words into the page: an element with
// data-i18n="key" gets them as its text (the <title> too), one with
// data-i18n-aria-label or data-i18n-placeholder as that attribute; and
// <html lang> names the language, so that fonts and screen readers
// follow. The HTML keeps English text of its own for a browser that
// runs no script.
export function translatePage(root = document) {
  root.documentElement.lang = st.lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["aria-label", "placeholder"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
  }
}

const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function entry(words, key) {
  return own(words, key) ? words[key] : undefined;
}

function fill(s, params) {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name) => (own(params, name) ? String(params[name]) : m));
}
