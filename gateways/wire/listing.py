"""A gateway's model list (`GET /models`) as ids, whatever its shape. Pure.

OpenAI's `{"object": "list", "data": [{"id", ...}]}` is the rule; gateways also answer a bare list,
ids as plain strings, xAI's `{"models": [...]}`, items named by `name` or `model`, and extra or
missing fields (`owned_by`, `created`). A list that cannot be read raises rather than reading as
empty: an empty list withdraws every model of the provider (gateways.discovery), and a list read in
part the models it left out, so a list in pages (`has_more`) is read to its last page or not at all.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .errors import classify_stream_error, listing_error

MAX_PAGES = 20  # a list in more pages than this is not read (an error), rather than read in part


def model_ids(answer: Any) -> list[str]:
    """The ids in a model list; raises UpstreamError for an error object or a shape that holds no list."""
    items: Any = answer
    if isinstance(answer, dict):
        if answer.get("error"):
            raise classify_stream_error(answer)  # an error answered with 200
        items = next((answer[k] for k in ("data", "models") if isinstance(answer.get(k), list)), None)
    if not isinstance(items, list):
        raise listing_error()
    ids = (_id(item) for item in items)
    return [i for i in ids if i]


def _id(item: Any) -> str:
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, dict):
        value = item.get("id") or item.get("model") or item.get("name")
        return str(value).strip() if isinstance(value, str | int) else ""
    return ""


def next_page(answer: Any, ids: list[str]) -> str | None:
    """The query for the page after this one, for a list that says it has more (`has_more: true`, as OpenAI's
    and Anthropic's list endpoints page): after its `last_id`, or its last id, as `after` and `after_id`
    (the two APIs' names for the cursor; a gateway reads its own). None for the last page."""
    if not isinstance(answer, dict) or answer.get("has_more") is not True:
        return None
    cursor = answer.get("last_id")
    cursor = cursor if isinstance(cursor, str) and cursor else (ids[-1] if ids else None)
    if cursor is None:
        raise listing_error("the list says it has more pages, but not where they start")
    return urlencode({"after": cursor, "after_id": cursor})

