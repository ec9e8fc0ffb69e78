"""Writing whole index generations: deduplication, change counts, lexical and dense sides.

A first build, ``--full``, and a re-build that changes more than a quarter of
the archive write one complete new generation from the full set of documents
here, and commit it atomically (:mod:`archive.index.layout`): the two-process
Whoosh writer does ~800 ANT articles/s and the dense side reuses every cached
embedding. Smaller changes (``add``, ``delete``, a daily re-build) go through
:mod:`archive.writing.increment`, which patches a copy of the live generation instead.
Either way the lexical and dense sides come from the same document list in
the same generation, so they never disagree; when nothing changed, nothing
is written.

Duplicates: documents whose bodies are identical after normalization are
folded: the first one (in input order) is indexed, the others are kept in the
store as aliases of it, listed by ``archive show`` and counted by ``stats``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..index import layout
from ..document import Document
from ..encoders.base import Encoder
from ..encoders.registry import engines_run
from ..errors import ArchiveError, IndexFormatError
from ..index.integrity import verify_sizes
from ..index.manifest import FORMAT_VERSION, Manifest
from ..index.store import DocumentStore
from ..index.stores import Full, Vectors, Written, stores, write_all
from ..index.variants import VARIANTS_NAME
from .choices import EmbeddingEstimate

if TYPE_CHECKING:
    from .ray_embed import EmbedJobStats

CACHE_NAME = "embeddings.sqlite"
EMBED_INLINE_MAX = 256
"""A write embeds this many uncached passages before it commits; with more to embed it commits
the words first (searchable at once) and leaves the passages to :mod:`archive.writing.embedding`."""

Progress = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called as a build advances (total None when unknown)."""


@dataclass(slots=True)
class BuildReport:
    """What a write did: counts, and every input it could not take, with the reason.

    The articles read add up: ``read == added + updated + unchanged + skipped_count``, where
    the skipped are named: ``folded`` (identical text to an indexed article: stored as its copy),
    ``duplicate_ids`` and ``tombstoned`` (deleted earlier). ``deleted`` and ``kept`` are about
    the articles of the archive this write did not read.
    """

    indexed: int = 0
    """Articles the archive indexes once the write is done (folded copies not counted)."""
    read: int = 0
    """Articles this write was given (read from the sources), every one counted below."""
    added: int = 0
    """Read articles new to the archive, indexed as articles of their own."""
    updated: int = 0
    """Read articles whose stored version differed: replaced."""
    unchanged: int = 0
    """Read articles identical to their stored version: left as they were."""
    duplicate_ids: int = 0
    """Read articles skipped because an earlier one had the same id (listed in ``skipped``)."""
    tombstoned: int = 0
    """Read articles a build skipped because the user deleted them (``archive delete``): their ids
    are in ``tombstoned_ids``; ``Archive.restore`` (``archive restore ID``) brings one back."""
    tombstoned_ids: list[str] = field(default_factory=list)
    restored: int = 0
    """Articles deleted earlier that this write brought back (``restore``, or an explicit ``add``)."""
    deleted: int = 0
    kept: int = 0
    """Articles no source of this build holds, kept (their files are not under its sources, or
    still exist); ``prune`` removes them."""
    deletions: dict[str, int] = field(default_factory=dict)
    """How many articles are removed, by their source file (and why), for the messages."""
    folded: int = 0
    """Read articles new to the archive whose text is identical to an indexed article's: stored
    as its copy (``archive show`` lists them), not indexed again."""
    written: bool = False
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passages: int = 0
    """Passages with a vector once the write is done."""
    pending: int = 0
    """Passages still to embed when the write stopped (``archive embed`` goes on)."""
    leads: int = 0
    leads_pending: int = 0
    embedded: int = 0
    reused: int = 0
    compacted: int = 0
    """Vector rows of removed articles dropped by rebuilding the passage graph (see archive.index.dense.grown)."""
    renumbered: int = 0
    """Deleted articles whose ordinals a compaction dropped: the term index, columns and vectors were
    renumbered without them (see archive.index.lexical.update_index); 0 when deletes only marked them dead."""
    checkpoints: int = 0
    """Generations committed while passages were being embedded (:mod:`archive.writing.embedding`)."""
    seconds: float = 0.0
    """Wall time of the whole write, from the first article read to the last commit (embedding included)."""
    copies: int = 0
    """Indexed articles that are near copies of another (same story, small edits), once the write is done:
    grouped into ``stories`` groups (:mod:`archive.writing.folding`); searches show one per group."""
    stories: int = 0
    folding_seconds: float = 0.0
    """Wall time spent finding the near copies (signing the articles and judging the pairs)."""
    variant_classes: int = 0
    """Spelling-variant classes the archive holds once the write is done (:mod:`archive.writing.variants`)."""
    variants_seconds: float = 0.0
    """Wall time spent learning them (every write learns them again from the live articles)."""
    @property
    def skipped_count(self) -> int:
        """Read articles not added, updated or unchanged: folded copies, duplicate ids, deleted earlier."""
        return self.folded + self.duplicate_ids + self.tombstoned

    estimate: EmbeddingEstimate | None = None
    """What a planned build would embed and how long that takes (``Archive.plan``; ``None`` when it
    embeds nothing: a lexical-only archive)."""
    ray: EmbedJobStats | None = None
    """What the Ray job of a build or embed on Ray did (``ray=True``; ``None`` without one)."""


def unique_ids(documents: Iterable[Document], report: BuildReport) -> list[Document]:
    """Documents with their first occurrence per id; later ones are reported as skipped.

    Counts every document in ``report.read`` and the skipped ones in ``report.duplicate_ids``.
    """
    seen: dict[str, str] = {}
    kept = []
    for doc in documents:
        report.read += 1
        if doc.id in seen:
            report.duplicate_ids += 1
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


@dataclass(slots=True)
class LiveState:
    """What a build needs of the live index: its manifest and every stored article's state."""

    generation: Path
    manifest: Manifest
    entries: list[tuple[str, str, str, str | None]]
    """``(id, content hash, body key, canonical id)`` (:meth:`DocumentStore.entries`)."""
    files: dict[str, str]
    tombstones: dict[str, str]
    """``{id: when}`` of the articles the user deleted (a build does not bring them back)."""
    compatible: bool
    """Written with this code's settings, the build's encoder and passage settings: it can be patched."""


def read_live(
    root: Path, encoder: str | None, *, tolerate_damage: bool = False, max_passages: int | None = None
) -> LiveState | None:
    """The live index of ``root`` as a build sees it, or ``None`` when there is none it can read.

    ``encoder`` is the full name of the build's encoder (``None``: lexical only).
    An index of another format or encoder is still read (``compatible`` is
    then False): the build rewrites it whole, but counts against it and keeps
    the articles no source re-reads. A damaged one raises
    :class:`IndexDamagedError` (a plain build never writes over it silently:
    its articles from ``add`` could be lost), unless ``tolerate_damage``
    (``build --full``, the fix the error names) makes it count as absent.
    """
    try:
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation, check=False)
        if manifest.format_version == FORMAT_VERSION:
            verify_sizes(generation, manifest.files)
        entries, files, tombstones = _stored_state(generation)
    except IndexFormatError:  # damage, or a store newer than this code: never replaced unasked
        if tolerate_damage:
            return None
        raise
    except (ArchiveError, sqlite3.Error):
        return None
    try:
        manifest.check(generation)
        settings_match = True
    except IndexFormatError:
        settings_match = False
    same_encoder = manifest.encoder == encoder
    same_policy = max_passages is None or encoder is None or manifest.max_passages == max_passages
    return LiveState(generation, manifest, entries, files, tombstones,
                     settings_match and same_encoder and same_policy)


def live_to_change(root: Path) -> LiveState:
    """The live index of ``root`` for ``update``, ``delete`` and ``restore``: read once, manifest checked
    against this code's settings, files checked by size (the increment checks their checksums)."""
    generation = layout.current_generation(root)
    manifest = Manifest.read(generation)
    verify_sizes(generation, manifest.files)
    return LiveState(generation, manifest, *_stored_state(generation), compatible=True)


def _stored_state(generation: Path) -> tuple[list[tuple[str, str, str, str | None]], dict[str, str], dict[str, str]]:
    """``(entries, files, tombstones)`` of ``generation``'s document store, read at once."""
    store = DocumentStore.open(generation / "docs.sqlite")
    try:
        return store.entries(), store.files(), store.tombstones()
    finally:
        store.close()


def salvaged_tombstones(root: Path) -> dict[str, str]:
    """The deletes remembered by the live generation's store, read even when the rest of it is damaged.

    ``build --full`` rewrites a damaged index as if there were none; the
    user's deletes must survive that (a damaged live mask or vectors do not
    make the store unreadable). Empty when the store itself cannot be read.
    """
    try:
        store = DocumentStore.open(layout.current_generation(root) / "docs.sqlite")
        try:
            return store.tombstones()
        finally:
            store.close()
    except (ArchiveError, sqlite3.Error, OSError):
        return {}


@dataclass(slots=True)
class BuildPlan:
    """What a build changes against the live index."""

    changes: list[Document]
    """Read documents that are new or differ from their stored copy."""
    documents: list[Document]
    """Read documents the build takes (those the user deleted left out)."""
    delete: list[str]
    """Ids of stored articles to remove."""
    keep: list[str]
    """Ids of stored articles no source re-read, kept as they are."""


def plan_build(
    documents: Sequence[Document],
    live: LiveState | None,
    report: BuildReport,
    *,
    sources: Sequence[str] = (),
    prune: bool = False,
    tombstones: Mapping[str, str] | None = None,
) -> BuildPlan:
    """Compare what a build read with the live index, and fill ``report``'s counts.

    A stored article that this build did not read is removed only when
    ``prune`` asks for it, or when its own source file lies under one of
    ``sources`` (the paths this build read) and no longer exists: a file or
    a folder that could not be read this time, or articles that came from
    elsewhere (``archive add`` of another folder), are never a reason to
    delete anything. An article the user deleted (a tombstone in the live
    store) is skipped, counted in ``report.tombstoned``: reading its source
    again does not bring it back. ``tombstones`` defaults to the live
    store's (a ``build --full`` over a damaged index passes those it could
    still read: see :func:`salvaged_tombstones`).
    """
    if tombstones is None:
        tombstones = live.tombstones if live is not None else {}
    if tombstones:
        deleted = [d.id for d in documents if d.id in tombstones]
        if deleted:
            report.tombstoned, report.tombstoned_ids = len(deleted), deleted
            documents = [d for d in documents if d.id not in tombstones]
    if live is None:
        report.folded = len(documents) - len({d.body_key for d in documents})
        report.added = len(documents) - report.folded
        return BuildPlan(list(documents), list(documents), [], [])
    previous = {doc_id: digest for doc_id, digest, _, _ in live.entries}
    changes = [d for d in documents if previous.get(d.id) != d.content_hash]
    read = {d.id for d in documents}
    delete: list[str] = []
    keep: list[str] = []
    for doc_id in previous:
        if doc_id in read:
            continue
        file = live.files.get(doc_id, "")
        if prune:
            reason = f"{file or '(no source file)'} (not read by this build: --prune)"
        elif file and _under(file, sources) and not os.path.lexists(file):
            reason = f"{file} (file gone)"
        else:
            keep.append(doc_id)
            continue
        delete.append(doc_id)
        report.deletions[reason] = report.deletions.get(reason, 0) + 1
    report.added = sum(1 for d in changes if d.id not in previous)
    report.updated = len(changes) - report.added
    report.deleted = len(delete)
    report.kept = len(keep)
    report.unchanged = len(documents) - len(changes)  # the tombstoned ones are out of documents now
    report.folded = _new_copies(changes, live, previous, delete)
    report.added -= report.folded
    return BuildPlan(changes, list(documents), delete, keep)


def _new_copies(changes: Sequence[Document], live: LiveState, previous: dict[str, str], delete: list[str]) -> int:
    """How many new articles of ``changes`` are copies of an article before them (folded, not indexed)."""
    changed = {d.id for d in changes}
    gone = set(delete)
    seen = {key for doc_id, _, key, _ in live.entries if doc_id not in changed and doc_id not in gone}
    copies = 0
    for doc in changes:
        key = doc.body_key
        copies += doc.id not in previous and key in seen
        seen.add(key)
    return copies


def _under(file: str, sources: Sequence[str]) -> bool:
    """True when ``file`` is one of ``sources`` or lies in one of those folders."""
    return any(file == s or file.startswith(s.rstrip(os.sep) + os.sep) for s in sources)


def _counted(documents: Sequence[Document], progress: Progress | None) -> Iterator[Document]:
    """``documents``, reporting ``progress("index", done, total)`` from the first one (every 100) to the last."""
    if progress is not None:
        progress("index", 0, len(documents))
    for n, doc in enumerate(documents, 1):
        if progress is not None and n % 100 == 0:
            progress("index", n, len(documents))
        yield doc
    if progress is not None:
        progress("index", len(documents), len(documents))


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
    sources: Sequence[str] = (),
    max_passages: int | None = None,
    embedding_rate: float = 0.0,
    tombstones: dict[str, str] | None = None,
) -> None:
    """Write ``documents`` (unique ids) as a new generation of ``root`` and commit it.

    The caller holds the writer lock. On any failure the new generation is
    discarded and the live one is untouched. ``sources`` are recorded in the
    manifest; ``embedding_rate`` is the live archive's measured rate, and ``tombstones``
    its deleted ids, carried over.
    """
    canonical, aliases = fold_duplicates(documents)
    manifest = Manifest(documents=0, aliases=len(aliases), sources=list(sources), embedding_rate=embedding_rate)
    if built_at:
        manifest.built_at = built_at
    if encoder is not None:
        from ..index.dense import MAX_PASSAGES, passage_settings

        manifest.encoder = encoder.name
        manifest.encoder_spec = encoder_spec or encoder.name
        manifest.dim = encoder.dim
        manifest.passage_settings = passage_settings(max_passages or MAX_PASSAGES)
    every = stores(procs=procs, vectors=vectors_of(root, encoder, manifest, progress))
    with layout.transaction(root, manifest) as tx:
        full = Full(documents, aliases, tombstones or {})
        record(write_all(tx.path, full, _counted(canonical, progress), every), manifest, report, encoder)
    report.warnings.extend(tx.notes)
    report.written = True


def vectors_of(root: Path, encoder: Encoder | None, manifest: Manifest, progress: Progress | None) -> Vectors | None:
    """The vector store a write of ``root`` with ``encoder`` writes (``None``: lexical only): embeddings
    through the cache beside the index, at most :data:`EMBED_INLINE_MAX` embedded before the commit."""
    if encoder is None:
        return None
    return Vectors(root / CACHE_NAME, encoder, max_passages=manifest.max_passages, inline_max=EMBED_INLINE_MAX,
                   progress=progress)


def record(results: Mapping[str, Written], manifest: Manifest, report: BuildReport, encoder: Encoder | None) -> None:
    """Fill ``manifest`` and ``report`` from what each store's write returned."""
    report.indexed = manifest.documents = results["terms"].articles or 0
    near = results["near"]
    report.stories, report.copies = near.stories, near.copies
    report.folding_seconds += near.seconds
    variants = results[VARIANTS_NAME]
    report.variant_classes = variants.classes
    report.variants_seconds += variants.seconds
    dense = results["dense"].dense if "dense" in results else None
    if dense is None:
        return
    if dense.stats.embedded and encoder is not None:
        manifest.record_engines(engines_run(encoder))
    report.passages = manifest.passages = dense.passages
    report.pending = manifest.pending = dense.pending
    report.leads = manifest.leads = dense.leads
    report.leads_pending = manifest.leads_pending = dense.leads_pending
    report.embedded += dense.stats.embedded
    report.reused += dense.stats.reused
    report.compacted += dense.compacted
