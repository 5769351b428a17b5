#!/usr/bin/env node
// Build our own browser modules (static/js/) into static/build/ (gitignored): one minified
// ES module per page, with marked and DOMPurify inside. Run by make whenever static/js/ or
// this file changed (`make setup`, so `make run` and `make test` too), by the browser tests
// when static/build/ is older than static/js/ (tests/e2e/conftest.py), and in the Dockerfile.
//
//   static/build/app.js      the chat page (static/js/app.js and every module it imports)
//   static/build/shared.js   a shared conversation's page (static/js/shared.js)
//
// Why (issue 14): the chat page imported 21 modules of ours plus marked and DOMPurify,
// ~40 KB gzipped unminified; one minified file is ~25% of that and is evaluated at once,
// so the newest message paints sooner. What stays apart, loaded when needed through the
// page's import map: KaTeX ("katex", "grokweb/katex.css": the first formula) and the
// highlight worker ("grokweb/highlight-worker", which imports "highlight.js").
// static/js/ is still what we edit, and what the node tests (tests/js) import.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "static", "js");
const out = join(root, "static", "build");
const ENTRIES = ["app", "shared"];
// Resolved in the browser, by the import map, when first needed.
const EXTERNAL = ["katex", "highlight.js", "grokweb/katex.css", "grokweb/highlight-worker"];

// "grokweb/<name>" is static/js/<name>.js (the specifiers the modules import each other by).
const alias = {};
for (const file of readdirSync(source)) {
  const name = file.replace(/\.js$/, "");
  if (file.endsWith(".js") && !EXTERNAL.includes(`grokweb/${name}`)) alias[`grokweb/${name}`] = join(source, file);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = buildSync({
  entryPoints: Object.fromEntries(ENTRIES.map((name) => [name, join(source, `${name}.js`)])),
  outdir: out,
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2022",
  alias,
  external: EXTERNAL,
  legalComments: "inline", // DOMPurify's and marked's licence lines stay
  banner: { js: "/* Grokweb: built from static/js/ by scripts/build.mjs; edit those files, not this one. */" },
  metafile: true,
  logLevel: "warning",
});
const sizes = Object.entries(result.metafile.outputs).map(([file, o]) => `${file.split("/").pop()} ${(o.bytes / 1024).toFixed(1)} KB`);
console.log(`build: wrote static/build/ (${sizes.join(", ")})`);
