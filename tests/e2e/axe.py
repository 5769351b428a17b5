"""axe-core in the browser tests: the serious and critical accessibility violations of a page.

axe-core comes from npm (package.json) and is copied to static/vendor/axe.min.js by
scripts/vendor.mjs; it is injected into the page under test, never served to users.
"""
from __future__ import annotations

from typing import Any

from .conftest import ROOT

AXE = ROOT / "static" / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


def violations(page: Any, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """axe's violations of the page as it is now (WCAG 2.x A/AA and best practices), of the given impacts."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the Content-Security-Policy refuses inline scripts.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")["violations"]
    return [v for v in found if v["impact"] in impacts]


def describe(found: list[dict[str, Any]]) -> str:
    """One line per rule and offending element, for an assertion message a person can act on."""
    lines = []
    for v in found:
        lines.append(f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} elements)")
        for node in v["nodes"][:6]:
            lines.append(f"    {', '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1].strip()}")
    return "\n".join(lines)
