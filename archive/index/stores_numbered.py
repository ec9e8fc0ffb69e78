"""The stores numbered by ordinal: the term index (which owns the numbering) and the filter columns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..document import Document
from ..text.analysis import DocumentWords
from .columns import Columns, ColumnsBuilder
from .store_protocol import BaseStore, Change, Full, Sides, Sink, Written, few
from .terms import TermIndex, TermIndexBuilder

if TYPE_CHECKING:
    from .manifest import Manifest


class Terms(BaseStore):
    """The term index (:mod:`archive.index.terms`): ranks every query and owns the numbering."""

    name = "terms"

    def writer(self, generation: Path, full: Full) -> Sink:
        builder = TermIndexBuilder()

        class _Sink:
            add = staticmethod(builder.add)  # with the words the write analyzed

            def close(self) -> Written:
                builder.write(generation / Terms.name)
                return Written(len(builder.ids))

            def cancel(self) -> None:
                pass

        return _Sink()

    def append(self, generation: Path, change: Change) -> Written:
        return Written(self._live(change, lambda t: t.appended(generation / self.name, change.dead, change.index, change.words)))

    def compact(self, generation: Path, change: Change) -> Written:
        return Written(self._live(change, lambda t: t.updated(generation / self.name, change.keep, change.index, change.words)))

    def _live(self, change: Change, write: Callable[[TermIndex], int]) -> int:
        terms = TermIndex(change.live / self.name)
        try:
            return write(terms)
        finally:
            terms.close()

    def ordinals(self, generation: Path) -> int | None:
        return len(self._numbering(generation)[0])

    def _numbering(self, generation: Path) -> tuple[list[str], np.ndarray]:
        terms = TermIndex(generation / self.name)
        try:
            return list(terms.ids), terms.live_mask()
        finally:
            terms.close()

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        found = sides.read(generation / self.name, lambda: self._numbering(generation))
        if found is None:
            return
        sides.order, sides.live = found  # the generation's numbering: ordinal -> id, and which are live
        live_ids = [doc_id for doc_id, alive in zip(found[0], found[1].tolist()) if alive]
        sides.ids["terms"] = set(live_ids)
        if len(live_ids) != len(sides.ids["terms"]):
            seen: set[str] = set()
            twice = sorted({i for i in live_ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
            sides.problem(generation / self.name, f"has {len(twice)} article(s) live at two ordinals ({few(twice)})")


class FilterColumns(BaseStore):
    """The filter columns (:mod:`archive.index.columns`): one row per ordinal, as the term index numbers them."""

    name = "columns"

    def writer(self, generation: Path, full: Full) -> Sink:
        builder = ColumnsBuilder()

        class _Sink:
            def add(self, doc: Document, words: DocumentWords) -> None:  # noqa: ARG002 - no text in a column
                builder.add(doc)

            def close(self) -> Written:
                builder.write(generation / FilterColumns.name)
                return Written()

            def cancel(self) -> None:
                pass

        return _Sink()

    def append(self, generation: Path, change: Change) -> Written:
        Columns(change.live / self.name).appended(generation / self.name, change.index)
        return Written()

    def compact(self, generation: Path, change: Change) -> Written:
        Columns(change.live / self.name).updated(generation / self.name, change.keep, change.index)
        return Written()

    def ordinals(self, generation: Path) -> int | None:
        return len(Columns(generation / self.name))

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        if sides.order is None:
            return
        rows = sides.read(generation / self.name, lambda: self.ordinals(generation))
        if rows is not None and rows != len(sides.order):
            sides.problem(generation / self.name, f"holds {rows} rows for the term index's {len(sides.order)} articles")

