// The conversation list: newest first, searchable, paged, live titles.

const SEARCH_DELAY_MS = 250;

export class Sidebar {
  constructor({ api, list, empty, more, search, onOpen, onDeleted, toast }) {
    this.api = api;
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.search = search;
    this.onOpen = onOpen;
    this.onDeleted = onDeleted;
    this.toast = toast;
    this.items = new Map(); // id -> {conv, li}
    this.next = null;
    this.query = "";
    this.activeId = null;
    this.loading = 0;

    let timer = 0;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.load(search.value.trim()), SEARCH_DELAY_MS);
    });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && search.value) {
        search.value = "";
        this.load("");
      }
    });
    more.addEventListener("click", () => this.loadMore());
    list.addEventListener("click", (event) => this.onClick(event));
  }

  async load(query = this.query) {
    this.query = query;
    const ticket = ++this.loading;
    let page;
    try {
      page = await this.api.conversations(query);
    } catch (err) {
      if (ticket === this.loading) this.toast(err.message || "Could not load your conversations.", true);
      return;
    }
    if (ticket !== this.loading) return; // a newer search answered first
    this.items.clear();
    this.list.replaceChildren();
    for (const conv of page.results) this.add(conv, false);
    this.next = page.next;
    this.refresh();
  }

  async loadMore() {
    if (!this.next) return;
    const ticket = this.loading;
    this.more.disabled = true;
    try {
      const page = await this.api.conversations(this.query, this.next);
      if (ticket !== this.loading) return;
      for (const conv of page.results) if (!this.items.has(conv.id)) this.add(conv, false);
      this.next = page.next;
    } catch (err) {
      this.toast(err.message || "Could not load more conversations.", true);
    } finally {
      this.more.disabled = false;
      this.refresh();
    }
  }

  add(conv, atTop) {
    const li = document.createElement("li");
    li.className = "conv-item";
    li.dataset.id = conv.id;
    const a = document.createElement("a");
    a.className = "conv-link";
    a.href = `/c/${conv.id}/`;
    const del = document.createElement("button");
    del.type = "button";
    del.className = "icon-btn conv-delete";
    del.dataset.action = "delete";
    del.setAttribute("aria-label", "Delete conversation");
    del.title = "Delete";
    del.textContent = "×";
    li.append(a, del);
    const item = { conv: { ...conv }, li };
    this.items.set(conv.id, item);
    this.paint(item);
    if (atTop) this.list.prepend(li);
    else this.list.append(li);
    return item;
  }

  paint(item) {
    const a = item.li.querySelector(".conv-link");
    const title = item.conv.title || "New chat";
    a.textContent = title;
    a.title = title;
    if (item.conv.pinned) {
      const pin = document.createElement("span");
      pin.className = "conv-pin";
      pin.textContent = "★";
      pin.setAttribute("aria-label", "Pinned");
      a.prepend(pin);
    }
    item.li.classList.toggle("active", item.conv.id === this.activeId);
    if (item.conv.id === this.activeId) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }

  refresh() {
    this.empty.hidden = this.items.size > 0;
    this.empty.textContent = this.query ? "No conversations match." : "No conversations yet.";
    this.more.hidden = !this.next;
  }

  setActive(id) {
    this.activeId = id;
    for (const item of this.items.values()) this.paint(item);
  }

  /** conversation.created: a new chat from this tab or another. */
  created(conv) {
    if (this.items.has(conv.id) || this.query) return;
    this.add(conv, true);
    this.refresh();
  }

  /** conversation.updated: a new title or other change. */
  updated(conv) {
    const item = this.items.get(conv.id);
    if (!item) return;
    item.conv = { ...item.conv, ...conv };
    this.paint(item);
  }

  /** Activity in a conversation: it moves to the top (the list is newest first). */
  touched(id) {
    const item = this.items.get(id);
    if (item && this.list.firstChild !== item.li && !item.conv.pinned) this.list.prepend(item.li);
  }

  title(id) {
    return this.items.get(id)?.conv.title || "";
  }

  async onClick(event) {
    const li = event.target.closest(".conv-item");
    if (!li) return;
    const id = li.dataset.id;
    if (event.target.closest("button[data-action=delete]")) {
      event.preventDefault();
      const title = this.title(id) || "this conversation";
      if (!window.confirm(`Delete “${title}”? This cannot be undone.`)) return;
      try {
        await this.api.deleteConversation(id);
      } catch (err) {
        this.toast(err.message || "Could not delete the conversation.", true);
        return;
      }
      li.remove();
      this.items.delete(id);
      this.refresh();
      this.onDeleted(id);
      return;
    }
    const link = event.target.closest("a.conv-link");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    this.onOpen(id);
  }
}
