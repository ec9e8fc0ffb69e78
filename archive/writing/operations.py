"""The four ways an archive changes: build (or plan one), update, and embed what waits.

Each takes the writer lock, reads the live generation, decides what to write
(:func:`archive.writing.building.plan_build` is the one place changes are
planned), writes a new generation beside the live one (whole:
:mod:`archive.writing.building`, or only the changes:
:mod:`archive.writing.increment`) and embeds the passages still waiting
(:mod:`archive.writing.embedding`). They return the encoder they used, so the
front door can open the result without loading it again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ..document import Document
from ..encoders.base import Encoder
from ..encoders.registry import get_encoder, spec_of
from ..errors import DocumentNotFoundError, NothingToIndexError, UsageError
from ..index import layout
from ..index.integrity import verify_sizes
from ..index.manifest import Manifest
from ..index.dense import passage_policy
from ..index.store import DocumentStore
from .building import BuildReport, LiveState, Progress, plan_build, read_live, unique_ids, write_generation
from .embedding import embed_pending
from .increment import write_increment

INCREMENT_MAX_SHARE = 0.25
"""A re-build whose changes (added + updated + deleted) exceed this share of its
documents rewrites the index whole (the two-process writer is then faster
than patching); below it, only the changes are written (:mod:`archive.writing.increment`)."""


def build(  # noqa: PLR0913 - Archive.build's arguments, passed on
    documents: Iterable[Document],
    root: Path,
    *,
    encoder: str | Encoder | None,
    full: bool = False,
    progress: Progress | None = None,
    report: BuildReport,
    procs: int | None = None,
    sources: Sequence[str | Path] = (),
    prune: bool = False,
    before_commit: Callable[[BuildReport], None] | None = None,
    passages: int | str | None = None,
) -> Encoder | None:
    """Bring the archive at ``root`` up to date with ``documents`` (see :meth:`archive.Archive.build`)."""
    source_paths = source_paths_of(sources)
    docs = unique_ids(checked_documents(documents, "documents"), report)
    if not docs:
        raise NothingToIndexError(
            f"read no article{_from(source_paths)}, so {root} was left as it was"
            + "".join(f"; {message}" for message in report.skipped[:3])
        )
    enc = get_encoder(encoder) if isinstance(encoder, str) else encoder
    spec = encoder if isinstance(encoder, str) else spec_of(enc)
    policy = passage_policy(passages)
    with layout.writing(root, on_warning=report.warnings.append):
        live = read_live(root, enc, tolerate_damage=full, max_passages=policy)
        plan = plan_build(docs, live, report, sources=source_paths, prune=prune)
        if before_commit is not None:
            before_commit(report)
        remembered = source_paths if prune or live is None else _union(live.manifest.sources, source_paths)
        changed = plan.changes or plan.delete or (live is not None and remembered != live.manifest.sources)
        small = len(plan.changes) + len(plan.delete) <= INCREMENT_MAX_SHARE * len(live.entries) if live else False
        if live is not None and live.compatible and not full and (small or not changed):
            if changed:
                write_increment(root, plan.changes, plan.delete, encoder=enc, report=report,
                                progress=progress, sources=source_paths)
        else:
            kept = _stored(live, plan.keep) if live is not None else []
            were_aliases = frozenset(i for i, _, _, c in live.entries if c is not None) if live else frozenset()
            if policy is None and live is not None and live.manifest.encoder is not None:
                policy = live.manifest.max_passages  # the archive keeps its passage policy
            write_generation(root, [*kept, *docs], encoder=enc, encoder_spec=spec, report=report,
                             progress=progress, procs=procs, sources=remembered, were_aliases=were_aliases,
                             max_passages=policy)
        if enc is not None:
            embed_pending(root, enc, report, progress)
    return enc


def plan(documents: Iterable[Document], root: Path, *, sources: Sequence[str | Path] = (),
         prune: bool = False) -> BuildReport:
    """What :func:`build` with the same arguments would do; writes nothing."""
    report = BuildReport()
    docs = unique_ids(checked_documents(documents, "documents"), report)
    live = read_live(root, None)
    plan_build(docs, live, report, sources=source_paths_of(sources), prune=prune)
    return report


def update(
    root: Path,
    *,
    add: Iterable[Document] = (),
    delete: Iterable[str] = (),
    progress: Progress | None = None,
    report: BuildReport,
    sources: Sequence[str | Path] = (),
) -> Encoder | None:
    """Add or replace ``add`` and remove ``delete`` as one change (see :meth:`archive.Archive.update`)."""
    if isinstance(delete, (str, bytes)):
        raise UsageError(f"delete takes a list of ids, not one string: write delete=[{delete!r}]")
    delete = list(delete)
    if not all(isinstance(doc_id, str) for doc_id in delete):
        raise UsageError("delete takes ids as text (str)")
    add = checked_documents(add, "add")
    layout.current_generation(root)  # a missing index is named before any folder is made
    with layout.writer_lock(root, on_warning=report.warnings.append):
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)  # checks the index against this code's settings
        verify_sizes(generation, manifest.files)
        encoder = manifest.load_encoder(root)  # the one the archive was built with
        if delete:
            store = DocumentStore.open(generation / "docs.sqlite")
            try:
                missing = sorted({doc_id for doc_id in delete if store.get(doc_id) is None})
            finally:
                store.close()
            if missing:
                raise DocumentNotFoundError(f"cannot delete {', '.join(map(repr, missing))}: no such document in {root}")
        added = unique_ids(add, report)
        write_increment(root, added, delete, encoder=encoder, report=report,
                        progress=progress, sources=source_paths_of(sources))
        if encoder is not None and added:  # a delete alone never starts embedding what waits
            embed_pending(root, encoder, report, progress)
    return encoder


def embed(root: Path, *, progress: Progress | None = None, report: BuildReport) -> Encoder | None:
    """Embed the passages that wait for a vector, lead first (see :meth:`archive.Archive.embed`)."""
    layout.current_generation(root)
    with layout.writer_lock(root, on_warning=report.warnings.append):
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)
        verify_sizes(generation, manifest.files)
        encoder = manifest.load_encoder(root)
        report.passages, report.pending = manifest.passages, manifest.pending
        report.leads, report.leads_pending = manifest.leads, manifest.leads_pending
        if encoder is not None:
            embed_pending(root, encoder, report, progress)
    return encoder


def checked_documents(documents: object, name: str) -> Iterator[Document]:
    """The items of ``documents``, each checked to be a :class:`Document` (else :class:`UsageError`)."""
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Iterable):
        raise UsageError(f"{name} must be an iterable of Document, not {type(documents).__name__}")
    return _checked(documents, name)


def _checked(documents: Iterable[object], name: str) -> Iterator[Document]:
    for n, doc in enumerate(documents, 1):
        if not isinstance(doc, Document):
            raise UsageError(f"{name}: item {n} is a {type(doc).__name__}, not a Document")
        yield doc


def source_paths_of(sources: Sequence[str | Path]) -> list[str]:
    """Absolute paths of ``sources`` (not resolving links: the path the user named is the source)."""
    if isinstance(sources, (str, bytes, os.PathLike)):
        sources = [sources]  # type: ignore[list-item]
    return [os.path.abspath(os.fspath(s)) for s in sources]


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return [*first, *(s for s in second if s not in first)]


def _from(sources: Sequence[str]) -> str:
    return f" from {', '.join(sources)}" if sources else ""


def _stored(live: LiveState, ids: Sequence[str]) -> list[Document]:
    """The stored documents ``ids`` of the live index, in its order (a whole rewrite keeps them)."""
    if not ids:
        return []
    store = DocumentStore.open(live.generation / "docs.sqlite")
    try:
        found = store.get_many(ids)
    finally:
        store.close()
    return [found[i] for i in ids if i in found]
