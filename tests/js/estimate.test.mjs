// The cost estimate beside the composer and the parameters panel's values: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";
import { estimateCost, formatContext, formatPrice, formatUsd, promptTokens } from "../../static/js/estimate.js";
import { paramProblem, paramValues } from "../../static/js/settings.js";

const grok4 = { price: { input: "3.00", cached_input: "0.75", output: "15.00" } };
const fast = { price: { input: "0.20", cached_input: "0.05", output: "0.50" } };

test("the prompt counts the system prompt, the branch, the new text and attachments like the server", () => {
  // 3 priming + (4 + 3) system + (4 + 2) user + (4 + 1) reply + (4 + 25) new text + 100 attached
  const history = [{ role: "user", content: "hello!" }, { role: "assistant", content: "hi" }];
  assert.equal(promptTokens({ systemPrompt: "Be brief.", history, text: "x".repeat(100), extra: 100 }),
    3 + 7 + 6 + 5 + 29 + 100);
  assert.equal(promptTokens({ history: [{ content: "abc", attachments: [{ tokens: 1792 }] }] }), 3 + 5 + 1792 + 4);
  assert.equal(promptTokens({ base: 500, text: "abcd" }), 500 + 5); // the server's count of the branch
});

test("the worst case adds a full-length reply at the output price: grok-4 costs more than a fast model", () => {
  const big = estimateCost(grok4, 1000, 4096);
  assert.equal(big.prompt, 0.003);
  assert.equal(big.worst, 0.003 + 4096 * 15 / 1e6);
  const cheap = estimateCost(fast, 1000, 4096);
  assert.ok(big.prompt / cheap.prompt === 15 && big.worst > 20 * cheap.worst);
});

test("prices, costs and context windows read well", () => {
  assert.deepEqual(["0.200000", "3.00", "0.075", "15", "0.05"].map(formatPrice), ["$0.20", "$3", "$0.075", "$15", "$0.05"]);
  assert.deepEqual([0, 0.00002, 0.0123, 0.25, 3.456].map(formatUsd), ["$0", "<$0.0001", "$0.012", "$0.250", "$3.46"]);
  assert.deepEqual([2_000_000, 256_000, 131_072].map(formatContext), ["2M", "256K", "131K"]);
});

test("parameters: only what the model takes, empty fields left out, limits checked", () => {
  const spec = { temperature: { min: 0, max: 2 }, max_tokens: { min: 1, max: 256000 } };
  const raw = { temperature: "0.7", top_p: "0.9", max_tokens: "4096", reasoning_effort: "high" };
  assert.deepEqual(paramValues(raw, spec), { temperature: 0.7, max_tokens: 4096 });
  assert.deepEqual(paramValues({ temperature: "", max_tokens: "" }, spec), {});
  const withEffort = { ...spec, reasoning_effort: { choices: ["low", "high"] } };
  assert.deepEqual(paramValues({ reasoning_effort: "medium" }, withEffort), {});
  assert.equal(paramProblem({ temperature: 3 }, spec), "temperature must be between 0 and 2.");
  assert.equal(paramProblem({ max_tokens: 300000 }, spec), "max tokens must be between 1 and 256,000.");
  assert.equal(paramProblem({ temperature: 1 }, spec), "");
});
