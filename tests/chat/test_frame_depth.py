"""How deep a client frame may nest, told before it is parsed (chat.frames.too_deep)."""
from __future__ import annotations

from chat.frames import MAX_DEPTH, too_deep


def test_a_frame_nested_to_the_limit_passes_and_one_level_more_does_not() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert not too_deep(at_limit)
    assert too_deep("[" + at_limit + "]")
    assert too_deep('{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1))


def test_many_brackets_side_by_side_are_not_depth_and_brackets_in_strings_do_not_count() -> None:
    wide = "[" + ", ".join(["[1]"] * (MAX_DEPTH * 3)) + "]"
    assert not too_deep(wide)
    assert not too_deep('{"content": "' + "[" * 1000 + '"}')
    assert not too_deep('{"type": "send", "content": "hi", "params": {"temperature": 1}}')
