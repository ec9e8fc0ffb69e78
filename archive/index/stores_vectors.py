"""The passage vectors as a store of the generation (:mod:`archive.index.dense` holds them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..document import Document
from .store_protocol import BaseStore, Change, Collected, Full, Sides, Sink, Written

if TYPE_CHECKING:
    from ..encoders.base import Encoder
    from .manifest import Manifest


class Vectors(BaseStore):
    """The passage vectors (:mod:`archive.index.dense`), numbered as the term index numbers the articles.

    Embeddings go through the ``cache`` beside the index; at most
    ``inline_max`` uncached passages are embedded by a write, more are left
    pending (:mod:`archive.writing.embedding`). Checking needs none of them.
    """

    name = "dense"

    def __init__(self, cache: Path | None = None, encoder: Encoder | None = None, *, max_passages: int = 0,
                 inline_max: int | None = None, progress: Callable[[str, int, int | None], None] | None = None
                 ) -> None:
        self.cache, self.encoder, self.max_passages = cache, encoder, max_passages
        self.inline_max, self.progress = inline_max, progress

    def writer(self, generation: Path, full: Full) -> Sink:
        return Collected(lambda docs: self._write(generation, docs))

    def append(self, generation: Path, change: Change) -> Written:
        return self._write(generation, change.index, change, renumber=False)

    def compact(self, generation: Path, change: Change) -> Written:
        return self._write(generation, change.index, change, renumber=True)

    def _write(self, generation: Path, documents: Sequence[Document], change: Change | None = None, *,
               renumber: bool = False) -> Written:
        from .dense import DenseIndex, write_dense
        from .embcache import EmbeddingCache

        encoder = self.encoder
        assert encoder is not None and self.cache is not None, "a vector store written without its encoder"

        def embed_progress(done: int, total: int) -> None:
            if self.progress is not None:
                self.progress("embed", done, total)

        with EmbeddingCache(self.cache, encoder.name, encoder.dim) as cache:
            result = write_dense(
                generation / self.name, list(documents), encoder.encode_passages, cache,
                dim=encoder.dim, max_passages=self.max_passages, inline_max=self.inline_max,
                progress=embed_progress, base=DenseIndex(change.live / self.name) if change is not None else None,
                keep=change.keep if change is not None else None, renumber=renumber,
            )
        return Written(dense=result)

    def ordinals(self, generation: Path) -> int | None:
        from .dense import DenseIndex

        return len(DenseIndex(generation / self.name).ids)

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        from .dense import DEAD, DenseIndex

        path = generation / self.name
        dense = sides.read(path, lambda: DenseIndex(path).with_graph())
        if dense is None:
            return
        sides.ids["dense"] = set(dense.ids)
        order, live = sides.order, sides.live
        if order is not None and live is not None:
            if dense.ids != order and sides.ids["dense"] == set(order):
                sides.problem(path, "numbers the articles differently from the term index")
            elif dense.ids == order:
                sides.ids["dense"] = sides.ids["terms"]  # the same numbering: its live articles are the term index's
                rows = dense.rows.doc[dense.rows.doc != DEAD]
                on_dead = int(np.count_nonzero(~live[rows])) + int(np.count_nonzero(~live[dense.pending.doc]))
                if on_dead:
                    sides.problem(path, f"holds {on_dead} passage(s) of deleted articles not marked dead")
        if len(dense) - dense.dead != manifest.passages:
            sides.problem(path, f"holds {len(dense) - dense.dead} passages, the manifest says {manifest.passages}")
        if len(dense.pending) != manifest.pending:
            sides.problem(path, f"lists {len(dense.pending)} passages to embed, the manifest says {manifest.pending}")
        leads_pending = dense.pending.leads()
        leads = int(((dense.rows.doc != DEAD) & (dense.rows.rank == 0)).sum()) + leads_pending
        if (leads, leads_pending) != (manifest.leads, manifest.leads_pending):
            sides.problem(path, f"holds {leads} article leads, {leads_pending} of them to embed; the manifest says "
                                f"{manifest.leads}, {manifest.leads_pending} of them to embed")

