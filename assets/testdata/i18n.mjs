// Runs the pages' words (i18n.js, view.js) under node, with the real
// catalogues and node's ICU, which is the browsers' CLDR: which language
// a browser's list gets, the fallbacks, the plural forms the rules pick,
// and sizes and times as each locale writes them. argv[2] is the plural
// forms assets/i18n_test.go requires of each language, to check them
// against the rules themselves. Exits non-zero, naming each mismatch.
import { readFileSync } from "node:fs";
import * as I from "../web/i18n.js";
import { bytes, duration, rate } from "../web/view.js";
import { KeyedError } from "../web/proto.js";

const required = JSON.parse(process.argv[2]);
let bad = 0;
const check = (what, got, want) => {
  if (got !== want) { console.error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`); bad++; }
};
const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../web/lang-${lang}.json`, import.meta.url), "utf8"));
const get = async (lang) => catalogue(lang);
// Sizes use no-break spaces where the locale wants them; compare words.
const plain = (s) => s.replace(/[\u00a0\u202f]/g, " ");

// The browser's languages, best first, and the catalogue they get.
for (const [prefs, lang, loc] of [
  [["en-US", "en"], "en", "en-US"],
  [["zh-CN", "zh"], "zh-Hans", "zh-CN"],
  [["zh"], "zh-Hans", "zh"],
  [["zh-SG"], "zh-Hans", "zh-SG"],
  [["zh-Hans-HK"], "zh-Hans", "zh-Hans-HK"],
  [["zh-TW", "es-MX"], "es", "es-MX"], // no Traditional catalogue: the next language first
  [["zh-TW"], "zh-Hans", "zh-Hans"], // and Simplified before English
  [["ko-KR", "ko"], "en", "en"],
  [["ko", "de-AT"], "de", "de-AT"],
  [["fr-CA"], "fr", "fr-CA"],
  [["ja-JP"], "ja", "ja-JP"],
  [["es-419"], "es", "es-419"],
  [["not a tag", "pt-BR"], "en", "en"],
  [[], "en", "en"],
]) {
  const got = I.pickLanguage(prefs);
  check(`language for ${JSON.stringify(prefs)}`, `${got.lang} ${got.locale}`, `${lang} ${loc}`);
}

// Every plural form the language's rules can pick is the one its
// catalogue has, and the Go test requires exactly those.
for (const lang of I.LANGUAGES) {
  const rules = new Intl.PluralRules(lang);
  const cats = [...rules.resolvedOptions().pluralCategories].sort();
  check(`plural forms of ${lang} in i18n_test.go`, JSON.stringify(required[lang]), JSON.stringify(cats));
  await I.loadLanguage([lang], get);
  const words = catalogue(lang);
  for (const [key, forms] of Object.entries(words)) {
    if (typeof forms !== "object") continue;
    for (const n of [0, 1, 2, 3, 5, 11, 21, 101, 1000, 1e6, 2e6]) {
      const form = rules.select(n);
      if (!(form in forms)) { check(`${lang} ${key} for ${n}`, "no form " + form, "a form"); continue; }
      const want = forms[form].replace("{count}", new Intl.NumberFormat(lang).format(n)).replace("{size}", "S");
      check(`${lang} ${key} for ${n}`, I.plural(key, n, { size: "S" }), want);
    }
  }
}

// Fallbacks: a key a language lacks is English; a catalogue that cannot
// be fetched is English; nothing at all leaves the key, never a crash.
const partial = async (lang) => {
  const c = catalogue(lang);
  if (lang === "de") { delete c["receive.accept"]; delete c["page.files"]; }
  return c;
};
await I.loadLanguage(["de-DE"], partial);
check("German", I.language(), "de");
check("a key German lacks", I.t("receive.accept"), "Download everything");
check("a plural German lacks", I.plural("page.files", 2, { size: "S" }), "2 files, S");
check("a key German has", I.t("receive.decline"), "Ablehnen");
check("a key nobody has", I.t("receive.nonesuch"), "receive.nonesuch");
check("a plural key through t", I.t("send.sent", { count: 3, size: "S" }), "3 Dateien gesendet, S, jede Datei vom empfangenden Gerät geprüft.");
await I.loadLanguage(["ja"], async (lang) => { if (lang === "ja") throw new Error("404"); return catalogue(lang); });
check("a catalogue that did not load", `${I.language()} ${I.t("receive.accept")}`, "en Download everything");
await I.loadLanguage(["fr"], async () => { throw new Error("offline"); });
check("no catalogue at all", `${I.language()} ${I.t("receive.accept")}`, "en receive.accept");
await I.loadLanguage(["es"], async (lang) => (lang === "es" ? ["not", "a", "catalogue"] : catalogue(lang)));
check("a catalogue that is not an object", `${I.language()} ${I.t("receive.accept")}`, "en Download everything");
await I.loadLanguage(["ko"], get);
check("an unknown language", `${I.language()} ${I.t("receive.accept")}`, "en Download everything");

// Sentences join with a space, or none in Chinese and Japanese; errors
// with a key are worded, others keep the browser's own message.
check("English sentences", I.then("A.", "", "B."), "A. B.");
check("no sentences", I.then("", ""), "");
await I.loadLanguage(["zh-CN"], get);
check("Chinese sentences", I.then("甲。", "乙。"), "甲。乙。");
check("a keyed error", I.reason(new KeyedError("more data than announced", "protocol.moreThanAnnounced")), "比声明的更多的数据");
check("a keyed error with params", I.reason(new KeyedError("x changed", "protocol.changed", { path: "a/b.txt" })), "a/b.txt 已更改或无法再读取");
check("an error without a key", I.reason(new TypeError("Failed to fetch")), "Failed to fetch");

// Sizes, speeds and times as each locale writes them.
for (const [lang, b, mb, speed, left] of [
  ["en", "500 bytes", "1.5 MB", "2.5 MB/s", "3 min, 5 sec"],
  ["de-DE", "500 Byte", "1,5 MB", "2,5 MB/s", "3 Min., 5 Sek."],
  ["fr-FR", "500 octets", "1,5 Mo", "2,5 Mo/s", "3 min et 5 s"],
  ["es-ES", "500 bytes", "1,5 MB", "2,5 MB/s", "3 min y 5 s"],
  ["ja-JP", "500 バイト", "1.5 MB", "2.5 MB/秒", "3 分 5 秒"],
  ["zh-CN", "500字节", "1.5 MB", "2.5 MB/秒", "3分钟5秒"],
]) {
  await I.loadLanguage([lang], get);
  check(`${lang} bytes`, plain(bytes(500)), b);
  check(`${lang} megabytes`, plain(bytes(1.5e6)), mb);
  check(`${lang} speed`, plain(rate(2.5e6)), speed);
  check(`${lang} time left`, plain(duration(185)), left);
}
await I.loadLanguage(["en"], get);
check("an hour and more", duration(3725), "1 hr, 2 min");
check("whole minutes", duration(180), "3 min");
check("no estimate", duration(NaN), "?");
check("the largest unit", bytes(2.5e18), "2,500.0 PB");

if (bad) process.exit(1);
console.log(`ok: ${I.LANGUAGES.length} languages, their plural forms, fallbacks, sizes and times`);
