"""What is done to an archive at a path: build it (or plan a build), change it, embed what waits, check it,
open it. The class-level half of :class:`archive.Archive`, which inherits it; the writing itself is
:mod:`archive.writing.operations`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self

from .document import Document
from .encoders.base import Encoder
from .encoders.registry import KEEP_ENCODER
from .errors import ArchiveError, IndexNotFoundError, UsageError
from .index import layout
from .index.manifest import MANIFEST_NAME, Manifest
from .writing import operations
from .writing.building import BuildReport, Progress
from .writing.choices import remembering_generation

if TYPE_CHECKING:
    from .index.check import CheckReport

DEFAULT_INDEX = Path("index")


class Writes:
    """Building, changing, checking and opening the archive at a path (classmethods of :class:`archive.Archive`)."""
    # ----------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        encoder: str | Encoder | None = KEEP_ENCODER,
        full: bool = False,
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
        sources: Sequence[str | Path] = (),
        prune: bool = False,
        before_commit: Callable[[BuildReport], None] | None = None,
        passages: int | str | None = None,
        ray: bool = False,
        ray_address: str | None = None,
    ) -> Self:
        """Bring the archive at ``path`` up to date with ``documents``, and open it.

        New and changed articles (matched by id, compared by content hash) are
        written; unchanged ones are left alone, and when nothing changed
        nothing is written (``full=True`` rewrites anyway). An article of the
        archive that ``documents`` does not hold is removed only when
        ``prune`` is set, or when its own source file lies under ``sources``
        (the files and folders ``documents`` were read from) and is gone;
        otherwise it is kept (``report.kept``). ``sources`` are remembered in
        the manifest (see :meth:`sources`). ``before_commit`` sees the counts
        (``report.deletions`` says what is removed, by file) before anything
        is written.

        ``encoder`` is an encoder name (see :func:`archive.encoders.get_encoder`),
        an encoder object, or ``None``/``"none"`` for a lexical-only archive;
        the default, ``"keep"``, is the encoder the archive was built with
        (``"e5-small"`` for a new one). An archive's encoder is its own choice:
        naming another one raises :class:`SettingChangeError` (nothing is
        read or written) unless ``full=True`` asks to rebuild it with the new
        encoder, re-embedding every passage (:mod:`archive.writing.choices`).
        Passage vectors come from the embedding cache beside the index
        whenever their text was embedded before. With many passages to embed,
        the words are committed first (searchable at once) and the passages
        are then embedded lead first, committed in checkpoints
        (:mod:`archive.writing.embedding`); an interrupted build keeps what it
        embedded, and the next build (or :meth:`embed`) goes on from there.
        ``passages`` is the passage policy: ``"lead"``, ``"all"`` or how many
        passages of each article to embed at most (default: the archive's, or
        all); a change of policy rewrites the dense side. ``ray`` embeds the
        passages the cache lacks on a Ray cluster first (``ray_address``: the
        cluster, default ``$RAY_ADDRESS``, else the one this machine belongs to,
        else a new local one; needs the ``ray`` extra, else
        :class:`~archive.writing.ray_embed.RayUnavailableError` before anything is
        read), then builds here with every passage found in the cache;
        ``report.ray`` says what the Ray job did.

        A build that reads no article raises :class:`NothingToIndexError` and
        changes nothing. The new index is written beside the live one and
        swapped in only when complete: if the build fails or is killed, the
        previous index stays live and untouched. Documents with an id already
        seen are skipped and listed in ``report.skipped``; identical bodies are
        folded (see :mod:`archive.writing.building`).
        """
        root = _index_root(path)
        _check_options(full=full, prune=prune, ray=ray, encoder=encoder, procs=procs, ray_address=ray_address,
                       progress=progress, before_commit=before_commit, report=report)
        used = operations.build(documents, root, encoder=encoder, full=full, progress=progress,
                                report=report if report is not None else BuildReport(), procs=procs, sources=sources,
                                prune=prune, before_commit=before_commit, passages=passages, ray=ray,
                                ray_address=ray_address)
        return cls.open(root, encoder=used)

    @classmethod
    def plan(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        sources: Sequence[str | Path] = (),
        prune: bool = False,
        encoder: str | Encoder | None = KEEP_ENCODER,
        full: bool = False,
        passages: int | str | None = None,
        ray: bool = False,
        ray_address: str | None = None,
    ) -> BuildReport:
        """What :meth:`build` with the same arguments would add, update, keep and delete; writes nothing.

        The counts are against the live index as it is (an index of another
        format included: a build would rewrite it whole). ``report.estimate``
        says how many passages the build would embed (those in the embedding
        cache excluded), with which encoder, and how long that takes at the
        rate the archive's last embedding measured, else a default for the
        encoder (:data:`archive.writing.choices.DEFAULT_RATES`). With ``ray``, checks
        Ray and its cluster as :meth:`build` would. Raises
        :class:`SettingChangeError` where the build would.
        """
        _check_options(full=full, prune=prune, ray=ray, encoder=encoder, ray_address=ray_address)
        return operations.plan(documents, _index_root(path), sources=sources, prune=prune, encoder=encoder,
                               full=full, passages=passages, ray=ray, ray_address=ray_address)

    @classmethod
    def update(
        cls,
        path: str | Path = DEFAULT_INDEX,
        *,
        add: Iterable[Document] = (),
        delete: Iterable[str] = (),
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,  # noqa: ARG003 - an update writes only its changes, in this process
        sources: Sequence[str | Path] = (),
    ) -> Self:
        """Add or replace ``add`` (matched by id) and remove ``delete`` ids, as one atomic change.

        Uses the encoder the archive was built with. Unknown ids in
        ``delete`` raise :class:`DocumentNotFoundError` before anything is
        written (an id deleted earlier is named so, with the way back).
        Deleted ids are remembered with the date (tombstones): a later
        :meth:`build` does not bring them back; :meth:`restore` does, and so
        does adding the article here again (``report.restored``). ``sources`` (where ``add`` was read from) join the archive's
        remembered sources, so a later ``archive build`` re-reads them too.
        Readers keep seeing the old state until the change commits. Many new
        passages are embedded after the words are committed, as in :meth:`build`
        (together with any passages still waiting from before).
        """
        root = _index_root(path)
        _check_options(procs=procs, progress=progress, report=report)
        used = operations.update(root, add=add, delete=delete, progress=progress,
                                 report=report if report is not None else BuildReport(), sources=sources)
        return cls.open(root, encoder=used)

    @classmethod
    def restore(
        cls,
        path: str | Path = DEFAULT_INDEX,
        ids: Iterable[str] = (),
        *,
        documents: Iterable[Document] | None = None,
        progress: Progress | None = None,
        report: BuildReport | None = None,
    ) -> Self:
        """Bring back articles removed with :meth:`update` ``delete=`` (``archive delete``).

        A delete is remembered (a tombstone per id, with its date, in the
        document store), so a later :meth:`build` from the same sources does
        not bring the article back (it counts it in ``report.tombstoned``).
        This lifts the tombstones of ``ids`` and adds their articles as
        ``documents`` has them (default: read from the archive's remembered
        sources; an id no longer there is named in ``report.warnings``, and
        a later build that reads it adds it: only its deletion is forgotten, and
        ``report.restored`` counts the articles brought back, not it). An id that was not deleted
        raises :class:`DocumentNotFoundError` before anything is written.
        :meth:`update` ``add=`` of an article restores it too.
        """
        root = _index_root(path)
        _check_options(progress=progress, report=report)
        used = operations.restore(root, ids, documents=documents, progress=progress,
                                  report=report if report is not None else BuildReport())
        return cls.open(root, encoder=used)

    @classmethod
    def embed(
        cls,
        path: str | Path = DEFAULT_INDEX,
        *,
        progress: Progress | None = None,
        report: BuildReport | None = None,
        ray: bool = False,
        ray_address: str | None = None,
    ) -> Self:
        """Embed the passages of the archive at ``path`` that have no vector yet, lead first.

        What a build does after committing the words, on its own: it resumes
        a build that was interrupted while embedding (Ctrl-C, ``kill -9``), from
        the embedding cache, so no passage is embedded twice. Commits
        checkpoints as it goes (see :mod:`archive.writing.embedding`); does nothing on
        a lexical-only or fully embedded archive. ``ray`` embeds them on a Ray
        cluster first (``ray_address`` as :meth:`build` takes it); this process
        then commits them from the cache (``report.ray``: what the Ray job did).
        """
        root = _index_root(path)
        _check_options(ray=ray, ray_address=ray_address, progress=progress, report=report)
        used = operations.embed(root, progress=progress, report=report if report is not None else BuildReport(),
                                ray=ray, ray_address=ray_address)
        return cls.open(root, encoder=used)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path = DEFAULT_INDEX, *, encoder: Encoder | None = None) -> Self:
        """Open the archive at ``path`` (read-only); fails clearly if it is missing or incompatible.

        The encoder the index was built with is loaded on the first semantic
        or hybrid search (lexical searches never pay for it); pass ``encoder``
        to supply an instance yourself.
        """
        return cls(_index_root(path), encoder=encoder)

    @classmethod
    def sources_of(
        cls, path: str | Path = DEFAULT_INDEX, *, on_warning: Callable[[str], None] | None = None
    ) -> list[str]:
        """The sources the archive at ``path`` remembers (``[]`` when there is no manifest to read; with a
        damaged pointer, those of the generation the next write points it back to).

        With a damaged live manifest, those of the newest other complete generation (the backup a
        commit keeps, :func:`~archive.writing.choices.remembering_generation`), so that ``archive build
        --full``, the fix the damage names, re-reads the archive's own sources; ``on_warning``
        (default: :func:`warnings.warn`) is told where they were recovered from."""
        root = _index_root(path)
        try:
            live = layout.readable_generation(root)
            used = remembering_generation(root)
            sources = list(Manifest.read(used, check=False).sources)
        except ArchiveError:
            return []
        if used != live and sources:
            _recovered_sources(live, used, sources, on_warning)
        return sources

    @classmethod
    def live_generation(cls, path: str | Path = DEFAULT_INDEX) -> str | None:
        """The name of the generation committed at ``path`` (``None`` when none is): compared before and
        after an interrupted write, it says whether the write committed. With a damaged pointer, the
        generation a write points it back to (a repair alone is not a change of the archive)."""
        try:
            return layout.readable_generation(_index_root(path)).name
        except (ArchiveError, OSError):
            return None

    @classmethod
    def pending_of(cls, path: str | Path = DEFAULT_INDEX) -> int:
        """Passages of the archive at ``path`` still waiting for a vector (0 when that cannot be read)."""
        try:
            return Manifest.read(layout.current_generation(_index_root(path)), check=False).pending
        except (ArchiveError, OSError):
            return 0

    @staticmethod
    def check(path: str | Path = DEFAULT_INDEX) -> CheckReport:
        """Verify the index at ``path`` without changing it: every file's size and checksum, and
        the store, Whoosh, term and dense sides holding the same articles (:mod:`archive.index.check`)."""
        from .index.check import check_index

        return check_index(_index_root(path))


def _check_options(*, encoder: object = KEEP_ENCODER, procs: object = None, ray_address: object = None,
                   progress: object = None, before_commit: object = None, report: object = None,
                   **flags: object) -> None:
    """Raise :class:`UsageError` naming the first option of a write that has the wrong type, before anything
    is read: a flag given as ``"false"`` is true to Python, and ``prune`` true deletes articles the build did
    not read; a ``progress`` that is not a function failed only once the write was under way."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be True or False, not {value!r}")
    if encoder is not None and not isinstance(encoder, (str, Encoder)):
        raise UsageError(f"encoder must be a name (str), an Encoder or None, not {type(encoder).__name__}")
    if procs is not None and (isinstance(procs, bool) or not isinstance(procs, int) or procs < 1):
        raise UsageError(f"procs must be a whole number of processes (1 or more) or None, not {procs!r}")
    if ray_address is not None and not isinstance(ray_address, str):
        raise UsageError(f"ray_address must be text or None, not {type(ray_address).__name__}")
    for name, value, call in (("progress", progress, "progress(stage, done, total)"),
                              ("before_commit", before_commit, "before_commit(report)")):
        if value is not None and not callable(value):
            raise UsageError(f"{name} must be a function, called as {call}, or None; not {type(value).__name__}")
    if report is not None and not isinstance(report, BuildReport):
        raise UsageError(f"report must be an archive.BuildReport (report=BuildReport()) or None, "
                         f"not {type(report).__name__}")


def _recovered_sources(live: Path, used: Path, sources: list[str], on_warning: Callable[[str], None] | None) -> None:
    """Say that the sources of the archive were read from ``used``, since ``live``'s manifest is damaged."""
    message = (f"{live / MANIFEST_NAME}: damaged; the sources of this archive were recovered from {used.name}, "
               f"the newest generation kept beside it: {', '.join(sources)}")
    if on_warning is not None:
        on_warning(message)
    else:
        warnings.warn(message, SourcesRecoveredWarning, stacklevel=3)


class SourcesRecoveredWarning(UserWarning):
    """The live manifest is damaged: the sources of the archive were read from an earlier generation."""


def _index_root(path: object) -> Path:
    """``path`` as an index directory path, or a typed error naming what is wrong with it."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise UsageError(
            f"an index path must be a str or a Path, not {type(path).__name__} "
            "(to make an archive from documents: Archive.build(documents, path))"
        )
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise IndexNotFoundError(f"{root}: is a file, not an index directory. Fix: give --index a directory")
    return root
