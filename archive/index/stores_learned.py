"""The stores learned from the indexed articles: the near copies and the spelling-variant classes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..document import Document
from ..text.analysis import DocumentWords
from .store import DocumentStore
from .store_protocol import BaseStore, Change, Collected, Full, Sides, Sink, Written
from .stores_keyed import Records
from .near import NearStore
from . import near_build
from .near_build import NearJob, start_near_store, updated_near_store
from .variants import VARIANTS_NAME, VariantClasses
from .variants_build import learn_generation

if TYPE_CHECKING:
    from .manifest import Manifest


class NearCopies(BaseStore):
    """The near-copies store (:mod:`archive.index.near`), keyed by id: one row per indexed article."""

    name = "near"

    def writer(self, generation: Path, full: Full) -> Sink:
        indexed = [d for d in full.documents if d.id not in full.aliases]  # what the build indexes, in order
        job = start_near_store(indexed)
        return _Folding(job, lambda docs: self._write(generation, lambda _: _folded(job, docs), None, job))

    def append(self, generation: Path, change: Change) -> Written:
        return self._write(generation, lambda near: updated_near_store(
            near, change.unindex, change.index, lambda: _indexed(generation)), change.live)

    def _write(self, generation: Path, make: Callable[[object], object], live: Path | None,
               job: NearJob | None = None) -> Written:
        started = time.perf_counter()
        store = make(NearStore.read(live) if live is not None else None)
        store.write(generation)  # type: ignore[attr-defined]
        clusters = store.clusters()  # type: ignore[attr-defined]
        return Written(stories=len(clusters), copies=sum(len(c) for c in clusters),
                       seconds=job.seconds if job is not None else time.perf_counter() - started)

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        near = sides.read(generation / self.name, lambda: NearStore.read(generation))
        if near is not None:
            sides.ids["near"] = set(near.ids)
        elif not (generation / self.name).exists():
            sides.notes.append(f"{generation / self.name}: no near copies store (built before copies were folded): "
                               "searches show every copy until the next build, add or delete writes it")


class _Folding(Collected):
    """The near-copies sink of a full build: its articles, known from :class:`Full` when the write starts,
    are folded by a :class:`~archive.index.near_build.NearJob` while the other stores index them; the
    articles streamed in are kept to check, at close, that they are the ones folded."""

    def __init__(self, job: NearJob, finish: Callable[[list[Document]], Written]) -> None:
        super().__init__(finish)
        self.job = job

    def cancel(self) -> None:
        self.job.cancel()
        super().cancel()


def _folded(job: NearJob, streamed: list[Document]) -> object:
    """The job's store when it folded the ``streamed`` articles (the same ids in the same order); otherwise
    (a writer streaming other articles than :class:`Full` lists) the job is dropped and they are folded here."""
    if [d.id for d in job.documents] == [d.id for d in streamed]:
        return job.result()
    job.cancel()
    job.seconds = 0.0
    started = time.perf_counter()
    store = near_build.near_store(streamed)  # looked up when called: a benchmark swaps it for none
    job.seconds = time.perf_counter() - started
    return store


def _indexed(generation: Path) -> list[Document]:
    """Every indexed article of ``generation`` (being written: its document store is written first)."""
    store = DocumentStore.open(generation / Records.name)
    try:
        return list(store.documents())
    finally:
        store.close()


class After:
    """A sink that needs no article: it writes when closed, from the stores written before it."""

    def __init__(self, finish: Callable[[], Written]) -> None:
        self._finish = finish

    def add(self, doc: Document, words: DocumentWords) -> None:
        pass

    def close(self) -> Written:
        return self._finish()

    def cancel(self) -> None:
        pass


class SpellingVariants(BaseStore):
    """The spelling-variant classes (:mod:`archive.index.variants`), learned from the generation's term
    index and source column once they are written. Every write learns them again from the live
    articles (an increment as a build does), so they never depend on the order articles came in."""

    name = VARIANTS_NAME

    def writer(self, generation: Path, full: Full) -> Sink:
        return After(lambda: self._learn(generation))

    def append(self, generation: Path, change: Change) -> Written:
        return self._learn(generation)

    def _learn(self, generation: Path) -> Written:
        classes, seconds = learn_generation(generation)
        return Written(classes=len(classes), seconds=seconds)

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        path = generation / self.name
        if sides.read(path, lambda: VariantClasses.read(generation)) is None and not path.exists():
            sides.notes.append(f"{path}: no spelling variants (built before they were learned): words are "
                               "searched as written until the next build, add or delete learns them")

