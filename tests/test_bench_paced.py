"""The paced relay benchmark's verdict on a reply: a lost, repeated or reordered token is a problem, never hidden."""
from __future__ import annotations

from bench.relay_paced import check_deltas, expected_text, percentile, placement

DONE = {"content": " w1 w2 w3", "status": "complete", "usage": {"completion_tokens": 3}}


def test_a_whole_reply_in_order_has_no_problems() -> None:
    assert expected_text(3) == " w1 w2 w3"
    assert check_deltas([1, 2], " w1 w2" + " w3", DONE, 3) == []


def test_lost_reordered_or_unended_replies_are_counted() -> None:
    assert check_deltas([1, 2], " w1 w3", DONE, 3) == ["tokens missing, extra or out of order"]
    assert check_deltas([1, 2], " w2 w1 w3", DONE, 3) == ["tokens missing, extra or out of order"]
    assert check_deltas([2, 1], " w1 w2 w3", DONE, 3) == ["seq out of order"]
    assert check_deltas([1], " w1 w2 w3", None, 3) == ["no end frame"]
    assert check_deltas([1], " w1 w2 w3", {**DONE, "content": " w1 w2"}, 3) == ["message.done text differs"]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (10.0, 19.0, 20.0)
    assert percentile([7.0], 95) == 7.0


def test_the_relay_gets_cores_of_its_own_when_there_are_cores_left() -> None:
    assert placement([0, 1], 1, pin=True) == ([0], [1])  # emulator and clients off the relay's core
    assert placement([0, 1, 2, 3], 2, pin=True) == ([0, 1], [2, 3])
    assert placement([0, 1], 2, pin=True) == ([0, 1], [])  # none left: everything shares
    assert placement([0, 1], 3, pin=True) == ([], [])  # more processes than CPUs: not pinned
    assert placement([0, 1], 1, pin=False) == ([], [])
