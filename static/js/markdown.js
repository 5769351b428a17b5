// Markdown in the browser: marked -> DOMPurify -> highlight.js and KaTeX, block by block.
//
// A reply is split into top-level blocks (paragraphs, lists, code, ...). While it
// streams, only its tail is lexed again: every block but the last two is *frozen*
// (its DOM, and its highlighting, stay as they are), so a frame costs the same at
// 100 or 100,000 characters. Code is highlighted once, when its block is complete.
// When the reply ends the whole text is lexed once, and blocks whose source did not
// change keep their DOM.

import { Marked } from "marked";
import DOMPurify from "dompurify";
import { mathExtensions, splitMath } from "grokweb/math";

const md = new Marked({ gfm: true, breaks: false, extensions: mathExtensions() });

// Math: formulas become placeholders showing their source (static/js/math.js); KaTeX (its
// script, stylesheet and fonts, ~80 KB gzipped) is loaded the first time one is on screen,
// then typesets them. Its output is sanitized like the rest (HTML + MathML, no links).
// Model output is text to read: nothing in it may ask for input, post a form, embed a page or
// restyle ours. (The Content-Security-Policy would stop scripts anyway; these are not scripts.)
const INERT = ["form", "input", "button", "textarea", "select", "option", "iframe", "frame", "frameset",
  "object", "embed", "style", "link", "meta", "base"];
const MARKDOWN_SANITIZE = { USE_PROFILES: { html: true }, FORBID_TAGS: INERT, FORBID_ATTR: ["style"] };
// KaTeX's output is positioned by style attributes: the math sanitizer keeps them (ours, not the model's).
const MATH_SANITIZE = {
  USE_PROFILES: { html: true, mathMl: true },
  ADD_TAGS: ["semantics", "annotation"],
  ADD_ATTR: ["encoding"],
  FORBID_TAGS: ["a", "img", "annotation-xml", ...INERT],
};
const KATEX_OPTIONS = { throwOnError: false, trust: false, strict: "ignore", output: "htmlAndMathml", maxSize: 50, maxExpand: 500 };
let katex = null; // the module, once loaded; false if it failed
let katexLoading = null;
const mathWaiting = new Set(); // placeholders rendered before KaTeX arrived
const mathCache = new Map(); // "1|tex" -> sanitized HTML (a streaming reply re-renders its tail)

function resolve(specifier) {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return null;
  }
}

function loadKatex() {
  if (!katexLoading) {
    const css = resolve("grokweb/katex.css");
    if (css && !document.querySelector("link[data-katex]")) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = css;
      link.dataset.katex = "";
      document.head.append(link);
    }
    katexLoading = import("katex").then(
      (mod) => {
        katex = mod.default || mod;
        const waiting = [...mathWaiting];
        mathWaiting.clear();
        for (const node of waiting) if (node.isConnected) typesetOne(node);
      },
      () => {
        katex = false; // offline or blocked: formulas stay as their source
        mathWaiting.clear();
      },
    );
  }
  return katexLoading;
}

function typesetOne(node) {
  const tex = node.dataset.tex;
  const display = node.dataset.display === "1";
  const key = `${display ? 1 : 0}|${tex}`;
  let html = mathCache.get(key);
  if (html === undefined) {
    try {
      html = DOMPurify.sanitize(katex.renderToString(tex, { ...KATEX_OPTIONS, displayMode: display }), MATH_SANITIZE);
    } catch {
      return; // stays as its source
    }
    if (mathCache.size > 500) mathCache.delete(mathCache.keys().next().value);
    mathCache.set(key, html);
  }
  node.innerHTML = html;
  node.classList.add("math-done");
}

/** Typeset the formulas under `root` now, or as soon as KaTeX has loaded. */
export function typesetMath(root) {
  const nodes = root.querySelectorAll(".math[data-tex]:not(.math-done)");
  if (!nodes.length || katex === false) return;
  for (const node of nodes) {
    if (katex) typesetOne(node);
    else mathWaiting.add(node);
  }
  if (!katex) loadKatex();
}

/** Plain text with its formulas typeset (reasoning traces are not markdown). */
export function renderPlainMath(container, text) {
  const parts = splitMath(text || "");
  if (!parts.some((p) => p.tex)) {
    container.textContent = text || "";
    return;
  }
  const fragment = document.createDocumentFragment();
  for (const part of parts) {
    if (part.tex === undefined) {
      fragment.append(part.text);
      continue;
    }
    const node = el("span", part.display ? "math math-display" : "math math-inline", part.raw);
    node.dataset.tex = part.tex;
    if (part.display) node.dataset.display = "1";
    fragment.append(node);
  }
  container.replaceChildren(fragment);
  typesetMath(container);
}

// Highlighting runs in a worker (static/js/highlight-worker.js): highlight.js is large,
// and a long code block takes a while. The worker starts when the page is idle or when
// the first finished code block needs it; a block whose text changed meanwhile is left.
let worker = null;
let nextId = 0;
const waiting = new Map(); // id -> [code element, text sent]
function highlighter() {
  if (worker === null) {
    try {
      worker = new Worker(import.meta.resolve("grokweb/highlight-worker"), { type: "module" });
      worker.onmessage = ({ data }) => {
        const job = waiting.get(data.id);
        waiting.delete(data.id);
        if (!job || !data.html) return;
        const [code, text] = job;
        if (code.textContent !== text || code.classList.contains("hljs")) return;
        code.innerHTML = DOMPurify.sanitize(data.html, { ALLOWED_TAGS: ["span"], ALLOWED_ATTR: ["class"] });
        code.classList.add("hljs");
      };
      worker.onerror = () => {
        worker = false;
      };
    } catch {
      worker = false; // no workers: code stays plain
    }
  }
  return worker || null;
}
export function preloadHighlighter() {
  highlighter()?.postMessage({ id: -1, code: "", lang: "plaintext", url: import.meta.resolve("highlight.js") });
}

function highlight(code, lang) {
  const text = code.textContent;
  const size = text.length;
  if (lang ? size > HIGHLIGHT_MAX : size > HIGHLIGHT_AUTO_MAX) return;
  const w = highlighter();
  if (!w) return;
  const id = (nextId += 1);
  waiting.set(id, [code, text]);
  w.postMessage({ id, code: text, lang, auto: !lang, url: import.meta.resolve("highlight.js") });
}

const HIGHLIGHT_AUTO_MAX = 20_000; // characters: longer code without a language stays plain
const HIGHLIGHT_MAX = 100_000; // characters: longer code stays plain (one long task otherwise)
const LIVE_BLOCKS = 2; // blocks at the end of a streaming reply that may still change

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function sanitize(html) {
  return DOMPurify.sanitize(html, MARKDOWN_SANITIZE);
}

/** Wrap each <pre> in a frame with its language and a Copy button; highlight when final. */
function decorateCode(root, final) {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    if (!code) continue;
    const langClass = [...code.classList].find((c) => c.startsWith("language-"));
    const lang = langClass ? langClass.slice(9) : "";
    const frame = el("div", "code-block");
    const head = el("div", "code-head");
    head.append(el("span", "code-lang", lang || "code"));
    const copy = el("button", "code-copy", "Copy");
    copy.type = "button";
    copy.dataset.action = "copy-code";
    copy.setAttribute("aria-label", `Copy ${lang || "code"}`);
    head.append(copy);
    pre.replaceWith(frame);
    pre.tabIndex = 0; // scrollable regions must be reachable by keyboard
    frame.append(head, pre);
    if (final) highlight(code, lang);
  }
}

/** Where a streaming caret goes: the innermost last element of a block. */
function caretHost(block) {
  let node = block;
  while (node.lastElementChild && !["TABLE", "HR", "BR", "IMG"].includes(node.lastElementChild.tagName)) {
    const next = node.lastElementChild;
    if (next.classList.contains("code-head")) break;
    node = next;
  }
  return node;
}

function lex(text) {
  try {
    return md.lexer(text);
  } catch {
    return null;
  }
}

/** Markdown in a container, re-rendering only the blocks that changed. */
export class MarkdownView {
  constructor(container) {
    this.el = container;
    this.blocks = []; // {raw, final, el}
    this.frozen = 0; // blocks that no longer change while streaming
    this.frozenEnd = 0; // characters of text those blocks cover
    this.text = "";
    this.caret = el("span", "caret");
    this.caret.setAttribute("aria-hidden", "true");
    this.stats = { lexed: 0 }; // characters lexed, for tests and benchmarks
  }

  update(text, streaming) {
    text = text || "";
    if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n"); // marked does the same: keep offsets equal
    this.caret.remove();
    if (!streaming || !this.appendOnly(text)) {
      this.frozen = 0;
      this.frozenEnd = 0;
    }
    this.text = text;
    if (!streaming) {
      const tokens = lex(text);
      if (!tokens) {
        this.plain(text);
        return;
      }
      this.stats.lexed += text.length;
      this.apply(0, tokens, tokens.links || {}, false);
      return;
    }
    const tail = text.slice(this.frozenEnd);
    const tokens = lex(tail);
    if (!tokens) {
      this.plain(text);
      return;
    }
    this.stats.lexed += tail.length;
    this.apply(this.frozen, tokens, tokens.links || {}, true);
    // Freeze what can no longer change: everything but the last blocks.
    const freeze = tokens.length - LIVE_BLOCKS;
    for (let i = 0; i < freeze; i += 1) {
      this.frozenEnd += tokens[i].raw.length;
      this.frozen += 1;
    }
    if (text) {
      const last = this.blocks[this.blocks.length - 1];
      (last ? caretHost(last.el) : this.el).appendChild(this.caret);
    }
  }

  /** Whether `text` extends what is shown (a streaming append) without touching frozen blocks. */
  appendOnly(text) {
    if (text.length < this.frozenEnd) return false;
    const from = Math.max(0, this.frozenEnd - 64);
    return text.slice(from, this.frozenEnd) === this.text.slice(from, this.frozenEnd);
  }

  /** Render `tokens` as blocks from index `start`; the last one is unfinished while streaming. */
  apply(start, tokens, links, streaming) {
    const n = tokens.length;
    for (let i = 0; i < n; i += 1) {
      const token = tokens[i];
      const at = start + i;
      const final = !(streaming && i === n - 1);
      const block = this.blocks[at];
      if (block && block.raw === token.raw && block.final === final && block.el) continue;
      let html;
      try {
        const list = [token];
        list.links = links;
        html = sanitize(md.parser(list));
      } catch {
        html = "";
      }
      const div = block?.el || el("div", "md-block");
      div.innerHTML = html;
      if (token.type === "code" || html.includes("<pre")) decorateCode(div, final);
      if (html.includes('class="math')) typesetMath(div);
      if (!block?.el) this.el.appendChild(div);
      this.blocks[at] = { raw: token.raw, final, el: div };
    }
    while (this.blocks.length > start + n) {
      this.blocks.pop().el?.remove();
    }
  }

  plain(text) {
    this.blocks = [];
    this.frozen = 0;
    this.frozenEnd = 0;
    this.el.textContent = text || "";
  }
}
