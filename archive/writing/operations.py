"""The four ways an archive changes: build (or plan one), update, and embed what waits.

Each takes the writer lock, reads the live generation once, plans the write
once (:mod:`archive.writing.planning`: the plan's counts are the report's),
writes a new generation beside the live one (whole:
:mod:`archive.writing.building`, or only the changes:
:mod:`archive.writing.increment`; each returns what it wrote, which the report
takes) and embeds the passages still waiting, from the manifest it committed
(:mod:`archive.writing.embedding`). They return the encoder they used, so the
front door can open the result without loading it again. A build can embed on
a Ray cluster first (``ray=True``: :mod:`archive.writing.ray_embed`).
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeVar

from ..document import Document
from ..encoders.base import Encoder
from ..encoders.registry import KEEP_ENCODER, get_encoder, spec_of
from ..errors import DocumentNotFoundError, NothingToIndexError, UsageError
from ..index import layout
from ..index.dense import MAX_PASSAGES, passage_policy
from ..index.store import DocumentStore
from .building import BuildReport, EmbedJobStats, Progress, Wrote, fold_duplicates, unique_ids, write_generation
from .choices import chosen_encoder, estimate, previous_choices, same_encoder
from .embedding import embed_pending, pending_texts
from .increment import write_increment
from .planning import (LiveState, Plan, checked_live, live_to_change, plan_build, plan_update, read_live,
                       salvaged_tombstones)

P = TypeVar("P", str, Path)
"""A path as given: text or a :class:`~pathlib.Path`."""


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
    ray: bool = False,
    ray_address: str | None = None,
) -> Encoder | None:
    """Bring the archive at ``root`` up to date with ``documents`` (see :meth:`archive.Archive.build`)."""
    with _timed(report):
        source_paths = source_paths_of(sources)  # a wrong kind of sources is named before Ray is asked
        if ray:  # before reading anything: Ray missing or its cluster unreachable is named at once
            from .ray_embed import embed_build

            spec = ray_encoder(root, encoder, full=full, address=ray_address)
            documents = list(documents)  # embedded on Ray first (into the cache), then built here
            report.ray = embed_build(documents, root, spec, progress=progress, address=ray_address,
                                     max_passages=passage_policy(passages))
        policy = passage_policy(passages)
        chosen = chosen_encoder(encoder, previous_choices(root), full=full, root=root)  # refused before reading
        docs = unique_ids(checked_documents(documents, "documents"), report)
        if not docs:
            where = f" from {', '.join(source_paths)}" if source_paths else ""
            raise NothingToIndexError(
                f"read no article{where}, so {root} was left as it was"
                + "".join(f"; {message}" for message in report.skipped[:3])
            )
        with layout.writing(root, on_warning=report.warnings.append):
            chosen = chosen_encoder(encoder, previous_choices(root), full=full, root=root)  # under the lock
            enc = get_encoder(chosen) if isinstance(chosen, str) else chosen
            live = read_live(root, enc.name if enc else None, tolerate_damage=full, max_passages=policy)
            tombstones = live.tombstones if live is not None else salvaged_tombstones(root) if full else {}
            plan = plan_build(docs, live, sources=source_paths, prune=prune, tombstones=tombstones, full=full)
            report.counted(plan.counts)
            _warn_silent(plan, report)
            if before_commit is not None:
                before_commit(report)
            result = None
            if plan.increment is not None:  # not whole, and something changes
                assert live is not None  # an increment patches the live index
                result = write_increment(root, live, plan.increment, encoder=enc, progress=progress)
            elif plan.whole:
                rate, made_by = 0.0, []
                if live is not None and enc is not None and live.manifest.encoder == enc.name:
                    rate = live.manifest.embedding_rate  # the same encoder on the same machine: still a measure
                    made_by = live.manifest.engines  # what made the vectors the cache gives back
                    if policy is None:
                        policy = live.manifest.max_passages  # the archive keeps its passage policy
                result = write_generation(root, _whole(live, plan), encoder=enc,
                                          encoder_spec=chosen if isinstance(chosen, str) else spec_of(enc),
                                          progress=progress, procs=procs, sources=plan.remembered,
                                          max_passages=policy, embedding_rate=rate, tombstones=tombstones,
                                          cache_engines=made_by)
            _took(root, result, live, enc, report, progress)
    return enc


def _warn_silent(plan: Plan, report: BuildReport) -> None:
    """Name in ``report`` each source folder that gave no article while the archive holds some of it."""
    for folder, count in plan.silent.items():
        report.warnings.append(
            f"{folder}: read no article there this time, but {count} article(s) of the archive came from it; "
            "they are kept (an unmounted drive or an emptied folder?). archive build --prune removes them")


def ray_encoder(root: Path, encoder: str | Encoder | None, *, full: bool = False, address: str | None = None) -> str:
    """The encoder a build of ``root`` on Ray embeds with, once Ray and the cluster at ``address`` are checked
    (:class:`~archive.writing.ray_embed.RayUnavailableError`, :class:`~archive.writing.ray_embed.RayJobError`);
    a lexical-only archive raises :class:`~archive.writing.ray_embed.NothingToEmbedError`."""
    from .ray_embed import NothingToEmbedError, check_address, require_ray

    spec = chosen_encoder(encoder, previous_choices(root), full=full, root=root)
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
        raise NothingToEmbedError("a lexical-only archive (--encoder none) has nothing to embed")
    require_ray()
    check_address(address)
    return spec if isinstance(spec, str) else spec_of(spec)


@contextmanager
def _timed(report: BuildReport) -> Iterator[None]:
    """Set ``report.seconds`` to the wall time of the write (what the user waited), failed or not."""
    started = time.perf_counter()
    try:
        yield
    finally:
        report.seconds = time.perf_counter() - started


def _took(root: Path, wrote: Wrote | None, live: LiveState | None, encoder: Encoder | None, report: BuildReport,
          progress: Progress | None, *, embed: bool = True) -> None:
    """Give ``report`` what the write wrote, then embed the passages that wait (with ``embed``): in the
    generation written, or, when the write changed nothing (``wrote`` None), in ``live`` as the operation
    read it under the same lock."""
    if wrote is not None:
        report.took(wrote)
    if encoder is not None and embed:
        if wrote is not None:
            embed_pending(root, encoder, report, progress, live=(wrote.generation, wrote.manifest), verified=True)
        else:
            assert live is not None  # a write that changes nothing leaves the live generation it read
            embed_pending(root, encoder, report, progress, live=(live.generation, live.manifest))


def plan(
    documents: Iterable[Document],
    root: Path,
    *,
    sources: Sequence[str | Path] = (),
    prune: bool = False,
    encoder: str | Encoder | None = KEEP_ENCODER,
    full: bool = False,
    passages: int | str | None = None,
    ray: bool = False,
    ray_address: str | None = None,
) -> BuildReport:
    """What :func:`build` with the same arguments would do, and what it would embed; writes nothing.

    Raises :class:`SettingChangeError` as the build would (another encoder without ``full``), and with
    ``ray`` what a build on Ray would raise before reading anything (:func:`ray_encoder`).
    """
    source_paths = source_paths_of(sources)
    if ray:
        ray_encoder(root, encoder, full=full, address=ray_address)
    report = BuildReport()
    previous = previous_choices(root)
    chosen = chosen_encoder(encoder, previous, full=full, root=root)
    docs = unique_ids(checked_documents(documents, "documents"), report)
    same = previous is not None and same_encoder(chosen, previous)
    name = previous.encoder if same and previous is not None else "(another encoder)"
    policy = passage_policy(passages)
    live = read_live(root, name if chosen is not None else None, max_passages=policy)
    build_plan = plan_build(docs, live, sources=source_paths, prune=prune, full=full)
    report.counted(build_plan.counts)
    _warn_silent(build_plan, report)
    if chosen is not None:
        if policy is None:
            policy = (previous.max_passages if previous is not None and same else None) or MAX_PASSAGES
        waiting: list[str] = []
        if build_plan.whole:
            to_embed = fold_duplicates(_whole(live, build_plan))[0]
        else:
            assert live is not None
            stored_keys = {key for _, _, key, _ in live.entries}
            to_embed = [d for d in build_plan.changes if d.body_key not in stored_keys]
            if live.manifest.pending:
                waiting = pending_texts(root, live=(live.generation, live.manifest))[0]
        report.estimate = estimate(root, to_embed, chosen, previous, max_passages=policy, waiting=waiting)
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
    with _timed(report):
        delete, add = _ids(delete, "delete"), checked_documents(add, "add")
        source_paths = source_paths_of(sources)
        with _changing(root, report) as live:  # checks the index against this code's settings
            encoder = live.manifest.load_encoder(root)  # the one the archive was built with
            stored = {entry[0] for entry in live.entries} if delete else set()
            missing = sorted({doc_id for doc_id in delete if doc_id not in stored})
            if missing:
                raise DocumentNotFoundError(_not_deletable(missing, live.tombstones, root))
            added = unique_ids(add, report)
            both = sorted({d.id for d in added} & set(delete))
            if both:
                raise UsageError(f"{', '.join(map(repr, both[:5]))}: both added and deleted in one update; "
                                 "nothing was changed. Fix: add to replace an article, or delete it, not both")
            plan = plan_update(live, added, delete, sources=source_paths, tombstone=True)
            report.counted(plan.counts)
            result = write_increment(root, live, plan, encoder=encoder, progress=progress)
            _took(root, result, live, encoder, report, progress, embed=bool(added))  # a delete alone embeds nothing
    return encoder


def _not_deletable(missing: Sequence[str], tombstones: Mapping[str, str], root: Path) -> str:
    """Why ``missing`` ids cannot be deleted: never in the archive, or deleted earlier (when, and the way back)."""
    unknown = [doc_id for doc_id in missing if doc_id not in tombstones]
    gone = [doc_id for doc_id in missing if doc_id in tombstones]
    reasons = []
    if unknown:
        reasons.append(f"{', '.join(map(repr, unknown))}: no such document in {root}")
    if gone:
        when = ", ".join(f"{doc_id!r} (deleted on {tombstones[doc_id][:10]})" for doc_id in gone[:5])
        more = f" and {len(gone) - 5} more" if len(gone) > 5 else ""
        shown = " ".join(map(shlex.quote, gone[:3])) + (" ..." if len(gone) > 3 else "")
        reasons.append(f"{when}{more}: already deleted with archive delete; archive restore {shown} "
                       f"brings {'it' if len(gone) == 1 else 'them'} back")
    return f"cannot delete {'; '.join(reasons)}"


def restore(
    root: Path,
    ids: Iterable[str],
    *,
    documents: Iterable[Document] | None = None,
    progress: Progress | None = None,
    report: BuildReport,
) -> Encoder | None:
    """Bring back articles the user deleted (see :meth:`archive.Archive.restore`)."""
    with _timed(report):
        ids = _ids(ids, "ids")
        with _changing(root, report) as live:
            manifest, tombstones = live.manifest, live.tombstones
            every = {entry[0] for entry in live.entries}
            stored = {doc_id for doc_id in ids if doc_id not in tombstones and doc_id in every}
            unknown = [doc_id for doc_id in ids if doc_id not in tombstones]
            if unknown:
                what = ", ".join(f"{i!r} ({'in the archive, not deleted' if i in stored else 'never deleted here'})"
                                 for i in unknown[:5])
                raise DocumentNotFoundError(f"cannot restore {what}: only articles removed with archive delete can be")
            encoder = manifest.load_encoder(root)
            if documents is None:  # the archive's own sources, where a build would read them
                from ..files.readers import read_documents

                documents = read_documents(_present(manifest.sources, report), on_error=lambda exc: report.skipped.append(str(exc)),
                                           on_warning=report.warnings.append)
            wanted = set(ids)
            found = unique_ids((d for d in checked_documents(documents, "documents") if d.id in wanted), report)
            for doc_id in sorted(wanted - {d.id for d in found}):
                report.warnings.append(
                    f"{doc_id}: not in the archive's sources any more; its deletion is forgotten, so a build "
                    "that reads it again adds it")
            plan = plan_update(live, found, [], forget=ids)
            report.counted(plan.counts)
            result = write_increment(root, live, plan, encoder=encoder, progress=progress)
            _took(root, result, live, encoder, report, progress, embed=bool(found))
    return encoder


def present_and_gone(sources: Sequence[P]) -> tuple[list[P], list[P]]:
    """``sources`` split into those that exist and those that are gone (a link to nothing, as an
    unmounted drive leaves, is gone too): what a build or a restore reads, and what it names."""
    present = [s for s in sources if os.path.exists(s)]
    return present, [s for s in sources if s not in present]


def _present(sources: Sequence[str], report: BuildReport) -> list[str]:
    """Those of an archive's remembered ``sources`` that exist; each missing one is named in ``report``."""
    present, gone = present_and_gone(sources)
    report.warnings.extend(f"{source}: a source of this archive is gone; not read" for source in gone)
    return present


@contextmanager
def _changing(root: Path, report: BuildReport) -> Iterator[LiveState]:
    """The live index of ``root``, read once under its writer lock (a missing index is named before any
    folder is made; the lock's warnings go to ``report``)."""
    layout.readable_generation(root)  # a missing index is named here; a damaged pointer is repaired under the lock
    with layout.writer_lock(root, on_warning=report.warnings.append):
        yield live_to_change(root)


def _ids(ids: Iterable[str], name: str) -> list[str]:
    """``ids`` as a list of text, checked (one string is a mistake: it names the fix)."""
    if isinstance(ids, (str, bytes)):
        raise UsageError(f"{name} takes a list of ids, not one string: write {name}=[{ids!r}]")
    if not isinstance(ids, Iterable):
        raise UsageError(f"{name} takes a list of ids (text), not {type(ids).__name__}")
    ids = list(ids)
    if not all(isinstance(doc_id, str) for doc_id in ids):
        raise UsageError(f"{name} takes ids as text (str)")
    return ids


def embed(root: Path, *, progress: Progress | None = None, report: BuildReport, ray: bool = False,
          ray_address: str | None = None) -> Encoder | None:
    """Embed the passages that wait for a vector, lead first (see :meth:`archive.Archive.embed`)."""
    with _timed(report):
        if ray:
            report.ray = _embed_waiting_on_ray(root, ray_address, progress)
        layout.readable_generation(root)  # a missing index is named here; a damaged pointer is repaired under the lock
        with layout.writer_lock(root, on_warning=report.warnings.append):
            generation, manifest = checked_live(root)
            encoder = manifest.load_encoder(root)
            report.covered(manifest)
            if encoder is not None:
                embed_pending(root, encoder, report, progress, live=(generation, manifest))
    return encoder


def _embed_waiting_on_ray(root: Path, address: str | None, progress: Progress | None) -> EmbedJobStats | None:
    """Embed on Ray the passages the live generation waits for, into the cache (:func:`embed` then commits
    them without encoding); ``None`` when nothing waits."""
    from ..index.embcache import CACHE_NAME
    from .embedding import pending_texts
    from .ray_embed import check_address, embed_texts, require_ray

    require_ray()
    check_address(address)
    texts, spec = pending_texts(root)
    if spec is None or not texts:
        return None
    return embed_texts(texts, spec, root / CACHE_NAME, address=address, progress=progress)


def checked_documents(documents: object, name: str) -> Iterator[Document]:
    """The items of ``documents``, each checked to be a :class:`Document` (else :class:`UsageError`)."""
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Iterable):
        raise UsageError(f"{name} must be an iterable of Document, not {type(documents).__name__}")
    return _checked(documents, name)


def _checked(documents: Iterable[object], name: str) -> Iterator[Document]:
    from ..files.cleaning import multiline_id

    for n, doc in enumerate(documents, 1):
        if not isinstance(doc, Document):
            raise UsageError(f"{name}: item {n} is a {type(doc).__name__}, not a Document")
        if multiline_id(doc.id):
            raise UsageError(f"{name}: item {n}: {multiline_id(doc.id)}")
        yield doc


def source_paths_of(sources: str | Path | Iterable[str | Path]) -> list[str]:
    """Absolute paths of ``sources``, one path or several (not resolving links: the path the user named is the
    source); anything else (``None``, a number, bytes) is a :class:`UsageError` naming ``sources``."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if isinstance(sources, bytes) or not isinstance(sources, Iterable):
        raise UsageError(f"sources must be a path (str or Path) or a list of paths, not {type(sources).__name__}: "
                         "sources=['news.jsonl']")
    paths = []
    for n, source in enumerate(sources, 1):
        path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        if not isinstance(path, str):
            raise UsageError(f"sources: item {n} is {source!r} ({type(source).__name__}), not a path (str or Path)")
        paths.append(os.path.abspath(path))
    return paths


def _whole(live: LiveState | None, plan: Plan) -> list[Document]:
    """What a whole write of ``plan`` writes: the stored articles it keeps, in the live order, then those read."""
    if live is None or not plan.keep:
        return list(plan.documents)
    with closing(DocumentStore.open(live.generation / "docs.sqlite")) as store:
        found = store.get_many(plan.keep)
    return [*(found[i] for i in plan.keep if i in found), *plan.documents]
