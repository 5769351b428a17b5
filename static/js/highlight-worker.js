// Code highlighting off the main thread: highlight.js (most of the page's script) is
// parsed here, and each finished code block is highlighted here, so neither shows up
// as a long task while a reply streams. Answers HTML made of <span class="hljs-...">
// around escaped text.
//
// The base bundle (static/vendor/highlight.mjs) holds the common languages; any other
// language a code block names is imported from its own module on first use (issue 15:
// the chat page's weight), through the bundle's loadLanguage().

let hljs = null;
let loadLanguage = null;

self.onmessage = async (event) => {
  const { id, code, lang, url, auto } = event.data;
  let html = null;
  try {
    if (!hljs) {
      const lib = await import(url);
      hljs = lib.default;
      loadLanguage = lib.loadLanguage || null;
      hljs.configure({ ignoreUnescapedHTML: true });
    }
    if (lang && !hljs.getLanguage(lang) && loadLanguage) await loadLanguage(lang);
    if (lang && hljs.getLanguage(lang)) html = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    else if (!lang && auto) html = hljs.highlightAuto(code).value;
  } catch {
    html = null;
  }
  self.postMessage({ id, html });
};
