"""A gateway's model list (`GET /models`) as ids, whatever its shape. Pure.

OpenAI's `{"object": "list", "data": [{"id", ...}]}` is the rule; gateways also answer a bare list,
ids as plain strings, xAI's `{"models": [...]}`, items named by `name` or `model`, and extra or
missing fields (`owned_by`, `created`). A list that cannot be read raises rather than reading as
empty: an empty list withdraws every model of the provider (gateways.discovery).
"""
from __future__ import annotations

from typing import Any

from .errors import classify_stream_error, listing_error


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
