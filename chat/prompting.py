"""Pure: turn a conversation branch into the upstream `messages` list."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Turn(Protocol):
    role: str
    content: str
    parts: list[Any]
    status: str


@dataclass(frozen=True)
class Attached:
    """An attachment as the prompt needs it (chat.uploads.attached reads these)."""

    kind: str  # "image" | "file"
    name: str
    text: str = ""  # a file's extracted text
    data_url: str = ""  # an image, as a data: URL (UPSTREAM.md: base64 in image_url.url)
    tokens: int = 0


def file_block(attached: Attached) -> str:
    """A file's text with its name, so the model can tell files apart and name them in its answer."""
    name = attached.name.replace('"', "'")
    return f'<file name="{name}">\n{attached.text}\n</file>'


def image_part(url: str) -> dict[str, Any]:
    """UPSTREAM.md's part shape: {"type": "image_url", "image_url": {"url", "detail"}}."""
    return {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}


def _user_content(turn: Turn, attached: Mapping[str, Attached]) -> str | list[dict[str, Any]]:
    """Files' text first (with their names), then what the user wrote; images as parts after the text."""
    blocks: list[str] = []
    images: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for part in turn.parts:
        if not isinstance(part, dict):
            continue
        if part.get("type") != "attachment":
            others.append(part)  # OpenAI-style parts stored as they are
            continue
        found = attached.get(str(part.get("id")))
        if found is None:
            blocks.append(f"[The attachment {part.get('name', '')} is no longer available.]")
        elif found.kind == "image":
            if found.data_url:
                images.append(image_part(found.data_url))
        else:
            blocks.append(file_block(found))
    text = "\n\n".join([*blocks, turn.content] if turn.content else blocks)
    if not images and not others:
        return text
    return [*([{"type": "text", "text": text}] if text else []), *images, *others]


def upstream_messages(system_prompt: str, history: Iterable[Turn],
                      attached: Mapping[str, Attached] | None = None) -> list[dict[str, Any]]:
    """System prompt first, then the turns; failed or empty replies are left out.

    A stopped reply keeps its partial text: the model should see what the
    user saw. Attachments (`parts` of type "attachment") are resolved through
    `attached`: files become text with their name, images `image_url` parts.
    """
    out: list[dict[str, Any]] = []
    if system_prompt.strip():
        out.append({"role": "system", "content": system_prompt})
    for turn in history:
        if turn.role == "assistant" and (turn.status == "streaming" or not turn.content):
            continue
        if turn.parts:
            out.append({"role": turn.role, "content": _user_content(turn, attached or {})})
        else:
            out.append({"role": turn.role, "content": turn.content})
    return out


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of text sent, for estimating prompt tokens when usage is missing."""
    total = 0
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            total += len(content)
        else:
            total += sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
    return total
