"""Pure: a conversation as a tree of messages, its branches and siblings.

A conversation is a tree (edits and regenerations are siblings under one parent);
the UI shows one path from the root to a leaf. These functions take the tree as
plain tuples `(id, parent_id)` in creation order, so they are tested without a
database and cost one light query (two columns) however long the conversation.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass(frozen=True)
class Tree(Generic[K]):
    """Parents and children of every message; children in creation order."""

    parent: dict[K, K | None]
    children: dict[K | None, list[K]]

    @classmethod
    def build(cls, rows: Iterable[tuple[K, K | None]]) -> Tree[K]:
        """`rows` in creation order (oldest first)."""
        parent: dict[K, K | None] = {}
        children: dict[K | None, list[K]] = {}
        for key, up in rows:
            parent[key] = up
            children.setdefault(up, []).append(key)
        return cls(parent, children)

    def __contains__(self, key: object) -> bool:
        return key in self.parent

    def siblings(self, key: K) -> list[K]:
        """This message and its siblings (same parent), oldest first."""
        return self.children.get(self.parent.get(key), [key]) if key in self.parent else [key]

    def path(self, leaf: K) -> list[K]:
        """Root to `leaf`, oldest first."""
        out: list[K] = []
        node: K | None = leaf
        seen: set[K] = set()
        while node is not None and node in self.parent and node not in seen:
            seen.add(node)
            out.append(node)
            node = self.parent[node]
        out.reverse()
        return out

    def newest_leaf(self, start: K) -> K:
        """Follow the newest child down from `start`: the branch last written below it."""
        node = start
        seen = {node}
        while kids := self.children.get(node):
            node = kids[-1]
            if node in seen:  # a cycle cannot be stored, but never loop on one
                break
            seen.add(node)
        return node

    def latest(self) -> K | None:
        """The most recently created message (the leaf to show when none is stored)."""
        return next(reversed(self.parent), None) if self.parent else None


def fit(keys: list[K], size: Callable[[K], int], budget: int) -> list[K]:
    """The newest of `keys` whose sizes add up to at most `budget`; always at least the newest one."""
    total = 0
    kept = 0
    for key in reversed(keys):
        total += size(key)
        if kept and total > budget:
            break
        kept += 1
    return keys[len(keys) - kept:]
