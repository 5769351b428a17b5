// Where a reply has math: the delimiters, as pure functions (no DOM), for marked and for
// plain text (reasoning). KaTeX itself is loaded by markdown.js on the first formula.
//
// Four delimiters: $$…$$ and \[…\] (display), $…$ and \(…\) (inline). A lone `$` is
// ordinary prose far more often than math ("$5 and $10"), so `$…$` follows pandoc's rule,
// the conservative one: the opening `$` has a non-space right after it, the closing `$`
// a non-space right before it and no digit right after it, and the two are on one line.
// No formula spans a blank line. `\$` is a dollar sign. Code (fenced, indented or inline)
// is never math: marked consumes code before these rules run, and splitMath skips it.

const NO_BLANK = String.raw`(?:[^\n]|\n(?![ \t]*\n))`; // any character; a newline only if no blank line follows
const RULES = [
  // [sticky pattern, display?]: the first that matches at a position wins.
  [new RegExp(String.raw`\$\$(?!\$)(${NO_BLANK}+?)\$\$`, "y"), true],
  [new RegExp(String.raw`\\\[(${NO_BLANK}+?)\\\]`, "y"), true],
  [new RegExp(String.raw`\\\((${NO_BLANK}+?)\\\)`, "y"), false],
  [/\$(?=[^\s$])((?:\\[^\n]|[^\\$\n])*?(?:\\[^\n]|[^\s\\$]))\$(?!\d)/y, false],
];

/** The formula that starts exactly at `at` in `src`: {raw, tex, display} or null. */
export function matchMath(src, at = 0) {
  const c = src[at];
  if (c !== "$" && c !== "\\") return null;
  for (const [re, display] of RULES) {
    re.lastIndex = at;
    const m = re.exec(src);
    if (m && m[1].trim()) return { raw: m[0], tex: m[1].trim(), display };
  }
  return null;
}

/** Index of the first formula in `src` (for marked's `start` hook), or -1. */
export function mathStart(src) {
  const candidates = /[$\\]/g;
  let m;
  while ((m = candidates.exec(src)) !== null) {
    const at = m.index;
    if (src[at] === "\\" && src[at + 1] !== "(" && src[at + 1] !== "[") {
      candidates.lastIndex = at + 2; // an escape (\$, \\): not an opener
      continue;
    }
    if (matchMath(src, at)) return at;
    if (src[at] === "$" && src[at + 1] === "$") candidates.lastIndex = at + 2;
  }
  return -1;
}

// A display formula that is a block of its own: $$ or \[ at the start of a line (up to three
// spaces), its closing delimiter at the end of a line.
const BLOCK = new RegExp(
  String.raw`^ {0,3}(?:\$\$(${NO_BLANK}+?)\$\$|\\\[(${NO_BLANK}+?)\\\])[ \t]*(?:\n+|$)`,
);

/** A display block at the start of `src`: {raw, tex} or null. */
export function matchMathBlock(src) {
  const m = BLOCK.exec(src);
  if (!m) return null;
  const tex = (m[1] ?? m[2]).trim();
  return tex ? { raw: m[0], tex } : null;
}

function mathBlockStart(src) {
  const lines = /(^|\n)( {0,3})(?=\$\$|\\\[)/g;
  let m;
  while ((m = lines.exec(src)) !== null) {
    const at = m.index + m[1].length;
    if (matchMathBlock(src.slice(at))) return at;
    lines.lastIndex = at + m[2].length + 2;
  }
  return -1;
}

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The placeholder a formula becomes: its source, shown as is until KaTeX typesets it. */
export function mathHtml(tex, display, raw, block = false) {
  const tag = block ? "div" : "span";
  const cls = display ? "math math-display" : "math math-inline";
  return `<${tag} class="${cls}" data-tex="${escapeHtml(tex)}"${display ? ' data-display="1"' : ""}>${escapeHtml(raw)}</${tag}>`;
}

/** marked extensions: `new Marked({extensions: mathExtensions()})` or `md.use({extensions: ...})`. */
export function mathExtensions() {
  return [
    {
      name: "mathBlock",
      level: "block",
      start: mathBlockStart,
      tokenizer(src) {
        const m = matchMathBlock(src);
        return m ? { type: "mathBlock", raw: m.raw, text: m.tex } : undefined;
      },
      renderer: (token) => mathHtml(token.text, true, token.raw.trim(), true) + "\n",
    },
    {
      name: "math",
      level: "inline",
      start: mathStart,
      tokenizer(src) {
        const m = matchMath(src, 0);
        return m ? { type: "math", raw: m.raw, text: m.tex, display: m.display } : undefined;
      },
      renderer: (token) => mathHtml(token.text, token.display, token.raw),
    },
  ];
}

/**
 * Plain text (a reasoning trace) cut into text and formulas: [{text} | {tex, display, raw}].
 * Fenced code blocks and `inline code` stay text.
 */
export function splitMath(text) {
  const parts = [];
  let plainFrom = 0;
  let i = 0;
  const n = text.length;
  const lineStart = (at) => at === 0 || text[at - 1] === "\n";
  while (i < n) {
    const c = text[i];
    if ((c === "`" || c === "~") && lineStart(i)) {
      const fence = /^(`{3,}|~{3,})[^\n]*\n?/.exec(text.slice(i));
      if (fence) {
        const close = new RegExp(String.raw`\n {0,3}${fence[1][0] === "`" ? "`" : "~"}{${fence[1].length},}[ \t]*(?=\n|$)`, "g");
        close.lastIndex = i + fence[0].length - 1;
        const end = close.exec(text);
        i = end ? end.index + end[0].length : n;
        continue;
      }
    }
    if (c === "`") {
      const run = /`+/y;
      run.lastIndex = i;
      const ticks = run.exec(text)[0];
      const close = text.indexOf(ticks, i + ticks.length);
      i = close === -1 ? i + ticks.length : close + ticks.length;
      continue;
    }
    if (c === "\\" && text[i + 1] !== "(" && text[i + 1] !== "[") {
      i += 2;
      continue;
    }
    if (c === "$" || c === "\\") {
      const m = matchMath(text, i);
      if (m) {
        if (i > plainFrom) parts.push({ text: text.slice(plainFrom, i) });
        parts.push({ tex: m.tex, display: m.display, raw: m.raw });
        i += m.raw.length;
        plainFrom = i;
        continue;
      }
      if (c === "$" && text[i + 1] === "$") {
        i += 2;
        continue;
      }
    }
    i += 1;
  }
  if (plainFrom < n) parts.push({ text: text.slice(plainFrom) });
  return parts;
}
