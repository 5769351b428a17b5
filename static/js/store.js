// The state of the open conversation: the loaded part of its visible branch (the
// latest page first, older pages prepended as the reader scrolls up) and the live
// text of replies being written. Frames from the server are applied here; listeners
// are told what changed:
//   {kind: "list"}                the messages were replaced or the branch was cut
//   {kind: "prepend", count}      `count` older messages were added at the top
//   {kind: "message", id}         one message changed
//   {kind: "conversation"}        title or other conversation fields
//
// Deltas carry a per-message `seq` (1, 2, 3 ...). A delta at or below the seq we hold
// is a duplicate and ignored; one that skips ahead means we missed frames, and
// applyDelta answers "gap" so the app resubscribes (the snapshot resets text and seq).
//
// Nothing on the streaming path walks the whole branch: a 10,000-message
// conversation costs the same per delta as a 10-message one.

export class Store {
  constructor() {
    this.listeners = new Set();
    this.reset(null);
  }

  reset(conversationId) {
    this.conversationId = conversationId || null;
    this.conversation = null;
    this.order = []; // message ids, oldest first
    this.byId = new Map();
    this.live = new Set(); // ids of replies streaming
    this.loaded = !conversationId; // a new chat has nothing to load
    this.more = false; // older messages exist on the server
    this.cursor = null; // pass as `before` to fetch them
    this.emit({ kind: "list" });
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    for (const fn of this.listeners) fn(change);
  }

  get messages() {
    return this.order.map((id) => this.byId.get(id));
  }

  get(id) {
    return this.byId.get(id);
  }

  /** The reply being written in this conversation, if any (the newest wins). */
  streaming() {
    let found = null;
    for (const id of this.live) {
      const m = this.byId.get(id);
      if (m && m.status === "streaming") found = m;
    }
    return found;
  }

  hasPending() {
    return this.order.some((id) => this.byId.get(id).pending);
  }

  /** The newest user message of the branch (for ↑ in an empty composer). */
  lastUserMessage() {
    for (let i = this.order.length - 1; i >= 0; i -= 1) {
      const m = this.byId.get(this.order[i]);
      if (m.role === "user" && !m.pending) return m;
    }
    return null;
  }

  /** The id of the branch's last stored message (the leaf the server shows). */
  leaf() {
    for (let i = this.order.length - 1; i >= 0; i -= 1) {
      const m = this.byId.get(this.order[i]);
      if (!m.pending) return m.id;
    }
    return null;
  }

  // Frames ----------------------------------------------------------------

  /**
   * conversation.snapshot: the latest page of the branch plus live text and seq of running replies.
   * `provisional`: the page that came with the HTML (no live text): shown, but the conversation
   * counts as loaded only when the websocket's snapshot has replaced it. A message the snapshot
   * repeats unchanged keeps its object (and its view is not rendered again).
   */
  applySnapshot(frame, { provisional = false } = {}) {
    const conv = frame.conversation || {};
    if (!this.conversationId || conv.id !== this.conversationId) return false;
    this.conversation = { ...conv };
    const live = new Map((frame.live || []).map((l) => [l.message, l]));
    const order = [];
    const byId = new Map();
    this.live = new Set();
    for (const raw of frame.messages || []) {
      const prev = this.byId.get(raw.id);
      const l = live.get(raw.id);
      const key = l ? null : JSON.stringify(raw);
      if (prev && key !== null && prev.key === key) {
        order.push(prev.id);
        byId.set(prev.id, prev);
        continue;
      }
      const msg = normalize(raw, prev);
      msg.key = key;
      if (l) {
        msg.content = l.content || "";
        msg.reasoning = l.reasoning || "";
        msg.seq = Number(l.seq) || 0;
        if (msg.content && !msg.firstContentAt) msg.firstContentAt = prev?.firstContentAt || null;
        // Addition: how long the reply thought before its answer began ("Thought for …" after a reload).
        if (!msg.firstContentAt && Number.isFinite(l.thought_ms)) msg.firstContentAt = msg.startedAt + l.thought_ms;
      } else {
        msg.seq = prev ? prev.seq : 0;
      }
      if (msg.status === "streaming") this.live.add(msg.id);
      order.push(msg.id);
      byId.set(msg.id, msg);
    }
    // Keep optimistic user messages the server has not acknowledged yet.
    for (const id of this.order) {
      const m = this.byId.get(id);
      if (m.pending && !byId.has(id)) {
        order.push(id);
        byId.set(id, m);
      }
    }
    this.order = order;
    this.byId = byId;
    // Additions (docs/protocol.md): older servers send the whole branch and no cursor.
    this.more = !!frame.more;
    this.cursor = frame.more ? frame.cursor || null : null;
    this.loaded = !provisional;
    this.emit({ kind: "conversation" });
    this.emit({ kind: "list" });
    return true;
  }

  /**
   * A page of older messages (GET /api/conversations/{id}/messages?before=): the
   * ancestors of the oldest message we hold, oldest first. Answers how many were added.
   */
  applyHistory(conversationId, before, page) {
    if (conversationId !== this.conversationId || before !== this.cursor) return 0;
    const first = this.order[0];
    const fresh = [];
    for (const raw of page.messages || []) {
      if (!this.byId.has(raw.id)) fresh.push(normalize(raw));
    }
    // The page must end at the parent of what we show; anything else is a stale answer.
    if (fresh.length && first && fresh[fresh.length - 1].id !== this.byId.get(first).parent) return 0;
    for (const msg of fresh) this.byId.set(msg.id, msg);
    this.order = [...fresh.map((m) => m.id), ...this.order];
    this.more = !!page.more;
    this.cursor = page.more ? page.cursor || null : null;
    if (fresh.length) this.emit({ kind: "prepend", count: fresh.length });
    return fresh.length;
  }

  /** Show the user's message at once, until message.created replaces it. */
  addPending(requestId, content) {
    const id = `pending:${requestId}`;
    const parent = this.leaf();
    this.byId.set(id, {
      id, role: "user", content, reasoning: "", status: "pending", pending: true, siblings: null,
      requestId, parent, model: null, usage: null, error: null, timing: null, seq: 0, v: 0,
    });
    this.order.push(id);
    this.emit({ kind: "list" });
  }

  /** Mark an optimistic message as failed (an `error` frame answered its request). */
  failPending(requestId) {
    const id = `pending:${requestId}`;
    if (!this.byId.has(id)) return false;
    this.byId.delete(id);
    this.order = this.order.filter((x) => x !== id);
    this.emit({ kind: "list" });
    return true;
  }

  /**
   * message.created. Answers "adopted" when it names the conversation our new chat
   * just created, "applied" for the open conversation, "ignored" otherwise.
   */
  applyCreated(frame) {
    const pendingId = `pending:${frame.request_id}`;
    let result = "applied";
    if (frame.conversation !== this.conversationId) {
      if (this.conversationId === null && this.byId.has(pendingId)) {
        this.conversationId = frame.conversation;
        this.conversation = { id: frame.conversation, title: "" };
        this.loaded = true;
        result = "adopted";
      } else {
        return "ignored";
      }
    }
    const user = frame.user_message;
    const assistant = frame.assistant_message;
    if (this.byId.has(assistant.id)) return result; // a repeat
    if (this.byId.has(pendingId)) {
      this.byId.delete(pendingId);
      this.order = this.order.filter((x) => x !== pendingId);
    }
    // Regenerations and edits are siblings: cut the branch at their parent.
    const parent = user ? user.parent : assistant.parent;
    this.truncateAfter(parent);
    if (user && !this.byId.has(user.id)) this.push(normalize(user));
    const reply = normalize(assistant);
    reply.startedAt = Date.now();
    this.push(reply);
    if (reply.status === "streaming") this.live.add(reply.id);
    this.emit({ kind: "list" });
    return result;
  }

  /** message.delta: "applied", "duplicate", "unknown" or "gap". */
  applyDelta(frame) {
    const msg = this.byId.get(frame.message);
    if (!msg) return "unknown";
    const seq = Number(frame.seq);
    if (!(seq > msg.seq) || msg.status !== "streaming") return "duplicate";
    if (seq !== msg.seq + 1) return "gap";
    msg.seq = seq;
    msg.waitingFor = null;
    if (frame.reasoning) msg.reasoning += frame.reasoning;
    if (frame.content) {
      if (!msg.content) msg.firstContentAt = Date.now();
      msg.content += frame.content;
    }
    this.changed(msg);
    return "applied";
  }

  /** message.waiting (an addition): the gateway has been silent a while; cleared by the first text or the end. */
  applyWaiting(frame) {
    const msg = this.byId.get(frame.message);
    if (!msg || msg.status !== "streaming" || msg.content || msg.reasoning) return false;
    msg.waitingFor = typeof frame.gateway === "string" && frame.gateway ? frame.gateway : "the gateway";
    this.changed(msg);
    return true;
  }

  /** message.done: the final text replaces what was streamed. */
  applyDone(frame) {
    const msg = this.byId.get(frame.message);
    if (!msg) return false;
    msg.status = frame.status || "complete";
    // A text cut to fit the frame bound (`truncated`, an addition) is shorter than what was streamed.
    if (typeof frame.content === "string" && !frame.truncated) msg.content = frame.content;
    if (typeof frame.reasoning === "string" && !frame.truncated) msg.reasoning = frame.reasoning;
    msg.finish_reason = frame.finish_reason || null;
    msg.usage = frame.usage || msg.usage;
    msg.timing = frame.timing || msg.timing;
    if (frame.route) msg.route = frame.route; // staff only: which gateway served it
    msg.error = null;
    msg.waitingFor = null;
    msg.endedAt = Date.now();
    this.live.delete(msg.id);
    this.changed(msg);
    return true;
  }

  /** message.error: the partial text is kept. */
  applyError(frame) {
    const msg = this.byId.get(frame.message);
    if (!msg) return false;
    msg.status = "error";
    if (typeof frame.content === "string" && frame.content.length >= msg.content.length) msg.content = frame.content;
    msg.usage = frame.usage || msg.usage;
    msg.error = { code: frame.code, detail: frame.detail, retryable: !!frame.retryable };
    msg.waitingFor = null;
    if (frame.route) msg.route = frame.route;
    msg.endedAt = Date.now();
    this.live.delete(msg.id);
    this.changed(msg);
    return true;
  }

  /** conversation.updated (titles arrive this way). */
  applyConversation(conv) {
    if (!conv || conv.id !== this.conversationId) return false;
    this.conversation = { ...(this.conversation || {}), ...conv };
    this.emit({ kind: "conversation" });
    return true;
  }

  // Helpers ---------------------------------------------------------------

  changed(msg) {
    msg.key = null; // no longer what the server sent: a snapshot renders it again
    msg.v = (msg.v || 0) + 1;
    this.emit({ kind: "message", id: msg.id });
  }

  push(msg) {
    this.byId.set(msg.id, msg);
    this.order.push(msg.id);
  }

  truncateAfter(parentId) {
    const keepPending = this.order.filter((id) => this.byId.get(id).pending);
    let cut;
    if (parentId == null) {
      cut = 0;
      this.more = false;
      this.cursor = null;
    } else {
      const at = this.order.lastIndexOf(parentId);
      if (at < 0) return; // unknown parent: keep what we show, append
      cut = at + 1;
    }
    for (const id of this.order.slice(cut)) {
      if (!keepPending.includes(id)) {
        this.byId.delete(id);
        this.live.delete(id);
      }
    }
    this.order = [...this.order.slice(0, cut), ...keepPending.filter((id) => this.order.indexOf(id) >= cut)];
  }
}

/** A protocol message object with the client's own fields added. */
export function normalize(raw, prev) {
  const created = Date.parse(raw.created_at);
  return {
    id: raw.id,
    role: raw.role,
    content: raw.content || "",
    reasoning: raw.reasoning || "",
    status: raw.status,
    model: raw.model || null,
    parent: raw.parent || null,
    created_at: raw.created_at,
    finish_reason: raw.finish_reason || null,
    usage: raw.usage || null,
    error: raw.error || null,
    timing: raw.timing || null,
    route: raw.route || null,
    // Additions: the ids of this message and its siblings, oldest first (edits and
    // regenerations), and whether the text was cut to fit a frame.
    siblings: Array.isArray(raw.siblings) ? raw.siblings : null,
    truncated: !!raw.truncated,
    // Addition: images and files sent with a user message ({id, kind, name, mime, size, tokens, url}).
    attachments: Array.isArray(raw.attachments) ? raw.attachments : [],
    seq: 0,
    v: (prev?.v || 0) + 1,
    pending: false,
    // Local clocks for the "Thinking…" timer; the server's created_at is clamped to now.
    startedAt: prev?.startedAt || (Number.isFinite(created) ? Math.min(created, Date.now()) : Date.now()),
    firstContentAt: prev?.firstContentAt || null,
    endedAt: prev?.endedAt || null,
  };
}
