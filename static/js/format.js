// Pure formatting helpers: numbers, money, durations, friendly errors.

let int = null; // Intl.NumberFormat, made on first need: creating one costs ~20 ms of the page's start

/** 1234567 -> "1,234,567" (en-US grouping). */
export function formatInt(n) {
  const value = Number(n) || 0;
  if (Number.isSafeInteger(value)) return String(value).replace(/\B(?=(\d{3})+$)/g, ",");
  if (!int) int = new Intl.NumberFormat("en-US");
  return int.format(value);
}

/** A limit as written: 131072 -> "131,072", 0.01 -> "0.01" (no Intl: see `int`). */
export function formatNumber(n) {
  const text = String(Number(n) || 0);
  if (/e/i.test(text)) return text;
  const [whole, fraction] = text.split(".");
  return whole.replace(/\B(?=(\d{3})+$)/g, ",") + (fraction ? `.${fraction}` : "");
}

/** "0.0001230" -> "$0.000123"; keeps the server's exact decimal digits, drops trailing zeros. */
export function formatUsd(value) {
  if (value === null || value === undefined || value === "") return "";
  let text = String(value).trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (!Number.isFinite(n)) return "";
    text = n.toFixed(6);
  }
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  const [whole, frac = ""] = text.split(".");
  if (frac.length < 2 && (whole !== "0" || frac)) {
    return `$${whole}.${frac.padEnd(2, "0")}`;
  }
  return frac ? `$${whole}.${frac}` : `$${whole}`;
}

/** 3210 -> "3.2s"; 65000 -> "1m 5s". */
export function formatSeconds(ms) {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m ${Math.floor(s % 60)}s`;
}

/** "1,234 in · 567 out · 89 reasoning · $0.000123 · estimated" */
export function usageParts(usage) {
  if (!usage) return null;
  const images = usage.image_tokens ? ` (${formatInt(usage.image_tokens)} image)` : "";
  const parts = [`${formatInt(usage.prompt_tokens)} in${images}`, `${formatInt(usage.completion_tokens)} out`];
  if (usage.reasoning_tokens) parts.push(`${formatInt(usage.reasoning_tokens)} reasoning`);
  const cost = formatUsd(usage.cost_usd);
  if (cost) parts.push(cost);
  return parts;
}

const FRIENDLY = {
  bad_request: "That request could not be understood.",
  too_large: "That message is too long.",
  not_found: "That conversation could not be found.",
  rate_limited: "You have too many replies being written at once. Wait for one to finish, then try again.",
  budget_exceeded: "You have reached your usage budget. Ask an admin to raise it.",
  model_unavailable: "That model is not available right now. Pick another model.",
  upstream_auth: "The model provider rejected the server's API key. Ask an admin to check the provider settings.",
  upstream_forbidden: "The model provider refused the request (for example, the account has no credits left).",
  upstream_rate_limited: "The model provider is limiting requests right now. Try again in a moment.",
  upstream_unavailable: "The model provider could not be reached. Try again in a moment.",
  content_blocked: "The provider declined to answer this request under its content policy.",
  context_too_long: "This conversation is too long for the model. Start a new chat or pick a model with a larger context window.",
  timeout: "The model took too long to answer.",
  internal: "Something went wrong on our side.",
};
const GENERIC = "Something went wrong. Please try again.";

/** A message safe to show a person: the server's detail if it reads like prose, else a friendly one. */
export function errorText(code, detail) {
  const d = typeof detail === "string" ? detail.trim() : "";
  const looksRaw =
    !d ||
    d.length > 400 ||
    /Traceback|^\s*File "|Exception:|Error:\s*\{|^[{[]|<\/?[a-z]+[\s>]/im.test(d);
  if (!looksRaw) return d;
  return FRIENDLY[code] || GENERIC;
}

export const RETRYABLE = new Set(["rate_limited", "upstream_rate_limited", "upstream_unavailable", "timeout", "internal"]);

/** A UUID v4, also outside secure contexts (plain http on a LAN address). */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch {
      /* not a secure context */
    }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
