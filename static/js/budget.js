// Budgets and limits in the composer area: "remaining this month" (GET /api/me/budget/),
// the 80% warning, and refusals (budget_exceeded, rate_limited) that stay visible
// above the message box instead of a passing toast.

import { formatInt } from "grokweb/format";

function money(text) {
  const value = Number(text);
  // Cents when there are any; tiny amounts (fractions of a cent) keep a few digits.
  if (value >= 0.01 || value === 0) return value.toFixed(2);
  return value.toFixed(6);
}

/** "1 Dec" from the server's `resets_at`, read as written (the server's calendar, not the browser's). */
function resetLabel(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
  if (!m) return "";
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return day.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

/** One line of text for a budget object from /api/me/budget/ (null: no budget applies). */
export function budgetText(b) {
  if (!b) return "";
  const left = [];
  if (b.remaining_usd !== null && b.remaining_usd !== undefined) left.push(`$${money(b.remaining_usd)}`);
  if (b.remaining_tokens !== null && b.remaining_tokens !== undefined) {
    left.push(`${formatInt(b.remaining_tokens)} tokens`);
  }
  if (b.exceeded) {
    const reset = resetLabel(b.resets_at);
    return reset ? `Your monthly budget is used up · starts afresh on ${reset}` : "Your monthly budget is used up";
  }
  const text = `${left.join(" · ")} left this month`;
  return b.warning ? `${Math.floor(b.fraction * 100)}% of your monthly budget used · ${text}` : text;
}

export class BudgetLine {
  constructor(node, api) {
    this.node = node;
    this.api = api;
    this.seq = 0;
  }

  async refresh() {
    if (!this.node) return;
    const seq = ++this.seq;
    let body;
    try {
      body = await this.api.myBudget();
    } catch {
      return; // keep what is shown
    }
    if (seq !== this.seq) return;
    const b = body && body.budget;
    this.node.hidden = !b;
    if (!b) return;
    this.node.textContent = budgetText(b);
    this.node.classList.toggle("is-warning", !!b.warning && !b.exceeded);
    this.node.classList.toggle("is-exceeded", !!b.exceeded);
    this.node.title = b.source === "user" ? "Your own monthly budget" : `The ${b.source.replace(/^group:/, "")} group's monthly budget`;
  }
}

/** The notice above the composer for refusals a person must act on. */
export class ComposerNotice {
  constructor(node) {
    this.node = node;
    this.timer = 0;
    this.text = node ? node.querySelector(".notice-text") : null;
    const close = node ? node.querySelector(".notice-close") : null;
    if (close) close.addEventListener("click", () => this.hide());
  }

  /** True when the error was shown here (budget_exceeded, rate_limited). */
  show(frame, text) {
    if (!this.node || !["budget_exceeded", "rate_limited"].includes(frame.code)) return false;
    clearInterval(this.timer);
    this.node.dataset.code = frame.code;
    const message = text;
    this.text.textContent = message;
    this.node.hidden = false;
    const retry = Number(frame.retry_after);
    if (frame.code === "rate_limited" && retry > 0 && /try again in \d+ s/i.test(message)) {
      const until = Date.now() + retry * 1000;
      const tick = () => {
        const left = Math.ceil((until - Date.now()) / 1000);
        if (left <= 0) {
          this.hide();
          return;
        }
        this.text.textContent = `${message.replace(/\s*try again in \d+ s\.?$/i, "").replace(/;$/, ".")} You can send again in ${left} s.`;
      };
      tick();
      this.timer = setInterval(tick, 1000);
    }
    return true;
  }

  hide() {
    clearInterval(this.timer);
    if (this.node) this.node.hidden = true;
  }
}
