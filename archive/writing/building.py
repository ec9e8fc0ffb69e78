"""Writing whole index generations: the write's report, deduplication, what one write did (:class:`Wrote`).

A first build, ``--full``, and a re-build that changes more than a quarter of
the archive write one complete new generation from the full set of documents
here, and commit it atomically (:mod:`archive.index.layout`); smaller changes
(``add``, ``delete``, a daily re-build) patch a copy of the live generation
(:mod:`archive.writing.increment`). Either way every side of a generation comes
from the same document list, so they never disagree.

Duplicates: documents whose bodies are identical after normalization are
folded: the first one (in input order) is indexed, the others are kept in the
store as aliases of it, listed by ``archive show`` and counted by ``stats``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..index import layout
from ..document import Document
from ..encoders.base import Encoder
from ..encoders.registry import engines_run
from ..index.embcache import CACHE_NAME
from ..index.manifest import Manifest
from ..index.stores import Full, Vectors, Written, stores, write_all
from ..index.variants import VARIANTS_NAME
from .choices import EmbeddingEstimate
from .planning import Counts

EMBED_INLINE_MAX = 256
"""A write embeds this many uncached passages before it commits; with more to embed it commits
the words first (searchable at once) and leaves the passages to :mod:`archive.writing.embedding`."""

Progress = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called as a build advances (total None when unknown)."""


@dataclass(frozen=True, slots=True)
class EmbedJobStats:
    """What an embedding job on Ray did (:mod:`archive.writing.ray_embed`) (``workers`` 0: every text was cached, no worker started)."""

    embedded: int
    """Distinct texts embedded and stored in the cache."""
    cached: int
    """Texts that were already in the cache (nothing sent for them)."""
    workers: int
    batches: int
    retried: int
    """Batches sent again because their worker died."""
    seconds: float


@dataclass(slots=True)
class BuildReport(Counts):
    """What a write did: the counts of its plan (:class:`~archive.writing.planning.Counts`), what it
    wrote, and every input it could not take, with the reason.

    The articles read add up: ``read == added + updated + unchanged + skipped_count``, where
    the skipped are named: ``folded`` (identical text to an indexed article: stored as its copy),
    ``duplicate_ids`` and ``tombstoned`` (deleted earlier). ``deleted`` and ``kept`` are about
    the articles of the archive this write did not read.
    """

    indexed: int = 0
    """Articles the archive indexes once the write is done (folded copies not counted)."""
    read: int = 0
    """Articles this write was given (read from the sources), every one counted below."""
    duplicate_ids: int = 0
    """Read articles skipped because an earlier one had the same id (listed in ``skipped``)."""
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
    grouped into ``stories`` groups (:mod:`archive.index.near_build`); searches show one per group."""
    stories: int = 0
    folding_seconds: float = 0.0
    """Wall time spent finding the near copies (signing the articles and judging the pairs)."""
    variant_classes: int = 0
    """Spelling-variant classes the archive holds once the write is done (:mod:`archive.index.variants_build`)."""
    variants_seconds: float = 0.0
    """Wall time spent learning them (every write learns them again from the live articles)."""
    estimate: EmbeddingEstimate | None = None
    """What a planned build would embed and how long that takes (``Archive.plan``; ``None`` when it
    embeds nothing: a lexical-only archive)."""
    ray: EmbedJobStats | None = None
    """What the Ray job of a build or embed on Ray did (``ray=True``; ``None`` without one)."""

    def counted(self, counts: Counts) -> None:
        """Take the counts of the write's plan (:mod:`archive.writing.planning`)."""
        for count in fields(Counts):
            setattr(self, count.name, getattr(counts, count.name))

    def took(self, wrote: Wrote) -> None:
        """Take what writing a generation did (:class:`Wrote`)."""
        self.written = True
        self.indexed = wrote.manifest.documents
        near, variants = wrote.results["near"], wrote.results[VARIANTS_NAME]
        self.stories, self.copies = near.stories, near.copies
        self.folding_seconds += near.seconds
        self.variant_classes = variants.classes
        self.variants_seconds += variants.seconds
        dense = wrote.results["dense"].dense if "dense" in wrote.results else None
        if dense is not None:
            self.covered(wrote.manifest)
            self.embedded += dense.stats.embedded
            self.reused += dense.stats.reused
            self.compacted += dense.compacted
        self.renumbered = wrote.renumbered
        self.warnings.extend(wrote.notes)

    def covered(self, manifest: Manifest) -> None:
        """Take the passage counts of ``manifest``, the last generation committed."""
        self.passages, self.pending = manifest.passages, manifest.pending
        self.leads, self.leads_pending = manifest.leads, manifest.leads_pending

    @property
    def skipped_count(self) -> int:
        """Read articles not added, updated or unchanged: folded copies, duplicate ids, deleted earlier."""
        return self.folded + self.duplicate_ids + self.tombstoned


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
    progress: Progress | None = None,
    procs: int | None = None,
    sources: Sequence[str] = (),
    max_passages: int | None = None,
    embedding_rate: float = 0.0,
    tombstones: dict[str, str] | None = None,
    cache_engines: Sequence[str] = (),
) -> Wrote:
    """Write ``documents`` (unique ids) as a new generation of ``root``, commit it, and say what it wrote.

    The caller holds the writer lock. On any failure the new generation is
    discarded and the live one is untouched. ``sources`` are recorded in the
    manifest; ``embedding_rate`` is the live archive's measured rate, and ``tombstones``
    its deleted ids, carried over; ``cache_engines`` the engines the live archive recorded with the
    same encoder, which made the vectors its embedding cache gives back (recorded if any is reused).
    """
    canonical, aliases = fold_duplicates(documents)
    manifest = Manifest(documents=0, aliases=len(aliases), sources=list(sources), embedding_rate=embedding_rate)
    if encoder is not None:
        from ..index.dense import MAX_PASSAGES, passage_settings

        manifest.encoder = encoder.name
        manifest.encoder_spec = encoder_spec or encoder.name
        manifest.dim = encoder.dim
        manifest.passage_settings = passage_settings(max_passages or MAX_PASSAGES)
    every = stores(procs=procs, vectors=vectors_of(root, encoder, manifest, progress))
    with layout.transaction(root, manifest) as tx:
        full = Full(documents, aliases, tombstones or {})
        results = write_all(tx.path, full, _counted(canonical, progress), every)
        record(results, manifest, encoder, cache_engines)
    return Wrote(tx.path, manifest, results, tx.notes)


def vectors_of(root: Path, encoder: Encoder | None, manifest: Manifest, progress: Progress | None) -> Vectors | None:
    """The vector store a write of ``root`` with ``encoder`` writes (``None``: lexical only): embeddings
    through the cache beside the index, at most :data:`EMBED_INLINE_MAX` embedded before the commit."""
    if encoder is None:
        return None
    return Vectors(root / CACHE_NAME, encoder, max_passages=manifest.max_passages, inline_max=EMBED_INLINE_MAX,
                   progress=progress)


def record(results: Mapping[str, Written], manifest: Manifest, encoder: Encoder | None,
           cache_engines: Sequence[str] = ()) -> None:
    """Fill ``manifest`` from what each store's write returned (``cache_engines``: what made the
    vectors the embedding cache gave back, see :func:`write_generation`)."""
    manifest.documents = results["terms"].articles or 0
    dense = results["dense"].dense if "dense" in results else None
    if dense is None:
        return
    if dense.stats.reused:
        manifest.record_engines(list(cache_engines))
    if dense.stats.embedded and encoder is not None:
        manifest.record_engines(engines_run(encoder))
    manifest.passages, manifest.pending = dense.passages, dense.pending
    manifest.leads, manifest.leads_pending = dense.leads, dense.leads_pending


@dataclass(frozen=True, slots=True)
class Wrote:
    """What writing one generation did (whole, or an increment); the operation's report takes it
    (:meth:`BuildReport.took`), and the embedding that follows starts from its manifest."""

    generation: Path
    """The generation committed."""
    manifest: Manifest
    """Its manifest, as committed (file table included)."""
    results: Mapping[str, Written]
    """What each store's write returned, by store name."""
    notes: Sequence[str] = ()
    """What the commit noted (a generation it could not remove yet)."""
    renumbered: int = 0
