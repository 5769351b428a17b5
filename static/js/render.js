// The thread: message views kept in step with the store, rendered once per frame.
//
// A conversation opens with its latest page of messages; older pages are fetched as
// the reader nears the top (the `older` sentinel) and inserted above without moving
// what is on screen. Each message is laid out only near the viewport (CSS
// `content-visibility: auto`), so the cost of opening and of streaming does not grow
// with the length of the conversation. Updates are batched with requestAnimationFrame:
// however many deltas arrive, each message renders at most once per frame.

import { MessageView } from "grokweb/message";
import { el } from "grokweb/markdown";
import { showMenu } from "grokweb/menu";

// Opening a conversation renders its newest messages first, about a screenful, and the
// rest of the page above them after that has been painted, a few messages per task.
const FIRST_MESSAGES = 6;
const FIRST_CHARS = 6000;
const LATER_BATCH = 4;

export class ThreadView {
  constructor({ thread, scroller, empty, older, store, models, actions }) {
    this.thread = thread;
    this.scroller = scroller;
    this.empty = empty;
    this.older = older;
    this.store = store;
    this.models = models; // slug -> model
    this.actions = actions; // {regenerate(id, model?), edit(id, text), switchTo(id), loadOlder(), busy()}
    this.views = new Map();
    this.dirty = new Set();
    this.listDirty = true;
    this.forceAll = false;
    this.prepended = 0;
    this.frame = 0;
    this.timer = 0;
    this.stick = true;
    this.loadingOlder = false;
    this.deferred = new Set(); // the oldest messages of an opening page, rendered after the first paint
    this.laterTimer = 0;
    this.wasLoaded = false;
    this.ctx = { model: (slug) => (slug ? this.models.get(slug) : null) };
    store.onChange((change) => {
      if (change.kind === "list") this.listDirty = true;
      else if (change.kind === "prepend") this.prepended += change.count;
      else if (change.kind === "message") this.dirty.add(change.id);
      else return;
      this.schedule();
    });
    scroller.addEventListener("scroll", () => {
      this.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    }, { passive: true });
    thread.addEventListener("click", (event) => this.onClick(event));
    // Messages change height after they are first laid out (content-visibility, fonts,
    // highlighting): a reader at the bottom stays at the bottom.
    if ("ResizeObserver" in window) {
      new ResizeObserver(() => {
        if (this.stick) this.scroller.scrollTop = this.scroller.scrollHeight;
      }).observe(thread);
    }
    if (older && "IntersectionObserver" in window) {
      this.observer = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) this.maybeLoadOlder();
      }, { root: scroller, rootMargin: "800px 0px 0px 0px" });
      this.observer.observe(older);
    }
    this.menu = null;
    document.addEventListener("click", (event) => {
      if (this.menu && !this.menu.contains(event.target) && !event.target.closest?.(".regen-with")) this.closeMenu();
    });
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.flush();
    });
  }

  /** Render what changed now rather than at the next frame (the page that came with the HTML). */
  flushNow() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.flush();
  }

  /**
   * Which messages of a list to render later: when nothing is on screen yet, all but the
   * newest few that fill about a screen (FIRST_MESSAGES, FIRST_CHARS of text).
   */
  planOpening(order) {
    if (this.deferred.size) {
      // Still a prefix of the list (a snapshot that repeats the page)? Else render it all now.
      const at = order.findIndex((id) => !this.deferred.has(id));
      if (at >= 0 && order.slice(at).some((id) => this.deferred.has(id))) this.deferred.clear();
      return;
    }
    if (this.views.size || order.length <= FIRST_MESSAGES) return;
    let chars = 0;
    let first = order.length;
    while (first > 0 && order.length - first < FIRST_MESSAGES && chars < FIRST_CHARS) {
      first -= 1;
      const msg = this.store.get(order[first]);
      chars += (msg.content || "").length + (msg.reasoning || "").length;
    }
    if (first === 0) return;
    for (const id of order.slice(0, first)) this.deferred.add(id);
    // After the newest ones are painted: a task per batch, so frames go on in between.
    requestAnimationFrame(() => {
      clearTimeout(this.laterTimer);
      this.laterTimer = setTimeout(() => this.renderLater(), 0);
    });
  }

  /** The newest batch of the messages left for later, placed above what is shown. */
  renderLater(all = false) {
    this.laterTimer = 0;
    const ids = this.store.order.filter((id) => this.deferred.has(id));
    const batch = all ? ids : ids.slice(-LATER_BATCH);
    for (const id of batch) this.deferred.delete(id);
    if (!ids.length) {
      this.deferred.clear();
      return;
    }
    this.placeAbove(batch);
    if (this.deferred.size) this.laterTimer = setTimeout(() => this.renderLater(), 0);
  }

  refreshAll() {
    this.listDirty = true;
    this.forceAll = true;
    this.schedule();
  }

  /** After a branch switch: keep the version the reader chose on screen (once it is rendered). */
  reveal(id, fallback) {
    this.pendingReveal = [id, fallback];
  }

  scrollToBottom() {
    this.stick = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  view(msg) {
    let view = this.views.get(msg.id);
    if (!view || view.role !== msg.role) {
      view = new MessageView(msg, this.ctx);
      this.views.set(msg.id, view);
    }
    return view;
  }

  flush() {
    const store = this.store;
    if (this.listDirty) {
      this.listDirty = false;
      this.prepended = 0;
      const force = this.forceAll;
      this.forceAll = false;
      const seen = new Set();
      let prev = null;
      this.planOpening(store.order);
      for (const id of store.order) {
        if (this.deferred.has(id)) continue; // rendered later, above the first one shown
        const msg = store.get(id);
        const view = this.view(msg);
        seen.add(id);
        const want = prev ? prev.root.nextSibling : this.thread.firstChild;
        if (want !== view.root) this.thread.insertBefore(view.root, want);
        view.render(msg, force);
        prev = view;
      }
      for (const [id, view] of this.views) {
        if (!seen.has(id)) {
          view.root.remove();
          this.views.delete(id);
        }
      }
      for (const id of this.deferred) if (!store.get(id)) this.deferred.delete(id);
      this.dirty.clear();
    } else {
      if (this.prepended) this.insertOlder();
      for (const id of this.dirty) {
        const msg = store.get(id);
        const view = this.views.get(id);
        if (msg && view) view.render(msg);
      }
      this.dirty.clear();
    }
    this.empty.hidden = store.order.length > 0 || !store.loaded;
    // Busy while the page shown is the HTML's and its snapshot has not come (assistive tech, tests).
    const busy = String(!store.loaded);
    if (this.thread.getAttribute("aria-busy") !== busy) this.thread.setAttribute("aria-busy", busy);
    if (this.older) {
      this.older.hidden = !store.more;
    }
    if (this.pendingReveal && this.views.has(this.pendingReveal[0])) {
      const view = this.views.get(this.pendingReveal[0]);
      this.pendingReveal = null;
      this.stick = false;
      view.root.scrollIntoView({ block: "center" });
      view.root.querySelector(".sib-nav:not([hidden]) .sib-btn:not(:disabled)")?.focus({ preventScroll: true });
    }
    if (this.stick) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.tickTimers();
    // The page that came with the HTML is replaced by the snapshot: older pages may load now.
    if (store.loaded && !this.wasLoaded && this.older && !this.older.hidden) {
      requestAnimationFrame(() => {
        if (this.older.getBoundingClientRect().bottom > this.scroller.getBoundingClientRect().top - 800) {
          this.maybeLoadOlder();
        }
      });
    }
    this.wasLoaded = store.loaded;
  }

  /** Older messages arrived: put them above, keeping what the reader sees where it is. */
  insertOlder() {
    const count = this.prepended;
    this.prepended = 0;
    if (this.deferred.size) this.renderLater(true); // what is left of the opening page goes first
    this.placeAbove(this.store.order.slice(0, count));
  }

  /** Render `ids` (consecutive, oldest first) above the first message shown, keeping what the reader sees in place. */
  placeAbove(ids) {
    const anchor = this.thread.firstElementChild;
    // A reader scrolled up keeps what they see in place (measured: a layout); one at the
    // bottom stays there by the ResizeObserver, with no layout forced here.
    const keep = !this.stick && anchor;
    const before = keep ? anchor.getBoundingClientRect().top : 0;
    const fragment = document.createDocumentFragment();
    for (const id of ids) {
      const msg = this.store.get(id);
      if (!msg) continue;
      const view = this.view(msg);
      view.render(msg, true);
      fragment.append(view.root);
    }
    this.thread.insertBefore(fragment, anchor);
    if (keep) this.scroller.scrollTop += anchor.getBoundingClientRect().top - before;
  }

  async maybeLoadOlder() {
    if (this.loadingOlder || !this.store.more || !this.store.loaded) return;
    this.loadingOlder = true;
    this.older.classList.add("loading");
    try {
      await this.actions.loadOlder();
    } finally {
      this.loadingOlder = false;
      this.older.classList.remove("loading");
    }
    // Still near the top (a short page, a tall screen): keep going.
    if (this.store.more && this.older.getBoundingClientRect().bottom > this.scroller.getBoundingClientRect().top - 800) {
      requestAnimationFrame(() => this.maybeLoadOlder());
    }
  }

  /** Keep "Thinking… 3.2s" counting while a reply has written nothing yet. */
  tickTimers() {
    const waiting = () => [...this.store.live].map((id) => this.store.get(id))
      .filter((m) => m && m.status === "streaming" && !m.content);
    if (waiting().length && !this.timer) {
      this.timer = setInterval(() => {
        const list = waiting();
        for (const m of list) this.views.get(m.id)?.renderThinking(m, this.ctx.model(m.model));
        if (!list.length) {
          clearInterval(this.timer);
          this.timer = 0;
        }
      }, 100);
    }
  }

  /** ↑ in an empty composer: edit the newest message you wrote. */
  editLast() {
    const msg = this.store.lastUserMessage();
    if (!msg) return false;
    return this.startEdit(msg.id);
  }

  startEdit(id) {
    const msg = this.store.get(id);
    const view = this.views.get(id);
    if (!msg || !view || msg.role !== "user") return false;
    if (this.actions.busy()) return false;
    for (const other of this.views.values()) if (other !== view) other.endEdit?.();
    view.startEdit(msg, (text) => this.actions.edit(id, text));
    view.root.scrollIntoView({ block: "nearest" });
    return true;
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
    } else if (action === "copy-reply" || action === "copy-message") {
      const msg = this.store.get(id);
      copyText(msg ? msg.content : "", button);
    } else if (action === "retry" || action === "regenerate") {
      if (id) this.actions.regenerate(id);
    } else if (action === "regenerate-with") {
      if (id) this.openMenu(button, id);
    } else if (action === "edit") {
      if (id) this.startEdit(id);
    } else if (action === "sibling") {
      if (button.dataset.to) this.actions.switchTo(button.dataset.to, id);
    }
  }

  // "Regenerate with…": a small menu of the models this user may use ------

  openMenu(button, id) {
    this.closeMenu();
    const menu = el("div", "menu regen-menu");
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", "Regenerate with");
    for (const model of this.models.values()) {
      const item = el("button", "menu-item", model.name);
      item.type = "button";
      item.setAttribute("role", "menuitem");
      item.addEventListener("click", () => {
        this.closeMenu(true);
        this.actions.regenerate(id, model.slug);
      });
      menu.append(item);
    }
    if (!menu.childElementCount) return;
    this.menu = menu;
    this.menuButton = button;
    showMenu(menu, button, (refocus) => this.closeMenu(refocus));
  }

  closeMenu(refocus = false) {
    if (!this.menu) return;
    this.menu.remove();
    this.menu = null;
    this.menuButton?.setAttribute("aria-expanded", "false");
    if (refocus) this.menuButton?.focus();
    this.menuButton = null;
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
