// The conversation list's order and date groups: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";
import { groupLabel, sortConversations } from "../../static/js/groups.js";

const now = new Date(2026, 10, 29, 15, 0); // 29 Nov 2026, 15:00 local
const daysAgo = (n, hour = 12) => new Date(2026, 10, 29 - n, hour).toISOString();

test("date groups: Today, Yesterday, Previous 7 days, Previous 30 days, Older", () => {
  assert.equal(groupLabel(daysAgo(0, 0), now), "Today");
  assert.equal(groupLabel(daysAgo(1, 23), now), "Yesterday");
  assert.equal(groupLabel(daysAgo(1, 0), now), "Yesterday");
  assert.equal(groupLabel(daysAgo(3), now), "Previous 7 days");
  assert.equal(groupLabel(daysAgo(20), now), "Previous 30 days");
  assert.equal(groupLabel(daysAgo(200), now), "Older");
  assert.equal(groupLabel("not a date", now), "Older");
});

test("pinned chats come first, then the newest", () => {
  const list = [
    { id: "a", updated_at: daysAgo(5), pinned: true },
    { id: "b", updated_at: daysAgo(0) },
    { id: "c", updated_at: daysAgo(1) },
    { id: "d", updated_at: daysAgo(9), pinned: true },
  ];
  assert.deepEqual(sortConversations(list).map((c) => c.id), ["a", "d", "b", "c"]);
  assert.deepEqual(sortConversations(list, false).map((c) => c.id), ["b", "c", "a", "d"]);
});
