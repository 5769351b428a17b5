// One reconnecting websocket to /ws/chat/ (docs/protocol.md).
//
// - Reconnects with exponential backoff and jitter (0.5 s doubling to 15 s).
// - Pings every 25 s; a socket that answers no pong within 10 s is closed and reopened.
// - On every (re)open it emits "open": the app resubscribes to its conversation, and the
//   server answers with a snapshot (text so far and seq), after which only later deltas come.
// - Frames that start replies (send / regenerate / edit) carry a request_id and are
//   remembered until the server acknowledges them (message.created or an error with the
//   same request_id); they are re-sent after a reconnect. The server never starts a
//   second reply for a repeated request_id, so this is safe.
// - Close code 4503 (the server missed frames while Redis was away) and any other code: reconnect.
// - Close code 4401 means the session is gone, 4403 / 4423 that the account is disabled /
//   pending approval: go to the sign-in page (it says why).

const PING_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export class ChatSocket {
  constructor(url, { onFrame, onOpen, onStatus, onAuthLost } = {}) {
    this.url = url;
    this.onFrame = onFrame || (() => {});
    this.onOpen = onOpen || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onAuthLost = onAuthLost || (() => {});
    this.ws = null;
    this.attempt = 0;
    this.pending = new Map(); // request_id -> frame, until acknowledged
    this.queue = []; // stop frames sent while closed
    this.timers = { retry: 0, ping: 0, pong: 0 };
    this.stopped = false;
    this.status = "connecting";
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.timers.retry);
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) return;
    this.setStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    // The page's inline script opened a socket (and subscribed) while the modules loaded: adopt it once.
    const early = window.grokwebEarlySocket;
    window.grokwebEarlySocket = null;
    let ws;
    let subscribed = null;
    if (early && early.ws.readyState <= WebSocket.OPEN) {
      ws = early.ws;
      ws.removeEventListener("message", early.listener);
      subscribed = early.subscribed;
    } else {
      try {
        ws = new WebSocket(this.url);
      } catch {
        this.scheduleReconnect();
        return;
      }
    }
    this.ws = ws;
    const opened = () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.setStatus("open");
      this.startPing();
      this.onOpen({ subscribed });
      subscribed = null;
      for (const frame of this.pending.values()) this.rawSend(frame);
      const queued = this.queue;
      this.queue = [];
      for (const frame of queued) this.rawSend(frame);
    };
    const received = (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      this.armPong();
      if (frame.type === "pong") return;
      if (frame.request_id && (frame.type === "message.created" || frame.type === "error")) {
        this.pending.delete(frame.request_id);
      }
      this.onFrame(frame);
    };
    if (ws.readyState === WebSocket.OPEN) opened();
    else ws.addEventListener("open", opened);
    ws.addEventListener("message", received);
    for (const event of early && ws === early.ws ? early.frames : []) received(event);
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.stopPing();
      if (event.code === 4401 || event.code === 4403 || event.code === 4423) {
        this.stopped = true;
        this.setStatus("closed");
        this.onAuthLost(event.code);
        return;
      }
      if (!this.stopped) this.scheduleReconnect();
    });
    ws.addEventListener("error", () => {
      /* a close event follows */
    });
  }

  scheduleReconnect() {
    this.setStatus("reconnecting");
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped || this.open) return;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this.attempt = 0;
    this.connect();
  }

  /** Send a frame now, or when the socket is open again. */
  send(frame) {
    if (frame.request_id) this.pending.set(frame.request_id, frame);
    if (this.open) {
      this.rawSend(frame);
    } else {
      // Subscribes are re-sent by onOpen and pings are pointless while closed; a stop waits.
      if (frame.type === "stop") this.queue.push(frame);
      this.reconnectNow();
    }
  }

  /** Forget a request (the app gave up on it). */
  forget(requestId) {
    this.pending.delete(requestId);
  }

  rawSend(frame) {
    try {
      this.ws.send(JSON.stringify(frame));
    } catch {
      /* the close handler reconnects */
    }
  }

  startPing() {
    this.stopPing();
    this.timers.ping = setInterval(() => {
      if (!this.open) return;
      this.rawSend({ type: "ping" });
      if (!this.timers.pong) {
        this.timers.pong = setTimeout(() => {
          // No answer: the connection is dead even if the browser has not noticed.
          this.timers.pong = 0;
          const dead = this.ws;
          this.ws = null;
          this.stopPing();
          try {
            dead?.close();
          } catch {
            /* already closing */
          }
          if (!this.stopped) this.scheduleReconnect();
        }, PONG_TIMEOUT_MS);
      }
    }, PING_MS);
  }

  armPong() {
    clearTimeout(this.timers.pong);
    this.timers.pong = 0;
  }

  stopPing() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers.ping = 0;
    this.timers.pong = 0;
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
