// One message of the thread: a user bubble (editable) or a reply (markdown, reasoning,
// usage, actions), with "‹ 2/3 ›" when it has siblings (edits and regenerations).

import { MarkdownView, el, renderPlainMath } from "grokweb/markdown";
import { errorText, formatInt, formatSeconds, usageParts } from "grokweb/format";
import { sentAttachments } from "grokweb/attachments";

function button(className, text, action, label) {
  const b = el("button", className, text);
  b.type = "button";
  b.dataset.action = action;
  if (label) b.setAttribute("aria-label", label);
  return b;
}

/** "‹ 2/3 ›": which version of a message this is, with buttons to the others. */
class SiblingNav {
  constructor() {
    this.root = el("span", "sib-nav");
    this.root.setAttribute("role", "group");
    this.root.setAttribute("aria-label", "Versions of this message");
    this.prev = button("sib-btn", "‹", "sibling", "Previous version");
    this.label = el("span", "sib-label");
    this.next = button("sib-btn", "›", "sibling", "Next version");
    this.root.append(this.prev, this.label, this.next);
    this.root.hidden = true;
  }

  render(msg) {
    const list = msg.siblings || [];
    const at = list.indexOf(msg.id);
    if (list.length < 2 || at < 0) {
      this.root.hidden = true;
      return;
    }
    this.root.hidden = false;
    this.label.textContent = `${at + 1}/${list.length}`;
    this.label.setAttribute("aria-label", `Version ${at + 1} of ${list.length}`);
    this.prev.disabled = at === 0;
    this.next.disabled = at === list.length - 1;
    this.prev.dataset.to = at > 0 ? list[at - 1] : "";
    this.next.dataset.to = at < list.length - 1 ? list[at + 1] : "";
  }
}

export class MessageView {
  constructor(msg, ctx) {
    this.id = msg.id;
    this.ctx = ctx;
    this.role = msg.role;
    this.v = -1;
    const root = el("article", `msg msg-${msg.role}`);
    root.dataset.id = msg.id;
    root.setAttribute("aria-label", msg.role === "user" ? "You said" : "Grok said");
    this.root = root;
    this.siblings = new SiblingNav();
    if (msg.role === "user") {
      this.bubble = el("div", "bubble");
      this.foot = el("div", "msg-foot msg-foot-user");
      this.actions = el("span", "msg-actions");
      this.edit = button("msg-action", "Edit", "edit", "Edit message");
      this.actions.append(button("msg-action", "Copy", "copy-message", "Copy message"), this.edit);
      this.foot.append(this.siblings.root, this.actions);
      this.files = el("div", "msg-attachments");
      this.files.hidden = true;
      this.filesKey = "";
      root.append(this.files, this.bubble, this.foot);
      return;
    }
    this.metaTop = el("div", "meta-top");
    this.modelName = el("span", "model-name");
    this.thinking = el("span", "thinking");
    this.metaTop.append(this.modelName, this.thinking);
    this.reasoning = el("details", "reasoning");
    this.reasoningSummary = el("summary", "", "Reasoning");
    this.reasoningBody = el("div", "reasoning-body");
    this.reasoning.append(this.reasoningSummary, this.reasoningBody);
    this.reasoning.hidden = true;
    this.content = el("div", "content");
    this.md = new MarkdownView(this.content);
    this.notice = el("div", "notice");
    this.notice.hidden = true;
    this.error = el("div", "msg-error");
    this.error.setAttribute("role", "alert");
    this.errorText = el("p");
    this.retry = button("btn btn-small retry", "Retry", "retry");
    this.error.append(this.errorText, this.retry);
    this.error.hidden = true;
    this.foot = el("div", "msg-foot");
    this.stopped = el("span", "badge badge-stopped", "Stopped");
    this.stopped.hidden = true;
    this.usage = el("span", "usage");
    this.route = el("span", "route"); // staff only: the gateway that served the reply
    this.route.hidden = true;
    this.actions = el("span", "msg-actions");
    this.regen = button("msg-action", "Regenerate", "regenerate");
    this.regenWith = button("msg-action regen-with", "▾", "regenerate-with", "Regenerate with another model");
    this.regenWith.setAttribute("aria-haspopup", "menu");
    this.regenWith.setAttribute("aria-expanded", "false");
    this.actions.append(button("msg-action", "Copy", "copy-reply", "Copy reply"), this.regen, this.regenWith);
    this.foot.append(this.siblings.root, this.stopped, this.usage, this.route, this.actions);
    root.append(this.metaTop, this.reasoning, this.content, this.notice, this.error, this.foot);
    this.last = {};
  }

  /** Render when the message (or the model list: `force`) changed since the last time. */
  render(msg, force = false) {
    if (!force && msg.v === this.v) return;
    this.v = msg.v;
    const root = this.root;
    root.dataset.status = msg.status;
    root.classList.toggle("pending", !!msg.pending);
    this.siblings.render(msg);
    if (this.role === "user") {
      if (this.bubble.textContent !== msg.content) this.bubble.textContent = msg.content;
      this.bubble.hidden = !msg.content && !!msg.attachments?.length;
      const key = (msg.attachments || []).map((a) => a.id).join(",");
      if (key !== this.filesKey) {
        this.filesKey = key;
        const fresh = sentAttachments(msg.attachments);
        this.files.replaceWith(fresh);
        this.files = fresh;
        this.files.hidden = !key;
      }
      this.foot.hidden = !!msg.pending;
      return;
    }
    const streaming = msg.status === "streaming";
    const model = this.ctx.model(msg.model);
    this.modelName.textContent = model ? model.name : msg.model || "Grok";

    // Reasoning text, when the model streams it (trace or summary).
    if (msg.reasoning) {
      this.reasoning.hidden = false;
      if (this.shownReasoning !== msg.reasoning) {
        this.shownReasoning = msg.reasoning;
        renderPlainMath(this.reasoningBody, msg.reasoning); // plain text, its formulas typeset
      }
    } else {
      this.reasoning.hidden = true;
    }

    this.renderThinking(msg, model);

    // The answer.
    if (this.last.content !== msg.content || this.last.streaming !== streaming) {
      this.md.update(msg.content, streaming);
      this.last.content = msg.content;
      this.last.streaming = streaming;
    }

    // Endings: stopped, error, length, content filter.
    this.stopped.hidden = msg.status !== "cancelled";
    if (msg.status === "error") {
      const err = msg.error || {};
      this.error.hidden = false;
      this.errorText.textContent = errorText(err.code, err.detail);
      this.retry.hidden = !err.retryable;
      this.error.dataset.code = err.code || "internal";
    } else {
      this.error.hidden = true;
    }
    let notice = "";
    if (msg.status === "complete" && msg.finish_reason === "length") notice = "The reply was cut off at the length limit.";
    if (msg.status === "complete" && msg.finish_reason === "content_filter") notice = "The provider stopped this reply under its content policy.";
    if (msg.truncated) notice = "This reply is too long to show here in full; export the conversation to read all of it.";
    this.notice.textContent = notice;
    this.notice.hidden = !notice;

    // Usage under a finished reply.
    const parts = !streaming ? usageParts(msg.usage) : null;
    if (parts) {
      this.usage.textContent = parts.join(" · ");
      if (msg.usage.estimated) {
        const est = el("span", "est", "estimated");
        est.title = "The provider sent no usage for this reply; the counts are estimated from the text.";
        this.usage.append(" · ", est);
      }
      this.usage.hidden = false;
    } else {
      this.usage.textContent = "";
      this.usage.hidden = true;
    }
    const route = !streaming && msg.route ? `via ${msg.route.provider}` : "";
    this.route.textContent = route;
    this.route.title = route ? `Served by ${msg.route.provider} as ${msg.route.upstream_id}` : "";
    this.route.hidden = !route;
    this.actions.hidden = streaming;
    this.regen.hidden = streaming || !msg.parent;
    this.regenWith.hidden = this.regen.hidden;
    this.foot.hidden = streaming && !parts && this.siblings.root.hidden;
  }

  /** "Thinking… 3.2s" while nothing is written; "Thought for 3.2s · 245 reasoning tokens" after. */
  renderThinking(msg, model) {
    const streaming = msg.status === "streaming";
    const reasoningTokens = msg.usage?.reasoning_tokens || 0;
    let text = "";
    let live = false;
    if (streaming && !msg.content) {
      const ms = Date.now() - msg.startedAt;
      // message.waiting: the gateway has said nothing for a while; say whom we are waiting for.
      text = msg.waitingFor && !msg.reasoning
        ? `Still waiting for ${msg.waitingFor}… ${formatSeconds(ms)}`
        : `Thinking… ${formatSeconds(ms)}`;
      live = true;
    } else {
      // Hidden reasoning: the server's time to first token is the thinking time. With a
      // reasoning trace, thinking lasts until the first answer text, measured here.
      let ms = null;
      if (!streaming && msg.timing?.ttft_ms != null && !msg.reasoning) ms = msg.timing.ttft_ms;
      else if (msg.firstContentAt && msg.startedAt) ms = msg.firstContentAt - msg.startedAt;
      const reasons = (model && model.reasoning) || reasoningTokens > 0 || !!msg.reasoning;
      const bits = [];
      if (reasons && ms != null && ms >= 0) bits.push(`Thought for ${formatSeconds(ms)}`);
      if (reasoningTokens) bits.push(`${formatInt(reasoningTokens)} reasoning tokens`);
      text = bits.join(" · ");
    }
    if (this.last.thinking !== text || this.last.live !== live) {
      this.thinking.replaceChildren();
      if (live) {
        const dot = el("span", "dot");
        dot.setAttribute("aria-hidden", "true");
        this.thinking.append(dot);
      }
      this.thinking.append(text);
      this.thinking.hidden = !text;
      this.thinking.classList.toggle("live", live);
      this.last.thinking = text;
      this.last.live = live;
    }
    if (msg.reasoning) {
      this.reasoningSummary.textContent = streaming && !msg.content ? "Reasoning…" : "Reasoning";
    }
    return live;
  }

  // Editing a user message in place --------------------------------------

  get editing() {
    return !!this.editor;
  }

  /** Replace the bubble with a text box; Enter sends the edit as a new version, Esc cancels. */
  startEdit(msg, onSubmit) {
    if (this.role !== "user" || this.editor) return;
    const form = el("form", "edit-form");
    const area = el("textarea", "edit-input");
    area.value = msg.content;
    area.rows = Math.min(12, Math.max(2, msg.content.split("\n").length));
    area.setAttribute("aria-label", "Edit your message");
    const row = el("div", "edit-actions");
    const hint = el("span", "edit-hint", "Enter to send · Esc to cancel");
    const cancel = el("button", "btn btn-small", "Cancel");
    cancel.type = "button";
    const save = el("button", "btn btn-small btn-primary", "Send");
    save.type = "submit";
    row.append(hint, cancel, save);
    form.append(area, row);
    const submit = () => {
      const text = area.value;
      if (!text.trim()) return;
      if (text.trim() === msg.content.trim()) {
        this.endEdit();
        return;
      }
      if (onSubmit(text) !== false) this.endEdit();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.endEdit(true);
      } else if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    cancel.addEventListener("click", () => this.endEdit(true));
    this.editor = form;
    this.root.classList.add("editing");
    this.bubble.hidden = true;
    this.foot.hidden = true;
    this.bubble.after(form);
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  endEdit(refocus = false) {
    if (!this.editor) return;
    this.editor.remove();
    this.editor = null;
    this.root.classList.remove("editing");
    this.bubble.hidden = false;
    this.foot.hidden = false;
    if (refocus) this.edit.focus();
  }
}
