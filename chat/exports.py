"""Pure: a conversation as a download (Markdown or JSON) and the file name it gets."""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

FORMATS = {"md": "text/markdown; charset=utf-8", "json": "application/json"}


def filename(title: str, conversation_id: str, ext: str) -> str:
    """An ASCII file name from the title ("grokweb-my-chat-1a2b3c4d.md")."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    return f"grokweb-{slug + '-' if slug else ''}{conversation_id[:8]}.{ext}"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def to_markdown(conversation: dict[str, Any], messages: Iterable[dict[str, Any]]) -> str:
    """The visible branch as Markdown: a heading per turn, replies as written."""
    lines = [f"# {conversation.get('title') or 'New chat'}", ""]
    meta = [f"Exported from Grokweb · {conversation.get('created_at', '')[:10]}"]
    if conversation.get("model"):
        meta.append(f"model {conversation['model']}")
    lines += [" · ".join(meta), ""]
    if conversation.get("system_prompt"):
        fence = _fence(conversation["system_prompt"])
        lines += ["## System prompt", "", fence, conversation["system_prompt"], fence, ""]
    for message in messages:
        if message["role"] == "user":
            lines += ["## You", ""]
        else:
            lines += [f"## {message.get('model') or 'Assistant'}", ""]
        if message.get("reasoning"):
            quoted = "\n".join(f"> {line}" if line else ">" for line in message["reasoning"].splitlines())
            lines += ["> **Reasoning**", ">", quoted, ""]
        if attachments := message.get("attachments"):
            lines += ["*Attached: " + ", ".join(f"{a.get('name')} ({a.get('kind')})" for a in attachments) + "*", ""]
        lines += [message.get("content") or "", ""]
        if message.get("status") in ("cancelled", "error"):
            lines += [f"*({'stopped' if message['status'] == 'cancelled' else 'ended with an error'})*", ""]
    return "\n".join(lines).rstrip() + "\n"


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def stream_json_list(head: dict[str, Any], key: str, items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`{...head, key: [items...]}` as chunks, so thousands of items never sit in memory at once."""
    opening = json.dumps(head, ensure_ascii=False)[:-1]
    yield f"{opening}{', ' if head else ''}{json.dumps(key)}: [\n"
    first = True
    for item in items:
        yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]}\n"
