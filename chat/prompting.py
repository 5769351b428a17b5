"""Pure: turn a conversation branch into the upstream `messages` list."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class Turn(Protocol):
    role: str
    content: str
    parts: list[Any]
    status: str


def upstream_messages(system_prompt: str, history: Iterable[Turn]) -> list[dict[str, Any]]:
    """System prompt first, then the turns; failed or empty replies are left out.

    A stopped reply keeps its partial text: the model should see what the
    user saw. Image parts ride along as OpenAI-style content parts.
    """
    out: list[dict[str, Any]] = []
    if system_prompt.strip():
        out.append({"role": "system", "content": system_prompt})
    for turn in history:
        if turn.role == "assistant" and (turn.status == "streaming" or not turn.content):
            continue
        if turn.parts:
            out.append({"role": turn.role, "content": [{"type": "text", "text": turn.content}, *turn.parts]})
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
