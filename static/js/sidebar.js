// The conversation list: pinned first, then by date (Today, Yesterday, Previous 7 days,
// Previous 30 days, Older), searchable, loaded page by page as it scrolls. Each chat
// has a menu: rename (inline), pin, archive, export, share, delete (with a few seconds
// to undo). Changes made in another tab arrive as conversation.updated /
// conversation.deleted frames and are applied here.
//
// Keyboard: one tab stop for the whole list (the current chat); ↑/↓ move between
// chats, → reaches a chat's menu button, Shift+F10 or the context-menu key opens it.

import { groupLabel, sortConversations } from "grokweb/groups";
import { showMenu } from "grokweb/menu";

const SEARCH_DELAY_MS = 250;
const PAGE_SIZE = 60; // the first page: enough to fill the sidebar, quick to paint
const MORE_SIZE = 200; // later pages, fetched while scrolling (the API's largest)
const UNDO_MS = 6000;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Sidebar {
  constructor({ api, list, empty, more, search, heading, archivedToggle, onOpen, onDeleted, onShare, toast, notify }) {
    this.api = api;
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.search = search;
    this.heading = heading;
    this.archivedToggle = archivedToggle;
    this.onOpen = onOpen;
    this.onDeleted = onDeleted;
    this.onShare = onShare;
    this.toast = toast;
    this.notify = notify;
    this.items = new Map(); // id -> {conv, li}
    this.next = null;
    this.query = "";
    this.view = "active"; // or "archived"
    this.activeId = null;
    this.loading = 0;
    this.fetching = false;
    this.deleting = new Map(); // id -> timer, while a delete can still be undone
    this.frame = 0;
    this.menu = null;

    let timer = 0;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.load(search.value.trim()), SEARCH_DELAY_MS);
    });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && search.value) {
        event.stopPropagation();
        search.value = "";
        this.load("");
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        this.focusItem(0);
      }
    });
    more.addEventListener("click", () => this.loadMore());
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) this.loadMore();
      }, { root: list.closest("nav"), rootMargin: "0px 0px 600px 0px" }).observe(more);
    }
    list.addEventListener("click", (event) => this.onClick(event));
    list.addEventListener("keydown", (event) => this.onKey(event));
    archivedToggle?.addEventListener("click", () => this.setView(this.view === "active" ? "archived" : "active"));
    document.addEventListener("click", (event) => {
      if (this.menu && !this.menu.contains(event.target) && !event.target.closest?.(".conv-menu-btn")) this.closeMenu();
    });
    window.addEventListener("pagehide", () => this.flushDeletes());
  }

  // Loading ---------------------------------------------------------------

  async load(query = this.query) {
    this.query = query;
    const ticket = ++this.loading;
    let page;
    try {
      page = await this.api.conversations(query, "", { view: this.view, limit: PAGE_SIZE });
    } catch (err) {
      if (ticket === this.loading) this.toast(err.message || "Could not load your conversations.", true);
      return;
    }
    if (ticket !== this.loading) return; // a newer search answered first
    this.items.clear();
    this.list.replaceChildren();
    for (const conv of page.results) if (!this.deleting.has(conv.id)) this.add(conv);
    this.next = page.next;
    this.layout(true);
  }

  async loadMore() {
    if (!this.next || this.fetching) return;
    const ticket = this.loading;
    this.fetching = true;
    this.more.disabled = true;
    let loaded = false;
    try {
      const page = await this.api.conversations(this.query, this.next, { view: this.view, limit: MORE_SIZE });
      if (ticket !== this.loading) return;
      const fresh = page.results.filter((conv) => !this.items.has(conv.id) && !this.deleting.has(conv.id));
      const last = this.list.lastElementChild;
      const tail = last ? this.items.get(last.dataset.id)?.conv : null;
      // The next page sorts after what is shown (the usual case): append it instead of
      // placing every row again, so scrolling through thousands of chats stays cheap.
      const appendable = !this.frame && fresh.length &&
        (!tail || sortConversations([fresh[0], tail], this.view === "active")[0] === tail);
      for (const conv of fresh) this.add(conv);
      this.next = page.next;
      if (appendable) this.append(fresh);
      else this.layout(true);
      loaded = true;
    } catch (err) {
      this.toast(err.message || "Could not load more conversations.", true);
    } finally {
      this.fetching = false;
      this.more.disabled = false;
      this.more.hidden = !this.next;
    }
    // The observer only reports changes: if the end of the list is still in reach (a tall
    // window, a reader holding the bottom), load on.
    requestAnimationFrame(() => {
      const nav = this.list.closest("nav");
      if (loaded && this.next && nav && this.more.getBoundingClientRect().top < nav.getBoundingClientRect().bottom + 600) {
        this.loadMore();
      }
    });
  }

  /** Put rows at the end of the list, with the date headings they start. */
  append(convs) {
    const today = new Date();
    const fragment = document.createDocumentFragment();
    const heads = this.list.querySelectorAll(".conv-group-label"); // a handful: one per date group
    let group = heads.length ? heads[heads.length - 1].textContent : null;
    for (const conv of convs) {
      const label = this.label(conv, today);
      if (label !== group) {
        group = label;
        const head = el("li", "conv-group");
        head.append(el("h3", "conv-group-label", label));
        fragment.append(head);
      }
      fragment.append(this.items.get(conv.id).li);
    }
    this.list.append(fragment); // new rows are out of the tab order already (add): the tab stop stays
  }

  label(conv, today) {
    return conv.pinned && this.view === "active" ? "Pinned" : groupLabel(conv.updated_at, today);
  }

  setView(view) {
    this.view = view;
    this.closeMenu();
    const archived = view === "archived";
    this.heading.textContent = archived ? "Archived chats" : "Chats";
    this.archivedToggle.textContent = archived ? "Back to chats" : "Archived chats";
    this.archivedToggle.setAttribute("aria-pressed", String(archived));
    this.load(this.query);
  }

  // Items -----------------------------------------------------------------

  add(conv) {
    const li = el("li", "conv-item");
    li.dataset.id = conv.id;
    const a = el("a", "conv-link");
    a.href = `/c/${conv.id}/`;
    a.tabIndex = -1;
    const menuBtn = el("button", "conv-menu-btn", "⋯");
    menuBtn.type = "button";
    menuBtn.tabIndex = -1;
    menuBtn.dataset.action = "menu";
    menuBtn.setAttribute("aria-haspopup", "menu");
    menuBtn.setAttribute("aria-expanded", "false");
    li.append(a, menuBtn);
    const item = { conv: { ...conv }, li };
    this.items.set(conv.id, item);
    this.paint(item);
    return item;
  }

  paint(item) {
    const a = item.li.querySelector(".conv-link");
    const title = item.conv.title || "New chat";
    a.replaceChildren();
    if (item.conv.pinned) {
      const pin = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      pin.setAttribute("class", "conv-pin");
      pin.setAttribute("viewBox", "0 0 16 16");
      pin.setAttribute("aria-hidden", "true");
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", "M6 1h4v1l-1 1v4l2 2v1H9v5l-1 1-1-1v-5H5V9l2-2V3L6 2z");
      path.setAttribute("fill", "currentColor");
      pin.append(path);
      a.append(pin);
    }
    a.append(el("span", "conv-title-text", title));
    a.title = title;
    a.setAttribute("aria-label", item.conv.pinned ? `${title} (pinned)` : title);
    item.li.querySelector(".conv-menu-btn").setAttribute("aria-label", `Options for ${title}`);
    item.li.classList.toggle("active", item.conv.id === this.activeId);
    item.li.classList.toggle("pinned", !!item.conv.pinned);
    if (item.conv.id === this.activeId) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }

  /** Sort, group and place every item; batched to one pass per frame unless `now`. */
  layout(now = false) {
    if (!now) {
      if (!this.frame) this.frame = requestAnimationFrame(() => this.layout(true));
      return;
    }
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const items = sortConversations([...this.items.values()].map((i) => i.conv), this.view === "active")
      .map((c) => this.items.get(c.id));
    const today = new Date();
    const fragment = document.createDocumentFragment();
    let group = null;
    for (const item of items) {
      const label = this.label(item.conv, today);
      if (label !== group) {
        group = label;
        const head = el("li", "conv-group");
        head.append(el("h3", "conv-group-label", label));
        fragment.append(head);
      }
      fragment.append(item.li);
    }
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
    this.list.replaceChildren(fragment);
    if (focused && this.list.contains(focused)) focused.focus({ preventScroll: true });
    this.rove();
    this.empty.hidden = this.items.size > 0;
    this.empty.textContent = this.query ? "No conversations match."
      : this.view === "archived" ? "No archived chats." : "No conversations yet.";
    this.more.hidden = !this.next;
  }

  /** One tab stop for the list: the current chat's link, else the first. */
  rove() {
    const links = this.list.querySelectorAll(".conv-link");
    let stop = this.items.get(this.activeId)?.li.querySelector(".conv-link") || links[0];
    if (this.list.contains(document.activeElement) && document.activeElement.classList.contains("conv-link")) {
      stop = document.activeElement;
    }
    for (const link of links) link.tabIndex = link === stop ? 0 : -1;
  }

  focusItem(index) {
    const links = [...this.list.querySelectorAll(".conv-link")];
    if (!links.length) return;
    const link = links[Math.max(0, Math.min(index, links.length - 1))];
    for (const other of links) other.tabIndex = other === link ? 0 : -1;
    link.focus();
  }

  setActive(id) {
    const before = this.items.get(this.activeId);
    this.activeId = id;
    if (before) this.paint(before);
    const now = this.items.get(id);
    if (now) this.paint(now);
    this.rove();
  }

  /** conversation.created: a new chat from this tab or another. */
  created(conv) {
    if (this.items.has(conv.id) || this.query || this.view !== "active") return;
    this.add({ pinned: false, archived: false, updated_at: new Date().toISOString(), ...conv });
    this.layout();
  }

  /** conversation.updated: a new title, pin, archive (from any tab). */
  updated(conv) {
    const item = this.items.get(conv.id);
    if (!item) {
      // Restored from the archive elsewhere (or archived while the archive is open): show it here too.
      const belongs = "archived" in conv && conv.archived === (this.view === "archived") && !this.query;
      if (belongs && conv.updated_at && "title" in conv && !this.deleting.has(conv.id)) {
        this.add(conv);
        this.layout();
      }
      return;
    }
    item.conv = { ...item.conv, ...conv };
    if ("archived" in conv && !!conv.archived !== (this.view === "archived")) {
      this.removeItem(conv.id);
      return;
    }
    this.paint(item);
    this.layout();
  }

  /** conversation.deleted (from any tab). */
  deleted(id) {
    this.removeItem(id);
  }

  /** Activity in a conversation: it moves to the top of its group. */
  touched(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.conv.updated_at = new Date().toISOString();
    this.layout();
  }

  title(id) {
    return this.items.get(id)?.conv.title || "";
  }

  conversation(id) {
    return this.items.get(id)?.conv || null;
  }

  removeItem(id) {
    const item = this.items.get(id);
    if (!item) return;
    const hadFocus = item.li.contains(document.activeElement);
    item.li.remove();
    this.items.delete(id);
    this.layout(true);
    if (hadFocus) this.focusItem(0);
  }

  // Actions ---------------------------------------------------------------

  async patch(id, change, failure) {
    try {
      const conv = await this.api.patchConversation(id, change);
      this.updated(conv);
      return conv;
    } catch (err) {
      this.toast(err.message || failure, true);
      return null;
    }
  }

  togglePin(id) {
    const item = this.items.get(id);
    if (item) this.patch(id, { pinned: !item.conv.pinned }, "Could not pin the conversation.");
  }

  async archive(id, archived) {
    const title = this.title(id) || "New chat";
    const conv = await this.patch(id, { archived }, "Could not archive the conversation.");
    if (!conv) return;
    if (archived && id === this.activeId) this.onDeleted(id);
    this.notify({
      text: archived ? `Archived “${title}”.` : `Restored “${title}”.`,
      action: { label: "Undo", run: () => this.patch(id, { archived: !archived }, "Could not undo.") },
    });
  }

  /** Delete after a few seconds, unless undone; the list and the open chat let go at once. */
  remove(id) {
    const item = this.items.get(id);
    if (!item) return;
    const conv = item.conv;
    this.removeItem(id);
    if (id === this.activeId) this.onDeleted(id);
    const timer = setTimeout(() => this.commitDelete(id), UNDO_MS);
    this.deleting.set(id, timer);
    this.notify({
      text: `Deleted “${conv.title || "New chat"}”.`,
      timeout: UNDO_MS,
      action: {
        label: "Undo",
        run: () => {
          clearTimeout(this.deleting.get(id));
          this.deleting.delete(id);
          if (!this.items.has(id)) this.add(conv);
          this.layout(true);
        },
      },
    });
  }

  async commitDelete(id) {
    if (!this.deleting.has(id)) return;
    this.deleting.delete(id);
    try {
      await this.api.deleteConversation(id);
    } catch (err) {
      if (err.status !== 404) this.toast(err.message || "Could not delete the conversation.", true);
    }
  }

  /** Leaving the page: deletes waiting for their undo window happen now. */
  flushDeletes() {
    for (const [id, timer] of this.deleting) {
      clearTimeout(timer);
      this.api.deleteBeacon(id);
    }
    this.deleting.clear();
  }

  startRename(id) {
    const item = this.items.get(id);
    if (!item) return;
    const a = item.li.querySelector(".conv-link");
    const input = el("input", "conv-rename");
    input.value = item.conv.title || "";
    input.maxLength = 200;
    input.setAttribute("aria-label", "New name");
    a.hidden = true;
    item.li.classList.add("renaming");
    a.after(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      input.remove();
      a.hidden = false;
      item.li.classList.remove("renaming");
      a.focus();
      if (save && title && title !== item.conv.title) {
        item.conv.title = title;
        this.paint(item);
        await this.patch(id, { title }, "Could not rename the conversation.");
      }
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
  }

  // Menu ------------------------------------------------------------------

  openMenu(id, anchor) {
    this.closeMenu();
    const item = this.items.get(id);
    if (!item) return;
    const archived = this.view === "archived";
    const menu = el("div", "menu conv-menu");
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", `Options for ${item.conv.title || "New chat"}`);
    const entries = [
      ["Rename", () => this.startRename(id)],
      [item.conv.pinned ? "Unpin" : "Pin to top", () => this.togglePin(id)],
      [archived ? "Restore from archive" : "Archive", () => this.archive(id, !archived)],
      ["Export as Markdown", () => this.api.download(id, "md")],
      ["Export as JSON", () => this.api.download(id, "json")],
      ["Share link…", () => this.onShare(id)],
      ["Delete", () => this.remove(id), "danger"],
    ];
    for (const [label, run, extra] of entries) {
      const entry = el("button", `menu-item${extra ? ` ${extra}` : ""}`, label);
      entry.type = "button";
      entry.setAttribute("role", "menuitem");
      entry.tabIndex = -1;
      entry.addEventListener("click", () => {
        this.closeMenu(label !== "Rename" && label !== "Share link…" && label !== "Delete");
        run();
      });
      menu.append(entry);
    }
    this.menu = menu;
    this.menuFor = id;
    showMenu(menu, anchor, (refocus) => this.closeMenu(refocus), { alignRight: true });
  }

  closeMenu(refocus = false) {
    if (!this.menu) return;
    this.menu.remove();
    this.menu = null;
    const item = this.items.get(this.menuFor);
    item?.li.querySelector(".conv-menu-btn").setAttribute("aria-expanded", "false");
    if (refocus) item?.li.querySelector(".conv-link").focus();
    this.menuFor = null;
  }

  // Events ----------------------------------------------------------------

  onClick(event) {
    const li = event.target.closest(".conv-item");
    if (!li) return;
    const id = li.dataset.id;
    const menuBtn = event.target.closest("button[data-action=menu]");
    if (menuBtn) {
      event.preventDefault();
      if (this.menu && this.menuFor === id) this.closeMenu();
      else this.openMenu(id, menuBtn);
      return;
    }
    const link = event.target.closest("a.conv-link");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    this.onOpen(id);
  }

  onKey(event) {
    const li = event.target.closest(".conv-item");
    if (!li || event.target.classList.contains("conv-rename")) return;
    const links = [...this.list.querySelectorAll(".conv-link")];
    const link = li.querySelector(".conv-link");
    const at = links.indexOf(link);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (event.key === "ArrowUp" && at === 0) {
        this.search.focus();
        return;
      }
      this.focusItem(at + (event.key === "ArrowDown" ? 1 : -1));
      if (event.key === "ArrowDown" && at >= links.length - 3) this.loadMore();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      this.focusItem(event.key === "Home" ? 0 : links.length - 1);
    } else if (event.key === "ArrowRight" && event.target === link) {
      event.preventDefault();
      li.querySelector(".conv-menu-btn").focus();
    } else if (event.key === "ArrowLeft" && event.target.classList.contains("conv-menu-btn")) {
      event.preventDefault();
      link.focus();
    } else if (event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
      event.preventDefault();
      this.openMenu(li.dataset.id, li.querySelector(".conv-menu-btn"));
    } else if (event.key === "F2") {
      event.preventDefault();
      this.startRename(li.dataset.id);
    } else if (event.key === "Delete") {
      event.preventDefault();
      this.remove(li.dataset.id);
    }
  }
}
