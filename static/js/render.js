// Rendering the thread: markdown via marked -> DOMPurify -> highlight.js.
//
// Replies render progressively. The markdown is split into top-level blocks; a block
// whose source has not changed keeps its DOM (and its highlighting), so each frame
// re-renders only the block still being written. Code is highlighted once its block is
// complete. Updates are batched with requestAnimationFrame: however many deltas arrive,
// each message is rendered at most once per frame.

import { Marked } from "marked";
import DOMPurify from "dompurify";
import hljs from "highlight.js";
import { errorText, formatInt, formatSeconds, usageParts } from "grokweb/format";

const md = new Marked({ gfm: true, breaks: false });
hljs.configure({ ignoreUnescapedHTML: true });

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const HIGHLIGHT_AUTO_MAX = 20_000; // characters: longer code without a language stays plain

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function sanitize(html) {
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}

/** Wrap each <pre> in a frame with its language and a Copy button; highlight when final. */
function decorateCode(root, final) {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    if (!code) continue;
    const langClass = [...code.classList].find((c) => c.startsWith("language-"));
    const lang = langClass ? langClass.slice(9) : "";
    const frame = el("div", "code-block");
    const head = el("div", "code-head");
    head.append(el("span", "code-lang", lang || "code"));
    const copy = el("button", "code-copy", "Copy");
    copy.type = "button";
    copy.dataset.action = "copy-code";
    head.append(copy);
    pre.replaceWith(frame);
    frame.append(head, pre);
    if (!final) continue;
    try {
      if (lang && hljs.getLanguage(lang)) {
        hljs.highlightElement(code);
      } else if (!lang && code.textContent.length <= HIGHLIGHT_AUTO_MAX) {
        hljs.highlightElement(code);
      }
    } catch {
      /* leave it plain */
    }
  }
}

/** Where a streaming caret goes: the innermost last element of a block. */
function caretHost(block) {
  let node = block;
  while (node.lastElementChild && !["TABLE", "HR", "BR", "IMG"].includes(node.lastElementChild.tagName)) {
    const next = node.lastElementChild;
    if (next.classList.contains("code-head")) break;
    node = next;
  }
  return node;
}

/** Markdown in a container, re-rendering only the blocks that changed. */
export class MarkdownView {
  constructor(container) {
    this.el = container;
    this.blocks = []; // {raw, final, el}
    this.caret = el("span", "caret");
    this.caret.setAttribute("aria-hidden", "true");
  }

  update(text, streaming) {
    let tokens;
    try {
      tokens = md.lexer(text || "");
    } catch {
      this.plain(text);
      return;
    }
    const links = tokens.links || {};
    const n = tokens.length;
    this.caret.remove();
    for (let i = 0; i < n; i += 1) {
      const token = tokens[i];
      const final = !(streaming && i === n - 1);
      const block = this.blocks[i];
      if (block && block.raw === token.raw && block.final === final && block.el) continue;
      let html;
      try {
        const list = [token];
        list.links = links;
        html = sanitize(md.parser(list));
      } catch {
        html = "";
      }
      const div = block?.el && block.el.isConnected ? block.el : el("div", "md-block");
      div.innerHTML = html;
      if (token.type === "code" || html.includes("<pre")) decorateCode(div, final);
      if (!block?.el || !block.el.isConnected) {
        const after = this.blocks[i + 1]?.el;
        if (i < this.blocks.length && after?.isConnected) this.el.insertBefore(div, after);
        else this.el.appendChild(div);
      }
      this.blocks[i] = { raw: token.raw, final, el: div };
    }
    while (this.blocks.length > n) {
      this.blocks.pop().el?.remove();
    }
    if (streaming && text) {
      const last = this.blocks[this.blocks.length - 1];
      (last ? caretHost(last.el) : this.el).appendChild(this.caret);
    }
  }

  plain(text) {
    this.blocks = [];
    this.el.textContent = text || "";
  }
}

/** One message in the thread. */
class MessageView {
  constructor(msg, ctx) {
    this.id = msg.id;
    this.ctx = ctx;
    this.role = msg.role;
    const root = el("article", `msg msg-${msg.role}`);
    root.dataset.id = msg.id;
    this.root = root;
    if (msg.role === "user") {
      this.bubble = el("div", "bubble");
      root.append(this.bubble);
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
    this.retry = el("button", "btn btn-small retry", "Retry");
    this.retry.type = "button";
    this.retry.dataset.action = "retry";
    this.error.append(this.errorText, this.retry);
    this.error.hidden = true;
    this.foot = el("div", "msg-foot");
    this.stopped = el("span", "badge badge-stopped", "Stopped");
    this.stopped.hidden = true;
    this.usage = el("span", "usage");
    this.route = el("span", "route"); // staff only: the gateway that served the reply
    this.route.hidden = true;
    this.actions = el("span", "msg-actions");
    const copy = el("button", "msg-action", "Copy");
    copy.type = "button";
    copy.dataset.action = "copy-reply";
    this.regen = el("button", "msg-action", "Regenerate");
    this.regen.type = "button";
    this.regen.dataset.action = "regenerate";
    this.actions.append(copy, this.regen);
    this.foot.append(this.stopped, this.usage, this.route, this.actions);
    root.append(this.metaTop, this.reasoning, this.content, this.notice, this.error, this.foot);
    this.last = {};
  }

  render(msg, isLast) {
    const root = this.root;
    root.dataset.status = msg.status;
    root.classList.toggle("pending", !!msg.pending);
    if (this.role === "user") {
      if (this.bubble.textContent !== msg.content) this.bubble.textContent = msg.content;
      return;
    }
    const streaming = msg.status === "streaming";
    const model = this.ctx.model(msg.model);
    this.modelName.textContent = model ? model.name : msg.model || "Grok";

    // Reasoning text, when the model streams it (trace or summary).
    if (msg.reasoning) {
      this.reasoning.hidden = false;
      if (this.reasoningBody.textContent.length !== msg.reasoning.length) this.reasoningBody.textContent = msg.reasoning;
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
    this.regen.hidden = !isLast || streaming;
    this.foot.hidden = streaming && !parts;
  }

  /** "Thinking… 3.2s" while nothing is written; "Thought for 3.2s · 245 reasoning tokens" after. */
  renderThinking(msg, model) {
    const streaming = msg.status === "streaming";
    const reasoningTokens = msg.usage?.reasoning_tokens || 0;
    let text = "";
    let live = false;
    if (streaming && !msg.content) {
      const ms = Date.now() - msg.startedAt;
      text = `Thinking… ${formatSeconds(ms)}`;
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
}

/** The thread: message views kept in step with the store, rendered once per frame. */
export class ThreadView {
  constructor({ thread, scroller, empty, store, models, actions }) {
    this.thread = thread;
    this.scroller = scroller;
    this.empty = empty;
    this.store = store;
    this.models = models; // slug -> model
    this.actions = actions;
    this.views = new Map();
    this.dirty = new Set();
    this.listDirty = true;
    this.frame = 0;
    this.timer = 0;
    this.stick = true;
    this.ctx = { model: (slug) => (slug ? this.models.get(slug) : null) };
    store.onChange((change) => {
      if (change.kind === "list") this.listDirty = true;
      else if (change.kind === "message") this.dirty.add(change.id);
      else return;
      this.schedule();
    });
    scroller.addEventListener("scroll", () => {
      this.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    }, { passive: true });
    thread.addEventListener("click", (event) => this.onClick(event));
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.flush();
    });
  }

  refreshAll() {
    this.listDirty = true;
    this.schedule();
  }

  scrollToBottom() {
    this.stick = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  flush() {
    const messages = this.store.messages;
    const lastAssistant = [...messages].reverse().find((m) => m.role === "assistant");
    if (this.listDirty) {
      this.listDirty = false;
      const seen = new Set();
      let prev = null;
      for (const msg of messages) {
        let view = this.views.get(msg.id);
        if (!view || view.role !== msg.role) {
          view = new MessageView(msg, this.ctx);
          this.views.set(msg.id, view);
        }
        seen.add(msg.id);
        const want = prev ? prev.root.nextSibling : this.thread.firstChild;
        if (want !== view.root) this.thread.insertBefore(view.root, want);
        view.render(msg, msg === lastAssistant);
        prev = view;
      }
      for (const [id, view] of this.views) {
        if (!seen.has(id)) {
          view.root.remove();
          this.views.delete(id);
        }
      }
      this.dirty.clear();
    } else {
      for (const id of this.dirty) {
        const msg = this.store.get(id);
        const view = this.views.get(id);
        if (msg && view) view.render(msg, msg === lastAssistant);
      }
      this.dirty.clear();
    }
    this.empty.hidden = messages.length > 0 || !this.store.loaded;
    if (this.stick) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.tickTimers(messages);
  }

  /** Keep "Thinking… 3.2s" counting while a reply has written nothing yet. */
  tickTimers(messages) {
    const waiting = messages.some((m) => m.role === "assistant" && m.status === "streaming" && !m.content);
    if (waiting && !this.timer) {
      this.timer = setInterval(() => {
        let any = false;
        for (const m of this.store.messages) {
          if (m.role === "assistant" && m.status === "streaming" && !m.content) {
            any = true;
            this.views.get(m.id)?.renderThinking(m, this.ctx.model(m.model));
          }
        }
        if (!any) {
          clearInterval(this.timer);
          this.timer = 0;
        }
      }, 100);
    } else if (!waiting && this.timer) {
      clearInterval(this.timer);
      this.timer = 0;
    }
  }

  onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const article = button.closest("article.msg");
    const id = article?.dataset.id;
    const action = button.dataset.action;
    if (action === "copy-code") {
      const code = button.closest(".code-block")?.querySelector("code");
      copyText(code ? code.textContent : "", button);
    } else if (action === "copy-reply") {
      const msg = this.store.get(id);
      copyText(msg ? msg.content : "", button);
    } else if (action === "retry" || action === "regenerate") {
      if (id) this.actions.regenerate(id);
    }
  }
}

async function copyText(text, button) {
  const label = button.textContent;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1200);
}
