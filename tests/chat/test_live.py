"""LiveText: numbered, coalesced frames that add up to the text; snapshots that line up with them."""
from chat.live import LiveText


def test_frames_are_numbered_and_add_up_to_the_text() -> None:
    live = LiveText("m1")
    frames = []
    for i, token in enumerate(["He", "llo", ",", " world", "!"]):
        live.add_content(token)
        if i % 2:
            frames.append(live.take_delta())
    frames.append(live.take_delta())
    assert [f["seq"] for f in frames] == [1, 2, 3]
    assert "".join(f["content"] for f in frames) == "Hello, world!" == live.content
    assert live.take_delta() is None


def test_snapshot_leaves_out_text_not_yet_in_a_frame() -> None:
    live = LiveText("m1")
    live.add_reasoning("think ")
    live.add_content("Hi")
    live.take_delta()
    live.add_content(" there")
    snap = live.snapshot()
    assert snap == {"message": "m1", "content": "Hi", "reasoning": "think ", "seq": 1}
    later = live.take_delta()
    assert later["seq"] == 2 and snap["content"] + later["content"] == live.content


def test_snapshot_says_how_long_the_reply_thought_once_its_answer_began() -> None:
    live = LiveText("m1")
    live.add_reasoning("hmm")
    assert "thought_ms" not in live.snapshot()  # still thinking
    live.thought_ms = 3200  # the runner's clock, at the first answer text
    live.add_content("Yes")
    assert live.snapshot()["thought_ms"] == 3200
