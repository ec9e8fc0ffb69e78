"""Writing whole index generations: deduplication, change counts, lexical and dense sides.

A first build, ``--full``, and a re-build that changes more than a quarter of
the archive write one complete new generation from the full set of documents
here, and commit it atomically (:mod:`archive.layout`): the two-process
Whoosh writer does ~800 ANT articles/s and the dense side reuses every cached
embedding. Smaller changes (``add``, ``delete``, a daily re-build) go through
:mod:`archive.increment`, which patches a copy of the live generation instead.
Either way the lexical and dense sides come from the same document list in
the same generation, so they never disagree; when nothing changed, nothing
is written.

Duplicates: documents whose bodies are identical after normalization are
folded: the first one (in input order) is indexed, the others are kept in the
store as aliases of it, listed by ``archive show`` and counted by ``stats``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from .document import Document
from .encoders.base import Encoder
from .integrity import file_table
from .lexical import write_index
from .manifest import Manifest
from .store import DocumentStore

CACHE_NAME = "embeddings.sqlite"

Progress = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called as a build advances (total None when unknown)."""


@dataclass(slots=True)
class BuildReport:
    """What a write did: counts, and every input it could not take, with the reason."""

    indexed: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    folded: int = 0
    written: bool = False
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0


def unique_ids(documents: Iterable[Document], report: BuildReport) -> list[Document]:
    """Documents with their first occurrence per id; later ones are reported as skipped."""
    seen: dict[str, str] = {}
    kept = []
    for doc in documents:
        if doc.id in seen:
            report.skipped.append(
                f"{doc.origin or doc.id}: duplicate id {doc.id!r} "
                f"(first read from {seen[doc.id] or 'earlier'}); kept the first"
            )
            continue
        seen[doc.id] = doc.origin
        kept.append(doc)
    return kept


def fold_duplicates(documents: list[Document]) -> tuple[list[Document], dict[str, str]]:
    """``(canonical documents, {alias id: canonical id})`` by identical normalized body."""
    first: dict[str, str] = {}
    canonical: list[Document] = []
    aliases: dict[str, str] = {}
    for doc in documents:
        key = doc.body_key
        if key in first:
            aliases[doc.id] = first[key]
        else:
            first[key] = doc.id
            canonical.append(doc)
    return canonical, aliases


def count_changes(previous: dict[str, str] | None, documents: list[Document], report: BuildReport) -> bool:
    """Fill added/updated/unchanged/deleted from ``{id: hash}`` of the live index; True if any change."""
    previous = previous or {}
    current = {d.id: d.content_hash for d in documents}
    for doc_id, digest in current.items():
        if doc_id not in previous:
            report.added += 1
        elif previous[doc_id] != digest:
            report.updated += 1
        else:
            report.unchanged += 1
    report.deleted = sum(1 for doc_id in previous if doc_id not in current)
    return bool(report.added or report.updated or report.deleted)


def _counted(documents: Iterable[Document], progress: Progress | None) -> Iterator[Document]:
    for n, doc in enumerate(documents, 1):
        if progress is not None and n % 100 == 0:
            progress("index", n, None)
        yield doc


def write_generation(
    root: Path,
    documents: list[Document],
    *,
    encoder: Encoder | None,
    encoder_spec: str | None,
    report: BuildReport,
    progress: Progress | None = None,
    procs: int | None = None,
    built_at: str | None = None,
) -> None:
    """Write ``documents`` (unique ids) as a new generation of ``root`` and commit it.

    The caller holds the writer lock. On any failure the new generation is
    discarded and the live one is untouched.
    """
    started = time.perf_counter()
    canonical, aliases = fold_duplicates(documents)
    report.folded = len(aliases)
    generation = layout.new_generation(root)
    try:
        store = DocumentStore.create(generation / "docs.sqlite")
        store.add_many(documents, aliases)
        store.commit()
        store.close()
        report.indexed = write_index(generation / "lexical", _counted(canonical, progress), procs=procs)
        if progress is not None:
            progress("index", report.indexed, report.indexed)
        manifest = Manifest(documents=report.indexed, aliases=len(aliases))
        if built_at:
            manifest.built_at = built_at
        if encoder is not None:
            write_dense_side(root, generation, canonical, encoder, report, progress)
            from .dense import passage_settings

            manifest.encoder = encoder.name
            manifest.encoder_spec = encoder_spec or encoder.name
            manifest.dim = encoder.dim
            manifest.passages = report.passages
            manifest.passage_settings = passage_settings()
        manifest.files = file_table(generation)
        manifest.write(generation)
        report.warnings.extend(layout.commit_generation(root, generation))
    except BaseException:
        layout.discard_generation(generation)
        raise
    report.written = True
    report.seconds = time.perf_counter() - started


def write_dense_side(
    root: Path,
    generation: Path,
    documents: list[Document],
    encoder: Encoder,
    report: BuildReport,
    progress: Progress | None,
    *,
    base: Path | None = None,
    drop: frozenset[str] = frozenset(),
) -> None:
    """Write ``generation``'s dense side: ``documents``, plus ``base``'s rows minus ``drop`` when given.

    Embeddings go through the cache beside the index; fills the passage counts of ``report``.
    """
    from .dense import DenseIndex, write_dense
    from .embcache import EmbeddingCache

    def embed_progress(done: int, total: int) -> None:
        if progress is not None:
            progress("embed", done, total)

    with EmbeddingCache(root / CACHE_NAME, encoder.name, encoder.dim) as cache:
        result = write_dense(
            generation / "dense", documents, encoder.encode_passages, cache,
            dim=encoder.dim, progress=embed_progress,
            base=DenseIndex(base) if base is not None else None, drop=drop,
        )
    report.passages = result.passages
    report.embedded = result.stats.embedded
    report.reused = result.stats.reused
