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

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from ..document import Document
from ..text.analysis import analyze_document
from ..errors import IndexFormatError
from .store_protocol import Change, Full, Sink, Store, Written, few, numbering
from .stores_keyed import Records, Whoosh, whoosh_fields
from .stores_learned import NearCopies, SpellingVariants
from .stores_numbered import FilterColumns, Terms
from .stores_vectors import Vectors

__all__ = ["Change", "FilterColumns", "Full", "NearCopies", "Records", "Sink", "SpellingVariants", "Store", "Terms",
           "Vectors", "Whoosh", "Written", "apply_all", "few", "numbering", "stores", "whoosh_fields", "write_all"]


def stores(*, procs: int | None = None, vectors: Vectors | None = None) -> list[Store]:
    """Every store of a generation, in the order they are written and verified: the document store
    first (the near-copies store reads it when rebuilt), the term index before the stores that follow
    its numbering, the spelling variants after the term index and the columns they are learned from;
    the vectors when the archive has an encoder."""
    return [Records(), Whoosh(procs), Terms(), FilterColumns(), SpellingVariants(),
            *([vectors] if vectors is not None else []), NearCopies()]


def write_all(generation: Path, full: Full, indexed: Iterable[Document],
              every: Sequence[Store]) -> dict[str, Written]:
    """Write ``every`` store whole into ``generation``: each of ``indexed`` (an iterable of the indexed
    articles) is analyzed once and goes with its words to each store in one pass, then each store is
    closed in order. Every sink is cancelled if anything fails."""
    open_sinks: list[tuple[str, Sink]] = []
    try:
        for store in every:
            open_sinks.append((store.name, store.writer(generation, full)))
        for doc in indexed:
            words = analyze_document(doc.title, doc.body)
            for _, sink in open_sinks:
                sink.add(doc, words)
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
    compacted as ``change.compact`` says, the articles it indexes analyzed once for every store; fails
    when the stores that count their articles disagree."""
    if len(change.words) != len(change.index):
        change = replace(change, words=[analyze_document(d.title, d.body) for d in change.index])
    results = {store.name: (store.compact if change.compact else store.append)(generation, change)
               for store in every}
    counts = {name: r.articles for name, r in results.items() if r.articles is not None}
    if len(set(counts.values())) > 1:
        raise IndexFormatError(f"{change.live / 'lexical'}: the Whoosh and term indexes disagree "
                               f"({', '.join(f'{n}: {c}' for n, c in counts.items())}). Fix: archive build --full")
    return results

