// Math delimiters in replies and reasoning: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";
import { Marked } from "marked";
import { matchMath, mathExtensions, splitMath } from "../../static/js/math.js";

const md = new Marked({ gfm: true, extensions: mathExtensions() });
const html = (text) => md.parse(text);
/** The formulas marked found, as [tex, display]. */
const formulas = (text) =>
  [...html(text).matchAll(/class="math (math-display|math-inline)" data-tex="([^"]*)"/g)].map((m) => [
    m[2].replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'"),
    m[1] === "math-display",
  ]);

test("the four delimiters: $…$ and \\(…\\) inline, $$…$$ and \\[…\\] display", () => {
  assert.deepEqual(formulas("Euler: $e^{i\\pi} + 1 = 0$."), [["e^{i\\pi} + 1 = 0", false]]);
  assert.deepEqual(formulas("so \\(a^2 + b^2 = c^2\\) holds"), [["a^2 + b^2 = c^2", false]]);
  assert.deepEqual(formulas("$$\\frac{a}{b}$$"), [["\\frac{a}{b}", true]]);
  assert.deepEqual(formulas("\\[\n\\int_0^1 x\\,dx\n\\]"), [["\\int_0^1 x\\,dx", true]]);
  assert.deepEqual(formulas("the sum $$\\sum_i x_i$$ in a sentence"), [["\\sum_i x_i", true]]);
  assert.deepEqual(formulas("one letter: $x$, and the $n$th term"), [["x", false], ["n", false]]);
});

test("TeX keeps its backslashes: \\, and \\\\ are not markdown escapes inside math", () => {
  assert.deepEqual(formulas("$a\\,b\\\\c$"), [["a\\,b\\\\c", false]]);
  assert.deepEqual(formulas("$a_1 * b_2 * c$"), [["a_1 * b_2 * c", false]]); // not emphasis
});

test("a display formula on its own lines is a block, even right after a paragraph line", () => {
  const out = html("The ratio is\n$$\n\\frac{a}{b}\n$$\nand so on.");
  assert.match(out, /<p>The ratio is\n?<\/p>/);
  assert.match(out, /<div class="math math-display" data-tex="\\frac\{a\}\{b\}"/);
  assert.match(out, /<p>and so on.<\/p>/);
});

test("dollars in prose stay prose", () => {
  for (const text of [
    "It costs $5 and $10.",
    "Plans: $5/month or $50/year.",
    "between $5-$10 a unit",
    "from $1,000 to $2,000",
    "Pay $ 5 or $ 6",
    "US$5 and US$6",
    "$5, $6 and $7",
    "a lone $ sign",
    "escaped \\$x\\$ dollars",
    "$x\ny$ spans lines",
    "echo $HOME and $PATH",
  ]) {
    assert.deepEqual(formulas(text), [], text);
    assert.doesNotMatch(html(text), /class="math/, text);
  }
  assert.match(html("It costs $5 and $10."), /It costs \$5 and \$10\./);
});

test("code is never math: fenced, indented and inline code stay literal", () => {
  for (const text of [
    "```\n$x$ and $$y$$ and \\(z\\)\n```",
    "```latex\n\\[ a \\]\n```",
    "    $x$ indented",
    "Use `$x$` or ``$$y$$`` in TeX.",
    "~~~\n$$\n\\frac{a}{b}\n$$\n~~~",
  ]) {
    assert.deepEqual(formulas(text), [], text);
  }
  assert.match(html("```\n$x$\n```"), /<code>\$x\$\n<\/code>/);
  assert.match(html("Use `$x$` here"), /<code>\$x\$<\/code>/);
});

test("formula source is escaped in the placeholder", () => {
  const out = html('$a<b>"c"$');
  assert.match(out, /data-tex="a&lt;b&gt;&quot;c&quot;"/);
  assert.doesNotMatch(out, /<b>/);
});

test("a blank line ends any formula", () => {
  assert.deepEqual(formulas("$$a\n\nb$$"), []);
  assert.deepEqual(formulas("\\(a\n\nb\\)"), []);
});

test("matchMath only matches at the position asked", () => {
  assert.equal(matchMath("a $x$", 0), null);
  assert.deepEqual(matchMath("a $x$", 2), { raw: "$x$", tex: "x", display: false });
  assert.equal(matchMath("$5 and $10", 0), null);
});

test("reasoning (plain text): formulas found, code skipped", () => {
  const parts = splitMath("Area is $\\pi r^2$; in code `$x$`:\n```\n$$y$$\n```\nso \\[z\\] and $5 or $6.");
  assert.deepEqual(parts.filter((p) => p.tex).map((p) => [p.tex, p.display]), [["\\pi r^2", false], ["z", true]]);
  assert.equal(parts.map((p) => p.text ?? p.raw).join(""),
    "Area is $\\pi r^2$; in code `$x$`:\n```\n$$y$$\n```\nso \\[z\\] and $5 or $6.");
  assert.deepEqual(splitMath("no math here, $5"), [{ text: "no math here, $5" }]);
  assert.deepEqual(splitMath(""), []);
});
