// The state of the open conversation: its messages (the visible branch) and the
// live text of replies being written. Frames from the server are applied here;
// listeners are told what changed ({kind: "list" | "message" | "conversation", id}).
//
// Deltas carry a per-message `seq` (1, 2, 3 ...). A delta at or below the seq we hold
// is a duplicate and ignored; one that skips ahead means we missed frames, and
// applyDelta answers "gap" so the app resubscribes (the snapshot resets text and seq).

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
    this.loaded = !conversationId; // a new chat has nothing to load
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

  /** The reply being written in this conversation, if any (the last one wins). */
  streaming() {
    for (let i = this.order.length - 1; i >= 0; i -= 1) {
      const m = this.byId.get(this.order[i]);
      if (m.role === "assistant" && m.status === "streaming") return m;
    }
    return null;
  }

  hasPending() {
    return this.messages.some((m) => m.pending);
  }

  // Frames ----------------------------------------------------------------

  /** conversation.snapshot: the stored branch plus live text and seq of running replies. */
  applySnapshot(frame) {
    const conv = frame.conversation || {};
    if (!this.conversationId || conv.id !== this.conversationId) return false;
    this.conversation = { ...conv };
    const live = new Map((frame.live || []).map((l) => [l.message, l]));
    const order = [];
    const byId = new Map();
    for (const raw of frame.messages || []) {
      const prev = this.byId.get(raw.id);
      const msg = normalize(raw, prev);
      const l = live.get(raw.id);
      if (l) {
        msg.content = l.content || "";
        msg.reasoning = l.reasoning || "";
        msg.seq = Number(l.seq) || 0;
        if (msg.content && !msg.firstContentAt) msg.firstContentAt = prev?.firstContentAt || null;
      } else {
        msg.seq = prev ? prev.seq : 0;
      }
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
    this.loaded = true;
    this.emit({ kind: "conversation" });
    this.emit({ kind: "list" });
    return true;
  }

  /** Show the user's message at once, until message.created replaces it. */
  addPending(requestId, content) {
    const id = `pending:${requestId}`;
    const parent = this.order.length ? this.order[this.order.length - 1] : null;
    this.byId.set(id, {
      id, role: "user", content, reasoning: "", status: "pending", pending: true,
      requestId, parent, model: null, usage: null, error: null, timing: null, seq: 0,
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
    if (frame.reasoning) msg.reasoning += frame.reasoning;
    if (frame.content) {
      if (!msg.content) msg.firstContentAt = Date.now();
      msg.content += frame.content;
    }
    this.emit({ kind: "message", id: msg.id });
    return "applied";
  }

  /** message.done: the final text replaces what was streamed. */
  applyDone(frame) {
    const msg = this.byId.get(frame.message);
    if (!msg) return false;
    msg.status = frame.status || "complete";
    if (typeof frame.content === "string") msg.content = frame.content;
    if (typeof frame.reasoning === "string") msg.reasoning = frame.reasoning;
    msg.finish_reason = frame.finish_reason || null;
    msg.usage = frame.usage || msg.usage;
    msg.timing = frame.timing || msg.timing;
    if (frame.route) msg.route = frame.route; // staff only: which gateway served it
    msg.error = null;
    msg.endedAt = Date.now();
    this.emit({ kind: "message", id: msg.id });
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
    if (frame.route) msg.route = frame.route;
    msg.endedAt = Date.now();
    this.emit({ kind: "message", id: msg.id });
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

  push(msg) {
    this.byId.set(msg.id, msg);
    this.order.push(msg.id);
  }

  truncateAfter(parentId) {
    const keepPending = this.order.filter((id) => this.byId.get(id).pending);
    let cut;
    if (parentId == null) {
      cut = 0;
    } else {
      const at = this.order.indexOf(parentId);
      if (at < 0) return; // unknown parent: keep what we show, append
      cut = at + 1;
    }
    for (const id of this.order.slice(cut)) {
      if (!keepPending.includes(id)) this.byId.delete(id);
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
    seq: 0,
    pending: false,
    // Local clocks for the "Thinking…" timer; the server's created_at is clamped to now.
    startedAt: prev?.startedAt || (Number.isFinite(created) ? Math.min(created, Date.now()) : Date.now()),
    firstContentAt: prev?.firstContentAt || null,
    endedAt: prev?.endedAt || null,
  };
}
