"""Pure: every frame the server sends stays under the bound (chat.bounds)."""
from __future__ import annotations

from chat.bounds import bound, size

LIMIT = 4096


def test_a_small_frame_goes_out_as_it_is() -> None:
    frame = {"type": "message.done", "message": "m", "content": "short"}
    assert bound(frame, LIMIT) is frame


def test_the_longest_texts_are_cut_and_marked_without_touching_the_original() -> None:
    frame = {"type": "conversation.snapshot", "conversation": {"id": "c"},
             "messages": [{"id": "a", "content": "é" * 5000}, {"id": "b", "content": "short"}],
             "live": [{"message": "b", "content": "x" * 3000, "seq": 7}]}
    out = bound(frame, LIMIT)
    assert size(out) <= LIMIT
    assert out["messages"][0]["truncated"] is True and out["messages"][0]["content"].startswith("é")
    assert out["messages"][1] == {"id": "b", "content": "short"}
    assert out["live"][0]["seq"] == 7
    assert len(frame["messages"][0]["content"]) == 5000  # other sockets get the same frame object


def test_a_huge_done_frame_is_cut() -> None:
    out = bound({"type": "message.done", "message": "m", "content": "y" * 100_000, "reasoning": "r" * 10}, LIMIT)
    assert size(out) <= LIMIT and out["truncated"] is True and out["content"].startswith("yyy")
