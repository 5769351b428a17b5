// The model picker: each model with its price per million input/output tokens, and beside the
// picker the chosen one's context window and what it can do (vision, reasoning, simulated).

import { formatContext, formatPrice } from "grokweb/estimate";
import { formatInt } from "grokweb/format";

/** The option text: name, then the price per million tokens in and out. */
export function modelLabel(model, { mixed = false } = {}) {
  const price = model.price || {};
  const sim = model.simulated && mixed ? " (simulated)" : "";
  return `${model.name}${sim} · ${formatPrice(price.input)} in / ${formatPrice(price.output)} out per 1M`;
}

/** Badges for the chosen model: [text, class, title]. */
export function modelBadges(model) {
  const badges = [[`${formatContext(model.context_window)} context`, "badge-ctx",
    `Reads up to ${formatInt(model.context_window)} tokens`]];
  if (model.vision) badges.push(["vision", "badge-vision", "Reads images"]);
  if (model.reasoning) badges.push(["reasoning", "badge-reasoning", "Thinks before it answers (reasoning tokens are billed as output)"]);
  if (model.simulated) badges.push(["simulated", "badge-sim", "Answers come from the built-in emulator, not a real model"]);
  return badges;
}

export function renderModelInfo(node, model) {
  node.replaceChildren();
  if (!model) return;
  const price = model.price || {};
  const prices = document.createElement("span");
  prices.className = "model-price";
  prices.textContent = `${formatPrice(price.input)} / ${formatPrice(price.output)} per 1M`;
  prices.title = `Per million tokens: ${formatPrice(price.input)} input (${formatPrice(price.cached_input)} cached), ${formatPrice(price.output)} output`;
  node.append(prices);
  for (const [text, cls, title] of modelBadges(model)) {
    const badge = document.createElement("span");
    badge.className = `badge ${cls}`;
    badge.textContent = text;
    badge.title = title;
    node.append(badge);
  }
}
