// What a message will cost before it is sent, worked out in the browser: no request per key.
// Tokens are estimated as the server's budget estimate does (gateways.wire.usage.prompt_tokens_for):
// 4 characters a token, 4 tokens of framing per message, 3 to prime the reply. Prices come once,
// with the model list (USD per million tokens, decimal strings).

export const CHARS_PER_TOKEN = 4;
export const MESSAGE_OVERHEAD = 4;
export const PRIMING = 3;

export function textTokens(text) {
  return text ? Math.ceil(text.length / CHARS_PER_TOKEN) : 0;
}

/** A message's tokens: its text, its framing and its attachments' own estimates. */
export function messageTokens(message) {
  const attached = (message.attachments || []).reduce((sum, a) => sum + (Number(a.tokens) || 0), 0);
  return MESSAGE_OVERHEAD + textTokens(message.content || "") + attached;
}

/**
 * The prompt the next message sends: the system prompt, the branch shown and the new text.
 * `history` is the branch as far as the page has it; `base` (optional) is a prompt size the server
 * counted for the latest reply (its usage), used when older messages are not loaded.
 */
export function promptTokens({ systemPrompt = "", history = [], text = "", extra = 0, base = null }) {
  let tokens = PRIMING;
  if (base !== null) {
    tokens = base;
  } else {
    if (systemPrompt.trim()) tokens += MESSAGE_OVERHEAD + textTokens(systemPrompt);
    for (const message of history) tokens += messageTokens(message);
  }
  return tokens + MESSAGE_OVERHEAD + textTokens(text) + extra;
}

/** USD for these many tokens at a price per million (a decimal string or number). */
export function cost(tokens, perMillion) {
  return (tokens * Number(perMillion || 0)) / 1_000_000;
}

/** The estimate beside the composer: the prompt now, and the worst case with a full-length reply. */
export function estimateCost(model, promptTokensCount, replyTokens) {
  const price = model.price || {};
  const prompt = cost(promptTokensCount, price.input);
  return { promptTokens: promptTokensCount, prompt, worst: prompt + cost(replyTokens, price.output), replyTokens };
}

export function formatUsd(value) {
  if (value === 0) return "$0";
  if (value >= 1) return `$${value.toFixed(2)}`;
  if (value >= 0.01) return `$${value.toFixed(3)}`;
  if (value >= 0.0001) return `$${value.toFixed(4)}`;
  return "<$0.0001";
}

/** "$0.20" per million, without needless zeros ("$3", "$0.075", "$0.05"). */
export function formatPrice(perMillion) {
  let text = Number(perMillion || 0).toFixed(3).replace(/0+$/, "");
  if (text.endsWith(".")) text = text.slice(0, -1);
  else if (/\.\d$/.test(text)) text += "0";
  return `$${text}`;
}

/** "2M", "256K", "131K" for a context window. */
export function formatContext(tokens) {
  if (tokens >= 1_000_000) return `${+(tokens / 1_000_000).toFixed(1)}M`;
  if (tokens >= 1000) return `${Math.round(tokens / 1000)}K`;
  return String(tokens);
}
