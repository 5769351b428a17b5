"""Pure: keep every frame the server sends under a fixed size (MAX_FRAME_BYTES).

Snapshots and history pages are already cut to size by paging; this is the last
guard for what paging cannot foresee (a running reply's live text, a huge
`message.done`). It shortens the longest texts and marks the object that held
them `truncated: true` (docs/protocol.md); the full text stays in the database and
in exports.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

TEXT_FIELDS = ("content", "reasoning")


def size(frame: Any) -> int:
    # surrogatepass: a lone surrogate a client sent (echoed in an error) is counted, not fatal.
    return len(json.dumps(frame, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _texts(frame: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (object, field) holding message text in a frame."""
    for field in TEXT_FIELDS:
        if isinstance(frame.get(field), str):
            yield frame, field
    for key in ("messages", "live"):
        for item in frame.get(key) or []:
            if isinstance(item, dict):
                yield from _texts(item)
    for key in ("user_message", "assistant_message"):
        if isinstance(frame.get(key), dict):
            yield from _texts(frame[key])


def bound(frame: dict[str, Any], limit: int) -> dict[str, Any]:
    """`frame` if it fits in `limit` bytes of JSON, else a copy with its longest texts cut."""
    over = size(frame) - limit
    if over <= 0:
        return frame
    frame = json.loads(json.dumps(frame))  # never change what other sockets are sent
    while over > 0:
        texts = sorted(_texts(frame), key=lambda t: len(t[0][t[1]]), reverse=True)
        if not texts or not texts[0][0][texts[0][1]]:
            break  # nothing left to cut: the frame is made of something else
        holder, field = texts[0]
        text = holder[field]
        # A character is 1-6 bytes once encoded: keep the share of the text that fits, then check again.
        encoded = size(text)
        keep = max(0, encoded - over - 32) / encoded
        holder[field] = text[: min(int(len(text) * keep), len(text) - max(1, len(text) // 64))]
        holder["truncated"] = True
        over = size(frame) - limit
    return frame
