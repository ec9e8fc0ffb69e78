"""The stores keyed by article id: the document store (every article whole) and Whoosh (word positions).

Neither numbers the articles by ordinal: compacting them is appending
(:class:`~archive.index.store_protocol.BaseStore`).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..document import Document
from ..text.analysis import DocumentWords, analyze_document
from .columns import author_keys
from .links import link_files
from .lexical import open_whoosh
from .schema import make_schema
from .store import DocumentStore
from .store_protocol import BaseStore, Change, Collected, Full, Sides, Sink, Written
from .workers import GuardedMpWriter

if TYPE_CHECKING:
    from .manifest import Manifest


class Records(BaseStore):
    """The document store (:mod:`archive.index.store`): every article, folded copies and deletes included."""

    name = "docs.sqlite"

    def writer(self, generation: Path, full: Full) -> Sink:
        store = DocumentStore.create(generation / self.name)
        store.add_many(full.documents, dict(full.aliases))
        store.add_tombstones(dict(full.tombstones))
        store.commit()
        store.close()
        return Collected(lambda docs: Written())

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


def whoosh_fields(doc: Document, words: DocumentWords | None = None) -> dict[str, object]:
    """The fields Whoosh indexes of ``doc`` (:func:`archive.index.schema.make_schema`). The title and body
    go as their terms (``words``, analyzed once per write, or analyzed here): Whoosh takes a list as
    a field's tokens in order, positions counted from 0, as its analyzer
    (:class:`~archive.index.schema.ArabicTokenizer`) would have made them from the text."""
    if words is None:
        words = analyze_document(doc.title, doc.body)
    fields: dict[str, object] = {"id": doc.id, "title": words.title.terms, "body": words.body.terms}
    if doc.published is not None:
        fields["published"] = doc.published.replace(tzinfo=None) - (doc.published.utcoffset() or _ZERO)
    if doc.source:
        fields["source"] = doc.source.replace(",", " ")
    if doc.category:
        fields["category"] = doc.category.replace(",", " ")
    if doc.author:
        fields["author"] = ",".join(author_keys(doc.author))
    return fields


class Whoosh(BaseStore):
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
            for doc, words in zip(change.index, change.words, strict=True):
                writer.add_document(**whoosh_fields(doc, words))
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

    def add(self, doc: Document, words: DocumentWords) -> None:
        self._writer.add_document(**whoosh_fields(doc, words))  # type: ignore[attr-defined]
        self._count += 1

    def close(self) -> Written:
        self._writer.commit()  # type: ignore[attr-defined]
        return Written(self._count)

    def cancel(self) -> None:
        self._writer.cancel()  # type: ignore[attr-defined]

