// The reconnecting socket (static/js/socket.js) with a stand-in WebSocket: which close codes reconnect.
import { test } from "node:test";
import assert from "node:assert/strict";

class FakeSocket {
  static OPEN = 1;
  static CONNECTING = 0;
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.listeners = {};
    this.sent = [];
    FakeSocket.made.push(this);
  }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  removeEventListener() {}
  send(data) { this.sent.push(JSON.parse(data)); }
  close() {}
  emit(type, event = {}) { for (const fn of this.listeners[type] || []) fn(event); }
  opened() { this.readyState = FakeSocket.OPEN; this.emit("open"); }
  closedWith(code) { this.readyState = 3; this.emit("close", { code }); }
}

globalThis.WebSocket = FakeSocket;
globalThis.window = { addEventListener() {} };
globalThis.document = { addEventListener() {}, visibilityState: "visible" };
const { ChatSocket } = await import("../../static/js/socket.js");

test("closed with 4503 (the server missed frames while Redis was away): it reconnects and resubscribes", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  FakeSocket.made = [];
  const opens = [];
  const socket = new ChatSocket("ws://x/ws/chat/", { onOpen: (info) => opens.push(info) });
  socket.connect();
  FakeSocket.made[0].opened();
  FakeSocket.made[0].closedWith(4503);
  assert.equal(socket.status, "reconnecting");
  t.mock.timers.tick(1000); // the first retry comes within 0.5 s
  assert.equal(FakeSocket.made.length, 2);
  FakeSocket.made[1].opened();
  assert.equal(opens.length, 2); // the app resubscribes on every open
  socket.stopped = true;
  socket.stopPing();
});

test("closed with 4401 (signed out): it goes to sign-in and does not reconnect", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  FakeSocket.made = [];
  const lost = [];
  const socket = new ChatSocket("ws://x/ws/chat/", { onAuthLost: (code) => lost.push(code) });
  socket.connect();
  FakeSocket.made[0].opened();
  FakeSocket.made[0].closedWith(4401);
  t.mock.timers.tick(60_000);
  assert.deepEqual(lost, [4401]);
  assert.equal(FakeSocket.made.length, 1);
});
