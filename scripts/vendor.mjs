#!/usr/bin/env node
// Build the browser copies of our front-end libraries from node_modules/ into
// static/vendor/ (gitignored). Run by `npm install` (postinstall) or `npm run vendor`.
// Nothing is fetched from the network here: the app works fully offline.
//
//   static/vendor/marked.esm.js        marked, minified ESM
//   static/vendor/purify.es.mjs        DOMPurify, minified ESM
//   static/vendor/highlight.mjs        highlight.js core + the common languages (BASE below), and
//                                      loadLanguage(), which imports any other language on first use
//   static/vendor/hljs/<name>.mjs      every other highlight.js language, one module each
//   static/vendor/hljs-light.css       highlight.js "github" theme
//   static/vendor/hljs-dark.css        highlight.js "github-dark" theme
//   static/vendor/katex.mjs            KaTeX, minified ESM (imported on the first formula)
//   static/vendor/katex/katex.min.css  its stylesheet (added to the page on the first formula) and
//   static/vendor/katex/fonts/*.woff2  its fonts (woff2 only: every browser we support reads it)
//   static/vendor/axe.min.js           axe-core, loaded only by the browser tests (accessibility checks)
//
// The chat page's weight (issue 15): highlight.js with every common language was 100 KB of
// the page's 166 KB gzipped. The languages people paste most stay in the base bundle; the
// other ~180 are fetched by the highlight worker when a code block names one, and KaTeX
// (~80 KB gzipped with its CSS) when a reply first contains math. esbuild (a pinned
// devDependency) minifies and bundles; its output has no eval, so a strict CSP holds.
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync, readdirSync, copyFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync, transformSync } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });
const require = createRequire(join(root, "package.json"));

function need(path) {
  if (!existsSync(path)) {
    console.error(`vendor: missing ${path}; run npm install first`);
    process.exit(1);
  }
  return path;
}

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

// Source-map comments are dropped: the maps are not copied, and Django's manifest
// storage (collectstatic) fails on a sourceMappingURL that points at a missing file.
const noMap = (text) => text.replace(/^\/[/*]# sourceMappingURL=.*$/gm, "");

const copies = [
  ["highlight.js/styles/github.min.css", "hljs-light.css"],
  ["highlight.js/styles/github-dark.min.css", "hljs-dark.css"],
  ["axe-core/axe.min.js", "axe.min.js"],
];
for (const [from, to] of copies) {
  writeFileSync(join(out, to), noMap(readFileSync(need(join(modules, from)), "utf8")));
}

// marked and DOMPurify ship unminified ES modules: minify them (license line kept on top).
const minified = [
  ["marked/lib/marked.esm.js", "marked.esm.js", `marked ${version("marked")}, MIT License, (c) MarkedJS, (c) Christopher Jeffrey`],
  ["dompurify/dist/purify.es.mjs", "purify.es.mjs", null], // keeps its own /*! @license */ line
  ["katex/dist/katex.mjs", "katex.mjs", `KaTeX ${version("katex")}, MIT License, (c) Khan Academy and other contributors`],
];
for (const [from, to, license] of minified) {
  const { code } = transformSync(noMap(readFileSync(need(join(modules, from)), "utf8")), {
    minify: true,
    format: "esm",
    target: "es2020",
    legalComments: "inline",
    banner: license ? `/*! ${license} */` : "",
  });
  writeFileSync(join(out, to), code);
}

// KaTeX's stylesheet and fonts. Its CSS offers woff2, woff and ttf for each font; only
// woff2 is kept (and copied), so collectstatic finds every url() it rewrites.
const katexDir = join(out, "katex");
rmSync(katexDir, { recursive: true, force: true });
mkdirSync(join(katexDir, "fonts"), { recursive: true });
const katexCss = readFileSync(need(join(modules, "katex/dist/katex.min.css")), "utf8")
  .replace(/,\s*url\(fonts\/[\w-]+\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, "");
if (/\.(woff|ttf)\)/.test(katexCss)) {
  console.error("vendor: katex.min.css still names woff/ttf fonts; update the pattern in scripts/vendor.mjs");
  process.exit(1);
}
writeFileSync(join(katexDir, "katex.min.css"), katexCss);
const fonts = readdirSync(join(modules, "katex/dist/fonts")).filter((f) => f.endsWith(".woff2"));
for (const font of fonts) copyFileSync(join(modules, "katex/dist/fonts", font), join(katexDir, "fonts", font));

// highlight.js: the base bundle and one module per other language.
// BASE: what people paste most; highlightAuto (code without a language) only tries these.
const BASE = [
  "bash", "c", "cpp", "css", "diff", "go", "java", "javascript", "json", "markdown", "plaintext",
  "python", "rust", "shell", "sql", "typescript", "xml", "yaml",
];
const all = require("highlight.js"); // every language registered: read each one's aliases
const names = all.listLanguages().filter((n) => existsSync(join(modules, "highlight.js/lib/languages", `${n}.js`)));
for (const name of BASE) {
  if (!names.includes(name)) {
    console.error(`vendor: highlight.js has no language "${name}"`);
    process.exit(1);
  }
}
const lazy = names.filter((n) => !BASE.includes(n));
const lazyNames = {}; // name or alias (lower case) -> module file name
for (const name of lazy) {
  for (const alias of [name, ...(all.getLanguage(name).aliases || [])]) {
    const key = alias.toLowerCase();
    if (!(key in lazyNames)) lazyNames[key] = name;
  }
}
// Aliases that a base language claims stay with the base language.
for (const name of BASE) {
  for (const alias of [name, ...(all.getLanguage(name).aliases || [])]) delete lazyNames[alias.toLowerCase()];
}

const hljsBanner = `/*! highlight.js ${version("highlight.js")}, BSD-3-Clause; built by scripts/vendor.mjs */`;
const entry = [
  `import hljs from "highlight.js/lib/core";`,
  ...BASE.map((n, i) => `import l${i} from "highlight.js/lib/languages/${n}";`),
  ...BASE.map((n, i) => `hljs.registerLanguage(${JSON.stringify(n)}, l${i});`),
  `const lazy = ${JSON.stringify(lazyNames)};`,
  `const pending = new Map();`,
  `/** Register a language that is not in this bundle, importing its module (./hljs/<name>.mjs)`,
  ` *  once; resolves true when the language can be used. */`,
  `export function loadLanguage(name) {`,
  `  const key = String(name || "").toLowerCase();`,
  `  if (hljs.getLanguage(key)) return Promise.resolve(true);`,
  `  const file = Object.prototype.hasOwnProperty.call(lazy, key) ? lazy[key] : null;`,
  `  if (!file) return Promise.resolve(false);`,
  `  if (!pending.has(file)) {`,
  `    const url = new URL("./hljs/" + file + ".mjs", import.meta.url).href;`,
  `    pending.set(file, import(url).then((m) => { hljs.registerLanguage(file, m.default); return true; },`,
  `      () => { pending.delete(file); return false; }));`,
  `  }`,
  `  return pending.get(file);`,
  `}`,
  `export default hljs;`,
  `export { hljs as HighlightJS };`,
].join("\n");
const core = buildSync({
  stdin: { contents: entry, resolveDir: root, sourcefile: "highlight-entry.mjs" },
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  write: false,
  legalComments: "none",
  banner: { js: hljsBanner },
});
writeFileSync(join(out, "highlight.mjs"), core.outputFiles[0].text);

const langDir = join(out, "hljs");
rmSync(langDir, { recursive: true, force: true });
buildSync({
  entryPoints: Object.fromEntries(lazy.map((n) => [n, join(modules, "highlight.js/lib/languages", `${n}.js`)])),
  outdir: langDir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  legalComments: "none",
  banner: { js: hljsBanner },
});

writeFileSync(
  join(out, "VERSIONS.json"),
  JSON.stringify(
    {
      marked: version("marked"),
      dompurify: version("dompurify"),
      "highlight.js": version("highlight.js"),
      katex: version("katex"),
      "axe-core": version("axe-core"),
    },
    null,
    2,
  ) + "\n",
);
console.log(
  `vendor: wrote static/vendor/ (highlight.js: ${BASE.length} languages in the base bundle, ` +
    `${lazy.length} on demand; KaTeX with ${fonts.length} fonts)`,
);
