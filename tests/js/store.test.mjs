// Unit tests for the browser's pure modules: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";
import { Store } from "../../static/js/store.js";
import { errorText, formatUsd, formatSeconds, usageParts, uuid } from "../../static/js/format.js";

const C = "11111111-1111-4111-8111-111111111111";
const U1 = "22222222-2222-4222-8222-222222222222";
const A1 = "33333333-3333-4333-8333-333333333333";
const A2 = "44444444-4444-4444-8444-444444444444";
const now = new Date().toISOString();
const msg = (id, role, extra = {}) => ({
  id, role, content: "", reasoning: "", status: "complete", model: "m", parent: null,
  created_at: now, finish_reason: null, usage: null, ...extra,
});

function streamingStore() {
  const store = new Store();
  store.reset(C);
  store.applySnapshot({
    type: "conversation.snapshot",
    conversation: { id: C, title: "T" },
    messages: [msg(U1, "user", { content: "hi" }), msg(A1, "assistant", { status: "streaming", parent: U1 })],
    live: [{ message: A1, content: "Hel", reasoning: "", seq: 3 }],
  });
  return store;
}

test("snapshot gives live text and seq; later deltas apply in order", () => {
  const store = streamingStore();
  assert.equal(store.get(A1).content, "Hel");
  assert.equal(store.get(A1).seq, 3);
  assert.equal(store.applyDelta({ message: A1, seq: 3, content: "XX" }), "duplicate");
  assert.equal(store.applyDelta({ message: A1, seq: 2, content: "XX" }), "duplicate");
  assert.equal(store.applyDelta({ message: A1, seq: 4, content: "lo" }), "applied");
  assert.equal(store.applyDelta({ message: A1, seq: 4, content: "lo" }), "duplicate");
  assert.equal(store.get(A1).content, "Hello");
  assert.equal(store.applyDelta({ message: A1, seq: 6, content: "!" }), "gap");
  assert.equal(store.get(A1).content, "Hello");
  assert.equal(store.applyDelta({ message: "nope", seq: 1, content: "!" }), "unknown");
  assert.equal(store.streaming().id, A1);
});

test("a resubscribe snapshot resets text and seq", () => {
  const store = streamingStore();
  store.applySnapshot({
    type: "conversation.snapshot", conversation: { id: C, title: "T" },
    messages: [msg(U1, "user", { content: "hi" }), msg(A1, "assistant", { status: "streaming", parent: U1 })],
    live: [{ message: A1, content: "Hello wor", reasoning: "", seq: 9 }],
  });
  assert.equal(store.get(A1).content, "Hello wor");
  assert.equal(store.applyDelta({ message: A1, seq: 10, content: "ld" }), "applied");
  assert.equal(store.get(A1).content, "Hello world");
});

test("snapshots of another conversation are ignored", () => {
  const store = streamingStore();
  assert.equal(store.applySnapshot({ conversation: { id: "other" }, messages: [], live: [] }), false);
  assert.equal(store.messages.length, 2);
});

test("done and error keep the final text; deltas after them are ignored", () => {
  const store = streamingStore();
  store.applyDone({ message: A1, status: "cancelled", content: "Hel", usage: { prompt_tokens: 1 } });
  assert.equal(store.get(A1).status, "cancelled");
  assert.equal(store.applyDelta({ message: A1, seq: 4, content: "lo" }), "duplicate");
  assert.equal(store.streaming(), null);
  const other = streamingStore();
  other.applyError({ message: A1, code: "timeout", detail: "Too slow.", retryable: true, content: "Hel" });
  assert.deepEqual(other.get(A1).error, { code: "timeout", detail: "Too slow.", retryable: true });
});

test("a new chat adopts the conversation its message.created names", () => {
  const store = new Store();
  store.reset(null);
  store.addPending("r1", "hello");
  assert.equal(store.messages.length, 1);
  const result = store.applyCreated({
    request_id: "r1", conversation: C,
    user_message: msg(U1, "user", { content: "hello" }),
    assistant_message: msg(A1, "assistant", { status: "streaming", parent: U1 }),
  });
  assert.equal(result, "adopted");
  assert.equal(store.conversationId, C);
  assert.deepEqual(store.order, [U1, A1]);
  // A repeat (a re-sent request) changes nothing.
  store.applyCreated({
    request_id: "r1", conversation: C, user_message: msg(U1, "user"),
    assistant_message: msg(A1, "assistant", { status: "streaming", parent: U1 }),
  });
  assert.deepEqual(store.order, [U1, A1]);
  assert.equal(store.applyCreated({ request_id: "x", conversation: "elsewhere", user_message: null,
    assistant_message: msg(A2, "assistant") }), "ignored");
});

test("a regeneration replaces the old reply (a sibling)", () => {
  const store = streamingStore();
  store.applyDone({ message: A1, status: "complete", content: "Hello" });
  store.applyCreated({
    request_id: "r2", conversation: C, user_message: null,
    assistant_message: msg(A2, "assistant", { status: "streaming", parent: U1 }),
  });
  assert.deepEqual(store.order, [U1, A2]);
});

test("formatting", () => {
  assert.equal(formatUsd("0.0001230"), "$0.000123");
  assert.equal(formatUsd("1.5"), "$1.50");
  assert.equal(formatSeconds(3210), "3.2s");
  assert.deepEqual(usageParts({ prompt_tokens: 1234, completion_tokens: 567, reasoning_tokens: 89, cost_usd: "0.000123" }),
    ["1,234 in", "567 out", "89 reasoning", "$0.000123"]);
  assert.equal(errorText("internal", 'Traceback (most recent call last):\n  File "x.py"'), "Something went wrong on our side.");
  assert.equal(errorText("nope", '{"error": "raw"}'), "Something went wrong. Please try again.");
  assert.equal(errorText("timeout", "The model did not answer in 60 s."), "The model did not answer in 60 s.");
  assert.match(uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test("older pages are prepended once, and only when they end at the oldest message shown", () => {
  const store = new Store();
  store.reset(C);
  const U2 = "55555555-5555-4555-8555-555555555555";
  store.applySnapshot({
    type: "conversation.snapshot", conversation: { id: C, title: "T" },
    messages: [msg(U2, "user", { parent: A1 })], live: [], more: true, cursor: U2,
  });
  assert.equal(store.more, true);
  const changes = [];
  store.onChange((c) => changes.push(c.kind));
  // A stale answer (for another cursor) is ignored.
  assert.equal(store.applyHistory(C, "elsewhere", { messages: [msg(A1, "assistant")], more: false }), 0);
  const page = { messages: [msg(U1, "user"), msg(A1, "assistant", { parent: U1 })], more: false, cursor: null };
  assert.equal(store.applyHistory(C, U2, page), 2);
  assert.deepEqual(store.order, [U1, A1, U2]);
  assert.equal(store.more, false);
  assert.deepEqual(changes, ["prepend"]);
  assert.equal(store.applyHistory(C, U2, page), 0);
});

test("an old server's snapshot (no cursor) means the whole branch is there", () => {
  const store = streamingStore();
  assert.equal(store.more, false);
  assert.equal(store.cursor, null);
  assert.equal(store.leaf(), A1);
  assert.equal(store.lastUserMessage().id, U1);
});

test("siblings arrive with messages", () => {
  const store = new Store();
  store.reset(C);
  store.applySnapshot({
    conversation: { id: C }, live: [],
    messages: [msg(U1, "user", { siblings: ["x", U1] })],
  });
  assert.deepEqual(store.get(U1).siblings, ["x", U1]);
});

test("a waiting notice shows until the first text, and never after it", () => {
  const store = new Store();
  store.reset(C);
  store.applySnapshot({
    type: "conversation.snapshot",
    conversation: { id: C, title: "T" },
    messages: [msg(U1, "user", { content: "hi" }), msg(A1, "assistant", { status: "streaming", parent: U1 })],
    live: [{ message: A1, content: "", reasoning: "", seq: 0 }],
  });
  assert.equal(store.applyWaiting({ type: "message.waiting", message: A1, gateway: "xAI", waited_s: 5 }), true);
  assert.equal(store.get(A1).waitingFor, "xAI");
  assert.equal(store.applyDelta({ message: A1, seq: 1, content: "Hi" }), "applied");
  assert.equal(store.get(A1).waitingFor, null);
  assert.equal(store.applyWaiting({ type: "message.waiting", message: A1, gateway: "xAI" }), false); // late: ignored
  assert.equal(store.get(A1).waitingFor, null);
  assert.equal(store.applyWaiting({ type: "message.waiting", message: "nope", gateway: "xAI" }), false);
});

test("an error ends the wait", () => {
  const store = new Store();
  store.reset(C);
  store.applySnapshot({
    type: "conversation.snapshot",
    conversation: { id: C, title: "T" },
    messages: [msg(U1, "user", { content: "hi" }), msg(A1, "assistant", { status: "streaming", parent: U1 })],
    live: [{ message: A1, content: "", reasoning: "", seq: 0 }],
  });
  store.applyWaiting({ type: "message.waiting", message: A1, gateway: "AI/ML API" });
  store.applyError({ message: A1, code: "timeout", detail: "No first token.", retryable: true, content: "" });
  assert.equal(store.get(A1).waitingFor, null);
  assert.equal(store.get(A1).error.retryable, true);
});

test("the page that came with the HTML shows at once; the snapshot that repeats it keeps its messages", () => {
  const store = new Store();
  store.reset(C);
  const page = {
    conversation: { id: C, title: "T" },
    messages: [msg(U1, "user", { content: "hi" }), msg(A1, "assistant", { content: "Hello", parent: U1 })],
    more: true, cursor: U1,
  };
  assert.equal(store.applySnapshot(page, { provisional: true }), true);
  assert.equal(store.loaded, false); // nothing is sent until the websocket's snapshot is in
  assert.equal(store.get(A1).content, "Hello");
  assert.equal(store.cursor, U1);
  const shown = store.get(A1);
  store.applySnapshot({ type: "conversation.snapshot", ...page, live: [] });
  assert.equal(store.loaded, true);
  assert.equal(store.get(A1), shown); // unchanged: the same object, its view is not rendered again
  store.applySnapshot({ type: "conversation.snapshot", ...page,
    messages: [page.messages[0], msg(A1, "assistant", { content: "Hello there", parent: U1 })], live: [] });
  assert.notEqual(store.get(A1), shown);
  assert.equal(store.get(A1).content, "Hello there");
  assert.ok(store.get(A1).v > shown.v);
});

test("a reply streaming when the page was made takes its live text and seq from the snapshot", () => {
  const store = new Store();
  store.reset(C);
  const messages = [msg(U1, "user", { content: "hi" }), msg(A1, "assistant", { status: "streaming", content: "He", parent: U1 })];
  store.applySnapshot({ conversation: { id: C, title: "T" }, messages }, { provisional: true });
  assert.equal(store.streaming().id, A1);
  assert.equal(store.get(A1).seq, 0);
  store.applySnapshot({ type: "conversation.snapshot", conversation: { id: C, title: "T" }, messages,
    live: [{ message: A1, content: "Hello", reasoning: "", seq: 4 }] });
  assert.equal(store.get(A1).content, "Hello");
  assert.equal(store.applyDelta({ message: A1, seq: 4, content: "XX" }), "duplicate");
  assert.equal(store.applyDelta({ message: A1, seq: 5, content: "!" }), "applied");
  assert.equal(store.get(A1).content, "Hello!");
});

test("a message changed by frames is not mistaken for the snapshot's copy", () => {
  const store = new Store();
  store.reset(C);
  const page = { conversation: { id: C, title: "T" }, messages: [msg(A1, "assistant", { status: "streaming", content: "" })] };
  store.applySnapshot({ ...page, live: [{ message: A1, content: "", reasoning: "", seq: 0 }] });
  store.applyDelta({ message: A1, seq: 1, content: "Hi" });
  store.applyDone({ message: A1, status: "complete", content: "Hi" });
  store.applySnapshot({ ...page, messages: [msg(A1, "assistant", { content: "Hi" })], live: [] });
  assert.equal(store.get(A1).status, "complete");
  assert.equal(store.get(A1).content, "Hi");
});

test("a reply opened mid-stream knows how long it thought (live thought_ms)", () => {
  const store = new Store();
  store.reset(C);
  store.applySnapshot({
    conversation: { id: C, title: "T" },
    messages: [msg(A1, "assistant", { status: "streaming" })],
    live: [{ message: A1, content: "The answer", reasoning: "", seq: 7, thought_ms: 3200 }],
  });
  const reply = store.get(A1);
  assert.equal(reply.firstContentAt - reply.startedAt, 3200);
});

test("numbers are grouped as en-US writes them, without Intl", async () => {
  const { formatInt, formatNumber } = await import("../../static/js/format.js");
  const intl = new Intl.NumberFormat("en-US");
  for (const n of [0, 7, 999, 1000, -1000, 131072, 2000000, -5]) assert.equal(formatInt(n), intl.format(n));
  assert.equal(formatInt("42"), "42");
  assert.equal(formatInt(null), "0");
  assert.equal(formatInt(1234.5678), "1,234.568"); // not an integer: Intl's rounding
  assert.deepEqual([0.01, 2, 131072, 1234.5, -0.5, -2048].map(formatNumber), ["0.01", "2", "131,072", "1,234.5", "-0.5", "-2,048"]);
});
