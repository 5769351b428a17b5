"""Pure: text our database cannot store, found in decoded JSON.

PostgreSQL text holds neither a NUL nor a lone UTF-16 surrogate (JSON can escape both:
"\\u0000", "\\ud800"), and such a string fails at the save, after part of a change is
made. Every door that takes text refuses them first, with this clear reason.
"""
from __future__ import annotations

import re
from typing import Any

# Such a string reaches JSON only escaped (raw, it is invalid JSON or invalid UTF-8):
# bodies without this pattern need no walk.
ESCAPED = re.compile(rb"\\u(?:0000|d[89a-f])", re.IGNORECASE)
NUL = "Text may not contain NUL characters (\\u0000)."
SURROGATE = "Text must be valid Unicode (it holds a lone surrogate, such as \\ud800)."


def problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def unstorable(value: Any) -> str | None:
    """Why some string of a decoded JSON value (keys too) cannot be stored, or None; walked without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if found := problem(item):
                return found
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
