// Code highlighting off the main thread: highlight.js (most of the page's script) is
// parsed here, and each finished code block is highlighted here, so neither shows up
// as a long task while a reply streams. Answers HTML made of <span class="hljs-...">
// around escaped text.

let hljs = null;

self.onmessage = async (event) => {
  const { id, code, lang, url, auto } = event.data;
  let html = null;
  try {
    if (!hljs) {
      hljs = (await import(url)).default;
      hljs.configure({ ignoreUnescapedHTML: true });
    }
    if (lang && hljs.getLanguage(lang)) html = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    else if (!lang && auto) html = hljs.highlightAuto(code).value;
  } catch {
    html = null;
  }
  self.postMessage({ id, html });
};
