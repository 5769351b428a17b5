"""Pure: branches and siblings of a conversation tree (chat.branches)."""
from __future__ import annotations

from chat.branches import Tree, fit

# 1 -> 2 -> 3          (first answer)
#   \-> 4 -> 5 -> 6    (an edit of 2, and its continuation)
ROWS = [(1, None), (2, 1), (3, 2), (4, 1), (5, 4), (6, 5)]


def test_a_branch_is_the_path_from_the_root() -> None:
    tree = Tree.build(ROWS)
    assert tree.path(6) == [1, 4, 5, 6]
    assert tree.path(3) == [1, 2, 3]
    assert tree.path(99) == []


def test_siblings_are_listed_oldest_first_and_include_the_message() -> None:
    tree = Tree.build(ROWS)
    assert tree.siblings(4) == [2, 4]
    assert tree.siblings(2) == [2, 4]
    assert tree.siblings(6) == [6]
    assert tree.siblings(1) == [1]


def test_switching_to_a_version_follows_its_newest_continuation() -> None:
    tree = Tree.build([*ROWS, (7, 4)])  # a regeneration under 4, newer than 5
    assert tree.newest_leaf(2) == 3
    assert tree.newest_leaf(4) == 7
    assert tree.newest_leaf(1) == 7
    assert tree.latest() == 7


def test_a_page_fits_its_byte_budget_keeping_the_newest() -> None:
    sizes = {1: 100, 2: 100, 3: 100}
    assert fit([1, 2, 3], sizes.__getitem__, 250) == [2, 3]
    assert fit([1, 2, 3], sizes.__getitem__, 1000) == [1, 2, 3]
    assert fit([1, 2, 3], {1: 1, 2: 1, 3: 5000}.__getitem__, 250) == [3]  # always one, even too large
