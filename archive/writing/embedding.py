"""Meaning added after the words: pending passages embedded lead first, committed in checkpoints.

Embedding is the slow part of a build (hours for a large archive with
e5-small), so a write with many passages to embed commits the words first:
the archive is searchable by keywords at once (:mod:`archive.writing.building`), and
the passages not in the embedding cache are recorded as *pending* in the
dense side. :func:`embed_pending` then embeds them **lead first across the
whole archive**: every article's first passage, then every second passage,
and so on. News puts its substance first, so meaning search is near its
full quality once the leads are in (docs/evaluation.md), a quarter of the
work.

It commits checkpoints as it goes: when the leads are done and then every
:data:`CHECKPOINT_SECONDS` (or ten times what a checkpoint costs, if more), a
new generation that shares every file of the live one through hard links
but the dense side, which holds the vectors so far. Every finished batch is
also in the embedding cache, so Ctrl-C or ``kill -9`` loses at most the batch
under way, and the next ``archive build`` or ``archive embed`` resumes where
it stopped, embedding no passage twice.
"""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import numpy as np

from ..index import layout
from .building import BuildReport, Progress
from ..index.dense import DEAD, PassageRows, embedding_text, passage_source
from ..index.embcache import BATCH, CACHE_NAME, EmbeddingCache, embed_with_cache
from ..encoders.base import Encoder
from ..encoders.registry import engines_run
from ..index.integrity import verify_checksums
from ..index.links import link_file, link_files
from ..index.manifest import MANIFEST_NAME, Manifest, utc_now
from ..index.store import DocumentStore
from .choices import MIN_MEASURED
from .rates import remember

CHECKPOINT_SECONDS = 300.0
"""Time between checkpoints while passages are embedded (the leads finishing commits one too)."""
CHUNK = 1024
"""Pending passages whose articles are read from the store at once."""


def embed_pending(
    root: Path,
    encoder: Encoder,
    report: BuildReport,
    progress: Progress | None = None,
    *,
    live: tuple[Path, Manifest],
    verified: bool = False,
) -> None:
    """Embed the pending passages of ``live`` (the live generation and its manifest) lead first, committing
    checkpoints; see the module.

    The caller holds the writer lock and has checked that ``encoder`` is the
    archive's. Adds to ``report``'s embedded / reused / checkpoints counts and
    sets its passage counts to the last committed state. ``verified``: the operation
    just wrote ``live``, taking its files' checksums as it wrote them, so they are not read again.
    """
    from ..index.dense import DenseIndex

    generation, manifest = live
    if manifest.pending == 0:
        return
    dense = DenseIndex(generation / "dense")
    pending = dense.pending
    if not len(pending):
        return
    if not verified:  # every file of the live generation is carried into each checkpoint: damage stops here
        verify_checksums(generation, manifest.files)
    order = _lead_first(pending)
    leads = pending.leads()
    checkpoint = _Checkpoints(root, generation, manifest, pending, report)
    ids = dense.ids
    done = 0
    last = time.monotonic()
    interval = CHECKPOINT_SECONDS

    def advance(count: int) -> None:
        if progress is not None:
            progress("embed", count, len(pending))
            if leads:
                progress("leads", min(count, leads), leads)

    advance(0)  # the totals show before the first batch (and the model load)

    encoded, encoding_seconds, rate = 0, 0.0, 0.0
    # Chunks end where the leads do, so that their checkpoint commits as the leads' bar fills.
    starts = [*range(0, leads, CHUNK), *range(leads, len(order), CHUNK)]
    with EmbeddingCache(root / CACHE_NAME, encoder.name, encoder.dim) as cache:
        for begin, end in zip(starts, [*starts[1:], len(order)]):
            chunk = order[begin:end]
            part = pending.take(chunk)
            texts = _texts(checkpoint.live, ids, part)

            def inner(encoded: int, todo: int, before: int = done, size: int = len(chunk)) -> None:
                advance(before + size - todo + encoded)

            started = time.perf_counter()
            vectors, stats = embed_with_cache(texts, encoder.encode_passages, cache, progress=inner,
                                              batch_size=getattr(encoder, "call_size", None) or BATCH)
            encoded, encoding_seconds = encoded + stats.embedded, encoding_seconds + time.perf_counter() - started
            if encoded >= MIN_MEASURED and encoding_seconds > 0:  # the rate build --dry-run estimates with
                rate = encoded / encoding_seconds
                checkpoint.manifest.embedding_rate = round(rate, 2)
            report.embedded += stats.embedded
            report.reused += stats.reused
            if stats.embedded:
                checkpoint.manifest.record_engines(engines_run(encoder))
            checkpoint.add(chunk, part, vectors)
            leads_just_done = done < leads <= done + len(chunk)
            done += len(chunk)
            advance(done)
            if done < len(order) and (leads_just_done or time.monotonic() - last >= interval):
                cost = checkpoint.commit()
                last = time.monotonic()
                interval = max(CHECKPOINT_SECONDS, 10 * cost)
    checkpoint.commit()
    if rate:  # measured this time: for dry runs of other archives on this machine too
        remember(encoder.name, engines_run(encoder)[-1], rate)


def pending_texts(root: Path, live: tuple[Path, Manifest] | None = None) -> tuple[list[str], str | None]:
    """The embedding texts of the live generation's pending passages (lead first), and its encoder spec;
    ``live``: that generation and its manifest, when the caller has read them already.

    For embedding them elsewhere (``archive embed --ray``): once they are in
    the embedding cache, :func:`embed_pending` commits them without encoding.
    """
    from ..index.dense import DenseIndex

    if live is None:
        current = layout.current_generation(root)
        live = current, Manifest.read(current)
    generation, manifest = live
    if manifest.pending == 0 or manifest.encoder is None:
        return [], manifest.encoder_spec
    dense = DenseIndex(generation / "dense")
    pending = dense.pending
    return (_texts(generation, dense.ids, pending.take(_lead_first(pending))),
            manifest.encoder_spec or manifest.encoder)


def _lead_first(pending: PassageRows) -> np.ndarray:
    """The order that embeds every article's first passage, then every second one, and so on."""
    return np.lexsort((pending.start, pending.doc, pending.rank))


def _texts(generation: Path, ids: list[str], part: PassageRows) -> list[str]:
    """What the encoder saw (or sees) for each passage of ``part``, read from the store."""
    with closing(DocumentStore.open(generation / "docs.sqlite")) as store:
        docs = store.get_many(ids[o] for o in np.unique(part.doc).tolist())
    out = []
    for ordinal, start, end in zip(part.doc.tolist(), part.start.tolist(), part.end.tolist()):
        doc = docs[ids[ordinal]]
        out.append(embedding_text(doc, passage_source(doc)[start:end]))
    return out


class _Checkpoints:
    """The vectors embedded since the last commit, and committing them as new generations of ``root``."""

    def __init__(self, root: Path, live: Path, manifest: Manifest, pending: PassageRows, report: BuildReport) -> None:
        self.root = root
        self.live = live
        self.manifest = manifest
        self.pending = pending
        self.report = report
        self._done = np.zeros(len(pending), dtype=bool)
        self._new: list[tuple[PassageRows, np.ndarray]] = []

    def add(self, positions: np.ndarray, rows: PassageRows, vectors: np.ndarray) -> None:
        """Record the vectors of the pending passages at ``positions`` (of the pending list at the start)."""
        self._done[positions] = True
        self._new.append((rows, vectors))

    def commit(self) -> float:
        """Commit a generation with every vector so far (none if nothing is new); returns its cost in seconds.

        The new vectors are appended to the live vector index (:func:`archive.index.dense.grown`).
        """
        if not self._new:
            return 0.0
        from ..index.dense import DenseIndex, grown

        started = time.perf_counter()
        new_rows = PassageRows.empty()
        for part, _ in self._new:
            new_rows = new_rows.concat(part)
        live_dense = DenseIndex(self.live / "dense")
        index, rows, _ = grown(live_dense, live_dense.rows, new_rows, np.concatenate([v for _, v in self._new]),
                               live_dense.dim)
        remaining = self.pending.take(np.flatnonzero(~self._done))
        manifest = self.manifest
        with layout.transaction(self.root, manifest, base=self.live, base_files=dict(manifest.files)) as tx:
            generation = tx.path
            link_files(self.live, generation, skip={"dense", MANIFEST_NAME})
            dense = generation / "dense"
            dense.mkdir()
            link_file(self.live / "dense" / "ids.json", dense / "ids.json")
            if index is None:  # nothing new after all: the graph as it was
                link_files(self.live / "dense" / "vectors", dense / "vectors")
            else:
                index.save(dense / "vectors")
            rows.save(dense / "passages.npz")
            remaining.save(dense / "pending.npz")
            manifest.passages = int(np.count_nonzero(rows.doc != DEAD))
            manifest.pending = len(remaining)
            manifest.leads_pending = remaining.leads()
            manifest.updated_at = utc_now()
        self.report.warnings.extend(tx.notes)
        self.live, self._new = generation, []
        self.report.covered(manifest)
        self.report.checkpoints += 1
        self.report.written = True
        return time.perf_counter() - started
