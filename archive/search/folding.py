"""Folding a ranked list: one result per story, the other copies named beside it.

The near-copies store (:mod:`archive.index.near`) groups the indexed articles
that are copies of one story. Folding keeps, of each group, the member that
ranks first in the list (by relevance, or by date when sorted so) and drops
the others from the list; the kept hit then names every other member of its
group as a version (id, outlet, date), found by the search or not. Totals are
counted the same way (:meth:`Folding.stories`): a group counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, TypeVar

import numpy as np

from ..index.near import NearStore

T = TypeVar("T", bound=tuple)


class Version(NamedTuple):
    """Another copy of a hit's story: its id, outlet and publication date (and its own headline)."""

    id: str
    source: str
    published: datetime | None
    title: str = ""


class Folding:
    """The groups of copies of one generation, over its article ordinals."""

    def __init__(self, store: NearStore, ids: Sequence[str], live: np.ndarray) -> None:
        """``ids``: the generation's id of each ordinal; ``live``: which ordinals are not deleted."""
        self.groups: list[list[str]] = store.clusters()
        group_of = {doc_id: g for g, members in enumerate(self.groups) for doc_id in members}
        self.label = np.full(len(ids), -1, dtype=np.int32)
        """The group of each ordinal (``-1``: a story of one article)."""
        for ordinal, (doc_id, alive) in enumerate(zip(ids, live.tolist())):
            if alive and doc_id in group_of:
                self.label[ordinal] = group_of[doc_id]

    def __bool__(self) -> bool:
        return bool(self.groups)

    def fold(self, items: Sequence[T]) -> list[T]:
        """``items`` (each starting with an ordinal), the first of each group kept, in order."""
        seen: set[int] = set()
        kept = []
        for item in items:
            group = int(self.label[item[0]])
            if group >= 0:
                if group in seen:
                    continue
                seen.add(group)
            kept.append(item)
        return kept

    def others(self, ordinal: int, doc_id: str) -> list[str]:
        """The ids of the other members of ``ordinal``'s group (none for a story of one)."""
        group = int(self.label[ordinal])
        return [] if group < 0 else [m for m in self.groups[group] if m != doc_id]

    def stories(self, mask: np.ndarray) -> int:
        """How many stories the articles of ``mask`` tell: each group with a member in it counts once."""
        labels = self.label[mask]
        grouped = labels[labels >= 0]
        return int(len(labels) - len(grouped) + len(np.unique(grouped)))
