// Attachments in the browser's pure parts: a sent message keeps them; usage says what images cost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../static/js/store.js";
import { usageParts } from "../../static/js/format.js";

const C = "11111111-1111-4111-8111-111111111111";
const U1 = "22222222-2222-4222-8222-222222222222";
const A1 = "33333333-3333-4333-8333-333333333333";
const IMG = { id: "55555555-5555-4555-8555-555555555555", kind: "image", name: "cat.png", mime: "image/png",
  size: 1234, tokens: 512, url: "/api/attachments/55555555-5555-4555-8555-555555555555/" };

test("a user message's attachments survive message.created and snapshots; none is an empty list", () => {
  const store = new Store();
  store.reset(null);
  store.addPending("r1", "look");
  store.applyCreated({
    type: "message.created", request_id: "r1", conversation: C,
    user_message: { id: U1, role: "user", content: "look", status: "complete", parent: null, created_at: new Date().toISOString(), attachments: [IMG] },
    assistant_message: { id: A1, role: "assistant", content: "", status: "streaming", parent: U1, created_at: new Date().toISOString() },
  });
  assert.deepEqual(store.get(U1).attachments, [IMG]);
  assert.deepEqual(store.get(A1).attachments, []);
});

test("usage shows the image part of the prompt tokens", () => {
  const parts = usageParts({ prompt_tokens: 1296, image_tokens: 1280, completion_tokens: 20, reasoning_tokens: 0, cost_usd: "0.0002692" });
  assert.equal(parts[0], "1,296 in (1,280 image)");
  assert.equal(usageParts({ prompt_tokens: 10, completion_tokens: 2, cost_usd: "0" })[0], "10 in");
});
