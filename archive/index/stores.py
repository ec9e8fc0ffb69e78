"""The stores of a generation behind one interface, so every writer and ``archive check`` loops over them.

A generation holds seven stores of the same articles: the document store
(``docs.sqlite``, every article, folded copies included), Whoosh (word
positions, for phrases), the term index (ranks every query, and owns the
numbering: ordinals and the live mask), the filter columns, the spelling
variants learned from them, the near-copies
store and, with an encoder, the passage vectors. Each implements
:class:`Store`: written whole from the indexed articles (a full build), or
carried over from the live generation with a :class:`Change` applied, either
by appending (deleted articles keep their ordinals, marked dead) or by
compacting (every store renumbered without the dead, as the term index
decides: :func:`numbering`); each names the files it owns and verifies itself
for ``archive check``. The writers (:mod:`archive.writing.building`,
:mod:`archive.writing.increment`) and :mod:`archive.index.check` only loop
over :func:`stores`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..document import Document
from ..errors import IndexFormatError
from .columns import Columns, ColumnsBuilder, author_keys
from .layout import link_files
from .lexical import open_whoosh
from .schema import make_schema
from .store import DocumentStore
from .terms import COMPACT_SHARE, TermIndex, TermIndexBuilder
from .variants import VARIANTS_NAME, VariantClasses
from .workers import GuardedMpWriter

if TYPE_CHECKING:
    from ..encoders.base import Encoder
    from .check import Sides
    from .dense import DenseBuild
    from .manifest import Manifest

@dataclass(frozen=True, slots=True)
class Full:
    """What a whole write gives every store."""

    documents: Sequence[Document]
    """Every stored article, in order (folded copies included)."""
    aliases: Mapping[str, str]
    """``{copy id: indexed id}`` of the folded copies."""
    tombstones: Mapping[str, str]
    """``{id: when}`` of the articles the user deleted (carried over)."""


@dataclass(frozen=True, slots=True)
class Change:
    """What an increment gives every store: the live generation and what changes in it."""

    live: Path
    """The live generation every store is carried over from (verified by the caller)."""
    index: Sequence[Document]
    """Articles (re)indexed, appended after the last ordinal in this order."""
    unindex: Sequence[str]
    """Ids taken out of the indexes (deleted, changed, or now a folded copy)."""
    keep: np.ndarray
    """Per ordinal of the live generation: the article stays (False for those deleted now or before)."""
    dead: Sequence[int]
    """Ordinals deleted now (marked dead when appending)."""
    gone: int
    """Dead ordinals once ``dead`` are marked: dropped when the change compacts."""
    compact: bool
    """The change renumbers every store without the dead (see :func:`numbering`)."""
    delete: set[str] = field(default_factory=set)
    """Document-store rows removed (deleted ids and the old rows of changed ones)."""
    insert: Sequence[Document] = ()
    """Document-store rows inserted (new and changed articles)."""
    inserted_aliases: Mapping[str, str] = field(default_factory=dict)
    canonical: Mapping[str, str | None] = field(default_factory=dict)
    """Unchanged rows whose canonical id changes (promotions, new copies)."""
    lifted: set[str] = field(default_factory=set)
    """Tombstones lifted (restored articles)."""
    tombstoned: Mapping[str, str] = field(default_factory=dict)
    """Tombstones added: ``{id: when}``."""


def numbering(live: Path, unindex: Sequence[str], added: int) -> tuple[np.ndarray, list[int], int, bool]:
    """``(keep, dead, gone, compact)`` of a change to ``live`` (see :class:`Change`), from its term index.

    Deleted articles keep their ordinals, marked dead, until the dead would
    pass :data:`~archive.index.terms.COMPACT_SHARE` of the ordinals: then the
    change compacts every store.
    """
    terms = TermIndex(live / "terms")
    try:
        ordinals = terms.ordinals()
        dead = sorted({ordinals[i] for i in unindex if i in ordinals})
        keep = terms.live_mask()
    finally:
        terms.close()
    keep[dead] = False
    gone = len(keep) - int(np.count_nonzero(keep))
    return keep, dead, gone, gone > COMPACT_SHARE * (len(keep) + added)


@dataclass(frozen=True, slots=True)
class Written:
    """What one store's write did: the live articles it holds (``None``: it does not count them), and more."""

    articles: int | None = None
    dense: DenseBuild | None = None
    stories: int = 0
    copies: int = 0
    classes: int = 0
    seconds: float = 0.0


class Sink(Protocol):
    """A store being written whole: given the indexed articles one by one, then closed (or cancelled)."""

    def add(self, doc: Document) -> None: ...
    def close(self) -> Written: ...
    def cancel(self) -> None: ...


class Store(Protocol):
    """One store of a generation (see the module)."""

    name: str
    """Its file or folder in a generation."""

    def writer(self, generation: Path, full: Full) -> Sink:
        """Start writing the store whole into ``generation``; the indexed articles come through the sink."""

    def append(self, generation: Path, change: Change) -> Written:
        """Write the store into ``generation`` as ``change.live``'s with ``change.dead`` marked dead and
        ``change.index`` appended (no ordinal moves)."""

    def compact(self, generation: Path, change: Change) -> Written:
        """The same, renumbered: only the ``change.keep`` ordinals, in order, then ``change.index``."""

    def files(self, generation: Path) -> list[Path]:
        """The files of ``generation`` this store owns."""

    def ordinals(self, generation: Path) -> int | None:
        """Ordinals the store numbers (the term index's numbering), ``None`` when it is not numbered so."""

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        """Read the store whole and record its articles and problems in ``sides`` (``archive check``)."""


class _Base:
    """What every store shares: its files, and compacting as appending (stores keyed by id, not ordinal)."""

    name = ""

    def files(self, generation: Path) -> list[Path]:
        path = generation / self.name
        return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] * path.is_file()

    def ordinals(self, generation: Path) -> int | None:
        return None

    def append(self, generation: Path, change: Change) -> Written:
        raise NotImplementedError

    def compact(self, generation: Path, change: Change) -> Written:
        return self.append(generation, change)


class _Collected:
    """A sink that keeps the articles and writes them all when closed (stores that need every one)."""

    def __init__(self, finish: Callable[[list[Document]], Written]) -> None:
        self.documents: list[Document] = []
        self._finish = finish

    def add(self, doc: Document) -> None:
        self.documents.append(doc)

    def close(self) -> Written:
        return self._finish(self.documents)

    def cancel(self) -> None:
        self.documents = []


class Records(_Base):
    """The document store (:mod:`archive.index.store`): every article, folded copies and deletes included."""

    name = "docs.sqlite"

    def writer(self, generation: Path, full: Full) -> Sink:
        store = DocumentStore.create(generation / self.name)
        store.add_many(full.documents, dict(full.aliases))
        store.add_tombstones(dict(full.tombstones))
        store.commit()
        store.close()
        return _Collected(lambda docs: Written())

    def append(self, generation: Path, change: Change) -> Written:
        store = DocumentStore.copy(change.live / self.name, generation / self.name)
        store.delete_many(change.delete)
        store.add_many(change.insert, dict(change.inserted_aliases))
        store.set_canonical(dict(change.canonical))
        store.remove_tombstones(change.lifted)
        store.add_tombstones(dict(change.tombstoned))
        store.commit()
        store.close()
        return Written()

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        def read() -> tuple[set[str], int]:
            store = DocumentStore.open(generation / self.name)
            try:
                return store.check()
            finally:
                store.close()

        found = sides.read(generation / self.name, read)
        if found is not None:
            sides.ids["store"], aliases = found
            if aliases != manifest.aliases:
                sides.problem(generation / self.name,
                              f"holds {aliases} folded duplicates, the manifest says {manifest.aliases}")


_ZERO = datetime(2000, 1, 1) - datetime(2000, 1, 1)


def whoosh_fields(doc: Document) -> dict[str, object]:
    """The fields Whoosh indexes of ``doc`` (:func:`archive.index.schema.make_schema`)."""
    fields: dict[str, object] = {"id": doc.id, "title": doc.title, "body": doc.body}
    if doc.published is not None:
        fields["published"] = doc.published.replace(tzinfo=None) - (doc.published.utcoffset() or _ZERO)
    if doc.source:
        fields["source"] = doc.source.replace(",", " ")
    if doc.category:
        fields["category"] = doc.category.replace(",", " ")
    if doc.author:
        fields["author"] = ",".join(author_keys(doc.author))
    return fields


class Whoosh(_Base):
    """Whoosh: word positions for phrases. It keeps its own deletions, by id, and no ordinals."""

    name = "lexical"

    def __init__(self, procs: int | None = None) -> None:
        self.procs = procs

    def writer(self, generation: Path, full: Full) -> Sink:
        """Whoosh's writer; ``procs`` > 1 uses its multiprocessing writer (one sub-writer per core,
        segments left unmerged: merging costs more than it saves at query time for a few segments).
        Segments are separate files, not Whoosh's compound file: a reader copies a whole compound
        file into memory, while separate files are read as needed."""
        from whoosh import index as whoosh_index

        directory = generation / self.name
        directory.mkdir(parents=True, exist_ok=False)
        ix = whoosh_index.create_in(str(directory), make_schema())
        procs = self.procs if self.procs is not None else min(2, os.cpu_count() or 1)
        if procs > 1:  # with workers that die with this process (archive.index.workers)
            writer = GuardedMpWriter(ix, procs=procs, limitmb=256, multisegment=True, batchsize=256, compound=False)
        else:
            writer = ix.writer(limitmb=256, compound=False)
        return _WhooshSink(writer)

    def append(self, generation: Path, change: Change) -> Written:
        """Whoosh never rewrites a file once written (a segment is immutable, its deletions live in the
        table of contents), so the new index starts as hard links to the live one's files and the
        change costs what it adds and deletes; the live files stay exactly as they were."""
        source, directory = change.live / self.name, generation / self.name
        open_whoosh(source)  # a damaged or tampered table of contents is named in the source, not its copy
        link_files(source, directory)
        ix = open_whoosh(directory)
        writer = ix.writer(limitmb=256, compound=False)
        try:
            for doc_id in change.unindex:
                writer.delete_by_term("id", doc_id)
            for doc in change.index:
                writer.add_document(**whoosh_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()  # merges small segments into a new one; the big ones stay as they are
        return Written(ix.doc_count())  # from the new table of contents: no segment is opened

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        from .lexical import LexicalIndex

        def read() -> set[str]:
            lexical = LexicalIndex(generation / self.name)
            try:
                return {fields["id"] for fields in lexical.searcher.reader().all_stored_fields()}
            finally:
                lexical.close()

        found = sides.read(generation / self.name, read)
        if found is not None:
            sides.ids["whoosh"] = found


class _WhooshSink:
    def __init__(self, writer: object) -> None:
        self._writer = writer
        self._count = 0

    def add(self, doc: Document) -> None:
        self._writer.add_document(**whoosh_fields(doc))  # type: ignore[attr-defined]
        self._count += 1

    def close(self) -> Written:
        self._writer.commit()  # type: ignore[attr-defined]
        return Written(self._count)

    def cancel(self) -> None:
        self._writer.cancel()  # type: ignore[attr-defined]


class Terms(_Base):
    """The term index (:mod:`archive.index.terms`): ranks every query and owns the numbering."""

    name = "terms"

    def writer(self, generation: Path, full: Full) -> Sink:
        builder = TermIndexBuilder()

        class _Sink:
            add = staticmethod(builder.add)

            def close(self) -> Written:
                builder.write(generation / Terms.name)
                return Written(len(builder.ids))

            def cancel(self) -> None:
                pass

        return _Sink()

    def append(self, generation: Path, change: Change) -> Written:
        return Written(self._live(change, lambda t: t.appended(generation / self.name, change.dead, change.index)))

    def compact(self, generation: Path, change: Change) -> Written:
        return Written(self._live(change, lambda t: t.updated(generation / self.name, change.keep, change.index)))

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


class FilterColumns(_Base):
    """The filter columns (:mod:`archive.index.columns`): one row per ordinal, as the term index numbers them."""

    name = "columns"

    def writer(self, generation: Path, full: Full) -> Sink:
        builder = ColumnsBuilder()

        class _Sink:
            add = staticmethod(builder.add)

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


class NearCopies(_Base):
    """The near-copies store (:mod:`archive.index.near`), keyed by id: one row per indexed article."""

    name = "near"

    def writer(self, generation: Path, full: Full) -> Sink:
        from ..writing.folding import near_store

        return _Collected(lambda docs: self._write(generation, lambda _: near_store(docs), None))

    def append(self, generation: Path, change: Change) -> Written:
        from ..writing.folding import updated_near_store

        return self._write(generation, lambda near: updated_near_store(
            near, change.unindex, change.index, lambda: _indexed(generation)), change.live)

    def _write(self, generation: Path, make: Callable[[object], object], live: Path | None) -> Written:
        from .near import NearStore

        started = time.perf_counter()
        store = make(NearStore.read(live) if live is not None else None)
        store.write(generation)  # type: ignore[attr-defined]
        clusters = store.clusters()  # type: ignore[attr-defined]
        return Written(stories=len(clusters), copies=sum(len(c) for c in clusters),
                       seconds=time.perf_counter() - started)

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        from .near import NearStore

        near = sides.read(generation / self.name, lambda: NearStore.read(generation))
        if near is not None:
            sides.ids["near"] = set(near.ids)
        elif not (generation / self.name).exists():
            sides.notes.append(f"{generation / self.name}: no near copies store (built before copies were folded): "
                               "searches show every copy until the next build, add or delete writes it")


def _indexed(generation: Path) -> list[Document]:
    """Every indexed article of ``generation`` (being written: its document store is written first)."""
    store = DocumentStore.open(generation / Records.name)
    try:
        return list(store.documents())
    finally:
        store.close()


class _After:
    """A sink that needs no article: it writes when closed, from the stores written before it."""

    def __init__(self, finish: Callable[[], Written]) -> None:
        self._finish = finish

    def add(self, doc: Document) -> None:
        pass

    def close(self) -> Written:
        return self._finish()

    def cancel(self) -> None:
        pass


class SpellingVariants(_Base):
    """The spelling-variant classes (:mod:`archive.index.variants`), learned from the generation's term
    index and source column once they are written. Every write learns them again from the live
    articles (an increment as a build does), so they never depend on the order articles came in."""

    name = VARIANTS_NAME

    def writer(self, generation: Path, full: Full) -> Sink:
        return _After(lambda: self._learn(generation))

    def append(self, generation: Path, change: Change) -> Written:
        return self._learn(generation)

    def _learn(self, generation: Path) -> Written:
        from ..writing.variants import learn_generation

        classes, seconds = learn_generation(generation)
        return Written(classes=len(classes), seconds=seconds)

    def verify(self, generation: Path, manifest: Manifest, sides: Sides) -> None:
        path = generation / self.name
        if sides.read(path, lambda: VariantClasses.read(generation)) is None and not path.exists():
            sides.notes.append(f"{path}: no spelling variants (built before they were learned): words are "
                               "searched as written until the next build, add or delete learns them")


class Vectors(_Base):
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
        return _Collected(lambda docs: self._write(generation, docs))

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
        dense = sides.read(path, lambda: DenseIndex(path))
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


def stores(*, procs: int | None = None, vectors: Vectors | None = None) -> list[Store]:
    """Every store of a generation, in the order they are written and verified: the document store
    first (the near-copies store reads it when rebuilt), the term index before the stores that follow
    its numbering, the spelling variants after the term index and the columns they are learned from;
    the vectors when the archive has an encoder."""
    return [Records(), Whoosh(procs), Terms(), FilterColumns(), SpellingVariants(),
            *([vectors] if vectors is not None else []), NearCopies()]


def write_all(generation: Path, full: Full, indexed: Iterable[Document],
              every: Sequence[Store]) -> dict[str, Written]:
    """Write ``every`` store whole into ``generation``: ``indexed`` (an iterable of the indexed articles)
    goes to each store in one pass (Whoosh's workers analyze while the term index does), then each
    store is closed in order. Every sink is cancelled if anything fails."""
    open_sinks: list[tuple[str, Sink]] = []
    try:
        for store in every:
            open_sinks.append((store.name, store.writer(generation, full)))
        for doc in indexed:
            for _, sink in open_sinks:
                sink.add(doc)
        results = {}
        while open_sinks:
            name, sink = open_sinks[0]
            results[name] = sink.close()
            open_sinks.pop(0)
        return results
    except BaseException:
        for _, sink in open_sinks:
            sink.cancel()
        raise


def apply_all(generation: Path, change: Change, every: Sequence[Store]) -> dict[str, Written]:
    """Carry ``every`` store of ``change.live`` into ``generation`` with ``change`` applied, appended or
    compacted as ``change.compact`` says; fails when the stores that count their articles disagree."""
    results = {store.name: (store.compact if change.compact else store.append)(generation, change)
               for store in every}
    counts = {name: r.articles for name, r in results.items() if r.articles is not None}
    if len(set(counts.values())) > 1:
        raise IndexFormatError(f"{change.live / 'lexical'}: the Whoosh and term indexes disagree "
                               f"({', '.join(f'{n}: {c}' for n, c in counts.items())}). Fix: archive build --full")
    return results


def few(ids: Sequence[str], shown: int = 5) -> str:
    """Up to ``shown`` ids, quoted, for a message."""
    return ", ".join(repr(i) for i in ids[:shown]) + (", ..." if len(ids) > shown else "")
