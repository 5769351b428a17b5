"""Pure: the text of a reply being written, and the numbered frames it yields.

Deltas are coalesced: the runner calls `take_delta()` at most once per frame
interval, so a 5,000-token reply costs a few hundred frames, not 5,000.
"""
from __future__ import annotations

from typing import Any


class LiveText:
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._pending_content: list[str] = []
        self._pending_reasoning: list[str] = []
        self.seq = 0
        self.content_chars = 0  # counted as text arrives (budgets watch them per token: no joins)
        self.reasoning_chars = 0
        self.thought_ms: int | None = None  # the runner's: from its start to the first answer text

    def add_content(self, text: str) -> None:
        self._content.append(text)
        self._pending_content.append(text)
        self.content_chars += len(text)

    def add_reasoning(self, text: str) -> None:
        self._reasoning.append(text)
        self._pending_reasoning.append(text)
        self.reasoning_chars += len(text)

    @property
    def pending(self) -> bool:
        return bool(self._pending_content or self._pending_reasoning)

    @property
    def content(self) -> str:
        if len(self._content) > 1:  # keep joins cheap on later reads
            self._content = ["".join(self._content)]
        return self._content[0] if self._content else ""

    @property
    def reasoning(self) -> str:
        if len(self._reasoning) > 1:
            self._reasoning = ["".join(self._reasoning)]
        return self._reasoning[0] if self._reasoning else ""

    @property
    def has_text(self) -> bool:
        return bool(self._content or self._reasoning)

    def take_delta(self) -> dict[str, Any] | None:
        """The next `message.delta` frame, or None when nothing is pending."""
        if not self.pending:
            return None
        self.seq += 1
        frame = {
            "type": "message.delta",
            "message": self.message_id,
            "seq": self.seq,
            "content": "".join(self._pending_content),
            "reasoning": "".join(self._pending_reasoning),
        }
        self._pending_content.clear()
        self._pending_reasoning.clear()
        return frame

    def snapshot(self) -> dict[str, Any]:
        """What a (re)subscribing tab needs: text so far and the seq it matches.

        Pending text is not yet in any frame, so it is left out here and will
        arrive in the frame numbered seq + 1.
        """
        pending_c = "".join(self._pending_content)
        pending_r = "".join(self._pending_reasoning)
        content, reasoning = self.content, self.reasoning
        snap: dict[str, Any] = {
            "message": self.message_id,
            "content": content[: len(content) - len(pending_c)] if pending_c else content,
            "reasoning": reasoning[: len(reasoning) - len(pending_r)] if pending_r else reasoning,
            "seq": self.seq,
        }
        if self.thought_ms is not None:  # a tab opened mid-reply can still say "Thought for 3.2s"
            snap["thought_ms"] = self.thought_ms
        return snap
