"""UI benchmark (issue 14): Chromium (Debian's, via Playwright) against the real stack.

    .venv/bin/python bench/ui.py            # full run, prints a markdown table
    .venv/bin/python bench/ui.py --quick    # fewer runs

Data is made through the ORM (manage.py shell) in a fresh SQLite database; replies come
from the emulator slowed to 400 tokens/s. Measured in the page (performance.now(), from
navigation start):

1. navigation -> the newest message painted, conversations of 10 / 1,000 / 10,000
   messages (~2 KB each), and when each step before it happened (the HTML received and
   parsed, the app evaluated, the newest message in the DOM, the socket open, the snapshot in);
2. long tasks (PerformanceObserver "longtask", > 50 ms) while a 5,000-token reply
   streams at 400 tokens/s, in a new chat and at the end of a 1,000-message one;
3. a sidebar of 5,000 conversations: its first row painted, and scrolling to the end
   (every page loaded and laid out);
4. page weight (issue 15, `--parts weight`): the JS and CSS the chat page fetches (the
   highlight worker's modules included), each file's body as received, gzipped at level 9
   and summed, in a fresh browser context: a new chat once idle (the worker has preloaded
   highlight.js), then conversations whose reply has a Python block, math, a rare language.
   KaTeX's fonts are counted apart (they are not JS or CSS).
"""
from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import manage, running_stack, session_cookie

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
MODEL = "grok-4-1-fast-non-reasoning"
RATE = 400  # tokens per second
TEXT = ("The harbor master logged every vessel that came in through the breakwater, noting the tide, "
        "the wind and the cargo, and the ledger grew thicker each season. ") * 12

SEED_CHAT = """
import uuid
from accounts.models import User
from chat.models import Conversation, Message
owner = User.objects.get(username='bench')
conv = Conversation.objects.create(owner=owner, title='{count} messages')
rows, parent = [], None
for i in range({count}):
    role = 'user' if i % 2 == 0 else 'assistant'
    m = Message(id=uuid.uuid4(), conversation=conv, parent_id=parent, role=role, status='complete',
                content={text!r} + ' [message ' + str(i) + ']', model_slug='' if role == 'user' else {model!r})
    rows.append(m)
    parent = m.id
Message.objects.bulk_create(rows, batch_size=1000)
conv.current_leaf_id = parent
conv.save()
print(conv.id)
"""

SEED_SIDEBAR = """
import datetime, uuid
from django.utils import timezone
from accounts.models import User
from chat.models import Conversation
owner = User.objects.get(username='bench')
now = timezone.now()
rows = [Conversation(owner=owner, title='Sidebar chat %d' % i) for i in range({count})]
Conversation.objects.bulk_create(rows, batch_size=1000)
for i, c in enumerate(rows):
    c.updated_at = now - datetime.timedelta(hours=3 * i)
Conversation.objects.bulk_update(rows, ['updated_at'], batch_size=1000)
"""

# Stamps the first animation frame after `selector` shows up containing `text` (the paint).
WATCH = """
(() => {
  const [selector, text, name] = %s;
  const tick = () => {
    const node = document.querySelector(selector);
    if (node && (!text || node.textContent.includes(text))) {
      requestAnimationFrame(() => { window[name] = performance.now(); });
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__long = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__long.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
})();
"""


def seed_chat(env: dict[str, str], count: int) -> str:
    return manage(env, "shell", "-c", SEED_CHAT.format(count=count, text=TEXT, model=MODEL)).strip().splitlines()[-1]


# When the page's websocket opened and brought its first frame (the snapshot), for the breakdown.
SOCKET_PROBE = """
(() => {
  const Native = window.WebSocket;
  window.__socket = {};
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    const at = (name) => () => { window.__socket[name] ??= performance.now(); };
    window.__socket.created ??= performance.now();
    ws.addEventListener("open", at("open"));
    ws.addEventListener("message", at("first_frame"));
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""
# Each step of opening, ms from navigation start (performance marks from static/js/app.js).
STEPS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mark = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
  return { html: nav.responseEnd, parsed: nav.domInteractive, app: mark('grokweb:app'),
           shown: mark('grokweb:opening-shown'), socket_open: window.__socket.open ?? null,
           snapshot: window.__socket.first_frame ?? null, painted: window.__painted };
}"""
BREAKDOWN = (("html", "HTML received"), ("parsed", "HTML parsed"), ("app", "app evaluated"),
             ("shown", "newest in the DOM"), ("socket_open", "socket open"), ("snapshot", "snapshot in"))


def open_time(context: Any, url: str, marker: str) -> dict[str, float | None]:
    """Navigation -> the newest message painted, and when each step of the way happened."""
    page = context.new_page()
    page.add_init_script(SOCKET_PROBE)
    page.add_init_script(WATCH % repr(["#thread article.msg:last-child", marker, "__painted"]))
    page.goto(url)
    page.wait_for_function("() => window.__painted !== undefined", timeout=60_000)
    steps = page.evaluate(STEPS)
    page.close()
    return steps


def median_of(runs: list[dict[str, float | None]], key: str) -> str:
    values = [float(v) for r in runs if (v := r.get(key)) is not None]
    return f"{statistics.median(values):.0f}" if values else "—"


def stream_tasks(context: Any, url: str) -> dict[str, float]:
    page = context.new_page()
    page.add_init_script(WATCH % repr(["#thread", "", "__ready"]))
    page.goto(url)
    page.wait_for_function("() => window.__ready !== undefined && !document.querySelector('#model').disabled")
    page.select_option("#model", MODEL)
    page.wait_for_timeout(500)
    start = float(page.evaluate("performance.now()"))
    page.fill("#input", f"A long answer, please. [[tokens=5000]] {time.time()}")
    page.press("#input", "Enter")
    page.wait_for_selector("#thread article.msg-assistant:last-child[data-status=streaming]")
    page.wait_for_selector("#thread article.msg-assistant:last-child[data-status=complete]", timeout=120_000)
    end = float(page.evaluate("performance.now()"))
    tasks = [(s - start, d) for s, d in page.evaluate("window.__long") if s >= start]
    page.close()
    durations = [d for _, d in tasks]
    return {"seconds": (end - start) / 1000, "longest": max(durations, default=0.0), "total": sum(durations),
            "count": len(durations), "at": ", ".join(f"{d:.0f} ms at {s / 1000:.1f} s" for s, d in tasks)}


def sidebar(context: Any, web: str, count: int) -> dict[str, float]:
    page = context.new_page()
    page.add_init_script(WATCH % repr(["#conv-list .conv-item", "", "__painted"]))
    page.goto(web + "/")
    page.wait_for_function("() => window.__painted !== undefined", timeout=60_000)
    first = float(page.evaluate("window.__painted"))
    elapsed, rows = page.evaluate("""async () => {
        const nav = document.querySelector('.conv-nav');
        const more = document.querySelector('#conv-more');
        const start = performance.now();
        while (!more.hidden) {  // the last page is in when there is nothing more to load
          nav.scrollTop = nav.scrollHeight;
          await new Promise((r) => requestAnimationFrame(r));
        }
        nav.scrollTop = nav.scrollHeight;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        return [performance.now() - start, document.querySelectorAll('#conv-list .conv-item').length];
    }""")
    page.close()
    assert rows >= count, rows
    return {"first": first, "to_end": float(elapsed)}


SEED_REPLY = """
import uuid
from accounts.models import User
from chat.models import Conversation, Message
owner = User.objects.get(username='bench')
conv = Conversation.objects.create(owner=owner, title='weight')
q = Message.objects.create(id=uuid.uuid4(), conversation=conv, role='user', status='complete', content='Show me.')
a = Message.objects.create(id=uuid.uuid4(), conversation=conv, parent=q, role='assistant', status='complete',
                           content={content!r}, model_slug={model!r})
conv.current_leaf_id = a.id
conv.save()
print(conv.id)
"""
WEIGHT_REPLIES = {
    "a Python block": ("```python\ndef f(x):\n    return x * 2\n```\n", "code.language-python.hljs"),
    "math ($$\\frac{a}{b}$$ and $x^2$)": ("The ratio\n\n$$\\frac{a}{b}$$\n\nand $x^2$.\n", ".math-done .katex"),
    "an Elixir block (a rare language)": ("```elixir\ndefmodule A do\nend\n```\n", "code.language-elixir.hljs"),
    "math and an Elixir block": ("$$\\frac{a}{b}$$\n\n```elixir\ndefmodule A do\nend\n```\n",
                                 "code.language-elixir.hljs"),
}


def page_weight(browser: Any, cookie: str, web: str, url: str, ready: str | None) -> dict[str, int]:
    """JS/CSS (and font) bytes one cold page load fetches, as received and gzipped (-9)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": web}])
    page = context.new_page()
    bodies: dict[str, bytes] = {}

    def on_response(response: Any) -> None:
        path = response.url.split("?")[0]
        if path.endswith((".js", ".mjs", ".css", ".woff2")) and response.ok:
            try:
                bodies[response.url] = response.body()
            except Exception:  # a response that went away with its page
                pass

    page.on("response", on_response)
    page.goto(url)
    page.wait_for_function("() => !document.querySelector('#model').disabled", timeout=60_000)
    if ready:
        page.wait_for_selector(ready, timeout=20_000)
        page.wait_for_function("() => document.fonts.status === 'loaded'")
    else:  # the worker preloads highlight.js when the page is idle (at most 2 s)
        page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.includes('highlight'))",
                               timeout=30_000)
    page.wait_for_timeout(1500)  # anything still in flight
    page.close()
    context.close()
    out = {"js_css_raw": 0, "js_css_gzip": 0, "fonts": 0, "files": 0}
    for link, body in bodies.items():
        if link.split("?")[0].endswith(".woff2"):
            out["fonts"] += len(body)
        else:
            out["js_css_raw"] += len(body)
            out["js_css_gzip"] += len(gzip.compress(body, 9))
            out["files"] += 1
    return out


def weight(browser: Any, stack: Any, cookie: str) -> None:
    print("\n| chat page, cold cache | JS+CSS files | JS+CSS raw | JS+CSS gzip -9 | fonts (woff2) |")
    print("|---|---:|---:|---:|---:|")
    cases: list[tuple[str, str, str | None]] = [("new chat, once idle", f"{stack.web}/", None)]
    for label, (content, ready) in WEIGHT_REPLIES.items():
        seeded = manage(stack.env, "shell", "-c", SEED_REPLY.format(content=content, model=MODEL))
        conv = seeded.strip().splitlines()[-1]
        cases.append((f"a reply with {label}", f"{stack.web}/c/{conv}/", ready))
    for label, url, ready in cases:
        try:
            r = page_weight(browser, cookie, stack.web, url, ready)
        except Exception as error:  # e.g. the selector never shows (a build without math)
            print(f"| {label} | — | — | did not render ({type(error).__name__}) | — |")
            continue
        print(f"| {label} | {r['files']} | {r['js_css_raw'] / 1024:.1f} KB | {r['js_css_gzip'] / 1024:.1f} KB "
              f"| {r['fonts'] / 1024:.1f} KB |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="open,stream,sidebar,weight",
                        help="comma-separated: open, stream, sidebar, weight")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    runs = 3 if args.quick else 7
    from playwright.sync_api import sync_playwright

    from gateways.catalog import lookup

    entry = lookup(MODEL)
    assert entry is not None
    scale = entry.timing.tokens_per_s / RATE  # the emulator's pace: RATE tokens a second
    with running_stack(delay_scale=scale) as stack:
        cookie = session_cookie(stack.web)
        sizes = (10, 1_000, 10_000) if "open" in parts else (1_000,) if "stream" in parts else ()
        chats = {n: seed_chat(stack.env, n) for n in sizes}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": stack.web}])
            load = Path("/proc/loadavg").read_text().split()[0]
            print(f"Chromium {browser.version}; {runs} runs per figure; load average {load} on "
                  f"{os.cpu_count()} cores at the start\n")
            if "open" in parts:
                print("| messages | newest painted: median | min | max |")
                print("|---:|---:|---:|---:|")
            opened = {}
            for n, conv in chats.items() if "open" in parts else ():
                open_time(context, f"{stack.web}/c/{conv}/", f"[message {n - 1}]")  # warm caches
                opened[n] = [open_time(context, f"{stack.web}/c/{conv}/", f"[message {n - 1}]") for _ in range(runs)]
                times = [float(r["painted"] or 0) for r in opened[n]]
                print(f"| {n:,} | {statistics.median(times):.0f} ms | {min(times):.0f} ms | {max(times):.0f} ms |")
            if opened:
                heads = " | ".join(title for _, title in BREAKDOWN)
                print(f"\n| messages (median ms from navigation) | {heads} | painted |")
                print("|---:|" + "---:|" * (len(BREAKDOWN) + 1))
                for n, steps in opened.items():
                    print(f"| {n:,} | " + " | ".join(median_of(steps, k) for k, _ in BREAKDOWN)
                          + f" | {median_of(steps, 'painted')} |")
            streams: tuple[tuple[str, str], ...] = ()
            if "stream" in parts:
                streams = (("new chat", f"{stack.web}/"), ("after 1,000 messages", f"{stack.web}/c/{chats[1_000]}/"))
                print("\n| 5,000-token reply at 400 tok/s | stream | longest task | long-task total | long tasks |")
                print("|---|---:|---:|---:|---:|")
            for label, url in streams:
                r = stream_tasks(context, url)
                print(f"| {label} | {r['seconds']:.1f} s | {r['longest']:.0f} ms | {r['total']:.0f} ms "
                      f"| {r['count']:.0f} ({r['at'] or 'none'}) |")
            if "weight" in parts:
                weight(browser, stack, cookie)
            if "sidebar" not in parts:
                browser.close()
                return
            manage(stack.env, "shell", "-c", SEED_SIDEBAR.format(count=5_000))
            total = 5_000  # and the chats made above
            results = [sidebar(context, stack.web, total) for _ in range(max(1, runs // 2))]
            first = statistics.median(r["first"] for r in results)
            to_end = statistics.median(r["to_end"] for r in results)
            print("\n| sidebar of 5,000 chats | first row painted | scroll to the end (all pages) |")
            print("|---|---:|---:|")
            print(f"| median of {len(results)} | {first:.0f} ms | {to_end:.0f} ms |")
            browser.close()


if __name__ == "__main__":
    main()
