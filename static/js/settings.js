// The chat settings panel: a preset, the system prompt and the parameters, each parameter shown
// only for models that take it, with that model's limits (GET /api/models/ `params`). A new chat
// sends them with its first message; an open chat saves changes as they are made (PATCH).
// Presets: the team's (published by staff) and one's own; "Save as preset" keeps the current
// model, system prompt and parameters under a name.

// Relative, not "grokweb/format": the node tests (tests/js) import this module too.
import { formatNumber } from "./format.js";

const NAMES = ["temperature", "top_p", "max_tokens", "reasoning_effort"];
const SAVE_DELAY_MS = 600;

/** The values to send: only what the model takes, empty fields left out, numbers as numbers. */
export function paramValues(raw, spec) {
  const out = {};
  for (const name of NAMES) {
    const value = raw[name];
    if (!spec || !(name in spec) || value === "" || value === undefined || value === null) continue;
    if (name === "reasoning_effort") {
      if (spec[name].choices.includes(value)) out[name] = value;
      continue;
    }
    const number = Number(value);
    if (Number.isFinite(number)) out[name] = name === "max_tokens" ? Math.round(number) : number;
  }
  return out;
}

/** A sentence for the first value outside the model's limits, or "" when all fit. */
export function paramProblem(values, spec) {
  for (const [name, value] of Object.entries(values)) {
    const limits = spec[name];
    if (!limits || limits.choices) continue;
    if (value < limits.min || value > limits.max) {
      return `${name.replace("_", " ")} must be between ${formatNumber(limits.min)} and ${formatNumber(limits.max)}.`;
    }
  }
  return "";
}

export class ChatSettings {
  constructor({ root, toggle, api, staff, onChange, onPreset, toast }) {
    this.root = root;
    this.toggle = toggle;
    this.api = api;
    this.staff = staff;
    this.onChange = onChange || (() => {});
    this.onPreset = onPreset || (() => {});
    this.toast = toast || (() => {});
    this.model = null;
    this.conversationId = null;
    this.presets = [];
    this.loadedFor = null; // the conversation whose stored settings the panel shows (null: a new chat's draft)
    this.saveTimer = 0;
    const q = (sel) => root.querySelector(sel);
    this.el = {
      scope: q("[data-settings=scope]"),
      preset: q("#preset"),
      presetSave: q("#preset-save"),
      presetDelete: q("#preset-delete"),
      presetNew: q("#preset-new"),
      presetName: q("#preset-name"),
      presetTeam: q("#preset-team"),
      presetTeamWrap: q("#preset-team-wrap"),
      presetCreate: q("#preset-create"),
      presetCancel: q("#preset-cancel"),
      system: q("#system-prompt"),
      status: q("#settings-status"),
    };
    this.inputs = Object.fromEntries(NAMES.map((n) => [n, q(`#p-${n}`)]));
    this.el.presetTeamWrap.hidden = !staff;

    toggle.addEventListener("click", () => this.show(root.hidden));
    this.el.system.addEventListener("input", () => this.changed());
    for (const input of Object.values(this.inputs)) {
      input.addEventListener("input", () => this.changed());
      input.addEventListener("change", () => this.changed());
    }
    this.el.preset.addEventListener("change", () => this.applyPreset(this.el.preset.value));
    this.el.presetSave.addEventListener("click", () => {
      this.el.presetNew.hidden = false;
      this.el.presetName.focus();
    });
    this.el.presetCancel.addEventListener("click", () => {
      this.el.presetNew.hidden = true;
    });
    this.el.presetCreate.addEventListener("click", () => this.savePreset());
    this.el.presetName.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.savePreset();
      }
    });
    this.el.presetDelete.addEventListener("click", () => this.deletePreset());
  }

  show(open) {
    this.root.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      this.loadStored();
      this.loadPresets();
    }
  }

  /** The model the chat will use: parameters it does not take are hidden (and not sent). */
  setModel(model) {
    this.model = model;
    const spec = (model && model.params) || {};
    for (const name of NAMES) {
      const input = this.inputs[name];
      const limits = spec[name];
      const wrap = input.closest("[data-param]");
      wrap.hidden = !limits;
      if (!limits) continue;
      const hint = wrap.querySelector(".param-limits");
      if (limits.choices) {
        const current = input.value;
        input.replaceChildren(new Option("Default", ""), ...limits.choices.map((c) => new Option(c, c)));
        input.value = limits.choices.includes(current) ? current : "";
      } else {
        input.min = String(limits.min);
        input.max = String(limits.max);
        input.step = String(limits.step);
        if (hint) hint.textContent = `${formatNumber(limits.min)}–${formatNumber(limits.max)}`;
      }
    }
    this.onChange();
  }

  /** Another conversation (null: a new chat) is open: a new chat starts from a clean panel. */
  setConversation(id) {
    clearTimeout(this.saveTimer);
    if (id && id === this.conversationId) return; // "New chat" again: a clean panel again
    const wasNew = this.conversationId === null;
    this.conversationId = id;
    this.el.scope.textContent = id ? "for this chat" : "for the new chat";
    if (id && wasNew && this.loadedFor === null) {
      this.loadedFor = id; // the new chat just got its id: what the panel shows is what was sent
      return;
    }
    this.loadedFor = id ? undefined : null;
    this.fill("", {});
    this.el.preset.value = "";
    this.say("");
    if (id && !this.root.hidden) this.loadStored();
  }

  /** The conversation's stored settings, as its snapshot brought them (no request of its own). */
  fromSnapshot(conversation) {
    if (!conversation || conversation.id !== this.conversationId || !("params" in conversation)) return;
    if (this.loadedFor === conversation.id) return;
    this.loadedFor = conversation.id;
    this.fill(conversation.system_prompt || "", conversation.params || {});
  }

  async loadStored() {
    const id = this.conversationId;
    if (!id || this.loadedFor === id) return;
    try {
      const conversation = await this.api.conversation(id);
      if (id !== this.conversationId) return;
      this.loadedFor = id;
      this.fill(conversation.system_prompt || "", conversation.params || {});
    } catch (err) {
      this.say(err.message || "Could not load this chat's settings.");
    }
  }

  fill(systemPrompt, params) {
    this.el.system.value = systemPrompt;
    for (const name of NAMES) this.inputs[name].value = params[name] ?? "";
    this.setModel(this.model);
  }

  systemPrompt() {
    return this.el.system.value.trim();
  }

  params() {
    const raw = Object.fromEntries(NAMES.map((n) => [n, this.inputs[n].value]));
    return paramValues(raw, this.model && this.model.params);
  }

  /** A sentence when a value is outside the model's limits (the send waits until it is fixed). */
  problem() {
    return paramProblem(this.params(), (this.model && this.model.params) || {});
  }

  /** The reply's longest length: the max_tokens asked for, else null. */
  maxTokens() {
    return this.params().max_tokens ?? null;
  }

  changed() {
    const problem = this.problem();
    for (const name of NAMES) {
      const input = this.inputs[name];
      input.setAttribute("aria-invalid", String(!!problem && problem.startsWith(name.replace("_", " "))));
    }
    this.say(problem);
    this.onChange();
    if (!this.conversationId || this.loadedFor !== this.conversationId) return;
    clearTimeout(this.saveTimer);
    if (problem) return;
    this.saveTimer = setTimeout(() => this.saveStored(), SAVE_DELAY_MS);
  }

  async saveStored() {
    const id = this.conversationId;
    try {
      await this.api.patchConversation(id, { system_prompt: this.systemPrompt(), params: this.params() });
      if (id === this.conversationId) this.say("Saved for this chat.");
    } catch (err) {
      this.say(err.message || "Could not save this chat's settings.");
    }
  }

  say(text) {
    this.el.status.textContent = text;
  }

  // Presets ---------------------------------------------------------------------

  async loadPresets() {
    try {
      this.presets = await this.api.presets();
    } catch {
      this.presets = [];
    }
    this.renderPresets();
  }

  renderPresets(selected = this.el.preset.value) {
    const select = this.el.preset;
    const options = [new Option("None", "")];
    for (const preset of this.presets) {
      const label = `${preset.name}${preset.team ? " (team)" : ""}${preset.available ? "" : " — its model is not available to you"}`;
      options.push(new Option(label, preset.id));
    }
    select.replaceChildren(...options);
    select.value = this.presets.some((p) => p.id === selected) ? selected : "";
    this.el.presetDelete.hidden = !this.current()?.editable;
  }

  current() {
    return this.presets.find((p) => p.id === this.el.preset.value) || null;
  }

  applyPreset(id) {
    const preset = this.presets.find((p) => p.id === id);
    this.el.presetDelete.hidden = !preset?.editable;
    if (!preset) return;
    if (preset.available && preset.model) this.onPreset(preset.model);
    this.el.system.value = preset.system_prompt;
    for (const name of NAMES) this.inputs[name].value = preset.params[name] ?? "";
    this.setModel(this.model);
    this.changed();
    this.say(`Preset “${preset.name}” applied${preset.available ? "" : " (its model is not available to you: the chat keeps its own)"}.`);
  }

  async savePreset() {
    const name = this.el.presetName.value.trim();
    if (!name) {
      this.el.presetName.focus();
      return;
    }
    if (!this.model) return;
    const body = { name, model: this.model.slug, system_prompt: this.systemPrompt(), params: this.params(),
                   team: this.staff && this.el.presetTeam.checked };
    try {
      const made = await this.api.createPreset(body);
      this.el.presetNew.hidden = true;
      this.el.presetName.value = "";
      this.el.presetTeam.checked = false;
      await this.loadPresets();
      this.renderPresets(made.id);
      this.say(`Saved as “${made.name}”${made.team ? " for the whole team" : ""}.`);
    } catch (err) {
      this.say(err.message || "Could not save the preset.");
    }
  }

  async deletePreset() {
    const preset = this.current();
    if (!preset || !preset.editable) return;
    if (!window.confirm(`Delete the preset “${preset.name}”${preset.team ? " for everyone" : ""}?`)) return;
    try {
      await this.api.deletePreset(preset.id);
      await this.loadPresets();
      this.renderPresets("");
      this.say(`Deleted “${preset.name}”.`);
    } catch (err) {
      this.say(err.message || "Could not delete the preset.");
    }
  }
}

/** The custom-instructions dialog (user menu): every new chat starts with them. */
export class InstructionsDialog {
  constructor(dialog, api, toast) {
    this.dialog = dialog;
    this.api = api;
    this.toast = toast;
    this.text = dialog.querySelector("#instructions-text");
    dialog.querySelector("#instructions-cancel").addEventListener("click", () => dialog.close());
    dialog.querySelector("#instructions-save").addEventListener("click", () => this.save());
  }

  async open() {
    // Read first, then show: what is typed is never overwritten by an answer arriving late.
    try {
      this.text.value = (await this.api.instructions()).custom_instructions;
    } catch (err) {
      this.toast(err.message || "Could not load your custom instructions.", true);
      return;
    }
    this.dialog.showModal();
    this.text.focus();
  }

  async save() {
    try {
      await this.api.setInstructions(this.text.value);
      this.dialog.close();
      this.toast("Custom instructions saved: new chats start with them.");
    } catch (err) {
      this.toast(err.message || "Could not save your custom instructions.", true);
    }
  }
}
