#!/usr/bin/env node
// Copy the browser builds of our front-end libraries from node_modules/ into
// static/vendor/ (gitignored). Run by `npm install` (postinstall) or `npm run vendor`.
// Nothing is fetched from the network here: the app works fully offline.
//
//   static/vendor/marked.esm.js        marked's ESM build
//   static/vendor/purify.es.mjs        DOMPurify's ESM build
//   static/vendor/highlight.mjs        highlight.js core + its "common" languages as one ESM file
//   static/vendor/hljs-light.css       highlight.js "github" theme
//   static/vendor/hljs-dark.css        highlight.js "github-dark" theme
//   static/vendor/axe.min.js           axe-core, loaded only by the browser tests (accessibility checks)
//
// highlight.js publishes no single-file browser build on npm (its es/ entry points
// re-export the CommonJS files), so we wrap lib/core.js and the language modules
// listed in lib/common.js into one ES module. They have no other dependencies.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });

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

const copies = [
  ["marked/lib/marked.esm.js", "marked.esm.js"],
  ["dompurify/dist/purify.es.mjs", "purify.es.mjs"],
  ["highlight.js/styles/github.min.css", "hljs-light.css"],
  ["highlight.js/styles/github-dark.min.css", "hljs-dark.css"],
  ["axe-core/axe.min.js", "axe.min.js"],
];
// Source-map comments are dropped: the maps are not copied, and Django's manifest
// storage (collectstatic) fails on a sourceMappingURL that points at a missing file.
for (const [from, to] of copies) {
  const text = readFileSync(need(join(modules, from)), "utf8");
  writeFileSync(join(out, to), text.replace(/^\/[/*]# sourceMappingURL=.*$/gm, ""));
}

// Bundle highlight.js: core + common languages, CommonJS wrapped as one ES module.
const hl = join(modules, "highlight.js", "lib");
const cjs = (path) =>
  `(function () { const module = { exports: {} }; const exports = module.exports;\n` +
  `${readFileSync(need(path), "utf8")}\nreturn module.exports; })()`;
const common = readFileSync(need(join(hl, "common.js")), "utf8");
const languages = [...common.matchAll(/registerLanguage\('([\w-]+)', require\('\.\/languages\/([\w-]+)'\)\)/g)];
if (languages.length === 0) {
  console.error("vendor: found no languages in highlight.js/lib/common.js");
  process.exit(1);
}
let bundle = `/*! highlight.js ${version("highlight.js")} (core + common languages), BSD-3-Clause; bundled by scripts/vendor.mjs */\n`;
bundle += `const hljs = ${cjs(join(hl, "core.js"))};\n`;
for (const [, name, file] of languages) {
  bundle += `hljs.registerLanguage(${JSON.stringify(name)}, ${cjs(join(hl, "languages", `${file}.js`))});\n`;
}
bundle += "export default hljs;\nexport { hljs as HighlightJS };\n";
writeFileSync(join(out, "highlight.mjs"), bundle);

writeFileSync(
  join(out, "VERSIONS.json"),
  JSON.stringify(
    {
      marked: version("marked"),
      dompurify: version("dompurify"),
      "highlight.js": version("highlight.js"),
      "axe-core": version("axe-core"),
    },
    null,
    2,
  ) + "\n",
);
console.log(`vendor: wrote ${copies.length + 1} files to static/vendor/ (${languages.length} highlight.js languages)`);
