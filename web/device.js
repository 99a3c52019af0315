// device.js — a short readable name for a user agent, for the sessions list (account.js) and
// the audit log (admin.js): one table of browsers and systems, so the two screens name a
// device alike. Text only; the caller puts the full agent in a `title`.

import { t, addStrings } from './i18n.js';

addStrings({
  en: { 'device.on': '{browser} on {os}' },
  zh: { 'device.on': '{os} 上的 {browser}' },
});

// First match wins, so the more specific names come first (Edge and Opera say "Chrome" too,
// every Chromium says "Safari").
const BROWSERS = [
  [/MicroMessenger\//, 'WeChat'],
  [/Edg(A|iOS|e)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/SamsungBrowser\//, 'Samsung Internet'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/HeadlessChrome\//, 'Chrome'],
  [/Chromium\//, 'Chromium'],
  [/Chrome\/|CriOS\//, 'Chrome'],
  [/Version\/[\d.]+.*Safari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/okhttp/i, 'OkHttp'],
];
// Android and ChromeOS agents say "Linux" too, and iPhones "like Mac OS X": those come first.
const SYSTEMS = [
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/HarmonyOS/, 'HarmonyOS'],
  [/Linux|X11/, 'Linux'],
];

/** A short readable name for a user agent ("Chrome on Linux"); empty when nothing is known. */
export function deviceName(ua) {
  if (!ua) return '';
  const browser = (BROWSERS.find(([re]) => re.test(ua)) || [])[1];
  const os = (SYSTEMS.find(([re]) => re.test(ua)) || [])[1];
  if (browser && os) return t('device.on', { browser, os });
  if (browser || os) return browser || os;
  // Something unusual: its first word, shortened.
  const first = ua.split(/[\s(]/)[0];
  return first.length > 40 ? `${first.slice(0, 39)}…` : first;
}
