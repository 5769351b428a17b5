"""Math and lazily loaded code languages in replies (issue 15, items 7 and 8).

A reply with formulas is typeset by KaTeX, loaded on the first formula; code stays literal;
prices stay prose; a language outside the base highlight.js bundle is fetched on first use.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .axe import describe, violations
from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

REPLY = r"""The ratio is

$$\frac{a}{b}$$

and inline $x^2 + y^2$ too. It costs $5 and $10 a month.

```
echo $x$ and $$y$$
```

Use `$z$` in TeX.

```elixir
defmodule Greeter do
  def hello(name), do: "Hello, #{name}"
end
```
"""
REASONING = r"Let me check \(a^2 + b^2 = c^2\) first, then `$q$` stays code."

SEED = """
import uuid
from django.contrib.auth import get_user_model
from chat.models import Conversation, Message
owner = get_user_model().objects.get(username={user!r})
conv = Conversation.objects.create(owner=owner, title='Math and code')
q = Message.objects.create(id=uuid.uuid4(), conversation=conv, role='user', status='complete',
                           content='Show me a fraction and some Elixir.')
a = Message.objects.create(id=uuid.uuid4(), conversation=conv, parent=q, role='assistant', status='complete',
                           content={reply!r}, reasoning={reasoning!r}, model_slug='grok-4-fast-reasoning')
conv.current_leaf_id = a.id
conv.save()
print(conv.id)
"""


def test_formulas_typeset_code_stays_literal_and_a_rare_language_loads_on_use(page: Page,
                                                                            grokweb_server: LiveServer) -> None:
    out = grokweb_server.manage("shell", "-c", SEED.format(user=grokweb_server.username, reply=REPLY,
                                                           reasoning=REASONING))
    conversation = out.strip().splitlines()[-1]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, grokweb_server)
    assert not any("katex" in url for url in requested)  # nothing of KaTeX on a page without math
    assert not any("/vendor/hljs/" in url for url in requested)
    page.goto(f"/c/{conversation}/")
    reply = page.locator("#thread article.msg-assistant").last

    # $$\frac{a}{b}$$: KaTeX markup, a real fraction (numerator over denominator), sanitized MathML beside it.
    display = reply.locator(".content div.math-display")
    expect(display.locator(".katex-display .katex-html .mfrac")).to_have_count(1)
    expect(display.locator("math semantics annotation")).to_have_text(r"\frac{a}{b}")
    expect(reply.locator(".content span.math-inline.math-done .katex")).to_have_count(1)
    # KaTeX's stylesheet and its fonts came from our static files, not a CDN.
    page.wait_for_function("() => document.fonts.status === 'loaded'")
    origin = grokweb_server.url
    katex_urls = [url for url in requested if "katex" in url.lower()]
    assert any(url.endswith(".css") for url in katex_urls) and any(".woff2" in url for url in katex_urls)
    assert all(url.startswith(origin) for url in requested)
    font = page.evaluate("getComputedStyle(document.querySelector('.katex')).fontFamily")
    assert "KaTeX_Main" in font

    # Prices are prose; code is literal.
    expect(reply.locator(".content")).to_contain_text("It costs $5 and $10 a month.")
    fence = reply.locator(".content pre code").first
    expect(fence).to_have_text("echo $x$ and $$y$$\n")
    expect(fence.locator(".math, .katex")).to_have_count(0)
    expect(reply.locator(".content p code")).to_have_text("$z$")

    # Elixir is not in the base bundle: its module is fetched, then the block is highlighted.
    elixir = reply.locator(".content pre code.language-elixir")
    expect(elixir).to_have_class("language-elixir hljs")
    expect(elixir.locator("span.hljs-keyword").first).to_have_text("defmodule")
    assert any("/vendor/hljs/elixir" in url for url in requested)
    assert not any("/vendor/hljs/" in url and "elixir" not in url for url in requested)

    # Reasoning is plain text with its formulas typeset; its inline code stays literal.
    reply.locator(".reasoning summary").click()
    reasoning = reply.locator(".reasoning-body")
    expect(reasoning.locator(".math-done .katex")).to_have_count(1)
    expect(reasoning).to_contain_text("`$q$` stays code.")
    # Typeset math (HTML for the eye, MathML for screen readers) and highlighted code pass axe, in both themes.
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found = violations(page)
        assert not found, f"{scheme}:\n{describe(found)}"
    page.emulate_media(color_scheme="light")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]

    # A share link of the conversation typesets the same reply (the read-only page has its own import map).
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    shared = page.request.post(f"/api/conversations/{conversation}/share",
                               headers={"X-CSRFToken": csrf, "Origin": grokweb_server.url})
    assert shared.ok, shared.text()
    page.goto(shared.json()["url"])
    expect(page.locator("article.msg-assistant .math-display .katex-display .mfrac")).to_have_count(1)
    expect(page.locator("article.msg-assistant pre code").first).to_have_text("echo $x$ and $$y$$\n")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
