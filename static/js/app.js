// Wire-up: the socket feeds the store, the store drives the thread, the composer and
// the sidebar; navigation between conversations uses history.pushState (/c/<uuid>/).
// Keyboard shortcuts are listed in the "?" dialog (templates/chat/index.html).

import { ChatSocket } from "grokweb/socket";
import { Store } from "grokweb/store";
import { ThreadView } from "grokweb/render";
import { Composer } from "grokweb/composer";
import { AttachmentTray } from "grokweb/attachments";
import { Sidebar } from "grokweb/sidebar";
import { createApi } from "grokweb/api";
import { errorText, formatInt, uuid } from "grokweb/format";
import { BudgetLine, ComposerNotice } from "grokweb/budget";
import { ShareDialog } from "grokweb/share";
import { preloadHighlighter } from "grokweb/markdown";
import { ChatSettings, InstructionsDialog } from "grokweb/settings";
import { modelLabel, renderModelInfo } from "grokweb/picker";
import { estimateCost, formatUsd, promptTokens } from "grokweb/estimate";

performance.mark("grokweb:app"); // every module evaluated (bench/ui.py's breakdown)
const $ = (id) => document.getElementById(id);
const root = $("app");
const config = root.dataset;
const api = createApi(config.api || "/api/", config.loginUrl || "/accounts/login/");
const store = new Store();
const models = new Map(); // slug -> model from /api/models/
let estimateFrame = 0; // the cost estimate waits for the next animation frame (scheduleEstimate)
const MODEL_KEY = "grokweb.model";
const UUID_PATH = /^\/c\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i;

// Toasts: short notices for errors that belong to no message, and undo offers. The
// live region exists from the start, so screen readers announce what appears in it.
let toastTimer = 0;
const toastNode = $("toast");
function notify({ text, isError = false, action = null, timeout = 0 }) {
  const node = toastNode;
  node.replaceChildren();
  const span = document.createElement("span");
  span.textContent = text;
  node.append(span);
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "toast-action";
    button.textContent = action.label;
    button.addEventListener("click", () => {
      node.hidden = true;
      action.run();
    });
    node.append(button);
  }
  node.classList.toggle("error", isError);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.hidden = true;
  }, timeout || (action ? 6000 : isError ? 6000 : 3000));
}
function toast(text, isError = false) {
  notify({ text, isError });
}

// The socket ------------------------------------------------------------------

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.wsPath || "/ws/chat/"}`;
let bannerTimer = 0;
const socket = new ChatSocket(wsUrl, {
  onFrame,
  onOpen({ subscribed } = {}) {
    // The page's early socket may have asked for this conversation already.
    if (store.conversationId && subscribed !== store.conversationId) {
      socket.send({ type: "subscribe", conversation: store.conversationId });
    }
  },
  onStatus(status) {
    clearTimeout(bannerTimer);
    if (status === "open") {
      $("conn-banner").hidden = true;
    } else if (status === "reconnecting") {
      // Only show it when the outage is noticeable.
      bannerTimer = setTimeout(() => {
        $("conn-banner").hidden = false;
      }, 1200);
    }
  },
  onAuthLost() {
    location.assign(`${config.loginUrl}?next=${encodeURIComponent(location.pathname)}`);
  },
});

// Views -----------------------------------------------------------------------

const thread = new ThreadView({
  thread: $("thread"),
  scroller: $("messages"),
  empty: $("empty-state"),
  older: $("older"),
  store,
  models,
  actions: { regenerate, edit, switchTo, loadOlder, busy },
});

const tray = new AttachmentTray({
  root: $("att-tray"),
  button: $("attach"),
  input: $("attach-input"),
  dropZone: $("composer"),
  textarea: $("input"),
  base: config.api || "/api/",
  maxBytes: Number(config.attachmentMaxBytes) || 10 * 1024 * 1024,
  onChange: () => {
    composer.update();
    tray.advise(attachmentProblem());
    scheduleEstimate();
  },
});

/** What stops the attachments from going to the chosen model (no vision, too long), with a way out. */
function attachmentProblem() {
  const slug = selectedModel();
  const chosen = slug ? models.get(slug) : null;
  if (!chosen) return null;
  if (!chosen.vision && tray.hasImages()) {
    const alt = [...models.values()].find((m) => m.vision && m.default) || [...models.values()].find((m) => m.vision);
    return {
      text: `${chosen.name} cannot read images.${alt ? "" : " No model you may use reads images."}`,
      action: alt ? { label: `Use ${alt.name}`, run: () => { setModel(alt.slug); tray.advise(attachmentProblem()); } } : null,
    };
  }
  if (chosen.context_window && tray.tokens() > chosen.context_window) {
    return { text: `The attachments are about ${formatInt(tray.tokens())} tokens, more than ${chosen.name} reads (${formatInt(chosen.context_window)}).` };
  }
  return null;
}

const composer = new Composer({
  form: $("composer"),
  input: $("input"),
  button: $("send"),
  onSend: send,
  onStop: stop,
  onEditLast: () => thread.editLast(),
  attachments: tray,
});

const shareDialog = new ShareDialog($("share-dialog"), api, toast);

const sidebar = new Sidebar({
  api,
  list: $("conv-list"),
  empty: $("conv-empty"),
  more: $("conv-more"),
  search: $("search"),
  heading: $("conv-heading"),
  archivedToggle: $("show-archived"),
  toast,
  notify,
  onOpen: (id) => navigate(id),
  onDeleted: (id) => {
    if (id === store.conversationId) navigate(null, { replace: true });
  },
  onShare: (id) => shareDialog.open(id, sidebar.title(id)),
});

const budget = new BudgetLine($("budget-left"), api);
const notice = new ComposerNotice($("composer-notice"));

const picker = $("model");
const modelInfo = $("model-info");

const settings = new ChatSettings({
  root: $("chat-settings"),
  toggle: $("settings-toggle"),
  api,
  staff: config.staff === "1",
  toast,
  onChange: () => scheduleEstimate(),
  onPreset: (slug) => setModel(slug),
});
const instructions = new InstructionsDialog($("instructions-dialog"), api, toast);
$("open-instructions").addEventListener("click", () => {
  $("user-menu").open = false;
  instructions.open();
});

// The cost of the next message, estimated in the browser as one types (estimate.js) ----------

const costNode = $("cost-estimate");
const RESERVE_OUTPUT = Number(config.reserveOutput) || 16384;
function scheduleEstimate() {
  if (!estimateFrame) estimateFrame = requestAnimationFrame(showEstimate);
}
/** The prompt so far: the server's count for the latest reply when it has one, else the branch shown. */
function branchPrompt() {
  const history = store.order.map((id) => store.get(id)).filter((m) => m && m.role !== "system" && m.content);
  const last = history[history.length - 1];
  const usage = last && last.role === "assistant" && last.status === "complete" ? last.usage : null;
  if (usage && usage.prompt_tokens) {
    return { base: usage.prompt_tokens + (usage.completion_tokens || 0) + 4 };
  }
  return { history, systemPrompt: store.conversationId ? "" : settings.systemPrompt() };
}
function showEstimate() {
  estimateFrame = 0;
  const model = models.get(selectedModel());
  if (!model || !model.price) {
    costNode.textContent = "";
    return;
  }
  const prompt = promptTokens({ ...branchPrompt(), text: $("input").value, extra: tray.tokens() });
  const reply = settings.maxTokens() || RESERVE_OUTPUT;
  const estimate = estimateCost(model, prompt, reply);
  costNode.textContent = `≈ ${formatUsd(estimate.prompt)} to send (~${formatInt(prompt)} tokens)` +
    ` · up to ${formatUsd(estimate.worst)} with a ${formatInt(reply)}-token reply`;
}
$("input").addEventListener("input", scheduleEstimate);
store.onChange(() => scheduleEstimate());

// Sending ---------------------------------------------------------------------

const requests = new Map(); // request_id -> {kind, content}

function selectedModel() {
  return picker.value && models.has(picker.value) ? picker.value : undefined;
}

function send(content) {
  if (store.conversationId && !store.loaded) return false; // still loading
  if (store.streaming()) return false;
  const requestId = uuid();
  const paramProblem = settings.problem();
  if (paramProblem) {
    settings.show(true);
    toast(paramProblem, true);
    return false;
  }
  const frame = { type: "send", request_id: requestId, conversation: store.conversationId, content };
  const model = selectedModel();
  if (model) frame.model = model;
  const problem = attachmentProblem();
  if (problem) {
    tray.advise(problem);
    return false;
  }
  if (!store.conversationId) {
    // A new chat starts with the panel's system prompt and parameters (a chat already open saved them).
    const systemPrompt = settings.systemPrompt();
    if (systemPrompt) frame.system_prompt = systemPrompt;
    const params = settings.params();
    if (Object.keys(params).length) frame.params = params;
  }
  const attached = tray.take();
  if (attached.length) frame.attachments = attached.map((x) => x.server.id);
  requests.set(requestId, { kind: "send", content, attached });
  store.addPending(requestId, content);
  thread.scrollToBottom();
  composer.setBusy(true);
  notice.hide();
  socket.send(frame);
  return true;
}

function stop() {
  const reply = store.streaming();
  if (reply) socket.send({ type: "stop", message: reply.id });
}

function busy() {
  return !!store.streaming() || requests.size > 0;
}

function regenerate(messageId, modelSlug) {
  if (busy()) {
    toast("Wait for the current reply to finish, or stop it.");
    return;
  }
  const requestId = uuid();
  const frame = { type: "regenerate", request_id: requestId, message: messageId };
  const model = modelSlug || selectedModel();
  if (model) frame.model = model;
  requests.set(requestId, { kind: "regenerate" });
  composer.setBusy(true);
  socket.send(frame);
}

/** Edit a message you wrote: a new version (a sibling) and a new reply. */
function edit(messageId, content) {
  if (busy()) {
    toast("Wait for the current reply to finish, or stop it.");
    return false;
  }
  const requestId = uuid();
  requests.set(requestId, { kind: "edit", content });
  composer.setBusy(true);
  thread.scrollToBottom();
  socket.send({ type: "edit", request_id: requestId, message: messageId, content });
  return true;
}

// Branches: "‹ 2/3 ›" asks the server to show another version; it remembers the branch
// and tells every tab (conversation.updated with `leaf`), which then resubscribe.
let requestedLeaf = null;
async function switchTo(messageId, fromId) {
  if (busy()) {
    toast("Wait for the current reply to finish, or stop it.");
    return;
  }
  const id = store.conversationId;
  try {
    const conv = await api.switchBranch(id, messageId);
    thread.reveal(messageId, fromId);
    if (conv && conv.leaf) followLeaf(id, conv.leaf);
  } catch (err) {
    toast(err.message || "Could not show that version.", true);
  }
}

function followLeaf(conversationId, leaf) {
  if (conversationId !== store.conversationId || !leaf || leaf === store.leaf() || leaf === requestedLeaf) return;
  requestedLeaf = leaf;
  socket.send({ type: "subscribe", conversation: conversationId });
}

/** The page of messages before the oldest one shown (scrolling up). */
async function loadOlder() {
  const id = store.conversationId;
  const before = store.cursor;
  if (!id || !before) return;
  try {
    const page = await api.messages(id, before);
    store.applyHistory(id, before, page);
  } catch (err) {
    toast(err.message || "Could not load earlier messages.", true);
  }
}

// A gap in a reply's seq: ask for a fresh snapshot (at most one every 500 ms).
let lastResync = 0;
let resyncTimer = 0;
function resync() {
  if (!store.conversationId || resyncTimer) return;
  const wait = Math.max(0, lastResync + 500 - Date.now());
  resyncTimer = setTimeout(() => {
    resyncTimer = 0;
    lastResync = Date.now();
    if (store.conversationId) socket.send({ type: "subscribe", conversation: store.conversationId });
  }, wait);
}

// Frames from the server ------------------------------------------------------

function onFrame(frame) {
  switch (frame.type) {
    case "conversation.snapshot":
      requestedLeaf = null;
      if (showSnapshot(frame)) refreshUsage();
      break;
    case "conversation.created":
      sidebar.created(frame.conversation);
      break;
    case "conversation.updated":
      sidebar.updated(frame.conversation);
      if (store.applyConversation(frame.conversation)) setTitle(store.conversation.title);
      if (frame.conversation.id === store.conversationId) {
        if (frame.conversation.leaf) followLeaf(frame.conversation.id, frame.conversation.leaf);
        if ("title" in frame.conversation && Object.keys(frame.conversation).length <= 3) refreshUsage();
      }
      break;
    case "conversation.deleted":
      sidebar.deleted(frame.conversation);
      if (frame.conversation === store.conversationId) {
        toast("This conversation was deleted.");
        navigate(null, { replace: true });
      }
      break;
    case "message.created": {
      const ours = requests.delete(frame.request_id);
      if (ours) composer.setBusy(false);
      const result = store.applyCreated(frame);
      if (result === "adopted") {
        settings.setConversation(frame.conversation);
        history.replaceState({ id: frame.conversation }, "", `/c/${frame.conversation}/`);
        sidebar.setActive(frame.conversation);
        setTitle(sidebar.title(frame.conversation));
      }
      sidebar.touched(frame.conversation);
      if (result !== "ignored" && ours) thread.scrollToBottom();
      break;
    }
    case "message.delta":
      if (store.applyDelta(frame) === "gap") resync();
      break;
    case "message.waiting":
      store.applyWaiting(frame);
      break;
    case "message.done":
      store.applyDone(frame);
      refreshUsage();
      budget.refresh();
      break;
    case "message.error":
      store.applyError(frame);
      refreshUsage();
      budget.refresh();
      break;
    case "error":
      onError(frame);
      break;
    default:
      break; // newer servers may send more
  }
  composer.setStreaming(!!store.streaming());
}

/** A snapshot (or, `provisional`, the page that came with the HTML): the thread, title, settings and model. */
function showSnapshot(frame, provisional = false) {
  if (!store.applySnapshot(frame, { provisional })) return false;
  settings.fromSnapshot(frame.conversation);
  setTitle(frame.conversation.title);
  if (frame.conversation.model && models.has(frame.conversation.model)) setModel(frame.conversation.model, false);
  return true;
}

/**
 * The latest page of the conversation the page was opened on, carried in its HTML
 * (chat/paging.py `opening`): painted at once, without waiting for the websocket. Its
 * snapshot follows and is the truth (live text and seq); until then nothing can be sent.
 */
function takeOpening(id) {
  const node = document.getElementById("opening");
  if (!node) return null;
  node.remove(); // once: later navigation asks the socket
  try {
    const data = JSON.parse(node.textContent);
    return data && data.conversation && data.conversation.id === id ? data : null;
  } catch {
    return null;
  }
}

function onError(frame) {
  const text = errorText(frame.code, frame.detail);
  const request = frame.request_id ? requests.get(frame.request_id) : null;
  if (request) {
    requests.delete(frame.request_id);
    composer.setBusy(false);
    if (request.kind === "send" || request.kind === "edit") {
      if (request.kind === "send") {
        store.failPending(frame.request_id);
        tray.restore(request.attached); // still unsent on the server: send them again
      }
      // Give the text back so nothing typed is lost.
      const input = $("input");
      if (!input.value.trim()) {
        input.value = request.content;
        input.dispatchEvent(new Event("input"));
      }
    }
    if (notice.show(frame, text)) {
      if (frame.code === "budget_exceeded") budget.refresh();
    } else {
      toast(text, true);
    }
    return;
  }
  if (frame.code === "not_found" && store.conversationId && !store.loaded) {
    toast("That conversation could not be found.", true);
    navigate(null, { replace: true });
    return;
  }
  toast(text, true);
}

// Navigation ------------------------------------------------------------------

function idFromPath(pathname) {
  const m = UUID_PATH.exec(pathname);
  return m ? m[1].toLowerCase() : null;
}

// Usage totals of the open conversation, subtle in the top bar: fetched when it loads, when a
// reply ends and when its title is written (title calls are in the ledger too).
let usageSeq = 0;
function usdText(text) {
  const value = Number(text);
  if (value >= 1) return value.toFixed(2);
  return value >= 0.01 ? value.toFixed(4) : value.toFixed(6);
}
async function refreshUsage() {
  const node = $("conv-usage");
  const id = store.conversationId;
  const seq = ++usageSeq;
  if (!node) return;
  if (!id) {
    node.hidden = true;
    return;
  }
  try {
    const usage = await api.conversationUsage(id);
    if (seq !== usageSeq || id !== store.conversationId) return;
    node.textContent = `${formatInt(usage.tokens)} tokens · $${usdText(usage.cost_usd)}`;
    // The total counts every call of the chat, so say so: it is more than the replies' own figures.
    node.title = `This chat so far: ${usage.calls} upstream call${usage.calls === 1 ? "" : "s"} ` +
      "(replies, regenerations and the title), all billed to you";
    node.hidden = !usage.calls;
  } catch {
    node.hidden = true;
  }
}

function setTitle(title) {
  const text = title || "New chat";
  $("conv-title").textContent = text;
  document.title = store.conversationId && title ? `${title} · Grokweb` : "Grokweb";
}

function open(id) {
  requests.clear();
  composer.setBusy(false);
  store.reset(id);
  settings.setConversation(id);
  sidebar.setActive(id);
  setTitle(id ? sidebar.title(id) : "");
  if (!id) refreshUsage(); // hides it; an open chat's total comes with the subscribe's snapshot
  const first = id ? takeOpening(id) : null;
  if (first && showSnapshot(first, true)) {
    thread.flushNow(); // on screen with the first frame
    performance.mark("grokweb:opening-shown");
  }
  if (id && socket.open) socket.send({ type: "subscribe", conversation: id });
  composer.setStreaming(!!store.streaming());
  thread.scrollToBottom();
}

function navigate(id, { replace = false } = {}) {
  const url = id ? `/c/${id}/` : "/";
  if (location.pathname !== url) {
    if (replace) history.replaceState({ id }, "", url);
    else history.pushState({ id }, "", url);
  }
  open(id);
  closeSidebar();
  if (!id || window.matchMedia("(min-width: 801px)").matches) composer.focus();
}

window.addEventListener("popstate", () => open(idFromPath(location.pathname)));

$("new-chat").addEventListener("click", () => navigate(null));
$("brand").addEventListener("click", (event) => {
  if (event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(null);
});

// Sidebar drawer on narrow screens ----------------------------------------------

function openSidebar() {
  root.classList.add("sidebar-open");
  $("scrim").hidden = false;
  $("sidebar-toggle").setAttribute("aria-expanded", "true");
  $("search").focus({ preventScroll: true });
}
function closeSidebar() {
  root.classList.remove("sidebar-open");
  $("scrim").hidden = true;
  $("sidebar-toggle").setAttribute("aria-expanded", "false");
}
$("sidebar-toggle").addEventListener("click", openSidebar);
$("sidebar-close").addEventListener("click", closeSidebar);
$("scrim").addEventListener("click", closeSidebar);

// Keyboard shortcuts (listed in the "?" dialog) -------------------------------

const shortcuts = $("shortcuts-dialog");
function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
function focusSearch() {
  if (!window.matchMedia("(min-width: 801px)").matches) openSidebar();
  $("search").focus();
  $("search").select();
}
document.addEventListener("keydown", (event) => {
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (mod && !event.shiftKey && !event.altKey && key === "k") {
    event.preventDefault();
    focusSearch();
  } else if (mod && event.shiftKey && !event.altKey && key === "o") {
    event.preventDefault();
    navigate(null);
  } else if (event.key === "?" && !mod && !typing(event.target) && !document.querySelector("dialog[open]")) {
    event.preventDefault();
    shortcuts.showModal();
  } else if (event.key === "Escape" && !event.defaultPrevented && !document.querySelector("dialog[open]")) {
    if (root.classList.contains("sidebar-open")) {
      closeSidebar();
    } else if (store.streaming()) {
      event.preventDefault();
      stop();
    }
  }
});
$("show-shortcuts").addEventListener("click", () => {
  $("user-menu").open = false;
  shortcuts.showModal();
});
$("shortcuts-close").addEventListener("click", () => shortcuts.close());
$("export-all").addEventListener("click", () => {
  $("user-menu").open = false;
  api.download(null, "json");
});
$("skip-to-composer").addEventListener("click", (event) => {
  event.preventDefault();
  composer.focus();
});
document.addEventListener("click", (event) => {
  const menu = $("user-menu");
  if (menu.open && !menu.contains(event.target)) menu.open = false;
});

// Models ----------------------------------------------------------------------

function setModel(slug, remember = true) {
  if (!models.has(slug)) return;
  picker.value = slug;
  renderModelInfo(modelInfo, models.get(slug));
  settings.setModel(models.get(slug));
  scheduleEstimate();
  if (remember) {
    try {
      localStorage.setItem(MODEL_KEY, slug);
    } catch {
      /* private mode */
    }
  }
}

async function loadModels() {
  let list;
  try {
    list = await api.models();
  } catch {
    picker.replaceChildren(new Option("Models unavailable", ""));
    toast("Could not load the list of models.", true);
    return;
  }
  models.clear();
  picker.replaceChildren();
  // With a mix of real and emulated models, label the emulated ones in the list too;
  // the badge beside the picker always tells about the chosen one.
  const mixed = list.some((m) => m.simulated) && list.some((m) => !m.simulated);
  for (const m of list) {
    models.set(m.slug, m);
    const option = new Option(modelLabel(m, { mixed }), m.slug);
    option.title = `${m.slug} · ${formatInt(m.context_window)} token context`;
    picker.append(option);
  }
  if (!list.length) {
    picker.append(new Option("No models available", ""));
    picker.disabled = true;
    composer.setEnabled(false);
    toast("No models are available. Ask an admin to configure a provider.", true);
    return;
  }
  picker.disabled = false;
  let saved = null;
  try {
    saved = localStorage.getItem(MODEL_KEY);
  } catch {
    /* private mode */
  }
  const current = store.conversation?.model;
  const fallback = list.find((m) => m.default) || list[0];
  setModel(models.has(current) ? current : models.has(saved) ? saved : fallback.slug, false);
  thread.refreshAll(); // model names and reasoning flags in the thread
}

picker.addEventListener("change", () => {
  setModel(picker.value);
  tray.advise(attachmentProblem());
});

// Start -----------------------------------------------------------------------

const initial = (config.conversation || "").toLowerCase() || idFromPath(location.pathname);
history.replaceState({ id: initial }, "", location.pathname + location.search);
open(initial);
// The newest messages (when the HTML brought them) are on screen now: let the browser paint
// them before the socket, the models, the budget and the sidebar start their work.
if (store.order.length) await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
socket.connect();
loadModels();
budget.refresh();
sidebar.load("");
if (!initial) composer.focus();
// Code highlighting is not needed for the first paint: fetch it when the page is idle.
(window.requestIdleCallback || ((fn) => setTimeout(fn, 300)))(() => preloadHighlighter(), { timeout: 2000 });
