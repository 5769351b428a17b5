"""Gateway text is made storable once, at the edge: split surrogate pairs joined, the rest replaced."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gateways.wire.chunks import parse_data
from gateways.wire.events import ContentDelta, Finish, ReasoningDelta
from gateways.wire.text import REPLACEMENT, EventMender, TextMender, mend
from tests.chat.unstorable import code_units, pieces

# Any code point, lone surrogates and NUL included (st.text leaves surrogates out by default).
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def test_an_emoji_split_between_two_chunks_is_joined() -> None:
    events = [parse_data(json.dumps({"choices": [{"index": 0, "delta": {"content": part}}]}))
              for part in ("Hi \ud83d", "\ude00!")]
    assert events[0] == [ContentDelta("Hi \ud83d")]  # what a JSON decoder gives for half a pair
    mender = EventMender()
    mended = [e for chunk in events for e in mender.mend(chunk)] + mender.flush()
    assert "".join(e.text for e in mended if isinstance(e, ContentDelta)) == "Hi 😀!"


def test_lone_halves_and_nul_become_the_replacement_character() -> None:
    assert mend("a\x00b") == f"a{REPLACEMENT}b"
    assert mend("\ude00x\ud83d") == f"{REPLACEMENT}x{REPLACEMENT}"
    mender = TextMender()
    assert mender.feed("end \ud83d") == "end "
    assert mender.flush() == REPLACEMENT  # the stream ended before the other half


def test_a_held_half_does_not_overtake_the_finish() -> None:
    mender = EventMender()
    assert mender.mend([ContentDelta("x\ud83d"), Finish("stop")]) == [
        ContentDelta("x"), ContentDelta(REPLACEMENT), Finish("stop")]


@given(ANY_TEXT, st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_any_text_cut_anywhere_is_storable_and_mends_as_a_whole(text: str, cuts: list[int]) -> None:
    mender = TextMender()
    parts = [mender.feed(piece) for piece in pieces(text, cuts)] + [mender.flush()]
    assert all(storable(part) for part in parts)
    assert "".join(parts) == mend(text) == mend("".join(code_units(text)))
    if storable(text):
        assert mend(text) == text  # good text passes untouched


@given(ANY_TEXT, ANY_TEXT, st.integers(min_value=0, max_value=200))
def test_answer_and_reasoning_are_mended_as_separate_streams(answer: str, reasoning: str, cut: int) -> None:
    a, r = code_units(answer), code_units(reasoning)
    ca, cr = cut % (len(a) + 1), cut % (len(r) + 1)
    pieces = [ReasoningDelta("".join(r[:cr])), ContentDelta("".join(a[:ca])),
              ReasoningDelta("".join(r[cr:])), ContentDelta("".join(a[ca:]))]
    mender = EventMender()
    events = mender.mend([p for p in pieces if p.text]) + mender.flush()
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == mend(answer)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == mend(reasoning)
